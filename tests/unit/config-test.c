/* SPDX-License-Identifier: MIT */
/*
 * config-test.c - cluster.yaml: a full file and its defaults, every error
 * with the exact LINE:COLUMN it must point at, the duration and size
 * syntaxes, the cluster secret (created once, 0600, shared by racing
 * processes), which hosts count as this machine, and the shipped example
 * conf/cluster.yaml.
 *
 * Each test writes its YAML into a fresh mkdtemp() directory, so nothing
 * depends on the current directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* nftw(3) */
#endif
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "xalloc.h"

static char tmp[PATH_MAX];      /* this test's directory, as created */
static char *tmp_real;          /* ... through realpath(3) */

static void
setup(void)
{
	tu_tmpdir(tmp, sizeof tmp, "config-test");
	tmp_real = realpath(tmp, NULL);
	ck_assert_ptr_nonnull(tmp_real);
}


static void
teardown(void)
{
	tu_rmtree(tmp);
	free(tmp_real);
	tmp_real = NULL;
}

/* Write TEXT to <tmp>/NAME (parents created); returns the path. */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, name);
	for (char *s = strchr(path + strlen(tmp) + 1, '/'); s != NULL;
	     s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static struct kiln_config *
load_ok(const char *name, const char *text)
{
	struct kiln_config *c = NULL;
	char *err = NULL;
	char *path = write_file(name, text);
	int rc = config_load(path, &c, &err);
	ck_assert_msg(rc == 0, "config_load: %d %s", rc, err ? err : "");
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(c);
	free(path);
	return c;
}

/* <tmp_real>/REL */
static char *
abs_in_tmp(const char *rel)
{
	return xasprintf("%s/%s", tmp_real, rel);
}

#define ck_path_eq(got, rel) do {                                        \
	char *want_ = abs_in_tmp(rel);                                     \
	ck_assert_str_eq((got), want_);                                    \
	free(want_);                                                       \
} while (0)

/* ------------------------------------------------------------ a full file */

static const char full_yaml[] =
	"# every key given\n"
	"cluster:\n"
	"  name: kiln-test\n"
	"master:\n"
	"  name: boss\n"
	"  listen: 0.0.0.0\n"
	"  host: master.example\n"
	"  port: 9090\n"
	"  data_dir: ../var/m/\n"
	"  plugin_dir: ./plugins\n"
	"  web_dir: /srv/web\n"
	"  dags_dir: dags\n"
	"  http_threads: 8\n"
	"  max_body: 16MiB\n"
	"  heartbeat_interval: 500ms\n"
	"  worker_timeout: 1m\n"
	"  max_attempts: 5\n"
	"  metrics_auth: yes\n"
	"  auth:\n"
	"    secret_file: secrets/s\n"
	"    token_ttl: 30d\n"
	"    users:\n"
	"      - name: alice\n"
	"        role: admin\n"
	"        password_hash: \"$argon2id$v=19$x\"\n"
	"      - {name: bob, role: viewer, password_hash: h}\n"
	"workers:\n"
	"  - name: w-1\n"
	"    host: 10.1.2.3\n"
	"    slots: 16\n"
	"    memory: 2GiB\n"
	"    plugin_dir: /opt/p\n"
	"    data_dir: ../../w1data\n"
	"    cache_size: 300MiB\n"
	"    isolation: thread\n"
	"  - name: w.2_x\n"
	"    in_process_plugins: [noop, sleep]\n";

