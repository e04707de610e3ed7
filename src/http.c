/* src/http.c - stub, being written. */
#include "http.h"
