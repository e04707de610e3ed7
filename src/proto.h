/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the worker<->master messages (docs/api.md, "Worker protocol"),
 * as plain C structs, encoded and decoded here for both sides, so that
 * each JSON key is written in one place.
 *
 * For every message M:
 *   json_t *proto_M_encode(const struct proto_M *m);
 *       the body to send: a new reference, never NULL.  Strings are copied.
 *   int proto_M_decode(json_t *j, struct proto_M *m, char **err);
 *       0, or -EINVAL with *err (malloc()ed) naming the first bad field
 *       ("results[2].state: missing").  On success M borrows from J (it
 *       keeps a reference) and owns the arrays and texts it made: free
 *       them with proto_release(&m->own).  On failure M holds nothing.
 * Keys a message may lack (older nodes) have defaults, documented on the
 * member; keys a decoder does not know are ignored, so a newer node may
 * add some (as `param_decl` of a plugin was added).
 */
#ifndef KILN_PROTO_H
#define KILN_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "jobstate.h"

struct kiln_plugin;

/* The routes of the protocol, on the master. */
#define PROTO_PATH_REGISTER "/api/v1/cluster/register"
#define PROTO_PATH_EXCHANGE "/api/v1/cluster/exchange"
#define PROTO_PATH_LEAVE    "/api/v1/cluster/leave"
#define PROTO_PATH_STAGES   "/api/v1/cluster/stages"   /* /ID to poll, DELETE */

/* What a decoded message owns (private to proto.c). */
struct proto_own {
	json_t *json;           /* the decoded body, which strings point into */
	void **mem;             /* arrays and texts made while decoding */
	size_t nmem, cap;
};
/* Free what a decoded message owns; M's pointers are invalid after. */
void proto_release(struct proto_own *own);

/* One attempt of a task: held, running, or to cancel. */
struct proto_attempt {
	int64_t id;
	int attempt;
};

/* A file a task reads or wrote: an artifact of the master. */
struct proto_file {
	const char *name;
	const char *sha;
	int64_t size;
};

/* File names from the other side become paths (a worker's inputs, the
 * names downstream tasks see): 1 to PROTO_NAME_MAX bytes, no control
 * character, not absolute, no "." or ".." component, and no '/' at all
 * unless SLASH_OK (an input is named UPSTREAM/OUTPUT; an output is one
 * name).  Non-zero if NAME is such a name. */
#define PROTO_NAME_MAX 255
int proto_name_ok(const char *name, int slash_ok);

/* The file list as JSON (an array of {name, sha, size}), and back: TEXT into
 * *files and *n, owned by OWN (release it); 0, or -EINVAL with *err. */
json_t *proto_files_json(const struct proto_file *files, size_t n);
int proto_files_parse(const char *text, struct proto_file **files, size_t *n,
                      struct proto_own *own, char **err);

/* A copy of files F that owns its strings (one allocation: free() it). */
struct proto_file *proto_files_dup(const struct proto_file *f, size_t n);

/* ------------------------------------------------------------ register */

/* One plugin as a worker announces it: {name, version, description,
 * params: [{name, type, default, help}]} and, when DECL is given (borrowed),
 * param_decl: DECL (see plugin_params_decl_json). */
json_t *proto_plugin_json(const struct kiln_plugin *d, json_t *decl);
/* The param_decl of plugin entry P (borrowed), or NULL from older workers. */
json_t *proto_plugin_decl(json_t *p);

/* POST register: a worker (re)joins. */
struct proto_register {
	const char *name;
	const char *host;             /* "" if absent */
	int slots;                    /* 1 .. 4096 */
	int64_t memory;               /* bytes, >= 0 */
	json_t *plugins;              /* [proto_plugin_json()...]: kept as
	                               * JSON, since the master stores and
	                               * shows it as it came; each has a name */
	json_t *plugin_errors;        /* [{file, error}], or NULL */
	struct proto_attempt *held;   /* what it still has (absent: none) */
	size_t nheld;
	struct proto_own own;
};
json_t *proto_register_encode(const struct proto_register *m);
int proto_register_decode(json_t *j, struct proto_register *m, char **err);

