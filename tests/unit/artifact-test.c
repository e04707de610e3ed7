/* SPDX-License-Identifier: MIT */
/*
 * artifact-test.c - src/artifact.c on a real directory: a put lands under
 * its hash and reads back; a put whose bytes hash to another name is
 * refused and leaves no temporary; a second put of a stored name keeps it;
 * a put in pieces; an abandoned put; get and stat of a missing artifact;
 * names that are not hashes.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"

#include <sodium.h>

#include "hash.h"
#include "sha256ni.h"
#include "artifact.h"
#include "auth.h"

static char dir[256];


static void
setup(void)
{
	tu_tmpdir(dir, sizeof dir, "art");
}

static void
teardown(void)
{
	tu_rmtree(dir);
}

/* How many files are under the store. */
static int nfiles;

static int
count_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)p; (void)sb; (void)f;
	nfiles += flag == FTW_F;
	return 0;
}

static int
files_in_store(void)
{
	nfiles = 0;
	nftw(dir, count_one, 8, FTW_PHYS);
	return nfiles;
}

/* The contents of artifact SHA, read through artifact_open; malloc()ed. */
static char *
read_back(const char *sha, uint64_t *size)
{
	int fd = -1;
	char *err = NULL;
	int rc = artifact_open(dir, sha, &fd, size, &err);
	ck_assert_msg(rc == 0, "artifact_open: %s", err ? err : "?");
	char *buf = calloc(1, (size_t)*size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)*size), (ssize_t)*size);
	close(fd);
	return buf;
}

/* Artifacts are named by hash_hex(): the SHA extensions' code (where the
 * CPU has them) must give libsodium's digest, whole or in pieces, for
 * every length around the block and padding boundaries. */
START_TEST(hash_matches_libsodium)
{
	static unsigned char buf[4096];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 7));
	char *abc = hash_hex("abc", 3);
	ck_assert_str_eq(abc, "ba7816bf8f01cfea414140de5dae2223"
	                 "b00361a396177a9cb410ff61f20015ad");
	free(abc);
	for (size_t len = 0; len < 300; len++) {
		unsigned char d[32];
		char want[65];
		crypto_hash_sha256(d, buf, len);
		sodium_bin2hex(want, sizeof want, d, sizeof d);
		char *got = hash_hex(buf, len);
		ck_assert_str_eq(got, want);
		free(got);
		hash_stream *h = hash_stream_new();
		hash_stream_add(h, buf, len / 3);
		hash_stream_add(h, buf + len / 3, len - len / 3);
		got = hash_stream_hex(h);
		ck_assert_str_eq(got, want);
		free(got);
	}
	if (sha256ni_usable()) {        /* the big-block path too */
		unsigned char a[32], b[32];
		struct sha256ni c;
		crypto_hash_sha256(a, buf, sizeof buf);
		sha256ni_init(&c);
		sha256ni_add(&c, buf, sizeof buf);
		sha256ni_final(&c, b);
		ck_assert_mem_eq(a, b, 32);
	}
}
END_TEST

START_TEST(put_and_get)
{
	const char *text = "the bytes of an artifact\n";
	char *sha = hash_hex(text, strlen(text)), *err = NULL;
	uint64_t size = 0;

	ck_assert_int_eq(artifact_put(dir, sha, text, strlen(text), &err), 0);
	ck_assert_ptr_null(err);
	char *got = read_back(sha, &size);
	ck_assert_uint_eq(size, strlen(text));
	ck_assert_str_eq(got, text);
	free(got);

	/* DIR/AB/SHA, private to the master, and nothing else. */
	char path[512];
	struct stat sb;
	snprintf(path, sizeof path, "%s/%.2s/%s", dir, sha, sha);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(files_in_store(), 1);

	ck_assert_int_eq(artifact_stat(dir, sha, &size, &err), 0);
	ck_assert_uint_eq(size, strlen(text));

	/* Again: the same file, still one. */
	ck_assert_int_eq(artifact_put(dir, sha, text, strlen(text), &err), 0);
	ck_assert_int_eq(files_in_store(), 1);
	free(sha);
}
END_TEST

