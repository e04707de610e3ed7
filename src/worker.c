/*
 * worker.c - a worker node (see worker.h).
 *
 * Threads:
 *  - the poller (the calling thread) registers, then long-polls the master
 *    for tasks with an exchange that also serves as the heartbeat;
 *  - the reporter sends finished results as soon as there are any, in
 *    batches, and takes new tasks in the same round trip;
 *  - the watchdog enforces task timeouts and rescans the plugin directory
 *    (a changed set of plugins is announced by registering again);
 *  - `slots` pool threads run plugins.
 * A result stays in the outbox until the master acknowledges it, so a
 * master that restarts meanwhile still gets it.  After any failed exchange
 * the worker registers again with everything it holds, and the master
 * settles what was lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "auth.h"
#include "client.h"
#include "datacache.h"
#include "diskcache.h"
#include "jobstate.h"
#include "log.h"
#include "plugin.h"
#include "pool.h"
#include "task.h"
#include "worker.h"
#include "xalloc.h"

#define WORKER_ABANDON_MS 3000   /* grace after a timeout's cancel */

struct wtask {
	int64_t id;
	int attempt;
	kiln_task *t;
	plugin *p;
	int64_t deadline;       /* mono_ms, 0 = none */
	int timed_out;
	int abandoned;          /* reported failed; its thread is left behind */
	int shutdown;           /* cancelled because the worker stops */
	json_t *inputs;         /* [{name, sha, size}] from upstream tasks */
	uint64_t log_pos;       /* log bytes already sent while running */
	struct wk *w;
	struct wtask *next;
};

struct wk {
	const struct kiln_config *cfg;
	const struct kiln_worker_conf *wc;
	char *url;
	char *secret;
	char *scratch;
	client *poll_c, *report_c;
	diskcache *cache;       /* <data_dir>/cache: inputs and outputs */
	plugin_registry *reg;
	pool *pool;
	pool *stage_pool;       /* map tasks of stages: a room of their own */
	client *idle_c[8];      /* idle clients for the pool threads'
	                         * artifact and stage calls */
	int nidle_c;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wtask *running;
	json_t *outbox;         /* results not yet acknowledged */
	char session[32];
	int need_register;
	int stopping;
};

/* Tasks per slot a worker asks for at most: what the master may let it
 * hold of short tasks (sched_opts.prefetch); the master decides how many
 * it gets. */
#define WORKER_WANT_PER_SLOT 256

static volatile sig_atomic_t worker_stop;

static void
on_signal(int sig)
{
	(void)sig;
	worker_stop = 1;
}

/* ----------------------------------------------------------- artifacts */

/* A client of its own for one call from a pool thread: tasks fetching
 * inputs and drivers waiting on stages run side by side, and one shared
 * connection would make each wait for the others' transfers. */
static client *
idle_client_get(struct wk *w, char **err)
{
	client *c = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->nidle_c > 0)
		c = w->idle_c[--w->nidle_c];
	pthread_mutex_unlock(&w->mu);
	if (c == NULL && client_new(w->url, w->wc->name, w->secret, NULL, &c, err) != 0)
		return NULL;
	return c;
}

