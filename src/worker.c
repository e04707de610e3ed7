/* SPDX-License-Identifier: MIT */
/*
 * worker.c - a worker node (see worker.h).
 *
 * Threads:
 *  - the poller (the calling thread) registers, then long-polls the master
 *    for tasks with an exchange that also serves as the heartbeat;
 *  - the reporter sends finished results as soon as there are any, in
 *    batches, and takes new tasks in the same round trip;
 *  - the watchdog enforces task timeouts and rescans the plugin directory
 *    (a changed set of plugins is announced by registering again; SIGHUP
 *    makes it rescan at once) and keeps a service manager's watchdog fed;
 *  - `slots` pool threads run plugins.
 * A result stays in the outbox until the master acknowledges it, so a
 * master that restarts meanwhile still gets it.  After any failed exchange
 * the worker registers again with everything it holds, and the master
 * settles what was lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"
#include "client.h"
#include "clock.h"
#include "datacache.h"
#include "dataroot.h"
#include "diskcache.h"
#include "err.h"
#include "executor.h"
#include "fs.h"
#include "hash.h"
#include "jobstate.h"
#include "log.h"
#include "notify.h"
#include "plugin.h"
#include "pool.h"
#include "proto.h"
#include "stage.h"
#include "task.h"
#include "worker.h"
#include "xalloc.h"

#define WORKER_ABANDON_MS 3000   /* grace after a timeout's cancel */
#define PUT_TRIES 5              /* an output upload answered 503 */
/* Registration retries: 40 x 5 ms (the master's start), then 50 ms. */
#define WORKER_REG_FAST_TRIES 40
#define WORKER_REG_FAST_US 5000
#define WORKER_REG_SLOW_US 50000

struct wtask {
	int64_t id;
	int attempt;
	char name[JOB_NAME_MAX]; /* "job ID" or "stage S task I", for logs */
	kiln_task *t;
	plugin *p;
	int64_t deadline;       /* mono_ms, 0 = none */
	int64_t timeout_ms;
	int64_t memory_limit;   /* bytes; for tasks in executors */
	char *plugin;           /* its name, and its parameters (JSON) */
	char *params;
	int timed_out;
	int abandoned;          /* reported failed; its thread is left behind */
	int in_process;         /* on this thread although executors run
	                         * (workers[].in_process_plugins) */
	int shutdown;           /* cancelled because the worker stops */
	struct proto_file *inputs; /* from upstream tasks (one allocation) */
	size_t ninputs;
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
	dataroot *roots;        /* what tasks may open by path */
	plugin_registry *reg;
	executors *ex;          /* where tasks run; NULL: in the worker */
	pool *pool;
	pool *stage_pool;       /* map tasks of stages: a room of their own */
	client *idle_c[8];      /* idle clients for the pool threads'
	                         * artifact and stage calls */
	int nidle_c;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wtask *running;
	struct proto_result **outbox; /* results not yet acknowledged */
	size_t noutbox, outbox_cap;
	char session[32];
	int need_register;
	int stopping;
	int64_t listed_ms;      /* clock_mono_ms the running tasks and their
	                         * new log lines were last sent */
	int64_t hb_ms;          /* heartbeat interval, as the master last
	                         * said (it grows with the cluster) */
};

/* Tasks per slot a worker asks for at most: what the master may let it
 * hold of short tasks (sched_opts.prefetch); the master decides how many
 * it gets. */
#define WORKER_WANT_PER_SLOT 256

static volatile sig_atomic_t worker_stop, worker_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		worker_hup = 1;
	else
		worker_stop = 1;
}

/* ----------------------------------------------------------- artifacts */

/* A new client for the master: signed with the secret, and over https
 * trusting the cluster CA, or master.tls.ca_file, or the system's store
 * for a certificate of the master's own. */
static int
worker_client(struct wk *w, client **out, char **err)
{
	const struct kiln_config *c = w->cfg;
	int rc = client_new(w->url, w->wc->name, w->secret, NULL, out, err);

	if (rc == 0)
		client_set_ca(*out, c->master.tls_ca_file,
		              c->master.tls_cert_file == NULL ? w->secret : NULL);
	return rc;
}

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
	if (c == NULL && worker_client(w, &c, err) != 0)
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
	hash_stream *hash;
	uint64_t got;
};

static int
fetch_sink(void *ud, const void *data, size_t len)
{
	struct fetch *fx = ud;
	hash_stream_add(fx->hash, data, len);
	fx->got += len;
	return fwrite(data, 1, len, fx->f) == len ? 0 : -errno;
}