START_TEST(test_full)
{
	struct kiln_config *c = load_ok("etc/cluster.yaml", full_yaml);

	char *path = xasprintf("%s/etc/cluster.yaml", tmp);
	ck_assert_str_eq(c->path, path);
	free(path);
	ck_path_eq(c->base_dir, "etc");
	ck_assert_str_eq(c->cluster_name, "kiln-test");
	ck_assert_str_eq(c->master.name, "boss");
	ck_assert_str_eq(c->master.listen, "0.0.0.0");
	ck_assert_str_eq(c->master.host, "master.example");
	ck_assert_int_eq(c->master.port, 9090);
	ck_path_eq(c->master.data_dir, "var/m");
	ck_path_eq(c->master.plugin_dir, "etc/plugins");
	ck_assert_str_eq(c->master.web_dir, "/srv/web");
	ck_path_eq(c->master.dags_dir, "etc/dags");
	ck_assert_int_eq(c->master.http_threads, 8);
	ck_assert_int_eq(c->master.max_body, 16 << 20);
	ck_assert_int_eq(c->master.heartbeat_ms, 500);
	ck_assert_int_eq(c->master.worker_timeout_ms, 60000);
	ck_assert_int_eq(c->master.default_max_attempts, 5);
	ck_assert_int_eq(c->master.metrics_auth, 1);

	ck_assert_ptr_null(c->auth.secret);
	ck_path_eq(c->auth.secret_file, "etc/secrets/s");
	ck_assert_int_eq(c->auth.token_ttl_ms, 30 * 86400000LL);
	ck_assert_uint_eq(c->auth.nusers, 2);
	ck_assert_str_eq(c->auth.users[0].name, "alice");
	ck_assert_str_eq(c->auth.users[0].role, "admin");
	ck_assert_str_eq(c->auth.users[0].password_hash, "$argon2id$v=19$x");
	ck_assert_str_eq(c->auth.users[1].name, "bob");
	ck_assert_str_eq(c->auth.users[1].role, "viewer");

	ck_assert_uint_eq(c->nworkers, 2);
	const struct kiln_worker_conf *w = &c->workers[0];
	ck_assert_str_eq(w->name, "w-1");
	ck_assert_str_eq(w->host, "10.1.2.3");
	ck_assert_int_eq(w->slots, 16);
	ck_assert_int_eq(w->memory, (int64_t)2 << 30);
	ck_assert_int_eq(w->cache_size, (int64_t)300 << 20);
	ck_assert_int_eq(w->in_process, 1);
	ck_assert_str_eq(w->plugin_dir, "/opt/p");
	/* ../.. from <tmp>/etc climbs above <tmp> itself. */
	char *parent = xstrdup(tmp_real);
	*strrchr(parent, '/') = '\0';
	char *want = xasprintf("%s/w1data", parent);
	ck_assert_str_eq(w->data_dir, want);
	free(want);
	free(parent);
	ck_assert_int_eq(w->line, 28);
	ck_assert_int_eq(w->column, 5);

	/* Defaults that follow the master. */
	w = &c->workers[1];
	ck_assert_str_eq(w->name, "w.2_x");
	ck_assert_str_eq(w->host, "localhost");
	ck_assert_int_eq(w->slots, 1);
	ck_assert_int_eq(w->memory, (int64_t)1 << 30);
	ck_assert_int_eq(w->cache_size, (int64_t)8 << 30);
	ck_assert_int_eq(w->in_process, 0);   /* isolation: process */
	ck_assert_uint_eq(w->in_process_plugins.n, 2);
	ck_assert_str_eq(w->in_process_plugins.v[1], "sleep");
	ck_path_eq(w->plugin_dir, "etc/plugins");
	ck_path_eq(w->data_dir, "var/w.2_x");
	ck_assert_int_eq(w->line, 36);

	ck_assert_ptr_eq(config_worker(c, "w-1"), &c->workers[0]);
	ck_assert_ptr_eq(config_worker(c, "w.2_x"), &c->workers[1]);
	ck_assert_ptr_null(config_worker(c, "boss"));
	ck_assert_ptr_null(config_worker(c, "w-"));
	ck_assert_ptr_null(config_worker(c, NULL));
	ck_assert(config_is_master(c, "boss"));
	ck_assert(!config_is_master(c, "master"));
	ck_assert(!config_is_master(c, "w-1"));
	ck_assert(!config_is_master(c, NULL));
	config_free(c);
}
END_TEST

START_TEST(test_defaults)
{
	struct kiln_config *c = load_ok("conf/c.yaml", "master:\n");

	ck_assert_str_eq(c->cluster_name, "kiln");
	ck_assert_str_eq(c->master.name, "master");
	ck_assert_str_eq(c->master.listen, "127.0.0.1");
	ck_assert_str_eq(c->master.host, "127.0.0.1");
	ck_assert_int_eq(c->master.port, 8080);
	ck_path_eq(c->master.data_dir, "var/master");
	ck_path_eq(c->master.plugin_dir, "plugins/lib");
	ck_assert_ptr_null(c->master.web_dir);
	ck_assert_ptr_null(c->master.dags_dir);
	ck_assert_int_eq(c->master.http_threads, 4);
	ck_assert_int_eq(c->master.max_body, 8 << 20);
	ck_assert_int_eq(c->master.heartbeat_ms, 1000);
	ck_assert_int_eq(c->master.worker_timeout_ms, 10000);
	ck_assert_int_eq(c->master.default_max_attempts, 3);
	ck_assert_int_eq(c->master.metrics_auth, 0);
	ck_assert_ptr_null(c->auth.secret);
	ck_path_eq(c->auth.secret_file, "var/cluster.secret");
	ck_assert_int_eq(c->auth.token_ttl_ms, 0);   /* 0: the default, 90d */
	ck_assert_uint_eq(c->auth.nusers, 0);
	ck_assert_uint_eq(c->nworkers, 0);
	ck_assert(config_is_master(c, "master"));
	config_free(c);
}
END_TEST

