/* SPDX-License-Identifier: MIT */
/*
 * dagver.c - DAG versions (see dagver.h): recording a loaded file's text,
 * the cache of old versions parsed again for the runs that need them, and
 * the JSON of the versions routes and of a run's version.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dagver.h"
#include "err.h"
#include "log.h"
#include "textdiff.h"
#include "xalloc.h"

struct dv_entry {
	char *dag_id;
	int version;
	struct dag *d;           /* NULL: it failed to parse (do not retry) */
	int64_t used;            /* clock_mono_ms() of the last dagver_dag() */
	struct dv_entry *next;
};

struct dagver {
	struct dv_entry *head;
	size_t n;
};

dagver *
dagver_new(void)
{
	return xcalloc(1, sizeof(struct dagver));
}

static void
dv_entry_free(struct dv_entry *e)
{
	dag_free(e->d);
	free(e->dag_id);
	free(e);
}

void
dagver_free(dagver *v)
{
	if (v == NULL)
		return;
	while (v->head != NULL) {
		struct dv_entry *e = v->head;
		v->head = e->next;
		dv_entry_free(e);
	}
	free(v);
}

int
dagver_record(store *st, const struct dag *d, const char *text, size_t len,
              int *version, char **err)
{
	struct store_op op = { .kind = STORE_DAG_VERSION, .dag_id = d->id,
	                       .result = d->digest, .log = text,
	                       .id = (int64_t)len };
	struct store_dag_version sv;
	*version = 0;
	/* A restart loads every file again: a read, not a commit, each. */
	int rc = store_dag_version_get(st, d->id, 0, 0, &sv, err);
	if (rc == 0 && strcmp(sv.hash, d->digest) == 0) {
		*version = sv.version;
		store_dag_version_clear(&sv);
		return 0;
	}
	store_dag_version_clear(&sv);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if ((rc = store_apply(st, &op, 1, err)) != 0)
		return rc;
	rc = store_dag_version_get(st, d->id, 0, 0, &sv, err);
	if (rc == -ENOENT)
		return err_set(err, -EIO, "DAG %s: its version was not kept", d->id);
	if (rc != 0)
		return rc;
	*version = sv.version;
	if (op.applied)
		log_info("DAG %s: version %d (%.12s)", d->id, sv.version, sv.hash);
	store_dag_version_clear(&sv);
	return 0;
}

const struct dag *
dagver_dag(dagver *v, store *st, const char *dag_id, const char *file,
           int version, char **err)
{
	for (struct dv_entry *e = v->head; e != NULL; e = e->next)
		if (e->version == version && strcmp(e->dag_id, dag_id) == 0) {
			/* A failure was said when it was cached. */
			e->used = clock_mono_ms();
			return e->d;
		}
	struct store_dag_version sv;
	struct dag *d = NULL;
	int rc = store_dag_version_get(st, dag_id, version, 1, &sv, err);
	if (rc == -ENOENT)
		err_set(err, rc, "DAG %s has no version %d", dag_id, version);
	else if (rc == 0 && sv.text == NULL)
		rc = err_set(err, -ENOENT, "DAG %s: version %d was too large to "
		             "keep its text", dag_id, version);
	/* Plugins are not checked: the version ran with them once, and a
	 * plugin gone since fails its task, as a missing file would. */
	if (rc == 0)
		rc = dag_load_text(file, sv.text, strlen(sv.text), NULL, NULL, &d,
		                   err);
	if (rc == 0 && strcmp(d->id, dag_id) != 0) {
		err_set(err, -EINVAL, "DAG %s: version %d defines '%s'", dag_id,
		        version, d->id);
		dag_free(d);
		d = NULL;
	}
	store_dag_version_clear(&sv);
	struct dv_entry *e = xcalloc(1, sizeof *e);
	e->dag_id = xstrdup(dag_id);
	e->version = version;
	e->d = d;
	e->used = clock_mono_ms();
	e->next = v->head;
	v->head = e;
	v->n++;
	return d;
}

void
dagver_sweep(dagver *v, int (*in_use)(const char *dag_id, int version,
                                      void *ud), void *ud)
{
	for (struct dv_entry **pp = &v->head; *pp != NULL;) {
		struct dv_entry *e = *pp;
		if (in_use(e->dag_id, e->version, ud)) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		dv_entry_free(e);
		v->n--;
	}
	while (v->n > DAGVER_CACHE_MAX) {
		struct dv_entry **old = &v->head;
		for (struct dv_entry **pp = &v->head; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->used < (*old)->used)
				old = pp;
		struct dv_entry *e = *old;
		*old = e->next;
		dv_entry_free(e);
		v->n--;
	}
}

/* ------------------------------------------------------------- JSON */

static json_t *
dv_json(const struct store_dag_version *sv, int current)
{
	return json_pack("{s:i,s:s,s:I,s:I,s:b}", "version", sv->version,
	                 "hash", sv->hash ? sv->hash : "",
	                 "created_ms", (json_int_t)sv->created_ms,
	                 "size", (json_int_t)sv->size,
	                 "current", sv->version == current);
}

struct dv_list {
	json_t *arr;
	int current;
};

