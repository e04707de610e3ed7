/* SPDX-License-Identifier: MIT */
/*
 * http-test.c - tests for the HTTP layer (src/http.c): a real server on
 * an ephemeral port of 127.0.0.1, driven by libcurl.  Covers replies and
 * their headers, request bodies and the max_body limit, accessors, the
 * "no reply" guard, long polls (expiry, wake, many parked, stop while
 * parked) and start-up errors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>

#include "http.h"
#include "log.h"
#include "xalloc.h"

#define MAX_BODY (2u << 20)

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* Server side: one handler routing on the path                        */
/* ------------------------------------------------------------------ */

static struct {
	int echo_calls;         /* atomics */
	int parks;
	int states;
	int frees;
} T;

static http_server *srv;
static int port;
static long client_timeout_ms = 15000;

struct poll_state {
	int calls;
};

static void
poll_state_free(void *p)
{
	free(p);
	__atomic_fetch_add(&T.frees, 1, __ATOMIC_SEQ_CST);
}

/* Park on the first call, reply on re-entry; count calls in the state
 * that must survive the park. */
static void
handle_poll(http_req *r, int wait_ms)
{
	struct poll_state *st = http_state(r);

	if (st == NULL) {
		st = xcalloc(1, sizeof *st);
		http_set_state(r, st, poll_state_free);
		__atomic_fetch_add(&T.states, 1, __ATOMIC_SEQ_CST);
	}
	if (++st->calls == 1) {
		http_park(r, now_ms() + wait_ms);
		__atomic_fetch_add(&T.parks, 1, __ATOMIC_SEQ_CST);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:b,s:i}", "expired",
	    http_parked_expired(r), "calls", st->calls));
}

static void
handler(http_req *r, void *ud)
{
	const char *p = http_path(r);
	size_t len;
	const char *body;

	(void)ud;
	if (strcmp(p, "/hello") == 0) {
		http_reply_json(r, 201, json_pack("{s:s,s:s}", "method",
		    http_method(r), "path", p));
	} else if (strcmp(p, "/echo") == 0) {
		__atomic_fetch_add(&T.echo_calls, 1, __ATOMIC_SEQ_CST);
		body = http_body(r, &len);
		ck_assert_int_eq(body[len], '\0');
		http_reply(r, 200, "application/octet-stream", body, len);
	} else if (strcmp(p, "/query") == 0) {
		http_add_header(r, "X-Kiln", "yes");
		http_reply_json(r, 200, json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}",
		    "q", http_query(r, "q"),
		    "h", http_header(r, "x-test"),
		    "H", http_header(r, "X-TEST"),
		    "missing", http_query(r, "nope"),
		    "missing_h", http_header(r, "X-Nope")));
	} else if (strcmp(p, "/error") == 0) {
		http_reply_error(r, 418, "bad %s %d", "teapot", 7);
	} else if (strcmp(p, "/noreply") == 0) {
		/* neither reply nor park */
	} else if (strcmp(p, "/poll") == 0) {
		handle_poll(r, 200);
	} else if (strcmp(p, "/wait") == 0) {
		handle_poll(r, 5000);
	} else if (strcmp(p, "/wake-then-wait") == 0) {
		/* A wake between the handler's look for news and its park
		 * (here: in the handler itself, on its first call). */
		struct poll_state *st = http_state(r);
		if (st == NULL)
			http_wake_all(srv);
		handle_poll(r, 5000);
	} else {
		http_reply_error(r, 404, "no route %s %s", http_method(r), p);
	}
}

static void
setup(void)
{
	struct http_opts o = {
		.listen = "127.0.0.1", .port = 0, .threads = 4,
		.max_body = MAX_BODY, .conn_timeout_s = 10,
	};
	char *err = NULL;
	int rc;

	memset(&T, 0, sizeof T);
	rc = http_start(&o, handler, NULL, &srv, &err);
	ck_assert_msg(rc == 0, "http_start: %s", err ? err : "?");
	port = http_port(srv);
	ck_assert_int_gt(port, 0);
}