/* master.host follows listen, except for wildcard addresses. */
START_TEST(test_host_default)
{
	static const struct { const char *listen, *host; } t[] = {
		{ "10.0.0.5", "10.0.0.5" },
		{ "0.0.0.0", "127.0.0.1" },
		{ "\"::\"", "127.0.0.1" },
		{ "::1", "::1" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *y = xasprintf("master:\n  listen: %s\n", t[i].listen);
		struct kiln_config *c = load_ok("c.yaml", y);
		ck_assert_str_eq(c->master.host, t[i].host);
		config_free(c);
		free(y);
	}
}
END_TEST

/* Forms that mean "nothing here": no workers yet is allowed. */
START_TEST(test_empty_sections)
{
	static const char *const t[] = {
		"master:\nworkers:\n",
		"master: {}\nworkers: []\n",
		"master:\n  auth:\n    users: []\nworkers: ~\n",
		"cluster:\nmaster:\n  auth:\n",
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct kiln_config *c = load_ok("c.yaml", t[i]);
		ck_assert_uint_eq(c->nworkers, 0);
		ck_assert_uint_eq(c->auth.nusers, 0);
		ck_assert_str_eq(c->master.name, "master");
		ck_assert_ptr_nonnull(c->auth.secret_file);
		config_free(c);
	}
}
END_TEST

START_TEST(test_inline_secret)
{
	struct kiln_config *c = load_ok("c.yaml",
		"master:\n  auth:\n    secret: \"0123456789abcdef\"\n");
	ck_assert_str_eq(c->auth.secret, "0123456789abcdef");
	ck_assert_ptr_null(c->auth.secret_file);

	char *s = NULL, *err = NULL;
	ck_assert_int_eq(config_secret(c, 0, &s, &err), 0);
	ck_assert_str_eq(s, "0123456789abcdef");
	ck_assert_ptr_null(err);
	free(s);
	config_free(c);
}
END_TEST

/* ---------------------------------------------------------------- errors */

static const struct bad {
	const char *yaml;
	int line, column;
	const char *msg;        /* exact message after "FILE:LINE:COLUMN: " */
	int prefix;             /* msg is only a prefix (libyaml's wording) */
} bad[] = {
	/* YAML syntax */
	{ "master:\n\tport: 1\n", 2, 1, "syntax error: ", 1 },
	{ "master:\n  port: [1, 2\n", 3, 1, "syntax error: ", 1 },
	{ "master: {port: 1\n", 2, 1, "syntax error: ", 1 },
	{ "a: b: c\n", 1, 5, "syntax error: ", 1 },
	{ "master:\n  name: \"\xff\"\n", 2, 10, "cannot read: ", 1 },
	{ "master: *nope\n", 1, 9, "syntax error: ", 1 },
	{ "master:\n---\ncluster: {}\n", 3, 1,
	  "only one YAML document is allowed", 0 },

	/* top level */
	{ "- master\n- workers\n", 1, 1, "the top level must be a mapping "
	  "(cluster, master, workers), not a list", 0 },
	{ "master\n", 1, 1, "the top level must be a mapping "
	  "(cluster, master, workers), not a scalar", 0 },

	/* missing master */
	{ "", 1, 1, "missing 'master' section (the file is empty)", 0 },
	{ "# nothing\n", 1, 1,
	  "missing 'master' section (the file is empty)", 0 },
	{ "cluster:\n  name: x\nworkers: []\n", 1, 1,
	  "missing 'master' section", 0 },

	/* unknown keys, at every level */
	{ "master:\nworker:\n  - name: a\n", 2, 1, "unknown key 'worker' at "
	  "the top level (did you mean 'workers'?)", 0 },
	{ "cluster:\n  nmae: x\nmaster:\n", 2, 3,
	  "unknown key 'nmae' in cluster (did you mean 'name'?)", 0 },
	{ "master:\n  prot: 80\n", 2, 3,
	  "unknown key 'prot' in master (did you mean 'port'?)", 0 },
	{ "master:\n  colour: red\n", 2, 3,
	  "unknown key 'colour' in master", 0 },
	{ "master:\n  auth:\n    secrett: x\n", 3, 5, "unknown key 'secrett' "
	  "in master.auth (did you mean 'secret'?)", 0 },
	{ "master:\n  auth:\n    users:\n      - name: a\n        rol: admin\n",
	  5, 9, "unknown key 'rol' in user (did you mean 'role'?)", 0 },
	{ "master:\nworkers:\n  - name: w1\n    slot: 2\n", 4, 5,
	  "unknown key 'slot' in worker (did you mean 'slots'?)", 0 },
	{ "master:\n  [a]: 1\n", 2, 3,
	  "keys must be plain words, not a list", 0 },

	/* duplicate keys */
	{ "master:\n  port: 1\n  port: 2\n", 3, 3,
	  "duplicate key 'port' in master (first on line 2)", 0 },
	{ "master:\nmaster:\n", 2, 1,
	  "duplicate key 'master' at the top level (first on line 1)", 0 },
	{ "master:\nworkers:\n  - name: a\n    slots: 1\n    slots: 2\n", 5, 5,
	  "duplicate key 'slots' in worker (first on line 4)", 0 },

	/* wrong types and ranges */
	{ "master:\n  port:\n    a: 1\n", 3, 5,
	  "'port' expects a single value, not a mapping", 0 },
	{ "master:\n  name: [a, b]\n", 2, 9,
	  "'name' expects a single value, not a list", 0 },
	{ "master:\n  port:\n", 2, 8, "'port' needs a value", 0 },
	{ "master:\n  port: 70000\n", 2, 9,
	  "'port' must be from 1 to 65535, got 70000", 0 },
	{ "master:\n  port: -1\n", 2, 9,
	  "'port' must be from 1 to 65535, got -1", 0 },
	{ "master:\n  port: 99999999999999999999\n", 2, 9,
	  "'port' must be from 1 to 65535, got 99999999999999999999", 0 },
	{ "master:\n  port: 80.5\n", 2, 9,
	  "'port' must be an integer from 1 to 65535, got '80.5'", 0 },
	{ "master:\n  http_threads: 65\n", 2, 17,
	  "'http_threads' must be from 1 to 64, got 65", 0 },
	{ "master:\n  max_attempts: 0\n", 2, 17,
	  "'max_attempts' must be from 1 to 100, got 0", 0 },
	{ "master:\nworkers:\n  - name: w1\n    isolation: none\n", 4, 16,
	  "isolation must be process or thread, not 'none'", 0 },
	{ "master:\nworkers:\n  - name: w1\n    in_process_plugins: [a/b]\n",
	  4, 26, "in_process_plugins: 'a/b' is not a plugin name", 0 },
	{ "master:\nworkers:\n  - name: w1\n    slots: two\n", 4, 12,
	  "'slots' must be an integer from 1 to 1024, got 'two'", 0 },
	{ "master:\nworkers:\n  - name: w1\n    slots: 0\n", 4, 12,
	  "'slots' must be from 1 to 1024, got 0", 0 },
	{ "master:\n  metrics_auth: maybe\n", 2, 17,
	  "'metrics_auth' must be true or false, got 'maybe'", 0 },
	{ "master:\n  host: \"\"\n", 2, 9, "'host' must not be empty", 0 },
	{ "master: [a]\n", 1, 9, "'master' must be a mapping, not a list", 0 },
	{ "cluster: kiln\nmaster:\n", 1, 10,
	  "'cluster' must be a mapping, not a scalar", 0 },
	{ "master:\nworkers:\n  name: w\n", 3, 3,
	  "'workers' must be a list, not a mapping", 0 },
	{ "master:\nworkers:\n  - w1\n", 3, 5, "each worker must be a mapping "
	  "(name, host, slots, ...), not a scalar", 0 },
	{ "master:\n  name: my master\n", 2, 9, "'name' must be 1 to 63 "
	  "characters from A-Z a-z 0-9 _ . -, got 'my master'", 0 },
	{ "master:\nworkers:\n  - name: w/1\n", 3, 11, "'name' must be 1 to "
	  "63 characters from A-Z a-z 0-9 _ . -, got 'w/1'", 0 },

	/* durations and sizes */
	{ "master:\n  heartbeat_interval: 1x\n", 2, 23, "'heartbeat_interval' "
	  "is not a duration (like 500ms, 2s, 5m, 1h): '1x'", 0 },
	{ "master:\n  worker_timeout: -5s\n", 2, 19, "'worker_timeout' is not "
	  "a duration (like 500ms, 2s, 5m, 1h): '-5s'", 0 },
	{ "master:\n  heartbeat_interval: 0ms\n", 2, 23, "'heartbeat_interval' "
	  "must be from 1ms to 2147483647ms, got 0ms", 0 },
	{ "master:\n  worker_timeout: 30d\n", 2, 19, "'worker_timeout' must be "
	  "from 1ms to 2147483647ms, got 30d", 0 },
	{ "master:\n  max_body: 8XB\n", 2, 13,
	  "'max_body' is not a size (like 512MiB or 2GiB): '8XB'", 0 },
	{ "master:\nworkers:\n  - name: w1\n    cache_size: lots\n", 4, 17,
	  "'cache_size' is not a size (like 512MiB or 2GiB): 'lots'", 0 },
	{ "master:\nworkers:\n  - name: w1\n    memory: -1G\n", 4, 13,
	  "'memory' is not a size (like 512MiB or 2GiB): '-1G'", 0 },
	{ "master:\n  max_body: 99999999999GiB\n", 2, 13, "'max_body' must be "
	  "from 1 to 9223372036854775807 bytes, got 99999999999GiB", 0 },
	{ "master:\n  heartbeat_interval: 5s\n  worker_timeout: 5s\n", 3, 19,
	  "'worker_timeout' (5000ms) must be longer than "
	  "'heartbeat_interval' (5000ms)", 0 },
	{ "master:\n  heartbeat_interval: 20s\n", 2, 23,
	  "'worker_timeout' (10000ms) must be longer than "
	  "'heartbeat_interval' (20000ms)", 0 },

	/* workers */
	{ "master:\nworkers:\n  - name: w1\n  - name: w2\n  - name: w1\n",
	  5, 11,
	  "duplicate worker name 'w1' (first on line 3)", 0 },
	{ "master:\n  name: boss\nworkers:\n  - name: boss\n", 4, 11,
	  "worker 'boss' has the same name as the master", 0 },
	{ "workers:\n  - name: master\nmaster:\n", 2, 11,
	  "worker 'master' has the same name as the master", 0 },
	{ "master:\nworkers:\n  - name: w1\n  - host: h\n    slots: 2\n", 4, 5,
	  "worker has no 'name'", 0 },
	{ "master:\nworkers:\n  - name:\n", 3, 10, "'name' needs a value", 0 },

	/* auth */
	{ "master:\n  auth:\n    secret: short\n", 3, 13,
	  "'secret' must be at least 16 characters", 0 },
	{ "master:\n  auth:\n    secret: 0123456789abcdef\n"
	  "    secret_file: s\n", 4, 18,
	  "give either 'secret' or 'secret_file', not both", 0 },
	{ "master:\n  auth:\n    users:\n      - name: a\n        role: root\n"
	  "        password_hash: h\n", 5, 15,
	  "'role' must be admin or viewer, got 'root'", 0 },
	{ "master:\n  auth:\n    users:\n      - name: a\n"
	  "        role: admin\n", 4, 9, "user 'a' has no 'password_hash' "
	  "(make one with `kiln passwd`)", 0 },
	{ "master:\n  auth:\n    users:\n      - {name: a, role: admin, "
	  "password_hash: h}\n      - {name: a, role: viewer, "
	  "password_hash: h}\n", 5, 16, "duplicate user 'a'", 0 },
	{ "master:\n  auth:\n    users:\n      - role: admin\n", 4, 9,
	  "user has no 'name'", 0 },
	{ "master:\n  auth:\n    token_ttl: 90 days\n", 3, 16, "'token_ttl' "
	  "is not a duration (like 500ms, 2s, 5m, 1h): '90 days'", 0 },
	{ "master:\n  auth:\n    token_ttl: 500ms\n", 3, 16, "'token_ttl' "
	  "must be from 1000ms to 315360000000ms, got 500ms", 0 },
	{ "master:\n  auth:\n    token_ttl: 3651d\n", 3, 16, "'token_ttl' "
	  "must be from 1000ms to 315360000000ms, got 3651d", 0 },
	{ "master:\n  auth:\n    token_ttl: never\n", 3, 16, "'token_ttl' "
	  "is not a duration (like 500ms, 2s, 5m, 1h): 'never'", 0 },
};

START_TEST(test_errors)
{
	const struct bad *b = &bad[_i];
	char *path = write_file("bad.yaml", b->yaml);
	struct kiln_config *c = (void *)1;
	char *err = NULL;

	int rc = config_load(path, &c, &err);
	ck_assert_msg(rc == -EINVAL, "case %d: rc %d", _i, rc);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(err);

	char *want = xasprintf("%s:%d:%d: %s", path, b->line, b->column,
	                       b->msg);
	if (b->prefix)
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0 &&
		              strlen(err) > strlen(want),
		              "case %d:\n got: %s\nwant: %s...", _i, err, want);
	else
		ck_assert_msg(strcmp(err, want) == 0,
		              "case %d:\n got: %s\nwant: %s", _i, err, want);
	free(want);
	free(err);
	free(path);
}
END_TEST

