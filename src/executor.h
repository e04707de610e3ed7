/* SPDX-License-Identifier: MIT */
/*
 * executor.h - plugin tasks in child processes of the worker, so that a
 * task that runs away, hangs or crashes can be stopped and its memory and
 * threads returned, whatever the plugin does (workers[].isolation:
 * process, the default; docs/plugins.md "Isolation").
 *
 * At worker start, before it has any thread, executors_open() forks a
 * zygote: a single-threaded copy of the worker that loads the plugins'
 * code (the worker keeps only their descriptors, so the code's pages cost
 * it no memory), whose only job is to fork executors on request (a fork from
 * the worker itself, once its threads run, could copy a lock that one of
 * them holds).  An executor runs one task at a time: the worker's pool
 * thread that dispatched it relays what the plugin asks of the worker
 * (input fetches, stages) and what it reports (log lines, progress,
 * outputs, the outcome) over a socketpair, and watches it: a task whose
 * cancel (a timeout, or the user) it has not obeyed within a grace
 * second, or whose resident memory grew past its limit, is killed with
 * SIGKILL and its executor replaced.  The zygote rescans the plugin
 * directory before each fork, and executors forked before a reload are
 * replaced before their next task, so hot reload works as in-process.
 */
#ifndef KILN_EXECUTOR_H
#define KILN_EXECUTOR_H

#include <stdint.h>
#include "dataroot.h"
#include "kiln/plugin.h"
#include "plugin.h"

typedef struct executors executors;

/* Grace between a task's cancel and its executor's kill. */
#define EXECUTOR_GRACE_MS 1000

/* Fork the zygote, which loads the plugins of registry REG's directory
 * with their code (REG itself may only describe them), giving executors
 * ROOTS, SCRATCH (a directory for tasks' scratch directories) and OUTDIR
 * (the worker's cache directory: a task's outputs are written to files
 * there and handed to the worker by name; NULL: sent through the
 * executor's socket), and PREFORK executors.  Call from a process with
 * one thread.  0 or negative with *err. */
int executors_open(plugin_registry *reg, const dataroot *roots,
                   const char *scratch, const char *outdir, int prefork,
                   executors **out, char **err);
/* Stop every idle executor and the zygote (running tasks must be done). */
void executors_close(executors *x);
/* The plugin directory changed: executors forked before are replaced
 * before their next task. */
void executors_reload(executors *x);

/* One task to run in an executor.  T is the worker's task: inputs are
 * fetched and stages run through it, and the log, progress, result,
 * error and outputs the plugin makes land in it; its cancel is passed on. */
struct executor_task {
	kiln_task *t;
	const char *plugin;
	const char *params;      /* JSON object text, or NULL */
	int64_t job_id;
	const char *name;        /* for logs (job_name()); NULL: "job ID" */
	int attempt;
	int64_t timeout_ms;      /* for the kill's message; 0 = none */
	int64_t memory_limit;    /* bytes of resident memory over the idle
	                          * executor's; 0 = none */
	int64_t output_limit;    /* bytes of outputs in all (the worker's
	                          * max_output_size); 0 = any */
};

/* Run ET on an idle executor (forking one if none is idle).  Returns the
 * job state (jobstate.h) with *code (what the plugin returned, or
 * KILN_EFAIL); when the executor was killed or crashed, JOB_FAILED with
 * *why (malloc()ed): "killed: timeout 3 s exceeded", "killed: memory
 * limit 256 MiB exceeded (RSS 300 MiB)", "executor crashed: SIGSEGV"; or
 * when an output file it handed over could not be taken (the task made an
 * output that would be missing), JOB_FAILED with why in *why. */
int executors_run(executors *x, const struct executor_task *et, int *code,
                  char **why);

#endif
