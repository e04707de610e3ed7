/* SPDX-License-Identifier: MIT */
/*
 * cli-test.c - the command table of src/cli/: every entry is complete,
 * its option rows lie inside its options struct, and no option name or
 * letter is taken twice by a command (its own, or a shared one); text
 * from the master is defanged; numbers and results read well.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Numbers to four significant digits, whole ones as integers. */
START_TEST(numbers_read_well)
{
	static const struct { double v; const char *want; } t[] = {
		{ 0.99571234, "0.9957" }, { 1e-9, "1e-09" }, { 309, "309" },
		{ 1700.0, "1700" }, { -3, "-3" }, { 66367.7327, "66367.7" },
		{ 31.484801650457996, "31.48" }, { 0.00491001, "0.00491" },
		{ 1796515040830.0, "1796515040830" }, { 2.5e20, "2.5e+20" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ck_assert_str_eq(cli_fmt_num(t[i].v, buf), t[i].want);
}
END_TEST

/* What cli_result_print writes for the JSON TEXT; caller frees. */
static char *
result_text(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	FILE *f = tmpfile();
	int saved = dup(1);
	char *out = calloc(1, 8192);

	ck_assert_ptr_nonnull(j);
	fflush(stdout);
	dup2(fileno(f), 1);
	cli_result_print(j);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	ck_assert_uint_lt(fread(out, 1, 8191, f), 8191);
	fclose(f);
	json_decref(j);
	return out;
}

/* A result as indented key: value lines, long arrays cut short; a
 * leaderboard's models as a table, best first. */
START_TEST(results_read_well)
{
	char *s = result_text("{\"rows\": 309, \"s\": {\"m\": \"ar\", "
	        "\"f\": [1.5, 2.25, 3, 4, 5, 6, 7, 8, 9, 10.123456, 11]}, "
	        "\"few\": [0.5, null], \"list\": [{\"a\": 1}]}");
	ck_assert_str_eq(s, "result:\n  rows: 309\n  s:\n    m: ar\n"
	                 "    f: [1.5, 2.25, 3, 4, 5, 6, 7, 8, ... (3 more)]\n"
	                 "  few: [0.5, null]\n  list:\n    [0]:\n      a: 1\n");
	free(s);
	s = result_text("{\"primary\": \"mase\", \"higher_is_better\": false,"
	        " \"best\": \"ar\", \"metrics\": [\"mase\"], \"models\": ["
	        "{\"rank\": 1, \"model\": \"ar\", \"params\": {\"p\": 9},"
	        " \"metrics\": {\"mase\": {\"mean\": 1.0691, \"std\": 0.4862}},"
	        " \"train_ms\": {\"mean\": 0.56}},"
	        "{\"rank\": 2, \"model\": \"naive\", \"params\": {},"
	        " \"metrics\": {\"mase\": {\"mean\": 12.5, \"std\": 3}},"
	        " \"vs_best\": {\"p\": 0.0004}}]}");
	ck_assert_str_eq(s, "result:\n  primary: mase\n"
	                 "  higher_is_better: false\n  best: ar\n  models:\n"
	                 "    RANK  MODEL  PARAMS  MASE \u2193         "
	                 "TRAIN TIME  P VS BEST\n"
	                 "    1     ar     p=9     1.069 \u00b1 0.486  0.56ms\n"
	                 "    2     naive          12.50 \u00b1 3.00   -           "
	                 "< 0.001 *\n"
	                 "    ranked by mase (lower is better); mean \u00b1 "
	                 "standard deviation over the folds; p from a paired "
	                 "t-test against the best (* below 0.05)\n");
	free(s);
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
	tcase_add_test(tc, numbers_read_well);
	tcase_add_test(tc, results_read_well);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
