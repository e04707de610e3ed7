/* SPDX-License-Identifier: MIT */
/*
 * kmeans.c - the bundled 'kmeans' plugin: k-means clustering with k-means||
 * initialisation and Lloyd iterations, every pass over the data a stage
 * over the dataset's partitions (lib/ml/ml_kmeans.h does the arithmetic).
 *
 * The driver (run) never holds the rows, only candidates and centres:
 *   scan     each partition: its row count, column means and squared
 *            deviations (for `standardise`), and the first bad value;
 *   row      the first centre, global row ml_kmeans_first_row(seed, n);
 *   rounds   for r = 1..rounds: a `cost` stage (psi, the total squared
 *            distance to the candidates) then a `sample` stage (partition
 *            b oversamples with RNG stream (seed, r, b)); the new
 *            candidates join after the round, in partition order;
 *   weights  how many rows each candidate attracts;
 *   (local)  ml_kmeans_recluster() picks k centres from the candidates;
 *   lloyd    one stage per iteration: partial sums merged in partition
 *            order, until the centres move less than tol (scaled by the
 *            mean column variance, as scikit-learn) or max_iter; one last
 *            stage gives the inertia and the cluster sizes.
 * This is exactly what ml_kmeans_fit() does on one machine with the rows
 * cut into the same blocks.
 *
 * The library's documented trade-off applies: the oversampling draws from
 * a stream per (round, partition), so the initial centres - and so the
 * clustering - depend on how the rows are partitioned (the same dataset,
 * partitioning and seed always give the same model.json).  Lloyd from
 * given centres is exact: independent of the partitioning up to
 * floating-point rounding.
 *
 * Parameters: k (required), features, exclude (the schema's label column
 * is left out automatically), seed (42), max_iter (300), tol (1e-4),
 * oversampling (l, 0: 2k), rounds (5), standardise (false: cluster the
 * raw values; true: each column scaled to mean 0 and unit variance first,
 * as scikit-learn's StandardScaler).  Output: model.json ({"type":
 * "kmeans","dataset":...,"model":...,"scaler":{"mean","scale"} when
 * standardised - the model's centres are then in standardised units}).
 * Result: centres (original units), inertia (in the units clustered),
 * iterations, cluster sizes, candidates, stages, fit_ms.
 *
 * Bad input found by a map task (a NaN or missing feature value) comes
 * back as a result naming the data row and column, not as a failed map
 * task, so it is reported once and not retried.  Thread-safe: all state
 * belongs to one call.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_kmeans.h"
#include "ml/mlplug.h"

#define KMEANS_MAX_K 100000
#define KMEANS_MAX_ROUNDS 100

static const struct kiln_param kmeans_params[] = {
	{ "k", "int", NULL, "number of clusters" },
	{ "features", "string", "", "comma-separated feature columns (default: all numeric)" },
	{ "exclude", "string", "", "comma-separated columns to leave out (the label is left out anyway)" },
	MLP_PARAM_IMPUTE,
	{ "seed", "int", "42", "random seed" },
	{ "max_iter", "int", "300", "most Lloyd iterations" },
	{ "tol", "number", "1e-4", "stop when the centres move less (times the mean column variance)" },
	{ "oversampling", "number", "0", "k-means|| oversampling factor l (0: 2k)" },
	{ "rounds", "int", "5", "k-means|| rounds" },
	{ "standardise", "bool", "false", "scale columns to mean 0, variance 1 first" },
	{ NULL, NULL, NULL, NULL },
};

static json_t *
kmeans_reals(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

/* Read exactly N numbers of array A into V; -1 if it is not that. */
static int
kmeans_read(const json_t *a, double *v, size_t n)
{
	if (!json_is_array(a) || json_array_size(a) != n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		if (!json_is_number(x))
			return -1;
		v[i] = json_number_value(x);
	}
	return 0;
}

/* ------------------------------------------------------------ driver */

