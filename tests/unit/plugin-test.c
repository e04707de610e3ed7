/* SPDX-License-Identifier: MIT */
/*
 * plugin-test.c - unit tests of the plugin loader (plugin.c), the host side
 * of the ABI (task.c) and the bundled plugins noop, sleep and csvstats.
 *
 * The bundled plugins come from $KILN_PLUGIN_BUILD (default
 * KILN_SRCDIR/plugins/lib), the purpose-built bad ones from
 * $KILN_TEST_PLUGINS (default KILN_SRCDIR/tests/plugins/.libs).  Each test
 * copies what it needs into a fresh plugin directory under /tmp.
 */
#include <check.h>

#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "plugin.h"
#include "store.h"
#include "datacache.h"
#include "ml/mlplug.h"
#include "task.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static char tmpdir[256];        /* per test: plugins/, cache/, scratch/ */
static char plugdir[300];
static char cachedir[300];
static char scratchdir[300];
static dataroot *roots;         /* what tasks may open by path */

/* ------------------------------------------------------------ helpers */

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : def;
}

static const char *
bundled_dir(void)
{
	return env_or("KILN_PLUGIN_BUILD", KILN_SRCDIR "/plugins/lib");
}

static const char *
test_plugins_dir(void)
{
	return env_or("KILN_TEST_PLUGINS", KILN_SRCDIR "/tests/plugins/.libs");
}

static void
copy_file(const char *src, const char *dst)
{
	FILE *in = fopen(src, "rb");
	ck_assert_msg(in != NULL, "cannot open %s: %s (build the plugins "
	              "first)", src, strerror(errno));
	FILE *out = fopen(dst, "wb");
	ck_assert_msg(out != NULL, "cannot create %s", dst);
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Put plugin DIR/NAME.so into the plugin directory as AS (or NAME.so). */
static void
install(const char *dir, const char *name, const char *as)
{
	char src[512], dst[512];
	snprintf(src, sizeof src, "%.400s/%.100s.so", dir, name);
	if (as != NULL)
		snprintf(dst, sizeof dst, "%s/%.100s", plugdir, as);
	else
		snprintf(dst, sizeof dst, "%s/%.100s.so", plugdir, name);
	copy_file(src, dst);
}


static void
setup(void)
{
	tu_tmpdir(tmpdir, sizeof tmpdir, "plugin-test");
	snprintf(plugdir, sizeof plugdir, "%s/plugins", tmpdir);
	/* A nested cache directory: the registry must create it. */
	snprintf(cachedir, sizeof cachedir, "%s/cache/a/b", tmpdir);
	snprintf(scratchdir, sizeof scratchdir, "%s/scratch", tmpdir);
	ck_assert_int_eq(mkdir(plugdir, 0700), 0);
	ck_assert_int_eq(mkdir(scratchdir, 0700), 0);
}

static void
teardown(void)
{
	dataroot_free(roots);
	roots = NULL;
	tu_rmtree(tmpdir);
}

static plugin_registry *
open_registry(void)
{
	plugin_registry *r = NULL;
	char *err = NULL;
	int rc = plugin_registry_open(plugdir, cachedir, task_host(), &r, &err);
	ck_assert_msg(rc == 0, "registry: %s", err ? err : "?");
	ck_assert_ptr_nonnull(r);
	return r;
}

/* Collects plugin_list() / plugin_errors() output. */
struct seen {
	int n;
	char text[8192];
};

static int
list_cb(const struct kiln_plugin *d, const char *file, void *ud)
{
	struct seen *s = ud;
	s->n++;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof s->text - len, "%s=%s ", d->name,
	         d->version);
	return 0;
}

static int
error_cb(const char *file, const char *error, void *ud)
{
	struct seen *s = ud;
	s->n++;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof s->text - len, "[%s] %s\n", file,
	         error);
	return 0;
}

static struct seen
loaded(plugin_registry *r)
{
	struct seen s = { 0 };
	ck_assert_int_eq(plugin_list(r, list_cb, &s), 0);
	return s;
}

static struct seen
errors(plugin_registry *r)
{
	struct seen s = { 0 };
	ck_assert_int_eq(plugin_errors(r, error_cb, &s), 0);
	return s;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run plugin NAME from R with PARAMS; the task is returned for checks. */
static kiln_task *
run_plugin(plugin_registry *r, const char *name, const char *params,
           int *state)
{
	char *err = NULL;
	kiln_task *t = task_new(42, 1, params, scratchdir, 0, &err);
	ck_assert_msg(t != NULL, "task_new: %s", err ? err : "?");
	/* A worker's read roots: the test's directory and the examples. */
	if (roots == NULL) {
		char ex[512];
		snprintf(ex, sizeof ex, "%s/examples/data",
		         env_or("KILN_SRCDIR", KILN_SRCDIR));
		roots = dataroot_new("test");
		dataroot_add(roots, tmpdir, "data.read_roots");
		dataroot_add(roots, ex, "data.read_roots");
	}
	task_set_dataroot(t, roots);
	plugin *p = plugin_acquire(r, name);
	ck_assert_msg(p != NULL, "plugin %s not loaded", name);
	*state = task_run(t, p);
	plugin_release(p);
	return t;
}

/* A registry with the three bundled plugins. */
static plugin_registry *
bundled_registry(void)
{
	install(bundled_dir(), "noop", NULL);
	install(bundled_dir(), "sleep", NULL);
	install(bundled_dir(), "csvstats", NULL);
	return open_registry();
}

/* ------------------------------------------------------------ loader */

START_TEST(load_bundled)
{
	plugin_registry *r = bundled_registry();
	struct seen s = loaded(r);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.text, "csvstats=1.0.0 noop=1.0.0 sleep=1.0.0 ");
	ck_assert_int_eq(errors(r).n, 0);

	plugin *p = plugin_acquire(r, "sleep");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(plugin_desc(p)->name, "sleep");
	ck_assert_ptr_nonnull(plugin_desc(p)->params);
	ck_assert_str_eq(plugin_desc(p)->params[0].name, "seconds");
	plugin_release(p);
	ck_assert_ptr_null(plugin_acquire(r, "nope"));

	/* Nothing changed: a rescan does nothing. */
	ck_assert_int_eq(plugin_registry_scan(r), 0);
	/* The cache copies are unlinked once loaded. */
	struct stat st;
	ck_assert_int_eq(stat(cachedir, &st), 0);
	ck_assert_int_eq(rmdir(cachedir), 0);
	plugin_registry_close(r);
}
END_TEST

/* A refused name is not loaded, not listed as a load error, and stays
 * refused across scans (a worker without `exec: true` and plugins/exec). */
START_TEST(refused_by_name)
{
	install(bundled_dir(), "noop", NULL);
	install(bundled_dir(), "sleep", NULL);
	const struct plugin_refusal no = { "sleep", "is not for this test" };
	plugin_registry *r = NULL;
	char *err = NULL;
	ck_assert_int_eq(plugin_registry_open_refusing(plugdir, cachedir,
	                 task_host(), &no, 1, &r, &err), 0);
	ck_assert_str_eq(loaded(r).text, "noop=1.0.0 ");
	ck_assert_ptr_null(plugin_acquire(r, "sleep"));
	ck_assert_int_eq(errors(r).n, 0);     /* a policy, not a fault */
	ck_assert_int_eq(plugin_registry_scan(r), 0);
	ck_assert_ptr_null(plugin_acquire(r, "sleep"));
	plugin_registry_close(r);
}
END_TEST

/* Whether this process maps a copy of plugin NAME (its cache copies are
 * named after it). */
static int
mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	char line[4096], pat[128];
	snprintf(pat, sizeof pat, "/%s-", name);
	int found = 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, cachedir) != NULL && strstr(line, pat) != NULL)
			found = 1;
	fclose(f);
	return found;
}

/* A worker under process isolation: its registry keeps descriptors (the
 * same parameters as the code's) and unmaps the code, except for the
 * plugins it runs in process; a task of a described plugin fails cleanly. */
START_TEST(described_only)
{
	install(bundled_dir(), "noop", NULL);
	install(bundled_dir(), "csvstats", NULL);
	const char *keep[] = { "noop" };
	const struct plugin_policy pol = { .describe_only = 1,
		.with_code = keep, .nwith_code = 1 };
	plugin_registry *r = NULL, *code = NULL;
	char *err = NULL;
	ck_assert_int_eq(plugin_registry_open_policy(plugdir, cachedir,
	                 task_host(), &pol, &r, &err), 0);
	ck_assert_str_eq(loaded(r).text, "csvstats=1.0.0 noop=1.0.0 ");
	plugin *d = plugin_acquire(r, "csvstats");
	plugin *n = plugin_acquire(r, "noop");
	ck_assert(!plugin_has_code(d));
	ck_assert(plugin_has_code(n));
	ck_assert(!mapped("csvstats"));
	ck_assert(mapped("noop"));
	ck_assert_ptr_null(plugin_map(d));

	/* What the worker registers is what the code declares. */
	ck_assert_int_eq(plugin_registry_open_code(r, &code, &err), 0);
	plugin *c = plugin_acquire(code, "csvstats");
	ck_assert(plugin_has_code(c));
	json_t *a = plugin_params_decl_json(plugin_desc(d));
	json_t *b = plugin_params_decl_json(plugin_desc(c));
	ck_assert_int_gt(json_array_size(a), 0);
	ck_assert(json_equal(a, b));
	ck_assert_str_eq(plugin_desc(d)->description,
	                 plugin_desc(c)->description);
	json_decref(a);
	json_decref(b);

	kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_int_eq(task_run(t, d), JOB_FAILED);
	ck_assert_str_eq(task_error(t), "plugin csvstats has no code in this "
	                 "process");
	task_free(t);
	plugin_release(c);
	plugin_release(d);
	plugin_release(n);
	plugin_registry_close(code);
	plugin_registry_close(r);
}
END_TEST

/* A worker's max_output_size: output() refuses what would pass it, before
 * copying, and says so; a replaced output counts once. */
