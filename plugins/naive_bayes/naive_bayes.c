/* SPDX-License-Identifier: MIT */
/*
 * naive_bayes.c - the bundled 'naive_bayes' plugin: Gaussian naive Bayes
 * (scikit-learn's GaussianNB) from per-partition sufficient statistics.
 *
 * The model is a closed form of per-class counts, means and squared
 * deviations, so one stage is enough: every partition's map task folds its
 * rows into an ml_nb_partial and the driver merges them in partition order
 * (Chan's pairwise formulas: the model does not depend on the partitioning
 * beyond rounding).  A second stage scores the training data (each map task
 * predicts its partition and counts correct rows), so the result carries
 * the training accuracy and log loss.  The data never leave their workers.
 *
 * Parameters: label, features, exclude (see mlplug.h), var_smoothing (1e-9,
 * as scikit-learn).  Output: model.json ({"type":"naive_bayes","dataset":
 * ...,"model":...}, read by `predict`).  Result: classes, priors, epsilon,
 * training accuracy and log loss, rows, fit_ms.
 *
 * A constant column is fine (its variance is the smoothing epsilon, so it
 * only shifts every class's likelihood alike); a column constant within a
 * class with var_smoothing 0, or every column constant, is refused.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_linear.h"
#include "ml/mlplug.h"

static const struct kiln_param nb_params[] = {
	{ "label", "string", "", "label column (default: the ingest task's)" },
	MLP_PARAMS_FEATURES,
	MLP_PARAM_IMPUTE,
	{ "var_smoothing", "number", "1e-9", "fraction of the largest feature variance added to every variance" },
	{ NULL, NULL, NULL, NULL },
};

/* Merge the "stats" results in partition order and make the model. */
static int
nb_fit(json_t **res, const struct mlp_dataset *ds, double var_smoothing,
       struct ml_nb *m, char **err)
{
	struct ml_nb_partial all, part;
	int rc = ml_nb_partial_init(&all, ds->d, ds->nclasses, err);
	if (rc != 0)
		return rc;
	for (int i = 0; rc == 0 && i < ds->nparts; i++) {
		rc = ml_nb_partial_from_json(res[i], &part, err);
		if (rc == 0) {
			rc = ml_nb_merge(&all, &part, err);
			ml_nb_partial_free(&part);
		}
	}
	if (rc == 0)
		rc = ml_nb_finish(&all, var_smoothing, m, err);
	ml_nb_partial_free(&all);
	if (rc == -EINVAL && err != NULL && *err != NULL &&
	    strncmp(*err, "class ", 6) == 0) {
		/* Say which class, by name: codes mean nothing to a user. */
		int k = atoi(*err + 6);
		if (k >= 0 && k < ds->nclasses)
			ml_seterr(err, rc, "class '%s' of label '%s' has no training rows",
			        ds->classes[k], ds->label);
	}
	return rc;
}

