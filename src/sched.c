/* SPDX-License-Identifier: MIT */
/*
 * sched.c - the master's in-memory queue, worker table and placement
 * (see sched.h for the rules).
 *
 * Jobs that are not finished live in a hash table by id.  A queued job is
 * also on the queue (a list ordered by priority, then id, with the ends
 * of each priority's run in s->buckets); a job handed to
 * a worker is on that worker's running list.  Finished jobs leave memory:
 * the store keeps them.
 *
 * Locking: one mutex guards everything here.  Exchanges and submissions,
 * the hot paths, decide under the lock, write to the store with the lock
 * released (so that several exchanges share one group commit), then take
 * the lock again to settle what was written.  Jobs in between are marked
 * STARTING or FINISHING so that no one else decides on them meanwhile.
 * Rare events (register, cancel, reap) hold the lock across the write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln/plugin.h"
#include "clock.h"
#include "err.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "sched.h"
#include "stage.h"
#include "varconn.h"
#include "xalloc.h"

enum sj_state { SJ_QUEUED, SJ_RUNNING, SJ_FINISHING };

struct sworker;

/* A job the scheduler holds: a million may be queued, so its size counts
 * (bench/queue_bench.py): flags are bytes, the plugin's name is the
 * scheduler's one copy (struct splugin), and the common empty params are
 * one shared "{}" (sc_params_dup). */
struct sjob {
	int64_t id;
	int attempt;
	int max_attempts;
	int priority;
	int slots;
	int64_t memory;
	int64_t timeout_ms;
	int lost;               /* attempts lost with a worker that died (a
	                         * crash, a kill: not one that left) */
	unsigned char alone;    /* counted in its worker's suspects */
	unsigned char state;    /* enum sj_state */
	unsigned char cancelled; /* cancelled while STARTING or FINISHING */
	unsigned char retry_exponential;
	unsigned char start_folded; /* its start is not written: its end
	                         * writes it (struct store_op) */
	unsigned char queued_suspect; /* counted in nqueued_suspects */
	struct sworker *reserved; /* a suspect (lost > 0) waits for this
	                         * worker to empty (sc_place_suspect) */
	int64_t suspect_ms;     /* clock_mono_ms: since when a suspect has
	                         * looked for an empty worker */
	const char *plugin;     /* its struct splugin's name */
	char *params;           /* or sc_no_params */
	int64_t run;            /* DAG run of the task instance, or 0 */
	char *inputs;           /* JSON array of upstream files, or NULL */
	char *live_log;         /* log reported while running (bounded tail) */
	size_t live_len;
	int64_t retry_delay_ms;
	int64_t retry_max_ms;
	int64_t not_before;     /* clock_mono_ms: a retry waits until then */
	int64_t queued_at;      /* clock_mono_ms it (re)entered the queue */
	int64_t started_at;     /* clock_mono_ms of the current attempt's start */
	struct spool *pool;     /* or NULL */
	struct sworker *worker; /* STARTING, RUNNING, FINISHING */
	struct sjob *prev, *next; /* queue or worker's running list */
	struct sjob *hnext;     /* hash chain */
	struct stage *stage;    /* a map task of this stage, or NULL */
	size_t index;           /* its index in the stage */
	char *loc;              /* stage task: sha of the data it reads */
};

#define LOCALITY_WAIT_MS 250    /* a map task waits this long for a worker
                                 * that holds its data (delay scheduling) */
#define LOCALITY_RING 256       /* data each worker is known to hold */
#define HEARTBEATS 32           /* exchange times kept per worker, for its
                                 * page: a fixed ring, never more */

struct sworker {
	char *name;
	char *host;
	int slots;
	int64_t memory;
	json_t *plugins;        /* shared with workers that describe the same
	                         * (sc_plugins_shared): never changed */
	uint64_t plugins_hash;  /* of its text, to find those */
	json_t *plugin_errors;  /* [{file, error}] it could not load */
	int listed;
	int registered;         /* 0: known only from the store after restart */
	int alive;
	int leaving;            /* said it stops (sched_leave) */
	int left;               /* not alive because it left, not died */
	uint64_t session;
	int64_t last_seen;      /* clock_mono_ms */
	int64_t registered_ms;  /* clock_now_ms */
	int slots_busy;
	int64_t memory_busy;
	int suspects;           /* running jobs lost in a crash before: such
	                         * a job runs alone, so that if it crashes
	                         * its worker again nothing else is blamed */
	int stage_busy;         /* map tasks running: they have their own
	                         * room of `slots`, so that drivers waiting
	                         * for their stages never starve them */
	char *held_data[LOCALITY_RING]; /* shas of data it fetched, a ring */
	int held_pos;
	int64_t cache_bytes, cache_files, cache_budget; /* as it said; -1 */
	uint64_t done, failed;
	int64_t beats[HEARTBEATS]; /* clock_now_ms of its last exchanges and
	                         * registrations, a ring */
	int beat_pos, nbeats;
	struct sjob *running;   /* list head */
	struct sched_held *cancel; /* to send at the next exchange */
	size_t ncancel;
	struct sworker *next;
	struct sworker *hnext;  /* chain of s->wtab */
};

/* A pool: at most `slots` of its jobs run at once (Airflow's pools). */
struct spool {
	char *name;
	int slots;              /* -1: no limit */
	int busy;
	int64_t queued;         /* its jobs in the queue */
	struct spool *next;
};

/* How long a plugin's tasks run, as workers report it (an exponentially
 * weighted mean), to tell short tasks worth prefetching. */
struct splugin {
	char *name;
	double mean_ms;
	int64_t n;
	struct splugin *next;
};

#define SHORT_TASK_MS 20.0
#define PREFETCH_MS 50.0        /* work per slot a worker may hold */

struct sched_done {
	int64_t run, job;
	int state;
};

/* The queued jobs of one priority: a run of the queue, FIFO by id. */
struct sbucket {
	int priority;
	struct sjob *first, *last;
};

struct sched {
	pthread_mutex_t mu;
	struct spool *pools;
	struct splugin *plugins;
	int delayed;            /* queued retries waiting for their time */
	void (*done)(void *, int64_t run, int64_t job, int state);
	void *done_ud;
	struct sched_done *done_list;  /* DAG jobs that ended, to tell */
	size_t ndone, done_cap;
	store *st;
	struct sched_opts o;
	char *poison_why;       /* the error of a job failed as poison */
	json_t *seen;           /* {plugin: true} of the jobs in the store at
	                         * start: sched_plugin_awaited() */
	int64_t started_ms;     /* clock_mono_ms of sched_new() */
	struct sjob **tab;      /* hash table of unfinished jobs */
	size_t tabsize, njobs;
	struct sjob *qhead, *qtail;
	struct sbucket *buckets; /* the queue's priorities, highest first */
	size_t nbuckets, bucket_cap;
	int64_t nqueued;
	int64_t nqueued_suspects; /* of them, lost > 0 when queued */
	struct sworker *workers;
	struct sworker **wtab;  /* the workers by name, chained: an exchange
	                         * finds its worker in O(1), not by a walk
	                         * of a thousand names */
	size_t wtabsize, nworkers;
	int nalive;             /* workers alive */
	struct stage_list stages; /* stages of drivers (stage.h) */
	int64_t eph_seq;        /* map tasks numbered so far */
	int locality_waits;     /* map tasks held back for locality */
	void (*wakeup)(void *, int workers);
	void *wakeup_ud;
};

/* ------------------------------------------------------------ job table */

static size_t
hslot(const sched *s, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (s->tabsize - 1);
}

static struct sjob *
job_find(sched *s, int64_t id)
{
	for (struct sjob *j = s->tab[hslot(s, id)]; j != NULL; j = j->hnext)
		if (j->id == id)
			return j;
	return NULL;
}

static void
job_insert(sched *s, struct sjob *j)
{
	if (s->njobs + 1 > s->tabsize) {
		size_t old = s->tabsize;
		struct sjob **ot = s->tab;
		s->tabsize *= 2;
		s->tab = xcalloc(s->tabsize, sizeof *s->tab);
		for (size_t i = 0; i < old; i++) {
			struct sjob *n;
			for (struct sjob *k = ot[i]; k != NULL; k = n) {
				n = k->hnext;
				size_t b = hslot(s, k->id);
				k->hnext = s->tab[b];
				s->tab[b] = k;
			}
		}
		free(ot);
	}
	size_t b = hslot(s, j->id);
	j->hnext = s->tab[b];
	s->tab[b] = j;
	s->njobs++;
}

static const char sc_no_params[] = "{}";

/* PARAMS (NULL: none) as a job keeps it. */
static char *
sc_params_dup(const char *params)
{
	if (params == NULL || strcmp(params, sc_no_params) == 0)
		return (char *)sc_no_params;
	return xstrdup(params);
}

static void
sc_params_free(char *params)
{
	if (params != sc_no_params)
		free(params);
}

static void
job_remove(sched *s, struct sjob *j)
{
	struct sjob **pp = &s->tab[hslot(s, j->id)];
	while (*pp != NULL && *pp != j)
		pp = &(*pp)->hnext;
	if (*pp == j) {
		*pp = j->hnext;
		s->njobs--;
	}
	sc_params_free(j->params);
	free(j->inputs);
	free(j->live_log);
	free(j->loc);
	free(j);
}

/* ---------------------------------------------------------------- queue */

/* The bucket of PRIORITY: its index in s->buckets (highest priority
 * first), or where it would go, with *found saying which. */
static size_t
bucket_find(const sched *s, int priority, int *found)
{
	size_t lo = 0, hi = s->nbuckets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->buckets[mid].priority == priority) {
			*found = 1;
			return mid;
		}
		if (s->buckets[mid].priority > priority)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Link J into the queue right after AFTER (NULL: at the head). */
static void
queue_link(sched *s, struct sjob *j, struct sjob *after)
{
	j->prev = after;
	j->next = after != NULL ? after->next : s->qhead;
	if (j->next != NULL)
		j->next->prev = j;
	else
		s->qtail = j;
	if (after != NULL)
		after->next = j;
	else
		s->qhead = j;
}

/* The job of bucket B after which J (not in it yet) goes, or NULL for
 * before B's first.  The common cases are O(1): a new job has the
 * highest id of its priority (after the last), a retried or requeued
 * one usually one of the lowest (near the first); otherwise the walk
 * goes from both ends at once, so it costs the distance to the nearer. */
