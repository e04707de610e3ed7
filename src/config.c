/* SPDX-License-Identifier: MIT */
/*
 * config.c - load and validate cluster.yaml (see config.h).
 *
 * The file is read whole with libyaml's document API and then walked with
 * one small key table per mapping (top level, cluster, master, master.auth,
 * a worker, a user).  A table entry says how a value is parsed and where it
 * is stored, so unknown keys, duplicate keys and type errors are found in
 * one place, and every error points at the node it is about.
 *
 * Defaults are filled in only after the whole document has been read: some
 * depend on other sections (a worker's data_dir on master.data_dir) and
 * YAML does not fix the order of keys.  Until then NULL / 0 means "not
 * given"; every number in the schema has a minimum of 1, so 0 is free to
 * mean that.
 *
 * The file also holds the few helpers that interpret the configuration:
 * which worker entry a name refers to, whether a host is this machine, and
 * the cluster secret (created on first use).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#include "config.h"
#include "err.h"
#include "fs.h"
#include "log.h"
#include "xalloc.h"
#include "yamlfile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Names (of the master and the workers) appear in log lines, URLs and
 * directory names; log.c keeps the node name in 64 bytes. */
#define CFG_NAME_MAX 63
/* An inline secret shorter than this is too easy to guess. */
#define CFG_SECRET_MIN 16

/* ---------------------------------------------------------------- parsing
 * state */

struct cfg_ctx {
	struct yamlfile yf;          /* the file, its document, messages */
	struct kiln_config *c;       /* being filled */
	yaml_node_t *master;         /* the master section, NULL if absent */
	yaml_node_t *heartbeat;      /* value nodes checked after the walk */
	yaml_node_t *worker_timeout;
	yaml_node_t *listen;         /* master.listen, master.tls, ... */
	yaml_node_t *tls_mode;
	yaml_node_t *tls_node;
	yaml_node_t *cert_file, *key_file;
	yaml_node_t *metrics_auth;
	yaml_node_t **wname;         /* each worker's name node */
};

/* Every error points at a node of the file being read. */
#define cfg_err(x, ...) yamlfile_err(&(x)->yf, __VA_ARGS__)

/* ---------------------------------------------------------------- paths */

