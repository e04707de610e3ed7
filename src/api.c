/* SPDX-License-Identifier: MIT */
/*
 * api.c - the master's HTTP API (docs/api.md lists every route): the route
 * table, which says for each route who may call it; the dispatcher, which
 * authenticates the caller and enforces that before any handler runs; the
 * helpers the handlers share; and the worker protocol's handlers.  The
 * other handlers live by group in api_*.c (see api_int.h).
 *
 * Callers: workers, and the CLI on a machine that has the cluster secret,
 * sign each request (Kiln-HMAC, auth.h); API clients send a Bearer token;
 * the dashboard has a session cookie from /api/v1/login and sends its
 * CSRF token with every change.  Errors are JSON {"error": "...",
 * "status": N} with a 4xx status for bad requests.
 *
 * A signed request is taken once (its nonce goes through replay.h, only
 * after its signature verified), and every reply to it, the handler's or
 * the dispatcher's, is signed over its nonce (X-Kiln-Signature), so that
 * a worker can tell its master from whoever else answers.  A request
 * whose signature or nonce is refused gets an unsigned 401 (or 503 when
 * the replay table is full): signing a reply to a nonce nobody proved to
 * own would hand out signatures for a client's future nonces.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "auth.h"
#include "clock.h"
#include "err.h"
#include "hash.h"
#include "plugin.h"
#include "proto.h"
#include "log.h"
#include "replay.h"
#include "varconn.h"
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
	if (ps->exchange != NULL)
		proto_release(&ps->exchange->own);
	free(ps->exchange);
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

/* What the replies to a signed request are signed with; set on R when
 * its signature and nonce are taken. */
struct reply_key {
	const char *secret;             /* the api_ctx's: outlives R */
	int head;                       /* HEAD: replies go without a body */
	char nonce[AUTH_NONCE_MAX + 1];
	char id[AUTH_ID_MAX + 1];       /* the signer */
};

/* R's reply hook (http.h): sign the reply over the request's nonce. */
static void
sign_reply(http_req *r, int status, const void *body, size_t len,
           const char *sha256, void *ud)
{
	const struct reply_key *k = ud;
	char *hash;

	if (k->head)
		hash = hash_hex("", 0);         /* what goes on the wire */
	else if (body != NULL)
		hash = hash_hex(body, len);
	else if (sha256 != NULL)
		hash = xstrdup(sha256);         /* a file named by its hash */
	else
		return;         /* a file of unknown hash goes unsigned: refused */
	char *sig = auth_reply_sign(k->secret, k->nonce, status, hash);
	http_add_header(r, AUTH_REPLY_HEADER, sig);
	free(sig);
	free(hash);
}

/*
 * R's Kiln-HMAC header H: verify the signature, take the nonce once, and
 * from then on sign every reply to R.  0 with W->kind WHO_SIGNED;
 * -EACCES (a bad signature), -EALREADY or -ESTALE (a replay) or -ENOSPC
 * (the replay table is full) with *err.  Nothing is kept for a request
 * whose signature did not verify.  A parked request's handler is entered
 * again, and the dispatcher with it: what the first entry took stands.
 * BODY_SHA, if not NULL, is taken as the body's SHA-256 (a streamed
 * upload's, before its body is in; see api_gate_routes).
 */
static int
signed_by(struct api_ctx *a, http_req *r, const char *h, const char *body_sha,
          struct who *w, char **err)
{
	const struct reply_key *taken = http_reply_hook_ud(r, sign_reply);
	if (taken != NULL) {
		w->kind = WHO_SIGNED;
		w->id = xstrdup(taken->id);
		w->how = "signed";
		return 0;
	}
	size_t len;
	const char *body = http_body(r, &len);
	struct auth_req q = {
		.method = http_method(r), .host = http_header(r, "Host"),
		.path = http_uri(r),    /* path and query as sent */
		.body = body, .len = len, .body_sha = body_sha,
	};
	struct auth_signer s;
	int64_t now = clock_now_ms();

