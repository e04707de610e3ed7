/* SPDX-License-Identifier: MIT */
/*
 * executor.c - plugin tasks in child processes of the worker (see
 * executor.h): the frames both sides exchange, the zygote, the executor's
 * own loop, and the worker's side that relays and watches.
 *
 * A frame is an 8-byte length, a type byte and that many bytes.  Worker to
 * executor: 'R' run (JSON), 'C' cancel, 'F' a fetch's answer, 'S' a
 * stage's answer.  Executor to worker: 'L' log text, 'P' progress, 'f' a
 * fetch (input index), 's' a stage (JSON), 'O' an output (name, NUL,
 * bytes), 'M' an output in a file (name, NUL, the path of a temporary file
 * in the worker's cache directory, which the worker takes), 'D' done
 * (JSON).  Fetches and stages go to the worker because
 * they need its state (the disk cache and its budget, the master's client
 * and the stage bookkeeping); parameters, scratch directories, open_data()
 * (the read roots are the worker's, copied at fork), mapped inputs and the
 * plugin's context work in the executor as they do in the worker.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* sigabbrev_np() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "err.h"
#include "executor.h"
#include "jobstate.h"
#include "log.h"
#include "task.h"
#include "xalloc.h"

#define EX_FRAME_MAX ((uint64_t)1 << 40)
#define EX_TICK_MS 50
/* A running task's executor has its RSS read at most this often: a
 * read is three system calls, and a no-op task takes 30 us. */
#define EX_RSS_MS 5

/* ------------------------------------------------------------ frames */

static int
ex_write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Send a frame of TYPE: A then B (either may be empty). */
static int
ex_send(int fd, int type, const void *a, size_t alen, const void *b,
        size_t blen)
{
	unsigned char head[9];
	uint64_t len = alen + blen;
	memcpy(head, &len, 8);
	head[8] = (unsigned char)type;
	struct iovec iov[3] = { { head, 9 }, { (void *)a, alen },
	                        { (void *)b, blen } };
	return ex_write_all(fd, iov, 3);
}

static int
ex_send_json(int fd, int type, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	int rc = ex_send(fd, type, s, strlen(s), NULL, 0);
	free(s);
	return rc;
}

