/* SPDX-License-Identifier: MIT */
/*
 * ml-eval-test.c - splits, metrics and the paired t-test of lib/ml
 * (ml_eval.c) against scikit-learn's and scipy's numbers in
 * tests/fixtures/ml/eval.json (written by ref_eval.py), and the cases
 * where a metric is undefined and must be an error rather than a NaN.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml_eval.h"
#include "mldata.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static char *
srcpath(const char *rel)
{
	const char *dir = getenv("KILN_SRCDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir ? dir : KILN_SRCDIR, rel) < 0)
		abort();
	return p;
}

static json_t *
fixture(void)
{
	char *p = srcpath("tests/fixtures/ml/eval.json");
	json_error_t jerr;
	json_t *j = json_load_file(p, 0, &jerr);
	ck_assert_msg(j != NULL, "%s: %s", p, jerr.text);
	free(p);
	return j;
}

static double
num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_number(v), "fixture has no number '%s'", key);
	return json_number_value(v);
}

/* Numbers of array KEY (malloc()ed); *N gets their count. */
static double *
reals(const json_t *o, const char *key, size_t *n)
{
	const json_t *a = json_object_get(o, key);
	ck_assert_msg(json_is_array(a), "fixture has no array '%s'", key);
	*n = json_array_size(a);
	double *v = malloc((*n ? *n : 1) * sizeof *v);
	for (size_t i = 0; i < *n; i++)
		v[i] = json_number_value(json_array_get(a, i));
	return v;
}

