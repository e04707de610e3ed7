/* SPDX-License-Identifier: MIT */
/*
 * task.c - one running task: the host side of the plugin ABI (see task.h).
 *
 * The functions in the `struct kiln_host` table act on the task they are
 * given.  A plugin may call them from threads of its own, so everything a
 * plugin can change sits under the task's mutex, except the cancellation
 * flag and the progress, which other threads of the worker read while the
 * task runs and so are atomics.  What a plugin hands over (log lines,
 * result, outputs) is copied; what the host hands out (parameter strings,
 * paths) lives until task_free().
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "datacache.h"
#include "dataroot.h"
#include "diskcache.h"
#include "err.h"
#include "fault.h"
#include "jobstate.h"
#include "log.h"
#include "proto.h"   /* the keys of a map task's parameters */
#include "task.h"
#include "xalloc.h"

#define TASK_RESULT_MAX (1024 * 1024)
#define TASK_LOG_DEFAULT (1024 * 1024)

/* A parameter formatted as text, handed out by param(). */
struct task_str {
	char *name;
	char *value;
	struct task_str *next;
};

struct task_file {
	char *name;
	char *path;             /* NULL until fetched */
	char *key;              /* what FETCH is given, or NULL */
	uint64_t size;
	task_fetch_fn fetch;
	void *fetch_ud;
	int failed;             /* FETCH failed: not tried again */
	datacache_ref *map;     /* mapped by input_data(), or NULL */
	const void *data;
	size_t len;
};

struct task_output {
	char *name;
	void *data;             /* NULL when adopted; mapped if FILE */
	size_t len;
	char *file;             /* a temporary file holding the bytes, mapped
	                         * at DATA and removed with the task unless
	                         * disowned; NULL: DATA is malloc()ed */
	bool file_owned;
	char *sha;              /* adopted from a map task (ABI 1.7): stored
	                         * already, by this SHA-256; else NULL */
};

struct kiln_task {
	int64_t job_id;
	int attempt;
	char name[JOB_NAME_MAX];        /* for logs: "job ID", "stage S task I" */
	plugin *plugin;                 /* while task_run() runs it */
	json_t *params;                 /* an object; read-only once made */
	char *scratch_root;

	pthread_mutex_t lock;           /* guards the members below */
	struct task_str *strs;
	char *params_text;
	/* The log is log[log_start, log_len): the tail of at most log_limit
	 * bytes.  Dropped bytes are reclaimed lazily so that appending stays
	 * linear however long the plugin logs. */
	char *log;
	size_t log_start, log_len, log_cap, log_limit;
	uint64_t log_total;             /* bytes ever appended */
	char *result;
	char *error;
	int code;                       /* what run() or map() returned */
	struct task_output *outputs;
	int noutputs;
	struct task_file *inputs;
	int ninputs;
	char *fetch_error;              /* the first input that failed */
	char *scratch;

	pthread_mutex_t fetch_lock;     /* one fetch at a time; taken
	                                 * before lock, never inside it */

	atomic_int cancelled;
	pthread_cond_t cancel_cv;       /* with lock: task_sleep()'s wake */
	_Atomic double progress;

	task_stage_fn stage_fn;         /* what host->stage() calls, or NULL */
	void *stage_ud;
	const dataroot *roots;          /* what open_data() may open, or NULL */
	int64_t output_limit;           /* bytes of outputs in all; 0: any */
	char *output_dir;               /* outputs go to files here, or NULL */
	char *output_conflict;          /* two outputs of one name (one
	                                 * adopted): why the task fails */
};

/* ------------------------------------------------------------ params */

/* NAME's value, or NULL if absent or JSON null. */
static json_t *
task_param_value(kiln_task *t, const char *name)
{
	if (name == NULL)
		return NULL;
	json_t *v = json_object_get(t->params, name);
	return json_is_null(v) ? NULL : v;
}

/* The shortest "%.*g" that reads back as D. */
static char *
task_format_double(double d)
{
	for (int prec = 15; prec < 17; prec++) {
		char *s = xasprintf("%.*g", prec, d);
		if (strtod(s, NULL) == d)
			return s;
		free(s);
	}
	return xasprintf("%.17g", d);
}

static const char *
task_param(kiln_task *t, const char *name)
{
	json_t *v = task_param_value(t, name);
	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);  /* lives as long as t->params */

	pthread_mutex_lock(&t->lock);
	for (struct task_str *s = t->strs; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			pthread_mutex_unlock(&t->lock);
			return s->value;
		}
	}
	char *text;
	if (json_is_integer(v))
		text = xasprintf("%" PRId64, (int64_t)json_integer_value(v));
	else if (json_is_real(v))
		text = task_format_double(json_real_value(v));
	else if (json_is_boolean(v))
		text = xstrdup(json_is_true(v) ? "true" : "false");
	else
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL)
		text = xstrdup("");
	struct task_str *s = xmalloc(sizeof *s);
	s->name = xstrdup(name);
	s->value = text;
	s->next = t->strs;
	t->strs = s;
	pthread_mutex_unlock(&t->lock);
	return text;
}

