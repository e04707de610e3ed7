/* SPDX-License-Identifier: MIT */
/*
 * hang.c - a test plugin that ignores cancellation: it sleeps `seconds`
 * (default 5) without ever looking at cancelled(), as a badly written
 * plugin would.  Used to check that a timed-out attempt is abandoned and
 * its slot reclaimed.
 */
#include <time.h>

#include "kiln/plugin.h"

static int
hang_run(kiln_task *t, const struct kiln_host *host)
{
	double s = host->param_double(t, "seconds", 5);
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0)
		;
	return host->set_result(t, "{\"hung\": true}");
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "hang",
	.version = "1.0.0",
	.description = "Sleeps and ignores cancellation (tests only)",
	.run = hang_run,
};
