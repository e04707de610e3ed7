/* SPDX-License-Identifier: MIT */
/*
 * ml-forecast-test.c - unit tests for lib/ml/ml_forecast.c: agreement with
 * statsmodels (tests/fixtures/ml/forecast.json, written by ref_forecast.py
 * on examples/data/sunspots.csv), JSON round trips, the many-series driver
 * and every documented edge case.
 *
 * Tolerances:
 *   - seasonal naive: exact arithmetic on the data (1e-12 relative);
 *   - exponential smoothing: our SSE must be <= statsmodels' default fit's
 *     SSE * (1 + 1e-6) and <= its polished best SSE * (1 + 1e-6) (at least
 *     as good a fit).  Forecasts are compared with the polished fit (the
 *     default SLSQP fit stops early, e.g. at alpha = 0.995 for SES, so its
 *     forecasts are of a worse fit) to 2e-3 * max(|ref|, 1): at a shared
 *     minimum the SSE is flat, so an SSE agreeing to ~1e-7 leaves the
 *     parameters, and thus the forecasts, agreeing to only ~1e-4..1e-3
 *     (statsmodels' optimisers disagree among themselves by 4e-4 on
 *     additive Holt-Winters).  Step m (= h = 11) of the seasonal models is
 *     compared with the fixture's corrected value, not statsmodels' own
 *     (which uses a stale seasonal state there; see ref_forecast.py);
 *   - AR(p): OLS is a closed form, so params, SSE and forecasts to 1e-9.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "ml/ml_forecast.h"
#include "mldata.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static struct mldata sun;
static json_t *ref;

static const char *
srcdir(void)
{
	const char *s = getenv("KILN_SRCDIR");
	return s != NULL && *s != '\0' ? s : KILN_SRCDIR;
}

static void
load(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/examples/data/sunspots.csv", srcdir());
	ck_assert_int_eq(mldata_load(path, -1, &sun), 0);
	ck_assert_uint_eq(sun.d, 2);
	snprintf(path, sizeof path, "%s/tests/fixtures/ml/forecast.json", srcdir());
	json_error_t je;
	ref = json_load_file(path, 0, &je);
	ck_assert_msg(ref != NULL, "%s: %s", path, je.text);
	ck_assert_uint_eq(json_integer_value(json_object_get(ref, "n")), sun.n);
}

static void
unload(void)
{
	mldata_free(&sun);
	json_decref(ref);
	ref = NULL;
}

static double
num(const json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);
	ck_assert_msg(json_is_number(x), "fixture lacks %s", key);
	return json_number_value(x);
}

static void
check_vec(const char *what, const double *got, const json_t *want, size_t n,
          double rtol)
{
	ck_assert_uint_eq(json_array_size(want), n);
	for (size_t i = 0; i < n; i++) {
		double w = json_number_value(json_array_get(want, i));
		ck_assert_msg(fabs(got[i] - w) <= rtol * fmax(fabs(w), 1),
		              "%s[%zu]: got %.12g, want %.12g", what, i, got[i], w);
	}
}

/* y (+ offset) as a fresh array */
static double *
series(double offset)
{
	double *y = malloc(sun.n * sizeof *y);
	for (size_t i = 0; i < sun.n; i++)
		y[i] = sun.cols[1][i] + offset;
	return y;
}

/* ------------------------------------------------------------------ */

