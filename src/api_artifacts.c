/* SPDX-License-Identifier: MIT */
/*
 * api_artifacts.c - artifacts over HTTP: PUT stores the body under the
 * name it must hash to, GET sends the file (sendfile, never read into
 * memory).  The store itself is src/artifact.c; the master's database
 * records each artifact's size (store.c) once it is in place.
 */
#include <errno.h>
#include <stdlib.h>

#include "api_int.h"
#include "artifact.h"
#include "xalloc.h"

/* <data_dir>/artifacts, malloc()ed. */
static char *
artifact_dir(const struct api_ctx *a)
{
	return xasprintf("%s/artifacts", a->cfg->master.data_dir);
}

/* PUT /api/v1/artifacts/:sha: the body must hash to SHA; 201. */
void
api_artifact_put(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *sha = route_text(&c->params, "sha");
	size_t len;
	const char *body = http_body(r, &len);
	char *dir = artifact_dir(a), *err = NULL;
	int rc = artifact_put(dir, sha, body, len, &err);
	free(dir);
	if (rc != 0) {
		if (rc == -EINVAL)
			http_reply_error(r, 400, "%s", err);
		else
			api_reply_failed(r, rc, err);
		free(err);
		return;
	}
	struct store_op op = { .kind = STORE_ARTIFACT, .task = sha,
	                       .id = (int64_t)len };
	if ((rc = store_apply(a->st, &op, 1, &err)) != 0)
		api_reply_failed(r, rc, err);
	else
		http_reply_json(r, 201, json_pack("{s:s,s:I}", "sha", sha,
		                "size", (json_int_t)len));
	free(err);
}

/* GET /api/v1/artifacts/:sha */
void
api_artifact_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *sha = route_text(&c->params, "sha");
	char *dir = artifact_dir(a), *err = NULL;
	int fd;
	uint64_t size;
	int rc = artifact_open(dir, sha, &fd, &size, &err);
	free(dir);
	free(err);
	if (rc != 0)
		http_reply_error(r, 404, "no artifact %s", sha);
	else
		http_reply_fd(r, 200, "application/octet-stream", fd, size, sha);
}
