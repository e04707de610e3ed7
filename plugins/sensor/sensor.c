/* SPDX-License-Identifier: MIT */
/*
 * sensor.c - the bundled 'sensor' plugin: one poke of a DAG sensor that
 * needs a worker (kiln-dag(5) `sensor: { file: PATH }` or `{ http: URL }`).
 * It answers KILN_OK when the condition holds and KILN_NOT_YET (ABI 1.5)
 * when it does not yet, so that the task holds no slot between pokes; the
 * master pokes again after poke_interval.  A file is looked for through
 * host->open_data(), so the worker's read roots apply; an http:// URL is
 * asked with one HTTP/1.0 GET within timeout_ms, and any 2xx status is
 * "ready".  An https:// URL is asked through libcurl, loaded with dlopen()
 * at the first https poke rather than linked: a TLS stack costs every
 * process that loads this plugin megabytes it seldom needs.  Its
 * certificate is checked against the system's CAs, or against ca_file's
 * (read through open_data(), so the read roots apply to it too).
 * Thread-safe: the library is loaded once (pthread_once); the rest is on
 * the stack.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>            /* constants only: libcurl is dlopen()ed */

#include "kiln/plugin.h"

static const struct kiln_param sensor_params[] = {
	{ "path", "string", "", "file sensor: the file waited for, inside the worker's read roots" },
	{ "url", "string", "", "http sensor: http://HOST[:PORT]/PATH that must answer 2xx" },
	{ "timeout_ms", "int", "10000", "http sensor: time allowed for one request" },
	{ "ca_file", "string", "", "https sensor: PEM file of the CAs to trust instead of the system's (inside the worker's read roots)" },
	{ NULL, NULL, NULL, NULL },
};

static int
sensor_file(kiln_task *t, const struct kiln_host *host, const char *path)
{
	int fd = host->open_data(t, path, 0, NULL);
	if (fd >= 0) {
		close(fd);
		host->log(t, KILN_LOG_INFO, "sensor: %s is there", path);
		return KILN_OK;
	}
	if (fd == KILN_EIO) {         /* no such file yet (its error says) */
		host->log(t, KILN_LOG_INFO, "sensor: no %s yet", path);
		return KILN_NOT_YET;
	}
	return fd;                    /* refused: outside the roots... */
}

