/* SPDX-License-Identifier: MIT */
/*
 * backup.h - `kiln backup FILE` and `kiln restore FILE`: the master's
 * store and the artifacts it records, as one tar file.
 *
 * Both run on the master's machine against master.data_dir, not through
 * the API: the backup reads the database file with SQLite's online backup
 * API (one consistent snapshot while the master writes, store.h) and the
 * artifact files, which are immutable once in place; no route has to
 * stream gigabytes or be defended against doing so.  The tar holds
 * "kiln.db" and then "artifacts/AB/SHA" for every artifact the snapshot
 * records; the cluster secret and cluster.yaml are configuration, kept
 * apart.
 *
 * A restore needs the master stopped: the master holds an flock on
 * DATA_DIR/master.lock while it runs (backup_lock_data_dir), and restore
 * takes it too or refuses.  It replaces DATA_DIR/kiln.db (an existing one
 * is kept as kiln.db.replaced) and puts each artifact back through the
 * artifact store, which checks its bytes against its name.
 */
#ifndef KILN_BACKUP_H
#define KILN_BACKUP_H

#include "config.h"

/* What a backup or a restore carried, for its report. */
struct backup_stats {
	long long db_bytes;
	long long artifacts, artifact_bytes;
	long long missing;      /* recorded but gone (backup only) */
};

/* Write the backup of C's master to FILE (replaced atomically).  0 or
 * negative with *err. */
int backup_create(const struct kiln_config *c, const char *file,
                  struct backup_stats *st, char **err);

/* Put the backup FILE back into C's master.data_dir.  -EBUSY with *err if
 * the master is running; -EBADMSG if FILE is not a kiln backup. */
int backup_restore(const struct kiln_config *c, const char *file,
                   struct backup_stats *st, char **err);

/* Lock DATA_DIR (made if missing) for a master, or for a restore: *FD
 * holds the lock until closed.  -EBUSY with *err if it is held. */
int backup_lock_data_dir(const char *data_dir, int *fd, char **err);

#endif
