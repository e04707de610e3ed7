/* SPDX-License-Identifier: MIT */
/*
 * cli.c - the kiln command line (see cli.h): the table of every command
 * of the binary, the dispatcher, option parsing and the help generated
 * from the table.
 *
 * Commands are `const struct cli_cmd` entries (as tmux's cmd_entry), each
 * defined in the file of its group: node.c (up, start), admin.c (passwd,
 * token ...), jobs.c (ping, submit, jobs, ...), dags.c (dags, dag ..., runs,
 * run show, task ...).  A command of two words ("dag trigger") belongs to
 * a group ("dag") that has its own --help listing its commands.
 *
 * Options are parsed here for every command: getopt_long() over the
 * command's own option table, the shared options its flags ask for (-c;
 * --master and --json for the client commands) and --help, with operands
 * allowed between options ("kiln submit noop -p x=1"); "--" ends the
 * options.  The values land in the command's own options struct, which
 * the dispatcher allocates, hands to its exec and frees.
 *
 * Exit status: 0 success, 1 failure (the master said no, could not be
 * reached, or a waited-for job did not succeed), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "cmd.h"
#include "config.h"
#include "cron.h"
#include "kiln/plugin.h"
#include "xalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

/* Every command, in the order kiln --help lists them. */
static const struct cli_cmd *const cli_cmds[] = {
	&cli_cmd_up, &cli_cmd_start, &cli_cmd_passwd,
	&cli_cmd_ping, &cli_cmd_submit, &cli_cmd_jobs, &cli_cmd_job,
	&cli_cmd_logs, &cli_cmd_cancel, &cli_cmd_workers, &cli_cmd_plugins,
	&cli_cmd_pools,
	&cli_cmd_token_create, &cli_cmd_token_list, &cli_cmd_token_revoke,
	&cli_cmd_dags, &cli_cmd_dag_show, &cli_cmd_dag_trigger,
	&cli_cmd_dag_pause, &cli_cmd_dag_unpause, &cli_cmd_dag_backfill,
	&cli_cmd_dag_errors, &cli_cmd_dag_versions, &cli_cmd_dag_diff,
	&cli_cmd_runs, &cli_cmd_run_show,
	&cli_cmd_task_clear, &cli_cmd_task_mark, &cli_cmd_task_logs,
	&cli_cmd_cert_show, &cli_cmd_cert_ca, &cli_cmd_cert_rotate,
	&cli_cmd_backup, &cli_cmd_restore,
	&cli_cmd_artifact_get, &cli_cmd_artifact_list, &cli_cmd_leaderboard,
	&cli_cmd_forecast_show,
	&cli_cmd_var_set, &cli_cmd_var_get, &cli_cmd_var_list,
	&cli_cmd_var_delete, &cli_cmd_conn_add, &cli_cmd_conn_get,
	&cli_cmd_conn_list, &cli_cmd_conn_delete,
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

const struct cli_cmd *const *
cli_commands(size_t *n)
{
	*n = CLI_NCMDS;
	return cli_cmds;
}

static const struct cli_group *const cli_groups[] = {
	&cli_group_dag, &cli_group_run, &cli_group_task, &cli_group_cert,
	&cli_group_token, &cli_group_artifact, &cli_group_forecast,
	&cli_group_var, &cli_group_conn,
};
#define CLI_NGROUPS (sizeof cli_groups / sizeof cli_groups[0])

/* The options a command takes when its flags say so, stored in struct
 * cli rather than in the command's options. */
static const struct cli_shared_opt {
	int flag;
	struct cli_opt opt;
} cli_shared[] = {
	{ CLI_MASTER, { "master", 0, CLI_STRING,
	                offsetof(struct cli, master), 0, 0, NULL } },
	{ CLI_MASTER, { "json", 0, CLI_FLAG, offsetof(struct cli, json), 0, 0,
	                NULL } },
	{ CLI_CONFIG, { "config", 'c', CLI_STRING,
	                offsetof(struct cli, config_path), 0, 0, NULL } },
};
#define CLI_NSHARED (sizeof cli_shared / sizeof cli_shared[0])

#define CLI_HELP (-1)           /* cli_parse(): --help was given */
#define CLI_OPT_BASE 256        /* getopt values of the options: + index */

/* The cluster config when -c does not name one: conf/cluster.yaml if it
 * can be read (running from a source tree or a cluster's directory),
 * else the installed one. */
static const char *
cli_default_config(void)
{
	if (access("conf/cluster.yaml", R_OK) == 0)
		return "conf/cluster.yaml";
	return SYSCONFDIR "/kiln/cluster.yaml";
}

const char *
cli_config_path(const struct cli *x)
{
	return x->config_path != NULL ? x->config_path : cli_default_config();
}

int
cli_usage_error(struct cli *x, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", x->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", x->prog);
	return CLI_EXIT_USAGE;
}

