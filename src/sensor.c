/* SPDX-License-Identifier: MIT */
/*
 * sensor.c - sensor tasks: their timing and the master's own pokes (see
 * sensor.h).  Kept out of pipeline.c, which only asks "is it due, did it
 * time out, does it hold".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "err.h"
#include "sensor.h"
#include "xalloc.h"

int
sensor_on_master(const struct dag_sensor *s)
{
	return s->kind == DS_DAG_RUN || s->kind == DS_ARTIFACT;
}

int64_t
sensor_next_ms(const struct dag_sensor *s, int64_t last_ms)
{
	return last_ms + s->poke_interval_ms;
}

int
sensor_timed_out(const struct dag_sensor *s, int64_t since_ms,
                 int64_t now_ms, char **why)
{
	if (since_ms <= 0 || now_ms - since_ms < s->timeout_ms)
		return 0;
	*why = xasprintf("sensor timed out: its condition did not hold "
	                 "within its timeout of %lld s", (long long)
	                 (s->timeout_ms / 1000));
	return 1;
}

/* dag_run: newest first, the run of the same logical date (or the
 * newest run) of the DAG waited for. */
struct sensor_runs {
	int64_t logical;
	int latest;
	int found, state;
	char *run_id;
};

static int
sensor_run_cb(const struct store_run *r, void *ud)
{
	struct sensor_runs *w = ud;
	if (!w->latest && r->logical_date != w->logical)
		return 0;
	w->found = 1;
	w->state = r->state;
	w->run_id = xstrdup(r->run_id);
	return 1;                     /* stop */
}

static int
sensor_dag_run(store *st, const struct dag_sensor *s, const char *dag_id,
               int64_t logical, char **why)
{
	struct sensor_runs w = { .logical = logical, .latest = s->latest };
	char *err = NULL;
	/* The newest 1000 runs: a run of that date further back is older
	 * than any catch-up kiln makes at once. */
	int rc = store_run_list(st, dag_id, -1, 0, 1000, sensor_run_cb, &w,
	                        &err);
	if (rc < 0) {
		*why = err;
		free(w.run_id);
		return rc;
	}
	rc = 0;                       /* 1 if the walk stopped at the run */
	char iso[64];
	cron_format_iso(logical, iso, sizeof iso);
	unsigned bit = w.found ?
	               dag_run_state_bit(store_run_state_name(w.state)) : 0;
	if (bit & s->allowed_states) {
		*why = xasprintf("run %s of DAG %s is %s", w.run_id, dag_id,
		                 store_run_state_name(w.state));
		rc = 1;
	} else if (bit & s->failed_states) {
		*why = xasprintf("run %s of DAG %s is %s, one of the sensor's "
		                 "failed_states", w.run_id, dag_id,
		                 store_run_state_name(w.state));
		rc = SENSOR_FAILED;
	} else if (w.found) {
		*why = xasprintf("run %s of DAG %s is %s", w.run_id, dag_id,
		                 store_run_state_name(w.state));
	} else if (s->latest) {
		*why = xasprintf("DAG %s has no run yet", dag_id);
	} else {
		*why = xasprintf("DAG %s has no run of logical date %s yet",
		                 dag_id, iso);
	}
	free(w.run_id);
	return rc;
}

static int
sensor_artifact(store *st, const char *name, int64_t since_ms, char **why)
{
	char *sha = NULL, *err = NULL;
	int rc = store_artifact_named(st, name, since_ms, &sha, &err);
	if (rc == -ENOENT) {
		free(err);
		*why = xasprintf("no artifact named %s since the run began",
		                 name);
		return 0;
	}
	if (rc < 0) {
		*why = err;
		return rc;
	}
	*why = xasprintf("artifact %s is %s", name, sha);
	free(sha);
	return 1;
}

int
sensor_poke_master(store *st, const struct dag_sensor *s,
                   const json_t *params, int64_t logical, int64_t created_ms,
                   char **why)
{
	const char *target = json_string_value(json_object_get(params,
	                     s->kind == DS_DAG_RUN ? "dag_id" : "name"));
	*why = NULL;
	if (target == NULL || *target == '\0') {
		*why = xstrdup("sensor: its target rendered empty");
		return 0;
	}
	if (s->kind == DS_DAG_RUN)
		return sensor_dag_run(st, s, target, logical, why);
	if (s->kind == DS_ARTIFACT)
		return sensor_artifact(st, target, created_ms, why);
	*why = xstrdup("sensor: not one the master pokes");
	return -EINVAL;
}

char *
sensor_reason(const char *result)
{
	if (result == NULL)
		return NULL;
	json_t *o = json_loads(result, 0, NULL);
	const char *r = json_string_value(json_object_get(o, "reason"));
	char *out = r ? xstrdup(r) : NULL;
	json_decref(o);
	return out;
}
