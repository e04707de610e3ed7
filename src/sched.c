/* src/sched.c - stub, being written. */
#include "sched.h"
