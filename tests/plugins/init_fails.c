/*
 * init_fails.c - test plugin whose init() refuses the load with a
 * malloc()ed message the host must report and free.
 */
#include <stdlib.h>
#include <string.h>

#include "kiln/plugin.h"

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
