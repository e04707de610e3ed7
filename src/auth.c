/* src/auth.c - stub, being written. */
#include "auth.h"