static int
ex_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Read a frame: its type and bytes (malloc()ed, NUL-terminated). */
static int
ex_recv(int fd, int *type, char **buf, size_t *len)
{
	unsigned char head[9];
	uint64_t n;
	int rc = ex_read_all(fd, head, 9);
	if (rc != 0)
		return rc;
	memcpy(&n, head, 8);
	if (n > EX_FRAME_MAX)
		return -EPROTO;
	*type = head[8];
	*buf = xmalloc((size_t)n + 1);
	if ((rc = ex_read_all(fd, *buf, (size_t)n)) != 0) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

/* ----------------------------------------------------- the executor */

/* What an executor needs of the worker, copied at fork. */
struct ex_env {
	const dataroot *roots;
	const char *scratch;
	const char *outdir;     /* where outputs are written, or NULL */
};

/* An executor's state: the task it runs and the answer it awaits. */
struct ex_child {
	int fd;
	pthread_mutex_t wmu;            /* one frame at a time */
	pthread_mutex_t sock;           /* held by whoever reads a frame */
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* the reader sleeps here */
	kiln_task *t;                   /* the running task, or NULL */
	int running;                    /* a task runs: the reader reads */
	uint64_t log_pos;
	double progress;
	char *run;                      /* a run request not yet taken */
	int want;                       /* the answer type awaited, or 0 */
	char *answer;                   /* and its bytes once it came */
	pthread_mutex_t rmu;            /* one request at a time */
};

static int
xc_send(struct ex_child *c, int type, const void *a, size_t alen,
        const void *b, size_t blen)
{
	pthread_mutex_lock(&c->wmu);
	int rc = ex_send(c->fd, type, a, alen, b, blen);
	pthread_mutex_unlock(&c->wmu);
	return rc;
}

/* Frames gathered to go in one write (xc_task's end). */
struct xc_frames {
	char *p;
	size_t len, cap;
};

static void
xc_frame_add(struct xc_frames *f, int type, const void *a, size_t alen)
{
	if (f->len + 9 + alen > f->cap) {
		f->cap = 2 * (f->len + 9 + alen) + 256;
		f->p = xrealloc(f->p, f->cap);
	}
	uint64_t len = alen;
	memcpy(f->p + f->len, &len, 8);
	f->p[f->len + 8] = (char)type;
	if (alen > 0)
		memcpy(f->p + f->len + 9, a, alen);
	f->len += 9 + alen;
}

/* A frame now, or into F (not NULL) to go with others. */
static void
xc_send_or_add(struct ex_child *c, struct xc_frames *f, int type,
               const void *a, size_t alen)
{
	if (f != NULL)
		xc_frame_add(f, type, a, alen);
	else
		xc_send(c, type, a, alen, NULL, 0);
}

/* Send the log lines and progress of the running task not sent yet (or
 * add them to F).  c->mu held. */
static void
xc_flush(struct ex_child *c, struct xc_frames *f)
{
	if (c->t == NULL)
		return;
	char *text = task_log_since(c->t, &c->log_pos);
	if (text != NULL)
		xc_send_or_add(c, f, 'L', text, strlen(text));
	free(text);
	double p = task_progress(c->t);
	if (p != c->progress) {
		c->progress = p;
		char num[32];
		int n = snprintf(num, sizeof num, "%.17g", p);
		xc_send_or_add(c, f, 'P', num, (size_t)n);
	}
}

/* Take frame TYPE (BUF, whose ownership passes) read by either thread.
 * c->mu held. */
static void
xc_take(struct ex_child *c, int type, char *buf)
{
	if (type == 'R' && c->run == NULL) {
		c->run = buf;
		buf = NULL;
	} else if (type == 'C') {
		if (c->t != NULL)       /* else late: its task is over */
			task_cancel(c->t);
	} else if (type == c->want && c->answer == NULL) {
		c->answer = buf;
		buf = NULL;
	}
	free(buf);
}

/* Read a frame into xc_take(); the worker gone, the executor ends,
 * whatever its task does.  c->sock held, c->mu not. */
static void
xc_read(struct ex_child *c)
{
	int type;
	char *buf;
	size_t len;
	if (ex_recv(c->fd, &type, &buf, &len) != 0)
		_exit(0);
	pthread_mutex_lock(&c->mu);
	xc_take(c, type, buf);
	pthread_mutex_unlock(&c->mu);
}

/* Sleep on c->cv for MS at most.  c->mu held. */
static void
xc_nap(struct ex_child *c, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

/*
 * The reader: while a task runs, it takes the worker's frames (a cancel,
 * an answer the task's thread did not read itself) and flushes the task's
 * log every XC_READER_MS.  Between tasks the main thread reads the socket
 * itself (xc_next_run), so that a run request wakes one thread, not this
 * one and then the main one (two of a no-op task's four wake-ups); nothing
 * wakes the reader when a task starts, so a task shorter than its nap
 * never has it read.  The worker gone, the executor ends, whatever its
 * task does.
 */
#define XC_READER_MS 100

static void *
xc_reader(void *arg)
{
	struct ex_child *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		if (!c->running) {
			xc_nap(c, XC_READER_MS);
			continue;
		}
		pthread_mutex_unlock(&c->mu);
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int n = poll(&pfd, 1, XC_READER_MS);
		pthread_mutex_lock(&c->mu);
		xc_flush(c, NULL);
		if (n <= 0 || !c->running)
			continue;
		if (pthread_mutex_trylock(&c->sock) != 0) {
			/* The task's thread reads an answer it awaits. */
			xc_nap(c, 1);
			continue;
		}
		pthread_mutex_unlock(&c->mu);
		/* Still there: the task's thread may have read it. */
		if (poll(&pfd, 1, 0) > 0)
			xc_read(c);
		pthread_mutex_unlock(&c->sock);
		pthread_mutex_lock(&c->mu);
	}
	return NULL;
}

/* Read frames until *SLOT (c->run or c->answer) is filled, or find it
 * filled by the reader, and take it.  c->sock and c->mu held. */
static char *
xc_await(struct ex_child *c, char **slot)
{
	while (*slot == NULL) {
		pthread_mutex_unlock(&c->mu);
		xc_read(c);
		pthread_mutex_lock(&c->mu);
	}
	char *v = *slot;
	*slot = NULL;
	return v;
}

/* The next run request: one the reader took, or read here.  Between tasks
 * this thread reads the socket (a cancel that comes late is dropped). */
static char *
xc_next_run(struct ex_child *c)
{
	pthread_mutex_lock(&c->sock);
	pthread_mutex_lock(&c->mu);
	char *run = xc_await(c, &c->run);
	c->running = 1;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->sock);
	return run;
}