#define CLOSE(a, b, tol) \
	ck_assert_msg(fabs((a) - (b)) <= (tol) * (1 + fabs(b)), \
	              "%s = %.17g, want %.17g", #a, (double)(a), (double)(b))

/* ------------------------------------------------------------------ */

static void
check_class_case(const char *name)
{
	json_t *ref = fixture();
	json_t *c = json_object_get(ref, name);
	ck_assert_ptr_nonnull(c);
	json_t *jy = json_object_get(c, "y"), *jp = json_object_get(c, "prob");
	size_t n = json_array_size(jy);
	size_t K = json_array_size(json_array_get(jp, 0));
	int *y = malloc(n * sizeof *y);
	double *prob = malloc(n * K * sizeof *prob);
	for (size_t i = 0; i < n; i++) {
		y[i] = (int)json_integer_value(json_array_get(jy, i));
		for (size_t k = 0; k < K; k++)
			prob[i * K + k] = json_number_value(
			    json_array_get(json_array_get(jp, i), k));
	}
	struct ml_class_metrics m;
	char *err = NULL;
	ck_assert_msg(ml_class_metrics(y, prob, n, (int)K, &m, &err) == 0, "%s",
	              err);
	CLOSE(m.accuracy, num(c, "accuracy"), 1e-12);
	CLOSE(m.balanced_accuracy, num(c, "balanced_accuracy"), 1e-12);
	CLOSE(m.macro_precision, num(c, "macro_precision"), 1e-12);
	CLOSE(m.macro_recall, num(c, "macro_recall"), 1e-12);
	CLOSE(m.macro_f1, num(c, "macro_f1"), 1e-12);
	CLOSE(m.log_loss, num(c, "log_loss"), 1e-12);
	ck_assert(m.has_roc_auc);
	CLOSE(m.roc_auc, num(c, "roc_auc"), 1e-12);
	size_t cnt;
	double *pr = reals(c, "precision", &cnt), *re = reals(c, "recall", &cnt);
	double *f1 = reals(c, "f1", &cnt);
	ck_assert_uint_eq(cnt, K);
	json_t *conf = json_object_get(c, "confusion");
	for (size_t k = 0; k < K; k++) {
		CLOSE(m.precision[k], pr[k], 1e-12);
		CLOSE(m.recall[k], re[k], 1e-12);
		CLOSE(m.f1[k], f1[k], 1e-12);
		for (size_t l = 0; l < K; l++)
			ck_assert_uint_eq(m.confusion[k * K + l], (size_t)json_integer_value(
			    json_array_get(json_array_get(conf, k), l)));
	}
	double auc;
	ck_assert_int_eq(ml_roc_auc(y, prob, n, (int)K, &auc, NULL), 0);
	ck_assert(auc == m.roc_auc);

	if (K == 2) {
		json_t *rc = json_object_get(c, "roc_curve");
		size_t np;
		double *fpr = reals(rc, "fpr", &np), *tpr = reals(rc, "tpr", &np);
		double *thr = reals(rc, "thresholds", &np);
		double *score = malloc(n * sizeof *score);
		for (size_t i = 0; i < n; i++)
			score[i] = prob[2 * i + 1];
		double *f, *t, *th;
		size_t got;
		ck_assert_int_eq(ml_roc_curve(y, score, n, &f, &t, &th, &got, NULL), 0);
		ck_assert_uint_eq(got, np);
		for (size_t i = 0; i < np; i++) {
			CLOSE(f[i], fpr[i], 1e-15);
			CLOSE(t[i], tpr[i], 1e-15);
			CLOSE(th[i], thr[i], 1e-15);
		}
		free(f);
		free(t);
		free(th);
		free(score);
		free(fpr);
		free(tpr);
		free(thr);
	}
	ml_class_metrics_free(&m);
	free(pr);
	free(re);
	free(f1);
	free(y);
	free(prob);
	json_decref(ref);
}

START_TEST(binary_metrics)
{
	check_class_case("binary");
}
END_TEST

START_TEST(multiclass_metrics)
{
	check_class_case("multiclass");
}
END_TEST

START_TEST(single_class)
{
	/* a fold holding only class 1 of 2 (or of 3) */
	int y[4] = { 1, 1, 1, 1 };
	double p2[8] = { 0.2, 0.8, 0.6, 0.4, 0.1, 0.9, 0.3, 0.7 };
	double p3[12] = { 0.1, 0.8, 0.1, 0.5, 0.4, 0.1, 0, 1, 0, 0.3, 0.3, 0.4 };
	double auc = -1;
	char *err = NULL;
	ck_assert_int_eq(ml_roc_auc(y, p2, 4, 2, &auc, &err), -EDOM);
	ck_assert_str_eq(err, "ROC AUC is undefined: y has only one class");
	ck_assert(auc == -1);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_roc_auc(y, p3, 4, 3, &auc, &err), -EDOM);
	ck_assert_str_eq(err, "ROC AUC is undefined: class 0 is absent in y");
	free(err);

	double score[4] = { 0.8, 0.4, 0.9, 0.7 }, *f, *t, *th;
	size_t np;
	err = NULL;
	ck_assert_int_eq(ml_roc_curve(y, score, 4, &f, &t, &th, &np, &err), -EDOM);
	ck_assert_ptr_null(f);
	free(err);

	/* everything else is still defined, with no NaN */
	struct ml_class_metrics m;
	ck_assert_int_eq(ml_class_metrics(y, p3, 4, 3, &m, NULL), 0);
	ck_assert_int_eq(m.has_roc_auc, 0);
	ck_assert(m.roc_auc == 0);
	ck_assert_double_eq_tol(m.accuracy, 0.5, 1e-15);
	ck_assert_double_eq_tol(m.balanced_accuracy, 0.5, 1e-15);
	ck_assert(m.precision[0] == 0 && m.recall[0] == 0 && m.f1[0] == 0);
	ck_assert_double_eq_tol(m.precision[1], 1.0, 1e-15);
	ck_assert(isfinite(m.log_loss) && isfinite(m.macro_f1));
	ml_class_metrics_free(&m);

	/* bad input */
	int bad[2] = { 0, 3 };
	err = NULL;
	ck_assert_int_eq(ml_class_metrics(bad, p2, 2, 2, &m, &err), -EINVAL);
	ck_assert_str_eq(err, "row 1: class code 3 is not in 0..1");
	free(err);
	double pn[4] = { 0.5, NAN, 1, 0 };
	err = NULL;
	ck_assert_int_eq(ml_class_metrics(y, pn, 2, 2, &m, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_class_metrics(y, p2, 0, 2, &m, &err), -EINVAL);
	free(err);
}
END_TEST

START_TEST(log_loss_clipping)
{
	/* a certain, wrong prediction costs -log(eps) as in sklearn */
	int y[2] = { 0, 1 };
	double p[4] = { 0, 1, 0, 1 };
	struct ml_class_metrics m;
	ck_assert_int_eq(ml_class_metrics(y, p, 2, 2, &m, NULL), 0);
	double want = (-log(0x1p-52) - log(1 - 0x1p-52)) / 2;
	CLOSE(m.log_loss, want, 1e-12);
	ck_assert(m.has_roc_auc);
	ck_assert(m.roc_auc == 0.5);
	ml_class_metrics_free(&m);
}
END_TEST

START_TEST(regression_metrics)
{
	json_t *ref = fixture();
	json_t *r = json_object_get(ref, "regression");
	size_t ntr, n, n2;
	double *train = reals(r, "train", &ntr), *y = reals(r, "y", &n);
	double *yhat = reals(r, "yhat", &n2);
	ck_assert_uint_eq(n, n2);
	int m = (int)num(r, "m");
	double v;
	ck_assert_int_eq(ml_mae(y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "mae"), 1e-12);
	ck_assert_int_eq(ml_rmse(y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "rmse"), 1e-12);
	ck_assert_int_eq(ml_mape(y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "mape"), 1e-12);
	ck_assert_int_eq(ml_smape(y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "smape"), 1e-12);
	ck_assert_int_eq(ml_mase(train, ntr, m, y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "mase"), 1e-12);
	ck_assert_int_eq(ml_r2(y, yhat, n, &v, NULL), 0);
	CLOSE(v, num(r, "r2"), 1e-12);

	/* undefined cases are errors */
	char *err = NULL;
	double y0[3] = { 1, 0, 2 }, f0[3] = { 1, 0, 1 };
	ck_assert_int_eq(ml_mape(y0, f0, 3, &v, &err), -EDOM);
	ck_assert_str_eq(err, "MAPE is undefined: the actual of row 1 is 0");
	free(err);
	ck_assert_int_eq(ml_smape(y0, f0, 3, &v, NULL), 0);
	CLOSE(v, (2.0 / 3.0) / 3, 1e-15);     /* 0/0 term counts as 0 */
	err = NULL;
	ck_assert_int_eq(ml_mase(train, 7, 11, y, yhat, n, &v, &err), -EDOM);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
	free(err);
	double flat[4] = { 3, 3, 3, 3 };
	err = NULL;
	ck_assert_int_eq(ml_mase(flat, 4, 1, y, yhat, n, &v, &err), -EDOM);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_r2(flat, y, 4, &v, &err), -EDOM);
	free(err);
	double nan[2] = { 1, NAN };
	err = NULL;
	ck_assert_int_eq(ml_mae(nan, y, 2, &v, &err), -EINVAL);
	ck_assert_str_eq(err, "row 1: actual is not a finite number");
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_rmse(y, yhat, 0, &v, &err), -EINVAL);
	free(err);
	free(train);
	free(y);
	free(yhat);
	json_decref(ref);
}
END_TEST

