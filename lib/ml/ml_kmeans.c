/* SPDX-License-Identifier: MIT */
/*
 * ml_kmeans.c - k-means|| initialisation and Lloyd iterations as partial
 * functions (see ml_kmeans.h for the contract and the distributed plan).
 *
 * Distances are computed exactly as sums of squared differences (not with
 * the |x|^2 - 2x.c + |c|^2 trick), a chunk of rows at a time: for each
 * centre, one pass per column over the chunk's contiguous values, which
 * vectorises and keeps the chunk's running distances in L1.
 */
#include "ml_kmeans.h"
#include "mlutil.h"
#include "ml_rng.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KM_CHUNK 256

void
ml_kmeans_defaults(struct ml_kmeans_params *p, int k)
{
	memset(p, 0, sizeof *p);
	p->k = k;
	p->max_iter = 300;
	p->tol = 1e-4;
	p->rounds = 5;
	p->oversampling = 0;
	p->seed = 0;
}

static int
km_check(const double *const *X, const double *w, size_t n, size_t d,
         char **err)
{
	if (d == 0)
		return ml_seterr(err, -EINVAL, "no feature columns");
	for (size_t j = 0; j < d; j++) {
		if (X[j] == NULL)
			return ml_seterr(err, -EINVAL, "column %zu is missing", j);
		double acc = 0;
		for (size_t i = 0; i < n; i++)
			acc += X[j][i] * 0.0;   /* NaN iff a value is NaN or inf */
		if (acc == acc)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(X[j][i]))
				return ml_seterr(err, -EINVAL, "row %zu: %s in column %zu",
				                 i, isnan(X[j][i]) ? "NaN" : "infinity", j);
	}
	if (w != NULL)
		for (size_t i = 0; i < n; i++)
			if (!(w[i] >= 0) || !isfinite(w[i]))
				return ml_seterr(err, -EINVAL, "row %zu: weight %g is not a "
				                 "finite number >= 0", i, w[i]);
	return 0;
}

/*
 * For rows i0..i0+m-1 (m <= KM_CHUNK): BEST = squared distance to the
 * nearest of the NC centres C, LAB = its index (lowest on ties).
 */
static void
km_nearest(const double *const *X, size_t i0, size_t m, size_t d,
           const double *C, size_t nc, double *best, int *lab)
{
	double tmp[KM_CHUNK];
	for (size_t i = 0; i < m; i++) {
		best[i] = INFINITY;
		lab[i] = 0;
	}
	for (size_t c = 0; c < nc; c++) {
		const double *cc = C + c * d;
		memset(tmp, 0, m * sizeof *tmp);
		for (size_t j = 0; j < d; j++) {
			const double *x = X[j] + i0;
			double cj = cc[j];
			for (size_t i = 0; i < m; i++) {
				double e = x[i] - cj;
				tmp[i] += e * e;
			}
		}
		for (size_t i = 0; i < m; i++)
			if (tmp[i] < best[i]) {
				best[i] = tmp[i];
				lab[i] = (int)c;
			}
	}
}

void
ml_kmeans_get_row(const double *const *X, size_t d, size_t i, double *out)
{
	for (size_t j = 0; j < d; j++)
		out[j] = X[j][i];
}

/* ---------------------------------------------------------------------
 * k-means|| initialisation
 */

/* Round 0 of the streams is the first centre; rounds 1.. oversample; the
 * last stream of the seed is the local reclustering. */
size_t
ml_kmeans_first_row(uint64_t seed, size_t n_total)
{
	struct ml_rng r;
	ml_rng_stream(&r, ml_rng_derive(seed, 0), 0);
	return (size_t)ml_rng_below(&r, n_total);
}

int
ml_kmeans_cost(const double *const *X, const double *w, size_t n, size_t d,
               const double *C, size_t nc, double *cost, char **err)
{
	int rc = km_check(X, w, n, d, err);
	if (rc < 0)
		return rc;
	if (nc == 0)
		return ml_seterr(err, -EINVAL, "no centres");
	double best[KM_CHUNK], s = 0;
	int lab[KM_CHUNK];
	for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
		size_t m = n - i0 < KM_CHUNK ? n - i0 : KM_CHUNK;
		km_nearest(X, i0, m, d, C, nc, best, lab);
		for (size_t i = 0; i < m; i++)
			s += (w ? w[i0 + i] : 1.0) * best[i];
	}
	*cost = s;
	return 0;
}