START_TEST(output_limit)
{
	const struct kiln_host *h = task_host();
	kiln_task *t = task_new(7, 1, NULL, scratchdir, 0, NULL);
	char buf[600] = { 0 };
	task_set_output_limit(t, 1000);
	ck_assert_int_eq(h->output(t, "a", buf, 600), KILN_OK);
	ck_assert_int_eq(h->output(t, "a", buf, 600), KILN_OK);
	ck_assert_int_eq(h->output(t, "b", buf, 400), KILN_OK);
	ck_assert_ptr_null(task_error(t));
	ck_assert_int_eq(h->output(t, "c", buf, 1), KILN_EINVAL);
	ck_assert_str_eq(task_error(t), "output 'c' (1 bytes) would bring the "
	                 "task's outputs to 1001 bytes, more than this worker's "
	                 "max_output_size (1000 bytes)");
	ck_assert_int_eq(task_output_count(t), 2);
	task_free(t);
}
END_TEST

/* Outputs written to files of an output directory (the worker's cache):
 * the bytes are there and readable through task_output(); a replaced one's
 * file goes; the task removes what it still owns; a disowned file stays;
 * a file handed over by another process is refused, and removed, past the
 * limit. */
static int
count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp") != NULL)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

START_TEST(output_files)
{
	const struct kiln_host *h = task_host();
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/outdir", scratchdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	kiln_task *t = task_new(7, 1, NULL, scratchdir, 0, NULL);
	task_set_output_dir(t, dir);
	task_set_output_limit(t, 1000);
	ck_assert_int_eq(h->output(t, "a", "first", 5), KILN_OK);
	ck_assert_int_eq(h->output(t, "a", "second", 6), KILN_OK);
	ck_assert_int_eq(h->output(t, "empty", "", 0), KILN_OK);
	ck_assert_int_eq(count_tmp(dir), 1);   /* a's first file replaced */
	const void *data;
	size_t len;
	ck_assert_str_eq(task_output(t, 0, &data, &len), "a");
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(memcmp(data, "second", 6), 0);
	const char *f = task_output_file(t, 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_null(task_output_file(t, 1));  /* empty: in memory */
	char got[16] = { 0 };
	FILE *fp = fopen(f, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fread(got, 1, sizeof got, fp), 6);
	fclose(fp);
	ck_assert_str_eq(got, "second");
	/* Handed over: the task keeps its mapping and leaves the file. */
	char *kept = strdup(f);
	task_output_disown_file(t, 0);
	ck_assert_ptr_null(task_output_file(t, 0));
	ck_assert_int_eq(memcmp(data, "second", 6), 0);
	/* Adopted from another process, and one refused past the limit. */
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/x.tmp", dir);
	fp = fopen(path, "wb");
	fwrite("adopted", 1, 7, fp);
	fclose(fp);
	char *err = NULL;
	ck_assert_int_eq(task_output_add_file(t, "b", path, &err), 0);
	ck_assert_str_eq(task_output(t, 2, &data, &len), "b");
	ck_assert_uint_eq(len, 7);
	ck_assert_int_eq(memcmp(data, "adopted", 7), 0);
	snprintf(path, sizeof path, "%s/big.tmp", dir);
	fp = fopen(path, "wb");
	for (int i = 0; i < 1000; i++)
		fputc('z', fp);
	fclose(fp);
	ck_assert_int_lt(task_output_add_file(t, "c", path, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "max_output_size (1000 bytes)"));
	free(err);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(count_tmp(dir), 2);   /* a (disowned) and b */
	task_free(t);
	ck_assert_int_eq(count_tmp(dir), 1);   /* only a's, disowned */
	ck_assert_int_eq(access(kept, F_OK), 0);
	unlink(kept);
	free(kept);
	rmdir(dir);
}
END_TEST

static const struct bad_case {
	const char *plugin;     /* in the test plugin dir; NULL: text file */
	const char *as;         /* file name in the plugin directory */
	const char *expect;     /* in the error message */
} bad_cases[] = {
	{ "bad_abi", "bad_abi.so", "built for ABI 999, this kiln speaks ABI 1" },
	{ "no_symbol", "no_symbol.so", "does not export the symbol 'kiln_plugin'" },
	{ "init_fails", "init_fails.so", "init() of plugin 'init_fails' failed: init refused" },
	{ "no_run", "no_run.so", "plugin 'no_run' has no run()" },
	{ "dup_noop", "zz_dup.so", "plugin name 'noop' is already provided by" },
	{ NULL, "x.so", "not a loadable shared object" },
	{ "new_minor", "new_minor.so", "built for ABI 1.8, this kiln speaks ABI 1.7" },
	{ "short_desc", "short_desc.so", "descriptor size 80 is smaller than the 96 bytes of ABI 1.3" },
	/* The test is linked with the kiln binary's export list. */
	{ "internal_sym", "internal_sym.so", "undefined symbol: xmalloc: a "
	  "plugin may use kiln only through the host table" },
};
#define NBAD (int)(sizeof bad_cases / sizeof bad_cases[0])

START_TEST(bad_plugin)
{
	const struct bad_case *c = &bad_cases[_i];
	install(bundled_dir(), "noop", NULL);
	install(bundled_dir(), "sleep", NULL);
	char path[512];
	snprintf(path, sizeof path, "%s/%s", plugdir, c->as);
	if (c->plugin != NULL)
		install(test_plugins_dir(), c->plugin, c->as);
	else
		write_file(path, "this is not an ELF file\n");
	/* Files without the .so suffix are not even looked at. */
	char readme[512];
	snprintf(readme, sizeof readme, "%s/README", plugdir);
	write_file(readme, "ignored");

	plugin_registry *r = open_registry();
	struct seen e = errors(r);
	ck_assert_msg(e.n == 1, "errors: %s", e.text);
	ck_assert_msg(strstr(e.text, c->expect) != NULL, "got: %s", e.text);
	ck_assert_msg(strstr(e.text, path) != NULL, "file not named: %s",
	              e.text);
	/* The good plugins are unaffected; noop is the bundled one. */
	struct seen s = loaded(r);
	ck_assert_str_eq(s.text, "noop=1.0.0 sleep=1.0.0 ");
	/* An unchanged bad file is not retried (or reported again). */
	ck_assert_int_eq(plugin_registry_scan(r), 0);
	ck_assert_int_eq(errors(r).n, 1);
	plugin_registry_close(r);
}
END_TEST

START_TEST(all_bad_together)
{
	install(bundled_dir(), "noop", NULL);
	install(bundled_dir(), "sleep", NULL);
	install(bundled_dir(), "csvstats", NULL);
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", plugdir, bad_cases[i].as);
		if (bad_cases[i].plugin != NULL)
			install(test_plugins_dir(), bad_cases[i].plugin,
			        bad_cases[i].as);
		else
			write_file(path, "not ELF");
	}
	install(test_plugins_dir(), "crash", NULL);
	plugin_registry *r = open_registry();
	struct seen e = errors(r);
	ck_assert_msg(e.n == NBAD, "errors: %s", e.text);
	ck_assert_str_eq(loaded(r).text,
	                 "crash=1.0.0 csvstats=1.0.0 noop=1.0.0 sleep=1.0.0 ");

	/* Removing the first noop frees the name for the duplicate. */
	char path[512];
	snprintf(path, sizeof path, "%s/noop.so", plugdir);
	ck_assert_int_eq(unlink(path), 0);
	/* Removed, then the duplicate loaded. */
	ck_assert_int_eq(plugin_registry_scan(r), 2);
	ck_assert_str_eq(loaded(r).text,
	                 "crash=1.0.0 csvstats=1.0.0 noop=9.9.9 sleep=1.0.0 ");
	ck_assert_int_eq(errors(r).n, NBAD - 1);
	plugin_registry_close(r);
}
END_TEST

/* A file cut short (still being copied in) is refused, not mapped: the
 * dynamic linker would die of SIGBUS on it. */
START_TEST(truncated_file)
{
	char src[512], dst[512];
	snprintf(src, sizeof src, "%s/csvstats.so", bundled_dir());
	snprintf(dst, sizeof dst, "%s/csvstats.so", plugdir);
	copy_file(src, dst);
	struct stat st;
	ck_assert_int_eq(stat(dst, &st), 0);
	/* Past the headers, inside the code (which starts at 4 KiB). */
	ck_assert_int_gt(st.st_size, 8192);
	ck_assert_int_eq(truncate(dst, 5000), 0);
	plugin_registry *r = open_registry();
	struct seen e = errors(r);
	ck_assert_int_eq(e.n, 1);
	ck_assert_msg(strstr(e.text, "truncated ELF file") != NULL, "%s",
	              e.text);
	ck_assert_int_eq(loaded(r).n, 0);
	/* Once the copy completes, the next scan loads it. */
	copy_file(src, dst);
	ck_assert_int_eq(plugin_registry_scan(r), 1);
	ck_assert_str_eq(loaded(r).text, "csvstats=1.0.0 ");
	ck_assert_int_eq(errors(r).n, 0);
	plugin_registry_close(r);
}
END_TEST