/* A parameter as a number: JSON numbers, or strings that are numbers in
 * full (forms often send "3"). */
static bool
task_param_number(kiln_task *t, const char *name, double *out)
{
	json_t *v = task_param_value(t, name);
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		if (end != s && *end == '\0' && errno == 0 && isfinite(d)) {
			*out = d;
			return true;
		}
	}
	return false;
}

static double
task_param_double(kiln_task *t, const char *name, double def)
{
	double d;
	return task_param_number(t, name, &d) ? d : def;
}

static int64_t
task_param_int(kiln_task *t, const char *name, int64_t def)
{
	json_t *v = task_param_value(t, name);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (end != s && *end == '\0' && errno == 0)
			return n;
	}
	double d;
	/* 2.0 is an integer; 2.5 is truncated as C would. */
	if (task_param_number(t, name, &d) && d >= -9.2e18 && d <= 9.2e18)
		return (int64_t)d;
	return def;
}

static const char *
task_params_json(kiln_task *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->params_text == NULL)
		t->params_text = json_dumps(t->params,
		                            JSON_COMPACT | JSON_SORT_KEYS);
	if (t->params_text == NULL)
		t->params_text = xstrdup("{}");
	pthread_mutex_unlock(&t->lock);
	return t->params_text;
}

/* ------------------------------------------------------------ files */

static int
task_input_count(kiln_task *t)
{
	return t->ninputs;
}

/* Input I's local path, fetched on first use: a driver that reads a
 * dataset's schema and hands its partitions to map tasks on other workers
 * never moves the partitions to its own.  NULL if I is out of range or
 * the fetch failed (the task then fails as an I/O error, see task_run). */