void
ml_kmeans_points_append(struct ml_kmeans_points *into,
                        const struct ml_kmeans_points *pts)
{
	if (pts->n == 0)
		return;
	into->d = pts->d;
	into->x = realloc(into->x, (into->n + pts->n) * pts->d * sizeof *into->x);
	if (into->x == NULL)
		abort();
	memcpy(into->x + into->n * pts->d, pts->x, pts->n * pts->d * sizeof *pts->x);
	into->n += pts->n;
}

void
ml_kmeans_points_free(struct ml_kmeans_points *p)
{
	free(p->x);
	memset(p, 0, sizeof *p);
}

int
ml_kmeans_oversample(const double *const *X, const double *w, size_t n,
                     size_t d, const double *C, size_t nc, double l,
                     double cost_total, uint64_t seed, int round,
                     size_t block, struct ml_kmeans_points *out, char **err)
{
	memset(out, 0, sizeof *out);
	out->d = d;
	int rc = km_check(X, w, n, d, err);
	if (rc < 0)
		return rc;
	if (nc == 0 || !(l > 0) || !(cost_total >= 0) || round < 1)
		return ml_seterr(err, -EINVAL, "oversampling needs centres, l > 0, "
		                 "a cost >= 0 and round >= 1");
	if (cost_total == 0)
		return 0;
	struct ml_rng r;
	ml_rng_stream(&r, ml_rng_derive(seed, (uint64_t)round), block);
	double best[KM_CHUNK];
	int lab[KM_CHUNK];
	size_t cap = 0;
	for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
		size_t m = n - i0 < KM_CHUNK ? n - i0 : KM_CHUNK;
		km_nearest(X, i0, m, d, C, nc, best, lab);
		for (size_t i = 0; i < m; i++) {
			double pr = l * (w ? w[i0 + i] : 1.0) * best[i] / cost_total;
			if (!(ml_rng_uniform(&r) < pr))
				continue;
			if (out->n == cap) {
				cap = cap ? 2 * cap : 16;
				out->x = realloc(out->x, cap * d * sizeof *out->x);
				if (out->x == NULL)
					abort();
			}
			ml_kmeans_get_row(X, d, i0 + i, out->x + out->n * d);
			out->n++;
		}
	}
	return 0;
}

int
ml_kmeans_cand_weights(const double *const *X, const double *w, size_t n,
                       size_t d, const double *C, size_t nc,
                       double *weights, char **err)
{
	int rc = km_check(X, w, n, d, err);
	if (rc < 0)
		return rc;
	if (nc == 0)
		return ml_seterr(err, -EINVAL, "no candidates");
	double best[KM_CHUNK];
	int lab[KM_CHUNK];
	for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
		size_t m = n - i0 < KM_CHUNK ? n - i0 : KM_CHUNK;
		km_nearest(X, i0, m, d, C, nc, best, lab);
		for (size_t i = 0; i < m; i++)
			weights[lab[i]] += w ? w[i0 + i] : 1.0;
	}
	return 0;
}

/* Squared distances from point P to each of the N rows of C (row-major). */
static void
km_dist_to(const double *C, size_t n, size_t d, const double *p, double *out)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < d; j++) {
			double e = C[i * d + j] - p[j];
			s += e * e;
		}
		out[i] = s;
	}
}

/* Index I with cum[I-1] <= v < cum[I] (numpy's searchsorted, side left,
 * on the running sums), clipped to n-1. */
static size_t
km_pick(const double *wd, size_t n, double v)
{
	double cum = 0;
	for (size_t i = 0; i < n; i++) {
		cum += wd[i];
		if (v < cum && wd[i] > 0)
			return i;
	}
	for (size_t i = n; i > 0; i--)
		if (wd[i - 1] > 0)
			return i - 1;
	return n - 1;
}


