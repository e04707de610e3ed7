/* SPDX-License-Identifier: MIT */
/*
 * api_artifacts.c - artifacts over HTTP: PUT stores the body under the
 * name it must hash to, GET sends the file (sendfile, never read into
 * memory).  The store itself is src/artifact.c; the master's database
 * records each artifact's size (store.c) once it is in place.
 *
 * A PUT is streamed: the gate (api.c) has authenticated the caller on the
 * headers alone, then api_artifact_stream() decides, still before a byte
 * of the body is read, whether the upload may start (a Content-Length
 * within master.max_artifact and the free disk, a free slot among
 * master.max_uploads) and opens its temporary file; the body goes there
 * piece by piece as it arrives (no max_body, never whole in memory), and
 * api_artifact_put(), once it is all in, checks its hash and renames it
 * into place.  An upload that fails or is cut short leaves no file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "artifact.h"
#include "err.h"
#include "xalloc.h"

#define API_MAX_UPLOADS_DEFAULT 16
#define API_MAX_ARTIFACT_DEFAULT ((int64_t)64 << 30)

/* <data_dir>/artifacts, malloc()ed. */
static char *
artifact_dir(const struct api_ctx *a)
{
	return xasprintf("%s/artifacts", a->cfg->master.data_dir);
}

/* ------------------------------------------------------ streamed uploads */

/* One upload in progress: R's state from the gate to the end of R. */
struct upload {
	struct api_ctx *a;      /* outlives R; holds the count of uploads */
	artifact_writer *w;     /* NULL once committed or failed */
	uint64_t want;          /* the declared Content-Length */
	uint64_t got;
	int rc;                 /* the first failure, or 0 */
	char *err;              /* its message */
};

/* R's state ends (the reply went, or the connection broke): whatever
 * was not committed is removed, and the slot freed. */
static void
upload_free(void *p)
{
	struct upload *u = p;

	artifact_abort(u->w);
	__atomic_fetch_sub(&u->a->uploads, 1, __ATOMIC_RELAXED);
	free(u->err);
	free(u);
}

/* http_body_fn: the next piece of the body, into the file.  After a
 * failure the rest is read and dropped (the temporary is gone at once,
 * its space free), and the handler answers with the failure. */
static void
upload_piece(void *ud, const void *data, size_t len)
{
	struct upload *u = ud;

	if (u->rc != 0)
		return;
	if (len > u->want - u->got) {
		/* libmicrohttpd reads no more than Content-Length: a bug. */
		u->rc = err_set(&u->err, -EFBIG, "body longer than its "
		               "Content-Length of %" PRIu64 " bytes", u->want);
	} else {
		u->got += len;
		u->rc = artifact_write(u->w, data, len, &u->err);
	}
	if (u->rc != 0) {
		artifact_abort(u->w);
		u->w = NULL;
	}
}

