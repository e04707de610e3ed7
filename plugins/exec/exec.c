/* SPDX-License-Identifier: MIT */
/*
 * exec.c - the bundled 'exec' plugin: runs a program (params.argv) or a
 * shell command line (params.command, through /bin/sh -c) as a task, so
 * that tasks may be written in any language (docs/exec.md).
 *
 * The child runs in a work directory of the task's scratch space, in a
 * process group of its own, with the task's inputs copied under inputs/,
 * its params as KILN_PARAM_* variables and as a JSON file, and every file
 * it leaves in outputs/ becomes an output of the task.  Its stdout and
 * stderr reach the task log line by line while it runs.  A cancel or a
 * timeout sends SIGTERM to the whole group, then SIGKILL after a grace;
 * when the main process exits, whatever it left in its group is killed.
 *
 * Resource limits are set with prlimit() on the child right after
 * posix_spawn(), not by a fork()+setrlimit()+exec() path: posix_spawn
 * never copies the worker's address space (which may map gigabytes of
 * cached inputs) nor runs code between fork and exec in a multithreaded
 * process.  The window between exec and prlimit() costs nothing for
 * RLIMIT_CPU (it counts all CPU time since the start) and lets through
 * only what the program maps in its first microseconds for RLIMIT_AS.
 *
 * The worker loads this plugin only where cluster.yaml says
 * `workers[].exec: true`: it runs any command with the worker's rights,
 * and the read roots (host->open_data()) do not confine a command.
 * Thread-safe: all state is per run().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kiln/plugin.h"

extern char **environ;

#define EX_LINE_MAX 4096        /* a longer line is logged in pieces */
#define EX_TAIL 5               /* stderr lines quoted in a failure */
#define EX_TAIL_LEN 300
#define EX_TICK_MS 100          /* how often cancel and timeout are seen */
#define EX_DRAIN_MS 1000        /* reading what is left after the exit */
#define EX_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static const struct kiln_param exec_params[] = {
	{ "argv", "json", "", "the program and its arguments, a list of strings (or use 'command')" },
	{ "command", "string", "", "a shell command line, run with /bin/sh -c (or use 'argv')" },
	{ "env", "json", "", "more environment variables, an object of strings" },
	{ "timeout", "number", "0", "seconds before the process group is stopped; 0: none (the job's timeout also applies)" },
	{ "grace", "number", "2", "seconds between SIGTERM and SIGKILL" },
	{ "cpu_seconds", "int", "0", "CPU time limit (RLIMIT_CPU); 0: none" },
	{ "memory", "string", "", "address space limit (RLIMIT_AS), e.g. 512MiB; none if empty" },
	{ "max_output", "string", "", "most bytes of outputs (and of any one file written, RLIMIT_FSIZE); the worker's max_output_size also applies" },
	{ NULL, NULL, NULL, NULL },
};

/* Variables of the worker's environment a command inherits; the rest (a
 * secret passed in the environment, say) stays with the worker. */
static const char *const exec_env_keep[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL",
	"LC_CTYPE", "TZ", NULL,
};

static const struct {
	int sig;
	const char *name;
} exec_signames[] = {
	{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
	{ SIGILL, "SIGILL" }, { SIGABRT, "SIGABRT" }, { SIGFPE, "SIGFPE" },
	{ SIGKILL, "SIGKILL" }, { SIGSEGV, "SIGSEGV" }, { SIGPIPE, "SIGPIPE" },
	{ SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGBUS, "SIGBUS" },
	{ SIGUSR1, "SIGUSR1" }, { SIGUSR2, "SIGUSR2" }, { SIGXCPU, "SIGXCPU" },
	{ SIGXFSZ, "SIGXFSZ" },
};

/* One of the child's output streams, cut into lines for the log. */
struct ex_stream {
	int fd;                 /* -1 once at EOF */
	const char *label;      /* "stdout" or "stderr" */
	size_t len;
	char buf[EX_LINE_MAX + 1];
};

/* One run. */
struct ex {
	kiln_task *t;
	const struct kiln_host *h;
	char *work, *inputs, *outputs, *params_file;
	char **argv, **envp;    /* NULL-terminated, each malloc()ed */
	size_t nenv;
	char *prog;             /* the resolved program */
	double timeout, grace;
	int64_t cpu, mem, max_output;
	pid_t pid;
	struct ex_stream out, err;
	char tail[EX_TAIL][EX_TAIL_LEN];
	int ntail;              /* stderr lines seen */
};

/* ------------------------------------------------------------ helpers */

static char *
ex_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
ex_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		abort();        /* as the host's own allocations do */
	return s;
}