static int
nb_run(kiln_task *t, const struct kiln_host *h)
{
	struct mlp_dataset ds;
	char *err = NULL;
	double t0 = mlp_now_ms();
	int rc = mlp_dataset_open(t, h, h->param(t, "label"), 2, h->param(t, "features"),
	                          h->param(t, "exclude"), &ds, &err);
	if (rc == 0)
		rc = mlp_impute_fit(t, h, &ds, h->param(t, "impute"), &err);
	if (rc != 0) {
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	double vs = h->param_double(t, "var_smoothing", 1e-9);
	if (!(vs >= 0) || !isfinite(vs)) {
		mlp_dataset_free(&ds);
		h->set_error(t, "var_smoothing must be a number >= 0");
		return KILN_EINVAL;
	}

	/* 1. Per-class statistics, merged in partition order. */
	json_t **res = NULL;
	struct ml_nb m = { 0 };
	rc = mlp_stage_parts(t, h, "stats", &ds, NULL, &res, &err);
	if (rc == 0)
		rc = nb_fit(res, &ds, vs, &m, &err);
	mlp_results_free(res, ds.nparts);
	res = NULL;
	mlp_name_columns(&err, &ds);
	json_t *mj = NULL;
	if (rc == 0 && ml_nb_to_json(&m, &mj) != 0)
		rc = ml_seterr(&err, -EIO, "cannot encode the model");

	/* 2. Training accuracy and log loss: one prediction pass. */
	double correct = 0, loss = 0, n = 0;
	if (rc == 0) {
		json_t *b = json_pack("{s:O}", "model", mj);
		rc = mlp_stage_parts(t, h, "score", &ds, b, &res, &err);
		json_decref(b);
	}
	for (int i = 0; rc == 0 && i < ds.nparts; i++) {
		correct += json_number_value(json_object_get(res[i], "correct"));
		loss += json_number_value(json_object_get(res[i], "loss"));
		n += json_number_value(json_object_get(res[i], "n"));
	}
	mlp_results_free(res, ds.nparts);
	if (rc != 0) {
		json_decref(mj);
		ml_nb_free(&m);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}

	/* 3. The model file and the result. */
	json_t *file = json_pack("{s:s,s:o,s:o}", "type", "naive_bayes", "dataset",
	                         mlp_dataset_json(&ds), "model", mj);
	json_t *classes = json_array();
	for (int k = 0; k < ds.nclasses; k++)
		json_array_append_new(classes, json_string(ds.classes[k]));
	json_t *result = json_pack("{s:s,s:o,s:o,s:f,s:f,s:f,s:I,s:i,s:f}",
		"model", "naive_bayes", "classes", classes,
		"priors", mlp_json_reals(m.prior, (size_t)m.nclasses),
		"epsilon", m.epsilon, "accuracy", n > 0 ? correct / n : 0.0,
		"log_loss", n > 0 ? loss / n : 0.0, "rows", (json_int_t)ds.rows,
		"partitions", ds.nparts, "fit_ms", mlp_now_ms() - t0);
	ml_nb_free(&m);
	mlp_dataset_free(&ds);
	return mlp_model_done(t, h, file, result);
}

/* Map "score": the partition's correct predictions and summed log loss
 * (probabilities clipped as scikit-learn's log_loss does). */
static int
nb_score(const json_t *model, const struct mlp_part *p, json_t **out,
         char **err)
{
	struct ml_nb m;
	int rc = ml_nb_from_json(model, &m, err);
	if (rc != 0)
		return rc;
	size_t K = (size_t)m.nclasses;
	double *proba = malloc((p->n * K + 1) * sizeof *proba);
	if (proba == NULL) {
		ml_nb_free(&m);
		return ml_seterr(err, -ENOMEM, "out of memory");
	}
	rc = ml_nb_predict_proba(&m, p->X, p->n, proba, err);
	double correct = 0, loss = 0;
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		size_t best = 0;
		for (size_t k = 1; k < K; k++)
			if (proba[k * p->n + i] > proba[best * p->n + i])
				best = k;
		correct += (int)best == p->y[i];
		double q = proba[(size_t)p->y[i] * p->n + i];
		loss -= log(fmin(fmax(q, DBL_EPSILON), 1 - DBL_EPSILON));
	}
	if (rc == 0)
		*out = json_pack("{s:f,s:f,s:I}", "correct", correct, "loss", loss,
		                 "n", (json_int_t)p->n);
	free(proba);
	ml_nb_free(&m);
	return rc;
}

static int
nb_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	struct mlp_part p;
	char *err = NULL;
	int count = 0, part = h->stage_index(t, &count);
	int rc = mlp_map_open(t, h, &ds, &p);
	if (rc != 0)
		return rc;
	rc = mlp_check_finite(&p, &ds, part, 0, "training", &err);
	json_t *out = NULL;
	if (rc != 0) {
		/* reported below */
	} else if (strcmp(fn, "stats") == 0) {
		struct ml_nb_partial np;
		rc = ml_nb_partial_init(&np, ds.d, ds.nclasses, &err);
		if (rc == 0) {
			rc = ml_nb_partial_add(&np, p.X, p.n, p.y, &err);
			if (rc == 0 && ml_nb_partial_to_json(&np, &out) != 0)
				rc = ml_seterr(&err, -EIO, "cannot encode the statistics");
			ml_nb_partial_free(&np);
		}
	} else if (strcmp(fn, "score") == 0) {
		json_t *b = mlp_broadcast(t, h);
		rc = nb_score(json_object_get(b, "model"), &p, &out, &err);
		json_decref(b);
	} else {
		rc = ml_seterr(&err, -EINVAL, "naive_bayes has no map function %s", fn);
	}
	mlp_name_columns(&err, &ds);
	mlp_part_close(&p);
	mlp_dataset_free(&ds);
	return mlp_done(t, h, rc, out, err);
}

MLP_PLUGIN("naive_bayes",
           "Gaussian naive Bayes from per-partition class statistics",
           nb_params, nb_run, nb_map);
