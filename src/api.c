/*
 * api.c - the master's HTTP API (docs/api.md lists every route): the route
 * table, which says for each route who may call it; the dispatcher, which
 * authenticates the caller and enforces that before any handler runs; the
 * helpers the handlers share; and the worker protocol's handlers.  The
 * other handlers live by group in api_*.c (see api_int.h).
 *
 * Callers: workers, and the CLI on a machine that has the cluster secret,
 * sign each request (Kiln-HMAC); API clients send a Bearer token; the
 * dashboard has a session cookie from /api/v1/login and sends its CSRF
 * token with every change.  Errors are JSON {"error": "...", "status": N}
 * with a 4xx status for bad requests.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "log.h"
#include "xalloc.h"

static void
who_clear(struct who *w)
{
	free(w->id);
	free(w->csrf);
	w->id = w->csrf = NULL;
}

static void
pstate_free(void *p)
{
	struct pstate *ps = p;
	json_decref(ps->body);
	free(ps);
}

struct pstate *
api_pstate(http_req *r)
{
	struct pstate *ps = http_state(r);
	if (ps == NULL) {
		ps = xcalloc(1, sizeof *ps);
		http_set_state(r, ps, pstate_free);
	}
	return ps;
}

/* Who sent R: a session cookie (unless there is an Authorization header),
 * a Kiln-HMAC signature or a Bearer token; W->kind WHO_NONE if none
 * holds. */
static void
authenticate(struct api_ctx *a, http_req *r, struct who *w)
{
	w->kind = WHO_NONE;
	w->id = NULL;
	w->csrf = NULL;
	w->how = NULL;
	const char *h = http_header(r, "Authorization");
	const char *sid = http_cookie(r, API_SESSION_COOKIE);
	if (h == NULL && sid != NULL && a->users != NULL) {
		char *role = NULL;
		if (users_session(a->users, sid, &w->id, &role, &w->csrf) == 0) {
			w->kind = strcmp(role, "admin") == 0 ? WHO_ADMIN : WHO_VIEWER;
			w->how = "session";
		}
		free(role);
		return;
	}
	if (h == NULL)
		return;
	if (strncmp(h, "Kiln-HMAC ", 10) == 0) {
		size_t len;
		const char *body = http_body(r, &len);
		const char *path = http_uri(r);   /* path and query as sent */
		char *err = NULL;
		if (auth_verify(a->secret, h, http_method(r), path, body, len,
		                now_ms(), &w->id, &err) == 0) {
			w->kind = WHO_SIGNED;
			w->how = "signed";
		}
		else
			log_warn("refused signature: %s", err);
		free(err);
	} else if (strncmp(h, "Bearer ", 7) == 0) {
		char *hash = auth_token_hash(h + 7);
		char *role = NULL, *err = NULL;
		if (store_token_check(a->st, hash, &role, &err) == 0) {
			w->kind = strcmp(role, "admin") == 0 ? WHO_ADMIN : WHO_VIEWER;
			w->how = "token";
		}
		free(hash);
		free(role);
		free(err);
	}
}

json_t *
api_body_object(http_req *r)
{
	size_t len;
	const char *b = http_body(r, &len);
	json_error_t je;
	json_t *j = json_loadb(b, len, 0, &je);
	if (j == NULL) {
		http_reply_error(r, 400, "malformed JSON at line %d, column %d: %s",
		                 je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		http_reply_error(r, 400, "request body must be a JSON object");
		return NULL;
	}
	return j;
}

int64_t
api_query_int64(http_req *r, const char *name, int64_t dflt)
{
	const char *v = http_query(r, name);
	/* Lenient, as atoll() was: "25x" is 25, "x" is 0; out of range
	 * saturates. */
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : dflt;
}

int
api_query_int(http_req *r, const char *name, int dflt)
{
	int64_t v = api_query_int64(r, name, dflt);
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* The names the worker protocol's handlers below were written with. */
static struct pstate *
pstate_get(http_req *r)
{
	return api_pstate(r);
}

static json_t *
body_object(http_req *r)
{
	return api_body_object(r);
}

static int
parse_id(const char *s, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -1;
	*id = v;
	return (int)(end - s);
}

/* ------------------------------------------------------------- cluster */

static int
held_from(json_t *a, struct sched_held **out, size_t *n)
{
	*n = json_array_size(a);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		json_t *h = json_array_get(a, i);
		(*out)[i].id = json_integer_value(json_object_get(h, "id"));
		(*out)[i].attempt = (int)json_integer_value(json_object_get(h, "attempt"));
	}
	return 0;
}

static json_t *
held_json(const struct sched_held *h, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:i}", "id",
		                      (json_int_t)h[i].id, "attempt", h[i].attempt));
	return a;
}

