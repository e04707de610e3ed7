/* SPDX-License-Identifier: MIT */
/*
 * api-test.c - the master's route table and dispatcher (src/api.c) and
 * its pattern matcher (src/route.c).
 *
 * The table is walked row by row: every route that changes something
 * refuses a viewer and, from a browser session, a request without its
 * CSRF token - except login (there is no session yet: it makes one) and
 * logout (a viewer may end its own session; the CSRF token is still
 * needed, so another site cannot log a user out).  Each row is reachable
 * (no row before it takes its requests).  Then real requests go through a
 * real HTTP server on 127.0.0.1, with every caller there is (nobody, a
 * signature, admin and viewer tokens, admin and viewer sessions with and
 * without the right token), first to the table with its handlers replaced
 * by a stub that counts calls, so that a refusal is known to come before
 * any handler; then to the real table for unknown routes, bad ids,
 * trailing slashes, wrong methods, artifacts and the open routes.
 * Signed requests: each nonce is taken once (a captured request sent
 * again is refused), the Host is signed, and every reply to a request
 * whose signature and nonce were taken is signed over its nonce, while a
 * refused one's is not.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "testutil.h"
#include <curl/curl.h>
#include <jansson.h>

#include "hash.h"
#include "clock.h"
#include "api_int.h"
#include "auth.h"
#include "log.h"
#include "replay.h"
#include "route.h"
#include "xalloc.h"

#define SECRET "api-test-secret"

/* ------------------------------------------------------------------ */
/* The pattern matcher                                                 */
/* ------------------------------------------------------------------ */

static int
match(const char *pattern, const char *path, struct route_params *m)
{
	return route_match(pattern, path, m);
}

START_TEST(route_literals_and_params)
{
	struct route_params m;

	ck_assert(match("/api/v1/jobs", "/api/v1/jobs", &m));
	ck_assert_int_eq(m.n, 0);
	ck_assert(!match("/api/v1/jobs", "/api/v1/job", &m));
	ck_assert(!match("/api/v1/jobs", "/api/v1/jobsx", &m));
	ck_assert(!match("/api/v1/jobs", "/api/v1", &m));
	ck_assert(!match("/api/v1/jobs", "/api/v1/jobs/", &m));   /* trailing slash */
	ck_assert(!match("/api/v1/jobs", "api/v1/jobs", &m));
	ck_assert(!match("/api/v1/jobs", "", &m));

	ck_assert(match("/api/v1/runs/:run/tasks/:task/log",
	                "/api/v1/runs/manual__2026-01-02T03:04:05/tasks/load/log", &m));
	ck_assert_int_eq(m.n, 2);
	ck_assert_str_eq(route_text(&m, "run"), "manual__2026-01-02T03:04:05");
	ck_assert_str_eq(route_text(&m, "task"), "load");
	ck_assert_str_eq(route_text(&m, "nope"), "");
	ck_assert_int_eq(route_num(&m, "run"), 0);
	ck_assert(!match("/api/v1/runs/:run/tasks/:task/log",
	                 "/api/v1/runs//tasks/load/log", &m));      /* empty */
	ck_assert(!match("/api/v1/runs/:run/tasks/:task/log",
	                 "/api/v1/runs/r/tasks/load/log/", &m));
	ck_assert(!match("/api/v1/runs/:run/tasks/:task/log",
	                 "/api/v1/runs/r/tasks/load/clear", &m));
	ck_assert(!match("/api/v1/dags/:dag", "/api/v1/dags/a/b", &m));

	/* A text parameter is one segment of at most 255 bytes. */
	char path[400], seg[300];
	memset(seg, 'd', 255);
	seg[255] = '\0';
	snprintf(path, sizeof path, "/api/v1/dags/%s", seg);
	ck_assert(match("/api/v1/dags/:dag", path, &m));
	ck_assert_str_eq(route_text(&m, "dag"), seg);
	snprintf(path, sizeof path, "/api/v1/dags/%sd", seg);
	ck_assert(!match("/api/v1/dags/:dag", path, &m));

	/* The rest of the path. */
	ck_assert(match("/api/*", "/api/", &m));
	ck_assert(match("/api/*", "/api/v1/anything/at/all/", &m));
	ck_assert(!match("/api/*", "/api", &m));
	ck_assert(!match("/api/*", "/apix/v1", &m));
	ck_assert(match("/*", "/", &m));
	ck_assert(match("/*", "/index.html", &m));
}
END_TEST

START_TEST(route_ids_are_strict)
{
	struct route_params m;
	const char *pat = "/api/v1/jobs/:id/log";
	static const struct { const char *path; int64_t id; } ok[] = {
		{ "/api/v1/jobs/1/log", 1 },
		{ "/api/v1/jobs/42/log", 42 },
		{ "/api/v1/jobs/9223372036854775807/log", INT64_MAX },
	};
	static const char *const bad[] = {
		"/api/v1/jobs/0/log", "/api/v1/jobs/-1/log", "/api/v1/jobs/+1/log",
		"/api/v1/jobs/ 1/log", "/api/v1/jobs/1 /log", "/api/v1/jobs/1a/log",
		"/api/v1/jobs/0x10/log", "/api/v1/jobs/007/log", "/api/v1/jobs/1e3/log",
		"/api/v1/jobs/9223372036854775808/log",       /* INT64_MAX + 1 */
		"/api/v1/jobs/99999999999999999999999/log", "/api/v1/jobs//log",
		"/api/v1/jobs/abc/log",
	};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(match(pat, ok[i].path, &m), "%s", ok[i].path);
		ck_assert(route_num(&m, "id") == ok[i].id);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!match(pat, bad[i], &m), "%s matched", bad[i]);
	ck_assert(match("/api/v1/cluster/stages/:stage", "/api/v1/cluster/stages/12", &m));
	ck_assert(route_num(&m, "stage") == 12);
	ck_assert(!match("/api/v1/cluster/stages/:stage", "/api/v1/cluster/stages/x", &m));

	/* Artifact names: 64 lowercase hex digits. */
	char path[200], sha[65];
	memset(sha, 'a', 64);
	sha[64] = '\0';
	snprintf(path, sizeof path, "/api/v1/artifacts/%s", sha);
	ck_assert(match("/api/v1/artifacts/:sha", path, &m));
	ck_assert_str_eq(route_text(&m, "sha"), sha);
	sha[3] = 'A';
	snprintf(path, sizeof path, "/api/v1/artifacts/%s", sha);
	ck_assert(!match("/api/v1/artifacts/:sha", path, &m));
	snprintf(path, sizeof path, "/api/v1/artifacts/%.63s", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	ck_assert(!match("/api/v1/artifacts/:sha", path, &m));
	ck_assert(!match("/api/v1/artifacts/:sha", "/api/v1/artifacts/..", &m));
}
END_TEST

/* ------------------------------------------------------------------ */
/* The table, read as data                                             */
/* ------------------------------------------------------------------ */

static int
changes_state(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "DELETE") == 0 || strcmp(method, "PATCH") == 0;
}

/* The state-changing routes a viewer may call, and why. */
static int
viewer_may(const struct api_route *rt)
{
	/* login: it authenticates no one (API_OPEN); logout: ends the
	 * caller's own session. */
	return strcmp(rt->pattern, "/api/v1/login") == 0 ||
	       strcmp(rt->pattern, "/api/v1/logout") == 0;
}

