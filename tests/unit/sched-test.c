/* SPDX-License-Identifier: MIT */
/*
 * sched-test.c - placement, results, retries, reaping, registration and
 * recovery of the scheduler, on a real SQLite store in a temp directory.
 */
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "kiln/plugin.h"
#include "sched.h"
#include "stage.h"
#include "store.h"
#include "xalloc.h"

static char dir[64];
static char *dbpath;
static store *st;
static sched *sc;

static void
setup(void)
{
	tu_tmpdir(dir, sizeof dir, "sched");
	dbpath = xasprintf("%s/kiln.db", dir);
	char *err = NULL;
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), 0);
	struct sched_opts o = { .worker_timeout_ms = 200, .max_lost = 2 };
	ck_assert_int_eq(sched_new(st, &o, &sc, &err), 0);
	auth_init();
}

static void
teardown(void)
{
	sched_free(sc);
	store_close(st);
	tu_rmtree(dir);
	free(dbpath);
}

static int64_t
submit(const char *plugin, int priority, int slots, int64_t memory, int attempts)
{
	struct store_job j = { .plugin = (char *)plugin, .params = (char *)"{}",
		.priority = priority, .slots = slots, .memory = memory,
		.max_attempts = attempts };
	char *err = NULL;
	ck_assert_int_eq(sched_submit(sc, &j, 1, &err), 0);
	ck_assert_int_gt(j.id, 0);
	return j.id;
}

/* Worker NAME registers holding HELD[NHELD]; the attempts it must cancel
 * in *cancel (the caller frees them), *nc of them. */
static uint64_t
register_held(const char *name, int slots, int64_t memory,
              const char *plugins_json, const struct sched_held *held,
              size_t nheld, struct sched_held **cancel, size_t *nc)
{
	json_t *pl = json_loads(plugins_json, 0, NULL);
	struct sched_worker_info wi = { .name = name, .host = "h", .slots = slots,
		.memory = memory, .plugins = pl };
	uint64_t session;
	char *err = NULL;
	ck_assert_int_eq(sched_register(sc, &wi, held, nheld, &session, cancel,
	                                nc, &err), 0);
	json_decref(pl);
	return session;
}

static uint64_t
rejoin(const char *name, int slots, const char *plugins_json,
       const struct sched_held *held, size_t nheld, struct sched_held **cancel,
       size_t *nc)
{
	return register_held(name, slots, 1 << 30, plugins_json, held, nheld,
	                     cancel, nc);
}

static uint64_t
join(const char *name, int slots, int64_t memory, const char *plugins_json)
{
	struct sched_held *cancel;
	size_t nc;
	uint64_t session = register_held(name, slots, memory, plugins_json,
	                                 NULL, 0, &cancel, &nc);
	free(cancel);
	return session;
}

/* "Restart" the master: a new scheduler recovered from the same store. */
static void
restart(void)
{
	char *err = NULL;
	sched_free(sc);
	struct sched_opts o = { .worker_timeout_ms = 200 };
	ck_assert_int_eq(sched_new(st, &o, &sc, &err), 0);
	ck_assert_int_eq(sched_recover(sc, &err), 0);
}

/* The stored state of job ID, once deferred writes (a task's start) are
 * committed. */
static int
state_of(int64_t id)
{
	struct store_job j = { 0 };
	char *err = NULL;
	ck_assert_int_eq(store_sync(st, &err), 0);
	ck_assert_int_eq(store_job_get(st, id, &j, &err), 0);
	int s = j.state;
	store_job_clear(&j);
	return s;
}

#define NOOP "[{\"name\":\"noop\",\"version\":\"1\"}]"
#define BOTH "[{\"name\":\"noop\",\"version\":\"1\"},{\"name\":\"sleep\",\"version\":\"1\"}]"

/* A worker's page: what it runs, and its last exchanges, at most 32,
 * oldest first; an unknown worker is NULL. */
START_TEST(worker_page_keeps_a_bounded_heartbeat_history)
{
	char *err = NULL;
	sched_free(sc);
	struct sched_opts o = { .worker_timeout_ms = 5000, .heartbeat_ms = 2 };
	ck_assert_int_eq(sched_new(st, &o, &sc, &err), 0);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	int64_t id = submit("noop", 0, 1, 0, 1);
	struct sched_exchange x;
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0,
		                                i == 0, &x, &err), 0);
		sched_exchange_clear(&x);
		usleep(2000);   /* past half a heartbeat: each one is kept */
	}
	json_t *w = sched_worker_json(sc, "w1");
	ck_assert_ptr_nonnull(w);
	json_t *beats = json_object_get(w, "heartbeats");
	ck_assert_int_eq(json_array_size(beats), 32);
	for (size_t i = 1; i < 32; i++)
		ck_assert_int_lt(json_integer_value(json_array_get(beats, i - 1)),
		                 json_integer_value(json_array_get(beats, i)));
	json_t *run = json_object_get(w, "running");
	ck_assert_int_eq(json_array_size(run), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(run, 0),
	                 "id")), id);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "slots")), 2);
	json_decref(w);
	ck_assert_ptr_null(sched_worker_json(sc, "nobody"));
}
END_TEST

