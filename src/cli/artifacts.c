/* SPDX-License-Identifier: MIT */
/*
 * artifacts.c - getting a job's files out: `kiln artifact get` (an
 * artifact by its SHA-256, or a job's output by name) and `kiln artifact
 * list` (a job's outputs), and the helpers the result commands
 * (results.c) share: fetch a job, find one of its outputs by name, and
 * download an artifact to a file, stdout or memory.  Every download is
 * streamed and hashed on the way: bytes that do not hash to the name they
 * were asked for are an error (and a file is not left behind).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "hash.h"
#include "out.h"
#include "xalloc.h"

/* What a download in memory may take: results, not datasets. */
#define CLI_ARTIFACT_MEM_MAX (256u << 20)

struct get_opts {
	const char *output;             /* -o FILE */
};

/* Where the pieces of a download go, hashed on the way. */
struct fetch_sink {
	FILE *f;                        /* or, when NULL, into buf */
	char *buf;
	size_t len, cap;
	hash_stream *hash;
};

static int
cli_fetch_take(void *ud, const void *data, size_t len)
{
	struct fetch_sink *s = ud;

	hash_stream_add(s->hash, data, len);
	if (s->f != NULL)
		return fwrite(data, 1, len, s->f) == len ? 0 : -EIO;
	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->buf = xrealloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return 0;
}

/*
 * Download artifact SHA to F, or when F is NULL into *BUF (malloc()ed,
 * NUL-terminated, *LEN bytes; the caller frees it).  0, or
 * CLI_EXIT_FAIL after printing why: the master refused, the transfer
 * broke, or what arrived does not hash to SHA.
 */
int
cli_artifact_fetch(struct cli *x, const char *sha, FILE *f, char **buf,
                   size_t *len)
{
	struct fetch_sink s = { .f = f, .hash = hash_stream_new() };
	char *path = xasprintf("/api/v1/artifacts/%s", sha);
	char *err = NULL, *text = NULL;
	size_t tlen = 0;
	long status = 0;
	int rc = client_get_stream(x->cl, path, 0, f != NULL ? UINT64_MAX :
	                           CLI_ARTIFACT_MEM_MAX, cli_fetch_take, &s,
	                           &status, &text, &tlen, &err);
	char *got = hash_stream_hex(s.hash);

	free(path);
	if (rc < 0) {
		fprintf(stderr, "kiln: artifact %s: %s\n", sha,
		        err != NULL ? err : strerror(-rc));
	} else if (status < 200 || status > 299) {
		json_t *j = json_loadb(text != NULL ? text : "", tlen, 0, NULL);
		cli_http_error(status, j, text);
		json_decref(j);
		rc = -1;
	} else if (f != NULL && fflush(f) != 0) {
		fprintf(stderr, "kiln: cannot write artifact %s: %s\n", sha,
		        strerror(errno));
		rc = -1;
	} else if (strcmp(got, sha) != 0) {
		fprintf(stderr, "kiln: artifact %s: what arrived has SHA-256 "
		        "%s\n", sha, got);
		rc = -1;
	}
	free(got);
	free(err);
	free(text);
	if (rc < 0) {
		free(s.buf);
		return CLI_EXIT_FAIL;
	}
	if (f == NULL) {
		*buf = s.buf != NULL ? s.buf : xstrdup("");
		*len = s.len;
	}
	return 0;
}

/* Job ID_S from the master, connected.  0 with *JOB, or an exit status
 * after printing the problem (a bad ID is a usage error). */
int
cli_job_fetch(struct cli *x, const char *id_s, json_t **job)
{
	long long id;
	int rc;

	*job = NULL;
	if ((rc = cli_int(x, "job ID", id_s, 1, INT64_MAX, &id)) != 0 ||
	    (rc = cli_connect(x, 1)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/jobs/%lld", id);
	rc = cli_call(x, "GET", path, NULL, 0, job);
	free(path);
	return rc;
}

/* Output NAME of JOB ({name, sha, size}), or NULL. */
const json_t *
cli_job_output(const json_t *job, const char *name)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(job, "outputs"), i, o)
		if (strcmp(cli_jstr(o, "name", ""), name) == 0 &&
		    hash_is_hex(cli_jstr(o, "sha", "")))
			return o;
	return NULL;
}

/* "kiln: job 4 has no output NAME; its outputs: a, b" on stderr. */
void
cli_no_output(const json_t *job, const char *name)
{
	char *names = NULL;
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(job, "outputs"), i, o)
		cli_list_add(&names, cli_jstr(o, "name", "?"));
	fprintf(stderr, "kiln: job %" PRId64 " has no output '%s'; %s%s\n",
	        cli_jint(job, "id"), name,
	        names != NULL ? "its outputs: " : "it has no outputs",
	        names != NULL ? names : "");
	free(names);
}