static double
ex_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *
ex_signame(int sig)
{
	for (size_t i = 0; i < sizeof exec_signames / sizeof exec_signames[0]; i++)
		if (exec_signames[i].sig == sig)
			return exec_signames[i].name;
	return "a signal";
}

/* "512MiB", "2G", "1000": bytes (K, M, G, T: 1024-based), or -1. */
static int64_t
ex_size(const char *s)
{
	static const struct { const char *suffix; int shift; } units[] = {
		{ "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 }, { "g", 30 },
		{ "gb", 30 }, { "gib", 30 }, { "t", 40 }, { "tb", 40 },
		{ "tib", 40 },
	};
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno != 0 || !(v >= 0))
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcasecmp(end, units[i].suffix) == 0) {
			double b = v * (double)((int64_t)1 << units[i].shift);
			return b < 9e18 ? (int64_t)b : -1;
		}
	return -1;
}

static void
ex_strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
ex_env_add(struct ex *x, char *kv)
{
	char **n = realloc(x->envp, (x->nenv + 2) * sizeof *n);
	if (n == NULL)
		abort();
	x->envp = n;
	x->envp[x->nenv++] = kv;
	x->envp[x->nenv] = NULL;
}

/* The value of NAME in the child's environment, or NULL. */
static const char *
ex_env_get(const struct ex *x, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < x->nenv; i++)
		if (strncmp(x->envp[i], name, n) == 0 && x->envp[i][n] == '=')
			return x->envp[i] + n + 1;
	return NULL;
}

/* ------------------------------------------------------------ params */

/* x->argv: params.argv as a NULL-terminated vector, or /bin/sh -c
 * params.command. */
static int
ex_argv(struct ex *x)
{
	const char *argv = x->h->param(x->t, "argv");
	const char *cmd = x->h->param(x->t, "command");
	int has_argv = argv != NULL && *argv != '\0';
	int has_cmd = cmd != NULL && *cmd != '\0';
	if (has_argv == has_cmd) {
		x->h->set_error(x->t, "exec: give either param 'argv' (a list "
		                "of strings) or param 'command' (a shell "
		                "command line)%s", has_argv ? ", not both" : "");
		return KILN_EINVAL;
	}
	if (has_cmd) {
		const char *sh[] = { "/bin/sh", "-c", cmd };
		x->argv = calloc(4, sizeof *x->argv);
		for (int i = 0; x->argv != NULL && i < 3; i++)
			x->argv[i] = ex_printf("%s", sh[i]);
		return x->argv ? KILN_OK : KILN_ENOMEM;
	}
	json_t *a = json_loads(argv, JSON_DECODE_ANY, NULL);
	size_t n = json_is_array(a) ? json_array_size(a) : 0, i;
	json_t *e;
	x->argv = calloc(n + 1, sizeof *x->argv);
	if (x->argv == NULL)
		abort();
	/* Numbers and booleans too: a DAG's "{{ params.n }}" keeps its type. */
	json_array_foreach(a, i, e) {
		if (json_is_string(e))
			x->argv[i] = ex_printf("%s", json_string_value(e));
		else if (json_is_integer(e))
			x->argv[i] = ex_printf("%" JSON_INTEGER_FORMAT,
			                       json_integer_value(e));
		else if (json_is_real(e))
			x->argv[i] = ex_printf("%.17g", json_real_value(e));
		else if (json_is_boolean(e))
			x->argv[i] = ex_printf("%s", json_is_true(e) ? "true" :
			                       "false");
		if (x->argv[i] == NULL || x->argv[0][0] == '\0')
			break;
	}
	json_decref(a);
	if (n == 0 || i < n) {
		x->h->set_error(x->t, "exec: param 'argv' must be a non-empty "
		                "list of strings (or numbers), such as [\"python3\", "
		                "\"train.py\"], not %s", argv);
		return KILN_EINVAL;
	}
	return KILN_OK;
}

