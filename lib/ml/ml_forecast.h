/* SPDX-License-Identifier: MIT */
/*
 * ml_forecast.h - forecasting models for one univariate series, for kiln's
 * analytics library (the "forecast" plugin wraps it; ml_eval.c's rolling-origin
 * backtests call fit + forecast on prefixes of a series).
 *
 * Methods (struct ml_fc_spec.method):
 *   ML_FC_SNAIVE  seasonal naive: y[n+j] = y[n-m+(j-1) mod m]; m = 1 is
 *                 the naive (random walk) forecast.
 *   ML_FC_SES     simple exponential smoothing.
 *   ML_FC_HOLT    Holt's additive trend, optionally damped.
 *   ML_FC_HW_ADD  Holt-Winters, additive trend (optionally damped) and
 *                 additive seasonality of period m.
 *   ML_FC_HW_MUL  the same with multiplicative seasonality.
 *   ML_FC_AR      AR(p) with intercept by ordinary least squares on the
 *                 lagged values (statsmodels AutoReg(y, lags=p, trend="c")),
 *                 or p chosen by AIC when spec.p < 0 (ar_select_order).
 *
 * Exponential smoothing follows statsmodels' ExponentialSmoothing(...,
 * initialization_method="estimated"): the recursions, the start values
 * (its heuristic initial states and its grid over the smoothing
 * parameters), the admissible region (0 <= alpha <= 1, 0 <= beta <= alpha,
 * 0 <= gamma <= 1 - alpha, 0.8 <= phi <= 0.995) and the objective, the sum
 * of squared one-step errors over all n values, minimised jointly over the
 * smoothing parameters and the initial level, trend and seasonal states.
 * The minimiser is our own projected quasi-Newton method with exact
 * (forward-mode) gradients, started from the best few grid points; it is
 * deterministic and converges more tightly than statsmodels' default
 * SLSQP, so the fitted SSE is never worse than statsmodels' and is often
 * a little better (the forecasts then differ by as much as the two fits).
 * The initial level and seasonal states are not separately identifiable
 * (adding c to one and subtracting it from the other changes nothing), so
 * compare SSE and forecasts, not those states.
 *
 * Forecasts use the last m seasonal states periodically.  (statsmodels
 * 0.13 forecasts steps m, 2m, 3m, ... with the seasonal state of y[n-1]
 * from before its update, a bug in its _predict; we do not copy it.
 * docs/analytics.md shows the numbers, made by tools/analytics-results.py.)
 *
 * Bad input never crashes or yields a silent NaN; functions return 0 or a
 * negative errno value and set *err to a malloc()ed message (the caller
 * frees it):
 *   - no values: -EINVAL "empty series";
 *   - NaN or infinite value: -EINVAL "value 17 is NaN" (index from 0);
 *   - a series shorter than its season (seasonal naive, n < m) or than two
 *     seasons (Holt-Winters, n < 2m): -EINVAL "series of 7 values is
 *     shorter than two seasons (11)"; SES needs 2 values, Holt 3;
 *   - AR(p) needs p + 1 regression rows, i.e. n >= 2p + 1:
 *     -EINVAL "series of N values is too short for AR(p) ...";
 *   - multiplicative seasonality with a zero or negative value: -EDOM
 *     "value 11 is 0: multiplicative seasonality needs positive data";
 *   - AR whose lag matrix is singular (other than a constant series):
 *     -EDOM "AR(p): the lagged values are collinear".
 * A constant series is not an error: every method fits it exactly (SSE 0)
 * and forecasts the constant; the smoothing parameters are then not
 * identifiable and are left at the start values (alpha 0.5, beta 0.05,
 * gamma 0.025, phi 0.99, trend 0, seasonal states 0 or 1); AR gets
 * intercept = the constant and zero lag coefficients.
 *
 * Cost: a fit reads y in place (no copy but AR's (n-p) x (p+1) design);
 * exponential smoothing takes a few hundred passes of O(n (m + 6)) over
 * the series, so refitting on every prefix in a backtest is cheap.
 *
 * Thread-safety: no global state; a fitted model is read-only for
 * ml_forecast_predict() and may be shared between threads.
 */
