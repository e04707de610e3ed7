/* SPDX-License-Identifier: MIT */
/*
 * dag.h - pipeline definitions: one YAML file per DAG in the dags directory.
 *
 * dag_load() reads a file such as
 *
 *	id: etl_daily
 *	schedule: "0 2 * * *"          (cron, @daily, "every 15m"; absent/none
 *	start_date: 2024-01-01          = manual only)
 *	params: { table: sales }
 *	default: { retries: 2 }         (defaults for every task)
 *	tasks:
 *	  - id: extract
 *	    plugin: csvstats
 *	    params: { file: "/data/{{ ds }}/{{ params.table }}.csv" }
 *	  - id: load
 *	    plugin: noop
 *	    depends_on: [extract]
 *	    params: { rows: "{{ tasks.extract.result.rows }}" }
 *
 * and checks everything that can be checked without running it: keys and
 * types, dependencies (unknown names, cycles), plugin names, the schedule,
 * and every template, so that a mistake is reported once, with its
 * FILE:LINE:COLUMN, when the file is loaded rather than when a run reaches
 * the task at 2 a.m.  Uniqueness of DAG ids across files is the caller's
 * business (it sees all files).
 *
 * At run time, dag_render_params() turns a task's params into the JSON the
 * plugin receives, filling in "{{ ... }}" templates from the run.
 */
#ifndef KILN_DAG_H
#define KILN_DAG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cron.h"

/* How a task's priority is made from the weights (Airflow's weight_rule):
 * its own plus every task downstream of it, or upstream, or its own. */
enum weight_rule {
	WR_DOWNSTREAM,                   /* default */
	WR_UPSTREAM,
	WR_ABSOLUTE,
};
#define DAG_PRIORITY_MAX 1000000000  /* what a job's priority may be */

enum trigger_rule {
	TR_ALL_SUCCESS,                  /* default */
	TR_ALL_FAILED,
	TR_ALL_DONE,
	TR_ONE_SUCCESS,
	TR_ONE_FAILED,
	TR_NONE_FAILED,
	TR_NONE_FAILED_MIN_ONE_SUCCESS,
};

/* "all_success" ... ; "?" for a value out of range. */
const char *dag_trigger_rule_name(int rule);
/* The rule named S, or -1. */
int dag_trigger_rule_parse(const char *s);
/* "downstream", "upstream", "absolute"; "?" for a value out of range. */
const char *dag_weight_rule_name(int rule);

/* What a sensor task waits for (`sensor:`, src/sensor.c): the condition
 * is checked once per poke, every poke_interval, and between pokes the
 * task holds no worker slot and no pool slot (Airflow's reschedule mode).
 * DS_FILE and DS_HTTP are checked on a worker by the bundled plugin
 * `sensor` (its params: path; url and timeout_ms); DS_DAG_RUN and
 * DS_ARTIFACT by the master itself (params dag_id; name), without a
 * worker; DS_PLUGIN is the task's own plugin, which answers KILN_NOT_YET
 * (kiln/plugin.h) while the condition does not hold. */
enum dag_sensor_kind { DS_PLUGIN, DS_FILE, DS_HTTP, DS_DAG_RUN, DS_ARTIFACT };
#define DAG_POKE_MIN_MS 1000            /* poke_interval's floor */
#define DAG_POKE_DEFAULT_MS 30000
#define DAG_SENSOR_TIMEOUT_DEFAULT_MS (7LL * 24 * 3600 * 1000) /* Airflow's */

struct dag_sensor {
	int kind;                /* enum dag_sensor_kind */
	int64_t poke_interval_ms;
	int64_t timeout_ms;      /* from the first poke; then it fails */
	int64_t request_timeout_ms; /* DS_HTTP: per request, default 10 s */
	int soft_fail;           /* a timeout skips rather than fails */
	int latest;              /* DS_DAG_RUN: the latest run of that DAG
	                          * rather than the one of the same logical
	                          * date */
	unsigned allowed_states; /* DS_DAG_RUN: the run's states that make
	                          * the sensor succeed (bit i: the state
	                          * named dag_run_state_name(i)); default
	                          * success */
	unsigned failed_states;  /* ... and that fail it at once (default
	                          * none: a failed run may be cleared and
	                          * succeed before the timeout) */
};

/* The DAG-run states a dag_run sensor names, by index: "queued",
 * "running", "success", "failed" (as the store names them); NULL past
 * the last.  dag_run_state_bit(NAME): 1 << its index, or 0. */
const char *dag_run_state_name(int i);
unsigned dag_run_state_bit(const char *name);

/* "file", "http", "dag_run", "artifact", "plugin". */
const char *dag_sensor_kind_name(int kind);

