/* SPDX-License-Identifier: MIT */
/*
 * new_minor.c - test plugin that claims a minor version newer than the
 * host's: a host of 1.3 or later must refuse it, naming both versions,
 * since it may rely on entry points the host would not call.
 */
#include "kiln/plugin.h"

static int
new_minor_run(kiln_task *task, const struct kiln_host *host)
{
	return KILN_OK;
}

const struct kiln_plugin kiln_plugin = {
	.abi_major = KILN_ABI_MAJOR,
	.abi_minor = KILN_ABI_MINOR + 1,
	.size = sizeof(struct kiln_plugin),
	.name = "new_minor",
	.version = "1.0.0",
	.description = "Test: built for a minor this kiln does not speak",
	.run = new_minor_run,
};
