/* SPDX-License-Identifier: MIT */
/*
 * forest.c - the bundled 'forest' plugin: random forests (classification
 * on a categorical label, regression on a numeric one) trained in
 * parallel on all workers with the library in lib/ml/ml_forest.h.
 *
 * Trees are independent and each needs every training row, so the work is
 * split by trees, not by rows: the driver (run) starts one stage of
 * `tasks` map tasks; map task i loads the whole dataset (every partition,
 * in partition order) and grows trees [i*T/N, (i+1)*T/N), tree t drawing
 * its randomness from RNG stream (seed, t) alone.  The driver merges the
 * trees in tree order, so the forest - and model.json, byte for byte - is
 * the same whatever the number of tasks or workers and whichever worker
 * finished first (for the same partition order: the rows' order decides
 * the bootstrap samples).
 *
 * A map task's result is at most 1 MiB of JSON.  A task whose trees do not
 * fit returns only their size; the driver splits its range of trees over
 * more map tasks and runs another stage for them (re-growing the same
 * trees, since a tree depends only on its index).  A single tree over the
 * limit fails with a message suggesting max_depth or min_samples_leaf.
 *
 * The training score (accuracy or R^2) comes from a second stage over the
 * partitions with the forest as the broadcast value, skipped (with a note
 * in the result) when the forest is too big to send to every partition.
 *
 * Parameters: label, features, exclude (see mlplug.h), task (auto,
 * classification, regression; auto follows the label's type), n_trees
 * (100), max_depth (0: none), min_samples_leaf (1), max_features (0: the
 * library's default, -1: all), seed (42), tasks (4).  Output: model.json
 * ({"type":"forest","dataset":...,"model":...}).  Result: n_trees, task,
 * training_accuracy or training_r2, the top 10 feature importances by
 * name, nodes, model_bytes, stages, tree_tasks (map tasks that grew
 * trees), map_tasks (all), fit_ms (growing and merging the trees).
 *
 * Bad input in a map task (a NaN feature, say) comes back as an "error"
 * result rather than a failed map task, so it is reported once, clearly,
 * instead of being retried.  Thread-safe: all state belongs to one call.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_forest.h"
#include "ml/mlplug.h"

/* What a map task may return (TASK_RESULT_MAX in the host), less room for
 * the wrapper around the trees. */
#define FOREST_RESULT_MAX (1024 * 1024 - 4096)
/* The most forest JSON the score stage sends to all partitions together
 * (it travels once per map task, in a request the master caps at 8 MiB by
 * default). */
#define FOREST_BROADCAST_MAX (4 * 1024 * 1024)
#define FOREST_MAX_TREES 100000
#define FOREST_MAX_TASKS 4096
#define FOREST_MAX_PASSES 12
#define FOREST_TOP 10

static const struct kiln_param forest_params[] = {
	{ "label", "string", "", "label column (default: the ingest task's)" },
	MLP_PARAMS_FEATURES,
	MLP_PARAM_IMPUTE,
	{ "task", "string", "auto", "auto, classification or regression (auto: from the label's type)" },
	{ "n_trees", "int", "100", "number of trees" },
	{ "max_depth", "int", "0", "deepest a tree grows (0: no limit)" },
	{ "min_samples_leaf", "int", "1", "fewest distinct rows in a leaf" },
	{ "max_features", "int", "0", "features tried per split (0: sqrt(d) or d/3, -1: all)" },
	{ "seed", "int", "42", "random seed (tree t uses stream (seed, t))" },
	{ "tasks", "int", "4", "map tasks the trees are spread over" },
	{ NULL, NULL, NULL, NULL },
};

static char *
forest_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* ------------------------------------------------------------ driver */

/* A range of trees and, once a map task returned them, their JSON. */
struct forest_range {
	int first, count;
	json_t *trees;
};