/* The name task WT gives its input SHA, for messages. */
static const char *
input_name_of(const struct wtask *wt, const char *sha)
{
	for (size_t i = 0; i < wt->ninputs; i++)
		if (strcmp(wt->inputs[i].sha, sha) == 0)
			return wt->inputs[i].name;
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
	int64_t t0 = clock_mono_ms();
	client *c = idle_client_get(w, err);
	if (c == NULL)
		return NULL;
	char *tmp;
	struct fetch fx = { .f = diskcache_begin(w->cache, sha, &tmp, err) };
	if (fx.f == NULL) {
		idle_client_put(w, c);
		return NULL;
	}
	fx.hash = hash_stream_new();
	char *url = xasprintf("/api/v1/artifacts/%s", sha);
	long status = 0;
	char *body = NULL;
	size_t blen;
	int rc = client_get_stream(c, url, 60000, size, fetch_sink, &fx, &status,
	                           &body, &blen, err);
	free(url);
	free(body);
	idle_client_put(w, c);
	char *got = hash_stream_hex(fx.hash);
	int ok = rc == 0 && status == 200;
	if (rc == -EACCES && fx.got == size && strcmp(got, sha) != 0 &&
	    err != NULL) {
		/* The master signs an artifact over its name (its hash):
		 * bytes that hash to something else fail that check too, and
		 * what is wrong is the bytes. */
		free(*err);
		*err = NULL;
		rc = err_set(err, -EIO, "cannot fetch input %s: wrong hash", sha);
	}
	if (fclose(fx.f) != 0 && ok) {
		rc = err_set(err, -EIO, "cannot write %s", tmp);
		ok = 0;
	}
	if (rc == 0 && !ok)
		err_set(err, -EIO, "cannot fetch input %s (HTTP %ld)", sha, status);
	else if (ok && (fx.got != size || strcmp(got, sha) != 0)) {
		err_set(err, -EIO, "cannot fetch input %s: %s", sha,
		       fx.got != size ? "wrong size" : "wrong hash");
		ok = 0;
	}
	if (ok && (path = diskcache_commit(w->cache, sha, tmp, size, err)) != NULL)
		log_info("%s: fetched input %s (%" PRIu64 " bytes, "
		         "%" PRId64 " ms)", wt->name, input_name_of(wt, sha), size,
		         clock_mono_ms() - t0);
	else if (!ok)
		unlink(tmp);
	free(got);
	free(tmp);
	return path;
}

/* PUT output NAME (SHA, LEN bytes) to the master: from the file at PATH
 * (this worker's cached copy) through the client's fixed buffer if PATH
 * is not NULL and opens, else from the LEN bytes at DATA.  0, or
 * negative with *err. */
static int
put_output(client *c, const char *name, const char *sha, const char *path,
           const void *data, size_t len, char **err)
{
	char *url = xasprintf("/api/v1/artifacts/%s", sha);
	int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	long status = 0;
	int rc = 0;
	/* 503: the master's disk is full or failing for now, or it has
	 * master.max_uploads under way; a few tries over 1.5 s ride out a
	 * passing fault without failing the attempt. */
	for (int try = 0; try < PUT_TRIES && rc == 0 &&
	     (try == 0 || status == 503); try++) {
		char *reply = NULL;
		size_t rlen;
		if (try > 0)
			usleep((useconds_t)(100000 << (try - 1)));
		if (fd >= 0)
			rc = client_send_file(c, "PUT", url, fd, len, sha, 60000,
			                      &status, &reply, &rlen, err);
		else
			rc = client_send_bytes(c, "PUT", url, data, len, 60000,
			                       &status, &reply, &rlen, err);
		if (rc == 0 && status != 201 && status != 503) {
			/* Its reason, from the master (a JSON error). */
			json_t *j = json_loadb(reply, rlen, 0, NULL);
			const char *why = json_string_value(json_object_get(j,
			                                    "error"));
			rc = err_set(err, -EIO, "cannot store output %s (HTTP "
			            "%ld%s%s)", name, status, why ? ": " : "",
			            why ? why : "");
			json_decref(j);
		}
		free(reply);
	}
	if (fd >= 0)
		close(fd);
	free(url);
	if (rc == 0 && status != 201)
		rc = err_set(err, -EIO, "cannot store output %s (HTTP %ld)",
		            name, status);
	return rc;
}

/* Upload the task's outputs: the list (*n of them; one allocation, the
 * caller frees it), or NULL with *err.  Each is kept in this worker's
 * cache first, and sent from there: the master counts this worker as
 * holding it (a hint: if the copy failed, the task that reads it fetches
 * it), so that it places the map tasks reading it here; and an upload
 * reads the file a piece at a time (client_send_file) rather than handing
 * the whole output to the socket at once. */
static struct proto_file *
put_outputs(struct wk *w, kiln_task *t, size_t *n, char **err)
{
	client *c = idle_client_get(w, err);
	if (c == NULL)
		return NULL;
	size_t count = (size_t)task_output_count(t);
	struct proto_file *f = xcalloc(count + 1, sizeof *f);
	char **shas = xcalloc(count + 1, sizeof *shas);
	size_t i = 0;
	for (; i < count; i++) {
		const void *data;
		size_t len;
		const char *name = task_output(t, (int)i, &data, &len);
		if (task_output_adopted(t, (int)i) != NULL) {
			/* A map task's, stored already (ABI 1.7). */
			shas[i] = xstrdup(task_output_adopted(t, (int)i));
			f[i] = (struct proto_file){ name, shas[i], (int64_t)len };
			continue;
		}
		char *sha = shas[i] = hash_hex(data, len);
		char *cerr = NULL;
		const char *file = task_output_file(t, (int)i);
		char *path;
		if (file != NULL) {
			/* Written to a file of the cache already: renamed. */
			path = diskcache_commit(w->cache, sha, file, len, &cerr);
			task_output_disown_file(t, (int)i);
		} else {
			path = diskcache_put(w->cache, sha, data, len, &cerr);
		}
		if (path == NULL) {
			log_warn("%s (output %s is not kept here)", cerr, name);
			free(cerr);
		}
		int rc = put_output(c, name, sha, path, data, len, err);
		free(path);
		if (rc != 0)
			break;
		f[i] = (struct proto_file){ name, sha, (int64_t)len };
	}
	idle_client_put(w, c);
	struct proto_file *out = i == count ? proto_files_dup(f, count) : NULL;
	/* None on failure: a count beside NULL would be read as a list. */
	*n = out != NULL ? count : 0;
	for (size_t k = 0; k < count; k++)
		free(shas[k]);
	free(shas);
	free(f);
	return out;
}

