/*
 * api.c - the master's JSON API (see docs/api.md for every route).
 *
 * Who may do what: /api/v1/health and /metrics (unless metrics_auth) are
 * open; /api/v1/cluster/... is for workers, which sign with the cluster
 * secret (Kiln-HMAC); everything else takes a signed request (the CLI on a
 * machine that has the secret) or a Bearer token.  Errors are JSON
 * {"error": "...", "status": N} with a 4xx status for bad requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "clock.h"
#include "cron.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "plugin.h"
#include "proto.h"
#include "web.h"
#include "xalloc.h"

#define API_BATCH_MAX 10000
#define API_LONGPOLL_MAX_MS 60000

enum { WHO_NONE, WHO_SIGNED, WHO_ADMIN, WHO_VIEWER };

struct who {
	int kind;
	char *id;       /* signer id (WHO_SIGNED) or user (session) */
	char *csrf;     /* set if authenticated by a session cookie */
	const char *how; /* "signed", "token" or "session" */
};

static void
who_clear(struct who *w)
{
	free(w->id);
	free(w->csrf);
	w->id = w->csrf = NULL;
}

/* State kept across a parked request. */
struct pstate {
	int entered;
	int64_t deadline;
	json_t *body;
	int64_t stage;   /* a stage submit's stage, once made */
};

static void
pstate_free(void *p)
{
	struct pstate *ps = p;
	json_decref(ps->body);
	free(ps);
}

static struct pstate *
pstate_get(http_req *r)
{
	struct pstate *ps = http_state(r);
	if (ps == NULL) {
		ps = xcalloc(1, sizeof *ps);
		http_set_state(r, ps, pstate_free);
	}
	return ps;
}

static void
authenticate(struct api_ctx *a, http_req *r, struct who *w)
{
	w->kind = WHO_NONE;
	w->id = NULL;
	w->csrf = NULL;
	w->how = NULL;
	const char *h = http_header(r, "Authorization");
	const char *sid = http_cookie(r, "kiln_session");
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
		                clock_now_ms(), &w->id, &err) == 0) {
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

/* Parse the request body as a JSON object, or reply 400. */
static json_t *
body_object(http_req *r)
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

static json_t *
job_json(const struct store_job *j)
{
	json_t *params = json_loads(j->params ? j->params : "{}", 0, NULL);
	json_t *result = j->result ? json_loads(j->result, JSON_DECODE_ANY, NULL) : NULL;
	json_t *o = json_pack("{s:I,s:s,s:o,s:s,s:i,s:i,s:I,s:I,s:i,s:i,s:s?,s:o,s:s?,s:I,s:I,s:I}",
		"id", (json_int_t)j->id, "plugin", j->plugin,
		"params", params ? params : json_object(),
		"state", job_state_name(j->state),
		"priority", j->priority, "slots", j->slots,
		"memory", (json_int_t)j->memory, "timeout_ms", (json_int_t)j->timeout_ms,
		"max_attempts", j->max_attempts, "attempt", j->attempt,
		"worker", j->worker, "result", result ? result : json_null(),
		"error", j->error,
		"created_ms", (json_int_t)j->created_ms,
		"started_ms", (json_int_t)j->started_ms,
		"finished_ms", (json_int_t)j->finished_ms);
	json_t *in = j->inputs ? json_loads(j->inputs, 0, NULL) : NULL;
	json_t *out = j->outputs ? json_loads(j->outputs, 0, NULL) : NULL;
	json_object_set_new(o, "inputs", in ? in : json_array());
	json_object_set_new(o, "outputs", out ? out : json_array());
	if (j->task != NULL) {
		json_object_set_new(o, "task", json_string(j->task));
		json_object_set_new(o, "pool", j->pool ? json_string(j->pool) : json_null());
	}
	return o;
}

/* ------------------------------------------------------------- cluster */

/* The messages of the worker protocol are decoded and encoded by proto.c;
 * these handlers translate them to and from the scheduler's calls. */

/* The scheduler's view of attempts A, and back (malloc()ed, never NULL). */
static struct sched_held *
held_from(const struct proto_attempt *a, size_t n)
{
	struct sched_held *h = xcalloc(n + 1, sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = (struct sched_held){ .id = a[i].id, .attempt = a[i].attempt };
	return h;
}

static struct proto_attempt *
held_to(const struct sched_held *h, size_t n)
{
	struct proto_attempt *a = xcalloc(n + 1, sizeof *a);
	for (size_t i = 0; i < n; i++)
		a[i] = (struct proto_attempt){ .id = h[i].id, .attempt = h[i].attempt };
	return a;
}

/* After a decoder's RC: 0, or replies 400 with ERR (which it frees). */
static int
cluster_decoded(http_req *r, int rc, const char *what, char *err)
{
	if (rc != 0)
		http_reply_error(r, 400, "bad %s: %s", what, err ? err : "?");
	free(err);
	return rc;
}

static void
cluster_register(struct api_ctx *a, http_req *r, const struct who *who)
{
	json_t *b = body_object(r);
	if (b == NULL)
		return;
	struct proto_register m;
	char *err = NULL;
	int rc = proto_register_decode(b, &m, &err);
	json_decref(b);
	if (cluster_decoded(r, rc, "registration", err) != 0)
		return;
	if (strcmp(m.name, who->id) != 0) {
		http_reply_error(r, 403, "signed as %s, registering as %s", who->id, m.name);
		proto_release(&m.own);
		return;
	}
	struct sched_worker_info wi = {
		.name = m.name, .host = m.host, .slots = m.slots,
		.memory = m.memory, .plugins = m.plugins,
		.plugin_errors = m.plugin_errors,
		.listed = config_worker(a->cfg, m.name) != NULL,
	};
	struct sched_held *h = held_from(m.held, m.nheld), *cancel = NULL;
	size_t ncancel = 0;
	uint64_t session;
	err = NULL;
	if (sched_register(a->sc, &wi, h, m.nheld, &session, &cancel, &ncancel, &err) != 0) {
		http_reply_error(r, 500, "%s", err);
	} else {
		char sess[32];
		snprintf(sess, sizeof sess, "%016llx", (unsigned long long)session);
		struct proto_register_reply rep = { .session = sess,
			.heartbeat_ms = a->cfg->master.heartbeat_ms,
			.cancel = held_to(cancel, ncancel), .ncancel = ncancel };
		http_reply_json(r, 200, proto_register_reply_encode(&rep));
		free(rep.cancel);
	}
	free(err);
	free(h);
	free(cancel);
	proto_release(&m.own);
}

/* The results of an exchange as the scheduler takes them, and the texts
 * they borrow. */
struct xresults {
	struct sched_result *res;
	char **outputs;             /* JSON text of each one's outputs */
	const char ***shas;         /* and their shas */
	size_t n;
};

static void
xresults_from(struct xresults *x, const struct proto_result *in, size_t n)
{
	x->n = n;
	x->res = xcalloc(n + 1, sizeof *x->res);
	x->outputs = xcalloc(n + 1, sizeof *x->outputs);
	x->shas = xcalloc(n + 1, sizeof *x->shas);
	for (size_t i = 0; i < n; i++) {
		const struct proto_result *p = &in[i];
		struct sched_result *s = &x->res[i];
		*s = (struct sched_result){ .id = p->id, .attempt = p->attempt,
			.state = p->state, .code = p->code, .result = p->result,
			.error = p->error, .log = p->log,
			.finished_ms = p->finished_ms, .duration_ms = p->duration_ms };
		if (p->noutputs == 0)
			continue;
		json_t *o = proto_files_json(p->outputs, p->noutputs);
		s->outputs = x->outputs[i] = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		x->shas[i] = xcalloc(p->noutputs, sizeof *x->shas[i]);
		for (size_t k = 0; k < p->noutputs; k++)
			if (hash_is_hex(p->outputs[k].sha))
				x->shas[i][s->noutput_shas++] = p->outputs[k].sha;
		s->output_shas = x->shas[i];
	}
}

static void
xresults_free(struct xresults *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->outputs[i]);
		free(x->shas[i]);
	}
	free(x->outputs);
	free(x->shas);
	free(x->res);
}

