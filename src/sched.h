/* SPDX-License-Identifier: MIT */
/*
 * sched.h - what runs next and where: the master's in-memory queue, the
 * workers it knows, and placement.
 *
 * The store is the truth; the scheduler is a cache of it that decides.
 * Every decision (a job handed to a worker, a result accepted, a job put
 * back after its worker died) is made under the scheduler's lock, written
 * to the store with store_apply() - outside the lock, so that concurrent
 * exchanges share one commit - and only then acknowledged.  A master that
 * restarts rebuilds the scheduler from store_job_unfinished().
 *
 * Placement: a worker takes, in priority then submission order, the queued
 * jobs whose plugin it has and whose slots and memory fit in what it has
 * free (as the Spark master hands work to a worker with enough free
 * cores and memory).
 */
#ifndef KILN_SCHED_H
#define KILN_SCHED_H

#include <stdint.h>
#include <stddef.h>
#include <jansson.h>

#include "store.h"

typedef struct sched sched;

struct sched_opts {
	int64_t worker_timeout_ms;   /* no exchange for this long = dead */
	int max_lost;                /* a job whose worker died while running
	                              * it this often fails as poison,
	                              * default 2 */
	int batch_max;               /* most tasks handed out per exchange */
	int prefetch;                /* most tasks per slot a worker may hold
	                              * while the queue is deep, default 256;
	                              * only for plugins whose tasks take under
	                              * 20 ms, and about 50 ms of their work */
	int64_t heartbeat_ms;        /* a worker silent for over twice this is
	                              * "late" (default 1000) */
	int beats_per_s;             /* the most heartbeats per second the
	                              * master takes from all its workers
	                              * (default SCHED_BEATS_PER_S): past
	                              * that, each worker is told to beat less
	                              * often (sched_heartbeat_ms), and the
	                              * timeouts grow alike */
};

/* 1,000 workers at one beat a second would cost the master 20% of a core
 * (200 us a heartbeat, bench/workers_bench.py); at 200 beats a second, 4%.
 * Nomad's max_heartbeats_per_second does the same (its default is 50). */
#define SCHED_BEATS_PER_S 200

/* A task handed to a worker.  Strings owned by the struct. */
struct sched_task {
	int64_t id;
	int attempt;
	char *plugin;
	char *params;
	char *inputs;         /* JSON array of {name, sha, size}, or NULL */
	int slots;
	int64_t memory;
	int64_t timeout_ms;
	int stage;            /* a map task of a stage (see below) */
	int64_t stage_id;     /* then its stage, and its index in it */
	int64_t index;
};
void sched_task_clear(struct sched_task *t);

/* A finished attempt reported by a worker.  Strings borrowed. */
struct sched_result {
	int64_t id;
	int attempt;
	int state;            /* JOB_SUCCEEDED, JOB_FAILED or JOB_CANCELLED */
	int code;             /* a failed attempt's KILN_E* (kiln/plugin.h):
	                       * the plugin's return, or the worker's own
	                       * error; 0 if the worker did not say */
	const char *result;
	const char *outputs;  /* JSON array of {name, sha, size}, or NULL */
	const char *const *output_shas; /* their shas: the worker keeps */
	size_t noutput_shas;            /* a copy (a hint for locality) */
	const char *error;
	const char *log;
	int64_t finished_ms;
	int64_t duration_ms;  /* run time at the worker, -1 = unknown */
};

/* An attempt a worker holds (running, or finished but not yet acked). */
struct sched_held {
	int64_t id;
	int attempt;
};

/* What a worker says of itself when it registers.  PLUGINS is a JSON array
 * of {"name","version",...} (borrowed; the scheduler keeps a reference). */
struct sched_worker_info {
	const char *name;
	const char *host;
	int slots;
	int64_t memory;
	json_t *plugins;
	json_t *plugin_errors; /* [{file, error}] or NULL (borrowed) */
	int listed;           /* named in cluster.yaml */
};

int sched_new(store *st, const struct sched_opts *o, sched **out, char **err);
void sched_free(sched *s);

/* Rebuild the queue and the running set from the store. */
int sched_recover(sched *s, char **err);

/* FN(UD, RUN, JOB, STATE) is called (without the lock held) when job JOB
 * of DAG run RUN ends in STATE (succeeded, failed for good, cancelled),
 * and with STATE SCHED_DONE_RETRY when a try of it failed and it is
 * queued again for a retry (alert.c's on_retry). */
