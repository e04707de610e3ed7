/* SPDX-License-Identifier: MIT */
/*
 * store.c - the master's durable state in SQLite (see store.h).  This is
 * the only file in kiln with SQL.
 *
 * Two connections to one WAL database:
 *
 *   - the write connection belongs to one writer thread.  Callers of
 *     store_apply() queue their batch and sleep; the writer takes every
 *     batch queued so far and runs them all in one BEGIN IMMEDIATE ...
 *     COMMIT (group commit), so N concurrent callers cost one fsync, not N.
 *     Each caller wakes only after COMMIT returned, i.e. once its changes
 *     are durable.
 *   - the read connection serves the read functions, one caller at a time
 *     (read_mu).  Being a WAL reader it never waits for the writer and sees
 *     only committed data.
 *
 * Both are opened SQLITE_OPEN_NOMUTEX: each is used by one thread at a
 * time by construction, so SQLite's own per-connection mutex would only
 * cost time.
 *
 * Every state transition carries its precondition in the WHERE clause
 * ("... WHERE id=? AND attempt=? AND state=running"), so a late or
 * duplicated message from a worker is a no-op reported as applied=0
 * rather than a second completion.
 *
 * The schema is versioned with PRAGMA user_version.  store_migrations[i]
 * takes the schema from version i to i+1; to change the schema, append a
 * string, never edit one that has shipped.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "err.h"
#include "fault.h"
#include "fs.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "xalloc.h"

/* How long deferred ops (store_apply_later) wait for a batch whose caller
 * waits, to share its commit, before they are committed on their own. */
#define STORE_LATER_MS 5
/* How long deferred ops that failed on a full or failing disk wait
 * before they are tried again. */
#define STORE_RETRY_MS 500
/* How often a store that cannot be written and has nothing queued tries
 * a small write of its own (store_wait_or_probe). */
#define STORE_PROBE_MS 1000
/* At most this many jobs of one group commit are handed to their early
 * callback (store_apply_early) before the commit is durable; job ids
 * skip this many at each open, so that an id handed out early and lost
 * in a crash is never given to another job (store_seq_gap). */
#define STORE_EARLY_MAX 256
/* The writer checkpoints the WAL itself, after the callers of a commit
 * were woken, once it holds this many pages (SQLite's own automatic
 * checkpoint runs inside the COMMIT, on the caller's time).  4 MB:
 * SQLite's default, so the WAL is reused in place after each one. */
#define STORE_CKPT_PAGES 1000

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

/* Job states are stored as their enum value; these literals must match
 * enum job_state (0 queued, 1 running, 2 succeeded, 3 failed,
 * 4 cancelled). */
static const char *const store_migrations[] = {
	/* 0 -> 1: jobs, their attempts, API tokens, and a key/value table
	 * for whatever the master wants to remember across restarts. */
	"CREATE TABLE jobs ("
	"  id           INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  plugin       TEXT NOT NULL,"
	"  params       TEXT NOT NULL DEFAULT '{}',"
	"  state        INTEGER NOT NULL,"
	"  priority     INTEGER NOT NULL DEFAULT 0,"
	"  slots        INTEGER NOT NULL DEFAULT 1,"
	"  memory       INTEGER NOT NULL DEFAULT 0,"
	"  timeout_ms   INTEGER NOT NULL DEFAULT 0,"
	"  max_attempts INTEGER NOT NULL DEFAULT 1,"
	"  attempt      INTEGER NOT NULL DEFAULT 0,"
	"  worker       TEXT,"
	"  result       TEXT,"
	"  error        TEXT,"
	"  created_ms   INTEGER NOT NULL,"
	"  started_ms   INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms  INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX jobs_state ON jobs(state, id);"
	"CREATE TABLE attempts ("
	"  job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  attempt     INTEGER NOT NULL,"
	"  worker      TEXT,"
	"  state       INTEGER NOT NULL,"
	"  error       TEXT,"
	"  log         TEXT,"
	"  started_ms  INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (job_id, attempt)"
	") WITHOUT ROWID;"
	"CREATE TABLE tokens ("
	"  hash       TEXT PRIMARY KEY,"
	"  name       TEXT NOT NULL,"
	"  role       TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE meta ("
	"  key   TEXT PRIMARY KEY,"
	"  value TEXT"
	");",
	/* 1 -> 2: pipelines.  A job may run a task instance of a DAG run;
	 * task instance states follow their job's transitions in the same
	 * transaction (see store_ti_follow).  TI states: 0 none, 1 scheduled,
	 * 2 queued, 3 running, 4 success, 5 failed, 6 up_for_retry,
	 * 7 upstream_failed, 8 skipped; run states: 0 queued, 1 running,
	 * 2 success, 3 failed. */
	"ALTER TABLE jobs ADD COLUMN run INTEGER;"
	"ALTER TABLE jobs ADD COLUMN task TEXT;"
	"ALTER TABLE jobs ADD COLUMN retry_delay_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN retry_exp INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN retry_max_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN pool TEXT;"
	"CREATE TABLE dags ("
	"  id         TEXT PRIMARY KEY,"
	"  paused     INTEGER NOT NULL DEFAULT 0,"
	"  next_start INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE dag_runs ("
	"  id             INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  dag_id         TEXT NOT NULL,"
	"  run_id         TEXT NOT NULL UNIQUE,"
	"  kind           TEXT NOT NULL,"
	"  logical_date   INTEGER NOT NULL,"
	"  interval_start INTEGER NOT NULL,"
	"  interval_end   INTEGER NOT NULL,"
	"  state          INTEGER NOT NULL DEFAULT 0,"
	"  conf           TEXT NOT NULL DEFAULT '{}',"
	"  created_ms     INTEGER NOT NULL,"
	"  finished_ms    INTEGER NOT NULL DEFAULT 0"
	");"
	/* One scheduled or backfill run per interval, whatever happens. */
	"CREATE UNIQUE INDEX dag_runs_interval ON dag_runs(dag_id, logical_date)"
	"  WHERE kind <> 'manual';"
	"CREATE INDEX dag_runs_dag ON dag_runs(dag_id, id);"
	"CREATE INDEX dag_runs_state ON dag_runs(state, id);"
	"CREATE TABLE task_instances ("
	"  run         INTEGER NOT NULL REFERENCES dag_runs(id) ON DELETE CASCADE,"
	"  task        TEXT NOT NULL,"
	"  seq         INTEGER NOT NULL,"
	"  state       INTEGER NOT NULL DEFAULT 0,"
	"  job_id      INTEGER,"
	"  tries       INTEGER NOT NULL DEFAULT 0,"
	"  started_ms  INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run, task)"
	") WITHOUT ROWID;"
	"CREATE INDEX task_instances_job ON task_instances(job_id);",
	/* 2 -> 3: data between tasks.  A job's outputs and inputs are JSON
	 * arrays of {name, sha, size}; the bytes are files named by their
	 * SHA-256 under <data_dir>/artifacts, listed here. */
	"ALTER TABLE jobs ADD COLUMN inputs TEXT;"
	"ALTER TABLE jobs ADD COLUMN outputs TEXT;"
	"CREATE TABLE artifacts ("
	"  sha        TEXT PRIMARY KEY,"
	"  size       INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/* 3 -> 4: tokens that end.  A token gets an id to be listed and
	 * revoked by, who made it, when it expires (NULL = never), when it
	 * was last used and when it was revoked (0 = not).  The table is made
	 * anew: an INTEGER PRIMARY KEY cannot be added to it, and a bare
	 * rowid may change on VACUUM.  Tokens made before get expires_ms -1
	 * (STORE_TOKEN_UNSETTLED): the master sets them to its token_ttl from
	 * its next start (store_token_settle). */
	"CREATE TABLE tokens4 ("
	"  id           INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  hash         TEXT NOT NULL UNIQUE,"
	"  name         TEXT NOT NULL,"
	"  role         TEXT NOT NULL,"
	"  created_ms   INTEGER NOT NULL,"
	"  created_by   TEXT,"
	"  expires_ms   INTEGER,"
	"  last_used_ms INTEGER NOT NULL DEFAULT 0,"
	"  revoked_ms   INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO tokens4 (hash, name, role, created_ms, expires_ms)"
	"  SELECT hash, name, role, created_ms, -1 FROM tokens"
	"  ORDER BY created_ms, hash;"
	"DROP TABLE tokens;"
	"ALTER TABLE tokens4 RENAME TO tokens;",
	/* 4 -> 5: retention (master.retention) deletes the oldest finished
	 * jobs and runs first, a batch at a time: these find them without a
	 * scan of what is kept.  artifact_refs says which jobs name an
	 * artifact in their inputs or outputs (kept by the writer from here
	 * on, filled from the jobs there are), so that an artifact no job
	 * names is found without reading every job's JSON. */
	"CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_ms) WHERE state >= 2;"
	"CREATE INDEX IF NOT EXISTS dag_runs_finished ON dag_runs(finished_ms) WHERE state >= 2;"
	"CREATE INDEX IF NOT EXISTS artifacts_created ON artifacts(created_ms);"
	"CREATE TABLE IF NOT EXISTS artifact_refs ("
	"  sha    TEXT NOT NULL,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (sha, job_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS artifact_refs_job ON artifact_refs(job_id);"
	"INSERT OR IGNORE INTO artifact_refs (sha, job_id)"
	"  SELECT json_extract(e.value, '$.sha'), j.id FROM jobs j, json_each("
	"  CASE WHEN json_valid(j.inputs) THEN j.inputs ELSE '[]' END) e"
	"  WHERE json_extract(e.value, '$.sha') IS NOT NULL;"
	"INSERT OR IGNORE INTO artifact_refs (sha, job_id)"
	"  SELECT json_extract(e.value, '$.sha'), j.id FROM jobs j, json_each("
	"  CASE WHEN json_valid(j.outputs) THEN j.outputs ELSE '[]' END) e"
	"  WHERE json_extract(e.value, '$.sha') IS NOT NULL;",
	/* 5 -> 6: idempotency keys.  A submission made with a key records,
	 * in the transaction of its jobs, who sent it, the hash of what was
	 * sent and the ids it got (first_id .. first_id + count - 1: a
	 * batch's inserts are consecutive on the one writer, and
	 * AUTOINCREMENT never reuses an id), so a retry after a crash is
	 * answered with them.  Rows expire (STORE_IDEM_TTL_MS). */
	"CREATE TABLE IF NOT EXISTS idempotency ("
	"  principal  TEXT NOT NULL,"
	"  key        TEXT NOT NULL,"
	"  hash       TEXT NOT NULL,"
	"  first_id   INTEGER NOT NULL,"
	"  count      INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (principal, key)"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_ms);",
	/* 6 -> 7: variables and connections (varconn.c).  SEALED is the
	 * value sealed with a key derived from the cluster secret (a nonce
	 * and a secretbox, base64): the plaintext is never stored. */
	"CREATE TABLE IF NOT EXISTS secrets ("
	"  kind       TEXT NOT NULL,"
	"  name       TEXT NOT NULL,"
	"  sealed     TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  updated_by TEXT,"
	"  PRIMARY KEY (kind, name)"
	") WITHOUT ROWID;",
	/* 7 -> 8: the job list's filters by run (and so by DAG), by worker
	 * and by submission time (store_filter), each an index walk rather
	 * than a scan of every job. */
	"CREATE INDEX IF NOT EXISTS jobs_run ON jobs(run, id) WHERE run IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS jobs_worker ON jobs(worker, id) WHERE worker IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_ms);",
	/* 8 -> 9: dynamic task mapping.  A task instance is keyed by its map
	 * index too: -1 is the task itself (a mapped task's summary, whose
	 * state the pipeline engine keeps), 0..n-1 the instances a mapped
	 * task expanded into, each with its own job.  error holds why the
	 * engine failed or skipped a task without a job (an expansion over
	 * master.max_map_length, a template that does not render).  The
	 * table is made anew: a primary key cannot be altered. */
	"CREATE TABLE task_instances7 ("
	"  run         INTEGER NOT NULL REFERENCES dag_runs(id) ON DELETE CASCADE,"
	"  task        TEXT NOT NULL,"
	"  map_index   INTEGER NOT NULL DEFAULT -1,"
	"  seq         INTEGER NOT NULL,"
	"  state       INTEGER NOT NULL DEFAULT 0,"
	"  job_id      INTEGER,"
	"  tries       INTEGER NOT NULL DEFAULT 0,"
	"  started_ms  INTEGER NOT NULL DEFAULT 0,"
	"  finished_ms INTEGER NOT NULL DEFAULT 0,"
	"  error       TEXT,"
	"  PRIMARY KEY (run, task, map_index)"
	") WITHOUT ROWID;"
	"INSERT INTO task_instances7 (run, task, seq, state, job_id, tries,"
	"  started_ms, finished_ms) SELECT run, task, seq, state, job_id, tries,"
	"  started_ms, finished_ms FROM task_instances;"
	"DROP TABLE task_instances;"
	"ALTER TABLE task_instances7 RENAME TO task_instances;"
	"CREATE INDEX task_instances_job ON task_instances(job_id);",
	/* 9 -> 10: a restart reads nothing per finished job.  The plugins
	 * jobs ever named (sched_plugin_awaited) were a DISTINCT over every
	 * job; they are kept in a table of their own from here on, filled
	 * once from the jobs there are.  The queue itself is loaded through
	 * jobs_state (state, id), a range scan in the order it is walked
	 * (R_UNFINISHED) that reads the queued and running jobs' entries
	 * and no others: no second index is added for it, since every
	 * submission and every finish would pay to keep one up. */
	"CREATE TABLE IF NOT EXISTS plugins_seen ("
	"  name TEXT PRIMARY KEY"
	") WITHOUT ROWID;"
	"INSERT OR IGNORE INTO plugins_seen (name) SELECT DISTINCT plugin FROM jobs;",
	/* 10 -> 11: sensors (src/sensor.c).  TI state 9 is up_for_reschedule:
	 * a sensor between pokes, holding no job; finished_ms is its last
	 * poke, sensor_since_ms its first (its timeout counts from it), so
	 * that a restarted master pokes again when it was due. */
	"ALTER TABLE task_instances ADD COLUMN sensor_since_ms INTEGER NOT NULL"
	" DEFAULT 0;",
	/* 11 -> 12: DAG versions (dagver.c).  Every text of a DAG file the
	 * master loaded, numbered per DAG from 1; a run names the version it
	 * runs (0: made before versions were kept, or while the version
	 * could not be written).  TEXT is NULL for a file over
	 * STORE_DAG_TEXT_MAX: such a version is known by its hash only. */
	"CREATE TABLE IF NOT EXISTS dag_versions ("
	"  dag_id     TEXT NOT NULL,"
	"  version    INTEGER NOT NULL,"
	"  hash       TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  size       INTEGER NOT NULL,"
	"  text       TEXT,"
	"  PRIMARY KEY (dag_id, version)"
	") WITHOUT ROWID;"
	"ALTER TABLE dag_runs ADD COLUMN dag_version INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX IF NOT EXISTS dag_runs_version ON dag_runs(dag_id, dag_version);",
	/* 12 -> 13: notifications (alert.c): one row per target of each
	 * event of a run or of one of its tasks (task NULL: the run's),
	 * written before it is sent and updated after each attempt.  A
	 * deadline_missed row is also what keeps a deadline from firing
	 * twice, across master restarts. */
	"CREATE TABLE IF NOT EXISTS notifications ("
	"  id         INTEGER PRIMARY KEY,"
	"  run        INTEGER NOT NULL REFERENCES dag_runs(id) ON DELETE CASCADE,"
	"  task       TEXT,"
	"  map_index  INTEGER NOT NULL DEFAULT -1,"
	"  event      TEXT NOT NULL,"
	"  kind       TEXT NOT NULL,"
	"  target     TEXT NOT NULL,"
	"  state      TEXT NOT NULL,"
	"  attempts   INTEGER NOT NULL DEFAULT 0,"
	"  status     INTEGER NOT NULL DEFAULT 0,"
	"  error      TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  sent_ms    INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX IF NOT EXISTS notifications_run ON notifications(run);",
	/* 13 -> 14: the grid's changes since a cursor (issue 16).  CHANGED
	 * is a sequence over all runs, set to the highest plus one whenever
	 * a run is made, its state or end changes, or one of its task
	 * instances is made, changed or deleted: the triggers keep it, so
	 * no writer of runs or task instances needs to know.  A dashboard
	 * that saw everything up to N asks for the runs with changed > N
	 * (pipeline_grid_json). */
	"ALTER TABLE dag_runs ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;"
	"UPDATE dag_runs SET changed = id;"
	"CREATE INDEX IF NOT EXISTS dag_runs_changed ON dag_runs(changed);"
	"CREATE TRIGGER IF NOT EXISTS dag_runs_changed_ins AFTER INSERT ON dag_runs"
	" BEGIN UPDATE dag_runs SET changed = (SELECT max(changed) FROM dag_runs) + 1"
	" WHERE id = NEW.id; END;"
	"CREATE TRIGGER IF NOT EXISTS dag_runs_changed_upd AFTER UPDATE OF state,"
	" finished_ms ON dag_runs"
	" BEGIN UPDATE dag_runs SET changed = (SELECT max(changed) FROM dag_runs) + 1"
	" WHERE id = NEW.id; END;"
	"CREATE TRIGGER IF NOT EXISTS ti_changed_ins AFTER INSERT ON task_instances"
	" BEGIN UPDATE dag_runs SET changed = (SELECT max(changed) FROM dag_runs) + 1"
	" WHERE id = NEW.run; END;"
	"CREATE TRIGGER IF NOT EXISTS ti_changed_upd AFTER UPDATE ON task_instances"
	" BEGIN UPDATE dag_runs SET changed = (SELECT max(changed) FROM dag_runs) + 1"
	" WHERE id = NEW.run; END;"
	"CREATE TRIGGER IF NOT EXISTS ti_changed_del AFTER DELETE ON task_instances"
	" BEGIN UPDATE dag_runs SET changed = (SELECT max(changed) FROM dag_runs) + 1"
	" WHERE id = OLD.run; END;",
	/* 14 -> 15: a notification survives a master's restart (alert.c):
	 * the body as first made (with its delivery id, which a receiver
	 * dedupes on), the variable that signs it, and when its next try is
	 * due (unix ms).  Rows pending from before have no body: failed. */
	"ALTER TABLE notifications ADD COLUMN body TEXT;"
	"ALTER TABLE notifications ADD COLUMN secret TEXT;"
	"ALTER TABLE notifications ADD COLUMN delivery TEXT;"
	"ALTER TABLE notifications ADD COLUMN due_ms INTEGER NOT NULL DEFAULT 0;",
};
#define STORE_NMIGRATIONS \
	((int)(sizeof store_migrations / sizeof store_migrations[0]))