static void
idle_client_put(struct wk *w, client *c)
{
	pthread_mutex_lock(&w->mu);
	if (w->nidle_c < (int)(sizeof w->idle_c / sizeof w->idle_c[0])) {
		w->idle_c[w->nidle_c++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	client_free(c);
}

/* A download on its way into the cache. */
struct fetch {
	FILE *f;
	auth_hasher *hash;
	uint64_t got;
};

static int
fetch_sink(void *ud, const void *data, size_t len)
{
	struct fetch *fx = ud;
	auth_hasher_add(fx->hash, data, len);
	fx->got += len;
	return fwrite(data, 1, len, fx->f) == len ? 0 : -errno;
}

/* The name task WT gives its input SHA, for messages. */
static const char *
input_name_of(const struct wtask *wt, const char *sha)
{
	size_t i;
	json_t *in;
	json_array_foreach(wt->inputs, i, in) {
		const char *s = json_string_value(json_object_get(in, "sha"));
		if (s != NULL && strcmp(s, sha) == 0)
			return json_string_value(json_object_get(in, "name"));
	}
	return sha;
}

/* Make input SHA, of SIZE bytes, available in the cache (fetching it
 * once); the path, malloc()ed, or NULL with *err.  A task_fetch_fn: a
 * task fetches an input when its plugin first reads it.  The body goes
 * to a temporary file as it arrives, hashed on the way, and is renamed
 * into place only if it is whole and its hash is SHA. */
static char *
fetch_input(void *ud, const char *sha, uint64_t size, char **err)
{
	struct wtask *wt = ud;
	struct wk *w = wt->w;
	char *path = diskcache_get(w->cache, sha);
	if (path != NULL)
		return path;
	int64_t t0 = mono_ms();
	client *c = idle_client_get(w, err);
	if (c == NULL)
		return NULL;
	char *tmp;
	struct fetch fx = { .f = diskcache_begin(w->cache, sha, &tmp, err) };
	if (fx.f == NULL) {
		idle_client_put(w, c);
		return NULL;
	}
	fx.hash = auth_hasher_new();
	char *url = xasprintf("/api/v1/artifacts/%s", sha);
	long status = 0;
	char *body = NULL;
	size_t blen;
	int rc = client_get_stream(c, url, 60000, size, fetch_sink, &fx, &status,
	                           &body, &blen, err);
	free(url);
	free(body);
	idle_client_put(w, c);
	char *got = auth_hasher_hex(fx.hash);
	int ok = rc == 0 && status == 200;
	if (fclose(fx.f) != 0 && ok) {
		rc = seterr(err, -EIO, "cannot write %s", tmp);
		ok = 0;
	}
	if (rc == 0 && !ok)
		seterr(err, -EIO, "cannot fetch input %s (HTTP %ld)", sha, status);
	else if (ok && (fx.got != size || strcmp(got, sha) != 0)) {
		seterr(err, -EIO, "cannot fetch input %s: %s", sha,
		       fx.got != size ? "wrong size" : "wrong hash");
		ok = 0;
	}
	if (ok && (path = diskcache_commit(w->cache, sha, tmp, size, err)) != NULL)
		log_info("job %" PRId64 ": fetched input %s (%" PRIu64 " bytes, "
		         "%" PRId64 " ms)", wt->id, input_name_of(wt, sha), size,
		         mono_ms() - t0);
	else if (!ok)
		unlink(tmp);
	free(got);
	free(tmp);
	return path;
}

/* Upload the task's outputs; a JSON array [{name, sha, size}] or NULL
 * with *err.  Each is kept in this worker's cache too: the master counts
 * this worker as holding it (a hint: if the copy failed, the task that
 * reads it fetches it), so that it places the map tasks reading it here. */
static json_t *
put_outputs(struct wk *w, kiln_task *t, char **err)
{
	client *c = idle_client_get(w, err);
	if (c == NULL)
		return NULL;
	json_t *a = json_array();
	for (int i = 0; i < task_output_count(t); i++) {
		const void *data;
		size_t len;
		const char *name = task_output(t, i, &data, &len);
		char *sha = auth_hash_hex(data, len);
		char *url = xasprintf("/api/v1/artifacts/%s", sha);
		long status;
		char *reply = NULL;
		size_t rlen;
		int rc = client_send_bytes(c, "PUT", url, data, len, 60000,
		                           &status, &reply, &rlen, err);
		free(url);
		free(reply);
		if (rc != 0 || status != 201) {
			if (rc == 0)
				seterr(err, -EIO, "cannot store output %s (HTTP %ld)",
				       name, status);
			free(sha);
			json_decref(a);
			idle_client_put(w, c);
			return NULL;
		}
		char *cerr = NULL;
		char *path = diskcache_put(w->cache, sha, data, len, &cerr);
		if (path == NULL) {
			log_warn("%s (output %s is not kept here)", cerr, name);
			free(cerr);
		}
		json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "name", name,
		                      "sha", sha, "size", (json_int_t)len));
		free(path);
		free(sha);
	}
	idle_client_put(w, c);
	return a;
}

/* ------------------------------------------------------------- running */