static void
teardown(void)
{
	if (srv != NULL)
		http_stop(srv);
	srv = NULL;
}

/* ------------------------------------------------------------------ */
/* Client side                                                          */
/* ------------------------------------------------------------------ */

struct resp {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char *hdrs;             /* raw response headers */
	size_t hlen;
	int64_t ms;             /* time taken */
};

struct upload {
	const char *data;
	size_t len;
	size_t off;
};

static size_t
grow(char **buf, size_t *len, const char *data, size_t n)
{
	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return n;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct resp *o = arg;

	return grow(&o->body, &o->len, data, size * n);
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct resp *o = arg;

	return grow(&o->hdrs, &o->hlen, data, size * n);
}

static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t k = size * n;

	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(buf, u->data + u->off, k);
	u->off += k;
	return k;
}

/* Do one request.  BODY (if not NULL) is POSTed, as chunks if CHUNKED;
 * HEADER is one extra request header or NULL. */
static void
fetch(struct resp *o, const char *method, const char *path,
      const char *body, size_t len, int chunked, const char *header)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct upload up = { body, len, 0 };
	char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	int64_t t0 = now_ms();

	memset(o, 0, sizeof *o);
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, client_timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, o);
	if (body != NULL && chunked) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
	} else if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)len);
	}
	if (method != NULL)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (header != NULL)
		hl = curl_slist_append(hl, header);
	if (hl != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	o->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &o->status);
	o->ms = now_ms() - t0;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(url);
	if (o->body == NULL)
		o->body = xstrdup("");
	if (o->hdrs == NULL)
		o->hdrs = xstrdup("");
}

static void
resp_free(struct resp *o)
{
	free(o->body);
	free(o->hdrs);
}

static json_t *
resp_json(const struct resp *o)
{
	json_error_t je;
	json_t *j = json_loads(o->body, 0, &je);

	ck_assert_msg(j != NULL, "bad JSON (%s): %.200s", je.text, o->body);
	return j;
}