/* Write to PATH through PATH.part, renamed into place only once the
 * bytes are verified. */
static int
cli_fetch_to_file(struct cli *x, const char *sha, const char *path)
{
	char *part = xasprintf("%s.part", path);
	FILE *f = fopen(part, "wb");
	int rc;

	if (f == NULL) {
		fprintf(stderr, "kiln: cannot create %s: %s\n", part,
		        strerror(errno));
		free(part);
		return CLI_EXIT_FAIL;
	}
	rc = cli_artifact_fetch(x, sha, f, NULL, NULL);
	if (fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "kiln: cannot write %s: %s\n", part,
		        strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	if (rc == 0 && rename(part, path) != 0) {
		fprintf(stderr, "kiln: cannot rename %s to %s: %s\n", part,
		        path, strerror(errno));
		rc = CLI_EXIT_FAIL;
	}
	if (rc != 0)
		unlink(part);
	free(part);
	return rc;
}

static int
cli_artifact_get(struct cli *x, void *opts)
{
	struct get_opts *o = opts;
	json_t *job = NULL;
	const char *sha = x->pos[0];
	int rc;

	if (x->npos == 1 && !hash_is_hex(sha))
		return cli_usage_error(x, "'%s' is not an artifact's SHA-256 "
		                       "(64 lowercase hex digits); for a job's "
		                       "output give JOB NAME", sha);
	if (x->npos == 2) {
		if ((rc = cli_job_fetch(x, x->pos[0], &job)) != 0)
			return rc;
		const json_t *out = cli_job_output(job, x->pos[1]);
		if (out == NULL) {
			cli_no_output(job, x->pos[1]);
			json_decref(job);
			return CLI_EXIT_FAIL;
		}
		sha = cli_jstr(out, "sha", "");
	} else if ((rc = cli_connect(x, 1)) != 0) {
		return rc;
	}
	if (o->output != NULL && strcmp(o->output, "-") != 0)
		rc = cli_fetch_to_file(x, sha, o->output);
	else
		rc = cli_artifact_fetch(x, sha, stdout, NULL, NULL);
	json_decref(job);
	return rc;
}

/* The outputs of JOB as a table: name, size in bytes, SHA-256. */
void
cli_outputs_print(const json_t *job, const char *indent)
{
	struct cli_table t = { .ncol = 3 };
	json_t *o;
	size_t i;

	cli_table_row(&t, "NAME", "SIZE", "SHA256");
	json_array_foreach(json_object_get(job, "outputs"), i, o) {
		char size[24];
		snprintf(size, sizeof size, "%" PRId64, cli_jint(o, "size"));
		cli_table_row(&t, cli_jstr(o, "name", "-"), size,
		              cli_jstr(o, "sha", "-"));
	}
	if (t.nrows == 1)
		printf("%sno outputs\n", indent);
	else
		cli_table_print(&t, indent);
	cli_table_free(&t);
}

static int
cli_artifact_list(struct cli *x, void *opts)
{
	json_t *job;
	int rc = cli_job_fetch(x, x->pos[0], &job);

	(void)opts;
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(json_object_get(job, "outputs") != NULL ?
		               json_object_get(job, "outputs") : json_null());
	else
		cli_outputs_print(job, "");
	json_decref(job);
	return CLI_EXIT_OK;
}

/* ============================================================ commands */

static const struct cli_opt get_options[] = {
	{ "output", 'o', CLI_STRING, offsetof(struct get_opts, output), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_group cli_group_artifact = {
	"artifact", "Download the files jobs wrote (their outputs).\n"
};

const struct cli_cmd cli_cmd_artifact_get = {
	.name = "artifact get", .args = "(SHA | JOB NAME)",
	.usage = "artifact get (SHA | JOB NAME) [-o FILE]",
	.summary = "download an artifact, or a job's output by name",
	.help =
	"Download the artifact whose SHA-256 is SHA, or output NAME of job\n"
	"JOB (e.g. 'kiln artifact get 42 leaderboard.csv'), to stdout or\n"
	"FILE, checking that what arrived has the SHA-256 it should.  A NAME\n"
	"the job does not have is an error that lists the names it has.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE      write to FILE (through FILE.part, renamed\n"
	"                         into place once the bytes are verified)\n",
	.exit_status =
	" 0  the bytes were written and verified\n"
	" 1  the master refused or could not be reached, the job has no\n"
	"    such output, or the bytes did not match their SHA-256\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = get_options, .opts_size = sizeof(struct get_opts),
	.min_args = 1, .max_args = 2,
	.exec = cli_artifact_get,
};

const struct cli_cmd cli_cmd_artifact_list = {
	.name = "artifact list", .args = "JOB",
	.summary = "list a job's outputs",
	.help =
	"List the outputs of job JOB: name, size in bytes and SHA-256 (as\n"
	"'kiln job JOB --outputs').\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_artifact_list,
};
