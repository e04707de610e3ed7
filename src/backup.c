/* SPDX-License-Identifier: MIT */
/*
 * backup.c - the master's store and artifacts as a tar file, and back
 * (see backup.h).  The tar is plain ustar (sizes past 8 GiB in GNU's
 * base-256), so `tar tf` lists it and `tar xf` unpacks it by hand; we
 * write only regular files and read back only what we write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "backup.h"
#include "err.h"
#include "fs.h"
#include "log.h"
#include "store.h"
#include "xalloc.h"

#define TAR_BLOCK 512
#define BACKUP_DB "kiln.db"
#define BACKUP_ART "artifacts/"

/* ============================================================= tar out */

static void
tar_octal(unsigned char *dst, size_t n, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%0*llo", (int)n - 1, v);
	memcpy(dst, buf, n - 1);
}

static int
tar_header(FILE *f, const char *name, unsigned long long size, char **err)
{
	unsigned char h[TAR_BLOCK] = { 0 };
	unsigned sum = 0;

	if (strlen(name) >= 100)
		return err_set(err, -ENAMETOOLONG, "tar: name too long: %s", name);
	memcpy(h, name, strlen(name));
	tar_octal(h + 100, 8, 0600);
	tar_octal(h + 108, 8, 0);
	tar_octal(h + 116, 8, 0);
	if (size < 077777777777ULL) {
		tar_octal(h + 124, 12, size);
	} else {
		h[124] = 0x80;  /* GNU base-256 */
		for (int i = 11; i > 0; i--, size >>= 8)
			h[124 + i] = (unsigned char)(size & 0xff);
	}
	tar_octal(h + 136, 12, (unsigned long long)time(NULL));
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	tar_octal(h + 148, 7, sum);
	h[154] = '\0';
	if (fwrite(h, TAR_BLOCK, 1, f) != 1)
		return err_set(err, -errno, "tar: write: %s", strerror(errno));
	return 0;
}

/* Append entry NAME with the SIZE bytes of FD. */
static int
tar_add(FILE *f, const char *name, int fd, unsigned long long size, char **err)
{
	static const char zero[TAR_BLOCK];
	char buf[1 << 16];
	int rc = tar_header(f, name, size, err);

	for (unsigned long long left = size; rc == 0 && left > 0; ) {
		ssize_t n = read(fd, buf, left < sizeof buf ? left : sizeof buf);
		if (n <= 0)
			return err_set(err, n < 0 ? -errno : -EIO, "%s: %s", name,
			              n < 0 ? strerror(errno) : "shorter than it was");
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
			return err_set(err, -errno, "tar: write: %s", strerror(errno));
		left -= (unsigned long long)n;
	}
	size_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
	if (rc == 0 && pad > 0 && fwrite(zero, 1, pad, f) != pad)
		return err_set(err, -errno, "tar: write: %s", strerror(errno));
	return rc;
}