/* Ask the worker (frame TYPE with BODY) and read until the answer ANSWER
 * comes (or the reader took it): parsed, or NULL. */
static json_t *
xc_ask(struct ex_child *c, int type, json_t *body, int answer)
{
	pthread_mutex_lock(&c->rmu);
	pthread_mutex_lock(&c->mu);
	c->want = answer;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&c->wmu);
	int rc = ex_send_json(c->fd, type, body);
	pthread_mutex_unlock(&c->wmu);
	pthread_mutex_lock(&c->sock);
	pthread_mutex_lock(&c->mu);
	char *a = rc == 0 ? xc_await(c, &c->answer) : c->answer;
	c->answer = NULL;
	c->want = 0;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_unlock(&c->sock);
	pthread_mutex_unlock(&c->rmu);
	json_t *j = a != NULL ? json_loads(a, JSON_DECODE_ANY, NULL) : NULL;
	free(a);
	return j;
}

/* A task_fetch_fn: input KEY (its index) through the worker. */
static char *
xc_fetch(void *ud, const char *key, uint64_t size, char **err)
{
	(void)size;
	json_t *j = xc_ask(ud, 'f', json_integer(atoi(key)), 'F');
	const char *path = json_string_value(json_object_get(j, "path"));
	const char *e = json_string_value(json_object_get(j, "error"));
	char *out = path != NULL ? xstrdup(path) : NULL;
	if (out == NULL)
		err_set(err, -EIO, "%s", e ? e : "the worker did not answer");
	json_decref(j);
	return out;
}

/* A task_stage_fn: the stage runs from the worker, on the worker's task. */
static int
xc_stage(void *ud, kiln_task *t, const char *fn, const char *broadcast,
         const struct kiln_stage_task *tasks, int n, char ***results,
         char **err)
{
	(void)t;
	json_t *ts = json_array();
	for (int i = 0; i < n; i++) {
		json_t *in = json_array();
		for (int k = 0; k < tasks[i].ninputs; k++)
			json_array_append_new(in, json_integer(tasks[i].inputs[k]));
		json_array_append_new(ts, json_pack("{s:s?,s:o}", "arg",
		                      tasks[i].arg, "inputs", in));
	}
	json_t *j = xc_ask(ud, 's', json_pack("{s:s,s:s?,s:o}", "fn", fn,
	                   "broadcast", broadcast, "tasks", ts), 'S');
	int rc = j ? (int)json_integer_value(json_object_get(j, "rc")) : KILN_EFAIL;
	json_t *rs = json_object_get(j, "results");
	if (rc == 0 && json_array_size(rs) == (size_t)n) {
		*results = xcalloc((size_t)n, sizeof **results);
		for (int i = 0; i < n; i++)
			(*results)[i] = xstrdup(json_string_value(
				json_array_get(rs, (size_t)i)));
	} else {
		const char *e = json_string_value(json_object_get(j, "error"));
		rc = err_set(err, rc ? rc : KILN_EFAIL, "%s",
		            e ? e : "the worker did not answer");
	}
	json_decref(j);
	return rc;
}

