/* src/master.c - stub, being written. */
#include "master.h"
