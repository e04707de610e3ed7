/* SPDX-License-Identifier: MIT */
/*
 * proto.c - the worker<->master messages (see proto.h and docs/api.md).
 *
 * Each message's encoder and decoder sit side by side, so a key is
 * spelled in one place.  Decoders check every field they read (presence,
 * type, range) and name the first bad one, so a malformed body gets a 400
 * that says what is wrong instead of zeros; they ignore keys they do not
 * know, which is how newer nodes extend a message.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/plugin.h"
#include "err.h"
#include "hash.h"
#include "jtext.h"
#include "proto.h"
#include "xalloc.h"

#define PROTO_SLOTS_MAX 4096

/* ------------------------------------------------------------ ownership */

static void *
own_keep(struct proto_own *own, void *p)
{
	if (own->nmem == own->cap) {
		own->cap = own->cap ? 2 * own->cap : 8;
		own->mem = xrealloc(own->mem, own->cap * sizeof *own->mem);
	}
	own->mem[own->nmem++] = p;
	return p;
}

void *
proto_keep(struct proto_own *own, void *p)
{
	return own_keep(own, p);
}

static void *
own_calloc(struct proto_own *own, size_t n, size_t size)
{
	return own_keep(own, xcalloc(n ? n : 1, size));
}

void
proto_release(struct proto_own *own)
{
	for (size_t i = 0; i < own->nmem; i++)
		free(own->mem[i]);
	free(own->mem);
	json_decref(own->json);
	memset(own, 0, sizeof *own);
}

/* Start decoding J into a message whose OWN is given; the message is
 * zeroed by the caller. */
static void
decode_begin(struct proto_own *own, json_t *j)
{
	own->json = json_incref(j);
}

/* End decoding with RC: a failed decode leaves nothing held. */
static int
decode_end(struct proto_own *own, int rc)
{
	if (rc != 0)
		proto_release(own);
	return rc;
}

/* ------------------------------------------------------------- fields */

/* "WHERE.KEY: WHAT", or "KEY: WHAT" at the top level. */
static int
bad(char **err, const char *where, const char *key, const char *what)
{
	return err_set(err, -EINVAL, "%s%s%s: %s", where, *where ? "." : "",
	              key, what);
}

static int
bad_range(char **err, const char *where, const char *key, int64_t n,
          int64_t lo, int64_t hi)
{
	char what[96];
	snprintf(what, sizeof what, "%lld is out of range %lld..%lld",
	         (long long)n, (long long)lo, (long long)hi);
	return bad(err, where, key, what);
}

/* Member KEY of object O, or NULL if absent or null; -EINVAL if absent
 * and REQUIRED. */
static int
member(json_t *o, const char *where, const char *key, int required,
       json_t **out, char **err)
{
	*out = json_object_get(o, key);
	if (json_is_null(*out))
		*out = NULL;
	if (*out == NULL && required)
		return bad(err, where, key, "missing");
	return 0;
}

static int
get_str(json_t *o, const char *where, const char *key, int required,
        const char **out, char **err)
{
	json_t *v;
	*out = NULL;
	if (member(o, where, key, required, &v, err) != 0)
		return -EINVAL;
	if (v != NULL && !json_is_string(v))
		return bad(err, where, key, "must be a string");
	*out = json_string_value(v);
	return 0;
}

/* An integer in LO..HI; DEF if absent and not REQUIRED. */
static int
get_int(json_t *o, const char *where, const char *key, int required,
        int64_t lo, int64_t hi, int64_t def, int64_t *out, char **err)
{
	json_t *v;
	*out = def;
	if (member(o, where, key, required, &v, err) != 0)
		return -EINVAL;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return bad(err, where, key, "must be an integer");
	int64_t n = json_integer_value(v);
	if (n < lo || n > hi)
		return bad_range(err, where, key, n, lo, hi);
	*out = n;
	return 0;
}

static int
get_i32(json_t *o, const char *where, const char *key, int required,
        int lo, int hi, int def, int *out, char **err)
{
	int64_t n;
	int rc = get_int(o, where, key, required, lo, hi, def, &n, err);
	*out = (int)n;
	return rc;
}

/* An array member: *out NULL if absent and not REQUIRED. */
static int
get_array(json_t *o, const char *where, const char *key, int required,
          json_t **out, char **err)
{
	if (member(o, where, key, required, out, err) != 0)
		return -EINVAL;
	if (*out != NULL && !json_is_array(*out))
		return bad(err, where, key, "must be an array");
	return 0;
}

/* Element I of array A (named KEY) as an object; its name in WHERE. */
static json_t *
element(json_t *a, const char *key, size_t i, char *where, size_t wlen,
        char **err)
{
	json_t *e = json_array_get(a, i);
	snprintf(where, wlen, "%s[%zu]", key, i);
	if (!json_is_object(e)) {
		err_set(err, -EINVAL, "%s: must be an object", where);
		return NULL;
	}
	return e;
}

/* ---------------------------------------------------- shared pieces */

static json_t *
attempts_json(const struct proto_attempt *a, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:i}", "id",
		                      (json_int_t)a[i].id, "attempt", a[i].attempt));
	return arr;
}

/* Read {id, attempt} out of element object E (named WHERE). */
static int
attempt_read(json_t *e, const char *where, int64_t *id, int *attempt,
             char **err)
{
	if (get_int(e, where, "id", 1, INT64_MIN, INT64_MAX, 0, id, err) != 0 ||
	    get_i32(e, where, "attempt", 1, 0, INT_MAX, 0, attempt, err) != 0)
		return -EINVAL;
	return 0;
}

static int
attempts_read(json_t *o, const char *key, int required, struct proto_own *own,
              struct proto_attempt **out, size_t *n, char **err)
{
	json_t *a;
	*out = NULL;
	*n = 0;
	if (get_array(o, "", key, required, &a, err) != 0)
		return -EINVAL;
	size_t len = json_array_size(a);
	struct proto_attempt *v = own_calloc(own, len, sizeof *v);
	for (size_t i = 0; i < len; i++) {
		char where[64];
		json_t *e = element(a, key, i, where, sizeof where, err);
		if (e == NULL || attempt_read(e, where, &v[i].id, &v[i].attempt,
		                              err) != 0)
			return -EINVAL;
	}
	*out = v;
	*n = len;
	return 0;
}

json_t *
proto_files_json(const struct proto_file *f, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "name", f[i].name,
		                      "sha", f[i].sha, "size", (json_int_t)f[i].size));
	return a;
}

