/* SPDX-License-Identifier: MIT */
/*
 * dup_noop.c - test plugin that claims the name of the bundled 'noop' with
 * another version: refused next to noop.so, and used as noop.so's
 * replacement in the hot-reload test.
 */
#include "kiln/plugin.h"

static int
dup_noop_run(kiln_task *task, const struct kiln_host *host)
{
	return host->set_result(task, "{\"version\":\"9.9.9\"}");
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "noop",
	.version = "9.9.9",
	.description = "Test: a second 'noop'",
	.run = dup_noop_run,
};
