/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the master's Prometheus metrics (see metrics.h).
 *
 * Everything lives in one static struct, zeroed at load, so events may
 * arrive before metrics_init() and recording never allocates.  Counters
 * are relaxed atomics: Prometheus samples are not transactions, and a
 * scrape racing an event may see it in one series and not yet in another.
 * The one thing a scrape must never show is a histogram whose buckets
 * disagree with its _count, so buckets are stored per interval (not
 * cumulative) and the renderer derives both the cumulative buckets and
 * _count from one read of them.  _sum is kept in integer nanoseconds so
 * it can be a fetch-add too.
 *
 * Label tables (plugins, routes, route/status pairs) are append-only
 * arrays with a published length: a writer fills a slot under the mutex
 * and then stores the length with release order, so a reader that loads
 * the length with acquire order may scan the slots below it without a
 * lock.  A slot's name never changes until metrics_init().
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "xalloc.h"

/* ------------------------------------------------------------ buckets */

/* Upper bounds in seconds, ascending; +Inf is implicit. */
static const double task_le[] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600,
};
static const double fast_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define NELEM(a)        (sizeof(a) / sizeof((a)[0]))
#define HIST_MAXB       16      /* the longest bounds array above */
#define STATUS_MAX      600     /* statuses 100..599; 0 for anything else */
/* Observations are clamped here so seconds * 1e9 fits in a uint64_t. */
#define OBS_MAX_S       1e9
_Static_assert(NELEM(task_le) <= HIST_MAXB && NELEM(fast_le) <= HIST_MAXB,
               "HIST_MAXB is smaller than a bounds array");

struct hist {
	_Atomic uint64_t bucket[HIST_MAXB + 1];   /* per interval; last: +Inf */
	_Atomic uint64_t sum_ns;
};

struct plugin_m {
	_Atomic uint64_t tasks[3];      /* by METRICS_TASK_* */
	struct hist run, wait;
};

struct route_m {
	struct hist dur;
};

struct pair_key {
	int route;                      /* index into routes */
	int status;
};

/* Serialises adding label slots, and metrics_init(). */
static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
	_Atomic int nplugins;
	char plugin_name[METRICS_MAX_PLUGINS][METRICS_NAME_MAX];
	struct plugin_m plugin[METRICS_MAX_PLUGINS];
	struct plugin_m plugin_other;

	_Atomic int nroutes;
	char route_name[METRICS_MAX_ROUTES][METRICS_NAME_MAX];
	struct route_m route[METRICS_MAX_ROUTES];
	struct route_m route_other;

	/* Requests by route and status.  route="other" is not in the pair
	 * table but counted by status below, so overflowing pairs keep their
	 * status and "other" never appears twice with one status. */
	_Atomic int npairs;
	struct pair_key pair[METRICS_MAX_PAIRS];
	_Atomic uint64_t pair_count[METRICS_MAX_PAIRS];
	_Atomic uint64_t other_status[STATUS_MAX];

	_Atomic uint64_t dag_runs[2];   /* failed, success */
	_Atomic uint64_t sensor_timeouts;
	struct hist sched_loop;
	struct hist sqlite_write;
	_Atomic uint64_t sqlite_ops;
} M;

void
metrics_init(void)
{
	pthread_mutex_lock(&metrics_mu);
	memset(&M, 0, sizeof M);
	pthread_mutex_unlock(&metrics_mu);
}

/* -------------------------------------------------------- recording */

static double
clamp_s(double s)
{
	if (!(s > 0))                   /* negative or NaN */
		return 0;
	return s > OBS_MAX_S ? OBS_MAX_S : s;
}

static void
hist_observe(struct hist *h, const double *le, size_t n, double s)
{
	size_t i;

	s = clamp_s(s);
	for (i = 0; i < n && s > le[i]; i++)
		;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(s * 1e9 + 0.5),
	                          memory_order_relaxed);
}

/* The slot of NAME in a label table of MAX names with published length
 * *COUNT, adding it if there is room.  RET: the index, or -1 for "other"
 * (table full, NULL, empty, too long, or "other" itself). */