static void
task_main(void *arg)
{
	struct wtask *wt = arg;
	struct wk *w = wt->w;
	int64_t started = now_ms();
	char *ferr = NULL;
	size_t i;
	json_t *in;
	int state = -1;
	/* CODE tells the master why an attempt failed: the plugin's own
	 * KILN_E*, or the worker's when the fault is around the plugin.  A
	 * map task that failed with KILN_EINVAL is not retried (its input is
	 * bad wherever it runs), so only the plugin may claim that code. */
	int code = KILN_OK;
	json_array_foreach(wt->inputs, i, in) {
		const char *sha = json_string_value(json_object_get(in, "sha"));
		const char *name = json_string_value(json_object_get(in, "name"));
		if (sha == NULL || name == NULL) {
			seterr(&ferr, -EINVAL, "input %zu has no name or sha", i);
			state = JOB_FAILED;
			code = KILN_EIO;
			break;
		}
		task_add_input_lazy(wt->t, name, sha, (uint64_t)json_integer_value(
		                    json_object_get(in, "size")), fetch_input, wt);
	}
	if (state < 0) {
		state = task_run(wt->t, wt->p);
		code = task_code(wt->t);
	}
	const char *error = ferr ? ferr : task_error(wt->t);
	json_t *outputs = NULL;
	if (state == JOB_SUCCEEDED && task_output_count(wt->t) > 0) {
		outputs = put_outputs(w, wt->t, &ferr);
		if (outputs == NULL) {
			state = JOB_FAILED;
			code = KILN_EIO;
			error = ferr;
		}
	}
	char *timeout_msg = NULL;
	if (wt->timed_out) {
		state = JOB_FAILED;
		code = KILN_EFAIL;   /* slow here is no proof of bad input */
		timeout_msg = xasprintf("timed out after %lld ms",
		                        (long long)(now_ms() - started));
		error = timeout_msg;
	}
	if (state == JOB_FAILED && code == KILN_OK)
		code = KILN_EFAIL;   /* a failure always names a code */
	json_t *res = json_pack("{s:I,s:i,s:s,s:i,s:s?,s:s?,s:s,s:I,s:I}",
		"id", (json_int_t)wt->id, "attempt", wt->attempt,
		"state", job_state_name(state), "code", code,
		"result", task_result(wt->t),
		"error", error, "log", task_log(wt->t),
		"finished_ms", (json_int_t)now_ms(),
		"duration_ms", (json_int_t)(now_ms() - started));
	if (outputs != NULL)
		json_object_set_new(res, "outputs", outputs);
	free(timeout_msg);
	free(ferr);

	pthread_mutex_lock(&w->mu);
	struct wtask **pp = &w->running;
	while (*pp != NULL && *pp != wt)
		pp = &(*pp)->next;
	if (*pp == wt)
		*pp = wt->next;
	/* A task stopped by shutdown is not a result: the master requeues it
	 * when this worker leaves.  An abandoned one was reported already. */
	if (!wt->shutdown && !wt->abandoned)
		json_array_append(w->outbox, res);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	json_decref(res);
	plugin_release(wt->p);
	task_free(wt->t);
	json_decref(wt->inputs);
	free(wt);
}

/* -------------------------------------------------------------- stages */

#define STAGE_POLL_MS 1000      /* a driver checks its cancel this often */