/* ------------------------------------------------------------- outbox */

/* Queue result R (copied) for the reporter.  Lock held. */
static void
outbox_push_locked(struct wk *w, const struct proto_result *r)
{
	if (w->noutbox == w->outbox_cap) {
		w->outbox_cap = w->outbox_cap ? 2 * w->outbox_cap : 64;
		w->outbox = xrealloc(w->outbox, w->outbox_cap * sizeof *w->outbox);
	}
	w->outbox[w->noutbox++] = proto_result_dup(r);
	pthread_cond_broadcast(&w->cv);
}

static void
outbox_push(struct wk *w, const struct proto_result *r)
{
	pthread_mutex_lock(&w->mu);
	outbox_push_locked(w, r);
	pthread_mutex_unlock(&w->mu);
}

/* A failure the worker reports itself (no plugin ran, or it hangs). */
static void
outbox_fail(struct wk *w, int64_t id, int attempt, int code, const char *msg,
            int locked)
{
	struct proto_result r = { .id = id, .attempt = attempt,
		.state = JOB_FAILED, .code = code, .error = msg, .log = "",
		.finished_ms = clock_now_ms(), .duration_ms = -1 };
	if (locked)
		outbox_push_locked(w, &r);
	else
		outbox_push(w, &r);
}

/* ------------------------------------------------------------- running */

/* Give task WT its inputs, fetched when its plugin first reads one. */
static void
task_inputs(struct wtask *wt)
{
	for (size_t i = 0; i < wt->ninputs; i++)
		task_add_input_lazy(wt->t, wt->inputs[i].name, wt->inputs[i].sha,
		                    (uint64_t)wt->inputs[i].size, fetch_input, wt);
}