/* A path that PATTERN matches: parameters filled with valid values, a
 * final "*" with "zz". */
static char *
sample_path(const char *pattern)
{
	char *out = xstrdup("");
	const char *p = pattern;

	while (*p == '/') {
		p++;
		size_t n = strcspn(p, "/");
		const char *v = NULL;
		if (n == 1 && *p == '*')
			v = "zz";
		else if (*p == ':' && (strncmp(p, ":id", n) == 0 || strncmp(p, ":stage", n) == 0))
			v = "7";
		else if (*p == ':' && strncmp(p, ":sha", n) == 0)
			v = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
		else if (*p == ':')
			v = "x";
		char *next = v ? xasprintf("%s/%s", out, v) :
			xasprintf("%s/%.*s", out, (int)n, p);
		free(out);
		out = next;
		p += n;
	}
	return out;
}

/* The method to try a row with: its own, or one no other row names. */
static const char *
sample_method(const struct api_route *rt)
{
	return strcmp(rt->method, "*") == 0 ? "PATCH" : rt->method;
}

START_TEST(table_policy)
{
	int changing = 0;

	ck_assert_int_gt(api_nroutes, 30);
	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *rt = &api_routes[i];
		ck_assert_msg(rt->pattern[0] == '/', "row %zu", i);
		ck_assert_ptr_nonnull(rt->handler);
		if (strcmp(rt->method, "*") == 0) {
			/* Catch-alls answer, they do nothing. */
			ck_assert_msg(rt->handler == api_no_route ||
			              rt->handler == api_no_method,
			              "%s %s does something", rt->method, rt->pattern);
			continue;
		}
		ck_assert_msg(strcmp(rt->method, "GET") == 0 || changes_state(rt->method),
		              "%s %s: unknown method", rt->method, rt->pattern);
		if (!changes_state(rt->method))
			continue;
		changing++;
		if (!viewer_may(rt))
			ck_assert_msg(rt->role == API_ADMIN || rt->role == API_WORKER,
			              "%s %s lets a viewer change things", rt->method, rt->pattern);
		/* Workers sign; no browser can (sessions are refused there). */
		if (rt->role != API_WORKER && strcmp(rt->pattern, "/api/v1/login") != 0)
			ck_assert_msg(rt->csrf, "%s %s takes no CSRF token",
			              rt->method, rt->pattern);
	}
	ck_assert_int_ge(changing, 17);
}
END_TEST

/* Each row answers the requests it is written for: no row above takes
 * them (a :parameter before the literal it would also match, say). */
