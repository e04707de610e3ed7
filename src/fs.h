/* SPDX-License-Identifier: MIT */
/*
 * fs.h - small file-system helpers shared by several modules.
 */
#ifndef KILN_FS_H
#define KILN_FS_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p PATH: create PATH and every missing directory above it with
 * MODE (before the umask).  0, or negative with *err naming the directory
 * that could not be made, or PATH if it exists but is not a directory. */
int fs_mkdir_p(const char *path, mode_t mode, char **err);

/* fs_mkdir_p() of the directory that holds PATH (mkdir -p "$(dirname
 * PATH)"); 0 at once if PATH has no directory part. */
int fs_mkdir_parents(const char *path, mode_t mode, char **err);

/* Read the regular file PATH whole (at most MAX bytes) into *DATA,
 * malloc()ed and NUL-terminated, with its length in *LEN.  0, -ENOENT
 * (with *err) if it does not exist, or negative with *err. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len,
                 char **err);

/* Replace PATH by LEN bytes of DATA with MODE, atomically: a temporary
 * beside it, written, fsync()ed and renamed over it, so a crash leaves the
 * old file or the new, never a part.  0 or negative with *err. */
int fs_write_file(const char *path, const void *data, size_t len,
                  mode_t mode, char **err);

/* Take an exclusive lock (flock) on PATH, made if missing, for as long
 * as *FD stays open (close it to let go; it is not inherited by exec).
 * 0, -EBUSY (with *err) if another process holds it, or negative with
 * *err. */
int fs_lock(const char *path, int *fd, char **err);

/* Take from PATH's mode every permission bit that MODE lacks, never
 * adding one (chmod g-rwx,o-rwx for MODE 0700 or 0600): stores, secrets
 * and keys made by older versions, or under a looser umask, lose what
 * group and others could read.  Logs one line when it changes the mode.
 * RET 1 changed, 0 already as tight or absent, negative with *err (not
 * our file, chmod refused). */
int fs_tighten(const char *path, mode_t mode, char **err);

#endif
