/* SPDX-License-Identifier: MIT */
/*
 * notify.c - sd_notify(3)'s protocol, written out (see notify.h): one
 * datagram per state change to the AF_UNIX socket $NOTIFY_SOCKET (a path,
 * or an abstract name written with a leading '@').  libsystemd is not
 * needed for forty lines, and kiln loads no library it can do without.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "notify.h"

int
notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (path == NULL || path[0] == '\0')
		return 0;
	size_t n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path)
		return -EINVAL;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';     /* the abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	ssize_t w = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	                   (struct sockaddr *)&sa, len);
	int rc = w < 0 ? -errno : 0;
	close(fd);
	return rc;
}

void
notify_ready(const char *status)
{
	char buf[512];
	snprintf(buf, sizeof buf, "READY=1\nSTATUS=%s", status ? status : "");
	notify_send(buf);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char buf[64];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%" PRId64,
	         (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	notify_send(buf);
}

void
notify_watchdog(void)
{
	static int64_t next_ms, every_ms = -1;

	if (every_ms < 0) {
		/* WATCHDOG_PID, when set, names the process meant. */
		const char *us = getenv("WATCHDOG_USEC");
		const char *pid = getenv("WATCHDOG_PID");
		every_ms = 0;
		if (us != NULL && (pid == NULL || atol(pid) == (long)getpid()))
			every_ms = atoll(us) / 2000;
	}
	int64_t now = clock_mono_ms();
	if (every_ms <= 0 || now < next_ms)
		return;
	next_ms = now + every_ms;
	notify_send("WATCHDOG=1");
}