/* Limits and times from the params. */
static int
ex_limits(struct ex *x)
{
	const struct kiln_host *h = x->h;
	x->timeout = h->param_double(x->t, "timeout", 0);
	x->grace = h->param_double(x->t, "grace", 2);
	x->cpu = h->param_int(x->t, "cpu_seconds", 0);
	x->mem = x->max_output = -1;
	if (!isfinite(x->timeout) || x->timeout < 0 || !isfinite(x->grace) ||
	    x->grace < 0 || x->grace > 3600 || x->cpu < 0) {
		h->set_error(x->t, "exec: params 'timeout', 'grace' and "
		             "'cpu_seconds' must be numbers >= 0 (grace at "
		             "most 3600)");
		return KILN_EINVAL;
	}
	static const char *const names[] = { "memory", "max_output" };
	int64_t *dst[] = { &x->mem, &x->max_output };
	for (int i = 0; i < 2; i++) {
		const char *v = h->param(x->t, names[i]);
		if (v == NULL || *v == '\0')
			continue;
		if ((*dst[i] = ex_size(v)) < 0) {
			h->set_error(x->t, "exec: param '%s' must be a size "
			             "such as 512MiB or 2G, not '%s'", names[i], v);
			return KILN_EINVAL;
		}
	}
	return KILN_OK;
}

/* ------------------------------------------------------------ environment */

/* KILN_PARAM_<NAME> for each param: NAME uppercased, characters
 * other than [A-Z0-9] as '_'; the value as host->param() formats it. */
static void
ex_env_params(struct ex *x, const char *json)
{
	json_t *o = json_loads(json, 0, NULL), *v;
	const char *name;
	json_object_foreach(o, name, v) {
		const char *s = x->h->param(x->t, name);
		if (s == NULL)
			continue;
		char *kv = ex_printf("KILN_PARAM_%s=%s", name, s);
		for (char *c = kv + 11; *c != '='; c++)
			*c = isalnum((unsigned char)*c) ?
			     (char)toupper((unsigned char)*c) : '_';
		ex_env_add(x, kv);
	}
	json_decref(o);
}

/* params.env: {"NAME": "value", ...}. */
static int
ex_env_extra(struct ex *x)
{
	const char *env = x->h->param(x->t, "env");
	if (env == NULL || *env == '\0')
		return KILN_OK;
	json_t *o = json_loads(env, JSON_DECODE_ANY, NULL), *v;
	const char *k;
	int good = json_is_object(o);
	json_object_foreach(o, k, v) {
		good &= json_is_string(v) && *k != '\0' &&
		        !isdigit((unsigned char)*k);
		for (const char *c = k; *c != '\0'; c++)
			good &= isalnum((unsigned char)*c) || *c == '_';
		if (!good)
			break;
		ex_env_add(x, ex_printf("%s=%s", k, json_string_value(v)));
	}
	json_decref(o);
	if (good)
		return KILN_OK;
	x->h->set_error(x->t, "exec: param 'env' must be an object of string "
	                "values whose names are [A-Za-z_][A-Za-z0-9_]*");
	return KILN_EINVAL;
}

