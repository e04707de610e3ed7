/* SPDX-License-Identifier: MIT */
/*
 * dags.c - the commands for pipelines (the Airflow CLI's role): `kiln
 * dags`, the group `kiln dag` (show, trigger, pause, unpause, backfill,
 * errors), `kiln runs`, `kiln run show` and the group `kiln task` (clear,
 * logs).  Options come after the command's words; run IDs and task names
 * are percent-encoded into the API's paths.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "cmd.h"
#include "out.h"
#include "xalloc.h"

#define CLI_RUN_POLL_MS     200         /* dag trigger --wait: poll interval */
#define CLI_RUN_TIMEOUT_MS  300000      /* ... and how long by default */

struct trigger_opts {
	json_t *params;                 /* -p: the run's conf */
	const char *conf;               /* --conf JSON, under -p */
	int wait;
	struct cli_num timeout;
};

struct backfill_opts {
	const char *from, *to;
};

struct runs_opts {
	const char *state;
	struct cli_num limit, before;
};

struct dag_show_opts {
	struct cli_num version;
};

struct clear_opts {
	int downstream;
	int upstream;
	int latest;
	int dry_run;
};

struct task_logs_opts {
	struct cli_num attempt;
	struct cli_num map_index;
};


static void cli_run_version(const json_t *r);

/* "N THING" or "N THINGs". */
static void
cli_count(const char *verb, int64_t n, const char *thing)
{
	printf("%s %" PRId64 " %s%s\n", verb, n, thing, n == 1 ? "" : "s");
}

/* A run's last_run-style summary: "2026-11-23 00:00:00 (success)". */
static char *
cli_last_run(const json_t *last)
{
	char buf[32];

	if (!json_is_object(last))
		return xstrdup("-");
	return xasprintf("%s (%s)",
	                 cli_fmt_iso(cli_jstr(last, "logical_date", NULL), buf),
	                 cli_jstr(last, "state", "?"));
}

