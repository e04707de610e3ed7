/* SPDX-License-Identifier: MIT */
/*
 * kiln/plugin.h - the kiln plugin SDK: the one header a plugin includes.
 *
 * A plugin is a shared object that exports one symbol, `kiln_plugin`, a
 * `const struct kiln_plugin` describing it.  The worker dlopen()s every .so
 * in its plugin directory, checks `abi_major` and `abi_minor` before reading
 * anything else, calls init() (or init_ctx()) once, then run() once per task,
 * and fini() (or fini_ctx()) once before the object is unloaded.  A worker
 * may load a plugin more than once, each load with its own init() and
 * fini(): with executor processes (the default) it loads each plugin once
 * only to list it (init() then fini(), no run()), and once in the process
 * its executors are forked from, where tasks run.  Keep state per load (the
 * init_ctx() context), never assume one load per machine.  A plugin reaches
 * kiln only through the `struct
 * kiln_host` table it is handed: the kiln binary exports no symbol to
 * plugins, and a plugin that refers to one of kiln's own functions is
 * refused at load ("undefined symbol").
 *
 * Compatibility rules (the ABI is a contract with plugin authors;
 * docs/plugins.md works through a 1.2 plugin on a 1.3 host and back):
 *  - A plugin built for ABI major M loads only in a host of major M.
 *  - Minor versions only append: new members go at the end of struct
 *    kiln_host and struct kiln_plugin, under a "--- ABI 1.N ---" banner,
 *    taken from the spare[] slots so that sizeof stays the same.
 *  - `abi_minor` in the descriptor is the newest minor whose members or
 *    rules the plugin relies on (KILN_PLUGIN_HEADER sets this header's).
 *    A host of 1.3 or later refuses a plugin whose abi_minor is newer
 *    than its own, naming both versions: such a plugin may put its real
 *    initialisation in an entry point the host does not know and would
 *    skip.  Hosts 1.0 to 1.2 did not read abi_minor, so a plugin that
 *    cannot work without 1.3 must refuse them itself in init() (see
 *    init_ctx below for the pattern).
 *  - A plugin of an older minor loads and runs unchanged: the host reads a
 *    descriptor member only if the plugin's abi_minor has it and its
 *    `size` covers it, and it keeps that minor's rules (who frees what).
 *  - A plugin tells whether the host has a function with KILN_HOST_HAS()
 *    (below), never with sizeof or `host->size` alone.
 *
 * Threads: run() and map() are called concurrently from several threads,
 * once per task, so a plugin must be thread-safe: keep per-task state on
 * the stack or in memory it allocates in run(), and plugin-wide state in
 * the context init_ctx() returns (guarded if it changes), never in
 * unguarded globals.
 *
 * Ownership: every pointer the host passes (the task, strings it returns)
 * belongs to the host and stays valid until run() or map() returns, unless
 * a comment below says otherwise.  Data the plugin passes to the host
 * (results, outputs, log lines) is copied before the call returns; the
 * plugin keeps ownership.  Memory that changes hands is the exception:
 *
 *   what                           made by      freed by     with
 *   init()/init_ctx() *errmsg      plugin       host         (1)
 *   stage() *results, each text    host         plugin       (1)
 *   stage() *errmsg                host         plugin       (1)
 *   the init_ctx() context         plugin       plugin       fini_ctx()
 *   open_data() file descriptor    host         plugin       close()
 *   a map task's outputs (1.7)     plugin       master       copied by
 *                                                            output(); the
 *                                                            driver adopts
 *                                                            them by name
 *
 *   (1) a plugin of ABI 1.3 or later on a host that has mem_alloc (1.3 or
 *       later): the host's mem_alloc()/mem_free(); otherwise - a plugin
 *       built for 1.0 to 1.2, or any plugin on a 1.0 to 1.2 host -
 *       malloc() and free().  kiln_alloc(), kiln_strdup() and kiln_free()
 *       below choose for a 1.3 plugin.
 *
 * Build a plugin with:
 *   cc -shared -fPIC $(pkg-config --cflags kiln-plugin) -o myplugin.so myplugin.c
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_ABI_MAJOR 1
#define KILN_ABI_MINOR 7

/* Name of the one symbol a plugin exports. */
#define KILN_PLUGIN_SYMBOL "kiln_plugin"

/* Return codes of run() and of host functions: 0 or a negative error. */
enum {
	KILN_OK = 0,
	KILN_EFAIL = -1,      /* the task failed; see the error message */
	KILN_EINVAL = -2,     /* bad parameter or input */
	KILN_ENOMEM = -3,
	KILN_EIO = -4,
	KILN_ECANCELLED = -5, /* the task saw cancelled() and stopped */

