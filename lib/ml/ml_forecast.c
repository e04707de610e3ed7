/* SPDX-License-Identifier: MIT */
/*
 * ml_forecast.c - forecasting models for one series (see ml_forecast.h): seasonal
 * naive, exponential smoothing (SES, Holt, Holt-Winters) fitted like
 * statsmodels' ExponentialSmoothing, and AR(p) by least squares like
 * statsmodels' AutoReg.  The forecast plugin runs ml_forecast_fit_many()
 * on each worker; ml_eval.c refits on prefixes for backtests.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* vasprintf */
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_forecast.h"
#include "mlutil.h"

static const char *const fc_names[] = {
	[ML_FC_SNAIVE] = "snaive", [ML_FC_SES] = "ses", [ML_FC_HOLT] = "holt",
	[ML_FC_HW_ADD] = "hw_add", [ML_FC_HW_MUL] = "hw_mul", [ML_FC_AR] = "ar",
};
#define FC_NMETHODS ((int)(sizeof fc_names / sizeof fc_names[0]))

const char *
ml_forecast_method_name(int method)
{
	return method >= 0 && method < FC_NMETHODS ? fc_names[method] : "?";
}

int
ml_forecast_method_parse(const char *name)
{
	for (int i = 0; name != NULL && i < FC_NMETHODS; i++)
		if (strcmp(name, fc_names[i]) == 0)
			return i;
	return -1;
}

void
ml_forecast_spec_init(struct ml_fc_spec *spec, int method)
{
	memset(spec, 0, sizeof *spec);
	spec->method = method;
	spec->m = 1;
	spec->p = 1;
	spec->max_p = 10;
}

void
ml_forecast_free(struct ml_forecast *model)
{
	if (model == NULL)
		return;
	free(model->s0);
	free(model->season);
	free(model->coef);
	free(model->lags);
	memset(model, 0, sizeof *model);
}

static int
fc_check_values(const double *y, size_t n, char **err)
{
	if (n == 0 || y == NULL)
		return ml_seterr(err, -EINVAL, "empty series");
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return ml_seterr(err, -EINVAL, "value %zu is %s", i,
			              isnan(y[i]) ? "NaN" : "infinite");
	return 0;
}

