/* SPDX-License-Identifier: MIT */
/*
 * forecast.c - the bundled 'forecast' plugin: fits a forecasting model
 * (lib/ml/ml_forecast.h: seasonal naive, exponential smoothing,
 * Holt(-Winters), AR) to each of one or many series of a dataset made by
 * `ingest`, and forecasts each `horizon` steps ahead.
 *
 * A series is one numeric column, in row order (ingest keeps the CSV's
 * order across partitions).  The series are independent, so the driver
 * (run) spreads them over `tasks` map tasks of one stage: series j goes to
 * map task j % tasks, which loads the series columns of every partition
 * and fits its share.  The driver merges the answers in series order, so
 * the outputs do not depend on how many tasks there were.
 *
 * Parameters: columns (comma list; default every numeric column but the
 * time column), time (optional time column), method (seasonal_naive /
 * snaive, ses, holt, holt_winters_add / hw_add, holt_winters_mul / hw_mul,
 * ar; default ar), season (1), damped (false), p (AR order, -1: by AIC up
 * to max_p), max_p (10), horizon (10), tasks (default one per series, at
 * most 8).
 * Outputs: forecasts.csv (the time - continued when it has a constant
 * step - or the step number 1..h, then one column per series) and
 * model.json ({"type":"forecast","dataset":...,"models":{series: model}}).
 * Result: {"series": {name: {method, params, sse, forecast}}, fit_ms, ...}.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "ml/ml_forecast.h"
#include "ml/mlplug.h"

#define FC_MAX_HORIZON 1000000
#define FC_DEFAULT_TASKS 8

static const struct kiln_param fc_params[] = {
	{ "columns", "string", "", "comma-separated series columns (default: every numeric column but `time`)" },
	{ "time", "string", "", "the time column (e.g. year), continued for the forecast rows" },
	{ "method", "string", "ar", "seasonal_naive, ses, holt, holt_winters_add, holt_winters_mul or ar" },
	{ "season", "int", "1", "season length m (seasonal_naive, holt_winters_*)" },
	{ "damped", "bool", "false", "damped trend (holt, holt_winters_*)" },
	{ "p", "int", "-1", "AR order; -1 chooses it by AIC" },
	{ "max_p", "int", "10", "largest AR order tried when p = -1" },
	{ "horizon", "int", "10", "values to forecast" },
	{ "tasks", "int", "", "map tasks (default: one per series, at most 8)" },
	{ NULL, NULL, NULL, NULL },
};

/* Long names users write, mapped onto the library's short ones. */
static const struct {
	const char *alias, *name;
} fc_aliases[] = {
	{ "seasonal_naive", "snaive" },
	{ "naive", "snaive" },
	{ "holt_winters_add", "hw_add" },
	{ "holt_winters_mul", "hw_mul" },
	{ "exponential_smoothing", "ses" },
};

static int
fc_method_parse(const char *s)
{
	for (size_t i = 0; s != NULL && i < sizeof fc_aliases / sizeof fc_aliases[0]; i++)
		if (strcmp(s, fc_aliases[i].alias) == 0)
			s = fc_aliases[i].name;
	return ml_forecast_method_parse(s);
}

static int
fc_bool(const char *s)
{
	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
	                     strcmp(s, "yes") == 0);
}

static int
fc_feature_index(const struct mlp_dataset *ds, const char *name)
{
	for (size_t j = 0; j < ds->d; j++)
		if (strcmp(ds->features[j], name) == 0)
			return (int)j;
	return -1;
}

/*
 * The model's parameters as the result shows them: the smoothing
 * parameters or the AR coefficients, not the states (which can be long).
 */
static json_t *
fc_small_params(const json_t *model)
{
	static const char *const keys[] = { "alpha", "beta", "gamma", "phi",
	                                    "p", "coef", "m" };
	const char *meth = json_string_value(json_object_get(model, "method"));
	int smoothing = meth && strcmp(meth, "ar") != 0 && strcmp(meth, "snaive") != 0;
	json_t *o = json_object();
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *v = json_object_get(model, keys[i]);
		if (v == NULL)
			continue;
		/* m is noise for the non-seasonal smoothing methods */
		if (strcmp(keys[i], "m") == 0 && smoothing &&
		    strncmp(meth, "hw_", 3) != 0)
			continue;
		json_object_set(o, keys[i], v);
	}
	return o;
}

