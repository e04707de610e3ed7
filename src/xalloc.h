/* SPDX-License-Identifier: MIT */
/*
 * xalloc.h - allocation that never returns NULL (as in tmux): on failure
 * the process logs and aborts, so callers need no NULL checks.
 */
#ifndef KILN_XALLOC_H
#define KILN_XALLOC_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);          /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Wipe the string S (a secret, a private key) and free it; NULL is fine. */
void xfree_secret(char *s);
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
