/* SPDX-License-Identifier: MIT */
/*
 * artifact.h - the master's content-addressed artifact store: the files
 * that tasks produce and read, each named by the SHA-256 of its bytes (64
 * lowercase hex digits) and kept as DIR/AB/SHA, where AB are the name's
 * first two digits (so that no directory grows too large) and DIR is
 * <data_dir>/artifacts.  Workers put and get them over HTTP (src/api.c
 * only translates); nothing here knows about HTTP or the store.
 *
 * An artifact is written once, whole or not at all: its bytes go into a
 * mkstemp() temporary beside their place, their hash is checked against
 * the name, and the temporary is renamed into place.  A put whose bytes
 * hash to another name fails and leaves nothing behind.  Putting a name
 * that is already stored checks the bytes and keeps the file.  Safe from
 * several threads: two puts of one name both end with the same file.
 *
 * Errors: 0 or a negative errno, with a malloc()ed message in *err that
 * the caller frees.
 */
#ifndef KILN_ARTIFACT_H
#define KILN_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

/* A put in progress: bytes streamed in pieces. */
typedef struct artifact_writer artifact_writer;

/* Start putting artifact SHA under DIR (DIR and DIR/AB are made, mode
 * 0700, if missing).  -EINVAL if SHA is not an artifact name. */
int artifact_begin(const char *dir, const char *sha, artifact_writer **out,
                   char **err);
/* Append LEN bytes at DATA.  On failure W stays valid (abort it). */
int artifact_write(artifact_writer *w, const void *data, size_t len,
                   char **err);
/* Check that the bytes hash to the name and move them into place, durable
 * (fsync) before it returns.  -EINVAL if they hash to something else.
 * Frees W and leaves no temporary behind, whatever it returns. */
int artifact_commit(artifact_writer *w, char **err);
/* Drop a put: the temporary is removed and W freed.  W may be NULL. */
void artifact_abort(artifact_writer *w);

/* A whole put of LEN bytes at DATA: begin, write, commit. */
int artifact_put(const char *dir, const char *sha, const void *data,
                 size_t len, char **err);

/* Open artifact SHA for reading: *fd (the caller closes it) and its
 * *size.  -ENOENT if it is not stored, -EINVAL if SHA is not a name. */
int artifact_open(const char *dir, const char *sha, int *fd, uint64_t *size,
                  char **err);
/* The size of artifact SHA; -ENOENT if it is not stored. */
int artifact_stat(const char *dir, const char *sha, uint64_t *size,
                  char **err);

/* Is there room under DIR (made if missing) for an artifact of LEN
 * bytes?  0, or -ENOSPC with a message naming both sizes: the free space
 * an unprivileged writer sees must hold LEN.  (No more is kept spare: the
 * store copes with a full disk by itself, store.h, and a disk that fills
 * during the upload fails it then.) */
int artifact_room(const char *dir, uint64_t len, char **err);

/* Delete artifact SHA (retention, once the store no longer records it);
 * 0 also if it was not stored. */
int artifact_remove(const char *dir, const char *sha, char **err);

#endif
