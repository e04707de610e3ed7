/* SPDX-License-Identifier: MIT */
/*
 * restarts.c - DATA_DIR/restarts (see restarts.h): a line "NAME COUNT" per
 * node, written whole by the supervisor and read whole at scrape time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fs.h"
#include "restarts.h"
#include "xalloc.h"

/* More nodes than a cluster.yaml lists on one machine; bounds the read. */
#define RESTARTS_MAX_BYTES (64 * 1024)

int
restarts_write(const char *data_dir, const struct metrics_node_restarts *nodes,
               size_t n, char **err)
{
	char *path = xasprintf("%s/restarts", data_dir);
	char *text = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s %lld\n", text, nodes[i].node,
		                    nodes[i].count);
		free(text);
		text = t;
	}
	int rc = fs_write_file(path, text, strlen(text), 0600, err);
	free(text);
	free(path);
	return rc;
}

int
restarts_read(const char *data_dir, struct metrics_node_restarts **out,
              size_t *n, char **err)
{
	char *path = xasprintf("%s/restarts", data_dir), *data = NULL;
	size_t len = 0;
	int rc = fs_read_file(path, RESTARTS_MAX_BYTES, &data, &len, err);

	*out = NULL;
	*n = 0;
	if (rc == -ENOENT) {
		free(*err);
		*err = NULL;
		rc = 0;
	}
	char *save = NULL;
	for (char *line = rc == 0 && data ? strtok_r(data, "\n", &save) : NULL;
	     line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' '), *end = NULL;
		long long v = sp ? strtoll(sp + 1, &end, 10) : -1;
		if (sp == NULL || sp == line || end == sp + 1 || *end != '\0' || v < 0) {
			rc = err_set(err, -EINVAL, "%s: bad line '%s'", path, line);
			break;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[*n].node = xstrndup(line, (size_t)(sp - line));
		(*out)[(*n)++].count = v;
	}
	if (rc != 0) {
		restarts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	free(data);
	free(path);
	return rc;
}

void
restarts_free(struct metrics_node_restarts *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i].node);
	free(a);
}
