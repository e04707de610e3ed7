/* SPDX-License-Identifier: MIT */
/*
 * dataroot.c - the directories a worker's tasks may read files from (see
 * dataroot.h).
 *
 * The order of the checks matters.  Nothing is opened before the path is
 * known to be allowed and to name a regular file: opening a FIFO blocks,
 * and opening some devices acts (a watchdog starts counting).  The path is
 * made canonical first (realpath: no symlink, no "..", no "."), checked
 * against what is denied, then against the roots, then stat()ed; only
 * then opened, without following any symlink, so that a symlink swapped
 * in after the check fails the open instead of leading elsewhere; and the
 * descriptor must be the inode that was stat()ed.
 *
 * A path that cannot be resolved (it does not exist, a directory on the
 * way is closed) is judged by its lexical form: one outside every root is
 * refused as such, so that a task cannot tell which files exist outside
 * the roots from the errors it gets.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && defined(SYS_openat2) && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define DR_HAVE_OPENAT2 1
#endif
#endif

#include "dataroot.h"
#include "err.h"
#include "xalloc.h"

struct dr_entry {
	char *path;             /* as configured: absolute */
	char *label;            /* the setting (a root) or what it is (denied) */
};

struct dataroot {
	char *who;
	struct dr_entry *roots, *denied;
	size_t nroots, ndenied;
	int64_t max;
	char *max_setting;
};

/* Base names refused wherever they are: kiln's store and its journals,
 * and the cluster secret under its usual name (another cluster's, or a
 * copy). */
static const char *const dr_denied_names[] = {
	"kiln.db", "kiln.db-wal", "kiln.db-shm", "kiln.db-journal",
	"cluster.secret",
};

/* ---------------------------------------------------------------- setup */

dataroot *
dataroot_new(const char *who)
{
	dataroot *d = xcalloc(1, sizeof *d);
	d->who = xstrdup(who != NULL ? who : "?");
	d->max = KILN_MAX_FILE_SIZE_DEFAULT;
	d->max_setting = xstrdup("data.max_file_size");
	return d;
}

static void
dr_entries_free(struct dr_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].path);
		free(e[i].label);
	}
	free(e);
}

void
dataroot_free(dataroot *d)
{
	if (d == NULL)
		return;
	dr_entries_free(d->roots, d->nroots);
	dr_entries_free(d->denied, d->ndenied);
	free(d->who);
	free(d->max_setting);
	free(d);
}

static void
dr_push(struct dr_entry **v, size_t *n, const char *path, const char *label)
{
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n].path = xstrdup(path);
	(*v)[*n].label = xstrdup(label);
	(*n)++;
}

void
dataroot_add(dataroot *d, const char *dir, const char *setting)
{
	if (dir != NULL && *dir != '\0')
		dr_push(&d->roots, &d->nroots, dir, setting);
}

void
dataroot_deny(dataroot *d, const char *path, const char *what)
{
	if (path != NULL && *path != '\0')
		dr_push(&d->denied, &d->ndenied, path, what);
}

void
dataroot_set_max(dataroot *d, int64_t max, const char *setting)
{
	if (max <= 0)
		return;
	d->max = max;
	free(d->max_setting);
	d->max_setting = xstrdup(setting);
}

/* The internals of worker W's data_dir: what it keeps there is the
 * worker's, not data (inputs of other jobs, copies of plugins, other
 * tasks' scratch files, keys). */
static void
dr_deny_worker(dataroot *d, const struct kiln_worker_conf *w)
{
	static const char *const dirs[] = {
		"cache", "plugin-cache", "scratch", "tls",
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		char *p = xasprintf("%s/%s", w->data_dir, dirs[i]);
		char *what = xasprintf("worker %s's %s directory (its own, "
		                       "not data)", w->name, dirs[i]);
		dataroot_deny(d, p, what);
		free(what);
		free(p);
	}
}

