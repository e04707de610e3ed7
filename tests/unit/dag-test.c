/* SPDX-License-Identifier: MIT */
/*
 * dag-test.c - DAG files: a full file with every key and the defaults
 * (`default:` inherited, overridden per task), the topological order,
 * every load-time error with the exact LINE:COLUMN it must point at, the
 * retry delay table, template rendering, and the shipped examples in
 * conf/dags.
 *
 * Each test writes its YAML into a fresh mkdtemp() directory, so nothing
 * depends on the current directory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* nftw(3) */
#endif
#include <check.h>

#include "err.h"
#include "testutil.h"
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "dag.h"
#include "xalloc.h"

static char tmp[PATH_MAX];      /* this test's directory */

static void
setup(void)
{
	tu_tmpdir(tmp, sizeof tmp, "dag-test");
}


static void
teardown(void)
{
	tu_rmtree(tmp);
}

/* Write TEXT to <tmp>/NAME; returns the path (caller frees). */
static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* The bundled plugins, plus "other" for tests. */
static int
known(const char *name, void *ud)
{
	(void)ud;
	return strcmp(name, "noop") == 0 || strcmp(name, "sleep") == 0 ||
	       strcmp(name, "csvstats") == 0 || strcmp(name, "other") == 0 ||
	       strcmp(name, "exec") == 0 || strcmp(name, "sensor") == 0;
}

static struct dag *
load_ok(const char *text)
{
	struct dag *d = NULL;
	char *err = NULL;
	char *path = write_file("dag.yaml", text);
	int rc = dag_load(path, known, NULL, &d, &err);
	ck_assert_msg(rc == 0, "load failed: %s", err ? err : "(no message)");
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->file, path);
	free(path);
	return d;
}

static const struct dag_task *
task(const struct dag *d, const char *id)
{
	const struct dag_task *t = dag_task_find(d, id);
	ck_assert_msg(t != NULL, "no task %s", id);
	return t;
}

/* ----------------------------------------------------------- a full DAG */

static const char full_yaml[] =
	"id: etl_daily\n"
	"description: Daily ETL\n"
	"schedule: \"0 2 * * *\"\n"
	"start_date: 2024-01-01\n"
	"end_date: 2024-12-31\n"
	"catchup: yes\n"
	"max_active_runs: 1\n"
	"params:\n"
	"  table: sales\n"
	"  limit: 10\n"
	"  ratio: 0.5\n"
	"  on: true\n"
	"  nothing: ~\n"
	"  quoted: \"10\"\n"
	"  list: [1, two]\n"
	"default:\n"
	"  retries: 2\n"
	"  retry_delay: 30s\n"
	"  pool: etl\n"
	"  params: { region: eu, table: \"{{ params.table }}\" }\n"
	"tasks:\n"
	"  - id: extract\n"
	"    plugin: csvstats\n"
	"    params: { file: \"/data/{{ ds }}/{{ params.table }}.csv\" }\n"
	"    depends_on: []\n"
	"    retries: 3\n"
	"    retry_delay: 10s\n"
	"    retry_exponential_backoff: true\n"
	"    max_retry_delay: 1h\n"
	"    timeout: 10m\n"
	"    trigger_rule: all_success\n"
	"    pool: default\n"
	"    priority: -1\n"
	"    slots: 2\n"
	"    memory: 512MiB\n"
	"  - id: load\n"
	"    plugin: noop\n"
	"    depends_on: extract\n"
	"    trigger_rule: none_failed_min_one_success\n"
	"    params:\n"
	"      region: us\n"
	"      rows: \"{{ tasks.extract.result.rows }}\"\n";

START_TEST(test_full)
{
	struct dag *d = load_ok(full_yaml);

	ck_assert_str_eq(d->id, "etl_daily");
	ck_assert_str_eq(d->description, "Daily ETL");
	ck_assert_str_eq(d->schedule_text, "0 2 * * *");
	ck_assert_int_eq(d->cron.kind, CRON_EXPR);
	ck_assert_int_eq(d->start_date, 1704067200);
	ck_assert_int_eq(d->end_date, 1735603200);
	ck_assert_int_eq(d->catchup, 1);
	ck_assert_int_eq(d->max_active_runs, 1);

	/* YAML scalars become typed JSON; quoting keeps a string. */
	json_t *p = d->params;
	ck_assert_int_eq(json_object_size(p), 7);
	ck_assert_str_eq(json_string_value(json_object_get(p, "table")),
	                 "sales");
	ck_assert(json_is_integer(json_object_get(p, "limit")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "limit")), 10);
	ck_assert(json_is_real(json_object_get(p, "ratio")));
	ck_assert(json_is_true(json_object_get(p, "on")));
	ck_assert(json_is_null(json_object_get(p, "nothing")));
	ck_assert_str_eq(json_string_value(json_object_get(p, "quoted")),
	                 "10");
	char *list = json_dumps(json_object_get(p, "list"), JSON_COMPACT);
	ck_assert_str_eq(list, "[1,\"two\"]");
	free(list);

	ck_assert_uint_eq(d->ntasks, 2);
	const struct dag_task *e = &d->tasks[0], *l = &d->tasks[1];
	ck_assert_str_eq(e->id, "extract");
	ck_assert_str_eq(e->plugin, "csvstats");
	ck_assert_int_eq(e->line, 22);
	ck_assert_int_eq(e->column, 5);
	ck_assert_uint_eq(e->ndeps, 0);
	ck_assert_int_eq(e->retries, 3);
	ck_assert_int_eq(e->retry_delay_ms, 10000);
	ck_assert_int_eq(e->retry_exponential, 1);
	ck_assert_int_eq(e->max_retry_delay_ms, 3600000);
	ck_assert_int_eq(e->timeout_ms, 600000);
	ck_assert_int_eq(e->trigger_rule, TR_ALL_SUCCESS);
	ck_assert_str_eq(e->pool, "default");
	ck_assert_int_eq(e->priority, -1);
	ck_assert_int_eq(e->slots, 2);
	ck_assert_int_eq(e->memory, (int64_t)512 << 20);
	/* default.params merged under the task's own. */
	char *s = json_dumps(e->params, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"file\":\"/data/{{ ds }}/{{ params.table }}"
	                 ".csv\",\"region\":\"eu\",\"table\":"
	                 "\"{{ params.table }}\"}");
	free(s);

	/* Everything else from `default:`, then the built-in defaults. */
	ck_assert_str_eq(l->id, "load");
	ck_assert_int_eq(l->line, 36);
	ck_assert_uint_eq(l->ndeps, 1);
	ck_assert_str_eq(l->deps[0], "extract");
	ck_assert_int_eq(l->dep_index[0], 0);
	ck_assert_int_eq(l->retries, 2);
	ck_assert_int_eq(l->retry_delay_ms, 30000);
	ck_assert_int_eq(l->retry_exponential, 0);
	ck_assert_int_eq(l->max_retry_delay_ms, 86400000);
	ck_assert_int_eq(l->timeout_ms, 0);
	ck_assert_int_eq(l->trigger_rule, TR_NONE_FAILED_MIN_ONE_SUCCESS);
	ck_assert_str_eq(l->pool, "etl");
	ck_assert_int_eq(l->priority, 1);
	ck_assert_int_eq(l->slots, 1);
	ck_assert_int_eq(l->memory, 0);
	s = json_dumps(l->params, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"region\":\"us\",\"rows\":"
	                 "\"{{ tasks.extract.result.rows }}\",\"table\":"
	                 "\"{{ params.table }}\"}");
	free(s);

	ck_assert_uint_eq(d->order[0], 0);
	ck_assert_uint_eq(d->order[1], 1);

	/* The digest is the SHA-256 of the bytes. */
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof h + 1];
	crypto_hash_sha256(h, (const unsigned char *)full_yaml,
	                   strlen(full_yaml));
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	ck_assert_str_eq(d->digest, hex);
	dag_free(d);
}
END_TEST

