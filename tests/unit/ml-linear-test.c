/* SPDX-License-Identifier: MIT */
/*
 * ml-linear-test.c - tests for lib/ml/ml_lbfgs.c and lib/ml/ml_linear.c:
 * agreement with scikit-learn (tests/fixtures/ml/linear.json, written by
 * ref_linear.py), independence from the block split (1, 3 and 7 blocks,
 * partials shipped through JSON), gradients against finite differences,
 * and the documented errors (constant column, one class, NaN, no rows).
 *
 * `ml-linear-test --bench [rows]` instead times ml_logreg_partial() on
 * random 1,000,000 x 32 data and prints GB/s of feature data per core.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ml/ml_lbfgs.h"
#include "ml/ml_linear.h"
#include "mldata.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static json_t *ref;
static struct mldata iris, bc;

static const char *
srcdir(void)
{
	const char *s = getenv("KILN_SRCDIR");
	return s != NULL && *s != '\0' ? s : KILN_SRCDIR;
}

static void
setup(void)
{
	char path[4096];
	json_error_t je;
	snprintf(path, sizeof path, "%s/tests/fixtures/ml/linear.json", srcdir());
	ref = json_load_file(path, 0, &je);
	ck_assert_msg(ref != NULL, "%s: %s", path, je.text);
	snprintf(path, sizeof path, "%s/examples/data/iris.csv", srcdir());
	ck_assert_int_eq(mldata_load(path, 4, &iris), 0);
	snprintf(path, sizeof path, "%s/examples/data/breast_cancer.csv", srcdir());
	ck_assert_int_eq(mldata_load(path, 30, &bc), 0);
	ck_assert_int_eq(iris.n, 150);
	ck_assert_int_eq(bc.n, 569);
}

static void
teardown(void)
{
	json_decref(ref);
	mldata_free(&iris);
	mldata_free(&bc);
}

/* ---- helpers ---- */

static json_t *
rget(const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(ref, a), b);
	ck_assert_msg(v != NULL, "fixture lacks %s.%s", a, b);
	return v;
}

static double
jnum(const json_t *a, size_t i)
{
	return json_number_value(json_array_get(a, i));
}

/* |got - want| <= rel * scale, scale = max |want| over the vector (so
 * near-zero entries are judged against the vector's size). */
static void
check_vec(const char *what, const double *got, const double *want, size_t n, double rel)
{
	double scale = 0;
	for (size_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) <= rel * scale,
		              "%s[%zu]: got %.17g, want %.17g (rel %g)", what, i,
		              got[i], want[i], fabs(got[i] - want[i]) / scale);
}

/* Flatten a JSON array (or array of arrays) into OUT. */
static size_t
jflat(const json_t *a, double *out)
{
	size_t n = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *x = json_array_get(a, i);
		if (json_is_array(x))
			n += jflat(x, out + n);
		else
			out[n++] = json_number_value(x);
	}
	return n;
}

/* Row-split view of a data set into NB blocks of uneven size. */
struct blocks {
	size_t nb;
	const double **cols;     /* nb * d pointers */
	const double *const *X[8];
	const int *Y[8];
	const double *T[8];
	size_t n[8];
};

static void
split(const struct mldata *m, size_t nb, const double *target, struct blocks *b)
{
	b->nb = nb;
	b->cols = calloc(nb * m->d, sizeof *b->cols);
	for (size_t k = 0; k < nb; k++) {
		/* Uneven sizes: boundaries at (k/nb)^1.5 of the rows. */
		size_t lo = (size_t)(m->n * pow((double)k / nb, 1.5));
		size_t hi = (size_t)(m->n * pow((double)(k + 1) / nb, 1.5));
		if (k + 1 == nb)
			hi = m->n;
		for (size_t j = 0; j < m->d; j++)
			b->cols[k * m->d + j] = m->cols[j] + lo;
		b->X[k] = b->cols + k * m->d;
		b->Y[k] = m->y != NULL ? m->y + lo : NULL;
		b->T[k] = target != NULL ? target + lo : NULL;
		b->n[k] = hi - lo;
	}
}

static void
split_free(struct blocks *b)
{
	free(b->cols);
}

/* Columns of M selected by NAMES (a JSON array), plus the column TARGET. */
static size_t
pick(const struct mldata *m, const json_t *names, const char *target,
     const double **cols, const double **t)
{
	size_t d = json_array_size(names);
	for (size_t k = 0; k < d; k++) {
		const char *nm = json_string_value(json_array_get(names, k));
		cols[k] = NULL;
		for (size_t j = 0; j < m->d; j++)
			if (strcmp(m->names[j], nm) == 0)
				cols[k] = m->cols[j];
		ck_assert_msg(cols[k] != NULL, "no column %s", nm);
	}
	*t = NULL;
	for (size_t j = 0; j < m->d; j++)
		if (strcmp(m->names[j], target) == 0)
			*t = m->cols[j];
	ck_assert(*t != NULL);
	return d;
}

/* ---- L-BFGS ---- */

static double
rosen(void *ud, const double *x, double *g)
{
	int *calls = ud;
	(*calls)++;
	double a = 1 - x[0], b = x[1] - x[0] * x[0];
	g[0] = -2 * a - 400 * x[0] * b;
	g[1] = 200 * b;
	return a * a + 100 * b * b;
}

static double
fails(void *ud, const double *x, double *g)
{
	int *calls = ud;
	g[0] = 2 * x[0];
	return ++(*calls) > 2 ? NAN : x[0] * x[0] + 1;
}

START_TEST(test_lbfgs_rosenbrock)
{
	double x[2] = { -1.2, 1 };
	int calls = 0;
	struct ml_lbfgs_result r;
	struct ml_lbfgs_opts o;
	ml_lbfgs_defaults(&o);
	o.gtol = 1e-10;
	o.ftol = 0;
	ck_assert_int_eq(ml_lbfgs_minimize(2, x, rosen, &calls, &o, &r, NULL), 0);
	ck_assert_int_eq(r.status, ML_LBFGS_GTOL);
	ck_assert_double_eq_tol(x[0], 1, 1e-8);
	ck_assert_double_eq_tol(x[1], 1, 1e-8);
	ck_assert_int_eq(r.evaluations, calls);
	/* The unit step is taken most of the time: well under 2 calls/iter. */
	ck_assert_msg(r.evaluations < 2 * r.iterations, "%d evals for %d iterations",
	              r.evaluations, r.iterations);
	ck_assert_int_lt(r.iterations, 100);

	o.max_iter = 3;
	x[0] = -1.2, x[1] = 1;
	ck_assert_int_eq(ml_lbfgs_minimize(2, x, rosen, &calls, &o, &r, NULL), 0);
	ck_assert_int_eq(r.status, ML_LBFGS_MAX_ITER);
	ck_assert_int_eq(r.iterations, 3);
}
END_TEST

