/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - the pipeline engine (see pipeline.h).
 *
 * One thread owns the decisions.  It wakes when a job of a DAG run ends
 * (the scheduler's done hook), when the API asks for something, when a
 * schedule falls due, and every 2 s to look at the DAG files.  Its work
 * per wake-up is proportional to what changed: the runs marked dirty, and
 * the DAGs whose next interval has ended - not the number of DAGs or of
 * historical runs.
 *
 * A task instance moves: none -> queued (a job is submitted for it, in
 * the same transaction) -> running -> success / failed / up_for_retry
 * (these follow its job, in the store), or none -> upstream_failed /
 * skipped by its trigger rule.  A sensor (src/sensor.c) moves running ->
 * up_for_reschedule -> queued (the next poke) ... -> success / failed, or
 * none -> up_for_reschedule -> ... with no job at all when the master
 * pokes it itself.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "clock.h"
#include "cron.h"
#include "dag.h"
#include "dagver.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "sensor.h"
#include "varconn.h"
#include "xalloc.h"

#define SCAN_MS 2000
/* How long a run whose evaluation could not be written (a full or
 * failing disk) waits before it is evaluated again. */
#define RETRY_MS 1000

struct pdag {
	struct dag *d;
	char *file;
	struct timespec mtime;
	off_t size;
	int paused;
	int64_t next_start;     /* next interval to schedule, 0 = from start */
	int64_t due;            /* unix s when to look again; 0 = now */
	int seen;               /* found in the last scan */
	int version;            /* d's number in the store (dagver.h), 0 if
	                         * it could not be written */
	struct pdag *next;
};

struct perr {
	char *file;
	char *msg;
	struct timespec mtime;
	struct perr *next;
};

/* The instances of a mapped task in a run (DAG task mapping). */
struct pmap {
	size_t n;               /* 0 = not expanded */
	int *ti;                /* TI state by map index */
	int64_t *job;           /* its job, 0 = none */
};

struct prun {
	int64_t id;
	char *dag_id;
	char *run_id;
	int state;
	int64_t logical, istart, iend;
	json_t *conf;
	int version;            /* the DAG version it runs, 0 = the current */
	int dirty;
	/* The states of its task instances, by DAG task index, kept in step
	 * by the scheduler's done hook so that an evaluation reads nothing
	 * from the store: loaded = 0 forces a reload (start, clear, DAG
	 * reload). */
	int loaded;
	size_t ntasks;
	int *ti;                /* TI state, -1 = no instance */
	int64_t *job;           /* its job, 0 = none */
	struct pmap *map;       /* by task index: mapped tasks' instances */
	int64_t hold_until;     /* mono ms: not evaluated before (RETRY_MS) */
	int64_t created_ms;
	/* Sensors: the last and first poke of each task (unix ms, from the
	 * store), and when the next sensor of the run is due (0 = none). */
	int64_t *poke_last, *poke_since;
	int64_t sensor_due;
	/* Notifications (alert.c): the task states last looked at, so that
	 * an end is told once (NULL until the first evaluation, which takes
	 * what it finds as told: a restarted master tells nothing twice);
	 * and which deadlines fired, by task index, the run's last (read
	 * from the store's records at the first check: dl_read). */
	int *told;
	size_t ntold;
	char *dl_fired;
	size_t ndl;
	int dl_read;
	struct prun *next;
};

/* A sensor's poke job cancelled at its sensor's timeout: the poke
 * waited in the queue (every slot busy) past it.  Cancelled outside
 * p->mu: sched_cancel() calls pipeline_job_done(). */
struct pcancel {
	int64_t run;
	int64_t job;
	char *task;
	int state;              /* TI_FAILED, or TI_SKIPPED with soft_fail */
	char *why;
	struct pcancel *next;
};

struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int stopping;
	int started;
	int kick;               /* something to do now */
	const struct kiln_config *cfg;
	store *st;
	sched *sc;
	struct pdag *dags;
	struct perr *errs;
	struct prun *runs;
	dagver *vers;           /* old DAG versions active runs still run */
	int64_t next_scan;      /* clock_mono_ms */
	alert *al;              /* the notifier, or NULL */
	int64_t next_deadlines; /* clock_mono_ms of the next deadline check */
	struct pcancel *cancels; /* poke jobs to cancel after work() */
};

/* ------------------------------------------------------------ helpers */

static json_t *iso_or_null(int64_t t);
static const struct dag *pl_version_dag(pipeline *p, struct pdag *pd,
                                        int version);

static int64_t
now_s(void)
{
	return clock_now_ms() / 1000;
}

static struct pdag *
pl_dag_find(pipeline *p, const char *id)
{
	for (struct pdag *d = p->dags; d != NULL; d = d->next)
		if (d->d != NULL && strcmp(d->d->id, id) == 0)
			return d;
	return NULL;
}

static int
active_runs(pipeline *p, const char *dag_id, int running_only)
{
	int n = 0;
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		if (strcmp(r->dag_id, dag_id) == 0 &&
		    (!running_only || r->state == RUN_RUNNING))
			n++;
	return n;
}

static void
pl_maps_free(struct prun *r)
{
	for (size_t i = 0; r->map != NULL && i < r->ntasks; i++) {
		free(r->map[i].ti);
		free(r->map[i].job);
	}
	free(r->map);
	r->map = NULL;
}

static void
prun_free(struct prun *r)
{
	pl_maps_free(r);
	free(r->ti);
	free(r->job);
	free(r->poke_last);
	free(r->poke_since);
	free(r->told);
	free(r->dl_fired);
	free(r->dag_id);
	free(r->run_id);
	json_decref(r->conf);
	free(r);
}

static int
add_run(const struct store_run *sr, void *ud)
{
	pipeline *p = ud;
	struct prun *r = xcalloc(1, sizeof *r);
	r->id = sr->id;
	r->dag_id = xstrdup(sr->dag_id);
	r->run_id = xstrdup(sr->run_id);
	r->state = sr->state;
	r->logical = sr->logical_date;
	r->istart = sr->interval_start;
	r->iend = sr->interval_end;
	r->created_ms = sr->created_ms;
	r->version = sr->dag_version;
	r->conf = json_loads(sr->conf ? sr->conf : "{}", 0, NULL);
	if (r->conf == NULL)
		r->conf = json_object();
	r->dirty = 1;
	/* Oldest first: append. */
	struct prun **pp = &p->runs;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = r;
	return 0;
}

/* Create a run of D (locked).  KIND "scheduled", "manual", "backfill".
 * Returns 1 if created, 0 if that interval already had one, or the
 * store's error (*err set): nothing was created, the caller may try
 * again. */
static int
create_run(pipeline *p, struct pdag *pd, const char *kind, int64_t logical,
           int64_t istart, int64_t iend, json_t *conf, int64_t next_start,
           char **run_id_out, char **err)
{
	const struct dag *d = pd->d;
	char iso[64], rid[256];
	cron_format_iso(logical, iso, sizeof iso);
	/* Airflow's run ids are unique per DAG; ours name the DAG too, so
	 * that one id finds a run. */
	if (strcmp(kind, "manual") == 0)
		snprintf(rid, sizeof rid, "%s__manual__%s.%03lld", d->id, iso,
		         (long long)(clock_now_ms() % 1000));
	else
		snprintf(rid, sizeof rid, "%s__%s__%s", d->id, kind, iso);
	const char **tasks = xcalloc(d->ntasks + 1, sizeof *tasks);
	for (size_t i = 0; i < d->ntasks; i++)
		tasks[i] = d->tasks[i].id;
	char *conf_text = json_dumps(conf ? conf : json_object(), JSON_COMPACT);
	struct store_run_new rn = {
		.dag_id = d->id, .run_id = rid, .kind = kind,
		.logical_date = logical, .interval_start = istart,
		.interval_end = iend, .conf = conf_text, .tasks = tasks,
		.ntasks = d->ntasks, .next_start = next_start,
		.dag_version = pd->version,
	};
	struct store_op op = { .kind = STORE_RUN_CREATE, .run_new = &rn };
	int created = store_apply(p->st, &op, 1, err);
	if (created < 0) {
		free(conf_text);
		free(tasks);
		return created;
	}
	created = op.applied;
	if (created) {
		struct store_run sr = {
			.id = op.id, .dag_id = d->id, .run_id = rid, .kind = (char *)kind,
			.logical_date = logical, .interval_start = istart,
			.interval_end = iend, .state = RUN_QUEUED, .conf = conf_text,
			.dag_version = pd->version,
		};
		add_run(&sr, p);
		log_info("dag %s: created run %s", d->id, rid);
		if (run_id_out != NULL)
			*run_id_out = xstrdup(rid);
	}
	if (next_start > 0)
		pd->next_start = next_start;
	free(conf_text);
	free(tasks);
	return created;
}

/* ---------------------------------------------------------- schedules */

/* First fire time at or after T. */
static int64_t
first_at_or_after(const struct cron *c, int64_t t, int64_t anchor)
{
	return cron_next(c, t - 1, anchor);
}

/* Create the runs of PD whose interval has ended (locked). */
static void
schedule_dag(pipeline *p, struct pdag *pd, int64_t now)
{
	const struct dag *d = pd->d;
	if (pd->paused || d->schedule_text == NULL || d->cron.kind == CRON_NONE) {
		pd->due = INT64_MAX;
		return;
	}
	int64_t anchor = d->start_date;
	int64_t s = pd->next_start > 0 ? pd->next_start :
	            first_at_or_after(&d->cron, d->start_date, anchor);
	if (!d->catchup) {
		/* Only the latest complete interval: it starts at the fire time
		 * before the one that opened the current interval. */
		int64_t cur = cron_prev(&d->cron, now, anchor);
		int64_t last = cur > 0 ? cron_prev(&d->cron, cur - 1, anchor) : -1;
		if (last >= s && last >= d->start_date)
			s = last;
	}
	for (int n = 0; n < 1000; n++) {
		if (s < 0 || (d->end_date > 0 && s > d->end_date)) {
			pd->due = INT64_MAX;
			return;
		}
		int64_t e = cron_next(&d->cron, s, anchor);
		if (e < 0) {
			pd->due = INT64_MAX;
			return;
		}
		if (e > now) {
			pd->due = e;
			return;
		}
		if (active_runs(p, d->id, 0) >= d->max_active_runs) {
			pd->due = now + 1;   /* when a run ends, look again */
			return;
		}
		char *err = NULL;
		if (create_run(p, pd, "scheduled", s, s, e, NULL, e, NULL,
		               &err) < 0) {
			/* Not created: tried again at a later tick. */
			log_warn("dag %s: cannot create a run yet: %s", d->id, err);
			free(err);
			pd->due = now + RETRY_MS / 1000;
			return;
		}
		p->kick = 1;
		s = e;
	}
	pd->due = now;
}

/* ------------------------------------------------------ trigger rules */

enum { T_WAIT, T_RUN, T_UPSTREAM_FAILED, T_SKIPPED };

static int
decide(int rule, int n, int ok, int bad, int skipped, int done)
{
	if (n == 0)
		return T_RUN;
	switch (rule) {
	case TR_ALL_SUCCESS:
		if (bad) return T_UPSTREAM_FAILED;
		if (done < n) return T_WAIT;
		return skipped ? T_SKIPPED : T_RUN;
	case TR_ALL_FAILED:
		if (ok) return T_SKIPPED;
		if (done < n) return T_WAIT;
		return skipped ? T_SKIPPED : T_RUN;
	case TR_ALL_DONE:
		return done < n ? T_WAIT : T_RUN;
	case TR_ONE_SUCCESS:
		if (ok) return T_RUN;
		if (done < n) return T_WAIT;
		return skipped == n ? T_SKIPPED : T_UPSTREAM_FAILED;
	case TR_ONE_FAILED:
		if (bad) return T_RUN;
		return done < n ? T_WAIT : T_SKIPPED;
	case TR_NONE_FAILED:
		if (bad) return T_UPSTREAM_FAILED;
		return done < n ? T_WAIT : T_RUN;
	case TR_NONE_FAILED_MIN_ONE_SUCCESS:
		if (bad) return T_UPSTREAM_FAILED;
		if (done < n) return T_WAIT;
		return ok ? T_RUN : T_SKIPPED;
	}
	return T_WAIT;
}

