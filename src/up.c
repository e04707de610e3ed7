/* SPDX-License-Identifier: MIT */
/*
 * up.c - `kiln up` (see up.h).  Children are this same binary run as
 * `kiln start -c FILE --node NAME`.  The parent supervises them as systemd
 * would with Restart=on-failure: a node that dies is started again after
 * a backoff (100 ms, doubling with each start in the last minute), and
 * one started UP_START_BURST times within UP_START_INTERVAL_MS is given up
 * on (systemd's StartLimitBurst= and StartLimitIntervalSec=).  On SIGINT or
 * SIGTERM it stops them, workers first so they can leave, then the master.
 *
 * Signals are blocked and taken with sigtimedwait(), so a SIGCHLD or a
 * Ctrl-C that comes while we decide is never lost between a check and a
 * blocking wait.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "err.h"
#include "fs.h"
#include "log.h"
#include "restarts.h"
#include "up.h"
#include "xalloc.h"

#define UP_START_BURST 5
#define UP_START_INTERVAL_MS 60000
#define UP_BACKOFF_MS 100
#define UP_BACKOFF_MAX_MS 5000
#define UP_READY_MS 30000

struct up_node {
	const char *name;
	pid_t pid;                       /* 0: not running */
	int64_t started[UP_START_BURST]; /* clock_mono_ms() of the last starts */
	unsigned nstarts;                /* starts ever; started[] is a ring */
	int64_t restart_at;              /* next start due; 0: none */
	int given_up;
};

struct up {
	const char *self, *config_path;
	const struct kiln_config *c;
	struct up_node *node;            /* node[0] is the master */
	struct metrics_node_restarts *count;
	size_t n;
	sigset_t sigs;                   /* SIGCHLD, SIGINT, SIGTERM */
	int stop;                        /* SIGINT or SIGTERM came */
};

/* A handler that does nothing: SIGCHLD is then never discarded while
 * blocked, and a SIGINT still pending when we unblock does not kill us. */
static void
on_signal(int sig)
{
	(void)sig;
}

static pid_t
spawn(struct up *u, const char *node)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Ctrl-C reaches `kiln up` alone, which stops the workers
		 * before the master; and if `kiln up` dies, so do its nodes. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		sigprocmask(SIG_UNBLOCK, &u->sigs, NULL);
		execl(u->self, u->self, "start", "-c", u->config_path, "--node",
		      node, (char *)NULL);
		fprintf(stderr, "kiln up: cannot run %s: %s\n", u->self, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Start node I now and remember when. */
static void
up_start(struct up *u, size_t i)
{
	struct up_node *nd = &u->node[i];

	nd->pid = spawn(u, nd->name);
	nd->started[nd->nstarts++ % UP_START_BURST] = clock_mono_ms();
	nd->restart_at = 0;
	if (nd->pid < 0) {
		log_error("cannot fork for %s: %s", nd->name, strerror(errno));
		nd->pid = 0;
	}
}

/* How many of ND's starts were within the start interval before NOW. */
static int
recent_starts(const struct up_node *nd, int64_t now)
{
	int k = 0;

	for (unsigned j = 0; j < UP_START_BURST && j < nd->nstarts; j++)
		if (now - nd->started[j] < UP_START_INTERVAL_MS)
			k++;
	return k;
}

/* Node I exited with STATUS: schedule its restart, or give up on it. */
static void
up_died(struct up *u, size_t i, int status)
{
	struct up_node *nd = &u->node[i];
	int64_t now = clock_mono_ms();

	nd->pid = 0;
	if (WIFSIGNALED(status))
		log_warn("%s killed by signal %d", nd->name, WTERMSIG(status));
	else
		log_info("%s exited with status %d", nd->name, WEXITSTATUS(status));
	if (u->stop)
		return;
	int k = recent_starts(nd, now);
	if (k >= UP_START_BURST) {
		nd->given_up = 1;
		log_error("giving up on %s: started %d times in %d s and died each "
		          "time (see its messages above)", nd->name, k,
		          UP_START_INTERVAL_MS / 1000);
		return;
	}
	int64_t delay = (int64_t)UP_BACKOFF_MS << (k > 0 ? k - 1 : 0);
	if (delay > UP_BACKOFF_MAX_MS)
		delay = UP_BACKOFF_MAX_MS;
	nd->restart_at = now + delay;
	log_warn("restarting %s in %lld ms", nd->name, (long long)delay);
}

/* Reap every child that exited. */
static void
up_reap(struct up *u)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < u->n; i++)
			if (u->node[i].pid == pid)
				up_died(u, i, status);
}

