/* SPDX-License-Identifier: MIT */
/*
 * plugin.c - the plugin loader and registry (see plugin.h).
 *
 * A registry maps plugin names to the version currently loaded from the
 * watched directory.  Loading copies the file into the cache directory under
 * a name used once, dlopen()s the copy and unlinks it at once: every load
 * gets a fresh inode, so the dynamic linker never hands back an older
 * mapping of the "same" file, and replacing a file under a running task
 * changes nothing that the task executes.
 *
 * Locking: `scan_lock` serializes scans (the only writers of the lists), so
 * slow work - copying, dlopen(), init() - happens without `lock`, which
 * guards the lists for readers (plugin_acquire, plugin_list, ...) and is
 * held only to look up or to publish a change.  A plugin's reference count
 * is atomic: the registry holds one reference on each current version, and
 * plugin_release() may drop the last one on any thread, which then calls
 * fini() and dlclose().
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "fs.h"
#include "log.h"
#include "plugin.h"
#include "xalloc.h"

/* What identifies one version of a file: any change means a reload. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct plugin {
	atomic_int refs;
	void *handle;           /* NULL: a plugin without code here, whose
	                         * desc is a copy it owns (plugin_describe) */
	const struct kiln_plugin *desc;
	const struct kiln_host *host;   /* what init() got; fini() gets it too */
	void *ctx;              /* what init_ctx() returned (ABI 1.3) */
	char *file;             /* the path in the watched directory */
	struct file_id id;
};

/* A file that failed to load, and why.  Kept until the file changes so a
 * broken file is reported once, not at every scan. */
struct load_error {
	char *file;
	char *msg;
	struct file_id id;
	char *dup_name;         /* set when refused for a taken name */
	bool refused;           /* by the registry's policy: remembered so
	                         * that scans skip it, but not a fault, so
	                         * not listed by plugin_errors() */
};

struct plugin_registry {
	char *dir;
	char *cache_dir;
	const struct kiln_host *host;
	pthread_mutex_t scan_lock;
	pthread_mutex_t lock;   /* guards the two arrays below */
	plugin **cur;           /* current versions, sorted by name */
	size_t ncur;
	struct load_error *errs;
	size_t nerrs;
	struct plugin_refusal *refused; /* names this registry never loads */
	size_t nrefused;
	bool describe_only;     /* keep descriptors, not code ... */
	char **with_code;       /* ... except for these names */
	size_t nwith_code;
};

/* Makes cache names unique within the process; the pid in the name keeps
 * processes sharing a cache directory apart. */
static atomic_uint plugin_copy_counter;

/* The end of MEMBER in a descriptor. */
#define PLUGIN_DESC_END(member) \
	(offsetof(struct kiln_plugin, member) + \
	 sizeof(((struct kiln_plugin *)0)->member))

/*
 * Whether descriptor D has MEMBER, added in ABI 1.MINOR.  The minor
 * decides, not the size: descriptors of 1.0 to 1.2 carry spare slots where
 * later members sit, which their header only asked to leave NULL; and a
 * plugin's minor also says which rules it follows.  The size is checked
 * against the minor at load (plugin_desc_min_size), and again here so that
 * nothing past the descriptor is ever read.
 */
#define PLUGIN_DESC_HAS(d, member, minor) \
	((d)->abi_minor >= (minor) && (d)->size >= PLUGIN_DESC_END(member))

/* Whether memory crossing the boundary with the plugin of D comes from
 * HOST's allocator (ABI 1.3) or from malloc() (see kiln/plugin.h). */
#define PLUGIN_HOST_MEMORY(d, host) \
	((d)->abi_minor >= 3 && KILN_HOST_HAS(host, mem_free))

/* The name of the plugin whose init or fini this thread is running, for
 * host->log(NULL, ...). */
static _Thread_local const char *plugin_calling;

/* ------------------------------------------------------------ helpers */

