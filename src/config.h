/* SPDX-License-Identifier: MIT */
/*
 * config.h - cluster.yaml: what the cluster looks like.
 *
 * config_load() parses and validates the file with libyaml.  Every error
 * names FILE:LINE:COLUMN of the offending node.  Relative paths in the file
 * are resolved against the directory that holds it, so a cluster.yaml can
 * be moved together with its data.
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdint.h>
#include <stddef.h>

#define KILN_CACHE_SIZE_DEFAULT ((int64_t)8 << 30)
/* API tokens live master.auth.token_ttl, this by default; an expiry, the
 * key's or a token's own, is at most KILN_TOKEN_TTL_MAX_MS away. */
#define KILN_TOKEN_TTL_DEFAULT_MS (90 * 86400000LL)
#define KILN_TOKEN_TTL_MAX_MS     (3650 * 86400000LL)

/* The largest file a task opens by path (data.max_file_size). */
#define KILN_MAX_FILE_SIZE_DEFAULT ((int64_t)16 << 30)

/* A list of absolute paths (data.read_roots, workers[].read_roots). */
struct kiln_paths {
	char **v;
	size_t n;
};

struct kiln_worker_conf {
	char *name;
	char *host;          /* where it runs; "localhost"/"127.0.0.1"/this host
	                      * name means `kiln up` starts it */
	int slots;           /* task threads, >= 1 */
	int64_t memory;      /* bytes offered to tasks */
	int64_t cache_size;  /* bytes of inputs and outputs kept on disk */
	char *plugin_dir;    /* absolute; defaults to master.plugin_dir */
	char *data_dir;      /* absolute; defaults to <master.data_dir>/../<name> */
	struct kiln_paths read_roots; /* more directories its tasks may
	                      * read files from (see dataroot.h) */
	int64_t max_file_size; /* largest file a task opens by path; 0:
	                      * data.max_file_size */
	int in_process;      /* isolation: thread (1) runs plugin tasks in
	                      * the worker; process (0, the default) in
	                      * executor processes (executor.h) */
	struct kiln_paths in_process_plugins; /* plugins run on the worker's
	                      * threads even under isolation: process (short,
	                      * trusted tasks: the executor's round trip
	                      * costs them most) */
	int exec;            /* loads the 'exec' plugin (commands run with
	                      * the worker's rights); default 0 */
	int64_t max_output_size; /* most bytes of outputs per task; 0: any */
	int line, column;    /* where the entry starts, for messages */
};

struct kiln_user_conf {  /* a dashboard user (master.auth.users; see users.c) */
	char *name;
	char *role;          /* "admin" or "viewer" */
	char *password_hash; /* argon2id string from `kiln passwd` */
};

struct kiln_pool_conf {  /* a pool: at most `slots` of its tasks at once */
	char *name;
	int slots;
};

struct kiln_config {
	char *path;          /* the file, as given */
	char *base_dir;      /* absolute directory of the file */

	char *cluster_name;  /* cluster.name, default "kiln" */

	struct {
		char *name;          /* default "master" */
		char *host;          /* where workers reach it, default = listen */
		char *listen;        /* default "127.0.0.1" */
		int port;            /* default 8080 */
		char *data_dir;      /* absolute; holds kiln.db, artifacts */
		char *plugin_dir;    /* absolute */
		char *web_dir;       /* absolute or NULL (serve compiled-in) */
		char *dags_dir;      /* absolute or NULL */
		int http_threads;    /* default 4 */
		int64_t max_body;    /* bytes, default 8 MiB */
		int64_t max_artifact; /* an artifact's bytes (streamed, not
		                       * bounded by max_body), default 64 GiB */
		int max_uploads;     /* artifact uploads at once, default 16 */
		int request_timeout_ms; /* a request's headers and body all
		                      * in within this, default 60 s */
		int per_ip_connections; /* per client address, default 128 */
		int beats_per_s;        /* heartbeats_per_second: the most the
		                         * master takes, all workers together
		                         * (default SCHED_BEATS_PER_S) */
		int heartbeat_ms;    /* worker heartbeat interval, default 1000 */
		int worker_timeout_ms; /* dead after, default 10000 */
		int default_max_attempts; /* default 3 */
		int64_t retention_ms; /* finished jobs and runs kept this long;
		                       * 0 (default) = forever */
		int metrics_auth;    /* /metrics needs auth; default: unless
		                      * listen is a loopback address */
		/* HTTPS (master.tls).  `tls` is what was decided: on unless
		 * mode is off, or auto with a loopback listen address. */
		int tls;
		int tls_mode;        /* CONFIG_TLS_AUTO (default), _ON, _OFF */
		char *tls_cert_file; /* a certificate of one's own (PEM chain) */
		char *tls_key_file;  /* and its key; else the master makes one
		                      * from the cluster CA */
		char *tls_ca_file;   /* what clients trust instead of the
		                      * cluster CA (a public CA's bundle) */
		char **tls_names;    /* more names for the certificate made */
		size_t ntls_names;
		int insecure_plain_http; /* plain HTTP on a non-loopback
		                          * address, said in so many words */
		int callback_commands; /* DAG `command:` notifications run
		                      * on the master (alert.h); default 0 */
		int max_map_length;  /* instances a mapped DAG task may expand
		                      * into, default 1024 (Airflow's) */
	} master;