/* Start the nodes whose restart is due; RET: milliseconds to the next
 * one, or -1 if none is pending. */
static int64_t
up_restart_due(struct up *u)
{
	int64_t now = clock_mono_ms(), next = -1;

	for (size_t i = 0; i < u->n; i++) {
		struct up_node *nd = &u->node[i];
		if (nd->restart_at == 0)
			continue;
		if (nd->restart_at > now) {
			if (next < 0 || nd->restart_at - now < next)
				next = nd->restart_at - now;
			continue;
		}
		up_start(u, i);
		u->count[i].count++;
		log_warn("restarted %s (pid %d, restart %lld)", nd->name,
		         (int)nd->pid, u->count[i].count);
		char *err = NULL;
		if (restarts_write(u->c->master.data_dir, u->count, u->n, &err) != 0)
			log_warn("%s", err);
		free(err);
	}
	return next;
}

/* Wait up to MS milliseconds for a signal: SIGCHLD, or SIGINT/SIGTERM
 * (which set u->stop). */
static void
up_wait(struct up *u, int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	                       .tv_nsec = (long)(ms % 1000) * 1000000L };
	int sig = sigtimedwait(&u->sigs, NULL, &ts);

	if (sig == SIGINT || sig == SIGTERM)
		u->stop = 1;
}

/* One round of supervision: reap, restart what is due, and wait for the
 * next event, at most MAX_MS.  RET: -1 if the master was given up on. */
static int
up_tick(struct up *u, int64_t max_ms)
{
	up_reap(u);
	if (u->node[0].given_up)
		return -1;
	int64_t next = up_restart_due(u);
	if (!u->stop)
		up_wait(u, next >= 0 && next < max_ms ? next : max_ms);
	return 0;
}

/* A client for the health checks.  Over https it needs the cluster
 * secret to know the cluster CA, and the master makes the secret on its
 * first start: -EAGAIN until it has. */
static int
up_client(const struct kiln_config *c, const char *url, client **out)
{
	char *secret = NULL, *err = NULL;
	int rc = 0;

	if (c->master.tls && c->master.tls_cert_file == NULL &&
	    c->master.tls_ca_file == NULL)
		rc = config_secret(c, 0, &secret, &err);
	if (rc == 0)
		rc = client_new(url, "up", NULL, NULL, out, &err);
	if (rc == 0)
		client_set_ca(*out, c->master.tls_ca_file, secret);
	free(secret);
	free(err);
	return rc < 0 ? -EAGAIN : 0;
}

/* Is our master (another one may answer on that port) up, and does it
 * see NWORKERS live workers? */
static int
up_is_ready(struct up *u, client *cl, int nworkers)
{
	long status = 0;
	json_t *reply = NULL;
	int ready = client_request(cl, "GET", "/api/v1/health", NULL, 1000,
	                           &status, &reply, NULL) == 0 && status == 200 &&
	    json_integer_value(json_object_get(reply, "pid")) == u->node[0].pid &&
	    json_integer_value(json_object_get(reply, "workers_alive")) >= nworkers;

	json_decref(reply);
	return ready;
}

/* Supervise until the master answers and sees every local worker; RET:
 * the milliseconds since T0 it took, or -1 (stopped, the master given up
 * on, or not ready in UP_READY_MS). */