/* The declared length of R's body into *LEN: 0, or replied 411/400. */
static int
upload_length(http_req *r, uint64_t *len)
{
	const char *te = http_header(r, "Transfer-Encoding");
	const char *cl = http_header(r, "Content-Length");

	if (te != NULL || cl == NULL) {
		http_reply_error(r, 411, "an artifact upload needs a "
		                 "Content-Length (and no Transfer-Encoding)");
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	if (*cl < '0' || *cl > '9' || *end != '\0' || errno == ERANGE) {
		http_reply_error(r, 400, "Content-Length: '%.40s' is not a "
		                 "number of bytes", cl);
		return -1;
	}
	*len = n;
	return 0;
}

/* Does the caller of R ask to be told before it sends the body? */
static int
upload_expects(http_req *r)
{
	const char *e = http_header(r, "Expect");
	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

int
api_artifact_stream(struct api_ctx *a, http_req *r,
                    const struct route_params *p)
{
	const char *sha = route_text(p, "sha");
	int64_t max = a->cfg->master.max_artifact > 0 ?
	              a->cfg->master.max_artifact : API_MAX_ARTIFACT_DEFAULT;
	int slots = a->cfg->master.max_uploads > 0 ?
	            a->cfg->master.max_uploads : API_MAX_UPLOADS_DEFAULT;
	uint64_t len;

	if (upload_length(r, &len) != 0)
		return 1;
	if (len > (uint64_t)max) {
		http_reply_error(r, 413, "artifact of %" PRIu64 " bytes is over "
		                 "master.max_artifact (%" PRId64 " bytes)", len, max);
		return 1;
	}
	char *dir = artifact_dir(a), *err = NULL;
	uint64_t have;
	int stored = artifact_stat(dir, sha, &have, NULL) == 0;
	if (stored && have == len && upload_expects(r)) {
		/* Stored already, and the caller waits for a go: it need
		 * not send the bytes. */
		free(dir);
		struct store_op op = { .kind = STORE_ARTIFACT, .task = sha,
		                       .id = (int64_t)have };
		int rc = store_apply(a->st, &op, 1, &err);
		if (rc != 0)
			api_reply_failed(r, rc, err);
		else
			http_reply_json(r, 201, json_pack("{s:s,s:I}", "sha", sha,
			                "size", (json_int_t)have));
		free(err);
		return 1;
	}
	if (__atomic_add_fetch(&a->uploads, 1, __ATOMIC_RELAXED) > slots) {
		__atomic_fetch_sub(&a->uploads, 1, __ATOMIC_RELAXED);
		free(dir);
		http_add_header(r, "Retry-After", "1");
		http_reply_error(r, 503, "%d artifact uploads at once already "
		                 "(master.max_uploads): try again", slots);
		return 1;
	}
	struct upload *u = xcalloc(1, sizeof *u);
	u->a = a;
	u->want = len;
	/* Owned by R from here: upload_free frees the slot whatever
	 * happens next. */
	http_set_state(r, u, upload_free);
	/* Stored already: the bytes are only hashed, never written. */
	int rc = stored ? 0 : artifact_room(dir, len, &err);
	if (rc == -ENOSPC) {
		http_reply_error(r, 507, "%s", err);
	} else if (rc == 0 &&
	           (rc = artifact_begin(dir, sha, &u->w, &err)) != 0) {
		api_reply_failed(r, rc, err);
	} else if (rc != 0) {
		api_reply_failed(r, rc, err);
	} else {
		http_stream_body(r, len, upload_piece, u);
	}
	free(err);
	free(dir);
	return rc != 0;
}

/* Reply to streamed upload U of artifact SHA, all in. */
static void
upload_end(struct api_ctx *a, http_req *r, struct upload *u, const char *sha)
{
	char *err = NULL;
	int rc = u->rc;

	if (rc == 0 && u->got != u->want)
		rc = err_set(&err, -EPROTO, "body of %" PRIu64 " bytes, not "
		            "its Content-Length of %" PRIu64, u->got, u->want);
	if (rc == 0) {
		artifact_writer *w = u->w;
		u->w = NULL;    /* commit frees it */
		rc = artifact_commit(w, &err);
	}
	if (rc != 0) {
		const char *msg = err != NULL ? err : u->err;
		if (rc == -EINVAL || rc == -EPROTO)
			http_reply_error(r, 400, "%s", msg);
		else
			api_reply_failed(r, rc, msg);
		free(err);
		return;
	}
	struct store_op op = { .kind = STORE_ARTIFACT, .task = sha,
	                       .id = (int64_t)u->got };
	if ((rc = store_apply(a->st, &op, 1, &err)) != 0)
		api_reply_failed(r, rc, err);
	else
		http_reply_json(r, 201, json_pack("{s:s,s:I}", "sha", sha,
		                "size", (json_int_t)u->got));
	free(err);
}

/* PUT /api/v1/artifacts/:sha: the body must hash to SHA; 201.  Streamed
 * (above) unless SHA is not an artifact name: then the body, within
 * max_body, is only there to be refused. */
void
api_artifact_put(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *sha = route_text(&c->params, "sha");
	struct upload *u = http_state(r);
	if (u != NULL) {
		upload_end(a, r, u, sha);
		return;
	}
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
