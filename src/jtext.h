/* SPDX-License-Identifier: MIT */
/*
 * jtext.h - JSON as text without a tree: a writer and a pull reader, for
 * the messages sent once per task (the worker exchange, src/proto.c).
 *
 * jansson builds a tree of small allocations for every object and every
 * value; for an exchange carrying hundreds of results that tree cost the
 * master a fifth of its CPU per task (perf, 2026-12-07).  The reader here
 * walks the text once, decoding strings in place in a private copy, and
 * refuses what jansson's json_loadb() refuses (bad syntax, invalid UTF-8,
 * \u0000, integers out of range, nesting past 2048), so a body means the
 * same to both; and a NUL byte anywhere (jansson passes over some).
 * Everything else keeps using jansson.
 */
#ifndef KILN_JTEXT_H
#define KILN_JTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* ---- writer */

/* A growing text; the caller frees .p (NULL until something is put). */
struct jt_out {
	char *p;
	size_t n, cap;
};

void jt_put(struct jt_out *t, const char *s, size_t n);
/* LIT must be a string literal ("" lit "" refuses anything else). */
#define JT_LIT(t, lit) jt_put((t), "" lit "", sizeof(lit) - 1)
void jt_int(struct jt_out *t, int64_t v);
/* S as a JSON string: quotes, backslashes and control bytes escaped,
 * UTF-8 as it is, and any byte that is not UTF-8 as '?' (what tasks
 * print need not be UTF-8; what is sent must be). */
void jt_str(struct jt_out *t, const char *s);
/* D as a JSON real (0 for NaN or infinity). */
void jt_real(struct jt_out *t, double d);
/* J compact, or {} for NULL or an empty object. */
void jt_json(struct jt_out *t, const json_t *j);

/* ---- reader */

enum jt_type { JT_NULL, JT_TRUE, JT_FALSE, JT_INT, JT_REAL, JT_STR,
               JT_ARRAY, JT_OBJECT };

/* A value as jt_value() read it: a scalar whole; an array or an object
 * only opened (walk it with jt_next(), or jt_skip() it). */
struct jt_val {
	enum jt_type t;
	int64_t i;
	double d;
	const char *s;          /* JT_STR: NUL-terminated, in the reader's copy */
};

struct jt_in {
	char *base, *p, *end;   /* the copy (owned), where it is, its end */
	int depth;
	int quiet;              /* inside jt_skip(): strings left as they are */
	int taken;              /* the copy belongs to the caller now */
	int malformed;          /* the error was bad JSON (jt_fail), not a
	                         * bad message */
	char **err;
};

/* Start reading the LEN bytes at TEXT (copied); errors go to *ERR. */
void jt_in_init(struct jt_in *j, const char *text, size_t len, char **err);
/* Take the copy (to keep the strings read from it); the caller frees it,
 * after reading ends. */
char *jt_in_take(struct jt_in *j);
void jt_in_free(struct jt_in *j);
/* The next value; 0 or -EINVAL ("malformed JSON at byte N: ...").
 * While .quiet, its strings are checked but not decoded (the text stays
 * as it was, for jt_span()). */
int jt_value(struct jt_in *j, struct jt_val *v);
/* The rest of V if it is an array or object just opened; 0 or -EINVAL. */
int jt_skip(struct jt_in *j, const struct jt_val *v);
/* In an array or object just opened (CLOSE ']' or '}'), go to its next
 * element: 1 if there is one (in an object its key in *KEY, and the ':'
 * taken), 0 at its end, -EINVAL on an error.  *N counts the elements
 * (start it at 0). */
int jt_next(struct jt_in *j, char close, size_t *n, const char **key);
/* Nothing but white space is left: 0, or -EINVAL. */
int jt_end(struct jt_in *j);
/* The next value, whatever it is, checked and left as text: at *START
 * (in the copy, not NUL-terminated), *LEN bytes, of type *T. */
int jt_span(struct jt_in *j, const char **start, size_t *len,
            enum jt_type *t);
/* The next value, whatever it is, parsed by jansson (a rare part kept
 * as a tree): 0 with *OUT (NULL for null), or -EINVAL. */
int jt_tree(struct jt_in *j, json_t **out);

#endif