struct proto_register_reply {
	const char *session;          /* names this registration */
	int64_t heartbeat_ms;
	struct proto_attempt *cancel; /* held attempts no longer its own */
	size_t ncancel;
	struct proto_own own;
};
json_t *proto_register_reply_encode(const struct proto_register_reply *m);
int proto_register_reply_decode(json_t *j, struct proto_register_reply *m,
                                char **err);

/* ------------------------------------------------------------ exchange */

/* A finished attempt. */
struct proto_result {
	int64_t id;
	int attempt;
	int state;                    /* JOB_SUCCEEDED, JOB_FAILED or
	                               * JOB_CANCELLED; any other name decodes
	                               * as JOB_FAILED */
	int code;                     /* KILN_E*; absent (older workers): 0 */
	const char *result;           /* JSON text, or NULL */
	const char *error;            /* or NULL */
	const char *log;              /* or NULL */
	int64_t finished_ms;          /* absent: 0 */
	int64_t duration_ms;          /* absent: -1 (unknown) */
	struct proto_file *outputs;   /* absent: none */
	size_t noutputs;
};

/* A copy of R that owns its strings and outputs, for a worker's outbox;
 * free it with proto_result_free(). */
struct proto_result *proto_result_dup(const struct proto_result *r);
void proto_result_free(struct proto_result *r);

/* New log lines of a running attempt, for the live tail. */
struct proto_progress {
	int64_t id;
	int attempt;
	const char *log;              /* or NULL */
	double progress;              /* 0 .. 1 */
};

/* POST exchange: results in, tasks out; also the heartbeat. */
struct proto_exchange {
	const char *name;
	const char *session;
	struct proto_result *results;
	size_t nresults;
	struct proto_attempt *running;
	size_t nrunning;
	int want;                     /* tasks it would take, >= 0 */
	int64_t wait_ms;              /* long poll, >= 0 (absent: 0) */
	struct proto_progress *progress;
	size_t nprogress;
	/* Its disk cache of artifacts (src/diskcache.c): bytes, files and
	 * budget, or -1 when not said (sent with the running list only). */
	int64_t cache_bytes, cache_files, cache_budget;
	struct proto_own own;
};
/* The exchange as compact JSON text (the caller frees it), its length in
 * *LEN: what a worker sends, written without a jansson tree.
 * proto_exchange_encode() is that text parsed (for tests). */
char *proto_exchange_text(const struct proto_exchange *m, size_t *len);
json_t *proto_exchange_encode(const struct proto_exchange *m);
/* How long a worker's idle exchange (its heartbeat, a long poll) waits,
 * for heartbeat interval HB ms and a random R: the first after a
 * registration waits 10% to 100% of HB, the others 90% to 110%.  Workers
 * started together (`kiln up`, a restarted rack) would otherwise beat in
 * step, and the master take all of them in the same millisecond; so their
 * beats spread over the interval at once, and stay spread, at HB apart on
 * average. */
int64_t proto_heartbeat_wait(int64_t hb, int first, uint32_t r);
int proto_exchange_decode(json_t *j, struct proto_exchange *m, char **err);
/* The same from the body's text (LEN bytes at TEXT, which need not
 * outlive M): what the master reads, without a jansson tree. */
int proto_exchange_parse(const char *text, size_t len, struct proto_exchange *m,
                         char **err);
/* Keep P (malloc()ed) until OWN is released; P returned. */
void *proto_keep(struct proto_own *own, void *p);

/* A task handed to a worker. */
struct proto_task {
	int64_t id;
	int attempt;
	const char *plugin;
	json_t *params;               /* an object (borrowed; NULL: {}) */
	const char *params_text;      /* or the object as JSON text (read
	                               * from text: params is NULL then) */
	int slots;
	int64_t memory;
	int64_t timeout_ms;           /* 0 = none */
	struct proto_file *inputs;
	size_t ninputs;
	int stage;                    /* a map task of a stage */
	int64_t stage_id;             /* then its stage and index in it, */
	int64_t index;                /* for names in logs (0 if unknown) */
};