static int
ti_final(int s)
{
	return s == TI_SUCCESS || s == TI_FAILED || s == TI_UPSTREAM_FAILED ||
	       s == TI_SKIPPED;
}

/* ------------------------------------------------------- notifications */

/* What an event's JSON says of run R and of task state STATE (-1: the
 * run's own state). */
static json_t *
pl_event_body(const struct prun *r, int state)
{
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "dag_id", r->dag_id,
		"run_id", r->run_id, "state", state >= 0 ?
		store_ti_state_name(state) : store_run_state_name(r->state),
		"logical_date", iso_or_null(r->logical),
		"data_interval_start", iso_or_null(r->istart),
		"data_interval_end", iso_or_null(r->iend));
}

/* Event EV of run R (TASK NULL) or of its task TASK to the targets CB;
 * a deadline's EXTRA (taken, may be NULL) is added to the body.  Only a
 * deadline is recorded with no target. */
static void
pl_notify(pipeline *p, struct prun *r, const struct dag_task *task,
          int state, int ev, int64_t job, const struct dag_callbacks *cb,
          int map_index, json_t *extra)
{
	if (p->al == NULL || (ev != DAG_ON_DEADLINE && (cb == NULL ||
	    cb->n == 0))) {
		json_decref(extra);
		return;
	}
	json_t *body = pl_event_body(r, task ? state : -1);
	if (extra != NULL)
		json_object_update(body, extra);
	json_decref(extra);
	char *err = NULL;
	if (alert_fire(p->al, r->id, task ? task->id : NULL, map_index, ev,
	               job, body, cb, &err) != 0) {
		log_warn("run %s: %s notification not recorded: %s", r->run_id,
		         dag_event_name(ev), err);
		free(err);
	}
	json_decref(body);
}

/* Tell the ends of R's tasks seen since the last evaluation. */
static void
pl_notify_tasks(pipeline *p, struct prun *r, const struct dag *d)
{
	if (!r->loaded)
		return;
	if (r->told == NULL || r->ntold != r->ntasks) {
		free(r->told);
		r->ntold = r->ntasks;
		r->told = xcalloc(r->ntasks + 1, sizeof *r->told);
		memcpy(r->told, r->ti, r->ntasks * sizeof *r->told);
		return;
	}
	for (size_t i = 0; i < r->ntasks && i < d->ntasks; i++) {
		int s = r->ti[i];
		if (s != r->told[i] && (s == TI_SUCCESS || s == TI_FAILED)) {
			int ev = s == TI_SUCCESS ? DAG_ON_SUCCESS : DAG_ON_FAILURE;
			pl_notify(p, r, &d->tasks[i], s, ev, r->job[i],
			          &d->tasks[i].on[ev], -1, NULL);
		}
		r->told[i] = s;
	}
}

/* Job JOB of run R failed a try and waits for a retry: the task's and
 * the DAG's on_retry. */
static void
pl_notify_retry(pipeline *p, struct prun *r, int64_t job)
{
	struct pdag *pd = pl_dag_find(p, r->dag_id);
	if (pd == NULL || !r->loaded || p->al == NULL)
		return;
	const struct dag *d = pl_version_dag(p, pd, r->version);
	for (size_t i = 0; i < r->ntasks && i < d->ntasks; i++) {
		int map_index = -1;
		for (size_t k = 0; k < r->map[i].n; k++)
			if (r->map[i].job[k] == job)
				map_index = (int)k;
		if (r->job[i] != job && map_index < 0)
			continue;
		const struct dag_callbacks *tc = &d->tasks[i].on[DAG_ON_RETRY];
		const struct dag_callbacks *dc = &d->on[DAG_ON_RETRY];
		struct dag_callbacks both = { 0 };
		struct dag_callback v[2 * DAG_CALLBACKS_MAX];
		for (size_t k = 0; k < tc->n; k++)
			v[both.n++] = tc->v[k];
		for (size_t k = 0; k < dc->n; k++)
			v[both.n++] = dc->v[k];
		both.v = v;
		pl_notify(p, r, &d->tasks[i], TI_UP_FOR_RETRY, DAG_ON_RETRY,
		          job, &both, map_index, NULL);
		return;
	}
}

/* Where a deadline's targets are: its own on_deadline, else on_failure;
 * for a task, then the DAG's. */
static const struct dag_callbacks *
pl_deadline_targets(const struct dag *d, const struct dag_task *t)
{
	if (t != NULL && t->on[DAG_ON_DEADLINE].n > 0)
		return &t->on[DAG_ON_DEADLINE];
	if (t != NULL && t->on[DAG_ON_FAILURE].n > 0)
		return &t->on[DAG_ON_FAILURE];
	if (d->on[DAG_ON_DEADLINE].n > 0)
		return &d->on[DAG_ON_DEADLINE];
	return &d->on[DAG_ON_FAILURE];
}

/* What the deadline check's store walks fill. */
struct pl_dlctx {
	const struct dag *d;
	struct prun *r;
	int64_t *started;       /* by task index: its latest try's start */
};

static int
pl_dl_record_cb(const struct store_notif *n, void *ud)
{
	struct pl_dlctx *e = ud;
	if (strcmp(n->event, dag_event_name(DAG_ON_DEADLINE)) != 0)
		return 0;
	if (n->task == NULL) {
		e->r->dl_fired[e->d->ntasks] = 1;
		return 0;
	}
	const struct dag_task *t = dag_task_find(e->d, n->task);
	if (t != NULL)
		e->r->dl_fired[t - e->d->tasks] = 1;
	return 0;
}

static int
pl_dl_started_cb(const struct store_ti *t, void *ud)
{
	struct pl_dlctx *e = ud;
	const struct dag_task *dt = dag_task_find(e->d, t->task);
	if (dt != NULL && t->map_index < 0)
		e->started[dt - e->d->tasks] = t->started_ms;
	return 0;
}

/* When deadline DL counted from START_MS (0: not started) or from R's
 * data interval end passes (unix ms), or 0 if not yet known. */
static int64_t
pl_deadline_at(const struct prun *r, const struct dag_deadline *dl,
               int64_t start_ms)
{
	if (dl->from == DDL_FROM_INTERVAL_END)
		return r->iend * 1000 + dl->after_ms;
	return start_ms > 0 ? start_ms + dl->after_ms : 0;
}

static void
pl_deadline_fire(pipeline *p, struct prun *r, const struct dag *d,
                 const struct dag_task *t, const struct dag_deadline *dl,
                 int64_t at)
{
	char iso[64];
	cron_format_iso(at / 1000, iso, sizeof iso);
	json_t *extra = json_pack("{s:s,s:I,s:s,s:I}", "deadline", iso,
		"deadline_ms", (json_int_t)at, "deadline_from",
		dag_deadline_from_name(dl->from), "deadline_after_ms",
		(json_int_t)dl->after_ms);
	size_t i = t ? (size_t)(t - d->tasks) : d->ntasks;
	log_warn("run %s%s%s: deadline of %s missed", r->run_id, t ? " task " :
	         "", t ? t->id : "", iso);
	r->dl_fired[i] = 1;
	pl_notify(p, r, t, t ? r->ti[i] : -1, DAG_ON_DEADLINE,
	          t ? r->job[i] : 0, pl_deadline_targets(d, t), -1, extra);
}

/* Fire R's deadlines that passed while their task or the run has not
 * ended: once each, as the store's records say. */
static void
pl_deadlines_run(pipeline *p, struct prun *r, int64_t now)
{
	struct pdag *pd = pl_dag_find(p, r->dag_id);
	if (pd == NULL)
		return;
	const struct dag *d = pl_version_dag(p, pd, r->version);
	/* A run still queued behind max_active_runs has no task states
	 * loaded: only its own deadline counts yet. */
	int tasks = r->loaded && r->ntasks == d->ntasks;
	int any = d->deadline.after_ms > 0, from_start = 0;
	for (size_t i = 0; tasks && i < d->ntasks; i++)
		if (d->tasks[i].deadline.after_ms > 0 && !ti_final(r->ti[i])) {
			any = 1;
			from_start |= d->tasks[i].deadline.from == DDL_FROM_START;
		}
	if (!any)
		return;
	char *err = NULL;
	struct pl_dlctx e = { .d = d, .r = r };
	if (!r->dl_read || r->ndl != d->ntasks + 1) {
		free(r->dl_fired);
		r->ndl = d->ntasks + 1;
		r->dl_fired = xcalloc(r->ndl, 1);
		if (store_notif_list(p->st, r->id, pl_dl_record_cb, &e,
		                     &err) != 0) {
			free(err);
			return;
		}
		r->dl_read = 1;
	}
	if (r->created_ms <= 0) {
		struct store_run sr;
		if (store_run_find(p->st, r->run_id, &sr, &err) == 0) {
			r->created_ms = sr.created_ms;
			store_run_clear(&sr);
		}
		free(err);
		err = NULL;
	}
	const struct dag_deadline *rd = &d->deadline;
	int64_t at;
	if (rd->after_ms > 0 && !r->dl_fired[d->ntasks] &&
	    (at = pl_deadline_at(r, rd, r->created_ms)) > 0 && now >= at)
		pl_deadline_fire(p, r, d, NULL, rd, at);
	int64_t *started = xcalloc(d->ntasks + 1, sizeof *started);
	if (from_start) {
		e.started = started;
		if (store_tis(p->st, r->id, pl_dl_started_cb, &e, &err) != 0)
			free(err);
	}
	for (size_t i = 0; tasks && i < d->ntasks; i++) {
		const struct dag_task *t = &d->tasks[i];
		if (t->deadline.after_ms <= 0 || r->dl_fired[i] ||
		    ti_final(r->ti[i]))
			continue;
		at = pl_deadline_at(r, &t->deadline, started[i]);
		if (at > 0 && now >= at)
			pl_deadline_fire(p, r, d, t, &t->deadline, at);
	}
	free(started);
}

/* ---------------------------------------------------------- evaluation */

struct evalctx {
	pipeline *p;
	const struct dag *d;
	struct prun *r;
	json_t **parsed;        /* upstream results fetched for templates */
};

static int
collect_ti(const struct store_ti *t, void *ud)
{
	struct evalctx *e = ud;
	const struct dag_task *dt = dag_task_find(e->d, t->task);
	if (dt == NULL)
		return 0;
	size_t i = (size_t)(dt - e->d->tasks);
	if (t->map_index < 0) {
		e->r->ti[i] = t->state;
		e->r->job[i] = t->job_id;
		e->r->poke_last[i] = t->finished_ms;
		e->r->poke_since[i] = t->sensor_since_ms;
		return 0;
	}
	struct pmap *m = &e->r->map[i];
	if ((size_t)t->map_index >= m->n) {
		size_t n = (size_t)t->map_index + 1;
		m->ti = xrealloc(m->ti, n * sizeof *m->ti);
		m->job = xrealloc(m->job, n * sizeof *m->job);
		for (size_t k = m->n; k < n; k++) {
			m->ti[k] = TI_NONE;
			m->job[k] = 0;
		}
		m->n = n;
	}
	m->ti[t->map_index] = t->state;
	m->job[t->map_index] = t->job_id;
	return 0;
}

