/* SPDX-License-Identifier: MIT */
/*
 * http_reply-fuzz.c - libFuzzer target: the HTTP/1.1 reply parser of the
 * client (src/client.c, through client_int.h), as plain_read_head() and
 * plain_body_chunked() drive it on bytes from the master: interim 1xx
 * replies skipped, the head of the final one parsed, and a chunked body
 * decoded as it arrives, the bytes coming in two parts split where the
 * input's first byte says, so that "need more" is reached at any point.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "fuzz.h"

/* The chunked body in IN[0..LEN) (IN[LEN] == '\0'), received as far as
 * SPLIT and then whole. */
static void
body(char *in, size_t len, size_t split)
{
	struct client_int_body out = { 0 };
	size_t off = 0;
	int rc = 0;

	/* What came first: IN up to SPLIT, NUL-terminated as received. */
	char saved = in[split];
	in[split] = '\0';
	rc = client_int_dechunk(in, split, &off, &out);
	in[split] = saved;
	FZ_CHECK(rc == 0 || rc == 1 || rc == -EPROTO || rc == -EFBIG);
	FZ_CHECK(off <= split);
	if (rc == 0) {
		rc = client_int_dechunk(in, len, &off, &out);
		FZ_CHECK(rc == 0 || rc == 1 || rc == -EPROTO || rc == -EFBIG);
		FZ_CHECK(off <= len);
	}
	FZ_CHECK(out.len <= len);
	FZ_CHECK(out.data == NULL || (out.len < out.cap &&
	                              out.data[out.len] == '\0'));
	free(out.data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 17)
		return 0;
	size_t at = data[0];
	char *buf = fz_str(data + 1, size - 1);
	size_t len = size - 1;

	for (;;) {
		/* The head is what precedes the first empty line. */
		char *eoh = memmem(buf, len, "\r\n\r\n", 4);
		if (eoh == NULL)
			break;
		size_t hlen = (size_t)(eoh - buf) + 4;
		struct client_int_head h;
		if (client_int_parse_head(buf, hlen, &h) != 0)
			break;
		FZ_CHECK(h.status >= 100 && h.status <= 999);
		FZ_CHECK(h.length >= -1);
		if (h.status < 200) {
			memmove(buf, buf + hlen, len - hlen + 1);
			len -= hlen;
			continue;
		}
		if (h.chunked) {
			size_t blen = len - hlen;
			body(buf + hlen, blen, at % (blen + 1));
		}
		break;
	}
	free(buf);
	return 0;
}
