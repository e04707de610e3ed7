/* SPDX-License-Identifier: MIT */
/*
 * dataroot-test.c - unit tests of the read roots (src/dataroot.c): what a
 * task may open by path, and what it may never open, on real files,
 * symlinks, a FIFO and /dev/zero; the roots cluster.yaml gives a worker;
 * and host->open_data(), their face in the plugin ABI (src/task.c).
 */
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dataroot.h"
#include "task.h"

static char dir[256];           /* per test: root/, outside/ */
static char root[300];
static char outside[300];

static void
setup(void)
{
	tu_tmpdir(dir, sizeof dir, "dataroot");
	snprintf(root, sizeof root, "%s/root", dir);
	snprintf(outside, sizeof outside, "%s/outside", dir);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
}

static void
teardown(void)
{
	tu_rmtree(dir);
}

/* DIR/NAME holding TEXT; its path in a static slot. */
static const char *
put(const char *in, const char *name, const char *text)
{
	static char path[600];
	snprintf(path, sizeof path, "%s/%s", in, name);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* dataroot_open(D, PATH): the fd, or the error (and *err kept for the
 * caller to look at, freed at the next call). */
static char *last_err;

static int
try_open(const dataroot *d, const char *path, uint64_t *size)
{
	free(last_err);
	last_err = NULL;
	return dataroot_open(d, path, 0, size, &last_err);
}

/* PATH opens through D and reads back as TEXT. */
static void
opens_as(const dataroot *d, const char *path, const char *text)
{
	uint64_t size = 99;
	int fd = try_open(d, path, &size);
	ck_assert_msg(fd >= 0, "%s: %s", path, last_err ? last_err : "?");
	ck_assert_uint_eq(size, strlen(text));
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	ck_assert_int_eq(n, (ssize_t)strlen(text));
	buf[n] = '\0';
	ck_assert_str_eq(buf, text);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
}

/* PATH is refused through D with RC, the message holding WORDS. */
static void
refused(const dataroot *d, const char *path, int rc, const char *words)
{
	int fd = try_open(d, path, NULL);
	if (fd >= 0)
		close(fd);
	ck_assert_msg(fd == rc, "%s: expected %d, got %d (%s)", path, rc, fd,
	              last_err ? last_err : "no message");
	ck_assert_ptr_nonnull(last_err);
	ck_assert_msg(strstr(last_err, words) != NULL, "'%s' lacks '%s'",
	              last_err, words);
}

static dataroot *
new_roots(void)
{
	dataroot *d = dataroot_new("w1");
	dataroot_add(d, root, "data.read_roots");
	return d;
}

/* ------------------------------------------------------------ paths */

START_TEST(inside_a_root_opens)
{
	dataroot *d = new_roots();
	char p[700];
	opens_as(d, put(root, "a.csv", "x,y\n1,2\n"), "x,y\n1,2\n");
	ck_assert_int_eq(mkdir(strcat(strcpy(p, root), "/sub"), 0700), 0);
	opens_as(d, put(p, "b.csv", "b\n"), "b\n");
	/* "..", "." and doubled slashes that stay inside are fine. */
	snprintf(p, sizeof p, "%s/sub/..//./a.csv", root);
	opens_as(d, p, "x,y\n1,2\n");
	/* Relative to the working directory. */
	ck_assert_int_eq(chdir(dir), 0);
	opens_as(d, "root/sub/b.csv", "b\n");
	/* An empty file. */
	opens_as(d, put(root, "empty", ""), "");
	dataroot_free(d);
}
END_TEST

START_TEST(dotdot_escape_is_refused)
{
	dataroot *d = new_roots();
	put(outside, "secret.txt", "no");
	char p[700];
	snprintf(p, sizeof p, "%s/../outside/secret.txt", root);
	refused(d, p, -EPERM, "outside the read roots of worker w1");
	ck_assert_ptr_nonnull(strstr(last_err, "data.read_roots"));
	ck_assert_ptr_nonnull(strstr(last_err, root));   /* the roots named */
	refused(d, "/etc/passwd", -EPERM, "read_roots");
	/* A root's name as a prefix is not the root. */
	char sib[700];
	snprintf(sib, sizeof sib, "%s2", root);
	ck_assert_int_eq(mkdir(sib, 0700), 0);
	refused(d, put(sib, "x", "x"), -EPERM, "outside");
	/* A file that does not exist: outside, refused as such (a task cannot
	 * probe what exists out there); inside, the file system's answer. */
	snprintf(p, sizeof p, "%s/nothing/here", outside);
	refused(d, p, -EPERM, "outside the read roots");
	snprintf(p, sizeof p, "%s/../outside/nothing", root);
	refused(d, p, -EPERM, "outside the read roots");
	snprintf(p, sizeof p, "%s/nothing", root);
	refused(d, p, -ENOENT, "No such file");
	dataroot_free(d);
}
END_TEST

START_TEST(symlink_escape_is_refused)
{
	dataroot *d = new_roots();
	char target[700], link[700];
	snprintf(target, sizeof target, "%s", put(outside, "secret.txt", "no"));
	snprintf(link, sizeof link, "%s/link.csv", root);
	ck_assert_int_eq(symlink(target, link), 0);
	refused(d, link, -EPERM, "outside the read roots");
	/* A directory symlink out of the root. */
	snprintf(link, sizeof link, "%s/out", root);
	ck_assert_int_eq(symlink(outside, link), 0);
	snprintf(link, sizeof link, "%s/out/secret.txt", root);
	refused(d, link, -EPERM, "outside the read roots");
	/* A symlink that stays inside is followed. */
	snprintf(target, sizeof target, "%s", put(root, "real.csv", "r\n"));
	snprintf(link, sizeof link, "%s/current.csv", root);
	ck_assert_int_eq(symlink("real.csv", link), 0);
	opens_as(d, link, "r\n");
	/* A root that is itself a symlink is resolved. */
	char alias[700];
	snprintf(alias, sizeof alias, "%s/alias", dir);
	ck_assert_int_eq(symlink(root, alias), 0);
	dataroot *d2 = dataroot_new("w2");
	dataroot_add(d2, alias, "workers[w2].read_roots");
	opens_as(d2, target, "r\n");
	dataroot_free(d2);
	dataroot_free(d);
}
END_TEST

START_TEST(fifo_and_devices_are_refused)
{
	dataroot *d = new_roots();
	char p[700];
	snprintf(p, sizeof p, "%s/pipe", root);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	/* Refused before it is opened: an open would block (no writer). */
	refused(d, p, -EINVAL, "a FIFO, not a regular file");
	refused(d, root, -EINVAL, "a directory");
	/* /dev/zero: outside the roots, and not a file even inside one. */
	refused(d, "/dev/zero", -EPERM, "outside the read roots");
	dataroot_add(d, "/dev", "data.read_roots");
	refused(d, "/dev/zero", -EINVAL, "a character device");
	dataroot_free(d);
}
END_TEST

START_TEST(denied_even_inside_a_root)
{
	dataroot *d = new_roots();
	char secret[700], p[700];
	snprintf(secret, sizeof secret, "%s", put(root, "the.secret", "s3cr3t"));
	dataroot_deny(d, secret, "the cluster secret (master.auth.secret_file)");
	refused(d, secret, -EPERM, "the cluster secret (master.auth.secret_file)"
	        " is never readable");
	/* Through a symlink, and through a hard link under another name. */
	snprintf(p, sizeof p, "%s/innocent", root);
	ck_assert_int_eq(symlink(secret, p), 0);
	refused(d, p, -EPERM, "never readable");
	snprintf(p, sizeof p, "%s/innocent2.csv", root);
	ck_assert_int_eq(link(secret, p), 0);
	refused(d, p, -EPERM, "a link to the cluster secret");
	/* A denied directory and everything below it. */
	snprintf(p, sizeof p, "%s/w1", root);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	put(p, "mine.csv", "m\n");
	snprintf(p, sizeof p, "%s/w1/cache", root);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	dataroot_deny(d, p, "worker w1's cache directory");
	refused(d, put(p, "abc", "input of another job"), -EPERM,
	        "worker w1's cache directory");
	refused(d, p, -EPERM, "cache");
	snprintf(p, sizeof p, "%s/w1/mine.csv", root);
	opens_as(d, p, "m\n");
	/* Denied by name wherever they are; even when missing. */
	refused(d, put(root, "kiln.db", "SQLite"), -EPERM, "kiln.db");
	refused(d, put(root, "kiln.db-wal", "wal"), -EPERM, "kiln.db");
	refused(d, put(root, "cluster.secret", "x"), -EPERM, "cluster secret");
	snprintf(p, sizeof p, "%s/gone/kiln.db", root);
	refused(d, p, -EPERM, "kiln.db");
	dataroot_free(d);
}
END_TEST

START_TEST(size_is_capped)
{
	dataroot *d = new_roots();
	dataroot_set_max(d, 10, "workers[w1].max_file_size");
	opens_as(d, put(root, "ten", "0123456789"), "0123456789");
	refused(d, put(root, "eleven", "0123456789a"), -EFBIG,
	        "11 bytes, more than the 10 a task may read "
	        "(workers[w1].max_file_size)");
	dataroot_free(d);
	/* The default is 16 GiB: a sparse file of 16 GiB + 1 is refused. */
	d = new_roots();
	const char *p = put(root, "huge", "");
	ck_assert_int_eq(truncate(p, ((off_t)16 << 30) + 1), 0);
	refused(d, p, -EFBIG, "(data.max_file_size)");
	dataroot_free(d);
}
END_TEST

START_TEST(bad_calls)
{
	dataroot *d = new_roots();
	const char *p = put(root, "a", "a");
	char *err = NULL;
	ck_assert_int_eq(dataroot_open(d, p, 1, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "flags"));
	free(err);
	err = NULL;
	ck_assert_int_eq(dataroot_open(d, "", 0, NULL, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(dataroot_open(NULL, p, 0, NULL, &err), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "no read roots"));
	free(err);
	/* No roots at all: everything is outside. */
	dataroot *none = dataroot_new("w9");
	refused(none, p, -EPERM, "(none)");
	dataroot_free(none);
	dataroot_free(d);
}
END_TEST

/* ------------------------------------------------------------ config */

static struct kiln_config *
load(const char *yaml, char **err)
{
	char path[600];
	snprintf(path, sizeof path, "%s/cluster.yaml", dir);
	put(dir, "cluster.yaml", yaml);
	struct kiln_config *c = NULL;
	*err = NULL;
	config_load(path, &c, err);
	return c;
}

START_TEST(roots_of_a_worker_from_cluster_yaml)
{
	char *err;
	char data[700];
	snprintf(data, sizeof data, "%s/data", dir);
	ck_assert_int_eq(mkdir(data, 0700), 0);
	struct kiln_config *c = load(
		"master:\n"
		"  data_dir: var/master\n"
		"  dags_dir: dags\n"
		"  auth: { secret_file: root/cluster.key }\n"
		"data:\n"
		"  read_roots: [root]\n"
		"  max_file_size: 1MiB\n"
		"workers:\n"
		"  - name: w1\n"
		"    read_roots: [data]\n"
		"    max_file_size: 5\n"
		"  - name: w2\n"
		"    read_roots: [.]\n", &err);
	ck_assert_msg(c != NULL, "%s", err ? err : "?");
	ck_assert_uint_eq(c->data.read_roots.n, 1);
	ck_assert_str_eq(c->data.read_roots.v[0], root);
	ck_assert_int_eq(c->data.max_file_size, 1 << 20);
	ck_assert_uint_eq(c->workers[0].read_roots.n, 1);
	ck_assert_str_eq(c->workers[0].read_roots.v[0], data);
	ck_assert_uint_eq(c->workers[1].read_roots.n, 1);
	ck_assert_str_eq(c->workers[1].read_roots.v[0], dir);
	ck_assert_int_eq(c->workers[1].max_file_size, 0);

	dataroot *w1 = dataroot_for_worker(c, &c->workers[0]);
	dataroot *w2 = dataroot_for_worker(c, &c->workers[1]);
	opens_as(w1, put(data, "d.csv", "d\n"), "d\n");
	/* The cluster secret, the configuration, the master's files and the
	 * workers' own directories are never readable, even under a root. */
	put(root, "cluster.key", "s3cr3t");
	char p[700];
	snprintf(p, sizeof p, "%s/cluster.key", root);
	refused(w1, p, -EPERM, "master.auth.secret_file");
	snprintf(p, sizeof p, "%s/cluster.yaml", dir);
	refused(w2, p, -EPERM, "cluster configuration");
	snprintf(p, sizeof p, "%s/var", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/var/master", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	refused(w2, put(p, "artifact", "a"), -EPERM, "the master's data_dir");
	snprintf(p, sizeof p, "%s/var/w2", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	opens_as(w2, put(p, "own.csv", "o\n"), "o\n");  /* its data_dir */
	snprintf(p, sizeof p, "%s/var/w2/scratch", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	refused(w1, put(p, "t", "t"), -EPERM, "worker w2's scratch");
	refused(w2, put(p, "t", "t"), -EPERM, "worker w2's scratch");
	/* w1's own cap; w2 the cluster's. */
	refused(w1, put(root, "six", "123456"), -EFBIG,
	        "(workers[w1].max_file_size)");
	opens_as(w2, put(root, "six", "123456"), "123456");
	/* w2's own root is not w1's. */
	refused(w1, put(dir, "other.csv", "x\n"), -EPERM, "outside");
	opens_as(w2, put(dir, "other.csv", "x\n"), "x\n");
	char *desc = dataroot_describe(w2);
	ck_assert_ptr_nonnull(strstr(desc, "(master.dags_dir, missing)"));
	ck_assert_ptr_nonnull(strstr(desc, "(the worker's data_dir)"));
	free(desc);
	dataroot_free(w1);
	dataroot_free(w2);
	config_free(c);
}
END_TEST

START_TEST(bad_roots_in_cluster_yaml)
{
	char *err;
	struct kiln_config *c = load("master: {}\ndata:\n  read_roots: /srv\n",
	                             &err);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "cluster.yaml:3:15: 'read_roots' must be a "
	              "list") != NULL, "%s", err);
	free(err);
	c = load("master: {}\ndata:\n  max_file_size: lots\n", &err);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "cluster.yaml:3:18:") != NULL, "%s", err);
	free(err);
	c = load("master: {}\ndata:\n  roots: []\n", &err);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "roots") != NULL, "%s", err);
	free(err);
	/* Defaults: no roots of its own, 16 GiB. */
	c = load("master: {}\nworkers: [{name: w1}]\n", &err);
	ck_assert_msg(c != NULL, "%s", err ? err : "?");
	ck_assert_uint_eq(c->data.read_roots.n, 0);
	ck_assert_int_eq(c->data.max_file_size, (int64_t)16 << 30);
	config_free(c);
}
END_TEST

