/* SPDX-License-Identifier: MIT */
/*
 * ml_impute.c - filling missing values: SimpleImputer's column methods
 * and pandas' series methods (see ml_impute.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml_impute.h"
#include "mlutil.h"

static const char *const imp_names[] = {
	[ML_IMP_NONE] = "none",
	[ML_IMP_MEAN] = "mean",
	[ML_IMP_MEDIAN] = "median",
	[ML_IMP_MOST_FREQUENT] = "most_frequent",
	[ML_IMP_CONSTANT] = "constant",
	[ML_IMP_LINEAR] = "linear",
	[ML_IMP_FFILL] = "ffill",
};

const char *
ml_impute_name(int method)
{
	return method >= 0 && method <= ML_IMP_FFILL ? imp_names[method] : "?";
}

int
ml_impute_is_series(int method)
{
	return method == ML_IMP_LINEAR || method == ML_IMP_FFILL;
}

int
ml_impute_parse(const char *text, struct ml_impute_spec *spec, char **err)
{
	spec->method = ML_IMP_NONE;
	spec->value = 0;
	size_t n = strcspn(text, ":");
	for (int m = ML_IMP_NONE; m <= ML_IMP_FFILL; m++) {
		if (strlen(imp_names[m]) != n || strncmp(text, imp_names[m], n) != 0)
			continue;
		if (text[n] == ':') {
			char *end;
			spec->value = strtod(text + n + 1, &end);
			if (m != ML_IMP_CONSTANT || end == text + n + 1 ||
			    *end != '\0' || !isfinite(spec->value))
				break;
		}
		spec->method = m;
		return 0;
	}
	return ml_seterr(err, -EINVAL, "impute '%s': expected mean, median, "
	                 "most_frequent, constant, constant:VALUE, linear, "
	                 "ffill or none", text);
}

static int
imp_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int
ml_impute_fit(const double *x, size_t n, const struct ml_impute_spec *spec,
              double *fill, char **err)
{
	if (spec->method == ML_IMP_CONSTANT) {
		*fill = spec->value;
		return 0;
	}
	double *v = malloc((n + 1) * sizeof *v);
	if (v == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]))
			v[m++] = x[i];
	if (m == 0) {
		free(v);
		return ml_seterr(err, -EINVAL, "no value to impute from (every "
		                 "value is missing)");
	}
	if (spec->method == ML_IMP_MEAN) {
		double s = 0;   /* pairwise would be closer; n is small here */
		for (size_t i = 0; i < m; i++)
			s += v[i];
		*fill = s / (double)m;
	} else {
		qsort(v, m, sizeof *v, imp_cmp);
		if (spec->method == ML_IMP_MEDIAN) {
			*fill = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
		} else {        /* most frequent: the first longest run */
			size_t best = 0, run = 1, bi = 0;
			for (size_t i = 1; i <= m; i++, run++) {
				if (i < m && v[i] == v[i - 1])
					continue;
				if (run > best) {
					best = run;
					bi = i - 1;
				}
				run = 0;
			}
			*fill = v[bi];
		}
	}
	free(v);
	return 0;
}

size_t
ml_impute_apply(double *x, size_t n, double fill)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (isnan(x[i])) {
			x[i] = fill;
			c++;
		}
	return c;
}

int
ml_impute_series(double *y, size_t n, const struct ml_impute_spec *spec,
                 char **err)
{
	if (!ml_impute_is_series(spec->method)) {
		double fill;
		int rc = ml_impute_fit(y, n, spec, &fill, err);
		if (rc == 0)
			ml_impute_apply(y, n, fill);
		return rc;
	}
	size_t first = 0;
	while (first < n && isnan(y[first]))
		first++;
	if (first == n)
		return ml_seterr(err, -EINVAL, "no value to impute from (every "
		                 "value is missing)");
	for (size_t i = 0; i < first; i++)
		y[i] = y[first];
	size_t last = first;    /* the last present value so far */
	for (size_t i = first + 1; i < n; i++) {
		if (isnan(y[i]))
			continue;
		for (size_t k = last + 1; k < i; k++)
			y[k] = spec->method == ML_IMP_FFILL ? y[last] :
			       y[last] + (y[i] - y[last]) * (double)(k - last) /
			       (double)(i - last);
		last = i;
	}
	for (size_t k = last + 1; k < n; k++)
		y[k] = y[last];
	return 0;
}