/* Run the task that RUN (a run request) describes and report it. */
static void
xc_task(struct ex_child *c, plugin_registry *reg, const struct ex_env *env,
        json_t *run)
{
	const char *name = json_string_value(json_object_get(run, "plugin"));
	const char *params = json_string_value(json_object_get(run, "params"));
	json_t *inputs = json_object_get(run, "inputs");
	char *err = NULL;
	kiln_task *t = task_new(json_integer_value(json_object_get(run, "id")),
	                        (int)json_integer_value(json_object_get(run,
	                        "attempt")), params, env->scratch, 0, &err);
	plugin *p = name ? plugin_acquire(reg, name) : NULL;
	int state = JOB_FAILED, code = KILN_EFAIL;
	const char *tname = json_string_value(json_object_get(run, "name"));
	if (t != NULL && tname != NULL)
		task_set_name(t, tname);
	if (t != NULL && p != NULL) {
		for (size_t i = 0; i < json_array_size(inputs); i++) {
			char key[24];
			snprintf(key, sizeof key, "%zu", i);
			task_add_input_lazy(t, json_string_value(json_array_get(
			                    inputs, i)), key, 0, xc_fetch, c);
		}
		task_set_stages(t, xc_stage, c);
		task_set_dataroot(t, env->roots);
		task_set_output_dir(t, env->outdir);
		task_set_output_limit(t, json_integer_value(json_object_get(run,
		                      "output_limit")));
		pthread_mutex_lock(&c->mu);
		c->t = t;
		c->log_pos = 0;
		c->progress = 0;
		pthread_mutex_unlock(&c->mu);
		state = task_run(t, p);
		code = task_code(t);
		for (int i = 0; i < task_output_count(t); i++) {
			const void *data;
			size_t len;
			const char *on = task_output(t, i, &data, &len);
			const char *file = task_output_file(t, i);
			if (file != NULL) {
				/* The worker takes the file: 65 MB of an
				 * ingest's partition not copied through this
				 * socket and again into the worker. */
				xc_send(c, 'M', on, strlen(on) + 1, file,
				        strlen(file));
				task_output_disown_file(t, i);
			} else {
				xc_send(c, 'O', on, strlen(on) + 1, data, len);
			}
		}
	}
	/* The task's last log lines, its progress and its end in one write,
	 * so the worker wakes once for them, not once each (a short task's
	 * round trip, bench/kiln_bench.py). */
	struct xc_frames f = { 0 };
	pthread_mutex_lock(&c->mu);
	if (t != NULL && p != NULL) {
		xc_flush(c, &f);
		c->t = NULL;
	}
	c->running = 0;         /* this thread reads the next request */
	pthread_mutex_unlock(&c->mu);
	json_t *done = json_pack("{s:i,s:i,s:s?,s:s?}", "state", state,
		"code", code, "result", t ? task_result(t) : NULL, "error",
		t == NULL ? err : p == NULL ? "plugin is not loaded in the "
		"executor" : task_error(t));
	char *djs = json_dumps(done, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(done);
	xc_frame_add(&f, 'D', djs, strlen(djs));
	free(djs);
	struct iovec iov = { f.p, f.len };
	pthread_mutex_lock(&c->wmu);
	ex_write_all(c->fd, &iov, 1);
	pthread_mutex_unlock(&c->wmu);
	free(f.p);
	if (p != NULL)
		plugin_release(p);
	task_free(t);
	free(err);
}

/* An executor: run tasks as the worker sends them, until it goes. */
static void
ex_child_main(int fd, plugin_registry *reg, const struct ex_env *env)
{
	/* A plugin's crash is reported by the signal that ended its
	 * executor: a sanitizer's handler would turn it into exit(1). */
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		signal(fatal[i], SIG_DFL);
	struct ex_child c = { .fd = fd };
	pthread_mutex_init(&c.wmu, NULL);
	pthread_mutex_init(&c.sock, NULL);
	pthread_mutex_init(&c.mu, NULL);
	pthread_mutex_init(&c.rmu, NULL);
	pthread_cond_init(&c.cv, NULL);
	pthread_t th;
	if (pthread_create(&th, NULL, xc_reader, &c) != 0)
		_exit(1);
	for (;;) {
		char *run = xc_next_run(&c);
		json_t *j = json_loads(run, 0, NULL);
		free(run);
		if (j == NULL)
			_exit(1);
		xc_task(&c, reg, env, j);
		json_decref(j);
	}
}

/* ------------------------------------------------------- the zygote */

/* The zygote's requests: 'n' (with a descriptor: fork an executor on it;
 * answered with its pid) and 'w' PID (wait for it; its wait status). */
static void
ex_zygote_main(int zfd, plugin_registry *worker_reg, const struct ex_env *env)
{
	/* Ctrl-C and `kiln up`'s stop are for the worker; an executor
	 * ends when the worker closes its socket. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* The worker's registry may hold descriptors only: the code is
	 * loaded here, where executors are forked from. */
	plugin_registry *reg;
	char *err = NULL;
	if (plugin_registry_open_code(worker_reg, &reg, &err) != 0) {
		log_error("executors: %s", err);
		_exit(1);
	}
	for (;;) {
		char buf[16];
		char ctl[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { buf, sizeof buf };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl, .msg_controllen = sizeof ctl };
		ssize_t n = recvmsg(zfd, &m, 0);
		if (n <= 0)
			break;
		int fd = -1;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		if (cm != NULL && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof fd);
		int64_t reply = -1;
		if (buf[0] == 'n' && fd >= 0) {
			plugin_registry_scan(reg);
			pid_t pid = fork();
			if (pid == 0) {
				close(zfd);
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				ex_child_main(fd, reg, env);
			}
			reply = pid;
		} else if (buf[0] == 'w' && n == 9) {
			int64_t pid;
			int st;
			memcpy(&pid, buf + 1, 8);
			reply = waitpid((pid_t)pid, &st, 0) == pid ? st : -1;
		}
		if (fd >= 0)
			close(fd);
		if (send(zfd, &reply, sizeof reply, 0) < 0)
			break;
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	/* A copy of the worker: what it holds is the worker's to free. */
	_exit(0);
}

/* ------------------------------------------------- the worker's side */

struct ex_proc {
	int pid;
	int fd;
	int statm;              /* its /proc/PID/statm, open (or -1) */
	unsigned gen;           /* the plugin generation it was forked in */
	int64_t base_rss;       /* resident bytes when idle */
	struct ex_proc *next;
};

struct executors {
	int zfd;
	int zpid;
	char *outdir;           /* where executors write outputs, or NULL */
	pthread_mutex_t mu;     /* the idle list, gen; zygote requests */
	struct ex_proc *idle;
	unsigned gen;
};

/* E's resident bytes (from /proc/PID/statm), or -1.  The file stays open
 * for the executor's life and is read from its start, where procfs makes
 * it anew: one system call, at every task's start, on a round trip's
 * path. */
static int64_t
ex_rss(const struct ex_proc *e)
{
	char buf[128];
	ssize_t n = e->statm >= 0 ? pread(e->statm, buf, sizeof buf - 1, 0) : -1;
	long long size, res;
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%lld %lld", &size, &res) != 2)
		return -1;
	return res * sysconf(_SC_PAGESIZE);
}

/* A zygote request; its answer, or -1.  x->mu held. */
static int64_t
ex_zygote_ask(executors *x, const char *req, size_t len, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)req, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		m.msg_control = ctl;
		m.msg_controllen = sizeof ctl;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	int64_t reply;
	if (sendmsg(x->zfd, &m, MSG_NOSIGNAL) < 0 ||
	    recv(x->zfd, &reply, sizeof reply, 0) != sizeof reply)
		return -1;
	return reply;
}

/* A new executor, or NULL (logged). */
static struct ex_proc *
ex_spawn(executors *x)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("cannot make an executor's socket: %s", strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&x->mu);
	int64_t pid = ex_zygote_ask(x, "n", 1, sv[1]);
	unsigned gen = x->gen;
	pthread_mutex_unlock(&x->mu);
	close(sv[1]);
	if (pid <= 0) {
		log_error("the zygote did not fork an executor");
		close(sv[0]);
		return NULL;
	}
	struct ex_proc *e = xcalloc(1, sizeof *e);
	e->pid = (int)pid;
	e->fd = sv[0];
	e->gen = gen;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/statm", e->pid);
	e->statm = open(path, O_RDONLY | O_CLOEXEC);
	return e;
}

