/* SPDX-License-Identifier: MIT */
/*
 * api_web.c - what the dashboard and monitoring read: the dashboard's own
 * files, /api/v1/health, /metrics (Prometheus), and the cluster's
 * overview (stats, workers, plugins, pools).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "api_int.h"
#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "restarts.h"
#include "web.h"
#include "xalloc.h"

/* GET /api/v1/health: "ok", or "degraded" with the workers that are
 * dead or late in "problems".  Always 200: the master itself answers, and
 * a probe that restarts it would not revive a worker. */
void
api_health(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	struct sched_stats st;
	(void)c;
	sched_stats(a->sc, &st);
	json_t *problems = sched_problems_json(a->sc);
	/* store_writable: false while a full or failing disk refuses
	 * writes (submissions get 503); why is in the master's log, not
	 * here for anyone to read. */
	int writable = store_writable(a->st, NULL);
	http_reply_json(r, 200, json_pack("{s:s,s:o,s:i,s:s,s:I,s:s,s:I,s:i,s:i,s:I,s:I,s:b}",
		"status", json_array_size(problems) || !writable ? "degraded" : "ok",
		"problems", problems, "workers_late", st.workers_late,
		"version", PACKAGE_VERSION,
		"pid", (json_int_t)getpid(),
		"cluster", a->cfg->cluster_name,
		"uptime_s", (json_int_t)((clock_mono_ms() - a->started_mono) / 1000),
		"workers_alive", st.workers_alive, "workers_dead", st.workers_dead,
		"queued", (json_int_t)st.queued, "running", (json_int_t)st.running,
		"store_writable", writable));
}

/* GET /metrics */
void
api_metrics(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	struct sched_stats st;
	(void)c;
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
	if (a->pl != NULL)
		g.sensors_waiting = pipeline_sensors_waiting(a->pl);
	struct metrics_node_restarts *rs = NULL;
	char *err = NULL;
	if (restarts_read(a->cfg->master.data_dir, &rs, &g.nrestarts, &err) != 0)
		log_warn("%s", err);
	free(err);
	g.restarts = rs;
	json_t *pools = sched_pools_json(a->sc), *p;
	struct metrics_pool *mp = xcalloc(json_array_size(pools) + 1,
	                                  sizeof *mp);
	size_t i;
	json_array_foreach(pools, i, p)
		mp[i] = (struct metrics_pool){
			json_string_value(json_object_get(p, "name")),
			json_is_integer(json_object_get(p, "slots")) ?
			(int)json_integer_value(json_object_get(p, "slots")) : -1,
			(int)json_integer_value(json_object_get(p, "running")),
			json_integer_value(json_object_get(p, "queued")) };
	g.pools = mp;
	g.npools = json_array_size(pools);
	char *s = metrics_render(&g);
	free(mp);
	json_decref(pools);
	restarts_free(rs, g.nrestarts);
	http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", s, strlen(s));
	free(s);
}

/* GET /api/v1/stats */
void
api_stats(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	int64_t counts[JOB_NSTATES] = { 0 };
	char *err = NULL;
	(void)c;
	store_job_counts(a->st, counts, &err);
	free(err);
	json_t *jobs = json_object();
	for (int i = 0; i < JOB_NSTATES; i++)
		json_object_set_new(jobs, job_state_name(i), json_integer(counts[i]));
	int64_t rc[RUN_NSTATES];
	err = NULL;
	store_run_counts(a->st, rc, &err);
	free(err);
	json_t *runs = json_object();
	for (int i = 0; i < RUN_NSTATES; i++)
		json_object_set_new(runs, store_run_state_name(i), json_integer(rc[i]));
	http_reply_json(r, 200, json_pack("{s:o,s:o,s:I,s:s}", "jobs", jobs, "runs", runs,
		"uptime_s", (json_int_t)((clock_mono_ms() - a->started_mono) / 1000),
		"version", PACKAGE_VERSION));
}

/* GET /api/v1/workers */
void
api_workers(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	http_reply_json(r, 200, json_pack("{s:o}", "workers", sched_workers_json(a->sc)));
}

/* GET /api/v1/pools */
void
api_pools(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	http_reply_json(r, 200, json_pack("{s:o}", "pools", sched_pools_json(a->sc)));
}

/* GET /api/v1/workers/:name */
void
api_worker(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *name = route_text(&c->params, "name");
	json_t *o = sched_worker_json(a->sc, name);
	if (o == NULL)
		http_reply_error(r, 404, "no worker '%s'", name);
	else
		http_reply_json(r, 200, o);
}

/* GET /api/v1/plugins: those of live workers, and files that failed to
 * load on one. */
void
api_plugins(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	(void)c;
	http_reply_json(r, 200, json_pack("{s:o,s:o}", "plugins", sched_plugins_json(a->sc),
	                                  "errors", sched_plugin_errors_json(a->sc)));
}

/* GET of any path outside /api/: the dashboard, from web_dir on disk if
 * configured (development), else the copy compiled into the binary.  No
 * "..", bounded size.  Gzipped and tagged as JSON answers are, so a
 * reload revalidates each file ("no-cache") with a 304. */
void
api_static(struct api_ctx *a, http_req *r, const struct api_call *c)
{
	const char *path = http_path(r);
	(void)c;
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
			http_reply_tagged(r, 200, web_content_type(path),
			                  (const char *)f->data, f->size);
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
	http_reply_tagged(r, 200, web_content_type(path), buf, n > 0 ? (size_t)n : 0);
	free(buf);
}