static int
cli_dags(struct cli *x, void *opts)
{
	json_t *reply, *d;
	size_t i;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/dags", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *dags = json_object_get(reply, "dags");
	struct cli_table t = { .ncol = 6 };
	cli_table_row(&t, "DAG", "SCHEDULE", "PAUSED", "NEXT RUN", "LAST RUN",
	              "TASKS");
	json_array_foreach(dags, i, d) {
		char next[32], tasks[24];
		char *last = cli_last_run(json_object_get(d, "last_run"));
		snprintf(tasks, sizeof tasks, "%" PRId64, cli_jint(d, "tasks"));
		cli_table_row(&t, cli_jstr(d, "id", "-"),
		              cli_jstr(d, "schedule", "-"),
		              json_is_true(json_object_get(d, "paused")) ?
		              "yes" : "no",
		              cli_fmt_iso(cli_jstr(d, "next_run", NULL), next),
		              last, tasks);
		free(last);
	}
	if (json_array_size(dags) == 0)
		printf("no DAGs\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	json_decref(reply);

	/* A DAG file that failed to load is missing from the list above:
	 * say so (on stderr, like the paging hint of `kiln jobs`).  The list
	 * itself was the answer, so a failure here stays quiet. */
	char *err = NULL;
	long status;
	reply = NULL;
	if (client_request(x->cl, "GET", "/api/v1/dags/errors", NULL, 0,
	                   &status, &reply, &err) == 0 && status == 200) {
		size_t n = json_array_size(json_object_get(reply, "errors"));
		if (n > 0)
			fprintf(stderr, "(%zu DAG file%s failed to load: kiln "
			        "dag errors)\n", n, n == 1 ? "" : "s");
	}
	json_decref(reply);
	free(err);
	return CLI_EXIT_OK;
}

/* The bracketed settings of a task in `dag show`. */
static char *
cli_task_settings(const json_t *t)
{
	char *s = xstrdup(cli_jstr(t, "trigger_rule", "all_success"));
	char buf[32];

	if (cli_jint(t, "retries") > 0) {
		char *r = xasprintf("retries %" PRId64, cli_jint(t, "retries"));
		cli_list_add(&s, r);
		free(r);
		if (cli_jint(t, "retry_delay_ms") > 0) {
			r = xasprintf("retry_delay %s", cli_fmt_dur(
			              cli_jint(t, "retry_delay_ms"), buf));
			cli_list_add(&s, r);
			free(r);
		}
	}
	if (cli_jint(t, "timeout_ms") > 0) {
		char *r = xasprintf("timeout %s",
		                    cli_fmt_dur(cli_jint(t, "timeout_ms"), buf));
		cli_list_add(&s, r);
		free(r);
	}
	/* A mapped task: its param (a name of [A-Za-z0-9_], dag.c). */
	json_t *ex = json_object_get(t, "expand");
	void *it = json_is_object(ex) ? json_object_iter(ex) : NULL;
	if (it != NULL) {
		char *r = xasprintf("mapped over %s", json_object_iter_key(it));
		cli_list_add(&s, r);
		free(r);
	}
	/* A sensor: what it waits for and how often it looks. */
	json_t *sn = json_object_get(t, "sensor");
	if (json_is_object(sn)) {
		char b2[32];
		char *r = xasprintf("%s sensor every %s, timeout %s",
		                    cli_jstr(sn, "kind", "?"), cli_fmt_dur(
		                    cli_jint(sn, "poke_interval_ms"), buf),
		                    cli_fmt_dur(cli_jint(sn, "timeout_ms"), b2));
		cli_list_add(&s, r);
		free(r);
	}
	/* Every task is in a pool; only a chosen one is worth a word. */
	if (cli_jstr(t, "pool", NULL) != NULL &&
	    strcmp(cli_jstr(t, "pool", NULL), "default") != 0) {
		char *r = xasprintf("pool %s", cli_jstr(t, "pool", NULL));
		cli_list_add(&s, r);
		free(r);
	}
	if (cli_jint(t, "priority") != 0) {
		char *r = xasprintf("priority %" PRId64, cli_jint(t, "priority"));
		cli_list_add(&s, r);
		free(r);
	}
	char *b = xasprintf("[%s]", s);
	free(s);
	return b;
}

#define CLI_KVW 13      /* key width of `dag show` and `run show` */

static int
cli_dag_show(struct cli *x, void *opts)
{
	json_t *d, *t, *dep;
	char buf[64];
	size_t i, k;
	int rc;
	const struct dag_show_opts *o = opts;

	if (o->version.set)
		return cli_dag_show_version(x, (int)o->version.v);
	char *path = cli_path("dags", x->pos[0], "");
	rc = cli_get(x, path, &d);
	if (rc != 0 || d == NULL)
		return rc;

	cli_kvw(CLI_KVW, "dag:", cli_jstr(d, "id", "-"));
	if (cli_jstr(d, "description", NULL) != NULL)
		cli_kvw(CLI_KVW, "description:", cli_jstr(d, "description", ""));
	cli_kvw(CLI_KVW, "file:", cli_jstr(d, "file", "-"));
	cli_run_version(d);
	cli_kvw(CLI_KVW, "schedule:",
	        cli_jstr(d, "schedule", "none (runs when triggered)"));
	cli_kvw(CLI_KVW, "paused:",
	        json_is_true(json_object_get(d, "paused")) ? "yes" : "no");
	cli_kvw(CLI_KVW, "catchup:",
	        json_is_true(json_object_get(d, "catchup")) ? "yes" : "no");
	snprintf(buf, sizeof buf, "%" PRId64 " (at most %" PRId64 ")",
	         cli_jint(d, "active_runs"), cli_jint(d, "max_active_runs"));
	cli_kvw(CLI_KVW, "active runs:", buf);
	cli_kvw(CLI_KVW, "next run:",
	        cli_fmt_iso(cli_jstr(d, "next_run", NULL), buf));
	char *last = cli_last_run(json_object_get(d, "last_run"));
	cli_kvw(CLI_KVW, "last run:", last);
	free(last);
	json_t *params = json_object_get(d, "params");
	if (json_object_size(params) > 0)
		cli_kvw_json(CLI_KVW, "params:", params);

	/* In the master's order, which is topological: each task comes
	 * after everything it depends on. */
	json_t *tasks = json_object_get(d, "task_list");
	struct cli_table tt = { .ncol = 4 };
	printf("tasks:\n");
	json_array_foreach(tasks, i, t) {
		char *deps = NULL, *arrow, *settings = cli_task_settings(t);
		json_array_foreach(json_object_get(t, "depends_on"), k, dep)
			if (json_is_string(dep))
				cli_list_add(&deps, json_string_value(dep));
		arrow = deps != NULL ? xasprintf("<- %s", deps) : xstrdup("");
		cli_table_row(&tt, cli_jstr(t, "id", "-"),
		              cli_jstr(t, "plugin", "-"), arrow, settings);
		free(arrow);
		free(deps);
		free(settings);
	}
	if (json_array_size(tasks) == 0)
		printf("  none\n");
	else
		cli_table_print(&tt, "  ");
	cli_table_free(&tt);
	json_decref(d);
	return CLI_EXIT_OK;
}

/* A run's task instances as a table (INDENT before each line). */
static void
cli_run_tasks(const json_t *run, const char *indent)
{
	json_t *tasks = json_object_get(run, "tasks"), *t;
	struct cli_table tt = { .ncol = 7 };
	size_t i;

	cli_table_row(&tt, "TASK", "STATE", "TRIES", "WORKER", "DURATION",
	              "JOB", "ERROR");
	json_array_foreach(tasks, i, t) {
		char tries[24], dur[32], job[24];
		snprintf(tries, sizeof tries, "%" PRId64, cli_jint(t, "tries"));
		if (cli_jint(t, "job_id") > 0)
			snprintf(job, sizeof job, "%" PRId64,
			         cli_jint(t, "job_id"));
		else
			strcpy(job, "-");
		/* A mapped task's instances as TASK[MAP_INDEX], after it. */
		char name[256];
		json_t *mi = json_object_get(t, "map_index");
		if (json_integer_value(mi) >= 0 && mi != NULL)
			snprintf(name, sizeof name, "%s[%" PRId64 "]",
			         cli_jstr(t, "task", "-"),
			         (int64_t)json_integer_value(mi));
		else
			snprintf(name, sizeof name, "%s", cli_jstr(t, "task", "-"));
		/* A sensor between pokes: when it looks again, and why. */
		char *wait = NULL, when[32];
		if (cli_jint(t, "next_poke_ms") > 0)
			wait = xasprintf("next poke %s: %s", cli_fmt_time(
			                 cli_jint(t, "next_poke_ms"), when),
			                 cli_jstr(t, "sensor_reason", "not yet"));
		cli_table_row(&tt, name,
		              cli_jstr(t, "state", "-"), tries,
		              cli_jstr(t, "worker", "-"),
		              cli_fmt_span(cli_jint(t, "started_ms"),
		                           cli_jint(t, "finished_ms"), dur),
		              job, wait ? wait : cli_jstr(t, "error", ""));
		free(wait);
	}
	if (json_array_size(tasks) == 0)
		printf("%sno tasks\n", indent);
	else
		cli_table_print(&tt, indent);
	cli_table_free(&tt);
}

/* A run's notifications (docs/pipelines.md), if it has any. */
static void
cli_run_notifications(const json_t *run, const char *indent)
{
	json_t *nl = json_object_get(run, "notifications"), *n;
	struct cli_table tt = { .ncol = 7 };
	size_t i;

	if (json_array_size(nl) == 0)
		return;
	cli_table_row(&tt, "TIME", "EVENT", "TASK", "TARGET", "STATE",
	              "TRIES", "ERROR");
	json_array_foreach(nl, i, n) {
		char when[32], tries[24];
		char *target = xasprintf("%s %s", cli_jstr(n, "kind", "-"),
		                         cli_jstr(n, "target", ""));
		snprintf(tries, sizeof tries, "%" PRId64,
		         cli_jint(n, "attempts"));
		cli_table_row(&tt, cli_fmt_time(cli_jint(n, "created_ms"), when),
		              cli_jstr(n, "event", "-"),
		              cli_jstr(n, "task", "(run)"), target,
		              cli_jstr(n, "state", "-"), tries,
		              cli_jstr(n, "error", ""));
		free(target);
	}
	printf("notifications:\n");
	cli_table_print(&tt, indent);
	cli_table_free(&tt);
}

static int
cli_run_is_final(const json_t *run)
{
	const char *st = cli_jstr(run, "state", "");

	return strcmp(st, "success") == 0 || strcmp(st, "failed") == 0;
}

/*
 * Poll run RUN_ID every CLI_RUN_POLL_MS until it succeeds or fails, for at
 * most TIMEOUT_MS.  0 with *run its final description; on a timeout,
 * CLI_EXIT_FAIL with *run its last one (or NULL).  A master that cannot
 * be reached (restarting, failing over) is retried until the deadline:
 * the run lives on in its store.
 */
static int
cli_run_wait(struct cli *x, const char *run_id, int64_t timeout_ms,
             json_t **run)
{
	char *path = cli_path("runs", run_id, "");
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int rc = CLI_EXIT_FAIL, down = 0;
	char buf[32];

	*run = NULL;
	for (;;) {
		char *err = NULL;
		json_t *reply = NULL;
		long status = 0;

		if (client_request(x->cl, "GET", path, NULL, 10000, &status,
		                   &reply, &err) < 0 ||
		    status == 502 || status == 503 || status == 504) {
			if (!down)
				fprintf(stderr, "kiln: %s; retrying\n",
				        err != NULL ? err : "master unavailable");
			down = 1;
			free(err);
			json_decref(reply);
		} else if (status < 200 || status > 299 ||
		           !json_is_object(reply)) {
			cli_http_error(status, reply, NULL);
			json_decref(reply);
			json_decref(*run);
			*run = NULL;
			break;
		} else {
			down = 0;
			json_decref(*run);
			*run = reply;
			if (cli_run_is_final(reply)) {
				rc = CLI_EXIT_OK;
				break;
			}
		}
		if (clock_mono_ms() >= deadline) {
			if (*run != NULL)
				fprintf(stderr, "kiln: gave up waiting for run %s "
				        "after %s: it is still %s\n", run_id,
				        cli_fmt_dur(timeout_ms, buf),
				        cli_jstr(*run, "state", "?"));
			else
				fprintf(stderr, "kiln: gave up waiting for run %s "
				        "after %s: the master could not be "
				        "reached\n", run_id,
				        cli_fmt_dur(timeout_ms, buf));
			break;
		}
		usleep(CLI_RUN_POLL_MS * 1000);
	}
	free(path);
	return rc;
}

static int
cli_dag_trigger(struct cli *x, void *opts)
{
	struct trigger_opts *o = opts;
	json_t *reply = NULL;
	int rc;

	if (o->timeout.set && !o->wait)
		return cli_usage_error(x, "--timeout needs --wait");
	json_t *conf = o->conf ? json_loads(o->conf, 0, NULL) : json_object();
	if (!json_is_object(conf)) {
		json_decref(conf);
		return cli_usage_error(x, "--conf must be a JSON object");
	}
	json_object_update(conf, o->params);
	json_t *req = json_pack("{s:o}", "conf", conf);
	char *path = cli_path("dags", x->pos[0], "/trigger");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	char *run_id = xstrdup(cli_jstr(reply, "run_id", NULL));
	if (run_id == NULL) {
		fprintf(stderr, "kiln: the master's reply has no run_id\n");
		json_decref(reply);
		return CLI_EXIT_FAIL;
	}
	if (!o->wait || !x->json) {
		/* The run ID alone on stdout first, for $(kiln dag trigger). */
		if (x->json)
			cli_print_json(reply);
		else
			printf("%s\n", run_id);
		fflush(stdout);
	}
	json_decref(reply);
	if (!o->wait) {
		free(run_id);
		return CLI_EXIT_OK;
	}

	json_t *run;
	rc = cli_run_wait(x, run_id, o->timeout.set ? o->timeout.v :
	                  CLI_RUN_TIMEOUT_MS, &run);
	if (run != NULL) {
		if (x->json) {
			cli_print_json(run);
		} else {
			printf("run %s %s\n", run_id, cli_jstr(run, "state", "?"));
			cli_run_tasks(run, "");
		}
		if (rc == 0 && strcmp(cli_jstr(run, "state", ""), "success") != 0)
			rc = CLI_EXIT_FAIL;
		json_decref(run);
	}
	free(run_id);
	return rc;
}

static int
cli_dag_pause(struct cli *x, void *opts)
{
	int pause = strcmp(x->cmd->name, "dag pause") == 0;
	json_t *req = json_object(), *reply;
	int rc;

	char *path = cli_path("dags", x->pos[0], pause ? "/pause" : "/unpause");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		printf("dag %s %s\n", cli_jstr(reply, "id", x->pos[0]),
		       json_is_true(json_object_get(reply, "paused")) ?
		       "paused" : "unpaused");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_dag_backfill(struct cli *x, void *opts)
{
	struct backfill_opts *o = opts;
	json_t *reply;
	int rc;

	if (o->from == NULL || o->to == NULL)
		return cli_usage_error(x, "both --from and --to are needed");
	json_t *req = json_pack("{s:s,s:s}", "from", o->from, "to", o->to);
	char *path = cli_path("dags", x->pos[0], "/backfill");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		cli_count("created", cli_jint(reply, "created"), "run");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_dag_errors(struct cli *x, void *opts)
{
	json_t *reply, *e;
	size_t i;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/dags/errors", NULL, 0,
	                   &reply)) != 0)
		return rc;
	json_t *errors = json_object_get(reply, "errors");
	if (x->json) {
		cli_print_json(reply);
	} else if (json_array_size(errors) == 0) {
		printf("no import errors\n");
	} else {
		/* The message already starts with FILE:LINE:COLUMN, as a
		 * compiler's does, for editors that jump to it. */
		json_array_foreach(errors, i, e) {
			const char *msg = cli_jstr(e, "error", NULL);
			if (msg != NULL)
				printf("%s\n", msg);
			else
				printf("%s: failed to load\n",
				       cli_jstr(e, "file", "?"));
		}
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_runs(struct cli *x, void *opts)
{
	struct runs_opts *o = opts;
	char *path = cli_path("dags", x->pos[0], "/runs");
	json_t *reply, *r;
	size_t i;
	int rc;

	cli_query_page(&path, o->state, &o->limit, &o->before);
	rc = cli_get(x, path, &reply);
	if (rc != 0 || reply == NULL)
		return rc;

	json_t *runs = json_object_get(reply, "runs");
	struct cli_table t = { .ncol = 5 };
	cli_table_row(&t, "RUN ID", "KIND", "STATE", "LOGICAL DATE",
	              "DURATION");
	json_array_foreach(runs, i, r) {
		char date[32], dur[32];
		cli_table_row(&t, cli_jstr(r, "run_id", "-"),
		              cli_jstr(r, "kind", "-"), cli_jstr(r, "state", "-"),
		              cli_fmt_iso(cli_jstr(r, "logical_date", NULL), date),
		              cli_fmt_span(cli_jint(r, "created_ms"),
		                           cli_jint(r, "finished_ms"), dur));
	}
	if (json_array_size(runs) == 0)
		printf("no runs\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	if (cli_jint(reply, "next_before") > 0)
		fprintf(stderr, "(more: kiln runs %s --before %" PRId64 ")\n",
		        x->pos[0], cli_jint(reply, "next_before"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* "dag version:" of run R: "2 (3f9a0c1d2e4b, 2026-12-06 07:10:00 UTC)",
 * with "not the current version N" when the file changed since. */
static void
cli_run_version(const json_t *r)
{
	const json_t *v = json_object_get(r, "dag_version");
	char buf[32];
	if (!json_is_object(v))
		return;
	char *s = xasprintf("%" PRId64 " (%.12s, %s)%s", cli_jint(v, "version"),
	                    cli_jstr(v, "hash", ""),
	                    cli_fmt_time(cli_jint(v, "created_ms"), buf),
	                    json_is_true(json_object_get(v, "current")) ? "" :
	                    ", not the current version");
	cli_kvw(CLI_KVW, "dag version:", s);
	free(s);
}

static int
cli_run_show(struct cli *x, void *opts)
{
	json_t *r;
	char buf[32], buf2[32];
	int rc;

	char *path = cli_path("runs", x->pos[0], "");
	rc = cli_get(x, path, &r);
	if (rc != 0 || r == NULL)
		return rc;

	cli_kvw(CLI_KVW, "run:", cli_jstr(r, "run_id", "-"));
	cli_kvw(CLI_KVW, "dag:", cli_jstr(r, "dag_id", "-"));
	cli_kvw(CLI_KVW, "kind:", cli_jstr(r, "kind", "-"));
	cli_kvw(CLI_KVW, "state:", cli_jstr(r, "state", "-"));
	cli_run_version(r);
	cli_kvw(CLI_KVW, "logical date:",
	        cli_fmt_iso(cli_jstr(r, "logical_date", NULL), buf));
	if (cli_jstr(r, "data_interval_start", NULL) != NULL) {
		char *iv = xasprintf("%s to %s", cli_fmt_iso(cli_jstr(r,
		                     "data_interval_start", NULL), buf),
		                     cli_fmt_iso(cli_jstr(r, "data_interval_end",
		                                          NULL), buf2));
		cli_kvw(CLI_KVW, "interval:", iv);
		free(iv);
	}
	if (json_object_size(json_object_get(r, "conf")) > 0)
		cli_kvw_json(CLI_KVW, "conf:", json_object_get(r, "conf"));
	cli_kvw(CLI_KVW, "created:",
	        cli_fmt_time(cli_jint(r, "created_ms"), buf));
	cli_kvw(CLI_KVW, "finished:",
	        cli_fmt_time(cli_jint(r, "finished_ms"), buf));
	cli_kvw(CLI_KVW, "duration:", cli_fmt_span(cli_jint(r, "created_ms"),
	                                          cli_jint(r, "finished_ms"),
	                                          buf));
	printf("tasks:\n");
	cli_run_tasks(r, "  ");
	cli_run_notifications(r, "  ");
	json_decref(r);
	return CLI_EXIT_OK;
}

/* POST .../tasks/TASK/ACTION of run RUN_ID with O's options (and STATE,
 * for a mark); prints what it touched. */
static int
cli_task_set(struct cli *x, const struct clear_opts *o, const char *action,
             const char *state)
{
	json_t *reply;
	int rc;

	char *task = cli_escape(x->pos[1]), *suffix =
	        xasprintf("/tasks/%s/%s", task, action);
	char *path = cli_path("runs", x->pos[0], suffix);
	free(suffix);
	free(task);
	json_t *req = json_pack("{s:b,s:b,s:b,s:s}", "downstream",
	                        o->downstream, "upstream", o->upstream,
	                        "dry_run", o->dry_run,
	                        "version", o->latest ? "latest" : "run");
	if (state != NULL)
		json_object_set_new(req, "state", json_string(state));
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
	} else if (state == NULL && !o->dry_run) {
		cli_count("cleared", cli_jint(reply, "cleared"),
		          "task instance");
	} else {
		json_t *ts = json_object_get(reply, "tasks");
		size_t i;
		json_t *t;
		/* "would clear: a b c", "marked success: a",
		 * "would mark failed: a b" */
		const char *verb = state == NULL ? "would clear" :
		                   o->dry_run ? "would mark" : "marked";
		printf("%s%s%s:", verb, state ? " " : "", state ? state : "");
		json_array_foreach(ts, i, t)
			printf(" %s", json_string_value(t));
		printf("\n");
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_task_clear(struct cli *x, void *opts)
{
	return cli_task_set(x, opts, "clear", NULL);
}

/* Airflow's mark success / mark failed; like it, no callback of the
 * task is told (docs/pipelines.md). */
static int
cli_task_mark(struct cli *x, void *opts)
{
	const char *st = x->pos[2];
	if (strcmp(st, "success") != 0 && strcmp(st, "failed") != 0)
		return cli_usage_error(x, "the state is success or failed, not "
		                       "'%s'", st);
	return cli_task_set(x, opts, "mark", st);
}

static int
cli_task_logs(struct cli *x, void *opts)
{
	struct task_logs_opts *o = opts;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0)
		return rc;
	char *task = cli_escape(x->pos[1]), *suffix, mi[48] = "";
	if (o->map_index.set)
		snprintf(mi, sizeof mi, "%cmap_index=%lld",
		         o->attempt.set ? '&' : '?', o->map_index.v);
	suffix = o->attempt.set ?
	        xasprintf("/tasks/%s/log?attempt=%lld%s", task, o->attempt.v, mi) :
	        xasprintf("/tasks/%s/log%s", task, mi);
	char *path = cli_path("runs", x->pos[0], suffix);
	rc = cli_print_text(x, path);
	free(path);
	free(suffix);
	free(task);
	return rc;
}

/* ============================================================ commands */

#define TRIGGER(f) offsetof(struct trigger_opts, f)
static const struct cli_opt trigger_options[] = {
	{ "param", 'p', CLI_PARAM, TRIGGER(params), 0, 0, NULL },
	{ "conf", 0, CLI_STRING, TRIGGER(conf), 0, 0, NULL },
	{ "wait", 0, CLI_FLAG, TRIGGER(wait), 0, 0, NULL },
	{ "timeout", 0, CLI_DURATION, TRIGGER(timeout), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef TRIGGER

static const struct cli_opt backfill_options[] = {
	{ "from", 0, CLI_DATE, offsetof(struct backfill_opts, from), 0, 0,
	  NULL },
	{ "to", 0, CLI_DATE, offsetof(struct backfill_opts, to), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

#define RUNS(f) offsetof(struct runs_opts, f)
static const struct cli_opt runs_options[] = {
	{ "state", 0, CLI_STRING, RUNS(state), 0, 0, NULL },
	{ "limit", 0, CLI_INT, RUNS(limit), 1, 1000000, NULL },
	/* A run's row number, as the paging hint says. */
	{ "before", 0, CLI_INT, RUNS(before), 1, INT64_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef RUNS

static const struct cli_opt dag_show_options[] = {
	{ "version", 0, CLI_INT, offsetof(struct dag_show_opts, version), 1,
	  INT32_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

static const struct cli_opt clear_options[] = {
	{ "downstream", 0, CLI_FLAG, offsetof(struct clear_opts, downstream),
	  0, 0, NULL },
	{ "upstream", 0, CLI_FLAG, offsetof(struct clear_opts, upstream),
	  0, 0, NULL },
	{ "latest", 0, CLI_FLAG, offsetof(struct clear_opts, latest), 0, 0,
	  NULL },
	{ "dry-run", 0, CLI_FLAG, offsetof(struct clear_opts, dry_run), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

static const struct cli_opt task_logs_options[] = {
	{ "attempt", 0, CLI_INT, offsetof(struct task_logs_opts, attempt), 1,
	  INT32_MAX, NULL },
	{ "map-index", 0, CLI_INT, offsetof(struct task_logs_opts, map_index),
	  0, INT32_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_group cli_group_dag = {
	"dag", "Show, trigger, pause and backfill one DAG (pipeline), or list\n"
	       "the DAG files that failed to load.\n"
};
const struct cli_group cli_group_run = { "run", "Show a DAG run.\n" };
const struct cli_group cli_group_task = {
	"task", "Act on one task of a DAG run.\n"
};

const struct cli_cmd cli_cmd_dags = {
	.name = "dags", .args = "",
	.summary = "list the DAGs (pipelines)",
	.help =
	"List the DAGs the master has loaded from its dags_dir: schedule,\n"
	"whether paused, the next scheduled run and the latest run with its\n"
	"state (times in UTC), and the number of tasks.  DAG files that\n"
	"failed to load are counted on stderr; see 'kiln dag errors'.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_dags,
};

const struct cli_cmd cli_cmd_dag_show = {
	.name = "dag show", .args = "ID",
	.summary = "show a DAG's settings and tasks",
	.help =
	"Show DAG ID: its settings, and its tasks in an order where each\n"
	"comes after the tasks it depends on, as\n"
	"  TASK  PLUGIN  <- UPSTREAM, ...  [TRIGGER_RULE, retries N, ...]\n"
	"\n"
	"Options:\n"
	"      --version N        print version N of the DAG's file instead\n"
	"                         (as the master kept it; 'kiln dag versions')\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = dag_show_options, .opts_size = sizeof(struct dag_show_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_show,
};

const struct cli_cmd cli_cmd_dag_trigger = {
	.name = "dag trigger", .args = "ID",
	.summary = "start a run of a DAG now",
	.help =
	"Start a manual run of DAG ID and print its run ID.\n"
	"\n"
	"Options:\n"
	"  -p, --param KEY=VALUE  set KEY of the run's conf, which overrides\n"
	"                         the DAG's params; VALUE is typed as in\n"
	"                         'kiln submit'\n"
	"      --conf JSON        the run's conf as a JSON object (under any\n"
	"                         -p); each key must be a param of the DAG,\n"
	"                         of the type of its default\n"
	"      --wait             wait until the run succeeds or fails; print\n"
	"                         its final state and its tasks\n"
	"      --timeout DURATION with --wait, give up after e.g. 90s, 5m, 2h\n"
	"                         (default 5m)\n",
	.exit_status =
	" 0  the run was started (with --wait: it succeeded)\n"
	" 1  the master refused or could not be reached (with\n"
	"    --wait: the run failed, or had not finished within\n"
	"    --timeout)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = trigger_options, .opts_size = sizeof(struct trigger_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_trigger,
};

const struct cli_cmd cli_cmd_dag_pause = {
	.name = "dag pause", .args = "ID",
	.summary = "stop scheduling a DAG",
	.help =
	"Pause DAG ID: the scheduler creates no new runs for it (runs under\n"
	"way go on, and it can still be triggered).  Kept across restarts.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_pause,
};

const struct cli_cmd cli_cmd_dag_unpause = {
	.name = "dag unpause", .args = "ID",
	.summary = "resume scheduling a DAG",
	.help =
	"Unpause DAG ID: the scheduler creates its runs again.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_pause,
};

const struct cli_cmd cli_cmd_dag_backfill = {
	.name = "dag backfill", .args = "ID",
	.summary = "create the runs of past intervals",
	.help =
	"Create a run of DAG ID for each interval of its schedule whose\n"
	"logical date is from --from to --to, both included; intervals that\n"
	"already have a run are skipped.  Prints how many were created.\n"
	"\n"
	"Options:\n"
	"      --from DATE        the first logical date, e.g. 2024-01-01\n"
	"      --to DATE          the last one, e.g. 2024-01-31\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = backfill_options, .opts_size = sizeof(struct backfill_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_backfill,
};

const struct cli_cmd cli_cmd_dag_errors = {
	.name = "dag errors", .args = "",
	.summary = "list the DAG files that failed to load",
	.help =
	"Print why each DAG file that failed to load was refused, one line\n"
	"each as FILE:LINE:COLUMN: MESSAGE, or \"no import errors\".\n",
	.exit_status =
	" 0  the import errors, if any, were listed\n"
	" 1  the master refused or could not be reached\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_dag_errors,
};

const struct cli_cmd cli_cmd_runs = {
	.name = "runs", .args = "ID",
	.summary = "list the runs of a DAG, newest first",
	.help =
	"List the runs of DAG ID, newest first: run ID, kind (manual,\n"
	"scheduled, backfill), state, logical date (UTC) and duration.\n"
	"\n"
	"Options:\n"
	"      --state STATE      only runs in STATE (queued, running,\n"
	"                         success, failed)\n"
	"      --limit N          at most N runs\n"
	"      --before N         the next page, as the hint on stderr says\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = runs_options, .opts_size = sizeof(struct runs_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_runs,
};

const struct cli_cmd cli_cmd_run_show = {
	.name = "run show", .args = "RUN_ID",
	.summary = "show a DAG run and its tasks",
	.help =
	"Show DAG run RUN_ID (as 'kiln runs' or 'kiln dag trigger' print\n"
	"it) and the state of each of its tasks: tries, worker, duration,\n"
	"and the job that ran it ('kiln job JOB' shows its attempts).\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_run_show,
};

const struct cli_cmd cli_cmd_task_clear = {
	.name = "task clear", .args = "RUN_ID TASK",
	.summary = "run a task of a DAG run again",
	.help =
	"Clear task TASK of run RUN_ID so that the scheduler runs it again;\n"
	"a finished run becomes running again.  It runs as the version of\n"
	"the DAG file that the run ran ('kiln run show' names it): its\n"
	"command, params and dependencies, even if the file changed since.\n"
	"\n"
	"Options:\n"
	"      --downstream       also clear every task that depends on it,\n"
	"                         directly or not\n"
	"      --upstream         also clear every task it depends on\n"
	"      --latest           run it as the current version of the DAG\n"
	"                         file; the run names that version from then\n"
	"                         on\n"
	"      --dry-run          list the tasks it would clear, and clear none\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = clear_options, .opts_size = sizeof(struct clear_opts),
	.min_args = 2, .max_args = 2,
	.exec = cli_task_clear,
};

const struct cli_cmd cli_cmd_task_mark = {
	.name = "task mark", .args = "RUN_ID TASK success|failed",
	.summary = "mark a task of a DAG run success or failed",
	.help =
	"Set task TASK of run RUN_ID to success or failed without running\n"
	"it (Airflow's mark success / mark failed); marking success also\n"
	"clears the tasks downstream that were upstream_failed, so they run.\n"
	"The task's on_success and on_failure are not told (the run's own\n"
	"are, when it ends).  Refused while the task is scheduled, queued,\n"
	"running or up for retry.  Prints the tasks it set.  Admins only.\n"
	"\n"
	"Options:\n"
	"      --downstream       also clear every task that depends on it\n"
	"      --upstream         mark every task it depends on the same\n"
	"      --latest           as the current version of the DAG file\n"
	"      --dry-run          print what it would set, and set nothing\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = clear_options, .opts_size = sizeof(struct clear_opts),
	.min_args = 3, .max_args = 3,
	.exec = cli_task_mark,
};

const struct cli_cmd cli_cmd_task_logs = {
	.name = "task logs", .args = "RUN_ID TASK",
	.summary = "print the log of a task of a DAG run",
	.help =
	"Print the log the plugin of task TASK wrote in run RUN_ID (by\n"
	"default of its latest attempt).\n"
	"\n"
	"Options:\n"
	"      --attempt N        the log of attempt N\n"
	"      --map-index K      of instance K of a mapped task (expand:)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = task_logs_options, .opts_size = sizeof(struct task_logs_opts),
	.min_args = 2, .max_args = 2,
	.exec = cli_task_logs,
};