/* Notifications (src/alert.c): `on_failure`, `on_success`, `on_retry`
 * and `on_deadline` of a task or of the DAG, each one target or a list
 * of at most DAG_CALLBACKS_MAX, and `deadline: { after: DURATION, from:
 * start|interval_end }`.  A webhook is an http(s) URL of at most
 * DAG_CALLBACK_URL_MAX bytes; a command a shell line of at most
 * DAG_CALLBACK_COMMAND_MAX, run by the master only if its cluster.yaml
 * says master.callback_commands: true. */
enum dag_event { DAG_ON_FAILURE, DAG_ON_SUCCESS, DAG_ON_RETRY,
                 DAG_ON_DEADLINE, DAG_NEVENTS };
enum dag_callback_kind { DCB_WEBHOOK, DCB_COMMAND };
enum dag_deadline_from { DDL_FROM_START, DDL_FROM_INTERVAL_END };
#define DAG_CALLBACKS_MAX 8
#define DAG_CALLBACK_URL_MAX 2048
#define DAG_CALLBACK_COMMAND_MAX 4096

struct dag_callback {
	int kind;                /* enum dag_callback_kind */
	char *target;            /* the URL or the command line */
	char *secret;            /* a webhook's `secret:`: the variable whose
	                          * value signs it, or NULL (the key derived
	                          * from the cluster secret) */
};

struct dag_callbacks {
	struct dag_callback *v;
	size_t n;
};

struct dag_deadline {
	int64_t after_ms;        /* 0 = no deadline */
	int from;                /* enum dag_deadline_from: a task's start is
	                          * its first try's, a run's its creation */
};

/* "on_failure", "on_success", "on_retry", "on_deadline"; and the event
 * names of notifications: "failure", "success", "retry",
 * "deadline_missed".  "?" out of range. */
const char *dag_event_key(int ev);
const char *dag_event_name(int ev);
/* "start", "interval_end". */
const char *dag_deadline_from_name(int from);

struct dag_task {
	char *id;                /* unique within the DAG */
	char *plugin;
	json_t *params;          /* object; strings may hold templates; the
	                          * DAG's `default.params` merged under it */
	char **deps;             /* depends_on, as written */
	size_t ndeps;
	int *dep_index;          /* deps[i] is dag->tasks[dep_index[i]] */
	int retries;             /* default 0 */
	int64_t retry_delay_ms;  /* default 300000 (Airflow's 5 minutes) */
	int retry_exponential;   /* delay * 2^(try-2) from the 2nd try on */
	int64_t max_retry_delay_ms; /* cap, default 24 h */
	int64_t timeout_ms;      /* 0 = none */
	int trigger_rule;        /* enum trigger_rule */
	char *pool;              /* default "default" */
	int priority;            /* its own weight, `priority_weight` (or
	                          * `priority`, its older name): default 1 */
	int weight_rule;         /* enum weight_rule: what it adds to it */
	int effective_priority;  /* what its jobs get: higher first */
	int slots;               /* default 1 */
	int64_t memory;          /* bytes, 0 = any */
	int line, column;        /* where the task's entry starts (1-based) */
	/* Dynamic task mapping, `expand: { PARAM: LIST }`: at run time the
	 * task runs once per element of LIST, each instance with its element
	 * as param PARAM.  NULL if the task is not mapped. */
	char *expand_param;
	json_t *expand;          /* a JSON array (its strings may hold
	                          * templates), or a string that is one
	                          * "{{ params.NAME }}" or "{{ tasks.ID.result
	                          * [.FIELD] }}" (dag_render_expand()) */
	struct dag_sensor *sensor; /* `sensor:`, or NULL: not a sensor */
	/* The task's own notifications, by enum dag_event, and deadline
	 * (not taken from `default:`: the DAG's own serve for all). */
	struct dag_callbacks on[DAG_NEVENTS];
	struct dag_deadline deadline;
};

struct dag {
	char *id;
	char *description;       /* or NULL */
	char *file;              /* the path as given to dag_load() */
	char *dir;               /* its directory, absolute ({{ dag.dir }}) */
	char *schedule_text;     /* as written, NULL = manual only */
	struct cron cron;        /* valid if schedule_text != NULL */
	int64_t start_date, end_date;  /* unix seconds (cron_parse_date());
	                          * 0 = none */
	int catchup;             /* default 0 */
	int max_active_runs;     /* default 16 */
	json_t *params;          /* object (maybe empty): defaults a run's
	                          * conf may override */
	struct dag_task *tasks;  /* in file order */
	size_t ntasks;
	size_t *order;           /* ntasks indexes: a topological order,
	                          * ties broken by file order */
	char *digest;            /* hex SHA-256 of the file's bytes */
	/* The run's notifications: on_failure and on_success when the run
	 * ends, on_retry at any task's retry, on_deadline (else on_failure)
	 * when the run's deadline passes before it ends. */
	struct dag_callbacks on[DAG_NEVENTS];
	struct dag_deadline deadline;
};

