/*
 * cli.c - the client commands of the kiln binary: `kiln ping`, `submit`,
 * `jobs`, `job`, `logs`, `cancel`, `workers`, `plugins` and `token` for
 * jobs, and `dags`, `dag ...`, `runs`, `run show` and `task ...` for
 * pipelines (the Airflow CLI's role).  Each turns its arguments into one
 * call (or, for `submit --wait` and `dag trigger --wait`, a series of
 * polls) on the master's JSON API through client.c, and prints the answer
 * as an aligned table, a key: value listing, or with --json the master's
 * own JSON.
 *
 * Commands are rows of one table (as in tmux's cmd-*.c entries): name,
 * usage, help text, options and a run function.  A command of two words
 * ("dag trigger") belongs to a group ("dag") that has its own --help
 * listing its commands.  Option parsing is shared: getopt_long() over the
 * command's options plus the global ones (--master, --json, -c, --help),
 * with positional arguments allowed between options.
 *
 * Exit status: 0 success, 1 failure (the master said no, could not be
 * reached, or a waited-for job did not succeed), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "cron.h"
#include "xalloc.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/usr/local/etc"
#endif

#define CLI_EXIT_OK     0
#define CLI_EXIT_FAIL   1
#define CLI_EXIT_USAGE  2

#define CLI_WAIT_S          30          /* long-poll length asked of the master */
#define CLI_WAIT_RETRY_MS   60000       /* how long --wait rides out an outage */
#define CLI_RUN_POLL_MS     200         /* dag trigger --wait: poll interval */
#define CLI_RUN_TIMEOUT_MS  300000      /* ... and how long by default */

/* Long-only options. */
enum {
	OPT_MASTER = 256, OPT_JSON, OPT_PARAMS_JSON, OPT_PRIORITY,
	OPT_RETRIES, OPT_SLOTS, OPT_MEMORY, OPT_TIMEOUT, OPT_WAIT, OPT_STATE,
	OPT_PLUGIN, OPT_LIMIT, OPT_BEFORE, OPT_ATTEMPT, OPT_NAME, OPT_ROLE,
	OPT_FROM, OPT_TO, OPT_DOWNSTREAM,
};

/* One invocation. */
struct cli {
	const char *name;               /* the command, "submit", "dag show" */
	char *prog;                     /* "kiln submit", for messages */
	const char *config_path;        /* -c, or NULL */
	const char *master;             /* --master, or NULL */
	int json;                       /* --json */
	struct kiln_config *conf;       /* loaded on demand */
	char *url;                      /* the master's base URL */
	client *cl;
};

/* Everything any command's options can set. */
struct cli_opts {
	json_t *params;                 /* -p KEY=VALUE, in order */
	const char *params_json;
	int has_priority, has_retries, has_slots, has_memory, has_timeout;
	long long priority, retries, slots, memory, timeout_ms;
	int wait;
	const char *state, *plugin;
	long long limit, before, attempt;
	const char *token_name, *role;
	const char *from, *to;          /* dag backfill */
	int downstream;                 /* task clear */
	char **pos;                     /* positional arguments */
	int npos;
};

struct cli_cmd {
	const char *name;               /* "jobs", or "GROUP COMMAND" */
	const char *args;               /* after "kiln NAME" in the usage */
	const char *summary;
	const char *help;               /* description and command options */
	const char *shortopts;
	const struct option *longopts;
	int min_args, max_args;
	int (*run)(struct cli *x, struct cli_opts *o);
};

/* ================================================================ output */

static void
cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

/* Integer member KEY of O (0 if absent or null). */
static int64_t
cli_jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return 0;
}

/* String member KEY of O, or DFLT. */
static const char *
cli_jstr(const json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) && json_string_value(v)[0] != '\0' ?
	       json_string_value(v) : dflt;
}

/* "2026-11-24 08:01:02" (UTC) or "-" for no time. */
static const char *
cli_fmt_time(int64_t ms, char buf[32])
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return strcpy(buf, "-");
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* "15ms", "1.2s", "30s", "2m05s", "3h20m". */
static const char *
cli_fmt_dur(int64_t ms, char buf[32])
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, 32, "%" PRId64 "ms", ms);
	else if (ms < 60000 && ms % 1000 == 0)
		snprintf(buf, 32, "%" PRId64 "s", ms / 1000);
	else if (ms < 60000)
		snprintf(buf, 32, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, 32, "%" PRId64 "m%02" PRId64 "s", ms / 60000,
		         ms / 1000 % 60);
	else
		snprintf(buf, 32, "%" PRId64 "h%02" PRId64 "m", ms / 3600000,
		         ms / 60000 % 60);
	return buf;
}

/* "512MiB", "1.5GiB", "100B". */
static const char *
cli_fmt_size(int64_t bytes, char buf[32])
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0 || v == (double)(int64_t)v)
		snprintf(buf, 32, "%.0f%s", v, units[u]);
	else
		snprintf(buf, 32, "%.1f%s", v, units[u]);
	return buf;
}

/* The run time of something that started at START and finished at END
 * (0 = still running, measured to now); "-" if it never started. */
static const char *
cli_fmt_span(int64_t start, int64_t end, char buf[32])
{
	if (start <= 0)
		return strcpy(buf, "-");
	return cli_fmt_dur((end > 0 ? end : clock_now_ms()) - start, buf);
}

/*
 * A time the master sent as ISO 8601 text ("2026-11-23T00:00:00+00:00",
 * as Airflow's logical dates) shown like cli_fmt_time() when it is UTC,
 * so that one table does not mix styles; any other form is returned as it
 * is, and NULL as "-".
 */
static const char *
cli_fmt_iso(const char *s, char buf[32])
{
	if (s == NULL)
		return "-";
	if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return s;
	const char *zone = s + 19;
	if (*zone == '.')
		zone += 1 + strspn(zone + 1, "0123456789");
	if (*zone != '\0' && strcmp(zone, "Z") != 0 &&
	    strcmp(zone, "+00:00") != 0)
		return s;
	memcpy(buf, s, 19);
	buf[10] = ' ';
	buf[19] = '\0';
	return buf;
}

/*
 * A table printed with aligned columns: two spaces apart, the last column
 * unpadded.  Widths count UTF-8 characters, not bytes, so descriptions in
 * other scripts stay aligned.
 */
struct cli_table {
	int ncol;
	size_t nrows;
	char **cells;           /* nrows * ncol, owned */
};

