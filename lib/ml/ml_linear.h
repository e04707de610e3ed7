/* SPDX-License-Identifier: MIT */
/*
 * ml_linear.h - the linear models of kiln's analytics library: standardisation
 * statistics, logistic regression (binary and multinomial, L2), linear and
 * ridge regression, and Gaussian naive Bayes.
 *
 * Every model follows the library's distributed pattern (see lib/ml/):
 * a "partial" folds ONE block of rows (one partition, column-major, used in
 * place) into an accumulator, "merge" combines two accumulators (Chan et
 * al.'s pairwise formulas, so the result does not depend on how the rows
 * were split beyond rounding), "finish" makes the model.  Logistic
 * regression is iterative: each L-BFGS step needs the sum over all blocks
 * of ml_logreg_partial(), which the caller computes (a map/reduce in kiln)
 * through a callback given to ml_logreg_fit().
 *
 * The numbers match scikit-learn: StandardScaler (population std, constant
 * columns scaled by 1), LogisticRegression(penalty="l2", C, fit_intercept)
 * on standardised features, Ridge(alpha) / LinearRegression, GaussianNB.
 *
 * Bad input never crashes or yields a silent NaN; functions return 0 or a
 * negative errno value and set *err to a malloc()ed message the caller
 * frees:
 *   - NaN or infinite feature/target: -EINVAL "row R: NaN in column C"
 *     (R counts from 0 within the block; column C from 0; the plugin knows
 *     the block's first row and the column names and may reword it);
 *   - no rows at all (finish with count 0): -EINVAL "no training rows";
 *   - class code outside 0..K-1: -EINVAL "row R: class code ...";
 *   - logistic regression / naive Bayes with only one class present:
 *     -EINVAL "only one class in the training data"; a class code with no
 *     rows: -EINVAL "class K has no training rows" (re-code the labels);
 *   - linear regression with alpha == 0 and a constant or collinear column:
 *     -EDOM naming the column ("column 2 is constant", "column 3 is
 *     collinear with the others"); with alpha > 0 both are fine;
 *   - constant column in standardisation: NOT an error; its std is taken as
 *     1 (like scikit-learn, so the standardised column is all zeros and its
 *     logistic coefficient is 0) and ml_moments_finish() returns a warning
 *     string naming the columns, for the caller to log;
 *   - naive Bayes where every feature is constant: -EDOM (the variance
 *     smoothing would be 0 and every likelihood infinite).
 *
 * Output matrices (probabilities) are column-major like the input: K
 * columns of n values, proba[k * n + i].
 *
 * Thread-safety: no global state; different objects may be used from
 * different threads, and the read-only functions (partials taking a const
 * model, predict) may share one model between threads.
 */
#ifndef KILN_ML_LINEAR_H
#define KILN_ML_LINEAR_H

#include <stddef.h>
#include <jansson.h>

#include "ml_lbfgs.h"

/* ------------------------------------------------------------------ */
/* Standardisation statistics: per-column count, mean and M2.          */

struct ml_moments {
	size_t d;
	double count;      /* rows folded in */
	double *mean;      /* d */
	double *m2;        /* d: sum of squared deviations from mean */
	int nclasses;      /* 0, or K when class counts are kept */
	double *class_count; /* nclasses counts, or NULL */
};

/* NCLASSES > 0 also counts class codes (logistic regression needs them). */
int ml_moments_init(struct ml_moments *m, size_t d, int nclasses, char **err);
void ml_moments_free(struct ml_moments *m);
/* Fold N rows of X (d columns) and, when counting classes, their codes Y. */
int ml_moments_partial(struct ml_moments *m, const double *const *X, size_t n,
                       const int *y, char **err);
int ml_moments_merge(struct ml_moments *a, const struct ml_moments *b, char **err);
/*
 * MEAN and STD (d each, caller's arrays) of what was folded in, STD the
 * population std with constant columns set to 1 (scikit-learn's test:
 * var <= n*eps*var + (n*mean*eps)^2).  *WARN (may be NULL) is set to a
 * malloc()ed message naming the constant columns, or NULL when none.
 */
int ml_moments_finish(const struct ml_moments *m, double *mean, double *std,
                      char **warn, char **err);
int ml_moments_to_json(const struct ml_moments *m, json_t **out);
int ml_moments_from_json(const json_t *j, struct ml_moments *m, char **err);

/* ------------------------------------------------------------------ */
/* Logistic regression.                                                 */

/*
 * Parameters, in standardised feature space, are R rows of d+1 values,
 * [w_r0 .. w_r(d-1), b_r], where R = 1 for two classes (the probability of
 * class 1 is sigmoid(b + w.z)) and R = K for K > 2 (softmax over K
 * weight vectors), exactly scikit-learn's parametrisation.
 */