/* Load R's task instances from the store (locked); 0 or the store's
 * error (*err set). */
static int
load_run(pipeline *p, struct prun *r, const struct dag *d, char **err)
{
	pl_maps_free(r);
	free(r->ti);
	free(r->job);
	free(r->poke_last);
	free(r->poke_since);
	r->ntasks = d->ntasks;
	r->poke_last = xcalloc(d->ntasks + 1, sizeof *r->poke_last);
	r->poke_since = xcalloc(d->ntasks + 1, sizeof *r->poke_since);
	r->map = xcalloc(d->ntasks + 1, sizeof *r->map);
	r->ti = xcalloc(d->ntasks + 1, sizeof *r->ti);
	r->job = xcalloc(d->ntasks + 1, sizeof *r->job);
	for (size_t i = 0; i < d->ntasks; i++)
		r->ti[i] = -1;
	struct evalctx e = { .p = p, .d = d, .r = r };
	int rc = store_tis(p->st, r->id, collect_ti, &e, err);
	r->loaded = rc == 0;
	return rc;
}

/* The result of job JOB (parsed, new), or NULL. */
static json_t *
pl_job_result(pipeline *p, int64_t job)
{
	struct store_job j = { 0 };
	char *err = NULL;
	json_t *res = NULL;
	if (job > 0 && store_job_get(p->st, job, &j, &err) == 0 && j.result)
		res = json_loads(j.result, JSON_DECODE_ANY, NULL);
	store_job_clear(&j);
	free(err);
	return res;
}

/* A task's result for templates; a mapped task's is the array of its
 * instances' results in map index order (null where one has none). */
static json_t *
upstream_result(const char *task_id, void *ud)
{
	struct evalctx *e = ud;
	const struct dag_task *dt = dag_task_find(e->d, task_id);
	if (dt == NULL)
		return NULL;
	size_t i = (size_t)(dt - e->d->tasks);
	const struct pmap *m = &e->r->map[i];
	if (e->parsed[i] == NULL && m->n > 0) {
		e->parsed[i] = json_array();
		for (size_t k = 0; k < m->n; k++) {
			json_t *res = pl_job_result(e->p, m->job[k]);
			json_array_append_new(e->parsed[i], res ? res : json_null());
		}
	} else if (e->parsed[i] == NULL) {
		e->parsed[i] = pl_job_result(e->p, e->r->job[i]);
	}
	return e->parsed[i];
}

/* What one evaluation of a run decided, written in one go. */
struct evalbatch {
	struct store_op *ops;        /* instance and run states: at most
	                              * two a task (an expansion that
	                              * fails) and the run's */
	char **why;                  /* ops' reasons, owned here */
	size_t nops;
	struct store_job *jobs;      /* task instances to run */
	char **params, **inputs;     /* jobs[k]'s texts, owned here */
	size_t *jobtask;             /* jobs[k]'s task index */
	size_t njobs, cap;
};

static void
evalbatch_init(struct evalbatch *b, size_t ntasks)
{
	memset(b, 0, sizeof *b);
	b->ops = xcalloc(2 * ntasks + 2, sizeof *b->ops);
	b->why = xcalloc(2 * ntasks + 2, sizeof *b->why);
}

/* A new job slot of B (zeroed); its index. */
static size_t
evalbatch_job(struct evalbatch *b)
{
	if (b->njobs == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->jobs = xrealloc(b->jobs, b->cap * sizeof *b->jobs);
		b->params = xrealloc(b->params, b->cap * sizeof *b->params);
		b->inputs = xrealloc(b->inputs, b->cap * sizeof *b->inputs);
		b->jobtask = xrealloc(b->jobtask, b->cap * sizeof *b->jobtask);
	}
	size_t k = b->njobs++;
	memset(&b->jobs[k], 0, sizeof b->jobs[k]);
	b->params[k] = b->inputs[k] = NULL;
	return k;
}

static void
evalbatch_free(struct evalbatch *b)
{
	for (size_t k = 0; k < b->njobs; k++) {
		free(b->params[k]);
		free(b->inputs[k]);
	}
	for (size_t k = 0; k < b->nops; k++)
		free(b->why[k]);
	free(b->why);
	free(b->params);
	free(b->inputs);
	free(b->jobtask);
	free(b->jobs);
	free(b->ops);
}

/* Task I of run R ends in STATE (failed, skipped, upstream_failed)
 * without a job, for the reason WHY (taken, may be NULL). */
static void
pl_task_end(struct prun *r, struct evalbatch *b, const struct dag_task *t,
            size_t i, int state, char *why)
{
	if (why != NULL)
		log_warn("run %s task %s: %s", r->run_id, t->id, why);
	r->ti[i] = state;
	b->why[b->nops] = why;
	b->ops[b->nops++] = (struct store_op){ .kind = STORE_TI_SET,
		.run = r->id, .task = t->id, .state = state, .error = why };
}

/* What T's trigger rule says given its upstream states. */
static int
pl_task_verdict(const struct dag_task *t, const int *state)
{
	int ok = 0, bad = 0, skipped = 0, done = 0;

	for (size_t u = 0; u < t->ndeps; u++) {
		int s = state[t->dep_index[u]];
		if (s < 0)
			s = TI_SKIPPED;    /* task added after the run began */
		ok += s == TI_SUCCESS;
		bad += s == TI_FAILED || s == TI_UPSTREAM_FAILED;
		skipped += s == TI_SKIPPED;
		done += ti_final(s);
	}
	return decide(t->trigger_rule, (int)t->ndeps, ok, bad, skipped, done);
}

/* Append to IN the outputs of job UJ, named PREFIX/NAME. */
static void
pl_job_inputs(pipeline *p, int64_t uj, const char *prefix, json_t *in)
{
	struct store_job sj = { 0 };
	char *jerr = NULL;
	if (uj > 0 && store_job_get(p->st, uj, &sj, &jerr) == 0 &&
	    sj.outputs != NULL) {
		json_t *outs = json_loads(sj.outputs, 0, NULL);
		size_t oi;
		json_t *o;
		json_array_foreach(outs, oi, o) {
			char *nm = xasprintf("%s/%s", prefix,
				json_string_value(json_object_get(o, "name")));
			json_array_append_new(in, json_pack("{s:s,s:O,s:O}",
				"name", nm, "sha", json_object_get(o, "sha"),
				"size", json_object_get(o, "size")));
			free(nm);
		}
		json_decref(outs);
	}
	store_job_clear(&sj);
	free(jerr);
}

/* T's inputs: the files its direct upstream tasks produced, named
 * UPSTREAM/NAME (UPSTREAM/MAP_INDEX/NAME for a mapped upstream's, in map
 * index order), as JSON text (malloc()ed), or NULL if none. */
static char *
pl_task_inputs(pipeline *p, const struct prun *r, const struct dag_task *t)
{
	json_t *in = json_array();

	for (size_t u = 0; u < t->ndeps; u++) {
		const struct pmap *m = &r->map[t->dep_index[u]];
		if (m->n == 0)
			pl_job_inputs(p, r->job[t->dep_index[u]], t->deps[u], in);
		for (size_t k = 0; k < m->n; k++) {
			char *pre = xasprintf("%s/%zu", t->deps[u], k);
			pl_job_inputs(p, m->job[k], pre, in);
			free(pre);
		}
	}
	char *text = json_array_size(in) ? json_dumps(in, JSON_COMPACT) : NULL;
	json_decref(in);
	return text;
}

/* "{{ var.NAME }}", "{{ conn.NAME.FIELD }}" (dag_ctx.secret): read from
 * the store when the task is dispatched. */
static int
pl_secret(const char *expr, void *ud, char **value, char **err)
{
	struct evalctx *e = ud;
	return varconn_template(e->p->st, expr, value, err);
}

/* The context templates of task I of E's run render in: run conf over
 * the DAG's params in *MERGED (the caller's), with ITEM (if not NULL)
 * as the expand param of instance MAP_INDEX. */
static struct dag_ctx
pl_ctx(struct evalctx *e, size_t i, int map_index, json_t *item,
       json_t **merged)
{
	const struct prun *r = e->r;
	struct dag_ctx ctx = {
		.dag = e->d, .task = &e->d->tasks[i], .run_id = r->run_id,
		.logical_date = r->logical, .interval_start = r->istart,
		.interval_end = r->iend, .params = NULL,
		.upstream_result = upstream_result, .ud = e,
		.secret = pl_secret,
		.map_index = map_index,
	};
	*merged = json_deep_copy(e->d->params ? e->d->params : json_object());
	json_object_update(*merged, r->conf);
	if (item != NULL)
		json_object_set(*merged, ctx.task->expand_param, item);
	ctx.params = *merged;
	return ctx;
}

/* Task I's params for instance MAP_INDEX of ITEM (-1 and NULL: not
 * mapped): JSON text (malloc()ed), or NULL and *err. */
static char *
pl_task_render(struct evalctx *e, size_t i, int map_index, json_t *item,
               char **err)
{
	json_t *merged;
	struct dag_ctx ctx = pl_ctx(e, i, map_index, item, &merged);
	json_t *rp = dag_render_params(&ctx, err);
	json_decref(merged);
	if (rp == NULL)
		return NULL;
	if (item != NULL)
		json_object_set(rp, ctx.task->expand_param, item);
	if (ctx.task->sensor != NULL)   /* its KILN_NOT_YET is read */
		json_object_set_new(rp, JOB_SENSOR_PARAM, json_true());
	char *text = json_dumps(rp, JSON_COMPACT);
	json_decref(rp);
	char *sealed = varconn_params_seal(text);  /* no secret in the store */
	free(text);
	return sealed;
}

/* Task I of run R is to run (instance MAP_INDEX, or -1) with PARAMS
 * (taken) and INPUTS (copied): its job added to B. */
static void
pl_task_enqueue(struct evalctx *e, struct evalbatch *b, size_t i,
                int map_index, char *params, const char *inputs)
{
	struct prun *r = e->r;
	const struct dag_task *t = &e->d->tasks[i];
	size_t k = evalbatch_job(b);
	b->params[k] = params;
	b->inputs[k] = inputs ? xstrdup(inputs) : NULL;
	struct store_job *j = &b->jobs[k];
	j->mapped = map_index >= 0;
	j->map_index = map_index;
	j->plugin = t->plugin;
	j->params = b->params[k];
	j->priority = t->effective_priority;
	j->slots = t->slots;
	j->memory = t->memory;
	j->timeout_ms = t->timeout_ms;
	j->max_attempts = t->retries + 1;
	j->run = r->id;
	j->task = t->id;
	j->retry_delay_ms = t->retry_delay_ms;
	j->retry_exponential = t->retry_exponential;
	j->retry_max_delay_ms = t->max_retry_delay_ms;
	j->pool = t->pool;
	j->inputs = b->inputs[k];
	b->jobtask[k] = i;
	if (map_index >= 0)
		r->map[i].ti[map_index] = TI_QUEUED;
	else
		r->ti[i] = TI_QUEUED;
}

/* Task I of run R is to run: its params rendered, its job added to B.
 * A template that does not render fails the task instead. */
static void
pl_task_submit(struct evalctx *e, struct evalbatch *b, size_t i)
{
	const struct dag_task *t = &e->d->tasks[i];
	char *err = NULL;
	char *params = pl_task_render(e, i, -1, NULL, &err);
	if (params == NULL) {
		pl_task_end(e->r, b, t, i, TI_FAILED, err);
		return;
	}
	char *inputs = pl_task_inputs(e->p, e->r, t);
	pl_task_enqueue(e, b, i, -1, params, inputs);
	free(inputs);
}

/* Submit the instances of mapped task I still in state none, one per
 * element of ITEMS.  All render, or none is submitted and the task
 * fails. */