/*
 * The time column continued H steps when its step is constant (within a
 * rounding error), as {"last":x,"step":s}; json null otherwise.
 */
static json_t *
fc_time_info(const double *tv, size_t n)
{
	if (n < 2)
		return json_null();
	double step = tv[1] - tv[0];
	if (!isfinite(step) || step == 0)
		return json_null();
	for (size_t i = 1; i < n; i++) {
		double d = tv[i] - tv[i - 1];
		if (!isfinite(d) || fabs(d - step) > 1e-9 * fmax(fabs(step), fabs(tv[i])))
			return json_null();
	}
	return json_pack("{s:f,s:f}", "last", tv[n - 1], "step", step);
}

/*
 * Map side: fit the series of broadcast "series" (feature indices) whose
 * position j has j % tasks == this task's index.
 */
static int
fc_map_fit(kiln_task *t, const struct kiln_host *h, json_t **out, char **err)
{
	struct mlp_dataset ds;
	struct mlp_matrix mx = { 0 };
	int rc = mlp_map_dataset(t, h, &ds, err);
	if (rc == 0)
		rc = mlp_matrix_load(t, h, &ds, &mx, err);
	json_t *b = mlp_broadcast(t, h), *arg = mlp_arg(t, h);
	/* The horizon sizes the forecast buffer: as bounded as the driver's. */
	int64_t ntasks = 1, task = 0, hz = 1;
	if (rc == 0)
		rc = mlp_json_range(json_object_get(b, "tasks"), 1, INT_MAX, &ntasks,
		                    err, "forecast: the broadcast's tasks");
	if (rc == 0)
		rc = mlp_json_range(json_object_get(arg, "task"), 0, ntasks - 1, &task,
		                    err, "forecast: map argument task");
	if (rc == 0)
		rc = mlp_json_range(json_object_get(b, "horizon"), 1, FC_MAX_HORIZON,
		                    &hz, err, "forecast: the broadcast's horizon");
	json_t *series = json_object_get(b, "series");
	json_t *spj = json_object_get(b, "spec");
	struct ml_fc_spec spec;
	ml_forecast_spec_init(&spec, (int)json_integer_value(json_object_get(spj, "method")));
	spec.m = (int)json_integer_value(json_object_get(spj, "m"));
	spec.damped = json_is_true(json_object_get(spj, "damped"));
	spec.p = (int)json_integer_value(json_object_get(spj, "p"));
	spec.max_p = (int)json_integer_value(json_object_get(spj, "max_p"));
	if (rc == 0 && !json_is_array(series))
		rc = ml_seterr(err, -EINVAL, "forecast: bad stage broadcast or argument");
	json_t *fits = json_array();
	double *fc = calloc((size_t)hz + 1, sizeof *fc);
	for (size_t j = (size_t)task; rc == 0 && j < json_array_size(series);
	     j += (size_t)ntasks) {
		json_t *sj = json_array_get(series, j);
		const char *name = json_string_value(json_object_get(sj, "name"));
		json_int_t col = json_integer_value(json_object_get(sj, "col"));
		if (col < 0 || (size_t)col >= mx.d || name == NULL) {
			rc = ml_seterr(err, -EINVAL, "forecast: bad series %zu", j);
			break;
		}
		const double *y = mx.X[col];
		for (size_t r = 0; r < mx.n; r++)
			if (!isfinite(y[r])) {
				rc = ml_seterr(err, -EINVAL, "series '%s': row %zu (from 0) "
				             "is missing, NaN or infinite", name, r);
				break;
			}
		if (rc != 0)
			break;
		struct ml_forecast mod;
		char *e = NULL;
		double t0 = mlp_now_ms();
		rc = ml_forecast_fit(y, mx.n, &spec, &mod, &e);
		if (rc == 0)
			rc = ml_forecast_predict(&mod, (size_t)hz, fc, &e);
		if (rc != 0) {
			rc = ml_seterr(err, rc, "series '%s': %s", name, e ? e : "fit failed");
			free(e);
			ml_forecast_free(&mod);
			break;
		}
		json_t *mj = NULL, *fa = json_array();
		ml_forecast_to_json(&mod, &mj);
		for (size_t k = 0; k < (size_t)hz; k++)
			json_array_append_new(fa, json_real(fc[k]));
		json_array_append_new(fits, json_pack("{s:I,s:o,s:o,s:f,s:f}",
			"index", (json_int_t)j, "model", mj, "forecast", fa,
			"sse", mod.sse, "ms", mlp_now_ms() - t0));
		ml_forecast_free(&mod);
	}
	if (rc == 0 && task == 0 && json_is_integer(json_object_get(b, "time_col"))) {
		json_int_t tc = json_integer_value(json_object_get(b, "time_col"));
		json_t *ti = tc >= 0 && (size_t)tc < mx.d ? fc_time_info(mx.X[tc], mx.n)
		                                          : json_null();
		*out = json_pack("{s:o,s:o}", "fits", fits, "time", ti);
	} else if (rc == 0) {
		*out = json_pack("{s:o}", "fits", fits);
	} else {
		json_decref(fits);
	}
	free(fc);
	json_decref(b);
	json_decref(arg);
	mlp_matrix_free(&mx);
	mlp_dataset_free(&ds);
	return rc;
}