struct forest_driver {
	kiln_task *t;
	const struct kiln_host *h;
	struct mlp_dataset ds;
	struct ml_forest_params p;
	struct forest_range *r;
	int nr;
	int stages, tree_tasks, map_tasks;
	double map_ms;
};

/* Split range I into PIECES ranges of near-equal size, in place. */
static void
forest_split(struct forest_driver *d, int i, int pieces)
{
	struct forest_range old = d->r[i];
	d->r = realloc(d->r, (size_t)(d->nr + pieces) * sizeof *d->r);
	if (d->r == NULL)
		abort();
	memmove(d->r + i + pieces, d->r + i + 1,
	        (size_t)(d->nr - i - 1) * sizeof *d->r);
	for (int k = 0; k < pieces; k++) {
		int a = (int)((long long)k * old.count / pieces);
		int b = (int)((long long)(k + 1) * old.count / pieces);
		d->r[i + k] = (struct forest_range){ old.first + a, b - a, NULL };
	}
	d->nr += pieces - 1;
}

/*
 * Grow every range that has no trees yet, in one stage; ranges whose trees
 * came back too big are split for the next pass.  1 while some are left,
 * 0 when all are done, negative with *err.
 */
static int
forest_pass(struct forest_driver *d, json_t *broadcast, char **err)
{
	int n = 0;
	for (int i = 0; i < d->nr; i++)
		n += d->r[i].trees == NULL;
	if (n == 0)
		return 0;
	json_t **args = calloc((size_t)n, sizeof *args), **res = NULL;
	int *which = calloc((size_t)n, sizeof *which);
	for (int i = 0, k = 0; i < d->nr; i++) {
		if (d->r[i].trees != NULL)
			continue;
		which[k] = i;
		args[k++] = json_pack("{s:i,s:i}", "first", d->r[i].first,
		                      "count", d->r[i].count);
	}
	int rc = mlp_stage_tasks(d->t, d->h, "trees", &d->ds, broadcast, args,
	                         n, &res, err);
	for (int k = 0; k < n; k++)
		json_decref(args[k]);
	free(args);
	if (rc != 0) {
		free(which);
		return rc;
	}
	d->stages++;
	d->tree_tasks += n;
	d->map_tasks += n;
	/* walk backwards so that splitting a range does not move the ones
	 * still to be looked at */
	int left = 0;
	for (int k = n - 1; k >= 0 && rc == 0; k--) {
		struct forest_range *r = &d->r[which[k]];
		const char *msg = json_string_value(json_object_get(res[k], "error"));
		json_t *trees = json_object_get(res[k], "forest");
		json_int_t big = json_integer_value(json_object_get(res[k], "too_big"));
		d->map_ms += json_number_value(json_object_get(res[k], "ms"));
		if (msg != NULL) {
			rc = ml_seterr(err, -EINVAL, "%s", msg);
		} else if (trees != NULL) {
			r->trees = json_incref(trees);
		} else if (big > 0 && r->count == 1) {
			rc = ml_seterr(err, -EINVAL, "tree %d alone is %lld bytes of JSON, "
			             "more than the %d a map task may return: limit its "
			             "size with max_depth or min_samples_leaf", r->first,
			             (long long)big, FOREST_RESULT_MAX);
		} else if (big > 0) {
			int pieces = (int)(big / (FOREST_RESULT_MAX * 3 / 4)) + 1;
			if (pieces < 2)
				pieces = 2;
			if (pieces > r->count)
				pieces = r->count;
			d->h->log(d->t, KILN_LOG_WARN, "forest: trees %d..%d are %lld "
			          "bytes of JSON, over a map task's 1 MiB: growing them "
			          "again in %d map tasks (set `tasks` higher to avoid "
			          "this)", r->first, r->first + r->count - 1,
			          (long long)big, pieces);
			forest_split(d, which[k], pieces);
			left = 1;
		} else {
			rc = ml_seterr(err, -EIO, "map task %d returned no trees", k);
		}
	}
	free(which);
	mlp_results_free(res, n);
	return rc != 0 ? rc : left;
}