/* Reply to an exchange with what the scheduler decided (X), NRES results
 * acknowledged. */
static void
exchange_reply(http_req *r, const struct sched_exchange *x, size_t nres)
{
	struct proto_exchange_reply rep = {
		.tasks = xcalloc(x->ntasks + 1, sizeof *rep.tasks),
		.ntasks = x->ntasks, .cancel = held_to(x->cancel, x->ncancel),
		.ncancel = x->ncancel, .acked = (int64_t)nres,
	};
	struct proto_own *owns = xcalloc(x->ntasks + 1, sizeof *owns);
	for (size_t i = 0; i < x->ntasks; i++) {
		const struct sched_task *t = &x->tasks[i];
		struct proto_task *p = &rep.tasks[i];
		*p = (struct proto_task){ .id = t->id, .attempt = t->attempt,
			.plugin = t->plugin, .slots = t->slots,
			.memory = t->memory, .timeout_ms = t->timeout_ms,
			.stage = t->stage };
		/* The store wrote both: they parse (or the task gets none). */
		p->params = json_loads(t->params, 0, NULL);
		char *err = NULL;
		if (proto_files_parse(t->inputs, &p->inputs, &p->ninputs,
		                      &owns[i], &err) != 0) {
			log_warn("job %lld: stored inputs: %s", (long long)t->id, err);
			free(err);
		}
	}
	http_reply_json(r, 200, proto_exchange_reply_encode(&rep));
	for (size_t i = 0; i < x->ntasks; i++) {
		json_decref(rep.tasks[i].params);
		proto_release(&owns[i]);
	}
	free(owns);
	free(rep.tasks);
	free(rep.cancel);
}

