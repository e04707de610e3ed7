/* SPDX-License-Identifier: MIT */
/*
 * replay-test.c - the anti-replay window (src/replay.c): counters in
 * order, out of order within the window, repeated, below the window;
 * jumps that slide it by any amount; sessions forgotten after their idle
 * time and not before; the bound on sessions; and many threads at once.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "replay.h"

#define T0     1795939262000LL
#define FORGET (10 * 60 * 1000)
#define W      REPLAY_WINDOW

static replay *rp;

static void
setup(void)
{
	rp = replay_new(8, FORGET);
}

static void
teardown(void)
{
	replay_free(rp);
}

static int
take(uint64_t session, uint64_t counter)
{
	return replay_check(rp, session, counter, T0);
}

START_TEST(test_in_order)
{
	for (uint64_t i = 1; i <= 5000; i++)
		ck_assert_int_eq(take(1, i), 0);
	/* Every one of them is a replay now: in the window or below it. */
	for (uint64_t i = 1; i <= 5000; i++)
		ck_assert_int_eq(take(1, i), i > 5000 - W ? -EALREADY : -ESTALE);
	ck_assert_int_eq(take(1, 5001), 0);
	ck_assert_uint_eq(replay_sessions(rp, T0), 1);
}
END_TEST

/* Within the window any order goes, each counter once. */
START_TEST(test_out_of_order)
{
	ck_assert_int_eq(take(2, 100), 0);
	ck_assert_int_eq(take(2, 90), 0);
	ck_assert_int_eq(take(2, 99), 0);
	ck_assert_int_eq(take(2, 90), -EALREADY);
	ck_assert_int_eq(take(2, 100), -EALREADY);
	ck_assert_int_eq(take(2, 1), 0);        /* 100 - 1 < W */
	ck_assert_int_eq(take(2, 1), -EALREADY);
	ck_assert_int_eq(take(2, 0), 0);
	ck_assert_int_eq(take(2, 105), 0);
	ck_assert_int_eq(take(2, 101), 0);
	ck_assert_int_eq(take(2, 99), -EALREADY);
	ck_assert_int_eq(take(2, 104), 0);
	ck_assert_int_eq(take(2, 104), -EALREADY);
	/* The window's edges: TOP - (W - 1) is in, TOP - W is out. */
	ck_assert_int_eq(take(3, 5000), 0);
	ck_assert_int_eq(take(3, 5000 - (W - 1)), 0);
	ck_assert_int_eq(take(3, 5000 - (W - 1)), -EALREADY);
	ck_assert_int_eq(take(3, 5000 - W), -ESTALE);
}
END_TEST

/* The window slides by every amount, across word boundaries, keeping
 * exactly the counters taken: checked against a plain list. */
START_TEST(test_slide)
{
	static unsigned char seen[1 << 20];
	uint64_t top = 0;
	unsigned x = 12345;

	for (int step = 0; step < 20000; step++) {
		x = x * 1103515245u + 12345u;
		uint64_t c;
		switch ((x >> 16) % 8) {
		case 0:         /* a jump up by 1..200 */
			c = top + 1 + (x >> 8) % 200;
			break;
		case 1:         /* a jump up by up to 2 windows */
			c = top + (x >> 8) % (2 * W);
			break;
		default:        /* somewhere below, in the window or not */
			c = top > 0 ? top - (x >> 8) % (W + 64 < top ? W + 64 : top) : 0;
			break;
		}
		if (c >= sizeof seen)
			break;
		int want = top > 0 && c + W <= top ? -ESTALE :
		           seen[c] ? -EALREADY : 0;
		if (step == 0)
			want = 0;
		ck_assert_msg(take(4, c) == want, "step %d counter %llu top %llu",
		              step, (unsigned long long)c, (unsigned long long)top);
		if (want == 0) {
			seen[c] = 1;
			if (c > top)
				top = c;
		}
	}
}
END_TEST

/* Sessions are separate; a session is forgotten once idle past FORGET
 * (then its counters are new again: auth.h's timestamps refuse them),
 * and taking a request keeps it. */
START_TEST(test_forget)
{
	ck_assert_int_eq(replay_check(rp, 10, 1, T0), 0);
	ck_assert_int_eq(replay_check(rp, 11, 1, T0), 0);
	ck_assert_int_eq(replay_check(rp, 11, 2, T0 + FORGET), 0);
	ck_assert_uint_eq(replay_sessions(rp, T0 + FORGET), 2);
	ck_assert_int_eq(replay_check(rp, 10, 1, T0 + FORGET), -EALREADY);
	ck_assert_uint_eq(replay_sessions(rp, T0 + FORGET + 1), 1);
	ck_assert_int_eq(replay_check(rp, 10, 1, T0 + FORGET + 1), 0);
	ck_assert_int_eq(replay_check(rp, 11, 2, T0 + FORGET + 1), -EALREADY);
	/* A refused request does not keep its session. */
	ck_assert_int_eq(replay_check(rp, 11, 2, T0 + 2 * FORGET), -EALREADY);
	ck_assert_uint_eq(replay_sessions(rp, T0 + 2 * FORGET + 1), 1);
	ck_assert_uint_eq(replay_sessions(rp, T0 + 3 * FORGET + 2), 0);
}
END_TEST