static struct sjob *
bucket_after(const struct sbucket *b, const struct sjob *j)
{
	if (j->id > b->last->id)
		return b->last;
	if (j->id < b->first->id)
		return NULL;
	for (struct sjob *hi = b->last, *lo = b->first;;
	     hi = hi->prev, lo = lo->next) {
		if (hi->id < j->id)
			return hi;
		if (lo->next->id > j->id)
			return lo;
	}
}

/* Queue J: in order of priority (highest first), then id.  The queue is
 * one list, walked in that order by placement (sc_place); s->buckets
 * holds the first and last job of each priority present, so that an
 * insert finds its place by a binary search over the priorities (a few)
 * and not by a walk over the jobs (up to a million, whatever their mix
 * of priorities). */
static void
queue_add(sched *s, struct sjob *j)
{
	int found;
	size_t i = bucket_find(s, j->priority, &found);
	if (found) {
		struct sbucket *b = &s->buckets[i];
		struct sjob *after = bucket_after(b, j);
		queue_link(s, j, after != NULL ? after : b->first->prev);
		if (after == NULL)
			b->first = j;
		if (after == b->last)
			b->last = j;
	} else {
		if (s->nbuckets == s->bucket_cap) {
			s->bucket_cap = s->bucket_cap ? 2 * s->bucket_cap : 8;
			s->buckets = xrealloc(s->buckets,
			                      s->bucket_cap * sizeof *s->buckets);
		}
		memmove(&s->buckets[i + 1], &s->buckets[i],
		        (s->nbuckets - i) * sizeof *s->buckets);
		s->nbuckets++;
		s->buckets[i] = (struct sbucket){ j->priority, j, j };
		queue_link(s, j, i > 0 ? s->buckets[i - 1].last : NULL);
	}
	j->state = SJ_QUEUED;
	j->worker = NULL;
	j->queued_at = clock_mono_ms();
	s->nqueued++;
	j->queued_suspect = j->lost > 0;
	s->nqueued_suspects += j->queued_suspect;
	if (j->pool != NULL)
		j->pool->queued++;
}

static void
queue_del(sched *s, struct sjob *j)
{
	int found;
	size_t i = bucket_find(s, j->priority, &found);
	struct sbucket *b = &s->buckets[i];
	if (b->first == b->last) {
		/* J was its priority's only job. */
		memmove(b, b + 1, (s->nbuckets - i - 1) * sizeof *b);
		s->nbuckets--;
	} else if (j == b->first) {
		b->first = j->next;
	} else if (j == b->last) {
		b->last = j->prev;
	}
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		s->qhead = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	else
		s->qtail = j->prev;
	j->prev = j->next = NULL;
	s->nqueued--;
	s->nqueued_suspects -= j->queued_suspect;
	j->queued_suspect = 0;
	if (j->pool != NULL)
		j->pool->queued--;
}

/* ------------------------------------------------------- worker running */

static void
run_add(struct sworker *w, struct sjob *j)
{
	j->worker = w;
	j->prev = NULL;
	j->next = w->running;
	if (w->running != NULL)
		w->running->prev = j;
	w->running = j;
	if (j->stage != NULL) {
		w->stage_busy++;
		return;
	}
	j->alone = j->lost > 0;
	w->suspects += j->alone;
	w->slots_busy += j->slots;
	w->memory_busy += j->memory;
	if (j->pool != NULL)
		j->pool->busy++;
}

static void
run_del(struct sjob *j)
{
	struct sworker *w = j->worker;
	if (w == NULL)
		return;
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		w->running = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	j->worker = NULL;
	if (j->stage != NULL) {
		w->stage_busy--;
		return;
	}
	w->suspects -= j->alone;
	j->alone = 0;
	w->slots_busy -= j->slots;
	w->memory_busy -= j->memory;
	if (j->pool != NULL)
		j->pool->busy--;
}