int
ml_kmeans_recluster(const double *C, const double *w, size_t nc, size_t d,
                    const struct ml_kmeans_params *p, double *centres,
                    char **err)
{
	if (p->k < 1)
		return ml_seterr(err, -EINVAL, "k must be at least 1");
	size_t k = (size_t)p->k;
	if (nc < k)
		return ml_seterr(err, -EDOM, "k-means|| gave %zu candidates for "
		                 "k = %zu: the data have fewer than k distinct "
		                 "points, or raise the oversampling or rounds", nc, k);
	struct ml_rng r;
	ml_rng_stream(&r, ml_rng_derive(p->seed, UINT64_MAX), 0);
	size_t trials = 2 + (size_t)log((double)k);
	double *closest = ml_alloc(nc, sizeof *closest);
	double *wd = ml_alloc(nc, sizeof *wd);
	double *cand = ml_alloc(trials * nc, sizeof *cand);
	int rc = 0;

	/* first centre: a candidate drawn with probability proportional to
	 * its weight */
	double wsum = 0;
	for (size_t i = 0; i < nc; i++)
		wsum += w[i];
	size_t first = km_pick(w, nc, ml_rng_uniform(&r) * wsum);
	memcpy(centres, C + first * d, d * sizeof *C);
	km_dist_to(C, nc, d, centres, closest);
	for (size_t c = 1; c < k; c++) {
		double pot = 0;
		for (size_t i = 0; i < nc; i++) {
			wd[i] = w[i] * closest[i];
			pot += wd[i];
		}
		if (!(pot > 0)) {
			rc = ml_seterr(err, -EDOM, "the data have fewer than k = %zu "
			               "distinct points", k);
			goto out;
		}
		/* greedy k-means++: keep the trial that lowers the potential most */
		size_t best = 0;
		double best_pot = INFINITY;
		for (size_t t = 0; t < trials; t++) {
			size_t id = km_pick(wd, nc, ml_rng_uniform(&r) * pot);
			double *dt = cand + t * nc;
			km_dist_to(C, nc, d, C + id * d, dt);
			double s = 0;
			for (size_t i = 0; i < nc; i++) {
				if (dt[i] > closest[i])
					dt[i] = closest[i];
				s += w[i] * dt[i];
			}
			if (s < best_pot) {
				best_pot = s;
				best = t;
				memcpy(centres + c * d, C + id * d, d * sizeof *C);
			}
		}
		memcpy(closest, cand + best * nc, nc * sizeof *closest);
	}

	/* weighted Lloyd on the candidates, held column-major for it */
	double **cols = ml_alloc(d, sizeof *cols);
	for (size_t j = 0; j < d; j++) {
		cols[j] = ml_alloc(nc, sizeof **cols);
		for (size_t i = 0; i < nc; i++)
			cols[j][i] = C[i * d + j];
	}
	struct ml_kmeans m;
	rc = ml_kmeans_lloyd((const double *const *)cols, w, nc, d, centres, p,
	                     &m, err);
	if (rc == 0) {
		memcpy(centres, m.centres, k * d * sizeof *centres);
		ml_kmeans_free(&m);
	}
	for (size_t j = 0; j < d; j++)
		free(cols[j]);
	free(cols);
out:
	free(closest);
	free(wd);
	free(cand);
	return rc;
}

/* ---------------------------------------------------------------------
 * Lloyd
 */

static void
km_partial_init(struct ml_kmeans_partial *p, int k, size_t d)
{
	memset(p, 0, sizeof *p);
	p->k = k;
	p->d = d;
	size_t K = (size_t)k;
	p->sums = ml_alloc(K * d, sizeof *p->sums);
	p->weights = ml_alloc(K, sizeof *p->weights);
	p->colsum = ml_alloc(d, sizeof *p->colsum);
	p->colsq = ml_alloc(d, sizeof *p->colsq);
	p->far_dist = ml_alloc(K, sizeof *p->far_dist);
	p->far_label = ml_alloc(K, sizeof *p->far_label);
	p->far_w = ml_alloc(K, sizeof *p->far_w);
	p->far_x = ml_alloc(K * d, sizeof *p->far_x);
}

void
ml_kmeans_partial_free(struct ml_kmeans_partial *p)
{
	if (p == NULL)
		return;
	free(p->sums);
	free(p->weights);
	free(p->colsum);
	free(p->colsq);
	free(p->far_dist);
	free(p->far_label);
	free(p->far_w);
	free(p->far_x);
	memset(p, 0, sizeof *p);
}

/* Offer a row to the "farthest rows" list (kept sorted, largest first;
 * on equal distances the earlier row stays ahead). */