int
store_schema_version(void)
{
	return STORE_NMIGRATIONS;
}

/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

#define JOB_COLS \
	"id, plugin, params, state, priority, slots, memory, timeout_ms, " \
	"max_attempts, attempt, worker, result, error, created_ms, " \
	"started_ms, finished_ms, run, task, retry_delay_ms, retry_exp, " \
	"retry_max_ms, pool, inputs, outputs"

#define TOKEN_COLS \
	"id, name, role, created_by, created_ms, expires_ms, last_used_ms, " \
	"revoked_ms"

/* Statements of the write connection, prepared once at open. */
enum {
	W_BEGIN, W_COMMIT, W_ROLLBACK,
	W_SUBMIT, W_START, W_ATT_START, W_FINISH, W_ATT_FINISH,
	W_REQUEUE, W_CANCEL, W_ATT_CANCEL, W_ATT_LOG, W_ATT_FOLDED,
	W_NSTMT
};
static const char *const store_wsql[W_NSTMT] = {
	/* A late report (cancelled or lost attempt) keeps its log if the
	 * attempt has none yet. */
	[W_ATT_LOG] =
	"UPDATE attempts SET log = ?3 WHERE job_id = ?1 AND attempt = ?2"
	" AND (log IS NULL OR log = '') AND state <> 1",
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_SUBMIT] =
	"INSERT INTO jobs (plugin, params, state, priority, slots, memory,"
	" timeout_ms, max_attempts, created_ms, run, task, retry_delay_ms,"
	" retry_exp, retry_max_ms, pool, inputs)"
	" VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15)",
	/* The new attempt number must be above the last one, so a replayed
	 * START cannot overwrite the row (and log) of an earlier attempt. */
	[W_START] =
	"UPDATE jobs SET state = 1, attempt = ?2, worker = ?3,"
	" started_ms = ?4 WHERE id = ?1 AND state = 0 AND attempt < ?2",
	[W_ATT_START] =
	"INSERT OR REPLACE INTO attempts (job_id, attempt, worker, state,"
	" started_ms) VALUES (?1, ?2, ?3, 1, ?4)",
	/* ?7 1: the attempt's start was not written (start_folded): a job
	 * still queued at an earlier attempt takes it, its worker (?8) and
	 * start (?9) too. */
	[W_FINISH] =
	"UPDATE jobs SET state = ?3, result = ?4, error = ?5, finished_ms = ?6,"
	" worker = CASE state WHEN 0 THEN ?8 ELSE worker END,"
	" started_ms = CASE state WHEN 0 THEN ?9 ELSE started_ms END,"
	" attempt = ?2"
	" WHERE id = ?1 AND ((attempt = ?2 AND state = 1) OR"
	" (?7 AND state = 0 AND attempt < ?2))",
	/* An upsert rather than INSERT OR REPLACE: the same row, and 6% less
	 * of SQLite's time for a job's end (no delete of a row that is
	 * almost never there). */
	[W_ATT_FOLDED] =
	"INSERT INTO attempts (job_id, attempt, worker, state,"
	" started_ms, error, log, finished_ms)"
	" VALUES (?1, ?2, ?7, ?3, ?8, ?4, ?5, ?6)"
	" ON CONFLICT (job_id, attempt) DO UPDATE SET worker = excluded.worker,"
	" state = excluded.state, started_ms = excluded.started_ms,"
	" error = excluded.error, log = excluded.log,"
	" finished_ms = excluded.finished_ms",
	[W_ATT_FINISH] =
	"UPDATE attempts SET state = ?3, error = ?4, log = ?5,"
	" finished_ms = ?6 WHERE job_id = ?1 AND attempt = ?2",
	[W_REQUEUE] =
	"UPDATE jobs SET state = 0, worker = NULL, attempt = ?2"
	" WHERE id = ?1 AND ((attempt = ?2 AND state = 1) OR"
	" (?3 AND state = 0 AND attempt < ?2))",
	[W_CANCEL] =
	"UPDATE jobs SET state = 4, finished_ms = ?2"
	" WHERE id = ?1 AND state IN (0, 1)",
	[W_ATT_CANCEL] =
	"UPDATE attempts SET state = 4, finished_ms = ?2"
	" WHERE job_id = ?1 AND state = 1",
};

/* Statements of the write connection for pipelines, artifacts, meta and
 * tokens, prepared on first use by the writer thread. */
