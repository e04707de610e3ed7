/* SPDX-License-Identifier: MIT */
/*
 * ml-forest-test.c - random forests and k-means of lib/ml (ml_forest.c,
 * ml_kmeans.c) against scikit-learn's numbers in tests/fixtures/ml/eval.json
 * (written by ref_eval.py), plus the distribution properties: a forest is
 * the same whether its trees are trained by one task or four, and Lloyd
 * iterations give the same result on 1, 3 or 7 blocks.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml_eval.h"
#include "ml/ml_forest.h"
#include "ml/ml_kmeans.h"
#include "mldata.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static char *
srcpath(const char *rel)
{
	const char *dir = getenv("KILN_SRCDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir ? dir : KILN_SRCDIR, rel) < 0)
		abort();
	return p;
}

static void
load(const char *name, int label, struct mldata *m)
{
	char *p = srcpath(name);
	ck_assert_msg(mldata_load(p, label, m) == 0, "cannot load %s", p);
	free(p);
}

static json_t *
fixture(void)
{
	char *p = srcpath("tests/fixtures/ml/eval.json");
	json_error_t jerr;
	json_t *j = json_load_file(p, 0, &jerr);
	ck_assert_msg(j != NULL, "%s: %s", p, jerr.text);
	free(p);
	return j;
}

static double
fnum(const json_t *j, const char *path1, const char *path2)
{
	const json_t *o = json_object_get(j, path1);
	if (path2 != NULL)
		o = json_object_get(o, path2);
	ck_assert_msg(json_is_number(o), "fixture has no %s.%s", path1,
	              path2 ? path2 : "");
	return json_number_value(o);
}

/* Column views of rows where sel[i] == want (copies, freed by cols_free). */
static double **
select_rows(const struct mldata *m, const int *sel, int want, int invert,
            size_t *nout, int **yout)
{
	double **c = calloc(m->d, sizeof *c);
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		n += (sel[i] == want) != invert;
	for (size_t j = 0; j < m->d; j++) {
		c[j] = malloc((n ? n : 1) * sizeof **c);
		size_t k = 0;
		for (size_t i = 0; i < m->n; i++)
			if ((sel[i] == want) != invert)
				c[j][k++] = m->cols[j][i];
	}
	if (yout != NULL) {
		*yout = malloc((n ? n : 1) * sizeof **yout);
		size_t k = 0;
		for (size_t i = 0; i < m->n; i++)
			if ((sel[i] == want) != invert)
				(*yout)[k++] = m->y[i];
	}
	*nout = n;
	return c;
}

static void
cols_free(double **c, size_t d)
{
	for (size_t j = 0; j < d; j++)
		free(c[j]);
	free(c);
}

