/* SPDX-License-Identifier: MIT */
/*
 * log.c - the process log (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_node[64] = "kiln";
static int log_level = LOG_LEVEL_INFO;

void
log_init(const char *node, int level)
{
	if (node != NULL)
		snprintf(log_node, sizeof log_node, "%s", node);
	log_level = level;
}

/*
 * Append the LEN bytes of MSG to LINE (N bytes used, CAP in all) with
 * control characters and DEL written as \xNN: a name or a message that
 * came from the network can neither forge a line of its own with a
 * newline nor drive the terminal with escape sequences.  Returns the new
 * length.
 */
static int
log_escape(char *line, size_t n, size_t cap, const char *msg, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch >= 0x20 && ch != 0x7f) {
			if (n + 1 > cap)
				break;
			line[n++] = (char)ch;
		} else {
			if (n + 4 > cap)
				break;
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[ch >> 4];
			line[n++] = hex[ch & 15];
		}
	}
	return (int)n;
}

void
log_msg(int level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	if (level < log_level)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	                 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	                 log_node, names[level < 0 ? 0 : level > 3 ? 3 : level]);
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || m < 0)
		return;
	if ((size_t)n >= sizeof line - 1)
		n = sizeof line - 2;
	if ((size_t)m >= sizeof msg)
		m = sizeof msg - 1;
	n = log_escape(line, (size_t)n, sizeof line - 1, msg, (size_t)m);
	line[n++] = '\n';
	/* One write(2) per line: lines from threads and child processes
	 * sharing the terminal never interleave. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
