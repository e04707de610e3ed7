/* SPDX-License-Identifier: MIT */
/*
 * short_desc.c - test plugin whose descriptor claims ABI 1.3 but whose
 * `size` stops before the members 1.3 added: the host must refuse it
 * rather than read past what the plugin says it has.
 */
#include "kiln/plugin.h"

static int
short_desc_run(kiln_task *task, const struct kiln_host *host)
{
	return KILN_OK;
}

const struct kiln_plugin kiln_plugin = {
	.abi_major = KILN_ABI_MAJOR,
	.abi_minor = 3,
	.size = offsetof(struct kiln_plugin, init_ctx),
	.name = "short_desc",
	.version = "1.0.0",
	.description = "Test: a 1.3 descriptor cut short",
	.run = short_desc_run,
};
