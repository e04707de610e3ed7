/* SPDX-License-Identifier: MIT */
/*
 * fs.c - file-system helpers (see fs.h).  The configuration's
 * secret, the store's database and the plugin cache each need their
 * directories made; one mkdir -p serves them all, each with its own mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
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
			int rc = seterr(err, -e, "cannot create directory %s: %s",
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
		return seterr(err, -ENOTDIR, "%s is not a directory", path);
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