/* The body of a stage request for driver T; NULL with *err. */
static json_t *
stage_body(struct wk *w, kiln_task *t, const char *fn, const char *broadcast,
           const struct kiln_stage_task *tasks, int n, char **err)
{
	json_t *inputs = NULL;
	const char *pname = NULL;
	int64_t job = 0;
	int attempt = 0;
	pthread_mutex_lock(&w->mu);
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next) {
		if (wt->t == t) {
			inputs = json_incref(wt->inputs);
			pname = plugin_desc(wt->p)->name;
			job = wt->id;
			attempt = wt->attempt;
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (pname == NULL) {
		seterr(err, KILN_EFAIL, "not a running task of this worker");
		return NULL;
	}
	json_t *bc = NULL;
	if (broadcast != NULL &&
	    (bc = json_loads(broadcast, JSON_DECODE_ANY, NULL)) == NULL) {
		json_decref(inputs);
		seterr(err, KILN_EINVAL, "the broadcast value is not JSON");
		return NULL;
	}
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		json_t *arg = NULL;
		if (tasks[i].arg != NULL &&
		    (arg = json_loads(tasks[i].arg, JSON_DECODE_ANY, NULL)) == NULL) {
			seterr(err, KILN_EINVAL, "the argument of map task %d is not JSON", i);
			goto fail;
		}
		json_t *params = json_pack("{s:{s:s,s:i,s:i},s:o?,s:O?}", "__stage",
			"fn", fn, "index", i, "count", n, "__arg", arg, "__broadcast", bc);
		json_t *in = json_array();
		const char *loc = NULL;
		for (int k = 0; k < tasks[i].ninputs; k++) {
			json_t *o = json_array_get(inputs, (size_t)tasks[i].inputs[k]);
			if (o == NULL) {
				json_decref(params);
				json_decref(in);
				seterr(err, KILN_EINVAL, "map task %d reads input %d; the "
				       "driver has %zu", i, tasks[i].inputs[k],
				       json_array_size(inputs));
				goto fail;
			}
			if (loc == NULL)
				loc = json_string_value(json_object_get(o, "sha"));
			json_array_append(in, o);
		}
		json_array_append_new(a, json_pack("{s:o,s:o,s:s?}", "params", params,
		                      "inputs", in, "locality", loc));
	}
	json_decref(bc);
	json_decref(inputs);
	return json_pack("{s:I,s:i,s:s,s:o,s:I}", "job", (json_int_t)job,
	                 "attempt", attempt, "plugin", pname, "tasks", a,
	                 "wait_ms", (json_int_t)STAGE_POLL_MS);
fail:
	json_decref(a);
	json_decref(bc);
	json_decref(inputs);
	return NULL;
}