START_TEST(table_rows_are_reachable)
{
	struct route_params m;

	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *rt = &api_routes[i];
		char *path = sample_path(rt->pattern);
		const char *method = sample_method(rt);
		size_t first = api_nroutes;
		for (size_t k = 0; k < api_nroutes && first == api_nroutes; k++)
			if ((strcmp(api_routes[k].method, "*") == 0 ||
			     strcmp(api_routes[k].method, method) == 0) &&
			    route_match(api_routes[k].pattern, path, &m))
				first = k;
		ck_assert_msg(first == i, "%s %s is answered by row %zu, not %zu",
		              method, path, first, i);
		free(path);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* A real server                                                       */
/* ------------------------------------------------------------------ */

static char dir[256];
static struct kiln_config cfg;
static struct kiln_user_conf user_conf[2];
static struct api_ctx A;
static const struct api_route *rows;    /* what the server routes by */
static size_t nrows;
static struct api_route *stubbed;       /* api_routes with stub handlers */
static int stub_calls;                  /* atomic */
static int port;
static char *admin_token, *viewer_token;
static int64_t admin_token_id;
static const char *other_token;         /* the caller OTHER_TOKEN */
static char *admin_sid, *admin_csrf, *viewer_sid, *viewer_csrf;

/* Stands for every real handler: says it was called, with the params. */
static void
stub(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	json_t *params = json_object();
	(void)a;
	for (int i = 0; i < c->params.n; i++)
		json_object_set_new(params, c->params.p[i].name,
		                    json_string(c->params.p[i].text));
	__atomic_fetch_add(&stub_calls, 1, __ATOMIC_SEQ_CST);
	http_reply_json(r, 200, json_pack("{s:b,s:o}", "stub", 1, "params", params));
}

static void
serve(http_req *r, void *ud)
{
	api_dispatch(ud, r, rows, nrows);
}


/* A token made through the store, expiring at EXPIRES_MS (0 = never);
 * its id in *ID if ID is not NULL. */
static char *
store_token(const char *name, const char *role, int64_t expires_ms,
            int64_t *id)
{
	char *token, *hash, *err = NULL;
	auth_token_new(&token, &hash);
	struct store_token_new t = { hash, name, role, "test", 0, expires_ms };
	ck_assert_int_eq(store_token_add(A.st, &t, id, &err), 0);
	free(hash);
	return token;
}

static char *
new_token(const char *name, const char *role)
{
	return store_token(name, role, 0, NULL);
}

static void
login(const char *user, const char *pw, char **sid, char **csrf)
{
	const char *role;
	char *err = NULL;
	int retry_s;
	int rc = users_login(A.users, user, pw, "127.0.0.1", sid, csrf, &role,
	                     &retry_s, &err);
	ck_assert_msg(rc == 0, "login %s: %s", user, err ? err : "?");
}

static void
setup(void)
{
	char *err = NULL;

	ck_assert_int_eq(auth_init(), 0);
	tu_tmpdir(dir, sizeof dir, "api");
	memset(&cfg, 0, sizeof cfg);
	cfg.cluster_name = "api-test";
	cfg.master.data_dir = dir;
	cfg.master.heartbeat_ms = 1000;
	cfg.master.default_max_attempts = 3;
	user_conf[0] = (struct kiln_user_conf){ "alice", "admin", users_hash("alice-pw") };
	user_conf[1] = (struct kiln_user_conf){ "victor", "viewer", users_hash("victor-pw") };
	cfg.auth.users = user_conf;
	cfg.auth.nusers = 2;

	memset(&A, 0, sizeof A);
	A.cfg = &cfg;
	A.secret = SECRET;
	A.replay = replay_new(REPLAY_MAX_SESSIONS, 2 * AUTH_SKEW_MS);
	char *db = xasprintf("%s/kiln.db", dir);
	ck_assert_int_eq(store_open(db, 0, &A.st, &err), 0);
	free(db);
	struct sched_opts so = { .worker_timeout_ms = 10000 };
	ck_assert_int_eq(sched_new(A.st, &so, &A.sc, &err), 0);
	ck_assert_int_eq(users_open(&cfg, A.st, &A.users, &err), 0);
	A.started_mono = clock_mono_ms();

	stubbed = xcalloc(api_nroutes, sizeof *stubbed);
	for (size_t i = 0; i < api_nroutes; i++) {
		stubbed[i] = api_routes[i];
		if (stubbed[i].handler != api_no_route && stubbed[i].handler != api_no_method)
			stubbed[i].handler = stub;
	}
	rows = stubbed;
	nrows = api_nroutes;
	stub_calls = 0;

	struct http_opts ho = { .listen = "127.0.0.1", .threads = 2 };
	ck_assert_int_eq(http_start(&ho, serve, &A, &A.http, &err), 0);
	port = http_port(A.http);

	admin_token = store_token("adm", "admin", 0, &admin_token_id);
	viewer_token = new_token("ro", "viewer");
	login("alice", "alice-pw", &admin_sid, &admin_csrf);
	login("victor", "victor-pw", &viewer_sid, &viewer_csrf);
}

static void
teardown(void)
{
	http_stop(A.http);
	replay_free(A.replay);
	users_close(A.users);
	sched_free(A.sc);
	store_close(A.st);
	free(stubbed);
	free(admin_token);
	free(viewer_token);
	free(admin_sid);
	free(admin_csrf);
	free(viewer_sid);
	free(viewer_csrf);
	free(user_conf[0].password_hash);
	free(user_conf[1].password_hash);
	tu_rmtree(dir);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

enum caller {
	NOBODY, SIGNED, ADMIN_TOKEN, VIEWER_TOKEN,
	ADMIN_SESSION, ADMIN_SESSION_NO_CSRF, ADMIN_SESSION_WRONG_CSRF,
	VIEWER_SESSION, NCALLERS,
	OTHER_TOKEN = NCALLERS  /* not walked: the Bearer token other_token */
};

static const char *const caller_name[NCALLERS] = {
	"nobody", "a signature", "an admin token", "a viewer token",
	"an admin session", "an admin session without CSRF token",
	"an admin session with a wrong CSRF token", "a viewer session",
};

struct reply {
	long status;
	char *body;
	size_t len;
	int www_auth;           /* a WWW-Authenticate header came */
	char sig[80];           /* its X-Kiln-Signature, "" if none */
};

/* The last signed request's Authorization header and nonce, to send it
 * again. */
static char last_auth[512];
static char last_nonce[AUTH_NONCE_MAX + 1];
static uint64_t session = 0x5e55105e55105e55ull;
static uint64_t counter;

static size_t
on_body(char *data, size_t size, size_t n, void *ud)
{
	struct reply *o = ud;
	o->body = xrealloc(o->body, o->len + size * n + 1);
	memcpy(o->body + o->len, data, size * n);
	o->len += size * n;
	o->body[o->len] = '\0';
	return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *ud)
{
	struct reply *o = ud;
	size_t len = size * n;
	static const char sig[] = AUTH_REPLY_HEADER ": ";
	if (strncasecmp(data, "WWW-Authenticate:", 17) == 0)
		o->www_auth = 1;
	else if (len > sizeof sig - 1 && strncasecmp(data, sig, sizeof sig - 1) == 0)
		snprintf(o->sig, sizeof o->sig, "%.*s",
		         (int)strcspn(data + sizeof sig - 1, "\r\n"),
		         data + sizeof sig - 1);
	return len;
}

static void send_req(struct reply *o, const char *method, const char *path,
                     const char *body, const char *hdr, const char *sid,
                     const char *csrf, const char *host);

/* The Authorization header of METHOD PATH with BODY signed with SECRET_ for
 * HOST (NULL: the server's) with nonce COUNTER of SESSION; malloc()ed.
 * Kept in last_auth and last_nonce too. */
static char *
signed_hdr(const char *secret_, const char *host, uint64_t ctr,
           const char *method, const char *path, const char *body)
{
	char here[64];
	snprintf(here, sizeof here, "127.0.0.1:%d", port);
	struct auth_req q = { .method = method, .host = host ? host : here,
	                      .path = path, .body = body,
	                      .len = body ? strlen(body) : 0 };
	auth_nonce(last_nonce, session, ctr);
	char *sig = auth_sign(secret_, "w1", last_nonce, &q, clock_now_ms());
	char *hdr = xasprintf("Authorization: %s", sig);
	snprintf(last_auth, sizeof last_auth, "%s", hdr);
	free(sig);
	return hdr;
}

/* METHOD PATH as WHO, with BODY (NULL: none); the reply in *O (free
 * o->body). */
static void
call(struct reply *o, enum caller who, const char *method, const char *path,
     const char *body)
{
	char *hdr = NULL;
	const char *sid = NULL, *csrf = NULL;
	switch (who) {
	case SIGNED:
		hdr = signed_hdr(SECRET, NULL, ++counter, method, path, body);
		break;
	case ADMIN_TOKEN:
	case VIEWER_TOKEN:
	case OTHER_TOKEN:
		hdr = xasprintf("Authorization: Bearer %s",
		                who == ADMIN_TOKEN ? admin_token :
		                who == VIEWER_TOKEN ? viewer_token : other_token);
		break;
	case ADMIN_SESSION:
		sid = admin_sid;
		csrf = admin_csrf;
		break;
	case ADMIN_SESSION_NO_CSRF:
		sid = admin_sid;
		break;
	case ADMIN_SESSION_WRONG_CSRF:
		sid = admin_sid;
		csrf = "wrong";
		break;
	case VIEWER_SESSION:
		sid = viewer_sid;
		csrf = viewer_csrf;
		break;
	default:
		break;
	}
	send_req(o, method, path, body, hdr, sid, csrf, NULL);
	free(hdr);
}

/* METHOD PATH with BODY (NULL: none), the header HDR (NULL: none), a
 * session cookie SID and CSRF token (NULL: none), and HOST as the Host
 * header (NULL: curl's); the reply in *O. */
static void
send_req(struct reply *o, const char *method, const char *path,
         const char *body, const char *hdr, const char *sid, const char *csrf,
         const char *host)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	size_t len = body ? strlen(body) : 0;

	memset(o, 0, sizeof *o);
	if (host != NULL) {
		char *x = xasprintf("Host: %s", host);
		h = curl_slist_append(h, x);
		free(x);
	}
	if (sid != NULL) {
		char *cookie = xasprintf(API_SESSION_COOKIE "=%s", sid);
		curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
		free(cookie);
	}
	if (csrf != NULL) {
		char *x = xasprintf("X-CSRF-Token: %s", csrf);
		h = curl_slist_append(h, x);
		free(x);
	}
	if (hdr != NULL)
		h = curl_slist_append(h, hdr);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, o);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, o);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	if (h != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &o->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	if (o->body == NULL)
		o->body = xstrdup("");
}

/* The status of METHOD PATH as WHO. */
static long
status_of(enum caller who, const char *method, const char *path, const char *body)
{
	struct reply o;
	call(&o, who, method, path, body);
	free(o.body);
	return o.status;
}

/* String field KEY of a JSON reply ("" if none); valid until the next
 * call. */
static const char *
jfield(const struct reply *o, const char *key)
{
	static char buf[256];
	json_t *j = json_loads(o->body, 0, NULL);
	const char *v = json_string_value(json_object_get(j, key));
	snprintf(buf, sizeof buf, "%s", v ? v : "");
	json_decref(j);
	return buf;
}

