/* SPDX-License-Identifier: MIT */
/*
 * dagver.c - `kiln dag versions` and `kiln dag diff`: the versions of a
 * DAG file the master has kept (src/dagver.h) and what changed between
 * two of them.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "out.h"

static int
cli_dag_versions(struct cli *x, void *opts)
{
	json_t *r;
	char buf[32];
	(void)opts;
	char *path = cli_path("dags", x->pos[0], "/versions");
	int rc = cli_get(x, path, &r);
	if (rc != 0 || r == NULL)
		return rc;
	struct cli_table t = { .ncol = 5 };
	cli_table_row(&t, "VERSION", "HASH", "FIRST SEEN", "RUNS", "");
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(r, "versions"), i, v) {
		char num[24], runs[24], hash[16];
		snprintf(num, sizeof num, "%" PRId64, cli_jint(v, "version"));
		snprintf(runs, sizeof runs, "%" PRId64, cli_jint(v, "runs"));
		snprintf(hash, sizeof hash, "%.12s", cli_jstr(v, "hash", ""));
		cli_table_row(&t, num, hash, cli_fmt_time(cli_jint(v,
		              "created_ms"), buf), runs,
		              json_is_true(json_object_get(v, "current")) ?
		              "current" : "");
	}
	cli_table_print(&t, "");
	json_decref(r);
	return CLI_EXIT_OK;
}

/* Operand S as a version number, or -1 after printing why not. */
static long
cli_version_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > INT_MAX) {
		fprintf(stderr, "kiln: '%s' is not a version number (1, 2, ...)\n",
		        s);
		return -1;
	}
	return v;
}

static int
cli_dag_diff(struct cli *x, void *opts)
{
	json_t *r;
	long from = 0, to = 0;
	(void)opts;
	if ((x->npos > 1 && (from = cli_version_arg(x->pos[1])) < 0) ||
	    (x->npos > 2 && (to = cli_version_arg(x->pos[2])) < 0))
		return CLI_EXIT_USAGE;
	char q[64] = "/diff";
	if (from > 0 && to > 0)
		snprintf(q, sizeof q, "/diff?from=%ld&to=%ld", from, to);
	else if (from > 0)  /* one version: against the current one */
		snprintf(q, sizeof q, "/diff?from=%ld", from);
	char *path = cli_path("dags", x->pos[0], q);
	int rc = cli_get(x, path, &r);
	if (rc != 0 || r == NULL)
		return rc;
	const char *d = cli_jstr(r, "diff", "");
	if (*d == '\0')
		printf("versions %" PRId64 " and %" PRId64 " are the same\n",
		       cli_jint(r, "from"), cli_jint(r, "to"));
	else
		fputs(d, stdout);
	json_decref(r);
	return CLI_EXIT_OK;
}

int
cli_dag_show_version(struct cli *x, int version)
{
	json_t *r;
	char buf[32], suffix[48];
	snprintf(suffix, sizeof suffix, "/versions/%d", version);
	char *path = cli_path("dags", x->pos[0], suffix);
	int rc = cli_get(x, path, &r);
	if (rc != 0 || r == NULL)
		return rc;
	const char *text = cli_jstr(r, "text", NULL);
	printf("# %s version %" PRId64 " (%.12s, first seen %s)%s\n",
	       x->pos[0], cli_jint(r, "version"), cli_jstr(r, "hash", ""),
	       cli_fmt_time(cli_jint(r, "created_ms"), buf),
	       json_is_true(json_object_get(r, "current")) ? ", current" : "");
	if (text == NULL)
		printf("# (over 1 MiB: kept by its hash only)\n");
	else
		fputs(text, stdout);
	json_decref(r);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_dag_versions = {
	.name = "dag versions", .args = "ID",
	.summary = "list the versions of a DAG file",
	.help =
	"List the versions of DAG ID's file that the master has loaded,\n"
	"newest first: number, the start of its SHA-256, when the master\n"
	"first saw it (UTC), and how many runs ran it.  'kiln run show'\n"
	"names a run's version; 'kiln dag diff' shows what changed.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_dag_versions,
};

const struct cli_cmd cli_cmd_dag_diff = {
	.name = "dag diff", .args = "ID [V1 [V2]]",
	.summary = "show what changed between two versions of a DAG file",
	.help =
	"Print a unified diff (as diff -u) of two versions of DAG ID's file:\n"
	"by default the one before the current one against the current one;\n"
	"with V1, version V1 against the current one; with V1 and V2, V1\n"
	"against V2.  'kiln dag versions' lists the numbers.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 3,
	.exec = cli_dag_diff,
};
