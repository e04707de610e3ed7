/* src/task.c - stub, being written. */
#include "task.h"
