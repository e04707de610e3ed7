/* SPDX-License-Identifier: MIT */
/*
 * noop.c - the bundled 'noop' plugin: does nothing and succeeds.
 *
 * The smallest complete plugin, and the one to copy when writing a new
 * one.  Useful to check that a worker loads plugins and runs tasks at all,
 * and as a placeholder step in a DAG.  Thread-safe: it has no state.
 */
#include "kiln/plugin.h"

static int
noop_run(kiln_task *task, const struct kiln_host *host)
{
	host->log(task, KILN_LOG_INFO, "noop: nothing to do");
	return host->set_result(task, "{}");
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "noop",
	.version = "1.0.0",
	.description = "Does nothing and succeeds",
	.params = NULL,
	.run = noop_run,
};
