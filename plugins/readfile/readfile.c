/* SPDX-License-Identifier: MIT */
/*
 * readfile.c - the bundled 'readfile' plugin: brings a file from the
 * worker's file system into the pipeline as an output of its task, so
 * that downstream tasks receive it as an input on whichever worker they
 * run (the master stores it by its SHA-256).  The worker opens the file
 * (host->open_data()): only a regular file inside its read roots, never
 * kiln's own secrets.  Thread-safe: no state.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/plugin.h"

#define READFILE_MAX (64L << 20)   /* outputs travel in one request */

static const struct kiln_param readfile_params[] = {
	{ "path", "string", NULL, "file to read (absolute, or relative to the worker's directory), inside the worker's read roots" },
	{ "name", "string", "", "output name; default: the file's base name" },
	{ NULL, NULL, NULL, NULL },
};

/* Read SIZE bytes of FD (closed here) into a new buffer *BUF. */
static int
readfile_read(int fd, uint64_t size, char **buf)
{
	char *p = malloc(size ? (size_t)size : 1);
	size_t n = 0;
	while (p != NULL && n < size) {
		ssize_t r = read(fd, p + n, (size_t)size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;              /* shrank meanwhile, or failed */
		n += (size_t)r;
	}
	close(fd);
	if (p == NULL)
		return KILN_ENOMEM;
	if (n != size) {
		free(p);
		return KILN_EIO;
	}
	*buf = p;
	return KILN_OK;
}

static int
readfile_run(kiln_task *t, const struct kiln_host *host)
{
	const char *path = host->param(t, "path");
	const char *name = host->param(t, "name");
	if (path == NULL || *path == '\0') {
		host->set_error(t, "readfile: param 'path' is required");
		return KILN_EINVAL;
	}
	if (name == NULL || *name == '\0') {
		const char *slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
	}
	/* The worker opens it, inside its read roots, or says why not. */
	if (!KILN_HOST_HAS(host, open_data)) {
		host->set_error(t, "readfile: needs kiln ABI 1.4 (open_data), "
		                "this kiln speaks %u.%u", host->abi_major,
		                host->abi_minor);
		return KILN_EINVAL;
	}
	uint64_t size;
	int fd = host->open_data(t, path, 0, &size);
	if (fd < 0)
		return fd;
	if (size > READFILE_MAX) {
		close(fd);
		host->set_error(t, "readfile: %s is %llu bytes, more than the "
		                "%ld allowed", path, (unsigned long long)size,
		                READFILE_MAX);
		return KILN_EINVAL;
	}
	char *buf = NULL;
	int rc = readfile_read(fd, size, &buf);
	if (rc != KILN_OK) {
		host->set_error(t, "readfile: cannot read %s%s", path,
		                rc == KILN_ENOMEM ? ": out of memory" : "");
		return rc;
	}
	rc = host->output(t, name, buf, (size_t)size);
	free(buf);
	if (rc != KILN_OK) {
		host->set_error(t, "readfile: cannot store output '%s'", name);
		return rc;
	}
	char res[512];
	snprintf(res, sizeof res, "{\"bytes\": %llu}", (unsigned long long)size);
	host->log(t, KILN_LOG_INFO, "readfile: %s -> output %s (%llu bytes)",
	          path, name, (unsigned long long)size);
	return host->set_result(t, res);
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "readfile",
	.version = "1.0.0",
	.description = "Reads a file into the pipeline as an output",
	.params = readfile_params,
	.run = readfile_run,
};
