/* SPDX-License-Identifier: MIT */
/*
 * ml_forest.c - random forests of CART trees (see ml_forest.h for the contract).
 *
 * Each tree is grown depth-first with an explicit stack (a degenerate tree
 * on 100k rows would overflow the C stack by recursion).  The node's rows
 * are a range of one index array that is partitioned in place at each
 * split, and the split search sorts the node's values of each candidate
 * feature afresh: O(m log m) per node and feature, simple and fast enough
 * for the ~100k-row data sets this library targets.
 *
 * The bootstrap is kept as integer counts per row (as scikit-learn turns it
 * into sample weights); only rows drawn at least once take part, and
 * min_samples_leaf counts those distinct rows, again as scikit-learn does.
 */
#include "ml_forest.h"
#include "mlutil.h"
#include "ml_rng.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* scikit-learn's tolerance for "these two feature values are the same". */
#define FEATURE_THRESHOLD 1e-7

void
ml_forest_defaults(struct ml_forest_params *p, int task)
{
	memset(p, 0, sizeof *p);
	p->task = task;
	p->n_trees = 100;
	p->max_features = 0;
	p->max_depth = 0;
	p->min_samples_leaf = 1;
	p->min_samples_split = 2;
	p->bootstrap = 1;
	p->seed = 0;
}

static int
fo_nvalues(int task, int nclasses)
{
	return task == ML_FOREST_CLASSIFICATION ? nclasses : 1;
}

/* Every value of X finite; names the first bad cell. */
static int
fo_check_X(const double *const *X, size_t n, size_t d,
           const char *const *names, char **err)
{
	for (size_t j = 0; j < d; j++) {
		const double *c = X[j];
		if (c == NULL)
			return ml_seterr(err, -EINVAL, "column %zu is missing", j);
		double acc = 0;
		for (size_t i = 0; i < n; i++)
			acc += c[i] * 0.0;      /* NaN iff some value is NaN or inf */
		if (acc == acc)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (isfinite(c[i]))
				continue;
			const char *what = isnan(c[i]) ? "NaN" : "infinity";
			if (names != NULL && names[j] != NULL)
				return ml_seterr(err, -EINVAL, "row %zu: %s in column '%s'",
				                 i, what, names[j]);
			return ml_seterr(err, -EINVAL, "row %zu: %s in column %zu",
			                 i, what, j);
		}
	}
	return 0;
}

static int
fo_check_params(const struct ml_forest_params *p, size_t d, char **err)
{
	if (p->task != ML_FOREST_CLASSIFICATION && p->task != ML_FOREST_REGRESSION)
		return ml_seterr(err, -EINVAL, "unknown forest task %d", p->task);
	if (p->task == ML_FOREST_CLASSIFICATION && p->nclasses < 1)
		return ml_seterr(err, -EINVAL, "nclasses must be at least 1");
	if (p->max_features < -1 ||
	    (p->max_features > 0 && (size_t)p->max_features > d))
		return ml_seterr(err, -EINVAL, "max_features %d is not in -1..%zu",
		                 p->max_features, d);
	if (p->max_depth < 0 || p->min_samples_leaf < 1 || p->min_samples_split < 2)
		return ml_seterr(err, -EINVAL, "max_depth must be >= 0, "
		                 "min_samples_leaf >= 1 and min_samples_split >= 2");
	return 0;
}

/* ---------------------------------------------------------------------
 * Growing one tree
 */

struct fo_pair {
	double v;
	size_t row;
};

static int
fo_pair_cmp(const void *a, const void *b)
{
	const struct fo_pair *x = a, *y = b;
	if (x->v < y->v)
		return -1;
	if (x->v > y->v)
		return 1;
	return (x->row > y->row) - (x->row < y->row);
}

struct fo_grow {
	const struct ml_forest_data *data;
	const struct ml_forest_params *p;
	int K;                  /* classes, or 1 */
	int nvalues;
	size_t mtry;
	double *w;              /* bootstrap count per row */
	size_t *idx;            /* rows with w > 0, partitioned by node */
	struct fo_pair *buf;
	size_t *feat;           /* feature order, shuffled per node */
	double *lcount, *tcount; /* K class weights: left side, node */
	/* the tree being built, with capacity */
	struct ml_tree *t;
	int cap;
	double *node_w, *node_imp;
};

