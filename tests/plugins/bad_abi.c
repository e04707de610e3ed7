/* SPDX-License-Identifier: MIT */
/*
 * bad_abi.c - test plugin built for a future ABI major: the loader must
 * refuse it after reading abi_major and nothing else.
 */
#include "kiln/plugin.h"

static int
bad_abi_run(kiln_task *task, const struct kiln_host *host)
{
	return KILN_OK;
}

const struct kiln_plugin kiln_plugin = {
	.abi_major = 999,
	.abi_minor = 0,
	.size = sizeof(struct kiln_plugin),
	.name = "bad_abi",
	.version = "1.0.0",
	.description = "Test: claims ABI 999",
	.run = bad_abi_run,
};
