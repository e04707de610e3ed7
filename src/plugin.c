/* src/plugin.c - stub, being written. */
#include "plugin.h"
