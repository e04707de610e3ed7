/* SPDX-License-Identifier: MIT */
/*
 * http.c - the master's HTTP server on libmicrohttpd (see http.h).
 *
 * MHD runs an internal epoll thread pool; this file turns its
 * call-me-again access callback into "one handler call per complete
 * request": it shows the headers to the gate (which may refuse the
 * request, or lower the body it may send, before a byte of the body is
 * read), accumulates the body (bounded by that, and by max_body) or
 * hands it piece by piece to the sink the gate set (http_stream_body:
 * an artifact goes to its file, never whole in memory), closes
 * a request not all in by the request deadline, calls the kiln handler
 * once the body is in, and queues whatever the handler replied.  Long polls are MHD suspend/resume: http_park() suspends the
 * connection and puts the request on a list that a "parker" thread owned
 * by the server watches; on http_wake_all() or the earliest deadline it
 * resumes the connection, and MHD calls us again, so the handler is
 * re-entered with the same http_req.
 *
 * The parked requests are a binary heap by deadline: the parker takes
 * each long poll off it as it expires at O(log n) a time (a walk of a
 * list cost every heartbeat as much as every worker, bench/
 * workers_bench.py).  A wake takes them all.
 *
 * Invariant: a request is on the parked list iff its connection is
 * suspended and nobody has resumed it yet.  Whoever takes it off the list
 * (parker, http_wake_all, http_stop) resumes it, always under s->mu, so a
 * connection is resumed exactly once per suspend and never after
 * MHD_stop_daemon.  MHD never calls our callbacks for a suspended
 * connection, so a parked http_req cannot be freed under the list.
 *
 * libmicrohttpd is loaded (dynlib.h) when the first server starts rather
 * than linked, as src/client.c does for libcurl: only the master serves
 * HTTP, so a worker or the CLI never loads libmicrohttpd, nor, through it,
 * GnuTLS and its chain (p11-kit, nettle, hogweed, gmp, tasn1, idn2,
 * unistring, about 2.4 MB resident).  Today a worker or CLI that makes a
 * client still gets that chain from libcurl (librtmp links GnuTLS), so the
 * saving is libmicrohttpd's own ~0.1 MB until the client stops using
 * libcurl; `kiln passwd` and other commands without a client load neither.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "dynlib.h"

/* Every MHD function called below, looked up in the library once.  Each
 * slot has the type of the header's own prototype, so calls through it,
 * variadic ones included (MHD_start_daemon's option list ending with
 * MHD_OPTION_END, MHD_get_*_info), are compiled exactly as direct calls
 * would be. */
static struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_is_feature_supported) *is_feature_supported;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_suspend_connection) *suspend_connection;
	__typeof__(MHD_resume_connection) *resume_connection;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_create_response_from_fd64) *create_response_from_fd64;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} lm;
static pthread_once_t lm_once = PTHREAD_ONCE_INIT;
static int lm_rc = -1;          /* 0 once lm is filled */
/* Why libmicrohttpd could not be loaded, or NULL.  Set once and kept for
 * the life of the process: every later server is refused with it. */
static char *lm_error;

#define MHD_LIBRARY "libmicrohttpd.so.12"

#define MHD_start_daemon (*lm.start_daemon)
#define MHD_stop_daemon (*lm.stop_daemon)
#define MHD_get_daemon_info (*lm.get_daemon_info)
#define MHD_is_feature_supported (*lm.is_feature_supported)
#define MHD_get_connection_info (*lm.get_connection_info)
#define MHD_lookup_connection_value (*lm.lookup_connection_value)
#define MHD_suspend_connection (*lm.suspend_connection)
#define MHD_resume_connection (*lm.resume_connection)
#define MHD_create_response_from_buffer (*lm.create_response_from_buffer)
#define MHD_create_response_from_fd64 (*lm.create_response_from_fd64)
#define MHD_add_response_header (*lm.add_response_header)
#define MHD_queue_response (*lm.queue_response)
#define MHD_destroy_response (*lm.destroy_response)

/* Load libmicrohttpd and look up what we use; sets lm_rc to 0, or leaves
 * it -1 with lm_error set.  Run once, under pthread_once, as servers
 * may be started from several threads. */