/* The training score of forest F (JSON FJ): accuracy or R^2 over all
 * partitions.  0 and *score, 1 if skipped (*why), negative with *err. */
static int
forest_score(struct forest_driver *d, json_t *fj, size_t fbytes, double *score,
             const char **why, char **err)
{
	if (fbytes * (size_t)d->ds.nparts > FOREST_BROADCAST_MAX) {
		*why = "the forest is too big to send to every partition";
		return 1;
	}
	json_t *b = json_pack("{s:O}", "forest", fj), **res = NULL;
	int rc = mlp_stage_parts(d->t, d->h, "score", &d->ds, b, &res, err);
	json_decref(b);
	if (rc != 0)
		return rc;
	d->stages++;
	d->map_tasks += d->ds.nparts;
	/* classification: correct / n; regression: SSE and the target's
	 * sum of squared deviations, merged with Chan's formula */
	double n = 0, correct = 0, mean = 0, m2 = 0, sse = 0;
	for (int i = 0; i < d->ds.nparts && rc == 0; i++) {
		const char *msg = json_string_value(json_object_get(res[i], "error"));
		if (msg != NULL) {
			rc = ml_seterr(err, -EINVAL, "%s", msg);
			break;
		}
		double ni = json_number_value(json_object_get(res[i], "n"));
		if (ni <= 0)
			continue;
		correct += json_number_value(json_object_get(res[i], "correct"));
		sse += json_number_value(json_object_get(res[i], "sse"));
		double mi = json_number_value(json_object_get(res[i], "mean"));
		double m2i = json_number_value(json_object_get(res[i], "m2"));
		double delta = mi - mean, tot = n + ni;
		mean += delta * ni / tot;
		m2 += m2i + delta * delta * n * ni / tot;
		n = tot;
	}
	mlp_results_free(res, d->ds.nparts);
	if (rc != 0)
		return rc;
	if (n <= 0) {
		*why = "no rows";
		return 1;
	}
	if (d->p.task == ML_FOREST_CLASSIFICATION) {
		*score = correct / n;
	} else if (m2 > 0) {
		*score = 1.0 - sse / m2;
	} else {
		*why = "the target is constant";
		return 1;
	}
	return 0;
}

struct forest_imp {
	double v;
	size_t j;
};

static int
forest_imp_cmp(const void *a, const void *b)
{
	const struct forest_imp *x = a, *y = b;
	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return x->j < y->j ? -1 : x->j > y->j;
}

/* The FOREST_TOP most important features, by name. */
static json_t *
forest_importances(const struct forest_driver *d, const struct ml_forest *f)
{
	double *v = calloc(f->d + 1, sizeof *v);
	struct forest_imp *s = calloc(f->d + 1, sizeof *s);
	json_t *a = json_array();
	if (ml_forest_importances(f, v, NULL) == 0) {
		for (size_t j = 0; j < f->d; j++)
			s[j] = (struct forest_imp){ v[j], j };
		qsort(s, f->d, sizeof *s, forest_imp_cmp);
		for (size_t j = 0; j < f->d && j < FOREST_TOP; j++)
			json_array_append_new(a, json_pack("{s:s,s:f}", "feature",
			                      d->ds.features[s[j].j], "importance", s[j].v));
	}
	free(v);
	free(s);
	return a;
}

