/* SPDX-License-Identifier: MIT */
/*
 * up.h - `kiln up`: start the master and this machine's workers as child
 * processes in the foreground, like docker-compose up, and stop them all
 * on SIGINT/SIGTERM.  If the master exits (it cannot listen, it was
 * killed), the workers are stopped too and `kiln up` fails: run it again,
 * and the master carries on from its store.
 */
#ifndef KILN_UP_H
#define KILN_UP_H

#include "config.h"

/* ARGV0 is the kiln binary as it was run (used if /proc/self/exe cannot
 * be read), CONFIG_PATH the file C came from.  Returns when every node
 * has stopped: 0, or negative with *err if the master failed. */
int up_run(const char *argv0, const char *config_path,
           const struct kiln_config *c, char **err);

#endif