static void
cli_table_row(struct cli_table *t, ...)
{
	va_list ap;

	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncol * sizeof *t->cells);
	va_start(ap, t);
	for (int i = 0; i < t->ncol; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncol + i] = xstrdup(s != NULL ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

static size_t
cli_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void
cli_table_print(struct cli_table *t, const char *indent)
{
	size_t *w = xcalloc(t->ncol, sizeof *w);

	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncol; i++) {
			size_t n = cli_width(t->cells[r * t->ncol + i]);
			if (n > w[i])
				w[i] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		int last = t->ncol - 1;
		/* No padding after the last non-empty cell. */
		while (last > 0 && t->cells[r * t->ncol + last][0] == '\0')
			last--;
		fputs(indent, stdout);
		for (int i = 0; i <= last; i++) {
			const char *s = t->cells[r * t->ncol + i];
			fputs(s, stdout);
			if (i == last)
				break;
			printf("%*s", (int)(w[i] - cli_width(s) + 2), "");
		}
		putchar('\n');
	}
	for (size_t i = 0; i < t->nrows * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	t->cells = NULL;
	t->nrows = 0;
}

/* Append S to the malloc()ed list *LIST with ", " between items. */
static void
cli_list_add(char **list, const char *s)
{
	char *n = *list == NULL ? xstrdup(s) : xasprintf("%s, %s", *list, s);

	free(*list);
	*list = n;
}

/* ============================================================ arguments */

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

static int
cli_usage_error(struct cli *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
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

/* Parse a whole decimal integer in [MIN, MAX] for option WHAT. */
static int
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

static int
cli_job_id(struct cli *x, const char *s, long long *id)
{
	return cli_int(x, "job ID", s, 1, INT64_MAX, id);
}

/* Handle option CH of the command being parsed.  0 or an exit status. */
static int
cli_option(struct cli *x, struct cli_opts *o, int ch, const char *arg)
{
	int64_t v;

	switch (ch) {
	case OPT_MASTER:
		x->master = arg;
		return 0;
	case OPT_JSON:
		x->json = 1;
		return 0;
	case 'c':
		x->config_path = arg;
		return 0;
	case 'p': {
		const char *eq = strchr(arg, '=');
		if (eq == NULL || eq == arg)
			return cli_usage_error(x, "-p expects KEY=VALUE, got "
			                       "'%s'", arg);
		char *key = xstrndup(arg, (size_t)(eq - arg));
		json_object_set_new(o->params, key, cli_param_value(eq + 1));
		free(key);
		return 0;
	}
	case OPT_PARAMS_JSON:
		o->params_json = arg;
		return 0;
	case OPT_PRIORITY:
		o->has_priority = 1;
		return cli_int(x, "--priority", arg, INT32_MIN, INT32_MAX,
		               &o->priority);
	case OPT_RETRIES:
		o->has_retries = 1;
		return cli_int(x, "--retries", arg, 0, 1000, &o->retries);
	case OPT_SLOTS:
		o->has_slots = 1;
		return cli_int(x, "--slots", arg, 1, 1 << 20, &o->slots);
	case OPT_MEMORY:
		if (config_parse_size(arg, &v) < 0 || v < 0)
			return cli_usage_error(x, "invalid --memory '%s' "
			                       "(expected a size like 512MiB "
			                       "or 2GiB)", arg);
		o->has_memory = 1;
		o->memory = v;
		return 0;
	case OPT_TIMEOUT:
		if (config_parse_duration_ms(arg, &v) < 0 || v <= 0)
			return cli_usage_error(x, "invalid --timeout '%s' "
			                       "(expected a duration like 90s, "
			                       "5m or 2h)", arg);
		o->has_timeout = 1;
		o->timeout_ms = v;
		return 0;
	case OPT_WAIT:
		o->wait = 1;
		return 0;
	case OPT_STATE:
		o->state = arg;
		return 0;
	case OPT_PLUGIN:
		o->plugin = arg;
		return 0;
	case OPT_LIMIT:
		return cli_int(x, "--limit", arg, 1, 1000000, &o->limit);
	case OPT_BEFORE:
		/* A job ID for `jobs`, a run's row number for `runs`. */
		return cli_int(x, "--before", arg, 1, INT64_MAX, &o->before);
	case OPT_ATTEMPT:
		return cli_int(x, "--attempt", arg, 1, INT32_MAX, &o->attempt);
	case OPT_NAME:
		o->token_name = arg;
		return 0;
	case OPT_ROLE:
		if (strcmp(arg, "admin") != 0 && strcmp(arg, "viewer") != 0)
			return cli_usage_error(x, "invalid --role '%s' "
			                       "(expected admin or viewer)", arg);
		o->role = arg;
		return 0;
	case OPT_FROM:
	case OPT_TO: {
		/* The master's own date parser, so that what passes here is
		 * what it accepts. */
		char *err = NULL;
		int64_t t;
		if (cron_parse_date(arg, &t, &err) < 0) {
			int rc = cli_usage_error(x, "invalid %s: %s",
			                         ch == OPT_FROM ? "--from" : "--to",
			                         err != NULL ? err : "not a date");
			free(err);
			return rc;
		}
		*(ch == OPT_FROM ? &o->from : &o->to) = arg;
		return 0;
	}
	case OPT_DOWNSTREAM:
		o->downstream = 1;
		return 0;
	}
	return cli_usage_error(x, "unhandled option");
}

static const struct option cli_global_opts[] = {
	{ "master", required_argument, NULL, OPT_MASTER },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
};
#define CLI_NGLOBAL (sizeof cli_global_opts / sizeof cli_global_opts[0])

#define CLI_HELP (-1)

/*
 * Parse ARGV (ARGV[0] is the command) into X and O.  Returns 0, CLI_HELP
 * for --help, or CLI_EXIT_USAGE after printing the problem.  Options and
 * positional arguments may be mixed ("kiln submit noop -p x=1"); "--" ends
 * the options.
 */
static int
cli_parse(struct cli *x, const struct cli_cmd *cmd, struct cli_opts *o,
          int argc, char **argv)
{
	size_t nlong = 0;
	int rc = 0, help = 0;

	while (cmd->longopts != NULL && cmd->longopts[nlong].name != NULL)
		nlong++;
	struct option *longopts = xcalloc(nlong + CLI_NGLOBAL + 1,
	                                  sizeof *longopts);
	if (nlong > 0)
		memcpy(longopts, cmd->longopts, nlong * sizeof *longopts);
	memcpy(longopts + nlong, cli_global_opts, sizeof cli_global_opts);
	char *shortopts = xasprintf("+%sc:h", cmd->shortopts);

	/* getopt prints its complaints under argv[0]: make that
	 * "kiln submit", and keep the caller's argv unpermuted. */
	char **av = xcalloc((size_t)argc + 1, sizeof *av);
	av[0] = x->prog;
	for (int i = 1; i < argc; i++)
		av[i] = argv[i];
	o->pos = xcalloc((size_t)argc + 1, sizeof *o->pos);

	optind = 0;     /* glibc: start afresh, main() may have used getopt */
	opterr = 1;
	while (rc == 0) {
		int before = optind == 0 ? 1 : optind;
		int ch = getopt_long(argc, av, shortopts, longopts, NULL);
		if (ch == -1) {
			if (optind >= argc)
				break;
			if (optind == before + 1 && strcmp(av[before], "--") == 0) {
				while (optind < argc)
					o->pos[o->npos++] = av[optind++];
				break;
			}
			/* A positional argument: take it and go on. */
			o->pos[o->npos++] = av[optind++];
			continue;
		}
		if (ch == '?') {
			fprintf(stderr, "Try '%s --help'.\n", x->prog);
			rc = CLI_EXIT_USAGE;
		} else if (ch == 'h') {
			help = 1;
		} else {
			rc = cli_option(x, o, ch, optarg);
		}
	}
	free(av);
	free(shortopts);
	free(longopts);
	if (rc != 0)
		return rc;
	if (help)
		return CLI_HELP;
	if (o->npos < cmd->min_args)
		return cli_usage_error(x, "missing operand (usage: %s %s)",
		                       x->prog, cmd->args);
	if (o->npos > cmd->max_args)
		return cli_usage_error(x, "unexpected argument '%s'",
		                       o->pos[cmd->max_args]);
	return 0;
}

/* =========================================================== connection */

static const char *
cli_config_path(const struct cli *x)
{
	if (x->config_path != NULL)
		return x->config_path;
	if (access("conf/cluster.yaml", F_OK) == 0)
		return "conf/cluster.yaml";
	return SYSCONFDIR "/kiln/cluster.yaml";
}

/* Load the cluster config once.  0, or 1 after printing why not. */
static int
cli_config(struct cli *x, const char *why)
{
	char *err = NULL;

	if (x->conf != NULL)
		return 0;
	if (config_load(cli_config_path(x), &x->conf, &err) < 0) {
		fprintf(stderr, "kiln: %s\nkiln: the cluster config is needed "
		        "for %s\n", err != NULL ? err : "cannot load config",
		        why);
		free(err);
		x->conf = NULL;
		return 1;
	}
	return 0;
}

/* "http://HOST:PORT" from the config; a wildcard listen address means
 * the master is on this machine. */
static char *
cli_config_url(const struct kiln_config *c)
{
	const char *host = c->master.host != NULL ? c->master.host : "127.0.0.1";

	if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (strchr(host, ':') != NULL && host[0] != '[')
		return xasprintf("http://[%s]:%d", host, c->master.port);
	return xasprintf("http://%s:%d", host, c->master.port);
}

/*
 * Find the master and make the client.  AUTH: sign requests (or send
 * $KILN_TOKEN).  0, or an exit status after printing the problem.
 */
static int
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
		x->url = cli_config_url(x->conf);

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
	if (secret != NULL) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	if (rc < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Print the master's error for an HTTP failure: "kiln: MESSAGE (HTTP N)". */
static void
cli_http_error(long status, const json_t *reply, const char *text)
{
	const char *msg = cli_jstr(reply, "error", NULL);

	if (msg != NULL)
		fprintf(stderr, "kiln: %s (HTTP %ld)\n", msg, status);
	else if (text != NULL && text[0] != '\0' && strlen(text) < 200)
		fprintf(stderr, "kiln: %s%s(HTTP %ld)\n", text,
		        text[strlen(text) - 1] == '\n' ? "" : " ", status);
	else
		fprintf(stderr, "kiln: the master answered HTTP %ld\n", status);
}

/*
 * METHOD PATH with BODY (borrowed).  0 with *reply (a JSON value) on a 2xx
 * answer; otherwise prints the problem and returns CLI_EXIT_FAIL.
 */
static int
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
static char *
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
static void
cli_query_add(char **q, const char *name, const char *value)
{
	char *enc = cli_escape(value);
	char *nq = xasprintf("%s%c%s=%s", *q, strchr(*q, '?') ? '&' : '?',
	                     name, enc);
	free(enc);
	free(*q);
	*q = nq;
}

/*
 * GET PATH and copy the reply to stdout as it came (a log is text/plain).
 * Returns an exit status after printing any problem.
 */
static int
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
	fwrite(text, 1, len, stdout);
	free(text);
	return CLI_EXIT_OK;
}

/* ============================================================= commands */

static int
cli_ping(struct cli *x, struct cli_opts *o)
{
	char *err = NULL;
	json_t *reply = NULL;
	long status;
	int rc = cli_connect(x, 0);

	if (rc != 0)
		return rc;
	if (client_request(x->cl, "GET", "/api/v1/health", NULL, 5000,
	                   &status, &reply, &err) < 0) {
		fprintf(stderr, "kiln: %s\n", err);
		free(err);
		return CLI_EXIT_FAIL;
	}
	const char *st = cli_jstr(reply, "status", NULL);
	int ok = status == 200 && st != NULL && strcmp(st, "ok") == 0;
	if (x->json && reply != NULL) {
		cli_print_json(reply);
	} else if (ok) {
		printf("master at %s: ok (version %s, %" PRId64 " workers "
		       "alive)\n", x->url, cli_jstr(reply, "version", "?"),
		       cli_jint(reply, "workers_alive"));
	} else {
		printf("master at %s: %s (HTTP %ld)\n", x->url,
		       st != NULL ? st : cli_jstr(reply, "error", "not ok"),
		       status);
	}
	json_decref(reply);
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int
cli_is_final(const json_t *job)
{
	const char *st = cli_jstr(job, "state", "");

	return strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
	       strcmp(st, "cancelled") == 0 || cli_jint(job, "finished_ms") > 0;
}

/*
 * Long-poll job ID until it reaches a final state; *job is its last
 * description.  A master that goes away (restarts, fails over) is waited
 * for up to CLI_WAIT_RETRY_MS: the job lives on in its store.
 */
static int
cli_wait(struct cli *x, long long id, json_t **job)
{
	char *path = xasprintf("/api/v1/jobs/%lld?wait=%d", id, CLI_WAIT_S);
	int64_t down_since = 0;
	int rc = CLI_EXIT_FAIL;

	*job = NULL;
	for (;;) {
		char *err = NULL;
		json_t *reply = NULL;
		long status = 0;

		if (client_request(x->cl, "GET", path, NULL,
		                   (CLI_WAIT_S + 15) * 1000L, &status, &reply,
		                   &err) < 0 ||
		    status == 502 || status == 503 || status == 504) {
			int64_t now = clock_mono_ms();
			if (down_since == 0) {
				fprintf(stderr, "kiln: %s; retrying\n",
				        err != NULL ? err : "master unavailable");
				down_since = now;
			}
			if (now - down_since > CLI_WAIT_RETRY_MS) {
				fprintf(stderr, "kiln: gave up waiting for "
				        "job %lld: master unreachable for %ds\n",
				        id, CLI_WAIT_RETRY_MS / 1000);
				free(err);
				json_decref(reply);
				break;
			}
			free(err);
			json_decref(reply);
			sleep(1);
			continue;
		}
		down_since = 0;
		if (status < 200 || status > 299 || !json_is_object(reply)) {
			cli_http_error(status, reply, NULL);
			json_decref(reply);
			break;
		}
		if (cli_is_final(reply)) {
			*job = reply;
			rc = CLI_EXIT_OK;
			break;
		}
		json_decref(reply);
	}
	free(path);
	return rc;
}

static int
cli_submit(struct cli *x, struct cli_opts *o)
{
	json_t *params, *reply = NULL;
	json_error_t jerr;
	int rc;

	if (o->params_json != NULL) {
		params = json_loads(o->params_json, 0, &jerr);
		if (!json_is_object(params)) {
			json_decref(params);
			return cli_usage_error(x, "--params-json must be a JSON "
			                       "object: %s", params != NULL ?
			                       "got another type" : jerr.text);
		}
		/* -p settings override keys of --params-json. */
		json_object_update(params, o->params);
	} else {
		params = json_incref(o->params);
	}
	json_t *req = json_object();
	json_object_set_new(req, "plugin", json_string(o->pos[0]));
	json_object_set_new(req, "params", params);
	if (o->has_priority)
		json_object_set_new(req, "priority", json_integer(o->priority));
	if (o->has_retries)
		json_object_set_new(req, "retries", json_integer(o->retries));
	if (o->has_slots)
		json_object_set_new(req, "slots", json_integer(o->slots));
	if (o->has_memory)
		json_object_set_new(req, "memory", json_integer(o->memory));
	if (o->has_timeout)
		json_object_set_new(req, "timeout_ms",
		                    json_integer(o->timeout_ms));

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "POST", "/api/v1/jobs", req, 0, &reply)) != 0) {
		json_decref(req);
		return rc;
	}
	json_decref(req);
	long long id = (long long)cli_jint(reply, "id");
	if (id <= 0) {
		fprintf(stderr, "kiln: the master's reply has no job id\n");
		json_decref(reply);
		return CLI_EXIT_FAIL;
	}
	if (!o->wait) {
		if (x->json)
			cli_print_json(reply);
		else
			printf("%lld\n", id);
		json_decref(reply);
		return CLI_EXIT_OK;
	}
	json_decref(reply);
	if (!x->json) {
		printf("%lld\n", id);
		fflush(stdout);
	}

	json_t *job;
	if ((rc = cli_wait(x, id, &job)) != 0)
		return rc;
	const char *state = cli_jstr(job, "state", "?");
	int ok = strcmp(state, "succeeded") == 0;
	if (x->json) {
		cli_print_json(job);
	} else {
		const char *error = cli_jstr(job, "error", NULL);
		json_t *result = json_object_get(job, "result");
		printf("job %lld %s%s%s\n", id, state, error ? ": " : "",
		       error ? error : "");
		if (result != NULL && !json_is_null(result))
			cli_print_json(result);
	}
	json_decref(job);
	return ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int
cli_jobs(struct cli *x, struct cli_opts *o)
{
	char *path = xstrdup("/api/v1/jobs"), buf[32];
	json_t *reply;
	int rc;

	if (o->state != NULL)
		cli_query_add(&path, "state", o->state);
	if (o->plugin != NULL)
		cli_query_add(&path, "plugin", o->plugin);
	if (o->limit > 0) {
		snprintf(buf, sizeof buf, "%lld", o->limit);
		cli_query_add(&path, "limit", buf);
	}
	if (o->before > 0) {
		snprintf(buf, sizeof buf, "%lld", o->before);
		cli_query_add(&path, "before", buf);
	}
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, &reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	struct cli_table t = { .ncol = 7 };
	json_t *jobs = json_object_get(reply, "jobs"), *j;
	size_t i;
	cli_table_row(&t, "ID", "PLUGIN", "STATE", "ATTEMPTS", "WORKER",
	              "CREATED(UTC)", "DURATION");
	json_array_foreach(jobs, i, j) {
		char id[24], att[48], created[32], dur[32];
		int64_t max = cli_jint(j, "max_attempts");
		snprintf(id, sizeof id, "%" PRId64, cli_jint(j, "id"));
		if (max > 0)
			snprintf(att, sizeof att, "%" PRId64 "/%" PRId64,
			         cli_jint(j, "attempt"), max);
		else
			snprintf(att, sizeof att, "%" PRId64,
			         cli_jint(j, "attempt"));
		cli_table_row(&t, id, cli_jstr(j, "plugin", "-"),
		              cli_jstr(j, "state", "-"), att,
		              cli_jstr(j, "worker", "-"),
		              cli_fmt_time(cli_jint(j, "created_ms"), created),
		              cli_fmt_span(cli_jint(j, "started_ms"),
		                           cli_jint(j, "finished_ms"), dur));
	}
	if (json_array_size(jobs) == 0)
		printf("no jobs\n");
	else
		cli_table_print(&t, "");
	free(t.cells);
	/* To stderr, so that scripts reading the table are not confused. */
	if (cli_jint(reply, "next_before") > 0)
		fprintf(stderr, "(more: kiln jobs --before %" PRId64 ")\n",
		        cli_jint(reply, "next_before"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* "KEY: VALUE" with the values aligned at column WIDTH + 1. */
static void
cli_kvw(int width, const char *key, const char *value)
{
	printf("%-*s %s\n", width, key, value);
}

static void
cli_kv(const char *key, const char *value)
{
	cli_kvw(10, key, value);
}

/* KEY: VALUE where VALUE is compact JSON; skipped when null/absent. */
static void
cli_kvw_json(int width, const char *key, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	cli_kvw(width, key, s != NULL ? s : "?");
	free(s);
}

static void
cli_kv_json(const char *key, const json_t *v)
{
	cli_kvw_json(10, key, v);
}

static int
cli_job(struct cli *x, struct cli_opts *o)
{
	long long id;
	json_t *j;
	char buf[64], buf2[32];
	int rc;

	if ((rc = cli_job_id(x, o->pos[0], &id)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/jobs/%lld", id);
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, &j);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(j);
		json_decref(j);
		return CLI_EXIT_OK;
	}

	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "id"));
	cli_kv("id:", buf);
	cli_kv("plugin:", cli_jstr(j, "plugin", "-"));
	cli_kv("state:", cli_jstr(j, "state", "-"));
	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "priority"));
	cli_kv("priority:", buf);
	snprintf(buf, sizeof buf, "%" PRId64, cli_jint(j, "slots"));
	cli_kv("slots:", buf);
	cli_kv("memory:", cli_jint(j, "memory") > 0 ?
	       cli_fmt_size(cli_jint(j, "memory"), buf2) : "-");
	cli_kv("timeout:", cli_jint(j, "timeout_ms") > 0 ?
	       cli_fmt_dur(cli_jint(j, "timeout_ms"), buf2) : "none");
	snprintf(buf, sizeof buf, "%" PRId64 " of %" PRId64,
	         cli_jint(j, "attempt"), cli_jint(j, "max_attempts"));
	cli_kv("attempt:", buf);
	cli_kv("worker:", cli_jstr(j, "worker", "-"));
	cli_kv("created:", cli_fmt_time(cli_jint(j, "created_ms"), buf2));
	cli_kv("started:", cli_fmt_time(cli_jint(j, "started_ms"), buf2));
	cli_kv("finished:", cli_fmt_time(cli_jint(j, "finished_ms"), buf2));
	cli_kv("duration:", cli_fmt_span(cli_jint(j, "started_ms"),
	                                 cli_jint(j, "finished_ms"), buf2));
	cli_kv_json("params:", json_object_get(j, "params"));
	cli_kv_json("result:", json_object_get(j, "result"));
	if (cli_jstr(j, "error", NULL) != NULL)
		cli_kv("error:", cli_jstr(j, "error", NULL));

	json_t *atts = json_object_get(j, "attempts"), *a;
	size_t i;
	if (json_array_size(atts) > 0) {
		struct cli_table t = { .ncol = 6 };
		printf("attempts:\n");
		cli_table_row(&t, "ATTEMPT", "WORKER", "STATE", "STARTED(UTC)",
		              "DURATION", "ERROR");
		json_array_foreach(atts, i, a) {
			char n[24], started[32], dur[32];
			snprintf(n, sizeof n, "%" PRId64, cli_jint(a, "attempt"));
			cli_table_row(&t, n, cli_jstr(a, "worker", "-"),
			              cli_jstr(a, "state", "-"),
			              cli_fmt_time(cli_jint(a, "started_ms"),
			                           started),
			              cli_fmt_span(cli_jint(a, "started_ms"),
			                           cli_jint(a, "finished_ms"),
			                           dur),
			              cli_jstr(a, "error", ""));
		}
		cli_table_print(&t, "  ");
	}
	json_decref(j);
	return CLI_EXIT_OK;
}

