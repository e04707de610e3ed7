/* SPDX-License-Identifier: MIT */
/*
 * store.h - the master's durable state in SQLite; the only module with SQL.
 *
 * One writer thread owns the write connection and commits whatever batches
 * callers hand it in one transaction (group commit): store_apply() returns
 * only after the batch is durable (WAL; see store_open), so a state change
 * is never acknowledged before it is on disk.  Reads use their own
 * connection and never wait for the writer (WAL readers).  The schema is
 * versioned with PRAGMA user_version and migrated forward on open.
 */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include <stdint.h>
#include <stddef.h>

#include "jobstate.h"   /* enum job_state, job_state_name() */

typedef struct store store;

/* A job as stored.  Strings are malloc()ed and owned by the struct; free
 * them with store_job_clear(). */
struct store_job {
	int64_t id;
	char *plugin;
	char *params;        /* JSON object text */
	int state;
	int priority;        /* higher runs first */
	int slots;           /* slots the task occupies, >= 1 */
	int64_t memory;      /* bytes the task needs, 0 = any */
	int64_t timeout_ms;  /* 0 = none */
	int max_attempts;
	int attempt;         /* attempts started so far; current one if running */
	char *worker;        /* worker of the current/last attempt, or NULL */
	char *result;        /* JSON text or NULL */
	char *error;         /* or NULL */
	int64_t created_ms, started_ms, finished_ms; /* unix ms; 0 = not yet */
	/* Pipelines (schema 2): the task instance this job runs, if any. */
	int64_t run;         /* dag_runs.id, 0 = a plain job */
	char *task;          /* task id within the run, or NULL */
	int64_t retry_delay_ms;  /* wait before a retry */
	int retry_exponential;   /* double the wait at each retry */
	int64_t retry_max_delay_ms;
	char *pool;          /* or NULL = no pool */
	/* Schema 3: data between tasks, JSON arrays of {name, sha, size}. */
	char *inputs;        /* files the task receives, or NULL */
	char *outputs;       /* files it produced (set by STORE_FINISH) */
	/* Filled by store_job_list() only (NULL or 0 elsewhere): the DAG and
	 * run_id of its run, and when its last attempt ended if it is
	 * queued again for a retry (the list says since when it waits). */
	char *dag_id, *run_id;
	int64_t requeued_ms;
	/* Schema 7: the instance of a mapped task it runs (STORE_SUBMIT
	 * only: which task instance row it is written into). */
	int mapped;          /* 0 = the task itself */
	int map_index;       /* if mapped: 0..n-1 */
};
void store_job_clear(struct store_job *j);

/* One attempt of a job. */
struct store_attempt {
	int64_t job_id;
	int attempt;
	char *worker;
	int state;           /* JOB_RUNNING, or the attempt's end state; a lost
	                      * attempt (worker died) is JOB_FAILED with error */
	char *error;
	int64_t started_ms, finished_ms;
};
void store_attempt_clear(struct store_attempt *a);

struct store_run_new;