static void
http_load_mhd(void)
{
	static const char *const sonames[] = { MHD_LIBRARY, NULL };
	static const struct dynlib_sym syms[] = {
		DYNLIB_SYM("MHD_start_daemon", lm.start_daemon),
		DYNLIB_SYM("MHD_stop_daemon", lm.stop_daemon),
		DYNLIB_SYM("MHD_get_daemon_info", lm.get_daemon_info),
		DYNLIB_SYM("MHD_is_feature_supported", lm.is_feature_supported),
		DYNLIB_SYM("MHD_get_connection_info", lm.get_connection_info),
		DYNLIB_SYM("MHD_lookup_connection_value",
		           lm.lookup_connection_value),
		DYNLIB_SYM("MHD_suspend_connection", lm.suspend_connection),
		DYNLIB_SYM("MHD_resume_connection", lm.resume_connection),
		DYNLIB_SYM("MHD_create_response_from_buffer",
		           lm.create_response_from_buffer),
		DYNLIB_SYM("MHD_add_response_header", lm.add_response_header),
		DYNLIB_SYM("MHD_queue_response", lm.queue_response),
		DYNLIB_SYM("MHD_destroy_response", lm.destroy_response),
		DYNLIB_SYM("MHD_create_response_from_fd64",
		           lm.create_response_from_fd64),
	};

	lm_rc = dynlib_load(sonames, "Debian package libmicrohttpd12", syms,
	                    sizeof syms / sizeof syms[0], &lm_error);
}

#include "clock.h"
#include "err.h"
#include "gzip.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "xalloc.h"

#define HTTP_DEFAULT_TIMEOUT_S  30
#define HTTP_DEFAULT_MAX_BODY   (8u << 20)
#define HTTP_DEFAULT_REQUEST_S  60
/* A streamed body (http_stream_body) gets the request deadline plus its
 * declared length at this rate: 1 MiB/s, a slow link's pace.  A stalled
 * uploader is closed sooner by the idle timeout (conn_timeout_s). */
#define HTTP_STREAM_MIN_RATE    (1u << 20)
/* A thousand workers hold two each (their long poll and their reporter). */
#define HTTP_CONNECTION_LIMIT   4096
/* Bounds the request line plus headers: MHD answers 431/414 past it. */
#define HTTP_CONN_MEMORY        (64u << 10)

struct http_server {
	struct MHD_Daemon *daemon;
	int tls;
	http_handler handler;
	http_gate gate;
	void *ud;
	size_t max_body;
	int64_t request_timeout_ms;     /* absolute, from the request line */

	pthread_mutex_t mu;             /* guards everything below */
	pthread_cond_t cv;              /* parker: list changed or quit */
	http_req **parked;              /* suspended requests, a min-heap
	                                 * by deadline */
	size_t nparked, parked_cap;
	uint64_t wakes;                 /* http_wake() calls so far */
	int64_t parker_at;              /* the deadline the parker sleeps
	                                 * until (INT64_MAX: none) */
	int stopping;                   /* http_stop began: park = resume */
	int quit;                       /* parker thread must exit */
	pthread_t parker;

	uint64_t n_requests;            /* atomics: responses queued */
	uint64_t n_4xx;
	uint64_t n_5xx;
};

struct http_hdr {
	char *name;
	char *value;
	struct http_hdr *next;
};

enum {
	REQ_BODY,       /* still receiving the upload */
	REQ_READY,      /* body complete; handler called at least once */
	REQ_DONE,       /* a response is queued */
};

struct http_req {
	http_server *srv;
	struct MHD_Connection *conn;
	char *method;
	char *path;
	char *uri;                      /* request target as sent, with query */
	int64_t t0;                     /* when it arrived, for /metrics */
	const char *route;              /* its /metrics label, or NULL */
	char *body;                     /* NUL-terminated; NULL if none */
	size_t body_len;
	size_t body_cap;
	size_t limit;                   /* most body bytes it may send */
	int phase;
	int too_big;                    /* body over max_body: discarding */
	http_body_fn sink;              /* streamed: the body goes here */
	void *sink_ud;
	int64_t extra_ms;               /* beyond the request deadline */

	/* Parking.  `parking` is only touched by the handler's thread;
	 * `on_list`, `next` and `deadline` under srv->mu; `expired` is
	 * written under srv->mu and read by the re-entered handler (atomic
	 * so a handler peeking at it while parked is not a data race). */
	int parking;
	unsigned park_class;    /* HTTP_PARK_* bit it is parked as */
	uint64_t wakes_seen;    /* s->wakes when the handler was entered */
	int on_list;
	int expired;
	int64_t deadline;

	struct MHD_Response *resp;      /* built by http_reply, not queued */
	unsigned int resp_status;
	struct http_hdr *hdrs;          /* for the reply that follows */
	http_reply_hook hook;           /* sees each reply as it is made */
	void *hook_ud;
	void (*hook_free)(void *);

