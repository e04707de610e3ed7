/* SPDX-License-Identifier: MIT */
/*
 * mlutil.h - the few helpers every file of kiln's analytics library needs:
 * error messages, allocation, and arrays of numbers in JSON.  Written once
 * here so that the models agree on them; library-internal (the model
 * plugins use mlplug.h).  No kiln headers: the library stands alone.
 */
#ifndef KILN_ML_UTIL_H
#define KILN_ML_UTIL_H

#include <stddef.h>
#include <jansson.h>

/* Set *ERR (if ERR is not NULL) to a malloc()ed message, freeing the one
 * it held (it must be NULL or an earlier message); returns RC, so that
 * `return ml_seterr(err, -EINVAL, ...)` reads as one statement. */
int ml_seterr(char **err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* calloc() of N (0 allowed) items; aborts when memory is exhausted, as
 * the kiln binary's xcalloc() does.  For buffers sized by the caller's
 * data; sizes read from untrusted JSON are bounded before allocating. */
void *ml_alloc(size_t n, size_t size);
void *ml_realloc(void *p, size_t n, size_t size);

/* V[0..N) as a JSON array; NULL if a value is not finite (JSON has no
 * NaN: a model that would need one is refused when it is written). */
json_t *ml_json_reals(const double *v, size_t n);
/* The array A (WHAT names it in messages) into OUT[0..N): 0, or -EINVAL
 * with *err if it is not an array of exactly N numbers. */
int ml_json_reals_get(const json_t *a, const char *what, double *out,
                      size_t n, char **err);
/* The same for member KEY of object OBJ. */
int ml_json_get_reals(const json_t *obj, const char *key, double *out,
                      size_t n, char **err);
/* Member KEY of OBJ, a number, into *OUT: 0 or -EINVAL with *err. */
int ml_json_get_num(const json_t *obj, const char *key, double *out,
                    char **err);

#endif
