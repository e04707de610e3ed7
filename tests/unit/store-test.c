/* SPDX-License-Identifier: MIT */
/*
 * store-test.c - unit tests of the SQLite store (src/store.c): schema and
 * migrations, every state transition and its guard against stale or
 * repeated messages, the reads, group commit under concurrent callers, and
 * durability when the process is killed right after store_apply().
 *
 * Each test gets a fresh directory from mkdtemp() under /tmp.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "xalloc.h"

static char tmpdir[64];
static char dbpath[128];


static void
setup(void)
{
	tu_tmpdir(tmpdir, sizeof tmpdir, "store-test");
	/* A subdirectory that does not exist yet: store_open makes it. */
	snprintf(dbpath, sizeof dbpath, "%s/state/kiln.db", tmpdir);
}

static void
teardown(void)
{
	tu_rmtree(tmpdir);
}

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

static store *
open_store(int sync_full)
{
	store *s = NULL;
	char *err = NULL;
	int rc = store_open(dbpath, sync_full, &s, &err);
	ck_assert_msg(rc == 0, "store_open: %d %s", rc, err ? err : "");
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Apply one op; return its applied flag. */
static int
apply1(store *s, struct store_op *op)
{
	char *err = NULL;
	int rc = store_apply(s, op, 1, &err);
	ck_assert_msg(rc == 0, "store_apply: %d %s", rc, err ? err : "");
	return op->applied;
}

static int64_t
submit(store *s, const char *plugin, int priority)
{
	struct store_op op = { .kind = STORE_SUBMIT, .t_ms = 1000 };
	op.job.plugin = (char *)plugin;
	op.job.params = "{\"n\":1}";
	op.job.priority = priority;
	ck_assert_int_eq(apply1(s, &op), 1);
	ck_assert_int_gt(op.job.id, 0);
	return op.job.id;
}

static int
start(store *s, int64_t id, int attempt, const char *worker)
{
	struct store_op op = { .kind = STORE_START, .id = id,
	                       .attempt = attempt, .worker = worker,
	                       .t_ms = 2000 };
	return apply1(s, &op);
}

static int
finish(store *s, int64_t id, int attempt, int state, const char *log)
{
	struct store_op op = { .kind = STORE_FINISH, .id = id,
	                       .attempt = attempt, .state = state,
	                       .result = "{\"ok\":true}",
	                       .error = state == JOB_FAILED ? "boom" : NULL,
	                       .log = log, .t_ms = 3000 };
	return apply1(s, &op);
}

static int
requeue(store *s, int64_t id, int attempt, const char *error,
        const char *log)
{
	struct store_op op = { .kind = STORE_REQUEUE, .id = id,
	                       .attempt = attempt, .error = error, .log = log,
	                       .t_ms = 2500 };
	return apply1(s, &op);
}

static int
cancel(store *s, int64_t id)
{
	struct store_op op = { .kind = STORE_CANCEL, .id = id, .t_ms = 4000 };
	return apply1(s, &op);
}

static struct store_job
get(store *s, int64_t id)
{
	struct store_job j;
	char *err = NULL;
	int rc = store_job_get(s, id, &j, &err);
	ck_assert_msg(rc == 0, "store_job_get(%" PRId64 "): %d %s", id, rc,
	              err ? err : "");
	return j;
}

static int
get_state(store *s, int64_t id)
{
	struct store_job j = get(s, id);
	int state = j.state;
	store_job_clear(&j);
	return state;
}

/* Collects job ids (and states) from a walk. */
struct idlist {
	int64_t id[2000];
	int state[2000];
	int n;
	int stop_after;         /* 0 = never */
};

static int
collect_job(const struct store_job *j, void *ud)
{
	struct idlist *l = ud;
	ck_assert_int_lt(l->n, 2000);
	l->id[l->n] = j->id;
	l->state[l->n] = j->state;
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

struct attlist {
	struct store_attempt a[8];
	int n;
};

static int
collect_attempt(const struct store_attempt *a, void *ud)
{
	struct attlist *l = ud;
	ck_assert_int_lt(l->n, 8);
	l->a[l->n] = *a;
	/* The callback's strings die after it returns: copy them. */
	l->a[l->n].worker = a->worker ? strdup(a->worker) : NULL;
	l->a[l->n].error = a->error ? strdup(a->error) : NULL;
	l->n++;
	return 0;
}

static void
attlist_clear(struct attlist *l)
{
	for (int i = 0; i < l->n; i++)
		store_attempt_clear(&l->a[i]);
	l->n = 0;
}

static char *
get_log(store *s, int64_t id, int attempt)
{
	char *log = NULL, *err = NULL;
	int rc = store_log(s, id, attempt, &log, &err);
	ck_assert_msg(rc == 0, "store_log: %d %s", rc, err ? err : "");
	ck_assert_ptr_nonnull(log);
	return log;
}

static void
assert_log(store *s, int64_t id, int attempt, const char *want)
{
	char *log = get_log(s, id, attempt);
	ck_assert_str_eq(log, want);
	free(log);
}

/* ---------------------------------------------------------------- */
/* Schema                                                            */
/* ---------------------------------------------------------------- */

static int
db_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	                 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Schema 14's triggers, index and column, for a test that makes an older
 * database from a new one. */
/* Schema 15's columns of notifications, likewise. */
#define UNDO_SCHEMA_15 \
	"ALTER TABLE notifications DROP COLUMN body;" \
	"ALTER TABLE notifications DROP COLUMN secret;" \
	"ALTER TABLE notifications DROP COLUMN delivery;" \
	"ALTER TABLE notifications DROP COLUMN due_ms;"

#define UNDO_SCHEMA_14 \
	"DROP TRIGGER IF EXISTS dag_runs_changed_ins;" \
	"DROP TRIGGER IF EXISTS dag_runs_changed_upd;" \
	"DROP TRIGGER IF EXISTS ti_changed_ins;" \
	"DROP TRIGGER IF EXISTS ti_changed_upd;" \
	"DROP TRIGGER IF EXISTS ti_changed_del;" \
	"DROP INDEX dag_runs_changed;" \
	"ALTER TABLE dag_runs DROP COLUMN changed;"

/* A job's end whose start was not written (start_folded) writes its
 * attempt's row whole: as the first write, and over the row of a start
 * the master wrote meanwhile (at a worker's registration). */
START_TEST(test_folded_end)
{
	store *s = open_store(0);
	int64_t fresh = submit(s, "noop", 0), started = submit(s, "noop", 0);
	ck_assert_int_eq(start(s, started, 1, "w1"), 1);
	for (int k = 0; k < 2; k++) {
		int64_t id = k == 0 ? fresh : started;
		struct store_op op = { .kind = STORE_FINISH, .id = id,
			.attempt = 1, .state = JOB_SUCCEEDED, .result = "{}",
			.log = "out\n", .worker = "w2", .started_ms = 1500,
			.start_folded = 1, .t_ms = 3000 };
		ck_assert_int_eq(apply1(s, &op), 1);
		struct attlist l = { .n = 0 };
		char *err = NULL;
		ck_assert_int_eq(store_attempts(s, id, collect_attempt, &l, &err), 0);
		ck_assert_int_eq(l.n, 1);
		ck_assert_int_eq(l.a[0].state, JOB_SUCCEEDED);
		ck_assert_str_eq(l.a[0].worker, "w2");
		ck_assert_ptr_null(l.a[0].error);
		ck_assert_int_eq(l.a[0].started_ms, 1500);
		ck_assert_int_eq(l.a[0].finished_ms, 3000);
		attlist_clear(&l);
		assert_log(s, id, 1, "out\n");
		/* Replayed: changes nothing. */
		ck_assert_int_eq(apply1(s, &op), 0);
	}
	store_close(s);
}
END_TEST

START_TEST(test_open_schema)
{
	store *s = open_store(1);
	ck_assert_int_ge(store_schema_version(), 1);
	store_close(s);

	ck_assert_int_eq(db_int("PRAGMA user_version"),
	                 store_schema_version());
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_master WHERE "
	                        "type = 'table' AND name IN ('jobs', "
	                        "'attempts', 'tokens', 'meta')"), 4);
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_master WHERE "
	                        "type = 'index' AND name = 'jobs_state'"), 1);
	/* WAL is a persistent property of the file. */
	sqlite3 *db;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Opening again migrates nothing and keeps the version. */
	s = open_store(0);
	store_close(s);
	ck_assert_int_eq(db_int("PRAGMA user_version"),
	                 store_schema_version());
}
END_TEST

/* Dynamic task mapping (schema 7): a mapped task's instances are rows of
 * their own after it, each following its own job; clearing the task
 * forgets them.  And the migration keeps the task instances of before. */
static int
ti_collect(const struct store_ti *t, void *ud)
{
	char *buf = ud;
	size_t n = strlen(buf);
	snprintf(buf + n, 512 - n, "%s%s/%d/%s", n ? " " : "", t->task,
	         t->map_index, store_ti_state_name(t->state));
	return 0;
}