/* Workers that describe the same plugins share one description, which
 * no later registration changes: a worker that registers again with
 * other plugins offers those, the others keep theirs. */
START_TEST(plugins_shared_and_kept)
{
	const char *ab = "[{\"name\":\"a\",\"version\":\"1\"},"
	                 "{\"name\":\"b\",\"version\":\"1\"}]";
	join("w1", 1, 1 << 30, ab);
	uint64_t s2 = join("w2", 1, 1 << 30, ab);
	join("w3", 1, 1 << 30, "[{\"name\":\"c\",\"version\":\"2\"}]");
	json_t *p = sched_plugins_json(sc);
	char *t = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_ptr_nonnull(strstr(t, "\"name\":\"a\",\"version\":\"1\","
	                             "\"workers\":[\"w1\",\"w2\"]") ?:
	                      strstr(t, "\"workers\":[\"w2\",\"w1\"]"));
	free(t);
	json_decref(p);
	/* w1 comes back with b only: w2 still offers a and b. */
	uint64_t s1 = join("w1", 1, 1 << 30,
	                   "[{\"name\":\"b\",\"version\":\"1\"}]");
	ck_assert(sched_has_plugin(sc, "a"));
	json_t *w2 = sched_worker_json(sc, "w2"), *w1 = sched_worker_json(sc, "w1");
	ck_assert_int_eq(json_array_size(json_object_get(w2, "plugins")), 2);
	ck_assert_int_eq(json_array_size(json_object_get(w1, "plugins")), 1);
	json_decref(w1);
	json_decref(w2);
	/* A job of plugin a goes to w2, the one that still has it. */
	int64_t id = submit("a", 0, 1, 0, 1);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x,
	                                &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x,
	                                &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, id);
	sched_exchange_clear(&x);
}
END_TEST

START_TEST(placement_respects_slots_priority_and_plugins)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	int64_t b = submit("noop", 5, 1, 0, 1);
	int64_t c = submit("sleep", 9, 1, 0, 1);
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	/* Two slots: the priority-5 job first, then the oldest; never sleep. */
	ck_assert_uint_eq(x.ntasks, 2);
	ck_assert_int_eq(x.tasks[0].id, b);
	ck_assert_int_eq(x.tasks[1].id, a);
	ck_assert_int_eq(x.tasks[0].attempt, 1);
	ck_assert_int_eq(state_of(a), JOB_RUNNING);
	sched_exchange_clear(&x);
	/* Full: nothing more. */
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	sched_exchange_clear(&x);
	/* A worker with sleep takes it first (priority 9), then d. */
	uint64_t s2 = join("w2", 2, 1 << 30, BOTH);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	ck_assert_int_eq(x.tasks[0].id, c);
	ck_assert_int_eq(x.tasks[1].id, d);
	sched_exchange_clear(&x);
}
END_TEST

/* Higher priority first, then the oldest, however the priorities arrive
 * (a job above the tail's priority is placed from the head). */
START_TEST(queue_order_mixed)
{
	static const int prio[] = { 0, 0, 5, 3, 5, 0, 7, 3 };
	static const int want[] = { 6, 2, 4, 3, 7, 0, 1, 5 };  /* indexes */
	int64_t id[8];
	for (int i = 0; i < 8; i++)
		id[i] = submit("noop", prio[i], 1, 0, 1);
	uint64_t s1 = join("w1", 8, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x,
	                 &err), 0);
	ck_assert_uint_eq(x.ntasks, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(x.tasks[i].id, id[want[i]]);
	sched_exchange_clear(&x);
}
END_TEST

/* Take every queued job with a worker of N slots, in the order placed;
 * their ids in ID[]. */
