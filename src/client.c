/* src/client.c - stub, being written. */
#include "client.h"