static int
fo_new_node(struct fo_grow *g)
{
	struct ml_tree *t = g->t;
	if (t->nnodes == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		size_t c = (size_t)g->cap;
		t->feature = ml_realloc(t->feature, c, sizeof *t->feature);
		t->threshold = ml_realloc(t->threshold, c, sizeof *t->threshold);
		t->left = ml_realloc(t->left, c, sizeof *t->left);
		t->right = ml_realloc(t->right, c, sizeof *t->right);
		t->value = ml_realloc(t->value, c * (size_t)g->nvalues, sizeof *t->value);
		g->node_w = ml_realloc(g->node_w, c, sizeof *g->node_w);
		g->node_imp = ml_realloc(g->node_imp, c, sizeof *g->node_imp);
	}
	int id = t->nnodes++;
	t->feature[id] = -1;
	t->threshold[id] = 0;
	t->left[id] = t->right[id] = -1;
	return id;
}

/* Weight, impurity and value of the rows idx[start, end) into node ID. */
static void
fo_node_stats(struct fo_grow *g, int id, size_t start, size_t end)
{
	const double *w = g->w;
	double *val = g->t->value + (size_t)id * (size_t)g->nvalues;
	double W = 0, imp;
	if (g->p->task == ML_FOREST_CLASSIFICATION) {
		const int *y = g->data->y;
		memset(val, 0, (size_t)g->K * sizeof *val);
		for (size_t i = start; i < end; i++) {
			size_t r = g->idx[i];
			val[y[r]] += w[r];
			W += w[r];
		}
		double sq = 0;
		for (int k = 0; k < g->K; k++) {
			val[k] /= W;
			sq += val[k] * val[k];
		}
		imp = 1.0 - sq;
	} else {
		const double *t = g->data->target;
		double s = 0;
		for (size_t i = start; i < end; i++) {
			size_t r = g->idx[i];
			s += w[r] * t[r];
			W += w[r];
		}
		double mean = s / W, ss = 0;
		for (size_t i = start; i < end; i++) {
			size_t r = g->idx[i];
			double e = t[r] - mean;
			ss += w[r] * e * e;
		}
		val[0] = mean;
		imp = ss / W;
	}
	g->node_w[id] = W;
	g->node_imp[id] = imp;
}

struct fo_split {
	int feature;
	double threshold;
	double proxy;           /* larger is better */
};

/*
 * Best threshold on feature J for rows idx[start, end).  Returns 0 when J
 * is constant there (it then does not count towards max_features).
 */
static int
fo_eval_feature(struct fo_grow *g, size_t j, size_t start, size_t end,
                struct fo_split *best)
{
	const double *x = g->data->X[j];
	const double *w = g->w;
	size_t m = end - start;
	struct fo_pair *b = g->buf;
	for (size_t i = 0; i < m; i++) {
		b[i].row = g->idx[start + i];
		b[i].v = x[b[i].row];
	}
	qsort(b, m, sizeof *b, fo_pair_cmp);
	if (b[m - 1].v <= b[0].v + FEATURE_THRESHOLD)
		return 0;