	struct {
		char *secret;        /* inline secret, or NULL */
		char *secret_file;   /* absolute path, or NULL */
		struct kiln_user_conf *users;
		size_t nusers;
		int session_ttl_ms;  /* dashboard session idle timeout, 12h */
		int64_t token_ttl_ms; /* API tokens' lifetime; 0 = the default,
		                      * KILN_TOKEN_TTL_DEFAULT_MS */
	} auth;

	struct kiln_worker_conf *workers;
	size_t nworkers;

	/* What tasks may read from the workers' file systems (dataroot.h):
	 * besides each worker's data_dir and master.dags_dir, these
	 * directories on every worker; files up to max_file_size bytes
	 * (default KILN_MAX_FILE_SIZE_DEFAULT). */
	struct {
		struct kiln_paths read_roots;
		int64_t max_file_size;
	} data;

	struct kiln_pool_conf *pools;   /* master.pools: {name: slots} */
	size_t npools;
};

/* Parse PATH.  On success returns 0 and *out (free with config_free).  On
 * failure returns a negative error and *err, a malloc()ed message
 * "FILE:LINE:COLUMN: message" that the caller frees. */
enum { CONFIG_TLS_AUTO = 0, CONFIG_TLS_ON, CONFIG_TLS_OFF };

int config_load(const char *path, struct kiln_config **out, char **err);
void config_free(struct kiln_config *c);

/* The worker entry NAME, or NULL. */
const struct kiln_worker_conf *config_worker(const struct kiln_config *c,
                                             const char *name);
/* Non-zero if NAME is the master's name. */
int config_is_master(const struct kiln_config *c, const char *name);
/* Non-zero if HOST names this machine (localhost, 127.x, ::1, hostname). */
int config_host_is_local(const char *host);
/* Is HOST (a name or an address, IPv6 maybe in brackets) loopback only:
 * localhost, 127.0.0.0/8 or ::1? */
int config_host_is_loopback(const char *host);

/* "http[s]://HOST:PORT" where workers and the CLI reach the master
 * (master.host, a wildcard listen address meaning this machine);
 * malloc()ed. */
char *config_master_url(const struct kiln_config *c);
/* The names and addresses the master's own certificate should carry:
 * master.host, master.listen, master.tls.names, this machine's name,
 * localhost and the loopback addresses (every local address when listen
 * is a wildcard).  *N of them, malloc()ed, each too; config_names_free(). */
char **config_master_names(const struct kiln_config *c, size_t *n);
void config_names_free(char **names, size_t n);

/* The cluster secret: auth.secret, else the contents of auth.secret_file.
 * If CREATE and the file does not exist, a random 256-bit secret is written
 * to it with mode 0600.  *secret is malloc()ed, caller frees. */
int config_secret(const struct kiln_config *c, int create, char **secret,
                  char **err);

/* Parse "500ms", "2s", "5m", "1h", "1d" or a bare number of seconds. */
int config_parse_duration_ms(const char *s, int64_t *ms);
/* Parse "512MiB", "2GiB", "1G", "100k" or a bare number of bytes. */
int config_parse_size(const char *s, int64_t *bytes);

#endif