static bool
plugin_same_id(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void
plugin_stat_id(const struct stat *st, struct file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

static bool
plugin_name_valid(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

static const char *
plugin_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s != NULL ? s + 1 : path;
}

/* The smallest descriptor a plugin of ABI 1.MINOR may have: every member
 * of its minor (the host never reads past `size`). */
static size_t
plugin_desc_min_size(uint32_t minor)
{
	if (minor >= 3)
		return PLUGIN_DESC_END(fini_ctx);
	if (minor >= 1)
		return PLUGIN_DESC_END(map);
	return offsetof(struct kiln_plugin, map);
}

/* Copy the open file SRC into a new file in CACHE_DIR named after FILE;
 * the new path goes to *copy. */
static int
plugin_copy(int src, const char *file, const struct file_id *id,
            const char *cache_dir, char **copy, char **err)
{
	const char *base = plugin_basename(file);
	size_t n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	char *path = xasprintf("%s/%.*s-%ld-%u-%lu.so", cache_dir, (int)n,
	                       base, (long)getpid(),
	                       atomic_fetch_add(&plugin_copy_counter, 1),
	                       (unsigned long)id->ino);
	int dst = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (dst < 0) {
		int e = errno;
		err_set(err, -e, "%s: cannot create cache copy %s: %s", file,
		       path, strerror(e));
		free(path);
		return -e;
	}
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t r = read(src, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(err, -errno, "%s: read: %s", file,
			            strerror(errno));
			break;
		}
		if (r == 0)
			break;
		for (ssize_t off = 0; off < r; ) {
			ssize_t w = write(dst, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = err_set(err, -errno, "%s: write: %s", path,
				            strerror(errno));
				break;
			}
			off += w;
		}
		if (rc < 0)
			break;
	}
	if (close(dst) < 0 && rc == 0)
		rc = err_set(err, -errno, "%s: close: %s", path, strerror(errno));
	if (rc < 0) {
		unlink(path);
		free(path);
		return rc;
	}
	*copy = path;
	return 0;
}

/*
 * dlopen() maps segments without checking that the file holds them, and a
 * truncated object - say one still being copied into the directory - then
 * dies of SIGBUS inside the dynamic linker.  So check that every loadable
 * segment of a native ELF file lies within the file.  Anything that is not
 * native ELF is left to dlopen() to refuse with its own message.
 */
static int
plugin_elf_check(const char *copy, const char *file, char **err)
{
	int fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: cannot open cache copy %s: %s",
		              file, copy, strerror(errno));
	struct stat st;
	ElfW(Ehdr) eh;
	int rc = 0;
	if (fstat(fd, &st) < 0 ||
	    pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64
	                                                 : ELFCLASS32) ||
	    eh.e_phentsize != sizeof(ElfW(Phdr)))
		goto out;
	off_t size = st.st_size;
	if ((off_t)eh.e_phoff + (off_t)eh.e_phnum * eh.e_phentsize > size) {
		rc = err_set(err, -ENOEXEC, "%s: truncated ELF file (program "
		            "headers past the end); is it still being written?",
		            file);
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		ElfW(Phdr) ph;
		if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff +
		          i * sizeof ph)) != (ssize_t)sizeof ph) {
			rc = err_set(err, -EIO, "%s: cannot read program "
			            "header %u", file, i);
			break;
		}
		if (ph.p_type == PT_LOAD &&
		    (ph.p_offset > (uint64_t)size ||
		     ph.p_filesz > (uint64_t)size - ph.p_offset)) {
			rc = err_set(err, -ENOEXEC, "%s: truncated ELF file "
			            "(%lld bytes, a segment ends at %llu); is it "
			            "still being written?", file, (long long)size,
			            (unsigned long long)(ph.p_offset + ph.p_filesz));
			break;
		}
	}
out:
	close(fd);
	return rc;
}

/*
 * Load FILE (a path) through a copy in CACHE_DIR and check its descriptor,
 * in the order the ABI promises: loadable, symbol, ABI major, size, required
 * members, name.  No init().  On success *handle and *desc are set and
 * *id holds the identity of the file actually read.
 */
