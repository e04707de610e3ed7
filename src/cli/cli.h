/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the kiln command line: every command of the kiln binary, from
 * `kiln start` and `kiln up` (run the cluster) to the client commands that
 * talk to a running master (`kiln submit`, `kiln dag trigger`, ...).  See
 * docs/cli.md; the commands themselves are declared in cmd.h.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

/* Run the kiln command line ARGV (ARGV[0] is the program): global
 * options, then a command and its arguments.  Returns the process exit
 * status: 0 success, 1 failure, 2 usage error. */
int cli_main(int argc, char **argv);

#endif