START_TEST(test_missing_file)
{
	struct kiln_config *c = (void *)1;
	char *err = NULL;
	char *path = xasprintf("%s/nope.yaml", tmp);

	ck_assert_int_eq(config_load(path, &c, &err), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "nope.yaml: cannot open"));
	free(err);
	free(path);
	config_free(NULL);
}
END_TEST

/* ------------------------------------------------------- durations, sizes */

static const struct {
	const char *s;
	int rc;
	int64_t ms;
} durations[] = {
	{ "500ms", 0, 500 },
	{ "2s", 0, 2000 },
	{ "5m", 0, 300000 },
	{ "1h", 0, 3600000 },
	{ "1d", 0, 86400000 },
	{ "10", 0, 10000 },
	{ "0", 0, 0 },
	{ "0ms", 0, 0 },
	{ "3 s", 0, 3000 },
	{ "9223372036854775807ms", 0, INT64_MAX },
	{ "9223372036854775807s", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "106751991167301d", -ERANGE, 0 },
	{ "", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "-1s", -EINVAL, 0 },
	{ "+1s", -EINVAL, 0 },
	{ "1.5s", -EINVAL, 0 },
	{ "1x", -EINVAL, 0 },
	{ "1S", -EINVAL, 0 },
	{ "1M", -EINVAL, 0 },
	{ "1sec", -EINVAL, 0 },
	{ " 1s", -EINVAL, 0 },
	{ "1s ", -EINVAL, 0 },
};