/* A state transition, applied atomically with others in store_apply(). */
enum store_op_kind {
	STORE_SUBMIT,   /* insert a queued job from .job; sets .job.id */
	STORE_START,    /* queued -> running: .id, .attempt (the new attempt
	                 * number, above the job's last one), .worker, .t_ms */
	STORE_FINISH,   /* running(.attempt) -> .state (succeeded, failed or
	                 * cancelled): .result, .error, .log, .t_ms; with
	                 * .start_folded, queued at an earlier attempt ->
	                 * .state too (see start_folded) */
	STORE_REQUEUE,  /* running(.attempt) -> queued; the attempt is closed
	                 * as failed with .error (worker lost, retry) and .log;
	                 * .start_folded as for STORE_FINISH */
	STORE_CANCEL,   /* queued or running -> cancelled, .t_ms; a running
	                 * attempt is closed as cancelled */
	STORE_RUN_CREATE, /* a DAG run and its task instances from .run_new;
	                 * sets .id to the run's row id; not applied if a
	                 * non-manual run of that DAG and logical date exists */
	STORE_TI_SET,   /* task instance (.run, .task) -> .state, with the
	                 * reason .error (or NULL); TI_NONE also forgets its
	                 * job and a mapped task's instances (task clear) */
	STORE_RUN_STATE, /* run .id -> .state at .t_ms */
	STORE_DAG_SET,  /* DAG .dag_id: .paused (-1 = keep), .next_start
	                 * (-1 = keep): the next interval to schedule */
	STORE_META,     /* meta key .task := value .result */
	STORE_ARTIFACT, /* record artifact .task (its SHA-256 hex) of .id
	                 * bytes; not applied if known */
	STORE_LOG,      /* a late report of a closed attempt (.id, .attempt):
	                 * keep its .log if the attempt has none; no state
	                 * changes */
	STORE_TOKEN_REVOKE, /* API token .id revoked at .t_ms; not applied if
	                 * unknown or already revoked */
	STORE_TOKEN_USED, /* API token .id last used at .t_ms; not applied if
	                 * the use recorded is less than
	                 * STORE_TOKEN_USED_EVERY_MS older (see
	                 * store_token_check) */
	STORE_PURGE,    /* retention: delete up to .attempt DAG runs and up
	                 * to .attempt jobs that finished before .t_ms (which
	                 * must be set), oldest first, with their task
	                 * instances, attempts and logs; a job of a run still
	                 * kept stays.  Then up to .attempt artifacts recorded
	                 * (or put again) before .t_ms that no job left names
	                 * in its inputs or outputs: their rows go, and their
	                 * names are in .purged_shas for the caller to delete
	                 * the files.  Counts in .purged_runs, .purged_jobs,
	                 * .purged_artifacts */
	STORE_IDEM,     /* idempotency key .task of principal .worker for a
	                 * request whose hash is .result: records the jobs of
	                 * the .id STORE_SUBMIT ops just before it in the
	                 * batch; expired keys are dropped first; not applied
	                 * if the key is known (store_idem_get) */
	STORE_DAG_VERSION, /* DAG .dag_id's file text .log (.id bytes) whose
	                 * SHA-256 hex is .result: a new version (numbered
	                 * from 1 per DAG) unless its latest has that hash;
	                 * applied if new (store_dag_version_get() reads the
	                 * number) */
	STORE_RUN_VERSION, /* run .id runs DAG version .dag_version from now
	                 * on; .run_new (optional) lists that version's
	                 * tasks: those the run lacks get instances */
	STORE_TI_EXPAND, /* task .task of run .run, in state none, is mapped:
	                 * it becomes running and gets .map_count instances
	                 * (map indexes 0..map_count-1) in state none, to be
	                 * submitted as jobs with .mapped; not applied if the
	                 * task was not none */
};

struct store_op {
	int kind;
	int64_t id;
	int attempt;
	int state;
	const char *worker;
	const char *result;
	const char *error;
	const char *log;
	int64_t t_ms;           /* time of the transition; 0 = now */
	/* STORE_FINISH, STORE_REQUEUE: the attempt's STORE_START was never
	 * written (a short task, sched.c): this op writes it as well, from
	 * .worker and .started_ms, if the job is still queued at an earlier
	 * attempt. */
	int start_folded;
	int64_t started_ms;
	struct store_job job;   /* STORE_SUBMIT only; strings borrowed.  On
	                         * return .id is set, and .state, .slots,
	                         * .max_attempts hold what was stored (slots
	                         * and max_attempts at least 1); created_ms 0
	                         * means .t_ms */
	const char *outputs;    /* STORE_FINISH: the job's outputs, or NULL */
	int64_t run;            /* STORE_TI_SET, STORE_TI_EXPAND; for a job's
	                         * transition, -1 if the caller knows the
	                         * job runs no task instance (none is looked
	                         * for), else 0 */
	const char *task;       /* STORE_TI_SET, STORE_TI_EXPAND */
	int map_count;          /* STORE_TI_EXPAND */
	const char *dag_id;     /* STORE_DAG_SET */
	int paused;             /* STORE_DAG_SET */
	int64_t next_start;     /* STORE_DAG_SET */
	const struct store_run_new *run_new; /* STORE_RUN_CREATE,
	                         * STORE_RUN_VERSION */
	int dag_version;        /* STORE_RUN_VERSION */
	int applied;            /* out: 1 if the transition took effect, 0 if
	                         * the job was not in the expected state */
	int purged_runs, purged_jobs; /* out: STORE_PURGE */
	int purged_artifacts;   /* out: STORE_PURGE, and their names in a
	                         * NULL-terminated malloc()ed array of
	                         * malloc()ed strings that the caller frees
	                         * (NULL if none) */
	char **purged_shas;
};

