/* SPDX-License-Identifier: MIT */
/*
 * up.h - `kiln up`: start the master and this machine's workers as child
 * processes in the foreground, like docker-compose up, and stop them all
 * on SIGINT/SIGTERM.  A node that dies is restarted after a backoff,
 * the master too (the workers keep their tasks and retry the master
 * meanwhile); the restarts are logged and counted in DATA_DIR/restarts
 * (restarts.h), which the master's /metrics shows as
 * kiln_node_restarts_total.  A node that dies 5 times within 60 s is
 * given up on; if it is the master, the workers are stopped too and
 * `kiln up` fails.
 */
#ifndef KILN_UP_H
#define KILN_UP_H

#include "config.h"

/* ARGV0 is the kiln binary as it was run (used if /proc/self/exe cannot
 * be read), CONFIG_PATH the file C came from.  Returns when every node
 * has stopped: 0, or negative with *err if the master was given up on. */
int up_run(const char *argv0, const char *config_path,
           const struct kiln_config *c, char **err);

#endif