static char *
forest_dump(const struct ml_forest *f)
{
	json_t *j;
	ck_assert_int_eq(ml_forest_to_json(f, &j), 0);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* ------------------------------------------------------------------ */

START_TEST(forest_breast_cancer_cv)
{
	struct mldata m;
	load("examples/data/breast_cancer.csv", 30, &m);
	json_t *ref = fixture();
	int *fold = malloc(m.n * sizeof *fold);
	ck_assert_int_eq(ml_stratified_kfold(m.y, m.nclasses, m.n, 5, 7, fold,
	                                     NULL), 0);
	double acc = 0;
	for (int f = 0; f < 5; f++) {
		size_t ntr, nte;
		int *ytr, *yte;
		double **tr = select_rows(&m, fold, f, 1, &ntr, &ytr);
		double **te = select_rows(&m, fold, f, 0, &nte, &yte);
		struct ml_forest_params p;
		ml_forest_defaults(&p, ML_FOREST_CLASSIFICATION);
		p.nclasses = m.nclasses;
		p.seed = 100 + (uint64_t)f;
		struct ml_forest_data data = { (const double *const *)tr, ntr, m.d,
		                               ytr, NULL, NULL };
		struct ml_forest forest;
		char *err = NULL;
		ck_assert_msg(ml_forest_fit(&data, &p, &forest, &err) == 0, "%s", err);
		ck_assert_int_eq(forest.ntrees, 100);
		int *pred = malloc(nte * sizeof *pred);
		ck_assert_int_eq(ml_forest_predict_class(&forest,
		                 (const double *const *)te, nte, pred, NULL), 0);
		size_t ok = 0;
		for (size_t i = 0; i < nte; i++)
			ok += pred[i] == yte[i];
		acc += (double)ok / (double)nte / 5;
		free(pred);
		ml_forest_free(&forest);
		cols_free(tr, m.d);
		cols_free(te, m.d);
		free(ytr);
		free(yte);
	}
	double want = fnum(ref, "forest", "breast_cancer_cv_accuracy");
	ck_assert_msg(fabs(acc - want) <= 0.02, "CV accuracy %.4f, sklearn %.4f",
	              acc, want);
	free(fold);
	json_decref(ref);
	mldata_free(&m);
}
END_TEST

START_TEST(forest_same_for_any_split_of_trees)
{
	struct mldata m;
	load("examples/data/breast_cancer.csv", 30, &m);
	struct ml_forest_params p;
	ml_forest_defaults(&p, ML_FOREST_CLASSIFICATION);
	p.nclasses = m.nclasses;
	p.seed = 42;
	struct ml_forest_data data = { (const double *const *)m.cols, m.n, m.d,
	                               m.y, NULL, (const char *const *)m.names };
	struct ml_forest whole, merged = { 0 }, part[4];
	ck_assert_int_eq(ml_forest_fit(&data, &p, &whole, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ml_forest_fit_trees(&data, &p, i * 100 / 4,
		                 (i + 1) * 100 / 4 - i * 100 / 4, &part[i], NULL), 0);
	/* out of order is refused */
	char *err = NULL;
	ck_assert_int_eq(ml_forest_merge(&part[0], &part[2], &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "tree order"));
	free(err);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ml_forest_merge(&merged, &part[i], NULL), 0);
	char *a = forest_dump(&whole), *b = forest_dump(&merged);
	ck_assert_str_eq(a, b);

	/* a different seed gives a different forest */
	struct ml_forest other;
	p.seed = 43;
	ck_assert_int_eq(ml_forest_fit_trees(&data, &p, 0, 100, &other, NULL), 0);
	char *c = forest_dump(&other);
	ck_assert_str_ne(a, c);

	/* JSON round trip: same dump, same probabilities */
	json_t *j = json_loads(a, 0, NULL);
	struct ml_forest back;
	ck_assert_int_eq(ml_forest_from_json(j, &back, NULL), 0);
	char *d = forest_dump(&back);
	ck_assert_str_eq(a, d);
	double *p1 = malloc(m.n * 2 * sizeof *p1), *p2 = malloc(m.n * 2 * sizeof *p2);
	ck_assert_int_eq(ml_forest_predict_proba(&whole,
	                 (const double *const *)m.cols, m.n, p1, NULL), 0);
	ck_assert_int_eq(ml_forest_predict_proba(&back,
	                 (const double *const *)m.cols, m.n, p2, NULL), 0);
	ck_assert_int_eq(memcmp(p1, p2, m.n * 2 * sizeof *p1), 0);
	for (size_t i = 0; i < m.n; i++)
		ck_assert_double_eq_tol(p1[2 * i] + p1[2 * i + 1], 1.0, 1e-12);

	/* importances: a distribution over the columns */
	double *imp = malloc(m.d * sizeof *imp), s = 0;
	ck_assert_int_eq(ml_forest_importances(&whole, imp, NULL), 0);
	for (size_t k = 0; k < m.d; k++) {
		ck_assert(imp[k] >= 0);
		s += imp[k];
	}
	ck_assert_double_eq_tol(s, 1.0, 1e-9);

	/* a corrupt model is refused */
	json_t *t0 = json_array_get(json_object_get(j, "trees"), 0);
	json_array_set_new(json_object_get(t0, "left"), 0, json_integer(0));
	struct ml_forest bad;
	err = NULL;
	ck_assert_int_eq(ml_forest_from_json(j, &bad, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);

	json_decref(j);
	free(imp);
	free(p1);
	free(p2);
	free(a);
	free(b);
	free(c);
	free(d);
	ml_forest_free(&whole);
	ml_forest_free(&merged);
	ml_forest_free(&other);
	ml_forest_free(&back);
	for (int i = 0; i < 4; i++)
		ml_forest_free(&part[i]);
	mldata_free(&m);
}
END_TEST

START_TEST(forest_regression_r2)
{
	struct mldata m;
	load("examples/data/iris.csv", 4, &m);
	json_t *ref = fixture();
	int *fold = malloc(m.n * sizeof *fold);
	ck_assert_int_eq(ml_kfold(m.n, 5, 1, 3, fold, NULL), 0);
	double r2sum = 0;
	for (int f = 0; f < 5; f++) {
		size_t ntr, nte;
		double **tr = select_rows(&m, fold, f, 1, &ntr, NULL);
		double **te = select_rows(&m, fold, f, 0, &nte, NULL);
		struct ml_forest_params p;
		ml_forest_defaults(&p, ML_FOREST_REGRESSION);
		p.max_features = -1;  /* as scikit-learn's regressor */
		p.seed = (uint64_t)f;
		struct ml_forest_data data = { (const double *const *)tr, ntr, 3,
		                               NULL, tr[3], NULL };
		struct ml_forest forest;
		ck_assert_int_eq(ml_forest_fit(&data, &p, &forest, NULL), 0);
		double *pred = malloc(nte * sizeof *pred), r2;
		ck_assert_int_eq(ml_forest_predict_value(&forest,
		                 (const double *const *)te, nte, pred, NULL), 0);
		ck_assert_int_eq(ml_r2(te[3], pred, nte, &r2, NULL), 0);
		r2sum += r2 / 5;
		free(pred);
		ml_forest_free(&forest);
		cols_free(tr, m.d);
		cols_free(te, m.d);
	}
	double want = fnum(ref, "forest", "iris_petal_width_cv_r2");
	ck_assert_msg(fabs(r2sum - want) <= 0.03 && r2sum > 0.85,
	              "CV R^2 %.4f, sklearn %.4f", r2sum, want);

	/* default max_features (d/3) works too and predicts reasonably */
	struct ml_forest_params p;
	ml_forest_defaults(&p, ML_FOREST_REGRESSION);
	struct ml_forest_data data = { (const double *const *)m.cols, m.n, 3,
	                               NULL, m.cols[3], NULL };
	struct ml_forest forest;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &forest, NULL), 0);
	double *pred = malloc(m.n * sizeof *pred), r2;
	ck_assert_int_eq(ml_forest_predict_value(&forest,
	                 (const double *const *)m.cols, m.n, pred, NULL), 0);
	ck_assert_int_eq(ml_r2(m.cols[3], pred, m.n, &r2, NULL), 0);
	ck_assert_msg(r2 > 0.9, "training R^2 %.4f", r2);
	/* wrong kind of prediction */
	char *err = NULL;
	ck_assert_int_eq(ml_forest_predict_proba(&forest,
	                 (const double *const *)m.cols, m.n, pred, &err), -EINVAL);
	free(err);
	free(pred);
	ml_forest_free(&forest);
	free(fold);
	json_decref(ref);
	mldata_free(&m);
}
END_TEST

