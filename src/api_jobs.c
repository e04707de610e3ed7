/* SPDX-License-Identifier: MIT */
/*
 * api_jobs.c - the jobs routes: submit one or a batch, list, get (with a
 * long poll until the job is finished), its log, cancel.  See docs/api.md.
 *
 * A submission may carry an Idempotency-Key header (as Stripe's API): the
 * key, who sent it and the hash of the request are stored with the jobs,
 * in their transaction, so a client that lost the reply (a dropped
 * connection, a master killed after the commit) sends the request again
 * and gets the same jobs back instead of new ones.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cron.h"
#include "api_int.h"
#include "plugin.h"
#include "auth.h"
#include "hash.h"
#include "varconn.h"
#include "xalloc.h"

#define API_BATCH_MAX 10000
/* A job's params: at most this many, this large as JSON. */
#define API_PARAMS_MAX 1024
#define API_PARAMS_MAX_TEXT "1024"
#define API_PARAMS_BYTES (1 << 20)

static json_t *
job_json(const struct store_job *j)
{
	char *ptext = varconn_params_open(j->params ? j->params : "{}");
	json_t *params = json_loads(ptext, 0, NULL);
	free(ptext);
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
	/* A task's params hold its templates rendered: never a secret. */
	varconn_mask_json(o);
	return o;
}

/* What the scheduler said of the plugin of the previous job of a batch:
 * the jobs of a batch mostly name one plugin, and asking the scheduler
 * once per job took its lock twice per job while it dispatched. */
struct plugin_memo {
	const char *name;   /* borrowed from the request body */
	int known;
	json_t *decl;       /* owned; NULL if the plugin declares nothing */
};

/* Fill J from a submission object; 0, or replies 4xx and returns -1. */
/* Why job PARAMS (an object, or NULL) cannot be taken, or NULL.  Keys
 * starting with "__" are the host's (a map task's stage, argument and
 * broadcast, proto.h): a job that set them would reach the plugin as a
 * forged map task.  The count and size are bounded, as all of it is
 * kept in memory while the job is queued. */
static const char *
api_params_check(const json_t *params)
{
	const char *key;
	json_t *v;

	if (params == NULL)
		return NULL;
	if (!json_is_object(params))
		return "must be an object";
	if (json_object_size(params) > API_PARAMS_MAX)
		return "more than " API_PARAMS_MAX_TEXT " parameters";
	json_object_foreach((json_t *)params, key, v)
		if (strncmp(key, "__", 2) == 0)
			return "names starting with \"__\" are reserved for the "
			       "host";
	return NULL;
}

/* A job's members, by name: what job_fields() reads. */
static const char *const job_ints[] = { "priority", "retries", "slots",
                                        "memory", "timeout_ms" };

/* The members of job O read straight, when each is one job_from()'s
 * json_unpack_ex() format accepts with the type it wants: 0, or -1 to
 * let the format say what is wrong.  A batch of 10,000 jobs spent about
 * a third of its handling in the format's parser (callgrind,
 * bench/README.md). */
static int
job_fields(json_t *o, const char **pname, json_t **params,
           json_int_t *const ints[5])
{
	const char *key;
	json_t *v;
	*pname = NULL;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "plugin") == 0) {
			if (!json_is_string(v))
				return -1;
			*pname = json_string_value(v);
			continue;
		}
		if (strcmp(key, "params") == 0) {
			*params = v;
			continue;
		}
		size_t i = 0;
		while (i < 5 && strcmp(key, job_ints[i]) != 0)
			i++;
		if (i == 5 || !json_is_integer(v))
			return -1;
		*ints[i] = json_integer_value(v);
	}
	return *pname != NULL ? 0 : -1;
}