/* The pool NAME, made with no limit if it was not configured. */
static struct spool *
sc_pool_get(sched *s, const char *name)
{
	if (name == NULL || *name == '\0')
		return NULL;
	for (struct spool *p = s->pools; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	struct spool *p = xcalloc(1, sizeof *p);
	p->name = xstrdup(name);
	p->slots = -1;
	p->next = s->pools;
	s->pools = p;
	return p;
}

static struct splugin *
sc_plugin_find(const sched *s, const char *name)
{
	struct splugin *p = s->plugins;
	while (p != NULL && strcmp(p->name, name) != 0)
		p = p->next;
	return p;
}

/* How many tasks of plugin NAME per slot a worker may hold while the
 * queue is deep: for a plugin known to be short (SHORT_TASK_MS), about
 * PREFETCH_MS of its work (Celery's prefetch, but bounded by time rather
 * than count, so that no worker sits on much work while another is idle),
 * at most o.prefetch; else 1. */
static int
sc_plugin_prefetch(const sched *s, const char *name)
{
	const struct splugin *p = sc_plugin_find(s, name);
	if (p == NULL || p->n < 8 || p->mean_ms > SHORT_TASK_MS)
		return 1;
	double k = PREFETCH_MS / (p->mean_ms > 0.01 ? p->mean_ms : 0.01);
	return k >= s->o.prefetch ? s->o.prefetch : k < 1 ? 1 : (int)k;
}

/* The plugin NAME, made (with nothing observed yet) if new: the one copy
 * of its name that the scheduler's jobs point to, freed with it. */
static struct splugin *
sc_plugin_get(sched *s, const char *name)
{
	struct splugin *p = sc_plugin_find(s, name);
	if (p == NULL) {
		p = xcalloc(1, sizeof *p);
		p->name = xstrdup(name);
		p->next = s->plugins;
		s->plugins = p;
	}
	return p;
}

static void
sc_plugin_observe(sched *s, const char *name, double ms)
{
	struct splugin *p = sc_plugin_get(s, name);
	p->mean_ms += (ms - p->mean_ms) * (p->n < 8 ? 1.0 / (double)(p->n + 1) : 0.125);
	p->n++;
}

/* FNV-1a of the string S. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

/* NAME's chain in a table of SIZE (a power of 2). */
static size_t
wslot(const char *name, size_t size)
{
	return (size_t)(fnv1a(name) & (size - 1));
}

/* A hash of the plugin descriptions PLUGINS (0 for none). */
static uint64_t
plugins_hash(json_t *plugins)
{
	char *text = plugins ? json_dumps(plugins, JSON_COMPACT |
	                                  JSON_SORT_KEYS) : NULL;
	uint64_t h = text ? fnv1a(text) : 0;
	free(text);
	return h;
}

/* PLUGINS (a new reference), or the equal tree another worker has: the
 * workers of one plugin directory describe the same plugins, about 95 KB
 * of JSON and several times that as a tree, which the master then keeps
 * once, not once per worker.  HASH: plugins_hash(PLUGINS).  Lock held. */
static json_t *
sc_plugins_shared(sched *s, json_t *plugins, uint64_t hash)
{
	for (struct sworker *o = s->workers; plugins != NULL && o != NULL;
	     o = o->next)
		if (o->plugins != NULL && o->plugins_hash == hash &&
		    json_equal(o->plugins, plugins))
			return json_incref(o->plugins);
	return json_incref(plugins);
}

static struct sworker *
sc_worker_find(sched *s, const char *name)
{
	if (s->wtab == NULL)
		return NULL;
	for (struct sworker *w = s->wtab[wslot(name, s->wtabsize)]; w != NULL;
	     w = w->hnext)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

static struct sworker *
sc_worker_get(sched *s, const char *name)
{
	struct sworker *w = sc_worker_find(s, name);
	if (w != NULL)
		return w;
	if (s->nworkers >= s->wtabsize) {       /* load factor 1 at most */
		s->wtabsize = s->wtabsize ? 2 * s->wtabsize : 64;
		free(s->wtab);
		s->wtab = xcalloc(s->wtabsize, sizeof *s->wtab);
		for (struct sworker *o = s->workers; o != NULL; o = o->next) {
			size_t i = wslot(o->name, s->wtabsize);
			o->hnext = s->wtab[i];
			s->wtab[i] = o;
		}
	}
	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(name);
	w->cache_bytes = w->cache_files = w->cache_budget = -1;
	w->next = s->workers;
	s->workers = w;
	size_t i = wslot(name, s->wtabsize);
	w->hnext = s->wtab[i];
	s->wtab[i] = w;
	s->nworkers++;
	return w;
}

static int
sc_worker_has_plugin(const struct sworker *w, const char *name)
{
	size_t i;
	json_t *p;
	if (w->plugins == NULL)
		return 0;
	json_array_foreach(w->plugins, i, p) {
		const char *n = json_string_value(json_object_get(p, "name"));
		if (n != NULL && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

/* Ask worker W to cancel attempt ATTEMPT of ID at its next exchange.
 * Once only: a dropped stage pushes its map tasks' cancels, and the
 * exchange that reports them still running would push them again. */
static void
sc_worker_cancel_push(struct sworker *w, int64_t id, int attempt)
{
	for (size_t i = 0; i < w->ncancel; i++)
		if (w->cancel[i].id == id && w->cancel[i].attempt == attempt)
			return;
	w->cancel = xrealloc(w->cancel, (w->ncancel + 1) * sizeof *w->cancel);
	w->cancel[w->ncancel].id = id;
	w->cancel[w->ncancel].attempt = attempt;
	w->ncancel++;
}

/* --------------------------------------------------------------- public */

void
sched_task_clear(struct sched_task *t)
{
	free(t->plugin);
	free(t->params);
	free(t->inputs);
	memset(t, 0, sizeof *t);
}

void
sched_exchange_clear(struct sched_exchange *x)
{
	for (size_t i = 0; i < x->ntasks; i++)
		sched_task_clear(&x->tasks[i]);
	free(x->tasks);
	free(x->cancel);
	memset(x, 0, sizeof *x);
}

int
sched_new(store *st, const struct sched_opts *o, sched **out, char **err)
{
	sched *s = xcalloc(1, sizeof *s);
	pthread_mutex_init(&s->mu, NULL);
	s->st = st;
	s->o = *o;
	if (s->o.worker_timeout_ms <= 0)
		s->o.worker_timeout_ms = 10000;
	if (s->o.max_lost <= 0)
		s->o.max_lost = 2;
	if (s->o.heartbeat_ms <= 0)
		s->o.heartbeat_ms = 1000;
	s->poison_why = xasprintf("poison: its worker died while running it "
	                          "%d times (crashed or was killed); not "
	                          "placed again", s->o.max_lost);
	if (s->o.batch_max <= 0)
		s->o.batch_max = 256;
	if (s->o.beats_per_s <= 0)
		s->o.beats_per_s = SCHED_BEATS_PER_S;
	if (s->o.prefetch <= 0)
		s->o.prefetch = 256;
	s->tabsize = 1024;
	s->tab = xcalloc(s->tabsize, sizeof *s->tab);
	s->seen = json_object();
	s->started_ms = clock_mono_ms();
	*out = s;
	return 0;
}

void
sched_free(sched *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->tabsize; i++) {
		struct sjob *n;
		for (struct sjob *j = s->tab[i]; j != NULL; j = n) {
			n = j->hnext;
			sc_params_free(j->params);
			free(j->inputs);
			free(j->live_log);
			free(j->loc);
			free(j);
		}
	}
	free(s->tab);
	free(s->buckets);
	free(s->poison_why);
	json_decref(s->seen);
	stage_list_clear(&s->stages);   /* map tasks went with the table */
	free(s->done_list);
	struct splugin *qn;
	for (struct splugin *q = s->plugins; q != NULL; q = qn) {
		qn = q->next;
		free(q->name);
		free(q);
	}
	struct spool *pn;
	for (struct spool *p = s->pools; p != NULL; p = pn) {
		pn = p->next;
		free(p->name);
		free(p);
	}
	struct sworker *wn;
	for (struct sworker *w = s->workers; w != NULL; w = wn) {
		wn = w->next;
		free(w->name);
		free(w->host);
		json_decref(w->plugins);
		json_decref(w->plugin_errors);
		free(w->cancel);
		for (int i = 0; i < LOCALITY_RING; i++)
			free(w->held_data[i]);
		free(w);
	}
	free(s->wtab);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static void wake(sched *s);

void
sched_set_done_hook(sched *s, void (*fn)(void *, int64_t, int64_t, int),
                    void *ud)
{
	s->done = fn;
	s->done_ud = ud;
}

void
sched_set_pool(sched *s, const char *name, int slots)
{
	pthread_mutex_lock(&s->mu);
	struct spool *p = sc_pool_get(s, name);
	if (p != NULL)
		p->slots = slots;
	pthread_mutex_unlock(&s->mu);
	wake(s);
}

static int
sc_pool_cmp(const void *a, const void *b)
{
	return strcmp((*(struct spool *const *)a)->name,
	              (*(struct spool *const *)b)->name);
}

json_t *
sched_pools_json(sched *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = 0;
	for (struct spool *p = s->pools; p != NULL; p = p->next)
		n++;
	struct spool **v = xcalloc(n + 1, sizeof *v);
	n = 0;
	for (struct spool *p = s->pools; p != NULL; p = p->next)
		v[n++] = p;
	qsort(v, n, sizeof *v, sc_pool_cmp);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:o,s:i,s:I,s:o}",
			"name", v[i]->name, "slots", v[i]->slots >= 0 ?
			json_integer(v[i]->slots) : json_null(),
			"running", v[i]->busy, "queued", (json_int_t)v[i]->queued,
			"open", v[i]->slots >= 0 ? json_integer(v[i]->slots > v[i]->busy ?
			v[i]->slots - v[i]->busy : 0) : json_null()));
	pthread_mutex_unlock(&s->mu);
	free(v);
	return a;
}

void
sched_set_wakeup(sched *s, void (*fn)(void *, int), void *ud)
{
	s->wakeup = fn;
	s->wakeup_ud = ud;
}

static void
wake(sched *s)
{
	if (s->wakeup != NULL)
		s->wakeup(s->wakeup_ud, 1);
}

/* Wake the clients' long polls only (sched_set_wakeup). */
static void
wake_clients(sched *s)
{
	if (s->wakeup != NULL)
		s->wakeup(s->wakeup_ud, 0);
}

static struct sjob *
sjob_from(sched *s, const struct store_job *sj)
{
	struct sjob *j = xcalloc(1, sizeof *j);
	j->run = sj->run;
	j->inputs = xstrdup(sj->inputs);
	j->retry_delay_ms = sj->retry_delay_ms;
	j->retry_exponential = sj->retry_exponential;
	j->retry_max_ms = sj->retry_max_delay_ms;
	j->pool = sc_pool_get(s, sj->pool);
	j->id = sj->id;
	j->attempt = sj->attempt;
	j->max_attempts = sj->max_attempts > 0 ? sj->max_attempts : 1;
	j->priority = sj->priority;
	j->slots = sj->slots > 0 ? sj->slots : 1;
	j->memory = sj->memory;
	j->timeout_ms = sj->timeout_ms;
	j->plugin = sc_plugin_get(s, sj->plugin)->name;
	j->params = sc_params_dup(sj->params);
	return j;
}

/* The heartbeat interval now (sched_heartbeat_ms).  Lock held. */
static int64_t
sc_heartbeat_ms(const sched *s)
{
	int64_t need = (int64_t)s->nalive * 1000 / s->o.beats_per_s;
	return need > s->o.heartbeat_ms ? need : s->o.heartbeat_ms;
}

/* Silent this long, a worker is dead: the configured timeout, scaled as
 * the interval is.  Lock held. */
static int64_t
sc_timeout_ms(const sched *s)
{
	return s->o.worker_timeout_ms * sc_heartbeat_ms(s) / s->o.heartbeat_ms;
}

int64_t
sched_heartbeat_ms(sched *s)
{
	pthread_mutex_lock(&s->mu);
	int64_t hb = sc_heartbeat_ms(s);
	pthread_mutex_unlock(&s->mu);
	return hb;
}

/* Remember that W was heard from now (its page's heartbeat history).  A
 * busy worker exchanges more often than it must: at most one time per
 * half heartbeat is kept, so that the ring spans the last minute or so
 * rather than the last second. */
static void
sc_beat(const sched *s, struct sworker *w)
{
	int64_t now = clock_now_ms();
	int last = (w->beat_pos + HEARTBEATS - 1) % HEARTBEATS;
	if (w->nbeats > 0 && now - w->beats[last] < sc_heartbeat_ms(s) / 2)
		return;
	w->beats[w->beat_pos] = now;
	w->beat_pos = (w->beat_pos + 1) % HEARTBEATS;
	if (w->nbeats < HEARTBEATS)
		w->nbeats++;
}

static int
recover_one(const struct store_job *sj, void *ud)
{
	sched *s = ud;
	struct sjob *j = sjob_from(s, sj);
	job_insert(s, j);
	if (sj->state == JOB_RUNNING && sj->worker != NULL) {
		/* Its worker will confirm it when it registers again, or be
		 * declared dead after the timeout like any silent worker. */
		struct sworker *w = sc_worker_get(s, sj->worker);
		if (!w->alive) {
			w->alive = 1;
			s->nalive++;
			w->last_seen = clock_mono_ms();
		}
		j->state = SJ_RUNNING;
		run_add(w, j);
	} else {
		queue_add(s, j);
	}
	return 0;
}

static int
sc_seen_one(void *ud, const char *name)
{
	sched *s = ud;
	json_object_set_new(s->seen, name, json_true());
	return 0;
}

int
sched_recover(sched *s, char **err)
{
	pthread_mutex_lock(&s->mu);
	int rc = store_job_unfinished(s->st, recover_one, s, err);
	if (rc == 0)
		rc = store_plugins_seen(s->st, sc_seen_one, s, err);
	int64_t q = s->nqueued, r = (int64_t)s->njobs - s->nqueued;
	pthread_mutex_unlock(&s->mu);
	if (rc == 0 && (q || r))
		log_info("recovered %lld queued and %lld running jobs",
		         (long long)q, (long long)r);
	return rc;
}

int
sched_submit(sched *s, struct store_job *jobs, size_t n, char **err)
{
	return sched_submit_idem(s, jobs, n, NULL, err);
}

/* How long a submission's commit waits for the scheduler's lock to queue
 * its jobs early (sc_submit_early). */
#define SC_EARLY_WAIT_MS 2

/* Set on a thread while it holds the lock across a write (sc_apply_locked):
 * if that write's commit runs on this thread and holds a submission,
 * sc_submit_early must not wait for the lock this thread holds. */
static __thread int sc_writing_locked;

/* store_apply() with the lock held (rare events: register, cancel,
 * reap). */
static int
sc_apply_locked(sched *s, struct store_op *ops, size_t n, char **err)
{
	sc_writing_locked = 1;
	int rc = store_apply(s->st, ops, n, err);
	sc_writing_locked = 0;
	return rc;
}

/* A submission handed to the queue before its commit is durable
 * (store_apply_early): the ids it queued. */
struct sc_early {
	sched *s;
	int64_t *ids;
	size_t n;
};

/* Queue job OPS[i] (a STORE_SUBMIT the store gave an id).  Lock held. */
static void
sc_queue_new(sched *s, const struct store_op *op)
{
	struct sjob *j = sjob_from(s, &op->job);
	job_insert(s, j);
	queue_add(s, j);
}

/*
 * The committing thread, once the submission's rows are in its transaction
 * and before its COMMIT: queue the jobs now, so a waiting worker may take one
 * while the disk syncs (bench/kiln_bench.py's latency).  Nothing is told
 * to the client before the commit is durable, and a result is taken only
 * by a later commit, so no acknowledged job or result can be lost.  The
 * lock is waited for SC_EARLY_WAIT_MS at most: a thread holding it may
 * wait for this very commit (sched_register, sched_cancel hold it across
 * a write), and the committer must not wait for that; then the submitter
 * queues the jobs after the commit, as without.  Others hold it for
 * microseconds.
 */
static void
sc_submit_early(void *ud, const struct store_op *ops, size_t n)
{
	struct sc_early *e = ud;
	sched *s = e->s;
	if (sc_writing_locked)
		return;         /* this thread holds the lock already */
	if (pthread_mutex_trylock(&s->mu) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SC_EARLY_WAIT_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_mutex_timedlock(&s->mu, &ts) != 0)
			return;
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind != STORE_SUBMIT)
			continue;
		sc_queue_new(s, &ops[i]);
		e->ids[e->n++] = ops[i].job.id;
	}
	pthread_mutex_unlock(&s->mu);
	wake(s);
}

/* The commit of an early submission failed: its jobs never existed.
 * Queued ones leave; one a worker runs is cancelled there and leaves (its
 * result, if any comes, names no job); one whose result is being written
 * leaves when that write finds no row (settle_end). */
