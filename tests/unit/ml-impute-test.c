/* SPDX-License-Identifier: MIT */
/*
 * ml-impute-test.c - unit tests of lib/ml/ml_impute.c against scikit-learn
 * and pandas (tests/fixtures/ml/impute.json, written by ref_impute.py):
 * SimpleImputer's mean, median, most_frequent and constant fitted on the
 * training rows of each of 5 KFold folds of iris with 60 blanked cells and
 * applied to the held-out rows; pandas' linear interpolation and
 * ffill().bfill() of a weekly CO2 series with its real gaps; and the
 * parser's answers and refusals.
 */
#include <check.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ml/ml_impute.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static json_t *ref;

static void
load_ref(void)
{
	const char *top = getenv("KILN_SRCDIR");
	char path[1024];
	json_error_t je;
	snprintf(path, sizeof path, "%s/tests/fixtures/ml/impute.json",
	         top != NULL && *top != '\0' ? top : KILN_SRCDIR);
	ref = json_load_file(path, 0, &je);
	ck_assert_msg(ref != NULL, "%s: %s", path, je.text);
}

static void
free_ref(void)
{
	json_decref(ref);
}

static double
num(const json_t *v)
{
	return json_is_null(v) ? NAN : json_number_value(v);
}

static void
assert_close(double got, double want, const char *what, size_t i)
{
	ck_assert_msg(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want)),
	              "%s %zu: %.17g, want %.17g", what, i, got, want);
}

static const char *const methods[] = { "mean", "median", "most_frequent",
                                       "constant", "constant:2.5" };

/* Method _i on every fold: the fill from the training rows, and the
 * held-out rows filled, as SimpleImputer. */
START_TEST(test_simple_imputer_folds)
{
	json_t *t = json_object_get(ref, "table");
	json_t *X = json_object_get(t, "X"), *folds = json_object_get(t, "folds");
	json_t *per = json_object_get(json_object_get(t, "methods"), methods[_i]);
	struct ml_impute_spec spec;
	char *err = NULL;
	ck_assert_int_eq(ml_impute_parse(methods[_i], &spec, &err), 0);
	ck_assert_uint_eq(json_array_size(folds), 5);
	for (size_t f = 0; f < json_array_size(folds); f++) {
		json_t *tr = json_object_get(json_array_get(folds, f), "train");
		json_t *te = json_object_get(json_array_get(folds, f), "test");
		json_t *want = json_array_get(per, f);
		size_t ntr = json_array_size(tr), nte = json_array_size(te);
		for (size_t j = 0; j < 4; j++) {
			double *a = malloc(ntr * sizeof *a), *b = malloc(nte * sizeof *b);
			for (size_t i = 0; i < ntr; i++)
				a[i] = num(json_array_get(json_array_get(X,
				       (size_t)json_integer_value(json_array_get(tr, i))), j));
			for (size_t i = 0; i < nte; i++)
				b[i] = num(json_array_get(json_array_get(X,
				       (size_t)json_integer_value(json_array_get(te, i))), j));
			double fill;
			ck_assert_int_eq(ml_impute_fit(a, ntr, &spec, &fill, &err), 0);
			assert_close(fill, num(json_array_get(json_object_get(want,
			             "fill"), j)), methods[_i], f * 10 + j);
			ml_impute_apply(b, nte, fill);
			json_t *wt = json_object_get(want, "test");
			for (size_t i = 0; i < nte; i++)
				assert_close(b[i], num(json_array_get(json_array_get(wt, i),
				             j)), "held-out row", i);
			free(a);
			free(b);
		}
	}
}
END_TEST

START_TEST(test_series)
{
	json_t *s = json_object_get(ref, "series");
	json_t *y = json_object_get(s, "y");
	size_t n = json_array_size(y);
	static const char *const names[] = { "linear", "ffill" };
	for (int m = 0; m < 2; m++) {
		struct ml_impute_spec spec;
		char *err = NULL;
		ck_assert_int_eq(ml_impute_parse(names[m], &spec, &err), 0);
		ck_assert(ml_impute_is_series(spec.method));
		double *v = malloc(n * sizeof *v);
		size_t gaps = 0;
		for (size_t i = 0; i < n; i++)
			gaps += isnan(v[i] = num(json_array_get(y, i)));
		ck_assert_uint_eq(gaps, (size_t)json_integer_value(
		                  json_object_get(s, "missing")));
		ck_assert_int_eq(ml_impute_series(v, n, &spec, &err), 0);
		json_t *w = json_object_get(s, names[m]);
		for (size_t i = 0; i < n; i++)
			assert_close(v[i], num(json_array_get(w, i)), names[m], i);
		free(v);
	}
	/* gaps at both ends take the nearest value */
	double e[] = { NAN, NAN, 1, NAN, 4, NAN };
	struct ml_impute_spec lin = { .method = ML_IMP_LINEAR };
	char *err = NULL;
	ck_assert_int_eq(ml_impute_series(e, 6, &lin, &err), 0);
	ck_assert(e[0] == 1 && e[1] == 1 && e[3] == 2.5 && e[5] == 4);
}
END_TEST

START_TEST(test_parse_and_errors)
{
	struct ml_impute_spec s;
	char *err = NULL;
	ck_assert_int_eq(ml_impute_parse("constant:-1e3", &s, &err), 0);
	ck_assert(s.method == ML_IMP_CONSTANT && s.value == -1000);
	ck_assert_int_eq(ml_impute_parse("none", &s, &err), 0);
	ck_assert_int_eq(s.method, ML_IMP_NONE);
	static const char *const bad[] = { "avg", "mean:3", "constant:", "constant:x",
	                                   "constant:nan", "", "Mean" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(ml_impute_parse(bad[i], &s, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "expected mean, median"));
		free(err);
		err = NULL;
	}
	double all[] = { NAN, NAN };
	struct ml_impute_spec mean = { .method = ML_IMP_MEAN };
	double fill;
	ck_assert_int_eq(ml_impute_fit(all, 2, &mean, &fill, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "every value is missing"));
	free(err);
	err = NULL;
	struct ml_impute_spec ff = { .method = ML_IMP_FFILL };
	ck_assert_int_eq(ml_impute_series(all, 2, &ff, &err), -EINVAL);
	free(err);
	/* most_frequent: the smallest of the commonest values */
	double v[] = { 3, 1, NAN, 3, 1, 2 };
	struct ml_impute_spec mf = { .method = ML_IMP_MOST_FREQUENT };
	ck_assert_int_eq(ml_impute_fit(v, 6, &mf, &fill, &err), 0);
	ck_assert(fill == 1);
}
END_TEST

static Suite *
impute_suite(void)
{
	Suite *s = suite_create("ml_impute");
	TCase *tc = tcase_create("core");
	tcase_add_unchecked_fixture(tc, load_ref, free_ref);
	tcase_add_loop_test(tc, test_simple_imputer_folds, 0,
	                    sizeof methods / sizeof methods[0]);
	tcase_add_test(tc, test_series);
	tcase_add_test(tc, test_parse_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(impute_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
