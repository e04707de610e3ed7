/* SPDX-License-Identifier: MIT */
/*
 * sbuf.h - a growing string with JSON output (strings escaped to valid
 * UTF-8 JSON text, doubles in their shortest exact form), shared by the
 * bundled plugins (csvstats, ingest) to build results and schema files.
 *
 * Header-only, with static functions: plugins link against libc and the
 * SDK only, never against kiln's own code, so each plugin compiles its own
 * copy.  Functions are `static inline` so that a plugin using only some of
 * them compiles without unused-function warnings.
 */
#ifndef KILN_LIB_SBUF_H
#define KILN_LIB_SBUF_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; `failed` latches an allocation failure so callers
 * check once at the end. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static inline void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		b->failed = 1;  /* only short numbers go through here */
	else
		sb_add(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0. */
static inline size_t
sb_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	else if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* S as a JSON string; bytes that are not UTF-8 become U+FFFD, since the
 * host refuses a result that is not valid JSON text. */
static inline void
sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < n; ) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			sb_add(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			sb_printf(b, "\\u%04x", c);
			i++;
		} else {
			size_t len = sb_utf8_len(u + i, n - i);
			if (len == 0) {
				sb_add(b, "\\ufffd", 6);
				i++;
			} else {
				sb_add(b, s + i, len);
				i += len;
			}
		}
	}
	sb_add(b, "\"", 1);
}

/* A finite double in the shortest form that reads back exactly. */
static inline void
sb_json_num(struct sbuf *b, double d)
{
	char tmp[40];
	if (!isfinite(d)) {
		sb_add(b, "null", 4);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	sb_add(b, tmp, strlen(tmp));
}

#endif /* KILN_LIB_SBUF_H */