static int
fc_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	char *err = NULL;
	json_t *out = NULL;
	int rc;
	if (strcmp(fn, "fit") == 0)
		rc = fc_map_fit(t, h, &out, &err);
	else
		rc = ml_seterr(&err, -EINVAL, "forecast has no map function %s", fn);
	return mlp_done(t, h, rc, out, err);
}

/* Driver settings read from the parameters. */
struct fc_conf {
	struct ml_fc_spec spec;
	long long horizon;
	int tasks;
	const char *columns, *time;
};

static int
fc_conf_read(kiln_task *t, const struct kiln_host *h, struct fc_conf *c,
             char **err)
{
	const char *ms = h->param(t, "method");
	if (ms == NULL || *ms == '\0')
		ms = "ar";
	int meth = fc_method_parse(ms);
	if (meth < 0)
		return ml_seterr(err, -EINVAL, "unknown method '%s' (expected "
		               "seasonal_naive, ses, holt, holt_winters_add, "
		               "holt_winters_mul or ar)", ms);
	ml_forecast_spec_init(&c->spec, meth);
	long long m = (long long)h->param_int(t, "season", 1);
	if (m < 1 || m > ML_FC_MAX_SEASON)
		return ml_seterr(err, -EINVAL, "season must be 1..%d", ML_FC_MAX_SEASON);
	if (meth == ML_FC_SNAIVE || meth == ML_FC_HW_ADD || meth == ML_FC_HW_MUL)
		c->spec.m = (int)m;
	c->spec.damped = fc_bool(h->param(t, "damped"));
	long long p = (long long)h->param_int(t, "p", -1);
	long long maxp = (long long)h->param_int(t, "max_p", 10);
	if (p < -1 || p > ML_FC_MAX_P || maxp < 0 || maxp > ML_FC_MAX_P)
		return ml_seterr(err, -EINVAL, "p must be -1..%d and max_p 0..%d",
		               ML_FC_MAX_P, ML_FC_MAX_P);
	c->spec.p = (int)p;
	c->spec.max_p = (int)maxp;
	c->horizon = (long long)h->param_int(t, "horizon", 10);
	if (c->horizon < 1 || c->horizon > FC_MAX_HORIZON)
		return ml_seterr(err, -EINVAL, "horizon must be 1..%d", FC_MAX_HORIZON);
	c->tasks = (int)h->param_int(t, "tasks", 0);
	if (c->tasks < 0)
		return ml_seterr(err, -EINVAL, "tasks must be positive");
	c->columns = h->param(t, "columns");
	if (c->columns != NULL && *c->columns == '\0')
		c->columns = NULL;
	c->time = h->param(t, "time");
	if (c->time != NULL && *c->time == '\0')
		c->time = NULL;
	return 0;
}

