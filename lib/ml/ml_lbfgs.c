/* SPDX-License-Identifier: MIT */
/*
 * ml_lbfgs.c - limited-memory BFGS with a strong-Wolfe line search (Nocedal &
 * Wright, Numerical Optimization, algorithms 7.4, 3.5 and 3.6).  See
 * ml_lbfgs.h for the contract; the comments here say why it is built this way.
 */
#include "ml_lbfgs.h"
#include "mlutil.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wolfe constants: the usual ones for quasi-Newton methods.  c2 = 0.9 lets
 * the unit step through nearly always, which is what saves evaluations. */
#define LS_C1 1e-4
#define LS_C2 0.9

void
ml_lbfgs_defaults(struct ml_lbfgs_opts *o)
{
	o->m = 10;
	o->max_iter = 15000;
	o->max_ls = 20;
	o->gtol = 1e-8;
	o->ftol = 64 * DBL_EPSILON;
}

const char *
ml_lbfgs_status_str(int status)
{
	switch (status) {
	case ML_LBFGS_GTOL: return "gradient below gtol";
	case ML_LBFGS_FTOL: return "relative decrease below ftol";
	case ML_LBFGS_MAX_ITER: return "iteration limit reached";
	case ML_LBFGS_STALLED: return "line search could not decrease the objective";
	}
	return "unknown";
}

static double
dot(size_t n, const double *a, const double *b)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double
maxabs(size_t n, const double *a)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(a[i]) > m)
			m = fabs(a[i]);
	return m;
}

/* Everything the line search needs, so its helpers stay small. */
struct lb_ls {
	size_t n;
	ml_lbfgs_fg fg;
	void *ud;
	const double *x0, *d;
	double f0, dg0;
	double feps;             /* rounding noise in f near f0 */
	double *xt, *gt;         /* trial point and its gradient */
	double *xlo, *glo;       /* best point with sufficient decrease */
	int evals, max_evals;
	int failed;              /* the callback returned NaN */
};

/* f and slope along d at step a; the point is left in xt/gt. */
static double
ls_eval(struct lb_ls *ls, double a, double *dg)
{
	for (size_t i = 0; i < ls->n; i++)
		ls->xt[i] = ls->x0[i] + a * ls->d[i];
	double f = ls->fg(ls->ud, ls->xt, ls->gt);
	ls->evals++;
	if (isnan(f)) {
		ls->failed = 1;
		*dg = 0;
		return f;
	}
	*dg = isfinite(f) ? dot(ls->n, ls->gt, ls->d) : NAN;
	return f;
}

/*
 * Minimiser of the cubic through (a, fa, ga) and (b, fb, gb), kept at
 * least 10% of the interval away from either end so the bracket always
 * shrinks; bisection when the slopes are unknown or the cubic has no
 * minimum.  When fa and fb differ by no more than FEPS, the rounding in
 * f, their difference is noise: the zero of the secant of the slopes is
 * used instead.
 */
static double
cubic_step(double a, double fa, double ga, double b, double fb, double gb,
           double feps)
{
	double lo = fmin(a, b), hi = fmax(a, b), w = hi - lo;
	double t = 0.5 * (a + b);
	if (isfinite(fb) && isfinite(gb) && fabs(fa - fb) <= feps) {
		if (ga * gb < 0)
			t = a - ga * (b - a) / (gb - ga);
	} else if (isfinite(fb) && isfinite(gb) && a != b) {
		double d1 = ga + gb - 3 * (fa - fb) / (a - b);
		double s = d1 * d1 - ga * gb;
		if (s >= 0) {
			double d2 = copysign(sqrt(s), b - a);
			double den = gb - ga + 2 * d2;
			if (den != 0)
				t = b - (b - a) * (gb + d2 - d1) / den;
		}
	}
	if (!isfinite(t) || t < lo + 0.1 * w || t > hi - 0.1 * w)
		t = isfinite(t) && t < lo + 0.1 * w ? lo + 0.1 * w :
		    isfinite(t) && t > hi - 0.1 * w ? hi - 0.1 * w : 0.5 * (a + b);
	return t;
}

static void
ls_keep_lo(struct lb_ls *ls)
{
	memcpy(ls->xlo, ls->xt, ls->n * sizeof(double));
	memcpy(ls->glo, ls->gt, ls->n * sizeof(double));
}

/*
 * Sufficient decrease: 1 by the Armijo test; 2 when f is within rounding
 * of f0 but the slopes say a quadratic model decreased enough (Hager and
 * Zhang's approximate Wolfe condition).  Close to the minimum the
 * decrease is below the rounding of f (a sum over millions of rows), and
 * the Armijo test alone would stall well before the gradient is small.
 */
