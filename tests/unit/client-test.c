/* SPDX-License-Identifier: MIT */
/*
 * client-test.c - tests for the plain-HTTP transport of src/client.c
 * against a scripted server on an ephemeral port of 127.0.0.1: a thread
 * that reads each request whole and answers with canned bytes, so that
 * the client meets replies a well-behaved master never sends (chunked,
 * no length, interim 1xx, oversize, none at all) and connections that
 * close under it.  The server signs its replies over the request's nonce
 * as the master does (X-Kiln-Signature), or not, or wrongly, so that a
 * client with the secret is seen to take only its master's replies.  The
 * client as the worker and the CLI really use it, against the real
 * master, is covered by the integration tests.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "auth.h"
#include "client.h"
#include "hash.h"
#include "xalloc.h"

#define SECRET "0123456789abcdef0123456789abcdef"

/* One step of the script: the reply to one request. */
struct step {
	const char *reply;     /* bytes to send; NULL = send nothing */
	int close_after;       /* close the connection after replying */
	int hold_ms;           /* wait this long before replying */
	int head_only;         /* reply after the head, without the body */
	int sig;               /* SIG_*: how to sign it */
	const char *sig_body;  /* the body it is signed over if not the
	                        * bytes after the head (a chunked body) */
};

/* How a step's reply is signed: as the master does, when the request was
 * signed (SIG_AS_MASTER), or not at all, or with another secret, or over
 * the previous request's nonce (a reply captured earlier), or twice. */
enum { SIG_AS_MASTER, SIG_NONE, SIG_WRONG_SECRET, SIG_OLD_NONCE, SIG_TWICE };