/* Is the body a JSON error with STATUS and a message starting PREFIX? */
static void
assert_error(const struct reply *o, long status, const char *prefix)
{
	json_error_t je;
	json_t *j = json_loads(o->body, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", o->body);
	ck_assert_int_eq(o->status, status);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	const char *e = json_string_value(json_object_get(j, "error"));
	ck_assert_msg(e != NULL && strncmp(e, prefix, strlen(prefix)) == 0,
	              "error '%s', wanted '%s...'", e ? e : "(none)", prefix);
	json_decref(j);
}

/* ------------------------------------------------------------------ */
/* The table's policy, enforced before any handler                     */
/* ------------------------------------------------------------------ */

/* What WHO gets from ROW: 200 (the stub ran), 401 or 403. */
static long
expected(const struct api_route *rt, enum caller who)
{
	if (rt->role == API_OPEN || (rt->role == API_METRICS && !cfg.master.metrics_auth))
		return 200;
	if (who == NOBODY)
		return 401;
	if (rt->role == API_WORKER)
		return who == SIGNED ? 200 : 403;
	if (rt->csrf && (who == ADMIN_SESSION_NO_CSRF || who == ADMIN_SESSION_WRONG_CSRF))
		return 403;
	if (rt->role == API_ADMIN && (who == VIEWER_TOKEN || who == VIEWER_SESSION))
		return 403;
	return 200;
}

START_TEST(every_row_by_every_caller)
{
	int want_calls = 0;

	for (size_t i = 0; i < api_nroutes; i++) {
		const struct api_route *rt = &api_routes[i];
		if (strcmp(rt->method, "*") == 0)
			continue;   /* catch-alls: below */
		char *path = sample_path(rt->pattern);
		for (int who = NOBODY; who < NCALLERS; who++) {
			long want = expected(rt, who);
			struct reply o;
			call(&o, who, rt->method, path,
			     strcmp(rt->method, "GET") == 0 ? NULL : "{}");
			ck_assert_msg(o.status == want, "%s %s by %s: %ld, wanted %ld (%s)",
			              rt->method, path, caller_name[who], o.status, want, o.body);
			if (want == 200)
				want_calls++;
			else if (want == 401)
				ck_assert(o.www_auth);
			free(o.body);
			ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), want_calls);
		}
		free(path);
	}
	/* The rules themselves, for the routes a browser uses most. */
	ck_assert_int_eq(status_of(VIEWER_SESSION, "POST", "/api/v1/jobs", "{}"), 403);
	ck_assert_int_eq(status_of(VIEWER_TOKEN, "POST", "/api/v1/dags/d/trigger", "{}"), 403);
	ck_assert_int_eq(status_of(ADMIN_SESSION_NO_CSRF, "POST", "/api/v1/logout", "{}"), 403);
	ck_assert_int_eq(status_of(VIEWER_SESSION, "POST", "/api/v1/logout", "{}"), 200);
}
END_TEST

START_TEST(handlers_get_their_params)
{
	struct reply o;

	call(&o, VIEWER_TOKEN, "GET", "/api/v1/runs/r%201/tasks/t.2/log?attempt=2", NULL);
	ck_assert_int_eq(o.status, 200);
	json_t *j = json_loads(o.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "run")), "r 1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "task")), "t.2");
	json_decref(j);
	free(o.body);

	call(&o, SIGNED, "DELETE", "/api/v1/cluster/stages/31", NULL);
	ck_assert_int_eq(o.status, 200);
	j = json_loads(o.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "params"), "stage")), "31");
	json_decref(j);
	free(o.body);
	/* "errors" is a route of its own, not a DAG. */
	ck_assert_int_eq(status_of(VIEWER_TOKEN, "GET", "/api/v1/dags/errors", NULL), 200);
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 3);
}
END_TEST

/* Unknown routes, bad ids, trailing slashes, wrong methods: JSON 404s (or
 * 405 where the path knows no such method), never a handler. */
START_TEST(unknown_routes)
{
	static const char *const no_route[] = {
		"GET /api/v1/nothing", "GET /api/v1/jobs/abc", "GET /api/v1/jobs/0",
		"GET /api/v1/jobs/-1", "GET /api/v1/jobs/99999999999999999999",
		"GET /api/v1/jobs/5/", "GET /api/v1/jobs/", "GET /api/v1/jobs/5/nope",
		"POST /api/v1/jobs/5/log", "DELETE /api/v1/jobs", "PUT /api/v1/jobs/5",
		"GET /api/v1/dags/", "GET /api/v1/dags/d/", "POST /api/v1/dags/d",
		"POST /api/v1/dags", "GET /api/v1/runs/r/tasks/t", "GET /api/",
		"GET /api/v1/artifacts/abc", "GET /api/v2/jobs", "HEAD /api/v1/jobs",
	};
	struct reply o;

	for (size_t i = 0; i < sizeof no_route / sizeof no_route[0]; i++) {
		char method[16], path[128], want[160];
		ck_assert_int_eq(sscanf(no_route[i], "%15s %127s", method, path), 2);
		snprintf(want, sizeof want, "no route %s %s", method, path);
		call(&o, ADMIN_TOKEN, method, path, NULL);
		if (strcmp(method, "HEAD") == 0)
			ck_assert_int_eq(o.status, 404);     /* no body to read */
		else
			assert_error(&o, 404, want);
		free(o.body);
		/* Strangers learn nothing about what exists. */
		call(&o, NOBODY, method, path, NULL);
		ck_assert_int_eq(o.status, 401);
		free(o.body);
	}
	/* Under /cluster/, everything needs the secret first. */
	ck_assert_int_eq(status_of(ADMIN_TOKEN, "GET", "/api/v1/cluster/nothing", NULL), 403);
	call(&o, SIGNED, "GET", "/api/v1/cluster/nothing", NULL);
	assert_error(&o, 404, "no route GET /api/v1/cluster/nothing");
	free(o.body);
	call(&o, SIGNED, "GET", "/api/v1/cluster/stages/x", NULL);
	assert_error(&o, 404, "no route");
	free(o.body);
	call(&o, SIGNED, "PUT", "/api/v1/cluster/stages/5", "{}");
	assert_error(&o, 405, "method not allowed");
	free(o.body);
	/* Outside /api/: the dashboard's files, GET only. */
	call(&o, NOBODY, "POST", "/", "{}");
	assert_error(&o, 405, "method not allowed");
	free(o.body);
	ck_assert_int_eq(status_of(NOBODY, "PUT", "/metrics", "x"), 405);
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The real handlers                                                   */
/* ------------------------------------------------------------------ */

START_TEST(real_handlers)
{
	struct reply o;
	const char *text = "hello, artifact";
	char *sha = hash_hex(text, strlen(text));
	char *path = xasprintf("/api/v1/artifacts/%s", sha);

	rows = api_routes;
	call(&o, NOBODY, "GET", "/api/v1/health", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(jfield(&o, "status"), "ok");
	free(o.body);
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/jobs/5", NULL);
	assert_error(&o, 404, "no job 5");
	free(o.body);
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/jobs/5x", NULL);
	assert_error(&o, 404, "no route GET /api/v1/jobs/5x");
	free(o.body);
	call(&o, VIEWER_SESSION, "GET", "/api/v1/me", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(jfield(&o, "role"), "viewer");
	ck_assert_str_eq(jfield(&o, "csrf"), viewer_csrf);
	ck_assert_str_eq(jfield(&o, "auth"), "session");
	free(o.body);
	ck_assert_int_eq(status_of(NOBODY, "GET", "/metrics", NULL), 200);

	/* Artifacts: in, out, refused when the bytes are not the name's. */
	call(&o, ADMIN_TOKEN, "PUT", path, "not the bytes");
	assert_error(&o, 400, "the bytes hash to");
	free(o.body);
	call(&o, ADMIN_TOKEN, "GET", path, NULL);
	assert_error(&o, 404, "no artifact");
	free(o.body);
	call(&o, SIGNED, "PUT", path, text);
	ck_assert_int_eq(o.status, 201);
	json_t *j = json_loads(o.body, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(j, "sha")), sha);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), strlen(text));
	json_decref(j);
	free(o.body);
	call(&o, VIEWER_TOKEN, "GET", path, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.body, text);
	free(o.body);

	/* A session that logged out is gone. */
	ck_assert_int_eq(status_of(ADMIN_SESSION, "POST", "/api/v1/logout", "{}"), 200);
	ck_assert_int_eq(status_of(ADMIN_SESSION, "GET", "/api/v1/me", NULL), 401);
	free(path);
	free(sha);
}
END_TEST