START_TEST(test_defaults)
{
	struct dag *d = load_ok("id: m\n"
	                        "tasks:\n"
	                        "  - { id: only, plugin: noop }\n");

	ck_assert_ptr_null(d->description);
	ck_assert_ptr_null(d->schedule_text);
	ck_assert_int_eq(d->cron.kind, CRON_NONE);
	ck_assert_int_eq(d->start_date, 0);
	ck_assert_int_eq(d->end_date, 0);
	ck_assert_int_eq(d->catchup, 0);
	ck_assert_int_eq(d->max_active_runs, 16);
	ck_assert(json_is_object(d->params));
	ck_assert_int_eq(json_object_size(d->params), 0);

	const struct dag_task *t = task(d, "only");
	ck_assert_int_eq(t->line, 3);
	ck_assert_int_eq(t->column, 5);
	ck_assert(json_is_object(t->params));
	ck_assert_int_eq(json_object_size(t->params), 0);
	ck_assert_uint_eq(t->ndeps, 0);
	ck_assert_int_eq(t->retries, 0);
	ck_assert_int_eq(t->retry_delay_ms, 300000);
	ck_assert_int_eq(t->retry_exponential, 0);
	ck_assert_int_eq(t->max_retry_delay_ms, 86400000);
	ck_assert_int_eq(t->timeout_ms, 0);
	ck_assert_int_eq(t->trigger_rule, TR_ALL_SUCCESS);
	ck_assert_str_eq(t->pool, "default");
	ck_assert_int_eq(t->priority, 1);
	ck_assert_int_eq(t->weight_rule, WR_DOWNSTREAM);
	ck_assert_int_eq(t->effective_priority, 1);
	ck_assert_int_eq(t->slots, 1);
	ck_assert_int_eq(t->memory, 0);
	ck_assert_ptr_null(dag_task_find(d, "nope"));
	ck_assert_uint_eq(strlen(d->digest), 64);
	dag_free(d);
}
END_TEST

/* "none", and every schedule form cron.c knows, as the DAG sees them. */
static const struct {
	const char *yaml;        /* the schedule line */
	const char *text;        /* schedule_text, NULL = manual */
	int kind;
} schedules[] = {
	{ "schedule: none\n", NULL, CRON_NONE },
	{ "schedule:\n", NULL, CRON_NONE },
	{ "schedule: \"@hourly\"\nstart_date: 2024-01-01\n", "@hourly",
	  CRON_EXPR },
	{ "schedule: '@weekly'\nstart_date: 2024-01-01\n", "@weekly",
	  CRON_EXPR },
	{ "schedule: every 15m\nstart_date: 2024-01-01T06:00\n",
	  "every 15m", CRON_EVERY },
	{ "schedule: 0 2 * * 1-5\nstart_date: 2024-01-01\n", "0 2 * * 1-5",
	  CRON_EXPR },
};

START_TEST(test_schedules)
{
	char *y = xasprintf("id: s\n%stasks: [{id: a, plugin: noop}]\n",
	                    schedules[_i].yaml);
	struct dag *d = load_ok(y);
	if (schedules[_i].text == NULL)
		ck_assert_ptr_null(d->schedule_text);
	else
		ck_assert_str_eq(d->schedule_text, schedules[_i].text);
	ck_assert_int_eq(d->cron.kind, schedules[_i].kind);
	dag_free(d);
	free(y);
}
END_TEST

START_TEST(test_digest_changes)
{
	struct dag *a = load_ok("id: x\ntasks: [{id: a, plugin: noop}]\n");
	struct dag *b = load_ok("id: x\ntasks: [{id: a, plugin: noop}]\n");
	struct dag *c = load_ok("id: x\ntasks: [{id: a, plugin: sleep}]\n");
	ck_assert_str_eq(a->digest, b->digest);
	ck_assert_str_ne(a->digest, c->digest);
	dag_free(a);
	dag_free(b);
	dag_free(c);
}
END_TEST

START_TEST(test_plugin_check_optional)
{
	char *path = write_file("p.yaml", "id: x\ntasks: [{id: a, plugin: "
	                        "whatever}]\n");
	struct dag *d = NULL;
	char *err = NULL;
	ck_assert_int_eq(dag_load(path, NULL, NULL, &d, &err), 0);
	ck_assert_str_eq(d->tasks[0].plugin, "whatever");
	dag_free(d);
	ck_assert_int_lt(dag_load(path, known, NULL, &d, &err), 0);
	ck_assert_ptr_null(d);
	free(err);
	free(path);
}
END_TEST

START_TEST(test_missing_file)
{
	struct dag *d = NULL;
	char *err = NULL;
	char *path = xasprintf("%s/nope.yaml", tmp);
	ck_assert_int_lt(dag_load(path, NULL, NULL, &d, &err), 0);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	free(err);
	free(path);
}
END_TEST

/* ---------------------------------------------------------------- order */

static const struct {
	const char *tasks;       /* YAML list items */
	const char *order;       /* expected ids, space-separated */
} orders[] = {
	/* File order when independent. */
	{ "  - {id: a, plugin: noop}\n"
	  "  - {id: b, plugin: noop}\n"
	  "  - {id: c, plugin: noop}\n", "a b c" },
	/* Dependencies first, even when written later. */
	{ "  - {id: load, plugin: noop, depends_on: [transform]}\n"
	  "  - {id: transform, plugin: noop, depends_on: [extract]}\n"
	  "  - {id: extract, plugin: noop}\n", "extract transform load" },
	/* A diamond; ties by file order. */
	{ "  - {id: end, plugin: noop, depends_on: [l, r]}\n"
	  "  - {id: r, plugin: noop, depends_on: [start]}\n"
	  "  - {id: l, plugin: noop, depends_on: [start]}\n"
	  "  - {id: start, plugin: noop}\n", "start r l end" },
	/* A ready task early in the file goes before a later one. */
	{ "  - {id: x, plugin: noop, depends_on: [y]}\n"
	  "  - {id: y, plugin: noop}\n"
	  "  - {id: z, plugin: noop}\n", "y x z" },
};

START_TEST(test_order)
{
	char *y = xasprintf("id: o\ntasks:\n%s", orders[_i].tasks);
	struct dag *d = load_ok(y);
	char got[256] = "";
	for (size_t i = 0; i < d->ntasks; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, d->tasks[d->order[i]].id);
	}
	ck_assert_str_eq(got, orders[_i].order);
	/* Every dependency comes before its task. */
	for (size_t k = 0; k < d->ntasks; k++) {
		const struct dag_task *t = &d->tasks[d->order[k]];
		for (size_t j = 0; j < t->ndeps; j++) {
			size_t pos = 0;
			while (d->order[pos] != (size_t)t->dep_index[j])
				pos++;
			ck_assert_uint_lt(pos, k);
		}
	}
	dag_free(d);
	free(y);
}
END_TEST

/* --------------------------------------------------------------- errors */

#define TASK_A "tasks:\n  - id: a\n    plugin: noop\n"

