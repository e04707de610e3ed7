/* SPDX-License-Identifier: MIT */
/*
 * master.c - the master node: wires the store, the scheduler and the HTTP
 * server together, reaps silent workers, and stops cleanly on a signal.
 * A master killed at any point restarts from the store: sched_recover()
 * rebuilds the queue and the set of running attempts.  SIGHUP reloads
 * what can change under a running master (master_reload()).
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "artifact.h"
#include "auth.h"
#include "backup.h"
#include "cert.h"
#include "clock.h"
#include "err.h"
#include "fs.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "replay.h"
#include "varconn.h"
#include "xalloc.h"

/* Rows of each kind master.retention deletes per transaction: small
 * enough that a commit shared with dispatch stays short. */
#define MASTER_PURGE_BATCH 500

static volatile sig_atomic_t master_stop, master_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		master_hup = 1;
	else
		master_stop = 1;
}

/* master.retention: delete one batch of the oldest jobs and DAG runs
 * finished before it.  RET: the clock_mono_ms() of the next batch: at
 * once while a full batch went, else in a second. */
static int64_t
master_retain(store *st, const struct kiln_config *c, int64_t retention_ms)
{
	struct store_op op = {
		.kind = STORE_PURGE, .attempt = MASTER_PURGE_BATCH,
		.t_ms = clock_now_ms() - retention_ms,
	};
	char *err = NULL;

	int rc = store_apply(st, &op, 1, &err);
	char *adir = xasprintf("%s/artifacts", c->master.data_dir);
	/* Files after the commit: a crash between leaves a file no row
	 * names, never a row without its file. */
	for (char **p = op.purged_shas; p != NULL && *p != NULL; p++) {
		if (rc == 0 && artifact_remove(adir, *p, &err) != 0) {
			log_warn("retention: %s", err);
			free(err);
			err = NULL;
		}
		free(*p);
	}
	free(op.purged_shas);
	free(adir);
	if (rc != 0) {
		log_warn("retention: %s", err);
		free(err);
		return clock_mono_ms() + 60 * 1000;
	}
	if (op.applied)
		log_info("retention: deleted %d jobs, %d DAG runs and %d artifacts "
		         "older than %lld s", op.purged_jobs, op.purged_runs,
		         op.purged_artifacts, (long long)(retention_ms / 1000));
	int more = op.purged_jobs == MASTER_PURGE_BATCH ||
	           op.purged_runs == MASTER_PURGE_BATCH ||
	           op.purged_artifacts == MASTER_PURGE_BATCH;
	return clock_mono_ms() + (more ? 0 : 1000);
}

/* SIGHUP: the DAG files are scanned at once, and cluster.yaml is read
 * again for what can change under a running master: master.retention
 * (into *RETENTION_MS) and the slots of master.pools (a pool of C no
 * longer there is unlimited again).  Every other key waits for a
 * restart; a file that no longer loads changes nothing.  The log is
 * standard error, which has nothing to reopen. */
static void
master_reload(const struct kiln_config *c, pipeline *pl, sched *sc,
              int64_t *retention_ms)
{
	struct kiln_config *n = NULL;
	char *err = NULL;

	notify_reloading();
	pipeline_rescan(pl);
	if (config_load(c->path, &n, &err) != 0) {
		log_warn("reload: %s: cluster.yaml not applied (DAGs rescanned)",
		         err);
		free(err);
	} else {
		*retention_ms = n->master.retention_ms;
		for (size_t i = 0; i < c->npools; i++)
			sched_set_pool(sc, c->pools[i].name, -1);
		for (size_t i = 0; i < n->npools; i++)
			sched_set_pool(sc, n->pools[i].name, n->pools[i].slots);
		log_info("reload: DAGs rescanned; master.retention and "
		         "master.pools applied from %s (other keys take effect "
		         "at restart)", c->path);
		config_free(n);
	}
	notify_ready("serving");
}

static void
wake_http(void *ud, int workers)
{
	http_wake(ud, workers ? ~0u : HTTP_PARK_CLIENT);
}

/* Until SIGINT or SIGTERM: reap silent workers, apply master.retention,
 * reload on SIGHUP, and feed a service manager's watchdog (a master whose
 * loop stalls is restarted by it). */