	/* --- ABI 1.5: sensors --- */
	/* From run() only: the condition this plugin waits for does not
	 * hold yet; ask again later.  The task is a sensor (a DAG task with
	 * `sensor:`, kiln-dag(5)): the poke ends, its worker slot and pool
	 * slot are freed, and the master runs the task again after the
	 * sensor's poke_interval, until run() returns KILN_OK (the condition
	 * holds: the task succeeds), an error (it fails, retried as any
	 * task) or the sensor's timeout passes (it fails, or is skipped with
	 * soft_fail).  An error message set with set_error() before
	 * returning it is kept as the reason shown while the task waits
	 * ("no file /data/x yet"); a result set with set_result() is
	 * dropped.  Positive, so that a host older than 1.5 fails the task
	 * ("returned 1") rather than mistaking it for an error code it
	 * retries.  The host reads it only from a plugin whose abi_minor is
	 * 5 or more: from an older plugin, 1 is an unknown code and the task
	 * fails.  A job that is no DAG task (kiln submit) has nothing to
	 * poke it again: it ends succeeded, with the result
	 * {"kiln_not_yet":true,"reason":...}. */
	KILN_NOT_YET = 1,
};

enum kiln_log_level {
	KILN_LOG_DEBUG = 0,
	KILN_LOG_INFO = 1,
	KILN_LOG_WARN = 2,
	KILN_LOG_ERROR = 3,
};

/* One task being run.  Opaque; owned by the host; valid during run() or
 * map(). */
typedef struct kiln_task kiln_task;

/* One map task of a stage (ABI 1.1, see stage() below). */
struct kiln_stage_task {
	const char *arg;     /* JSON value for this map task only, or NULL */
	const int *inputs;   /* indices of the driver's inputs it reads */
	int ninputs;         /* (they become the map task's inputs 0..n-1) */
};

/* A parameter the plugin accepts, for documentation, validation and the UI.
 * An array of these ends with an entry whose name is NULL.  Workers send
 * the declarations to the master, which refuses a job (HTTP 400 naming the
 * parameter) whose parameters lack a required one or give one a value of
 * the wrong type; a plugin still checks ranges and meanings itself.  What
 * each type accepts follows what the host's param*() functions read: a
 * "number" or "int" may come as JSON text ("3"), an "int" must be
 * integral, a "bool" is true/false, 0/1 or "true"/"false"/"1"/"0"/"yes"/
 * "no", a "string" any JSON scalar, a "json" anything; null and, for
 * types other than "string" and "json", "" count as absent. */
struct kiln_param {
	const char *name;
	const char *type;          /* "string", "int", "number", "bool", "json" */
	const char *default_value; /* NULL: the parameter is required;
	                            * "": optional, no single default */
	const char *help;
};

/*
 * The host's functions, handed to init(), run() and map().  Append-only:
 * members are never removed or reordered, new ones are added at the end
 * and announced by a minor version.  Check a member newer than the oldest
 * host you support with KILN_HOST_HAS() before calling it.
 */