struct proto_file *
proto_files_dup(const struct proto_file *f, size_t n)
{
	size_t len = (n ? n : 1) * sizeof *f;
	for (size_t i = 0; i < n; i++)
		len += strlen(f[i].name) + strlen(f[i].sha) + 2;
	struct proto_file *d = xmalloc(len);
	char *p = (char *)(d + (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		d[i].size = f[i].size;
		d[i].name = strcpy(p, f[i].name);
		p += strlen(p) + 1;
		d[i].sha = strcpy(p, f[i].sha);
		p += strlen(p) + 1;
	}
	return d;
}

int
proto_name_ok(const char *name, int slash_ok)
{
	size_t len = strlen(name);
	if (len == 0 || len > PROTO_NAME_MAX || name[0] == '/')
		return 0;
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || (*c == '/' && !slash_ok))
			return 0;
	/* each component: not "." nor ".." */
	for (const char *c = name; c != NULL; c = strchr(c, '/'), c = c ? c + 1 : c)
		if ((c[0] == '.' && (c[1] == '/' || c[1] == '\0')) ||
		    (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0')))
			return 0;
	return 1;
}

/* Array A (named WHERE) of files into *out; names with '/' if SLASH_OK
 * (proto_name_ok), hashes checked: a worker makes paths of both. */
static int
files_read(json_t *a, const char *where, int slash_ok, struct proto_own *own,
           struct proto_file **out, size_t *n, char **err)
{
	size_t len = json_array_size(a);
	struct proto_file *f = own_calloc(own, len, sizeof *f);
	for (size_t i = 0; i < len; i++) {
		char w[96];
		json_t *e = element(a, where, i, w, sizeof w, err);
		if (e == NULL ||
		    get_str(e, w, "name", 1, &f[i].name, err) != 0 ||
		    get_str(e, w, "sha", 1, &f[i].sha, err) != 0 ||
		    get_int(e, w, "size", 1, 0, INT64_MAX, 0, &f[i].size, err) != 0)
			return -EINVAL;
		if (!proto_name_ok(f[i].name, slash_ok))
			return err_set(err, -EINVAL, "%s.name: not a file name (1 to %d "
			              "bytes, no control character%s, no . or .. "
			              "component)", w, PROTO_NAME_MAX, slash_ok ?
			              ", not absolute" : ", no '/'");
		if (!hash_is_hex(f[i].sha))
			return err_set(err, -EINVAL, "%s.sha: not a SHA-256 (64 "
			              "lowercase hex digits)", w);
	}
	*out = f;
	*n = len;
	return 0;
}

/* Optional member KEY of O (named WHERE): a file list. */
static int
files_member(json_t *o, const char *where, const char *key,
             struct proto_own *own, struct proto_file **out, size_t *n,
             char **err)
{
	json_t *a;
	*out = NULL;
	*n = 0;
	if (get_array(o, where, key, 0, &a, err) != 0)
		return -EINVAL;
	if (a == NULL)
		return 0;
	char w[96];
	snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", key);
	return files_read(a, w, strcmp(key, "outputs") != 0, own, out, n, err);
}

int
proto_files_parse(const char *text, struct proto_file **files, size_t *n,
                  struct proto_own *own, char **err)
{
	memset(own, 0, sizeof *own);
	*files = NULL;
	*n = 0;
	if (text == NULL)
		return 0;
	json_t *a = json_loads(text, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return err_set(err, -EINVAL, "files: not a JSON array");
	}
	own->json = a;
	return decode_end(own, files_read(a, "files", 1, own, files, n, err));
}

/* Member KEY of O (named WHERE): an object, borrowed. */
static int
get_object(json_t *o, const char *where, const char *key, int required,
           json_t **out, char **err)
{
	if (member(o, where, key, required, out, err) != 0)
		return -EINVAL;
	if (*out != NULL && !json_is_object(*out))
		return bad(err, where, key, "must be an object");
	return 0;
}

/* JSON text TEXT as a value, or DEF (a new reference) if NULL or bad. */
static json_t *
text_value(const char *text, json_t *def)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	if (v == NULL)
		return def;
	json_decref(def);
	return v;
}

/* ------------------------------------------------------------ register */

json_t *
proto_plugin_json(const struct kiln_plugin *d, json_t *decl)
{
	json_t *params = json_array();
	for (const struct kiln_param *p = d->params; p != NULL && p->name != NULL; p++)
		json_array_append_new(params, json_pack("{s:s,s:s?,s:s?,s:s?}",
			"name", p->name, "type", p->type, "default", p->default_value,
			"help", p->help));
	json_t *o = json_pack("{s:s,s:s,s:s?,s:o}", "name", d->name,
		"version", d->version, "description", d->description,
		"params", params);
	if (decl != NULL)
		json_object_set(o, "param_decl", decl);
	return o;
}

json_t *
proto_plugin_decl(json_t *p)
{
	json_t *d = json_object_get(p, "param_decl");
	return json_is_array(d) ? d : NULL;
}

json_t *
proto_register_encode(const struct proto_register *m)
{
	json_t *plugins = m->plugins ? json_incref(m->plugins) : json_array();
	json_t *errors = m->plugin_errors ? json_incref(m->plugin_errors)
	                                  : json_array();
	return json_pack("{s:s,s:s,s:i,s:I,s:o,s:o,s:o}", "name", m->name,
		"host", m->host ? m->host : "", "slots", m->slots,
		"memory", (json_int_t)m->memory, "plugins", plugins,
		"held", attempts_json(m->held, m->nheld), "plugin_errors", errors);
}

static int
register_read(json_t *j, struct proto_register *m, char **err)
{
	if (get_str(j, "", "name", 1, &m->name, err) != 0 ||
	    get_str(j, "", "host", 0, &m->host, err) != 0 ||
	    get_i32(j, "", "slots", 1, 1, PROTO_SLOTS_MAX, 0, &m->slots, err) != 0 ||
	    get_int(j, "", "memory", 1, 0, INT64_MAX, 0, &m->memory, err) != 0 ||
	    get_array(j, "", "plugins", 1, &m->plugins, err) != 0 ||
	    get_array(j, "", "plugin_errors", 0, &m->plugin_errors, err) != 0 ||
	    attempts_read(j, "held", 0, &m->own, &m->held, &m->nheld, err) != 0)
		return -EINVAL;
	if (m->host == NULL)
		m->host = "";
	for (size_t i = 0; i < json_array_size(m->plugins); i++) {
		char where[64];
		const char *name;
		json_t *p = element(m->plugins, "plugins", i, where, sizeof where, err);
		if (p == NULL || get_str(p, where, "name", 1, &name, err) != 0)
			return -EINVAL;
	}
	return 0;
}

int
proto_register_decode(json_t *j, struct proto_register *m, char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, register_read(j, m, err));
}

json_t *
proto_register_reply_encode(const struct proto_register_reply *m)
{
	return json_pack("{s:s,s:I,s:o}", "session", m->session,
		"heartbeat_ms", (json_int_t)m->heartbeat_ms,
		"cancel", attempts_json(m->cancel, m->ncancel));
}

