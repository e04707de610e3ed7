/* SPDX-License-Identifier: MIT */
/*
 * plugin.h - the plugin loader and registry (host side of kiln/plugin.h).
 *
 * A registry watches one directory.  plugin_registry_scan() loads new .so
 * files, reloads replaced ones and forgets deleted ones.  Each file is
 * first copied into a private cache directory under a unique name and
 * dlopen()ed from there (RTLD_NOW|RTLD_LOCAL), so that replacing the file
 * in the plugin directory never changes code that a running task executes:
 * tasks hold a reference (plugin_acquire/plugin_release) to the version
 * they started on, and an old version is fini()ed and dlclose()d when its
 * last task releases it.
 *
 * A file that is not a shared object, refers to a symbol the process does
 * not export to plugins, lacks the `kiln_plugin` symbol, has another ABI
 * major or a newer minor, a descriptor smaller than its minor's, a missing
 * run(), a name already loaded from another file, or whose init() fails is
 * skipped with a logged error, kept in the registry's error list; nothing
 * else is affected.
 *
 * The ABI rules of kiln/plugin.h are applied here and only here: a
 * descriptor member is read only if the plugin's minor has it, init_ctx()
 * and fini_ctx() (ABI 1.3) replace init() and fini(), and init()'s error
 * message is freed with the allocator the plugin's minor says.
 *
 * Replace a plugin file atomically (write a temporary name, then rename())
 * so that a scan never copies a half-written file.
 *
 * All functions are thread-safe.
 */
#ifndef KILN_PLUGIN_INTERNAL_H
#define KILN_PLUGIN_INTERNAL_H

#include <jansson.h>

#include "kiln/plugin.h"

typedef struct plugin_registry plugin_registry;
typedef struct plugin plugin;

/* Open a registry over DIR, copying loaded files into CACHE_DIR (created
 * if missing), calling init(HOST) on each plugin (and fini with HOST).
 * HOST must outlive the registry and every plugin acquired from it.  Does
 * a first scan. */
int plugin_registry_open(const char *dir, const char *cache_dir,
                         const struct kiln_host *host, plugin_registry **out,
                         char **err);
/* A plugin a registry never loads, and why (a worker's policy, such as
 * the 'exec' plugin where cluster.yaml does not enable it): WHY completes
 * "FILE: plugin 'NAME' ...", the load error recorded for its file. */
struct plugin_refusal {
	const char *name;
	const char *why;
};
/* As plugin_registry_open(), but the N plugins of REFUSED (copied) are
 * refused after their descriptor is read, before their init() runs.  A
 * refusal is logged (info) and remembered, but it is a policy, not a
 * fault: plugin_errors() does not list it. */
int plugin_registry_open_refusing(const char *dir, const char *cache_dir,
                                  const struct kiln_host *host,
                                  const struct plugin_refusal *refused,
                                  size_t n, plugin_registry **out,
                                  char **err);
/* What a registry keeps of each plugin it loads. */
struct plugin_policy {
	const struct plugin_refusal *refused;  /* never loaded (copied) */
	size_t nrefused;
	/* Keep only descriptors: a plugin is loaded, checked, init()ed and
	 * fini()ed as any other (so a broken one is reported the same way),
	 * then its descriptor is copied and its code unloaded.  What a worker
	 * whose tasks run in executor processes keeps: it lists and names its
	 * plugins but runs none, and unmapped code costs it no memory.
	 * plugin_has_code() tells such a plugin apart. */
	int describe_only;
	const char *const *with_code;  /* except these names (copied) */
	size_t nwith_code;
};
/* As plugin_registry_open(), under POLICY. */
int plugin_registry_open_policy(const char *dir, const char *cache_dir,
                                const struct kiln_host *host,
                                const struct plugin_policy *policy,
                                plugin_registry **out, char **err);
/* A registry over LIKE's directory, cache directory, host and refusals
 * that keeps every plugin's code: what an executor zygote runs tasks from
 * when the worker's registry only describes them. */
