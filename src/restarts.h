/* SPDX-License-Identifier: MIT */
/*
 * restarts.h - how often a supervisor restarted each node, for /metrics.
 * `kiln up` (up.c) restarts nodes that die, the master among them, so the
 * count cannot live in the master's memory: the supervisor keeps it in a
 * small file in the master's data directory, DATA_DIR/restarts, and the
 * master reads it when /metrics is scraped.  Without a supervisor that
 * writes it (systemd restarts nodes too, and counts them itself: `systemctl
 * show -p NRestarts`) there is no file and no series.
 */
#ifndef KILN_RESTARTS_H
#define KILN_RESTARTS_H

#include <stddef.h>

#include "metrics.h"

/* Replace DATA_DIR/restarts by the N counts of NODES (atomically).
 * 0 or negative with *err. */
int restarts_write(const char *data_dir,
                   const struct metrics_node_restarts *nodes, size_t n,
                   char **err);

/* The counts in DATA_DIR/restarts: *OUT is a malloc()ed array of *N
 * entries whose names are malloc()ed too; free it with restarts_free().
 * No file is 0 entries.  0, or negative with *err if the file is bad. */
int restarts_read(const char *data_dir, struct metrics_node_restarts **out,
                  size_t *n, char **err);

void restarts_free(struct metrics_node_restarts *a, size_t n);

#endif