#ifndef KILN_ML_FORECAST_H
#define KILN_ML_FORECAST_H

#include <stddef.h>
#include <jansson.h>

enum ml_fc_method {
	ML_FC_SNAIVE = 0,
	ML_FC_SES,
	ML_FC_HOLT,
	ML_FC_HW_ADD,
	ML_FC_HW_MUL,
	ML_FC_AR,
};

/* Largest season and AR order accepted (keeps allocations bounded). */
#define ML_FC_MAX_SEASON 10000
#define ML_FC_MAX_P 1000

struct ml_fc_spec {
	int method;     /* enum ml_fc_method */
	int m;          /* season: SNAIVE (1 = naive), HW_ADD, HW_MUL */
	int damped;     /* HOLT, HW_*: fit a damped trend (phi) */
	int p;          /* AR order; < 0: choose 0..max_p by AIC */
	int max_p;      /* AR with p < 0: largest order tried */
};

struct ml_forecast {
	int method;     /* enum ml_fc_method */
	int m;          /* season length (1 when not seasonal) */
	int damped;
	int p;          /* AR order */
	size_t nobs;    /* values fitted */
	double sse;     /* sum of squared one-step in-sample errors (for
	                   SNAIVE over t >= m, for AR over t >= p) */
	/* exponential smoothing */
	double alpha, beta, gamma, phi;   /* unused ones are 0 (phi 1) */
	double l0, b0;  /* initial level and trend (before y[0]) */
	double *s0;     /* m initial seasonal states, or NULL */
	double level, trend;              /* states after y[n-1] */
	double *season; /* m states: season[j] applies to y[n+j] (j < m);
	                   SNAIVE: the last m values */
	/* AR */
	double *coef;   /* p + 1: intercept, then lags 1..p */
	double *lags;   /* p: lags[j] = y[n-1-j] */
};

/* Short name ("snaive", "ses", "holt", "hw_add", "hw_mul", "ar"). */
const char *ml_forecast_method_name(int method);
/* Parse a name; returns the method or -1. */
int ml_forecast_method_parse(const char *name);

/* Fill SPEC with defaults for METHOD (m 1, not damped, p 1, max_p 10). */
void ml_forecast_spec_init(struct ml_fc_spec *spec, int method);

/*
 * Fit SPEC to the N values of Y (read only; a prefix of a longer series is
 * just a smaller N).  On success *MODEL owns its arrays (free with
 * ml_forecast_free()); on failure *MODEL is zeroed.
 */
int ml_forecast_fit(const double *y, size_t n, const struct ml_fc_spec *spec,
                    struct ml_forecast *model, char **err);

/* Forecast the next H values after the fitted series into OUT[0..H-1]. */
int ml_forecast_predict(const struct ml_forecast *model, size_t h,
                        double *out, char **err);

void ml_forecast_free(struct ml_forecast *model);

/*
 * Fit SPEC to each of COUNT series (YS[i], NS[i] values) and forecast H
 * values each into FC[i * H .. i * H + H - 1] (FC may be NULL when H is
 * 0).  MODELS may be NULL when only the forecasts are wanted; otherwise
 * the caller frees each one.  This is the unit a forecast task hands to
 * one worker.  Stops at the first failure: -errno with "series I: ...",
 * and every model of this call is freed and zeroed.
 */
int ml_forecast_fit_many(const double *const *ys, const size_t *ns,
                         size_t count, const struct ml_fc_spec *spec,
                         size_t h, struct ml_forecast *models, double *fc,
                         char **err);

/*
 * AIC of AR(0..max_p) fitted on the common sample y[max_p..n-1] (as
 * statsmodels' ar_select_order compares them): AIC[p] for p = 0..max_p
 * (AIC may be NULL) and the best order in *BEST_P.
 */
int ml_forecast_ar_select(const double *y, size_t n, int max_p, int *best_p,
                          double *aic, char **err);

/*
 * {"type": "forecast", "method": "hw_mul", "m": 11, ...}: every field of
 * struct ml_forecast, numbers printed so they round-trip.
 */
int ml_forecast_to_json(const struct ml_forecast *model, json_t **out);
int ml_forecast_from_json(const json_t *json, struct ml_forecast *model,
                          char **err);

#endif
