/* SPDX-License-Identifier: MIT */
/*
 * http.h - the master's HTTP server, on libmicrohttpd; the only module that
 * includes microhttpd.h.
 *
 * One internal epoll thread pool accepts connections and reads request
 * bodies (bounded by max_body: a larger body gets 413 with a JSON error
 * and never reaches the handler; or, for a request the gate streams,
 * handed to the gate's sink piece by piece and not kept).  When a request is complete, the handler
 * is called on a pool thread; it must either reply (http_reply*) or park
 * the request (http_park) for a long poll.  A parked request is suspended
 * (MHD_suspend_connection) and its handler is called again, with the same
 * http_req and its state, after http_wake_all() or when its deadline
 * passes - so handlers must be written to be re-entered.
 */
#ifndef KILN_HTTP_H
#define KILN_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define HTTP_DEFAULT_PER_IP 128         /* connections per client address */

typedef struct http_server http_server;
typedef struct http_req http_req;

typedef void (*http_handler)(http_req *r, void *ud);
/* Called once per request as soon as its headers are in, before a byte
 * of its body is read, on an MHD thread with the handler's UD: it may
 * refuse R at once (reply, e.g. 401, and return 1: the body is never
 * read and the connection closes), or lower the body R may send
 * (http_limit_body), or have the body streamed to a sink of its own
 * (http_stream_body), and return 0. */
typedef int (*http_gate)(http_req *r, void *ud);