static int
job_from(struct api_ctx *a, http_req *r, json_t *o, struct store_job *j,
         char **params_out, size_t index, struct plugin_memo *pm)
{
	const char *pname = NULL;
	json_t *params = NULL;
	json_int_t priority = 0, retries = -1, slots = 1;
	json_int_t memory = 0, timeout_ms = 0;
	json_error_t je;
	char where[48] = "";
	if (index != (size_t)-1)
		snprintf(where, sizeof where, "jobs[%zu]: ", index);
	json_int_t *const ints[] = { &priority, &retries, &slots, &memory,
	                             &timeout_ms };
	if (!json_is_object(o) ||
	    (job_fields(o, &pname, &params, ints) != 0 &&
	     json_unpack_ex(o, &je, JSON_STRICT, "{s:s,s?o,s?I,s?I,s?I,s?I,s?I}",
	                   "plugin", &pname, "params", &params, "priority", &priority,
	                   "retries", &retries, "slots", &slots, "memory", &memory,
	                   "timeout_ms", &timeout_ms) != 0)) {
		http_reply_error(r, 400, "%sbad job: %s", where,
		                 json_is_object(o) ? je.text : "not an object");
		return -1;
	}
	/* Every number in range, or a 400 naming it: never stored wrapped
	 * or silently replaced by a default. */
	const struct { const char *name; json_int_t v, min, max; } num[] = {
		{ "priority", priority, -1000000000, 1000000000 },
		{ "retries", retries, json_object_get(o, "retries") ? 0 : -1, 100 },
		{ "slots", slots, 1, 1024 },
		{ "memory", memory, 0, (json_int_t)1 << 50 },
		{ "timeout_ms", timeout_ms, 0, (json_int_t)366 * 86400 * 1000 },
	};
	for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
		if (num[i].v < num[i].min || num[i].v > num[i].max) {
			http_reply_error(r, 400, "%s%s must be from %lld to %lld, "
			                 "got %lld", where, num[i].name,
			                 (long long)num[i].min, (long long)num[i].max,
			                 (long long)num[i].v);
			return -1;
		}
	const char *why = api_params_check(params);
	if (why != NULL) {
		http_reply_error(r, 400, "%sparams: %s", where, why);
		return -1;
	}
	if (pm->name == NULL || strcmp(pm->name, pname) != 0) {
		json_decref(pm->decl);
		pm->name = pname;
		pm->known = sched_has_plugin(a->sc, pname);
		pm->decl = pm->known ? sched_plugin_decl(a->sc, pname) : NULL;
		/* Just after a restart, before the workers are back: a
		 * plugin the store has seen is queued (its parameters are
		 * checked by the worker), not refused as unknown. */
		if (!pm->known)
			pm->known = sched_plugin_awaited(a->sc, pname);
	}
	if (!pm->known) {
		http_reply_error(r, 400, "%sunknown plugin '%s': no live worker has it%s",
		                 where, pname, strcmp(pname, "exec") == 0 ?
		                 " (workers run commands only with 'exec: true' "
		                 "in cluster.yaml)" : "");
		return -1;
	}
	/* What the plugin declares is checked here, so that a job missing a
	 * parameter is refused at once rather than failing on a worker. */
	char *err = NULL;
	if (pm->decl != NULL && plugin_params_check(pm->decl, params, &err) != 0) {
		http_reply_error(r, 400, "%splugin %s: %s", where, pname, err);
		free(err);
		return -1;
	}
	memset(j, 0, sizeof *j);
	j->plugin = (char *)pname;
	*params_out = params ? json_dumps(params, JSON_COMPACT) : xstrdup("{}");
	if (strlen(*params_out) > API_PARAMS_BYTES) {
		http_reply_error(r, 400, "%sparams: larger than %d bytes as JSON",
		                 where, API_PARAMS_BYTES);
		free(*params_out);
		*params_out = NULL;
		return -1;
	}
	j->params = *params_out;
	j->priority = (int)priority;
	j->slots = (int)slots;
	j->memory = memory;
	j->timeout_ms = timeout_ms;
	j->max_attempts = retries >= 0 ? (int)retries + 1 :
	                  a->cfg->master.default_max_attempts;
	return 0;
}

