/* src/cli.c - stub, being written. */
#include "cli.h"
