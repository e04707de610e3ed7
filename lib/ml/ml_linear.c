/* SPDX-License-Identifier: MIT */
/*
 * ml_linear.c - standardisation statistics, logistic regression, linear/ridge
 * regression and Gaussian naive Bayes (see ml_linear.h for the contracts).
 *
 * All block statistics are computed two-pass within the block (mean, then
 * squared deviations from it), which is both more accurate than running
 * sums of squares and vectorisable, and then folded into the accumulator
 * with Chan et al.'s pairwise update.  Non-finite input is not tested row
 * by row in the hot loops: a NaN or infinity always reaches a column sum
 * (or the log-loss), and only then is the block scanned to name the row.
 */
#include "ml_linear.h"
#include "mlutil.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows per chunk in the logistic passes: the chunk's z values (R x 4096
 * doubles) and the current column's slice stay in L1/L2 between the
 * forward pass and the gradient pass. */
#define LR_CHUNK 4096

static void *
ln_calloc(size_t n, size_t size)
{
	/* The library has no xcalloc (no kiln headers); every caller checks. */
	return calloc(n ? n : 1, size);
}

/* Name the first non-finite value of a block, column by column. */
static int
ln_nonfinite(const double *const *X, size_t n, size_t d, const double *t,
             char **err)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < d; j++)
			if (!isfinite(X[j][i]))
				return ml_seterr(err, -EINVAL, "row %zu: %s in column %zu",
				                 i, isnan(X[j][i]) ? "NaN" : "infinite value", j);
		if (t != NULL && !isfinite(t[i]))
			return ml_seterr(err, -EINVAL, "row %zu: %s in the target",
			                 i, isnan(t[i]) ? "NaN" : "infinite value");
	}
	return ml_seterr(err, -EINVAL, "values too large: a column sum overflows");
}

static int
ln_badclass(const int *y, size_t n, int K, char **err)
{
	for (size_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= K)
			return ml_seterr(err, -EINVAL, "row %zu: class code %d is not in 0..%d",
			                 i, y[i], K - 1);
	return 0;
}

/* Sum with four accumulators: breaks the add latency chain (gcc will not
 * reorder a floating-point reduction by itself at -O2). */
static double
ln_sum(const double *x, size_t n)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += x[i];
		s1 += x[i + 1];
		s2 += x[i + 2];
		s3 += x[i + 3];
	}
	for (; i < n; i++)
		s0 += x[i];
	return (s0 + s1) + (s2 + s3);
}

/* sum (x - mx)(y - my) */
static double
ln_codev(const double *x, double mx, const double *y, double my, size_t n)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += (x[i] - mx) * (y[i] - my);
		s1 += (x[i + 1] - mx) * (y[i + 1] - my);
		s2 += (x[i + 2] - mx) * (y[i + 2] - my);
		s3 += (x[i + 3] - mx) * (y[i + 3] - my);
	}
	for (; i < n; i++)
		s0 += (x[i] - mx) * (y[i] - my);
	return (s0 + s1) + (s2 + s3);
}

/* sklearn's test for a column indistinguishable from a constant. */
static int
ln_is_constant(double var, double mean, double n)
{
	double eps = DBL_EPSILON;
	return var <= n * eps * var + (n * mean * eps) * (n * mean * eps);
}

/* ---- JSON helpers ---- */