static int
ex_env(struct ex *x)
{
	for (size_t i = 0; exec_env_keep[i] != NULL; i++) {
		const char *v = getenv(exec_env_keep[i]);
		if (v != NULL)
			ex_env_add(x, ex_printf("%s=%s", exec_env_keep[i], v));
	}
	if (ex_env_get(x, "PATH") == NULL)
		ex_env_add(x, ex_printf("PATH=%s", EX_DEFAULT_PATH));
	int rc = ex_env_extra(x);
	if (rc != KILN_OK)
		return rc;
	const char *json = x->h->params_json(x->t);
	ex_env_params(x, json);
	ex_env_add(x, ex_printf("KILN_JOB_ID=%" PRId64, x->h->job_id(x->t)));
	ex_env_add(x, ex_printf("KILN_ATTEMPT=%d", x->h->attempt(x->t)));
	ex_env_add(x, ex_printf("KILN_WORK_DIR=%s", x->work));
	ex_env_add(x, ex_printf("KILN_INPUTS=%s", x->inputs));
	ex_env_add(x, ex_printf("KILN_OUTPUTS=%s", x->outputs));
	ex_env_add(x, ex_printf("KILN_PARAMS_FILE=%s", x->params_file));
	ex_env_add(x, ex_printf("TMPDIR=%s/tmp", x->work));

	FILE *f = fopen(x->params_file, "we");
	if (f == NULL || fputs(json, f) < 0 || fputc('\n', f) < 0 ||
	    fclose(f) != 0) {
		x->h->set_error(x->t, "exec: cannot write %s: %s",
		                x->params_file, strerror(errno));
		return KILN_EIO;
	}
	return KILN_OK;
}

/* ------------------------------------------------------------ files */

static int
ex_mkdirs(struct ex *x)
{
	const char *scratch = x->h->scratch_dir(x->t);
	if (scratch == NULL) {
		x->h->set_error(x->t, "exec: no scratch directory on this worker");
		return KILN_EIO;
	}
	x->work = ex_printf("%s/work", scratch);
	x->inputs = ex_printf("%s/inputs", x->work);
	x->outputs = ex_printf("%s/outputs", x->work);
	x->params_file = ex_printf("%s/params.json", x->work);
	char *tmp = ex_printf("%s/tmp", x->work);
	const char *dirs[] = { x->work, x->inputs, x->outputs, tmp };
	for (size_t i = 0; i < 4; i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST) {
			x->h->set_error(x->t, "exec: cannot create %s: %s",
			                dirs[i], strerror(errno));
			free(tmp);
			return KILN_EIO;
		}
	free(tmp);
	return KILN_OK;
}

static int
ex_copy(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t r = 0;
	while ((r = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	if (r < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
	              errno == EOPNOTSUPP))
		while ((r = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)r) != r) {
				r = -1;
				break;
			}
	close(in);
	return close(out) < 0 || r < 0 ? -1 : 0;
}

/* An input name usable as a relative path: no empty, "." or ".."
 * component, not absolute. */
static int
ex_name_ok(const char *name)
{
	if (*name == '\0' || *name == '/')
		return 0;
	for (const char *c = name; *c != '\0'; ) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n + (c[n] == '/');
	}
	return 1;
}

/* The base name of input I if no other input has the same one. */
static const char *
ex_unique_base(struct ex *x, int i, int n)
{
	const char *ni = NULL, *bi;
	x->h->input_path(x->t, i, &ni);
	if (ni == NULL || strchr(ni, '/') == NULL)
		return NULL;
	bi = strrchr(ni, '/') + 1;
	for (int j = 0; j < n; j++) {
		const char *nj = NULL;
		if (j == i)
			continue;
		x->h->input_path(x->t, j, &nj);
		const char *bj = nj ? strrchr(nj, '/') : NULL;
		if (nj != NULL && strcmp(bj ? bj + 1 : nj, bi) == 0)
			return NULL;
	}
	return bi;
}

/* Copy each input to inputs/NAME (NAME is UPSTREAM/FILE for DAG tasks),
 * and link inputs/FILE to it where FILE is unique among the inputs. */
