/* SPDX-License-Identifier: MIT */
/*
 * datacache.c - a worker's inputs kept mapped in memory between tasks
 * (see datacache.h).  A short list under one mutex: a worker holds tens
 * of partitions, not thousands.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datacache.h"
#include "err.h"
#include "xalloc.h"

struct datacache_ref {
	char *path;
	void *addr;             /* NULL for an empty file */
	size_t len;
	int refs;
	uint64_t used;          /* tick of the last release */
	struct datacache_ref *next;
};

static pthread_mutex_t dc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct datacache_ref *dc_list;
static size_t dc_budget = (size_t)1 << 30;
static size_t dc_idle;          /* bytes mapped that no task uses */
static uint64_t dc_tick;
static const uint64_t dc_empty;  /* what an empty file maps to */

static void
dc_unmap(struct datacache_ref *r)
{
	if (r->addr != NULL)
		munmap(r->addr, r->len);
	free(r->path);
	free(r);
}

/* Unmap idle entries, oldest first, until at most KEEP idle bytes
 * remain.  Lock held. */
static void
dc_trim(size_t keep)
{
	while (dc_idle > keep) {
		struct datacache_ref **oldest = NULL;
		for (struct datacache_ref **pp = &dc_list; *pp != NULL;
		     pp = &(*pp)->next)
			if ((*pp)->refs == 0 &&
			    (oldest == NULL || (*pp)->used < (*oldest)->used))
				oldest = pp;
		if (oldest == NULL)
			break;
		struct datacache_ref *r = *oldest;
		*oldest = r->next;
		dc_idle -= r->len;
		dc_unmap(r);
	}
}

void
datacache_set_budget(size_t bytes)
{
	pthread_mutex_lock(&dc_mu);
	dc_budget = bytes;
	dc_trim(dc_budget);
	pthread_mutex_unlock(&dc_mu);
}

int
datacache_map(const char *path, const void **data, size_t *len,
              datacache_ref **ref, char **err)
{
	pthread_mutex_lock(&dc_mu);
	for (struct datacache_ref *r = dc_list; r != NULL; r = r->next) {
		if (strcmp(r->path, path) != 0)
			continue;
		if (r->refs++ == 0)
			dc_idle -= r->len;
		pthread_mutex_unlock(&dc_mu);
		*data = r->addr ? r->addr : (const void *)&dc_empty;
		*len = r->len;
		*ref = r;
		return 0;
	}
	pthread_mutex_unlock(&dc_mu);

	/* Map outside the lock: populating a large file takes a while. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "%s is not a regular file", path);
	}
	void *addr = NULL;
	if (st.st_size > 0) {
		addr = mmap(NULL, (size_t)st.st_size, PROT_READ,
		            MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (addr == MAP_FAILED) {
			int e = errno;
			close(fd);
			return err_set(err, -e, "cannot map %s: %s", path, strerror(e));
		}
	}
	close(fd);
	struct datacache_ref *r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	r->addr = addr;
	r->len = (size_t)st.st_size;
	r->refs = 1;
	pthread_mutex_lock(&dc_mu);
	/* Another task may have mapped it meanwhile: keep one mapping. */
	for (struct datacache_ref *o = dc_list; o != NULL; o = o->next) {
		if (strcmp(o->path, path) != 0)
			continue;
		if (o->refs++ == 0)
			dc_idle -= o->len;
		pthread_mutex_unlock(&dc_mu);
		dc_unmap(r);
		*data = o->addr ? o->addr : (const void *)&dc_empty;
		*len = o->len;
		*ref = o;
		return 0;
	}
	r->next = dc_list;
	dc_list = r;
	pthread_mutex_unlock(&dc_mu);
	*data = addr ? addr : (const void *)&dc_empty;
	*len = r->len;
	*ref = r;
	return 0;
}

void
datacache_release(datacache_ref *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&dc_mu);
	if (--r->refs == 0) {
		r->used = ++dc_tick;
		dc_idle += r->len;
		dc_trim(dc_budget);
	}
	pthread_mutex_unlock(&dc_mu);
}

void
datacache_flush(void)
{
	pthread_mutex_lock(&dc_mu);
	dc_trim(0);
	pthread_mutex_unlock(&dc_mu);
}
