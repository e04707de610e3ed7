/*
 * client.c - the HTTP client for the master's API (see client.h), used by
 * workers (heartbeats, task pulls, results) and by the CLI.
 *
 * Each client owns one libcurl easy handle and reuses it, so consecutive
 * requests travel over one kept-alive connection: a worker that reports
 * hundreds of results a second must not pay a TCP handshake for each.  An
 * easy handle must never be used by two threads at once, so a mutex
 * serialises requests; a caller that needs requests in parallel (say, a
 * long poll next to heartbeats) should make a client per thread.
 *
 * libcurl is loaded (dlopen) when the first client is made rather than
 * linked: the master, which never makes one, then does not carry libcurl
 * and the TLS, Kerberos and LDAP libraries it pulls in (about 3 MB of
 * resident memory).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Calls go through the table below; curl's type-checking macros would
 * hide that. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;
static char lc_error[256];

#define curl_global_init (*lc.global_init)
#define curl_easy_init (*lc.easy_init)
#undef curl_easy_setopt
#define curl_easy_setopt (*lc.easy_setopt)
#define curl_easy_perform (*lc.easy_perform)
#undef curl_easy_getinfo
#define curl_easy_getinfo (*lc.easy_getinfo)
#define curl_easy_cleanup (*lc.easy_cleanup)
#define curl_easy_reset (*lc.easy_reset)
#define curl_easy_strerror (*lc.easy_strerror)
#define curl_slist_append (*lc.slist_append)
#define curl_slist_free_all (*lc.slist_free_all)

/* Load libcurl and look up what we use; 0, or -1 with lc_error set. */
static int
client_load_curl(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(lc_error, sizeof lc_error, "cannot load libcurl.so.4: %s",
		         dlerror());
		return -1;
	}
	static const char *const names[] = {
		"curl_global_init", "curl_easy_init", "curl_easy_setopt",
		"curl_easy_perform", "curl_easy_getinfo", "curl_easy_cleanup",
		"curl_easy_reset", "curl_easy_strerror", "curl_slist_append",
		"curl_slist_free_all",
	};
	void **slots[] = {
		(void **)&lc.global_init, (void **)&lc.easy_init,
		(void **)&lc.easy_setopt, (void **)&lc.easy_perform,
		(void **)&lc.easy_getinfo, (void **)&lc.easy_cleanup,
		(void **)&lc.easy_reset, (void **)&lc.easy_strerror,
		(void **)&lc.slist_append, (void **)&lc.slist_free_all,
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		*slots[i] = dlsym(h, names[i]);
		if (*slots[i] == NULL) {
			snprintf(lc_error, sizeof lc_error, "libcurl.so.4 lacks %s",
			         names[i]);
			return -1;   /* the handle stays: nothing to unload safely */
		}
	}
	return 0;
}

#include "auth.h"
#include "client.h"
#include "xalloc.h"

#define CLIENT_MAX_REPLY    (64u << 20)    /* 64 MiB */
#define CLIENT_TIMEOUT_MS   30000L
#define CLIENT_CONNECT_MS   2000L

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

struct client {
	char *base_url;         /* without a trailing '/' */
	char *id;
	char *secret;
	char *token;
	CURL *curl;
	pthread_mutex_t mu;     /* guards curl */
};

/* A reply body being received. */
struct client_buf {
	char *data;
	size_t len, cap;
	int overflow;
};

static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static CURLcode client_global_rc = CURLE_FAILED_INIT;
static int client_tls;  /* the first client's URL is https */

/* curl_global_init() is not thread-safe, and workers and the CLI may both
 * create clients from several threads.  TLS is set up only for an https
 * master: its initialisation alone costs a worker ~3 MB of resident
 * memory it would never use on a plain-HTTP cluster. */
static void
client_global_init(void)
{
	if (client_load_curl() != 0) {
		client_global_rc = CURLE_FAILED_INIT;
		return;
	}
	client_global_rc = curl_global_init(client_tls ? CURL_GLOBAL_DEFAULT :
	                                    CURL_GLOBAL_NOTHING);
}

