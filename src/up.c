/* SPDX-License-Identifier: MIT */
/*
 * up.c - `kiln up` (see up.h).  Children are this same binary run as
 * `kiln start -c FILE --node NAME`; the parent forwards SIGINT/SIGTERM
 * (workers first, so they can leave, then the master) and waits for all.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "log.h"
#include "up.h"
#include "xalloc.h"

static volatile sig_atomic_t up_stop;

static void
on_signal(int sig)
{
	(void)sig;
	up_stop = 1;
}

static pid_t
spawn(const char *self, const char *config_path, const char *node)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Ctrl-C reaches `kiln up` alone, which stops the workers
		 * before the master; and if `kiln up` dies, so do its nodes. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		execl(self, self, "start", "-c", config_path, "--node", node,
		      (char *)NULL);
		fprintf(stderr, "kiln up: cannot run %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	return pid;
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

/* Wait until the master answers and sees NWORKERS live workers; give up
 * at once if the master process MASTER has exited. */
static int64_t
wait_ready(const struct kiln_config *c, int nworkers, int64_t t0, pid_t *master)
{
	char *url = config_master_url(c);
	client *cl = NULL;
	int64_t ready = -1;

	while (!up_stop && clock_mono_ms() - t0 < 30000) {
		int ws;
		if (waitpid(*master, &ws, WNOHANG) == *master) {
			log_error("the master exited before the cluster was ready "
			          "(see its messages above)");
			*master = 0;
			break;
		}
		if (cl == NULL && up_client(c, url, &cl) != 0) {
			usleep(5 * 1000);
			continue;
		}
		long status = 0;
		json_t *reply = NULL;
		/* Our master: another one may answer on that port. */
		if (client_request(cl, "GET", "/api/v1/health", NULL, 1000,
		                   &status, &reply, NULL) == 0 && status == 200 &&
		    json_integer_value(json_object_get(reply, "pid")) == *master &&
		    json_integer_value(json_object_get(reply, "workers_alive")) >= nworkers) {
			json_decref(reply);
			ready = clock_mono_ms() - t0;
			break;
		}
		json_decref(reply);
		usleep(5 * 1000);
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

int
up_run(const char *argv0, const char *config_path,
       const struct kiln_config *c, char **err)
{
	log_init("up", LOG_LEVEL_INFO);
	char *self = up_self(argv0);
	int64_t t0 = clock_mono_ms();
	size_t n = 0;
	pid_t *pids = xcalloc(c->nworkers + 1, sizeof *pids);
	const char **names = xcalloc(c->nworkers + 1, sizeof *names);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* The secret is made before the children race to read it. */
	char *secret = NULL;
	int rc = config_secret(c, 1, &secret, err);
	free(secret);
	if (rc != 0)
		goto out;
	pids[n] = spawn(self, config_path, c->master.name);
	names[n++] = c->master.name;
	for (size_t i = 0; i < c->nworkers; i++) {
		if (!config_host_is_local(c->workers[i].host))
			continue;
		pids[n] = spawn(self, config_path, c->workers[i].name);
		names[n++] = c->workers[i].name;
	}
	int64_t ready = wait_ready(c, (int)n - 1, t0, &pids[0]);
	int master_failed = pids[0] == 0;
	if (master_failed)
		up_stop = 1;        /* no cluster without its master */
	if (ready >= 0) {
		/* Flushed at once: scripts wait for this line. */
		char *url = config_master_url(c);
		printf("kiln: cluster '%s' ready in %lld ms: master and %zu workers\n"
		       "kiln: API at %s/api/v1/, dashboard at %s/\n",
		       c->cluster_name, (long long)ready, n - 1, url, url);
		free(url);
		fflush(stdout);
	} else if (!up_stop) {
		log_warn("the cluster did not become ready in 30 s");
	}

	size_t alive = n;
	while (alive > 0) {
		if (up_stop) {
			/* Workers first, so they leave while the master listens. */
			for (size_t i = 1; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGTERM);
			for (size_t i = 1; i < n; i++)
				if (pids[i] > 0 && waitpid(pids[i], NULL, 0) == pids[i]) {
					pids[i] = 0;
					alive--;
				}
			if (pids[0] > 0)
				kill(pids[0], SIGTERM);
			if (pids[0] > 0 && waitpid(pids[0], NULL, 0) == pids[0]) {
				pids[0] = 0;
				alive--;
			}
			break;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (pids[i] == pid) {
				pids[i] = 0;
				alive--;
				if (WIFSIGNALED(status))
					log_warn("%s killed by signal %d", names[i], WTERMSIG(status));
				else
					log_info("%s exited with status %d", names[i],
					         WEXITSTATUS(status));
				if (i == 0 && !up_stop) {
					/* No cluster without its master. */
					master_failed = 1;
					up_stop = 1;
				}
			}
	}
	rc = master_failed ? seterr(err, -EIO, "the master did not start") : 0;
out:
	free(pids);
	free(names);
	free(self);
	return rc;
}