/*
 * The series to fit, as [{"name":..,"col":feature index}] in the order of
 * `columns` (or the dataset's), and the time column's index (-1: none).
 */
static int
fc_series(const struct mlp_dataset *ds, const struct fc_conf *c,
          json_t **series, int *time_col, char **err)
{
	*series = json_array();
	*time_col = -1;
	if (c->time != NULL && (*time_col = fc_feature_index(ds, c->time)) < 0)
		return ml_seterr(err, -EINVAL, "no numeric column '%s' (the time "
		               "column) in the dataset", c->time);
	if (c->columns != NULL) {
		char *list = strdup(c->columns), *save = NULL;
		int rc = 0;
		for (char *s = strtok_r(list, ",", &save); s != NULL && rc == 0;
		     s = strtok_r(NULL, ",", &save)) {
			while (*s == ' ')
				s++;
			size_t len = strlen(s);
			while (len > 0 && s[len - 1] == ' ')
				s[--len] = '\0';
			if (len == 0)
				continue;
			int j = fc_feature_index(ds, s);
			if (j < 0)
				rc = ml_seterr(err, -EINVAL, "no numeric column '%s' in the "
				             "dataset", s);
			else
				json_array_append_new(*series, json_pack("{s:s,s:i}",
				                      "name", s, "col", j));
		}
		free(list);
		if (rc != 0)
			return rc;
	} else {
		for (size_t j = 0; j < ds->d; j++)
			if ((int)j != *time_col)
				json_array_append_new(*series, json_pack("{s:s,s:i}",
				        "name", ds->features[j], "col", (int)j));
	}
	if (json_array_size(*series) == 0)
		return ml_seterr(err, -EINVAL, "no numeric series columns to forecast");
	return 0;
}