struct server {
	int lfd;
	int port;
	const struct step *steps;
	int nsteps;
	pthread_t th;
	/* What the server saw (read after the thread ended). */
	int accepts;
	int requests;
	char *last_head;       /* the last request's head */
	char nonce[64], old_nonce[64];  /* the last two requests' nonces */
	size_t last_body_len;
	unsigned long body_sum; /* sum of the last body's bytes */
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Read one request (head and, unless HEAD_ONLY, its Content-Length
 * body) from FD; 0 at EOF. */
static int
read_request(struct server *s, int fd, int head_only)
{
	size_t cap = 1 << 16, len = 0;
	char *b = xmalloc(cap);
	char *eoh = NULL;

	while (eoh == NULL) {
		if (len + 1 >= cap)
			b = xrealloc(b, cap *= 2);
		ssize_t k = recv(fd, b + len, cap - len - 1, 0);
		if (k <= 0) {
			free(b);
			return 0;
		}
		len += (size_t)k;
		b[len] = '\0';
		eoh = strstr(b, "\r\n\r\n");
	}
	size_t hlen = (size_t)(eoh - b) + 4;
	size_t blen = 0;
	const char *cl = strstr(b, "Content-Length: ");
	if (cl != NULL && cl < eoh)
		blen = strtoul(cl + 16, NULL, 10);
	unsigned long sum = 0;
	for (size_t i = hlen; i < len && i < hlen + blen; i++)
		sum += (unsigned char)b[i];
	size_t have = len - hlen;
	while (!head_only && have < blen) {
		char chunk[65536];
		ssize_t k = recv(fd, chunk, sizeof chunk, 0);
		if (k <= 0)
			break;
		for (ssize_t i = 0; i < k; i++)
			sum += (unsigned char)chunk[i];
		have += (size_t)k;
	}
	free(s->last_head);
	s->last_head = xstrndup(b, hlen);
	s->last_body_len = have;
	s->body_sum = sum;
	free(b);
	return 1;
}

/* The reply of step ST to the request whose nonce is in S, signed as the
 * step says; malloc()ed. */
static char *
signed_reply(struct server *s, const struct step *st)
{
	const char *r = st->reply;
	const char *eol = strstr(r, "\r\n"), *eoh = strstr(r, "\r\n\r\n");
	if (st->sig == SIG_NONE || s->nonce[0] == '\0' || eol == NULL ||
	    eoh == NULL)
		return xstrdup(r);
	const char *body = st->sig_body != NULL ? st->sig_body : eoh + 4;
	char *hash = hash_hex(body, strlen(body));
	int status = atoi(r + 9);
	char *sig = auth_reply_sign(st->sig == SIG_WRONG_SECRET ? "wrong" : SECRET,
	                            st->sig == SIG_OLD_NONCE ? s->old_nonce :
	                            s->nonce, status, hash);
	char *out = xasprintf("%.*s\r\n" AUTH_REPLY_HEADER ": %s\r\n%s%s%s%s",
	                      (int)(eol - r), r, sig,
	                      st->sig == SIG_TWICE ? AUTH_REPLY_HEADER ": " : "",
	                      st->sig == SIG_TWICE ? sig : "",
	                      st->sig == SIG_TWICE ? "\r\n" : "", eol + 2);
	free(sig);
	free(hash);
	return out;
}

/* Note the nonce of the request just read. */
static void
note_nonce(struct server *s)
{
	memcpy(s->old_nonce, s->nonce, sizeof s->nonce);
	s->nonce[0] = '\0';
	const char *n = strstr(s->last_head, ",nonce=");
	if (n != NULL)
		snprintf(s->nonce, sizeof s->nonce, "%.*s",
		         (int)strcspn(n + 7, ","), n + 7);
}

static void *
server_main(void *ud)
{
	struct server *s = ud;
	int fd = -1;

	for (int i = 0; i < s->nsteps; i++) {
		for (;;) {
			if (fd < 0) {
				fd = accept(s->lfd, NULL, NULL);
				if (fd < 0)
					return NULL;
				s->accepts++;
			}
			if (read_request(s, fd, s->steps[i].head_only))
				break;
			close(fd);      /* the client closed: take the next */
			fd = -1;
		}
		s->requests++;
		note_nonce(s);
		const struct step *st = &s->steps[i];
		if (st->hold_ms)
			sleep_ms(st->hold_ms);
		if (st->reply != NULL) {
			char *r = signed_reply(s, st);
			send(fd, r, strlen(r), MSG_NOSIGNAL);
			free(r);
		}
		if (st->close_after) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void
server_start(struct server *s, const struct step *steps, int n)
{
	memset(s, 0, sizeof *s);
	ck_assert_int_eq(auth_init(), 0);
	s->steps = steps;
	s->nsteps = n;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(s->lfd, 8), 0);
	socklen_t al = sizeof a;
	getsockname(s->lfd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, server_main, s);
}

static void
server_join(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static void
server_clear(struct server *s)
{
	free(s->last_head);
	s->last_head = NULL;
}

static client *
client_for(const struct server *s, const char *secret)
{
	char url[64];
	client *c = NULL;
	char *err = NULL;

	snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
	ck_assert_int_eq(client_new(url, "w1", secret, NULL, &c, &err), 0);
	return c;
}

#define REPLY(r) { .reply = (r) }
#define REPLY_CLOSE(r) { .reply = (r), .close_after = 1 }
#define OK_JSON(body) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: " #body "\r\n\r\n"

/* Two requests on one kept-alive connection; what goes on the wire. */
START_TEST(test_keepalive_and_request)
{
	static const struct step steps[] = {
		REPLY(OK_JSON(11) "{\"a\": 1}\n  "),
		REPLY("HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n"
		      "{\"error\": \"x\"}"),
	};
	struct server s;
	server_start(&s, steps, 2);
	client *c = client_for(&s, SECRET);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;

	json_t *body = json_pack("{s:s}", "plugin", "noop");
	ck_assert_int_eq(client_request(c, "POST", "/api/v1/jobs", body, 2000,
	                                &status, &reply, &err), 0);
	json_decref(body);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "a")), 1);
	json_decref(reply);
	ck_assert_int_eq(client_request(c, "GET", "/api/v1/jobs/9", NULL, 2000,
	                                &status, &reply, &err), 0);
	ck_assert_int_eq(status, 404);
	ck_assert_str_eq(json_string_value(json_object_get(reply, "error")), "x");
	json_decref(reply);
	client_free(c);
	server_join(&s);
	ck_assert_int_eq(s.accepts, 1);
	ck_assert_int_eq(s.requests, 2);
	/* The last request: a GET with no body, signed, never the secret. */
	ck_assert_ptr_nonnull(strstr(s.last_head, "GET /api/v1/jobs/9 HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(s.last_head, "\r\nHost: 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(s.last_head, "\r\nAuthorization: Kiln-HMAC"));
	ck_assert_ptr_null(strstr(s.last_head, "Content-Length"));
	ck_assert_ptr_null(strstr(s.last_head, SECRET));
	server_clear(&s);
}
END_TEST

/* Chunked replies, interim 1xx replies, and replies that end with the
 * connection. */
START_TEST(test_reply_framings)
{
	static const struct step steps[] = {
		REPLY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"),
		REPLY("HTTP/1.1 100 Continue\r\n\r\n"
		      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
		REPLY_CLOSE("HTTP/1.0 200 OK\r\n\r\nuntil the end"),
		REPLY_CLOSE("HTTP/1.1 200 OK\r\nConnection: close\r\n"
		            "Content-Length: 3\r\n\r\nbye"),
		REPLY("HTTP/1.1 204 No Content\r\n\r\n"),
	};
	struct server s;
	server_start(&s, steps, 5);
	client *c = client_for(&s, NULL);
	long status = 0;
	char *text = NULL, *err = NULL;
	size_t len = 0;

	ck_assert_int_eq(client_request_raw(c, "GET", "/a", NULL, 2000, &status,
	                                    &text, &len, &err), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(text, "hello, world");
	ck_assert_uint_eq(len, 12);
	free(text);
	ck_assert_int_eq(client_request_raw(c, "POST", "/b", NULL, 2000, &status,
	                                    &text, &len, &err), 0);
	ck_assert_int_eq(status, 201);
	ck_assert_str_eq(text, "ok");
	free(text);
	ck_assert_int_eq(client_request_raw(c, "GET", "/c", NULL, 2000, &status,
	                                    &text, &len, &err), 0);
	ck_assert_str_eq(text, "until the end");
	free(text);
	ck_assert_int_eq(client_request_raw(c, "GET", "/d", NULL, 2000, &status,
	                                    &text, &len, &err), 0);
	ck_assert_str_eq(text, "bye");
	free(text);
	ck_assert_int_eq(client_request_raw(c, "DELETE", "/e", NULL, 2000,
	                                    &status, &text, &len, &err), 0);
	ck_assert_int_eq(status, 204);
	ck_assert_uint_eq(len, 0);
	free(text);
	client_free(c);
	server_join(&s);
	/* A new connection after each reply that ended with it. */
	ck_assert_int_eq(s.accepts, 3);
	ck_assert_ptr_nonnull(strstr(s.last_head, "DELETE /e HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(s.last_head, "Content-Length: 0\r\n"));
	server_clear(&s);
}
END_TEST

/* What a streamed download handed to its sink. */
struct sunk {
	size_t bytes;
	int calls;
	unsigned long sum;
	int fail;               /* the sink's answer: 0 or a negative errno */
};

static int
sink_count(void *ud, const void *data, size_t len)
{
	struct sunk *k = ud;
	for (size_t i = 0; i < len; i++)
		k->sum += ((const unsigned char *)data)[i];
	k->bytes += len;
	k->calls++;
	return k->fail;
}

/* client_get_stream: a large 2xx body comes to the sink in pieces as it
 * arrives; one over the caller's bound is refused before any of it is
 * taken; an error reply comes back as text; a chunked body is handed
 * over whole; the sink's own failure is reported as such. */
START_TEST(test_streamed_download)
{
	enum { BIG = (64 << 20) + 4096 };   /* past client_request_raw's cap */
	static char big[128 + BIG];
	int h = snprintf(big, 128, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG);
	unsigned long want_sum = 0;
	for (int i = 0; i < BIG; i++) {
		big[h + i] = (char)('a' + i % 26);
		want_sum += (unsigned char)big[h + i];
	}
	big[h + BIG] = '\0';
	const struct step steps[] = {
		REPLY(big),
		REPLY("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
		REPLY("HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n"
		      "{\"error\": \"x\"}"),
		{ .reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n0\r\n\r\n", .sig_body = "hello" },
		REPLY("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
	};
	struct server s;
	server_start(&s, steps, 5);
	client *c = client_for(&s, SECRET);
	long status = 0;
	char *text = NULL, *err = NULL;
	size_t len = 0;
	struct sunk k = { 0 };

	/* 64 MiB through the sink and its hash: a generous deadline, for ASan
	 * on a loaded machine. */
	ck_assert_int_eq(client_get_stream(c, "/a", 60000, BIG, sink_count, &k,
	                                   &status, &text, &len, &err), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_uint_eq(k.bytes, BIG);
	ck_assert_uint_eq(k.sum, want_sum);
	ck_assert_int_gt(k.calls, 1);           /* in pieces, not whole */
	ck_assert_uint_eq(len, 0);
	free(text);

	memset(&k, 0, sizeof k);
	ck_assert_int_eq(client_get_stream(c, "/b", 2000, 99, sink_count, &k,
	                                   &status, &text, &len, &err), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "exceeds 99 bytes"));
	ck_assert_int_eq(k.calls, 0);
	free(err);
	err = NULL;

	ck_assert_int_eq(client_get_stream(c, "/c", 2000, 1000, sink_count, &k,
	                                   &status, &text, &len, &err), 0);
	ck_assert_int_eq(status, 404);
	ck_assert_str_eq(text, "{\"error\": \"x\"}");
	ck_assert_int_eq(k.calls, 0);
	free(text);

	ck_assert_int_eq(client_get_stream(c, "/d", 2000, 1000, sink_count, &k,
	                                   &status, &text, &len, &err), 0);
	ck_assert_int_eq(k.calls, 1);
	ck_assert_uint_eq(k.bytes, 5);
	free(text);

	memset(&k, 0, sizeof k);
	k.fail = -ENOSPC;
	ck_assert_int_eq(client_get_stream(c, "/e", 2000, 1000, sink_count, &k,
	                                   &status, &text, &len, &err), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(err, "cannot keep the reply"));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOSPC)));
	free(err);
	client_free(c);
	server_join(&s);
	ck_assert_int_eq(s.requests, 5);
	server_clear(&s);
}
END_TEST

/* The master closed an idle kept-alive connection: the next request goes
 * out again on a new one, once. */
START_TEST(test_stale_connection_retried)
{
	static const struct step steps[] = {
		REPLY_CLOSE(OK_JSON(2) "{}"),   /* without saying so */
		REPLY(OK_JSON(7) "{\"n\":2}"),
	};
	struct server s;
	server_start(&s, steps, 2);
	client *c = client_for(&s, SECRET);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;

	ck_assert_int_eq(client_request(c, "POST", "/x", NULL, 2000, &status,
	                                &reply, &err), 0);
	json_decref(reply);
	sleep_ms(50);   /* let the close arrive */
	json_t *body = json_pack("{s:i}", "k", 1);
	int rc = client_request(c, "POST", "/api/v1/cluster/exchange", body,
	                        2000, &status, &reply, &err);
	json_decref(body);
	ck_assert_msg(rc == 0, "%s", err != NULL ? err : "");
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "n")), 2);
	json_decref(reply);
	client_free(c);
	server_join(&s);
	ck_assert_int_eq(s.accepts, 2);
	ck_assert_ptr_nonnull(strstr(s.last_head, "POST /api/v1/cluster/exchange"));
	ck_assert_uint_eq(s.last_body_len, 7);      /* {"k":1} */
	server_clear(&s);
}
END_TEST

/* A large body goes out whole. */
START_TEST(test_large_upload)
{
	static const struct step steps[] = { REPLY(OK_JSON(2) "{}") };
	struct server s;
	server_start(&s, steps, 1);
	client *c = client_for(&s, SECRET);
	size_t n = 24u << 20;
	unsigned char *data = xmalloc(n);
	unsigned long sum = 0;
	for (size_t i = 0; i < n; i++) {
		data[i] = (unsigned char)(i * 2654435761u >> 24);
		sum += data[i];
	}
	long status = 0;
	char *text = NULL, *err = NULL;
	size_t tlen = 0;

	ck_assert_int_eq(client_send_bytes(c, "PUT", "/api/v1/data/x", data, n,
	                                   10000, &status, &text, &tlen, &err), 0);
	ck_assert_int_eq(status, 200);
	free(text);
	free(data);
	client_free(c);
	server_join(&s);
	ck_assert_uint_eq(s.last_body_len, n);
	ck_assert_uint_eq(s.body_sum, sum);
	server_clear(&s);
}
END_TEST

/* A body refused before it is all sent (413 over max_body): the client
 * reports the master's reply, not a broken pipe. */
START_TEST(test_refused_mid_body)
{
	static const struct step steps[] = {
		{ .reply = "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
		  "Content-Length: 25\r\n\r\n{\"error\": \"body too big\"}",
		  .close_after = 1, .head_only = 1 },
	};
	struct server s;
	server_start(&s, steps, 1);
	client *c = client_for(&s, NULL);
	size_t n = 32u << 20;
	char *data = xcalloc(1, n);
	long status = 0;
	char *text = NULL, *err = NULL;
	size_t tlen = 0;

	int rc = client_send_bytes(c, "PUT", "/api/v1/artifacts/x", data, n,
	                           10000, &status, &text, &tlen, &err);
	ck_assert_msg(rc == 0, "%s", err != NULL ? err : "");
	ck_assert_int_eq(status, 413);
	ck_assert_ptr_nonnull(strstr(text, "body too big"));
	free(text);
	free(data);
	client_free(c);
	server_join(&s);
	server_clear(&s);
}
END_TEST

/* GET PATH fails with RC and an error message holding MSG, no reply. */
static void
refused(client *c, const char *path, long timeout_ms, int rc, const char *msg)
{
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;

	ck_assert_int_eq(client_request(c, "GET", path, NULL, timeout_ms,
	                                &status, &reply, &err), rc);
	ck_assert_msg(err != NULL && strstr(err, msg) != NULL, "%s: %s", path,
	              err != NULL ? err : "no message");
	ck_assert_ptr_null(reply);
	free(err);
}

/* Replies the client must refuse, and a master that does not answer. */
START_TEST(test_refusals)
{
	static const struct step steps[] = {
		REPLY("HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nxx"),
		REPLY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		      "ffffffffff\r\n"),
		REPLY("SMTP ready\r\n\r\n"),
		REPLY_CLOSE("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
		{ .reply = NULL, .close_after = 1, .hold_ms = 700 }, /* none */
	};
	struct server s;
	server_start(&s, steps, 5);
	client *c = client_for(&s, NULL);

	refused(c, "/big", 2000, -EFBIG, "exceeds 64 MiB");
	refused(c, "/chunk", 2000, -EFBIG, "exceeds 64 MiB");
	refused(c, "/smtp", 2000, -EIO, "malformed reply");
	refused(c, "/short", 2000, -EIO, "cut short");
	refused(c, "/silent", 300, -EIO, "no reply within 300 ms");
	client_free(c);
	server_join(&s);
	server_clear(&s);
}
END_TEST

START_TEST(test_unreachable_and_bad_urls)
{
	/* A port nobody listens on: bind one, then close it. */
	struct server s;
	static const struct step none[] = { REPLY(NULL) };
	server_start(&s, none, 0);
	server_join(&s);
	client *c = client_for(&s, NULL);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;
	ck_assert_int_eq(client_request(c, "GET", "/api/v1/health", NULL, 1000,
	                                &status, &reply, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err, "cannot reach master at http://127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(err, "Connection refused"));
	free(err);
	err = NULL;
	client_free(c);

	static const char *const bad[] = {
		"ftp://x", "http://", "http://host:0", "http://host:99999",
		"http://host:80x", "http://[::1", "http://host?x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = NULL;
		ck_assert_int_eq(client_new(bad[i], "w", NULL, NULL, &c, &err),
		                 -EINVAL);
		ck_assert_ptr_null(c);
		ck_assert_ptr_nonnull(strstr(err, bad[i]));
		free(err);
		err = NULL;
	}
	ck_assert_int_eq(client_new("http://[::1]:8080/kiln/", "w", NULL, NULL,
	                            &c, &err), 0);
	client_free(c);
}
END_TEST

/* A base URL with a path: requests go under it. */
START_TEST(test_path_prefix)
{
	static const struct step steps[] = { REPLY(OK_JSON(2) "{}") };
	struct server s;
	server_start(&s, steps, 1);
	char url[80];
	snprintf(url, sizeof url, "http://localhost:%d/kiln/", s.port);
	client *c = NULL;
	char *err = NULL;
	ck_assert_int_eq(client_new(url, "cli", NULL, "tok", &c, &err), 0);
	long status = 0;
	json_t *reply = NULL;
	ck_assert_int_eq(client_request(c, "GET", "/api/v1/health", NULL, 2000,
	                                &status, &reply, &err), 0);
	json_decref(reply);
	client_free(c);
	server_join(&s);
	ck_assert_ptr_nonnull(strstr(s.last_head, "GET /kiln/api/v1/health HTTP/1.1"));
	ck_assert_ptr_nonnull(strstr(s.last_head, "Authorization: Bearer tok\r\n"));
	server_clear(&s);
}
END_TEST

/* A client with the secret takes a reply only if it is signed over its
 * request's nonce, status and body; an unsigned 401/403/413/500/503 only
 * as an error that keeps nothing but its message. */
START_TEST(test_reply_signatures)
{
#define JSON_OK(n) "HTTP/1.1 200 OK\r\nContent-Length: " #n "\r\n\r\n"
	static const struct step steps[] = {
		REPLY(JSON_OK(7) "{\"a\":1}"),                       /* 1 */
		{ .reply = JSON_OK(7) "{\"a\":2}", .sig = SIG_NONE },
		{ .reply = JSON_OK(7) "{\"a\":3}", .sig = SIG_WRONG_SECRET },
		{ .reply = JSON_OK(7) "{\"a\":4}", .sig = SIG_OLD_NONCE },
		{ .reply = JSON_OK(7) "{\"a\":5}", .sig_body = "{\"a\":6}" },
		{ .reply = JSON_OK(7) "{\"a\":7}", .sig = SIG_TWICE },
		{ .reply = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 57\r\n\r\n"
		  "{\"error\":\"authentication required\",\"task\":\"readfile\"}    ",
		  .sig = SIG_NONE },
		{ .reply = "HTTP/1.1 503 Busy\r\nContent-Length: 25\r\n\r\n"
		  "{\"error\":\"\\u001b[2Jbusy\"}", .sig = SIG_NONE },
		{ .reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 14\r\n\r\n"
		  "{\"error\": \"x\"}", .sig = SIG_NONE },
		{ .reply = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 14\r\n\r\n"
		  "{\"error\": \"x\"}", .sig = SIG_WRONG_SECRET },
		REPLY(JSON_OK(7) "{\"a\":8}"),                       /* 11 */
	};
	struct server s;
	server_start(&s, steps, 11);
	client *c = client_for(&s, SECRET);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;

	ck_assert_int_eq(client_request(c, "GET", "/1", NULL, 2000, &status,
	                                &reply, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "a")), 1);
	json_decref(reply);
	static const char *const why[] = {
		"no X-Kiln-Signature", "wrong X-Kiln-Signature",
		"wrong X-Kiln-Signature", "wrong X-Kiln-Signature",
		"wrong X-Kiln-Signature",
	};
	for (int i = 0; i < 5; i++) {
		char path[16];
		snprintf(path, sizeof path, "/%d", i + 2);
		ck_assert_int_eq(client_request(c, "GET", path, NULL, 2000,
		                                &status, &reply, &err), -EACCES);
		ck_assert_ptr_null(reply);
		ck_assert_msg(strstr(err, "is not signed by the cluster secret: "
		                     "refusing it") != NULL, "%s", err);
		ck_assert_msg(strstr(err, why[i]) != NULL, "%s: %s", path, err);
		ck_assert_ptr_nonnull(strstr(err, "reply from master at http://127.0.0.1:"));
		free(err);
		err = NULL;
	}
	/* An unsigned 401: an error, and nothing of it but its message. */
	ck_assert_int_eq(client_request(c, "POST", "/7", NULL, 2000, &status,
	                                &reply, &err), 0);
	ck_assert_int_eq(status, 401);
	ck_assert_str_eq(json_string_value(json_object_get(reply, "error")),
	                 "authentication required (unsigned reply)");
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "status")), 401);
	ck_assert_ptr_null(json_object_get(reply, "task"));
	ck_assert_uint_eq(json_object_size(reply), 2);
	json_decref(reply);
	/* An unsigned 503 through the raw call: no escape reaches a terminal. */
	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(client_request_raw(c, "GET", "/8", NULL, 2000, &status,
	                                    &text, &len, &err), 0);
	ck_assert_int_eq(status, 503);
	ck_assert_str_eq(text, "{\"error\":\"?[2Jbusy (unsigned reply)\",\"status\":503}");
	ck_assert_uint_eq(len, strlen(text));
	free(text);
	/* Unsigned, any other status is refused; a wrong signature is
	 * refused whatever the status. */
	ck_assert_int_eq(client_request(c, "GET", "/9", NULL, 2000, &status,
	                                &reply, &err), -EACCES);
	ck_assert_ptr_nonnull(strstr(err, "HTTP 404 to GET /9, no X-Kiln-Signature"));
	free(err);
	err = NULL;
	ck_assert_int_eq(client_request(c, "GET", "/10", NULL, 2000, &status,
	                                &reply, &err), -EACCES);
	free(err);
	err = NULL;
	/* The connection is still good for the master's next reply. */
	ck_assert_int_eq(client_request(c, "GET", "/11", NULL, 2000, &status,
	                                &reply, &err), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(reply, "a")), 8);
	json_decref(reply);
	client_free(c);
	server_join(&s);
	/* Each request had a nonce of its own, counting up. */
	ck_assert_ptr_nonnull(strstr(s.last_head, ".11,sig="));
	server_clear(&s);
}
END_TEST

