/* src/config.c - stub, being written. */
#include "config.h"
