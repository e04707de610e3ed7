/* SPDX-License-Identifier: MIT */
/*
 * dataroot.h - the directories a worker's tasks may read files from.
 *
 * A path a user gives a task (readfile's `path`, csvstats's `file`) is
 * opened by the worker, not by the plugin: dataroot_open() makes it
 * canonical, refuses it unless it lies under one of the worker's read
 * roots, refuses what is never readable whatever the roots (the cluster
 * secret, the master's store and keys, the worker's own cache), refuses
 * anything but a regular file and anything larger than a cap, and hands
 * back an open file descriptor, so that what was checked is what is read.
 * host->open_data() (task.c) is its face in the plugin ABI.
 *
 * A dataroot is built once per worker (dataroot_for_worker) and read-only
 * afterwards: several task threads may call dataroot_open() at once.
 */
#ifndef KILN_DATAROOT_H
#define KILN_DATAROOT_H

#include <stdint.h>

#include "config.h"

typedef struct dataroot dataroot;

/* An empty set of roots (every path refused) for the node named WHO (a
 * worker's name, for messages), with the default size cap
 * (KILN_MAX_FILE_SIZE_DEFAULT).  Free with
 * dataroot_free(). */
dataroot *dataroot_new(const char *who);
void dataroot_free(dataroot *d);

/* Allow what lies under directory DIR.  SETTING names the cluster.yaml key
 * it comes from ("data.read_roots"), for messages.  DIR need not exist yet:
 * roots are resolved (realpath) at each open.  Both strings are copied. */
void dataroot_add(dataroot *d, const char *dir, const char *setting);

/* Never open PATH, a file or a directory and all below it, whatever the
 * roots; WHAT says what it is ("the cluster secret
 * (master.auth.secret_file)").  A file is also recognised by its inode,
 * so a hard link to it inside a root is refused too.  Copied. */
void dataroot_deny(dataroot *d, const char *path, const char *what);

/* Refuse files larger than MAX bytes (> 0); SETTING names its key. */
void dataroot_set_max(dataroot *d, int64_t max, const char *setting);

/*
 * The roots of worker WC of cluster C: its data_dir, master.dags_dir,
 * data.read_roots and the worker's own read_roots; the size cap from
 * workers[].max_file_size, else data.max_file_size; and, denied: the
 * cluster secret, the cluster.yaml file, the master's data_dir (kiln.db,
 * artifacts, TLS keys) and TLS key file, and every worker's cache,
 * plugin-cache, scratch and tls directories.  Files named kiln.db* or
 * cluster.secret are refused wherever they are.
 */
dataroot *dataroot_for_worker(const struct kiln_config *c,
                              const struct kiln_worker_conf *wc);

/* One line for the log: each root (and whether it exists) and the cap;
 * malloc()ed. */
char *dataroot_describe(const dataroot *d);

/*
 * Open PATH (absolute, or relative to the working directory) for reading
 * if D allows it.  FLAGS must be 0 (none are defined yet).  Returns a file
 * descriptor (O_RDONLY | O_CLOEXEC; the caller closes it) with the file's
 * size in *SIZE, or a negative error with *err (malloc()ed, naming PATH
 * and, for a refusal, the setting that decides):
 *   -EPERM   outside every root, or never readable;
 *   -EINVAL  not a regular file (a directory, FIFO, device, socket), an
 *            unknown flag, or the path changed while it was being opened;
 *   -EFBIG   larger than the cap;
 *   other    what the file system said (-ENOENT, -EACCES, ...).
 * PATH is resolved with realpath(3); the canonical path is then opened
 * without following any symlink (openat2 RESOLVE_NO_SYMLINKS where the
 * kernel has it, else O_NOFOLLOW and a check through /proc/self/fd), and
 * the descriptor must be the very file that was checked.
 */
int dataroot_open(const dataroot *d, const char *path, unsigned flags,
                  uint64_t *size, char **err);

#endif