/* Hand exchange M's new log lines to the live tails. */
static void
exchange_progress(struct api_ctx *a, const struct proto_exchange *m)
{
	for (size_t i = 0; i < m->nprogress; i++)
		if (m->progress[i].log != NULL)
			sched_live_log_add(a->sc, m->progress[i].id,
			                   m->progress[i].attempt, m->progress[i].log);
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
	/* Decoded at every entry: a parked request carries no results, so
	 * the walk is short. */
	struct proto_exchange m;
	char *err = NULL;
	if (cluster_decoded(r, proto_exchange_decode(ps->body, &m, &err),
	                    "exchange", err) != 0)
		return;
	if (strcmp(m.name, who->id) != 0) {
		http_reply_error(r, 400, "exchange needs name (the signer) and session");
		proto_release(&m.own);
		return;
	}
	uint64_t session = strtoull(m.session, NULL, 16);
	/* Results and log lines are applied on the first entry only; a
	 * re-entered (parked) request has none left to give. */
	size_t nres = ps->deadline ? 0 : m.nresults;
	if (!ps->deadline)
		exchange_progress(a, &m);
	struct xresults res;
	xresults_from(&res, m.results, nres);
	struct sched_held *run = held_from(m.running, m.nrunning);
	struct sched_exchange x;
	err = NULL;
	int rc = sched_exchange(a->sc, m.name, session, res.res, nres, run,
	                        m.nrunning, m.want, &x, &err);
	int64_t wait_ms = m.wait_ms;
	xresults_free(&res);
	free(run);
	proto_release(&m.own);
	if (rc != 0) {
		http_reply_error(r, rc == -ESTALE ? 409 : 500, "%s", err);
		free(err);
		return;
	}
	if (x.ntasks == 0 && x.ncancel == 0 && nres == 0 && wait_ms > 0 &&
	    !http_parked_expired(r)) {
		if (ps->deadline == 0) {
			if (wait_ms > API_LONGPOLL_MAX_MS)
				wait_ms = API_LONGPOLL_MAX_MS;
			ps->deadline = clock_mono_ms() + wait_ms;
		}
		if (clock_mono_ms() < ps->deadline) {
			sched_exchange_clear(&x);
			http_park(r, ps->deadline);
			return;
		}
	}
	exchange_reply(r, &x, nres);
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
			ps->deadline = clock_mono_ms() + (wait_ms < 0 ? 0 :
				wait_ms > API_LONGPOLL_MAX_MS ? API_LONGPOLL_MAX_MS : wait_ms);
		if (!http_parked_expired(r) && clock_mono_ms() < ps->deadline)
			http_park(r, ps->deadline);
		else
			http_reply_json(r, 200, proto_stage_reply_encode(
				&(struct proto_stage_reply){ .stage = id }));
	} else {
		struct proto_stage_reply rep = { .stage = id, .done = 1,
			.results = (const char *const *)res, .nresults = n };
		http_reply_json(r, 200, proto_stage_reply_encode(&rep));
		for (size_t i = 0; i < n; i++)
			free(res[i]);
		free(res);
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
		stage_reply(a, r, ps->stage, 0);
		return;
	}
	ps->entered = 1;
	json_t *b = body_object(r);
	if (b == NULL)
		return;
	struct proto_stage m;
	char *err = NULL;
	int rc = proto_stage_decode(b, &m, &err);
	json_decref(b);
	if (cluster_decoded(r, rc, "stage", err) != 0)
		return;
	struct sched_stage_task *t = xcalloc(m.ntasks, sizeof *t);
	char **texts = xcalloc(2 * m.ntasks, sizeof *texts);
	for (size_t i = 0; i < m.ntasks; i++) {
		t[i].params = texts[2 * i] = json_dumps(m.tasks[i].params, JSON_COMPACT);
		t[i].locality = m.tasks[i].locality;
		if (m.tasks[i].ninputs > 0) {
			json_t *in = proto_files_json(m.tasks[i].inputs,
			                              m.tasks[i].ninputs);
			t[i].inputs = texts[2 * i + 1] = json_dumps(in, JSON_COMPACT);
			json_decref(in);
		}
	}
	int64_t id = 0;
	err = NULL;
	rc = sched_stage_submit(a->sc, m.job, m.attempt, m.plugin, t, m.ntasks,
	                        &id, &err);
	for (size_t i = 0; i < 2 * m.ntasks; i++)
		free(texts[i]);
	free(texts);
	free(t);
	int64_t wait_ms = m.wait_ms;
	proto_release(&m.own);
	if (rc != 0) {
		http_reply_error(r, rc == -ESTALE ? 409 : 400, "%s", err);
		free(err);
		return;
	}
	ps->stage = id;
	stage_reply(a, r, id, wait_ms);
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
			http_reply_json(r, 200, proto_stage_cancelled_encode(id));
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
	struct proto_leave m;
	char *err = NULL;
	int rc = proto_leave_decode(b, &m, &err);
	json_decref(b);
	if (cluster_decoded(r, rc, "leave", err) != 0)
		return;
	uint64_t session = m.session ? strtoull(m.session, NULL, 16) : 0;
	if (sched_leave(a->sc, who->id, session) != 0)
		http_reply_error(r, 409, "worker %s is not registered", who->id);
	else
		http_reply_json(r, 200, proto_leave_reply_encode());
	proto_release(&m.own);
}

/* ---------------------------------------------------------------- jobs */