	if (auth_verify(a->secret, h, &q, now, &s, err) != 0)
		return -EACCES;
	if (a->replay == NULL)
		return err_set(err, -ENOSPC, "the master keeps no memory of "
		              "nonces: signed requests are refused");
	int rc = replay_check(a->replay, s.session, s.counter, now);
	if (rc == -ENOSPC)
		return err_set(err, rc, "too many signing sessions at once: "
		              "try again later");
	if (rc < 0)
		return err_set(err, rc, "replayed request: nonce %s of '%s' %s",
		              s.nonce, s.id, rc == -EALREADY ? "was taken before" :
		              "is below its session's window");
	struct reply_key *k = xcalloc(1, sizeof *k);
	k->secret = a->secret;
	k->head = strcmp(q.method, "HEAD") == 0;
	memcpy(k->nonce, s.nonce, sizeof k->nonce);
	memcpy(k->id, s.id, sizeof k->id);
	http_set_reply_hook(r, sign_reply, k, free);
	w->kind = WHO_SIGNED;
	w->id = xstrdup(s.id);
	w->how = "signed";
	return 0;
}

/* Who sent R: a session cookie (unless there is an Authorization header),
 * a Kiln-HMAC signature or a Bearer token; W->kind WHO_NONE if none
 * holds.  Before the body is in (BODY_IN 0: the gate), a signature can
 * only be prechecked (auth_precheck): its syntax, Host and timestamp;
 * unless BODY_SHA names the body's hash (a streamed upload): then it is
 * verified and its nonce taken at once.  1 if R was answered already (a
 * replayed signed request: 401; the replay table full: 503), else 0. */
static int
authenticate(struct api_ctx *a, http_req *r, struct who *w, int body_in,
             const char *body_sha)
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
		return 0;
	}
	if (h == NULL)
		return 0;
	int replied = 0;
	char *err = NULL;
	if (strncmp(h, "Kiln-HMAC ", 10) == 0 && !body_in && body_sha == NULL) {
		if (auth_precheck(h, http_header(r, "Host"), clock_now_ms(),
		                  &err) == 0) {
			w->kind = WHO_SIGNED;   /* so far: the body decides */
			w->how = "signed";
		} else {
			log_warn("refused signature: %s", err);
		}
	} else if (strncmp(h, "Kiln-HMAC ", 10) == 0) {
		int rc = signed_by(a, r, h, body_sha, w, &err);
		if (rc == -ENOSPC) {
			/* replay.c logged it, once */
			http_add_header(r, "Retry-After", "60");
			http_reply_error(r, 503, "%s", err);
			replied = 1;
		} else if (rc == -EALREADY || rc == -ESTALE) {
			log_warn("refused %s", err);
			http_reply_error(r, 401, "%s", err);
			replied = 1;
		} else if (rc < 0) {
			log_warn("refused signature: %s", err);
		}
	} else if (strncmp(h, "Bearer ", 7) == 0) {
		api_token_who(a, h + 7, w);
	}
	free(err);
	return replied;
}

/*
 * Is the JSON text B (LEN bytes) within API_JSON_MAX_DEPTH and
 * API_JSON_MAX_NODES?  A pass over the bytes, outside strings, before
 * jansson builds anything: its parser recurses per level and allocates
 * per value.  Tokens are the brackets, commas and colons, plus one; a
 * bound on the values.  0, or -E2BIG with the 400's message in *err.
 */
static int
json_prescan(const char *b, size_t len, char **err)
{
	size_t depth = 0, tokens = 1;
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = b[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = 1;
			break;
		case '{': case '[':
			if (++depth > API_JSON_MAX_DEPTH)
				return err_set(err, -E2BIG, "JSON nested deeper "
				              "than the limit of %d levels",
				              API_JSON_MAX_DEPTH);
			tokens++;
			break;
		case '}': case ']':
			if (depth > 0)
				depth--;
			break;
		case ',': case ':':
			tokens++;
			break;
		default:
			continue;
		}
		if (tokens > API_JSON_MAX_NODES)
			return err_set(err, -E2BIG, "JSON with more than the "
			              "limit of %d tokens", API_JSON_MAX_NODES);
	}
	return 0;
}

