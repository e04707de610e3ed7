/* SPDX-License-Identifier: MIT */
/*
 * old_abi10.c - a plugin built against the ABI 1.0 header as released
 * (abi-1.0/plugin.h): init(), run() and fini(void), plugin-wide state in a
 * global as 1.0 left no other place.  A 1.3 host must load and run it
 * unchanged, call its init() and fini(), and read nothing a 1.0 descriptor
 * does not have: its spare slots hold garbage where 1.1 put map() and 1.3
 * init_ctx()/fini_ctx(), which a host that obeys the minor never calls.
 * fini() appends a line to $KILN_ABI_TEST_LOG, if set, so tests see it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "abi-1.0/plugin.h"

static int old10_inited;

static int
old10_init(const struct kiln_host *host, char **errmsg)
{
	old10_inited = host->abi_major == 1;
	return 0;
}

static int
old10_run(kiln_task *t, const struct kiln_host *host)
{
	char buf[128];
	host->log(t, KILN_LOG_INFO, "old10: running on a host of ABI %u.%u",
	          host->abi_major, host->abi_minor);
	snprintf(buf, sizeof buf, "{\"abi\":\"1.0\",\"init\":%s,\"n\":%lld}",
	         old10_inited ? "true" : "false",
	         (long long)host->param_int(t, "n", 0));
	return host->set_result(t, buf);
}

static void
old10_fini(void)
{
	const char *path = getenv("KILN_ABI_TEST_LOG");
	FILE *f = path != NULL ? fopen(path, "a") : NULL;
	if (f != NULL) {
		fputs("old10 fini\n", f);
		fclose(f);
	}
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "old10",
	.version = "1.0.0",
	.description = "Test: a plugin of ABI 1.0",
	.init = old10_init,
	.run = old10_run,
	.fini = old10_fini,
	.spare = { (void *)1, (void *)1, (void *)1 },
};
