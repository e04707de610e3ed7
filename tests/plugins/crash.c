/* SPDX-License-Identifier: MIT */
/*
 * crash.c - test plugin that loads fine and whose run() calls abort():
 * the integration tests use it to kill a worker in the middle of a task.
 */
#include <stdlib.h>

#include "kiln/plugin.h"

static int
crash_run(kiln_task *task, const struct kiln_host *host)
{
	host->log(task, KILN_LOG_ERROR, "crash: aborting the process");
	abort();
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "crash",
	.version = "1.0.0",
	.description = "Test: run() aborts the process",
	.run = crash_run,
};