int
proto_register_reply_decode(json_t *j, struct proto_register_reply *m,
                            char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	int rc = get_str(j, "", "session", 1, &m->session, err) != 0 ||
		get_int(j, "", "heartbeat_ms", 0, 0, INT64_MAX, 0,
		        &m->heartbeat_ms, err) != 0 ||
		attempts_read(j, "cancel", 0, &m->own, &m->cancel, &m->ncancel,
		              err) != 0 ? -EINVAL : 0;
	return decode_end(&m->own, rc);
}

/* ------------------------------------------------------------ exchange */

struct proto_result *
proto_result_dup(const struct proto_result *r)
{
	struct proto_result *d = xmalloc(sizeof *d);
	*d = *r;
	d->result = xstrdup(r->result);
	d->error = xstrdup(r->error);
	d->log = xstrdup(r->log);
	d->outputs = r->noutputs ? proto_files_dup(r->outputs, r->noutputs) : NULL;
	return d;
}

void
proto_result_free(struct proto_result *r)
{
	if (r == NULL)
		return;
	free((char *)r->result);
	free((char *)r->error);
	free((char *)r->log);
	free(r->outputs);
	free(r);
}

/* A result's STATE: a state the master does not know is a failure it
 * can retry. */
static enum job_state
result_state(const char *state)
{
	enum job_state st = job_state_parse(state);
	return st == JOB_SUCCEEDED || st == JOB_CANCELLED ? st : JOB_FAILED;
}

static int
result_read(json_t *e, const char *w, struct proto_own *own,
            struct proto_result *r, char **err)
{
	const char *state;
	if (attempt_read(e, w, &r->id, &r->attempt, err) != 0 ||
	    get_str(e, w, "state", 1, &state, err) != 0 ||
	    get_i32(e, w, "code", 0, INT_MIN, INT_MAX, 0, &r->code, err) != 0 ||
	    get_str(e, w, "result", 0, &r->result, err) != 0 ||
	    get_str(e, w, "error", 0, &r->error, err) != 0 ||
	    get_str(e, w, "log", 0, &r->log, err) != 0 ||
	    get_int(e, w, "finished_ms", 0, INT64_MIN, INT64_MAX, 0,
	            &r->finished_ms, err) != 0 ||
	    get_int(e, w, "duration_ms", 0, INT64_MIN, INT64_MAX, -1,
	            &r->duration_ms, err) != 0 ||
	    files_member(e, w, "outputs", own, &r->outputs, &r->noutputs, err) != 0)
		return -EINVAL;
	r->state = result_state(state);
	return 0;
}

json_t *
proto_exchange_encode(const struct proto_exchange *m)
{
	size_t len;
	char *text = proto_exchange_text(m, &len);
	json_t *j = json_loadb(text, len, 0, NULL);
	free(text);
	return j;
}

static int
progress_read(json_t *j, struct proto_exchange *m, char **err)
{
	json_t *a;
	if (get_array(j, "", "progress", 0, &a, err) != 0)
		return -EINVAL;
	m->nprogress = json_array_size(a);
	m->progress = own_calloc(&m->own, m->nprogress, sizeof *m->progress);
	for (size_t i = 0; i < m->nprogress; i++) {
		char w[64];
		struct proto_progress *p = &m->progress[i];
		json_t *e = element(a, "progress", i, w, sizeof w, err);
		json_t *f;
		if (e == NULL || attempt_read(e, w, &p->id, &p->attempt, err) != 0 ||
		    get_str(e, w, "log", 0, &p->log, err) != 0 ||
		    member(e, w, "progress", 0, &f, err) != 0)
			return -EINVAL;
		if (f != NULL && !json_is_number(f))
			return bad(err, w, "progress", "must be a number");
		p->progress = json_number_value(f);
	}
	return 0;
}

static int
exchange_read(json_t *j, struct proto_exchange *m, char **err)
{
	json_t *a;
	if (get_str(j, "", "name", 1, &m->name, err) != 0 ||
	    get_str(j, "", "session", 1, &m->session, err) != 0 ||
	    get_array(j, "", "results", 0, &a, err) != 0)
		return -EINVAL;
	m->nresults = json_array_size(a);
	m->results = own_calloc(&m->own, m->nresults, sizeof *m->results);
	for (size_t i = 0; i < m->nresults; i++) {
		char w[64];
		json_t *e = element(a, "results", i, w, sizeof w, err);
		if (e == NULL || result_read(e, w, &m->own, &m->results[i], err) != 0)
			return -EINVAL;
	}
	if (attempts_read(j, "running", 0, &m->own, &m->running, &m->nrunning,
	                  err) != 0 ||
	    get_i32(j, "", "want", 0, 0, INT_MAX, 0, &m->want, err) != 0 ||
	    get_int(j, "", "wait_ms", 0, 0, INT64_MAX, 0, &m->wait_ms, err) != 0 ||
	    member(j, "", "cache", 0, &a, err) != 0)
		return -EINVAL;
	m->cache_bytes = m->cache_files = m->cache_budget = -1;
	if (a != NULL && (!json_is_object(a) ||
	    get_int(a, "cache", "bytes", 1, 0, INT64_MAX, 0, &m->cache_bytes, err) != 0 ||
	    get_int(a, "cache", "files", 1, 0, INT64_MAX, 0, &m->cache_files, err) != 0 ||
	    get_int(a, "cache", "budget", 1, 0, INT64_MAX, 0, &m->cache_budget, err) != 0)) {
		if (!json_is_object(a))
			return bad(err, "", "cache", "must be an object");
		return -EINVAL;
	}
	return progress_read(j, m, err);
}

int64_t
proto_heartbeat_wait(int64_t hb, int first, uint32_t r)
{
	/* Per mille of HB: [100, 1000] or [900, 1100]. */
	int64_t lo = first ? 100 : 900, span = first ? 901 : 201;
	return hb * (lo + (int64_t)(r % (uint32_t)span)) / 1000;
}

int
proto_exchange_decode(json_t *j, struct proto_exchange *m, char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, exchange_read(j, m, err));
}

/* ------------------------------------------------- exchange, from text */

/*
 * The exchange body read straight from its text (jtext.h) rather than
 * through a jansson tree: the master reads one for every few hundred
 * results, and the tree was a fifth of its CPU per task in bulk (perf,
 * 2026-12-07).  Same message, same checks and the same messages as
 * proto_exchange_decode() (tests/fuzz/proto-fuzz.c holds them to it),
 * keys it does not know skipped whatever their value.  Each object's
 * known members are a table.
 */

/* Where a member is: "KEY" at the top, "OBJ.KEY" in an object member,
 * "ARRAY[I].KEY" in an element.  Formatted only for an error: the walk
 * meets thousands of them. */
struct at {
	const char *in;         /* NULL at the top */
	size_t i;               /* AT_MEMBER: not an element */
};
#define AT_MEMBER ((size_t)-1)

static const char *
at_where(const struct at *at, char w[64])
{
	if (at->in == NULL)
		return "";
	if (at->i == AT_MEMBER)
		return at->in;
	snprintf(w, 64, "%s[%zu]", at->in, at->i);
	return w;
}