struct kmeans_driver {
	kiln_task *t;
	const struct kiln_host *h;
	struct mlp_dataset ds;
	struct ml_kmeans_params p;
	json_t *scaler;         /* {"mean","scale"} or NULL */
	size_t *nrows;          /* rows per partition */
	int stages;
};

/*
 * Run stage FN over the partitions with broadcast B (stolen; the scaler is
 * added).  A partition's "error" result fails the stage with its message.
 */
static int
kmeans_stage(struct kmeans_driver *d, const char *fn, json_t *b,
             json_t ***res, char **err)
{
	if (d->h->cancelled(d->t)) {
		json_decref(b);
		return ml_seterr(err, KILN_ECANCELLED, "cancelled");
	}
	if (d->scaler != NULL)
		json_object_set(b, "scaler", d->scaler);
	int rc = mlp_stage_parts(d->t, d->h, fn, &d->ds, b, res, err);
	json_decref(b);
	if (rc != 0)
		return rc;
	d->stages++;
	for (int i = 0; i < d->ds.nparts; i++) {
		const char *msg = json_string_value(json_object_get((*res)[i], "error"));
		if (msg != NULL) {
			rc = ml_seterr(err, -EINVAL, "partition %d: %s", i, msg);
			mlp_results_free(*res, d->ds.nparts);
			*res = NULL;
			return rc;
		}
	}
	return 0;
}

/* Stage `scan`: row counts, a bad value, and the scaler if wanted. */
static int
kmeans_scan(struct kmeans_driver *d, int standardise, size_t *ntotal, char **err)
{
	json_t **res = NULL;
	int rc = kmeans_stage(d, "scan", json_object(), &res, err);
	if (rc != 0)
		return rc;
	size_t D = d->ds.d, off = 0;
	double n = 0, *mean = calloc(D, sizeof *mean), *m2 = calloc(D, sizeof *m2);
	double *mi = calloc(D, sizeof *mi), *m2i = calloc(D, sizeof *m2i);
	d->nrows = calloc((size_t)d->ds.nparts + 1, sizeof *d->nrows);
	for (int i = 0; i < d->ds.nparts && rc == 0; i++) {
		json_t *bad = json_object_get(res[i], "bad");
		/* "n" sizes the row index (kmeans_locate): none negative, and
		 * together no more than the dataset's rows. */
		int64_t pn = 0;
		if (bad == NULL)
			rc = mlp_json_range(json_object_get(res[i], "n"), 0,
			                    (int64_t)(d->ds.rows - off), &pn, err,
			                    "kmeans: partition %d's row count n", i);
		if (rc != 0)
			break;
		double ni = (double)pn;
		if (bad != NULL) {
			size_t row = off + (size_t)json_integer_value(json_object_get(bad, "row"));
			rc = ml_seterr(err, -EINVAL, "data row %zu (line %zu of the CSV): "
			             "%s in feature column '%s': k-means needs every "
			             "value; drop or impute the row, or leave the column "
			             "out with `exclude`", row + 1, row + 2,
			             json_string_value(json_object_get(bad, "what")),
			             json_string_value(json_object_get(bad, "column")));
			break;
		}
		d->nrows[i] = (size_t)ni;
		off += (size_t)ni;
		if (ni <= 0)
			continue;
		if (kmeans_read(json_object_get(res[i], "mean"), mi, D) != 0 ||
		    kmeans_read(json_object_get(res[i], "m2"), m2i, D) != 0) {
			rc = ml_seterr(err, -EIO, "partition %d: bad scan result", i);
			break;
		}
		/* Chan et al.'s pairwise update, in partition order */
		double tot = n + ni;
		for (size_t j = 0; j < D; j++) {
			double delta = mi[j] - mean[j];
			mean[j] += delta * ni / tot;
			m2[j] += m2i[j] + delta * delta * n * ni / tot;
		}
		n = tot;
	}
	mlp_results_free(res, d->ds.nparts);
	*ntotal = off;
	if (rc == 0 && standardise) {
		/* a constant column keeps scale 1, as StandardScaler does */
		for (size_t j = 0; j < D; j++) {
			double sd = n > 0 ? sqrt(m2[j] / n) : 0;
			m2[j] = sd > 0 && isfinite(sd) ? sd : 1.0;
		}
		d->scaler = json_pack("{s:o,s:o}", "mean", kmeans_reals(mean, D),
		                      "scale", kmeans_reals(m2, D));
	}
	free(mean);
	free(m2);
	free(mi);
	free(m2i);
	return rc;
}