static const char *
jstr(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static int
has_header(const struct resp *o, const char *line)
{
	return strcasestr(o->hdrs, line) != NULL;
}

static int
cnt(int *counter)
{
	return __atomic_load_n(counter, __ATOMIC_SEQ_CST);
}

/* Wait until COUNTER reaches N (or a few seconds pass). */
static int
wait_for(int *counter, int n)
{
	int64_t end = now_ms() + 5000;

	while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < n) {
		if (now_ms() > end)
			return 0;
		sleep_ms(5);
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

START_TEST(test_get_json)
{
	struct resp o;
	json_t *j;
	uint64_t n, e4, e5;

	fetch(&o, NULL, "/hello?x=1&y", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.rc, CURLE_OK);
	ck_assert_int_eq(o.status, 201);
	ck_assert(has_header(&o, "Content-Type: application/json"));
	ck_assert(has_header(&o, "Cache-Control: no-store"));
	ck_assert(has_header(&o, "X-Content-Type-Options: nosniff"));
	j = resp_json(&o);
	ck_assert_str_eq(jstr(j, "method"), "GET");
	ck_assert_str_eq(jstr(j, "path"), "/hello");
	json_decref(j);
	resp_free(&o);
	http_stats(srv, &n, &e4, &e5);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e4, 0);
	ck_assert_uint_eq(e5, 0);
}
END_TEST

START_TEST(test_post_body_intact)
{
	size_t len = 1u << 20, i;
	char *body = xmalloc(len);
	struct resp o;

	/* Includes NUL bytes: the body is binary, not a C string. */
	for (i = 0; i < len; i++)
		body[i] = (char)(i * 131 + (i >> 9));
	fetch(&o, NULL, "/echo", body, len, 0, NULL);
	ck_assert_int_eq(o.rc, CURLE_OK);
	ck_assert_int_eq(o.status, 200);
	ck_assert_uint_eq(o.len, len);
	ck_assert(memcmp(o.body, body, len) == 0);
	ck_assert(!has_header(&o, "Cache-Control"));
	ck_assert(has_header(&o, "X-Content-Type-Options: nosniff"));
	ck_assert_int_eq(cnt(&T.echo_calls), 1);
	resp_free(&o);

	/* Same, streamed in chunks. */
	fetch(&o, NULL, "/echo", body, len, 1, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_uint_eq(o.len, len);
	ck_assert(memcmp(o.body, body, len) == 0);
	resp_free(&o);
	free(body);
}
END_TEST

static const struct {
	size_t len;
	int chunked;
	int status;
} body_cases[] = {
	{ MAX_BODY, 0, 200 },           /* exactly the limit is fine */
	{ MAX_BODY + 1, 0, 413 },       /* refused from Content-Length */
	{ 3u << 20, 0, 413 },
	{ MAX_BODY, 1, 200 },
	{ MAX_BODY + 1, 1, 413 },       /* found out while receiving */
	{ 3u << 20, 1, 413 },
};

START_TEST(test_body_limit)
{
	size_t len = body_cases[_i].len;
	char *body = xmalloc(len);
	struct resp o;
	json_t *j;
	uint64_t e4;
	char want[100];

	memset(body, 'x', len);
	fetch(&o, NULL, "/echo", body, len, body_cases[_i].chunked, NULL);
	ck_assert_msg(o.status == body_cases[_i].status,
	              "case %d: status %ld (curl %d)", _i, o.status, o.rc);
	if (body_cases[_i].status == 200) {
		ck_assert_uint_eq(o.len, len);
		ck_assert_int_eq(cnt(&T.echo_calls), 1);
	} else {
		ck_assert(has_header(&o, "Content-Type: application/json"));
		j = resp_json(&o);
		snprintf(want, sizeof want,
		         "request body too large (limit %u bytes)", MAX_BODY);
		ck_assert_str_eq(jstr(j, "error"), want);
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		                 "status")), 413);
		json_decref(j);
		/* The handler never saw it. */
		ck_assert_int_eq(cnt(&T.echo_calls), 0);
		http_stats(srv, NULL, &e4, NULL);
		ck_assert_uint_eq(e4, 1);
	}
	resp_free(&o);
	free(body);

	/* The server is still fine afterwards. */
	fetch(&o, NULL, "/hello", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 201);
	resp_free(&o);
}
END_TEST

START_TEST(test_query_and_headers)
{
	struct resp o;
	json_t *j;

	fetch(&o, NULL, "/query?q=a%20b&x=1", NULL, 0, 0, "X-Test: Hello");
	ck_assert_int_eq(o.status, 200);
	ck_assert(has_header(&o, "X-Kiln: yes"));
	j = resp_json(&o);
	ck_assert_str_eq(jstr(j, "q"), "a b");
	ck_assert_str_eq(jstr(j, "h"), "Hello");
	ck_assert_str_eq(jstr(j, "H"), "Hello");
	ck_assert(json_is_null(json_object_get(j, "missing")));
	ck_assert(json_is_null(json_object_get(j, "missing_h")));
	json_decref(j);
	resp_free(&o);
}
END_TEST

START_TEST(test_reply_error)
{
	struct resp o;
	json_t *j;
	uint64_t n, e4, e5;

	fetch(&o, NULL, "/error", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 418);
	ck_assert(has_header(&o, "Content-Type: application/json"));
	ck_assert(has_header(&o, "Cache-Control: no-store"));
	j = resp_json(&o);
	ck_assert_int_eq(json_object_size(j), 2);
	ck_assert_str_eq(jstr(j, "error"), "bad teapot 7");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")),
	                 418);
	json_decref(j);
	resp_free(&o);
	http_stats(srv, &n, &e4, &e5);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(e4, 1);
	ck_assert_uint_eq(e5, 0);
}
END_TEST

