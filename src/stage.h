/* SPDX-License-Identifier: MIT */
/*
 * stage.h - distributed stages (docs/analytics.md): a driver task's
 * host->stage() call runs its map tasks across the cluster and gets their
 * results back in task order.
 *
 * Two halves, one per side of the protocol:
 *  - the driver side, on the worker that runs the driver task:
 *    stage_run() submits the map tasks to the master, waits on its long
 *    poll, and collects the results (submitting again should the master
 *    restart meanwhile, and dropping the stage if the driver is cancelled);
 *  - the bookkeeping, on the master: which map tasks a stage has, which
 *    are done, their results, and when a failed one is retried.  The
 *    scheduler (sched.c) owns the map tasks themselves (queue, placement,
 *    workers) and calls these functions under its lock; a stage knows its
 *    map tasks by their ids only.
 */
#ifndef KILN_STAGE_H
#define KILN_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "kiln/plugin.h"
#include "proto.h"

/* --------------------------------------------------------- driver side */

/* The driver task a stage runs for. */
struct stage_driver {
	kiln_task *task;                 /* its cancellation ends the wait */
	int64_t job;                     /* its job and attempt */
	int attempt;
	const char *plugin;              /* its plugin, whose map() runs */
	const struct proto_file *inputs; /* its inputs: map tasks name them by */
	size_t ninputs;                  /* index (kiln_stage_task.inputs) */
	int adopt;                       /* its plugin is of ABI 1.7 or later:
	                                  * map tasks' outputs become the
	                                  * task's (task_output_adopt()) */
};

/* host->stage() for driver D, talking to the master through client C:
 * runs map tasks TASKS[0..N) of function FN with BROADCAST (JSON text or
 * NULL).  0 with *results (N JSON texts in task order, malloc()ed, the
 * caller frees them and the array); KILN_ECANCELLED if the driver was
 * cancelled; KILN_EINVAL if an argument is not JSON or names an input
 * the driver lacks, or if D adopts its map tasks' outputs and a name is
 * taken twice; KILN_EFAIL otherwise; each with *err (malloc()ed). */
int stage_run(client *c, const struct stage_driver *d, const char *fn,
              const char *broadcast, const struct kiln_stage_task *tasks,
              int n, char ***results, char **err);

/* --------------------------------------------------------- master side */

/* One stage: the map tasks of one host->stage() call of a running driver
 * job.  In memory only: a master that restarts forgets its stages and the
 * drivers submit them again (the driver job itself is durable). */
struct stage;

/* The stages of a master.  Not locked: its user (sched) holds its own lock
 * across every call below. */
struct stage_list {
	struct stage *head;
	struct stage *ended;             /* the last STAGE_HISTORY that ended,
	                                  * newest first, for the job page */
	int nended;
	int64_t next_id;                 /* ids of stages, from 1 */
};
/* Free every stage of L (their map tasks are the caller's). */
void stage_list_clear(struct stage_list *l);

/* A new stage of N map tasks of PLUGIN for attempt OWNER_ATTEMPT of
 * driver job OWNER, added to L; its tasks are set with stage_set_task(). */
struct stage *stage_new(struct stage_list *l, int64_t owner,
                        int owner_attempt, const char *plugin, size_t n);
/* Unlink ST from L; what it did is kept (without its results) among the
 * last ended stages, which stage_list_json() lists. */
void stage_remove(struct stage_list *l, struct stage *st);
struct stage *stage_find(const struct stage_list *l, int64_t id);
/* Walk L: stage_next(L, NULL) is the first; NULL after the last. */
struct stage *stage_next(const struct stage_list *l, const struct stage *st);

int64_t stage_id(const struct stage *st);
/* The driver job; its attempt in *attempt. */
int64_t stage_owner(const struct stage *st, int *attempt);
size_t stage_size(const struct stage *st);
/* The id of map task I (set by the caller), 0 once it ended for good. */
int64_t stage_task(const struct stage *st, size_t i);
void stage_set_task(struct stage *st, size_t i, int64_t id);

/* Map task I's attempt started on WORKER, which held its data (LOCAL 1),
 * did not (0), or it reads none (-1); it went back to the queue. */
void stage_task_started(struct stage *st, size_t i, const char *worker,
                        int local);
void stage_task_requeued(struct stage *st, size_t i);

/* The stages of driver job OWNER, running and recently ended, oldest
 * first: [{stage, job, attempt, plugin, state, tasks_total, tasks_done,
 * created_ms, ended_ms, error?, tasks: [{index, state, attempts, worker,
 * started_ms, ended_ms, duration_ms, local}]}] (docs/api.md).  New. */
json_t *stage_list_json(const struct stage_list *l, int64_t owner);

/* What became of a map task's attempt (stage_task_ended). */
enum stage_verdict {
	STAGE_TASK_DONE,        /* succeeded: its result is kept */
	STAGE_TASK_RETRY,       /* failed; run it again */
	STAGE_TASK_FAILED,      /* failed for good: so did the stage */
};
/* Map task I's attempt ended in STATE (JOB_*) with CODE (KILN_E*), RESULT
 * (JSON text or NULL), OUTPUTS (the JSON array of {name, sha, size} its
 * worker uploaded, or NULL; kept only from the attempt that succeeded) and
 * ERROR.  A failed task is retried twice, unless
 * it failed with KILN_EINVAL (bad input fails the same way anywhere); a
 * cancelled one is not retried.  Unless retried, task I is forgotten
 * (stage_task() is 0): the caller removes it. */
enum stage_verdict stage_task_ended(struct stage *st, size_t i, int state,
                                    int code, const char *result,
                                    const char *outputs, const char *error);

/* 0 while ST runs; 1 when it is done, with *results (*n JSON texts in
 * task order) and *outputs (*n output lists as JSON texts, NULL for a task
 * that wrote none), both handed over: the caller frees them and the
 * arrays; -EIO with *err once a map task failed for good. */
int stage_outcome(struct stage *st, char ***results, char ***outputs,
                  size_t *n, char **err);

#endif
