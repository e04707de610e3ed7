/* SPDX-License-Identifier: MIT */
/*
 * node.c - the commands that run the cluster: `kiln start --node NAME`
 * runs one node in the foreground (the master if NAME is the master's
 * name, else that worker, or with --join a worker the config does not
 * list), and `kiln up` runs the master and this machine's workers (up.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "master.h"
#include "up.h"
#include "worker.h"
#include "xalloc.h"

struct start_opts {
	const char *node;
	int join;
	const char *slots, *memory;     /* for --join; checked once needed */
};

/* Run NODE, a worker the config does not list (--join), with the slots
 * and memory O asks for.  An exit status; *err is set by the worker. */
static int
cli_start_joining(struct cli *x, const struct start_opts *o, char **err)
{
	const struct kiln_config *c = x->conf;
	struct kiln_worker_conf w = { 0 };
	int64_t mem = 1LL << 30;

	w.name = (char *)o->node;
	w.host = (char *)"localhost";
	w.slots = o->slots ? atoi(o->slots) : 1;
	if (o->memory != NULL && config_parse_size(o->memory, &mem) != 0) {
		fprintf(stderr, "kiln start: bad --memory '%s'\n", o->memory);
		return CLI_EXIT_USAGE;
	}
	w.memory = mem;
	w.cache_size = KILN_CACHE_SIZE_DEFAULT;
	w.plugin_dir = c->master.plugin_dir;
	if (w.slots < 1) {
		fprintf(stderr, "kiln start: --slots must be at least 1\n");
		return CLI_EXIT_USAGE;
	}
	char *dd = xasprintf("%s/../%s", c->master.data_dir, o->node);
	w.data_dir = dd;
	int rc = worker_run(c, &w, err);
	free(dd);
	return rc != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int
cli_start(struct cli *x, void *opts)
{
	struct start_opts *o = opts;
	char *err = NULL;
	int rc;

	char host[256];

	/* A joining worker without a name takes its machine's: a container's
	 * host name is unique among its replicas (compose --scale, a
	 * Kubernetes Deployment), and stays its own across restarts. */
	if (o->node == NULL && o->join) {
		if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
			return cli_usage_error(x, "--join without --node needs "
			                       "this machine's host name");
		host[sizeof host - 1] = '\0';
		o->node = host;
	}
	if (o->node == NULL)
		return cli_usage_error(x, "--node NAME is required");
	if (cli_config(x, NULL) != 0)
		return CLI_EXIT_FAIL;
	if (config_is_master(x->conf, o->node)) {
		rc = master_run(x->conf, &err) != 0;
	} else if (config_worker(x->conf, o->node) != NULL) {
		rc = worker_run(x->conf, config_worker(x->conf, o->node),
		                &err) != 0;
	} else if (o->join) {
		if ((rc = cli_start_joining(x, o, &err)) == CLI_EXIT_USAGE)
			return rc;
	} else {
		fprintf(stderr, "kiln start: no node '%s' in %s (use --join to "
		        "add a worker)\n", o->node, x->conf->path);
		return CLI_EXIT_FAIL;
	}
	if (rc != 0)
		fprintf(stderr, "kiln: %s\n", err ? err : "failed");
	free(err);
	return rc != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int
cli_up(struct cli *x, void *opts)
{
	char *err = NULL;

	if (cli_config(x, NULL) != 0)
		return CLI_EXIT_FAIL;
	int rc = up_run(x->argv0, cli_config_path(x), x->conf, &err);
	if (rc != 0)
		fprintf(stderr, "kiln up: %s\n", err);
	free(err);
	return rc != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ============================================================ commands */

static const struct cli_opt start_options[] = {
	{ "node", 'n', CLI_STRING, offsetof(struct start_opts, node), 0, 0,
	  NULL },
	{ "join", 0, CLI_FLAG, offsetof(struct start_opts, join), 0, 0, NULL },
	{ "slots", 0, CLI_STRING, offsetof(struct start_opts, slots), 0, 0,
	  NULL },
	{ "memory", 0, CLI_STRING, offsetof(struct start_opts, memory), 0, 0,
	  NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL }
};

const struct cli_cmd cli_cmd_up = {
	.name = "up", .args = "", .usage = "up [-c FILE]",
	.summary = "start the master and this machine's workers (foreground)",
	.help =
	"Start the master and every worker of FILE whose host is this machine,\n"
	"in the foreground, like docker-compose up.  A node that dies is\n"
	"restarted after a backoff; one that dies 5 times within 60 s is given\n"
	"up on (if it is the master, kiln up stops and fails).  SIGINT or\n"
	"SIGTERM stops them all (workers first).\n\n"
	"  -c, --config FILE  cluster config\n"
	"  -h, --help         display this help and exit\n",
	.flags = CLI_CONFIG,
	.exec = cli_up,
};

const struct cli_cmd cli_cmd_start = {
	.name = "start", .args = "--node NAME",
	.usage = "start [-c FILE] {--node NAME | --join} [--slots N] [--memory SIZE]",
	.summary = "run one node of the cluster; its role comes from the config",
	.help =
	"Run node NAME of the cluster in FILE in the foreground: the master if\n"
	"NAME is the master's name, else the worker of that name.\n\n"
	"  -c, --config FILE  cluster config\n"
	"  -n, --node NAME    the node to run\n"
	"      --join         run a worker not listed in FILE; it joins the\n"
	"                     master with the cluster secret (NAME defaults\n"
	"                     to this machine's host name)\n"
	"      --slots N      its task slots (default 1)\n"
	"      --memory SIZE  its memory for tasks (default 1GiB)\n"
	"  -h, --help         display this help and exit\n\n"
	"Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on error.\n",
	.flags = CLI_CONFIG,
	.opts = start_options, .opts_size = sizeof(struct start_opts),
	.exec = cli_start,
};
