/* SPDX-License-Identifier: MIT */
/*
 * ml_eval.c - splits, metrics and the paired t-test (see ml_eval.h).
 *
 * Where scikit-learn or scipy would warn and return NaN this file returns
 * -EDOM with a message instead, so that a NaN never reaches a report or a
 * model-selection decision unnoticed.
 */
#include "ml_eval.h"
#include "mlutil.h"
#include "ml_rng.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
ev_shuffle(size_t *v, size_t n, struct ml_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)ml_rng_below(r, i);
		size_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static int
ev_check_codes(const int *y, int K, size_t n, char **err)
{
	if (K < 1)
		return ml_seterr(err, -EINVAL, "nclasses must be at least 1");
	for (size_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= K)
			return ml_seterr(err, -EINVAL, "row %zu: class code %d is not "
			                 "in 0..%d", i, y[i], K - 1);
	return 0;
}

/* ------------------------------------------------------------------
 * Splits
 */

/* Rows of each class, in row order: rows[start[c] .. start[c+1]). */
static void
ev_by_class(const int *y, int K, size_t n, size_t *rows, size_t *start)
{
	memset(start, 0, ((size_t)K + 1) * sizeof *start);
	for (size_t i = 0; i < n; i++)
		start[y[i] + 1]++;
	for (int c = 0; c < K; c++)
		start[c + 1] += start[c];
	size_t *pos = ml_alloc((size_t)K, sizeof *pos);
	memcpy(pos, start, (size_t)K * sizeof *pos);
	for (size_t i = 0; i < n; i++)
		rows[pos[y[i]]++] = i;
	free(pos);
}

int
ml_split_train_test(const int *y, int nclasses, size_t n, double test_frac,
                    uint64_t seed, unsigned char *is_test, char **err)
{
	if (n < 2)
		return ml_seterr(err, -EINVAL, "%zu rows cannot be split", n);
	if (!(test_frac > 0 && test_frac < 1))
		return ml_seterr(err, -EINVAL, "test fraction %g is not in (0, 1)",
		                 test_frac);
	size_t ntest = (size_t)ceil(test_frac * (double)n);
	if (ntest >= n)
		return ml_seterr(err, -EINVAL, "test fraction %g leaves no training "
		                 "rows out of %zu", test_frac, n);
	int rc;
	if (y != NULL && (rc = ev_check_codes(y, nclasses, n, err)) < 0)
		return rc;
	struct ml_rng r;
	ml_rng_stream(&r, seed, 0);
	memset(is_test, 0, n);
	size_t *rows = ml_alloc(n, sizeof *rows);
	if (y == NULL) {
		for (size_t i = 0; i < n; i++)
			rows[i] = i;
		ev_shuffle(rows, n, &r);
		for (size_t i = 0; i < ntest; i++)
			is_test[rows[i]] = 1;
		free(rows);
		return 0;
	}
	size_t K = (size_t)nclasses;
	size_t *start = ml_alloc(K + 1, sizeof *start);
	size_t *take = ml_alloc(K, sizeof *take);
	double *rem = ml_alloc(K, sizeof *rem);
	ev_by_class(y, nclasses, n, rows, start);
	size_t got = 0;
	for (size_t c = 0; c < K; c++) {
		double want = test_frac * (double)(start[c + 1] - start[c]);
		take[c] = (size_t)floor(want);
		rem[c] = want - floor(want);
		got += take[c];
	}
	/* largest remainders first; each class at most once */
	while (got < ntest) {
		size_t best = K;
		for (size_t c = 0; c < K; c++)
			if (take[c] < start[c + 1] - start[c] &&
			    (best == K || rem[c] > rem[best]))
				best = c;
		if (best == K)
			break;
		take[best]++;
		rem[best] = -1;
		got++;
	}
	for (size_t c = 0; c < K; c++) {
		ev_shuffle(rows + start[c], start[c + 1] - start[c], &r);
		for (size_t i = 0; i < take[c]; i++)
			is_test[rows[start[c] + i]] = 1;
	}
	free(rows);
	free(start);
	free(take);
	free(rem);
	return 0;
}