START_TEST(forest_edge_cases)
{
	struct mldata m;
	load("examples/data/iris.csv", 4, &m);
	/* a constant column (index 4) is never split on */
	double *cst = malloc(m.n * sizeof *cst);
	for (size_t i = 0; i < m.n; i++)
		cst[i] = 7.5;
	const double *cols[5] = { m.cols[0], m.cols[1], m.cols[2], m.cols[3], cst };
	const char *names[5] = { "a", "b", "c", "d", "const" };
	struct ml_forest_params p;
	ml_forest_defaults(&p, ML_FOREST_CLASSIFICATION);
	p.nclasses = 3;
	p.n_trees = 20;
	p.max_features = -1;
	struct ml_forest_data data = { cols, m.n, 5, m.y, NULL, names };
	struct ml_forest f;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, NULL), 0);
	int splits = 0;
	for (int t = 0; t < f.ntrees; t++)
		for (int i = 0; i < f.trees[t].nnodes; i++) {
			ck_assert_int_ne(f.trees[t].feature[i], 4);
			splits += f.trees[t].feature[i] >= 0;
		}
	ck_assert_int_gt(splits, 20);
	double imp[5];
	ck_assert_int_eq(ml_forest_importances(&f, imp, NULL), 0);
	ck_assert(imp[4] == 0);
	ml_forest_free(&f);

	/* max_depth 1: stumps */
	p.max_depth = 1;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, NULL), 0);
	for (int t = 0; t < f.ntrees; t++)
		ck_assert_int_eq(f.trees[t].nnodes, 3);
	ml_forest_free(&f);
	p.max_depth = 0;

	/* min_samples_leaf: every leaf has enough distinct training rows */
	p.min_samples_leaf = 10;
	p.bootstrap = 0;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, NULL), 0);
	for (int t = 0; t < f.ntrees; t++) {
		int *count = calloc((size_t)f.trees[t].nnodes, sizeof *count);
		for (size_t i = 0; i < m.n; i++) {
			int node = 0;
			while (f.trees[t].feature[node] >= 0)
				node = cols[f.trees[t].feature[node]][i] <=
				       f.trees[t].threshold[node] ? f.trees[t].left[node] :
				       f.trees[t].right[node];
			count[node]++;
		}
		for (int i = 0; i < f.trees[t].nnodes; i++)
			if (f.trees[t].feature[i] < 0)
				ck_assert_int_ge(count[i], 10);
		free(count);
	}
	ml_forest_free(&f);
	p.min_samples_leaf = 1;
	p.bootstrap = 1;

	/* NaN in a feature: the row and the column are named */
	double *nan = malloc(m.n * sizeof *nan);
	memcpy(nan, m.cols[2], m.n * sizeof *nan);
	nan[17] = NAN;
	cols[4] = nan;
	char *err = NULL;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, &err), -EINVAL);
	ck_assert_str_eq(err, "row 17: NaN in column 'const'");
	free(err);

	/* 0 rows */
	data.n = 0;
	err = NULL;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
	data.n = m.n;
	cols[4] = cst;

	/* a label out of range */
	int saved = m.y[3];
	m.y[3] = 3;
	err = NULL;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "row 3"));
	free(err);
	m.y[3] = saved;

	/* a single class: one-leaf trees predicting it with certainty */
	int *one = calloc(m.n, sizeof *one);
	for (size_t i = 0; i < m.n; i++)
		one[i] = 1;
	data.y = one;
	ck_assert_int_eq(ml_forest_fit(&data, &p, &f, NULL), 0);
	double *proba = malloc(m.n * 3 * sizeof *proba);
	ck_assert_int_eq(ml_forest_predict_proba(&f, cols, m.n, proba, NULL), 0);
	ck_assert(proba[1] == 1.0 && proba[0] == 0.0);
	ck_assert_int_eq(f.trees[0].nnodes, 1);
	/* NaN at prediction time */
	cols[4] = nan;
	err = NULL;
	ck_assert_int_eq(ml_forest_predict_proba(&f, cols, m.n, proba, &err),
	                 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "NaN"));
	free(err);
	ml_forest_free(&f);

	free(proba);
	free(one);
	free(nan);
	free(cst);
	mldata_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */

static void
json_matrix(const json_t *a, double *out, size_t rows, size_t cols)
{
	ck_assert_uint_eq(json_array_size(a), rows);
	for (size_t i = 0; i < rows; i++) {
		const json_t *r = json_array_get(a, i);
		ck_assert_uint_eq(json_array_size(r), cols);
		for (size_t j = 0; j < cols; j++)
			out[i * cols + j] = json_number_value(json_array_get(r, j));
	}
}

START_TEST(kmeans_lloyd_matches_sklearn)
{
	struct mldata m;
	load("examples/data/iris.csv", 4, &m);
	json_t *ref = fixture();
	json_t *cases = json_object_get(ref, "kmeans");
	ck_assert_uint_ge(json_array_size(cases), 4);
	for (size_t c = 0; c < json_array_size(cases); c++) {
		json_t *cs = json_array_get(cases, c);
		size_t k = json_array_size(json_object_get(cs, "init"));
		double init[16], want[16];
		json_matrix(json_object_get(cs, "init"), init, k, 4);
		json_matrix(json_object_get(cs, "centres"), want, k, 4);
		struct ml_kmeans_params p;
		ml_kmeans_defaults(&p, (int)k);
		struct ml_kmeans km;
		char *err = NULL;
		ck_assert_msg(ml_kmeans_lloyd((const double *const *)m.cols, NULL,
		              m.n, 4, init, &p, &km, &err) == 0, "%s", err);
		double wi = fnum(cs, "inertia", NULL);
		ck_assert_msg(fabs(km.inertia - wi) <= 1e-9 * wi,
		              "case %zu: inertia %.17g, sklearn %.17g", c,
		              km.inertia, wi);
		for (size_t i = 0; i < k * 4; i++)
			ck_assert_msg(fabs(km.centres[i] - want[i]) <= 1e-9,
			              "case %zu centre value %zu: %.17g vs %.17g", c, i,
			              km.centres[i], want[i]);
		ck_assert_int_eq(km.iterations,
		                 (int)json_integer_value(json_object_get(cs, "n_iter")));

		/* the same statistics on 1, 3 and 7 blocks, shipped as JSON */
		const int nbs[] = { 1, 3, 7 };
		double ref_centres[16];
		for (int b = 0; b < 3; b++) {
			int nb = nbs[b];
			struct ml_kmeans_partial acc;
			for (int blk = 0; blk < nb; blk++) {
				size_t s = (size_t)blk * m.n / (size_t)nb;
				size_t e = (size_t)(blk + 1) * m.n / (size_t)nb;
				const double *X[4];
				for (int j = 0; j < 4; j++)
					X[j] = m.cols[j] + s;
				struct ml_kmeans_partial pt, back;
				ck_assert_int_eq(ml_kmeans_lloyd_partial(X, NULL, e - s, 4,
				                 init, (int)k, &pt, NULL), 0);
				json_t *j;
				ck_assert_int_eq(ml_kmeans_partial_to_json(&pt, &j), 0);
				char *txt = json_dumps(j, 0);
				json_decref(j);
				j = json_loads(txt, 0, NULL);
				free(txt);
				ck_assert_int_eq(ml_kmeans_partial_from_json(j, &back, NULL), 0);
				json_decref(j);
				ml_kmeans_partial_free(&pt);
				if (blk == 0) {
					acc = back;
				} else {
					ck_assert_int_eq(ml_kmeans_partial_merge(&acc, &back,
					                 NULL), 0);
					ml_kmeans_partial_free(&back);
				}
			}
			double nc[16], shift;
			ck_assert_int_eq(ml_kmeans_lloyd_finish(&acc, init, nc, &shift,
			                 NULL), 0);
			ck_assert(acc.n == 150);
			if (b == 0)
				memcpy(ref_centres, nc, sizeof nc);
			else
				for (size_t i = 0; i < k * 4; i++)
					ck_assert(fabs(nc[i] - ref_centres[i]) <=
					          1e-9 * fabs(ref_centres[i]) + 1e-12);
			ml_kmeans_partial_free(&acc);
		}
		ml_kmeans_free(&km);
	}
	json_decref(ref);
	mldata_free(&m);
}
END_TEST