static int
label_index(char names[][METRICS_NAME_MAX], _Atomic int *count, int max,
            const char *name)
{
	int i, n;

	if (name == NULL || *name == '\0' || strcmp(name, "other") == 0 ||
	    strnlen(name, METRICS_NAME_MAX) >= METRICS_NAME_MAX)
		return -1;
	n = atomic_load_explicit(count, memory_order_acquire);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	pthread_mutex_lock(&metrics_mu);
	n = atomic_load_explicit(count, memory_order_relaxed);
	for (; i < n; i++)              /* added since we looked */
		if (strcmp(names[i], name) == 0)
			break;
	if (i == n) {
		if (n < max) {
			strcpy(names[n], name);
			atomic_store_explicit(count, n + 1, memory_order_release);
		} else {
			i = -1;
		}
	}
	pthread_mutex_unlock(&metrics_mu);
	return i;
}

static int
pair_index(int route, int status)
{
	int i, n;

	n = atomic_load_explicit(&M.npairs, memory_order_acquire);
	for (i = 0; i < n; i++)
		if (M.pair[i].route == route && M.pair[i].status == status)
			return i;
	pthread_mutex_lock(&metrics_mu);
	n = atomic_load_explicit(&M.npairs, memory_order_relaxed);
	for (; i < n; i++)
		if (M.pair[i].route == route && M.pair[i].status == status)
			break;
	if (i == n) {
		if (n < METRICS_MAX_PAIRS) {
			M.pair[n].route = route;
			M.pair[n].status = status;
			atomic_store_explicit(&M.npairs, n + 1, memory_order_release);
		} else {
			i = -1;
		}
	}
	pthread_mutex_unlock(&metrics_mu);
	return i;
}

void
metrics_http(const char *route, int status, double seconds)
{
	int ri = label_index(M.route_name, &M.nroutes, METRICS_MAX_ROUTES, route);
	int pi = -1;

	if (status < 100 || status >= STATUS_MAX)
		status = 0;
	if (ri >= 0)
		pi = pair_index(ri, status);
	if (pi >= 0)
		atomic_fetch_add_explicit(&M.pair_count[pi], 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&M.other_status[status], 1,
		                          memory_order_relaxed);
	hist_observe(ri >= 0 ? &M.route[ri].dur : &M.route_other.dur,
	             fast_le, NELEM(fast_le), seconds);
}

void
metrics_task_done(const char *plugin, int final_state, double run_seconds,
                  double queue_wait_seconds)
{
	int i = label_index(M.plugin_name, &M.nplugins, METRICS_MAX_PLUGINS,
	                    plugin);
	struct plugin_m *p = i >= 0 ? &M.plugin[i] : &M.plugin_other;

	if (final_state < METRICS_TASK_SUCCEEDED ||
	    final_state > METRICS_TASK_CANCELLED)
		final_state = METRICS_TASK_FAILED;
	atomic_fetch_add_explicit(&p->tasks[final_state], 1, memory_order_relaxed);
	if (run_seconds >= 0)
		hist_observe(&p->run, task_le, NELEM(task_le), run_seconds);
	if (queue_wait_seconds >= 0)
		hist_observe(&p->wait, task_le, NELEM(task_le), queue_wait_seconds);
}

void
metrics_sqlite_write(double seconds, int ops)
{
	hist_observe(&M.sqlite_write, fast_le, NELEM(fast_le), seconds);
	if (ops > 0)
		atomic_fetch_add_explicit(&M.sqlite_ops, (uint64_t)ops,
		                          memory_order_relaxed);
}

void
metrics_sched_loop(double seconds)
{
	hist_observe(&M.sched_loop, fast_le, NELEM(fast_le), seconds);
}

void
metrics_sensor_timeout(void)
{
	atomic_fetch_add_explicit(&M.sensor_timeouts, 1, memory_order_relaxed);
}

void
metrics_dag_run_done(int success)
{
	atomic_fetch_add_explicit(&M.dag_runs[success ? 1 : 0], 1,
	                          memory_order_relaxed);
}

/* ------------------------------------------------------------ render */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();        /* only a bad format does this */
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	b->len += (size_t)n;
}