static const struct {
	const char *yaml;
	const char *err;         /* expected "LINE:COL: message", or its
	                          * beginning if it ends with "..." */
} bad[] = {
	/* YAML itself */
	{ "id: x\ntasks: [a\n", "3:1: syntax error: did not find expected "
	  "',' or ']' (while parsing a flow sequence on line 2)" },
	{ "", "1:1: the file is empty (a DAG needs 'id' and 'tasks')" },
	{ "id: x\n" TASK_A "---\nid: y\n",
	  "6:1: only one YAML document is allowed" },
	{ "- id: x\n", "1:1: the top level must be a mapping (id, "
	  "schedule, tasks, ...), not a list" },
	/* the host's own params */
	{ "id: x\ntasks:\n  - id: a\n    plugin: noop\n    params: {n: 1, "
	  "__stage: {fn: fold}}\n", "5:20: param '__stage': names starting "
	  "with \"__\" are reserved for the host" },
	{ "id: x\ndefault:\n  params:\n    __broadcast: 1\n" TASK_A,
	  "4:5: param '__broadcast': names starting with \"__\" are "
	  "reserved for the host" },
	/* keys */
	{ "id: x\nschedul: \"@daily\"\n" TASK_A,
	  "2:1: unknown key 'schedul' in the DAG (did you mean "
	  "'schedule'?)" },
	{ "id: x\nfoo: 1\n" TASK_A, "2:1: unknown key 'foo' in the DAG" },
	{ "id: x\n" TASK_A "    pluginn: noop\n",
	  "5:5: unknown key 'pluginn' in task (did you mean 'plugin'?)" },
	{ "id: x\ndefault:\n  retires: 2\n" TASK_A,
	  "3:3: unknown key 'retires' in 'default' (did you mean "
	  "'retries'?)" },
	{ "id: x\ndefault:\n  id: y\n" TASK_A,
	  "3:3: 'id' cannot be set in 'default'" },
	{ "id: x\ndefault: {depends_on: [a]}\n" TASK_A,
	  "2:11: 'depends_on' cannot be set in 'default'" },
	{ "id: x\nid: y\n" TASK_A,
	  "2:1: duplicate key 'id' in the DAG (first on line 1)" },
	{ "id: x\n" TASK_A "    retries: 1\n    retries: 2\n",
	  "6:5: duplicate key 'retries' in task (first on line 5)" },
	/* missing */
	{ TASK_A, "1:1: missing 'id'" },
	{ "id: x\ndescription: no tasks\n", "1:1: missing 'tasks'" },
	{ "id: x\ntasks: []\n", "2:8: 'tasks' must not be empty" },
	{ "id: x\ntasks:\n  - plugin: noop\n", "3:5: task has no 'id'" },
	{ "id: x\ntasks:\n  - id: a\n    retries: 1\n",
	  "3:5: task 'a' has no 'plugin' (or 'command')" },
	/* types */
	{ "id: a b\n" TASK_A, "1:5: 'id' must be 1 to 200 characters from "
	  "A-Z a-z 0-9 _ . -, got 'a b'" },
	{ "id: [x]\n" TASK_A, "1:5: 'id' expects a single value, not a list" },
	{ "id: x\nmax_active_runs: many\n" TASK_A,
	  "2:18: 'max_active_runs' must be an integer from 1 to 1000000, "
	  "got 'many'" },
	{ "id: x\nmax_active_runs: 0\n" TASK_A,
	  "2:18: 'max_active_runs' must be from 1 to 1000000, got 0" },
	{ "id: x\ncatchup: maybe\n" TASK_A,
	  "2:10: 'catchup' must be true or false, got 'maybe'" },
	{ "id: x\nparams: [1, 2]\n" TASK_A,
	  "2:9: 'params' must be a mapping, not a list" },
	{ "id: x\ntasks: {a: 1}\n", "2:8: 'tasks' must be a list, not a "
	  "mapping" },
	{ "id: x\ntasks:\n  - a\n", "3:5: each task must be a mapping (id, "
	  "plugin, params, ...), not a scalar" },
	{ "id: x\n" TASK_A "    retries: -1\n",
	  "5:14: 'retries' must be from 0 to 1000, got -1" },
	{ "id: x\n" TASK_A "    retry_delay: 5x\n",
	  "5:18: 'retry_delay' is not a duration (like 500ms, 30s, 5m, 1h): "
	  "'5x'" },
	{ "id: x\n" TASK_A "    memory: lots\n",
	  "5:13: 'memory' is not a size (like 512MiB or 2GiB): 'lots'" },
	{ "id: x\n" TASK_A "    slots: 0\n",
	  "5:12: 'slots' must be from 1 to 1024, got 0" },
	{ "id: x\n" TASK_A "    params: 3\n",
	  "5:13: 'params' must be a mapping, not a scalar" },
	{ "id: x\n" TASK_A "    depends_on: {a: 1}\n",
	  "5:17: 'depends_on' must be a list of task ids, not a mapping" },
	{ "id: x\n" TASK_A "    depends_on: [[a]]\n",
	  "5:18: each 'depends_on' entry must be a task id, not a list" },
	{ "id: x\n" TASK_A "    retry_exponential_backoff: 2\n",
	  "5:32: 'retry_exponential_backoff' must be true or false, got '2'" },
	{ "id: x\n" TASK_A "    pool:\n", "5:10: 'pool' needs a value" },
	/* tasks and dependencies */
	{ "id: x\n" TASK_A "  - id: a\n    plugin: noop\n",
	  "5:9: duplicate task id 'a' (first on line 3)" },
	{ "id: x\n" TASK_A "  - {id: b, plugin: noop, depends_on: [a, c]}\n",
	  "5:43: task 'b' depends on unknown task 'c'" },
	{ "id: x\n" TASK_A "  - {id: b, plugin: noop, depends_on: [aa]}\n",
	  "5:40: task 'b' depends on unknown task 'aa' (did you mean 'a'?)" },
	{ "id: x\n" TASK_A "  - {id: b, plugin: noop, depends_on: [a, a]}\n",
	  "5:43: 'a' is listed twice in 'depends_on'" },
	{ "id: x\ntasks:\n"
	  "  - {id: a, plugin: noop, depends_on: [c]}\n"
	  "  - {id: b, plugin: noop, depends_on: [a]}\n"
	  "  - {id: c, plugin: noop, depends_on: [b]}\n",
	  "4:40: cycle: a -> b -> c -> a" },
	{ "id: x\ntasks:\n"
	  "  - {id: ok, plugin: noop}\n"
	  "  - {id: a, plugin: noop, depends_on: [ok, a]}\n",
	  "4:44: cycle: a -> a" },
	{ "id: x\ntasks:\n"
	  "  - {id: s, plugin: noop}\n"
	  "  - {id: p, plugin: noop, depends_on: [s, q]}\n"
	  "  - {id: q, plugin: noop, depends_on: [p]}\n",
	  "5:40: cycle: p -> q -> p" },
	{ "id: x\n" TASK_A "  - id: b\n    plugin: nope\n",
	  "6:13: unknown plugin 'nope'" },
	{ "id: x\ndefault: {plugin: nope}\ntasks: [{id: a}]\n",
	  "2:19: unknown plugin 'nope'" },
	{ "id: x\n" TASK_A "    trigger_rule: all_sucess\n",
	  "5:19: unknown trigger_rule 'all_sucess' (did you mean "
	  "'all_success'?)" },
	{ "id: x\n" TASK_A "    trigger_rule: whenever\n",
	  "5:19: unknown trigger_rule 'whenever' (one of all_success, ..." },
	/* schedule and dates */
	{ "id: x\nschedule: \"0 25 * * *\"\nstart_date: 2024-01-01\n" TASK_A,
	  "2:14: bad schedule '0 25 * * *': ..." },
	{ "id: x\nschedule: 0 2 * *\nstart_date: 2024-01-01\n" TASK_A,
	  "2:18: bad schedule '0 2 * *': expected 5 fields..." },
	{ "id: x\nschedule: \"@dayly\"\nstart_date: 2024-01-01\n" TASK_A,
	  "2:12: bad schedule '@dayly': ..." },
	{ "id: x\nschedule: '*/0 * * * *'\nstart_date: 2024-01-01\n" TASK_A,
	  "2:14: bad schedule '*/0 * * * *': ..." },
	{ "id: x\nschedule: \"@daily\"\n" TASK_A,
	  "2:11: 'start_date' is required when 'schedule' is set" },
	{ "id: x\nschedule: \"@daily\"\nstart_date: 2024-02-30\n" TASK_A,
	  "3:13: 'start_date' is not a date (like 2024-01-31): ..." },
	{ "id: x\nschedule: \"@daily\"\nstart_date: 2024-06-01\n"
	  "end_date: 2024-05-31\n" TASK_A,
	  "4:11: 'end_date' is before 'start_date'" },
	/* templates */
	{ "id: x\n" TASK_A "    params: {p: \"{{ dss }}\"}\n",
	  "5:17: unknown template variable 'dss'" },
	{ "id: x\n" TASK_A
	  "    params:\n      p: \"a {{ds}} b {{ nope.x }}\"\n",
	  "6:10: unknown template variable 'nope.x'" },
	{ "id: x\nparams: {table: t}\n" TASK_A
	  "    params: {p: \"{{ params.tabel }}\"}\n",
	  "6:17: template parameter 'tabel' is not among the DAG's params" },
	{ "id: x\n" TASK_A "  - id: b\n    plugin: noop\n"
	  "    params: {p: \"{{ tasks.c.result }}\"}\n",
	  "7:17: template refers to unknown task 'c'" },
	{ "id: x\n" TASK_A "  - id: b\n    plugin: noop\n"
	  "    params: {p: \"{{ tasks.a.result }}\"}\n",
	  "7:17: task 'b' uses the result of 'a', which is not upstream of "
	  "it" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ tasks.a.result.rows }}\"}\n",
	  "5:17: task 'a' uses the result of 'a', which is not upstream of "
	  "it" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ ds }}/{{ ds\"}\n",
	  "5:17: unterminated '{{' (at character 10 of the string)" },
	{ "id: x\n" TASK_A "    params: {p: [ok, {q: \"{{ bad }}\"}]}\n",
	  "5:26: unknown template variable 'bad'" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ }}\"}\n",
	  "5:17: empty template '{{ }}'" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ ds | upper }}\"}\n",
	  "5:17: unknown template variable 'ds | upper'" },
	/* default.params are checked for each task that inherits them:
	 * fine for b (a is upstream), not for a itself. */
	{ "id: x\ndefault:\n  params: {r: \"{{ tasks.a.result }}\"}\n"
	  "tasks:\n  - {id: b, plugin: noop, depends_on: [a]}\n"
	  "  - {id: a, plugin: noop}\n",
	  "3:15: task 'a' uses the result of 'a', which is not upstream of "
	  "it" },
	/* ... unless the task overrides the key. */
	{ "id: x\ndefault:\n  params: {r: \"{{ tasks.a.result }}\"}\n"
	  "tasks:\n  - {id: b, plugin: noop, depends_on: [a]}\n"
	  "  - {id: a, plugin: noop, params: {r: 1, s: \"{{ x }}\"}}\n",
	  "6:45: unknown template variable 'x'" },
	/* variables and connections: their form at load, names at run */
	{ "id: x\n" TASK_A "    params: {p: \"{{ var.a.b }}\"}\n",
	  "5:17: 'var.a.b': a variable is {{ var.NAME }}" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ conn.db }}\"}\n",
	  "5:17: 'conn.db': a connection's field is type, host, port, login, "
	  "password or extra.KEY" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ conn.db.schema }}\"}\n",
	  "5:17: 'conn.db.schema': a connection's field is type, host, port, "
	  "login, password or extra.KEY" },
	{ "id: x\n" TASK_A "    params: {p: \"{{ var. }}\"}\n",
	  "5:17: 'var.': a name of letters, digits, '_' and '-' must follow" },
	/* command tasks (plugin exec) */
	{ "id: x\n" TASK_A "    command: echo hi\n",
	  "4:13: task 'a' has both 'plugin' and 'command' (a task of plugin "
	  "exec): give one" },
	{ "id: x\ntasks:\n  - id: a\n    command: {run: x}\n",
	  "4:14: 'command' must be a shell command line or a list (program "
	  "and arguments), not a mapping" },
	{ "id: x\ntasks:\n  - id: a\n    command: [ls, [x]]\n",
	  "4:19: each item of 'command' must be a string, not a list" },
	{ "id: x\ntasks:\n  - id: a\n    command: ls\n"
	  "    params: {command: pwd}\n",
	  "4:14: 'command' and params.command or params.argv say the same "
	  "thing: give one" },
	{ "id: x\ndefault:\n  command: ls\n" TASK_A,
	  "3:3: ..." },
	{ "id: x\n" TASK_A "    params: {p: \"{{ inputs.f }}\"}\n",
	  "5:17: '{{ inputs.f }}' is for tasks of plugin exec ('command:'), "
	  "not of noop" },
	{ "id: x\n" TASK_A "  - id: b\n    command: cat {{ inputs.c/f }}\n",
	  "6:14: task 'b' reads input 'c/f', but 'c' is not in its "
	  "depends_on" },
	{ "id: x\n" TASK_A "  - id: b\n    depends_on: [a]\n"
	  "    command: cat {{ inputs.a/$(id) }}\n",
	  "7:14: input name 'a/$(id)' in a template may hold only letters, "
	  "digits, '.', '_', '-' and a '/' after the upstream task's id" },
	/* dynamic task mapping */
	{ "id: x\n" TASK_A "    expand: [1, 2]\n",
	  "5:13: 'expand' must be a mapping of one param to the list it is "
	  "mapped over, as in expand: { n: [1, 2, 3] } or expand: { n: "
	  "\"{{ tasks.ID.result }}\" }" },
	{ "id: x\n" TASK_A "    expand: {a: [1], b: [2]}\n", "5:13: ..." },
	{ "id: x\n" TASK_A "    expand: {n-1: [1]}\n",
	  "5:14: expand: the param mapped over must be a name of letters, "
	  "digits and '_' (not starting with \"__\")" },
	{ "id: x\n" TASK_A "    expand: {n: 3}\n",
	  "5:17: expand: 'n' must be a list, or a template such as \"{{ "
	  "tasks.ID.result }}\" that gives one, not a scalar" },
	{ "id: x\n" TASK_A "    expand: {n: \"x{{ ds }}\"}\n",
	  "5:17: expand: 'x{{ ds }}' must be one template of a list, \"{{ "
	  "params.NAME }}\" or \"{{ tasks.ID.result[.FIELD] }}\", with "
	  "nothing around it" },
	{ "id: x\n" TASK_A "    expand: {n: \"{{ params.n }}\"}\n",
	  "5:17: template parameter 'n' is not among the DAG's params" },
	{ "id: x\n" TASK_A "  - id: b\n    plugin: noop\n"
	  "    expand: {n: \"{{ tasks.b.result }}\"}\n",
	  "7:17: task 'b' uses the result of 'b', which is not upstream of "
	  "it" },
	{ "id: x\n" TASK_A "    params: {i: \"{{ map_index }}\"}\n",
	  "5:17: '{{ map_index }}' is for the params of a mapped task (one "
	  "with 'expand')" },
	{ "id: x\n" TASK_A "    params: {i: \"{{ params.n }}\"}\n",
	  "5:17: template parameter 'n' is not among the DAG's params" },
	{ "id: x\ndefault:\n  expand: {n: [1]}\n" TASK_A, "3:3: ..." },
	/* sensors */