int
ml_kfold(size_t n, int k, int shuffle, uint64_t seed, int *fold, char **err)
{
	if (k < 2 || (size_t)k > n)
		return ml_seterr(err, -EINVAL, "k = %d folds need 2 <= k <= %zu rows",
		                 k, n);
	size_t *rows = ml_alloc(n, sizeof *rows);
	for (size_t i = 0; i < n; i++)
		rows[i] = i;
	if (shuffle) {
		struct ml_rng r;
		ml_rng_stream(&r, seed, 0);
		ev_shuffle(rows, n, &r);
	}
	/* the first n % k folds get one row more, as sklearn's KFold */
	size_t K = (size_t)k, pos = 0;
	for (size_t f = 0; f < K; f++) {
		size_t size = n / K + (f < n % K);
		for (size_t i = 0; i < size; i++)
			fold[rows[pos++]] = (int)f;
	}
	free(rows);
	return 0;
}

int
ml_stratified_kfold(const int *y, int nclasses, size_t n, int k,
                    uint64_t seed, int *fold, char **err)
{
	if (k < 2 || (size_t)k > n)
		return ml_seterr(err, -EINVAL, "k = %d folds need 2 <= k <= %zu rows",
		                 k, n);
	int rc = ev_check_codes(y, nclasses, n, err);
	if (rc < 0)
		return rc;
	size_t K = (size_t)nclasses;
	size_t *rows = ml_alloc(n, sizeof *rows);
	size_t *start = ml_alloc(K + 1, sizeof *start);
	ev_by_class(y, nclasses, n, rows, start);
	struct ml_rng r;
	ml_rng_stream(&r, seed, 0);
	size_t f = 0;
	for (size_t c = 0; c < K; c++) {
		ev_shuffle(rows + start[c], start[c + 1] - start[c], &r);
		for (size_t i = start[c]; i < start[c + 1]; i++) {
			fold[rows[i]] = (int)f;
			f = (f + 1) % (size_t)k;
		}
	}
	free(rows);
	free(start);
	return 0;
}

int
ml_backtest_splits(size_t n, size_t initial, size_t horizon, size_t step,
                   size_t max_train, struct ml_backtest_split **out,
                   size_t *nsplits, char **err)
{
	*out = NULL;
	*nsplits = 0;
	if (initial == 0 || horizon == 0 || step == 0)
		return ml_seterr(err, -EINVAL, "initial, horizon and step must be "
		                 "at least 1");
	if (initial > n || horizon > n - initial)
		return ml_seterr(err, -EINVAL, "series of %zu values is shorter than "
		                 "the initial window (%zu) plus one horizon (%zu)",
		                 n, initial, horizon);
	size_t cnt = (n - initial - horizon) / step + 1;
	struct ml_backtest_split *s = ml_alloc(cnt, sizeof *s);
	for (size_t i = 0; i < cnt; i++) {
		size_t origin = initial + i * step;
		s[i].train_end = origin;
		s[i].train_start = max_train > 0 && origin > max_train ?
		                   origin - max_train : 0;
		s[i].test_end = origin + horizon;
	}
	*out = s;
	*nsplits = cnt;
	return 0;
}

/* ------------------------------------------------------------------
 * Classification
 */

static int
ev_check_prob(const double *prob, size_t n, int K, char **err)
{
	for (size_t i = 0; i < n * (size_t)K; i++)
		if (!(prob[i] >= 0 && prob[i] <= 1))
			return ml_seterr(err, -EINVAL, "row %zu: probability %g of class "
			                 "%zu is not in [0, 1]", i / (size_t)K, prob[i],
			                 i % (size_t)K);
	return 0;
}

/* Sort order for ROC: score descending. */
struct ev_scored {
	double s;
	int pos;
};

