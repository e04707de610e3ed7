/* SPDX-License-Identifier: MIT */
/*
 * ml_kmeans.h - k-means clustering: k-means|| initialisation (Bahmani et al.,
 * "Scalable k-means++", 2012) and Lloyd iterations, both as partial
 * functions over one block of rows so a driver can spread them over
 * partitions.
 *
 * Distributed plan (blocks = partitions, in partition order):
 *   init   centre 0 = global row ml_kmeans_first_row(seed, n_total)
 *          for round r = 1..rounds:
 *            psi   = sum over blocks of ml_kmeans_cost(block, C)
 *            C    += concatenation over blocks b, in order, of
 *                    ml_kmeans_oversample(block b, C, l, psi, seed, r, b)
 *          w       = sum over blocks of ml_kmeans_cand_weights(block, C)
 *          centres = ml_kmeans_recluster(C, w, k, seed)     (local)
 *   Lloyd  repeat: P = merge over blocks of ml_kmeans_lloyd_partial(block,
 *          centres); ml_kmeans_lloyd_finish(P, centres, new, &shift);
 *          stop when shift <= tol * mean column variance or max_iter; a
 *          last partial with the final centres gives the inertia.
 *
 * The trade-off: the oversampling step draws from RNG stream (seed, round,
 * block), so the initial centres - and therefore the final clustering -
 * depend on how rows are split into blocks (the same partitioning and
 * seed always give the same result).  Making the draw independent of the
 * partitioning would need a stream per row (costly) or global row numbers
 * in every block; the Lloyd part does not have this problem: given the
 * initial centres it is exact and independent of the blocks up to
 * floating-point rounding, and matches scikit-learn's KMeans(init=centres,
 * n_init=1, algorithm="lloyd") (same tolerance rule, same empty-cluster
 * relocation to the farthest points).
 *
 * Centres are row-major: k rows of d doubles.  X is column-major as
 * everywhere in lib/ml.  Optional sample weights W (NULL = all 1).
 *
 * Bad input (-EINVAL with a message): 0 rows, 0 columns, k < 1, k > n
 * rows, NaN or infinity in X ("row 17: NaN in column 3"), a negative
 * weight.  k-means|| yielding fewer distinct candidates than k (data with
 * fewer than k distinct points) is -EDOM.
 *
 * Thread-safety: no global state.
 */
#ifndef KILN_ML_KMEANS_H
#define KILN_ML_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ml_kmeans_params {
	int k;
	int max_iter;          /* Lloyd iterations, default 300 */
	double tol;            /* default 1e-4, times the mean column variance */
	int rounds;            /* k-means|| rounds, default 5 */
	double oversampling;   /* l, default 2k (0 = default) */
	uint64_t seed;
};

struct ml_kmeans {
	int k;
	size_t d;
	double *centres;       /* k x d, row-major */
	double inertia;        /* sum of squared distances to nearest centre */
	int iterations;        /* Lloyd iterations run */
};

/* Candidate centres from k-means|| (row-major). */
struct ml_kmeans_points {
	size_t n, d;
	double *x;             /* n x d */
};

/* Sufficient statistics of one Lloyd step over some blocks. */
struct ml_kmeans_partial {
	int k;
	size_t d;
	double *sums;          /* k x d weighted sums of the rows of a cluster */
	double *weights;       /* k total weights */
	double inertia;        /* w.r.t. the centres the partial was made with */
	double n;              /* rows (unweighted, like colsum and colsq) */
	double *colsum, *colsq; /* d column sums and sums of squares, for the
	                           tolerance (scikit-learn scales tol by the
	                           unweighted column variances) */
	/* the (up to k) rows farthest from their centre, largest first, for
	 * relocating empty clusters as scikit-learn does */
	int nfar;
	double *far_dist;      /* k */
	int *far_label;        /* k */
	double *far_w;         /* k */
	double *far_x;         /* k x d */
};

void ml_kmeans_defaults(struct ml_kmeans_params *p, int k);

/* -------- k-means|| initialisation, partial functions -------- */

/* Global index (0..n_total-1) of the row that becomes the first centre. */
size_t ml_kmeans_first_row(uint64_t seed, size_t n_total);

/* Copy row I of X (d columns) into OUT (d doubles). */
void ml_kmeans_get_row(const double *const *X, size_t d, size_t i, double *out);

