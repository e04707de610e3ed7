/* SPDX-License-Identifier: MIT */
/*
 * sha256ni.h - SHA-256 on the x86 SHA extensions (SHA-NI), for hash.c:
 * about five times libsodium's portable code, which hashed every artifact
 * (partitions of hundreds of MiB) on the worker that wrote it and again
 * on the master that stored it.  hash.c uses it where the CPU has the
 * instructions (sha256ni_usable()) and libsodium elsewhere.
 */
#ifndef KILN_SHA256NI_H
#define KILN_SHA256NI_H

#include <stddef.h>
#include <stdint.h>

struct sha256ni {
	uint32_t state[8];
	unsigned char buf[64];
	size_t nbuf;            /* bytes in buf, < 64 */
	uint64_t total;         /* bytes added */
};

/* Non-zero if this CPU runs the SHA extensions (and the build has them). */
int sha256ni_usable(void);
/* Only where sha256ni_usable(): start, add LEN bytes, and the digest. */
void sha256ni_init(struct sha256ni *c);
void sha256ni_add(struct sha256ni *c, const void *data, size_t len);
void sha256ni_final(struct sha256ni *c, unsigned char digest[32]);

#endif
