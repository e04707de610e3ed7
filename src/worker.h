/* SPDX-License-Identifier: MIT */
/*
 * worker.h - a worker node: registers with the master, pulls tasks in
 * batches, runs them on its slot threads, and reports results until told
 * to stop.
 */
#ifndef KILN_WORKER_H
#define KILN_WORKER_H

#include "config.h"

/* Run worker W of cluster C until SIGINT/SIGTERM.  0 on clean exit. */
int worker_run(const struct kiln_config *c, const struct kiln_worker_conf *w,
               char **err);

#endif