static int
fc_is_constant(const double *y, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (y[i] != y[0])
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Seasonal naive                                                      */

static int
fc_fit_snaive(const double *y, size_t n, int m, struct ml_forecast *mod,
              char **err)
{
	if (m < 1 || m > ML_FC_MAX_SEASON)
		return ml_seterr(err, -EINVAL, "season %d is out of range 1..%d",
		              m, ML_FC_MAX_SEASON);
	if (n < (size_t)m)
		return ml_seterr(err, -EINVAL,
		              "series of %zu values is shorter than its season (%d)",
		              n, m);
	double sse = 0;
	for (size_t t = (size_t)m; t < n; t++) {
		double e = y[t] - y[t - (size_t)m];
		sse += e * e;
	}
	mod->sse = sse;
	mod->season = ml_alloc((size_t)m, sizeof(double));
	memcpy(mod->season, y + n - (size_t)m, (size_t)m * sizeof(double));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Exponential smoothing                                               */

/*
 * The recursion is statsmodels' (holtwinters/_smoothers.py): with
 * T = L + phi B the one-step forecast is T, T + S or T * S, and
 *   L' = alpha (y - S | y / S | y) + (1 - alpha) T
 *   B' = beta (L' - L) + (1 - beta) phi B
 *   S' = gamma (y - T | y / T) + (1 - gamma) S
 * The gradient is carried forward with the states (forward-mode
 * differentiation): K tangents per state, K = 6 + m, so a value and its
 * exact gradient cost O(n K), and the minimiser needs no finite
 * differences (whose noise is what stops statsmodels' SLSQP early).
 */
enum { NA, NB, NG, NPHI, NL, NT, NS };

struct ets {
	const double *y;
	size_t n;
	int trend, damped;
	int seas;               /* 0 none, 1 additive, 2 multiplicative */
	int m;                  /* seasonal states (0 when seas == 0) */
	int K;                  /* natural parameters: NS + m */
	int nu;                 /* free variables of the minimiser */
	double *nat, *gnat;     /* K */
	double *S;              /* m (ring of seasonal states) */
	double *dL, *dB, *dT, *dY, *dLn, *dBn, *dS;   /* K each, dS m*K */
	double L, B;            /* states after the last evaluation */
	double sc;              /* scale of the states in u (1) */
};

static void
ets_init(struct ets *e, const double *y, size_t n, int trend, int damped,
         int seas, int m)
{
	memset(e, 0, sizeof *e);
	e->y = y;
	e->n = n;
	e->trend = trend;
	e->damped = trend && damped;
	e->seas = seas;
	e->m = seas ? m : 0;
	e->K = NS + e->m;
	e->sc = 1;
	e->nu = 1 + (trend ? 2 : 0) + (seas ? 1 + e->m : 0) + e->damped + 1;
	size_t K = (size_t)e->K;
	e->nat = ml_alloc(K, sizeof(double));
	e->gnat = ml_alloc(K, sizeof(double));
	e->S = ml_alloc((size_t)e->m, sizeof(double));
	e->dL = ml_alloc(6 * K, sizeof(double));
	e->dB = e->dL + K;
	e->dT = e->dB + K;
	e->dY = e->dT + K;
	e->dLn = e->dY + K;
	e->dBn = e->dLn + K;
	e->dS = ml_alloc((size_t)e->m * K, sizeof(double));
}

static void
ets_destroy(struct ets *e)
{
	free(e->nat);
	free(e->gnat);
	free(e->S);
	free(e->dL);
	free(e->dS);
}

/* SSE at natural parameters P; gradient into G (K values) unless NULL. */
static double
ets_sse(struct ets *e, const double *p, double *g)
{
	const int K = e->K, m = e->m, seas = e->seas;
	const double a = p[NA], b = e->trend ? p[NB] : 0, gm = p[NG];
	const double phi = e->damped ? p[NPHI] : 1;
	double L = p[NL], B = e->trend ? p[NT] : 0;
	double *dL = e->dL, *dB = e->dB, *dT = e->dT, *dY = e->dY;
	double *dLn = e->dLn, *dBn = e->dBn, *dS = e->dS;
	double f = 0;

	if (m > 0)
		memcpy(e->S, p + NS, (size_t)m * sizeof(double));
	if (g != NULL) {
		memset(g, 0, (size_t)K * sizeof(double));
		memset(dL, 0, 2 * (size_t)K * sizeof(double));
		memset(dS, 0, (size_t)m * (size_t)K * sizeof(double));
		dL[NL] = 1;
		if (e->trend)
			dB[NT] = 1;
		for (int j = 0; j < m; j++)
			dS[(size_t)j * K + NS + j] = 1;
	}
	int slot = 0;
	for (size_t i = 0; i < e->n; i++) {
		const double y = e->y[i];
		const double T = L + phi * B;
		double Sv = seas == 2 ? 1 : 0, yhat;
		double *ds = NULL;
		if (m > 0) {
			Sv = e->S[slot];
			ds = dS + (size_t)slot * K;
		}
		yhat = seas == 1 ? T + Sv : seas == 2 ? T * Sv : T;
		const double r = y - yhat;
		f += r * r;

		double Ln, Bn = 0, Sn = 0;
		if (seas == 1) {
			Ln = a * (y - Sv) + (1 - a) * T;
			Sn = gm * (y - T) + (1 - gm) * Sv;
		} else if (seas == 2) {
			Ln = a * y / Sv + (1 - a) * T;
			Sn = gm * y / T + (1 - gm) * Sv;
		} else {
			Ln = a * y + (1 - a) * T;
		}
		if (e->trend)
			Bn = b * (Ln - L) + (1 - b) * phi * B;

		if (g != NULL) {
			for (int k = 0; k < K; k++)
				dT[k] = dL[k] + phi * dB[k];
			if (e->damped)
				dT[NPHI] += B;
			if (seas == 1) {
				for (int k = 0; k < K; k++) {
					dY[k] = dT[k] + ds[k];
					dLn[k] = -a * ds[k] + (1 - a) * dT[k];
				}
				dLn[NA] += y - Sv - T;
			} else if (seas == 2) {
				const double c = a * y / (Sv * Sv);
				for (int k = 0; k < K; k++) {
					dY[k] = dT[k] * Sv + T * ds[k];
					dLn[k] = -c * ds[k] + (1 - a) * dT[k];
				}
				dLn[NA] += y / Sv - T;
			} else {
				for (int k = 0; k < K; k++) {
					dY[k] = dT[k];
					dLn[k] = (1 - a) * dT[k];
				}
				dLn[NA] += y - T;
			}
			for (int k = 0; k < K; k++)
				g[k] -= 2 * r * dY[k];
			if (e->trend) {
				for (int k = 0; k < K; k++)
					dBn[k] = b * (dLn[k] - dL[k]) +
					         (1 - b) * phi * dB[k];
				dBn[NB] += Ln - L - phi * B;
				if (e->damped)
					dBn[NPHI] += (1 - b) * B;
				memcpy(dB, dBn, (size_t)K * sizeof(double));
			}
			if (seas == 1) {
				for (int k = 0; k < K; k++)
					ds[k] = -gm * dT[k] + (1 - gm) * ds[k];
				ds[NG] += y - T - Sv;
			} else if (seas == 2) {
				const double c = gm * y / (T * T);
				for (int k = 0; k < K; k++)
					ds[k] = -c * dT[k] + (1 - gm) * ds[k];
				ds[NG] += y / T - Sv;
			}
			memcpy(dL, dLn, (size_t)K * sizeof(double));
		}
		L = Ln;
		B = Bn;
		if (m > 0) {
			e->S[slot] = Sn;
			if (++slot == m)
				slot = 0;
		}
	}
	e->L = L;
	e->B = B;
	if (!isfinite(f))
		return INFINITY;
	return f;
}

/*
 * Free variables u of the minimiser, all in boxes: alpha in [0, 1],
 * beta = u_b alpha and gamma = u_g (1 - alpha) with u_b, u_g in [0, 1]
 * (statsmodels' transformation, which keeps beta <= alpha and
 * gamma <= 1 - alpha), phi in [0.8, 0.995], then the initial states
 * (level and seasonal states >= 0 with multiplicative seasonality).
 * (Rescaling the states by the size of the data was tried: it changed
 * which local minimum multiplicative Holt-Winters found on the sunspots,
 * for the worse, and was not faster; sc stays 1 as a hook.)
 * Order: alpha, u_b, u_g, phi, l0, b0, s0...
 */
static void
ets_bounds(const struct ets *e, double *lb, double *ub)
{
	int i = 0;
	lb[i] = 0, ub[i++] = 1;
	if (e->trend)
		lb[i] = 0, ub[i++] = 1;
	if (e->seas)
		lb[i] = 0, ub[i++] = 1;
	if (e->damped)
		lb[i] = 0.8, ub[i++] = 0.995;
	lb[i] = e->seas == 2 ? 0 : -INFINITY, ub[i++] = INFINITY;
	if (e->trend)
		lb[i] = -INFINITY, ub[i++] = INFINITY;
	for (int j = 0; j < e->m; j++)
		lb[i] = e->seas == 2 ? 0 : -INFINITY, ub[i++] = INFINITY;
}

static void
ets_u2nat(const struct ets *e, const double *u, double *p)
{
	int i = 0;
	memset(p, 0, (size_t)e->K * sizeof(double));
	p[NA] = u[i++];
	if (e->trend)
		p[NB] = u[i++] * p[NA];
	if (e->seas)
		p[NG] = u[i++] * (1 - p[NA]);
	p[NPHI] = e->damped ? u[i++] : 1;
	p[NL] = u[i++] * e->sc;
	if (e->trend)
		p[NT] = u[i++] * e->sc;
	for (int j = 0; j < e->m; j++)
		p[NS + j] = e->seas == 2 ? u[i++] : u[i++] * e->sc;
}

/* Inverse of ets_u2nat (alpha strictly inside (0, 1)). */
static void
ets_nat2u(const struct ets *e, const double *p, double *u)
{
	int i = 0;
	u[i++] = p[NA];
	if (e->trend)
		u[i++] = p[NA] > 0 ? p[NB] / p[NA] : 0;
	if (e->seas)
		u[i++] = p[NA] < 1 ? p[NG] / (1 - p[NA]) : 0;
	if (e->damped)
		u[i++] = p[NPHI];
	u[i++] = p[NL] / e->sc;
	if (e->trend)
		u[i++] = p[NT] / e->sc;
	for (int j = 0; j < e->m; j++)
		u[i++] = e->seas == 2 ? p[NS + j] : p[NS + j] / e->sc;
}

static double
ets_fg(void *ud, const double *u, double *gu)
{
	struct ets *e = ud;
	double *p = e->nat, *g = e->gnat;
	ets_u2nat(e, u, p);
	double f = ets_sse(e, p, gu ? g : NULL);
	if (gu == NULL || !isfinite(f))
		return f;
	int i = 0;
	double ua = u[0];
	gu[i++] = g[NA] + (e->trend ? g[NB] * u[1] : 0) -
	          (e->seas ? g[NG] * u[e->trend ? 2 : 1] : 0);
	if (e->trend)
		gu[i++] = g[NB] * ua;
	if (e->seas)
		gu[i++] = g[NG] * (1 - ua);
	if (e->damped)
		gu[i++] = g[NPHI];
	gu[i++] = g[NL] * e->sc;
	if (e->trend)
		gu[i++] = g[NT] * e->sc;
	for (int j = 0; j < e->m; j++)
		gu[i++] = e->seas == 2 ? g[NS + j] : g[NS + j] * e->sc;
	for (int k = 0; k < i; k++)
		if (!isfinite(gu[k]))
			return INFINITY;
	return f;
}

/* ------------------------------------------------------------------ */
/* Projected quasi-Newton minimiser with box constraints               */

/*
 * BFGS on the variables that are not held at a bound (a variable at a
 * bound whose gradient pushes it outward is fixed for the iteration), a
 * projected backtracking line search with the Armijo condition, and a
 * reset of the inverse Hessian whenever the set of fixed variables
 * changes.  Small (k <= a few dozen), dense and deterministic; stops when
 * the objective has not decreased by a relative 1e-15 for three
 * iterations, when it reaches 0, or after MAXITER iterations.
 */
typedef double (*fc_fg_t)(void *ud, const double *x, double *g);

static double
fc_minimize(int k, double *x, const double *lb, const double *ub,
            fc_fg_t fg, void *ud, int maxiter)
{
	size_t K = (size_t)k;
	double *buf = ml_alloc(8 * K + K * K, sizeof(double));
	double *g = buf, *xn = g + K, *gn = xn + K, *d = gn + K, *s = d + K;
	double *yv = s + K, *Hy = yv + K, *fixed = Hy + K, *H = fixed + K;
	int reset = 1, quiet = 0;

	for (int i = 0; i < k; i++)
		x[i] = fmin(fmax(x[i], lb[i]), ub[i]);
	double f = fg(ud, x, g);
	if (!isfinite(f))
		goto out;
	for (int it = 0; it < maxiter && f > 0; it++) {
		int changed = 0;
		for (int i = 0; i < k; i++) {
			double fx = (x[i] <= lb[i] && g[i] > 0) ||
			            (x[i] >= ub[i] && g[i] < 0);
			if (fx != fixed[i])
				changed = 1;
			fixed[i] = fx;
		}
		if (changed || reset) {
			memset(H, 0, K * K * sizeof(double));
			for (int i = 0; i < k; i++)
				H[i * k + i] = 1;
			reset = 1;
		}
		double dg = 0, dmax = 0;
		for (int i = 0; i < k; i++) {
			d[i] = 0;
			if (fixed[i])
				continue;
			for (int j = 0; j < k; j++)
				if (!fixed[j])
					d[i] -= H[i * k + j] * g[j];
			dg += d[i] * g[i];
			dmax = fmax(dmax, fabs(d[i]));
		}
		if (dmax == 0)
			break;          /* projected gradient is zero */
		if (dg >= 0) {
			for (int i = 0; i < k; i++)
				d[i] = fixed[i] ? 0 : -g[i];
			reset = 1;
		}
		/* after a reset the step is a gradient step: keep it short */
		double t = reset ? fmin(1, 0.1 / dmax) : 1;
		double fn = INFINITY;
		int ok = 0;
		for (int ls = 0; ls < 60; ls++) {
			double dec = 0;
			for (int i = 0; i < k; i++) {
				xn[i] = fmin(fmax(x[i] + t * d[i], lb[i]), ub[i]);
				dec += g[i] * (xn[i] - x[i]);
			}
			fn = fg(ud, xn, gn);
			if (isfinite(fn) && fn <= f + 1e-4 * dec && dec < 0) {
				ok = 1;
				break;
			}
			if (dec == 0)
				break;
			t *= 0.5;
		}
		if (!ok) {
			if (reset)
				break;  /* even a short gradient step fails */
			reset = 1;
			continue;
		}
		double sy = 0, yy = 0, ss = 0;
		for (int i = 0; i < k; i++) {
			s[i] = xn[i] - x[i];
			yv[i] = fixed[i] ? 0 : gn[i] - g[i];
			sy += s[i] * yv[i];
			yy += yv[i] * yv[i];
			ss += s[i] * s[i];
		}
		if (sy > 1e-12 * sqrt(ss * yy)) {
			if (reset) {
				for (int i = 0; i < k; i++)
					H[i * k + i] = sy / yy;
			}
			double yHy = 0;
			for (int i = 0; i < k; i++) {
				Hy[i] = 0;
				for (int j = 0; j < k; j++)
					Hy[i] += H[i * k + j] * yv[j];
				yHy += yv[i] * Hy[i];
			}
			double rho = 1 / sy, c = (1 + rho * yHy) * rho;
			for (int i = 0; i < k; i++)
				for (int j = 0; j < k; j++)
					H[i * k + j] += c * s[i] * s[j] -
					                rho * (Hy[i] * s[j] + s[i] * Hy[j]);
			reset = 0;
		}
		if (f - fn <= 1e-15 * fmax(fabs(f), fabs(fn)))
			quiet++;
		else
			quiet = 0;
		memcpy(x, xn, K * sizeof(double));
		memcpy(g, gn, K * sizeof(double));
		f = fn;
		if (quiet >= 3)
			break;
	}
out:
	free(buf);
	return f;
}

/* ------------------------------------------------------------------ */
/* Start values (statsmodels' initialization_method="estimated")       */

/* Intercept (at x = 0) and slope of z[0..9] on x = 1..10. */
static void
fc_line10(const double *z, double *level, double *slope)
{
	double zbar = 0, sxz = 0;
	for (int i = 0; i < 10; i++)
		zbar += z[i];
	zbar /= 10;
	for (int i = 0; i < 10; i++)
		sxz += (i + 1 - 5.5) * (z[i] - zbar);
	*slope = sxz / 82.5;
	*level = zbar - *slope * 5.5;
}

/*
 * Initial level, trend and seasonal states: statsmodels' heuristic
 * (Hyndman et al. 2008, section 2.6: a centred moving average over up to
 * five seasons, average detrended values per season, then a line through
 * the first ten smoothed values) when there are enough values, else its
 * simple rule (section 7.6 of Hyndman and Athanasopoulos).
 */
static void
ets_start_states(const struct ets *e, double *p)
{
	const double *y = e->y;
	size_t n = e->n;
	int m = e->m;
	size_t min_obs = 10 + 2 * (size_t)(m / 2);

	p[NL] = y[0];
	p[NT] = 0;
	if (n < min_obs) {
		if (m == 0) {
			p[NL] = y[0];
			p[NT] = n > 1 ? y[1] - y[0] : 0;
			return;
		}
		double lvl = 0, tr = 0;
		for (int j = 0; j < m; j++) {
			lvl += y[j];
			tr += (y[m + j] - y[j]) / m;
		}
		lvl /= m;
		p[NL] = lvl;
		p[NT] = tr / m;
		for (int j = 0; j < m; j++)
			p[NS + j] = e->seas == 2 ? y[j] / lvl : y[j] - lvl;
		return;
	}
	if (m == 0) {
		fc_line10(y, &p[NL], &p[NT]);
		return;
	}
	size_t kc = n / (size_t)m < 5 ? n / (size_t)m : 5;
	size_t kmin = (min_obs + (size_t)m - 1) / (size_t)m;
	if (kc < kmin)
		kc = kmin;
	size_t len = kc * (size_t)m < n ? kc * (size_t)m : n;
	size_t h = (size_t)m / 2;
	double *ma = ml_alloc(len, sizeof(double));
	for (size_t t = h; t + h < len; t++) {
		double sum = 0;
		if (m % 2) {
			for (size_t j = t - h; j <= t + h; j++)
				sum += y[j];
			ma[t] = sum / m;
		} else {   /* 2 x m moving average */
			for (size_t j = t - h + 1; j < t + h; j++)
				sum += y[j];
			ma[t] = (sum + 0.5 * (y[t - h] + y[t + h])) / m;
		}
	}
	double mean = 0;
	for (int j = 0; j < m; j++) {
		double sum = 0;
		int cnt = 0;
		for (size_t t = (size_t)j; t < len; t += (size_t)m) {
			if (t < h || t + h >= len)
				continue;
			sum += e->seas == 2 ? y[t] / ma[t] : y[t] - ma[t];
			cnt++;
		}
		p[NS + j] = cnt ? sum / cnt : (e->seas == 2 ? 1 : 0);
		mean += p[NS + j] / m;
	}
	for (int j = 0; j < m; j++)
		p[NS + j] = e->seas == 2 ? p[NS + j] / mean : p[NS + j] - mean;
	fc_line10(ma + h, &p[NL], &p[NT]);
	free(ma);
}

struct fc_cand {
	double f, a, b, g;
};

static int
fc_cand_cmp(const void *x, const void *y)
{
	const struct fc_cand *a = x, *b = y;
	if (a->f != b->f)
		return a->f < b->f ? -1 : 1;
	/* ties (flat grids) in grid order, whatever qsort does */
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return a->g < b->g ? -1 : a->g > b->g;
}

static size_t
fc_linspace_n(double lo, double hi, int num, double *out)
{
	for (int i = 0; i < num; i++)
		out[i] = num == 1 ? lo : lo + (hi - lo) * i / (num - 1);
	return (size_t)num;
}

/*
 * statsmodels' grid over (alpha, beta, gamma) at the heuristic states
 * (_setup_brute: 87 // #parameters values of alpha, sqrt-scaled counts of
 * beta <= alpha and gamma <= 1 - alpha).  Returns the candidates sorted by
 * SSE, ties by (alpha, beta, gamma), so the choice is deterministic.
 */
static size_t
ets_grid(struct ets *e, double *p, struct fc_cand **out)
{
	int npar = 1 + e->trend + (e->seas != 0);
	int ns = 87 / npar;
	double *av = ml_alloc((size_t)ns, sizeof(double));
	double *bv = ml_alloc((size_t)ns + 1, sizeof(double));
	double *gv = ml_alloc((size_t)ns + 1, sizeof(double));
	size_t cap = (size_t)ns * ((size_t)ns + 1) * ((size_t)ns + 1), cnt = 0;
	struct fc_cand *c = ml_alloc(cap, sizeof *c);

	fc_linspace_n(0.005, 0.995, ns, av);
	for (int i = 0; i < ns; i++) {
		double a = av[i];
		size_t nb = 1, ng = 1;
		bv[0] = gv[0] = 0;
		if (e->trend)
			nb = fc_linspace_n(0, a, (int)ceil(ns * sqrt(a)), bv);
		if (e->seas)
			ng = fc_linspace_n(0, 1 - a, (int)ceil(ns * sqrt(1 - a)), gv);
		for (size_t jg = 0; jg < ng; jg++)
			for (size_t jb = 0; jb < nb; jb++) {
				p[NA] = a;
				p[NB] = bv[jb];
				p[NG] = gv[jg];
				double f = ets_sse(e, p, NULL);
				c[cnt++] = (struct fc_cand){ isfinite(f) ? f : INFINITY,
				                              a, bv[jb], gv[jg] };
			}
	}
	free(av);
	free(bv);
	free(gv);
	qsort(c, cnt, sizeof *c, fc_cand_cmp);
	*out = c;
	return cnt;
}

/* Grid points started from; the best of their local minima is kept. */
#ifndef FC_STARTS
#define FC_STARTS 2
#endif
#ifndef FC_MAXITER
#define FC_MAXITER 3000
#endif

static int
fc_fit_ets(const double *y, size_t n, const struct ml_fc_spec *spec,
           struct ml_forecast *mod, char **err)
{
	int meth = spec->method;
	int trend = meth != ML_FC_SES;
	int seas = meth == ML_FC_HW_ADD ? 1 : meth == ML_FC_HW_MUL ? 2 : 0;
	int damped = trend && spec->damped;
	int m = seas ? spec->m : 0;

	if (seas) {
		if (m < 2 || m > ML_FC_MAX_SEASON)
			return ml_seterr(err, -EINVAL,
			              "season %d is out of range 2..%d for %s",
			              m, ML_FC_MAX_SEASON, fc_names[meth]);
		if (n < 2 * (size_t)m)
			return ml_seterr(err, -EINVAL, "series of %zu values is "
			              "shorter than two seasons (%d)", n, m);
	} else if (n < (trend ? 3u : 2u)) {
		return ml_seterr(err, -EINVAL, "series of %zu values is too short "
		              "for %s (needs at least %d)", n, fc_names[meth],
		              trend ? 3 : 2);
	}
	if (seas == 2)
		for (size_t i = 0; i < n; i++)
			if (y[i] <= 0)
				return ml_seterr(err, -EDOM, "value %zu is %g: "
				              "multiplicative seasonality needs "
				              "positive data", i, y[i]);

	mod->m = seas ? m : 1;
	mod->damped = damped;
	if (m > 0) {
		mod->s0 = ml_alloc((size_t)m, sizeof(double));
		mod->season = ml_alloc((size_t)m, sizeof(double));
	}

	struct ets e;
	ets_init(&e, y, n, trend, damped, seas, m);
	double *p = ml_alloc((size_t)e.K, sizeof(double));
	double *best = ml_alloc((size_t)e.K, sizeof(double));
	double *u = ml_alloc((size_t)e.nu, sizeof(double));
	double *lb = ml_alloc(2 * (size_t)e.nu, sizeof(double)), *ub = lb + e.nu;
	double fbest = INFINITY;
	int rc = 0;

	ets_bounds(&e, lb, ub);
	ets_start_states(&e, p);
	p[NPHI] = damped ? 0.99 : 1;
	if (fc_is_constant(y, n)) {
		/* exact fit; the smoothing parameters do not matter */
		p[NA] = 0.5;
		p[NB] = trend ? 0.05 : 0;
		p[NG] = seas ? 0.025 : 0;
		p[NL] = y[0];
		p[NT] = 0;
		for (int j = 0; j < m; j++)
			p[NS + j] = seas == 2 ? 1 : 0;
		memcpy(best, p, (size_t)e.K * sizeof(double));
		fbest = ets_sse(&e, best, NULL);
	} else {
		struct fc_cand *c;
		size_t nc = ets_grid(&e, p, &c);
		for (size_t s = 0; s < nc && s < FC_STARTS; s++) {
			if (!isfinite(c[s].f))
				break;
			/* strictly inside the box, like statsmodels */
			p[NA] = c[s].a;
			p[NB] = fmax(c[s].b, 1e-4);
			p[NG] = fmax(c[s].g, 1e-4);
			ets_nat2u(&e, p, u);
			double f = fc_minimize(e.nu, u, lb, ub, ets_fg, &e,
			                       FC_MAXITER);
			/* a fresh start from the minimum polishes it */
			if (isfinite(f))
				f = fc_minimize(e.nu, u, lb, ub, ets_fg, &e,
				                FC_MAXITER);
			if (isfinite(f) && f < fbest) {
				fbest = f;
				ets_u2nat(&e, u, best);
			}
		}
		free(c);
	}
	if (!isfinite(fbest)) {
		rc = ml_seterr(err, -EDOM, "%s: no finite fit found (the data "
		            "overflow the smoothing recursion)", fc_names[meth]);
		goto out;
	}
	/* states after the last value, for forecasting */
	fbest = ets_sse(&e, best, NULL);
	mod->sse = fbest;
	mod->alpha = best[NA];
	mod->beta = trend ? best[NB] : 0;
	mod->gamma = seas ? best[NG] : 0;
	mod->phi = damped ? best[NPHI] : 1;
	mod->l0 = best[NL];
	mod->b0 = trend ? best[NT] : 0;
	mod->level = e.L;
	mod->trend = e.B;
	for (int j = 0; j < m; j++) {
		mod->s0[j] = best[NS + j];
		/* ring slot of y[n + j] */
		mod->season[j] = e.S[(n + (size_t)j) % (size_t)m];
	}
out:
	ets_destroy(&e);
	free(p);
	free(best);
	free(u);
	free(lb);
	return rc;
}

/* ------------------------------------------------------------------ */
/* AR(p) by least squares                                              */

/*
 * Least squares of y[t] on 1, y[t-1], ..., y[t-p] for t = p..n-1 by
 * Householder QR of the (n-p) x (p+1) design (column-major copy): more
 * accurate than the normal equations, which square the condition number.
 * COEF gets p + 1 values; *SSR the residual sum of squares.
 */
static int
fc_ar_ols(const double *y, size_t n, int p, double *coef, double *ssr,
          char **err)
{
	size_t N = n - (size_t)p, P = (size_t)p + 1;
	double *A = ml_alloc(N * P + N, sizeof(double)), *r = A + N * P;
	int rc = 0;

	for (size_t i = 0; i < N; i++) {
		A[i] = 1;
		r[i] = y[(size_t)p + i];
	}
	for (size_t j = 1; j < P; j++)
		memcpy(A + j * N, y + (size_t)p - j, N * sizeof(double));
	double rmax = 0;
	for (size_t j = 0; j < P; j++) {
		double *a = A + j * N, norm = 0;
		for (size_t i = j; i < N; i++)
			norm = hypot(norm, a[i]);
		if (norm == 0 || norm <= 1e-13 * rmax) {
			rc = ml_seterr(err, -EDOM, "AR(%d): the lagged values are "
			            "collinear", p);
			goto out;
		}
		double alpha = a[j] > 0 ? -norm : norm;
		/* v = a[j..] - alpha e_j, stored in place */
		a[j] -= alpha;
		double vv = 0;
		for (size_t i = j; i < N; i++)
			vv += a[i] * a[i];
		for (size_t k = j + 1; k <= P; k++) {
			double *b = k < P ? A + k * N : r, dot = 0;
			for (size_t i = j; i < N; i++)
				dot += a[i] * b[i];
			dot = 2 * dot / vv;
			for (size_t i = j; i < N; i++)
				b[i] -= dot * a[i];
		}
		a[j] = alpha;   /* R[j][j]; below-diagonal part unused */
		rmax = fmax(rmax, fabs(alpha));
	}
	for (size_t jj = P; jj-- > 0;) {
		double s = r[jj];
		for (size_t k = jj + 1; k < P; k++)
			s -= A[k * N + jj] * coef[k];
		coef[jj] = s / A[jj * N + jj];
	}
	/* residuals straight from the data (not from Q'y) */
	double sum = 0;
	for (size_t t = (size_t)p; t < n; t++) {
		double fit = coef[0];
		for (size_t k = 1; k < P; k++)
			fit += coef[k] * y[t - k];
		sum += (y[t] - fit) * (y[t] - fit);
	}
	*ssr = sum;
out:
	free(A);
	return rc;
}

static int
fc_ar_check(size_t n, int p, char **err)
{
	if (p < 0 || p > ML_FC_MAX_P)
		return ml_seterr(err, -EINVAL, "AR order %d is out of range 0..%d",
		              p, ML_FC_MAX_P);
	if (n < 2 * (size_t)p + 1)
		return ml_seterr(err, -EINVAL, "series of %zu values is too short "
		              "for AR(%d): it needs p + 1 = %d regression rows, "
		              "so at least %d values", n, p, p + 1, 2 * p + 1);
	return 0;
}

int
ml_forecast_ar_select(const double *y, size_t n, int max_p, int *best_p,
                      double *aic, char **err)
{
	int rc = fc_check_values(y, n, err);
	if (rc == 0)
		rc = fc_ar_check(n, max_p, err);
	if (rc < 0)
		return rc;
	double *coef = ml_alloc((size_t)max_p + 1, sizeof(double));
	double best = INFINITY;
	int constant = fc_is_constant(y, n);
	size_t N = n - (size_t)max_p;
	*best_p = 0;
	for (int p = 0; p <= max_p; p++) {
		size_t off = (size_t)(max_p - p);
		double ssr = 0, a;
		if (!constant) {
			rc = fc_ar_ols(y + off, n - off, p, coef, &ssr, err);
			if (rc < 0)
				break;
		}
		/* statsmodels: -2 llf + 2 (p + 2), llf of the Gaussian
		 * conditional likelihood with sigma^2 = ssr / N */
		a = N * (log(2 * M_PI) + log(ssr / N) + 1) + 2.0 * (p + 2);
		if (aic != NULL)
			aic[p] = a;
		if (a < best) {
			best = a;
			*best_p = p;
		}
	}
	free(coef);
	return rc;
}

static int
fc_fit_ar(const double *y, size_t n, const struct ml_fc_spec *spec,
          struct ml_forecast *mod, char **err)
{
	int p = spec->p, rc;
	if (p < 0 && (rc = ml_forecast_ar_select(y, n, spec->max_p, &p,
	                                          NULL, err)) < 0)
		return rc;
	if ((rc = fc_ar_check(n, p, err)) < 0)
		return rc;
	mod->p = p;
	mod->coef = ml_alloc((size_t)p + 1, sizeof(double));
	mod->lags = ml_alloc((size_t)p, sizeof(double));
	for (int j = 0; j < p; j++)
		mod->lags[j] = y[n - 1 - (size_t)j];
	if (fc_is_constant(y, n)) {
		mod->coef[0] = y[0];
		mod->sse = 0;
		return 0;
	}
	return fc_ar_ols(y, n, p, mod->coef, &mod->sse, err);
}

/* ------------------------------------------------------------------ */
/* Public entry points                                                 */

int
ml_forecast_fit(const double *y, size_t n, const struct ml_fc_spec *spec,
                struct ml_forecast *model, char **err)
{
	int rc;
	memset(model, 0, sizeof *model);
	if (spec == NULL || spec->method < 0 || spec->method >= FC_NMETHODS)
		return ml_seterr(err, -EINVAL, "unknown forecasting method");
	if ((rc = fc_check_values(y, n, err)) < 0)
		return rc;
	model->method = spec->method;
	model->m = 1;
	model->phi = 1;
	model->nobs = n;
	switch (spec->method) {
	case ML_FC_SNAIVE:
		model->m = spec->m;
		rc = fc_fit_snaive(y, n, spec->m, model, err);
		break;
	case ML_FC_AR:
		rc = fc_fit_ar(y, n, spec, model, err);
		break;
	default:
		rc = fc_fit_ets(y, n, spec, model, err);
		break;
	}
	if (rc < 0)
		ml_forecast_free(model);
	return rc;
}

int
ml_forecast_predict(const struct ml_forecast *mod, size_t h, double *out,
                    char **err)
{
	if (h > 0 && out == NULL)
		return ml_seterr(err, -EINVAL, "no output buffer");
	if (mod == NULL || mod->method < 0 || mod->method >= FC_NMETHODS)
		return ml_seterr(err, -EINVAL, "not a fitted forecasting model");
	size_t m = mod->m > 0 ? (size_t)mod->m : 1;
	switch (mod->method) {
	case ML_FC_SNAIVE:
		for (size_t j = 0; j < h; j++)
			out[j] = mod->season[j % m];
		break;
	case ML_FC_AR: {
		size_t p = (size_t)mod->p;
		for (size_t j = 0; j < h; j++) {
			double v = mod->coef[0];
			/* lag k of step j is an earlier forecast or data */
			for (size_t k = 1; k <= p; k++)
				v += mod->coef[k] * (k <= j ? out[j - k] :
				                     mod->lags[k - 1 - j]);
			out[j] = v;
		}
		break;
	}
	default: {
		double damp = 0, pw = 1;
		for (size_t j = 0; j < h; j++) {
			pw *= mod->phi;
			damp += pw;
			double v = mod->level + damp * mod->trend;
			if (mod->method == ML_FC_HW_ADD)
				v += mod->season[j % m];
			else if (mod->method == ML_FC_HW_MUL)
				v *= mod->season[j % m];
			out[j] = v;
		}
		break;
	}
	}
	return 0;
}

int
ml_forecast_fit_many(const double *const *ys, const size_t *ns, size_t count,
                     const struct ml_fc_spec *spec, size_t h,
                     struct ml_forecast *models, double *fc, char **err)
{
	int rc = 0;
	size_t i;
	if (h > 0 && fc == NULL)
		return ml_seterr(err, -EINVAL, "no output buffer");
	for (i = 0; i < count; i++) {
		struct ml_forecast one, *mod = models ? &models[i] : &one;
		char *e = NULL;
		rc = ml_forecast_fit(ys[i], ns[i], spec, mod, &e);
		if (rc == 0 && h > 0)
			rc = ml_forecast_predict(mod, h, fc + i * h, &e);
		if (models == NULL)
			ml_forecast_free(&one);
		if (rc < 0) {
			ml_seterr(err, rc, "series %zu: %s", i, e ? e : "failed");
			free(e);
			break;
		}
	}
	if (rc < 0 && models != NULL)
		for (size_t j = 0; j <= i && j < count; j++)
			ml_forecast_free(&models[j]);
	return rc;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

int
ml_forecast_to_json(const struct ml_forecast *mod, json_t **out)
{
	*out = NULL;
	if (mod == NULL || mod->method < 0 || mod->method >= FC_NMETHODS)
		return -EINVAL;
	json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:I, s:f}",
	                      "type", "forecast",
	                      "method", fc_names[mod->method],
	                      "m", mod->m, "damped", mod->damped,
	                      "nobs", (json_int_t)mod->nobs, "sse", mod->sse);
	if (o == NULL)
		return -ENOMEM;
	if (mod->method == ML_FC_AR) {
		json_object_set_new(o, "p", json_integer(mod->p));
		json_object_set_new(o, "coef", ml_json_reals(mod->coef,
		                                              (size_t)mod->p + 1));
		json_object_set_new(o, "lags", ml_json_reals(mod->lags,
		                                              (size_t)mod->p));
	} else if (mod->method == ML_FC_SNAIVE) {
		json_object_set_new(o, "season", ml_json_reals(mod->season,
		                                                (size_t)mod->m));
	} else {
		int seasonal = mod->method == ML_FC_HW_ADD ||
		               mod->method == ML_FC_HW_MUL;
		json_object_set_new(o, "alpha", json_real(mod->alpha));
		json_object_set_new(o, "beta", json_real(mod->beta));
		json_object_set_new(o, "gamma", json_real(mod->gamma));
		json_object_set_new(o, "phi", json_real(mod->phi));
		json_object_set_new(o, "initial_level", json_real(mod->l0));
		json_object_set_new(o, "initial_trend", json_real(mod->b0));
		json_object_set_new(o, "level", json_real(mod->level));
		json_object_set_new(o, "trend", json_real(mod->trend));
		if (seasonal) {
			json_object_set_new(o, "initial_seasonal",
			                    ml_json_reals(mod->s0, (size_t)mod->m));
			json_object_set_new(o, "season",
			                    ml_json_reals(mod->season, (size_t)mod->m));
		}
	}
	*out = o;
	return 0;
}

static int
fc_get_vec(const json_t *o, const char *key, size_t n, double **out,
           char **err)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a) || json_array_size(a) != n)
		return ml_seterr(err, -EINVAL, "forecast model: \"%s\" must be an "
		              "array of %zu numbers", key, n);
	double *v = ml_alloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(a, i);
		if (!json_is_number(x) || !isfinite(json_number_value(x))) {
			free(v);
			return ml_seterr(err, -EINVAL, "forecast model: \"%s\"[%zu] "
			              "is not a finite number", key, i);
		}
		v[i] = json_number_value(x);
	}
	*out = v;
	return 0;
}