/* At most 8 sessions here: a ninth is refused while all are live, and
 * taken once one may be forgotten; sessions held go on meanwhile. */
START_TEST(test_bound)
{
	for (uint64_t s = 0; s < 8; s++)
		ck_assert_int_eq(replay_check(rp, 100 + s, 1, T0 + (int64_t)s), 0);
	ck_assert_int_eq(replay_check(rp, 200, 1, T0 + 10), -ENOSPC);
	ck_assert_int_eq(replay_check(rp, 201, 1, T0 + 10), -ENOSPC);
	ck_assert_int_eq(replay_check(rp, 100, 2, T0 + 10), 0);
	ck_assert_int_eq(replay_check(rp, 100, 2, T0 + 10), -EALREADY);
	ck_assert_uint_eq(replay_sessions(rp, T0 + 10), 8);
	/* Session 101 was idle longest (100 took a request at T0 + 10). */
	ck_assert_int_eq(replay_check(rp, 200, 1, T0 + 1 + FORGET), -ENOSPC);
	ck_assert_int_eq(replay_check(rp, 200, 1, T0 + 2 + FORGET), 0);
	ck_assert_int_eq(replay_check(rp, 101, 1, T0 + 2 + FORGET), -ENOSPC);
	ck_assert_int_eq(replay_check(rp, 100, 1, T0 + 2 + FORGET), -EALREADY);
	ck_assert_uint_eq(replay_sessions(rp, T0 + 2 + FORGET), 8);

	/* One session at the least; a table of one. */
	replay *one = replay_new(0, FORGET);
	ck_assert_int_eq(replay_check(one, 1, 1, T0), 0);
	ck_assert_int_eq(replay_check(one, 2, 1, T0), -ENOSPC);
	ck_assert_int_eq(replay_check(one, 2, 1, T0 + FORGET + 1), 0);
	replay_free(one);
}
END_TEST

/* Many sessions in a large table: each found again. */
START_TEST(test_many)
{
	replay *big = replay_new(REPLAY_MAX_SESSIONS, FORGET);
	for (uint64_t s = 0; s < REPLAY_MAX_SESSIONS; s++)
		ck_assert_int_eq(replay_check(big, s * 0x100000001ull, 7, T0), 0);
	ck_assert_int_eq(replay_check(big, 1, 1, T0), -ENOSPC);
	for (uint64_t s = 0; s < REPLAY_MAX_SESSIONS; s += 97)
		ck_assert_int_eq(replay_check(big, s * 0x100000001ull, 7, T0),
		                 -EALREADY);
	ck_assert_uint_eq(replay_sessions(big, T0 + FORGET + 1), 0);
	replay_free(big);
}
END_TEST

#define THREADS 8
#define PER     4000

static replay *shared;
static int taken;       /* atomic */
static int again;       /* atomic: taken the second time */

/* Thread I takes counters I, I + THREADS, ... of one shared session,
 * each twice, and PER counters of a session of its own. */
static void *
hammer(void *arg)
{
	uint64_t i = (uint64_t)(uintptr_t)arg;
	for (uint64_t k = 0; k < PER; k++) {
		uint64_t c = i + k * THREADS;
		for (int twice = 0; twice < 2; twice++)
			if (replay_check(shared, 42, c, T0) == 0)
				__atomic_fetch_add(twice ? &again : &taken, 1,
				                   __ATOMIC_RELAXED);
		if (replay_check(shared, 1000 + i, k, T0) == 0)
			__atomic_fetch_add(&taken, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Threads racing on one session: no counter is taken twice (some fall
 * below the window as others run ahead, so not all are taken once). */
START_TEST(test_threads)
{
	pthread_t th[THREADS];

	shared = replay_new(64, FORGET);
	taken = again = 0;
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, hammer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(again, 0);
	ck_assert_int_le(taken, 2 * THREADS * PER);
	ck_assert_int_ge(taken, THREADS * PER + 1);
	/* After the race, each counter of the shared session is refused. */
	for (uint64_t c = 0; c < THREADS * PER; c++)
		ck_assert_int_lt(replay_check(shared, 42, c, T0), 0);
	for (uint64_t i = 0; i < THREADS; i++)
		ck_assert_int_eq(replay_check(shared, 1000 + i, PER - 1, T0),
		                 -EALREADY);
	ck_assert_uint_eq(replay_sessions(shared, T0), THREADS + 1);
	replay_free(shared);
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_in_order);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_slide);
	tcase_add_test(tc, test_forget);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(replay_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