static size_t
drain(const char *w, size_t n, int64_t *id)
{
	uint64_t sess = join(w, (int)n, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	size_t got = 0, more;
	do {    /* an exchange hands out a bounded number */
		ck_assert_int_eq(sched_exchange(sc, w, sess, NULL, 0, NULL, 0,
		                 (int)(n - got), &x, &err), 0);
		more = x.ntasks;
		for (size_t i = 0; i < x.ntasks; i++)
			id[got++] = x.tasks[i].id;
		sched_exchange_clear(&x);
	} while (more > 0 && got < n);
	return got;
}

/* Priorities are buckets (issue 18 item 3): across priorities the
 * highest first, within one FIFO by id, through cancels that empty a
 * priority or take the first or last of one, new jobs at a priority
 * that was emptied, and a restart that rebuilds the queue. */
START_TEST(queue_order_buckets)
{
	enum { N = 300 };
	static int64_t id[N], got[N];
	static int prio[N], gone[N];
	char *err = NULL;
	for (int i = 0; i < N; i++) {
		prio[i] = (i * 7) % 11 - 5;     /* -5 .. 5, interleaved */
		id[i] = submit("noop", prio[i], 1, 0, 1);
	}
	/* The only job of priority 100, the first and the last of -5, and
	 * a few from the middle of 0. */
	int64_t solo = submit("noop", 100, 1, 0, 1);
	ck_assert_int_eq(sched_cancel(sc, solo, &err), 0);
	int first = -1, last = -1;
	for (int i = 0; i < N; i++)
		if (prio[i] == -5) {
			if (first < 0)
				first = i;
			last = i;
		}
	gone[first] = gone[last] = 1;
	for (int i = 100; i < 200; i++)
		if (prio[i] == 0)
			gone[i] = 1;
	for (int i = 0; i < N; i++)
		if (gone[i])
			ck_assert_int_eq(sched_cancel(sc, id[i], &err), 0);
	int64_t again = submit("noop", 100, 1, 0, 1);   /* emptied, refilled */
	ck_assert_int_eq(store_sync(st, &err), 0);
	restart();
	int64_t late = submit("noop", 3, 1, 0, 1);      /* after the restart */

	size_t n = drain("w1", N + 2, got);
	size_t k = 0;
	ck_assert_int_eq(got[k++], again);
	for (int p = 5; p >= -5; p--) {
		for (int i = 0; i < N; i++)
			if (prio[i] == p && !gone[i]) {
				ck_assert_uint_lt(k, n);
				ck_assert_int_eq(got[k++], id[i]);
			}
		if (p == 3) {
			ck_assert_uint_lt(k, n);
			ck_assert_int_eq(got[k++], late);
		}
	}
	ck_assert_uint_eq(k, n);
	struct sched_stats ss;
	sched_stats(sc, &ss);
	ck_assert_int_eq(ss.queued, 0);
}
END_TEST

static double
now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Submit N jobs in one call, priority PRIO(i); seconds it took. */
static double
submit_many(sched *into, size_t n, int mixed)
{
	struct store_job *j = xcalloc(n, sizeof *j);
	for (size_t i = 0; i < n; i++) {
		j[i].plugin = (char *)"noop";
		j[i].params = (char *)"{}";
		j[i].max_attempts = 1;
		/* Mixed: every job above the one before it in a cycle of
		 * ten, the order in which a walk from the tail or from the
		 * head is longest. */
		j[i].priority = mixed ? (int)(i % 10) : 0;
	}
	char *err = NULL;
	double t = now_s();
	ck_assert_int_eq(sched_submit(into, j, n, &err), 0);
	t = now_s() - t;
	free(j);
	return t;
}

/* 100,000 jobs of ten priorities arriving interleaved are queued in
 * about the time of 100,000 of one priority (both through the store, in
 * one batch): an insert does not walk the queue.  Before the buckets the
 * mixed submission took over a hundred times longer. */
START_TEST(queue_insert_bounded_whatever_the_priorities)
{
	enum { N = 100000 };
	char *err = NULL;
	char *path2 = xasprintf("%s/mixed.db", dir);
	store *st2;
	sched *sc2;
	ck_assert_int_eq(store_open(path2, 0, &st2, &err), 0);
	struct sched_opts o = { .worker_timeout_ms = 200 };
	ck_assert_int_eq(sched_new(st2, &o, &sc2, &err), 0);

	double fifo = submit_many(sc, N, 0);
	double mixed = submit_many(sc2, N, 1);
	struct sched_stats a, b;
	sched_stats(sc, &a);
	sched_stats(sc2, &b);
	ck_assert_int_eq(a.queued, N);
	ck_assert_int_eq(b.queued, N);
	ck_assert_msg(mixed < 3 * fifo + 0.2,
	              "mixed priorities %.3f s against %.3f s for one", mixed,
	              fifo);
	sched_free(sc2);
	store_close(st2);
	free(path2);
}
END_TEST

START_TEST(placement_respects_memory_and_multi_slot)
{
	int64_t big = submit("noop", 0, 1, 2LL << 30, 1);
	int64_t wide = submit("noop", 0, 3, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);  /* too big, too wide */
	sched_exchange_clear(&x);
	uint64_t s2 = join("w2", 4, 4LL << 30, NOOP);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	ck_assert_int_eq(x.tasks[0].id, big);
	ck_assert_int_eq(x.tasks[1].id, wide);
	sched_exchange_clear(&x);
}
END_TEST

START_TEST(results_are_applied_once)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	sched_exchange_clear(&x);
	struct sched_result stale = { .id = a, .attempt = 7, .state = JOB_SUCCEEDED };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &stale, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_RUNNING);
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_SUCCEEDED,
		.result = "{\"x\":1}", .log = "hello" };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_SUCCEEDED);
	r.state = JOB_FAILED;    /* a duplicate report changes nothing */
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_SUCCEEDED);
}
END_TEST

START_TEST(failure_is_retried)
{
	int64_t a = submit("noop", 0, 1, 0, 2);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	sched_exchange_clear(&x);
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_FAILED, .error = "boom" };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 1, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_QUEUED);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);      /* the retry */
	ck_assert_int_eq(x.tasks[0].attempt, 2);
	sched_exchange_clear(&x);
	r.attempt = 2;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 1, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_FAILED);
}
END_TEST

/* A task that failed on bad input (KILN_EINVAL: a bad parameter, a path
 * outside the worker's read roots) would fail again: it is not retried. */
