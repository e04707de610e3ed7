/* SPDX-License-Identifier: MIT */
/*
 * fs.c - file-system helpers (see fs.h).  The configuration's
 * secret, the store's database and the plugin cache each need their
 * directories made; one mkdir -p serves them all, each with its own mode.
 * Certificates and keys are read whole and replaced atomically; what an
 * older version left readable is tightened (fs_tighten).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fs.h"
#include "log.h"
#include "xalloc.h"

int
fs_mkdir_p(const char *path, mode_t mode, char **err)
{
	char *p = xstrdup(path);

	/* Each prefix ending before a '/' (and the whole path) in turn;
	 * a leading '/' is the root, which exists. */
	for (char *s = p + (p[0] != '\0'); ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (p[0] != '\0' && mkdir(p, mode) < 0 && errno != EEXIST) {
			int e = errno;
			int rc = err_set(err, -e, "cannot create directory %s: %s",
			                p, strerror(e));
			free(p);
			return rc;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	/* EEXIST also covers a file where a directory should be. */
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(err, -ENOTDIR, "%s is not a directory", path);
	return 0;
}

int
fs_mkdir_parents(const char *path, mode_t mode, char **err)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash == path)
		return 0;
	char *dir = xstrndup(path, (size_t)(slash - path));
	int rc = fs_mkdir_p(dir, mode, err);
	free(dir);
	return rc;
}

int
fs_tighten(const char *path, mode_t mode, char **err)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, -errno, "cannot stat %s: %s", path,
		              strerror(errno));
	}
	mode_t was = st.st_mode & 07777, want = was & (mode | ~(mode_t)0777);
	if (was == want)
		return 0;
	if (chmod(path, want) < 0)
		return err_set(err, -errno, "%s is mode %04o, looser than %04o, "
		              "and chmod failed: %s", path, (unsigned)was,
		              (unsigned)mode, strerror(errno));
	log_info("chmod %04o %s (was %04o: open to group or others)",
	         (unsigned)want, path, (unsigned)was);
	return 1;
}

int
fs_read_file(const char *path, size_t max, char **data, size_t *len,
             char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path,
		              strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, -EINVAL, "%s is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(err, -EFBIG, "%s is larger than %zu bytes", path,
		              max);
	}
	char *buf = xmalloc(max + 1);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return err_set(err, -e, "cannot read %s: %s", path,
			              strerror(e));
		}
		if (r == 0 || (n += (size_t)r) > max)
			break;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return err_set(err, -EFBIG, "%s is larger than %zu bytes", path,
		              max);
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int
fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
              char **err)
{
	char *tmp = xasprintf("%s.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	int e = 0;

	if (fd < 0) {
		e = errno;
		free(tmp);
		return err_set(err, -e, "cannot create a file beside %s: %s",
		              path, strerror(e));
	}
	const char *p = data;
	size_t left = len;
	while (left > 0 && e == 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno != EINTR)
			e = errno;
		else if (w > 0) {
			p += w;
			left -= (size_t)w;
		}
	}
	if (e == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		e = errno;
	if (close(fd) < 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = errno;
	if (e != 0) {
		unlink(tmp);
		free(tmp);
		return err_set(err, -e, "cannot write %s: %s", path,
		              strerror(e));
	}
	free(tmp);
	/* The rename is durable once the directory is. */
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		int dfd = open(slash == dir ? "/" : dir, O_RDONLY | O_DIRECTORY |
		               O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	free(dir);
	return 0;
}

int
fs_lock(const char *path, int *fd, char **err)
{
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int e = errno;
	close(*fd);
	*fd = -1;
	if (e == EWOULDBLOCK)
		return err_set(err, -EBUSY, "%s is locked by another process", path);
	return err_set(err, -e, "cannot lock %s: %s", path, strerror(e));
}