/* Strip trailing slashes, keeping a lone "/". */
static void
cfg_strip_slashes(char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

/* Drop the last component of absolute path P, in place ("/a/b" -> "/a",
 * "/a" -> "/"). */
static void
cfg_parent(char *p)
{
	cfg_strip_slashes(p);
	char *slash = strrchr(p, '/');
	if (slash == NULL)
		return;
	if (slash == p)
		p[1] = '\0';
	else
		*slash = '\0';
}

/*
 * P made absolute against BASE (an absolute, symlink-free directory).
 * Leading "." and ".." components are folded into BASE so that messages
 * and logs show /srv/kiln/var rather than /srv/kiln/conf/../var; that is
 * exact because BASE went through realpath(3).  Later ".." are kept as
 * written: folding them would be wrong after a symlink.
 */
static char *
cfg_path(const char *base, const char *p)
{
	char *r;

	if (p[0] == '/') {
		r = xstrdup(p);
	} else {
		char *b = xstrdup(base);
		for (;;) {
			if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {
				p += 1;
			} else if (p[0] == '.' && p[1] == '.' &&
			           (p[2] == '/' || p[2] == '\0')) {
				cfg_parent(b);
				p += 2;
			} else {
				break;
			}
			while (*p == '/')
				p++;
		}
		if (*p == '\0')
			r = b;
		else {
			r = xasprintf("%s%s%s", b,
			              strcmp(b, "/") == 0 ? "" : "/", p);
			free(b);
		}
	}
	cfg_strip_slashes(r);
	return r;
}

/* The absolute, symlink-free directory holding PATH. */
static char *
cfg_base_dir(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	char *abs = realpath(dir, NULL);
	free(dir);
	return abs;  /* malloc()ed by libc, freed with free() like ours */
}

/* ---------------------------------------------------------------- values */

/* The units of cluster.yaml, for the command line too. */
int
config_parse_duration_ms(const char *s, int64_t *ms)
{
	return yamlfile_parse_duration_ms(s, ms);
}

int
config_parse_size(const char *s, int64_t *bytes)
{
	return yamlfile_parse_size(s, bytes);
}

/* A path in the file, made absolute against the file's directory. */
static int
cfg_set_path(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
             void *base)
{
	struct cfg_ctx *x = ud;
	char **dst = (char **)(void *)((char *)base + k->off);
	const char *s = NULL;
	int rc = yamlfile_string(&x->yf, k->name, v, &s);

	if (rc == 0) {
		free(*dst);
		*dst = cfg_path(x->c->base_dir, s);
	}
	return rc;
}

static yaml_node_t *
cfg_found(const struct yamlfile_key *keys, size_t nkeys, yaml_node_t **found,
          const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return found[i];
	return NULL;
}

/* The items of list V (named NAME); a null V is an empty list. */
static int
cfg_list(struct cfg_ctx *x, const char *name, yaml_node_t *v,
         yaml_node_item_t **start, yaml_node_item_t **top)
{
	*start = *top = NULL;
	if (yamlfile_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return cfg_err(x, v, "'%s' must be a list, not %s", name,
		               yamlfile_kind(v));
	*start = v->data.sequence.items.start;
	*top = v->data.sequence.items.top;
	return 0;
}

/*
 * A list of strings into the struct kiln_paths at K's offset, each
 * passed through CONV (which returns it malloc()ed, or NULL after
 * cfg_err for a bad one).
 */
static int
cfg_strings(struct cfg_ctx *x, const struct yamlfile_key *k, yaml_node_t *v,
            void *base, char *(*conv)(struct cfg_ctx *, const char *,
                                      const char *, yaml_node_t *))
{
	struct kiln_paths *l = (struct kiln_paths *)(void *)((char *)base +
	                                                     k->off);
	yaml_node_item_t *it, *top;
	int rc;

	if ((rc = cfg_list(x, k->name, v, &it, &top)) < 0)
		return rc;
	for (; it < top; it++) {
		yaml_node_t *n = yamlfile_node(&x->yf, *it);
		const char *s = NULL;
		if ((rc = yamlfile_string(&x->yf, k->name, n, &s)) < 0)
			return rc;
		char *c = conv(x, k->name, s, n);
		if (c == NULL)
			return -EINVAL;
		l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
		l->v[l->n++] = c;
	}
	return 0;
}

/* A directory, made absolute against the file's directory. */
static char *
cfg_conv_path(struct cfg_ctx *x, const char *key, const char *s,
              yaml_node_t *n)
{
	(void)key;
	(void)n;
	return cfg_path(x->c->base_dir, s);
}

/* A plugin name, as written. */
static char *
cfg_conv_name(struct cfg_ctx *x, const char *key, const char *s,
              yaml_node_t *n)
{
	if (*s == '\0' || strlen(s) > 64 || strpbrk(s, "/ \t") != NULL) {
		cfg_err(x, n, "%s: '%s' is not a plugin name", key, s);
		return NULL;
	}
	return xstrdup(s);
}

/* read_roots: a list of directories. */
static int
cfg_paths(void *ud, const struct yamlfile_key *k, yaml_node_t *v, void *base)
{
	return cfg_strings(ud, k, v, base, cfg_conv_path);
}

/* in_process_plugins: a list of plugin names. */
static int
cfg_names(void *ud, const struct yamlfile_key *k, yaml_node_t *v, void *base)
{
	return cfg_strings(ud, k, v, base, cfg_conv_name);
}

static void
cfg_paths_free(struct kiln_paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* ---------------------------------------------------------------- schema */

#define CFG_OFF(f) offsetof(struct kiln_config, f)

static const struct yamlfile_key cfg_cluster_keys[] = {
	{ "name", YF_STR, CFG_OFF(cluster_name), 0, 0, NULL },
};

static const struct yamlfile_key cfg_user_keys[] = {
	{ "name", YF_STR, offsetof(struct kiln_user_conf, name), 0, 0, NULL },
	{ "role", YF_STR, offsetof(struct kiln_user_conf, role), 0, 0, NULL },
	{ "password_hash", YF_STR,
	  offsetof(struct kiln_user_conf, password_hash), 0, 0, NULL },
};

static int
cfg_users(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
          void *base)
{
	struct cfg_ctx *x = ud;
	(void)k;
	struct kiln_config *c = base;
	yaml_node_item_t *it, *top;
	int rc;

	if ((rc = cfg_list(x, "users", v, &it, &top)) < 0)
		return rc;
	for (; it < top; it++) {
		yaml_node_t *n = yamlfile_node(&x->yf, *it);
		yaml_node_t *found[ARRAY_SIZE(cfg_user_keys)];

		c->auth.users = xrealloc(c->auth.users, (c->auth.nusers + 1) *
		                         sizeof *c->auth.users);
		struct kiln_user_conf *u = &c->auth.users[c->auth.nusers++];
		memset(u, 0, sizeof *u);
		if (n->type != YAML_MAPPING_NODE)
			return cfg_err(x, n, "each user must be a mapping "
			               "(name, role, password_hash), not %s",
			               yamlfile_kind(n));
		rc = yamlfile_walk(&x->yf, n, "user", cfg_user_keys,
		             ARRAY_SIZE(cfg_user_keys), u, found);
		if (rc < 0)
			return rc;
		if (u->name == NULL)
			return cfg_err(x, n, "user has no 'name'");
		if (u->password_hash == NULL)
			return cfg_err(x, n, "user '%s' has no "
			               "'password_hash' (make one with `kiln "
			               "passwd`)", u->name);
		if (u->role == NULL)
			return cfg_err(x, n, "user '%s' has no 'role' (admin "
			               "or viewer)", u->name);
		if (strcmp(u->role, "admin") != 0 &&
		    strcmp(u->role, "viewer") != 0)
			return cfg_err(x, found[1], "'role' must be admin or "
			               "viewer, got '%s'", u->role);
		for (size_t i = 0; i + 1 < c->auth.nusers; i++)
			if (strcmp(c->auth.users[i].name, u->name) == 0)
				return cfg_err(x, found[0], "duplicate user "
				               "'%s'", u->name);
	}
	return 0;
}

static const struct yamlfile_key cfg_auth_keys[] = {
	{ "secret", YF_STR, CFG_OFF(auth.secret), 0, 0, NULL },
	{ "secret_file", YF_OWN, CFG_OFF(auth.secret_file), 0, 0, cfg_set_path },
	{ "users", YF_OWN, 0, 0, 0, cfg_users },
	{ "session_ttl", YF_DURATION_INT, CFG_OFF(auth.session_ttl_ms), 1000, INT_MAX, NULL },
	{ "token_ttl", YF_DURATION, CFG_OFF(auth.token_ttl_ms), 1000, KILN_TOKEN_TTL_MAX_MS, NULL },
};

static int
cfg_auth(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
         void *base)
{
	struct cfg_ctx *x = ud;
	(void)k;
	struct kiln_config *c = base;
	yaml_node_t *found[ARRAY_SIZE(cfg_auth_keys)];
	int rc;

	rc = yamlfile_walk(&x->yf, v, "master.auth", cfg_auth_keys,
	             ARRAY_SIZE(cfg_auth_keys), c, found);
	if (rc < 0)
		return rc;
	if (found[0] != NULL && found[1] != NULL)
		return cfg_err(x, found[1]->start_mark.index >
		               found[0]->start_mark.index ? found[1] : found[0],
		               "give either 'secret' or 'secret_file', "
		               "not both");
	if (c->auth.secret != NULL && strlen(c->auth.secret) < CFG_SECRET_MIN)
		return cfg_err(x, found[0], "'secret' must be at least %d "
		               "characters", CFG_SECRET_MIN);
	return 0;
}

/* master.pools: a mapping of pool name to its slots, as Airflow's pools. */
static int
cfg_pools(void *ud, const struct yamlfile_key *row, yaml_node_t *v,
          void *base)
{
	struct cfg_ctx *x = ud;
	(void)row;
	struct kiln_config *c = base;
	if (yamlfile_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return cfg_err(x, v, "'pools' must be a mapping of pool name to "
		               "slots, not %s", yamlfile_kind(v));
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
	     p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlfile_node(&x->yf, p->key);
		yaml_node_t *n = yamlfile_node(&x->yf, p->value);
		if (k->type != YAML_SCALAR_NODE || n->type != YAML_SCALAR_NODE)
			return cfg_err(x, k, "each pool is NAME: SLOTS");
		const char *name = yamlfile_str(k), *text = yamlfile_str(n);
		char *end;
		errno = 0;
		long slots = strtol(text, &end, 10);
		if (errno || *end != '\0' || end == text || slots < 1 ||
		    slots > 1000000)
			return cfg_err(x, n, "pool '%s' needs a number of "
			               "slots from 1 to 1000000, got '%s'",
			               name, text);
		for (size_t i = 0; i < c->npools; i++)
			if (strcmp(c->pools[i].name, name) == 0)
				return cfg_err(x, k, "duplicate pool '%s'",
				               name);
		c->pools = xrealloc(c->pools, (c->npools + 1) *
		                    sizeof *c->pools);
		c->pools[c->npools].name = xstrdup(name);
		c->pools[c->npools++].slots = (int)slots;
	}
	return 0;
}

/* master.tls.mode: auto, on or off (YAML's booleans for on and off). */
static int
cfg_tls_mode(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
             void *base)
{
	static const struct { const char *word; int mode; } words[] = {
		{ "auto", CONFIG_TLS_AUTO }, { "on", CONFIG_TLS_ON },
		{ "true", CONFIG_TLS_ON }, { "yes", CONFIG_TLS_ON },
		{ "off", CONFIG_TLS_OFF }, { "false", CONFIG_TLS_OFF },
		{ "no", CONFIG_TLS_OFF },
	};
	struct cfg_ctx *x = ud;
	struct kiln_config *c = base;
	const char *s = NULL;
	int rc = yamlfile_string(&x->yf, k->name, v, &s);

	if (rc < 0)
		return rc;
	x->tls_mode = v;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcasecmp(s, words[i].word) == 0) {
			c->master.tls_mode = words[i].mode;
			return 0;
		}
	return cfg_err(x, v, "'mode' must be auto, on or off, got '%s'", s);
}

/* master.tls.names: more host names and addresses for the certificate. */
static int
cfg_tls_names(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
              void *base)
{
	struct cfg_ctx *x = ud;
	struct kiln_config *c = base;
	yaml_node_item_t *it, *top;
	int rc;

	(void)k;
	if ((rc = cfg_list(x, "names", v, &it, &top)) < 0)
		return rc;
	for (; it < top; it++) {
		yaml_node_t *n = yamlfile_node(&x->yf, *it);
		const char *name = NULL;
		if ((rc = yamlfile_string(&x->yf, "names", n, &name)) < 0)
			return rc;
		if (strlen(name) > 253 || strpbrk(name, " ,/\\\"'") != NULL)
			return cfg_err(x, n, "'%s' is not a host name or an "
			               "address", name);
		c->master.tls_names = xrealloc(c->master.tls_names,
		        (c->master.ntls_names + 1) * sizeof(char *));
		c->master.tls_names[c->master.ntls_names++] = xstrdup(name);
	}
	return 0;
}

static const struct yamlfile_key cfg_tls_keys[] = {
	{ "mode", YF_OWN, 0, 0, 0, cfg_tls_mode },
	{ "cert_file", YF_OWN, CFG_OFF(master.tls_cert_file), 0, 0, cfg_set_path },
	{ "key_file", YF_OWN, CFG_OFF(master.tls_key_file), 0, 0, cfg_set_path },
	{ "ca_file", YF_OWN, CFG_OFF(master.tls_ca_file), 0, 0, cfg_set_path },
	{ "names", YF_OWN, 0, 0, 0, cfg_tls_names },
};

static int
cfg_tls(void *ud, const struct yamlfile_key *k, yaml_node_t *v, void *base)
{
	struct cfg_ctx *x = ud;
	yaml_node_t *found[ARRAY_SIZE(cfg_tls_keys)];
	int rc;

	(void)k;
	x->tls_node = v;
	if ((rc = yamlfile_walk(&x->yf, v, "master.tls", cfg_tls_keys,
	                        ARRAY_SIZE(cfg_tls_keys), base, found)) < 0)
		return rc;
	x->cert_file = found[1];
	x->key_file = found[2];
	return 0;
}

static const struct yamlfile_key cfg_master_keys[] = {
	{ "pools", YF_OWN, 0, 0, 0, cfg_pools },
	{ "name", YF_NAME, CFG_OFF(master.name), 0, 0, NULL },
	{ "listen", YF_STR, CFG_OFF(master.listen), 0, 0, NULL },
	{ "host", YF_STR, CFG_OFF(master.host), 0, 0, NULL },
	{ "port", YF_INT, CFG_OFF(master.port), 1, 65535, NULL },
	{ "data_dir", YF_OWN, CFG_OFF(master.data_dir), 0, 0, cfg_set_path },
	{ "plugin_dir", YF_OWN, CFG_OFF(master.plugin_dir), 0, 0, cfg_set_path },
	{ "web_dir", YF_OWN, CFG_OFF(master.web_dir), 0, 0, cfg_set_path },
	{ "dags_dir", YF_OWN, CFG_OFF(master.dags_dir), 0, 0, cfg_set_path },
	{ "http_threads", YF_INT, CFG_OFF(master.http_threads), 1, 64, NULL },
	{ "max_body", YF_SIZE, CFG_OFF(master.max_body), 1, INT64_MAX, NULL },
	{ "max_artifact", YF_SIZE, CFG_OFF(master.max_artifact), 1, INT64_MAX,
	  NULL },
	{ "max_uploads", YF_INT, CFG_OFF(master.max_uploads), 1, 1024, NULL },
	{ "request_timeout", YF_DURATION_INT, CFG_OFF(master.request_timeout_ms),
	  1000, 3600000, NULL },
	{ "connections_per_address", YF_INT, CFG_OFF(master.per_ip_connections),
	  1, 4096, NULL },
	{ "heartbeats_per_second", YF_INT, CFG_OFF(master.beats_per_s),
	  1, 100000, NULL },
	{ "heartbeat_interval", YF_DURATION_INT, CFG_OFF(master.heartbeat_ms),
	  1, INT_MAX, NULL },
	{ "worker_timeout", YF_DURATION_INT, CFG_OFF(master.worker_timeout_ms),
	  1, INT_MAX, NULL },
	{ "max_attempts", YF_INT, CFG_OFF(master.default_max_attempts),
	  1, 100, NULL },
	{ "metrics_auth", YF_BOOL, CFG_OFF(master.metrics_auth), 0, 1, NULL },
	{ "retention", YF_DURATION, CFG_OFF(master.retention_ms), 1000,
	  INT64_MAX / 2, NULL },
	{ "auth", YF_OWN, 0, 0, 0, cfg_auth },
	{ "tls", YF_OWN, 0, 0, 0, cfg_tls },
	{ "insecure_plain_http", YF_BOOL, CFG_OFF(master.insecure_plain_http),
	  0, 1, NULL },
	{ "callback_commands", YF_BOOL, CFG_OFF(master.callback_commands), 0,
	  1, NULL },
	{ "max_map_length", YF_INT, CFG_OFF(master.max_map_length), 1,
	  1000000, NULL },
};

static int
cfg_master(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
           void *base)
{
	struct cfg_ctx *x = ud;
	(void)k;
	yaml_node_t *found[ARRAY_SIZE(cfg_master_keys)];
	const size_t n = ARRAY_SIZE(cfg_master_keys);
	int rc;

	x->master = v;
	if ((rc = yamlfile_walk(&x->yf, v, "master", cfg_master_keys, n, base,
	                  found)) < 0)
		return rc;
	x->heartbeat = cfg_found(cfg_master_keys, n, found,
	                         "heartbeat_interval");
	x->worker_timeout = cfg_found(cfg_master_keys, n, found,
	                              "worker_timeout");
	x->listen = cfg_found(cfg_master_keys, n, found, "listen");
	x->metrics_auth = cfg_found(cfg_master_keys, n, found, "metrics_auth");
	return 0;
}

static int
cfg_cluster(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
            void *base)
{
	struct cfg_ctx *x = ud;
	(void)k;
	yaml_node_t *found[ARRAY_SIZE(cfg_cluster_keys)];

	return yamlfile_walk(&x->yf, v, "cluster", cfg_cluster_keys,
	               ARRAY_SIZE(cfg_cluster_keys), base, found);
}

#define CFG_WOFF(f) offsetof(struct kiln_worker_conf, f)

/* workers[].isolation: process or thread. */
static int
cfg_isolation(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
              void *base)
{
	struct cfg_ctx *x = ud;
	const char *s = NULL;
	int rc = yamlfile_string(&x->yf, k->name, v, &s);

	if (rc != 0)
		return rc;
	if (strcmp(s, "process") != 0 && strcmp(s, "thread") != 0)
		return cfg_err(x, v, "isolation must be process or thread, not "
		               "'%s'", s);
	*(int *)(void *)((char *)base + k->off) = strcmp(s, "thread") == 0;
	return 0;
}

static const struct yamlfile_key cfg_worker_keys[] = {
	{ "name", YF_NAME, CFG_WOFF(name), 0, 0, NULL },
	{ "host", YF_STR, CFG_WOFF(host), 0, 0, NULL },
	{ "slots", YF_INT, CFG_WOFF(slots), 1, 1024, NULL },
	{ "memory", YF_SIZE, CFG_WOFF(memory), 1, INT64_MAX, NULL },
	{ "cache_size", YF_SIZE, CFG_WOFF(cache_size), 1, INT64_MAX, NULL },
	{ "plugin_dir", YF_OWN, CFG_WOFF(plugin_dir), 0, 0, cfg_set_path },
	{ "data_dir", YF_OWN, CFG_WOFF(data_dir), 0, 0, cfg_set_path },
	{ "read_roots", YF_OWN, CFG_WOFF(read_roots), 0, 0, cfg_paths },
	{ "max_file_size", YF_SIZE, CFG_WOFF(max_file_size), 1, INT64_MAX, NULL },
	{ "isolation", YF_OWN, CFG_WOFF(in_process), 0, 0, cfg_isolation },
	{ "in_process_plugins", YF_OWN, CFG_WOFF(in_process_plugins), 0, 0,
	  cfg_names },
	{ "exec", YF_BOOL, CFG_WOFF(exec), 0, 1, NULL },
	{ "max_output_size", YF_SIZE, CFG_WOFF(max_output_size), 1, INT64_MAX,
	  NULL },
};

static int
cfg_workers(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
            void *base)
{
	struct cfg_ctx *x = ud;
	(void)k;
	struct kiln_config *c = base;
	yaml_node_item_t *it, *top;
	int rc;

	if ((rc = cfg_list(x, "workers", v, &it, &top)) < 0)
		return rc;
	for (; it < top; it++) {
		yaml_node_t *n = yamlfile_node(&x->yf, *it);
		yaml_node_t *found[ARRAY_SIZE(cfg_worker_keys)];

		/* Grown before parsing, so that config_free() owns whatever
		 * a failing entry already holds. */
		c->workers = xrealloc(c->workers, (c->nworkers + 1) *
		                      sizeof *c->workers);
		x->wname = xrealloc(x->wname, (c->nworkers + 1) *
		                    sizeof *x->wname);
		struct kiln_worker_conf *w = &c->workers[c->nworkers++];
		memset(w, 0, sizeof *w);
		w->line = (int)n->start_mark.line + 1;
		w->column = (int)n->start_mark.column + 1;
		if (n->type != YAML_MAPPING_NODE)
			return cfg_err(x, n, "each worker must be a mapping "
			               "(name, host, slots, ...), not %s",
			               yamlfile_kind(n));
		rc = yamlfile_walk(&x->yf, n, "worker", cfg_worker_keys,
		             ARRAY_SIZE(cfg_worker_keys), w, found);
		if (rc < 0)
			return rc;
		if (w->name == NULL)
			return cfg_err(x, n, "worker has no 'name'");
		x->wname[c->nworkers - 1] = found[0];
	}
	return 0;
}

/* data: what tasks may read from the workers' file systems. */
static const struct yamlfile_key cfg_data_keys[] = {
	{ "read_roots", YF_OWN, CFG_OFF(data.read_roots), 0, 0, cfg_paths },
	{ "max_file_size", YF_SIZE, CFG_OFF(data.max_file_size), 1, INT64_MAX,
	  NULL },
};

static int
cfg_data(void *ud, const struct yamlfile_key *k, yaml_node_t *v, void *base)
{
	struct cfg_ctx *x = ud;
	yaml_node_t *found[ARRAY_SIZE(cfg_data_keys)];

	(void)k;
	return yamlfile_walk(&x->yf, v, "data", cfg_data_keys,
	                     ARRAY_SIZE(cfg_data_keys), base, found);
}

static const struct yamlfile_key cfg_top_keys[] = {
	{ "cluster", YF_OWN, 0, 0, 0, cfg_cluster },
	{ "data", YF_OWN, 0, 0, 0, cfg_data },
	{ "master", YF_OWN, 0, 0, 0, cfg_master },
	{ "workers", YF_OWN, 0, 0, 0, cfg_workers },
};

/* ---------------------------------------------------------------- defaults
 * and checks that span sections */

static void
cfg_default_str(char **field, const char *value)
{
	if (*field == NULL)
		*field = xstrdup(value);
}

static void
cfg_default_path(struct kiln_config *c, char **field, const char *rel)
{
	if (*field == NULL)
		*field = cfg_path(c->base_dir, rel);
}

static void
cfg_default_int(int *field, int value)
{
	if (*field == 0)
		*field = value;
}

/* A wildcard address: binds everywhere, reaches nothing. */
static int
cfg_is_wildcard(const char *a)
{
	return a[0] == '\0' || strcmp(a, "0.0.0.0") == 0 ||
	       strcmp(a, "::") == 0 || strcmp(a, "[::]") == 0;
}

/*
 * TLS unless said otherwise, or on a loopback address; plain HTTP where
 * others can listen only when said in so many words, as passwords,
 * cookies and tokens would cross the network readable.
 */
static int
cfg_finish_tls(struct cfg_ctx *x)
{
	struct kiln_config *c = x->c;
	int loopback = config_host_is_loopback(c->master.listen);
	yaml_node_t *at = x->tls_node != NULL ? x->tls_node : x->master;

	if ((c->master.tls_cert_file == NULL) !=
	    (c->master.tls_key_file == NULL))
		return cfg_err(x, x->cert_file != NULL ? x->cert_file :
		               x->key_file, "give both 'cert_file' and "
		               "'key_file', or neither (the master then makes "
		               "its certificate from the cluster CA)");
	c->master.tls = c->master.tls_mode == CONFIG_TLS_ON ||
	                (c->master.tls_mode == CONFIG_TLS_AUTO && !loopback);
	if (!c->master.tls && !loopback && !c->master.insecure_plain_http)
		return cfg_err(x, x->tls_mode != NULL ? x->tls_mode : at,
		               "master.tls is off but master.listen '%s' is not "
		               "a loopback address: set "
		               "'insecure_plain_http: true' under master to serve "
		               "plain HTTP there anyway (passwords, cookies and "
		               "tokens then cross the network readable)",
		               c->master.listen);
	if (!c->master.tls && c->master.tls_cert_file != NULL)
		return cfg_err(x, x->cert_file, "'cert_file' is given but TLS "
		               "is off");
	if (x->metrics_auth == NULL)
		c->master.metrics_auth = !loopback;
	return 0;
}

static int
cfg_finish(struct cfg_ctx *x, yaml_node_t *root)
{
	struct kiln_config *c = x->c;

	if (x->master == NULL)
		return cfg_err(x, root, "missing 'master' section");

	cfg_default_str(&c->cluster_name, "kiln");
	cfg_default_str(&c->master.name, "master");
	cfg_default_str(&c->master.listen, "127.0.0.1");
	if (c->master.host == NULL) {
		const char *l = c->master.listen;
		c->master.host = xstrdup(cfg_is_wildcard(l) ? "127.0.0.1" : l);
	}
	cfg_default_int(&c->master.port, 8080);
	cfg_default_path(c, &c->master.data_dir, "../var/master");
	cfg_default_path(c, &c->master.plugin_dir, "../plugins/lib");
	cfg_default_int(&c->master.http_threads, 4);
	if (c->master.max_body == 0)
		c->master.max_body = (int64_t)8 << 20;
	if (c->master.max_artifact == 0)
		c->master.max_artifact = (int64_t)64 << 30;
	cfg_default_int(&c->master.max_uploads, 16);
	cfg_default_int(&c->master.request_timeout_ms, 60000);
	cfg_default_int(&c->master.per_ip_connections, 128);
	cfg_default_int(&c->master.heartbeat_ms, 1000);
	cfg_default_int(&c->master.worker_timeout_ms, 10000);
	cfg_default_int(&c->master.default_max_attempts, 3);
	cfg_default_int(&c->master.max_map_length, 1024);
	if (c->master.worker_timeout_ms <= c->master.heartbeat_ms)
		return cfg_err(x, x->worker_timeout ? x->worker_timeout :
		               x->heartbeat ? x->heartbeat : x->master,
		               "'worker_timeout' (%dms) must be longer than "
		               "'heartbeat_interval' (%dms)",
		               c->master.worker_timeout_ms,
		               c->master.heartbeat_ms);
	if (c->auth.secret == NULL)
		cfg_default_path(c, &c->auth.secret_file,
		                 "../var/cluster.secret");
	if (c->data.max_file_size == 0)
		c->data.max_file_size = KILN_MAX_FILE_SIZE_DEFAULT;
	if (cfg_finish_tls(x) < 0)
		return -EINVAL;

	char *parent = xstrdup(c->master.data_dir);
	cfg_parent(parent);
	for (size_t i = 0; i < c->nworkers; i++) {
		struct kiln_worker_conf *w = &c->workers[i];
		int rc = 0;

		if (strcmp(w->name, c->master.name) == 0)
			rc = cfg_err(x, x->wname[i], "worker '%s' has the "
			             "same name as the master", w->name);
		for (size_t j = 0; rc == 0 && j < i; j++)
			if (strcmp(c->workers[j].name, w->name) == 0)
				rc = cfg_err(x, x->wname[i], "duplicate worker "
				             "name '%s' (first on line %d)",
				             w->name, c->workers[j].line);
		if (rc < 0) {
			free(parent);
			return rc;
		}
		cfg_default_str(&w->host, "localhost");
		cfg_default_int(&w->slots, 1);
		if (w->memory == 0)
			w->memory = (int64_t)1 << 30;
		if (w->cache_size == 0)
			w->cache_size = KILN_CACHE_SIZE_DEFAULT;
		cfg_default_str(&w->plugin_dir, c->master.plugin_dir);
		if (w->data_dir == NULL)
			w->data_dir = xasprintf("%s%s%s", parent,
			                        strcmp(parent, "/") ? "/" : "",
			                        w->name);
	}
	free(parent);
	return 0;
}

/* ---------------------------------------------------------------- loading */

static int
cfg_top(struct cfg_ctx *x, yaml_node_t *root)
{
	yaml_node_t *found[ARRAY_SIZE(cfg_top_keys)];
	int rc;

	if (root == NULL) {
		return err_set(x->yf.err, -EINVAL, "%s:1:1: missing 'master' "
		              "section (the file is empty)", x->yf.path);
	}
	if (root->type != YAML_MAPPING_NODE)
		return cfg_err(x, root, "the top level must be a mapping "
		               "(cluster, master, workers), not %s",
		               yamlfile_kind(root));
	rc = yamlfile_walk(&x->yf, root, NULL, cfg_top_keys, ARRAY_SIZE(cfg_top_keys),
	             x->c, found);
	if (rc < 0)
		return rc;
	return cfg_finish(x, root);
}

int
config_load(const char *path, struct kiln_config **out, char **err)
{
	struct cfg_ctx x = { .yf = { .path = path, .err = err,
	                             .name_max = CFG_NAME_MAX,
	                             .like = "500ms, 2s, 5m, 1h" } };
	int rc;

	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return err_set(err, -errno, "%s: cannot open: %s", path,
		              strerror(errno));

	struct kiln_config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup(path);
	c->base_dir = cfg_base_dir(path);
	x.c = c;
	x.yf.ud = &x;
	if (c->base_dir == NULL) {
		rc = err_set(err, -errno, "%s: cannot resolve its directory: %s",
		            path, strerror(errno));
		goto out;
	}
	rc = yamlfile_load_file(&x.yf, f);
	if (rc == 0)
		rc = cfg_top(&x, yamlfile_root(&x.yf));
	yamlfile_close(&x.yf);
out:
	fclose(f);
	free(x.wname);
	if (rc < 0) {
		config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
config_free(struct kiln_config *c)
{
	if (c != NULL) {
		for (size_t i = 0; i < c->npools; i++)
			free(c->pools[i].name);
		free(c->pools);
	}
	if (c == NULL)
		return;
	free(c->path);
	free(c->base_dir);
	free(c->cluster_name);
	free(c->master.name);
	free(c->master.host);
	free(c->master.listen);
	free(c->master.data_dir);
	free(c->master.plugin_dir);
	free(c->master.web_dir);
	free(c->master.dags_dir);
	free(c->master.tls_cert_file);
	free(c->master.tls_key_file);
	free(c->master.tls_ca_file);
	config_names_free(c->master.tls_names, c->master.ntls_names);
	if (c->auth.secret != NULL)
		sodium_memzero(c->auth.secret, strlen(c->auth.secret));
	free(c->auth.secret);
	free(c->auth.secret_file);
	for (size_t i = 0; i < c->auth.nusers; i++) {
		free(c->auth.users[i].name);
		free(c->auth.users[i].role);
		free(c->auth.users[i].password_hash);
	}
	free(c->auth.users);
	for (size_t i = 0; i < c->nworkers; i++) {
		free(c->workers[i].name);
		free(c->workers[i].host);
		free(c->workers[i].plugin_dir);
		free(c->workers[i].data_dir);
		cfg_paths_free(&c->workers[i].read_roots);
		cfg_paths_free(&c->workers[i].in_process_plugins);
	}
	free(c->workers);
	cfg_paths_free(&c->data.read_roots);
	free(c);
}

/* ---------------------------------------------------------------- queries */

const struct kiln_worker_conf *
config_worker(const struct kiln_config *c, const char *name)
{
	if (c == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < c->nworkers; i++)
		if (strcmp(c->workers[i].name, name) == 0)
			return &c->workers[i];
	return NULL;
}

int
config_is_master(const struct kiln_config *c, const char *name)
{
	return c != NULL && name != NULL && c->master.name != NULL &&
	       strcmp(c->master.name, name) == 0;
}

int
config_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];
	size_t n;

	if (host == NULL)
		return 0;
	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	n = strlen(host);
	if (host[0] == '[' && n >= 2 && n - 2 < sizeof buf) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

char *
config_master_url(const struct kiln_config *c)
{
	const char *host = c->master.host;
	const char *scheme = c->master.tls ? "https" : "http";

	if (host == NULL || strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
		host = "::1";
	if (strchr(host, ':') != NULL && host[0] != '[')
		return xasprintf("%s://[%s]:%d", scheme, host, c->master.port);
	return xasprintf("%s://%s:%d", scheme, host, c->master.port);
}

/* Append NAME to NAMES[*N] unless it is there already. */
static void
cfg_name_add(char ***names, size_t *n, const char *name)
{
	char buf[INET6_ADDRSTRLEN];
	size_t len = strlen(name);

	if (name[0] == '[' && len >= 2 && len - 2 < sizeof buf) {
		memcpy(buf, name + 1, len - 2);
		buf[len - 2] = '\0';
		name = buf;
	}
	if (cfg_is_wildcard(name))
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp((*names)[i], name) == 0)
			return;
	*names = xrealloc(*names, (*n + 1) * sizeof **names);
	(*names)[(*n)++] = xstrdup(name);
}

char **
config_master_names(const struct kiln_config *c, size_t *n)
{
	char **names = NULL;
	char hn[256];

	*n = 0;
	if (c->master.host != NULL)
		cfg_name_add(&names, n, c->master.host);
	cfg_name_add(&names, n, c->master.listen);
	for (size_t i = 0; i < c->master.ntls_names; i++)
		cfg_name_add(&names, n, c->master.tls_names[i]);
	if (gethostname(hn, sizeof hn) == 0) {
		hn[sizeof hn - 1] = '\0';
		cfg_name_add(&names, n, hn);
	}
	cfg_name_add(&names, n, "localhost");
	cfg_name_add(&names, n, "127.0.0.1");
	cfg_name_add(&names, n, "::1");
	/* Bound to every address: any of them may be dialled. */
	struct ifaddrs *ifs;
	if (cfg_is_wildcard(c->master.listen) && getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
			char a[INET6_ADDRSTRLEN];
			if (i->ifa_addr == NULL)
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
				          i->ifa_addr)->sin_addr, a, sizeof a);
			else if (i->ifa_addr->sa_family == AF_INET6 &&
			         !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)
			                 (void *)i->ifa_addr)->sin6_addr))
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)
				          (void *)i->ifa_addr)->sin6_addr, a,
				          sizeof a);
			else
				continue;
			cfg_name_add(&names, n, a);
		}
		freeifaddrs(ifs);
	}
	return names;
}