static int
ex_inputs(struct ex *x)
{
	int n = x->h->input_count(x->t);
	for (int i = 0; i < n; i++) {
		const char *name = NULL;
		const char *path = x->h->input_path(x->t, i, &name);
		if (path == NULL) {
			x->h->set_error(x->t, "exec: input %d (%s) could not be "
			                "fetched", i, name ? name : "?");
			return KILN_EIO;
		}
		if (name == NULL || !ex_name_ok(name)) {
			x->h->set_error(x->t, "exec: input %d has a name that is "
			                "not a relative path: '%s'", i,
			                name ? name : "");
			return KILN_EINVAL;
		}
		char *dst = ex_printf("%s/%s", x->inputs, name);
		for (char *s = dst + strlen(x->inputs) + 1; (s = strchr(s, '/'));
		     s++) {
			*s = '\0';
			mkdir(dst, 0700);   /* EEXIST is fine; the copy reports */
			*s = '/';
		}
		int rc = ex_copy(path, dst);
		if (rc < 0)
			x->h->set_error(x->t, "exec: cannot copy input %s to "
			                "%s: %s", name, dst, strerror(errno));
		free(dst);
		if (rc < 0)
			return KILN_EIO;
	}
	for (int i = 0; i < n; i++) {
		const char *base = ex_unique_base(x, i, n), *name = NULL;
		if (base == NULL)
			continue;
		x->h->input_path(x->t, i, &name);
		char *from = ex_printf("%s/%s", x->inputs, name);
		char *to = ex_printf("%s/%s", x->inputs, base);
		if (link(from, to) < 0 && errno != EEXIST)
			x->h->log(x->t, KILN_LOG_WARN, "exec: cannot link %s "
			          "to %s: %s", to, from, strerror(errno));
		free(from);
		free(to);
	}
	return KILN_OK;
}

/* Every regular file directly in outputs/ becomes an output. */
static int
ex_outputs(struct ex *x, int *count)
{
	DIR *d = opendir(x->outputs);
	if (d == NULL) {
		x->h->set_error(x->t, "exec: cannot read %s: %s", x->outputs,
		                strerror(errno));
		return KILN_EIO;
	}
	struct dirent *de;
	int64_t total = 0;
	int rc = KILN_OK;
	*count = 0;
	while (rc == KILN_OK && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW |
		                O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			x->h->set_error(x->t, "exec: $KILN_OUTPUTS/%s is not a "
			                "regular file: only the files directly "
			                "in $KILN_OUTPUTS become outputs",
			                de->d_name);
			rc = KILN_EFAIL;
		} else if ((total += st.st_size) > x->max_output &&
		           x->max_output >= 0) {
			x->h->set_error(x->t, "exec: outputs total more than "
			                "max_output (%" PRId64 " bytes) at %s",
			                x->max_output, de->d_name);
			rc = KILN_EFAIL;
		} else {
			size_t len = (size_t)st.st_size;
			void *m = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE,
			                     fd, 0) : (void *)"";
			if (m == MAP_FAILED) {
				x->h->set_error(x->t, "exec: cannot read %s: %s",
				                de->d_name, strerror(errno));
				rc = KILN_EIO;
			} else {
				rc = x->h->output(x->t, de->d_name, m, len);
				if (len)
					munmap(m, len);
				if (rc != KILN_OK && rc != KILN_EINVAL)
					x->h->set_error(x->t, "exec: cannot "
					                "store output %s", de->d_name);
				(*count)++;
			}
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	return rc == KILN_EINVAL ? KILN_EFAIL : rc;
}

/* ------------------------------------------------------------ the child */

/* The program to run: argv[0] searched in the child's PATH, or as a path
 * (relative to the work directory) if it has a slash. */