/*
 * Load and validate PATH.  PLUGIN_KNOWN (NULL = accept any name) returns
 * non-zero if the plugin NAME exists; UD is passed to it.
 * RET 0 and *out (free with dag_free), or a negative errno-style code and
 * *err = "FILE:LINE:COLUMN: message" (1-based; malloc()ed, caller frees).
 */
int dag_load(const char *path, int (*plugin_known)(const char *name, void *ud),
             void *ud, struct dag **out, char **err);
/* The same from the file's text BUF (LEN bytes) rather than the file
 * (an old version kept in the store, dagver.c); PATH names it in errors
 * and gives {{ dag.dir }}. */
int dag_load_text(const char *path, const char *buf, size_t len,
                  int (*plugin_known)(const char *name, void *ud), void *ud,
                  struct dag **out, char **err);
/* The whole file PATH (at most 4 MiB, a DAG file's limit) into *buf
 * (NUL-terminated, malloc()ed, caller frees), *len bytes. */
int dag_read_file(const char *path, char **buf, size_t *len, char **err);
void dag_free(struct dag *d);

/* The task called ID, or NULL. */
const struct dag_task *dag_task_find(const struct dag *d, const char *id);

/* Delay before try number TRY_NUMBER (1 is the first run, so 2 is the first
 * retry): retry_delay, doubled for every earlier retry if exponential,
 * never above max_retry_delay.  0 for TRY_NUMBER <= 1. */
int64_t dag_retry_delay_ms(const struct dag_task *t, int try_number);

/*
 * Templating.  "{{ name }}" (spaces optional) in any string of a task's
 * params, nested ones too.  Variables:
 *   ds, ds_nodash             logical date as YYYY-MM-DD / YYYYMMDD (UTC)
 *   logical_date, data_interval_start, data_interval_end   ISO 8601
 *   run_id, dag.id, task.id
 *   params.NAME               run conf merged over the DAG's params
 *   tasks.ID.result           the upstream task ID's result, compact JSON
 *   tasks.ID.result.FIELD     one top-level field of it: a string as is,
 *                             anything else as JSON
 *   var.NAME                  a variable (varconn.h), looked up at dispatch
 *   conn.NAME.FIELD           a connection's type, host, port, login,
 *                             password or extra.KEY, likewise
 *   map_index                 in a mapped task, the instance's index
 * In a mapped task, params.PARAM (its expand param) is the instance's
 * element, and tasks.ID.result of a mapped upstream ID is the array of
 * its instances' results in map index order.
 * A string that is nothing but one "{{ params.NAME }}" or
 * "{{ tasks.ID.result[.FIELD] }}" whose value is not a string becomes that
 * JSON value (a number stays a number); everything else renders to a
 * string.  dag_load() refuses unknown variables, params.NAME missing from
 * the DAG's params, tasks.ID.result of a task that is not upstream of this
 * one (directly or not), and an unterminated "{{".
 */
struct dag_ctx {
	const struct dag *dag;
	const struct dag_task *task;
	const char *run_id;
	int64_t logical_date, interval_start, interval_end; /* unix s */
	json_t *params;          /* merged run params; NULL = dag->params */
	/* The result of upstream task TASK_ID in this run (borrowed), or
	 * NULL if it has none.  May be NULL if no template needs it. */
	json_t *(*upstream_result)(const char *task_id, void *ud);
	void *ud;
	/* The text of "{{ var.NAME }}" or "{{ conn.NAME.FIELD }}" (EXPR is
	 * what is between the braces, trimmed): 0 and *VALUE (malloc()ed),
	 * or a negative code and *err.  NULL: such templates fail. */
	int (*secret)(const char *expr, void *ud, char **value, char **err);
	int map_index;           /* {{ map_index }}: the instance of a mapped
	                          * task being rendered (load refuses it in
	                          * tasks that are not mapped) */
};

/* Check a run's CONF against D's params: every key must be a param, of
 * the type of its default (an integer where a number is; anything where
 * the default is null).  0, or -EINVAL and *err naming the field
 * ("conf.rows: must be an integer ...").  */
int dag_conf_check(const struct dag *d, const json_t *conf, char **err);

/* Render CTX->task's params for a run.  RET a new object (caller decrefs),
 * or NULL and *err (e.g. an upstream without a result, a missing field). */
json_t *dag_render_params(const struct dag_ctx *ctx, char **err);
/* The list mapped task CTX->task expands over, rendered for the run.
 * RET a new array (caller decrefs), or NULL and *err (a template that
 * does not render, a value that is not a list). */
json_t *dag_render_expand(const struct dag_ctx *ctx, char **err);

#endif