static void
sc_submit_withdraw(sched *s, const struct sc_early *e)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < e->n; i++) {
		struct sjob *j = job_find(s, e->ids[i]);
		if (j == NULL)
			continue;
		log_info("job %lld (%s) withdrawn: its submission's commit "
		         "failed", (long long)j->id, j->plugin);
		if (j->state == SJ_FINISHING)
			continue;
		if (j->state == SJ_QUEUED) {
			if (j->not_before) {
				j->not_before = 0;
				s->delayed--;
			}
			queue_del(s, j);
		} else if (j->worker != NULL) {
			sc_worker_cancel_push(j->worker, j->id, j->attempt);
			run_del(j);
		}
		job_remove(s, j);
	}
	pthread_mutex_unlock(&s->mu);
}

int
sched_submit_idem(sched *s, struct store_job *jobs, size_t n,
                  const struct store_op *idem, char **err)
{
	if (n == 0)
		return 0;
	struct store_op *ops = xcalloc(n + 1, sizeof *ops);
	int64_t t = clock_now_ms();
	for (size_t i = 0; i < n; i++) {
		ops[i].kind = STORE_SUBMIT;
		ops[i].t_ms = t;
		ops[i].job = jobs[i];
		if (ops[i].job.slots < 1)
			ops[i].job.slots = 1;
		if (ops[i].job.max_attempts < 1)
			ops[i].job.max_attempts = 1;
		if (ops[i].job.params == NULL)
			ops[i].job.params = "{}";
	}
	if (idem != NULL) {
		ops[n] = *idem;
		ops[n].id = (int64_t)n;
		ops[n].t_ms = t;
	}
	struct sc_early e = { .s = s, .ids = xcalloc(n, sizeof *e.ids) };
	int early = 0;
	int rc = store_apply_early(s->st, ops, n + (idem != NULL),
	                           sc_submit_early, &e, &early, err);
	if (rc != 0 && early)
		sc_submit_withdraw(s, &e);
	if (rc == 0) {
		/* Queued already by sc_submit_early, or now. */
		int queue = !early || e.n == 0;
		if (queue)
			pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < n; i++) {
			jobs[i].id = ops[i].job.id;
			jobs[i].state = JOB_QUEUED;
			jobs[i].created_ms = t;
			if (queue)
				sc_queue_new(s, &ops[i]);
		}
		if (queue) {
			pthread_mutex_unlock(&s->mu);
			wake(s);
		}
	}
	free(e.ids);
	free(ops);
	return rc;
}

static void
note_done(sched *s, const struct sjob *j, int state)
{
	if (j->run <= 0 || s->done == NULL)
		return;
	if (s->ndone == s->done_cap) {
		s->done_cap = s->done_cap ? 2 * s->done_cap : 64;
		s->done_list = xrealloc(s->done_list, s->done_cap * sizeof *s->done_list);
	}
	s->done_list[s->ndone++] = (struct sched_done){ j->run, j->id, state };
}

/* Tell the done hook (without the lock) which DAG jobs ended. */
static void
flush_done(sched *s)
{
	pthread_mutex_lock(&s->mu);
	struct sched_done *list = s->done_list;
	size_t n = s->ndone;
	s->done_list = NULL;
	s->ndone = s->done_cap = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++)
		s->done(s->done_ud, list[i].run, list[i].job, list[i].state);
	free(list);
}