int
cli_int(struct cli *x, const char *what, const char *s, long long min,
        long long max, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return cli_usage_error(x, "invalid %s '%s' (expected an "
		                       "integer from %lld to %lld)", what, s,
		                       min, max);
	*out = v;
	return 0;
}

/* ============================================================== options */

/*
 * The JSON value of "-p key=VALUE": a JSON number, true, false or null,
 * or an object or array, is sent typed; anything else is a string, so
 * "-p path=/tmp/x" needs no quoting.  Returns a new reference.
 */
static json_t *
cli_param_value(const char *s)
{
	size_t n = strlen(s);

	/* Leading or trailing blanks mean the user wrote a string. */
	if (n == 0 || strchr(" \t\r\n", s[0]) != NULL ||
	    strchr(" \t\r\n", s[n - 1]) != NULL)
		return json_string(s);
	json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
	if (v != NULL && (json_is_number(v) || json_is_boolean(v) ||
	                  json_is_null(v) ||
	                  ((s[0] == '{' || s[0] == '[') &&
	                   (json_is_object(v) || json_is_array(v)))))
		return v;
	json_decref(v);
	return json_string(s);
}

/* -p KEY=VALUE: add KEY to the object at *OBJ. */
static int
cli_set_param(struct cli *x, json_t **obj, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return cli_usage_error(x, "-p expects KEY=VALUE, got '%s'", arg);
	char *key = xstrndup(arg, (size_t)(eq - arg));
	json_object_set_new(*obj, key, cli_param_value(eq + 1));
	free(key);
	return 0;
}

/* ARG if it is one of OPT's choices; "expected A, B or C" if not. */
static int
cli_set_choice(struct cli *x, const struct cli_opt *opt, const char **out,
               const char *arg)
{
	const char *const *c = opt->choices;
	char *list = NULL;

	for (size_t i = 0; c[i] != NULL; i++)
		if (strcmp(arg, c[i]) == 0) {
			*out = arg;
			return 0;
		}
	for (size_t i = 0; c[i] != NULL; i++) {
		char *n = list == NULL ? xstrdup(c[i]) :
		          xasprintf("%s%s%s", list, c[i + 1] != NULL ? ", " :
		                    " or ", c[i]);
		free(list);
		list = n;
	}
	int rc = cli_usage_error(x, "invalid --%s '%s' (expected %s)",
	                         opt->name, arg, list != NULL ? list : "");
	free(list);
	return rc;
}

