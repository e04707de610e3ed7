/* SPDX-License-Identifier: MIT */
/*
 * auth.h - who may talk to the master (libsodium).
 *
 * Workers and the CLI prove they know the cluster secret without sending
 * it: each request carries
 *     Authorization: Kiln-HMAC id=NAME,ts=UNIX_MS,sig=HEX
 * where sig = HMAC-SHA-256(key = SHA-256(secret),
 *                          METHOD "\n" PATH "\n" ts "\n" NAME "\n" SHA-256(body)).
 * The master accepts a timestamp within +-5 minutes.  Other API clients
 * send `Authorization: Bearer TOKEN`, a random token from `kiln token
 * create`, kept in the store only as its SHA-256.
 *
 * Hashing and random hex are in hash.h, clocks in clock.h.
 */
#ifndef KILN_AUTH_H
#define KILN_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_SKEW_MS (5 * 60 * 1000)

/* Initialise libsodium; 0 or negative. */
int auth_init(void);

/* The Authorization header value for a signed request; malloc()ed. */
char *auth_sign(const char *secret, const char *id, const char *method,
                const char *path, const void *body, size_t len,
                int64_t now_ms);

/* Verify HEADER against the secret.  0 and *id (malloc()ed) if it is a
 * valid Kiln-HMAC header, negative with *err otherwise. */
int auth_verify(const char *secret, const char *header, const char *method,
                const char *path, const void *body, size_t len,
                int64_t now_ms, char **id, char **err);

/* A new random token (64 hex chars) and its hash; both malloc()ed. */
void auth_token_new(char **token, char **hash_hex);
/* SHA-256 of TOKEN as 64 hex chars, malloc()ed. */
char *auth_token_hash(const char *token);

#endif