/* Open (creating and migrating) the database at PATH.  SYNC_FULL chooses
 * PRAGMA synchronous=FULL (durable across power loss) over NORMAL
 * (durable across a crash of the process, not of the machine). */
int store_open(const char *path, int sync_full, store **out, char **err);
/* Commit what is queued, stop the writer and free everything.  No other
 * thread may be using S any more. */
void store_close(store *s);

/* Apply N ops in one durable transaction (shared with other callers'
 * batches).  Returns 0 when committed; ops[i].applied tells which took
 * effect.  On error nothing of the batch is applied.  A malformed op
 * (unknown kind, submit without plugin, finish into a non-final state)
 * fails the call with -EINVAL before anything is queued; a database error
 * fails every batch that shared the transaction.  Any thread may call
 * it, also from inside a read callback. */
int store_apply(store *s, struct store_op *ops, size_t n, char **err);

/* store_apply(), and once the ops ran inside the transaction (submitted
 * jobs have their ids) but before its COMMIT is made durable, EARLY(UD,
 * OPS, N) is called on the writer thread, so the caller can act on the
 * jobs (hand them to workers) while the disk syncs.  EARLY must not wait
 * for anything that may wait for the store: no store call, and no lock
 * that a thread may hold across one (unless for a bounded time, which
 * then holds up the commit).  It is not called when the transaction
 * gives ids to more than 256 jobs in all; *EARLY_RAN (if not NULL) says
 * whether it was.  If the commit then fails the call fails as
 * store_apply() does and what EARLY acted on must be undone: the ids
 * it saw are never given to other jobs, in this process or after a
 * restart (each open skips 256 ids). */
int store_apply_early(store *s, struct store_op *ops, size_t n,
                      void (*early)(void *ud, const struct store_op *ops,
                                    size_t n),
                      void *ud, int *early_ran, char **err);

/* Queue N ops (STORE_START, STORE_REQUEUE, STORE_CANCEL, STORE_LOG or
 * STORE_TOKEN_USED;
 * copied, with their strings) and return at once: they are committed
 * with the next store_apply() batch, or on their own within a few
 * milliseconds, in the order queued relative to every other batch.  For
 * transitions whose loss in a crash recovery repairs: a task handed to a
 * worker is confirmed by that worker when it registers again (sched.c),
 * so handing it out need not wait for an fsync of its own.  A write
 * that fails as a full or failing disk does is tried again (every
 * 500 ms, ahead of newer ops) until it succeeds; any other write error
 * ends the process (exit 3) to recover from the store on restart, as no
 * caller is left to tell.  -EINVAL for another kind of op. */
int store_apply_later(store *s, const struct store_op *ops, size_t n,
                      char **err);

/* 1 if the last commit succeeded; 0 while the store cannot be written
 * (disk full or failing: the last commit failed with -ENOSPC or -EIO),
 * with *why (if WHY is not NULL; the caller frees) saying why.  Cleared
 * by the next commit that succeeds: callers keep trying. */
int store_writable(store *s, char **why);

/* A store operation failed after decisions were acted on in memory: the
 * store is the truth, so the only safe way on is a restart, which
 * recovers from it.  Logs "WHAT: ERR" (WHAT may be NULL) and exits with
 * status 3. */
void store_fatal(const char *what, const char *err)
	__attribute__((noreturn));

/* Return once every op queued before the call, deferred ones included,
 * is committed. */
int store_sync(store *s, char **err);

/* Transactions committed by the writer since open (one per group of
 * batches): with concurrent callers it is lower than the store_apply()
 * calls. */
uint64_t store_commits(store *s);

/* Reads.  Return 0, or -ENOENT if there is no such job (*err untouched),
 * or another negative error with *err set.  Reads share one connection,
 * one at a time: a callback may call store_apply() but must not call
 * another read function of the same store. */
int store_job_get(store *s, int64_t id, struct store_job *out, char **err);