/* ---- idempotency keys */

#define API_IDEM_KEY_MAX 255

/* Keys whose request is being handled now, each as "STORE\nPRINCIPAL\n
 * KEY": a second request with one gets a 409 rather than racing the
 * first to the store.  Process-wide, as several masters may live in one
 * process (the tests), hence the store's address in the name. */
struct idem_busy {
	struct idem_busy *next;
	char *name;
};
static pthread_mutex_t idem_mu = PTHREAD_MUTEX_INITIALIZER;
static struct idem_busy *idem_busy_list;

/* Mark NAME busy: 0, or -EBUSY if it already is. */
static int
idem_claim(const char *name)
{
	int rc = 0;
	pthread_mutex_lock(&idem_mu);
	for (struct idem_busy *b = idem_busy_list; b && rc == 0; b = b->next)
		if (strcmp(b->name, name) == 0)
			rc = -EBUSY;
	if (rc == 0) {
		struct idem_busy *b = xmalloc(sizeof *b);
		b->name = xstrdup(name);
		b->next = idem_busy_list;
		idem_busy_list = b;
	}
	pthread_mutex_unlock(&idem_mu);
	return rc;
}

static void
idem_release(const char *name)
{
	pthread_mutex_lock(&idem_mu);
	for (struct idem_busy **p = &idem_busy_list; *p; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0) {
			struct idem_busy *b = *p;
			*p = b->next;
			free(b->name);
			free(b);
			break;
		}
	pthread_mutex_unlock(&idem_mu);
}

/* A submission's idempotency key, while its request is handled. */
struct idem {
	const char *key;        /* the header's value, or NULL: none */
	char *principal;        /* api_principal() */
	char *hash;             /* of the route and the body as parsed */
	char *busy;             /* its idem_claim() name, once claimed */
};

static void job_reply(struct api_ctx *a, http_req *r, int64_t id, int status);
static int wait_query(http_req *r, int64_t *ms);

/* Reply 201 to a submission of N jobs from FIRST_ID (a batch's ids are
 * consecutive); REPLAYED: with "Idempotent-Replayed: true", as Stripe.
 * A single job's submission with ?wait is answered with the whole job
 * once it is finished (job_reply). */
static void
reply_submitted(struct api_ctx *a, http_req *r, int batch, int64_t first_id,
                size_t n, int replayed)
{
	if (replayed)
		http_add_header(r, "Idempotent-Replayed", "true");
	if (!batch && http_query(r, "wait") != NULL) {
		/* Submit and wait in one request: the job's whole record once
		 * it is finished, as GET ?wait answers. */
		api_pstate(r)->job = first_id;
		job_reply(a, r, first_id, 201);
		return;
	}
	if (!batch) {
		http_reply_json(r, 201, json_pack("{s:I,s:s}", "id",
		                (json_int_t)first_id, "state", "queued"));
		return;
	}
	json_t *ids = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids, json_integer(first_id + (int64_t)i));
	http_reply_json(r, 201, json_pack("{s:o}", "ids", ids));
}

/*
 * Take request R's Idempotency-Key into K.  1 if nothing is left to do
 * (replied: a bad key 400, a key in use 409, a key used with another
 * request 422, a replay 201), else 0: submit, then idem_done().
 */