struct proto_exchange_reply {
	struct proto_task *tasks;
	size_t ntasks;
	struct proto_attempt *cancel;
	size_t ncancel;
	int64_t acked;                /* results accepted (all that were sent) */
	int64_t heartbeat_ms;         /* the interval to beat at from now; 0:
	                               * not said (an older master) */
	struct proto_own own;
};
/* The reply as compact JSON text (the caller frees it), its length in
 * *LEN; keys at their decoder's default are left out. */
char *proto_exchange_reply_text(const struct proto_exchange_reply *m,
                                size_t *len);
int proto_exchange_reply_decode(json_t *j, struct proto_exchange_reply *m,
                                char **err);
/* The same from the reply's text (LEN bytes at TEXT, which need not
 * outlive M): what a worker reads, without a jansson tree; a task's
 * params as params_text. */
int proto_exchange_reply_parse(const char *text, size_t len,
                               struct proto_exchange_reply *m, char **err);

/* --------------------------------------------------------------- leave */

struct proto_leave {
	const char *session;          /* absent: NULL */
	struct proto_own own;
};
json_t *proto_leave_encode(const struct proto_leave *m);
int proto_leave_decode(json_t *j, struct proto_leave *m, char **err);
json_t *proto_leave_reply_encode(void);

/* -------------------------------------------------------------- stages */

/* The parameters of a map task: an object whose PROTO_MAP_STAGE member is
 * {fn, index, count}, with PROTO_MAP_ARG and PROTO_MAP_BROADCAST (any JSON,
 * absent if none).  task.c reads them back. */
#define PROTO_MAP_STAGE     "__stage"
#define PROTO_MAP_FN        "fn"
#define PROTO_MAP_INDEX     "index"
#define PROTO_MAP_COUNT     "count"
#define PROTO_MAP_ARG       "__arg"
#define PROTO_MAP_BROADCAST "__broadcast"
/* Map task INDEX of COUNT of function FN: its parameters (a new
 * reference).  ARG and BROADCAST (borrowed) may be NULL. */
json_t *proto_map_params(const char *fn, int index, int count, json_t *arg,
                         json_t *broadcast);

struct proto_stage_task {
	json_t *params;               /* an object (borrowed) */
	struct proto_file *inputs;    /* absent: none */
	size_t ninputs;
	const char *locality;         /* sha of the data it reads, or NULL */
};

/* POST stages: a running driver job's map tasks. */
struct proto_stage {
	int64_t job;
	int attempt;
	const char *plugin;
	int64_t wait_ms;              /* >= 0; absent: 0 */
	struct proto_stage_task *tasks;   /* 1 or more */
	size_t ntasks;
	struct proto_own own;
};
json_t *proto_stage_encode(const struct proto_stage *m);
int proto_stage_decode(json_t *j, struct proto_stage *m, char **err);

/* The reply to POST stages and GET stages/ID. */
struct proto_stage_reply {
	int64_t stage;
	int done;
	const char *const *results;   /* if done: JSON texts in task order */
	size_t nresults;
	/* If done: map task I's outputs (ABI 1.7), which the driver adopts.
	 * Encoding: outputs_json[I] is a JSON array text of {name, sha,
	 * size} or NULL (none), or outputs_json itself NULL (no task wrote
	 * any).  Decoded: outputs[I] and noutputs[I] (both NULL when none
	 * wrote any). */
	const char *const *outputs_json;
	struct proto_file **outputs;
	size_t *noutputs;
	struct proto_own own;
};
json_t *proto_stage_reply_encode(const struct proto_stage_reply *m);
int proto_stage_reply_decode(json_t *j, struct proto_stage_reply *m,
                             char **err);
/* The reply to DELETE stages/ID. */
json_t *proto_stage_cancelled_encode(int64_t stage);

#endif