static void
cluster_register(struct api_ctx *a, http_req *r, const struct who *who)
{
	json_t *b = body_object(r);
	if (b == NULL)
		return;
	const char *name = NULL, *host = NULL;
	int slots = 0;
	json_int_t memory = 0;
	json_t *plugins = NULL, *held = NULL, *perrs = NULL;
	json_error_t je;
	if (json_unpack_ex(b, &je, 0, "{s:s,s?s,s:i,s:I,s:o,s?o,s?o}", "name", &name,
	                   "host", &host, "slots", &slots, "memory", &memory,
	                   "plugins", &plugins, "held", &held,
	                   "plugin_errors", &perrs) != 0 ||
	    !json_is_array(plugins) || slots < 1 || slots > 4096 || memory < 0) {
		http_reply_error(r, 400, "bad registration: %s", je.text);
		json_decref(b);
		return;
	}
	if (strcmp(name, who->id) != 0) {
		http_reply_error(r, 403, "signed as %s, registering as %s", who->id, name);
		json_decref(b);
		return;
	}
	struct sched_worker_info wi = {
		.name = name, .host = host ? host : "", .slots = slots,
		.memory = memory, .plugins = plugins,
		.plugin_errors = json_is_array(perrs) ? perrs : NULL,
		.listed = config_worker(a->cfg, name) != NULL,
	};
	struct sched_held *h, *cancel;
	size_t nh, ncancel;
	held_from(held, &h, &nh);
	uint64_t session;
	char *err = NULL;
	if (sched_register(a->sc, &wi, h, nh, &session, &cancel, &ncancel, &err) != 0) {
		http_reply_error(r, 500, "%s", err);
	} else {
		char sess[32];
		snprintf(sess, sizeof sess, "%016llx", (unsigned long long)session);
		http_reply_json(r, 200, json_pack("{s:s,s:i,s:o}", "session", sess,
			"heartbeat_ms", a->cfg->master.heartbeat_ms,
			"cancel", held_json(cancel, ncancel)));
	}
	free(err);
	free(h);
	free(cancel);
	json_decref(b);
}

