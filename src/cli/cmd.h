/* SPDX-License-Identifier: MIT */
/*
 * cmd.h - what a command of the kiln binary is, inside src/cli/ (as
 * tmux's cmd_entry): a `const struct cli_cmd` with its name, usage, help,
 * its own options (a table of struct cli_opt over its own options struct)
 * and the function that runs it.  Commands live in the file of their
 * group (jobs.c, dags.c, admin.c, node.c); cli.c gathers them in one
 * table, parses options and dispatches; conn.c finds and calls the master;
 * out.h prints.  Every non-static name in src/cli/ starts with cli_.
 */
#ifndef KILN_CLI_CMD_H
#define KILN_CLI_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"

struct kiln_config;

#define CLI_EXIT_OK     0
#define CLI_EXIT_FAIL   1       /* the master said no, or cannot be reached */
#define CLI_EXIT_USAGE  2

/* One invocation of a command.  Owned by the dispatcher, which frees what
 * the command left in it (conf, url, cl). */
struct cli {
	const struct cli_cmd *cmd;
	char *prog;                     /* "kiln submit", for messages */
	const char *argv0;              /* the binary as it was run */
	const char *config_path;        /* -c, or NULL for the default */
	const char *master;             /* --master, or NULL */
	int json;                       /* --json */
	char **pos;                     /* the operands, in order */
	int npos;
	struct kiln_config *conf;       /* loaded on demand: cli_config() */
	char *url;                      /* the master's base URL */
	client *cl;                     /* made by cli_connect() */
};

/* ======================================================== options */

/* A number option's value, and whether the option was given. */
struct cli_num {
	int set;
	long long v;
};

/* What an option takes, and the type of its field. */
enum cli_opt_type {
	CLI_FLAG,       /* int: 1 when given */
	CLI_STRING,     /* const char *: the argument as given */
	CLI_CHOICE,     /* const char *: one of the option's choices */
	CLI_DATE,       /* const char *: a date the master will accept */
	CLI_INT,        /* struct cli_num: an integer from min to max */
	CLI_SIZE,       /* struct cli_num: bytes, "512MiB" */
	CLI_DURATION,   /* struct cli_num: milliseconds, "90s", above 0 */
	CLI_PARAM,      /* json_t *: an object, KEY=VALUE added (typed) */
};

/*
 * One option of a command: --NAME (and -LETTER if not 0) sets the field
 * at OFFSET of the command's options struct.  A CLI_PARAM field starts as
 * an empty object, which the dispatcher releases after the command ran.
 * Tables end with a row whose name is NULL.
 */
struct cli_opt {
	const char *name;
	int letter;
	enum cli_opt_type type;
	size_t offset;
	long long min, max;             /* CLI_INT */
	const char *const *choices;     /* CLI_CHOICE: NULL-terminated */
};

/* Command flags: which of the shared options the command takes. */
#define CLI_CONFIG  0x1         /* -c, --config FILE */
#define CLI_MASTER  0x2         /* --master URL, --json; a client command */

struct cli_cmd {
	const char *name;               /* "jobs", or "GROUP COMMAND" */
	const char *args;               /* after the name in summaries: "ID" */
	const char *usage;              /* the usage line after "kiln ", if
	                                   not "NAME ARGS [OPTION]..." */
	const char *summary;            /* one line, for kiln --help */
	const char *help;               /* description and own options */
	const char *exit_status;        /* CLI_MASTER: statuses 0 and 1 in
	                                   --help; NULL for the usual */
	int flags;
	const struct cli_opt *opts;     /* NULL: none of its own */
	size_t opts_size;               /* sizeof its options struct */
	int min_args, max_args;         /* operands */
	int (*exec)(struct cli *x, void *opts);
};

/* A group of commands ("kiln dag COMMAND"): the commands named "NAME
 * COMMAND" in the table; kiln NAME --help lists them after HELP. */
struct cli_group {
	const char *name;
	const char *help;
};

/* The commands (node.c, admin.c, cert.c, jobs.c, dags.c, backup.c) and groups
 * (dags.c, admin.c, cert.c), gathered in cli.c's table. */
extern const struct cli_cmd cli_cmd_up, cli_cmd_start, cli_cmd_passwd,
	cli_cmd_token_create, cli_cmd_token_list, cli_cmd_token_revoke,
	cli_cmd_ping, cli_cmd_submit, cli_cmd_jobs,
	cli_cmd_job, cli_cmd_logs, cli_cmd_cancel, cli_cmd_workers,
	cli_cmd_plugins, cli_cmd_pools, cli_cmd_dags, cli_cmd_dag_show,
	cli_cmd_dag_versions, cli_cmd_dag_diff, cli_cmd_dag_trigger,
	cli_cmd_dag_pause, cli_cmd_dag_unpause, cli_cmd_dag_backfill,
	cli_cmd_dag_errors, cli_cmd_runs, cli_cmd_run_show,
	cli_cmd_task_clear, cli_cmd_task_mark, cli_cmd_task_logs,
	cli_cmd_cert_show,
	cli_cmd_cert_ca, cli_cmd_cert_rotate, cli_cmd_backup, cli_cmd_restore,
	cli_cmd_artifact_get, cli_cmd_artifact_list, cli_cmd_leaderboard,
	cli_cmd_forecast_show, cli_cmd_var_set, cli_cmd_var_get,
	cli_cmd_var_list, cli_cmd_var_delete, cli_cmd_conn_add,
	cli_cmd_conn_get, cli_cmd_conn_list, cli_cmd_conn_delete;