static int
cli_logs(struct cli *x, struct cli_opts *o)
{
	long long id;
	int rc;

	if ((rc = cli_job_id(x, o->pos[0], &id)) != 0)
		return rc;
	if ((rc = cli_connect(x, 1)) != 0)
		return rc;
	char *path = o->attempt > 0 ?
	        xasprintf("/api/v1/jobs/%lld/log?attempt=%lld", id, o->attempt) :
	        xasprintf("/api/v1/jobs/%lld/log", id);
	rc = cli_print_text(x, path);
	free(path);
	return rc;
}

static int
cli_cancel(struct cli *x, struct cli_opts *o)
{
	long long id;
	json_t *reply;
	int rc;

	if ((rc = cli_job_id(x, o->pos[0], &id)) != 0)
		return rc;
	char *path = xasprintf("/api/v1/jobs/%lld/cancel", id);
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, NULL, 0, &reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		printf("job %lld %s\n", id, cli_jstr(reply, "state", "cancelled"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_workers(struct cli *x, struct cli_opts *o)
{
	json_t *reply, *w, *p;
	size_t i, k;
	int rc, unlisted = 0;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/workers", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *workers = json_object_get(reply, "workers");
	struct cli_table t = { .ncol = 9 };
	cli_table_row(&t, "NAME", "HOST", "STATE", "SLOTS", "MEMORY",
	              "HEARTBEAT", "DONE", "FAILED", "PLUGINS");
	json_array_foreach(workers, i, w) {
		char state[32], slots[48], mem[80], m1[32], m2[32], hb[32];
		char done[24], failed[24], *plugins = NULL;
		json_t *listed = json_object_get(w, "listed");
		int is_unlisted = json_is_false(listed);

		unlisted |= is_unlisted;
		snprintf(state, sizeof state, "%s%s",
		         cli_jstr(w, "state", "-"), is_unlisted ? "*" : "");
		snprintf(slots, sizeof slots, "%" PRId64 "/%" PRId64,
		         cli_jint(w, "slots_busy"), cli_jint(w, "slots"));
		snprintf(mem, sizeof mem, "%s/%s",
		         cli_fmt_size(cli_jint(w, "memory_busy"), m1),
		         cli_fmt_size(cli_jint(w, "memory"), m2));
		snprintf(done, sizeof done, "%" PRId64,
		         cli_jint(w, "tasks_done"));
		snprintf(failed, sizeof failed, "%" PRId64,
		         cli_jint(w, "tasks_failed"));
		if (json_object_get(w, "heartbeat_age_ms") != NULL)
			snprintf(hb, sizeof hb, "%s ago", cli_fmt_dur(
			         cli_jint(w, "heartbeat_age_ms"), m1));
		else
			strcpy(hb, "-");
		json_array_foreach(json_object_get(w, "plugins"), k, p) {
			char *s = xasprintf("%s %s", cli_jstr(p, "name", "?"),
			                    cli_jstr(p, "version", "?"));
			cli_list_add(&plugins, s);
			free(s);
		}
		cli_table_row(&t, cli_jstr(w, "name", "-"),
		              cli_jstr(w, "host", "-"), state, slots, mem, hb,
		              done, failed, plugins != NULL ? plugins : "-");
		free(plugins);
	}
	if (json_array_size(workers) == 0)
		printf("no workers\n");
	else
		cli_table_print(&t, "");
	free(t.cells);
	if (unlisted)
		printf("* not listed in the cluster config\n");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_plugins(struct cli *x, struct cli_opts *o)
{
	json_t *reply, *p, *w;
	size_t i, k;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/plugins", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *plugins = json_object_get(reply, "plugins");
	struct cli_table t = { .ncol = 4 };
	cli_table_row(&t, "NAME", "VERSION", "WORKERS", "DESCRIPTION");
	json_array_foreach(plugins, i, p) {
		char *workers = NULL;
		json_array_foreach(json_object_get(p, "workers"), k, w)
			if (json_is_string(w))
				cli_list_add(&workers, json_string_value(w));
		cli_table_row(&t, cli_jstr(p, "name", "-"),
		              cli_jstr(p, "version", "-"),
		              workers != NULL ? workers : "-",
		              cli_jstr(p, "description", ""));
		free(workers);
	}
	if (json_array_size(plugins) == 0)
		printf("no plugins\n");
	else
		cli_table_print(&t, "");
	free(t.cells);
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_token(struct cli *x, struct cli_opts *o)
{
	json_t *reply;
	int rc;

	if (strcmp(o->pos[0], "create") != 0)
		return cli_usage_error(x, "unknown subcommand '%s' (expected "
		                       "'create')", o->pos[0]);
	json_t *req = json_object();
	if (o->token_name != NULL)
		json_object_set_new(req, "name", json_string(o->token_name));
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

/* ============================================================ pipelines */

/* "N THING" or "N THINGs". */
static void
cli_count(const char *verb, int64_t n, const char *thing)
{
	printf("%s %" PRId64 " %s%s\n", verb, n, thing, n == 1 ? "" : "s");
}

/* "/api/v1/WHAT/ID" plus SUFFIX, with ID percent-encoded; caller frees. */
static char *
cli_path(const char *what, const char *id, const char *suffix)
{
	char *enc = cli_escape(id);
	char *path = xasprintf("/api/v1/%s/%s%s", what, enc, suffix);

	free(enc);
	return path;
}

/* A run's last_run-style summary: "2026-11-23 00:00:00 (success)". */
static char *
cli_last_run(const json_t *last)
{
	char buf[32];

	if (!json_is_object(last))
		return xstrdup("-");
	return xasprintf("%s (%s)",
	                 cli_fmt_iso(cli_jstr(last, "logical_date", NULL), buf),
	                 cli_jstr(last, "state", "?"));
}

static int
cli_dags(struct cli *x, struct cli_opts *o)
{
	json_t *reply, *d;
	size_t i;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/dags", NULL, 0, &reply)) != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *dags = json_object_get(reply, "dags");
	struct cli_table t = { .ncol = 6 };
	cli_table_row(&t, "DAG", "SCHEDULE", "PAUSED", "NEXT RUN", "LAST RUN",
	              "TASKS");
	json_array_foreach(dags, i, d) {
		char next[32], tasks[24];
		char *last = cli_last_run(json_object_get(d, "last_run"));
		snprintf(tasks, sizeof tasks, "%" PRId64, cli_jint(d, "tasks"));
		cli_table_row(&t, cli_jstr(d, "id", "-"),
		              cli_jstr(d, "schedule", "-"),
		              json_is_true(json_object_get(d, "paused")) ?
		              "yes" : "no",
		              cli_fmt_iso(cli_jstr(d, "next_run", NULL), next),
		              last, tasks);
		free(last);
	}
	if (json_array_size(dags) == 0)
		printf("no DAGs\n");
	else
		cli_table_print(&t, "");
	free(t.cells);
	json_decref(reply);

	/* A DAG file that failed to load is missing from the list above:
	 * say so (on stderr, like the paging hint of `kiln jobs`).  The list
	 * itself was the answer, so a failure here stays quiet. */
	char *err = NULL;
	long status;
	reply = NULL;
	if (client_request(x->cl, "GET", "/api/v1/dags/errors", NULL, 0,
	                   &status, &reply, &err) == 0 && status == 200) {
		size_t n = json_array_size(json_object_get(reply, "errors"));
		if (n > 0)
			fprintf(stderr, "(%zu DAG file%s failed to load: kiln "
			        "dag errors)\n", n, n == 1 ? "" : "s");
	}
	json_decref(reply);
	free(err);
	return CLI_EXIT_OK;
}

/* The bracketed settings of a task in `dag show`. */
static char *
cli_task_settings(const json_t *t)
{
	char *s = xstrdup(cli_jstr(t, "trigger_rule", "all_success"));
	char buf[32];

	if (cli_jint(t, "retries") > 0) {
		char *r = xasprintf("retries %" PRId64, cli_jint(t, "retries"));
		cli_list_add(&s, r);
		free(r);
		if (cli_jint(t, "retry_delay_ms") > 0) {
			r = xasprintf("retry_delay %s", cli_fmt_dur(
			              cli_jint(t, "retry_delay_ms"), buf));
			cli_list_add(&s, r);
			free(r);
		}
	}
	if (cli_jint(t, "timeout_ms") > 0) {
		char *r = xasprintf("timeout %s",
		                    cli_fmt_dur(cli_jint(t, "timeout_ms"), buf));
		cli_list_add(&s, r);
		free(r);
	}
	/* Every task is in a pool; only a chosen one is worth a word. */
	if (cli_jstr(t, "pool", NULL) != NULL &&
	    strcmp(cli_jstr(t, "pool", NULL), "default") != 0) {
		char *r = xasprintf("pool %s", cli_jstr(t, "pool", NULL));
		cli_list_add(&s, r);
		free(r);
	}
	if (cli_jint(t, "priority") != 0) {
		char *r = xasprintf("priority %" PRId64, cli_jint(t, "priority"));
		cli_list_add(&s, r);
		free(r);
	}
	char *b = xasprintf("[%s]", s);
	free(s);
	return b;
}

#define CLI_KVW 13      /* key width of `dag show` and `run show` */

static int
cli_dag_show(struct cli *x, struct cli_opts *o)
{
	json_t *d, *t, *dep;
	char buf[64];
	size_t i, k;
	int rc;

	char *path = cli_path("dags", o->pos[0], "");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, &d);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(d);
		json_decref(d);
		return CLI_EXIT_OK;
	}

	cli_kvw(CLI_KVW, "dag:", cli_jstr(d, "id", "-"));
	if (cli_jstr(d, "description", NULL) != NULL)
		cli_kvw(CLI_KVW, "description:", cli_jstr(d, "description", ""));
	cli_kvw(CLI_KVW, "file:", cli_jstr(d, "file", "-"));
	cli_kvw(CLI_KVW, "schedule:",
	        cli_jstr(d, "schedule", "none (runs when triggered)"));
	cli_kvw(CLI_KVW, "paused:",
	        json_is_true(json_object_get(d, "paused")) ? "yes" : "no");
	cli_kvw(CLI_KVW, "catchup:",
	        json_is_true(json_object_get(d, "catchup")) ? "yes" : "no");
	snprintf(buf, sizeof buf, "%" PRId64 " (at most %" PRId64 ")",
	         cli_jint(d, "active_runs"), cli_jint(d, "max_active_runs"));
	cli_kvw(CLI_KVW, "active runs:", buf);
	cli_kvw(CLI_KVW, "next run:",
	        cli_fmt_iso(cli_jstr(d, "next_run", NULL), buf));
	char *last = cli_last_run(json_object_get(d, "last_run"));
	cli_kvw(CLI_KVW, "last run:", last);
	free(last);
	json_t *params = json_object_get(d, "params");
	if (json_object_size(params) > 0)
		cli_kvw_json(CLI_KVW, "params:", params);

	/* In the master's order, which is topological: each task comes
	 * after everything it depends on. */
	json_t *tasks = json_object_get(d, "task_list");
	struct cli_table tt = { .ncol = 4 };
	printf("tasks:\n");
	json_array_foreach(tasks, i, t) {
		char *deps = NULL, *arrow, *settings = cli_task_settings(t);
		json_array_foreach(json_object_get(t, "depends_on"), k, dep)
			if (json_is_string(dep))
				cli_list_add(&deps, json_string_value(dep));
		arrow = deps != NULL ? xasprintf("<- %s", deps) : xstrdup("");
		cli_table_row(&tt, cli_jstr(t, "id", "-"),
		              cli_jstr(t, "plugin", "-"), arrow, settings);
		free(arrow);
		free(deps);
		free(settings);
	}
	if (json_array_size(tasks) == 0)
		printf("  none\n");
	else
		cli_table_print(&tt, "  ");
	free(tt.cells);
	json_decref(d);
	return CLI_EXIT_OK;
}

/* A run's task instances as a table (INDENT before each line). */
static void
cli_run_tasks(const json_t *run, const char *indent)
{
	json_t *tasks = json_object_get(run, "tasks"), *t;
	struct cli_table tt = { .ncol = 7 };
	size_t i;

	cli_table_row(&tt, "TASK", "STATE", "TRIES", "WORKER", "DURATION",
	              "JOB", "ERROR");
	json_array_foreach(tasks, i, t) {
		char tries[24], dur[32], job[24];
		snprintf(tries, sizeof tries, "%" PRId64, cli_jint(t, "tries"));
		if (cli_jint(t, "job_id") > 0)
			snprintf(job, sizeof job, "%" PRId64,
			         cli_jint(t, "job_id"));
		else
			strcpy(job, "-");
		cli_table_row(&tt, cli_jstr(t, "task", "-"),
		              cli_jstr(t, "state", "-"), tries,
		              cli_jstr(t, "worker", "-"),
		              cli_fmt_span(cli_jint(t, "started_ms"),
		                           cli_jint(t, "finished_ms"), dur),
		              job, cli_jstr(t, "error", ""));
	}
	if (json_array_size(tasks) == 0)
		printf("%sno tasks\n", indent);
	else
		cli_table_print(&tt, indent);
	free(tt.cells);
}

static int
cli_run_is_final(const json_t *run)
{
	const char *st = cli_jstr(run, "state", "");

	return strcmp(st, "success") == 0 || strcmp(st, "failed") == 0;
}

/*
 * Poll run RUN_ID every CLI_RUN_POLL_MS until it succeeds or fails, for at
 * most TIMEOUT_MS.  0 with *run its final description; on a timeout,
 * CLI_EXIT_FAIL with *run its last one (or NULL).  A master that cannot
 * be reached (restarting, failing over) is retried until the deadline:
 * the run lives on in its store.
 */
static int
cli_run_wait(struct cli *x, const char *run_id, int64_t timeout_ms,
             json_t **run)
{
	char *path = cli_path("runs", run_id, "");
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int rc = CLI_EXIT_FAIL, down = 0;
	char buf[32];

	*run = NULL;
	for (;;) {
		char *err = NULL;
		json_t *reply = NULL;
		long status = 0;

		if (client_request(x->cl, "GET", path, NULL, 10000, &status,
		                   &reply, &err) < 0 ||
		    status == 502 || status == 503 || status == 504) {
			if (!down)
				fprintf(stderr, "kiln: %s; retrying\n",
				        err != NULL ? err : "master unavailable");
			down = 1;
			free(err);
			json_decref(reply);
		} else if (status < 200 || status > 299 ||
		           !json_is_object(reply)) {
			cli_http_error(status, reply, NULL);
			json_decref(reply);
			json_decref(*run);
			*run = NULL;
			break;
		} else {
			down = 0;
			json_decref(*run);
			*run = reply;
			if (cli_run_is_final(reply)) {
				rc = CLI_EXIT_OK;
				break;
			}
		}
		if (clock_mono_ms() >= deadline) {
			if (*run != NULL)
				fprintf(stderr, "kiln: gave up waiting for run %s "
				        "after %s: it is still %s\n", run_id,
				        cli_fmt_dur(timeout_ms, buf),
				        cli_jstr(*run, "state", "?"));
			else
				fprintf(stderr, "kiln: gave up waiting for run %s "
				        "after %s: the master could not be "
				        "reached\n", run_id,
				        cli_fmt_dur(timeout_ms, buf));
			break;
		}
		usleep(CLI_RUN_POLL_MS * 1000);
	}
	free(path);
	return rc;
}

static int
cli_dag_trigger(struct cli *x, struct cli_opts *o)
{
	json_t *reply = NULL;
	int rc;

	if (o->has_timeout && !o->wait)
		return cli_usage_error(x, "--timeout needs --wait");
	json_t *req = json_pack("{s:O}", "conf", o->params);
	char *path = cli_path("dags", o->pos[0], "/trigger");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	char *run_id = xstrdup(cli_jstr(reply, "run_id", NULL));
	if (run_id == NULL) {
		fprintf(stderr, "kiln: the master's reply has no run_id\n");
		json_decref(reply);
		return CLI_EXIT_FAIL;
	}
	if (!o->wait || !x->json) {
		/* The run ID alone on stdout first, for $(kiln dag trigger). */
		if (x->json)
			cli_print_json(reply);
		else
			printf("%s\n", run_id);
		fflush(stdout);
	}
	json_decref(reply);
	if (!o->wait) {
		free(run_id);
		return CLI_EXIT_OK;
	}

	json_t *run;
	rc = cli_run_wait(x, run_id, o->has_timeout ? o->timeout_ms :
	                  CLI_RUN_TIMEOUT_MS, &run);
	if (run != NULL) {
		if (x->json) {
			cli_print_json(run);
		} else {
			printf("run %s %s\n", run_id, cli_jstr(run, "state", "?"));
			cli_run_tasks(run, "");
		}
		if (rc == 0 && strcmp(cli_jstr(run, "state", ""), "success") != 0)
			rc = CLI_EXIT_FAIL;
		json_decref(run);
	}
	free(run_id);
	return rc;
}

static int
cli_dag_pause(struct cli *x, struct cli_opts *o)
{
	int pause = strcmp(x->name, "dag pause") == 0;
	json_t *req = json_object(), *reply;
	int rc;

	char *path = cli_path("dags", o->pos[0], pause ? "/pause" : "/unpause");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		printf("dag %s %s\n", cli_jstr(reply, "id", o->pos[0]),
		       json_is_true(json_object_get(reply, "paused")) ?
		       "paused" : "unpaused");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_dag_backfill(struct cli *x, struct cli_opts *o)
{
	json_t *reply;
	int rc;

	if (o->from == NULL || o->to == NULL)
		return cli_usage_error(x, "both --from and --to are needed");
	json_t *req = json_pack("{s:s,s:s}", "from", o->from, "to", o->to);
	char *path = cli_path("dags", o->pos[0], "/backfill");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		cli_count("created", cli_jint(reply, "created"), "run");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_dag_errors(struct cli *x, struct cli_opts *o)
{
	json_t *reply, *e;
	size_t i;
	int rc;

	if ((rc = cli_connect(x, 1)) != 0 ||
	    (rc = cli_call(x, "GET", "/api/v1/dags/errors", NULL, 0,
	                   &reply)) != 0)
		return rc;
	json_t *errors = json_object_get(reply, "errors");
	if (x->json) {
		cli_print_json(reply);
	} else if (json_array_size(errors) == 0) {
		printf("no import errors\n");
	} else {
		/* The message already starts with FILE:LINE:COLUMN, as a
		 * compiler's does, for editors that jump to it. */
		json_array_foreach(errors, i, e) {
			const char *msg = cli_jstr(e, "error", NULL);
			if (msg != NULL)
				printf("%s\n", msg);
			else
				printf("%s: failed to load\n",
				       cli_jstr(e, "file", "?"));
		}
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_runs(struct cli *x, struct cli_opts *o)
{
	char *path = cli_path("dags", o->pos[0], "/runs"), buf[32];
	json_t *reply, *r;
	size_t i;
	int rc;

	if (o->state != NULL)
		cli_query_add(&path, "state", o->state);
	if (o->limit > 0) {
		snprintf(buf, sizeof buf, "%lld", o->limit);
		cli_query_add(&path, "limit", buf);
	}
	if (o->before > 0) {
		snprintf(buf, sizeof buf, "%lld", o->before);
		cli_query_add(&path, "before", buf);
	}
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, &reply);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(reply);
		json_decref(reply);
		return CLI_EXIT_OK;
	}

	json_t *runs = json_object_get(reply, "runs");
	struct cli_table t = { .ncol = 5 };
	cli_table_row(&t, "RUN ID", "KIND", "STATE", "LOGICAL DATE",
	              "DURATION");
	json_array_foreach(runs, i, r) {
		char date[32], dur[32];
		cli_table_row(&t, cli_jstr(r, "run_id", "-"),
		              cli_jstr(r, "kind", "-"), cli_jstr(r, "state", "-"),
		              cli_fmt_iso(cli_jstr(r, "logical_date", NULL), date),
		              cli_fmt_span(cli_jint(r, "created_ms"),
		                           cli_jint(r, "finished_ms"), dur));
	}
	if (json_array_size(runs) == 0)
		printf("no runs\n");
	else
		cli_table_print(&t, "");
	free(t.cells);
	if (cli_jint(reply, "next_before") > 0)
		fprintf(stderr, "(more: kiln runs %s --before %" PRId64 ")\n",
		        o->pos[0], cli_jint(reply, "next_before"));
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_run_show(struct cli *x, struct cli_opts *o)
{
	json_t *r;
	char buf[32], buf2[32];
	int rc;

	char *path = cli_path("runs", o->pos[0], "");
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "GET", path, NULL, 0, &r);
	free(path);
	if (rc != 0)
		return rc;
	if (x->json) {
		cli_print_json(r);
		json_decref(r);
		return CLI_EXIT_OK;
	}

	cli_kvw(CLI_KVW, "run:", cli_jstr(r, "run_id", "-"));
	cli_kvw(CLI_KVW, "dag:", cli_jstr(r, "dag_id", "-"));
	cli_kvw(CLI_KVW, "kind:", cli_jstr(r, "kind", "-"));
	cli_kvw(CLI_KVW, "state:", cli_jstr(r, "state", "-"));
	cli_kvw(CLI_KVW, "logical date:",
	        cli_fmt_iso(cli_jstr(r, "logical_date", NULL), buf));
	if (cli_jstr(r, "data_interval_start", NULL) != NULL) {
		char *iv = xasprintf("%s to %s", cli_fmt_iso(cli_jstr(r,
		                     "data_interval_start", NULL), buf),
		                     cli_fmt_iso(cli_jstr(r, "data_interval_end",
		                                          NULL), buf2));
		cli_kvw(CLI_KVW, "interval:", iv);
		free(iv);
	}
	if (json_object_size(json_object_get(r, "conf")) > 0)
		cli_kvw_json(CLI_KVW, "conf:", json_object_get(r, "conf"));
	cli_kvw(CLI_KVW, "created:",
	        cli_fmt_time(cli_jint(r, "created_ms"), buf));
	cli_kvw(CLI_KVW, "finished:",
	        cli_fmt_time(cli_jint(r, "finished_ms"), buf));
	cli_kvw(CLI_KVW, "duration:", cli_fmt_span(cli_jint(r, "created_ms"),
	                                          cli_jint(r, "finished_ms"),
	                                          buf));
	printf("tasks:\n");
	cli_run_tasks(r, "  ");
	json_decref(r);
	return CLI_EXIT_OK;
}

static int
cli_task_clear(struct cli *x, struct cli_opts *o)
{
	json_t *reply;
	int rc;

	char *task = cli_escape(o->pos[1]), *suffix =
	        xasprintf("/tasks/%s/clear", task);
	char *path = cli_path("runs", o->pos[0], suffix);
	free(suffix);
	free(task);
	json_t *req = json_pack("{s:b}", "downstream", o->downstream);
	rc = cli_connect(x, 1);
	if (rc == 0)
		rc = cli_call(x, "POST", path, req, 0, &reply);
	free(path);
	json_decref(req);
	if (rc != 0)
		return rc;
	if (x->json)
		cli_print_json(reply);
	else
		cli_count("cleared", cli_jint(reply, "cleared"),
		          "task instance");
	json_decref(reply);
	return CLI_EXIT_OK;
}

static int
cli_task_logs(struct cli *x, struct cli_opts *o)
{
	int rc;

	if ((rc = cli_connect(x, 1)) != 0)
		return rc;
	char *task = cli_escape(o->pos[1]), *suffix = o->attempt > 0 ?
	        xasprintf("/tasks/%s/log?attempt=%lld", task, o->attempt) :
	        xasprintf("/tasks/%s/log", task);
	char *path = cli_path("runs", o->pos[0], suffix);
	rc = cli_print_text(x, path);
	free(path);
	free(suffix);
	free(task);
	return rc;
}

/* ================================================================ table */

static const struct option submit_opts[] = {
	{ "param", required_argument, NULL, 'p' },
	{ "params-json", required_argument, NULL, OPT_PARAMS_JSON },
	{ "priority", required_argument, NULL, OPT_PRIORITY },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 }
};

static const struct option jobs_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "plugin", required_argument, NULL, OPT_PLUGIN },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "before", required_argument, NULL, OPT_BEFORE },
	{ NULL, 0, NULL, 0 }
};

static const struct option logs_opts[] = {
	{ "attempt", required_argument, NULL, OPT_ATTEMPT },
	{ NULL, 0, NULL, 0 }
};

static const struct option token_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ NULL, 0, NULL, 0 }
};