static void
cluster_exchange(struct api_ctx *a, http_req *r, const struct who *who)
{
	struct pstate *ps = pstate_get(r);
	if (!ps->entered) {
		ps->entered = 1;
		ps->body = body_object(r);
		if (ps->body == NULL)
			return;
	}
	json_t *b = ps->body;
	const char *name = json_string_value(json_object_get(b, "name"));
	const char *sess = json_string_value(json_object_get(b, "session"));
	if (name == NULL || sess == NULL || strcmp(name, who->id) != 0) {
		http_reply_error(r, 400, "exchange needs name (the signer) and session");
		return;
	}
	uint64_t session = strtoull(sess, NULL, 16);
	json_t *results = json_object_get(b, "results");
	if (!ps->deadline) {
		size_t pi;
		json_t *pv;
		json_array_foreach(json_object_get(b, "progress"), pi, pv) {
			const char *text = json_string_value(json_object_get(pv, "log"));
			if (text != NULL)
				sched_live_log_add(a->sc,
					json_integer_value(json_object_get(pv, "id")),
					(int)json_integer_value(json_object_get(pv, "attempt")),
					text);
		}
	}
	json_t *running = json_object_get(b, "running");
	int want = (int)json_integer_value(json_object_get(b, "want"));
	int64_t wait_ms = json_integer_value(json_object_get(b, "wait_ms"));

	/* Results are applied on the first entry only; a re-entered (parked)
	 * request has none left to give. */
	size_t nres = ps->deadline ? 0 : json_array_size(results);
	struct sched_result *res = xcalloc(nres + 1, sizeof *res);
	char **outs = xcalloc(nres + 1, sizeof *outs);
	const char ***shas = xcalloc(nres + 1, sizeof *shas);
	for (size_t i = 0; i < nres; i++) {
		json_t *o = json_array_get(results, i);
		res[i].id = json_integer_value(json_object_get(o, "id"));
		res[i].attempt = (int)json_integer_value(json_object_get(o, "attempt"));
		res[i].state = job_state_parse(json_string_value(json_object_get(o, "state")));
		if (res[i].state != JOB_SUCCEEDED && res[i].state != JOB_CANCELLED)
			res[i].state = JOB_FAILED;
		/* Absent from older workers: 0, and a failure is retried. */
		res[i].code = (int)json_integer_value(json_object_get(o, "code"));
		json_t *rv = json_object_get(o, "result");
		res[i].result = json_string_value(rv);   /* JSON text */
		res[i].error = json_string_value(json_object_get(o, "error"));
		res[i].log = json_string_value(json_object_get(o, "log"));
		res[i].finished_ms = json_integer_value(json_object_get(o, "finished_ms"));
		json_t *dv = json_object_get(o, "duration_ms");
		res[i].duration_ms = json_is_integer(dv) ? json_integer_value(dv) : -1;
		json_t *ov = json_object_get(o, "outputs");
		if (json_is_array(ov) && json_array_size(ov) > 0) {
			res[i].outputs = outs[i] = json_dumps(ov, JSON_COMPACT);
			size_t k, n = 0;
			json_t *e;
			shas[i] = xcalloc(json_array_size(ov), sizeof *shas[i]);
			json_array_foreach(ov, k, e) {
				const char *sha = json_string_value(json_object_get(e, "sha"));
				if (sha != NULL && auth_is_hash_hex(sha))
					shas[i][n++] = sha;
			}
			res[i].output_shas = shas[i];
			res[i].noutput_shas = n;
		}
	}
	struct sched_held *run;
	size_t nrun;
	held_from(running, &run, &nrun);
	struct sched_exchange x;
	char *err = NULL;
	int rc = sched_exchange(a->sc, name, session, res, nres, run, nrun, want, &x, &err);
	for (size_t i = 0; i < nres; i++) {
		free(outs[i]);
		free(shas[i]);
	}
	free(outs);
	free(shas);
	free(res);
	free(run);
	if (rc == -ESTALE) {
		http_reply_error(r, 409, "%s", err);
		free(err);
		return;
	}
	if (rc != 0) {
		http_reply_error(r, 500, "%s", err);
		free(err);
		return;
	}
	if (x.ntasks == 0 && x.ncancel == 0 && nres == 0 && wait_ms > 0 &&
	    !http_parked_expired(r)) {
		if (ps->deadline == 0) {
			if (wait_ms > API_LONGPOLL_MAX_MS)
				wait_ms = API_LONGPOLL_MAX_MS;
			ps->deadline = mono_ms() + wait_ms;
		}
		if (mono_ms() < ps->deadline) {
			sched_exchange_clear(&x);
			http_park(r, ps->deadline);
			return;
		}
	}
	json_t *tasks = json_array();
	for (size_t i = 0; i < x.ntasks; i++) {
		struct sched_task *t = &x.tasks[i];
		json_t *params = json_loads(t->params, 0, NULL);
		json_t *inputs = t->inputs ? json_loads(t->inputs, 0, NULL) : NULL;
		json_array_append_new(tasks, json_pack("{s:I,s:i,s:s,s:o,s:i,s:I,s:I,s:o}",
			"id", (json_int_t)t->id, "attempt", t->attempt,
			"plugin", t->plugin, "params", params ? params : json_object(),
			"slots", t->slots, "memory", (json_int_t)t->memory,
			"timeout_ms", (json_int_t)t->timeout_ms,
			"inputs", inputs ? inputs : json_array()));
		if (t->stage)
			json_object_set_new(json_array_get(tasks, i), "stage", json_true());
	}
	http_reply_json(r, 200, json_pack("{s:o,s:o,s:I}", "tasks", tasks,
		"cancel", held_json(x.cancel, x.ncancel), "acked", (json_int_t)nres));
	sched_exchange_clear(&x);
}

/* ------------------------------------------------------------- stages */

/* Reply with stage ID's outcome, or park R until it has one (WAIT_MS at
 * most, from the first entry). */