void
config_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Is the literal address A (FAMILY AF_INET or AF_INET6) on one of this
 * machine's interfaces?  A worker may be configured by its LAN address. */
static int
cfg_addr_is_mine(int family, const void *a)
{
	struct ifaddrs *ifs, *i;
	int mine = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i != NULL && !mine; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			mine = memcmp(&((struct sockaddr_in *)(void *)
			                i->ifa_addr)->sin_addr, a,
			              sizeof(struct in_addr)) == 0;
		else
			mine = memcmp(&((struct sockaddr_in6 *)(void *)
			                i->ifa_addr)->sin6_addr, a,
			              sizeof(struct in6_addr)) == 0;
	}
	freeifaddrs(ifs);
	return mine;
}

/*
 * No DNS here: `kiln up` asks this for every worker, and a slow or broken
 * resolver must not stall it.  So a name is local only if it is
 * "localhost" or this machine's hostname (or its first label); an address
 * if it is loopback or assigned to an interface.  The wildcard 0.0.0.0 is
 * not an address of anything, so it is not local.
 */
int
config_host_is_local(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 2];
	char hn[256];

	if (host == NULL || *host == '\0')
		return 0;
	if (strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0 ||
	    strcasecmp(host, "ip6-localhost") == 0 ||
	    strcasecmp(host, "ip6-loopback") == 0)
		return 1;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127 ||
		       cfg_addr_is_mine(AF_INET, &a4);
	/* Accept "[::1]" as URLs write it. */
	size_t n = strlen(host);
	if (host[0] == '[' && n >= 2 && host[n - 1] == ']' &&
	    n - 2 < sizeof buf) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
	} else if (n < sizeof buf) {
		memcpy(buf, host, n + 1);
	} else {
		buf[0] = '\0';
	}
	if (buf[0] != '\0' && inet_pton(AF_INET6, buf, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			return a6.s6_addr[12] == 127 ||
			       cfg_addr_is_mine(AF_INET, &a6.s6_addr[12]);
		return cfg_addr_is_mine(AF_INET6, &a6);
	}

	if (gethostname(hn, sizeof hn) < 0)
		return 0;
	hn[sizeof hn - 1] = '\0';
	if (strcasecmp(host, hn) == 0)
		return 1;
	char *dot = strchr(hn, '.');
	return dot != NULL && (size_t)(dot - hn) == n &&
	       strncasecmp(host, hn, n) == 0;
}

