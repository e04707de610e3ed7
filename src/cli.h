/*
 * cli.h - the client commands of the kiln binary: ping, submit, jobs, job,
 * logs, cancel, workers, plugins and token (the spark-submit role), and
 * dags, dag, runs, run and task for pipelines (the Airflow CLI's role).
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

/* Run client command ARGV[0] (argc >= 1); CONFIG_PATH is -c or NULL for
 * the default.  Returns the process exit status. */
int cli_main(int argc, char **argv, const char *config_path);
/* Non-zero if NAME is a client command or a group of them ("dag"). */
int cli_is_command(const char *name);
/* Print the client commands' one-line summaries for kiln --help. */
void cli_usage_summary(void);

#endif
