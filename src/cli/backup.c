/* SPDX-License-Identifier: MIT */
/*
 * backup.c - `kiln backup FILE` and `kiln restore FILE` (see ../backup.h).
 * They work on the master's data directory on this machine: backup while
 * the master runs, restore while it is stopped.
 */
#include <stdio.h>
#include <stdlib.h>

#include "backup.h"
#include "clock.h"
#include "cmd.h"
#include "config.h"

static int
cli_backup(struct cli *x, void *opts)
{
	struct backup_stats st;
	char *err = NULL;

	(void)opts;
	if (cli_config(x, NULL) != 0)
		return CLI_EXIT_FAIL;
	int64_t t0 = clock_mono_ms();
	if (backup_create(x->conf, x->pos[0], &st, &err) != 0) {
		fprintf(stderr, "%s: %s\n", x->prog, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	printf("%s: the store (%lld bytes) and %lld artifacts (%lld bytes) in "
	       "%lld ms\n", x->pos[0], st.db_bytes, st.artifacts,
	       st.artifact_bytes, (long long)(clock_mono_ms() - t0));
	if (st.missing > 0)
		printf("%s: %lld artifacts deleted meanwhile were left out\n",
		       x->pos[0], st.missing);
	return CLI_EXIT_OK;
}

static int
cli_restore(struct cli *x, void *opts)
{
	struct backup_stats st;
	char *err = NULL;

	(void)opts;
	if (cli_config(x, NULL) != 0)
		return CLI_EXIT_FAIL;
	if (backup_restore(x->conf, x->pos[0], &st, &err) != 0) {
		fprintf(stderr, "%s: %s\n", x->prog, err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	printf("%s: restored the store (%lld bytes) and %lld artifacts (%lld "
	       "bytes) into %s\n", x->pos[0], st.db_bytes, st.artifacts,
	       st.artifact_bytes, x->conf->master.data_dir);
	return CLI_EXIT_OK;
}

const struct cli_cmd cli_cmd_backup = {
	.name = "backup", .args = "FILE",
	.summary = "copy the master's store and artifacts into FILE (a tar)",
	.help =
	"Write a consistent copy of the master's store (SQLite's online backup)\n"
	"and of the artifacts it records to FILE, a tar file, while the master\n"
	"runs.  Run it on the master's machine: it reads master.data_dir.  The\n"
	"cluster secret and cluster.yaml are not in it: keep them apart.\n",
	.flags = CLI_CONFIG,
	.min_args = 1, .max_args = 1,
	.exec = cli_backup,
};

const struct cli_cmd cli_cmd_restore = {
	.name = "restore", .args = "FILE",
	.summary = "put a backup back into the master's data directory",
	.help =
	"Put the store and artifacts of FILE (from `kiln backup`) into\n"
	"master.data_dir, for a master that is stopped (refused while one runs).\n"
	"A store already there is kept as kiln.db.replaced.  The master started\n"
	"next carries on from the backup: jobs queued or running then run.\n",
	.flags = CLI_CONFIG,
	.min_args = 1, .max_args = 1,
	.exec = cli_restore,
};
