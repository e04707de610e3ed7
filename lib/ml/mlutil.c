/* SPDX-License-Identifier: MIT */
/*
 * mlutil.c - helpers shared by the files of the analytics library (see
 * mlutil.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlutil.h"

int
ml_seterr(char **err, int rc, const char *fmt, ...)
{
	if (err == NULL)
		return rc;
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*err);     /* after formatting: an argument may be the old one */
	*err = s;
	return rc;
}

void *
ml_alloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

void *
ml_realloc(void *p, size_t n, size_t size)
{
	if (size != 0 && n > ((size_t)-1) / size)
		abort();
	p = realloc(p, (n ? n : 1) * (size ? size : 1));
	if (p == NULL)
		abort();
	return p;
}

json_t *
ml_json_reals(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *x = json_real(v[i]);   /* NULL for NaN and infinities */
		if (x == NULL || json_array_append_new(a, x) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int
ml_json_reals_get(const json_t *a, const char *what, double *out, size_t n,
                  char **err)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return ml_seterr(err, -EINVAL, "'%s' must be an array of %zu numbers",
		                 what, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		if (!json_is_number(x))
			return ml_seterr(err, -EINVAL, "'%s' item %zu is not a number",
			                 what, i);
		out[i] = json_number_value(x);
	}
	return 0;
}

int
ml_json_get_reals(const json_t *obj, const char *key, double *out, size_t n,
                  char **err)
{
	return ml_json_reals_get(json_object_get(obj, key), key, out, n, err);
}

int
ml_json_get_num(const json_t *obj, const char *key, double *out, char **err)
{
	const json_t *x = json_object_get(obj, key);
	if (!json_is_number(x))   /* jansson holds finite numbers only */
		return ml_seterr(err, -EINVAL, "'%s' is missing or not a number", key);
	*out = json_number_value(x);
	return 0;
}