int
sched_cancel(sched *s, int64_t id, char **err)
{
	struct store_op ops[2], *start = &ops[0], *cancel = &ops[1];
	memset(ops, 0, sizeof ops);
	*cancel = (struct store_op){ .kind = STORE_CANCEL, .id = id,
	                             .t_ms = clock_now_ms() };
	pthread_mutex_lock(&s->mu);
	/* A running short task whose start was not written (sc_start): its
	 * start first, so that the cancel closes its attempt. */
	struct sjob *r = job_find(s, id);
	int folded = r != NULL && r->state == SJ_RUNNING && r->start_folded &&
	             r->worker != NULL;
	if (folded)
		*start = (struct store_op){ .kind = STORE_START, .id = id,
			.attempt = r->attempt, .worker = r->worker->name,
			.t_ms = clock_now_ms() - (clock_mono_ms() - r->started_at),
			.run = r->run <= 0 ? -1 : 0 };
	int rc = sc_apply_locked(s, folded ? start : cancel, folded ? 2 : 1,
	                         err);
	struct store_op op = *cancel;
	if (rc == 0 && op.applied) {
		struct sjob *j = job_find(s, id);
		if (j != NULL) {
			note_done(s, j, JOB_CANCELLED);
			metrics_task_done(j->plugin, METRICS_TASK_CANCELLED, -1, -1);
		}
		if (j != NULL) {
			switch (j->state) {
			case SJ_QUEUED:
				queue_del(s, j);
				job_remove(s, j);
				break;
			case SJ_RUNNING:
				sc_worker_cancel_push(j->worker, j->id, j->attempt);
				run_del(j);
				job_remove(s, j);
				break;
			default:  /* an exchange settles it */
				j->cancelled = 1;
				if (j->worker != NULL)
					sc_worker_cancel_push(j->worker, j->id, j->attempt);
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != 0)
		return rc;
	if (op.applied) {
		wake(s);   /* parked exchanges carry the cancel */
		if (s->done != NULL)
			flush_done(s);
		return 0;
	}
	struct store_job sj = { 0 };
	rc = store_job_get(s->st, id, &sj, err);
	store_job_clear(&sj);
	if (rc == -ENOENT)
		return err_set(err, -ENOENT, "no job %lld", (long long)id);
	if (rc != 0)
		return rc;
	return err_set(err, -EALREADY, "job %lld already %s", (long long)id,
	              job_state_name(sj.state));
}

/* The op ending J's attempt writes its start too if it was folded
 * (sc_start): its worker and its start on the wall clock. */
static void
sc_fold_start(const struct sjob *j, struct store_op *op)
{
	/* Not a DAG's task: the store need not look for its instance. */
	if (j->run <= 0)
		op->run = -1;
	if (!j->start_folded)
		return;
	op->start_folded = 1;
	op->worker = j->worker != NULL ? j->worker->name : NULL;
	op->started_ms = clock_now_ms() - (clock_mono_ms() - j->started_at);
}

/*
 * Outcome of a lost attempt: back to the queue, or failed for good.  A
 * job whose worker died (CRASHED: not one that left) while running it
 * max_lost times is taken for what killed them, a poison job, and not
 * placed again: otherwise one bad job takes down every worker in turn.
 * Other jobs that shared a crash get a strike too, but they seldom share
 * the next crash as well.
 */
static void
lost_op(sched *s, struct sjob *j, struct store_op *op, const char *why,
        int crashed)
{
	if (crashed)
		j->lost++;
	op->id = j->id;
	op->attempt = j->attempt;
	op->t_ms = clock_now_ms();
	sc_fold_start(j, op);
	if (j->lost >= s->o.max_lost) {
		op->kind = STORE_FINISH;
		op->state = JOB_FAILED;
		op->error = s->poison_why;
		log_warn("job %lld (%s) failed as poison: its worker died "
		         "while running it %d times (last: %s)",
		         (long long)j->id, j->plugin, j->lost, why);
	} else {
		op->kind = STORE_REQUEUE;
		op->error = why;
	}
}

/* Settle a job whose REQUEUE or FINISH op was written (or not). */
static void
settle_end(sched *s, struct sjob *j, const struct store_op *op)
{
	if (op->applied && op->kind == STORE_FINISH) {
		note_done(s, j, op->state);
		int64_t now = clock_mono_ms();
		metrics_task_done(j->plugin, op->state == JOB_SUCCEEDED ?
			METRICS_TASK_SUCCEEDED : op->state == JOB_CANCELLED ?
			METRICS_TASK_CANCELLED : METRICS_TASK_FAILED,
			(double)(now - j->started_at) / 1000.0,
			(double)(j->started_at - j->queued_at) / 1000.0);
	}
	run_del(j);
	if (op->applied && op->kind == STORE_REQUEUE && !j->cancelled &&
	    op->state == JOB_FAILED)
		note_done(s, j, SCHED_DONE_RETRY);
	if (op->applied && op->kind == STORE_REQUEUE && !j->cancelled) {
		if (op->state == JOB_FAILED && j->retry_delay_ms > 0) {
			/* A retry waits: delay * 2^(retry-1) if exponential,
			 * capped.  Kept in memory only: after a master restart
			 * the retry runs at once. */
			int64_t d = j->retry_delay_ms;
			for (int i = 1; j->retry_exponential && i < j->attempt &&
			     d < (1LL << 40); i++)
				d *= 2;
			if (j->retry_max_ms > 0 && d > j->retry_max_ms)
				d = j->retry_max_ms;
			j->not_before = clock_mono_ms() + d;
			s->delayed++;
		}
		queue_add(s, j);
	} else {
		job_remove(s, j);
	}
}

static int
held_cmp(const void *a, const void *b)
{
	const struct sched_held *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int
held_has(const struct sched_held *h, size_t n, int64_t id, int attempt)
{
	struct sched_held key = { .id = id };
	const struct sched_held *f = bsearch(&key, h, n, sizeof *h, held_cmp);
	return f != NULL && f->attempt == attempt;
}

/* ------------------------------------------------------------- stages */

/* A stage's results and retries are stage.c's (stage.h); its map tasks are
 * jobs of this table, queued and placed as jobs are, found by id. */

/* Forget stage ST and its map tasks; running ones are cancelled at their
 * workers.  Lock held. */
static void
sched_stage_drop(sched *s, struct stage *st)
{
	for (size_t i = 0; i < stage_size(st); i++) {
		struct sjob *j = job_find(s, stage_task(st, i));
		if (j == NULL)
			continue;
		if (j->state == SJ_QUEUED) {
			queue_del(s, j);
		} else {
			sc_worker_cancel_push(j->worker, j->id, j->attempt);
			run_del(j);
		}
		job_remove(s, j);
	}
	stage_remove(&s->stages, st);
}

static void held_data_add(struct sworker *w, const char *sha);

/* A map task's attempt ended with result R.  Lock held; J is running. */
static void
sc_stage_result(sched *s, struct sjob *j, const struct sched_result *r)
{
	/* Its worker keeps the outputs it wrote: what reads them next (the
	 * driver's downstream tasks) is best placed there. */
	for (size_t k = 0; r->state == JOB_SUCCEEDED && k < r->noutput_shas; k++)
		held_data_add(j->worker, r->output_shas[k]);
	run_del(j);
	switch (stage_task_ended(j->stage, j->index, r->state, r->code,
	                         r->result, r->outputs, r->error)) {
	case STAGE_TASK_RETRY:
		queue_add(s, j);
		break;
	case STAGE_TASK_DONE:
	case STAGE_TASK_FAILED:
		job_remove(s, j);
		break;
	}
}

/* Does worker W hold data SHA (has it fetched it for a task)? */
static int
held_data_has(const struct sworker *w, const char *sha)
{
	for (int i = 0; i < LOCALITY_RING; i++)
		if (w->held_data[i] != NULL && strcmp(w->held_data[i], sha) == 0)
			return 1;
	return 0;
}

static void
held_data_add(struct sworker *w, const char *sha)
{
	if (held_data_has(w, sha))
		return;
	free(w->held_data[w->held_pos]);
	w->held_data[w->held_pos] = xstrdup(sha);
	w->held_pos = (w->held_pos + 1) % LOCALITY_RING;
}

/* Should map task J wait for another worker than W, one that holds its
 * data?  For a short while only (Spark's delay scheduling): past it, or
 * when no live worker holds the data, any worker may take it. */
static int
locality_defer(sched *s, const struct sjob *j, const struct sworker *w)
{
	if (j->loc == NULL || held_data_has(w, j->loc) ||
	    clock_mono_ms() - j->queued_at >= LOCALITY_WAIT_MS)
		return 0;
	for (const struct sworker *o = s->workers; o != NULL; o = o->next)
		if (o != w && o->alive && o->registered &&
		    o->stage_busy < o->slots && held_data_has(o, j->loc) &&
		    sc_worker_has_plugin(o, j->plugin))
			return 1;
	return 0;
}

int
sched_stage_submit(sched *s, int64_t owner, int owner_attempt,
                   const char *plugin, const struct sched_stage_task *tasks,
                   size_t n, int64_t *id, char **err)
{
	if (n == 0 || n > SCHED_STAGE_MAX_TASKS)
		return err_set(err, -EINVAL, "a stage has 1 to %d map tasks, not %zu",
		              SCHED_STAGE_MAX_TASKS, n);
	pthread_mutex_lock(&s->mu);
	struct sjob *d = job_find(s, owner);
	if (d == NULL || d->state != SJ_RUNNING || d->attempt != owner_attempt ||
	    d->stage != NULL) {
		pthread_mutex_unlock(&s->mu);
		return err_set(err, -ESTALE, "job %lld attempt %d is not running",
		              (long long)owner, owner_attempt);
	}
	struct stage *st = stage_new(&s->stages, owner, owner_attempt, plugin,
	                             n);
	for (size_t i = 0; i < n; i++) {
		struct sjob *j = xcalloc(1, sizeof *j);
		/* Negative, apart from jobs' ids, and rising: the queue orders
		 * equal priorities by id, so map tasks go first come first. */
		j->id = INT64_MIN + ++s->eph_seq;
		j->max_attempts = 1;         /* retries are the stage's */
		j->priority = INT32_MAX;     /* ahead of every job */
		j->slots = 1;
		j->timeout_ms = d->timeout_ms;
		j->plugin = sc_plugin_get(s, plugin)->name;
		j->params = sc_params_dup(tasks[i].params);
		j->inputs = tasks[i].inputs ? xstrdup(tasks[i].inputs) : NULL;
		j->loc = tasks[i].locality ? xstrdup(tasks[i].locality) : NULL;
		j->stage = st;
		j->index = i;
		job_insert(s, j);
		queue_add(s, j);
		stage_set_task(st, i, j->id);
	}
	*id = stage_id(st);
	pthread_mutex_unlock(&s->mu);
	wake(s);
	return 0;
}

int
sched_stage_poll(sched *s, int64_t id, char ***results, char ***outputs,
                 size_t *n, char **err)
{
	*results = NULL;
	*outputs = NULL;
	*n = 0;
	pthread_mutex_lock(&s->mu);
	struct stage *st = stage_find(&s->stages, id);
	int rc = st == NULL ? err_set(err, -ENOENT, "no stage %lld (the master "
	                             "restarted?)", (long long)id)
	                    : stage_outcome(st, results, outputs, n, err);
	if (st != NULL && rc != 0)
		sched_stage_drop(s, st);   /* done or failed: forgotten */
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
sched_stage_cancel(sched *s, int64_t id)
{
	pthread_mutex_lock(&s->mu);
	struct stage *st = stage_find(&s->stages, id);
	if (st != NULL)
		sched_stage_drop(s, st);
	pthread_mutex_unlock(&s->mu);
	if (st == NULL)
		return -ENOENT;
	wake(s);   /* parked exchanges carry the cancels */
	return 0;
}

/* Drop stages whose driver no longer runs (its worker died, it was
 * cancelled).  Lock held. */
static void
sc_stage_gc(sched *s)
{
	struct stage *n;
	for (struct stage *st = stage_next(&s->stages, NULL); st != NULL; st = n) {
		n = stage_next(&s->stages, st);
		int attempt;
		int64_t owner = stage_owner(st, &attempt);
		struct sjob *d = job_find(s, owner);
		if (d == NULL || d->attempt != attempt ||
		    (d->state != SJ_RUNNING && d->state != SJ_FINISHING)) {
			log_info("stage %lld dropped: its driver job %lld is gone",
			         (long long)stage_id(st), (long long)owner);
			sched_stage_drop(s, st);
		}
	}
}

/* Put worker W's map tasks back in the queue (W died or lost them);
 * only those not in HELD (sorted) if HELD is given.  Lock held. */
static void
sc_stage_requeue(sched *s, struct sworker *w, const struct sched_held *held,
              size_t nheld)
{
	struct sjob *n;
	for (struct sjob *j = w->running; j != NULL; j = n) {
		n = j->next;
		if (j->stage == NULL ||
		    (held != NULL && held_has(held, nheld, j->id, j->attempt)))
			continue;
		run_del(j);
		queue_add(s, j);
		stage_task_requeued(j->stage, j->index);
	}
}

/* Queued job J starts its attempt ATTEMPT on worker W (in memory). */
static void
job_start(sched *s, struct sjob *j, struct sworker *w, int attempt)
{
	if (j->not_before) {
		j->not_before = 0;
		s->delayed--;
	}
	queue_del(s, j);
	j->attempt = attempt;
	j->state = SJ_RUNNING;
	j->started_at = clock_mono_ms();
	j->start_folded = 0;
	run_add(w, j);
}

/* What a worker is told of job J's attempt. */
static void
sc_task_fill(struct sched_task *t, const struct sjob *j)
{
	memset(t, 0, sizeof *t);        /* the room is not zeroed */
	t->id = j->id;
	t->attempt = j->attempt;
	t->plugin = xstrdup(j->plugin);
	t->params = varconn_params_open(j->params);  /* sealed if secret */
	t->inputs = xstrdup(j->inputs);
	t->slots = j->slots;
	t->memory = j->memory;
	t->timeout_ms = j->timeout_ms;
	t->stage = j->stage != NULL;
	if (j->stage != NULL) {
		t->stage_id = stage_id(j->stage);
		t->index = (int64_t)j->index;
	}
}

int
sched_register(sched *s, const struct sched_worker_info *wi,
               const struct sched_held *held, size_t nheld,
               uint64_t *session, struct sched_held **cancel,
               size_t *ncancel, char **err)
{
	struct sched_held *h = xcalloc(nheld + 1, sizeof *h);
	if (nheld)
		memcpy(h, held, nheld * sizeof *h);
	qsort(h, nheld, sizeof *h, held_cmp);
	*cancel = NULL;
	*ncancel = 0;
	uint64_t ph = plugins_hash(wi->plugins);       /* outside the lock */

	pthread_mutex_lock(&s->mu);
	struct sworker *w = sc_worker_get(s, wi->name);
	free(w->host);
	w->host = xstrdup(wi->host);
	w->slots = wi->slots;
	w->memory = wi->memory;
	json_t *plugins = sc_plugins_shared(s, wi->plugins, ph);
	json_decref(w->plugins);
	w->plugins = plugins;
	w->plugins_hash = ph;
	json_decref(w->plugin_errors);
	w->plugin_errors = json_incref(wi->plugin_errors);
	w->listed = wi->listed;
	/* A worker this master never had: its jobs come from the store, and
	 * whether it crashed or went down with the master (a power cut, a
	 * restart of the whole cluster) cannot be told, so their loss is no
	 * strike against them (else every job of a restarted cluster would
	 * be a suspect and run alone). */
	int seen = w->registered;
	w->registered = 1;
	if (!w->alive)
		s->nalive++;
	w->alive = 1;
	w->left = 0;
	w->last_seen = clock_mono_ms();
	w->registered_ms = clock_now_ms();
	sc_beat(s, w);
	char *hex = hash_random_hex(8);
	w->session = strtoull(hex, NULL, 16) | 1;
	free(hex);
	free(w->cancel);
	w->cancel = NULL;
	w->ncancel = 0;

	/* Attempts the master gave this worker that it no longer has. */
	sc_stage_requeue(s, w, h, nheld);
	size_t n = 0;
	for (struct sjob *j = w->running; j != NULL; j = j->next)
		n++;
	struct store_op *ops = xcalloc(n + nheld + 1, sizeof *ops);
	struct sjob **js = xcalloc(n + nheld + 1, sizeof *js);
	size_t nops = 0;
	for (struct sjob *j = w->running; j != NULL; j = j->next) {
		if (j->state != SJ_RUNNING || j->stage != NULL ||
		    held_has(h, nheld, j->id, j->attempt))
			continue;
		lost_op(s, j, &ops[nops], "worker restarted without it", seen);
		j->state = SJ_FINISHING;
		js[nops++] = j;
	}
	size_t nlost = nops, nadopted = 0;
	for (size_t i = 0; i < nheld; i++) {
		struct sjob *j = job_find(s, h[i].id);
		/* Handed to this worker by a master that died before the
		 * start was on disk (sched_exchange): the store still has it
		 * queued at an earlier attempt, the worker runs it, so it
		 * runs there. */
		if (j != NULL && j->state == SJ_QUEUED && j->stage == NULL &&
		    !j->cancelled && h[i].attempt > j->attempt) {
			/* Started in memory once the start is on disk. */
			js[nops] = j;
			ops[nops++] = (struct store_op){ .kind = STORE_START,
				.id = j->id, .attempt = h[i].attempt,
				.worker = w->name, .t_ms = clock_now_ms() };
			nadopted++;
			continue;
		}
		/* Attempts it has that are no longer its own. */
		if (j == NULL || j->worker != w || j->attempt != h[i].attempt) {
			*cancel = xrealloc(*cancel, (*ncancel + 1) * sizeof **cancel);
			(*cancel)[(*ncancel)++] = h[i];
		}
	}
	int rc = nops ? sc_apply_locked(s, ops, nops, err) : 0;
	if (rc != 0) {
		/* Nothing written, nothing changed: the worker is told to
		 * register again, and will, with what it holds then. */
		for (size_t i = 0; i < nlost; i++) {
			js[i]->state = SJ_RUNNING;
			js[i]->lost--;
		}
		w->session = 0;
		free(*cancel);
		*cancel = NULL;
		*ncancel = 0;
		pthread_mutex_unlock(&s->mu);
		free(ops);
		free(js);
		free(h);
		return rc;
	}
	for (size_t i = nlost; i < nops; i++)
		job_start(s, js[i], w, ops[i].attempt);
	for (size_t i = 0; i < nlost; i++)
		settle_end(s, js[i], &ops[i]);
	*session = w->session;
	pthread_mutex_unlock(&s->mu);
	if (s->done != NULL)
		flush_done(s);
	log_info("worker %s registered (%d slots, %lld MiB, %zu plugins, %zu held, %zu requeued, %zu confirmed)",
	         wi->name, wi->slots, (long long)(wi->memory >> 20),
	         json_array_size(wi->plugins), nheld, nlost, nadopted);
	free(ops);
	free(js);
	free(h);
	wake(s);
	return 0;
}

/* One exchange in progress (sched_exchange()): what it decided, to be
 * written in one commit and then settled. */
struct sc_exchange {
	struct sworker *w;
	struct store_op *ops;        /* results' transitions, then late logs */
	struct sjob **js;            /* the job of each of ops[0..nops) */
	size_t nops;
	struct store_op *late;       /* logs of stale reports */
	size_t nlate;
	struct store_op *starts;     /* placements, written later */
	size_t nstart;               /* of them, starts to write */
	size_t nplaced;              /* jobs started (a folded start
	                              * writes nothing: sc_start) */
	size_t nmap;                 /* map tasks handed out (no write) */
	int stage_event;             /* a map task reported */
};

/* 1. Results: accepted only from the worker and attempt that run the job
 * now; anything else is stale and merely acknowledged.  Lock held. */
static void
sc_results(sched *s, struct sc_exchange *x, const struct sched_result *results,
           size_t nresults)
{
	struct sworker *w = x->w;

	for (size_t i = 0; i < nresults; i++) {
		const struct sched_result *r = &results[i];
		struct sjob *j = job_find(s, r->id);
		int current = j != NULL && j->state == SJ_RUNNING &&
		              j->worker == w && j->attempt == r->attempt;
		if (current && j->stage != NULL) {
			sc_stage_result(s, j, r);   /* memory only: no write */
			x->stage_event = 1;
			continue;
		}
		if (!current) {
			/* Stale: acknowledged, only its log is kept.  Said in
			 * the log: an operator looking for the lost attempt's
			 * result must find where it went. */
			if (r->id > 0)
				log_info("result of job %lld attempt %d from %s "
				         "refused: %s", (long long)r->id,
				         r->attempt, w->name, j == NULL ?
				         "no unfinished job has that id" : j->attempt != r->attempt ?
				         "a later attempt owns the job" :
				         j->worker != w ? "another worker runs it" :
				         "the job is no longer running");
			if (r->id > 0 && r->log != NULL && *r->log != '\0')
				x->late[x->nlate++] = (struct store_op){
					.kind = STORE_LOG, .id = r->id,
					.attempt = r->attempt, .log = r->log };
			continue;
		}
		if (r->duration_ms >= 0)
			sc_plugin_observe(s, j->plugin, (double)r->duration_ms);
		/* Its worker keeps a task's outputs: the map tasks reading
		 * them are best placed there. */
		for (size_t k = 0; r->state == JOB_SUCCEEDED && k < r->noutput_shas; k++)
			held_data_add(w, r->output_shas[k]);
		struct store_op *op = &x->ops[x->nops];
		op->id = j->id;
		op->attempt = j->attempt;
		sc_fold_start(j, op);
		op->result = r->result;
		op->outputs = r->outputs;
		op->error = r->error;
		op->log = r->log;
		op->t_ms = r->finished_ms ? r->finished_ms : clock_now_ms();
		/* Bad input (KILN_EINVAL: bad parameters, a path outside
		 * the read roots) fails the same way on every attempt: no
		 * retry, as for map tasks. */
		if (r->state == JOB_FAILED && r->code != KILN_EINVAL &&
		    j->attempt < j->max_attempts) {
			op->kind = STORE_REQUEUE;      /* a retry */
			op->state = JOB_FAILED;
		} else {
			op->kind = STORE_FINISH;
			op->state = r->state;
		}
		j->state = SJ_FINISHING;
		run_del(j);     /* its slot is free for this exchange's placement */
		x->js[x->nops++] = j;
	}
}

/* Map task J goes to the exchange's worker if it has room for one and J
 * is not better left for a worker holding its input: 1 if it went (into
 * OUT, memory only: no write).  Lock held. */
static int
sc_place_map(sched *s, struct sc_exchange *x, struct sjob *j, int *stage_room,
             struct sched_exchange *out)
{
	struct sworker *w = x->w;

	if (*stage_room <= 0 || !sc_worker_has_plugin(w, j->plugin))
		return 0;
	if (locality_defer(s, j, w)) {
		s->locality_waits++;
		return 0;
	}
	queue_del(s, j);
	j->attempt++;
	j->state = SJ_RUNNING;
	j->started_at = clock_mono_ms();
	run_add(w, j);
	/* For the job page: where it ran, and whether its data was there. */
	stage_task_started(j->stage, j->index, w->name,
	                   j->loc == NULL ? -1 : held_data_has(w, j->loc));
	if (j->loc != NULL)
		held_data_add(w, j->loc);
	(*stage_room)--;
	sc_task_fill(&out->tasks[out->ntasks++], j);
	x->nmap++;
	return 1;
}

/*
 * 3. Placement of up to WANT tasks on the exchange's worker, into OUT.
 * Tasks of plugins known to be short may wait in a worker's pool beyond
 * its slots while the queue is deep (Celery's prefetch): for those the
 * round trip per task, not the work, is the limit.  Any other task takes
 * a free slot or waits in the queue, so that none waits behind a long one
 * on a busy worker while another worker is idle.  Lock held.
 */
/*
 * Start job J on the exchange's worker.  A task of a plugin whose tasks
 * are known to be short (under SHORT_TASK_MS on average, as for
 * prefetch) has its start written with its end, by the same statement
 * (start_folded), rather than on its own: a no-op task then costs the
 * store two row writes and no more (bench/kiln_bench.py).  Until it ends
 * the store shows it queued, as it would after a crash of the master
 * (the worker confirms it when it registers again).
 */
static void
sc_start(sched *s, struct sc_exchange *x, struct sjob *j,
         struct sched_exchange *out)
{
	job_start(s, j, x->w, j->attempt + 1);
	j->start_folded = j->run <= 0 && sc_plugin_prefetch(s, j->plugin) > 1;
	x->nplaced++;
	if (!j->start_folded)
		x->starts[x->nstart++] = (struct store_op){ .kind = STORE_START,
			.id = j->id, .attempt = j->attempt,
			.worker = x->w->name, .t_ms = clock_now_ms(),
			.run = j->run <= 0 ? -1 : 0 };
	sc_task_fill(&out->tasks[out->ntasks++], j);
}

/*
 * A suspect J (its worker died while running it) runs alone on a worker.
 * It starts on the first empty worker that can hold it; when none has
 * been empty for a worker timeout (every worker busy with long jobs), the
 * next busy one is reserved for it and given nothing more until it is
 * empty.  Reserving at once would be worse: a worker busy for an hour
 * would hold the suspect while another stood idle.  1 if the placement
 * stops here (J started, or its worker drains for it), 0 to go on with
 * the queue.
 */
static int
sc_place_suspect(sched *s, struct sc_exchange *x, struct sjob *j,
                 struct sched_exchange *out)
{
	struct sworker *w = x->w;
	int64_t now = clock_mono_ms();
	if (j->slots > w->slots || (j->memory > 0 && j->memory > w->memory) ||
	    (j->pool != NULL && j->pool->slots >= 0 &&
	     j->pool->busy >= j->pool->slots) ||
	    (j->not_before && j->not_before > now) ||
	    !sc_worker_has_plugin(w, j->plugin))
		return 0;
	if (j->reserved != NULL && !j->reserved->alive)
		j->reserved = NULL;
	int empty = w->running == NULL && x->nplaced == 0 && x->nmap == 0;
	if (empty) {
		j->reserved = NULL;
		j->suspect_ms = 0;
		sc_start(s, x, j, out);
		return 1;
	}
	if (j->suspect_ms == 0)
		j->suspect_ms = now;
	if (j->reserved == NULL && now - j->suspect_ms >= s->o.worker_timeout_ms)
		j->reserved = w;
	return j->reserved == w;
}

#define SC_FULL_MAX 16

/* Is PLUGIN (the scheduler's one copy of its name) among the N in FULL? */
static int
sc_full(const char *const *full, int n, const char *plugin)
{
	for (int i = 0; i < n; i++)
		if (full[i] == plugin)
			return 1;
	return 0;
}

static void
sc_place(sched *s, struct sc_exchange *x, int want, struct sched_exchange *out)
{
	struct sworker *w = x->w;
	int deep = s->nqueued > 2 * (int64_t)w->slots;
	int slot_room = w->slots - w->slots_busy;
	int prefetch_room = w->slots * s->o.prefetch - w->slots_busy;
	int64_t free_mem = w->memory - w->memory_busy;
	int stage_room = w->slots - w->stage_busy;

	if (w->suspects > 0)
		return;         /* nothing beside a suspect */
	/* Plugins with no room left on W in this walk.  Room only shrinks
	 * as the walk places, so the rest of their jobs are passed over
	 * at the cost of a pointer compare: the walk went through the whole
	 * queue, each job costing a search of the plugin list, at every
	 * exchange while a plugin's prefetch was under o.prefetch (tasks in
	 * executor processes: a fifth of the master's CPU with 50,000
	 * queued, perf 2026-12-07); once every plugin is full it stops,
	 * unless suspects are queued (sc_place_suspect keeps their
	 * reservations at every exchange). */
	const char *full[SC_FULL_MAX];
	int nfull = 0, nplugins = 0;
	for (const struct splugin *p = s->plugins; p != NULL; p = p->next)
		nplugins++;
	for (struct sjob *j = s->qhead, *nx; j != NULL &&
	     (int)(x->nplaced + x->nmap) < want &&
	     (prefetch_room > 0 || stage_room > 0); j = nx) {
		nx = j->next;
		if (j->stage != NULL) {
			/* Map tasks: their own room. */
			sc_place_map(s, x, j, &stage_room, out);
			continue;
		}
		/* Map tasks come first in the queue (priority INT32_MAX), so
		 * past them only jobs are left: with no room for one, stop
		 * rather than walk a deep queue at every exchange. */
		if (prefetch_room <= 0)
			break;
		if (j->lost > 0) {
			if (sc_place_suspect(s, x, j, out))
				break;
			continue;
		}
		if (sc_full(full, nfull, j->plugin))
			continue;
		int per = deep ? sc_plugin_prefetch(s, j->plugin) : 1;
		int room = per > 1 ? w->slots * per - w->slots_busy : slot_room;
		if (room > prefetch_room)
			room = prefetch_room;
		if (room <= 0) {        /* no job of this plugin fits */
			if (nfull < SC_FULL_MAX)
				full[nfull++] = j->plugin;
			if (nfull == nplugins && s->nqueued_suspects == 0)
				break;
			continue;
		}
		if (j->slots > room || (j->memory > 0 && j->memory > free_mem) ||
		    (j->pool != NULL && j->pool->slots >= 0 &&
		     j->pool->busy >= j->pool->slots) ||
		    (j->not_before && j->not_before > clock_mono_ms()) ||
		    !sc_worker_has_plugin(w, j->plugin))
			continue;
		sc_start(s, x, j, out);
		slot_room -= j->slots;
		prefetch_room -= j->slots;
		free_mem -= j->memory;
	}
}

/*
 * The commit of an exchange's results failed (a full or failing disk):
 * its jobs run on as far as memory is concerned, and the worker, told
 * the exchange failed, keeps the results and registers again; they are
 * delivered when the store takes them.  Tasks placed by the exchange
 * never reach the worker: its registration finds them missing and
 * requeues them.  Lock not held.
 */
static void
sc_unsettle(sched *s, struct sc_exchange *x, struct sched_exchange *out)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < x->nops; i++) {
		struct sjob *j = x->js[i];
		if (j->state == SJ_FINISHING) {
			j->state = SJ_RUNNING;
			run_add(x->w, j);
		}
	}
	x->w->session = 0;
	pthread_mutex_unlock(&s->mu);
	sched_exchange_clear(out);
	free(x->ops);
	free(x->js);
}

/* After the commit: count what finished on the worker and settle each
 * result's job.  0 if none took effect; 1 if some did and nothing is
 * queued (no worker's poll can find a task: only clients care); 2 if a
 * job was queued again or others wait (a freed pool slot may let one
 * run elsewhere). */
static int
sc_settle(sched *s, struct sc_exchange *x)
{
	int changed = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < x->nops; i++) {
		const struct store_op *op = &x->ops[i];
		if (op->kind == STORE_FINISH && op->applied) {
			if (op->state == JOB_SUCCEEDED)
				x->w->done++;
			else
				x->w->failed++;
		}
		if (op->applied)
			changed = 1;
		settle_end(s, x->js[i], op);
	}
	if (changed && s->nqueued > 0)
		changed = 2;
	pthread_mutex_unlock(&s->mu);
	return changed;
}

int
sched_exchange(sched *s, const char *name, uint64_t session,
               const struct sched_result *results, size_t nresults,
               const struct sched_held *running, size_t nrunning,
               int want, struct sched_exchange *out, char **err)
{
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&s->mu);
	struct sworker *w = sc_worker_find(s, name);
	if (w == NULL || !w->registered || !w->alive || w->session != session) {
		pthread_mutex_unlock(&s->mu);
		return err_set(err, -ESTALE, "worker %s must register", name);
	}
	w->last_seen = clock_mono_ms();
	sc_beat(s, w);

	/* Nothing here walks what the worker runs: an exchange costs its
	 * results and placements, however many tasks run (bench/
	 * workers_bench.py --running). */
	if (want > s->o.batch_max)
		want = s->o.batch_max;
	/* While the store cannot be written no task is handed out: its
	 * result could not be taken either. */
	if (want < 0 || !store_writable(s->st, NULL))
		want = 0;
	/* No more than are queued: room is made for WANT at every exchange
	 * (not zeroed: 75 KB for a worker's 256, of which an exchange of
	 * executor processes fills 20), and most exchanges (heartbeats)
	 * place nothing. */
	if (want > s->nqueued)
		want = (int)s->nqueued;
	/* Room for every result twice over: as a transition, or as the log
	 * of a stale report appended after the transitions (same commit). */
	size_t cap = 2 * nresults + 1;
	struct sc_exchange x = {
		.w = w,
		.ops = xcalloc(cap, sizeof *x.ops),
		.js = xcalloc(cap, sizeof *x.js),
		.late = xcalloc(nresults + 1, sizeof *x.late),
		.starts = xmalloc(((size_t)want + 1) * sizeof *x.starts),
	};
	/* Map tasks are handed out under this lock (they need no write). */
	out->tasks = xmalloc(((size_t)want + 1) * sizeof *out->tasks);

	sc_results(s, &x, results, nresults);
	/* 2. Attempts the worker runs that are no longer its own (requeued
	 * while it was away) are cancelled there.  The converse, attempts it
	 * lost, is settled when it registers again after a failed exchange. */
	for (size_t i = 0; i < nrunning; i++) {
		struct sjob *j = job_find(s, running[i].id);
		if (j == NULL || j->worker != w || j->attempt != running[i].attempt)
			sc_worker_cancel_push(w, running[i].id, running[i].attempt);
	}
	sc_place(s, &x, want, out);
	/* The tasks go out before their start is on disk: queued under the
	 * lock, so in the order of decisions, and committed with the
	 * results below or on their own a few ms later.  Should the master
	 * die first, the job is recovered as queued, and the worker that
	 * runs it confirms it when it registers again (sched_register). */
	if (x.nstart > 0 &&
	    store_apply_later(s->st, x.starts, x.nstart, err) != 0) {
		/* Kept exit: only an op of a kind that cannot be deferred
		 * gets here (a bug), with the tasks placed in memory. */
		store_fatal("sched: exchange", *err);
	}
	free(x.starts);
	out->cancel = w->cancel;
	out->ncancel = w->ncancel;
	out->heartbeat_ms = sc_heartbeat_ms(s);
	w->cancel = NULL;
	w->ncancel = 0;
	pthread_mutex_unlock(&s->mu);

	memcpy(x.ops + x.nops, x.late, x.nlate * sizeof *x.late);
	free(x.late);
	int rc = x.nops + x.nlate > 0 ?
		 store_apply(s->st, x.ops, x.nops + x.nlate, err) : 0;
	if (rc != 0) {
		sc_unsettle(s, &x, out);
		return rc;
	}

	/* A job finished with nothing queued: only its waiters care, not
	 * the workers' parked polls.  A map task's result wakes all, as
	 * before (stages: their placement waits on more than the queue). */
	int settled = sc_settle(s, &x);
	if (settled == 2 || x.stage_event)
		wake(s);
	else if (settled == 1)
		wake_clients(s);
	if (s->done != NULL)
		flush_done(s);
	free(x.ops);
	free(x.js);
	return 0;
}

