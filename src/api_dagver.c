/* SPDX-License-Identifier: MIT */
/*
 * api_dagver.c - the routes of DAG versions (dagver.h): the list of a
 * DAG's versions, one version's text, and the diff of two.  See
 * docs/api.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "dagver.h"

/* Query parameter NAME as a version number (1..INT_MAX), *out = 0 if
 * absent; 0, or -1 after replying 400 naming it. */
static int
dv_query_version(http_req *r, const char *name, int *out)
{
	const char *s = http_query(r, name);
	*out = 0;
	if (s == NULL || *s == '\0')
		return 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > INT_MAX) {
		http_reply_error(r, 400, "%s: must be a version number (1, 2, "
		                 "...), not '%.40s'", name, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static void
dv_reply(http_req *r, json_t *o, int status, char *err)
{
	if (o != NULL)
		http_reply_json(r, 200, o);
	else if (status == 500)
		api_reply_failed(r, -EIO, err);
	else
		http_reply_error(r, status, "%s", err ? err : "failed");
	free(err);
}

/* GET /api/v1/dags/:dag/versions[?limit=N] */
void
api_dag_versions(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	char *err = NULL;
	int status = 500;
	json_t *o = dagver_list_json(a->st, route_text(&c->params, "dag"),
	                             api_query_int(r, "limit", 100), &status,
	                             &err);
	dv_reply(r, o, status, err);
}

/* GET /api/v1/dags/:dag/versions/:version: its text and details. */
void
api_dag_version(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	char *err = NULL;
	int status = 500;
	const char *vs = route_text(&c->params, "version");
	char *end;
	long v = strtol(vs, &end, 10);
	if (*end != '\0' || v < 1 || v > INT_MAX) {
		http_reply_error(r, 400, "version: must be a version number (1, "
		                 "2, ...), not '%.40s'", vs);
		return;
	}
	json_t *o = dagver_get_json(a->st, route_text(&c->params, "dag"),
	                            (int)v, &status, &err);
	dv_reply(r, o, status, err);
}

/* GET /api/v1/dags/:dag/diff[?from=N][&to=M]: a unified diff; to is the
 * current version by default, from the one before to. */
void
api_dag_diff(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int from, to;
	if (dv_query_version(r, "from", &from) != 0 ||
	    dv_query_version(r, "to", &to) != 0)
		return;
	char *err = NULL;
	int status = 500;
	json_t *o = dagver_diff_json(a->st, route_text(&c->params, "dag"), from,
	                             to, &status, &err);
	dv_reply(r, o, status, err);
}
