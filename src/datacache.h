/* SPDX-License-Identifier: MIT */
/*
 * datacache.h - a worker's inputs kept mapped in memory between tasks.
 *
 * Inputs are files named by their content hash in the worker's cache
 * directory, so a mapping never goes stale.  An iterative algorithm's map
 * tasks read the same partitions at every iteration; keeping them mapped
 * (and their pages resident) makes each pass read memory instead of
 * mapping, faulting and unmapping the file again.  Mappings no task uses
 * are unmapped, least recently used first, once the total passes the
 * budget.  Thread-safe; one process-wide cache.
 */
#ifndef KILN_DATACACHE_H
#define KILN_DATACACHE_H

#include <stddef.h>

typedef struct datacache_ref datacache_ref;

/* Bytes of unused mappings kept (default 1 GiB). */
void datacache_set_budget(size_t bytes);

/* Map PATH read-only: *data (8-byte aligned) and *len, valid until
 * datacache_release(*ref).  0, or negative with *err. */
int datacache_map(const char *path, const void **data, size_t *len,
                  datacache_ref **ref, char **err);
void datacache_release(datacache_ref *ref);

/* Unmap everything unused (tests, shutdown). */
void datacache_flush(void);

#endif