/* Set the field of OPT in BASE from ARG.  0 or CLI_EXIT_USAGE. */
static int
cli_set(struct cli *x, const struct cli_opt *opt, void *base,
        const char *arg)
{
	void *field = (char *)base + opt->offset;
	struct cli_num *num = field;
	char *err = NULL;
	int64_t v, t;

	switch (opt->type) {
	case CLI_FLAG:
		*(int *)field = 1;
		return 0;
	case CLI_STRING:
		*(const char **)field = arg;
		return 0;
	case CLI_CHOICE:
		return cli_set_choice(x, opt, field, arg);
	case CLI_DATE:
		/* The master's own date parser, so that what passes here
		 * is what it accepts. */
		if (cron_parse_date(arg, &t, &err) < 0) {
			int rc = cli_usage_error(x, "invalid --%s: %s",
			                         opt->name, err != NULL ? err :
			                         "not a date");
			free(err);
			return rc;
		}
		*(const char **)field = arg;
		return 0;
	case CLI_INT: {
		char *what = xasprintf("--%s", opt->name);
		int rc = cli_int(x, what, arg, opt->min, opt->max, &num->v);
		free(what);
		num->set = 1;
		return rc;
	}
	case CLI_SIZE:
		if (config_parse_size(arg, &v) < 0 || v < 0)
			return cli_usage_error(x, "invalid --%s '%s' (expected a "
			                       "size like 512MiB or 2GiB)",
			                       opt->name, arg);
		num->set = 1;
		num->v = v;
		return 0;
	case CLI_DURATION:
		if (config_parse_duration_ms(arg, &v) < 0 || v <= 0)
			return cli_usage_error(x, "invalid --%s '%s' (expected a "
			                       "duration like 90s, 5m or 2h)",
			                       opt->name, arg);
		num->set = 1;
		num->v = v;
		return 0;
	case CLI_PARAM:
		return cli_set_param(x, field, arg);
	}
	return cli_usage_error(x, "unhandled option --%s", opt->name);
}

/* The options command CMD takes, with where each is stored (the
 * command's OPTS, or X); caller frees the two arrays. */
static size_t
cli_opts_of(struct cli *x, const struct cli_cmd *cmd, void *opts,
            const struct cli_opt ***list, void ***bases)
{
	size_t n = 0, own = 0;

	while (cmd->opts != NULL && cmd->opts[own].name != NULL)
		own++;
	*list = xcalloc(own + CLI_NSHARED, sizeof **list);
	*bases = xcalloc(own + CLI_NSHARED, sizeof **bases);
	for (size_t i = 0; i < own; i++, n++) {
		(*list)[n] = &cmd->opts[i];
		(*bases)[n] = opts;
	}
	for (size_t i = 0; i < CLI_NSHARED; i++)
		if (cmd->flags & cli_shared[i].flag) {
			(*list)[n] = &cli_shared[i].opt;
			(*bases)[n++] = x;
		}
	return n;
}

/* getopt_long()'s tables for the N options of LIST, and --help. */
static char *
cli_getopt_tables(const struct cli_opt **list, size_t n,
                  struct option **longopts)
{
	char *shortopts = xmalloc(3 * n + 3), *p = shortopts;

	*longopts = xcalloc(n + 2, sizeof **longopts);
	*p++ = '+';
	for (size_t i = 0; i < n; i++) {
		int arg = list[i]->type != CLI_FLAG;
		(*longopts)[i] = (struct option) {
			list[i]->name, arg ? required_argument : no_argument,
			NULL, CLI_OPT_BASE + (int)i
		};
		if (list[i]->letter != 0) {
			*p++ = (char)list[i]->letter;
			if (arg)
				*p++ = ':';
		}
	}
	(*longopts)[n] = (struct option) { "help", no_argument, NULL, 'h' };
	*p++ = 'h';
	*p = '\0';
	return shortopts;
}

/* The index in LIST of the option getopt returned as CH, or -1. */
static int
cli_opt_index(const struct cli_opt **list, size_t n, int ch)
{
	if (ch >= CLI_OPT_BASE && (size_t)(ch - CLI_OPT_BASE) < n)
		return ch - CLI_OPT_BASE;
	for (size_t i = 0; i < n; i++)
		if (list[i]->letter == ch)
			return (int)i;
	return -1;
}