static int
idem_begin(struct api_ctx *a, http_req *r, const struct api_call *c,
           int batch, json_t *body, struct idem *k)
{
	memset(k, 0, sizeof *k);
	k->key = http_header(r, "Idempotency-Key");
	if (k->key == NULL)
		return 0;
	size_t len = strlen(k->key);
	int ok = len >= 1 && len <= API_IDEM_KEY_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = k->key[i] > 0x20 && k->key[i] < 0x7f;
	if (!ok) {
		http_reply_error(r, 400, "Idempotency-Key: must be 1 to %d "
		                 "printable ASCII characters without spaces",
		                 API_IDEM_KEY_MAX);
		return 1;
	}
	k->principal = api_principal(c->who);
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	char *what = xasprintf("%s\n%s", batch ? "batch" : "job",
	                       text ? text : "");
	k->hash = hash_hex(what, strlen(what));
	free(what);
	free(text);
	char *busy = xasprintf("%p\n%s\n%s", (void *)a->st, k->principal,
	                       k->key);
	if (idem_claim(busy) != 0) {
		free(busy);
		http_reply_error(r, 409, "Idempotency-Key '%s': a request with "
		                 "this key is in progress; retry it", k->key);
		return 1;
	}
	k->busy = busy;
	struct store_idem got;
	char *err = NULL;
	int rc = store_idem_get(a->st, k->principal, k->key, clock_now_ms(),
	                        &got, &err);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		http_reply_error(r, 500, "%s", err);
	else if (strcmp(got.hash, k->hash) != 0)
		http_reply_error(r, 422, "Idempotency-Key '%s' was used with "
		                 "another request (keys are kept 24 h): use a new "
		                 "key for a new request", k->key);
	else
		reply_submitted(a, r, batch, got.first_id, (size_t)got.count, 1);
	free(got.hash);
	free(err);
	return 1;
}

static void
idem_done(struct idem *k)
{
	if (k->busy != NULL)
		idem_release(k->busy);
	free(k->busy);
	free(k->principal);
	free(k->hash);
}

static void
jobs_submit(struct api_ctx *a, http_req *r, const struct api_call *c,
            int batch)
{
	struct pstate *ps = api_pstate(r);
	if (ps->job > 0) {      /* POST ?wait entered again: submitted once */
		job_reply(a, r, ps->job, 201);
		return;
	}
	int64_t wait_ms;        /* checked now: a bad wait submits nothing */
	if (http_query(r, "wait") != NULL && batch) {
		http_reply_error(r, 400, "wait: a batch is not waited for; "
		                 "wait for its jobs with GET /api/v1/jobs/ID?wait=");
		return;
	}
	if (wait_query(r, &wait_ms) != 0)
		return;
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	struct idem k;
	if (idem_begin(a, r, c, batch, b, &k) != 0) {
		idem_done(&k);
		json_decref(b);
		return;
	}
	json_t *list = batch ? json_object_get(b, "jobs") : NULL;
	size_t n = batch ? json_array_size(list) : 1;
	if (batch && (!json_is_array(list) || n == 0 || n > API_BATCH_MAX)) {
		http_reply_error(r, 400, "batch needs \"jobs\": an array of 1 to %d jobs",
		                 API_BATCH_MAX);
		idem_done(&k);
		json_decref(b);
		return;
	}
	struct store_job *jobs = xcalloc(n, sizeof *jobs);
	char **params = xcalloc(n, sizeof *params);
	size_t ok = 0;
	struct plugin_memo pm = { NULL, 0, NULL };
	for (; ok < n; ok++)
		if (job_from(a, r, batch ? json_array_get(list, ok) : b, &jobs[ok],
		             &params[ok], batch ? ok : (size_t)-1, &pm) != 0)
			break;
	json_decref(pm.decl);
	if (ok == n) {
		char *err = NULL;
		struct store_op op = { .kind = STORE_IDEM, .task = k.key,
		                       .worker = k.principal, .result = k.hash };
		int rc = sched_submit_idem(a->sc, jobs, n, k.key ? &op : NULL,
		                           &err);
		if (rc != 0)
			api_reply_failed(r, rc, err);
		else
			reply_submitted(a, r, batch, jobs[0].id, n, 0);
		free(err);
	}
	idem_done(&k);
	for (size_t i = 0; i < n; i++)
		free(params[i]);
	free(params);
	free(jobs);
	json_decref(b);
}

/* POST /api/v1/jobs */
void
api_jobs_submit(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	jobs_submit(a, r, c, 0);
}