START_TEST(test_lbfgs_callback_failure)
{
	double x[1] = { 5 };
	int calls = 0;
	char *err = NULL;
	ck_assert_int_eq(ml_lbfgs_minimize(1, x, fails, &calls, NULL, NULL, &err), -ECANCELED);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(calls, 3);
	ck_assert_double_eq(x[0], 4);   /* the best point so far */
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_lbfgs_minimize(0, x, fails, &calls, NULL, NULL, &err), -EINVAL);
	free(err);
}
END_TEST

/* ---- standardisation ---- */

START_TEST(test_moments_reference)
{
	static const char *sets[] = { "logreg_iris", "logreg_bc" };
	struct mldata *data[] = { &iris, &bc };
	static const size_t nbs[] = { 1, 3, 7 };
	for (int s = 0; s < 2; s++)
		for (int t = 0; t < 3; t++) {
			struct mldata *m = data[s];
			struct blocks b;
			split(m, nbs[t], NULL, &b);
			/* Each block its own partial, shipped as JSON, merged in order. */
			struct ml_moments acc;
			ck_assert_int_eq(ml_moments_init(&acc, m->d, m->nclasses, NULL), 0);
			for (size_t k = 0; k < b.nb; k++) {
				struct ml_moments p, q;
				json_t *j;
				ck_assert_int_eq(ml_moments_init(&p, m->d, m->nclasses, NULL), 0);
				ck_assert_int_eq(ml_moments_partial(&p, b.X[k], b.n[k], b.Y[k], NULL), 0);
				ck_assert_int_eq(ml_moments_to_json(&p, &j), 0);
				char *txt = json_dumps(j, 0);
				json_decref(j);
				j = json_loads(txt, 0, NULL);
				free(txt);
				ck_assert_int_eq(ml_moments_from_json(j, &q, NULL), 0);
				ck_assert_int_eq(ml_moments_merge(&acc, &q, NULL), 0);
				json_decref(j);
				ml_moments_free(&p);
				ml_moments_free(&q);
			}
			double mean[32], std[32], want[32];
			char *warn = (char *)"x";
			ck_assert_int_eq(ml_moments_finish(&acc, mean, std, &warn, NULL), 0);
			ck_assert_ptr_null(warn);
			ck_assert_double_eq(acc.count, (double)m->n);
			jflat(rget(sets[s], "mean"), want);
			check_vec("mean", mean, want, m->d, 1e-12);
			jflat(rget(sets[s], "std"), want);
			check_vec("std", std, want, m->d, 1e-12);
			double total = 0;
			for (int k = 0; k < m->nclasses; k++)
				total += acc.class_count[k];
			ck_assert_double_eq(total, (double)m->n);
			ml_moments_free(&acc);
			split_free(&b);
		}
}
END_TEST

/* ---- logistic regression ---- */

/* Partial gradient against central differences of the partial loss. */
START_TEST(test_logreg_gradient)
{
	struct mldata *data[] = { &bc, &iris };
	for (int s = 0; s < 2; s++) {
		struct mldata *m = data[s];
		struct ml_moments st;
		struct ml_logreg lr;
		ck_assert_int_eq(ml_moments_init(&st, m->d, m->nclasses, NULL), 0);
		ck_assert_int_eq(ml_moments_partial(&st, (const double *const *)m->cols, m->n, m->y, NULL), 0);
		ck_assert_int_eq(ml_logreg_prepare(&lr, &st, 1.0, NULL, NULL), 0);
		size_t np = ml_logreg_nparam(&lr);
		ck_assert_int_eq(np, (s == 0 ? 1 : 3) * (m->d + 1));
		double *p = malloc(np * sizeof *p), *g = malloc(np * sizeof *g);
		double *g2 = malloc(np * sizeof *g2);
		for (size_t k = 0; k < np; k++)
			p[k] = 0.3 * sin(1.0 + (double)k);
		double f, f1, f2;
		ck_assert_int_eq(ml_logreg_partial(&lr, p, (const double *const *)m->cols, m->n, m->y, &f, g, NULL), 0);
		for (size_t k = 0; k < np; k++) {
			double h = 1e-5, save = p[k];
			p[k] = save + h;
			ml_logreg_partial(&lr, p, (const double *const *)m->cols, m->n, m->y, &f1, g2, NULL);
			p[k] = save - h;
			ml_logreg_partial(&lr, p, (const double *const *)m->cols, m->n, m->y, &f2, g2, NULL);
			p[k] = save;
			double fd = (f1 - f2) / (2 * h);
			ck_assert_msg(fabs(fd - g[k]) <= 1e-5 * fmax(1, fabs(g[k])),
			              "set %d param %zu: analytic %g, numeric %g", s, k, g[k], fd);
		}
		/* The penalty: C*loss + 0.5|W|^2, intercepts free. */
		double fp = f;
		memcpy(g2, g, np * sizeof *g);
		lr.C = 2.0;
		ml_logreg_penalise(&lr, p, &fp, g2);
		double pen = 0;
		for (size_t r = 0; r < np / (m->d + 1); r++)
			for (size_t j = 0; j < m->d; j++)
				pen += p[r * (m->d + 1) + j] * p[r * (m->d + 1) + j];
		ck_assert_double_eq_tol(fp, 2 * f + 0.5 * pen, 1e-9 * fp);
		ck_assert_double_eq_tol(g2[m->d], 2 * g[m->d], 1e-12);
		ck_assert_double_eq_tol(g2[0], 2 * g[0] + p[0], 1e-12);
		free(p);
		free(g);
		free(g2);
		ml_logreg_free(&lr);
		ml_moments_free(&st);
	}
}
END_TEST

