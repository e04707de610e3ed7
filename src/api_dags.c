/* SPDX-License-Identifier: MIT */
/*
 * api_dags.c - the pipeline routes: DAGs (list, import errors, one DAG,
 * its grid and runs; trigger, pause, unpause, backfill), runs, and the
 * task instances of a run (clear, log).  The work is pipeline.c's; these
 * translate HTTP to it.  See docs/api.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cron.h"
#include "varconn.h"

/* Reply with a pipeline error: -ENOENT 404, -EINVAL 400, a store that
 * cannot be written 503, else 500.  Frees ERR. */
static void
pl_err(http_req *r, int rc, char *err)
{
	if (rc != -ENOENT && rc != -EINVAL && rc != -EBUSY) {
		api_reply_failed(r, rc, err);
		free(err);
		return;
	}
	http_reply_error(r, rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : 409,
	                 "%s", err ? err : "failed");
	free(err);
}

/* Reply with O, or 404 "no WHAT 'ID'" if it is NULL. */
static void
json_or_404(http_req *r, json_t *o, const char *what, const char *id)
{
	if (o == NULL)
		http_reply_error(r, 404, "no %s '%s'", what, id);
	else
		http_reply_json(r, 200, o);
}

/* GET /api/v1/dags */
void
api_dags_list(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	http_reply_json(r, 200, json_pack("{s:o}", "dags", pipeline_dags_json(a->pl)));
}

/* GET /api/v1/dags/errors */
void
api_dags_errors(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	http_reply_json(r, 200, json_pack("{s:o}", "errors", pipeline_errors_json(a->pl)));
}

/* GET /api/v1/dags/:dag */
void
api_dag_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *id = route_text(&c->params, "dag");
	json_or_404(r, pipeline_dag_json(a->pl, id), "DAG", id);
}

/* GET /api/v1/dags/:dag/grid?limit=N[&since=CURSOR][&compact=1] */
void
api_dag_grid(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *id = route_text(&c->params, "dag");
	const char *since = http_query(r, "since");
	int64_t cursor = -1;
	if (since != NULL && *since != '\0') {
		char *end;
		errno = 0;
		long long v = strtoll(since, &end, 10);
		if (*end != '\0' || v < 0 || errno == ERANGE) {
			http_reply_error(r, 400, "since: must be a cursor of an "
			                 "earlier answer (an integer from 0), not "
			                 "'%.40s'", since);
			return;
		}
		cursor = v;
	}
	json_or_404(r, pipeline_grid_json(a->pl, id, api_query_int(r, "limit", 25),
	                                  cursor,
	                                  api_query_int(r, "compact", 0) != 0),
	            "DAG", id);
}

static int
run_row(const struct store_run *sr, void *ud)
{
	json_t **a = ud;
	char s[64], e[64], l[64];
	cron_format_iso(sr->logical_date, l, sizeof l);
	cron_format_iso(sr->interval_start, s, sizeof s);
	cron_format_iso(sr->interval_end, e, sizeof e);
	json_array_append_new(a[0], json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}",
		"id", (json_int_t)sr->id, "run_id", sr->run_id, "dag_id", sr->dag_id,
		"kind", sr->kind, "state", store_run_state_name(sr->state),
		"logical_date", l, "data_interval_start", s, "data_interval_end", e,
		"created_ms", (json_int_t)sr->created_ms,
		"finished_ms", (json_int_t)sr->finished_ms));
	json_decref(a[1]);
	a[1] = json_integer(sr->id);
	return 0;
}

/* GET /api/v1/dags/:dag/runs?state=&limit=&before= */
void
api_dag_runs(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *v = http_query(r, "state");
	int state = v && *v ? store_run_state_parse(v) : -1;
	if (v && *v && state < 0) {
		http_reply_error(r, 400, "unknown run state '%s'", v);
		return;
	}
	int limit = api_query_int(r, "limit", 100);
	json_t *acc[2] = { json_array(), json_null() };
	char *err = NULL;
	if (store_run_list(a->st, route_text(&c->params, "dag"), state,
	                   api_query_int64(r, "before", 0), limit,
	                   run_row, acc, &err) != 0) {
		json_decref(acc[0]);
		json_decref(acc[1]);
		pl_err(r, -EIO, err);
		return;
	}
	if (json_array_size(acc[0]) < (size_t)(limit > 0 ? limit : 100)) {
		json_decref(acc[1]);
		acc[1] = json_null();
	}
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "runs", acc[0],
	                                  "next_before", acc[1]));
}

/* POST /api/v1/dags/:dag/trigger {"conf": {...}} */
void
api_dag_trigger(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	json_t *conf = json_object_get(b, "conf");
	json_t *none = json_object();   /* no conf (it leaked before) */
	char *run_id = NULL, *err = NULL;
	int rc;
	if (conf != NULL && !json_is_object(conf))
		http_reply_error(r, 400, "conf must be an object");
	else if ((rc = pipeline_trigger(a->pl, route_text(&c->params, "dag"),
	                                conf ? conf : none, &run_id, &err)) != 0)
		pl_err(r, rc, err);
	else
		http_reply_json(r, 201, json_pack("{s:s}", "run_id", run_id));
	free(run_id);
	json_decref(none);
	json_decref(b);
}