#define SENSOR_B "  - id: b\n    sensor: "
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, poke_interval: 100ms }\n",
	  "6:40: 'poke_interval' must be from 1000ms to 86400000ms, got "
	  "100ms" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, http: \"http://h/\" }\n",
	  "6:31: a sensor waits for one thing: give one of file, http, "
	  "dag_run and artifact" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, mode: poke }\n",
	  "6:31: sensor mode 'poke': only 'reschedule' is offered ..." },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, pokeinterval: 1s }\n",
	  "6:25: unknown key 'pokeinterval' in 'sensor' (did you mean "
	  "'poke_interval'?)" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, timeout: forever }\n",
	  "6:34: ..." },
	{ "id: x\n" TASK_A SENSOR_B "[file, /f]\n",
	  "6:13: 'sensor' must be a mapping, as in ..." },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, soft_fail: maybe }\n",
	  "6:36: ..." },
	{ "id: x\n" TASK_A SENSOR_B "{ dag_run: y, logical_date: today }\n",
	  "6:41: sensor logical_date: 'same' or 'latest', with dag_run" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, logical_date: latest }\n",
	  "6:39: sensor logical_date: 'same' or 'latest', with dag_run" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f, request_timeout: 1s }\n",
	  "6:42: sensor request_timeout is for http sensors" },
	{ "id: x\n" TASK_A SENSOR_B "{ dag_run: x }\n",
	  "6:24: a dag_run sensor cannot wait for its own DAG" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f }\n    plugin: noop\n",
	  "7:13: task 'b' is a file sensor, which brings its own plugin: "
	  "drop 'plugin' or 'command'" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f }\n    params: {path: /g}\n",
	  "6:21: sensor file and params.path say the same thing: give one" },
	{ "id: x\n" TASK_A SENSOR_B "{ poke_interval: 1s }\n",
	  "5:5: task 'b' has no 'plugin' (or 'command')" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: \"/d/{{ params.nope }}\" }\n",
	  "6:21: template parameter 'nope' is not among the DAG's params" },
	{ "id: x\n" TASK_A SENSOR_B "{ file: /f }\n    expand: {n: [1]}\n",
	  "6:13: task 'b': a sensor cannot be mapped ('expand')" },
	{ "id: x\ndefault:\n  sensor: { file: /f }\n" TASK_A, "3:3: ..." },