dataroot *
dataroot_for_worker(const struct kiln_config *c,
                    const struct kiln_worker_conf *wc)
{
	dataroot *d = dataroot_new(wc->name);
	char *own = xasprintf("workers[%s].read_roots", wc->name);

	dataroot_add(d, wc->data_dir, "the worker's data_dir");
	dataroot_add(d, c->master.dags_dir, "master.dags_dir");
	for (size_t i = 0; i < c->data.read_roots.n; i++)
		dataroot_add(d, c->data.read_roots.v[i], "data.read_roots");
	for (size_t i = 0; i < wc->read_roots.n; i++)
		dataroot_add(d, wc->read_roots.v[i], own);
	free(own);
	if (wc->max_file_size > 0) {
		char *s = xasprintf("workers[%s].max_file_size", wc->name);
		dataroot_set_max(d, wc->max_file_size, s);
		free(s);
	} else {
		dataroot_set_max(d, c->data.max_file_size, "data.max_file_size");
	}

	dataroot_deny(d, c->auth.secret_file,
	              "the cluster secret (master.auth.secret_file)");
	char *conf = c->path != NULL ? realpath(c->path, NULL) : NULL;
	dataroot_deny(d, conf != NULL ? conf : c->path, "the cluster "
	              "configuration (it may hold the secret and users)");
	free(conf);
	dataroot_deny(d, c->master.data_dir, "the master's data_dir (kiln.db, "
	              "artifacts, TLS keys)");
	dataroot_deny(d, c->master.tls_key_file,
	              "the master's TLS key (master.tls.key_file)");
	for (size_t i = 0; i < c->nworkers; i++)
		dr_deny_worker(d, &c->workers[i]);
	if (config_worker(c, wc->name) != wc)
		dr_deny_worker(d, wc);          /* a worker that joined */
	return d;
}

/* ---------------------------------------------------------------- paths */

/* Is PATH (canonical or lexical) DIR or under it? */
static int
dr_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/*
 * PATH made absolute (against the working directory) with ".", ".." and
 * repeated slashes folded as text, for a path that realpath() could not
 * resolve.  Exact when no symlink is on the way, which is all that is
 * asked of it: to tell whether such a path points into a root at all.
 * NULL if the working directory is gone.
 */
static char *
dr_lexical(const char *path)
{
	char *abs;
	if (path[0] == '/') {
		abs = xstrdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return NULL;
		abs = xasprintf("%s/%s", cwd, path);
		free(cwd);
	}
	char *out = xmalloc(strlen(abs) + 2);
	size_t n = 0;
	for (char *p = abs; *p != '\0';) {
		while (*p == '/')
			p++;
		char *end = p + strcspn(p, "/");
		size_t len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;            /* the slash before it */
		} else {
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = end;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	free(abs);
	return out;
}

/* The canonical form of configured PATH, or PATH itself if it cannot be
 * resolved (yet): malloc()ed. */
static char *
dr_resolve(const char *path)
{
	char *r = realpath(path, NULL);
	return r != NULL ? r : xstrdup(path);
}

/* The root of D that PATH lies under, or NULL.  LEXICAL: PATH is not
 * canonical, so the roots are tried as configured too. */
static const struct dr_entry *
dr_root_of(const dataroot *d, const char *path, int lexical)
{
	for (size_t i = 0; i < d->nroots; i++) {
		char *r = realpath(d->roots[i].path, NULL);
		int in = (r != NULL && dr_under(path, r)) ||
		         (lexical && dr_under(path, d->roots[i].path));
		free(r);
		if (in)
			return &d->roots[i];
	}
	return NULL;
}

/* Why canonical PATH is never readable, or NULL. */
static const char *
dr_denied(const dataroot *d, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	for (size_t i = 0; i < sizeof dr_denied_names / sizeof *dr_denied_names;
	     i++)
		if (strcmp(base, dr_denied_names[i]) == 0)
			return strcmp(base, "cluster.secret") == 0 ?
			       "a cluster secret" : "a kiln store (kiln.db*)";
	for (size_t i = 0; i < d->ndenied; i++) {
		char *r = dr_resolve(d->denied[i].path);
		int in = dr_under(path, r) || dr_under(path, d->denied[i].path);
		free(r);
		if (in)
			return d->denied[i].label;
	}
	return NULL;
}

/* Why the file of ST is never readable, by its inode: a hard link to a
 * denied file elsewhere.  NULL if it is not one. */
static const char *
dr_denied_inode(const dataroot *d, const struct stat *st)
{
	for (size_t i = 0; i < d->ndenied; i++) {
		struct stat ds;
		if (stat(d->denied[i].path, &ds) == 0 && S_ISREG(ds.st_mode) &&
		    ds.st_dev == st->st_dev && ds.st_ino == st->st_ino)
			return d->denied[i].label;
	}
	return NULL;
}

char *
dataroot_describe(const dataroot *d)
{
	char *s = xstrdup(d->nroots ? "" : "none");
	for (size_t i = 0; i < d->nroots; i++) {
		char *r = realpath(d->roots[i].path, NULL);
		char *t = xasprintf("%s%s%s (%s%s)", s, i ? ", " : "",
		                    r != NULL ? r : d->roots[i].path,
		                    d->roots[i].label, r != NULL ? "" :
		                    ", missing");
		free(r);
		free(s);
		s = t;
	}
	return s;
}

/* ---------------------------------------------------------------- open */

static const char *
dr_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ?
	       "a block device" : S_ISSOCK(m) ? "a socket" : "not a file";
}