static int
ev_scored_cmp(const void *a, const void *b)
{
	const struct ev_scored *x = a, *y = b;
	return (x->s < y->s) - (x->s > y->s);
}

/*
 * ROC of S (length n, positives where POS): the cumulative (fps, tps)
 * after each distinct score, descending.  Returns the number of points.
 */
static size_t
ev_roc_counts(struct ev_scored *v, size_t n, double *fps, double *tps,
              double *thr)
{
	qsort(v, n, sizeof *v, ev_scored_cmp);
	double tp = 0, fp = 0;
	size_t np = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].pos)
			tp++;
		else
			fp++;
		if (i + 1 < n && v[i + 1].s == v[i].s)
			continue;
		fps[np] = fp;
		tps[np] = tp;
		if (thr != NULL)
			thr[np] = v[i].s;
		np++;
	}
	return np;
}

/* Binary AUC (trapezoids) of scores S for positives POS; -EDOM when one
 * side is empty. */
static int
ev_auc_binary(struct ev_scored *v, size_t n, double *auc, int cls, char **err)
{
	double *fps = ml_alloc(n, sizeof *fps), *tps = ml_alloc(n, sizeof *tps);
	size_t np = ev_roc_counts(v, n, fps, tps, NULL);
	double P = tps[np - 1], N = fps[np - 1];
	int rc = 0;
	if (P == 0 || N == 0) {
		rc = cls < 0 ?
		     ml_seterr(err, -EDOM, "ROC AUC is undefined: y has only one "
		               "class") :
		     ml_seterr(err, -EDOM, "ROC AUC is undefined: class %d is %s "
		               "in y", cls, P == 0 ? "absent" : "the only class");
	} else {
		double area = 0, pf = 0, pt = 0;
		for (size_t i = 0; i < np; i++) {
			area += (fps[i] - pf) * (tps[i] + pt) / 2;
			pf = fps[i];
			pt = tps[i];
		}
		*auc = area / (P * N);
	}
	free(fps);
	free(tps);
	return rc;
}

int
ml_roc_auc(const int *y, const double *prob, size_t n, int K, double *auc,
           char **err)
{
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no rows");
	if (K < 2)
		return ml_seterr(err, -EDOM, "ROC AUC needs at least 2 classes");
	int rc = ev_check_codes(y, K, n, err);
	if (rc < 0 || (rc = ev_check_prob(prob, n, K, err)) < 0)
		return rc;
	struct ev_scored *v = ml_alloc(n, sizeof *v);
	if (K == 2) {
		for (size_t i = 0; i < n; i++)
			v[i] = (struct ev_scored){ prob[i * 2 + 1], y[i] == 1 };
		rc = ev_auc_binary(v, n, auc, -1, err);
	} else {
		double s = 0;
		for (int c = 0; c < K && rc == 0; c++) {
			double a = 0;
			for (size_t i = 0; i < n; i++)
				v[i] = (struct ev_scored){ prob[i * (size_t)K + (size_t)c],
				                           y[i] == c };
			rc = ev_auc_binary(v, n, &a, c, err);
			s += a;
		}
		if (rc == 0)
			*auc = s / K;
	}
	free(v);
	return rc;
}

int
ml_roc_curve(const int *y, const double *score, size_t n, double **fpr,
             double **tpr, double **thr, size_t *npoints, char **err)
{
	*fpr = *tpr = *thr = NULL;
	*npoints = 0;
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no rows");
	for (size_t i = 0; i < n; i++)
		if (!isfinite(score[i]))
			return ml_seterr(err, -EINVAL, "row %zu: score is not finite", i);
	struct ev_scored *v = ml_alloc(n, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct ev_scored){ score[i], y[i] != 0 };
	double *f = ml_alloc(n + 1, sizeof *f), *t = ml_alloc(n + 1, sizeof *t);
	double *th = ml_alloc(n + 1, sizeof *th);
	size_t np = ev_roc_counts(v, n, f + 1, t + 1, th + 1);
	free(v);
	double P = t[np], N = f[np];
	if (P == 0 || N == 0) {
		free(f);
		free(t);
		free(th);
		return ml_seterr(err, -EDOM, "ROC curve is undefined: y has only %s",
		                 P == 0 ? "negatives" : "positives");
	}
	f[0] = t[0] = 0;
	th[0] = th[1] + 1;
	for (size_t i = 1; i <= np; i++) {
		f[i] /= N;
		t[i] /= P;
	}
	*fpr = f;
	*tpr = t;
	*thr = th;
	*npoints = np + 1;
	return 0;
}

