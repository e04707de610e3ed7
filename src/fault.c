/* SPDX-License-Identifier: MIT */
/*
 * fault.c - fault injection for tests (see fault.h): counters per site
 * and operation, and the rules KILN_FAULT armed.  The store (through a
 * SQLite VFS shim in store.c), the artifact store and the worker's cache
 * ask fault_check() before each write, sync or read.
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fault.h"
#include "log.h"
#include "xalloc.h"

#define FAULT_RULES 8

struct fault_rule {
	enum fault_site site;
	enum fault_op op;
	long first;             /* the first operation to fail, from 1 */
	long count;             /* how many fail; 0: all from first on */
	int err;                /* the errno */
};

static const char *const fault_sites[FAULT_NSITES] = {
	[FAULT_STORE] = "store", [FAULT_ARTIFACT] = "artifact",
	[FAULT_CACHE] = "cache",
};
static const char *const fault_ops[FAULT_NOPS] = {
	[FAULT_WRITE] = "write", [FAULT_SYNC] = "sync", [FAULT_READ] = "read",
	[FAULT_COMMIT] = "commit",
};
/* Not an errno: the operation waits FAULT_STALL_S, then goes on. */
#define FAULT_STALL (-1)
#define FAULT_STALL_S 60
static const struct { const char *name; int err; } fault_errnos[] = {
	{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT },
	{ "EROFS", EROFS }, { "STALL", FAULT_STALL },
};

/* Written once by fault_init() before any thread starts. */
static struct fault_rule fault_rules[FAULT_RULES];
static int fault_nrules;
static int fault_on;            /* any rule at all: the fast path */
static int fault_trace;         /* "trace": log every operation counted */
static atomic_long fault_count[FAULT_NSITES][FAULT_NOPS];

static int
fault_lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

/* One SITE:OP:N:ERRNO[:COUNT] into R; 0 or -EINVAL. */
static int
fault_parse_rule(char *text, struct fault_rule *r, char **err)
{
	char *f[6] = { 0 }, *save = NULL;
	int n = 0;
	for (char *t = strtok_r(text, ":", &save); t && n < 6;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n < 4 || n > 5)
		return err_set(err, -EINVAL, "KILN_FAULT: '%s': want "
		              "SITE:OP:N:ERRNO[:COUNT]", text);
	int site = fault_lookup(fault_sites, FAULT_NSITES, f[0]);
	int op = fault_lookup(fault_ops, FAULT_NOPS, f[1]);
	char *end;
	r->first = strtol(f[2], &end, 10);
	int bad_n = *end != '\0' || r->first < 1;
	r->count = 1;
	if (n == 5) {
		r->count = strtol(f[4], &end, 10);
		bad_n |= *end != '\0' || r->count < 0;
	}
	r->err = 0;
	for (size_t i = 0; i < sizeof fault_errnos / sizeof *fault_errnos; i++)
		if (strcmp(fault_errnos[i].name, f[3]) == 0)
			r->err = fault_errnos[i].err;
	if (site < 0 || op < 0 || bad_n || r->err == 0)
		return err_set(err, -EINVAL, "KILN_FAULT: bad %s '%s' (sites: "
		              "store, artifact, cache; ops: write, sync, read, "
		              "commit; N and COUNT: numbers; errnos: ENOSPC, EIO, "
		              "EDQUOT, EROFS, STALL)",
		              site < 0 ? "site" : op < 0 ? "operation" :
		              bad_n ? "count" : "errno", site < 0 ? f[0] :
		              op < 0 ? f[1] : bad_n ? f[2] : f[3]);
	r->site = site;
	r->op = op;
	return 0;
}

int
fault_init(const char *spec, char **err)
{
	fault_nrules = 0;
	fault_on = 0;
	fault_trace = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	char *copy = xstrdup(spec), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && rc == 0;
	     t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "trace") == 0)
			fault_trace = 1;
		else if (fault_nrules == FAULT_RULES)
			rc = err_set(err, -EINVAL, "KILN_FAULT: more than %d "
			            "rules", FAULT_RULES);
		else
			rc = fault_parse_rule(t, &fault_rules[fault_nrules++], err);
	}
	free(copy);
	if (rc != 0) {
		fault_nrules = 0;
		fault_trace = 0;
		return rc;
	}
	fault_on = 1;
	log_warn("fault injection armed: KILN_FAULT=%s", spec);
	return 0;
}

int
fault_armed(enum fault_site site)
{
	if (fault_trace)
		return 1;
	for (int i = 0; i < fault_nrules; i++)
		if (fault_rules[i].site == site)
			return 1;
	return 0;
}

int
fault_tracing(void)
{
	return fault_trace;
}

int
fault_check(enum fault_site site, enum fault_op op)
{
	if (!fault_on)
		return 0;
	long n = atomic_fetch_add_explicit(&fault_count[site][op], 1,
	                                   memory_order_relaxed) + 1;
	/* Reads are many and never the point of a trace; a commit is
	 * traced by the store itself ("fault: store commit KINDS: ok"). */
	if (fault_trace && op != FAULT_READ && op != FAULT_COMMIT)
		log_info("fault: %s %s #%ld", fault_sites[site], fault_ops[op],
		         n);
	for (int i = 0; i < fault_nrules; i++) {
		const struct fault_rule *r = &fault_rules[i];
		if (r->site != site || r->op != op || n < r->first ||
		    (r->count > 0 && n >= r->first + r->count))
			continue;
		if (r->err == FAULT_STALL) {
			/* A test kills the process meanwhile. */
			log_warn("fault: stalled at %s %s #%ld for %d s",
			         fault_sites[site], fault_ops[op], n,
			         FAULT_STALL_S);
			struct timespec ts = { FAULT_STALL_S, 0 };
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
			return 0;
		}
		log_warn("fault: injected %s at %s %s #%ld", strerror(r->err),
		         fault_sites[site], fault_ops[op], n);
		errno = r->err;
		return r->err;
	}
	return 0;
}