START_TEST(kmeans_parallel_init)
{
	struct mldata m;
	load("examples/data/iris.csv", 4, &m);
	const double *const *X = (const double *const *)m.cols;
	struct ml_kmeans_params p;
	ml_kmeans_defaults(&p, 3);
	p.seed = 11;
	for (size_t nb = 1; nb <= 7; nb += 3) {
		struct ml_kmeans a, b;
		char *err = NULL;
		ck_assert_msg(ml_kmeans_fit(X, NULL, m.n, 4, &p, nb, &a, &err) == 0,
		              "%s", err);
		ck_assert_int_eq(ml_kmeans_fit(X, NULL, m.n, 4, &p, nb, &b, NULL), 0);
		/* deterministic given seed and partitioning */
		ck_assert_int_eq(memcmp(a.centres, b.centres, 12 * sizeof(double)), 0);
		/* k-means|| lands in the good optimum on iris (78.85) */
		ck_assert_msg(a.inertia < 79.0, "%zu blocks: inertia %g", nb,
		              a.inertia);
		/* predict: the nearest centre, and JSON round trip */
		json_t *j;
		ck_assert_int_eq(ml_kmeans_to_json(&a, &j), 0);
		struct ml_kmeans c;
		ck_assert_int_eq(ml_kmeans_from_json(j, &c, NULL), 0);
		json_decref(j);
		int *la = malloc(m.n * sizeof *la), *lc = malloc(m.n * sizeof *lc);
		ck_assert_int_eq(ml_kmeans_predict(&a, X, m.n, la, NULL), 0);
		ck_assert_int_eq(ml_kmeans_predict(&c, X, m.n, lc, NULL), 0);
		ck_assert_int_eq(memcmp(la, lc, m.n * sizeof *la), 0);
		double inertia = 0;
		for (size_t i = 0; i < m.n; i++)
			for (int d = 0; d < 4; d++) {
				double e = m.cols[d][i] - a.centres[la[i] * 4 + d];
				inertia += e * e;
			}
		ck_assert_double_eq_tol(inertia, a.inertia, 1e-9);
		free(la);
		free(lc);
		ml_kmeans_free(&a);
		ml_kmeans_free(&b);
		ml_kmeans_free(&c);
	}
	mldata_free(&m);
}
END_TEST

