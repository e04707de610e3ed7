/* SPDX-License-Identifier: MIT */
/*
 * api_auth.c - the routes about who is asking: dashboard logins and
 * logouts (users.c keeps the sessions), /me, and API tokens: their
 * creation (with an expiry and who made them), listing and revocation,
 * and the check of a Bearer token for the dispatcher.  Who may call each
 * route is in the route table (api.c), not here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "clock.h"
#include "cron.h"
#include "err.h"
#include "log.h"
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
	int retry_s = 0;
	http_client_addr(r, addr, sizeof addr);
	int rc = users_login(a->users, user, pw, addr, &sid, &csrf, &role,
	                     &retry_s, &err);
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
	} else if (rc == -EAGAIN || rc == -EBUSY) {
		char ra[16];
		snprintf(ra, sizeof ra, "%d", retry_s);
		http_add_header(r, "Retry-After", ra);
		http_reply_error(r, rc == -EAGAIN ? 429 : 503, "%s", err);
	} else {
		http_reply_error(r, 401, "%s", err);
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

/* ---------------------------------------------------------- API tokens */

int64_t
api_token_ttl_ms(const struct kiln_config *c)
{
	return c != NULL && c->auth.token_ttl_ms > 0 ? c->auth.token_ttl_ms :
	       KILN_TOKEN_TTL_DEFAULT_MS;
}

void
api_token_who(struct api_ctx *a, const char *token, struct who *w)
{
	char *hash = auth_token_hash(token), *err = NULL;
	struct store_token t;
	int rc = store_token_check(a->st, hash, clock_now_ms(), &t, &err);

	if (rc == 0) {
		w->kind = strcmp(t.role, "admin") == 0 ? WHO_ADMIN : WHO_VIEWER;
		w->how = "token";
		w->token = t.id;
		w->id = t.name;         /* handed over */
		t.name = NULL;
	} else if (rc == -EKEYEXPIRED || rc == -EKEYREVOKED) {
		w->refused = rc == -EKEYEXPIRED ? "token expired" : "token revoked";
		log_info("refused token %" PRId64 " '%s': %s", t.id, t.name,
		         rc == -EKEYEXPIRED ? "expired" : "revoked");
	} else if (rc != -ENOENT) {
		log_warn("cannot check a token: %s", err);
	}
	store_token_clear(&t);
	free(hash);
	free(err);
}

char *
api_principal(const struct who *w)
{
	if (w->how != NULL && strcmp(w->how, "token") == 0)
		return xasprintf("token:%" PRId64, w->token);
	return xasprintf("%s:%s", w->kind == WHO_SIGNED ? "signer" : "user",
	                 w->id != NULL ? w->id : "?");
}

/*
 * The expiry of a new token from its "expires_in" V: whole seconds, a
 * duration as in cluster.yaml ("30d", "12h"), or "never"; absent, TTL_MS
 * from NOW.  *EXPIRES_MS is 0 for never.  0, or -EINVAL and the 400's
 * message in *ERR.
 */
static int
token_expiry(const json_t *v, int64_t now, int64_t ttl_ms, int64_t *expires_ms,
             char **err)
{
	int64_t ms = ttl_ms;

	*expires_ms = 0;
	if (json_is_string(v) && strcmp(json_string_value(v), "never") == 0)
		return 0;
	if (json_is_integer(v)) {
		json_int_t sec = json_integer_value(v);
		ms = sec > 0 && sec <= KILN_TOKEN_TTL_MAX_MS / 1000 ? sec * 1000 : -1;
	} else if (json_is_string(v)) {
		if (config_parse_duration_ms(json_string_value(v), &ms) < 0)
			return err_set(err, -EINVAL, "expires_in: expected seconds, "
			              "a duration like \"30d\" or \"12h\", or "
			              "\"never\"; got \"%s\"", json_string_value(v));
	} else if (v != NULL) {
		return err_set(err, -EINVAL, "expires_in: expected seconds, a "
		              "duration like \"30d\" or \"12h\", or \"never\"");
	}
	if (ms < 1000 || ms > KILN_TOKEN_TTL_MAX_MS)
		return err_set(err, -EINVAL, "expires_in: must be from 1s to "
		              "%" PRId64 "d, or \"never\"",
		              (int64_t)(KILN_TOKEN_TTL_MAX_MS / 86400000));
	*expires_ms = now + ms;
	return 0;
}

/* Unix ms as an ISO 8601 time in UTC, or null for 0. */
static json_t *
token_time(int64_t ms)
{
	char buf[CRON_DATE_MAX];
	if (ms <= 0)
		return json_null();
	cron_format_iso(ms / 1000, buf, sizeof buf);
	return json_string(buf);
}