int
client_new(const char *base_url, const char *id, const char *secret,
           const char *token, client **out, char **err)
{
	*out = NULL;
	if (base_url == NULL || (strncmp(base_url, "http://", 7) != 0 &&
	                         strncmp(base_url, "https://", 8) != 0))
		return seterr(err, -EINVAL, "master URL '%s' must start with "
		              "http:// or https://",
		              base_url != NULL ? base_url : "");
	if (strncmp(base_url, "https://", 8) == 0)
		client_tls = 1;
	pthread_once(&client_once, client_global_init);
	if (client_global_rc != CURLE_OK)
		return seterr(err, -EIO, "cannot initialise libcurl: %s",
		              lc_error[0] ? lc_error :
		              curl_easy_strerror(client_global_rc));
	if (secret != NULL && auth_init() < 0)
		return seterr(err, -EIO, "cannot initialise libsodium");

	CURL *curl = curl_easy_init();
	if (curl == NULL)
		return seterr(err, -ENOMEM, "cannot create a libcurl handle");

	client *c = xcalloc(1, sizeof *c);
	size_t n = strlen(base_url);
	while (n > 0 && base_url[n - 1] == '/')
		n--;
	c->base_url = xstrndup(base_url, n);
	c->id = xstrdup(id != NULL ? id : "cli");
	c->secret = xstrdup(secret);
	c->token = xstrdup(token);
	c->curl = curl;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void
client_free(client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	pthread_mutex_destroy(&c->mu);
	free(c->base_url);
	free(c->id);
	if (c->secret != NULL) {
		/* The secret should not outlive its use in a core dump. */
		memset(c->secret, 0, strlen(c->secret));
		free(c->secret);
	}
	free(c->token);
	free(c);
}

static size_t
client_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct client_buf *b = ud;
	size_t n = size * nmemb;

	if (n > CLIENT_MAX_REPLY - b->len) {
		b->overflow = 1;
		return 0;       /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/*
 * Why curl failed, in few words.  For a failed connect, curl says "Failed
 * to connect to 127.0.0.1 port 8080 after 0 ms: Couldn't connect to
 * server"; the URL is in our message already, and the system's reason
 * ("Connection refused", "No route to host") is what the user can act on.
 */
static const char *
client_reason(CURL *h, CURLcode rc, const char *errbuf, char *buf, size_t len)
{
	long os_errno = 0;

	if (rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
	    os_errno != 0) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
		return strerror_r((int)os_errno, buf, len);
#else
		if (strerror_r((int)os_errno, buf, len) == 0)
			return buf;
#endif
	}
	return errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
}

/* Send the request; the reply body ends up in *buf.  Called with c->mu
 * held. */
static int
client_exchange(client *c, const char *method, const char *path,
                const char *body, size_t blen, long timeout_ms, long *status,
                struct client_buf *buf, char **err)
{
	CURL *h = c->curl;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE];
	char *url = xasprintf("%s%s", c->base_url, path);
	char *auth = NULL;

	/* Resetting options keeps the connection cache: keep-alive holds. */
	curl_easy_reset(h);
	errbuf[0] = '\0';
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip before larger bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c->secret != NULL) {
		char *sig = auth_sign(c->secret, c->id, method, path, body, blen,
		                      now_ms());
		auth = xasprintf("Authorization: %s", sig);
		free(sig);
	} else if (c->token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
	}
	if (auth != NULL)
		hdrs = curl_slist_append(hdrs, auth);

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	                 timeout_ms > 0 ? timeout_ms : CLIENT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CLIENT_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, buf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kiln/" PACKAGE_VERSION);
	if (strcmp(method, "GET") == 0 && body == NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else {
		/* POSTFIELDS with an explicit size sends exactly the bytes
		 * that were signed, even when there are none. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)blen);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}

	CURLcode rc = curl_easy_perform(h);
	int ret = 0;
	if (buf->overflow) {
		ret = seterr(err, -EFBIG, "reply from %s exceeds %u MiB", url,
		             CLIENT_MAX_REPLY >> 20);
	} else if (rc != CURLE_OK) {
		char ebuf[128];
		ret = seterr(err, -EIO, "cannot reach master at %s: %s",
		             c->base_url,
		             client_reason(h, rc, errbuf, ebuf, sizeof ebuf));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	/* The handle keeps pointers to these until the next reset. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	free(auth);
	free(url);
	return ret;
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
		return seterr(err, -EINVAL, "request path '%s' must start "
		              "with '/'", path != NULL ? path : "");
	if (body != NULL) {
		data = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (data == NULL)
			return seterr(err, -EINVAL, "cannot encode the request "
			              "body as JSON");
		len = strlen(data);
	}
	pthread_mutex_lock(&c->mu);
	rc = client_exchange(c, method, path, data, len, timeout_ms, status,
	                     buf, err);
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

int
client_send_bytes(client *c, const char *method, const char *path,
                  const void *data, size_t len, long timeout_ms, long *status,
                  char **text, size_t *tlen, char **err)
{
	struct client_buf buf = { 0 };

	*status = 0;
	*text = NULL;
	*tlen = 0;
	pthread_mutex_lock(&c->mu);
	int rc = client_exchange(c, method, path, data, len, timeout_ms, status,
	                         &buf, err);
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		free(buf.data);
		return rc;
	}
	*text = buf.data != NULL ? buf.data : xstrdup("");
	*tlen = buf.len;
	return 0;
}