static void
km_far_offer(struct ml_kmeans_partial *p, double dist, int label, double w,
             const double *x)
{
	size_t K = (size_t)p->k, d = p->d;
	if ((size_t)p->nfar == K && !(dist > p->far_dist[K - 1]))
		return;
	size_t pos = (size_t)p->nfar < K ? (size_t)p->nfar : K - 1;
	while (pos > 0 && dist > p->far_dist[pos - 1]) {
		p->far_dist[pos] = p->far_dist[pos - 1];
		p->far_label[pos] = p->far_label[pos - 1];
		p->far_w[pos] = p->far_w[pos - 1];
		memcpy(p->far_x + pos * d, p->far_x + (pos - 1) * d, d * sizeof *x);
		pos--;
	}
	p->far_dist[pos] = dist;
	p->far_label[pos] = label;
	p->far_w[pos] = w;
	memcpy(p->far_x + pos * d, x, d * sizeof *x);
	if ((size_t)p->nfar < K)
		p->nfar++;
}

int
ml_kmeans_lloyd_partial(const double *const *X, const double *w, size_t n,
                        size_t d, const double *centres, int k,
                        struct ml_kmeans_partial *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (k < 1)
		return ml_seterr(err, -EINVAL, "k must be at least 1");
	int rc = km_check(X, w, n, d, err);
	if (rc < 0)
		return rc;
	km_partial_init(out, k, d);
	double best[KM_CHUNK], *row = ml_alloc(d, sizeof *row);
	int lab[KM_CHUNK];
	for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
		size_t m = n - i0 < KM_CHUNK ? n - i0 : KM_CHUNK;
		km_nearest(X, i0, m, d, centres, (size_t)k, best, lab);
		for (size_t j = 0; j < d; j++) {
			const double *x = X[j] + i0;
			double *sj = out->sums + j;
			double cs = 0, cq = 0;
			if (w == NULL)
				for (size_t i = 0; i < m; i++)
					sj[(size_t)lab[i] * d] += x[i];
			else
				for (size_t i = 0; i < m; i++)
					sj[(size_t)lab[i] * d] += w[i0 + i] * x[i];
			for (size_t i = 0; i < m; i++) {
				cs += x[i];
				cq += x[i] * x[i];
			}
			out->colsum[j] += cs;
			out->colsq[j] += cq;
		}
		for (size_t i = 0; i < m; i++) {
			double wi = w ? w[i0 + i] : 1.0;
			out->weights[lab[i]] += wi;
			out->inertia += wi * best[i];
			if ((size_t)out->nfar < (size_t)k ||
			    best[i] > out->far_dist[k - 1]) {
				ml_kmeans_get_row(X, d, i0 + i, row);
				km_far_offer(out, best[i], lab[i], wi, row);
			}
		}
	}
	out->n = (double)n;
	free(row);
	return 0;
}

int
ml_kmeans_partial_merge(struct ml_kmeans_partial *into,
                        const struct ml_kmeans_partial *from, char **err)
{
	if (into->k != from->k || into->d != from->d)
		return ml_seterr(err, -EINVAL, "partials differ in k or columns");
	size_t K = (size_t)into->k, d = into->d;
	for (size_t i = 0; i < K * d; i++)
		into->sums[i] += from->sums[i];
	for (size_t c = 0; c < K; c++)
		into->weights[c] += from->weights[c];
	for (size_t j = 0; j < d; j++) {
		into->colsum[j] += from->colsum[j];
		into->colsq[j] += from->colsq[j];
	}
	into->inertia += from->inertia;
	into->n += from->n;
	for (int i = 0; i < from->nfar; i++)
		km_far_offer(into, from->far_dist[i], from->far_label[i],
		             from->far_w[i], from->far_x + (size_t)i * d);
	return 0;
}

double
ml_kmeans_scaled_tol(const struct ml_kmeans_partial *p, double tol)
{
	if (!(p->n > 0))
		return 0;
	double s = 0;
	for (size_t j = 0; j < p->d; j++) {
		double mean = p->colsum[j] / p->n;
		double var = p->colsq[j] / p->n - mean * mean;
		s += var > 0 ? var : 0;
	}
	return tol * s / (double)p->d;
}