	size_t minleaf = (size_t)g->p->min_samples_leaf;
	double W = 0;
	for (size_t i = 0; i < m; i++)
		W += w[b[i].row];
	double wl = 0;
	if (g->p->task == ML_FOREST_CLASSIFICATION) {
		const int *y = g->data->y;
		int K = g->K;
		memset(g->lcount, 0, (size_t)K * sizeof *g->lcount);
		memset(g->tcount, 0, (size_t)K * sizeof *g->tcount);
		for (size_t i = 0; i < m; i++)
			g->tcount[y[b[i].row]] += w[b[i].row];
		for (size_t p = 0; p + 1 < m; p++) {
			double wr = w[b[p].row];
			g->lcount[y[b[p].row]] += wr;
			wl += wr;
			if (b[p + 1].v <= b[p].v + FEATURE_THRESHOLD)
				continue;
			if (p + 1 < minleaf || m - p - 1 < minleaf)
				continue;
			double sl = 0, sr = 0;
			for (int k = 0; k < K; k++) {
				double l = g->lcount[k], r = g->tcount[k] - l;
				sl += l * l;
				sr += r * r;
			}
			double proxy = sl / wl + sr / (W - wl);
			if (proxy > best->proxy) {
				best->proxy = proxy;
				best->feature = (int)j;
				double th = b[p].v / 2.0 + b[p + 1].v / 2.0;
				if (th == b[p + 1].v || !isfinite(th))
					th = b[p].v;
				best->threshold = th;
			}
		}
	} else {
		const double *t = g->data->target;
		double S = 0, sl = 0;
		for (size_t i = 0; i < m; i++)
			S += w[b[i].row] * t[b[i].row];
		for (size_t p = 0; p + 1 < m; p++) {
			double wr = w[b[p].row];
			sl += wr * t[b[p].row];
			wl += wr;
			if (b[p + 1].v <= b[p].v + FEATURE_THRESHOLD)
				continue;
			if (p + 1 < minleaf || m - p - 1 < minleaf)
				continue;
			double sr = S - sl;
			double proxy = sl * sl / wl + sr * sr / (W - wl);
			if (proxy > best->proxy) {
				best->proxy = proxy;
				best->feature = (int)j;
				double th = b[p].v / 2.0 + b[p + 1].v / 2.0;
				if (th == b[p + 1].v || !isfinite(th))
					th = b[p].v;
				best->threshold = th;
			}
		}
	}
	return 1;
}

struct fo_task {
	size_t start, end;
	int depth;
	int parent;             /* -1 for the root */
	int is_left;
};

static void
fo_grow_tree(struct fo_grow *g, struct ml_rng *rng, size_t nrows)
{
	const struct ml_forest_params *p = g->p;
	size_t d = g->data->d;
	size_t scap = 64, sn = 0;
	struct fo_task *stack = ml_alloc(scap, sizeof *stack);
	stack[sn++] = (struct fo_task){ 0, nrows, 0, -1, 0 };
	while (sn > 0) {
		struct fo_task tk = stack[--sn];
		int id = fo_new_node(g);
		if (tk.parent >= 0) {
			if (tk.is_left)
				g->t->left[tk.parent] = id;
			else
				g->t->right[tk.parent] = id;
		}
		fo_node_stats(g, id, tk.start, tk.end);
		size_t m = tk.end - tk.start;
		if ((p->max_depth > 0 && tk.depth >= p->max_depth) ||
		    m < (size_t)p->min_samples_split ||
		    m < 2 * (size_t)p->min_samples_leaf ||
		    g->node_imp[id] <= DBL_EPSILON)
			continue;

		struct fo_split best = { -1, 0, -INFINITY };
		size_t visited = 0;
		for (size_t j = 0; j < d; j++)
			g->feat[j] = j;
		for (size_t i = 0; i < d && visited < g->mtry; i++) {
			size_t k = i + (size_t)ml_rng_below(rng, d - i);
			size_t f = g->feat[k];
			g->feat[k] = g->feat[i];
			g->feat[i] = f;
			visited += (size_t)fo_eval_feature(g, f, tk.start, tk.end, &best);
		}
		if (best.feature < 0)
			continue;

		const double *x = g->data->X[best.feature];
		size_t lo = tk.start, hi = tk.end;
		while (lo < hi) {
			if (x[g->idx[lo]] <= best.threshold) {
				lo++;
			} else {
				size_t tmp = g->idx[lo];
				g->idx[lo] = g->idx[--hi];
				g->idx[hi] = tmp;
			}
		}
		g->t->feature[id] = best.feature;
		g->t->threshold[id] = best.threshold;
		if (sn + 2 > scap) {
			scap *= 2;
			stack = ml_realloc(stack, scap, sizeof *stack);
		}
		/* right first, so the left subtree is built (numbered) first */
		stack[sn++] = (struct fo_task){ lo, tk.end, tk.depth + 1, id, 0 };
		stack[sn++] = (struct fo_task){ tk.start, lo, tk.depth + 1, id, 1 };
	}
	free(stack);

	struct ml_tree *t = g->t;
	t->importance = ml_alloc(d, sizeof *t->importance);
	double total = 0;
	for (int i = 0; i < t->nnodes; i++) {
		if (t->feature[i] < 0)
			continue;
		int l = t->left[i], r = t->right[i];
		double dec = g->node_w[i] * g->node_imp[i] -
		             g->node_w[l] * g->node_imp[l] -
		             g->node_w[r] * g->node_imp[r];
		t->importance[t->feature[i]] += dec;
	}
	for (size_t j = 0; j < d; j++)
		total += t->importance[j];
	if (total > 0)
		for (size_t j = 0; j < d; j++)
			t->importance[j] /= total;
}