#define SCHED_DONE_RETRY (-1)
void sched_set_done_hook(sched *s, void (*fn)(void *, int64_t run,
                         int64_t job, int state), void *ud);
/* At most SLOTS jobs of pool NAME run at once (-1 = no limit). */
void sched_set_pool(sched *s, const char *name, int slots);

/* Called (without the lock held) when something long polls wait for
 * changed: WORKERS is 0 when only clients can care (jobs finished and
 * nothing is queued, so no worker's poll would find a task), 1 when new
 * work or a cancel may be there too. */
void sched_set_wakeup(sched *s, void (*fn)(void *, int workers), void *ud);

/* Queue N jobs (validated by the caller); durable on return, ids set in
 * jobs[i].id.  The job's plugin must be known (sched_has_plugin) unless
 * the caller accepts a job no worker can run yet. */
int sched_submit(sched *s, struct store_job *jobs, size_t n, char **err);
/* As sched_submit, and in the same transaction IDEM (a STORE_IDEM op,
 * whose .id is set to N here; NULL for none): the request's idempotency
 * key is durable exactly when its jobs are. */
int sched_submit_idem(sched *s, struct store_job *jobs, size_t n,
                      const struct store_op *idem, char **err);

/* Cancel job ID: 0 if it was queued or running (now cancelled; a running
 * task is told to stop at its worker's next exchange), -ENOENT if unknown,
 * -EALREADY if it had already finished. */
int sched_cancel(sched *s, int64_t id, char **err);

/* A worker (re)joins.  HELD lists the attempts it still has: those the
 * master also thinks it runs stay running, the master's others on it go
 * back to the queue, and held ones the master gave elsewhere are added to
 * *cancel (malloc()ed, *ncancel entries).  *session identifies this
 * registration in later exchanges. */
int sched_register(sched *s, const struct sched_worker_info *w,
                   const struct sched_held *held, size_t nheld,
                   uint64_t *session, struct sched_held **cancel,
                   size_t *ncancel, char **err);

/* One round trip from worker NAME.  Accepts RESULTS (durably; every one
 * of them is acknowledged, applied or stale), asks the worker to cancel
 * attempts in RUNNING that are no longer its own, and
 * hands out up to WANT new tasks that fit the worker.  Returns -ESTALE if
 * SESSION is not the worker's current registration (it must register
 * again).  Outputs are malloc()ed arrays the caller frees (tasks with
 * sched_task_clear on each). */
struct sched_exchange {
	struct sched_task *tasks;
	size_t ntasks;
	struct sched_held *cancel;
	size_t ncancel;
	int64_t heartbeat_ms;   /* the worker's interval now */
};
int sched_exchange(sched *s, const char *name, uint64_t session,
                   const struct sched_result *results, size_t nresults,
                   const struct sched_held *running, size_t nrunning,
                   int want, struct sched_exchange *out, char **err);
void sched_exchange_clear(struct sched_exchange *x);
/* The heartbeat interval workers are told: o.heartbeat_ms, or longer when
 * the live workers would together beat more than o.beats_per_s times a
 * second.  A worker is declared dead after o.worker_timeout_ms scaled by
 * the same factor, and late after two intervals. */
int64_t sched_heartbeat_ms(sched *s);
/* What worker NAME (of SESSION) said of its artifact cache, for
 * sched_worker_json(): bytes, files, budget (each >= 0).  Ignored for a
 * worker not registered with that session. */
void sched_worker_cache(sched *s, const char *name, uint64_t session,
                        int64_t bytes, int64_t files, int64_t budget);

/* Declare workers silent for longer than the timeout dead, and requeue
 * their tasks.  Returns the number of workers declared dead. */
int sched_reap(sched *s);

/* Worker NAME leaves cleanly: it is dead now and its tasks requeued. */
int sched_leave(sched *s, const char *name, uint64_t session);

/* The log of a running attempt, as its worker reports it: append TEXT;
 * read it back (malloc()ed, NULL if job ID is not running; *attempt set). */
void sched_live_log_add(sched *s, int64_t id, int attempt, const char *text);
char *sched_live_log(sched *s, int64_t id, int *attempt);