struct http_opts {
	const char *listen;     /* address to bind, e.g. "127.0.0.1", "0.0.0.0", "::1";
	                         * "localhost" or NULL = 127.0.0.1 */
	int port;               /* 0 = any free port (see http_port) */
	int threads;            /* MHD thread pool size, >= 1 */
	size_t max_body;        /* bytes; 0 = 8 MiB */
	int conn_timeout_s;     /* idle connection timeout; <= 0 = 30 s */
	/* Absolute: a request whose headers and body have not all arrived
	 * this long after its request line is closed; <= 0 = 60 s. */
	int request_timeout_s;
	int per_ip_connections; /* open connections per client address;
	                         * <= 0 = HTTP_DEFAULT_PER_IP */
	http_gate gate;         /* NULL: every request may send max_body */
	/* HTTPS when both are given: the certificate chain and its private
	 * key, PEM text (copied by libmicrohttpd at start). */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

/* Start serving; 0, or a negative errno with *err ("cannot listen on
 * 127.0.0.1:8080: Address already in use").  H is called on MHD threads,
 * concurrently for different requests. */
int http_start(const struct http_opts *o, http_handler h, void *ud,
               http_server **out, char **err);
/* Is S serving HTTPS?  (0 for NULL.) */
int http_is_tls(const http_server *s);
/* Stop accepting, resume parked requests (as expired), close every
 * connection and free S.  Must not race http_wake_all(S). */
void http_stop(http_server *s);
int http_port(const http_server *s);

/* Request accessors; returned strings are owned by the request. */
const char *http_method(const http_req *r);
const char *http_path(const http_req *r);         /* without the query */
/* The request target exactly as sent (path and raw query). */
const char *http_uri(const http_req *r);
const char *http_query(const http_req *r, const char *name); /* or NULL */
const char *http_header(const http_req *r, const char *name); /* or NULL */
const char *http_cookie(const http_req *r, const char *name); /* or NULL */
/* The client's address as text ("" if unknown). */
void http_client_addr(const http_req *r, char *buf, size_t len);
const char *http_body(const http_req *r, size_t *len); /* NUL-terminated */
/* From the gate: R may send at most N body bytes (never more than
 * max_body); a larger declared body gets 413 before it is read. */
void http_limit_body(http_req *r, size_t n);
/* What a streamed body's pieces are handed to, in order, on an MHD
 * thread: UD as given to http_stream_body, and LEN bytes at DATA
 * (borrowed for the call). */
typedef void (*http_body_fn)(void *ud, const void *data, size_t len);
/* From the gate: R's body is not kept but handed to FN with UD as it
 * arrives; max_body does not apply (the caller bounds the body, by its
 * declared LENGTH), and R's request deadline grows by LENGTH at
 * 1 MiB/s.  http_body() then gives "".  FN must not reply; the handler,
 * called once the body is all in, does. */
void http_stream_body(http_req *r, uint64_t length, http_body_fn fn,
                      void *ud);

/* The label R is counted under in /metrics (a route's pattern, "static"
 * or "other"; "other" until set).  LABEL must outlive the server: a
 * string constant or a row of a static table. */
void http_set_route(http_req *r, const char *label);

/* Per-request state that survives parking; FREE_FN (may be NULL) is
 * called when the request ends. */
void *http_state(const http_req *r);
void http_set_state(http_req *r, void *state, void (*free_fn)(void *));

/* Called with each reply to R as it is made, before it goes out: its
 * STATUS and BODY (LEN bytes), or for a file (http_reply_fd) BODY NULL,
 * LEN its size and SHA256 the hash its maker declared (NULL if none).
 * It may add headers (http_add_header); it must not reply. */
typedef void (*http_reply_hook)(http_req *r, int status, const void *body,
                                size_t len, const char *sha256, void *ud);
/* Pass every reply to R through FN (see above), with UD; FREE_FN (may be
 * NULL) is called on UD when the request ends.  The master signs its
 * replies to signed requests so (api.c). */
void http_set_reply_hook(http_req *r, http_reply_hook fn, void *ud,
                         void (*free_fn)(void *));
/* The UD of R's reply hook if that is FN, else NULL: what an earlier
 * entry of a parked request's handler set. */
void *http_reply_hook_ud(const http_req *r, http_reply_hook fn);

/* Add a response header to the reply that follows. */
void http_add_header(http_req *r, const char *name, const char *value);
/* Reply with BODY (copied). */
void http_reply(http_req *r, int status, const char *content_type,
                const void *body, size_t len);
/* Reply with TEXT (copied) as JSON answers are: to a GET with 200, a weak
 * ETag and 304 when If-None-Match names it; gzipped above GZIP_MIN bytes
 * when the client accepts it (not when signed). */
void http_reply_tagged(http_req *r, int status, const char *content_type,
                       const char *text, size_t len);
/* Reply with SIZE bytes read from FD (a file; sent with sendfile() where
 * the system has it, so a large artifact is neither read into memory nor
 * copied).  SHA256 is the file's SHA-256 in hex if the caller knows it (a
 * content-addressed artifact, whose name it is), else NULL; it goes to
 * the reply hook, which cannot read the file.  Takes ownership of FD: it
 * is closed when the reply is done. */
void http_reply_fd(http_req *r, int status, const char *content_type, int fd,
                   uint64_t size, const char *sha256);
/* Reply with JSON; takes ownership of J. */
void http_reply_json(http_req *r, int status, json_t *j);
/* Reply {"error": MESSAGE, "status": STATUS}. */
void http_reply_error(http_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Suspend R until http_wake_all() or DEADLINE_MONO_MS (see clock_mono_ms() in
 * clock.h); then the handler is called again.  http_parked_expired() tells
 * the re-entered handler whether the deadline passed.  A wake that came
 * after the handler was entered but before it parked is not lost: the
 * handler is called again at once. */
void http_park(http_req *r, int64_t deadline_mono_ms);
/* Classes of parked requests, for http_wake(): http_park() parks as
 * HTTP_PARK_CLIENT; a worker's exchange parks as HTTP_PARK_WORKER, so that
 * news only clients wait for (a job finished) does not re-enter every
 * worker's long poll. */
#define HTTP_PARK_CLIENT 1u
#define HTTP_PARK_WORKER 2u
void http_park_as(http_req *r, int64_t deadline_mono_ms, unsigned cls);
int http_parked_expired(const http_req *r);
/* Resume every parked request of CLASSES (HTTP_PARK_* bits); a handler
 * entered but not yet parked is re-entered at once whatever its class.
 * Thread-safe. */
void http_wake(http_server *s, unsigned classes);
/* http_wake() of every class. */
void http_wake_all(http_server *s);

/* Requests this server answered, per status class (a check for tests;
 * /metrics counts by route and status through metrics.c). */
void http_stats(const http_server *s, uint64_t *requests, uint64_t *errors4xx,
                uint64_t *errors5xx);

#endif
