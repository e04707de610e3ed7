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
 * ar; default ar), season (default: from the time's frequency, else 1),
 * damped (false), p (AR order, -1: by AIC up to max_p), max_p (10),
 * horizon (10), tasks (default one per series, at most 8), impute (how
 * to fill a series' missing values, ml_impute.h: linear, ffill, ...;
 * without it a missing value is an error naming its CSV line).
 *
 * The time column (a time column of ingest's, or plain numbers such as a
 * year) must be in order with one constant step: the driver reads it and
 * infers the frequency (kdate.h: daily, weekly, monthly, quarterly,
 * yearly, hourly, or a fixed step); a missing, repeated, earlier or
 * irregular time is an error naming its CSV line.  The frequency gives
 * the default season (12 monthly, 4 quarterly, 52 weekly, 7 daily, 24
 * hourly) and continues the time for the forecast.
 *
 * Outputs: forecasts.csv (the time continued - dates for a time column -
 * or the step number 1..h, then one column per series) and model.json
 * ({"type":"forecast","dataset":...,"models":{series: model}}).
 * Result: {"series": {name: {method, params, sse, forecast}}, "time":
 * {"column", "frequency", "step", "season", "forecast": [times]} (with a
 * time column), fit_ms, ...}.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"
#include "kdate/kdate.h"
#include "ml/ml_forecast.h"
#include "ml/ml_impute.h"
#include "ml/mlplug.h"

#define FC_MAX_HORIZON 1000000
#define FC_DEFAULT_TASKS 8

static const struct kiln_param fc_params[] = {
	{ "columns", "string", "", "comma-separated series columns (default: every numeric column but `time`)" },
	{ "time", "string", "", "the time column (e.g. year), continued for the forecast rows" },
	{ "method", "string", "ar", "seasonal_naive, ses, holt, holt_winters_add, holt_winters_mul or ar" },
	{ "season", "int", "", "season length m (seasonal_naive, holt_winters_*; default: from the time's frequency, e.g. 12 monthly, else 1)" },
	{ "damped", "bool", "false", "damped trend (holt, holt_winters_*)" },
	{ "p", "int", "-1", "AR order; -1 chooses it by AIC" },
	{ "max_p", "int", "10", "largest AR order tried when p = -1" },
	{ "horizon", "int", "10", "values to forecast" },
	{ "tasks", "int", "", "map tasks (default: one per series, at most 8)" },
	{ "impute", "string", "", "fill missing values of the series: linear, ffill, mean, median, most_frequent or constant[:V], for all or per column (`a=linear,*=ffill`)" },
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
 * Series COL (NAME) of MX into *Y (reallocated, the caller frees), its
 * missing values filled by IMP[COL] (*FILLED counts them); without a
 * method a missing value is an error naming its CSV line.
 */
static int
fc_series_values(const struct mlp_dataset *ds, const struct mlp_matrix *mx,
                 size_t col, const char *name, const struct ml_impute_spec *imp,
                 double **y, size_t *filled, char **err)
{
	double *v = realloc(*y, (mx->n + 1) * sizeof *v);
	if (v == NULL)
		return ml_seterr(err, -ENOMEM, "out of memory");
	*y = v;
	memcpy(v, mx->X[col], mx->n * sizeof *v);
	char where[256];
	*filled = 0;
	for (size_t r = 0; r < mx->n; r++) {
		if (isnan(v[r]) && imp[col].method != ML_IMP_NONE) {
			(*filled)++;
			continue;
		}
		if (!isfinite(v[r]))
			return ml_seterr(err, -EINVAL, "%s: series '%s' is %s: set "
			                 "`impute` (linear or ffill, or mean, median, "
			                 "most_frequent, constant) or fill it in the CSV",
			                 mlp_row_where(ds, r, where, sizeof where), name,
			                 isnan(v[r]) ? "missing" : "infinite");
	}
	int rc = *filled > 0 ? ml_impute_series(v, mx->n, &imp[col], err) : 0;
	if (rc != 0)
		return ml_seterr(err, rc, "series '%s': %s", name, *err ? *err : "");
	return 0;
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
	double *fc = calloc((size_t)hz + 1, sizeof *fc), *y = NULL;
	struct ml_impute_spec *imp = calloc(mx.d + 1, sizeof *imp);
	if (rc == 0)
		rc = mlp_impute_specs(json_string_value(json_object_get(b, "impute")),
		                      &ds, imp, err);
	for (size_t j = (size_t)task; rc == 0 && j < json_array_size(series);
	     j += (size_t)ntasks) {
		json_t *sj = json_array_get(series, j);
		const char *name = json_string_value(json_object_get(sj, "name"));
		json_int_t col = json_integer_value(json_object_get(sj, "col"));
		if (col < 0 || (size_t)col >= mx.d || name == NULL) {
			rc = ml_seterr(err, -EINVAL, "forecast: bad series %zu", j);
			break;
		}
		size_t filled = 0;
		rc = fc_series_values(&ds, &mx, (size_t)col, name, imp, &y, &filled, err);
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
		json_array_append_new(fits, json_pack("{s:I,s:o,s:o,s:f,s:f,s:I}",
			"index", (json_int_t)j, "model", mj, "forecast", fa,
			"sse", mod.sse, "ms", mlp_now_ms() - t0,
			"imputed", (json_int_t)filled));
		ml_forecast_free(&mod);
	}
	if (rc == 0) {
		*out = json_pack("{s:o}", "fits", fits);
	} else {
		json_decref(fits);
	}
	free(fc);
	free(y);
	free(imp);
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
	int season_set;         /* season given: no default from the time */
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
	const char *ss = h->param(t, "season");
	c->season_set = ss != NULL && *ss != '\0';
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

/* ------------------------------------------------------------ time */

/* The time column as the driver reads it. */
struct fc_time {
	const char *unit;       /* "date" or "datetime" (a time column), or
	                         * NULL (plain numbers) */
	struct kdate_freq f;
	double last;            /* the last time */
};

/* T as the time column writes it: a date, a date-time or a number. */
static void
fc_time_text(const struct fc_time *tm, double t, char *buf, size_t len)
{
	if (tm->unit != NULL)
		kdate_format(t, strcmp(tm->unit, "date") == 0, buf, len);
	else
		snprintf(buf, len, "%.15g", t);
}

/* Why time V (row R of TV) cannot continue the series, in user terms. */
static int
fc_time_error(const struct mlp_dataset *ds, const char *name,
              const struct fc_time *tm, const double *tv, size_t r, int why,
              char **err)
{
	char where[256], v[48], prev[48], want[48];
	mlp_row_where(ds, r, where, sizeof where);
	fc_time_text(tm, tv[r], v, sizeof v);
	if (r > 0) {
		fc_time_text(tm, tv[r - 1], prev, sizeof prev);
		fc_time_text(tm, kdate_freq_next(&tm->f, tv[r - 1], 1), want,
		             sizeof want);
	}
	switch (why) {
	case KDATE_MISSING:
		return ml_seterr(err, -EINVAL, "%s: the time column '%s' is missing "
		                 "a value: every row needs its time", where, name);
	case KDATE_DUPLICATE:
		return ml_seterr(err, -EINVAL, "%s: the time column '%s' repeats %s "
		                 "from the row before: one row per time (aggregate "
		                 "the duplicates first)", where, name, v);
	case KDATE_EARLIER:
		return ml_seterr(err, -EINVAL, "%s: the time column '%s' goes back "
		                 "from %s to %s: sort the CSV by time", where, name,
		                 prev, v);
	case KDATE_IRREGULAR:
		return ml_seterr(err, -EINVAL, "%s: the time column '%s' is "
		                 "irregular: %s follows %s where the step of the "
		                 "rows before gives %s (fill in the missing times)",
		                 where, name, v, prev, want);
	default:
		return ml_seterr(err, -EINVAL, "the time column '%s' needs at least "
		                 "2 rows to tell a frequency", name);
	}
}

/*
 * Read the time column NAME (feature J of DS) of every partition and
 * infer its frequency into *TM.  0, or -EINVAL naming the CSV line of the
 * first time that breaks it.
 */
static int
fc_time_read(kiln_task *t, const struct kiln_host *h,
             const struct mlp_dataset *ds, const char *name, size_t j,
             struct fc_time *tm, char **err)
{
	struct mlp_dataset tds;
	struct mlp_matrix mx = { 0 };
	tm->unit = mlp_time_unit(ds, j);
	int rc = mlp_dataset_open(t, h, NULL, 0, name, NULL, &tds, err);
	if (rc == 0)
		rc = mlp_matrix_load(t, h, &tds, &mx, err);
	if (rc == 0) {
		size_t bad;
		int why = kdate_freq_infer(mx.X[0], mx.n, tm->unit != NULL, &tm->f,
		                           &bad);
		if (why != 0)
			rc = fc_time_error(ds, name, tm, mx.X[0], bad, why, err);
		else
			tm->last = mx.X[0][mx.n - 1];
	}
	mlp_matrix_free(&mx);
	mlp_dataset_free(&tds);
	return rc;
}

/* The time of forecast step K (from 1), as text. */
static void
fc_step_text(const struct fc_conf *c, const struct fc_time *tm, size_t k,
             char *buf, size_t len)
{
	if (c->time != NULL)
		fc_time_text(tm, kdate_freq_next(&tm->f, tm->last, k), buf, len);
	else
		snprintf(buf, len, "%zu", k);
}

/* The result's "time": the frequency found and the forecast's times. */
static json_t *
fc_time_json(const struct fc_conf *c, const struct fc_time *tm)
{
	json_t *ts = json_array();
	char buf[48];
	for (size_t k = 1; k <= (size_t)c->horizon; k++) {
		fc_step_text(c, tm, k, buf, sizeof buf);
		json_array_append_new(ts, tm->unit ? json_string(buf) :
		                      json_real(strtod(buf, NULL)));
	}
	return json_pack("{s:s,s:s,s:s,s:f,s:s,s:i,s:o}", "column", c->time,
	                 "type", tm->unit ? tm->unit : "number",
	                 "frequency", tm->f.name, "step", tm->f.step,
	                 "step_unit", tm->f.months ? "months" : tm->unit ?
	                 "seconds" : "number", "season", c->spec.m,
	                 "forecast", ts);
}

/* forecasts.csv: time (or step), then one column per series. */
static char *
fc_csv(const struct fc_conf *c, json_t *series, json_t *const *fcs,
       const struct fc_time *tm, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (f == NULL)
		return NULL;
	mlp_csv_field(f, c->time != NULL ? c->time : "step");
	for (size_t j = 0; j < json_array_size(series); j++) {
		fputc(',', f);
		mlp_csv_field(f, json_string_value(json_object_get(
		              json_array_get(series, j), "name")));
	}
	fputc('\n', f);
	char tb[48];
	for (size_t k = 0; k < (size_t)c->horizon; k++) {
		fc_step_text(c, tm, k + 1, tb, sizeof tb);
		fputs(tb, f);
		for (size_t j = 0; j < json_array_size(series); j++)
			fprintf(f, ",%.17g", json_number_value(json_array_get(fcs[j], k)));
		fputc('\n', f);
	}
	fclose(f);
	return buf;
}

/*
 * The dataset: the series columns and the time column.  A time column of
 * ingest's is a feature only when named, so without `columns` the
 * numeric columns are found first, then asked for with the time.
 */
static int
fc_open(kiln_task *t, const struct kiln_host *h, const struct fc_conf *c,
        struct mlp_dataset *ds, char **err)
{
	char *want = NULL;
	int rc = 0;
	if (c->time != NULL && c->columns == NULL) {
		rc = mlp_dataset_open(t, h, NULL, 0, NULL, c->time, ds, err);
		if (rc != 0 && ds->features == NULL && c->time != NULL) {
			/* only the time and no other feature: say what is wrong */
			free(*err);
			*err = NULL;
			mlp_dataset_free(ds);
			rc = mlp_dataset_open(t, h, NULL, 0, c->time, NULL, ds, err);
			if (rc == 0)
				rc = ml_seterr(err, -EINVAL, "no numeric series "
				               "columns to forecast");
			return rc;
		}
		size_t len = strlen(c->time) + 1;
		for (size_t j = 0; rc == 0 && j < ds->d; j++)
			len += strlen(ds->features[j]) + 1;
		if (rc == 0 && (want = malloc(len)) != NULL) {
			strcpy(want, c->time);
			for (size_t j = 0; j < ds->d; j++)
				strcat(strcat(want, ","), ds->features[j]);
		}
		mlp_dataset_free(ds);
		if (rc != 0)
			return rc;
	} else if (c->columns != NULL && c->time != NULL &&
	           asprintf(&want, "%s,%s", c->columns, c->time) < 0) {
		want = NULL;
	}
	rc = mlp_dataset_open(t, h, NULL, 0, want ? want : c->columns, NULL, ds,
	                      err);
	free(want);
	return rc;
}

/* Before the stage: `impute` checked (a bad one fails here, not in every
 * map task), the time column read, and the season its frequency suggests
 * for the seasonal methods when `season` is not given. */
static int
fc_prepare(kiln_task *t, const struct kiln_host *h, struct fc_conf *c,
           const struct mlp_dataset *ds, int time_col, struct fc_time *tm,
           char **err)
{
	struct ml_impute_spec *imp = calloc(ds->d + 1, sizeof *imp);
	int rc = mlp_impute_specs(h->param(t, "impute"), ds, imp, err);
	free(imp);
	if (rc == 0 && time_col >= 0)
		rc = fc_time_read(t, h, ds, c->time, (size_t)time_col, tm, err);
	if (rc == 0 && time_col >= 0 && !c->season_set &&
	    (c->spec.method == ML_FC_SNAIVE || c->spec.method == ML_FC_HW_ADD ||
	     c->spec.method == ML_FC_HW_MUL))
		c->spec.m = tm->f.season;
	return rc;
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
	rc = fc_open(t, h, &c, &ds, &err);
	if (rc == 0)
		rc = mlp_numeric_only(&ds, &err);
	json_t *series = NULL;
	int time_col = -1;
	if (rc == 0)
		rc = fc_series(&ds, &c, &series, &time_col, &err);
	struct fc_time tm = { 0 };
	if (rc == 0)
		rc = fc_prepare(t, h, &c, &ds, time_col, &tm, &err);
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
	const char *impute = h->param(t, "impute");
	json_t *b = json_pack("{s:{s:i,s:i,s:b,s:i,s:i},s:I,s:i,s:O,s:s?}",
		"spec", "method", c.spec.method, "m", c.spec.m, "damped",
		c.spec.damped, "p", c.spec.p, "max_p", c.spec.max_p,
		"horizon", (json_int_t)c.horizon, "tasks", ntasks,
		"series", series, "impute", impute && *impute ? impute : NULL);
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
		json_object_set_new(out, name, json_pack("{s:O,s:o,s:O,s:O,s:O}",
			"method", json_object_get(mj, "method"),
			"params", fc_small_params(mj),
			"sse", json_object_get(fit, "sse"),
			"imputed", json_object_get(fit, "imputed"),
			"forecast", fcs[j]));
	}
	json_t *file = NULL, *result = NULL;
	char *csv = NULL;
	size_t csvlen = 0;
	if (rc == 0) {
		csv = fc_csv(&c, series, fcs, &tm, &csvlen);
		file = json_pack("{s:s,s:o,s:s?,s:O}", "type", "forecast",
		                 "dataset", mlp_dataset_json(&ds), "time", c.time,
		                 "models", models);
		result = json_pack("{s:s,s:o,s:I,s:i,s:I,s:f,s:f}",
			"model", "forecast", "series", out,
			"horizon", (json_int_t)c.horizon, "tasks", ntasks,
			"rows", (json_int_t)ds.rows, "stage_ms", stage_ms,
			"fit_ms", mlp_now_ms() - t0);
		out = NULL;
		if (c.time != NULL)
			json_object_set_new(result, "time", fc_time_json(&c, &tm));
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