size_t
metrics_escape(char *buf, size_t len, const char *value)
{
	size_t n = 0;

	for (const char *c = value ? value : ""; *c; c++) {
		const char *rep = NULL;
		char one[2] = { *c, '\0' };
		if (*c == '\\')
			rep = "\\\\";
		else if (*c == '"')
			rep = "\\\"";
		else if (*c == '\n')
			rep = "\\n";
		else
			rep = one;
		for (; *rep; rep++, n++)
			if (n + 1 < len)
				buf[n] = *rep;
	}
	if (len > 0)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

/* Append VALUE escaped as a label value. */
static void
buf_label(struct buf *b, const char *value)
{
	size_t need = metrics_escape(NULL, 0, value);

	if (need + 1 > b->cap - b->len) {
		b->cap = (b->cap + need + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	b->len += metrics_escape(b->p + b->len, b->cap - b->len, value);
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
put_double(struct buf *b, double v)
{
	if (isnan(v))
		buf_printf(b, "NaN");
	else if (isinf(v))
		buf_printf(b, v > 0 ? "+Inf" : "-Inf");
	else
		buf_printf(b, "%.6f", v);
}

/* Seconds from integer nanoseconds, exactly. */
static void
put_ns(struct buf *b, uint64_t ns)
{
	buf_printf(b, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
	           (unsigned long long)(ns % 1000000000u));
}

/*
 * The series of histogram NAME for one label set: LNAME="LVALUE" (or no
 * label if LNAME is NULL).  The cumulative buckets and _count come from
 * one read of the per-interval counts, so le="+Inf" always equals _count.
 */
static void
put_hist(struct buf *b, const char *name, const char *lname,
         const char *lvalue, struct hist *h, const double *le, size_t n)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		buf_printf(b, "%s_bucket{", name);
		if (lname != NULL) {
			buf_printf(b, "%s=\"", lname);
			buf_label(b, lvalue);
			buf_printf(b, "\",");
		}
		if (i < n)
			buf_printf(b, "le=\"%g\"} %llu\n", le[i], (unsigned long long)cum);
		else
			buf_printf(b, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	for (i = 0; i < 2; i++) {
		buf_printf(b, "%s_%s", name, i == 0 ? "sum" : "count");
		if (lname != NULL) {
			buf_printf(b, "{%s=\"", lname);
			buf_label(b, lvalue);
			buf_printf(b, "\"}");
		}
		buf_printf(b, " ");
		if (i == 0)
			put_ns(b, atomic_load_explicit(&h->sum_ns, memory_order_relaxed));
		else
			buf_printf(b, "%llu", (unsigned long long)cum);
		buf_printf(b, "\n");
	}
}

static uint64_t
hist_count(struct hist *h)
{
	uint64_t c = 0;

	for (size_t i = 0; i <= HIST_MAXB; i++)
		c += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	return c;
}

/* One pool's label set, then VALUE. */
static void
put_pool(struct buf *b, const char *metric, const char *name, long long v)
{
	buf_printf(b, "%s{pool=\"", metric);
	buf_label(b, name);
	buf_printf(b, "\"} %lld\n", v);
}

static void
put_pools(struct buf *b, const struct metrics_gauges *g)
{
	family(b, "kiln_pool_slots", "gauge",
	       "Slots of each pool with a limit (master.pools).");
	for (size_t i = 0; i < g->npools; i++)
		if (g->pools[i].slots >= 0)
			put_pool(b, "kiln_pool_slots", g->pools[i].name,
			         g->pools[i].slots);
	family(b, "kiln_pool_running", "gauge", "Jobs of each pool running.");
	for (size_t i = 0; i < g->npools; i++)
		put_pool(b, "kiln_pool_running", g->pools[i].name,
		         g->pools[i].running);
	family(b, "kiln_pool_queued", "gauge", "Jobs of each pool queued.");
	for (size_t i = 0; i < g->npools; i++)
		put_pool(b, "kiln_pool_queued", g->pools[i].name,
		         g->pools[i].queued);
}

static void
put_gauges(struct buf *b, const struct metrics_gauges *g)
{
	family(b, "kiln_build_info", "gauge", "Build information; always 1.");
	buf_printf(b, "kiln_build_info{version=\"");
	buf_label(b, g->version ? g->version : "unknown");
	buf_printf(b, "\"} 1\n");
	family(b, "kiln_uptime_seconds", "gauge", "Seconds since the master started.");
	buf_printf(b, "kiln_uptime_seconds ");
	put_double(b, g->uptime_seconds);
	buf_printf(b, "\n");
	family(b, "kiln_workers", "gauge", "Registered workers by state.");
	buf_printf(b, "kiln_workers{state=\"alive\"} %d\n"
	           "kiln_workers{state=\"dead\"} %d\n",
	           g->workers_alive, g->workers_dead);
	family(b, "kiln_slots", "gauge", "Task slots of live workers: all, and those in use.");
	buf_printf(b, "kiln_slots{state=\"total\"} %d\nkiln_slots{state=\"busy\"} %d\n",
	           g->slots_total, g->slots_busy);
	family(b, "kiln_queue_depth", "gauge", "Jobs waiting for a worker.");
	buf_printf(b, "kiln_queue_depth %lld\n", g->queue_depth);
	family(b, "kiln_jobs_running", "gauge", "Jobs running on workers.");
	buf_printf(b, "kiln_jobs_running %lld\n", g->jobs_running);
	family(b, "kiln_dag_runs", "gauge", "Active DAG runs by state.");
	buf_printf(b, "kiln_dag_runs{state=\"queued\"} %d\n"
	           "kiln_dag_runs{state=\"running\"} %d\n",
	           g->dag_runs_queued, g->dag_runs_running);
	family(b, "kiln_sensors_waiting", "gauge", "Sensor task instances up for "
	       "reschedule: between pokes, holding no slot.");
	buf_printf(b, "kiln_sensors_waiting %d\n", g->sensors_waiting);
	family(b, "kiln_dags", "gauge", "DAGs loaded.");
	buf_printf(b, "kiln_dags %d\n", g->dags);
	family(b, "kiln_dag_import_errors", "gauge", "DAG files that failed to load.");
	buf_printf(b, "kiln_dag_import_errors %d\n", g->dag_import_errors);
	family(b, "kiln_node_restarts_total", "counter",
	       "Times `kiln up` restarted a node that died, by node.");
	for (size_t i = 0; i < g->nrestarts; i++) {
		buf_printf(b, "kiln_node_restarts_total{node=\"");
		buf_label(b, g->restarts[i].node);
		buf_printf(b, "\"} %lld\n", g->restarts[i].count);
	}
	put_pools(b, g);
}

static const char *const task_state_name[3] = {
	"succeeded", "failed", "cancelled"
};

static void
put_tasks(struct buf *b)
{
	int n = atomic_load_explicit(&M.nplugins, memory_order_acquire);
	int other = 0;

	for (int s = 0; s < 3; s++)
		other |= atomic_load_explicit(&M.plugin_other.tasks[s],
		                              memory_order_relaxed) != 0;
	other |= hist_count(&M.plugin_other.run) != 0 ||
	         hist_count(&M.plugin_other.wait) != 0;

	family(b, "kiln_tasks_total", "counter", "Jobs that reached a final state, by plugin and state.");
	for (int i = 0; i <= n; i++) {
		struct plugin_m *p = i < n ? &M.plugin[i] : &M.plugin_other;
		const char *name = i < n ? M.plugin_name[i] : "other";
		if (i == n && !other)
			break;
		for (int s = 0; s < 3; s++) {
			buf_printf(b, "kiln_tasks_total{plugin=\"");
			buf_label(b, name);
			buf_printf(b, "\",state=\"%s\"} %llu\n", task_state_name[s],
			           (unsigned long long)atomic_load_explicit(
			                   &p->tasks[s], memory_order_relaxed));
		}
	}
	family(b, "kiln_task_duration_seconds", "histogram", "Run time of finished jobs on their worker, by plugin.");
	for (int i = 0; i < n + other; i++)
		put_hist(b, "kiln_task_duration_seconds", "plugin",
		         i < n ? M.plugin_name[i] : "other",
		         i < n ? &M.plugin[i].run : &M.plugin_other.run,
		         task_le, NELEM(task_le));
	family(b, "kiln_task_queue_wait_seconds", "histogram", "Time finished jobs waited from submission to start, by plugin.");
	for (int i = 0; i < n + other; i++)
		put_hist(b, "kiln_task_queue_wait_seconds", "plugin",
		         i < n ? M.plugin_name[i] : "other",
		         i < n ? &M.plugin[i].wait : &M.plugin_other.wait,
		         task_le, NELEM(task_le));
}

static void
put_http(struct buf *b)
{
	int nr = atomic_load_explicit(&M.nroutes, memory_order_acquire);
	int np = atomic_load_explicit(&M.npairs, memory_order_acquire);

	family(b, "kiln_http_requests_total", "counter", "HTTP responses by route template and status.");
	for (int i = 0; i < np; i++) {
		buf_printf(b, "kiln_http_requests_total{route=\"");
		buf_label(b, M.route_name[M.pair[i].route]);
		buf_printf(b, "\",status=\"%d\"} %llu\n", M.pair[i].status,
		           (unsigned long long)atomic_load_explicit(
		                   &M.pair_count[i], memory_order_relaxed));
	}
	for (int s = 0; s < STATUS_MAX; s++) {
		uint64_t c = atomic_load_explicit(&M.other_status[s],
		                                  memory_order_relaxed);
		if (c != 0)
			buf_printf(b, "kiln_http_requests_total{route=\"other\","
			           "status=\"%d\"} %llu\n", s, (unsigned long long)c);
	}
	family(b, "kiln_http_request_duration_seconds", "histogram", "Time from a request's arrival to its response, by route template.");
	for (int i = 0; i < nr; i++)
		put_hist(b, "kiln_http_request_duration_seconds", "route",
		         M.route_name[i], &M.route[i].dur, fast_le, NELEM(fast_le));
	if (hist_count(&M.route_other.dur) != 0)
		put_hist(b, "kiln_http_request_duration_seconds", "route", "other",
		         &M.route_other.dur, fast_le, NELEM(fast_le));
}

char *
metrics_render(const struct metrics_gauges *g)
{
	struct buf b = { xmalloc(16384), 0, 16384 };

	b.p[0] = '\0';
	if (g != NULL)
		put_gauges(&b, g);
	put_tasks(&b);

	family(&b, "kiln_dag_runs_total", "counter", "DAG runs finished, by outcome.");
	buf_printf(&b, "kiln_dag_runs_total{state=\"success\"} %llu\n"
	           "kiln_dag_runs_total{state=\"failed\"} %llu\n",
	           (unsigned long long)atomic_load_explicit(&M.dag_runs[1], memory_order_relaxed),
	           (unsigned long long)atomic_load_explicit(&M.dag_runs[0], memory_order_relaxed));

	family(&b, "kiln_sensor_timeouts_total", "counter", "Sensors failed (or "
	       "skipped) because their timeout passed.");
	buf_printf(&b, "kiln_sensor_timeouts_total %llu\n", (unsigned long long)
	           atomic_load_explicit(&M.sensor_timeouts, memory_order_relaxed));

	family(&b, "kiln_scheduler_loop_duration_seconds", "histogram", "Duration of one pipeline scheduler loop.");
	put_hist(&b, "kiln_scheduler_loop_duration_seconds", NULL, NULL,
	         &M.sched_loop, fast_le, NELEM(fast_le));
	/* The same data as the histogram's _count and _sum, under the names
	 * bench/dag_bench.py and older dashboards read. */
	family(&b, "kiln_scheduler_loops_total", "counter", "Pipeline scheduler loops.");
	buf_printf(&b, "kiln_scheduler_loops_total %llu\n",
	           (unsigned long long)hist_count(&M.sched_loop));
	family(&b, "kiln_scheduler_loop_seconds_total", "counter", "Time spent in the pipeline scheduler loop.");
	buf_printf(&b, "kiln_scheduler_loop_seconds_total ");
	put_ns(&b, atomic_load_explicit(&M.sched_loop.sum_ns, memory_order_relaxed));
	buf_printf(&b, "\n");

	put_http(&b);

	family(&b, "kiln_sqlite_write_duration_seconds", "histogram", "Latency of one group commit of the store writer.");
	put_hist(&b, "kiln_sqlite_write_duration_seconds", NULL, NULL,
	         &M.sqlite_write, fast_le, NELEM(fast_le));
	family(&b, "kiln_sqlite_writes_total", "counter", "Store write operations committed.");
	buf_printf(&b, "kiln_sqlite_writes_total %llu\n",
	           (unsigned long long)atomic_load_explicit(&M.sqlite_ops, memory_order_relaxed));
	return b.p;
}