struct ml_logreg {
	size_t d;
	int nclasses;      /* K >= 2 */
	double C;          /* inverse L2 strength */
	double *mean, *std;   /* d each: the standardisation */
	double *coef;      /* R x d, row-major, standardised space */
	double *intercept; /* R */
	int n_iter, n_eval;   /* from the last fit */
	double loss;       /* its summed log-loss at the fitted parameters,
	                    * unpenalised (from the optimiser's last value) */
	int status;        /* enum ml_lbfgs_status of the last fit */
	/* Set after init/prepare (zero there: L2, every class weight 1). */
	int penalty;       /* enum ml_lr_penalty */
	double l1_ratio;   /* elastic net: the L1 share rho in [0, 1] */
	double *class_weight;  /* K weights on the loss of each class's
	                        * rows, or NULL for all 1 */
};

/*
 * Penalties on W (never the intercepts); the objective minimised is
 *   f = C * sum_i cw_{y_i} loss_i + P(W), with
 *   L2:          P = ||W||^2 / 2
 *   L1:          P = ||W||_1
 *   elastic net: P = rho ||W||_1 + (1 - rho) ||W||^2 / 2
 * as scikit-learn's LogisticRegression(penalty, C, l1_ratio, class_weight).
 * L2 is fitted by L-BFGS; L1 and elastic net, not differentiable at 0, by
 * FISTA (accelerated proximal gradient with backtracking and adaptive
 * restart, soft-thresholding the coefficients), stopped when the
 * gradient mapping's max-norm is below gtol or at max_iter; each of its
 * iterations costs one or two evaluations.
 */
enum ml_lr_penalty { ML_LR_L2 = 0, ML_LR_L1, ML_LR_ELASTICNET };

/* "l2", "l1" or "elasticnet" as enum ml_lr_penalty, or -1. */
int ml_lr_penalty_find(const char *name);
const char *ml_lr_penalty_name(int penalty);
/* Set the penalty of a prepared model (L1_RATIO used by elastic net). */
int ml_logreg_set_penalty(struct ml_logreg *m, int penalty, double l1_ratio,
                          char **err);
/* Set the class weights (K values > 0, copied; NULL: all 1). */
int ml_logreg_set_class_weight(struct ml_logreg *m, const double *w,
                               char **err);
/* scikit-learn's "balanced" weights from moments that count classes:
 * W[k] = n / (K n_k) (K values; every class must have rows). */
int ml_class_weight_balanced(const struct ml_moments *stats, double *w,
                             char **err);

/* Set up an unfitted model (zero coefficients). MEAN/STD are copied. */
int ml_logreg_init(struct ml_logreg *m, size_t d, int nclasses, double C,
                   const double *mean, const double *std, char **err);
/*
 * Set up an unfitted model from merged moments (which must count classes):
 * checks there are rows, that every class has rows and that there are at
 * least two; *WARN as for ml_moments_finish().
 */
int ml_logreg_prepare(struct ml_logreg *m, const struct ml_moments *stats,
                      double C, char **warn, char **err);
void ml_logreg_free(struct ml_logreg *m);

/* Number of parameters, R * (d + 1). */
size_t ml_logreg_nparam(const struct ml_logreg *m);

/*
 * THE PARTIAL: over one block of N rows (X: d columns, Y codes), the
 * unpenalised sum of log-losses *LOSS and its gradient GRAD (nparam
 * values, overwritten) at PARAMS (nparam values, layout above), with the
 * standardisation of M applied on the fly.  Allocates one small buffer;
 * reads X twice per 4096-row chunk.  Sums of partials over blocks are the
 * partial over the union; merge them by adding.
 */
int ml_logreg_partial(const struct ml_logreg *m, const double *params,
                      const double *const *X, size_t n, const int *y,
                      double *loss, double *grad, char **err);

/*
 * Driver side: turn summed partials into the objective that is minimised,
 * f = C * loss + 0.5 * ||W||^2 (intercepts not penalised), in place.
 */
void ml_logreg_penalise(const struct ml_logreg *m, const double *params,
                        double *f, double *grad);

/*
 * Callback for ml_logreg_fit(): the sum over all training blocks of
 * ml_logreg_partial() at PARAMS.  Returns 0 or a negative errno with *err.
 */
typedef int (*ml_logreg_eval_fn)(void *ud, const struct ml_logreg *m,
                                 const double *params, double *loss,
                                 double *grad, char **err);

/*
 * Fit a prepared model (ml_logreg_init/prepare) by L-BFGS over EVAL,
 * starting from its current coefficients.  OPTS NULL means
 * ml_lbfgs_defaults() (gtol 1e-8 on the gradient of C*sum(loss)+0.5|W|^2,
 * scipy's ftol).  Not converging within max_iter is not an error:
 * m->status says so, m->n_iter and m->n_eval count the work.
 */
int ml_logreg_fit(struct ml_logreg *m, ml_logreg_eval_fn eval, void *ud,
                  const struct ml_lbfgs_opts *opts, char **err);

/*
 * Convenience fit over NBLOCKS in-memory blocks: block b has NROWS[b] rows,
 * columns XB[b][0..d-1] and codes YB[b].  NCLASSES 0 means 1 + the largest
 * code.  Moments pass, prepare, fit.  *WARN as for ml_moments_finish().
 */
