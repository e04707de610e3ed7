/* SPDX-License-Identifier: MIT */
/*
 * results.c - what the analytics plugins found, readably: `kiln
 * leaderboard` (a benchmark job's models ranked, as the dashboard's Models
 * page shows them: web/js/models.js), `kiln forecast show`, and a job's
 * result as indented "key: value" lines for `kiln job` (numbers to four
 * significant digits, long arrays cut short).  --json and --csv give the
 * master's JSON and the job's own CSV output unchanged, for scripts.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "out.h"
#include "xalloc.h"

#define CLI_ARRAY_SHOWN 8       /* items of a long array shown */
#define CLI_ARRAY_LONG  10      /* from this many items an array is cut */

struct table_opts {
	int csv;
};

/* ====================================================== JSON, readably */

/* A scalar as text in BUF (or a constant). */
static const char *
cli_scalar(const json_t *v, char buf[32])
{
	if (json_is_integer(v)) {
		snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_real(v))
		return cli_fmt_num(json_real_value(v), buf);
	if (json_is_string(v))
		return json_string_value(v);
	return json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null";
}

static int
cli_all_scalars(const json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_object(v) || json_is_array(v))
			return 0;
	return 1;
}

/* "[a, b, c]", or the first CLI_ARRAY_SHOWN and "... (N more)"; caller
 * frees. */
static char *
cli_inline_array(const json_t *a)
{
	size_t n = json_array_size(a);
	size_t shown = n >= CLI_ARRAY_LONG ? CLI_ARRAY_SHOWN : n;
	char *s = xstrdup("["), buf[32];

	for (size_t i = 0; i < shown; i++) {
		char *t = xasprintf("%s%s%s", s, i ? ", " : "",
		                    cli_scalar(json_array_get(a, i), buf));
		free(s);
		s = t;
	}
	char *t = shown < n ? xasprintf("%s, ... (%zu more)]", s, n - shown) :
	          xasprintf("%s]", s);
	free(s);
	return t;
}

static void
cli_key(int indent, const char *key)
{
	printf("%*s", indent, "");
	cli_write_text(stdout, key, strlen(key));
	fputs(":", stdout);
}

/* V under KEY at INDENT: scalars and arrays of them on one line, objects
 * and arrays of objects as nested lines. */
static void
cli_tree(int indent, const char *key, const json_t *v)
{
	char buf[32];
	const char *k;
	json_t *m;
	size_t i;

	cli_key(indent, key);
	if (json_is_object(v)) {
		putchar(json_object_size(v) == 0 ? ' ' : '\n');
		if (json_object_size(v) == 0)
			puts("{}");
		json_object_foreach((json_t *)v, k, m)
			cli_tree(indent + 2, k, m);
	} else if (json_is_array(v) && cli_all_scalars(v)) {
		char *s = cli_inline_array(v);
		putchar(' ');
		cli_write_text(stdout, s, strlen(s));
		putchar('\n');
		free(s);
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v);
		size_t shown = n >= CLI_ARRAY_LONG ? CLI_ARRAY_SHOWN : n;
		putchar('\n');
		for (i = 0; i < shown; i++) {
			char idx[32];
			snprintf(idx, sizeof idx, "[%zu]", i);
			cli_tree(indent + 2, idx, json_array_get(v, i));
		}
		if (shown < n)
			printf("%*s... (%zu more)\n", indent + 2, "", n - shown);
	} else {
		const char *s = cli_scalar(v, buf);
		putchar(' ');
		cli_write_text(stdout, s, strlen(s));
		putchar('\n');
	}
}

/* ========================================================= leaderboards */

/* Is R a leaderboard: models (each with a name) and a primary metric?
 * (What web/js/models.js asks too.) */
int
cli_is_leaderboard(const json_t *r)
{
	json_t *m, *models = json_object_get(r, "models");
	size_t i;

	if (!json_is_array(models) || json_array_size(models) == 0 ||
	    cli_jstr(r, "primary", NULL) == NULL)
		return 0;
	json_array_foreach(models, i, m)
		if (!json_is_string(json_object_get(m, "model")))
			return 0;
	return 1;
}

