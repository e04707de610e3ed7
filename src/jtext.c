/* SPDX-License-Identifier: MIT */
/*
 * jtext.c - JSON as text without a tree (see jtext.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jtext.h"
#include "xalloc.h"

/* As jansson's JSON_PARSER_MAX_DEPTH: what one accepts the other does. */
#define JT_DEPTH_MAX 2048
/* A number longer than this is copied to the heap to be converted. */
#define JT_NUMBER_MAX 63

/* ------------------------------------------------------------- writer */

/* The length of the UTF-8 sequence at S (at most N bytes there), or 0
 * if it is not one: overlong forms, surrogates and code points past
 * U+10FFFF are not (as jansson's utf8_check_full). */
static size_t
jt_utf8(const unsigned char *s, size_t n)
{
	unsigned c = s[0], len, v;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (unsigned i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	return len;
}


void
jt_put(struct jt_out *t, const char *s, size_t n)
{
	if (t->n + n + 1 > t->cap) {
		while (t->n + n + 1 > t->cap)
			t->cap = t->cap ? 2 * t->cap : 256;
		t->p = xrealloc(t->p, t->cap);
	}
	memcpy(t->p + t->n, s, n);
	t->n += n;
	t->p[t->n] = '\0';
}

void
jt_int(struct jt_out *t, int64_t v)
{
	char b[24], *e = b + sizeof b, *q = e;
	/* In unsigned arithmetic, so INT64_MIN negates. */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do
		*--q = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--q = '-';
	jt_put(t, q, (size_t)(e - q));
}

void
jt_str(struct jt_out *t, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	JT_LIT(t, "\"");
	const char *run = s;
	size_t left = strlen(s);
	while (*s != '\0') {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			s++;
			left--;
			continue;
		}
		size_t n = c >= 0x80 ? jt_utf8((const unsigned char *)s, left) : 0;
		if (n > 0) {
			s += n;
			left -= n;
			continue;
		}
		jt_put(t, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			jt_put(t, esc, sizeof esc);
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			jt_put(t, esc, sizeof esc);
		} else            /* not UTF-8: as http.c's messages do */
			JT_LIT(t, "?");
		s++;
		left--;
		run = s;
	}
	jt_put(t, run, (size_t)(s - run));
	JT_LIT(t, "\"");
}

void
jt_real(struct jt_out *t, double d)
{
	char b[40];
	if (!isfinite(d))
		d = 0;          /* JSON has no NaN or infinity */
	/* 17 digits: read back as the same double (as jansson writes). */
	int n = snprintf(b, sizeof b, "%.17g", d);
	jt_put(t, b, (size_t)n);
	if (strpbrk(b, ".eE") == NULL)
		JT_LIT(t, ".0");   /* still a real when read */
}

void
jt_json(struct jt_out *t, const json_t *j)
{
	if (j == NULL || (json_is_object(j) && json_object_size(j) == 0)) {
		JT_LIT(t, "{}");
		return;
	}
	char *text = json_dumps(j, JSON_COMPACT);
	if (text == NULL)       /* only out of memory: xalloc's policy */
		abort();
	jt_put(t, text, strlen(text));
	free(text);
}

/* ------------------------------------------------------------- reader */

void
jt_in_init(struct jt_in *j, const char *text, size_t len, char **err)
{
	memset(j, 0, sizeof *j);
	j->base = xmalloc(len + 1);
	memcpy(j->base, text, len);
	j->base[len] = '\0';
	j->p = j->base;
	j->end = j->base + len;
	j->err = err;
}

char *
jt_in_take(struct jt_in *j)
{
	j->taken = 1;
	return j->base;
}

void
jt_in_free(struct jt_in *j)
{
	if (!j->taken)
		free(j->base);
	j->base = NULL;
}

static int
jt_fail(struct jt_in *j, const char *what)
{
	j->malformed = 1;
	return err_set(j->err, -EINVAL, "malformed JSON at byte %zu: %s",
	               (size_t)(j->p - j->base), what);
}