#undef SENSOR_B
	/* notifications and deadlines */
	{ "id: x\n" TASK_A "    deadline: { after: soon }\n",
	  "5:24: 'after' is not a duration ..." },
	{ "id: x\n" TASK_A "    deadline: soon\n",
	  "5:15: 'deadline' is not a duration ..." },
	{ "id: x\n" TASK_A "    deadline: { after: 500ms }\n", "5:24: ..." },
	{ "id: x\n" TASK_A "    deadline: { from: start }\n",
	  "5:15: 'deadline' needs 'after' (a duration, as in 10m)" },
	{ "id: x\n" TASK_A "    deadline: { after: 1m, from: end }\n",
	  "5:34: deadline 'from' is start or interval_end, not 'end'" },
	{ "id: x\n" TASK_A "    deadline: [1m]\n", "5:15: 'deadline' must be "
	  "a duration or a mapping, as in deadline: { after: 10m, from: start "
	  "}, not a list" },
	{ "id: x\non_failure: { webhook: \"ftp://h/x\" }\n" TASK_A,
	  "2:24: on_failure webhook 'ftp://h/x' must start with http:// or "
	  "https://" },
	{ "id: x\non_success: { webhook: \"http:///x\" }\n" TASK_A,
	  "2:24: on_success webhook 'http:///x' has no host" },
	{ "id: x\non_retry: { webhook: \"http://h/a b\" }\n" TASK_A,
	  "2:22: on_retry webhook 'http://h/a b' holds a blank or a control "
	  "character" },
	{ "id: x\n" TASK_A "    on_retry: { webhook: \"http://h/\", command: "
	  "\"true\" }\n", "5:15: a 'on_retry' target is one webhook or one "
	  "command" },
	{ "id: x\n" TASK_A "    on_failure: \"http://h/\"\n", "5:17: each "
	  "'on_failure' target must be a mapping, ..." },
	{ "id: x\n" TASK_A "    on_failure: { url: \"http://h/\" }\n",
	  "5:19: ..." },
	{ "id: x\n" TASK_A "    on_failure: [{command: a}, {command: b}, "
	  "{command: c}, {command: d}, {command: e}, {command: f}, "
	  "{command: g}, {command: h}, {command: i}]\n",
	  "5:130: 'on_failure' has more than 8 targets" },
	{ "id: x\ndefault:\n  on_failure: { command: a }\n" TASK_A, "3:3: ..." },
	{ "id: x\non_failure: { command: a, secret: k }\n" TASK_A,
	  "2:35: 'secret' (the variable whose value signs a webhook) is for "
	  "webhooks" },
};

/* on_* and deadline as parsed, at DAG and task level. */
START_TEST(test_notifications)
{
	char *path = write_file("n.yaml", "id: n\n"
		"on_failure: { webhook: \"https://h/run\", secret: hook_key }\n"
		"deadline: { after: 1h, from: interval_end }\n"
		"tasks:\n"
		"  - id: a\n    plugin: noop\n"
		"    deadline: 90s\n"
		"    on_retry:\n      - { webhook: \"http://h:1/r?x=1\" }\n"
		"      - { command: \"echo hi\" }\n"
		"  - id: b\n    plugin: noop\n"
		"    deadline: { after: 2m }\n    on_deadline: { command: x }\n");
	struct dag *d = NULL;
	char *err = NULL;
	ck_assert_msg(dag_load(path, known, NULL, &d, &err) == 0, "%s", err);
	ck_assert_uint_eq(d->on[DAG_ON_FAILURE].n, 1);
	ck_assert_int_eq(d->on[DAG_ON_FAILURE].v[0].kind, DCB_WEBHOOK);
	ck_assert_str_eq(d->on[DAG_ON_FAILURE].v[0].target, "https://h/run");
	ck_assert_str_eq(d->on[DAG_ON_FAILURE].v[0].secret, "hook_key");
	ck_assert_uint_eq(d->on[DAG_ON_SUCCESS].n, 0);
	ck_assert_int_eq(d->deadline.after_ms, 3600000);
	ck_assert_int_eq(d->deadline.from, DDL_FROM_INTERVAL_END);
	const struct dag_task *a = task(d, "a"), *b = task(d, "b");
	ck_assert_int_eq(a->deadline.after_ms, 90000);
	ck_assert_int_eq(a->deadline.from, DDL_FROM_START);
	ck_assert_uint_eq(a->on[DAG_ON_RETRY].n, 2);
	ck_assert_str_eq(a->on[DAG_ON_RETRY].v[0].target, "http://h:1/r?x=1");
	ck_assert_int_eq(a->on[DAG_ON_RETRY].v[1].kind, DCB_COMMAND);
	ck_assert_ptr_null(a->on[DAG_ON_RETRY].v[1].secret);
	ck_assert_str_eq(a->on[DAG_ON_RETRY].v[1].target, "echo hi");
	ck_assert_int_eq(b->deadline.after_ms, 120000);
	ck_assert_uint_eq(b->on[DAG_ON_DEADLINE].n, 1);
	ck_assert_uint_eq(b->on[DAG_ON_FAILURE].n, 0);
	ck_assert_str_eq(dag_event_name(DAG_ON_DEADLINE), "deadline_missed");
	ck_assert_str_eq(dag_event_key(DAG_ON_RETRY), "on_retry");
	ck_assert_str_eq(dag_event_name(DAG_NEVENTS), "?");
	ck_assert_str_eq(dag_deadline_from_name(DDL_FROM_INTERVAL_END),
	                 "interval_end");
	dag_free(d);
	free(path);
}
END_TEST

/* `sensor:` as parsed: the kind, its target in the params of the
 * plugin that pokes, and the settings with their defaults. */