	void *state;
	void (*state_free)(void *);
};

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void
http_free_hdrs(http_req *r)
{
	struct http_hdr *h, *next;

	for (h = r->hdrs; h != NULL; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	r->hdrs = NULL;
}

/* Queue the response http_reply built; count it. */
static enum MHD_Result
http_queue(http_req *r)
{
	http_server *s = r->srv;
	enum MHD_Result ret;

	ret = MHD_queue_response(r->conn, r->resp_status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->phase = REQ_DONE;
	if (ret != MHD_YES) {
		log_warn("http: cannot queue %u response for %s %s",
		         r->resp_status, r->method, r->path);
		return ret;
	}
	__atomic_fetch_add(&s->n_requests, 1, __ATOMIC_RELAXED);
	metrics_http(r->route ? r->route : "other", (int)r->resp_status,
	             (double)(clock_mono_ms() - r->t0) / 1000.0);
	if (r->resp_status >= 400 && r->resp_status < 500)
		__atomic_fetch_add(&s->n_4xx, 1, __ATOMIC_RELAXED);
	else if (r->resp_status >= 500)
		__atomic_fetch_add(&s->n_5xx, 1, __ATOMIC_RELAXED);
	return ret;
}

static void
http_add_resp_header(http_req *r, const char *name, const char *value)
{
	/* MHD refuses names or values with CR/LF, so a header built from
	 * user input cannot split the response. */
	if (MHD_add_response_header(r->resp, name, value) != MHD_YES)
		log_warn("http: dropped invalid response header %.64s", name);
}

static void http_reply_made(http_req *r, int status, const char *content_type,
                            struct MHD_Response *resp);

/* A request answered already, or parked, takes no reply: logged. */
static int
http_reply_refused(const http_req *r)
{
	if (r->resp != NULL || r->phase == REQ_DONE) {
		log_warn("http: second reply to %s %s ignored", r->method,
		         r->path);
		return 1;
	}
	if (r->parking) {
		log_warn("http: reply to parked %s %s ignored", r->method,
		         r->path);
		return 1;
	}
	return 0;
}

/* The status a reply goes out with. */
static int
http_status(int status)
{
	return status < 100 || status > 999 ? 500 : status;
}

void
http_set_reply_hook(http_req *r, http_reply_hook fn, void *ud,
                    void (*free_fn)(void *))
{
	if (r->hook_ud != NULL && r->hook_free != NULL)
		r->hook_free(r->hook_ud);
	r->hook = fn;
	r->hook_ud = ud;
	r->hook_free = free_fn;
}

void *
http_reply_hook_ud(const http_req *r, http_reply_hook fn)
{
	return r->hook == fn ? r->hook_ud : NULL;
}

void
http_reply(http_req *r, int status, const char *content_type,
           const void *body, size_t len)
{
	if (http_reply_refused(r))
		return;
	status = http_status(status);
	if (r->hook != NULL)
		r->hook(r, status, body != NULL ? body : "", body != NULL ? len : 0,
		        NULL, r->hook_ud);
	http_reply_made(r, status, content_type,
	                MHD_create_response_from_buffer(len,
	                    (void *)(body != NULL ? body : ""),
	                    MHD_RESPMEM_MUST_COPY));
}

void
http_reply_fd(http_req *r, int status, const char *content_type, int fd,
              uint64_t size, const char *sha256)
{
	if (http_reply_refused(r)) {
		close(fd);
		return;
	}
	status = http_status(status);
	if (r->hook != NULL)
		r->hook(r, status, NULL, (size_t)size, sha256, r->hook_ud);
	struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
	if (resp == NULL)
		close(fd);
	http_reply_made(r, status, content_type, resp);
}

/* Queue RESP (NULL: it could not be made) with the headers set so far. */
static void
http_reply_made(http_req *r, int status, const char *content_type,
                struct MHD_Response *resp)
{
	struct http_hdr *h;

	r->resp = resp;
	if (r->resp == NULL) {
		log_error("http: cannot create response");
		return;         /* access handler answers 500 */
	}
	r->resp_status = (unsigned int)http_status(status);
	for (h = r->hdrs; h != NULL; h = h->next)
		http_add_resp_header(r, h->name, h->value);
	http_free_hdrs(r);
	if (content_type != NULL) {
		http_add_resp_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		                     content_type);
		/* API answers describe live state; no proxy may serve an
		 * old one. */
		if (strncmp(content_type, "application/json", 16) == 0)
			http_add_resp_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
			                     "no-store");
	}
	http_add_resp_header(r, "X-Content-Type-Options", "nosniff");
}

/* The text of a reply to R (http_reply_tagged), and of a JSON reply.  To a GET, a weak ETag (a hash of the
 * text), and 304 without a body when the client already has that text
 * (If-None-Match): a poller downloads only what changed.  Above GZIP_MIN
 * bytes, gzip when the client accepts it, unless the reply is signed
 * (the hook signs the bytes it is given). */