/* Decimals that suit a value's size, as the dashboard: scores near 1 get
 * four, errors in the tens two. */
static int
cli_decimals(double x)
{
	double a = fabs(x);

	return a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4;
}

static const char *
cli_fmt_ms(double ms, char buf[32])
{
	if (ms < 1)
		snprintf(buf, 32, "%.2fms", ms);
	else if (ms < 1000)
		snprintf(buf, 32, "%.*fms", ms < 10 ? 1 : 0, ms);
	else
		snprintf(buf, 32, "%.*fs", ms < 10000 ? 2 : 1, ms / 1000);
	return buf;
}

/* MODEL's metric NAME as "mean ± std", or "-". */
static char *
cli_metric_cell(const json_t *model, const char *name)
{
	json_t *v = json_object_get(json_object_get(model, "metrics"), name);
	json_t *mean = json_object_get(v, "mean"), *std = json_object_get(v, "std");

	if (!json_is_number(mean))
		return xstrdup("-");
	double mv = json_number_value(mean);
	int d = cli_decimals(mv);
	if (!json_is_number(std))
		return xasprintf("%.*f", d, mv);
	return xasprintf("%.*f ± %.*f", d, mv, d, json_number_value(std));
}

/* A model's params as "k=v, k=v"; caller frees. */
static char *
cli_params_cell(const json_t *params)
{
	char *s = NULL, buf[32];
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)params, k, v) {
		char *val = json_is_object(v) || json_is_array(v) ?
		        json_dumps(v, JSON_COMPACT) : xstrdup(cli_scalar(v, buf));
		char *item = xasprintf("%s=%s", k, val != NULL ? val : "?");
		cli_list_add(&s, item);
		free(item);
		free(val);
	}
	return s != NULL ? s : xstrdup("");
}

/* The metric names to show: the plugin's order, the primary first if the
 * plugin left it out; *N of them, the array malloc()ed. */
static const char **
cli_metric_names(const json_t *lb, size_t *n)
{
	json_t *metrics = json_object_get(lb, "metrics"), *v;
	const char *primary = cli_jstr(lb, "primary", "");
	const char **names = xcalloc(json_array_size(metrics) + 1, sizeof *names);
	int has = 0;
	size_t i;

	*n = 0;
	json_array_foreach(metrics, i, v)
		if (json_is_string(v)) {
			has |= strcmp(json_string_value(v), primary) == 0;
			names[(*n)++] = json_string_value(v);
		}
	if (!has) {
		memmove(names + 1, names, *n * sizeof *names);
		names[0] = primary;
		(*n)++;
	}
	return names;
}

/* One model's row: rank, model, params, metrics, time, p vs best. */
static void
cli_leaderboard_row(char **cells, const json_t *m, size_t i,
                    const char **names, size_t nm)
{
	json_t *rank = json_object_get(m, "rank");
	json_t *train = json_object_get(json_object_get(m, "train_ms"), "mean");
	json_t *vb = json_object_get(m, "vs_best");
	json_t *p = json_object_get(vb, "p");
	char buf[32];

	cells[0] = json_is_integer(rank) ?
	        xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(rank)) :
	        xasprintf("%zu", i + 1);
	cells[1] = xstrdup(cli_jstr(m, "model", "-"));
	cells[2] = cli_params_cell(json_object_get(m, "params"));
	for (size_t k = 0; k < nm; k++)
		cells[3 + k] = cli_metric_cell(m, names[k]);
	cells[3 + nm] = xstrdup(json_is_number(train) ?
	        cli_fmt_ms(json_number_value(train), buf) : "-");
	if (!json_is_number(p))
		cells[4 + nm] = xstrdup(vb != NULL ? "-" : "");
	else if (json_number_value(p) < 0.001)
		cells[4 + nm] = xstrdup("< 0.001 *");
	else
		cells[4 + nm] = xasprintf("%.3f%s", json_number_value(p),
		                          json_number_value(p) < 0.05 ? " *" : "");
}