void
ml_class_metrics_free(struct ml_class_metrics *m)
{
	if (m == NULL)
		return;
	free(m->precision);
	free(m->recall);
	free(m->f1);
	free(m->confusion);
	free(m->support);
	memset(m, 0, sizeof *m);
}

int
ml_class_metrics_counts(const size_t *confusion, int K, double loss_sum,
                        struct ml_class_metrics *out, char **err)
{
	memset(out, 0, sizeof *out);
	size_t k = (size_t)K, n = 0, correct = 0;
	for (size_t i = 0; i < k * k; i++)
		n += confusion[i];
	if (n == 0 || K < 1)
		return ml_seterr(err, -EINVAL, "no rows");
	out->nclasses = K;
	out->precision = ml_alloc(k, sizeof(double));
	out->recall = ml_alloc(k, sizeof(double));
	out->f1 = ml_alloc(k, sizeof(double));
	out->confusion = ml_alloc(k * k, sizeof(size_t));
	out->support = ml_alloc(k, sizeof(size_t));
	size_t *predicted = ml_alloc(k, sizeof *predicted);
	memcpy(out->confusion, confusion, k * k * sizeof *confusion);
	for (size_t r = 0; r < k; r++)
		for (size_t c = 0; c < k; c++) {
			out->support[r] += confusion[r * k + c];
			predicted[c] += confusion[r * k + c];
			correct += r == c ? confusion[r * k + c] : 0;
		}
	out->log_loss = loss_sum / (double)n;
	out->accuracy = (double)correct / (double)n;
	double bal = 0;
	int present = 0;
	for (size_t c = 0; c < k; c++) {
		double tp = (double)out->confusion[c * k + c];
		double pr = predicted[c] ? tp / (double)predicted[c] : 0;
		double re = out->support[c] ? tp / (double)out->support[c] : 0;
		out->precision[c] = pr;
		out->recall[c] = re;
		out->f1[c] = pr + re > 0 ? 2 * pr * re / (pr + re) : 0;
		out->macro_precision += pr / K;
		out->macro_recall += re / K;
		out->macro_f1 += out->f1[c] / K;
		if (out->support[c]) {
			bal += re;
			present++;
		}
	}
	out->balanced_accuracy = bal / present;
	free(predicted);
	return 0;
}

double
ml_class_row(const double *p, int K, int y, int *best)
{
	const double eps = DBL_EPSILON;
	double sum = 0;
	*best = 0;
	for (int c = 0; c < K; c++) {
		if (p[c] > p[*best])
			*best = c;
		sum += fmin(fmax(p[c], eps), 1 - eps);
	}
	return -log(fmin(fmax(p[y], eps), 1 - eps) / sum);
}

int
ml_class_metrics(const int *y, const double *prob, size_t n, int K,
                 struct ml_class_metrics *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no rows");
	int rc = ev_check_codes(y, K, n, err);
	if (rc < 0 || (rc = ev_check_prob(prob, n, K, err)) < 0)
		return rc;
	size_t k = (size_t)K;
	size_t *confusion = ml_alloc(k * k, sizeof *confusion);
	double loss = 0;
	for (size_t i = 0; i < n; i++) {
		int best;
		loss += ml_class_row(prob + i * k, K, y[i], &best);
		confusion[(size_t)y[i] * k + (size_t)best]++;
	}
	rc = ml_class_metrics_counts(confusion, K, loss, out, err);
	free(confusion);
	if (rc < 0)
		return rc;

	char *aerr = NULL;
	out->has_roc_auc = ml_roc_auc(y, prob, n, K, &out->roc_auc, &aerr) == 0;
	if (!out->has_roc_auc)
		out->roc_auc = 0;
	free(aerr);
	return 0;
}