static void
logreg_case(const char *set, struct mldata *m)
{
	static const size_t nbs[] = { 1, 3, 7 };
	double first[200];
	size_t np = 0;
	for (int t = 0; t < 3; t++) {
		struct blocks b;
		struct ml_logreg lr;
		struct ml_lbfgs_opts o;
		char *warn = NULL, *err = NULL;
		ml_lbfgs_defaults(&o);
		/* Tighter than the defaults, so that the 1, 3 and 7 block fits
		 * (whose gradients differ by rounding) agree to 1e-9. */
		o.gtol = 1e-10;
		o.ftol = 0;
		split(m, nbs[t], NULL, &b);
		int rc = ml_logreg_fit_blocks(&lr, m->d, 0, 1.0, b.X, b.Y, b.n, b.nb, &o,
		                              &warn, &err);
		ck_assert_msg(rc == 0, "%s: %s", set, err);
		ck_assert_ptr_null(warn);
		ck_assert_msg(lr.status == ML_LBFGS_GTOL, "%s: %s", set,
		              ml_lbfgs_status_str(lr.status));
		ck_assert_int_lt(lr.n_eval, 3 * lr.n_iter);
		printf("%s, %zu blocks: %d iterations, %d evaluations\n", set, b.nb,
		       lr.n_iter, lr.n_eval);
		size_t R = lr.nclasses == 2 ? 1 : (size_t)lr.nclasses, d = m->d;
		double want[200], got[200];
		size_t nw = jflat(rget(set, "coef"), want);
		ck_assert_int_eq(nw, R * d);
		check_vec("coef", lr.coef, want, R * d, 1e-6);
		jflat(rget(set, "intercept"), want);
		check_vec("intercept", lr.intercept, want, R, 1e-6);

		/* Log loss at the fit, through the partials of the blocks. */
		np = ml_logreg_nparam(&lr);
		double *p = got, loss = 0, g[200], l;
		for (size_t r = 0; r < R; r++) {
			memcpy(p + r * (d + 1), lr.coef + r * d, d * sizeof(double));
			p[r * (d + 1) + d] = lr.intercept[r];
		}
		for (size_t k = 0; k < b.nb; k++) {
			ck_assert_int_eq(ml_logreg_partial(&lr, p, b.X[k], b.n[k], b.Y[k], &l, g, NULL), 0);
			loss += l;
		}
		double wl = json_number_value(rget(set, "log_loss_sum"));
		ck_assert_msg(fabs(loss - wl) <= 1e-6 * wl, "%s loss %.12g want %.12g", set, loss, wl);
		ck_assert_msg(fabs(lr.loss - loss) <= 1e-9 * loss, "%s: the fit's loss %.12g, "
		              "the partials' %.12g", set, lr.loss, loss);

		if (t == 0)
			memcpy(first, p, np * sizeof(double));
		else
			check_vec("same fit whatever the blocks", p, first, np, 1e-9);

		/* predict_proba on the fixture's rows. */
		json_t *rows = rget(set, "proba_rows");
		size_t nr = json_array_size(rows), K = (size_t)lr.nclasses;
		double *cols = malloc(nr * d * sizeof(double));
		const double *cp[32];
		for (size_t j = 0; j < d; j++) {
			for (size_t i = 0; i < nr; i++)
				cols[j * nr + i] = m->cols[j][(size_t)jnum(rows, i)];
			cp[j] = cols + j * nr;
		}
		double proba[64], wp[64];
		ck_assert_int_eq(ml_logreg_predict_proba(&lr, cp, nr, proba, NULL), 0);
		jflat(rget(set, "proba"), wp);
		for (size_t i = 0; i < nr; i++)
			for (size_t k = 0; k < K; k++)
				ck_assert_msg(fabs(proba[k * nr + i] - wp[i * K + k]) <= 1e-6,
				              "%s proba row %zu class %zu", set, i, k);

		/* Model JSON round trip predicts the same. */
		json_t *j;
		struct ml_logreg back;
		ck_assert_int_eq(ml_logreg_to_json(&lr, &j), 0);
		char *txt = json_dumps(j, 0);
		json_decref(j);
		j = json_loads(txt, 0, NULL);
		free(txt);
		ck_assert_int_eq(ml_logreg_from_json(j, &back, NULL), 0);
		json_decref(j);
		double proba2[64];
		ck_assert_int_eq(ml_logreg_predict_proba(&back, cp, nr, proba2, NULL), 0);
		check_vec("proba after JSON", proba2, proba, nr * K, 1e-15);

		/* Original-scale coefficients give the same z. */
		double co[200], ci[8];
		ml_logreg_coef_original(&lr, co, ci);
		for (size_t r = 0; r < R; r++) {
			double z1 = ci[r], z2 = lr.intercept[r];
			for (size_t jj = 0; jj < d; jj++) {
				z1 += co[r * d + jj] * cp[jj][0];
				z2 += lr.coef[r * d + jj] * (cp[jj][0] - lr.mean[jj]) / lr.std[jj];
			}
			ck_assert_double_eq_tol(z1, z2, 1e-9 * fmax(1, fabs(z2)));
		}
		free(cols);
		ml_logreg_free(&back);
		ml_logreg_free(&lr);
		split_free(&b);
	}
}

START_TEST(test_logreg_binary)
{
	logreg_case("logreg_bc", &bc);
}
END_TEST

START_TEST(test_logreg_multinomial)
{
	logreg_case("logreg_iris", &iris);
}
END_TEST

/* The distributed driver: a callback that fails is reported as such. */
static int
eval_fail(void *ud, const struct ml_logreg *m, const double *params, double *loss,
          double *grad, char **err)
{
	int *calls = ud;
	if (++*calls > 2) {
		*err = strdup("worker 3 lost");
		return -EIO;
	}
	return ml_logreg_partial(m, params, (const double *const *)iris.cols, iris.n,
	                         iris.y, loss, grad, err);
}

START_TEST(test_logreg_callback_error)
{
	struct ml_moments st;
	struct ml_logreg lr;
	char *err = NULL;
	int calls = 0;
	ck_assert_int_eq(ml_moments_init(&st, iris.d, 3, NULL), 0);
	ck_assert_int_eq(ml_moments_partial(&st, (const double *const *)iris.cols, iris.n, iris.y, NULL), 0);
	ck_assert_int_eq(ml_logreg_prepare(&lr, &st, 1.0, NULL, NULL), 0);
	ck_assert_int_eq(ml_logreg_fit(&lr, eval_fail, &calls, NULL, &err), -EIO);
	ck_assert_str_eq(err, "worker 3 lost");
	free(err);
	ml_logreg_free(&lr);
	ml_moments_free(&st);
}
END_TEST

/* ---- linear / ridge regression ---- */