int
ml_kmeans_lloyd_finish(const struct ml_kmeans_partial *p, const double *old,
                       double *new_centres, double *shift2, char **err)
{
	size_t K = (size_t)p->k, d = p->d;
	double *wt = ml_alloc(K, sizeof *wt);
	memcpy(new_centres, p->sums, K * d * sizeof *new_centres);
	memcpy(wt, p->weights, K * sizeof *wt);
	/* empty clusters take the rows farthest from their centres, which
	 * leave their own cluster (scikit-learn's relocation) */
	size_t used = 0;
	for (size_t c = 0; c < K; c++) {
		if (p->weights[c] > 0)
			continue;
		if (used >= (size_t)p->nfar) {
			free(wt);
			return ml_seterr(err, -EDOM, "cluster %zu is empty and no "
			                 "row is left to move into it", c);
		}
		const double *x = p->far_x + used * d;
		double fw = p->far_w[used];
		size_t from = (size_t)p->far_label[used];
		for (size_t j = 0; j < d; j++) {
			new_centres[from * d + j] -= x[j] * fw;
			new_centres[c * d + j] = x[j] * fw;
		}
		wt[c] = fw;
		wt[from] -= fw;
		used++;
	}
	double s = 0;
	for (size_t c = 0; c < K; c++)
		for (size_t j = 0; j < d; j++) {
			double *v = &new_centres[c * d + j];
			if (wt[c] > 0)
				*v /= wt[c];
			else
				*v = old[c * d + j];
			double e = *v - old[c * d + j];
			s += e * e;
		}
	free(wt);
	*shift2 = s;
	return 0;
}

int
ml_kmeans_partial_to_json(const struct ml_kmeans_partial *p, json_t **out)
{
	json_t *labels = json_array();
	for (int i = 0; i < p->nfar; i++)
		json_array_append_new(labels, json_integer(p->far_label[i]));
	size_t nf = (size_t)p->nfar, d = p->d;
	*out = json_pack("{s:s s:i s:I s:o s:o s:f s:f s:o s:o s:o s:o s:o s:o}",
	    "type", "kmeans_partial", "k", p->k, "d", (json_int_t)d,
	    "sums", ml_json_reals(p->sums, (size_t)p->k * d),
	    "weights", ml_json_reals(p->weights, (size_t)p->k),
	    "inertia", p->inertia, "n", p->n,
	    "colsum", ml_json_reals(p->colsum, d), "colsq", ml_json_reals(p->colsq, d),
	    "far_dist", ml_json_reals(p->far_dist, nf), "far_label", labels,
	    "far_w", ml_json_reals(p->far_w, nf), "far_x", ml_json_reals(p->far_x, nf * d));
	return *out ? 0 : -ENOMEM;
}

int
ml_kmeans_partial_from_json(const json_t *j, struct ml_kmeans_partial *out,
                            char **err)
{
	memset(out, 0, sizeof *out);
	json_int_t k = 0, d = 0;
	double inertia = 0, n = 0;
	const json_t *labels = NULL;
	json_error_t jerr;
	if (json_unpack_ex((json_t *)j, &jerr, 0, "{s:I s:I s:F s:F s:o}", "k", &k,
	                   "d", &d, "inertia", &inertia, "n", &n,
	                   "far_label", &labels) < 0)
		return ml_seterr(err, -EINVAL, "bad k-means partial: %s", jerr.text);
	if (k < 1 || k > 1000000 || d < 1 || d > 1000000 ||
	    !json_is_array(labels) || json_array_size(labels) > (size_t)k)
		return ml_seterr(err, -EINVAL, "bad k-means partial: k, d or "
		                 "far_label out of range");
	km_partial_init(out, (int)k, (size_t)d);
	out->inertia = inertia;
	out->n = n;
	out->nfar = (int)json_array_size(labels);
	size_t K = (size_t)k, D = (size_t)d, nf = (size_t)out->nfar;
	int rc;
	if ((rc = ml_json_get_reals(j, "sums", out->sums, K * D, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "weights", out->weights, K, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "colsum", out->colsum, D, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "colsq", out->colsq, D, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "far_dist", out->far_dist, nf, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "far_w", out->far_w, nf, err)) < 0 ||
	    (rc = ml_json_get_reals(j, "far_x", out->far_x, nf * D, err)) < 0) {
		ml_kmeans_partial_free(out);
		return rc;
	}
	for (size_t i = 0; i < nf; i++) {
		const json_t *e = json_array_get(labels, i);
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) >= k) {
			ml_kmeans_partial_free(out);
			return ml_seterr(err, -EINVAL, "far_label item %zu is not a "
			                 "cluster index", i);
		}
		out->far_label[i] = (int)json_integer_value(e);
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Drivers
 */