START_TEST(test_durations)
{
	int64_t ms = -42;
	int rc = config_parse_duration_ms(durations[_i].s, &ms);

	ck_assert_msg(rc == durations[_i].rc, "'%s': rc %d",
	              durations[_i].s, rc);
	if (rc == 0)
		ck_assert_msg(ms == durations[_i].ms, "'%s': %lld",
		              durations[_i].s, (long long)ms);
	else
		ck_assert_int_eq(ms, -42);  /* untouched on error */
}
END_TEST

static const struct {
	const char *s;
	int rc;
	int64_t bytes;
} sizes[] = {
	{ "0", 0, 0 },
	{ "100", 0, 100 },
	{ "3B", 0, 3 },
	{ "100k", 0, 102400 },
	{ "1K", 0, 1024 },
	{ "1KB", 0, 1024 },
	{ "1KiB", 0, 1024 },
	{ "8MiB", 0, 8388608 },
	{ "8 MiB", 0, 8388608 },
	{ "8M", 0, 8388608 },
	{ "8mb", 0, 8388608 },
	{ "2GiB", 0, 2147483648LL },
	{ "1G", 0, 1073741824LL },
	{ "1GB", 0, 1073741824LL },
	{ "1TiB", 0, 1099511627776LL },
	{ "8589934591GiB", 0, INT64_MAX - ((1LL << 30) - 1) },
	{ "8589934592GiB", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "1.5M", -EINVAL, 0 },
	{ "1X", -EINVAL, 0 },
	{ "MiB", -EINVAL, 0 },
	{ "1 MiB extra", -EINVAL, 0 },
	{ "1PiB", -EINVAL, 0 },
};

