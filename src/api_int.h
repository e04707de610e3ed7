/* SPDX-License-Identifier: MIT */
/*
 * api_int.h - what the files of the master's API share; other modules see
 * only api.h.
 *
 *   api.c            the route table, the dispatcher (who may call what),
 *                    shared helpers, and the worker protocol's handlers
 *   api_jobs.c       jobs: submit, list, get, log, cancel
 *   api_dags.c       DAGs, their runs and task instances
 *   api_artifacts.c  artifacts over HTTP (the store is src/artifact.c)
 *   api_auth.c       login, logout, me, tokens
 *   api_vars.c       variables and connections
 *   api_web.c        the dashboard's files, health, metrics, stats,
 *                    workers, plugins
 *
 * A handler is called only for a request its route's row allows: the
 * dispatcher has authenticated the caller and checked the role and the
 * CSRF token.  It must reply (http_reply*) or park (http_park), and may
 * be entered again after a park (see http.h).
 */
#ifndef KILN_API_INT_H
#define KILN_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "route.h"

#define API_LONGPOLL_MAX_MS 60000       /* a long poll waits at most this */
#define API_SESSION_COOKIE "kiln_session"
/* The largest body an open route (login) takes, before anyone is known. */
#define API_OPEN_BODY_MAX 4096
/* Request bodies are JSON at most this deep, with at most this many
 * values, checked on the bytes before they are parsed. */
#define API_JSON_MAX_DEPTH 64
#define API_JSON_MAX_NODES 1000000

/* Who is asking. */
enum { WHO_NONE, WHO_SIGNED, WHO_ADMIN, WHO_VIEWER };

struct who {
	int kind;
	char *id;       /* signer id (WHO_SIGNED), user (session) or the
	                 * token's name (token) */
	char *csrf;     /* set if authenticated by a session cookie */
	const char *how; /* "signed", "token" or "session" */
	int64_t token;  /* the token's id (how "token") */
	const char *refused; /* WHO_NONE: why the credentials were refused
	                 * ("token expired"), for the 401; or NULL */
};

/* One request as a handler receives it. */
struct api_call {
	const struct who *who;          /* kind WHO_NONE on open routes */
	struct route_params params;     /* the path's :parameters */
};

typedef void api_handler(struct api_ctx *a, http_req *r, const struct api_call *c);

/* Who may call a route. */
enum api_role {
	API_OPEN,       /* anyone; the caller is not even looked up */
	API_METRICS,    /* anyone, unless master.metrics_auth: then API_VIEWER */
	API_VIEWER,     /* any caller who authenticated: session, token, signature */
	API_ADMIN,      /* an admin session or token, or a signature */
	API_WORKER,     /* a signature with the cluster secret */
};

/* One row of the route table. */
struct api_route {
	const char *method;     /* "GET", "POST", ...; "*" any */
	const char *pattern;    /* see route.h */
	enum api_role role;
	int csrf;               /* a caller with a session cookie must send
	                         * its X-CSRF-Token */
	api_handler *handler;
};

/* The master's routes (api.c), tried in order. */
extern const struct api_route api_routes[];
extern const size_t api_nroutes;

/* Answer R by the first of ROUTES (N rows) whose method and pattern match
 * it: authenticate the caller, refuse what the row does not allow (401,
 * 403), else call the row's handler.  api_handle() is this on api_routes;
 * the tests pass tables of their own. */
void api_dispatch(struct api_ctx *a, http_req *r, const struct api_route *routes,
                  size_t n);
/* The gate (http.h) over ROUTES: R's caller judged on its headers alone,
 * before a byte of its body is read; refused (1, after a 401 or 403) if
 * its row does not allow them; an open route may send API_OPEN_BODY_MAX
 * bytes.  A signature is only prechecked here: api_dispatch verifies it
 * over the body.  api_gate() is this on api_routes. */
int api_gate_routes(struct api_ctx *a, http_req *r,
                    const struct api_route *routes, size_t n);

/* ---- helpers (api.c) */

/* State kept across a parked request. */
struct pstate {
	int entered;
	int64_t deadline;
	json_t *body;
	struct proto_exchange *exchange;  /* a worker's exchange, as read */
	int64_t stage;   /* a stage submit's stage, once made */
	int64_t job;     /* POST /jobs?wait: the job it submitted */
};

/* R's state, made on first use. */
struct pstate *api_pstate(http_req *r);
/* The request body as a JSON object, or NULL after replying 400. */
json_t *api_body_object(http_req *r);
/* Query parameter NAME as a number (its leading digits, as strtoll reads
 * them; garbage is 0), or DFLT if absent. */
int64_t api_query_int64(http_req *r, const char *name, int64_t dflt);
/* Reply to a request that failed with RC and message ERR: 503 when the
 * store or the artifact store cannot be written now (a full or failing
 * disk: "the store's disk is full: ..."; with Retry-After, as the client
 * may try again, and service resumes by itself once there is space), else 500. */
void api_reply_failed(http_req *r, int rc, const char *err);
int api_query_int(http_req *r, const char *name, int dflt);

/* ---- handlers, by file */

/* api.c: the catch-alls: 404 "no route", 405 "method not allowed". */
api_handler api_no_route, api_no_method;

/* api_jobs.c */
api_handler api_jobs_submit, api_jobs_batch, api_jobs_list, api_job_get,
	api_job_log, api_job_cancel, api_jobs_cancel, api_job_stages;
/* Reply with the log of job ID (?attempt=N); also for task instances. */
void api_job_log_reply(struct api_ctx *a, http_req *r, int64_t id);

/* api_dags.c */
api_handler api_dags_list, api_dags_errors, api_dag_get, api_dag_grid,
	api_dag_runs, api_dag_trigger, api_dag_pause, api_dag_unpause,
	api_dag_backfill, api_run_get, api_task_clear, api_task_log,
	api_task_mark;

/* api_dagver.c: DAG versions */
api_handler api_dag_versions, api_dag_version, api_dag_diff;

/* api_vars.c: variables and connections */
api_handler api_vars_list, api_var_get, api_var_reveal, api_var_set,
	api_var_delete, api_conns_list, api_conn_get, api_conn_reveal,
	api_conn_set, api_conn_delete;

/* api_artifacts.c */
api_handler api_artifact_put, api_artifact_get;
/* From the gate, for PUT /api/v1/artifacts/:sha (P its parameters, the
 * caller authorized): start streaming R's body to the artifact's
 * temporary file, or reply (411, 413, 503, 507, or 201 if it is stored
 * already and the caller sent Expect: 100-continue) and say 1. */
int api_artifact_stream(struct api_ctx *a, http_req *r,
                        const struct route_params *p);

/* api_auth.c */
api_handler api_login, api_logout, api_me, api_token_create,
	api_tokens_list, api_token_revoke;
/* Authenticate Bearer TOKEN into W: the token's role, name and id if it
 * may be used; else W is left WHO_NONE, with W->refused set if the token
 * is known but expired or revoked. */
void api_token_who(struct api_ctx *a, const char *token, struct who *w);
/* Who W is, as a token's created_by and an idempotency key's owner:
 * "user:NAME" (a dashboard session), "token:ID" or "signer:ID" (a
 * Kiln-HMAC signature: the CLI, a worker).  Caller frees. */
char *api_principal(const struct who *w);

/* api_web.c */
api_handler api_static, api_health, api_metrics, api_stats, api_workers,
	api_worker, api_plugins, api_pools;

#endif
