/* SPDX-License-Identifier: MIT */
/*
 * conn.c - how a client command finds the master and calls it (see
 * cmd.h): its URL from --master, $KILN_MASTER or the cluster config;
 * requests signed with the cluster secret or carrying $KILN_TOKEN; the
 * master's errors printed in one form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "config.h"
#include "out.h"
#include "xalloc.h"

/* Load the cluster config once.  0, or 1 after printing why not. */
int
cli_config(struct cli *x, const char *why)
{
	char *err = NULL;

	if (x->conf != NULL)
		return 0;
	if (config_load(cli_config_path(x), &x->conf, &err) < 0) {
		const char *e = err != NULL ? err : "cannot load config";
		if (why != NULL)
			fprintf(stderr, "kiln: %s\nkiln: the cluster config is "
			        "needed for %s\n", e, why);
		else
			fprintf(stderr, "%s\n", e);
		free(err);
		x->conf = NULL;
		return 1;
	}
	return 0;
}

/*
 * What the client trusts over https: the CA bundle in $KILN_CA_FILE (say,
 * the cluster CA from `kiln cert ca`, on a machine without the secret);
 * else master.tls.ca_file; else, for the master's certificate made from
 * the cluster CA, that CA, from SECRET or, for a command that does not
 * sign, from the secret if this machine has it; else the system's store.
 */
static void
cli_trust(struct cli *x, const char *secret)
{
	const char *ca = getenv("KILN_CA_FILE");
	char *own = NULL, *err = NULL;

	if (ca != NULL && ca[0] != '\0') {
		client_set_ca(x->cl, ca, NULL);
		return;
	}
	if (x->conf == NULL)
		return;
	if (x->conf->master.tls_ca_file != NULL ||
	    x->conf->master.tls_cert_file != NULL) {
		client_set_ca(x->cl, x->conf->master.tls_ca_file, NULL);
		return;
	}
	if (secret == NULL && config_secret(x->conf, 0, &own, &err) == 0)
		secret = own;
	client_set_ca(x->cl, NULL, secret);
	xfree_secret(own);
	free(err);
}

/*
 * Find the master and make the client.  AUTH: sign requests (or send
 * $KILN_TOKEN).  0, or an exit status after printing the problem.
 */
