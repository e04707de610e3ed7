/* src/up.c - stub, being written. */
#include "up.h"