/*
 * Parse ARGV (ARGV[0] is the command) into X (shared options, operands)
 * and OPTS (the command's own).  Returns 0, CLI_HELP for --help, or
 * CLI_EXIT_USAGE after printing the problem.
 */
static int
cli_parse(struct cli *x, void *opts, int argc, char **argv)
{
	const struct cli_cmd *cmd = x->cmd;
	const struct cli_opt **list;
	struct option *longopts;
	void **bases;
	size_t n = cli_opts_of(x, cmd, opts, &list, &bases);
	char *shortopts = cli_getopt_tables(list, n, &longopts);
	int rc = 0, help = 0;

	/* getopt prints its complaints under argv[0]: make that
	 * "kiln submit", and keep the caller's argv unpermuted. */
	char **av = xcalloc((size_t)argc + 1, sizeof *av);
	av[0] = x->prog;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	x->pos = xcalloc((size_t)argc + 1, sizeof *x->pos);

	optind = 0;     /* glibc: start afresh */
	opterr = 1;
	while (rc == 0) {
		int before = optind == 0 ? 1 : optind;
		int ch = getopt_long(argc, av, shortopts, longopts, NULL);
		if (ch == -1) {
			if (optind >= argc)
				break;
			if (optind == before + 1 && strcmp(av[before], "--") == 0) {
				while (optind < argc)
					x->pos[x->npos++] = av[optind++];
				break;
			}
			/* An operand: take it and go on. */
			x->pos[x->npos++] = av[optind++];
			continue;
		}
		int i = cli_opt_index(list, n, ch);
		if (ch == 'h') {
			help = 1;
		} else if (ch == '?' || i < 0) {
			fprintf(stderr, "Try '%s --help'.\n", x->prog);
			rc = CLI_EXIT_USAGE;
		} else {
			rc = cli_set(x, list[i], bases[i], optarg);
		}
	}
	free(av);
	free(shortopts);
	free(longopts);
	free(list);
	free(bases);
	if (rc != 0)
		return rc;
	if (help)
		return CLI_HELP;
	if (x->npos < cmd->min_args)
		return cli_usage_error(x, "missing operand (usage: %s %s)",
		                       x->prog, cmd->args);
	if (x->npos > cmd->max_args)
		return cli_usage_error(x, "unexpected argument '%s'",
		                       x->pos[cmd->max_args]);
	return 0;
}

/* Start (RELEASE = 0) or release (1) the CLI_PARAM objects of OPTS. */
static void
cli_opts_params(const struct cli_cmd *cmd, void *opts, int release)
{
	for (size_t i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++) {
		json_t **obj = (json_t **)((char *)opts + cmd->opts[i].offset);
		if (cmd->opts[i].type != CLI_PARAM)
			continue;
		if (release)
			json_decref(*obj);
		else
			*obj = json_object();
	}
}

/* ================================================================= help */

static const struct cli_cmd *
cli_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < CLI_NCMDS; i++)
		if (strcmp(cli_cmds[i]->name, name) == 0)
			return cli_cmds[i];
	return NULL;
}

static const struct cli_group *
cli_find_group(const char *name)
{
	for (size_t i = 0; name != NULL && i < CLI_NGROUPS; i++)
		if (strcmp(cli_groups[i]->name, name) == 0)
			return cli_groups[i];
	return NULL;
}

/* Non-zero if CMD is "G COMMAND". */
static int
cli_in_group(const struct cli_cmd *cmd, const struct cli_group *g)
{
	size_t n = strlen(g->name);

	return strncmp(cmd->name, g->name, n) == 0 && cmd->name[n] == ' ';
}

/* "NAME ARGS" as in a usage line; caller frees. */
static char *
cli_synopsis(const struct cli_cmd *cmd, const char *name)
{
	return xasprintf("%s%s%s", name, cmd->args[0] != '\0' ? " " : "",
	                 cmd->args);
}