#define LIVE_LOG_MAX (256 * 1024)

void
sched_live_log_add(sched *s, int64_t id, int attempt, const char *text)
{
	size_t n = strlen(text);
	pthread_mutex_lock(&s->mu);
	struct sjob *j = job_find(s, id);
	if (j != NULL && j->state == SJ_RUNNING && j->attempt == attempt && n) {
		if (n > LIVE_LOG_MAX) {
			text += n - LIVE_LOG_MAX;
			n = LIVE_LOG_MAX;
		}
		if (j->live_len + n > LIVE_LOG_MAX) {   /* keep the tail */
			size_t drop = j->live_len + n - LIVE_LOG_MAX;
			memmove(j->live_log, j->live_log + drop, j->live_len - drop);
			j->live_len -= drop;
		}
		j->live_log = xrealloc(j->live_log, j->live_len + n + 1);
		memcpy(j->live_log + j->live_len, text, n);
		j->live_len += n;
		j->live_log[j->live_len] = '\0';
	}
	pthread_mutex_unlock(&s->mu);
}

char *
sched_live_log(sched *s, int64_t id, int *attempt)
{
	char *out = NULL;
	pthread_mutex_lock(&s->mu);
	struct sjob *j = job_find(s, id);
	if (j != NULL && j->state == SJ_RUNNING) {
		out = xstrdup(j->live_log ? j->live_log : "");
		*attempt = j->attempt;
	}
	pthread_mutex_unlock(&s->mu);
	return out;
}