int
ml_forest_fit_trees(const struct ml_forest_data *data,
                    const struct ml_forest_params *p,
                    int first_tree, int ntrees,
                    struct ml_forest *out, char **err)
{
	memset(out, 0, sizeof *out);
	int rc;
	if (data->n == 0)
		return ml_seterr(err, -EINVAL, "no training rows");
	if (data->d == 0)
		return ml_seterr(err, -EINVAL, "no feature columns");
	if (first_tree < 0 || ntrees < 0)
		return ml_seterr(err, -EINVAL, "bad tree range %d+%d", first_tree, ntrees);
	if ((rc = fo_check_params(p, data->d, err)) < 0)
		return rc;
	if ((rc = fo_check_X(data->X, data->n, data->d, data->names, err)) < 0)
		return rc;
	size_t n = data->n, d = data->d;
	if (p->task == ML_FOREST_CLASSIFICATION) {
		if (data->y == NULL)
			return ml_seterr(err, -EINVAL, "classification needs labels");
		for (size_t i = 0; i < n; i++)
			if (data->y[i] < 0 || data->y[i] >= p->nclasses)
				return ml_seterr(err, -EINVAL, "row %zu: class code %d "
				                 "is not in 0..%d", i, data->y[i],
				                 p->nclasses - 1);
	} else {
		if (data->target == NULL)
			return ml_seterr(err, -EINVAL, "regression needs targets");
		for (size_t i = 0; i < n; i++)
			if (!isfinite(data->target[i]))
				return ml_seterr(err, -EINVAL, "row %zu: target is not "
				                 "a finite number", i);
	}

	struct fo_grow g = { 0 };
	g.data = data;
	g.p = p;
	g.K = p->task == ML_FOREST_CLASSIFICATION ? p->nclasses : 1;
	g.nvalues = fo_nvalues(p->task, p->nclasses);
	if (p->max_features == -1)
		g.mtry = d;
	else if (p->max_features > 0)
		g.mtry = (size_t)p->max_features;
	else if (p->task == ML_FOREST_CLASSIFICATION)
		g.mtry = (size_t)sqrt((double)d);
	else
		g.mtry = d / 3;
	if (g.mtry < 1)
		g.mtry = 1;
	g.w = ml_alloc(n, sizeof *g.w);
	g.idx = ml_alloc(n, sizeof *g.idx);
	g.buf = ml_alloc(n, sizeof *g.buf);
	g.feat = ml_alloc(d, sizeof *g.feat);
	g.lcount = ml_alloc((size_t)g.K, sizeof *g.lcount);
	g.tcount = ml_alloc((size_t)g.K, sizeof *g.tcount);