/* POST /api/v1/jobs/batch */
void
api_jobs_batch(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	jobs_submit(a, r, c, 1);
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
	if (j->run_id != NULL) {
		json_object_set_new(o, "dag_id", json_string(j->dag_id ? j->dag_id : ""));
		json_object_set_new(o, "run_id", json_string(j->run_id));
	}
	/* A retry waiting to be placed again: since when. */
	if (j->requeued_ms > 0)
		json_object_set_new(o, "requeued_ms", json_integer(j->requeued_ms));
	json_array_append_new(c->a, o);
	c->last = j->id;
	return 0;
}

/* Counted at most this far, and for at most this long
 * (store_job_count): the count's cost stays bounded however many jobs
 * the store keeps and however the filters combine. */
#define API_COUNT_CAP 100000
#define API_COUNT_MS 100
/* The longest DAG id, run_id or worker name a filter may name. */
#define API_FILTER_TEXT_MAX 256
/* Jobs one bulk cancel may name. */
#define API_CANCEL_MAX 1000

/* ?NAME=: a time, as unix milliseconds or an ISO 8601 date
 * (cron_parse_date), into *MS (0: absent).  0, or replies 400 and -1. */
static int
query_time(http_req *r, const char *name, int64_t *ms)
{
	const char *v = http_query(r, name);
	*ms = 0;
	if (v == NULL || *v == '\0')
		return 0;
	char *end = NULL, *err = NULL;
	long long n = strtoll(v, &end, 10);
	if (*end == '\0' && n > 0) {
		*ms = n;
		return 0;
	}
	int64_t t;
	if (cron_parse_date(v, &t, &err) != 0 || t <= 0) {
		http_reply_error(r, 400, "%s: %s", name, err ? err :
		                 "must be after 1970");
		free(err);
		return -1;
	}
	*ms = t * 1000;
	return 0;
}

/* ?NAME=: text of 1 to API_FILTER_TEXT_MAX bytes into *OUT (NULL:
 * absent).  0, or replies 400 and -1. */
static int
query_text(http_req *r, const char *name, const char **out)
{
	const char *v = http_query(r, name);
	*out = v != NULL && *v != '\0' ? v : NULL;
	if (*out != NULL && strlen(v) > API_FILTER_TEXT_MAX) {
		http_reply_error(r, 400, "%s: longer than %d bytes", name,
		                 API_FILTER_TEXT_MAX);
		return -1;
	}
	return 0;
}

/* The list's filters from the query into F: 0, or replies 400 naming
 * the parameter and returns -1. */
static int
list_filter(http_req *r, struct store_filter *f)
{
	const char *v;
	memset(f, 0, sizeof *f);
	f->state = -1;
	if ((v = http_query(r, "state")) != NULL && *v) {
		f->state = job_state_parse(v);
		if (f->state < 0) {
			http_reply_error(r, 400, "state: unknown state '%s'", v);
			return -1;
		}
	}
	if (query_text(r, "plugin", &f->plugin) != 0 ||
	    query_text(r, "dag", &f->dag) != 0 ||
	    query_text(r, "run", &f->run) != 0 ||
	    query_text(r, "worker", &f->worker) != 0 ||
	    query_time(r, "since", &f->since_ms) != 0 ||
	    query_time(r, "until", &f->until_ms) != 0)
		return -1;
	if ((v = http_query(r, "id")) != NULL && *v) {
		char *end = NULL;
		long long id = strtoll(v, &end, 10);
		if (*end != '\0' || id <= 0) {
			http_reply_error(r, 400, "id: must be a job id (a positive "
			                 "integer), got '%.64s'", v);
			return -1;
		}
		f->id = id;
	}
	f->limit = api_query_int(r, "limit", 0);
	if (f->limit <= 0 || f->limit > 1000)
		f->limit = f->limit <= 0 ? 100 : 1000;
	f->before_id = api_query_int64(r, "before", 0);
	return 0;
}