static void
jt_ws(struct jt_in *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	       *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
jt_hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Code point V as UTF-8 at W; the bytes written. */
static size_t
jt_put_utf8(char *w, unsigned v)
{
	if (v < 0x80) {
		w[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		w[0] = (char)(0xc0 | (v >> 6));
		w[1] = (char)(0x80 | (v & 0x3f));
		return 2;
	}
	if (v < 0x10000) {
		w[0] = (char)(0xe0 | (v >> 12));
		w[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		w[2] = (char)(0x80 | (v & 0x3f));
		return 3;
	}
	w[0] = (char)(0xf0 | (v >> 18));
	w[1] = (char)(0x80 | ((v >> 12) & 0x3f));
	w[2] = (char)(0x80 | ((v >> 6) & 0x3f));
	w[3] = (char)(0x80 | (v & 0x3f));
	return 4;
}

/* The \u escape at J->p (past its backslash and 'u'), and a low
 * surrogate's after a high one: its code point in *V. */
static int
jt_unicode(struct jt_in *j, unsigned *v)
{
	if (j->end - j->p < 4 || jt_hex4(j->p, v) != 0)
		return jt_fail(j, "invalid \\u escape");
	j->p += 4;
	if (*v >= 0xdc00 && *v <= 0xdfff)
		return jt_fail(j, "a low surrogate alone");
	if (*v >= 0xd800 && *v <= 0xdbff) {
		unsigned lo;
		if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
		    jt_hex4(j->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
			return jt_fail(j, "a high surrogate alone");
		j->p += 6;
		*v = 0x10000 + ((*v - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (*v == 0)
		return jt_fail(j, "\\u0000 is not allowed");
	return 0;
}

/* The string at J->p (its opening quote): decoded in place (an escape
 * is never shorter than what it stands for) and NUL-terminated, unless
 * quiet. */
static int
jt_string(struct jt_in *j, const char **out)
{
	char *w = ++j->p, *start = w;
	for (;;) {
		if (j->p >= j->end)
			return jt_fail(j, "unterminated string");
		unsigned char c = (unsigned char)*j->p;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			if (!j->quiet)  /* in place until the first escape */
				*w = (char)c;
			w++;
			j->p++;
			continue;
		}
		if (c == '"')
			break;
		if (c < 0x20)
			return jt_fail(j, "control character in a string");
		if (c == '\\') {
			if (j->end - j->p < 2)
				return jt_fail(j, "unterminated string");
			char e = j->p[1], lit;
			j->p += 2;
			switch (e) {
			case '"': lit = '"'; break;
			case '\\': lit = '\\'; break;
			case '/': lit = '/'; break;
			case 'b': lit = '\b'; break;
			case 'f': lit = '\f'; break;
			case 'n': lit = '\n'; break;
			case 'r': lit = '\r'; break;
			case 't': lit = '\t'; break;
			case 'u': {
				unsigned v;
				if (jt_unicode(j, &v) != 0)
					return -EINVAL;
				if (!j->quiet)
					w += jt_put_utf8(w, v);
				continue;
			}
			default:
				j->p--;
				return jt_fail(j, "invalid escape");
			}
			if (!j->quiet)
				*w++ = lit;
			continue;
		}
		size_t n = jt_utf8((const unsigned char *)j->p,
		                   (size_t)(j->end - j->p));
		if (n == 0)
			return jt_fail(j, "invalid UTF-8 in a string");
		if (!j->quiet)
			memmove(w, j->p, n);
		w += n;
		j->p += n;
	}
	if (!j->quiet)
		*w = '\0';      /* at or before the closing quote */
	j->p++;
	*out = start;
	return 0;
}

static int
jt_number(struct jt_in *j, struct jt_val *v)
{
	const char *s = j->p;
	int real = 0;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (j->p < j->end && *j->p >= '1' && *j->p <= '9')
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return jt_fail(j, "invalid number");
	if (j->p < j->end && *j->p == '.') {
		real = 1;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jt_fail(j, "invalid number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		real = 1;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return jt_fail(j, "invalid number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	/* strtoll() and strtod() want a NUL after it: a copy. */
	size_t len = (size_t)(j->p - s);
	char small[JT_NUMBER_MAX + 1];
	char *buf = len < sizeof small ? small : xmalloc(len + 1);
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	int rc = 0;
	if (!real) {
		long long n = strtoll(buf, NULL, 10);
		if (errno == ERANGE)
			rc = jt_fail(j, "integer out of range");
		v->t = JT_INT;
		v->i = n;
	} else {
		double d = strtod(buf, NULL);
		if (errno == ERANGE && isinf(d))
			rc = jt_fail(j, "real number overflow");
		v->t = JT_REAL;
		v->d = d;
	}
	if (buf != small)
		free(buf);
	return rc;
}

static int
jt_word(struct jt_in *j, const char *word, size_t n, enum jt_type t,
        struct jt_val *v)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return jt_fail(j, "invalid token");
	j->p += n;
	v->t = t;
	return 0;
}

int
jt_value(struct jt_in *j, struct jt_val *v)
{
	/* jansson's reader passes over a NUL byte after a number (a quirk
	 * of its unget); here a NUL byte anywhere is refused. */
	if (j->p == j->base && memchr(j->base, '\0', (size_t)(j->end - j->base)))
		return jt_fail(j, "a NUL byte in the text");
	jt_ws(j);
	if (j->p >= j->end)
		return jt_fail(j, "unexpected end");
	/* As jansson counts: every value one level below its container. */
	if (j->depth >= JT_DEPTH_MAX)
		return jt_fail(j, "nested too deep");
	switch (*j->p) {
	case '{':
	case '[':
		v->t = *j->p == '{' ? JT_OBJECT : JT_ARRAY;
		j->depth++;
		j->p++;
		return 0;
	case '"':
		v->t = JT_STR;
		return jt_string(j, &v->s);
	case 't':
		return jt_word(j, "true", 4, JT_TRUE, v);
	case 'f':
		return jt_word(j, "false", 5, JT_FALSE, v);
	case 'n':
		return jt_word(j, "null", 4, JT_NULL, v);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jt_number(j, v);
	default:
		return jt_fail(j, "invalid token");
	}
}

int
jt_next(struct jt_in *j, char close, size_t *n, const char **key)
{
	jt_ws(j);
	if (j->p >= j->end)
		return jt_fail(j, "unexpected end");
	if (*j->p == close) {   /* "[1,]" fails in jt_value() */
		j->p++;
		j->depth--;
		return 0;
	}
	if (*n > 0) {
		if (*j->p != ',')
			return jt_fail(j, close == '}' ? "',' or '}' expected"
			                               : "',' or ']' expected");
		j->p++;
		jt_ws(j);
		if (j->p >= j->end)
			return jt_fail(j, "unexpected end");
	}
	(*n)++;
	if (key == NULL)
		return 1;
	if (*j->p != '"')
		return jt_fail(j, "a key expected");
	if (jt_string(j, key) != 0)
		return -EINVAL;
	jt_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return jt_fail(j, "':' expected");
	j->p++;
	return 1;
}

int
jt_skip(struct jt_in *j, const struct jt_val *v)
{
	if (v->t != JT_ARRAY && v->t != JT_OBJECT)
		return 0;
	char close = v->t == JT_OBJECT ? '}' : ']';
	size_t n = 0;
	const char *key;
	struct jt_val e;
	int rc;
	j->quiet++;
	while ((rc = jt_next(j, close, &n, close == '}' ? &key : NULL)) > 0)
		if ((rc = jt_value(j, &e)) != 0 || (rc = jt_skip(j, &e)) != 0)
			break;
	j->quiet--;
	return rc < 0 ? rc : 0;
}

int
jt_end(struct jt_in *j)
{
	jt_ws(j);
	return j->p == j->end ? 0 : jt_fail(j, "end of text expected");
}

int
jt_span(struct jt_in *j, const char **start, size_t *len, enum jt_type *t)
{
	struct jt_val v;
	jt_ws(j);
	*start = j->p;
	j->quiet++;
	int rc = jt_value(j, &v);
	if (rc == 0)
		rc = jt_skip(j, &v);
	j->quiet--;
	*len = (size_t)(j->p - *start);
	*t = v.t;
	return rc;
}

int
jt_tree(struct jt_in *j, json_t **out)
{
	const char *start;
	size_t len;
	enum jt_type t;
	*out = NULL;
	int rc = jt_span(j, &start, &len, &t);
	if (rc != 0 || t == JT_NULL)
		return rc;
	/* Checked above: jansson reads the same text without error. */
	*out = json_loadb(start, len, JSON_DECODE_ANY, NULL);
	return *out != NULL ? 0 : jt_fail(j, "unreadable value");
}