	out->task = p->task;
	out->nclasses = g.nvalues;
	out->d = d;
	out->first_tree = first_tree;
	out->ntrees = ntrees;
	out->trees = ml_alloc((size_t)ntrees, sizeof *out->trees);
	for (int t = 0; t < ntrees; t++) {
		struct ml_rng rng;
		ml_rng_stream(&rng, p->seed, (uint64_t)(first_tree + t));
		if (p->bootstrap) {
			memset(g.w, 0, n * sizeof *g.w);
			for (size_t i = 0; i < n; i++)
				g.w[ml_rng_below(&rng, n)] += 1;
		} else {
			for (size_t i = 0; i < n; i++)
				g.w[i] = 1;
		}
		if (p->task == ML_FOREST_CLASSIFICATION && p->class_weight != NULL)
			for (size_t i = 0; i < n; i++)
				g.w[i] *= p->class_weight[data->y[i]];
		size_t nrows = 0;
		for (size_t i = 0; i < n; i++)
			if (g.w[i] > 0)
				g.idx[nrows++] = i;
		g.t = &out->trees[t];
		g.cap = 0;
		fo_grow_tree(&g, &rng, nrows);
	}
	free(g.w);
	free(g.idx);
	free(g.buf);
	free(g.feat);
	free(g.lcount);
	free(g.tcount);
	free(g.node_w);
	free(g.node_imp);
	return 0;
}

int
ml_forest_fit(const struct ml_forest_data *data,
              const struct ml_forest_params *p,
              struct ml_forest *out, char **err)
{
	return ml_forest_fit_trees(data, p, 0, p->n_trees, out, err);
}

static void
fo_tree_free(struct ml_tree *t)
{
	free(t->feature);
	free(t->threshold);
	free(t->left);
	free(t->right);
	free(t->value);
	free(t->importance);
	memset(t, 0, sizeof *t);
}

void
ml_forest_free(struct ml_forest *f)
{
	if (f == NULL)
		return;
	for (int t = 0; t < f->ntrees; t++)
		fo_tree_free(&f->trees[t]);
	free(f->trees);
	memset(f, 0, sizeof *f);
}

int
ml_forest_merge(struct ml_forest *into, struct ml_forest *from, char **err)
{
	if (into->ntrees == 0 && into->trees == NULL) {
		*into = *from;
		memset(from, 0, sizeof *from);
		return 0;
	}
	if (into->task != from->task || into->nclasses != from->nclasses ||
	    into->d != from->d)
		return ml_seterr(err, -EINVAL, "forests differ in task, classes "
		                 "or columns");
	if (from->first_tree != into->first_tree + into->ntrees)
		return ml_seterr(err, -EINVAL, "trees %d.. cannot follow trees "
		                 "%d..%d: merge in tree order", from->first_tree,
		                 into->first_tree, into->first_tree + into->ntrees - 1);
	into->trees = ml_realloc(into->trees, (size_t)(into->ntrees + from->ntrees),
	                         sizeof *into->trees);
	memcpy(into->trees + into->ntrees, from->trees,
	       (size_t)from->ntrees * sizeof *from->trees);
	into->ntrees += from->ntrees;
	free(from->trees);
	memset(from, 0, sizeof *from);
	return 0;
}

/* ---------------------------------------------------------------------
 * Prediction
 */

static int
fo_predict_check(const struct ml_forest *f, const double *const *X, size_t n,
                 char **err)
{
	if (f->ntrees < 1)
		return ml_seterr(err, -EINVAL, "the forest has no trees");
	return fo_check_X(X, n, f->d, NULL, err);
}

static const double *
fo_leaf(const struct ml_tree *t, const double *const *X, size_t i, int nvalues)
{
	int node = 0;
	while (t->feature[node] >= 0)
		node = X[t->feature[node]][i] <= t->threshold[node] ?
		       t->left[node] : t->right[node];
	return t->value + (size_t)node * (size_t)nvalues;
}

int
ml_forest_predict_proba(const struct ml_forest *f, const double *const *X,
                        size_t n, double *proba, char **err)
{
	if (f->task != ML_FOREST_CLASSIFICATION)
		return ml_seterr(err, -EINVAL, "not a classification forest");
	int rc = fo_predict_check(f, X, n, err);
	if (rc < 0)
		return rc;
	size_t K = (size_t)f->nclasses;
	memset(proba, 0, n * K * sizeof *proba);
	for (int t = 0; t < f->ntrees; t++)
		for (size_t i = 0; i < n; i++) {
			const double *v = fo_leaf(&f->trees[t], X, i, f->nclasses);
			for (size_t k = 0; k < K; k++)
				proba[i * K + k] += v[k];
		}
	for (size_t i = 0; i < n * K; i++)
		proba[i] /= f->ntrees;
	return 0;
}