/* *COST = sum over the block's rows of w * min squared distance to C. */
int ml_kmeans_cost(const double *const *X, const double *w, size_t n, size_t d,
                   const double *C, size_t nc, double *cost, char **err);

/*
 * Round ROUND of oversampling on block BLOCK: each row is chosen with
 * probability min(1, l * w * dist^2 / cost_total), using RNG stream
 * (seed, round, block).  OUT receives the chosen rows (caller frees
 * with ml_kmeans_points_free).  cost_total 0 chooses nothing.
 */
int ml_kmeans_oversample(const double *const *X, const double *w, size_t n,
                         size_t d, const double *C, size_t nc, double l,
                         double cost_total, uint64_t seed, int round,
                         size_t block, struct ml_kmeans_points *out,
                         char **err);

/* Append POINTS to INTO (same d; into may be zeroed). */
void ml_kmeans_points_append(struct ml_kmeans_points *into,
                             const struct ml_kmeans_points *points);
void ml_kmeans_points_free(struct ml_kmeans_points *p);

/* WEIGHTS[c] += total weight of the block's rows nearest to candidate c
 * (ties to the lowest index).  WEIGHTS holds nc doubles. */
int ml_kmeans_cand_weights(const double *const *X, const double *w, size_t n,
                           size_t d, const double *C, size_t nc,
                           double *weights, char **err);

/*
 * Local step: weighted k-means++ (greedy, 2 + log k trials per centre, as
 * scikit-learn) on the NC candidates C with weights W, then weighted Lloyd.
 * CENTRES gets k x d.
 */
int ml_kmeans_recluster(const double *C, const double *w, size_t nc, size_t d,
                        const struct ml_kmeans_params *p, double *centres,
                        char **err);

/* -------- Lloyd, partial functions -------- */

/* Statistics of one block w.r.t. CENTRES (k x d).  OUT is initialised
 * here; free it with ml_kmeans_partial_free. */
int ml_kmeans_lloyd_partial(const double *const *X, const double *w, size_t n,
                            size_t d, const double *centres, int k,
                            struct ml_kmeans_partial *out, char **err);

/* INTO += FROM (call in block order). */
int ml_kmeans_partial_merge(struct ml_kmeans_partial *into,
                            const struct ml_kmeans_partial *from, char **err);

/*
 * New centres from merged statistics (empty clusters take the farthest
 * rows); *SHIFT2 = sum of squared centre moves w.r.t. OLD.  NEW and OLD
 * may not alias.
 */
int ml_kmeans_lloyd_finish(const struct ml_kmeans_partial *p, const double *old,
                           double *new_centres, double *shift2, char **err);

/* The tolerance scikit-learn uses: tol * mean column variance. */
double ml_kmeans_scaled_tol(const struct ml_kmeans_partial *p, double tol);

void ml_kmeans_partial_free(struct ml_kmeans_partial *p);
int ml_kmeans_partial_to_json(const struct ml_kmeans_partial *p, json_t **out);
int ml_kmeans_partial_from_json(const json_t *j, struct ml_kmeans_partial *out,
                                char **err);

/* -------- single-machine drivers -------- */

/* Lloyd from INIT (k x d) over one block; fills OUT (caller frees). */
int ml_kmeans_lloyd(const double *const *X, const double *w, size_t n, size_t d,
                    const double *init, const struct ml_kmeans_params *p,
                    struct ml_kmeans *out, char **err);

/*
 * k-means|| + Lloyd with the rows split into NBLOCKS blocks as `ingest`
 * splits them into partitions (in order, sizes differing by at most one:
 * the first n % NBLOCKS blocks one row longer), exactly as the
 * distributed driver would run it on such partitions; nblocks 0 means 1.
 */
int ml_kmeans_fit(const double *const *X, const double *w, size_t n, size_t d,
                  const struct ml_kmeans_params *p, size_t nblocks,
                  struct ml_kmeans *out, char **err);

/* Nearest centre (lowest index on ties) of each of the N rows of X. */
int ml_kmeans_predict(const struct ml_kmeans *m, const double *const *X,
                      size_t n, int *labels, char **err);

/* {"type": "kmeans", "k", "d", "centres": [[...], ...], "inertia",
 *  "iterations"} */
int ml_kmeans_to_json(const struct ml_kmeans *m, json_t **out);
int ml_kmeans_from_json(const json_t *j, struct ml_kmeans *out, char **err);
void ml_kmeans_free(struct ml_kmeans *m);

#endif