/* host->stage() on this worker: submit to the master, wait, collect. */
static int
worker_stage(void *ud, kiln_task *t, const char *fn, const char *broadcast,
             const struct kiln_stage_task *tasks, int n, char ***results,
             char **err)
{
	struct wk *w = ud;
	json_t *body = stage_body(w, t, fn, broadcast, tasks, n, err);
	if (body == NULL)
		return KILN_EINVAL;
	client *c = idle_client_get(w, err);
	if (c == NULL) {
		json_decref(body);
		return KILN_EFAIL;
	}
	int rc = KILN_EFAIL, resubmits = 0;
	int64_t id = 0;
	char path[64];
	for (;;) {
		long status = 0;
		json_t *reply = NULL;
		char *cerr = NULL;
		int cancelled = task_host()->cancelled(t);
		if (cancelled && id != 0) {
			snprintf(path, sizeof path, "/api/v1/cluster/stages/%lld", (long long)id);
			client_request(c, "DELETE", path, NULL, 5000, &status, &reply, &cerr);
		}
		if (cancelled) {
			json_decref(reply);
			free(cerr);
			rc = KILN_ECANCELLED;
			seterr(err, rc, "cancelled");
			break;
		}
		if (id == 0) {
			rc = client_request(c, "POST", "/api/v1/cluster/stages", body,
			                    STAGE_POLL_MS + 30000, &status, &reply, &cerr);
		} else {
			snprintf(path, sizeof path, "/api/v1/cluster/stages/%lld?wait_ms=%d",
			         (long long)id, STAGE_POLL_MS);
			rc = client_request(c, "GET", path, NULL, STAGE_POLL_MS + 30000,
			                    &status, &reply, &cerr);
		}
		if (rc != 0) {
			/* The master is away: wait for it, then submit again. */
			free(cerr);
			json_decref(reply);
			id = 0;
			if (++resubmits > 600) {
				rc = seterr(err, KILN_EFAIL, "the master is unreachable");
				break;
			}
			usleep(100 * 1000);
			continue;
		}
		free(cerr);
		if (status == 404 && id != 0 && ++resubmits <= 600) {
			id = 0;          /* a restarted master forgot it: again */
			json_decref(reply);
			continue;
		}
		if (status != 200) {
			const char *e = json_string_value(json_object_get(reply, "error"));
			rc = seterr(err, KILN_EFAIL, "stage %s: %s", fn,
			            e ? e : "refused by the master");
			json_decref(reply);
			break;
		}
		id = json_integer_value(json_object_get(reply, "stage"));
		if (!json_is_true(json_object_get(reply, "done"))) {
			json_decref(reply);
			continue;
		}
		json_t *res = json_object_get(reply, "results");
		if (json_array_size(res) != (size_t)n) {
			rc = seterr(err, KILN_EFAIL, "stage %s: %zu results for %d tasks",
			            fn, json_array_size(res), n);
			json_decref(reply);
			break;
		}
		*results = xcalloc((size_t)n, sizeof **results);
		for (int i = 0; i < n; i++) {
			char *text = json_dumps(json_array_get(res, (size_t)i),
				JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
			(*results)[i] = text ? text : xstrdup("null");
		}
		json_decref(reply);
		rc = 0;
		break;
	}
	idle_client_put(w, c);
	json_decref(body);
	return rc;
}

/* Start the tasks of an exchange reply; act on its cancellations. */
static void
handle_reply(struct wk *w, json_t *reply)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(reply, "cancel"), i, o) {
		int64_t id = json_integer_value(json_object_get(o, "id"));
		int attempt = (int)json_integer_value(json_object_get(o, "attempt"));
		pthread_mutex_lock(&w->mu);
		/* The attempt too: a retry of the same task may run here
		 * already when the cancel of its old attempt arrives. */
		for (struct wtask *wt = w->running; wt != NULL; wt = wt->next)
			if (wt->id == id && wt->attempt == attempt)
				task_cancel(wt->t);
		pthread_mutex_unlock(&w->mu);
	}
	json_array_foreach(json_object_get(reply, "tasks"), i, o) {
		int64_t id = json_integer_value(json_object_get(o, "id"));
		int attempt = (int)json_integer_value(json_object_get(o, "attempt"));
		const char *name = json_string_value(json_object_get(o, "plugin"));
		int64_t timeout = json_integer_value(json_object_get(o, "timeout_ms"));
		char *params = json_dumps(json_object_get(o, "params"), JSON_COMPACT);
		char *err = NULL;
		plugin *p = name ? plugin_acquire(w->reg, name) : NULL;
		kiln_task *t = p ? task_new(id, attempt, params, w->scratch, 0, &err) : NULL;
		free(params);
		if (t == NULL) {
			char *msg = p ? xasprintf("bad task: %s", err) :
				xasprintf("plugin %s is not loaded on worker %s",
				          name ? name : "?", w->wc->name);
			/* Bad parameters are bad on every worker; a missing
			 * plugin may be loaded on another. */
			json_t *res = json_pack("{s:I,s:i,s:s,s:i,s:s,s:s,s:I}", "id",
				(json_int_t)id, "attempt", attempt, "state", "failed",
				"code", p ? KILN_EINVAL : KILN_EFAIL,
				"error", msg, "log", "", "finished_ms", (json_int_t)now_ms());
			pthread_mutex_lock(&w->mu);
			json_array_append_new(w->outbox, res);
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->mu);
			if (p)
				plugin_release(p);
			free(msg);
			free(err);
			continue;
		}
		struct wtask *wt = xcalloc(1, sizeof *wt);
		wt->id = id;
		wt->attempt = attempt;
		wt->t = t;
		wt->p = p;
		wt->w = w;
		wt->deadline = timeout > 0 ? mono_ms() + timeout : 0;
		wt->inputs = json_incref(json_object_get(o, "inputs"));
		pthread_mutex_lock(&w->mu);
		wt->next = w->running;
		w->running = wt;
		pthread_mutex_unlock(&w->mu);
		pool_submit(json_is_true(json_object_get(o, "stage")) ?
		            w->stage_pool : w->pool, task_main, wt);
	}
}

/* What this worker holds: running attempts and unacknowledged results.
 * Called with w->mu held. */
static json_t *
held_locked(struct wk *w, int with_outbox)
{
	json_t *a = json_array();
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next)
		json_array_append_new(a, json_pack("{s:I,s:i}", "id",
		                      (json_int_t)wt->id, "attempt", wt->attempt));
	if (with_outbox) {
		size_t i;
		json_t *o;
		json_array_foreach(w->outbox, i, o)
			json_array_append_new(a, json_pack("{s:O,s:O}", "id",
				json_object_get(o, "id"), "attempt",
				json_object_get(o, "attempt")));
	}
	return a;
}

