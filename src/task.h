/* SPDX-License-Identifier: MIT */
/*
 * task.h - one running task: the host side of the plugin ABI.
 *
 * A task carries its parameters (a JSON object), collects the log lines,
 * result, error and outputs a plugin produces, and holds the cancellation
 * flag.  task_host() is the `struct kiln_host` table handed to plugins; its
 * functions act on the kiln_task they are given.  The worker creates a task
 * per attempt, runs it on a pool thread with task_run(), and reads what it
 * produced when run() returns.
 */
#ifndef KILN_TASK_H
#define KILN_TASK_H

#include <stdint.h>
#include <stddef.h>
#include "kiln/plugin.h"
#include "dataroot.h"
#include "plugin.h"

/* The host function table (static, never freed). */
const struct kiln_host *task_host(void);

/* New task for attempt ATTEMPT of job JOB_ID with PARAMS_JSON (an object,
 * or NULL for {}).  SCRATCH_ROOT is a directory under which the task's
 * scratch directory is made on demand.  LOG_LIMIT bounds the kept log
 * (the tail is kept; 0 = 1 MiB).  NULL with *err on bad params. */
kiln_task *task_new(int64_t job_id, int attempt, const char *params_json,
                    const char *scratch_root, size_t log_limit, char **err);
void task_free(kiln_task *t);
/* How logs name T: "job ID" unless set ("stage S task I" for a map task,
 * whose id is negative); NAME is copied. */
void task_set_name(kiln_task *t, const char *name);
const char *task_name(const kiln_task *t);

/* Run plugin P on T on the calling thread.  Returns the final job state:
 * JOB_SUCCEEDED, JOB_FAILED or JOB_CANCELLED (jobstate.h). */
int task_run(kiln_task *t, plugin *p);

/* Thread-safe: ask the task to stop (plugins see cancelled() != 0). */
void task_cancel(kiln_task *t);

/* What the task produced; owned by the task. */
const char *task_result(const kiln_task *t);   /* JSON text or NULL */
const char *task_error(const kiln_task *t);    /* or NULL */
/* What the plugin's run() or map() returned (KILN_OK or a KILN_E*); 0
 * until task_run() has run it. */
int task_code(const kiln_task *t);
const char *task_log(const kiln_task *t);      /* "" if empty */
double task_progress(const kiln_task *t);
/* Thread-safe, while the task runs: the log text appended since *POS (a
 * count of bytes; start at 0), malloc()ed, or NULL if none; advances *POS. */
char *task_log_since(kiln_task *t, uint64_t *pos);

/* Append TEXT (LEN bytes of log lines, as task_log_since() gives them)
 * to the log, as an executor's lines come back to the worker. */
void task_append_log(kiln_task *t, const char *text, size_t len);
/* The first input that could not be fetched, with why, or NULL. */
const char *task_fetch_error(kiln_task *t);

/* Outputs written with host->output(): count, and each name and bytes
 * (*data is NULL for an adopted one). */
int task_output_count(const kiln_task *t);
const char *task_output(const kiln_task *t, int i, const void **data,
                        size_t *len);
/* Adopt NAME, a map task's output the master stores already as SHA (SIZE
 * bytes), as an output of driver task T (ABI 1.7): it is listed with T's
 * outputs, never uploaded again.  A name T has already (its own output or
 * another adopted one) is refused: -EINVAL with *err, and T then fails
 * (task_output_conflict()), as it does if it writes an adopted name. */
int task_output_adopt(kiln_task *t, const char *name, const char *sha,
                      uint64_t size, char **err);
/* Output I's SHA-256 if it was adopted, else NULL (upload its bytes). */
const char *task_output_adopted(const kiln_task *t, int i);
/* Output I's temporary file (see task_set_output_dir()) while T owns it,
 * else NULL: the caller that moves the file elsewhere (renames it into a
 * cache, hands it to another process) disowns it, and T then only unmaps
 * it at task_free(). */
const char *task_output_file(const kiln_task *t, int i);
void task_output_disown_file(kiln_task *t, int i);
/* Adopt FILE, a temporary file another process wrote (an executor's
 * output), as output NAME of T, mapped: T owns FILE from here on, and
 * removes it if it refuses it (a bad name, max_output_size).  0, or
 * negative with *err. */
int task_output_add_file(kiln_task *t, const char *name, const char *file,
                         char **err);
/* Why T must fail because two outputs share a name, or NULL. */
const char *task_output_conflict(const kiln_task *t);

/* What host->open_data() of T may open: ROOTS (the worker's, which
 * outlive the task), or NULL (the default) for nothing. */
void task_set_dataroot(kiln_task *t, const dataroot *roots);
/* At most LIMIT bytes of outputs in all (0: no limit): host->output()
 * refuses one that would pass it, with KILN_EINVAL and the task's error
 * saying so (workers[].max_output_size in cluster.yaml). */
void task_set_output_limit(kiln_task *t, int64_t limit);
/* Write host->output()'s bytes to temporary files in DIR (copied; NULL,
 * the default: copies in memory), which should be on the filesystem of
 * the worker's cache (diskcache_tmp_open()). */
void task_set_output_dir(kiln_task *t, const char *dir);

/* Add an input file (upstream output) before running. */
int task_add_input(kiln_task *t, const char *name, const char *path);

/* Makes input KEY, of SIZE bytes, a local file: its path (malloc()ed; the
 * task frees it), or NULL with *err (malloc()ed).  Called from the task's
 * thread, or from threads the plugin started, one call at a time per task. */
typedef char *(*task_fetch_fn)(void *ud, const char *key, uint64_t size,
                               char **err);

/* Add an input that is fetched with FETCH(UD, KEY, SIZE) when the plugin first
 * asks for its path or bytes; its name costs nothing (input_name()).  If
 * a fetch fails the plugin gets NULL, and a failed task is reported as an
 * I/O error (KILN_EIO, retried) naming the input. */
int task_add_input_lazy(kiln_task *t, const char *name, const char *key,
                        uint64_t size, task_fetch_fn fetch, void *ud);

/* A map task of a stage (its params hold what proto_map_params() writes):
 * task_run() calls the plugin's map(fn) instead of run().  NULL if T is
 * not a map task. */
const char *task_stage_fn_name(const kiln_task *t);

/* What host->stage() calls: run the stage on the cluster (a worker gives
 * each task it runs its stage runner, see stage.h; a task without one
 * fails its stages).  0, KILN_ECANCELLED, or a negative KILN_E* with *err.
 * *results as host->stage() documents. */
typedef int (*task_stage_fn)(void *ud, kiln_task *t, const char *fn,
                             const char *broadcast,
                             const struct kiln_stage_task *tasks, int n,
                             char ***results, char **err);
/* T's stage runner: FN(UD, ...) (per task, so that several workers may
 * share a process). */
void task_set_stages(kiln_task *t, task_stage_fn fn, void *ud);

#endif