START_TEST(bad_input_is_not_retried)
{
	int64_t a = submit("noop", 0, 1, 0, 3);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	sched_exchange_clear(&x);
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_FAILED,
		.code = KILN_EINVAL, .error = "outside the read roots" };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_FAILED);
}
END_TEST

START_TEST(dead_worker_tasks_move)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	sched_exchange_clear(&x);
	uint64_t s2 = join("w2", 1, 1 << 30, NOOP);
	usleep(300 * 1000);
	/* w2 stays alive by exchanging; w1 is silent. */
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_reap(sc), 1);
	ck_assert_int_eq(state_of(a), JOB_QUEUED);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), -ESTALE);
	free(err);
	err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, a);
	ck_assert_int_eq(x.tasks[0].attempt, 2);
	sched_exchange_clear(&x);
	/* w1's late result for attempt 1 is ignored. */
	s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_SUCCEEDED };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_RUNNING);
}
END_TEST

START_TEST(register_reconciles_held)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	int64_t b = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 2, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	sched_exchange_clear(&x);
	/* w1 comes back holding only a, and an attempt of b it never had. */
	struct sched_held held[] = { { a, 1 }, { 424242, 1 } };
	struct sched_held *cancel;
	size_t nc;
	uint64_t s = rejoin("w1", 2, NOOP, held, 2, &cancel, &nc);
	ck_assert_int_eq(state_of(a), JOB_RUNNING);
	ck_assert_int_eq(state_of(b), JOB_QUEUED);
	ck_assert_uint_eq(nc, 1);
	ck_assert_int_eq(cancel[0].id, 424242);
	free(cancel);
	ck_assert_int_ne(s, s1);
}
END_TEST

START_TEST(recover_rebuilds_queue)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	int64_t b = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_int_eq(x.tasks[0].id, a);
	sched_exchange_clear(&x);
	/* "Restart" once the start is on disk: a new scheduler over the
	 * same store. */
	ck_assert_int_eq(store_sync(st, &err), 0);
	restart();
	struct sched_stats ss;
	sched_stats(sc, &ss);
	ck_assert_int_eq(ss.queued, 1);
	ck_assert_int_eq(ss.running, 1);
	/* The worker's old session is unknown now. */
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), -ESTALE);
	free(err);
	err = NULL;
	struct sched_held held[] = { { a, 1 } };
	struct sched_held *cancel;
	size_t nc;
	s1 = rejoin("w1", 1, NOOP, held, 1, &cancel, &nc);
	free(cancel);
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_SUCCEEDED };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, b);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_SUCCEEDED);
}
END_TEST

/* The master died after handing a task out but before its start was on
 * disk: the store has the job queued, and the worker that runs it
 * confirms it when it registers again; no other worker gets it, and its
 * result is accepted once. */
START_TEST(start_lost_in_a_crash_is_confirmed_by_its_worker)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	int64_t b = submit("noop", 0, 1, 0, 1);
	char *err = NULL;
	/* "Restart" with both still queued at attempt 0 in the store. */
	restart();
	/* It holds attempt 1 of a (confirmed) and attempt 0 of b (never
	 * handed out: refused). */
	struct sched_held held[] = { { a, 1 }, { b, 0 } };
	struct sched_held *cancel;
	size_t nc;
	uint64_t s1 = rejoin("w1", 2, NOOP, held, 2, &cancel, &nc);
	ck_assert_uint_eq(nc, 1);
	ck_assert_int_eq(cancel[0].id, b);
	free(cancel);
	struct sched_stats ss;
	sched_stats(sc, &ss);
	ck_assert_int_eq(ss.running, 1);
	ck_assert_int_eq(ss.queued, 1);
	ck_assert_int_eq(state_of(a), JOB_RUNNING);
	/* Another worker gets b, not a. */
	uint64_t s2 = join("w2", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, b);
	sched_exchange_clear(&x);
	/* a's result from w1 is its result; sent twice, applied once. */
	struct sched_result r = { .id = a, .attempt = 1, .state = JOB_SUCCEEDED,
		.result = "{\"n\":1}" };
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(a), JOB_SUCCEEDED);
	int64_t counts[JOB_NSTATES];
	ck_assert_int_eq(store_job_counts(st, counts, &err), 0);
	ck_assert_int_eq(counts[JOB_SUCCEEDED], 1);
	ck_assert_int_eq(counts[JOB_RUNNING], 1);
}
END_TEST

START_TEST(cancel_queued_and_running)
{
	int64_t a = submit("noop", 0, 1, 0, 1);
	int64_t b = submit("noop", 0, 1, 0, 1);
	char *err = NULL;
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	struct sched_exchange x;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_int_eq(x.tasks[0].id, a);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_cancel(sc, b, &err), 0);
	ck_assert_int_eq(state_of(b), JOB_CANCELLED);
	ck_assert_int_eq(sched_cancel(sc, a, &err), 0);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	ck_assert_uint_eq(x.ncancel, 1);
	ck_assert_int_eq(x.cancel[0].id, a);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_cancel(sc, a, &err), -EALREADY);
	free(err);
	err = NULL;
	ck_assert_int_eq(sched_cancel(sc, 99999, &err), -ENOENT);
	free(err);
}
END_TEST

