/* SPDX-License-Identifier: MIT */
/*
 * alert.c - notifications: record each target of an event, then send it
 * from a thread of our own, webhooks retried with backoff, commands only
 * where the master allows them (see alert.h).  The pipeline decides what
 * fired (pipeline.c); this file only delivers and keeps the record.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "alert.h"
#include "client.h"
#include "clock.h"
#include "cron.h"
#include "err.h"
#include "log.h"
#include "varconn.h"
#include "xalloc.h"

extern char **environ;

#define ALERT_ERROR_MAX 4096    /* of a job's error in a body */

/* One target of one event, waiting to be sent (or sent again). */
struct aitem {
	int64_t id;              /* its notifications row */
	int kind;                /* enum dag_callback_kind */
	char *target;
	char *secret;            /* the variable whose value signs it, or
	                          * NULL: the key of the cluster secret */
	char *event;
	char *body;              /* the JSON sent */
	char *env[4];            /* a command's KILN_* variables */
	int attempts;
	int64_t due;             /* clock_mono_ms of the next try */
	struct aitem *next;
};

struct alert {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int stopping;
	store *st;
	char key[65];            /* the webhook key, as text */
	char *link_base;
	int commands;
	struct aitem *q;         /* in no order */
	size_t nq;
};

/* ------------------------------------------------------------ signing */

void
alert_key_hex(const char *secret, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state s;
	crypto_hash_sha256_init(&s);
	crypto_hash_sha256_update(&s, (const unsigned char *)"kiln-webhook:",
	                          13);
	if (secret != NULL)
		crypto_hash_sha256_update(&s, (const unsigned char *)secret,
		                          strlen(secret));
	crypto_hash_sha256_final(&s, h);
	sodium_bin2hex(hex, 65, h, sizeof h);
	sodium_memzero(h, sizeof h);
}

char *
alert_sign(const char *key, const char *body, size_t len)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state s;
	char hex[2 * sizeof mac + 1];

	crypto_auth_hmacsha256_init(&s, (const unsigned char *)key,
	                            strlen(key));
	crypto_auth_hmacsha256_update(&s, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&s, mac);
	sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
	return xasprintf("sha256=%s", hex);
}

/* ------------------------------------------------------------ sending */

static void
aitem_free(struct aitem *it)
{
	free(it->target);
	free(it->secret);
	free(it->event);
	free(it->body);
	for (size_t i = 0; i < sizeof it->env / sizeof it->env[0]; i++)
		free(it->env[i]);
	free(it);
}

/* POST the body to the webhook: 0 on a 2xx (*status set), else negative
 * with *why (malloc()ed). */
static int
alert_webhook(alert *a, const struct aitem *it, int *status, char **why)
{
	const char *url = it->target;
	const char *auth = strstr(url, "://") + 3;
	size_t blen = strcspn(auth, "/?#");
	char *base = xstrndup(url, (size_t)(auth - url) + blen);
	const char *rest = auth + blen;
	char *path = rest[0] == '/' ? xstrdup(rest) : xasprintf("/%s", rest);
	char *hash = strchr(path, '#');
	if (hash != NULL)
		*hash = '\0';
	client *c = NULL;
	char *err = NULL, *own = NULL, *verr = NULL;
	int rc = 0;
	if (it->secret != NULL) {
		/* Read at each try: a rotated key counts at once. */
		char *expr = xasprintf("var.%s", it->secret);
		rc = varconn_template(a->st, expr, &own, &verr);
		free(expr);
		if (rc < 0) {
			err = xasprintf("secret: %s", verr);
			free(verr);
		}
	}
	if (rc == 0)
		rc = client_new(base, "alert", NULL, NULL, &c, &err);
	if (rc == 0) {
		char *sig = alert_sign(own ? own : a->key, it->body,
		                       strlen(it->body));
		char ts[32];
		snprintf(ts, sizeof ts, "%lld", (long long)(clock_now_ms() / 1000));
		client_set_ca(c, NULL, NULL);
		client_add_header(c, "X-Kiln-Event", it->event);
		client_add_header(c, "X-Kiln-Timestamp", ts);
		client_add_header(c, "X-Kiln-Signature", sig);
		free(sig);
		long st = 0;
		char *text = NULL;
		size_t tlen = 0;
		rc = client_send_bytes(c, "POST", path, it->body,
		                       strlen(it->body), ALERT_TIMEOUT_MS, &st,
		                       &text, &tlen, &err);
		free(text);
		*status = (int)st;
		if (rc == 0 && (st < 200 || st > 299)) {
			rc = -EPROTO;
			err = xasprintf("HTTP status %ld", st);
		}
		client_free(c);
	}
	if (own != NULL)
		xfree_secret(own);
	free(base);
	free(path);
	*why = err;
	return rc;
}