static int
dv_list_cb(const struct store_dag_version *sv, void *ud)
{
	struct dv_list *l = ud;
	if (l->current == 0)
		l->current = sv->version;     /* newest first */
	json_t *o = dv_json(sv, l->current);
	json_object_set_new(o, "runs", json_integer(sv->runs));
	json_array_append_new(l->arr, o);
	return 0;
}

static json_t *
dv_fail(int rc, int *status, char **err)
{
	(void)err;
	*status = rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : 500;
	return NULL;
}

json_t *
dagver_list_json(store *st, const char *dag_id, int limit, int *status,
                 char **err)
{
	struct dv_list l = { json_array(), 0 };
	int rc = store_dag_versions(st, dag_id, limit, dv_list_cb, &l, err);
	if (rc == 0 && json_array_size(l.arr) == 0)
		rc = err_set(err, -ENOENT, "no DAG '%s'", dag_id);
	if (rc != 0) {
		json_decref(l.arr);
		return dv_fail(rc, status, err);
	}
	return json_pack("{s:s,s:i,s:o}", "dag_id", dag_id, "current", l.current,
	                 "versions", l.arr);
}

/* Version VERSION (0 = latest) of DAG_ID with its text, and the number of
 * the latest in *latest; 0 or negative with *err naming FIELD. */
static int
dv_get(store *st, const char *dag_id, int version, const char *field,
       struct store_dag_version *out, int *latest, char **err)
{
	struct store_dag_version cur;
	int rc = store_dag_version_get(st, dag_id, 0, 0, &cur, err);
	if (rc == -ENOENT)
		return err_set(err, rc, "no DAG '%s'", dag_id);
	if (rc != 0)
		return rc;
	*latest = cur.version;
	store_dag_version_clear(&cur);
	if (version < 0 || version > *latest)
		return err_set(err, -ENOENT, "%s: DAG %s has no version %d "
		              "(1 to %d)", field, dag_id, version, *latest);
	rc = store_dag_version_get(st, dag_id, version, 1, out, err);
	if (rc == -ENOENT)
		return err_set(err, rc, "%s: DAG %s has no version %d", field,
		              dag_id, version);
	return rc;
}

json_t *
dagver_get_json(store *st, const char *dag_id, int version, int *status,
                char **err)
{
	struct store_dag_version sv;
	int latest;
	int rc = dv_get(st, dag_id, version, "version", &sv, &latest, err);
	if (rc != 0)
		return dv_fail(rc, status, err);
	json_t *o = dv_json(&sv, latest);
	json_object_set_new(o, "dag_id", json_string(dag_id));
	json_object_set_new(o, "text", sv.text ? json_string(sv.text) : json_null());
	store_dag_version_clear(&sv);
	return o;
}

json_t *
dagver_diff_json(store *st, const char *dag_id, int from, int to,
                 int *status, char **err)
{
	struct store_dag_version a = { 0 }, b = { 0 };
	int latest = 0;
	json_t *o = NULL;
	int rc = dv_get(st, dag_id, to, "to", &b, &latest, err);
	if (rc == 0 && from == 0)
		from = b.version > 1 ? b.version - 1 : b.version;
	if (rc == 0)
		rc = dv_get(st, dag_id, from, "from", &a, &latest, err);
	if (rc == 0 && (a.text == NULL || b.text == NULL))
		rc = err_set(err, -EINVAL, "%s: version %d was too large to keep "
		             "its text", a.text ? "to" : "from",
		             a.text ? b.version : a.version);
	if (rc == 0) {
		char la[320], lb[320];
		snprintf(la, sizeof la, "%s v%d", dag_id, a.version);
		snprintf(lb, sizeof lb, "%s v%d", dag_id, b.version);
		struct textdiff_stats ds;
		char *d = textdiff_unified(a.text, b.text, la, lb, 3, &ds);
		if (strlen(d) > DAGVER_DIFF_MAX)
			rc = err_set(err, -EINVAL, "to: the diff of versions %d "
			             "and %d is over %zu bytes", a.version,
			             b.version, DAGVER_DIFF_MAX);
		else
			o = json_pack("{s:s,s:i,s:i,s:s,s:I,s:I,s:i}", "dag_id",
			              dag_id, "from", a.version, "to", b.version,
			              "diff", d, "added", (json_int_t)ds.added,
			              "removed", (json_int_t)ds.removed,
			              "current", latest);
		free(d);
	}
	store_dag_version_clear(&a);
	store_dag_version_clear(&b);
	return o != NULL ? o : dv_fail(rc, status, err);
}

json_t *
dagver_run_json(store *st, const char *dag_id, int version)
{
	struct store_dag_version sv, cur;
	char *err = NULL;
	if (version <= 0 ||
	    store_dag_version_get(st, dag_id, version, 0, &sv, &err) != 0) {
		free(err);
		return json_null();
	}
	int latest = version;
	if (store_dag_version_get(st, dag_id, 0, 0, &cur, &err) == 0) {
		latest = cur.version;
		store_dag_version_clear(&cur);
	}
	free(err);
	json_t *o = dv_json(&sv, latest);
	json_object_set_new(o, "latest", json_integer(latest));
	store_dag_version_clear(&sv);
	return o;
}