struct store_filter {
	int state;           /* -1 = any */
	const char *plugin;  /* NULL = any */
	int64_t before_id;   /* 0 = newest first from the top; else id < this */
	int limit;           /* <= 0: 100 */
	/* Schema 7 indexes these (jobs_run, jobs_worker, jobs_created). */
	const char *dag;     /* NULL = any: jobs of this DAG's runs */
	const char *run;     /* NULL = any: jobs of the run of this run_id */
	const char *worker;  /* NULL = any: jobs whose last attempt ran there */
	int64_t id;          /* 0 = any: only this job */
	int64_t since_ms;    /* 0 = any: submitted at or after (unix ms) */
	int64_t until_ms;    /* 0 = any: submitted before (unix ms) */
};
typedef int (*store_job_cb)(const struct store_job *j, void *ud);
/* Newest first, at most limit (capped at 1000) jobs.  The callback
 * returning non-zero stops the walk (the call still returns 0). */
int store_job_list(store *s, const struct store_filter *f, store_job_cb cb,
                   void *ud, char **err);
/* How many jobs match F (its before_id and limit ignored), counting at
 * most CAP for at most BUDGET_MS (so that a count costs a bounded walk):
 * *n <= CAP, and *n == CAP means "CAP or more"; *partial is 1 if the
 * time ran out first (then *n is what was counted: "*n or more").
 * 0 or negative with *err. */
int store_job_count(store *s, const struct store_filter *f, int64_t cap,
                    int64_t budget_ms, int64_t *n, int *partial, char **err);
/* CB(UD, NAME) for each plugin any job in the store named (the master
 * accepts them while workers re-register after a restart; read from
 * plugins_seen, not from the jobs); CB returning
 * non-zero stops the walk.  0 or negative with *err. */
int store_plugins_seen(store *s, int (*cb)(void *ud, const char *name),
                       void *ud, char **err);
/* Every queued job, then every running one, each oldest first: the
 * master rebuilds its in-memory queue from this on start. */
int store_job_unfinished(store *s, store_job_cb cb, void *ud, char **err);
/* The query plans (EXPLAIN QUERY PLAN's details, a line each) of what a
 * master reads at start (store_job_unfinished, store_plugins_seen), in
 * *PLANS, malloc()ed: tests check that none scans the jobs table, which
 * would make a restart as slow as the store is big.  0 or negative. */
int store_startup_plans(store *s, char **plans, char **err);
/* Number of jobs in each state. */
int store_job_counts(store *s, int64_t counts[JOB_NSTATES], char **err);

typedef int (*store_attempt_cb)(const struct store_attempt *a, void *ud);
int store_attempts(store *s, int64_t job_id, store_attempt_cb cb, void *ud,
                   char **err);
/* Log of ATTEMPT (0 = the latest) of job ID; *log malloc()ed, "" if none;
 * -ENOENT if there is no such job. */
int store_log(store *s, int64_t id, int attempt, char **log, char **err);

/* ---------------------------------------------------------- API tokens */

/* A token made before schema 4, whose expiry store_token_settle() has
 * not set yet: it does not expire until then. */
#define STORE_TOKEN_UNSETTLED (-1)
/* A token's use is recorded at most this often (one write a minute per
 * token, however many requests it signs). */
#define STORE_TOKEN_USED_EVERY_MS 60000

/* An API token as stored: never its hash, which only store_token_add()
 * and store_token_check() take.  Strings are malloc()ed and owned by the
 * struct; free them with store_token_clear(). */
struct store_token {
	int64_t id;
	char *name;          /* what it is for */
	char *role;          /* "admin" or "viewer" */
	char *created_by;    /* who made it ("user:alice", "token:3",
	                      * "signer:cli"), or NULL (made before schema 4) */
	int64_t created_ms;
	int64_t expires_ms;  /* unix ms; 0 = never; STORE_TOKEN_UNSETTLED */
	int64_t last_used_ms; /* 0 = never used */
	int64_t revoked_ms;  /* 0 = not revoked */
};
void store_token_clear(struct store_token *t);

/* What store_token_add() stores; strings borrowed. */
struct store_token_new {
	const char *hash_hex;  /* SHA-256 of the token, hex */
	const char *name, *role;
	const char *created_by; /* or NULL */
	int64_t created_ms;    /* 0 = now */
	int64_t expires_ms;    /* 0 = never */
};