int plugin_registry_open_code(const plugin_registry *like,
                              plugin_registry **out, char **err);
/* Release every plugin; waits for none (callers release first). */
void plugin_registry_close(plugin_registry *r);

/* Rescan the directory.  Returns the number of plugins added, replaced or
 * removed (0 if nothing changed). */
int plugin_registry_scan(plugin_registry *r);

/* The current version of plugin NAME with a reference taken, or NULL. */
plugin *plugin_acquire(plugin_registry *r, const char *name);
void plugin_release(plugin *p);
/* P's descriptor.  For a plugin without code (struct plugin_policy) a
 * copy owned by the registry, with its strings and parameters and no
 * functions. */
const struct kiln_plugin *plugin_desc(const plugin *p);
/* Whether P's code is loaded in this process (and task_run() can run it). */
int plugin_has_code(const plugin *p);
/* P's map() entry (ABI 1.1), or NULL if its minor has none or it is unset. */
typedef int (*plugin_map_fn)(kiln_task *task, const struct kiln_host *host,
                             const char *fn);
plugin_map_fn plugin_map(const plugin *p);
/* The context P's init_ctx() returned (ABI 1.3), or NULL. */
void *plugin_context(const plugin *p);
/* The name of the plugin whose init or fini runs on the calling thread,
 * or NULL: what host->log(NULL, ...) prefixes its line with. */
const char *plugin_current_name(void);

/* Walk loaded plugins in name order. */
typedef int (*plugin_list_cb)(const struct kiln_plugin *desc,
                              const char *file, void *ud);
int plugin_list(plugin_registry *r, plugin_list_cb cb, void *ud);
/* Walk the files that failed to load, with the reason. */
typedef int (*plugin_error_cb)(const char *file, const char *error, void *ud);
int plugin_errors(plugin_registry *r, plugin_error_cb cb, void *ud);

/* Load-time check of one file without a registry (every check but init()
 * and name clashes; init() is not called): fills *name and *version with
 * malloc()ed strings the caller frees.  0 or negative with *err. */
int plugin_check_file(const char *path, char **name, char **version,
                      char **err);

/* ------------------------------------------------------------ parameters
 *
 * The master loads no plugins: a worker sends the parameters its plugins
 * declare (struct kiln_param) when it registers, and the master checks a
 * submitted job's parameters against them.  Both functions are pure. */

/* The parameters DESC declares, in declaration order, as a new JSON array
 * (the caller owns the reference; [] if none) of objects
 *   {"name": text, "type": text or null, "required": bool,
 *    "default": text or null, "help": text (absent if none)}
 * where "required" is true exactly when the plugin gave no default. */
json_t *plugin_params_decl_json(const struct kiln_plugin *desc);

/* Check PARAMS (a job's parameters: a JSON object, or NULL for none)
 * against DECL (an array as plugin_params_decl_json() makes it, or NULL
 * for none declared).  Returns 0, or -EINVAL with *err (malloc()ed, the
 * caller frees it) naming the first parameter that is wrong, in DECL's
 * order: "parameter 'k' is required (int)" or "parameter 'k' must be an
 * int, not \"abc\"".  The rules follow what the host's param*()
 * functions read, so a job that ran before still passes:
 *  - a value that is null counts as absent, and so does "" for a type
 *    other than "string" and "json"; a required parameter (no default)
 *    must be present;
 *  - "string": a string, number or boolean (param() formats scalars);
 *  - "number": a number, or a string holding one in full ("1e-4");
 *  - "int": the same, with an integral value ("3", 3, 3.0);
 *  - "bool": true, false, 0, 1, or "true", "false", "1", "0", "yes", "no";
 *  - "json", a missing type, or a type this kiln does not know: anything.
 * Parameters DECL does not name are not checked (plugins read more than
 * they declare, and the host adds "__stage" and friends). */
int plugin_params_check(const json_t *decl, const json_t *params, char **err);

#endif