static void
http_reply_json_text(http_req *r, int status, const char *text, size_t len)
{
	http_reply_tagged(r, status, "application/json", text, len);
}

void
http_reply_tagged(http_req *r, int status, const char *content_type,
                  const char *text, size_t len)
{
	if (status == 200 && strcmp(r->method, "GET") == 0) {
		char *hex = hash_hex(text, len);
		char tag[40], etag[48];
		snprintf(tag, sizeof tag, "\"%.32s\"", hex);
		snprintf(etag, sizeof etag, "W/%s", tag);
		free(hex);
		http_add_header(r, "ETag", etag);
		const char *inm = http_header(r, "If-None-Match");
		if (inm != NULL && (strstr(inm, tag) != NULL || strcmp(inm, "*") == 0)) {
			http_reply(r, 304, NULL, NULL, 0);
			return;
		}
	}
	unsigned char *gz = NULL;
	size_t gzlen = 0;
	if (len >= GZIP_MIN) {
		http_add_header(r, "Vary", "Accept-Encoding");
		if (r->hook == NULL &&
		    gzip_accepted(http_header(r, "Accept-Encoding")) &&
		    gzip_compress(text, len, &gz, &gzlen) == 0)
			http_add_header(r, "Content-Encoding", "gzip");
	}
	if (gz != NULL)
		http_reply(r, status, content_type, gz, gzlen);
	else
		http_reply(r, status, content_type, text, len);
	free(gz);
}

void
http_reply_json(http_req *r, int status, json_t *j)
{
	char *text;

	if (j == NULL) {
		http_reply_error(r, 500, "internal: no JSON to reply");
		return;
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL) {
		http_reply_error(r, 500, "internal: cannot encode JSON");
		return;
	}
	http_reply_json_text(r, status, text, strlen(text));
	free(text);
}

/* A JSON string for MSG even if it is not UTF-8 (messages may quote a
 * path or header sent by the client): such bytes become '?'. */
static json_t *
http_json_text(const char *msg)
{
	json_t *j = json_string(msg);
	char *copy;
	size_t i;

	if (j != NULL)
		return j;
	copy = xstrdup(msg);
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] >= 0x80 ||
		    (unsigned char)copy[i] < 0x20)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void
http_reply_error(http_req *r, int status, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	json_t *j;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	j = json_object();
	json_object_set_new(j, "error", http_json_text(msg));
	json_object_set_new(j, "status", json_integer(status));
	free(msg);
	http_reply_json(r, status, j);
}

void
http_add_header(http_req *r, const char *name, const char *value)
{
	struct http_hdr *h, **tail;

	if (name == NULL || value == NULL)
		return;
	h = xcalloc(1, sizeof *h);
	h->name = xstrdup(name);
	h->value = xstrdup(value);
	/* Append, so headers go out in the order they were added. */
	for (tail = &r->hdrs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = h;
}

/* ------------------------------------------------------------------ */
/* Request accessors                                                   */
/* ------------------------------------------------------------------ */

const char *
http_method(const http_req *r)
{
	return r->method;
}

const char *
http_path(const http_req *r)
{
	return r->path;
}

const char *
http_uri(const http_req *r)
{
	return r->uri != NULL ? r->uri : r->path;
}

const char *
http_query(const http_req *r, const char *name)
{
	if (name == NULL)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
	                                   name);
}

const char *
http_cookie(const http_req *r, const char *name)
{
	return name ? MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name) :
	       NULL;
}

void
http_client_addr(const http_req *r, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
		MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	buf[0] = '\0';
	if (ci == NULL || ci->client_addr == NULL)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		          buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          buf, (socklen_t)len);
}