/* K clusters of N rows need 1 <= K <= N. */
static int
km_check_k(size_t n, int k, char **err)
{
	if (n == 0)
		return ml_seterr(err, -EINVAL, "no rows");
	if (k < 1 || (size_t)k > n)
		return ml_seterr(err, -EINVAL, "k = %d must be in 1..%zu (the "
		                 "number of rows)", k, n);
	return 0;
}

int
ml_kmeans_lloyd(const double *const *X, const double *w, size_t n, size_t d,
                const double *init, const struct ml_kmeans_params *p,
                struct ml_kmeans *out, char **err)
{
	memset(out, 0, sizeof *out);
	int rc = km_check_k(n, p->k, err);
	if (rc < 0)
		return rc;
	size_t K = (size_t)p->k;
	for (size_t i = 0; i < K * d; i++)
		if (!isfinite(init[i]))
			return ml_seterr(err, -EINVAL, "initial centre %zu is not finite",
			                 i / d);
	double *c = ml_alloc(K * d, sizeof *c), *nc = ml_alloc(K * d, sizeof *nc);
	memcpy(c, init, K * d * sizeof *c);
	double tol = 0;
	int it = 0;
	struct ml_kmeans_partial part;
	for (it = 0; it < p->max_iter; it++) {
		double shift;
		if ((rc = ml_kmeans_lloyd_partial(X, w, n, d, c, p->k, &part, err)) < 0)
			goto fail;
		if (it == 0)
			tol = ml_kmeans_scaled_tol(&part, p->tol);
		rc = ml_kmeans_lloyd_finish(&part, c, nc, &shift, err);
		ml_kmeans_partial_free(&part);
		if (rc < 0)
			goto fail;
		double *tmp = c;
		c = nc;
		nc = tmp;
		if (shift <= tol) {
			it++;
			break;
		}
	}
	/* the inertia (and the labels predict gives) belong to the final
	 * centres: one more assignment pass, as scikit-learn does */
	if ((rc = ml_kmeans_lloyd_partial(X, w, n, d, c, p->k, &part, err)) < 0)
		goto fail;
	out->k = p->k;
	out->d = d;
	out->centres = c;
	out->inertia = part.inertia;
	out->iterations = it;
	ml_kmeans_partial_free(&part);
	free(nc);
	return 0;
fail:
	free(c);
	free(nc);
	return rc;
}

int
ml_kmeans_fit(const double *const *X, const double *w, size_t n, size_t d,
              const struct ml_kmeans_params *p, size_t nblocks,
              struct ml_kmeans *out, char **err)
{
	memset(out, 0, sizeof *out);
	int rc = km_check_k(n, p->k, err);
	if (rc == 0)
		rc = km_check(X, w, n, d, err);
	if (rc < 0)
		return rc;
	if (nblocks == 0)
		nblocks = 1;
	/* Blocks past the n-th would be empty, and an empty block samples
	 * nothing and costs nothing: dropping them changes no result. */
	if (nblocks > n)
		nblocks = n;
	double l = p->oversampling > 0 ? p->oversampling : 2.0 * p->k;
	/* Blocks are cut as ingest cuts partitions (plugins/ingest/ingest.c):
	 * in order, the first n % nb one row longer than the others, so that
	 * block b is partition b and draws from the same RNG stream for the
	 * same rows as the distributed driver.  Xb are the column views. */
	const double **Xb = ml_alloc(nblocks * d, sizeof *Xb);
	size_t *start = ml_alloc(nblocks + 1, sizeof *start);
	start[0] = 0;
	for (size_t b = 0; b < nblocks; b++)
		start[b + 1] = start[b] + n / nblocks + (b < n % nblocks);
	for (size_t b = 0; b < nblocks; b++)
		for (size_t j = 0; j < d; j++)
			Xb[b * d + j] = X[j] + start[b];
#define BLK(b) ((const double *const *)(Xb + (b) * d)), \
	(w ? w + start[b] : NULL), (start[(b) + 1] - start[b])

