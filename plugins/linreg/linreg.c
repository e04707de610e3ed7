/* SPDX-License-Identifier: MIT */
/*
 * linreg.c - the bundled 'linreg' plugin: linear least squares (alpha 0,
 * scikit-learn's LinearRegression) or ridge regression (alpha > 0, Ridge)
 * from distributed normal equations.
 *
 * One stage makes the model: every partition's map task folds its rows
 * into an ml_linreg_partial (count, means and the centred co-moment matrix
 * of features and target, (d+1)^2 numbers whatever the row count), the
 * driver merges them in partition order and solves the (d x d) system.  A
 * second stage scores the fit: each map task predicts its partition and
 * returns its sums of squared and absolute residuals and the target's
 * count, mean and squared deviations, which the driver merges (Chan) into
 * R^2, RMSE and MAE.  The data never leave their workers.
 *
 * Parameters: label (a numeric column), features, exclude (see mlplug.h),
 * alpha (0).  Output: model.json ({"type":"linreg","dataset":...,"model":
 * ...}, read by `predict`).  Result: coef (an object by feature name),
 * intercept, alpha, training r2/rmse/mae, rows, fit_ms.
 *
 * With alpha 0 a constant or collinear column has no unique solution: the
 * task fails naming the column (use alpha > 0 or drop it).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_linear.h"
#include "ml/mlplug.h"

static const struct kiln_param linreg_params[] = {
	{ "label", "string", "", "numeric target column (default: the ingest task's label)" },
	MLP_PARAMS_FEATURES,
	MLP_PARAM_IMPUTE,
	{ "alpha", "number", "0", "L2 penalty (ridge); 0 is ordinary least squares" },
	{ NULL, NULL, NULL, NULL },
};

/* Merge the "stats" results in partition order and solve. */
static int
lr_fit(json_t **res, const struct mlp_dataset *ds, double alpha,
       struct ml_linreg *m, char **err)
{
	struct ml_linreg_partial all, part;
	int rc = ml_linreg_partial_init(&all, ds->d, err);
	if (rc != 0)
		return rc;
	for (int i = 0; rc == 0 && i < ds->nparts; i++) {
		rc = ml_linreg_partial_from_json(res[i], &part, err);
		if (rc == 0) {
			rc = ml_linreg_merge(&all, &part, err);
			ml_linreg_partial_free(&part);
		}
	}
	if (rc == 0)
		rc = ml_linreg_finish(&all, alpha, m, err);
	ml_linreg_partial_free(&all);
	return rc;
}

/* Training scores from the "score" results: Chan-merged target moments
 * and summed residuals, in partition order. */
static json_t *
lr_scores(json_t **res, int nparts)
{
	double n = 0, mean = 0, m2 = 0, ssr = 0, sae = 0;
	for (int i = 0; i < nparts; i++) {
		double nb = json_number_value(json_object_get(res[i], "n"));
		double mb = json_number_value(json_object_get(res[i], "mean"));
		double m2b = json_number_value(json_object_get(res[i], "m2"));
		ssr += json_number_value(json_object_get(res[i], "ssr"));
		sae += json_number_value(json_object_get(res[i], "sae"));
		if (nb <= 0)
			continue;
		double delta = mb - mean, tot = n + nb;
		mean += delta * nb / tot;
		m2 += m2b + delta * delta * n * nb / tot;
		n = tot;
	}
	json_t *o = json_object();
	/* R^2 of a constant target is undefined (scikit-learn returns NaN or
	 * 0 depending on the version): leave it out. */
	if (m2 > 0) {
		json_object_set_new(o, "r2", json_real(1 - ssr / m2));
	} else {
		json_object_set_new(o, "r2", json_null());
	}
	json_object_set_new(o, "rmse", json_real(n > 0 ? sqrt(ssr / n) : 0));
	json_object_set_new(o, "mae", json_real(n > 0 ? sae / n : 0));
	return o;
}