static int
ls_decrease(const struct lb_ls *ls, double a, double f, double g)
{
	if (f <= ls->f0 + LS_C1 * a * ls->dg0)
		return 1;
	if (f <= ls->f0 + ls->feps && g <= (2 * LS_C1 - 1) * ls->dg0)
		return 2;
	return 0;
}

/*
 * Strong-Wolfe line search from step A.  Returns 1 with the accepted point
 * in xt/gt (*FOUT its value), 2 with it in xlo/glo (budget spent, but f
 * decreased), 0 when f could not be decreased, -1 on callback failure.
 */
static int
line_search(struct lb_ls *ls, double a, double *fout)
{
	double f0 = ls->f0, dg0 = ls->dg0;
	double aprev = 0, fprev = f0, gprev = dg0;
	double alo = 0, flo = f0, glo_ = dg0, ahi = 0, fhi = 0, ghi = 0;
	int have_lo = 0, zoom = 0;

	while (!zoom) {
		double g, f = ls_eval(ls, a, &g);
		if (ls->failed)
			return -1;
		int dec = ls_decrease(ls, a, f, g);
		if (!dec || (dec == 1 && aprev > 0 && f >= fprev)) {
			alo = aprev, flo = fprev, glo_ = gprev;
			ahi = a, fhi = f, ghi = g;
			zoom = 1;
			break;
		}
		if (fabs(g) <= -LS_C2 * dg0) {
			*fout = f;
			return 1;
		}
		ls_keep_lo(ls);
		have_lo = 1;
		if (g >= 0) {
			alo = a, flo = f, glo_ = g;
			ahi = aprev, fhi = fprev, ghi = gprev;
			zoom = 1;
			break;
		}
		if (ls->evals >= ls->max_evals) {
			*fout = f;
			return 2;
		}
		/* Still going down: extrapolate. */
		aprev = a, fprev = f, gprev = g;
		a *= 4;
	}
	/* Zoom inside [alo, ahi]; alo always satisfies sufficient decrease
	 * (or is the start point) and the invariant of N&W 3.6 holds. */
	while (ls->evals < ls->max_evals) {
		double at = cubic_step(alo, flo, glo_, ahi, fhi, ghi, ls->feps);
		if (fabs(ahi - alo) <= 1e-16 * fmax(fabs(alo), fabs(ahi)))
			break;
		double g, f = ls_eval(ls, at, &g);
		if (ls->failed)
			return -1;
		int dec = ls_decrease(ls, at, f, g);
		if (!dec || (dec == 1 && f >= flo)) {
			ahi = at, fhi = f, ghi = g;
			continue;
		}
		if (fabs(g) <= -LS_C2 * dg0) {
			*fout = f;
			return 1;
		}
		if (g * (ahi - alo) >= 0)
			ahi = alo, fhi = flo, ghi = glo_;
		alo = at, flo = f, glo_ = g;
		ls_keep_lo(ls);
		have_lo = 1;
	}
	if (have_lo && (flo < f0 || ls_decrease(ls, alo, flo, glo_) == 2)) {
		*fout = flo;
		return 2;
	}
	return 0;
}

int
ml_lbfgs_minimize(size_t n, double *x, ml_lbfgs_fg fg, void *ud,
                  const struct ml_lbfgs_opts *opts,
                  struct ml_lbfgs_result *res, char **err)
{
	struct ml_lbfgs_opts o;
	struct ml_lbfgs_result r = { 0 };
	int rc = 0;

	if (opts != NULL)
		o = *opts;
	else
		ml_lbfgs_defaults(&o);
	if (n == 0 || x == NULL || fg == NULL || o.m < 1 || o.max_iter < 0 ||
	    o.max_ls < 1 || !(o.gtol >= 0) || !(o.ftol >= 0))
		return ml_seterr(err, -EINVAL, "lbfgs: bad arguments");

	size_t m = (size_t)o.m;
	/* One block: g, d, xt, gt, xlo, glo, s[m], y[m], rho[m], alpha[m]. */
	double *mem = calloc(6 * n + 2 * m * n + 2 * m, sizeof(double));
	if (mem == NULL)
		return ml_seterr(err, -ENOMEM, "lbfgs: out of memory");
	double *g = mem, *d = g + n, *xt = d + n, *gt = xt + n;
	double *xlo = gt + n, *glo = xlo + n, *S = glo + n, *Y = S + m * n;
	double *rho = Y + m * n, *alpha = rho + m;
	size_t hist = 0, head = 0;   /* pairs stored; index of the oldest */

