/* SPDX-License-Identifier: MIT */
/*
 * ctx.c - a test plugin of ABI 1.3: plugin-wide state in the context
 * init_ctx() returns, not in a global.
 *
 * init_ctx() logs through host->log(NULL, ...) and makes the context;
 * run() finds it with host->context() and counts its runs there (atomic:
 * runs are concurrent); fini_ctx() logs, appends "ctx fini_ctx runs=N" to
 * $KILN_ABI_TEST_LOG if set, and frees the context.  With $KILN_CTX_FAIL
 * set, init_ctx() refuses with a message from the host's allocator (the
 * host frees it with mem_free()).  Hosts 1.0 to 1.2, which call init()
 * and not init_ctx(), are refused by init() with the versions named.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "kiln/plugin.h"

struct ctx {
	atomic_int runs;
};

static int
ctx_init_old(const struct kiln_host *host, char **errmsg)
{
	char buf[96];
	snprintf(buf, sizeof buf, "ctx needs kiln ABI 1.3, this kiln speaks "
	         "%u.%u", host->abi_major, host->abi_minor);
	*errmsg = kiln_strdup(host, buf);
	return KILN_EFAIL;
}

static int
ctx_init(const struct kiln_host *host, void **ctx, char **errmsg)
{
	if (getenv("KILN_CTX_FAIL") != NULL) {
		*errmsg = kiln_strdup(host, "asked to fail by KILN_CTX_FAIL");
		return KILN_EFAIL;
	}
	struct ctx *c = malloc(sizeof *c);
	if (c == NULL)
		return KILN_ENOMEM;
	atomic_init(&c->runs, 0);
	*ctx = c;
	host->log(NULL, KILN_LOG_INFO, "init_ctx made its context");
	return KILN_OK;
}

static int
ctx_run(kiln_task *t, const struct kiln_host *host)
{
	struct ctx *c = host->context(t);
	if (c == NULL) {
		host->set_error(t, "ctx: no context");
		return KILN_EFAIL;
	}
	int n = atomic_fetch_add(&c->runs, 1) + 1;
	char buf[64];
	snprintf(buf, sizeof buf, "{\"ctx\":true,\"runs\":%d}", n);
	return host->set_result(t, buf);
}

static void
ctx_fini(const struct kiln_host *host, void *ctx)
{
	struct ctx *c = ctx;
	int n = atomic_load(&c->runs);
	host->log(NULL, KILN_LOG_INFO, "fini_ctx after %d runs", n);
	const char *path = getenv("KILN_ABI_TEST_LOG");
	FILE *f = path != NULL ? fopen(path, "a") : NULL;
	if (f != NULL) {
		fprintf(f, "ctx fini_ctx runs=%d\n", n);
		fclose(f);
	}
	free(c);
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "ctx",
	.version = "1.3.0",
	.description = "Test: a plugin context (ABI 1.3)",
	.init = ctx_init_old,
	.init_ctx = ctx_init,
	.run = ctx_run,
	.fini_ctx = ctx_fini,
};
