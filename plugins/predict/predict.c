/* SPDX-License-Identifier: MIT */
/*
 * predict.c - the bundled 'predict' plugin: applies a saved model (the
 * model.json of an upstream training task) to a dataset (the outputs of an
 * `ingest` task) and, when the dataset has the model's label, evaluates it.
 *
 * Model types: logreg, naive_bayes (class probabilities), linreg (values),
 * forest (probabilities or values, as it was trained), kmeans (the nearest
 * centre).  The model file's "dataset" names the features; the dataset
 * must have every one of them as a numeric column (by name, in any order),
 * otherwise the task fails naming the missing ones.  A model file with a
 * "scaler" ({"mean", "scale"}, one number per feature: what `kmeans
 * standardise=true` writes, its centres being in standardised units) has
 * each feature x replaced by (x - mean) / scale before the model sees it,
 * as in training.
 *
 * The driver runs one stage: map task i loads the model, predicts
 * partition i where it lies and writes its rows' predictions as the output
 * predictions-0000i.csv (ABI 1.7: the driver adopts it), so there is no cap
 * on rows.  While the largest partition's rows x classes is at most
 * `inline_rows` (25,000: a map result is at most 1 MiB), the map tasks
 * also return their predictions (and the true labels) as JSON, and the
 * driver writes them in partition order as predictions.csv and computes
 * the metrics over all rows (ROC AUC needs every row at once).  Past it,
 * map tasks return sufficient statistics (confusion counts and summed log
 * loss; or sums of |e|, e^2, y, y^2) and the driver computes the metrics
 * from their sums, ROC AUC excepted (null, with roc_auc_skipped).
 *
 * Outputs: predictions-NNNNN.csv per partition and, while the rows fit,
 * predictions.csv (row, predicted class/value/cluster, and p_CLASS
 * probability columns for classifiers; each partition's file has the
 * header and its rows' lines) and, with a label, metrics.json.
 * Result: type, rows, partitions, predicted class counts, metrics
 * (classification: accuracy, balanced accuracy, macro precision/recall/F1,
 * log loss, ROC AUC when defined, confusion matrix; regression: MAE, RMSE,
 * R^2), for kmeans the inertia (the sum of squared distances to the
 * assigned centres, in the units clustered: on the training data, the
 * training inertia), predict_ms.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_eval.h"
#include "ml/ml_forest.h"
#include "ml/ml_kmeans.h"
#include "ml/ml_linear.h"
#include "ml/mlplug.h"

/* A map task's result is capped by the host (TASK_RESULT_MAX). */
#define PREDICT_RESULT_MAX (1024 * 1024)
/* Rows x classes of the largest partition up to which the rows come back
 * in the results (about 22 bytes a cell: well under the cap). */
#define PREDICT_INLINE_CELLS 25000

static const struct kiln_param predict_params[] = {
	{ "model", "string", "", "input name of the model file (default: the input whose name ends with model.json)" },
	{ "inline_rows", "int", "25000", "largest partition (rows x classes) whose predictions also make predictions.csv and ROC AUC; larger: per-partition files only" },
	{ NULL, NULL, NULL, NULL },
};

enum predict_kind { PK_CLASSIFY, PK_REGRESS, PK_CLUSTER };

/* A loaded model of any supported type. */
struct predict_model {
	char type[16];
	int kind;               /* enum predict_kind */
	int nclasses;           /* classifiers */
	struct ml_logreg lr;
	struct ml_nb nb;
	struct ml_linreg lin;
	struct ml_forest forest;
	struct ml_kmeans km;
};

static void
predict_model_free(struct predict_model *m)
{
	if (strcmp(m->type, "logreg") == 0)
		ml_logreg_free(&m->lr);
	else if (strcmp(m->type, "naive_bayes") == 0)
		ml_nb_free(&m->nb);
	else if (strcmp(m->type, "linreg") == 0)
		ml_linreg_free(&m->lin);
	else if (strcmp(m->type, "forest") == 0)
		ml_forest_free(&m->forest);
	else if (strcmp(m->type, "kmeans") == 0)
		ml_kmeans_free(&m->km);
	memset(m, 0, sizeof *m);
}

/*
 * Load the "model" member of a model file of type TYPE with D features.
 * 0, or negative with *err.
 */
static int
predict_model_load(const char *type, const json_t *model, size_t d,
                   struct predict_model *m, char **err)
{
	memset(m, 0, sizeof *m);
	if (type == NULL)
		return ml_seterr(err, -EINVAL, "the model file has no \"type\"");
	size_t md = 0;
	int rc;
	if (strcmp(type, "logreg") == 0) {
		rc = ml_logreg_from_json(model, &m->lr, err);
		m->kind = PK_CLASSIFY;
		m->nclasses = m->lr.nclasses;
		md = m->lr.d;
	} else if (strcmp(type, "naive_bayes") == 0) {
		rc = ml_nb_from_json(model, &m->nb, err);
		m->kind = PK_CLASSIFY;
		m->nclasses = m->nb.nclasses;
		md = m->nb.d;
	} else if (strcmp(type, "linreg") == 0) {
		rc = ml_linreg_from_json(model, &m->lin, err);
		m->kind = PK_REGRESS;
		md = m->lin.d;
	} else if (strcmp(type, "forest") == 0) {
		rc = ml_forest_from_json(model, &m->forest, err);
		m->kind = m->forest.task == ML_FOREST_REGRESSION ? PK_REGRESS : PK_CLASSIFY;
		m->nclasses = m->forest.nclasses;
		md = m->forest.d;
	} else if (strcmp(type, "kmeans") == 0) {
		rc = ml_kmeans_from_json(model, &m->km, err);
		m->kind = PK_CLUSTER;
		md = m->km.d;
	} else {
		return ml_seterr(err, -EINVAL, "model type '%s' is not supported (logreg, "
		               "naive_bayes, linreg, forest, kmeans)", type);
	}
	snprintf(m->type, sizeof m->type, "%s", type);
	if (rc != 0) {
		predict_model_free(m);
		return rc;
	}
	if (md != d) {
		predict_model_free(m);
		return ml_seterr(err, -EINVAL, "the %s model has %zu features but its "
		               "file names %zu", type, md, d);
	}
	if (m->kind == PK_CLASSIFY && m->nclasses < 1) {
		predict_model_free(m);
		return ml_seterr(err, -EINVAL, "the %s model has no classes", type);
	}
	return 0;
}