int
ml_forest_predict_class(const struct ml_forest *f, const double *const *X,
                        size_t n, int *out, char **err)
{
	size_t K = (size_t)f->nclasses;
	double *proba = ml_alloc(n * K, sizeof *proba);
	int rc = ml_forest_predict_proba(f, X, n, proba, err);
	if (rc == 0)
		for (size_t i = 0; i < n; i++) {
			size_t best = 0;
			for (size_t k = 1; k < K; k++)
				if (proba[i * K + k] > proba[i * K + best])
					best = k;
			out[i] = (int)best;
		}
	free(proba);
	return rc;
}

int
ml_forest_predict_value(const struct ml_forest *f, const double *const *X,
                        size_t n, double *out, char **err)
{
	if (f->task != ML_FOREST_REGRESSION)
		return ml_seterr(err, -EINVAL, "not a regression forest");
	int rc = fo_predict_check(f, X, n, err);
	if (rc < 0)
		return rc;
	memset(out, 0, n * sizeof *out);
	for (int t = 0; t < f->ntrees; t++)
		for (size_t i = 0; i < n; i++)
			out[i] += fo_leaf(&f->trees[t], X, i, 1)[0];
	for (size_t i = 0; i < n; i++)
		out[i] /= f->ntrees;
	return 0;
}

int
ml_forest_importances(const struct ml_forest *f, double *out, char **err)
{
	if (f->ntrees < 1)
		return ml_seterr(err, -EINVAL, "the forest has no trees");
	memset(out, 0, f->d * sizeof *out);
	for (int t = 0; t < f->ntrees; t++)
		for (size_t j = 0; j < f->d; j++)
			out[j] += f->trees[t].importance[j];
	for (size_t j = 0; j < f->d; j++)
		out[j] /= f->ntrees;
	return 0;
}

/* ---------------------------------------------------------------------
 * JSON
 */

static json_t *
fo_json_ints(const int *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

int
ml_forest_to_json(const struct ml_forest *f, json_t **out)
{
	json_t *trees = json_array();
	for (int t = 0; t < f->ntrees; t++) {
		const struct ml_tree *tr = &f->trees[t];
		size_t nn = (size_t)tr->nnodes;
		json_array_append_new(trees, json_pack("{s:o s:o s:o s:o s:o s:o}",
		    "feature", fo_json_ints(tr->feature, nn),
		    "threshold", ml_json_reals(tr->threshold, nn),
		    "left", fo_json_ints(tr->left, nn),
		    "right", fo_json_ints(tr->right, nn),
		    "value", ml_json_reals(tr->value, nn * (size_t)f->nclasses),
		    "importance", ml_json_reals(tr->importance, f->d)));
	}
	*out = json_pack("{s:s s:s s:i s:I s:i s:o}", "type", "forest",
	    "task", f->task == ML_FOREST_CLASSIFICATION ? "classification" : "regression",
	    "nclasses", f->nclasses, "d", (json_int_t)f->d,
	    "first_tree", f->first_tree, "trees", trees);
	return *out != NULL ? 0 : -ENOMEM;
}

/* Read array KEY of exactly N numbers (ints when INTS) into a new array. */
static int
fo_json_array(const json_t *obj, const char *key, size_t n, int ints,
              void **out, char **err)
{
	const json_t *a = json_object_get(obj, key);
	if (!json_is_array(a) || json_array_size(a) != n)
		return ml_seterr(err, -EINVAL, "tree field '%s' must be an array "
		                 "of %zu numbers", key, n);
	int *iv = ints ? ml_alloc(n, sizeof *iv) : NULL;
	double *dv = ints ? NULL : ml_alloc(n, sizeof *dv);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(a, i);
		if (ints ? !json_is_integer(e) : !json_is_number(e)) {
			free(iv);
			free(dv);
			return ml_seterr(err, -EINVAL, "tree field '%s' item %zu is "
			                 "not %s", key, i, ints ? "an integer" : "a number");
		}
		if (ints)
			iv[i] = (int)json_integer_value(e);
		else
			dv[i] = json_number_value(e);
	}
	*out = ints ? (void *)iv : (void *)dv;
	return 0;
}

