/* SPDX-License-Identifier: MIT */
/*
 * diskcache.c - a worker's files by content hash, within a budget (see
 * diskcache.h).
 *
 * The index is an array in memory, searched linearly: a worker holds
 * hundreds of files, not millions, and each lookup precedes a transfer of
 * the file or a task's whole run.  Times are wall-clock milliseconds so
 * that files found at start (by their modification time) and files used
 * since compare on one scale.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "diskcache.h"
#include "err.h"
#include "fault.h"
#include "hash.h"
#include "log.h"
#include "xalloc.h"

struct dc_entry {
	char sha[65];
	uint64_t size;
	int64_t used;           /* clock_now_ms() of the last use */
};

struct diskcache {
	char *dir;
	uint64_t budget;
	pthread_mutex_t mu;     /* guards the members below */
	struct dc_entry *e;
	size_t n, cap;
	uint64_t bytes;
};

static struct dc_entry *
dc_find(diskcache *c, const char *sha)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].sha, sha) == 0)
			return &c->e[i];
	return NULL;
}

static void
dc_add(diskcache *c, const char *sha, uint64_t size, int64_t used)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->e = xrealloc(c->e, c->cap * sizeof *c->e);
	}
	struct dc_entry *e = &c->e[c->n++];
	memcpy(e->sha, sha, 64);
	e->sha[64] = '\0';
	e->size = size;
	e->used = used;
	c->bytes += size;
}

static void
dc_drop(diskcache *c, struct dc_entry *e)
{
	c->bytes -= e->size;
	*e = c->e[--c->n];
}

int
diskcache_open(const char *dir, uint64_t budget, diskcache **out, char **err)
{
	*out = NULL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(err, -errno, "cannot create %s: %s", dir,
		              strerror(errno));
	DIR *d = opendir(dir);
	if (d == NULL)
		return err_set(err, -errno, "cannot read %s: %s", dir,
		              strerror(errno));
	diskcache *c = xcalloc(1, sizeof *c);
	c->dir = xstrdup(dir);
	c->budget = budget;
	pthread_mutex_init(&c->mu, NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat sb;
		if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0) {
			/* A download a previous run left half done. */
			unlinkat(dirfd(d), de->d_name, 0);
		} else if (hash_is_hex(de->d_name) &&
		           fstatat(dirfd(d), de->d_name, &sb, 0) == 0 &&
		           S_ISREG(sb.st_mode)) {
			dc_add(c, de->d_name, (uint64_t)sb.st_size,
			       (int64_t)sb.st_mtim.tv_sec * 1000 +
			       sb.st_mtim.tv_nsec / 1000000);
		}
	}
	closedir(d);
	*out = c;
	return 0;
}

void
diskcache_close(diskcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->e);
	free(c->dir);
	free(c);
}