int
ml_forecast_from_json(const json_t *json, struct ml_forecast *mod, char **err)
{
	memset(mod, 0, sizeof *mod);
	if (!json_is_object(json) ||
	    strcmp(json_string_value(json_object_get(json, "type")) ?
	           json_string_value(json_object_get(json, "type")) : "",
	           "forecast") != 0)
		return ml_seterr(err, -EINVAL, "not a forecast model (\"type\" is "
		              "not \"forecast\")");
	int meth = ml_forecast_method_parse(
		json_string_value(json_object_get(json, "method")));
	if (meth < 0)
		return ml_seterr(err, -EINVAL, "forecast model: unknown \"method\"");
	json_t *jm = json_object_get(json, "m"), *jn = json_object_get(json, "nobs");
	if (!json_is_integer(jm) || json_integer_value(jm) < 1 ||
	    json_integer_value(jm) > ML_FC_MAX_SEASON ||
	    !json_is_integer(jn) || json_integer_value(jn) < 0)
		return ml_seterr(err, -EINVAL, "forecast model: bad \"m\" or \"nobs\"");
	mod->method = meth;
	mod->m = (int)json_integer_value(jm);
	mod->nobs = (size_t)json_integer_value(jn);
	mod->damped = json_is_true(json_object_get(json, "damped"));
	mod->phi = 1;
	int rc = ml_json_get_num(json, "sse", &mod->sse, err);
	if (rc < 0)
		goto fail;
	if (meth == ML_FC_AR) {
		json_t *jp = json_object_get(json, "p");
		if (!json_is_integer(jp) || json_integer_value(jp) < 0 ||
		    json_integer_value(jp) > ML_FC_MAX_P) {
			rc = ml_seterr(err, -EINVAL, "forecast model: bad \"p\"");
			goto fail;
		}
		mod->p = (int)json_integer_value(jp);
		if ((rc = fc_get_vec(json, "coef", (size_t)mod->p + 1,
		                     &mod->coef, err)) < 0 ||
		    (rc = fc_get_vec(json, "lags", (size_t)mod->p,
		                     &mod->lags, err)) < 0)
			goto fail;
	} else if (meth == ML_FC_SNAIVE) {
		if ((rc = fc_get_vec(json, "season", (size_t)mod->m,
		                     &mod->season, err)) < 0)
			goto fail;
	} else {
		static const char *const keys[] = { "alpha", "beta", "gamma",
			"phi", "initial_level", "initial_trend", "level", "trend" };
		double *dst[] = { &mod->alpha, &mod->beta, &mod->gamma,
			&mod->phi, &mod->l0, &mod->b0, &mod->level, &mod->trend };
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if ((rc = ml_json_get_num(json, keys[i], dst[i], err)) < 0)
				goto fail;
		if (meth == ML_FC_HW_ADD || meth == ML_FC_HW_MUL) {
			if ((rc = fc_get_vec(json, "initial_seasonal",
			                     (size_t)mod->m, &mod->s0, err)) < 0 ||
			    (rc = fc_get_vec(json, "season", (size_t)mod->m,
			                     &mod->season, err)) < 0)
				goto fail;
		} else if (mod->m != 1) {
			rc = ml_seterr(err, -EINVAL, "forecast model: %s has no "
			            "season but \"m\" is %d", fc_names[meth], mod->m);
			goto fail;
		}
	}
	return 0;
fail:
	ml_forecast_free(mod);
	return rc;
}