START_TEST(test_reference_models)
{
	const json_t *models = json_object_get(ref, "models");
	size_t h = (size_t)json_integer_value(json_object_get(ref, "h"));
	ck_assert_uint_eq(json_array_size(models), 7);
	for (size_t k = 0; k < json_array_size(models); k++) {
		const json_t *r = json_array_get(models, k);
		const char *name = json_string_value(json_object_get(r, "method"));
		struct ml_fc_spec spec;
		ml_forecast_spec_init(&spec, ml_forecast_method_parse(name));
		ck_assert_int_ge(spec.method, 0);
		spec.m = (int)json_integer_value(json_object_get(r, "m"));
		spec.damped = json_is_true(json_object_get(r, "damped"));
		double *y = series(num(r, "offset"));
		struct ml_forecast mod;
		char *err = NULL;
		int rc = ml_forecast_fit(y, sun.n, &spec, &mod, &err);
		ck_assert_msg(rc == 0, "%s: %s", name, err);
		double fc[64];
		ck_assert_int_eq(ml_forecast_predict(&mod, h, fc, &err), 0);
		char what[64];
		snprintf(what, sizeof what, "%s(m=%d,damped=%d)", name, spec.m,
		         spec.damped);
		if (spec.method == ML_FC_SNAIVE) {
			ck_assert_double_eq_tol(mod.sse, num(r, "sse"),
			                        1e-12 * num(r, "sse"));
			check_vec(what, fc, json_object_get(r, "forecast"), h, 1e-12);
		} else {
			double sse = num(r, "sse"), best = num(r, "best_sse");
			ck_assert_msg(mod.sse <= sse * (1 + 1e-6),
			              "%s: SSE %.10g > statsmodels %.10g", what,
			              mod.sse, sse);
			ck_assert_msg(mod.sse <= best * (1 + 1e-6),
			              "%s: SSE %.10g > statsmodels' best %.10g", what,
			              mod.sse, best);
			check_vec(what, fc, json_object_get(r, "best_forecast"), h,
			          2e-3);
			/* the admissible region */
			ck_assert(mod.alpha >= 0 && mod.alpha <= 1);
			ck_assert(mod.beta >= 0 && mod.beta <= mod.alpha);
			ck_assert(mod.gamma >= 0 && mod.gamma <= 1 - mod.alpha);
			if (spec.damped)
				ck_assert(mod.phi >= 0.8 && mod.phi <= 0.995);
			else
				ck_assert(mod.phi == 1);
		}
		ml_forecast_free(&mod);
		free(y);
	}
}
END_TEST

START_TEST(test_reference_ar)
{
	const json_t *r = json_object_get(ref, "ar");
	size_t h = (size_t)json_integer_value(json_object_get(ref, "h"));
	struct ml_fc_spec spec;
	ml_forecast_spec_init(&spec, ML_FC_AR);
	spec.p = (int)json_integer_value(json_object_get(r, "p"));
	struct ml_forecast mod;
	char *err = NULL;
	ck_assert_int_eq(ml_forecast_fit(sun.cols[1], sun.n, &spec, &mod, &err), 0);
	check_vec("AR params", mod.coef, json_object_get(r, "params"),
	          (size_t)spec.p + 1, 1e-9);
	ck_assert_double_eq_tol(mod.sse, num(r, "sse"), 1e-9 * num(r, "sse"));
	double fc[64];
	ck_assert_int_eq(ml_forecast_predict(&mod, h, fc, &err), 0);
	check_vec("AR forecast", fc, json_object_get(r, "forecast"), h, 1e-9);
	ml_forecast_free(&mod);

	/* order by AIC, like ar_select_order */
	const json_t *s = json_object_get(ref, "ar_select");
	int maxlag = (int)json_integer_value(json_object_get(s, "maxlag"));
	double aic[64];
	int best = -1;
	ck_assert_int_eq(ml_forecast_ar_select(sun.cols[1], sun.n, maxlag, &best,
	                                       aic, &err), 0);
	ck_assert_int_eq(best, (int)json_integer_value(json_object_get(s, "p")));
	check_vec("AIC", aic, json_object_get(s, "aic"), (size_t)maxlag + 1, 1e-9);

	spec.p = -1;
	spec.max_p = maxlag;
	ck_assert_int_eq(ml_forecast_fit(sun.cols[1], sun.n, &spec, &mod, &err), 0);
	ck_assert_int_eq(mod.p, best);
	ml_forecast_free(&mod);
}
END_TEST

