/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the master's Prometheus metrics: a fixed registry of
 * counters and histograms that any thread updates with atomics, and a
 * renderer of the text exposition format (version 0.0.4) for /metrics.
 *
 * Events (metrics_http, metrics_task_done, ...) are cheap enough for hot
 * paths: no lock and no allocation, except a short mutex the first time a
 * new plugin or route label is seen.  Label sets are bounded: at most
 * METRICS_MAX_PLUGINS plugins, METRICS_MAX_ROUTES routes and
 * METRICS_MAX_PAIRS route/status pairs get their own series; the rest fold
 * into plugin="other" / route="other".  Gauges (workers, queue depth, ...)
 * belong to other modules and are passed in at render time.
 *
 * The registry is a process-wide singleton, usable without metrics_init()
 * (it starts zeroed); the metric names are listed in docs/metrics.md.
 */
#ifndef KILN_METRICS_H
#define KILN_METRICS_H

#include <stddef.h>

#define METRICS_MAX_PLUGINS  64
#define METRICS_MAX_ROUTES   64
#define METRICS_MAX_PAIRS    256     /* ~25 routes x ~8 statuses fit */
/* Plugin and route names this long or longer fold into "other". */
#define METRICS_NAME_MAX     96

/* Final states for metrics_task_done(). */
enum { METRICS_TASK_SUCCEEDED = 0, METRICS_TASK_FAILED = 1,
       METRICS_TASK_CANCELLED = 2 };

/* Reset every counter and forget every label: once at master start (and
 * between tests).  Not safe while other threads record events. */
void metrics_init(void);

/* ------------------------------------------------------------- events */
/* All thread-safe.  Durations are in seconds; a negative or NaN one
 * counts as 0 (but see metrics_task_done). */

/* One HTTP response: ROUTE, the label of its route (a route's pattern
 * such as "/api/v1/jobs/:id", "static" or "other": the API's route table
 * says, see api_route_label()), its STATUS, and the time from the
 * request's arrival to the response being queued. */
void metrics_http(const char *route, int status, double seconds);

/* A job reached a final state (METRICS_TASK_*; others count as failed):
 * RUN_SECONDS from start to end on the worker, QUEUE_WAIT_SECONDS from
 * submission to start.  A negative duration is not observed in its
 * histogram: pass -1 for both when the job never started (cancelled while
 * queued), so it counts in kiln_tasks_total only. */
void metrics_task_done(const char *plugin, int final_state,
                       double run_seconds, double queue_wait_seconds);
/* One group commit of the store's writer: its latency and the number of
 * operations it carried. */
void metrics_sqlite_write(double seconds, int ops);
/* One pass of the pipeline scheduler loop. */
void metrics_sched_loop(double seconds);
/* A DAG run finished, successfully or not. */
void metrics_dag_run_done(int success);
/* A sensor's timeout passed (src/pipeline.c). */
void metrics_sensor_timeout(void);

/* ------------------------------------------------------------- render */

/* A node and how often its supervisor restarted it (restarts.h). */
struct metrics_node_restarts {
	char *node;
	long long count;
};

/* A pool's occupancy (sched_pools_json()); SLOTS -1: no limit. */
struct metrics_pool {
	const char *name;
	int slots;
	int running;
	long long queued;
};

/* Values other modules own, sampled by the caller just before rendering. */
struct metrics_gauges {
	int workers_alive, workers_dead;
	int slots_total, slots_busy;
	long long queue_depth;          /* jobs waiting for a worker */
	long long jobs_running;
	int dag_runs_queued, dag_runs_running;
	int dags, dag_import_errors;
	double uptime_seconds;
	const char *version;            /* e.g. PACKAGE_VERSION; NULL: "unknown" */
	const struct metrics_node_restarts *restarts;   /* NRESTARTS of them */
	size_t nrestarts;
	const struct metrics_pool *pools;       /* NPOOLS of them */
	size_t npools;
	int sensors_waiting;            /* up for reschedule (sensor.h) */
};

/* The whole exposition text: G's gauges (omitted if G is NULL) and every
 * counter and histogram.  RET: a malloc()ed string the caller frees;
 * serve it as "text/plain; version=0.0.4; charset=utf-8". */
char *metrics_render(const struct metrics_gauges *g);

/* Write VALUE into BUF (of size LEN, always NUL-terminated) as a Prometheus
 * label value: backslash, double quote and newline escaped.  RET: the
 * length the full escaped text needs (as snprintf). Exposed for tests. */
size_t metrics_escape(char *buf, size_t len, const char *value);

#endif