/* Pause or unpause; the body must be a JSON object, even if unused. */
static void
dag_pause(struct api_ctx *a, http_req *r, const struct api_call *c, int paused)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *id = route_text(&c->params, "dag");
	char *err = NULL;
	int rc = pipeline_pause(a->pl, id, paused, &err);
	if (rc != 0)
		pl_err(r, rc, err);
	else
		http_reply_json(r, 200, json_pack("{s:s,s:b}", "id", id, "paused", paused));
	json_decref(b);
}

/* POST /api/v1/dags/:dag/pause */
void
api_dag_pause(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	dag_pause(a, r, c, 1);
}

/* POST /api/v1/dags/:dag/unpause */
void
api_dag_unpause(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	dag_pause(a, r, c, 0);
}

/* POST /api/v1/dags/:dag/backfill {"from": DATE, "to": DATE} */
void
api_dag_backfill(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *from = json_string_value(json_object_get(b, "from"));
	const char *to = json_string_value(json_object_get(b, "to"));
	int64_t f, t;
	int created, rc;
	char *err = NULL;
	if (from == NULL || to == NULL ||
	    cron_parse_date(from, &f, &err) != 0 ||
	    cron_parse_date(to, &t, &err) != 0)
		http_reply_error(r, 400, "backfill needs \"from\" and \"to\" dates: %s",
		                 err ? err : "missing");
	else if ((rc = pipeline_backfill(a->pl, route_text(&c->params, "dag"), f, t,
	                                 &created, &err)) != 0)
		pl_err(r, rc, err), err = NULL;
	else
		http_reply_json(r, 201, json_pack("{s:i}", "created", created));
	free(err);
	json_decref(b);
}

/* GET /api/v1/runs/:run */
void
api_run_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *id = route_text(&c->params, "run");
	json_t *o = pipeline_run_json(a->pl, id);
	varconn_mask_json(o);   /* its tasks' results and errors */
	json_or_404(r, o, "run", id);
}

/* Set a task of a run to STATE (pipeline_set_tasks) as the body asks:
 * {"downstream": bool, "upstream": bool, "dry_run": bool}; replies
 * {"tasks": [affected],
 * "dry_run": bool}. */
static void
task_set(struct api_ctx *a, http_req *r, const struct api_call *c,
         json_t *b, int state)
{
	json_t *tasks;
	char *err = NULL;
	int dry = json_is_true(json_object_get(b, "dry_run"));
	/* "version": "run" (default: the run's own DAG version) or
	 * "latest" (the current one). */
	json_t *v = json_object_get(b, "version");
	const char *vs = json_string_value(v);
	if (v != NULL && (vs == NULL || (strcmp(vs, "run") != 0 &&
	                                 strcmp(vs, "latest") != 0))) {
		http_reply_error(r, 400, "version: must be \"run\" or \"latest\"");
		return;
	}
	int rc = pipeline_set_tasks(a->pl, route_text(&c->params, "run"),
	                            route_text(&c->params, "task"), state,
	                            json_is_true(json_object_get(b, "downstream")),
	                            json_is_true(json_object_get(b, "upstream")),
	                            dry, vs != NULL && strcmp(vs, "latest") == 0,
	                            &tasks, &err);
	if (rc != 0)
		pl_err(r, rc, err);
	else
		http_reply_json(r, 200, json_pack("{s:i,s:o,s:b}", "cleared",
			state == TI_NONE ? (int)json_array_size(tasks) : 0,
			"tasks", tasks, "dry_run", dry));
}

/* POST /api/v1/runs/:run/tasks/:task/clear {"downstream", "upstream",
 * "dry_run"} */
void
api_task_clear(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	task_set(a, r, c, b, TI_NONE);
	json_decref(b);
}

/* POST /api/v1/runs/:run/tasks/:task/mark {"state": "success" or
 * "failed", "downstream", "upstream", "dry_run"}: Airflow's mark
 * success / mark failed. */
void
api_task_mark(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *st = json_string_value(json_object_get(b, "state"));
	if (st == NULL || (strcmp(st, "success") != 0 && strcmp(st, "failed") != 0))
		http_reply_error(r, 400, "state: must be \"success\" or \"failed\"");
	else
		task_set(a, r, c, b, strcmp(st, "success") == 0 ? TI_SUCCESS : TI_FAILED);
	json_decref(b);
}

struct ti_find {
	const char *task;
	int map_index;          /* -1: the task itself */
	int64_t job;
};

static int
ti_find_cb(const struct store_ti *t, void *ud)
{
	struct ti_find *f = ud;
	if (strcmp(t->task, f->task) == 0 && t->map_index == f->map_index) {
		f->job = t->job_id;
		return 1;
	}
	return 0;
}

/* GET /api/v1/runs/:run/tasks/:task/log[?attempt=N][&map_index=K]: its
 * job's log (instance K's, for a mapped task). */
void
api_task_log(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *id = route_text(&c->params, "run");
	const char *task = route_text(&c->params, "task");
	struct store_run sr;
	struct ti_find f = { task, api_query_int(r, "map_index", -1), 0 };
	char *err = NULL;
	if (store_run_find(a->st, id, &sr, &err) != 0) {
		http_reply_error(r, 404, "no run '%s'", id);
		free(err);
		return;
	}
	store_tis(a->st, sr.id, ti_find_cb, &f, &err);
	store_run_clear(&sr);
	free(err);
	if (f.job <= 0) {
		http_reply_error(r, 404, "task %s of run %s has not run", task, id);
		return;
	}
	api_job_log_reply(a, r, f.job);
}