static int
ex_resolve(struct ex *x)
{
	const char *a0 = x->argv[0];
	struct stat st;
	if (strchr(a0, '/') != NULL) {
		x->prog = a0[0] == '/' ? strdup(a0) :
		          ex_printf("%s/%s", x->work, a0);
		if (stat(x->prog, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(x->prog, X_OK) == 0)
			return KILN_OK;
		x->h->set_error(x->t, "exec: no such program '%s' (%s is not "
		                "an executable file)", a0, x->prog);
		return KILN_EINVAL;
	}
	const char *path = ex_env_get(x, "PATH");
	for (const char *p = path; ; ) {
		size_t n = strcspn(p, ":");
		char *cand = ex_printf("%.*s%s%s", (int)n, p, n ? "/" : "", a0);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0) {
			x->prog = cand;
			return KILN_OK;
		}
		free(cand);
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	x->h->set_error(x->t, "exec: no such program '%s' in PATH (%s) on "
	                "this worker", a0, path);
	return KILN_EINVAL;
}

static void
ex_prlimit(struct ex *x, int res, int64_t soft, int64_t hard, const char *what)
{
	struct rlimit rl = { (rlim_t)soft, (rlim_t)hard };
	if (prlimit(x->pid, res, &rl, NULL) < 0)
		x->h->log(x->t, KILN_LOG_WARN, "exec: cannot set the %s limit: "
		          "%s", what, strerror(errno));
}

/* posix_spawn() the child in a new process group, stdin /dev/null,
 * stdout and stderr into two pipes; then its limits. */
static int
ex_spawn(struct ex *x)
{
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return -e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, x->work);
	posix_spawnattr_init(&at);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	                         POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(&x->pid, x->prog, &fa, &at, x->argv, x->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		return -rc;
	}
	x->out.fd = po[0];
	x->err.fd = pe[0];
	if (x->cpu > 0)          /* SIGXCPU at the limit, SIGKILL 2 s on */
		ex_prlimit(x, RLIMIT_CPU, x->cpu, x->cpu + 2, "CPU time");
	if (x->mem >= 0)
		ex_prlimit(x, RLIMIT_AS, x->mem, x->mem, "memory");
	if (x->max_output >= 0)
		ex_prlimit(x, RLIMIT_FSIZE, x->max_output, x->max_output,
		           "file size");
	return 0;
}

/* Log one line of stream S (and keep stderr's last lines). */
static void
ex_line(struct ex *x, struct ex_stream *s, const char *line, size_t n)
{
	x->h->log(x->t, KILN_LOG_INFO, "%s: %.*s", s->label, (int)n, line);
	if (s == &x->err) {
		char *dst = x->tail[x->ntail++ % EX_TAIL];
		snprintf(dst, EX_TAIL_LEN, "%.*s", (int)n, line);
	}
}

/* Read what S has; log each complete line (a full buffer counts as one).
 * At EOF, the rest is logged and S->fd closed. */