/* Store a new token; *id (if ID is not NULL) its id.  -EEXIST if the
 * hash is known, -EINVAL if a field is missing. */
int store_token_add(store *s, const struct store_token_new *t, int64_t *id,
                    char **err);
/*
 * The token whose hash is HASH_HEX, as of NOW_MS, in *OUT: 0 if it may
 * be used, -EKEYREVOKED if it was revoked, -EKEYEXPIRED if it expired at
 * or before NOW_MS (*OUT filled in these three cases: free it with
 * store_token_clear), -ENOENT if the hash is unknown.  A token that may
 * be used has NOW_MS recorded as its last use if the recorded one is
 * STORE_TOKEN_USED_EVERY_MS old or more: a deferred write
 * (store_apply_later), so one a minute per token at most and never one
 * the request waits for.
 */
int store_token_check(store *s, const char *hash_hex, int64_t now_ms,
                      struct store_token *out, char **err);
/* Token ID in *OUT (store_token_clear), or -ENOENT. */
int store_token_get(store *s, int64_t id, struct store_token *out,
                    char **err);
typedef int (*store_token_cb)(const struct store_token *t, void *ud);
/* Every token, revoked and expired ones too, newest first: ids below
 * BEFORE_ID (0 = from the newest), at most LIMIT (<= 0: 100; at most
 * 1000).  The callback returning non-zero stops the walk. */
int store_token_list(store *s, int64_t before_id, int limit,
                     store_token_cb cb, void *ud, char **err);
/* Give every token made before schema 4 (STORE_TOKEN_UNSETTLED) the
 * expiry EXPIRES_MS; *N (if not NULL) how many there were.  The master
 * calls it on start, so such tokens live its token_ttl from the upgrade. */
int store_token_settle(store *s, int64_t expires_ms, int *n, char **err);

/* ---------------------------------------------------- idempotency keys */

/* How long a submission's idempotency key is remembered (24 h). */
#define STORE_IDEM_TTL_MS (24LL * 3600 * 1000)

/* What a submission made with an idempotency key got (STORE_IDEM). */
struct store_idem {
	char *hash;          /* of the request, as recorded; malloc()ed */
	int64_t first_id;    /* its jobs: first_id .. first_id + count - 1 */
	int64_t count;
	int64_t created_ms;
};

/* Key KEY of PRINCIPAL, if used less than STORE_IDEM_TTL_MS before NOW_MS:
 * 0 and *OUT (free out->hash), or -ENOENT, or another negative error. */
int store_idem_get(store *s, const char *principal, const char *key,
                   int64_t now_ms, struct store_idem *out, char **err);

/* ------------------------------------------- variables and connections */

/* A sealed variable or connection (varconn.c seals and opens them).
 * Strings are malloc()ed; free them with store_secret_clear(). */
struct store_secret {
	char *name;
	char *sealed;        /* base64 of nonce and secretbox */
	int64_t updated_ms;
	char *updated_by;    /* who last set it ("user:alice"), or NULL */
};
void store_secret_clear(struct store_secret *x);

/* Insert or replace NAME of KIND ("var" or "conn") with SEALED, by BY. */
int store_secret_put(store *s, const char *kind, const char *name,
                     const char *sealed, const char *by, char **err);
/* Delete NAME of KIND: 0, or -ENOENT. */
int store_secret_delete(store *s, const char *kind, const char *name,
                        char **err);
/* NAME of KIND in *OUT (store_secret_clear), or -ENOENT. */
int store_secret_get(store *s, const char *kind, const char *name,
                     struct store_secret *out, char **err);
/* Every row of KIND by name; CB (strings borrowed for the call) returns
 * non-zero to stop. */
typedef int (*store_secret_cb)(const struct store_secret *x, void *ud);
int store_secret_list(store *s, const char *kind, store_secret_cb cb,
                      void *ud, char **err);

/* ------------------------------------------------------------ pipelines */