const char *
http_header(const http_req *r, const char *name)
{
	/* MHD compares header names case-insensitively; the headers live
	 * in the connection's memory pool, bounded by HTTP_CONN_MEMORY. */
	if (name == NULL)
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
http_body(const http_req *r, size_t *len)
{
	if (len != NULL)
		*len = r->body_len;
	return r->body != NULL ? r->body : "";
}

void
http_limit_body(http_req *r, size_t n)
{
	if (n < r->limit)
		r->limit = n;
}

void
http_stream_body(http_req *r, uint64_t length, http_body_fn fn, void *ud)
{
	r->sink = fn;
	r->sink_ud = ud;
	r->extra_ms = (int64_t)(length / HTTP_STREAM_MIN_RATE) * 1000;
}

void *
http_state(const http_req *r)
{
	return r->state;
}

void
http_set_route(http_req *r, const char *label)
{
	r->route = label;
}

void
http_set_state(http_req *r, void *state, void (*free_fn)(void *))
{
	if (r->state != NULL && r->state != state && r->state_free != NULL)
		r->state_free(r->state);
	r->state = state;
	r->state_free = free_fn;
}

/* ------------------------------------------------------------------ */
/* Parking                                                             */
/* ------------------------------------------------------------------ */

/* Add R to S's heap of parked requests.  s->mu held. */
static void
park_push(http_server *s, http_req *r)
{
	if (s->nparked == s->parked_cap) {
		s->parked_cap = s->parked_cap ? 2 * s->parked_cap : 64;
		s->parked = xrealloc(s->parked, s->parked_cap * sizeof *s->parked);
	}
	size_t i = s->nparked++;
	while (i > 0 && s->parked[(i - 1) / 2]->deadline > r->deadline) {
		s->parked[i] = s->parked[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->parked[i] = r;
}

/* Take the earliest deadline off S's heap.  s->mu held; not empty. */
static http_req *
park_pop(http_server *s)
{
	http_req *top = s->parked[0], *last = s->parked[--s->nparked];
	size_t i = 0, n = s->nparked;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && s->parked[c + 1]->deadline < s->parked[c]->deadline)
			c++;
		if (s->parked[c]->deadline >= last->deadline)
			break;
		s->parked[i] = s->parked[c];
		i = c;
	}
	if (n > 0)
		s->parked[i] = last;
	return top;
}

/* Take R off the list and resume it.  Called with s->mu held. */
static void
http_unpark_locked(http_req *r, int expired)
{
	r->on_list = 0;
	__atomic_store_n(&r->expired, expired, __ATOMIC_RELAXED);
	/* After this the connection may be re-entered, finished and R
	 * freed on an MHD thread as soon as we drop s->mu: don't touch R
	 * afterwards. */
	MHD_resume_connection(r->conn);
}

void
http_park(http_req *r, int64_t deadline_mono_ms)
{
	http_park_as(r, deadline_mono_ms, HTTP_PARK_CLIENT);
}

void
http_park_as(http_req *r, int64_t deadline_mono_ms, unsigned cls)
{
	http_server *s = r->srv;

	if (r->resp != NULL || r->phase != REQ_READY) {
		log_warn("http: cannot park %s %s after replying", r->method,
		         r->path);
		return;
	}
	if (r->parking)
		return;
	r->parking = 1;
	__atomic_store_n(&r->expired, 0, __ATOMIC_RELAXED);
	/* Suspend before listing: once listed, the parker may resume it,
	 * and resuming a connection that is not suspended is undefined.
	 * Resuming before our handler returns is fine: MHD records it and
	 * re-enters us on its next loop. */
	MHD_suspend_connection(r->conn);
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		/* http_stop has already resumed everything it knew of and
		 * MHD_stop_daemon must find nothing suspended. */
		__atomic_store_n(&r->expired, 1, __ATOMIC_RELAXED);
		MHD_resume_connection(r->conn);
	} else if (s->wakes != r->wakes_seen) {
		/* A wake came while the handler was deciding to wait: what it
		 * announced may be what the handler looked for, so look again
		 * at once rather than sleep until the deadline. */
		MHD_resume_connection(r->conn);
	} else {
		r->deadline = deadline_mono_ms;
		r->park_class = cls;
		r->on_list = 1;
		park_push(s, r);
		/* The parker sleeps until the deadline it last saw: told only
		 * when this one is earlier (a wake that emptied the heap
		 * leaves it asleep until then, and it finds nothing due: one
		 * wake-up of the parker per long poll saved, at every wake). */
		if (deadline_mono_ms < s->parker_at)
			pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

int
http_parked_expired(const http_req *r)
{
	return __atomic_load_n(&r->expired, __ATOMIC_RELAXED);
}

void
http_wake_all(http_server *s)
{
	http_wake(s, ~0u);
}

void
http_wake(http_server *s, unsigned classes)
{
	pthread_mutex_lock(&s->mu);
	__atomic_store_n(&s->wakes, s->wakes + 1, __ATOMIC_RELEASE);
	/* Those of the classes resume; the others are pushed again into
	 * the emptied heap: O(n log n) under the lock, far less than
	 * re-entering their handlers. */
	size_t n = s->nparked;
	s->nparked = 0;
	for (size_t i = 0; i < n; i++) {
		http_req *r = s->parked[i];
		if (r->park_class & classes)
			http_unpark_locked(r, 0);
		else
			park_push(s, r);
	}
	pthread_mutex_unlock(&s->mu);
}

/* The parker thread: sleeps until the earliest deadline (or a change of
 * the list) and resumes whatever has expired.  Suspended connections
 * never time out in MHD, so this is what bounds a long poll. */
static void *
http_parker_main(void *arg)
{
	http_server *s = arg;
	int64_t now, earliest;
	struct timespec ts;

	pthread_mutex_lock(&s->mu);
	while (!s->quit) {
		now = clock_mono_ms();
		while (s->nparked > 0 && s->parked[0]->deadline <= now)
			http_unpark_locked(park_pop(s), 1);
		earliest = s->nparked > 0 ? s->parked[0]->deadline : INT64_MAX;
		s->parker_at = earliest;
		if (earliest == INT64_MAX) {
			pthread_cond_wait(&s->cv, &s->mu);
		} else {
			ts.tv_sec = earliest / 1000;
			ts.tv_nsec = (earliest % 1000) * 1000000;
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* MHD callbacks                                                       */
/* ------------------------------------------------------------------ */

/* Answer 413.  Before the upload starts (first call) this also spares
 * the client sending the body: MHD then closes the connection rather
 * than read it. */
static enum MHD_Result
http_too_big(http_req *r)
{
	http_reply_error(r, 413, "request body too large (limit %zu bytes%s)",
	                 r->limit, r->limit < r->srv->max_body ?
	                 " on this route before authentication" : "");
	if (r->resp == NULL)
		return MHD_NO;
	return http_queue(r);
}

static int
http_declared_too_big(struct MHD_Connection *c, size_t max)
{
	const char *cl;
	char *end;
	unsigned long long n;

	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL || *cl < '0' || *cl > '9')
		return 0;       /* absent or malformed: MHD judges that */
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno == ERANGE)
		return 1;
	return n > max;
}

/* Append upload data; 0, or -1 if the body would exceed max_body. */
static int
http_append(http_req *r, const char *data, size_t n)
{
	size_t max = r->limit, cap;

	if (n > max - r->body_len)
		return -1;
	if (r->body_len + n + 1 > r->body_cap) {
		cap = r->body_cap ? r->body_cap : 4096;
		while (cap < r->body_len + n + 1)
			cap = cap > max / 2 ? max + 1 : cap * 2;
		r->body = xrealloc(r->body, cap);
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

static enum MHD_Result
http_run_handler(http_req *r)
{
	http_server *s = r->srv;

	r->phase = REQ_READY;
	r->parking = 0;
	/* Before the handler looks for news: a wake from now on must re-run
	 * it even if it comes before the handler parks (see http_park). */
	r->wakes_seen = __atomic_load_n(&s->wakes, __ATOMIC_ACQUIRE);
	s->handler(r, s->ud);
	if (r->resp != NULL)
		return http_queue(r);
	if (r->parking)
		return MHD_YES;
	http_reply_error(r, 500, "internal: no reply");
	if (r->resp == NULL)
		return MHD_NO;
	return http_queue(r);
}

/* First call, headers only: set R up, let the gate look at it, refuse a
 * declared body over the limit. */
static enum MHD_Result
http_headers_in(http_server *s, http_req *r, struct MHD_Connection *c,
                const char *url, const char *method)
{
	r->srv = s;
	r->conn = c;
	r->method = xstrdup(method != NULL ? method : "");
	r->path = xstrdup(url != NULL ? url : "");
	r->phase = REQ_BODY;
	r->limit = s->max_body;
	if (s->gate != NULL && s->gate(r, s->ud)) {
		/* Refused on its headers: its body is never read. */
		if (r->resp == NULL)
			return MHD_NO;
		return http_queue(r);
	}
	if (r->sink == NULL && http_declared_too_big(c, r->limit)) {
		r->too_big = 1;
		if (http_too_big(r) == MHD_YES)
			return MHD_YES;
		/* Could not answer early: discard, answer at the end. */
		r->phase = REQ_BODY;
	}
	return MHD_YES;
}

/* Has R, still arriving, outlived the request deadline?  Then it is
 * closed: the idle timeout alone lets a client trickle forever. */
static int
http_overdue(const http_req *r)
{
	http_server *s = r->srv;

	if (r->phase != REQ_BODY ||
	    clock_mono_ms() - r->t0 <= s->request_timeout_ms + r->extra_ms)
		return 0;
	char addr[64];
	http_client_addr(r, addr, sizeof addr);
	log_info("http: closed %s %.100s from %s: not all in after %lld ms "
	         "(master.request_timeout)", r->method, r->path, addr,
	         (long long)s->request_timeout_ms);
	return 1;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version,
            const char *upload_data, size_t *upload_data_size,
            void **con_cls)
{
	http_server *s = cls;
	http_req *r = *con_cls;

	if (r == NULL || r->method == NULL) {
		/* R was made by http_uri_log(), which saw the raw request
		 * target. */
		if (r == NULL) {
			r = xcalloc(1, sizeof *r);
			r->t0 = clock_mono_ms();
		}
		*con_cls = r;
		r->srv = s;
		r->conn = c;
		if (http_overdue(r))
			return MHD_NO;
		return http_headers_in(s, r, c, url, method);
	}
	if (http_overdue(r))
		return MHD_NO;
	if (*upload_data_size != 0 && r->sink != NULL) {
		/* Streamed: handed on, never kept (the sink bounds it). */
		r->sink(r->sink_ud, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!r->too_big && r->phase == REQ_BODY &&
		    http_append(r, upload_data, *upload_data_size) < 0) {
			/* Chunked (or lying) uploads are found out here;
			 * drop what we have and swallow the rest. */
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			r->body_len = r->body_cap = 0;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->phase == REQ_DONE)
		return MHD_YES;
	if (r->too_big)
		return http_too_big(r);
	return http_run_handler(r);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
               enum MHD_RequestTerminationCode toe)
{
	http_req *r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->state != NULL && r->state_free != NULL)
		r->state_free(r->state);
	if (r->hook_ud != NULL && r->hook_free != NULL)
		r->hook_free(r->hook_ud);
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	http_free_hdrs(r);
	free(r->body);
	free(r->method);
	free(r->path);
	free(r->uri);
	free(r);
}

/* MHD decodes and splits the query; signatures cover the target exactly
 * as the client sent it, so keep that too. */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	http_req *r = xcalloc(1, sizeof *r);
	r->t0 = clock_mono_ms();        /* the request deadline runs from here */
	r->uri = xstrndup(uri != NULL ? uri : "", 8192);
	return r;
}

/* libmicrohttpd's own messages: its format strings, not ours. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap);
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_warn("http: %s", msg);
	free(msg);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

/* Parse LISTEN:PORT into SA; "localhost" means 127.0.0.1, NULL or ""
 * too (bind wider only when asked).  Also formats "addr:port" into
 * NAME for messages. */
static int
http_sockaddr(const char *listen, int port, struct sockaddr_storage *sa,
              socklen_t *salen, char **name, char **err)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

	if (listen == NULL || *listen == '\0' ||
	    strcmp(listen, "localhost") == 0)
		listen = "127.0.0.1";
	if (port < 0 || port > 65535)
		return err_set(err, -EINVAL, "invalid HTTP port %d", port);
	memset(sa, 0, sizeof *sa);
	if (inet_pton(AF_INET, listen, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*salen = sizeof *sin;
		*name = xasprintf("%s:%d", listen, port);
		return 0;
	}
	if (inet_pton(AF_INET6, listen, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*salen = sizeof *sin6;
		*name = xasprintf("[%s]:%d", listen, port);
		return 0;
	}
	return err_set(err, -EINVAL,
	              "invalid listen address \"%.100s\" (want an IPv4 or "
	              "IPv6 literal, or localhost)", listen);
}

/* MHD_start_daemon does not say why it failed; bind the address
 * ourselves first (with the SO_REUSEADDR MHD also uses) to get errno. */
static int
http_probe_bind(const struct sockaddr_storage *sa, socklen_t salen)
{
	int fd, one = 1, rc = 0;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Undo what http_start() did before the daemon: the parker thread. */
static void
http_start_undo(http_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->parker, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->parked);
	free(s);
}

/* A server for O, H and UD, before its parker thread and daemon. */
static http_server *
http_server_new(const struct http_opts *o, http_handler h, void *ud)
{
	http_server *s = xcalloc(1, sizeof *s);
	pthread_condattr_t ca;

	s->handler = h;
	s->gate = o->gate;
	s->ud = ud;
	s->request_timeout_ms = 1000LL * (o->request_timeout_s > 0 ?
	                        o->request_timeout_s : HTTP_DEFAULT_REQUEST_S);
	s->max_body = o->max_body ? o->max_body : HTTP_DEFAULT_MAX_BODY;
	if (s->max_body > SIZE_MAX / 4)
		s->max_body = SIZE_MAX / 4;    /* keeps buffer growth exact */
	pthread_mutex_init(&s->mu, NULL);
	s->parker_at = INT64_MAX;
	/* Deadlines are CLOCK_MONOTONIC (clock_mono_ms()); wait on the same. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

int
http_start(const struct http_opts *o, http_handler h, void *ud,
           http_server **out, char **err)
{
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	char *name = NULL;
	http_server *s;
	unsigned int flags, threads, timeout;
	int rc;

	*out = NULL;
	if (o == NULL || h == NULL)
		return err_set(err, -EINVAL, "http_start: no options or handler");
	pthread_once(&lm_once, http_load_mhd);
	if (lm_rc != 0)
		return err_set(err, -ELIBACC, "cannot start the HTTP server: %s",
		              lm_error);
	rc = http_sockaddr(o->listen, o->port, &sa, &salen, &name, err);
	if (rc < 0)
		return rc;
	if (o->port != 0 && (rc = http_probe_bind(&sa, salen)) < 0) {
		rc = err_set(err, rc, "cannot listen on %s: %s", name,
		            strerror(-rc));
		free(name);
		return rc;
	}

	s = http_server_new(o, h, ud);
	if ((rc = pthread_create(&s->parker, NULL, http_parker_main, s)) != 0) {
		rc = err_set(err, -rc, "cannot start HTTP parker thread: %s",
		            strerror(rc));
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		free(name);
		return rc;
	}

	/* MHD_USE_TURBO is left out: it only saves a poll before
	 * accept/read and is documented as more experimental, and our
	 * load is long polls, not many short requests. */
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	        MHD_USE_ERROR_LOG;
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ?
	         MHD_USE_EPOLL : MHD_USE_POLL;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	threads = o->threads > 0 ? (unsigned int)o->threads : 1;
	/* Room for the connections: a soft limit of 1,024 files (systemd's
	 * default) is less than they may be; raised up to the hard limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < HTTP_CONNECTION_LIMIT + 256) {
		rl.rlim_cur = rl.rlim_max < HTTP_CONNECTION_LIMIT + 256 ?
		              rl.rlim_max : HTTP_CONNECTION_LIMIT + 256;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	timeout = o->conn_timeout_s > 0 ? (unsigned int)o->conn_timeout_s :
	          HTTP_DEFAULT_TIMEOUT_S;
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key_pem },
		/* GnuTLS's defaults, without TLS 1.0 and 1.1. */
		{ MHD_OPTION_HTTPS_PRIORITIES, 0,
		  (void *)"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1" },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->tls = o->tls_cert_pem != NULL && o->tls_key_pem != NULL;
	if (s->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		http_start_undo(s);
		free(name);
		return err_set(err, -ENOTSUP, "this libmicrohttpd was built "
		              "without HTTPS support");
	}
	if (s->tls)
		flags |= MHD_USE_TLS;
	else
		tls_opts[0].option = MHD_OPTION_END;
	errno = 0;
	s->daemon = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL,
	    http_access, s,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, s,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTION_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)
	        (o->per_ip_connections > 0 ? o->per_ip_connections :
	         HTTP_DEFAULT_PER_IP),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_ARRAY, tls_opts,
	    MHD_OPTION_END);
	if (s->daemon == NULL) {
		int e = errno;
		rc = err_set(err, e ? -e : -EIO, "cannot listen on %s: %s", name,
		            e ? strerror(e) : "libmicrohttpd failed to start "
		            "(see log)");
		http_start_undo(s);
		free(name);
		return rc;
	}
	*out = s;
	if (o->port == 0) {
		/* Say which port the kernel picked. */
		free(name);
		name = NULL;
		http_sockaddr(o->listen, http_port(s), &sa, &salen, &name, NULL);
	}
	log_info("http: listening on %s (%u threads, %s%s)",
	         name != NULL ? name : "?", threads,
	         (flags & MHD_USE_EPOLL) ? "epoll" : "poll",
	         s->tls ? ", TLS" : "");
	free(name);
	return 0;
}

int
http_is_tls(const http_server *s)
{
	return s != NULL && s->tls;
}

int
http_port(const http_server *s)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return info != NULL ? (int)info->port : -1;
}

void
http_stop(http_server *s)
{
	if (s == NULL)
		return;
	/* MHD_stop_daemon with a suspended connection is an API violation,
	 * so resume every parked request (as expired) and make later parks
	 * resume at once.  No MHD_quiesce_daemon first: with epoll, its
	 * epoll_ctl(DEL) of the listen socket races the polling thread's
	 * own and MHD aborts on the loser's ENOENT (an open libmicrohttpd
	 * defect, seen here as "Failed to remove listen FD from epoll
	 * set").  Requests arriving meanwhile park and resume at once. */
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	s->quit = 1;
	for (size_t i = 0; i < s->nparked; i++)
		http_unpark_locked(s->parked[i], 1);
	s->nparked = 0;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->parker, NULL);
	MHD_stop_daemon(s->daemon);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->parked);
	free(s);
}

void
http_stats(const http_server *s, uint64_t *requests, uint64_t *errors4xx,
           uint64_t *errors5xx)
{
	if (requests != NULL)
		*requests = __atomic_load_n(&s->n_requests, __ATOMIC_RELAXED);
	if (errors4xx != NULL)
		*errors4xx = __atomic_load_n(&s->n_4xx, __ATOMIC_RELAXED);
	if (errors5xx != NULL)
		*errors5xx = __atomic_load_n(&s->n_5xx, __ATOMIC_RELAXED);
}