/*
 * Read a model file's scaler SC (NULL: none, *mean and *scale set to
 * NULL) for D features into *MEAN and *SCALE (malloc()ed, D each).  A
 * scale must be finite and positive: it divides.  0, or -EINVAL with *err.
 */
static int
predict_scaler_read(const json_t *sc, size_t d, double **mean, double **scale,
                    char **err)
{
	*mean = *scale = NULL;
	if (sc == NULL || json_is_null(sc))
		return 0;
	const json_t *mv = json_object_get(sc, "mean");
	const json_t *sv = json_object_get(sc, "scale");
	if (json_array_size(mv) != d || json_array_size(sv) != d)
		return ml_seterr(err, -EINVAL, "the model file's scaler needs \"mean\" "
		               "and \"scale\" arrays of %zu numbers (one per feature)", d);
	double *m = malloc((d + 1) * sizeof *m), *sd = malloc((d + 1) * sizeof *sd);
	if (m == NULL || sd == NULL) {
		free(m);
		free(sd);
		return ml_seterr(err, -ENOMEM, "out of memory");
	}
	for (size_t j = 0; j < d; j++) {
		const json_t *a = json_array_get(mv, j), *b = json_array_get(sv, j);
		m[j] = json_number_value(a);
		sd[j] = json_number_value(b);
		if (!json_is_number(a) || !json_is_number(b) || !isfinite(m[j]) ||
		    !isfinite(sd[j]) || sd[j] <= 0) {
			free(m);
			free(sd);
			return ml_seterr(err, -EINVAL, "the model file's scaler: feature "
			               "%zu needs a finite mean and a positive scale", j);
		}
	}
	*mean = m;
	*scale = sd;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Map side                                                             */

/* Predict one partition, its features X (P's, or P's standardised), into
 * a JSON object {"n", "proba"|"value"|"cluster" and "inertia", "y"|"t"}:
 * probabilities are row-major, n rows of K. */
static int
predict_part(const struct predict_model *m, const struct mlp_part *p,
             const double *const *X, json_t **out, char **err)
{
	size_t n = p->n, K = (size_t)m->nclasses;
	int rc = 0;
	json_t *o = json_pack("{s:I}", "n", (json_int_t)n);
	json_t *a = json_array();
	if (m->kind == PK_CLASSIFY) {
		double *pr = malloc((n * K + 1) * sizeof *pr);
		int colmajor = strcmp(m->type, "forest") != 0;
		if (pr == NULL)
			rc = ml_seterr(err, -ENOMEM, "out of memory");
		else if (strcmp(m->type, "logreg") == 0)
			rc = ml_logreg_predict_proba(&m->lr, X, n, pr, err);
		else if (strcmp(m->type, "naive_bayes") == 0)
			rc = ml_nb_predict_proba(&m->nb, X, n, pr, err);
		else
			rc = ml_forest_predict_proba(&m->forest, X, n, pr, err);
		for (size_t i = 0; rc == 0 && i < n; i++)
			for (size_t k = 0; k < K; k++)
				json_array_append_new(a, json_real(colmajor ? pr[k * n + i] :
				                                   pr[i * K + k]));
		free(pr);
		json_object_set_new(o, "proba", a);
	} else if (m->kind == PK_REGRESS) {
		double *v = malloc((n + 1) * sizeof *v);
		if (v == NULL)
			rc = ml_seterr(err, -ENOMEM, "out of memory");
		else if (strcmp(m->type, "linreg") == 0)
			rc = ml_linreg_predict(&m->lin, X, n, v, err);
		else
			rc = ml_forest_predict_value(&m->forest, X, n, v, err);
		for (size_t i = 0; rc == 0 && i < n; i++)
			json_array_append_new(a, json_real(v[i]));
		free(v);
		json_object_set_new(o, "value", a);
	} else {
		int *lab = malloc((n + 1) * sizeof *lab);
		if (lab == NULL)
			rc = ml_seterr(err, -ENOMEM, "out of memory");
		else
			rc = ml_kmeans_predict(&m->km, X, n, lab, err);
		/* Squared distances summed as the library sums them, so that
		 * the training data gives back the training inertia. */
		double inertia = 0;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const double *c = m->km.centres + (size_t)lab[i] * m->km.d;
			double d2 = 0;
			for (size_t j = 0; j < m->km.d; j++)
				d2 += (X[j][i] - c[j]) * (X[j][i] - c[j]);
			inertia += d2;
			json_array_append_new(a, json_integer(lab[i]));
		}
		free(lab);
		json_object_set_new(o, "cluster", a);
		json_object_set_new(o, "inertia", json_real(inertia));
	}
	if (rc == 0 && p->y != NULL) {
		json_t *y = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(y, json_integer(p->y[i]));
		json_object_set_new(o, "y", y);
	} else if (rc == 0 && p->t != NULL) {
		json_t *tv = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(tv, json_real(p->t[i]));
		json_object_set_new(o, "t", tv);
	}
	if (rc != 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/*
 * Partition PART's predictions (OUT, from predict_part(); its first row is
 * FIRST of the dataset) as the output predictions-PART.csv, the lines
 * predictions.csv has for those rows (ABI 1.7: the driver adopts it).
 * Then *OUT is replaced by what the driver needs: the predicted counts
 * ("counts"), the inertia, and either the rows themselves (broadcast B
 * says "inline": the driver writes predictions.csv and computes every
 * metric as before) or sufficient statistics, which sum over partitions:
 * "confusion" and "loss" (classifiers, in the model's class order, the
 * dataset's codes mapped by B's "ymap"; "bad_class" names a row whose
 * class the model lacks), or "sae", "sse", "st", "stt" (regression).
 */
static int
predict_part_output(kiln_task *t, const struct kiln_host *h, json_t *b,
                    const struct predict_model *m, int part, size_t first,
                    json_t **out, char **err)
{
	json_t *o = *out;
	size_t n = (size_t)json_integer_value(json_object_get(o, "n"));
	size_t K = (size_t)m->nclasses;
	json_t *classes = json_object_get(b, "classes");
	json_t *ymap = json_object_get(b, "ymap");
	int inl = json_is_true(json_object_get(b, "inline"));
	const json_t *pv = json_object_get(o, m->kind == PK_CLASSIFY ? "proba" :
	                                   m->kind == PK_REGRESS ? "value" : "cluster");
	const json_t *yv = json_object_get(o, "y"), *tv = json_object_get(o, "t");
	size_t ncnt = m->kind == PK_CLASSIFY ? K : m->kind == PK_CLUSTER ?
	              (size_t)m->km.k : 0;
	size_t *cnt = calloc(ncnt + 1, sizeof *cnt);
	size_t *conf = calloc(K * K + 1, sizeof *conf);
	double *row = malloc((K + 1) * sizeof *row);
	double loss = 0, sae = 0, sse = 0, st = 0, stt = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL || cnt == NULL || conf == NULL || row == NULL) {
		if (f != NULL)
			fclose(f);
		free(text);
		free(cnt);
		free(conf);
		free(row);
		return ml_seterr(err, -ENOMEM, "out of memory");
	}
	json_t *bad = NULL;
	fputs(json_string_value(json_object_get(b, "header")), f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%zu,", first + i);
		if (m->kind == PK_CLASSIFY) {
			for (size_t k = 0; k < K; k++)
				row[k] = json_number_value(json_array_get(pv, i * K + k));
			int best = 0;
			for (size_t k = 1; k < K; k++)
				if (row[k] > row[best])
					best = (int)k;
			cnt[best]++;
			mlp_csv_field(f, json_string_value(json_array_get(classes,
			              (size_t)best)));
			for (size_t k = 0; k < K; k++)
				fprintf(f, ",%.17g", row[k]);
			if (yv != NULL && bad == NULL) {
				json_int_t c = json_integer_value(json_array_get(yv, i));
				json_t *mc = json_array_get(ymap, (size_t)c);
				if (mc == NULL || json_integer_value(mc) < 0) {
					bad = json_pack("{s:I,s:I}", "row",
					                (json_int_t)(first + i), "code", c);
				} else {
					int yk = (int)json_integer_value(mc), bk;
					loss += ml_class_row(row, (int)K, yk, &bk);
					conf[(size_t)yk * K + (size_t)bk]++;
				}
			}
		} else if (m->kind == PK_REGRESS) {
			double v = json_number_value(json_array_get(pv, i));
			fprintf(f, "%.17g", v);
			if (tv != NULL) {
				double y = json_number_value(json_array_get(tv, i));
				sae += fabs(y - v);
				sse += (y - v) * (y - v);
				st += y;
				stt += y * y;
			}
		} else {
			json_int_t c = json_integer_value(json_array_get(pv, i));
			if (c >= 0 && (size_t)c < ncnt)
				cnt[c]++;
			fprintf(f, "%lld", (long long)c);
		}
		fputc('\n', f);
	}
	int rc = fclose(f) == 0 ? 0 : ml_seterr(err, -ENOMEM, "out of memory");
	char name[40];
	snprintf(name, sizeof name, "predictions-%05d.csv", part);
	if (rc == 0 && h->output(t, name, text, len) != KILN_OK)
		rc = ml_seterr(err, -EIO, "cannot store %s (%zu bytes)", name, len);
	free(text);
	json_t *c = json_array();
	for (size_t k = 0; k < ncnt; k++)
		json_array_append_new(c, json_integer((json_int_t)cnt[k]));
	json_t *r;
	if (inl) {
		r = json_incref(o);
	} else {
		r = json_pack("{s:I}", "n", (json_int_t)n);
		if (json_object_get(o, "inertia") != NULL)
			json_object_set(r, "inertia", json_object_get(o, "inertia"));
		if (m->kind == PK_CLASSIFY && yv != NULL) {
			json_t *ca = json_array();
			for (size_t k = 0; k < K * K; k++)
				json_array_append_new(ca, json_integer((json_int_t)conf[k]));
			json_object_set_new(r, "confusion", ca);
			json_object_set_new(r, "loss", json_real(loss));
			if (bad != NULL)
				json_object_set(r, "bad_class", bad);
		} else if (m->kind == PK_REGRESS && tv != NULL) {
			json_object_set_new(r, "sae", json_real(sae));
			json_object_set_new(r, "sse", json_real(sse));
			json_object_set_new(r, "st", json_real(st));
			json_object_set_new(r, "stt", json_real(stt));
		}
	}
	json_object_set_new(r, "counts", c);
	json_decref(bad);
	json_decref(o);
	*out = r;
	free(cnt);
	free(conf);
	free(row);
	return rc;
}

static int
predict_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	struct mlp_dataset ds;
	struct mlp_part p;
	struct predict_model m;
	char *err = NULL;
	int count = 0, part = h->stage_index(t, &count);
	if (strcmp(fn, "predict") != 0) {
		h->set_error(t, "predict has no map function %s", fn);
		return KILN_EINVAL;
	}
	int rc = mlp_map_dataset(t, h, &ds, &err);
	if (rc != 0) {
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	json_t *b = mlp_broadcast(t, h);
	double *mean = NULL, *scale = NULL;
	rc = predict_model_load(json_string_value(json_object_get(b, "type")),
	                        json_object_get(b, "model"), ds.d, &m, &err);
	if (rc == 0) {
		rc = predict_scaler_read(json_object_get(b, "scaler"), ds.d, &mean,
		                         &scale, &err);
		if (rc != 0)
			predict_model_free(&m);
	}
	json_t *b2 = b;         /* kept for predict_part_output() */
	if (rc != 0) {
		json_decref(b2);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	rc = mlp_part_open(t, h, 0, &ds, &p, &err);
	if (rc != 0) {
		json_decref(b2);
		free(mean);
		free(scale);
		predict_model_free(&m);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	json_t *out = NULL;
	/* With a scaler, the model sees standardised copies of the columns
	 * (the partition itself is mapped read-only). */
	double **own = NULL;
	rc = mlp_check_finite(&p, &ds, part, 0, "predicting", &err);
	if (rc == 0 && mean != NULL) {
		own = calloc(ds.d + 1, sizeof *own);
		for (size_t j = 0; own != NULL && j < ds.d; j++) {
			own[j] = malloc((p.n + 1) * sizeof **own);
			if (own[j] == NULL)
				break;
			for (size_t i = 0; i < p.n; i++)
				own[j][i] = (p.X[j][i] - mean[j]) / scale[j];
		}
		if (own == NULL || (ds.d > 0 && own[ds.d - 1] == NULL))
			rc = ml_seterr(&err, -ENOMEM, "out of memory standardising "
			               "partition %d", part);
	}
	if (rc == 0)
		rc = predict_part(&m, &p, own != NULL ? (const double *const *)own :
		                  p.X, &out, &err);
	for (size_t j = 0; own != NULL && j < ds.d; j++)
		free(own[j]);
	free(own);
	free(mean);
	free(scale);
	size_t n = p.n;
	mlp_part_close(&p);
	if (rc == 0)
		rc = predict_part_output(t, h, b2, &m, part,
		                         mlp_part_first_row(&ds, part), &out, &err);
	json_decref(b2);
	predict_model_free(&m);
	mlp_dataset_free(&ds);
	if (rc != 0)
		return mlp_fail(t, h, rc, err);
	char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(out);
	if (text == NULL) {
		h->set_error(t, "out of memory");
		return KILN_ENOMEM;
	}
	if (strlen(text) > PREDICT_RESULT_MAX) {
		h->set_error(t, "partition %d: the predictions of its %zu rows take "
		             "%zu bytes, more than a map task may return (1 MiB): "
		             "ingest the data into more partitions", part, n,
		             strlen(text));
		free(text);
		return KILN_EINVAL;
	}
	rc = h->set_result(t, text);
	free(text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Driver                                                               */

/* Everything the driver gathers about its inputs. */
struct predict_job {
	json_t *file;           /* the model file */
	const char *type;
	json_t *mdataset;       /* the model file's "dataset" (borrowed) */
	size_t d;
	char **features;        /* d names, borrowed from mdataset */
	const char **levels;    /* d: a one-hot feature's level, or NULL */
	const char *label;      /* the model's label, or NULL */
	int use_label;          /* the dataset has it, of the right kind */
	char *no_metrics;       /* why not, when the model has a label */
	struct predict_model m;
	char **classes;         /* nclasses names (malloc()ed) */
};

static void
predict_job_free(struct predict_job *j)
{
	for (int k = 0; k < j->m.nclasses && j->classes != NULL; k++)
		free(j->classes[k]);
	free(j->classes);
	free(j->features);
	free(j->levels);
	free(j->no_metrics);
	predict_model_free(&j->m);
	json_decref(j->file);
	memset(j, 0, sizeof *j);
}

static const void *
predict_input(kiln_task *t, const struct kiln_host *h, const char *want,
              const char *suffix, size_t *len, const char **name)
{
	int n = h->input_count(t);
	for (int i = 0; i < n; i++) {
		const char *nm = mlp_input_name(t, h, i);
		if (nm == NULL)
			continue;
		if (want != NULL && *want != '\0' ? strcmp(nm, want) == 0 :
		    mlp_ends_with(nm, suffix)) {
			*name = nm;
			return h->input_data(t, i, len);
		}
	}
	return NULL;
}

/* Read the model file: its features, the model, the scaler and the class
 * names. */
static int
predict_read_model(kiln_task *t, const struct kiln_host *h,
                   struct predict_job *j, char **err)
{
	size_t len = 0;
	const char *name = NULL;
	const void *data = predict_input(t, h, h->param(t, "model"), "model.json",
	                                 &len, &name);
	if (data == NULL)
		return ml_seterr(err, -EINVAL, "no model among the task's inputs: "
		               "expected an input whose name ends with model.json "
		               "(depend on a logreg, naive_bayes, linreg, forest or "
		               "kmeans task)");
	json_error_t je;
	j->file = json_loadb(data, len, 0, &je);
	if (j->file == NULL)
		return ml_seterr(err, -EINVAL, "%s: not JSON (line %d: %s)", name,
		               je.line, je.text);
	j->type = json_string_value(json_object_get(j->file, "type"));
	j->mdataset = json_object_get(j->file, "dataset");
	json_t *f = json_object_get(j->mdataset, "features");
	if (j->type == NULL || !json_is_array(f) || json_array_size(f) == 0)
		return ml_seterr(err, -EINVAL, "%s: not a kiln model file (it needs "
		               "\"type\" and \"dataset\": {\"features\": [...]})", name);
	j->d = json_array_size(f);
	j->features = calloc(j->d + 1, sizeof *j->features);
	j->levels = calloc(j->d + 1, sizeof *j->levels);
	json_t *oh = json_object_get(j->mdataset, "onehot");
	for (size_t i = 0; i < j->d; i++) {
		j->features[i] = (char *)json_string_value(json_array_get(f, i));
		j->levels[i] = json_string_value(json_array_get(oh, i));
		if (j->features[i] == NULL || strchr(j->features[i], ',') != NULL)
			return ml_seterr(err, -EINVAL, "%s: feature %zu has no usable name",
			               name, i);
	}
	int rc = predict_model_load(j->type, json_object_get(j->file, "model"),
	                            j->d, &j->m, err);
	if (rc != 0)
		return rc;
	/* Checked here to fail once, not in every map task. */
	double *mean, *scale;
	rc = predict_scaler_read(json_object_get(j->file, "scaler"), j->d, &mean,
	                         &scale, err);
	free(mean);
	free(scale);
	if (rc != 0)
		return rc;
	/* Class names: the model file's, else the codes themselves. */
	json_t *cl = json_object_get(j->mdataset, "classes");
	j->classes = calloc((size_t)j->m.nclasses + 1, sizeof *j->classes);
	for (int k = 0; k < j->m.nclasses; k++) {
		const char *c = json_string_value(json_array_get(cl, (size_t)k));
		j->classes[k] = c && json_array_size(cl) == (size_t)j->m.nclasses ?
		                strdup(c) : NULL;
		if (j->classes[k] == NULL && asprintf(&j->classes[k], "%d", k) < 0)
			j->classes[k] = NULL;
	}
	j->label = json_string_value(json_object_get(j->mdataset, "label"));
	return 0;
}

/* Whether every feature of the model is a column of the dataset (COLS,
 * the "columns" of its schema); the error names those that are not. */
static int
predict_check_features(const struct predict_job *j, json_t *cols, char **err)
{
	char *missing = NULL;
	size_t nmissing = 0, mlen = 0;
	FILE *mf = open_memstream(&missing, &mlen);
	for (size_t i = 0; i < j->d; i++) {
		size_t c;
		json_t *col;
		int found = 0;
		/* A one-hot feature COLUMN=LEVEL needs COLUMN (and not the
		 * level: data without it have zeros there). */
		size_t fl = strlen(j->features[i]);
		if (j->levels[i] != NULL && strlen(j->levels[i]) < fl)
			fl -= strlen(j->levels[i]) + 1;
		json_array_foreach(cols, c, col) {
			const char *cn = json_string_value(json_object_get(col, "name")) ?: "";
			found |= strlen(cn) == fl && strncmp(cn, j->features[i], fl) == 0;
		}
		if (!found && mf != NULL)
			fprintf(mf, "%s'%s'", nmissing++ ? ", " : "", j->features[i]);
	}
	if (mf != NULL)
		fclose(mf);
	int rc = 0;
	if (nmissing > 0)
		rc = ml_seterr(err, -EINVAL, "the model's feature%s %s %s not in the "
		             "dataset: it needs the columns it was trained on (%zu "
		             "features)", nmissing > 1 ? "s" : "", missing ? missing : "?",
		             nmissing > 1 ? "are" : "is", j->d);
	free(missing);
	return rc;
}

/* Whether the dataset's column of the model's label (COLS as above) can
 * score the predictions: sets j->use_label, or j->no_metrics to why not. */
static void
predict_check_label(struct predict_job *j, json_t *cols)
{
	int rc = 0;
	size_t c;
	json_t *col, *lc = NULL;
	json_array_foreach(cols, c, col)
		if (strcmp(json_string_value(json_object_get(col, "name")) ?: "",
		           j->label) == 0)
			lc = col;
	const char *ty = json_string_value(json_object_get(lc, "type"));
	int categorical = ty != NULL && strcmp(ty, "categorical") == 0;
	if (lc == NULL)
		rc = asprintf(&j->no_metrics, "the dataset has no column '%s' "
		              "(the model's label)", j->label);
	else if (json_integer_value(json_object_get(lc, "missing")) > 0)
		rc = asprintf(&j->no_metrics, "label column '%s' has missing values",
		              j->label);
	else if (categorical != (j->m.kind == PK_CLASSIFY))
		rc = asprintf(&j->no_metrics, "label column '%s' is %s but the "
		              "model is a %s", j->label, categorical ? "categorical" :
		              "numeric", categorical ? "regression" : "classifier");
	else
		j->use_label = 1;
	if (rc < 0)
		j->no_metrics = NULL;
}

/* Read the model file and check it against the dataset's schema. */
static int
predict_prepare(kiln_task *t, const struct kiln_host *h, struct predict_job *j,
                char **err)
{
	int rc = predict_read_model(t, h, j, err);
	if (rc != 0)
		return rc;
	/* The dataset's schema: are the features and the label there? */
	size_t len = 0;
	const char *name = NULL;
	json_error_t je;
	const void *data = predict_input(t, h, NULL, "schema.json", &len, &name);
	json_t *schema = data ? json_loadb(data, len, 0, &je) : NULL;
	if (schema == NULL)
		return ml_seterr(err, -EINVAL, "no dataset among the task's inputs "
		               "(expected the outputs of an `ingest` task)");
	json_t *cols = json_object_get(schema, "columns");
	rc = predict_check_features(j, cols, err);
	if (rc == 0 && j->label != NULL && j->m.kind != PK_CLUSTER)
		predict_check_label(j, cols);
	json_decref(schema);
	return rc;
}

/* All map results gathered, in partition order. */
struct predict_all {
	size_t n;
	double *proba;          /* n x K row-major, classifiers */
	double *value;          /* regression */
	int *cluster;           /* kmeans */
	double inertia;         /* kmeans: summed in partition order */
	int *y;                 /* true codes in the DATASET's coding */
	double *t;              /* true values */
};

static void
predict_all_free(struct predict_all *a)
{
	free(a->proba);
	free(a->value);
	free(a->cluster);
	free(a->y);
	free(a->t);
	memset(a, 0, sizeof *a);
}

static int
predict_gather(json_t **res, int nparts, size_t rows,
               const struct predict_job *j, struct predict_all *a, char **err)
{
	size_t K = (size_t)j->m.nclasses, n = 0;
	/* Each partition's "n" sizes what is allocated: none negative, and
	 * together no more than the ROWS the dataset has. */
	for (int i = 0; i < nparts; i++) {
		int64_t pn;
		int rc = mlp_json_range(json_object_get(res[i], "n"), 0,
		                        (int64_t)(rows - n), &pn, err,
		                        "predict: partition %d's row count n", i);
		if (rc != 0)
			return rc;
		n += (size_t)pn;
	}
	a->n = n;
	if (j->m.kind == PK_CLASSIFY)
		a->proba = malloc((n * K + 1) * sizeof *a->proba);
	else if (j->m.kind == PK_REGRESS)
		a->value = malloc((n + 1) * sizeof *a->value);
	else
		a->cluster = malloc((n + 1) * sizeof *a->cluster);
	if (j->use_label && j->m.kind == PK_CLASSIFY)
		a->y = malloc((n + 1) * sizeof *a->y);
	else if (j->use_label)
		a->t = malloc((n + 1) * sizeof *a->t);
	size_t off = 0;
	for (int i = 0; i < nparts; i++) {
		size_t pn = (size_t)json_integer_value(json_object_get(res[i], "n"));
		json_t *v = json_object_get(res[i], j->m.kind == PK_CLASSIFY ? "proba" :
		                            j->m.kind == PK_REGRESS ? "value" : "cluster");
		size_t want = j->m.kind == PK_CLASSIFY ? pn * K : pn;
		if (json_array_size(v) != want)
			return ml_seterr(err, -EIO, "partition %d returned %zu predictions "
			               "for %zu rows", i, json_array_size(v), pn);
		for (size_t r = 0; r < want; r++) {
			json_t *x = json_array_get(v, r);
			if (a->proba)
				a->proba[off * K + r] = json_number_value(x);
			else if (a->value)
				a->value[off + r] = json_number_value(x);
			else
				a->cluster[off + r] = (int)json_integer_value(x);
		}
		if (a->cluster)
			a->inertia += json_number_value(json_object_get(res[i], "inertia"));
		json_t *y = json_object_get(res[i], a->y ? "y" : "t");
		if ((a->y || a->t) && json_array_size(y) != pn)
			return ml_seterr(err, -EIO, "partition %d returned no labels", i);
		for (size_t r = 0; (a->y || a->t) && r < pn; r++) {
			if (a->y)
				a->y[off + r] = (int)json_integer_value(json_array_get(y, r));
			else
				a->t[off + r] = json_number_value(json_array_get(y, r));
		}
		off += pn;
	}
	return 0;
}

/* The header line of predictions.csv (and of each partition's file). */
static void
predict_csv_header(const struct predict_job *j, FILE *f)
{
	if (j->m.kind == PK_CLASSIFY) {
		fputs("row,predicted", f);
		for (int k = 0; k < j->m.nclasses; k++) {
			char *h = NULL;
			if (asprintf(&h, "p_%s", j->classes[k]) >= 0) {
				fputc(',', f);
				mlp_csv_field(f, h);
			}
			free(h);
		}
		fputc('\n', f);
	} else if (j->m.kind == PK_REGRESS) {
		fputs("row,predicted\n", f);
	} else {
		fputs("row,cluster\n", f);
	}
}

static json_t *predict_class_json(const struct predict_job *j,
                                  struct ml_class_metrics *cm, size_t n);

/*
 * The map results RES (one per partition of DS) as sufficient statistics
 * (predict_part_output()): the rows into A->n, the inertia, *COUNTS (the
 * predicted counts) and *METRICS (with the label: classification without
 * ROC AUC, or regression; else NULL, J->no_metrics may say why).
 */
static int
predict_sums(json_t **res, const struct mlp_dataset *ds, struct predict_job *j,
             struct predict_all *a, json_t **counts, json_t **metrics,
             char **err)
{
	size_t K = (size_t)j->m.nclasses, n = 0;
	size_t ncnt = j->m.kind == PK_CLASSIFY ? K : j->m.kind == PK_CLUSTER ?
	              (size_t)j->m.km.k : 0;
	size_t *cnt = calloc(ncnt + 1, sizeof *cnt);
	size_t *conf = calloc(K * K + 1, sizeof *conf);
	double loss = 0, sae = 0, sse = 0, st = 0, stt = 0;
	const json_t *bad = NULL;
	if (cnt == NULL || conf == NULL) {
		free(cnt);
		free(conf);
		return ml_seterr(err, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < ds->nparts; i++) {
		int64_t pn;
		int rc = mlp_json_range(json_object_get(res[i], "n"), 0,
		                        (int64_t)(ds->rows - n), &pn, err,
		                        "predict: partition %d's row count n", i);
		if (rc != 0) {
			free(cnt);
			free(conf);
			return rc;
		}
		n += (size_t)pn;
		json_t *c = json_object_get(res[i], "counts");
		for (size_t k = 0; k < ncnt; k++)
			cnt[k] += (size_t)json_integer_value(json_array_get(c, k));
		json_t *cf = json_object_get(res[i], "confusion");
		for (size_t k = 0; k < K * K && cf != NULL; k++)
			conf[k] += (size_t)json_integer_value(json_array_get(cf, k));
		loss += json_number_value(json_object_get(res[i], "loss"));
		sae += json_number_value(json_object_get(res[i], "sae"));
		sse += json_number_value(json_object_get(res[i], "sse"));
		st += json_number_value(json_object_get(res[i], "st"));
		stt += json_number_value(json_object_get(res[i], "stt"));
		a->inertia += json_number_value(json_object_get(res[i], "inertia"));
		if (bad == NULL)
			bad = json_object_get(res[i], "bad_class");
	}
	a->n = n;
	*counts = NULL;
	if (ncnt > 0) {
		*counts = json_object();
		for (size_t k = 0; k < ncnt; k++) {
			char buf[32];
			snprintf(buf, sizeof buf, "%zu", k);
			json_object_set_new(*counts, j->m.kind == PK_CLASSIFY ?
			                    j->classes[k] : buf, json_integer((json_int_t)cnt[k]));
		}
	}
	*metrics = NULL;
	if (j->use_label && j->m.kind == PK_CLASSIFY && bad != NULL) {
		json_int_t code = json_integer_value(json_object_get(bad, "code"));
		free(j->no_metrics);
		if (asprintf(&j->no_metrics, "row %lld: class '%s' is not one of the "
		             "model's classes", (long long)json_integer_value(
		             json_object_get(bad, "row")), code >= 0 &&
		             code < ds->nclasses ? ds->classes[code] : "?") < 0)
			j->no_metrics = NULL;
	} else if (j->use_label && j->m.kind == PK_CLASSIFY) {
		struct ml_class_metrics cm;
		char *merr = NULL;
		if (ml_class_metrics_counts(conf, (int)K, loss, &cm, &merr) == 0) {
			*metrics = predict_class_json(j, &cm, n);
			json_object_set_new(*metrics, "roc_auc_skipped", json_string(
			    "ROC AUC needs every row at once: computed only when "
			    "the largest partition's rows x classes is at most "
			    "inline_rows"));
		}
		free(merr);
	} else if (j->use_label && j->m.kind == PK_REGRESS && n > 0) {
		double sst = stt - st * st / (double)n;
		*metrics = json_pack("{s:s,s:I,s:f,s:f}", "task", "regression",
		                     "rows", (json_int_t)n, "mae", sae / (double)n,
		                     "rmse", sqrt(sse / (double)n));
		json_object_set_new(*metrics, "r2", sst > 0 ? json_real(1 - sse / sst) :
		                    json_null());
	}
	free(cnt);
	free(conf);
	return 0;
}

/* predictions.csv as text (malloc()ed) and the predicted counts. */
static char *
predict_csv(const struct predict_job *j, const struct predict_all *a,
            json_t **counts)
{
	size_t K = (size_t)j->m.nclasses, len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL)
		return NULL;
	size_t *cnt = NULL;
	int ncnt = j->m.kind == PK_CLASSIFY ? (int)K : j->m.kind == PK_CLUSTER ?
	           j->m.km.k : 0;
	predict_csv_header(j, f);
	cnt = calloc((size_t)ncnt + 1, sizeof *cnt);
	for (size_t i = 0; i < a->n; i++) {
		fprintf(f, "%zu,", i);
		if (j->m.kind == PK_CLASSIFY) {
			/* The most probable class, the lowest on ties, as
			 * ml_class_metrics() decides. */
			const double *p = a->proba + i * K;
			size_t best = 0;
			for (size_t k = 1; k < K; k++)
				if (p[k] > p[best])
					best = k;
			cnt[best]++;
			mlp_csv_field(f, j->classes[best]);
			for (size_t k = 0; k < K; k++)
				fprintf(f, ",%.17g", p[k]);
		} else if (j->m.kind == PK_REGRESS) {
			fprintf(f, "%.17g", a->value[i]);
		} else {
			if (a->cluster[i] >= 0 && a->cluster[i] < ncnt)
				cnt[a->cluster[i]]++;
			fprintf(f, "%d", a->cluster[i]);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(text);
		text = NULL;
	}
	*counts = NULL;
	if (ncnt > 0) {
		*counts = json_object();
		for (int k = 0; k < ncnt; k++) {
			char buf[32];
			const char *key = buf;
			if (j->m.kind == PK_CLASSIFY)
				key = j->classes[k];
			else
				snprintf(buf, sizeof buf, "%d", k);
			json_object_set_new(*counts, key, json_integer((json_int_t)cnt[k]));
		}
	}
	free(cnt);
	return text;
}

/* Classification metrics; DS is the opened dataset (its class coding). */
static int
predict_class_metrics(const struct predict_job *j, const struct mlp_dataset *ds,
                      const struct predict_all *a, json_t **out, char **err)
{
	int K = j->m.nclasses;
	/* The dataset codes its classes by its own levels; the model by the
	 * training data's.  Match them by name. */
	int *map = calloc((size_t)ds->nclasses + 1, sizeof *map);
	for (int c = 0; c < ds->nclasses; c++) {
		map[c] = -1;
		for (int k = 0; k < K; k++)
			if (strcmp(ds->classes[c], j->classes[k]) == 0)
				map[c] = k;
	}
	int *y = malloc((a->n + 1) * sizeof *y);
	int rc = 0;
	for (size_t i = 0; i < a->n && rc == 0; i++) {
		int c = a->y[i];
		if (c < 0 || c >= ds->nclasses || map[c] < 0)
			rc = ml_seterr(err, -EDOM, "row %zu: class '%s' is not one of the "
			             "model's classes", i, c >= 0 && c < ds->nclasses ?
			             ds->classes[c] : "?");
		else
			y[i] = map[c];
	}
	free(map);
	struct ml_class_metrics cm = { 0 };
	if (rc == 0)
		rc = ml_class_metrics(y, a->proba, a->n, K, &cm, err);
	free(y);
	if (rc != 0)
		return rc;
	*out = predict_class_json(j, &cm, a->n);
	return 0;
}

/* The metrics object of CM (N rows); frees CM. */
static json_t *
predict_class_json(const struct predict_job *j, struct ml_class_metrics *cm,
                   size_t n)
{
	int K = j->m.nclasses;
	json_t *conf = json_array(), *classes = json_array(), *support = json_array();
	for (int r = 0; r < K; r++) {
		json_t *row = json_array();
		for (int c = 0; c < K; c++)
			json_array_append_new(row, json_integer((json_int_t)
			                      cm->confusion[r * K + c]));
		json_array_append_new(conf, row);
		json_array_append_new(classes, json_string(j->classes[r]));
		json_array_append_new(support, json_integer((json_int_t)cm->support[r]));
	}
	json_t *o = json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o,s:o,s:o,s:o,s:o}",
		"task", "classification", "rows", (json_int_t)n,
		"accuracy", cm->accuracy, "balanced_accuracy", cm->balanced_accuracy,
		"macro_precision", cm->macro_precision, "macro_recall", cm->macro_recall,
		"macro_f1", cm->macro_f1, "log_loss", cm->log_loss,
		"classes", classes, "support", support,
		"precision", mlp_json_reals(cm->precision, (size_t)K),
		"recall", mlp_json_reals(cm->recall, (size_t)K),
		"f1", mlp_json_reals(cm->f1, (size_t)K), "confusion", conf);
	/* Undefined when a class is absent from the data: say so as null. */
	json_object_set_new(o, "roc_auc", cm->has_roc_auc ? json_real(cm->roc_auc) :
	                    json_null());
	ml_class_metrics_free(cm);
	return o;
}

static int
predict_reg_metrics(const struct predict_all *a, json_t **out, char **err)
{
	double mae, rmse, r2;
	int rc = ml_mae(a->t, a->value, a->n, &mae, err);
	if (rc == 0)
		rc = ml_rmse(a->t, a->value, a->n, &rmse, err);
	if (rc != 0)
		return rc;
	json_t *o = json_pack("{s:s,s:I,s:f,s:f}", "task", "regression", "rows",
	                      (json_int_t)a->n, "mae", mae, "rmse", rmse);
	/* R^2 of a constant target is undefined: null rather than a failure. */
	char *r2err = NULL;
	json_object_set_new(o, "r2", ml_r2(a->t, a->value, a->n, &r2, &r2err) == 0 ?
	                    json_real(r2) : json_null());
	free(r2err);
	*out = o;
	return 0;
}

/* Put the model's features in the model's order: the map tasks load the
 * columns in DS's order, and the model's coefficients follow its own. */
static int
predict_order_features(struct mlp_dataset *ds, const struct predict_job *j,
                       char **err)
{
	if (ds->d != j->d)
		return ml_seterr(err, -EINVAL, "the model has %zu features, the dataset "
		               "gave %zu of them (is one the dataset's label?)", j->d,
		               ds->d);
	for (size_t i = 0; i < j->d; i++) {
		size_t k = i;
		while (k < ds->d && strcmp(ds->features[k], j->features[i]) != 0)
			k++;
		if (k == ds->d)     /* the schema check said it is there */
			return ml_seterr(err, -EINVAL, "the dataset has no feature '%s'",
			               j->features[i]);
		char *tmp = ds->features[i];
		ds->features[i] = ds->features[k];
		ds->features[k] = tmp;
		tmp = ds->levels[i];
		ds->levels[i] = ds->levels[k];
		ds->levels[k] = tmp;
	}
	return 0;
}

/* The model has no use for the dataset's label: drop it so that the map
 * tasks do not load it. */
static void
predict_drop_label(struct mlp_dataset *ds)
{
	for (int k = 0; k < ds->nclasses; k++)
		free(ds->classes[k]);
	ds->nclasses = 0;
	free(ds->label);
	ds->label = NULL;
	ds->label_categorical = 0;
}

static int
predict_run(kiln_task *t, const struct kiln_host *h)
{
	struct predict_job j = { 0 };
	struct mlp_dataset ds = { 0 };
	struct predict_all a = { 0 };
	char *err = NULL;
	double t0 = mlp_now_ms();
	int rc = predict_prepare(t, h, &j, &err);
	char *flist = NULL;
	size_t flen = 0;
	if (rc == 0) {
		FILE *f = open_memstream(&flist, &flen);
		for (size_t i = 0; f != NULL && i < j.d; i++)
			fprintf(f, "%s%s", i ? "," : "", j.features[i]);
		if (f != NULL)
			fclose(f);
		rc = mlp_dataset_open(t, h, j.use_label ? j.label : NULL, 0, flist,
		                      NULL, &ds, &err);
	}
	free(flist);
	if (rc == 0 && !j.use_label)
		predict_drop_label(&ds);
	if (rc == 0)
		rc = predict_order_features(&ds, &j, &err);
	/* The training's imputation (the model plugins' dataset.impute, the
	 * benchmark's impute): its fills, fitted on the training rows, take
	 * the place of missing values here too. */
	if (rc == 0) {
		const json_t *imp = json_object_get(j.mdataset, "impute");
		rc = mlp_impute_from_json(&ds, imp ? imp :
		                          json_object_get(j.file, "impute"), &err);
	}

	/* Small enough for every row to come back in the map results (1 MiB
	 * each): predictions.csv as well, and every metric (ROC AUC needs
	 * all rows at once).  Else the partitions' files and metrics from
	 * sufficient statistics. */
	int64_t inline_cells = h->param_int(t, "inline_rows", PREDICT_INLINE_CELLS);
	size_t per = ds.nparts > 0 ? (ds.rows + (size_t)ds.nparts - 1) /
	             (size_t)ds.nparts : 0;
	int inl = (double)per * (j.m.kind == PK_CLASSIFY ? j.m.nclasses : 1) <=
	          (double)inline_cells;
	json_t **res = NULL;
	if (rc == 0) {
		json_t *b = json_pack("{s:s,s:O,s:b}", "type", j.type, "model",
		                      json_object_get(j.file, "model"), "inline", inl);
		json_t *sc = json_object_get(j.file, "scaler");
		if (sc != NULL && !json_is_null(sc))
			json_object_set(b, "scaler", sc);
		char *hd = NULL;
		size_t hl = 0;
		FILE *f = open_memstream(&hd, &hl);
		if (f != NULL) {
			predict_csv_header(&j, f);
			fclose(f);
		}
		json_object_set_new(b, "header", json_string(hd ? hd : ""));
		free(hd);
		json_t *cl = json_array(), *ymap = json_array();
		for (int k = 0; j.m.kind == PK_CLASSIFY && k < j.m.nclasses; k++)
			json_array_append_new(cl, json_string(j.classes[k]));
		for (int c = 0; j.use_label && j.m.kind == PK_CLASSIFY &&
		     c < ds.nclasses; c++) {
			int k = 0;
			while (k < j.m.nclasses && strcmp(ds.classes[c], j.classes[k]) != 0)
				k++;
			json_array_append_new(ymap, json_integer(k < j.m.nclasses ? k : -1));
		}
		json_object_set_new(b, "classes", cl);
		json_object_set_new(b, "ymap", ymap);
		rc = mlp_stage_parts(t, h, "predict", &ds, b, &res, &err);
		json_decref(b);
	}
	json_t *counts = NULL, *metrics = NULL;
	char *csv = NULL;
	if (rc == 0 && inl) {
		rc = predict_gather(res, ds.nparts, ds.rows, &j, &a, &err);
		if (rc == 0) {
			csv = predict_csv(&j, &a, &counts);
			if (csv == NULL)
				rc = ml_seterr(&err, -ENOMEM, "out of memory writing "
				               "predictions.csv");
		}
		if (rc == 0 && h->output(t, "predictions.csv", csv, strlen(csv)) != 0)
			rc = ml_seterr(&err, -EIO, "cannot store predictions.csv");
	} else if (rc == 0) {
		rc = predict_sums(res, &ds, &j, &a, &counts, &metrics, &err);
	}
	mlp_results_free(res, ds.nparts);
	free(csv);

	char *merr = NULL;
	if (rc == 0 && j.use_label && inl) {
		int mrc = j.m.kind == PK_CLASSIFY ?
		          predict_class_metrics(&j, &ds, &a, &metrics, &merr) :
		          predict_reg_metrics(&a, &metrics, &merr);
		if (mrc != 0) {
			free(j.no_metrics);
			j.no_metrics = merr;
			merr = NULL;
		}
	}
	free(merr);
	if (rc == 0 && metrics != NULL && mlp_output_json(t, h, "metrics.json", metrics) != 0)
		rc = ml_seterr(&err, -EIO, "cannot store metrics.json");
	if (rc != 0) {
		json_decref(metrics);
		json_decref(counts);
		predict_all_free(&a);
		mlp_dataset_free(&ds);
		predict_job_free(&j);
		return mlp_fail(t, h, rc, err);
	}
	json_t *result = json_pack("{s:s,s:s,s:I,s:i,s:s,s:o,s:o,s:f}",
		"model", j.type, "task", j.m.kind == PK_CLASSIFY ? "classification" :
		j.m.kind == PK_REGRESS ? "regression" : "clustering",
		"rows", (json_int_t)a.n, "partitions", ds.nparts,
		"predictions", inl ? "predictions.csv" : "predictions-NNNNN.csv",
		"predicted_counts", counts ? counts : json_null(),
		"metrics", metrics ? metrics : json_null(),
		"predict_ms", mlp_now_ms() - t0);
	if (j.m.kind == PK_CLUSTER)
		json_object_set_new(result, "inertia", json_real(a.inertia));
	if (j.no_metrics != NULL) {
		json_object_set_new(result, "metrics_skipped", json_string(j.no_metrics));
		h->log(t, KILN_LOG_WARN, "predict: no metrics: %s", j.no_metrics);
	}
	predict_all_free(&a);
	mlp_dataset_free(&ds);
	predict_job_free(&j);
	return mlp_result(t, h, result, NULL);
}

MLP_PLUGIN("predict",
           "apply a saved model (logreg, naive_bayes, linreg, forest, kmeans) to a dataset and evaluate it",
           predict_params, predict_run, predict_map);
