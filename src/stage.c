/* SPDX-License-Identifier: MIT */
/*
 * stage.c - distributed stages: the driver side on the worker, the
 * bookkeeping of map tasks and results on the master (see stage.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "jobstate.h"
#include "log.h"
#include "stage.h"
#include "task.h"
#include "xalloc.h"

/* --------------------------------------------------------- driver side */

#define STAGE_POLL_MS 1000      /* a driver checks its cancel this often */
#define STAGE_RESUBMITS 600     /* times it submits again (master away) */

/* The body of POST stages for driver D; NULL with *err. */
static json_t *
stage_body(const struct stage_driver *d, const char *fn, const char *broadcast,
           const struct kiln_stage_task *tasks, int n, char **err)
{
	json_t *bc = NULL;
	if (broadcast != NULL &&
	    (bc = json_loads(broadcast, JSON_DECODE_ANY, NULL)) == NULL) {
		err_set(err, KILN_EINVAL, "the broadcast value is not JSON");
		return NULL;
	}
	struct proto_stage m = { .job = d->job, .attempt = d->attempt,
		.plugin = d->plugin, .wait_ms = STAGE_POLL_MS,
		.tasks = xcalloc((size_t)n, sizeof *m.tasks), .ntasks = (size_t)n };
	json_t *body = NULL;
	int i = 0;
	for (; i < n; i++) {
		struct proto_stage_task *t = &m.tasks[i];
		json_t *arg = NULL;
		if (tasks[i].arg != NULL &&
		    (arg = json_loads(tasks[i].arg, JSON_DECODE_ANY, NULL)) == NULL) {
			err_set(err, KILN_EINVAL, "the argument of map task %d is not JSON", i);
			goto out;
		}
		t->params = proto_map_params(fn, i, n, arg, bc);
		json_decref(arg);
		struct proto_file *in = xcalloc((size_t)tasks[i].ninputs + 1, sizeof *in);
		t->inputs = in;
		t->ninputs = (size_t)tasks[i].ninputs;
		for (int k = 0; k < tasks[i].ninputs; k++) {
			int x = tasks[i].inputs[k];
			if (x < 0 || (size_t)x >= d->ninputs) {
				err_set(err, KILN_EINVAL, "map task %d reads input %d; the "
				       "driver has %zu", i, x, d->ninputs);
				i++;
				goto out;
			}
			in[k] = d->inputs[x];
		}
		/* The data it reads first says where it would best run. */
		t->locality = t->ninputs > 0 ? in[0].sha : NULL;
	}
	body = proto_stage_encode(&m);
out:
	while (i-- > 0) {
		json_decref(m.tasks[i].params);
		free(m.tasks[i].inputs);
	}
	free(m.tasks);
	json_decref(bc);
	return body;
}

/* Submit BODY and wait until the stage is done: 0 with *rep (release its
 * own), or a KILN_E* with *err. */
static int
stage_wait(client *c, const struct stage_driver *d, const char *fn,
           json_t *body, struct proto_stage_reply *rep, char **err)
{
	int64_t id = 0;
	char path[96];
	for (int resubmits = 0;;) {
		long status = 0;
		json_t *reply = NULL;
		char *cerr = NULL;
		if (task_host()->cancelled(d->task)) {
			if (id != 0) {
				snprintf(path, sizeof path, PROTO_PATH_STAGES "/%lld",
				         (long long)id);
				client_request(c, "DELETE", path, NULL, 5000, &status,
				               &reply, &cerr);
				json_decref(reply);
				free(cerr);
			}
			return err_set(err, KILN_ECANCELLED, "cancelled");
		}
		if (id == 0)
			snprintf(path, sizeof path, PROTO_PATH_STAGES);
		else
			snprintf(path, sizeof path, PROTO_PATH_STAGES "/%lld?wait_ms=%d",
			         (long long)id, STAGE_POLL_MS);
		int rc = client_request(c, id == 0 ? "POST" : "GET", path,
		                        id == 0 ? body : NULL, STAGE_POLL_MS + 30000,
		                        &status, &reply, &cerr);
		free(cerr);
		if (rc != 0 || (status == 404 && id != 0)) {
			/* The master is away, or restarted and forgot the stage:
			 * wait for it, then submit again. */
			json_decref(reply);
			if (++resubmits > STAGE_RESUBMITS)
				return err_set(err, KILN_EFAIL, "the master is unreachable");
			if (rc != 0)
				usleep(100 * 1000);
			id = 0;
			continue;
		}
		if (status != 200) {
			const char *e = json_string_value(json_object_get(reply, "error"));
			rc = err_set(err, KILN_EFAIL, "stage %s: %s", fn,
			            e ? e : "refused by the master");
			json_decref(reply);
			return rc;
		}
		char *derr = NULL;
		rc = proto_stage_reply_decode(reply, rep, &derr);
		json_decref(reply);
		if (rc != 0) {
			rc = err_set(err, KILN_EFAIL, "stage %s: bad reply: %s", fn, derr);
			free(derr);
			return rc;
		}
		if (rep->done)
			return 0;
		id = rep->stage;
		proto_release(&rep->own);
	}
}