static void
linreg_case(const char *set, struct mldata *m)
{
	static const size_t nbs[] = { 1, 3, 7 };
	const double *cols[32], *t;
	json_t *names = rget(set, "features");
	size_t d = pick(m, names, json_string_value(rget(set, "target")), cols, &t);
	struct mldata view = { .n = m->n, .d = d, .cols = (double **)cols };
	for (int which = 0; which < 2; which++) {
		const char *key = which ? "ridge" : "ols";
		double alpha = which ? 1.0 : 0.0;
		json_t *r = rget(set, key);
		double want[32];
		jflat(json_object_get(r, "coef"), want);
		double wi = json_number_value(json_object_get(r, "intercept"));
		for (int tt = 0; tt < 3; tt++) {
			struct blocks b;
			struct ml_linreg_partial acc;
			struct ml_linreg lm;
			split(&view, nbs[tt], t, &b);
			ck_assert_int_eq(ml_linreg_partial_init(&acc, d, NULL), 0);
			for (size_t k = 0; k < b.nb; k++) {
				struct ml_linreg_partial p, q;
				json_t *j;
				ck_assert_int_eq(ml_linreg_partial_init(&p, d, NULL), 0);
				ck_assert_int_eq(ml_linreg_partial_add(&p, b.X[k], b.n[k], b.T[k], NULL), 0);
				ck_assert_int_eq(ml_linreg_partial_to_json(&p, &j), 0);
				char *txt = json_dumps(j, 0);
				json_decref(j);
				j = json_loads(txt, 0, NULL);
				free(txt);
				ck_assert_int_eq(ml_linreg_partial_from_json(j, &q, NULL), 0);
				ck_assert_int_eq(ml_linreg_merge(&acc, &q, NULL), 0);
				json_decref(j);
				ml_linreg_partial_free(&p);
				ml_linreg_partial_free(&q);
			}
			char *err = NULL;
			int rc = ml_linreg_finish(&acc, alpha, &lm, &err);
			ck_assert_msg(rc == 0, "%s", err);
			check_vec(key, lm.coef, want, d, 1e-9);
			ck_assert_msg(fabs(lm.intercept - wi) <= 1e-9 * fabs(wi), "%s intercept %.17g want %.17g",
			              key, lm.intercept, wi);

			double pred[2], pred2[2];
			const double *one[32];
			for (size_t j = 0; j < d; j++)
				one[j] = cols[j] + 5;
			ck_assert_int_eq(ml_linreg_predict(&lm, one, 2, pred, NULL), 0);
			double e = wi;
			for (size_t j = 0; j < d; j++)
				e += want[j] * cols[j][5];
			ck_assert_double_eq_tol(pred[0], e, 1e-9 * fmax(1, fabs(e)));

			json_t *j;
			struct ml_linreg back;
			ck_assert_int_eq(ml_linreg_to_json(&lm, &j), 0);
			ck_assert_int_eq(ml_linreg_from_json(j, &back, NULL), 0);
			json_decref(j);
			ck_assert_int_eq(ml_linreg_predict(&back, one, 2, pred2, NULL), 0);
			ck_assert_double_eq(pred[1], pred2[1]);
			ml_linreg_free(&back);
			ml_linreg_free(&lm);
			ml_linreg_partial_free(&acc);
			split_free(&b);
		}
	}
}

START_TEST(test_linreg_iris)
{
	linreg_case("linreg_iris", &iris);
}
END_TEST

START_TEST(test_linreg_bc)
{
	linreg_case("linreg_bc", &bc);
}
END_TEST

/* ---- Gaussian naive Bayes ---- */

static void
nb_case(const char *set, struct mldata *m)
{
	static const size_t nbs[] = { 1, 3, 7 };
	size_t d = m->d, K = (size_t)m->nclasses;
	double *want = malloc((K * d + 64) * sizeof(double)), w2[64];
	for (int tt = 0; tt < 3; tt++) {
		struct blocks b;
		struct ml_nb_partial acc;
		struct ml_nb nb;
		split(m, nbs[tt], NULL, &b);
		ck_assert_int_eq(ml_nb_partial_init(&acc, d, (int)K, NULL), 0);
		for (size_t k = 0; k < b.nb; k++) {
			struct ml_nb_partial p, q;
			json_t *j;
			ck_assert_int_eq(ml_nb_partial_init(&p, d, (int)K, NULL), 0);
			ck_assert_int_eq(ml_nb_partial_add(&p, b.X[k], b.n[k], b.Y[k], NULL), 0);
			ck_assert_int_eq(ml_nb_partial_to_json(&p, &j), 0);
			char *txt = json_dumps(j, 0);
			json_decref(j);
			j = json_loads(txt, 0, NULL);
			free(txt);
			ck_assert_int_eq(ml_nb_partial_from_json(j, &q, NULL), 0);
			ck_assert_int_eq(ml_nb_merge(&acc, &q, NULL), 0);
			json_decref(j);
			ml_nb_partial_free(&p);
			ml_nb_partial_free(&q);
		}
		ck_assert_int_eq(ml_nb_finish(&acc, 1e-9, &nb, NULL), 0);
		jflat(rget(set, "theta"), want);
		check_vec("theta", nb.theta, want, K * d, 1e-9);
		jflat(rget(set, "var"), want);
		for (size_t i = 0; i < K * d; i++)
			ck_assert_msg(fabs(nb.var[i] - want[i]) <= 1e-9 * want[i], "%s var[%zu]", set, i);
		jflat(rget(set, "prior"), want);
		check_vec("prior", nb.prior, want, K, 1e-12);
		double eps = json_number_value(rget(set, "epsilon"));
		ck_assert_double_eq_tol(nb.epsilon, eps, 1e-9 * eps);

		json_t *rows = rget(set, "proba_rows");
		size_t nr = json_array_size(rows);
		double *cols = malloc(nr * d * sizeof(double));
		const double *cp[32];
		for (size_t j = 0; j < d; j++) {
			for (size_t i = 0; i < nr; i++)
				cols[j * nr + i] = m->cols[j][(size_t)jnum(rows, i)];
			cp[j] = cols + j * nr;
		}
		double proba[64], proba2[64];
		ck_assert_int_eq(ml_nb_predict_proba(&nb, cp, nr, proba, NULL), 0);
		jflat(rget(set, "proba"), w2);
		for (size_t i = 0; i < nr; i++)
			for (size_t k = 0; k < K; k++)
				ck_assert_msg(fabs(proba[k * nr + i] - w2[i * K + k]) <= 1e-9,
				              "%s proba row %zu class %zu: %.17g vs %.17g", set, i, k,
				              proba[k * nr + i], w2[i * K + k]);

		json_t *j;
		struct ml_nb back;
		ck_assert_int_eq(ml_nb_to_json(&nb, &j), 0);
		ck_assert_int_eq(ml_nb_from_json(j, &back, NULL), 0);
		json_decref(j);
		ck_assert_int_eq(ml_nb_predict_proba(&back, cp, nr, proba2, NULL), 0);
		check_vec("proba after JSON", proba2, proba, nr * K, 1e-15);
		free(cols);
		ml_nb_free(&back);
		ml_nb_free(&nb);
		ml_nb_partial_free(&acc);
		split_free(&b);
	}
	free(want);
}

START_TEST(test_nb_iris)
{
	nb_case("nb_iris", &iris);
}
END_TEST

START_TEST(test_nb_bc)
{
	nb_case("nb_bc", &bc);
}
END_TEST

/* ---- edge cases ---- */