enum {
	P_TI_SUBMIT, P_TI_FOLLOW, P_RUN_INSERT, P_TI_INSERT, P_DAG_NEXT,
	P_TI_RESET, P_TI_SET, P_RUN_STATE, P_DAG_SET, P_JOB_OUTPUTS, P_ARTIFACT,
	P_META, P_TOKEN_REVOKE, P_TOKEN_USED, P_PURGE_RUNS, P_PURGE_JOBS,
	P_REFS, P_ARTIFACT_TOUCH, P_PURGE_ART_FIND, P_PURGE_ART,
	P_IDEM_PURGE, P_IDEM, P_TI_UNMAP, P_TI_MAPPED, P_TI_EXPAND,
	P_PLUGIN_SEEN, P_SEQ_RAISE, P_SEQ_ADD,
	P_DAG_VERSION, P_RUN_VERSION, P_TI_ADD,
	P_NSTMT
};
static const char *const store_psql[P_NSTMT] = {
	[P_IDEM_PURGE] = "DELETE FROM idempotency WHERE created_ms < ?1",
	[P_PLUGIN_SEEN] = "INSERT OR IGNORE INTO plugins_seen (name) VALUES (?1)",
	/* Job ids never go back below ?1 (store_seq_raise). */
	[P_SEQ_RAISE] = "UPDATE sqlite_sequence SET seq = max(seq, ?1)"
	" WHERE name = 'jobs'",
	[P_SEQ_ADD] = "INSERT INTO sqlite_sequence (name, seq)"
	" SELECT 'jobs', ?1 WHERE NOT EXISTS"
	" (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs')",
	/* The last row inserted is the batch's last job (STORE_IDEM). */
	[P_IDEM] =
	"INSERT OR IGNORE INTO idempotency (principal, key, hash, first_id,"
	" count, created_ms) VALUES (?1, ?2, ?3, last_insert_rowid() - ?4 + 1,"
	" ?4, ?5)",
	[P_TOKEN_REVOKE] =
	"UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0",
	/* The guard keeps it to one write a minute per token even when a
	 * burst of requests queued several. */
	[P_TOKEN_USED] =
	"UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1"
	" AND last_used_ms <= ?2 - ?3",
	[P_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
	[P_JOB_OUTPUTS] = "UPDATE jobs SET outputs = ?2 WHERE id = ?1",
	[P_ARTIFACT] =
	"INSERT OR IGNORE INTO artifacts (sha, size, created_ms) VALUES (?1, ?2, ?3)",
	[P_TI_SUBMIT] =
	"UPDATE task_instances SET state = 2, job_id = ?3, tries = tries + 1,"
	" started_ms = 0, finished_ms = 0 WHERE run = ?1 AND task = ?2"
	" AND map_index = ?4",
	/* A mapped task's instances go when it is cleared (STORE_TI_SET). */
	[P_TI_UNMAP] =
	"DELETE FROM task_instances WHERE run = ?1 AND task = ?2"
	" AND map_index >= 0",
	/* STORE_TI_EXPAND: the task itself runs while its instances do... */
	[P_TI_MAPPED] =
	"UPDATE task_instances SET state = 3, started_ms = ?3, error = NULL"
	" WHERE run = ?1 AND task = ?2 AND map_index = -1 AND state = 0",
	/* ... and they take its place in the run's order. */
	[P_TI_EXPAND] =
	"INSERT INTO task_instances (run, task, map_index, seq) SELECT run,"
	" task, ?3, seq FROM task_instances WHERE run = ?1 AND task = ?2"
	" AND map_index = -1",
	/* ?4: the job was a poke of a sensor that answered "not yet"
	 * (job_result_not_yet()): up for reschedule, or failed for a mapped
	 * instance, which cannot be a sensor. */
	[P_TI_FOLLOW] =
	"UPDATE task_instances SET state = CASE WHEN ?4 AND map_index = -1"
	" THEN 9 WHEN ?4 THEN 5 ELSE ?2 END,"
	" started_ms = CASE WHEN ?2 = 3 THEN ?3 ELSE started_ms END,"
	" finished_ms = CASE WHEN ?2 IN (4, 5) THEN ?3 ELSE finished_ms END,"
	" sensor_since_ms = CASE WHEN ?2 = 3 AND sensor_since_ms = 0 THEN ?3"
	" ELSE sensor_since_ms END"
	" WHERE job_id = ?1",
	[P_RUN_INSERT] =
	"INSERT OR IGNORE INTO dag_runs (dag_id, run_id, kind, logical_date,"
	" interval_start, interval_end, conf, created_ms, dag_version)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[P_TI_INSERT] =
	"INSERT INTO task_instances (run, task, seq) VALUES (?1, ?2, ?3)",
	[P_DAG_NEXT] =
	"INSERT INTO dags (id, next_start) VALUES (?1, ?2) ON CONFLICT(id)"
	" DO UPDATE SET next_start = MAX(next_start, excluded.next_start)",
	[P_TI_RESET] =
	"UPDATE task_instances SET state = 0, job_id = NULL, started_ms = 0,"
	" finished_ms = 0, error = NULL, sensor_since_ms = 0"
	" WHERE run = ?1 AND task = ?2 AND map_index = -1",
	/* A sensor the master pokes itself (state 9) starts its clock at
	 * its first poke. */
	[P_TI_SET] =
	"UPDATE task_instances SET state = ?3, finished_ms = ?4, error = ?5,"
	" sensor_since_ms = CASE WHEN ?3 = 9 AND sensor_since_ms = 0 THEN ?4"
	" ELSE sensor_since_ms END"
	" WHERE run = ?1 AND task = ?2 AND map_index = -1",
	[P_RUN_STATE] =
	"UPDATE dag_runs SET state = ?2,"
	" finished_ms = CASE WHEN ?2 >= 2 THEN ?3 ELSE 0 END WHERE id = ?1",
	[P_DAG_SET] =
	"INSERT INTO dags (id, paused, next_start) VALUES (?1, MAX(?2, 0),"
	" MAX(?3, 0)) ON CONFLICT(id) DO UPDATE SET"
	" paused = CASE WHEN ?2 < 0 THEN paused ELSE ?2 END,"
	" next_start = CASE WHEN ?3 < 0 THEN next_start ELSE ?3 END",
	/* Oldest first, through the partial indexes of migration 4 -> 5;
	 * their task instances and attempts go by ON DELETE CASCADE.  A job
	 * of a run still kept stays with it, so a run never shows a task
	 * whose job is gone. */
	[P_PURGE_RUNS] =
	"DELETE FROM dag_runs WHERE id IN (SELECT id FROM dag_runs"
	" WHERE state >= 2 AND finished_ms < ?1 ORDER BY finished_ms LIMIT ?2)",
	[P_PURGE_JOBS] =
	"DELETE FROM jobs WHERE id IN (SELECT id FROM jobs"
	" WHERE state >= 2 AND finished_ms < ?1 AND (run IS NULL OR NOT EXISTS"
	" (SELECT 1 FROM dag_runs r WHERE r.id = jobs.run))"
	" ORDER BY finished_ms LIMIT ?2)",
	/* The artifacts a job's inputs or outputs (?2, JSON) name. */
	[P_REFS] =
	"INSERT OR IGNORE INTO artifact_refs (sha, job_id)"
	" SELECT json_extract(value, '$.sha'), ?1 FROM json_each("
	" CASE WHEN json_valid(?2) THEN ?2 ELSE '[]' END)"
	" WHERE json_extract(value, '$.sha') IS NOT NULL",
	/* Put again: young again, so that retention leaves it to the job
	 * whose outputs will name it. */
	[P_ARTIFACT_TOUCH] = "UPDATE artifacts SET created_ms = ?2 WHERE sha = ?1",
	[P_PURGE_ART_FIND] =
	"SELECT sha FROM artifacts a WHERE created_ms < ?1 AND NOT EXISTS"
	" (SELECT 1 FROM artifact_refs r WHERE r.sha = a.sha)"
	" ORDER BY created_ms LIMIT ?2",
	[P_PURGE_ART] = "DELETE FROM artifacts WHERE sha = ?1",
	/* STORE_DAG_VERSION: a new number unless the latest has this hash
	 * (a file edited back to an older text is a new version, as in
	 * Airflow 3: versions follow time). */
	[P_DAG_VERSION] =
	"INSERT INTO dag_versions (dag_id, version, hash, created_ms, size, text)"
	" SELECT ?1, (SELECT COALESCE(MAX(version), 0) + 1 FROM dag_versions"
	" WHERE dag_id = ?1), ?2, ?3, ?4, ?5 WHERE COALESCE((SELECT hash FROM"
	" dag_versions WHERE dag_id = ?1 ORDER BY version DESC LIMIT 1), '')"
	" <> ?2",
	[P_RUN_VERSION] = "UPDATE dag_runs SET dag_version = ?2 WHERE id = ?1",
	/* A task the run's new version has and its old one had not. */
	[P_TI_ADD] =
	"INSERT OR IGNORE INTO task_instances (run, task, seq) VALUES (?1, ?2, ?3)",
};

/* Statements of the read connection, prepared on first use.  R_LIST and
 * R_COUNT are each followed by one slot per combination of list filters
 * (LF_*). */
enum {
	LF_STATE = 1, LF_PLUGIN = 2, LF_BEFORE = 4, LF_DAG = 8, LF_RUN = 16,
	LF_WORKER = 32, LF_ID = 64, LF_SINCE = 128, LF_UNTIL = 256,
	LF_ALL = 512
};
enum {
	R_GET, R_UNFINISHED, R_COUNTS, R_ATTEMPTS, R_LOG, R_LOG_LATEST,
	R_EXISTS, R_TOKEN_ADD, R_TOKEN_CHECK, R_TOKEN_GET, R_TOKEN_LIST,
	R_TOKEN_SETTLE, R_PLUGINS,
	R_LIST,
	R_COUNT = R_LIST + LF_ALL,
	R_NSTMT = R_COUNT + LF_ALL
};
static const char *const store_rsql[R_LIST] = {
	[R_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
	/* Queued, then running, each by id: the order of jobs_state, so a
	 * range scan of it with no sort (store_startup_plans). */
	[R_UNFINISHED] = "SELECT " JOB_COLS " FROM jobs"
	" WHERE state IN (0, 1) ORDER BY state, id",
	[R_COUNTS] = "SELECT state, count(*) FROM jobs GROUP BY state",
	[R_PLUGINS] = "SELECT name FROM plugins_seen",
	[R_ATTEMPTS] = "SELECT job_id, attempt, worker, state, error,"
	" started_ms, finished_ms FROM attempts WHERE job_id = ?1"
	" ORDER BY attempt",
	[R_LOG] = "SELECT log FROM attempts WHERE job_id = ?1 AND attempt = ?2",
	[R_LOG_LATEST] = "SELECT log FROM attempts WHERE job_id = ?1"
	" ORDER BY attempt DESC LIMIT 1",
	[R_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
	[R_TOKEN_ADD] = "INSERT OR IGNORE INTO tokens (hash, name, role,"
	" created_ms, created_by, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[R_TOKEN_CHECK] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1",
	[R_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1",
	[R_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens WHERE id < ?1"
	" ORDER BY id DESC LIMIT ?2",
	[R_TOKEN_SETTLE] = "UPDATE tokens SET expires_ms = ?1"
	" WHERE expires_ms = -1",
};

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

/* One caller's store_apply(), queued for the writer.  Lives on the
 * caller's stack; the writer may touch it only until it sets done. */
struct store_batch {
	struct store_op *ops;
	size_t n;
	int later;              /* from store_apply_later(): nobody waits;
	                         * the writer frees it (and its strings) */
	/* store_apply_early(): called by the committing thread once the
	 * group's ops ran (the jobs have their ids), before its COMMIT;
	 * early_ran says if it was. */
	void (*early)(void *ud, const struct store_op *ops, size_t n);
	void *early_ud;
	int early_ran;
	int done;
	int rc;
	char *err;              /* malloc()ed, handed to the caller */
	pthread_cond_t cond;    /* the caller sleeps here */
	struct store_batch *next;
};

#define STORE_SEEN_MAX 64

/* A client's token is checked at every request it makes: one read of the
 * store each (a tenth of the master's time in a round trip of submit and
 * result), for a row that changes only by this store's own ops.  Tokens
 * that may be used are kept here; a revocation empties the cache once it
 * is committed, and an entry read before it is not put back (tok_gen).
 * Unknown hashes are never kept: a stranger's guesses cost nothing. */
#define TOKEN_CACHE 64

struct token_cached {
	char hash[65];          /* "" if the entry is free */
	struct store_token t;
};

struct store {
	char *path;

	/* Writer side: wdb and wst[] are touched only by the thread that
	 * set busy (the writer, or a caller committing itself), and by
	 * open/close before and after the writer runs. */
	sqlite3 *wdb;
	sqlite3_stmt *wst[W_NSTMT];
	sqlite3_stmt *pst[P_NSTMT];
	/* Plugins this writer has put in plugins_seen, so that a submission
	 * writes there only for a plugin new since the open; emptied when a
	 * commit fails, since it may have undone the insert. */
	char *seen[STORE_SEEN_MAX];
	size_t nseen;
	pthread_t writer;
	int writer_started;
	/* The committing thread's only (busy).  id_floor: a commit that
	 * failed had given jobs ids up to this, perhaps handed out early:
	 * the next commit raises the jobs' sequence past it, so none is
	 * given again.  wal_pages: the WAL's size after the last commit
	 * (sqlite3_wal_hook; atomic: the checkpoint clears it while a
	 * commit may run). */
	int64_t id_floor;
	int wal_pages;
	/* The writer thread's own connection, for checkpoints: they copy
	 * the WAL into the database while commits go on (a checkpoint of
	 * 4 MB takes milliseconds; on the write connection, every commit
	 * meanwhile waited for it). */
	sqlite3 *cdb;

	pthread_mutex_t q_mu;   /* guards everything down to commits */
	pthread_cond_t q_cond;  /* the writer sleeps here */
	struct store_batch *q_head, **q_tail;
	size_t q_waiting;       /* batches in the queue whose caller waits */
	/* A commit is running, on the writer or on a caller's thread
	 * (store_apply_wait): the write connection and the fields the
	 * writer owns are that thread's until it clears busy. */
	int busy;
	int ckpt_due;           /* the writer checkpoints (on cdb) */
	int ckpting;            /* ... and is doing it now, beside commits */
	int ckpt_tail;          /* ... and has the rest to do, between two */
	int64_t later_since;    /* mono ms: oldest deferred batch queued */
	int stopping;
	uint64_t commits;
	/* The last commit failed as a full or failing disk does (-ENOSPC,
	 * -EIO): the message, until a commit succeeds again. */
	char *unwritable;

	/* Reader side. */
	pthread_mutex_t read_mu;
	sqlite3 *rdb;
	sqlite3_stmt *rst[R_NSTMT];

	/* Tokens that may be used, as last read (store_token_check). */
	pthread_mutex_t tok_mu;
	struct token_cached tok[TOKEN_CACHE];
	unsigned tok_next;      /* the entry a new one replaces */
	uint64_t tok_gen;       /* one more at each revocation */
	int tok_revoked;        /* the commit under way revokes a token */
};

/* Map an SQLite result code to the negative errno kiln functions return. */
static int
store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

/* Fail with the connection's last error message, prefixed by WHAT. */
static int
store_dberr(sqlite3 *db, int rc, char **err, const char *what)
{
	return err_set(err, store_errno(rc), "%s: %s", what,
	              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int
store_exec(sqlite3 *db, const char *sql, char **err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		rc = err_set(err, store_errno(rc), "sqlite: %.40s: %s", sql,
		            msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* Read a one-integer PRAGMA such as user_version. */
static int
store_pragma_int(sqlite3 *db, const char *sql, int *out, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_dberr(db, rc, err, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	} else {
		rc = store_dberr(db, rc, err, sql);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Fault injection: a VFS wrapping the default one (fault.h)           */
/* ------------------------------------------------------------------ */

/* Registered only when KILN_FAULT names the store: every file SQLite
 * opens (database, WAL, journal) goes through it, and each xWrite, xSync
 * and xRead asks fault_check() first.  Unarmed, the store opens the
 * default VFS and this code never runs. */
struct store_ffile {
	sqlite3_file base;
	sqlite3_file *real;     /* the default VFS's file, right after us */
};

static sqlite3_vfs store_fvfs;
static sqlite3_vfs *store_freal;

#define FREAL(f) (((struct store_ffile *)(f))->real)

/* The SQLite code of an injected errno E where a CODE (SQLITE_IOERR_*)
 * would be: a full disk is SQLITE_FULL, as the unix VFS reports it. */
static int
store_fcode(int e, int code)
{
	return e == ENOSPC || e == EDQUOT ? SQLITE_FULL : code;
}

static int
store_fclose(sqlite3_file *f)
{
	return FREAL(f)->pMethods->xClose(FREAL(f));
}

static int
store_fread(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	int e = fault_check(FAULT_STORE, FAULT_READ);
	if (e != 0)
		return store_fcode(e, SQLITE_IOERR_READ);
	return FREAL(f)->pMethods->xRead(FREAL(f), buf, n, off);
}

static int
store_fwrite(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	int e = fault_check(FAULT_STORE, FAULT_WRITE);
	if (e != 0)
		return store_fcode(e, SQLITE_IOERR_WRITE);
	return FREAL(f)->pMethods->xWrite(FREAL(f), buf, n, off);
}

static int
store_fsync(sqlite3_file *f, int flags)
{
	int e = fault_check(FAULT_STORE, FAULT_SYNC);
	if (e != 0)
		return store_fcode(e, SQLITE_IOERR_FSYNC);
	return FREAL(f)->pMethods->xSync(FREAL(f), flags);
}

static int
store_ftruncate(sqlite3_file *f, sqlite3_int64 size)
{
	return FREAL(f)->pMethods->xTruncate(FREAL(f), size);
}

static int
store_fsize(sqlite3_file *f, sqlite3_int64 *size)
{
	return FREAL(f)->pMethods->xFileSize(FREAL(f), size);
}

static int
store_flock(sqlite3_file *f, int lock)
{
	return FREAL(f)->pMethods->xLock(FREAL(f), lock);
}

static int
store_funlock(sqlite3_file *f, int lock)
{
	return FREAL(f)->pMethods->xUnlock(FREAL(f), lock);
}

static int
store_freserved(sqlite3_file *f, int *out)
{
	return FREAL(f)->pMethods->xCheckReservedLock(FREAL(f), out);
}

static int
store_fcontrol(sqlite3_file *f, int op, void *arg)
{
	return FREAL(f)->pMethods->xFileControl(FREAL(f), op, arg);
}

static int
store_fsector(sqlite3_file *f)
{
	return FREAL(f)->pMethods->xSectorSize(FREAL(f));
}

static int
store_fdevice(sqlite3_file *f)
{
	return FREAL(f)->pMethods->xDeviceCharacteristics(FREAL(f));
}

static int
store_fshmmap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p)
{
	return FREAL(f)->pMethods->xShmMap(FREAL(f), pg, pgsz, extend, p);
}

static int
store_fshmlock(sqlite3_file *f, int off, int n, int flags)
{
	return FREAL(f)->pMethods->xShmLock(FREAL(f), off, n, flags);
}

static void
store_fshmbarrier(sqlite3_file *f)
{
	FREAL(f)->pMethods->xShmBarrier(FREAL(f));
}

static int
store_fshmunmap(sqlite3_file *f, int del)
{
	return FREAL(f)->pMethods->xShmUnmap(FREAL(f), del);
}

/* Version 2: WAL's shared memory, but no xFetch (memory-mapped reads
 * would bypass xRead). */
static const sqlite3_io_methods store_fio = {
	2, store_fclose, store_fread, store_fwrite, store_ftruncate,
	store_fsync, store_fsize, store_flock, store_funlock, store_freserved,
	store_fcontrol, store_fsector, store_fdevice, store_fshmmap,
	store_fshmlock, store_fshmbarrier, store_fshmunmap, NULL, NULL,
};

static int
store_fopen(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
            int *out_flags)
{
	struct store_ffile *ff = (struct store_ffile *)f;
	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	int rc = store_freal->xOpen(store_freal, name, ff->real, flags,
	                            out_flags);
	/* SQLite calls xClose only if pMethods is set. */
	ff->base.pMethods = ff->real->pMethods != NULL ? &store_fio : NULL;
	return rc;
}

static pthread_once_t store_fonce = PTHREAD_ONCE_INIT;

static void
store_fregister(void)
{
	store_freal = sqlite3_vfs_find(NULL);
	store_fvfs = *store_freal;
	store_fvfs.zName = "kiln-fault";
	store_fvfs.szOsFile = (int)sizeof(struct store_ffile) +
	                      store_freal->szOsFile;
	store_fvfs.xOpen = store_fopen;
	store_fvfs.pNext = NULL;
	sqlite3_vfs_register(&store_fvfs, 0);
}

/* The VFS the store opens: the fault shim when armed, else the default. */
static const char *
store_vfs(void)
{
	if (!fault_armed(FAULT_STORE))
		return NULL;
	pthread_once(&store_fonce, store_fregister);
	return store_fvfs.zName;
}

/* mkdir -p of the directory part of PATH. */
static int
store_connect(const char *path, sqlite3 **out, char **err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         store_vfs());
	if (rc != SQLITE_OK) {
		rc = err_set(err, store_errno(rc), "cannot open %s: %s", path,
		            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);      /* a handle is returned even on error */
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	/* Both connections may briefly want the write lock (the writer, and
	 * store_token_add on the read connection): wait rather than fail. */
	if ((rc = store_exec(db, "PRAGMA busy_timeout = 5000", err)) < 0 ||
	    (rc = store_exec(db, "PRAGMA foreign_keys = ON", err)) < 0) {
		sqlite3_close(db);
		return rc;
	}
	*out = db;
	return 0;
}

static int
store_too_new(store *s, int ver, char **err)
{
	return err_set(err, -EPROTO, "%s has schema version %d, newer than the "
	              "%d this kiln knows: upgrade kiln", s->path, ver,
	              STORE_NMIGRATIONS);
}

/* Bring the schema up to store_schema_version().  The version is read
 * inside the write transaction so two processes opening the same new
 * database cannot both migrate it. */
static int
store_migrate(store *s, char **err)
{
	int rc, ver = 0;

	if ((rc = store_exec(s->wdb, "BEGIN IMMEDIATE", err)) < 0)
		return rc;
	if ((rc = store_pragma_int(s->wdb, "PRAGMA user_version", &ver,
	                           err)) < 0)
		goto fail;
	if (ver > STORE_NMIGRATIONS) {
		rc = store_too_new(s, ver, err);
		goto fail;
	}
	if (ver == STORE_NMIGRATIONS) {
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	for (int v = ver; v < STORE_NMIGRATIONS; v++) {
		if ((rc = store_exec(s->wdb, store_migrations[v], err)) < 0)
			goto fail;
	}
	/* PRAGMA takes no bound parameters; the value is our own integer. */
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
	         STORE_NMIGRATIONS);
	if ((rc = store_exec(s->wdb, sql, err)) < 0 ||
	    (rc = store_exec(s->wdb, "COMMIT", err)) < 0)
		goto fail;
	log_info("store: %s migrated from schema version %d to %d", s->path,
	         ver, STORE_NMIGRATIONS);
	return 0;
fail:
	if (!sqlite3_get_autocommit(s->wdb))
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void *store_writer(void *arg);
static int store_wal_hook(void *ud, sqlite3 *db, const char *name, int n);

/*
 * At open: job ids go on STORE_EARLY_MAX past the last one given.  The
 * master hands a group's jobs to workers while their commit is being made
 * durable (store_apply_early); a master killed in that window loses
 * their rows, but a worker may still hold one and report it when it
 * registers again.  With the gap, its id names no job of the new master,
 * so the report is refused rather than taken for another job's.  The
 * first open writes the sequence's row without a gap: a new store's
 * first job is 1.
 */
static int
store_seq_gap(store *s, char **err)
{
	char sql[512];
	snprintf(sql, sizeof sql,
	         "BEGIN IMMEDIATE;"
	         "UPDATE sqlite_sequence SET seq = max(seq, (SELECT"
	         " coalesce(max(id), 0) FROM jobs)) + %d WHERE name = 'jobs';"
	         "INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs',"
	         " (SELECT coalesce(max(id), 0) FROM jobs) WHERE NOT EXISTS"
	         " (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs');"
	         "COMMIT", STORE_EARLY_MAX);
	int rc = store_exec(s->wdb, sql, err);
	if (rc < 0 && !sqlite3_get_autocommit(s->wdb))
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	/* Its writes and sync are a step of their own in a trace. */
	if (fault_tracing())
		log_info("fault: store commit seq: %s", rc < 0 ? *err : "ok");
	return rc;
}

/* Free whatever store_open() got as far as making. */
static void
store_seen_forget(store *s)
{
	for (size_t i = 0; i < s->nseen; i++)
		free(s->seen[i]);
	s->nseen = 0;
}

static void
store_destroy(store *s)
{
	for (int i = 0; i < R_NSTMT; i++)
		sqlite3_finalize(s->rst[i]);
	for (int i = 0; i < W_NSTMT; i++)
		sqlite3_finalize(s->wst[i]);
	for (int i = 0; i < P_NSTMT; i++)
		sqlite3_finalize(s->pst[i]);
	/* The write connection is closed last: the last connection to a WAL
	 * database checkpoints it and removes the -wal file. */
	if (s->rdb != NULL && sqlite3_close(s->rdb) != SQLITE_OK)
		log_error("store: closing %s: %s", s->path,
		          sqlite3_errmsg(s->rdb));
	if (s->cdb != NULL && sqlite3_close(s->cdb) != SQLITE_OK)
		log_error("store: closing %s: %s", s->path,
		          sqlite3_errmsg(s->cdb));
	if (s->wdb != NULL && sqlite3_close(s->wdb) != SQLITE_OK)
		log_error("store: closing %s: %s", s->path,
		          sqlite3_errmsg(s->wdb));
	pthread_mutex_destroy(&s->q_mu);
	pthread_cond_destroy(&s->q_cond);
	pthread_mutex_destroy(&s->read_mu);
	for (int i = 0; i < TOKEN_CACHE; i++)
		store_token_clear(&s->tok[i].t);
	pthread_mutex_destroy(&s->tok_mu);
	store_seen_forget(s);
	free(s->unwritable);
	free(s->path);
	free(s);
}

/* SQLite's memory statistics, which nothing here reads, take a global
 * mutex at every allocation of every connection: off, before SQLite is
 * first used (a later call changes nothing and fails harmlessly). */
static pthread_once_t store_conf_once = PTHREAD_ONCE_INIT;

static void
store_conf(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int
store_open(const char *path, int sync_full, store **out, char **err)
{
	store *s;
	int rc;
	char mode[16] = "";

	*out = NULL;
	pthread_once(&store_conf_once, store_conf);
	if (path == NULL || *path == '\0')
		return err_set(err, -EINVAL, "store: no database path");
	if (!sqlite3_threadsafe())
		return err_set(err, -ENOTSUP, "store: SQLite was built without "
		              "thread support");
	if ((rc = fs_mkdir_parents(path, 0700, err)) < 0)
		return rc;

	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	s->q_tail = &s->q_head;
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&s->read_mu, NULL);
	pthread_mutex_init(&s->tok_mu, NULL);

	if ((rc = store_connect(path, &s->wdb, err)) < 0)
		goto fail;
	/* Refuse a newer database before touching it (the journal mode is
	 * persistent); store_migrate() checks again under the write lock. */
	int ver;
	if ((rc = store_pragma_int(s->wdb, "PRAGMA user_version", &ver,
	                           err)) < 0)
		goto fail;
	if (ver > STORE_NMIGRATIONS) {
		rc = store_too_new(s, ver, err);
		goto fail;
	}

	/* journal_mode answers with the mode it ended up in; a filesystem
	 * without shared memory support would leave us in "delete". */
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = WAL", -1, &st,
	                        NULL);
	if (rc != SQLITE_OK) {
		rc = store_dberr(s->wdb, rc, err, "PRAGMA journal_mode");
		goto fail;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(mode, sizeof mode, "%s",
		         (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(mode, "wal") != 0) {
		rc = err_set(err, -EIO, "%s: cannot switch to WAL journal (%s)",
		            path, *mode ? mode : sqlite3_errmsg(s->wdb));
		goto fail;
	}
	if ((rc = store_exec(s->wdb, sync_full ? "PRAGMA synchronous = FULL" :
	                     "PRAGMA synchronous = NORMAL", err)) < 0)
		goto fail;
	if ((rc = store_migrate(s, err)) < 0 ||
	    (rc = store_seq_gap(s, err)) < 0)
		goto fail;
	sqlite3_wal_hook(s->wdb, store_wal_hook, s);

	for (int i = 0; i < W_NSTMT; i++) {
		rc = sqlite3_prepare_v3(s->wdb, store_wsql[i], -1,
		                        SQLITE_PREPARE_PERSISTENT, &s->wst[i],
		                        NULL);
		if (rc != SQLITE_OK) {
			rc = store_dberr(s->wdb, rc, err, "store: prepare");
			goto fail;
		}
	}

	if ((rc = store_connect(path, &s->rdb, err)) < 0 ||
	    (rc = store_connect(path, &s->cdb, err)) < 0 ||
	    (rc = store_exec(s->cdb, sync_full ? "PRAGMA synchronous = FULL" :
	                     "PRAGMA synchronous = NORMAL", err)) < 0)
		goto fail;

	/* The writer must not take the process's signals (the master
	 * handles them on its main thread). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->writer, NULL, store_writer, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rc = err_set(err, -rc, "store: cannot start writer thread: %s",
		            strerror(rc));
		goto fail;
	}
	s->writer_started = 1;

	log_info("store: opened %s (schema version %d, synchronous=%s)",
	         path, STORE_NMIGRATIONS, sync_full ? "FULL" : "NORMAL");
	*out = s;
	return 0;
fail:
	store_destroy(s);
	return rc;
}

void
store_close(store *s)
{
	if (s == NULL)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->q_mu);
		s->stopping = 1;
		pthread_cond_signal(&s->q_cond);
		pthread_mutex_unlock(&s->q_mu);
		pthread_join(s->writer, NULL);
	}
	store_destroy(s);
}

uint64_t
store_commits(store *s)
{
	pthread_mutex_lock(&s->q_mu);
	uint64_t n = s->commits;
	pthread_mutex_unlock(&s->q_mu);
	return n;
}

/* ------------------------------------------------------------------ */
/* The writer                                                          */
/* ------------------------------------------------------------------ */

static void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	/* SQLITE_STATIC: the caller's strings outlive the statement's use,
	 * which ends with the reset in store_wstep(). */
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Run a bound write statement to completion; the result code. */
static int
store_wstep(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Bind arguments to ST in order from FMT, then run it to completion:
 * 'i' an int64_t, 'r' an int64_t row id (0 or less binds NULL), 's' a
 * string (NULL binds NULL).  Every integer is passed as int64_t. */
static int
store_vexec(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	for (int i = 0; fmt[i] != '\0'; i++) {
		if (fmt[i] == 's') {
			store_bind_text(st, i + 1, va_arg(ap, const char *));
			continue;
		}
		int64_t v = va_arg(ap, int64_t);
		if (fmt[i] == 'r' && v <= 0)
			sqlite3_bind_null(st, i + 1);
		else
			sqlite3_bind_int64(st, i + 1, v);
	}
	return store_wstep(st);
}

/* Run write statement WHICH (store_wsql) with arguments bound as
 * store_vexec() says.  Writer thread only. */
static int
store_wexec(store *s, int which, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = store_vexec(s->wst[which], fmt, ap);
	va_end(ap);
	return rc;
}

/* Run pipeline statement WHICH (store_psql, prepared on first use) with
 * arguments bound as store_vexec() says.  Writer thread only. */
static int
store_pexec(store *s, int which, const char *fmt, ...)
{
	if (s->pst[which] == NULL) {
		int rc = sqlite3_prepare_v3(s->wdb, store_psql[which], -1,
		                            SQLITE_PREPARE_PERSISTENT,
		                            &s->pst[which], NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	va_list ap;
	va_start(ap, fmt);
	int rc = store_vexec(s->pst[which], fmt, ap);
	va_end(ap);
	return rc;
}

/* The task instance a job runs follows the job's transitions. */
static int
store_ti_follow(store *s, const struct store_op *op, int64_t t)
{
	int ti;
	switch (op->kind) {
	case STORE_START: ti = TI_RUNNING; break;
	case STORE_FINISH: ti = op->state == JOB_SUCCEEDED ? TI_SUCCESS : TI_FAILED; break;
	case STORE_REQUEUE: ti = op->state == JOB_FAILED ? TI_UP_FOR_RETRY : TI_QUEUED; break;
	case STORE_CANCEL: ti = TI_FAILED; break;
	default: return SQLITE_OK;
	}
	if (op->run < 0)
		return SQLITE_OK;       /* a plain job: nothing follows it */
	int64_t not_yet = op->kind == STORE_FINISH &&
	                  op->state == JOB_SUCCEEDED &&
	                  job_result_not_yet(op->result);
	return store_pexec(s, P_TI_FOLLOW, "iiii", op->id, (int64_t)ti, t,
	                   not_yet);
}

static int
store_run_create(store *s, struct store_op *op, int64_t t)
{
	const struct store_run_new *r = op->run_new;
	int rc = store_pexec(s, P_RUN_INSERT, "sssiiisii", r->dag_id, r->run_id,
	                     r->kind, r->logical_date, r->interval_start,
	                     r->interval_end, r->conf ? r->conf : "{}", t,
	                     (int64_t)r->dag_version);
	if (rc != SQLITE_OK)
		return rc;
	if (sqlite3_changes(s->wdb) > 0) {
		op->id = sqlite3_last_insert_rowid(s->wdb);
		op->applied = 1;
		for (size_t i = 0; i < r->ntasks && rc == SQLITE_OK; i++)
			rc = store_pexec(s, P_TI_INSERT, "isi", op->id,
			                 r->tasks[i], (int64_t)i);
	}
	if (rc == SQLITE_OK && r->next_start > 0)
		rc = store_pexec(s, P_DAG_NEXT, "si", r->dag_id, r->next_start);
	return rc;
}

/* PLUGIN is in plugins_seen by the end of this transaction: written
 * the first time this writer sees it, and then only looked up in the
 * few it remembers (past STORE_SEEN_MAX plugins, written every time). */
static int
store_seen_add(store *s, const char *plugin)
{
	for (size_t i = 0; i < s->nseen; i++)
		if (strcmp(s->seen[i], plugin) == 0)
			return SQLITE_OK;
	int rc = store_pexec(s, P_PLUGIN_SEEN, "s", plugin);
	if (rc == SQLITE_OK && s->nseen < STORE_SEEN_MAX)
		s->seen[s->nseen++] = xstrdup(plugin);
	return rc;
}

static int
store_op_submit(store *s, struct store_op *op, int64_t t)
{
	const struct store_job *j = &op->job;
	int rc = store_wexec(s, W_SUBMIT, "ssiiiiiirsiiiss", j->plugin,
	                     j->params ? j->params : "{}",
	                     (int64_t)j->priority, (int64_t)j->slots,
	                     j->memory, j->timeout_ms,
	                     (int64_t)j->max_attempts,
	                     j->created_ms ? j->created_ms : t, j->run,
	                     j->task, j->retry_delay_ms,
	                     (int64_t)j->retry_exponential,
	                     j->retry_max_delay_ms, j->pool, j->inputs);
	if (rc != SQLITE_OK)
		return rc;
	op->job.id = sqlite3_last_insert_rowid(s->wdb);
	op->applied = 1;
	if ((rc = store_seen_add(s, j->plugin)) != SQLITE_OK)
		return rc;
	if (j->inputs != NULL &&
	    (rc = store_pexec(s, P_REFS, "is", op->job.id, j->inputs)) != SQLITE_OK)
		return rc;
	if (j->run > 0 && j->task != NULL)
		return store_pexec(s, P_TI_SUBMIT, "isii", j->run, j->task,
		                   j->id, (int64_t)(j->mapped ? j->map_index : -1));
	return SQLITE_OK;
}

/*
 * A job's transition (start, finish, requeue, cancel): the job row first,
 * guarded by its state and attempt so that a replayed or late op changes
 * nothing; only if it changed, the attempt's row and the task instance
 * the job runs, if any.
 */
static int
store_op_job(store *s, struct store_op *op, int64_t t)
{
	const int64_t id = op->id, att = op->attempt;
	int rc;

	switch (op->kind) {
	case STORE_START:
		rc = store_wexec(s, W_START, "iisi", id, att, op->worker, t);
		break;
	case STORE_FINISH:
		rc = store_wexec(s, W_FINISH, "iiissiisi", id, att,
		                 (int64_t)op->state, op->result, op->error, t,
		                 (int64_t)(op->start_folded != 0), op->worker,
		                 op->started_ms);
		break;
	case STORE_REQUEUE:
		rc = store_wexec(s, W_REQUEUE, "iii", id, att,
		                 (int64_t)(op->start_folded != 0));
		break;
	default:                /* STORE_CANCEL */
		rc = store_wexec(s, W_CANCEL, "ii", id, t);
		break;
	}
	if (rc != SQLITE_OK || sqlite3_changes(s->wdb) == 0)
		return rc;

	switch (op->kind) {
	case STORE_START:
		rc = store_wexec(s, W_ATT_START, "iisi", id, att, op->worker, t);
		break;
	case STORE_FINISH:
		if (op->outputs != NULL &&
		    ((rc = store_pexec(s, P_JOB_OUTPUTS, "is", id,
		                       op->outputs)) != SQLITE_OK ||
		     (rc = store_pexec(s, P_REFS, "is", id,
		                       op->outputs)) != SQLITE_OK))
			return rc;
		/* fall through */
	case STORE_REQUEUE:
		/* A folded start: the attempt's row is written whole (a
		 * replace: its start may also be there, from a master that
		 * confirmed it at the worker's registration). */
		rc = store_wexec(s, op->start_folded ? W_ATT_FOLDED : W_ATT_FINISH,
		                 op->start_folded ? "iiissisi" : "iiissi", id, att,
		                 (int64_t)(op->kind == STORE_FINISH ? op->state
		                                                    : JOB_FAILED),
		                 op->error, op->log, t, op->worker,
		                 op->started_ms ? op->started_ms : t);
		break;
	default:                /* STORE_CANCEL */
		rc = store_wexec(s, W_ATT_CANCEL, "ii", id, t);
		break;
	}
	if (rc != SQLITE_OK)
		return rc;
	op->applied = 1;
	return store_ti_follow(s, op, t);
}

/* STORE_TI_EXPAND: task .task of run .run runs as .map_count instances,
 * inserted in state none; not applied unless the task was none. */
static int
store_ti_expand(store *s, struct store_op *op, int64_t t)
{
	int rc = store_pexec(s, P_TI_MAPPED, "isi", op->run, op->task, t);
	if (rc != SQLITE_OK || sqlite3_changes(s->wdb) == 0)
		return rc;
	for (int k = 0; k < op->map_count && rc == SQLITE_OK; k++)
		rc = store_pexec(s, P_TI_EXPAND, "isi", op->run, op->task,
		                 (int64_t)k);
	op->applied = rc == SQLITE_OK;
	return rc;
}

/* STORE_DAG_VERSION: .dag_id's text .log (NULL if over
 * STORE_DAG_TEXT_MAX; .id its size) whose hash is .result, a new version
 * unless the latest has that hash.  STORE_RUN_VERSION: run .id runs
 * version .dag_version from now on, with instances (in state none) of the
 * .run_new->tasks it lacks. */
static int
store_dag_version_op(store *s, struct store_op *op, int64_t t)
{
	int rc;
	if (op->kind == STORE_DAG_VERSION) {
		const char *text = op->log;
		if (text != NULL && strlen(text) > STORE_DAG_TEXT_MAX)
			text = NULL;
		rc = store_pexec(s, P_DAG_VERSION, "ssiis", op->dag_id, op->result,
		                 t, op->id, text);
		op->applied = rc == SQLITE_OK && sqlite3_changes(s->wdb) > 0;
		return rc;
	}
	rc = store_pexec(s, P_RUN_VERSION, "ii", op->id, (int64_t)op->dag_version);
	op->applied = rc == SQLITE_OK && sqlite3_changes(s->wdb) > 0;
	for (size_t i = 0; rc == SQLITE_OK && op->run_new != NULL &&
	     i < op->run_new->ntasks; i++)
		rc = store_pexec(s, P_TI_ADD, "isi", op->id, op->run_new->tasks[i],
		                 (int64_t)i);
	return rc;
}

/* STORE_PURGE's artifacts: up to op->attempt recorded before T that no
 * job names, their rows deleted and their names kept for the caller. */
static int
store_purge_artifacts(store *s, struct store_op *op, int64_t t)
{
	int rc = SQLITE_OK;
	size_t n = 0;

	op->purged_artifacts = 0;
	op->purged_shas = NULL;
	if (s->pst[P_PURGE_ART_FIND] == NULL)
		rc = sqlite3_prepare_v3(s->wdb, store_psql[P_PURGE_ART_FIND], -1,
		                        SQLITE_PREPARE_PERSISTENT,
		                        &s->pst[P_PURGE_ART_FIND], NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_stmt *st = s->pst[P_PURGE_ART_FIND];
	sqlite3_bind_int64(st, 1, t);
	sqlite3_bind_int64(st, 2, op->attempt);
	rc = sqlite3_step(st);
	while (rc == SQLITE_ROW) {
		op->purged_shas = xrealloc(op->purged_shas,
		                           (n + 2) * sizeof *op->purged_shas);
		op->purged_shas[n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
		op->purged_shas[n] = NULL;
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return rc;
	rc = SQLITE_OK;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = store_pexec(s, P_PURGE_ART, "s", op->purged_shas[i]);
	op->purged_artifacts = (int)n;
	return rc;
}

/* Apply one op inside the open transaction.  Sets op->applied; returns
 * an SQLite result code (not SQLITE_OK only for a real failure). */
static int
store_run_op(store *s, struct store_op *op)
{
	sqlite3 *db = s->wdb;
	int64_t t = op->t_ms ? op->t_ms : clock_now_ms();
	int rc;

	op->applied = 0;
	switch (op->kind) {
	case STORE_SUBMIT:
		return store_op_submit(s, op, t);
	case STORE_START:
	case STORE_FINISH:
	case STORE_REQUEUE:
	case STORE_CANCEL:
		return store_op_job(s, op, t);
	case STORE_RUN_CREATE:
		return store_run_create(s, op, t);
	case STORE_TI_SET:
		rc = op->state == TI_NONE ?
		     store_pexec(s, P_TI_RESET, "is", op->run, op->task) :
		     store_pexec(s, P_TI_SET, "isiis", op->run, op->task,
		                 (int64_t)op->state, t, op->error);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		if (rc == SQLITE_OK && op->state == TI_NONE)
			rc = store_pexec(s, P_TI_UNMAP, "is", op->run, op->task);
		return rc;
	case STORE_TI_EXPAND:
		return store_ti_expand(s, op, t);
	case STORE_DAG_VERSION:
	case STORE_RUN_VERSION:
		return store_dag_version_op(s, op, t);
	case STORE_RUN_STATE:
		rc = store_pexec(s, P_RUN_STATE, "iii", op->id, (int64_t)op->state, t);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		return rc;
	case STORE_DAG_SET:
		rc = store_pexec(s, P_DAG_SET, "sii", op->dag_id,
		                 (int64_t)op->paused, op->next_start);
		op->applied = rc == SQLITE_OK;
		return rc;
	case STORE_META:
		rc = store_pexec(s, P_META, "ss", op->task, op->result);
		op->applied = rc == SQLITE_OK;
		return rc;
	case STORE_ARTIFACT:
		rc = store_pexec(s, P_ARTIFACT, "sii", op->task, op->id, t);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		if (rc == SQLITE_OK && !op->applied)
			rc = store_pexec(s, P_ARTIFACT_TOUCH, "si", op->task, t);
		return rc;
	case STORE_LOG:
		rc = store_wexec(s, W_ATT_LOG, "iis", op->id,
		                 (int64_t)op->attempt, op->log);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		return rc;
	case STORE_TOKEN_REVOKE:
		rc = store_pexec(s, P_TOKEN_REVOKE, "ii", op->id, t);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		s->tok_revoked |= op->applied;
		return rc;
	case STORE_TOKEN_USED:
		rc = store_pexec(s, P_TOKEN_USED, "iii", op->id, t,
		                 (int64_t)STORE_TOKEN_USED_EVERY_MS);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		return rc;
	case STORE_PURGE:
		rc = store_pexec(s, P_PURGE_RUNS, "ii", t, (int64_t)op->attempt);
		op->purged_runs = rc == SQLITE_OK ? sqlite3_changes(db) : 0;
		if (rc == SQLITE_OK)
			rc = store_pexec(s, P_PURGE_JOBS, "ii", t, (int64_t)op->attempt);
		op->purged_jobs = rc == SQLITE_OK ? sqlite3_changes(db) : 0;
		if (rc == SQLITE_OK)
			rc = store_purge_artifacts(s, op, t);
		op->applied = op->purged_runs + op->purged_jobs +
		              op->purged_artifacts > 0;
		return rc;
	case STORE_IDEM:
		/* Expired keys go first, so an old one may be used again. */
		rc = store_pexec(s, P_IDEM_PURGE, "i", t - STORE_IDEM_TTL_MS);
		if (rc == SQLITE_OK)
			rc = store_pexec(s, P_IDEM, "sssii", op->worker, op->task,
			                 op->result, op->id, t);
		op->applied = rc == SQLITE_OK && sqlite3_changes(db) > 0;
		return rc;
	default:                /* store_apply() checked the kind */
		return SQLITE_MISUSE;
	}
}

/* 1 if a commit that failed with ERC (store_errno()) may succeed later
 * on its own: the disk is full, failing or busy.  A corrupt database or
 * a constraint broken (a bug) fails again whenever it is tried. */
static int
store_retryable(int erc)
{
	return erc == -ENOSPC || erc == -EIO || erc == -EBUSY ||
	       erc == -ENOMEM || erc == -EACCES;
}

/* Tests (KILN_FAULT=trace, fault.h): say which ops a commit carried, so
 * that the writes and syncs just logged can be told apart (a submit, a
 * start, a finish...). */
static void
store_trace_commit(const struct store_batch *list, const char *outcome)
{
	static const char *const names[] = {
		[STORE_SUBMIT] = "submit", [STORE_START] = "start",
		[STORE_FINISH] = "finish", [STORE_REQUEUE] = "requeue",
		[STORE_CANCEL] = "cancel", [STORE_RUN_CREATE] = "run",
		[STORE_TI_SET] = "ti", [STORE_RUN_STATE] = "runstate",
		[STORE_TI_EXPAND] = "expand",
		[STORE_DAG_SET] = "dag", [STORE_META] = "meta",
		[STORE_ARTIFACT] = "artifact", [STORE_LOG] = "log",
		[STORE_TOKEN_REVOKE] = "revoke", [STORE_TOKEN_USED] = "used",
		[STORE_PURGE] = "purge", [STORE_IDEM] = "idem",
	};
	char kinds[256] = "";
	size_t len = 0;
	for (const struct store_batch *b = list; b; b = b->next)
		for (size_t i = 0; i < b->n && len < sizeof kinds - 16; i++) {
			int k = b->ops[i].kind;
			const char *n = k >= 0 && k < (int)(sizeof names /
			                sizeof *names) && names[k] ? names[k] : "?";
			len += (size_t)snprintf(kinds + len, sizeof kinds - len,
			                        "%s%s", len ? "+" : "", n);
		}
	log_info("fault: store commit %s: %s", kinds, outcome);
}

/* Inside the open transaction: job ids from now on are above FLOOR (and
 * the jobs' row of sqlite_sequence exists).  Committing thread only. */
static int
store_seq_raise(store *s, int64_t floor)
{
	int rc = store_pexec(s, P_SEQ_RAISE, "i", floor);
	if (rc == SQLITE_OK && sqlite3_changes(s->wdb) == 0)
		rc = store_pexec(s, P_SEQ_ADD, "i", floor);
	return rc;
}

/* The early callbacks of the group's batches (store_apply_early), once
 * its ops ran and before its COMMIT, if the group gave ids to no more
 * than STORE_EARLY_MAX jobs: the ids a crash could lose before the
 * COMMIT is durable are then within the gap store_seq_gap() leaves at
 * the next open.  Then the "commit" fault point (fault.h), so a test
 * can stop the master right there, or fail the COMMIT: returns the errno
 * injected, or 0. */
static int
store_run_early(struct store_batch *list)
{
	size_t submits = 0;
	int any = 0;
	for (struct store_batch *b = list; b; b = b->next) {
		any |= b->early != NULL;
		for (size_t i = 0; i < b->n; i++)
			submits += b->ops[i].kind == STORE_SUBMIT;
	}
	if (any && submits <= STORE_EARLY_MAX) {
		for (struct store_batch *b = list; b; b = b->next) {
			if (b->early == NULL)
				continue;
			b->early(b->early_ud, b->ops, b->n);
			b->early_ran = 1;
		}
	}
	return submits > 0 ? fault_check(FAULT_STORE, FAULT_COMMIT) : 0;
}

/* Forget every cached token (a revocation is committed, or
 * expiries were set). */
static void
token_cache_drop(store *s)
{
	pthread_mutex_lock(&s->tok_mu);
	for (int i = 0; i < TOKEN_CACHE; i++) {
		store_token_clear(&s->tok[i].t);
		s->tok[i].hash[0] = '\0';
	}
	s->tok_gen++;
	pthread_mutex_unlock(&s->tok_mu);
}

/* Run every batch of the list in one transaction.  On failure the whole
 * transaction is rolled back and every batch in it fails, even those that
 * were fine: simple, and failures here mean a broken disk or database,
 * not a bad op (store_apply() rejects those before queueing). */
static void
store_commit_group(store *s, struct store_batch *list)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = store_wstep(s->wst[W_BEGIN]);
	const char *what = "BEGIN";

	if (rc == SQLITE_OK && s->id_floor > 0) {
		rc = store_seq_raise(s, s->id_floor);
		what = "write";
	}
	for (struct store_batch *b = list; b && rc == SQLITE_OK; b = b->next) {
		for (size_t i = 0; i < b->n && rc == SQLITE_OK; i++) {
			rc = store_run_op(s, &b->ops[i]);
			what = "write";
		}
	}
	const char *why = NULL;         /* an injected fault's */
	if (rc == SQLITE_OK) {
		int fe = store_run_early(list);
		what = "COMMIT";
		if (fe != 0) {
			rc = store_fcode(fe, SQLITE_IOERR_FSYNC);
			why = strerror(fe);
		} else {
			rc = store_wstep(s->wst[W_COMMIT]);
		}
	}
	if (fault_tracing())
		store_trace_commit(list, rc == SQLITE_OK ? "ok" : why ? why :
		                   sqlite3_errmsg(s->wdb));
	/* Before the callers are woken: a revoked token is refused from
	 * the next request on, whichever path applied the revocation. */
	if (rc == SQLITE_OK && s->tok_revoked)
		token_cache_drop(s);
	s->tok_revoked = 0;
	if (rc == SQLITE_OK) {
		s->id_floor = 0;
		pthread_mutex_lock(&s->q_mu);
		s->commits++;
		char *was = s->unwritable;
		s->unwritable = NULL;
		pthread_mutex_unlock(&s->q_mu);
		if (was != NULL)
			log_info("store: %s is written again", s->path);
		free(was);
		int ops = 0;
		for (struct store_batch *b = list; b; b = b->next)
			ops += (int)b->n;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		metrics_sqlite_write((double)(t1.tv_sec - t0.tv_sec) +
		                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, ops);
		return;
	}

	int erc = store_errno(rc);
	char *msg = xasprintf("store: %s failed on %s: %s", what, s->path,
	                      why ? why : sqlite3_errmsg(s->wdb));
	/* A full disk fails every commit until space is back: said once,
	 * and again when it passes. */
	pthread_mutex_lock(&s->q_mu);
	int again = s->unwritable != NULL;
	if (store_retryable(erc) && !again)
		s->unwritable = xstrdup(msg);
	pthread_mutex_unlock(&s->q_mu);
	if (!again)
		log_error("%s", msg);
	/* Some errors (disk full, I/O) roll back by themselves. */
	if (!sqlite3_get_autocommit(s->wdb) &&
	    store_wstep(s->wst[W_ROLLBACK]) != SQLITE_OK)
		log_error("store: ROLLBACK failed on %s: %s", s->path,
		          sqlite3_errmsg(s->wdb));
	store_seen_forget(s);
	for (struct store_batch *b = list; b; b = b->next) {
		for (size_t i = 0; i < b->n; i++) {
			struct store_op *op = &b->ops[i];
			/* Rolled back, its id would be given again: not if
			 * it may have been handed out (store_run_early). */
			if (op->kind == STORE_SUBMIT && op->applied &&
			    op->job.id > s->id_floor)
				s->id_floor = op->job.id;
			op->applied = 0;
			if (op->kind == STORE_SUBMIT)
				op->job.id = 0;
		}
		b->rc = erc;
		b->err = xstrdup(msg);
	}
	free(msg);
}

static void
store_batch_free_later(struct store_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->ops[i].worker);
		free((char *)b->ops[i].result);
		free((char *)b->ops[i].error);
		free((char *)b->ops[i].log);
	}
	free(b->ops);
	free(b->err);
	free(b);
}

/*
 * The store cannot be written (a full or failing disk) and nothing is
 * queued: wait STORE_PROBE_MS for work, and if none came, try a write of
 * our own, so that "cannot be written" (store_writable(), which holds
 * back new tasks) ends by itself once space is back, even if nobody
 * submits anything.  Called and returns with q_mu held.
 */
static void
store_wait_or_probe(store *s)
{
	int64_t at = clock_mono_ms() + STORE_PROBE_MS;
	struct timespec ts = { .tv_sec = at / 1000,
	                       .tv_nsec = (at % 1000) * 1000000 };
	pthread_cond_timedwait(&s->q_cond, &s->q_mu, &ts);
	if (s->q_head != NULL || s->stopping || s->busy ||
	    clock_mono_ms() < at)
		return;         /* work, a stop, a caller's commit, or early */
	char when[32];
	snprintf(when, sizeof when, "%" PRId64, clock_now_ms());
	struct store_op op = { .kind = STORE_META, .task = "disk_probe",
	                       .result = when };
	struct store_batch b = { .ops = &op, .n = 1 };
	s->busy = 1;
	pthread_mutex_unlock(&s->q_mu);
	store_commit_group(s, &b);
	free(b.err);
	pthread_mutex_lock(&s->q_mu);
	s->busy = 0;
}

/* sqlite3_wal_hook: a commit left the WAL N pages long.  It replaces
 * SQLite's automatic checkpoint, which would run inside the COMMIT, that
 * is before the commit's callers are woken. */
static int
store_wal_hook(void *ud, sqlite3 *db, const char *name, int n)
{
	(void)db;
	(void)name;
	__atomic_store_n(&((store *)ud)->wal_pages, n, __ATOMIC_RELAXED);
	return SQLITE_OK;
}

/* Copy the WAL into the database on connection DB (PASSIVE: never
 * waits for a reader or a writer), with *FLAG set meanwhile (ckpting or
 * busy).  Writer thread only; q_mu held, released around the copy. */
static void
store_checkpoint(store *s, sqlite3 *db, int *flag)
{
	int log = 0, done = 0;
	*flag = 1;
	pthread_mutex_unlock(&s->q_mu);
	int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	                                   &log, &done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warn("store: checkpoint of %s: %s", s->path,
		         sqlite3_errmsg(db));
	pthread_mutex_lock(&s->q_mu);
	*flag = 0;
}

/*
 * After the commit of LIST: wake each caller, keep deferred batches that
 * failed on a full or failing disk for another try (in their order,
 * ahead of anything newer), free the others.  q_mu held.
 */
static void
store_settle_list(store *s, struct store_batch *list)
{
	struct store_batch *retry = NULL, **rtail = &retry;
	while (list != NULL) {
		/* After done is set the caller may return and its
		 * stack frame (the batch) vanish: read next first. */
		struct store_batch *next = list->next;
		if (list->later && list->rc < 0 && s->stopping) {
			/* Stopping on a full disk: lost as in a
			 * crash, which recovery repairs (see
			 * store_apply_later() in store.h). */
			log_error("store: %zu deferred ops dropped at "
			          "stop: %s", list->n, list->err);
			store_batch_free_later(list);
		} else if (list->later && list->rc < 0 &&
		    store_retryable(list->rc)) {
			/* Decisions already acted on: kept, in their
			 * order and ahead of anything newer, and tried
			 * again until the disk takes them. */
			free(list->err);
			list->err = NULL;
			list->rc = 0;
			list->next = NULL;
			*rtail = list;
			rtail = &list->next;
		} else if (list->later) {
			if (list->rc < 0) {
				/* Kept exit: a decision acted on in
				 * memory (a task handed out) that can
				 * never be written, and no caller is
				 * left to tell; the store is the truth,
				 * a restart recovers from it. */
				store_fatal(NULL, list->err);
			}
			store_batch_free_later(list);
		} else {
			list->done = 1;
			pthread_cond_signal(&list->cond);
		}
		list = next;
	}
	if (retry != NULL) {
		*rtail = s->q_head;
		if (s->q_head == NULL)
			s->q_tail = rtail;
		s->q_head = retry;
		s->later_since = clock_mono_ms() + STORE_RETRY_MS;
	}
}

/* Take everything queued for one commit.  q_mu held; sets busy. */
static struct store_batch *
store_take(store *s)
{
	struct store_batch *list = s->q_head;
	s->q_head = NULL;
	s->q_tail = &s->q_head;
	s->q_waiting = 0;
	s->busy = 1;
	return list;
}

/* Commit everything queued, as one group, on this thread: q_mu held on
 * entry and on return (released around the commit); busy while it runs.
 * A WAL grown past STORE_CKPT_PAGES leaves a checkpoint for the writer. */
static void
store_commit_queue(store *s)
{
	struct store_batch *list = store_take(s);
	pthread_mutex_unlock(&s->q_mu);
	store_commit_group(s, list);
	pthread_mutex_lock(&s->q_mu);
	store_settle_list(s, list);
	s->busy = 0;
	if (__atomic_load_n(&s->wal_pages, __ATOMIC_RELAXED) >= STORE_CKPT_PAGES)
		s->ckpt_due = 1;
}

static void *
store_writer(void *arg)
{
	store *s = arg;

	pthread_mutex_lock(&s->q_mu);
	for (;;) {
		/* A checkpoint left by a commit, done here, off its
		 * callers' time, in two steps.  First the WAL is copied into
		 * the database on the writer's own connection while commits
		 * go on (ckpting: a copy of 4 MB and its syncs take
		 * milliseconds, which every commit meanwhile would wait).
		 * Then what came meanwhile, a few pages, between two commits
		 * (busy): a WAL all copied before a commit starts is written
		 * from its start again by it, in place, over pages the file
		 * already has, which the disk syncs faster than appended ones
		 * (bench/kiln_bench.py prints both); one copied while commits
		 * go on never is. */
		if (s->ckpt_due && !s->ckpt_tail) {
			s->ckpt_due = 0;
			store_checkpoint(s, s->cdb, &s->ckpting);
			s->ckpt_tail = 1;
			continue;
		}
		if (s->ckpt_tail && !s->busy) {
			s->ckpt_tail = 0;
			store_checkpoint(s, s->wdb, &s->busy);
			/* Commits since the first step asked again. */
			s->ckpt_due = 0;
			__atomic_store_n(&s->wal_pages, 0, __ATOMIC_RELAXED);
			pthread_cond_broadcast(&s->q_cond);
			continue;
		}
		if (s->busy) {
			/* A caller commits: it wakes us when done if work
			 * is left or we stop. */
			pthread_cond_wait(&s->q_cond, &s->q_mu);
			continue;
		}
		if (s->q_head == NULL && !s->stopping) {
			if (s->unwritable == NULL)
				pthread_cond_wait(&s->q_cond, &s->q_mu);
			else
				store_wait_or_probe(s);
			continue;
		}
		if (s->q_head == NULL)
			break;          /* stopping, and drained */
		/* Only deferred ops so far: wait a little for a caller who
		 * waits, and commit them together (one fsync, not two).  A
		 * caller may commit them itself meanwhile. */
		while (s->q_head != NULL && s->q_waiting == 0 && !s->busy &&
		       !s->stopping) {
			int64_t at = s->later_since + STORE_LATER_MS;
			if (clock_mono_ms() >= at)
				break;
			struct timespec ts = { .tv_sec = at / 1000,
			                       .tv_nsec = (at % 1000) * 1000000 };
			pthread_cond_timedwait(&s->q_cond, &s->q_mu, &ts);
		}
		if (s->q_head == NULL || s->busy)
			continue;
		store_commit_queue(s);
		pthread_cond_broadcast(&s->q_cond);
	}
	pthread_mutex_unlock(&s->q_mu);
	return NULL;
}

/* Reject ops that would fail inside the shared transaction, and fill in
 * the defaults of submitted jobs. */
static int
store_check_ops(struct store_op *ops, size_t n, char **err)
{
	for (size_t i = 0; i < n; i++) {
		struct store_op *op = &ops[i];
		switch (op->kind) {
		case STORE_SUBMIT:
			if (op->job.plugin == NULL || *op->job.plugin == '\0')
				return err_set(err, -EINVAL, "store: op %zu: "
				              "submit without a plugin", i);
			if (op->job.slots < 1)
				op->job.slots = 1;
			if (op->job.max_attempts < 1)
				op->job.max_attempts = 1;
			if (op->job.memory < 0)
				op->job.memory = 0;
			if (op->job.timeout_ms < 0)
				op->job.timeout_ms = 0;
			op->job.state = JOB_QUEUED;
			break;
		case STORE_FINISH:
			if (op->state != JOB_SUCCEEDED &&
			    op->state != JOB_FAILED &&
			    op->state != JOB_CANCELLED)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "finish into state %d", i, op->state);
			break;
		case STORE_START:
		case STORE_REQUEUE:
		case STORE_CANCEL:
		case STORE_LOG:
			break;
		case STORE_RUN_CREATE:
			if (op->run_new == NULL || op->run_new->dag_id == NULL ||
			    op->run_new->run_id == NULL || op->run_new->kind == NULL)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "incomplete run", i);
			break;
		case STORE_TI_EXPAND:
			if (op->map_count < 1)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "expansion into no instance", i);
			/* fall through */
		case STORE_TI_SET:
			if (op->task == NULL)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "task instance without a task", i);
			break;
		case STORE_RUN_STATE:
		case STORE_TOKEN_REVOKE:
		case STORE_TOKEN_USED:
			break;
		case STORE_DAG_VERSION:
			if (op->dag_id == NULL || op->result == NULL)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "DAG version without an id or hash", i);
			break;
		case STORE_RUN_VERSION:
			if (op->dag_version < 1)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "run version %d", i, op->dag_version);
			break;
		case STORE_PURGE:
			if (op->t_ms <= 0 || op->attempt < 1)
				return err_set(err, -EINVAL, "store: op %zu: purge "
				              "without a time or a batch size", i);
			break;
		case STORE_META:
		case STORE_ARTIFACT:
			if (op->task == NULL)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "artifact without a hash", i);
			break;
		case STORE_DAG_SET:
			if (op->dag_id == NULL)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "no DAG id", i);
			break;
		case STORE_IDEM:
			if (op->worker == NULL || op->task == NULL ||
			    op->result == NULL || op->id < 1 || (size_t)op->id > i)
				return err_set(err, -EINVAL, "store: op %zu: "
				              "idempotency key without its jobs", i);
			for (size_t k = i - (size_t)op->id; k < i; k++)
				if (ops[k].kind != STORE_SUBMIT)
					return err_set(err, -EINVAL, "store: op "
					              "%zu: idempotency key after "
					              "another op than a submit", i);
			break;
		default:
			return err_set(err, -EINVAL, "store: op %zu: unknown kind "
			              "%d", i, op->kind);
		}
		op->applied = 0;
	}
	return 0;
}

/* After a caller's commit (q_mu held): what was queued meanwhile is the
 * writer's to commit; but while the writer checkpoints, the first caller
 * waiting in the queue is woken to commit it, not left to wait for the
 * checkpoint's end. */
static void
store_pass_on(store *s)
{
	if (s->ckpting)
		for (struct store_batch *b = s->q_head; b != NULL; b = b->next)
			if (!b->later) {
				pthread_cond_signal(&b->cond);
				return;
			}
	if (s->q_head != NULL || s->ckpt_due || s->ckpt_tail || s->stopping)
		pthread_cond_broadcast(&s->q_cond);
}

/* Whether this caller may commit the queue itself now. */
static int
store_may_commit(const store *s)
{
	return !s->busy && !s->stopping && s->unwritable == NULL;
}

/* Queue a batch and wait for its commit. */
static int
store_apply_wait(store *s, struct store_op *ops, size_t n,
                 void (*early)(void *, const struct store_op *, size_t),
                 void *ud, int *early_ran, char **err)
{
	int rc;

	struct store_batch b = { .ops = ops, .n = n, .early = early,
	                         .early_ud = ud };
	pthread_cond_init(&b.cond, NULL);

	pthread_mutex_lock(&s->q_mu);
	*s->q_tail = &b;
	s->q_tail = &b.next;
	s->q_waiting++;
	if (store_may_commit(s)) {
		/* Nobody is committing: commit the queue on this thread
		 * rather than hand it to the writer and wait to be handed it
		 * back (two thread switches per commit, most of a durable
		 * round trip's CPU on a small machine).  Callers arriving
		 * meanwhile queue, and the writer or the next of them
		 * commits them together: still one fsync per group. */
		store_commit_queue(s);
		store_pass_on(s);
	} else {
		pthread_cond_signal(&s->q_cond);
	}
	while (!b.done) {
		pthread_cond_wait(&b.cond, &s->q_mu);
		/* Woken by store_pass_on(): the writer is checkpointing. */
		if (!b.done && s->ckpting && store_may_commit(s)) {
			store_commit_queue(s);
			store_pass_on(s);
		}
	}
	pthread_mutex_unlock(&s->q_mu);

	pthread_cond_destroy(&b.cond);
	if (early_ran != NULL)
		*early_ran = b.early_ran;
	if (b.rc < 0) {
		rc = err_set(err, b.rc, "%s", b.err);
		free(b.err);
		return rc;
	}
	return 0;
}

int
store_apply(store *s, struct store_op *ops, size_t n, char **err)
{
	return store_apply_early(s, ops, n, NULL, NULL, NULL, err);
}

int
store_apply_early(store *s, struct store_op *ops, size_t n,
                  void (*early)(void *ud, const struct store_op *ops,
                                size_t n),
                  void *ud, int *early_ran, char **err)
{
	int rc;

	if (early_ran != NULL)
		*early_ran = 0;
	if (n == 0)
		return 0;
	if ((rc = store_check_ops(ops, n, err)) < 0)
		return rc;
	return store_apply_wait(s, ops, n, early, ud, early_ran, err);
}

int
store_writable(store *s, char **why)
{
	pthread_mutex_lock(&s->q_mu);
	int ok = s->unwritable == NULL;
	if (!ok && why != NULL)
		*why = xstrdup(s->unwritable);
	pthread_mutex_unlock(&s->q_mu);
	return ok;
}

void
store_fatal(const char *what, const char *err)
{
	if (err == NULL)
		err = "?";
	if (what != NULL)
		log_error("%s: %s; exiting to recover on restart", what, err);
	else
		log_error("%s; exiting to recover on restart", err);
	_exit(3);
}

int
store_sync(store *s, char **err)
{
	return store_apply_wait(s, NULL, 0, NULL, NULL, NULL, err);
}

int
store_apply_later(store *s, const struct store_op *ops, size_t n, char **err)
{
	int rc;

	if (n == 0)
		return 0;
	struct store_batch *b = xcalloc(1, sizeof *b);
	b->later = 1;
	b->n = n;
	b->ops = xcalloc(n, sizeof *b->ops);
	for (size_t i = 0; i < n; i++) {
		const struct store_op *op = &ops[i];
		if (op->kind != STORE_START && op->kind != STORE_REQUEUE &&
		    op->kind != STORE_CANCEL && op->kind != STORE_LOG &&
		    op->kind != STORE_TOKEN_USED) {
			b->n = i;
			store_batch_free_later(b);
			return err_set(err, -EINVAL, "store: op %zu: kind %d "
			              "cannot be deferred", i, op->kind);
		}
		b->ops[i] = (struct store_op){
			.kind = op->kind, .id = op->id, .attempt = op->attempt,
			.state = op->state, .t_ms = op->t_ms, .run = op->run,
			.start_folded = op->start_folded,
			.started_ms = op->started_ms,
			.worker = xstrdup(op->worker),
			.result = xstrdup(op->result),
			.error = xstrdup(op->error), .log = xstrdup(op->log),
		};
	}
	if ((rc = store_check_ops(b->ops, n, err)) < 0) {
		store_batch_free_later(b);
		return rc;
	}
	pthread_mutex_lock(&s->q_mu);
	if (s->q_head == NULL)
		s->later_since = clock_mono_ms();
	*s->q_tail = b;
	s->q_tail = &b->next;
	pthread_cond_signal(&s->q_cond);
	pthread_mutex_unlock(&s->q_mu);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reads                                                               */
/* ------------------------------------------------------------------ */

void
store_job_clear(struct store_job *j)
{
	if (j == NULL)
		return;
	free(j->plugin);
	free(j->params);
	free(j->worker);
	free(j->result);
	free(j->error);
	free(j->task);
	free(j->pool);
	free(j->inputs);
	free(j->outputs);
	free(j->dag_id);
	free(j->run_id);
	memset(j, 0, sizeof *j);
}

void
store_attempt_clear(struct store_attempt *a)
{
	if (a == NULL)
		return;
	free(a->worker);
	free(a->error);
	memset(a, 0, sizeof *a);
}

static char *
store_col_str(sqlite3_stmt *st, int i)
{
	return xstrdup((const char *)sqlite3_column_text(st, i));
}

/* Fill J from a row selected as JOB_COLS. */
static void
store_job_row(sqlite3_stmt *st, struct store_job *j)
{
	j->id = sqlite3_column_int64(st, 0);
	j->plugin = store_col_str(st, 1);
	j->params = store_col_str(st, 2);
	j->state = sqlite3_column_int(st, 3);
	j->priority = sqlite3_column_int(st, 4);
	j->slots = sqlite3_column_int(st, 5);
	j->memory = sqlite3_column_int64(st, 6);
	j->timeout_ms = sqlite3_column_int64(st, 7);
	j->max_attempts = sqlite3_column_int(st, 8);
	j->attempt = sqlite3_column_int(st, 9);
	j->worker = store_col_str(st, 10);
	j->result = store_col_str(st, 11);
	j->error = store_col_str(st, 12);
	j->created_ms = sqlite3_column_int64(st, 13);
	j->started_ms = sqlite3_column_int64(st, 14);
	j->finished_ms = sqlite3_column_int64(st, 15);
	j->run = sqlite3_column_int64(st, 16);
	j->task = store_col_str(st, 17);
	j->retry_delay_ms = sqlite3_column_int64(st, 18);
	j->retry_exponential = sqlite3_column_int(st, 19);
	j->retry_max_delay_ms = sqlite3_column_int64(st, 20);
	j->pool = store_col_str(st, 21);
	j->inputs = store_col_str(st, 22);
	j->outputs = store_col_str(st, 23);
	if (sqlite3_column_count(st) > 26) {     /* store_job_list's extras */
		j->dag_id = store_col_str(st, 24);
		j->run_id = store_col_str(st, 25);
		j->requeued_ms = sqlite3_column_int64(st, 26);
	}
}

/* The read statement WHICH (SQL in store_rsql unless SQL is given),
 * prepared on first use.  Call with read_mu held. */
static int
store_rstmt(store *s, int which, const char *sql, sqlite3_stmt **out,
            char **err)
{
	if (s->rst[which] == NULL) {
		int rc = sqlite3_prepare_v3(s->rdb, sql ? sql : store_rsql[which],
		                            -1, SQLITE_PREPARE_PERSISTENT,
		                            &s->rst[which], NULL);
		if (rc != SQLITE_OK)
			return store_dberr(s->rdb, rc, err, "store: prepare");
	}
	*out = s->rst[which];
	return 0;
}

/* Done with a read statement: end its read transaction. */
static void
store_rdone(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* What a walk hands each row to: one of the typed callbacks of store.h. */
enum store_rowkind { ROW_JOB, ROW_ATTEMPT, ROW_RUN, ROW_TI, ROW_TOKEN };
struct store_visit {
	enum store_rowkind kind;
	union {
		store_job_cb job;
		store_attempt_cb attempt;
		store_run_cb run;
		store_ti_cb ti;
		store_token_cb token;
	} cb;
	void *ud;
};

static void store_attempt_row(sqlite3_stmt *st, struct store_attempt *a);
static void store_run_row(sqlite3_stmt *st, struct store_run *r);
static void store_ti_row(sqlite3_stmt *st, struct store_ti *t);
static void store_token_row(sqlite3_stmt *st, struct store_token *t);

/* Read the current row of ST as V says, hand it to V's callback and free
 * it; the callback's non-zero (stop) is returned. */
static int
store_visit_row(sqlite3_stmt *st, const struct store_visit *v)
{
	int stop = 0;

	switch (v->kind) {
	case ROW_JOB: {
		struct store_job j = { 0 };
		store_job_row(st, &j);
		stop = v->cb.job(&j, v->ud);
		store_job_clear(&j);
		break;
	}
	case ROW_ATTEMPT: {
		struct store_attempt a = { 0 };
		store_attempt_row(st, &a);
		stop = v->cb.attempt(&a, v->ud);
		store_attempt_clear(&a);
		break;
	}
	case ROW_RUN: {
		struct store_run r = { 0 };
		store_run_row(st, &r);
		stop = v->cb.run(&r, v->ud);
		store_run_clear(&r);
		break;
	}
	case ROW_TI: {
		struct store_ti t = { 0 };
		store_ti_row(st, &t);
		stop = v->cb.ti(&t, v->ud);
		store_ti_clear(&t);
		break;
	}
	case ROW_TOKEN: {
		struct store_token t = { 0 };
		store_token_row(st, &t);
		stop = v->cb.token(&t, v->ud);
		store_token_clear(&t);
		break;
	}
	}
	return stop;
}

/*
 * Step ST through its rows, handing each to V until its callback says
 * stop; read_mu held.  A cached statement (store_rstmt()) is reset for
 * its next use, any other finalized.
 */
static int
store_walk(store *s, sqlite3_stmt *st, const struct store_visit *v,
           int cached, char **err)
{
	static const char *const what[] = {
		[ROW_JOB] = "store: read jobs",
		[ROW_ATTEMPT] = "store: read attempts",
		[ROW_RUN] = "store: read runs",
		[ROW_TI] = "store: read task instances",
		[ROW_TOKEN] = "store: read tokens",
	};
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (store_visit_row(st, v))
			break;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 :
	     store_dberr(s->rdb, rc, err, what[v->kind]);
	if (cached)
		store_rdone(st);
	else
		sqlite3_finalize(st);
	return rc;
}

int
store_job_get(store *s, int64_t id, struct store_job *out, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_GET, NULL, &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_job_row(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = store_dberr(s->rdb, rc, err, "store: read job");
	}
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* The filters F asks for, as LF_* bits (LF_BEFORE only if WITH_BEFORE). */
static int
store_filter_mask(const struct store_filter *f, int with_before)
{
	if (f == NULL)
		return 0;
	const struct { int on, bit; } b[] = {
		{ f->state >= 0, LF_STATE }, { f->plugin != NULL, LF_PLUGIN },
		{ with_before && f->before_id > 0, LF_BEFORE },
		{ f->dag != NULL, LF_DAG }, { f->run != NULL, LF_RUN },
		{ f->worker != NULL, LF_WORKER }, { f->id > 0, LF_ID },
		{ f->since_ms > 0, LF_SINCE }, { f->until_ms > 0, LF_UNTIL },
	};
	int mask = 0;
	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
		if (b[i].on)
			mask |= b[i].bit;
	return mask;
}

/* The WHERE clause of the filters in MASK into BUF; parameters ?1-?9 as
 * store_filter_bind() binds them. */
static void
store_filter_where(int mask, char *buf, size_t len)
{
	static const struct { int bit; const char *sql; } w[] = {
		{ LF_STATE, " AND state = ?1" },
		{ LF_PLUGIN, " AND plugin = ?2" },
		{ LF_BEFORE, " AND id < ?3" },
		{ LF_DAG, " AND run IN (SELECT r.id FROM dag_runs r"
		          " WHERE r.dag_id = ?4)" },
		{ LF_RUN, " AND run = (SELECT r.id FROM dag_runs r"
		          " WHERE r.run_id = ?5)" },
		{ LF_WORKER, " AND worker = ?6" },
		{ LF_ID, " AND id = ?7" },
		{ LF_SINCE, " AND created_ms >= ?8" },
		{ LF_UNTIL, " AND created_ms < ?9" },
	};
	size_t n = (size_t)snprintf(buf, len, "WHERE 1");
	for (size_t i = 0; i < sizeof w / sizeof w[0] && n < len; i++)
		if (mask & w[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s", w[i].sql);
}

static void
store_filter_bind(sqlite3_stmt *st, const struct store_filter *f, int mask)
{
	if (mask & LF_STATE)
		sqlite3_bind_int(st, 1, f->state);
	if (mask & LF_PLUGIN)
		sqlite3_bind_text(st, 2, f->plugin, -1, SQLITE_STATIC);
	if (mask & LF_BEFORE)
		sqlite3_bind_int64(st, 3, f->before_id);
	if (mask & LF_DAG)
		sqlite3_bind_text(st, 4, f->dag, -1, SQLITE_STATIC);
	if (mask & LF_RUN)
		sqlite3_bind_text(st, 5, f->run, -1, SQLITE_STATIC);
	if (mask & LF_WORKER)
		sqlite3_bind_text(st, 6, f->worker, -1, SQLITE_STATIC);
	if (mask & LF_ID)
		sqlite3_bind_int64(st, 7, f->id);
	if (mask & LF_SINCE)
		sqlite3_bind_int64(st, 8, f->since_ms);
	if (mask & LF_UNTIL)
		sqlite3_bind_int64(st, 9, f->until_ms);
}

int
store_job_list(store *s, const struct store_filter *f, store_job_cb cb,
               void *ud, char **err)
{
	int mask = store_filter_mask(f, 1), limit = 100;
	sqlite3_stmt *st = NULL;
	int rc;

	if (f != NULL && f->limit > 0)
		limit = f->limit > 1000 ? 1000 : f->limit;
	/* One statement per combination of filters, rather than
	 * "(?1 < 0 OR state = ?1)", so that SQLite can use the (state, id)
	 * index and walk the ids backwards from before_id.  After the job's
	 * columns: its run's DAG and run_id, and when the attempt before a
	 * retry's wait ended (store_job_row reads them when present). */
	char where[640], sql[1280];
	store_filter_where(mask, where, sizeof where);
	snprintf(sql, sizeof sql, "SELECT " JOB_COLS ","
	         " (SELECT r.dag_id FROM dag_runs r WHERE r.id = jobs.run),"
	         " (SELECT r.run_id FROM dag_runs r WHERE r.id = jobs.run),"
	         " CASE WHEN state = 0 AND attempt > 0 THEN (SELECT a.finished_ms"
	         " FROM attempts a WHERE a.job_id = jobs.id"
	         " AND a.attempt = jobs.attempt) ELSE 0 END"
	         " FROM jobs %s ORDER BY id DESC LIMIT ?10", where);

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_LIST + mask, sql, &st, err)) < 0)
		goto out;
	store_filter_bind(st, f, mask);
	sqlite3_bind_int(st, 10, limit);
	struct store_visit v = { ROW_JOB, { .job = cb }, ud };
	rc = store_walk(s, st, &v, 1, err);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* The progress handler of a bounded read: non-zero (interrupt) once the
 * monotonic deadline UD points to has passed. */
static int
store_past_deadline(void *ud)
{
	return clock_mono_ms() > *(const int64_t *)ud;
}

int
store_job_count(store *s, const struct store_filter *f, int64_t cap,
                int64_t budget_ms, int64_t *n, int *partial, char **err)
{
	int mask = store_filter_mask(f, 0);
	sqlite3_stmt *st = NULL;
	int rc;

	/* Rows are counted here rather than by count(*), so that a count
	 * cut short by the deadline still says how many it found: a
	 * combination of filters no index serves may walk many rows that
	 * do not match. */
	char where[640], sql[800];
	store_filter_where(mask, where, sizeof where);
	snprintf(sql, sizeof sql, "SELECT 1 FROM jobs %s LIMIT ?10", where);
	*n = 0;
	*partial = 0;
	int64_t deadline = clock_mono_ms() + budget_ms;
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_COUNT + mask, sql, &st, err)) < 0)
		goto out;
	store_filter_bind(st, f, mask);
	sqlite3_bind_int64(st, 10, cap);
	sqlite3_progress_handler(s->rdb, 4096, store_past_deadline, &deadline);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		(*n)++;
	sqlite3_progress_handler(s->rdb, 0, NULL, NULL);
	if (rc == SQLITE_INTERRUPT) {
		*partial = 1;
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: count jobs");
	}
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_job_unfinished(store *s, store_job_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	struct store_visit v = { ROW_JOB, { .job = cb }, ud };

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_UNFINISHED, NULL, &st, err)) == 0)
		rc = store_walk(s, st, &v, 1, err);
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_plugins_seen(store *s, int (*cb)(void *ud, const char *name), void *ud,
                   char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_PLUGINS, NULL, &st, err)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name != NULL && cb(ud, name) != 0)
			break;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 :
	     store_dberr(s->rdb, rc, err, "store: list plugins");
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_startup_plans(store *s, char **plans, char **err)
{
	static const int which[] = { R_UNFINISHED, R_PLUGINS };
	size_t len = 0, cap = 256;
	char *out = xmalloc(cap);
	int rc = 0;

	out[0] = '\0';
	pthread_mutex_lock(&s->read_mu);
	for (size_t i = 0; i < sizeof which / sizeof which[0] && rc == 0; i++) {
		char *sql = xasprintf("EXPLAIN QUERY PLAN %s", store_rsql[which[i]]);
		sqlite3_stmt *st = NULL;
		rc = sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL);
		free(sql);
		if (rc != SQLITE_OK) {
			rc = store_dberr(s->rdb, rc, err, "store: explain");
			break;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st, 3);
			size_t n = strlen(d != NULL ? d : "");
			if (len + n + 2 > cap) {
				cap = 2 * (len + n + 2);
				out = xrealloc(out, cap);
			}
			memcpy(out + len, d != NULL ? d : "", n);
			len += n;
			out[len++] = '\n';
			out[len] = '\0';
		}
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: explain");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	if (rc != 0) {
		free(out);
		return rc;
	}
	*plans = out;
	return 0;
}

int
store_job_counts(store *s, int64_t counts[JOB_NSTATES], char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	for (int i = 0; i < JOB_NSTATES; i++)
		counts[i] = 0;
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_COUNTS, NULL, &st, err)) < 0)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int state = sqlite3_column_int(st, 0);
		if (state >= 0 && state < JOB_NSTATES)
			counts[state] = sqlite3_column_int64(st, 1);
	}
	rc = rc == SQLITE_DONE ? 0 :
	     store_dberr(s->rdb, rc, err, "store: count jobs");
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_run_name(store *s, int64_t id, char **run_id, char **err)
{
	sqlite3_stmt *st = NULL;
	*run_id = NULL;
	pthread_mutex_lock(&s->read_mu);
	int rc = sqlite3_prepare_v2(s->rdb, "SELECT run_id FROM dag_runs WHERE id = ?1",
	                            -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*run_id = store_col_str(st, 0);
	}
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT :
	     store_dberr(s->rdb, rc, err, "store: run name");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_run_counts(store *s, int64_t counts[RUN_NSTATES], char **err)
{
	sqlite3_stmt *st = NULL;
	for (int i = 0; i < RUN_NSTATES; i++)
		counts[i] = 0;
	pthread_mutex_lock(&s->read_mu);
	int rc = sqlite3_prepare_v2(s->rdb, "SELECT state, count(*) FROM dag_runs"
	                            " GROUP BY state", -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int state = sqlite3_column_int(st, 0);
		if (state >= 0 && state < RUN_NSTATES)
			counts[state] = sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	}
	rc = rc == SQLITE_DONE ? 0 : store_dberr(s->rdb, rc, err, "store: count runs");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

static void
store_attempt_row(sqlite3_stmt *st, struct store_attempt *a)
{
	a->job_id = sqlite3_column_int64(st, 0);
	a->attempt = sqlite3_column_int(st, 1);
	a->worker = store_col_str(st, 2);
	a->state = sqlite3_column_int(st, 3);
	a->error = store_col_str(st, 4);
	a->started_ms = sqlite3_column_int64(st, 5);
	a->finished_ms = sqlite3_column_int64(st, 6);
}

int
store_attempts(store *s, int64_t job_id, store_attempt_cb cb, void *ud,
               char **err)
{
	struct store_visit v = { ROW_ATTEMPT, { .attempt = cb }, ud };
	sqlite3_stmt *st = NULL;
	int rc;

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_ATTEMPTS, NULL, &st, err)) == 0) {
		sqlite3_bind_int64(st, 1, job_id);
		rc = store_walk(s, st, &v, 1, err);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_log(store *s, int64_t id, int attempt, char **log, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*log = NULL;
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, attempt > 0 ? R_LOG : R_LOG_LATEST, NULL,
	                      &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (attempt > 0)
		sqlite3_bind_int(st, 2, attempt);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		*log = xstrdup(t ? t : "");
		rc = 0;
	} else if (rc != SQLITE_DONE) {
		rc = store_dberr(s->rdb, rc, err, "store: read log");
	}
	store_rdone(st);
	if (rc != SQLITE_DONE)
		goto out;

	/* No such attempt: an empty log, unless there is no such job. */
	if ((rc = store_rstmt(s, R_EXISTS, NULL, &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*log = xstrdup("");
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = store_dberr(s->rdb, rc, err, "store: read job");
	}
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* API tokens                                                          */
/* ------------------------------------------------------------------ */

void
store_token_clear(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->role);
	free(t->created_by);
	memset(t, 0, sizeof *t);
}

/* Fill T from a row selected as TOKEN_COLS; a NULL expiry is 0 (never). */
static void
store_token_row(sqlite3_stmt *st, struct store_token *t)
{
	t->id = sqlite3_column_int64(st, 0);
	t->name = store_col_str(st, 1);
	t->role = store_col_str(st, 2);
	t->created_by = store_col_str(st, 3);
	t->created_ms = sqlite3_column_int64(st, 4);
	t->expires_ms = sqlite3_column_int64(st, 5);
	t->last_used_ms = sqlite3_column_int64(st, 6);
	t->revoked_ms = sqlite3_column_int64(st, 7);
}

/* Tokens are added rarely (by an administrator), so the insert runs on
 * the read connection rather than through the writer's queue; it takes
 * SQLite's write lock for a moment, and busy_timeout makes the writer wait
 * for it instead of failing. */
int
store_token_add(store *s, const struct store_token_new *t, int64_t *id,
                char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (t->hash_hex == NULL || *t->hash_hex == '\0' || t->name == NULL ||
	    t->role == NULL)
		return err_set(err, -EINVAL, "store: token needs hash, name "
		              "and role");
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_TOKEN_ADD, NULL, &st, err)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, t->hash_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, t->created_ms > 0 ? t->created_ms :
	                   clock_now_ms());
	store_bind_text(st, 5, t->created_by);
	if (t->expires_ms > 0)
		sqlite3_bind_int64(st, 6, t->expires_ms);
	else
		sqlite3_bind_null(st, 6);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		rc = store_dberr(s->rdb, rc, err, "store: add token");
	else if (sqlite3_changes(s->rdb) == 0)
		rc = err_set(err, -EEXIST, "store: token %s already exists",
		            t->name);
	else
		rc = 0;
	if (rc == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(s->rdb);
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* Read the one token that statement WHICH, its ?1 bound to KEY (text if
 * not NULL, else NUM), selects into *OUT: 0, -ENOENT or an error. */
static int
store_token_one(store *s, int which, const char *key, int64_t num,
                struct store_token *out, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, which, NULL, &st, err)) < 0)
		goto out;
	if (key != NULL)
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, num);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		store_token_row(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = store_dberr(s->rdb, rc, err, "store: read token");
	}
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* A copy of T, its strings its own. */
static struct store_token
token_copy(const struct store_token *t)
{
	struct store_token c = *t;
	c.name = t->name ? xstrdup(t->name) : NULL;
	c.role = t->role ? xstrdup(t->role) : NULL;
	c.created_by = t->created_by ? xstrdup(t->created_by) : NULL;
	return c;
}