int
sched_reap(sched *s)
{
	int dead = 0;
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&s->mu);
	/* Taken before any is declared dead: the timeouts do not shrink
	 * as this reap removes workers. */
	int64_t timeout = sc_timeout_ms(s);
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		if (!w->alive || now - w->last_seen <= timeout)
			continue;
		w->alive = 0;
		s->nalive--;
		w->left = w->leaving;
		w->session = 0;
		dead++;
		sc_stage_requeue(s, w, NULL, 0);
		size_t n = 0;
		for (struct sjob *j = w->running; j != NULL; j = j->next)
			n++;
		struct store_op *ops = xcalloc(n + 1, sizeof *ops);
		struct sjob **js = xcalloc(n + 1, sizeof *js);
		size_t nops = 0;
		for (struct sjob *j = w->running; j != NULL; j = j->next) {
			if (j->state != SJ_RUNNING)
				continue;
			/* As in sched_register: a worker this master never
			 * heard from (its jobs came from the store) may have
			 * gone down with the old master, so no strike. */
			lost_op(s, j, &ops[nops], w->leaving ? "worker left" :
			        "worker stopped heartbeating",
			        !w->leaving && w->registered);
			j->state = SJ_FINISHING;
			js[nops++] = j;
		}
		char *err = NULL;
		if (nops && sc_apply_locked(s, ops, nops, &err) != 0) {
			/* Not written: the worker stays as it was, and the
			 * next reap tries again. */
			log_warn("worker %s is dead, but its %zu tasks cannot "
			         "be requeued yet: %s", w->name, nops, err);
			for (size_t i = 0; i < nops; i++) {
				js[i]->state = SJ_RUNNING;
				js[i]->lost--;
			}
			w->alive = 1;
			s->nalive++;
			dead--;
			free(err);
			free(ops);
			free(js);
			continue;
		}
		for (size_t i = 0; i < nops; i++)
			settle_end(s, js[i], &ops[i]);
		if (w->leaving)
			log_info("worker %s left; %zu tasks requeued", w->name, nops);
		else
			log_warn("worker %s is dead (no heartbeat for %lld ms); %zu tasks requeued",
			         w->name, (long long)(now - w->last_seen), nops);
		w->leaving = 0;
		free(ops);
		free(js);
	}
	if (s->stages.head != NULL)
		sc_stage_gc(s);
	int delayed = s->delayed + s->locality_waits;
	s->locality_waits = 0;
	pthread_mutex_unlock(&s->mu);
	if (dead || delayed)
		wake(s);   /* retries, or map tasks past their locality wait */
	if (s->done != NULL)
		flush_done(s);
	return dead;
}

