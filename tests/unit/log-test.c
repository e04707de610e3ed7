/* SPDX-License-Identifier: MIT */
/*
 * log-test.c - src/log.c writes one line per message, whatever the
 * message holds: newlines and terminal escapes from the network come out
 * as \xNN, so nobody can forge a log line or drive an operator's terminal.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"

/* What log_msg wrote for a message naming user ARG, via a pipe in place
 * of stderr. */
static void
capture(char *buf, size_t len, const char *arg)
{
	int p[2], saved = dup(STDERR_FILENO);

	ck_assert_int_eq(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	log_msg(LOG_LEVEL_WARN, "user %s logged in", arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], buf, len - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
}

START_TEST(one_line_whatever_the_message)
{
	char out[4096];

	log_init("node", LOG_LEVEL_INFO);
	capture(out, sizeof out, "eve\n2026-12-05T00:00:00.000Z master info: admin ok\x1b[2J");
	ck_assert_ptr_nonnull(strstr(out, " node warn: user eve\\x0a2026"));
	ck_assert_ptr_nonnull(strstr(out, "admin ok\\x1b[2J logged in\n"));
	ck_assert_ptr_null(strchr(out, '\x1b'));
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);

	/* A message longer than a line is cut, still one line. */
	char big[5000];
	memset(big, '\x07', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	capture(out, sizeof out, big);
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
	ck_assert_ptr_null(strchr(out, '\x07'));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, one_line_whatever_the_message);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