/* Read and check the parameters into D->p; 0 or KILN_EINVAL (error set). */
static int
forest_params_read(kiln_task *t, const struct kiln_host *h,
                   struct forest_driver *d, int *tasks)
{
	struct ml_forest_params *p = &d->p;
	ml_forest_defaults(p, d->ds.label_categorical ?
	                   ML_FOREST_CLASSIFICATION : ML_FOREST_REGRESSION);
	p->nclasses = d->ds.label_categorical ? d->ds.nclasses : 0;
	int64_t nt = h->param_int(t, "n_trees", 100);
	int64_t depth = h->param_int(t, "max_depth", 0);
	int64_t leaf = h->param_int(t, "min_samples_leaf", 1);
	int64_t mf = h->param_int(t, "max_features", 0);
	int64_t nk = h->param_int(t, "tasks", 4);
	if (nt < 1 || nt > FOREST_MAX_TREES) {
		h->set_error(t, "n_trees must be in 1..%d", FOREST_MAX_TREES);
		return KILN_EINVAL;
	}
	if (depth < 0 || depth > 10000) {
		h->set_error(t, "max_depth must be in 0..10000 (0: no limit)");
		return KILN_EINVAL;
	}
	if (leaf < 1 || leaf > 1000000000) {
		h->set_error(t, "min_samples_leaf must be at least 1");
		return KILN_EINVAL;
	}
	if (mf < -1 || mf > (int64_t)d->ds.d) {
		h->set_error(t, "max_features must be in -1..%zu (the number of "
		             "features; 0: default, -1: all)", d->ds.d);
		return KILN_EINVAL;
	}
	if (nk < 1 || nk > FOREST_MAX_TASKS) {
		h->set_error(t, "tasks must be in 1..%d", FOREST_MAX_TASKS);
		return KILN_EINVAL;
	}
	if (p->task == ML_FOREST_CLASSIFICATION && p->nclasses < 1) {
		h->set_error(t, "label column '%s' has no values", d->ds.label);
		return KILN_EINVAL;
	}
	p->n_trees = (int)nt;
	p->max_depth = (int)depth;
	p->min_samples_leaf = (int)leaf;
	p->max_features = (int)mf;
	p->seed = (uint64_t)h->param_int(t, "seed", 42);
	/* every map task gets at least one tree */
	*tasks = nk > nt ? (int)nt : (int)nk;
	return 0;
}

static json_t *
forest_params_json(const struct ml_forest_params *p)
{
	return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I}",
	                 "task", p->task, "nclasses", p->nclasses,
	                 "n_trees", p->n_trees, "max_features", p->max_features,
	                 "max_depth", p->max_depth,
	                 "min_samples_leaf", p->min_samples_leaf,
	                 "min_samples_split", p->min_samples_split,
	                 "bootstrap", p->bootstrap, "seed", (json_int_t)p->seed);
}

static int
forest_params_from_json(const json_t *j, struct ml_forest_params *p, char **err)
{
	json_int_t seed = 0;
	memset(p, 0, sizeof *p);
	if (json_unpack((json_t *)j, "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:I}",
	                "task", &p->task, "nclasses", &p->nclasses,
	                "n_trees", &p->n_trees, "max_features", &p->max_features,
	                "max_depth", &p->max_depth,
	                "min_samples_leaf", &p->min_samples_leaf,
	                "min_samples_split", &p->min_samples_split,
	                "bootstrap", &p->bootstrap, "seed", &seed) != 0)
		return ml_seterr(err, -EINVAL, "the stage's broadcast has no forest "
		               "parameters");
	p->seed = (uint64_t)seed;
	return 0;
}

static void
forest_driver_free(struct forest_driver *d)
{
	for (int i = 0; i < d->nr; i++)
		json_decref(d->r[i].trees);
	free(d->r);
	mlp_dataset_free(&d->ds);
}

/* 1. Grow the trees: task i of N gets [i*T/N, (i+1)*T/N), ranges split
 * further while their trees are too big to return; 2. merge them in tree
 * order into F (which the caller frees, whatever is returned). */