static const char *
task_input_local(kiln_task *t, int i)
{
	pthread_mutex_lock(&t->lock);
	if (i < 0 || i >= t->ninputs) {
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	struct task_file *f = &t->inputs[i];   /* stable while the task runs */
	const char *path = f->path;
	int done = path != NULL || f->failed;
	pthread_mutex_unlock(&t->lock);
	if (done)
		return path;

	/* PATH and FAILED change only under fetch_lock (and lock, for the
	 * readers above): another thread may have fetched it meanwhile. */
	pthread_mutex_lock(&t->fetch_lock);
	if (f->path == NULL && !f->failed) {
		char *err = NULL;
		char *got = f->fetch(f->fetch_ud, f->key, f->size, &err);
		pthread_mutex_lock(&t->lock);
		f->path = got;
		if (got == NULL) {
			f->failed = 1;
			if (t->fetch_error == NULL)
				t->fetch_error = xasprintf("input %s: %s", f->name,
				                           err ? err : "cannot fetch it");
		}
		pthread_mutex_unlock(&t->lock);
		free(err);
	}
	path = f->path;
	pthread_mutex_unlock(&t->fetch_lock);
	return path;
}

static const char *
task_input_name(kiln_task *t, int i)
{
	return i >= 0 && i < t->ninputs ? t->inputs[i].name : NULL;
}

static const char *
task_input_path(kiln_task *t, int i, const char **name)
{
	if (name != NULL)
		*name = task_input_name(t, i);
	return task_input_local(t, i);
}

static int
input_add(kiln_task *t, const char *name, const char *path, const char *key,
          uint64_t size, task_fetch_fn fetch, void *ud)
{
	pthread_mutex_lock(&t->lock);
	t->inputs = xrealloc(t->inputs, (t->ninputs + 1) * sizeof *t->inputs);
	struct task_file *f = &t->inputs[t->ninputs++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	f->path = path ? xstrdup(path) : NULL;
	f->key = key ? xstrdup(key) : NULL;
	f->size = size;
	f->fetch = fetch;
	f->fetch_ud = ud;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int
task_add_input(kiln_task *t, const char *name, const char *path)
{
	if (name == NULL || path == NULL)
		return -EINVAL;
	return input_add(t, name, path, NULL, 0, NULL, NULL);
}

int
task_add_input_lazy(kiln_task *t, const char *name, const char *key,
                    uint64_t size, task_fetch_fn fetch, void *ud)
{
	if (name == NULL || key == NULL || fetch == NULL)
		return -EINVAL;
	return input_add(t, name, NULL, key, size, fetch, ud);
}

/* Release output O's bytes (and its file, if the task still owns it). */
static void
output_release(struct task_output *o)
{
	if (o->file != NULL) {
		if (o->data != NULL)
			munmap(o->data, o->len);
		if (o->file_owned)
			unlink(o->file);
		free(o->file);
	} else {
		free(o->data);
	}
	o->data = NULL;
	o->file = NULL;
}

/* Map FILE (LEN bytes, open as FD) read-only: the mapping, or NULL. */
static void *
output_map(int fd, size_t len)
{
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	return m == MAP_FAILED ? NULL : m;
}

/* LEN bytes at DATA in a new temporary file in DIR, mapped: 0 with *FILE
 * and *MAP, or negative (nothing left behind; the caller keeps a copy in
 * memory instead). */
static int
output_write_file(const char *dir, const void *data, size_t len, char **file,
                  void **map)
{
	char *err = NULL;
	int fd = diskcache_tmp_open(dir, "out", file, &err);
	if (fd < 0) {
		log_warn("%s (the output is kept in memory)", err);
		free(err);
		return fd;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	*map = left == 0 ? output_map(fd, len) : NULL;
	close(fd);
	if (*map == NULL) {
		log_warn("cannot write %s (the output is kept in memory)", *file);
		unlink(*file);
		free(*file);
		*file = NULL;
		return -EIO;
	}
	return 0;
}

/* Add output NAME of LEN bytes: at DATA (copied, or written to a file in
 * the output directory), or, with FILE, those of FILE mapped at MAP (the
 * task takes both, and removes FILE if it refuses it). */
static int
output_put(kiln_task *t, const char *name, const void *data, size_t len,
           char *file, void *map)
{
	/* Output names become file names downstream. */
	if (name == NULL || !proto_name_ok(name, 0) ||
	    (data == NULL && map == NULL && len > 0))
		goto refuse;
	int try_file = t->output_dir != NULL && len > 0;
again:
	pthread_mutex_lock(&t->lock);
	int i = t->noutputs;
	uint64_t total = len;   /* with this one replacing its namesake */
	for (int j = 0; j < t->noutputs; j++)
		if (strcmp(t->outputs[j].name, name) == 0)
			i = j;
		else if (t->outputs[j].sha == NULL)  /* adopted: stored */
			total += t->outputs[j].len;
	if (i < t->noutputs && t->outputs[i].sha != NULL) {
		/* A name a map task's output took: two files, one name. */
		if (t->output_conflict == NULL)
			t->output_conflict = xasprintf("output '%s' is also the "
			                               "name of a map task's output "
			                               "this task adopted", name);
		free(t->error);
		t->error = xstrdup(t->output_conflict);
		pthread_mutex_unlock(&t->lock);
		goto refuse;
	}
	if (t->output_limit > 0 && total > (uint64_t)t->output_limit) {
		/* Refused before the copy: the cap also bounds memory. */
		free(t->error);
		t->error = xasprintf("output '%s' (%zu bytes) would bring the "
		                     "task's outputs to %" PRIu64 " bytes, more "
		                     "than this worker's max_output_size (%"
		                     PRId64 " bytes)", name, len, total,
		                     t->output_limit);
		pthread_mutex_unlock(&t->lock);
		goto refuse;
	}
	/* A file rather than a copy in memory: a big output (an ingest's
	 * partition) is then written once, and the worker hashes it from the
	 * mapping and renames it into its cache - no second copy, and none
	 * through an executor's socket.  Written without the lock (the
	 * task's log and progress go on meanwhile), then checked again. */
	if (try_file && file == NULL) {
		pthread_mutex_unlock(&t->lock);
		try_file = 0;
		if (output_write_file(t->output_dir, data, len, &file,
		                      &map) == 0)
			data = NULL;
		goto again;
	}
	void *copy = map;
	if (file == NULL) {
		copy = xmalloc(len);
		if (len > 0)
			memcpy(copy, data, len);
	}
	if (i < t->noutputs) {
		output_release(&t->outputs[i]);   /* a second write replaces */
	} else {
		t->outputs = xrealloc(t->outputs,
		                      (t->noutputs + 1) * sizeof *t->outputs);
		t->outputs[i].name = xstrdup(name);
		t->outputs[i].sha = NULL;
		t->noutputs++;
	}
	t->outputs[i].data = copy;
	t->outputs[i].len = len;
	t->outputs[i].file = file;
	t->outputs[i].file_owned = file != NULL;
	pthread_mutex_unlock(&t->lock);
	return KILN_OK;
refuse:
	if (file != NULL) {
		if (map != NULL)
			munmap(map, len);
		unlink(file);
		free(file);
	}
	return KILN_EINVAL;
}

static int
task_output_add(kiln_task *t, const char *name, const void *data, size_t len)
{
	return output_put(t, name, data, len, NULL, NULL);
}

int
task_output_add_file(kiln_task *t, const char *name, const char *file,
                     char **err)
{
	/* Tests: a file the worker cannot read back (fault.h). */
	int fd = fault_check(FAULT_CACHE, FAULT_READ) ? -1 :
	         open(file, O_RDONLY | O_CLOEXEC), e = 0;
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0)
		e = errno;
	else if (!S_ISREG(sb.st_mode))
		e = EINVAL;
	if (e != 0) {
		int rc = err_set(err, -e, "cannot take output '%s' (%s): %s",
		                 name, file, strerror(e));
		if (fd >= 0)
			close(fd);
		unlink(file);
		return rc;
	}
	size_t len = (size_t)sb.st_size;
	void *map = len > 0 ? output_map(fd, len) : NULL;
	close(fd);
	if (len == 0 || map == NULL) {
		/* An empty output needs no file (and cannot be mapped). */
		unlink(file);
		if (len > 0)
			return err_set(err, -EIO, "cannot map output %s", file);
		return output_put(t, name, "", 0, NULL, NULL) == KILN_OK ? 0 :
		       err_set(err, KILN_EINVAL, "%s", t->error ? t->error :
		               "output refused");
	}
	if (output_put(t, name, NULL, len, xstrdup(file), map) != KILN_OK)
		return err_set(err, KILN_EINVAL, "%s", t->error ? t->error :
		               "output refused");
	return 0;
}

static int
task_set_result(kiln_task *t, const char *json)
{
	if (json == NULL || strlen(json) > TASK_RESULT_MAX)
		return KILN_EINVAL;
	json_error_t jerr;
	json_t *v = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		return KILN_EINVAL;
	json_decref(v);
	char *copy = xstrdup(json);
	pthread_mutex_lock(&t->lock);
	free(t->result);
	t->result = copy;
	pthread_mutex_unlock(&t->lock);
	return KILN_OK;
}

static void task_set_error(kiln_task *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
task_set_error(kiln_task *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&t->lock);
	free(t->error);
	t->error = msg;
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------ log */

/* Append LEN bytes of S to the log, keeping the last log_limit bytes and
 * starting the kept text at a line boundary where one exists. */
static void
task_log_append(kiln_task *t, const char *s, size_t len)
{
	if (t->log_len + len + 1 > t->log_cap) {
		/* Reclaim the dropped head before growing. */
		if (t->log_start > 0) {
			memmove(t->log, t->log + t->log_start,
			        t->log_len - t->log_start);
			t->log_len -= t->log_start;
			t->log_start = 0;
		}
		if (t->log_len + len + 1 > t->log_cap) {
			size_t cap = t->log_cap ? t->log_cap : 4096;
			while (cap < t->log_len + len + 1)
				cap *= 2;
			t->log = xrealloc(t->log, cap);
			t->log_cap = cap;
		}
	}
	memcpy(t->log + t->log_len, s, len);
	t->log_len += len;
	t->log_total += len;
	t->log[t->log_len] = '\0';
	if (t->log_len - t->log_start > t->log_limit) {
		size_t cut = t->log_len - t->log_limit;
		char *nl = memchr(t->log + cut, '\n', t->log_len - cut);
		/* Drop the partial first line unless it is the only one. */
		if (nl != NULL && (size_t)(nl - t->log) + 1 < t->log_len)
			cut = (size_t)(nl - t->log) + 1;
		t->log_start = cut;
	}
}

static void task_host_log(kiln_task *t, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
task_host_log(kiln_task *t, int level, const char *fmt, ...)
{
	static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);

	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	if (level < KILN_LOG_DEBUG)
		level = KILN_LOG_DEBUG;
	if (level > KILN_LOG_ERROR)
		level = KILN_LOG_ERROR;
	if (t == NULL) {
		/* No task (init, fini, a thread of the plugin's): the
		 * worker's log.  KILN_LOG_* and LOG_* have the same values. */
		const char *who = plugin_current_name();
		log_msg(level, "plugin%s%s: %.*s", who ? " " : "", who ? who : "",
		        (int)n, msg);
		free(msg);
		return;
	}
	char *line = xasprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %.*s\n",
	                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	                       tm.tm_hour, tm.tm_min, tm.tm_sec,
	                       ts.tv_nsec / 1000000, names[level], (int)n, msg);
	free(msg);
	pthread_mutex_lock(&t->lock);
	task_log_append(t, line, strlen(line));
	pthread_mutex_unlock(&t->lock);
	free(line);
}

void
task_append_log(kiln_task *t, const char *text, size_t len)
{
	pthread_mutex_lock(&t->lock);
	task_log_append(t, text, len);
	pthread_mutex_unlock(&t->lock);
}

const char *
task_fetch_error(kiln_task *t)
{
	pthread_mutex_lock(&t->lock);
	const char *e = t->fetch_error;
	pthread_mutex_unlock(&t->lock);
	return e;
}

/* ------------------------------------------------------------ state */

static int
task_cancelled(kiln_task *t)
{
	return atomic_load(&t->cancelled);
}

void
task_cancel(kiln_task *t)
{
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->cancelled, 1);
	pthread_cond_broadcast(&t->cancel_cv);
	pthread_mutex_unlock(&t->lock);
}

/* host->sleep: a wait on the task's condition variable (monotonic clock),
 * which task_cancel() wakes, so that a sleeping task costs no CPU. */
static int
task_sleep(kiln_task *t, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms > 7LL * 86400 * 1000)
		ms = 7LL * 86400 * 1000;
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(ms / 1000);
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->lock);
	while (!atomic_load(&t->cancelled) &&
	       pthread_cond_timedwait(&t->cancel_cv, &t->lock, &end) == 0)
		;
	int cancelled = atomic_load(&t->cancelled);
	pthread_mutex_unlock(&t->lock);
	return cancelled ? KILN_ECANCELLED : KILN_OK;
}

