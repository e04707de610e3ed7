/* SPDX-License-Identifier: MIT */
/*
 * logreg.c - the bundled 'logreg' plugin: logistic regression (binary or
 * multinomial, L2 penalty, standardised features) fitted by L-BFGS over
 * gradients computed on all workers.
 *
 * The driver (run) reads the dataset's schema, runs one stage for the
 * standardisation statistics and the class counts, then one stage per
 * objective evaluation: every partition's map task returns its summed
 * log-loss and gradient at the broadcast parameters, and the driver adds
 * them in partition order (so the answer does not depend on the number of
 * workers) and takes the L-BFGS step.  Only d+1 numbers per class cross
 * the network per partition and evaluation; the data stay where they are.
 *
 * Parameters: label, features, exclude (see mlplug.h), C (1.0), max_iter
 * (1000), gtol (1e-8), penalty (l2, l1, elasticnet), l1_ratio (0.5),
 * class_weight ("balanced" or {class: weight}), local_below (2,000,000:
 * below that many rows x features the driver reads the partitions and
 * evaluates them itself, in partition order, with the map tasks' code and
 * the same result to the last bit; 0: always stages, -1: always local).
 * Outputs: model.json ({"type":"logreg",...}, read by `predict`).
 * Result: iterations, evaluations, training log loss, coefficients on the
 * original scale, time per gradient pass, local (no stage was run for the
 * evaluations; "stages" then counts the driver's own rounds).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_linear.h"
#include "ml/mlplug.h"

/* Below this many rows x features the driver reads the partitions and
 * computes every evaluation itself, with no stage.  A distributed round
 * has a fixed cost (1.2-2 ms for a no-op stage of 4 map tasks on the loaded
 * 2-core test machine, ~50 ms for logreg's, whose tasks carry the
 * parameters and results as 17-digit JSON through ~10 hops), while a
 * local gradient pass costs ~16 ns per value for 10 classes; on that
 * machine the local fit was faster at every size measured (up to 19.2M
 * values, bench/README.md 2026-12-06).  2M values bounds what the driver
 * reads (16 MB) and a local round (~30 ms) and leaves bigger fits to a
 * cluster with real cores to spread them over. */
#define LOGREG_LOCAL_BELOW 2000000
#define LOGREG_LOCAL_BELOW_S "2000000"

static const struct kiln_param logreg_params[] = {
	{ "label", "string", "", "label column (default: the ingest task's)" },
	MLP_PARAMS_FEATURES,
	MLP_PARAM_IMPUTE,
	{ "C", "number", "1.0", "inverse penalty strength (scikit-learn's C)" },
	{ "max_iter", "int", "1000", "most L-BFGS (FISTA for l1, elasticnet) iterations" },
	{ "penalty", "string", "l2", "l2 (by L-BFGS), l1 or elasticnet (by FISTA; one stage per evaluation, one or two per iteration)" },
	{ "l1_ratio", "number", "0.5", "elasticnet: the L1 share of the penalty, 0 (L2) to 1 (L1)" },
	{ "class_weight", "json", "", "weights on each class's log-loss: \"balanced\" (n / (K n_k)) or {\"class\": weight} (unlisted classes 1)" },
	{ "gtol", "number", "1e-8", "stop when the gradient's max-norm is below" },
	{ "local_below", "int", LOGREG_LOCAL_BELOW_S, "the driver evaluates the partitions itself, with no stage, when rows x features is below this (0: always a stage per evaluation, -1: always local)" },
	{ NULL, NULL, NULL, NULL },
};

struct driver {
	kiln_task *t;
	const struct kiln_host *h;
	const struct mlp_dataset *ds;
	json_t *model;          /* the model without coefficients, broadcast */
	struct mlp_part *parts; /* local mode: every partition, read here */
	struct ml_logreg local; /* local mode: the model as a map task reads it */
	int stages;
	double pass_ms;         /* summed over map tasks */
	double stage_ms;
};

/* Local mode: what the "grad" map tasks would return, computed here on
 * D->parts in partition order, as the same JSON (so that the driver adds
 * the same numbers: reals cross a stage with 17 digits, exactly). */