/* Stop E (killed if KILL) and reap it; its wait status. */
static int
ex_reap(executors *x, struct ex_proc *e, int kill_it)
{
	if (kill_it)
		kill(e->pid, SIGKILL);
	close(e->fd);
	if (e->statm >= 0)
		close(e->statm);
	char req[9] = "w";
	int64_t pid = e->pid;
	memcpy(req + 1, &pid, 8);
	pthread_mutex_lock(&x->mu);
	int64_t st = ex_zygote_ask(x, req, sizeof req, -1);
	pthread_mutex_unlock(&x->mu);
	free(e);
	return (int)st;
}

int
executors_open(plugin_registry *reg, const dataroot *roots,
               const char *scratch, const char *outdir, int prefork,
               executors **out, char **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return err_set(err, -errno, "cannot make the zygote's socket: %s",
		              strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return err_set(err, -e, "cannot fork the zygote: %s", strerror(e));
	}
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct ex_env env = { roots, scratch, outdir };
		ex_zygote_main(sv[1], reg, &env);
	}
	close(sv[1]);
	executors *x = xcalloc(1, sizeof *x);
	x->zfd = sv[0];
	x->zpid = pid;
	x->outdir = outdir != NULL ? xstrdup(outdir) : NULL;
	pthread_mutex_init(&x->mu, NULL);
	for (int i = 0; i < prefork; i++) {
		struct ex_proc *e = ex_spawn(x);
		if (e == NULL)
			break;
		e->next = x->idle;
		x->idle = e;
	}
	*out = x;
	return 0;
}