static const struct option trigger_opts[] = {
	{ "param", required_argument, NULL, 'p' },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 }
};

static const struct option backfill_opts[] = {
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ NULL, 0, NULL, 0 }
};

static const struct option runs_opts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "before", required_argument, NULL, OPT_BEFORE },
	{ NULL, 0, NULL, 0 }
};

static const struct option clear_opts[] = {
	{ "downstream", no_argument, NULL, OPT_DOWNSTREAM },
	{ NULL, 0, NULL, 0 }
};

static const struct cli_cmd cli_cmds[] = {
	{ "ping", "", "check that the master is up",
	  "Ask the master for its health and print its version and the\n"
	  "number of live workers.  Needs no credentials.\n",
	  "", NULL, 0, 0, cli_ping },
	{ "submit", "PLUGIN", "submit a job to run plugin PLUGIN",
	  "Submit a job that runs plugin PLUGIN and print its ID.\n"
	  "\n"
	  "Options:\n"
	  "  -p, --param KEY=VALUE  set parameter KEY; a VALUE that is a JSON\n"
	  "                         number, true, false, null, object or array\n"
	  "                         is sent as such, anything else as a string\n"
	  "      --params-json JSON all parameters as a JSON object (-p wins)\n"
	  "      --priority N       higher runs first (default 0)\n"
	  "      --retries N        attempts after a failure\n"
	  "      --slots N          task slots the job occupies on a worker\n"
	  "      --memory SIZE      memory it needs, e.g. 512MiB, 2GiB\n"
	  "      --timeout DURATION fail an attempt after e.g. 90s, 5m, 2h\n"
	  "      --wait             wait until the job finishes; print its\n"
	  "                         final state and result\n",
	  "p:", submit_opts, 1, 1, cli_submit },
	{ "jobs", "", "list jobs, newest first",
	  "List jobs, newest first.\n"
	  "\n"
	  "Options:\n"
	  "      --state STATE      only jobs in STATE (queued, running,\n"
	  "                         succeeded, failed, cancelled)\n"
	  "      --plugin NAME      only jobs of plugin NAME\n"
	  "      --limit N          at most N jobs\n"
	  "      --before ID        only jobs older than job ID (next page)\n",
	  "", jobs_opts, 0, 0, cli_jobs },
	{ "job", "ID", "show one job and its attempts",
	  "Show job ID: its parameters, state, result and every attempt.\n",
	  "", NULL, 1, 1, cli_job },
	{ "logs", "ID", "print the log of a job",
	  "Print the log a job's plugin wrote (by default of its latest\n"
	  "attempt).\n"
	  "\n"
	  "Options:\n"
	  "      --attempt N        the log of attempt N\n",
	  "", logs_opts, 1, 1, cli_logs },
	{ "cancel", "ID", "cancel a queued or running job",
	  "Cancel job ID.  A job that already finished cannot be cancelled.\n",
	  "", NULL, 1, 1, cli_cancel },
	{ "workers", "", "list the workers and their load",
	  "List the workers known to the master: state, busy/total slots and\n"
	  "memory, time since the last heartbeat, tasks done and failed, and\n"
	  "the plugins each one offers.\n",
	  "", NULL, 0, 0, cli_workers },
	{ "plugins", "", "list the plugins the workers offer",
	  "List the plugins offered by the workers, with their versions.\n",
	  "", NULL, 0, 0, cli_plugins },
	{ "token", "create", "create an API token",
	  "Create a Bearer token for API clients and print it.  Only its hash\n"
	  "is stored: the token is shown this once.\n"
	  "\n"
	  "Options:\n"
	  "      --name NAME        what the token is for\n"
	  "      --role ROLE        admin (may change things) or viewer\n",
	  "", token_opts, 1, 1, cli_token },

	/* Pipelines. */
	{ "dags", "", "list the DAGs (pipelines)",
	  "List the DAGs the master has loaded from its dags_dir: schedule,\n"
	  "whether paused, the next scheduled run and the latest run with its\n"
	  "state (times in UTC), and the number of tasks.  DAG files that\n"
	  "failed to load are counted on stderr; see 'kiln dag errors'.\n",
	  "", NULL, 0, 0, cli_dags },
	{ "dag show", "ID", "show a DAG's settings and tasks",
	  "Show DAG ID: its settings, and its tasks in an order where each\n"
	  "comes after the tasks it depends on, as\n"
	  "  TASK  PLUGIN  <- UPSTREAM, ...  [TRIGGER_RULE, retries N, ...]\n",
	  "", NULL, 1, 1, cli_dag_show },
	{ "dag trigger", "ID", "start a run of a DAG now",
	  "Start a manual run of DAG ID and print its run ID.\n"
	  "\n"
	  "Options:\n"
	  "  -p, --param KEY=VALUE  set KEY of the run's conf, which overrides\n"
	  "                         the DAG's params; VALUE is typed as in\n"
	  "                         'kiln submit'\n"
	  "      --wait             wait until the run succeeds or fails; print\n"
	  "                         its final state and its tasks\n"
	  "      --timeout DURATION with --wait, give up after e.g. 90s, 5m, 2h\n"
	  "                         (default 5m)\n",
	  "p:", trigger_opts, 1, 1, cli_dag_trigger },
	{ "dag pause", "ID", "stop scheduling a DAG",
	  "Pause DAG ID: the scheduler creates no new runs for it (runs under\n"
	  "way go on, and it can still be triggered).  Kept across restarts.\n",
	  "", NULL, 1, 1, cli_dag_pause },
	{ "dag unpause", "ID", "resume scheduling a DAG",
	  "Unpause DAG ID: the scheduler creates its runs again.\n",
	  "", NULL, 1, 1, cli_dag_pause },
	{ "dag backfill", "ID", "create the runs of past intervals",
	  "Create a run of DAG ID for each interval of its schedule whose\n"
	  "logical date is from --from to --to, both included; intervals that\n"
	  "already have a run are skipped.  Prints how many were created.\n"
	  "\n"
	  "Options:\n"
	  "      --from DATE        the first logical date, e.g. 2024-01-01\n"
	  "      --to DATE          the last one, e.g. 2024-01-31\n",
	  "", backfill_opts, 1, 1, cli_dag_backfill },
	{ "dag errors", "", "list the DAG files that failed to load",
	  "Print why each DAG file that failed to load was refused, one line\n"
	  "each as FILE:LINE:COLUMN: MESSAGE, or \"no import errors\".\n",
	  "", NULL, 0, 0, cli_dag_errors },
	{ "runs", "ID", "list the runs of a DAG, newest first",
	  "List the runs of DAG ID, newest first: run ID, kind (manual,\n"
	  "scheduled, backfill), state, logical date (UTC) and duration.\n"
	  "\n"
	  "Options:\n"
	  "      --state STATE      only runs in STATE (queued, running,\n"
	  "                         success, failed)\n"
	  "      --limit N          at most N runs\n"
	  "      --before N         the next page, as the hint on stderr says\n",
	  "", runs_opts, 1, 1, cli_runs },
	{ "run show", "RUN_ID", "show a DAG run and its tasks",
	  "Show DAG run RUN_ID (as 'kiln runs' or 'kiln dag trigger' print\n"
	  "it) and the state of each of its tasks: tries, worker, duration,\n"
	  "and the job that ran it ('kiln job JOB' shows its attempts).\n",
	  "", NULL, 1, 1, cli_run_show },
	{ "task clear", "RUN_ID TASK", "run a task of a DAG run again",
	  "Clear task TASK of run RUN_ID so that the scheduler runs it again;\n"
	  "a finished run becomes running again.\n"
	  "\n"
	  "Options:\n"
	  "      --downstream       also clear every task that depends on it,\n"
	  "                         directly or not\n",
	  "", clear_opts, 2, 2, cli_task_clear },
	{ "task logs", "RUN_ID TASK", "print the log of a task of a DAG run",
	  "Print the log the plugin of task TASK wrote in run RUN_ID (by\n"
	  "default of its latest attempt).\n"
	  "\n"
	  "Options:\n"
	  "      --attempt N        the log of attempt N\n",
	  "", logs_opts, 2, 2, cli_task_logs },
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

/* Command groups: "kiln dag COMMAND"; their commands are the rows of
 * cli_cmds named "GROUP COMMAND". */
struct cli_group {
	const char *name;
	const char *help;
};

static const struct cli_group cli_groups[] = {
	{ "dag", "Show, trigger, pause and backfill one DAG (pipeline), or list\n"
	         "the DAG files that failed to load.\n" },
	{ "run", "Show a DAG run.\n" },
	{ "task", "Act on one task of a DAG run.\n" },
};
#define CLI_NGROUPS (sizeof cli_groups / sizeof cli_groups[0])

static const struct cli_cmd *
cli_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < CLI_NCMDS; i++)
		if (strcmp(cli_cmds[i].name, name) == 0)
			return &cli_cmds[i];
	return NULL;
}