/* Teach the scheduler how long PLUGIN's tasks take: one runs on worker W
 * (whose queue is otherwise empty) and reports MS. */
static void
run_one_taking(const char *w, uint64_t sess, const char *plugin, int64_t ms)
{
	struct sched_exchange x;
	char *err = NULL;
	int64_t id = submit(plugin, 0, 1, 0, 1);
	ck_assert_int_eq(sched_exchange(sc, w, sess, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, id);
	sched_exchange_clear(&x);
	struct sched_result r = { .id = id, .attempt = 1,
		.state = JOB_SUCCEEDED, .duration_ms = ms };
	ck_assert_int_eq(sched_exchange(sc, w, sess, &r, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
}

START_TEST(prefetch_only_short_tasks)
{
	char *err = NULL;
	uint64_t s1 = join("w1", 1, 1 << 30, BOTH);
	struct sched_exchange x;
	/* Teach the scheduler: noop takes 1 ms, sleep 500 ms. */
	for (int k = 0; k < 10; k++) {
		run_one_taking("w1", s1, "noop", 1);
		run_one_taking("w1", s1, "sleep", 500);
	}
	/* A deep queue of short tasks: many go to the one-slot worker. */
	for (int k = 0; k < 20; k++)
		submit("noop", 0, 1, 0, 1);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 20);
	sched_exchange_clear(&x);
	/* Long tasks: one per slot, however deep the queue. */
	uint64_t s2 = join("w2", 1, 1 << 30, BOTH);
	for (int k = 0; k < 20; k++)
		submit("sleep", 0, 1, 0, 1);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	sched_exchange_clear(&x);
}
END_TEST

/* Prefetch holds about 50 ms of work per slot: five 10 ms tasks. */
START_TEST(prefetch_holds_about_50_ms_of_work)
{
	char *err = NULL;
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	for (int k = 0; k < 8; k++)
		run_one_taking("w1", s1, "noop", 10);
	for (int k = 0; k < 40; k++)
		submit("noop", 0, 1, 0, 1);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 10);        /* 2 slots x 5 */
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);         /* it holds them all still */
	sched_exchange_clear(&x);
}
END_TEST

/* A plugin with no room left does not end the walk while another has
 * some: one long task, then the short ones behind it up to their
 * prefetch; then nothing, the walk ending early (all plugins full). */
START_TEST(prefetch_walk_passes_a_full_plugin)
{
	char *err = NULL;
	uint64_t s1 = join("w1", 1, 1 << 30, BOTH);
	struct sched_exchange x;
	for (int k = 0; k < 8; k++) {
		run_one_taking("w1", s1, "noop", 10);
		run_one_taking("w1", s1, "sleep", 500);
	}
	for (int k = 0; k < 10; k++)
		submit("sleep", 0, 1, 0, 1);
	for (int k = 0; k < 10; k++)
		submit("noop", 0, 1, 0, 1);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 5);         /* 1 sleep, then 5 - 1 noop */
	ck_assert_str_eq(x.tasks[0].plugin, "sleep");
	for (size_t i = 1; i < x.ntasks; i++)
		ck_assert_str_eq(x.tasks[i].plugin, "noop");
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 100, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	sched_exchange_clear(&x);
}
END_TEST

/* ------------------------------------------------------------- stages */

/* Hand driver job D to worker W (whose slots it fills). */
static void
start_driver(const char *w, uint64_t sess, int64_t d)
{
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, w, sess, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, d);
	sched_exchange_clear(&x);
}

/* A stage of N map tasks of driver D (attempt 1), with localities LOC. */
static int64_t
stage_of(int64_t d, size_t n, const char *const *loc)
{
	struct sched_stage_task t[8];
	for (size_t i = 0; i < n; i++)
		t[i] = (struct sched_stage_task){ .params = "{\"i\":1}",
			.locality = loc ? loc[i] : NULL };
	int64_t id = 0;
	char *err = NULL;
	ck_assert_int_eq(sched_stage_submit(sc, d, 1, "noop", t, n, &id, &err), 0);
	return id;
}

/* Worker W reports map task T ended in STATE (with CODE) and result R. */
static void
map_done_code(const char *w, uint64_t sess, const struct sched_task *t,
              int state, int code, const char *r)
{
	struct sched_result res = { .id = t->id, .attempt = t->attempt,
		.state = state, .code = code, .result = r, .error = "boom",
		.duration_ms = -1 };
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, w, sess, &res, 1, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
}

/* The same, from a worker that reports no code (0). */
static void
map_done(const char *w, uint64_t sess, const struct sched_task *t, int state,
         const char *r)
{
	map_done_code(w, sess, t, state, 0, r);
}