static int
forest_grow(struct forest_driver *d, int ntasks, struct ml_forest *f,
            char **err)
{
	d->nr = 1;
	d->r = calloc(1, sizeof *d->r);
	d->r[0] = (struct forest_range){ 0, d->p.n_trees, NULL };
	forest_split(d, 0, ntasks);
	json_t *b = json_pack("{s:o}", "params", forest_params_json(&d->p));
	int pass = 0, rc;
	while ((rc = forest_pass(d, b, err)) == 1 && ++pass < FOREST_MAX_PASSES)
		;
	json_decref(b);
	if (rc == 1)
		rc = ml_seterr(err, -EINVAL, "the trees are too big to return even "
		             "after %d splits: set max_depth", pass);
	struct ml_forest part;
	for (int i = 0; i < d->nr && rc == 0; i++) {
		rc = ml_forest_from_json(d->r[i].trees, &part, err);
		if (rc == 0 && part.first_tree != d->r[i].first)
			rc = ml_seterr(err, -EIO, "map task for trees %d.. returned trees "
			             "%d..", d->r[i].first, part.first_tree);
		if (rc == 0)
			rc = ml_forest_merge(f, &part, err);
		ml_forest_free(&part);
		json_decref(d->r[i].trees);
		d->r[i].trees = NULL;
	}
	if (rc == 0 && f->ntrees != d->p.n_trees)
		rc = ml_seterr(err, -EIO, "%d trees came back, not %d", f->ntrees,
		             d->p.n_trees);
	return rc;
}

/* The task's result: the forest F (FBYTES as JSON), the timings since T0,
 * and the training SCORE, or WHY it was skipped (SCORED 0). */
static json_t *
forest_result(const struct forest_driver *d, const struct ml_forest *f,
              size_t fbytes, double t0, double fit_ms, int scored,
              double score, const char *why)
{
	int cls = d->p.task == ML_FOREST_CLASSIFICATION;
	size_t nodes = 0;
	for (int i = 0; i < f->ntrees; i++)
		nodes += (size_t)f->trees[i].nnodes;
	json_t *result = json_pack("{s:s,s:s,s:i,s:o,s:I,s:I,s:i,s:i,s:i,s:f,s:f,s:f,s:I}",
		"model", "forest", "task", cls ? "classification" : "regression",
		"n_trees", f->ntrees, "importances", forest_importances(d, f),
		"nodes", (json_int_t)nodes, "model_bytes", (json_int_t)fbytes,
		"stages", d->stages, "tree_tasks", d->tree_tasks,
		"map_tasks", d->map_tasks,
		"map_ms", d->map_ms, "fit_ms", fit_ms,
		"total_ms", mlp_now_ms() - t0, "rows", (json_int_t)d->ds.rows);
	const char *key = cls ? "training_accuracy" : "training_r2";
	if (scored) {
		json_object_set_new(result, key, json_real(score));
	} else {
		json_object_set_new(result, key, json_null());
		json_object_set_new(result, "score_skipped", json_string(why));
	}
	if (cls) {
		json_t *c = json_array();
		for (int k = 0; k < d->ds.nclasses; k++)
			json_array_append_new(c, json_string(d->ds.classes[k]));
		json_object_set_new(result, "classes", c);
	}
	return result;
}