char *
diskcache_get(diskcache *c, const char *sha)
{
	if (!hash_is_hex(sha))
		return NULL;
	char *path = xasprintf("%s/%s", c->dir, sha);
	pthread_mutex_lock(&c->mu);
	struct dc_entry *e = dc_find(c, sha);
	if (e != NULL && access(path, R_OK) != 0) {
		dc_drop(c, e);          /* removed behind our back */
		e = NULL;
	}
	if (e != NULL)
		e->used = clock_now_ms();
	pthread_mutex_unlock(&c->mu);
	if (e == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

int
diskcache_tmp_open(const char *dir, const char *stem, char **path, char **err)
{
	/* A name of its own, made by mkostemps(), never an existing file or
	 * link: two tasks may fetch the same file at once.  ".tmp" at the
	 * end: a run that stopped half way leaves it to be removed. */
	*path = xasprintf("%s/%s.XXXXXX.tmp", dir, stem);
	int fd = mkostemps(*path, 4, O_CLOEXEC);
	if (fd < 0) {
		int rc = err_set(err, -errno, "cannot write %s: %s", *path,
		                 strerror(errno));
		free(*path);
		*path = NULL;
		return rc;
	}
	return fd;
}

const char *
diskcache_dir(const diskcache *c)
{
	return c->dir;
}

FILE *
diskcache_begin(diskcache *c, const char *sha, char **tmp, char **err)
{
	/* The sha came from the master: checked before it names a file. */
	*tmp = NULL;
	if (!hash_is_hex(sha)) {
		err_set(err, -EINVAL, "'%s' is not a SHA-256", sha);
		return NULL;
	}
	int fd = diskcache_tmp_open(c->dir, sha, tmp, err);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "wb");
	if (f == NULL) {
		err_set(err, -errno, "cannot write %s: %s", *tmp, strerror(errno));
		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return f;
}

/* Remove least recently used files, none used within the grace period
 * nor KEEP, until the total is within the budget.  Called with mu held. */
static void
dc_evict(diskcache *c, const char *keep)
{
	int64_t old = clock_now_ms() - DISKCACHE_GRACE_MS;
	while (c->bytes > c->budget) {
		struct dc_entry *v = NULL;
		for (size_t i = 0; i < c->n; i++)
			if (c->e[i].used < old && strcmp(c->e[i].sha, keep) != 0 &&
			    (v == NULL || c->e[i].used < v->used))
				v = &c->e[i];
		if (v == NULL)
			return;         /* all in use: over budget for now */
		char *path = xasprintf("%s/%s", c->dir, v->sha);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("cache: cannot remove %s: %s", path, strerror(errno));
		else
			log_info("cache: removed %s (%llu bytes, least recently "
			         "used) to stay within %llu bytes", v->sha,
			         (unsigned long long)v->size,
			         (unsigned long long)c->budget);
		free(path);
		dc_drop(c, v);
	}
}

char *
diskcache_commit(diskcache *c, const char *sha, const char *tmp,
                 uint64_t size, char **err)
{
	if (!hash_is_hex(sha)) {
		unlink(tmp);
		err_set(err, -EINVAL, "'%s' is not a SHA-256", sha);
		return NULL;
	}
	/* Tests: the file's bytes not landing (fault.h). */
	int fe = fault_check(FAULT_CACHE, FAULT_WRITE);
	if (fe != 0) {
		unlink(tmp);
		err_set(err, -fe, "cannot write %s: %s", tmp, strerror(fe));
		return NULL;
	}
	char *path = xasprintf("%s/%s", c->dir, sha);
	pthread_mutex_lock(&c->mu);
	if (rename(tmp, path) != 0) {
		err_set(err, -errno, "cannot rename %s: %s", tmp, strerror(errno));
		pthread_mutex_unlock(&c->mu);
		unlink(tmp);
		free(path);
		return NULL;
	}
	struct dc_entry *e = dc_find(c, sha);
	if (e != NULL)
		e->used = clock_now_ms();     /* the same bytes again */
	else
		dc_add(c, sha, size, clock_now_ms());
	dc_evict(c, sha);
	pthread_mutex_unlock(&c->mu);
	return path;
}

char *
diskcache_put(diskcache *c, const char *sha, const void *data, size_t len,
              char **err)
{
	char *have = diskcache_get(c, sha);
	if (have != NULL)
		return have;
	char *tmp;
	FILE *f = diskcache_begin(c, sha, &tmp, err);
	if (f == NULL)
		return NULL;
	int ok = fwrite(data, 1, len, f) == len;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok) {
		err_set(err, -EIO, "cannot write %s", tmp);
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	char *path = diskcache_commit(c, sha, tmp, len, err);
	free(tmp);
	return path;
}

uint64_t
diskcache_bytes(diskcache *c, size_t *files)
{
	pthread_mutex_lock(&c->mu);
	uint64_t b = c->bytes;
	if (files != NULL)
		*files = c->n;
	pthread_mutex_unlock(&c->mu);
	return b;
}