/* Every method survives to_json -> text -> from_json with identical forecasts. */
START_TEST(test_json_roundtrip)
{
	static const struct { int method, m, damped, p; } cases[] = {
		{ ML_FC_SNAIVE, 11, 0, 0 }, { ML_FC_SES, 1, 0, 0 },
		{ ML_FC_HOLT, 1, 1, 0 }, { ML_FC_HW_ADD, 11, 0, 0 },
		{ ML_FC_HW_MUL, 11, 1, 0 }, { ML_FC_AR, 1, 0, 4 },
	};
	double *y = series(1);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct ml_fc_spec spec;
		ml_forecast_spec_init(&spec, cases[c].method);
		spec.m = cases[c].m;
		spec.damped = cases[c].damped;
		spec.p = cases[c].p;
		struct ml_forecast a, b;
		char *err = NULL;
		/* a prefix: what a backtest fits */
		ck_assert_int_eq(ml_forecast_fit(y, 120, &spec, &a, &err), 0);
		json_t *j;
		ck_assert_int_eq(ml_forecast_to_json(&a, &j), 0);
		ck_assert_str_eq(json_string_value(json_object_get(j, "type")),
		                 "forecast");
		char *text = json_dumps(j, 0);
		json_decref(j);
		j = json_loads(text, 0, NULL);
		free(text);
		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(ml_forecast_from_json(j, &b, &err), 0);
		json_decref(j);
		double fa[25], fb[25];
		ck_assert_int_eq(ml_forecast_predict(&a, 25, fa, &err), 0);
		ck_assert_int_eq(ml_forecast_predict(&b, 25, fb, &err), 0);
		for (int i = 0; i < 25; i++) {
			ck_assert(isfinite(fa[i]));
			ck_assert_msg(fa[i] == fb[i], "%s step %d",
			              ml_forecast_method_name(a.method), i);
		}
		ck_assert(a.sse == b.sse && a.nobs == b.nobs);
		ml_forecast_free(&a);
		ml_forecast_free(&b);
	}
	free(y);
}
END_TEST

START_TEST(test_json_bad)
{
	static const char *const bad[] = {
		"[]",
		"{\"type\":\"linreg\",\"method\":\"ses\"}",
		"{\"type\":\"forecast\",\"method\":\"arima\",\"m\":1,\"nobs\":3}",
		"{\"type\":\"forecast\",\"method\":\"ar\",\"m\":1,\"nobs\":3,"
		"\"sse\":0,\"p\":2,\"coef\":[1,2],\"lags\":[1,2]}",
		"{\"type\":\"forecast\",\"method\":\"snaive\",\"m\":0,\"nobs\":3,"
		"\"sse\":0,\"season\":[]}",
		"{\"type\":\"forecast\",\"method\":\"ses\",\"m\":1,\"nobs\":3,"
		"\"sse\":0,\"alpha\":0.5}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		ck_assert_ptr_nonnull(j);
		struct ml_forecast mod;
		char *err = NULL;
		ck_assert_int_eq(ml_forecast_from_json(j, &mod, &err), -EINVAL);
		ck_assert_ptr_nonnull(err);
		free(err);
		json_decref(j);
	}
}
END_TEST

/* The many-series driver equals one fit per series, and names a bad one. */
START_TEST(test_fit_many)
{
	double *y = series(1);
	const double *ys[3] = { y, y + 50, y + 100 };
	size_t ns[3] = { 150, 200, 209 };
	struct ml_fc_spec spec;
	ml_forecast_spec_init(&spec, ML_FC_HW_ADD);
	spec.m = 11;
	double fc[3 * 5];
	struct ml_forecast models[3];
	char *err = NULL;
	ck_assert_int_eq(ml_forecast_fit_many(ys, ns, 3, &spec, 5, models, fc,
	                                      &err), 0);
	for (int s = 0; s < 3; s++) {
		struct ml_forecast one;
		double f1[5];
		ck_assert_int_eq(ml_forecast_fit(ys[s], ns[s], &spec, &one, &err), 0);
		ck_assert_int_eq(ml_forecast_predict(&one, 5, f1, &err), 0);
		for (int i = 0; i < 5; i++)
			ck_assert(f1[i] == fc[s * 5 + i]);
		ck_assert(one.sse == models[s].sse);
		ml_forecast_free(&one);
		ml_forecast_free(&models[s]);
	}
	/* forecasts only */
	double fc2[3 * 5];
	ck_assert_int_eq(ml_forecast_fit_many(ys, ns, 3, &spec, 5, NULL, fc2,
	                                      &err), 0);
	ck_assert(memcmp(fc, fc2, sizeof fc) == 0);

	/* the second series is too short: named, nothing leaked */
	ns[1] = 15;
	ck_assert_int_eq(ml_forecast_fit_many(ys, ns, 3, &spec, 5, models, fc,
	                                      &err), -EINVAL);
	ck_assert_msg(strstr(err, "series 1: ") == err, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "shorter than two seasons (11)"));
	free(err);
	free(y);
}
END_TEST