/* ------------------------------------------------------------ ABI */

START_TEST(open_data_through_the_host_table)
{
	const struct kiln_host *h = task_host();
	ck_assert(KILN_HOST_HAS(h, open_data));
	dataroot *d = new_roots();
	char scratch[700];
	snprintf(scratch, sizeof scratch, "%s/scratch", dir);
	kiln_task *t = task_new(1, 1, NULL, scratch, 0, NULL);
	const char *p = put(root, "a.csv", "abc");
	/* No roots given: nothing opens. */
	ck_assert_int_eq(h->open_data(t, p, 0, NULL), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(task_error(t), "no read roots"));
	task_set_dataroot(t, d);
	uint64_t size = 0;
	int fd = h->open_data(t, p, 0, &size);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(size, 3);
	close(fd);
	/* A refusal is bad input (not retried); a missing file an I/O error
	 * (it may be there next time, or on another worker). */
	ck_assert_int_eq(h->open_data(t, "/etc/passwd", 0, NULL), KILN_EINVAL);
	ck_assert_ptr_nonnull(strstr(task_error(t), "/etc/passwd: outside "
	                             "the read roots of worker w1"));
	ck_assert_int_eq(h->open_data(t, "/dev/zero", 0, NULL), KILN_EINVAL);
	char missing[700];
	snprintf(missing, sizeof missing, "%s/missing.csv", root);
	ck_assert_int_eq(h->open_data(t, missing, 0, NULL), KILN_EIO);
	ck_assert_ptr_nonnull(strstr(task_error(t), "No such file"));
	task_free(t);
	dataroot_free(d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("dataroot");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inside_a_root_opens);
	tcase_add_test(tc, dotdot_escape_is_refused);
	tcase_add_test(tc, symlink_escape_is_refused);
	tcase_add_test(tc, fifo_and_devices_are_refused);
	tcase_add_test(tc, denied_even_inside_a_root);
	tcase_add_test(tc, size_is_capped);
	tcase_add_test(tc, bad_calls);
	tcase_add_test(tc, roots_of_a_worker_from_cluster_yaml);
	tcase_add_test(tc, bad_roots_in_cluster_yaml);
	tcase_add_test(tc, open_data_through_the_host_table);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(last_err);
	return failed != 0;
}