static void
stage_reply(struct api_ctx *a, http_req *r, int64_t id, int64_t wait_ms)
{
	char **res = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = sched_stage_poll(a->sc, id, &res, &n, &err);
	if (rc == -ENOENT) {
		http_reply_error(r, 404, "%s", err);
	} else if (rc < 0) {
		http_reply_error(r, 422, "%s", err);
	} else if (rc == 0) {
		struct pstate *ps = pstate_get(r);
		if (ps->deadline == 0)
			ps->deadline = mono_ms() + (wait_ms < 0 ? 0 :
				wait_ms > API_LONGPOLL_MAX_MS ? API_LONGPOLL_MAX_MS : wait_ms);
		if (!http_parked_expired(r) && mono_ms() < ps->deadline)
			http_park(r, ps->deadline);
		else
			http_reply_json(r, 200, json_pack("{s:I,s:b}", "stage",
			                (json_int_t)id, "done", 0));
	} else {
		json_t *a_res = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *v = json_loads(res[i], JSON_DECODE_ANY, NULL);
			json_array_append_new(a_res, v ? v : json_null());
			free(res[i]);
		}
		free(res);
		http_reply_json(r, 200, json_pack("{s:I,s:b,s:o}", "stage",
		                (json_int_t)id, "done", 1, "results", a_res));
	}
	free(err);
}

/* POST /api/v1/cluster/stages: a driver job's map tasks (see
 * sched_stage_submit); replies when they are done or after wait_ms. */
static void
stage_submit(struct api_ctx *a, http_req *r)
{
	struct pstate *ps = pstate_get(r);
	if (ps->entered) {   /* a parked re-entry: the stage id is kept */
		stage_reply(a, r, json_integer_value(json_object_get(ps->body, "stage")), 0);
		return;
	}
	ps->entered = 1;
	json_t *b = ps->body = body_object(r);
	if (b == NULL)
		return;
	json_t *tasks = json_object_get(b, "tasks");
	const char *plugin = json_string_value(json_object_get(b, "plugin"));
	json_t *jv = json_object_get(b, "job");
	size_t n = json_array_size(tasks);
	if (!json_is_integer(jv) || plugin == NULL || !json_is_array(tasks) || n == 0) {
		http_reply_error(r, 400, "a stage needs job, attempt, plugin and tasks");
		return;
	}
	struct sched_stage_task *t = xcalloc(n, sizeof *t);
	char **texts = xcalloc(2 * n, sizeof *texts);
	size_t i;
	json_t *o;
	int bad = 0;
	json_array_foreach(tasks, i, o) {
		json_t *params = json_object_get(o, "params");
		json_t *inputs = json_object_get(o, "inputs");
		if (!json_is_object(params) || (inputs && !json_is_array(inputs))) {
			bad = 1;
			break;
		}
		t[i].params = texts[2 * i] = json_dumps(params, JSON_COMPACT);
		if (json_array_size(inputs) > 0)
			t[i].inputs = texts[2 * i + 1] = json_dumps(inputs, JSON_COMPACT);
		t[i].locality = json_string_value(json_object_get(o, "locality"));
	}
	int64_t id = 0;
	char *err = NULL;
	int rc = bad ? seterr(&err, -EINVAL, "task %zu: params must be an object, inputs an array", i) :
		sched_stage_submit(a->sc, json_integer_value(jv),
		                   (int)json_integer_value(json_object_get(b, "attempt")),
		                   plugin, t, n, &id, &err);
	for (i = 0; i < 2 * n; i++)
		free(texts[i]);
	free(texts);
	free(t);
	if (rc != 0) {
		http_reply_error(r, rc == -ESTALE ? 409 : 400, "%s", err);
		free(err);
		return;
	}
	json_object_set_new(b, "stage", json_integer(id));
	stage_reply(a, r, id, json_integer_value(json_object_get(b, "wait_ms")));
}

static void
cluster_stage(struct api_ctx *a, http_req *r, const char *rest, const char *m)
{
	int64_t id;
	int n = parse_id(rest, &id);
	if (n <= 0 || rest[n] != '\0') {
		http_reply_error(r, 404, "no stage %s", rest);
		return;
	}
	if (strcmp(m, "GET") == 0) {
		const char *w = http_query(r, "wait_ms");
		stage_reply(a, r, id, w ? atoll(w) : 0);
	} else if (strcmp(m, "DELETE") == 0) {
		if (sched_stage_cancel(a->sc, id) != 0)
			http_reply_error(r, 404, "no stage %lld", (long long)id);
		else
			http_reply_json(r, 200, json_pack("{s:I,s:s}", "stage",
			                (json_int_t)id, "state", "cancelled"));
	} else {
		http_reply_error(r, 405, "method not allowed");
	}
}

