/* SPDX-License-Identifier: MIT */
/*
 * cert.h - the cluster's certificates: a CA derived from the cluster
 * secret, and the master's server certificate that it signs.
 *
 * The CA's private key is derived from the secret (HMAC-SHA-256 of it,
 * taken as an ECDSA P-256 scalar) and its certificate is signed
 * reproducibly with fixed fields, so every holder of the secret computes
 * the very same CA certificate.  The secret stays the one file to copy to
 * another machine, a worker checks the master's certificate without a
 * second file, and rotating the secret rotates the CA.  It gives nothing
 * away: whoever holds the secret can already sign requests and replies
 * as any node.
 *
 * The server key and certificate live in DATA_DIR/tls/ (server.key mode
 * 0600, server.crt) and are made on the master's first start, and made
 * again when the certificate nears its end, no longer matches the CA (the
 * secret changed) or lacks one of the names wanted.
 *
 * Every string returned is malloc()ed; the caller frees it.
 */
#ifndef KILN_CERT_H
#define KILN_CERT_H

#include <stddef.h>

/* Days a server certificate is valid, and how close to its end a start
 * makes a new one. */
#define CERT_SERVER_DAYS 365
#define CERT_RENEW_DAYS 30

/* The cluster CA certificate (PEM) for SECRET.  0 or negative with *err. */
int cert_ca_pem(const char *secret, char **pem, char **err);

/* The master's server certificate for NAMES[N] (host names and IP
 * addresses), from DIR (created 0700 if missing): loaded if still good,
 * else made; ROTATE makes a new key and certificate whatever.  *CHAIN is
 * the server certificate followed by the CA's (PEM), *KEY the private key
 * (PEM), *WHAT a few words on what was done ("loaded", "made: ...").
 * 0 or negative with *err. */
int cert_server(const char *dir, const char *secret,
                const char *const *names, size_t n, int rotate, char **chain,
                char **key, char **what, char **err);

/* A certificate (the first of PEM) in a few lines: subject, names, valid
 * until, SHA-256 fingerprint.  0 or negative with *err. */
int cert_describe(const char *pem, char **text, char **err);

#endif
