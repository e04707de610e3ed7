/* SPDX-License-Identifier: MIT */
/*
 * hash.h - SHA-256 as lowercase hex, and random hex strings (libsodium).
 *
 * Artifacts are named by the SHA-256 of their bytes, API tokens are kept
 * as their SHA-256, and session ids, tokens and generated passwords are
 * random hex.  Every string returned here is malloc()ed; the caller frees.
 */
#ifndef KILN_HASH_H
#define KILN_HASH_H

#include <stddef.h>

/* Length of a SHA-256 in hex, without the NUL. */
#define HASH_HEX_LEN 64

/* SHA-256 of LEN bytes at DATA as 64 hex chars, malloc()ed. */
char *hash_hex(const void *data, size_t len);
/* Is S such a hash: 64 lowercase hex chars?  (Artifacts are named so.) */
int hash_is_hex(const char *s);

/* SHA-256 of bytes that come in pieces (a download): new, add each piece,
 * then hash_stream_hex() returns the 64 hex chars (malloc()ed) and frees
 * the stream. */
typedef struct hash_stream hash_stream;
hash_stream *hash_stream_new(void);
void hash_stream_add(hash_stream *h, const void *data, size_t len);
char *hash_stream_hex(hash_stream *h);

/* A random hex string of 2*NBYTES characters, malloc()ed.  Aborts if the
 * system has no random source: secrets from a broken one would be worse. */
char *hash_random_hex(size_t nbytes);

#endif