static void
cluster_leave(struct api_ctx *a, http_req *r, const struct who *who)
{
	json_t *b = body_object(r);
	if (b == NULL)
		return;
	const char *sess = json_string_value(json_object_get(b, "session"));
	uint64_t session = sess ? strtoull(sess, NULL, 16) : 0;
	if (sched_leave(a->sc, who->id, session) != 0)
		http_reply_error(r, 409, "worker %s is not registered", who->id);
	else
		http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
	json_decref(b);
}


/* The worker protocol's rows: the handlers above, as they were written. */
static void
on_register(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	cluster_register(a, r, c->who);
}

static void
on_exchange(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	cluster_exchange(a, r, c->who);
}

static void
on_leave(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	cluster_leave(a, r, c->who);
}

static void
on_stages(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	stage_submit(a, r);
}

static void
on_stage(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	cluster_stage(a, r, route_text(&c->params, "stage"), http_method(r));
}

/* ---------------------------------------------------------- route table */

void
api_no_route(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)a;
	(void)c;
	http_reply_error(r, 404, "no route %s %s", http_method(r), http_path(r));
}

void
api_no_method(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)a;
	(void)c;
	http_reply_error(r, 405, "method not allowed");
}

enum { NO_CSRF, CSRF };

/*
 * Every route, and who may call it (enum api_role in api_int.h).  The
 * first row whose method and pattern match a request answers it: a
 * literal segment comes before a :parameter that would match it too, and
 * the catch-alls come last.  A viewer may only read, and end its own
 * session (logout).  CSRF: every route that changes something and that a
 * browser session can call; login comes before there is a session, and
 * the cluster's routes take only signatures, which no browser has.
 */
const struct api_route api_routes[] = {
	/* method   pattern                                role         csrf     handler */
	{ "GET",    "/api/v1/health",                      API_OPEN,    NO_CSRF, api_health },
	{ "POST",   "/api/v1/login",                       API_OPEN,    NO_CSRF, api_login },
	{ "POST",   "/api/v1/logout",                      API_VIEWER,  CSRF,    api_logout },
	{ "GET",    "/api/v1/me",                          API_VIEWER,  NO_CSRF, api_me },
	{ "POST",   "/api/v1/tokens",                      API_ADMIN,   CSRF,    api_token_create },
	{ "GET",    "/api/v1/stats",                       API_VIEWER,  NO_CSRF, api_stats },
	{ "GET",    "/api/v1/workers",                     API_VIEWER,  NO_CSRF, api_workers },
	{ "GET",    "/api/v1/plugins",                     API_VIEWER,  NO_CSRF, api_plugins },

	{ "GET",    "/api/v1/jobs",                        API_VIEWER,  NO_CSRF, api_jobs_list },
	{ "POST",   "/api/v1/jobs",                        API_ADMIN,   CSRF,    api_jobs_submit },
	{ "POST",   "/api/v1/jobs/batch",                  API_ADMIN,   CSRF,    api_jobs_batch },
	{ "GET",    "/api/v1/jobs/:id",                    API_VIEWER,  NO_CSRF, api_job_get },
	{ "GET",    "/api/v1/jobs/:id/log",                API_VIEWER,  NO_CSRF, api_job_log },
	{ "POST",   "/api/v1/jobs/:id/cancel",             API_ADMIN,   CSRF,    api_job_cancel },
	{ "GET",    "/api/v1/artifacts/:sha",              API_VIEWER,  NO_CSRF, api_artifact_get },
	{ "PUT",    "/api/v1/artifacts/:sha",              API_ADMIN,   CSRF,    api_artifact_put },

	{ "GET",    "/api/v1/dags",                        API_VIEWER,  NO_CSRF, api_dags_list },
	{ "GET",    "/api/v1/dags/errors",                 API_VIEWER,  NO_CSRF, api_dags_errors },
	{ "GET",    "/api/v1/dags/:dag",                   API_VIEWER,  NO_CSRF, api_dag_get },
	{ "GET",    "/api/v1/dags/:dag/grid",              API_VIEWER,  NO_CSRF, api_dag_grid },
	{ "GET",    "/api/v1/dags/:dag/runs",              API_VIEWER,  NO_CSRF, api_dag_runs },
	{ "POST",   "/api/v1/dags/:dag/trigger",           API_ADMIN,   CSRF,    api_dag_trigger },
	{ "POST",   "/api/v1/dags/:dag/pause",             API_ADMIN,   CSRF,    api_dag_pause },
	{ "POST",   "/api/v1/dags/:dag/unpause",           API_ADMIN,   CSRF,    api_dag_unpause },
	{ "POST",   "/api/v1/dags/:dag/backfill",          API_ADMIN,   CSRF,    api_dag_backfill },
	{ "GET",    "/api/v1/runs/:run",                   API_VIEWER,  NO_CSRF, api_run_get },
	{ "POST",   "/api/v1/runs/:run/tasks/:task/clear", API_ADMIN,   CSRF,    api_task_clear },
	{ "GET",    "/api/v1/runs/:run/tasks/:task/log",   API_VIEWER,  NO_CSRF, api_task_log },

	{ "POST",   "/api/v1/cluster/register",            API_WORKER,  NO_CSRF, on_register },
	{ "POST",   "/api/v1/cluster/exchange",            API_WORKER,  NO_CSRF, on_exchange },
	{ "POST",   "/api/v1/cluster/leave",               API_WORKER,  NO_CSRF, on_leave },
	{ "POST",   "/api/v1/cluster/stages",              API_WORKER,  NO_CSRF, on_stages },
	{ "GET",    "/api/v1/cluster/stages/:stage",       API_WORKER,  NO_CSRF, on_stage },
	{ "DELETE", "/api/v1/cluster/stages/:stage",       API_WORKER,  NO_CSRF, on_stage },
	{ "*",      "/api/v1/cluster/stages/:stage",       API_WORKER,  NO_CSRF, api_no_method },
	{ "*",      "/api/v1/cluster/*",                   API_WORKER,  NO_CSRF, api_no_route },

	/* Unknown API routes: 401 to strangers, 404 to the others. */
	{ "*",      "/api/*",                              API_VIEWER,  NO_CSRF, api_no_route },
	{ "GET",    "/metrics",                            API_METRICS, NO_CSRF, api_metrics },
	{ "GET",    "/*",                                  API_OPEN,    NO_CSRF, api_static },
	{ "*",      "/*",                                  API_OPEN,    NO_CSRF, api_no_method },
};
const size_t api_nroutes = sizeof api_routes / sizeof api_routes[0];

