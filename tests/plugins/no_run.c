/* SPDX-License-Identifier: MIT */
/*
 * no_run.c - test plugin whose descriptor lacks the required run().
 */
#include "kiln/plugin.h"

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "no_run",
	.version = "1.0.0",
	.description = "Test: no run()",
	.run = NULL,
};