START_TEST(test_no_reply_is_500)
{
	struct resp o;
	json_t *j;
	uint64_t e5;

	fetch(&o, "DELETE", "/noreply", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 500);
	j = resp_json(&o);
	ck_assert_str_eq(jstr(j, "error"), "internal: no reply");
	json_decref(j);
	resp_free(&o);
	http_stats(srv, NULL, NULL, &e5);
	ck_assert_uint_eq(e5, 1);
}
END_TEST

/* Method and path are client input: odd methods, long paths and bytes
 * that are not UTF-8 must come through (and into a JSON error) intact. */
START_TEST(test_arbitrary_input)
{
	struct resp o;
	json_t *j;
	size_t n = 8000;
	char *path = xmalloc(n + 2);

	path[0] = '/';
	memset(path + 1, 'a', n);
	path[n + 1] = '\0';
	fetch(&o, "FROBNICATE", path, NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 404);
	j = resp_json(&o);
	ck_assert(strncmp(jstr(j, "error"), "no route FROBNICATE /aaa", 24)
	          == 0);
	ck_assert_uint_eq(strlen(jstr(j, "error")), n + 1 + 20);
	json_decref(j);
	resp_free(&o);
	free(path);

	fetch(&o, NULL, "/%ff%fe?q=%ff", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 404);
	j = resp_json(&o);
	ck_assert_str_eq(jstr(j, "error"), "no route GET /??");
	json_decref(j);
	resp_free(&o);
}
END_TEST

START_TEST(test_long_poll_expires)
{
	struct resp o;
	json_t *j;

	fetch(&o, NULL, "/poll", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_msg(o.ms >= 180 && o.ms < 1500, "took %lld ms",
	              (long long)o.ms);
	j = resp_json(&o);
	ck_assert(json_is_true(json_object_get(j, "expired")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "calls")), 2);
	json_decref(j);
	resp_free(&o);
	/* The state outlived the park and was freed when the request
	 * ended. */
	ck_assert(wait_for(&T.frees, 1));
	ck_assert_int_eq(cnt(&T.states), 1);
}
END_TEST

/* A client that gives up while parked: MHD cannot see the disconnect
 * of a suspended connection, so only the deadline frees it. */
START_TEST(test_parked_client_gone)
{
	struct resp o;

	client_timeout_ms = 100;
	fetch(&o, NULL, "/poll", NULL, 0, 0, NULL);
	client_timeout_ms = 15000;
	ck_assert_int_eq(o.rc, CURLE_OPERATION_TIMEDOUT);
	resp_free(&o);
	ck_assert(wait_for(&T.parks, 1));
	ck_assert(wait_for(&T.frees, 1));
	fetch(&o, NULL, "/hello", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 201);
	resp_free(&o);
}
END_TEST

struct client {
	pthread_t th;
	struct resp o;
};

static void *
client_main(void *arg)
{
	struct client *c = arg;

	fetch(&c->o, NULL, "/wait", NULL, 0, 0, NULL);
	return NULL;
}

static void *
waker_main(void *arg)
{
	(void)arg;
	if (wait_for(&T.parks, 1)) {
		sleep_ms(100);
		http_wake_all(srv);
	}
	return NULL;
}

START_TEST(test_wake)
{
	struct client c;
	pthread_t w;
	json_t *j;

	pthread_create(&w, NULL, waker_main, NULL);
	client_main(&c);
	pthread_join(w, NULL);
	ck_assert_int_eq(c.o.status, 200);
	ck_assert_msg(c.o.ms >= 90 && c.o.ms < 2000, "took %lld ms",
	              (long long)c.o.ms);
	j = resp_json(&c.o);
	ck_assert(json_is_false(json_object_get(j, "expired")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "calls")), 2);
	json_decref(j);
	resp_free(&c.o);
}
END_TEST