static int
bad_at(char **err, const struct at *at, const char *key, const char *what)
{
	char w[64];
	return bad(err, at_where(at, w), key, what);
}

enum fkind { F_STR, F_I64, F_I32, F_NUM };

/* A member of an object: where it goes (an offset in the struct read),
 * its range, its value when absent or null. */
struct field {
	const char *key;
	enum fkind kind;
	int required;
	size_t off;
	int64_t lo, hi, def;
};

/* Set member F at BASE from V (null: its default); 1 if it was given. */
static int
field_set(const struct field *f, void *base, const struct jt_val *v,
          const struct at *at, char **err)
{
	char *dst = (char *)base + f->off;
	if (v->t == JT_NULL) {
		switch (f->kind) {
		case F_STR: *(const char **)dst = NULL; break;
		case F_I64: *(int64_t *)dst = f->def; break;
		case F_I32: *(int *)dst = (int)f->def; break;
		case F_NUM: *(double *)dst = 0; break;
		}
		return 0;
	}
	switch (f->kind) {
	case F_STR:
		if (v->t != JT_STR)
			return bad_at(err, at, f->key, "must be a string");
		*(const char **)dst = v->s;
		return 1;
	case F_NUM:
		if (v->t != JT_INT && v->t != JT_REAL)
			return bad_at(err, at, f->key, "must be a number");
		*(double *)dst = v->t == JT_INT ? (double)v->i : v->d;
		return 1;
	default:
		if (v->t != JT_INT)
			return bad_at(err, at, f->key, "must be an integer");
		if (v->i < f->lo || v->i > f->hi) {
			char w[64];
			return bad_range(err, at_where(at, w), f->key, v->i,
			                 f->lo, f->hi);
		}
		if (f->kind == F_I64)
			*(int64_t *)dst = v->i;
		else
			*(int *)dst = (int)v->i;
		return 1;
	}
}

/* A member the table does not hold: read by the object's own code
 * (SPECIAL, which returns 1 if it took KEY), or skipped. */
typedef int (*special_fn)(struct jt_in *j, const char *key,
                          const struct at *at, void *base,
                          struct proto_own *own, char **err);

/* The members of the object just opened at J into BASE: F (NF of them,
 * at most 32) by the table, the others by SPECIAL or skipped. */
static int
fields_read(struct jt_in *j, const struct at *at, const struct field *f,
            size_t nf, void *base, special_fn special,
            struct proto_own *own, char **err)
{
	uint32_t given = 0;
	for (size_t k = 0; k < nf; k++)
		field_set(&f[k], base, &(struct jt_val){ .t = JT_NULL }, at, err);
	size_t n = 0;
	const char *key;
	int rc;
	while ((rc = jt_next(j, '}', &n, &key)) > 0) {
		size_t k = 0;
		while (k < nf && strcmp(f[k].key, key) != 0)
			k++;
		if (k < nf) {
			struct jt_val v;
			if ((rc = jt_value(j, &v)) != 0)
				return rc;
			if ((rc = field_set(&f[k], base, &v, at, err)) < 0)
				return rc;
			given = rc ? given | 1u << k : given & ~(1u << k);
			continue;
		}
		if (special != NULL &&
		    (rc = special(j, key, at, base, own, err)) != 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		struct jt_val v;
		if ((rc = jt_value(j, &v)) != 0 || (rc = jt_skip(j, &v)) != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	for (size_t k = 0; k < nf; k++)
		if (f[k].required && !(given & 1u << k))
			return bad_at(err, at, f[k].key, "missing");
	return 0;
}

/* Read an element object (of array AT->array) into BASE. */
typedef int (*element_fn)(struct jt_in *j, const struct at *at, void *base,
                          struct proto_own *own, char **err);

/* The array (or null) that is member KEY, of objects of SIZE bytes each
 * read by ONE: *OUT (owned by OWN) and *N. */
static int
elements_read(struct jt_in *j, const char *key, size_t size, element_fn one,
              struct proto_own *own, void **out, size_t *n, char **err)
{
	struct jt_val v;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = jt_value(j, &v)) != 0)
		return rc;
	if (v.t == JT_NULL)
		return 0;
	if (v.t != JT_ARRAY)
		return bad(err, "", key, "must be an array");
	char *arr = NULL;
	size_t cap = 0, count = 0, seen = 0;
	while ((rc = jt_next(j, ']', &seen, NULL)) > 0) {
		struct at at = { key, count };
		if ((rc = jt_value(j, &v)) != 0)
			break;
		if (v.t != JT_OBJECT) {
			rc = err_set(err, -EINVAL, "%s[%zu]: must be an object",
			             key, count);
			break;
		}
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			arr = xrealloc(arr, cap * size);
		}
		memset(arr + count * size, 0, size);
		if ((rc = one(j, &at, arr + count * size, own, err)) != 0)
			break;
		count++;
	}
	if (rc < 0) {
		free(arr);
		return rc;
	}
	*out = arr != NULL ? own_keep(own, arr) : own_calloc(own, 1, size);
	*n = count;
	return 0;
}

#define FLD(key, kind, req, type, member, lo, hi, def) \
	{ key, kind, req, offsetof(type, member), lo, hi, def }

static const struct field attempt_fields[] = {
	FLD("id", F_I64, 1, struct proto_attempt, id, INT64_MIN, INT64_MAX, 0),
	FLD("attempt", F_I32, 1, struct proto_attempt, attempt, 0, INT_MAX, 0),
};

static int
attempt_in(struct jt_in *j, const struct at *at, void *base,
           struct proto_own *own, char **err)
{
	return fields_read(j, at, attempt_fields, 2, base, NULL, own, err);
}

/* A result as read: the state's name beside it. */
struct result_in {
	struct proto_result r;
	const char *state;
};

static const struct field result_fields[] = {
	FLD("id", F_I64, 1, struct result_in, r.id, INT64_MIN, INT64_MAX, 0),
	FLD("attempt", F_I32, 1, struct result_in, r.attempt, 0, INT_MAX, 0),
	FLD("state", F_STR, 1, struct result_in, state, 0, 0, 0),
	FLD("code", F_I32, 0, struct result_in, r.code, INT_MIN, INT_MAX, 0),
	FLD("result", F_STR, 0, struct result_in, r.result, 0, 0, 0),
	FLD("error", F_STR, 0, struct result_in, r.error, 0, 0, 0),
	FLD("log", F_STR, 0, struct result_in, r.log, 0, 0, 0),
	FLD("finished_ms", F_I64, 0, struct result_in, r.finished_ms,
	    INT64_MIN, INT64_MAX, 0),
	FLD("duration_ms", F_I64, 0, struct result_in, r.duration_ms,
	    INT64_MIN, INT64_MAX, -1),
};

/* A result's "outputs": rare, so kept as a tree and read as the tree
 * decoder reads it. */