/* ------------------------------------------------------------------
 * Regression and forecasts
 */

static int
ev_check_pair(const double *y, const double *yhat, size_t n, char **err)
{
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no values");
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]) || !isfinite(yhat[i]))
			return ml_seterr(err, -EINVAL, "row %zu: %s is not a finite "
			                 "number", i, isfinite(y[i]) ? "prediction" :
			                 "actual");
	return 0;
}

int
ml_mae(const double *y, const double *yhat, size_t n, double *out, char **err)
{
	int rc = ev_check_pair(y, yhat, n, err);
	if (rc < 0)
		return rc;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += fabs(y[i] - yhat[i]);
	*out = s / (double)n;
	return 0;
}

int
ml_rmse(const double *y, const double *yhat, size_t n, double *out, char **err)
{
	int rc = ev_check_pair(y, yhat, n, err);
	if (rc < 0)
		return rc;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (y[i] - yhat[i]) * (y[i] - yhat[i]);
	*out = sqrt(s / (double)n);
	return 0;
}

int
ml_mape(const double *y, const double *yhat, size_t n, double *out, char **err)
{
	int rc = ev_check_pair(y, yhat, n, err);
	if (rc < 0)
		return rc;
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		if (y[i] == 0)
			return ml_seterr(err, -EDOM, "MAPE is undefined: the actual of "
			                 "row %zu is 0", i);
		s += fabs(y[i] - yhat[i]) / fabs(y[i]);
	}
	*out = s / (double)n;
	return 0;
}

int
ml_smape(const double *y, const double *yhat, size_t n, double *out, char **err)
{
	int rc = ev_check_pair(y, yhat, n, err);
	if (rc < 0)
		return rc;
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double den = fabs(y[i]) + fabs(yhat[i]);
		if (den > 0)
			s += 2 * fabs(y[i] - yhat[i]) / den;
	}
	*out = s / (double)n;
	return 0;
}

int
ml_mase(const double *train, size_t ntrain, int m, const double *y,
        const double *yhat, size_t n, double *out, char **err)
{
	if (m < 1)
		return ml_seterr(err, -EINVAL, "season length %d must be >= 1", m);
	if (ntrain <= (size_t)m)
		return ml_seterr(err, -EDOM, "training series of %zu values is too "
		                 "short for a seasonal naive scale with period %d",
		                 ntrain, m);
	for (size_t i = 0; i < ntrain; i++)
		if (!isfinite(train[i]))
			return ml_seterr(err, -EINVAL, "training value %zu is not a "
			                 "finite number", i);
	double mae;
	int rc = ml_mae(y, yhat, n, &mae, err);
	if (rc < 0)
		return rc;
	double s = 0;
	for (size_t t = (size_t)m; t < ntrain; t++)
		s += fabs(train[t] - train[t - (size_t)m]);
	double scale = s / (double)(ntrain - (size_t)m);
	if (!(scale > 0))
		return ml_seterr(err, -EDOM, "MASE is undefined: the training series "
		                 "repeats exactly with period %d (scale 0)", m);
	*out = mae / scale;
	return 0;
}

int
ml_r2(const double *y, const double *yhat, size_t n, double *out, char **err)
{
	int rc = ev_check_pair(y, yhat, n, err);
	if (rc < 0)
		return rc;
	double mean = 0, ss_res = 0, ss_tot = 0;
	for (size_t i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++) {
		ss_res += (y[i] - yhat[i]) * (y[i] - yhat[i]);
		ss_tot += (y[i] - mean) * (y[i] - mean);
	}
	if (!(ss_tot > 0))
		return ml_seterr(err, -EDOM, "R^2 is undefined: the actual values "
		                 "are constant");
	*out = 1 - ss_res / ss_tot;
	return 0;
}