/* The first candidate: global row ml_kmeans_first_row(seed, n). */
static int
kmeans_first(struct kmeans_driver *d, size_t ntotal, double *x, char **err)
{
	size_t g = ml_kmeans_first_row(d->p.seed, ntotal), part = 0;
	while (part + 1 < (size_t)d->ds.nparts && g >= d->nrows[part])
		g -= d->nrows[part++];
	json_t **res = NULL;
	int rc = kmeans_stage(d, "row", json_pack("{s:I,s:I}", "part",
	                      (json_int_t)part, "row", (json_int_t)g), &res, err);
	if (rc != 0)
		return rc;
	if (kmeans_read(json_object_get(res[part], "x"), x, d->ds.d) != 0)
		rc = ml_seterr(err, -EIO, "partition %zu did not return row %zu", part, g);
	mlp_results_free(res, d->ds.nparts);
	return rc;
}

/* The k-means|| rounds and candidate weights; C and *W filled. */
static int
kmeans_init(struct kmeans_driver *d, struct ml_kmeans_points *C, double **w,
            char **err)
{
	size_t D = d->ds.d;
	double l = d->p.oversampling > 0 ? d->p.oversampling : 2.0 * d->p.k;
	int rc = 0;
	json_t **res = NULL;
	for (int r = 1; r <= d->p.rounds && rc == 0; r++) {
		rc = kmeans_stage(d, "cost", json_pack("{s:o}", "C",
		                  kmeans_reals(C->x, C->n * D)), &res, err);
		if (rc != 0)
			break;
		double psi = 0;
		for (int i = 0; i < d->ds.nparts; i++)
			psi += json_number_value(json_object_get(res[i], "cost"));
		mlp_results_free(res, d->ds.nparts);
		/* every row is a candidate already: nothing can be drawn
		 * (the library's oversampling picks nothing when psi is 0) */
		if (!(psi > 0))
			break;
		rc = kmeans_stage(d, "sample", json_pack("{s:o,s:f,s:f,s:I,s:i}",
		                  "C", kmeans_reals(C->x, C->n * D), "l", l,
		                  "psi", psi, "seed", (json_int_t)d->p.seed,
		                  "round", r), &res, err);
		if (rc != 0)
			break;
		struct ml_kmeans_points add = { 0, D, NULL };
		for (int i = 0; i < d->ds.nparts && rc == 0; i++) {
			json_t *x = json_object_get(res[i], "x");
			struct ml_kmeans_points pb = { json_array_size(x) / D, D, NULL };
			pb.x = calloc(pb.n * D + 1, sizeof *pb.x);
			if (kmeans_read(x, pb.x, pb.n * D) != 0)
				rc = ml_seterr(err, -EIO, "partition %d: bad sample", i);
			else
				ml_kmeans_points_append(&add, &pb);
			ml_kmeans_points_free(&pb);
		}
		mlp_results_free(res, d->ds.nparts);
		/* the new candidates join only after the round, so every
		 * partition sampled against the same C and psi */
		ml_kmeans_points_append(C, &add);
		ml_kmeans_points_free(&add);
	}
	if (rc != 0)
		return rc;
	rc = kmeans_stage(d, "weights", json_pack("{s:o}", "C",
	                  kmeans_reals(C->x, C->n * D)), &res, err);
	if (rc != 0)
		return rc;
	*w = calloc(C->n + 1, sizeof **w);
	double *wi = calloc(C->n + 1, sizeof *wi);
	for (int i = 0; i < d->ds.nparts && rc == 0; i++) {
		if (kmeans_read(json_object_get(res[i], "w"), wi, C->n) != 0)
			rc = ml_seterr(err, -EIO, "partition %d: bad weights", i);
		for (size_t c = 0; rc == 0 && c < C->n; c++)
			(*w)[c] += wi[c];
	}
	free(wi);
	mlp_results_free(res, d->ds.nparts);
	return rc;
}