void
executors_close(executors *x)
{
	if (x == NULL)
		return;
	while (x->idle != NULL) {
		struct ex_proc *e = x->idle;
		x->idle = e->next;
		ex_reap(x, e, 0);
	}
	close(x->zfd);
	waitpid(x->zpid, NULL, 0);
	pthread_mutex_destroy(&x->mu);
	free(x->outdir);
	free(x);
}

void
executors_reload(executors *x)
{
	pthread_mutex_lock(&x->mu);
	x->gen++;
	pthread_mutex_unlock(&x->mu);
}

/* An idle executor of the current generation, or a new one. */
static struct ex_proc *
ex_take(executors *x)
{
	for (;;) {
		pthread_mutex_lock(&x->mu);
		struct ex_proc *e = x->idle;
		if (e != NULL)
			x->idle = e->next;
		int stale = e != NULL && e->gen != x->gen;
		pthread_mutex_unlock(&x->mu);
		if (e == NULL)
			return ex_spawn(x);
		if (!stale)
			return e;
		ex_reap(x, e, 1);
	}
}

static void
ex_put(executors *x, struct ex_proc *e)
{
	pthread_mutex_lock(&x->mu);
	e->next = x->idle;
	x->idle = e;
	pthread_mutex_unlock(&x->mu);
}

/* Answer a fetch of input I (the text of frame 'f'). */
static void
ex_answer_fetch(int fd, kiln_task *t, const char *buf)
{
	const char *path = task_host()->input_path(t, atoi(buf), NULL);
	const char *e = task_fetch_error(t);
	ex_send_json(fd, 'F', path ? json_pack("{s:s}", "path", path) :
	             json_pack("{s:s}", "error", e ? e : "no such input"));
}

/* Run the stage that frame 's' (BUF) asks for, from T, and answer. */
static void
ex_answer_stage(int fd, kiln_task *t, const char *buf)
{
	json_t *j = json_loads(buf, 0, NULL);
	json_t *ts = json_object_get(j, "tasks");
	size_t n = json_array_size(ts);
	struct kiln_stage_task *st = xcalloc(n + 1, sizeof *st);
	int **ins = xcalloc(n + 1, sizeof *ins);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(ts, i), *in = json_object_get(o, "inputs");
		ins[i] = xcalloc(json_array_size(in) + 1, sizeof **ins);
		for (size_t k = 0; k < json_array_size(in); k++)
			ins[i][k] = (int)json_integer_value(json_array_get(in, k));
		st[i] = (struct kiln_stage_task){ json_string_value(
			json_object_get(o, "arg")), ins[i], (int)json_array_size(in) };
	}
	char **results = NULL, *errmsg = NULL;
	int rc = task_host()->stage(t, json_string_value(json_object_get(j, "fn")),
		json_string_value(json_object_get(j, "broadcast")), st, (int)n,
		&results, &errmsg);
	json_t *rs = json_array();
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_array_append_new(rs, json_string(results[i] ? results[i] : "null"));
		free(results[i]);
	}
	free(results);
	ex_send_json(fd, 'S', json_pack("{s:i,s:o,s:s?}", "rc", rc, "results",
	             rs, "error", errmsg));
	free(errmsg);
	for (size_t i = 0; i < n; i++)
		free(ins[i]);
	free(ins);
	free(st);
	json_decref(j);
}