static int
result_special(struct jt_in *j, const char *key, const struct at *at,
               void *base, struct proto_own *own, char **err)
{
	struct proto_result *r = &((struct result_in *)base)->r;
	if (strcmp(key, "outputs") != 0)
		return 0;
	json_t *a;
	int rc = jt_tree(j, &a);
	r->outputs = NULL;
	r->noutputs = 0;
	if (rc != 0 || a == NULL)
		return rc < 0 ? rc : 1;
	char w[96];
	snprintf(w, sizeof w, "%s[%zu].outputs", at->in, at->i);
	struct proto_file *f;
	size_t n;
	if (!json_is_array(a))
		rc = bad_at(err, at, key, "must be an array");
	else if ((rc = files_read(a, w, 0, own, &f, &n, err)) == 0) {
		/* One allocation holding its strings: the tree goes. */
		r->outputs = own_keep(own, proto_files_dup(f, n));
		r->noutputs = n;
	}
	json_decref(a);
	return rc < 0 ? rc : 1;
}

static int
result_in(struct jt_in *j, const struct at *at, void *base,
          struct proto_own *own, char **err)
{
	struct result_in *ri = base;
	int rc = fields_read(j, at, result_fields,
	                     sizeof result_fields / sizeof *result_fields, ri,
	                     result_special, own, err);
	if (rc != 0)
		return rc;
	ri->r.state = result_state(ri->state);
	return 0;
}

static const struct field progress_fields[] = {
	FLD("id", F_I64, 1, struct proto_progress, id, INT64_MIN, INT64_MAX, 0),
	FLD("attempt", F_I32, 1, struct proto_progress, attempt, 0, INT_MAX, 0),
	FLD("log", F_STR, 0, struct proto_progress, log, 0, 0, 0),
	FLD("progress", F_NUM, 0, struct proto_progress, progress, 0, 0, 0),
};

static int
progress_in(struct jt_in *j, const struct at *at, void *base,
            struct proto_own *own, char **err)
{
	return fields_read(j, at, progress_fields,
	                   sizeof progress_fields / sizeof *progress_fields,
	                   base, NULL, own, err);
}

static const struct field cache_fields[] = {
	FLD("bytes", F_I64, 1, struct proto_exchange, cache_bytes, 0, INT64_MAX, 0),
	FLD("files", F_I64, 1, struct proto_exchange, cache_files, 0, INT64_MAX, 0),
	FLD("budget", F_I64, 1, struct proto_exchange, cache_budget, 0, INT64_MAX, 0),
};

static const struct field exchange_fields[] = {
	FLD("name", F_STR, 1, struct proto_exchange, name, 0, 0, 0),
	FLD("session", F_STR, 1, struct proto_exchange, session, 0, 0, 0),
	FLD("want", F_I32, 0, struct proto_exchange, want, 0, INT_MAX, 0),
	FLD("wait_ms", F_I64, 0, struct proto_exchange, wait_ms, 0, INT64_MAX, 0),
};

/* The exchange's arrays and its cache. */
static int
exchange_special(struct jt_in *j, const char *key, const struct at *at,
                 void *base, struct proto_own *own, char **err)
{
	struct proto_exchange *m = base;
	int rc;
	if (strcmp(key, "results") == 0)
		rc = elements_read(j, key, sizeof(struct result_in), result_in,
		                   own, (void **)&m->results, &m->nresults, err);
	else if (strcmp(key, "running") == 0)
		rc = elements_read(j, key, sizeof *m->running, attempt_in, own,
		                   (void **)&m->running, &m->nrunning, err);
	else if (strcmp(key, "progress") == 0)
		rc = elements_read(j, key, sizeof *m->progress, progress_in, own,
		                   (void **)&m->progress, &m->nprogress, err);
	else if (strcmp(key, "cache") == 0) {
		struct jt_val v;
		m->cache_bytes = m->cache_files = m->cache_budget = -1;
		if ((rc = jt_value(j, &v)) != 0 || v.t == JT_NULL)
			return rc < 0 ? rc : 1;
		if (v.t != JT_OBJECT)
			return bad(err, "", key, "must be an object");
		struct at c = { "cache", AT_MEMBER };
		rc = fields_read(j, &c, cache_fields, 3, m, NULL, own, err);
	} else
		return 0;
	return rc < 0 ? rc : 1;
}

static const struct field task_fields[] = {
	FLD("id", F_I64, 1, struct proto_task, id, INT64_MIN, INT64_MAX, 0),
	FLD("attempt", F_I32, 1, struct proto_task, attempt, 0, INT_MAX, 0),
	FLD("plugin", F_STR, 1, struct proto_task, plugin, 0, 0, 0),
	FLD("slots", F_I32, 0, struct proto_task, slots, 1, PROTO_SLOTS_MAX, 1),
	FLD("memory", F_I64, 0, struct proto_task, memory, 0, INT64_MAX, 0),
	FLD("timeout_ms", F_I64, 0, struct proto_task, timeout_ms, 0,
	    INT64_MAX, 0),
	FLD("stage_id", F_I64, 0, struct proto_task, stage_id, 0, INT64_MAX, 0),
	FLD("index", F_I64, 0, struct proto_task, index, 0, INT64_MAX, 0),
};

/* A task's params (kept as text: the worker hands a plugin text), inputs
 * and stage flag.  A bad one is reported by the tree decoder. */
static int
task_special(struct jt_in *j, const char *key, const struct at *at,
             void *base, struct proto_own *own, char **err)
{
	struct proto_task *t = base;
	if (strcmp(key, "params") == 0) {
		const char *start;
		size_t len;
		enum jt_type ty;
		int rc = jt_span(j, &start, &len, &ty);
		if (rc != 0)
			return rc;
		t->params_text = NULL;
		if (ty == JT_NULL)
			return 1;
		if (ty != JT_OBJECT)
			return bad_at(err, at, key, "must be an object");
		char *p = own_keep(own, xmalloc(len + 1));
		memcpy(p, start, len);
		p[len] = '\0';
		t->params_text = p;
		return 1;
	}
	if (strcmp(key, "stage") == 0) {
		struct jt_val v;
		int rc = jt_value(j, &v);
		if (rc != 0)
			return rc;
		if (v.t != JT_NULL && v.t != JT_TRUE && v.t != JT_FALSE)
			return bad_at(err, at, key, "must be true or false");
		t->stage = v.t == JT_TRUE;
		return 1;
	}
	if (strcmp(key, "inputs") != 0)
		return 0;
	json_t *a;
	int rc = jt_tree(j, &a);
	t->inputs = NULL;
	t->ninputs = 0;
	if (rc != 0 || a == NULL)
		return rc < 0 ? rc : 1;
	char w[96];
	snprintf(w, sizeof w, "%s[%zu].inputs", at->in, at->i);
	struct proto_file *f;
	size_t n;
	if (!json_is_array(a))
		rc = bad_at(err, at, key, "must be an array");
	else if ((rc = files_read(a, w, 1, own, &f, &n, err)) == 0) {
		t->inputs = own_keep(own, proto_files_dup(f, n));
		t->ninputs = n;
	}
	json_decref(a);
	return rc < 0 ? rc : 1;
}

