/* SPDX-License-Identifier: MIT */
/*
 * web.c - lookup of the dashboard files compiled into the binary.
 */
#include <string.h>

#include "web.h"

const struct web_file *
web_find(const char *path)
{
	if (path == NULL || strcmp(path, "/") == 0)
		path = "/index.html";
	for (const struct web_file *f = web_files; f->path != NULL; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

const char *
web_content_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".json", "application/json" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=utf-8" },
	};
	const char *ext = path ? strrchr(path, '.') : NULL;
	for (size_t i = 0; ext != NULL && i < sizeof types / sizeof types[0]; i++)
		if (strcmp(ext, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}