/* Take the outcome (frame 'D', BUF) into T; the job state. */
static int
ex_done(kiln_task *t, const char *buf, int *code)
{
	json_t *j = json_loads(buf, 0, NULL);
	const char *result = json_string_value(json_object_get(j, "result"));
	const char *error = json_string_value(json_object_get(j, "error"));
	int state = j ? (int)json_integer_value(json_object_get(j, "state")) :
	            JOB_FAILED;
	*code = j ? (int)json_integer_value(json_object_get(j, "code")) :
	        KILN_EFAIL;
	if (result != NULL)
		task_host()->set_result(t, result);
	if (error != NULL)
		task_host()->set_error(t, "%s", error);
	json_decref(j);
	return state;
}

/* Take output file FILE (in DIR) an executor wrote as output NAME of T:
 * NULL, or why it could not (malloc()ed): the task must not succeed
 * without an output its plugin made. */
static char *
ex_output_file(kiln_task *t, const char *dir, const char *name,
               const char *file)
{
	/* Only a temporary file of the cache directory, by its own name:
	 * the executor runs a plugin's code, and the worker removes what it
	 * takes. */
	size_t n = dir != NULL ? strlen(dir) : 0, fl = strlen(file);
	if (n == 0 || strncmp(file, dir, n) != 0 || file[n] != '/' ||
	    strchr(file + n + 1, '/') != NULL || fl < 4 ||
	    strcmp(file + fl - 4, ".tmp") != 0)
		return xasprintf("output %s: the executor named a file outside "
		                 "%s: %s", name, dir ? dir : "(none)", file);
	char *err = NULL;
	if (task_output_add_file(t, name, file, &err) != 0)
		return err;
	return NULL;
}

/* One frame from the executor on FD for T.  1 when the task is done
 * (*state, *code), 0 to go on, or negative (the executor is gone).  An
 * output file the worker could not take: *LOST (the first one's why). */
static int
ex_relay(int fd, kiln_task *t, const char *outdir, int *state, int *code,
         char **lost)
{
	int type;
	char *buf;
	size_t len;
	int rc = ex_recv(fd, &type, &buf, &len);
	if (rc != 0)
		return rc;
	size_t nl;
	switch (type) {
	case 'L':
		task_append_log(t, buf, len);
		break;
	case 'P':
		task_host()->progress(t, strtod(buf, NULL));
		break;
	case 'f':
		ex_answer_fetch(fd, t, buf);
		break;
	case 's':
		ex_answer_stage(fd, t, buf);
		break;
	case 'O':
		nl = strnlen(buf, len);
		if (nl < len)
			task_host()->output(t, buf, buf + nl + 1, len - nl - 1);
		break;
	case 'M':
		nl = strnlen(buf, len);
		if (nl < len) { /* ex_recv() ends BUF with a NUL */
			char *why = ex_output_file(t, outdir, buf, buf + nl + 1);
			if (why != NULL && *lost == NULL)
				*lost = why;
			else
				free(why);
		}
		break;
	case 'D':
		*state = ex_done(t, buf, code);
		rc = 1;
		break;
	default:
		rc = -EPROTO;
	}
	free(buf);
	return rc;
}

/* "3 s" or "1500 ms". */
static char *
ex_ms_text(int64_t ms)
{
	return ms % 1000 == 0 ? xasprintf("%" PRId64 " s", ms / 1000) :
	       xasprintf("%" PRId64 " ms", ms);
}

/* Why E must die now, or NULL: a cancel not obeyed within the grace, or
 * memory past the limit.  *CANCEL_AT: when the cancel was passed on;
 * *RSS_AT: when its memory is read next (every EX_RSS_MS at most). */