START_TEST(test_sensors)
{
	char *path = write_file("s.yaml", "id: s\n"
		"params: {d: upstream}\n"
		"tasks:\n"
		"  - id: f\n    sensor: { file: \"/data/{{ ds }}/_OK\" }\n"
		"  - id: h\n    sensor: { http: \"http://h:1/x\", "
		"request_timeout: 2s, poke_interval: 5s, timeout: 1h, "
		"soft_fail: yes, mode: reschedule }\n"
		"  - id: r\n    sensor: { dag_run: other, logical_date: latest }\n"
		"  - id: a\n    sensor: { artifact: m.bin }\n"
		"  - id: p\n    plugin: noop\n    sensor: { poke_interval: 2s }\n"
		"  - id: n\n    plugin: noop\n");
	struct dag *d = NULL;
	char *err = NULL;
	ck_assert_msg(dag_load(path, known, NULL, &d, &err) == 0, "%s", err);
	const struct dag_task *f = task(d, "f"), *h = task(d, "h"),
		*r = task(d, "r"), *a = task(d, "a"), *p = task(d, "p");
	ck_assert_int_eq(f->sensor->kind, DS_FILE);
	ck_assert_str_eq(f->plugin, "sensor");
	ck_assert_str_eq(json_string_value(json_object_get(f->params, "path")),
	                 "/data/{{ ds }}/_OK");
	ck_assert_int_eq(f->sensor->poke_interval_ms, DAG_POKE_DEFAULT_MS);
	ck_assert_int_eq(f->sensor->timeout_ms, DAG_SENSOR_TIMEOUT_DEFAULT_MS);
	ck_assert_int_eq(f->sensor->soft_fail, 0);
	ck_assert_int_eq(h->sensor->kind, DS_HTTP);
	ck_assert_int_eq(json_integer_value(json_object_get(h->params,
	                 "timeout_ms")), 2000);
	ck_assert_int_eq(h->sensor->poke_interval_ms, 5000);
	ck_assert_int_eq(h->sensor->timeout_ms, 3600000);
	ck_assert_int_eq(h->sensor->soft_fail, 1);
	ck_assert_int_eq(r->sensor->kind, DS_DAG_RUN);
	ck_assert_int_eq(r->sensor->latest, 1);
	ck_assert_str_eq(json_string_value(json_object_get(r->params,
	                 "dag_id")), "other");
	ck_assert_int_eq(a->sensor->kind, DS_ARTIFACT);
	ck_assert_int_eq(p->sensor->kind, DS_PLUGIN);
	ck_assert_str_eq(p->plugin, "noop");
	ck_assert_ptr_null(task(d, "n")->sensor);
	ck_assert_str_eq(dag_sensor_kind_name(DS_DAG_RUN), "dag_run");
	ck_assert_str_eq(dag_sensor_kind_name(99), "?");
	dag_free(d);
	free(path);
}
END_TEST

START_TEST(test_errors)
{
	char *path = write_file("bad.yaml", bad[_i].yaml);
	struct dag *d = (struct dag *)1;
	char *err = NULL;
	int rc = dag_load(path, known, NULL, &d, &err);

	ck_assert_msg(rc < 0, "case %d loaded", _i);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(err);
	size_t n = strlen(path);
	ck_assert_msg(strncmp(err, path, n) == 0 && err[n] == ':',
	              "case %d: %s", _i, err);
	size_t m = strlen(bad[_i].err);
	int prefix = m > 3 && strcmp(bad[_i].err + m - 3, "...") == 0;
	int ok = prefix ? strncmp(err + n + 1, bad[_i].err, m - 3) == 0
	                : strcmp(err + n + 1, bad[_i].err) == 0;
	ck_assert_msg(ok, "case %d:\n got  %s\n want %s", _i, err + n + 1,
	              bad[_i].err);
	free(err);
	free(path);
}
END_TEST

/* dag_ctx.secret for test_secrets: "var.x" is "X", the rest unknown. */
static int
secret_of(const char *expr, void *ud, char **value, char **err)
{
	(void)ud;
	if (strcmp(expr, "var.x") == 0) {
		*value = xstrdup("X");
		return 0;
	}
	return err_set(err, -ENOENT, "no such thing as '%s'", expr);
}

START_TEST(test_secrets)
{
	char *path = write_file("s.yaml", "id: s\n"
		"params: {n: 3, r: 0.5, s: a, b: true, z: null}\n"
		"tasks:\n  - id: t\n    plugin: noop\n"
		"    params: {p: \"{{ var.x }}/{{ conn.db.extra.k }}\", "
		"q: \"{{ var.x }}\"}\n");
	struct dag *d = NULL;
	char *err = NULL;
	ck_assert_msg(dag_load(path, known, NULL, &d, &err) == 0, "%s", err);
	struct dag_ctx c = { .dag = d, .task = task(d, "t"),
	                     .secret = secret_of };
	ck_assert_ptr_null(dag_render_params(&c, &err));
	ck_assert_str_eq(err, "task 't': no such thing as 'conn.db.extra.k'");
	free(err);
	err = NULL;
	c.secret = NULL;
	ck_assert_ptr_null(dag_render_params(&c, &err));
	free(err);

	/* Run conf: keys and types from the params' defaults. */
	static const struct { const char *conf, *err; } confs[] = {
		{ "{\"n\": 4, \"r\": 1, \"s\": \"b\", \"b\": false, "
		  "\"z\": [1]}", NULL },
		{ "{\"n\": 4.5}", "conf.n: must be an integer (the type of its "
		  "default), not a number" },
		{ "{\"r\": \"x\"}", "conf.r: must be a number (the type of "
		  "its default), not a string" },
		{ "{\"b\": 1}", "conf.b: must be a boolean (the type of its "
		  "default), not an integer" },
		{ "{\"m\": 1}", "conf.m: DAG s has no param 'm'" },
	};
	for (size_t i = 0; i < sizeof confs / sizeof *confs; i++) {
		json_t *conf = json_loads(confs[i].conf, 0, NULL);
		err = NULL;
		int rc = dag_conf_check(d, conf, &err);
		if (confs[i].err == NULL)
			ck_assert_msg(rc == 0, "%s: %s", confs[i].conf, err);
		else
			ck_assert_str_eq(err, confs[i].err);
		free(err);
		json_decref(conf);
	}
	dag_free(d);
	free(path);
}
END_TEST

/* ---------------------------------------------------------------- rules */

START_TEST(test_trigger_rules)
{
	static const char *const names[] = {
		"all_success", "all_failed", "all_done", "one_success",
		"one_failed", "none_failed", "none_failed_min_one_success",
	};
	for (int i = 0; i < 7; i++) {
		ck_assert_str_eq(dag_trigger_rule_name(i), names[i]);
		ck_assert_int_eq(dag_trigger_rule_parse(names[i]), i);
	}
	ck_assert_int_eq(TR_ALL_SUCCESS, 0);
	ck_assert_int_eq(TR_NONE_FAILED_MIN_ONE_SUCCESS, 6);
	ck_assert_str_eq(dag_trigger_rule_name(7), "?");
	ck_assert_str_eq(dag_trigger_rule_name(-1), "?");
	ck_assert_int_eq(dag_trigger_rule_parse("ALL_SUCCESS"), -1);
	ck_assert_int_eq(dag_trigger_rule_parse(""), -1);
	ck_assert_int_eq(dag_trigger_rule_parse(NULL), -1);
}
END_TEST

/* -------------------------------------------------------------- retries */

static const struct {
	int64_t delay, cap;
	int exponential, try_number;
	int64_t want;
} retries[] = {
	{ 10000, 86400000, 0, 1, 0 },          /* the first run waits not */
	{ 10000, 86400000, 0, 2, 10000 },
	{ 10000, 86400000, 0, 5, 10000 },      /* fixed */
	{ 10000, 86400000, 1, 2, 10000 },      /* first retry: the delay */
	{ 10000, 86400000, 1, 3, 20000 },
	{ 10000, 86400000, 1, 4, 40000 },
	{ 10000, 86400000, 1, 6, 160000 },
	{ 10000, 60000, 1, 4, 40000 },
	{ 10000, 60000, 1, 5, 60000 },         /* capped */
	{ 10000, 60000, 1, 1000, 60000 },      /* no overflow */
	{ 300000, 60000, 0, 2, 60000 },        /* cap applies when fixed */
	{ 0, 60000, 1, 9, 0 },
};

START_TEST(test_retry_delay)
{
	struct dag_task t;
	memset(&t, 0, sizeof t);
	t.retry_delay_ms = retries[_i].delay;
	t.max_retry_delay_ms = retries[_i].cap;
	t.retry_exponential = retries[_i].exponential;
	ck_assert_int_eq(dag_retry_delay_ms(&t, retries[_i].try_number),
	                 retries[_i].want);
}
END_TEST

/* --------------------------------------------------------------- render */