static int
task_in(struct jt_in *j, const struct at *at, void *base,
        struct proto_own *own, char **err)
{
	struct proto_task *t = base;
	int rc = fields_read(j, at, task_fields,
	                     sizeof task_fields / sizeof *task_fields, t,
	                     task_special, own, err);
	if (rc == 0 && t->params_text == NULL)
		rc = bad_at(err, at, "params", "missing");
	return rc;
}

static const struct field reply_fields[] = {
	FLD("acked", F_I64, 0, struct proto_exchange_reply, acked, 0,
	    INT64_MAX, 0),
	FLD("heartbeat_ms", F_I64, 0, struct proto_exchange_reply,
	    heartbeat_ms, 0, INT64_MAX, 0),
};

static int
reply_special(struct jt_in *j, const char *key, const struct at *at,
              void *base, struct proto_own *own, char **err)
{
	struct proto_exchange_reply *m = base;
	int rc;
	(void)at;
	if (strcmp(key, "tasks") == 0)
		rc = elements_read(j, key, sizeof *m->tasks, task_in, own,
		                   (void **)&m->tasks, &m->ntasks, err);
	else if (strcmp(key, "cancel") == 0)
		rc = elements_read(j, key, sizeof *m->cancel, attempt_in, own,
		                   (void **)&m->cancel, &m->ncancel, err);
	else
		return 0;
	return rc < 0 ? rc : 1;
}

/* Read message TEXT into BASE (its proto_own OWN) by the table F and
 * SPECIAL; on a bad message (not bad JSON), TREE decodes it instead,
 * which decides: only there do the two readers differ (of a key given
 * twice jansson keeps the last, so a bad first one is no error, and
 * this reader checks each as it comes), and it names the field. */
static int
text_read(const char *text, size_t len, void *base, struct proto_own *own,
          const struct field *f, size_t nf, special_fn special,
          int (*tree)(json_t *j, void *base, char **err), char **err)
{
	struct jt_in j;
	struct jt_val v;
	jt_in_init(&j, text, len, err);
	own_keep(own, jt_in_take(&j));   /* the strings point into it */
	int rc = jt_value(&j, &v);
	if (rc == 0 && v.t != JT_OBJECT)
		rc = err_set(err, -EINVAL, "request body must be a JSON object");
	struct at top = { 0 };
	if (rc == 0)
		rc = fields_read(&j, &top, f, nf, base, special, own, err);
	if (rc == 0)
		rc = jt_end(&j);
	if (rc == 0 || j.malformed)
		return decode_end(own, rc);
	free(*err);
	*err = NULL;
	proto_release(own);
	json_t *t = json_loadb(text, len, 0, NULL);
	if (!json_is_object(t)) {
		json_decref(t);
		return err_set(err, -EINVAL, "request body must be a JSON object");
	}
	rc = tree(t, base, err);
	json_decref(t);         /* the message holds its own reference */
	return rc;
}

static int
reply_tree(json_t *j, void *base, char **err)
{
	return proto_exchange_reply_decode(j, base, err);
}

int
proto_exchange_reply_parse(const char *text, size_t len,
                           struct proto_exchange_reply *m, char **err)
{
	memset(m, 0, sizeof *m);
	return text_read(text, len, m, &m->own, reply_fields,
	                 sizeof reply_fields / sizeof *reply_fields,
	                 reply_special, reply_tree, err);
}

static int
exchange_tree(json_t *j, void *base, char **err)
{
	return proto_exchange_decode(j, base, err);
}

int
proto_exchange_parse(const char *text, size_t len, struct proto_exchange *m,
                     char **err)
{
	memset(m, 0, sizeof *m);
	m->cache_bytes = m->cache_files = m->cache_budget = -1;
	int rc = text_read(text, len, m, &m->own, exchange_fields,
	                   sizeof exchange_fields / sizeof *exchange_fields,
	                   exchange_special, exchange_tree, err);
	/* The results were read as result_in (when the text reader read
	 * them; the tree decoder's are proto_result already): pack them. */
	if (rc == 0 && m->own.json == NULL) {
		char *ri = (char *)m->results;
		for (size_t i = 0; i < m->nresults; i++)
			memmove(&m->results[i], ri + i * sizeof(struct result_in),
			        sizeof *m->results);
	}
	return rc;
}

/* ---------------------------------------------------------- text out */

/*
 * The exchange reply is written as JSON text directly (jtext.h): it is
 * the one message sent for every task, and building a jansson tree of
 * thousands of small objects only to print and free it cost the master
 * about a tenth of its CPU per task in bulk (perf, 2026-12-07).  Keys
 * that equal their decoder's default are left out, which the decoder has
 * always allowed, so the worker parses less too.
 */

static void
out_attempts(struct jt_out *t, const struct proto_attempt *a, size_t n)
{
	JT_LIT(t, "[");
	for (size_t i = 0; i < n; i++) {
		JT_LIT(t, "{\"id\":");
		jt_int(t, a[i].id);
		JT_LIT(t, ",\"attempt\":");
		jt_int(t, a[i].attempt);
		JT_LIT(t, "}");
		if (i + 1 < n)
			JT_LIT(t, ",");
	}
	JT_LIT(t, "]");
}

static void
out_files(struct jt_out *t, const struct proto_file *f, size_t n)
{
	JT_LIT(t, "[");
	for (size_t i = 0; i < n; i++) {
		JT_LIT(t, "{\"name\":");
		jt_str(t, f[i].name);
		JT_LIT(t, ",\"sha\":");
		jt_str(t, f[i].sha);
		JT_LIT(t, ",\"size\":");
		jt_int(t, f[i].size);
		JT_LIT(t, "}");
		if (i + 1 < n)
			JT_LIT(t, ",");
	}
	JT_LIT(t, "]");
}

static void
out_task(struct jt_out *t, const struct proto_task *k)
{
	JT_LIT(t, "{\"id\":");
	jt_int(t, k->id);
	JT_LIT(t, ",\"attempt\":");
	jt_int(t, k->attempt);
	JT_LIT(t, ",\"plugin\":");
	jt_str(t, k->plugin);
	JT_LIT(t, ",\"params\":");
	if (k->params_text != NULL)
		jt_put(t, k->params_text, strlen(k->params_text));
	else
		jt_json(t, k->params);
	/* The decoder's defaults (task_read) are left out. */
	if (k->slots != 1) {
		JT_LIT(t, ",\"slots\":");
		jt_int(t, k->slots);
	}
	if (k->memory != 0) {
		JT_LIT(t, ",\"memory\":");
		jt_int(t, k->memory);
	}
	if (k->timeout_ms != 0) {
		JT_LIT(t, ",\"timeout_ms\":");
		jt_int(t, k->timeout_ms);
	}
	if (k->ninputs > 0) {
		JT_LIT(t, ",\"inputs\":");
		out_files(t, k->inputs, k->ninputs);
	}
	if (k->stage) {
		JT_LIT(t, ",\"stage\":true,\"stage_id\":");
		jt_int(t, k->stage_id);
		JT_LIT(t, ",\"index\":");
		jt_int(t, k->index);
	}
	JT_LIT(t, "}");
}