static int
plugin_open_file(const char *file, const char *cache_dir, void **handle,
                 const struct kiln_plugin **desc, struct file_id *id,
                 char **err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: cannot open: %s", file,
		              strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return err_set(err, -e, "%s: cannot stat: %s", file, strerror(e));
	}
	plugin_stat_id(&st, id);
	char *copy = NULL;
	int rc = plugin_copy(fd, file, id, cache_dir, &copy, err);
	close(fd);
	if (rc < 0)
		return rc;

	/* A file written to while we copied it would give a torn copy; try
	 * again at the next scan, when it has settled. */
	struct stat after;
	if (stat(file, &after) == 0) {
		struct file_id now;
		plugin_stat_id(&after, &now);
		if (!plugin_same_id(&now, id)) {
			unlink(copy);
			free(copy);
			return err_set(err, -EAGAIN, "%s: changed while being "
			              "read", file);
		}
	}
	rc = plugin_elf_check(copy, file, err);
	if (rc < 0) {
		unlink(copy);
		free(copy);
		return rc;
	}

	void *h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	/* The mapping keeps the inode alive; the name is no longer needed. */
	if (h == NULL) {
		const char *why = dlerror();
		size_t n = strlen(copy);
		/* dlerror() names the cache copy; the user knows the file. */
		if (why == NULL)
			why = "unknown error";
		else if (strncmp(why, copy, n) == 0 && why[n] == ':')
			why += n + 1 + (why[n + 1] == ' ');
		/* kiln exports no symbol to plugins (src/kiln/plugin.sym): one
		 * that binds to kiln's internals would break with any build. */
		if (strstr(why, "undefined symbol") != NULL)
			err_set(err, -ENOEXEC, "%s: %s: a plugin may use kiln only "
			       "through the host table of kiln/plugin.h, and "
			       "libraries it links itself", file, why);
		else
			err_set(err, -ENOEXEC, "%s: not a loadable shared "
			       "object: %s", file, why);
		unlink(copy);
		free(copy);
		return -ENOEXEC;
	}
	unlink(copy);
	free(copy);

	const struct kiln_plugin *d = dlsym(h, KILN_PLUGIN_SYMBOL);
	if (d == NULL) {
		rc = err_set(err, -ENOENT, "%s: does not export the symbol '%s'",
		            file, KILN_PLUGIN_SYMBOL);
	} else if (d->abi_major != KILN_ABI_MAJOR) {
		rc = err_set(err, -EPROTO,
		            "%s: built for ABI %u, this kiln speaks ABI %d",
		            file, d->abi_major, KILN_ABI_MAJOR);
	} else if (d->abi_minor > KILN_ABI_MINOR) {
		/* It may rely on members this kiln would not call. */
		rc = err_set(err, -EPROTO,
		            "%s: built for ABI %u.%u, this kiln speaks ABI %d.%d "
		            "(and older): upgrade kiln, or build the plugin for "
		            "ABI %d.%d", file, d->abi_major, d->abi_minor,
		            KILN_ABI_MAJOR, KILN_ABI_MINOR, KILN_ABI_MAJOR,
		            KILN_ABI_MINOR);
	} else if (d->size < plugin_desc_min_size(d->abi_minor)) {
		rc = err_set(err, -EPROTO,
		            "%s: descriptor size %u is smaller than the %zu "
		            "bytes of ABI %d.%u", file, d->size,
		            plugin_desc_min_size(d->abi_minor), KILN_ABI_MAJOR,
		            d->abi_minor);
	} else if (d->name == NULL) {
		rc = err_set(err, -EINVAL, "%s: descriptor has no name", file);
	} else if (d->version == NULL) {
		rc = err_set(err, -EINVAL, "%s: plugin '%.64s' has no version",
		            file, d->name);
	} else if (d->run == NULL) {
		rc = err_set(err, -EINVAL, "%s: plugin '%.64s' has no run()",
		            file, d->name);
	} else if (!plugin_name_valid(d->name)) {
		rc = err_set(err, -EINVAL, "%s: invalid plugin name '%.64s' "
		            "(allowed: a-z, 0-9, '_' and '-')", file, d->name);
	}
	if (rc < 0) {
		dlclose(h);
		return rc;
	}
	*handle = h;
	*desc = d;
	return 0;
}

/* ------------------------------------------------------------ plugins */

/* Call D's fini_ctx() (ABI 1.3) with CTX, or its fini(). */
static void
plugin_fini(const struct kiln_plugin *d, const struct kiln_host *host,
            void *ctx)
{
	plugin_calling = d->name;
	if (PLUGIN_DESC_HAS(d, fini_ctx, 3) && d->fini_ctx != NULL)
		d->fini_ctx(host, ctx);
	else if (d->fini != NULL)
		d->fini();
	plugin_calling = NULL;
}

static char *
plugin_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A copy of D's strings and parameters, without its functions, that
 * outlives D's dlclose(): its size is the host's, its minor D's, so the
 * ABI rules read it as they read D.  Freed by plugin_desc_free(). */
static struct kiln_plugin *
plugin_describe(const struct kiln_plugin *d)
{
	struct kiln_plugin *c = xcalloc(1, sizeof *c);
	c->abi_major = d->abi_major;
	c->abi_minor = d->abi_minor;
	c->size = sizeof *c;
	c->name = xstrdup(d->name);
	c->version = xstrdup(d->version);
	c->description = plugin_strdup_or_null(d->description);
	size_t n = 0;
	while (d->params != NULL && d->params[n].name != NULL)
		n++;
	if (d->params != NULL) {
		struct kiln_param *v = xcalloc(n + 1, sizeof *v);
		for (size_t i = 0; i < n; i++)
			v[i] = (struct kiln_param){
				xstrdup(d->params[i].name),
				plugin_strdup_or_null(d->params[i].type),
				plugin_strdup_or_null(d->params[i].default_value),
				plugin_strdup_or_null(d->params[i].help) };
		c->params = v;
	}
	return c;
}