/* kiln --help, to F: the commands listed from the table, the cluster
 * commands aligned with the options below them. */
static void
cli_usage(FILE *f)
{
	int w = 0;

	fprintf(f, "Usage: kiln [OPTION] COMMAND [ARGS...]\n"
	        "Run a kiln cluster node, or talk to a running master.\n"
	        "\n"
	        "Cluster commands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		char *u = cli_synopsis(cli_cmds[i], cli_cmds[i]->name);
		if (!(cli_cmds[i]->flags & CLI_MASTER))
			fprintf(f, "  %-19s %s\n", u, cli_cmds[i]->summary);
		else if ((int)strlen(u) > w)
			w = (int)strlen(u);
		free(u);
	}
	fprintf(f, "\nClient commands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		if (!(cli_cmds[i]->flags & CLI_MASTER))
			continue;
		char *u = cli_synopsis(cli_cmds[i], cli_cmds[i]->name);
		fprintf(f, "  kiln %-*s  %s\n", w, u, cli_cmds[i]->summary);
		free(u);
	}
	fprintf(f, "\n"
	        "Options:\n"
	        "  -c, --config FILE   cluster config (default: conf/cluster.yaml if present,\n"
	        "                      else " SYSCONFDIR "/kiln/cluster.yaml)\n"
	        "  -h, --help          display this help and exit\n"
	        "  -V, --version       output version information and exit\n"
	        "\n"
	        "Run 'kiln COMMAND --help' for the options of one command.\n");
}

static void
cli_group_help(const struct cli_group *g)
{
	size_t n = strlen(g->name) + 1;

	printf("Usage: kiln %s COMMAND [OPTION]...\n", g->name);
	fputs(g->help, stdout);
	printf("\nCommands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		if (!cli_in_group(cli_cmds[i], g))
			continue;
		char *u = cli_synopsis(cli_cmds[i], cli_cmds[i]->name + n);
		printf("  %-22s %s\n", u, cli_cmds[i]->summary);
		free(u);
	}
	printf("\nRun 'kiln %s COMMAND --help' for the options of one "
	       "command.\n", g->name);
}

/* kiln COMMAND --help: its usage and help, and for a client command the
 * shared options and the exit status. */
static void
cli_help(const struct cli_cmd *cmd)
{
	if (cmd->usage != NULL)
		printf("Usage: kiln %s\n", cmd->usage);
	else
		printf("Usage: kiln %s%s%s [OPTION]...\n", cmd->name,
		       cmd->args[0] != '\0' ? " " : "", cmd->args);
	fputs(cmd->help, stdout);
	if (!(cmd->flags & CLI_MASTER))
		return;
	printf("\n"
	       "Global options:\n"
	       "      --master URL       the master, e.g. http://10.0.0.5:8080\n"
	       "                         (default: $KILN_MASTER, else from the\n"
	       "                         cluster config)\n"
	       "      --json             print the master's JSON answer\n"
	       "  -c, --config FILE      the cluster config (default:\n"
	       "                         conf/cluster.yaml if present, else\n"
	       "                         %s/kiln/cluster.yaml)\n"
	       "  -h, --help             show this help and exit\n"
	       "\n"
	       "Requests are signed with the cluster secret from the config,\n"
	       "or carry $KILN_TOKEN as a Bearer token when it is set.\n"
	       "\n"
	       "Exit status:\n", SYSCONFDIR);
	fputs(cmd->exit_status != NULL ? cmd->exit_status :
	      " 0  success\n"
	      " 1  the master refused or could not be reached\n", stdout);
	printf(" 2  a usage error\n");
}

/* ============================================================= dispatch */

/*
 * ARGV[0] is group G: find the command named by ARGV[1].  Returns it, or
 * NULL with *rc the exit status after printing the group's help (--help)
 * or a usage error.
 */