static void
out_result(struct jt_out *t, const struct proto_result *r)
{
	JT_LIT(t, "{\"id\":");
	jt_int(t, r->id);
	JT_LIT(t, ",\"attempt\":");
	jt_int(t, r->attempt);
	JT_LIT(t, ",\"state\":");
	jt_str(t, job_state_name(r->state));
	if (r->code != 0) {     /* the decoder's default */
		JT_LIT(t, ",\"code\":");
		jt_int(t, r->code);
	}
	if (r->result != NULL) {
		JT_LIT(t, ",\"result\":");
		jt_str(t, r->result);
	}
	if (r->error != NULL) {
		JT_LIT(t, ",\"error\":");
		jt_str(t, r->error);
	}
	/* Always, if empty: a master before 2026-12-07 stores it as it
	 * comes (NULL if absent). */
	JT_LIT(t, ",\"log\":");
	jt_str(t, r->log ? r->log : "");
	JT_LIT(t, ",\"finished_ms\":");
	jt_int(t, r->finished_ms);
	if (r->duration_ms >= 0) {
		JT_LIT(t, ",\"duration_ms\":");
		jt_int(t, r->duration_ms);
	}
	if (r->noutputs > 0) {
		JT_LIT(t, ",\"outputs\":");
		out_files(t, r->outputs, r->noutputs);
	}
	JT_LIT(t, "}");
}

char *
proto_exchange_text(const struct proto_exchange *m, size_t *len)
{
	struct jt_out t = { 0 };
	JT_LIT(&t, "{\"name\":");
	jt_str(&t, m->name);
	JT_LIT(&t, ",\"session\":");
	jt_str(&t, m->session);
	JT_LIT(&t, ",\"results\":[");
	for (size_t i = 0; i < m->nresults; i++) {
		if (i > 0)
			JT_LIT(&t, ",");
		out_result(&t, &m->results[i]);
	}
	JT_LIT(&t, "],\"running\":");
	out_attempts(&t, m->running, m->nrunning);
	JT_LIT(&t, ",\"want\":");
	jt_int(&t, m->want);
	JT_LIT(&t, ",\"wait_ms\":");
	jt_int(&t, m->wait_ms);
	JT_LIT(&t, ",\"progress\":[");
	for (size_t i = 0; i < m->nprogress; i++) {
		const struct proto_progress *p = &m->progress[i];
		if (i > 0)
			JT_LIT(&t, ",");
		JT_LIT(&t, "{\"id\":");
		jt_int(&t, p->id);
		JT_LIT(&t, ",\"attempt\":");
		jt_int(&t, p->attempt);
		if (p->log != NULL) {
			JT_LIT(&t, ",\"log\":");
			jt_str(&t, p->log);
		}
		JT_LIT(&t, ",\"progress\":");
		jt_real(&t, p->progress);
		JT_LIT(&t, "}");
	}
	JT_LIT(&t, "]");
	if (m->cache_bytes >= 0) {
		JT_LIT(&t, ",\"cache\":{\"bytes\":");
		jt_int(&t, m->cache_bytes);
		JT_LIT(&t, ",\"files\":");
		jt_int(&t, m->cache_files);
		JT_LIT(&t, ",\"budget\":");
		jt_int(&t, m->cache_budget);
		JT_LIT(&t, "}");
	}
	JT_LIT(&t, "}");
	*len = t.n;
	return t.p;
}

char *
proto_exchange_reply_text(const struct proto_exchange_reply *m, size_t *len)
{
	struct jt_out t = { 0 };
	JT_LIT(&t, "{\"tasks\":[");
	for (size_t i = 0; i < m->ntasks; i++) {
		if (i > 0)
			JT_LIT(&t, ",");
		out_task(&t, &m->tasks[i]);
	}
	JT_LIT(&t, "],\"cancel\":");
	out_attempts(&t, m->cancel, m->ncancel);
	JT_LIT(&t, ",\"acked\":");
	jt_int(&t, m->acked);
	if (m->heartbeat_ms > 0) {
		JT_LIT(&t, ",\"heartbeat_ms\":");
		jt_int(&t, m->heartbeat_ms);
	}
	JT_LIT(&t, "}");
	*len = t.n;
	return t.p;
}

static int
task_read(json_t *e, const char *w, struct proto_own *own,
          struct proto_task *t, char **err)
{
	json_t *stage;
	if (attempt_read(e, w, &t->id, &t->attempt, err) != 0 ||
	    get_str(e, w, "plugin", 1, &t->plugin, err) != 0 ||
	    get_object(e, w, "params", 1, &t->params, err) != 0 ||
	    get_i32(e, w, "slots", 0, 1, PROTO_SLOTS_MAX, 1, &t->slots, err) != 0 ||
	    get_int(e, w, "memory", 0, 0, INT64_MAX, 0, &t->memory, err) != 0 ||
	    get_int(e, w, "timeout_ms", 0, 0, INT64_MAX, 0, &t->timeout_ms,
	            err) != 0 ||
	    files_member(e, w, "inputs", own, &t->inputs, &t->ninputs, err) != 0 ||
	    member(e, w, "stage", 0, &stage, err) != 0 ||
	    get_int(e, w, "stage_id", 0, 0, INT64_MAX, 0, &t->stage_id,
	            err) != 0 ||
	    get_int(e, w, "index", 0, 0, INT64_MAX, 0, &t->index, err) != 0)
		return -EINVAL;
	if (stage != NULL && !json_is_boolean(stage))
		return bad(err, w, "stage", "must be true or false");
	t->stage = json_is_true(stage);
	return 0;
}

static int
exchange_reply_read(json_t *j, struct proto_exchange_reply *m, char **err)
{
	json_t *a;
	if (get_array(j, "", "tasks", 0, &a, err) != 0)
		return -EINVAL;
	m->ntasks = json_array_size(a);
	m->tasks = own_calloc(&m->own, m->ntasks, sizeof *m->tasks);
	for (size_t i = 0; i < m->ntasks; i++) {
		char w[64];
		json_t *e = element(a, "tasks", i, w, sizeof w, err);
		if (e == NULL || task_read(e, w, &m->own, &m->tasks[i], err) != 0)
			return -EINVAL;
	}
	if (attempts_read(j, "cancel", 0, &m->own, &m->cancel, &m->ncancel,
	                  err) != 0 ||
	    get_int(j, "", "acked", 0, 0, INT64_MAX, 0, &m->acked, err) != 0 ||
	    get_int(j, "", "heartbeat_ms", 0, 0, INT64_MAX, 0, &m->heartbeat_ms,
	            err) != 0)
		return -EINVAL;
	return 0;
}