START_TEST(wrong_hash_is_refused)
{
	const char *text = "what was meant", *other = "what was sent";
	char *sha = hash_hex(text, strlen(text)), *err = NULL;
	uint64_t size;

	ck_assert_int_eq(artifact_put(dir, sha, other, strlen(other), &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, sha));
	free(err);
	err = NULL;
	ck_assert_int_eq(files_in_store(), 0);   /* no temporary left */
	ck_assert_int_eq(artifact_stat(dir, sha, &size, &err), -ENOENT);
	free(err);

	/* A stored artifact is not replaced by wrong bytes either. */
	err = NULL;
	ck_assert_int_eq(artifact_put(dir, sha, text, strlen(text), &err), 0);
	ck_assert_int_eq(artifact_put(dir, sha, other, strlen(other), &err), -EINVAL);
	free(err);
	char *got = read_back(sha, &size);
	ck_assert_str_eq(got, text);
	free(got);
	ck_assert_int_eq(files_in_store(), 1);
	free(sha);
}
END_TEST

START_TEST(put_in_pieces)
{
	const char *text = "first piece, second piece, third piece";
	char *sha = hash_hex(text, strlen(text)), *err = NULL;
	artifact_writer *w = NULL;
	uint64_t size;

	ck_assert_int_eq(artifact_begin(dir, sha, &w, &err), 0);
	for (size_t off = 0; off < strlen(text); off += 7) {
		size_t n = strlen(text) - off < 7 ? strlen(text) - off : 7;
		ck_assert_int_eq(artifact_write(w, text + off, n, &err), 0);
	}
	/* Not visible before the commit: only the temporary exists. */
	ck_assert_int_eq(artifact_stat(dir, sha, &size, &err), -ENOENT);
	free(err);
	err = NULL;
	ck_assert_int_eq(files_in_store(), 1);
	ck_assert_int_eq(artifact_commit(w, &err), 0);
	char *got = read_back(sha, &size);
	ck_assert_str_eq(got, text);
	free(got);
	ck_assert_int_eq(files_in_store(), 1);

	/* An abandoned put leaves nothing. */
	const char *t2 = "never finished";
	char *sha2 = hash_hex(t2, strlen(t2));
	ck_assert_int_eq(artifact_begin(dir, sha2, &w, &err), 0);
	ck_assert_int_eq(artifact_write(w, t2, 5, &err), 0);
	artifact_abort(w);
	artifact_abort(NULL);
	ck_assert_int_eq(files_in_store(), 1);
	free(sha);
	free(sha2);
}
END_TEST

START_TEST(missing_and_bad_names)
{
	const char *missing =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char *err = NULL;
	uint64_t size;
	int fd = -1;

	ck_assert_int_eq(artifact_open(dir, missing, &fd, &size, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no artifact"));
	free(err);
	err = NULL;
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(artifact_stat(dir, missing, &size, &err), -ENOENT);
	free(err);

	/* Not hashes: refused before any path is made of them. */
	const char *bad[] = { "", "abc", "../../../../etc/passwd",
		"000000000000000000000000000000000000000000000000000000000000000A",
		"00000000000000000000000000000000000000000000000000000000000000000" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		artifact_writer *w = NULL;
		err = NULL;
		ck_assert_int_eq(artifact_put(dir, bad[i], "x", 1, &err), -EINVAL);
		free(err);
		err = NULL;
		ck_assert_int_eq(artifact_begin(dir, bad[i], &w, &err), -EINVAL);
		ck_assert_ptr_null(w);
		free(err);
		err = NULL;
		ck_assert_int_eq(artifact_open(dir, bad[i], &fd, &size, &err), -EINVAL);
		free(err);
		err = NULL;
		ck_assert_int_eq(artifact_stat(dir, bad[i], &size, &err), -EINVAL);
		free(err);
	}
	ck_assert_int_eq(files_in_store(), 0);
}
END_TEST

START_TEST(unwritable_store)
{
	const char *text = "x";
	char *sha = hash_hex(text, 1), *err = NULL;
	char sub[300];

	/* A store whose directory cannot be made says which and why. */
	snprintf(sub, sizeof sub, "%s/file", dir);
	FILE *f = fopen(sub, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(sub, sizeof sub, "%s/file/artifacts", dir);
	ck_assert_int_lt(artifact_put(sub, sha, text, 1, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "cannot create"));
	free(err);
	free(sha);
}
END_TEST

int
main(void)
{
	if (auth_init() != 0)
		return 1;
	Suite *s = suite_create("artifact");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hash_matches_libsodium);
	tcase_add_test(tc, put_and_get);
	tcase_add_test(tc, wrong_hash_is_refused);
	tcase_add_test(tc, put_in_pieces);
	tcase_add_test(tc, missing_and_bad_names);
	tcase_add_test(tc, unwritable_store);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