static void
pl_map_submit(struct evalctx *e, struct evalbatch *b, size_t i,
              json_t *items)
{
	const struct dag_task *t = &e->d->tasks[i];
	struct pmap *m = &e->r->map[i];
	char **params = xcalloc(m->n + 1, sizeof *params);
	char *err = NULL;
	size_t k;
	for (k = 0; k < m->n; k++)
		if (m->ti[k] == TI_NONE &&
		    (params[k] = pl_task_render(e, i, (int)k,
		                 json_array_get(items, k), &err)) == NULL)
			break;
	if (k < m->n) {
		for (size_t j = 0; j < k; j++)
			free(params[j]);
		pl_task_end(e->r, b, t, i, TI_FAILED,
		            xasprintf("instance %zu: %s", k, err));
		free(err);
	} else {
		char *inputs = pl_task_inputs(e->p, e->r, t);
		for (k = 0; k < m->n; k++)
			if (params[k] != NULL)
				pl_task_enqueue(e, b, i, (int)k, params[k], inputs);
		free(inputs);
	}
	free(params);
}

/* The list mapped task I expands over in run R: a new array, or NULL
 * and *err. */
static json_t *
pl_map_items(struct evalctx *e, size_t i, char **err)
{
	json_t *merged;
	struct dag_ctx ctx = pl_ctx(e, i, -1, NULL, &merged);
	json_t *items = dag_render_expand(&ctx, err);
	json_decref(merged);
	return items;
}

/* Mapped task I is to run: one instance per element of its list, none
 * (skipped) for an empty list, and a failure for a list longer than
 * master.max_map_length or one that does not render. */
static void
pl_map_expand(struct evalctx *e, struct evalbatch *b, size_t i)
{
	const struct dag_task *t = &e->d->tasks[i];
	int cap = e->p->cfg->master.max_map_length;
	char *err = NULL;
	json_t *items = pl_map_items(e, i, &err);
	size_t n = json_array_size(items);
	if (items == NULL) {
		pl_task_end(e->r, b, t, i, TI_FAILED, err);
	} else if (n == 0) {
		pl_task_end(e->r, b, t, i, TI_SKIPPED, xasprintf("expand: the "
		            "list is empty: no instance to run"));
	} else if (n > (size_t)cap) {
		pl_task_end(e->r, b, t, i, TI_FAILED, xasprintf("expand: %zu "
		            "items, more than master.max_map_length (%d)", n,
		            cap));
	} else {
		struct pmap *m = &e->r->map[i];
		m->n = n;
		m->ti = xrealloc(m->ti, n * sizeof *m->ti);
		m->job = xrealloc(m->job, n * sizeof *m->job);
		for (size_t k = 0; k < n; k++) {
			m->ti[k] = TI_NONE;
			m->job[k] = 0;
		}
		e->r->ti[i] = TI_RUNNING;
		b->ops[b->nops++] = (struct store_op){ .kind = STORE_TI_EXPAND,
			.run = e->r->id, .task = t->id, .map_count = (int)n };
		pl_map_submit(e, b, i, items);
	}
	json_decref(items);
}

/* Mapped task I is running: instances not yet submitted (a write that
 * failed, a master restarted in between) are; when all have ended, the
 * task succeeds if they all did, else fails. */
static void
pl_map_step(struct evalctx *e, struct evalbatch *b, size_t i)
{
	const struct dag_task *t = &e->d->tasks[i];
	const struct pmap *m = &e->r->map[i];
	size_t waiting = 0, done = 0, ok = 0;
	for (size_t k = 0; k < m->n; k++) {
		waiting += m->ti[k] == TI_NONE;
		done += ti_final(m->ti[k]);
		ok += m->ti[k] == TI_SUCCESS;
	}
	if (waiting > 0) {
		char *err = NULL;
		json_t *items = pl_map_items(e, i, &err);
		if (items == NULL || json_array_size(items) != m->n)
			pl_task_end(e->r, b, t, i, TI_FAILED, items == NULL ? err :
			            xasprintf("expand: the list changed length "
			                      "(%zu, was %zu)",
			                      json_array_size(items), m->n));
		else
			pl_map_submit(e, b, i, items);
		json_decref(items);
	} else if (done == m->n) {
		pl_task_end(e->r, b, t, i, ok == m->n ? TI_SUCCESS : TI_FAILED,
		            ok == m->n ? NULL : xasprintf("%zu of %zu mapped "
		            "instances failed", m->n - ok, m->n));
	}
}

/* Is the run with instance states STATE finished: all instances final?
 * Then *FAILED tells whether a leaf failed (the leaves decide, as in
 * Airflow). */
/* ------------------------------------------------------------- sensors */

/* A task left up for reschedule by a DAG file that no longer calls it a
 * sensor waits with the defaults. */
static const struct dag_sensor pl_sensor_default = {
	.kind = DS_PLUGIN, .poke_interval_ms = DAG_POKE_DEFAULT_MS,
	.timeout_ms = DAG_SENSOR_TIMEOUT_DEFAULT_MS,
};

static const struct dag_sensor *
pl_sensor(const struct dag_task *t)
{
	return t->sensor ? t->sensor : &pl_sensor_default;
}

/* Sensor I of run R waits until its next poke, for the reason WHY
 * (taken): up for reschedule, in the store with the poke's time. */
static void
pl_sensor_wait(struct prun *r, struct evalbatch *b, const struct dag_task *t,
               size_t i, int64_t now, char *why)
{
	r->ti[i] = TI_UP_FOR_RESCHEDULE;
	r->poke_last[i] = now;
	if (r->poke_since[i] == 0)
		r->poke_since[i] = now;
	int64_t due = sensor_next_ms(pl_sensor(t), now);
	if (r->sensor_due == 0 || due < r->sensor_due)
		r->sensor_due = due;
	b->why[b->nops] = why;
	b->ops[b->nops++] = (struct store_op){ .kind = STORE_TI_SET,
		.run = r->id, .task = t->id, .state = TI_UP_FOR_RESCHEDULE,
		.error = why, .t_ms = now };
}

/* The master pokes sensor I itself (dag_run, artifact): no job. */
static void
pl_sensor_poke(struct evalctx *e, struct evalbatch *b, size_t i, int64_t now)
{
	struct prun *r = e->r;
	const struct dag_task *t = &e->d->tasks[i];
	char *err = NULL, *why = NULL;
	json_t *merged;
	struct dag_ctx ctx = pl_ctx(e, i, -1, NULL, &merged);
	json_t *params = dag_render_params(&ctx, &err);
	json_decref(merged);
	if (params == NULL) {
		pl_task_end(r, b, t, i, TI_FAILED, err);
		return;
	}
	int rc = sensor_poke_master(e->p->st, t->sensor, params, r->logical,
	                            r->created_ms, &why);
	json_decref(params);
	if (rc < 0) {           /* the store: poke again soon */
		log_warn("run %s sensor %s: %s", r->run_id, t->id, why);
		free(why);
		if (r->sensor_due == 0 || now + RETRY_MS < r->sensor_due)
			r->sensor_due = now + RETRY_MS;
	} else if (rc == SENSOR_FAILED) {
		pl_task_end(r, b, t, i, TI_FAILED, why);   /* takes WHY */
	} else if (rc == 1) {
		log_info("run %s sensor %s: %s", r->run_id, t->id, why);
		free(why);
		r->ti[i] = TI_SUCCESS;
		b->ops[b->nops++] = (struct store_op){ .kind = STORE_TI_SET,
			.run = r->id, .task = t->id, .state = TI_SUCCESS };
	} else {
		pl_sensor_wait(r, b, t, i, now, why);
	}
}

/* Sensor I is up for reschedule: poke it if due, fail it (or skip it,
 * with soft_fail) if its timeout passed, else note when it is due. */
static void
pl_sensor_step(struct evalctx *e, struct evalbatch *b, size_t i, int64_t now)
{
	struct prun *r = e->r;
	const struct dag_task *t = &e->d->tasks[i];
	const struct dag_sensor *s = pl_sensor(t);
	char *why = NULL;
	if (sensor_timed_out(s, r->poke_since[i], now, &why)) {
		metrics_sensor_timeout();
		pl_task_end(r, b, t, i, s->soft_fail ? TI_SKIPPED : TI_FAILED,
		            why);
		return;
	}
	int64_t due = sensor_next_ms(s, r->poke_last[i]);
	if (due > now) {
		if (r->sensor_due == 0 || due < r->sensor_due)
			r->sensor_due = due;
	} else if (t->sensor != NULL && sensor_on_master(t->sensor)) {
		pl_sensor_poke(e, b, i, now);
	} else {
		pl_task_submit(e, b, i);
		/* Looked at again at the timeout (pl_sensor_queued). */
		int64_t at = r->poke_since[i] + s->timeout_ms;
		if (r->sensor_due == 0 || at < r->sensor_due)
			r->sensor_due = at;
	}
}

/* Sensor I's poke job is queued (or already running): past the
 * sensor's timeout it is cancelled and the sensor ends as a timed-out
 * one would, rather than at its next poke, which may wait long behind
 * busy slots; before it, the run is evaluated again at the timeout. */
static void
pl_sensor_queued(pipeline *p, struct prun *r, const struct dag_task *t,
                 size_t i, int64_t now)
{
	const struct dag_sensor *s = pl_sensor(t);
	char *why = NULL;
	if (r->poke_since[i] <= 0 || r->job[i] == 0)
		return;         /* the first poke: its own timeout bounds it */
	if (!sensor_timed_out(s, r->poke_since[i], now, &why)) {
		int64_t at = r->poke_since[i] + s->timeout_ms;
		if (r->sensor_due == 0 || at < r->sensor_due)
			r->sensor_due = at;
		return;
	}
	for (struct pcancel *c = p->cancels; c != NULL; c = c->next)
		if (c->job == r->job[i]) {
			free(why);
			return;
		}
	struct pcancel *c = xcalloc(1, sizeof *c);
	c->run = r->id;
	c->job = r->job[i];
	c->task = xstrdup(t->id);
	c->state = s->soft_fail ? TI_SKIPPED : TI_FAILED;
	c->why = why;
	c->next = p->cancels;
	p->cancels = c;
}

/* Cancel the poke jobs pl_sensor_queued() listed (p->mu not held) and
 * end their sensors; a poke that ended meanwhile is left as it ended. */
static void
pl_sensor_cancel(pipeline *p, struct pcancel *list)
{
	for (struct pcancel *c = list; c != NULL; c = c->next) {
		char *err = NULL;
		int rc = sched_cancel(p->sc, c->job, &err);
		if (rc == 0) {
			struct store_op op = { .kind = STORE_TI_SET,
				.run = c->run, .task = c->task,
				.state = c->state, .error = c->why };
			free(err);
			err = NULL;
			rc = store_apply(p->st, &op, 1, &err);
			if (rc == 0) {
				metrics_sensor_timeout();
				log_warn("sensor %s (job %lld): %s", c->task,
				         (long long)c->job, c->why);
			}
		}
		if (rc != 0 && rc != -EALREADY)
			log_warn("sensor %s: cancelling its poke job %lld at "
			         "its timeout: %s", c->task, (long long)c->job,
			         err ? err : "failed");
		free(err);
	}
}

static int
run_finished(const struct dag *d, const int *state, int *failed)
{
	*failed = 0;
	for (size_t i = 0; i < d->ntasks; i++)
		if (state[i] >= 0 && !ti_final(state[i]))
			return 0;
	for (size_t i = 0; i < d->ntasks; i++) {
		int leaf = 1;
		for (size_t k = 0; k < d->ntasks && leaf; k++)
			for (size_t u = 0; u < d->tasks[k].ndeps; u++)
				if ((size_t)d->tasks[k].dep_index[u] == i)
					leaf = 0;
		if (leaf && (state[i] == TI_FAILED ||
		             state[i] == TI_UPSTREAM_FAILED))
			*failed = 1;
	}
	return 1;
}

