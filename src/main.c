/* SPDX-License-Identifier: MIT */
/*
 * main.c - the kiln binary: `kiln start` runs one node (master or worker,
 * as cluster.yaml says), `kiln up` runs the local cluster, and the client
 * commands talk to a running master.  Every command is an entry of the
 * command table in src/cli/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "fault.h"

int
main(int argc, char **argv)
{
	/* What kiln writes (the store with its token and password hashes,
	 * artifacts, caches, keys) is for its own user only, whatever the
	 * umask of the shell or service manager that started it. */
	umask(077);
	/* Tests only: KILN_FAULT fails chosen writes (fault.h). */
	char *err = NULL;
	if (fault_init(getenv("KILN_FAULT"), &err) != 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return 2;
	}
	return cli_main(argc, argv);
}
