/* SPDX-License-Identifier: MIT */
/*
 * diskcache.h - a worker's files by content hash, on disk, within a budget.
 *
 * A worker keeps the inputs it fetched and the outputs of its own tasks in
 * <data_dir>/cache, each named by its SHA-256, so that the next task that
 * reads one there finds it without a fetch (and the master, knowing which
 * worker holds what, places map tasks accordingly).  Files are named by
 * content, so a copy is never stale; past the budget, the least recently
 * used are removed.  A file used in the last DISKCACHE_GRACE_MS is never
 * removed (a task may be about to open the path it was given), so the
 * budget is a soft limit.  Removing a file a task has mapped is safe: the
 * mapping outlives the name.  Thread-safe.
 */
#ifndef KILN_DISKCACHE_H
#define KILN_DISKCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DISKCACHE_GRACE_MS 30000

typedef struct diskcache diskcache;

/* Open (creating) the cache in DIR holding up to BUDGET bytes: files a
 * previous run left are counted (oldest first by modification time), and
 * half-written ones removed.  0, or negative with *err. */
int diskcache_open(const char *dir, uint64_t budget, diskcache **out,
                   char **err);
void diskcache_close(diskcache *c);

/* The path of SHA (malloc()ed) if the cache holds it, marking it used;
 * NULL if not. */
char *diskcache_get(diskcache *c, const char *sha);

/* A new temporary file in DIR (a cache's directory, diskcache_dir()) named
 * after STEM: its descriptor, open for writing, and its path in *path
 * (malloc()ed), or negative with *err.  Named "*.tmp", which the next
 * diskcache_open() removes if it is still there. */
int diskcache_tmp_open(const char *dir, const char *stem, char **path,
                       char **err);
/* The cache's directory. */
const char *diskcache_dir(const diskcache *c);

/* Start writing SHA: an open temporary file in the cache directory, its
 * path in *tmp (malloc()ed).  NULL with *err. */
FILE *diskcache_begin(diskcache *c, const char *sha, char **tmp, char **err);
/* Put the complete temporary file TMP of SIZE bytes in place as SHA, then
 * remove least recently used files past the budget.  The path of SHA
 * (malloc()ed), or NULL with *err (TMP is removed either way). */
char *diskcache_commit(diskcache *c, const char *sha, const char *tmp,
                       uint64_t size, char **err);
/* Both at once for LEN bytes at DATA. */
char *diskcache_put(diskcache *c, const char *sha, const void *data,
                    size_t len, char **err);

/* Bytes and files held now. */
uint64_t diskcache_bytes(diskcache *c, size_t *files);

#endif