int ml_logreg_fit_blocks(struct ml_logreg *m, size_t d, int nclasses, double C,
                         const double *const *const *XB, const int *const *YB,
                         const size_t *nrows, size_t nblocks,
                         const struct ml_lbfgs_opts *opts, char **warn,
                         char **err);

/* What ml_logreg_fit_blocks_ex() fits beyond C. */
struct ml_logreg_spec {
	double C;
	int penalty;                 /* enum ml_lr_penalty */
	double l1_ratio;
	int balanced;                /* class weights n / (K n_k) */
	const double *class_weight;  /* else K weights, or NULL */
};

/* ml_logreg_fit_blocks() with a penalty and class weights. */
int ml_logreg_fit_blocks_ex(struct ml_logreg *m, size_t d, int nclasses,
                            const struct ml_logreg_spec *spec,
                            const double *const *const *XB,
                            const int *const *YB, const size_t *nrows,
                            size_t nblocks, const struct ml_lbfgs_opts *opts,
                            char **warn, char **err);

/* Class probabilities, PROBA[k * n + i] (K columns of n). */
int ml_logreg_predict_proba(const struct ml_logreg *m, const double *const *X,
                            size_t n, double *proba, char **err);

/* Coefficients on the original feature scale: COEF R x d, INTERCEPT R. */
void ml_logreg_coef_original(const struct ml_logreg *m, double *coef,
                             double *intercept);

int ml_logreg_to_json(const struct ml_logreg *m, json_t **out);
int ml_logreg_from_json(const json_t *j, struct ml_logreg *m, char **err);

/* ------------------------------------------------------------------ */
/* Linear and ridge regression from distributed normal equations.       */

/*
 * Partial: count, means of the d features and the target, and the
 * (d+1) x (d+1) co-moment matrix about those means (target last), merged
 * with the multivariate Chan formula; centring keeps X^T X well scaled.
 */
struct ml_linreg_partial {
	size_t d;
	double count;
	double *mean;      /* d + 1 */
	double *cm;        /* (d + 1)^2, symmetric, row-major */
};

struct ml_linreg {
	size_t d;
	double alpha;
	double *coef;      /* d */
	double intercept;
};

int ml_linreg_partial_init(struct ml_linreg_partial *p, size_t d, char **err);
void ml_linreg_partial_free(struct ml_linreg_partial *p);
/* Fold N rows: features X (d columns) and target T. */
int ml_linreg_partial_add(struct ml_linreg_partial *p, const double *const *X,
                          size_t n, const double *t, char **err);
int ml_linreg_merge(struct ml_linreg_partial *a,
                    const struct ml_linreg_partial *b, char **err);
/* Solve (Sxx + alpha I) w = Sxy by Cholesky; alpha 0 is least squares. */
int ml_linreg_finish(const struct ml_linreg_partial *p, double alpha,
                     struct ml_linreg *m, char **err);
void ml_linreg_free(struct ml_linreg *m);
int ml_linreg_predict(const struct ml_linreg *m, const double *const *X,
                      size_t n, double *out, char **err);
int ml_linreg_partial_to_json(const struct ml_linreg_partial *p, json_t **out);
int ml_linreg_partial_from_json(const json_t *j, struct ml_linreg_partial *p,
                                char **err);
int ml_linreg_to_json(const struct ml_linreg *m, json_t **out);
int ml_linreg_from_json(const json_t *j, struct ml_linreg *m, char **err);

/* ------------------------------------------------------------------ */
/* Gaussian naive Bayes.                                                */

/* Partial: per class count, mean and M2 of every feature. */
struct ml_nb_partial {
	size_t d;
	int nclasses;
	double *count;     /* K */
	double *mean;      /* K x d */
	double *m2;        /* K x d */
};

struct ml_nb {
	size_t d;
	int nclasses;
	double *prior;     /* K: class frequencies */
	double *theta;     /* K x d means */
	double *var;       /* K x d variances + epsilon */
	double epsilon;    /* 1e-9 * largest feature variance */
};

int ml_nb_partial_init(struct ml_nb_partial *p, size_t d, int nclasses, char **err);
void ml_nb_partial_free(struct ml_nb_partial *p);
int ml_nb_partial_add(struct ml_nb_partial *p, const double *const *X,
                      size_t n, const int *y, char **err);
int ml_nb_merge(struct ml_nb_partial *a, const struct ml_nb_partial *b, char **err);
/* VAR_SMOOTHING as scikit-learn's (1e-9 there); must be >= 0. */
int ml_nb_finish(const struct ml_nb_partial *p, double var_smoothing,
                 struct ml_nb *m, char **err);
void ml_nb_free(struct ml_nb *m);
int ml_nb_predict_proba(const struct ml_nb *m, const double *const *X,
                        size_t n, double *proba, char **err);
int ml_nb_partial_to_json(const struct ml_nb_partial *p, json_t **out);
int ml_nb_partial_from_json(const json_t *j, struct ml_nb_partial *p, char **err);
int ml_nb_to_json(const struct ml_nb *m, json_t **out);
int ml_nb_from_json(const json_t *j, struct ml_nb *m, char **err);

#endif
