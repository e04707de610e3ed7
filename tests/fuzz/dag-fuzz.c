/* SPDX-License-Identifier: MIT */
/*
 * dag-fuzz.c - libFuzzer target: a DAG file as dag_load() reads it (from a
 * file: it takes a path), then what the pipeline engine relies on in a
 * loaded DAG (a topological order, dependencies resolved, bounded retry
 * delays) and a render of every task's params.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dag.h"
#include "fuzz.h"

/* Every plugin exists but one, so that the refusal is reached too. */
static int
known(const char *name, void *ud)
{
	(void)ud;
	return strcmp(name, "missing") != 0;
}

static json_t *upstream;

static json_t *
result_of(const char *task_id, void *ud)
{
	(void)ud;
	return task_id[0] == 'n' ? NULL : upstream;  /* "n...": no result */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	upstream = json_pack("{s:i,s:s,s:{s:[i,n]}}", "rows", 150, "file",
	                     "out.csv", "stats", "mean", 1, "x");
	return 0;
}

static void
check(const struct dag *d)
{
	char *seen = calloc(d->ntasks + 1, 1);

	FZ_CHECK(d->id != NULL && d->params != NULL && d->digest != NULL);
	for (size_t k = 0; k < d->ntasks; k++) {
		size_t i = d->order[k];
		FZ_CHECK(i < d->ntasks && !seen[i]);
		const struct dag_task *t = &d->tasks[i];
		for (size_t j = 0; j < t->ndeps; j++) {
			FZ_CHECK(t->dep_index[j] >= 0 &&
			         (size_t)t->dep_index[j] < d->ntasks);
			FZ_CHECK(seen[t->dep_index[j]]);  /* before it */
		}
		seen[i] = 1;
		FZ_CHECK(dag_task_find(d, t->id) == t);
		for (int try = 0; try < 70; try += 7) {
			int64_t ms = dag_retry_delay_ms(t, try);
			FZ_CHECK(ms >= 0);
			FZ_CHECK(t->max_retry_delay_ms <= 0 ||
			         ms <= t->max_retry_delay_ms);
		}
	}
	free(seen);
}

static void
render(const struct dag *d)
{
	for (size_t i = 0; i < d->ntasks; i++) {
		struct dag_ctx ctx = {
			.dag = d, .task = &d->tasks[i], .run_id = "manual__1",
			.logical_date = 1700000000, .interval_start = 1699913600,
			.interval_end = 1700000000, .upstream_result = result_of,
		};
		char *err = NULL;
		json_t *p = dag_render_params(&ctx, &err);
		FZ_CHECK((p == NULL) == (err != NULL));
		FZ_CHECK(p == NULL || json_is_object(p));
		json_decref(p);
		free(err);
		if (d->tasks[i].expand == NULL)
			continue;
		/* A mapped task's list renders to a list or an error. */
		FZ_CHECK(d->tasks[i].expand_param != NULL);
		err = NULL;
		json_t *l = dag_render_expand(&ctx, &err);
		FZ_CHECK((l == NULL) == (err != NULL));
		FZ_CHECK(l == NULL || json_is_array(l));
		json_decref(l);
		free(err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dag *d = NULL;
	char *err = NULL;
	const char *path = fz_file(data, size, ".yaml");

	if (dag_load(path, known, NULL, &d, &err) != 0) {
		FZ_CHECK(d == NULL && err != NULL);
		free(err);
		return 0;
	}
	FZ_CHECK(d != NULL && err == NULL);
	check(d);
	render(d);
	dag_free(d);
	return 0;
}
