/* src/worker.c - stub, being written. */
#include "worker.h"
