/* SPDX-License-Identifier: MIT */
/*
 * jobs.c - the commands for jobs: `kiln ping`, `submit`, `jobs`, `job`,
 * `logs`, `cancel`, `workers` and `plugins` (the spark-submit role).  Each
 * turns its arguments into one call on the master's JSON API (or, for
 * `submit --wait`, a submission that waits, then long polls) and prints
 * the answer as an aligned table, a key: value listing, or with --json
 * the master's own JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "cmd.h"
#include "hash.h"
#include "out.h"
#include "xalloc.h"

#define CLI_WAIT_S          30          /* long-poll length asked of the master */
#define CLI_WAIT_RETRY_MS   60000       /* how long --wait rides out an outage */
#define CLI_SUBMIT_TRIES    4           /* a submit is sent at most so often */
/* `submit --wait` asks the submission itself to wait this long (POST
 * ?wait): a short job is answered finished in one round trip; a longer
 * one has its id printed after this, then is long-polled. */
#define CLI_SUBMIT_WAIT_S   1

struct submit_opts {
	json_t *params;                 /* -p KEY=VALUE, in order */
	const char *params_json;
	struct cli_num priority, retries, slots, memory, timeout;
	int wait;
};

struct jobs_opts {
	const char *state, *plugin, *dag, *run, *worker, *since, *until;
	struct cli_num limit, before;
};

struct job_opts {
	int outputs;
};

struct logs_opts {
	struct cli_num attempt;
};


static int
cli_job_id(struct cli *x, const char *s, long long *id)
{
	return cli_int(x, "job ID", s, 1, INT64_MAX, id);
}

