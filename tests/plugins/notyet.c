/* SPDX-License-Identifier: MIT */
/*
 * notyet.c - a plugin sensor for tests/integration/sensors.sh: answers
 * KILN_NOT_YET (ABI 1.5) until the wall clock reaches param ready_at
 * (unix seconds), then KILN_OK with the number of the poke's second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kiln/plugin.h"

static const struct kiln_param notyet_params[] = {
	{ "ready_at", "int", NULL, "unix time from which the condition holds" },
	{ NULL, NULL, NULL, NULL },
};

static int
notyet_run(kiln_task *t, const struct kiln_host *host)
{
	const char *s = host->param(t, "ready_at");
	long long at = s ? atoll(s) : 0;
	long long now = (long long)time(NULL);
	if (now < at) {
		host->set_error(t, "not before %lld (%lld s to go)", at, at - now);
		return KILN_NOT_YET;
	}
	char res[64];
	snprintf(res, sizeof res, "{\"ready\": %lld}", now);
	return host->set_result(t, res);
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "notyet",
	.version = "1.0.0",
	.description = "A test sensor: not yet until ready_at",
	.params = notyet_params,
	.run = notyet_run,
};