/* One Lloyd pass with CENTRES: the partials merged in partition order. */
static int
kmeans_pass(struct kmeans_driver *d, const double *centres,
            struct ml_kmeans_partial *all, char **err)
{
	json_t **res = NULL;
	memset(all, 0, sizeof *all);
	int rc = kmeans_stage(d, "lloyd", json_pack("{s:o,s:i}", "centres",
	                      kmeans_reals(centres, (size_t)d->p.k * d->ds.d),
	                      "k", d->p.k), &res, err);
	if (rc != 0)
		return rc;
	for (int i = 0; i < d->ds.nparts && rc == 0; i++) {
		struct ml_kmeans_partial part;
		rc = ml_kmeans_partial_from_json(res[i], i == 0 ? all : &part, err);
		if (rc == 0 && i > 0)
			rc = ml_kmeans_partial_merge(all, &part, err);
		if (i > 0)
			ml_kmeans_partial_free(&part);
	}
	mlp_results_free(res, d->ds.nparts);
	if (rc != 0)
		ml_kmeans_partial_free(all);
	return rc;
}

/* Lloyd from INIT until the shift is below tol or max_iter; fills M. */
static int
kmeans_lloyd(struct kmeans_driver *d, const double *init, struct ml_kmeans *m,
             double *sizes, char **err)
{
	size_t K = (size_t)d->p.k, D = d->ds.d;
	double *c = calloc(K * D, sizeof *c), *nc = calloc(K * D, sizeof *nc);
	memcpy(c, init, K * D * sizeof *c);
	double tol = 0;
	int it, rc = 0;
	struct ml_kmeans_partial all;
	for (it = 0; it < d->p.max_iter; it++) {
		double shift;
		if ((rc = kmeans_pass(d, c, &all, err)) != 0)
			goto out;
		if (it == 0)
			tol = ml_kmeans_scaled_tol(&all, d->p.tol);
		rc = ml_kmeans_lloyd_finish(&all, c, nc, &shift, err);
		ml_kmeans_partial_free(&all);
		if (rc != 0)
			goto out;
		double *tmp = c;
		c = nc;
		nc = tmp;
		if (shift <= tol) {
			it++;
			break;
		}
	}
	/* the inertia and sizes belong to the final centres */
	if ((rc = kmeans_pass(d, c, &all, err)) != 0)
		goto out;
	memcpy(sizes, all.weights, K * sizeof *sizes);
	m->k = d->p.k;
	m->d = D;
	m->centres = c;
	m->inertia = all.inertia;
	m->iterations = it;
	c = NULL;
	ml_kmeans_partial_free(&all);
out:
	free(c);
	free(nc);
	return rc;
}

