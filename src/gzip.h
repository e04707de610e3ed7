/* SPDX-License-Identifier: MIT */
/*
 * gzip.h - gzip for HTTP replies (zlib): libmicrohttpd sends bodies as
 * given, so the master compresses large JSON replies itself when the
 * client says it accepts gzip.
 */
#ifndef KILN_GZIP_H
#define KILN_GZIP_H

#include <stddef.h>

/* Replies shorter than this go out as they are: gzip's header and the
 * CPU would cost more than they save. */
#define GZIP_MIN 1024

/* Does an Accept-Encoding header value (NULL: none) accept gzip?  A
 * "gzip" (or "x-gzip", or "*") token whose q is not 0. */
int gzip_accepted(const char *accept_encoding);

/* LEN bytes at IN as a gzip stream in *OUT (malloc()ed, the caller's),
 * *OUTLEN bytes; 0, or -ENOMEM/-EIO (nothing to free then). */
int gzip_compress(const void *in, size_t len, unsigned char **out,
                  size_t *outlen);

#endif
