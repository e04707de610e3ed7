/* SPDX-License-Identifier: MIT */
/*
 * old_abi13.c - a plugin built against the ABI 1.3 header as released
 * (abi-1.3/plugin.h), which knows nothing of open_data().  A 1.4 host must
 * load and run it unchanged: init_ctx() and fini_ctx() called, its
 * context given to run(), its spare slots (garbage here) never read; and
 * KILN_HOST_HAS as the 1.3 header spells it still finds every 1.3 member.
 * fini_ctx() appends a line to $KILN_ABI_TEST_LOG, if set.
 */
#include <stdio.h>
#include <stdlib.h>

#include "abi-1.3/plugin.h"

static int old13_token;

static int
old13_init_ctx(const struct kiln_host *host, void **ctx, char **errmsg)
{
	*ctx = &old13_token;
	return 0;
}

static int
old13_run(kiln_task *t, const struct kiln_host *h)
{
	int has = KILN_HOST_HAS(h, input_name) && KILN_HOST_HAS(h, mem_alloc) &&
	          KILN_HOST_HAS(h, context);
	char buf[160];
	snprintf(buf, sizeof buf, "{\"abi\":\"1.3\",\"host_minor\":%u,"
	         "\"has_1_3\":%s,\"ctx\":%s}", h->abi_minor,
	         has ? "true" : "false",
	         h->context(t) == &old13_token ? "true" : "false");
	return h->set_result(t, buf);
}

static void
old13_fini_ctx(const struct kiln_host *host, void *ctx)
{
	const char *path = getenv("KILN_ABI_TEST_LOG");
	FILE *f = path != NULL ? fopen(path, "a") : NULL;
	if (f != NULL) {
		fprintf(f, "old13 fini_ctx %s\n", ctx == &old13_token ?
		        "with its context" : "with another context");
		fclose(f);
	}
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "old13",
	.version = "1.3.0",
	.description = "Test: a plugin of ABI 1.3",
	.run = old13_run,
	.init_ctx = old13_init_ctx,
	.fini_ctx = old13_fini_ctx,
	.spare = { (void *)1, (void *)1 },
};
