/* SPDX-License-Identifier: MIT */
/*
 * dagver.h - DAG versions (Airflow 3's DAG versioning): every text of a
 * DAG file the master loads is kept in the store with its SHA-256 and
 * when it was first seen, numbered 1, 2, ... per DAG; a run names the
 * version it runs.  The pipeline engine keeps the current version of each
 * DAG parsed; the few older ones that active runs still need (a run
 * started before an edit, an old run whose task is cleared) are parsed
 * again from their stored text on demand and held in a small cache.
 */
#ifndef KILN_DAGVER_H
#define KILN_DAGVER_H

#include <stddef.h>

#include <jansson.h>

#include "dag.h"
#include "store.h"

/* At most this many old versions parsed at once (in use or not). */
#define DAGVER_CACHE_MAX 32
/* A diff of two versions is refused past this many bytes of output. */
#define DAGVER_DIFF_MAX ((size_t)2 << 20)

typedef struct dagver dagver;

dagver *dagver_new(void);
void dagver_free(dagver *v);

/* Record D's file text TEXT (LEN bytes, of which D->digest is the hash)
 * as a version of D unless it is its latest already.  0 and *version,
 * or the store's error.  Writes (waits for a commit). */
int dagver_record(store *st, const struct dag *d, const char *text, size_t len,
                  int *version, char **err);

/* Version VERSION of DAG_ID (whose file is FILE: it names errors and
 * {{ dag.dir }}), parsed from the store once and cached.  Borrowed until
 * the next dagver_sweep().  NULL and *err if the store has no text for it
 * or it does not parse any more (remembered: not tried again, and
 * NULL without *err, until swept). */
const struct dag *dagver_dag(dagver *v, store *st, const char *dag_id,
                             const char *file, int version, char **err);

/* Free the parsed versions IN_USE does not claim (it says whether an
 * active run of DAG_ID runs VERSION), and the least recently used beyond
 * DAGVER_CACHE_MAX even if in use (parsed again on demand). */
void dagver_sweep(dagver *v, int (*in_use)(const char *dag_id, int version,
                                           void *ud), void *ud);

/* For the API and the dashboard.  Each returns a new object, or NULL
 * with *err and *status (404 unknown DAG or version, 400 a bad value
 * naming the field). */
/* {"dag_id", "current": N, "versions": [{"version", "hash",
 * "created_ms", "size", "runs", "current"}]} newest first. */
json_t *dagver_list_json(store *st, const char *dag_id, int limit,
                         int *status, char **err);
/* One version with its "text" (null if it was too large to keep). */
json_t *dagver_get_json(store *st, const char *dag_id, int version,
                        int *status, char **err);
/* {"dag_id", "from", "to", "diff" (unified), "added", "removed"}:
 * FROM 0 is the version before TO, TO 0 the current one. */
json_t *dagver_diff_json(store *st, const char *dag_id, int from, int to,
                         int *status, char **err);
/* What a run shows of version VERSION (0 = unknown): {"version",
 * "hash", "created_ms", "current", "latest"}, or JSON null. */
json_t *dagver_run_json(store *st, const char *dag_id, int version);

#endif