static const struct cli_group *
cli_find_group(const char *name)
{
	for (size_t i = 0; name != NULL && i < CLI_NGROUPS; i++)
		if (strcmp(cli_groups[i].name, name) == 0)
			return &cli_groups[i];
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

static void
cli_group_help(const struct cli_group *g)
{
	size_t n = strlen(g->name) + 1;

	printf("Usage: kiln %s COMMAND [OPTION]...\n", g->name);
	fputs(g->help, stdout);
	printf("\nCommands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++) {
		if (!cli_in_group(&cli_cmds[i], g))
			continue;
		char *u = cli_synopsis(&cli_cmds[i], cli_cmds[i].name + n);
		printf("  %-22s %s\n", u, cli_cmds[i].summary);
		free(u);
	}
	printf("\nRun 'kiln %s COMMAND --help' for the options of one "
	       "command.\n", g->name);
}

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

static void
cli_help(const struct cli_cmd *cmd)
{
	printf("Usage: kiln %s%s%s [OPTION]...\n", cmd->name,
	       cmd->args[0] != '\0' ? " " : "", cmd->args);
	fputs(cmd->help, stdout);
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
	if (strcmp(cmd->name, "submit") == 0)
		printf(" 0  the job was submitted (with --wait: it succeeded)\n"
		       " 1  the master refused or could not be reached (with\n"
		       "    --wait: the job failed or was cancelled)\n");
	else if (strcmp(cmd->name, "dag trigger") == 0)
		printf(" 0  the run was started (with --wait: it succeeded)\n"
		       " 1  the master refused or could not be reached (with\n"
		       "    --wait: the run failed, or had not finished within\n"
		       "    --timeout)\n");
	else if (strcmp(cmd->name, "dag errors") == 0)
		printf(" 0  the import errors, if any, were listed\n"
		       " 1  the master refused or could not be reached\n");
	else if (strcmp(cmd->name, "ping") == 0)
		printf(" 0  the master is up\n"
		       " 1  it cannot be reached or is not ok\n");
	else
		printf(" 0  success\n"
		       " 1  the master refused or could not be reached\n");
	printf(" 2  a usage error\n");
}

int
cli_is_command(const char *name)
{
	/* "dag show" is reached as two words, never as one argument. */
	if (name == NULL || strchr(name, ' ') != NULL)
		return 0;
	return cli_find(name) != NULL || cli_find_group(name) != NULL;
}

void
cli_usage_summary(void)
{
	int w = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < CLI_NCMDS; i++) {
			const struct cli_cmd *c = &cli_cmds[i];
			char *u = cli_synopsis(c, c->name);
			if (pass == 0 && (int)strlen(u) > w)
				w = (int)strlen(u);
			else if (pass == 1)
				printf("  kiln %-*s  %s\n", w, u, c->summary);
			free(u);
		}
}