/* Read and check the parameters into D->p; 0 or KILN_EINVAL (error set). */
static int
kmeans_params_read(kiln_task *t, const struct kiln_host *h,
                   struct kmeans_driver *d, int *standardise)
{
	const char *ks = h->param(t, "k");
	if (ks == NULL || *ks == '\0') {
		h->set_error(t, "the `k` parameter (number of clusters) is required");
		return KILN_EINVAL;
	}
	int64_t k = h->param_int(t, "k", 0);
	if (k < 1 || k > KMEANS_MAX_K) {
		h->set_error(t, "k must be an integer in 1..%d, not '%s'",
		             KMEANS_MAX_K, ks);
		return KILN_EINVAL;
	}
	if ((size_t)k > d->ds.rows) {
		h->set_error(t, "k = %lld is more than the %zu rows of the dataset",
		             (long long)k, d->ds.rows);
		return KILN_EINVAL;
	}
	ml_kmeans_defaults(&d->p, (int)k);
	int64_t it = h->param_int(t, "max_iter", 300);
	int64_t rounds = h->param_int(t, "rounds", 5);
	double tol = h->param_double(t, "tol", 1e-4);
	double l = h->param_double(t, "oversampling", 0);
	if (it < 1 || it > 1000000) {
		h->set_error(t, "max_iter must be in 1..1000000");
		return KILN_EINVAL;
	}
	if (rounds < 1 || rounds > KMEANS_MAX_ROUNDS) {
		h->set_error(t, "rounds must be in 1..%d", KMEANS_MAX_ROUNDS);
		return KILN_EINVAL;
	}
	if (!(tol >= 0) || !isfinite(tol)) {
		h->set_error(t, "tol must be a number >= 0");
		return KILN_EINVAL;
	}
	if (!(l >= 0) || !isfinite(l)) {
		h->set_error(t, "oversampling must be a number >= 0 (0: 2k)");
		return KILN_EINVAL;
	}
	d->p.max_iter = (int)it;
	d->p.rounds = (int)rounds;
	d->p.tol = tol;
	d->p.oversampling = l;
	d->p.seed = (uint64_t)h->param_int(t, "seed", 42);
	const char *s = h->param(t, "standardise");
	if (s == NULL || *s == '\0' || strcasecmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0)
		*standardise = 0;
	else if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
	         strcasecmp(s, "yes") == 0)
		*standardise = 1;
	else {
		h->set_error(t, "standardise must be true or false, not '%s'", s);
		return KILN_EINVAL;
	}
	return 0;
}

