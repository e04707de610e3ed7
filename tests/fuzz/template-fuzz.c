/* SPDX-License-Identifier: MIT */
/*
 * template-fuzz.c - libFuzzer target: DAG param templates ("{{ ds }}",
 * "{{ params.NAME }}", "{{ tasks.ID.result.FIELD }}").  The input is one
 * string, placed in a fixed DAG as a task's param (escaped for YAML, so
 * that every input reaches the templates rather than the YAML parser):
 * dag_load() checks its templates, then dag_render_params() renders it
 * against upstream results of every JSON type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dag.h"
#include "fuzz.h"

/* Tasks "a", "a.b" (a dotted id, read with the longest id that fits) and
 * "t", downstream of both; T's params hold the input twice. */
static const char dag_head[] =
	"id: tpl\n"
	"params: {table: sales, n: 3, list: [1, \"x\"], obj: {k: v}, "
	"nul: null}\n"
	"tasks:\n"
	"  - id: a\n"
	"    plugin: noop\n"
	"  - id: a.b\n"
	"    plugin: noop\n"
	"    depends_on: [a]\n"
	"  - id: t\n"
	"    plugin: noop\n"
	"    depends_on: [a.b]\n"
	"    params:\n"
	"      s: \"";
static const char dag_mid[] = "\"\n      l: [\"";
static const char dag_tail[] = "\"]\n";

static json_t *res_a, *res_ab;

static json_t *
result_of(const char *task_id, void *ud)
{
	(void)ud;
	return strcmp(task_id, "a") == 0 ? res_a : res_ab;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	res_a = json_pack("{s:i,s:s,s:f,s:b,s:n,s:[i],s:{s:s}}", "rows", 150,
	                  "file", "out.csv", "mean", 0.5, "ok", 1, "none",
	                  "list", 1, "obj", "k", "v");
	res_ab = json_string("plain text");
	return 0;
}

/* Append DATA to B as the inside of a YAML double-quoted scalar. */
static size_t
quote(char *b, const uint8_t *data, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < size; i++) {
		uint8_t c = data[i];
		if (c == '"' || c == '\\')
			n += (size_t)sprintf(b + n, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			n += (size_t)sprintf(b + n, "\\x%02x", c);
		else
			b[n++] = (char)c;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	size_t cap = sizeof dag_head + sizeof dag_mid + sizeof dag_tail +
	             8 * size + 1;
	char *y = malloc(cap);
	size_t n = 0;
	memcpy(y + n, dag_head, sizeof dag_head - 1);
	n += sizeof dag_head - 1;
	n += quote(y + n, data, size);
	memcpy(y + n, dag_mid, sizeof dag_mid - 1);
	n += sizeof dag_mid - 1;
	n += quote(y + n, data, size);
	memcpy(y + n, dag_tail, sizeof dag_tail - 1);
	n += sizeof dag_tail - 1;

	struct dag *d = NULL;
	char *err = NULL;
	const char *path = fz_file((const uint8_t *)y, n, ".yaml");
	free(y);
	if (dag_load(path, NULL, NULL, &d, &err) != 0) {
		FZ_CHECK(d == NULL && err != NULL);
		free(err);
		return 0;
	}
	const struct dag_task *t = dag_task_find(d, "t");
	FZ_CHECK(t != NULL);
	json_t *conf = json_pack("{s:s,s:i}", "table", "other", "n", 7);
	for (int i = 0; i < 2; i++) {
		struct dag_ctx ctx = {
			.dag = d, .task = t, .run_id = "scheduled__2024",
			.logical_date = 1704067200,
			.interval_start = 1703980800,
			.interval_end = 1704067200,
			.params = i ? conf : NULL, .upstream_result = result_of,
		};
		json_t *p = dag_render_params(&ctx, &err);
		/* Loading checked every variable it names, and every upstream
		 * here has a result: rendering may fail only on a field. */
		FZ_CHECK(p != NULL || err != NULL);
		if (p != NULL) {
			FZ_CHECK(json_is_object(p) && json_object_size(p) == 2);
			FZ_CHECK(json_array_size(json_object_get(p, "l")) == 1);
		}
		json_decref(p);
		free(err);
		err = NULL;
	}
	json_decref(conf);
	dag_free(d);
	return 0;
}