static void
master_loop(const struct kiln_config *c, store *st, sched *sc, pipeline *pl)
{
	int64_t retain_at = 0, retention_ms = c->master.retention_ms;

	while (!master_stop) {
		usleep(100 * 1000);
		notify_watchdog();
		if (master_hup) {
			master_hup = 0;
			master_reload(c, pl, sc, &retention_ms);
		}
		sched_reap(sc);
		if (retention_ms > 0 && clock_mono_ms() >= retain_at)
			retain_at = master_retain(st, c, retention_ms);
	}
}

/* Variables and connections: sealed with the cluster secret, and their
 * secrets masked in whatever tasks send back from the first exchange on
 * (a value that no longer opens is said, not fatal). */
static int
master_varconn(const char *secret, store *st, char **err)
{
	int rc = varconn_init(secret, err);
	char *why = NULL;
	if (rc == 0 && varconn_masks_load(st, &why) != 0)
		log_warn("%s", why);
	free(why);
	return rc;
}

/* What the master keeps under its data dir, and the mode each should
 * have at most: a data dir and store made by an older version (0755 and
 * 0644) let anyone on the host read token and password hashes, every
 * param and result.  The -wal and -shm files take the database's mode
 * when SQLite makes them, so they are tightened too (a crash leaves
 * them). */
static const struct {
	const char *name;
	mode_t mode;
} master_private[] = {
	{ "", 0700 },
	{ "kiln.db", 0600 }, { "kiln.db-wal", 0600 }, { "kiln.db-shm", 0600 },
	{ "admin-password", 0600 }, { "master.lock", 0600 },
	{ "artifacts", 0700 }, { "tls", 0700 }, { "tls/server.key", 0600 },
};

/* fs_tighten(PATH, MODE), a failure logged: the master starts anyway,
 * as with a secret file it cannot tighten (config.c warns of it). */
static void
master_tighten_one(const char *path, mode_t mode)
{
	char *err = NULL;

	if (fs_tighten(path, mode, &err) < 0) {
		log_warn("%s", err);
		free(err);
	}
}

/* Tighten the data dir's files and the cluster secret (the key to every
 * role) before anything opens them; never loosens. */
static void
master_tighten(const struct kiln_config *c)
{
	for (size_t i = 0; i < sizeof master_private / sizeof *master_private;
	     i++) {
		char *path = xasprintf("%s%s%s", c->master.data_dir,
		                       *master_private[i].name ? "/" : "",
		                       master_private[i].name);
		master_tighten_one(path, master_private[i].mode);
		free(path);
	}
	if (c->auth.secret_file != NULL)
		master_tighten_one(c->auth.secret_file, 0600);
}

/* The certificate chain and key to serve: the files configured, or the
 * master's own from the cluster CA (made or renewed as needed). */
static int
master_tls(const struct kiln_config *c, const char *secret, char **chain,
           char **key, char **err)
{
	size_t len;
	int rc;

	if (c->master.tls_cert_file != NULL) {
		if ((rc = fs_read_file(c->master.tls_cert_file, 1 << 20, chain,
		                       &len, err)) < 0)
			return rc;
		if ((rc = fs_read_file(c->master.tls_key_file, 1 << 20, key,
		                       &len, err)) < 0) {
			free(*chain);
			*chain = NULL;
			return rc;
		}
		log_info("TLS: serving %s", c->master.tls_cert_file);
		return 0;
	}
	size_t n;
	char **names = config_master_names(c, &n);
	char *dir = xasprintf("%s/tls", c->master.data_dir);
	char *what = NULL;
	rc = cert_server(dir, secret, (const char *const *)names, n, 0, chain,
	                 key, &what, err);
	if (rc == 0)
		log_info("TLS: %s, signed by the cluster CA", what);
	free(what);
	free(dir);
	config_names_free(names, n);
	return rc;
}