START_TEST(check_file)
{
	char path[512], *name = NULL, *version = NULL, *err = NULL;
	snprintf(path, sizeof path, "%s/noop.so", bundled_dir());
	ck_assert_int_eq(plugin_check_file(path, &name, &version, &err), 0);
	ck_assert_str_eq(name, "noop");
	ck_assert_str_eq(version, "1.0.0");
	free(name);
	free(version);

	/* init() is not called by a check. */
	snprintf(path, sizeof path, "%s/init_fails.so", test_plugins_dir());
	ck_assert_int_eq(plugin_check_file(path, &name, &version, &err), 0);
	ck_assert_str_eq(name, "init_fails");
	free(name);
	free(version);

	snprintf(path, sizeof path, "%s/bad_abi.so", test_plugins_dir());
	name = NULL;
	ck_assert_int_lt(plugin_check_file(path, &name, &version, &err), 0);
	ck_assert_ptr_null(name);
	ck_assert_ptr_nonnull(strstr(err, "built for ABI 999"));
	ck_assert_ptr_nonnull(strstr(err, path));
	free(err);

	err = NULL;
	ck_assert_int_lt(plugin_check_file("/nonexistent/x.so", &name,
	                                   &version, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.so"));
	free(err);
}
END_TEST

START_TEST(open_missing_dir)
{
	plugin_registry *r = NULL;
	char *err = NULL;
	char dir[512];
	snprintf(dir, sizeof dir, "%s/none", tmpdir);
	ck_assert_int_lt(plugin_registry_open(dir, cachedir, task_host(), &r,
	                                      &err), 0);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(err, dir));
	free(err);
}
END_TEST

START_TEST(hot_replace)
{
	install(bundled_dir(), "noop", NULL);
	plugin_registry *r = open_registry();
	plugin *old = plugin_acquire(r, "noop");
	ck_assert_ptr_nonnull(old);
	ck_assert_str_eq(plugin_desc(old)->version, "1.0.0");

	/* Rewrite noop.so in place (same inode) with another plugin's
	 * bytes, and move its mtime so the change shows even on a coarse
	 * clock. */
	char src[512], dst[512];
	snprintf(src, sizeof src, "%s/dup_noop.so", test_plugins_dir());
	snprintf(dst, sizeof dst, "%s/noop.so", plugdir);
	copy_file(src, dst);
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
	clock_gettime(CLOCK_REALTIME, &ts[1]);
	ts[1].tv_sec += 2;
	ck_assert_int_eq(utimensat(AT_FDCWD, dst, ts, 0), 0);

	ck_assert_int_eq(plugin_registry_scan(r), 1);
	plugin *cur = plugin_acquire(r, "noop");
	ck_assert_ptr_nonnull(cur);
	ck_assert_ptr_ne(cur, old);
	ck_assert_str_eq(plugin_desc(cur)->version, "9.9.9");
	/* The old version is still mapped and runs. */
	ck_assert_str_eq(plugin_desc(old)->version, "1.0.0");
	kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_int_eq(task_run(t, old), JOB_SUCCEEDED);
	ck_assert_str_eq(task_result(t), "{}");
	task_free(t);
	t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_int_eq(task_run(t, cur), JOB_SUCCEEDED);
	ck_assert_str_eq(task_result(t), "{\"version\":\"9.9.9\"}");
	task_free(t);
	ck_assert_int_eq(errors(r).n, 0);
	ck_assert_int_eq(plugin_registry_scan(r), 0);
	plugin_release(old);
	plugin_release(cur);

	/* Replace by rename (a new inode), the recommended way. */
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%s/.noop.tmp", plugdir);
	snprintf(src, sizeof src, "%s/noop.so", bundled_dir());
	copy_file(src, tmp);
	ck_assert_int_eq(rename(tmp, dst), 0);
	ck_assert_int_eq(plugin_registry_scan(r), 1);
	ck_assert_str_eq(loaded(r).text, "noop=1.0.0 ");
	plugin_registry_close(r);
}
END_TEST

START_TEST(delete_file)
{
	plugin_registry *r = bundled_registry();
	plugin *held = plugin_acquire(r, "sleep");
	char path[512];
	snprintf(path, sizeof path, "%s/sleep.so", plugdir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(plugin_registry_scan(r), 1);
	ck_assert_ptr_null(plugin_acquire(r, "sleep"));
	ck_assert_str_eq(loaded(r).text, "csvstats=1.0.0 noop=1.0.0 ");
	/* A task holding the removed plugin still runs it. */
	kiln_task *t = task_new(1, 1, "{\"seconds\":0}", scratchdir, 0, NULL);
	ck_assert_int_eq(task_run(t, held), JOB_SUCCEEDED);
	task_free(t);
	plugin_release(held);

	/* A bad file that goes away takes its error with it. */
	snprintf(path, sizeof path, "%s/junk.so", plugdir);
	write_file(path, "junk");
	ck_assert_int_eq(plugin_registry_scan(r), 0);
	ck_assert_int_eq(errors(r).n, 1);
	unlink(path);
	plugin_registry_scan(r);
	ck_assert_int_eq(errors(r).n, 0);
	plugin_registry_close(r);
}
END_TEST

static void *
release_thread(void *arg)
{
	plugin_release(arg);
	return NULL;
}

START_TEST(release_other_thread)
{
	plugin_registry *r = bundled_registry();
	plugin *p[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		ck_assert_ptr_nonnull(p[i] = plugin_acquire(r, "noop"));
	/* The registry drops its own reference first: the last release,
	 * and with it dlclose(), happens on one of the threads. */
	plugin_registry_close(r);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, release_thread,
		                                p[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
}
END_TEST

/* Tasks acquire, run and release noop while the file is replaced and the
 * directory rescanned under them. */
struct churn {
	plugin_registry *r;
	int failures;
	int runs;
};

static void *
churn_thread(void *arg)
{
	struct churn *c = arg;
	for (int i = 0; i < 200; i++) {
		plugin *p = plugin_acquire(c->r, "noop");
		if (p == NULL) {
			c->failures++;
			continue;
		}
		kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
		if (task_run(t, p) != JOB_SUCCEEDED || task_result(t) == NULL)
			c->failures++;
		c->runs++;
		task_free(t);
		plugin_release(p);
	}
	return NULL;
}

START_TEST(concurrent_replace)
{
	install(bundled_dir(), "noop", NULL);
	plugin_registry *r = open_registry();
	struct churn c[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct churn){ .r = r };
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_thread,
		                                &c[i]), 0);
	}
	char src[2][512], tmp[512], dst[512];
	snprintf(src[0], sizeof src[0], "%s/dup_noop.so", test_plugins_dir());
	snprintf(src[1], sizeof src[1], "%s/noop.so", bundled_dir());
	snprintf(tmp, sizeof tmp, "%s/.tmp", plugdir);
	snprintf(dst, sizeof dst, "%s/noop.so", plugdir);
	int replaced = 0;
	for (int i = 0; i < 20; i++) {
		copy_file(src[i % 2], tmp);
		ck_assert_int_eq(rename(tmp, dst), 0);
		replaced += plugin_registry_scan(r);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(c[i].failures, 0);
		ck_assert_int_eq(c[i].runs, 200);
	}
	ck_assert_int_eq(replaced, 20);
	ck_assert_int_eq(errors(r).n, 0);
	plugin_registry_close(r);
}
END_TEST

/* ------------------------------------------------------------ tasks */

START_TEST(task_bad_params)
{
	static const struct {
		const char *params;
		const char *expect;
	} cases[] = {
		{ "{", "not valid JSON" },
		{ "[1,2]", "must be a JSON object" },
		{ "3", "must be a JSON object" },
		{ "\"s\"", "must be a JSON object" },
		{ "{\"a\":1} x", "not valid JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *err = NULL;
		kiln_task *t = task_new(7, 1, cases[i].params, scratchdir, 0,
		                        &err);
		ck_assert_ptr_null(t);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, cases[i].expect) != NULL,
		              "%s: got %s", cases[i].params, err);
		ck_assert_ptr_nonnull(strstr(err, "job 7"));
		free(err);
	}
	kiln_task *t = task_new(7, 1, NULL, scratchdir, 0, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(task_host()->params_json(t), "{}");
	task_free(t);
}
END_TEST

/* mlp_fail() (lib/ml/mlplug.c) turns the library's errno codes into
 * task outcomes: an I/O error is a failure, not a cancellation (-EIO is
 * KILN_ECANCELLED's number), and a cancelled task ends cancelled. */
START_TEST(model_plugin_failures)
{
	const struct kiln_host *h = task_host();
	kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_int_eq(mlp_fail(t, h, -EIO, strdup("partition 2: bad")), KILN_EFAIL);
	ck_assert_str_eq(task_error(t), "partition 2: bad");
	ck_assert_int_eq(mlp_fail(t, h, -EINVAL, strdup("row 3: NaN")), KILN_EINVAL);
	ck_assert_int_eq(mlp_fail(t, h, -EDOM, NULL), KILN_EINVAL);
	task_cancel(t);
	ck_assert_int_eq(mlp_fail(t, h, KILN_EFAIL, strdup("stopped")), KILN_ECANCELLED);
	task_free(t);
}
END_TEST

/* ABI 1.1: inputs mapped in memory, a map task's view of its stage, and
 * a stage outside a worker failing with a message. */
START_TEST(task_abi_1_1)
{
	const struct kiln_host *h = task_host();
	ck_assert_uint_ge(h->abi_minor, 1);
	char path[512];
	snprintf(path, sizeof path, "%s/part.bin", tmpdir);
	write_file(path, "0123456789abcdef");
	kiln_task *t = task_new(5, 1, "{\"__stage\":{\"fn\":\"grad\",\"index\":2,"
	                        "\"count\":4},\"__arg\":\"s\",\"__broadcast\":[1.5,2]}",
	                        scratchdir, 0, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(task_stage_fn_name(t), "grad");
	int count = 0;
	ck_assert_int_eq(h->stage_index(t, &count), 2);
	ck_assert_int_eq(count, 4);
	ck_assert_str_eq(h->stage_arg(t), "\"s\"");     /* JSON text */
	ck_assert_str_eq(h->broadcast(t), "[1.5,2]");
	ck_assert_int_eq(task_add_input(t, "p", path), 0);
	size_t len = 0;
	const char *d = h->input_data(t, 0, &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(memcmp(d, "0123456789abcdef", 16), 0);
	ck_assert_uint_eq((uintptr_t)d % 8, 0);
	ck_assert_ptr_eq(h->input_data(t, 0, &len), d);   /* mapped once */
	ck_assert_ptr_null(h->input_data(t, 1, &len));
	/* A second task reading the same input shares the mapping. */
	kiln_task *t2 = task_new(6, 1, NULL, scratchdir, 0, NULL);
	task_add_input(t2, "p", path);
	ck_assert_ptr_eq(h->input_data(t2, 0, &len), d);
	task_free(t2);

	kiln_task *drv = task_new(7, 1, NULL, scratchdir, 0, NULL);
	ck_assert_ptr_null(task_stage_fn_name(drv));
	ck_assert_int_eq(h->stage_index(drv, NULL), -1);
	struct kiln_stage_task st = { .arg = "1" };
	char **res = NULL, *err = NULL;
	ck_assert_int_eq(h->stage(drv, "grad", NULL, &st, 1, &res, &err), KILN_EFAIL);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "workers only"));
	ck_assert_ptr_null(res);
	free(err);
	task_free(drv);
	task_free(t);
	datacache_flush();
}
END_TEST

START_TEST(task_host_functions)
{
	const struct kiln_host *h = task_host();
	ck_assert_uint_eq(h->abi_major, KILN_ABI_MAJOR);
	/* size covers what the host fills, not the spares. */
	ck_assert_uint_eq(h->size, offsetof(struct kiln_host, spare));
	ck_assert_uint_lt(h->size, sizeof(struct kiln_host));
	ck_assert_ptr_nonnull(h->attempt);

	kiln_task *t = task_new(9, 2, "{\"n\":3,\"x\":2.5,\"s\":\"hi\","
	                        "\"b\":true,\"o\":{\"a\":[1]},\"z\":null,"
	                        "\"ns\":\"12\"}", scratchdir, 0, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(h->param(t, "n"), "3");
	ck_assert_str_eq(h->param(t, "x"), "2.5");
	ck_assert_str_eq(h->param(t, "s"), "hi");
	ck_assert_str_eq(h->param(t, "b"), "true");
	ck_assert_str_eq(h->param(t, "o"), "{\"a\":[1]}");
	/* Handed-out strings are stable: the same pointer again. */
	ck_assert_ptr_eq(h->param(t, "o"), h->param(t, "o"));
	ck_assert_ptr_null(h->param(t, "z"));
	ck_assert_ptr_null(h->param(t, "missing"));
	ck_assert_int_eq(h->param_int(t, "n", -1), 3);
	ck_assert_int_eq(h->param_int(t, "ns", -1), 12);
	ck_assert_int_eq(h->param_int(t, "s", -1), -1);
	ck_assert_int_eq(h->param_int(t, "missing", 7), 7);
	ck_assert_double_eq(h->param_double(t, "x", 0), 2.5);
	ck_assert_double_eq(h->param_double(t, "n", 0), 3.0);
	ck_assert_double_eq(h->param_double(t, "b", -1), -1);
	ck_assert_ptr_nonnull(strstr(h->params_json(t), "\"x\":2.5"));
	ck_assert_int_eq(h->job_id(t), 9);
	ck_assert_int_eq(h->attempt(t), 2);

	ck_assert_int_eq(h->set_result(t, "{"), KILN_EINVAL);
	ck_assert_ptr_null(task_result(t));
	ck_assert_int_eq(h->set_result(t, "42"), KILN_OK);
	ck_assert_int_eq(h->set_result(t, "{\"a\":1}"), KILN_OK);
	ck_assert_str_eq(task_result(t), "{\"a\":1}");
	size_t big = 1024 * 1024 + 16;
	char *huge = malloc(big + 1);
	huge[0] = '"';
	memset(huge + 1, 'a', big - 2);
	huge[big - 1] = '"';
	huge[big] = '\0';
	ck_assert_int_eq(h->set_result(t, huge), KILN_EINVAL);
	free(huge);

	ck_assert_int_eq(h->output(t, "a.txt", "hello", 5), KILN_OK);
	ck_assert_int_eq(h->output(t, "b.bin", "", 0), KILN_OK);
	ck_assert_int_eq(h->output(t, "a.txt", "bye", 3), KILN_OK);
	ck_assert_int_eq(h->output(t, "../x", "x", 1), KILN_EINVAL);
	ck_assert_int_eq(h->output(t, "", "x", 1), KILN_EINVAL);
	ck_assert_int_eq(task_output_count(t), 2);
	const void *data;
	size_t len;
	ck_assert_str_eq(task_output(t, 0, &data, &len), "a.txt");
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(data, "bye", 3), 0);
	ck_assert_ptr_null(task_output(t, 2, &data, &len));

	ck_assert_int_eq(task_add_input(t, "up", "/tmp/up.csv"), 0);
	const char *name = NULL;
	ck_assert_int_eq(h->input_count(t), 1);
	ck_assert_str_eq(h->input_path(t, 0, &name), "/tmp/up.csv");
	ck_assert_str_eq(name, "up");
	ck_assert_ptr_null(h->input_path(t, 1, &name));

	h->progress(t, 0.25);
	ck_assert_double_eq(task_progress(t), 0.25);
	h->progress(t, 7);
	ck_assert_double_eq(task_progress(t), 1.0);

	h->set_error(t, "bad %d", 5);
	ck_assert_str_eq(task_error(t), "bad 5");

	ck_assert_int_eq(h->cancelled(t), 0);
	/* ABI 1.6: sleep waits its time, and no longer once cancelled */
	ck_assert(KILN_HOST_HAS(h, sleep));
	double s0 = now();
	ck_assert_int_eq(h->sleep(t, 30), KILN_OK);
	ck_assert_double_ge(now() - s0, 0.029);
	task_cancel(t);
	ck_assert_int_ne(h->cancelled(t), 0);
	s0 = now();
	ck_assert_int_eq(h->sleep(t, 60000), KILN_ECANCELLED);
	ck_assert_double_lt(now() - s0, 1.0);

	const char *scratch = h->scratch_dir(t);
	ck_assert_ptr_nonnull(scratch);
	ck_assert_ptr_eq(h->scratch_dir(t), scratch);
	ck_assert_int_eq(strncmp(scratch, scratchdir, strlen(scratchdir)), 0);
	char *keep = strdup(scratch), path[512];
	snprintf(path, sizeof path, "%s/sub", keep);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/sub/f", keep);
	write_file(path, "x");
	task_free(t);
	struct stat st;
	ck_assert_int_ne(stat(keep, &st), 0);   /* removed with the task */
	free(keep);
}
END_TEST

START_TEST(task_log_tail)
{
	const struct kiln_host *h = task_host();
	kiln_task *t = task_new(1, 1, NULL, scratchdir, 300, NULL);
	ck_assert_str_eq(task_log(t), "");
	for (int i = 0; i < 1000; i++)
		h->log(t, KILN_LOG_INFO, "line %d\n", i);
	h->log(t, KILN_LOG_ERROR, "last");
	const char *log = task_log(t);
	ck_assert_uint_le(strlen(log), 300);
	ck_assert_uint_gt(strlen(log), 150);
	ck_assert_ptr_nonnull(strstr(log, "INFO line 999\n"));
	ck_assert_ptr_null(strstr(log, "line 990\n"));
	/* The tail starts at a line: a timestamp. */
	ck_assert_int_eq(strncmp(log, "20", 2), 0);
	ck_assert_int_eq(log[strlen(log) - 1], '\n');
	ck_assert_ptr_nonnull(strstr(log, "Z ERROR last\n"));
	task_free(t);

	/* One line longer than the limit keeps its end. */
	t = task_new(1, 1, NULL, scratchdir, 64, NULL);
	char big[200];
	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = 'y';
	big[sizeof big - 1] = '\0';
	h->log(t, KILN_LOG_INFO, "%s", big);
	ck_assert_uint_eq(strlen(task_log(t)), 64);
	ck_assert_ptr_nonnull(strstr(task_log(t), "xy\n"));
	task_free(t);
}
END_TEST

START_TEST(run_noop)
{
	plugin_registry *r = bundled_registry();
	int state;
	kiln_task *t = run_plugin(r, "noop", NULL, &state);
	ck_assert_int_eq(state, JOB_SUCCEEDED);
	ck_assert_str_eq(task_result(t), "{}");
	ck_assert_ptr_null(task_error(t));
	ck_assert_double_eq(task_progress(t), 1.0);
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

START_TEST(run_sleep)
{
	plugin_registry *r = bundled_registry();
	int state;
	double t0 = now();
	kiln_task *t = run_plugin(r, "sleep", "{\"seconds\":0.05}", &state);
	double took = now() - t0;
	ck_assert_int_eq(state, JOB_SUCCEEDED);
	ck_assert_double_ge(took, 0.05);
	ck_assert_double_lt(took, 2.0);
	json_t *res = json_loads(task_result(t), 0, NULL);
	ck_assert_ptr_nonnull(res);
	ck_assert_double_ge(json_number_value(json_object_get(res, "slept")),
	                    0.05);
	json_decref(res);
	ck_assert_ptr_nonnull(strstr(task_log(t), "sleep: sleeping 0.05 s"));
	ck_assert_ptr_nonnull(strstr(task_log(t), "sleep: woke after"));
	task_free(t);

	t = run_plugin(r, "sleep", "{\"seconds\":0,\"fail\":true}", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "fail"));
	task_free(t);

	t = run_plugin(r, "sleep", "{\"seconds\":-1}", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "seconds"));
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

struct runner {
	kiln_task *t;
	plugin *p;
	int state;
};

static void *
runner_thread(void *arg)
{
	struct runner *ru = arg;
	ru->state = task_run(ru->t, ru->p);
	return NULL;
}

START_TEST(cancel_sleep)
{
	plugin_registry *r = bundled_registry();
	struct runner ru = {
		.t = task_new(5, 1, "{\"seconds\":10}", scratchdir, 0, NULL),
		.p = plugin_acquire(r, "sleep"),
		.state = -1,
	};
	pthread_t th;
	double t0 = now();
	ck_assert_int_eq(pthread_create(&th, NULL, runner_thread, &ru), 0);
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	ck_assert_double_gt(task_progress(ru.t), 0);
	double tc = now();
	task_cancel(ru.t);
	pthread_join(th, NULL);
	double took = now() - t0;
	/* host->sleep (ABI 1.6) wakes on the cancel, not at its next look */
	ck_assert_double_lt(now() - tc, 0.5);
	ck_assert_int_eq(ru.state, JOB_CANCELLED);
	ck_assert_double_lt(took, 1.0);
	ck_assert_ptr_nonnull(strstr(task_error(ru.t), "cancelled"));
	task_free(ru.t);
	plugin_release(ru.p);
	plugin_registry_close(r);
}
END_TEST

static const char *
iris_path(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/examples/data/iris.csv",
	         env_or("KILN_SRCDIR", KILN_SRCDIR));
	return path;
}