START_TEST(stage_tasks_have_their_own_room)
{
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	start_driver("w1", s1, d);          /* its only slot is taken */
	char *err = NULL, **res, **outs;
	size_t n;
	/* Only a running driver may start a stage. */
	struct sched_stage_task bad = { .params = "{}" };
	int64_t id;
	ck_assert_int_eq(sched_stage_submit(sc, d + 1, 1, "noop", &bad, 1, &id, &err), -ESTALE);
	free(err);
	err = NULL;
	id = stage_of(d, 2, NULL);
	struct sched_exchange x;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	/* One map task: the worker's stage room is its one slot. */
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_lt(x.tasks[0].id, 0);
	ck_assert_int_eq(x.tasks[0].stage, 1);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 0);
	/* The results come in task order. */
	struct sched_exchange y;
	map_done("w1", s1, &x.tasks[0], JOB_SUCCEEDED, "\"a\"");
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &y, &err), 0);
	ck_assert_uint_eq(y.ntasks, 1);
	map_done("w1", s1, &y.tasks[0], JOB_SUCCEEDED, "\"b\"");
	sched_exchange_clear(&x);
	sched_exchange_clear(&y);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(res[0], "\"a\"");
	ck_assert_str_eq(res[1], "\"b\"");
	free(res[0]);
	free(res[1]);
	free(res);
	free(outs);
	/* Polled once done, the stage is forgotten. */
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), -ENOENT);
	free(err);
	/* The driver's job was not touched. */
	ck_assert_int_eq(state_of(d), JOB_RUNNING);
}
END_TEST

/* Map tasks go out ahead of every queued job, even one submitted first
 * at the highest priority a job can have, and a worker with no room for
 * a job still gets them (placement stops at the first job it cannot
 * take, so map tasks must stay at the head of the queue). */
START_TEST(stage_tasks_go_ahead_of_a_deep_queue)
{
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	start_driver("w1", s1, d);          /* no room for a job now */
	int64_t top = submit("noop", INT32_MAX, 1, 0, 1);
	for (int i = 0; i < 200; i++)
		submit("noop", 0, 1, 0, 1);
	stage_of(d, 1, NULL);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].stage, 1);
	map_done("w1", s1, &x.tasks[0], JOB_SUCCEEDED, "1");
	sched_exchange_clear(&x);
	/* A second worker takes the top job first. */
	uint64_t s2 = join("w2", 1, 1 << 30, NOOP);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 1, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_eq(x.tasks[0].id, top);
	sched_exchange_clear(&x);
}
END_TEST

START_TEST(stage_prefers_the_worker_with_the_data)
{
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	uint64_t s2 = join("w2", 2, 1 << 30, NOOP);
	start_driver("w1", s1, d);
	const char *loc[] = { "shaA" };
	int64_t id = stage_of(d, 1, loc);
	struct sched_exchange x;
	char *err = NULL, **res, **outs;
	size_t n;
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);       /* nobody holds shaA yet */
	map_done("w2", s2, &x.tasks[0], JOB_SUCCEEDED, "1");
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 1);
	free(res[0]);
	free(res);
	free(outs);
	/* w2 holds shaA now: w1 does not get the next map task at once... */
	id = stage_of(d, 1, loc);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 0);
	sched_exchange_clear(&x);
	/* ...only once the locality wait is over and w2 has not taken it. */
	usleep(300 * 1000);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	map_done("w1", s1, &x.tasks[0], JOB_SUCCEEDED, "2");
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 1);
	ck_assert_str_eq(res[0], "2");
	free(res[0]);
	free(res);
	free(outs);
}
END_TEST

/* A worker keeps the outputs of its jobs: the map tasks reading one are
 * held for it.  A failed job's outputs do not count. */
START_TEST(stage_prefers_the_worker_that_wrote_the_data)
{
	int64_t up = submit("noop", 0, 1, 0, 1);
	int64_t bad = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	struct sched_exchange x;
	char *err = NULL;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 2, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	sched_exchange_clear(&x);
	const char *wrote[] = { "shaP" }, *lost[] = { "shaQ" };
	struct sched_result r[2] = {
		{ .id = up, .attempt = 1, .state = JOB_SUCCEEDED,
		  .outputs = "[{\"name\":\"p\",\"sha\":\"shaP\",\"size\":1}]",
		  .output_shas = wrote, .noutput_shas = 1, .duration_ms = -1 },
		{ .id = bad, .attempt = 1, .state = JOB_FAILED, .error = "x",
		  .output_shas = lost, .noutput_shas = 1, .duration_ms = -1 },
	};
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, r, 2, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	/* Two drivers on w2, one stage each: reading shaP, and shaQ. */
	int64_t d1 = submit("noop", 0, 1, 0, 1);
	int64_t d2 = submit("noop", 0, 1, 0, 1);
	uint64_t s2 = join("w2", 2, 1 << 30, NOOP);
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 2, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	sched_exchange_clear(&x);
	stage_of(d1, 1, wrote);
	stage_of(d2, 1, lost);
	/* w2 gets only the shaQ task (the later one): shaP's waits for w1. */
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	int64_t on_w2 = x.tasks[0].id;
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	ck_assert_int_lt(x.tasks[0].id, on_w2);
	sched_exchange_clear(&x);
}
END_TEST

