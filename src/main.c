/* SPDX-License-Identifier: MIT */
/*
 * main.c - the kiln binary: `kiln start` runs one node (master or worker,
 * as cluster.yaml says), `kiln up` runs the local cluster, and the client
 * commands talk to a running master.  Every command is an entry of the
 * command table in src/cli/.
 */
#include "cli/cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
