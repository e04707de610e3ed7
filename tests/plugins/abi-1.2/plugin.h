/* SPDX-License-Identifier: MIT */
/*
 * tests/plugins/abi-1.2/plugin.h - the SDK header of plugin ABI 1.2 as it was
 * released (kiln commit 7dae827), unchanged below this comment: the old
 * test plugins are built against it, so that the loader is tested with
 * descriptors a 1.2 plugin really has.
 */
/*
 * kiln/plugin.h - the kiln plugin SDK: the one header a plugin includes.
 *
 * A plugin is a shared object that exports one symbol, `kiln_plugin`, a
 * `const struct kiln_plugin` describing it.  The worker dlopen()s every .so
 * in its plugin directory, checks `abi_major` before reading anything else,
 * calls init() once, then run() once per task on the worker's pool threads,
 * and fini() once before the object is unloaded.
 *
 * Compatibility rules (the ABI is a contract with users):
 *  - A plugin built for ABI major M loads only in a host of major M.
 *  - Minor versions only append: new members go at the end of struct
 *    kiln_host, and a plugin must check `host->size` (or abi_minor) before
 *    using a member newer than the minor it was built against.
 *  - struct kiln_plugin carries its own `size`; the host reads members past
 *    the size of the oldest descriptor it supports only if `size` covers them.
 *
 * Threads: run() is called concurrently from several threads, once per task,
 * so a plugin must be thread-safe: keep per-task state on the stack or in
 * memory it allocates in run(), never in unguarded globals.
 *
 * Ownership: every pointer the host passes (task, strings it returns) belongs
 * to the host and stays valid until run() returns, unless a comment below
 * says otherwise.  Data the plugin passes to the host (results, outputs, log
 * lines) is copied before the call returns; the plugin keeps ownership.  An
 * error message a plugin returns through `char **errmsg` is malloc()ed by the
 * plugin and free()d by the host.
 *
 * Build a plugin with:
 *   cc -shared -fPIC $(pkg-config --cflags kiln-plugin) -o myplugin.so myplugin.c
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_ABI_MAJOR 1
#define KILN_ABI_MINOR 2

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
};

enum kiln_log_level {
	KILN_LOG_DEBUG = 0,
	KILN_LOG_INFO = 1,
	KILN_LOG_WARN = 2,
	KILN_LOG_ERROR = 3,
};

/* One task being run.  Opaque; owned by the host; valid during run(). */
typedef struct kiln_task kiln_task;

/* One map task of a stage (ABI 1.1, see stage() below). */
struct kiln_stage_task {
	const char *arg;     /* JSON value for this map task only, or NULL */
	const int *inputs;   /* indices of the driver's inputs it reads */
	int ninputs;         /* (they become the map task's inputs 0..n-1) */
};

/* A parameter the plugin accepts, for documentation, validation and the UI.
 * An array of these ends with an entry whose name is NULL. */
struct kiln_param {
	const char *name;
	const char *type;          /* "string", "int", "number", "bool", "json" */
	const char *default_value; /* NULL: the parameter is required */
	const char *help;
};

/*
 * The host's functions, handed to init() and run().  Append-only: members
 * are never removed or reordered, new ones are added at the end and
 * announced by a minor version.
 */
struct kiln_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t size;     /* sizeof(struct kiln_host) in the host */
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

	/* Outputs: store LEN bytes as the output NAME of this task.  Copied. */
	int (*output)(kiln_task *t, const char *name, const void *data, size_t len);
	/* Set the task's result, a small JSON value (at most 1 MiB).  Copied;
	 * a second call replaces the first.  Returns KILN_EINVAL if not JSON. */
	int (*set_result)(kiln_task *t, const char *json);
	/* Set the message explaining a failure; printf-style.  Copied. */
	void (*set_error)(kiln_task *t, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

	/* Append a line to the task's log; printf-style.  Copied. */
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
	 * array and each text are malloc()ed and the plugin frees them.  A
	 * map task lost with its worker runs again elsewhere; one that fails
	 * is retried twice, unless map() returned KILN_EINVAL (bad parameters
	 * or input, the same on any worker): that fails the stage at once.
	 * Return KILN_EINVAL from map() only for such faults; KILN_EFAIL,
	 * KILN_EIO and KILN_ENOMEM are retried.  Returns 0, KILN_ECANCELLED if this task was
	 * cancelled meanwhile, or KILN_EFAIL with *errmsg (malloc()ed, the
	 * plugin frees it).  Merge results in task order, so that the answer
	 * does not depend on which worker finished first. */
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

	/* Room for later minor versions; NULL until a minor version uses
	 * them (ABI 1.1 took 5 of 24, ABI 1.2 one more). */
	void *spare[18];
};

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

	/* Optional.  Called once after loading, before any run().  Non-zero
	 * refuses the load; *errmsg (malloc()ed by the plugin) says why. */
	int (*init)(const struct kiln_host *host, char **errmsg);
	/* Required.  Runs one task; 0 on success or a negative KILN_E*. */
	int (*run)(kiln_task *task, const struct kiln_host *host);
	/* Optional.  Called once before unloading, after the last run(). */
	void (*fini)(void);

	/* --- ABI 1.1 --- */
	/* Optional.  Runs one map task of a stage that a driver task of this
	 * plugin started with host->stage(); FN is the name the driver gave.
	 * The same rules as run() apply (threads, ownership, set_result()). */
	int (*map)(kiln_task *task, const struct kiln_host *host, const char *fn);

	/* Room for later minor versions; must be NULL (ABI 1.1 took 1 of 16). */
	void *spare[15];
};

/* The descriptor every plugin defines.  Declared here so that a definition
 * of the wrong type does not compile, and exported even when the plugin is
 * built with -fvisibility=hidden. */
extern __attribute__((visibility("default")))
const struct kiln_plugin kiln_plugin;

/* Convenience: fill the version fields of a descriptor. */
#define KILN_PLUGIN_HEADER \
	.abi_major = KILN_ABI_MAJOR, .abi_minor = KILN_ABI_MINOR, \
	.size = sizeof(struct kiln_plugin)

#ifdef __cplusplus
}
#endif
#endif /* KILN_PLUGIN_H */
