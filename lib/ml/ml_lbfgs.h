/* SPDX-License-Identifier: MIT */
/*
 * ml_lbfgs.h - limited-memory BFGS minimiser for the analytics library.
 *
 * The iterative models (logistic regression) minimise a smooth objective
 * whose value and gradient come from a callback.  In kiln that callback is
 * a distributed map/reduce over every partition of the training data, so
 * the minimiser is built to spend as few evaluations as it can: the first
 * trial step of each line search is the quasi-Newton step (accepted almost
 * always after the first few iterations), and the line search only
 * interpolates (cubic, on values and slopes it already has) when that step
 * fails the strong Wolfe conditions.  Near the minimum, where the decrease
 * in f drops below its rounding (f is a sum over many rows), sufficient
 * decrease is judged from the slopes (Hager and Zhang's approximate Wolfe
 * condition), so tight gradient tolerances remain reachable.
 *
 * Stopping rules follow scipy's L-BFGS-B as scikit-learn uses it (no bounds,
 * so the projected gradient is the gradient):
 *   - max_i |g_i| <= gtol                           (ML_LBFGS_GTOL)
 *   - (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol   (ML_LBFGS_FTOL)
 *   - max_iter iterations                           (ML_LBFGS_MAX_ITER)
 *   - the line search cannot decrease f any more    (ML_LBFGS_STALLED; this
 *     happens when f is already at its minimum to within rounding)
 * All four return 0; res->status says which one.
 *
 * The callback returns the objective and fills grad.  It may return +inf
 * (the step is then shortened) but must return NaN only to report a
 * failure (say a lost worker): the minimiser then stops at once with
 * -ECANCELED and x holds the best point found so far.
 *
 * Thread-safety: no global state; one call per thread.
 */
#ifndef KILN_ML_LBFGS_H
#define KILN_ML_LBFGS_H

#include <stddef.h>

typedef double (*ml_lbfgs_fg)(void *ud, const double *x, double *grad);

struct ml_lbfgs_opts {
	int m;             /* history pairs (default 10) */
	int max_iter;      /* iterations (default 15000, like scipy) */
	int max_ls;        /* evaluations per line search (default 20) */
	double gtol;       /* max-norm of the gradient (default 1e-8) */
	double ftol;       /* relative decrease (default 64 * DBL_EPSILON, as
	                      scikit-learn passes to scipy); 0 disables it */
};

enum ml_lbfgs_status {
	ML_LBFGS_GTOL = 1,
	ML_LBFGS_FTOL,
	ML_LBFGS_MAX_ITER,
	ML_LBFGS_STALLED,
};

struct ml_lbfgs_result {
	int status;        /* enum ml_lbfgs_status */
	int iterations;
	int evaluations;   /* calls of the callback */
	double f;          /* objective at x */
	double gmax;       /* max |g_i| at x */
};

/* Fill OPTS with the defaults above. */
void ml_lbfgs_defaults(struct ml_lbfgs_opts *opts);

/*
 * Minimise FG from the start point X (N values, overwritten by the
 * minimiser).  OPTS may be NULL for the defaults; RES may be NULL.
 * Returns 0 (see res->status), -EINVAL for bad arguments or a start point
 * where f is not finite, -ECANCELED when the callback returned NaN.
 */
int ml_lbfgs_minimize(size_t n, double *x, ml_lbfgs_fg fg, void *ud,
                      const struct ml_lbfgs_opts *opts,
                      struct ml_lbfgs_result *res, char **err);

const char *ml_lbfgs_status_str(int status);

#endif