static const char render_yaml[] =
	"id: render.dag\n"
	"params:\n"
	"  table: sales\n"
	"  n: 5\n"
	"  conf: {a: 1}\n"
	"  flag: true\n"
	"tasks:\n"
	"  - {id: up, plugin: noop}\n"
	"  - {id: mid, plugin: noop, depends_on: [up]}\n"
	"  - {id: a, plugin: noop}\n"
	"  - {id: a.b, plugin: noop}\n"
	"  - id: t\n"
	"    plugin: noop\n"
	"    depends_on: [mid, a.b, a]\n"
	"    params:\n"
	"      ds: \"{{ ds }}\"\n"
	"      nodash: \"{{ds_nodash}}\"\n"
	"      ld: \"{{ logical_date }}\"\n"
	"      s: \"{{  data_interval_start  }}\"\n"
	"      e: \"{{ data_interval_end }}\"\n"
	"      run: \"{{ run_id }}\"\n"
	"      dag: \"{{ dag.id }}\"\n"
	"      task: \"{{ task.id }}\"\n"
	"      table: \"{{ params.table }}\"\n"
	"      n: \"{{ params.n }}\"\n"
	"      conf: \"{{ params.conf }}\"\n"
	"      flag: \"{{ params.flag }}\"\n"
	"      n_text: \"n={{ params.n }}\"\n"
	"      conf_text: \"c={{ params.conf }}\"\n"
	"      res: \"{{ tasks.up.result }}\"\n"
	"      res_text: \"r={{ tasks.up.result }}\"\n"
	"      rows: \"{{ tasks.mid.result.rows }}\"\n"
	"      name: \"{{ tasks.mid.result.name }}\"\n"
	"      dotted: \"{{ tasks.a.b.result.who }}\"\n"
	"      path: \"/data/{{ ds }}/{{ params.table }}_"
	"{{ tasks.mid.result.rows }}-{{ tasks.mid.result.name }}.csv\"\n"
	"      list: [\"{{ ds }}\", 3, {inner: \"{{ run_id }}\"}]\n"
	"      plain: 42\n"
	"      literal: \"no } templates { here }}\"\n";

/* Upstream results by task id. */
static json_t *
results(const char *id, void *ud)
{
	return json_object_get(ud, id);
}

static const char render_want[] =
	"{\"conf\":{\"a\":1},"
	"\"conf_text\":\"c={\\\"a\\\":1}\","
	"\"dag\":\"render.dag\","
	"\"dotted\":\"a.b\","
	"\"ds\":\"2024-03-05\","
	"\"e\":\"2024-03-06T00:00:00+00:00\","
	"\"flag\":true,"
	"\"ld\":\"2024-03-05T00:00:00+00:00\","
	"\"list\":[\"2024-03-05\",3,{\"inner\":\"manual__1\"}],"
	"\"literal\":\"no } templates { here }}\","
	"\"n\":7,"
	"\"n_text\":\"n=7\","
	"\"name\":\"iris\","
	"\"nodash\":\"20240305\","
	"\"path\":\"/data/2024-03-05/orders_150-iris.csv\","
	"\"plain\":42,"
	"\"res\":{\"ok\":true,\"x\":[1,2]},"
	"\"res_text\":\"r={\\\"ok\\\":true,\\\"x\\\":[1,2]}\","
	"\"rows\":150,"
	"\"run\":\"manual__1\","
	"\"s\":\"2024-03-05T00:00:00+00:00\","
	"\"table\":\"orders\","
	"\"task\":\"t\"}";

START_TEST(test_render)
{
	struct dag *d = load_ok(render_yaml);
	json_t *res = json_pack("{s:{s:b,s:[i,i]},s:{s:i,s:s},s:{s:s}}",
	                        "up", "ok", 1, "x", 1, 2,
	                        "mid", "rows", 150, "name", "iris",
	                        "a.b", "who", "a.b");
	/* The run's conf overrides some params; the rest come from the DAG
	 * even if the caller passes only the overrides. */
	json_t *params = json_pack("{s:s,s:i}", "table", "orders", "n", 7);
	struct dag_ctx c = {
		.dag = d, .task = task(d, "t"), .run_id = "manual__1",
		.logical_date = 1709596800, .interval_start = 1709596800,
		.interval_end = 1709596800 + 86400, .params = params,
		.upstream_result = results, .ud = res,
	};
	char *err = NULL;
	json_t *out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, render_want);
	free(s);
	json_decref(out);

	/* {{ dag.dir }}: the DAG file's directory, absolute. */
	char *real = realpath(d->file, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_int_eq(d->dir[0], '/');
	ck_assert_int_eq(strncmp(real, d->dir, strlen(d->dir)), 0);
	ck_assert_str_eq(real + strlen(d->dir), "/dag.yaml");
	free(real);

	/* The task's own params are left alone. */
	ck_assert_str_eq(json_string_value(json_object_get(c.task->params,
	                 "ds")), "{{ ds }}");

	/* Without run params, the DAG's. */
	c.params = NULL;
	out = dag_render_params(&c, &err);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(json_string_value(json_object_get(out, "table")),
	                 "sales");
	ck_assert_int_eq(json_integer_value(json_object_get(out, "n")), 5);
	json_decref(out);

	/* An upstream without a result, or without the field. */
	json_object_del(json_object_get(res, "mid"), "name");
	out = dag_render_params(&c, &err);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "task 't': the result of task 'mid' has no "
	                 "field 'name'");
	free(err);
	err = NULL;
	json_object_del(res, "up");
	out = dag_render_params(&c, &err);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(err, "task 't': task 'up' has no result");
	free(err);

	/* A task without templates renders to a copy. */
	c.task = task(d, "up");
	out = dag_render_params(&c, &err);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(json_object_size(out), 0);
	json_decref(out);

	json_decref(params);
	json_decref(res);
	dag_free(d);
}
END_TEST

/* ---------------------------------------------------- shipped examples */

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
	char *dir = xstrdup(__FILE__);
	for (int i = 0; i < 3; i++) {
		char *s = strrchr(dir, '/');
		if (s == NULL) {
			free(dir);
			return xstrdup(".");
		}
		*s = '\0';
	}
	return dir;
}

/* Only the plugins that ship with kiln. */
static int
bundled(const char *name, void *ud)
{
	(void)ud;
	return strcmp(name, "noop") == 0 || strcmp(name, "sleep") == 0 ||
	       strcmp(name, "csvstats") == 0 || strcmp(name, "exec") == 0;
}

static struct dag *
load_example(const char *name)
{
	char *src = srcdir();
	char *path = xasprintf("%s/conf/dags/%s", src, name);
	struct dag *d = NULL;
	char *err = NULL;
	int rc = dag_load(path, bundled, NULL, &d, &err);
	free(path);
	free(src);
	ck_assert_msg(rc == 0, "%s", err ? err : "");
	return d;
}

/* `command:` is plugin exec with params.command or params.argv, and
 * {{ inputs.NAME }} the input's path in the work directory. */
START_TEST(test_command)
{
	struct dag *d = load_ok("id: c\nparams: {n: 3}\ntasks:\n"
	                        "  - id: a\n    command: seq {{ params.n }}\n"
	                        "  - id: b\n    depends_on: [a]\n"
	                        "    params: {k: v}\n"
	                        "    command: [wc, \"{{ params.n }}\", "
	                        "\"{{ inputs.a/out.txt }}\", "
	                        "\"-{{ inputs.out.txt }}\"]\n");
	struct dag_ctx c = { .dag = d, .task = task(d, "a"), .run_id = "r" };
	char *err = NULL;
	ck_assert_str_eq(c.task->plugin, "exec");
	json_t *out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"command\":\"seq 3\"}");
	free(s);
	json_decref(out);
	c.task = task(d, "b");
	ck_assert_str_eq(c.task->plugin, "exec");
	out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(s, "{\"argv\":[\"wc\",3,\"inputs/a/out.txt\","
	                 "\"-inputs/out.txt\"],\"k\":\"v\"}");
	free(s);
	json_decref(out);
	dag_free(d);
}
END_TEST

