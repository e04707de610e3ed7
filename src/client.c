/* SPDX-License-Identifier: MIT */
/*
 * client.c - the HTTP client for the master's API (see client.h), used by
 * workers (heartbeats, task pulls, results) and by the CLI.
 *
 * Each client keeps one connection alive and reuses it, so consecutive
 * requests travel over it: a worker that reports hundreds of results a
 * second must not pay a TCP handshake for each.  A connection must never
 * be used by two threads at once, so a mutex serialises requests; a caller
 * that needs requests in parallel (say, a long poll next to heartbeats)
 * should make a client per thread.
 *
 * It speaks HTTP/1.1 itself, one request at a time on a kept-alive
 * socket, Content-Length or chunked replies, a deadline per request: that
 * is all the API needs, and it keeps a worker small (libcurl alone would
 * bring OpenSSL, Kerberos, LDAP, SSH and more, about 5.5 MB of an idle
 * worker's 12.7).  An https:// master is spoken to over TLS on the same
 * socket (tls.h), its certificate checked against the cluster CA derived
 * from the secret (cert.h), a CA bundle given, or the system's store.
 *
 * A client with the cluster secret signs each request (auth.h) with a
 * nonce of its own: a random session picked in client_new() and a
 * counter that the mutex keeps in step with the requests.  It takes the
 * master's reply only if it is signed over that nonce (X-Kiln-Signature):
 * the reply parser hands the header back with the status and the body,
 * and client_exchange() judges them.  So a worker runs nothing that its
 * master did not send, even on plain HTTP.  The one exception is an
 * unsigned error that the master sends before it knows the signer (a
 * refused signature or nonce, a body too large, a full replay table): it
 * is taken as an error whose message is all that is kept, never as data
 * (client_unsigned_error).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "cert.h"
#include "client.h"
#include "client_int.h"
#include "clock.h"
#include "err.h"
#include "hash.h"
#include "tls.h"
#include "xalloc.h"

#define CLIENT_MAX_REPLY    (64u << 20)    /* 64 MiB */
#define CLIENT_TIMEOUT_MS   30000L
#define CLIENT_CONNECT_MS   2000L
/* What a body read from a file is sent through: the most of it in memory
 * at once, whatever its size. */
#define CLIENT_FILE_CHUNK   (256u << 10)

/* A request's body: LEN bytes at DATA, or, if FD >= 0, LEN bytes read
 * from FD at offset 0 on (pread: FD's offset is left alone) whose SHA-256
 * SHA the caller knows (it is signed without reading the file twice). */
struct client_body {
	const char *data;
	size_t len;
	int fd;
	const char *sha;
};

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define CLIENT_MAX_HEADER   (64u << 10)    /* a reply's status + headers */

struct client {
	char *base_url;         /* without a trailing '/' */
	char *id;
	char *secret;
	char *token;
	pthread_mutex_t mu;     /* guards the connection */
	/* Where to connect, and the kept-alive connection. */
	int https;
	char *host;             /* name or address, IPv6 without brackets */
	char *port;
	char *authority;        /* HOST[:PORT] as in the URL, for Host: */
	char *prefix;           /* path of the base URL, "" if none */
	int fd;                 /* -1: not connected */
	/* https: what to trust (made at the first connection), and the
	 * session on fd. */
	char *ca_file;          /* a PEM bundle, or NULL */
	char *ca_secret;        /* else the CA derived from this secret */
	tls_trust *trust;
	tls_conn *tls;
	char why[512];          /* a TLS failure, for the message */
	/* Signing (with a secret): the nonces' session, and the counter of
	 * the last request signed (under mu). */
	uint64_t session;
	uint64_t counter;
	char *extra;            /* client_set_header(): "Name: value\r\n" */
};

/* A reply's X-Kiln-Signature, as the parser found it. */
struct client_sig {
	int state;              /* 0 none, 1 one (in hex), -1 malformed or
	                         * more than one */
	char hex[AUTH_REPLY_SIG_HEX + 1];
};

/* A reply body being received: into DATA, or for a streamed download
 * (client_get_stream) handed to SINK as it arrives. */
struct client_buf {
	char *data;
	size_t len, cap;
	int overflow;
	client_sink sink;       /* NULL: keep the body in DATA */
	void *sink_ud;
	uint64_t sink_max;
	int sunk;               /* the body was for SINK */
	int sink_rc;            /* what SINK failed with, or 0 */
	hash_stream *sunk_hash; /* SHA-256 of what SINK took (owned) */
	struct client_sig sig;  /* the reply's signature header */
};

/* Split the http(s):// URL C->base_url into host, port, authority and
 * path prefix; URL is the caller's spelling of it, for the message. */
static int
client_parse_url(client *c, const char *url, char **err)
{
	const char *p, *q;
	size_t skip = c->https ? 8 : 7;

	/* Trailing slashes were dropped: "http://" itself is now shorter. */
	if (strlen(c->base_url) <= skip)
		goto bad;
	p = c->base_url + skip;
	if (*p == '[') {
		q = strchr(p, ']');
		if (q == NULL)
			goto bad;
		c->host = xstrndup(p + 1, (size_t)(q - p - 1));
		q++;
	} else {
		q = p + strcspn(p, ":/?#");
		c->host = xstrndup(p, (size_t)(q - p));
	}
	if (c->host[0] == '\0')
		goto bad;
	if (*q == ':') {
		size_t n = strcspn(q + 1, "/?#");
		char *end;
		c->port = xstrndup(q + 1, n);
		long port = strtol(c->port, &end, 10);
		if (n == 0 || *end != '\0' || port < 1 || port > 65535)
			goto bad;
		q += 1 + n;
	} else {
		c->port = xstrdup(c->https ? "443" : "80");
	}
	if (*q != '\0' && *q != '/')
		goto bad;
	c->authority = xstrndup(p, (size_t)(q - p));
	c->prefix = xstrdup(q);
	return 0;
bad:
	return err_set(err, -EINVAL, "master URL '%s' is not "
	              "http[s]://HOST[:PORT][/PATH]", url);
}