/* Iris's first three columns plus a constant fourth (5.0). */
START_TEST(test_constant_column)
{
	size_t n = iris.n;
	double *c = malloc(n * sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = 0.1 * 3;   /* not exactly representable: mean != value */
	const double *X[4] = { iris.cols[0], iris.cols[1], iris.cols[2], c };
	char *warn = NULL, *err = NULL;

	struct ml_moments st;
	double mean[4], std[4];
	ck_assert_int_eq(ml_moments_init(&st, 4, 3, NULL), 0);
	ck_assert_int_eq(ml_moments_partial(&st, X, n, iris.y, NULL), 0);
	ck_assert_int_eq(ml_moments_finish(&st, mean, std, &warn, NULL), 0);
	ck_assert_ptr_nonnull(warn);
	ck_assert_msg(strstr(warn, "constant column 3") != NULL, "%s", warn);
	ck_assert_double_eq(std[3], 1);
	free(warn);
	ml_moments_free(&st);

	/* Logistic regression: works, the constant column gets weight 0. */
	const double *const *XB[1] = { X };
	const int *YB[1] = { iris.y };
	size_t nr[1] = { n };
	struct ml_logreg lr;
	ck_assert_int_eq(ml_logreg_fit_blocks(&lr, 4, 0, 1.0, XB, YB, nr, 1, NULL, &warn, &err), 0);
	ck_assert_ptr_nonnull(warn);
	for (int k = 0; k < 3; k++)
		ck_assert_double_eq_tol(lr.coef[k * 4 + 3], 0, 1e-9);
	free(warn);
	ml_logreg_free(&lr);

	/* Least squares refuses it, naming the column; ridge is fine. */
	struct ml_linreg_partial p;
	struct ml_linreg lm;
	ck_assert_int_eq(ml_linreg_partial_init(&p, 4, NULL), 0);
	ck_assert_int_eq(ml_linreg_partial_add(&p, X, n, iris.cols[3], NULL), 0);
	ck_assert_int_eq(ml_linreg_finish(&p, 0, &lm, &err), -EDOM);
	ck_assert_msg(strstr(err, "column 3 is constant") != NULL, "%s", err);
	free(err);
	err = NULL;
	ck_assert_int_eq(ml_linreg_finish(&p, 1.0, &lm, &err), 0);
	ck_assert_double_eq_tol(lm.coef[3], 0, 1e-9);
	ml_linreg_free(&lm);
	ml_linreg_partial_free(&p);

	/* Naive Bayes: fine while some other column varies... */
	struct ml_nb_partial q;
	struct ml_nb nb;
	ck_assert_int_eq(ml_nb_partial_init(&q, 4, 3, NULL), 0);
	ck_assert_int_eq(ml_nb_partial_add(&q, X, n, iris.y, NULL), 0);
	ck_assert_int_eq(ml_nb_finish(&q, 1e-9, &nb, NULL), 0);
	ck_assert(nb.var[3] > 0);
	ml_nb_free(&nb);
	ml_nb_partial_free(&q);
	/* ...but not when every column is constant. */
	const double *Xc[1] = { c };
	ck_assert_int_eq(ml_nb_partial_init(&q, 1, 3, NULL), 0);
	ck_assert_int_eq(ml_nb_partial_add(&q, Xc, n, iris.y, NULL), 0);
	ck_assert_int_eq(ml_nb_finish(&q, 1e-9, &nb, &err), -EDOM);
	ck_assert_ptr_nonnull(strstr(err, "constant"));
	free(err);
	ml_nb_partial_free(&q);
	free(c);
}
END_TEST

START_TEST(test_collinear)
{
	size_t n = iris.n;
	double *c = malloc(n * sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = 2 * iris.cols[0][i] - 0.5 * iris.cols[1][i];
	const double *X[3] = { iris.cols[0], iris.cols[1], c };
	struct ml_linreg_partial p;
	struct ml_linreg lm;
	char *err = NULL;
	ck_assert_int_eq(ml_linreg_partial_init(&p, 3, NULL), 0);
	ck_assert_int_eq(ml_linreg_partial_add(&p, X, n, iris.cols[3], NULL), 0);
	ck_assert_int_eq(ml_linreg_finish(&p, 0, &lm, &err), -EDOM);
	ck_assert_msg(strstr(err, "column 2 is collinear") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(ml_linreg_finish(&p, 0.5, &lm, NULL), 0);
	ml_linreg_free(&lm);
	ml_linreg_partial_free(&p);
	free(c);
}
END_TEST

START_TEST(test_single_class)
{
	int *y = calloc(iris.n, sizeof *y);     /* everything class 0 */
	const double *const *XB[1] = { (const double *const *)iris.cols };
	const int *YB[1] = { y };
	size_t nr[1] = { iris.n };
	struct ml_logreg lr;
	char *err = NULL;
	ck_assert_int_eq(ml_logreg_fit_blocks(&lr, iris.d, 0, 1.0, XB, YB, nr, 1, NULL, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "only one class in the training data");
	free(err);
	err = NULL;
	/* Declared three classes, all rows in one: same message. */
	ck_assert_int_eq(ml_logreg_fit_blocks(&lr, iris.d, 3, 1.0, XB, YB, nr, 1, NULL, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "only one class in the training data");
	free(err);
	err = NULL;
	/* Two of three classes present: the missing one is named. */
	for (size_t i = 0; i < iris.n; i++)
		y[i] = iris.y[i] == 2 ? 0 : iris.y[i];
	ck_assert_int_eq(ml_logreg_fit_blocks(&lr, iris.d, 3, 1.0, XB, YB, nr, 1, NULL, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "class 2 has no training rows");
	free(err);
	err = NULL;

	memset(y, 0, iris.n * sizeof *y);
	struct ml_nb_partial q;
	struct ml_nb nb;
	ck_assert_int_eq(ml_nb_partial_init(&q, iris.d, 3, NULL), 0);
	ck_assert_int_eq(ml_nb_partial_add(&q, (const double *const *)iris.cols, iris.n, y, NULL), 0);
	ck_assert_int_eq(ml_nb_finish(&q, 1e-9, &nb, &err), -EINVAL);
	ck_assert_str_eq(err, "only one class in the training data");
	free(err);
	err = NULL;
	/* A class code out of range names its row. */
	y[17] = 3;
	ck_assert_int_eq(ml_nb_partial_add(&q, (const double *const *)iris.cols, iris.n, y, &err), -EINVAL);
	ck_assert_msg(strstr(err, "row 17: class code 3") != NULL, "%s", err);
	free(err);
	ml_nb_partial_free(&q);
	free(y);
}
END_TEST

START_TEST(test_nan)
{
	size_t n = iris.n, d = iris.d;
	double *cols[4];
	for (size_t j = 0; j < d; j++) {
		cols[j] = malloc(n * sizeof(double));
		memcpy(cols[j], iris.cols[j], n * sizeof(double));
	}
	cols[2][17] = NAN;
	const double *const *X = (const double *const *)cols;
	char *err = NULL;
	static const char *msg = "row 17: NaN in column 2";

	struct ml_moments st;
	ck_assert_int_eq(ml_moments_init(&st, d, 3, NULL), 0);
	ck_assert_int_eq(ml_moments_partial(&st, X, n, iris.y, &err), -EINVAL);
	ck_assert_str_eq(err, msg);
	free(err);
	err = NULL;
	ck_assert_double_eq(st.count, 0);    /* a failed block changes nothing */
	ml_moments_free(&st);

	/* The partial (say the moments came from elsewhere). */
	struct ml_logreg lr;
	double mean[4] = { 0 }, sd[4] = { 1, 1, 1, 1 }, p[15] = { 0.1, 0.1, 0.1, 0.1, 0 };
	double loss, g[15];
	ck_assert_int_eq(ml_logreg_init(&lr, d, 3, 1.0, mean, sd, NULL), 0);
	ck_assert_int_eq(ml_logreg_partial(&lr, p, X, n, iris.y, &loss, g, &err), -EINVAL);
	ck_assert_str_eq(err, msg);
	free(err);
	err = NULL;
	double proba[3 * 150];
	ck_assert_int_eq(ml_logreg_predict_proba(&lr, X, n, proba, &err), -EINVAL);
	ck_assert_str_eq(err, msg);
	free(err);
	err = NULL;
	ml_logreg_free(&lr);

	struct ml_linreg_partial lp;
	ck_assert_int_eq(ml_linreg_partial_init(&lp, 3, NULL), 0);
	ck_assert_int_eq(ml_linreg_partial_add(&lp, X, n, iris.cols[3], &err), -EINVAL);
	ck_assert_str_eq(err, msg);
	free(err);
	err = NULL;
	/* A NaN target is named too. */
	ck_assert_int_eq(ml_linreg_partial_add(&lp, (const double *const *)iris.cols, n, cols[2], &err), -EINVAL);
	ck_assert_str_eq(err, "row 17: NaN in the target");
	free(err);
	err = NULL;
	ml_linreg_partial_free(&lp);

	struct ml_nb_partial q;
	ck_assert_int_eq(ml_nb_partial_init(&q, d, 3, NULL), 0);
	ck_assert_int_eq(ml_nb_partial_add(&q, X, n, iris.y, &err), -EINVAL);
	ck_assert_str_eq(err, msg);
	free(err);
	ml_nb_partial_free(&q);
	for (size_t j = 0; j < d; j++)
		free(cols[j]);
}
END_TEST

START_TEST(test_zero_rows)
{
	const double *const *X = (const double *const *)iris.cols;
	char *err = NULL;
	double mean[4], sd[4];

	struct ml_moments st;
	ck_assert_int_eq(ml_moments_init(&st, 4, 3, NULL), 0);
	ck_assert_int_eq(ml_moments_partial(&st, X, 0, iris.y, NULL), 0);
	ck_assert_int_eq(ml_moments_finish(&st, mean, sd, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "no training rows");
	free(err);
	err = NULL;
	ml_moments_free(&st);

	const double *const *XB[1] = { X };
	const int *YB[1] = { iris.y };
	size_t nr[1] = { 0 };
	struct ml_logreg lr;
	ck_assert_int_eq(ml_logreg_fit_blocks(&lr, 4, 3, 1.0, XB, YB, nr, 1, NULL, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "no training rows");
	free(err);
	err = NULL;

	struct ml_linreg_partial lp;
	struct ml_linreg lm;
	ck_assert_int_eq(ml_linreg_partial_init(&lp, 3, NULL), 0);
	ck_assert_int_eq(ml_linreg_partial_add(&lp, X, 0, iris.cols[3], NULL), 0);
	ck_assert_int_eq(ml_linreg_finish(&lp, 1.0, &lm, &err), -EINVAL);
	ck_assert_str_eq(err, "no training rows");
	free(err);
	err = NULL;
	ml_linreg_partial_free(&lp);

	struct ml_nb_partial q;
	struct ml_nb nb;
	ck_assert_int_eq(ml_nb_partial_init(&q, 4, 3, NULL), 0);
	ck_assert_int_eq(ml_nb_partial_add(&q, X, 0, iris.y, NULL), 0);
	ck_assert_int_eq(ml_nb_finish(&q, 1e-9, &nb, &err), -EINVAL);
	ck_assert_str_eq(err, "no training rows");
	free(err);
	ml_nb_partial_free(&q);
}
END_TEST

START_TEST(test_bad_json)
{
	static const char *bad[] = {
		"{}",
		"{\"type\":\"linreg\",\"d\":2,\"alpha\":0,\"intercept\":1,\"coef\":[1]}",
		"{\"type\":\"logreg\",\"d\":1,\"classes\":2,\"C\":1,\"mean\":[0],\"std\":[0],"
		"\"coef\":[[1]],\"intercept\":[0]}",
		"{\"type\":\"naive_bayes\",\"d\":1,\"classes\":2,\"epsilon\":0,\"prior\":[0.5,0.5],"
		"\"theta\":[[0],[1]],\"var\":[[1],[-1]]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		char *err = NULL;
		struct ml_linreg a;
		struct ml_logreg b;
		struct ml_nb c;
		int rc = i == 3 ? ml_nb_from_json(j, &c, &err) :
		         i == 2 ? ml_logreg_from_json(j, &b, &err) : ml_linreg_from_json(j, &a, &err);
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_ptr_nonnull(err);
		free(err);
		json_decref(j);
	}
}
END_TEST

/* ---- benchmark ---- */

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
bench(size_t n)
{
	const size_t d = 32;
	double *cols[32], mean[32], sd[32], p[33], g[33], loss;
	int *y = malloc(n * sizeof *y);
	uint64_t s = 0x9e3779b97f4a7c15u;
	for (size_t j = 0; j < d; j++) {
		cols[j] = malloc(n * sizeof(double));
		for (size_t i = 0; i < n; i++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			cols[j][i] = (double)(s >> 11) * 0x1p-53 * 4 - 2;
		}
		mean[j] = 0, sd[j] = 1.1547;
		p[j] = 0.05 * (double)((int)j % 5 - 2);
	}
	p[32] = 0.1;
	for (size_t i = 0; i < n; i++)
		y[i] = cols[0][i] + cols[1][i] > 0;
	struct ml_logreg lr;
	if (ml_logreg_init(&lr, d, 2, 1.0, mean, sd, NULL) != 0)
		return 1;
	int reps = 10;
	double best = 1e9;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		ml_logreg_partial(&lr, p, (const double *const *)cols, n, y, &loss, g, NULL);
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	double gb = (double)n * d * sizeof(double) / 1e9;
	printf("ml_logreg_partial binary, %zu x %zu: best %.4f s of %d, %.2f GB/s (loss %.6g)\n",
	       n, d, best, reps, gb / best, loss);
	ml_logreg_free(&lr);

	/* Multinomial, 3 classes, for comparison. */
	double p3[99] = { 0 }, g3[99];
	for (int k = 0; k < 99; k++)
		p3[k] = 0.01 * (k % 7);
	for (size_t i = 0; i < n; i++)
		y[i] = (int)(i % 3);
	if (ml_logreg_init(&lr, d, 3, 1.0, mean, sd, NULL) != 0)
		return 1;
	best = 1e9;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		ml_logreg_partial(&lr, p3, (const double *const *)cols, n, y, &loss, g3, NULL);
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	printf("ml_logreg_partial 3 classes, %zu x %zu: best %.4f s, %.2f GB/s\n",
	       n, d, best, gb / best);
	ml_logreg_free(&lr);
	for (size_t j = 0; j < d; j++)
		free(cols[j]);
	free(y);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Class weights, L1 and elastic net (issue 17, item 5).                */

#define CLOSE(a, b, tol) ck_assert_double_eq_tol((a), (b), (tol))

/* A uniform in (0, 1) from a 64-bit LCG. */
static double
u01(uint64_t *st)
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
}

/* N rows of D Gaussian features, column-major in X (owned), labels in Y:
 * class 1 with probability P1; the first NREL features have mean SHIFT
 * in class 1 (0 in class 0), the others are noise. */
static void
synth(size_t n, size_t d, size_t nrel, double p1, double shift,
      uint64_t seed, double **X, int *y)
{
	uint64_t st = seed;
	for (size_t i = 0; i < n; i++) {
		y[i] = u01(&st) < p1;
		for (size_t j = 0; j < d; j++) {
			double r = sqrt(-2 * log(u01(&st)));
			double g = r * cos(2 * M_PI * u01(&st));
			X[j][i] = g + (j < nrel && y[i] ? shift : 0);
		}
	}
}

static double **
cols(size_t n, size_t d)
{
	double **X = calloc(d, sizeof *X);
	for (size_t j = 0; j < d; j++)
		X[j] = calloc(n, sizeof(double));
	return X;
}

static void
cols_free(double **X, size_t d)
{
	for (size_t j = 0; j < d; j++)
		free(X[j]);
	free(X);
}

/* Recall of class 1 on the training rows; *ACC (may be NULL) the
 * accuracy. */
static double
recall1(const struct ml_logreg *m, double **X, const int *y, size_t n,
        double *acc)
{
	double *p = calloc(2 * n, sizeof *p);
	ck_assert_int_eq(ml_logreg_predict_proba(m, (const double *const *)X, n,
	                                         p, NULL), 0);
	size_t tp = 0, pos = 0, ok = 0;
	for (size_t i = 0; i < n; i++) {
		int hat = p[n + i] > 0.5;
		pos += y[i] == 1;
		tp += y[i] == 1 && hat;
		ok += hat == y[i];
	}
	free(p);
	if (acc != NULL)
		*acc = (double)ok / (double)n;
	return (double)tp / (double)pos;
}

START_TEST(test_logreg_class_weight)
{
	size_t n = 2000, d = 2;
	double **X = cols(n, d);
	int *y = calloc(n, sizeof *y);
	synth(n, d, 2, 0.05, 1.5, 7, X, y);
	const double *const *XB[1] = { (const double *const *)X };
	const int *YB[1] = { y };
	struct ml_logreg plain, bal, ones;
	struct ml_logreg_spec sp = { .C = 1 };
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&plain, d, 2, &sp, XB, YB, &n, 1,
	                                         NULL, NULL, NULL), 0);
	sp.balanced = 1;
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&bal, d, 2, &sp, XB, YB, &n, 1,
	                                         NULL, NULL, NULL), 0);
	double w1[2] = { 1, 1 };
	sp.balanced = 0;
	sp.class_weight = w1;
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&ones, d, 2, &sp, XB, YB, &n, 1,
	                                         NULL, NULL, NULL), 0);
	size_t n1 = 0;
	for (size_t i = 0; i < n; i++)
		n1 += (size_t)y[i];
	/* scikit-learn's balanced weights, n / (K n_k) */
	CLOSE(bal.class_weight[0], (double)n / (2.0 * (double)(n - n1)), 1e-15);
	CLOSE(bal.class_weight[1], (double)n / (2.0 * (double)n1), 1e-15);
	/* weights of 1 are no weights */
	for (size_t j = 0; j < d; j++)
		CLOSE(ones.coef[j], plain.coef[j], 1e-12);
	double rp = recall1(&plain, X, y, n, NULL), rb = recall1(&bal, X, y, n, NULL);
	fprintf(stderr, "# minority recall: %.3f unweighted, %.3f balanced "
	        "(%zu of %zu rows)\n", rp, rb, n1, n);
	ck_assert(rb > rp + 0.3);
	/* the weights travel with the model */
	json_t *j = NULL;
	struct ml_logreg back;
	ck_assert_int_eq(ml_logreg_to_json(&bal, &j), 0);
	ck_assert_int_eq(ml_logreg_from_json(j, &back, NULL), 0);
	ck_assert(back.class_weight != NULL &&
	          back.class_weight[1] == bal.class_weight[1]);
	json_decref(j);
	ml_logreg_free(&back);
	ml_logreg_free(&plain);
	ml_logreg_free(&bal);
	ml_logreg_free(&ones);
	cols_free(X, d);
	free(y);
}
END_TEST

/* L1 on 2 relevant and 8 noise features: the noise coefficients are
 * exactly 0, and the solution satisfies the optimality (KKT) conditions
 * of C sum loss + ||W||_1: |C g_j| <= 1 where w_j = 0, C g_j = -sign(w_j)
 * elsewhere, a zero intercept gradient.  Elastic net with l1_ratio 0 is
 * L2, found by FISTA instead of L-BFGS. */
START_TEST(test_logreg_l1)
{
	size_t n = 600, d = 10;
	double **X = cols(n, d);
	int *y = calloc(n, sizeof *y);
	synth(n, d, 2, 0.5, 1.0, 11, X, y);
	const double *const *XB[1] = { (const double *const *)X };
	const int *YB[1] = { y };
	struct ml_lbfgs_opts o;
	ml_lbfgs_defaults(&o);
	o.gtol = 1e-9;
	o.ftol = 0;
	o.max_iter = 20000;
	struct ml_logreg l1, l2, en0;
	struct ml_logreg_spec sp = { .C = 0.02, .penalty = ML_LR_L1 };
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&l1, d, 2, &sp, XB, YB, &n, 1,
	                                         &o, NULL, NULL), 0);
	ck_assert(l1.status == ML_LBFGS_GTOL || l1.status == ML_LBFGS_STALLED);
	fprintf(stderr, "# L1 by FISTA: %d iterations, %d evaluations\n",
	        l1.n_iter, l1.n_eval);
	double g[11], loss;
	double par[11];
	for (size_t j = 0; j < d; j++)
		par[j] = l1.coef[j];
	par[d] = l1.intercept[0];
	ck_assert_int_eq(ml_logreg_partial(&l1, par, (const double *const *)X, n,
	                                   y, &loss, g, NULL), 0);
	int zeros = 0;
	for (size_t j = 0; j < d; j++) {
		double cg = l1.C * g[j];
		if (l1.coef[j] == 0) {
			zeros++;
			ck_assert(fabs(cg) <= 1 + 1e-6);
		} else {
			CLOSE(cg, l1.coef[j] > 0 ? -1 : 1, 1e-6);
		}
		if (j >= 2)
			ck_assert_msg(l1.coef[j] == 0, "noise feature %zu: %g", j,
			              l1.coef[j]);
	}
	ck_assert(fabs(l1.C * g[d]) <= 1e-6);
	ck_assert(l1.coef[0] > 0.1 && l1.coef[1] > 0.1);
	ck_assert_int_eq(zeros, 8);
	sp.penalty = ML_LR_L2;
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&l2, d, 2, &sp, XB, YB, &n, 1,
	                                         &o, NULL, NULL), 0);
	sp.penalty = ML_LR_ELASTICNET;
	sp.l1_ratio = 0;
	ck_assert_int_eq(ml_logreg_fit_blocks_ex(&en0, d, 2, &sp, XB, YB, &n, 1,
	                                         &o, NULL, NULL), 0);
	for (size_t j = 0; j < d; j++) {
		CLOSE(en0.coef[j], l2.coef[j], 1e-6);
		ck_assert(l2.coef[j] != 0);
	}
	CLOSE(en0.intercept[0], l2.intercept[0], 1e-6);
	/* still as good a classifier as L2 (the Bayes rate is 0.76) */
	double a1, a2;
	recall1(&l1, X, y, n, &a1);
	recall1(&l2, X, y, n, &a2);
	fprintf(stderr, "# training accuracy: L1 %.3f, L2 %.3f\n", a1, a2);
	ck_assert(a1 > 0.7 && a1 > a2 - 0.02);
	ml_logreg_free(&l1);
	ml_logreg_free(&l2);
	ml_logreg_free(&en0);
	cols_free(X, d);
	free(y);
}
END_TEST