/*
 * ml_kmeans_fit() on NB blocks must be the distributed plan on NB ingest
 * partitions: ingest gives the first R % N partitions one row more
 * (ingest-test's split_sizes), and the oversampling stream of block b
 * draws for the rows of partition b.  150 rows into 4 and 7 blocks do not
 * divide evenly.  With max_iter 0 the model's centres are the k-means||
 * initial centres, where the split shows.
 */
START_TEST(kmeans_fit_blocks_are_ingests_partitions)
{
	struct mldata m;
	load("examples/data/iris.csv", 4, &m);
	const size_t d = 4, n = m.n;
	struct ml_kmeans_params p;
	ml_kmeans_defaults(&p, 3);
	p.seed = 11;
	p.max_iter = 0;
	double l = 2.0 * p.k;
	const size_t nbs[] = { 4, 7 };
	for (size_t t = 0; t < 2; t++) {
		size_t nb = nbs[t], start[8];
		ck_assert_uint_ne(n % nb, 0);
		start[0] = 0;
		for (size_t b = 0; b < nb; b++)
			start[b + 1] = start[b] + n / nb + (b < n % nb);
		const double *Xb[8][4];
		for (size_t b = 0; b < nb; b++)
			for (size_t j = 0; j < d; j++)
				Xb[b][j] = m.cols[j] + start[b];
#define PART(b) Xb[b], NULL, start[(b) + 1] - start[b], d
		struct ml_kmeans_points C = { 1, d, malloc(d * sizeof(double)) };
		ml_kmeans_get_row((const double *const *)m.cols, d,
		                  ml_kmeans_first_row(p.seed, n), C.x);
		for (int r = 1; r <= p.rounds; r++) {
			double psi = 0, cb;
			for (size_t b = 0; b < nb; b++) {
				ck_assert_int_eq(ml_kmeans_cost(PART(b), C.x, C.n, &cb,
				                 NULL), 0);
				psi += cb;
			}
			struct ml_kmeans_points add = { 0, d, NULL }, pb;
			for (size_t b = 0; b < nb; b++) {
				ck_assert_int_eq(ml_kmeans_oversample(PART(b), C.x, C.n, l,
				                 psi, p.seed, r, b, &pb, NULL), 0);
				ml_kmeans_points_append(&add, &pb);
				ml_kmeans_points_free(&pb);
			}
			ml_kmeans_points_append(&C, &add);
			ml_kmeans_points_free(&add);
		}
		double *w = calloc(C.n, sizeof *w), init[12];
		for (size_t b = 0; b < nb; b++)
			ck_assert_int_eq(ml_kmeans_cand_weights(PART(b), C.x, C.n, w,
			                 NULL), 0);
#undef PART
		ck_assert_int_eq(ml_kmeans_recluster(C.x, w, C.n, d, &p, init, NULL), 0);
		struct ml_kmeans km;
		char *err = NULL;
		ck_assert_msg(ml_kmeans_fit((const double *const *)m.cols, NULL, n, d,
		              &p, nb, &km, &err) == 0, "%s", err);
		ck_assert_msg(memcmp(km.centres, init, sizeof init) == 0,
		              "%zu blocks: ml_kmeans_fit's initial centres are not "
		              "those of %zu ingest partitions", nb, nb);
		ml_kmeans_free(&km);
		ml_kmeans_points_free(&C);
		free(w);
	}
	mldata_free(&m);
}
END_TEST

