/* SPDX-License-Identifier: MIT */
/*
 * readfile.c - the bundled 'readfile' plugin: brings a file from the
 * worker's file system into the pipeline as an output of its task, so
 * that downstream tasks receive it as an input on whichever worker they
 * run (the master stores it by its SHA-256).  Thread-safe: no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/plugin.h"

#define READFILE_MAX (64L << 20)   /* outputs travel in one request */

static const struct kiln_param readfile_params[] = {
	{ "path", "string", NULL, "file to read (absolute, or relative to the worker's directory)" },
	{ "name", "string", "", "output name; default: the file's base name" },
	{ NULL, NULL, NULL, NULL },
};

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
	FILE *f = fopen(path, "rb");
	struct stat sb;
	if (f == NULL || fstat(fileno(f), &sb) != 0) {
		host->set_error(t, "readfile: %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return KILN_EIO;
	}
	if (sb.st_size > READFILE_MAX) {
		host->set_error(t, "readfile: %s is %lld bytes, more than the %ld allowed",
		                path, (long long)sb.st_size, READFILE_MAX);
		fclose(f);
		return KILN_EINVAL;
	}
	char *buf = malloc((size_t)sb.st_size + 1);
	size_t n = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
	fclose(f);
	if (buf == NULL || n != (size_t)sb.st_size) {
		host->set_error(t, "readfile: cannot read %s", path);
		free(buf);
		return KILN_EIO;
	}
	int rc = host->output(t, name, buf, n);
	free(buf);
	if (rc != KILN_OK) {
		host->set_error(t, "readfile: cannot store output '%s'", name);
		return rc;
	}
	char res[512];
	snprintf(res, sizeof res, "{\"bytes\": %zu}", n);
	host->log(t, KILN_LOG_INFO, "readfile: %s -> output %s (%zu bytes)", path, name, n);
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