	struct ml_kmeans_points C = { 0, d, NULL };
	double *weights = NULL;
	C.x = ml_alloc(d, sizeof *C.x);
	ml_kmeans_get_row(X, d, ml_kmeans_first_row(p->seed, n), C.x);
	C.n = 1;
	for (int r = 1; r <= p->rounds; r++) {
		double psi = 0;
		for (size_t b = 0; b < nblocks; b++) {
			double cb;
			if ((rc = ml_kmeans_cost(BLK(b), d, C.x, C.n, &cb, err)) < 0)
				goto out;
			psi += cb;
		}
		struct ml_kmeans_points add = { 0, d, NULL };
		for (size_t b = 0; b < nblocks; b++) {
			struct ml_kmeans_points pb;
			if ((rc = ml_kmeans_oversample(BLK(b), d, C.x, C.n, l, psi,
			                               p->seed, r, b, &pb, err)) < 0) {
				ml_kmeans_points_free(&add);
				goto out;
			}
			ml_kmeans_points_append(&add, &pb);
			ml_kmeans_points_free(&pb);
		}
		/* the new candidates join only after the round, so every block
		 * sampled against the same C and the same psi */
		ml_kmeans_points_append(&C, &add);
		ml_kmeans_points_free(&add);
	}
	weights = ml_alloc(C.n, sizeof *weights);
	for (size_t b = 0; b < nblocks; b++)
		if ((rc = ml_kmeans_cand_weights(BLK(b), d, C.x, C.n, weights, err)) < 0)
			goto out;
	double *init = ml_alloc((size_t)p->k * d, sizeof *init);
	rc = ml_kmeans_recluster(C.x, weights, C.n, d, p, init, err);
	if (rc == 0)
		rc = ml_kmeans_lloyd(X, w, n, d, init, p, out, err);
	free(init);
#undef BLK
out:
	free(weights);
	ml_kmeans_points_free(&C);
	free(Xb);
	free(start);
	return rc;
}

int
ml_kmeans_predict(const struct ml_kmeans *m, const double *const *X,
                  size_t n, int *labels, char **err)
{
	int rc = km_check(X, NULL, n, m->d, err);
	if (rc < 0)
		return rc;
	double best[KM_CHUNK];
	for (size_t i0 = 0; i0 < n; i0 += KM_CHUNK) {
		size_t cnt = n - i0 < KM_CHUNK ? n - i0 : KM_CHUNK;
		km_nearest(X, i0, cnt, m->d, m->centres, (size_t)m->k, best,
		           labels + i0);
	}
	return 0;
}

int
ml_kmeans_to_json(const struct ml_kmeans *m, json_t **out)
{
	json_t *cs = json_array();
	for (int c = 0; c < m->k; c++)
		json_array_append_new(cs, ml_json_reals(m->centres + (size_t)c * m->d, m->d));
	*out = json_pack("{s:s s:i s:I s:o s:f s:i}", "type", "kmeans", "k", m->k,
	                 "d", (json_int_t)m->d, "centres", cs,
	                 "inertia", m->inertia, "iterations", m->iterations);
	return *out ? 0 : -ENOMEM;
}

int
ml_kmeans_from_json(const json_t *j, struct ml_kmeans *out, char **err)
{
	memset(out, 0, sizeof *out);
	const char *type = NULL;
	json_int_t k = 0, d = 0, iters = 0;
	double inertia = 0;
	const json_t *cs = NULL;
	json_error_t jerr;
	if (json_unpack_ex((json_t *)j, &jerr, 0, "{s:s s:I s:I s:o s?F s?I}",
	                   "type", &type, "k", &k, "d", &d, "centres", &cs,
	                   "inertia", &inertia, "iterations", &iters) < 0)
		return ml_seterr(err, -EINVAL, "bad k-means JSON: %s", jerr.text);
	if (strcmp(type, "kmeans") != 0)
		return ml_seterr(err, -EINVAL, "model type '%s' is not 'kmeans'", type);
	if (k < 1 || k > 1000000 || d < 1 || d > 1000000 || !json_is_array(cs) ||
	    json_array_size(cs) != (size_t)k)
		return ml_seterr(err, -EINVAL, "bad k-means JSON: k, d or centres "
		                 "out of range");
	out->k = (int)k;
	out->d = (size_t)d;
	out->inertia = inertia;
	out->iterations = (int)iters;
	out->centres = ml_alloc((size_t)k * (size_t)d, sizeof *out->centres);
	for (size_t c = 0; c < (size_t)k; c++) {
		int rc = ml_json_reals_get(json_array_get(cs, c), "centres",
		                           out->centres + c * (size_t)d, (size_t)d, err);
		if (rc < 0) {
			ml_kmeans_free(out);
			return rc;
		}
	}
	return 0;
}

void
ml_kmeans_free(struct ml_kmeans *m)
{
	if (m == NULL)
		return;
	free(m->centres);
	memset(m, 0, sizeof *m);
}