/* GET /api/v1/jobs?state=&plugin=&dag=&run=&worker=&id=&since=&until=
 * &limit=&before= */
void
api_jobs_list(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	struct store_filter f;
	(void)c;
	if (list_filter(r, &f) != 0)
		return;
	struct list_ctx lc = { json_array(), 0 };
	int64_t total = 0;
	int partial = 0;
	char *err = NULL;
	if (store_job_list(a->st, &f, list_one, &lc, &err) != 0 ||
	    store_job_count(a->st, &f, API_COUNT_CAP, API_COUNT_MS, &total,
	                    &partial, &err) != 0) {
		json_decref(lc.a);
		http_reply_error(r, 500, "%s", err);
		free(err);
		return;
	}
	json_t *next = json_array_size(lc.a) == (size_t)f.limit ?
		json_integer(lc.last) : json_null();
	http_reply_json(r, 200, json_pack("{s:o,s:o,s:I,s:b}", "jobs", lc.a,
	                "next_before", next, "total", (json_int_t)total,
	                "total_capped", partial || total >= API_COUNT_CAP));
}

/* POST /api/v1/jobs/cancel {"ids": [ID, ...]}: each as
 * POST /api/v1/jobs/ID/cancel would; one job that cannot be cancelled
 * does not stop the others.  200 {"cancelled": [ids], "errors":
 * [{"id", "status", "error"}]}. */
void
api_jobs_cancel(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	json_t *b = api_body_object(r);
	if (b == NULL)
		return;
	json_t *ids = json_object_get(b, "ids"), *v;
	size_t n = json_array_size(ids), i;
	if (!json_is_array(ids) || n == 0 || n > API_CANCEL_MAX) {
		http_reply_error(r, 400, "ids: must be an array of 1 to %d job ids",
		                 API_CANCEL_MAX);
		json_decref(b);
		return;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			http_reply_error(r, 400, "ids[%zu]: must be a job id (a "
			                 "positive integer)", i);
			json_decref(b);
			return;
		}
	json_t *done = json_array(), *errors = json_array();
	json_array_foreach(ids, i, v) {
		char *err = NULL;
		int64_t id = json_integer_value(v);
		int rc = sched_cancel(a->sc, id, &err);
		if (rc == 0)
			json_array_append_new(done, json_integer(id));
		else
			json_array_append_new(errors, json_pack("{s:I,s:i,s:s}",
				"id", (json_int_t)id, "status", rc == -ENOENT ? 404 :
				rc == -EALREADY ? 409 : 500, "error", err ? err : "?"));
		free(err);
	}
	json_decref(b);
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "cancelled", done,
	                                  "errors", errors));
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

/*
 * ?wait=SECONDS of R in *ms (0 to API_LONGPOLL_MAX_MS; absent: -1).  1
 * after replying 400 to a value that is not a number of seconds, else 0.
 */
static int
wait_query(http_req *r, int64_t *ms)
{
	const char *w = http_query(r, "wait");
	char *end = NULL;
	*ms = -1;
	if (w == NULL)
		return 0;
	double s = strtod(w, &end);
	if (end == w || *end != '\0' || !(s >= 0 && s <= 1e6)) {
		http_reply_error(r, 400, "wait: must be a number of seconds "
		                 "(at most %d are waited)",
		                 API_LONGPOLL_MAX_MS / 1000);
		return 1;
	}
	*ms = s * 1000 > API_LONGPOLL_MAX_MS ? API_LONGPOLL_MAX_MS
	                                     : (int64_t)(s * 1000);
	return 0;
}

/*
 * Reply STATUS to R with job ID as GET /api/v1/jobs/ID describes it; or,
 * while it is queued or running and R's ?wait has time left, park R (the
 * handler is entered again when a job ends or the time is up).
 */