/* The cached token of HASH_HEX into *OUT (a copy): 1, or 0 if none. */
static int
token_cache_get(store *s, const char *hash_hex, struct store_token *out,
                uint64_t *gen)
{
	int hit = 0;
	pthread_mutex_lock(&s->tok_mu);
	for (int i = 0; i < TOKEN_CACHE && !hit; i++)
		if (s->tok[i].hash[0] != '\0' &&
		    strcmp(s->tok[i].hash, hash_hex) == 0) {
			*out = token_copy(&s->tok[i].t);
			hit = 1;
		}
	*gen = s->tok_gen;
	pthread_mutex_unlock(&s->tok_mu);
	return hit;
}

/* Keep T (usable when read) under HASH_HEX, unless a revocation came since
 * GEN, or update the last use of the entry there. */
static void
token_cache_put(store *s, const char *hash_hex, const struct store_token *t,
                uint64_t gen)
{
	if (strlen(hash_hex) >= sizeof s->tok[0].hash)
		return;
	pthread_mutex_lock(&s->tok_mu);
	if (s->tok_gen == gen) {
		int i = 0;
		while (i < TOKEN_CACHE && strcmp(s->tok[i].hash, hash_hex) != 0)
			i++;
		if (i == TOKEN_CACHE)
			i = (int)(s->tok_next++ % TOKEN_CACHE);
		store_token_clear(&s->tok[i].t);
		s->tok[i].t = token_copy(t);
		strcpy(s->tok[i].hash, hash_hex);
	}
	pthread_mutex_unlock(&s->tok_mu);
}