/* What run R decided could not be written or read (ERR, freed): it is
 * evaluated again from the store after RETRY_MS.  Returns 0 (not
 * finished). */
static int
run_held(pipeline *p, struct prun *r, char *err)
{
	(void)p;
	log_warn("run %s: evaluated again in %d ms: %s", r->run_id, RETRY_MS,
	         err);
	free(err);
	r->loaded = 0;
	r->dirty = 1;
	r->hold_until = clock_mono_ms() + RETRY_MS;
	return 0;
}

/* Run R's DAG file is gone: the run cannot go on.  Returns 1 (finished). */
static int
run_orphaned(pipeline *p, struct prun *r)
{
	struct store_op op = { .kind = STORE_RUN_STATE, .id = r->id,
	                       .state = RUN_FAILED };
	char *err = NULL;

	if (store_apply(p->st, &op, 1, &err) != 0)
		return run_held(p, r, err);
	log_warn("run %s: DAG %s is gone; run failed", r->run_id, r->dag_id);
	return 1;
}

/* The DAG that a run of PD on VERSION runs (locked): the current one,
 * or an older version parsed again from the store (dagver.c), borrowed
 * until the end of this work().  A version that cannot be rebuilt runs
 * as the current one, said once in the log. */
static const struct dag *
pl_version_dag(pipeline *p, struct pdag *pd, int version)
{
	if (version <= 0 || version == pd->version || pd->version == 0)
		return pd->d;
	char *err = NULL;
	const struct dag *d = dagver_dag(p->vers, p->st, pd->d->id, pd->file,
	                                 version, &err);
	if (d == NULL && err != NULL)
		log_warn("%s; its runs use the current version %d", err,
		         pd->version);
	free(err);
	return d != NULL ? d : pd->d;
}

/* For dagver_sweep(): does an active run of DAG_ID run VERSION? */
static int
pl_version_used(const char *dag_id, int version, void *ud)
{
	pipeline *p = ud;
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		if (r->version == version && strcmp(r->dag_id, dag_id) == 0)
			return 1;
	return 0;
}

/* Decide what can be decided in run R (locked).  Returns 1 if the run is
 * finished now. */
static int
eval_run(pipeline *p, struct prun *r)
{
	struct pdag *pd = pl_dag_find(p, r->dag_id);
	char *err = NULL;

	if (r->hold_until > clock_mono_ms()) {
		r->dirty = 1;
		return 0;
	}
	if (pd == NULL)
		return run_orphaned(p, r);
	const struct dag *d = pl_version_dag(p, pd, r->version);
	if (r->state == RUN_QUEUED &&
	    active_runs(p, d->id, 1) >= d->max_active_runs)
		return 0;       /* waits for a running run of its DAG to end */

	if ((!r->loaded || r->ntasks != d->ntasks) && load_run(p, r, d, &err) != 0)
		return run_held(p, r, err);
	int was = r->state;
	struct evalctx e = { .p = p, .d = d, .r = r };
	e.parsed = xcalloc(d->ntasks + 1, sizeof *e.parsed);
	int *state = r->ti;
	struct evalbatch b;
	evalbatch_init(&b, d->ntasks);
	int64_t now = clock_now_ms();
	r->sensor_due = 0;          /* the waiting sensors set it again */

	for (size_t k = 0; k < d->ntasks; k++) {
		size_t i = d->order[k];
		const struct dag_task *t = &d->tasks[i];
		/* Expanded in this run (even if the DAG file changed
		 * since: its instances are what the store says). */
		if (state[i] == TI_RUNNING && r->map[i].n > 0) {
			pl_map_step(&e, &b, i);
			continue;
		}
		if (state[i] == TI_UP_FOR_RESCHEDULE) {
			pl_sensor_step(&e, &b, i, now);
			continue;
		}
		if (state[i] == TI_QUEUED && t->sensor != NULL &&
		    !sensor_on_master(t->sensor)) {
			pl_sensor_queued(p, r, t, i, now);
			continue;
		}
		if (state[i] != TI_NONE)
			continue;
		int v = pl_task_verdict(t, state);
		if (v == T_RUN && t->sensor != NULL && sensor_on_master(t->sensor))
			pl_sensor_poke(&e, &b, i, now);
		else if (v == T_RUN && t->expand != NULL)
			pl_map_expand(&e, &b, i);
		else if (v == T_RUN)
			pl_task_submit(&e, &b, i);
		else if (v != T_WAIT)
			pl_task_end(r, &b, t, i, v == T_SKIPPED ? TI_SKIPPED :
			            TI_UPSTREAM_FAILED, NULL);
	}
	int failed;
	int finished = run_finished(d, state, &failed);
	if (finished) {
		b.ops[b.nops++] = (struct store_op){ .kind = STORE_RUN_STATE,
			.id = r->id, .state = failed ? RUN_FAILED : RUN_SUCCESS };
	} else if (r->state == RUN_QUEUED) {
		b.ops[b.nops++] = (struct store_op){ .kind = STORE_RUN_STATE,
			.id = r->id, .state = RUN_RUNNING };
		r->state = RUN_RUNNING;
	}
	if ((b.nops && store_apply(p->st, b.ops, b.nops, &err) != 0) ||
	    (b.njobs && sched_submit(p->sc, b.jobs, b.njobs, &err) != 0)) {
		/* Decided in memory only: forgotten, and decided again from
		 * what the store has (a submitted job's instance is written
		 * with it, so none is submitted twice). */
		r->state = was;
		finished = run_held(p, r, err);
		b.njobs = 0;
	}
	for (size_t k = 0; k < b.njobs; k++) {
		if (b.jobs[k].mapped)
			r->map[b.jobtask[k]].job[b.jobs[k].map_index] = b.jobs[k].id;
		else
			r->job[b.jobtask[k]] = b.jobs[k].id;
	}
	pl_notify_tasks(p, r, d);
	if (finished) {
		log_info("run %s: %s", r->run_id, failed ? "failed" : "success");
		metrics_dag_run_done(!failed);
		r->state = failed ? RUN_FAILED : RUN_SUCCESS;
		pl_notify(p, r, NULL, -1, failed ? DAG_ON_FAILURE :
		          DAG_ON_SUCCESS, 0, &d->on[failed ? DAG_ON_FAILURE :
		          DAG_ON_SUCCESS], 0, NULL);
	}

	for (size_t i = 0; i < d->ntasks; i++)
		json_decref(e.parsed[i]);
	free(e.parsed);
	evalbatch_free(&b);
	return finished;
}

/* ------------------------------------------------------------ DAG files */

static int
pl_plugin_known(const char *name, void *ud)
{
	pipeline *p = ud;
	if (sched_has_plugin(p->sc, name))
		return 1;
	char *path = xasprintf("%s/%s.so", p->cfg->master.plugin_dir, name);
	int ok = access(path, R_OK) == 0;
	free(path);
	return ok;
}

static void
set_error(pipeline *p, const char *file, const char *msg, const struct stat *sb)
{
	for (struct perr *e = p->errs; e != NULL; e = e->next)
		if (strcmp(e->file, file) == 0) {
			if (strcmp(e->msg, msg) != 0) {
				free(e->msg);
				e->msg = xstrdup(msg);
				log_warn("DAG import error: %s", msg);
			}
			e->mtime = sb->st_mtim;
			return;
		}
	struct perr *e = xcalloc(1, sizeof *e);
	e->file = xstrdup(file);
	e->msg = xstrdup(msg);
	e->mtime = sb->st_mtim;
	e->next = p->errs;
	p->errs = e;
	log_warn("DAG import error: %s", msg);
}

static void
clear_error(pipeline *p, const char *file)
{
	for (struct perr **pp = &p->errs; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->file, file) == 0) {
			struct perr *e = *pp;
			*pp = e->next;
			free(e->file);
			free(e->msg);
			free(e);
			return;
		}
}

static struct pdag *
pdag_by_file(pipeline *p, const char *file)
{
	for (struct pdag *d = p->dags; d != NULL; d = d->next)
		if (strcmp(d->file, file) == 0)
			return d;
	return NULL;
}

