/* SPDX-License-Identifier: MIT */
/*
 * benchmark.c - the bundled 'benchmark' plugin: several models compared on
 * the same folds, written up as a leaderboard.
 *
 * Classification: stratified k-fold cross-validation of logistic
 * regression, Gaussian naive Bayes and random forests (ml_linear.h,
 * ml_forest.h).  Forecasting: rolling-origin backtests of the methods of
 * ml_forecast.h on one series column.  The driver (run) validates everything
 * it can before any work is spread, then runs ONE stage with a map task
 * per (model, fold) pair; every map task loads the whole (small) dataset,
 * rebuilds the same folds from the seed (the folds depend only on the rows
 * in file order, never on the partitioning or on the worker) and returns
 * the fold's metrics.  The driver merges them in task order, ranks the
 * models by the primary metric, tests the best against each other with a
 * paired t-test over the folds, refits the best on all rows and stores
 * leaderboard.json/.csv, report.md and model.json.  The job's result is
 * the leaderboard (the dashboard's Models page reads it).
 *
 * A model that fails on a fold (too few rows for AR(p), a multiplicative
 * season on data with zeros, ...) does not fail the job: the map task
 * returns {"error": ...}, the leaderboard records the message for that
 * model and ranks it last.  Only when every model fails does the job fail.
 *
 * Thread-safe: all state is per call.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "kdate/kdate.h"
#include "ml/ml_eval.h"
#include "ml/ml_forecast.h"
#include "ml/ml_forest.h"
#include "ml/ml_impute.h"
#include "ml/ml_linear.h"
#include "ml/mlplug.h"
#include "bm_models.h"

static const struct kiln_param bm_params[] = {
	{ "kind", "string", "", "classification, regression or forecasting (default: from the dataset: forecasting when `column` is set or the dataset has a time column, classification for a categorical label, regression for a numeric one; the result says which and why)" },
	{ "task", "string", "", "another name for `kind` (as ingest's `task`)" },
	{ "models", "json", "", "JSON array or comma list of model names, or objects {\"model\":..., params, \"grid\": {\"P\": [values]}} (a grid is every combination, each a model on the leaderboard)" },
	{ "folds", "int", "5", "cross-validation folds / backtest origins" },
	{ "repeats", "int", "1", "classification, regression: repeated k-fold, each repetition shuffled with seed + r (r = 0, 1, ...); with more than 1 the leaderboard is over all repeats x folds and p is Nadeau and Bengio's corrected resampled t-test" },
	{ "seed", "int", "42", "seed of the fold shuffle and the forests" },
	{ "metric", "string", "", "primary metric (roc_auc for two classes, accuracy for more, mase for forecasts)" },
	{ "label", "string", "", "classification, regression: label column (default: the ingest task's)" },
	{ "features", "string", "", "classification, regression: comma-separated feature columns" },
	{ "exclude", "string", "", "comma-separated columns to leave out" },
	{ "impute", "string", "", "classification, regression: fill missing features, fitted on each training fold: mean, median, most_frequent or constant[:V], for all (`median`) or per column (`x=median,*=mean`, or a JSON object)" },
	{ "column", "string", "", "forecasting: the series column" },
	{ "time", "string", "", "forecasting: the time column that orders the series" },
	{ "season", "int", "1", "forecasting: seasonal period m" },
	{ "horizon", "int", "10", "forecasting: values forecast at each origin" },
	{ "initial", "int", "", "forecasting: training length at the first origin (default: `folds` origins fit)" },
	{ "step", "int", "", "forecasting: distance between origins (default: horizon)" },
	{ "dataset", "string", "", "name of the dataset in the leaderboard" },
	{ NULL, NULL, NULL, NULL },
};

/* ------------------------------------------------------------------ */
/* Small helpers.                                                       */

/* JSON has no infinity or NaN: those become null. */
static json_t *
jnum(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* ------------------------------------------------------------------ */
/* Classification models.                                               */

struct bm_fitted {
	const struct bm_mdef *def;
	struct ml_logreg lr;
	struct ml_nb nb;
	struct ml_forest fo;
	struct ml_linreg li;       /* regression: ridge, ols */
};

static void
bm_fitted_free(struct bm_fitted *f)
{
	ml_logreg_free(&f->lr);
	ml_nb_free(&f->nb);
	ml_forest_free(&f->fo);
	ml_linreg_free(&f->li);
	memset(f, 0, sizeof *f);
}

/* M's class_weight into W (K values) for CLASSES (the K class names):
 * *GIVEN 0 for none, 1 for weights per class in W, 2 for balanced (W
 * untouched).  A class the weights name that the label does not have is
 * an error naming the classes. */
static int
bm_class_weight(const struct bm_model *m, int K, const char *const *classes,
                double *w, int *given, char **err)
{
	json_t *cw = json_object_get(m->params, "class_weight");
	const char *s = json_string_value(cw);
	*given = 0;
	if (cw == NULL || s != NULL) {
		*given = s != NULL && strcmp(s, "balanced") == 0 ? 2 : 0;
		return 0;
	}
	for (int k = 0; k < K; k++)
		w[k] = 1;
	const char *cls;
	json_t *v;
	json_object_foreach(cw, cls, v) {
		int k = 0;
		while (k < K && strcmp(classes[k], cls) != 0)
			k++;
		if (k == K) {
			char *known = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&known, &len);
			for (int j = 0; j < K; j++)
				fprintf(f, "%s%s", j ? ", " : "", classes[j]);
			fclose(f);
			int rc = ml_seterr(err, -EINVAL, "model %s: class_weight names "
			                   "the class '%s', which the label does not "
			                   "have (its classes: %s)", m->name, cls, known);
			free(known);
			return rc;
		}
		w[k] = json_number_value(v);
	}
	*given = 1;
	return 0;
}

/* Logistic regression's penalty and class weights from M's parameters
 * into SPEC, W as for bm_class_weight(). */
static int
bm_logreg_spec(const struct bm_model *m, int K, const char *const *classes,
               struct ml_logreg_spec *spec, double *w, char **err)
{
	memset(spec, 0, sizeof *spec);
	spec->C = bm_pnum(m->params, "C");
	spec->penalty = ml_lr_penalty_find(json_string_value(json_object_get(
	                m->params, "penalty")) ?: "l2");
	spec->l1_ratio = bm_pnum(m->params, "l1_ratio");
	int given;
	int rc = bm_class_weight(m, K, classes, w, &given, err);
	spec->balanced = given == 2;
	spec->class_weight = given == 1 ? w : NULL;
	return rc;
}

/* Fit model M on N rows (X: d columns, Y codes 0..K-1 of CLASSES). */
static int
bm_fit(const struct bm_model *m, size_t d, int K, const double *const *X,
       const int *y, size_t n, uint64_t seed, const char *const *names,
       const char *const *classes, struct bm_fitted *out, char **err)
{
	memset(out, 0, sizeof *out);
	out->def = m->def;
	const char *type = m->def->name;
	if (strcmp(type, "logreg") == 0) {
		struct ml_lbfgs_opts o;
		ml_lbfgs_defaults(&o);
		o.max_iter = (int)bm_pnum(m->params, "max_iter");
		o.ftol = 0;     /* as the logreg plugin: stop on the gradient */
		const double *const *blk = X;
		char *warn = NULL;
		struct ml_logreg_spec spec;
		double *w = calloc((size_t)K + 1, sizeof *w);
		int rc = w == NULL ? ml_seterr(err, -ENOMEM, "out of memory") :
		         bm_logreg_spec(m, K, classes, &spec, w, err);
		if (rc == 0)
			rc = ml_logreg_fit_blocks_ex(&out->lr, d, K, &spec, &blk, &y,
			                             &n, 1, &o, &warn, err);
		free(w);
		free(warn);     /* constant columns are harmless here */
		return rc;
	}
	if (strcmp(type, "naive_bayes") == 0) {
		struct ml_nb_partial p;
		int rc = ml_nb_partial_init(&p, d, K, err);
		if (rc == 0)
			rc = ml_nb_partial_add(&p, X, n, y, err);
		if (rc == 0)
			rc = ml_nb_finish(&p, bm_pnum(m->params, "var_smoothing"),
			                  &out->nb, err);
		ml_nb_partial_free(&p);
		return rc;
	}
	struct ml_forest_params fp;
	ml_forest_defaults(&fp, ML_FOREST_CLASSIFICATION);
	fp.nclasses = K;
	fp.n_trees = (int)bm_pnum(m->params, "n_trees");
	fp.max_depth = (int)bm_pnum(m->params, "max_depth");
	fp.max_features = (int)bm_pnum(m->params, "max_features");
	fp.min_samples_leaf = (int)bm_pnum(m->params, "min_samples_leaf");
	fp.seed = seed;
	double *w = calloc((size_t)K + 1, sizeof *w);
	int given = 0;
	int rc = w == NULL ? ml_seterr(err, -ENOMEM, "out of memory") :
	         bm_class_weight(m, K, classes, w, &given, err);
	if (rc == 0 && given == 2) {
		/* balanced over the training rows: n / (K n_k) */
		for (size_t i = 0; i < n; i++)
			if (y[i] >= 0 && y[i] < K)
				w[y[i]] += 1;
		for (int k = 0; k < K && rc == 0; k++)
			w[k] = w[k] > 0 ? (double)n / ((double)K * w[k]) : 1;
	}
	fp.class_weight = given ? w : NULL;
	struct ml_forest_data fd = { .X = X, .n = n, .d = d, .y = y, .names = names };
	if (rc == 0)
		rc = ml_forest_fit(&fd, &fp, &out->fo, err);
	free(w);
	return rc;
}

/* Class probabilities of N rows as N rows of K (row-major, as ml_eval.h
 * wants; the linear models give K columns, the forest rows). */