int
store_token_check(store *s, const char *hash_hex, int64_t now_ms,
                  struct store_token *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (hash_hex == NULL)
		return -ENOENT;
	uint64_t gen;
	int rc, cached = token_cache_get(s, hash_hex, out, &gen);
	if (!cached && (rc = store_token_one(s, R_TOKEN_CHECK, hash_hex, 0, out,
	                                     err)) < 0)
		return rc;
	if (out->revoked_ms > 0)
		return -EKEYREVOKED;
	if (out->expires_ms > 0 && out->expires_ms <= now_ms)
		return -EKEYEXPIRED;
	if (out->last_used_ms <= now_ms - STORE_TOKEN_USED_EVERY_MS) {
		/* Deferred: its loss in a crash costs a minute of last use. */
		struct store_op op = { .kind = STORE_TOKEN_USED, .id = out->id,
		                       .t_ms = now_ms };
		if ((rc = store_apply_later(s, &op, 1, err)) < 0)
			return rc;
		struct store_token c = *out;    /* strings borrowed */
		c.last_used_ms = now_ms;
		token_cache_put(s, hash_hex, &c, gen);
	} else if (!cached) {
		token_cache_put(s, hash_hex, out, gen);
	}
	return 0;
}

int
store_token_get(store *s, int64_t id, struct store_token *out, char **err)
{
	return store_token_one(s, R_TOKEN_GET, NULL, id, out, err);
}