static void
load_file(pipeline *p, const char *file, const struct stat *sb)
{
	struct pdag *pd = pdag_by_file(p, file);
	if (pd != NULL) {
		pd->seen = 1;
		if (pd->mtime.tv_sec == sb->st_mtim.tv_sec &&
		    pd->mtime.tv_nsec == sb->st_mtim.tv_nsec && pd->size == sb->st_size)
			return;
	} else {
		for (struct perr *e = p->errs; e != NULL; e = e->next)
			if (strcmp(e->file, file) == 0 &&
			    e->mtime.tv_sec == sb->st_mtim.tv_sec &&
			    e->mtime.tv_nsec == sb->st_mtim.tv_nsec &&
			    strstr(e->msg, "plugin") == NULL)
				return;   /* unchanged and still broken */
	}
	struct dag *d = NULL;
	char *err = NULL, *text = NULL;
	size_t len = 0;
	if (dag_read_file(file, &text, &len, &err) != 0 ||
	    dag_load_text(file, text, len, pl_plugin_known, p, &d, &err) != 0) {
		free(text);
		set_error(p, file, err, sb);
		free(err);
		if (pd != NULL) {   /* keep the last good version running */
			pd->mtime = sb->st_mtim;
			pd->size = sb->st_size;
		}
		return;
	}
	struct pdag *other = pl_dag_find(p, d->id);
	if (other != NULL && other != pd) {
		char *msg = xasprintf("%s:1:1: DAG id '%s' is already defined in %s",
		                      file, d->id, other->file);
		set_error(p, file, msg, sb);
		free(msg);
		dag_free(d);
		free(text);
		return;
	}
	clear_error(p, file);
	int version = 0;
	if (dagver_record(p->st, d, text, len, &version, &err) != 0) {
		log_warn("DAG %s: its version not kept (%s); its new runs name "
		         "none", d->id, err);
		free(err);
		err = NULL;
	}
	free(text);
	if (pd == NULL) {
		pd = xcalloc(1, sizeof *pd);
		pd->file = xstrdup(file);
		pd->seen = 1;
		pd->next = p->dags;
		p->dags = pd;
		int paused = 0;
		int64_t next = 0;
		if (store_dag_state(p->st, d->id, &paused, &next, &err) == 0) {
			pd->paused = paused;
			pd->next_start = next;
		}
		free(err);
		log_info("loaded DAG %s from %s (%zu tasks, schedule %s)", d->id,
		         file, d->ntasks, d->schedule_text ? d->schedule_text : "none");
	} else {
		log_info("reloaded DAG %s from %s", d->id, file);
		dag_free(pd->d);
	}
	pd->d = d;
	pd->version = version;
	pd->mtime = sb->st_mtim;
	pd->size = sb->st_size;
	pd->due = 0;
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		if (strcmp(r->dag_id, d->id) == 0) {
			r->dirty = 1;
			r->loaded = 0;
		}
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
scan_dir(pipeline *p)
{
	const char *dir = p->cfg->master.dags_dir;
	for (struct pdag *d = p->dags; d != NULL; d = d->next)
		d->seen = 0;
	DIR *dh = dir ? opendir(dir) : NULL;
	if (dh != NULL) {
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;
		while ((de = readdir(dh)) != NULL) {
			size_t l = strlen(de->d_name);
			if (de->d_name[0] == '.' || l < 6 ||
			    (strcmp(de->d_name + l - 5, ".yaml") != 0 &&
			     strcmp(de->d_name + l - 4, ".yml") != 0))
				continue;
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xasprintf("%s/%s", dir, de->d_name);
		}
		closedir(dh);
		if (n > 1)
			qsort(names, n, sizeof *names, name_cmp);
		for (size_t i = 0; i < n; i++) {
			struct stat sb;
			if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode))
				load_file(p, names[i], &sb);
			free(names[i]);
		}
		free(names);
	}
	/* Deleted files: their DAGs go; errors of deleted files too. */
	for (struct pdag **pp = &p->dags; *pp != NULL;) {
		struct pdag *d = *pp;
		if (d->seen) {
			pp = &d->next;
			continue;
		}
		log_info("DAG %s removed (%s is gone)", d->d ? d->d->id : "?", d->file);
		*pp = d->next;
		for (struct prun *r = p->runs; r != NULL; r = r->next)
			if (d->d && strcmp(r->dag_id, d->d->id) == 0)
				r->dirty = 1;
		dag_free(d->d);
		free(d->file);
		free(d);
	}
	for (struct perr **pp = &p->errs; *pp != NULL;) {
		if (access((*pp)->file, F_OK) != 0) {
			struct perr *e = *pp;
			*pp = e->next;
			free(e->file);
			free(e->msg);
			free(e);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* ---------------------------------------------------------------- loop */

static void
work(pipeline *p)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int64_t mono = clock_mono_ms();
	if (mono >= p->next_scan) {
		scan_dir(p);
		p->next_scan = mono + SCAN_MS;
	}
	int64_t now = now_s();
	for (struct pdag *d = p->dags; d != NULL; d = d->next)
		if (d->due <= now)
			schedule_dag(p, d, now);
	/* Sensors whose next poke is due (src/sensor.c). */
	int64_t now_ms = clock_now_ms();
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		if (r->sensor_due != 0 && r->sensor_due <= now_ms) {
			r->sensor_due = 0;
			r->dirty = 1;
		}
	/* Deadlines, twice a second. */
	if (p->al != NULL && mono >= p->next_deadlines) {
		p->next_deadlines = mono + 500;
		for (struct prun *r = p->runs; r != NULL; r = r->next)
			pl_deadlines_run(p, r, now_ms);
	}
	/* Dirty runs until none is: a finished run may let a queued one of
	 * the same DAG start. */
	for (int again = 1; again;) {
		again = 0;
		for (struct prun **pp = &p->runs; *pp != NULL;) {
			struct prun *r = *pp;
			if (!r->dirty) {
				pp = &r->next;
				continue;
			}
			r->dirty = 0;
			if (eval_run(p, r)) {
				*pp = r->next;
				for (struct prun *o = p->runs; o != NULL; o = o->next)
					if (strcmp(o->dag_id, r->dag_id) == 0 &&
					    o->state == RUN_QUEUED) {
						o->dirty = 1;
						again = 1;
					}
				struct pdag *pd = pl_dag_find(p, r->dag_id);
				if (pd != NULL)
					pd->due = 0;   /* a slot for max_active_runs */
				prun_free(r);
				continue;
			}
			pp = &r->next;
		}
	}
	dagver_sweep(p->vers, pl_version_used, p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_sched_loop((double)(t1.tv_sec - t0.tv_sec) +
	                   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int
pipeline_sensors_waiting(pipeline *p)
{
	int n = 0;
	pthread_mutex_lock(&p->mu);
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		for (size_t i = 0; r->loaded && i < r->ntasks; i++)
			n += r->ti[i] == TI_UP_FOR_RESCHEDULE;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
pipeline_stats(pipeline *p, int *dags, int *errors, int *queued, int *running)
{
	pthread_mutex_lock(&p->mu);
	*dags = *errors = *queued = *running = 0;
	for (struct pdag *d = p->dags; d != NULL; d = d->next)
		(*dags)++;
	for (struct perr *e = p->errs; e != NULL; e = e->next)
		(*errors)++;
	for (struct prun *r = p->runs; r != NULL; r = r->next) {
		if (r->state == RUN_RUNNING)
			(*running)++;
		else
			(*queued)++;
	}
	pthread_mutex_unlock(&p->mu);
}

static void *
pipeline_main(void *arg)
{
	pipeline *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		p->kick = 0;
		work(p);
		if (p->cancels != NULL) {
			struct pcancel *list = p->cancels;
			p->cancels = NULL;
			pthread_mutex_unlock(&p->mu);
			pl_sensor_cancel(p, list);
			pthread_mutex_lock(&p->mu);
			while (list != NULL) {
				struct pcancel *c = list;
				list = c->next;
				for (struct prun *r = p->runs; r; r = r->next)
					if (r->id == c->run) {
						r->loaded = 0;
						r->dirty = 1;
					}
				free(c->task);
				free(c->why);
				free(c);
			}
			continue;
		}
		if (p->kick || p->stopping)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void
poke(pipeline *p)
{
	p->kick = 1;
	pthread_cond_signal(&p->cv);
}

void
pipeline_rescan(pipeline *p)
{
	pthread_mutex_lock(&p->mu);
	p->next_scan = 0;
	poke(p);
	pthread_mutex_unlock(&p->mu);
}

void
pipeline_job_done(void *ud, int64_t run, int64_t job, int state)
{
	pipeline *p = ud;
	pthread_mutex_lock(&p->mu);
	for (struct prun *r = p->runs; r != NULL; r = r->next) {
		if (r->id != run)
			continue;
		if (state == SCHED_DONE_RETRY) {
			pl_notify_retry(p, r, job);
			break;
		}
		r->dirty = 1;
		int ti = state == JOB_SUCCEEDED ? TI_SUCCESS : TI_FAILED;
		struct pdag *pd = pl_dag_find(p, r->dag_id);
		for (size_t i = 0; r->loaded && i < r->ntasks; i++) {
			if (r->job[i] == job) {
				r->ti[i] = ti;
				/* A poke that said "not yet" is up for
				 * reschedule: the store knows which. */
				if (pd != NULL && i < pd->d->ntasks &&
				    pd->d->tasks[i].sensor != NULL)
					r->loaded = 0;
				break;
			}
			for (size_t k = 0; k < r->map[i].n; k++)
				if (r->map[i].job[k] == job)
					r->map[i].ti[k] = ti;
		}
	}
	poke(p);
	pthread_mutex_unlock(&p->mu);
}

int
pipeline_start(const struct kiln_config *c, store *st, sched *sc,
               pipeline **out, char **err)
{
	pipeline *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->cfg = c;
	p->st = st;
	p->sc = sc;
	p->vers = dagver_new();
	int rc = store_runs_active(st, add_run, p, err);
	if (rc != 0) {
		pipeline_stop(p);
		return rc;
	}
	int n = 0;
	for (struct prun *r = p->runs; r != NULL; r = r->next)
		n++;
	if (n)
		log_info("pipelines: %d active runs to carry on", n);
	if (pthread_create(&p->thread, NULL, pipeline_main, p) != 0) {
		pipeline_stop(p);
		return err_set(err, -EAGAIN, "cannot start the pipeline thread");
	}
	p->started = 1;
	*out = p;
	return 0;
}

void
pipeline_set_alert(pipeline *p, alert *a)
{
	pthread_mutex_lock(&p->mu);
	p->al = a;
	pthread_mutex_unlock(&p->mu);
}

void
pipeline_stop(pipeline *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	while (p->dags != NULL) {
		struct pdag *d = p->dags;
		p->dags = d->next;
		dag_free(d->d);
		free(d->file);
		free(d);
	}
	while (p->errs != NULL) {
		struct perr *e = p->errs;
		p->errs = e->next;
		free(e->file);
		free(e->msg);
		free(e);
	}
	while (p->runs != NULL) {
		struct prun *r = p->runs;
		p->runs = r->next;
		prun_free(r);
	}
	dagver_free(p->vers);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/* ------------------------------------------------------------------ API */

static json_t *
iso_or_null(int64_t t)
{
	if (t <= 0 || t == INT64_MAX)
		return json_null();
	char buf[64];
	cron_format_iso(t, buf, sizeof buf);
	return json_string(buf);
}

static int
last_run_cb(const struct store_run *r, void *ud)
{
	json_t **o = ud;
	*o = json_pack("{s:s,s:s,s:o}", "run_id", r->run_id,
	               "state", store_run_state_name(r->state),
	               "logical_date", iso_or_null(r->logical_date));
	return 1;
}

static json_t *
pl_dag_summary(pipeline *p, const struct pdag *pd)
{
	const struct dag *d = pd->d;
	json_t *last = json_null();
	char *err = NULL;
	store_run_list(p->st, d->id, -1, 0, 1, last_run_cb, &last, &err);
	free(err);
	int64_t next = INT64_MAX;
	if (d->schedule_text != NULL && d->cron.kind != CRON_NONE) {
		int64_t s = pd->next_start > 0 ? pd->next_start :
		            first_at_or_after(&d->cron, d->start_date, d->start_date);
		next = s > 0 ? cron_next(&d->cron, s, d->start_date) : -1;
	}
	return json_pack("{s:s,s:s?,s:s?,s:b,s:o,s:o,s:i,s:b,s:i,s:s,s:o}",
		"id", d->id, "description", d->description,
		"schedule", d->schedule_text, "paused", pd->paused,
		"next_run", iso_or_null(next), "last_run", last,
		"tasks", (int)d->ntasks, "catchup", d->catchup,
		"max_active_runs", d->max_active_runs, "file", pd->file,
		"active_runs", json_integer(active_runs(p, d->id, 0)));
}

json_t *
pipeline_dags_json(pipeline *p)
{
	json_t *a = json_array();
	pthread_mutex_lock(&p->mu);
	for (struct pdag *pd = p->dags; pd != NULL; pd = pd->next)
		json_array_append_new(a, pl_dag_summary(p, pd));
	pthread_mutex_unlock(&p->mu);
	return a;
}

json_t *
pipeline_dag_json(pipeline *p, const char *dag_id)
{
	json_t *o = NULL;
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	if (pd != NULL) {
		const struct dag *d = pd->d;
		o = pl_dag_summary(p, pd);
		json_t *tasks = json_array();
		for (size_t k = 0; k < d->ntasks; k++) {
			const struct dag_task *t = &d->tasks[d->order[k]];
			json_t *deps = json_array();
			for (size_t u = 0; u < t->ndeps; u++)
				json_array_append_new(deps, json_string(t->deps[u]));
			json_array_append_new(tasks, json_pack(
				"{s:s,s:s,s:O,s:o,s:s,s:i,s:I,s:I,s:s?,s:i,s:i,s:s}",
				"id", t->id, "plugin", t->plugin, "params", t->params,
				"depends_on", deps,
				"trigger_rule", dag_trigger_rule_name(t->trigger_rule),
				"retries", t->retries,
				"retry_delay_ms", (json_int_t)t->retry_delay_ms,
				"timeout_ms", (json_int_t)t->timeout_ms, "pool", t->pool,
				"priority", t->effective_priority,
				"priority_weight", t->priority, "weight_rule",
				dag_weight_rule_name(t->weight_rule)));
			if (t->expand != NULL)  /* mapped: { PARAM: LIST } */
				json_object_set_new(json_array_get(tasks,
					json_array_size(tasks) - 1), "expand",
					json_pack("{s:O}", t->expand_param,
					          t->expand));
			if (t->sensor != NULL)
				json_object_set_new(json_array_get(tasks,
					json_array_size(tasks) - 1), "sensor",
					json_pack("{s:s,s:I,s:I,s:b,s:s}", "kind",
					dag_sensor_kind_name(t->sensor->kind),
					"poke_interval_ms", (json_int_t)
					t->sensor->poke_interval_ms, "timeout_ms",
					(json_int_t)t->sensor->timeout_ms,
					"soft_fail", t->sensor->soft_fail, "mode",
					"reschedule"));
		}
		json_object_set_new(o, "task_list", tasks);
		json_object_set(o, "params", d->params ? d->params : json_object());
		json_object_set_new(o, "dag_version",
		                    dagver_run_json(p->st, d->id, pd->version));
	}
	pthread_mutex_unlock(&p->mu);
	return o;
}

json_t *
pipeline_errors_json(pipeline *p)
{
	json_t *a = json_array();
	pthread_mutex_lock(&p->mu);
	for (struct perr *e = p->errs; e != NULL; e = e->next)
		json_array_append_new(a, json_pack("{s:s,s:s}", "file", e->file,
		                                   "error", e->msg));
	pthread_mutex_unlock(&p->mu);
	return a;
}

int
pipeline_trigger(pipeline *p, const char *dag_id, json_t *conf,
                 char **run_id, char **err)
{
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	int rc = 0;
	if (pd == NULL) {
		rc = err_set(err, -ENOENT, "no DAG '%s'", dag_id);
	} else {
		/* Unknown or mistyped params would fail at run time: refuse
		 * now. */
		rc = dag_conf_check(pd->d, conf, err);
		if (rc == 0) {
			int64_t t = now_s();
			if ((rc = create_run(p, pd, "manual", t, t, t, conf, 0,
			                     run_id, err)) > 0)
				rc = 0;
			poke(p);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
pipeline_pause(pipeline *p, const char *dag_id, int paused, char **err)
{
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	int rc = 0;
	if (pd == NULL) {
		rc = err_set(err, -ENOENT, "no DAG '%s'", dag_id);
	} else {
		struct store_op op = { .kind = STORE_DAG_SET, .dag_id = dag_id,
		                       .paused = paused, .next_start = -1 };
		rc = store_apply(p->st, &op, 1, err);
		if (rc == 0) {
			pd->paused = paused;
			pd->due = 0;
			poke(p);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
pipeline_backfill(pipeline *p, const char *dag_id, int64_t from, int64_t to,
                  int *created, char **err)
{
	*created = 0;
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	int rc = 0;
	if (pd == NULL) {
		rc = err_set(err, -ENOENT, "no DAG '%s'", dag_id);
	} else if (pd->d->schedule_text == NULL || pd->d->cron.kind == CRON_NONE) {
		rc = err_set(err, -EINVAL, "DAG %s has no schedule to backfill", dag_id);
	} else if (to < from) {
		rc = err_set(err, -EINVAL, "backfill: --to is before --from");
	} else {
		const struct dag *d = pd->d;
		int64_t s = first_at_or_after(&d->cron, from, d->start_date);
		for (int n = 0; s >= 0 && s <= to && n < 10000; n++) {
			int64_t e = cron_next(&d->cron, s, d->start_date);
			if (e < 0)
				break;
			if ((rc = create_run(p, pd, "backfill", s, s, e, NULL, 0,
			                     NULL, err)) < 0)
				break;
			*created += rc;
			rc = 0;
			s = e;
		}
		poke(p);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

struct ti_states {
	const struct dag *d;
	int *state;
};

static int
ti_state_cb(const struct store_ti *t, void *ud)
{
	struct ti_states *ts = ud;
	const struct dag_task *dt = dag_task_find(ts->d, t->task);
	if (dt != NULL && t->map_index < 0)
		ts->state[dt - ts->d->tasks] = t->state;
	return 0;
}

/* Which tasks of D setting task T to STATE touches, in MARK: T; with
 * DOWNSTREAM, everything downstream of it; marking it success also
 * clears what is downstream and failed only because of it
 * (upstream_failed), so that it can run.  With UPSTREAM, everything T
 * depends on, directly or not, is marked PL_UPSTREAM: it gets STATE too
 * (Airflow's clear and mark with "upstream"). */
#define PL_UPSTREAM 2
static void
pl_affected(const struct dag *d, size_t t, int state, int downstream,
            int upstream, const int *cur, char *mark)
{
	mark[t] = 1;
	for (size_t k = 0; k < d->ntasks; k++) {
		size_t i = d->order[k];
		int up = 0;
		for (size_t u = 0; u < d->tasks[i].ndeps; u++)
			up |= mark[d->tasks[i].dep_index[u]] == 1;
		if (up && (downstream || (state == TI_SUCCESS &&
		                          cur[i] == TI_UPSTREAM_FAILED)))
			mark[i] = 1;
	}
	/* Ancestors: the reverse topological order reaches each after
	 * every task that depends on it. */
	for (size_t k = d->ntasks; upstream && k-- > 0;) {
		size_t i = d->order[k];
		if (i != t && mark[i] != PL_UPSTREAM)
			continue;
		for (size_t u = 0; u < d->tasks[i].ndeps; u++) {
			size_t j = (size_t)d->tasks[i].dep_index[u];
			if (mark[j] == 0)
				mark[j] = PL_UPSTREAM;
		}
	}
}

/* Apply what pl_affected chose (p->mu held); 0 or a negative error. */
static int
pl_apply_tasks(pipeline *p, struct store_run *sr, const struct dag *d,
               size_t t, int state, const char *mark, int version, char **err)
{
	struct store_op *ops = xcalloc(d->ntasks + 2, sizeof *ops);
	const char **names = xcalloc(d->ntasks + 1, sizeof *names);
	struct store_run_new vt = { .tasks = names, .ntasks = d->ntasks };
	size_t n = 0;
	/* On another version (--latest): the run names it from now on, with
	 * instances of the tasks that version added. */
	if (version > 0 && version != sr->dag_version) {
		for (size_t i = 0; i < d->ntasks; i++)
			names[i] = d->tasks[i].id;
		ops[n++] = (struct store_op){ .kind = STORE_RUN_VERSION,
			.id = sr->id, .dag_version = version, .run_new = &vt };
	}
	for (size_t i = 0; i < d->ntasks; i++)
		if (mark[i])
			ops[n++] = (struct store_op){ .kind = STORE_TI_SET,
				.run = sr->id, .task = d->tasks[i].id,
				.state = i == t || mark[i] == PL_UPSTREAM ? state :
				         TI_NONE };
	ops[n++] = (struct store_op){ .kind = STORE_RUN_STATE, .id = sr->id,
	                              .state = RUN_RUNNING };
	int rc = store_apply(p->st, ops, n, err);
	free(ops);
	free(names);
	if (rc != 0)
		return rc;
	if (version > 0)
		sr->dag_version = version;
	struct prun *r;
	for (r = p->runs; r != NULL && r->id != sr->id; r = r->next)
		;
	if (r == NULL) {
		sr->state = RUN_RUNNING;
		add_run(sr, p);
	} else {
		/* A mark is not an end to tell (Airflow runs no callback on
		 * mark success or mark failed): the marked task is taken as
		 * told in its new state, and what it clears as not ended, so
		 * their real ends are told.  The run's own on_success or
		 * on_failure is still told when the run ends. */
		if (r->told != NULL && r->ntold == d->ntasks &&
		    (version <= 0 || version == r->version))
			for (size_t i = 0; i < d->ntasks; i++)
				if (mark[i])
					r->told[i] = i == t ? state : TI_NONE;
		r->version = sr->dag_version;
		r->dirty = 1;
		r->loaded = 0;
	}
	poke(p);
	return 0;
}

int
pipeline_set_tasks(pipeline *p, const char *run_id, const char *task,
                   int state, int downstream, int upstream, int dry_run,
                   int latest, json_t **tasks, char **err)
{
	struct store_run sr;
	*tasks = NULL;
	pthread_mutex_lock(&p->mu);
	int rc = store_run_find(p->st, run_id, &sr, err);
	struct pdag *pd = rc == 0 ? pl_dag_find(p, sr.dag_id) : NULL;
	/* The run's own version of the DAG (its commands, params and
	 * dependencies), unless LATEST asks for the current one. */
	const struct dag *vd = pd == NULL ? NULL : latest ? pd->d :
	                       pl_version_dag(p, pd, sr.dag_version);
	int version = pd != NULL && latest ? pd->version : 0;
	const struct dag_task *t = vd ? dag_task_find(vd, task) : NULL;
	if (rc == -ENOENT) {
		err_set(err, rc, "no run '%s'", run_id);
	} else if (rc == 0 && t == NULL) {
		rc = err_set(err, -ENOENT, "run %s has no task '%s'%s", run_id,
		             task, latest ? " in the current version of its DAG" : "");
	} else if (rc == 0) {
		const struct dag *d = vd;
		size_t ti = (size_t)(t - d->tasks);
		struct ti_states ts = { d, xcalloc(d->ntasks + 1, sizeof *ts.state) };
		char *mark = xcalloc(d->ntasks + 1, 1);
		rc = store_tis(p->st, sr.id, ti_state_cb, &ts, err);
		if (rc == 0)
			pl_affected(d, ti, state, downstream, upstream, ts.state,
			            mark);
		/* A job still at work would overwrite the mark when it ends. */
		for (size_t i = 0; rc == 0 && state != TI_NONE &&
		     i < d->ntasks; i++) {
			int s = ts.state[i];
			if ((i == ti || mark[i] == PL_UPSTREAM) &&
			    (s == TI_SCHEDULED || s == TI_QUEUED ||
			     s == TI_RUNNING || s == TI_UP_FOR_RETRY))
				rc = err_set(err, -EBUSY, "task %s of run %s is "
				             "%s: cancel its job first",
				             d->tasks[i].id, run_id,
				             store_ti_state_name(s));
		}
		if (rc == 0) {
			*tasks = json_array();
			for (size_t k = 0; k < d->ntasks; k++)
				if (mark[d->order[k]])
					json_array_append_new(*tasks,
						json_string(d->tasks[d->order[k]].id));
			if (!dry_run)
				rc = pl_apply_tasks(p, &sr, d, ti, state, mark,
				                    version, err);
		}
		free(mark);
		free(ts.state);
	}
	store_run_clear(&sr);
	pthread_mutex_unlock(&p->mu);
	if (rc != 0) {
		json_decref(*tasks);
		*tasks = NULL;
	}
	return rc;
}

int
pipeline_clear(pipeline *p, const char *run_id, const char *task,
               int downstream, int *cleared, char **err)
{
	json_t *tasks;
	int rc = pipeline_set_tasks(p, run_id, task, TI_NONE, downstream, 0, 0,
	                            0, &tasks, err);
	*cleared = rc == 0 ? (int)json_array_size(tasks) : 0;
	json_decref(tasks);
	return rc;
}

/* A sensor's fields on its task instance O (state up_for_reschedule)
 * from the DAG's T (NULL if gone): when it is poked next, since when it
 * waits, and why. */
static void
pl_sensor_json(json_t *o, const struct dag_task *t)
{
	if (strcmp(json_string_value(json_object_get(o, "state")),
	           store_ti_state_name(TI_UP_FOR_RESCHEDULE)) != 0)
		return;
	const struct dag_sensor *s = pl_sensor(t ? t : &(struct dag_task){0});
	int64_t last = json_integer_value(json_object_get(o, "finished_ms"));
	int64_t next = sensor_next_ms(s, last);
	json_object_set_new(o, "next_poke_ms", json_integer(next));
	json_object_set_new(o, "next_poke", iso_or_null(next / 1000));
	json_object_set_new(o, "sensor_timeout_ms", json_integer(s->timeout_ms));
}

static void
pl_sensors_json(pipeline *p, const char *dag_id, json_t *tis, int by_task)
{
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	const char *key;
	size_t k;
	json_t *o;
	if (by_task) {
		json_object_foreach(tis, key, o)
			pl_sensor_json(o, pd ? dag_task_find(pd->d, key) : NULL);
	} else {
		json_array_foreach(tis, k, o)
			pl_sensor_json(o, pd ? dag_task_find(pd->d,
			               json_string_value(json_object_get(o,
			               "task"))) : NULL);
	}
	pthread_mutex_unlock(&p->mu);
}

static int
ti_json_cb(const struct store_ti *t, void *ud)
{
	int waits = t->state == TI_UP_FOR_RESCHEDULE;
	/* A waiting sensor's result is only its poke's "not yet". */
	json_t *res = t->result && !waits ?
	              json_loads(t->result, JSON_DECODE_ANY, NULL) : NULL;
	json_t *o = json_pack("{s:s,s:i,s:s,s:I,s:i,s:i,s:s?,s:o,s:s?,s:I,s:I}",
		"task", t->task, "map_index", t->map_index,
		"state", store_ti_state_name(t->state),
		"job_id", (json_int_t)t->job_id, "tries", t->tries,
		"attempt", t->attempt, "worker", t->worker,
		"result", res ? res : json_null(), "error", t->error,
		"started_ms", (json_int_t)t->started_ms,
		"finished_ms", (json_int_t)t->finished_ms);
	if (waits) {
		char *why = t->error ? xstrdup(t->error) : sensor_reason(t->result);
		json_object_set_new(o, "sensor_reason", why ? json_string(why) :
		                    json_null());
		json_object_set_new(o, "sensor_since_ms",
		                    json_integer(t->sensor_since_ms));
		free(why);
	}
	json_array_append_new(ud, o);
	return 0;
}

/* A target as shown: a command as written; a webhook's scheme, host
 * and first path segment only, since the rest of a URL (Slack's path, a
 * token in the query) is often its secret. */
static json_t *
pl_target_shown(const char *kind, const char *target)
{
	if (strcmp(kind, "webhook") != 0)
		return json_string(target);
	const char *h = strstr(target, "://");
	if (h == NULL)
		return json_string("");
	h += 3;
	const char *at = h + strcspn(h, "/?#");
	const char *cred = memchr(h, '@', (size_t)(at - h));
	size_t n = (size_t)(at - target);
	const char *seg_end = at;
	if (*at == '/')
		seg_end = at + 1 + strcspn(at + 1, "/?#");
	int more = seg_end[0] != '\0' && strcmp(seg_end, "/") != 0;
	char *s = xasprintf("%.*s%.*s%.*s%s", (int)(h - target), target,
	                    (int)(n - (size_t)((cred ? cred + 1 : h) - target)),
	                    cred ? cred + 1 : h, (int)(seg_end - at), at,
	                    more ? "/..." : "");
	json_t *o = json_string(s);
	free(s);
	return o;
}

static int
notif_json_cb(const struct store_notif *n, void *ud)
{
	json_array_append_new(ud, json_pack("{s:I,s:s?,s:i,s:s,s:s,s:o,s:s,"
		"s:i,s:i,s:s?,s:I,s:I}", "id", (json_int_t)n->id, "task",
		n->task, "map_index", n->map_index, "event", n->event, "kind",
		n->kind, "target", pl_target_shown(n->kind, n->target),
		"state", n->state, "attempts", n->attempts, "status",
		n->status, "error", n->error, "created_ms",
		(json_int_t)n->created_ms, "sent_ms", (json_int_t)n->sent_ms));
	return 0;
}

json_t *
pipeline_run_json(pipeline *p, const char *run_id)
{
	struct store_run sr;
	char *err = NULL;
	if (store_run_find(p->st, run_id, &sr, &err) != 0) {
		free(err);
		return NULL;
	}
	json_t *tis = json_array();
	store_tis(p->st, sr.id, ti_json_cb, tis, &err);
	free(err);
	pl_sensors_json(p, sr.dag_id, tis, 0);
	json_t *conf = json_loads(sr.conf ? sr.conf : "{}", 0, NULL);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:I,s:I,s:o}",
		"run_id", sr.run_id, "dag_id", sr.dag_id, "kind", sr.kind,
		"state", store_run_state_name(sr.state),
		"logical_date", iso_or_null(sr.logical_date),
		"data_interval_start", iso_or_null(sr.interval_start),
		"data_interval_end", iso_or_null(sr.interval_end),
		"conf", conf ? conf : json_object(),
		"created_ms", (json_int_t)sr.created_ms,
		"finished_ms", (json_int_t)sr.finished_ms, "tasks", tis);
	json_object_set_new(o, "dag_version",
	                    dagver_run_json(p->st, sr.dag_id, sr.dag_version));
	json_t *nl = json_array();
	if (store_notif_list(p->st, sr.id, notif_json_cb, nl, &err) != 0) {
		free(err);
		err = NULL;
	}
	json_object_set_new(o, "notifications", nl);
	store_run_clear(&sr);
	return o;
}

/* A task instance's cell in the grid. */
static json_t *
grid_cell_json(const struct store_ti *t)
{
	return json_pack("{s:s,s:I,s:i,s:i,s:I,s:I}",
		"state", store_ti_state_name(t->state), "job_id", (json_int_t)t->job_id,
		"tries", t->tries, "attempt", t->attempt,
		"started_ms", (json_int_t)t->started_ms,
		"finished_ms", (json_int_t)t->finished_ms);
}

/* A mapped task's cell: how many instances, by state, and the list
 * (map index order) for the dashboard's popup. */
static void
grid_map_add(json_t *cell, const struct store_ti *t)
{
	json_t *m = json_object_get(cell, "map");
	if (m == NULL) {
		m = json_pack("{s:i,s:{},s:[]}", "count", 0, "states",
		              "instances");
		json_object_set_new(cell, "map", m);
	}
	const char *st = store_ti_state_name(t->state);
	json_t *states = json_object_get(m, "states");
	json_object_set_new(states, st, json_integer(
		json_integer_value(json_object_get(states, st)) + 1));
	json_object_set_new(m, "count", json_integer(
		json_integer_value(json_object_get(m, "count")) + 1));
	json_array_append_new(json_object_get(m, "instances"), json_pack(
		"{s:i,s:s,s:I}", "map_index", t->map_index, "state", st,
		"job_id", (json_int_t)t->job_id));
}

static int
grid_ti_cb(const struct store_ti *t, void *ud)
{
	json_t *cell = json_object_get(ud, t->task);
	if (t->map_index >= 0) {   /* after its task (store_tis' order) */
		if (cell != NULL)
			grid_map_add(cell, t);
		return 0;
	}
	json_object_set_new(ud, t->task, grid_cell_json(t));
	return 0;
}

/* A run's cells in the compact grid: CODES[i] is '0' + the state of
 * task i (of the current DAG; '0', none, for a task it has no instance
 * of), and EXTRA holds the whole cell of the few that say more than a
 * state: tried more than once, waiting for a poke, or mapped. */
struct grid_codes {
	json_t *index;           /* task id -> its row */
	char *codes;
	json_t *extra;
};

static int
grid_code_cb(const struct store_ti *t, void *ud)
{
	struct grid_codes *g = ud;
	json_t *ix = json_object_get(g->index, t->task);
	if (ix == NULL)
		return 0;        /* not a task of the current version */
	json_int_t i = json_integer_value(ix);
	if (t->map_index >= 0) { /* after its task (store_tis' order) */
		json_t *cell = json_object_get(g->extra, t->task);
		if (cell == NULL) {
			cell = json_pack("{s:s}", "state",
			                 store_ti_state_name(g->codes[i] - '0'));
			json_object_set_new(g->extra, t->task, cell);
		}
		grid_map_add(cell, t);
		return 0;
	}
	g->codes[i] = (char)('0' + (t->state >= 0 && t->state < TI_NSTATES ?
	                            t->state : 0));
	if (t->tries > 1 || t->state == TI_UP_FOR_RESCHEDULE)
		json_object_set_new(g->extra, t->task, grid_cell_json(t));
	return 0;
}

struct grid_acc {
	json_t *runs;            /* oldest first */
	int64_t since;           /* < 0: every run */
	int64_t cursor;          /* the highest changed seen */
	int64_t from;            /* the oldest run's id */
};

/* Runs first, then each run's task instances: a store read callback may
 * not read the store again (one read connection, one lock). */
static int
grid_run_cb(const struct store_run *sr, void *ud)
{
	struct grid_acc *g = ud;
	if (sr->changed > g->cursor)
		g->cursor = sr->changed;
	g->from = sr->id;        /* newest first: the last is the oldest */
	if (g->since >= 0 && sr->changed <= g->since)
		return 0;
	/* Newest first from the store; the grid reads oldest first. */
	json_array_insert_new(g->runs, 0, json_pack("{s:I,s:s,s:s,s:s,s:o}",
		"id", (json_int_t)sr->id, "run_id", sr->run_id,
		"state", store_run_state_name(sr->state), "kind", sr->kind,
		"logical_date", iso_or_null(sr->logical_date)));
	return 0;
}

json_t *
pipeline_grid_json(pipeline *p, const char *dag_id, int limit, int64_t since,
                   int compact)
{
	if (limit <= 0 || limit > 200)
		limit = 25;
	pthread_mutex_lock(&p->mu);
	struct pdag *pd = pl_dag_find(p, dag_id);
	if (pd == NULL) {
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	const struct dag *d = pd->d;
	json_t *tasks = NULL, *deps = NULL, *index = json_object();
	size_t ntasks = d->ntasks;
	for (size_t k = 0; compact && k < d->ntasks; k++)
		json_object_set_new(index, d->tasks[d->order[k]].id, json_integer((json_int_t)k));
	if (since < 0) {         /* the changes since a cursor omit them */
		tasks = json_array();
		deps = json_object();
		for (size_t k = 0; k < d->ntasks; k++) {
			const struct dag_task *t = &d->tasks[d->order[k]];
			json_array_append_new(tasks, json_string(t->id));
			json_t *up = json_array();
			for (size_t u = 0; u < t->ndeps; u++)
				json_array_append_new(up, json_string(t->deps[u]));
			json_object_set_new(deps, t->id, up);
		}
	}
	char *id = xstrdup(d->id);
	pthread_mutex_unlock(&p->mu);
	struct grid_acc g = { json_array(), since, 0, 0 };
	char *err = NULL;
	store_run_list(p->st, id, -1, 0, limit, grid_run_cb, &g, &err);
	free(err);
	free(id);
	size_t i;
	json_t *run;
	json_array_foreach(g.runs, i, run) {
		json_int_t rid = json_integer_value(json_object_get(run, "id"));
		json_t *tis = json_object();
		if (compact) {
			struct grid_codes gc = { index, xmalloc(ntasks + 1), tis };
			memset(gc.codes, '0', ntasks);
			gc.codes[ntasks] = '\0';
			store_tis(p->st, rid, grid_code_cb, &gc, &err);
			json_object_set_new(run, "states", json_string(gc.codes));
			free(gc.codes);
		} else {
			store_tis(p->st, rid, grid_ti_cb, tis, &err);
		}
		free(err);
		err = NULL;
		pl_sensors_json(p, dag_id, tis, 1);
		json_object_set_new(run, compact ? "extra" : "tis", tis);
	}
	json_decref(index);
	json_t *o = json_pack("{s:o,s:I,s:I}", "runs", g.runs,
	                      "cursor", (json_int_t)g.cursor,
	                      "from", (json_int_t)g.from);
	if (compact) {
		json_t *codes = json_array();
		for (int k = 0; k < TI_NSTATES; k++)
			json_array_append_new(codes, json_string(store_ti_state_name(k)));
		json_object_set_new(o, "codes", codes);
	}
	if (tasks != NULL) {
		json_object_set_new(o, "tasks", tasks);
		json_object_set_new(o, "deps", deps);
	}
	return o;
}