/* The outputs map tasks wrote (ABI 1.7) become D's task's: each is at the
 * master already, under its SHA-256, so it is adopted by reference; the
 * master records it once, with the driver's own outputs, when the driver
 * ends.  A name taken twice is an error (KILN_EINVAL with *err). */
static int
stage_adopt(const struct stage_driver *d, const char *fn,
            const struct proto_stage_reply *rep, char **err)
{
	if (rep->outputs == NULL)
		return 0;
	if (!d->adopt)
		return 0;       /* a plugin of ABI 1.6 or older: dropped */
	for (size_t i = 0; i < rep->nresults; i++)
		for (size_t k = 0; k < rep->noutputs[i]; k++) {
			const struct proto_file *f = &rep->outputs[i][k];
			char *e = NULL;
			if (task_output_adopt(d->task, f->name, f->sha,
			                      (uint64_t)f->size, &e) != 0) {
				int rc = err_set(err, KILN_EINVAL, "stage %s: map "
				                 "task %zu: %s", fn, i, e);
				free(e);
				return rc;
			}
		}
	return 0;
}

int
stage_run(client *c, const struct stage_driver *d, const char *fn,
          const char *broadcast, const struct kiln_stage_task *tasks, int n,
          char ***results, char **err)
{
	*results = NULL;
	json_t *body = stage_body(d, fn, broadcast, tasks, n, err);
	if (body == NULL)
		return KILN_EINVAL;
	struct proto_stage_reply rep;
	int rc = stage_wait(c, d, fn, body, &rep, err);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (rep.nresults != (size_t)n) {
		rc = err_set(err, KILN_EFAIL, "stage %s: %zu results for %d tasks",
		            fn, rep.nresults, n);
	} else if ((rc = stage_adopt(d, fn, &rep, err)) != 0) {
		/* the driver's task fails: task_output_conflict() */
	} else {
		*results = xcalloc((size_t)n, sizeof **results);
		for (int i = 0; i < n; i++)
			(*results)[i] = xstrdup(rep.results[i]);
	}
	proto_release(&rep.own);
	return rc;
}

/* --------------------------------------------------------- master side */

#define STAGE_MAX_ATTEMPTS 3
#define STAGE_HISTORY 64        /* ended stages kept for the job page */

/* What the dashboard shows of one map task (GET /api/v1/jobs/ID/stages). */
struct stage_trec {
	int state;              /* JOB_QUEUED, JOB_RUNNING, ... */
	int attempts;           /* started so far */
	int64_t started_ms;     /* clock_now_ms of the last attempt's start */
	int64_t ended_ms;       /* and of its end, 0 while it runs */
	char *worker;           /* where the last attempt ran, or NULL */
	int local;              /* that worker held its data: 1, 0; -1 when
	                         * it reads none */
};

struct stage {
	int64_t id;
	int64_t owner;          /* the driver job and its attempt */
	int owner_attempt;
	size_t n, ndone;
	int64_t *tasks;         /* n map tasks' ids; 0 once one ended */
	int *failures;          /* each one's attempts that failed */
	char **results;         /* n JSON texts, in task order */
	char **outputs;         /* n JSON arrays of {name, sha, size} (the
	                         * successful attempt's outputs), or NULL */
	char *error;            /* the first map task that failed for good */
	char *plugin;
	int64_t created_ms, ended_ms; /* clock_now_ms */
	int outcome;            /* JOB_RUNNING, then how it ended */
	struct stage_trec *rec; /* n: what each map task did */
	struct stage *next;
};

static void
stage_free(struct stage *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->results[i]);
		free(st->outputs[i]);
	}
	free(st->results);
	free(st->outputs);
	free(st->tasks);
	free(st->failures);
	free(st->error);
	free(st->plugin);
	for (size_t i = 0; i < st->n; i++)
		free(st->rec[i].worker);
	free(st->rec);
	free(st);
}