int
master_run(const struct kiln_config *c, char **err)
{
	int rc;
	store *st = NULL;
	sched *sc = NULL;
	pipeline *pl = NULL;
	alert *al = NULL;
	users *us = NULL;
	http_server *http = NULL;
	char *secret = NULL, *tls_chain = NULL, *tls_key = NULL;
	struct api_ctx api = { 0 };
	int lock = -1;

	log_init(c->master.name, LOG_LEVEL_INFO);
	master_tighten(c);
	if (auth_init() != 0)
		return err_set(err, -EIO, "libsodium failed to initialise");
	if ((rc = config_secret(c, 1, &secret, err)) != 0)
		return rc;
	if (!c->master.tls && !config_host_is_loopback(c->master.listen))
		log_warn("serving plain HTTP on %s (insecure_plain_http): "
		         "passwords, cookies and tokens cross the network "
		         "readable", c->master.listen);
	if (c->master.tls && (rc = master_tls(c, secret, &tls_chain, &tls_key,
	                                      err)) != 0) {
		free(secret);
		return rc;
	}
	/* One master per data directory, and no restore under it. */
	if ((rc = backup_lock_data_dir(c->master.data_dir, &lock, err)) != 0)
		goto out;
	char *db = xasprintf("%s/kiln.db", c->master.data_dir);
	const char *sync = getenv("KILN_SQLITE_SYNC");
	rc = store_open(db, sync == NULL || strcmp(sync, "normal") != 0, &st, err);
	free(db);
	if (rc != 0)
		goto out;
	if ((rc = master_varconn(secret, st, err)) != 0)
		goto out;
	struct sched_opts so = { .worker_timeout_ms = c->master.worker_timeout_ms,
	                         .beats_per_s = c->master.beats_per_s,
	                         .heartbeat_ms = c->master.heartbeat_ms };
	if ((rc = sched_new(st, &so, &sc, err)) != 0)
		goto out;
	for (size_t i = 0; i < c->npools; i++)
		sched_set_pool(sc, c->pools[i].name, c->pools[i].slots);
	if ((rc = sched_recover(sc, err)) != 0 ||
	    (rc = pipeline_start(c, st, sc, &pl, err)) != 0)
		goto out;
	sched_set_done_hook(sc, pipeline_job_done, pl);
	{
		char *link = xasprintf("%s://%s:%d", c->master.tls ? "https" :
		                       "http", c->master.host ? c->master.host :
		                       c->master.listen, c->master.port);
		struct alert_opts ao = { .secret = secret, .link_base = link,
		                         .commands = c->master.callback_commands };
		rc = alert_start(st, &ao, &al, err);
		free(link);
		if (rc != 0)
			goto out;
		pipeline_set_alert(pl, al);
	}
	api.pl = pl;
	if ((rc = users_open(c, st, &us, err)) != 0)
		goto out;
	api.users = us;
	/* Tokens from before tokens expired live token_ttl from now on. */
	if ((rc = store_token_settle(st, clock_now_ms() + api_token_ttl_ms(c),
	                             NULL, err)) != 0)
		goto out;

	api.cfg = c;
	api.st = st;
	api.sc = sc;
	api.secret = secret;
	/* Forgetting a session after twice the allowed skew is safe: see
	 * replay.h. */
	api.replay = replay_new(REPLAY_MAX_SESSIONS, 2 * AUTH_SKEW_MS);
	api.started_mono = clock_mono_ms();
	struct http_opts ho = {
		.listen = c->master.listen, .port = c->master.port,
		.threads = c->master.http_threads, .max_body = (size_t)c->master.max_body,
		.conn_timeout_s = 60,
		.request_timeout_s = (c->master.request_timeout_ms + 999) / 1000,
		.per_ip_connections = c->master.per_ip_connections,
		.gate = api_gate,
		.tls_cert_pem = tls_chain, .tls_key_pem = tls_key,
	};
	rc = http_start(&ho, api_handle, &api, &http, err);
	if (tls_key != NULL) {
		/* libmicrohttpd has its own copy now. */
		xfree_secret(tls_key);
		tls_key = NULL;
	}
	if (rc != 0)
		goto out;
	api.http = http;
	sched_set_wakeup(sc, wake_http, http);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("master listening on %s://%s:%d (API /api/v1/, dashboard /), data in %s",
	         c->master.tls ? "https" : "http", c->master.listen,
	         http_port(http), c->master.data_dir);
	/* The start-up's garbage (config, migrations, plugin scan) back
	 * to the system: an idle master keeps only what it uses. */
	malloc_trim(0);
	/* The API answers from here on: a unit ordered After= this one may
	 * start. */
	notify_ready("serving");
	master_loop(c, st, sc, pl);
	notify_stopping();
	log_info("stopping");
	rc = 0;
out:
	if (http != NULL)
		http_stop(http);
	pipeline_stop(pl);
	alert_stop(al);
	users_close(us);
	sched_free(sc);
	store_close(st);
	varconn_fini();
	if (lock >= 0)
		close(lock);
	replay_free(api.replay);
	free(secret);
	free(tls_chain);
	if (tls_key != NULL)
		xfree_secret(tls_key);
	return rc;
}
