/* SPDX-License-Identifier: MIT */
/*
 * proto-fuzz.c - libFuzzer target: the worker protocol's JSON bodies as
 * the master decodes a worker's (register, exchange, leave, stages; parsed
 * as api_body_object() parses a request body) and as a worker decodes the
 * master's replies (parsed as client_request() parses a reply), and the
 * file lists stored with jobs.  The first byte picks the message, the rest
 * is the body.  A body that decodes is encoded again, and that must decode
 * to the same encoding: what a node accepts it can also send.  An
 * exchange is also read from its text, as the master reads it, and must
 * read the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "proto.h"

/* Decode J as message TYPE; on success encode it again.  Each message
 * type in one line: its struct, its encoder and its decoder. */
#define ROUND(type, j, err, out) do {                                     \
	struct proto_##type m = { 0 };                                    \
	int rc_ = proto_##type##_decode(j, &m, err);                      \
	FZ_CHECK((rc_ == 0) == (*(err) == NULL));                         \
	FZ_CHECK(rc_ != 0 || m.own.json == (j));                          \
	if (rc_ == 0) {                                                   \
		*(out) = proto_##type##_encode(&m);                       \
		proto_release(&m.own);                                    \
	}                                                                 \
} while (0)

/* The exchange reply is encoded as text: that text must parse. */
static json_t *
proto_exchange_reply_encode(const struct proto_exchange_reply *m)
{
	size_t len;
	char *text = proto_exchange_reply_text(m, &len);
	json_t *j = json_loadb(text, len, 0, NULL);
	if (j == NULL)
		fprintf(stderr, "the reply's text is not JSON: %s\n", text);
	FZ_CHECK(j != NULL);
	free(text);
	return j;
}

static json_t *
round_trip(int type, json_t *j, char **err)
{
	json_t *out = NULL;

	switch (type) {
	case 0: ROUND(register, j, err, &out); break;
	case 1: ROUND(exchange, j, err, &out); break;
	case 2: ROUND(leave, j, err, &out); break;
	case 3: ROUND(stage, j, err, &out); break;
	case 4: ROUND(register_reply, j, err, &out); break;
	case 5: ROUND(exchange_reply, j, err, &out); break;
	default: ROUND(stage_reply, j, err, &out); break;
	}
	return out;
}

/* The master reads an exchange from its text (proto_exchange_parse()),
 * not through a jansson tree: both must refuse the same bodies and read
 * the others as the same message. */
static void
exchange_both(const uint8_t *data, size_t size)
{
	struct proto_exchange t, g;
	char *terr = NULL, *gerr = NULL;
	int trc = proto_exchange_parse((const char *)data, size, &t, &terr);
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	int grc = json_is_object(j) ? proto_exchange_decode(j, &g, &gerr) : -1;
	json_decref(j);
	/* jansson passes over a NUL byte after a number; the text reader
	 * refuses every NUL byte (jtext.h). */
	if (trc != 0 && grc == 0 && memchr(data, '\0', size) != NULL) {
		proto_release(&g.own);
		free(terr);
		return;
	}
	if ((trc == 0) != (grc == 0)) {
		fprintf(stderr, "text: %s; tree: %s\n", trc ? terr : "read",
		        grc ? (gerr ? gerr : "not a JSON object") : "read");
		FZ_CHECK(!"the two exchange readers agree");
	}
	FZ_CHECK((trc == 0) == (terr == NULL));
	if (trc == 0) {
		json_t *a = proto_exchange_encode(&t);
		json_t *b = proto_exchange_encode(&g);
		FZ_CHECK(a != NULL && b != NULL && json_equal(a, b));
		json_decref(a);
		json_decref(b);
		proto_release(&t.own);
		proto_release(&g.own);
	}
	free(terr);
	free(gerr);
}

/* A worker reads the exchange's reply from its text too: the same. */
static void
reply_both(const uint8_t *data, size_t size)
{
	struct proto_exchange_reply t, g;
	char *terr = NULL, *gerr = NULL;
	int trc = proto_exchange_reply_parse((const char *)data, size, &t, &terr);
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	int grc = json_is_object(j) ? proto_exchange_reply_decode(j, &g, &gerr) : -1;
	json_decref(j);
	if (trc != 0 && grc == 0 && memchr(data, '\0', size) != NULL) {
		proto_release(&g.own);
		free(terr);
		return;
	}
	if ((trc == 0) != (grc == 0)) {
		fprintf(stderr, "text: %s; tree: %s\n", trc ? terr : "read",
		        grc ? (gerr ? gerr : "not a JSON object") : "read");
		FZ_CHECK(!"the two reply readers agree");
	}
	if (trc == 0) {
		json_t *a = proto_exchange_reply_encode(&t);
		json_t *b = proto_exchange_reply_encode(&g);
		FZ_CHECK(json_equal(a, b));
		json_decref(a);
		json_decref(b);
		proto_release(&t.own);
		proto_release(&g.own);
	}
	free(terr);
	free(gerr);
}

static void
fuzz_files(const uint8_t *data, size_t size)
{
	char *text = fz_str(data, size);
	struct proto_file *files = NULL;
	struct proto_own own = { 0 };
	size_t n = 0;
	char *err = NULL;

	if (proto_files_parse(text, &files, &n, &own, &err) == 0) {
		FZ_CHECK(err == NULL);
		struct proto_file *dup = proto_files_dup(files, n);
		json_t *j = proto_files_json(dup, n);
		FZ_CHECK(json_array_size(j) == n);
		json_decref(j);
		free(dup);
	} else {
		FZ_CHECK(err != NULL);
		free(err);
	}
	proto_release(&own);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	int type = data[0] % 8;
	if (type == 7) {
		fuzz_files(data + 1, size - 1);
		return 0;
	}
	if (type == 1)
		exchange_both(data + 1, size - 1);
	if (type == 5)
		reply_both(data + 1, size - 1);
	/* A request body must be an object (api_body_object()); a reply is
	 * read as any JSON value (client_request()). */
	json_t *j = json_loadb((const char *)data + 1, size - 1,
	                       type <= 3 ? 0 : JSON_DECODE_ANY, NULL);
	if (j == NULL || (type <= 3 && !json_is_object(j))) {
		json_decref(j);
		return 0;
	}
	char *err = NULL;
	json_t *once = round_trip(type, j, &err);
	json_decref(j);
	if (once == NULL) {
		free(err);
		return 0;
	}
	json_t *twice = round_trip(type, once, &err);
	if (twice == NULL) {
		char *s = json_dumps(once, JSON_COMPACT);
		fprintf(stderr, "its own encoding does not decode: %s\n%s\n",
		        err, s);
		FZ_CHECK(!"an encoded message decodes");
	}
	FZ_CHECK(json_equal(once, twice));
	json_decref(once);
	json_decref(twice);
	return 0;
}