static int
kmeans_run(kiln_task *t, const struct kiln_host *h)
{
	double t0 = mlp_now_ms();
	struct kmeans_driver d = { .t = t, .h = h };
	char *err = NULL;
	int standardise = 0;
	int rc = mlp_dataset_open(t, h, NULL, 0, h->param(t, "features"),
	                          h->param(t, "exclude"), &d.ds, &err);
	if (rc == 0)
		rc = mlp_impute_fit(t, h, &d.ds, h->param(t, "impute"), &err);
	if (rc != 0) {
		mlp_dataset_free(&d.ds);
		return mlp_fail(t, h, rc, err);
	}
	if ((rc = kmeans_params_read(t, h, &d, &standardise)) != 0) {
		mlp_dataset_free(&d.ds);
		return rc;
	}
	size_t K = (size_t)d.p.k, D = d.ds.d, ntotal = 0;
	struct ml_kmeans_points C = { 0, D, NULL };
	struct ml_kmeans m = { 0 };
	double *w = NULL, *init = calloc(K * D, sizeof *init);
	double *sizes = calloc(K, sizeof *sizes);
	rc = kmeans_scan(&d, standardise, &ntotal, &err);
	if (rc == 0 && (size_t)d.p.k > ntotal)
		rc = ml_seterr(&err, -EINVAL, "k = %d is more than the %zu rows of "
		             "the dataset", d.p.k, ntotal);
	if (rc == 0) {
		C.x = calloc(D, sizeof *C.x);
		C.n = 1;
		rc = kmeans_first(&d, ntotal, C.x, &err);
	}
	if (rc == 0)
		rc = kmeans_init(&d, &C, &w, &err);
	if (rc == 0)
		rc = ml_kmeans_recluster(C.x, w, C.n, D, &d.p, init, &err);
	double init_ms = mlp_now_ms() - t0;
	if (rc == 0)
		rc = kmeans_lloyd(&d, init, &m, sizes, &err);
	size_t ncand = C.n;
	ml_kmeans_points_free(&C);
	free(w);
	free(init);
	json_t *mj = NULL;
	if (rc == 0)
		rc = ml_kmeans_to_json(&m, &mj);
	if (rc != 0) {
		free(sizes);
		ml_kmeans_free(&m);
		json_decref(d.scaler);
		free(d.nrows);
		mlp_dataset_free(&d.ds);
		return mlp_fail(t, h, rc, err);
	}
	double fit_ms = mlp_now_ms() - t0;

	/* The centres in the data's own units for the result. */
	double *mean = calloc(D, sizeof *mean), *scale = calloc(D, sizeof *scale);
	for (size_t j = 0; j < D; j++)
		scale[j] = 1;
	if (d.scaler != NULL) {
		kmeans_read(json_object_get(d.scaler, "mean"), mean, D);
		kmeans_read(json_object_get(d.scaler, "scale"), scale, D);
	}
	json_t *centres = json_array(), *sz = json_array();
	double *row = calloc(D, sizeof *row);
	for (size_t c = 0; c < K; c++) {
		for (size_t j = 0; j < D; j++)
			row[j] = m.centres[c * D + j] * scale[j] + mean[j];
		json_array_append_new(centres, kmeans_reals(row, D));
		json_array_append_new(sz, json_integer((json_int_t)llround(sizes[c])));
	}
	free(row);
	free(mean);
	free(scale);
	free(sizes);
	json_t *file = json_pack("{s:s,s:o,s:o}", "type", "kmeans", "dataset",
	                         mlp_dataset_json(&d.ds), "model", mj);
	if (d.scaler != NULL)
		json_object_set(file, "scaler", d.scaler);
	json_t *feats = json_array();
	for (size_t j = 0; j < D; j++)
		json_array_append_new(feats, json_string(d.ds.features[j]));
	json_t *result = json_pack("{s:s,s:i,s:o,s:o,s:f,s:i,s:o,s:I,s:b,s:i,s:f,s:f,s:I}",
		"model", "kmeans", "k", m.k, "features", feats, "centres", centres,
		"inertia", m.inertia, "iterations", m.iterations, "sizes", sz,
		"candidates", (json_int_t)ncand, "standardised", standardise,
		"stages", d.stages, "init_ms", init_ms, "fit_ms", fit_ms,
		"rows", (json_int_t)ntotal);
	ml_kmeans_free(&m);
	json_decref(d.scaler);
	free(d.nrows);
	mlp_dataset_free(&d.ds);
	return mlp_model_done(t, h, file, result);
}

/* --------------------------------------------------------------- map */

/* This task's partition, standardised with the broadcast scaler if any. */
struct kmeans_block {
	struct mlp_part p;
	const double **X;
	double **own;           /* standardised copies, or NULL */
	size_t n, d;
};

static int
kmeans_block_open(kiln_task *t, const struct kiln_host *h,
                  const struct mlp_dataset *ds, const json_t *b,
                  struct kmeans_block *blk, char **err)
{
	memset(blk, 0, sizeof *blk);
	int rc = mlp_part_open(t, h, 0, ds, &blk->p, err);
	if (rc != 0)
		return rc;
	blk->n = blk->p.n;
	blk->d = ds->d;
	blk->X = blk->p.X;
	const json_t *sc = json_object_get(b, "scaler");
	if (sc == NULL)
		return 0;
	double *mean = calloc(ds->d + 1, sizeof *mean);
	double *scale = calloc(ds->d + 1, sizeof *scale);
	if (kmeans_read(json_object_get(sc, "mean"), mean, ds->d) != 0 ||
	    kmeans_read(json_object_get(sc, "scale"), scale, ds->d) != 0) {
		free(mean);
		free(scale);
		mlp_part_close(&blk->p);
		return ml_seterr(err, -EINVAL, "bad scaler in the broadcast");
	}
	blk->own = calloc(ds->d + 1, sizeof *blk->own);
	blk->X = calloc(ds->d + 1, sizeof *blk->X);
	for (size_t j = 0; j < ds->d; j++) {
		blk->own[j] = malloc((blk->n + 1) * sizeof **blk->own);
		for (size_t i = 0; i < blk->n; i++)
			blk->own[j][i] = (blk->p.X[j][i] - mean[j]) / scale[j];
		blk->X[j] = blk->own[j];
	}
	free(mean);
	free(scale);
	return 0;
}