static int
forest_run(kiln_task *t, const struct kiln_host *h)
{
	double t0 = mlp_now_ms();
	struct forest_driver d = { .t = t, .h = h };
	const char *task = h->param(t, "task");
	int need = 1;
	if (task == NULL || *task == '\0' || strcmp(task, "auto") == 0)
		need = 1;
	else if (strcmp(task, "classification") == 0)
		need = 2;
	else if (strcmp(task, "regression") == 0)
		need = 3;
	else {
		h->set_error(t, "task must be auto, classification or regression, "
		             "not '%s'", task);
		return KILN_EINVAL;
	}
	char *err = NULL;
	int rc = mlp_dataset_open(t, h, h->param(t, "label"), need,
	                          h->param(t, "features"), h->param(t, "exclude"),
	                          &d.ds, &err);
	if (rc == 0)
		rc = mlp_impute_fit(t, h, &d.ds, h->param(t, "impute"), &err);
	if (rc != 0) {
		mlp_dataset_free(&d.ds);
		return mlp_fail(t, h, rc, err);
	}
	int ntasks = 0;
	if ((rc = forest_params_read(t, h, &d, &ntasks)) != 0) {
		mlp_dataset_free(&d.ds);
		return rc;
	}

	struct ml_forest f = { 0 };
	json_t *fj = NULL;
	rc = forest_grow(&d, ntasks, &f, &err);
	if (rc == 0)
		rc = ml_forest_to_json(&f, &fj);
	if (rc != 0) {
		ml_forest_free(&f);
		forest_driver_free(&d);
		return mlp_fail(t, h, rc, err);
	}
	double fit_ms = mlp_now_ms() - t0;
	char *text = forest_dump(fj);
	size_t fbytes = text ? strlen(text) : 0;
	free(text);

	/* 3. The model file, then the training score. */
	json_t *file = json_pack("{s:s,s:o,s:O}", "type", "forest", "dataset",
	                         mlp_dataset_json(&d.ds), "model", fj);
	rc = mlp_output_json(t, h, "model.json", file);
	json_decref(file);
	if (rc != 0) {
		json_decref(fj);
		ml_forest_free(&f);
		forest_driver_free(&d);
		h->set_error(t, "cannot store model.json");
		return rc;
	}
	double score = 0;
	const char *why = NULL;
	rc = forest_score(&d, fj, fbytes, &score, &why, &err);
	json_decref(fj);
	if (rc < 0) {
		ml_forest_free(&f);
		forest_driver_free(&d);
		return mlp_fail(t, h, rc, err);
	}
	json_t *result = forest_result(&d, &f, fbytes, t0, fit_ms, rc == 0,
	                               score, why);
	ml_forest_free(&f);
	forest_driver_free(&d);
	return mlp_result(t, h, result, NULL);
}

/* --------------------------------------------------------------- map */

/* Grow the trees of this task's range on the whole dataset. */
static int
forest_map_trees(kiln_task *t, const struct kiln_host *h,
                 const struct mlp_dataset *ds, json_t **out, char **err)
{
	double t0 = mlp_now_ms();
	json_t *b = mlp_broadcast(t, h), *a = mlp_arg(t, h);
	struct ml_forest_params p;
	int first = 0, count = 0;
	int rc = forest_params_from_json(json_object_get(b, "params"), &p, err);
	if (rc == 0 && json_unpack(a, "{s:i,s:i}", "first", &first,
	                           "count", &count) != 0)
		rc = ml_seterr(err, -EINVAL, "a trees map task needs first and count");
	/* Trees are allocated by count: only a range of the forest's own. */
	if (rc == 0 && (first < 0 || count < 0 || count > p.n_trees ||
	                first > p.n_trees - count))
		rc = ml_seterr(err, -EINVAL, "forest: trees %d+%d are not within "
		               "the forest's 0..%d", first, count, p.n_trees);
	json_decref(a);
	json_decref(b);
	if (rc != 0)
		return rc;
	struct mlp_matrix m;
	if ((rc = mlp_matrix_load(t, h, ds, &m, err)) != 0)
		return rc;
	struct ml_forest_data data = {
		.X = (const double *const *)m.X, .n = m.n, .d = m.d,
		.y = m.y, .target = m.t,
		.names = (const char *const *)ds->features,
	};
	struct ml_forest f;
	char *msg = NULL;
	rc = ml_forest_fit_trees(&data, &p, first, count, &f, &msg);
	mlp_matrix_free(&m);
	if (rc == -EINVAL || rc == -EDOM) {
		/* bad data: the same on any worker, so no retry */
		*out = json_pack("{s:s+}", "error", "bad training data: ",
		                 msg ? msg : "invalid");
		free(msg);
		return 0;
	}
	if (rc != 0)
		return ml_seterr(err, rc, "%s", msg ? msg : "training failed");
	json_t *fj = NULL;
	rc = ml_forest_to_json(&f, &fj);
	ml_forest_free(&f);
	if (rc != 0)
		return ml_seterr(err, rc, "cannot encode the trees");
	char *text = forest_dump(fj);
	size_t len = text ? strlen(text) : 0;
	free(text);
	if (len > FOREST_RESULT_MAX) {
		json_decref(fj);
		*out = json_pack("{s:I,s:f}", "too_big", (json_int_t)len,
		                 "ms", mlp_now_ms() - t0);
	} else {
		*out = json_pack("{s:o,s:f}", "forest", fj, "ms", mlp_now_ms() - t0);
	}
	return 0;
}

