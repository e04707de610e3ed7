/* SPDX-License-Identifier: MIT */
/*
 * stagesum.c - a test plugin for distributed stages (ABI 1.1).
 *
 * The driver (run) sums the integers [0, n) with `tasks` map tasks per
 * stage, `iterations` times, and checks every stage's answer; each map
 * task sums its share and sleeps `sleep_ms` first, so a test can kill a
 * worker in the middle of a stage.  The result reports the total, the
 * stages run and the mean time per stage (the benchmark of the stage
 * overhead uses it with sleep_ms = 0).  A map task with `fail_index`
 * equal to its index fails (to test a stage that fails): with KILN_EFAIL,
 * which the scheduler retries, or with KILN_EINVAL if `fail_einval` is
 * true, which it does not; with `fail_once`, only its first attempt fails.
 * With `outputs` 1, each map task also writes its sum as the output
 * sum-INDEX.txt and the driver writes total.txt (ABI 1.7: the driver
 * adopts the map tasks' outputs); with `outputs` 2 every map task writes
 * the same name, sum.txt (a collision the driver must fail on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/plugin.h"

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
stagesum_run(kiln_task *t, const struct kiln_host *h)
{
	long long n = h->param_int(t, "n", 1000000);
	int ntasks = (int)h->param_int(t, "tasks", 4);
	int iters = (int)h->param_int(t, "iterations", 1);
	long long sleep_ms = h->param_int(t, "sleep_ms", 0);
	long long fail = h->param_int(t, "fail_index", -1);
	int einval = h->param_int(t, "fail_einval", 0) != 0;
	int once = h->param_int(t, "fail_once", 0) != 0;
	int outs = (int)h->param_int(t, "outputs", 0);
	if (ntasks < 1 || ntasks > 1000 || iters < 1 || n < 0) {
		h->set_error(t, "tasks must be 1..1000, iterations >= 1, n >= 0");
		return KILN_EINVAL;
	}
	struct kiln_stage_task *tasks = calloc((size_t)ntasks, sizeof *tasks);
	char **args = calloc((size_t)ntasks, sizeof *args);
	long long want = n * (n - 1) / 2;
	char bc[160];
	snprintf(bc, sizeof bc, "{\"sleep_ms\":%lld,\"fail_index\":%lld,"
	         "\"fail_einval\":%d,\"fail_once\":%d,\"outputs\":%d}",
	         sleep_ms, fail, einval, once, outs);
	for (int i = 0; i < ntasks; i++) {
		long long lo = n * i / ntasks, hi = n * (i + 1) / ntasks;
		args[i] = malloc(64);
		snprintf(args[i], 64, "[%lld,%lld]", lo, hi);
		tasks[i].arg = args[i];
	}
	int rc = 0;
	double t0 = now_s();
	for (int it = 0; it < iters && rc == 0; it++) {
		char **res = NULL, *err = NULL;
		rc = h->stage(t, "sum", bc, tasks, ntasks, &res, &err);
		if (rc != 0) {
			h->set_error(t, "%s", err);
			kiln_free(h, err);
			break;
		}
		long long total = 0;
		for (int i = 0; i < ntasks; i++) {
			total += atoll(res[i]);
			kiln_free(h, res[i]);
		}
		kiln_free(h, res);
		if (total != want) {
			h->set_error(t, "iteration %d: sum %lld, expected %lld", it, total, want);
			rc = KILN_EFAIL;
		}
	}
	double per = (now_s() - t0) / iters;
	if (rc == 0) {
		char out[256];
		snprintf(out, sizeof out, "{\"total\":%lld,\"stages\":%d,\"stage_ms\":%.4f}",
		         want, iters, per * 1000);
		h->set_result(t, out);
		if (outs != 0) {
			snprintf(out, sizeof out, "%lld\n", want);
			rc = h->output(t, "total.txt", out, strlen(out));
		}
	}
	for (int i = 0; i < ntasks; i++)
		free(args[i]);
	free(args);
	free(tasks);
	return rc;
}

static int
stagesum_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	if (strcmp(fn, "sum") != 0) {
		h->set_error(t, "no map function %s", fn);
		return KILN_EINVAL;
	}
	long long lo, hi, sleep_ms = 0, fail = -1;
	int einval = 0, once = 0, outs = 0;
	if (sscanf(h->stage_arg(t), "[%lld,%lld]", &lo, &hi) != 2 ||
	    sscanf(h->broadcast(t), "{\"sleep_ms\":%lld,\"fail_index\":%lld,"
	           "\"fail_einval\":%d,\"fail_once\":%d,\"outputs\":%d}",
	           &sleep_ms, &fail, &einval, &once, &outs) != 5) {
		h->set_error(t, "bad argument %s or broadcast %s", h->stage_arg(t),
		             h->broadcast(t));
		return KILN_EINVAL;
	}
	int count = 0;
	int index = h->stage_index(t, &count);
	if (index == fail && (!once || h->attempt(t) <= 1)) {
		h->set_error(t, "map task %d fails on purpose", index);
		return einval ? KILN_EINVAL : KILN_EFAIL;
	}
	for (long long ms = 0; ms < sleep_ms && !h->cancelled(t); ms += 10)
		usleep(10 * 1000);
	long long sum = 0;
	for (long long i = lo; i < hi; i++)
		sum += i;
	char out[32], name[32];
	snprintf(out, sizeof out, "%lld", sum);
	if (outs != 0) {
		snprintf(name, sizeof name, outs == 1 ? "sum-%d.txt" : "sum.txt",
		         index);
		int rc = h->output(t, name, out, strlen(out));
		if (rc != KILN_OK)
			return rc;
	}
	return h->set_result(t, out);
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "stagesum",
	.version = "1.0.0",
	.description = "test: sums integers with distributed stages",
	.run = stagesum_run,
	.map = stagesum_map,
};
