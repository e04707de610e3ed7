/* SPDX-License-Identifier: MIT */
/*
 * tls.h - TLS client sessions (GnuTLS) over a connected non-blocking
 * socket, for client.c: what to trust, the handshake that checks the
 * master's certificate and name, and record I/O.
 *
 * Nothing here waits.  A call that would block returns -EAGAIN; the
 * caller polls the socket for tls_wants() and calls again, under its own
 * deadline.
 */
#ifndef KILN_TLS_H
#define KILN_TLS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct tls_trust tls_trust;
typedef struct tls_conn tls_conn;

/*
 * What a client trusts: the PEM certificates CA_PEM (the cluster CA) if
 * not NULL, else the PEM bundle in the file CA_FILE if not NULL, else the
 * system's trust store.  0 with *out, or negative with *err.  Shared by
 * any number of connections; freed after the last of them.
 */
int tls_trust_new(const char *ca_pem, const char *ca_file, tls_trust **out,
                  char **err);
void tls_trust_free(tls_trust *t);

/* A session over FD for HOST, whose certificate must name it.  0 with
 * *out, or negative with *err.  FD stays the caller's. */
int tls_conn_new(tls_trust *t, int fd, const char *host, tls_conn **out,
                 char **err);
/* The handshake, certificate check included: 0 when done, -EAGAIN to
 * call again once the socket is ready for tls_wants(), -EACCES if the
 * master could not prove itself, or another negative errno; with
 * tls_why() saying why. */
int tls_handshake(tls_conn *c);
/* Send up to LEN bytes: the number sent, -EAGAIN, or negative. */
ssize_t tls_send(tls_conn *c, const void *buf, size_t len);
/* Receive up to LEN bytes: the number received, 0 at the end of the
 * stream (the master closed), -EAGAIN, or negative. */
ssize_t tls_recv(tls_conn *c, void *buf, size_t len);
/* POLLIN or POLLOUT: what the last call that returned -EAGAIN waits for. */
short tls_wants(const tls_conn *c);
/* Why the last call failed, in words for a message. */
const char *tls_why(const tls_conn *c);
void tls_conn_free(tls_conn *c);

#endif