/* ------------------------------------------------------------------
 * Fold scores and the t-test
 */

int
ml_mean_sd(const double *x, size_t n, double *mean, double *sd, char **err)
{
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no scores");
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return ml_seterr(err, -EINVAL, "score %zu is not finite", i);
		s += x[i];
	}
	double m = s / (double)n, ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	*mean = m;
	*sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	return 0;
}

/* Continued fraction for I_x(a, b) (modified Lentz), valid for
 * x < (a + 1) / (a + b + 2). */
static double
ev_betacf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double qab = a + b, qap = a + 1, qam = a - 1;
	double c = 1, d = 1 - qab * x / qap;
	if (fabs(d) < tiny)
		d = tiny;
	d = 1 / d;
	double h = d;
	for (int m = 1; m <= 1000; m++) {
		double m2 = 2.0 * m;
		double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-16)
			break;
	}
	return h;
}

double
ml_betainc(double a, double b, double x)
{
	if (!(x > 0))
		return 0;
	if (!(x < 1))
		return 1;
	int sg;
	/* lgamma_r: lgamma's sign goes to a global */
	double lbt = lgamma_r(a + b, &sg) - lgamma_r(a, &sg) - lgamma_r(b, &sg) +
	             a * log(x) + b * log1p(-x);
	double bt = exp(lbt);
	if (x < (a + 1) / (a + b + 2))
		return bt * ev_betacf(a, b, x) / a;
	return 1 - bt * ev_betacf(b, a, 1 - x) / b;
}

double
ml_t_cdf(double t, double df)
{
	if (isinf(t))
		return t > 0 ? 1 : 0;
	double tail = 0.5 * ml_betainc(df / 2, 0.5, df / (df + t * t));
	return t > 0 ? 1 - tail : tail;
}

static int
ev_ttest(const double *a, const double *b, size_t n, double ratio,
         double *t, double *df, double *p, char **err)
{
	if (n < 2)
		return ml_seterr(err, -EINVAL, "a paired t-test needs at least 2 "
		                 "pairs, not %zu", n);
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(a[i]) || !isfinite(b[i]))
			return ml_seterr(err, -EINVAL, "pair %zu is not finite", i);
		s += a[i] - b[i];
	}
	double m = s / (double)n, ss = 0;
	for (size_t i = 0; i < n; i++) {
		double e = a[i] - b[i] - m;
		ss += e * e;
	}
	double sd = sqrt(ss / (double)(n - 1));
	*df = (double)(n - 1);
	if (sd == 0) {
		if (m == 0) {
			*t = 0;
			*p = 1;
		} else {
			*t = m > 0 ? INFINITY : -INFINITY;
			*p = 0;
		}
		return 0;
	}
	/* ratio 0: the plain paired test, computed as it always was */
	*t = ratio == 0 ? m / (sd / sqrt((double)n)) :
	     m / (sd * sqrt(1 / (double)n + ratio));
	/* two-sided: P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
	*p = ml_betainc(*df / 2, 0.5, *df / (*df + *t * *t));
	return 0;
}

int
ml_ttest_rel(const double *a, const double *b, size_t n, double *t,
             double *df, double *p, char **err)
{
	return ev_ttest(a, b, n, 0, t, df, p, err);
}

int
ml_ttest_corrected(const double *a, const double *b, size_t n, double ratio,
                   double *t, double *df, double *p, char **err)
{
	if (!(ratio >= 0) || !isfinite(ratio))
		return ml_seterr(err, -EINVAL, "corrected t-test: n_test/n_train "
		                 "= %g", ratio);
	return ev_ttest(a, b, n, ratio, t, df, p, err);
}