static void
plugin_desc_free(struct kiln_plugin *c)
{
	for (const struct kiln_param *p = c->params; p != NULL &&
	     p->name != NULL; p++) {
		free((char *)p->name);
		free((char *)p->type);
		free((char *)p->default_value);
		free((char *)p->help);
	}
	free((void *)c->params);
	free((char *)c->name);
	free((char *)c->version);
	free((char *)c->description);
	free(c);
}

void
plugin_release(plugin *p)
{
	if (p == NULL)
		return;
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	log_info("unloading plugin %s %s (%s)", p->desc->name,
	         p->desc->version, p->file);
	if (p->handle != NULL) {
		plugin_fini(p->desc, p->host, p->ctx);
		dlclose(p->handle);
	} else {
		plugin_desc_free((struct kiln_plugin *)p->desc);
	}
	free(p->file);
	free(p);
}

const struct kiln_plugin *
plugin_desc(const plugin *p)
{
	return p->desc;
}

int
plugin_has_code(const plugin *p)
{
	return p->handle != NULL;
}

plugin_map_fn
plugin_map(const plugin *p)
{
	return PLUGIN_DESC_HAS(p->desc, map, 1) ? p->desc->map : NULL;
}

void *
plugin_context(const plugin *p)
{
	return p->ctx;
}

const char *
plugin_current_name(void)
{
	return plugin_calling;
}

/* Call D's init_ctx() (ABI 1.3) or init(), with HOST.  0 with *ctx set,
 * or the plugin's non-zero code with *err saying why (malloc()ed). */
static int
plugin_init(const struct kiln_plugin *d, const struct kiln_host *host,
            const char *file, void **ctx, char **err)
{
	char *msg = NULL;
	int rc = 0;
	*ctx = NULL;
	plugin_calling = d->name;
	if (PLUGIN_DESC_HAS(d, init_ctx, 3) && d->init_ctx != NULL)
		rc = d->init_ctx(host, ctx, &msg);
	else if (d->init != NULL)
		rc = d->init(host, &msg);
	plugin_calling = NULL;
	if (rc != 0 && msg != NULL)
		*err = xasprintf("%s: init() of plugin '%s' failed: %s", file,
		                 d->name, msg);
	else if (rc != 0)
		*err = xasprintf("%s: init() of plugin '%s' failed with code "
		                 "%d", file, d->name, rc);
	/* The message was made with the allocator the plugin's minor says. */
	if (PLUGIN_HOST_MEMORY(d, host))
		host->mem_free(msg);
	else
		free(msg);
	return rc;
}