START_TEST(test_mapped_instances)
{
	store *s = open_store(0);
	const char *tasks[] = { "a", "b" };
	struct store_run_new rn = { .dag_id = "d", .run_id = "d__manual__1",
		.kind = "manual", .tasks = tasks, .ntasks = 2 };
	struct store_op op = { .kind = STORE_RUN_CREATE, .run_new = &rn };
	ck_assert(apply1(s, &op));
	int64_t run = op.id;
	op = (struct store_op){ .kind = STORE_TI_EXPAND, .run = run,
	                        .task = "a", .map_count = 3 };
	ck_assert(apply1(s, &op));
	ck_assert(!apply1(s, &op));     /* only a task in state none */
	int64_t job = 0;
	for (int k = 0; k < 3; k++) {
		op = (struct store_op){ .kind = STORE_SUBMIT };
		op.job = (struct store_job){ .plugin = "noop", .run = run,
			.task = "a", .mapped = 1, .map_index = k };
		ck_assert(apply1(s, &op));
		if (k == 1)
			job = op.job.id;
	}
	op = (struct store_op){ .kind = STORE_START, .id = job, .attempt = 1,
	                        .worker = "w" };
	ck_assert(apply1(s, &op));
	char got[512] = "";
	char *err = NULL;
	ck_assert_int_eq(store_tis(s, run, ti_collect, got, &err), 0);
	ck_assert_str_eq(got, "a/-1/running a/0/queued a/1/running "
	                 "a/2/queued b/-1/none");
	/* A reason for a task without a job. */
	op = (struct store_op){ .kind = STORE_TI_SET, .run = run, .task = "b",
	                        .state = TI_SKIPPED, .error = "why" };
	ck_assert(apply1(s, &op));
	op = (struct store_op){ .kind = STORE_TI_SET, .run = run, .task = "a",
	                        .state = TI_NONE };
	ck_assert(apply1(s, &op));
	got[0] = '\0';
	ck_assert_int_eq(store_tis(s, run, ti_collect, got, &err), 0);
	ck_assert_str_eq(got, "a/-1/none b/-1/skipped");
	store_close(s);

	/* Back to schema 8's table, with a row: migrated, it is kept.
	 * (8: the version before the mapping step; renumber if it moves.) */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE task_instances;"
		"CREATE TABLE task_instances (run INTEGER NOT NULL, task TEXT"
		" NOT NULL, seq INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT"
		" 0, job_id INTEGER, tries INTEGER NOT NULL DEFAULT 0,"
		" started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT"
		" NULL DEFAULT 0, PRIMARY KEY (run, task)) WITHOUT ROWID;"
		"INSERT INTO task_instances (run, task, seq, state) VALUES"
		" (1, 'old', 0, 4);"
		UNDO_SCHEMA_15 UNDO_SCHEMA_14
		"DROP INDEX dag_runs_version; DROP TABLE dag_versions;"
		"ALTER TABLE dag_runs DROP COLUMN dag_version;"  /* 12's */
		"PRAGMA user_version = 8;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store(0);
	got[0] = '\0';
	ck_assert_int_eq(store_tis(s, run, ti_collect, got, &err), 0);
	ck_assert_str_eq(got, "old/-1/success");
	store_close(s);
	ck_assert_int_eq(db_int("PRAGMA user_version"), store_schema_version());
}
END_TEST

static int64_t
run_changed(store *s, const char *run_id)
{
	struct store_run sr;
	char *err = NULL;
	ck_assert_int_eq(store_run_find(s, run_id, &sr, &err), 0);
	int64_t c = sr.changed;
	store_run_clear(&sr);
	return c;
}

/* Notifications (schema 15): a pending row keeps its body, key, delivery
 * id and next try for the next master; one from before schema 15 (no
 * body) is abandoned, and only it. */
static int
notif_collect(const struct store_notif *n, void *ud)
{
	char *got = ud;
	size_t len = strlen(got);
	snprintf(got + len, 512 - len, "%s%s/%s/%s/%d/%s/%s/%lld", *got ? " " :
	         "", n->kind, n->target, n->body, n->attempts,
	         n->secret ? n->secret : "-", n->delivery ? n->delivery : "-",
	         (long long)n->due_ms);
	return 0;
}

START_TEST(test_notif_pending)
{
	store *s = open_store(0);
	const char *tasks[] = { "a" };
	struct store_run_new rn = { .dag_id = "d", .run_id = "d__n",
		.kind = "manual", .tasks = tasks, .ntasks = 1 };
	struct store_op op = { .kind = STORE_RUN_CREATE, .run_new = &rn };
	ck_assert(apply1(s, &op));
	char *err = NULL;
	int64_t id1, id2, id3;
	struct store_notif n = { .run = op.id, .task = "a", .map_index = -1,
		.event = "failure", .kind = "webhook", .target = "http://h/",
		.state = "pending", .created_ms = 5, .body = "{\"x\":1}",
		.secret = "k", .delivery = "d1", .due_ms = 7 };
	ck_assert_int_eq(store_notif_add(s, &n, &id1, &err), 0);
	n.body = NULL;          /* as a row from before schema 15 */
	n.secret = NULL;
	n.delivery = NULL;
	ck_assert_int_eq(store_notif_add(s, &n, &id2, &err), 0);
	n.state = "sent";
	n.body = "{}";
	ck_assert_int_eq(store_notif_add(s, &n, &id3, &err), 0);
	struct store_notif u = { .id = id1, .state = "pending", .attempts = 2,
		.status = 0, .error = "timeout", .due_ms = 9000 };
	ck_assert_int_eq(store_notif_update(s, &u, &err), 0);
	ck_assert_int_eq(store_notif_abandon(s, "gone", &err), 0);
	char got[512] = "";
	ck_assert_int_eq(store_notif_pending(s, notif_collect, got, &err), 0);
	ck_assert_str_eq(got, "webhook/http://h//{\"x\":1}/2/k/d1/9000");
	store_close(s);
	char q[128];
	snprintf(q, sizeof q, "SELECT state = 'failed' AND error = 'gone' FROM"
	         " notifications WHERE id = %lld", (long long)id2);
	ck_assert_int_eq(db_int(q), 1);
	snprintf(q, sizeof q, "SELECT state = 'sent' FROM notifications WHERE"
	         " id = %lld", (long long)id3);
	ck_assert_int_eq(db_int(q), 1);
}
END_TEST

/* The grid's cursor (schema 14): a run's changed moves past every other
 * run's when it is made, when one of its task instances changes, and
 * when its own state does; reading changes nothing. */
START_TEST(test_run_changed)
{
	store *s = open_store(0);
	const char *tasks[] = { "a", "b" };
	struct store_run_new r1 = { .dag_id = "d", .run_id = "d__1",
		.kind = "manual", .tasks = tasks, .ntasks = 2 };
	struct store_run_new r2 = { .dag_id = "d", .run_id = "d__2",
		.kind = "manual", .tasks = tasks, .ntasks = 2 };
	struct store_op op = { .kind = STORE_RUN_CREATE, .run_new = &r1 };
	ck_assert(apply1(s, &op));
	int64_t run1 = op.id;
	op = (struct store_op){ .kind = STORE_RUN_CREATE, .run_new = &r2 };
	ck_assert(apply1(s, &op));
	int64_t c1 = run_changed(s, "d__1"), c2 = run_changed(s, "d__2");
	ck_assert_int_gt(c1, 0);
	ck_assert_int_gt(c2, c1);
	ck_assert_int_eq(run_changed(s, "d__1"), c1);
	op = (struct store_op){ .kind = STORE_TI_SET, .run = run1, .task = "b",
	                        .state = TI_SKIPPED };
	ck_assert(apply1(s, &op));
	int64_t c3 = run_changed(s, "d__1");
	ck_assert_int_gt(c3, c2);
	ck_assert_int_eq(run_changed(s, "d__2"), c2);
	store_close(s);
}
END_TEST

static int
dv_collect(const struct store_dag_version *v, void *ud)
{
	char *buf = ud;
	size_t n = strlen(buf);
	snprintf(buf + n, 512 - n, "%s%d:%.4s:%lld:%lld", n ? " " : "",
	         v->version, v->hash, (long long)v->size, (long long)v->runs);
	return 0;
}

/* DAG versions (schema 12): numbered per DAG, none for the latest text
 * again, a new one for an older text again; runs name theirs; a text too
 * large is kept by hash only. */
START_TEST(test_dag_versions)
{
	store *s = open_store(0);
	char *err = NULL, got[512] = "";
	const char *steps[][2] = {
		{ "aaaa", "v1" }, { "aaaa", "v1" }, { "bbbb", "v2" },
		{ "aaaa", "v1" },
	};
	int applied[] = { 1, 0, 1, 1 };
	for (size_t i = 0; i < 4; i++) {
		struct store_op op = { .kind = STORE_DAG_VERSION, .dag_id = "d",
			.result = steps[i][0], .log = steps[i][1], .id = 2 };
		ck_assert_int_eq(apply1(s, &op), applied[i]);
	}
	struct store_op op = { .kind = STORE_DAG_VERSION, .dag_id = "e",
	                       .result = "cccc", .log = "x", .id = 1 };
	ck_assert(apply1(s, &op));
	const char *tasks[] = { "a" };
	struct store_run_new rn = { .dag_id = "d", .run_id = "d__manual__1",
		.kind = "manual", .tasks = tasks, .ntasks = 1, .dag_version = 2 };
	op = (struct store_op){ .kind = STORE_RUN_CREATE, .run_new = &rn };
	ck_assert(apply1(s, &op));
	int64_t run = op.id;
	ck_assert_int_eq(store_dag_versions(s, "d", 10, dv_collect, got, &err), 0);
	ck_assert_str_eq(got, "3:aaaa:2:0 2:bbbb:2:1 1:aaaa:2:0");

	struct store_dag_version v;
	ck_assert_int_eq(store_dag_version_get(s, "d", 0, 1, &v, &err), 0);
	ck_assert_int_eq(v.version, 3);
	ck_assert_str_eq(v.text, "v1");
	store_dag_version_clear(&v);
	ck_assert_int_eq(store_dag_version_get(s, "d", 2, 0, &v, &err), 0);
	ck_assert_ptr_null(v.text);     /* not asked for */
	store_dag_version_clear(&v);
	ck_assert_int_eq(store_dag_version_get(s, "d", 9, 1, &v, &err), -ENOENT);
	ck_assert_int_eq(store_dag_version_get(s, "nope", 0, 1, &v, &err), -ENOENT);

	/* The run moves to version 3, and gains the task that has. */
	const char *tasks3[] = { "a", "b" };
	struct store_run_new vt = { .tasks = tasks3, .ntasks = 2 };
	op = (struct store_op){ .kind = STORE_RUN_VERSION, .id = run,
	                        .dag_version = 3, .run_new = &vt };
	ck_assert(apply1(s, &op));
	struct store_run r;
	ck_assert_int_eq(store_run_find(s, "d__manual__1", &r, &err), 0);
	ck_assert_int_eq(r.dag_version, 3);
	store_run_clear(&r);
	got[0] = '\0';
	ck_assert_int_eq(store_tis(s, run, ti_collect, got, &err), 0);
	ck_assert_str_eq(got, "a/-1/none b/-1/none");
	op = (struct store_op){ .kind = STORE_RUN_VERSION, .id = run };
	ck_assert_int_eq(store_apply(s, &op, 1, &err), -EINVAL);
	free(err);
	err = NULL;

	/* Too large: a version by hash and size, without its text. */
	char *big = malloc(STORE_DAG_TEXT_MAX + 2);
	memset(big, 'x', STORE_DAG_TEXT_MAX + 1);
	big[STORE_DAG_TEXT_MAX + 1] = '\0';
	op = (struct store_op){ .kind = STORE_DAG_VERSION, .dag_id = "d",
		.result = "dddd", .log = big, .id = STORE_DAG_TEXT_MAX + 1 };
	ck_assert(apply1(s, &op));
	free(big);
	ck_assert_int_eq(store_dag_version_get(s, "d", 4, 1, &v, &err), 0);
	ck_assert_ptr_null(v.text);
	ck_assert_int_eq(v.size, STORE_DAG_TEXT_MAX + 1);
	store_dag_version_clear(&v);
	store_close(s);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	sqlite3 *db;
	char dir[160];
	snprintf(dir, sizeof dir, "%s/state", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 999", NULL,
	                              NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	store *s = (store *)1;
	char *err = NULL;
	int rc = store_open(dbpath, 1, &s, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "999") && strstr(err, "newer"),
	              "unclear error: %s", err);
	free(err);
	/* And the file was left alone. */
	ck_assert_int_eq(db_int("PRAGMA user_version"), 999);
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_master"), 0);
}
END_TEST