int
sched_leave(sched *s, const char *name, uint64_t session)
{
	pthread_mutex_lock(&s->mu);
	struct sworker *w = sc_worker_find(s, name);
	int ok = w != NULL && w->alive && w->session == session;
	if (ok) {
		w->last_seen = clock_mono_ms() - sc_timeout_ms(s) - 1;
		w->leaving = 1;
	}
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		return -ESTALE;
	sched_reap(s);
	return 0;
}

/* A worker's state for people: the exchange is a long poll of one
 * heartbeat, so a live worker is never silent much past one; past two it
 * is late, and past worker_timeout the reaper declares it dead. */
static const char *
worker_state(const sched *s, const struct sworker *w, int64_t now)
{
	if (!w->alive)
		return w->left ? "left" : "dead";
	if (!w->registered)
		return "unknown";
	return now - w->last_seen > 2 * sc_heartbeat_ms(s) ? "late" : "alive";
}

json_t *
sched_problems_json(sched *s)
{
	json_t *a = json_array();
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		const char *st = worker_state(s, w, now);
		if (strcmp(st, "dead") == 0 || strcmp(st, "late") == 0)
			json_array_append_new(a, json_pack("{s:s,s:s,s:I}",
				"worker", w->name, "state", st,
				"heartbeat_age_ms", (json_int_t)(now - w->last_seen)));
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

/* W as the workers list shows it.  Call with s->mu held. */
static json_t *
worker_entry(const sched *s, const struct sworker *w, int64_t now)
{
	json_t *p = json_array();
	size_t i;
	json_t *pl;
	if (w->plugins != NULL)
		json_array_foreach(w->plugins, i, pl)
			json_array_append_new(p, json_pack("{s:O?,s:O?}",
				"name", json_object_get(pl, "name"),
				"version", json_object_get(pl, "version")));
	/* A worker that is not alive offers nothing. */
	return json_pack(
		"{s:s,s:s?,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:I,s:o,s:b,s:I}",
		"name", w->name, "host", w->host,
		"state", worker_state(s, w, now),
		"slots", w->slots, "slots_busy", w->slots_busy,
		"slots_free", w->alive ? w->slots - w->slots_busy : 0,
		"memory", (json_int_t)w->memory,
		"memory_busy", (json_int_t)w->memory_busy,
		"heartbeat_age_ms", (json_int_t)(now - w->last_seen),
		"tasks_done", (json_int_t)w->done,
		"tasks_failed", (json_int_t)w->failed,
		"plugins", p, "listed", w->listed,
		"registered_ms", (json_int_t)w->registered_ms);
}

void
sched_worker_cache(sched *s, const char *name, uint64_t session,
                   int64_t bytes, int64_t files, int64_t budget)
{
	pthread_mutex_lock(&s->mu);
	struct sworker *w = sc_worker_find(s, name);
	if (w != NULL && w->session == session) {
		w->cache_bytes = bytes;
		w->cache_files = files;
		w->cache_budget = budget;
	}
	pthread_mutex_unlock(&s->mu);
}

json_t *
sched_workers_json(sched *s)
{
	json_t *a = json_array();
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL; w = w->next)
		json_array_append_new(a, worker_entry(s, w, now));
	pthread_mutex_unlock(&s->mu);
	return a;
}

json_t *
sched_worker_json(sched *s, const char *name)
{
	int64_t now = clock_mono_ms(), wall = clock_now_ms();
	pthread_mutex_lock(&s->mu);
	struct sworker *w = sc_worker_find(s, name);
	if (w == NULL) {
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	json_t *o = worker_entry(s, w, now);
	json_t *run = json_array(), *beats = json_array();
	for (const struct sjob *j = w->running; j != NULL; j = j->next) {
		json_t *e = json_pack("{s:I,s:i,s:s,s:I,s:b}",
			"id", (json_int_t)j->id, "attempt", j->attempt,
			"plugin", j->plugin ? j->plugin : "",
			"started_ms", (json_int_t)(j->started_at > 0 ?
			              wall - (now - j->started_at) : 0),
			"map_task", j->stage != NULL);
		if (j->stage != NULL) {   /* named by stage and index, as logs do */
			json_object_set_new(e, "stage", json_integer(stage_id(j->stage)));
			json_object_set_new(e, "index", json_integer((json_int_t)j->index));
			json_object_set_new(e, "driver", json_integer(stage_owner(j->stage, NULL)));
		}
		json_array_append_new(run, e);
	}
	for (int i = 0; i < w->nbeats; i++)     /* oldest first */
		json_array_append_new(beats, json_integer(w->beats[
			(w->beat_pos - w->nbeats + i + HEARTBEATS) % HEARTBEATS]));
	int held = 0;
	for (int i = 0; i < LOCALITY_RING; i++)
		held += w->held_data[i] != NULL;
	json_object_set_new(o, "running", run);
	json_object_set_new(o, "heartbeats", beats);
	json_object_set_new(o, "data_held", json_integer(held));
	json_object_set_new(o, "cache", w->cache_bytes < 0 ? json_null() :
		json_pack("{s:I,s:I,s:I}", "bytes", (json_int_t)w->cache_bytes,
		          "files", (json_int_t)w->cache_files,
		          "budget", (json_int_t)w->cache_budget));
	json_object_set_new(o, "stage_busy", json_integer(w->stage_busy));
	json_object_set_new(o, "plugin_errors", w->plugin_errors ?
	                    json_deep_copy(w->plugin_errors) : json_array());
	pthread_mutex_unlock(&s->mu);
	return o;
}

json_t *
sched_plugins_json(sched *s)
{
	json_t *by = json_object();     /* name -> entry */
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		if (!w->alive || w->plugins == NULL)
			continue;
		size_t i;
		json_t *pl;
		json_array_foreach(w->plugins, i, pl) {
			const char *n = json_string_value(json_object_get(pl, "name"));
			if (n == NULL)
				continue;
			json_t *e = json_object_get(by, n);
			if (e == NULL) {
				e = json_deep_copy(pl);
				json_object_set_new(e, "workers", json_array());
				json_object_set_new(by, n, e);
			}
			json_array_append_new(json_object_get(e, "workers"),
			                      json_string(w->name));
		}
	}
	pthread_mutex_unlock(&s->mu);
	json_t *a = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(by, k, v)
		json_array_append(a, v);
	json_decref(by);
	return a;
}

json_t *
sched_plugin_errors_json(sched *s)
{
	json_t *a = json_array();
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		size_t i;
		json_t *e;
		if (!w->alive)
			continue;
		json_array_foreach(w->plugin_errors, i, e) {
			json_t *o = json_deep_copy(e);
			json_object_set_new(o, "worker", json_string(w->name));
			json_array_append_new(a, o);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

int
sched_has_plugin(sched *s, const char *name)
{
	int has = 0;
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL && !has; w = w->next)
		has = w->alive && sc_worker_has_plugin(w, name);
	pthread_mutex_unlock(&s->mu);
	return has;
}

int
sched_plugin_awaited(sched *s, const char *name)
{
	int awaited = 0;
	pthread_mutex_lock(&s->mu);
	if (clock_mono_ms() - s->started_ms < s->o.worker_timeout_ms &&
	    json_object_get(s->seen, name) != NULL) {
		awaited = 1;
		for (struct sworker *w = s->workers; w != NULL && awaited; w = w->next)
			awaited = !(w->alive && sc_worker_has_plugin(w, name));
	}
	pthread_mutex_unlock(&s->mu);
	return awaited;
}

char *
sched_unschedulable(sched *s, const char *plugin, int slots, int64_t memory)
{
	int holders = 0, max_slots = 0, fits = 0;
	int64_t max_mem = 0;
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		if (!w->alive || !sc_worker_has_plugin(w, plugin))
			continue;
		holders++;
		if (w->slots > max_slots)
			max_slots = w->slots;
		if (w->slots >= slots && w->memory > max_mem)
			max_mem = w->memory;
		/* as placement decides (sc_place_suspect) */
		fits |= slots <= w->slots && (memory <= 0 || memory <= w->memory);
	}
	pthread_mutex_unlock(&s->mu);
	if (fits)
		return NULL;
	if (holders == 0)
		return xasprintf("no live worker has plugin '%s'", plugin);
	if (slots > max_slots)
		return xasprintf("it asks for %d slots; the live workers with plugin "
		                 "'%s' offer at most %d", slots, plugin, max_slots);
	return xasprintf("it asks for %lld bytes of memory; the live workers "
	                 "with plugin '%s' and %d slots offer at most %lld",
	                 (long long)memory, plugin, slots, (long long)max_mem);
}

json_t *
sched_plugin_decl(sched *s, const char *name)
{
	json_t *decl = NULL;
	pthread_mutex_lock(&s->mu);
	for (struct sworker *w = s->workers; w != NULL && decl == NULL; w = w->next) {
		size_t i;
		json_t *pl;
		if (!w->alive)
			continue;
		json_array_foreach(w->plugins, i, pl) {
			const char *n = json_string_value(json_object_get(pl, "name"));
			if (n != NULL && strcmp(n, name) == 0 &&
			    (decl = json_incref(proto_plugin_decl(pl))) != NULL)
				break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return decl;
}

void
sched_stats(sched *s, struct sched_stats *st)
{
	int64_t now = clock_mono_ms();
	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&s->mu);
	st->queued = s->nqueued;
	st->running = (int64_t)s->njobs - s->nqueued;
	for (struct sworker *w = s->workers; w != NULL; w = w->next) {
		if (w->alive) {
			st->workers_alive++;
			st->slots_total += w->slots;
			st->slots_busy += w->slots_busy;
			st->workers_late += strcmp(worker_state(s, w, now), "late") == 0;
		} else {
			st->workers_dead++;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

json_t *
sched_stages_json(sched *s, int64_t job)
{
	pthread_mutex_lock(&s->mu);
	json_t *a = stage_list_json(&s->stages, job);
	pthread_mutex_unlock(&s->mu);
	return a;
}
