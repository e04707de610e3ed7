/* SPDX-License-Identifier: MIT */
/*
 * ml_eval.h - model evaluation for the analytics library: data splits
 * (train/test, k-fold, stratified k-fold, rolling-origin backtests),
 * classification and regression/forecast metrics, and the paired t-test
 * used to compare two models' per-fold scores.
 *
 * Splits are described per row (a fold number or a test flag) so that a
 * driver can filter partitions in place; they are deterministic given the
 * seed (ml_rng.h stream (seed, 0) for the shuffle).
 *
 * Metrics follow scikit-learn / scipy definitions (the unit tests compare
 * with numbers they computed); where those would return NaN or warn, these
 * return an error instead, as listed with each function:
 *   - -EINVAL: bad arguments (0 rows, a class code out of range, a NaN or
 *     infinite value, a probability outside [0, 1]);
 *   - -EDOM: the metric is undefined for these data (ROC AUC with a single
 *     class, MAPE with an actual of 0, MASE with a constant or too short
 *     training series, R^2 of a constant target).
 *
 * Thread-safety: no global state.
 */
#ifndef KILN_ML_EVAL_H
#define KILN_ML_EVAL_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------ splits ------------------------------ */

/*
 * Train/test split: IS_TEST[i] = 1 for the ceil(test_frac * n) test rows.
 * With Y (codes 0..nclasses-1) the split is stratified: each class gives
 * floor(test_frac * n_c) rows, and the remaining test rows go to the
 * classes with the largest remainders (lowest code on ties).  Y NULL =
 * plain shuffled split.  test_frac must leave at least one row on each
 * side.
 */
int ml_split_train_test(const int *y, int nclasses, size_t n, double test_frac,
                        uint64_t seed, unsigned char *is_test, char **err);

/* K-fold: FOLD[i] in 0..k-1, fold sizes within 1 of each other; rows are
 * shuffled first when SHUFFLE (else folds are consecutive, as sklearn's
 * KFold()).  2 <= k <= n. */
int ml_kfold(size_t n, int k, int shuffle, uint64_t seed, int *fold,
             char **err);

/*
 * Stratified k-fold: each class's rows are shuffled and dealt to the folds
 * in turn, continuing where the previous class stopped, so every fold has
 * each class's count within 1 of the other folds (and fold sizes within 1).
 * A class with fewer than k rows is missing from some folds (scikit-learn
 * warns; the caller may check).  Not fold-for-fold equal to scikit-learn's
 * StratifiedKFold.  2 <= k <= n.
 */
int ml_stratified_kfold(const int *y, int nclasses, size_t n, int k,
                        uint64_t seed, int *fold, char **err);

/* Rolling-origin backtest split: train rows [train_start, train_end),
 * test rows [train_end, test_end). */
struct ml_backtest_split {
	size_t train_start, train_end, test_end;
};

/*
 * Origins initial, initial+step, ... while a whole horizon fits in the n
 * values.  MAX_TRAIN 0 = expanding window, else the training window is
 * the last max_train values.  *OUT (malloc()ed, caller frees) gets
 * *NSPLITS >= 1 splits; -EINVAL if initial + horizon > n or any of
 * initial, horizon, step is 0.
 */
int ml_backtest_splits(size_t n, size_t initial, size_t horizon, size_t step,
                       size_t max_train, struct ml_backtest_split **out,
                       size_t *nsplits, char **err);

/* ------------------------ classification --------------------------- */

/*
 * All classification metrics from true codes Y (0..K-1) and predicted
 * probabilities PROB (n rows of K, row-major); the predicted class is the
 * most probable (lowest code on ties).
 *   precision/recall/f1: per class over all K classes, 0 when undefined
 *     (no predictions / no true rows), as sklearn's zero_division=0 with
 *     labels=range(K); macro_* average them over the K classes.
 *   balanced_accuracy: mean recall over the classes present in Y.
 *   log_loss: probabilities clipped to [eps, 1-eps] (eps = DBL_EPSILON)
 *     and each row renormalised, as sklearn 1.2.
 *   roc_auc: binary AUC of prob[:,1] (K = 2) or the macro one-vs-rest
 *     mean (K > 2); has_roc_auc = 0 and roc_auc = 0 when a class of the K
 *     is absent from Y (undefined; ml_roc_auc() says why).
 *   confusion: K x K counts, row = true class, column = predicted.
 */
struct ml_class_metrics {
	int nclasses;
	double accuracy, balanced_accuracy;
	double *precision, *recall, *f1;   /* K each */
	double macro_precision, macro_recall, macro_f1;
	double log_loss;
	int has_roc_auc;
	double roc_auc;
	size_t *confusion;                 /* K x K */
	size_t *support;                   /* K true counts */
};