/* Nadeau and Bengio's corrected test, against closed forms: d = 1..4
 * (mean 2.5, variance 5/3), n_test/n_train 1/3, so t = 2.5 /
 * sqrt((1/4 + 1/3) 5/3) = 15/sqrt(35); Student's t with 3 degrees of
 * freedom has p = 1 - (2/pi) (x/(1+x^2) + atan x), x = t/sqrt(3). */
START_TEST(ttest_corrected)
{
	double a[4] = { 1, 2, 3, 4 }, b[4] = { 0, 0, 0, 0 }, t, df, p;
	ck_assert_int_eq(ml_ttest_corrected(a, b, 4, 1.0 / 3, &t, &df, &p, NULL), 0);
	double x = 15 / sqrt(35) / sqrt(3);
	CLOSE(t, 15 / sqrt(35), 1e-14);
	CLOSE(p, 1 - 2 / M_PI * (x / (1 + x * x) + atan(x)), 1e-12);
	ck_assert(df == 3);
	/* ratio 0 is the plain paired test, to the bit */
	double t0, df0, p0;
	ck_assert_int_eq(ml_ttest_corrected(a, b, 4, 0, &t, &df, &p, NULL), 0);
	ck_assert_int_eq(ml_ttest_rel(a, b, 4, &t0, &df0, &p0, NULL), 0);
	ck_assert(t == t0 && p == p0 && df == df0);
	/* the correction only widens: a larger p */
	ck_assert_int_eq(ml_ttest_corrected(a, b, 4, 0.25, &t, &df, &p, NULL), 0);
	ck_assert(p > p0 && t < t0);
	char *err = NULL;
	ck_assert_int_eq(ml_ttest_corrected(a, b, 4, -1, &t, &df, &p, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
}
END_TEST

START_TEST(ttest_matches_scipy)
{
	json_t *ref = fixture();
	json_t *cases = json_object_get(ref, "ttest");
	ck_assert_uint_ge(json_array_size(cases), 4);
	for (size_t c = 0; c < json_array_size(cases); c++) {
		json_t *cs = json_array_get(cases, c);
		size_t n, n2;
		double *a = reals(cs, "a", &n), *b = reals(cs, "b", &n2);
		double t, df, p;
		ck_assert_int_eq(ml_ttest_rel(a, b, n, &t, &df, &p, NULL), 0);
		CLOSE(t, num(cs, "t"), 1e-10);
		CLOSE(p, num(cs, "p"), 1e-10);
		ck_assert(df == num(cs, "df"));
		free(a);
		free(b);
	}
	json_decref(ref);

	/* identical scores: documented t = 0, p = 1 */
	double a[3] = { 0.9, 0.8, 0.85 }, b[3] = { 0.8, 0.7, 0.75 };
	double t, df, p;
	ck_assert_int_eq(ml_ttest_rel(a, a, 3, &t, &df, &p, NULL), 0);
	ck_assert(t == 0 && p == 1 && df == 2);
	/* a constant non-zero difference: infinite t, p = 0 (as scipy) */
	double b2[3] = { 0.5, 0.5, 0.5 }, a2[3] = { 1, 1, 1 };
	ck_assert_int_eq(ml_ttest_rel(a2, b2, 3, &t, &df, &p, NULL), 0);
	ck_assert(isinf(t) && t > 0 && p == 0);
	(void)b;
	char *err = NULL;
	ck_assert_int_eq(ml_ttest_rel(a, b, 1, &t, &df, &p, &err), -EINVAL);
	free(err);

	/* the Student t CDF itself (scipy.stats.t.cdf) */
	CLOSE(ml_t_cdf(2.0, 3), 0.9303370157205785, 1e-13);
	CLOSE(ml_t_cdf(-1.3, 17.5), 0.10523188448851285, 1e-12);
	CLOSE(ml_t_cdf(0.7, 1), 0.6944001122142147, 1e-13);
	CLOSE(ml_t_cdf(12.0, 40), 0.9999999999999961, 1e-15);
	ck_assert(ml_t_cdf(0, 5) == 0.5);
}
END_TEST

START_TEST(mean_sd)
{
	double x[4] = { 0.9, 0.8, 0.95, 0.85 }, m, sd;
	ck_assert_int_eq(ml_mean_sd(x, 4, &m, &sd, NULL), 0);
	CLOSE(m, 0.875, 1e-15);
	CLOSE(sd, sqrt((0.025 * 0.025 * 2 + 0.075 * 0.075 * 2) / 3), 1e-14);
	ck_assert_int_eq(ml_mean_sd(x, 1, &m, &sd, NULL), 0);
	ck_assert(m == 0.9 && sd == 0);
	char *err = NULL;
	ck_assert_int_eq(ml_mean_sd(x, 0, &m, &sd, &err), -EINVAL);
	free(err);
}
END_TEST

/* ------------------------------------------------------------------ */

START_TEST(stratified_kfold)
{
	static const struct {
		const char *file;
		int label, k;
	} cases[] = {
		{ "examples/data/iris.csv", 4, 5 },
		{ "examples/data/iris.csv", 4, 7 },
		{ "examples/data/breast_cancer.csv", 30, 5 },
		{ "examples/data/breast_cancer.csv", 30, 10 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct mldata m;
		char *path = srcpath(cases[c].file);
		ck_assert_int_eq(mldata_load(path, cases[c].label, &m), 0);
		free(path);
		int k = cases[c].k, K = m.nclasses;
		int *fold = malloc(m.n * sizeof *fold), *again = malloc(m.n * sizeof *again);
		ck_assert_int_eq(ml_stratified_kfold(m.y, K, m.n, k, 1, fold, NULL), 0);
		size_t *cnt = calloc((size_t)(k * K), sizeof *cnt);
		size_t *size = calloc((size_t)k, sizeof *size);
		for (size_t i = 0; i < m.n; i++) {
			ck_assert(fold[i] >= 0 && fold[i] < k);
			cnt[fold[i] * K + m.y[i]]++;
			size[fold[i]]++;
		}
		for (int cl = 0; cl < K; cl++) {
			size_t lo = SIZE_MAX, hi = 0;
			for (int f = 0; f < k; f++) {
				lo = cnt[f * K + cl] < lo ? cnt[f * K + cl] : lo;
				hi = cnt[f * K + cl] > hi ? cnt[f * K + cl] : hi;
			}
			ck_assert_uint_le(hi - lo, 1);
		}
		for (int f = 1; f < k; f++)
			ck_assert_uint_le((size_t)labs((long)size[f] - (long)size[0]), 1);
		/* deterministic given the seed, different for another seed */
		ck_assert_int_eq(ml_stratified_kfold(m.y, K, m.n, k, 1, again, NULL), 0);
		ck_assert_int_eq(memcmp(fold, again, m.n * sizeof *fold), 0);
		ck_assert_int_eq(ml_stratified_kfold(m.y, K, m.n, k, 2, again, NULL), 0);
		ck_assert_int_ne(memcmp(fold, again, m.n * sizeof *fold), 0);
		free(cnt);
		free(size);
		free(fold);
		free(again);
		mldata_free(&m);
	}
	int y[3] = { 0, 1, 0 }, fold[3];
	char *err = NULL;
	ck_assert_int_eq(ml_stratified_kfold(y, 2, 3, 4, 0, fold, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_stratified_kfold(y, 1, 3, 2, 0, fold, &err), -EINVAL);
	ck_assert_str_eq(err, "row 1: class code 1 is not in 0..0");
	free(err);
}
END_TEST

START_TEST(kfold_and_train_test)
{
	int fold[23];
	ck_assert_int_eq(ml_kfold(23, 5, 0, 0, fold, NULL), 0);
	/* unshuffled: consecutive folds of 5, 5, 5, 4, 4 */
	ck_assert(fold[0] == 0 && fold[4] == 0 && fold[5] == 1 && fold[14] == 2 &&
	          fold[15] == 3 && fold[18] == 3 && fold[19] == 4 && fold[22] == 4);
	ck_assert_int_eq(ml_kfold(23, 5, 1, 9, fold, NULL), 0);
	int size[5] = { 0 };
	for (int i = 0; i < 23; i++)
		size[fold[i]]++;
	ck_assert(size[0] == 5 && size[2] == 5 && size[3] == 4 && size[4] == 4);
	char *err = NULL;
	ck_assert_int_eq(ml_kfold(3, 1, 1, 0, fold, &err), -EINVAL);
	free(err);

	/* stratified 25 % test split of 10 + 6 + 3 rows: ceil(4.75) = 5 test
	 * rows; floors 2, 1, 0, then the largest remainders: class 2 (.75),
	 * then class 0 (.5, the lowest code of the tie with class 1) */
	int y[19];
	for (int i = 0; i < 19; i++)
		y[i] = i < 10 ? 0 : i < 16 ? 1 : 2;
	unsigned char test[19], again[19];
	ck_assert_int_eq(ml_split_train_test(y, 3, 19, 0.25, 5, test, NULL), 0);
	int per[3] = { 0 }, total = 0;
	for (int i = 0; i < 19; i++) {
		per[y[i]] += test[i];
		total += test[i];
	}
	ck_assert_int_eq(total, 5);
	ck_assert(per[0] == 3 && per[1] == 1 && per[2] == 1);
	ck_assert_int_eq(ml_split_train_test(y, 3, 19, 0.25, 5, again, NULL), 0);
	ck_assert_int_eq(memcmp(test, again, sizeof test), 0);
	ck_assert_int_eq(ml_split_train_test(NULL, 0, 19, 0.25, 5, again, NULL), 0);
	total = 0;
	for (int i = 0; i < 19; i++)
		total += again[i];
	ck_assert_int_eq(total, 5);
	err = NULL;
	ck_assert_int_eq(ml_split_train_test(y, 3, 19, 1.0, 5, test, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_split_train_test(y, 3, 0, 0.2, 5, test, &err), -EINVAL);
	free(err);
}
END_TEST

START_TEST(backtest)
{
	struct ml_backtest_split *s;
	size_t n;
	ck_assert_int_eq(ml_backtest_splits(20, 10, 3, 2, 0, &s, &n, NULL), 0);
	/* origins 10, 12, 14, 16 (16 + 3 <= 20; 18 + 3 > 20) */
	ck_assert_uint_eq(n, 4);
	ck_assert(s[0].train_start == 0 && s[0].train_end == 10 && s[0].test_end == 13);
	ck_assert(s[3].train_start == 0 && s[3].train_end == 16 && s[3].test_end == 19);
	free(s);
	ck_assert_int_eq(ml_backtest_splits(20, 10, 3, 2, 8, &s, &n, NULL), 0);
	ck_assert(s[0].train_start == 2 && s[3].train_start == 8 &&
	          s[3].train_end == 16);
	free(s);
	ck_assert_int_eq(ml_backtest_splits(13, 10, 3, 5, 0, &s, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	free(s);
	char *err = NULL;
	ck_assert_int_eq(ml_backtest_splits(12, 10, 3, 1, 0, &s, &n, &err), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, "series of 12 values is shorter"));
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_backtest_splits(12, 10, 1, 0, 0, &s, &n, &err), -EINVAL);
	free(err);
}
END_TEST

static Suite *
ml_eval_suite(void)
{
	Suite *s = suite_create("ml-eval");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, binary_metrics);
	tcase_add_test(tc, multiclass_metrics);
	tcase_add_test(tc, single_class);
	tcase_add_test(tc, log_loss_clipping);
	tcase_add_test(tc, regression_metrics);
	tcase_add_test(tc, ttest_matches_scipy);
	tcase_add_test(tc, ttest_corrected);
	tcase_add_test(tc, mean_sd);
	suite_add_tcase(s, tc);
	tc = tcase_create("splits");
	tcase_add_test(tc, stratified_kfold);
	tcase_add_test(tc, kfold_and_train_test);
	tcase_add_test(tc, backtest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ml_eval_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