/* Fill J from a submission object; 0, or replies 4xx and returns -1. */
static int
job_from(struct api_ctx *a, http_req *r, json_t *o, struct store_job *j,
         char **params_out, size_t index)
{
	const char *pname = NULL;
	json_t *params = NULL;
	int priority = 0, retries = -1, slots = 1;
	json_int_t memory = 0, timeout_ms = 0;
	json_error_t je;
	char where[48] = "";
	if (index != (size_t)-1)
		snprintf(where, sizeof where, "jobs[%zu]: ", index);
	if (!json_is_object(o) ||
	    json_unpack_ex(o, &je, JSON_STRICT, "{s:s,s?o,s?i,s?i,s?i,s?I,s?I}",
	                   "plugin", &pname, "params", &params, "priority", &priority,
	                   "retries", &retries, "slots", &slots, "memory", &memory,
	                   "timeout_ms", &timeout_ms) != 0) {
		http_reply_error(r, 400, "%sbad job: %s", where,
		                 json_is_object(o) ? je.text : "not an object");
		return -1;
	}
	if (params != NULL && !json_is_object(params)) {
		http_reply_error(r, 400, "%sparams must be an object", where);
		return -1;
	}
	if (slots < 1 || slots > 1024 || memory < 0 || timeout_ms < 0 ||
	    retries > 100) {
		http_reply_error(r, 400, "%sslots, memory, timeout_ms or retries out of range", where);
		return -1;
	}
	if (!sched_has_plugin(a->sc, pname)) {
		http_reply_error(r, 400, "%sunknown plugin '%s': no live worker has it",
		                 where, pname);
		return -1;
	}
	/* What the plugin declares is checked here, so that a job missing a
	 * parameter is refused at once rather than failing on a worker. */
	json_t *decl = sched_plugin_decl(a->sc, pname);
	char *err = NULL;
	if (decl != NULL && plugin_params_check(decl, params, &err) != 0) {
		http_reply_error(r, 400, "%splugin %s: %s", where, pname, err);
		free(err);
		json_decref(decl);
		return -1;
	}
	json_decref(decl);
	memset(j, 0, sizeof *j);
	j->plugin = (char *)pname;
	*params_out = params ? json_dumps(params, JSON_COMPACT) : xstrdup("{}");
	j->params = *params_out;
	j->priority = priority;
	j->slots = slots;
	j->memory = memory;
	j->timeout_ms = timeout_ms;
	j->max_attempts = retries >= 0 ? retries + 1 : a->cfg->master.default_max_attempts;
	return 0;
}

static void
jobs_submit(struct api_ctx *a, http_req *r, int batch)
{
	json_t *b = body_object(r);
	if (b == NULL)
		return;
	json_t *list = batch ? json_object_get(b, "jobs") : NULL;
	size_t n = batch ? json_array_size(list) : 1;
	if (batch && (!json_is_array(list) || n == 0 || n > API_BATCH_MAX)) {
		http_reply_error(r, 400, "batch needs \"jobs\": an array of 1 to %d jobs",
		                 API_BATCH_MAX);
		json_decref(b);
		return;
	}
	struct store_job *jobs = xcalloc(n, sizeof *jobs);
	char **params = xcalloc(n, sizeof *params);
	size_t ok = 0;
	for (; ok < n; ok++)
		if (job_from(a, r, batch ? json_array_get(list, ok) : b, &jobs[ok],
		             &params[ok], batch ? ok : (size_t)-1) != 0)
			break;
	if (ok == n) {
		char *err = NULL;
		if (sched_submit(a->sc, jobs, n, &err) != 0) {
			http_reply_error(r, 500, "%s", err);
		} else if (batch) {
			json_t *ids = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(ids, json_integer(jobs[i].id));
			http_reply_json(r, 201, json_pack("{s:o}", "ids", ids));
		} else {
			http_reply_json(r, 201, json_pack("{s:I,s:s}", "id",
			                (json_int_t)jobs[0].id, "state", "queued"));
		}
		free(err);
	}
	for (size_t i = 0; i < n; i++)
		free(params[i]);
	free(params);
	free(jobs);
	json_decref(b);
}

struct list_ctx {
	json_t *a;
	int64_t last;
};

static int
list_one(const struct store_job *j, void *ud)
{
	struct list_ctx *c = ud;
	json_t *o = job_json(j);
	json_object_del(o, "params");
	json_object_del(o, "result");
	json_array_append_new(c->a, o);
	c->last = j->id;
	return 0;
}

static void
jobs_list(struct api_ctx *a, http_req *r)
{
	struct store_filter f = { .state = -1 };
	const char *v;
	if ((v = http_query(r, "state")) != NULL && *v) {
		f.state = job_state_parse(v);
		if (f.state < 0) {
			http_reply_error(r, 400, "unknown state '%s'", v);
			return;
		}
	}
	if ((v = http_query(r, "plugin")) != NULL && *v)
		f.plugin = v;
	if ((v = http_query(r, "limit")) != NULL)
		f.limit = atoi(v);
	if (f.limit <= 0 || f.limit > 1000)
		f.limit = f.limit <= 0 ? 100 : 1000;
	if ((v = http_query(r, "before")) != NULL)
		f.before_id = atoll(v);
	struct list_ctx c = { json_array(), 0 };
	char *err = NULL;
	if (store_job_list(a->st, &f, list_one, &c, &err) != 0) {
		json_decref(c.a);
		http_reply_error(r, 500, "%s", err);
		free(err);
		return;
	}
	json_t *next = json_array_size(c.a) == (size_t)f.limit ?
		json_integer(c.last) : json_null();
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "jobs", c.a, "next_before", next));
}

static int
attempt_one(const struct store_attempt *at, void *ud)
{
	json_array_append_new(ud, json_pack("{s:i,s:s?,s:s,s:s?,s:I,s:I}",
		"attempt", at->attempt, "worker", at->worker,
		"state", job_state_name(at->state), "error", at->error,
		"started_ms", (json_int_t)at->started_ms,
		"finished_ms", (json_int_t)at->finished_ms));
	return 0;
}