START_TEST(test_open_errors)
{
	char *err = NULL;
	store *s = NULL;

	/* The parent "directory" is a regular file. */
	char file[160], path[200];
	snprintf(file, sizeof file, "%s/plain", tmpdir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a directory\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/kiln.db", file);
	ck_assert_int_lt(store_open(path, 1, &s, &err), 0);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;

	/* A file that is not a database. */
	ck_assert_int_lt(store_open(file, 1, &s, &err), 0);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	free(err);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Transitions                                                       */
/* ---------------------------------------------------------------- */

START_TEST(test_submit_get)
{
	store *s = open_store(1);
	struct store_op op = { .kind = STORE_SUBMIT, .t_ms = 5555 };
	op.job.plugin = "wordcount";
	op.job.params = "{\"input\":\"/data/x\"}";
	op.job.priority = -7;
	op.job.slots = 3;
	op.job.memory = (int64_t)5 << 32;
	op.job.timeout_ms = 60000;
	op.job.max_attempts = 4;
	op.job.created_ms = 1234;
	ck_assert_int_eq(apply1(s, &op), 1);
	ck_assert_int_gt(op.job.id, 0);

	struct store_job j = get(s, op.job.id);
	ck_assert_int_eq(j.id, op.job.id);
	ck_assert_str_eq(j.plugin, "wordcount");
	ck_assert_str_eq(j.params, "{\"input\":\"/data/x\"}");
	ck_assert_int_eq(j.state, JOB_QUEUED);
	ck_assert_int_eq(j.priority, -7);
	ck_assert_int_eq(j.slots, 3);
	ck_assert_int_eq(j.memory, (int64_t)5 << 32);
	ck_assert_int_eq(j.timeout_ms, 60000);
	ck_assert_int_eq(j.max_attempts, 4);
	ck_assert_int_eq(j.attempt, 0);
	ck_assert_ptr_null(j.worker);
	ck_assert_ptr_null(j.result);
	ck_assert_ptr_null(j.error);
	ck_assert_int_eq(j.created_ms, 1234);
	ck_assert_int_eq(j.started_ms, 0);
	ck_assert_int_eq(j.finished_ms, 0);
	store_job_clear(&j);
	ck_assert_ptr_null(j.plugin);

	/* Defaults: slots and max_attempts at least 1, params "{}",
	 * created_ms from t_ms. */
	struct store_op d = { .kind = STORE_SUBMIT, .t_ms = 777 };
	d.job.plugin = "p";
	ck_assert_int_eq(apply1(s, &d), 1);
	ck_assert_int_gt(d.job.id, op.job.id);
	j = get(s, d.job.id);
	ck_assert_int_eq(j.slots, 1);
	ck_assert_int_eq(j.max_attempts, 1);
	ck_assert_str_eq(j.params, "{}");
	ck_assert_int_eq(j.created_ms, 777);
	store_job_clear(&j);

	char *err = NULL;
	ck_assert_int_eq(store_job_get(s, 424242, &j, &err), -ENOENT);
	store_close(s);
}
END_TEST

START_TEST(test_bad_ops_rejected)
{
	store *s = open_store(0);
	char *err = NULL;
	struct store_op ops[2] = {
		{ .kind = STORE_SUBMIT, .job = { .plugin = "ok" } },
		{ .kind = STORE_SUBMIT },                 /* no plugin */
	};
	ck_assert_int_eq(store_apply(s, ops, 2, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;

	struct store_op fin = { .kind = STORE_FINISH, .id = 1, .attempt = 1,
	                        .state = JOB_RUNNING };
	ck_assert_int_eq(store_apply(s, &fin, 1, &err), -EINVAL);
	free(err);
	err = NULL;

	struct store_op odd = { .kind = 99 };
	ck_assert_int_eq(store_apply(s, &odd, 1, &err), -EINVAL);
	free(err);
	err = NULL;

	/* Nothing of the rejected batch was written. */
	int64_t counts[JOB_NSTATES];
	ck_assert_int_eq(store_job_counts(s, counts, &err), 0);
	ck_assert_int_eq(counts[JOB_QUEUED], 0);
	ck_assert_int_eq(store_commits(s), 0);
	store_close(s);
}
END_TEST

START_TEST(test_failed_transaction_rolls_back)
{
	store *s = open_store(1);
	int64_t before = submit(s, "p", 0);
	uint64_t commits = store_commits(s);

	/* Fault injection: a trigger (added behind the store's back) makes
	 * the insert of one job fail inside the writer's transaction. */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "CREATE TRIGGER explode BEFORE "
	                              "INSERT ON jobs WHEN NEW.plugin = "
	                              "'explode' BEGIN SELECT RAISE(ABORT, "
	                              "'injected fault'); END", NULL, NULL,
	                              NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store_op ops[3] = {
		{ .kind = STORE_SUBMIT, .job = { .plugin = "fine" } },
		{ .kind = STORE_START, .id = before, .attempt = 1 },
		{ .kind = STORE_SUBMIT, .job = { .plugin = "explode" } },
	};
	char *err = NULL;
	int rc = store_apply(s, ops, 3, &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "injected fault") != NULL, "err: %s", err);
	free(err);
	err = NULL;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(ops[i].applied, 0);
	ck_assert_int_eq(ops[0].job.id, 0);
	ck_assert_uint_eq(store_commits(s), commits);

	/* Nothing of the batch stayed, not even the ops before the fault. */
	int64_t c[JOB_NSTATES];
	ck_assert_int_eq(store_job_counts(s, c, &err), 0);
	ck_assert_int_eq(c[JOB_QUEUED], 1);
	ck_assert_int_eq(c[JOB_RUNNING], 0);

	/* And the writer carries on. */
	ck_assert_int_eq(start(s, before, 1, "w"), 1);
	ck_assert_int_gt(submit(s, "fine", 0), before);
	store_close(s);
}
END_TEST

START_TEST(test_start_finish_guards)
{
	store *s = open_store(1);
	int64_t id = submit(s, "p", 0);

	/* FINISH of a job that never started: nothing. */
	ck_assert_int_eq(finish(s, id, 1, JOB_SUCCEEDED, "x"), 0);
	ck_assert_int_eq(get_state(s, id), JOB_QUEUED);

	ck_assert_int_eq(start(s, id, 1, "w1"), 1);
	struct store_job j = get(s, id);
	ck_assert_int_eq(j.state, JOB_RUNNING);
	ck_assert_int_eq(j.attempt, 1);
	ck_assert_str_eq(j.worker, "w1");
	ck_assert_int_eq(j.started_ms, 2000);
	store_job_clear(&j);

	/* START of a running job: nothing. */
	ck_assert_int_eq(start(s, id, 2, "w2"), 0);

	/* Stale attempt: not applied, nothing changed. */
	ck_assert_int_eq(finish(s, id, 7, JOB_SUCCEEDED, "stale"), 0);
	j = get(s, id);
	ck_assert_int_eq(j.state, JOB_RUNNING);
	ck_assert_int_eq(j.attempt, 1);
	ck_assert_str_eq(j.worker, "w1");
	ck_assert_ptr_null(j.result);
	ck_assert_int_eq(j.finished_ms, 0);
	store_job_clear(&j);
	assert_log(s, id, 1, "");

	ck_assert_int_eq(finish(s, id, 1, JOB_SUCCEEDED, "hello\n"), 1);
	j = get(s, id);
	ck_assert_int_eq(j.state, JOB_SUCCEEDED);
	ck_assert_str_eq(j.result, "{\"ok\":true}");
	ck_assert_ptr_null(j.error);
	ck_assert_int_eq(j.finished_ms, 3000);
	store_job_clear(&j);
	assert_log(s, id, 1, "hello\n");

	/* The same FINISH again (a duplicated message): not applied, so the
	 * job is never reported as finished twice. */
	ck_assert_int_eq(finish(s, id, 1, JOB_FAILED, "again"), 0);
	j = get(s, id);
	ck_assert_int_eq(j.state, JOB_SUCCEEDED);
	ck_assert_ptr_null(j.error);
	store_job_clear(&j);
	assert_log(s, id, 1, "hello\n");

	/* And a finished job cannot be started again. */
	ck_assert_int_eq(start(s, id, 2, "w2"), 0);
	ck_assert_int_eq(get_state(s, id), JOB_SUCCEEDED);
	store_close(s);
}
END_TEST

START_TEST(test_finish_in_one_batch)
{
	/* Ops of one batch see each other: submit, start and finish of the
	 * same job, and a duplicate finish, in one call. */
	store *s = open_store(1);
	int64_t id = submit(s, "p", 0);
	struct store_op ops[3] = {
		{ .kind = STORE_START, .id = id, .attempt = 1, .worker = "w" },
		{ .kind = STORE_FINISH, .id = id, .attempt = 1,
		  .state = JOB_FAILED, .error = "e1" },
		{ .kind = STORE_FINISH, .id = id, .attempt = 1,
		  .state = JOB_SUCCEEDED },
	};
	char *err = NULL;
	ck_assert_int_eq(store_apply(s, ops, 3, &err), 0);
	ck_assert_int_eq(ops[0].applied, 1);
	ck_assert_int_eq(ops[1].applied, 1);
	ck_assert_int_eq(ops[2].applied, 0);
	struct store_job j = get(s, id);
	ck_assert_int_eq(j.state, JOB_FAILED);
	ck_assert_str_eq(j.error, "e1");
	/* t_ms 0 means now. */
	ck_assert_int_gt(j.started_ms, 1600000000000LL);
	ck_assert_int_ge(j.finished_ms, j.started_ms);
	store_job_clear(&j);
	store_close(s);
}
END_TEST

/* Deferred ops: committed with the next batch whose caller waits (one
 * commit for both), in order, or on their own soon after; copied, so the
 * caller's strings may go at once; only kinds recovery can repair. */
START_TEST(test_apply_later)
{
	store *s = open_store(1);
	int64_t a = submit(s, "p", 0);
	int64_t b = submit(s, "p", 0);
	char *err = NULL;
	char *worker = xstrdup("w1");
	struct store_op st = { .kind = STORE_START, .id = a, .attempt = 1,
	                       .worker = worker };
	uint64_t c0 = store_commits(s);
	ck_assert_int_eq(store_apply_later(s, &st, 1, &err), 0);
	memset(worker, 'x', 2);
	free(worker);
	/* Finishing a at once: the start goes first, in the same commit. */
	struct store_op fin = { .kind = STORE_FINISH, .id = a, .attempt = 1,
	                        .state = JOB_SUCCEEDED };
	ck_assert_int_eq(store_apply(s, &fin, 1, &err), 0);
	ck_assert_int_eq(fin.applied, 1);
	ck_assert_uint_eq(store_commits(s), c0 + 1);
	struct store_job j = get(s, a);
	ck_assert_int_eq(j.state, JOB_SUCCEEDED);
	ck_assert_str_eq(j.worker, "w1");
	store_job_clear(&j);
	/* Alone, it is committed within a few milliseconds. */
	st.id = b;
	st.worker = "w2";
	ck_assert_int_eq(store_apply_later(s, &st, 1, &err), 0);
	int state = JOB_QUEUED;
	for (int i = 0; i < 200 && state == JOB_QUEUED; i++) {
		usleep(5000);
		j = get(s, b);
		state = j.state;
		store_job_clear(&j);
	}
	ck_assert_int_eq(state, JOB_RUNNING);
	/* store_sync waits for what is deferred. */
	struct store_op rq = { .kind = STORE_REQUEUE, .id = b, .attempt = 1,
	                       .error = "lost" };
	ck_assert_int_eq(store_apply_later(s, &rq, 1, &err), 0);
	ck_assert_int_eq(store_sync(s, &err), 0);
	j = get(s, b);
	ck_assert_int_eq(j.state, JOB_QUEUED);
	store_job_clear(&j);
	/* A submit or a finish must be waited for. */
	struct store_op sub = { .kind = STORE_SUBMIT };
	sub.job.plugin = "p";
	ck_assert_int_eq(store_apply_later(s, &sub, 1, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(store_apply_later(s, &fin, 1, &err), -EINVAL);
	free(err);
	/* Closing commits what is still deferred. */
	st.id = b;
	st.attempt = 2;
	ck_assert_int_eq(store_apply_later(s, &st, 1, &err), 0);
	store_close(s);
	s = open_store(1);
	j = get(s, b);
	ck_assert_int_eq(j.state, JOB_RUNNING);
	ck_assert_int_eq(j.attempt, 2);
	store_job_clear(&j);
	store_close(s);
}
END_TEST

START_TEST(test_requeue_restart)
{
	store *s = open_store(1);
	int64_t id = submit(s, "p", 0);
	int64_t idle = submit(s, "p", 0);

	ck_assert_int_eq(start(s, id, 1, "w1"), 1);
	ck_assert_int_eq(requeue(s, id, 2, "wrong attempt", NULL), 0);
	ck_assert_int_eq(requeue(s, id, 1, "worker w1 lost", "partial\n"), 1);
	struct store_job j = get(s, id);
	ck_assert_int_eq(j.state, JOB_QUEUED);
	ck_assert_int_eq(j.attempt, 1);
	ck_assert_ptr_null(j.worker);
	store_job_clear(&j);

	/* The old attempt's late FINISH is stale now. */
	ck_assert_int_eq(finish(s, id, 1, JOB_SUCCEEDED, "late"), 0);
	/* A replayed START of attempt 1 must not reopen (and wipe) it. */
	ck_assert_int_eq(start(s, id, 1, "w1"), 0);

	ck_assert_int_eq(start(s, id, 2, "w2"), 1);
	ck_assert_int_eq(finish(s, id, 2, JOB_SUCCEEDED, "done\n"), 1);

	struct attlist l = { .n = 0 };
	char *err = NULL;
	ck_assert_int_eq(store_attempts(s, id, collect_attempt, &l, &err), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(l.a[0].job_id, id);
	ck_assert_int_eq(l.a[0].attempt, 1);
	ck_assert_int_eq(l.a[0].state, JOB_FAILED);
	ck_assert_str_eq(l.a[0].worker, "w1");
	ck_assert_str_eq(l.a[0].error, "worker w1 lost");
	ck_assert_int_eq(l.a[0].started_ms, 2000);
	ck_assert_int_eq(l.a[0].finished_ms, 2500);
	ck_assert_int_eq(l.a[1].attempt, 2);
	ck_assert_int_eq(l.a[1].state, JOB_SUCCEEDED);
	ck_assert_str_eq(l.a[1].worker, "w2");
	ck_assert_ptr_null(l.a[1].error);
	ck_assert_int_eq(l.a[1].finished_ms, 3000);
	attlist_clear(&l);

	assert_log(s, id, 1, "partial\n");
	assert_log(s, id, 2, "done\n");
	assert_log(s, id, 0, "done\n");
	assert_log(s, id, 3, "");
	assert_log(s, idle, 0, "");

	char *log = (char *)1;
	ck_assert_int_eq(store_log(s, 999999, 0, &log, &err), -ENOENT);
	ck_assert_ptr_null(log);

	ck_assert_int_eq(store_attempts(s, idle, collect_attempt, &l, &err), 0);
	ck_assert_int_eq(l.n, 0);
	store_close(s);
}
END_TEST

static const struct {
	const char *name;
	int started;            /* START before the cancel */
	int finished;           /* and FINISH */
	int applied;            /* expected from CANCEL */
	int end_state;
} cancel_cases[] = {
	{ "queued", 0, 0, 1, JOB_CANCELLED },
	{ "running", 1, 0, 1, JOB_CANCELLED },
	{ "finished", 1, 1, 0, JOB_SUCCEEDED },
};

START_TEST(test_cancel)
{
	const char *name = cancel_cases[_i].name;
	store *s = open_store(1);
	int64_t id = submit(s, "p", 0);
	if (cancel_cases[_i].started)
		ck_assert_int_eq(start(s, id, 1, "w"), 1);
	if (cancel_cases[_i].finished)
		ck_assert_int_eq(finish(s, id, 1, JOB_SUCCEEDED, "l"), 1);

	ck_assert_msg(cancel(s, id) == cancel_cases[_i].applied, "%s", name);
	struct store_job j = get(s, id);
	ck_assert_msg(j.state == cancel_cases[_i].end_state, "%s: state %s",
	              name, job_state_name(j.state));
	/* Cancelled now (t 4000), or untouched since FINISH (t 3000). */
	ck_assert_int_eq(j.finished_ms, cancel_cases[_i].applied ? 4000 : 3000);
	store_job_clear(&j);

	struct attlist l = { .n = 0 };
	char *err = NULL;
	ck_assert_int_eq(store_attempts(s, id, collect_attempt, &l, &err), 0);
	ck_assert_int_eq(l.n, cancel_cases[_i].started);
	if (l.n == 1) {
		/* A running attempt is closed with the job. */
		int want = cancel_cases[_i].finished ? JOB_SUCCEEDED :
		           JOB_CANCELLED;
		ck_assert_msg(l.a[0].state == want, "%s: attempt %s", name,
		              job_state_name(l.a[0].state));
		ck_assert_int_eq(l.a[0].finished_ms,
		                 cancel_cases[_i].finished ? 3000 : 4000);
	}
	attlist_clear(&l);

	/* Cancelling twice does nothing more. */
	ck_assert_int_eq(cancel(s, id), 0);
	/* The cancelled job's worker reporting late is stale. */
	ck_assert_int_eq(finish(s, id, 1, JOB_FAILED, "late"), 0);
	ck_assert_int_eq(get_state(s, id), cancel_cases[_i].end_state);
	store_close(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Reads                                                             */
/* ---------------------------------------------------------------- */

/* 30 jobs, ids 1..30: plugin "a" for odd ids and "b" for even ones;
 * ids divisible by 3 are started (running). */
static store *
fill30(void)
{
	store *s = open_store(0);
	struct store_op ops[30];
	memset(ops, 0, sizeof ops);
	for (int i = 0; i < 30; i++) {
		ops[i].kind = STORE_SUBMIT;
		ops[i].job.plugin = (i + 1) % 2 ? "a" : "b";
	}
	char *err = NULL;
	ck_assert_int_eq(store_apply(s, ops, 30, &err), 0);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(ops[i].job.id, i + 1);
	for (int id = 3; id <= 30; id += 3)
		ck_assert_int_eq(start(s, id, 1, "w"), 1);
	return s;
}

START_TEST(test_list)
{
	store *s = fill30();
	char *err = NULL;
	struct idlist *l = calloc(1, sizeof *l);

	/* All, default limit, newest first. */
	struct store_filter all = { .state = -1 };
	ck_assert_int_eq(store_job_list(s, &all, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 30);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(l->id[i], 30 - i);

	/* Keyset pagination: pages of 8 cover every job exactly once. */
	int64_t before = 0, expect = 30;
	int pages = 0;
	for (;;) {
		struct store_filter f = { .state = -1, .before_id = before,
		                          .limit = 8 };
		memset(l, 0, sizeof *l);
		ck_assert_int_eq(store_job_list(s, &f, collect_job, l, &err), 0);
		if (l->n == 0)
			break;
		ck_assert_int_le(l->n, 8);
		for (int i = 0; i < l->n; i++)
			ck_assert_int_eq(l->id[i], expect--);
		before = l->id[l->n - 1];
		pages++;
	}
	ck_assert_int_eq(expect, 0);
	ck_assert_int_eq(pages, 4);

	/* Each filter and their combination. */
	memset(l, 0, sizeof *l);
	struct store_filter fb = { .state = -1, .plugin = "b" };
	ck_assert_int_eq(store_job_list(s, &fb, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 15);
	for (int i = 0; i < l->n; i++)
		ck_assert_int_eq(l->id[i] % 2, 0);

	memset(l, 0, sizeof *l);
	struct store_filter fr = { .state = JOB_RUNNING };
	ck_assert_int_eq(store_job_list(s, &fr, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 10);
	for (int i = 0; i < l->n; i++) {
		ck_assert_int_eq(l->id[i], 30 - 3 * i);
		ck_assert_int_eq(l->state[i], JOB_RUNNING);
	}

	memset(l, 0, sizeof *l);
	struct store_filter fx = { .state = JOB_RUNNING, .plugin = "a",
	                           .before_id = 21, .limit = 2 };
	ck_assert_int_eq(store_job_list(s, &fx, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 2);
	ck_assert_int_eq(l->id[0], 15);
	ck_assert_int_eq(l->id[1], 9);

	memset(l, 0, sizeof *l);
	struct store_filter none = { .state = JOB_FAILED };
	ck_assert_int_eq(store_job_list(s, &none, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 0);

	/* NULL filter = all; a callback can stop the walk. */
	memset(l, 0, sizeof *l);
	l->stop_after = 5;
	ck_assert_int_eq(store_job_list(s, NULL, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 5);
	free(l);
	store_close(s);
}
END_TEST

/* A job's list row: when a retry's last attempt ended. */
static int
requeued_of(const struct store_job *j, void *ud)
{
	*(int64_t *)ud = j->requeued_ms;
	return 1;
}

/* The count of what matches, by worker, id and time; capped; cut short
 * by its time budget with what it counted so far. */
START_TEST(test_count)
{
	store *s = fill30();
	char *err = NULL;
	int64_t n = -1;
	int partial = -1;
	struct store_filter all = { .state = -1 };
	ck_assert_int_eq(store_job_count(s, &all, 1000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 30);
	ck_assert_int_eq(partial, 0);
	ck_assert_int_eq(store_job_count(s, &all, 7, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 7);
	struct store_filter fw = { .state = -1, .worker = "w", .plugin = "b" };
	ck_assert_int_eq(store_job_count(s, &fw, 1000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 5);         /* 6, 12, 18, 24, 30 */
	struct store_filter fid = { .state = -1, .id = 12, .worker = "w" };
	ck_assert_int_eq(store_job_count(s, &fid, 1000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 1);
	fid.id = 13;
	ck_assert_int_eq(store_job_count(s, &fid, 1000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 0);
	struct idlist *l = calloc(1, sizeof *l);
	struct store_job j = get(s, 30);
	struct store_filter ft = { .state = -1, .since_ms = j.created_ms,
	                           .until_ms = j.created_ms + 1 };
	ck_assert_int_eq(store_job_list(s, &ft, collect_job, l, &err), 0);
	ck_assert_int_ge(l->n, 1);
	ft.since_ms = j.created_ms + 1;
	ft.until_ms = 0;
	ck_assert_int_eq(store_job_count(s, &ft, 1000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(n, 0);
	store_job_clear(&j);
	/* A retry waiting: the list says when its attempt ended. */
	ck_assert_int_eq(requeue(s, 3, 1, "lost", ""), 1);
	int64_t rq = 0;
	struct store_filter f3 = { .state = -1, .id = 3 };
	ck_assert_int_eq(store_job_list(s, &f3, requeued_of, &rq, &err), 0);
	ck_assert_int_gt(rq, 0);
	free(l);
	store_close(s);

	/* Out of time at once: partial, with fewer than all counted. */
	s = open_store(0);
	struct store_op *ops = calloc(1200, sizeof *ops);
	for (int i = 0; i < 1200; i++) {
		ops[i].kind = STORE_SUBMIT;
		ops[i].job.plugin = "p";
	}
	ck_assert_int_eq(store_apply(s, ops, 1200, &err), 0);
	free(ops);
	ck_assert_int_eq(store_job_count(s, &all, 100000, -1, &n, &partial, &err), 0);
	ck_assert_int_eq(partial, 1);
	ck_assert_int_lt(n, 1230);
	ck_assert_int_eq(store_job_count(s, &all, 100000, 1000, &n, &partial, &err), 0);
	ck_assert_int_eq(partial, 0);
	ck_assert_int_eq(n, 1230);      /* the same file: the 30 and these */
	store_close(s);
}
END_TEST

START_TEST(test_list_limit)
{
	store *s = open_store(0);
	struct store_op *ops = calloc(1200, sizeof *ops);
	for (int i = 0; i < 1200; i++) {
		ops[i].kind = STORE_SUBMIT;
		ops[i].job.plugin = "p";
	}
	char *err = NULL;
	ck_assert_int_eq(store_apply(s, ops, 1200, &err), 0);
	free(ops);

	struct idlist *l = calloc(1, sizeof *l);
	struct store_filter f = { .state = -1 };
	ck_assert_int_eq(store_job_list(s, &f, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 100);
	memset(l, 0, sizeof *l);
	f.limit = 5000;
	ck_assert_int_eq(store_job_list(s, &f, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 1000);
	free(l);
	store_close(s);
}
END_TEST

START_TEST(test_unfinished_counts)
{
	store *s = fill30();
	/* Finish some running ones and cancel some queued ones. */
	ck_assert_int_eq(finish(s, 3, 1, JOB_SUCCEEDED, ""), 1);
	ck_assert_int_eq(finish(s, 6, 1, JOB_FAILED, ""), 1);
	ck_assert_int_eq(cancel(s, 1), 1);
	ck_assert_int_eq(cancel(s, 9), 1);

	char *err = NULL;
	struct idlist *l = calloc(1, sizeof *l);
	ck_assert_int_eq(store_job_unfinished(s, collect_job, l, &err), 0);
	ck_assert_int_eq(l->n, 26);
	/* The queued, then the running, each by id: jobs_state's order. */
	for (int i = 0; i < l->n; i++) {
		if (i > 0 && l->state[i] == l->state[i - 1])
			ck_assert_int_gt(l->id[i], l->id[i - 1]);
		if (i > 0)
			ck_assert_int_ge(l->state[i], l->state[i - 1]);
		ck_assert(l->state[i] == JOB_QUEUED ||
		          l->state[i] == JOB_RUNNING);
		ck_assert(l->id[i] != 1 && l->id[i] != 3 && l->id[i] != 6 &&
		          l->id[i] != 9);
	}
	ck_assert_int_eq(l->id[0], 2);
	ck_assert_int_eq(l->id[l->n - 1], 30);
	free(l);

	int64_t c[JOB_NSTATES];
	ck_assert_int_eq(store_job_counts(s, c, &err), 0);
	ck_assert_int_eq(c[JOB_QUEUED], 19);
	ck_assert_int_eq(c[JOB_RUNNING], 7);
	ck_assert_int_eq(c[JOB_SUCCEEDED], 1);
	ck_assert_int_eq(c[JOB_FAILED], 1);
	ck_assert_int_eq(c[JOB_CANCELLED], 2);
	store_close(s);
}
END_TEST

/* What a master reads at start goes through indexes: EXPLAIN QUERY PLAN
 * of store_job_unfinished's and store_plugins_seen's queries shows no
 * scan of jobs and no sort, so a restart costs what is unfinished, not
 * what the store keeps (issue 18 item 6).  The plugins any job named
 * are kept apart, finished or not, and a store of schema 9 gets them
 * from its jobs when migrated. */
static int
seen_collect(void *ud, const char *name)
{
	char *buf = ud;
	size_t n = strlen(buf);
	snprintf(buf + n, 256 - n, "%s%s", n ? " " : "", name);
	return 0;
}

START_TEST(test_startup_plans)
{
	store *s = fill30();
	char *plans = NULL, *err = NULL;
	ck_assert_int_eq(finish(s, 3, 1, JOB_SUCCEEDED, ""), 1);
	ck_assert_int_eq(store_startup_plans(s, &plans, &err), 0);
	ck_assert_msg(strstr(plans, "SEARCH jobs USING INDEX jobs_state") != NULL,
	              "%s", plans);
	ck_assert_msg(strstr(plans, "SCAN jobs") == NULL, "%s", plans);
	ck_assert_msg(strstr(plans, "TEMP B-TREE") == NULL, "%s", plans);
	ck_assert_msg(strstr(plans, "plugins_seen") != NULL, "%s", plans);
	free(plans);

	/* A plugin whose only job finished is still seen. */
	struct store_op op = { .kind = STORE_SUBMIT };
	op.job.plugin = "c";
	ck_assert(apply1(s, &op));
	ck_assert_int_eq(start(s, op.job.id, 1, "w"), 1);
	ck_assert_int_eq(finish(s, op.job.id, 1, JOB_SUCCEEDED, ""), 1);
	char got[256] = "";
	ck_assert_int_eq(store_plugins_seen(s, seen_collect, got, &err), 0);
	ck_assert_str_eq(got, "a b c");
	store_close(s);

	/* Back to schema 9, without the table: the migration fills it.
	 * (9: the version before plugins_seen; renumber if it moves.  The
	 * later migrations' changes go too, as they are made again.) */
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, UNDO_SCHEMA_15 UNDO_SCHEMA_14 "DROP TABLE plugins_seen;"
		"ALTER TABLE task_instances DROP COLUMN sensor_since_ms;"
		"INSERT INTO jobs (plugin, state, created_ms) VALUES ('d', 2, 1);"
		"DROP INDEX dag_runs_version; DROP TABLE dag_versions;"
		"ALTER TABLE dag_runs DROP COLUMN dag_version;"  /* 12's */
		"PRAGMA user_version = 9;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = open_store(0);
	got[0] = '\0';
	ck_assert_int_eq(store_plugins_seen(s, seen_collect, got, &err), 0);
	ck_assert_str_eq(got, "a b c d");
	/* Reopened, a writer that has not seen "e" yet records it once. */
	op = (struct store_op){ .kind = STORE_SUBMIT };
	op.job.plugin = "e";
	ck_assert(apply1(s, &op));
	ck_assert(apply1(s, &op));
	got[0] = '\0';
	ck_assert_int_eq(store_plugins_seen(s, seen_collect, got, &err), 0);
	ck_assert_str_eq(got, "a b c d e");
	store_close(s);
	ck_assert_int_eq(db_int("PRAGMA user_version"), store_schema_version());
}
END_TEST

static const char *const tok_h1 = "9f86d081884c7d659a2feaa0c55ad015"
                                  "a3bf4f1b2b0b822cd15d6c15b0f00a08";
static const char *const tok_h2 = "60303ae22b998861bce3b28f33eec1be"
                                  "758a213c86c93c076dbe9f558c11c752";
static const char *const tok_h3 = "fd61a03af4f77d870fc21e05e7e80678"
                                  "095c92d808cfb3b5c279ee04c74aca13";

static int64_t
token_add(store *s, const char *hash, const char *name, const char *role,
          const char *by, int64_t created_ms, int64_t expires_ms)
{
	struct store_token_new t = { hash, name, role, by, created_ms,
	                             expires_ms };
	char *err = NULL;
	int64_t id = 0;
	int rc = store_token_add(s, &t, &id, &err);
	ck_assert_msg(rc == 0, "store_token_add: %d %s", rc, err ? err : "");
	ck_assert_int_gt(id, 0);
	return id;
}

static struct store_token
token_get(store *s, int64_t id)
{
	struct store_token t;
	char *err = NULL;
	int rc = store_token_get(s, id, &t, &err);
	ck_assert_msg(rc == 0, "store_token_get: %d %s", rc, err ? err : "");
	return t;
}

struct token_seen {
	int n;
	int64_t ids[8];
};

static int
token_seen_cb(const struct store_token *t, void *ud)
{
	struct token_seen *seen = ud;
	ck_assert_int_lt(seen->n, 8);
	seen->ids[seen->n++] = t->id;
	return 0;
}

START_TEST(test_tokens)
{
	store *s = open_store(1);
	char *err = NULL;
	struct store_token t;

	ck_assert_int_eq(store_token_check(s, tok_h1, 5000, &t, &err), -ENOENT);
	ck_assert_ptr_null(t.name);
	int64_t a = token_add(s, tok_h1, "alice", "admin", "user:alice", 1000,
	                      1000 + 90 * 86400000LL);
	int64_t b = token_add(s, tok_h2, "ci", "viewer", "token:1", 2000, 0);
	ck_assert_int_gt(b, a);
	struct store_token_new dup = { tok_h1, "mallory", "admin", NULL, 0, 0 };
	ck_assert_int_eq(store_token_add(s, &dup, NULL, &err), -EEXIST);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;
	struct store_token_new nohash = { NULL, "x", "admin", NULL, 0, 0 };
	ck_assert_int_eq(store_token_add(s, &nohash, NULL, &err), -EINVAL);
	free(err);
	err = NULL;

	ck_assert_int_eq(store_token_check(s, tok_h1, 5000, &t, &err), 0);
	ck_assert_int_eq(t.id, a);
	ck_assert_str_eq(t.name, "alice");
	ck_assert_str_eq(t.role, "admin");
	ck_assert_str_eq(t.created_by, "user:alice");
	ck_assert_int_eq(t.created_ms, 1000);
	ck_assert_int_eq(t.expires_ms, 1000 + 90 * 86400000LL);
	ck_assert_int_eq(t.revoked_ms, 0);
	store_token_clear(&t);
	ck_assert_ptr_null(t.name);
	ck_assert_int_eq(store_token_check(s, tok_h2, 5000, &t, &err), 0);
	ck_assert_str_eq(t.role, "viewer");
	ck_assert_int_eq(t.expires_ms, 0);        /* never */
	store_token_clear(&t);
	ck_assert_int_eq(store_token_check(s, "00", 5000, &t, &err), -ENOENT);
	ck_assert_int_eq(store_token_get(s, b + 1, &t, &err), -ENOENT);

	/* Newest first, paged by id. */
	int64_t c = token_add(s, tok_h3, "cron", "viewer", NULL, 0, 0);
	struct token_seen seen = { 0 };
	ck_assert_int_eq(store_token_list(s, 0, 0, token_seen_cb, &seen, &err), 0);
	ck_assert_int_eq(seen.n, 3);
	ck_assert_int_eq(seen.ids[0], c);
	ck_assert_int_eq(seen.ids[2], a);
	memset(&seen, 0, sizeof seen);
	ck_assert_int_eq(store_token_list(s, c, 1, token_seen_cb, &seen, &err), 0);
	ck_assert_int_eq(seen.n, 1);
	ck_assert_int_eq(seen.ids[0], b);
	t = token_get(s, c);
	ck_assert_ptr_null(t.created_by);
	ck_assert_int_ge(t.created_ms, 1);        /* 0 meant now */
	store_token_clear(&t);
	store_close(s);

	/* Tokens are durable too. */
	s = open_store(1);
	ck_assert_int_eq(store_token_check(s, tok_h2, 5000, &t, &err), 0);
	ck_assert_str_eq(t.name, "ci");
	ck_assert_str_eq(t.created_by, "token:1");
	store_token_clear(&t);
	store_close(s);
}
END_TEST

START_TEST(test_token_expiry_and_revocation)
{
	store *s = open_store(1);
	char *err = NULL;
	struct store_token t;
	int64_t a = token_add(s, tok_h1, "short", "admin", NULL, 1000, 50000);
	int64_t b = token_add(s, tok_h2, "never", "admin", NULL, 1000, 0);

	ck_assert_int_eq(store_token_check(s, tok_h1, 49999, &t, &err), 0);
	store_token_clear(&t);
	/* Expired at its expiry time, and told apart from unknown. */
	ck_assert_int_eq(store_token_check(s, tok_h1, 50000, &t, &err),
	                 -EKEYEXPIRED);
	ck_assert_int_eq(t.id, a);
	ck_assert_str_eq(t.name, "short");
	store_token_clear(&t);
	ck_assert_int_eq(store_token_check(s, tok_h2, INT64_MAX / 2, &t, &err), 0);
	store_token_clear(&t);

	/* Revoked at once, once. */
	struct store_op rv = { .kind = STORE_TOKEN_REVOKE, .id = b, .t_ms = 7000 };
	ck_assert_int_eq(apply1(s, &rv), 1);
	ck_assert_int_eq(store_token_check(s, tok_h2, 8000, &t, &err),
	                 -EKEYREVOKED);
	ck_assert_int_eq(t.revoked_ms, 7000);
	store_token_clear(&t);
	rv.t_ms = 9000;
	ck_assert_int_eq(apply1(s, &rv), 0);
	t = token_get(s, b);
	ck_assert_int_eq(t.revoked_ms, 7000);
	store_token_clear(&t);
	rv.id = b + 100;
	ck_assert_int_eq(apply1(s, &rv), 0);
	/* Revocation wins over expiry; neither records a use. */
	rv.id = a;
	ck_assert_int_eq(apply1(s, &rv), 1);
	ck_assert_int_eq(store_token_check(s, tok_h1, 60000, &t, &err),
	                 -EKEYREVOKED);
	store_token_clear(&t);
	ck_assert_int_eq(store_sync(s, &err), 0);
	t = token_get(s, a);
	ck_assert_int_eq(t.last_used_ms, 0);
	store_token_clear(&t);
	store_close(s);
}
END_TEST

/* A token's last use is written at most once a minute, however often it
 * is checked, and never with the request waiting for it. */
/* Checks remember tokens that may be used (a client's token is checked
 * at every request): more tokens than the cache holds all check, and a
 * revocation refuses a remembered token from the next check on. */
START_TEST(test_token_cache)
{
	store *s = open_store(1);
	char *err = NULL;
	struct store_token t;
	int64_t ids[100];
	char hash[100][65];
	for (int i = 0; i < 100; i++) {
		snprintf(hash[i], sizeof hash[i], "%064x", i + 1);
		ids[i] = token_add(s, hash[i], "t", i % 2 ? "viewer" : "admin",
		                   NULL, 1000, 0);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 100; i++) {
			ck_assert_int_eq(store_token_check(s, hash[i], 5000, &t,
			                                   &err), 0);
			ck_assert_int_eq(t.id, ids[i]);
			ck_assert_str_eq(t.role, i % 2 ? "viewer" : "admin");
			store_token_clear(&t);
		}
	/* Revoked while remembered. */
	ck_assert_int_eq(store_token_check(s, hash[99], 5000, &t, &err), 0);
	store_token_clear(&t);
	struct store_op rv = { .kind = STORE_TOKEN_REVOKE, .id = ids[99],
	                       .t_ms = 6000 };
	ck_assert_int_eq(apply1(s, &rv), 1);
	ck_assert_int_eq(store_token_check(s, hash[99], 7000, &t, &err),
	                 -EKEYREVOKED);
	store_token_clear(&t);
	ck_assert_int_eq(store_token_check(s, hash[98], 7000, &t, &err), 0);
	store_token_clear(&t);
	/* Unknown hashes are told apart, every time; an empty one is not
	 * taken for a free entry of the cache (the revocation emptied it). */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(store_token_check(s, "00", 7000, &t, &err),
		                 -ENOENT);
		ck_assert_int_eq(store_token_check(s, "", 7000, &t, &err),
		                 -ENOENT);
	}
	store_close(s);
}
END_TEST

START_TEST(test_token_last_used)
{
	store *s = open_store(1);
	char *err = NULL;
	struct store_token t;
	const int64_t t0 = 1700000000000LL;
	int64_t a = token_add(s, tok_h1, "ci", "admin", NULL, t0 - 5000, 0);

	ck_assert_int_eq(store_token_check(s, tok_h1, t0, &t, &err), 0);
	ck_assert_int_eq(t.last_used_ms, 0);      /* as it was */
	store_token_clear(&t);
	ck_assert_int_eq(store_sync(s, &err), 0);
	t = token_get(s, a);
	ck_assert_int_eq(t.last_used_ms, t0);
	store_token_clear(&t);

	/* Within the minute: no write at all (a deferred op would commit on
	 * its own within milliseconds). */
	uint64_t c0 = store_commits(s);
	for (int i = 1; i <= 50; i++) {
		int64_t now = t0 + i * (STORE_TOKEN_USED_EVERY_MS - 1) / 50;
		ck_assert_int_eq(store_token_check(s, tok_h1, now, &t, &err), 0);
		store_token_clear(&t);
	}
	usleep(100 * 1000);
	ck_assert_uint_eq(store_commits(s), c0);
	t = token_get(s, a);
	ck_assert_int_eq(t.last_used_ms, t0);
	store_token_clear(&t);

	/* A minute on, the next use is recorded. */
	int64_t t1 = t0 + STORE_TOKEN_USED_EVERY_MS;
	ck_assert_int_eq(store_token_check(s, tok_h1, t1, &t, &err), 0);
	store_token_clear(&t);
	ck_assert_int_eq(store_sync(s, &err), 0);
	t = token_get(s, a);
	ck_assert_int_eq(t.last_used_ms, t1);
	store_token_clear(&t);

	/* Ops queued by a burst of checks before the first committed change
	 * nothing after it: the guard is in the UPDATE too. */
	struct store_op used = { .kind = STORE_TOKEN_USED, .id = a,
	                         .t_ms = t1 + 1000 };
	ck_assert_int_eq(apply1(s, &used), 0);
	used.t_ms = t1 - 1000;                    /* never backwards */
	ck_assert_int_eq(apply1(s, &used), 0);
	t = token_get(s, a);
	ck_assert_int_eq(t.last_used_ms, t1);
	store_token_clear(&t);
	store_close(s);
}
END_TEST

/* A database of schema 3 keeps its tokens: they get ids in the order
 * they were made, and no expiry until the master settles it. */
START_TEST(test_token_migration)
{
	char *err = NULL;
	struct store_token t;
	sqlite3 *db;

	store_close(open_store(1));
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db,
		"DROP TABLE tokens;"
		"DROP TABLE idempotency;"
		"CREATE TABLE tokens (hash TEXT PRIMARY KEY, name TEXT NOT NULL,"
		" role TEXT NOT NULL, created_ms INTEGER NOT NULL);"
		"INSERT INTO tokens VALUES ('60303ae22b998861bce3b28f33eec1be"
		"758a213c86c93c076dbe9f558c11c752', 'late', 'viewer', 2000);"
		"INSERT INTO tokens VALUES ('9f86d081884c7d659a2feaa0c55ad015"
		"a3bf4f1b2b0b822cd15d6c15b0f00a08', 'early', 'admin', 1000);"
		UNDO_SCHEMA_15 UNDO_SCHEMA_14
		"DROP INDEX dag_runs_version; DROP TABLE dag_versions;"
		"ALTER TABLE dag_runs DROP COLUMN dag_version;"  /* 12's */
		"PRAGMA user_version = 3;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	store *s = open_store(1);
	ck_assert_int_eq(db_int("PRAGMA user_version"), store_schema_version());
	ck_assert_int_eq(store_token_check(s, tok_h1, 3000, &t, &err), 0);
	ck_assert_int_eq(t.id, 1);
	ck_assert_str_eq(t.name, "early");
	ck_assert_str_eq(t.role, "admin");
	ck_assert_int_eq(t.created_ms, 1000);
	ck_assert_ptr_null(t.created_by);
	ck_assert_int_eq(t.expires_ms, STORE_TOKEN_UNSETTLED);
	ck_assert_int_eq(t.revoked_ms, 0);
	store_token_clear(&t);
	/* Unsettled, it does not expire. */
	ck_assert_int_eq(store_token_check(s, tok_h2, INT64_MAX / 2, &t, &err), 0);
	ck_assert_int_eq(t.id, 2);
	store_token_clear(&t);

	/* New tokens are not touched by the settling. */
	int64_t c = token_add(s, tok_h3, "new", "admin", "signer:cli", 0, 0);
	int n = -1;
	ck_assert_int_eq(store_token_settle(s, 90000, &n, &err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(store_token_settle(s, 99000, &n, &err), 0);
	ck_assert_int_eq(n, 0);
	t = token_get(s, 2);
	ck_assert_int_eq(t.expires_ms, 90000);
	store_token_clear(&t);
	t = token_get(s, c);
	ck_assert_int_eq(t.expires_ms, 0);
	store_token_clear(&t);
	ck_assert_int_eq(store_token_check(s, tok_h1, 90000, &t, &err),
	                 -EKEYEXPIRED);
	store_token_clear(&t);
	store_close(s);
}
END_TEST

START_TEST(test_state_names)
{
	for (int i = 0; i < JOB_NSTATES; i++)
		ck_assert_int_eq(job_state_parse(job_state_name(i)), i);
	ck_assert_str_eq(job_state_name(JOB_QUEUED), "queued");
	ck_assert_str_eq(job_state_name(JOB_CANCELLED), "cancelled");
	ck_assert_int_eq(job_state_parse("bogus"), -1);
	ck_assert_int_eq(job_state_parse(NULL), -1);
	ck_assert_str_eq(job_state_name(-1), "unknown");
	ck_assert_str_eq(job_state_name(JOB_NSTATES), "unknown");
}
END_TEST

START_TEST(test_reopen)
{
	store *s = open_store(1);
	int64_t a = submit(s, "a", 5);
	int64_t b = submit(s, "b", 0);
	ck_assert_int_eq(start(s, a, 1, "w1"), 1);
	ck_assert_int_eq(finish(s, a, 1, JOB_SUCCEEDED, "log-a"), 1);
	ck_assert_int_eq(start(s, b, 1, "w2"), 1);
	store_close(s);

	s = open_store(1);
	struct store_job j = get(s, a);
	ck_assert_int_eq(j.state, JOB_SUCCEEDED);
	ck_assert_int_eq(j.priority, 5);
	ck_assert_str_eq(j.result, "{\"ok\":true}");
	store_job_clear(&j);
	j = get(s, b);
	ck_assert_int_eq(j.state, JOB_RUNNING);
	ck_assert_str_eq(j.worker, "w2");
	store_job_clear(&j);
	assert_log(s, a, 0, "log-a");
	/* Ids continue after the old ones. */
	ck_assert_int_gt(submit(s, "c", 0), b);
	/* And the transitions go on where they stopped. */
	ck_assert_int_eq(finish(s, b, 1, JOB_FAILED, "log-b"), 1);
	store_close(s);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Concurrency and durability                                        */
/* ---------------------------------------------------------------- */

#define NTHREADS 8
#define NCALLS 200
#define PER_CALL 3

struct worker_arg {
	store *s;
	int64_t ids[NCALLS * PER_CALL];
	int n;
	int failures;
};

static void *
worker_main(void *p)
{
	struct worker_arg *w = p;
	for (int c = 0; c < NCALLS; c++) {
		struct store_op ops[PER_CALL];
		memset(ops, 0, sizeof ops);
		for (int i = 0; i < PER_CALL; i++) {
			ops[i].kind = STORE_SUBMIT;
			ops[i].job.plugin = "conc";
		}
		char *err = NULL;
		if (store_apply(w->s, ops, PER_CALL, &err) != 0) {
			w->failures++;
			free(err);
			continue;
		}
		for (int i = 0; i < PER_CALL; i++) {
			if (!ops[i].applied)
				w->failures++;
			w->ids[w->n++] = ops[i].job.id;
		}
	}
	return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

START_TEST(test_concurrent_group_commit)
{
	store *s = open_store(1);
	struct worker_arg *w = calloc(NTHREADS, sizeof *w);
	pthread_t th[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		w[t].s = s;
		ck_assert_int_eq(pthread_create(&th[t], NULL, worker_main, &w[t]),
		                 0);
	}
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);

	int total = NTHREADS * NCALLS * PER_CALL;
	int64_t *all = malloc(total * sizeof *all);
	int n = 0;
	for (int t = 0; t < NTHREADS; t++) {
		ck_assert_int_eq(w[t].failures, 0);
		ck_assert_int_eq(w[t].n, NCALLS * PER_CALL);
		memcpy(all + n, w[t].ids, w[t].n * sizeof *all);
		n += w[t].n;
	}
	qsort(all, n, sizeof *all, cmp_i64);
	for (int i = 1; i < n; i++)
		ck_assert_msg(all[i] != all[i - 1], "id %" PRId64 " twice",
		              all[i]);
	ck_assert_int_gt(all[0], 0);

	int64_t c[JOB_NSTATES];
	char *err = NULL;
	ck_assert_int_eq(store_job_counts(s, c, &err), 0);
	ck_assert_int_eq(c[JOB_QUEUED], total);

	uint64_t commits = store_commits(s);
	fprintf(stderr, "store-test: %d store_apply calls, %" PRIu64
	        " commits\n", NTHREADS * NCALLS, commits);
	ck_assert_uint_gt(commits, 0);
	ck_assert_uint_lt(commits, NTHREADS * NCALLS);
	free(all);
	free(w);
	store_close(s);
}
END_TEST

/* Two threads commit 8,000 jobs of 2 KiB each, one job per commit: the
 * WAL passes the checkpoint size (4 MB) many times, and each checkpoint
 * is copied while commits go on.  The WAL must still be written from its
 * start again after each: its file grows only by what is committed
 * during a checkpoint (12-21 MB here), where a WAL copied only beside
 * commits is never started again (174 MB, all that was written); and
 * every job must be there. */
#define WAL_JOBS 4000

static void *
wal_main(void *p)
{
	store *s = p;
	char params[2048 + 1];
	memset(params, 'x', 2048);
	params[2048] = '\0';
	char *text = xasprintf("{\"p\":\"%s\"}", params);
	for (int i = 0; i < WAL_JOBS; i++) {
		struct store_op op = { .kind = STORE_SUBMIT };
		op.job.plugin = "wal";
		op.job.params = text;
		char *err = NULL;
		ck_assert_msg(store_apply(s, &op, 1, &err) == 0, "%s", err);
		ck_assert_int_eq(op.applied, 1);
	}
	free(text);
	return NULL;
}

START_TEST(test_wal_reused)
{
	store *s = open_store(0);
	pthread_t th[2];
	for (int t = 0; t < 2; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, wal_main, s), 0);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	int64_t c[JOB_NSTATES];
	char *err = NULL;
	ck_assert_int_eq(store_job_counts(s, c, &err), 0);
	ck_assert_int_eq(c[JOB_QUEUED], 2 * WAL_JOBS);
	char wal[160];
	snprintf(wal, sizeof wal, "%s-wal", dbpath);
	struct stat st;
	ck_assert_int_eq(stat(wal, &st), 0);
	fprintf(stderr, "store-test: WAL %lld bytes after %d commits of 2 KiB "
	        "jobs\n", (long long)st.st_size, 2 * WAL_JOBS);
	ck_assert_int_lt(st.st_size, 64 * 1024 * 1024);
	store_close(s);
}
END_TEST

#define CRASH_JOBS 500

START_TEST(test_crash_durability)
{
	int sync_full = _i;
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		store *s = NULL;
		char *err = NULL;
		if (store_open(dbpath, sync_full, &s, &err) != 0)
			_exit(2);
		struct store_op *ops = calloc(CRASH_JOBS, sizeof *ops);
		for (int i = 0; i < CRASH_JOBS; i++) {
			ops[i].kind = STORE_SUBMIT;
			ops[i].job.plugin = "crash";
			ops[i].job.priority = i;
		}
		if (store_apply(s, ops, CRASH_JOBS, &err) != 0)
			_exit(3);
		struct store_op st = { .kind = STORE_START, .id = ops[0].job.id,
		                       .attempt = 1, .worker = "w" };
		if (store_apply(s, &st, 1, &err) != 0 || !st.applied)
			_exit(4);
		/* No close, no exit handlers: only what is on disk counts. */
		kill(getpid(), SIGKILL);
		_exit(5);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	              "child did not die by SIGKILL (status %d)", status);

	store *s = open_store(sync_full);
	int64_t c[JOB_NSTATES];
	char *err = NULL;
	ck_assert_int_eq(store_job_counts(s, c, &err), 0);
	ck_assert_int_eq(c[JOB_QUEUED], CRASH_JOBS - 1);
	ck_assert_int_eq(c[JOB_RUNNING], 1);
	for (int64_t id = 1; id <= CRASH_JOBS; id++) {
		struct store_job j = get(s, id);
		ck_assert_str_eq(j.plugin, "crash");
		ck_assert_int_eq(j.priority, id - 1);
		store_job_clear(&j);
	}
	store_close(s);
}
END_TEST

/* An idempotency key records the ids of the submits just before it, in
 * their transaction; it is refused without them, kept per principal, and
 * forgotten after STORE_IDEM_TTL_MS. */
START_TEST(test_idempotency_key)
{
	store *s = open_store(0);
	struct store_op ops[4];
	struct store_idem got;
	char *err = NULL;
	const int64_t t0 = 1000000;

	memset(ops, 0, sizeof ops);
	ops[0].kind = STORE_SUBMIT;
	ops[0].job.plugin = "a";
	ck_assert_int_eq(apply1(s, &ops[0]), 1);       /* id 1: not in it */
	for (int i = 0; i < 3; i++) {
		ops[i].kind = STORE_SUBMIT;
		ops[i].job.plugin = "a";
	}
	ops[3] = (struct store_op){ .kind = STORE_IDEM, .id = 3, .t_ms = t0,
	                            .worker = "token:1", .task = "k1",
	                            .result = "h1" };
	ck_assert_int_eq(store_apply(s, ops, 4, &err), 0);
	ck_assert_int_eq(ops[3].applied, 1);
	ck_assert_int_eq(store_idem_get(s, "token:1", "k1", t0 + 1, &got, &err), 0);
	ck_assert_str_eq(got.hash, "h1");
	ck_assert_int_eq(got.first_id, ops[0].job.id);
	ck_assert_int_eq(got.first_id, 2);
	ck_assert_int_eq(got.count, 3);
	ck_assert_int_eq(got.created_ms, t0);
	free(got.hash);
	ck_assert_int_eq(store_idem_get(s, "token:2", "k1", t0, &got, &err),
	                 -ENOENT);
	ck_assert_int_eq(store_idem_get(s, "token:1", "k1",
	                 t0 + STORE_IDEM_TTL_MS + 1, &got, &err), -ENOENT);

	/* Without its submits, or with more than the batch has: refused. */
	struct store_op bad = { .kind = STORE_IDEM, .id = 1, .worker = "w",
	                        .task = "k", .result = "h" };
	ck_assert_int_eq(store_apply(s, &bad, 1, &err), -EINVAL);
	free(err);
	err = NULL;
	ops[1] = bad;
	ops[1].id = 2;
	ck_assert_int_eq(store_apply(s, ops, 2, &err), -EINVAL);
	free(err);
	err = NULL;

	/* Expired: purged by the next key, then the key is free again. */
	memset(ops, 0, sizeof ops);
	ops[0].kind = STORE_SUBMIT;
	ops[0].job.plugin = "a";
	ops[1] = (struct store_op){ .kind = STORE_IDEM, .id = 1,
	                            .t_ms = t0 + STORE_IDEM_TTL_MS + 1,
	                            .worker = "token:1", .task = "k1",
	                            .result = "h2" };
	ck_assert_int_eq(store_apply(s, ops, 2, &err), 0);
	ck_assert_int_eq(ops[1].applied, 1);
	ck_assert_int_eq(store_idem_get(s, "token:1", "k1",
	                 t0 + STORE_IDEM_TTL_MS + 2, &got, &err), 0);
	ck_assert_str_eq(got.hash, "h2");
	ck_assert_int_eq(got.first_id, ops[0].job.id);
	free(got.hash);
	store_close(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *su = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_schema);
	tcase_add_test(tc, test_folded_end);
	tcase_add_test(tc, test_mapped_instances);
	tcase_add_test(tc, test_run_changed);
	tcase_add_test(tc, test_notif_pending);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_submit_get);
	tcase_add_test(tc, test_idempotency_key);
	tcase_add_test(tc, test_bad_ops_rejected);
	tcase_add_test(tc, test_failed_transaction_rolls_back);
	tcase_add_test(tc, test_start_finish_guards);
	tcase_add_test(tc, test_apply_later);
	tcase_add_test(tc, test_finish_in_one_batch);
	tcase_add_test(tc, test_requeue_restart);
	tcase_add_loop_test(tc, test_cancel, 0,
	                    sizeof cancel_cases / sizeof cancel_cases[0]);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_list_limit);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_unfinished_counts);
	tcase_add_test(tc, test_startup_plans);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_token_expiry_and_revocation);
	tcase_add_test(tc, test_token_last_used);
	tcase_add_test(tc, test_token_cache);
	tcase_add_test(tc, test_token_migration);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_dag_versions);
	tcase_add_test(tc, test_concurrent_group_commit);
	tcase_add_test(tc, test_wal_reused);
	tcase_add_loop_test(tc, test_crash_durability, 0, 2);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	log_init("store-test", LOG_LEVEL_WARN);
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