/* ----------------------------------------------------------- dispatcher */

/* Does W pass route RT's row?  If not, reply 401 or 403 and say 0. */
static int
allowed(const struct api_route *rt, const struct who *w, http_req *r)
{
	if (w->kind == WHO_NONE) {
		http_add_header(r, "WWW-Authenticate", "Bearer");
		http_reply_error(r, 401, "authentication required: a Bearer token or a Kiln-HMAC signature");
		return 0;
	}
	if (rt->role == API_WORKER && w->kind != WHO_SIGNED) {
		http_reply_error(r, 403, "cluster routes need the cluster secret");
		return 0;
	}
	if (rt->csrf && w->csrf != NULL) {
		/* A browser session: only pages of ours know the token. */
		const char *t = http_header(r, "X-CSRF-Token");
		if (t == NULL || strcmp(t, w->csrf) != 0) {
			http_reply_error(r, 403, "missing or wrong X-CSRF-Token");
			return 0;
		}
	}
	if (rt->role == API_ADMIN && w->kind == WHO_VIEWER) {
		http_reply_error(r, 403, "viewers may not change anything");
		return 0;
	}
	return 1;
}

void
api_dispatch(struct api_ctx *a, http_req *r, const struct api_route *routes,
             size_t n)
{
	const char *m = http_method(r), *path = http_path(r);
	struct who who = { .kind = WHO_NONE };
	struct api_call c = { .who = &who };
	const struct api_route *rt = NULL;

	for (size_t i = 0; i < n && rt == NULL; i++)
		if ((strcmp(routes[i].method, "*") == 0 ||
		     strcmp(routes[i].method, m) == 0) &&
		    route_match(routes[i].pattern, path, &c.params))
			rt = &routes[i];
	if (rt == NULL) {
		http_reply_error(r, 404, "no route %s %s", m, path);
		return;
	}
	int open = rt->role == API_OPEN ||
		(rt->role == API_METRICS && !a->cfg->master.metrics_auth);
	if (!open)
		authenticate(a, r, &who);
	if (open || allowed(rt, &who, r))
		rt->handler(a, r, &c);
	who_clear(&who);
}

void
api_handle(http_req *r, void *ud)
{
	api_dispatch(ud, r, api_routes, api_nroutes);
}