static int
bm_proba(const struct bm_fitted *f, int K, const double *const *X, size_t n,
         double *prob, char **err)
{
	const char *type = f->def->name;
	if (strcmp(type, "forest") == 0)
		return ml_forest_predict_proba(&f->fo, X, n, prob, err);
	double *cm = malloc(((size_t)K * n + 1) * sizeof *cm);
	int rc = strcmp(type, "logreg") == 0 ?
	         ml_logreg_predict_proba(&f->lr, X, n, cm, err) :
	         ml_nb_predict_proba(&f->nb, X, n, cm, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		for (int k = 0; k < K; k++)
			prob[i * (size_t)K + (size_t)k] = cm[(size_t)k * n + i];
	free(cm);
	return rc;
}

/* Regression: fit model M on N rows (X: d columns, target T). */
static int
bm_reg_fit(const struct bm_model *m, size_t d, const double *const *X,
           const double *tgt, size_t n, uint64_t seed,
           const char *const *names, struct bm_fitted *out, char **err)
{
	memset(out, 0, sizeof *out);
	out->def = m->def;
	if (strcmp(m->def->file_type, "linreg") == 0) {
		struct ml_linreg_partial p;
		int rc = ml_linreg_partial_init(&p, d, err);
		if (rc == 0)
			rc = ml_linreg_partial_add(&p, X, n, tgt, err);
		if (rc == 0)
			rc = ml_linreg_finish(&p, json_object_get(m->params, "alpha") ?
			                      bm_pnum(m->params, "alpha") : 0, &out->li, err);
		ml_linreg_partial_free(&p);
		return rc;
	}
	struct ml_forest_params fp;
	ml_forest_defaults(&fp, ML_FOREST_REGRESSION);
	fp.n_trees = (int)bm_pnum(m->params, "n_trees");
	fp.max_depth = (int)bm_pnum(m->params, "max_depth");
	fp.max_features = (int)bm_pnum(m->params, "max_features");
	fp.min_samples_leaf = (int)bm_pnum(m->params, "min_samples_leaf");
	fp.seed = seed;
	struct ml_forest_data fd = { .X = X, .n = n, .d = d, .target = tgt,
	                             .names = names };
	return ml_forest_fit(&fd, &fp, &out->fo, err);
}

static int
bm_reg_predict(const struct bm_fitted *f, const double *const *X, size_t n,
               double *out, char **err)
{
	if (strcmp(f->def->file_type, "linreg") == 0)
		return ml_linreg_predict(&f->li, X, n, out, err);
	return ml_forest_predict_value(&f->fo, X, n, out, err);
}

static int
bm_fitted_json(const struct bm_fitted *f, json_t **out)
{
	const char *type = f->def->file_type;
	if (strcmp(type, "linreg") == 0)
		return ml_linreg_to_json(&f->li, out);
	if (strcmp(type, "logreg") == 0)
		return ml_logreg_to_json(&f->lr, out);
	if (strcmp(type, "naive_bayes") == 0)
		return ml_nb_to_json(&f->nb, out);
	return ml_forest_to_json(&f->fo, out);
}

/* Metric names, in the order the leaderboard shows them. */
static const char *const bm_class_metrics[] = {
	"roc_auc", "accuracy", "balanced_accuracy", "f1_macro", "log_loss",
	"precision_macro", "recall_macro",
};
static const char *const bm_fc_metrics[] = { "mase", "mae", "rmse", "smape" };
static const char *const bm_reg_metrics[] = { "rmse", "mae", "r2" };
#define BM_NCM 7
#define BM_NFM 4
#define BM_NRM 3

static int
bm_higher_is_better(const char *metric)
{
	return strcmp(metric, "log_loss") != 0 && strcmp(metric, "mase") != 0 &&
	       strcmp(metric, "mae") != 0 && strcmp(metric, "rmse") != 0 &&
	       strcmp(metric, "smape") != 0;
}

/* Rows of MX where (FOLD == f) == WANT as owned columns, with their
 * class codes (*Y) or, for a numeric label, their targets (*TG). */
static void
bm_take(const struct mlp_matrix *mx, const int *fold, int f, int want,
        double ***X, int **y, double **tg, size_t **idx, size_t *n)
{
	size_t c = 0;
	for (size_t i = 0; i < mx->n; i++)
		c += (fold[i] == f) == want;
	*X = calloc(mx->d + 1, sizeof **X);
	for (size_t j = 0; j < mx->d; j++)
		(*X)[j] = malloc((c + 1) * sizeof(double));
	*y = malloc((c + 1) * sizeof **y);
	*tg = malloc((c + 1) * sizeof **tg);
	*idx = malloc((c + 1) * sizeof **idx);
	size_t r = 0;
	for (size_t i = 0; i < mx->n; i++) {
		if ((fold[i] == f) != want)
			continue;
		for (size_t j = 0; j < mx->d; j++)
			(*X)[j][r] = mx->X[j][i];
		(*y)[r] = mx->y ? mx->y[i] : 0;
		(*tg)[r] = mx->t ? mx->t[i] : 0;
		(*idx)[r++] = i;
	}
	*n = c;
}

static void
bm_cols_free(double **X, size_t d)
{
	for (size_t j = 0; X != NULL && j < d; j++)
		free(X[j]);
	free(X);
}

/* Fill the missing values of the D columns of the training rows XTR (NTR)
 * and the held-out rows XTE (NTE) by SPECS, each fitted on the training
 * rows only (no leakage from the held-out fold).  0 or -EINVAL. */
static int
bm_impute_fold(const struct ml_impute_spec *specs, size_t d, double **Xtr,
               size_t ntr, double **Xte, size_t nte, char **err)
{
	for (size_t j = 0; specs != NULL && j < d; j++) {
		if (specs[j].method == ML_IMP_NONE)
			continue;
		double fill;
		int rc = ml_impute_fit(Xtr[j], ntr, &specs[j], &fill, err);
		if (rc != 0)
			return rc;
		ml_impute_apply(Xtr[j], ntr, fill);
		ml_impute_apply(Xte[j], nte, fill);
	}
	return 0;
}

/* One (model, fold) of a cross-validation: *OUT is the fold's result, or
 * returns negative with *err when the model failed on it.  IMP: how to
 * fill missing features (d entries), or NULL. */
static int
bm_class_fold(const struct mlp_dataset *ds, const struct mlp_matrix *mx,
              const struct bm_model *m, int k, int f, uint64_t seed,
              const struct ml_impute_spec *imp, json_t **out, char **err)
{
	int K = ds->nclasses;
	int *fold = malloc((mx->n + 1) * sizeof *fold);
	int rc = ml_stratified_kfold(mx->y, K, mx->n, k, seed, fold, err);
	if (rc != 0) {
		free(fold);
		return rc;
	}
	double **Xtr, **Xte, *ttr, *tte;
	int *ytr, *yte;
	size_t *itr, *ite, ntr, nte;
	bm_take(mx, fold, f, 0, &Xtr, &ytr, &ttr, &itr, &ntr);
	bm_take(mx, fold, f, 1, &Xte, &yte, &tte, &ite, &nte);
	free(fold);
	free(ttr);
	free(tte);
	struct bm_fitted fit = { 0 };
	double t0 = mlp_now_ms();
	rc = bm_impute_fold(imp, mx->d, Xtr, ntr, Xte, nte, err);
	if (rc == 0)
		rc = bm_fit(m, mx->d, K, (const double *const *)Xtr, ytr, ntr, seed,
		            (const char *const *)ds->features,
		            (const char *const *)ds->classes, &fit, err);
	double train_ms = mlp_now_ms() - t0;
	double *prob = malloc(((size_t)K * nte + 1) * sizeof *prob);
	if (rc == 0)
		rc = bm_proba(&fit, K, (const double *const *)Xte, nte, prob, err);
	struct ml_class_metrics cm = { 0 };
	if (rc == 0)
		rc = ml_class_metrics(yte, prob, nte, K, &cm, err);
	if (rc == 0) {
		json_t *mj = json_object();
		if (cm.has_roc_auc)
			json_object_set_new(mj, "roc_auc", jnum(cm.roc_auc));
		json_object_set_new(mj, "accuracy", jnum(cm.accuracy));
		json_object_set_new(mj, "balanced_accuracy", jnum(cm.balanced_accuracy));
		json_object_set_new(mj, "f1_macro", jnum(cm.macro_f1));
		json_object_set_new(mj, "log_loss", jnum(cm.log_loss));
		json_object_set_new(mj, "precision_macro", jnum(cm.macro_precision));
		json_object_set_new(mj, "recall_macro", jnum(cm.macro_recall));
		json_t *conf = json_array();
		for (size_t i = 0; i < (size_t)K * (size_t)K; i++)
			json_array_append_new(conf, json_integer((json_int_t)cm.confusion[i]));
		*out = json_pack("{s:o,s:f,s:o}", "metrics", mj, "train_ms", train_ms,
		                 "confusion", conf);
		if (K == 2) {
			/* The held-out rows and their scores, for a ROC curve
			 * pooled over the folds. */
			json_t *ix = json_array(), *p1 = json_array();
			for (size_t i = 0; i < nte; i++) {
				json_array_append_new(ix, json_integer((json_int_t)ite[i]));
				json_array_append_new(p1, jnum(prob[2 * i + 1]));
			}
			json_object_set_new(*out, "idx", ix);
			json_object_set_new(*out, "p1", p1);
		}
	}
	ml_class_metrics_free(&cm);
	bm_fitted_free(&fit);
	free(prob);
	bm_cols_free(Xtr, mx->d);
	bm_cols_free(Xte, mx->d);
	free(ytr);
	free(yte);
	free(itr);
	free(ite);
	return rc;
}

/* Regression: one (model, fold) of a shuffled K-fold cross-validation
 * of the numeric label; RMSE, MAE and R^2 on the held-out rows (R^2 left
 * out of a fold whose held-out targets are constant: undefined there). */
static int
bm_reg_fold(const struct mlp_dataset *ds, const struct mlp_matrix *mx,
            const struct bm_model *m, int k, int f, uint64_t seed,
            const struct ml_impute_spec *imp, json_t **out, char **err)
{
	int *fold = malloc((mx->n + 1) * sizeof *fold);
	int rc = ml_kfold(mx->n, k, 1, seed, fold, err);
	if (rc != 0) {
		free(fold);
		return rc;
	}
	double **Xtr, **Xte, *ttr, *tte;
	int *ytr, *yte;
	size_t *itr, *ite, ntr, nte;
	bm_take(mx, fold, f, 0, &Xtr, &ytr, &ttr, &itr, &ntr);
	bm_take(mx, fold, f, 1, &Xte, &yte, &tte, &ite, &nte);
	free(fold);
	struct bm_fitted fit = { 0 };
	double t0 = mlp_now_ms();
	rc = bm_impute_fold(imp, mx->d, Xtr, ntr, Xte, nte, err);
	if (rc == 0)
		rc = bm_reg_fit(m, mx->d, (const double *const *)Xtr, ttr, ntr, seed,
		                (const char *const *)ds->features, &fit, err);
	double train_ms = mlp_now_ms() - t0;
	double *pred = malloc((nte + 1) * sizeof *pred);
	if (rc == 0)
		rc = bm_reg_predict(&fit, (const double *const *)Xte, nte, pred, err);
	double rmse = 0, mae = 0, r2 = 0;
	if (rc == 0)
		rc = ml_rmse(tte, pred, nte, &rmse, err);
	if (rc == 0)
		rc = ml_mae(tte, pred, nte, &mae, err);
	if (rc == 0) {
		char *e2 = NULL;
		int has_r2 = ml_r2(tte, pred, nte, &r2, &e2) == 0;
		free(e2);
		json_t *mj = json_pack("{s:o,s:o}", "rmse", jnum(rmse), "mae", jnum(mae));
		if (has_r2)
			json_object_set_new(mj, "r2", jnum(r2));
		*out = json_pack("{s:o,s:f}", "metrics", mj, "train_ms", train_ms);
	}
	bm_fitted_free(&fit);
	free(pred);
	bm_cols_free(Xtr, mx->d);
	bm_cols_free(Xte, mx->d);
	free(ytr);
	free(yte);
	free(ttr);
	free(tte);
	free(itr);
	free(ite);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Forecasting.                                                         */

/* The series in time order: *Y (and *TV, the times, or 0..n-1 without a
 * time column) malloc()ed, N values.  TIME is the feature column name. */
static int
bm_series(const struct mlp_dataset *ds, const struct mlp_matrix *mx,
          const char *time, double **y, double **tv, char **err)
{
	size_t n = mx->n;
	const double *tc = NULL;
	for (size_t j = 0; time != NULL && *time && j < ds->d; j++)
		if (strcmp(ds->features[j], time) == 0)
			tc = mx->X[j];
	if (time != NULL && *time && tc == NULL)
		return ml_seterr(err, -EINVAL, "no numeric time column '%s'", time);
	*y = malloc((n + 1) * sizeof **y);
	*tv = malloc((n + 1) * sizeof **tv);
	size_t *ord = malloc((n + 1) * sizeof *ord);
	for (size_t i = 0; i < n; i++) {
		ord[i] = i;
		if (tc != NULL && !isfinite(tc[i])) {
			free(ord);
			return ml_seterr(err, -EINVAL, "time column '%s': row %zu is "
			               "missing", time, i);
		}
	}
	/* Insertion sort, stable: series arrive (almost always) in order. */
	for (size_t i = 1; tc != NULL && i < n; i++) {
		size_t v = ord[i], j = i;
		for (; j > 0 && tc[ord[j - 1]] > tc[v]; j--)
			ord[j] = ord[j - 1];
		ord[j] = v;
	}
	for (size_t i = 0; i < n; i++) {
		(*y)[i] = mx->t[ord[i]];
		(*tv)[i] = tc ? tc[ord[i]] : (double)i;
		if (!isfinite((*y)[i])) {
			free(ord);
			return ml_seterr(err, -EINVAL, "column '%s': the value at "
			               "position %zu in time order is missing",
			               ds->label, i);
		}
	}
	free(ord);
	return 0;
}

static void
bm_fc_spec(const struct bm_model *m, struct ml_fc_spec *spec)
{
	ml_forecast_spec_init(spec, m->def->method);
	if (json_object_get(m->params, "m"))
		spec->m = (int)bm_pnum(m->params, "m");
	if (json_object_get(m->params, "damped"))
		spec->damped = (int)bm_pnum(m->params, "damped");
	if (json_object_get(m->params, "p"))
		spec->p = (int)bm_pnum(m->params, "p");
	if (json_object_get(m->params, "max_p"))
		spec->max_p = (int)bm_pnum(m->params, "max_p");
}

/* One (model, origin) of a backtest: fit Y[0..start), forecast H. */
static int
bm_fc_fold(const double *y, size_t start, size_t h, int season,
           const struct bm_model *m, json_t **out, char **err)
{
	struct ml_fc_spec spec;
	struct ml_forecast mod;
	bm_fc_spec(m, &spec);
	double *fc = malloc((h + 1) * sizeof *fc);
	double t0 = mlp_now_ms();
	int rc = ml_forecast_fit(y, start, &spec, &mod, err);
	if (rc == 0)
		rc = ml_forecast_predict(&mod, h, fc, err);
	double train_ms = mlp_now_ms() - t0;
	ml_forecast_free(&mod);
	double mae = 0, rmse = 0, smape = 0, mase = 0;
	if (rc == 0)
		rc = ml_mae(y + start, fc, h, &mae, err);
	if (rc == 0)
		rc = ml_rmse(y + start, fc, h, &rmse, err);
	if (rc == 0)
		rc = ml_smape(y + start, fc, h, &smape, err);
	/* MASE is scaled by the in-sample seasonal naive; a training series
	 * not longer than a season falls back to the naive (m = 1). */
	if (rc == 0)
		rc = ml_mase(y, start, start > (size_t)season ? season : 1,
		             y + start, fc, h, &mase, err);
	if (rc == 0)
		*out = json_pack("{s:{s:o,s:o,s:o,s:o},s:f,s:I,s:o}", "metrics",
		                 "mase", jnum(mase), "mae", jnum(mae), "rmse",
		                 jnum(rmse), "smape", jnum(smape), "train_ms",
		                 train_ms, "start", (json_int_t)start, "fc",
		                 mlp_json_reals(fc, h));
	free(fc);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Map side.                                                            */

static int
bm_models_from_json(const json_t *arr, int kind, struct bm_model **out,
                    int *n, char **err)
{
	*n = (int)json_array_size(arr);
	*out = calloc((size_t)*n + 1, sizeof **out);
	for (int i = 0; i < *n; i++) {
		const json_t *e = json_array_get(arr, (size_t)i);
		json_t *entry = json_deep_copy(json_object_get(e, "params"));
		json_object_set_new(entry, "model", json_string(json_string_value(
			json_object_get(e, "type")) ?: ""));
		int rc = bm_model_parse(entry, kind, 1, &(*out)[i], err);
		json_decref(entry);
		if (rc != 0)
			return rc;
		(*out)[i].name = strdup(json_string_value(json_object_get(e, "name")) ?: "");
	}
	return 0;
}

/* The most repetitions of k-fold cross-validation. */
#define BM_MAX_REPEATS 100

/* A fold map task's numbers, from its broadcast and argument. */
struct bm_fold {
	int model, fold;        /* fold: within its repetition */
	int folds;              /* classification, regression: k */
	uint64_t seed;          /* the repetition's: seed + r */
	size_t start, horizon;  /* forecasting: an origin */
	int season;
};

/* Read B (the broadcast) and ARG into FO, every index and size in range
 * for NMODELS models over N rows: a crafted origin or horizon made
 * `start + horizon` wrap, and the forecast overran its buffer. */
static int
bm_fold_args(const json_t *b, const json_t *arg, int kind, int nmodels,
             size_t n, struct bm_fold *fo, char **err)
{
	int64_t m = 0, f = 0, k = 0, start = 0, hz = 0, season = 1, reps = 1;
	const json_t *origins = json_object_get(b, "origins");
	int rc = mlp_json_range(json_object_get(arg, "m"), 0, (int64_t)nmodels - 1,
	                        &m, err, "benchmark: map argument m (model)");
	if (rc == 0 && kind != BM_FORECAST)
		rc = mlp_json_range(json_object_get(b, "folds"), 2,
		                    n < 2 ? 2 : (int64_t)n, &k, err,
		                    "benchmark: broadcast folds");
	if (rc == 0 && kind != BM_FORECAST && json_object_get(b, "repeats"))
		rc = mlp_json_range(json_object_get(b, "repeats"), 1, BM_MAX_REPEATS,
		                    &reps, err, "benchmark: broadcast repeats");
	if (rc == 0)
		rc = mlp_json_range(json_object_get(arg, "f"), 0, kind != BM_FORECAST ?
		                    k * reps - 1 : (int64_t)json_array_size(origins) - 1,
		                    &f, err, "benchmark: map argument f (fold)");
	if (rc == 0 && kind == BM_FORECAST)
		rc = mlp_json_range(json_array_get(origins, (size_t)f), 1, (int64_t)n,
		                    &start, err, "benchmark: broadcast origins[%lld]",
		                    (long long)f);
	if (rc == 0 && kind == BM_FORECAST)
		rc = mlp_json_range(json_object_get(b, "horizon"), 1,
		                    (int64_t)n - start, &hz, err,
		                    "benchmark: broadcast horizon (origin %lld of %zu "
		                    "values)", (long long)start, n);
	if (rc == 0 && kind == BM_FORECAST)
		rc = mlp_json_range(json_object_get(b, "season"), 1, ML_FC_MAX_SEASON,
		                    &season, err, "benchmark: broadcast season");
	fo->model = (int)m;
	fo->fold = kind != BM_FORECAST && k > 0 ? (int)(f % k) : (int)f;
	fo->folds = (int)k;
	fo->seed = (uint64_t)json_integer_value(json_object_get(b, "seed")) +
	           (kind != BM_FORECAST && k > 0 ? (uint64_t)(f / k) : 0);
	fo->start = (size_t)start;
	fo->horizon = (size_t)hz;
	fo->season = (int)season;
	return rc;
}

static int
bm_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	char *err = NULL;
	if (strcmp(fn, "fold") != 0)
		return mlp_fail(t, h, ml_seterr(&err, -EINVAL, "benchmark has no "
		                "map function %s", fn), err);
	struct mlp_dataset ds;
	struct mlp_matrix mx = { 0 };
	struct bm_model *models = NULL;
	int nmodels = 0;
	json_t *b = mlp_broadcast(t, h), *arg = mlp_arg(t, h), *out = NULL;
	int64_t kind = BM_CLASS;
	int rc = mlp_json_range(json_object_get(b, "kind"), 0, BM_NKINDS - 1,
	                        &kind, &err, "benchmark: broadcast kind");
	memset(&ds, 0, sizeof ds);
	if (rc == 0)
		rc = mlp_map_dataset(t, h, &ds, &err);
	if (rc == 0)
		rc = mlp_matrix_load(t, h, &ds, &mx, &err);
	if (rc == 0)
		rc = bm_models_from_json(json_object_get(b, "models"), (int)kind,
		                         &models, &nmodels, &err);
	struct bm_fold fo;
	if (rc == 0)
		rc = bm_fold_args(b, arg, (int)kind, nmodels, mx.n, &fo, &err);
	if (rc != 0)
		goto done;
	/* From here on a failure is the model's, reported in the result. */
	int frc;
	if (kind != BM_FORECAST) {
		struct ml_impute_spec *imp = calloc(ds.d + 1, sizeof *imp);
		rc = mlp_impute_specs(json_string_value(json_object_get(b, "impute")),
		                      &ds, imp, &err);
		if (rc != 0) {
			free(imp);
			goto done;
		}
		frc = (kind == BM_CLASS ? bm_class_fold : bm_reg_fold)(&ds, &mx,
		        &models[fo.model], fo.folds, fo.fold, fo.seed, imp, &out, &err);
		free(imp);
	} else {
		double *y = NULL, *tv = NULL;
		rc = bm_series(&ds, &mx, json_string_value(json_object_get(b, "time")),
		               &y, &tv, &err);
		if (rc == 0)
			frc = bm_fc_fold(y, fo.start, fo.horizon, fo.season,
			                 &models[fo.model], &out, &err);
		free(y);
		free(tv);
		if (rc != 0)
			goto done;
	}
	if (frc != 0) {
		mlp_name_columns(&err, &ds);
		/* Least squares on every level of a categorical column: the
		 * levels sum to 1, like the intercept. */
		if (err != NULL && strstr(err, "collinear") && strchr(err, '=')) {
			char *e2 = NULL;
			if (asprintf(&e2, "%s (the one-hot levels of a categorical "
			             "column sum to 1: use ridge, or name all but one "
			             "level in `features`)", err) >= 0) {
				free(err);
				err = e2;
			}
		}
		out = json_pack("{s:s}", "error", err ? err : "failed");
		free(err);
		err = NULL;
	}
done:
	bm_models_free(models, nmodels);
	mlp_matrix_free(&mx);
	mlp_dataset_free(&ds);
	json_decref(b);
	json_decref(arg);
	return mlp_done(t, h, rc, out, err);
}

/* ------------------------------------------------------------------ */
/* Driver.                                                              */

/* What the driver knows of one model after the stage. */
struct bm_row {
	int model;         /* index into the models */
	char *error;       /* first failure, or NULL */
	double *vals;      /* nmetrics x nfolds */
	int *has;          /* nmetrics: present on every fold */
	double *train_ms;  /* nfolds */
	double primary;    /* mean of the primary metric */
	int has_test;
	double tt, tdf, tp;     /* vs the best: t, degrees of freedom, p */
};

struct bm_run {
	kiln_task *t;
	const struct kiln_host *h;
	int kind;
	struct mlp_dataset ds;
	struct mlp_matrix mx;
	struct bm_model *models;
	int nmodels;
	int folds;         /* scores per model: repeats x k */
	int k;             /* folds per repetition (forecasting: origins) */
	int repeats;       /* repetitions of k-fold (1: plain k-fold) */
	uint64_t seed;
	const char *metric;
	int primary;       /* index of metric */
	int hib;           /* higher is better */
	const char *const *mnames;
	int nm;
	char *validation;
	char *dataset;
	/* forecasting */
	double *y, *tv;
	size_t horizon, step, initial;
	int season;
	size_t *origins;
	const char *time;
	const char *impute;     /* the parameter, or NULL */
	char *kind_why;         /* how the kind was chosen, for the result */
	char *auto_column, *auto_time;  /* inferred from the schema, or NULL */
	struct ml_impute_spec *imp;     /* d: per feature */
	/* per model */
	struct bm_row *rows;
	int *order;        /* rows by rank */
	json_t **res;      /* nmodels x folds results */
};

/* The metrics that break a tie on the main one, in order (the main one
 * itself is skipped): the proper scores first (log loss, then ranking),
 * then the rest. */
static const char *const bm_tie_class[] = {
	"log_loss", "roc_auc", "accuracy", "balanced_accuracy", "f1_macro",
	"precision_macro", "recall_macro", NULL,
};
static const char *const bm_tie_reg[] = { "rmse", "mae", "r2", NULL };
static const char *const bm_tie_fc[] = { "mase", "rmse", "mae", "smape", NULL };

static const char *const *
bm_tie_order(int kind)
{
	return kind == BM_CLASS ? bm_tie_class : kind == BM_REG ? bm_tie_reg :
	       bm_tie_fc;
}

/* Means equal to 12 digits are a tie: the same fold scores summed in
 * another order differ in the last bits. */
static int
bm_same(double a, double b)
{
	return fabs(a - b) <= 1e-12 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* -1 if row X ranks before row Y on metric K (both have it), 1 after, 0
 * tie. */
static int
bm_cmp_metric(const struct bm_run *r, const struct bm_row *x,
              const struct bm_row *y, int k)
{
	double mx, my, sd;
	ml_mean_sd(x->vals + k * r->folds, (size_t)r->folds, &mx, &sd, NULL);
	ml_mean_sd(y->vals + k * r->folds, (size_t)r->folds, &my, &sd, NULL);
	if (!x->has[k] || !y->has[k] || bm_same(mx, my))
		return 0;
	int hib = bm_higher_is_better(r->mnames[k]);
	return (hib ? mx > my : mx < my) ? -1 : 1;
}

/* Ranking: failed models last; then the main metric; a tie on it broken
 * by the next metrics (bm_tie_order), then by the simpler model (naive
 * Bayes before logistic regression before a forest; OLS before ridge;
 * naive before AR before Holt-Winters), then by the order listed. */
static int
bm_rank_cmp(const void *a, const void *b, void *ud)
{
	const struct bm_run *r = ud;
	const struct bm_row *x = &r->rows[*(const int *)a], *y = &r->rows[*(const int *)b];
	if ((x->error != NULL) != (y->error != NULL))
		return x->error != NULL ? 1 : -1;
	if (x->error != NULL)
		return x->model - y->model;
	int c = bm_cmp_metric(r, x, y, r->primary);
	for (const char *const *m = bm_tie_order(r->kind); c == 0 && *m; m++)
		for (int k = 0; k < r->nm; k++)
			if (k != r->primary && strcmp(r->mnames[k], *m) == 0)
				c = bm_cmp_metric(r, x, y, k);
	if (c != 0)
		return c;
	int sx = r->models[x->model].def->simplicity;
	int sy = r->models[y->model].def->simplicity;
	return sx != sy ? sx - sy : x->model - y->model;
}

/* The tie-break rule, as the leaderboard and report state it. */
static json_t *
bm_tie_json(const struct bm_run *r)
{
	json_t *a = json_array();
	for (const char *const *m = bm_tie_order(r->kind); *m; m++)
		if (strcmp(*m, r->metric) != 0)
			json_array_append_new(a, json_string(*m));
	json_array_append_new(a, json_string("simplicity"));
	json_array_append_new(a, json_string("order listed"));
	return a;
}

/* Merge the stage's results into per-model rows, rank and test them. */
static void
bm_aggregate(struct bm_run *r)
{
	int F = r->folds, NM = r->nm;
	r->rows = calloc((size_t)r->nmodels, sizeof *r->rows);
	r->order = calloc((size_t)r->nmodels, sizeof *r->order);
	for (int i = 0; i < r->nmodels; i++) {
		struct bm_row *w = &r->rows[i];
		w->model = i;
		r->order[i] = i;
		w->vals = calloc((size_t)NM * (size_t)F, sizeof *w->vals);
		w->has = calloc((size_t)NM, sizeof *w->has);
		w->train_ms = calloc((size_t)F, sizeof *w->train_ms);
		for (int k = 0; k < NM; k++)
			w->has[k] = 1;
		for (int f = 0; f < F; f++) {
			json_t *res = r->res[i * F + f];
			const char *e = json_string_value(json_object_get(res, "error"));
			json_t *mj = json_object_get(res, "metrics");
			if (w->error == NULL && (e != NULL || !json_is_object(mj))) {
				char rep[32] = "";
				if (r->repeats > 1)
					snprintf(rep, sizeof rep, "repetition %d ", f / r->k + 1);
				if (asprintf(&w->error, "%s%s %d: %s", rep, r->kind != BM_FORECAST ?
				             "fold" : "origin", f % r->k + 1,
				             e ? e : "no result") < 0)
					w->error = NULL;
			}
			w->train_ms[f] = json_number_value(json_object_get(res, "train_ms"));
			for (int k = 0; k < NM; k++) {
				json_t *v = json_object_get(mj, r->mnames[k]);
				if (json_is_number(v))
					w->vals[k * F + f] = json_number_value(v);
				else
					w->has[k] = 0;
			}
		}
		if (w->error == NULL && !w->has[r->primary])
			if (asprintf(&w->error, "%s is undefined on some fold",
			             r->metric) < 0)
				w->error = NULL;
		if (w->error == NULL) {
			double sd;
			ml_mean_sd(w->vals + r->primary * F, (size_t)F, &w->primary, &sd, NULL);
		}
	}
	qsort_r(r->order, (size_t)r->nmodels, sizeof *r->order, bm_rank_cmp, r);
	struct bm_row *best = &r->rows[r->order[0]];
	for (int i = 1; i < r->nmodels && best->error == NULL && F >= 2; i++) {
		struct bm_row *w = &r->rows[r->order[i]];
		if (w->error != NULL)
			continue;
		char *e = NULL;
		/* Repeated k-fold: training sets overlap, within and across
		 * repetitions, and the plain paired test, blind to that, is
		 * far too confident; Nadeau and Bengio add n_test/n_train to
		 * the 1/n of the variance of the mean difference. */
		if ((r->repeats > 1 ?
		     ml_ttest_corrected(best->vals + r->primary * F,
		                        w->vals + r->primary * F, (size_t)F,
		                        1.0 / (r->k - 1), &w->tt, &w->tdf, &w->tp, &e) :
		     ml_ttest_rel(best->vals + r->primary * F, w->vals + r->primary * F,
		                  (size_t)F, &w->tt, &w->tdf, &w->tp, &e)) == 0)
			w->has_test = 1;
		free(e);
	}
}

/* Metric I's summary over the folds of row W. */
static json_t *
bm_metric_json(const struct bm_run *r, const struct bm_row *w, int k)
{
	double mean = 0, sd = 0;
	ml_mean_sd(w->vals + k * r->folds, (size_t)r->folds, &mean, &sd, NULL);
	return json_pack("{s:o,s:o,s:o}", "mean", jnum(mean), "std", jnum(sd),
	                 "folds", mlp_json_reals(w->vals + k * r->folds, (size_t)r->folds));
}

/* Model MI's out-of-fold ROC curve, thinned to at most 200 points. */
static json_t *
bm_roc_json(const struct bm_run *r, int mi)
{
	size_t n = r->mx.n;
	double *score = calloc(n + 1, sizeof *score), *prob = calloc(2 * n + 1, sizeof *prob);
	int *seen = calloc(n + 1, sizeof *seen);
	/* The first repetition: each row held out once. */
	for (int f = 0; f < r->k; f++) {
		json_t *res = r->res[mi * r->folds + f];
		json_t *ix = json_object_get(res, "idx"), *p1 = json_object_get(res, "p1");
		for (size_t i = 0; i < json_array_size(ix); i++) {
			json_int_t row = json_integer_value(json_array_get(ix, i));
			if (row >= 0 && (size_t)row < n) {
				score[row] = json_number_value(json_array_get(p1, i));
				seen[row] = 1;
			}
		}
	}
	json_t *out = NULL;
	int all = 1;
	for (size_t i = 0; i < n; i++) {
		all &= seen[i];
		prob[2 * i] = 1 - score[i];
		prob[2 * i + 1] = score[i];
	}
	double *fpr = NULL, *tpr = NULL, *thr = NULL, auc = 0;
	size_t np = 0;
	if (all && ml_roc_curve(r->mx.y, score, n, &fpr, &tpr, &thr, &np, NULL) == 0 &&
	    ml_roc_auc(r->mx.y, prob, n, 2, &auc, NULL) == 0) {
		json_t *fa = json_array(), *ta = json_array();
		size_t keep = np < 200 ? np : 200;
		for (size_t i = 0; i < keep; i++) {
			size_t j = keep == np ? i : (size_t)llround((double)i *
			           (double)(np - 1) / (double)(keep - 1));
			json_array_append_new(fa, jnum(fpr[j]));
			json_array_append_new(ta, jnum(tpr[j]));
		}
		out = json_pack("{s:s,s:o,s:o,s:o}", "model", r->models[mi].name,
		                "fpr", fa, "tpr", ta, "auc", jnum(auc));
	}
	free(fpr);
	free(tpr);
	free(thr);
	free(score);
	free(prob);
	free(seen);
	return out;
}

/* The series' times for the result: dates (kdate.h) when the time
 * column is one of ingest's time columns, else the numbers. */
static json_t *
bm_times_json(const struct bm_run *r)
{
	size_t n = r->mx.n;
	const char *unit = NULL;
	for (size_t j = 0; r->time != NULL && j < r->ds.d; j++)
		if (strcmp(r->ds.features[j], r->time) == 0)
			unit = mlp_time_unit(&r->ds, j);
	if (unit == NULL)
		return mlp_json_reals(r->tv, n);
	json_t *a = json_array();
	char buf[48];
	for (size_t i = 0; i < n; i++) {
		kdate_format(r->tv[i], strcmp(unit, "date") == 0, buf, sizeof buf);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

/* The best model's backtest forecasts at their times. */
static json_t *
bm_forecast_json(const struct bm_run *r, int mi)
{
	size_t n = r->mx.n;
	json_t *pred = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(pred, json_null());
	/* Later origins overwrite earlier ones where horizons overlap: the
	 * forecast made with the most data. */
	for (int f = 0; f < r->folds; f++) {
		json_t *res = r->res[mi * r->folds + f];
		json_int_t start = json_integer_value(json_object_get(res, "start"));
		json_t *fc = json_object_get(res, "fc");
		for (size_t j = 0; j < json_array_size(fc); j++)
			if (start >= 0 && (size_t)start + j < n)
				json_array_set(pred, (size_t)start + j, json_array_get(fc, j));
	}
	return json_pack("{s:s,s:o,s:o,s:o}", "model", r->models[mi].name,
	                 "t", bm_times_json(r), "actual", mlp_json_reals(r->y, n),
	                 "predicted", pred);
}

/* Model MI's confusion matrix pooled out-of-fold over the first
 * repetition (rows: true class), and each class's recall from it: what
 * class weights change. */
static json_t *
bm_confusion_json(const struct bm_run *r, int mi)
{
	int K = r->ds.nclasses;
	json_t *rows = json_array(), *recall = json_object();
	for (int a = 0; a < K; a++) {
		json_t *row = json_array();
		json_int_t tot = 0, hit = 0;
		for (int c = 0; c < K; c++) {
			json_int_t sum = 0;
			for (int j = 0; j < r->k; j++)
				sum += json_integer_value(json_array_get(json_object_get(
				       r->res[mi * r->folds + j], "confusion"),
				       (size_t)(a * K + c)));
			json_array_append_new(row, json_integer(sum));
			tot += sum;
			hit += a == c ? sum : 0;
		}
		json_array_append_new(rows, row);
		json_object_set_new(recall, r->ds.classes[a], tot > 0 ?
		                    json_real((double)hit / (double)tot) : json_null());
	}
	return json_pack("{s:o,s:o}", "matrix", rows, "recall", recall);
}

/* The test of the best against each other model. */
static const char *
bm_test_name(const struct bm_run *r)
{
	return r->repeats > 1 ? "corrected_resampled_t" : "paired_t";
}

static json_t *
bm_leaderboard(const struct bm_run *r)
{
	json_t *models = json_array(), *mlist = json_array();
	for (int k = 0; k < r->nm; k++)
		json_array_append_new(mlist, json_string(r->mnames[k]));
	for (int i = 0; i < r->nmodels; i++) {
		const struct bm_row *w = &r->rows[r->order[i]];
		const struct bm_model *m = &r->models[w->model];
		json_t *e = json_pack("{s:i,s:s,s:s,s:O}", "rank", i + 1, "model",
		                      m->name, "type", m->def->name, "params", m->params);
		json_t *mj = json_object();
		for (int k = 0; k < r->nm; k++)
			if (w->has[k])
				json_object_set_new(mj, r->mnames[k], bm_metric_json(r, w, k));
		json_object_set_new(e, "metrics", mj);
		double mean = 0, sd = 0;
		ml_mean_sd(w->train_ms, (size_t)r->folds, &mean, &sd, NULL);
		json_object_set_new(e, "train_ms", json_pack("{s:o,s:o}", "mean",
		                    jnum(mean), "std", jnum(sd)));
		json_object_set_new(e, "vs_best", w->has_test ? json_pack(
			"{s:o,s:o,s:o,s:s}", "t", jnum(w->tt), "df", jnum(w->tdf), "p",
			jnum(w->tp), "test", bm_test_name(r)) : json_null());
		if (w->error != NULL)
			json_object_set_new(e, "error", json_string(w->error));
		else if (r->kind == BM_CLASS)
			json_object_set_new(e, "confusion", bm_confusion_json(r, w->model));
		json_array_append_new(models, e);
	}
	int bi = r->order[0];
	json_t *lb = json_pack("{s:s,s:s?,s:s,s:s?}", "kind",
	                       bm_kind_names[r->kind], "kind_from", r->kind_why,
	                       "dataset", r->dataset, "label", r->ds.label);
	if (r->kind == BM_CLASS) {
		json_t *c = json_array();
		for (int k = 0; k < r->ds.nclasses; k++)
			json_array_append_new(c, json_string(r->ds.classes[k]));
		json_object_set_new(lb, "classes", c);
	}
	json_object_set_new(lb, "validation", json_string(r->validation));
	json_object_set_new(lb, "folds", json_integer(r->k));
	json_object_set_new(lb, "repeats", json_integer(r->repeats));
	json_object_set_new(lb, "test", json_string(bm_test_name(r)));
	json_object_set_new(lb, "primary", json_string(r->metric));
	json_object_set_new(lb, "higher_is_better", json_boolean(r->hib));
	json_object_set_new(lb, "tie_break", bm_tie_json(r));
	json_object_set_new(lb, "metrics", mlist);
	json_object_set_new(lb, "models", models);
	json_object_set_new(lb, "best", json_string(r->models[bi].name));
	if (r->kind == BM_CLASS && r->ds.nclasses == 2) {
		json_t *roc = bm_roc_json(r, bi);
		if (roc != NULL)
			json_object_set_new(lb, "roc", roc);
		/* Every model's, best first, for the chart to compare. */
		json_t *rocs = json_array();
		if (roc != NULL)
			json_array_append(rocs, roc);
		for (int mi = 0; mi < r->nmodels; mi++) {
			json_t *o = mi == bi ? NULL : bm_roc_json(r, mi);
			if (o != NULL)
				json_array_append_new(rocs, o);
		}
		json_object_set_new(lb, "rocs", rocs);
	}
	if (r->kind == BM_FORECAST)
		json_object_set_new(lb, "forecast", bm_forecast_json(r, bi));
	return lb;
}

static void
bm_csv_num(FILE *f, double x, int ok)
{
	if (ok && isfinite(x))
		fprintf(f, ",%.17g", x);
	else
		fputc(',', f);
}

static char *
bm_csv(const struct bm_run *r)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	fputs("rank,model,params", f);
	for (int k = 0; k < r->nm; k++)
		fprintf(f, ",%s_mean,%s_std", r->mnames[k], r->mnames[k]);
	fputs(",train_ms_mean,train_ms_std,t_vs_best,p_vs_best,error\n", f);
	for (int i = 0; i < r->nmodels; i++) {
		const struct bm_row *w = &r->rows[r->order[i]];
		const struct bm_model *m = &r->models[w->model];
		fprintf(f, "%d,", i + 1);
		mlp_csv_field(f, m->name);
		fputc(',', f);
		char *pj = json_dumps(m->params, JSON_COMPACT | JSON_SORT_KEYS);
		mlp_csv_field(f, pj ? pj : "{}");
		free(pj);
		double mean = 0, sd = 0;
		for (int k = 0; k < r->nm; k++) {
			ml_mean_sd(w->vals + k * r->folds, (size_t)r->folds, &mean, &sd, NULL);
			bm_csv_num(f, mean, w->has[k]);
			bm_csv_num(f, sd, w->has[k]);
		}
		ml_mean_sd(w->train_ms, (size_t)r->folds, &mean, &sd, NULL);
		bm_csv_num(f, mean, 1);
		bm_csv_num(f, sd, 1);
		bm_csv_num(f, w->tt, w->has_test);
		bm_csv_num(f, w->tp, w->has_test);
		fputc(',', f);
		mlp_csv_field(f, w->error ? w->error : "");
		fputc('\n', f);
	}
	fclose(f);
	return s;
}

static void
bm_fmt(FILE *f, const struct bm_run *r, const struct bm_row *w, int k)
{
	double mean = 0, sd = 0;
	if (!w->has[k]) {
		fputs(" - |", f);
		return;
	}
	ml_mean_sd(w->vals + k * r->folds, (size_t)r->folds, &mean, &sd, NULL);
	fprintf(f, " %.4f ± %.4f |", mean, sd);
}

/* The refit's imputation: every row's missing features filled in place,
 * fitted on all rows, and *OUT {"feature": {"method", "value"}} for the
 * model file (NULL without `impute`). */
static int
bm_impute_all(const struct bm_run *r, json_t **out, char **err)
{
	*out = NULL;
	for (size_t j = 0; r->imp != NULL && j < r->mx.d; j++) {
		if (r->imp[j].method == ML_IMP_NONE)
			continue;
		double fill;
		int rc = ml_impute_fit(r->mx.X[j], r->mx.n, &r->imp[j], &fill, err);
		if (rc != 0) {
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		ml_impute_apply(r->mx.X[j], r->mx.n, fill);
		if (*out == NULL)
			*out = json_object();
		json_object_set_new(*out, r->ds.features[j], json_pack("{s:s,s:f}",
		                    "method", ml_impute_name(r->imp[j].method),
		                    "value", fill));
	}
	return 0;
}

/* report.md: the leaderboard for people.  EXTRA: what the refit said. */
static char *
bm_report(const struct bm_run *r, const char *extra)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	const struct bm_row *best = &r->rows[r->order[0]];
	const struct bm_model *bm = &r->models[best->model];
	fprintf(f, "# Benchmark: %s\n\n", r->dataset);
	fprintf(f, "- Task: %s", bm_kind_names[r->kind]);
	if (r->kind == BM_CLASS)
		fprintf(f, " of `%s` (%d classes), %zu rows, %zu features",
		        r->ds.label, r->ds.nclasses, r->mx.n, r->mx.d);
	else if (r->kind == BM_REG)
		fprintf(f, " of `%s`, %zu rows, %zu features", r->ds.label,
		        r->mx.n, r->mx.d);
	else
		fprintf(f, " of `%s`, %zu values, season %d", r->ds.label, r->mx.n,
		        r->season);
	fprintf(f, " (%s%s)\n", r->kind_why && strcmp(r->kind_why, "given") ?
	        "chosen because " : "", r->kind_why ? r->kind_why : "given");
	fprintf(f, "- Validation: %s\n", r->validation);
	fprintf(f, "- Primary metric: %s (%s is better); a tie on it (equal "
	        "to 12 digits) is broken by", r->metric, r->hib ? "higher" : "lower");
	json_t *tb = bm_tie_json(r);
	size_t ti;
	json_t *tv;
	json_array_foreach(tb, ti, tv)
		fprintf(f, "%s %s", ti ? "," : "", json_string_value(tv));
	json_decref(tb);
	fputs(" (naive Bayes before logistic regression before a forest, OLS "
	      "before ridge, naive before AR before Holt-Winters)\n\n", f);
	fputs("## Leaderboard\n\n| rank | model |", f);
	for (int k = 0; k < r->nm; k++)
		fprintf(f, " %s |", r->mnames[k]);
	fputs(" train ms | vs best (t, p) |\n|---|---|", f);
	for (int k = 0; k < r->nm + 2; k++)
		fputs("---|", f);
	fputc('\n', f);
	for (int i = 0; i < r->nmodels; i++) {
		const struct bm_row *w = &r->rows[r->order[i]];
		fprintf(f, "| %d | %s |", i + 1, r->models[w->model].name);
		if (w->error != NULL) {
			fprintf(f, " failed: %s |", w->error);
			for (int k = 1; k < r->nm + 2; k++)
				fputs(" |", f);
			fputc('\n', f);
			continue;
		}
		for (int k = 0; k < r->nm; k++)
			bm_fmt(f, r, w, k);
		double mean = 0, sd = 0;
		ml_mean_sd(w->train_ms, (size_t)r->folds, &mean, &sd, NULL);
		fprintf(f, " %.1f ± %.1f |", mean, sd);
		if (w->has_test)
			fprintf(f, " t = %.3g, p = %.3g |\n", w->tt, w->tp);
		else
			fputs(i == 0 ? " (best) |\n" : " - |\n", f);
	}
	fprintf(f, "\n## Best model: %s\n\n", bm->name);
	char *pj = json_dumps(bm->params, JSON_COMPACT | JSON_SORT_KEYS);
	fprintf(f, "Parameters: `%s`\n\n", pj ? pj : "{}");
	free(pj);
	for (int k = 0; k < r->nm; k++)
		if (best->has[k]) {
			fprintf(f, "- %s:", r->mnames[k]);
			bm_fmt(f, r, best, k);
			fputs(" per fold:", f);
			for (int j = 0; j < r->folds; j++)
				fprintf(f, " %.4f", best->vals[k * r->folds + j]);
			fputc('\n', f);
		}
	if (r->kind == BM_CLASS && best->error == NULL) {
		int K = r->ds.nclasses;
		size_t *conf = calloc((size_t)K * (size_t)K + 1, sizeof *conf);
		for (int j = 0; j < r->k; j++) {
			json_t *c = json_object_get(r->res[best->model * r->folds + j], "confusion");
			for (size_t q = 0; q < (size_t)K * (size_t)K; q++)
				conf[q] += (size_t)json_integer_value(json_array_get(c, q));
		}
		fprintf(f, "\nConfusion matrix, pooled out-of-fold%s (rows: true "
		        "class, columns: predicted):\n\n| true \\ predicted |",
		        r->repeats > 1 ? " over the first repetition" : "");
		for (int k = 0; k < K; k++)
			fprintf(f, " %s |", r->ds.classes[k]);
		fputs("\n|---|", f);
		for (int k = 0; k < K; k++)
			fputs("---|", f);
		fputc('\n', f);
		for (int a = 0; a < K; a++) {
			fprintf(f, "| %s |", r->ds.classes[a]);
			for (int c = 0; c < K; c++)
				fprintf(f, " %zu |", conf[(size_t)a * (size_t)K + (size_t)c]);
			fputc('\n', f);
		}
		free(conf);
	}
	if (r->repeats > 1)
		fprintf(f, "\n## Corrected resampled t-tests against %s (%s over "
		        "the %d x %d folds; Nadeau and Bengio's variance, times 1/%d "
		        "+ 1/%d)\n\n", bm->name, r->metric, r->repeats, r->k,
		        r->folds, r->k - 1);
	else
		fprintf(f, "\n## Paired t-tests against %s (%s over the %d folds)\n\n",
		        bm->name, r->metric, r->folds);
	int any = 0;
	for (int i = 1; i < r->nmodels; i++) {
		const struct bm_row *w = &r->rows[r->order[i]];
		if (!w->has_test)
			continue;
		fprintf(f, "- %s: t = %.4g, df = %g, p = %.4g%s\n",
		        r->models[w->model].name, w->tt, w->tdf, w->tp,
		        w->tp < 0.05 ? " (significant at 5%)" : "");
		any = 1;
	}
	if (!any)
		fputs("No other model to compare.\n", f);
	if (extra != NULL)
		fprintf(f, "\n%s\n", extra);
	fclose(f);
	return s;
}

/* Refit the best model on every row: model.json, and a line for the
 * report (a forecast of the next horizon, or why there is no model). */
static json_t *
bm_refit(const struct bm_run *r, char **line)
{
	const struct bm_model *m = &r->models[r->rows[r->order[0]].model];
	char *err = NULL;
	json_t *mj = NULL, *file = NULL;
	*line = NULL;
	if (r->kind == BM_CLASS) {
		struct bm_fitted fit = { 0 };
		json_t *imp = NULL;
		int rc = bm_impute_all(r, &imp, &err);
		if (rc == 0)
			rc = bm_fit(m, r->mx.d, r->ds.nclasses,
		                (const double *const *)r->mx.X, r->mx.y, r->mx.n,
		                r->seed, (const char *const *)r->ds.features,
		                (const char *const *)r->ds.classes, &fit, &err);
		if (rc == 0)
			rc = bm_fitted_json(&fit, &mj);
		bm_fitted_free(&fit);
		if (rc == 0)
			file = json_pack("{s:s,s:o,s:o,s:O,s:o*}", "type", m->def->name,
			                 "dataset", mlp_dataset_json(&r->ds), "model", mj,
			                 "params", m->params, "impute", imp);
		else
			json_decref(imp);
	} else if (r->kind == BM_REG) {
		struct bm_fitted fit = { 0 };
		json_t *imp = NULL;
		int rc = bm_impute_all(r, &imp, &err);
		if (rc == 0)
			rc = bm_reg_fit(m, r->mx.d, (const double *const *)r->mx.X,
			                r->mx.t, r->mx.n, r->seed,
			                (const char *const *)r->ds.features, &fit, &err);
		if (rc == 0)
			rc = bm_fitted_json(&fit, &mj);
		bm_fitted_free(&fit);
		/* The linreg plugin's and the forest plugin's model.json, so
		 * that predict reads it. */
		if (rc == 0)
			file = json_pack("{s:s,s:s,s:o,s:o,s:O,s:o*}", "type",
			                 m->def->file_type, "model_name", m->name,
			                 "dataset", mlp_dataset_json(&r->ds), "model", mj,
			                 "params", m->params, "impute", imp);
		else
			json_decref(imp);
	} else {
		struct ml_fc_spec spec;
		struct ml_forecast mod;
		bm_fc_spec(m, &spec);
		double *fc = calloc(r->horizon + 1, sizeof *fc);
		int rc = ml_forecast_fit(r->y, r->mx.n, &spec, &mod, &err);
		if (rc == 0)
			rc = ml_forecast_predict(&mod, r->horizon, fc, &err);
		if (rc == 0)
			rc = ml_forecast_to_json(&mod, &mj);
		ml_forecast_free(&mod);
		if (rc == 0) {
			file = json_pack("{s:s,s:o,s:o,s:s,s:s?,s:o}", "type", "forecast",
			                 "dataset", mlp_dataset_json(&r->ds), "model", mj,
			                 "column", r->ds.label, "time",
			                 r->time && *r->time ? r->time : NULL,
			                 "forecast", mlp_json_reals(fc, r->horizon));
			size_t len = 0;
			FILE *f = open_memstream(line, &len);
			fprintf(f, "## Forecast of the next %zu values by %s, refit on "
			        "all %zu values\n\n", r->horizon, m->name, r->mx.n);
			double dt = r->mx.n >= 2 ? r->tv[r->mx.n - 1] - r->tv[r->mx.n - 2] : 1;
			for (size_t j = 0; j < r->horizon; j++)
				fprintf(f, "- %g: %.4g\n", r->tv[r->mx.n - 1] + dt *
				        (double)(j + 1), fc[j]);
			fclose(f);
		}
		free(fc);
	}
	if (file == NULL && asprintf(line, "The refit of %s on all rows failed: "
	                             "%s; no model.json.", m->name,
	                             err ? err : "?") < 0)
		*line = NULL;
	free(err);
	return file;
}

static void
bm_run_free(struct bm_run *r)
{
	for (int i = 0; r->rows != NULL && i < r->nmodels; i++) {
		free(r->rows[i].error);
		free(r->rows[i].vals);
		free(r->rows[i].has);
		free(r->rows[i].train_ms);
	}
	free(r->rows);
	free(r->order);
	mlp_results_free(r->res, r->nmodels * r->folds);
	bm_models_free(r->models, r->nmodels);
	mlp_matrix_free(&r->mx);
	mlp_dataset_free(&r->ds);
	free(r->imp);
	free(r->validation);
	free(r->kind_why);
	free(r->auto_column);
	free(r->auto_time);
	free(r->dataset);
	free(r->y);
	free(r->tv);
	free(r->origins);
}

/* `impute` read against the features; a missing feature value that it
 * does not fill is an error naming its CSV line, before any work. */
static int
bm_setup_impute(struct bm_run *r, char **err)
{
	r->impute = r->h->param(r->t, "impute");
	if (r->impute != NULL && *r->impute == '\0')
		r->impute = NULL;
	r->imp = calloc(r->ds.d + 1, sizeof *r->imp);
	if (r->imp == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	int rc = mlp_impute_specs(r->impute, &r->ds, r->imp, err);
	for (size_t j = 0; rc == 0 && j < r->ds.d; j++) {
		if (ml_impute_is_series(r->imp[j].method))
			return ml_seterr(err, -EINVAL, "impute: %s is for series "
			                 "(forecast); for features use mean, median, "
			                 "most_frequent or constant",
			                 ml_impute_name(r->imp[j].method));
		for (size_t i = 0; r->imp[j].method == ML_IMP_NONE && i < r->mx.n; i++)
			if (isnan(r->mx.X[j][i])) {
				char where[256];
				return ml_seterr(err, -EINVAL, "%s: column '%s' is missing: "
				                 "set `impute` (mean, median, most_frequent "
				                 "or constant; e.g. impute: \"%s=median\"), "
				                 "fill the CSV, or leave the column out with "
				                 "`exclude`", mlp_row_where(&r->ds, i, where,
				                 sizeof where), r->ds.features[j],
				                 r->ds.features[j]);
			}
	}
	return rc;
}

/* K folds, repeated r->repeats times: the scores per model and the
 * validation line (HOW: "stratified" or "shuffled"). */
static void
bm_setup_folds(struct bm_run *r, int k, const char *how)
{
	r->k = k;
	r->folds = k * r->repeats;
	int rc = r->repeats > 1 ?
	         asprintf(&r->validation, "%s %d-fold cross-validation repeated "
	                  "%d times, seeds %llu..%llu", how, k, r->repeats,
	                  (unsigned long long)r->seed,
	                  (unsigned long long)(r->seed + (uint64_t)r->repeats - 1)) :
	         asprintf(&r->validation, "%s %d-fold cross-validation, seed %llu",
	                  how, k, (unsigned long long)r->seed);
	if (rc < 0)
		r->validation = NULL;
}

/* Classification: FOLDS-fold stratified cross-validation, which needs
 * every class in every fold. */
static int
bm_setup_class(struct bm_run *r, int64_t folds, char **err)
{
	int rc = 0;
	if (folds < 2 || (size_t)folds > r->mx.n)
		return ml_seterr(err, -EINVAL, "folds = %lld: need 2 <= folds <= "
		               "%zu rows", (long long)folds, r->mx.n);
	/* A class with fewer rows than folds would be missing from some
	 * test folds, and per-fold metrics such as ROC AUC undefined. */
	size_t *count = calloc((size_t)r->ds.nclasses + 1, sizeof *count);
	if (count == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < r->mx.n; i++)
		if (r->mx.y[i] >= 0 && r->mx.y[i] < r->ds.nclasses)
			count[r->mx.y[i]]++;
	for (int k = 0; k < r->ds.nclasses && rc == 0; k++)
		if (count[k] < (size_t)folds)
			rc = ml_seterr(err, -EINVAL, "class '%s' has %zu rows, fewer "
			             "than the %lld folds: lower `folds` to at most %zu",
			             r->ds.classes[k], count[k], (long long)folds,
			             count[k]);
	free(count);
	if (rc == 0 && r->ds.nclasses < 2)
		rc = ml_seterr(err, -EINVAL, "the label has %d class; "
		             "classification needs two or more", r->ds.nclasses);
	if (rc != 0)
		return rc;
	if ((rc = bm_setup_impute(r, err)) != 0)
		return rc;
	/* Class weights name classes: a wrong name fails here, not on
	 * every fold. */
	double *w = calloc((size_t)r->ds.nclasses + 1, sizeof *w);
	for (int i = 0; i < r->nmodels && rc == 0; i++) {
		int given;
		rc = bm_class_weight(&r->models[i], r->ds.nclasses,
		                     (const char *const *)r->ds.classes, w, &given,
		                     err);
	}
	free(w);
	if (rc != 0)
		return rc;
	bm_setup_folds(r, (int)folds, "stratified");
	return 0;
}

/* Regression: FOLDS-fold shuffled cross-validation. */
static int
bm_setup_reg(struct bm_run *r, int64_t folds, char **err)
{
	if (folds < 2 || (size_t)folds > r->mx.n)
		return ml_seterr(err, -EINVAL, "folds = %lld: need 2 <= folds <= "
		               "%zu rows", (long long)folds, r->mx.n);
	int rc = bm_setup_impute(r, err);
	if (rc != 0)
		return rc;
	bm_setup_folds(r, (int)folds, "shuffled");
	return 0;
}

/* Forecasting: a rolling-origin backtest of FOLDS origins (or as many as
 * fit after an explicit `initial`). */
static int
bm_setup_forecast(struct bm_run *r, int64_t folds, char **err)
{
	kiln_task *t = r->t;
	const struct kiln_host *h = r->h;
	int rc = bm_series(&r->ds, &r->mx, r->time, &r->y, &r->tv, err);
	if (rc != 0)
		return rc;
	int64_t hz = h->param_int(t, "horizon", 10);
	int64_t step = h->param_int(t, "step", hz);
	size_t n = r->mx.n;
	if (hz < 1 || (size_t)hz >= n)
		return ml_seterr(err, -EINVAL, "horizon = %lld: need 1 <= horizon "
		               "< %zu values", (long long)hz, n);
	if (step < 1)
		return ml_seterr(err, -EINVAL, "step must be >= 1");
	if (folds < 1)
		return ml_seterr(err, -EINVAL, "folds must be >= 1");
	int64_t init = (int64_t)n - hz - (folds - 1) * step;
	const char *ip = h->param(t, "initial");
	if (ip != NULL && *ip)
		init = h->param_int(t, "initial", init);
	if (init < 1 || init + hz > (int64_t)n)
		return ml_seterr(err, -EINVAL, "the backtest does not fit the %zu "
		               "values: initial %lld + horizon %lld (with %lld "
		               "origins %lld apart)", n, (long long)init,
		               (long long)hz, (long long)folds, (long long)step);
	struct ml_backtest_split *sp = NULL;
	size_t ns = 0;
	rc = ml_backtest_splits(n, (size_t)init, (size_t)hz, (size_t)step, 0,
	                        &sp, &ns, err);
	if (rc != 0)
		return rc;
	/* With an explicit `initial` every origin that fits is used. */
	r->folds = r->k = (int)ns;
	r->origins = calloc(ns + 1, sizeof *r->origins);
	for (size_t i = 0; i < ns; i++)
		r->origins[i] = sp[i].train_end;
	free(sp);
	r->horizon = (size_t)hz;
	r->step = (size_t)step;
	r->initial = (size_t)init;
	if (asprintf(&r->validation, "rolling origin: %d origins, horizon "
	             "%zu, step %zu, initial training length %zu", r->folds,
	             r->horizon, r->step, r->initial) < 0)
		r->validation = NULL;
	return 0;
}

/* The metric that ranks the models, one of the kind's. */
static int
bm_setup_metric(struct bm_run *r, char **err)
{
	int rc;
	r->primary = -1;
	for (int k = 0; k < r->nm; k++)
		if (strcmp(r->mnames[k], r->metric) == 0)
			r->primary = k;
	if (r->primary < 0) {
		char *s = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&s, &len);
		for (int k = 0; k < r->nm; k++)
			fprintf(f, "%s%s", k ? ", " : "", r->mnames[k]);
		fclose(f);
		rc = ml_seterr(err, -EINVAL, "metric '%s' is not one of %s", r->metric, s);
		free(s);
		return rc;
	}
	r->hib = bm_higher_is_better(r->metric);
	return 0;
}

/* KIND is a name of bm_kind_names: its number, or -1. */
static int
bm_kind_find(const char *kind)
{
	for (int k = 0; k < BM_NKINDS; k++)
		if (strcmp(bm_kind_names[k], kind) == 0)
			return k;
	return -1;
}

/* The kind, and a forecast's series and time columns, from the
 * parameters or else from the dataset's schema: the ingest task's
 * `task`; a categorical label is classification; a dataset with a time
 * column is a forecast of its label (or of its only numeric column); a
 * numeric label is regression.  *COLUMN is set for a forecast. */
static int
bm_infer_kind(struct bm_run *r, const char *kind, const char **column,
              char **err)
{
	kiln_task *t = r->t;
	const struct kiln_host *h = r->h;
	int rc = 0;
	if (kind != NULL && *kind != '\0') {
		if ((r->kind = bm_kind_find(kind)) < 0)
			return ml_seterr(err, -EINVAL, "kind '%s': classification, "
			                 "regression or forecasting", kind);
		rc = asprintf(&r->kind_why, "given");
	} else if (*column != NULL && **column != '\0') {
		r->kind = BM_FORECAST;
		rc = asprintf(&r->kind_why, "`column` is set");
	}
	if (rc < 0)
		return ml_seterr(err, -ENOMEM, "out of memory");
	if (r->kind_why != NULL && (r->kind != BM_FORECAST ||
	    (*column && **column && r->time && *r->time)))
		return 0;
	json_t *schema = mlp_schema_load(t, h, err);
	if (schema == NULL)
		return -EINVAL;
	const char *label = h->param(t, "label");
	if (label == NULL || *label == '\0')
		label = json_string_value(json_object_get(schema, "label"));
	const char *task = json_string_value(json_object_get(schema, "task"));
	const char *ltype = NULL, *tcol = NULL, *num = NULL;
	int nnum = 0;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(schema, "columns"), i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *type = json_string_value(json_object_get(c, "type"));
		if (name == NULL || type == NULL)
			continue;
		if (label != NULL && strcmp(name, label) == 0)
			ltype = type;
		if (strcmp(type, "time") == 0 && tcol == NULL)
			tcol = name;
		if (strcmp(type, "numeric") == 0) {
			nnum++;
			num = name;
		}
	}
	if (r->kind_why == NULL) {
		if (task != NULL && bm_kind_find(task) >= 0) {
			r->kind = bm_kind_find(task);
			rc = asprintf(&r->kind_why, "the ingest task's `task: %s`", task);
		} else if (ltype != NULL && strcmp(ltype, "categorical") == 0) {
			r->kind = BM_CLASS;
			rc = asprintf(&r->kind_why, "the label '%s' is categorical", label);
		} else if (tcol != NULL) {
			r->kind = BM_FORECAST;
			rc = asprintf(&r->kind_why, "the dataset has the time column '%s'",
			              tcol);
		} else if (ltype != NULL) {
			r->kind = BM_REG;
			rc = asprintf(&r->kind_why, "the label '%s' is numeric", label);
		} else {
			json_decref(schema);
			return ml_seterr(err, -EINVAL, "cannot tell what to benchmark: "
			                 "the dataset has no label and no time column; "
			                 "set `label` (or `task` in the ingest task) or "
			                 "`kind: classification|regression|forecasting`");
		}
		if (rc < 0)
			r->kind_why = NULL;
	}
	if (r->kind == BM_FORECAST) {
		/* The series: `column`, else the label, else the only numeric
		 * column; the time: `time`, else the first time column. */
		if ((*column == NULL || **column == '\0') &&
		    (label != NULL || nnum == 1))
			*column = r->auto_column = strdup(label ? label : num);
		if ((r->time == NULL || *r->time == '\0') && tcol != NULL)
			r->time = r->auto_time = strdup(tcol);
	}
	json_decref(schema);
	return 0;
}

/* Parameters and data, checked before any work is spread. */
static int
bm_setup(struct bm_run *r, char **err)
{
	kiln_task *t = r->t;
	const struct kiln_host *h = r->h;
	const char *kind = h->param(t, "kind"), *column = h->param(t, "column");
	if (kind == NULL || *kind == '\0')
		kind = h->param(t, "task");     /* the same, by ingest's name */
	r->time = h->param(t, "time");
	int rc = bm_infer_kind(r, kind, &column, err);
	if (rc != 0)
		return rc;
	int64_t folds = h->param_int(t, "folds", 5);
	int64_t repeats = h->param_int(t, "repeats", 1);
	r->seed = (uint64_t)h->param_int(t, "seed", 42);
	if (repeats < 1 || repeats > BM_MAX_REPEATS)
		return ml_seterr(err, -EINVAL, "repeats = %lld: need 1 <= repeats "
		                 "<= %d", (long long)repeats, BM_MAX_REPEATS);
	if (repeats > 1 && r->kind == BM_FORECAST)
		return ml_seterr(err, -EINVAL, "repeats: a backtest has one set of "
		                 "origins and nothing to shuffle; repeats is for "
		                 "cross-validation (classification, regression)");
	r->repeats = (int)repeats;
	int64_t season = h->param_int(t, "season", 1);
	if (season < 1 || season > ML_FC_MAX_SEASON)
		return ml_seterr(err, -EINVAL, "season must be in 1..%d", ML_FC_MAX_SEASON);
	r->season = (int)season;
	if (r->kind != BM_FORECAST) {
		rc = mlp_dataset_open(t, h, h->param(t, "label"),
		                      r->kind == BM_CLASS ? 2 : 3,
		                      h->param(t, "features"), h->param(t, "exclude"),
		                      &r->ds, err);
	} else {
		if (column == NULL || *column == '\0')
			return ml_seterr(err, -EINVAL, "forecasting needs the `column` "
			               "parameter (the series)");
		/* The series is the "label"; the time column a feature. */
		rc = mlp_dataset_open(t, h, column, 3, r->time && *r->time ?
		                      r->time : NULL, h->param(t, "exclude"), &r->ds, err);
		if (rc == 0)
			rc = mlp_numeric_only(&r->ds, err);
	}
	if (rc == 0)
		rc = mlp_matrix_load(t, h, &r->ds, &r->mx, err);
	if (rc == 0)
		rc = bm_models_parse(h->param(t, "models"), r->kind, r->season,
		                     &r->models, &r->nmodels, err);
	if (rc != 0)
		return rc;
	const char *dsn = h->param(t, "dataset");
	r->dataset = strdup(dsn && *dsn ? dsn : r->ds.label);
	const char *metric = h->param(t, "metric");
	if (r->kind == BM_CLASS) {
		r->mnames = bm_class_metrics;
		r->nm = BM_NCM;
		r->metric = metric && *metric ? metric :
		            r->ds.nclasses == 2 ? "roc_auc" : "accuracy";
		rc = bm_setup_class(r, folds, err);
	} else if (r->kind == BM_REG) {
		r->mnames = bm_reg_metrics;
		r->nm = BM_NRM;
		r->metric = metric && *metric ? metric : "rmse";
		rc = bm_setup_reg(r, folds, err);
	} else {
		r->mnames = bm_fc_metrics;
		r->nm = BM_NFM;
		r->metric = metric && *metric ? metric : "mase";
		rc = bm_setup_forecast(r, folds, err);
	}
	if (rc != 0)
		return rc;
	return bm_setup_metric(r, err);
}

static int
bm_run(kiln_task *t, const struct kiln_host *h)
{
	struct bm_run r = { .t = t, .h = h };
	char *err = NULL;
	int rc = bm_setup(&r, &err);
	if (rc != 0) {
		bm_run_free(&r);
		return mlp_fail(t, h, rc, err);
	}
	/* One map task per (model, fold): task i * folds + f. */
	int ntasks = r.nmodels * r.folds;
	json_t *mods = json_array();
	for (int i = 0; i < r.nmodels; i++)
		json_array_append_new(mods, json_pack("{s:s,s:s,s:O}", "name",
		                      r.models[i].name, "type", r.models[i].def->name,
		                      "params", r.models[i].params));
	json_t *b = json_pack("{s:i,s:o,s:i,s:I,s:s?}", "kind", r.kind, "models",
	                      mods, "folds", r.k, "seed", (json_int_t)r.seed,
	                      "impute", r.impute);
	if (r.kind != BM_FORECAST)
		json_object_set_new(b, "repeats", json_integer(r.repeats));
	if (r.kind == BM_FORECAST) {
		json_t *o = json_array();
		for (int f = 0; f < r.folds; f++)
			json_array_append_new(o, json_integer((json_int_t)r.origins[f]));
		json_object_set_new(b, "origins", o);
		json_object_set_new(b, "horizon", json_integer((json_int_t)r.horizon));
		json_object_set_new(b, "season", json_integer(r.season));
		if (r.time && *r.time)
			json_object_set_new(b, "time", json_string(r.time));
	}
	json_t **args = calloc((size_t)ntasks, sizeof *args);
	for (int i = 0; i < ntasks; i++)
		args[i] = json_pack("{s:i,s:i}", "m", i / r.folds, "f", i % r.folds);
	h->log(t, KILN_LOG_INFO, "benchmark: %d models x %d folds%s = %d map "
	       "tasks", r.nmodels, r.folds, r.repeats > 1 ? " (repeated k-fold)" :
	       "", ntasks);
	rc = mlp_stage_tasks(t, h, "fold", &r.ds, b, args, ntasks, &r.res, &err);
	for (int i = 0; i < ntasks; i++)
		json_decref(args[i]);
	free(args);
	json_decref(b);
	if (rc != 0) {
		bm_run_free(&r);
		return mlp_fail(t, h, rc, err);
	}
	bm_aggregate(&r);
	if (r.rows[r.order[0]].error != NULL) {
		char *s = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&s, &len);
		fputs("every model failed:", f);
		for (int i = 0; i < r.nmodels; i++)
			fprintf(f, "%s %s: %s", i ? ";" : "", r.models[i].name,
			        r.rows[i].error);
		fclose(f);
		bm_run_free(&r);
		return mlp_fail(t, h, -EINVAL, s);
	}
	for (int i = 0; i < r.nmodels; i++)
		if (r.rows[i].error != NULL)
			h->log(t, KILN_LOG_WARN, "benchmark: %s failed: %s",
			       r.models[i].name, r.rows[i].error);
	char *line = NULL;
	json_t *model = bm_refit(&r, &line);
	json_t *lb = bm_leaderboard(&r);
	char *csv = bm_csv(&r), *report = bm_report(&r, line);
	free(line);
	rc = mlp_output_json(t, h, "leaderboard.json", lb);
	if (rc == 0)
		rc = h->output(t, "leaderboard.csv", csv, strlen(csv));
	if (rc == 0)
		rc = h->output(t, "report.md", report, strlen(report));
	if (rc == 0 && model != NULL)
		rc = mlp_output_json(t, h, "model.json", model);
	free(csv);
	free(report);
	json_decref(model);
	bm_run_free(&r);
	if (rc != 0) {
		json_decref(lb);
		h->set_error(t, "cannot store the benchmark's outputs");
		return rc;
	}
	return mlp_result(t, h, lb, NULL);
}

MLP_PLUGIN("benchmark",
           "compare models on the same cross-validation folds or backtest origins; a leaderboard",
           bm_params, bm_run, bm_map);