/* ---------------------------------------------------------------- secret */

/* The secret file holds 64 hex digits: 256 random bits. */
#define CFG_SECRET_BYTES 32
/* Anything much larger than that is not a secret file. */
#define CFG_SECRET_FILE_MAX 4096

/*
 * Read PATH into *secret.  Returns -ENOENT, without a message, if it does
 * not exist.  An empty file may be one that config_secret() in another
 * process has just created and is about to fill, so it is read again for
 * up to a second before being refused.
 */
static int
cfg_read_secret(const char *path, char **secret, char **err)
{
	char buf[CFG_SECRET_FILE_MAX + 1];
	size_t len = 0;

	for (int tries = 0;; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				return -ENOENT;
			return err_set(err, -errno, "cannot open secret file "
			              "%s: %s", path, strerror(errno));
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return err_set(err, -EINVAL, "secret file %s is not a "
			              "regular file", path);
		}
		if (tries == 0 && (st.st_mode & 077) != 0)
			log_warn("secret file %s is accessible by group or "
			         "others (mode %03o); run chmod 600 %s", path,
			         (unsigned)(st.st_mode & 0777), path);
		len = 0;
		for (;;) {
			ssize_t r = read(fd, buf + len, sizeof buf - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				int e = errno;
				close(fd);
				return err_set(err, -e, "cannot read secret "
				              "file %s: %s", path, strerror(e));
			}
			if (r == 0 || (len += (size_t)r) == sizeof buf)
				break;
		}
		close(fd);
		if (len == sizeof buf)
			return err_set(err, -EINVAL, "secret file %s is larger "
			              "than %d bytes", path,
			              CFG_SECRET_FILE_MAX);
		if (len > 0 || tries >= 100)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}

	size_t start = 0;
	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	while (len > start && isspace((unsigned char)buf[len - 1]))
		len--;
	size_t n = len - start;
	if (n < CFG_SECRET_MIN) {
		sodium_memzero(buf, sizeof buf);
		return err_set(err, -EINVAL, "secret file %s is %s (%zu "
		              "characters, at least %d needed)", path,
		              n == 0 ? "empty" : "too short", n,
		              CFG_SECRET_MIN);
	}
	*secret = xstrndup(buf + start, n);
	sodium_memzero(buf, sizeof buf);
	return 0;
}