/* Run the command with the body on its stdin: 0 if it exits 0 (*status
 * its exit status), else negative with *why. */
static int
alert_command(const struct aitem *it, int *status, char **why)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		*why = xasprintf("pipe: %s", strerror(errno));
		return -errno;
	}
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = xcalloc(n + 5, sizeof *envp);
	memcpy(envp, environ, n * sizeof *envp);
	for (size_t i = 0; i < 4; i++)
		envp[n + i] = it->env[i];
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[] = { "/bin/sh", "-c", it->target, NULL };
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(pfd[0]);
	if (rc != 0) {
		close(pfd[1]);
		*why = xasprintf("cannot start /bin/sh: %s", strerror(rc));
		return -rc;
	}
	/* The body fits a pipe's buffer (ALERT_BODY_MAX); a command that
	 * does not read it gets EPIPE, which is its business. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	ssize_t w = write(pfd[1], it->body, strlen(it->body));
	(void)w;
	close(pfd[1]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int64_t end = clock_mono_ms() + ALERT_COMMAND_MS;
	int ws = 0;
	pid_t got;
	while ((got = waitpid(pid, &ws, WNOHANG)) == 0 && clock_mono_ms() < end)
		poll(NULL, 0, 20);
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
		*why = xasprintf("killed after %d s", ALERT_COMMAND_MS / 1000);
		return -ETIMEDOUT;
	}
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (*status != 0) {
		*why = xasprintf("exit status %d", *status);
		return -EPROTO;
	}
	return 0;
}

/* One try of IT; 1 if it is done with (sent or out of tries). */
static int
alert_try(alert *a, struct aitem *it)
{
	int status = 0;
	char *why = NULL;
	it->attempts++;
	int rc = it->kind == DCB_WEBHOOK ? alert_webhook(a, it, &status, &why) :
	         alert_command(it, &status, &why);
	int done = rc == 0 || it->attempts >= ALERT_ATTEMPTS;
	struct store_notif n = {
		.id = it->id, .attempts = it->attempts, .status = status,
		.state = rc == 0 ? "sent" : done ? "failed" : "pending",
		.error = why, .sent_ms = rc == 0 ? clock_now_ms() : 0 };
	char *err = NULL;
	if (store_notif_update(a->st, &n, &err) != 0) {
		log_warn("notification %lld: %s", (long long)it->id, err);
		free(err);
	}
	if (rc != 0)
		log_warn("notification %lld (%s to %s): try %d: %s%s",
		         (long long)it->id, it->event, it->kind == DCB_WEBHOOK ?
		         it->target : "a command", it->attempts,
		         why ? why : "failed", done ? ", giving up" : "");
	free(why);
	if (!done)
		it->due = clock_mono_ms() + (1000LL << (it->attempts - 1));
	return done;
}