START_TEST(test_example_chain)
{
	struct dag *d = load_example("example_chain.yaml");

	ck_assert_str_eq(d->id, "example_chain");
	ck_assert_ptr_null(d->schedule_text);
	ck_assert_uint_eq(d->ntasks, 4);
	const char *ids[] = { "extract", "transform", "load", "cleanup" };
	const char *plugins[] = { "noop", "sleep", "noop", "noop" };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_str_eq(d->tasks[d->order[i]].id, ids[i]);
		ck_assert_str_eq(d->tasks[d->order[i]].plugin, plugins[i]);
		if (i > 0) {
			ck_assert_uint_eq(d->tasks[d->order[i]].ndeps, 1);
			ck_assert_str_eq(d->tasks[d->order[i]].deps[0],
			                 ids[i - 1]);
		}
	}
	const struct dag_task *t = task(d, "transform");
	ck_assert(json_real_value(json_object_get(t->params, "seconds")) ==
	          0.2);
	ck_assert_int_eq(task(d, "cleanup")->trigger_rule, TR_ALL_DONE);
	ck_assert_int_eq(task(d, "load")->trigger_rule, TR_ALL_SUCCESS);
	dag_free(d);
}
END_TEST

START_TEST(test_example_csvstats)
{
	struct dag *d = load_example("example_csvstats.yaml");

	ck_assert_str_eq(d->id, "example_csvstats");
	ck_assert_str_eq(d->schedule_text, "@daily");
	ck_assert_int_eq(d->cron.kind, CRON_EXPR);
	ck_assert_int_eq(d->start_date, 1795132800);   /* 2026-11-20 */
	ck_assert_int_eq(d->catchup, 0);
	const char *file = json_string_value(json_object_get(d->params,
	                                                     "file"));
	ck_assert_str_eq(file, "examples/data/iris.csv");

	/* The default file exists, relative to the repository root. */
	char *src = srcdir();
	char *csv = xasprintf("%s/%s", src, file);
	ck_assert_int_eq(access(csv, R_OK), 0);
	free(csv);
	free(src);

	ck_assert_str_eq(task(d, "stats")->plugin, "csvstats");
	const struct dag_task *r = task(d, "report");
	ck_assert_str_eq(r->plugin, "noop");
	ck_assert_str_eq(r->deps[0], "stats");

	/* stats gets the file; report gets the row count as a number. */
	json_t *res = json_pack("{s:{s:s,s:i}}", "stats", "file", file,
	                        "rows", 150);
	struct dag_ctx c = {
		.dag = d, .task = task(d, "stats"), .run_id = "scheduled__x",
		.logical_date = 1795132800, .interval_start = 1795132800,
		.interval_end = 1795132800 + 86400,
		.upstream_result = results, .ud = res,
	};
	char *err = NULL;
	json_t *out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	ck_assert_str_eq(json_string_value(json_object_get(out, "file")),
	                 file);
	json_decref(out);
	c.task = r;
	out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	ck_assert(json_is_integer(json_object_get(out, "rows")));
	ck_assert_int_eq(json_integer_value(json_object_get(out, "rows")),
	                 150);
	json_decref(out);
	json_decref(res);
	dag_free(d);
}
END_TEST

/* A mapped task: its param and list, {{ params.PARAM }} and
 * {{ map_index }} allowed in it, the list rendered from an upstream's
 * result, and a value that is not a list refused at run time. */
START_TEST(test_expand)
{
	struct dag *d = load_ok("id: m\nparams: {items: [1, 2]}\ntasks:\n"
	                        "  - id: up\n    plugin: noop\n"
	                        "  - id: lit\n    plugin: noop\n"
	                        "    expand: {n: [a, \"{{ ds }}\"]}\n"
	                        "  - id: fromp\n    command: echo {{ params.n }}"
	                        " {{ map_index }}\n"
	                        "    expand: {n: \"{{ params.items }}\"}\n"
	                        "  - id: fromup\n    plugin: noop\n"
	                        "    depends_on: [up]\n"
	                        "    expand: {c: \"{{ tasks.up.result.cols }}\"}\n");
	ck_assert_ptr_null(task(d, "up")->expand);
	ck_assert_str_eq(task(d, "fromp")->expand_param, "n");
	json_t *res = json_pack("{s:{s:[s,s,s]}}", "up", "cols", "x", "y", "z");
	struct dag_ctx c = { .dag = d, .task = task(d, "lit"), .run_id = "r",
	                     .logical_date = 1709596800,
	                     .upstream_result = results, .ud = res };
	char *err = NULL;
	json_t *l = dag_render_expand(&c, &err);
	ck_assert_msg(l != NULL, "%s", err ? err : "");
	char *s = json_dumps(l, JSON_COMPACT);
	ck_assert_str_eq(s, "[\"a\",\"2024-03-05\"]");
	free(s);
	json_decref(l);
	c.task = task(d, "fromp");
	l = dag_render_expand(&c, &err);
	ck_assert_int_eq(json_array_size(l), 2);
	json_decref(l);
	/* An instance: its element in params, its index. */
	json_t *p = json_pack("{s:[i,i],s:i}", "items", 1, 2, "n", 2);
	c.params = p;
	c.map_index = 1;
	json_t *out = dag_render_params(&c, &err);
	ck_assert_msg(out != NULL, "%s", err ? err : "");
	ck_assert_str_eq(json_string_value(json_object_get(out, "command")),
	                 "echo 2 1");
	json_decref(out);
	c.params = NULL;
	c.task = task(d, "fromup");
	l = dag_render_expand(&c, &err);
	ck_assert_int_eq(json_array_size(l), 3);
	json_decref(l);
	json_object_set_new(json_object_get(res, "up"), "cols", json_integer(3));
	ck_assert_ptr_null(dag_render_expand(&c, &err));
	ck_assert_str_eq(err, "task 'fromup': expand: {{ tasks.up.result.cols }}"
	                 " gives an integer, not a list");
	free(err);
	c.task = task(d, "up");
	err = NULL;
	ck_assert_ptr_null(dag_render_expand(&c, &err));
	ck_assert_ptr_nonnull(err);
	free(err);
	json_decref(p);
	json_decref(res);
	dag_free(d);
}
END_TEST

START_TEST(test_example_mapping)
{
	struct dag *d = load_example("example_mapping.yaml");
	ck_assert_str_eq(task(d, "measure")->expand_param, "word");
	ck_assert_ptr_null(task(d, "total")->expand);
	dag_free(d);
}
END_TEST

/* ---------------------------------------------------------------- suite */

/* The command-task examples load, as exec tasks with their inputs
 * upstream. */
START_TEST(test_example_commands)
{
	static const char *const files[] = { "example_shell.yaml",
	                                     "example_python.yaml" };
	for (size_t i = 0; i < 2; i++) {
		struct dag *d = load_example(files[i]);
		for (size_t j = 0; j < d->ntasks; j++)
			ck_assert_str_eq(d->tasks[j].plugin, "exec");
		dag_free(d);
	}
}
END_TEST

static Suite *
dag_suite(void)
{
	Suite *s = suite_create("dag");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_schedules, 0,
	                    sizeof schedules / sizeof schedules[0]);
	tcase_add_test(tc, test_digest_changes);
	tcase_add_test(tc, test_plugin_check_optional);
	tcase_add_test(tc, test_missing_file);
	tcase_add_loop_test(tc, test_order, 0,
	                    sizeof orders / sizeof orders[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_errors, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, test_notifications);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_trigger_rules);
	tcase_add_loop_test(tc, test_retry_delay, 0,
	                    sizeof retries / sizeof retries[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_secrets);
	tcase_add_test(tc, test_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("examples");
	tcase_add_test(tc, test_example_chain);
	tcase_add_test(tc, test_example_csvstats);
	tcase_add_test(tc, test_example_commands);
	tcase_add_test(tc, test_expand);
	tcase_add_test(tc, test_sensors);
	tcase_add_test(tc, test_example_mapping);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dag_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