static void
job_get(struct api_ctx *a, http_req *r, int64_t id)
{
	struct store_job j = { 0 };
	char *err = NULL;
	int rc = store_job_get(a->st, id, &j, &err);
	if (rc == -ENOENT) {
		http_reply_error(r, 404, "no job %lld", (long long)id);
		free(err);
		return;
	}
	if (rc != 0) {
		http_reply_error(r, 500, "%s", err);
		free(err);
		return;
	}
	/* ?wait=SECONDS: long-poll until the job is finished. */
	const char *w = http_query(r, "wait");
	if (w != NULL && (j.state == JOB_QUEUED || j.state == JOB_RUNNING) &&
	    !http_parked_expired(r)) {
		struct pstate *ps = pstate_get(r);
		if (ps->deadline == 0) {
			int64_t ms = (int64_t)(atof(w) * 1000);
			if (ms > API_LONGPOLL_MAX_MS)
				ms = API_LONGPOLL_MAX_MS;
			ps->deadline = clock_mono_ms() + (ms > 0 ? ms : 0);
		}
		if (clock_mono_ms() < ps->deadline) {
			store_job_clear(&j);
			http_park(r, ps->deadline);
			return;
		}
	}
	json_t *o = job_json(&j);
	json_t *atts = json_array();
	store_attempts(a->st, id, attempt_one, atts, &err);
	json_object_set_new(o, "attempts", atts);
	store_job_clear(&j);
	free(err);
	http_reply_json(r, 200, o);
}

static void
job_log(struct api_ctx *a, http_req *r, int64_t id)
{
	const char *v = http_query(r, "attempt");
	int attempt = v ? atoi(v) : 0;
	struct store_job j = { 0 };
	char *err = NULL, *log = NULL;
	int live_attempt = 0;
	char *live = sched_live_log(a->sc, id, &live_attempt);
	if (live != NULL && (attempt == 0 || attempt == live_attempt)) {
		/* Running: what its worker has reported so far. */
		http_add_header(r, "X-Kiln-Log", "live");
		http_reply(r, 200, "text/plain; charset=utf-8", live, strlen(live));
		free(live);
		return;
	}
	free(live);
	if (store_job_get(a->st, id, &j, &err) == -ENOENT) {
		http_reply_error(r, 404, "no job %lld", (long long)id);
	} else if (store_log(a->st, id, attempt, &log, &err) != 0) {
		http_reply_error(r, 404, "no log for job %lld attempt %d", (long long)id, attempt);
	} else {
		http_reply(r, 200, "text/plain; charset=utf-8", log, strlen(log));
	}
	store_job_clear(&j);
	free(log);
	free(err);
}

static void
job_cancel(struct api_ctx *a, http_req *r, int64_t id)
{
	char *err = NULL;
	int rc = sched_cancel(a->sc, id, &err);
	if (rc == 0)
		http_reply_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id,
		                "state", "cancelled"));
	else
		http_reply_error(r, rc == -ENOENT ? 404 : rc == -EALREADY ? 409 : 500,
		                 "%s", err);
	free(err);
}

