/* SPDX-License-Identifier: MIT */
/*
 * hash.c - SHA-256 hex digests and random hex (see hash.h), on libsodium,
 * and on the CPU's SHA extensions where it has them (sha256ni.c: every
 * artifact is hashed where it is written and where it is stored, and
 * libsodium's portable SHA-256 ran at a fifth of their speed).
 * Kept apart from auth.c so that modules that only name bytes (the disk
 * cache, workers, artifacts) do not depend on request signing.
 */
#include <stdlib.h>

#include <sodium.h>

#include "hash.h"
#include "log.h"
#include "sha256ni.h"
#include "xalloc.h"

/* libsodium's SHA-256 length must match what hash.h promises. */
_Static_assert(HASH_HEX_LEN == 2 * crypto_hash_sha256_BYTES,
               "HASH_HEX_LEN is not a SHA-256 in hex");

/* Hex of the digest D into a new string. */
static char *
hash_digest_hex(const unsigned char d[crypto_hash_sha256_BYTES])
{
	char *hex = xmalloc(HASH_HEX_LEN + 1);

	sodium_bin2hex(hex, HASH_HEX_LEN + 1, d, crypto_hash_sha256_BYTES);
	return hex;
}

/* Use the SHA extensions?  Decided once; -1 until then.  A race only
 * makes two threads ask the CPU the same question. */
static int hash_ni = -1;

static int
hash_use_ni(void)
{
	if (hash_ni < 0)
		hash_ni = sha256ni_usable();
	return hash_ni;
}

char *
hash_hex(const void *data, size_t len)
{
	unsigned char d[crypto_hash_sha256_BYTES];

	if (hash_use_ni()) {
		struct sha256ni c;
		sha256ni_init(&c);
		sha256ni_add(&c, data, len);
		sha256ni_final(&c, d);
	} else {
		crypto_hash_sha256(d, data, len);
	}
	char *hex = hash_digest_hex(d);
	sodium_memzero(d, sizeof d);
	return hex;
}

int
hash_is_hex(const char *s)
{
	size_t i;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == HASH_HEX_LEN;
}

struct hash_stream {
	int ni;                         /* which of the two below */
	crypto_hash_sha256_state st;
	struct sha256ni c;
};

hash_stream *
hash_stream_new(void)
{
	hash_stream *h = xmalloc(sizeof *h);
	h->ni = hash_use_ni();
	if (h->ni)
		sha256ni_init(&h->c);
	else
		crypto_hash_sha256_init(&h->st);
	return h;
}

void
hash_stream_add(hash_stream *h, const void *data, size_t len)
{
	if (h->ni)
		sha256ni_add(&h->c, data, len);
	else
		crypto_hash_sha256_update(&h->st, data, len);
}

char *
hash_stream_hex(hash_stream *h)
{
	unsigned char d[crypto_hash_sha256_BYTES];

	if (h->ni)
		sha256ni_final(&h->c, d);
	else
		crypto_hash_sha256_final(&h->st, d);
	free(h);
	return hash_digest_hex(d);
}

char *
hash_random_hex(size_t nbytes)
{
	unsigned char *buf = xmalloc(nbytes);
	char *hex = xmalloc(2 * nbytes + 1);

	/* Cheap when already initialised; makes the random source safe to
	 * use before anyone called auth_init().  Tokens and secrets from a
	 * broken random source would be worse than no process at all. */
	if (sodium_init() < 0) {
		log_error("libsodium cannot be initialised: no random source");
		abort();
	}
	randombytes_buf(buf, nbytes);
	sodium_bin2hex(hex, 2 * nbytes + 1, buf, nbytes);
	sodium_memzero(buf, nbytes);
	free(buf);
	return hex;
}
