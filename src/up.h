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

/* SELF is the path of the kiln binary, CONFIG_PATH the file C came from. */
int up_run(const char *self, const char *config_path,
           const struct kiln_config *c, char **err);

#endif