static void
token_create(struct api_ctx *a, http_req *r)
{
	json_t *b = body_object(r);
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

static void
health(struct api_ctx *a, http_req *r)
{
	struct sched_stats st;
	sched_stats(a->sc, &st);
	http_reply_json(r, 200, json_pack("{s:s,s:s,s:I,s:s,s:I,s:i,s:i,s:I,s:I}",
		"status", "ok", "version", PACKAGE_VERSION,
		"pid", (json_int_t)getpid(),
		"cluster", a->cfg->cluster_name,
		"uptime_s", (json_int_t)((clock_mono_ms() - a->started_mono) / 1000),
		"workers_alive", st.workers_alive, "workers_dead", st.workers_dead,
		"queued", (json_int_t)st.queued, "running", (json_int_t)st.running));
}

static void
metrics(struct api_ctx *a, http_req *r)
{
	struct sched_stats st;
	sched_stats(a->sc, &st);
	struct metrics_gauges g = {
		.workers_alive = st.workers_alive, .workers_dead = st.workers_dead,
		.slots_total = st.slots_total, .slots_busy = st.slots_busy,
		.queue_depth = st.queued, .jobs_running = st.running,
		.uptime_seconds = (double)(clock_mono_ms() - a->started_mono) / 1000.0,
		.version = PACKAGE_VERSION,
	};
	if (a->pl != NULL)
		pipeline_stats(a->pl, &g.dags, &g.dag_import_errors,
		               &g.dag_runs_queued, &g.dag_runs_running);
	char *s = metrics_render(&g);
	http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", s, strlen(s));
	free(s);
}

/* The dashboard: from web_dir on disk if configured (development), else
 * the copy compiled into the binary.  GET only, no "..", bounded size. */
static void
static_file(struct api_ctx *a, http_req *r, const char *path)
{
	if (strstr(path, "..") != NULL) {
		http_reply_error(r, 404, "not found");
		return;
	}
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	/* The dashboard loads nothing from elsewhere; say so to the browser. */
	http_add_header(r, "Content-Security-Policy", "default-src 'self'; "
	                "img-src 'self' data:; frame-ancestors 'none'; "
	                "base-uri 'none'; form-action 'self'");
	http_add_header(r, "Cache-Control", "no-cache");
	if (a->cfg->master.web_dir == NULL) {
		const struct web_file *f = web_find(path);
		if (f == NULL)
			http_reply_error(r, 404, "not found");
		else
			http_reply(r, 200, web_content_type(path), f->data, f->size);
		return;
	}
	char *full = xasprintf("%s%s", a->cfg->master.web_dir, path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	free(full);
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > 16 << 20) {
		if (fd >= 0)
			close(fd);
		http_reply_error(r, 404, "not found");
		return;
	}
	char *buf = xmalloc((size_t)sb.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	http_reply(r, 200, web_content_type(path), buf, n > 0 ? (size_t)n : 0);
	free(buf);
}

/* ------------------------------------------------------------- sessions */

#define SESSION_COOKIE "kiln_session"

static void
login(struct api_ctx *a, http_req *r)
{
	json_t *b = body_object(r);
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
		char *cookie = xasprintf(SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict; "
		                         "Path=/; Max-Age=%d", sid,
		                         (a->cfg->auth.session_ttl_ms > 0 ?
		                          a->cfg->auth.session_ttl_ms : 43200000) / 1000);
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

static void
logout(struct api_ctx *a, http_req *r)
{
	const char *sid = http_cookie(r, SESSION_COOKIE);
	if (sid != NULL)
		users_logout(a->users, sid);
	http_add_header(r, "Set-Cookie", SESSION_COOKIE "=; HttpOnly; SameSite=Strict; "
	                "Path=/; Max-Age=0");
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void
stats(struct api_ctx *a, http_req *r)
{
	int64_t counts[JOB_NSTATES] = { 0 };
	char *err = NULL;
	store_job_counts(a->st, counts, &err);
	free(err);
	json_t *jobs = json_object();
	for (int i = 0; i < JOB_NSTATES; i++)
		json_object_set_new(jobs, job_state_name(i), json_integer(counts[i]));
	http_reply_json(r, 200, json_pack("{s:o,s:I,s:s}", "jobs", jobs,
		"uptime_s", (json_int_t)((clock_mono_ms() - a->started_mono) / 1000),
		"version", PACKAGE_VERSION));
}

/* ------------------------------------------------------------ artifacts */

/* PUT /api/v1/artifacts/SHA: the body must hash to SHA.  Stored once,
 * atomically (a temporary file renamed into place). */
static void
artifact_put(struct api_ctx *a, http_req *r, const char *sha)
{
	size_t len;
	const char *body = http_body(r, &len);
	char *got = hash_hex(body, len);
	if (strcmp(got, sha) != 0) {
		http_reply_error(r, 400, "body hashes to %s, not %s", got, sha);
		free(got);
		return;
	}
	free(got);
	char *dir = xasprintf("%s/artifacts/%.2s", a->cfg->master.data_dir, sha);
	char *path = xasprintf("%s/%s", dir, sha);
	char *tmp = xasprintf("%s.tmp.%lld", path, (long long)clock_mono_ms());
	char *top = xasprintf("%s/artifacts", a->cfg->master.data_dir);
	mkdir(top, 0700);
	mkdir(dir, 0700);
	struct stat sb;
	int rc = 0;
	if (stat(path, &sb) != 0) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ssize_t w = fd >= 0 ? write(fd, body, len) : -1;
		if (fd < 0 || w != (ssize_t)len || fsync(fd) != 0 ||
		    close(fd) != 0 || rename(tmp, path) != 0) {
			rc = -errno;
			unlink(tmp);
		}
	}
	if (rc != 0) {
		http_reply_error(r, 500, "cannot store artifact: %s", strerror(-rc));
	} else {
		struct store_op op = { .kind = STORE_ARTIFACT, .task = sha,
		                       .id = (int64_t)len };
		char *err = NULL;
		if (store_apply(a->st, &op, 1, &err) != 0)
			http_reply_error(r, 500, "%s", err);
		else
			http_reply_json(r, 201, json_pack("{s:s,s:I}", "sha", sha,
			                "size", (json_int_t)len));
		free(err);
	}
	free(top);
	free(dir);
	free(path);
	free(tmp);
}

static void
artifact_get(struct api_ctx *a, http_req *r, const char *sha)
{
	char *path = xasprintf("%s/artifacts/%.2s/%s", a->cfg->master.data_dir,
	                       sha, sha);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		http_reply_error(r, 404, "no artifact %s", sha);
		return;
	}
	http_reply_fd(r, 200, "application/octet-stream", fd, (uint64_t)sb.st_size);
}

/* -------------------------------------------------------------- pipelines */

static int
pl_err(http_req *r, int rc, char *err)
{
	http_reply_error(r, rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : 500,
	                 "%s", err ? err : "failed");
	free(err);
	return 0;
}

static int
run_row(const struct store_run *sr, void *ud)
{
	json_t **a = ud;
	char s[64], e[64], l[64];
	cron_format_iso(sr->logical_date, l, sizeof l);
	cron_format_iso(sr->interval_start, s, sizeof s);
	cron_format_iso(sr->interval_end, e, sizeof e);
	json_array_append_new(a[0], json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}",
		"id", (json_int_t)sr->id, "run_id", sr->run_id, "dag_id", sr->dag_id,
		"kind", sr->kind, "state", store_run_state_name(sr->state),
		"logical_date", l, "data_interval_start", s, "data_interval_end", e,
		"created_ms", (json_int_t)sr->created_ms,
		"finished_ms", (json_int_t)sr->finished_ms));
	json_decref(a[1]);
	a[1] = json_integer(sr->id);
	return 0;
}

struct ti_find {
	const char *task;
	int64_t job;
};

static int
ti_find_cb(const struct store_ti *t, void *ud)
{
	struct ti_find *f = ud;
	if (strcmp(t->task, f->task) == 0) {
		f->job = t->job_id;
		return 1;
	}
	return 0;
}