static void
kmeans_block_close(struct kmeans_block *blk)
{
	if (blk->own != NULL) {
		for (size_t j = 0; j < blk->d; j++)
			free(blk->own[j]);
		free(blk->own);
		free(blk->X);
	}
	mlp_part_close(&blk->p);
	memset(blk, 0, sizeof *blk);
}

/* `scan`: the count, column means and squared deviations, a bad value. */
static json_t *
kmeans_map_scan(const struct mlp_dataset *ds, const struct kmeans_block *blk)
{
	size_t n = blk->n, D = blk->d;
	for (size_t j = 0; j < D; j++)
		for (size_t i = 0; i < n; i++)
			if (!isfinite(blk->X[j][i]))
				return json_pack("{s:I,s:{s:I,s:s,s:s}}", "n", (json_int_t)n,
				                 "bad", "row", (json_int_t)i, "column",
				                 ds->features[j], "what", isnan(blk->X[j][i]) ?
				                 "a missing value (NaN)" : "an infinite value");
	double *mean = calloc(D + 1, sizeof *mean), *m2 = calloc(D + 1, sizeof *m2);
	for (size_t j = 0; j < D && n > 0; j++) {
		double s = 0, q = 0;
		for (size_t i = 0; i < n; i++)
			s += blk->X[j][i];
		mean[j] = s / (double)n;
		for (size_t i = 0; i < n; i++)
			q += (blk->X[j][i] - mean[j]) * (blk->X[j][i] - mean[j]);
		m2[j] = q;
	}
	json_t *out = json_pack("{s:I,s:o,s:o}", "n", (json_int_t)n,
	                        "mean", kmeans_reals(mean, D), "m2", kmeans_reals(m2, D));
	free(mean);
	free(m2);
	return out;
}

/* The broadcast candidates C: *NC rows (malloc()ed), or NULL. */
static double *
kmeans_candidates(const json_t *b, size_t d, size_t *nc)
{
	const json_t *a = json_object_get(b, "C");
	size_t len = json_array_size(a);
	if (d == 0 || len == 0 || len % d != 0)
		return NULL;
	double *C = malloc(len * sizeof *C);
	if (kmeans_read(a, C, len) != 0) {
		free(C);
		return NULL;
	}
	*nc = len / d;
	return C;
}

