/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the commands for credentials: `kiln token create` asks the
 * master for an API token; `kiln passwd` hashes a password for
 * master.auth.users in cluster.yaml, on this machine, without a master.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd.h"
#include "out.h"
#include "users.h"

struct token_opts {
	const char *name, *role;
};

static int
cli_token(struct cli *x, void *opts)
{
	struct token_opts *o = opts;
	json_t *reply;
	int rc;

	if (strcmp(x->pos[0], "create") != 0)
		return cli_usage_error(x, "unknown subcommand '%s' (expected "
		                       "'create')", x->pos[0]);
	json_t *req = json_object();
	if (o->name != NULL)
		json_object_set_new(req, "name", json_string(o->name));
	if (o->role != NULL)
		json_object_set_new(req, "role", json_string(o->role));
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", "/api/v1/tokens", req, 0, &reply);
	json_decref(req);
	if (rc != 0)
		return rc;
	const char *token = cli_jstr(reply, "token", NULL);
	if (x->json) {
		cli_print_json(reply);
	} else if (token == NULL) {
		fprintf(stderr, "kiln: the master's reply has no token\n");
		rc = CLI_EXIT_FAIL;
	} else {
		/* The token alone on stdout, for $(kiln token create). */
		printf("%s\n", token);
		fprintf(stderr, "kiln: token '%s' (role %s) created; it is "
		        "shown only this once, and is used as "
		        "'Authorization: Bearer TOKEN' or KILN_TOKEN\n",
		        cli_jstr(reply, "name", "-"),
		        cli_jstr(reply, "role", "-"));
	}
	json_decref(reply);
	return rc;
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
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_cmd cli_cmd_token = {
	.name = "token", .args = "create",
	.summary = "create an API token",
	.help =
	"Create a Bearer token for API clients and print it.  Only its hash\n"
	"is stored: the token is shown this once.\n"
	"\n"
	"Options:\n"
	"      --name NAME        what the token is for\n"
	"      --role ROLE        admin (may change things) or viewer\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = token_options, .opts_size = sizeof(struct token_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_token,
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