/* Token T as the API shows it, as of NOW: never its hash. */
static json_t *
token_json(const struct store_token *t, int64_t now)
{
	const char *state = t->revoked_ms > 0 ? "revoked" :
		t->expires_ms > 0 && t->expires_ms <= now ? "expired" : "active";
	return json_pack("{s:I,s:s,s:s,s:s,s:o,s:s?,s:o,s:o,s:o}",
		"id", (json_int_t)t->id, "name", t->name, "role", t->role,
		"state", state, "created_at", token_time(t->created_ms),
		"created_by", t->created_by,
		"expires_at", token_time(t->expires_ms),
		"last_used_at", token_time(t->last_used_ms),
		"revoked_at", token_time(t->revoked_ms));
}

/* POST /api/v1/tokens {"name", "role", "expires_in"}: a new token, shown
 * this once. */
void
api_token_create(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	const char *name = "cli", *role = "admin";
	json_t *expires = NULL;
	json_error_t je;
	char *err = NULL;
	int64_t now = clock_now_ms(), expires_ms;
	if (json_unpack_ex(b, &je, JSON_STRICT, "{s?s,s?s,s?o}", "name", &name,
	                   "role", &role, "expires_in", &expires) != 0) {
		http_reply_error(r, 400, "a token takes name, role and "
		                 "expires_in: %s", je.text);
		goto out;
	}
	if (strcmp(role, "admin") != 0 && strcmp(role, "viewer") != 0) {
		http_reply_error(r, 400, "role: must be admin or viewer, not "
		                 "'%s'", role);
		goto out;
	}
	if (token_expiry(expires, now, api_token_ttl_ms(a->cfg), &expires_ms,
	                 &err) < 0) {
		http_reply_error(r, 400, "%s", err);
		goto out;
	}
	char *token, *hash, *by = api_principal(c->who);
	struct store_token_new t = { NULL, name, role, by, now, expires_ms };
	int64_t id = 0;
	auth_token_new(&token, &hash);
	t.hash_hex = hash;
	int rc = store_token_add(a->st, &t, &id, &err);
	if (rc != 0) {
		api_reply_failed(r, rc, err);
	} else {
		log_info("token %" PRId64 " '%s' (%s) created by %s", id, name,
		         role, by);
		http_reply_json(r, 201, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}",
		                "id", (json_int_t)id, "token", token,
		                "name", name, "role", role, "created_by", by,
		                "expires_at", token_time(expires_ms)));
	}
	free(token);
	free(hash);
	free(by);
out:
	free(err);
	json_decref(b);
}

struct token_list {
	json_t *a;
	int64_t now, last;
};

static int
token_list_one(const struct store_token *t, void *ud)
{
	struct token_list *tl = ud;
	json_array_append_new(tl->a, token_json(t, tl->now));
	tl->last = t->id;
	return 0;
}

/* GET /api/v1/tokens?limit=&before=: every token, newest first. */
void
api_tokens_list(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	int limit = api_query_int(r, "limit", 0);
	if (limit <= 0 || limit > 1000)
		limit = limit <= 0 ? 100 : 1000;
	struct token_list tl = { json_array(), clock_now_ms(), 0 };
	char *err = NULL;
	int rc = store_token_list(a->st, api_query_int64(r, "before", 0),
	                          limit, token_list_one, &tl, &err);
	if (rc != 0) {
		json_decref(tl.a);
		api_reply_failed(r, rc, err);
		free(err);
		return;
	}
	json_t *next = json_array_size(tl.a) == (size_t)limit ?
		json_integer(tl.last) : json_null();
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "tokens", tl.a,
	                "next_before", next));
}

/* DELETE /api/v1/tokens/:id: revoke it; refused from the next request
 * on.  404 unknown, 409 already revoked. */
void
api_token_revoke(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int64_t id = route_num(&c->params, "id");
	struct store_token t;
	char *err = NULL;
	int rc = store_token_get(a->st, id, &t, &err);
	if (rc == -ENOENT) {
		http_reply_error(r, 404, "no token %" PRId64, id);
		goto out;
	} else if (rc < 0) {
		api_reply_failed(r, rc, err);
		goto out;
	}
	struct store_op op = { .kind = STORE_TOKEN_REVOKE, .id = id };
	if ((rc = store_apply(a->st, &op, 1, &err)) < 0) {
		api_reply_failed(r, rc, err);
		goto out;
	}
	if (!op.applied) {
		http_reply_error(r, 409, "token %" PRId64 " is already revoked", id);
		goto out;
	}
	store_token_clear(&t);
	if ((rc = store_token_get(a->st, id, &t, &err)) < 0) {
		api_reply_failed(r, rc, err);
		goto out;
	}
	char *by = api_principal(c->who);
	log_info("token %" PRId64 " '%s' revoked by %s", id, t.name, by);
	free(by);
	http_reply_json(r, 200, token_json(&t, clock_now_ms()));
out:
	store_token_clear(&t);
	free(err);
}