static json_t *
column(json_t *res, size_t i)
{
	return json_array_get(json_object_get(res, "columns"), i);
}

static double
num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static const char *
str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

START_TEST(csvstats_iris)
{
	plugin_registry *r = bundled_registry();
	char params[1024];
	snprintf(params, sizeof params, "{\"file\":\"%s\"}", iris_path());
	int state;
	kiln_task *t = run_plugin(r, "csvstats", params, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "error: %s", task_error(t));
	json_t *res = json_loads(task_result(t), 0, NULL);
	ck_assert_ptr_nonnull(res);
	ck_assert_double_eq(num(res, "rows"), 150);
	ck_assert_uint_eq(json_array_size(json_object_get(res, "columns")), 5);

	json_t *c = column(res, 0);
	ck_assert_str_eq(str(c, "name"), "sepal_length_(cm)");
	ck_assert_str_eq(str(c, "type"), "numeric");
	ck_assert_double_eq(num(c, "count"), 150);
	ck_assert_double_eq(num(c, "missing"), 0);
	ck_assert_double_eq_tol(num(c, "mean"), 5.8433, 1e-4);
	ck_assert_double_eq_tol(num(c, "std"), 0.828066, 1e-6);
	ck_assert_double_eq(num(c, "min"), 4.3);
	ck_assert_double_eq(num(c, "max"), 7.9);

	c = column(res, 4);
	ck_assert_str_eq(str(c, "name"), "species");
	ck_assert_str_eq(str(c, "type"), "categorical");
	ck_assert_double_eq(num(c, "distinct"), 3);
	ck_assert_double_eq(num(c, "top_count"), 50);
	ck_assert_str_eq(str(c, "top"), "setosa");   /* first of the ties */
	json_decref(res);
	ck_assert_ptr_nonnull(strstr(task_log(t), "150 rows, 5 columns "
	                             "(4 numeric, 1 categorical)"));
	task_free(t);

	/* The same file given as the first input instead of a parameter. */
	char *err = NULL;
	t = task_new(1, 1, NULL, scratchdir, 0, &err);
	task_add_input(t, "flowers", iris_path());
	plugin *p = plugin_acquire(r, "csvstats");
	ck_assert_int_eq(task_run(t, p), JOB_SUCCEEDED);
	plugin_release(p);
	ck_assert_ptr_nonnull(strstr(task_result(t), "\"file\":\"flowers\""));
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

/* ------------------------------------------------------------ values
 * from the network: a map task's broadcast and argument, a map result */

/* Issue 13: the request that crashed every worker in turn through the
 * benchmark plugin (a crafted origin and horizon made `start + hz` wrap).
 * The master refuses a job's "__" params, but a map task reads what any
 * driver sent: the task fails, naming the value, and nothing overruns. */
START_TEST(benchmark_forged_fold)
{
	install(bundled_dir(), "benchmark", NULL);
	plugin_registry *r = open_registry();
	static const char *const cases[][2] = {
		{ "\"origins\":[1],\"horizon\":-1", "origins[0] = 1 is out of range 1..0" },
		{ "\"origins\":[-9223372036854775807],\"horizon\":1",
		  "origins[0] = -9223372036854775807 is out of range 1..0" },
		{ "\"origins\":[],\"horizon\":1", "map argument f (fold) = 0 is out of "
		  "range 0..-1" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char params[1024];
		snprintf(params, sizeof params, "{\"__stage\":{\"fn\":\"fold\","
		         "\"index\":0,\"count\":1},\"__arg\":{\"m\":0,\"f\":0},"
		         "\"__broadcast\":{\"b\":{\"kind\":1,\"models\":[{\"type\":"
		         "\"seasonal_naive\",\"params\":{}}],%s,\"season\":1},"
		         "\"dataset\":{\"features\":[],\"label\":\"y\"}}}", cases[i][0]);
		int state;
		kiln_task *t = run_plugin(r, "benchmark", params, &state);
		ck_assert_int_eq(state, JOB_FAILED);
		ck_assert_msg(task_error(t) && strstr(task_error(t), cases[i][1]),
		              "case %zu: %s", i, task_error(t));
		task_free(t);
	}
	plugin_registry_close(r);
}
END_TEST

/* ingest's map tasks: a range that ends before it starts, or more rows
 * than its bytes hold, is refused before anything is allocated for it. */
START_TEST(ingest_forged_range)
{
	install(bundled_dir(), "ingest", NULL);
	plugin_registry *r = open_registry();
	static const char *const args[] = {
		"\"off\":10,\"end\":5,\"n\":0,\"p\":0",
		"\"off\":0,\"end\":100,\"n\":1000000000000,\"p\":0",
		"\"off\":0,\"end\":100,\"skip\":50,\"n\":60,\"p\":0",
		"\"off\":0,\"end\":100,\"n\":1,\"p\":-1",
	};
	for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
		for (int f = 0; f < 2; f++) {
			char params[512];
			snprintf(params, sizeof params, "{\"__stage\":{\"fn\":"
			         "\"%s\",\"index\":0,\"count\":1},\"__arg\":{%s,"
			         "\"line\":2},\"__broadcast\":{\"names\":[\"a\","
			         "\"b\"],\"label_col\":-1,\"file\":\"x.csv\"}}",
			         f ? "part" : "write", args[i]);
			int state;
			kiln_task *t = run_plugin(r, "ingest", params, &state);
			ck_assert_int_eq(state, JOB_FAILED);
			ck_assert_msg(task_error(t) && strstr(task_error(t),
			              "range is out of bounds"), "case %zu: %s", i,
			              task_error(t));
			task_free(t);
		}
	plugin_registry_close(r);
}
END_TEST

/* A stage runner that answers every map task of predict's stage with
 * the row count "n" of ud's list (10 rows, then -5: a sum of 5 that
 * allocated 5 rows for the first partition's 10). */
static int
stage_negative_n(void *ud, kiln_task *t, const char *fn, const char *broadcast,
                 const struct kiln_stage_task *tasks, int n, char ***results,
                 char **err)
{
	const int *rows = ud;
	*results = calloc((size_t)n, sizeof **results);
	for (int i = 0; i < n; i++) {
		json_t *v = json_array(), *tv = json_array();
		for (int k = 0; k < rows[i]; k++) {
			json_array_append_new(v, json_real(1));
			json_array_append_new(tv, json_real(1));
		}
		json_t *o = json_pack("{s:i,s:o,s:o}", "n", rows[i], "value", v,
		                      "t", tv);
		(*results)[i] = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	return 0;
}

/* The predict driver sized its buffers by the sum of its map results'
 * "n": a negative one shrank them, and the next partition overran. */
START_TEST(predict_negative_n)
{
	install(bundled_dir(), "ingest", NULL);
	install(bundled_dir(), "predict", NULL);
	plugin_registry *r = open_registry();
	char params[1024], path[600];
	snprintf(params, sizeof params, "{\"file\":\"%s/examples/data/sunspots.csv\","
	         "\"label\":\"sunspots\",\"partitions\":2}",
	         env_or("KILN_SRCDIR", KILN_SRCDIR));
	int state;
	kiln_task *in = run_plugin(r, "ingest", params, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "ingest: %s", task_error(in));
	kiln_task *t = task_new(2, 1, NULL, scratchdir, 0, NULL);
	for (int i = 0; i < task_output_count(in); i++) {
		const void *data;
		size_t len;
		const char *name = task_output(in, i, &data, &len);
		snprintf(path, sizeof path, "%s/%s", tmpdir, name);
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
		fclose(f);
		char input[64];
		snprintf(input, sizeof input, "up/%s", name);
		task_add_input(t, input, path);
	}
	snprintf(path, sizeof path, "%s/model.json", tmpdir);
	write_file(path, "{\"type\":\"linreg\",\"dataset\":{\"features\":[\"year\"],"
	           "\"label\":\"sunspots\"},\"model\":{\"type\":\"linreg\",\"d\":1,"
	           "\"alpha\":0,\"intercept\":0,\"coef\":[1]}}");
	task_add_input(t, "fit/model.json", path);
	static const int rows[] = { 10, -5 };
	task_set_stages(t, stage_negative_n, (void *)rows);
	plugin *p = plugin_acquire(r, "predict");
	ck_assert_int_eq(task_run(t, p), JOB_FAILED);
	plugin_release(p);
	ck_assert_msg(task_error(t) && strstr(task_error(t), "partition 1's row "
	              "count n = -5 is out of range 0.."), "%s", task_error(t));
	task_free(t);
	task_free(in);
	plugin_registry_close(r);
}
END_TEST

/* A task_fetch_fn for the tests: counts its calls, and "fetches" KEY by
 * handing back the path it names, or fails for "lost". */
static int fetches;

static char *
fetch_by_name(void *ud, const char *key, uint64_t size, char **err)
{
	(void)ud;
	(void)size;
	fetches++;
	if (strcmp(key, "lost") == 0) {
		*err = strdup("the master is gone");
		return NULL;
	}
	return strdup(key);
}

/* ABI 1.2: an input is fetched when it is first read, not before, and
 * once; its name costs nothing.  A fetch that fails fails the task as an
 * I/O error (retried) naming the input, whatever the plugin made of it. */
START_TEST(task_lazy_inputs)
{
	const struct kiln_host *h = task_host();
	ck_assert_uint_ge(h->abi_minor, 2);
	ck_assert(KILN_HOST_HAS(h, input_name));
	plugin_registry *r = bundled_registry();
	fetches = 0;
	kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_int_eq(task_add_input_lazy(t, "schema.json", "lost", 9,
	                                     fetch_by_name, NULL), 0);
	ck_assert_int_eq(task_add_input_lazy(t, "flowers", iris_path(), 4551,
	                                     fetch_by_name, NULL), 0);
	ck_assert_int_eq(h->input_count(t), 2);
	ck_assert_str_eq(h->input_name(t, 0), "schema.json");
	ck_assert_str_eq(h->input_name(t, 1), "flowers");
	ck_assert_ptr_null(h->input_name(t, 2));
	ck_assert_ptr_null(h->input_name(t, -1));
	ck_assert_int_eq(fetches, 0);
	/* csvstats reads input 0 only; with a good one it never fetches 1. */
	kiln_task *t2 = task_new(2, 1, NULL, scratchdir, 0, NULL);
	task_add_input_lazy(t2, "flowers", iris_path(), 4551, fetch_by_name, NULL);
	task_add_input_lazy(t2, "unread", "lost", 1, fetch_by_name, NULL);
	plugin *p = plugin_acquire(r, "csvstats");
	ck_assert_int_eq(task_run(t2, p), JOB_SUCCEEDED);
	ck_assert_int_eq(fetches, 1);
	size_t len;
	ck_assert_ptr_nonnull(h->input_data(t2, 0, &len));
	ck_assert_str_eq(h->input_path(t2, 0, NULL), iris_path());
	ck_assert_int_eq(fetches, 1);           /* once, however often read */
	task_free(t2);
	/* Input 0 cannot be fetched: csvstats gets NULL and fails; the
	 * failure is the fetch's, an I/O error. */
	ck_assert_int_eq(task_run(t, p), JOB_FAILED);
	ck_assert_int_eq(task_code(t), KILN_EIO);
	ck_assert_msg(strstr(task_error(t), "input schema.json: the master is gone"),
	              "error: %s", task_error(t));
	ck_assert_int_eq(fetches, 2);
	ck_assert_ptr_null(h->input_path(t, 0, NULL));
	ck_assert_ptr_null(h->input_data(t, 0, &len));
	ck_assert_int_eq(fetches, 2);           /* a failed fetch is not retried */
	plugin_release(p);
	task_free(t);
	plugin_registry_close(r);
	datacache_flush();
}
END_TEST

/* CSV files whose statistics are checked on the result text. */
static const struct csv_case {
	const char *name;
	const char *text;
	int state;
	const char *expect[4];  /* substrings of the result or the error */
} csv_cases[] = {
	{ "ragged.csv", "a,b\n1,2\n3,4\n5\n", JOB_FAILED,
	  { "ragged.csv:4: expected 2 fields, found 1" } },
	{ "long.csv", "a,b\n1,2\n3,4,5\n", JOB_FAILED,
	  { "long.csv:3: expected 2 fields, found 3" } },
	{ "unterminated.csv", "a,b\n1,2\n3,\"abc\n\n", JOB_FAILED,
	  { "unterminated.csv:3: unterminated quoted field" } },
	{ "empty.csv", "", JOB_FAILED, { "empty.csv: empty file (no header)" } },
	{ "blank.csv", "\n\r\n", JOB_FAILED, { "no header" } },
	{ "header.csv", "a,b\n", JOB_SUCCEEDED,
	  { "\"rows\":0", "{\"name\":\"a\",\"type\":\"numeric\",\"count\":0,"
	    "\"missing\":0,\"mean\":null,\"std\":null,\"min\":null,"
	    "\"max\":null}" } },
	/* Quoted commas, doubled quotes and a newline in a field; the line
	 * count follows physical lines. */
	{ "quoted.csv", "name,n\n\"x, \"\"y\"\"\nz\",1\n\"q\",2\nq,x\n",
	  JOB_SUCCEEDED,
	  { "\"rows\":3", "\"top\":\"q\",\"top_count\":2",
	    "{\"name\":\"n\",\"type\":\"categorical\",\"count\":3,"
	    "\"missing\":0,\"distinct\":3" } },
	{ "quoted_err.csv", "name,n\n\"x\ny\",1\n1,2,3\n", JOB_FAILED,
	  { "quoted_err.csv:4: expected 2 fields, found 3" } },
	/* Missing values, a blank line in a one-column file, CRLF, spaces,
	 * no final newline. */
	{ "missing.csv", "v\r\n1\r\nNA\r\n\r\n 3 \r\nNaN\r\n-1e1", JOB_SUCCEEDED,
	  { "\"rows\":6", "\"count\":3,\"missing\":3,\"mean\":-2,",
	    "\"min\":-10,\"max\":3}" } },
	{ "header_quote.csv", "\"a,b\",\"c\"\"\"\n1,2\n", JOB_SUCCEEDED,
	  { "\"name\":\"a,b\"", "\"name\":\"c\\\"\"", "\"rows\":1" } },
	{ "mixed.csv", "k,v\ninf,1\n0x10,2\n7,2\n", JOB_SUCCEEDED,
	  { "\"name\":\"k\",\"type\":\"categorical\"",
	    "\"name\":\"v\",\"type\":\"numeric\",\"count\":3,\"missing\":0,"
	    "\"mean\":1.6666666666666667,\"std\":0.57735026918962" } },
	{ "ctrl.csv", "\"tab\there\"\nok\n\xff\n\xff\n", JOB_SUCCEEDED,
	  { "\"name\":\"tab\\u0009here\"", "\"top\":\"\\ufffd\",\"top_count\":2" } },
};

START_TEST(csvstats_cases)
{
	const struct csv_case *c = &csv_cases[_i];
	plugin_registry *r = bundled_registry();
	char path[512], params[1024];
	snprintf(path, sizeof path, "%s/%s", tmpdir, c->name);
	write_file(path, c->text);
	snprintf(params, sizeof params, "{\"file\":\"%s\"}", path);
	int state;
	kiln_task *t = run_plugin(r, "csvstats", params, &state);
	const char *text = state == JOB_SUCCEEDED ? task_result(t)
	                                          : task_error(t);
	ck_assert_msg(state == c->state, "%s: state %d: %s", c->name, state,
	              task_error(t));
	for (int i = 0; i < 4 && c->expect[i] != NULL; i++)
		ck_assert_msg(strstr(text, c->expect[i]) != NULL,
		              "%s: want %s in %s", c->name, c->expect[i], text);
	if (state == JOB_SUCCEEDED) {
		json_t *v = json_loads(text, 0, NULL);
		ck_assert_ptr_nonnull(v);
		json_decref(v);
	}
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

START_TEST(csvstats_no_file)
{
	plugin_registry *r = bundled_registry();
	int state;
	char params[1024];
	snprintf(params, sizeof params, "{\"file\":\"%s/none.csv\"}", tmpdir);
	kiln_task *t = run_plugin(r, "csvstats", params, &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_int_eq(task_code(t), KILN_EIO);
	ck_assert_ptr_nonnull(strstr(task_error(t), "none.csv: No such file"));
	task_free(t);

	/* Outside the read roots, existing or not: refused as bad input,
	 * nothing read into the result. */
	const char *outside[] = { "/etc/passwd", "/nonexistent/data.csv",
	                          "/dev/zero" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(params, sizeof params, "{\"file\":\"%s\"}", outside[i]);
		t = run_plugin(r, "csvstats", params, &state);
		ck_assert_int_eq(state, JOB_FAILED);
		ck_assert_int_eq(task_code(t), KILN_EINVAL);
		ck_assert_msg(strstr(task_error(t), "outside the read roots") &&
		              strstr(task_error(t), "data.read_roots"), "%s",
		              task_error(t));
		ck_assert_ptr_null(task_result(t));
		task_free(t);
	}

	t = run_plugin(r, "csvstats", NULL, &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "no file"));
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

/* ------------------------------------------------------------ ABI 1.3 */

/* KILN_HOST_HAS tells what the host has: by `size` on hosts 1.3 and
 * later, by NULL on hosts 1.0 to 1.2 whose size counts the spares. */
START_TEST(host_has)
{
	const struct kiln_host *h = task_host();
	ck_assert_uint_eq(h->abi_minor, KILN_ABI_MINOR);
	ck_assert(KILN_HOST_HAS(h, param));
	ck_assert(KILN_HOST_HAS(h, stage));
	ck_assert(KILN_HOST_HAS(h, input_name));
	ck_assert(KILN_HOST_HAS(h, mem_alloc));
	ck_assert(KILN_HOST_HAS(h, context));
	ck_assert(KILN_HOST_HAS(h, open_data));

	/* A 1.3 host: its size ends at context, so no open_data, though
	 * the slot (a spare there) is not NULL here. */
	struct kiln_host h13 = *h;
	h13.abi_minor = 3;
	h13.size = offsetof(struct kiln_host, open_data);
	ck_assert(KILN_HOST_HAS(&h13, context));
	ck_assert(!KILN_HOST_HAS(&h13, open_data));

	/* A 1.2 host as it was: size = sizeof, the 1.3 slots NULL. */
	struct kiln_host old = *h;
	old.abi_minor = 2;
	old.size = sizeof old;
	old.mem_alloc = NULL;
	old.mem_free = NULL;
	old.mem_strdup = NULL;
	old.context = NULL;
	ck_assert(KILN_HOST_HAS(&old, input_name));
	ck_assert(!KILN_HOST_HAS(&old, mem_free));
	ck_assert(!KILN_HOST_HAS(&old, context));
	/* kiln_free() and kiln_strdup() fall back to the C library there. */
	char *s = kiln_strdup(&old, "x");
	ck_assert_str_eq(s, "x");
	kiln_free(&old, s);
	ck_assert_ptr_null(kiln_strdup(&old, NULL));

	/* A host whose size stops before input_name has no input_name,
	 * whatever the slot holds: past `size` nothing is read. */
	struct kiln_host shorter = *h;
	shorter.size = offsetof(struct kiln_host, input_name);
	ck_assert(KILN_HOST_HAS(&shorter, broadcast));
	ck_assert(!KILN_HOST_HAS(&shorter, input_name));
	ck_assert(!KILN_HOST_HAS(&shorter, mem_alloc));

	/* The host's allocator. */
	void *p = h->mem_alloc(16);
	ck_assert_ptr_nonnull(p);
	h->mem_free(p);
	h->mem_free(NULL);
	s = h->mem_strdup("abc");
	ck_assert_str_eq(s, "abc");
	h->mem_free(s);
	ck_assert_ptr_null(h->mem_strdup(NULL));
	/* No context outside a running task. */
	kiln_task *t = task_new(1, 1, NULL, scratchdir, 0, NULL);
	ck_assert_ptr_null(h->context(t));
	task_free(t);
}
END_TEST

/* The lines a plugin's fini wrote to $KILN_ABI_TEST_LOG. */
static char *
abi_log(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/abi.log", tmpdir);
	FILE *f = fopen(path, "r");
	static char text[1024];
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[n] = '\0';
	if (f != NULL)
		fclose(f);
	return text;
}

static void
abi_log_setup(void)
{
	setup();
	char path[512];
	snprintf(path, sizeof path, "%s/abi.log", tmpdir);
	setenv("KILN_ABI_TEST_LOG", path, 1);
}

/* Plugins built against the 1.0 and 1.2 headers as released load and run
 * unchanged, with init() and fini() called and nothing read that their
 * minor does not have (their spares hold garbage). */
START_TEST(old_plugins_run)
{
	install(test_plugins_dir(), "old_abi10", NULL);
	install(test_plugins_dir(), "old_abi12", NULL);
	plugin_registry *r = open_registry();
	ck_assert_msg(errors(r).n == 0, "%s", errors(r).text);
	ck_assert_str_eq(loaded(r).text, "old10=1.0.0 old12=1.2.0 ");
	int state;
	kiln_task *t = run_plugin(r, "old10", "{\"n\":7}", &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "%s", task_error(t));
	ck_assert_str_eq(task_result(t), "{\"abi\":\"1.0\",\"init\":true,\"n\":7}");
	char want[128];
	snprintf(want, sizeof want, "host of ABI 1.%d", KILN_ABI_MINOR);
	ck_assert_ptr_nonnull(strstr(task_log(t), want));
	task_free(t);

	t = run_plugin(r, "old12", NULL, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "%s", task_error(t));
	snprintf(want, sizeof want, "{\"abi\":\"1.2\",\"host_minor\":%d,"
	         "\"input_name\":true,\"sum\":0}", KILN_ABI_MINOR);
	ck_assert_str_eq(task_result(t), want);
	task_free(t);

	/* A map task: 1.2 has map(); 1.0 has none (its slot is garbage). */
	const char *map = "{\"__stage\":{\"fn\":\"echo\",\"index\":0,"
	                  "\"count\":1},\"__arg\":5}";
	t = run_plugin(r, "old12", map, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "%s", task_error(t));
	ck_assert_str_eq(task_result(t), "5");
	task_free(t);
	t = run_plugin(r, "old10", map, &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_ptr_nonnull(strstr(task_error(t), "no map entry"));
	task_free(t);

	ck_assert_str_eq(abi_log(), "");
	plugin_registry_close(r);
	/* fini(), not fini_ctx(), in name order. */
	ck_assert_str_eq(abi_log(), "old10 fini\nold12 fini\n");
}
END_TEST

/* A plugin built against the 1.3 header as released (no open_data) loads
 * and runs on this host with its context; its spares, garbage, are never
 * read; fini_ctx() gets the context back. */
START_TEST(abi13_plugin_runs)
{
	install(test_plugins_dir(), "old_abi13", NULL);
	plugin_registry *r = open_registry();
	ck_assert_msg(errors(r).n == 0, "%s", errors(r).text);
	ck_assert_str_eq(loaded(r).text, "old13=1.3.0 ");
	int state;
	kiln_task *t = run_plugin(r, "old13", NULL, &state);
	ck_assert_msg(state == JOB_SUCCEEDED, "%s", task_error(t));
	char want[128];
	snprintf(want, sizeof want, "{\"abi\":\"1.3\",\"host_minor\":%d,"
	         "\"has_1_3\":true,\"ctx\":true}", KILN_ABI_MINOR);
	ck_assert_str_eq(task_result(t), want);
	task_free(t);
	plugin_registry_close(r);
	ck_assert_str_eq(abi_log(), "old13 fini_ctx with its context\n");
}
END_TEST

/* ABI 1.5: KILN_NOT_YET is "not yet" only from a plugin of 1.5 or later
 * and in a sensor's poke (JOB_SENSOR_PARAM); elsewhere it fails, and an
 * older plugin's 1 is never misread. */
START_TEST(not_yet_by_abi)
{
	install(test_plugins_dir(), "notyet", NULL);
	install(test_plugins_dir(), "old_notyet", NULL);
	plugin_registry *r = open_registry();
	ck_assert_msg(errors(r).n == 0, "%s", errors(r).text);
	int state;
	kiln_task *t = run_plugin(r, "notyet", "{\"ready_at\":9999999999,"
	                          "\"" JOB_SENSOR_PARAM "\":true}", &state);
	ck_assert_int_eq(state, JOB_SUCCEEDED);
	ck_assert(job_result_not_yet(task_result(t)));
	ck_assert_msg(strstr(task_result(t), "\"reason\":\"not before "
	              "9999999999") != NULL, "%s", task_result(t));
	ck_assert_ptr_null(task_error(t));
	task_free(t);
	t = run_plugin(r, "notyet", "{\"ready_at\":9999999999}", &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_msg(strstr(task_error(t), "this task is no sensor: not "
	              "before") != NULL, "%s", task_error(t));
	task_free(t);
	t = run_plugin(r, "notyet", "{\"ready_at\":1,"
	               "\"" JOB_SENSOR_PARAM "\":true}", &state);
	ck_assert_int_eq(state, JOB_SUCCEEDED);
	ck_assert(!job_result_not_yet(task_result(t)));
	task_free(t);
	t = run_plugin(r, "old_notyet", "{\"" JOB_SENSOR_PARAM "\":true}",
	               &state);
	ck_assert_int_eq(state, JOB_FAILED);
	ck_assert_str_eq(task_error(t), "plugin old_notyet (ABI 1.4) returned "
	                 "1, which ABI 1.4 does not define");
	task_free(t);
	plugin_registry_close(r);
}
END_TEST

/* ABI 1.3: the context init_ctx() made reaches run() and fini_ctx(), and
 * init_ctx() and fini_ctx() can log without a task. */
START_TEST(context_reaches_run)
{
	install(test_plugins_dir(), "ctx", NULL);
	char logpath[512];
	snprintf(logpath, sizeof logpath, "%s/stderr.log", tmpdir);
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_init("plugin-test", LOG_LEVEL_INFO);

	plugin_registry *r = open_registry();
	ck_assert_str_eq(loaded(r).text, "ctx=1.3.0 ");
	int state;
	for (int i = 1; i <= 2; i++) {
		kiln_task *t = run_plugin(r, "ctx", NULL, &state);
		ck_assert_msg(state == JOB_SUCCEEDED, "%s", task_error(t));
		char want[64];
		snprintf(want, sizeof want, "{\"ctx\":true,\"runs\":%d}", i);
		ck_assert_str_eq(task_result(t), want);
		task_free(t);
	}
	plugin_registry_close(r);

	log_init("plugin-test", LOG_LEVEL_ERROR + 1);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_str_eq(abi_log(), "ctx fini_ctx runs=2\n");
	FILE *f = fopen(logpath, "r");
	char text[4096];
	size_t n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(text, "plugin ctx: init_ctx made its context") != NULL,
	              "%s", text);
	ck_assert_msg(strstr(text, "plugin ctx: fini_ctx after 2 runs") != NULL,
	              "%s", text);
}
END_TEST

/* A host whose allocator counts, to see who frees what with which. */
static atomic_int count_allocs, count_frees;

static void *
count_alloc(size_t n)
{
	atomic_fetch_add(&count_allocs, 1);
	return malloc(n);
}

static void
count_free(void *p)
{
	if (p != NULL)
		atomic_fetch_add(&count_frees, 1);
	free(p);
}

static char *
count_strdup(const char *s)
{
	atomic_fetch_add(&count_allocs, 1);
	return strdup(s);
}

/* init()'s message is freed with the allocator of the plugin's minor: the
 * host's for a 1.3 plugin (ctx), free() for a 1.2 one (init_fails). */
START_TEST(init_message_owner)
{
	struct kiln_host host = *task_host();
	host.mem_alloc = count_alloc;
	host.mem_free = count_free;
	host.mem_strdup = count_strdup;
	atomic_store(&count_allocs, 0);
	atomic_store(&count_frees, 0);
	install(test_plugins_dir(), "ctx", NULL);
	install(test_plugins_dir(), "init_fails", NULL);
	setenv("KILN_CTX_FAIL", "1", 1);
	plugin_registry *r = NULL;
	char *err = NULL;
	ck_assert_int_eq(plugin_registry_open(plugdir, cachedir, &host, &r,
	                                      &err), 0);
	unsetenv("KILN_CTX_FAIL");
	struct seen e = errors(r);
	ck_assert_int_eq(e.n, 2);
	ck_assert_msg(strstr(e.text, "init() of plugin 'ctx' failed: asked to "
	                     "fail by KILN_CTX_FAIL") != NULL, "%s", e.text);
	ck_assert_msg(strstr(e.text, "init() of plugin 'init_fails' failed: "
	                     "init refused") != NULL, "%s", e.text);
	/* One message from the host's allocator, freed there; init_fails'
	 * strdup() went back to free(). */
	ck_assert_int_eq(atomic_load(&count_allocs), 1);
	ck_assert_int_eq(atomic_load(&count_frees), 1);
	ck_assert_int_eq(loaded(r).n, 0);
	plugin_registry_close(r);
	/* A failed init_ctx() has no fini_ctx(). */
	ck_assert_str_eq(abi_log(), "");
}
END_TEST

/* ------------------------------------------------------------ parameters */

static const struct kiln_param decl_params[] = {
	{ "k", "int", NULL, "clusters" },
	{ "tol", "number", "1e-4", NULL },
	{ "on", "bool", "false", "a flag" },
	{ "label", "string", "", "a column" },
	{ "models", "json", "", NULL },
	{ "odd", "colour", "red", "a type this kiln does not know" },
	{ NULL, NULL, NULL, NULL },
};

static const struct kiln_plugin decl_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "decl", .version = "1", .params = decl_params,
};

START_TEST(params_decl)
{
	json_t *a = plugin_params_decl_json(&decl_plugin);
	char *text = json_dumps(a, JSON_COMPACT);
	ck_assert_str_eq(text,
		"[{\"name\":\"k\",\"type\":\"int\",\"required\":true,"
		"\"default\":null,\"help\":\"clusters\"},"
		"{\"name\":\"tol\",\"type\":\"number\",\"required\":false,"
		"\"default\":\"1e-4\"},"
		"{\"name\":\"on\",\"type\":\"bool\",\"required\":false,"
		"\"default\":\"false\",\"help\":\"a flag\"},"
		"{\"name\":\"label\",\"type\":\"string\",\"required\":false,"
		"\"default\":\"\",\"help\":\"a column\"},"
		"{\"name\":\"models\",\"type\":\"json\",\"required\":false,"
		"\"default\":\"\"},"
		"{\"name\":\"odd\",\"type\":\"colour\",\"required\":false,"
		"\"default\":\"red\",\"help\":\"a type this kiln does not know\"}]");
	free(text);
	json_decref(a);

	/* No declaration: an empty array. */
	struct kiln_plugin none = decl_plugin;
	none.params = NULL;
	a = plugin_params_decl_json(&none);
	ck_assert(json_is_array(a) && json_array_size(a) == 0);
	json_decref(a);
}
END_TEST

/* Parameters, and the error (a substring) or NULL if they pass. */
static const struct params_case {
	const char *params;
	const char *error;
} params_cases[] = {
	{ "{\"k\":3}", NULL },
	{ "{\"k\":\"3\"}", NULL },           /* forms send text */
	{ "{\"k\":3.0}", NULL },
	{ "{\"k\":\"1e3\"}", NULL },
	{ "{\"k\":-9}", NULL },
	{ "{}", "parameter 'k' is required (int)" },
	{ "{\"k\":null}", "parameter 'k' is required (int)" },
	{ "{\"k\":\"\"}", "parameter 'k' is required (int)" },
	{ "{\"k\":2.5}", "parameter 'k' must be an int, not 2.5" },
	{ "{\"k\":\"three\"}", "parameter 'k' must be an int, not \"three\"" },
	{ "{\"k\":\"3 \"}", "parameter 'k' must be an int" },
	{ "{\"k\":true}", "parameter 'k' must be an int, not true" },
	{ "{\"k\":[3]}", "parameter 'k' must be an int, not [3]" },
	{ "{\"k\":1e300}", "parameter 'k' must be an int" },
	{ "{\"k\":1,\"tol\":0.5}", NULL },
	{ "{\"k\":1,\"tol\":\"1e-9\"}", NULL },
	{ "{\"k\":1,\"tol\":\"\"}", NULL },     /* the default, as param_double() */
	{ "{\"k\":1,\"tol\":\"nan\"}", "parameter 'tol' must be a number" },
	{ "{\"k\":1,\"tol\":{}}", "parameter 'tol' must be a number, not {}" },
	{ "{\"k\":1,\"on\":true}", NULL },
	{ "{\"k\":1,\"on\":0}", NULL },
	{ "{\"k\":1,\"on\":\"yes\"}", NULL },
	{ "{\"k\":1,\"on\":\"false\"}", NULL },
	{ "{\"k\":1,\"on\":2}", "parameter 'on' must be a bool, not 2" },
	{ "{\"k\":1,\"on\":\"maybe\"}", "parameter 'on' must be a bool" },
	{ "{\"k\":1,\"label\":\"species\"}", NULL },
	{ "{\"k\":1,\"label\":\"\"}", NULL },
	{ "{\"k\":1,\"label\":7}", NULL },    /* -p label=7 sends a number */
	{ "{\"k\":1,\"label\":false}", NULL },
	{ "{\"k\":1,\"label\":[\"a\"]}", "parameter 'label' must be a string, not [\"a\"]" },
	{ "{\"k\":1,\"label\":{\"a\":1}}", "parameter 'label' must be a string" },
	{ "{\"k\":1,\"models\":[{\"model\":\"ar\"}]}", NULL },
	{ "{\"k\":1,\"models\":\"ar,ses\"}", NULL },
	{ "{\"k\":1,\"odd\":[1,2]}", NULL },  /* unknown type: anything */
	{ "{\"k\":1,\"undeclared\":[1]}", NULL },
	{ "{\"k\":1,\"__stage\":{\"fn\":\"x\"}}", NULL },
	/* The first wrong parameter in declaration order is named. */
	{ "{\"on\":\"maybe\",\"k\":\"x\"}", "parameter 'k' must be an int" },
	{ "[1]", "parameters must be a JSON object" },
	/* A long bad value is cut short in the message. */
	{ "{\"k\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." },
};

START_TEST(params_check_cases)
{
	const struct params_case *c = &params_cases[_i];
	json_t *decl = plugin_params_decl_json(&decl_plugin);
	json_t *params = json_loads(c->params, JSON_DECODE_ANY, NULL);
	ck_assert_msg(params != NULL, "bad test case %s", c->params);
	char *err = NULL;
	int rc = plugin_params_check(decl, params, &err);
	if (c->error == NULL) {
		ck_assert_msg(rc == 0, "%s: %s", c->params, err);
		ck_assert_ptr_null(err);
	} else {
		ck_assert_msg(rc == -EINVAL, "%s: passed", c->params);
		ck_assert_msg(err != NULL && strstr(err, c->error) != NULL,
		              "%s: want '%s' in '%s'", c->params, c->error, err);
	}
	free(err);
	json_decref(params);
	json_decref(decl);
}
END_TEST

START_TEST(params_check_edges)
{
	char *err = NULL;
	json_t *p = json_pack("{s:i}", "x", 1);
	/* Nothing declared: anything passes, and so do no parameters. */
	ck_assert_int_eq(plugin_params_check(NULL, p, &err), 0);
	json_t *empty = json_array();
	ck_assert_int_eq(plugin_params_check(empty, p, &err), 0);
	ck_assert_int_eq(plugin_params_check(empty, NULL, &err), 0);
	ck_assert_ptr_null(err);
	/* No parameters against a required one. */
	json_t *decl = plugin_params_decl_json(&decl_plugin);
	ck_assert_int_eq(plugin_params_check(decl, NULL, &err), -EINVAL);
	ck_assert_str_eq(err, "parameter 'k' is required (int)");
	free(err);
	err = NULL;
	/* A declaration that is not an array is refused, not trusted. */
	ck_assert_int_eq(plugin_params_check(p, p, &err), -EINVAL);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* A NULL err is allowed, as everywhere. */
	ck_assert_int_eq(plugin_params_check(decl, NULL, NULL), -EINVAL);
	json_decref(decl);
	json_decref(empty);
	json_decref(p);
}
END_TEST

START_TEST(params_bundled)
{
	/* Every bundled plugin's declaration passes its own defaults. */
	DIR *dir = opendir(bundled_dir());
	ck_assert_ptr_nonnull(dir);
	for (struct dirent *de; (de = readdir(dir)) != NULL; ) {
		char *dot = strstr(de->d_name, ".so");
		if (dot == NULL || dot[3] != '\0')
			continue;
		*dot = '\0';
		install(bundled_dir(), de->d_name, NULL);
	}
	closedir(dir);
	plugin_registry *r = open_registry();
	struct seen s = loaded(r);
	ck_assert_int_gt(s.n, 10);
	char *names = strdup(s.text);
	for (char *save, *n = strtok_r(names, " ", &save); n != NULL;
	     n = strtok_r(NULL, " ", &save)) {
		*strchr(n, '=') = '\0';
		plugin *p = plugin_acquire(r, n);
		ck_assert_ptr_nonnull(p);
		const struct kiln_plugin *d = plugin_desc(p);
		json_t *decl = plugin_params_decl_json(d);
		json_t *defs = json_object();
		for (const struct kiln_param *q = d->params;
		     q != NULL && q->name != NULL; q++)
			json_object_set_new(defs, q->name, q->default_value ?
			                    json_string(q->default_value) :
			                    json_integer(1));
		char *err = NULL;
		ck_assert_msg(plugin_params_check(decl, defs, &err) == 0,
		              "%s: %s", n, err);
		json_decref(defs);
		json_decref(decl);
		plugin_release(p);
	}
	free(names);
	plugin_registry_close(r);
}
END_TEST

static Suite *
plugin_suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("loader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, load_bundled);
	tcase_add_test(tc, refused_by_name);
	tcase_add_test(tc, described_only);
	tcase_add_test(tc, output_limit);
	tcase_add_test(tc, output_files);
	tcase_add_loop_test(tc, bad_plugin, 0,
	                    sizeof bad_cases / sizeof bad_cases[0]);
	tcase_add_test(tc, all_bad_together);
	tcase_add_test(tc, truncated_file);
	tcase_add_test(tc, check_file);
	tcase_add_test(tc, open_missing_dir);
	tcase_add_test(tc, hot_replace);
	tcase_add_test(tc, delete_file);
	tcase_add_test(tc, release_other_thread);
	tcase_add_test(tc, concurrent_replace);
	suite_add_tcase(s, tc);

	tc = tcase_create("task");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, task_bad_params);
	tcase_add_test(tc, task_host_functions);
	tcase_add_test(tc, task_abi_1_1);
	tcase_add_test(tc, model_plugin_failures);
	tcase_add_test(tc, task_log_tail);
	suite_add_tcase(s, tc);

	tc = tcase_create("bundled");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, run_noop);
	tcase_add_test(tc, run_sleep);
	tcase_add_test(tc, cancel_sleep);
	tcase_add_test(tc, csvstats_iris);
	tcase_add_test(tc, task_lazy_inputs);
	tcase_add_loop_test(tc, csvstats_cases, 0,
	                    sizeof csv_cases / sizeof csv_cases[0]);
	tcase_add_test(tc, csvstats_no_file);
	tcase_add_test(tc, params_bundled);
	suite_add_tcase(s, tc);

	tc = tcase_create("abi");
	tcase_add_checked_fixture(tc, abi_log_setup, teardown);
	tcase_add_test(tc, host_has);
	tcase_add_test(tc, old_plugins_run);
	tcase_add_test(tc, abi13_plugin_runs);
	tcase_add_test(tc, not_yet_by_abi);
	tcase_add_test(tc, context_reaches_run);
	tcase_add_test(tc, init_message_owner);
	tcase_add_test(tc, benchmark_forged_fold);
	tcase_add_test(tc, ingest_forged_range);
	tcase_add_test(tc, predict_negative_n);
	suite_add_tcase(s, tc);

	tc = tcase_create("params");
	tcase_add_test(tc, params_decl);
	tcase_add_loop_test(tc, params_check_cases, 0,
	                    sizeof params_cases / sizeof params_cases[0]);
	tcase_add_test(tc, params_check_edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* Loader errors are expected here; keep the output readable. */
	log_init("plugin-test", LOG_LEVEL_ERROR + 1);
	SRunner *sr = srunner_create(plugin_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