/* The table of leaderboard LB, each line after INDENT, and a line that
 * says how to read it. */
void
cli_leaderboard_print(const json_t *lb, const char *indent)
{
	size_t nm;
	const char **names = cli_metric_names(lb, &nm);
	json_t *hib = json_object_get(lb, "higher_is_better");
	const char *primary = cli_jstr(lb, "primary", "");
	const char *dir = json_is_true(hib) ? " ↑" : json_is_false(hib) ? " ↓" : "";
	struct cli_table t = { .ncol = (int)nm + 5 };
	char **cells = xcalloc(nm + 5, sizeof *cells);
	json_t *m;
	size_t i;

	cells[0] = xstrdup("RANK");
	cells[1] = xstrdup("MODEL");
	cells[2] = xstrdup("PARAMS");
	for (size_t k = 0; k < nm; k++) {
		cells[3 + k] = xasprintf("%s%s", names[k],
		                         strcmp(names[k], primary) == 0 ? dir : "");
		for (char *c = cells[3 + k]; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
	}
	cells[3 + nm] = xstrdup("TRAIN TIME");
	cells[4 + nm] = xstrdup("P VS BEST");
	cli_table_rowv(&t, (const char *const *)cells);
	for (size_t k = 0; k < nm + 5; k++)
		free(cells[k]);
	json_array_foreach(json_object_get(lb, "models"), i, m) {
		cli_leaderboard_row(cells, m, i, names, nm);
		cli_table_rowv(&t, (const char *const *)cells);
		for (size_t k = 0; k < nm + 5; k++)
			free(cells[k]);
	}
	cli_table_print(&t, indent);
	json_t *reps = json_object_get(lb, "repeats");
	int corrected = strcmp(cli_jstr(lb, "test", ""), "corrected_resampled_t") == 0;
	printf("%sranked by %s%s; mean ± standard deviation over the folds%s; "
	       "p from a %s t-test against the best (* below 0.05)\n",
	       indent, primary, json_is_true(hib) ? " (higher is better)" :
	       json_is_false(hib) ? " (lower is better)" : "",
	       corrected && json_is_integer(reps) ? " of every repetition" : "",
	       corrected ? "corrected resampled (Nadeau-Bengio)" : "paired");
	free(cells);
	free(names);
}

/* What `kiln job` prints of RESULT: "result:" and its members as indented
 * lines; a leaderboard's models as its table. */
void
cli_result_print(const json_t *result)
{
	const char *k;
	json_t *v;

	if (result == NULL || json_is_null(result))
		return;
	if (!json_is_object(result) || !cli_is_leaderboard(result)) {
		cli_tree(0, "result", result);
		return;
	}
	printf("result:\n");
	json_object_foreach((json_t *)result, k, v)
		if (strcmp(k, "models") != 0 && strcmp(k, "metrics") != 0)
			cli_tree(2, k, v);
	printf("  models:\n");
	cli_leaderboard_print(result, "    ");
}

/* ===================================================== finding results */

/* DAG's latest successful run's first task whose result is a leaderboard,
 * as its job.  0 with *JOB, or an exit status after printing why not. */
static int
cli_dag_leaderboard_job(struct cli *x, const char *dag, json_t **job)
{
	json_t *runs, *run, *ti;
	size_t i;
	/* The DAG first, so that an unknown one is named as such. */
	char *path = cli_path("dags", dag, "");
	int rc = cli_call(x, "GET", path, NULL, 0, &runs);

	free(path);
	json_decref(runs);
	if (rc != 0)
		return rc;
	path = cli_path("dags", dag, "/runs?state=success&limit=1");
	rc = cli_call(x, "GET", path, NULL, 0, &runs);
	free(path);
	if (rc != 0)
		return rc;
	const char *rid = cli_jstr(json_array_get(json_object_get(runs, "runs"),
	                                          0), "run_id", NULL);
	if (rid == NULL) {
		fprintf(stderr, "kiln: DAG %s has no successful run yet\n", dag);
		json_decref(runs);
		return CLI_EXIT_FAIL;
	}
	path = cli_path("runs", rid, "");
	rc = cli_call(x, "GET", path, NULL, 0, &run);
	free(path);
	if (rc != 0) {
		json_decref(runs);
		return rc;
	}
	rc = CLI_EXIT_FAIL;
	json_array_foreach(json_object_get(run, "tasks"), i, ti) {
		if (cli_jint(ti, "job_id") <= 0 ||
		    !cli_is_leaderboard(json_object_get(ti, "result")))
			continue;
		path = xasprintf("/api/v1/jobs/%" PRId64, cli_jint(ti, "job_id"));
		rc = cli_call(x, "GET", path, NULL, 0, job);
		free(path);
		break;
	}
	if (i == json_array_size(json_object_get(run, "tasks")))
		fprintf(stderr, "kiln: run %s of DAG %s has no task with a "
		        "leaderboard (a benchmark task)\n", rid, dag);
	json_decref(run);
	json_decref(runs);
	return rc;
}

/* JOB or DAG: a job when all digits, else a DAG. */
static int
cli_leaderboard_job(struct cli *x, const char *arg, json_t **job)
{
	int rc;

	*job = NULL;
	if (arg[0] != '\0' && strspn(arg, "0123456789") == strlen(arg))
		return cli_job_fetch(x, arg, job);
	if ((rc = cli_connect(x, 1)) != 0)
		return rc;
	return cli_dag_leaderboard_job(x, arg, job);
}

/* Leaderboard LB as CSV when the job wrote none: rank, model, and each
 * metric's mean and standard deviation. */
static void
cli_leaderboard_csv(const json_t *lb)
{
	size_t nm;
	const char **names = cli_metric_names(lb, &nm);
	json_t *m;
	size_t i;

	printf("rank,model");
	for (size_t k = 0; k < nm; k++)
		printf(",%s_mean,%s_std", names[k], names[k]);
	putchar('\n');
	json_array_foreach(json_object_get(lb, "models"), i, m) {
		printf("%zu,%s", i + 1, cli_jstr(m, "model", ""));
		for (size_t k = 0; k < nm; k++) {
			json_t *v = json_object_get(json_object_get(m, "metrics"),
			                            names[k]);
			printf(",%.17g,%.17g",
			       json_number_value(json_object_get(v, "mean")),
			       json_number_value(json_object_get(v, "std")));
		}
		putchar('\n');
	}
	free(names);
}

static int
cli_leaderboard(struct cli *x, void *opts)
{
	struct table_opts *o = opts;
	json_t *job;
	int rc;

	if (o->csv && x->json)
		return cli_usage_error(x, "--csv and --json exclude each other");
	if ((rc = cli_leaderboard_job(x, x->pos[0], &job)) != 0)
		return rc;
	json_t *lb = json_object_get(job, "result");
	const json_t *csv = cli_job_output(job, "leaderboard.csv");
	if (!cli_is_leaderboard(lb)) {
		fprintf(stderr, "kiln: job %" PRId64 " (plugin %s) has no "
		        "leaderboard\n", cli_jint(job, "id"),
		        cli_jstr(job, "plugin", "?"));
		rc = CLI_EXIT_FAIL;
	} else if (x->json) {
		cli_print_json(lb);
	} else if (o->csv && csv != NULL) {
		rc = cli_artifact_fetch(x, cli_jstr(csv, "sha", ""), stdout,
		                        NULL, NULL);
	} else if (o->csv) {
		cli_leaderboard_csv(lb);
	} else {
		char buf[32];
		snprintf(buf, sizeof buf, "%" PRId64, cli_jint(job, "id"));
		cli_kvw(11, "job:", buf);
		static const char *const facts[] = { "kind", "dataset", "label",
			"validation", "primary", "best", NULL };
		for (size_t i = 0; facts[i] != NULL; i++) {
			json_t *v = json_object_get(lb, facts[i]);
			if (v != NULL && !json_is_null(v)) {
				char *k = xasprintf("%s:", facts[i]);
				cli_kvw(11, k, cli_scalar(v, buf));
				free(k);
			}
		}
		putchar('\n');
		cli_leaderboard_print(lb, "");
	}
	json_decref(job);
	return rc;
}

/* ============================================================ forecasts */

/* The next field of a CSV line at *P (quotes as RFC 4180), malloc()ed;
 * *P moves past it and its comma; NULL at the end of the line. */
static char *
cli_csv_field(const char **p, int *more)
{
	const char *s = *p;
	char *out = xmalloc(strlen(s) + 1), *o = out;

	if (*s == '"') {
		for (s++; *s != '\0'; s++) {
			if (*s == '"' && s[1] == '"')
				*o++ = *s++;
			else if (*s == '"')
				break;
			else
				*o++ = *s;
		}
		if (*s == '"')
			s++;
	}
	for (; *s != '\0' && *s != ','; s++)
		*o++ = *s;
	*o = '\0';
	*more = *s == ',';
	*p = *s == ',' ? s + 1 : s;
	return out;
}

/* CSV TEXT as a table, numbers to sensible precision. */
static void
cli_csv_print(char *text)
{
	struct cli_table t = { 0 };
	char *save = NULL;

	for (char *line = strtok_r(text, "\r\n", &save); line != NULL;
	     line = strtok_r(NULL, "\r\n", &save)) {
		const char *p = line;
		char **cells = NULL;
		int n = 0, more = 1;
		while (more) {
			cells = xrealloc(cells, (n + 1) * sizeof *cells);
			cells[n++] = cli_csv_field(&p, &more);
		}
		if (t.ncol == 0)
			t.ncol = n;
		for (int i = 0; i < n && t.nrows > 0; i++) {
			char *end, buf[32];
			double v = strtod(cells[i], &end);
			if (end != cells[i] && *end == '\0') {
				free(cells[i]);
				cells[i] = xstrdup(cli_fmt_num(v, buf));
			}
		}
		cells = xrealloc(cells, (n > t.ncol ? n : t.ncol) * sizeof *cells);
		for (int i = n; i < t.ncol; i++)
			cells[i] = xstrdup("");
		cli_table_rowv(&t, (const char *const *)cells);
		for (int i = 0; i < (n > t.ncol ? n : t.ncol); i++)
			free(cells[i]);
		free(cells);
	}
	cli_table_print(&t, "");
}

/* A benchmark's backtest forecast ({model, t, actual, predicted, and
 * lower, upper if present}) where it made one, as a table or CSV. */
static void
cli_backtest_print(const json_t *fc, int csv)
{
	static const char *const cols[] = { "t", "actual", "predicted",
		"lower", "upper" };
	const json_t *arr[5];
	int ncol = 0;
	struct cli_table t = { 0 };

	for (int k = 0; k < 5; k++)
		if (json_is_array(json_object_get(fc, cols[k])))
			arr[ncol++] = json_object_get(fc, cols[k]);
	t.ncol = ncol;
	const char *head[5];
	for (int k = 0, c = 0; k < 5; k++)
		if (json_is_array(json_object_get(fc, cols[k])))
			head[c++] = cols[k];
	cli_table_rowv(&t, head);
	for (size_t i = 0; i < json_array_size(arr[0]); i++) {
		const char *cells[5];
		char bufs[5][32];
		json_t *pred = json_array_get(json_object_get(fc, "predicted"), i);
		if (!json_is_number(pred))
			continue;
		for (int k = 0; k < ncol; k++)
			cells[k] = cli_scalar(json_array_get(arr[k], i), bufs[k]);
		cli_table_rowv(&t, cells);
	}
	if (!csv) {
		printf("backtest forecast of %s\n", cli_jstr(fc, "model", "?"));
		cli_table_print(&t, "");
		return;
	}
	for (size_t r = 0; r < t.nrows; r++)
		for (int k = 0; k < ncol; k++)
			printf("%s%c", t.cells[r * ncol + k],
			       k == ncol - 1 ? '\n' : ',');
	cli_table_free(&t);
}

static int
cli_forecast_show(struct cli *x, void *opts)
{
	struct table_opts *o = opts;
	json_t *job;
	int rc;

	if (o->csv && x->json)
		return cli_usage_error(x, "--csv and --json exclude each other");
	if ((rc = cli_job_fetch(x, x->pos[0], &job)) != 0)
		return rc;
	const json_t *csv = cli_job_output(job, "forecasts.csv");
	json_t *fc = json_object_get(json_object_get(job, "result"), "forecast");
	if (x->json && (csv != NULL || json_is_object(fc))) {
		/* A forecast job's result, or a benchmark's backtest. */
		cli_print_json(json_is_object(fc) ? fc :
		               json_object_get(job, "result"));
	} else if (csv != NULL && o->csv) {
		rc = cli_artifact_fetch(x, cli_jstr(csv, "sha", ""), stdout,
		                        NULL, NULL);
	} else if (csv != NULL) {
		char *text = NULL;
		size_t len;
		rc = cli_artifact_fetch(x, cli_jstr(csv, "sha", ""), NULL,
		                        &text, &len);
		if (rc == 0)
			cli_csv_print(text);
		free(text);
	} else if (json_is_array(json_object_get(fc, "t")) &&
	           json_is_array(json_object_get(fc, "predicted"))) {
		cli_backtest_print(fc, o->csv);
	} else {
		cli_no_output(job, "forecasts.csv");
		rc = CLI_EXIT_FAIL;
	}
	json_decref(job);
	return rc;
}

/* ============================================================ commands */

static const struct cli_opt table_options[] = {
	{ "csv", 0, CLI_FLAG, offsetof(struct table_opts, csv), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_cmd cli_cmd_leaderboard = {
	.name = "leaderboard", .args = "(JOB | DAG)",
	.usage = "leaderboard (JOB | DAG) [--json | --csv]",
	.summary = "show the models a benchmark ranked",
	.help =
	"Show the leaderboard of benchmark job JOB, or of the benchmark task\n"
	"of DAG's latest successful run (an operand of digits only is a\n"
	"job), as the dashboard does: rank, model, its parameters, each\n"
	"metric's mean and standard deviation over the folds (the primary\n"
	"one marked with its direction), the training time and the p value\n"
	"of a paired t-test against the best model (with `repeats`, Nadeau\n"
	"and Bengio's corrected resampled t-test over every repetition).\n"
	"\n"
	"Options:\n"
	"      --json             the leaderboard as the job's JSON result\n"
	"      --csv              the job's leaderboard.csv, byte for byte\n",
	.exit_status =
	" 0  the leaderboard was printed\n"
	" 1  the master refused or could not be reached, or there is no\n"
	"    leaderboard there\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = table_options, .opts_size = sizeof(struct table_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_leaderboard,
};

const struct cli_group cli_group_forecast = {
	"forecast", "Show what a forecasting job predicted.\n"
};

const struct cli_cmd cli_cmd_forecast_show = {
	.name = "forecast show", .args = "JOB",
	.usage = "forecast show JOB [--csv | --json]",
	.summary = "show a job's forecasts as a table",
	.help =
	"Show the forecasts of job JOB: its forecasts.csv output (the time\n"
	"or step, then one column per series, and intervals when the job\n"
	"wrote them) as a table, numbers to four significant digits; for a\n"
	"forecasting benchmark, its best model's backtest forecasts beside\n"
	"what happened.\n"
	"\n"
	"Options:\n"
	"      --csv              forecasts.csv byte for byte\n"
	"      --json             the job's result (a benchmark's: its\n"
	"                         backtest forecast) as JSON\n",
	.exit_status =
	" 0  the forecasts were printed\n"
	" 1  the master refused or could not be reached, or the job made\n"
	"    no forecast\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = table_options, .opts_size = sizeof(struct table_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_forecast_show,
};
