/* src/store.c - stub, being written. */
#include "store.h"