/* Take WT off the running list and queue its result R.  Lock not held. */
static void
task_done(struct wtask *wt, const struct proto_result *r)
{
	struct wk *w = wt->w;
	pthread_mutex_lock(&w->mu);
	struct wtask **pp = &w->running;
	while (*pp != NULL && *pp != wt)
		pp = &(*pp)->next;
	if (*pp == wt)
		*pp = wt->next;
	/* A task stopped by shutdown is not a result: the master requeues it
	 * when this worker leaves.  An abandoned one was reported already. */
	if (!wt->shutdown && !wt->abandoned)
		outbox_push_locked(w, r);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Run WT's plugin: in an executor process, or on this thread in the
 * in-process mode.  The job state, with *CODE; *KILLED when the executor
 * was stopped or crashed. */
static int
task_execute(struct wtask *wt, int *code, char **killed)
{
	struct wk *w = wt->w;
	if (wt->in_process) {
		int state = task_run(wt->t, wt->p);
		*code = task_code(wt->t);
		return state;
	}
	struct executor_task et = { .t = wt->t, .plugin = wt->plugin,
		.params = wt->params, .job_id = wt->id, .attempt = wt->attempt,
		.name = wt->name,
		.timeout_ms = wt->timeout_ms, .memory_limit = wt->memory_limit,
		.output_limit = w->wc->max_output_size };
	return executors_run(w->ex, &et, code, killed);
}

static void
task_main(void *arg)
{
	struct wtask *wt = arg;
	struct wk *w = wt->w;
	int64_t started = clock_now_ms();
	char *ferr = NULL;
	task_inputs(wt);
	/* CODE tells the master why an attempt failed: the plugin's own
	 * KILN_E*, or the worker's when the fault is around the plugin.  A
	 * map task that failed with KILN_EINVAL is not retried (its input is
	 * bad wherever it runs), so only the plugin may claim that code. */
	int code;
	char *killed = NULL;    /* why its executor was stopped */
	int state = task_execute(wt, &code, &killed);
	const char *error = killed != NULL ? killed : task_error(wt->t);
	struct proto_file *outputs = NULL;
	size_t noutputs = 0;
	if (state == JOB_SUCCEEDED && task_output_conflict(wt->t) != NULL) {
		/* Two outputs of one name, one adopted from a map task. */
		state = JOB_FAILED;
		code = KILN_EINVAL;
		error = task_output_conflict(wt->t);
	}
	if (state == JOB_SUCCEEDED && task_output_count(wt->t) > 0) {
		outputs = put_outputs(w, wt->t, &noutputs, &ferr);
		if (outputs == NULL) {
			state = JOB_FAILED;
			code = KILN_EIO;
			error = ferr;
		}
	}
	char *timeout_msg = NULL;
	if (wt->timed_out && killed == NULL) {
		state = JOB_FAILED;
		code = KILN_EFAIL;   /* slow here is no proof of bad input */
		timeout_msg = xasprintf("timed out after %lld ms",
		                        (long long)(clock_now_ms() - started));
		error = timeout_msg;
	}
	if (state == JOB_FAILED && code == KILN_OK)
		code = KILN_EFAIL;   /* a failure always names a code */
	struct proto_result r = { .id = wt->id, .attempt = wt->attempt,
		.state = state, .code = code, .result = task_result(wt->t),
		.error = error, .log = task_log(wt->t), .finished_ms = clock_now_ms(),
		.duration_ms = clock_now_ms() - started, .outputs = outputs,
		.noutputs = noutputs };
	task_done(wt, &r);
	free(outputs);
	free(timeout_msg);
	free(killed);
	free(ferr);
	plugin_release(wt->p);
	task_free(wt->t);
	free(wt->inputs);
	free(wt->plugin);
	free(wt->params);
	free(wt);
}

/* host->stage() of task WT: its map tasks run on the cluster (stage.c). */
static int
worker_stage(void *ud, kiln_task *t, const char *fn, const char *broadcast,
             const struct kiln_stage_task *tasks, int n, char ***results,
             char **err)
{
	struct wtask *wt = ud;
	struct stage_driver d = { .task = t, .job = wt->id,
		.attempt = wt->attempt, .plugin = plugin_desc(wt->p)->name,
		.inputs = wt->inputs, .ninputs = wt->ninputs,
		.adopt = plugin_desc(wt->p)->abi_minor >= 7 };
	client *c = idle_client_get(wt->w, err);
	if (c == NULL)
		return KILN_EFAIL;
	int rc = stage_run(c, &d, fn, broadcast, tasks, n, results, err);
	idle_client_put(wt->w, c);
	return rc;
}

/* Act on the master's cancellations. */
static void
worker_cancels(struct wk *w, const struct proto_attempt *c, size_t n)
{
	pthread_mutex_lock(&w->mu);
	/* The attempt too: a retry of the same task may run here already
	 * when the cancel of its old attempt arrives. */
	for (size_t i = 0; i < n; i++)
		for (struct wtask *wt = w->running; wt != NULL; wt = wt->next)
			if (wt->id == c[i].id && wt->attempt == c[i].attempt)
				task_cancel(wt->t);
	pthread_mutex_unlock(&w->mu);
}

/* Does WC run the tasks of plugin NAME on its own threads? */
static int
worker_in_process(const struct kiln_worker_conf *wc, const char *name)
{
	for (size_t i = 0; i < wc->in_process_plugins.n; i++)
		if (strcmp(wc->in_process_plugins.v[i], name) == 0)
			return 1;
	return 0;
}

/* Start task T of an exchange reply on a pool thread. */
static void
worker_start(struct wk *w, const struct proto_task *pt)
{
	char *params = pt->params_text ? xstrdup(pt->params_text) :
	               pt->params ? json_dumps(pt->params, JSON_COMPACT) : NULL;
	char *err = NULL;
	const struct kiln_worker_conf *wc = w->wc;
	plugin *p = plugin_acquire(w->reg, pt->plugin);
	kiln_task *t = p ? task_new(pt->id, pt->attempt, params, w->scratch, 0,
	                            &err) : NULL;
	if (t == NULL) {
		free(params);
		char *msg = p ? xasprintf("bad task: %s", err) :
			xasprintf("plugin %s is not loaded on worker %s",
			          pt->plugin, w->wc->name);
		/* Bad parameters are bad on every worker; a missing plugin
		 * may be loaded on another. */
		outbox_fail(w, pt->id, pt->attempt, p ? KILN_EINVAL : KILN_EFAIL,
		            msg, 0);
		if (p)
			plugin_release(p);
		free(msg);
		free(err);
		return;
	}
	struct wtask *wt = xcalloc(1, sizeof *wt);
	wt->id = pt->id;
	wt->attempt = pt->attempt;
	job_name(wt->name, pt->id, pt->stage ? pt->stage_id : 0, pt->index);
	task_set_name(t, wt->name);
	wt->t = t;
	wt->p = p;
	wt->w = w;
	wt->deadline = pt->timeout_ms > 0 ? clock_mono_ms() + pt->timeout_ms : 0;
	wt->timeout_ms = pt->timeout_ms;
	/* The job's memory, or the worker's share per slot. */
	wt->memory_limit = pt->memory > 0 ? pt->memory : wc->memory / wc->slots;
	wt->plugin = xstrdup(pt->plugin);
	wt->in_process = w->ex == NULL || worker_in_process(wc, pt->plugin);
	wt->params = params;
	wt->inputs = proto_files_dup(pt->inputs, pt->ninputs);
	wt->ninputs = pt->ninputs;
	task_set_stages(t, worker_stage, wt);
	task_set_dataroot(t, w->roots);
	task_set_output_dir(t, diskcache_dir(w->cache));
	task_set_output_limit(t, w->wc->max_output_size);
	pthread_mutex_lock(&w->mu);
	wt->next = w->running;
	w->running = wt;
	pthread_mutex_unlock(&w->mu);
	pool_submit(pt->stage ? w->stage_pool : w->pool, task_main, wt);
}

/* What this worker holds: running attempts and, WITH_OUTBOX, results not
 * yet acknowledged (malloc()ed, *n of them).  Lock held. */
static struct proto_attempt *
held_locked(struct wk *w, int with_outbox, size_t *n)
{
	size_t cap = with_outbox ? w->noutbox : 0;
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next)
		cap++;
	struct proto_attempt *a = xcalloc(cap + 1, sizeof *a);
	*n = 0;
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next)
		a[(*n)++] = (struct proto_attempt){ wt->id, wt->attempt };
	for (size_t i = 0; with_outbox && i < w->noutbox; i++)
		a[(*n)++] = (struct proto_attempt){ w->outbox[i]->id,
		                                    w->outbox[i]->attempt };
	return a;
}