static int
kmeans_map_fn(kiln_task *t, const struct kiln_host *h, const char *fn,
              const struct kmeans_block *blk, const json_t *b, json_t **out,
              char **err)
{
	const double *const *X = (const double *const *)blk->X;
	size_t n = blk->n, D = blk->d, nc = 0;
	int count = 0, index = h->stage_index(t, &count), rc = 0;
	if (strcmp(fn, "row") == 0) {
		size_t row = (size_t)json_integer_value(json_object_get(b, "row"));
		if (json_integer_value(json_object_get(b, "part")) != index) {
			*out = json_object();
			return 0;
		}
		if (row >= n)
			return ml_seterr(err, -EINVAL, "row %zu is not in this partition", row);
		double *x = calloc(D + 1, sizeof *x);
		ml_kmeans_get_row(X, D, row, x);
		*out = json_pack("{s:o}", "x", kmeans_reals(x, D));
		free(x);
		return 0;
	}
	if (strcmp(fn, "lloyd") == 0) {
		/* k sizes the centres: no more than the broadcast holds. */
		const json_t *cj = json_object_get(b, "centres");
		int64_t k;
		rc = mlp_json_range(json_object_get(b, "k"), 1, D == 0 ? 0 :
		                    (int64_t)(json_array_size(cj) / D), &k, err,
		                    "kmeans: the broadcast's k (centres of %zu "
		                    "features)", D);
		if (rc != 0)
			return rc;
		double *centres = malloc((size_t)k * D * sizeof *centres);
		if (kmeans_read(cj, centres, (size_t)k * D) != 0)
			rc = ml_seterr(err, -EINVAL, "bad centres in the broadcast");
		struct ml_kmeans_partial part;
		if (rc == 0)
			rc = ml_kmeans_lloyd_partial(X, NULL, n, D, centres, (int)k,
			                             &part, err);
		if (rc == 0) {
			rc = ml_kmeans_partial_to_json(&part, out);
			ml_kmeans_partial_free(&part);
		}
		free(centres);
		return rc;
	}
	double *C = kmeans_candidates(b, D, &nc);
	if (C == NULL)
		return ml_seterr(err, -EINVAL, "no candidates in the broadcast");
	if (strcmp(fn, "cost") == 0) {
		double cost = 0;
		rc = ml_kmeans_cost(X, NULL, n, D, C, nc, &cost, err);
		if (rc == 0)
			*out = json_pack("{s:f}", "cost", cost);
	} else if (strcmp(fn, "sample") == 0) {
		struct ml_kmeans_points pts;
		double l = json_number_value(json_object_get(b, "l"));
		double psi = json_number_value(json_object_get(b, "psi"));
		uint64_t seed = (uint64_t)json_integer_value(json_object_get(b, "seed"));
		int round = (int)json_integer_value(json_object_get(b, "round"));
		/* the block is the partition's index: stream (seed, round, b) */
		rc = ml_kmeans_oversample(X, NULL, n, D, C, nc, l, psi, seed, round,
		                          (size_t)index, &pts, err);
		if (rc == 0) {
			*out = json_pack("{s:o}", "x", kmeans_reals(pts.x, pts.n * D));
			ml_kmeans_points_free(&pts);
		}
	} else if (strcmp(fn, "weights") == 0) {
		double *w = calloc(nc, sizeof *w);
		rc = ml_kmeans_cand_weights(X, NULL, n, D, C, nc, w, err);
		if (rc == 0)
			*out = json_pack("{s:o}", "w", kmeans_reals(w, nc));
		free(w);
	} else {
		rc = ml_seterr(err, -EINVAL, "kmeans has no map function %s", fn);
	}
	free(C);
	return rc;
}

static int
kmeans_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	struct kmeans_block blk;
	char *err = NULL;
	json_t *out = NULL, *b = mlp_broadcast(t, h);
	int rc = mlp_map_dataset(t, h, &ds, &err);
	if (rc == 0)
		rc = kmeans_block_open(t, h, &ds, b, &blk, &err);
	if (rc != 0) {
		json_decref(b);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	if (strcmp(fn, "scan") == 0)
		out = kmeans_map_scan(&ds, &blk);
	else
		rc = kmeans_map_fn(t, h, fn, &blk, b, &out, &err);
	if (rc == -EINVAL || rc == -EDOM) {
		/* bad data or parameters: the same anywhere, so no retry */
		out = json_pack("{s:s}", "error", err ? err : "invalid input");
		free(err);
		err = NULL;
		rc = 0;
	}
	kmeans_block_close(&blk);
	json_decref(b);
	mlp_dataset_free(&ds);
	return mlp_done(t, h, rc, out, err);
}

MLP_PLUGIN("kmeans",
           "k-means clustering (k-means|| initialisation, Lloyd) over partitions",
           kmeans_params, kmeans_run, kmeans_map);
