/* SPDX-License-Identifier: MIT */
/*
 * log.h - the process log: one line per event on stderr, with time, node
 * name and level, written atomically so lines of threads never interleave.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* NODE names this process in every line ("master", "worker-1"). */
void log_init(const char *node, int level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