/* ------------------------------------------------------------ protocol */

static int
plugin_entry(const struct kiln_plugin *d, const char *file, void *ud)
{
	json_t *decl = plugin_params_decl_json(d);
	json_array_append_new(ud, proto_plugin_json(d, decl));
	json_decref(decl);
	return 0;
}

static int
plugin_error_entry(const char *file, const char *error, void *ud)
{
	json_array_append_new(ud, json_pack("{s:s,s:s}", "file", file, "error", error));
	return 0;
}

/* The end of a call that returned RC, STATUS, *REPLY and ERR (freed):
 * 0 (with *REPLY), or -1 after saying why (WHAT names the call) when
 * LOUD. */
static int
call_done(struct wk *w, int rc, long status, json_t **reply, char *err,
          const char *what, int loud)
{
	if (rc == 0 && status == 200) {
		free(err);
		return 0;
	}
	const char *msg = json_string_value(json_object_get(*reply, "error"));
	if (loud && rc != 0)
		log_warn("%s with %s failed: %s", what, w->url, err);
	else if (loud && status != 409)   /* 409: register again, said */
		log_warn("%s refused by %s (HTTP %ld): %s", what, w->url, status,
		         msg ? msg : "unexpected reply");
	free(err);
	json_decref(*reply);
	*reply = NULL;
	return -1;
}

/* POST PATH with BODY (taken) on client C; 0 with *reply, or -1 after
 * saying why (WHAT names the call) when LOUD. */
static int
worker_call(struct wk *w, client *c, const char *path, json_t *body,
            long timeout_ms, json_t **reply, const char *what, int loud)
{
	long status = 0;
	char *err = NULL;
	*reply = NULL;
	int rc = client_request(c, "POST", path, body, timeout_ms, &status,
	                        reply, &err);
	json_decref(body);
	return call_done(w, rc, status, reply, err, what, loud);
}

/* As worker_call, with LEN bytes of JSON text at BODY (taken) as the
 * body, and the reply's text in *TEXT (malloc()ed) and *TLEN: an
 * exchange, written and read without a jansson tree (proto.h). */
static int
worker_call_text(struct wk *w, client *c, const char *path, char *body,
                 size_t len, long timeout_ms, char **text, size_t *tlen,
                 const char *what)
{
	long status = 0;
	char *err = NULL;
	json_t *reply = NULL;
	int rc = client_send_bytes(c, "POST", path, body, len, timeout_ms,
	                           &status, text, tlen, &err);
	free(body);
	if (rc == 0 && status == 200) {
		free(err);
		return 0;
	}
	/* Only a refusal is read as a tree, for its message. */
	if (rc == 0 && *tlen > 0)
		reply = json_loadb(*text, *tlen, JSON_DECODE_ANY, NULL);
	free(*text);
	*text = NULL;
	return call_done(w, rc, status, &reply, err, what, 1);
}

static int
do_register(struct wk *w)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	struct proto_register m = { .name = w->wc->name, .host = host,
		.slots = w->wc->slots, .memory = w->wc->memory,
		.plugins = json_array(), .plugin_errors = json_array() };
	plugin_list(w->reg, plugin_entry, m.plugins);
	plugin_errors(w->reg, plugin_error_entry, m.plugin_errors);
	pthread_mutex_lock(&w->mu);
	m.held = held_locked(w, 1, &m.nheld);
	pthread_mutex_unlock(&w->mu);
	json_t *body = proto_register_encode(&m);
	json_decref(m.plugins);
	json_decref(m.plugin_errors);
	free(m.held);
	static int fails;
	json_t *reply;
	/* Said once, then every ~5 s. */
	if (worker_call(w, w->poll_c, PROTO_PATH_REGISTER, body, 5000, &reply,
	                "registration", fails++ % 100 == 0) != 0)
		return -1;
	struct proto_register_reply rep;
	char *err = NULL;
	int rc = proto_register_reply_decode(reply, &rep, &err);
	json_decref(reply);
	if (rc != 0) {
		log_warn("registration with %s: bad reply: %s", w->url, err);
		free(err);
		return -1;
	}
	fails = 0;
	pthread_mutex_lock(&w->mu);
	snprintf(w->session, sizeof w->session, "%s", rep.session);
	if (rep.heartbeat_ms > 0)
		w->hb_ms = rep.heartbeat_ms;
	w->need_register = 0;
	pthread_mutex_unlock(&w->mu);
	worker_cancels(w, rep.cancel, rep.ncancel);
	proto_release(&rep.own);
	log_info("registered with master at %s (session %s)", w->url, w->session);
	/* What the start-up (plugin scan, config) freed, back to the
	 * system: an idle worker keeps only what it uses. */
	malloc_trim(0);
	char *status = xasprintf("registered with %s", w->url);
	notify_ready(status);     /* again after a re-registration: harmless */
	free(status);
	return 0;
}