/* forecasts.csv: time (or step), then one column per series. */
static char *
fc_csv(const struct fc_conf *c, json_t *series, json_t *const *fcs,
       const json_t *time, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	int cont = json_is_object(time);
	fputs(c->time != NULL && cont ? c->time : "step", f);
	for (size_t j = 0; j < json_array_size(series); j++)
		fprintf(f, ",%s", json_string_value(json_object_get(
		        json_array_get(series, j), "name")));
	fputc('\n', f);
	double last = json_number_value(json_object_get(time, "last"));
	double step = json_number_value(json_object_get(time, "step"));
	for (size_t k = 0; k < (size_t)c->horizon; k++) {
		if (cont)
			fprintf(f, "%.15g", last + step * (double)(k + 1));
		else
			fprintf(f, "%zu", k + 1);
		for (size_t j = 0; j < json_array_size(series); j++)
			fprintf(f, ",%.17g", json_number_value(json_array_get(fcs[j], k)));
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

static int
fc_run(kiln_task *t, const struct kiln_host *h)
{
	double t0 = mlp_now_ms();
	struct fc_conf c;
	struct mlp_dataset ds;
	char *err = NULL;
	memset(&ds, 0, sizeof ds);
	int rc = fc_conf_read(t, h, &c, &err);
	if (rc != 0)
		return mlp_fail(t, h, rc, err);
	/* Ask only for the columns we fit (plus the time): the map tasks
	 * load every feature column of every partition. */
	char *want = NULL;
	if (c.columns != NULL && c.time != NULL && asprintf(&want, "%s,%s",
	    c.columns, c.time) < 0)
		want = NULL;
	rc = mlp_dataset_open(t, h, NULL, 0, want ? want : c.columns, NULL, &ds, &err);
	free(want);
	if (rc == 0)
		rc = mlp_numeric_only(&ds, &err);
	json_t *series = NULL;
	int time_col = -1;
	if (rc == 0)
		rc = fc_series(&ds, &c, &series, &time_col, &err);
	if (rc != 0) {
		json_decref(series);
		mlp_dataset_free(&ds);
		return mlp_fail(t, h, rc, err);
	}
	size_t ns = json_array_size(series);
	int ntasks = c.tasks > 0 ? c.tasks : (ns < FC_DEFAULT_TASKS ? (int)ns
	                                                           : FC_DEFAULT_TASKS);
	if ((size_t)ntasks > ns)
		ntasks = (int)ns;       /* a task without series is waste */
	json_t *b = json_pack("{s:{s:i,s:i,s:b,s:i,s:i},s:I,s:i,s:O,s:i}",
		"spec", "method", c.spec.method, "m", c.spec.m, "damped",
		c.spec.damped, "p", c.spec.p, "max_p", c.spec.max_p,
		"horizon", (json_int_t)c.horizon, "tasks", ntasks,
		"series", series, "time_col", time_col);
	json_t **args = calloc((size_t)ntasks, sizeof *args), **res = NULL;
	for (int i = 0; i < ntasks; i++)
		args[i] = json_pack("{s:i}", "task", i);
	double s0 = mlp_now_ms();
	rc = mlp_stage_tasks(t, h, "fit", &ds, b, args, ntasks, &res, &err);
	double stage_ms = mlp_now_ms() - s0;
	for (int i = 0; i < ntasks; i++)
		json_decref(args[i]);
	free(args);
	json_decref(b);
	if (rc != 0) {
		json_decref(series);
		mlp_dataset_free(&ds);
		return rc == KILN_ECANCELLED ? rc : mlp_fail(t, h, rc, err);
	}
	/* Merge in series order: series j is the (j / ntasks)-th fit of
	 * task j % ntasks. */
	json_t *models = json_object(), *out = json_object();
	json_t **fcs = calloc(ns + 1, sizeof *fcs);
	for (size_t j = 0; j < ns && rc == 0; j++) {
		const char *name = json_string_value(json_object_get(
			json_array_get(series, j), "name"));
		json_t *fit = json_array_get(json_object_get(res[j % (size_t)ntasks],
			"fits"), j / (size_t)ntasks);
		json_t *mj = json_object_get(fit, "model");
		fcs[j] = json_object_get(fit, "forecast");
		if (json_integer_value(json_object_get(fit, "index")) != (json_int_t)j ||
		    !json_is_object(mj) ||
		    json_array_size(fcs[j]) != (size_t)c.horizon) {
			rc = ml_seterr(&err, -EIO, "map task %zu returned no fit for "
			             "series '%s'", j % (size_t)ntasks, name);
			break;
		}
		json_object_set(models, name, mj);
		json_object_set_new(out, name, json_pack("{s:O,s:o,s:O,s:O}",
			"method", json_object_get(mj, "method"),
			"params", fc_small_params(mj),
			"sse", json_object_get(fit, "sse"),
			"forecast", fcs[j]));
	}
	json_t *file = NULL, *result = NULL;
	char *csv = NULL;
	size_t csvlen = 0;
	if (rc == 0) {
		json_t *time = json_object_get(res[0], "time");
		csv = fc_csv(&c, series, fcs, time, &csvlen);
		file = json_pack("{s:s,s:o,s:s?,s:O}", "type", "forecast",
		                 "dataset", mlp_dataset_json(&ds), "time", c.time,
		                 "models", models);
		result = json_pack("{s:s,s:o,s:I,s:i,s:I,s:f,s:f}",
			"model", "forecast", "series", out,
			"horizon", (json_int_t)c.horizon, "tasks", ntasks,
			"rows", (json_int_t)ds.rows, "stage_ms", stage_ms,
			"fit_ms", mlp_now_ms() - t0);
		out = NULL;
		if (csv == NULL)
			rc = ml_seterr(&err, -ENOMEM, "cannot write forecasts.csv");
	}
	json_decref(out);
	json_decref(models);
	free(fcs);
	mlp_results_free(res, ntasks);
	json_decref(series);
	mlp_dataset_free(&ds);
	if (rc == 0 && (h->output(t, "forecasts.csv", csv, csvlen) != 0 ||
	                mlp_output_json(t, h, "model.json", file) != 0))
		rc = ml_seterr(&err, -EIO, "cannot store the outputs");
	free(csv);
	json_decref(file);
	return mlp_done(t, h, rc, result, err);
}

MLP_PLUGIN("forecast",
           "forecasts of one or many series (seasonal naive, exponential smoothing, Holt-Winters, AR), series spread over workers",
           fc_params, fc_run, fc_map);