/* Index of NAME in r->cur, or where it would go (with *found false). */
static size_t
plugin_find(const plugin_registry *r, const char *name, bool *found)
{
	size_t lo = 0, hi = r->ncur;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->cur[mid]->desc->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static plugin *
plugin_by_file(const plugin_registry *r, const char *file)
{
	for (size_t i = 0; i < r->ncur; i++)
		if (strcmp(r->cur[i]->file, file) == 0)
			return r->cur[i];
	return NULL;
}

plugin *
plugin_acquire(plugin_registry *r, const char *name)
{
	bool found;
	plugin *p = NULL;
	pthread_mutex_lock(&r->lock);
	size_t i = plugin_find(r, name, &found);
	if (found) {
		p = r->cur[i];
		atomic_fetch_add(&p->refs, 1);
	}
	pthread_mutex_unlock(&r->lock);
	return p;
}

/* Take P out of the current set (the registry's reference goes with the
 * caller).  Called with scan_lock held. */
static void
plugin_unpublish(plugin_registry *r, plugin *p)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->ncur; i++) {
		if (r->cur[i] == p) {
			memmove(&r->cur[i], &r->cur[i + 1],
			        (r->ncur - i - 1) * sizeof r->cur[0]);
			r->ncur--;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* Make P current, in place of OLD (or NULL) in one step so that
 * plugin_acquire() never sees neither. */
static void
plugin_publish(plugin_registry *r, plugin *p, plugin *old)
{
	bool found;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; old != NULL && i < r->ncur; i++) {
		if (r->cur[i] == old) {
			memmove(&r->cur[i], &r->cur[i + 1],
			        (r->ncur - i - 1) * sizeof r->cur[0]);
			r->ncur--;
			break;
		}
	}
	/* Callers checked that nobody else holds the name. */
	size_t i = plugin_find(r, p->desc->name, &found);
	r->cur = xrealloc(r->cur, (r->ncur + 1) * sizeof r->cur[0]);
	memmove(&r->cur[i + 1], &r->cur[i], (r->ncur - i) * sizeof r->cur[0]);
	r->cur[i] = p;
	r->ncur++;
	pthread_mutex_unlock(&r->lock);
}

/* ------------------------------------------------------------ errors */

static void
plugin_error_free(struct load_error *e)
{
	free(e->file);
	free(e->msg);
	free(e->dup_name);
}

static struct load_error *
plugin_error_find(plugin_registry *r, const char *file)
{
	for (size_t i = 0; i < r->nerrs; i++)
		if (strcmp(r->errs[i].file, file) == 0)
			return &r->errs[i];
	return NULL;
}

static void
plugin_error_drop(plugin_registry *r, const char *file)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->nerrs; i++) {
		if (strcmp(r->errs[i].file, file) == 0) {
			plugin_error_free(&r->errs[i]);
			r->errs[i] = r->errs[--r->nerrs];
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* Record that FILE failed, or was REFUSED; takes MSG and DUP_NAME. */
static void
plugin_error_put(plugin_registry *r, const char *file,
                 const struct file_id *id, char *msg, char *dup_name,
                 bool refused)
{
	plugin_error_drop(r, file);
	pthread_mutex_lock(&r->lock);
	r->errs = xrealloc(r->errs, (r->nerrs + 1) * sizeof r->errs[0]);
	r->errs[r->nerrs++] = (struct load_error){
		.file = xstrdup(file), .msg = msg, .id = *id,
		.dup_name = dup_name, .refused = refused,
	};
	pthread_mutex_unlock(&r->lock);
}

/* Record (and log) that FILE failed; takes MSG and DUP_NAME. */
static void
plugin_error_add(plugin_registry *r, const char *file,
                 const struct file_id *id, char *msg, char *dup_name)
{
	log_error("plugin %s", msg);
	plugin_error_put(r, file, id, msg, dup_name, false);
}

/* ------------------------------------------------------------ scanning */

static int
plugin_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.so entries of DIR, sorted, as full paths.  -errno on failure. */
static int
plugin_list_dir(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	char **v = NULL;
	size_t nv = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 3 ||
		    strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		v = xrealloc(v, (nv + 1) * sizeof v[0]);
		v[nv++] = xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (nv > 0)
		qsort(v, nv, sizeof v[0], plugin_strcmp);
	*out = v;
	*n = nv;
	return 0;
}

static bool
plugin_in_list(char **files, size_t n, const char *file)
{
	return bsearch(&file, files, n, sizeof files[0], plugin_strcmp) != NULL;
}

/* FILE's new version H was not loaded: close it, and take OLD (the
 * version loaded from the same file, or NULL) out of the registry, since
 * the file no longer holds it.  Returns 1 if the registry changed. */
static int
plugin_load_failed(plugin_registry *r, void *h, plugin *old)
{
	dlclose(h);
	if (old == NULL)
		return 0;
	plugin_unpublish(r, old);
	plugin_release(old);
	return 1;
}

/* Whether R keeps the code of the plugin called NAME. */
static bool
plugin_keeps_code(const plugin_registry *r, const char *name)
{
	if (!r->describe_only)
		return true;
	for (size_t i = 0; i < r->nwith_code; i++)
		if (strcmp(r->with_code[i], name) == 0)
			return true;
	return false;
}

/* Load FILE (whose stat says ID), replacing OLD (the version loaded from
 * the same file, or NULL).  Returns 1 if the registry changed. */
static int
plugin_load(plugin_registry *r, const char *file, const struct file_id *id,
            plugin *old)
{
	void *h;
	const struct kiln_plugin *d;
	struct file_id real_id = *id;
	char *err = NULL;

	int rc = plugin_open_file(file, r->cache_dir, &h, &d, &real_id, &err);
	if (rc == -EAGAIN) {
		/* Being written: leave everything as it is for now. */
		log_info("plugin %s", err);
		free(err);
		return 0;
	}
	if (rc < 0) {
		/* The file now provides nothing; a task running the old
		 * version keeps its own reference. */
		plugin_error_add(r, file, &real_id, err, NULL);
		if (old != NULL) {
			log_warn("plugin %s removed: %s no longer loads",
			         old->desc->name, file);
			plugin_unpublish(r, old);
			plugin_release(old);
			return 1;
		}
		return 0;
	}
	for (size_t k = 0; k < r->nrefused; k++) {
		if (strcmp(r->refused[k].name, d->name) != 0)
			continue;
		/* Refused before init(): it runs no code of its own here. */
		err = xasprintf("%s: plugin '%s' %s", file, d->name,
		                r->refused[k].why);
		log_info("not loading %s", err);
		plugin_error_put(r, file, &real_id, err, NULL, true);
		return plugin_load_failed(r, h, old);
	}
	bool found;
	pthread_mutex_lock(&r->lock);
	size_t i = plugin_find(r, d->name, &found);
	plugin *holder = found ? r->cur[i] : NULL;
	pthread_mutex_unlock(&r->lock);
	if (holder != NULL && holder != old) {
		err = xasprintf("%s: plugin name '%s' is already provided by %s",
		                file, d->name, holder->file);
		plugin_error_add(r, file, &real_id, err, xstrdup(d->name));
		return plugin_load_failed(r, h, old);
	}
	void *ctx;
	if (plugin_init(d, r->host, file, &ctx, &err) != 0) {
		plugin_error_add(r, file, &real_id, err, NULL);
		return plugin_load_failed(r, h, old);
	}
	if (!plugin_keeps_code(r, d->name)) {
		/* It initialised here, so it will where its code runs. */
		plugin_fini(d, r->host, ctx);
		d = plugin_describe(d);
		dlclose(h);
		h = NULL;
		ctx = NULL;
	}

	plugin *p = xcalloc(1, sizeof *p);
	atomic_init(&p->refs, 1);
	p->handle = h;
	p->desc = d;
	p->host = r->host;
	p->ctx = ctx;
	p->file = xstrdup(file);
	p->id = real_id;
	plugin_error_drop(r, file);
	plugin_publish(r, p, old);
	if (old != NULL) {
		log_info("plugin %s %s replaced by %s %s from %s",
		         old->desc->name, old->desc->version, d->name,
		         d->version, file);
		plugin_release(old);
	} else {
		log_info("%s plugin %s %s from %s", h != NULL ? "loaded" :
		         "described", d->name, d->version, file);
	}
	return 1;
}

int
plugin_registry_scan(plugin_registry *r)
{
	char **files = NULL;
	size_t nfiles = 0;
	int changed = 0;

	pthread_mutex_lock(&r->scan_lock);
	int rc = plugin_list_dir(r->dir, &files, &nfiles);
	if (rc < 0) {
		/* Keep what is loaded: an unreadable directory is more
		 * likely a transient problem than a request to unload. */
		log_error("cannot scan plugin directory %s: %s", r->dir,
		          strerror(-rc));
		pthread_mutex_unlock(&r->scan_lock);
		return 0;
	}

	/* Forget files that went away (only scans modify the arrays, so
	 * reading them here without `lock` is safe). */
	for (size_t i = 0; i < r->ncur; ) {
		plugin *p = r->cur[i];
		if (plugin_in_list(files, nfiles, p->file)) {
			i++;
			continue;
		}
		log_info("plugin %s %s removed (%s is gone)", p->desc->name,
		         p->desc->version, p->file);
		plugin_unpublish(r, p);
		plugin_release(p);
		changed++;
	}
	for (size_t i = 0; i < r->nerrs; ) {
		if (plugin_in_list(files, nfiles, r->errs[i].file)) {
			i++;
			continue;
		}
		char *f = xstrdup(r->errs[i].file);
		plugin_error_drop(r, f);
		free(f);
	}

	for (size_t i = 0; i < nfiles; i++) {
		const char *file = files[i];
		struct stat st;
		if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		struct file_id id;
		plugin_stat_id(&st, &id);
		plugin *old = plugin_by_file(r, file);
		if (old != NULL && plugin_same_id(&old->id, &id))
			continue;
		struct load_error *e = plugin_error_find(r, file);
		if (e != NULL && plugin_same_id(&e->id, &id)) {
			/* Unchanged and still broken - unless it was only
			 * refused for a name that has since been freed. */
			bool found = true;
			if (e->dup_name != NULL)
				plugin_find(r, e->dup_name, &found);
			if (found)
				continue;
		}
		changed += plugin_load(r, file, &id, old);
	}
	pthread_mutex_unlock(&r->scan_lock);

	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return changed;
}

/* ------------------------------------------------------------ registry */

int
plugin_registry_open(const char *dir, const char *cache_dir,
                     const struct kiln_host *host, plugin_registry **out,
                     char **err)
{
	return plugin_registry_open_refusing(dir, cache_dir, host, NULL, 0,
	                                     out, err);
}

int
plugin_registry_open_refusing(const char *dir, const char *cache_dir,
                              const struct kiln_host *host,
                              const struct plugin_refusal *refused,
                              size_t nrefused, plugin_registry **out,
                              char **err)
{
	const struct plugin_policy pol = { refused, nrefused, 0, NULL, 0 };
	return plugin_registry_open_policy(dir, cache_dir, host, &pol, out,
	                                   err);
}

int
plugin_registry_open_code(const plugin_registry *like,
                          plugin_registry **out, char **err)
{
	const struct plugin_policy pol = { like->refused, like->nrefused, 0,
		NULL, 0 };
	return plugin_registry_open_policy(like->dir, like->cache_dir,
	                                   like->host, &pol, out, err);
}

int
plugin_registry_open_policy(const char *dir, const char *cache_dir,
                            const struct kiln_host *host,
                            const struct plugin_policy *pol,
                            plugin_registry **out, char **err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return err_set(err, -errno, "plugin directory %s: %s", dir,
		              strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "plugin directory %s is not a "
		              "directory", dir);
	int rc = fs_mkdir_p(cache_dir, 0700, err);
	if (rc < 0)
		return rc;

	plugin_registry *r = xcalloc(1, sizeof *r);
	r->dir = xstrdup(dir);
	r->cache_dir = xstrdup(cache_dir);
	r->host = host;
	r->refused = xcalloc(pol->nrefused + 1, sizeof *r->refused);
	for (size_t i = 0; i < pol->nrefused; i++)
		r->refused[r->nrefused++] = (struct plugin_refusal){
			xstrdup(pol->refused[i].name),
			xstrdup(pol->refused[i].why) };
	r->describe_only = pol->describe_only != 0;
	r->with_code = xcalloc(pol->nwith_code + 1, sizeof *r->with_code);
	for (size_t i = 0; i < pol->nwith_code; i++)
		r->with_code[r->nwith_code++] = xstrdup(pol->with_code[i]);
	pthread_mutex_init(&r->scan_lock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	plugin_registry_scan(r);
	*out = r;
	return 0;
}

void
plugin_registry_close(plugin_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncur; i++)
		plugin_release(r->cur[i]);
	free(r->cur);
	for (size_t i = 0; i < r->nerrs; i++)
		plugin_error_free(&r->errs[i]);
	free(r->errs);
	for (size_t i = 0; i < r->nrefused; i++) {
		free((char *)r->refused[i].name);
		free((char *)r->refused[i].why);
	}
	free(r->refused);
	for (size_t i = 0; i < r->nwith_code; i++)
		free(r->with_code[i]);
	free(r->with_code);
	pthread_mutex_destroy(&r->scan_lock);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r->cache_dir);
	free(r);
}

int
plugin_list(plugin_registry *r, plugin_list_cb cb, void *ud)
{
	/* Call back on a snapshot, without the lock, so a callback may use
	 * the registry. */
	pthread_mutex_lock(&r->lock);
	size_t n = r->ncur;
	plugin **v = xmalloc((n ? n : 1) * sizeof v[0]);
	for (size_t i = 0; i < n; i++) {
		v[i] = r->cur[i];
		atomic_fetch_add(&v[i]->refs, 1);
	}
	pthread_mutex_unlock(&r->lock);

	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(v[i]->desc, v[i]->file, ud);
		plugin_release(v[i]);
	}
	free(v);
	return rc;
}