START_TEST(test_sizes)
{
	int64_t b = -42;
	int rc = config_parse_size(sizes[_i].s, &b);

	ck_assert_msg(rc == sizes[_i].rc, "'%s': rc %d", sizes[_i].s, rc);
	if (rc == 0)
		ck_assert_msg(b == sizes[_i].bytes, "'%s': %lld", sizes[_i].s,
		              (long long)b);
	else
		ck_assert_int_eq(b, -42);
}
END_TEST

START_TEST(test_parse_null)
{
	int64_t v;
	ck_assert_int_eq(config_parse_duration_ms(NULL, &v), -EINVAL);
	ck_assert_int_eq(config_parse_size(NULL, &v), -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- secret */

static struct kiln_config *
secret_conf(const char *secret_file)
{
	char *y = xasprintf("master:\n  auth:\n    secret_file: %s\n",
	                    secret_file);
	struct kiln_config *c = load_ok("c.yaml", y);
	free(y);
	return c;
}

static int
is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static char *
slurp(const char *path)
{
	char buf[256];
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

START_TEST(test_secret_create)
{
	struct kiln_config *c = secret_conf("a/b/cluster.secret");
	char *s = NULL, *s2 = NULL, *err = NULL;
	char *path = abs_in_tmp("a/b/cluster.secret");

	ck_assert_str_eq(c->auth.secret_file, path);

	/* Absent, and not asked to create it. */
	ck_assert_int_eq(config_secret(c, 0, &s, &err), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, path));
	free(err);
	err = NULL;
	struct stat st;
	ck_assert_int_eq(stat(path, &st), -1);

	ck_assert_int_eq(config_secret(c, 1, &s, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_msg(is_hex64(s), "not 64 hex digits: '%s'", s);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	char *want = xasprintf("%s\n", s);
	char *got = slurp(path);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);

	/* Stable: read back, whether or not creation is allowed. */
	ck_assert_int_eq(config_secret(c, 0, &s2, &err), 0);
	ck_assert_str_eq(s2, s);
	free(s2);
	ck_assert_int_eq(config_secret(c, 1, &s2, &err), 0);
	ck_assert_str_eq(s2, s);
	free(s2);

	/* A second cluster gets a different secret. */
	struct kiln_config *c2 = secret_conf("other.secret");
	ck_assert_int_eq(config_secret(c2, 1, &s2, &err), 0);
	ck_assert(is_hex64(s2));
	ck_assert_str_ne(s2, s);
	free(s2);
	config_free(c2);

	free(s);
	free(path);
	config_free(c);
}
END_TEST

START_TEST(test_secret_read)
{
	static const struct {
		const char *content;
		int rc;
		const char *secret;     /* or the error's tail */
	} t[] = {
		{ "  my-long-cluster-secret \n\n", 0,
		  "my-long-cluster-secret" },
		{ "0123456789abcdef", 0, "0123456789abcdef" },
		{ "short\n", -EINVAL,
		  "is too short (5 characters, at least 16 needed)" },
		{ " \n", -EINVAL,
		  "is empty (0 characters, at least 16 needed)" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char *path = write_file("s/secret", t[i].content);
		chmod(path, 0600);
		struct kiln_config *c = secret_conf("s/secret");
		char *s = NULL, *err = NULL;
		int rc = config_secret(c, 1, &s, &err);
		ck_assert_int_eq(rc, t[i].rc);
		if (rc == 0) {
			ck_assert_str_eq(s, t[i].secret);
			free(s);
		} else {
			ck_assert_ptr_null(s);
			ck_assert_msg(strstr(err, t[i].secret) != NULL &&
			              strstr(err, path) != NULL, "%s", err);
			free(err);
		}
		/* An unusable file is never replaced behind the user's back. */
		char *after = slurp(path);
		ck_assert_str_eq(after, t[i].content);
		free(after);
		config_free(c);
		free(path);
	}
}
END_TEST

/* A readable-by-others file is still used (with a warning in the log). */
START_TEST(test_secret_loose_mode)
{
	char *path = write_file("loose", "0123456789abcdef0123\n");
	ck_assert_int_eq(chmod(path, 0644), 0);
	struct kiln_config *c = secret_conf("loose");
	char *s = NULL, *err = NULL;
	ck_assert_int_eq(config_secret(c, 0, &s, &err), 0);
	ck_assert_str_eq(s, "0123456789abcdef0123");
	free(s);
	config_free(c);
	free(path);
}
END_TEST

/* Processes starting together (`kiln up`) agree on one secret. */
START_TEST(test_secret_race)
{
	enum { N = 8 };
	struct kiln_config *c = secret_conf("race/cluster.secret");
	int go[2], out[2];
	pid_t pid[N];

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(out), 0);
	for (int i = 0; i < N; i++) {
		pid[i] = fork();
		ck_assert_int_ge(pid[i], 0);
		if (pid[i] == 0) {
			char b, *s = NULL, *err = NULL, line[80];
			close(go[1]);
			/* Wait until all children exist, then go at once. */
			if (read(go[0], &b, 1) != 0)
				_exit(2);
			if (config_secret(c, 1, &s, &err) != 0 ||
			    strlen(s) != 64)
				_exit(1);
			snprintf(line, sizeof line, "%s\n", s);
			/* < PIPE_BUF: one atomic write per child. */
			if (write(out[1], line, 65) != 65)
				_exit(3);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);
	close(out[1]);
	for (int i = 0; i < N; i++) {
		int status;
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "child %d failed: status %d", i, status);
	}
	char buf[N * 65 + 1];
	size_t n = 0;
	ssize_t r;
	while ((r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	close(out[0]);
	ck_assert_uint_eq(n, N * 65);
	buf[n] = '\0';

	char *path = abs_in_tmp("race/cluster.secret");
	char *file = slurp(path);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(memcmp(buf + i * 65, file, 65), 0);
	free(file);
	free(path);
	config_free(c);
}
END_TEST

/* ---------------------------------------------------------------- hosts */

static const struct {
	const char *host;
	int local;
} hosts[] = {
	{ "localhost", 1 },
	{ "LocalHost", 1 },
	{ "127.0.0.1", 1 },
	{ "127.1.2.3", 1 },
	{ "127.255.255.254", 1 },
	{ "::1", 1 },
	{ "[::1]", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "0.0.0.0", 0 },
	{ "::", 0 },
	{ "128.0.0.1", 0 },
	{ "126.255.255.255", 0 },
	{ "192.0.2.1", 0 },          /* TEST-NET-1: never assigned */
	{ "2001:db8::1", 0 },        /* documentation prefix */
	{ "localhost.example.com", 0 },
	{ "no-such-host.invalid", 0 },
	{ "127.0.0.1.example", 0 },
	{ "", 0 },
	{ NULL, 0 },
};

START_TEST(test_host_is_local)
{
	ck_assert_msg(config_host_is_local(hosts[_i].host) == hosts[_i].local,
	              "'%s'", hosts[_i].host ? hosts[_i].host : "(null)");
}
END_TEST

START_TEST(test_host_is_local_hostname)
{
	char hn[256];
	ck_assert_int_eq(gethostname(hn, sizeof hn), 0);
	hn[sizeof hn - 1] = '\0';
	ck_assert(config_host_is_local(hn));
	for (char *p = hn; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	ck_assert(config_host_is_local(hn));
	char *longer = xasprintf("%sx", hn);
	ck_assert(!config_host_is_local(longer));
	free(longer);
}
END_TEST

/* ---------------------------------------------------- the shipped example */

#ifndef KILN_SRCDIR
#define KILN_SRCDIR NULL
#endif

/* The source tree: $KILN_SRCDIR (make check), the macro the Makefile
 * defines, or two levels above this file. */
static char *
srcdir(void)
{
	const char *env = getenv("KILN_SRCDIR");
	const char *mac = KILN_SRCDIR;
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if (mac != NULL)
		return xstrdup(mac);
	char *d = xstrdup(__FILE__);
	for (int i = 0; i < 3; i++) {
		char *s = strrchr(d, '/');
		if (s == NULL) {
			free(d);
			return xstrdup(".");
		}
		*s = '\0';
	}
	return d;
}

START_TEST(test_shipped_example)
{
	char *src = srcdir();
	char *path = xasprintf("%s/conf/cluster.yaml", src);
	char *root = realpath(src, NULL);
	struct kiln_config *c = NULL;
	char *err = NULL;

	ck_assert_ptr_nonnull(root);
	int rc = config_load(path, &c, &err);
	ck_assert_msg(rc == 0, "%s", err ? err : "");

	ck_assert_str_eq(c->cluster_name, "kiln-local");
	ck_assert_str_eq(c->master.name, "master");
	ck_assert_str_eq(c->master.listen, "127.0.0.1");
	ck_assert_str_eq(c->master.host, "127.0.0.1");
	ck_assert_int_eq(c->master.port, 8080);
	/* The local cluster runs the command examples on worker-1 only. */
	ck_assert_int_eq(c->nworkers, 2);
	ck_assert_int_eq(c->workers[0].exec, 1);
	ck_assert_int_eq(c->workers[1].exec, 0);
	ck_assert_int_eq(c->workers[0].max_output_size, 0);

	static const struct { const char *rel; size_t off; } dirs[] = {
		{ "var/master", offsetof(struct kiln_config, master.data_dir) },
		{ "plugins/lib",
		  offsetof(struct kiln_config, master.plugin_dir) },
		{ "web", offsetof(struct kiln_config, master.web_dir) },
		{ "conf/dags", offsetof(struct kiln_config, master.dags_dir) },
		{ "var/cluster.secret",
		  offsetof(struct kiln_config, auth.secret_file) },
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char *want = xasprintf("%s/%s", root, dirs[i].rel);
		ck_assert_str_eq(*(char **)((char *)c + dirs[i].off), want);
		free(want);
	}
	ck_assert_ptr_null(c->auth.secret);
	ck_assert_int_eq(c->auth.token_ttl_ms, KILN_TOKEN_TTL_DEFAULT_MS);

	ck_assert_uint_eq(c->nworkers, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct kiln_worker_conf *w = &c->workers[i];
		char *name = xasprintf("worker-%zu", i + 1);
		char *data = xasprintf("%s/var/%s", root, name);
		ck_assert_str_eq(w->name, name);
		ck_assert_str_eq(w->host, "localhost");
		ck_assert(config_host_is_local(w->host));
		ck_assert_int_eq(w->slots, 2);
		ck_assert_int_eq(w->memory, (int64_t)1 << 30);
		ck_assert_str_eq(w->plugin_dir, c->master.plugin_dir);
		ck_assert_str_eq(w->data_dir, data);
		free(data);
		free(name);
	}
	config_free(c);
	free(root);
	free(path);
	free(src);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_host_default);
	tcase_add_test(tc, test_empty_sections);
	tcase_add_test(tc, test_inline_secret);
	tcase_add_test(tc, test_missing_file);
	tcase_add_loop_test(tc, test_errors, 0, sizeof bad / sizeof bad[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_durations, 0,
	                    sizeof durations / sizeof durations[0]);
	tcase_add_loop_test(tc, test_sizes, 0, sizeof sizes / sizeof sizes[0]);
	tcase_add_test(tc, test_parse_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("secret");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_secret_create);
	tcase_add_test(tc, test_secret_read);
	tcase_add_test(tc, test_secret_loose_mode);
	tcase_add_test(tc, test_secret_race);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("hosts");
	tcase_add_loop_test(tc, test_host_is_local, 0,
	                    sizeof hosts / sizeof hosts[0]);
	tcase_add_test(tc, test_host_is_local_hostname);
	suite_add_tcase(s, tc);

	tc = tcase_create("example");
	tcase_add_test(tc, test_shipped_example);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
