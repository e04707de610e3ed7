/* SPDX-License-Identifier: MIT */
/*
 * artifact.c - the master's content-addressed artifact store (see
 * artifact.h): files named by their SHA-256, written through a mkstemp()
 * temporary that is renamed into place only once its bytes hash to the
 * name, so a reader never sees half an artifact or a wrong one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* sync_file_range() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "err.h"
#include "hash.h"
#include "artifact.h"
#include "auth.h"
#include "fault.h"
#include "xalloc.h"

/* Writeback is started every ARTIFACT_FLUSH_AFTER bytes of an upload
 * (RocksDB's bytes_per_sync, PostgreSQL's backend_flush_after): the disk
 * writes while the rest arrives, and the fsync at the end waits for the
 * last piece, not for the whole file. */
#define ARTIFACT_FLUSH_AFTER ((off_t)8 << 20)

struct artifact_writer {
	char *sha;
	char *path;             /* where the artifact goes */
	char *tmp;              /* the temporary; NULL if none is left */
	int fd;                 /* open on tmp; -1 if already stored */
	hash_stream *h;         /* the bytes so far */
	off_t written;          /* bytes written to fd */
	off_t flushed;          /* bytes whose writeback was started */
};

static int
bad_name(const char *sha, char **err)
{
	return err_set(err, -EINVAL, "'%s' is not an artifact name "
	              "(64 lowercase hex digits)", sha);
}

/* DIR/AB/SHA, malloc()ed. */
static char *
artifact_path(const char *dir, const char *sha)
{
	return xasprintf("%s/%.2s/%s", dir, sha, sha);
}

static int
make_dir(const char *path, char **err)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		int e = errno;
		return err_set(err, -e, "cannot create %s: %s", path, strerror(e));
	}
	return 0;
}

int
artifact_begin(const char *dir, const char *sha, artifact_writer **out,
               char **err)
{
	*out = NULL;
	if (!hash_is_hex(sha))
		return bad_name(sha, err);
	char *sub = xasprintf("%s/%.2s", dir, sha);
	int rc = make_dir(dir, err);
	if (rc == 0)
		rc = make_dir(sub, err);
	free(sub);
	if (rc != 0)
		return rc;
	artifact_writer *w = xcalloc(1, sizeof *w);
	w->sha = xstrdup(sha);
	w->path = artifact_path(dir, sha);
	w->fd = -1;
	w->h = hash_stream_new();
	struct stat sb;
	if (stat(w->path, &sb) != 0) {
		/* Not stored yet: beside its place, so the rename stays on
		 * one file system. */
		w->tmp = xasprintf("%s.tmp.XXXXXX", w->path);
		w->fd = mkostemp(w->tmp, O_CLOEXEC);
		if (w->fd < 0) {
			int e = errno;
			rc = err_set(err, -e, "cannot create %s: %s", w->tmp, strerror(e));
			free(w->tmp);
			w->tmp = NULL;
			artifact_abort(w);
			return rc;
		}
	}
	*out = w;
	return 0;
}

int
artifact_write(artifact_writer *w, const void *data, size_t len, char **err)
{
	const char *p = data;

	hash_stream_add(w->h, data, len);
	while (w->fd >= 0 && len > 0) {
		ssize_t n = fault_check(FAULT_ARTIFACT, FAULT_WRITE) ? -1 :
		            write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			return err_set(err, -e, "cannot write %s: %s", w->tmp, strerror(e));
		}
		p += n;
		len -= (size_t)n;
		w->written += n;
	}
	if (w->fd >= 0 && w->written - w->flushed >= ARTIFACT_FLUSH_AFTER) {
		/* Only a start (no wait); a failure shows at the fsync. */
		(void)sync_file_range(w->fd, w->flushed, w->written - w->flushed,
		                      SYNC_FILE_RANGE_WRITE);
		w->flushed = w->written;
	}
	return 0;
}