int
plugin_errors(plugin_registry *r, plugin_error_cb cb, void *ud)
{
	pthread_mutex_lock(&r->lock);
	size_t n = 0;
	char **v = xmalloc((2 * r->nerrs + 1) * sizeof v[0]);
	for (size_t i = 0; i < r->nerrs; i++) {
		if (r->errs[i].refused)
			continue;
		v[2 * n] = xstrdup(r->errs[i].file);
		v[2 * n + 1] = xstrdup(r->errs[i].msg);
		n++;
	}
	pthread_mutex_unlock(&r->lock);

	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = cb(v[2 * i], v[2 * i + 1], ud);
		free(v[2 * i]);
		free(v[2 * i + 1]);
	}
	free(v);
	return rc;
}

int
plugin_check_file(const char *path, char **name, char **version, char **err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/kiln-check-XXXXXX",
	                      tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		int e = errno;
		err_set(err, -e, "cannot create %s: %s", dir, strerror(e));
		free(dir);
		return -e;
	}
	void *h;
	const struct kiln_plugin *d;
	struct file_id id;
	int rc = plugin_open_file(path, dir, &h, &d, &id, err);
	rmdir(dir);
	free(dir);
	if (rc < 0)
		return rc;
	if (name != NULL)
		*name = xstrdup(d->name);
	if (version != NULL)
		*version = xstrdup(d->version);
	dlclose(h);
	return 0;
}