/* Is O signed by the master over NONCE, its status and its body (or,
 * for a HEAD, no body)? */
static int
reply_signed(const struct reply *o, const char *nonce, int head)
{
	char *h = head ? hash_hex("", 0) : hash_hex(o->body, o->len);
	int rc = auth_reply_verify(SECRET, o->sig[0] ? o->sig : NULL, nonce,
	                           (int)o->status, h);
	free(h);
	return rc == 0;
}

/* Every reply to a signed request is signed over its nonce: a stub's,
 * an error, a HEAD. */
START_TEST(signed_replies)
{
	struct reply o;

	call(&o, SIGNED, "GET", "/api/v1/workers", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_msg(reply_signed(&o, last_nonce, 0), "sig '%s'", o.sig);
	/* ... over that nonce only */
	char other[AUTH_NONCE_MAX + 1];
	auth_nonce(other, session, counter + 1);
	ck_assert(!reply_signed(&o, other, 0));
	free(o.body);
	call(&o, SIGNED, "PUT", "/api/v1/cluster/stages/5", "{}");
	assert_error(&o, 405, "method not allowed");
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	call(&o, SIGNED, "HEAD", "/api/v1/jobs", NULL);
	ck_assert_int_eq(o.status, 404);
	ck_assert(reply_signed(&o, last_nonce, 1));
	free(o.body);
	/* Nothing is signed for the others. */
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/workers", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.sig, "");
	free(o.body);
}
END_TEST

/* A signed request sent again, as captured, is refused before any
 * handler, unsigned; so is one signed for another host or with another
 * secret.  Counters may come out of order within the window. */
START_TEST(replayed_request)
{
	struct reply o;
	const char *path = "/api/v1/cluster/exchange", *body = "{\"a\":1}";

	call(&o, SIGNED, "POST", path, body);
	ck_assert_int_eq(o.status, 200);
	free(o.body);
	char *again = xstrdup(last_auth);
	send_req(&o, "POST", path, body, again, NULL, NULL, NULL);
	assert_error(&o, 401, "replayed request: nonce ");
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 1);

	/* Out of order: 100 then 90 are taken, 90 again is not. */
	char *h100 = signed_hdr(SECRET, NULL, counter + 100, "POST", path, body);
	char *h90 = signed_hdr(SECRET, NULL, counter + 90, "POST", path, body);
	send_req(&o, "POST", path, body, h100, NULL, NULL, NULL);
	ck_assert_int_eq(o.status, 200);
	free(o.body);
	send_req(&o, "POST", path, body, h90, NULL, NULL, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert(reply_signed(&o, last_nonce, 0));     /* last_nonce: 90's */
	free(o.body);
	send_req(&o, "POST", path, body, h90, NULL, NULL, NULL);
	assert_error(&o, 401, "replayed request");
	free(o.body);
	counter += 100;

	/* Signed for another host, or with another secret: 401, unsigned,
	 * and the nonce is not spent. */
	char *elsewhere = signed_hdr(SECRET, "10.0.0.9:8080", ++counter, "POST",
	                             path, body);
	send_req(&o, "POST", path, body, elsewhere, NULL, NULL, NULL);
	assert_error(&o, 401, "authentication required");
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	send_req(&o, "POST", path, body, elsewhere, NULL, NULL, "10.0.0.9:8080");
	ck_assert_int_eq(o.status, 200);        /* where it was meant to go */
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	char *wrong = signed_hdr("not-the-secret", NULL, ++counter, "POST", path, body);
	send_req(&o, "POST", path, body, wrong, NULL, NULL, NULL);
	assert_error(&o, 401, "authentication required");
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 4);
	free(again);
	free(h100);
	free(h90);
	free(elsewhere);
	free(wrong);
}
END_TEST

/* Parks once, for 50 ms, then replies: a long poll. */
static void
park_stub(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)a;
	if (http_state(r) == NULL) {
		http_set_state(r, xstrdup("parked"), free);
		http_park(r, clock_mono_ms() + 50);
		return;
	}
	__atomic_fetch_add(&stub_calls, 1, __ATOMIC_SEQ_CST);
	http_reply_json(r, 200, json_pack("{s:s,s:b}", "who", c->who->id,
	                                  "expired", http_parked_expired(r)));
}

/* A parked signed request is entered again, with the dispatcher: its
 * nonce, taken on the first entry, is not a replay on the next, and the
 * reply is signed over it. */
START_TEST(parked_signed_request)
{
	static const struct api_route park_rows[] = {
		{ "POST", "/api/v1/cluster/wait", API_WORKER, 0, park_stub },
	};
	struct reply o;

	rows = park_rows;
	nrows = 1;
	call(&o, SIGNED, "POST", "/api/v1/cluster/wait", "{}");
	ck_assert_msg(o.status == 200, "%ld %s", o.status, o.body);
	ck_assert_str_eq(jfield(&o, "who"), "w1");
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	char *again = xstrdup(last_auth);
	send_req(&o, "POST", "/api/v1/cluster/wait", "{}", again, NULL, NULL, NULL);
	assert_error(&o, 401, "replayed request");
	free(o.body);
	free(again);
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 1);
}
END_TEST

/* A full replay table refuses new sessions with 503 (sessions it holds
 * go on); without a table every signed request is refused. */
START_TEST(replay_table_full)
{
	struct reply o;
	replay *big = A.replay;

	A.replay = replay_new(1, 2 * AUTH_SKEW_MS);
	call(&o, SIGNED, "GET", "/api/v1/workers", NULL);
	ck_assert_int_eq(o.status, 200);
	free(o.body);
	session++;
	call(&o, SIGNED, "GET", "/api/v1/workers", NULL);
	assert_error(&o, 503, "too many signing sessions");
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	session--;
	call(&o, SIGNED, "GET", "/api/v1/workers", NULL);
	ck_assert_int_eq(o.status, 200);
	free(o.body);
	replay_free(A.replay);
	A.replay = NULL;
	call(&o, SIGNED, "GET", "/api/v1/workers", NULL);
	ck_assert_int_eq(o.status, 503);
	free(o.body);
	A.replay = big;
	ck_assert_int_eq(__atomic_load_n(&stub_calls, __ATOMIC_SEQ_CST), 2);
}
END_TEST

/* The real handlers' replies to a signed request are signed too: open
 * routes, errors, and an artifact sent from its file (signed over its
 * name, which is its hash). */