static json_t *
ln_jmat(const double *v, size_t rows, size_t cols)
{
	json_t *a = json_array();
	for (size_t r = 0; a != NULL && r < rows; r++) {
		json_t *x = ml_json_reals(v + r * cols, cols);
		if (x == NULL || json_array_append_new(a, x) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Set KEY of O to V (stolen); remembers failure in *BAD. */
static void
ln_jset(json_t *o, const char *key, json_t *v, int *bad)
{
	if (v == NULL || json_object_set_new(o, key, v) != 0)
		*bad = 1;
}

/* A model object as every *_to_json() starts it: {"type":TYPE,"d":D}, to
 * which ln_jset() adds the rest; NULL when out of memory. */
static json_t *
ln_jnew(const char *type, size_t d, int *bad)
{
	json_t *o = json_object();
	if (o != NULL) {
		ln_jset(o, "type", json_string(type), bad);
		ln_jset(o, "d", json_integer((json_int_t)d), bad);
	}
	return o;
}

/* How every *_to_json() ends: *OUT = O (0), or O released and -ENOMEM
 * (no object) or -EINVAL (a member could not be set: BAD). */
static int
ln_jdone(json_t *o, int bad, json_t **out)
{
	if (o == NULL)
		return -ENOMEM;
	if (bad) {
		json_decref(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}

static int
ln_jsize(const json_t *j, const char *key, size_t *out, char **err)
{
	json_t *v = json_object_get(j, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ml_seterr(err, -EINVAL, "model JSON: '%s' missing or not a count", key);
	*out = (size_t)json_integer_value(v);
	return 0;
}

static int
ln_jmat_get(const json_t *j, const char *key, double *out, size_t rows,
            size_t cols, char **err)
{
	json_t *a = json_object_get(j, key);
	if (!json_is_array(a) || json_array_size(a) != rows)
		return ml_seterr(err, -EINVAL, "model JSON: '%s' is not an array of %zu rows",
		                 key, rows);
	for (size_t r = 0; r < rows; r++) {
		int rc = ml_json_reals_get(json_array_get(a, r), key, out + r * cols, cols, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* How every *_from_json() starts: J is a TYPE object; its "d" into *D and,
 * if K is not NULL, its "classes" into *K. */
static int
ln_jhead(const json_t *j, const char *type, size_t *d, size_t *K, char **err)
{
	json_t *t = json_object_get(j, "type");
	if (!json_is_object(j) || !json_is_string(t) || strcmp(json_string_value(t), type) != 0)
		return ml_seterr(err, -EINVAL, "model JSON: not a '%s' object", type);
	int rc = ln_jsize(j, "d", d, err);
	if (rc == 0 && K != NULL)
		rc = ln_jsize(j, "classes", K, err);
	return rc;
}

/* Sizes read from JSON bound every allocation; refuse absurd ones. */
#define LN_MAX_DIM 1000000

/* ================================================================== */
/* Standardisation statistics                                          */

int
ml_moments_init(struct ml_moments *m, size_t d, int nclasses, char **err)
{
	memset(m, 0, sizeof *m);
	if (d == 0 || d > LN_MAX_DIM || nclasses < 0 || nclasses > LN_MAX_DIM)
		return ml_seterr(err, -EINVAL, "moments: bad dimensions (d=%zu, classes=%d)",
		                 d, nclasses);
	m->d = d;
	m->nclasses = nclasses;
	m->mean = ln_calloc(d, sizeof(double));
	m->m2 = ln_calloc(d, sizeof(double));
	m->class_count = nclasses ? ln_calloc((size_t)nclasses, sizeof(double)) : NULL;
	if (m->mean == NULL || m->m2 == NULL || (nclasses && m->class_count == NULL)) {
		ml_moments_free(m);
		return ml_seterr(err, -ENOMEM, "moments: out of memory");
	}
	return 0;
}

void
ml_moments_free(struct ml_moments *m)
{
	free(m->mean);
	free(m->m2);
	free(m->class_count);
	memset(m, 0, sizeof *m);
}

/* Fold (nb, mb[], qb[]) into (count, mean[], m2[]): Chan et al. */
static void
ln_chan(double *count, double *mean, double *m2, double nb, const double *mb,
        const double *qb, size_t d)
{
	double na = *count, n = na + nb;
	if (nb == 0)
		return;
	for (size_t j = 0; j < d; j++) {
		if (na == 0) {
			mean[j] = mb[j];
			m2[j] = qb[j];
			continue;
		}
		double delta = mb[j] - mean[j];
		mean[j] += delta * (nb / n);
		m2[j] += qb[j] + delta * delta * (na * nb / n);
	}
	*count = n;
}

int
ml_moments_partial(struct ml_moments *m, const double *const *X, size_t n,
                   const int *y, char **err)
{
	if (n == 0)
		return 0;
	if (m->nclasses > 0 && y == NULL)
		return ml_seterr(err, -EINVAL, "moments: class codes missing");
	if (m->nclasses > 0) {
		int rc = ln_badclass(y, n, m->nclasses, err);
		if (rc < 0)
			return rc;
	}
	size_t d = m->d;
	double *mb = ln_calloc(2 * d, sizeof(double)), *qb = mb + d;
	if (mb == NULL)
		return ml_seterr(err, -ENOMEM, "moments: out of memory");
	for (size_t j = 0; j < d; j++) {
		double s = ln_sum(X[j], n);
		if (!isfinite(s)) {
			free(mb);
			return ln_nonfinite(X, n, d, NULL, err);
		}
		mb[j] = s / (double)n;
		qb[j] = ln_codev(X[j], mb[j], X[j], mb[j], n);
	}
	ln_chan(&m->count, m->mean, m->m2, (double)n, mb, qb, d);
	if (m->nclasses > 0)
		for (size_t i = 0; i < n; i++)
			m->class_count[y[i]] += 1;
	free(mb);
	return 0;
}

int
ml_moments_merge(struct ml_moments *a, const struct ml_moments *b, char **err)
{
	if (a->d != b->d || a->nclasses != b->nclasses)
		return ml_seterr(err, -EINVAL, "moments: merging different shapes");
	ln_chan(&a->count, a->mean, a->m2, b->count, b->mean, b->m2, a->d);
	for (int k = 0; k < a->nclasses; k++)
		a->class_count[k] += b->class_count[k];
	return 0;
}

int
ml_moments_finish(const struct ml_moments *m, double *mean, double *std,
                  char **warn, char **err)
{
	if (warn != NULL)
		*warn = NULL;
	if (m->count <= 0)
		return ml_seterr(err, -EINVAL, "no training rows");
	char *list = NULL;
	size_t len = 0, nconst = 0;
	FILE *f = warn != NULL ? open_memstream(&list, &len) : NULL;
	for (size_t j = 0; j < m->d; j++) {
		double var = m->m2[j] / m->count;
		mean[j] = m->mean[j];
		if (ln_is_constant(var, m->mean[j], m->count)) {
			std[j] = 1;
			if (f != NULL)
				fprintf(f, "%s%zu", nconst ? ", " : "", j);
			nconst++;
		} else {
			std[j] = sqrt(var);
		}
	}
	if (f != NULL) {
		fclose(f);
		if (nconst > 0 && asprintf(warn, "constant column%s %s: scaled by 1, "
		                           "so they do not influence the model",
		                           nconst > 1 ? "s" : "", list) < 0)
			*warn = NULL;
		free(list);
	}
	return 0;
}

int
ml_moments_to_json(const struct ml_moments *m, json_t **out)
{
	int bad = 0;
	json_t *o = ln_jnew("moments", m->d, &bad);
	ln_jset(o, "count", json_real(m->count), &bad);
	ln_jset(o, "mean", ml_json_reals(m->mean, m->d), &bad);
	ln_jset(o, "m2", ml_json_reals(m->m2, m->d), &bad);
	if (m->nclasses > 0)
		ln_jset(o, "class_count", ml_json_reals(m->class_count, (size_t)m->nclasses), &bad);
	return ln_jdone(o, bad, out);
}

int
ml_moments_from_json(const json_t *j, struct ml_moments *m, char **err)
{
	size_t d = 0;
	json_t *cc = json_object_get(j, "class_count");
	int rc = ln_jhead(j, "moments", &d, NULL, err);
	if (rc == 0)
		rc = ml_moments_init(m, d, json_is_array(cc) ? (int)json_array_size(cc) : 0, err);
	if (rc < 0)
		return rc;
	if ((rc = ml_json_get_num(j, "count", &m->count, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "mean", m->mean, d, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "m2", m->m2, d, err)) < 0 ||
	    (m->nclasses > 0 && (rc = ml_json_get_reals(j, "class_count", m->class_count,
	                                          (size_t)m->nclasses, err)) < 0))
		ml_moments_free(m);
	return rc;
}

/* ================================================================== */
/* Logistic regression                                                 */

static size_t
lr_rows(const struct ml_logreg *m)
{
	return m->nclasses == 2 ? 1 : (size_t)m->nclasses;
}

size_t
ml_logreg_nparam(const struct ml_logreg *m)
{
	return lr_rows(m) * (m->d + 1);
}

int
ml_logreg_init(struct ml_logreg *m, size_t d, int nclasses, double C,
               const double *mean, const double *std, char **err)
{
	memset(m, 0, sizeof *m);
	if (d == 0 || d > LN_MAX_DIM || nclasses < 2 || nclasses > 100000)
		return ml_seterr(err, -EINVAL, "logreg: need d >= 1 and at least two classes "
		                 "(d=%zu, classes=%d)", d, nclasses);
	if (!(C > 0) || !isfinite(C))
		return ml_seterr(err, -EINVAL, "logreg: C must be positive and finite");
	for (size_t j = 0; j < d; j++)
		if (!isfinite(mean[j]) || !(std[j] > 0) || !isfinite(std[j]))
			return ml_seterr(err, -EINVAL, "logreg: bad standardisation for column %zu", j);
	m->d = d;
	m->nclasses = nclasses;
	m->C = C;
	size_t R = lr_rows(m);
	m->mean = ln_calloc(d, sizeof(double));
	m->std = ln_calloc(d, sizeof(double));
	m->coef = ln_calloc(R * d, sizeof(double));
	m->intercept = ln_calloc(R, sizeof(double));
	if (m->mean == NULL || m->std == NULL || m->coef == NULL || m->intercept == NULL) {
		ml_logreg_free(m);
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	}
	memcpy(m->mean, mean, d * sizeof(double));
	memcpy(m->std, std, d * sizeof(double));
	return 0;
}

int
ml_logreg_prepare(struct ml_logreg *m, const struct ml_moments *stats,
                  double C, char **warn, char **err)
{
	memset(m, 0, sizeof *m);
	if (warn != NULL)
		*warn = NULL;
	if (stats->count <= 0)
		return ml_seterr(err, -EINVAL, "no training rows");
	if (stats->nclasses <= 0)
		return ml_seterr(err, -EINVAL, "logreg: the moments did not count classes");
	int present = 0, missing = -1;
	for (int k = 0; k < stats->nclasses; k++) {
		if (stats->class_count[k] > 0)
			present++;
		else if (missing < 0)
			missing = k;
	}
	if (present < 2)
		return ml_seterr(err, -EINVAL, "only one class in the training data");
	if (missing >= 0)
		return ml_seterr(err, -EINVAL, "class %d has no training rows", missing);
	double *mean = ln_calloc(2 * stats->d, sizeof(double)), *std = mean + stats->d;
	if (mean == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	int rc = ml_moments_finish(stats, mean, std, warn, err);
	if (rc == 0)
		rc = ml_logreg_init(m, stats->d, stats->nclasses, C, mean, std, err);
	if (rc < 0 && warn != NULL) {
		free(*warn);
		*warn = NULL;
	}
	free(mean);
	return rc;
}

void
ml_logreg_free(struct ml_logreg *m)
{
	free(m->mean);
	free(m->std);
	free(m->coef);
	free(m->intercept);
	free(m->class_weight);
	memset(m, 0, sizeof *m);
}

static const char *const lr_penalty_names[] = { "l2", "l1", "elasticnet" };

int
ml_lr_penalty_find(const char *name)
{
	for (int k = 0; k < 3; k++)
		if (name != NULL && strcmp(name, lr_penalty_names[k]) == 0)
			return k;
	return -1;
}

const char *
ml_lr_penalty_name(int penalty)
{
	return penalty >= 0 && penalty < 3 ? lr_penalty_names[penalty] : "?";
}

int
ml_logreg_set_penalty(struct ml_logreg *m, int penalty, double l1_ratio,
                      char **err)
{
	if (penalty < ML_LR_L2 || penalty > ML_LR_ELASTICNET)
		return ml_seterr(err, -EINVAL, "logreg: penalty must be l2, l1 or "
		                 "elasticnet");
	if (penalty == ML_LR_ELASTICNET && !(l1_ratio >= 0 && l1_ratio <= 1))
		return ml_seterr(err, -EINVAL, "logreg: l1_ratio must be in [0, 1]");
	m->penalty = penalty;
	m->l1_ratio = penalty == ML_LR_ELASTICNET ? l1_ratio :
	              penalty == ML_LR_L1 ? 1 : 0;
	return 0;
}

int
ml_logreg_set_class_weight(struct ml_logreg *m, const double *w, char **err)
{
	free(m->class_weight);
	m->class_weight = NULL;
	if (w == NULL)
		return 0;
	for (int k = 0; k < m->nclasses; k++)
		if (!(w[k] > 0) || !isfinite(w[k]))
			return ml_seterr(err, -EINVAL, "logreg: the weight of class %d "
			                 "must be positive and finite", k);
	m->class_weight = ln_calloc((size_t)m->nclasses, sizeof(double));
	if (m->class_weight == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	memcpy(m->class_weight, w, (size_t)m->nclasses * sizeof(double));
	return 0;
}

int
ml_class_weight_balanced(const struct ml_moments *stats, double *w, char **err)
{
	if (stats->nclasses < 1 || stats->class_count == NULL)
		return ml_seterr(err, -EINVAL, "balanced class weights: the moments "
		                 "did not count classes");
	for (int k = 0; k < stats->nclasses; k++) {
		if (!(stats->class_count[k] > 0))
			return ml_seterr(err, -EINVAL, "balanced class weights: class "
			                 "%d has no rows", k);
		w[k] = stats->count / ((double)stats->nclasses * stats->class_count[k]);
	}
	return 0;
}

/*
 * z_r[i] = b_r + sum_j cw_rj (x_ij - mu_j) for a chunk of NB rows from
 * row C0, where cw = w / std: the standardisation costs one subtraction
 * per value and X is never copied.  Subtracting mu before multiplying
 * (rather than folding mu into b) keeps precision for columns whose mean
 * is large relative to their spread.
 */
static void
lr_forward(const struct ml_logreg *m, const double *cw, const double *b,
           const double *const *X, size_t c0, size_t nb, double *z, size_t R)
{
	for (size_t r = 0; r < R; r++)
		for (size_t i = 0; i < nb; i++)
			z[r * LR_CHUNK + i] = b[r];
	for (size_t j = 0; j < m->d; j++) {
		const double *restrict xj = X[j] + c0;
		double mu = m->mean[j];
		for (size_t r = 0; r < R; r++) {
			double *restrict zr = z + r * LR_CHUNK;
			double c = cw[r * m->d + j];
			for (size_t i = 0; i < nb; i++)
				zr[i] += c * (xj[i] - mu);
		}
	}
}

/* Effective per-column weights w / std, and the intercepts, from PARAMS. */
static void
lr_unpack(const struct ml_logreg *m, const double *params, double *cw, double *b)
{
	size_t d = m->d, R = lr_rows(m);
	for (size_t r = 0; r < R; r++) {
		for (size_t j = 0; j < d; j++)
			cw[r * d + j] = params[r * (d + 1) + j] / m->std[j];
		b[r] = params[r * (d + 1) + d];
	}
}

int
ml_logreg_partial(const struct ml_logreg *m, const double *params,
                  const double *const *X, size_t n, const int *y,
                  double *loss, double *grad, char **err)
{
	size_t d = m->d, R = lr_rows(m), np = R * (d + 1);
	int K = m->nclasses;

	*loss = 0;
	memset(grad, 0, np * sizeof(double));
	if (n == 0)
		return 0;
	double *z = malloc((R * LR_CHUNK + R * d + R) * sizeof(double));
	if (z == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	double *cw = z + R * LR_CHUNK, *b = cw + R * d;
	const double *cwt = m->class_weight;
	lr_unpack(m, params, cw, b);

	double lsum = 0;
	unsigned bad = 0;
	for (size_t c0 = 0; c0 < n; c0 += LR_CHUNK) {
		size_t nb = n - c0 < LR_CHUNK ? n - c0 : LR_CHUNK;
		const int *yc = y + c0;
		lr_forward(m, cw, b, X, c0, nb, z, R);

		/* Loss and residual (p - onehot(y)), overwriting z. */
		if (R == 1) {
			for (size_t i = 0; i < nb; i++) {
				double t = z[i];
				int yi = yc[i];
				bad |= (unsigned)yi > 1;
				double e = exp(-fabs(t));
				double l1 = log1p(e);
				/* -log p(y) = log(1+exp(-|t|)) + max(t,0) - y t */
				lsum += l1 + (t > 0 ? t : 0) - (yi == 1 ? t : 0);
				double p = t >= 0 ? 1 / (1 + e) : e / (1 + e);
				z[i] = p - (yi == 1);
				if (cwt != NULL && (unsigned)yi <= 1) {
					lsum += (cwt[yi] - 1) * (l1 + (t > 0 ? t : 0) -
					                         (yi == 1 ? t : 0));
					z[i] *= cwt[yi];
				}
			}
		} else {
			for (size_t i = 0; i < nb; i++) {
				int yi = yc[i];
				if ((unsigned)yi >= (unsigned)K) {
					bad = 1;
					yi = 0;
				}
				double zmax = z[i], zy = z[(size_t)yi * LR_CHUNK + i];
				for (size_t r = 1; r < R; r++)
					if (z[r * LR_CHUNK + i] > zmax)
						zmax = z[r * LR_CHUNK + i];
				double s = 0;
				for (size_t r = 0; r < R; r++) {
					double e = exp(z[r * LR_CHUNK + i] - zmax);
					s += e;
					z[r * LR_CHUNK + i] = e;
				}
				double lse = zmax + log(s);
				double wi = cwt != NULL ? cwt[yi] : 1;
				lsum += wi * (lse - zy);
				double inv = 1 / s;
				for (size_t r = 0; r < R; r++)
					z[r * LR_CHUNK + i] *= inv;
				z[(size_t)yi * LR_CHUNK + i] -= 1;
				if (cwt != NULL)
					for (size_t r = 0; r < R; r++)
						z[r * LR_CHUNK + i] *= wi;
			}
		}

		/* Gradient: sum_i res_ri (x_ij - mu_j), four accumulators. */
		for (size_t j = 0; j < d; j++) {
			const double *restrict xj = X[j] + c0;
			double mu = m->mean[j];
			for (size_t r = 0; r < R; r++)
				grad[r * (d + 1) + j] += ln_codev(z + r * LR_CHUNK, 0, xj, mu, nb);
		}
		for (size_t r = 0; r < R; r++)
			grad[r * (d + 1) + d] += ln_sum(z + r * LR_CHUNK, nb);
	}
	free(z);
	if (bad)
		return ln_badclass(y, n, K, err);
	if (!isfinite(lsum)) {
		for (size_t j = 0; j < d; j++)
			if (!isfinite(ln_sum(X[j], n)))
				return ln_nonfinite(X, n, d, NULL, err);
		return ml_seterr(err, -EDOM, "logreg: the log-loss is not finite "
		                 "(parameters out of range)");
	}
	for (size_t r = 0; r < R; r++)
		for (size_t j = 0; j < d; j++)
			grad[r * (d + 1) + j] /= m->std[j];
	*loss = lsum;
	return 0;
}

void
ml_logreg_penalise(const struct ml_logreg *m, const double *params,
                   double *f, double *grad)
{
	size_t d = m->d, R = lr_rows(m);
	double pen = 0;
	/* The smooth part only: L1's share is the proximal step's. */
	double l2 = m->penalty == ML_LR_L2 ? 1 : 1 - m->l1_ratio;
	*f *= m->C;
	for (size_t r = 0; r < R; r++) {
		for (size_t j = 0; j < d; j++) {
			double w = params[r * (d + 1) + j];
			pen += w * w;
			grad[r * (d + 1) + j] = m->C * grad[r * (d + 1) + j] + l2 * w;
		}
		grad[r * (d + 1) + d] *= m->C;
	}
	*f += 0.5 * l2 * pen;
}

struct lr_fitctx {
	struct ml_logreg *m;
	ml_logreg_eval_fn eval;
	void *ud;
	int rc;
	char *err;
};

static double
lr_fg(void *ud, const double *x, double *grad)
{
	struct lr_fitctx *c = ud;
	double f = 0;
	char *e = NULL;
	int rc = c->eval(c->ud, c->m, x, &f, grad, &e);
	if (rc < 0) {
		if (c->rc == 0) {
			c->rc = rc;
			c->err = e;
		} else {
			free(e);
		}
		return NAN;
	}
	free(e);
	ml_logreg_penalise(c->m, x, &f, grad);
	return f;
}

/* FISTA's proximal step: X = soft-threshold(Y - G / L, RHO / L) on the
 * coefficients, a plain gradient step on the intercepts. */
static void
lr_prox(const struct ml_logreg *m, size_t np, const double *y,
        const double *g, double L, double *x)
{
	size_t d = m->d;
	double thr = m->l1_ratio / L;
	for (size_t k = 0; k < np; k++) {
		double v = y[k] - g[k] / L;
		if (k % (d + 1) != d)
			v = v > thr ? v - thr : v < -thr ? v + thr : 0;
		x[k] = v;
	}
}

/* The L1 part of the objective, rho ||W||_1. */
static double
lr_l1(const struct ml_logreg *m, size_t np, const double *x)
{
	double s = 0;
	for (size_t k = 0; k < np; k++)
		if (k % (m->d + 1) != m->d)
			s += fabs(x[k]);
	return m->l1_ratio * s;
}

/*
 * Minimise the smooth part (lr_fg) plus rho ||W||_1 from X by FISTA
 * (Beck and Teboulle 2009) with backtracking on the Lipschitz estimate L
 * and O'Donoghue and Candes' restart when the objective rises.  Stops
 * when L ||x_new - y||_inf (the gradient mapping) <= gtol, when the
 * objective stalls (relative decrease <= ftol over an accepted step that
 * is not a restart), or at max_iter.  RES as ml_lbfgs_minimize's (f is
 * the whole objective).
 */
static int
lr_fista(const struct ml_logreg *m, size_t np, double *x,
         struct lr_fitctx *c, const struct ml_lbfgs_opts *opts,
         struct ml_lbfgs_result *res, char **err)
{
	struct ml_lbfgs_opts o;
	if (opts == NULL)
		ml_lbfgs_defaults(&o);
	else
		o = *opts;
	double *y = malloc(4 * np * sizeof(double));
	if (y == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	double *gy = y + np, *xn = gy + np, *gx = xn + np;
	memcpy(y, x, np * sizeof(double));
	double L = 1, tk = 1;
	double fx = lr_fg(c, x, gx);
	if (isnan(fx)) {
		free(y);
		return -ECANCELED;
	}
	double Fx = fx + lr_l1(m, np, x);
	memset(res, 0, sizeof *res);
	res->evaluations = 1;
	res->status = ML_LBFGS_MAX_ITER;
	int rc = 0, it;
	for (it = 0; it < o.max_iter; it++) {
		double fy = lr_fg(c, y, gy);
		res->evaluations++;
		if (isnan(fy)) {
			rc = -ECANCELED;
			break;
		}
		double fxn = 0, gmap = 0;
		for (int ls = 0; ls < 60; ls++) {
			lr_prox(m, np, y, gy, L, xn);
			fxn = lr_fg(c, xn, gx);
			res->evaluations++;
			if (isnan(fxn)) {
				rc = -ECANCELED;
				break;
			}
			double q = fy, dd = 0;
			for (size_t k = 0; k < np; k++) {
				double s = xn[k] - y[k];
				q += gy[k] * s + 0.5 * L * s * s;
				dd = fmax(dd, fabs(s));
			}
			gmap = L * dd;
			if (fxn <= q + 1e-12 * fabs(q))
				break;
			L *= 2;
		}
		if (rc != 0)
			break;
		double Fn = fxn + lr_l1(m, np, xn);
		if (Fn > Fx) {
			if (gmap <= o.gtol) {
				res->status = ML_LBFGS_GTOL;
				break;
			}
			/* A plain proximal step from x that does not decrease
			 * F: x is the minimum to within rounding. */
			if (tk == 1) {
				res->status = ML_LBFGS_STALLED;
				break;
			}
			/* Momentum overshot: restart from x, no step taken. */
			tk = 1;
			memcpy(y, x, np * sizeof(double));
			continue;
		}
		double tn = 0.5 * (1 + sqrt(1 + 4 * tk * tk));
		for (size_t k = 0; k < np; k++) {
			y[k] = xn[k] + (tk - 1) / tn * (xn[k] - x[k]);
			x[k] = xn[k];
		}
		tk = tn;
		double dec = (Fx - Fn) / fmax(fmax(fabs(Fx), fabs(Fn)), 1);
		Fx = Fn;
		L *= 0.9;       /* let the step grow again */
		if (gmap <= o.gtol) {
			res->status = ML_LBFGS_GTOL;
			it++;
			break;
		}
		if (o.ftol > 0 && dec <= o.ftol) {
			res->status = ML_LBFGS_FTOL;
			it++;
			break;
		}
	}
	res->iterations = it;
	res->f = Fx;
	free(y);
	return rc;
}

int
ml_logreg_fit(struct ml_logreg *m, ml_logreg_eval_fn eval, void *ud,
              const struct ml_lbfgs_opts *opts, char **err)
{
	size_t d = m->d, R = lr_rows(m), np = ml_logreg_nparam(m);
	if (m->coef == NULL || eval == NULL)
		return ml_seterr(err, -EINVAL, "logreg: fit of an unprepared model");
	double *x = malloc(np * sizeof(double));
	if (x == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	for (size_t r = 0; r < R; r++) {
		memcpy(x + r * (d + 1), m->coef + r * d, d * sizeof(double));
		x[r * (d + 1) + d] = m->intercept[r];
	}
	struct lr_fitctx c = { .m = m, .eval = eval, .ud = ud };
	struct ml_lbfgs_result res;
	char *lerr = NULL;
	int rc = m->penalty == ML_LR_L2 ?
	         ml_lbfgs_minimize(np, x, lr_fg, &c, opts, &res, &lerr) :
	         lr_fista(m, np, x, &c, opts, &res, &lerr);
	if (c.rc < 0) {
		/* The callback's own error is the useful one. */
		free(lerr);
		rc = c.rc;
		if (err != NULL)
			*err = c.err;
		else
			free(c.err);
	} else if (rc < 0) {
		if (err != NULL)
			*err = lerr;
		else
			free(lerr);
	} else {
		for (size_t r = 0; r < R; r++) {
			memcpy(m->coef + r * d, x + r * (d + 1), d * sizeof(double));
			m->intercept[r] = x[r * (d + 1) + d];
		}
		m->n_iter = res.iterations;
		m->n_eval = res.evaluations;
		m->status = res.status;
		/* res.f = C * loss + P(W): the loss without another pass. */
		double pen = 0, l1 = 0;
		for (size_t k = 0; k < R * d; k++) {
			pen += m->coef[k] * m->coef[k];
			l1 += fabs(m->coef[k]);
		}
		double rho = m->penalty == ML_LR_L2 ? 0 : m->l1_ratio;
		m->loss = (res.f - 0.5 * (1 - rho) * pen - rho * l1) / m->C;
	}
	free(x);
	return rc;
}

/* In-memory blocks for ml_logreg_fit_blocks(). */
struct lr_blocks {
	const double *const *const *XB;
	const int *const *YB;
	const size_t *nrows;
	size_t nblocks;
	double *g;     /* scratch gradient */
};

static int
lr_eval_blocks(void *ud, const struct ml_logreg *m, const double *params,
               double *loss, double *grad, char **err)
{
	struct lr_blocks *bl = ud;
	size_t np = ml_logreg_nparam(m);
	*loss = 0;
	memset(grad, 0, np * sizeof(double));
	for (size_t b = 0; b < bl->nblocks; b++) {
		double l;
		int rc = ml_logreg_partial(m, params, bl->XB[b], bl->nrows[b], bl->YB[b],
		                           &l, bl->g, err);
		if (rc < 0)
			return rc;
		*loss += l;
		for (size_t k = 0; k < np; k++)
			grad[k] += bl->g[k];
	}
	return 0;
}

int
ml_logreg_fit_blocks(struct ml_logreg *m, size_t d, int nclasses, double C,
                     const double *const *const *XB, const int *const *YB,
                     const size_t *nrows, size_t nblocks,
                     const struct ml_lbfgs_opts *opts, char **warn, char **err)
{
	struct ml_logreg_spec spec = { .C = C };
	return ml_logreg_fit_blocks_ex(m, d, nclasses, &spec, XB, YB, nrows,
	                               nblocks, opts, warn, err);
}

int
ml_logreg_fit_blocks_ex(struct ml_logreg *m, size_t d, int nclasses,
                        const struct ml_logreg_spec *spec,
                        const double *const *const *XB, const int *const *YB,
                        const size_t *nrows, size_t nblocks,
                        const struct ml_lbfgs_opts *opts, char **warn,
                        char **err)
{
	double C = spec->C;
	struct ml_moments st;
	int rc;

	memset(m, 0, sizeof *m);
	if (warn != NULL)
		*warn = NULL;
	if (nclasses <= 0) {
		int top = -1;
		for (size_t b = 0; b < nblocks; b++)
			for (size_t i = 0; i < nrows[b]; i++) {
				if (YB[b][i] < 0)
					return ml_seterr(err, -EINVAL, "row %zu: negative class code %d",
					                 i, YB[b][i]);
				if (YB[b][i] > top)
					top = YB[b][i];
			}
		nclasses = top + 1;
	}
	if ((rc = ml_moments_init(&st, d, nclasses, err)) < 0)
		return rc;
	for (size_t b = 0; b < nblocks && rc == 0; b++)
		rc = ml_moments_partial(&st, XB[b], nrows[b], YB[b], err);
	if (rc == 0 && st.count > 0 && nclasses < 2)
		rc = ml_seterr(err, -EINVAL, "only one class in the training data");
	if (rc == 0)
		rc = ml_logreg_prepare(m, &st, C, warn, err);
	if (rc == 0)
		rc = ml_logreg_set_penalty(m, spec->penalty, spec->l1_ratio, err);
	if (rc == 0 && spec->balanced) {
		double *w = ln_calloc((size_t)m->nclasses, sizeof(double));
		rc = w == NULL ? ml_seterr(err, -ENOMEM, "logreg: out of memory") :
		     ml_class_weight_balanced(&st, w, err);
		if (rc == 0)
			rc = ml_logreg_set_class_weight(m, w, err);
		free(w);
	} else if (rc == 0 && spec->class_weight != NULL) {
		rc = ml_logreg_set_class_weight(m, spec->class_weight, err);
	}
	ml_moments_free(&st);
	if (rc < 0) {
		if (m->coef != NULL)
			ml_logreg_free(m);
		if (warn != NULL) {
			free(*warn);
			*warn = NULL;
		}
		return rc;
	}
	struct lr_blocks bl = { XB, YB, nrows, nblocks, NULL };
	bl.g = malloc(ml_logreg_nparam(m) * sizeof(double));
	if (bl.g == NULL)
		rc = ml_seterr(err, -ENOMEM, "logreg: out of memory");
	else
		rc = ml_logreg_fit(m, lr_eval_blocks, &bl, opts, err);
	free(bl.g);
	if (rc < 0) {
		ml_logreg_free(m);
		if (warn != NULL) {
			free(*warn);
			*warn = NULL;
		}
	}
	return rc;
}

int
ml_logreg_predict_proba(const struct ml_logreg *m, const double *const *X,
                        size_t n, double *proba, char **err)
{
	size_t d = m->d, R = lr_rows(m);
	size_t K = (size_t)m->nclasses;
	if (n == 0)
		return 0;
	double *z = malloc((R * LR_CHUNK + R * d + R) * sizeof(double));
	if (z == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	double *cw = z + R * LR_CHUNK, *b = cw + R * d;
	for (size_t r = 0; r < R; r++) {
		for (size_t j = 0; j < d; j++)
			cw[r * d + j] = m->coef[r * d + j] / m->std[j];
		b[r] = m->intercept[r];
	}
	int nonfinite = 0;
	for (size_t c0 = 0; c0 < n; c0 += LR_CHUNK) {
		size_t nb = n - c0 < LR_CHUNK ? n - c0 : LR_CHUNK;
		lr_forward(m, cw, b, X, c0, nb, z, R);
		for (size_t i = 0; i < nb; i++) {
			if (R == 1) {
				double t = z[i], e = exp(-fabs(t));
				double p = t >= 0 ? 1 / (1 + e) : e / (1 + e);
				nonfinite |= !isfinite(t);
				proba[c0 + i] = 1 - p;
				proba[n + c0 + i] = p;
				continue;
			}
			double zmax = z[i], s = 0;
			for (size_t r = 1; r < R; r++)
				if (z[r * LR_CHUNK + i] > zmax)
					zmax = z[r * LR_CHUNK + i];
			nonfinite |= !isfinite(zmax);
			for (size_t k = 0; k < K; k++)
				s += (proba[k * n + c0 + i] = exp(z[k * LR_CHUNK + i] - zmax));
			for (size_t k = 0; k < K; k++)
				proba[k * n + c0 + i] /= s;
		}
	}
	free(z);
	if (nonfinite)
		return ln_nonfinite(X, n, d, NULL, err);
	return 0;
}

void
ml_logreg_coef_original(const struct ml_logreg *m, double *coef, double *intercept)
{
	size_t d = m->d, R = lr_rows(m);
	for (size_t r = 0; r < R; r++) {
		double b = m->intercept[r];
		for (size_t j = 0; j < d; j++) {
			coef[r * d + j] = m->coef[r * d + j] / m->std[j];
			b -= coef[r * d + j] * m->mean[j];
		}
		intercept[r] = b;
	}
}

int
ml_logreg_to_json(const struct ml_logreg *m, json_t **out)
{
	size_t d = m->d, R = lr_rows(m);
	int bad = 0;
	double *co = ln_calloc(R * d + R, sizeof(double));
	if (co == NULL)
		return -ENOMEM;
	ml_logreg_coef_original(m, co, co + R * d);
	json_t *o = ln_jnew("logreg", d, &bad);
	ln_jset(o, "classes", json_integer(m->nclasses), &bad);
	ln_jset(o, "C", json_real(m->C), &bad);
	ln_jset(o, "mean", ml_json_reals(m->mean, d), &bad);
	ln_jset(o, "std", ml_json_reals(m->std, d), &bad);
	ln_jset(o, "coef", ln_jmat(m->coef, R, d), &bad);
	ln_jset(o, "intercept", ml_json_reals(m->intercept, R), &bad);
	/* For people reading the model; from_json ignores them. */
	ln_jset(o, "coef_original", ln_jmat(co, R, d), &bad);
	ln_jset(o, "intercept_original", ml_json_reals(co + R * d, R), &bad);
	ln_jset(o, "n_iter", json_integer(m->n_iter), &bad);
	if (m->penalty != ML_LR_L2) {
		ln_jset(o, "penalty", json_string(ml_lr_penalty_name(m->penalty)), &bad);
		ln_jset(o, "l1_ratio", json_real(m->l1_ratio), &bad);
	}
	if (m->class_weight != NULL)
		ln_jset(o, "class_weight", ml_json_reals(m->class_weight,
		        (size_t)m->nclasses), &bad);
	free(co);
	return ln_jdone(o, bad, out);
}

int
ml_logreg_from_json(const json_t *j, struct ml_logreg *m, char **err)
{
	size_t d = 0, K = 0;
	double C = 0;
	int rc;
	memset(m, 0, sizeof *m);
	if ((rc = ln_jhead(j, "logreg", &d, &K, err)) < 0 ||
	    (rc = ml_json_get_num(j, "C", &C, err)) < 0)
		return rc;
	if (d == 0 || d > LN_MAX_DIM || K < 2 || K > 100000)
		return ml_seterr(err, -EINVAL, "model JSON: bad dimensions");
	double *ms = ln_calloc(2 * d, sizeof(double));
	if (ms == NULL)
		return ml_seterr(err, -ENOMEM, "logreg: out of memory");
	if ((rc = ml_json_get_reals(j, "mean", ms, d, err)) == 0 &&
	    (rc = ml_json_get_reals(j, "std", ms + d, d, err)) == 0 &&
	    (rc = ml_logreg_init(m, d, (int)K, C, ms, ms + d, err)) == 0) {
		size_t R = lr_rows(m);
		const char *pen = json_string_value(json_object_get(j, "penalty"));
		double rho = json_number_value(json_object_get(j, "l1_ratio"));
		double *cw = ln_calloc(K, sizeof(double));
		if ((rc = ln_jmat_get(j, "coef", m->coef, R, d, err)) < 0 ||
		    (rc = ml_json_get_reals(j, "intercept", m->intercept, R, err)) < 0 ||
		    (pen != NULL && (rc = ml_logreg_set_penalty(m,
		         ml_lr_penalty_find(pen), rho, err)) < 0) ||
		    (json_object_get(j, "class_weight") != NULL &&
		     ((rc = cw == NULL ? -ENOMEM : 0) < 0 ||
		      (rc = ml_json_get_reals(j, "class_weight", cw, K, err)) < 0 ||
		      (rc = ml_logreg_set_class_weight(m, cw, err)) < 0)))
			ml_logreg_free(m);
		free(cw);
	}
	free(ms);
	return rc;
}

/* ================================================================== */
/* Linear and ridge regression                                         */

int
ml_linreg_partial_init(struct ml_linreg_partial *p, size_t d, char **err)
{
	memset(p, 0, sizeof *p);
	if (d == 0 || d > 10000)
		return ml_seterr(err, -EINVAL, "linreg: bad number of features %zu", d);
	p->d = d;
	p->mean = ln_calloc(d + 1, sizeof(double));
	p->cm = ln_calloc((d + 1) * (d + 1), sizeof(double));
	if (p->mean == NULL || p->cm == NULL) {
		ml_linreg_partial_free(p);
		return ml_seterr(err, -ENOMEM, "linreg: out of memory");
	}
	return 0;
}

void
ml_linreg_partial_free(struct ml_linreg_partial *p)
{
	free(p->mean);
	free(p->cm);
	memset(p, 0, sizeof *p);
}

/* Multivariate Chan: fold (nb, mb, cmb) into A. */
static void
lin_chan(struct ml_linreg_partial *a, double nb, const double *mb, const double *cmb)
{
	size_t D = a->d + 1;
	double na = a->count, n = na + nb;
	if (nb == 0)
		return;
	if (na == 0) {
		memcpy(a->mean, mb, D * sizeof(double));
		memcpy(a->cm, cmb, D * D * sizeof(double));
		a->count = nb;
		return;
	}
	double f = na * nb / n;
	for (size_t j = 0; j < D; j++) {
		double dj = mb[j] - a->mean[j];
		for (size_t k = 0; k < D; k++)
			a->cm[j * D + k] += cmb[j * D + k] + dj * (mb[k] - a->mean[k]) * f;
	}
	for (size_t j = 0; j < D; j++)
		a->mean[j] += (mb[j] - a->mean[j]) * (nb / n);
	a->count = n;
}

int
ml_linreg_partial_add(struct ml_linreg_partial *p, const double *const *X,
                      size_t n, const double *t, char **err)
{
	size_t d = p->d, D = d + 1;
	if (n == 0)
		return 0;
	double *mb = ln_calloc(D + D * D, sizeof(double)), *cmb = mb + D;
	const double **cols = ln_calloc(D, sizeof(*cols));
	if (mb == NULL || cols == NULL) {
		free(mb);
		free(cols);
		return ml_seterr(err, -ENOMEM, "linreg: out of memory");
	}
	memcpy(cols, X, d * sizeof(*cols));
	cols[d] = t;
	for (size_t j = 0; j < D; j++) {
		double s = ln_sum(cols[j], n);
		if (!isfinite(s)) {
			free(mb);
			free(cols);
			return ln_nonfinite(X, n, d, t, err);
		}
		mb[j] = s / (double)n;
	}
	for (size_t j = 0; j < D; j++)
		for (size_t k = j; k < D; k++)
			cmb[j * D + k] = cmb[k * D + j] =
				ln_codev(cols[j], mb[j], cols[k], mb[k], n);
	lin_chan(p, (double)n, mb, cmb);
	free(mb);
	free(cols);
	return 0;
}

int
ml_linreg_merge(struct ml_linreg_partial *a, const struct ml_linreg_partial *b,
                char **err)
{
	if (a->d != b->d)
		return ml_seterr(err, -EINVAL, "linreg: merging different shapes");
	lin_chan(a, b->count, b->mean, b->cm);
	return 0;
}

int
ml_linreg_finish(const struct ml_linreg_partial *p, double alpha,
                 struct ml_linreg *m, char **err)
{
	size_t d = p->d, D = d + 1;
	memset(m, 0, sizeof *m);
	if (!(alpha >= 0) || !isfinite(alpha))
		return ml_seterr(err, -EINVAL, "linreg: alpha must be >= 0");
	if (p->count <= 0)
		return ml_seterr(err, -EINVAL, "no training rows");
	if (alpha == 0)
		for (size_t j = 0; j < d; j++)
			if (ln_is_constant(p->cm[j * D + j] / p->count, p->mean[j], p->count))
				return ml_seterr(err, -EDOM, "column %zu is constant: "
				                 "least squares needs alpha > 0", j);
	double *L = ln_calloc(d * d + d, sizeof(double)), *w = L + d * d;
	m->coef = ln_calloc(d, sizeof(double));
	if (L == NULL || m->coef == NULL) {
		free(L);
		ml_linreg_free(m);
		return ml_seterr(err, -ENOMEM, "linreg: out of memory");
	}
	/* Cholesky of A = Sxx + alpha I, lower triangle.  A pivot that loses
	 * all but ~12 digits of its diagonal means the column is (nearly) a
	 * combination of earlier ones. */
	for (size_t j = 0; j < d; j++) {
		for (size_t k = 0; k <= j; k++) {
			double s = p->cm[j * D + k] + (j == k ? alpha : 0);
			for (size_t q = 0; q < k; q++)
				s -= L[j * d + q] * L[k * d + q];
			if (j == k) {
				double diag = p->cm[j * D + j] + alpha;
				if (!(s > 1e-12 * diag)) {
					free(L);
					ml_linreg_free(m);
					return ml_seterr(err, -EDOM, "column %zu is collinear with the "
					                 "others: least squares needs alpha > 0 or "
					                 "fewer columns", j);
				}
				L[j * d + j] = sqrt(s);
			} else {
				L[j * d + k] = s / L[k * d + k];
			}
		}
	}
	for (size_t j = 0; j < d; j++) {
		double s = p->cm[j * D + d];
		for (size_t q = 0; q < j; q++)
			s -= L[j * d + q] * w[q];
		w[j] = s / L[j * d + j];
	}
	for (size_t j = d; j-- > 0;) {
		double s = w[j];
		for (size_t q = j + 1; q < d; q++)
			s -= L[q * d + j] * m->coef[q];
		m->coef[j] = s / L[j * d + j];
	}
	m->d = d;
	m->alpha = alpha;
	m->intercept = p->mean[d];
	for (size_t j = 0; j < d; j++)
		m->intercept -= p->mean[j] * m->coef[j];
	free(L);
	return 0;
}

void
ml_linreg_free(struct ml_linreg *m)
{
	free(m->coef);
	memset(m, 0, sizeof *m);
}

int
ml_linreg_predict(const struct ml_linreg *m, const double *const *X, size_t n,
                  double *out, char **err)
{
	for (size_t i = 0; i < n; i++)
		out[i] = m->intercept;
	for (size_t j = 0; j < m->d; j++) {
		const double *restrict xj = X[j];
		double c = m->coef[j];
		for (size_t i = 0; i < n; i++)
			out[i] += c * xj[i];
	}
	if (n > 0 && !isfinite(ln_sum(out, n)))
		return ln_nonfinite(X, n, m->d, NULL, err);
	return 0;
}

int
ml_linreg_partial_to_json(const struct ml_linreg_partial *p, json_t **out)
{
	int bad = 0;
	size_t D = p->d + 1;
	json_t *o = ln_jnew("linreg_partial", p->d, &bad);
	ln_jset(o, "count", json_real(p->count), &bad);
	ln_jset(o, "mean", ml_json_reals(p->mean, D), &bad);
	ln_jset(o, "cm", ml_json_reals(p->cm, D * D), &bad);
	return ln_jdone(o, bad, out);
}

int
ml_linreg_partial_from_json(const json_t *j, struct ml_linreg_partial *p, char **err)
{
	size_t d = 0;
	int rc;
	memset(p, 0, sizeof *p);
	if ((rc = ln_jhead(j, "linreg_partial", &d, NULL, err)) < 0 ||
	    (rc = ml_linreg_partial_init(p, d, err)) < 0)
		return rc;
	if ((rc = ml_json_get_num(j, "count", &p->count, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "mean", p->mean, d + 1, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "cm", p->cm, (d + 1) * (d + 1), err)) < 0)
		ml_linreg_partial_free(p);
	return rc;
}

int
ml_linreg_to_json(const struct ml_linreg *m, json_t **out)
{
	int bad = 0;
	json_t *o = ln_jnew("linreg", m->d, &bad);
	ln_jset(o, "alpha", json_real(m->alpha), &bad);
	ln_jset(o, "coef", ml_json_reals(m->coef, m->d), &bad);
	ln_jset(o, "intercept", json_real(m->intercept), &bad);
	return ln_jdone(o, bad, out);
}

int
ml_linreg_from_json(const json_t *j, struct ml_linreg *m, char **err)
{
	size_t d = 0;
	int rc;
	memset(m, 0, sizeof *m);
	if ((rc = ln_jhead(j, "linreg", &d, NULL, err)) < 0)
		return rc;
	if (d == 0 || d > LN_MAX_DIM)
		return ml_seterr(err, -EINVAL, "model JSON: bad dimensions");
	m->d = d;
	m->coef = ln_calloc(d, sizeof(double));
	if (m->coef == NULL)
		return ml_seterr(err, -ENOMEM, "linreg: out of memory");
	if ((rc = ml_json_get_num(j, "alpha", &m->alpha, err)) < 0 ||
	    (rc = ml_json_get_num(j, "intercept", &m->intercept, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "coef", m->coef, d, err)) < 0)
		ml_linreg_free(m);
	return rc;
}

/* ================================================================== */
/* Gaussian naive Bayes                                                */

int
ml_nb_partial_init(struct ml_nb_partial *p, size_t d, int nclasses, char **err)
{
	memset(p, 0, sizeof *p);
	if (d == 0 || d > LN_MAX_DIM || nclasses < 1 || nclasses > 100000)
		return ml_seterr(err, -EINVAL, "naive_bayes: bad dimensions (d=%zu, classes=%d)",
		                 d, nclasses);
	size_t K = (size_t)nclasses;
	p->d = d;
	p->nclasses = nclasses;
	p->count = ln_calloc(K, sizeof(double));
	p->mean = ln_calloc(K * d, sizeof(double));
	p->m2 = ln_calloc(K * d, sizeof(double));
	if (p->count == NULL || p->mean == NULL || p->m2 == NULL) {
		ml_nb_partial_free(p);
		return ml_seterr(err, -ENOMEM, "naive_bayes: out of memory");
	}
	return 0;
}

void
ml_nb_partial_free(struct ml_nb_partial *p)
{
	free(p->count);
	free(p->mean);
	free(p->m2);
	memset(p, 0, sizeof *p);
}

/* Fold class statistics (nb, mb[d], qb[d]) into class K of A. */
static void
nb_fold(struct ml_nb_partial *a, size_t k, double nb, const double *mb, const double *qb)
{
	ln_chan(&a->count[k], a->mean + k * a->d, a->m2 + k * a->d, nb, mb, qb, a->d);
}

int
ml_nb_partial_add(struct ml_nb_partial *p, const double *const *X, size_t n,
                  const int *y, char **err)
{
	size_t d = p->d, K = (size_t)p->nclasses;
	int rc;
	if (n == 0)
		return 0;
	if ((rc = ln_badclass(y, n, p->nclasses, err)) < 0)
		return rc;
	for (size_t j = 0; j < d; j++)
		if (!isfinite(ln_sum(X[j], n)))
			return ln_nonfinite(X, n, d, NULL, err);
	/* Block statistics, class-major like the partial. */
	double *cnt = ln_calloc(K + 2 * K * d, sizeof(double));
	if (cnt == NULL)
		return ml_seterr(err, -ENOMEM, "naive_bayes: out of memory");
	double *mb = cnt + K, *qb = mb + K * d;
	for (size_t i = 0; i < n; i++)
		cnt[y[i]] += 1;
	for (size_t j = 0; j < d; j++) {
		const double *xj = X[j];
		for (size_t i = 0; i < n; i++)
			mb[(size_t)y[i] * d + j] += xj[i];
	}
	for (size_t k = 0; k < K; k++)
		for (size_t j = 0; j < d && cnt[k] > 0; j++)
			mb[k * d + j] /= cnt[k];
	for (size_t j = 0; j < d; j++) {
		const double *xj = X[j];
		for (size_t i = 0; i < n; i++) {
			double dv = xj[i] - mb[(size_t)y[i] * d + j];
			qb[(size_t)y[i] * d + j] += dv * dv;
		}
	}
	for (size_t k = 0; k < K; k++)
		nb_fold(p, k, cnt[k], mb + k * d, qb + k * d);
	free(cnt);
	return 0;
}

int
ml_nb_merge(struct ml_nb_partial *a, const struct ml_nb_partial *b, char **err)
{
	if (a->d != b->d || a->nclasses != b->nclasses)
		return ml_seterr(err, -EINVAL, "naive_bayes: merging different shapes");
	for (size_t k = 0; k < (size_t)a->nclasses; k++)
		nb_fold(a, k, b->count[k], b->mean + k * a->d, b->m2 + k * a->d);
	return 0;
}

static int
nb_alloc(struct ml_nb *m, size_t d, int nclasses)
{
	size_t K = (size_t)nclasses;
	memset(m, 0, sizeof *m);
	m->d = d;
	m->nclasses = nclasses;
	m->prior = ln_calloc(K, sizeof(double));
	m->theta = ln_calloc(K * d, sizeof(double));
	m->var = ln_calloc(K * d, sizeof(double));
	if (m->prior == NULL || m->theta == NULL || m->var == NULL) {
		ml_nb_free(m);
		return -ENOMEM;
	}
	return 0;
}

int
ml_nb_finish(const struct ml_nb_partial *p, double var_smoothing,
             struct ml_nb *m, char **err)
{
	size_t d = p->d, K = (size_t)p->nclasses;
	memset(m, 0, sizeof *m);
	if (!(var_smoothing >= 0) || !isfinite(var_smoothing))
		return ml_seterr(err, -EINVAL, "naive_bayes: var_smoothing must be >= 0");
	double total = 0;
	size_t present = 0, missing = K;
	for (size_t k = 0; k < K; k++) {
		total += p->count[k];
		if (p->count[k] > 0)
			present++;
		else if (missing == K)
			missing = k;
	}
	if (total <= 0)
		return ml_seterr(err, -EINVAL, "no training rows");
	if (present < 2)
		return ml_seterr(err, -EINVAL, "only one class in the training data");
	if (missing < K)
		return ml_seterr(err, -EINVAL, "class %zu has no training rows", missing);

	/* Overall variance of each feature: merge the classes. */
	struct ml_moments all;
	int rc = ml_moments_init(&all, d, 0, err);
	if (rc < 0)
		return rc;
	for (size_t k = 0; k < K; k++)
		ln_chan(&all.count, all.mean, all.m2, p->count[k], p->mean + k * d,
		        p->m2 + k * d, d);
	double vmax = 0;
	size_t nconst = 0;
	for (size_t j = 0; j < d; j++) {
		double v = all.m2[j] / all.count;
		if (v > vmax)
			vmax = v;
		nconst += ln_is_constant(v, all.mean[j], all.count);
	}
	ml_moments_free(&all);
	if (nconst == d)
		return ml_seterr(err, -EDOM, "naive_bayes: every column is constant");

	if (nb_alloc(m, d, p->nclasses) < 0)
		return ml_seterr(err, -ENOMEM, "naive_bayes: out of memory");
	m->epsilon = var_smoothing * vmax;
	for (size_t k = 0; k < K; k++) {
		m->prior[k] = p->count[k] / total;
		for (size_t j = 0; j < d; j++) {
			m->theta[k * d + j] = p->mean[k * d + j];
			m->var[k * d + j] = p->m2[k * d + j] / p->count[k] + m->epsilon;
			if (!(m->var[k * d + j] > 0)) {
				ml_nb_free(m);
				if (vmax == 0)
					return ml_seterr(err, -EDOM, "naive_bayes: every column is constant");
				return ml_seterr(err, -EDOM, "naive_bayes: column %zu is constant "
				                 "within class %zu and var_smoothing is 0", j, k);
			}
		}
	}
	return 0;
}

void
ml_nb_free(struct ml_nb *m)
{
	free(m->prior);
	free(m->theta);
	free(m->var);
	memset(m, 0, sizeof *m);
}

int
ml_nb_predict_proba(const struct ml_nb *m, const double *const *X, size_t n,
                    double *proba, char **err)
{
	size_t d = m->d, K = (size_t)m->nclasses;
	if (n == 0)
		return 0;
	/* Joint log-likelihoods, column by column, then normalised per row. */
	for (size_t k = 0; k < K; k++) {
		double *restrict col = proba + k * n;
		double c = log(m->prior[k]);
		for (size_t j = 0; j < d; j++)
			c -= 0.5 * log(2 * M_PI * m->var[k * d + j]);
		for (size_t i = 0; i < n; i++)
			col[i] = c;
		for (size_t j = 0; j < d; j++) {
			const double *restrict xj = X[j];
			double th = m->theta[k * d + j], h = 0.5 / m->var[k * d + j];
			for (size_t i = 0; i < n; i++) {
				double dv = xj[i] - th;
				col[i] -= h * dv * dv;
			}
		}
	}
	int nonfinite = 0;
	for (size_t i = 0; i < n; i++) {
		double mx = proba[i], s = 0;
		for (size_t k = 1; k < K; k++)
			if (proba[k * n + i] > mx)
				mx = proba[k * n + i];
		nonfinite |= !isfinite(mx);
		for (size_t k = 0; k < K; k++)
			s += (proba[k * n + i] = exp(proba[k * n + i] - mx));
		for (size_t k = 0; k < K; k++)
			proba[k * n + i] /= s;
	}
	if (nonfinite)
		return ln_nonfinite(X, n, d, NULL, err);
	return 0;
}

int
ml_nb_partial_to_json(const struct ml_nb_partial *p, json_t **out)
{
	int bad = 0;
	size_t K = (size_t)p->nclasses;
	json_t *o = ln_jnew("naive_bayes_partial", p->d, &bad);
	ln_jset(o, "classes", json_integer(p->nclasses), &bad);
	ln_jset(o, "count", ml_json_reals(p->count, K), &bad);
	ln_jset(o, "mean", ln_jmat(p->mean, K, p->d), &bad);
	ln_jset(o, "m2", ln_jmat(p->m2, K, p->d), &bad);
	return ln_jdone(o, bad, out);
}

int
ml_nb_partial_from_json(const json_t *j, struct ml_nb_partial *p, char **err)
{
	size_t d = 0, K = 0;
	int rc;
	memset(p, 0, sizeof *p);
	if ((rc = ln_jhead(j, "naive_bayes_partial", &d, &K, err)) < 0)
		return rc;
	if (K > 100000)
		return ml_seterr(err, -EINVAL, "model JSON: bad dimensions");
	if ((rc = ml_nb_partial_init(p, d, (int)K, err)) < 0)
		return rc;
	if ((rc = ml_json_get_reals(j, "count", p->count, K, err)) < 0 ||
	    (rc = ln_jmat_get(j, "mean", p->mean, K, d, err)) < 0 ||
	    (rc = ln_jmat_get(j, "m2", p->m2, K, d, err)) < 0)
		ml_nb_partial_free(p);
	return rc;
}

int
ml_nb_to_json(const struct ml_nb *m, json_t **out)
{
	int bad = 0;
	size_t K = (size_t)m->nclasses;
	json_t *o = ln_jnew("naive_bayes", m->d, &bad);
	ln_jset(o, "classes", json_integer(m->nclasses), &bad);
	ln_jset(o, "epsilon", json_real(m->epsilon), &bad);
	ln_jset(o, "prior", ml_json_reals(m->prior, K), &bad);
	ln_jset(o, "theta", ln_jmat(m->theta, K, m->d), &bad);
	ln_jset(o, "var", ln_jmat(m->var, K, m->d), &bad);
	return ln_jdone(o, bad, out);
}

int
ml_nb_from_json(const json_t *j, struct ml_nb *m, char **err)
{
	size_t d = 0, K = 0;
	int rc;
	memset(m, 0, sizeof *m);
	if ((rc = ln_jhead(j, "naive_bayes", &d, &K, err)) < 0)
		return rc;
	if (d == 0 || d > LN_MAX_DIM || K < 1 || K > 100000)
		return ml_seterr(err, -EINVAL, "model JSON: bad dimensions");
	if (nb_alloc(m, d, (int)K) < 0)
		return ml_seterr(err, -ENOMEM, "naive_bayes: out of memory");
	if ((rc = ml_json_get_num(j, "epsilon", &m->epsilon, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "prior", m->prior, K, err)) < 0 ||
	    (rc = ln_jmat_get(j, "theta", m->theta, K, d, err)) < 0 ||
	    (rc = ln_jmat_get(j, "var", m->var, K, d, err)) < 0) {
		ml_nb_free(m);
		return rc;
	}
	for (size_t i = 0; i < K * d; i++)
		if (!(m->var[i] > 0)) {
			ml_nb_free(m);
			return ml_seterr(err, -EINVAL, "model JSON: variances must be positive");
		}
	for (size_t k = 0; k < K; k++)
		if (!(m->prior[k] > 0)) {
			ml_nb_free(m);
			return ml_seterr(err, -EINVAL, "model JSON: priors must be positive");
		}
	return 0;
}
