/* SPDX-License-Identifier: MIT */
/*
 * cli-test.c - the command table of src/cli/: every entry is complete,
 * its option rows lie inside its options struct, and no option name or
 * letter is taken twice by a command (its own, or a shared one).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/out.h"

START_TEST(entries_are_complete)
{
	size_t n;
	const struct cli_cmd *const *t = cli_commands(&n);

	ck_assert_uint_gt(n, 20);
	for (size_t i = 0; i < n; i++) {
		const struct cli_cmd *c = t[i];
		ck_assert_msg(c->name != NULL && c->args != NULL &&
		              c->summary != NULL && c->help != NULL &&
		              c->exec != NULL, "entry %zu", i);
		ck_assert_msg(c->min_args <= c->max_args, "%s", c->name);
		ck_assert_msg((c->opts == NULL) == (c->opts_size == 0),
		              "%s: options and their struct", c->name);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(t[j]->name, c->name) != 0,
			              "%s twice", c->name);
	}
}
END_TEST

START_TEST(options_fit_and_differ)
{
	static const char *const shared[] = { "master", "json", "config",
	                                      "help", NULL };
	size_t n;
	const struct cli_cmd *const *t = cli_commands(&n);

	for (size_t i = 0; i < n; i++) {
		const struct cli_opt *o = t[i]->opts;
		for (size_t k = 0; o != NULL && o[k].name != NULL; k++) {
			ck_assert_msg(o[k].offset < t[i]->opts_size, "%s --%s",
			              t[i]->name, o[k].name);
			ck_assert_msg(o[k].letter != 'c' && o[k].letter != 'h',
			              "%s -%c", t[i]->name, o[k].letter);
			ck_assert_msg(o[k].type != CLI_CHOICE ||
			              o[k].choices != NULL, "%s --%s",
			              t[i]->name, o[k].name);
			for (size_t s = 0; shared[s] != NULL; s++)
				ck_assert_msg(strcmp(o[k].name, shared[s]) != 0,
				              "%s --%s", t[i]->name, o[k].name);
			for (size_t j = 0; j < k; j++)
				ck_assert_msg(strcmp(o[j].name, o[k].name) != 0 &&
				              (o[k].letter == 0 ||
				               o[j].letter != o[k].letter),
				              "%s --%s twice", t[i]->name,
				              o[k].name);
		}
	}
}
END_TEST

/* A job's log reaches the terminal with its lines and tabs, and without
 * the escape sequences that could rewrite what the operator sees. */
START_TEST(text_is_defanged)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char log[] = "step 1\tok\n\x1b]0;pwned\x07\x1b[2Jdone\r\n";

	cli_write_text(f, log, sizeof log - 1);
	fclose(f);
	ck_assert_str_eq(buf, "step 1\tok\n\\x1b]0;pwned\\x07\\x1b[2Jdone"
	                 "\\x0d\n");
	free(buf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, entries_are_complete);
	tcase_add_test(tc, options_fit_and_differ);
	tcase_add_test(tc, text_is_defanged);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
