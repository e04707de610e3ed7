/* SPDX-License-Identifier: MIT */
/*
 * web.h - the dashboard's files, compiled into the binary at build time
 * (tools/embed-web.sh writes src/webfiles.c from web/).  master.web_dir
 * serves them from disk instead, for development.
 */
#ifndef KILN_WEB_H
#define KILN_WEB_H

#include <stddef.h>

struct web_file {
	const char *path;            /* "/index.html", "/js/app.js" */
	const unsigned char *data;
	size_t size;
};

extern const struct web_file web_files[];   /* ends with path == NULL */

/* The embedded file at PATH ("/" is "/index.html"), or NULL. */
const struct web_file *web_find(const char *path);
/* The Content-Type for PATH, by its extension. */
const char *web_content_type(const char *path);

#endif