START_TEST(signed_real_replies)
{
	struct reply o;
	const char *text = "signed artifact";
	char *sha = hash_hex(text, strlen(text));
	char *path = xasprintf("/api/v1/artifacts/%s", sha);

	rows = api_routes;
	call(&o, SIGNED, "GET", "/api/v1/health", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	call(&o, NOBODY, "GET", "/api/v1/health", NULL);
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	/* An open route answers a replay, unsigned. */
	char *again = xstrdup(last_auth);
	call(&o, SIGNED, "GET", "/api/v1/health", NULL);
	free(o.body);
	send_req(&o, "GET", "/api/v1/health", NULL, again, NULL, NULL, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.sig, "");
	free(o.body);
	free(again);
	call(&o, SIGNED, "GET", "/api/v1/jobs/5", NULL);
	assert_error(&o, 404, "no job 5");
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	call(&o, SIGNED, "GET", path, NULL);
	assert_error(&o, 404, "no artifact");
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	call(&o, SIGNED, "PUT", path, text);
	ck_assert_int_eq(o.status, 201);
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	call(&o, SIGNED, "GET", path, NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(o.body, text);
	ck_assert(reply_signed(&o, last_nonce, 0));
	free(o.body);
	free(path);
	free(sha);
}
END_TEST

START_TEST(metrics_auth)
{
	cfg.master.metrics_auth = 1;
	rows = api_routes;
	ck_assert_int_eq(status_of(NOBODY, "GET", "/metrics", NULL), 401);
	ck_assert_int_eq(status_of(VIEWER_TOKEN, "GET", "/metrics", NULL), 200);
	ck_assert_int_eq(status_of(NOBODY, "GET", "/api/v1/health", NULL), 200);
	cfg.master.metrics_auth = 0;
}
END_TEST

/* ------------------------------------------------------------------ */
/* API tokens: expiry, listing, revocation, who made them               */
/* ------------------------------------------------------------------ */

/* The JSON of a reply; caller frees. */
static json_t *
jbody(const struct reply *o)
{
	json_error_t je;
	json_t *j = json_loads(o->body, 0, &je);
	ck_assert_msg(j != NULL, "not JSON: %s", o->body);
	return j;
}

/* POST /api/v1/tokens BODY as WHO: the reply's JSON (201 expected). */
static json_t *
token_create(enum caller who, const char *body)
{
	struct reply o;
	call(&o, who, "POST", "/api/v1/tokens", body);
	ck_assert_msg(o.status == 201, "%s: %ld %s", body, o.status, o.body);
	json_t *j = jbody(&o);
	free(o.body);
	return j;
}

/* The expiry stored for the token of reply J. */
static int64_t
token_expiry_of(const json_t *j)
{
	struct store_token t;
	char *err = NULL;
	int64_t id = json_integer_value(json_object_get(j, "id"));
	ck_assert_int_eq(store_token_get(A.st, id, &t, &err), 0);
	int64_t e = t.expires_ms;
	store_token_clear(&t);
	return e;
}

START_TEST(token_expiry)
{
	struct reply o;
	rows = api_routes;

	/* Expired: 401 with the reason, and the Bearer challenge. */
	char *old = store_token("old", "admin", clock_now_ms() - 1000, NULL);
	other_token = old;
	call(&o, OTHER_TOKEN, "GET", "/api/v1/jobs", NULL);
	assert_error(&o, 401, "token expired");
	ck_assert(o.www_auth);
	free(o.body);
	/* Even on an admin route: refused before anything else. */
	call(&o, OTHER_TOKEN, "POST", "/api/v1/tokens", "{}");
	assert_error(&o, 401, "token expired");
	free(o.body);

	/* It works until it expires. */
	char *brief = store_token("brief", "viewer", clock_now_ms() + 1000, NULL);
	other_token = brief;
	ck_assert_int_eq(status_of(OTHER_TOKEN, "GET", "/api/v1/jobs", NULL), 200);
	usleep(1100 * 1000);
	call(&o, OTHER_TOKEN, "GET", "/api/v1/jobs", NULL);
	assert_error(&o, 401, "token expired");
	free(o.body);
	/* A token nobody knows gets the usual answer. */
	other_token = "0123";
	call(&o, OTHER_TOKEN, "GET", "/api/v1/jobs", NULL);
	assert_error(&o, 401, "authentication required");
	free(o.body);
	free(old);
	free(brief);
}
END_TEST

START_TEST(token_create_expires_in)
{
	static const struct { const char *body; int64_t ms; } good[] = {
		{ "{}", 90 * 86400000LL },                        /* the default */
		{ "{\"expires_in\": 3600}", 3600000 },
		{ "{\"expires_in\": \"30d\"}", 30 * 86400000LL },
		{ "{\"expires_in\": \"12h\"}", 12 * 3600000LL },
		{ "{\"expires_in\": \"1s\"}", 1000 },
		{ "{\"expires_in\": \"3650d\"}", 3650 * 86400000LL },
		{ "{\"expires_in\": \"never\"}", 0 },
	};
	static const char *const bad[] = {
		"{\"expires_in\": 0}", "{\"expires_in\": -5}",
		"{\"expires_in\": 1.5}", "{\"expires_in\": true}",
		"{\"expires_in\": null}", "{\"expires_in\": \"\"}",
		"{\"expires_in\": \"0s\"}", "{\"expires_in\": \"500ms\"}",
		"{\"expires_in\": \"3651d\"}", "{\"expires_in\": \"30 days\"}",
		"{\"expires_in\": \"Never\"}", "{\"expires_in\": 9223372036854775807}",
		"{\"expires_in\": [30]}",
	};
	struct reply o;
	rows = api_routes;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int64_t t0 = clock_now_ms();
		json_t *j = token_create(ADMIN_TOKEN, good[i].body);
		int64_t t1 = clock_now_ms(), e = token_expiry_of(j);
		if (good[i].ms == 0) {
			ck_assert_int_eq(e, 0);
			ck_assert(json_is_null(json_object_get(j, "expires_at")));
		} else {
			ck_assert_msg(e >= t0 + good[i].ms && e <= t1 + good[i].ms,
			              "%s: expires %lld", good[i].body, (long long)e);
			ck_assert(json_is_string(json_object_get(j, "expires_at")));
		}
		json_decref(j);
	}
	/* master.auth.token_ttl is the default. */
	cfg.auth.token_ttl_ms = 60000;
	int64_t t0 = clock_now_ms();
	json_t *j = token_create(ADMIN_TOKEN, "{\"name\": \"x\"}");
	int64_t e = token_expiry_of(j);
	ck_assert(e >= t0 + 60000 && e <= clock_now_ms() + 60000);
	json_decref(j);
	cfg.auth.token_ttl_ms = 0;

	/* A bad value is a 400 naming the field; nothing is made. */
	int64_t n;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		call(&o, ADMIN_TOKEN, "POST", "/api/v1/tokens", bad[i]);
		assert_error(&o, 400, "expires_in:");
		free(o.body);
	}
	call(&o, ADMIN_TOKEN, "POST", "/api/v1/tokens", "{\"role\": \"root\"}");
	assert_error(&o, 400, "role: must be admin or viewer");
	free(o.body);
	call(&o, ADMIN_TOKEN, "POST", "/api/v1/tokens", "{\"expires\": \"1d\"}");
	assert_error(&o, 400, "a token takes name, role and expires_in");
	free(o.body);
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/tokens?limit=1000", NULL);
	j = jbody(&o);
	n = (int64_t)json_array_size(json_object_get(j, "tokens"));
	/* adm, ro, the good ones and x */
	ck_assert_int_eq(n, 2 + (int64_t)(sizeof good / sizeof good[0]) + 1);
	json_decref(j);
	free(o.body);
}
END_TEST