static int
local_stage(struct driver *d, const double *params, size_t np,
            json_t ***res, char **err)
{
	int rc = 0;
	double *g = calloc(np + 1, sizeof *g);
	*res = calloc((size_t)d->ds->nparts, sizeof **res);
	if (g == NULL || *res == NULL)
		rc = ml_seterr(err, -ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < d->ds->nparts; i++) {
		const struct mlp_part *p = &d->parts[i];
		double loss = 0, t0 = mlp_now_ms();
		memset(g, 0, (np + 1) * sizeof *g);
		rc = ml_logreg_partial(&d->local, params, p->X, p->n, p->y, &loss,
		                       g, err);
		if (rc == 0)
			(*res)[i] = json_pack("{s:f,s:o,s:f}", "loss", loss, "grad",
			                      mlp_json_reals(g, np), "ms",
			                      mlp_now_ms() - t0);
	}
	free(g);
	if (rc != 0) {
		mlp_results_free(*res, d->ds->nparts);
		*res = NULL;
	}
	return rc;
}

/* Local mode: read every partition of DS into D->parts. */
static int
local_open(struct driver *d, char **err)
{
	const struct mlp_dataset *ds = d->ds;
	d->parts = calloc((size_t)ds->nparts + 1, sizeof *d->parts);
	if (d->parts == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	for (int i = 0; i < ds->nparts; i++) {
		int rc = mlp_part_open(d->t, d->h, ds->part_input[i], ds,
		                       &d->parts[i], err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
local_close(struct driver *d)
{
	for (int i = 0; d->parts != NULL && i < d->ds->nparts; i++)
		mlp_part_close(&d->parts[i]);
	free(d->parts);
	d->parts = NULL;
	ml_logreg_free(&d->local);
}

/* Local mode: the moments of every partition, as the "moments" map tasks
 * would return them. */
static int
local_moments(struct driver *d, json_t ***res, char **err)
{
	const struct mlp_dataset *ds = d->ds;
	int rc = 0;
	*res = calloc((size_t)ds->nparts, sizeof **res);
	if (*res == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < ds->nparts; i++) {
		struct ml_moments mo;
		const struct mlp_part *p = &d->parts[i];
		rc = ml_moments_init(&mo, ds->d, ds->nclasses, err);
		if (rc == 0)
			rc = ml_moments_partial(&mo, p->X, p->n, p->y, err);
		if (rc == 0)
			rc = ml_moments_to_json(&mo, &(*res)[i]);
		ml_moments_free(&mo);
	}
	if (rc != 0) {
		mlp_results_free(*res, ds->nparts);
		*res = NULL;
	}
	return rc;
}

/* ml_logreg_eval_fn: the gradient stage. */
static int
eval_stage(void *ud, const struct ml_logreg *m, const double *params,
           double *loss, double *grad, char **err)
{
	struct driver *d = ud;
	size_t np = ml_logreg_nparam(m);
	if (d->h->cancelled(d->t))
		return ml_seterr(err, KILN_ECANCELLED, "cancelled");
	json_t *b = d->parts != NULL ? NULL :
	            json_pack("{s:O,s:o}", "model", d->model, "params",
	                      mlp_json_reals(params, np));
	json_t **res = NULL;
	double t0 = mlp_now_ms();
	int rc = d->parts != NULL ? local_stage(d, params, np, &res, err) :
	         mlp_stage_parts(d->t, d->h, "grad", d->ds, b, &res, err);
	json_decref(b);
	if (rc != 0)
		return rc;
	d->stage_ms += mlp_now_ms() - t0;
	d->stages++;
	*loss = 0;
	memset(grad, 0, np * sizeof *grad);
	double *g = calloc(np, sizeof *g);
	for (int i = 0; i < d->ds->nparts && rc == 0; i++) {
		if (ml_json_get_reals(res[i], "grad", g, np, err) != 0) {
			rc = ml_seterr(err, -EIO, "partition %d: %s", i, *err);
			break;
		}
		*loss += json_number_value(json_object_get(res[i], "loss"));
		d->pass_ms += json_number_value(json_object_get(res[i], "ms"));
		for (size_t k = 0; k < np; k++)
			grad[k] += g[k];
	}
	free(g);
	mlp_results_free(res, d->ds->nparts);
	return rc;
}

/* `penalty`, `l1_ratio` and `class_weight` onto the prepared model M
 * (MO: the merged moments, which count the classes). */
static int
logreg_options(kiln_task *t, const struct kiln_host *h,
               const struct mlp_dataset *ds, const struct ml_moments *mo,
               struct ml_logreg *m, char **err)
{
	const char *pen = h->param(t, "penalty");
	int p = pen == NULL || *pen == '\0' ? ML_LR_L2 : ml_lr_penalty_find(pen);
	if (p < 0)
		return ml_seterr(err, -EINVAL, "penalty '%s': l2, l1 or elasticnet",
		                 pen);
	int rc = ml_logreg_set_penalty(m, p, h->param_double(t, "l1_ratio", 0.5),
	                               err);
	const char *cw = h->param(t, "class_weight");
	/* A JSON string ("balanced") as its text */
	json_t *js = cw != NULL && *cw == '"' ?
	             json_loads(cw, JSON_DECODE_ANY, NULL) : NULL;
	char cwbuf[16];
	if (json_is_string(js)) {
		snprintf(cwbuf, sizeof cwbuf, "%s", json_string_value(js));
		cw = cwbuf;
	}
	json_decref(js);
	if (rc != 0 || cw == NULL || *cw == '\0' || strcmp(cw, "none") == 0)
		return rc;
	double *w = calloc((size_t)ds->nclasses + 1, sizeof *w);
	if (w == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	if (strcmp(cw, "balanced") == 0) {
		rc = ml_class_weight_balanced(mo, w, err);
	} else {
		json_t *o = json_loads(cw, 0, NULL), *v;
		const char *cls;
		if (!json_is_object(o))
			rc = ml_seterr(err, -EINVAL, "class_weight: \"balanced\" or "
			               "an object {class: weight}");
		for (int k = 0; k < ds->nclasses; k++)
			w[k] = 1;
		json_object_foreach(o, cls, v) {
			int k = 0;
			while (k < ds->nclasses && strcmp(ds->classes[k], cls) != 0)
				k++;
			if (rc == 0 && k == ds->nclasses)
				rc = ml_seterr(err, -EINVAL, "class_weight: the label has "
				               "no class '%s'", cls);
			else if (rc == 0)
				w[k] = json_number_value(v);
		}
		json_decref(o);
	}
	if (rc == 0)
		rc = ml_logreg_set_class_weight(m, w, err);
	free(w);
	return rc;
}

static int
logreg_run(kiln_task *t, const struct kiln_host *h)
{
	struct mlp_dataset ds;
	char *err = NULL, *warn = NULL;
	double t0 = mlp_now_ms();
	int rc = mlp_dataset_open(t, h, h->param(t, "label"), 2, h->param(t, "features"),
	                          h->param(t, "exclude"), &ds, &err);
	if (rc == 0)
		rc = mlp_impute_fit(t, h, &ds, h->param(t, "impute"), &err);
	if (rc != 0) {
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	double C = h->param_double(t, "C", 1.0);
	if (!(C > 0) || !isfinite(C)) {
		mlp_dataset_free(&ds);
		h->set_error(t, "C must be a positive number");
		return KILN_EINVAL;
	}
	/* 1. Standardisation statistics and class counts. */
	json_t **res = NULL;
	struct ml_moments mo = { 0 }, part = { 0 };
	struct ml_logreg m = { 0 };
	struct driver d = { .t = t, .h = h, .ds = &ds };
	int64_t below = h->param_int(t, "local_below", LOGREG_LOCAL_BELOW);
	int local = below < 0 || (double)ds.rows * (double)ds.d < (double)below;
	if (local)
		rc = local_open(&d, &err);
	if (rc == 0 && local)
		rc = local_moments(&d, &res, &err);
	else if (rc == 0)
		rc = mlp_stage_parts(t, h, "moments", &ds, NULL, &res, &err);
	if (rc == 0)
		rc = ml_moments_init(&mo, ds.d, ds.nclasses, &err);
	for (int i = 0; rc == 0 && i < ds.nparts; i++) {
		rc = ml_moments_from_json(res[i], &part, &err);
		if (rc == 0)
			rc = ml_moments_merge(&mo, &part, &err);
		ml_moments_free(&part);
	}
	mlp_results_free(res, ds.nparts);
	if (rc == 0)
		rc = ml_logreg_prepare(&m, &mo, C, &warn, &err);
	if (rc == 0)
		rc = logreg_options(t, h, &ds, &mo, &m, &err);
	ml_moments_free(&mo);
	if (warn != NULL) {
		h->log(t, KILN_LOG_WARN, "logreg: %s", warn);
		free(warn);
	}
	/* 2. L-BFGS over distributed gradients. */
	if (rc == 0)
		rc = ml_logreg_to_json(&m, &d.model);
	/* The model as the map tasks read it from the broadcast. */
	if (rc == 0 && local) {
		char *text = json_dumps(d.model, JSON_COMPACT | JSON_REAL_PRECISION(17));
		json_t *mj = text ? json_loads(text, 0, NULL) : NULL;
		rc = mj ? ml_logreg_from_json(mj, &d.local, &err) :
		     ml_seterr(&err, -ENOMEM, "out of memory");
		json_decref(mj);
		free(text);
	}
	struct ml_lbfgs_opts o;
	ml_lbfgs_defaults(&o);
	o.max_iter = (int)h->param_int(t, "max_iter", 1000);
	o.gtol = h->param_double(t, "gtol", 1e-8);
	o.ftol = 0;     /* stop on the gradient only: the answer, not the
	                 * optimiser's progress, decides (see ml_linear.h) */
	if (rc == 0)
		rc = ml_logreg_fit(&m, eval_stage, &d, &o, &err);
	json_decref(d.model);
	local_close(&d);
	if (rc != 0) {
		ml_logreg_free(&m);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	/* 3. The model file and the result. */
	size_t R = m.nclasses == 2 ? 1 : (size_t)m.nclasses;
	double *coef = calloc(R * ds.d, sizeof *coef), *icpt = calloc(R, sizeof *icpt);
	ml_logreg_coef_original(&m, coef, icpt);
	json_t *mj = NULL;
	ml_logreg_to_json(&m, &mj);
	json_t *file = json_pack("{s:s,s:o,s:o}", "type", "logreg", "dataset",
	                         mlp_dataset_json(&ds), "model", mj);
	json_t *coefs = json_array();
	for (size_t r = 0; r < R; r++)
		json_array_append_new(coefs, mlp_json_reals(coef + r * ds.d, ds.d));
	json_t *result = json_pack(
		"{s:s,s:i,s:i,s:s,s:f,s:o,s:o,s:i,s:f,s:f,s:f,s:I,s:b}",
		"model", "logreg", "iterations", m.n_iter, "evaluations", m.n_eval,
		"status", ml_lbfgs_status_str(m.status),
		"log_loss", m.loss / (double)ds.rows, "coef", coefs,
		"intercept", mlp_json_reals(icpt, R), "stages", d.stages,
		"stage_ms", d.stage_ms / (d.stages ? d.stages : 1),
		"pass_ms", d.pass_ms / ((double)(d.stages ? d.stages : 1) * ds.nparts),
		"fit_ms", mlp_now_ms() - t0, "rows", (json_int_t)ds.rows,
		"local", local);
	free(coef);
	free(icpt);
	ml_logreg_free(&m);
	mlp_dataset_free(&ds);
	if (file == NULL || result == NULL) {
		json_decref(file);
		json_decref(result);
		h->set_error(t, "logreg: cannot encode the model");
		return KILN_EFAIL;
	}
	return mlp_model_done(t, h, file, result);
}

static int
logreg_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	struct mlp_part p;
	char *err = NULL;
	int rc = mlp_map_open(t, h, &ds, &p);
	if (rc != 0)
		return rc;
	json_t *out = NULL;
	if (strcmp(fn, "moments") == 0) {
		struct ml_moments mo;
		rc = ml_moments_init(&mo, ds.d, ds.nclasses, &err);
		if (rc == 0)
			rc = ml_moments_partial(&mo, p.X, p.n, p.y, &err);
		if (rc == 0)
			rc = ml_moments_to_json(&mo, &out);
		ml_moments_free(&mo);
	} else if (strcmp(fn, "grad") == 0) {
		json_t *b = mlp_broadcast(t, h);
		struct ml_logreg m = { 0 };
		rc = ml_logreg_from_json(json_object_get(b, "model"), &m, &err);
		size_t np = rc == 0 ? ml_logreg_nparam(&m) : 0;
		double *params = calloc(np + 1, sizeof *params);
		double *g = calloc(np + 1, sizeof *g);
		if (rc == 0)   /* as many as the model has, or an error */
			rc = ml_json_get_reals(b, "params", params, np, &err);
		double loss = 0, t0 = mlp_now_ms();
		if (rc == 0)
			rc = ml_logreg_partial(&m, params, p.X, p.n, p.y, &loss, g, &err);
		if (rc == 0)
			out = json_pack("{s:f,s:o,s:f}", "loss", loss, "grad",
			                mlp_json_reals(g, np), "ms", mlp_now_ms() - t0);
		free(params);
		free(g);
		ml_logreg_free(&m);
		json_decref(b);
	} else {
		rc = ml_seterr(&err, -EINVAL, "logreg has no map function %s", fn);
	}
	mlp_part_close(&p);
	mlp_dataset_free(&ds);
	return mlp_done(t, h, rc, out, err);
}

MLP_PLUGIN("logreg",
           "logistic regression (binary, multinomial; L2, L1, elastic net; class weights) over distributed gradients",
           logreg_params, logreg_run, logreg_map);