void
stage_list_clear(struct stage_list *l)
{
	struct stage *n;
	for (struct stage *st = l->head; st != NULL; st = n) {
		n = st->next;
		stage_free(st);
	}
	l->head = NULL;
	for (struct stage *st = l->ended; st != NULL; st = n) {
		n = st->next;
		stage_free(st);
	}
	l->ended = NULL;
	l->nended = 0;
}

struct stage *
stage_new(struct stage_list *l, int64_t owner, int owner_attempt,
          const char *plugname, size_t n)
{
	struct stage *st = xcalloc(1, sizeof *st);
	st->plugin = xstrdup(plugname ? plugname : "");
	st->created_ms = clock_now_ms();
	st->outcome = JOB_RUNNING;
	st->rec = xcalloc(n, sizeof *st->rec);
	for (size_t i = 0; i < n; i++)
		st->rec[i].local = -1;
	st->id = ++l->next_id;
	st->owner = owner;
	st->owner_attempt = owner_attempt;
	st->n = n;
	st->tasks = xcalloc(n, sizeof *st->tasks);
	st->failures = xcalloc(n, sizeof *st->failures);
	st->results = xcalloc(n, sizeof *st->results);
	st->outputs = xcalloc(n, sizeof *st->outputs);
	st->next = l->head;
	l->head = st;
	return st;
}

void
stage_remove(struct stage_list *l, struct stage *st)
{
	struct stage **pp = &l->head;
	while (*pp != NULL && *pp != st)
		pp = &(*pp)->next;
	if (*pp == st)
		*pp = st->next;
	/* Kept, without its results, for the job page: newest first, the
	 * oldest beyond STAGE_HISTORY freed. */
	for (size_t i = 0; i < st->n; i++) {
		free(st->results[i]);
		st->results[i] = NULL;
		free(st->outputs[i]);
		st->outputs[i] = NULL;
		struct stage_trec *t = &st->rec[i];
		if (t->state == JOB_QUEUED || t->state == JOB_RUNNING) {
			t->state = JOB_CANCELLED;
			if (t->started_ms > 0 && t->ended_ms == 0)
				t->ended_ms = clock_now_ms();
		}
	}
	st->ended_ms = clock_now_ms();
	st->outcome = st->error != NULL ? JOB_FAILED : st->ndone == st->n ?
	              JOB_SUCCEEDED : JOB_CANCELLED;
	st->next = l->ended;
	l->ended = st;
	if (++l->nended > STAGE_HISTORY) {
		struct stage **q = &l->ended;
		for (int k = 0; k < STAGE_HISTORY; k++)
			q = &(*q)->next;
		stage_free(*q);
		*q = NULL;
		l->nended = STAGE_HISTORY;
	}
}

struct stage *
stage_find(const struct stage_list *l, int64_t id)
{
	for (struct stage *st = l->head; st != NULL; st = st->next)
		if (st->id == id)
			return st;
	return NULL;
}

struct stage *
stage_next(const struct stage_list *l, const struct stage *st)
{
	return st == NULL ? l->head : st->next;
}

int64_t
stage_id(const struct stage *st)
{
	return st->id;
}

int64_t
stage_owner(const struct stage *st, int *attempt)
{
	if (attempt != NULL)
		*attempt = st->owner_attempt;
	return st->owner;
}

size_t
stage_size(const struct stage *st)
{
	return st->n;
}

int64_t
stage_task(const struct stage *st, size_t i)
{
	return i < st->n ? st->tasks[i] : 0;
}

void
stage_set_task(struct stage *st, size_t i, int64_t id)
{
	if (i < st->n)
		st->tasks[i] = id;
}

void
stage_task_started(struct stage *st, size_t i, const char *worker, int local)
{
	if (i >= st->n)
		return;
	struct stage_trec *t = &st->rec[i];
	t->state = JOB_RUNNING;
	t->attempts++;
	t->started_ms = clock_now_ms();
	t->ended_ms = 0;
	free(t->worker);
	t->worker = xstrdup(worker);
	t->local = local;
}

void
stage_task_requeued(struct stage *st, size_t i)
{
	if (i < st->n)
		st->rec[i].state = JOB_QUEUED;
}