/* Token ID in the list reply J (borrowed), or NULL; every token listed
 * must have the fields of a listing and nothing more. */
static json_t *
token_listed(json_t *j, int64_t id)
{
	static const char *const keys[] = {
		"id", "name", "role", "state", "created_at", "created_by",
		"expires_at", "last_used_at", "revoked_at",
	};
	json_t *t, *found = NULL;
	size_t i;
	json_array_foreach(json_object_get(j, "tokens"), i, t) {
		ck_assert_int_eq(json_object_size(t), sizeof keys / sizeof keys[0]);
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
			ck_assert_msg(json_object_get(t, keys[k]) != NULL, "%s", keys[k]);
		if (json_integer_value(json_object_get(t, "id")) == id)
			found = t;
	}
	return found;
}

START_TEST(token_list_and_revoke)
{
	struct reply o;
	char *err = NULL;
	rows = api_routes;

	/* Who made each token is recorded. */
	json_t *by_session = token_create(ADMIN_SESSION, "{\"name\":\"ci\",\"role\":\"viewer\"}");
	json_t *by_token = token_create(ADMIN_TOKEN, "{\"name\":\"cron\"}");
	json_t *by_signer = token_create(SIGNED, "{\"name\":\"ops\",\"expires_in\":\"never\"}");
	char want[64];
	ck_assert_str_eq(json_string_value(json_object_get(by_session, "created_by")), "user:alice");
	snprintf(want, sizeof want, "token:%lld", (long long)admin_token_id);
	ck_assert_str_eq(json_string_value(json_object_get(by_token, "created_by")), want);
	ck_assert_str_eq(json_string_value(json_object_get(by_signer, "created_by")), "signer:w1");
	int64_t ci = json_integer_value(json_object_get(by_session, "id"));
	char *ci_token = xstrdup(json_string_value(json_object_get(by_session, "token")));
	char *ci_hash = auth_token_hash(ci_token);

	/* A token says who it is. */
	other_token = ci_token;
	call(&o, OTHER_TOKEN, "GET", "/api/v1/me", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_str_eq(jfield(&o, "user"), "ci");
	ck_assert_str_eq(jfield(&o, "auth"), "token");
	ck_assert_str_eq(jfield(&o, "role"), "viewer");
	free(o.body);
	ck_assert_int_eq(store_sync(A.st, &err), 0);

	/* The list: admins only, every field, never a token or a hash. */
	ck_assert_int_eq(status_of(VIEWER_TOKEN, "GET", "/api/v1/tokens", NULL), 403);
	call(&o, VIEWER_SESSION, "GET", "/api/v1/tokens", NULL);
	assert_error(&o, 403, "only admins");
	free(o.body);
	call(&o, ADMIN_SESSION, "GET", "/api/v1/tokens", NULL);
	ck_assert_int_eq(o.status, 200);
	ck_assert_ptr_null(strstr(o.body, ci_token));
	ck_assert_ptr_null(strstr(o.body, ci_hash));
	ck_assert_ptr_null(strstr(o.body, admin_token));
	ck_assert_ptr_null(strstr(o.body, "hash"));
	json_t *j = jbody(&o);
	free(o.body);
	ck_assert_int_eq(json_array_size(json_object_get(j, "tokens")), 5);
	json_t *t = token_listed(j, ci);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(json_string_value(json_object_get(t, "name")), "ci");
	ck_assert_str_eq(json_string_value(json_object_get(t, "role")), "viewer");
	ck_assert_str_eq(json_string_value(json_object_get(t, "state")), "active");
	ck_assert_str_eq(json_string_value(json_object_get(t, "created_by")), "user:alice");
	ck_assert(json_is_string(json_object_get(t, "created_at")));
	ck_assert(json_is_string(json_object_get(t, "expires_at")));
	ck_assert(json_is_string(json_object_get(t, "last_used_at")));  /* /me */
	ck_assert(json_is_null(json_object_get(t, "revoked_at")));
	t = token_listed(j, json_integer_value(json_object_get(by_signer, "id")));
	ck_assert(json_is_null(json_object_get(t, "expires_at")));
	ck_assert(json_is_null(json_object_get(t, "last_used_at")));
	/* Newest first. */
	ck_assert_int_eq(json_integer_value(json_object_get(
		json_array_get(json_object_get(j, "tokens"), 0), "id")),
		json_integer_value(json_object_get(by_signer, "id")));
	ck_assert(json_is_null(json_object_get(j, "next_before")));
	json_decref(j);
	/* Paged. */
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/tokens?limit=2", NULL);
	j = jbody(&o);
	free(o.body);
	ck_assert_int_eq(json_array_size(json_object_get(j, "tokens")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "next_before")),
	                 json_integer_value(json_object_get(by_token, "id")));
	json_decref(j);

	/* Revoked: refused at once, shown as revoked, once. */
	char *path = xasprintf("/api/v1/tokens/%lld", (long long)ci);
	ck_assert_int_eq(status_of(VIEWER_TOKEN, "DELETE", path, NULL), 403);
	ck_assert_int_eq(status_of(OTHER_TOKEN, "GET", "/api/v1/jobs", NULL), 200);
	call(&o, ADMIN_SESSION, "DELETE", path, NULL);
	ck_assert_int_eq(o.status, 200);
	j = jbody(&o);
	free(o.body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "revoked");
	ck_assert(json_is_string(json_object_get(j, "revoked_at")));
	ck_assert_ptr_null(json_object_get(j, "token"));
	json_decref(j);
	call(&o, OTHER_TOKEN, "GET", "/api/v1/jobs", NULL);
	assert_error(&o, 401, "token revoked");
	free(o.body);
	call(&o, ADMIN_TOKEN, "DELETE", path, NULL);
	assert_error(&o, 409, "token");
	free(o.body);
	call(&o, ADMIN_TOKEN, "DELETE", "/api/v1/tokens/9999", NULL);
	assert_error(&o, 404, "no token 9999");
	free(o.body);
	/* A token may revoke itself, and is refused from then on. */
	int64_t cron = json_integer_value(json_object_get(by_token, "id"));
	other_token = json_string_value(json_object_get(by_token, "token"));
	char *cpath = xasprintf("/api/v1/tokens/%lld", (long long)cron);
	ck_assert_int_eq(status_of(OTHER_TOKEN, "DELETE", cpath, NULL), 200);
	call(&o, OTHER_TOKEN, "GET", "/api/v1/me", NULL);
	assert_error(&o, 401, "token revoked");
	free(o.body);
	call(&o, ADMIN_TOKEN, "GET", "/api/v1/tokens", NULL);
	j = jbody(&o);
	free(o.body);
	ck_assert_str_eq(json_string_value(json_object_get(token_listed(j, ci), "state")), "revoked");
	json_decref(j);

	free(cpath);
	free(path);
	free(ci_hash);
	free(ci_token);
	json_decref(by_session);
	json_decref(by_token);
	json_decref(by_signer);
}
END_TEST