/* ------------------------------------------------------------ protocol */

static int
plugin_entry(const struct kiln_plugin *d, const char *file, void *ud)
{
	json_t *params = json_array();
	for (const struct kiln_param *p = d->params; p != NULL && p->name != NULL; p++)
		json_array_append_new(params, json_pack("{s:s,s:s?,s:s?,s:s?}",
			"name", p->name, "type", p->type, "default", p->default_value,
			"help", p->help));
	json_array_append_new(ud, json_pack("{s:s,s:s,s:s?,s:o}", "name", d->name,
		"version", d->version, "description", d->description,
		"params", params));
	return 0;
}

static int
plugin_error_entry(const char *file, const char *error, void *ud)
{
	json_array_append_new(ud, json_pack("{s:s,s:s}", "file", file, "error", error));
	return 0;
}

static int
do_register(struct wk *w)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	json_t *plugins = json_array();
	plugin_list(w->reg, plugin_entry, plugins);
	pthread_mutex_lock(&w->mu);
	json_t *held = held_locked(w, 1);
	pthread_mutex_unlock(&w->mu);
	json_t *perrs = json_array();
	plugin_errors(w->reg, plugin_error_entry, perrs);
	json_t *body = json_pack("{s:s,s:s,s:i,s:I,s:o,s:o,s:o}", "name", w->wc->name,
		"host", host, "slots", w->wc->slots, "memory", (json_int_t)w->wc->memory,
		"plugins", plugins, "held", held, "plugin_errors", perrs);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;
	int rc = client_request(w->poll_c, "POST", "/api/v1/cluster/register", body,
	                        5000, &status, &reply, &err);
	json_decref(body);
	if (rc != 0 || status != 200) {
		const char *msg = json_string_value(json_object_get(reply, "error"));
		static int fails;
		if (fails++ % 100 == 0)   /* once, then every ~5 s */
			log_warn("cannot register with %s: %s", w->url,
			         rc != 0 ? err : msg ? msg : "unexpected reply");
		free(err);
		json_decref(reply);
		return -1;
	}
	const char *sess = json_string_value(json_object_get(reply, "session"));
	pthread_mutex_lock(&w->mu);
	snprintf(w->session, sizeof w->session, "%s", sess ? sess : "");
	w->need_register = 0;
	pthread_mutex_unlock(&w->mu);
	handle_reply(w, reply);
	json_decref(reply);
	log_info("registered with master at %s (session %s)", w->url, w->session);
	return 0;
}

/* One exchange on client C.  RESULTS (borrowed) may be empty.  Returns 0,
 * or -1 after arranging a new registration. */
static int
exchange(struct wk *w, client *c, json_t *results, int64_t wait_ms)
{
	pthread_mutex_lock(&w->mu);
	char session[32];
	memcpy(session, w->session, sizeof session);
	json_t *running = held_locked(w, 0);
	/* New log lines of running tasks, for the dashboard's live tail. */
	json_t *progress = json_array();
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next) {
		char *text = task_log_since(wt->t, &wt->log_pos);
		if (text != NULL)
			json_array_append_new(progress, json_pack("{s:I,s:i,s:s,s:f}",
				"id", (json_int_t)wt->id, "attempt", wt->attempt,
				"log", text, "progress", task_progress(wt->t)));
		free(text);
	}
	pthread_mutex_unlock(&w->mu);
	json_t *body = json_pack("{s:s,s:s,s:O,s:o,s:i,s:I,s:o}", "name", w->wc->name,
		"session", session, "results", results, "running", running,
		"want", w->wc->slots * WORKER_WANT_PER_SLOT, "wait_ms", (json_int_t)wait_ms,
		"progress", progress);
	long status = 0;
	json_t *reply = NULL;
	char *err = NULL;
	int rc = client_request(c, "POST", "/api/v1/cluster/exchange", body,
	                        wait_ms + 10000, &status, &reply, &err);
	json_decref(body);
	if (rc != 0 || status != 200) {
		if (rc != 0)
			log_warn("exchange with %s failed: %s", w->url, err);
		else if (status != 409)
			log_warn("exchange refused (HTTP %ld)", status);
		free(err);
		json_decref(reply);
		pthread_mutex_lock(&w->mu);
		w->need_register = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	pthread_mutex_lock(&w->mu);
	int same = strcmp(session, w->session) == 0;
	pthread_mutex_unlock(&w->mu);
	if (same)   /* tasks of an old registration were requeued by the new */
		handle_reply(w, reply);
	json_decref(reply);
	return 0;
}