extern const struct cli_group cli_group_dag, cli_group_run,
	cli_group_task, cli_group_cert, cli_group_token, cli_group_artifact,
	cli_group_forecast, cli_group_var, cli_group_conn;

/* The table of every command (*N of them), for the tests. */
const struct cli_cmd *const *cli_commands(size_t *n);

/* Print "PROG: MESSAGE" and "Try 'PROG --help'." to stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse S, a whole decimal integer in [MIN, MAX], into *OUT; WHAT names
 * it in the usage error ("job ID").  0 or CLI_EXIT_USAGE. */
int cli_int(struct cli *x, const char *what, const char *s, long long min,
            long long max, long long *out);

/* The config file: -c, else the default (see docs/cli.md). */
const char *cli_config_path(const struct cli *x);

/* ===================================================== the master (conn.c) */

/* Load the cluster config into x->conf, once.  0, or 1 after printing
 * why not: with WHY, as "kiln: ERROR" and "the cluster config is needed
 * for WHY"; without, the error alone. */
int cli_config(struct cli *x, const char *why);

/* Find the master and make x->cl.  AUTH: sign requests (or send
 * $KILN_TOKEN).  0, or an exit status after printing the problem. */
int cli_connect(struct cli *x, int auth);

/* GET PATH (malloc()ed; freed here) from the master, signed.  0 with
 * *REPLY, or with *REPLY NULL when --json printed the reply and the
 * command is done; otherwise an exit status after printing the problem. */
int cli_get(struct cli *x, char *path, json_t **reply);

/* METHOD PATH with BODY (borrowed).  0 with *reply (a JSON value) on a
 * 2xx answer; otherwise prints the problem and returns CLI_EXIT_FAIL. */
int cli_call(struct cli *x, const char *method, const char *path,
             json_t *body, long timeout_ms, json_t **reply);

/* GET PATH and copy the reply to stdout as it came (a log is text/plain).
 * Returns an exit status after printing any problem. */
int cli_print_text(struct cli *x, const char *path);

/* Print the master's error for an HTTP failure: "kiln: MESSAGE (HTTP N)";
 * TEXT is the reply's body when it was not JSON, or NULL. */
void cli_http_error(long status, const json_t *reply, const char *text);

/* S percent-encoded but for RFC 3986's unreserved characters; caller
 * frees. */
char *cli_escape(const char *s);

/* Append "&NAME=VALUE" (percent-encoded) to the malloc()ed query *Q. */
void cli_query_add(char **q, const char *name, const char *value);
/* Add a list's paging to *Q: ?state= if STATE, limit= and before= if
 * given (the jobs and runs lists page alike). */
void cli_query_page(char **q, const char *state, const struct cli_num *limit,
                    const struct cli_num *before);

/* `kiln dag show x->pos[0] --version VERSION`: the version's file text
 * (dagver.c).  An exit status. */
int cli_dag_show_version(struct cli *x, int version);

/* "/api/v1/WHAT/ID" plus SUFFIX, with ID percent-encoded; caller frees. */
char *cli_path(const char *what, const char *id, const char *suffix);

/* ================================== jobs' outputs and results (artifacts.c) */

/* Job ID_S from the master, connected.  0 with *JOB (caller
 * json_decref()s), or an exit status after printing the problem (a bad
 * ID is a usage error). */
int cli_job_fetch(struct cli *x, const char *id_s, json_t **job);
/* Output NAME of JOB ({name, sha, size}, borrowed), or NULL. */
const json_t *cli_job_output(const json_t *job, const char *name);
/* Print that JOB has no output NAME, and the names it has. */
void cli_no_output(const json_t *job, const char *name);
/* JOB's outputs as a table (name, size in bytes, SHA-256) after INDENT. */
void cli_outputs_print(const json_t *job, const char *indent);
/* Download artifact SHA (connected) to F, or when F is NULL into *BUF
 * (malloc()ed, NUL-terminated, *LEN bytes; the caller frees it), checking
 * its SHA-256.  0, or CLI_EXIT_FAIL after printing why. */
int cli_artifact_fetch(struct cli *x, const char *sha, FILE *f, char **buf,
                       size_t *len);

/* (results.c) Is R a benchmark's leaderboard? */
int cli_is_leaderboard(const json_t *r);
/* Leaderboard LB as the dashboard's table, each line after INDENT. */
void cli_leaderboard_print(const json_t *lb, const char *indent);
/* RESULT as `kiln job` shows it: "result:" and indented key: value
 * lines, a leaderboard's models as its table; nothing for null. */
void cli_result_print(const json_t *result);

#endif