/*
 * Stages: the map tasks of a driver job's host->stage() call (see
 * docs/analytics.md).  They live in memory only, ahead of every queued
 * job, and run in a room of their own on each worker (as many as its
 * slots), so that drivers waiting for their stages never starve them.
 * A map task prefers a worker that already holds its data (LOCALITY, the
 * sha of its partition) for a short delay.  One lost with its worker is
 * run again elsewhere; one that fails is retried twice; after that the
 * stage fails.  A map task that fails with KILN_EINVAL (bad parameters or
 * input: it would fail the same way on any worker) fails the stage at
 * once, without retries.  Other codes are retried: KILN_EFAIL and 0 (a
 * crash-like or unknown fault), KILN_EIO (the data could not be fetched
 * or stored) and KILN_ENOMEM (another worker may have room).  A stage is
 * dropped when its driver stops running.
 */
#define SCHED_STAGE_MAX_TASKS 4096
struct sched_stage_task {
	const char *params;   /* JSON object text */
	const char *inputs;   /* JSON array of {name, sha, size}, or NULL */
	const char *locality; /* sha of the data it reads, or NULL */
};
/* Queue the N map tasks of a stage of running job OWNER (attempt
 * OWNER_ATTEMPT), run by PLUGIN's map entry; *id names the stage.
 * -ESTALE if OWNER does not run that attempt. */
int sched_stage_submit(sched *s, int64_t owner, int owner_attempt,
                       const char *plugin, const struct sched_stage_task *t,
                       size_t n, int64_t *id, char **err);
/* 0 while the stage runs; 1 when it is done, with *results (*n JSON
 * texts in task order) and *outputs (*n JSON arrays of {name, sha, size}
 * each map task's worker uploaded, or NULL: ABI 1.7), malloc()ed, the
 * caller frees them and the arrays; -EIO with *err if a map task failed
 * for good; -ENOENT if unknown.  A stage that is done or failed is
 * forgotten once polled. */
int sched_stage_poll(sched *s, int64_t id, char ***results, char ***outputs,
                     size_t *n, char **err);
/* Forget a stage, cancelling its running map tasks; -ENOENT if unknown. */
int sched_stage_cancel(sched *s, int64_t id);

/* Views for the API (new references). */
json_t *sched_workers_json(sched *s);
/* The pools, by name: [{name, slots (null: no limit), running, queued,
 * open (slots left; null: no limit)}].  A pool exists once configured
 * (master.pools) or named by a job. */
json_t *sched_pools_json(sched *s);
/* One worker as listed, with its running tasks [{id, attempt, plugin,
 * started_ms, map_task}], heartbeats (unix ms of its last exchanges,
 * oldest first, at most 32), data_held (files the master knows it
 * fetched), stage_busy and plugin_errors; NULL if unknown. */
json_t *sched_worker_json(sched *s, const char *name);
/* The stages of driver job JOB (stage_list_json()); a new array. */
json_t *sched_stages_json(sched *s, int64_t job);
json_t *sched_plugins_json(sched *s);
json_t *sched_plugin_errors_json(sched *s);   /* [{worker, file, error}] */
/* Non-zero if some live worker has plugin NAME. */
int sched_has_plugin(sched *s, const char *name);
/* Non-zero if no live worker has plugin NAME but a job in the store
 * named it and the master started less than a worker timeout ago: its
 * workers may not have registered again yet, so a submission of it is
 * queued rather than refused as an unknown plugin. */
int sched_plugin_awaited(sched *s, const char *name);
/* Why a queued job of PLUGIN asking for SLOTS and MEMORY bytes (0: none)
 * fits no live worker (malloc()ed, the caller frees), or NULL if one
 * could hold it.  Workers may join later: the job waits all the same. */
char *sched_unschedulable(sched *s, const char *plugin, int slots,
                          int64_t memory);
/* The parameters plugin NAME declares, as a live worker announced them
 * (see plugin_params_decl_json): a new reference, or NULL if none did. */
json_t *sched_plugin_decl(sched *s, const char *name);

struct sched_stats {
	int64_t queued, running;
	int workers_alive, workers_dead;
	int slots_total, slots_busy;
	int workers_late;          /* alive, but silent past two heartbeats */
};
void sched_stats(sched *s, struct sched_stats *st);
/* What makes the cluster unhealthy: [{worker, state ("dead" or "late"),
 * heartbeat_age_ms}], empty when all is well.  A worker that left on its
 * own is not a problem. */
json_t *sched_problems_json(sched *s);

#endif