struct kiln_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	/* Hosts 1.3 and later: the end of the last member the host fills,
	 * offsetof(struct kiln_host, spare) in the host's header.  Hosts 1.0
	 * to 1.2 said sizeof(struct kiln_host), spares included, which is
	 * why KILN_HOST_HAS() also tests for NULL. */
	uint32_t size;
	uint32_t reserved0;

	/* --- ABI 1.0 --- */

	/* Parameter NAME as a string (numbers and booleans are formatted,
	 * objects and arrays as JSON text); NULL if absent.  Host-owned. */
	const char *(*param)(kiln_task *t, const char *name);
	/* Parameter NAME as a number / integer; DEF if absent or not numeric. */
	double (*param_double)(kiln_task *t, const char *name, double def);
	int64_t (*param_int)(kiln_task *t, const char *name, int64_t def);
	/* All parameters as one JSON object text.  Host-owned. */
	const char *(*params_json)(kiln_task *t);

	/* Inputs: files made available to this task (upstream outputs).
	 * Returns the number of inputs; input_path returns a local path
	 * readable until run() returns and stores the input's name in *name.
	 * The path is NULL if the input could not be fetched to this worker
	 * (the task then fails as an I/O error and is retried). */
	int (*input_count)(kiln_task *t);
	const char *(*input_path)(kiln_task *t, int i, const char **name);

	/* Outputs: store LEN bytes as the output NAME of this task.  Copied.
	 * ABI 1.7: a map task may call it too (see stage() below). */
	int (*output)(kiln_task *t, const char *name, const void *data, size_t len);
	/* Set the task's result, a small JSON value (at most 1 MiB).  Copied;
	 * a second call replaces the first.  Returns KILN_EINVAL if not JSON. */
	int (*set_result)(kiln_task *t, const char *json);
	/* Set the message explaining a failure; printf-style.  Copied. */
	void (*set_error)(kiln_task *t, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

	/* Append a line to the task's log; printf-style.  Copied.  Hosts 1.3
	 * and later (host->abi_minor >= 3) also take a NULL task, from init(),
	 * init_ctx(), fini_ctx() or a thread of the plugin's own: the line
	 * then goes to the worker's log, with the plugin's name when called
	 * from init/fini.  Hosts 1.0 to 1.2 need a task. */
	void (*log)(kiln_task *t, int level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	/* Non-zero once the task is cancelled or timed out: a long run()
	 * should check it often and return KILN_ECANCELLED.  Once it is
	 * set the task ends as cancelled whatever run() returns. */
	int (*cancelled)(kiln_task *t);
	/* Report progress in [0, 1]. */
	void (*progress)(kiln_task *t, double fraction);
	/* A private scratch directory for this task, removed after run(). */
	const char *(*scratch_dir)(kiln_task *t);
	/* The job id and attempt number of this task (for log messages). */
	int64_t (*job_id)(kiln_task *t);
	int (*attempt)(kiln_task *t);

	/* --- ABI 1.1: data and distributed stages (docs/analytics.md) --- */

	/* Input I's bytes, mapped read-only, 8-byte aligned, *len set; NULL
	 * on error.  The worker keeps inputs it has mapped in memory between
	 * tasks (up to a budget), so a map task that reads the same partition
	 * at every iteration of an algorithm reads memory, not the disk.
	 * Host-owned; valid until run() or map() returns. */
	const void *(*input_data)(kiln_task *t, int i, size_t *len);

	/* Run a stage from a driver task: N map tasks on the workers' slots,
	 * task i calling this plugin's map() with FN, BROADCAST (a JSON text
	 * every map task sees, or NULL) and tasks[i] (its argument and which
	 * of this task's inputs it reads; a map task is placed on a worker
	 * that holds its first input when one is free).  Blocks until all
	 * are done.  On success *results holds N JSON texts, the results map
	 * task i set with set_result() ("null" if none), in task order; the
	 * plugin frees the array and each text (with kiln_free(): see
	 * Ownership at the top).  A
	 * map task lost with its worker runs again elsewhere; one that fails
	 * is retried twice, unless map() returned KILN_EINVAL (bad parameters
	 * or input, the same on any worker): that fails the stage at once.
	 * Return KILN_EINVAL from map() only for such faults; KILN_EFAIL,
	 * KILN_EIO and KILN_ENOMEM are retried.  Returns 0, KILN_ECANCELLED
	 * if this task was cancelled meanwhile, or KILN_EFAIL with *errmsg
	 * (the plugin frees it, as the results).  Merge results in task
	 * order, so that the answer does not depend on which worker finished
	 * first.
	 *
	 * ABI 1.7, map-task outputs: a map task of a plugin whose abi_minor
	 * is 7 or more may call output(); once the stage succeeds, every
	 * output of every map task is an output of the driver task too, as
	 * if the driver had written it (downstream tasks get it as an input
	 * of the driver's, the master records it when the driver ends), but
	 * its bytes are never copied to the driver: the map task's worker
	 * stores them at the master (by SHA-256) when the map task ends, and
	 * the driver's task adopts them by name.  Only the attempt that
	 * succeeded counts: a map task retried, or lost with its worker and
	 * run again, gives its outputs once.  Names must differ across the
	 * map tasks of the driver and from the driver's own outputs: a name
	 * taken twice makes stage() return KILN_EINVAL with *errmsg naming
	 * it, or output() return KILN_EINVAL when the driver writes a name
	 * it adopted, and the driver task fails either way.  The driver
	 * cannot read the adopted bytes (it owns nothing of them: they are
	 * the master's).  Map tasks of plugins built for 1.6 or older keep
	 * 1.6's rule: their outputs are dropped. */
	int (*stage)(kiln_task *t, const char *fn, const char *broadcast,
	             const struct kiln_stage_task *tasks, int n,
	             char ***results, char **errmsg);
	/* In a map task: its index in the stage and the stage's size, its
	 * argument and the broadcast value (JSON texts or NULL; host-owned). */
	int (*stage_index)(kiln_task *t, int *count);
	const char *(*stage_arg)(kiln_task *t);
	const char *(*broadcast)(kiln_task *t);

	/* --- ABI 1.2 --- */

	/* Input I's name (as input_path() gives it), NULL if I is out of
	 * range.  A worker fetches an input when the task first asks for its
	 * path or bytes, so a task that reads only some of its inputs (a
	 * driver that reads a dataset's schema and hands the partitions to
	 * map tasks) should find them by name with this, not input_path().
	 * Host-owned; valid until run() or map() returns. */
	const char *(*input_name)(kiln_task *t, int i);

	/* --- ABI 1.3: memory that changes hands, the plugin's context --- */

	/* The host's allocator, for what crosses the boundary (see Ownership
	 * at the top): mem_alloc() returns NULL when memory is short,
	 * mem_free(NULL) does nothing, mem_strdup(NULL) returns NULL.  Any
	 * thread may call them; they need no task. */
	void *(*mem_alloc)(size_t n);
	void (*mem_free)(void *p);
	char *(*mem_strdup)(const char *s);
	/* The context init_ctx() returned for the loaded version of the
	 * plugin running T (NULL if it has no init_ctx()).  Each worker, and
	 * each version loaded on it, has its own. */
	void *(*context)(kiln_task *t);

	/* --- ABI 1.4: files that users name --- */

	/* Open PATH, a file a user named (a parameter such as readfile's
	 * `path` or csvstats's `file`: absolute, or relative to the worker's
	 * working directory), for reading.  A plugin must open every such
	 * path with this, never with open() or fopen(): the worker opens only
	 * regular files under its read roots (data.read_roots and
	 * workers[].read_roots in cluster.yaml, besides its data_dir and
	 * master.dags_dir), of at most max_file_size bytes, and never the
	 * cluster secret, kiln's store or its keys, whatever the roots.
	 * (Inputs, from input_path(), are the host's own files: open them
	 * directly.)  FLAGS must be 0.  Returns a file descriptor, read-only
	 * and close-on-exec, with the file's size in *size (if SIZE is not
	 * NULL); the plugin owns it and close()s it before run() or map()
	 * returns.  On failure returns a negative KILN_E* and sets the task's
	 * error (as set_error() does; a plugin may replace it) to a message
	 * naming PATH and why: KILN_EINVAL for a path refused (outside the
	 * roots, never readable, not a regular file, too large) - bad input,
	 * the same on every retry, so return it as it is and the task is not
	 * retried - or KILN_EIO for what the file system said (no such
	 * file, permission denied), which may pass. */
	int (*open_data)(kiln_task *t, const char *path, unsigned flags,
	                 uint64_t *size);

	/* --- ABI 1.6: waiting --- */

	/* Wait MS milliseconds (0 to 7 days), or less: it returns at once
	 * when the task is cancelled or times out.  Returns KILN_OK after
	 * the whole wait, KILN_ECANCELLED if cancelled() is or became set.
	 * A task that waits (a poll interval, a back-off, a sleep) should
	 * wait with this rather than sleep and look at cancelled() in a
	 * loop: a waiting task then costs its worker no CPU, however many
	 * wait at once, and is still cancelled at once. */
	int (*sleep)(kiln_task *t, int64_t ms);

	/* Room for later minor versions; NULL until a minor version uses
	 * them (ABI 1.1 took 5 of 24, ABI 1.2 one more, ABI 1.3 four, ABI
	 * 1.4 one, ABI 1.6 one).  Not counted in `size` (hosts 1.3 and
	 * later). */
	void *spare[12];
};

/*
 * KILN_HOST_HAS(host, member): non-zero if HOST provides the function
 * MEMBER of struct kiln_host.  Test it before calling a member newer than
 * the oldest host the plugin supports (or one a host may leave out).
 *
 * Why not sizeof or `size` alone: the spare[] slots keep sizeof(struct
 * kiln_host) the same in every 1.x, so a size that counts them always
 * covers every member.  Hence the rule:
 *  - a host of ABI 1.3 or later sets `size` to the end of the last member
 *    it fills, and a member at or past `size` is absent - and not read;
 *  - hosts 1.0 to 1.2 set `size` to sizeof, spares included, but their
 *    spares are NULL, so a member newer than the host reads NULL;
 *  - a host may leave a member it has no service for NULL.
 * A member is there if `size` covers it and it is not NULL.
 */
#define KILN_HOST_HAS(host, member) \
	((host)->size >= offsetof(struct kiln_host, member) + \
	                 sizeof((host)->member) && (host)->member != NULL)

/* The descriptor a plugin exports as `kiln_plugin`. */
struct kiln_plugin {
	uint32_t abi_major;   /* KILN_ABI_MAJOR the plugin was built with */
	uint32_t abi_minor;   /* KILN_ABI_MINOR the plugin was built with */
	uint32_t size;        /* sizeof(struct kiln_plugin) in the plugin */
	uint32_t reserved0;

	const char *name;        /* unique within a worker: [a-z0-9_-]+ */
	const char *version;     /* the plugin's own version, e.g. "1.2.0" */
	const char *description; /* one line */
	const struct kiln_param *params; /* NULL-name terminated, or NULL */

	/* Optional.  Called once after loading, before any run(), unless the
	 * host calls init_ctx() instead (below).  Non-zero refuses the load;
	 * *errmsg says why (the host frees it: see Ownership at the top). */
	int (*init)(const struct kiln_host *host, char **errmsg);
	/* Required.  Runs one task; 0 on success or a negative KILN_E*. */
	int (*run)(kiln_task *task, const struct kiln_host *host);
	/* Optional.  Called once before unloading, after the last run(),
	 * unless the host calls fini_ctx() instead. */
	void (*fini)(void);

	/* --- ABI 1.1 --- */
	/* Optional.  Runs one map task of a stage that a driver task of this
	 * plugin started with host->stage(); FN is the name the driver gave.
	 * The same rules as run() apply (threads, ownership, set_result()). */
	int (*map)(kiln_task *task, const struct kiln_host *host, const char *fn);

	/* --- ABI 1.3 --- */
	/* Optional.  Called once after loading, before any run(), in place of
	 * init() by hosts 1.3 and later: *ctx (NULL on entry) is the plugin's
	 * context, which run() and map() get with host->context(task) and
	 * fini_ctx() releases; several threads read it at once.  Non-zero
	 * refuses the load, with *errmsg as for init(); the plugin then frees
	 * what it made itself (fini_ctx() is not called).  Hosts 1.0 to 1.2
	 * call init() and never this: a plugin that needs 1.3 sets both, with
	 * an init() that refuses ("needs kiln ABI 1.3, this kiln speaks 1.%u").
	 * host->log(NULL, ...) works here. */
	int (*init_ctx)(const struct kiln_host *host, void **ctx, char **errmsg);
	/* Optional.  Called once before unloading, after the last run(), in
	 * place of fini() by hosts 1.3 and later, with init_ctx()'s *ctx. */
	void (*fini_ctx)(const struct kiln_host *host, void *ctx);

	/* Room for later minor versions; must be NULL (ABI 1.1 took 1 of 16,
	 * ABI 1.3 two more). */
	void *spare[13];
};

/* The descriptor every plugin defines.  Declared here so that a definition
 * of the wrong type does not compile, and exported even when the plugin is
 * built with -fvisibility=hidden. */
extern __attribute__((visibility("default")))
const struct kiln_plugin kiln_plugin;

/* Memory to hand to the host (init()'s *errmsg), and to free what the host
 * hands over (stage() results and messages), for a plugin of ABI 1.3: the
 * host's allocator where it has one, malloc()/free() on hosts 1.0 to 1.2,
 * as the Ownership rules at the top say. */
static inline void *
kiln_alloc(const struct kiln_host *host, size_t n)
{
	return KILN_HOST_HAS(host, mem_alloc) ? host->mem_alloc(n) : malloc(n);
}

static inline void
kiln_free(const struct kiln_host *host, void *p)
{
	if (KILN_HOST_HAS(host, mem_free))
		host->mem_free(p);
	else
		free(p);
}

static inline char *
kiln_strdup(const struct kiln_host *host, const char *s)
{
	if (KILN_HOST_HAS(host, mem_strdup))
		return host->mem_strdup(s);
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;           /* strdup() is not ISO C */
	char *p = (char *)malloc(n);
	return p != NULL ? (char *)memcpy(p, s, n) : NULL;
}

/* Convenience: fill the version fields of a descriptor. */
#define KILN_PLUGIN_HEADER \
	.abi_major = KILN_ABI_MAJOR, .abi_minor = KILN_ABI_MINOR, \
	.size = sizeof(struct kiln_plugin)

#ifdef __cplusplus
}
#endif
#endif /* KILN_PLUGIN_H */
