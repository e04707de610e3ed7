/* src/api.c - stub, being written. */
#include "api.h"