/* ------------------------------------------------------------ parameters */

json_t *
plugin_params_decl_json(const struct kiln_plugin *desc)
{
	json_t *a = json_array();
	for (const struct kiln_param *p = desc->params;
	     p != NULL && p->name != NULL; p++)
		json_array_append_new(a, json_pack("{s:s,s:s?,s:b,s:s?,s:s*}",
			"name", p->name, "type", p->type,
			"required", p->default_value == NULL,
			"default", p->default_value, "help", p->help));
	return a;
}

/* S as a finite number, the whole string ("3", "1e-4"): forms send
 * numbers as text, and the host's param_double() reads them so. */
static bool
plugin_number_text(const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
		return false;
	*out = d;
	return true;
}

/* V as a number, as param_double() and param_int() would read it. */
static bool
plugin_number_value(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	return json_is_string(v) &&
	       plugin_number_text(json_string_value(v), out);
}

/* The spellings of a boolean the bundled plugins accept. */
static bool
plugin_bool_value(const json_t *v)
{
	static const char *const words[] = {
		"true", "false", "1", "0", "yes", "no",
	};
	if (json_is_boolean(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) == 0 || json_integer_value(v) == 1;
	for (size_t i = 0; json_is_string(v) && i < sizeof words / sizeof *words; i++)
		if (strcmp(json_string_value(v), words[i]) == 0)
			return true;
	return false;
}

/* Whether V is a value of TYPE.  A type this kiln does not know (a newer
 * plugin's) accepts anything: the plugin still checks what it reads. */
static bool
plugin_type_ok(const char *type, const json_t *v)
{
	double d;
	if (type == NULL || strcmp(type, "json") == 0)
		return true;
	if (strcmp(type, "string") == 0)    /* param() formats scalars */
		return json_is_string(v) || json_is_number(v) ||
		       json_is_boolean(v);
	if (strcmp(type, "number") == 0)
		return plugin_number_value(v, &d);
	if (strcmp(type, "int") == 0)
		return plugin_number_value(v, &d) && d == floor(d) &&
		       d >= -9.2e18 && d <= 9.2e18;
	if (strcmp(type, "bool") == 0)
		return plugin_bool_value(v);
	return true;
}

int
plugin_params_check(const json_t *decl, const json_t *params, char **err)
{
	if (params != NULL && !json_is_object(params))
		return err_set(err, -EINVAL, "parameters must be a JSON object");
	if (decl != NULL && !json_is_array(decl))
		return err_set(err, -EINVAL, "parameter declarations must be a "
		              "JSON array");
	for (size_t i = 0; i < json_array_size(decl); i++) {
		const json_t *p = json_array_get(decl, i);
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *type = json_string_value(json_object_get(p, "type"));
		if (name == NULL)
			continue;
		const json_t *v = params ? json_object_get(params, name) : NULL;
		/* null is no value (param() returns NULL for it), and so is
		 * "" where a string is not wanted (param_int() reads its
		 * default then). */
		if (json_is_null(v) || (json_is_string(v) &&
		    *json_string_value(v) == '\0' && type != NULL &&
		    strcmp(type, "string") != 0 && strcmp(type, "json") != 0))
			v = NULL;
		if (v == NULL) {
			if (json_is_true(json_object_get(p, "required")))
				return err_set(err, -EINVAL, "parameter '%s' is "
				              "required%s%s%s", name, type ? " (" : "",
				              type ? type : "", type ? ")" : "");
			continue;
		}
		if (!plugin_type_ok(type, v)) {
			char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			int rc = err_set(err, -EINVAL, "parameter '%s' must be %s %s, "
			                "not %.64s%s", name,
			                strcmp(type, "int") == 0 ? "an" : "a", type,
			                text ? text : "?",
			                text && strlen(text) > 64 ? "..." : "");
			free(text);
			return rc;
		}
	}
	return 0;
}
