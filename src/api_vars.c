/* SPDX-License-Identifier: MIT */
/*
 * api_vars.c - the HTTP handlers of variables and connections
 * (/api/v1/variables, /api/v1/connections; see varconn.h and
 * docs/api.md).  Reads are masked; only the admin routes .../reveal show a
 * secret.  Every change is audit-logged: who, what, which name, never the
 * value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "err.h"
#include "log.h"
#include "varconn.h"
#include "xalloc.h"

/* What a kind is called in messages. */
static const char *
vk_noun(const char *kind)
{
	return strcmp(kind, "var") == 0 ? "variable" : "connection";
}

/* Reply to a varconn error RC (ERR freed). */
static void
vk_err(http_req *r, int rc, char *err)
{
	if (rc == -EINVAL || rc == -ENOENT)
		http_reply_error(r, rc == -EINVAL ? 400 : 404, "%s",
		                 err ? err : "failed");
	else
		api_reply_failed(r, rc, err);
	free(err);
}

static void
vk_list(struct api_ctx *a, http_req *r, const char *kind)
{
	json_t *list = NULL;
	char *err = NULL;
	int rc = varconn_list(a->st, kind, &list, &err);
	if (rc < 0) {
		vk_err(r, rc, err);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o}", strcmp(kind, "var") == 0 ?
	                                  "variables" : "connections", list));
}

static void
vk_show(struct api_ctx *a, http_req *r, const struct api_call *c,
        const char *kind, int reveal)
{
	json_t *o = NULL;
	char *err = NULL;
	const char *name = route_text(&c->params, "name");
	int rc = varconn_show(a->st, kind, name, reveal, &o, &err);
	if (rc < 0) {
		vk_err(r, rc, err);
		return;
	}
	if (reveal) {
		char *by = api_principal(c->who);
		log_info("audit: %s revealed %s %s", by, vk_noun(kind), name);
		free(by);
	}
	http_reply_json(r, 200, o);
}

/* PUT: a variable's body is {"value": "..."}, a connection's the
 * connection itself. */
static void
vk_set(struct api_ctx *a, http_req *r, const struct api_call *c,
       const char *kind)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *name = route_text(&c->params, "name");
	char *by = api_principal(c->who), *err = NULL;
	int rc;
	if (strcmp(kind, "var") == 0) {
		json_t *v = json_object_get(b, "value");
		rc = json_is_string(v) && json_object_size(b) == 1 ?
		     varconn_var_set(a->st, name, json_string_value(v), by, &err) :
		     err_set(&err, -EINVAL, "value: a string is needed (the "
		            "body is {\"value\": \"...\"})");
	} else {
		rc = varconn_conn_set(a->st, name, b, by, &err);
	}
	json_decref(b);
	if (rc == 0) {
		log_info("audit: %s set %s %s", by, vk_noun(kind), name);
		http_reply_json(r, 200, json_pack("{s:s}", "name", name));
	} else {
		vk_err(r, rc, err);
	}
	free(by);
}

static void
vk_delete(struct api_ctx *a, http_req *r, const struct api_call *c,
          const char *kind)
{
	const char *name = route_text(&c->params, "name");
	char *err = NULL;
	int rc = varconn_delete(a->st, kind, name, &err);
	if (rc < 0) {
		vk_err(r, rc, err);
		return;
	}
	char *by = api_principal(c->who);
	log_info("audit: %s deleted %s %s", by, vk_noun(kind), name);
	free(by);
	http_reply_json(r, 200, json_pack("{s:s}", "deleted", name));
}

/* GET /api/v1/variables, /api/v1/connections */
void
api_vars_list(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	vk_list(a, r, "var");
}

void
api_conns_list(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	vk_list(a, r, "conn");
}

/* GET /api/v1/variables/:name, /api/v1/connections/:name (masked) */
void
api_var_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_show(a, r, c, "var", 0);
}

void
api_conn_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_show(a, r, c, "conn", 0);
}

/* GET .../:name/reveal (admins: the secrets too) */
void
api_var_reveal(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_show(a, r, c, "var", 1);
}

void
api_conn_reveal(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_show(a, r, c, "conn", 1);
}

/* PUT /api/v1/variables/:name, /api/v1/connections/:name */
void
api_var_set(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_set(a, r, c, "var");
}

void
api_conn_set(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_set(a, r, c, "conn");
}

/* DELETE /api/v1/variables/:name, /api/v1/connections/:name */
void
api_var_delete(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_delete(a, r, c, "var");
}

void
api_conn_delete(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	vk_delete(a, r, c, "conn");
}