/*
 * The body of an exchange delivering RESULTS (borrowed); *session set.
 * What runs here, and the new log lines of each, go at most twice per
 * heartbeat: a worker running thousands of tasks reports results many
 * times a second, and listing every running task each time made each
 * result cost the master (and this worker) as much as all that runs.
 * The master needs the list only to cancel attempts no longer this
 * worker's, which can wait half a heartbeat.
 */
static char *
exchange_body(struct wk *w, const struct proto_result *results, size_t n,
              int64_t wait_ms, char session[32], size_t *len)
{
	struct proto_exchange m = { .name = w->wc->name, .session = session,
		.results = (struct proto_result *)results, .nresults = n,
		.want = w->wc->slots * WORKER_WANT_PER_SLOT, .wait_ms = wait_ms,
		.cache_bytes = -1, .cache_files = -1, .cache_budget = -1 };
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&w->mu);
	memcpy(session, w->session, 32);
	int list = now - w->listed_ms >= w->hb_ms / 2;
	if (list) {
		size_t files = 0;
		w->listed_ms = now;
		m.running = held_locked(w, 0, &m.nrunning);
		/* For the dashboard's worker page, at the same pace. */
		m.cache_bytes = (int64_t)diskcache_bytes(w->cache, &files);
		m.cache_files = (int64_t)files;
		m.cache_budget = w->wc->cache_size;
	}
	/* New log lines of running tasks, for the dashboard's live tail. */
	size_t cap = m.nrunning;
	m.progress = xcalloc(cap + 1, sizeof *m.progress);
	char **texts = xcalloc(cap + 1, sizeof *texts);
	for (struct wtask *wt = list ? w->running : NULL; wt != NULL; wt = wt->next) {
		char *text = task_log_since(wt->t, &wt->log_pos);
		if (text != NULL) {
			texts[m.nprogress] = text;
			m.progress[m.nprogress++] = (struct proto_progress){ wt->id,
				wt->attempt, text, task_progress(wt->t) };
		}
	}
	pthread_mutex_unlock(&w->mu);
	char *body = proto_exchange_text(&m, len);
	for (size_t i = 0; i < m.nprogress; i++)
		free(texts[i]);
	free(texts);
	free(m.progress);
	free(m.running);
	return body;
}

/* One exchange on client C delivering RESULTS (borrowed; N may be 0).
 * Returns 0, or -1 after arranging a new registration. */