/* Score the broadcast forest on this task's partition. */
static int
forest_map_score(kiln_task *t, const struct kiln_host *h,
                 const struct mlp_dataset *ds, json_t **out, char **err)
{
	json_t *b = mlp_broadcast(t, h);
	struct ml_forest f;
	int rc = ml_forest_from_json(json_object_get(b, "forest"), &f, err);
	json_decref(b);
	if (rc != 0)
		return rc;
	struct mlp_part p;
	if ((rc = mlp_part_open(t, h, 0, ds, &p, err)) != 0) {
		ml_forest_free(&f);
		return rc;
	}
	char *msg = NULL;
	if (p.n == 0) {
		*out = json_pack("{s:i}", "n", 0);
	} else if (f.task == ML_FOREST_CLASSIFICATION) {
		int *pred = calloc(p.n, sizeof *pred);
		rc = ml_forest_predict_class(&f, p.X, p.n, pred, &msg);
		size_t correct = 0;
		for (size_t i = 0; rc == 0 && i < p.n; i++)
			correct += p.y != NULL && pred[i] == p.y[i];
		if (rc == 0)
			*out = json_pack("{s:I,s:I}", "n", (json_int_t)p.n,
			                 "correct", (json_int_t)correct);
		free(pred);
	} else {
		double *pred = calloc(p.n, sizeof *pred);
		rc = ml_forest_predict_value(&f, p.X, p.n, pred, &msg);
		double mean = 0, m2 = 0, sse = 0;
		for (size_t i = 0; rc == 0 && p.t != NULL && i < p.n; i++) {
			double delta = p.t[i] - mean;
			mean += delta / (double)(i + 1);
			m2 += delta * (p.t[i] - mean);
			sse += (p.t[i] - pred[i]) * (p.t[i] - pred[i]);
		}
		if (rc == 0)
			*out = json_pack("{s:I,s:f,s:f,s:f}", "n", (json_int_t)p.n,
			                 "mean", mean, "m2", m2, "sse", sse);
		free(pred);
	}
	if (rc == -EINVAL) {
		*out = json_pack("{s:s+}", "error", "bad data: ", msg ? msg : "invalid");
		rc = 0;
	} else if (rc != 0) {
		rc = ml_seterr(err, rc, "%s", msg ? msg : "prediction failed");
	}
	free(msg);
	mlp_part_close(&p);
	ml_forest_free(&f);
	return rc;
}

static int
forest_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	char *err = NULL;
	json_t *out = NULL;
	int rc = mlp_map_dataset(t, h, &ds, &err);
	if (rc == 0 && strcmp(fn, "trees") == 0)
		rc = forest_map_trees(t, h, &ds, &out, &err);
	else if (rc == 0 && strcmp(fn, "score") == 0)
		rc = forest_map_score(t, h, &ds, &out, &err);
	else if (rc == 0)
		rc = ml_seterr(&err, -EINVAL, "forest has no map function %s", fn);
	mlp_dataset_free(&ds);
	return mlp_done(t, h, rc, out, err);
}

MLP_PLUGIN("forest",
           "random forest (classification, regression), trees grown on all workers",
           forest_params, forest_run, forest_map);