/* Task instance states (Airflow's). */
enum ti_state {
	TI_NONE = 0,         /* waiting for its upstream */
	TI_SCHEDULED,
	TI_QUEUED,
	TI_RUNNING,
	TI_SUCCESS,
	TI_FAILED,
	TI_UP_FOR_RETRY,
	TI_UPSTREAM_FAILED,
	TI_SKIPPED,
	TI_UP_FOR_RESCHEDULE,  /* a sensor between pokes (src/sensor.c): no
	                        * job, no slot; poked again at its last poke
	                        * (finished_ms) + poke_interval */
	TI_NSTATES
};
const char *store_ti_state_name(int state);
enum run_state { RUN_QUEUED = 0, RUN_RUNNING, RUN_SUCCESS, RUN_FAILED, RUN_NSTATES };
const char *store_run_state_name(int state);
/* The run_id (the caller's) of the run whose row id is ID; -ENOENT if none. */
int store_run_name(store *s, int64_t id, char **run_id, char **err);
/* DAG runs by state (GET /api/v1/stats). */
int store_run_counts(store *s, int64_t counts[RUN_NSTATES], char **err);
int store_run_state_parse(const char *name);

struct store_run_new {
	const char *dag_id;
	const char *run_id;      /* unique, e.g. scheduled__2024-01-01T00:00:00+00:00 */
	const char *kind;        /* "scheduled", "manual" or "backfill" */
	int64_t logical_date, interval_start, interval_end; /* unix s */
	const char *conf;        /* JSON object of run params */
	const char *const *tasks;
	size_t ntasks;
	int64_t next_start;      /* > 0: also set the DAG's next_start */
	int dag_version;         /* the DAG version it runs, 0 = unknown */
};

struct store_run {
	int64_t id;
	char *dag_id, *run_id, *kind, *conf;
	int64_t logical_date, interval_start, interval_end;
	int state;
	int64_t created_ms, finished_ms;
	int dag_version;         /* schema 12: the DAG version it runs; 0 =
	                          * unknown (the current one) */
	int64_t changed;         /* schema 13: when it or one of its task
	                          * instances last changed, a sequence over
	                          * all runs (the grid's cursor) */
};
void store_run_clear(struct store_run *r);

/* A task instance with its job's live details. */
struct store_ti {
	int64_t run;
	char *task;
	int state;
	int64_t job_id;          /* 0 = none yet */
	int tries;               /* jobs submitted for it (task clear adds) */
	int attempt;             /* of the current job */
	char *worker, *result, *error;
	int64_t started_ms, finished_ms;
	int map_index;           /* -1 = the task itself, else an instance of
	                          * the mapped task (schema 7) */
	int64_t sensor_since_ms; /* a sensor's first poke, 0 = none yet
	                          * (its timeout counts from it; schema 11) */
};
void store_ti_clear(struct store_ti *t);

typedef int (*store_run_cb)(const struct store_run *r, void *ud);
typedef int (*store_ti_cb)(const struct store_ti *t, void *ud);

int store_run_find(store *s, const char *run_id, struct store_run *out, char **err);
/* Runs of DAG_ID (NULL = all), newest first; STATE -1 = any. */
int store_run_list(store *s, const char *dag_id, int state, int64_t before_id,
                   int limit, store_run_cb cb, void *ud, char **err);
/* Queued and running runs, oldest first (the master's working set). */
int store_runs_active(store *s, store_run_cb cb, void *ud, char **err);
/* Task instances of RUN in task order of creation; a mapped task's
 * instances follow it in map index order.  error is the engine's reason
 * if it gave one, else the job's. */
int store_tis(store *s, int64_t run, store_ti_cb cb, void *ud, char **err);
/* An artifact sensor (src/sensor.c): the SHA-256 (*sha, the caller's)
 * of the newest output named NAME of a job that succeeded, created at or
 * after SINCE_MS (unix ms) - or of the stored artifact whose hash NAME
 * is; 0, or -ENOENT if none. */
int store_artifact_named(store *s, const char *name, int64_t since_ms,
                         char **sha, char **err);
/* A DAG's persistent state: 0, or -ENOENT if never seen. */
int store_dag_state(store *s, const char *dag_id, int *paused,
                    int64_t *next_start, char **err);

/* The master's own key/value memory (the meta table): 0 and *value
 * (malloc()ed), or -ENOENT. */
int store_meta_get(store *s, const char *key, char **value, char **err);

/* DAG versions (schema 12): every text of a DAG file the master loaded.
 * A text over STORE_DAG_TEXT_MAX bytes is kept by hash and size only. */