static void *
reporter_main(void *arg)
{
	struct wk *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		if (json_array_size(w->outbox) == 0 || w->need_register) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			continue;
		}
		json_t *batch = json_copy(w->outbox);
		size_t n = json_array_size(batch);
		pthread_mutex_unlock(&w->mu);
		int rc = exchange(w, w->report_c, batch, 0);
		json_decref(batch);
		pthread_mutex_lock(&w->mu);
		if (rc == 0) {
			/* Only this thread removes from the outbox, and others
			 * only append: the first N are the ones just sent. */
			for (size_t i = 0; i < n; i++)
				json_array_remove(w->outbox, 0);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int
count_error(const char *file, const char *error, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static void *
watchdog_main(void *arg)
{
	struct wk *w = arg;
	int64_t next_scan = mono_ms() + 1000;
	int nerr = 0;
	plugin_errors(w->reg, count_error, &nerr);
	for (;;) {
		pthread_mutex_lock(&w->mu);
		int stop = w->stopping;
		int64_t now = mono_ms();
		int grow = 0;
		for (struct wtask *wt = w->running; wt != NULL; wt = wt->next) {
			if (wt->deadline && now >= wt->deadline && !wt->timed_out) {
				wt->timed_out = 1;
				task_cancel(wt->t);
			}
			/* A plugin that ignores cancellation: after a grace period
			 * the attempt is reported failed and another thread takes
			 * its slot; the stuck thread is left to finish. */
			if (wt->timed_out && !wt->abandoned &&
			    now >= wt->deadline + WORKER_ABANDON_MS) {
				wt->abandoned = 1;
				json_array_append_new(w->outbox, json_pack(
					"{s:I,s:i,s:s,s:i,s:s,s:s,s:I}", "id", (json_int_t)wt->id,
					"attempt", wt->attempt, "state", "failed",
					"code", KILN_EFAIL,
					"error", "timed out; the plugin ignored cancellation "
					"and was abandoned", "log", "",
					"finished_ms", (json_int_t)now_ms()));
				pthread_cond_broadcast(&w->cv);
				grow++;
				log_warn("task %lld attempt %d ignores cancellation: abandoned",
				         (long long)wt->id, wt->attempt);
			}
		}
		pthread_mutex_unlock(&w->mu);
		while (grow-- > 0)
			pool_grow(w->pool);
		if (stop)
			break;
		if (now >= next_scan) {
			next_scan = now + 1000;
			int changed = plugin_registry_scan(w->reg);
			int n = 0;
			plugin_errors(w->reg, count_error, &n);
			if (n != nerr)
				changed++;   /* the master shows load errors too */
			nerr = n;
			if (changed > 0) {
				log_info("plugins changed; registering again");
				pthread_mutex_lock(&w->mu);
				w->need_register = 1;
				pthread_mutex_unlock(&w->mu);
			}
		}
		usleep(50 * 1000);
	}
	return NULL;
}

int
worker_run(const struct kiln_config *c, const struct kiln_worker_conf *wc,
           char **err)
{
	struct wk w = { .cfg = c, .wc = wc };
	int rc;
	log_init(wc->name, LOG_INFO);
	if (auth_init() != 0)
		return seterr(err, -EIO, "libsodium failed to initialise");
	/* The master makes the secret on first start; a worker started at
	 * the same moment waits for it a little. */
	for (int i = 0; (rc = config_secret(c, 0, &w.secret, err)) != 0 && i < 50 &&
	     !worker_stop; i++) {
		free(*err);
		*err = NULL;
		usleep(100 * 1000);
	}
	if (rc != 0)
		return rc;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.outbox = json_array();
	const char *env = getenv("KILN_MASTER");
	w.url = env ? xstrdup(env) : xasprintf("http://%s:%d", c->master.host, c->master.port);
	w.scratch = xasprintf("%s/scratch", wc->data_dir);
	char *cache = xasprintf("%s/plugin-cache", wc->data_dir);
	rc = plugin_registry_open(wc->plugin_dir, cache, task_host(), &w.reg, err);
	free(cache);
	if (rc != 0)
		goto out;
	if ((rc = client_new(w.url, wc->name, w.secret, NULL, &w.poll_c, err)) != 0 ||
	    (rc = client_new(w.url, wc->name, w.secret, NULL, &w.report_c, err)) != 0)
		goto out;
	if (mkdir(wc->data_dir, 0700) != 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", wc->data_dir, strerror(errno));
	char *cdir = xasprintf("%s/cache", wc->data_dir);
	rc = diskcache_open(cdir, (uint64_t)wc->cache_size, &w.cache, err);
	free(cdir);
	if (rc != 0)
		goto out;
	if (pool_new(wc->slots, &w.pool) != 0 ||
	    pool_new(wc->slots, &w.stage_pool) != 0) {
		rc = seterr(err, -EAGAIN, "cannot start %d threads", 2 * wc->slots);
		goto out;
	}
	task_set_stage_runner(worker_stage, &w);
	/* Keep up to a quarter of the memory it offers in mapped inputs. */
	datacache_set_budget((size_t)(wc->memory / 4));
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_t reporter, watchdog;
	pthread_create(&reporter, NULL, reporter_main, &w);
	pthread_create(&watchdog, NULL, watchdog_main, &w);
	log_info("worker %s: %d slots, %lld MiB, plugins from %s, master %s",
	         wc->name, wc->slots, (long long)(wc->memory >> 20), wc->plugin_dir, w.url);

	w.need_register = 1;
	int64_t hb = c->master.heartbeat_ms;
	while (!worker_stop) {
		pthread_mutex_lock(&w.mu);
		int reg = w.need_register;
		pthread_mutex_unlock(&w.mu);
		if (reg) {
			if (do_register(&w) != 0)
				usleep(50 * 1000);
			continue;
		}
		json_t *none = json_array();
		if (exchange(&w, w.poll_c, none, hb) != 0)
			usleep(100 * 1000);
		json_decref(none);
	}

	/* Stop: cancel what runs (it will run again elsewhere), deliver the
	 * results already made, and leave so the master requeues at once. */
	log_info("stopping");
	pthread_mutex_lock(&w.mu);
	for (struct wtask *wt = w.running; wt != NULL; wt = wt->next) {
		wt->shutdown = 1;
		task_cancel(wt->t);
	}
	pthread_mutex_unlock(&w.mu);
	pool_free(w.pool);
	w.pool = NULL;
	pool_free(w.stage_pool);
	w.stage_pool = NULL;
	for (int i = 0; i < 20; i++) {
		pthread_mutex_lock(&w.mu);
		size_t left = json_array_size(w.outbox);
		int reg = w.need_register;
		pthread_mutex_unlock(&w.mu);
		if (left == 0 || reg)
			break;
		usleep(50 * 1000);
	}
	pthread_mutex_lock(&w.mu);
	w.stopping = 1;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
	pthread_join(reporter, NULL);
	pthread_join(watchdog, NULL);
	json_t *body = json_pack("{s:s}", "session", w.session);
	long status;
	json_t *reply = NULL;
	char *e2 = NULL;
	client_request(w.poll_c, "POST", "/api/v1/cluster/leave", body, 2000,
	               &status, &reply, &e2);
	json_decref(body);
	json_decref(reply);
	free(e2);
	rc = 0;
out:
	pool_free(w.pool);
	pool_free(w.stage_pool);
	task_set_stage_runner(NULL, NULL);
	datacache_flush();
	for (int i = 0; i < w.nidle_c; i++)
		client_free(w.idle_c[i]);
	client_free(w.poll_c);
	client_free(w.report_c);
	diskcache_close(w.cache);
	plugin_registry_close(w.reg);
	json_decref(w.outbox);
	free(w.url);
	free(w.secret);
	free(w.scratch);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}