/* /api/v1/dags... and /api/v1/runs/... ; P is the path after /api/v1/. */
static void
pipelines(struct api_ctx *a, http_req *r, const char *p, int get, int post)
{
	char *err = NULL;
	int rc;
	if (strcmp(p, "dags") == 0 && get) {
		http_reply_json(r, 200, json_pack("{s:o}", "dags", pipeline_dags_json(a->pl)));
		return;
	}
	if (strcmp(p, "dags/errors") == 0 && get) {
		http_reply_json(r, 200, json_pack("{s:o}", "errors", pipeline_errors_json(a->pl)));
		return;
	}
	char id[256], rest[512] = "";
	if (strncmp(p, "dags/", 5) == 0 &&
	    sscanf(p + 5, "%255[^/]%511s", id, rest) >= 1) {
		if (*rest == '\0' && get) {
			json_t *o = pipeline_dag_json(a->pl, id);
			if (o == NULL)
				http_reply_error(r, 404, "no DAG '%s'", id);
			else
				http_reply_json(r, 200, o);
			return;
		}
		if (strcmp(rest, "/grid") == 0 && get) {
			const char *v = http_query(r, "limit");
			json_t *o = pipeline_grid_json(a->pl, id, v ? atoi(v) : 25);
			if (o == NULL)
				http_reply_error(r, 404, "no DAG '%s'", id);
			else
				http_reply_json(r, 200, o);
			return;
		}
		if (strcmp(rest, "/runs") == 0 && get) {
			const char *v = http_query(r, "state");
			int state = v && *v ? store_run_state_parse(v) : -1;
			if (v && *v && state < 0) {
				http_reply_error(r, 400, "unknown run state '%s'", v);
				return;
			}
			v = http_query(r, "limit");
			int limit = v ? atoi(v) : 100;
			v = http_query(r, "before");
			json_t *acc[2] = { json_array(), json_null() };
			if (store_run_list(a->st, id, state, v ? atoll(v) : 0, limit,
			                   run_row, acc, &err) != 0) {
				json_decref(acc[0]);
				json_decref(acc[1]);
				pl_err(r, -EIO, err);
				return;
			}
			if (json_array_size(acc[0]) < (size_t)(limit > 0 ? limit : 100)) {
				json_decref(acc[1]);
				acc[1] = json_null();
			}
			http_reply_json(r, 200, json_pack("{s:o,s:o}", "runs", acc[0],
			                                  "next_before", acc[1]));
			return;
		}
		if (!post) {
			http_reply_error(r, 404, "no route GET /api/v1/%s", p);
			return;
		}
		json_t *b = body_object(r);
		if (b == NULL)
			return;
		if (strcmp(rest, "/trigger") == 0) {
			json_t *conf = json_object_get(b, "conf");
			char *run_id = NULL;
			if (conf != NULL && !json_is_object(conf))
				http_reply_error(r, 400, "conf must be an object");
			else if ((rc = pipeline_trigger(a->pl, id, conf ? conf : json_object(),
			                                &run_id, &err)) != 0)
				pl_err(r, rc, err);
			else
				http_reply_json(r, 201, json_pack("{s:s}", "run_id", run_id));
			free(run_id);
		} else if (strcmp(rest, "/pause") == 0 || strcmp(rest, "/unpause") == 0) {
			int paused = strcmp(rest, "/pause") == 0;
			if ((rc = pipeline_pause(a->pl, id, paused, &err)) != 0)
				pl_err(r, rc, err);
			else
				http_reply_json(r, 200, json_pack("{s:s,s:b}", "id", id,
				                                  "paused", paused));
		} else if (strcmp(rest, "/backfill") == 0) {
			const char *from = json_string_value(json_object_get(b, "from"));
			const char *to = json_string_value(json_object_get(b, "to"));
			int64_t f, t;
			int created;
			if (from == NULL || to == NULL ||
			    cron_parse_date(from, &f, &err) != 0 ||
			    cron_parse_date(to, &t, &err) != 0)
				http_reply_error(r, 400, "backfill needs \"from\" and \"to\" dates: %s",
				                 err ? err : "missing");
			else if ((rc = pipeline_backfill(a->pl, id, f, t, &created, &err)) != 0)
				pl_err(r, rc, err), err = NULL;
			else
				http_reply_json(r, 201, json_pack("{s:i}", "created", created));
			free(err);
		} else {
			http_reply_error(r, 404, "no route POST /api/v1/%s", p);
		}
		json_decref(b);
		return;
	}
	char task[256];
	if (strncmp(p, "runs/", 5) == 0 &&
	    sscanf(p + 5, "%255[^/]%511s", id, rest) >= 1) {
		if (*rest == '\0' && get) {
			json_t *o = pipeline_run_json(a->pl, id);
			if (o == NULL)
				http_reply_error(r, 404, "no run '%s'", id);
			else
				http_reply_json(r, 200, o);
			return;
		}
		char what[32] = "";
		if (sscanf(rest, "/tasks/%255[^/]/%31s", task, what) == 2) {
			if (strcmp(what, "clear") == 0 && post) {
				json_t *b = body_object(r);
				if (b == NULL)
					return;
				int cleared;
				int down = json_is_true(json_object_get(b, "downstream"));
				if ((rc = pipeline_clear(a->pl, id, task, down, &cleared, &err)) != 0)
					pl_err(r, rc, err);
				else
					http_reply_json(r, 200, json_pack("{s:i}", "cleared", cleared));
				json_decref(b);
				return;
			}
			if (strcmp(what, "log") == 0 && get) {
				struct store_run sr;
				struct ti_find f = { task, 0 };
				if (store_run_find(a->st, id, &sr, &err) != 0) {
					http_reply_error(r, 404, "no run '%s'", id);
					free(err);
					return;
				}
				store_tis(a->st, sr.id, ti_find_cb, &f, &err);
				store_run_clear(&sr);
				free(err);
				if (f.job <= 0) {
					http_reply_error(r, 404, "task %s of run %s has not run", task, id);
					return;
				}
				job_log(a, r, f.job);
				return;
			}
		}
	}
	http_reply_error(r, 404, "no route %s /api/v1/%s", http_method(r), p);
}