int
proto_exchange_reply_decode(json_t *j, struct proto_exchange_reply *m,
                            char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, exchange_reply_read(j, m, err));
}

/* --------------------------------------------------------------- leave */

json_t *
proto_leave_encode(const struct proto_leave *m)
{
	return json_pack("{s:s?}", "session", m->session);
}

int
proto_leave_decode(json_t *j, struct proto_leave *m, char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, get_str(j, "", "session", 0, &m->session, err));
}

json_t *
proto_leave_reply_encode(void)
{
	return json_pack("{s:b}", "ok", 1);
}

/* -------------------------------------------------------------- stages */

json_t *
proto_map_params(const char *fn, int index, int count, json_t *arg,
                 json_t *broadcast)
{
	return json_pack("{s:{s:s,s:i,s:i},s:O?,s:O?}", PROTO_MAP_STAGE,
		PROTO_MAP_FN, fn, PROTO_MAP_INDEX, index, PROTO_MAP_COUNT, count,
		PROTO_MAP_ARG, arg, PROTO_MAP_BROADCAST, broadcast);
}

json_t *
proto_stage_encode(const struct proto_stage *m)
{
	json_t *tasks = json_array();
	for (size_t i = 0; i < m->ntasks; i++) {
		const struct proto_stage_task *t = &m->tasks[i];
		json_array_append_new(tasks, json_pack("{s:o,s:o,s:s?}",
			"params", t->params ? json_incref(t->params) : json_object(),
			"inputs", proto_files_json(t->inputs, t->ninputs),
			"locality", t->locality));
	}
	return json_pack("{s:I,s:i,s:s,s:o,s:I}", "job", (json_int_t)m->job,
		"attempt", m->attempt, "plugin", m->plugin, "tasks", tasks,
		"wait_ms", (json_int_t)m->wait_ms);
}

static int
stage_read(json_t *j, struct proto_stage *m, char **err)
{
	json_t *a;
	if (get_int(j, "", "job", 1, INT64_MIN, INT64_MAX, 0, &m->job, err) != 0 ||
	    get_i32(j, "", "attempt", 1, 0, INT_MAX, 0, &m->attempt, err) != 0 ||
	    get_str(j, "", "plugin", 1, &m->plugin, err) != 0 ||
	    get_int(j, "", "wait_ms", 0, 0, INT64_MAX, 0, &m->wait_ms, err) != 0 ||
	    get_array(j, "", "tasks", 1, &a, err) != 0)
		return -EINVAL;
	m->ntasks = json_array_size(a);
	if (m->ntasks == 0)
		return bad(err, "", "tasks", "must not be empty");
	m->tasks = own_calloc(&m->own, m->ntasks, sizeof *m->tasks);
	for (size_t i = 0; i < m->ntasks; i++) {
		char w[64];
		struct proto_stage_task *t = &m->tasks[i];
		json_t *e = element(a, "tasks", i, w, sizeof w, err);
		if (e == NULL ||
		    get_object(e, w, "params", 1, &t->params, err) != 0 ||
		    files_member(e, w, "inputs", &m->own, &t->inputs, &t->ninputs,
		                 err) != 0 ||
		    get_str(e, w, "locality", 0, &t->locality, err) != 0)
			return -EINVAL;
	}
	return 0;
}

int
proto_stage_decode(json_t *j, struct proto_stage *m, char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, stage_read(j, m, err));
}

json_t *
proto_stage_reply_encode(const struct proto_stage_reply *m)
{
	if (!m->done)
		return json_pack("{s:I,s:b}", "stage", (json_int_t)m->stage,
		                 "done", 0);
	json_t *res = json_array();
	for (size_t i = 0; i < m->nresults; i++)
		json_array_append_new(res, text_value(m->results[i], json_null()));
	json_t *o = json_pack("{s:I,s:b,s:o}", "stage", (json_int_t)m->stage,
	                      "done", 1, "results", res);
	int any = 0;
	for (size_t i = 0; m->outputs_json != NULL && i < m->nresults; i++)
		any |= m->outputs_json[i] != NULL;
	if (any) {
		json_t *outs = json_array();
		for (size_t i = 0; i < m->nresults; i++)
			json_array_append_new(outs, text_value(m->outputs_json[i],
			                      json_null()));
		json_object_set_new(o, "outputs", outs);
	}
	return o;
}

static int
stage_reply_read(json_t *j, struct proto_stage_reply *m, char **err)
{
	json_t *done, *a;
	if (get_int(j, "", "stage", 1, INT64_MIN, INT64_MAX, 0, &m->stage,
	            err) != 0 ||
	    member(j, "", "done", 1, &done, err) != 0)
		return -EINVAL;
	if (!json_is_boolean(done))
		return bad(err, "", "done", "must be true or false");
	m->done = json_is_true(done);
	if (!m->done)
		return 0;
	if (get_array(j, "", "results", 1, &a, err) != 0)
		return -EINVAL;
	m->nresults = json_array_size(a);
	const char **texts = own_calloc(&m->own, m->nresults, sizeof *texts);
	for (size_t i = 0; i < m->nresults; i++) {
		char *s = json_dumps(json_array_get(a, i), JSON_COMPACT |
		                     JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		texts[i] = own_keep(&m->own, s ? s : xstrdup("null"));
	}
	m->results = texts;
	/* Outputs of map tasks (ABI 1.7): one list or null per task. */
	json_t *outs;
	if (get_array(j, "", "outputs", 0, &outs, err) != 0)
		return -EINVAL;
	if (outs == NULL)
		return 0;
	if (json_array_size(outs) != m->nresults)
		return bad(err, "", "outputs", "must have one entry per result");
	m->outputs = own_calloc(&m->own, m->nresults, sizeof *m->outputs);
	m->noutputs = own_calloc(&m->own, m->nresults, sizeof *m->noutputs);
	for (size_t i = 0; i < m->nresults; i++) {
		json_t *ta = json_array_get(outs, i);
		char w[48];
		if (json_is_null(ta))
			continue;
		snprintf(w, sizeof w, "outputs[%zu]", i);
		if (!json_is_array(ta))
			return bad(err, "", w, "must be an array or null");
		if (files_read(ta, w, 0, &m->own, &m->outputs[i],
		               &m->noutputs[i], err) != 0)
			return -EINVAL;
	}
	return 0;
}

int
proto_stage_reply_decode(json_t *j, struct proto_stage_reply *m, char **err)
{
	memset(m, 0, sizeof *m);
	decode_begin(&m->own, j);
	return decode_end(&m->own, stage_reply_read(j, m, err));
}

json_t *
proto_stage_cancelled_encode(int64_t stage)
{
	return json_pack("{s:I,s:s}", "stage", (json_int_t)stage,
	                 "state", "cancelled");
}
