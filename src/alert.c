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
#define AITEM_NENV 5            /* KILN_EVENT ... KILN_DELIVERY */

struct aitem {
	int64_t id;              /* its notifications row */
	int kind;                /* enum dag_callback_kind */
	char *target;
	char *secret;            /* the variable whose value signs it, or
	                          * NULL: the key of the cluster secret */
	char *event;
	char *body;              /* the JSON sent, as first made */
	char *delivery;          /* its id: X-Kiln-Delivery, "delivery_id" */
	char *host;              /* what one sender at a time talks to: the
	                          * URL's scheme://host:port, or "" for
	                          * every command */
	char *env[AITEM_NENV];   /* a command's KILN_* variables */
	int attempts;
	int64_t due;             /* clock_mono_ms of the next try */
	struct aitem *next;
};

/* One sender thread: the host it is talking to, if any. */
struct asender {
	alert *a;
	pthread_t thread;
	int started;
	const char *busy;        /* the host of the item it tries, or NULL */
};

struct alert {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct asender senders[ALERT_SENDERS];
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
	free(it->delivery);
	free(it->host);
	for (size_t i = 0; i < AITEM_NENV; i++)
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
		if (it->delivery != NULL)
			client_add_header(c, "X-Kiln-Delivery", it->delivery);
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
	char **envp = xcalloc(n + AITEM_NENV + 1, sizeof *envp);
	memcpy(envp, environ, n * sizeof *envp);
	for (size_t i = 0; i < AITEM_NENV; i++)
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
	int64_t backoff = done ? 0 : 1000LL << (it->attempts - 1);
	struct store_notif n = {
		.due_ms = done ? 0 : clock_now_ms() + backoff,
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
		it->due = clock_mono_ms() + backoff;
	return done;
}

/* Whether another sender is talking to HOST (a->mu held). */
static int
alert_host_busy(const alert *a, const char *host)
{
	for (size_t i = 0; i < ALERT_SENDERS; i++)
		if (a->senders[i].busy != NULL &&
		    strcmp(a->senders[i].busy, host) == 0)
			return 1;
	return 0;
}

/* A sender: takes the first item due whose host no other sender is
 * talking to, so a receiver that times out holds up one sender, not
 * the others' hosts, and one host gets one request at a time, in the
 * order of the queue. */
static void *
alert_main(void *arg)
{
	struct asender *me = arg;
	alert *a = me->a;
	pthread_mutex_lock(&a->mu);
	while (!a->stopping) {
		int64_t now = clock_mono_ms(), next = now + 1000;
		struct aitem **pp, **due = NULL;
		for (pp = &a->q; *pp != NULL; pp = &(*pp)->next) {
			if (alert_host_busy(a, (*pp)->host))
				continue;
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
			me->busy = it->host;
			pthread_mutex_unlock(&a->mu);
			int done = alert_try(a, it);
			pthread_mutex_lock(&a->mu);
			me->busy = NULL;
			if (done) {
				aitem_free(it);
			} else {
				it->next = a->q;
				a->q = it;
				a->nq++;
			}
			/* Its host is free for the other senders. */
			pthread_cond_broadcast(&a->cv);
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

/* A queue item for row ID (strings copied); a command's environment is
 * read from BODY. */
static struct aitem *
aitem_new(int64_t id, int kind, const char *target, const char *secret,
          const char *event, const char *task, const char *body,
          const char *delivery, int attempts)
{
	struct aitem *it = xcalloc(1, sizeof *it);
	it->id = id;
	it->kind = kind;
	it->target = xstrdup(target);
	it->secret = xstrdup(secret);
	it->event = xstrdup(event);
	it->body = xstrdup(body);
	it->delivery = xstrdup(delivery);
	it->attempts = attempts;
	if (kind == DCB_WEBHOOK) {
		const char *auth = strstr(target, "://");
		auth = auth != NULL ? auth + 3 : target;
		it->host = xstrndup(target, (size_t)(auth - target) +
		                    strcspn(auth, "/?#"));
	} else {
		it->host = xstrdup("");
	}
	json_t *o = json_loads(body, 0, NULL);
	const char *dag = json_string_value(json_object_get(o, "dag_id"));
	const char *rid = json_string_value(json_object_get(o, "run_id"));
	it->env[0] = xasprintf("KILN_EVENT=%s", event);
	it->env[1] = xasprintf("KILN_DAG_ID=%s", dag ? dag : "");
	it->env[2] = xasprintf("KILN_RUN_ID=%s", rid ? rid : "");
	it->env[3] = xasprintf("KILN_TASK=%s", task ? task : "");
	it->env[4] = xasprintf("KILN_DELIVERY=%s", delivery);
	json_decref(o);
	it->due = clock_mono_ms();
	return it;
}

/* Append IT to the queue (first come, first sent; a->mu held). */
static void
alert_queue(alert *a, struct aitem *it)
{
	struct aitem **pp = &a->q;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = it;
	a->nq++;
}

/* store_notif_pending()'s callback: a row the last master left. */
static int
alert_resume_cb(const struct store_notif *n, void *ud)
{
	alert *a = ud;
	int kind = strcmp(n->kind, "webhook") == 0 ? DCB_WEBHOOK : DCB_COMMAND;
	struct aitem *it = aitem_new(n->id, kind, n->target, n->secret,
	                             n->event, n->task, n->body, n->delivery,
	                             n->attempts);
	int64_t wait = n->due_ms - clock_now_ms();
	if (wait > 0)
		it->due += wait < 60000 ? wait : 60000;
	alert_queue(a, it);
	return 0;
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
	/* What the last master left pending is sent again (at least once:
	 * a try cut short by a crash may have reached its receiver, which
	 * the delivery id lets it tell). */
	rc = store_notif_pending(st, alert_resume_cb, a, err);
	for (struct aitem **pp = &a->q; rc == 0 && *pp != NULL;) {
		struct aitem *it = *pp;
		if (it->kind != DCB_COMMAND || a->commands) {
			pp = &it->next;
			continue;
		}
		struct store_notif n = { .id = it->id, .state = "refused",
			.attempts = it->attempts, .error = "command callbacks "
			"are off: set master.callback_commands: true" };
		char *uerr = NULL;
		if (store_notif_update(st, &n, &uerr) != 0) {
			log_warn("notification %lld: %s", (long long)it->id, uerr);
			free(uerr);
		}
		*pp = it->next;
		a->nq--;
		aitem_free(it);
	}
	if (rc == 0 && a->nq > 0)
		log_info("notifier: %zu notification(s) left pending by the last "
		         "master to send again", a->nq);
	for (size_t i = 0; rc == 0 && i < ALERT_SENDERS; i++) {
		a->senders[i].a = a;
		int prc = pthread_create(&a->senders[i].thread, NULL, alert_main,
		                         &a->senders[i]);
		if (prc != 0)
			rc = err_set(err, -prc, "cannot start the notifier: %s",
			             strerror(prc));
		else
			a->senders[i].started = 1;
	}
	if (rc != 0) {
		alert_stop(a);
		return rc;
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
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; i < ALERT_SENDERS; i++)
		if (a->senders[i].started)
			pthread_join(a->senders[i].thread, NULL);
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
 * and job JOB's try, times and error (a new reference). */
static json_t *
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
	return o;
}

/* O as sent to one target, with its delivery id DELIVERY (NULL: none);
 * NULL if over ALERT_BODY_MAX. */
static char *
alert_body_text(json_t *o, const char *delivery)
{
	if (delivery != NULL)
		json_object_set_new(o, "delivery_id", json_string(delivery));
	else
		json_object_del(o, "delivery_id");
	char *s = json_dumps(o, JSON_COMPACT);
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
	json_t *o = alert_body(a, ev, task, map_index, job, body);
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
		/* Each target's own id, the same in every try, across
		 * restarts: a receiver dedupes on it. */
		unsigned char rnd[16];
		char delivery[2 * sizeof rnd + 1];
		randombytes_buf(rnd, sizeof rnd);
		sodium_bin2hex(delivery, sizeof delivery, rnd, sizeof rnd);
		char *text = alert_body_text(o, delivery);
		n.kind = c->kind == DCB_WEBHOOK ? "webhook" : "command";
		n.target = c->target;
		n.state = "pending";
		n.error = NULL;
		n.body = text;
		n.secret = c->secret;
		n.delivery = delivery;
		n.due_ms = clock_now_ms();
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
		if (strcmp(n.state, "pending") != 0)
			n.body = NULL;    /* nothing to send again */
		if ((rc = store_notif_add(a->st, &n, &id, err)) < 0 ||
		    strcmp(n.state, "pending") != 0) {
			free(text);
			continue;
		}
		struct aitem *it = aitem_new(id, c->kind, c->target, c->secret,
		                             n.event, task, text, delivery, 0);
		free(text);
		pthread_mutex_lock(&a->mu);
		alert_queue(a, it);
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
	}
	json_decref(o);
	return rc;
}
