/* SPDX-License-Identifier: MIT */
/*
 * err.c - filling a caller's error message (see err.h).
 */
#include <stdarg.h>
#include <stdlib.h>

#include "err.h"
#include "xalloc.h"

int
err_set(char **err, int rc, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		va_start(ap, fmt);
		free(*err);
		*err = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return rc;
}