/* A wake that comes after the handler was entered but before it parks is
 * not lost: the handler runs again at once, not at the deadline. */
START_TEST(test_wake_before_park)
{
	struct resp o;
	json_t *j;

	fetch(&o, NULL, "/wake-then-wait", NULL, 0, 0, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_msg(o.ms < 2000, "took %lld ms", (long long)o.ms);
	j = resp_json(&o);
	ck_assert(json_is_false(json_object_get(j, "expired")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "calls")), 2);
	json_decref(j);
	resp_free(&o);
}
END_TEST

#define NCLIENTS 50

START_TEST(test_wake_many)
{
	struct client *c = xcalloc(NCLIENTS, sizeof *c);
	int i;
	int64_t t0 = now_ms();
	json_t *j;

	for (i = 0; i < NCLIENTS; i++)
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, client_main,
		                                &c[i]), 0);
	ck_assert_msg(wait_for(&T.parks, NCLIENTS), "only %d parked",
	              cnt(&T.parks));
	http_wake_all(srv);
	for (i = 0; i < NCLIENTS; i++)
		pthread_join(c[i].th, NULL);
	ck_assert_int_lt(now_ms() - t0, 4000);
	for (i = 0; i < NCLIENTS; i++) {
		ck_assert_msg(c[i].o.status == 200, "client %d: %ld (curl %d)",
		              i, c[i].o.status, c[i].o.rc);
		j = resp_json(&c[i].o);
		ck_assert(json_is_false(json_object_get(j, "expired")));
		json_decref(j);
		resp_free(&c[i].o);
	}
	ck_assert(wait_for(&T.frees, NCLIENTS));
	free(c);
}
END_TEST

START_TEST(test_stop_while_parked)
{
	struct client c[10];
	int i, n = 10;
	int64_t t0;

	for (i = 0; i < n; i++)
		pthread_create(&c[i].th, NULL, client_main, &c[i]);
	ck_assert(wait_for(&T.parks, n));
	t0 = now_ms();
	http_stop(srv);
	srv = NULL;
	ck_assert_int_lt(now_ms() - t0, 2000);
	for (i = 0; i < n; i++) {
		pthread_join(c[i].th, NULL);
		/* Answered as expired, or cut off: but never left hanging
		 * until the 5 s deadline. */
		ck_assert_msg(c[i].o.ms < 3000, "client %d took %lld ms", i,
		              (long long)c[i].o.ms);
		resp_free(&c[i].o);
	}
	/* Every request's state was freed by http_stop. */
	ck_assert_int_eq(cnt(&T.states), n);
	ck_assert_int_eq(cnt(&T.frees), n);
}
END_TEST

/* A body the gate streams (http_stream_body): each piece goes to the
 * sink, in order, none is kept, and max_body does not apply. */
struct sunk {
	uint64_t n;
	uint64_t sum;           /* of each byte times its offset + 1 */
};

static void
stream_sink(void *ud, const void *data, size_t len)
{
	struct sunk *k = ud;
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		k->sum += (uint64_t)p[i] * (k->n + i + 1);
	k->n += len;
}

static int
stream_gate(http_req *r, void *ud)
{
	(void)ud;
	if (strcmp(http_path(r), "/stream") == 0) {
		struct sunk *k = xcalloc(1, sizeof *k);
		http_set_state(r, k, free);
		http_stream_body(r, 5u << 20, stream_sink, k);
	}
	return 0;
}

static void
stream_handler(http_req *r, void *ud)
{
	struct sunk *k = http_state(r);
	size_t len;

	if (k == NULL) {
		handler(r, ud);
		return;
	}
	http_body(r, &len);
	http_reply_json(r, 200, json_pack("{s:I,s:I,s:I}", "n", (json_int_t)k->n,
	    "sum", (json_int_t)k->sum, "kept", (json_int_t)len));
}