static int64_t
wait_ready(struct up *u, int64_t t0)
{
	char *url = config_master_url(u->c);
	client *cl = NULL;
	int64_t ready = -1;

	while (!u->stop && clock_mono_ms() - t0 < UP_READY_MS) {
		if (up_tick(u, 5) != 0)
			break;
		if (u->node[0].pid == 0 ||
		    (cl == NULL && up_client(u->c, url, &cl) != 0))
			continue;
		if (up_is_ready(u, cl, (int)u->n - 1)) {
			ready = clock_mono_ms() - t0;
			break;
		}
	}
	client_free(cl);
	free(url);
	return ready;
}

/* The path of the running binary, to run the nodes with: /proc/self/exe
 * resolved, else ARGV0.  Owned by the caller. */
static char *
up_self(const char *argv0)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (n <= 0)
		return xstrdup(argv0);
	buf[n] = '\0';
	return xstrdup(buf);
}

/* Stop every node: workers first, so they leave while the master
 * listens; then the master. */
static void
up_stop_all(struct up *u)
{
	for (size_t i = 1; i < u->n; i++)
		if (u->node[i].pid > 0)
			kill(u->node[i].pid, SIGTERM);
	for (size_t i = 1; i < u->n; i++)
		if (u->node[i].pid > 0)
			waitpid(u->node[i].pid, NULL, 0);
	if (u->node[0].pid > 0) {
		kill(u->node[0].pid, SIGTERM);
		waitpid(u->node[0].pid, NULL, 0);
	}
}

/* The master and this machine's workers, not yet started. */
static void
up_nodes(struct up *u)
{
	const struct kiln_config *c = u->c;

	u->node = xcalloc(c->nworkers + 1, sizeof *u->node);
	u->count = xcalloc(c->nworkers + 1, sizeof *u->count);
	u->node[u->n++].name = c->master.name;
	for (size_t i = 0; i < c->nworkers; i++)
		if (config_host_is_local(c->workers[i].host))
			u->node[u->n++].name = c->workers[i].name;
	for (size_t i = 0; i < u->n; i++)
		u->count[i].node = xstrdup(u->node[i].name);
}

static void
up_report_ready(const struct up *u, int64_t ready)
{
	/* Flushed at once: scripts wait for this line. */
	char *url = config_master_url(u->c);
	printf("kiln: cluster '%s' ready in %lld ms: master and %zu workers\n"
	       "kiln: API at %s/api/v1/, dashboard at %s/\n",
	       u->c->cluster_name, (long long)ready, u->n - 1, url, url);
	free(url);
	fflush(stdout);
}

int
up_run(const char *argv0, const char *config_path,
       const struct kiln_config *c, char **err)
{
	log_init("up", LOG_LEVEL_INFO);
	struct up u = { .config_path = config_path, .c = c };
	char *self = up_self(argv0);
	int64_t t0 = clock_mono_ms();

	u.self = self;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&u.sigs);
	sigaddset(&u.sigs, SIGCHLD);
	sigaddset(&u.sigs, SIGINT);
	sigaddset(&u.sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &u.sigs, NULL);
	up_nodes(&u);

	/* The secret is made before the children race to read it. */
	char *secret = NULL;
	int rc = config_secret(c, 1, &secret, err);
	free(secret);
	if (rc != 0)
		goto out;
	/* No counts from an earlier `kiln up` (the data dir may be new). */
	if (fs_mkdir_p(c->master.data_dir, 0700, err) != 0 ||
	    restarts_write(c->master.data_dir, u.count, u.n, err) != 0) {
		rc = -EIO;
		goto out;
	}
	for (size_t i = 0; i < u.n; i++)
		up_start(&u, i);
	int64_t ready = wait_ready(&u, t0);
	if (ready >= 0)
		up_report_ready(&u, ready);
	else if (!u.stop && !u.node[0].given_up)
		log_warn("the cluster did not become ready in %d s", UP_READY_MS / 1000);
	while (!u.stop && !u.node[0].given_up)
		if (up_tick(&u, 1000) != 0)
			break;
	up_stop_all(&u);
	if (u.node[0].given_up)
		rc = err_set(err, -EIO, "the master did not start or kept dying");
out:
	sigprocmask(SIG_UNBLOCK, &u.sigs, NULL);
	restarts_free(u.count, u.n);
	free(u.node);
	free(self);
	return rc;
}