static void *
alert_main(void *arg)
{
	alert *a = arg;
	pthread_mutex_lock(&a->mu);
	while (!a->stopping) {
		int64_t now = clock_mono_ms(), next = now + 1000;
		struct aitem **pp, **due = NULL;
		for (pp = &a->q; *pp != NULL; pp = &(*pp)->next) {
			if ((*pp)->due <= now) {
				due = pp;
				break;
			}
			if ((*pp)->due < next)
				next = (*pp)->due;
		}
		if (due != NULL) {
			struct aitem *it = *due;
			*due = it->next;
			a->nq--;
			pthread_mutex_unlock(&a->mu);
			int done = alert_try(a, it);
			pthread_mutex_lock(&a->mu);
			if (done) {
				aitem_free(it);
			} else {
				it->next = a->q;
				a->q = it;
				a->nq++;
			}
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t wait = next - now;
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->cv, &a->mu, &ts);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ------------------------------------------------------------ the API */

int
alert_start(store *st, const struct alert_opts *o, alert **out, char **err)
{
	int rc = store_notif_abandon(st, "not sent: the master stopped first",
	                             err);
	if (rc < 0)
		return rc;
	alert *a = xcalloc(1, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	a->st = st;
	alert_key_hex(o->secret, a->key);
	a->link_base = xstrdup(o->link_base);
	a->commands = o->commands;
	rc = pthread_create(&a->thread, NULL, alert_main, a);
	if (rc != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		free(a->link_base);
		sodium_memzero(a->key, sizeof a->key);
		free(a);
		return err_set(err, -rc, "cannot start the notifier: %s",
		               strerror(rc));
	}
	*out = a;
	return 0;
}

void
alert_stop(alert *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	while (a->q != NULL) {
		struct aitem *it = a->q;
		a->q = it->next;
		aitem_free(it);
	}
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->link_base);
	sodium_memzero(a->key, sizeof a->key);
	free(a);
}

/* The body sent for an event: BODY with the event, the time, the link
 * and job JOB's try, times and error. */
static char *
alert_body(alert *a, int ev, const char *task, int map_index, int64_t job,
           const json_t *body)
{
	json_t *o = json_deep_copy(body);
	char iso[64];
	int64_t now = clock_now_ms();
	cron_format_iso(now / 1000, iso, sizeof iso);
	json_object_set_new(o, "event", json_string(dag_event_name(ev)));
	json_object_set_new(o, "task", task ? json_string(task) : json_null());
	json_object_set_new(o, "map_index", json_integer(map_index));
	json_object_set_new(o, "time", json_string(iso));
	json_object_set_new(o, "time_ms", json_integer(now));
	const char *run_id = json_string_value(json_object_get(o, "run_id"));
	if (a->link_base != NULL && run_id != NULL) {
		/* The dashboard's route, the id encoded as
		 * encodeURIComponent() does (web/js/run.js). */
		char *enc = xmalloc(3 * strlen(run_id) + 1), *e = enc;
		for (const unsigned char *c = (const unsigned char *)run_id;
		     *c; c++) {
			if (isalnum(*c) || strchr("-_.!~*'()", *c) != NULL)
				*e++ = (char)*c;
			else
				e += sprintf(e, "%%%02X", *c);
		}
		*e = '\0';
		json_object_set_new(o, "link", json_sprintf("%s/#/runs/%s",
		                    a->link_base, enc));
		free(enc);
	}
	struct store_job j = { 0 };
	char *err = NULL;
	if (job > 0 && store_job_get(a->st, job, &j, &err) == 0) {
		json_object_set_new(o, "job_id", json_integer(job));
		json_object_set_new(o, "try", json_integer(j.attempt));
		json_object_set_new(o, "max_tries", json_integer(j.max_attempts));
		json_object_set_new(o, "started_ms", json_integer(j.started_ms));
		json_object_set_new(o, "finished_ms", json_integer(j.finished_ms));
		if (j.error != NULL)
			json_object_set_new(o, "error", json_stringn(j.error,
			    strnlen(j.error, ALERT_ERROR_MAX)));
	}
	free(err);
	store_job_clear(&j);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s != NULL && strlen(s) > ALERT_BODY_MAX) {
		free(s);
		s = NULL;
	}
	return s;
}

int
alert_fire(alert *a, int64_t run, const char *task, int map_index, int ev,
           int64_t job, const json_t *body, const struct dag_callbacks *cb,
           char **err)
{
	if (a == NULL)
		return 0;
	char *text = alert_body(a, ev, task, map_index, job, body);
	struct store_notif n = { .run = run, .task = task,
		.map_index = map_index, .event = dag_event_name(ev),
		.created_ms = clock_now_ms() };
	int64_t id;
	int rc = 0;
	if (cb == NULL || cb->n == 0) {
		n.kind = "none";
		n.target = "";
		n.state = "recorded";
		rc = store_notif_add(a->st, &n, &id, err);
	}
	for (size_t i = 0; rc == 0 && cb != NULL && i < cb->n; i++) {
		const struct dag_callback *c = &cb->v[i];
		n.kind = c->kind == DCB_WEBHOOK ? "webhook" : "command";
		n.target = c->target;
		n.state = "pending";
		n.error = NULL;
		if (text == NULL) {
			n.state = "failed";
			n.error = "the event's JSON is over 64 KiB";
		} else if (c->kind == DCB_COMMAND && !a->commands) {
			n.state = "refused";
			n.error = "command callbacks are off: set "
			          "master.callback_commands: true";
		}
		pthread_mutex_lock(&a->mu);
		if (strcmp(n.state, "pending") == 0 && a->nq >= ALERT_QUEUE_MAX) {
			n.state = "failed";
			n.error = "too many notifications waiting";
		}
		pthread_mutex_unlock(&a->mu);
		if ((rc = store_notif_add(a->st, &n, &id, err)) < 0 ||
		    strcmp(n.state, "pending") != 0)
			continue;
		struct aitem *it = xcalloc(1, sizeof *it);
		it->id = id;
		it->kind = c->kind;
		it->target = xstrdup(c->target);
		it->secret = xstrdup(c->secret);
		it->event = xstrdup(n.event);
		it->body = xstrdup(text);
		const char *dag = json_string_value(json_object_get(body, "dag_id"));
		const char *rid = json_string_value(json_object_get(body, "run_id"));
		it->env[0] = xasprintf("KILN_EVENT=%s", n.event);
		it->env[1] = xasprintf("KILN_DAG_ID=%s", dag ? dag : "");
		it->env[2] = xasprintf("KILN_RUN_ID=%s", rid ? rid : "");
		it->env[3] = xasprintf("KILN_TASK=%s", task ? task : "");
		it->due = clock_mono_ms();
		pthread_mutex_lock(&a->mu);
		struct aitem **pp = &a->q;    /* first come, first sent */
		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = it;
		a->nq++;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	free(text);
	return rc;
}
