/* SPDX-License-Identifier: MIT */
/*
 * master.h - the master node: opens the store, recovers the queue, serves
 * the API, and reaps dead workers until told to stop.
 */
#ifndef KILN_MASTER_H
#define KILN_MASTER_H

#include "config.h"

/* Run the master of C until SIGINT/SIGTERM.  0 on clean exit. */
int master_run(const struct kiln_config *c, char **err);

#endif