#define LABEL_SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
	const char *method, *path, *want;
} routes[] = {
	{ "GET", "/metrics", "/metrics" },
	{ "GET", "/api/v1/health", "/api/v1/health" },
	{ "GET", "/api/v1/workers", "/api/v1/workers" },
	{ "GET", "/api/v1/plugins", "/api/v1/plugins" },
	{ "POST", "/api/v1/tokens", "/api/v1/tokens" },
	{ "GET", "/api/v1/tokens", "/api/v1/tokens" },
	{ "DELETE", "/api/v1/tokens/12", "/api/v1/tokens/:id" },
	{ "POST", "/api/v1/cluster/register", "/api/v1/cluster/register" },
	{ "POST", "/api/v1/cluster/exchange", "/api/v1/cluster/exchange" },
	{ "POST", "/api/v1/cluster/leave", "/api/v1/cluster/leave" },
	{ "POST", "/api/v1/cluster/other", "other" },
	{ "GET", "/api/v1/jobs", "/api/v1/jobs" },
	{ "GET", "/api/v1/jobs?state=queued&limit=5", "/api/v1/jobs" },
	{ "POST", "/api/v1/jobs/batch", "/api/v1/jobs/batch" },
	{ "GET", "/api/v1/jobs/42", "/api/v1/jobs/:id" },
	{ "GET", "/api/v1/jobs/9007199254740993?wait=1", "/api/v1/jobs/:id" },
	{ "GET", "/api/v1/jobs/42/log", "/api/v1/jobs/:id/log" },
	{ "POST", "/api/v1/jobs/42/cancel", "/api/v1/jobs/:id/cancel" },
	{ "GET", "/api/v1/jobs/0", "other" },
	{ "GET", "/api/v1/jobs/-3", "other" },
	{ "GET", "/api/v1/jobs/abc", "other" },
	{ "GET", "/api/v1/jobs/12x", "other" },
	{ "GET", "/api/v1/jobs/42/nope", "other" },
	{ "GET", "/api/v1/jobs/", "other" },
	{ "GET", "/api/v1/artifacts/" LABEL_SHA, "/api/v1/artifacts/:sha" },
	{ "PUT", "/api/v1/artifacts/" LABEL_SHA, "/api/v1/artifacts/:sha" },
	{ "GET", "/api/v1/artifacts/" LABEL_SHA "0", "other" },
	{ "GET", "/api/v1/artifacts/0123456789ABCDEF0123456789abcdef0123456789abcdef"
	         "0123456789abcdef", "other" },
	/* Routes the old copy of this table in metrics.c had missed. */
	{ "POST", "/api/v1/login", "/api/v1/login" },
	{ "GET", "/api/v1/stats", "/api/v1/stats" },
	{ "GET", "/api/v1/dags/etl/grid", "/api/v1/dags/:dag/grid" },
	{ "GET", "/api/v1/cluster/stages/7", "/api/v1/cluster/stages/:stage" },
	{ "PATCH", "/api/v1/cluster/stages/7", "other" },
	{ "GET", "/api/v1/dags", "/api/v1/dags" },
	{ "GET", "/api/v1/dags/errors", "/api/v1/dags/errors" },
	{ "GET", "/api/v1/dags/etl_daily", "/api/v1/dags/:dag" },
	{ "GET", "/api/v1/dags/etl_daily/runs?state=failed", "/api/v1/dags/:dag/runs" },
	{ "POST", "/api/v1/dags/etl/trigger", "/api/v1/dags/:dag/trigger" },
	{ "POST", "/api/v1/dags/etl/pause", "/api/v1/dags/:dag/pause" },
	{ "POST", "/api/v1/dags/etl/unpause", "/api/v1/dags/:dag/unpause" },
	{ "POST", "/api/v1/dags/etl/backfill", "/api/v1/dags/:dag/backfill" },
	{ "POST", "/api/v1/dags/etl/explode", "other" },
	{ "GET", "/api/v1/dags//runs", "other" },
	{ "GET", "/api/v1/runs/scheduled__2024-01-01T00:00:00Z", "/api/v1/runs/:run" },
	{ "POST", "/api/v1/runs/r1/tasks/extract/clear", "/api/v1/runs/:run/tasks/:task/clear" },
	{ "GET", "/api/v1/runs/r1/tasks/extract/log", "/api/v1/runs/:run/tasks/:task/log" },
	{ "GET", "/api/v1/runs/r1/tasks/extract", "other" },
	{ "GET", "/api/v1/runs/r1/tasks/extract/log/more", "other" },
	{ "GET", "/api/v2/jobs", "other" },
	/* The label is what answered: /api (no slash) is a static file's
	 * path, and HEAD gets 405 from the catch-all, as GET alone is served. */
	{ "GET", "/api", "static" },
	{ "GET", "/api/", "other" },
	{ "GET", "/", "static" },
	{ "GET", "/index.html", "static" },
	{ "HEAD", "/style.css", "other" },
	{ NULL, "/status.js", "static" },
	{ "GET", "/apix", "static" },
	{ "POST", "/index.html", "other" },
	{ "DELETE", "/anything", "other" },
	{ "GET", "", "other" },
	{ "GET", "relative/path", "other" },
	{ "GET", NULL, "other" },
};

/* Every request is counted in /metrics under its route's pattern, never
 * under an id (the label set stays as small as the table). */
START_TEST(route_labels)
{
	char path[512] = "";
	if (routes[_i].path != NULL)
		snprintf(path, sizeof path, "%.*s", (int)strcspn(routes[_i].path, "?"),
		         routes[_i].path);   /* as http_path() gives it */
	const char *got = api_route_label(routes[_i].method ? routes[_i].method : "GET",
	                                  routes[_i].path ? path : NULL);

	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strcmp(got, routes[_i].want) == 0, "%s %s -> %s, want %s",
	              routes[_i].method ? routes[_i].method : "(null)",
	              routes[_i].path ? routes[_i].path : "(null)", got, routes[_i].want);
}
END_TEST

int
main(void)
{
	log_init("api-test", LOG_LEVEL_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("route");
	tcase_add_test(tc, route_literals_and_params);
	tcase_add_test(tc, route_ids_are_strict);
	tcase_add_test(tc, table_policy);
	tcase_add_test(tc, table_rows_are_reachable);
	tcase_add_loop_test(tc, route_labels, 0, (int)(sizeof routes / sizeof routes[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_row_by_every_caller);
	tcase_add_test(tc, handlers_get_their_params);
	tcase_add_test(tc, unknown_routes);
	tcase_add_test(tc, real_handlers);
	tcase_add_test(tc, signed_replies);
	tcase_add_test(tc, replayed_request);
	tcase_add_test(tc, replay_table_full);
	tcase_add_test(tc, parked_signed_request);
	tcase_add_test(tc, signed_real_replies);
	tcase_add_test(tc, metrics_auth);
	tcase_add_test(tc, token_expiry);
	tcase_add_test(tc, token_create_expires_in);
	tcase_add_test(tc, token_list_and_revoke);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}
