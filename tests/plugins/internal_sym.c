/* SPDX-License-Identifier: MIT */
/*
 * internal_sym.c - test plugin that calls one of kiln's internal functions
 * (xmalloc, from src/xalloc.c) instead of the host table, as a plugin
 * might by accident.  The kiln binary exports no such symbol
 * (src/kiln/plugin.sym), so the loader must refuse the plugin with
 * "undefined symbol: xmalloc" while the good ones load.
 */
#include <string.h>

#include "kiln/plugin.h"

void *xmalloc(size_t n);     /* kiln's, not the SDK's: the mistake */

static int
internal_sym_run(kiln_task *task, const struct kiln_host *host)
{
	char *p = xmalloc(3);
	memcpy(p, "{}", 3);
	int rc = host->set_result(task, p);
	host->mem_free(p);
	return rc;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "internal_sym",
	.version = "1.0.0",
	.description = "Test: binds to an internal kiln symbol",
	.run = internal_sym_run,
};