json_t *
api_body_object(http_req *r)
{
	size_t len;
	const char *b = http_body(r, &len);
	json_error_t je;
	char *err = NULL;
	if (json_prescan(b, len, &err) < 0) {
		http_reply_error(r, 400, "%s", err);
		free(err);
		return NULL;
	}
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

void
api_reply_failed(http_req *r, int rc, const char *err)
{
	if (err == NULL)
		err = "?";
	/* The store's probe retries every 500 ms: a client may soon. */
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -EIO || rc == -EBUSY)
		http_add_header(r, "Retry-After", "5");
	if (rc == -ENOSPC || rc == -EDQUOT)
		http_reply_error(r, 503, "the store's disk is full: %s", err);
	else if (rc == -EIO || rc == -EBUSY)
		http_reply_error(r, 503, "the store cannot be written now: %s",
		                 err);
	else
		http_reply_error(r, 500, "%s", err);
}

int
api_query_int(http_req *r, const char *name, int dflt)
{
	int64_t v = api_query_int64(r, name, dflt);
	return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
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
cluster_register(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const struct who *who = c->who;
	json_t *b = api_body_object(r);
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
	if ((rc = sched_register(a->sc, &wi, h, m.nheld, &session, &cancel,
	                         &ncancel, &err)) != 0) {
		api_reply_failed(r, rc, err);
	} else {
		char sess[32];
		snprintf(sess, sizeof sess, "%016llx", (unsigned long long)session);
		struct proto_register_reply rep = { .session = sess,
			.heartbeat_ms = sched_heartbeat_ms(a->sc),
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
		.heartbeat_ms = x->heartbeat_ms,
	};
	struct proto_own *owns = xcalloc(x->ntasks + 1, sizeof *owns);
	for (size_t i = 0; i < x->ntasks; i++) {
		const struct sched_task *t = &x->tasks[i];
		struct proto_task *p = &rep.tasks[i];
		*p = (struct proto_task){ .id = t->id, .attempt = t->attempt,
			.plugin = t->plugin, .slots = t->slots,
			.memory = t->memory, .timeout_ms = t->timeout_ms,
			.stage = t->stage, .stage_id = t->stage_id,
			.index = t->index };
		/* The store wrote both: they parse (or the task gets none).
		 * Most have none: no parse for those (NULL is sent as {}). */
		p->params = t->params == NULL || strcmp(t->params, "{}") == 0 ?
		            NULL : json_loads(t->params, 0, NULL);
		char *err = NULL;
		if (proto_files_parse(t->inputs, &p->inputs, &p->ninputs,
		                      &owns[i], &err) != 0) {
			log_warn("job %lld: stored inputs: %s", (long long)t->id, err);
			free(err);
		}
	}
	size_t len;
	char *text = proto_exchange_reply_text(&rep, &len);
	http_reply_tagged(r, 200, "application/json", text, len);
	free(text);
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

/* S (a member of M) with secrets masked: a copy kept by M if it held one. */
static void
mask_kept(struct proto_exchange *m, const char **s)
{
	if (*s != NULL && varconn_mask_needed(*s))
		*s = proto_keep(&m->own, varconn_mask_text(*s));
}

/* Secrets (varconn.h) out of what tasks send back before anything keeps
 * or shows it: each result's log, error and result, each progress
 * report's log.  Only those: a secret that happened to equal a state's
 * name must not rewrite the protocol. */
static void
exchange_mask(struct proto_exchange *m)
{
	for (size_t i = 0; i < m->nresults; i++) {
		mask_kept(m, &m->results[i].log);
		mask_kept(m, &m->results[i].error);
		mask_kept(m, &m->results[i].result);
	}
	for (size_t i = 0; i < m->nprogress; i++)
		mask_kept(m, &m->progress[i].log);
}

/*
 * A worker's exchange: read from its text on the first entry (not as a
 * jansson tree: the one request per few hundred results, see
 * proto_exchange_parse()) and kept with the request while it is parked.
 */
static void
cluster_exchange(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const struct who *who = c->who;
	struct pstate *ps = api_pstate(r);
	char *err = NULL;
	if (!ps->entered) {
		ps->entered = 1;
		size_t len;
		const char *b = http_body(r, &len);
		if (json_prescan(b, len, &err) < 0) {
			http_reply_error(r, 400, "%s", err);
			free(err);
			return;
		}
		struct proto_exchange *x = xcalloc(1, sizeof *x);
		if (cluster_decoded(r, proto_exchange_parse(b, len, x, &err),
		                    "exchange", err) != 0) {
			free(x);
			return;
		}
		ps->exchange = x;
		exchange_mask(x);
	}
	struct proto_exchange *m = ps->exchange;
	if (m == NULL)
		return;
	if (strcmp(m->name, who->id) != 0) {
		http_reply_error(r, 400, "exchange needs name (the signer) and session");
		return;
	}
	uint64_t session = strtoull(m->session, NULL, 16);
	/* Results and log lines are applied on the first entry only; a
	 * re-entered (parked) request has none left to give. */
	size_t nres = ps->deadline ? 0 : m->nresults;
	if (!ps->deadline) {
		exchange_progress(a, m);
		if (m->cache_bytes >= 0)
			sched_worker_cache(a->sc, m->name, session, m->cache_bytes,
			                   m->cache_files, m->cache_budget);
	}
	struct xresults res;
	xresults_from(&res, m->results, nres);
	struct sched_held *run = held_from(m->running, m->nrunning);
	struct sched_exchange x;
	int rc = sched_exchange(a->sc, m->name, session, res.res, nres, run,
	                        m->nrunning, m->want, &x, &err);
	int64_t wait_ms = m->wait_ms;
	xresults_free(&res);
	free(run);
	if (rc != 0) {
		if (rc == -ESTALE)
			http_reply_error(r, 409, "%s", err);
		else
			api_reply_failed(r, rc, err);
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
			/* Taken on this entry: a re-entry passes the rest
			 * only (a list of thousands of running tasks is
			 * walked once, not at every wake). */
			m->nresults = m->nrunning = m->nprogress = 0;
			sched_exchange_clear(&x);
			http_park_as(r, ps->deadline, HTTP_PARK_WORKER);
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
	char **res = NULL, **outs = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = sched_stage_poll(a->sc, id, &res, &outs, &n, &err);
	if (rc == -ENOENT) {
		http_reply_error(r, 404, "%s", err);
	} else if (rc < 0) {
		http_reply_error(r, 422, "%s", err);
	} else if (rc == 0) {
		struct pstate *ps = api_pstate(r);
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
			.results = (const char *const *)res, .nresults = n,
			.outputs_json = (const char *const *)outs };
		http_reply_json(r, 200, proto_stage_reply_encode(&rep));
		for (size_t i = 0; i < n; i++) {
			free(res[i]);
			free(outs[i]);
		}
		free(res);
		free(outs);
	}
	free(err);
}

/* POST /api/v1/cluster/stages: a driver job's map tasks (see
 * sched_stage_submit); replies when they are done or after wait_ms. */
static void
stage_submit(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	struct pstate *ps = api_pstate(r);
	if (ps->entered) {   /* a parked re-entry: the stage id is kept */
		stage_reply(a, r, ps->stage, 0);
		return;
	}
	ps->entered = 1;
	json_t *b = api_body_object(r);
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

/* GET: the stage's state, with a long poll up to ?wait_ms. */
static void
stage_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	stage_reply(a, r, route_num(&c->params, "stage"),
	            api_query_int64(r, "wait_ms", 0));
}

/* DELETE: forget the stage, cancelling its running map tasks. */
static void
stage_cancel(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int64_t id = route_num(&c->params, "stage");
	if (sched_stage_cancel(a->sc, id) != 0)
		http_reply_error(r, 404, "no stage %lld", (long long)id);
	else
		http_reply_json(r, 200, proto_stage_cancelled_encode(id));
}

static void
cluster_leave(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const struct who *who = c->who;
	json_t *b = api_body_object(r);
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
	{ "GET",    "/api/v1/tokens",                      API_ADMIN,   NO_CSRF, api_tokens_list },
	{ "POST",   "/api/v1/tokens",                      API_ADMIN,   CSRF,    api_token_create },
	{ "DELETE", "/api/v1/tokens/:id",                  API_ADMIN,   CSRF,    api_token_revoke },
	{ "GET",    "/api/v1/stats",                       API_VIEWER,  NO_CSRF, api_stats },
	{ "GET",    "/api/v1/workers",                     API_VIEWER,  NO_CSRF, api_workers },
	{ "GET",    "/api/v1/workers/:name",               API_VIEWER,  NO_CSRF, api_worker },
	{ "GET",    "/api/v1/plugins",                     API_VIEWER,  NO_CSRF, api_plugins },
	{ "GET",    "/api/v1/pools",                       API_VIEWER,  NO_CSRF, api_pools },

	{ "GET",    "/api/v1/jobs",                        API_VIEWER,  NO_CSRF, api_jobs_list },
	{ "POST",   "/api/v1/jobs",                        API_ADMIN,   CSRF,    api_jobs_submit },
	{ "POST",   "/api/v1/jobs/batch",                  API_ADMIN,   CSRF,    api_jobs_batch },
	{ "POST",   "/api/v1/jobs/cancel",                 API_ADMIN,   CSRF,    api_jobs_cancel },
	{ "GET",    "/api/v1/jobs/:id",                    API_VIEWER,  NO_CSRF, api_job_get },
	{ "GET",    "/api/v1/jobs/:id/log",                API_VIEWER,  NO_CSRF, api_job_log },
	{ "GET",    "/api/v1/jobs/:id/stages",             API_VIEWER,  NO_CSRF, api_job_stages },
	{ "POST",   "/api/v1/jobs/:id/cancel",             API_ADMIN,   CSRF,    api_job_cancel },
	{ "GET",    "/api/v1/artifacts/:sha",              API_VIEWER,  NO_CSRF, api_artifact_get },
	{ "PUT",    "/api/v1/artifacts/:sha",              API_ADMIN,   CSRF,    api_artifact_put },

	{ "GET",    "/api/v1/dags",                        API_VIEWER,  NO_CSRF, api_dags_list },
	{ "GET",    "/api/v1/dags/errors",                 API_VIEWER,  NO_CSRF, api_dags_errors },
	{ "GET",    "/api/v1/dags/:dag",                   API_VIEWER,  NO_CSRF, api_dag_get },
	{ "GET",    "/api/v1/dags/:dag/grid",              API_VIEWER,  NO_CSRF, api_dag_grid },
	{ "GET",    "/api/v1/dags/:dag/runs",              API_VIEWER,  NO_CSRF, api_dag_runs },
	{ "GET",    "/api/v1/dags/:dag/versions",          API_VIEWER,  NO_CSRF, api_dag_versions },
	{ "GET",    "/api/v1/dags/:dag/versions/:version", API_VIEWER,  NO_CSRF, api_dag_version },
	{ "GET",    "/api/v1/dags/:dag/diff",              API_VIEWER,  NO_CSRF, api_dag_diff },
	{ "POST",   "/api/v1/dags/:dag/trigger",           API_ADMIN,   CSRF,    api_dag_trigger },
	{ "POST",   "/api/v1/dags/:dag/pause",             API_ADMIN,   CSRF,    api_dag_pause },
	{ "POST",   "/api/v1/dags/:dag/unpause",           API_ADMIN,   CSRF,    api_dag_unpause },
	{ "POST",   "/api/v1/dags/:dag/backfill",          API_ADMIN,   CSRF,    api_dag_backfill },
	{ "GET",    "/api/v1/runs/:run",                   API_VIEWER,  NO_CSRF, api_run_get },
	{ "POST",   "/api/v1/runs/:run/tasks/:task/clear", API_ADMIN,   CSRF,    api_task_clear },
	{ "POST",   "/api/v1/runs/:run/tasks/:task/mark",  API_ADMIN,   CSRF,    api_task_mark },
	{ "GET",    "/api/v1/runs/:run/tasks/:task/log",   API_VIEWER,  NO_CSRF, api_task_log },

	{ "GET",    "/api/v1/variables",                   API_VIEWER,  NO_CSRF, api_vars_list },
	{ "GET",    "/api/v1/variables/:name",             API_VIEWER,  NO_CSRF, api_var_get },
	{ "GET",    "/api/v1/variables/:name/reveal",      API_ADMIN,   NO_CSRF, api_var_reveal },
	{ "PUT",    "/api/v1/variables/:name",             API_ADMIN,   CSRF,    api_var_set },
	{ "DELETE", "/api/v1/variables/:name",             API_ADMIN,   CSRF,    api_var_delete },
	{ "GET",    "/api/v1/connections",                 API_VIEWER,  NO_CSRF, api_conns_list },
	{ "GET",    "/api/v1/connections/:name",           API_VIEWER,  NO_CSRF, api_conn_get },
	{ "GET",    "/api/v1/connections/:name/reveal",    API_ADMIN,   NO_CSRF, api_conn_reveal },
	{ "PUT",    "/api/v1/connections/:name",           API_ADMIN,   CSRF,    api_conn_set },
	{ "DELETE", "/api/v1/connections/:name",           API_ADMIN,   CSRF,    api_conn_delete },

	{ "POST",   "/api/v1/cluster/register",            API_WORKER,  NO_CSRF, cluster_register },
	{ "POST",   "/api/v1/cluster/exchange",            API_WORKER,  NO_CSRF, cluster_exchange },
	{ "POST",   "/api/v1/cluster/leave",               API_WORKER,  NO_CSRF, cluster_leave },
	{ "POST",   "/api/v1/cluster/stages",              API_WORKER,  NO_CSRF, stage_submit },
	{ "GET",    "/api/v1/cluster/stages/:stage",       API_WORKER,  NO_CSRF, stage_get },
	{ "DELETE", "/api/v1/cluster/stages/:stage",       API_WORKER,  NO_CSRF, stage_cancel },
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
		http_reply_error(r, 401, "%s", w->refused != NULL ? w->refused :
		                 "authentication required: a Bearer token or a Kiln-HMAC signature");
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
		http_reply_error(r, 403, strcmp(rt->method, "GET") == 0 ?
		                 "only admins may see this" :
		                 "viewers may not change anything");
		return 0;
	}
	return 1;
}

/* The first of the N ROUTES that answers METHOD PATH, its parameters in
 * *PARAMS; NULL if none. */
static const struct api_route *
route_find(const struct api_route *routes, size_t n, const char *method,
           const char *path, struct route_params *params)
{
	for (size_t i = 0; i < n; i++)
		if ((strcmp(routes[i].method, "*") == 0 ||
		     strcmp(routes[i].method, method) == 0) &&
		    route_match(routes[i].pattern, path, params))
			return &routes[i];
	return NULL;
}

/* What /metrics counts a request to RT under: its pattern, so that ids
 * never become labels; "static" for the dashboard's files; "other" for
 * the catch-alls and for no route. */
static const char *
route_label(const struct api_route *rt)
{
	if (rt == NULL || rt->handler == api_no_route || rt->handler == api_no_method)
		return "other";
	if (rt->handler == api_static)
		return "static";
	return rt->pattern;
}

const char *
api_route_label(const char *method, const char *path)
{
	struct route_params p;
	if (method == NULL || path == NULL)
		return "other";
	return route_label(route_find(api_routes, api_nroutes, method, path, &p));
}

/* May anyone call RT, without credentials? */
static int
route_open(const struct api_ctx *a, const struct api_route *rt)
{
	return rt->role == API_OPEN ||
	       (rt->role == API_METRICS && !a->cfg->master.metrics_auth);
}

void
api_dispatch(struct api_ctx *a, http_req *r, const struct api_route *routes,
             size_t n)
{
	const char *m = http_method(r), *path = http_path(r);
	struct who who = { .kind = WHO_NONE };
	struct api_call c = { .who = &who };
	const struct api_route *rt = route_find(routes, n, m, path, &c.params);

	http_set_route(r, route_label(rt));
	if (rt == NULL) {
		http_reply_error(r, 404, "no route %s %s", m, path);
		return;
	}
	int open = route_open(a, rt);
	int replied = 0;
	if (!open) {
		replied = authenticate(a, r, &who, 1, NULL);
	} else {
		/* Anyone may call it, but a signer is owed a signed reply. */
		const char *h = http_header(r, "Authorization");
		char *err = NULL;
		if (h != NULL && strncmp(h, "Kiln-HMAC ", 10) == 0 &&
		    signed_by(a, r, h, NULL, &who, &err) < 0 && err != NULL)
			log_info("open route, reply unsigned: %s", err);
		free(err);
		who_clear(&who);
		who.kind = WHO_NONE;    /* as on every open route */
	}
	if (!replied && (open || allowed(rt, &who, r)))
		rt->handler(a, r, &c);
	who_clear(&who);
}

void
api_handle(http_req *r, void *ud)
{
	api_dispatch(ud, r, api_routes, api_nroutes);
}

/*
 * Routes whose body is streamed, not kept (http_stream_body): the handler
 * that answers them, what decides from the gate on whether the body may
 * come and where it goes (it replies and says 1 if not), and the path
 * parameter that names the body's SHA-256.
 *
 * Signed requests to them: the signature covers the SHA-256 of the body
 * (auth.h), and here the body must hash to the name in the path, so the
 * gate verifies the signature with that name standing for the body's
 * hash, and takes its nonce, before a byte of the body is read: whoever
 * lacks the cluster secret is refused on the headers.  The handler then
 * stores the bytes only if they do hash to the name (400 otherwise), so
 * the signature that verified is the one over the bytes that are kept.
 * A captured request cannot be sent again (its nonce is taken), and one
 * signed for another name, or for other bytes under this name, does not
 * verify or is refused.  (docs/security.md, "Streamed uploads".)
 */
typedef int api_stream_fn(struct api_ctx *a, http_req *r,
                          const struct route_params *p);
static const struct {
	api_handler *handler;
	api_stream_fn *begin;
	const char *sha_param;
} api_streams[] = {
	{ api_artifact_put, api_artifact_stream, "sha" },
};

/* The row of api_streams for route RT, or -1. */
static int
stream_of(const struct api_route *rt)
{
	for (size_t i = 0; i < sizeof api_streams / sizeof api_streams[0]; i++)
		if (api_streams[i].handler == rt->handler)
			return (int)i;
	return -1;
}

int
api_gate_routes(struct api_ctx *a, http_req *r, const struct api_route *routes,
                size_t n)
{
	struct route_params p;
	const struct api_route *rt = route_find(routes, n, http_method(r),
	                                        http_path(r), &p);
	/* A request refused here counts under its route too. */
	http_set_route(r, route_label(rt));
	if (rt == NULL) {
		http_limit_body(r, 0);  /* answered 404: nothing to read */
		return 0;
	}
	if (route_open(a, rt)) {
		/* Login's {"user", "password"} is the largest body an open
		 * route takes. */
		http_limit_body(r, API_OPEN_BODY_MAX);
		return 0;
	}
	/* A streamed route's body is named by a hash; a path that names
	 * none is not streamed, and its handler refuses it (400). */
	int st = stream_of(rt);
	const char *sha = st >= 0 ? route_text(&p, api_streams[st].sha_param) :
	                  NULL;
	if (sha != NULL && !hash_is_hex(sha))
		sha = NULL;
	struct who who = { .kind = WHO_NONE };
	int replied = authenticate(a, r, &who, 0, sha);
	/* 401 or 403 now, on the headers: a stranger's body is never read. */
	if (!replied && !allowed(rt, &who, r))
		replied = 1;
	who_clear(&who);
	if (!replied && sha != NULL)
		replied = api_streams[st].begin(a, r, &p);
	return replied;
}

int
api_gate(http_req *r, void *ud)
{
	return api_gate_routes(ud, r, api_routes, api_nroutes);
}
