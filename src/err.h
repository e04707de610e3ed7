/* SPDX-License-Identifier: MIT */
/*
 * err.h - the error convention: a function returns 0 or a negative
 * errno-style code and, on failure, fills a char **err with a malloc()ed
 * message the caller frees (docs/hacking.md, "Errors").
 */
#ifndef KILN_ERR_H
#define KILN_ERR_H

/* Set *ERR to a new formatted message (if ERR is not NULL; a message
 * already there is freed) and return RC:
 * `return err_set(err, -EINVAL, "bad %s", x);` */
int err_set(char **err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