/* A constant series: exact fit, constant forecasts, no NaN. */
START_TEST(test_constant)
{
	double y[40];
	for (int i = 0; i < 40; i++)
		y[i] = 7.5;
	for (int meth = ML_FC_SNAIVE; meth <= ML_FC_AR; meth++) {
		struct ml_fc_spec spec;
		ml_forecast_spec_init(&spec, meth);
		spec.m = meth == ML_FC_SES || meth == ML_FC_HOLT ? 1 : 4;
		spec.damped = 1;
		spec.p = 3;
		struct ml_forecast mod;
		char *err = NULL;
		ck_assert_msg(ml_forecast_fit(y, 40, &spec, &mod, &err) == 0,
		              "%s: %s", ml_forecast_method_name(meth), err);
		ck_assert(mod.sse == 0);
		double fc[9];
		ck_assert_int_eq(ml_forecast_predict(&mod, 9, fc, &err), 0);
		for (int i = 0; i < 9; i++)
			ck_assert_msg(fc[i] == 7.5, "%s: %g",
			              ml_forecast_method_name(meth), fc[i]);
		ml_forecast_free(&mod);
	}
	int p = -1;
	double aic[4];
	char *err = NULL;
	ck_assert_int_eq(ml_forecast_ar_select(y, 40, 3, &p, aic, &err), 0);
	ck_assert_int_eq(p, 0);
}
END_TEST

/* Bad input: error code and the message naming the problem. */
START_TEST(test_errors)
{
	double y[30];
	for (int i = 0; i < 30; i++)
		y[i] = 10 + (i % 5) + 0.1 * i;
	double nan_y[30], zero_y[30], neg_y[30];
	memcpy(nan_y, y, sizeof y);
	nan_y[17] = NAN;
	memcpy(zero_y, y, sizeof y);
	zero_y[11] = 0;
	memcpy(neg_y, y, sizeof y);
	neg_y[3] = -2;
	static const struct {
		int method, m, p;
		int which;      /* 0 y, 1 nan, 2 zero, 3 negative */
		size_t n;
		int rc;
		const char *msg;
	} cases[] = {
		{ ML_FC_SES, 1, 0, 1, 30, -EINVAL, "value 17 is NaN" },
		{ ML_FC_AR, 1, 2, 1, 30, -EINVAL, "value 17 is NaN" },
		{ ML_FC_SNAIVE, 1, 0, 0, 0, -EINVAL, "empty series" },
		{ ML_FC_HW_ADD, 4, 0, 0, 0, -EINVAL, "empty series" },
		{ ML_FC_SNAIVE, 11, 0, 0, 7, -EINVAL,
		  "series of 7 values is shorter than its season (11)" },
		{ ML_FC_HW_ADD, 11, 0, 0, 21, -EINVAL,
		  "series of 21 values is shorter than two seasons (11)" },
		{ ML_FC_HW_MUL, 11, 0, 0, 7, -EINVAL,
		  "series of 7 values is shorter than two seasons (11)" },
		{ ML_FC_HW_ADD, 1, 0, 0, 30, -EINVAL, "season 1 is out of range" },
		{ ML_FC_SES, 1, 0, 0, 1, -EINVAL, "too short for ses" },
		{ ML_FC_HOLT, 1, 0, 0, 2, -EINVAL, "too short for holt" },
		{ ML_FC_AR, 1, 5, 0, 10, -EINVAL,
		  "series of 10 values is too short for AR(5)" },
		{ ML_FC_AR, 1, 3, 0, 3, -EINVAL, "too short for AR(3)" },
		{ ML_FC_AR, 1, -2, 0, 15, -EINVAL, "too short for AR(10)" },
		{ ML_FC_HW_MUL, 5, 0, 2, 30, -EDOM,
		  "value 11 is 0: multiplicative seasonality needs positive" },
		{ ML_FC_HW_MUL, 5, 0, 3, 30, -EDOM, "value 3 is -2" },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const double *data[] = { y, nan_y, zero_y, neg_y };
		struct ml_fc_spec spec;
		ml_forecast_spec_init(&spec, cases[c].method);
		spec.m = cases[c].m;
		spec.p = cases[c].p;
		struct ml_forecast mod;
		char *err = NULL;
		int rc = ml_forecast_fit(data[cases[c].which], cases[c].n, &spec,
		                         &mod, &err);
		ck_assert_msg(rc == cases[c].rc, "case %zu: rc %d (%s)", c, rc,
		              err ? err : "");
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, cases[c].msg) != NULL,
		              "case %zu: \"%s\" lacks \"%s\"", c, err, cases[c].msg);
		free(err);
		/* a failed fit leaves nothing to free */
		ck_assert_ptr_null(mod.season);
		ck_assert_ptr_null(mod.coef);
	}
	/* a periodic series makes the AR lags collinear */
	double per[40];
	for (int i = 0; i < 40; i++)
		per[i] = i % 2 ? 1 : 3;
	struct ml_fc_spec spec;
	ml_forecast_spec_init(&spec, ML_FC_AR);
	spec.p = 2;
	struct ml_forecast mod;
	char *err = NULL;
	ck_assert_int_eq(ml_forecast_fit(per, 40, &spec, &mod, &err), -EDOM);
	ck_assert_ptr_nonnull(strstr(err, "collinear"));
	free(err);
	/* predict without a buffer */
	err = NULL;
	ml_forecast_spec_init(&spec, ML_FC_SES);
	ck_assert_int_eq(ml_forecast_fit(y, 30, &spec, &mod, &err), 0);
	ck_assert_int_eq(ml_forecast_predict(&mod, 3, NULL, &err), -EINVAL);
	free(err);
	ml_forecast_free(&mod);
}
END_TEST

