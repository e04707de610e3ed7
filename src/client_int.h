/* SPDX-License-Identifier: MIT */
/*
 * client_int.h - test hooks into client.c's HTTP/1.1 reply parser, for
 * tests/fuzz only: the status line and headers as plain_read_head() reads
 * them, and the chunked body as plain_body_chunked() decodes it, without a
 * socket.  Nothing else may call these.
 */
#ifndef KILN_CLIENT_INT_H
#define KILN_CLIENT_INT_H

#include <stddef.h>

/* What the head of a reply says (client.c's struct plain_reply). */
struct client_int_head {
	int status;
	int chunked;
	int close;
	long long length;       /* Content-Length, -1 if none */
};

/* Parse the head H: its first N bytes, status line to the empty line
 * ("\r\n\r\n") included, with H NUL-terminated somewhere at or after N
 * (as a received buffer is).  0, or -EPROTO. */
int client_int_parse_head(const char *h, size_t n, struct client_int_head *r);

/* A body being decoded: DATA (malloc()ed, NUL-terminated, CAP bytes
 * allocated; start with all zero) of LEN bytes; the caller frees DATA. */
struct client_int_body {
	char *data;
	size_t len, cap;
};

/* Decode the chunked body in IN (LEN bytes received so far, IN[LEN] ==
 * '\0') from offset *OFF into OUT.  1 when the last chunk is in, 0 if more
 * bytes are needed (call again with more), -EPROTO or -EFBIG. */
int client_int_dechunk(const char *in, size_t len, size_t *off,
                       struct client_int_body *out);

#endif
