/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the commands for credentials: `kiln token create`, `list`
 * and `revoke` manage the master's API tokens; `kiln passwd` hashes a
 * password for master.auth.users in cluster.yaml, on this machine,
 * without a master.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "out.h"
#include "users.h"
#include "xalloc.h"

struct token_opts {
	const char *name, *role, *expires;
};

struct token_list_opts {
	struct cli_num limit, before;
};

/* --expires as the master takes it: a duration from 1s to
 * KILN_TOKEN_TTL_MAX_MS, or "never".  0 or a usage error. */
static int
cli_token_expires(struct cli *x, const char *s)
{
	int64_t ms;

	if (strcmp(s, "never") == 0 ||
	    (config_parse_duration_ms(s, &ms) == 0 && ms >= 1000 &&
	     ms <= KILN_TOKEN_TTL_MAX_MS))
		return 0;
	return cli_usage_error(x, "invalid --expires '%s' (expected a "
	                       "duration from 1s to %lldd like 30d or 12h, "
	                       "or never)", s,
	                       (long long)(KILN_TOKEN_TTL_MAX_MS / 86400000));
}

static int
cli_token_create(struct cli *x, void *opts)
{
	struct token_opts *o = opts;
	json_t *reply;
	char buf[32];
	int rc;

	if (o->expires != NULL && (rc = cli_token_expires(x, o->expires)) != 0)
		return rc;
	json_t *req = json_object();
	if (o->name != NULL)
		json_object_set_new(req, "name", json_string(o->name));
	if (o->role != NULL)
		json_object_set_new(req, "role", json_string(o->role));
	if (o->expires != NULL)
		json_object_set_new(req, "expires_in", json_string(o->expires));
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", "/api/v1/tokens", req, 0, &reply);
	json_decref(req);
	if (rc != 0)
		return rc;
	const char *token = cli_jstr(reply, "token", NULL);
	const char *expires = cli_jstr(reply, "expires_at", NULL);
	if (x->json) {
		cli_print_json(reply);
	} else if (token == NULL) {
		fprintf(stderr, "kiln: the master's reply has no token\n");
		rc = CLI_EXIT_FAIL;
	} else {
		/* The token alone on stdout, for $(kiln token create). */
		printf("%s\n", token);
		fprintf(stderr, "kiln: token %" PRId64 " '%s' (role %s) "
		        "created, %s%s%s; it is shown only this once, and is "
		        "used as 'Authorization: Bearer TOKEN' or KILN_TOKEN\n",
		        cli_jint(reply, "id"), cli_jstr(reply, "name", "-"),
		        cli_jstr(reply, "role", "-"),
		        expires != NULL ? "expires " : "never expires",
		        expires != NULL ? cli_fmt_iso(expires, buf) : "",
		        expires != NULL ? " UTC" : "");
	}
	json_decref(reply);
	return rc;
}