static void
job_reply(struct api_ctx *a, http_req *r, int64_t id, int status)
{
	struct store_job j = { 0 };
	char *err = NULL;
	int64_t wait_ms;
	if (wait_query(r, &wait_ms) != 0)
		return;
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
	if (wait_ms >= 0 && (j.state == JOB_QUEUED || j.state == JOB_RUNNING) &&
	    !http_parked_expired(r)) {
		struct pstate *ps = api_pstate(r);
		if (ps->deadline == 0)
			ps->deadline = clock_mono_ms() + wait_ms;
		if (clock_mono_ms() < ps->deadline) {
			store_job_clear(&j);
			http_park(r, ps->deadline);
			return;
		}
	}
	json_t *o = job_json(&j);
	char *run_id = NULL;
	/* The run's name, for the task actions on the job's page. */
	if (j.run > 0 && store_run_name(a->st, j.run, &run_id, &err) == 0)
		json_object_set_new(o, "run_id", json_string(run_id));
	free(run_id);
	free(err);
	err = NULL;
	/* A job no live worker could hold says why while it waits (workers
	 * may join: it is not refused at submit, see docs/api.md). */
	char *why = j.state == JOB_QUEUED ? sched_unschedulable(a->sc, j.plugin,
	            j.slots, j.memory) : NULL;
	if (why != NULL)
		json_object_set_new(o, "unschedulable", json_string(why));
	free(why);
	json_t *atts = json_array();
	store_attempts(a->st, id, attempt_one, atts, &err);
	json_object_set_new(o, "attempts", atts);
	store_job_clear(&j);
	free(err);
	http_reply_json(r, status, o);
}

/* GET /api/v1/jobs/:id[?wait=SECONDS] */
void
api_job_get(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	job_reply(a, r, route_num(&c->params, "id"), 200);
}

void
api_job_log_reply(struct api_ctx *a, http_req *r, int64_t id)
{
	int attempt = api_query_int(r, "attempt", 0);
	struct store_job j = { 0 };
	char *err = NULL, *log = NULL;
	int live_attempt = 0;
	char *live = sched_live_log(a->sc, id, &live_attempt);
	if (live != NULL && (attempt == 0 || attempt == live_attempt)) {
		/* Running: what its worker has reported so far. */
		http_add_header(r, "X-Kiln-Log", "live");
		char *m = varconn_mask_text(live);
		http_reply(r, 200, "text/plain; charset=utf-8", m, strlen(m));
		free(m);
		free(live);
		return;
	}
	free(live);
	if (store_job_get(a->st, id, &j, &err) == -ENOENT) {
		http_reply_error(r, 404, "no job %lld", (long long)id);
	} else if (store_log(a->st, id, attempt, &log, &err) != 0) {
		http_reply_error(r, 404, "no log for job %lld attempt %d", (long long)id, attempt);
	} else {
		char *m = varconn_mask_text(log);
		http_reply(r, 200, "text/plain; charset=utf-8", m, strlen(m));
		free(m);
	}
	store_job_clear(&j);
	free(log);
	free(err);
}

/* GET /api/v1/jobs/:id/log[?attempt=N] */
void
api_job_log(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	api_job_log_reply(a, r, route_num(&c->params, "id"));
}

/* GET /api/v1/jobs/:id/stages: the distributed stages a driver job ran
 * and runs, with each map task's state, worker, attempts, duration and
 * locality.  Kept in the master's memory only (the last 64 that ended). */
void
api_job_stages(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int64_t id = route_num(&c->params, "id");
	struct store_job j = { 0 };
	char *err = NULL;
	int rc = store_job_get(a->st, id, &j, &err);
	store_job_clear(&j);
	free(err);
	if (rc == -ENOENT) {
		http_reply_error(r, 404, "no job %lld", (long long)id);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:I,s:o}", "job", (json_int_t)id,
	                "stages", sched_stages_json(a->sc, id)));
}

/* POST /api/v1/jobs/:id/cancel */
void
api_job_cancel(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int64_t id = route_num(&c->params, "id");
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
