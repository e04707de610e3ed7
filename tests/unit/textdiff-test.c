/* SPDX-License-Identifier: MIT */
/*
 * textdiff-test.c - the line diff of DAG versions (src/textdiff.c): the
 * exact unified diff of known pairs (as diff -u writes them), equal
 * texts give nothing, and a diff over the LCS bound is still a diff that
 * rebuilds the new text.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textdiff.h"

static const struct {
	const char *a, *b;
	int ctx;
	const char *want;
} cases[] = {
	{ "x\n", "x\n", 3, "" },
	{ "", "", 3, "" },
	{ "", "a\n", 3, "--- A\n+++ B\n@@ -0,0 +1,1 @@\n+a\n" },
	{ "a\n", "", 3, "--- A\n+++ B\n@@ -1,1 +0,0 @@\n-a\n" },
	/* One line changed in the middle: three lines of context. */
	{ "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n", 3,
	  "--- A\n+++ B\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n" },
	/* Two changes far apart: two hunks. */
	{ "a\nb\nc\nd\ne\nf\ng\nh\n", "A\nb\nc\nd\ne\nf\ng\nH\n", 1,
	  "--- A\n+++ B\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -7,2 +7,2 @@\n g\n-h\n+H\n" },
	/* An insertion between kept lines. */
	{ "a\nc\n", "a\nb\nc\n", 0, "--- A\n+++ B\n@@ -1,0 +2,1 @@\n+b\n" },
	/* The LCS keeps the common lines out of the middle. */
	{ "p\nx\nq\ny\nr\n", "x\nQ\ny\nr\ns\n", 0,
	  "--- A\n+++ B\n@@ -1,1 +0,0 @@\n-p\n@@ -3,1 +2,1 @@\n-q\n+Q\n"
	  "@@ -5,0 +5,1 @@\n+s\n" },
};

START_TEST(test_cases)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct textdiff_stats st;
		char *d = textdiff_unified(cases[i].a, cases[i].b, "A", "B",
		                           cases[i].ctx, &st);
		ck_assert_msg(strcmp(d, cases[i].want) == 0,
		              "case %zu:\n%s\nwant:\n%s", i, d, cases[i].want);
		ck_assert_int_eq(st.hunks == 0, *cases[i].want == '\0');
		free(d);
	}
}
END_TEST

/* Apply unified diff D to A: what diff -u's reader (patch) would make. */
static char *
apply(const char *a, const char *d)
{
	size_t cap = strlen(a) + strlen(d) + 1, n = 0, line = 1;
	char *out = calloc(1, cap);
	const char *p = strstr(d, "\n@@");
	while (p != NULL && *p != '\0') {
		p++;
		if (strncmp(p, "@@", 2) == 0) {
			size_t sa, la, sb, lb;
			ck_assert_int_eq(sscanf(p, "@@ -%zu,%zu +%zu,%zu @@", &sa,
			                        &la, &sb, &lb), 4);
			size_t upto = la ? sa : sa + 1;
			while (line < upto) {     /* copy what the hunk skips */
				const char *nl = strchr(a, '\n');
				memcpy(out + n, a, (size_t)(nl - a) + 1);
				n += (size_t)(nl - a) + 1;
				a = nl + 1;
				line++;
			}
		} else if (*p == ' ' || *p == '-') {
			const char *nl = strchr(a, '\n');
			if (*p == ' ') {
				memcpy(out + n, a, (size_t)(nl - a) + 1);
				n += (size_t)(nl - a) + 1;
			}
			a = nl + 1;
			line++;
		} else if (*p == '+') {
			const char *nl = strchr(p, '\n');
			memcpy(out + n, p + 1, (size_t)(nl - p));
			n += (size_t)(nl - p);
		}
		p = strchr(p, '\n');
	}
	strcpy(out + n, a);
	return out;
}

START_TEST(test_rebuilds)
{
	/* 3000 lines against 3000 others with every 7th changed: a table
	 * over TEXTDIFF_CELLS_MAX once the head and tail are set aside. */
	size_t n = 3000;
	char *a = malloc(n * 16), *b = malloc(n * 16);
	size_t la = 0, lb = 0;
	for (size_t i = 0; i < n; i++) {
		la += (size_t)sprintf(a + la, "line %zu\n", i);
		lb += (size_t)sprintf(b + lb, i % 7 == 3 ? "LINE %zu\n" :
		                      "line %zu\n", i);
	}
	for (int ctx = 0; ctx <= 3; ctx += 3) {
		struct textdiff_stats st;
		char *d = textdiff_unified(a, b, "a", "b", ctx, &st);
		ck_assert(st.added >= n / 7 && st.removed >= n / 7);
		char *got = apply(a, d);
		ck_assert_str_eq(got, b);
		free(got);
		free(d);
	}
	/* Small enough for the table: the shortest diff. */
	struct textdiff_stats st;
	char *d = textdiff_unified("a\nb\nc\nd\n", "a\nB\nc\nD\n", "a", "b", 3, &st);
	ck_assert_uint_eq(st.added, 2);
	ck_assert_uint_eq(st.removed, 2);
	char *got = apply("a\nb\nc\nd\n", d);
	ck_assert_str_eq(got, "a\nB\nc\nD\n");
	free(got);
	free(d);
	free(a);
	free(b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("textdiff");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_cases);
	tcase_add_test(tc, test_rebuilds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