static void
ex_read(struct ex *x, struct ex_stream *s)
{
	ssize_t r = read(s->fd, s->buf + s->len, EX_LINE_MAX - s->len);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		if (s->len > 0)
			ex_line(x, s, s->buf, s->len);
		s->len = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	s->len += (size_t)r;
	size_t start = 0;
	char *nl;
	while ((nl = memchr(s->buf + start, '\n', s->len - start)) != NULL) {
		size_t n = (size_t)(nl - (s->buf + start));
		ex_line(x, s, s->buf + start, n);
		start += n + 1;
	}
	if (start == 0 && s->len == EX_LINE_MAX) {
		ex_line(x, s, s->buf, s->len);
		start = s->len;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
}

/* Wait up to MS for output and log it. */
static void
ex_poll(struct ex *x, int ms)
{
	struct pollfd p[2] = { { x->out.fd, POLLIN, 0 }, { x->err.fd, POLLIN, 0 } };
	if (x->out.fd < 0 && x->err.fd < 0) {
		/* Both closed: the exit is near, look for it often. */
		poll(NULL, 0, ms < 10 ? ms : 10);
		return;
	}
	if (poll(p, 2, ms) <= 0)
		return;
	if (p[0].revents && x->out.fd >= 0)
		ex_read(x, &x->out);
	if (p[1].revents && x->err.fd >= 0)
		ex_read(x, &x->err);
}

/* Run the child to its end; *STATUS as waitpid() gives it.  Returns
 * KILN_OK, or KILN_ECANCELLED / KILN_EFAIL (timed out) once the group is
 * gone. */
static int
ex_wait(struct ex *x, int *status)
{
	double start = ex_now(), term_at = 0;
	int why = KILN_OK;
	for (;;) {
		ex_poll(x, EX_TICK_MS);
		siginfo_t si;
		si.si_pid = 0;
		int w = waitid(P_PID, (id_t)x->pid, &si, WEXITED | WNOHANG |
		               WNOWAIT);
		if ((w == 0 && si.si_pid == x->pid) || (w < 0 && errno == ECHILD))
			break;      /* ECHILD: reaped by someone else */
		double now = ex_now();
		if (why == KILN_OK && (x->h->cancelled(x->t) ||
		    (x->timeout > 0 && now - start >= x->timeout))) {
			why = x->h->cancelled(x->t) ? KILN_ECANCELLED : KILN_EFAIL;
			x->h->log(x->t, KILN_LOG_WARN, "exec: %s: SIGTERM to "
			          "process group %d", why == KILN_EFAIL ?
			          "timed out" : "cancelled", (int)x->pid);
			kill(-x->pid, SIGTERM);
			term_at = now;
		} else if (term_at > 0 && now - term_at >= x->grace) {
			x->h->log(x->t, KILN_LOG_WARN, "exec: still running %g s "
			          "after SIGTERM: SIGKILL to process group %d",
			          x->grace, (int)x->pid);
			kill(-x->pid, SIGKILL);
			term_at = -1;
		}
	}
	/* The main process is gone but not reaped, so its group id cannot
	 * have been reused: kill what it left behind, then reap it. */
	kill(-x->pid, SIGKILL);
	pid_t r;
	while ((r = waitpid(x->pid, status, 0)) < 0 && errno == EINTR)
		;
	if (r != x->pid) {
		/* Its status is lost (SIGCHLD ignored?): not a success. */
		x->h->log(x->t, KILN_LOG_WARN, "exec: cannot read the exit "
		          "status of process %d: %s", (int)x->pid,
		          strerror(errno));
		*status = 255 << 8;
	}
	double end = ex_now() + EX_DRAIN_MS / 1000.0;
	while ((x->out.fd >= 0 || x->err.fd >= 0) && ex_now() < end)
		ex_poll(x, 50);
	for (struct ex_stream *s = &x->out; s <= &x->err; s++)
		if (s->fd >= 0) {   /* held open by a process that left the group */
			close(s->fd);
			s->fd = -1;
		}
	return why;
}

/* The last stderr lines, for a failure message (malloc()ed). */
static char *
ex_tail(const struct ex *x)
{
	int n = x->ntail < EX_TAIL ? x->ntail : EX_TAIL;
	size_t len = 1;
	for (int i = 0; i < EX_TAIL; i++)
		len += strlen(x->tail[i]) + 3;
	char *s = calloc(1, len + 32);
	if (s == NULL)
		abort();
	if (n > 0)
		strcat(s, "; last stderr lines:");
	for (int i = x->ntail - n; i < x->ntail; i++) {
		strcat(s, "\n  ");
		strcat(s, x->tail[i % EX_TAIL]);
	}
	return s;
}

/* What signal SIG says about a limit the params set. */
static const char *
ex_limit_hint(int sig)
{
	return sig == SIGXCPU ? " at its CPU time limit (cpu_seconds)" :
	       sig == SIGXFSZ ? " writing more than max_output" : "";
}

/* What the exit STATUS means for the task. */
static int
ex_status(struct ex *x, int why, int status, double secs)
{
	char *tail = ex_tail(x);
	int rc = KILN_OK;
	if (why == KILN_ECANCELLED) {
		x->h->set_error(x->t, "exec: cancelled after %.1f s; its process "
		                "group was stopped%s", secs, tail);
		rc = KILN_ECANCELLED;
	} else if (why != KILN_OK) {
		x->h->set_error(x->t, "exec: timed out after %g s (param "
		                "'timeout'); its process group was stopped%s",
		                x->timeout, tail);
		rc = KILN_EFAIL;
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		x->h->set_error(x->t, "exec: killed by signal %d (%s)%s%s", sig,
		                ex_signame(sig), ex_limit_hint(sig), tail);
		rc = KILN_EFAIL;
	} else if (WEXITSTATUS(status) != 0) {
		int st = WEXITSTATUS(status), sig = st - 128;
		int sh = strcmp(x->argv[0], "/bin/sh") == 0;
		char hint[128] = "";
		if (sh && st == 127)
			snprintf(hint, sizeof hint, " (the shell found no such "
			         "command)");
		else if (sh && sig > 0 && strcmp(ex_signame(sig), "a signal"))
			snprintf(hint, sizeof hint, " (the shell's way of saying "
			         "a command was killed by signal %d (%s)%s)", sig,
			         ex_signame(sig), ex_limit_hint(sig));
		x->h->set_error(x->t, "exec: exit status %d%s%s", st, hint, tail);
		rc = KILN_EFAIL;
	}
	free(tail);
	return rc;
}

/* ------------------------------------------------------------ run */

static int
ex_run(struct ex *x)
{
	int rc;
	if ((rc = ex_argv(x)) != KILN_OK || (rc = ex_limits(x)) != KILN_OK ||
	    (rc = ex_mkdirs(x)) != KILN_OK || (rc = ex_env(x)) != KILN_OK ||
	    (rc = ex_resolve(x)) != KILN_OK || (rc = ex_inputs(x)) != KILN_OK)
		return rc;
	x->h->log(x->t, KILN_LOG_INFO, "exec: running %s%s%s in %s",
	          x->prog, x->argv[1] ? " " : "",
	          x->argv[1] ? (x->argv[2] && strcmp(x->argv[1], "-c") == 0 ?
	                        x->argv[2] : x->argv[1]) : "", x->work);
	double start = ex_now();
	if ((rc = ex_spawn(x)) < 0) {
		x->h->set_error(x->t, "exec: cannot start %s: %s", x->prog,
		                strerror(-rc));
		return rc == -ENOENT || rc == -EACCES || rc == -ENOEXEC ?
		       KILN_EINVAL : KILN_EFAIL;
	}
	int status = 0;
	int why = ex_wait(x, &status);
	double secs = ex_now() - start;
	if ((rc = ex_status(x, why, status, secs)) != KILN_OK)
		return rc;
	int nout = 0;
	if ((rc = ex_outputs(x, &nout)) != KILN_OK)
		return rc;
	char res[128];
	snprintf(res, sizeof res, "{\"exit_status\": 0, \"seconds\": %.3f, "
	         "\"outputs\": %d}", secs, nout);
	x->h->log(x->t, KILN_LOG_INFO, "exec: exit status 0 after %.3f s, "
	          "%d output%s", secs, nout, nout == 1 ? "" : "s");
	return x->h->set_result(x->t, res);
}

static int
exec_run(kiln_task *t, const struct kiln_host *host)
{
	struct ex *x = calloc(1, sizeof *x);
	if (x == NULL)
		return KILN_ENOMEM;
	x->t = t;
	x->h = host;
	x->out = (struct ex_stream){ .fd = -1, .label = "stdout" };
	x->err = (struct ex_stream){ .fd = -1, .label = "stderr" };
	int rc = ex_run(x);
	ex_strv_free(x->argv);
	ex_strv_free(x->envp);
	free(x->prog);
	free(x->work);
	free(x->inputs);
	free(x->outputs);
	free(x->params_file);
	free(x);
	return rc;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "exec",
	.version = "1.0.0",
	.description = "Runs a program or a shell command line (enabled per "
	               "worker: workers[].exec in cluster.yaml)",
	.params = exec_params,
	.run = exec_run,
};
