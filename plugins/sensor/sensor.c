/* SPDX-License-Identifier: MIT */
/*
 * sensor.c - the bundled 'sensor' plugin: one poke of a DAG sensor that
 * needs a worker (kiln-dag(5) `sensor: { file: PATH }` or `{ http: URL }`).
 * It answers KILN_OK when the condition holds and KILN_NOT_YET (ABI 1.5)
 * when it does not yet, so that the task holds no slot between pokes; the
 * master pokes again after poke_interval.  A file is looked for through
 * host->open_data(), so the worker's read roots apply; an URL is asked
 * with one HTTP/1.0 GET (plain http: https needs a TLS stack this plugin
 * does not carry) within timeout_ms, and any 2xx status is "ready".
 * Thread-safe: no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kiln/plugin.h"

static const struct kiln_param sensor_params[] = {
	{ "path", "string", "", "file sensor: the file waited for, inside the worker's read roots" },
	{ "url", "string", "", "http sensor: http://HOST[:PORT]/PATH that must answer 2xx" },
	{ "timeout_ms", "int", "10000", "http sensor: time allowed for one request" },
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

static int
sensor_http(kiln_task *t, const struct kiln_host *host, const char *url)
{
	if (strncmp(url, "http://", 7) != 0) {
		host->set_error(t, "sensor: %s: only http:// URLs (no TLS in "
		                "the http sensor)", url);
		return KILN_EINVAL;
	}
	const char *ts = host->param(t, "timeout_ms");
	long long ms = ts ? atoll(ts) : 10000;
	if (ms < 1 || ms > 300000)
		ms = 10000;
	char why[512] = "";
	int status = sensor_get(url, ms, why, sizeof why);
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
