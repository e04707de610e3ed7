/* SPDX-License-Identifier: MIT */
/*
 * crash.c - test plugin that loads fine and whose run() kills its process:
 * abort(), or SIGSEGV with the param "signal": "segv".  The integration
 * tests use it to kill a worker in the middle of a task (and a job that
 * does so every time is failed as poison: poison.sh).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/plugin.h"

static int
crash_run(kiln_task *task, const struct kiln_host *host)
{
	const char *sig = host->param(task, "signal");
	host->log(task, KILN_LOG_ERROR, "crash: killing the process");
	if (sig != NULL && strcmp(sig, "segv") == 0)
		raise(SIGSEGV);
	abort();
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "crash",
	.version = "1.0.0",
	.description = "Test: run() aborts the process (or raises SIGSEGV)",
	.run = crash_run,
};
