/* SPDX-License-Identifier: MIT */
/*
 * ml_impute.h - filling missing values (NaN) for kiln's analytics library,
 * as scikit-learn's SimpleImputer does for a column of a table, and as
 * pandas' interpolate / ffill do for a series.
 *
 * Column methods are fitted on some rows (a benchmark's training folds,
 * never the held-out ones) and then fill any rows with one value:
 *   ML_IMP_MEAN           the mean of the present values;
 *   ML_IMP_MEDIAN         their median (the mean of the middle two of an
 *                         even count), numpy's median;
 *   ML_IMP_MOST_FREQUENT  their most frequent value, the smallest on a tie
 *                         (SimpleImputer's rule);
 *   ML_IMP_CONSTANT       a given value (SimpleImputer's fill_value,
 *                         default 0).
 * Series methods fill a series from its own neighbours:
 *   ML_IMP_LINEAR         linear in the position between the present
 *                         values around a gap; a gap at either end takes
 *                         the nearest present value (pandas'
 *                         interpolate(limit_direction="both"));
 *   ML_IMP_FFILL          the last present value before; a gap at the
 *                         start the first present value (ffill().bfill()).
 * A column or series with no present value cannot be filled: -EINVAL.
 * Functions return 0 or a negative errno value with *err malloc()ed (the
 * caller frees).  No global state: thread-safe.
 */
#ifndef KILN_ML_IMPUTE_H
#define KILN_ML_IMPUTE_H

#include <stddef.h>

enum ml_impute_method {
	ML_IMP_NONE = 0,
	ML_IMP_MEAN,
	ML_IMP_MEDIAN,
	ML_IMP_MOST_FREQUENT,
	ML_IMP_CONSTANT,
	ML_IMP_LINEAR,
	ML_IMP_FFILL,
};

struct ml_impute_spec {
	int method;             /* enum ml_impute_method */
	double value;           /* ML_IMP_CONSTANT's */
};

/* "mean", "median", "most_frequent", "constant" (0), "constant:V",
 * "linear", "ffill", "none" into *SPEC.  0, or -EINVAL with *err listing
 * them. */
int ml_impute_parse(const char *text, struct ml_impute_spec *spec, char **err);
/* Is METHOD one for series (linear, ffill), not fitted to rows? */
int ml_impute_is_series(int method);
/* The method's name, as ml_impute_parse() reads it. */
const char *ml_impute_name(int method);

/* The value SPEC (a column method) fills X[0..N) with, from its present
 * values, into *FILL.  -EINVAL if none is present. */
int ml_impute_fit(const double *x, size_t n, const struct ml_impute_spec *spec,
                  double *fill, char **err);
/* Replace every NaN of X[0..N) by FILL; returns how many. */
size_t ml_impute_apply(double *x, size_t n, double fill);
/* Fill the NaNs of series Y[0..N) in place by SPEC (linear or ffill; a
 * column method fits over the series and fills).  -EINVAL if Y has no
 * present value. */
int ml_impute_series(double *y, size_t n, const struct ml_impute_spec *spec,
                     char **err);

#endif