int
cli_main(int argc, char **argv, const char *config_path)
{
	const struct cli_group *g = argc >= 1 ? cli_find_group(argv[0]) : NULL;
	const struct cli_cmd *cmd = NULL;

	if (g != NULL) {
		int rc;
		if ((cmd = cli_group_cmd(g, argc, argv, &rc)) == NULL)
			return rc;
		/* From here on the command's own word is ARGV[0]. */
		argc--;
		argv++;
	} else if (argc >= 1 && cli_is_command(argv[0])) {
		cmd = cli_find(argv[0]);
	}
	if (cmd == NULL) {
		fprintf(stderr, "kiln: '%s' is not a client command\n",
		        argc >= 1 ? argv[0] : "");
		return CLI_EXIT_USAGE;
	}
	struct cli x = {
		.name = cmd->name,
		.prog = xasprintf("kiln %s", cmd->name),
		.config_path = config_path,
	};
	struct cli_opts o = { .params = json_object() };

	int rc = cli_parse(&x, cmd, &o, argc, argv);
	if (rc == CLI_HELP) {
		cli_help(cmd);
		rc = CLI_EXIT_OK;
	} else if (rc == 0) {
		rc = cmd->run(&x, &o);
	}
	fflush(stdout);
	client_free(x.cl);
	if (x.conf != NULL)
		config_free(x.conf);
	json_decref(o.params);
	free(o.pos);
	free(x.url);
	free(x.prog);
	return rc;
}
