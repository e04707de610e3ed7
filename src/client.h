/* SPDX-License-Identifier: MIT */
/*
 * client.h - an HTTP client for the master's API, shared by the worker
 * and the CLI: HTTP/1.1 of our own over one kept-alive socket, in TLS
 * for an https:// master (whose certificate is checked).  Requests are
 * signed with the cluster secret (Kiln-HMAC, see auth.h) when one is
 * given, else carry a Bearer token.  A client with the secret takes only
 * replies the master signed over its request's nonce (X-Kiln-Signature);
 * it refuses any other with -EACCES and "reply from master at URL is not
 * signed by the cluster secret: refusing it", except an unsigned 401,
 * 403, 413, 500 or 503 (a request the master refused before it knew the
 * signer): that comes back as {"error": MESSAGE " (unsigned reply)",
 * "status": N}, with nothing else of the body.
 */
#ifndef KILN_CLIENT_H
#define KILN_CLIENT_H

#include <stdint.h>
#include <jansson.h>

typedef struct client client;

/* BASE_URL like "http://127.0.0.1:8080".  ID names the caller in signed
 * requests.  SECRET or TOKEN may be NULL.  Strings are copied.  With a
 * secret, the client picks the random session of its nonces. */
int client_new(const char *base_url, const char *id, const char *secret,
               const char *token, client **out, char **err);
void client_free(client *c);

/* Which certificates an https client accepts from the master: the PEM
 * bundle CA_FILE if not NULL; else the cluster CA derived from CA_SECRET
 * (cert.h) if not NULL; else the system's trust store.  By default, the
 * cluster CA of the secret the client was made with.  Call before the
 * first request. */
void client_set_ca(client *c, const char *ca_file, const char *ca_secret);

/* Send header NAME: VALUE (copied) with every request from now on, in
 * place of the one set before; NULL NAME or VALUE: none.  -EINVAL if
 * either holds a line break (or NAME a ':').  The CLI sets a submission's
 * Idempotency-Key so. */
int client_set_header(client *c, const char *name, const char *value);
/* One more header NAME: VALUE beside those set before (alert.c's
 * webhook signature and timestamp); -EINVAL as above. */
int client_add_header(client *c, const char *name, const char *value);

/* METHOD PATH (e.g. "/api/v1/jobs?limit=5") with BODY (borrowed; NULL for
 * none).  On a completed exchange returns 0 with the HTTP *status and the
 * parsed *reply (NULL if the reply was not JSON; caller json_decref()s).
 * Returns negative with *err if the master could not be reached, or
 * -EACCES if its reply was refused (see above). */
int client_request(client *c, const char *method, const char *path,
                   json_t *body, long timeout_ms, long *status,
                   json_t **reply, char **err);

/* As client_request, but the reply body is handed back as it came, for
 * replies that are not JSON (a job's log is text/plain): *text is
 * malloc()ed and NUL-terminated (the caller frees it), *len its length.
 * Bodies over 64 MiB are refused with an error. */
int client_request_raw(client *c, const char *method, const char *path,
                       json_t *body, long timeout_ms, long *status,
                       char **text, size_t *len, char **err);

/* METHOD PATH with LEN raw bytes at DATA as the body (artifacts); the
 * reply body is handed back raw in *text (malloc()ed) and *tlen. */
int client_send_bytes(client *c, const char *method, const char *path,
                      const void *data, size_t len, long timeout_ms,
                      long *status, char **text, size_t *tlen, char **err);

/* As client_send_bytes, with the LEN bytes of file FD (from offset 0,
 * read with pread: FD's offset is left alone) as the body, sent in pieces
 * through a fixed buffer: never whole in memory.  SHA is their SHA-256
 * (64 lowercase hex digits), which the signature covers in place of
 * hashing the file again; the master stores an artifact only if the bytes
 * it got hash to it.  FD stays the caller's. */
int client_send_file(client *c, const char *method, const char *path, int fd,
                     uint64_t len, const char *sha, long timeout_ms,
                     long *status, char **text, size_t *tlen, char **err);


/* Takes the next LEN bytes of a streamed reply body: 0, or a negative
 * errno that stops the transfer (client_get_stream returns it). */
typedef int (*client_sink)(void *ud, const void *data, size_t len);

/* GET PATH for a body that may be large (an artifact): a 2xx reply's body
 * is handed to SINK in pieces as it arrives, never whole in memory, and a
 * body over MAX bytes is refused (-EFBIG) before any of it is taken.  (A
 * reply without a Content-Length is received whole within the 64 MiB of
 * client_request_raw, then handed over.)  Any other
 * status's body comes back in *text and *tlen as client_send_bytes gives
 * it.  0 with *status, or negative with *err.  A streamed body is hashed
 * on its way to SINK and its reply's signature checked at the end: on
 * -EACCES the caller must throw away what SINK took (a body received
 * whole is checked before SINK sees any of it). */
int client_get_stream(client *c, const char *path, long timeout_ms,
                      uint64_t max, client_sink sink, void *ud, long *status,
                      char **text, size_t *tlen, char **err);
#endif