int
cli_connect(struct cli *x, int auth)
{
	const char *env = getenv("KILN_MASTER");
	const char *token = getenv("KILN_TOKEN");
	char *secret = NULL, *err = NULL;

	if (x->master != NULL)
		x->url = xstrdup(x->master);
	else if (env != NULL && env[0] != '\0')
		x->url = xstrdup(env);
	else if (cli_config(x, "the master's address (or use --master URL "
	                    "or KILN_MASTER)") != 0)
		return CLI_EXIT_FAIL;
	else
		x->url = config_master_url(x->conf);

	if (token != NULL && token[0] == '\0')
		token = NULL;
	if (!auth) {
		token = NULL;
	} else if (token == NULL) {
		if (cli_config(x, "the cluster secret (or set KILN_TOKEN)") != 0)
			return CLI_EXIT_FAIL;
		if (config_secret(x->conf, 0, &secret, &err) < 0) {
			fprintf(stderr, "kiln: cannot read the cluster secret: "
			        "%s\n", err != NULL ? err : "unknown error");
			free(err);
			return CLI_EXIT_FAIL;
		}
	}
	int rc = client_new(x->url, "cli", secret, token, &x->cl, &err);
	if (rc == 0)
		cli_trust(x, secret);
	xfree_secret(secret);
	if (rc < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Print the master's error for an HTTP failure: "kiln: MESSAGE (HTTP N)". */
void
cli_http_error(long status, const json_t *reply, const char *text)
{
	const char *msg = cli_jstr(reply, "error", NULL);

	/* The message may quote what a request or a job said: escaped. */
	if (msg != NULL) {
		fputs("kiln: ", stderr);
		cli_write_text(stderr, msg, strlen(msg));
		fprintf(stderr, " (HTTP %ld)\n", status);
	} else if (text != NULL && text[0] != '\0' && strlen(text) < 200) {
		fputs("kiln: ", stderr);
		cli_write_text(stderr, text, strlen(text));
		fprintf(stderr, "%s(HTTP %ld)\n",
		        text[strlen(text) - 1] == '\n' ? "" : " ", status);
	} else
		fprintf(stderr, "kiln: the master answered HTTP %ld\n", status);
}

/*
 * METHOD PATH with BODY (borrowed).  0 with *reply (a JSON value) on a 2xx
 * answer; otherwise prints the problem and returns CLI_EXIT_FAIL.
 */
int
cli_call(struct cli *x, const char *method, const char *path, json_t *body,
         long timeout_ms, json_t **reply)
{
	char *err = NULL;
	long status;

	*reply = NULL;
	if (client_request(x->cl, method, path, body, timeout_ms, &status,
	                   reply, &err) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	if (status < 200 || status > 299) {
		cli_http_error(status, *reply, NULL);
		json_decref(*reply);
		*reply = NULL;
		return CLI_EXIT_FAIL;
	}
	if (*reply == NULL) {
		fprintf(stderr, "kiln: the master at %s sent a reply that is "
		        "not JSON (HTTP %ld)\n", x->url, status);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/*
 * S percent-encoded but for RFC 3986's unreserved characters, for a query
 * value or a path segment: run IDs such as "manual__2026-11-24T09:00:00
 * +00:00.123" carry '+' and ':'.  The caller frees the result.
 */
char *
cli_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *enc = xmalloc(3 * n + 1), *p = enc;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return enc;
}

/* Append "&NAME=VALUE" (percent-encoded) to the malloc()ed query *Q. */
void
cli_query_add(char **q, const char *name, const char *value)
{
	char *enc = cli_escape(value);
	char *nq = xasprintf("%s%c%s=%s", *q, strchr(*q, '?') ? '&' : '?',
	                     name, enc);
	free(enc);
	free(*q);
	*q = nq;
}

void
cli_query_page(char **q, const char *state, const struct cli_num *limit,
               const struct cli_num *before)
{
	char buf[32];
	if (state != NULL)
		cli_query_add(q, "state", state);
	if (limit->set) {
		snprintf(buf, sizeof buf, "%lld", limit->v);
		cli_query_add(q, "limit", buf);
	}
	if (before->set) {
		snprintf(buf, sizeof buf, "%lld", before->v);
		cli_query_add(q, "before", buf);
	}
}

/* "/api/v1/WHAT/ID" plus SUFFIX, with ID percent-encoded; caller frees. */
char *
cli_path(const char *what, const char *id, const char *suffix)
{
	char *enc = cli_escape(id);
	char *path = xasprintf("/api/v1/%s/%s%s", what, enc, suffix);

	free(enc);
	return path;
}

/*
 * GET PATH and copy the reply to stdout as it came (a log is text/plain).
 * Returns an exit status after printing any problem.
 */
int
cli_print_text(struct cli *x, const char *path)
{
	char *err = NULL, *text = NULL;
	size_t len;
	long status;

	if (client_request_raw(x->cl, "GET", path, NULL, 0, &status, &text,
	                       &len, &err) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	if (status < 200 || status > 299) {
		json_t *j = json_loadb(text, len, 0, NULL);
		cli_http_error(status, j, text);
		json_decref(j);
		free(text);
		return CLI_EXIT_FAIL;
	}
	cli_write_text(stdout, text, len);
	free(text);
	return CLI_EXIT_OK;
}

int
cli_get(struct cli *x, char *path, json_t **reply)
{
	*reply = NULL;
	int rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(*reply);
		json_decref(*reply);
		*reply = NULL;
	}
	return CLI_EXIT_OK;
}
