/* SPDX-License-Identifier: MIT */
/*
 * sleep.c - the bundled 'sleep' plugin: waits, then succeeds (or fails).
 *
 * Stands in for real work in tests, demos and benchmarks: a task that takes
 * a known time, reports progress, honours cancellation at once (within 10
 * ms on hosts before ABI 1.6) and can be told to fail.  On a host of ABI
 * 1.6 it waits with host->sleep(), a second at a time (for progress), so
 * that ten thousand sleeping tasks cost their workers no CPU.  Thread-safe:
 * all state is on the stack of run().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kiln/plugin.h"

/* The longest we sleep between two looks at cancelled(). */
#define SLEEP_STEP_NS 10000000L

static const struct kiln_param sleep_params[] = {
	{ "seconds", "number", "1", "how long to sleep" },
	{ "fail", "bool", "false", "fail at the end instead of succeeding" },
	{ NULL, NULL, NULL, NULL },
};

static double
sleep_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
sleep_flag(const char *s)
{
	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0 ||
	                     strcmp(s, "yes") == 0);
}

static int
sleep_run(kiln_task *task, const struct kiln_host *host)
{
	double seconds = host->param_double(task, "seconds", 1.0);
	int fail = sleep_flag(host->param(task, "fail"));
	if (!isfinite(seconds) || seconds < 0 || seconds > 7 * 86400.0) {
		host->set_error(task, "sleep: 'seconds' must be a number from "
		                "0 to 604800, not %g", seconds);
		return KILN_EINVAL;
	}

	host->log(task, KILN_LOG_INFO, "sleep: sleeping %g s", seconds);
	double start = sleep_now(), end = start + seconds, now = start;
	int cancelled = 0;
	int waits = KILN_HOST_HAS(host, sleep);
	while (now < end && waits) {
		double left = end - now;
		/* 20 ms first, so that progress shows at once, then a
		 * second at a time: a wake per second is all it costs. */
		double step = now == start ? 0.02 : 1.0;
		int64_t ms = left > step ? (int64_t)(step * 1000) :
		             (int64_t)ceil(left * 1000);
		if (host->sleep(task, ms) == KILN_ECANCELLED) {
			cancelled = 1;
			break;
		}
		now = sleep_now();
		host->progress(task, seconds > 0 ? (now - start) / seconds : 1);
	}
	while (now < end && !waits && !cancelled) {
		if (host->cancelled(task)) {
			cancelled = 1;
			break;
		}
		double left = end - now;
		struct timespec step = { 0, SLEEP_STEP_NS };
		if (left < SLEEP_STEP_NS / 1e9)
			step.tv_nsec = (long)(left * 1e9);
		nanosleep(&step, NULL);
		now = sleep_now();
		host->progress(task, seconds > 0 ? (now - start) / seconds : 1);
	}
	double slept = sleep_now() - start;

	char result[64];
	snprintf(result, sizeof result, "{\"slept\":%.3f}", slept);
	host->set_result(task, result);
	if (cancelled) {
		host->log(task, KILN_LOG_WARN, "sleep: cancelled after %.3f s",
		          slept);
		host->set_error(task, "sleep: cancelled after %.3f s", slept);
		return KILN_ECANCELLED;
	}
	host->log(task, KILN_LOG_INFO, "sleep: woke after %.3f s", slept);
	if (fail) {
		host->set_error(task, "sleep: failing as asked (fail=true) "
		                "after %.3f s", slept);
		return KILN_EFAIL;
	}
	return KILN_OK;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "sleep",
	.version = "1.0.0",
	.description = "Sleeps for a while (cancellable), then succeeds or fails",
	.params = sleep_params,
	.run = sleep_run,
};