static int
cli_token_list(struct cli *x, void *opts)
{
	struct token_list_opts *o = opts;
	char *path = xstrdup("/api/v1/tokens");
	json_t *reply, *t;
	size_t i;
	int rc;

	cli_query_page(&path, NULL, &o->limit, &o->before);
	rc = cli_get(x, path, &reply);
	if (rc != 0 || reply == NULL)
		return rc;

	json_t *tokens = json_object_get(reply, "tokens");
	struct cli_table tab = { .ncol = 8 };
	cli_table_row(&tab, "ID", "NAME", "ROLE", "STATE", "CREATED(UTC)",
	              "CREATED BY", "EXPIRES(UTC)", "LAST USED(UTC)");
	json_array_foreach(tokens, i, t) {
		char id[24], created[32], expires[32], used[32];
		const char *exp = cli_jstr(t, "expires_at", NULL);
		snprintf(id, sizeof id, "%" PRId64, cli_jint(t, "id"));
		cli_table_row(&tab, id, cli_jstr(t, "name", "-"),
		              cli_jstr(t, "role", "-"), cli_jstr(t, "state", "-"),
		              cli_fmt_iso(cli_jstr(t, "created_at", NULL), created),
		              cli_jstr(t, "created_by", "-"),
		              exp != NULL ? cli_fmt_iso(exp, expires) : "never",
		              cli_fmt_iso(cli_jstr(t, "last_used_at", NULL), used));
	}
	if (json_array_size(tokens) == 0)
		printf("no tokens\n");
	else
		cli_table_print(&tab, "");
	cli_table_free(&tab);
	if (cli_jint(reply, "next_before") > 0)
		fprintf(stderr, "(more: kiln token list --before %" PRId64 ")\n",
		        cli_jint(reply, "next_before"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_token_revoke(struct cli *x, void *opts)
{
	long long id;
	json_t *reply;
	int rc;

	(void)opts;
	if ((rc = cli_int(x, "token ID", x->pos[0], 1, INT64_MAX, &id)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/tokens/%lld", id);
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "DELETE", path, NULL, 0, &reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		printf("token %lld '%s' revoked\n", id,
		       cli_jstr(reply, "name", "-"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* Read one line from the terminal without echo (or from stdin when it is
 * not a terminal).  Returns a malloc()ed string without the newline. */
static char *
read_secret(const char *prompt)
{
	int tty = isatty(STDIN_FILENO);
	struct termios old, raw;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		raw = old;
		raw.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static int
cli_passwd(struct cli *x, void *opts)
{
	char *pw = read_secret("Password: ");
	if (pw == NULL || *pw == '\0') {
		fprintf(stderr, "kiln passwd: no password given\n");
		free(pw);
		return CLI_EXIT_FAIL;
	}
	if (isatty(STDIN_FILENO)) {
		char *again = read_secret("Again: ");
		int same = again != NULL && strcmp(pw, again) == 0;
		free(again);
		if (!same) {
			fprintf(stderr, "kiln passwd: the passwords differ\n");
			free(pw);
			return CLI_EXIT_FAIL;
		}
	}
	if (strlen(pw) < 8)
		fprintf(stderr, "kiln passwd: warning: a password under 8 characters is weak\n");
	char *hash = users_hash(pw);
	free(pw);
	if (hash == NULL) {
		fprintf(stderr, "kiln passwd: cannot hash (out of memory?)\n");
		return CLI_EXIT_FAIL;
	}
	printf("%s\n", hash);
	free(hash);
	return CLI_EXIT_OK;
}

/* ============================================================ commands */

static const char *const token_roles[] = { "admin", "viewer", NULL };

static const struct cli_opt token_options[] = {
	{ "name", 0, CLI_STRING, offsetof(struct token_opts, name), 0, 0,
	  NULL },
	{ "role", 0, CLI_CHOICE, offsetof(struct token_opts, role), 0, 0,
	  token_roles },
	{ "expires", 0, CLI_STRING, offsetof(struct token_opts, expires), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

static const struct cli_opt token_list_options[] = {
	{ "limit", 0, CLI_INT, offsetof(struct token_list_opts, limit), 1,
	  1000000, NULL },
	{ "before", 0, CLI_INT, offsetof(struct token_list_opts, before), 1,
	  INT64_MAX, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_group cli_group_token = {
	"token", "Create, list and revoke the API tokens (Bearer tokens) of the\n"
	         "cluster.  Tokens expire: after master.auth.token_ttl (90 days\n"
	         "by default) unless created with --expires.\n"
};

const struct cli_cmd cli_cmd_token_create = {
	.name = "token create", .args = "",
	.summary = "create an API token",
	.help =
	"Create a Bearer token for API clients and print it.  Only its hash\n"
	"is stored: the token is shown this once.  It expires after\n"
	"master.auth.token_ttl (default: 90 days) unless --expires says\n"
	"otherwise.\n"
	"\n"
	"Options:\n"
	"      --name NAME        what the token is for (default: cli)\n"
	"      --role ROLE        admin (may change things; the default) or\n"
	"                         viewer\n"
	"      --expires WHEN     a duration from now (30d, 12h, 90m; at most\n"
	"                         3650d), or never\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = token_options, .opts_size = sizeof(struct token_opts),
	.exec = cli_token_create,
};

const struct cli_cmd cli_cmd_token_list = {
	.name = "token list", .args = "",
	.summary = "list the API tokens, newest first",
	.help =
	"List the API tokens, newest first, revoked and expired ones too:\n"
	"id, name, role, state (active, expired, revoked), when and by whom\n"
	"each was created (user:NAME, token:ID or signer:NAME), when it\n"
	"expires and when it was last used (recorded at most once a\n"
	"minute).  Never the tokens themselves.\n"
	"\n"
	"Options:\n"
	"      --limit N          at most N tokens\n"
	"      --before ID        only tokens older than token ID (next page)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = token_list_options,
	.opts_size = sizeof(struct token_list_opts),
	.exec = cli_token_list,
};

const struct cli_cmd cli_cmd_token_revoke = {
	.name = "token revoke", .args = "ID",
	.summary = "revoke an API token",
	.help =
	"Revoke token ID (from `kiln token list`): the master refuses it from\n"
	"the next request on.  It stays in the list, marked revoked.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_token_revoke,
};

const struct cli_cmd cli_cmd_passwd = {
	.name = "passwd", .args = "", .usage = "passwd",
	.summary = "print the argon2id hash of a password, for cluster.yaml",
	.help =
	"Read a password (from the terminal without echo, twice; or one line\n"
	"of standard input) and print its argon2id hash, for\n"
	"master.auth.users[].password_hash in cluster.yaml.\n",
	.exec = cli_passwd,
};