int
artifact_commit(artifact_writer *w, char **err)
{
	char *got = hash_stream_hex(w->h);   /* frees the hasher */
	int rc = 0;

	w->h = NULL;
	if (strcmp(got, w->sha) != 0) {
		rc = err_set(err, -EINVAL, "the bytes hash to %s, not %s", got, w->sha);
	} else if (w->fd >= 0) {
		int fd = w->fd, e = 0;
		w->fd = -1;
		if (fault_check(FAULT_ARTIFACT, FAULT_SYNC) != 0 || fsync(fd) != 0)
			e = errno;
		if (close(fd) != 0 && e == 0)
			e = errno;
		if (e == 0 && rename(w->tmp, w->path) != 0)
			e = errno;
		if (e != 0) {
			rc = err_set(err, -e, "cannot store %s: %s", w->path, strerror(e));
		} else {
			free(w->tmp);   /* renamed: nothing left to remove */
			w->tmp = NULL;
		}
	}
	free(got);
	artifact_abort(w);
	return rc;
}

void
artifact_abort(artifact_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp != NULL)
		unlink(w->tmp);
	if (w->h != NULL)
		free(hash_stream_hex(w->h));
	free(w->tmp);
	free(w->path);
	free(w->sha);
	free(w);
}

int
artifact_put(const char *dir, const char *sha, const void *data, size_t len,
             char **err)
{
	artifact_writer *w;
	int rc = artifact_begin(dir, sha, &w, err);

	if (rc != 0)
		return rc;
	if ((rc = artifact_write(w, data, len, err)) != 0) {
		artifact_abort(w);
		return rc;
	}
	return artifact_commit(w, err);
}

int
artifact_open(const char *dir, const char *sha, int *fd, uint64_t *size,
              char **err)
{
	if (!hash_is_hex(sha))
		return bad_name(sha, err);
	char *path = artifact_path(dir, sha);
	struct stat sb;
	int f = fault_check(FAULT_ARTIFACT, FAULT_READ) ? -1 :
	        open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	if (f < 0 || fstat(f, &sb) != 0) {
		int e = errno;
		if (f >= 0)
			close(f);
		rc = e == ENOENT ? err_set(err, -e, "no artifact %s", sha) :
		     err_set(err, -e, "cannot open %s: %s", path, strerror(e));
	} else {
		*fd = f;
		*size = (uint64_t)sb.st_size;
	}
	free(path);
	return rc;
}

int
artifact_stat(const char *dir, const char *sha, uint64_t *size, char **err)
{
	if (!hash_is_hex(sha))
		return bad_name(sha, err);
	char *path = artifact_path(dir, sha);
	struct stat sb;
	int rc = 0;
	if (stat(path, &sb) != 0) {
		int e = errno;
		rc = e == ENOENT ? err_set(err, -e, "no artifact %s", sha) :
		     err_set(err, -e, "cannot stat %s: %s", path, strerror(e));
	} else {
		*size = (uint64_t)sb.st_size;
	}
	free(path);
	return rc;
}

int
artifact_room(const char *dir, uint64_t len, char **err)
{
	struct statvfs sv;
	int rc = make_dir(dir, err);    /* the first upload makes it */

	if (rc != 0)
		return rc;
	if (statvfs(dir, &sv) != 0) {
		int e = errno;
		return err_set(err, -e, "cannot see the free space of %s: %s",
		              dir, strerror(e));
	}
	uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	if (avail < len)
		return err_set(err, -ENOSPC, "no room for an artifact of %llu "
		              "bytes: %llu bytes free in %s",
		              (unsigned long long)len, (unsigned long long)avail,
		              dir);
	return 0;
}

int
artifact_remove(const char *dir, const char *sha, char **err)
{
	if (!hash_is_hex(sha))
		return bad_name(sha, err);
	char *path = artifact_path(dir, sha);
	int rc = 0;
	if (unlink(path) != 0 && errno != ENOENT)
		rc = err_set(err, -errno, "cannot remove %s: %s", path, strerror(errno));
	free(path);
	return rc;
}
