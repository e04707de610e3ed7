/* SPDX-License-Identifier: MIT */
/*
 * old_abi12.c - a plugin built against the ABI 1.2 header as released
 * (abi-1.2/plugin.h).  A 1.3 host must load and run it unchanged:
 *  - init() and fini(void), not init_ctx()/fini_ctx(), whose slots its
 *    spares fill with garbage (the host obeys the minor, not the slots);
 *  - input_name() found by the 1.2 rule (host->size), which hosts 1.3
 *    still satisfy;
 *  - with `stage` set, a stage of 2 map tasks whose results and message
 *    it frees with free(), the contract of 1.0 to 1.2.
 * fini() appends a line to $KILN_ABI_TEST_LOG, if set.
 */
#include <stdio.h>
#include <stdlib.h>

#include "abi-1.2/plugin.h"

static int
old12_init(const struct kiln_host *host, char **errmsg)
{
	return 0;
}

static int
old12_run(kiln_task *t, const struct kiln_host *h)
{
	int has_name = h->size >= offsetof(struct kiln_host, input_name) +
	               sizeof h->input_name && h->input_name != NULL;
	long long sum = 0;
	if (h->param_int(t, "stage", 0)) {
		struct kiln_stage_task tasks[2] = { { .arg = "20" }, { .arg = "22" } };
		char **res = NULL, *err = NULL;
		int rc = h->stage(t, "echo", NULL, tasks, 2, &res, &err);
		if (rc != 0) {
			h->set_error(t, "old12: %s", err ? err : "stage failed");
			free(err);
			return rc;
		}
		for (int i = 0; i < 2; i++) {
			sum += atoll(res[i]);
			free(res[i]);
		}
		free(res);
	}
	char buf[160];
	snprintf(buf, sizeof buf, "{\"abi\":\"1.2\",\"host_minor\":%u,"
	         "\"input_name\":%s,\"sum\":%lld}", h->abi_minor,
	         has_name ? "true" : "false", sum);
	return h->set_result(t, buf);
}

static int
old12_map(kiln_task *t, const struct kiln_host *h, const char *fn)
{
	const char *arg = h->stage_arg(t);
	return h->set_result(t, arg != NULL ? arg : "0");
}

static void
old12_fini(void)
{
	const char *path = getenv("KILN_ABI_TEST_LOG");
	FILE *f = path != NULL ? fopen(path, "a") : NULL;
	if (f != NULL) {
		fputs("old12 fini\n", f);
		fclose(f);
	}
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "old12",
	.version = "1.2.0",
	.description = "Test: a plugin of ABI 1.2",
	.init = old12_init,
	.run = old12_run,
	.fini = old12_fini,
	.map = old12_map,
	.spare = { (void *)1, (void *)1 },
};