START_TEST(kmeans_edge_cases)
{
	double c0[5] = { 1, 2, 3, 4, 5 }, c1[5] = { 1, 1, 1, 1, 1 };
	const double *X[2] = { c0, c1 };
	struct ml_kmeans_params p;
	ml_kmeans_defaults(&p, 6);
	struct ml_kmeans km;
	char *err = NULL;
	/* k > n */
	ck_assert_int_eq(ml_kmeans_fit(X, NULL, 5, 2, &p, 1, &km, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "k = 6"));
	free(err);
	/* 0 rows */
	p.k = 2;
	err = NULL;
	ck_assert_int_eq(ml_kmeans_fit(X, NULL, 0, 2, &p, 1, &km, &err), -EINVAL);
	free(err);
	/* NaN */
	c0[3] = NAN;
	err = NULL;
	ck_assert_int_eq(ml_kmeans_fit(X, NULL, 5, 2, &p, 1, &km, &err), -EINVAL);
	ck_assert_str_eq(err, "row 3: NaN in column 0");
	free(err);
	c0[3] = 4;
	/* fewer distinct points than k */
	double d0[5] = { 1, 1, 1, 2, 2 };
	const double *Y[2] = { d0, c1 };
	p.k = 3;
	err = NULL;
	ck_assert_int_eq(ml_kmeans_fit(Y, NULL, 5, 2, &p, 1, &km, &err), -EDOM);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* a constant column is harmless */
	p.k = 2;
	ck_assert_int_eq(ml_kmeans_fit(X, NULL, 5, 2, &p, 1, &km, NULL), 0);
	ck_assert(km.inertia > 0 && km.inertia < 5);
	ml_kmeans_free(&km);
	/* bad JSON model */
	json_t *j = json_pack("{s:s s:i s:i s:[[f]]}", "type", "kmeans", "k", 1,
	                      "d", 2, "centres", 1.0);
	err = NULL;
	ck_assert_int_eq(ml_kmeans_from_json(j, &km, &err), -EINVAL);
	free(err);
	json_decref(j);
}
END_TEST

static Suite *
ml_forest_suite(void)
{
	Suite *s = suite_create("ml-forest");
	TCase *tc = tcase_create("forest");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, forest_breast_cancer_cv);
	tcase_add_test(tc, forest_same_for_any_split_of_trees);
	tcase_add_test(tc, forest_regression_r2);
	tcase_add_test(tc, forest_edge_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("kmeans");
	tcase_add_test(tc, kmeans_lloyd_matches_sklearn);
	tcase_add_test(tc, kmeans_parallel_init);
	tcase_add_test(tc, kmeans_fit_blocks_are_ingests_partitions);
	tcase_add_test(tc, kmeans_edge_cases);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ml_forest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