enum stage_verdict
stage_task_ended(struct stage *st, size_t i, int state, int code,
                 const char *result, const char *outputs, const char *error)
{
	if (i < st->n) {
		st->rec[i].state = state;
		st->rec[i].ended_ms = clock_now_ms();
	}
	if (state == JOB_SUCCEEDED) {
		st->results[i] = xstrdup(result ? result : "null");
		/* Only the attempt that succeeded: what a failed or lost one
		 * uploaded is never adopted, so the driver records each map
		 * task's outputs once. */
		st->outputs[i] = outputs != NULL ? xstrdup(outputs) : NULL;
		st->ndone++;
		st->tasks[i] = 0;
		return STAGE_TASK_DONE;
	}
	/* Retried when it failed, not when its worker was lost: losing
	 * workers says nothing about the task (the scheduler requeues those
	 * without asking).  Nor when it failed on bad input: the same input
	 * fails the same way on any worker, and two more attempts would only
	 * delay the driver's error. */
	int bad_input = state == JOB_FAILED && code == KILN_EINVAL;
	if (state == JOB_FAILED) {
		int retry = !bad_input && ++st->failures[i] < STAGE_MAX_ATTEMPTS;
		/* Map tasks leave no attempt in the store: the log says what
		 * became of each failure. */
		log_info("stage %lld task %zu (driver job %lld) failed with "
		         "code %d: %s; %s", (long long)st->id, i,
		         (long long)st->owner, code,
		         error ? error : "no error message",
		         retry ? "retrying" : bad_input ? "bad input, not retried" :
		         "no attempts left");
		if (retry) {
			st->rec[i].state = JOB_QUEUED;
			return STAGE_TASK_RETRY;
		}
	}
	if (st->error == NULL)
		st->error = xasprintf("stage %lld task %zu %s: %s",
		                      (long long)st->id, i, state == JOB_CANCELLED ?
		                      "was cancelled" : bad_input ?
		                      "failed on bad input (not retried)" : "failed",
		                      error ? error : "no error message");
	st->tasks[i] = 0;
	return STAGE_TASK_FAILED;
}

int
stage_outcome(struct stage *st, char ***results, char ***outputs, size_t *n,
              char **err)
{
	*results = NULL;
	*outputs = NULL;
	*n = 0;
	if (st->error != NULL)
		return err_set(err, -EIO, "%s", st->error);
	if (st->ndone < st->n)
		return 0;
	*results = st->results;
	*outputs = st->outputs;
	*n = st->n;
	/* Handed over: nothing left for stage_free to free. */
	st->results = xcalloc(st->n, sizeof *st->results);
	st->outputs = xcalloc(st->n, sizeof *st->outputs);
	return 1;
}

/* ------------------------------------------------------ for the dashboard */

static json_t *
stage_json(const struct stage *st)
{
	json_t *tasks = json_array();
	int64_t now = clock_now_ms();
	for (size_t i = 0; i < st->n; i++) {
		const struct stage_trec *t = &st->rec[i];
		int64_t end = t->ended_ms ? t->ended_ms : now;
		json_t *o = json_pack("{s:I,s:s,s:i,s:s?,s:I,s:I,s:I}",
			"index", (json_int_t)i, "state", job_state_name(t->state),
			"attempts", t->attempts, "worker", t->worker,
			"started_ms", (json_int_t)t->started_ms,
			"ended_ms", (json_int_t)t->ended_ms,
			"duration_ms", (json_int_t)(t->started_ms ?
			               end - t->started_ms : 0));
		json_object_set_new(o, "local", t->local < 0 ? json_null() :
		                    json_boolean(t->local));
		json_array_append_new(tasks, o);
	}
	json_t *o = json_pack("{s:I,s:I,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:o}",
		"stage", (json_int_t)st->id, "job", (json_int_t)st->owner,
		"attempt", st->owner_attempt, "plugin", st->plugin,
		"state", job_state_name(st->outcome),
		"tasks_total", (json_int_t)st->n,
		"tasks_done", (json_int_t)st->ndone,
		"created_ms", (json_int_t)st->created_ms,
		"ended_ms", (json_int_t)st->ended_ms, "tasks", tasks);
	if (st->error != NULL)
		json_object_set_new(o, "error", json_string(st->error));
	return o;
}

json_t *
stage_list_json(const struct stage_list *l, int64_t owner)
{
	json_t *a = json_array();
	const struct stage *lists[2] = { l->ended, l->head };
	for (int k = 0; k < 2; k++)
		for (const struct stage *st = lists[k]; st != NULL; st = st->next)
			if (st->owner == owner)
				json_array_append_new(a, stage_json(st));
	/* Oldest first: stages are numbered in the order they began. */
	size_t n = json_array_size(a);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			json_t *x = json_array_get(a, j - 1), *y = json_array_get(a, j);
			if (json_integer_value(json_object_get(x, "stage")) <=
			    json_integer_value(json_object_get(y, "stage")))
				break;
			json_incref(x);
			json_array_set(a, j - 1, y);
			json_array_set_new(a, j, x);
		}
	return a;
}