static int
exchange(struct wk *w, client *c, const struct proto_result *results,
         size_t n, int64_t wait_ms)
{
	char session[32];
	size_t len;
	char *body = exchange_body(w, results, n, wait_ms, session, &len);
	char *reply;
	size_t rlen;
	struct proto_exchange_reply rep;
	char *err = NULL;
	int rc = worker_call_text(w, c, PROTO_PATH_EXCHANGE, body, len,
	                          wait_ms + 10000, &reply, &rlen, "exchange");
	if (rc == 0 &&
	    (rc = proto_exchange_reply_parse(reply, rlen, &rep, &err)) != 0) {
		log_warn("exchange with %s: bad reply: %s", w->url, err);
		free(err);
	}
	free(reply);
	if (rc != 0) {
		pthread_mutex_lock(&w->mu);
		w->need_register = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	pthread_mutex_lock(&w->mu);
	int same = strcmp(session, w->session) == 0;
	if (rep.heartbeat_ms > 0)
		w->hb_ms = rep.heartbeat_ms;
	pthread_mutex_unlock(&w->mu);
	if (same) {   /* tasks of an old registration were requeued by the new */
		worker_cancels(w, rep.cancel, rep.ncancel);
		for (size_t i = 0; i < rep.ntasks; i++)
			worker_start(w, &rep.tasks[i]);
	}
	proto_release(&rep.own);
	return 0;
}

static void *
reporter_main(void *arg)
{
	struct wk *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		if (w->noutbox == 0 || w->need_register) {
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
		/* Only this thread removes from the outbox, and others only
		 * append: the first N stay put while they are sent. */
		size_t n = w->noutbox;
		struct proto_result *batch = xcalloc(n, sizeof *batch);
		for (size_t i = 0; i < n; i++)
			batch[i] = *w->outbox[i];
		pthread_mutex_unlock(&w->mu);
		int rc = exchange(w, w->report_c, batch, n, 0);
		free(batch);
		pthread_mutex_lock(&w->mu);
		if (rc == 0) {
			for (size_t i = 0; i < n; i++)
				proto_result_free(w->outbox[i]);
			w->noutbox -= n;
			memmove(w->outbox, w->outbox + n, w->noutbox * sizeof *w->outbox);
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

/* Enforce timeouts; returns how many stuck tasks were abandoned. */
static int
watchdog_timeouts(struct wk *w)
{
	int grow = 0;
	pthread_mutex_lock(&w->mu);
	int64_t now = clock_mono_ms();
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next) {
		if (wt->deadline && now >= wt->deadline && !wt->timed_out) {
			wt->timed_out = 1;
			task_cancel(wt->t);
		}
		/* A plugin that ignores cancellation: after a grace period the
		 * attempt is reported failed and another thread takes its
		 * slot; the stuck thread is left to finish. */
		if (wt->timed_out && !wt->abandoned && wt->in_process &&
		    now >= wt->deadline + WORKER_ABANDON_MS) {
			wt->abandoned = 1;
			outbox_fail(w, wt->id, wt->attempt, KILN_EFAIL, "timed out; "
			            "the plugin ignored cancellation and was abandoned", 1);
			grow++;
			log_warn("%s attempt %d ignores cancellation: abandoned",
			         wt->name, wt->attempt);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return grow;
}

static void *
watchdog_main(void *arg)
{
	struct wk *w = arg;
	int64_t next_scan = clock_mono_ms() + 1000;
	int nerr = 0;
	plugin_errors(w->reg, count_error, &nerr);
	for (;;) {
		pthread_mutex_lock(&w->mu);
		int stop = w->stopping;
		pthread_mutex_unlock(&w->mu);
		for (int grow = watchdog_timeouts(w); grow > 0; grow--)
			pool_grow(w->pool);
		if (stop)
			break;
		notify_watchdog();
		int64_t now = clock_mono_ms();
		if (worker_hup) {
			worker_hup = 0;
			log_info("reload: rescanning the plugin directory");
			next_scan = now;
		}
		if (now >= next_scan) {
			next_scan = now + 1000;
			int changed = plugin_registry_scan(w->reg);
			int n = 0;
			plugin_errors(w->reg, count_error, &n);
			if (n != nerr)
				changed++;   /* the master shows load errors too */
			nerr = n;
			if (changed > 0) {
				if (w->ex != NULL)
					executors_reload(w->ex);
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

/* ----------------------------------------------------------- lifecycle */

/* Everything W needs before it talks to the master. */
static int
worker_open(struct wk *w, char **err)
{
	const struct kiln_config *c = w->cfg;
	const struct kiln_worker_conf *wc = w->wc;
	int rc;
	/* The master makes the secret on first start; a worker started at
	 * the same moment waits for it a little. */
	for (int i = 0; (rc = config_secret(c, 0, &w->secret, err)) != 0 && i < 50 &&
	     !worker_stop; i++) {
		free(*err);
		*err = NULL;
		usleep(100 * 1000);
	}
	if (rc != 0)
		return rc;
	const char *env = getenv("KILN_MASTER");
	w->url = env ? xstrdup(env) : config_master_url(c);
	w->scratch = xasprintf("%s/scratch", wc->data_dir);
	char *cache = xasprintf("%s/plugin-cache", wc->data_dir);
	/* The exec plugin runs any command with this worker's rights, which
	 * the read roots do not confine: only where cluster.yaml says so. */
	char *why = xasprintf("is not enabled on worker %s: it runs any "
	                      "command with the worker's rights; set "
	                      "'exec: true' for this worker in cluster.yaml "
	                      "to allow it", wc->name);
	const struct plugin_refusal refuse = { "exec", why };
	/* Under process isolation the executors' zygote loads the code; the
	 * worker only lists the plugins (and runs those kept in process). */
	const struct plugin_policy pol = { &refuse, wc->exec ? 0 : 1,
		!wc->in_process, (const char *const *)wc->in_process_plugins.v,
		wc->in_process_plugins.n };
	rc = plugin_registry_open_policy(wc->plugin_dir, cache, task_host(),
	                                 &pol, &w->reg, err);
	free(why);
	free(cache);
	if (rc != 0)
		return rc;
	if ((rc = worker_client(w, &w->poll_c, err)) != 0 ||
	    (rc = worker_client(w, &w->report_c, err)) != 0)
		return rc;
	if (mkdir(wc->data_dir, 0700) != 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", wc->data_dir, strerror(errno));
	/* Made 0755 by older versions: its cache holds every input. */
	if (fs_tighten(wc->data_dir, 0700, err) < 0) {
		log_warn("%s", *err);
		free(*err);
		*err = NULL;
	}
	w->roots = dataroot_for_worker(c, wc);
	char *roots = dataroot_describe(w->roots);
	log_info("tasks read files under %s", roots);
	free(roots);
	char *cdir = xasprintf("%s/cache", wc->data_dir);
	rc = diskcache_open(cdir, (uint64_t)wc->cache_size, &w->cache, err);
	free(cdir);
	if (rc != 0)
		return rc;
	/* Before any thread: the zygote is a copy of this process. */
	if (!wc->in_process && (rc = executors_open(w->reg, w->roots,
	    w->scratch, diskcache_dir(w->cache), wc->slots, &w->ex, err)) != 0)
		return rc;
	if (pool_new(wc->slots, &w->pool) != 0 ||
	    pool_new(wc->slots, &w->stage_pool) != 0)
		return err_set(err, -EAGAIN, "cannot start %d threads", 2 * wc->slots);
	return 0;
}

/* Stop: cancel what runs (it will run again elsewhere) and give the
 * reporter a moment to deliver the results already made. */
static void
worker_drain(struct wk *w)
{
	notify_stopping();
	log_info("stopping");
	pthread_mutex_lock(&w->mu);
	for (struct wtask *wt = w->running; wt != NULL; wt = wt->next) {
		wt->shutdown = 1;
		task_cancel(wt->t);
	}
	pthread_mutex_unlock(&w->mu);
	pool_free(w->pool);
	w->pool = NULL;
	pool_free(w->stage_pool);
	w->stage_pool = NULL;
	for (int i = 0; i < 20; i++) {
		pthread_mutex_lock(&w->mu);
		size_t left = w->noutbox;
		int reg = w->need_register;
		pthread_mutex_unlock(&w->mu);
		if (left == 0 || reg)
			break;
		usleep(50 * 1000);
	}
}

/* Leave, so the master requeues this worker's tasks at once. */
static void
worker_leave(struct wk *w)
{
	struct proto_leave m = { .session = w->session };
	json_t *reply;
	if (worker_call(w, w->poll_c, PROTO_PATH_LEAVE, proto_leave_encode(&m),
	                2000, &reply, "leave", 0) == 0)
		json_decref(reply);
}

static void
worker_close(struct wk *w)
{
	pool_free(w->pool);
	pool_free(w->stage_pool);
	executors_close(w->ex);
	datacache_flush();
	for (int i = 0; i < w->nidle_c; i++)
		client_free(w->idle_c[i]);
	client_free(w->poll_c);
	client_free(w->report_c);
	diskcache_close(w->cache);
	dataroot_free(w->roots);
	plugin_registry_close(w->reg);
	for (size_t i = 0; i < w->noutbox; i++)
		proto_result_free(w->outbox[i]);
	free(w->outbox);
	free(w->url);
	free(w->secret);
	free(w->scratch);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* Tell the reporter and watchdog to stop, and wait for them. */
static void
worker_join(struct wk *w, pthread_t *threads, int n)
{
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

/* The poller: register, then long-poll until told to stop. */
static void
worker_poll(struct wk *w)
{
	int tries = 0;          /* failed registrations in a row */
	int first = 1;          /* the first heartbeat since registering */
	w->need_register = 1;
	while (!worker_stop) {
		pthread_mutex_lock(&w->mu);
		int reg = w->need_register;
		pthread_mutex_unlock(&w->mu);
		if (reg) {
			/* A master started beside us (`kiln up`) listens a
			 * few ms later: try every WORKER_REG_FAST_US for a
			 * while, so the cluster is ready when it is, then
			 * settle at WORKER_REG_SLOW_US. */
			if (do_register(w) == 0) {
				tries = 0;
				first = 1;
			} else
				usleep(tries++ < WORKER_REG_FAST_TRIES ?
				       WORKER_REG_FAST_US : WORKER_REG_SLOW_US);
			continue;
		}
		uint32_t r;
		randombytes_buf(&r, sizeof r);
		pthread_mutex_lock(&w->mu);
		int64_t hb = w->hb_ms;
		pthread_mutex_unlock(&w->mu);
		if (exchange(w, w->poll_c, NULL, 0,
		             proto_heartbeat_wait(hb, first, r)) != 0)
			usleep(100 * 1000);
		first = 0;
	}
}

int
worker_run(const struct kiln_config *c, const struct kiln_worker_conf *wc,
           char **err)
{
	struct wk w = { .cfg = c, .wc = wc, .hb_ms = c->master.heartbeat_ms };
	log_init(wc->name, LOG_LEVEL_INFO);
	if (auth_init() != 0)
		return err_set(err, -EIO, "libsodium failed to initialise");
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	int rc = worker_open(&w, err);
	if (rc != 0) {
		worker_close(&w);
		return rc;
	}
	/* Keep up to a quarter of the memory it offers in mapped inputs. */
	datacache_set_budget((size_t)(wc->memory / 4));
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_t threads[2];
	int started = 0;
	if ((rc = pthread_create(&threads[0], NULL, reporter_main, &w)) == 0) {
		started++;
		rc = pthread_create(&threads[1], NULL, watchdog_main, &w);
	}
	if (rc != 0) {
		err_set(err, -rc, "cannot start the worker's threads: %s", strerror(rc));
		worker_join(&w, threads, started);
		worker_close(&w);
		return -rc;
	}
	log_info("worker %s: %d slots, %lld MiB, plugins from %s, master %s, "
	         "tasks %s", wc->name, wc->slots, (long long)(wc->memory >> 20),
	         wc->plugin_dir, w.url, w.ex ? "in executor processes" :
	         "in the worker's threads");
	worker_poll(&w);
	worker_drain(&w);
	worker_join(&w, threads, 2);
	worker_leave(&w);
	worker_close(&w);
	return 0;
}
