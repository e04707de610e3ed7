/* SPDX-License-Identifier: MIT */
/*
 * diskcache-test.c - src/diskcache.c on a real directory: what a previous
 * run left is counted or removed, files past the budget go least recently
 * used first, never one used within the grace period, and a file removed
 * behind the cache's back is forgotten.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"

#include "diskcache.h"
#include "hash.h"

static char dir[256];


static void
setup(void)
{
	tu_tmpdir(dir, sizeof dir, "dc");
}

static void
teardown(void)
{
	tu_rmtree(dir);
}

/* The SHA-256 of TEXT, and TEXT written under it in the cache directory
 * with a modification time AGE_S seconds ago. */
static char *
old_file(const char *text, int age_s)
{
	char *sha = hash_hex(text, strlen(text));
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, sha);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	struct timespec ts[2] = { { time(NULL) - age_s, 0 },
	                          { time(NULL) - age_s, 0 } };
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	return sha;
}

static int
held(const char *sha)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, sha);
	return access(path, F_OK) == 0;
}

START_TEST(reopen_counts_and_cleans)
{
	char *a = old_file("aaaa", 100);
	char tmp[512], other[512];
	snprintf(tmp, sizeof tmp, "%s/%s.1.2.tmp", dir, a);
	snprintf(other, sizeof other, "%s/notes.txt", dir);
	fclose(fopen(tmp, "w"));
	fclose(fopen(other, "w"));
	diskcache *c = NULL;
	char *err = NULL;
	ck_assert_int_eq(diskcache_open(dir, 1000, &c, &err), 0);
	size_t files = 0;
	ck_assert_uint_eq(diskcache_bytes(c, &files), 4);
	ck_assert_uint_eq(files, 1);
	ck_assert_int_ne(access(tmp, F_OK), 0);      /* half-written: gone */
	ck_assert_int_eq(access(other, F_OK), 0);    /* not ours: left */
	char *p = diskcache_get(c, a);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(strstr(p, a));
	free(p);
	ck_assert_ptr_null(diskcache_get(c, "../etc/passwd"));
	/* The same bytes stored again: counted once. */
	p = diskcache_put(c, a, "aaaa", 4, &err);
	ck_assert_ptr_nonnull(p);
	free(p);
	ck_assert_uint_eq(diskcache_bytes(c, NULL), 4);
	/* Removed behind its back: forgotten. */
	p = diskcache_get(c, a);
	ck_assert_ptr_nonnull(p);
	unlink(p);
	free(p);
	ck_assert_ptr_null(diskcache_get(c, a));
	ck_assert_uint_eq(diskcache_bytes(c, &files), 0);
	ck_assert_uint_eq(files, 0);
	diskcache_close(c);
	free(a);
}
END_TEST

START_TEST(evicts_least_recently_used)
{
	/* Three files of 10 bytes, last used 300, 200 and 100 s ago. */
	char *a = old_file("0123456789", 300);
	char *b = old_file("abcdefghij", 200);
	char *c3 = old_file("ABCDEFGHIJ", 100);
	diskcache *c = NULL;
	char *err = NULL;
	ck_assert_int_eq(diskcache_open(dir, 35, &c, &err), 0);
	ck_assert_uint_eq(diskcache_bytes(c, NULL), 30);
	free(diskcache_get(c, a));          /* the oldest is used again */
	/* 10 more: over 35 by 5, so one goes: b, the least recently used. */
	char *d = hash_hex("klmnopqrst", 10);
	char *p = diskcache_put(c, d, "klmnopqrst", 10, &err);
	ck_assert_msg(p != NULL, "%s", err ? err : "");
	free(p);
	ck_assert(held(a));
	ck_assert(!held(b));
	ck_assert(held(c3));
	ck_assert(held(d));
	ck_assert_uint_eq(diskcache_bytes(c, NULL), 30);
	/* Streamed in: c3 goes next; a, d and e are in their grace period
	 * and stay though the cache is over its budget then. */
	char *e = hash_hex("uvwxyz0123456789", 16);
	char *tmp = NULL;
	FILE *f = diskcache_begin(c, e, &tmp, &err);
	ck_assert_ptr_nonnull(f);
	fputs("uvwxyz0123456789", f);
	fclose(f);
	p = diskcache_commit(c, e, tmp, 16, &err);
	ck_assert_ptr_nonnull(p);
	free(p);
	free(tmp);
	ck_assert(!held(c3));
	ck_assert(held(a) && held(d) && held(e));
	ck_assert_uint_eq(diskcache_bytes(c, NULL), 36);
	/* A commit of something not a hash is refused; its file removed. */
	f = diskcache_begin(c, e, &tmp, &err);
	fclose(f);
	ck_assert_ptr_null(diskcache_commit(c, "nothex", tmp, 0, &err));
	ck_assert_ptr_nonnull(strstr(err, "not a SHA-256"));
	ck_assert_int_ne(access(tmp, F_OK), 0);
	free(tmp);
	free(err);
	diskcache_close(c);
	free(a); free(b); free(c3); free(d); free(e);
}
END_TEST

/* Issue 13: a "../" hash from the master made the worker create and
 * unlink files outside its cache.  Temporaries are mkstemp()'s: two at
 * once of one hash never share a file, and they are the owner's only. */
START_TEST(begin_checks_and_temporaries)
{
	diskcache *c = NULL;
	char *err = NULL, *tmp = NULL, *tmp2 = NULL;
	ck_assert_int_eq(diskcache_open(dir, 1000, &c, &err), 0);
	char bad[65];
	memset(bad, 'a', 64);
	memcpy(bad, "../", 3);
	bad[64] = '\0';
	ck_assert_ptr_null(diskcache_begin(c, bad, &tmp, &err));
	ck_assert_ptr_null(tmp);
	ck_assert_ptr_nonnull(strstr(err, "not a SHA-256"));
	free(err);
	err = NULL;
	char *sha = hash_hex("x", 1);
	FILE *f1 = diskcache_begin(c, sha, &tmp, &err);
	FILE *f2 = diskcache_begin(c, sha, &tmp2, &err);
	ck_assert_ptr_nonnull(f1);
	ck_assert_ptr_nonnull(f2);
	ck_assert_str_ne(tmp, tmp2);
	ck_assert_int_eq(strcmp(tmp + strlen(tmp) - 4, ".tmp"), 0);
	struct stat sb;
	ck_assert_int_eq(stat(tmp, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	fputs("x", f1);
	fputs("x", f2);
	fclose(f1);
	fclose(f2);
	char *p1 = diskcache_commit(c, sha, tmp, 1, &err);
	char *p2 = diskcache_commit(c, sha, tmp2, 1, &err);
	ck_assert_ptr_nonnull(p1);
	ck_assert_ptr_nonnull(p2);
	free(p1); free(p2); free(tmp); free(tmp2); free(sha);
	diskcache_close(c);
}
END_TEST

START_TEST(open_fails_clearly)
{
	diskcache *c = NULL;
	char *err = NULL;
	ck_assert_int_lt(diskcache_open("/proc/kiln-no/such", 10, &c, &err), 0);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "cannot create /proc/kiln-no/such"));
	free(err);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("diskcache");
	TCase *tc = tcase_create("diskcache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reopen_counts_and_cleans);
	tcase_add_test(tc, evicts_least_recently_used);
	tcase_add_test(tc, open_fails_clearly);
	tcase_add_test(tc, begin_checks_and_temporaries);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
