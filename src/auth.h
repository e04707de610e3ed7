/* SPDX-License-Identifier: MIT */
/*
 * auth.h - who may talk to the master, and how a worker knows the master
 * answered (libsodium).
 *
 * Workers and the CLI prove they know the cluster secret without sending
 * it: each request carries
 *     Authorization: Kiln-HMAC id=NAME,ts=UNIX_MS,nonce=SESSION.COUNTER,sig=HEX
 * where sig = HMAC-SHA-256(key = SHA-256(secret),
 *                          METHOD "\n" HOST "\n" PATH "\n" ts "\n" nonce "\n"
 *                          NAME "\n" SHA-256(body))
 * with HOST the request's Host header (HOST[:PORT] as in the master's URL),
 * PATH the request target as sent (path and query) and SHA-256 in
 * lowercase hex.  The master accepts a timestamp within AUTH_SKEW_MS of
 * its clock, and each nonce once (replay.h): SESSION is 16 lowercase hex
 * digits that a client picks at random when it is made, COUNTER (decimal,
 * at most 19 digits) goes up by one with each request it signs.
 *
 * The master signs its reply to each request whose signature and nonce it
 * took, so that a worker obeys no one else:
 *     X-Kiln-Signature: HMAC-SHA-256(key, "reply" "\n" nonce "\n" STATUS "\n"
 *                                    SHA-256(body))
 * bound to the request's nonce, so that no earlier reply can stand in for
 * it.  A request's string has seven lines and a reply's four (no field
 * holds a newline), so neither can pass for the other.  The master cannot
 * sign a reply to a request it refused (a bad signature, a replayed nonce)
 * and does not: the client takes such an unsigned 4xx/5xx reply as an
 * error, never as data (client.c).
 *
 * Other API clients send `Authorization: Bearer TOKEN`, a random token
 * from `kiln token create`, kept in the store only as its SHA-256.
 *
 * Hashing and random hex are in hash.h, clocks in clock.h.
 */
#ifndef KILN_AUTH_H
#define KILN_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_SKEW_MS (5 * 60 * 1000)
#define AUTH_ID_MAX     64      /* a signer's name: [A-Za-z0-9_.-] */
#define AUTH_NONCE_MAX  36      /* 16 hex digits, '.', 19 digits */
#define AUTH_HOST_MAX   255     /* a Host header that is signed */
/* The reply's header, and the length of its value (a SHA-256 HMAC). */
#define AUTH_REPLY_HEADER "X-Kiln-Signature"
#define AUTH_REPLY_SIG_HEX 64

/* What a request's signature covers, besides who, when and the nonce.
 * All borrowed. */
struct auth_req {
	const char *method;     /* "GET", "POST", ... */
	const char *host;       /* the Host header; NULL as "" */
	const char *path;       /* the target as sent: path and query */
	const void *body;       /* NULL for none, the same as empty */
	size_t len;
	/* If not NULL, the body's SHA-256 (64 lowercase hex digits) in place
	 * of BODY and LEN: a body streamed from a file, or not yet in.  The
	 * master passes an artifact's name so, and checks at the end that
	 * the bytes hash to it (docs/security.md, "Streamed uploads"). */
	const char *body_sha;
};

/* A signature that verified: who, when, and its nonce. */
struct auth_signer {
	char id[AUTH_ID_MAX + 1];
	int64_t ts;
	uint64_t session, counter;
	char nonce[AUTH_NONCE_MAX + 1];    /* as sent, for the reply */
};

/* Initialise libsodium; 0 or negative. */
int auth_init(void);

/* A random session for a client's nonces. */
uint64_t auth_session_new(void);
/* The nonce SESSION.COUNTER into BUF. */
void auth_nonce(char buf[AUTH_NONCE_MAX + 1], uint64_t session,
                uint64_t counter);

/* The Authorization header value for request Q signed by ID at NOW_MS
 * with NONCE (from auth_nonce); malloc()ed. */
char *auth_sign(const char *secret, const char *id, const char *nonce,
                const struct auth_req *q, int64_t now_ms);

/* Verify HEADER for request Q against the secret: 0 with *who filled if
 * it is a valid Kiln-HMAC header, signed within AUTH_SKEW_MS of NOW_MS;
 * negative with *err otherwise.  The nonce is parsed, not remembered:
 * that is replay_check()'s. */
int auth_verify(const char *secret, const char *header,
                const struct auth_req *q, int64_t now_ms,
                struct auth_signer *who, char **err);

/* What can be checked of a Kiln-HMAC HEADER before the body it signs has
 * arrived: its syntax (id, nonce, sig), the Host header HOST and the
 * timestamp window at NOW_MS.  0, or negative with *err.  A request that
 * passes may send its body; auth_verify() still decides. */
int auth_precheck(const char *header, const char *host, int64_t now_ms,
                  char **err);

/* The X-Kiln-Signature value of a reply with STATUS and a body of
 * SHA-256 BODY_SHA (64 hex chars) to the request with NONCE; malloc()ed. */
char *auth_reply_sign(const char *secret, const char *nonce, int status,
                      const char *body_sha);
/* 0 if SIG (the header's value, NULL if none) is that signature, else
 * -EACCES. */
int auth_reply_verify(const char *secret, const char *sig, const char *nonce,
                      int status, const char *body_sha);

/* A new random token (64 hex chars) and its hash; both malloc()ed. */
void auth_token_new(char **token, char **hash_hex);
/* SHA-256 of TOKEN as 64 hex chars, malloc()ed. */
char *auth_token_hash(const char *token);

#endif
