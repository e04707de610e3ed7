/* SPDX-License-Identifier: MIT */
/*
 * api_auth.c - the routes about who is asking: dashboard logins and
 * logouts (users.c keeps the sessions), /me, and API tokens.  Who may call
 * each is in the route table (api.c), not here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "xalloc.h"

/* POST /api/v1/login {"user", "password"}: a session cookie and its CSRF
 * token. */
void
api_login(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *user = json_string_value(json_object_get(b, "user"));
	const char *pw = json_string_value(json_object_get(b, "password"));
	if (user == NULL || pw == NULL || strlen(user) > 256 || strlen(pw) > 1024) {
		http_reply_error(r, 400, "login needs \"user\" and \"password\"");
		json_decref(b);
		return;
	}
	char addr[64], *sid = NULL, *csrf = NULL, *err = NULL;
	const char *role = NULL;
	http_client_addr(r, addr, sizeof addr);
	int rc = users_login(a->users, user, pw, addr, &sid, &csrf, &role, &err);
	if (rc == 0) {
		/* Secure under TLS: the browser then never sends the
		 * session over plain HTTP. */
		char *cookie = xasprintf(API_SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict; "
		                         "Path=/; Max-Age=%d%s", sid,
		                         (a->cfg->auth.session_ttl_ms > 0 ?
		                          a->cfg->auth.session_ttl_ms : 43200000) / 1000,
		                         http_is_tls(a->http) ? "; Secure" : "");
		http_add_header(r, "Set-Cookie", cookie);
		free(cookie);
		http_reply_json(r, 200, json_pack("{s:s,s:s,s:s}", "user", user,
		                "role", role, "csrf", csrf));
	} else {
		http_reply_error(r, rc == -EAGAIN ? 429 : 401, "%s", err);
	}
	free(sid);
	free(csrf);
	free(err);
	json_decref(b);
}

/* POST /api/v1/logout */
void
api_logout(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	const char *sid = http_cookie(r, API_SESSION_COOKIE);
	if (sid != NULL)
		users_logout(a->users, sid);
	http_add_header(r, "Set-Cookie", http_is_tls(a->http) ?
	                API_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; "
	                "Path=/; Max-Age=0; Secure" :
	                API_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; "
	                "Path=/; Max-Age=0");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* GET /api/v1/me: who the caller is, and a session's CSRF token. */
void
api_me(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const struct who *w = c->who;
	(void)a;
	http_reply_json(r, 200, json_pack("{s:s?,s:s,s:s?,s:s}", "user", w->id,
		"role", w->kind == WHO_VIEWER ? "viewer" : "admin",
		"csrf", w->csrf, "auth", w->how ? w->how : "?"));
}

/* POST /api/v1/tokens {"name", "role"}: a new token, shown this once. */
void
api_token_create(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *name = "cli", *role = "admin";
	json_error_t je;
	if (json_unpack_ex(b, &je, JSON_STRICT, "{s?s,s?s}", "name", &name,
	                   "role", &role) != 0 ||
	    (strcmp(role, "admin") != 0 && strcmp(role, "viewer") != 0)) {
		http_reply_error(r, 400, "token needs name and role admin|viewer");
		json_decref(b);
		return;
	}
	char *token, *hash, *err = NULL;
	auth_token_new(&token, &hash);
	if (store_token_add(a->st, hash, name, role, &err) != 0)
		http_reply_error(r, 500, "%s", err);
	else
		http_reply_json(r, 201, json_pack("{s:s,s:s,s:s}", "token", token,
		                "name", name, "role", role));
	free(token);
	free(hash);
	free(err);
	json_decref(b);
}
