/* SPDX-License-Identifier: MIT */
/*
 * pipeline.h - the master's pipeline engine (the Airflow half): loads the
 * DAG files of the dags directory, creates DAG runs when their data
 * interval ends (catch-up included), decides which task instances run as
 * their upstream ends (trigger rules), and submits them to the scheduler
 * as jobs.  Every decision is written to the store before it is acted on:
 * a run exists once per interval (a unique index), a task instance's job
 * is inserted in the same transaction that marks it queued, and a master
 * restarted mid-run carries on from the store.
 */
#ifndef KILN_PIPELINE_H
#define KILN_PIPELINE_H

#include <jansson.h>

#include "alert.h"
#include "config.h"
#include "sched.h"
#include "store.h"

typedef struct pipeline pipeline;

/* Start the engine over C's dags directory (may be NULL: no files, but
 * the API still answers).  Runs its own thread. */
int pipeline_start(const struct kiln_config *c, store *st, sched *sc,
                   pipeline **out, char **err);
void pipeline_stop(pipeline *p);
/* Notifications of runs and tasks go to A (alert.h) from now on; stop
 * the pipeline before A. */
void pipeline_set_alert(pipeline *p, alert *a);
/* Scan the dags directory now rather than at the next periodic scan
 * (SIGHUP): new, changed and removed files take effect at once. */
void pipeline_rescan(pipeline *p);

/* For sched_set_done_hook(): job JOB of RUN ended in STATE. */
void pipeline_job_done(void *p, int64_t run, int64_t job, int state);

/* API.  Functions return 0, -ENOENT (unknown DAG/run/task), -EINVAL, or
 * another negative error, with *err set. */
json_t *pipeline_dags_json(pipeline *p);
json_t *pipeline_dag_json(pipeline *p, const char *dag_id);  /* NULL if unknown */
json_t *pipeline_errors_json(pipeline *p);
int pipeline_trigger(pipeline *p, const char *dag_id, json_t *conf,
                     char **run_id, char **err);
int pipeline_pause(pipeline *p, const char *dag_id, int paused, char **err);
/* Create the runs of every interval starting in [FROM, TO] (unix s);
 * *created counts the new ones (existing intervals are skipped). */
int pipeline_backfill(pipeline *p, const char *dag_id, int64_t from,
                      int64_t to, int *created, char **err);
/* Run TASK of RUN_ID again, with its downstream tasks if DOWNSTREAM. */
int pipeline_clear(pipeline *p, const char *run_id, const char *task,
                   int downstream, int *cleared, char **err);
/* Set TASK of RUN_ID to STATE: TI_NONE runs it again (a clear, with the
 * tasks downstream of it if DOWNSTREAM; with UPSTREAM, every task it
 * depends on gets STATE too: cleared, or marked), as the version of the DAG the
 * run ran (dagver.h) says, or with LATEST as the current one (the run
 * names the current version from then on); TI_SUCCESS or TI_FAILED
 * marks it (marking success also clears the tasks downstream that failed only
 * upstream, so they run).  A mark of a task still queued or running is
 * refused (-EBUSY).  With DRY_RUN nothing changes.  On 0, *TASKS (the
 * caller's) lists the task ids affected, in topological order. */
int pipeline_set_tasks(pipeline *p, const char *run_id, const char *task,
                       int state, int downstream, int upstream, int dry_run,
                       int latest,
                       json_t **tasks, char **err);
/* For /metrics: DAGs loaded, import errors, runs queued and running. */
void pipeline_stats(pipeline *p, int *dags, int *errors, int *queued,
                    int *running);
/* For /metrics: sensors up for reschedule (between pokes) in active runs. */
int pipeline_sensors_waiting(pipeline *p);
/* The last LIMIT runs of DAG_ID by task, for the dashboard's grid:
 * {tasks, deps, runs, cursor, from}.  CURSOR is the highest change
 * sequence of those runs (store_run.changed), FROM the oldest run's id.
 * With SINCE >= 0 (a cursor of an earlier answer) only the runs that
 * changed after it are listed, and tasks and deps are left out.  With
 * COMPACT a run has "states" (a character per task of TASKS, '0' + its
 * state's number in "codes") and "extra" (the whole cells of the tasks
 * tried more than once, waiting for a poke, or mapped) for "tis". */
json_t *pipeline_grid_json(pipeline *p, const char *dag_id, int limit,
                           int64_t since, int compact);
json_t *pipeline_run_json(pipeline *p, const char *run_id);   /* NULL if unknown */

#endif
