/* SPDX-License-Identifier: MIT */
/*
 * gzip.c - gzip for HTTP replies (see gzip.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "gzip.h"
#include "xalloc.h"

/* One coding of an Accept-Encoding list, "gzip;q=0.5": does it name
 * gzip with a q above 0? */
static int
coding_accepts(const char *s, size_t n)
{
	size_t name = 0;
	while (name < n && s[name] != ';' && s[name] != ' ' && s[name] != '\t')
		name++;
	if (!((name == 4 && strncasecmp(s, "gzip", 4) == 0) ||
	      (name == 6 && strncasecmp(s, "x-gzip", 6) == 0) ||
	      (name == 1 && s[0] == '*')))
		return 0;
	const char *q = NULL;
	for (size_t i = name; i + 1 < n; i++)
		if ((s[i] == 'q' || s[i] == 'Q') && s[i + 1] == '=') {
			q = s + i + 2;
			break;
		}
	/* q=0, q=0.0, q=0.000: refused; anything else is a yes. */
	if (q == NULL || *q != '0')
		return 1;
	for (q++; q < s + n && (*q == '.' || *q == '0'); q++)
		;
	return q < s + n && *q >= '1' && *q <= '9';
}

int
gzip_accepted(const char *ae)
{
	while (ae != NULL && *ae != '\0') {
		ae += strspn(ae, " \t,");
		size_t n = strcspn(ae, ",");
		if (n > 0 && coding_accepts(ae, n))
			return 1;
		ae += n;
	}
	return 0;
}

int
gzip_compress(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	*out = NULL;
	*outlen = 0;
	/* 15 + 16: a gzip wrapper rather than zlib's; level 6, zlib's
	 * default, is most of the gain for little CPU on JSON. */
	if (len > UINT32_MAX)
		return -EIO;
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t cap = deflateBound(&z, (uLong)len);
	unsigned char *buf = xmalloc(cap);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*outlen = n;
	return 0;
}