int
store_token_list(store *s, int64_t before_id, int limit, store_token_cb cb,
                 void *ud, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_TOKEN_LIST, NULL, &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int(st, 2, limit <= 0 ? 100 : limit > 1000 ? 1000 : limit);
	struct store_visit v = { ROW_TOKEN, { .token = cb }, ud };
	rc = store_walk(s, st, &v, 1, err);
out:
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* Once at start, on the read connection as store_token_add. */
int
store_token_settle(store *s, int64_t expires_ms, int *n, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc, changed = 0;

	pthread_mutex_lock(&s->read_mu);
	if ((rc = store_rstmt(s, R_TOKEN_SETTLE, NULL, &st, err)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, expires_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		rc = store_dberr(s->rdb, rc, err, "store: settle tokens");
	} else {
		changed = sqlite3_changes(s->rdb);
		rc = 0;
	}
	store_rdone(st);
out:
	pthread_mutex_unlock(&s->read_mu);
	if (changed > 0) {
		token_cache_drop(s);
		char when[32] = "?";
		struct tm tm;
		time_t t = (time_t)(expires_ms / 1000);
		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		log_info("store: %d API token%s made before tokens had an "
		         "expiry will expire at %s UTC", changed,
		         changed == 1 ? "" : "s", when);
	}
	if (n != NULL)
		*n = changed;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Pipelines: reads                                                    */
/* ------------------------------------------------------------------ */

static const char *const ti_names[TI_NSTATES] = {
	"none", "scheduled", "queued", "running", "success", "failed",
	"up_for_retry", "upstream_failed", "skipped", "up_for_reschedule",
};
static const char *const run_names[RUN_NSTATES] = {
	"queued", "running", "success", "failed",
};

const char *
store_ti_state_name(int state)
{
	return state >= 0 && state < TI_NSTATES ? ti_names[state] : "unknown";
}

const char *
store_run_state_name(int state)
{
	return state >= 0 && state < RUN_NSTATES ? run_names[state] : "unknown";
}

int
store_run_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < RUN_NSTATES; i++)
		if (strcmp(name, run_names[i]) == 0)
			return i;
	return -1;
}

void
store_run_clear(struct store_run *r)
{
	if (r == NULL)
		return;
	free(r->dag_id);
	free(r->run_id);
	free(r->kind);
	free(r->conf);
	memset(r, 0, sizeof *r);
}

void
store_ti_clear(struct store_ti *t)
{
	if (t == NULL)
		return;
	free(t->task);
	free(t->worker);
	free(t->result);
	free(t->error);
	memset(t, 0, sizeof *t);
}

#define RUN_COLS "id, dag_id, run_id, kind, logical_date, interval_start, " \
	"interval_end, state, conf, created_ms, finished_ms, dag_version, changed"

static void
store_run_row(sqlite3_stmt *st, struct store_run *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->dag_id = store_col_str(st, 1);
	r->run_id = store_col_str(st, 2);
	r->kind = store_col_str(st, 3);
	r->logical_date = sqlite3_column_int64(st, 4);
	r->interval_start = sqlite3_column_int64(st, 5);
	r->interval_end = sqlite3_column_int64(st, 6);
	r->state = sqlite3_column_int(st, 7);
	r->conf = store_col_str(st, 8);
	r->created_ms = sqlite3_column_int64(st, 9);
	r->finished_ms = sqlite3_column_int64(st, 10);
	r->dag_version = sqlite3_column_int(st, 11);
	r->changed = sqlite3_column_int64(st, 12);
}

/* Prepare SQL on the read connection (read_mu held); the caller
 * finalizes.  Pipeline reads are few per state change, so they are not
 * cached. */
static int
store_rprep(store *s, const char *sql, sqlite3_stmt **st, char **err)
{
	int rc = sqlite3_prepare_v2(s->rdb, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : store_dberr(s->rdb, rc, err, "store: prepare");
}

struct store_one_run {
	struct store_run *out;
	int found;
};

static int
store_take_run(const struct store_run *r, void *ud)
{
	struct store_one_run *o = ud;
	*o->out = *r;
	o->out->dag_id = xstrdup(r->dag_id);
	o->out->run_id = xstrdup(r->run_id);
	o->out->kind = xstrdup(r->kind);
	o->out->conf = xstrdup(r->conf);
	o->found = 1;
	return 1;
}

int
store_run_find(store *s, const char *run_id, struct store_run *out, char **err)
{
	struct store_one_run o = { out, 0 };
	struct store_visit v = { ROW_RUN, { .run = store_take_run }, &o };
	sqlite3_stmt *st;

	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT " RUN_COLS " FROM dag_runs"
	                     " WHERE run_id = ?1", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
		rc = store_walk(s, st, &v, 0, err);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc != 0 ? rc : o.found ? 0 : -ENOENT;
}

int
store_run_list(store *s, const char *dag_id, int state, int64_t before_id,
               int limit, store_run_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st;
	if (limit <= 0 || limit > 1000)
		limit = limit <= 0 ? 100 : 1000;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT " RUN_COLS " FROM dag_runs"
		" WHERE (?1 IS NULL OR dag_id = ?1) AND (?2 < 0 OR state = ?2)"
		" AND (?3 <= 0 OR id < ?3) ORDER BY id DESC LIMIT ?4", &st, err);
	if (rc == 0) {
		if (dag_id != NULL)
			sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, state);
		sqlite3_bind_int64(st, 3, before_id);
		sqlite3_bind_int(st, 4, limit);
		struct store_visit v = { ROW_RUN, { .run = cb }, ud };
		rc = store_walk(s, st, &v, 0, err);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_artifact_named(store *s, const char *name, int64_t since_ms,
                     char **sha, char **err)
{
	sqlite3_stmt *st;
	*sha = NULL;
	pthread_mutex_lock(&s->read_mu);
	/* jobs_created bounds the walk to the jobs since the run began. */
	int rc = store_rprep(s, "SELECT sha FROM artifacts WHERE sha = ?1"
		" UNION ALL SELECT * FROM (SELECT json_extract(o.value, '$.sha')"
		" FROM jobs j, json_each(j.outputs) o WHERE j.created_ms >= ?2"
		" AND j.state = 2 AND j.outputs IS NOT NULL"
		" AND json_extract(o.value, '$.name') = ?1 ORDER BY j.id DESC)"
		" LIMIT 1", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, since_ms);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW)
			*sha = store_col_str(st, 0);
		else if (r == SQLITE_DONE)
			rc = -ENOENT;
		else
			rc = err_set(err, -EIO, "store: artifact %s: %s", name,
			             sqlite3_errmsg(s->rdb));
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_runs_active(store *s, store_run_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT " RUN_COLS " FROM dag_runs"
	                     " WHERE state IN (0, 1) ORDER BY id", &st, err);
	struct store_visit v = { ROW_RUN, { .run = cb }, ud };
	if (rc == 0)
		rc = store_walk(s, st, &v, 0, err);
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

static void
store_ti_row(sqlite3_stmt *st, struct store_ti *t)
{
	t->run = sqlite3_column_int64(st, 0);
	t->task = store_col_str(st, 1);
	t->state = sqlite3_column_int(st, 2);
	t->job_id = sqlite3_column_int64(st, 3);
	t->tries = sqlite3_column_int(st, 4);
	t->attempt = sqlite3_column_int(st, 5);
	t->worker = store_col_str(st, 6);
	t->result = store_col_str(st, 7);
	t->error = store_col_str(st, 8);
	t->started_ms = sqlite3_column_int64(st, 9);
	t->finished_ms = sqlite3_column_int64(st, 10);
	t->map_index = sqlite3_column_int(st, 11);
	if (sqlite3_column_type(st, 12) != SQLITE_NULL) {
		free(t->error);  /* the engine's reason, not a job's */
		t->error = store_col_str(st, 12);
	}
	t->sensor_since_ms = sqlite3_column_int64(st, 13);
}

int
store_tis(store *s, int64_t run, store_ti_cb cb, void *ud, char **err)
{
	struct store_visit v = { ROW_TI, { .ti = cb }, ud };
	sqlite3_stmt *st;

	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT t.run, t.task, t.state, t.job_id, t.tries,"
		" j.attempt, j.worker, j.result, j.error, t.started_ms, t.finished_ms,"
		" t.map_index, t.error, t.sensor_since_ms"
		" FROM task_instances t LEFT JOIN jobs j ON j.id = t.job_id"
		" WHERE t.run = ?1 ORDER BY t.seq, t.map_index", &st, err);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, run);
		rc = store_walk(s, st, &v, 0, err);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_dag_state(store *s, const char *dag_id, int *paused, int64_t *next_start,
                char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT paused, next_start FROM dags WHERE id = ?1",
	                     &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*paused = sqlite3_column_int(st, 0);
			*next_start = sqlite3_column_int64(st, 1);
			rc = 0;
		} else if (rc == SQLITE_DONE) {
			rc = -ENOENT;
		} else {
			rc = store_dberr(s->rdb, rc, err, "store: read DAG");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_meta_get(store *s, const char *key, char **value, char **err)
{
	sqlite3_stmt *st;
	*value = NULL;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT value FROM meta WHERE key = ?1", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*value = store_col_str(st, 0);
			rc = 0;
		} else if (rc == SQLITE_DONE) {
			rc = -ENOENT;
		} else {
			rc = store_dberr(s->rdb, rc, err, "store: read meta");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Variables and connections, sealed                                  */
/* ------------------------------------------------------------------ */

/* Changed by an administrator now and then: on the read connection, as
 * store_token_add(). */
int
store_secret_put(store *s, const char *kind, const char *name,
                 const char *sealed, const char *by, char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "INSERT INTO secrets (kind, name, sealed, "
	                     "updated_ms, updated_by) VALUES (?1, ?2, ?3, ?4, "
	                     "?5) ON CONFLICT (kind, name) DO UPDATE SET "
	                     "sealed = ?3, updated_ms = ?4, updated_by = ?5",
	                     &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, sealed, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, clock_now_ms());
		store_bind_text(st, 5, by);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: write secret");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_secret_delete(store *s, const char *kind, const char *name,
                    char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "DELETE FROM secrets WHERE kind = ?1 AND "
	                     "name = ?2", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			rc = store_dberr(s->rdb, rc, err, "store: delete secret");
		else
			rc = sqlite3_changes(s->rdb) == 0 ? -ENOENT : 0;
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

void
store_secret_clear(struct store_secret *x)
{
	if (x == NULL)
		return;
	free(x->name);
	free(x->sealed);
	free(x->updated_by);
	memset(x, 0, sizeof *x);
}

/* Rows of KIND (and NAME, if not NULL), by name, to CB. */
static int
store_secret_walk(store *s, const char *kind, const char *name,
                  store_secret_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT name, sealed, updated_ms, updated_by "
	                     "FROM secrets WHERE kind = ?1 AND (?2 IS NULL OR "
	                     "name = ?2) ORDER BY name", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		store_bind_text(st, 2, name);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_secret x = {
				.name = store_col_str(st, 0),
				.sealed = store_col_str(st, 1),
				.updated_ms = sqlite3_column_int64(st, 2),
				.updated_by = store_col_str(st, 3),
			};
			int stop = cb(&x, ud);
			store_secret_clear(&x);
			if (stop)
				break;
		}
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 :
		     store_dberr(s->rdb, rc, err, "store: read secrets");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_secret_list(store *s, const char *kind, store_secret_cb cb, void *ud,
                  char **err)
{
	return store_secret_walk(s, kind, NULL, cb, ud, err);
}

static int
store_secret_take(const struct store_secret *x, void *ud)
{
	struct store_secret *out = ud;
	*out = (struct store_secret){
		.name = xstrdup(x->name), .sealed = xstrdup(x->sealed),
		.updated_ms = x->updated_ms,
		.updated_by = xstrdup(x->updated_by),
	};
	return 1;
}

int
store_secret_get(store *s, const char *kind, const char *name,
                 struct store_secret *out, char **err)
{
	memset(out, 0, sizeof *out);
	int rc = store_secret_walk(s, kind, name, store_secret_take, out, err);
	if (rc == 0 && out->name == NULL)
		rc = -ENOENT;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Notifications                                                       */
/* ------------------------------------------------------------------ */

/* A few per run event: on the read connection, as store_secret_put(). */
int
store_notif_add(store *s, const struct store_notif *n, int64_t *id,
                char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "INSERT INTO notifications (run, task, "
	                     "map_index, event, kind, target, state, error, "
	                     "created_ms, body, secret, delivery, due_ms) "
	                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	                     "?11, ?12, ?13)", &st, err);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, n->run);
		store_bind_text(st, 2, n->task);
		sqlite3_bind_int(st, 3, n->map_index);
		sqlite3_bind_text(st, 4, n->event, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, n->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, n->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, n->state, -1, SQLITE_STATIC);
		store_bind_text(st, 8, n->error);
		sqlite3_bind_int64(st, 9, n->created_ms);
		store_bind_text(st, 10, n->body);
		store_bind_text(st, 11, n->secret);
		store_bind_text(st, 12, n->delivery);
		sqlite3_bind_int64(st, 13, n->due_ms);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: write notification");
		if (rc == 0)
			*id = sqlite3_last_insert_rowid(s->rdb);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_notif_update(store *s, const struct store_notif *n, char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "UPDATE notifications SET state = ?2, "
	                     "attempts = ?3, status = ?4, error = ?5, "
	                     "sent_ms = ?6, due_ms = ?7 WHERE id = ?1", &st,
	                     err);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, n->id);
		sqlite3_bind_text(st, 2, n->state, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, n->attempts);
		sqlite3_bind_int(st, 4, n->status);
		store_bind_text(st, 5, n->error);
		sqlite3_bind_int64(st, 6, n->sent_ms);
		sqlite3_bind_int64(st, 7, n->due_ms);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: update notification");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_notif_abandon(store *s, const char *why, char **err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "UPDATE notifications SET state = 'failed', "
	                     "error = ?1 WHERE state = 'pending' AND body IS NULL",
	                     &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, why, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? 0 :
		     store_dberr(s->rdb, rc, err, "store: update notifications");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* Every column of the rows of notifications that WHERE (with ?1 bound to
 * RUN if RUN > 0) picks, in id order, to CB until it returns non-zero;
 * at most LIMIT rows (-1: all).  WHERE is one of our own constants. */
static int
store_notif_walk(store *s, const char *where, int64_t run, int limit,
                 store_notif_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st;
	char *sql = xasprintf("SELECT id, run, task, map_index, event, kind,"
	                      " target, state, attempts, status, error,"
	                      " created_ms, sent_ms, body, secret, delivery,"
	                      " due_ms FROM notifications WHERE %s ORDER BY id"
	                      " LIMIT %d", where, limit);
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, sql, &st, err);
	free(sql);
	if (rc == 0) {
		if (run > 0)
			sqlite3_bind_int64(st, 1, run);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			/* Columns 2, 4-7, 10 and 13-15 are text (or NULL). */
			enum { NTXT = 9 };
			static const int txt[NTXT] = { 2, 4, 5, 6, 7, 10, 13,
			                               14, 15 };
			char *t[NTXT];
			for (size_t i = 0; i < NTXT; i++)
				t[i] = sqlite3_column_type(st, txt[i]) ==
				       SQLITE_NULL ? NULL : store_col_str(st, txt[i]);
			struct store_notif n = {
				.id = sqlite3_column_int64(st, 0),
				.run = sqlite3_column_int64(st, 1),
				.task = t[0],
				.map_index = sqlite3_column_int(st, 3),
				.event = t[1], .kind = t[2], .target = t[3],
				.state = t[4],
				.attempts = sqlite3_column_int(st, 8),
				.status = sqlite3_column_int(st, 9),
				.error = t[5],
				.created_ms = sqlite3_column_int64(st, 11),
				.sent_ms = sqlite3_column_int64(st, 12),
				.body = t[6], .secret = t[7], .delivery = t[8],
				.due_ms = sqlite3_column_int64(st, 16),
			};
			int stop = cb(&n, ud);
			for (size_t i = 0; i < NTXT; i++)
				free(t[i]);
			if (stop)
				break;
		}
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 :
		     store_dberr(s->rdb, rc, err, "store: read notifications");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_notif_pending(store *s, store_notif_cb cb, void *ud, char **err)
{
	return store_notif_walk(s, "state = 'pending' AND body IS NOT NULL",
	                        0, -1, cb, ud, err);
}

int
store_notif_list(store *s, int64_t run, store_notif_cb cb, void *ud,
                 char **err)
{
	return store_notif_walk(s, "run = ?1", run, 1000, cb, ud, err);
}

/* ------------------------------------------------------------------ */
/* Backup                                                              */
/* ------------------------------------------------------------------ */

int
store_backup_file(const char *path, const char *dest, char **err)
{
	sqlite3 *src = NULL, *dst = NULL;
	int rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY |
	                         SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		rc = err_set(err, store_errno(rc), "cannot open %s: %s", path,
		            src ? sqlite3_errmsg(src) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	rc = sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE |
	                     SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = err_set(err, store_errno(rc), "cannot open %s: %s", dest,
		            dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		goto out;
	}
	/* All pages in one step: one read transaction, so one snapshot of a
	 * WAL database, taken without stopping the master's writer. */
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL) {
		rc = store_dberr(dst, sqlite3_errcode(dst), err, "backup");
		goto out;
	}
	do {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(10);
	} while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	int frc = sqlite3_backup_finish(b);
	rc = rc == SQLITE_DONE ? frc : rc;
	rc = rc == SQLITE_OK ? 0 : store_dberr(dst, rc, err, "backup");
	/* The copy is one file, whatever the journal of the original. */
	if (rc == 0)
		rc = store_exec(dst, "PRAGMA journal_mode = DELETE", err) < 0 ? -EIO : 0;
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	return rc < 0 ? rc : 0;
}

int
store_file_artifacts(const char *path, store_sha_cb cb, void *ud, char **err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *sql = "SELECT sha FROM artifacts ORDER BY sha";
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
	                         SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = err_set(err, store_errno(rc), "%s: %s", path,
		            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((rc = cb((const char *)sqlite3_column_text(st, 0), ud, err)) != 0)
			goto out;
	rc = rc == SQLITE_DONE ? 0 : store_dberr(db, rc, err, sql);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int
store_idem_get(store *s, const char *principal, const char *key,
               int64_t now_ms, struct store_idem *out, char **err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT hash, first_id, count, created_ms"
	                     " FROM idempotency WHERE principal = ?1"
	                     " AND key = ?2 AND created_ms >= ?3", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, principal, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now_ms - STORE_IDEM_TTL_MS);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out->hash = store_col_str(st, 0);
			out->first_id = sqlite3_column_int64(st, 1);
			out->count = sqlite3_column_int64(st, 2);
			out->created_ms = sqlite3_column_int64(st, 3);
			rc = 0;
		} else if (rc == SQLITE_DONE) {
			rc = -ENOENT;
		} else {
			rc = store_dberr(s->rdb, rc, err, "store: read "
			                 "idempotency key");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

/* ------------------------------------------------------------------ */
/* DAG versions: reads                                                 */
/* ------------------------------------------------------------------ */

void
store_dag_version_clear(struct store_dag_version *v)
{
	if (v == NULL)
		return;
	free(v->hash);
	free(v->text);
	memset(v, 0, sizeof *v);
}

static void
store_dag_version_row(sqlite3_stmt *st, struct store_dag_version *v)
{
	v->version = sqlite3_column_int(st, 0);
	v->hash = store_col_str(st, 1);
	v->created_ms = sqlite3_column_int64(st, 2);
	v->size = sqlite3_column_int64(st, 3);
	v->runs = sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 5) != SQLITE_NULL)
		v->text = store_col_str(st, 5);
}

int
store_dag_versions(store *s, const char *dag_id, int limit,
                   store_dag_version_cb cb, void *ud, char **err)
{
	sqlite3_stmt *st;
	if (limit <= 0 || limit > 1000)
		limit = limit <= 0 ? 100 : 1000;
	pthread_mutex_lock(&s->read_mu);
	/* The count walks the (dag_id, dag_version) index of schema 12. */
	int rc = store_rprep(s, "SELECT v.version, v.hash, v.created_ms, v.size,"
		" (SELECT count(*) FROM dag_runs r WHERE r.dag_id = v.dag_id"
		" AND r.dag_version = v.version), NULL FROM dag_versions v"
		" WHERE v.dag_id = ?1 ORDER BY v.version DESC LIMIT ?2", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, limit);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct store_dag_version v = { 0 };
			store_dag_version_row(st, &v);
			int stop = cb(&v, ud);
			store_dag_version_clear(&v);
			if (stop)
				break;
		}
		rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 :
		     store_dberr(s->rdb, rc, err, "store: read DAG versions");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}

int
store_dag_version_get(store *s, const char *dag_id, int version,
                      int with_text, struct store_dag_version *out,
                      char **err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->read_mu);
	int rc = store_rprep(s, "SELECT version, hash, created_ms, size, 0,"
		" CASE WHEN ?3 THEN text END FROM dag_versions WHERE dag_id = ?1"
		" AND (?2 <= 0 OR version = ?2) ORDER BY version DESC LIMIT 1",
		&st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, dag_id, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, version);
		sqlite3_bind_int(st, 3, with_text != 0);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			store_dag_version_row(st, out);
			rc = 0;
		} else if (rc == SQLITE_DONE) {
			rc = -ENOENT;
		} else {
			rc = store_dberr(s->rdb, rc, err, "store: read DAG version");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->read_mu);
	return rc;
}
