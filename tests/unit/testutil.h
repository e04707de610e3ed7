/* SPDX-License-Identifier: MIT */
/*
 * testutil.h - what the unit tests share: a fresh directory per test under
 * /tmp, and its removal, so that no test sees another's files.
 */
#ifndef KILN_TESTUTIL_H
#define KILN_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <check.h>

/* Make /tmp/kiln-NAME-XXXXXX into BUF (LEN bytes); the test fails if it
 * cannot. */
static inline void
tu_tmpdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/kiln-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static inline int
tu_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(p);
}

/* rm -rf PATH: what a test made under its directory. */
static inline void
tu_rmtree(const char *path)
{
	nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
