/* src/pool.c - stub, being written. */
#include "pool.h"