static const struct cli_cmd *
cli_group_cmd(const struct cli_group *g, int argc, char **argv, int *rc)
{
	struct cli gx = { .prog = xasprintf("kiln %s", g->name) };
	const char *sub = argc >= 2 ? argv[1] : NULL;
	const struct cli_cmd *cmd = NULL;

	if (sub != NULL && (strcmp(sub, "--help") == 0 ||
	                    strcmp(sub, "-h") == 0)) {
		cli_group_help(g);
		*rc = CLI_EXIT_OK;
	} else if (sub == NULL) {
		*rc = cli_usage_error(&gx, "missing command");
	} else if (sub[0] == '-') {
		/* Options follow the command: its own come with it. */
		*rc = cli_usage_error(&gx, "expected a command before '%s'",
		                      sub);
	} else {
		char *name = xasprintf("%s %s", g->name, sub);
		if ((cmd = cli_find(name)) == NULL)
			*rc = cli_usage_error(&gx, "unknown command '%s'", sub);
		free(name);
	}
	free(gx.prog);
	return cmd;
}

/* Run command CMD with ARGV (ARGV[0] is its last word): parse its
 * options into a fresh options struct, then --help or its exec. */
static int
cli_run(struct cli *x, const struct cli_cmd *cmd, int argc, char **argv)
{
	void *opts = xcalloc(1, cmd->opts_size > 0 ? cmd->opts_size : 1);

	x->cmd = cmd;
	x->prog = xasprintf("kiln %s", cmd->name);
	cli_opts_params(cmd, opts, 0);
	int rc = cli_parse(x, opts, argc, argv);
	if (rc == CLI_HELP) {
		cli_help(cmd);
		rc = CLI_EXIT_OK;
	} else if (rc == 0) {
		rc = cmd->exec(x, opts);
	}
	fflush(stdout);
	cli_opts_params(cmd, opts, 1);
	free(opts);
	client_free(x->cl);
	if (x->conf != NULL)
		config_free(x->conf);
	free(x->pos);
	free(x->url);
	free(x->prog);
	return rc;
}

/*
 * The options before the command: -c FILE, --help, --version.  Returns
 * -1 with *next the index of the command, or an exit status.
 */
static int
cli_global_options(struct cli *x, int argc, char **argv, int *next)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_usage(stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0 ||
		           strcmp(argv[i], "-V") == 0) {
			printf("kiln " PACKAGE_VERSION "\n"
			       "Plugin ABI %d.%d\n", KILN_ABI_MAJOR,
			       KILN_ABI_MINOR);
			return CLI_EXIT_OK;
		} else if ((strcmp(argv[i], "-c") == 0 ||
		            strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			x->config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			x->config_path = argv[i] + 9;
		} else {
			fprintf(stderr, "kiln: unrecognized option '%s'\n"
			        "Try 'kiln --help' for more information.\n",
			        argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	*next = i;
	return -1;
}

int
cli_main(int argc, char **argv)
{
	struct cli x = { .argv0 = argc > 0 ? argv[0] : "kiln" };
	const struct cli_group *g = NULL;
	const struct cli_cmd *cmd = NULL;
	int i, rc;

	if ((rc = cli_global_options(&x, argc, argv, &i)) >= 0)
		return rc;
	/* "dag show" is reached as two words, never as one argument. */
	if (strchr(argv[i], ' ') == NULL &&
	    (g = cli_find_group(argv[i])) == NULL)
		cmd = cli_find(argv[i]);
	if (g != NULL) {
		if ((cmd = cli_group_cmd(g, argc - i, argv + i, &rc)) == NULL)
			return rc;
		i++;    /* from here on the command's own word is ARGV[0] */
	} else if (cmd == NULL) {
		fprintf(stderr, "kiln: '%s' is not a kiln command\n"
		        "Try 'kiln --help' for more information.\n", argv[i]);
		return CLI_EXIT_USAGE;
	}
	return cli_run(&x, cmd, argc - i, argv + i);
}
