/*
 * main.c - the kiln command: `kiln start` runs one node (master or worker,
 * as cluster.yaml says), `kiln up` runs the local cluster, and the client
 * commands (cli.c) talk to a running master.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "kiln/plugin.h"
#include "master.h"
#include "up.h"
#include "users.h"
#include "worker.h"
#include "xalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	"Usage: kiln [OPTION] COMMAND [ARGS...]\n"
	"Run a kiln cluster node, or talk to a running master.\n"
	"\n"
	"Cluster commands:\n"
	"  up                  start the master and this machine's workers (foreground)\n"
	"  start --node NAME   run one node of the cluster; its role comes from the config\n"
	"  passwd              print the argon2id hash of a password, for cluster.yaml\n"
	"\n"
	"Client commands:\n");
	if (f == stdout)
		cli_usage_summary();
	fprintf(f,
	"\n"
	"Options:\n"
	"  -c, --config FILE   cluster config (default: conf/cluster.yaml if present,\n"
	"                      else " SYSCONFDIR "/kiln/cluster.yaml)\n"
	"  -h, --help          display this help and exit\n"
	"  -V, --version       output version information and exit\n"
	"\n"
	"Run 'kiln COMMAND --help' for the options of one command.\n");
}

static const char *
default_config(void)
{
	if (access("conf/cluster.yaml", R_OK) == 0)
		return "conf/cluster.yaml";
	return SYSCONFDIR "/kiln/cluster.yaml";
}

static int
load(const char *path, struct kiln_config **c)
{
	char *err = NULL;
	if (config_load(path, c, &err) != 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static int
cmd_start(int argc, char **argv, const char *config_path)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'n' },
		{ "join", no_argument, NULL, 'j' },
		{ "slots", required_argument, NULL, 's' },
		{ "memory", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *node = NULL, *slots = NULL, *memory = NULL;
	int join = 0, o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "+c:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'n': node = optarg; break;
		case 'j': join = 1; break;
		case 's': slots = optarg; break;
		case 'm': memory = optarg; break;
		case 'h':
			printf("Usage: kiln start [-c FILE] --node NAME [--join [--slots N] [--memory SIZE]]\n"
			       "Run node NAME of the cluster in FILE in the foreground: the master if\n"
			       "NAME is the master's name, else the worker of that name.\n\n"
			       "  -c, --config FILE  cluster config\n"
			       "  -n, --node NAME    the node to run\n"
			       "      --join         run a worker not listed in FILE; it joins the\n"
			       "                     master with the cluster secret\n"
			       "      --slots N      its task slots (default 1)\n"
			       "      --memory SIZE  its memory for tasks (default 1GiB)\n"
			       "  -h, --help         display this help and exit\n\n"
			       "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on error.\n");
			return 0;
		default:
			fprintf(stderr, "Try 'kiln start --help'.\n");
			return 2;
		}
	}
	if (node == NULL) {
		fprintf(stderr, "kiln start: --node NAME is required\nTry 'kiln start --help'.\n");
		return 2;
	}
	struct kiln_config *c;
	if (load(config_path ? config_path : default_config(), &c) != 0)
		return 1;
	char *err = NULL;
	int rc;
	if (config_is_master(c, node)) {
		rc = master_run(c, &err);
	} else {
		const struct kiln_worker_conf *w = config_worker(c, node);
		struct kiln_worker_conf extra = { 0 };
		if (w == NULL && !join) {
			fprintf(stderr, "kiln start: no node '%s' in %s (use --join to add a worker)\n",
			        node, c->path);
			config_free(c);
			return 1;
		}
		if (w == NULL) {
			int64_t mem = 1LL << 30;
			extra.name = (char *)node;
			extra.host = (char *)"localhost";
			extra.slots = slots ? atoi(slots) : 1;
			if (memory != NULL && config_parse_size(memory, &mem) != 0) {
				fprintf(stderr, "kiln start: bad --memory '%s'\n", memory);
				config_free(c);
				return 2;
			}
			extra.memory = mem;
			extra.cache_size = KILN_CACHE_SIZE_DEFAULT;
			extra.plugin_dir = c->master.plugin_dir;
			char *dd = xasprintf("%s/../%s", c->master.data_dir, node);
			extra.data_dir = dd;
			if (extra.slots < 1) {
				fprintf(stderr, "kiln start: --slots must be at least 1\n");
				free(dd);
				config_free(c);
				return 2;
			}
			rc = worker_run(c, &extra, &err);
			free(dd);
		} else {
			rc = worker_run(c, w, &err);
		}
	}
	if (rc != 0)
		fprintf(stderr, "kiln: %s\n", err ? err : "failed");
	free(err);
	config_free(c);
	return rc != 0;
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
cmd_passwd(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: kiln passwd\n"
		       "Read a password (from the terminal without echo, twice; or one line\n"
		       "of standard input) and print its argon2id hash, for\n"
		       "master.auth.users[].password_hash in cluster.yaml.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "kiln passwd: unexpected argument '%s'\n"
		        "Try 'kiln passwd --help'.\n", argv[1]);
		return 2;
	}
	char *pw = read_secret("Password: ");
	if (pw == NULL || *pw == '\0') {
		fprintf(stderr, "kiln passwd: no password given\n");
		free(pw);
		return 1;
	}
	if (isatty(STDIN_FILENO)) {
		char *again = read_secret("Again: ");
		int same = again != NULL && strcmp(pw, again) == 0;
		free(again);
		if (!same) {
			fprintf(stderr, "kiln passwd: the passwords differ\n");
			free(pw);
			return 1;
		}
	}
	if (strlen(pw) < 8)
		fprintf(stderr, "kiln passwd: warning: a password under 8 characters is weak\n");
	char *hash = users_hash(pw);
	free(pw);
	if (hash == NULL) {
		fprintf(stderr, "kiln passwd: cannot hash (out of memory?)\n");
		return 1;
	}
	printf("%s\n", hash);
	free(hash);
	return 0;
}

static int
cmd_up(int argc, char **argv, const char *config_path, const char *self)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	optind = 1;
	while ((o = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 'h':
			printf("Usage: kiln up [-c FILE]\n"
			       "Start the master and every worker of FILE whose host is this machine,\n"
			       "in the foreground, like docker-compose up.  SIGINT or SIGTERM stops\n"
			       "them all (workers first).\n\n"
			       "  -c, --config FILE  cluster config\n"
			       "  -h, --help         display this help and exit\n");
			return 0;
		default:
			fprintf(stderr, "Try 'kiln up --help'.\n");
			return 2;
		}
	}
	struct kiln_config *c;
	if (config_path == NULL)
		config_path = default_config();
	if (load(config_path, &c) != 0)
		return 1;
	char *err = NULL;
	int rc = up_run(self, config_path, c, &err);
	if (rc != 0)
		fprintf(stderr, "kiln up: %s\n", err);
	free(err);
	config_free(c);
	return rc != 0;
}

int
main(int argc, char **argv)
{
	const char *config_path = NULL;
	int i = 1;
	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("kiln " PACKAGE_VERSION "\n"
			       "Plugin ABI %d.%d\n", KILN_ABI_MAJOR, KILN_ABI_MINOR);
			return 0;
		} else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		           i + 1 < argc) {
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else {
			fprintf(stderr, "kiln: unrecognized option '%s'\n"
			        "Try 'kiln --help' for more information.\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		snprintf(self, sizeof self, "%s", argv[0]);
	else
		self[n] = '\0';
	if (strcmp(cmd, "start") == 0)
		return cmd_start(argc - i, argv + i, config_path);
	if (strcmp(cmd, "up") == 0)
		return cmd_up(argc - i, argv + i, config_path, self);
	if (strcmp(cmd, "passwd") == 0)
		return cmd_passwd(argc - i, argv + i);
	if (cli_is_command(cmd))
		return cli_main(argc - i, argv + i, config_path);
	fprintf(stderr, "kiln: '%s' is not a kiln command\n"
	        "Try 'kiln --help' for more information.\n", cmd);
	return 2;
}