void
api_handle(http_req *r, void *ud)
{
	struct api_ctx *a = ud;
	const char *m = http_method(r);
	const char *p = http_path(r);
	int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;

	if (strcmp(p, "/api/v1/health") == 0 && get) {
		health(a, r);
		return;
	}
	if (strcmp(p, "/api/v1/login") == 0 && post) {
		login(a, r);
		return;
	}
	struct who who;
	authenticate(a, r, &who);
	if (strcmp(p, "/metrics") == 0 && get) {
		if (a->cfg->master.metrics_auth && who.kind == WHO_NONE)
			http_reply_error(r, 401, "authentication required");
		else
			metrics(a, r);
		who_clear(&who);
		return;
	}
	if (strncmp(p, "/api/", 5) != 0) {
		if (get)
			static_file(a, r, p);
		else
			http_reply_error(r, 405, "method not allowed");
		who_clear(&who);
		return;
	}
	if (who.kind == WHO_NONE) {
		http_add_header(r, "WWW-Authenticate", "Bearer");
		http_reply_error(r, 401, "authentication required: a Bearer token or a Kiln-HMAC signature");
		return;
	}
	if (strncmp(p, "/api/v1/cluster/", 16) == 0) {
		if (who.kind != WHO_SIGNED)
			http_reply_error(r, 403, "cluster routes need the cluster secret");
		else if (post && strcmp(p + 16, "register") == 0)
			cluster_register(a, r, &who);
		else if (post && strcmp(p + 16, "exchange") == 0)
			cluster_exchange(a, r, &who);
		else if (post && strcmp(p + 16, "leave") == 0)
			cluster_leave(a, r, &who);
		else if (post && strcmp(p + 16, "stages") == 0)
			stage_submit(a, r);
		else if (strncmp(p + 16, "stages/", 7) == 0)
			cluster_stage(a, r, p + 23, m);
		else
			http_reply_error(r, 404, "no route %s %s", m, p);
		who_clear(&who);
		return;
	}
	int write = !get;
	if (write && who.csrf != NULL) {
		/* A browser session: only pages of ours know the token. */
		const char *t = http_header(r, "X-CSRF-Token");
		if (t == NULL || strcmp(t, who.csrf) != 0) {
			http_reply_error(r, 403, "missing or wrong X-CSRF-Token");
			who_clear(&who);
			return;
		}
	}
	if (strcmp(p, "/api/v1/logout") == 0 && post) {
		logout(a, r);
		who_clear(&who);
		return;
	}
	if (strcmp(p, "/api/v1/me") == 0 && get) {
		http_reply_json(r, 200, json_pack("{s:s?,s:s,s:s?,s:s}", "user", who.id,
			"role", who.kind == WHO_VIEWER ? "viewer" : "admin",
			"csrf", who.csrf, "auth", who.how ? who.how : "?"));
		who_clear(&who);
		return;
	}
	if (write && who.kind == WHO_VIEWER) {
		http_reply_error(r, 403, "viewers may not change anything");
		who_clear(&who);
		return;
	}
	int64_t id;
	int n;
	if (strcmp(p, "/api/v1/stats") == 0 && get)
		stats(a, r);
	else if (strcmp(p, "/api/v1/workers") == 0 && get)
		http_reply_json(r, 200, json_pack("{s:o}", "workers", sched_workers_json(a->sc)));
	else if (strcmp(p, "/api/v1/plugins") == 0 && get)
		http_reply_json(r, 200, json_pack("{s:o,s:o}", "plugins", sched_plugins_json(a->sc),
		                                  "errors", sched_plugin_errors_json(a->sc)));
	else if (strcmp(p, "/api/v1/jobs") == 0 && post)
		jobs_submit(a, r, 0);
	else if (strcmp(p, "/api/v1/jobs") == 0 && get)
		jobs_list(a, r);
	else if (strcmp(p, "/api/v1/jobs/batch") == 0 && post)
		jobs_submit(a, r, 1);
	else if (strncmp(p, "/api/v1/artifacts/", 18) == 0 && hash_is_hex(p + 18) &&
	         (get || strcmp(m, "PUT") == 0)) {
		if (get)
			artifact_get(a, r, p + 18);
		else
			artifact_put(a, r, p + 18);
	} else if (strncmp(p, "/api/v1/dags", 12) == 0 || strncmp(p, "/api/v1/runs/", 13) == 0)
		pipelines(a, r, p + 8, get, post);
	else if (strcmp(p, "/api/v1/tokens") == 0 && post &&
	         (who.kind == WHO_SIGNED || who.kind == WHO_ADMIN))
		token_create(a, r);
	else if (strncmp(p, "/api/v1/jobs/", 13) == 0 &&
	         (n = parse_id(p + 13, &id)) > 0) {
		const char *rest = p + 13 + n;
		if (*rest == '\0' && get)
			job_get(a, r, id);
		else if (strcmp(rest, "/log") == 0 && get)
			job_log(a, r, id);
		else if (strcmp(rest, "/cancel") == 0 && post)
			job_cancel(a, r, id);
		else
			http_reply_error(r, 404, "no route %s %s", m, p);
	} else
		http_reply_error(r, 404, "no route %s %s", m, p);
	who_clear(&who);
}