static void
task_progress_set(kiln_task *t, double fraction)
{
	if (!(fraction >= 0))           /* also NaN */
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	atomic_store(&t->progress, fraction);
}

static const char *
task_scratch_dir(kiln_task *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->scratch == NULL) {
		const char *root = t->scratch_root;
		if (root == NULL) {
			root = getenv("TMPDIR");
			if (root == NULL || *root == '\0')
				root = "/tmp";
		}
		mkdir(root, 0700);      /* usually exists; mkdtemp reports */
		char *dir = xasprintf("%s/task-%" PRId64 "-%d-XXXXXX", root,
		                      t->job_id, t->attempt);
		if (mkdtemp(dir) == NULL) {
			log_error("%s: cannot create scratch "
			          "directory %s: %s", t->name, dir,
			          strerror(errno));
			free(dir);
		} else {
			t->scratch = dir;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return t->scratch;
}

static int64_t
task_job_id(kiln_task *t)
{
	return t->job_id;
}

static int
task_attempt(kiln_task *t)
{
	return t->attempt;
}

/* ------------------------------------------------- data and stages (1.1) */

static const void *
task_input_data(kiln_task *t, int i, size_t *len)
{
	*len = 0;
	const char *path = task_input_local(t, i);
	if (path == NULL)
		return NULL;
	pthread_mutex_lock(&t->lock);
	struct task_file *f = &t->inputs[i];
	if (f->map == NULL) {
		char *err = NULL;
		if (datacache_map(path, &f->data, &f->len, &f->map, &err) != 0) {
			log_warn("%s: %s", t->name, err);
			free(err);
			pthread_mutex_unlock(&t->lock);
			return NULL;
		}
	}
	*len = f->len;
	const void *d = f->data;
	pthread_mutex_unlock(&t->lock);
	return d;
}

void
task_set_stages(kiln_task *t, task_stage_fn fn, void *ud)
{
	t->stage_fn = fn;
	t->stage_ud = ud;
}

static int
task_stage(kiln_task *t, const char *fn, const char *broadcast,
           const struct kiln_stage_task *tasks, int n, char ***results,
           char **errmsg)
{
	*results = NULL;
	*errmsg = NULL;
	char *err = NULL;
	int rc;
	if (t->stage_fn == NULL)
		rc = err_set(&err, KILN_EFAIL, "stages run on workers only");
	else if (fn == NULL || tasks == NULL || n <= 0)
		rc = err_set(&err, KILN_EINVAL, "a stage needs a function and 1 or more tasks");
	else
		rc = t->stage_fn(t->stage_ud, t, fn, broadcast, tasks, n,
		                 results, &err);
	if (rc != 0) {
		*errmsg = err ? err : xstrdup("stage failed");
		return rc == KILN_ECANCELLED || rc == KILN_EINVAL ? rc : KILN_EFAIL;
	}
	return 0;
}

static int
task_stage_index(kiln_task *t, int *count)
{
	json_t *st = json_object_get(t->params, PROTO_MAP_STAGE);
	if (count != NULL)
		*count = (int)json_integer_value(json_object_get(st, PROTO_MAP_COUNT));
	return st ? (int)json_integer_value(json_object_get(st, PROTO_MAP_INDEX)) : -1;
}

/* Parameter NAME as JSON text (strings quoted), cached like param(). */
static const char *
task_json_text(kiln_task *t, const char *name, const char *key)
{
	json_t *v = json_object_get(t->params, name);
	if (v == NULL)
		return NULL;
	pthread_mutex_lock(&t->lock);
	for (struct task_str *s = t->strs; s != NULL; s = s->next) {
		if (strcmp(s->name, key) == 0) {
			pthread_mutex_unlock(&t->lock);
			return s->value;
		}
	}
	struct task_str *s = xmalloc(sizeof *s);
	s->name = xstrdup(key);
	s->value = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	if (s->value == NULL)
		s->value = xstrdup("null");
	s->next = t->strs;
	t->strs = s;
	pthread_mutex_unlock(&t->lock);
	return s->value;
}

static const char *
task_stage_arg(kiln_task *t)
{
	return task_json_text(t, PROTO_MAP_ARG, "\001arg");
}

static const char *
task_broadcast(kiln_task *t)
{
	return task_json_text(t, PROTO_MAP_BROADCAST, "\001broadcast");
}

const char *
task_stage_fn_name(const kiln_task *t)
{
	return json_string_value(json_object_get(json_object_get(t->params,
	                         PROTO_MAP_STAGE), PROTO_MAP_FN));
}

/* ------------------------------------------------- memory and context (1.3) */

/* The host's allocator is the C library's.  So what the worker builds with
 * xmalloc() for a plugin to free (stage() results and messages) suits
 * plugins of every minor - those of 1.0 to 1.2 free() it, those of 1.3
 * call mem_free() - and plugin.c frees an init() message by the plugin's
 * minor.  Unlike xmalloc(), mem_alloc() reports exhaustion (NULL): a
 * plugin may ask for a large buffer and cope. */
static void *
task_mem_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

static void
task_mem_free(void *p)
{
	free(p);
}

static char *
task_mem_strdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void *
task_context(kiln_task *t)
{
	return t->plugin != NULL ? plugin_context(t->plugin) : NULL;
}

/* ------------------------------------------------- files users name (1.4) */

void
task_set_output_dir(kiln_task *t, const char *dir)
{
	free(t->output_dir);
	t->output_dir = dir != NULL ? xstrdup(dir) : NULL;
}

void
task_set_output_limit(kiln_task *t, int64_t limit)
{
	t->output_limit = limit > 0 ? limit : 0;
}

void
task_set_dataroot(kiln_task *t, const dataroot *roots)
{
	t->roots = roots;
}

/* The worker's read roots decide (dataroot.c); a refusal is bad input,
 * which fails the same way on every attempt. */
static int
task_open_data(kiln_task *t, const char *path, unsigned flags, uint64_t *size)
{
	char *err = NULL;
	int fd = dataroot_open(t->roots, path, flags, size, &err);
	if (fd >= 0)
		return fd;
	task_set_error(t, "%s", err);
	log_info("%s: open_data: %s", t->name, err);
	free(err);
	return fd == -EPERM || fd == -EINVAL || fd == -EFBIG ? KILN_EINVAL :
	       KILN_EIO;
}

/* What the host fills, and so what `size` covers: every member before the
 * spares (KILN_HOST_HAS in kiln/plugin.h explains why). */
static const struct kiln_host task_host_table = {
	.abi_major = KILN_ABI_MAJOR,
	.abi_minor = KILN_ABI_MINOR,
	.size = offsetof(struct kiln_host, spare),
	.param = task_param,
	.param_double = task_param_double,
	.param_int = task_param_int,
	.params_json = task_params_json,
	.input_count = task_input_count,
	.input_path = task_input_path,
	.output = task_output_add,
	.set_result = task_set_result,
	.set_error = task_set_error,
	.log = task_host_log,
	.cancelled = task_cancelled,
	.progress = task_progress_set,
	.scratch_dir = task_scratch_dir,
	.job_id = task_job_id,
	.attempt = task_attempt,
	.input_data = task_input_data,
	.stage = task_stage,
	.stage_index = task_stage_index,
	.stage_arg = task_stage_arg,
	.broadcast = task_broadcast,
	.input_name = task_input_name,
	.mem_alloc = task_mem_alloc,
	.mem_free = task_mem_free,
	.mem_strdup = task_mem_strdup,
	.context = task_context,
	.open_data = task_open_data,
	.sleep = task_sleep,
};

const struct kiln_host *
task_host(void)
{
	return &task_host_table;
}

/* ------------------------------------------------------------ lifecycle */

void
task_set_name(kiln_task *t, const char *name)
{
	snprintf(t->name, sizeof t->name, "%s", name);
}

const char *
task_name(const kiln_task *t)
{
	return t->name;
}

kiln_task *
task_new(int64_t job_id, int attempt, const char *params_json,
         const char *scratch_root, size_t log_limit, char **err)
{
	json_t *params;
	if (params_json == NULL || *params_json == '\0') {
		params = json_object();
	} else {
		json_error_t jerr;
		params = json_loads(params_json, JSON_DECODE_ANY, &jerr);
		if (params == NULL) {
			err_set(err, -EINVAL, "job %" PRId64 ": parameters are "
			       "not valid JSON: %s (line %d, column %d)",
			       job_id, jerr.text, jerr.line, jerr.column);
			return NULL;
		}
		if (!json_is_object(params)) {
			json_decref(params);
			err_set(err, -EINVAL, "job %" PRId64 ": parameters must "
			       "be a JSON object", job_id);
			return NULL;
		}
	}
	kiln_task *t = xcalloc(1, sizeof *t);
	t->job_id = job_id;
	t->attempt = attempt;
	job_name(t->name, job_id, 0, 0);
	t->params = params;
	t->scratch_root = xstrdup(scratch_root);
	t->log_limit = log_limit ? log_limit : TASK_LOG_DEFAULT;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->fetch_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cancel_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&t->cancelled, 0);
	atomic_init(&t->progress, 0.0);
	return t;
}