/* Write a new random secret to PATH.  -EEXIST if the file appeared in the
 * meantime (another process won the race; its secret is the one). */
static int
cfg_create_secret(const char *path, char **err)
{
	unsigned char raw[CFG_SECRET_BYTES];
	char hex[2 * CFG_SECRET_BYTES + 2];
	int rc;

	if ((rc = fs_mkdir_parents(path, 0700, err)) < 0)
		return rc;
	if (sodium_init() < 0)
		return err_set(err, -EIO, "cannot initialise libsodium");
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return err_set(err, -errno, "cannot create secret file %s: %s",
		              path, strerror(errno));
	}
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
	sodium_memzero(raw, sizeof raw);
	hex[2 * CFG_SECRET_BYTES] = '\n';

	/* One write: a reader sees the file empty or whole. */
	size_t len = 2 * CFG_SECRET_BYTES + 1;
	ssize_t w;
	do
		w = write(fd, hex, len);
	while (w < 0 && errno == EINTR);
	int e = w < 0 ? errno : EIO;
	sodium_memzero(hex, sizeof hex);
	if (w != (ssize_t)len || fsync(fd) < 0) {
		if (w == (ssize_t)len)
			e = errno;
		close(fd);
		/* An empty secret file would break every later start. */
		unlink(path);
		return err_set(err, -e, "cannot write secret file %s: %s", path,
		              strerror(e));
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(path);
		return err_set(err, -e, "cannot write secret file %s: %s", path,
		              strerror(e));
	}
	log_info("created cluster secret %s", path);
	return 0;
}

int
config_secret(const struct kiln_config *c, int create, char **secret,
              char **err)
{
	const char *path = c->auth.secret_file;

	*secret = NULL;
	if (c->auth.secret != NULL) {
		*secret = xstrdup(c->auth.secret);
		return 0;
	}
	if (path == NULL)
		return err_set(err, -EINVAL, "no master.auth.secret or "
		              "secret_file configured");
	/* Bounded: a file that keeps vanishing between create and read is
	 * someone else's fight. */
	for (int tries = 0; tries < 3; tries++) {
		int rc = cfg_read_secret(path, secret, err);
		if (rc != -ENOENT)
			return rc;
		if (!create)
			break;
		rc = cfg_create_secret(path, err);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return err_set(err, -ENOENT, "secret file %s does not exist (`kiln up` "
	              "creates it, or set master.auth.secret)", path);
}
