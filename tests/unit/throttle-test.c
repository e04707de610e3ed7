/* SPDX-License-Identifier: MIT */
/*
 * throttle-test.c - the login throttle (src/throttle.c): an address's
 * bucket and its refill, the global bucket that only addresses within
 * their own rate draw on, the cap on hashes at once, lockout of the
 * address (not of others), the window's end, the fixed table giving way
 * to new addresses, and IPv6 addresses counted by their /64.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "throttle.h"

#define T0 1000000LL

static const struct throttle_conf conf = {
	.addr_rate = 1, .addr_burst = 3, .global_rate = 10, .global_burst = 6,
	.max_fails = 3, .fail_window_ms = 60000, .max_hashes = 2, .slots = 4,
};

/* throttle_begin, and at once throttle_end with OK if it was let through;
 * its result, and the Retry-After in *RETRY (may be NULL). */
static int
try(throttle *t, const char *addr, int64_t now, int ok, int *retry)
{
	int r = 0;
	char *err = NULL;
	int rc = throttle_begin(t, addr, now, &r, &err);
	if (rc == 0)
		throttle_end(t, addr, ok, now);
	else
		ck_assert_msg(err != NULL && r >= 1, "refused without a reason");
	free(err);
	if (retry != NULL)
		*retry = r;
	return rc;
}

START_TEST(test_addr_bucket)
{
	throttle *t = throttle_new(&conf);
	int retry;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(try(t, "10.0.0.1", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "10.0.0.1", T0, 1, &retry), -EAGAIN);
	ck_assert_int_eq(retry, 1);
	ck_assert_int_eq(try(t, "10.0.0.2", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 1000, 1, NULL), 0);
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 1000, 1, NULL), -EAGAIN);
	throttle_free(t);
}
END_TEST

START_TEST(test_global)
{
	throttle *t = throttle_new(&conf);
	char *err = NULL;
	int retry;
	/* One address over its own rate draws nothing from the global. */
	for (int i = 0; i < 50; i++)
		try(t, "10.0.0.9", T0, 1, NULL);
	ck_assert_int_eq(try(t, "10.0.0.1", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "10.0.0.2", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "10.0.0.3", T0, 1, NULL), 0);
	/* 10.0.0.9 took 3 of 6: the global bucket is empty now. */
	ck_assert_int_eq(throttle_begin(t, "10.0.0.4", T0, &retry, &err),
	                 -EAGAIN);
	ck_assert_ptr_nonnull(strstr(err, "at once"));
	free(err);
	ck_assert_int_eq(try(t, "10.0.0.4", T0 + 100, 1, NULL), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_max_hashes)
{
	throttle *t = throttle_new(&conf);
	int retry;
	char *err = NULL;
	ck_assert_int_eq(throttle_begin(t, "10.0.0.1", T0, &retry, &err), 0);
	ck_assert_int_eq(throttle_begin(t, "10.0.0.2", T0, &retry, &err), 0);
	ck_assert_int_eq(throttle_begin(t, "10.0.0.3", T0, &retry, &err), -EBUSY);
	ck_assert_int_eq(retry, 1);
	free(err);
	throttle_end(t, "10.0.0.1", 1, T0);
	ck_assert_int_eq(try(t, "10.0.0.3", T0, 1, NULL), 0);
	throttle_end(t, "10.0.0.2", 1, T0);
	throttle_free(t);
}
END_TEST

START_TEST(test_lockout)
{
	throttle *t = throttle_new(&conf);
	int retry;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(try(t, "10.0.0.1", T0 + i * 1000, 0, NULL), 0);
	/* Locked out, even with a full bucket and the right password. */
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 10000, 1, &retry), -EAGAIN);
	ck_assert_int_ge(retry, 50);
	/* The address, not the user: others are not affected. */
	ck_assert_int_eq(try(t, "10.0.0.2", T0 + 10000, 1, NULL), 0);
	/* The window over, the address may try again. */
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 2000 + 60001, 1, NULL), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_failures_spread)
{
	throttle *t = throttle_new(&conf);
	/* Failures further apart than the window never add up. */
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(try(t, "10.0.0.1", T0 + i * 61000LL, 0, NULL), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_table_bound)
{
	throttle *t = throttle_new(&conf);
	char a[32];
	/* Lock out 10.0.0.1, then 4 other addresses: the table holds 4, so
	 * 10.0.0.1, the least recently seen, gives way. */
	for (int i = 0; i < 3; i++)
		try(t, "10.0.0.1", T0, 0, NULL);
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 1000, 1, NULL), -EAGAIN);
	for (int i = 0; i < 4; i++) {
		snprintf(a, sizeof a, "10.0.1.%d", i);
		ck_assert_int_eq(try(t, a, T0 + 2000 + i, 1, NULL), 0);
	}
	ck_assert_int_eq(try(t, "10.0.0.1", T0 + 3000, 1, NULL), 0);
	throttle_free(t);
}
END_TEST

START_TEST(test_ipv6_prefix)
{
	throttle *t = throttle_new(&conf);
	ck_assert_int_eq(try(t, "2001:db8::1", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "2001:db8::2", T0, 1, NULL), 0);
	ck_assert_int_eq(try(t, "2001:db8::ffff:3", T0, 1, NULL), 0);
	/* The same /64: one bucket of 3. */
	ck_assert_int_eq(try(t, "2001:db8::4", T0, 1, NULL), -EAGAIN);
	ck_assert_int_eq(try(t, "2001:db8:0:1::4", T0, 1, NULL), 0);
	throttle_free(t);
}
END_TEST

static Suite *
throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_addr_bucket);
	tcase_add_test(tc, test_global);
	tcase_add_test(tc, test_max_hashes);
	tcase_add_test(tc, test_lockout);
	tcase_add_test(tc, test_failures_spread);
	tcase_add_test(tc, test_table_bound);
	tcase_add_test(tc, test_ipv6_prefix);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(throttle_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
