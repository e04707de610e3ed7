/* SPDX-License-Identifier: MIT */
/*
 * vars.c - the commands for variables and connections (Airflow's `airflow
 * variables` and `airflow connections`): the groups `kiln var` (set, get,
 * list, delete) and `kiln conn` (add, get, list, delete).  A value or
 * password given as "-" is read from stdin, so that it need not appear in
 * the process list or the shell's history.  Reads are masked by the
 * master; --reveal asks for the secret, which only an admin may.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "out.h"
#include "xalloc.h"

struct show_opts {
	int reveal;
};

struct conn_opts {
	const char *type, *host, *login, *password, *extra;
	struct cli_num port;
};

/* S, or the first line of stdin if S is "-"; malloc()ed. */
static char *
cli_value_arg(const char *s)
{
	if (strcmp(s, "-") != 0)
		return xstrdup(s);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (n < 0) {
		free(line);
		return xstrdup("");
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

/* METHOD PATH (freed) with BODY (freed); print the reply with --json. */
static int
cli_vc_call(struct cli *x, const char *method, char *path, json_t *body,
            json_t **reply)
{
	int rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, method, path, body, 0, reply);
	free(path);
	json_decref(body);
	if (rc == 0 && x->json) {
		cli_print_json(*reply);
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

static int
cli_var_set(struct cli *x, void *opts)
{
	(void)opts;
	char *v = cli_value_arg(x->pos[1]);
	json_t *body = json_pack("{s:s}", "value", v), *reply = NULL;
	free(v);
	if (body == NULL)
		return cli_usage_error(x, "VALUE is not valid UTF-8");
	int rc = cli_vc_call(x, "PUT", cli_path("variables", x->pos[0], ""),
	                     body, &reply);
	if (rc == 0 && reply != NULL)
		printf("variable %s set\n", x->pos[0]);
	json_decref(reply);
	return rc;
}

static int
cli_var_get(struct cli *x, void *opts)
{
	struct show_opts *o = opts;
	json_t *reply = NULL;
	int rc = cli_get(x, cli_path("variables", x->pos[0],
	                             o->reveal ? "/reveal" : ""), &reply);
	if (rc != 0 || reply == NULL)
		return rc;
	const char *v = cli_jstr(reply, "value", "");
	cli_write_text(stdout, v, strlen(v));
	printf("\n");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_var_list(struct cli *x, void *opts)
{
	(void)opts;
	json_t *reply = NULL, *v;
	size_t i;
	int rc = cli_get(x, xstrdup("/api/v1/variables"), &reply);
	if (rc != 0 || reply == NULL)
		return rc;
	json_t *vars = json_object_get(reply, "variables");
	struct cli_table t = { .ncol = 4 };
	cli_table_row(&t, "NAME", "VALUE", "UPDATED(UTC)", "BY");
	json_array_foreach(vars, i, v) {
		char when[32];
		cli_table_row(&t, cli_jstr(v, "name", "-"),
		              cli_jstr(v, "error", cli_jstr(v, "value", "")),
		              cli_fmt_time(cli_jint(v, "updated_ms"), when),
		              cli_jstr(v, "updated_by", "-"));
	}
	if (json_array_size(vars) == 0)
		printf("no variables\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* `var delete`, `conn delete`: WHAT is "variables" or "connections". */
static int
cli_vc_delete(struct cli *x, const char *what)
{
	json_t *reply = NULL;
	int rc = cli_vc_call(x, "DELETE", cli_path(what, x->pos[0], ""), NULL,
	                     &reply);
	if (rc == 0 && reply != NULL)
		printf("%.*s %s deleted\n", (int)strlen(what) - 1, what,
		       x->pos[0]);
	json_decref(reply);
	return rc;
}

static int
cli_var_delete(struct cli *x, void *opts)
{
	(void)opts;
	return cli_vc_delete(x, "variables");
}

static int
cli_conn_add(struct cli *x, void *opts)
{
	struct conn_opts *o = opts;
	if (o->type == NULL)
		return cli_usage_error(x, "--type is needed (postgres, http, "
		                       "s3, ...)");
	json_t *body = json_pack("{s:s}", "type", o->type), *reply = NULL;
	if (o->host != NULL)
		json_object_set_new(body, "host", json_string(o->host));
	if (o->login != NULL)
		json_object_set_new(body, "login", json_string(o->login));
	if (o->port.set)
		json_object_set_new(body, "port", json_integer(o->port.v));
	if (o->password != NULL) {
		char *p = cli_value_arg(o->password);
		json_object_set_new(body, "password", json_string(p));
		free(p);
	}
	if (o->extra != NULL) {
		json_t *e = json_loads(o->extra, 0, NULL);
		if (!json_is_object(e)) {
			json_decref(e);
			json_decref(body);
			return cli_usage_error(x, "--extra must be a JSON "
			                       "object");
		}
		json_object_set_new(body, "extra", e);
	}
	int rc = cli_vc_call(x, "PUT", cli_path("connections", x->pos[0], ""),
	                     body, &reply);
	if (rc == 0 && reply != NULL)
		printf("connection %s set\n", x->pos[0]);
	json_decref(reply);
	return rc;
}

static void
cli_conn_print(const json_t *c)
{
	static const char *const keys[] = { "name", "type", "host", "login",
	                                    "password" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		char k[16];
		snprintf(k, sizeof k, "%s:", keys[i]);
		cli_kvw(10, k, cli_jstr(c, keys[i], "-"));
	}
	if (json_object_get(c, "port") != NULL)
		cli_kvw_json(10, "port:", json_object_get(c, "port"));
	cli_kvw_json(10, "extra:", json_object_get(c, "extra"));
}

static int
cli_conn_get(struct cli *x, void *opts)
{
	struct show_opts *o = opts;
	json_t *reply = NULL;
	int rc = cli_get(x, cli_path("connections", x->pos[0],
	                             o->reveal ? "/reveal" : ""), &reply);
	if (rc != 0 || reply == NULL)
		return rc;
	cli_conn_print(reply);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_conn_list(struct cli *x, void *opts)
{
	(void)opts;
	json_t *reply = NULL, *c;
	size_t i;
	int rc = cli_get(x, xstrdup("/api/v1/connections"), &reply);
	if (rc != 0 || reply == NULL)
		return rc;
	json_t *conns = json_object_get(reply, "connections");
	struct cli_table t = { .ncol = 6 };
	cli_table_row(&t, "NAME", "TYPE", "HOST", "PORT", "LOGIN", "BY");
	json_array_foreach(conns, i, c) {
		char port[24] = "-";
		if (json_object_get(c, "port") != NULL)
			snprintf(port, sizeof port, "%lld",
			         (long long)cli_jint(c, "port"));
		cli_table_row(&t, cli_jstr(c, "name", "-"),
		              cli_jstr(c, "error", cli_jstr(c, "type", "-")),
		              cli_jstr(c, "host", "-"), port,
		              cli_jstr(c, "login", "-"),
		              cli_jstr(c, "updated_by", "-"));
	}
	if (json_array_size(conns) == 0)
		printf("no connections\n");
	else
		cli_table_print(&t, "");
	cli_table_free(&t);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_conn_delete(struct cli *x, void *opts)
{
	(void)opts;
	return cli_vc_delete(x, "connections");
}

static const struct cli_opt show_options[] = {
	{ "reveal", 0, CLI_FLAG, offsetof(struct show_opts, reveal), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

static const struct cli_opt conn_options[] = {
	{ "type", 0, CLI_STRING, offsetof(struct conn_opts, type), 0, 0, NULL },
	{ "host", 0, CLI_STRING, offsetof(struct conn_opts, host), 0, 0, NULL },
	{ "port", 0, CLI_INT, offsetof(struct conn_opts, port), 0, 65535, NULL },
	{ "login", 0, CLI_STRING, offsetof(struct conn_opts, login), 0, 0,
	  NULL },
	{ "password", 0, CLI_STRING, offsetof(struct conn_opts, password), 0,
	  0, NULL },
	{ "extra", 0, CLI_STRING, offsetof(struct conn_opts, extra), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_group cli_group_var = {
	"var", "Set, show, list and delete variables: named values that DAG\n"
	       "templates read as {{ var.NAME }}.  Values are stored sealed\n"
	       "with the cluster secret; those whose names look secret\n"
	       "(password, secret, token, key, ...) are shown as ***.\n"
};
const struct cli_group cli_group_conn = {
	"conn", "Add, show, list and delete connections: credentials that DAG\n"
	        "templates read as {{ conn.NAME.host }} (.port, .login,\n"
	        ".password, .extra.KEY).  Stored sealed with the cluster\n"
	        "secret; the password is shown as *** unless --reveal.\n"
};

const struct cli_cmd cli_cmd_var_set = {
	.name = "var set", .args = "NAME VALUE",
	.summary = "set a variable",
	.help =
	"Set variable NAME to VALUE (\"-\": the first line of stdin).\n"
	"Admins only; the change is audit-logged without the value.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 2, .max_args = 2,
	.exec = cli_var_set,
};

const struct cli_cmd cli_cmd_var_get = {
	.name = "var get", .args = "NAME",
	.summary = "print a variable's value",
	.help =
	"Print the value of variable NAME; *** if its name looks secret.\n"
	"\n"
	"Options:\n"
	"      --reveal  print a secret value too (admins only; audit-logged)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = show_options, .opts_size = sizeof(struct show_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_var_get,
};

const struct cli_cmd cli_cmd_var_list = {
	.name = "var list", .args = "",
	.summary = "list the variables",
	.help =
	"List the variables: name, value (*** if secret), when and by whom\n"
	"each was last set.\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_var_list,
};

const struct cli_cmd cli_cmd_var_delete = {
	.name = "var delete", .args = "NAME",
	.summary = "delete a variable",
	.help = "Delete variable NAME (admins only; audit-logged).\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_var_delete,
};

const struct cli_cmd cli_cmd_conn_add = {
	.name = "conn add", .args = "NAME",
	.summary = "add or replace a connection",
	.help =
	"Add connection NAME, or replace it (admins only; audit-logged\n"
	"without the password).\n"
	"\n"
	"Options:\n"
	"      --type TYPE        what it connects to: postgres, http, ...\n"
	"                         (required)\n"
	"      --host HOST\n"
	"      --port PORT        0 to 65535\n"
	"      --login LOGIN\n"
	"      --password PASSWORD  \"-\": the first line of stdin\n"
	"      --extra JSON       an object, e.g. '{\"region\": \"eu-west-1\"}'\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = conn_options, .opts_size = sizeof(struct conn_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_conn_add,
};

const struct cli_cmd cli_cmd_conn_get = {
	.name = "conn get", .args = "NAME",
	.summary = "show a connection",
	.help =
	"Show connection NAME, its password and secret-looking extra keys\n"
	"as ***.\n"
	"\n"
	"Options:\n"
	"      --reveal  show them too (admins only; audit-logged)\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.opts = show_options, .opts_size = sizeof(struct show_opts),
	.min_args = 1, .max_args = 1,
	.exec = cli_conn_get,
};

const struct cli_cmd cli_cmd_conn_list = {
	.name = "conn list", .args = "",
	.summary = "list the connections",
	.help = "List the connections (never their passwords).\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.exec = cli_conn_list,
};

const struct cli_cmd cli_cmd_conn_delete = {
	.name = "conn delete", .args = "NAME",
	.summary = "delete a connection",
	.help = "Delete connection NAME (admins only; audit-logged).\n",
	.flags = CLI_CONFIG | CLI_MASTER,
	.min_args = 1, .max_args = 1,
	.exec = cli_conn_delete,
};