/* A streamed download (an artifact) is hashed on its way to the sink and
 * refused if the reply is not signed over that hash: the sink has taken
 * the bytes, but the caller is told to throw them away. */
START_TEST(test_streamed_signatures)
{
	static const struct step steps[] = {
		REPLY("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
		{ .reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		  .sig = SIG_NONE },
		{ .reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		  .sig_body = "jello" },
		{ .reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "5\r\nhello\r\n0\r\n\r\n", .sig = SIG_NONE },
		{ .reply = "HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n\r\n"
		  "{\"error\": \"x\"}", .sig = SIG_NONE },
	};
	struct server s;
	server_start(&s, steps, 5);
	client *c = client_for(&s, SECRET);
	long status = 0;
	char *text = NULL, *err = NULL;
	size_t len = 0;
	struct sunk k = { 0 };

	ck_assert_int_eq(client_get_stream(c, "/a", 2000, 100, sink_count, &k,
	                                   &status, &text, &len, &err), 0);
	ck_assert_int_eq(status, 200);
	ck_assert_uint_eq(k.bytes, 5);
	free(text);
	for (int i = 0; i < 2; i++) {
		memset(&k, 0, sizeof k);
		ck_assert_int_eq(client_get_stream(c, "/b", 2000, 100, sink_count,
		                                   &k, &status, &text, &len, &err),
		                 -EACCES);
		ck_assert_ptr_nonnull(strstr(err, "not signed by the cluster secret"));
		free(err);
		err = NULL;
	}
	/* Received whole (chunked): refused before the sink sees it. */
	memset(&k, 0, sizeof k);
	ck_assert_int_eq(client_get_stream(c, "/c", 2000, 100, sink_count, &k,
	                                   &status, &text, &len, &err), -EACCES);
	ck_assert_int_eq(k.calls, 0);
	free(err);
	err = NULL;
	ck_assert_int_eq(client_get_stream(c, "/d", 2000, 100, sink_count, &k,
	                                   &status, &text, &len, &err), 0);
	ck_assert_int_eq(status, 403);
	ck_assert_str_eq(text, "{\"error\":\"x (unsigned reply)\",\"status\":403}");
	free(text);
	client_free(c);
	server_join(&s);
	server_clear(&s);
}
END_TEST

/* A client without the secret checks nothing (a Bearer token's replies
 * come from whoever it talks to: TLS is what vouches for them). */
START_TEST(test_unsigned_without_secret)
{
	static const struct step steps[] = { REPLY(OK_JSON(2) "{}") };
	struct server s;
	server_start(&s, steps, 1);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
	client *c = NULL;
	char *err = NULL;
	ck_assert_int_eq(client_new(url, "cli", NULL, "tok", &c, &err), 0);
	long status = 0;
	json_t *reply = NULL;
	ck_assert_int_eq(client_request(c, "GET", "/x", NULL, 2000, &status,
	                                &reply, &err), 0);
	ck_assert_int_eq(status, 200);
	json_decref(reply);
	client_free(c);
	server_join(&s);
	ck_assert_ptr_null(strstr(s.last_head, "nonce="));
	server_clear(&s);
}
END_TEST

static Suite *
client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("plain");

	tcase_add_test(tc, test_keepalive_and_request);
	tcase_add_test(tc, test_reply_framings);
	tcase_add_test(tc, test_stale_connection_retried);
	tcase_add_test(tc, test_large_upload);
	tcase_add_test(tc, test_refused_mid_body);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_unreachable_and_bad_urls);
	tcase_add_test(tc, test_path_prefix);
	tcase_add_test(tc, test_streamed_download);
	tcase_add_test(tc, test_reply_signatures);
	tcase_add_test(tc, test_streamed_signatures);
	tcase_add_test(tc, test_unsigned_without_secret);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(client_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