static int
task_rm_entry(const char *path, const struct stat *st, int type,
              struct FTW *ftw)
{
	if (remove(path) < 0)
		log_warn("cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void
task_free(kiln_task *t)
{
	if (t == NULL)
		return;
	if (t->scratch != NULL) {
		nftw(t->scratch, task_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(t->scratch);
	}
	while (t->strs != NULL) {
		struct task_str *s = t->strs;
		t->strs = s->next;
		free(s->name);
		free(s->value);
		free(s);
	}
	for (int i = 0; i < t->noutputs; i++) {
		free(t->outputs[i].name);
		output_release(&t->outputs[i]);
		free(t->outputs[i].sha);
	}
	free(t->outputs);
	free(t->output_dir);
	free(t->output_conflict);
	for (int i = 0; i < t->ninputs; i++) {
		free(t->inputs[i].name);
		free(t->inputs[i].path);
		free(t->inputs[i].key);
		datacache_release(t->inputs[i].map);
	}
	free(t->inputs);
	json_decref(t->params);
	free(t->params_text);
	free(t->scratch_root);
	free(t->log);
	free(t->result);
	free(t->error);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->fetch_lock);
	pthread_cond_destroy(&t->cancel_cv);
	free(t->fetch_error);
	free(t);
}

/* A sensor's poke answered KILN_NOT_YET (ABI 1.5): the attempt succeeds
 * with the result that tells the master to poke again (jobstate.h), and
 * the plugin's error message, if any, as its reason. */
static void
task_not_yet(kiln_task *t)
{
	pthread_mutex_lock(&t->lock);
	json_t *o = json_pack("{s:b}", "kiln_not_yet", 1);
	if (t->error != NULL)
		json_object_set_new(o, "reason", json_string(t->error));
	free(t->result);
	/* Keys in insertion order, so the text starts with the mark. */
	t->result = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	free(t->error);
	t->error = NULL;
	pthread_mutex_unlock(&t->lock);
}

int
task_run(kiln_task *t, plugin *p)
{
	const struct kiln_plugin *d = plugin_desc(p);
	const char *fn = task_stage_fn_name(t);
	plugin_map_fn map = plugin_map(p);
	int rc;
	t->plugin = p;                  /* for host->context() */
	if (!plugin_has_code(p)) {
		/* A worker that only describes it sends it to an executor. */
		task_set_error(t, "plugin %s has no code in this process",
		               d->name);
		rc = KILN_EFAIL;
	} else if (fn == NULL) {
		rc = d->run(t, task_host());
	} else if (map == NULL) {
		task_set_error(t, "plugin %s has no map entry (ABI 1.1) for stage "
		               "function %s", d->name, fn);
		rc = KILN_EINVAL;
	} else {
		rc = map(t, task_host(), fn);
	}
	t->plugin = NULL;
	t->code = rc;
	bool cancelled = atomic_load(&t->cancelled) != 0;
	int state;

	/* A cancel request wins even over a run() that finished: the user
	 * asked for the job to stop and has been told it did. */
	if (rc == KILN_NOT_YET && d->abi_minor >= 5 && !cancelled &&
	    json_is_true(json_object_get(t->params, JOB_SENSOR_PARAM))) {
		task_not_yet(t);
		state = JOB_SUCCEEDED;
	} else if (rc == KILN_OK && !cancelled) {
		state = JOB_SUCCEEDED;
		atomic_store(&t->progress, 1.0);
	} else if (rc == KILN_ECANCELLED || cancelled) {
		state = JOB_CANCELLED;
		if (t->error == NULL)
			task_set_error(t, "cancelled");
	} else {
		state = JOB_FAILED;
		if (t->fetch_error != NULL) {
			/* The input did not arrive: a fault of this worker or the
			 * network, not of the input, so the attempt is retried
			 * (KILN_EIO) whatever the plugin made of the NULL. */
			t->code = KILN_EIO;
			char *e = t->error;
			t->error = e ? xasprintf("%s (%s)", t->fetch_error, e)
			             : xstrdup(t->fetch_error);
			free(e);
		}
		if (rc == KILN_NOT_YET && !cancelled) {
			/* Never misread: before 1.5 a 1 meant nothing. */
			char *e = t->error;
			t->error = NULL;
			if (d->abi_minor < 5)
				task_set_error(t, "plugin %s (ABI 1.%u) returned 1, "
				               "which ABI 1.%u does not define",
				               d->name, d->abi_minor, d->abi_minor);
			else
				task_set_error(t, "plugin %s answered \"not yet\" "
				               "(KILN_NOT_YET), but this task is no "
				               "sensor%s%s", d->name, e ? ": " : "",
				               e ? e : "");
			free(e);
		}
		if (t->error == NULL)
			task_set_error(t, "plugin %s returned %d", d->name, rc);
	}
	return state;
}

const char *
task_result(const kiln_task *t)
{
	return t->result;
}

const char *
task_error(const kiln_task *t)
{
	return t->error;
}

int
task_code(const kiln_task *t)
{
	return t->code;
}

const char *
task_log(const kiln_task *t)
{
	return t->log != NULL ? t->log + t->log_start : "";
}

char *
task_log_since(kiln_task *t, uint64_t *pos)
{
	char *out = NULL;
	pthread_mutex_lock(&t->lock);
	uint64_t kept = t->log_len - t->log_start;
	uint64_t first = t->log_total - kept;   /* position of log[log_start] */
	if (t->log_total > *pos) {
		uint64_t from = *pos > first ? *pos : first;
		out = xstrndup(t->log + t->log_start + (from - first),
		               (size_t)(t->log_total - from));
		*pos = t->log_total;
	}
	pthread_mutex_unlock(&t->lock);
	return out;
}

double
task_progress(const kiln_task *t)
{
	/* C11 atomics want a non-const object even to load. */
	return atomic_load(&((kiln_task *)t)->progress);
}

int
task_output_count(const kiln_task *t)
{
	return t->noutputs;
}

int
task_output_adopt(kiln_task *t, const char *name, const char *sha,
                  uint64_t size, char **err)
{
	if (name == NULL || !proto_name_ok(name, 0) || sha == NULL)
		return err_set(err, KILN_EINVAL, "not an output name");
	pthread_mutex_lock(&t->lock);
	for (int j = 0; j < t->noutputs; j++) {
		if (strcmp(t->outputs[j].name, name) != 0)
			continue;
		if (t->output_conflict == NULL)
			t->output_conflict = xasprintf("output '%s' of a map task "
			                               "collides with an output of "
			                               "the same name", name);
		int rc = err_set(err, KILN_EINVAL, "%s", t->output_conflict);
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
	t->outputs = xrealloc(t->outputs, (t->noutputs + 1) * sizeof *t->outputs);
	t->outputs[t->noutputs++] = (struct task_output){ .name = xstrdup(name),
		.len = (size_t)size, .sha = xstrdup(sha) };
	pthread_mutex_unlock(&t->lock);
	return 0;
}

const char *
task_output_adopted(const kiln_task *t, int i)
{
	return i >= 0 && i < t->noutputs ? t->outputs[i].sha : NULL;
}

const char *
task_output_file(const kiln_task *t, int i)
{
	return i >= 0 && i < t->noutputs && t->outputs[i].file_owned ?
	       t->outputs[i].file : NULL;
}

void
task_output_disown_file(kiln_task *t, int i)
{
	if (i >= 0 && i < t->noutputs)
		t->outputs[i].file_owned = false;
}

const char *
task_output_conflict(const kiln_task *t)
{
	return t->output_conflict;
}

const char *
task_output(const kiln_task *t, int i, const void **data, size_t *len)
{
	if (i < 0 || i >= t->noutputs)
		return NULL;
	if (data != NULL)
		*data = t->outputs[i].data;
	if (len != NULL)
		*len = t->outputs[i].len;
	return t->outputs[i].name;
}