/* Append the file PATH as NAME; -ENOENT if it is gone. */
static int
tar_add_file(FILE *f, const char *name, const char *path, long long *bytes,
             char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;

	if (fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	int rc = fstat(fd, &sb) != 0 ?
	         err_set(err, -errno, "%s: %s", path, strerror(errno)) :
	         tar_add(f, name, fd, (unsigned long long)sb.st_size, err);
	close(fd);
	if (rc == 0)
		*bytes += (long long)sb.st_size;
	return rc;
}

/* ============================================================== backup */

struct backup_out {
	FILE *f;
	const char *data_dir;
	struct backup_stats *st;
};

static int
backup_artifact(const char *sha, void *ud, char **err)
{
	struct backup_out *b = ud;
	char *path = xasprintf("%s/artifacts/%.2s/%s", b->data_dir, sha, sha);
	char *name = xasprintf(BACKUP_ART "%.2s/%s", sha, sha);
	int rc = tar_add_file(b->f, name, path, &b->st->artifact_bytes, err);

	if (rc == -ENOENT) {
		/* Deleted since the snapshot (retention): nothing refers to
		 * it any more. */
		log_warn("%s", *err);
		free(*err);
		*err = NULL;
		b->st->missing++;
		rc = 0;
	} else if (rc == 0) {
		b->st->artifacts++;
	}
	free(name);
	free(path);
	return rc;
}

/* Close F, made durable; 0 or negative with *err. */
static int
backup_close(FILE *f, const char *path, char **err)
{
	int rc = fflush(f) != 0 || fsync(fileno(f)) != 0 ? -errno : 0;

	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc == 0 ? 0 : err_set(err, rc, "%s: %s", path, strerror(-rc));
}

int
backup_create(const struct kiln_config *c, const char *file,
              struct backup_stats *st, char **err)
{
	char *db = xasprintf("%s/" BACKUP_DB, c->master.data_dir);
	char *tmp = xasprintf("%s.XXXXXX", file), *snap = xasprintf("%s.db-XXXXXX", file);
	int tfd = -1, sfd = -1, rc;
	FILE *f = NULL;

	memset(st, 0, sizeof *st);
	if (access(db, F_OK) != 0) {
		rc = err_set(err, -ENOENT, "no store at %s", db);
		goto out;
	}
	if ((tfd = mkstemp(tmp)) < 0 || (sfd = mkstemp(snap)) < 0) {
		rc = err_set(err, -errno, "cannot create a file beside %s: %s", file,
		            strerror(errno));
		goto out;
	}
	if ((f = fdopen(tfd, "w")) == NULL) {
		rc = err_set(err, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	tfd = -1;
	struct backup_out b = { .f = f, .data_dir = c->master.data_dir, .st = st };
	if ((rc = store_backup_file(db, snap, err)) != 0 ||
	    (rc = tar_add_file(f, BACKUP_DB, snap, &st->db_bytes, err)) != 0 ||
	    (rc = store_file_artifacts(snap, backup_artifact, &b, err)) != 0)
		goto out;
	static const char end[2 * TAR_BLOCK];
	if (fwrite(end, sizeof end, 1, f) != 1) {
		rc = err_set(err, -errno, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = backup_close(f, tmp, err);
	f = NULL;
	if (rc == 0 && rename(tmp, file) != 0)
		rc = err_set(err, -errno, "cannot rename %s to %s: %s", tmp, file,
		            strerror(errno));
out:
	if (f != NULL)
		fclose(f);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0) {
		close(sfd);
		unlink(snap);
	}
	if (rc != 0)
		unlink(tmp);
	free(snap);
	free(tmp);
	free(db);
	return rc;
}

/* ============================================================= restore */

/* Read one header: *END at the closing zero block; else NAME and SIZE. */
static int
tar_next(FILE *f, char name[101], unsigned long long *size, int *end,
         char **err)
{
	unsigned char h[TAR_BLOCK];
	unsigned sum = 0, want;

	*end = 0;
	if (fread(h, TAR_BLOCK, 1, f) != 1)
		return err_set(err, -EBADMSG, "truncated (no end of archive)");
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	if (sum == 8 * ' ') {
		*end = 1;
		return 0;
	}
	char ck[9] = { 0 };
	memcpy(ck, h + 148, 8);
	if (sscanf(ck, "%o", &want) != 1 || want != sum)
		return err_set(err, -EBADMSG, "bad header checksum");
	if (h[156] != '0' && h[156] != '\0')
		return err_set(err, -EBADMSG, "entry of type '%c' (kiln writes "
		              "regular files only)", h[156]);
	memcpy(name, h, 100);
	name[100] = '\0';
	*size = 0;
	if (h[124] & 0x80) {
		for (int i = 1; i < 12; i++)
			*size = (*size << 8) | h[124 + i];
	} else {
		char sz[13] = { 0 };
		memcpy(sz, h + 124, 12);
		if (sscanf(sz, "%llo", size) != 1)
			return err_set(err, -EBADMSG, "%s: bad size", name);
	}
	return 0;
}

/* Where an entry's bytes go: a file descriptor or an artifact writer. */
struct sink {
	int fd;
	artifact_writer *aw;
};

/* Copy SIZE bytes of F (and the padding after) into K. */
static int
tar_copy(FILE *f, unsigned long long size, struct sink *k, const char *name,
         char **err)
{
	char buf[1 << 16];
	size_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;

	for (unsigned long long left = size; left > 0; ) {
		size_t n = fread(buf, 1, left < sizeof buf ? left : sizeof buf, f);
		if (n == 0)
			return err_set(err, -EBADMSG, "%s: truncated", name);
		int rc = k->aw != NULL ? artifact_write(k->aw, buf, n, err) :
		         write(k->fd, buf, n) == (ssize_t)n ? 0 :
		         err_set(err, -EIO, "%s: %s", name, strerror(errno));
		if (rc != 0)
			return rc;
		left -= n;
	}
	if (pad > 0 && fread(buf, 1, pad, f) != pad)
		return err_set(err, -EBADMSG, "%s: truncated", name);
	return 0;
}

/* Entry NAME of SIZE bytes: an artifact into DIR, counted in ST. */
static int
restore_artifact(FILE *f, const char *dir, const char *name,
                 unsigned long long size, struct backup_stats *st, char **err)
{
	const char *rest = name + strlen(BACKUP_ART);
	struct sink k = { .fd = -1 };

	if (strlen(rest) < 4 || rest[2] != '/' || strncmp(rest, rest + 3, 2) != 0)
		return err_set(err, -EBADMSG, "unexpected entry %s", name);
	int rc = artifact_begin(dir, rest + 3, &k.aw, err);
	if (rc == -EINVAL)
		return err_set(err, -EBADMSG, "unexpected entry %s", name);
	if (rc == 0 && (rc = tar_copy(f, size, &k, name, err)) != 0)
		artifact_abort(k.aw);
	else if (rc == 0)
		rc = artifact_commit(k.aw, err);
	if (rc == 0) {
		st->artifacts++;
		st->artifact_bytes += (long long)size;
	}
	return rc;
}

/* Put the store copied to TMP in place of DATA_DIR/kiln.db; the one
 * there before, and its WAL, become kiln.db.replaced. */
static int
restore_swap(const char *data_dir, const char *tmp, char **err)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	int rc = 0;

	for (size_t i = 0; i < 3 && rc == 0; i++) {
		char *from = xasprintf("%s/" BACKUP_DB "%s", data_dir, ext[i]);
		char *to = xasprintf("%s/" BACKUP_DB ".replaced%s", data_dir, ext[i]);
		if (rename(from, to) != 0 && errno != ENOENT)
			rc = err_set(err, -errno, "cannot move %s aside: %s", from,
			            strerror(errno));
		else if (i == 0 && access(to, F_OK) == 0)
			log_info("the store there before is now %s", to);
		free(to);
		free(from);
	}
	char *db = xasprintf("%s/" BACKUP_DB, data_dir);
	if (rc == 0 && rename(tmp, db) != 0)
		rc = err_set(err, -errno, "cannot rename %s: %s", tmp, strerror(errno));
	free(db);
	return rc;
}

/* Read every entry of F into DATA_DIR: the store into TMP (open as
 * *TFD), the artifacts into place. */
static int
restore_entries(FILE *f, const char *data_dir, int tfd,
                struct backup_stats *st, char **err)
{
	char *adir = xasprintf("%s/artifacts", data_dir);
	char name[101];
	unsigned long long size;
	int end = 0, rc = 0;

	for (int first = 1; rc == 0; first = 0) {
		if ((rc = tar_next(f, name, &size, &end, err)) != 0 || end)
			break;
		if (first != (strcmp(name, BACKUP_DB) == 0)) {
			rc = err_set(err, -EBADMSG, first ? "not a kiln backup (it "
			            "does not start with " BACKUP_DB ")" :
			            "unexpected entry %s", name);
		} else if (first) {
			struct sink k = { .fd = tfd };
			rc = tar_copy(f, size, &k, name, err);
			st->db_bytes = (long long)size;
			if (rc == 0 && fsync(tfd) != 0)
				rc = err_set(err, -errno, "fsync: %s", strerror(errno));
		} else if (strncmp(name, BACKUP_ART, strlen(BACKUP_ART)) == 0) {
			rc = restore_artifact(f, adir, name, size, st, err);
		} else {
			rc = err_set(err, -EBADMSG, "unexpected entry %s", name);
		}
	}
	if (rc == 0 && st->db_bytes == 0)
		rc = err_set(err, -EBADMSG, "not a kiln backup (no store)");
	free(adir);
	return rc;
}

int
backup_restore(const struct kiln_config *c, const char *file,
               struct backup_stats *st, char **err)
{
	const char *dir = c->master.data_dir;
	char *tmp = xasprintf("%s/" BACKUP_DB ".restore", dir);
	int lock = -1, tfd = -1, rc;
	FILE *f = NULL;

	memset(st, 0, sizeof *st);
	if ((rc = backup_lock_data_dir(dir, &lock, err)) != 0)
		goto out;
	if ((f = fopen(file, "rb")) == NULL) {
		rc = err_set(err, -errno, "cannot open %s: %s", file, strerror(errno));
		goto out;
	}
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (tfd < 0) {
		rc = err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = restore_entries(f, dir, tfd, st, err);
	if (rc == -EBADMSG) {
		char *m = xasprintf("%s: %s", file, *err);
		free(*err);
		*err = m;
	}
	if (rc == 0)
		rc = restore_swap(dir, tmp, err);
out:
	if (tfd >= 0)
		close(tfd);
	if (rc != 0 && tfd >= 0)
		unlink(tmp);
	if (f != NULL)
		fclose(f);
	if (lock >= 0)
		close(lock);
	free(tmp);
	return rc;
}

int
backup_lock_data_dir(const char *data_dir, int *fd, char **err)
{
	char *path = xasprintf("%s/master.lock", data_dir);
	int rc = fs_mkdir_p(data_dir, 0700, err);

	if (rc == 0 && (rc = fs_lock(path, fd, err)) == -EBUSY) {
		free(*err);
		*err = NULL;
		rc = err_set(err, -EBUSY, "a master is running on %s (it holds "
		            "%s): stop it first", data_dir, path);
	}
	free(path);
	return rc;
}