static char *
ex_verdict(struct ex_proc *e, const struct executor_task *et,
           int64_t *cancel_at, int64_t *rss_at)
{
	int64_t now = clock_mono_ms();
	if (*cancel_at == 0 && task_host()->cancelled(et->t)) {
		*cancel_at = now;
		ex_send(e->fd, 'C', NULL, 0, NULL, 0);
	}
	if (*cancel_at != 0 && now >= *cancel_at + EXECUTOR_GRACE_MS) {
		if (et->timeout_ms <= 0)
			return xstrdup("killed: cancelled, and the plugin did "
			               "not stop");
		char *s = ex_ms_text(et->timeout_ms);
		char *why = xasprintf("killed: timeout %s exceeded", s);
		free(s);
		return why;
	}
	int64_t rss = -1;
	if (et->memory_limit > 0 && now >= *rss_at) {
		*rss_at = now + EX_RSS_MS;
		rss = ex_rss(e);
	}
	if (rss >= 0 && rss - e->base_rss > et->memory_limit)
		return xasprintf("killed: memory limit %" PRId64 " MiB exceeded "
		                 "(RSS %" PRId64 " MiB)", et->memory_limit >> 20,
		                 (rss - e->base_rss) >> 20);
	return NULL;
}

/* Why an executor that stopped answering ended (wait status ST). */
static char *
ex_death(int st)
{
	if (st >= 0 && WIFSIGNALED(st)) {
		const char *name = sigabbrev_np(WTERMSIG(st));
		return name ? xasprintf("executor crashed: SIG%s", name) :
		       xasprintf("executor crashed: signal %d", WTERMSIG(st));
	}
	if (st >= 0 && WIFEXITED(st))
		return xasprintf("executor exited with status %d during the task",
		                 WEXITSTATUS(st));
	return xstrdup("executor lost");
}

/* Send ET's run request to E. */
static int
ex_start(struct ex_proc *e, const struct executor_task *et)
{
	json_t *inputs = json_array();
	int n = task_host()->input_count(et->t);
	for (int i = 0; i < n; i++)
		json_array_append_new(inputs, json_string(
			task_host()->input_name(et->t, i)));
	return ex_send_json(e->fd, 'R', json_pack("{s:s,s:s?,s:I,s:s?,s:i,s:o,s:I}",
		"plugin", et->plugin, "params", et->params, "id",
		(json_int_t)et->job_id, "name", et->name, "attempt", et->attempt,
		"inputs", inputs,
		"output_limit", (json_int_t)et->output_limit));
}

int
executors_run(executors *x, const struct executor_task *et, int *code,
              char **why)
{
	*why = NULL;
	*code = KILN_EFAIL;
	struct ex_proc *e = ex_take(x);
	if (e == NULL) {
		*why = xstrdup("no executor: the zygote did not fork one");
		return JOB_FAILED;
	}
	e->base_rss = ex_rss(e);
	int state = JOB_FAILED, rc = ex_start(e, et);
	/* The first check of its memory once the task has run EX_RSS_MS:
	 * a shorter one is not read (a task grows by little in that). */
	int64_t cancel_at = 0, rss_at = clock_mono_ms() + EX_RSS_MS;
	char *kill_why = NULL, *lost = NULL;
	while (rc == 0 && kill_why == NULL) {
		struct pollfd pfd = { e->fd, POLLIN, 0 };
		if (poll(&pfd, 1, EX_TICK_MS) > 0)
			rc = ex_relay(e->fd, et->t, x->outdir, &state, code,
			              &lost);
		if (rc == 0)
			kill_why = ex_verdict(e, et, &cancel_at, &rss_at);
	}
	if (rc == 1) {
		ex_put(x, e);
		if (lost != NULL && state == JOB_SUCCEEDED) {
			log_warn("%s attempt %d: %s", task_name(et->t),
			         et->attempt, lost);
			*code = KILN_EFAIL;
			*why = lost;
			return JOB_FAILED;
		}
		free(lost);
		return state;
	}
	free(lost);
	int st = ex_reap(x, e, 1);
	*why = kill_why != NULL ? kill_why : ex_death(st);
	*code = KILN_EFAIL;
	log_warn("%s attempt %d: %s", task_name(et->t), et->attempt, *why);
	return JOB_FAILED;
}