/* Drop the kept-alive connection, if any. */
static void
client_disconnect(client *c)
{
	tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
client_set_ca(client *c, const char *ca_file, const char *ca_secret)
{
	pthread_mutex_lock(&c->mu);
	free(c->ca_file);
	c->ca_file = xstrdup(ca_file);
	xfree_secret(c->ca_secret);
	c->ca_secret = xstrdup(ca_secret);
	tls_trust_free(c->trust);
	c->trust = NULL;
	pthread_mutex_unlock(&c->mu);
}

int
client_new(const char *base_url, const char *id, const char *secret,
           const char *token, client **out, char **err)
{
	*out = NULL;
	if (base_url == NULL || (strncmp(base_url, "http://", 7) != 0 &&
	                         strncmp(base_url, "https://", 8) != 0))
		return err_set(err, -EINVAL, "master URL '%s' must start with "
		              "http:// or https://",
		              base_url != NULL ? base_url : "");
	if (secret != NULL && auth_init() < 0)
		return err_set(err, -EIO, "cannot initialise libsodium");

	client *c = xcalloc(1, sizeof *c);
	size_t n = strlen(base_url);
	while (n > 0 && base_url[n - 1] == '/')
		n--;
	c->base_url = xstrndup(base_url, n);
	c->id = xstrdup(id != NULL ? id : "cli");
	c->secret = xstrdup(secret);
	c->token = xstrdup(token);
	c->fd = -1;
	c->https = strncmp(base_url, "https://", 8) == 0;
	c->ca_secret = xstrdup(secret);
	if (secret != NULL)
		c->session = auth_session_new();
	pthread_mutex_init(&c->mu, NULL);
	int rc = client_parse_url(c, base_url, err);
	if (rc != 0) {
		client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
client_free(client *c)
{
	if (c == NULL)
		return;
	client_disconnect(c);
	tls_trust_free(c->trust);
	free(c->ca_file);
	pthread_mutex_destroy(&c->mu);
	free(c->base_url);
	free(c->id);
	/* A secret should not outlive its use in a core dump. */
	xfree_secret(c->secret);
	xfree_secret(c->ca_secret);
	free(c->token);
	free(c->host);
	free(c->port);
	free(c->authority);
	free(c->prefix);
	free(c->extra);
	free(c);
}

int
client_set_header(client *c, const char *name, const char *value)
{
	if (name != NULL && value != NULL &&
	    (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL))
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	free(c->extra);
	c->extra = name != NULL && value != NULL ?
	           xasprintf("%s: %s\r\n", name, value) : NULL;
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int
client_add_header(client *c, const char *name, const char *value)
{
	if (name == NULL || value == NULL || strpbrk(name, "\r\n:") != NULL ||
	    strpbrk(value, "\r\n") != NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	char *old = c->extra;
	c->extra = xasprintf("%s%s: %s\r\n", old ? old : "", name, value);
	free(old);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Room in B for N more bytes and a NUL. */
static void
client_buf_reserve(struct client_buf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

/* Append N bytes to B, refusing to grow past CLIENT_MAX_REPLY. */
static int
client_buf_add(struct client_buf *b, const void *p, size_t n)
{
	if (n > CLIENT_MAX_REPLY - b->len) {
		b->overflow = 1;
		return -1;
	}
	client_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Note a reply header's VALUE (VL bytes, blanks around it) as its
 * X-Kiln-Signature in S. */
static void
client_note_sig(struct client_sig *s, const char *v, size_t vl)
{
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t' ||
	                  v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	if (s->state != 0 || vl != AUTH_REPLY_SIG_HEX) {
		s->state = -1;
		return;
	}
	memcpy(s->hex, v, vl);
	s->hex[vl] = '\0';
	s->state = 1;
}

/* ------------------------------------------------------------ HTTP/1.1 */

/* Wait until FD is ready for EVENTS or DEADLINE (clock_mono_ms) passes: 0, or
 * -ETIMEDOUT, or a negative errno. */
static int
plain_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* What an https client trusts, made once: see client_set_ca(). */
static int
client_trust(client *c)
{
	char *pem = NULL, *err = NULL;
	int rc;

	if (c->trust != NULL)
		return 0;
	if (c->ca_file == NULL && c->ca_secret != NULL &&
	    (rc = cert_ca_pem(c->ca_secret, &pem, &err)) < 0)
		goto out;
	rc = tls_trust_new(pem, c->ca_file, &c->trust, &err);
out:
	if (rc < 0)
		snprintf(c->why, sizeof c->why, "%s", err);
	free(err);
	free(pem);
	return rc;
}

/* The TLS handshake on the new connection c->fd, the master's certificate
 * checked; 0, or a negative errno with c->why set. */
static int
client_tls_start(client *c, int64_t deadline)
{
	char *err = NULL;
	int rc;

	if ((rc = client_trust(c)) < 0)
		return rc;
	if ((rc = tls_conn_new(c->trust, c->fd, c->host, &c->tls, &err)) < 0) {
		snprintf(c->why, sizeof c->why, "%s", err);
		free(err);
		return rc;
	}
	while ((rc = tls_handshake(c->tls)) == -EAGAIN)
		if ((rc = plain_wait(c->fd, tls_wants(c->tls), deadline)) != 0)
			return rc;
	if (rc != 0)
		snprintf(c->why, sizeof c->why, "%s", tls_why(c->tls));
	return rc;
}

/* Connect to the master (and, for https, make sure it is the master);
 * 0 with c->fd set, or a negative errno. */
static int
plain_connect(client *c, int64_t deadline, const char **why)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
	                          .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(c->host, c->port, &hints, &res);
	if (gai != 0) {
		*why = gai_strerror(gai);
		return -EHOSTUNREACH;
	}
	int rc = -ECONNREFUSED;
	int64_t cdeadline = clock_mono_ms() + CLIENT_CONNECT_MS;
	if (cdeadline > deadline)
		cdeadline = deadline;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		                SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			rc = errno == EINPROGRESS ? plain_wait(fd, POLLOUT,
			                                       cdeadline) : -errno;
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			                          &sl) == 0 && soerr != 0)
				rc = -soerr;
			if (rc != 0) {
				close(fd);
				continue;
			}
		}
		/* Requests are small and answered at once: no Nagle delay. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		rc = 0;
		break;
	}
	freeaddrinfo(res);
	if (rc == 0 && c->https && (rc = client_tls_start(c, deadline)) != 0) {
		*why = c->why;
		client_disconnect(c);
	}
	return rc;
}

/* Send LEN bytes at P on the connection, whole; 0 or a negative errno. */
static int
conn_send(client *c, const char *p, size_t len, int64_t deadline)
{
	while (len > 0) {
		ssize_t k;
		short wants = POLLOUT;
		if (c->tls != NULL) {
			k = tls_send(c->tls, p, len);
			if (k == -EAGAIN)
				wants = tls_wants(c->tls);
			else if (k < 0)
				return (int)k;
		} else {
			k = send(c->fd, p, len, MSG_NOSIGNAL);
			if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return -errno;
		}
		if (k < 0) {
			int rc = plain_wait(c->fd, wants, deadline);
			if (rc != 0)
				return rc;
			continue;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Receive up to LEN bytes into P, waiting for at least one: the number
 * received, 0 at the end of the stream, or a negative errno. */
static ssize_t
conn_recv(client *c, void *p, size_t len, int64_t deadline)
{
	for (;;) {
		ssize_t k;
		short wants = POLLIN;
		if (c->tls != NULL) {
			k = tls_recv(c->tls, p, len);
			if (k >= 0 || k != -EAGAIN)
				return k;
			wants = tls_wants(c->tls);
		} else {
			k = recv(c->fd, p, len, 0);
			if (k >= 0)
				return k;
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return -errno;
		}
		int rc = plain_wait(c->fd, wants, deadline);
		if (rc != 0)
			return rc;
	}
}

/* Read what is there (at least one byte) into B: the number of bytes
 * read, 0 at the end of the stream, or a negative errno. */
static ssize_t
plain_recv(client *c, struct client_buf *b, size_t limit, int64_t deadline)
{
	if (b->len >= limit)
		return -EFBIG;
	/* Room for 16 KiB more, but never past LIMIT (a body of known
	 * length was given exactly its size). */
	client_buf_reserve(b, limit - b->len < 16384 ? limit - b->len : 16384);
	ssize_t k = conn_recv(c, b->data + b->len, b->cap - b->len - 1,
	                      deadline);
	if (k > 0) {
		b->len += (size_t)k;
		b->data[b->len] = '\0';
	}
	return k;
}

/* Hand a 2xx body of WANT bytes to B's sink: the HAVE bytes that came
 * with the head at P, then the rest as it arrives, through a buffer of
 * fixed size (a large artifact never sits in memory whole).  0 or a
 * negative errno. */
static int
plain_sink_body(client *c, const char *p, size_t have, uint64_t want,
                struct client_buf *b, int64_t deadline)
{
	b->sunk = 1;            /* the body was the sink's, even if refused */
	if (want > b->sink_max) {
		b->overflow = 1;
		return -EFBIG;
	}
	if (have > want)
		have = (size_t)want;
	int rc = have ? b->sink(b->sink_ud, p, have) : 0;
	uint64_t got = have;
	size_t cap = 256u << 10;
	char *chunk = rc == 0 && got < want ? xmalloc(cap) : NULL;
	while (rc == 0 && got < want) {
		size_t n = want - got < cap ? (size_t)(want - got) : cap;
		ssize_t k = conn_recv(c, chunk, n, deadline);
		if (k > 0) {
			got += (uint64_t)k;
			rc = b->sink(b->sink_ud, chunk, (size_t)k);
		} else {
			free(chunk);
			return k == 0 ? -EPROTO : (int)k;
		}
	}
	free(chunk);
	if (rc != 0)
		b->sink_rc = rc < 0 ? rc : -EIO;
	return b->sink_rc;
}

/* strerror(E), thread-safe, whichever strerror_r the C library has. */
static const char *
client_strerror(int e, char *buf, size_t len)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	return strerror_r(e, buf, len);
#else
	return strerror_r(e, buf, len) == 0 ? buf : "error";
#endif
}

/* Case-insensitive: does the comma-separated header VALUE hold TOKEN? */
static int
header_has(const char *value, size_t len, const char *token)
{
	size_t tl = strlen(token);
	for (size_t i = 0; i + tl <= len; i++)
		if (strncasecmp(value + i, token, tl) == 0)
			return 1;
	return 0;
}

/* Decode the chunked body in IN (from offset *OFF) into OUT.  1 when the
 * last chunk and the trailers are in, 0 if more bytes are needed, -EPROTO
 * if it is malformed, -EFBIG if too large. */
static int
dechunk(const struct client_buf *in, size_t *off, struct client_buf *out)
{
	for (;;) {
		const char *p = in->data + *off;
		size_t left = in->len - *off;
		const char *eol = memmem(p, left, "\r\n", 2);
		if (eol == NULL)
			return left > 1024 ? -EPROTO : 0;
		char *end;
		unsigned long long size = strtoull(p, &end, 16);
		if (end == p || (end < eol && *end != ';' && *end != ' '))
			return -EPROTO;
		size_t head = (size_t)(eol - p) + 2;
		if (size == 0) {
			/* Trailers, then an empty line. */
			const char *q = eol + 2;
			size_t qleft = left - head;
			if (qleft >= 2 && q[0] == '\r' && q[1] == '\n') {
				*off += head + 2;
				return 1;
			}
			return memmem(q, qleft, "\r\n\r\n", 4) != NULL ? 1 : 0;
		}
		if (size > CLIENT_MAX_REPLY)
			return -EFBIG;
		if (left < head + size + 2)
			return 0;
		if (client_buf_add(out, p + head, (size_t)size) != 0)
			return -EFBIG;
		*off += head + (size_t)size + 2;
	}
}

/* Status line and headers of a reply. */
struct plain_reply {
	int status;
	int chunked;
	int close;              /* the server closes after this reply */
	long long length;       /* Content-Length, -1 if none */
	struct client_sig sig;  /* X-Kiln-Signature */
};

static int
plain_parse_head(const char *h, size_t n, struct plain_reply *r)
{
	int major, minor;
	if (sscanf(h, "HTTP/%d.%d %3d", &major, &minor, &r->status) != 3 ||
	    r->status < 100 || r->status > 999)
		return -EPROTO;
	r->chunked = 0;
	r->length = -1;
	memset(&r->sig, 0, sizeof r->sig);
	r->close = major < 1 || (major == 1 && minor == 0);
	const char *end = h + n;
	const char *line = memmem(h, n, "\r\n", 2) + 2;
	while (line < end) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (colon != NULL) {
			size_t nl = (size_t)(colon - line);
			const char *v = colon + 1;
			size_t vl = (size_t)(eol - v);
			if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
				char *e;
				r->length = strtoll(v, &e, 10);
				if (r->length < 0)
					return -EPROTO;
			} else if (nl == 17 && strncasecmp(line,
			           "Transfer-Encoding", 17) == 0) {
				r->chunked = header_has(v, vl, "chunked");
			} else if (nl == 10 && strncasecmp(line, "Connection",
			                                   10) == 0) {
				if (header_has(v, vl, "close"))
					r->close = 1;
				else if (header_has(v, vl, "keep-alive"))
					r->close = 0;
			} else if (nl == strlen(AUTH_REPLY_HEADER) &&
			           strncasecmp(line, AUTH_REPLY_HEADER, nl) == 0) {
				client_note_sig(&r->sig, v, vl);
			}
		}
		line = eol + 2;
	}
	return 0;
}

/* Send the LEN bytes of file FD from offset 0, CLIENT_FILE_CHUNK at a
 * time; 0 or a negative errno (-EIO if the file is shorter). */
static int
conn_send_file(client *c, int fd, size_t len, int64_t deadline)
{
	char *buf = xmalloc(CLIENT_FILE_CHUNK);
	size_t off = 0;
	int rc = 0;

	while (rc == 0 && off < len) {
		size_t want = len - off < CLIENT_FILE_CHUNK ? len - off :
		              CLIENT_FILE_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = n < 0 ? -errno : -EIO;
		else if ((rc = conn_send(c, buf, (size_t)n, deadline)) == 0)
			off += (size_t)n;
	}
	free(buf);
	return rc;
}

/* Send the request line, headers and BODY on the connection; 0 or a
 * negative errno. */
static int
plain_send_request(client *c, const char *method, const char *path,
                   const struct client_body *b, int has_body,
                   const char *auth, int64_t deadline)
{
	const char *body = b->data;
	size_t blen = b->len;
	char clen[80] = "";
	if (has_body)
		snprintf(clen, sizeof clen, "Content-Type: application/json\r\n"
		         "Content-Length: %zu\r\n", blen);
	char *req = xasprintf("%s %s%s HTTP/1.1\r\n"
	                      "Host: %s\r\n"
	                      "User-Agent: kiln/" PACKAGE_VERSION "\r\n"
	                      "Accept: application/json\r\n"
	                      "%s%s%s%s\r\n",
	                      method, c->prefix, path, c->authority,
	                      auth != NULL ? auth : "",
	                      auth != NULL ? "\r\n" : "",
	                      c->extra != NULL ? c->extra : "", clen);
	size_t hlen = strlen(req);
	size_t len = has_body ? blen : 0;
	int rc;
	/* One write (and over TLS one record) for a request that fits. */
	if (b->fd >= 0) {
		rc = conn_send(c, req, hlen, deadline);
		if (rc == 0 && len > 0)
			rc = conn_send_file(c, b->fd, len, deadline);
	} else if (len > 0 && len <= 65536) {
		req = xrealloc(req, hlen + len);
		memcpy(req + hlen, body, len);
		rc = conn_send(c, req, hlen + len, deadline);
	} else {
		rc = conn_send(c, req, hlen, deadline);
		if (rc == 0 && len > 0)
			rc = conn_send(c, body, len, deadline);
	}
	free(req);
	return rc;
}

/*
 * Receive the reply's head into IN, skipping interim (1xx) replies: 0
 * with *r parsed and *hlen the length of the head in IN (the bytes after
 * it are the body's first); or, with IN freed, -EAGAIN if the REUSED
 * connection was found closed before anything came back, SEND_RC if the
 * request could not be sent and nothing came back, or another negative
 * errno with *why set when the system's message would not say it.
 */
static int
plain_read_head(client *c, int reused, int send_rc, int64_t deadline,
                struct client_buf *in, struct plain_reply *r, size_t *hlen,
                const char **why)
{
	for (;;) {
		char *eoh;
		while ((eoh = in->len ? memmem(in->data, in->len, "\r\n\r\n",
		                               4) : NULL) == NULL) {
			ssize_t k = plain_recv(c, in, CLIENT_MAX_HEADER,
			                       deadline);
			if (k > 0)
				continue;
			int fresh = in->len == 0 && reused;
			size_t got = in->len;
			free(in->data);
			in->data = NULL;
			if (fresh && (k == 0 || k == -ECONNRESET))
				return -EAGAIN;
			if (got == 0 && send_rc != 0)
				return send_rc;
			if (k == -EFBIG)
				*why = "reply headers too large";
			else if (k == 0)
				*why = "connection closed before a reply";
			return k == 0 ? -EPROTO : (int)k;
		}
		*hlen = (size_t)(eoh - in->data) + 4;
		if (plain_parse_head(in->data, *hlen, r) != 0) {
			free(in->data);
			in->data = NULL;
			*why = "malformed reply";
			return -EPROTO;
		}
		if (r->status >= 200)
			return 0;
		memmove(in->data, in->data + *hlen, in->len - *hlen);
		in->len -= *hlen;
	}
}

/* A chunked body: decode what came after the HLEN bytes of the head in
 * IN, and what follows, into BUF.  0 or a negative errno. */
static int
plain_body_chunked(client *c, struct client_buf *in, size_t hlen,
                   struct client_buf *buf, int64_t deadline)
{
	size_t off = hlen;

	for (;;) {
		int d = dechunk(in, &off, buf);
		if (d == 1)
			return 0;
		if (d < 0)
			return d;
		ssize_t k = plain_recv(c, in, CLIENT_MAX_REPLY + hlen +
		                       (CLIENT_MAX_REPLY >> 4), deadline);
		if (k <= 0)
			return k == 0 ? -EPROTO : (int)k;
	}
}

/* A body of WANT bytes (Content-Length), HAVE of which came with the head
 * at P: read straight into BUF.  0 or a negative errno. */
static int
plain_body_length(client *c, const char *p, size_t have,
                  unsigned long long want, struct client_buf *buf,
                  int64_t deadline)
{
	if (want > CLIENT_MAX_REPLY) {
		buf->overflow = 1;
		return -EFBIG;
	}
	if (have > want)
		have = (size_t)want;
	buf->data = xrealloc(buf->data, (size_t)want + 1);
	buf->cap = (size_t)want + 1;
	client_buf_add(buf, p, have);
	while (buf->len < want) {
		ssize_t k = plain_recv(c, buf, (size_t)want, deadline);
		if (k <= 0)
			return k == 0 ? -EPROTO : (int)k;
	}
	return 0;
}

/* A body that ends when the master closes the connection; HAVE bytes of
 * it came with the head at P.  0 or a negative errno. */
static int
plain_body_to_close(client *c, const char *p, size_t have,
                    struct client_buf *buf, int64_t deadline)
{
	client_buf_add(buf, p, have);
	for (;;) {
		ssize_t k = plain_recv(c, buf, CLIENT_MAX_REPLY, deadline);
		if (k == 0)
			return 0;
		if (k < 0)
			return (int)k;
	}
}

/* The body of reply R, whose head is the first HLEN bytes of IN: none,
 * Content-Length bytes (handed to a sink, or kept), chunked, or up to the
 * end of the connection (then R->close is set).  0 or a negative errno. */
static int
plain_read_body(client *c, int head_only, struct client_buf *in,
                size_t hlen, struct plain_reply *r, struct client_buf *buf,
                int64_t deadline)
{
	const char *p = in->data + hlen;
	size_t have = in->len - hlen;

	if (head_only || r->status == 204 || r->status == 304)
		return 0;
	if (r->chunked)
		return plain_body_chunked(c, in, hlen, buf, deadline);
	if (r->length >= 0 && buf->sink != NULL && r->status >= 200 &&
	    r->status < 300)
		return plain_sink_body(c, p, have, (uint64_t)r->length, buf,
		                       deadline);
	if (r->length >= 0)
		return plain_body_length(c, p, have,
		                         (unsigned long long)r->length, buf,
		                         deadline);
	r->close = 1;
	return plain_body_to_close(c, p, have, buf, deadline);
}

/*
 * One request on the kept-alive connection (made if there is none).
 * Returns 0 with *status and the body in *buf; -EAGAIN if a connection
 * that was kept alive turned out closed by the master before it answered
 * anything (the request was not taken: send it again on a new one); or
 * another negative errno, with *why set when the system's message would
 * not say it.
 */
static int
plain_once(client *c, const char *method, const char *path,
           const struct client_body *body, const char *auth,
           int64_t deadline, long *status, struct client_buf *buf,
           const char **why)
{
	int reused = c->fd >= 0;
	int rc;

	if (!reused && (rc = plain_connect(c, deadline, why)) != 0)
		return rc;
	int head_only = strcmp(method, "HEAD") == 0;
	int has_body = !(body->data == NULL && body->fd < 0 &&
	                 (strcmp(method, "GET") == 0 || head_only));
	rc = plain_send_request(c, method, path, body, has_body, auth,
	                        deadline);
	/* The master may have refused the request before its body was in
	 * (413 for a body over max_body) and closed: its reply, if any, is
	 * what the caller needs to see, not "Broken pipe". */
	int send_rc = rc;
	if (rc != 0 && rc != -EPIPE && rc != -ECONNRESET)
		return rc;

	struct client_buf in = { 0 };
	struct plain_reply r;
	size_t hlen = 0;
	rc = plain_read_head(c, reused, send_rc, deadline, &in, &r, &hlen, why);
	if (rc != 0)
		return rc;
	buf->sig = r.sig;
	rc = plain_read_body(c, head_only, &in, hlen, &r, buf, deadline);
	free(in.data);
	if (rc == -EFBIG)
		buf->overflow = 1;
	else if (rc == -EPROTO)
		*why = "reply cut short";
	if (send_rc != 0)
		r.close = 1;    /* the master stopped reading it */
	if (rc == 0 && r.close)
		client_disconnect(c);
	*status = r.status;
	return rc;
}

/* The request over plain HTTP, on a kept-alive connection. */
static int
plain_exchange(client *c, const char *method, const char *path,
               const struct client_body *body, const char *auth,
               long timeout_ms, long *status, struct client_buf *buf,
               char **err)
{
	int64_t deadline = clock_mono_ms() +
	                   (timeout_ms > 0 ? timeout_ms : CLIENT_TIMEOUT_MS);
	const char *why = NULL;
	int rc = plain_once(c, method, path, body, auth, deadline, status, buf,
	                    &why);
	if (rc == -EAGAIN) {
		/* The master closed the idle connection (restart, timeout):
		 * the request never reached it, so sending it again is safe. */
		client_disconnect(c);
		buf->len = 0;
		why = NULL;
		rc = plain_once(c, method, path, body, auth, deadline, status,
		                buf, &why);
	}
	if (rc == 0)
		return 0;
	/* Whatever is left on it belongs to a reply we gave up on. */
	client_disconnect(c);
	if (rc == -EFBIG)
		return err_set(err, -EFBIG, "reply from %s%s exceeds %u MiB",
		              c->base_url, path, CLIENT_MAX_REPLY >> 20);
	if (rc == -ETIMEDOUT)
		return err_set(err, -EIO, "cannot reach master at %s: no reply "
		              "within %ld ms", c->base_url,
		              timeout_ms > 0 ? timeout_ms : CLIENT_TIMEOUT_MS);
	char ebuf[128];
	if (rc == -EACCES && why != NULL)
		return err_set(err, -EACCES, "refusing the master at %s: %s",
		              c->base_url, why);
	if (why == NULL)
		why = client_strerror(-rc, ebuf, sizeof ebuf);
	return err_set(err, -EIO, "cannot reach master at %s: %s", c->base_url,
	              why);
}

/*
 * Statuses the master sends unsigned to a signed request, because it
 * answers before it has taken the signature and nonce (401: a refused
 * signature or a replayed nonce; 413: a body over max_body; 503: its
 * replay table is full) or could not make a reply at all (500); and 403,
 * which a proxy in front of it may answer.  Such a reply is taken as an
 * error, never as data.
 */
static const int client_unsigned_ok[] = { 401, 403, 413, 500, 503 };

#define CLIENT_UNSIGNED_MSG_MAX 200     /* of an unsigned error's message */

/* Replace the body in BUF of an unsigned error reply with STATUS by one
 * of our own, {"error": MESSAGE, "status": STATUS}, that keeps nothing of
 * it but (bounded) its "error" string: whoever sent it cannot slip any
 * data to the caller. */
static void
client_unsigned_error(struct client_buf *buf, long status)
{
	json_t *j = buf->len > 0 ? json_loadb(buf->data, buf->len, 0, NULL) :
	            NULL;
	const char *msg = json_string_value(json_object_get(j, "error"));
	size_t n = msg != NULL ? strlen(msg) : 0;
	if (n > CLIENT_UNSIGNED_MSG_MAX) {
		n = CLIENT_UNSIGNED_MSG_MAX;
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;    /* not inside a UTF-8 sequence */
	}
	char *text = xasprintf("%.*s%s(unsigned reply)", (int)n,
	                       msg != NULL ? msg : "", n > 0 ? " " : "");
	for (char *p = text; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';       /* nothing for a terminal to obey */
	json_t *e = json_object(), *t = json_string(text);
	json_object_set_new(e, "error", t != NULL ? t :
	                    json_string("(unsigned reply)"));
	json_object_set_new(e, "status", json_integer(status));
	char *out = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	json_decref(j);
	free(text);
	free(buf->data);
	buf->data = out;
	buf->len = out != NULL ? strlen(out) : 0;
	buf->cap = buf->len + 1;
}

/*
 * Take the reply in BUF to the request METHOD PATH signed with NONCE only
 * if the master signed it over that nonce, its STATUS and its body (as
 * kept in BUF, or as handed to a sink), or if it is an unsigned error of
 * client_unsigned_ok (then as an error only).  0, or -EACCES with *err.
 */
static int
client_check_reply(client *c, const char *method, const char *path,
                   const char *nonce, long status, struct client_buf *buf,
                   char **err)
{
	char *bodyhash;

	if (buf->sunk) {
		if (buf->sunk_hash == NULL)
			return err_set(err, -EACCES, "streamed reply from %s%s "
			              "was not hashed", c->base_url, path);
		bodyhash = hash_stream_hex(buf->sunk_hash);
		buf->sunk_hash = NULL;
	} else {
		bodyhash = hash_hex(buf->data != NULL ? buf->data : "", buf->len);
	}
	int ok = buf->sig.state == 1 &&
	         auth_reply_verify(c->secret, buf->sig.hex, nonce, (int)status,
	                           bodyhash) == 0;
	free(bodyhash);
	if (ok)
		return 0;
	if (buf->sig.state == 0 && !buf->sunk) {
		for (size_t i = 0; i < sizeof client_unsigned_ok /
		                       sizeof client_unsigned_ok[0]; i++)
			if (status == client_unsigned_ok[i]) {
				client_unsigned_error(buf, status);
				return 0;
			}
	}
	return err_set(err, -EACCES, "reply from master at %s is not signed by "
	              "the cluster secret: refusing it (HTTP %ld to %s %s, %s)",
	              c->base_url, status, method, path,
	              buf->sig.state == 0 ? "no " AUTH_REPLY_HEADER :
	              "wrong " AUTH_REPLY_HEADER);
}

/* Send the request; the reply body ends up in *buf.  Called with c->mu
 * held.  With a secret, the request is signed and the reply checked
 * (client_check_reply): transport-independent, after the exchange. */
static int
client_exchange(client *c, const char *method, const char *path,
                const struct client_body *body, long timeout_ms, long *status,
                struct client_buf *buf, char **err)
{
	char *auth = NULL;
	char nonce[AUTH_NONCE_MAX + 1] = "";

	if (c->secret != NULL) {
		struct auth_req q = { .method = method, .host = c->authority,
		                      .path = path, .body = body->data,
		                      .len = body->len,
		                      .body_sha = body->fd >= 0 ? body->sha : NULL };
		auth_nonce(nonce, c->session, ++c->counter);
		char *sig = auth_sign(c->secret, c->id, nonce, &q,
		                      clock_now_ms());
		auth = xasprintf("Authorization: %s", sig);
		free(sig);
	} else if (c->token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
	}
	memset(&buf->sig, 0, sizeof buf->sig);
	int rc = plain_exchange(c, method, path, body, auth, timeout_ms,
	                        status, buf, err);
	free(auth);
	if (rc == 0 && c->secret != NULL &&
	    (rc = client_check_reply(c, method, path, nonce, *status, buf,
	                             err)) != 0) {
		free(buf->data);
		buf->data = NULL;
		buf->len = buf->cap = 0;
	}
	return rc;
}

static int
client_do(client *c, const char *method, const char *path, json_t *body,
          long timeout_ms, long *status, struct client_buf *buf, char **err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	*status = 0;
	if (path == NULL || path[0] != '/')
		return err_set(err, -EINVAL, "request path '%s' must start "
		              "with '/'", path != NULL ? path : "");
	if (body != NULL) {
		data = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (data == NULL)
			return err_set(err, -EINVAL, "cannot encode the request "
			              "body as JSON");
		len = strlen(data);
	}
	pthread_mutex_lock(&c->mu);
	struct client_body b = { .data = data, .len = len, .fd = -1 };
	rc = client_exchange(c, method, path, &b, timeout_ms, status, buf, err);
	pthread_mutex_unlock(&c->mu);
	free(data);
	if (rc < 0) {
		free(buf->data);
		buf->data = NULL;
		buf->len = 0;
	}
	return rc;
}

int
client_request(client *c, const char *method, const char *path,
               json_t *body, long timeout_ms, long *status, json_t **reply,
               char **err)
{
	struct client_buf buf = { 0 };

	*reply = NULL;
	int rc = client_do(c, method, path, body, timeout_ms, status, &buf, err);
	if (rc < 0)
		return rc;
	if (buf.len > 0)
		*reply = json_loadb(buf.data, buf.len, JSON_DECODE_ANY, NULL);
	free(buf.data);
	return 0;
}

int
client_request_raw(client *c, const char *method, const char *path,
                   json_t *body, long timeout_ms, long *status, char **text,
                   size_t *len, char **err)
{
	struct client_buf buf = { 0 };

	*text = NULL;
	*len = 0;
	int rc = client_do(c, method, path, body, timeout_ms, status, &buf, err);
	if (rc < 0)
		return rc;
	*text = buf.data != NULL ? buf.data : xstrdup("");
	*len = buf.len;
	return 0;
}

/* Send body B (bytes or a file) and take the reply's text: what
 * client_send_bytes() and client_send_file() share. */
static int
client_send_body(client *c, const char *method, const char *path,
                 const struct client_body *b, long timeout_ms, long *status,
                 char **text, size_t *tlen, char **err)
{
	struct client_buf buf = { 0 };

	*status = 0;
	*text = NULL;
	*tlen = 0;
	pthread_mutex_lock(&c->mu);
	int rc = client_exchange(c, method, path, b, timeout_ms, status, &buf,
	                         err);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		free(buf.data);
		return rc;
	}
	*text = buf.data != NULL ? buf.data : xstrdup("");
	*tlen = buf.len;
	return 0;
}

int
client_send_bytes(client *c, const char *method, const char *path,
                  const void *data, size_t len, long timeout_ms, long *status,
                  char **text, size_t *tlen, char **err)
{
	struct client_body b = { .data = data, .len = len, .fd = -1 };
	return client_send_body(c, method, path, &b, timeout_ms, status, text,
	                        tlen, err);
}

int
client_send_file(client *c, const char *method, const char *path, int fd,
                 uint64_t len, const char *sha, long timeout_ms, long *status,
                 char **text, size_t *tlen, char **err)
{
	*status = 0;
	*text = NULL;
	*tlen = 0;
	if (fd < 0 || sha == NULL || !hash_is_hex(sha) || len > SIZE_MAX)
		return err_set(err, -EINVAL, "client_send_file: no file or no "
		              "SHA-256 for %s", path);
	struct client_body b = { .len = (size_t)len, .fd = fd, .sha = sha };
	return client_send_body(c, method, path, &b, timeout_ms, status, text,
	                        tlen, err);
}

/* What client_get_stream hands a streamed body to: the caller's sink,
 * and a hash on the way for the reply's signature. */
struct client_tee {
	client_sink sink;
	void *ud;
	hash_stream *hash;
};

static int
client_tee_sink(void *ud, const void *data, size_t len)
{
	struct client_tee *t = ud;

	hash_stream_add(t->hash, data, len);
	return t->sink(t->ud, data, len);
}

int
client_get_stream(client *c, const char *path, long timeout_ms, uint64_t max,
                  client_sink sink, void *ud, long *status, char **text,
                  size_t *tlen, char **err)
{
	struct client_tee tee = { .sink = sink, .ud = ud,
	                          .hash = hash_stream_new() };
	struct client_buf buf = { .sink = client_tee_sink, .sink_ud = &tee,
	                          .sink_max = max, .sunk_hash = tee.hash };

	*status = 0;
	*text = NULL;
	*tlen = 0;
	char *e = NULL;
	pthread_mutex_lock(&c->mu);
	struct client_body none = { .fd = -1 };
	int rc = client_exchange(c, "GET", path, &none, timeout_ms, status,
	                         &buf, &e);
	pthread_mutex_unlock(&c->mu);
	if (buf.sunk_hash != NULL)      /* not taken by the reply's check */
		free(hash_stream_hex(buf.sunk_hash));
	if (rc == 0 && !buf.sunk && *status >= 200 && *status < 300) {
		/* Not streamed (https, or no Content-Length): the body was
		 * received whole, within CLIENT_MAX_REPLY; hand it over now. */
		buf.sunk = 1;
		if (buf.len > max)
			rc = -EFBIG;    /* said below */
		else if (buf.len > 0 && (rc = sink(ud, buf.data, buf.len)) != 0)
			buf.sink_rc = rc < 0 ? rc : -EIO;
		free(buf.data);
		buf.data = NULL;
		buf.len = 0;
	}
	if (buf.sink_rc != 0) {
		/* Our side failed, not the master or the network. */
		char ebuf[128];
		rc = err_set(&e, buf.sink_rc, "cannot keep the reply from %s%s: %s",
		            c->base_url, path,
		            client_strerror(-buf.sink_rc, ebuf, sizeof ebuf));
	} else if (rc == -EFBIG && buf.sunk) {
		rc = err_set(&e, -EFBIG, "reply from %s%s exceeds %llu bytes",
		            c->base_url, path, (unsigned long long)max);
	}
	if (rc < 0) {
		free(buf.data);
		if (err != NULL)
			*err = e;
		else
			free(e);
		return rc;
	}
	*text = buf.data != NULL ? buf.data : xstrdup("");
	*tlen = buf.len;
	return 0;
}

/* ------------------------------------------------------------ test hooks */

/* client_int.h: the reply parser above, for tests/fuzz. */
int
client_int_parse_head(const char *h, size_t n, struct client_int_head *r)
{
	struct plain_reply p = { 0 };
	int rc = plain_parse_head(h, n, &p);

	r->status = p.status;
	r->chunked = p.chunked;
	r->close = p.close;
	r->length = p.length;
	return rc;
}

int
client_int_dechunk(const char *in, size_t len, size_t *off,
                   struct client_int_body *out)
{
	struct client_buf i = { .data = (char *)in, .len = len, .cap = len + 1 };
	struct client_buf o = { .data = out->data, .len = out->len,
	                        .cap = out->cap };
	int rc = dechunk(&i, off, &o);

	out->data = o.data;
	out->len = o.len;
	out->cap = o.cap;
	return rc;
}
