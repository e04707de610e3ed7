/* SPDX-License-Identifier: MIT */
/*
 * old_notyet.c - a plugin of ABI 1.4 whose run() returns 1, the code that
 * ABI 1.5 gave to KILN_NOT_YET: the host must not read it as "not yet"
 * (tests/unit/plugin-test.c).
 */
#include "kiln/plugin.h"

static int
old_notyet_run(kiln_task *t, const struct kiln_host *host)
{
	(void)t;
	(void)host;
	return 1;
}

const struct kiln_plugin kiln_plugin = {
	.abi_major = KILN_ABI_MAJOR,
	.abi_minor = 4,
	.size = sizeof(struct kiln_plugin),
	.name = "old_notyet",
	.version = "1.0.0",
	.description = "Test: an ABI 1.4 plugin returning 1",
	.run = old_notyet_run,
};