/* Short but legal Holt-Winters (the simple initialisation) and long horizons. */
START_TEST(test_short_and_periodic)
{
	double y[24];
	for (int i = 0; i < 24; i++)
		y[i] = 20 + 0.5 * i + (i % 4 == 0 ? 6 : i % 4 == 2 ? -4 : 0);
	for (int meth = ML_FC_HW_ADD; meth <= ML_FC_HW_MUL; meth++) {
		struct ml_fc_spec spec;
		ml_forecast_spec_init(&spec, meth);
		spec.m = 11;
		struct ml_forecast mod;
		char *err = NULL;
		/* exactly two seasons: n < 10 + 2 (m / 2), simple start */
		ck_assert_int_eq(ml_forecast_fit(y, 22, &spec, &mod, &err), 0);
		ck_assert(isfinite(mod.sse));
		ml_forecast_free(&mod);
		/* an exactly seasonal, trending series is fitted closely and
		 * continued, also beyond two seasons */
		spec.m = 4;
		ck_assert_int_eq(ml_forecast_fit(y, 16, &spec, &mod, &err), 0);
		double fc[12];
		ck_assert_int_eq(ml_forecast_predict(&mod, 12, fc, &err), 0);
		for (int j = 0; j < 8; j++) {
			double want = 20 + 0.5 * (16 + j) +
			              ((16 + j) % 4 == 0 ? 6 : (16 + j) % 4 == 2 ? -4 : 0);
			if (meth == ML_FC_HW_ADD)
				ck_assert_msg(fabs(fc[j] - want) < 1e-3, "%d: %g vs %g",
				              j, fc[j], want);
			ck_assert(isfinite(fc[j]));
		}
		ml_forecast_free(&mod);
	}
}
END_TEST

static Suite *
forecast_suite(void)
{
	Suite *s = suite_create("ml-forecast");
	TCase *tc = tcase_create("core");
	tcase_add_unchecked_fixture(tc, load, unload);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reference_models);
	tcase_add_test(tc, test_reference_ar);
	tcase_add_test(tc, test_json_roundtrip);
	tcase_add_test(tc, test_json_bad);
	tcase_add_test(tc, test_fit_many);
	tcase_add_test(tc, test_constant);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_short_and_periodic);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(forecast_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