int ml_class_metrics(const int *y, const double *prob, size_t n, int K,
                     struct ml_class_metrics *out, char **err);
void ml_class_metrics_free(struct ml_class_metrics *m);
/* The same metrics but ROC AUC (has_roc_auc 0) from sufficient
 * statistics, which partitions can sum: the K x K CONFUSION counts (true
 * row, predicted column) and LOSS_SUM, the sum of ml_class_row()'s log
 * losses.  0, or -EINVAL (no rows) with *err. */
int ml_class_metrics_counts(const size_t *confusion, int K, double loss_sum,
                            struct ml_class_metrics *out, char **err);
/* One row's share: its log loss (probabilities P of K classes, clipped
 * and renormalised as ml_class_metrics does, true class Y) and *BEST,
 * the most probable class (the lowest on ties). */
double ml_class_row(const double *p, int K, int y, int *best);

/* ROC AUC alone (as in ml_class_metrics); -EDOM with a message when a
 * class is absent from Y. */
int ml_roc_auc(const int *y, const double *prob, size_t n, int K,
               double *auc, char **err);

/*
 * Binary ROC curve of SCORE for the positive rows (Y != 0), as sklearn's
 * roc_curve(drop_intermediate=False) in scikit-learn 1.2: one point per
 * distinct score, decreasing, after a first point (0, 0) whose threshold
 * is max score + 1.  *FPR, *TPR, *THR are malloc()ed (caller frees).
 * -EDOM without both positive and negative rows.
 */
int ml_roc_curve(const int *y, const double *score, size_t n, double **fpr,
                 double **tpr, double **thr, size_t *npoints, char **err);

/* -------------------- regression and forecasts --------------------- */

int ml_mae(const double *y, const double *yhat, size_t n, double *out,
           char **err);
int ml_rmse(const double *y, const double *yhat, size_t n, double *out,
            char **err);
/* Mean |y - yhat| / |y| as a fraction (sklearn's convention, not percent);
 * -EDOM when an actual is 0 (sklearn would divide by DBL_EPSILON). */
int ml_mape(const double *y, const double *yhat, size_t n, double *out,
            char **err);
/* Mean 2|y - yhat| / (|y| + |yhat|), a fraction in [0, 2]; a term whose
 * actual and forecast are both 0 counts as 0. */
int ml_smape(const double *y, const double *yhat, size_t n, double *out,
             char **err);
/* MAE over the test values divided by the in-sample MAE of the seasonal
 * naive forecast (y[t] predicted by y[t-m]) on the NTRAIN training values.
 * -EDOM when ntrain <= m ("series of 7 values is shorter than ...") or the
 * scale is 0 (a series that repeats exactly with period m). */
int ml_mase(const double *train, size_t ntrain, int m, const double *y,
            const double *yhat, size_t n, double *out, char **err);
/* Coefficient of determination; -EDOM for a constant Y. */
int ml_r2(const double *y, const double *yhat, size_t n, double *out,
          char **err);

/* --------------------------- fold scores --------------------------- */

/* Mean and sample standard deviation (n - 1); for one score sd is 0. */
int ml_mean_sd(const double *x, size_t n, double *mean, double *sd,
               char **err);

/*
 * Paired two-sided t-test of A against B (scipy.stats.ttest_rel):
 * t = mean(a-b) / (sd(a-b)/sqrt(n)), df = n-1, p from Student's t.
 * Identical scores (all differences 0) give t = 0, p = 1 (scipy: NaN);
 * constant non-zero differences give t = +-infinity, p = 0 (as scipy).
 * n >= 2.
 */
int ml_ttest_rel(const double *a, const double *b, size_t n, double *t,
                 double *df, double *p, char **err);

/*
 * Nadeau and Bengio's (2003) corrected resampled t-test of A against B,
 * N scores from repeated k-fold cross-validation (R repetitions of k
 * folds, N = R*k) on shared folds: with d = a - b, mean m and sample
 * variance s^2 (n - 1),
 *     t = m / sqrt((1/N + RATIO) * s^2),   df = N - 1,
 * two-sided p from Student's t.  RATIO is n_test/n_train (1/(k-1) for
 * k-fold); the term corrects the variance for the overlap of training
 * sets, which the plain paired test ignores.  Zero and constant
 * differences as ml_ttest_rel().  n >= 2, RATIO >= 0.
 */
int ml_ttest_corrected(const double *a, const double *b, size_t n,
                       double ratio, double *t, double *df, double *p,
                       char **err);

/* Regularised incomplete beta I_x(a, b) and Student's t CDF (df > 0). */
double ml_betainc(double a, double b, double x);
double ml_t_cdf(double t, double df);

#endif
