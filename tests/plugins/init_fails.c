/* SPDX-License-Identifier: MIT */
/*
 * init_fails.c - test plugin of ABI 1.2 (built against abi-1.2/plugin.h)
 * whose init() refuses the load with a malloc()ed message: the host must
 * report it and free() it, as the 1.0 to 1.2 contract says (tests/plugins/
 * ctx.c refuses with the host's allocator, the 1.3 contract).
 */
#include <stdlib.h>
#include <string.h>

#include "abi-1.2/plugin.h"

static int
init_fails_init(const struct kiln_host *host, char **errmsg)
{
	*errmsg = strdup("init refused");
	return -1;
}

static int
init_fails_run(kiln_task *task, const struct kiln_host *host)
{
	return KILN_OK;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "init_fails",
	.version = "1.0.0",
	.description = "Test: init() always fails",
	.init = init_fails_init,
	.run = init_fails_run,
};