static int
lr_run(kiln_task *t, const struct kiln_host *h)
{
	struct mlp_dataset ds;
	char *err = NULL;
	double t0 = mlp_now_ms();
	int rc = mlp_dataset_open(t, h, h->param(t, "label"), 3, h->param(t, "features"),
	                          h->param(t, "exclude"), &ds, &err);
	if (rc == 0)
		rc = mlp_impute_fit(t, h, &ds, h->param(t, "impute"), &err);
	if (rc != 0) {
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	double alpha = h->param_double(t, "alpha", 0.0);
	if (!(alpha >= 0) || !isfinite(alpha)) {
		mlp_dataset_free(&ds);
		h->set_error(t, "alpha must be a number >= 0");
		return KILN_EINVAL;
	}

	/* 1. Normal equations, merged in partition order. */
	json_t **res = NULL;
	struct ml_linreg m = { 0 };
	rc = mlp_stage_parts(t, h, "stats", &ds, NULL, &res, &err);
	if (rc == 0)
		rc = lr_fit(res, &ds, alpha, &m, &err);
	mlp_results_free(res, ds.nparts);
	res = NULL;
	mlp_name_columns(&err, &ds);
	json_t *mj = NULL;
	if (rc == 0 && ml_linreg_to_json(&m, &mj) != 0)
		rc = ml_seterr(&err, -EIO, "cannot encode the model (a coefficient "
		             "is not finite)");

	/* 2. Training residuals: one prediction pass. */
	if (rc == 0) {
		json_t *b = json_pack("{s:O}", "model", mj);
		rc = mlp_stage_parts(t, h, "score", &ds, b, &res, &err);
		json_decref(b);
	}
	if (rc != 0) {
		json_decref(mj);
		ml_linreg_free(&m);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	json_t *scores = lr_scores(res, ds.nparts);
	mlp_results_free(res, ds.nparts);

	/* 3. The model file and the result. */
	json_t *file = json_pack("{s:s,s:o,s:o}", "type", "linreg", "dataset",
	                         mlp_dataset_json(&ds), "model", mj);
	json_t *coef = json_object();
	for (size_t j = 0; j < ds.d; j++)
		json_object_set_new(coef, ds.features[j], json_real(m.coef[j]));
	json_t *result = json_pack("{s:s,s:s,s:o,s:f,s:f,s:I,s:i,s:f}",
		"model", "linreg", "label", ds.label, "coef", coef,
		"intercept", m.intercept, "alpha", alpha, "rows", (json_int_t)ds.rows,
		"partitions", ds.nparts, "fit_ms", mlp_now_ms() - t0);
	json_object_update(result, scores);
	json_decref(scores);
	ml_linreg_free(&m);
	mlp_dataset_free(&ds);
	return mlp_model_done(t, h, file, result);
}

/* Map "score": residual sums and the target's moments over a partition. */
static int
lr_score(const json_t *model, const struct mlp_part *p, json_t **out,
         char **err)
{
	struct ml_linreg m;
	int rc = ml_linreg_from_json(model, &m, err);
	if (rc != 0)
		return rc;
	double *pred = malloc((p->n + 1) * sizeof *pred);
	if (pred == NULL) {
		ml_linreg_free(&m);
		return ml_seterr(err, -ENOMEM, "out of memory");
	}
	rc = ml_linreg_predict(&m, p->X, p->n, pred, err);
	double ssr = 0, sae = 0, mean = 0, m2 = 0;
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		double r = p->t[i] - pred[i];
		ssr += r * r;
		sae += fabs(r);
		mean += p->t[i];
	}
	if (p->n > 0)
		mean /= (double)p->n;
	for (size_t i = 0; rc == 0 && i < p->n; i++)
		m2 += (p->t[i] - mean) * (p->t[i] - mean);
	if (rc == 0)
		*out = json_pack("{s:I,s:f,s:f,s:f,s:f}", "n", (json_int_t)p->n,
		                 "ssr", ssr, "sae", sae, "mean", mean, "m2", m2);
	free(pred);
	ml_linreg_free(&m);
	return rc;
}

static int
lr_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	struct mlp_part p;
	char *err = NULL;
	int count = 0, part = h->stage_index(t, &count);
	int rc = mlp_map_open(t, h, &ds, &p);
	if (rc != 0)
		return rc;
	if (p.t == NULL)
		rc = ml_seterr(&err, -EINVAL, "partition %d has no numeric label", part);
	if (rc == 0)
		rc = mlp_check_finite(&p, &ds, part, 1, "training", &err);
	json_t *out = NULL;
	if (rc != 0) {
		/* reported below */
	} else if (strcmp(fn, "stats") == 0) {
		struct ml_linreg_partial lp;
		rc = ml_linreg_partial_init(&lp, ds.d, &err);
		if (rc == 0) {
			rc = ml_linreg_partial_add(&lp, p.X, p.n, p.t, &err);
			if (rc == 0 && ml_linreg_partial_to_json(&lp, &out) != 0)
				rc = ml_seterr(&err, -EIO, "cannot encode the statistics");
			ml_linreg_partial_free(&lp);
		}
	} else if (strcmp(fn, "score") == 0) {
		json_t *b = mlp_broadcast(t, h);
		rc = lr_score(json_object_get(b, "model"), &p, &out, &err);
		json_decref(b);
	} else {
		rc = ml_seterr(&err, -EINVAL, "linreg has no map function %s", fn);
	}
	mlp_name_columns(&err, &ds);
	mlp_part_close(&p);
	mlp_dataset_free(&ds);
	return mlp_done(t, h, rc, out, err);
}

MLP_PLUGIN("linreg",
           "linear and ridge regression from distributed normal equations",
           linreg_params, lr_run, lr_map);