static int
cli_ping(struct cli *x, void *opts)
{
	char *err = NULL;
	json_t *reply = NULL;
	long status;
	int rc = cli_connect(x, 0);

	if (rc != 0)
		return rc;
	if (client_request(x->cl, "GET", "/api/v1/health", NULL, 5000,
	                   &status, &reply, &err) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	const char *st = cli_jstr(reply, "status", NULL);
	int ok = status == 200 && st != NULL && strcmp(st, "ok") == 0;
	if (x->json && reply != NULL) {
		cli_print_json(reply);
	} else if (ok) {
		printf("master at %s: ok (version %s, %" PRId64 " workers "
		       "alive)\n", x->url, cli_jstr(reply, "version", "?"),
		       cli_jint(reply, "workers_alive"));
	} else {
		printf("master at %s: %s (HTTP %ld)\n", x->url,
		       st != NULL ? st : cli_jstr(reply, "error", "not ok"),
		       status);
	}
	json_decref(reply);
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int
cli_is_final(const json_t *job)
{
	const char *st = cli_jstr(job, "state", "");

	return strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
	       strcmp(st, "cancelled") == 0 || cli_jint(job, "finished_ms") > 0;
}

/*
 * Long-poll job ID until it reaches a final state; *job is its last
 * description.  A master that goes away (restarts, fails over) is waited
 * for up to CLI_WAIT_RETRY_MS: the job lives on in its store.
 */
static int
cli_wait(struct cli *x, long long id, json_t **job)
{
	char *path = xasprintf("/api/v1/jobs/%lld?wait=%d", id, CLI_WAIT_S);
	int64_t down_since = 0;
	int rc = CLI_EXIT_FAIL;

	*job = NULL;
	for (;;) {
		char *err = NULL;
		json_t *reply = NULL;
		long status = 0;

		if (client_request(x->cl, "GET", path, NULL,
		                   (CLI_WAIT_S + 15) * 1000L, &status, &reply,
		                   &err) < 0 ||
		    status == 502 || status == 503 || status == 504) {
			int64_t now = clock_mono_ms();
			if (down_since == 0) {
				fprintf(stderr, "kiln: %s; retrying\n",
				        err != NULL ? err : "master unavailable");
				down_since = now;
			}
			if (now - down_since > CLI_WAIT_RETRY_MS) {
				fprintf(stderr, "kiln: gave up waiting for "
				        "job %lld: master unreachable for %ds\n",
				        id, CLI_WAIT_RETRY_MS / 1000);
				free(err);
				json_decref(reply);
				break;
			}
			free(err);
			json_decref(reply);
			sleep(1);
			continue;
		}
		down_since = 0;
		if (status < 200 || status > 299 || !json_is_object(reply)) {
			cli_http_error(status, reply, NULL);
			json_decref(reply);
			break;
		}
		if (cli_is_final(reply)) {
			*job = reply;
			rc = CLI_EXIT_OK;
			break;
		}
		json_decref(reply);
	}
	free(path);
	return rc;
}

/*
 * POST REQ to /api/v1/jobs with an Idempotency-Key of its own, sent again
 * with the same key if the master could not be reached or the reply was
 * lost (a master restarted under it), or it was still handling the first
 * (409): the master then answers with the job it made, not a new one.
 * WAIT_S > 0: the master answers once the job is finished or after WAIT_S
 * seconds (POST ?wait).  As cli_call.
 */
static int
cli_submit_call(struct cli *x, json_t *req, int wait_s, json_t **reply)
{
	char *path = wait_s > 0 ? xasprintf("/api/v1/jobs?wait=%d", wait_s) :
	             xstrdup("/api/v1/jobs");
	char *key = hash_random_hex(16), *err = NULL;
	long status = 0;
	int rc = -1;

	client_set_header(x->cl, "Idempotency-Key", key);
	for (int i = 0; i < CLI_SUBMIT_TRIES; i++) {
		if (i > 0)
			usleep(500000u << (i - 1));
		free(err);
		err = NULL;
		json_decref(*reply);
		*reply = NULL;
		rc = client_request(x->cl, "POST", path, req,
		                    wait_s > 0 ? (wait_s + 15) * 1000L : 0,
		                    &status, reply, &err);
		if ((rc == 0 && status != 409) || rc == -EACCES)
			break;
	}
	client_set_header(x->cl, NULL, NULL);
	free(key);
	free(path);
	if (rc < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	free(err);
	if (status < 200 || status > 299 || *reply == NULL) {
		cli_http_error(status, *reply, NULL);
		json_decref(*reply);
		*reply = NULL;
		return CLI_EXIT_FAIL;
	}
	return 0;
}

static int
cli_submit(struct cli *x, void *opts)
{
	struct submit_opts *o = opts;
	json_t *params, *reply = NULL;
	json_error_t jerr;
	int rc;

	if (o->params_json != NULL) {
		params = json_loads(o->params_json, 0, &jerr);
		if (!json_is_object(params)) {
			json_decref(params);
			return cli_usage_error(x, "--params-json must be a JSON "
			                       "object: %s", params != NULL ?
			                       "got another type" : jerr.text);
		}
		/* -p settings override keys of --params-json. */
		json_object_update(params, o->params);
	} else {
		params = json_incref(o->params);
	}
	json_t *req = json_object();
	json_object_set_new(req, "plugin", json_string(x->pos[0]));
	json_object_set_new(req, "params", params);
	if (o->priority.set)
		json_object_set_new(req, "priority", json_integer(o->priority.v));
	if (o->retries.set)
		json_object_set_new(req, "retries", json_integer(o->retries.v));
	if (o->slots.set)
		json_object_set_new(req, "slots", json_integer(o->slots.v));
	if (o->memory.set)
		json_object_set_new(req, "memory", json_integer(o->memory.v));
	if (o->timeout.set)
		json_object_set_new(req, "timeout_ms",
		                    json_integer(o->timeout.v));

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_submit_call(x, req, o->wait ? CLI_SUBMIT_WAIT_S : 0,
	                          &reply)) != 0) {
		json_decref(req);
		return rc;
	}
	json_decref(req);
	long long id = (long long)cli_jint(reply, "id");
	if (id <= 0) {
		fprintf(stderr, "kiln: the master's reply has no job id\n");
		json_decref(reply);
		return CLI_EXIT_FAIL;
	}
	if (!o->wait) {
		if (x->json)
			cli_print_json(reply);
		else
			printf("%lld\n", id);
		json_decref(reply);
		return CLI_EXIT_OK;
	}
	if (!x->json) {
		printf("%lld\n", id);
		fflush(stdout);
	}
	json_t *job = reply;
	if (!cli_is_final(reply)) {
		json_decref(reply);
		if ((rc = cli_wait(x, id, &job)) != 0)
			return rc;
	}
	const char *state = cli_jstr(job, "state", "?");
	int ok = strcmp(state, "succeeded") == 0;
	if (x->json) {
		cli_print_json(job);
	} else {
		const char *error = cli_jstr(job, "error", NULL);
		json_t *result = json_object_get(job, "result");
		/* A job's error is the plugin's text: escaped. */
		printf("job %lld ", id);
		cli_write_text(stdout, state, strlen(state));
		if (error != NULL) {
			fputs(": ", stdout);
			cli_write_text(stdout, error, strlen(error));
		}
		putchar('\n');
		if (result != NULL && !json_is_null(result))
			cli_print_json(result);
	}
	json_decref(job);
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int
cli_jobs(struct cli *x, void *opts)
{
	struct jobs_opts *o = opts;
	char *path = xstrdup("/api/v1/jobs");
	json_t *reply;
	int rc;

	/* The API's filters, by the same names. */
	const struct { const char *name, *value; } q[] = {
		{ "plugin", o->plugin }, { "dag", o->dag }, { "run", o->run },
		{ "worker", o->worker }, { "since", o->since },
		{ "until", o->until },
	};
	for (size_t k = 0; k < sizeof q / sizeof q[0]; k++)
		if (q[k].value != NULL)
			cli_query_add(&path, q[k].name, q[k].value);
	cli_query_page(&path, o->state, &o->limit, &o->before);
	rc = cli_get(x, path, &reply);
	if (rc != 0 || reply == NULL)
		return rc;

	struct cli_table t = { .ncol = 8 };
	json_t *jobs = json_object_get(reply, "jobs"), *j;
	size_t i;
	cli_table_row(&t, "ID", "PLUGIN", "STATE", "ATTEMPTS", "WORKER",
	              "CREATED(UTC)", "DURATION", "RUN");
	json_array_foreach(jobs, i, j) {
		char id[24], att[48], created[32], dur[32];
		int64_t max = cli_jint(j, "max_attempts");
		snprintf(id, sizeof id, "%" PRId64, cli_jint(j, "id"));
		if (max > 0)
			snprintf(att, sizeof att, "%" PRId64 "/%" PRId64,
			         cli_jint(j, "attempt"), max);
		else
			snprintf(att, sizeof att, "%" PRId64,
			         cli_jint(j, "attempt"));
		cli_table_row(&t, id, cli_jstr(j, "plugin", "-"),
		              cli_jstr(j, "state", "-"), att,
		              cli_jstr(j, "worker", "-"),
		              cli_fmt_time(cli_jint(j, "created_ms"), created),
		              cli_fmt_span(cli_jint(j, "started_ms"),
		                           cli_jint(j, "finished_ms"), dur),
		              cli_jstr(j, "run_id", "-"));
	}
	if (json_array_size(jobs) == 0)
		printf("no jobs\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	/* To stderr, so that scripts reading the table are not confused. */
	fprintf(stderr, "%s%" PRId64 " jobs match\n",
	        json_is_true(json_object_get(reply, "total_capped")) ?
	        "at least " : "", cli_jint(reply, "total"));
	if (cli_jint(reply, "next_before") > 0)
		fprintf(stderr, "(more: kiln jobs --before %" PRId64 ")\n",
		        cli_jint(reply, "next_before"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_job(struct cli *x, void *opts)
{
	struct job_opts *o = opts;
	long long id;
	json_t *j;
	char buf[64], buf2[32];
	int rc;

	if ((rc = cli_job_id(x, x->pos[0], &id)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/jobs/%lld", id);
	rc = cli_get(x, path, &j);
	if (rc != 0 || j == NULL)
		return rc;
	if (o->outputs) {
		cli_outputs_print(j, "");
		json_decref(j);
		return CLI_EXIT_OK;
	}

	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "id"));
	cli_kv("id:", buf);
	cli_kv("plugin:", cli_jstr(j, "plugin", "-"));
	cli_kv("state:", cli_jstr(j, "state", "-"));
	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "priority"));
	cli_kv("priority:", buf);
	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "slots"));
	cli_kv("slots:", buf);
	cli_kv("memory:", cli_jint(j, "memory") > 0 ?
	       cli_fmt_size(cli_jint(j, "memory"), buf2) : "-");
	cli_kv("timeout:", cli_jint(j, "timeout_ms") > 0 ?
	       cli_fmt_dur(cli_jint(j, "timeout_ms"), buf2) : "none");
	snprintf(buf, sizeof buf, "%" PRId64 " of %" PRId64,
	         cli_jint(j, "attempt"), cli_jint(j, "max_attempts"));
	cli_kv("attempt:", buf);
	cli_kv("worker:", cli_jstr(j, "worker", "-"));
	cli_kv("created:", cli_fmt_time(cli_jint(j, "created_ms"), buf2));
	cli_kv("started:", cli_fmt_time(cli_jint(j, "started_ms"), buf2));
	cli_kv("finished:", cli_fmt_time(cli_jint(j, "finished_ms"), buf2));
	cli_kv("duration:", cli_fmt_span(cli_jint(j, "started_ms"),
	                                 cli_jint(j, "finished_ms"), buf2));
	cli_kv_json("params:", json_object_get(j, "params"));
	if (cli_jstr(j, "error", NULL) != NULL)
		cli_kv("error:", cli_jstr(j, "error", NULL));
	cli_result_print(json_object_get(j, "result"));
	if (json_array_size(json_object_get(j, "outputs")) > 0) {
		printf("outputs:\n");
		cli_outputs_print(j, "  ");
	}

	json_t *atts = json_object_get(j, "attempts"), *a;
	size_t i;
	if (json_array_size(atts) > 0) {
		struct cli_table t = { .ncol = 6 };
		printf("attempts:\n");
		cli_table_row(&t, "ATTEMPT", "WORKER", "STATE", "STARTED(UTC)",
		              "DURATION", "ERROR");
		json_array_foreach(atts, i, a) {
			char n[24], started[32], dur[32];
			snprintf(n, sizeof n, "%" PRId64, cli_jint(a, "attempt"));
			cli_table_row(&t, n, cli_jstr(a, "worker", "-"),
			              cli_jstr(a, "state", "-"),
			              cli_fmt_time(cli_jint(a, "started_ms"),
			                           started),
			              cli_fmt_span(cli_jint(a, "started_ms"),
			                           cli_jint(a, "finished_ms"),
			                           dur),
			              cli_jstr(a, "error", ""));
		}
		cli_table_print(&t, "  ");
	}
	json_decref(j);
	return CLI_EXIT_OK;
}

static int
cli_logs(struct cli *x, void *opts)
{
	struct logs_opts *o = opts;
	long long id;
	int rc;

	if ((rc = cli_job_id(x, x->pos[0], &id)) != 0)
		return rc;
	if ((rc = cli_connect(x, 1)) != 0)
		return rc;
	char *path = o->attempt.set ?
	        xasprintf("/api/v1/jobs/%lld/log?attempt=%lld", id,
	                  o->attempt.v) :
	        xasprintf("/api/v1/jobs/%lld/log", id);
	rc = cli_print_text(x, path);
	free(path);
	return rc;
}

static int
cli_cancel(struct cli *x, void *opts)
{
	long long id;
	json_t *reply;
	int rc;

	if ((rc = cli_job_id(x, x->pos[0], &id)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", id);
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, NULL, 0, &reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		printf("job %lld %s\n", id, cli_jstr(reply, "state", "cancelled"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_workers(struct cli *x, void *opts)
{
	json_t *reply, *w, *p;
	size_t i, k;
	int rc, unlisted = 0;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/workers", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *workers = json_object_get(reply, "workers");
	struct cli_table t = { .ncol = 9 };
	cli_table_row(&t, "NAME", "HOST", "STATE", "SLOTS", "MEMORY",
	              "HEARTBEAT", "DONE", "FAILED", "PLUGINS");
	json_array_foreach(workers, i, w) {
		char state[32], slots[48], mem[80], m1[32], m2[32], hb[32];
		char done[24], failed[24], *plugins = NULL;
		json_t *listed = json_object_get(w, "listed");
		int is_unlisted = json_is_false(listed);

		unlisted |= is_unlisted;
		snprintf(state, sizeof state, "%s%s",
		         cli_jstr(w, "state", "-"), is_unlisted ? "*" : "");
		snprintf(slots, sizeof slots, "%" PRId64 "/%" PRId64,
		         cli_jint(w, "slots_busy"), cli_jint(w, "slots"));
		snprintf(mem, sizeof mem, "%s/%s",
		         cli_fmt_size(cli_jint(w, "memory_busy"), m1),
		         cli_fmt_size(cli_jint(w, "memory"), m2));
		snprintf(done, sizeof done, "%" PRId64,
		         cli_jint(w, "tasks_done"));
		snprintf(failed, sizeof failed, "%" PRId64,
		         cli_jint(w, "tasks_failed"));
		if (json_object_get(w, "heartbeat_age_ms") != NULL)
			snprintf(hb, sizeof hb, "%s ago", cli_fmt_dur(
			         cli_jint(w, "heartbeat_age_ms"), m1));
		else
			strcpy(hb, "-");
		json_array_foreach(json_object_get(w, "plugins"), k, p) {
			char *s = xasprintf("%s %s", cli_jstr(p, "name", "?"),
			                    cli_jstr(p, "version", "?"));
			cli_list_add(&plugins, s);
			free(s);
		}
		cli_table_row(&t, cli_jstr(w, "name", "-"),
		              cli_jstr(w, "host", "-"), state, slots, mem, hb,
		              done, failed, plugins != NULL ? plugins : "-");
		free(plugins);
	}
	if (json_array_size(workers) == 0)
		printf("no workers\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	if (unlisted)
		printf("* not listed in the cluster config\n");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_pools(struct cli *x, void *opts)
{
	json_t *reply, *p;
	size_t i;
	int rc;

	(void)opts;
	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/pools", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}
	json_t *pools = json_object_get(reply, "pools");
	struct cli_table t = { .ncol = 5 };
	cli_table_row(&t, "POOL", "SLOTS", "RUNNING", "QUEUED", "OPEN");
	json_array_foreach(pools, i, p) {
		char slots[24] = "-", run[24], queued[24], open[24] = "-";
		if (json_is_integer(json_object_get(p, "slots"))) {
			snprintf(slots, sizeof slots, "%" PRId64,
			         cli_jint(p, "slots"));
			snprintf(open, sizeof open, "%" PRId64,
			         cli_jint(p, "open"));
		}
		snprintf(run, sizeof run, "%" PRId64, cli_jint(p, "running"));
		snprintf(queued, sizeof queued, "%" PRId64,
		         cli_jint(p, "queued"));
		cli_table_row(&t, cli_jstr(p, "name", "-"), slots, run, queued,
		              open);
	}
	if (json_array_size(pools) == 0)
		printf("no pools\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* `kiln plugins NAME`: one plugin's identity and its parameters, from
 * the descriptor table it registered with (its `params`). */
static int
cli_plugin_show(const json_t *plugins, const char *name)
{
	const json_t *p = NULL, *q, *w;
	size_t i, k;
	json_array_foreach(plugins, i, q)
		if (strcmp(cli_jstr(q, "name", ""), name) == 0)
			p = q;
	if (p == NULL) {
		fprintf(stderr, "kiln: no worker offers a plugin '%s' (kiln "
		        "plugins lists them)\n", name);
		return CLI_EXIT_FAIL;
	}
	char *workers = NULL;
	json_array_foreach(json_object_get(p, "workers"), k, w)
		if (json_is_string(w))
			cli_list_add(&workers, json_string_value(w));
	printf("plugin:      %s %s\n", name, cli_jstr(p, "version", "-"));
	printf("description: %s\n", cli_jstr(p, "description", ""));
	printf("workers:     %s\n\n", workers != NULL ? workers : "-");
	free(workers);
	json_t *params = json_object_get(p, "params");
	if (json_array_size(params) == 0) {
		printf("no parameters\n");
		return CLI_EXIT_OK;
	}
	struct cli_table t = { .ncol = 4 };
	cli_table_row(&t, "PARAMETER", "TYPE", "DEFAULT", "MEANING");
	json_array_foreach(params, i, q) {
		json_t *def = json_object_get(q, "default");
		/* NULL: required; "": optional without a single default */
		const char *d = json_is_null(def) || def == NULL ? "(required)" :
		                *json_string_value(def) ? json_string_value(def) : "-";
		cli_table_row(&t, cli_jstr(q, "name", "?"), cli_jstr(q, "type", "?"),
		              d, cli_jstr(q, "help", ""));
	}
	cli_table_print(&t, "");
	cli_table_free(&t);
	return CLI_EXIT_OK;
}

static int
cli_plugins(struct cli *x, void *opts)
{
	json_t *reply, *p, *w;
	size_t i, k;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/plugins", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *plugins = json_object_get(reply, "plugins");
	if (x->npos == 1) {
		rc = cli_plugin_show(plugins, x->pos[0]);
		json_decref(reply);
		return rc;
	}
	struct cli_table t = { .ncol = 4 };
	cli_table_row(&t, "NAME", "VERSION", "WORKERS", "DESCRIPTION");
	json_array_foreach(plugins, i, p) {
		char *workers = NULL;
		json_array_foreach(json_object_get(p, "workers"), k, w)
			if (json_is_string(w))
				cli_list_add(&workers, json_string_value(w));
		cli_table_row(&t, cli_jstr(p, "name", "-"),
		              cli_jstr(p, "version", "-"),
		              workers != NULL ? workers : "-",
		              cli_jstr(p, "description", ""));
		free(workers);
	}
	if (json_array_size(plugins) == 0)
		printf("no plugins\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* ============================================================ commands */

#define SUBMIT(f) offsetof(struct submit_opts, f)
static const struct cli_opt submit_options[] = {
	{ "param", 'p', CLI_PARAM, SUBMIT(params), 0, 0, NULL },
	{ "params-json", 0, CLI_STRING, SUBMIT(params_json), 0, 0, NULL },
	{ "priority", 0, CLI_INT, SUBMIT(priority), INT32_MIN, INT32_MAX, NULL },
	{ "retries", 0, CLI_INT, SUBMIT(retries), 0, 1000, NULL },
	{ "slots", 0, CLI_INT, SUBMIT(slots), 1, 1 << 20, NULL },
	{ "memory", 0, CLI_SIZE, SUBMIT(memory), 0, 0, NULL },
	{ "timeout", 0, CLI_DURATION, SUBMIT(timeout), 0, 0, NULL },
	{ "wait", 0, CLI_FLAG, SUBMIT(wait), 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef SUBMIT

#define JOBS(f) offsetof(struct jobs_opts, f)
static const struct cli_opt jobs_options[] = {
	{ "state", 0, CLI_STRING, JOBS(state), 0, 0, NULL },
	{ "plugin", 0, CLI_STRING, JOBS(plugin), 0, 0, NULL },
	{ "dag", 0, CLI_STRING, JOBS(dag), 0, 0, NULL },
	{ "run", 0, CLI_STRING, JOBS(run), 0, 0, NULL },
	{ "worker", 0, CLI_STRING, JOBS(worker), 0, 0, NULL },
	{ "since", 0, CLI_DATE, JOBS(since), 0, 0, NULL },
	{ "until", 0, CLI_DATE, JOBS(until), 0, 0, NULL },
	{ "limit", 0, CLI_INT, JOBS(limit), 1, 1000000, NULL },
	{ "before", 0, CLI_INT, JOBS(before), 1, INT64_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};
#undef JOBS

static const struct cli_opt job_options[] = {
	{ "outputs", 0, CLI_FLAG, offsetof(struct job_opts, outputs), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

static const struct cli_opt logs_options[] = {
	{ "attempt", 0, CLI_INT, offsetof(struct logs_opts, attempt), 1,
	  INT32_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_cmd cli_cmd_ping = {
	.name = "ping", .args = "",
	.summary = "check that the master is up",
	.help =
	"Ask the master for its health and print its version and the\n"
	"number of live workers.  Needs no credentials.\n",
	.exit_status =
	" 0  the master is up\n"
	" 1  it cannot be reached or is not ok\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_ping,
};

const struct cli_cmd cli_cmd_submit = {
	.name = "submit", .args = "PLUGIN",
	.summary = "submit a job to run plugin PLUGIN",
	.help =
	"Submit a job that runs plugin PLUGIN and print its ID.\n"
	"\n"
	"Options:\n"
	"  -p, --param KEY=VALUE  set parameter KEY; a VALUE that is a JSON\n"
	"                         number, true, false, null, object or array\n"
	"                         is sent as such, anything else as a string\n"
	"      --params-json JSON all parameters as a JSON object (-p wins)\n"
	"      --priority N       higher runs first (default 0)\n"
	"      --retries N        attempts after a failure\n"
	"      --slots N          task slots the job occupies on a worker\n"
	"      --memory SIZE      memory it needs, e.g. 512MiB, 2GiB\n"
	"      --timeout DURATION fail an attempt after e.g. 90s, 5m, 2h\n"
	"      --wait             wait until the job finishes; print its\n"
	"                         final state and result\n",
	.exit_status =
	" 0  the job was submitted (with --wait: it succeeded)\n"
	" 1  the master refused or could not be reached (with\n"
	"    --wait: the job failed or was cancelled)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = submit_options, .opts_size = sizeof(struct submit_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_submit,
};

const struct cli_cmd cli_cmd_jobs = {
	.name = "jobs", .args = "",
	.summary = "list jobs, newest first",
	.help =
	"List jobs, newest first.\n"
	"\n"
	"Options:\n"
	"      --state STATE      only jobs in STATE (queued, running,\n"
	"                         succeeded, failed, cancelled)\n"
	"      --plugin NAME      only jobs of plugin NAME\n"
	"      --dag DAG          only jobs of the runs of DAG\n"
	"      --run RUN_ID       only jobs of the DAG run RUN_ID\n"
	"      --worker NAME      only jobs whose last attempt ran on NAME\n"
	"      --since DATE       only jobs submitted at or after DATE\n"
	"      --until DATE       only jobs submitted before DATE (dates as\n"
	"                         2026-12-06 or 2026-12-06T10:00:00Z)\n"
	"      --limit N          at most N jobs\n"
	"      --before ID        only jobs older than job ID (next page)\n"
	"\n"
	"How many jobs match is printed to standard error.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = jobs_options, .opts_size = sizeof(struct jobs_opts),
	.exec = cli_jobs,
};

const struct cli_cmd cli_cmd_job = {
	.name = "job", .args = "ID",
	.summary = "show one job and its attempts",
	.help =
	"Show job ID: its parameters, state, result (as indented key: value\n"
	"lines, numbers to four significant digits, long arrays cut short, a\n"
	"leaderboard as 'kiln leaderboard' shows it), outputs and every\n"
	"attempt; --json gives the master's JSON.\n"
	"\n"
	"Options:\n"
	"      --outputs          only the job's outputs: name, size in bytes\n"
	"                         and SHA-256 (as 'kiln artifact list ID')\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = job_options, .opts_size = sizeof(struct job_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_job,
};

const struct cli_cmd cli_cmd_logs = {
	.name = "logs", .args = "ID",
	.summary = "print the log of a job",
	.help =
	"Print the log a job's plugin wrote (by default of its latest\n"
	"attempt).\n"
	"\n"
	"Options:\n"
	"      --attempt N        the log of attempt N\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = logs_options, .opts_size = sizeof(struct logs_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_logs,
};

const struct cli_cmd cli_cmd_cancel = {
	.name = "cancel", .args = "ID",
	.summary = "cancel a queued or running job",
	.help =
	"Cancel job ID.  A job that already finished cannot be cancelled.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_cancel,
};

const struct cli_cmd cli_cmd_workers = {
	.name = "workers", .args = "",
	.summary = "list the workers and their load",
	.help =
	"List the workers known to the master: state, busy/total slots and\n"
	"memory, time since the last heartbeat, tasks done and failed, and\n"
	"the plugins each one offers.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_workers,
};

const struct cli_cmd cli_cmd_pools = {
	.name = "pools", .args = "",
	.summary = "list the pools and how full they are",
	.help =
	"List the pools (master.pools, and those DAG tasks name): their\n"
	"slots (- for no limit), the jobs of each running and queued, and\n"
	"the slots still open.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_pools,
};

const struct cli_cmd cli_cmd_plugins = {
	.name = "plugins", .args = "[NAME]",
	.summary = "list the plugins the workers offer, or one's parameters",
	.help =
	"List the plugins offered by the workers, with their versions.  With\n"
	"NAME, that plugin's version, workers and parameters: name, type,\n"
	"default and meaning, from the table the plugin declares (a DAG task\n"
	"naming another parameter is refused with these).  The benchmark's\n"
	"per-model parameters are in docs/model-params.md.\n",
	.max_args = 1,
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_plugins,
};