/* Open canonical PATH read-only, following no symlink anywhere on it
 * (none was there when it was resolved; one now is a swap). */
static int
dr_open_nofollow(const char *path)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
#ifdef DR_HAVE_OPENAT2
	struct open_how how = { .flags = (uint64_t)oflags,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
	/* Older kernels, and sandboxes that filter the call, fall back. */
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
#endif
	return open(path, oflags);
}

/* Is FD the file at canonical PATH?  Where /proc is mounted the kernel
 * says which path it opened; elsewhere the inode check has to do. */
static int
dr_fd_is(int fd, const char *path)
{
	char link[64], buf[PATH_MAX + 1];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, sizeof buf - 1);
	if (n < 0)
		return 1;
	buf[n] = '\0';
	return strcmp(buf, path) == 0;
}

/* Refuse PATH (as the user gave it): outside every root of D. */
static int
dr_outside(const dataroot *d, const char *path, char **err)
{
	char *roots = dataroot_describe(d);
	int rc = err_set(err, -EPERM, "%s: outside the read roots of worker %s "
	                "(%s): add its directory to data.read_roots or "
	                "workers[].read_roots in cluster.yaml to allow it",
	                path, d->who, roots);
	free(roots);
	return rc;
}

/* A path realpath() could not resolve (errno E): refused if it points
 * outside the roots, else what the file system said. */
static int
dr_unresolved(const dataroot *d, const char *path, int e, char **err)
{
	char *lex = dr_lexical(path);
	const char *why = lex != NULL ? dr_denied(d, lex) : NULL;
	int inside = lex != NULL && dr_root_of(d, lex, 1) != NULL;
	free(lex);
	if (why != NULL)
		return err_set(err, -EPERM, "%s: %s is never readable by tasks, "
		              "whatever the read roots", path, why);
	if (!inside)
		return dr_outside(d, path, err);
	return err_set(err, -e, "%s: %s", path, strerror(e));
}

/* Checks on canonical REAL (PATH as given) before anything is opened;
 * its stat in *ST.  0 or negative with *err. */
static int
dr_check(const dataroot *d, const char *path, const char *real,
         struct stat *st, char **err)
{
	const char *why = dr_denied(d, real);
	if (why != NULL)
		return err_set(err, -EPERM, "%s: %s is never readable by tasks, "
		              "whatever the read roots", path, why);
	if (dr_root_of(d, real, 0) == NULL)
		return dr_outside(d, path, err);
	if (stat(real, st) != 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return err_set(err, -EINVAL, "%s: %s, not a regular file: tasks "
		              "read regular files only", path,
		              dr_kind(st->st_mode));
	if ((why = dr_denied_inode(d, st)) != NULL)
		return err_set(err, -EPERM, "%s: a link to %s, which is never "
		              "readable by tasks", path, why);
	if (st->st_size > d->max)
		return err_set(err, -EFBIG, "%s: %lld bytes, more than the %lld "
		              "a task may read (%s)", path,
		              (long long)st->st_size, (long long)d->max,
		              d->max_setting);
	return 0;
}

int
dataroot_open(const dataroot *d, const char *path, unsigned flags,
              uint64_t *size, char **err)
{
	if (size != NULL)
		*size = 0;
	if (path == NULL || *path == '\0')
		return err_set(err, -EINVAL, "no path given");
	if (flags != 0)
		return err_set(err, -EINVAL, "%s: unknown open_data flags 0x%x",
		              path, flags);
	if (d == NULL)
		return err_set(err, -EPERM, "%s: this host has no read roots: "
		              "tasks may not open files by path", path);

	char *real = realpath(path, NULL);
	if (real == NULL)
		return dr_unresolved(d, path, errno, err);
	struct stat st, fst;
	int rc = dr_check(d, path, real, &st, err);
	if (rc < 0) {
		free(real);
		return rc;
	}
	int fd = dr_open_nofollow(real);
	if (fd < 0) {
		int e = errno;
		free(real);
		if (e == ELOOP || e == EXDEV)   /* a symlink appeared */
			return err_set(err, -EINVAL, "%s: changed while it was "
			              "being opened", path);
		return err_set(err, -e, "%s: %s", path, strerror(e));
	}
	if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) ||
	    fst.st_dev != st.st_dev || fst.st_ino != st.st_ino ||
	    !dr_fd_is(fd, real)) {
		close(fd);
		free(real);
		return err_set(err, -EINVAL, "%s: changed while it was being "
		              "opened", path);
	}
	free(real);
	/* Opened non-blocking so that nothing could hang the open; reads
	 * of a regular file block as usual. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (size != NULL)
		*size = (uint64_t)fst.st_size;
	return fd;
}