START_TEST(stage_retries_then_fails_and_survives_lost_workers)
{
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 1, 1 << 30, NOOP);
	uint64_t s2 = join("w2", 1, 1 << 30, NOOP);
	start_driver("w1", s1, d);
	int64_t id = stage_of(d, 1, NULL);
	struct sched_exchange x;
	char *err = NULL, **res, **outs;
	size_t n;
	/* Taken by w2, which goes silent: its map task is queued again. */
	ck_assert_int_eq(sched_exchange(sc, "w2", s2, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 1);
	sched_exchange_clear(&x);
	usleep(250 * 1000);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 0, &x, &err), 0);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_reap(sc), 1);
	/* Three failed attempts on w1: the stage fails with the message. */
	for (int a = 1; a <= 3; a++) {
		ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 0);
		ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
		ck_assert_uint_eq(x.ntasks, 1);
		map_done("w1", s1, &x.tasks[0], JOB_FAILED, NULL);
		sched_exchange_clear(&x);
	}
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err, " task 0 "));
	ck_assert_ptr_nonnull(strstr(err, "boom"));
	free(err);
	err = NULL;
	/* A stage is dropped when its driver stops running. */
	id = stage_of(d, 2, NULL);
	ck_assert_int_eq(sched_cancel(sc, d, &err), 0);
	sched_reap(sc);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), -ENOENT);
	free(err);
}
END_TEST

START_TEST(stage_fails_at_once_on_bad_input)
{
	int64_t d = submit("noop", 0, 1, 0, 1);
	uint64_t s1 = join("w1", 2, 1 << 30, NOOP);
	start_driver("w1", s1, d);
	int64_t id = stage_of(d, 2, NULL);
	struct sched_exchange x;
	char *err = NULL, **res, **outs;
	size_t n;
	/* An I/O error and a crash-like one are retried... */
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	map_done_code("w1", s1, &x.tasks[0], JOB_FAILED, KILN_EIO, NULL);
	map_done_code("w1", s1, &x.tasks[1], JOB_FAILED, KILN_EFAIL, NULL);
	sched_exchange_clear(&x);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), 0);
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, NULL, 0, 10, &x, &err), 0);
	ck_assert_uint_eq(x.ntasks, 2);
	/* ...bad input is not: the stage fails on its first attempt. */
	map_done_code("w1", s1, &x.tasks[0], JOB_FAILED, KILN_EINVAL, NULL);
	ck_assert_int_eq(sched_stage_poll(sc, id, &res, &outs, &n, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err, " task 0 "));
	ck_assert_ptr_nonnull(strstr(err, "bad input"));
	ck_assert_ptr_nonnull(strstr(err, "boom"));
	free(err);
	err = NULL;
	/* The failed stage is gone, its other map task with it: the worker
	 * is told to cancel it and nothing is queued again. */
	struct sched_held h = { x.tasks[1].id, x.tasks[1].attempt };
	struct sched_exchange y;
	ck_assert_int_eq(sched_exchange(sc, "w1", s1, NULL, 0, &h, 1, 10, &y, &err), 0);
	ck_assert_uint_eq(y.ntasks, 0);
	ck_assert_uint_eq(y.ncancel, 1);
	sched_exchange_clear(&y);
	sched_exchange_clear(&x);
	ck_assert_int_eq(state_of(d), JOB_RUNNING);
}
END_TEST