int
ml_forest_from_json(const json_t *j, struct ml_forest *out, char **err)
{
	memset(out, 0, sizeof *out);
	const char *type = NULL, *task = NULL;
	json_int_t nclasses = 0, d = 0, first = 0;
	json_t *trees = NULL;
	json_error_t jerr;
	if (json_unpack_ex((json_t *)j, &jerr, 0, "{s:s s:s s:I s:I s:I s:o}",
	                   "type", &type, "task", &task, "nclasses", &nclasses,
	                   "d", &d, "first_tree", &first, "trees", &trees) < 0)
		return ml_seterr(err, -EINVAL, "bad forest JSON: %s", jerr.text);
	if (strcmp(type, "forest") != 0)
		return ml_seterr(err, -EINVAL, "model type '%s' is not 'forest'", type);
	if (strcmp(task, "classification") == 0)
		out->task = ML_FOREST_CLASSIFICATION;
	else if (strcmp(task, "regression") == 0)
		out->task = ML_FOREST_REGRESSION;
	else
		return ml_seterr(err, -EINVAL, "unknown forest task '%s'", task);
	if (nclasses < 1 || nclasses > 1000000 || d < 1 || d > 100000000 ||
	    first < 0 || first > 1000000000 || !json_is_array(trees) ||
	    (out->task == ML_FOREST_REGRESSION && nclasses != 1))
		return ml_seterr(err, -EINVAL, "bad forest JSON: nclasses, d, "
		                 "first_tree or trees out of range");
	out->nclasses = (int)nclasses;
	out->d = (size_t)d;
	out->first_tree = (int)first;
	size_t nt = json_array_size(trees);
	out->trees = ml_alloc(nt, sizeof *out->trees);
	for (size_t t = 0; t < nt; t++) {
		const json_t *jt = json_array_get(trees, t);
		struct ml_tree *tr = &out->trees[t];
		out->ntrees = (int)t + 1;
		const json_t *feat = json_object_get(jt, "feature");
		if (!json_is_array(feat) || json_array_size(feat) < 1 ||
		    json_array_size(feat) > (size_t)1 << 30) {
			ml_forest_free(out);
			return ml_seterr(err, -EINVAL, "tree %zu: no nodes", t);
		}
		size_t nn = json_array_size(feat);
		tr->nnodes = (int)nn;
		int rc;
		if ((rc = fo_json_array(jt, "feature", nn, 1, (void **)&tr->feature, err)) < 0 ||
		    (rc = fo_json_array(jt, "threshold", nn, 0, (void **)&tr->threshold, err)) < 0 ||
		    (rc = fo_json_array(jt, "left", nn, 1, (void **)&tr->left, err)) < 0 ||
		    (rc = fo_json_array(jt, "right", nn, 1, (void **)&tr->right, err)) < 0 ||
		    (rc = fo_json_array(jt, "value", nn * (size_t)nclasses, 0,
		                        (void **)&tr->value, err)) < 0 ||
		    (rc = fo_json_array(jt, "importance", (size_t)d, 0,
		                        (void **)&tr->importance, err)) < 0) {
			ml_forest_free(out);
			return rc;
		}
		/* children always come after their parent: no cycles, no
		 * index out of range, so prediction always ends at a leaf */
		for (size_t i = 0; i < nn; i++) {
			int f = tr->feature[i], l = tr->left[i], r = tr->right[i];
			int bad = f < -1 || f >= (int)d;
			if (f >= 0)
				bad = bad || l <= (int)i || r <= (int)i ||
				      l >= (int)nn || r >= (int)nn;
			if (bad) {
				ml_forest_free(out);
				return ml_seterr(err, -EINVAL, "tree %zu node %zu: bad "
				                 "feature or children", t, i);
			}
		}
	}
	return 0;
}