	double f = fg(ud, x, g);
	r.evaluations = 1;
	if (isnan(f)) {
		rc = ml_seterr(err, -ECANCELED, "lbfgs: objective evaluation failed");
		goto out;
	}
	if (!isfinite(f)) {
		rc = ml_seterr(err, -EINVAL, "lbfgs: objective is not finite at the start point");
		goto out;
	}
	r.gmax = maxabs(n, g);
	if (r.gmax <= o.gtol) {
		r.status = ML_LBFGS_GTOL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = -g[i];
	/* First step: unit length in x, as scipy does, since there is no
	 * curvature information yet to scale the steepest-descent direction. */
	double a0 = 1 / sqrt(dot(n, g, g));
	int retried = 0;

	for (;;) {
		struct lb_ls ls = {
			.n = n, .fg = fg, .ud = ud, .x0 = x, .d = d, .f0 = f,
			.dg0 = dot(n, g, d), .xt = xt, .gt = gt, .xlo = xlo,
			.glo = glo, .evals = 0, .max_evals = o.max_ls,
			.feps = 1e-10 * fabs(f),
		};
		if (!(ls.dg0 < 0)) {
			/* Not a descent direction (rounding in H): restart. */
			hist = 0;
			for (size_t i = 0; i < n; i++)
				d[i] = -g[i];
			ls.dg0 = -dot(n, g, g);
			a0 = 1 / sqrt(-ls.dg0);
		}
		double fnew = f;
		int lr = line_search(&ls, a0, &fnew);
		r.evaluations += ls.evals;
		if (lr < 0) {
			rc = ml_seterr(err, -ECANCELED, "lbfgs: objective evaluation failed");
			goto out;
		}
		if (lr == 0) {
			/* A stale history can give a poor direction: drop it and
			 * try steepest descent once before giving up. */
			if (hist > 0 && !retried) {
				retried = 1;
				hist = 0;
				for (size_t i = 0; i < n; i++)
					d[i] = -g[i];
				a0 = 1 / sqrt(dot(n, g, g));
				continue;
			}
			r.status = ML_LBFGS_STALLED;
			goto out;
		}
		retried = 0;
		const double *xn = lr == 1 ? xt : xlo, *gn = lr == 1 ? gt : glo;
		r.iterations++;

		/* New pair goes over the oldest when the history is full. */
		size_t slot = hist < m ? (head + hist) % m : head;
		double *s = S + slot * n, *yv = Y + slot * n;
		for (size_t i = 0; i < n; i++) {
			s[i] = xn[i] - x[i];
			yv[i] = gn[i] - g[i];
		}
		double sy = dot(n, s, yv), yy = dot(n, yv, yv);
		/* Skip pairs that would make H indefinite (only possible when
		 * the Wolfe search ran out of budget). */
		if (sy > DBL_EPSILON * yy) {
			rho[slot] = 1 / sy;
			if (hist < m)
				hist++;
			else
				head = (head + 1) % m;
		}
		memcpy(x, xn, n * sizeof(double));
		memcpy(g, gn, n * sizeof(double));
		double fold = f;
		f = fnew;
		r.gmax = maxabs(n, g);
		if (r.gmax <= o.gtol) {
			r.status = ML_LBFGS_GTOL;
			break;
		}
		if (o.ftol > 0 && (fold - f) <= o.ftol * fmax(fmax(fabs(fold), fabs(f)), 1)) {
			r.status = ML_LBFGS_FTOL;
			break;
		}
		if (r.iterations >= o.max_iter) {
			r.status = ML_LBFGS_MAX_ITER;
			break;
		}

		/* Two-loop recursion: d = -H g. */
		for (size_t i = 0; i < n; i++)
			d[i] = -g[i];
		for (size_t k = hist; k-- > 0;) {
			size_t j = (head + k) % m;
			alpha[j] = rho[j] * dot(n, S + j * n, d);
			for (size_t i = 0; i < n; i++)
				d[i] -= alpha[j] * Y[j * n + i];
		}
		if (hist > 0) {
			size_t j = (head + hist - 1) % m;
			const double *yl = Y + j * n;
			double gamma = 1 / (rho[j] * dot(n, yl, yl));
			for (size_t i = 0; i < n; i++)
				d[i] *= gamma;
		}
		for (size_t k = 0; k < hist; k++) {
			size_t j = (head + k) % m;
			double beta = rho[j] * dot(n, Y + j * n, d);
			for (size_t i = 0; i < n; i++)
				d[i] += (alpha[j] - beta) * S[j * n + i];
		}
		a0 = hist > 0 ? 1 : 1 / sqrt(dot(n, g, g));
	}
out:
	r.f = f;
	if (res != NULL)
		*res = r;
	free(mem);
	return rc;
}