/* stage.c's part alone: ids, results in task order, retries, handover. */
START_TEST(stage_bookkeeping)
{
	struct stage_list l = { 0 };
	struct stage *a = stage_new(&l, 10, 2, "p", 2), *b = stage_new(&l, 11, 1, "p", 1);
	ck_assert_int_eq(stage_id(a), 1);
	ck_assert_int_eq(stage_id(b), 2);
	ck_assert_ptr_eq(stage_find(&l, 1), a);
	ck_assert_ptr_null(stage_find(&l, 3));
	int attempt;
	ck_assert_int_eq(stage_owner(a, &attempt), 10);
	ck_assert_int_eq(attempt, 2);
	stage_set_task(a, 0, -5);
	stage_set_task(a, 1, -6);
	stage_task_started(a, 0, "w1", 0);
	stage_task_started(a, 1, "w2", 1);
	char **res, **outs;
	size_t n;
	char *err = NULL;
	/* Task 1 first: results still come in task order. */
	ck_assert_int_eq(stage_task_ended(a, 1, JOB_SUCCEEDED, 0, "[2]",
	                 "[{\"name\":\"o1\"}]", NULL), STAGE_TASK_DONE);
	ck_assert_int_eq(stage_task(a, 1), 0);
	ck_assert_int_eq(stage_outcome(a, &res, &outs, &n, &err), 0);
	/* A failed attempt's outputs are never kept (ABI 1.7 adoption). */
	ck_assert_int_eq(stage_task_ended(a, 0, JOB_FAILED, KILN_EFAIL, NULL,
	                 "[{\"name\":\"lost\"}]", "x"), STAGE_TASK_RETRY);
	ck_assert_int_eq(stage_task(a, 0), -5);
	stage_task_started(a, 0, "w2", 1);
	ck_assert_int_eq(stage_task_ended(a, 0, JOB_SUCCEEDED, 0, NULL, NULL,
	                 NULL), STAGE_TASK_DONE);
	ck_assert_int_eq(stage_outcome(a, &res, &outs, &n, &err), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(res[0], "null");
	ck_assert_str_eq(res[1], "[2]");
	ck_assert_ptr_null(outs[0]);
	ck_assert_str_eq(outs[1], "[{\"name\":\"o1\"}]");
	free(outs[1]);
	free(res[0]);
	free(res[1]);
	free(res);
	free(outs);
	stage_remove(&l, a);
	ck_assert_ptr_eq(stage_next(&l, NULL), b);
	ck_assert_ptr_null(stage_next(&l, b));
	ck_assert_ptr_null(stage_find(&l, 1));
	/* What it did is kept for the job page: per task, where it ran, how
	 * often, whether its data was there. */
	json_t *js = stage_list_json(&l, 10);
	ck_assert_uint_eq(json_array_size(js), 1);
	json_t *s0 = json_array_get(js, 0);
	ck_assert_str_eq(json_string_value(json_object_get(s0, "state")), "succeeded");
	ck_assert_int_eq(json_integer_value(json_object_get(s0, "tasks_done")), 2);
	json_t *t0 = json_array_get(json_object_get(s0, "tasks"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(t0, "worker")), "w2");
	ck_assert_int_eq(json_integer_value(json_object_get(t0, "attempts")), 2);
	ck_assert(json_is_true(json_object_get(t0, "local")));
	ck_assert_str_eq(json_string_value(json_object_get(t0, "state")), "succeeded");
	json_decref(js);
	js = stage_list_json(&l, 11);   /* b runs: listed too */
	ck_assert_uint_eq(json_array_size(js), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(js, 0),
	                 "state")), "running");
	json_decref(js);
	/* A failure after three attempts fails the stage, naming the task. */
	stage_set_task(b, 0, -7);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(stage_task_ended(b, 0, JOB_FAILED, 0, NULL, NULL, "boom"),
		                 STAGE_TASK_RETRY);
	ck_assert_int_eq(stage_task_ended(b, 0, JOB_FAILED, 0, NULL, NULL, "boom"),
	                 STAGE_TASK_FAILED);
	ck_assert_int_eq(stage_outcome(b, &res, &outs, &n, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err, "stage 2 task 0 failed: boom"));
	free(err);
	stage_remove(&l, b);
	js = stage_list_json(&l, 11);
	s0 = json_array_get(js, 0);
	ck_assert_str_eq(json_string_value(json_object_get(s0, "state")), "failed");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(s0, "error")),
	                             "stage 2 task 0"));
	json_decref(js);
	/* Only the last STAGE_HISTORY (64) ended stages are kept. */
	for (int i = 0; i < 70; i++)
		stage_remove(&l, stage_new(&l, 12, 1, "p", 1));
	js = stage_list_json(&l, 12);
	ck_assert_uint_eq(json_array_size(js), 64);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(js, 0),
	                 "stage")), 9);
	json_decref(js);
	stage_list_clear(&l);
	ck_assert_ptr_null(l.head);
	ck_assert_ptr_null(l.ended);
	/* Logs name a map task by stage and index, a job by its id. */
	char name[JOB_NAME_MAX];
	ck_assert_str_eq(job_name(name, INT64_MIN + 18, 3, 7), "stage 3 task 7");
	ck_assert_str_eq(job_name(name, 42, 0, 0), "job 42");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, plugins_shared_and_kept);
	tcase_add_test(tc, placement_respects_slots_priority_and_plugins);
	tcase_add_test(tc, queue_order_mixed);
	tcase_add_test(tc, queue_order_buckets);
	tcase_add_test(tc, queue_insert_bounded_whatever_the_priorities);
	tcase_add_test(tc, placement_respects_memory_and_multi_slot);
	tcase_add_test(tc, results_are_applied_once);
	tcase_add_test(tc, failure_is_retried);
	tcase_add_test(tc, bad_input_is_not_retried);
	tcase_add_test(tc, dead_worker_tasks_move);
	tcase_add_test(tc, register_reconciles_held);
	tcase_add_test(tc, recover_rebuilds_queue);
	tcase_add_test(tc, start_lost_in_a_crash_is_confirmed_by_its_worker);
	tcase_add_test(tc, cancel_queued_and_running);
	tcase_add_test(tc, prefetch_only_short_tasks);
	tcase_add_test(tc, prefetch_holds_about_50_ms_of_work);
	tcase_add_test(tc, prefetch_walk_passes_a_full_plugin);
	tcase_add_test(tc, stage_tasks_have_their_own_room);
	tcase_add_test(tc, stage_tasks_go_ahead_of_a_deep_queue);
	tcase_add_test(tc, stage_prefers_the_worker_with_the_data);
	tcase_add_test(tc, stage_prefers_the_worker_that_wrote_the_data);
	tcase_add_test(tc, stage_retries_then_fails_and_survives_lost_workers);
	tcase_add_test(tc, stage_fails_at_once_on_bad_input);
	tcase_add_test(tc, stage_bookkeeping);
	tcase_add_test(tc, worker_page_keeps_a_bounded_heartbeat_history);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
