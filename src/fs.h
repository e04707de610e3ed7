/* SPDX-License-Identifier: MIT */
/*
 * fs.h - small file-system helpers shared by several modules.
 */
#ifndef KILN_FS_H
#define KILN_FS_H

#include <sys/types.h>

/* mkdir -p PATH: create PATH and every missing directory above it with
 * MODE (before the umask).  0, or negative with *err naming the directory
 * that could not be made, or PATH if it exists but is not a directory. */
int fs_mkdir_p(const char *path, mode_t mode, char **err);

/* fs_mkdir_p() of the directory that holds PATH (mkdir -p "$(dirname
 * PATH)"); 0 at once if PATH has no directory part. */
int fs_mkdir_parents(const char *path, mode_t mode, char **err);

#endif
