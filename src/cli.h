/*
 * cli.h - the client commands of the kiln binary (ping, submit, jobs, job,
 * logs, cancel, workers, plugins, token): the spark-submit role.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

/* Run client command ARGV[0] (argc >= 1); CONFIG_PATH is -c or NULL for
 * the default.  Returns the process exit status. */
int cli_main(int argc, char **argv, const char *config_path);
/* Non-zero if NAME is a client command. */
int cli_is_command(const char *name);
/* Print the client commands' one-line summaries for kiln --help. */
void cli_usage_summary(void);

#endif