/* L1, elastic net and balanced class weights against scikit-learn
 * (tests/fixtures/ml/penalty.json, ref_penalty.py: saga and newton-cg
 * fits checked there against the optimality conditions to 1e-9): the same
 * coefficients, zero exactly where scikit-learn's are, in 1 and 3
 * blocks. */
START_TEST(test_logreg_penalty_sklearn)
{
	static const struct { const char *name; int iris; } cases[] = {
		{ "bc_l1", 0 }, { "iris_l1", 1 }, { "iris_elasticnet", 1 },
		{ "bc_balanced", 0 },
	};
	char path[4096];
	json_error_t je;
	snprintf(path, sizeof path, "%s/tests/fixtures/ml/penalty.json", srcdir());
	json_t *pen = json_load_file(path, 0, &je);
	ck_assert_msg(pen != NULL, "%s: %s", path, je.text);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		json_t *r = json_object_get(pen, cases[c].name);
		ck_assert_msg(r != NULL, "penalty.json lacks %s", cases[c].name);
		struct mldata *m = cases[c].iris ? &iris : &bc;
		const char *pname = json_string_value(json_object_get(r, "penalty"));
		struct ml_logreg_spec sp = {
			.C = json_number_value(json_object_get(r, "C")),
			.penalty = ml_lr_penalty_find(pname),
			.l1_ratio = json_number_value(json_object_get(r, "l1_ratio")),
			.balanced = json_is_true(json_object_get(r, "balanced")),
		};
		ck_assert_int_ge(sp.penalty, 0);
		for (size_t nb = 1; nb <= 3; nb += 2) {
			struct blocks b;
			struct ml_logreg lr;
			struct ml_lbfgs_opts o;
			char *err = NULL;
			ml_lbfgs_defaults(&o);
			o.gtol = 1e-10;
			o.ftol = 0;
			o.max_iter = 100000;
			split(m, nb, NULL, &b);
			int rc = ml_logreg_fit_blocks_ex(&lr, m->d, m->nclasses, &sp,
			                                 b.X, b.Y, b.n, b.nb, &o,
			                                 NULL, &err);
			ck_assert_msg(rc == 0, "%s: %s", cases[c].name, err);
			size_t R = lr.nclasses == 2 ? 1 : (size_t)lr.nclasses;
			double want[200];
			size_t nw = jflat(json_object_get(r, "coef"), want);
			ck_assert_int_eq(nw, R * m->d);
			fprintf(stderr, "# %s, %zu blocks: %d iterations\n",
			        cases[c].name, nb, lr.n_iter);
			check_vec(cases[c].name, lr.coef, want, nw, 1e-5);
			for (size_t i = 0; i < nw; i++)
				if (sp.penalty != ML_LR_L2)
					ck_assert_msg((want[i] == 0) == (lr.coef[i] == 0),
					              "%s coef %zu: %g, scikit-learn %g",
					              cases[c].name, i, lr.coef[i], want[i]);
			jflat(json_object_get(r, "intercept"), want);
			check_vec("intercept", lr.intercept, want, R, 1e-5);
			ml_logreg_free(&lr);
			split_free(&b);
		}
	}
	json_decref(pen);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("ml-linear");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lbfgs_rosenbrock);
	tcase_add_test(tc, test_lbfgs_callback_failure);
	tcase_add_test(tc, test_moments_reference);
	tcase_add_test(tc, test_logreg_gradient);
	tcase_add_test(tc, test_logreg_binary);
	tcase_add_test(tc, test_logreg_multinomial);
	tcase_add_test(tc, test_logreg_callback_error);
	tcase_add_test(tc, test_linreg_iris);
	tcase_add_test(tc, test_linreg_bc);
	tcase_add_test(tc, test_nb_iris);
	tcase_add_test(tc, test_nb_bc);
	tcase_add_test(tc, test_constant_column);
	tcase_add_test(tc, test_collinear);
	tcase_add_test(tc, test_single_class);
	tcase_add_test(tc, test_nan);
	tcase_add_test(tc, test_zero_rows);
	tcase_add_test(tc, test_bad_json);
	tcase_add_test(tc, test_logreg_class_weight);
	tcase_add_test(tc, test_logreg_l1);
	tcase_add_test(tc, test_logreg_penalty_sklearn);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench(argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1000000);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
