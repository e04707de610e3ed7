/* SPDX-License-Identifier: MIT */
/*
 * dynlib-test.c - dynlib_load: symbols are found in the first library of
 * the list that loads; a library that does not load, or lacks a symbol,
 * is refused with a message that names it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dynlib.h"

static struct {
	pid_t (*getpid)(void);
	size_t (*strlen)(const char *);
} fns;

static const struct dynlib_sym libc_syms[] = {
	DYNLIB_SYM("getpid", fns.getpid),
	DYNLIB_SYM("strlen", fns.strlen),
};

START_TEST(finds_symbols)
{
	static const char *const sonames[] = { "libc.so.6", NULL };
	char *err = NULL;

	memset(&fns, 0, sizeof fns);
	ck_assert_int_eq(dynlib_load(sonames, NULL, libc_syms, 2, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(fns.getpid(), getpid());
	ck_assert_uint_eq(fns.strlen("kiln"), 4);
}
END_TEST

START_TEST(takes_the_first_that_loads)
{
	static const char *const sonames[] = {
		"libkiln-no-such-library.so.9", "libc.so.6", NULL
	};
	char *err = NULL;

	memset(&fns, 0, sizeof fns);
	ck_assert_int_eq(dynlib_load(sonames, NULL, libc_syms, 2, &err), 0);
	ck_assert_int_eq(fns.getpid(), getpid());
}
END_TEST

START_TEST(missing_library)
{
	static const char *const sonames[] = {
		"libkiln-no-such-library.so.9", "libkiln-nor-this.so.1", NULL
	};
	char *err = NULL;

	ck_assert_int_lt(dynlib_load(sonames, "Debian package kiln-nothing",
	                             libc_syms, 2, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strncmp(err, "cannot load libkiln-no-such-library.so.9: ",
	                      42) == 0, "%s", err);
	ck_assert_msg(strstr(err, "(Debian package kiln-nothing)") != NULL,
	              "%s", err);
	free(err);
}
END_TEST

START_TEST(missing_symbol)
{
	static const char *const sonames[] = { "libc.so.6", NULL };
	void (*nothing)(void) = NULL;
	const struct dynlib_sym syms[] = {
		DYNLIB_SYM("getpid", fns.getpid),
		DYNLIB_SYM("kiln_no_such_function", nothing),
	};
	char *err = NULL;

	ck_assert_int_lt(dynlib_load(sonames, NULL, syms, 2, &err), 0);
	ck_assert_str_eq(err, "libc.so.6 lacks kiln_no_such_function");
	ck_assert_ptr_null(nothing);
	free(err);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dynlib");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, finds_symbols);
	tcase_add_test(tc, takes_the_first_that_loads);
	tcase_add_test(tc, missing_library);
	tcase_add_test(tc, missing_symbol);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