#define STORE_DAG_TEXT_MAX (1 << 20)
struct store_dag_version {
	int version;             /* 1, 2, ... per DAG */
	char *hash;              /* SHA-256 hex of the file's bytes */
	int64_t created_ms;      /* first seen */
	int64_t size;            /* bytes */
	char *text;              /* NULL if not asked for or not kept */
	int64_t runs;            /* runs that name it (store_dag_versions) */
};
void store_dag_version_clear(struct store_dag_version *v);
typedef int (*store_dag_version_cb)(const struct store_dag_version *v,
                                    void *ud);
/* DAG_ID's versions, newest first, at most LIMIT (1..1000), without their
 * text but with how many runs name each. */
int store_dag_versions(store *s, const char *dag_id, int limit,
                       store_dag_version_cb cb, void *ud, char **err);
/* Version VERSION of DAG_ID (0 = its latest) into *out (clear it), with
 * its text if WITH_TEXT: 0, or -ENOENT. */
int store_dag_version_get(store *s, const char *dag_id, int version,
                          int with_text, struct store_dag_version *out,
                          char **err);

/* Schema version this build writes (PRAGMA user_version). */
int store_schema_version(void);

/* Backup (backup.c), on database files rather than an open store, so
 * that `kiln backup` runs beside a master that is running. */

/* Copy the database at PATH into the new file DEST with SQLite's online
 * backup API: one consistent snapshot, read while the master writes (WAL
 * readers never wait for the writer, nor it for them).  DEST is left as
 * one self-contained file (journal_mode DELETE).  0 or negative with
 * *err. */
int store_backup_file(const char *path, const char *dest, char **err);

/* Call CB with each artifact the database file PATH records, in order;
 * CB returning non-zero (negative, with *err) stops the walk with it. */
typedef int (*store_sha_cb)(const char *sha, void *ud, char **err);
int store_file_artifacts(const char *path, store_sha_cb cb, void *ud,
                         char **err);

/* Notifications (alert.c): one row per target of an event of run RUN
 * (TASK NULL) or of one of its task instances.  Strings are borrowed. */
struct store_notif {
	int64_t id, run;
	const char *task;        /* NULL: the run's own */
	int map_index;           /* -1 unless a mapped instance's */
	const char *event;       /* failure, success, retry, deadline_missed */
	const char *kind;        /* webhook, command, none */
	const char *target;      /* the URL or command ("" for none) */
	const char *state;       /* pending, sent, failed, refused, recorded */
	int attempts;
	int status;              /* the last HTTP status or exit status */
	const char *error;       /* the last error, or NULL */
	int64_t created_ms, sent_ms;
	/* Schema 15: what a restarted master needs to send it again. */
	const char *body;        /* the JSON sent, as first made */
	const char *secret;      /* the variable that signs it, or NULL */
	const char *delivery;    /* its id for receivers (X-Kiln-Delivery) */
	int64_t due_ms;          /* unix ms of its next try (pending) */
};
typedef int (*store_notif_cb)(const struct store_notif *n, void *ud);
/* A new row (its id in *id); only run, task, map_index, event, kind,
 * target, state, error, created_ms, body, secret, delivery and due_ms
 * are read. */
int store_notif_add(store *s, const struct store_notif *n, int64_t *id,
                    char **err);
/* Row n->id takes state, attempts, status, error, sent_ms and due_ms. */
int store_notif_update(store *s, const struct store_notif *n, char **err);
/* Every row still "pending" with no body (made before schema 15, so it
 * cannot be sent again) becomes "failed" with the reason WHY. */
int store_notif_abandon(store *s, const char *why, char **err);
/* Every row still "pending" with its body (a master starting: what the
 * last one did not finish), oldest first, to CB until it returns
 * non-zero; id, run, task, map_index, event, kind, target, attempts,
 * body, secret, delivery and due_ms are set.  CB must not call the
 * store. */
int store_notif_pending(store *s, store_notif_cb cb, void *ud, char **err);
/* Run RUN's rows, oldest first (at most 1000), to CB until it returns
 * non-zero. */
int store_notif_list(store *s, int64_t run, store_notif_cb cb, void *ud,
                     char **err);

#endif