static int64_t
sensor_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for FD to be ready for EV until DEADLINE (monotonic ms). */
static int
sensor_wait(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - sensor_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Connect to HOST:PORT before DEADLINE: a socket, or -1 with WHY set. */
static int
sensor_connect(const char *host, const char *port, int64_t deadline,
               char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(why, whylen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	snprintf(why, whylen, "%s:%s: no address", host, port);
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC |
		            SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0)
			continue;
		int err = 0;
		socklen_t len = sizeof err;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
		    (errno != EINPROGRESS ||
		     (err = -sensor_wait(fd, POLLOUT, deadline)) != 0 ||
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		     err != 0)) {
			snprintf(why, whylen, "%s:%s: %s", host, port,
			         strerror(err ? err : errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* GET URL: its status (100-599), or 0 with WHY set. */
static int
sensor_get(const char *url, int64_t timeout_ms, char *why, size_t whylen)
{
	char host[256], port[8] = "80";
	const char *p = url + 7, *path = strchr(p, '/');
	size_t hl = path ? (size_t)(path - p) : strlen(p);
	if (hl == 0 || hl >= sizeof host) {
		snprintf(why, whylen, "bad URL %s", url);
		return 0;
	}
	memcpy(host, p, hl);
	host[hl] = '\0';
	char *colon = strrchr(host, ':');
	if (colon != NULL && strchr(colon, ']') == NULL) {
		*colon = '\0';
		snprintf(port, sizeof port, "%.5s", colon + 1);
	}
	if (host[0] == '[') {                        /* [::1] */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	int64_t deadline = sensor_ms() + timeout_ms;
	int fd = sensor_connect(host, port, deadline, why, whylen);
	if (fd < 0)
		return 0;
	char req[4096];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %.*s\r\n"
	                 "User-Agent: kiln-sensor\r\nConnection: close\r\n\r\n",
	                 path ? path : "/", (int)hl, p);
	int status = 0;
	if (n <= 0 || (size_t)n >= sizeof req) {
		snprintf(why, whylen, "URL too long");
	} else if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(why, whylen, "%s: send: %s", url, strerror(errno));
	} else {
		char head[64];
		size_t got = 0;
		while (got < 12 && sensor_wait(fd, POLLIN, deadline) == 0) {
			ssize_t r = recv(fd, head + got, sizeof head - 1 - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		head[got] = '\0';
		if (got >= 12 && strncmp(head, "HTTP/", 5) == 0 &&
		    sscanf(head + 9, "%3d", &status) == 1 && status >= 100 &&
		    status <= 599)
			return close(fd), status;
		status = 0;
		snprintf(why, whylen, "%s: %s", url, got ? "not an HTTP reply" :
		         "no reply within the request timeout");
	}
	close(fd);
	return status;
}

/* ---- https, through libcurl ---- */

/* The few libcurl functions used, from the library loaded at the first
 * https poke. */
static struct {
	void *lib;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
} sensor_curl;
static pthread_once_t sensor_curl_once = PTHREAD_ONCE_INIT;

static void
sensor_curl_load(void)
{
	/* Debian's libcurl4 (OpenSSL) or libcurl3-gnutls. */
	static const char *const names[] = { "libcurl.so.4",
	                                     "libcurl-gnutls.so.4" };
	for (size_t i = 0; i < 2 && sensor_curl.lib == NULL; i++)
		sensor_curl.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (sensor_curl.lib == NULL)
		return;
	/* POSIX lets a void * from dlsym() become a function pointer. */
#define SC_SYM(f) (*(void **)(void *)&sensor_curl.f = \
	dlsym(sensor_curl.lib, "curl_" #f)) != NULL
	if (!(SC_SYM(global_init) && SC_SYM(easy_init) &&
	      SC_SYM(easy_setopt) && SC_SYM(easy_perform) &&
	      SC_SYM(easy_getinfo) && SC_SYM(easy_cleanup) &&
	      SC_SYM(easy_strerror)) ||
	    /* here, once: curl_easy_init() would do it unguarded */
	    sensor_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlclose(sensor_curl.lib);
		sensor_curl.lib = NULL;
	}
#undef SC_SYM
}

static size_t
sensor_discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* Read the CA file PATH (through open_data) into a new buffer, *len set;
 * NULL with the task's error set (*rc the code to return). */
static char *
sensor_read_ca(kiln_task *t, const struct kiln_host *host, const char *path,
               size_t *len, int *rc)
{
	uint64_t size = 0;
	int fd = host->open_data(t, path, 0, &size);
	if (fd < 0) {
		*rc = fd == KILN_EIO ? KILN_EINVAL : fd;  /* a missing CA file
		                                           * will not appear */
		return NULL;
	}
	if (size > 1 << 20) {
		close(fd);
		host->set_error(t, "sensor: ca_file %s: over 1 MiB", path);
		*rc = KILN_EINVAL;
		return NULL;
	}
	char *buf = malloc((size_t)size + 1);
	ssize_t got = buf ? read(fd, buf, (size_t)size) : -1;
	close(fd);
	if (got < 0 || (uint64_t)got != size) {
		int oom = buf == NULL;
		host->set_error(t, "sensor: ca_file %s: %s", path, oom ?
		                "out of memory" : "short read");
		free(buf);
		*rc = oom ? KILN_ENOMEM : KILN_EIO;
		return NULL;
	}
	*len = (size_t)size;
	return buf;
}

/* GET URL (https) through libcurl: its status, 0 with WHY set, or a
 * negative KILN_E* with the task's error set (no libcurl, a bad ca_file:
 * waiting will not mend them). */
static int
sensor_get_tls(kiln_task *t, const struct kiln_host *host, const char *url,
               long timeout_ms, char *why, size_t whylen)
{
	pthread_once(&sensor_curl_once, sensor_curl_load);
	if (sensor_curl.lib == NULL) {
		host->set_error(t, "sensor: %s: https sensors need libcurl "
		                "(Debian: apt install libcurl4) on the worker",
		                url);
		return KILN_EINVAL;
	}
	const char *ca = host->param(t, "ca_file");
	char *cabuf = NULL;
	size_t calen = 0;
	int rc = 0;
	if (ca != NULL && *ca != '\0' &&
	    (cabuf = sensor_read_ca(t, host, ca, &calen, &rc)) == NULL)
		return rc;
	CURL *c = sensor_curl.easy_init();
	if (c == NULL) {
		free(cabuf);
		host->set_error(t, "sensor: curl_easy_init failed");
		return KILN_ENOMEM;
	}
	char errbuf[CURL_ERROR_SIZE] = "";
	sensor_curl.easy_setopt(c, CURLOPT_URL, url);
	sensor_curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	sensor_curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	sensor_curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	sensor_curl.easy_setopt(c, CURLOPT_USERAGENT, "kiln-sensor");
	sensor_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, sensor_discard);
	sensor_curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (cabuf != NULL) {
		struct curl_blob blob = { cabuf, calen, CURL_BLOB_NOCOPY };
		sensor_curl.easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	CURLcode cc = sensor_curl.easy_perform(c);
	long status = 0;
	if (cc == CURLE_OK)
		sensor_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(why, whylen, "%s: %s", url, errbuf[0] ? errbuf :
		         sensor_curl.easy_strerror(cc));
	sensor_curl.easy_cleanup(c);
	free(cabuf);
	return cc == CURLE_OK ? (int)status : 0;
}

static int
sensor_http(kiln_task *t, const struct kiln_host *host, const char *url)
{
	int tls = strncmp(url, "https://", 8) == 0;
	if (!tls && strncmp(url, "http://", 7) != 0) {
		host->set_error(t, "sensor: %s: only http:// and https:// URLs",
		                url);
		return KILN_EINVAL;
	}
	const char *ts = host->param(t, "timeout_ms");
	long long ms = ts ? atoll(ts) : 10000;
	if (ms < 1 || ms > 300000)
		ms = 10000;
	char why[512] = "";
	int status = tls ? sensor_get_tls(t, host, url, (long)ms, why,
	                                  sizeof why) :
	             sensor_get(url, ms, why, sizeof why);
	if (status < 0)
		return status;
	if (status >= 200 && status <= 299) {
		host->log(t, KILN_LOG_INFO, "sensor: %s answered %d", url, status);
		return KILN_OK;
	}
	if (status != 0)
		snprintf(why, sizeof why, "%s answered %d", url, status);
	host->log(t, KILN_LOG_INFO, "sensor: not yet: %s", why);
	host->set_error(t, "%s", why);
	return KILN_NOT_YET;
}

static int
sensor_run(kiln_task *t, const struct kiln_host *host)
{
	const char *path = host->param(t, "path");
	const char *url = host->param(t, "url");
	if (!KILN_HOST_HAS(host, open_data) || host->abi_minor < 5) {
		host->set_error(t, "sensor: needs kiln ABI 1.5, this kiln "
		                "speaks %u.%u", host->abi_major, host->abi_minor);
		return KILN_EINVAL;
	}
	if (path != NULL && *path != '\0')
		return sensor_file(t, host, path);
	if (url != NULL && *url != '\0')
		return sensor_http(t, host, url);
	host->set_error(t, "sensor: give param 'path' or 'url'");
	return KILN_EINVAL;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "sensor",
	.version = "1.0.0",
	.description = "Sensor pokes: a file exists, an URL answers 2xx",
	.params = sensor_params,
	.run = sensor_run,
};