START_TEST(test_stream_body)
{
	struct http_opts o = {
		.listen = "127.0.0.1", .port = 0, .threads = 2,
		.max_body = MAX_BODY, .gate = stream_gate,
	};
	size_t len = 5u << 20;
	char *body = xmalloc(len), *err = NULL;
	uint64_t sum = 0;
	struct resp r;

	http_stop(srv);
	ck_assert_int_eq(http_start(&o, stream_handler, NULL, &srv, &err), 0);
	port = http_port(srv);
	for (size_t i = 0; i < len; i++) {
		body[i] = (char)(i * 131 + (i >> 9));
		sum += (uint64_t)(unsigned char)body[i] * (i + 1);
	}
	fetch(&r, "PUT", "/stream", body, len, 0, NULL);
	ck_assert_int_eq(r.status, 200);
	json_t *j = resp_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), (json_int_t)len);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sum")), (json_int_t)sum);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "kept")), 0);
	json_decref(j);
	resp_free(&r);
	/* Not streamed: still bounded by max_body. */
	fetch(&r, NULL, "/echo", body, len, 0, NULL);
	ck_assert_int_eq(r.status, 413);
	resp_free(&r);
	free(body);
}
END_TEST

START_TEST(test_bind_in_use)
{
	struct http_opts o = {
		.listen = "127.0.0.1", .port = port, .threads = 1,
		.max_body = 1024,
	};
	http_server *s2 = NULL;
	char *err = NULL, *want;
	int rc;

	rc = http_start(&o, handler, NULL, &s2, &err);
	ck_assert_int_eq(rc, -EADDRINUSE);
	ck_assert_ptr_null(s2);
	want = xasprintf("cannot listen on 127.0.0.1:%d: Address already in "
	                 "use", port);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	err = NULL;

	o.listen = "not-an-address";
	rc = http_start(&o, handler, NULL, &s2, &err);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not-an-address"));
	free(err);
	err = NULL;

	o.listen = "127.0.0.1";
	o.port = 70000;
	rc = http_start(&o, handler, NULL, &s2, &err);
	ck_assert_int_eq(rc, -EINVAL);
	free(err);
}
END_TEST

/* "localhost" and IPv6 literals are accepted too. */
START_TEST(test_other_addresses)
{
	struct http_opts o = { .listen = "localhost", .threads = 2 };
	http_server *s2 = NULL;
	char *err = NULL;

	ck_assert_int_eq(http_start(&o, handler, NULL, &s2, &err), 0);
	ck_assert_int_gt(http_port(s2), 0);
	http_stop(s2);

	o.listen = "::1";
	if (http_start(&o, handler, NULL, &s2, &err) == 0) {
		ck_assert_int_gt(http_port(s2), 0);
		http_stop(s2);
	} else {
		/* No IPv6 on this host: the error must still say where. */
		ck_assert_ptr_nonnull(strstr(err, "[::1]"));
		free(err);
	}
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_get_json);
	tcase_add_test(tc, test_post_body_intact);
	tcase_add_loop_test(tc, test_body_limit, 0,
	                    (int)(sizeof body_cases / sizeof body_cases[0]));
	tcase_add_test(tc, test_query_and_headers);
	tcase_add_test(tc, test_reply_error);
	tcase_add_test(tc, test_no_reply_is_500);
	tcase_add_test(tc, test_arbitrary_input);
	tcase_add_test(tc, test_long_poll_expires);
	tcase_add_test(tc, test_parked_client_gone);
	tcase_add_test(tc, test_wake);
	tcase_add_test(tc, test_wake_before_park);
	tcase_add_test(tc, test_wake_many);
	tcase_add_test(tc, test_stop_while_parked);
	tcase_add_test(tc, test_stream_body);
	tcase_add_test(tc, test_bind_in_use);
	tcase_add_test(tc, test_other_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	log_init("http-test", LOG_LEVEL_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(http_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
