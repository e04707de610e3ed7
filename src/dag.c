/* SPDX-License-Identifier: MIT */
/*
 * dag.c - load and validate DAG files, render task params (see dag.h).
 *
 * Like config.c, the file is read whole with libyaml's document API and
 * walked with one small key table per mapping, so unknown keys, duplicate
 * keys and type errors are found in one place and every error points at
 * the node it is about.  The file's bytes are read into memory first: their
 * SHA-256 is the DAG's digest, which the caller compares to notice edits.
 *
 * Loading goes in passes, because YAML does not fix the order of keys and
 * later checks need earlier results: the top-level keys are collected; the
 * DAG's params and `default:` are read; then each task, starting from a
 * copy of the default task; then dependencies are resolved to indexes, a
 * cycle is looked for, the topological order is fixed, and last every
 * template in the params is checked against the variables it may use,
 * which needs the transitive upstreams of each task.  The YAML document
 * stays alive until the end so that a late error can still name its node.
 *
 * Templates are deliberately tiny ("{{ name }}", no filters, no logic):
 * what a task receives should be obvious from the file, and everything
 * a template can name is checked at load time.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libgen.h>

#include <jansson.h>
#include <sodium.h>
#include <yaml.h>

#include "cron.h"
#include "dag.h"
#include "err.h"
#include "xalloc.h"
#include "yamlfile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A DAG file is a page or two of YAML; anything far larger is a mistake
 * (or a data file in the wrong directory). */
#define DAG_FILE_MAX (4 << 20)
/* Ids appear in URLs, log lines and run ids. */
#define DAG_ID_MAX 200
/* Bounds on what params may expand to: YAML aliases can nest (and a
 * sequence can even contain itself), which must not blow the stack or
 * the memory. */
#define DAG_JSON_DEPTH 64
#define DAG_JSON_NODES 100000
/* Retries beyond this are a runaway loop, not a policy. */
#define DAG_RETRIES_MAX 1000

/* Defaults (Airflow's, where it has one). */
#define DAG_DEF_MAX_ACTIVE_RUNS 16
#define DAG_DEF_RETRY_DELAY_MS (300 * 1000)
#define DAG_DEF_MAX_RETRY_DELAY_MS ((int64_t)24 * 3600 * 1000)

/* ---------------------------------------------------------- trigger rules */

static const char *const dag_rules[] = {
	[TR_ALL_SUCCESS] = "all_success",
	[TR_ALL_FAILED] = "all_failed",
	[TR_ALL_DONE] = "all_done",
	[TR_ONE_SUCCESS] = "one_success",
	[TR_ONE_FAILED] = "one_failed",
	[TR_NONE_FAILED] = "none_failed",
	[TR_NONE_FAILED_MIN_ONE_SUCCESS] = "none_failed_min_one_success",
};

const char *
dag_trigger_rule_name(int rule)
{
	if (rule < 0 || (size_t)rule >= ARRAY_SIZE(dag_rules))
		return "?";
	return dag_rules[rule];
}

int
dag_trigger_rule_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dag_rules); i++)
		if (strcmp(s, dag_rules[i]) == 0)
			return (int)i;
	return -1;
}

static const char *const dag_weight_rules[] = {
	[WR_DOWNSTREAM] = "downstream",
	[WR_UPSTREAM] = "upstream",
	[WR_ABSOLUTE] = "absolute",
};

const char *
dag_weight_rule_name(int rule)
{
	if (rule < 0 || (size_t)rule >= ARRAY_SIZE(dag_weight_rules))
		return "?";
	return dag_weight_rules[rule];
}

/* ---------------------------------------------------------------- parsing
 * state */

/* What the later passes need to know about a task's YAML. */
struct dl_task {
	yaml_node_t *node;           /* the task's mapping */
	yaml_node_t *id;             /* its id value */
	yaml_node_t *params;         /* its params value, or NULL */
	yaml_node_t *command;        /* its command value, or NULL */
	yaml_node_t *expand;         /* its expand list's node, or NULL */
	yaml_node_t *sensor;         /* its sensor's target, or NULL */
	yaml_node_t **deps;          /* the depends_on items */
};

struct dl {
	struct yamlfile yf;          /* the file's bytes, document, messages */
	struct dag *d;               /* being filled */
	int (*plugin_known)(const char *name, void *ud);
	void *ud;
	struct dag_task def;         /* `default:` over the built-in defaults */
	yaml_node_t *def_params;     /* default.params, or NULL */
	yaml_node_t *def_plugin;     /* default.plugin, or NULL */
	struct dl_task *tn;          /* parallel to d->tasks */
	size_t json_nodes;           /* converted so far, against a bomb */
	int in_expand;               /* checking an expand list's templates */
};

/* Every error points at a node of the file being read. */
#define dl_err(x, ...) yamlfile_err(&(x)->yf, __VA_ARGS__)

/* ---------------------------------------------------------------- values */

static int dl_params(struct dl *x, const char *name, yaml_node_t *v,
                     json_t **dst);
static int dl_deps(struct dl *x, yaml_node_t *v, struct dag_task *t);
static int dl_json(struct dl *x, yaml_node_t *n, int depth, json_t **out);

/* The rows of the key tables that yamlfile_set() cannot parse alone; UD is
 * the struct dl. */
static int
dl_set_params(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
              void *base)
{
	return dl_params(ud, k->name, v,
	                 (json_t **)(void *)((char *)base + k->off));
}

static int
dl_set_deps(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
            void *base)
{
	(void)k;
	return dl_deps(ud, v, base);
}

/* `command: LINE` (params.command) or `command: [PROG, ARG...]`
 * (params.argv): a task of the exec plugin (plugins/exec/exec.c). */
static int
dl_set_command(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
               void *base)
{
	struct dl *x = ud;
	struct dag_task *t = base;
	json_t *val = NULL;
	(void)k;

	if (v->type == YAML_SCALAR_NODE && !yamlfile_null(v) &&
	    *yamlfile_str(v) != '\0') {
		val = json_string(yamlfile_str(v));
	} else if (v->type == YAML_SEQUENCE_NODE &&
	           v->data.sequence.items.start < v->data.sequence.items.top) {
		val = json_array();
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = yamlfile_node(&x->yf, *it);
			if (e->type != YAML_SCALAR_NODE || yamlfile_null(e)) {
				json_decref(val);
				return dl_err(x, e, "each item of 'command' must "
				              "be a string, not %s", yamlfile_null(e)
				              ? "empty" : yamlfile_kind(e));
			}
			json_array_append_new(val, json_string(yamlfile_str(e)));
		}
	}
	if (val == NULL)
		return dl_err(x, v, "'command' must be a shell command line "
		              "or a list (program and arguments), not %s",
		              yamlfile_null(v) ? "empty" : yamlfile_kind(v));
	const char *key = json_is_string(val) ? "command" : "argv";
	if (json_object_get(t->params, "command") != NULL ||
	    json_object_get(t->params, "argv") != NULL) {
		json_decref(val);
		return dl_err(x, v, "'command' and params.command or "
		              "params.argv say the same thing: give one");
	}
	json_object_set_new(t->params, key, val);
	x->tn[t - x->d->tasks].command = v;
	return 0;
}

/* `expand: { PARAM: LIST }`: LIST is a sequence, or one template that
 * renders to a list at run time (checked with the other templates). */
static int
dl_set_expand(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
              void *base)
{
	struct dl *x = ud;
	struct dag_task *t = base;
	(void)k;

	if (v->type != YAML_MAPPING_NODE ||
	    v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1)
		return dl_err(x, v, "'expand' must be a mapping of one param to "
		              "the list it is mapped over, as in expand: "
		              "{ n: [1, 2, 3] } or expand: { n: \"{{ tasks.ID."
		              "result }}\" }");
	yaml_node_t *kn = yamlfile_node(&x->yf, v->data.mapping.pairs.start->key);
	yaml_node_t *vn = yamlfile_node(&x->yf,
	                                v->data.mapping.pairs.start->value);
	const char *name = kn->type == YAML_SCALAR_NODE ? yamlfile_str(kn) : "";
	if (*name == '\0' || strncmp(name, "__", 2) == 0 ||
	    name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
	                "xyz0123456789_")] != '\0')
		return dl_err(x, kn, "expand: the param mapped over must be a "
		              "name of letters, digits and '_' (not starting "
		              "with \"__\")");
	json_t *list = NULL;
	int rc;
	if (vn->type == YAML_SEQUENCE_NODE) {
		if ((rc = dl_json(x, vn, 0, &list)) < 0)
			return rc;
	} else if (vn->type == YAML_SCALAR_NODE && !yamlfile_null(vn) &&
	           strstr(yamlfile_str(vn), "{{") != NULL) {
		list = json_string(yamlfile_str(vn));
	} else {
		return dl_err(x, vn, "expand: '%s' must be a list, or a template "
		              "such as \"{{ tasks.ID.result }}\" that gives one, "
		              "not %s", name, yamlfile_null(vn) ? "empty" :
		              yamlfile_kind(vn));
	}
	t->expand_param = xstrdup(name);
	t->expand = list;
	x->tn[t - x->d->tasks].expand = vn;
	return 0;
}

static int
dl_set_trigger(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
               void *base)
{
	struct dl *x = ud;
	const char *s = NULL;
	int rc;

	if ((rc = yamlfile_scalar(&x->yf, k->name, v, &s)) < 0)
		return rc;
	if ((rc = dag_trigger_rule_parse(s)) < 0) {
		const char *hint = yamlfile_suggest(s, dag_rules,
		                                    ARRAY_SIZE(dag_rules));
		if (hint != NULL)
			return dl_err(x, v, "unknown trigger_rule '%s' (did "
			              "you mean '%s'?)", s, hint);
		return dl_err(x, v, "unknown trigger_rule '%s' (one of "
		              "all_success, all_failed, all_done, "
		              "one_success, one_failed, none_failed, "
		              "none_failed_min_one_success)", s);
	}
	*(int *)(void *)((char *)base + k->off) = rc;
	return 0;
}

/* weight_rule: one of dag_weight_rules. */
static int
dl_set_weight_rule(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
                   void *base)
{
	struct dl *x = ud;
	const char *s = NULL;
	int rc;

	if ((rc = yamlfile_scalar(&x->yf, k->name, v, &s)) < 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(dag_weight_rules); i++) {
		if (strcmp(s, dag_weight_rules[i]) == 0) {
			*(int *)(void *)((char *)base + k->off) = (int)i;
			return 0;
		}
	}
	return dl_err(x, v, "unknown weight_rule '%s' (one of downstream, "
	              "upstream, absolute)", s);
}

/*
 * Check mapping MAP (WHERE names it in messages) against KEYS: FOUND[i]
 * receives the value node of KEYS[i], or NULL.  Keys in DENY (NULL-ended,
 * may be NULL) are known but not allowed here.  Values are not parsed: the
 * caller does that in the order it needs.  A null MAP is an empty mapping.
 */
static int
dl_map(struct dl *x, yaml_node_t *map, const char *where,
       const struct yamlfile_key *keys, size_t nkeys, const char *const *deny,
       yaml_node_t **found)
{
	return yamlfile_map(&x->yf, map, where, keys, sizeof *keys, nkeys,
	                    deny, found, NULL, NULL);
}

/* ------------------------------------------------------- params as JSON */

/*
 * A plain scalar as the JSON value a YAML 1.2 reader would see: null,
 * true/false, an integer, a float, else a string.  Quoted scalars are
 * always strings ("yes" is a string here: YAML 1.1's yes/no booleans
 * surprise more people than they help, and params go to plugins as is).
 */
static json_t *
dl_scalar_json(const yaml_node_t *n)
{
	const char *s = yamlfile_str(n);
	int64_t i;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_string(s);
	if (yamlfile_null(n))
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return json_false();
	if (yamlfile_parse_int(s, &i) == 0)
		return json_integer(i);
	/* Digits, one point or exponent: no "inf", "nan" or hex. */
	if (strspn(s, "0123456789+-.eE") == strlen(s) &&
	    strpbrk(s, "0123456789") != NULL) {
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		if (*end == '\0' && errno == 0)
			return json_real(d);
	}
	return json_string(s);
}

static int
dl_json(struct dl *x, yaml_node_t *n, int depth, json_t **out)
{
	*out = NULL;
	if (depth > DAG_JSON_DEPTH)
		return dl_err(x, n, "params nested more than %d deep",
		              DAG_JSON_DEPTH);
	if (++x->json_nodes > DAG_JSON_NODES)
		return dl_err(x, n, "params have more than %d values "
		              "(aliases?)", DAG_JSON_NODES);

	switch (n->type) {
	case YAML_SCALAR_NODE:
		*out = dl_scalar_json(n);
		if (*out == NULL)  /* jansson refuses invalid UTF-8 */
			return dl_err(x, n, "not valid UTF-8");
		return 0;
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			json_t *v;
			int rc = dl_json(x, yamlfile_node(&x->yf, *it),
			                 depth + 1, &v);
			if (rc < 0) {
				json_decref(a);
				return rc;
			}
			json_array_append_new(a, v);
		}
		*out = a;
		return 0;
	}
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yamlfile_node(&x->yf, p->key);
			json_t *v;
			int rc;
			if (k->type != YAML_SCALAR_NODE)
				rc = dl_err(x, k, "keys must be plain words, "
				            "not %s", yamlfile_kind(k));
			else if (json_object_get(o, yamlfile_str(k)) != NULL)
				rc = dl_err(x, k, "duplicate key '%s'",
				            yamlfile_str(k));
			else
				rc = dl_json(x, yamlfile_node(&x->yf, p->value),
				             depth + 1, &v);
			if (rc < 0) {
				json_decref(o);
				return rc;
			}
			json_object_set_new(o, yamlfile_str(k), v);
		}
		*out = o;
		return 0;
	}
	default:
		break;
	}
	return dl_err(x, n, "empty node");
}

/* A params mapping V (key NAME) merged into the object *DST (created if
 * NULL): later keys win, so a task's params override the default's. */
static int
dl_params(struct dl *x, const char *name, yaml_node_t *v, json_t **dst)
{
	json_t *o;
	int rc;

	if (!yamlfile_null(v) && v->type != YAML_MAPPING_NODE)
		return dl_err(x, v, "'%s' must be a mapping, not %s", name,
		              yamlfile_kind(v));
	if (yamlfile_null(v))
		o = json_object();
	else if ((rc = dl_json(x, v, 0, &o)) < 0)
		return rc;
	/* "__" names are the host's: see api_params_check in api_jobs.c. */
	for (yaml_node_pair_t *p = yamlfile_null(v) ? NULL :
	     v->data.mapping.pairs.start;
	     p != NULL && p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlfile_node(&x->yf, p->key);
		if (k->type == YAML_SCALAR_NODE &&
		    strncmp(yamlfile_str(k), "__", 2) == 0) {
			json_decref(o);
			return dl_err(x, k, "param '%s': names starting with "
			              "\"__\" are reserved for the host",
			              yamlfile_str(k));
		}
	}
	if (*dst == NULL) {
		*dst = o;
		return 0;
	}
	json_object_update(*dst, o);
	json_decref(o);
	return 0;
}

/* ---------------------------------------------------------------- sensors */

static const char *const dag_sensor_kinds[] = {
	[DS_PLUGIN] = "plugin", [DS_FILE] = "file", [DS_HTTP] = "http",
	[DS_DAG_RUN] = "dag_run", [DS_ARTIFACT] = "artifact",
};

const char *
dag_sensor_kind_name(int kind)
{
	if (kind < 0 || (size_t)kind >= ARRAY_SIZE(dag_sensor_kinds))
		return "?";
	return dag_sensor_kinds[kind];
}

static const char *const dag_run_states[] = {
	"queued", "running", "success", "failed",
};

const char *
dag_run_state_name(int i)
{
	return i >= 0 && (size_t)i < ARRAY_SIZE(dag_run_states) ?
	       dag_run_states[i] : NULL;
}

unsigned
dag_run_state_bit(const char *name)
{
	for (size_t i = 0; name != NULL && i < ARRAY_SIZE(dag_run_states); i++)
		if (strcmp(name, dag_run_states[i]) == 0)
			return 1u << i;
	return 0;
}

/* allowed_states, failed_states: a list of run states, as a mask. */
static int
dl_set_run_states(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
                  void *base)
{
	struct dl *x = ud;
	unsigned *mask = (unsigned *)(void *)((char *)base + k->off);
	if (v->type != YAML_SEQUENCE_NODE)
		return dl_err(x, v, "sensor %s must be a list of run states, "
		              "as in [success], not %s", k->name,
		              yamlfile_kind(v));
	*mask = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yamlfile_node(&x->yf, *it);
		const char *name = n != NULL && n->type == YAML_SCALAR_NODE ?
		                   yamlfile_str(n) : NULL;
		unsigned bit = dag_run_state_bit(name);
		if (bit == 0)
			return dl_err(x, n != NULL ? n : v, "sensor %s: '%s' is "
			              "not a run state (queued, running, "
			              "success, failed)", k->name,
			              name != NULL ? name : "?");
		*mask |= bit;
	}
	return 0;
}

/* `sensor:` as written: the kinds' targets, then the settings. */
struct dl_sensor {
	char *target[DS_ARTIFACT + 1];   /* by kind; [DS_PLUGIN] unused */
	char *logical_date, *mode, *ca_file;
	struct dag_sensor s;
};

#define S_OFF(f) offsetof(struct dl_sensor, f)

/* The first rows are the kinds, in enum dag_sensor_kind order from
 * DS_FILE: the param each one's target becomes is dl_sensor_param[]. */
static const struct yamlfile_key dl_sensor_keys[] = {
	{ "file", YF_STR, S_OFF(target[DS_FILE]), 0, 0, NULL },
	{ "http", YF_STR, S_OFF(target[DS_HTTP]), 0, 0, NULL },
	{ "dag_run", YF_NAME, S_OFF(target[DS_DAG_RUN]), 0, 0, NULL },
	{ "artifact", YF_STR, S_OFF(target[DS_ARTIFACT]), 0, 0, NULL },
	{ "logical_date", YF_STR, S_OFF(logical_date), 0, 0, NULL },
	{ "request_timeout", YF_DURATION, S_OFF(s.request_timeout_ms), 1,
	  300000, NULL },
	{ "poke_interval", YF_DURATION, S_OFF(s.poke_interval_ms),
	  DAG_POKE_MIN_MS, 24LL * 3600 * 1000, NULL },
	{ "timeout", YF_DURATION, S_OFF(s.timeout_ms), 1000,
	  366LL * 24 * 3600 * 1000, NULL },
	{ "mode", YF_STR, S_OFF(mode), 0, 0, NULL },
	{ "soft_fail", YF_BOOL, S_OFF(s.soft_fail), 0, 1, NULL },
	{ "allowed_states", YF_OWN, S_OFF(s.allowed_states), 0, 0,
	  dl_set_run_states },
	{ "failed_states", YF_OWN, S_OFF(s.failed_states), 0, 0,
	  dl_set_run_states },
	{ "ca_file", YF_STR, S_OFF(ca_file), 0, 0, NULL },
};
enum { SK_FILE, SK_HTTP, SK_DAG_RUN, SK_ARTIFACT, SK_LOGICAL_DATE,
       SK_REQUEST_TIMEOUT, SK_POKE, SK_TIMEOUT, SK_MODE, SK_SOFT_FAIL,
       SK_ALLOWED, SK_FAILED, SK_CA_FILE };
static const char *const dl_sensor_param[] = {
	[DS_FILE] = "path", [DS_HTTP] = "url", [DS_DAG_RUN] = "dag_id",
	[DS_ARTIFACT] = "name",
};

/* The checks of a parsed `sensor:` that no row can make alone. */
static int
dl_sensor_check(struct dl *x, struct dag_task *t, struct dl_sensor *ds,
                yaml_node_t *v, yaml_node_t **found)
{
	yaml_node_t *kn = NULL;
	for (int k = DS_FILE; k <= DS_ARTIFACT; k++) {
		yaml_node_t *f = found[SK_FILE + k - DS_FILE];
		if (f != NULL && kn != NULL)
			return dl_err(x, f, "a sensor waits for one thing: "
			              "give one of file, http, dag_run and "
			              "artifact");
		if (f != NULL) {
			kn = f;
			ds->s.kind = k;
		}
	}
	if (ds->mode != NULL && strcmp(ds->mode, "reschedule") != 0)
		return dl_err(x, found[SK_MODE], "sensor mode '%s': only "
		              "'reschedule' is offered (a sensor holds no slot "
		              "between pokes; 'poke' would hold one for "
		              "nothing)", ds->mode);
	if (ds->logical_date != NULL && (ds->s.kind != DS_DAG_RUN ||
	    (strcmp(ds->logical_date, "same") != 0 &&
	     strcmp(ds->logical_date, "latest") != 0)))
		return dl_err(x, found[SK_LOGICAL_DATE], "sensor "
		              "logical_date: 'same' or 'latest', with dag_run");
	ds->s.latest = ds->logical_date != NULL &&
	               strcmp(ds->logical_date, "latest") == 0;
	for (int f = SK_ALLOWED; f <= SK_FAILED; f++)
		if (found[f] != NULL && ds->s.kind != DS_DAG_RUN)
			return dl_err(x, found[f], "sensor %s is for dag_run "
			              "sensors", dl_sensor_keys[f].name);
	if (ds->s.allowed_states == 0)
		return dl_err(x, found[SK_ALLOWED], "sensor allowed_states "
		              "is empty: the sensor could never succeed");
	if (ds->s.allowed_states & ds->s.failed_states)
		return dl_err(x, found[SK_FAILED], "sensor failed_states "
		              "shares a state with allowed_states");
	if (found[SK_REQUEST_TIMEOUT] != NULL && ds->s.kind != DS_HTTP)
		return dl_err(x, found[SK_REQUEST_TIMEOUT], "sensor "
		              "request_timeout is for http sensors");
	if (found[SK_CA_FILE] != NULL && (ds->s.kind != DS_HTTP ||
	    strncmp(ds->target[DS_HTTP], "https://", 8) != 0))
		return dl_err(x, found[SK_CA_FILE], "sensor ca_file is for "
		              "https:// sensors");
	if (ds->s.kind == DS_DAG_RUN && strcmp(ds->target[DS_DAG_RUN],
	                                       x->d->id ? x->d->id : "") == 0)
		return dl_err(x, kn, "a dag_run sensor cannot wait for its "
		              "own DAG");
	if (ds->s.kind == DS_PLUGIN)
		return 0;
	const char *param = dl_sensor_param[ds->s.kind];
	if (json_object_get(t->params, param) != NULL)
		return dl_err(x, kn, "sensor %s and params.%s say the same "
		              "thing: give one", dag_sensor_kind_name(ds->s.kind),
		              param);
	json_object_set_new(t->params, param,
	                    json_string(ds->target[ds->s.kind]));
	if (ds->s.kind == DS_HTTP)
		json_object_set_new(t->params, "timeout_ms",
		                    json_integer(ds->s.request_timeout_ms));
	if (ds->ca_file != NULL)
		json_object_set_new(t->params, "ca_file",
		                    json_string(ds->ca_file));
	x->tn[t - x->d->tasks].sensor = kn;
	(void)v;
	return 0;
}

/* `sensor: { file|http|dag_run|artifact: TARGET, poke_interval, timeout,
 * mode, soft_fail }`; with no kind, the task's plugin is the sensor. */
static int
dl_set_sensor(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
              void *base)
{
	struct dl *x = ud;
	struct dag_task *t = base;
	yaml_node_t *found[ARRAY_SIZE(dl_sensor_keys)];
	struct dl_sensor ds = { .s = { .kind = DS_PLUGIN,
		.poke_interval_ms = DAG_POKE_DEFAULT_MS,
		.timeout_ms = DAG_SENSOR_TIMEOUT_DEFAULT_MS,
		.request_timeout_ms = 10000,
		.allowed_states = dag_run_state_bit("success") } };
	(void)k;

	if (v->type != YAML_MAPPING_NODE && !yamlfile_null(v))
		return dl_err(x, v, "'sensor' must be a mapping, as in sensor: "
		              "{ file: /data/{{ ds }}/_SUCCESS, poke_interval: "
		              "30s, timeout: 1h }, not %s", yamlfile_kind(v));
	int rc = yamlfile_walk(&x->yf, v, "'sensor'", dl_sensor_keys,
	                       ARRAY_SIZE(dl_sensor_keys), &ds, found);
	if (rc == 0)
		rc = dl_sensor_check(x, t, &ds, v, found);
	if (rc == 0) {
		free(t->sensor);
		t->sensor = xmalloc(sizeof *t->sensor);
		*t->sensor = ds.s;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ds.target); i++)
		free(ds.target[i]);
	free(ds.logical_date);
	free(ds.mode);
	free(ds.ca_file);
	return rc;
}

/* ---------------------------------------------------------- notifications */

static const char *const dag_event_keys[DAG_NEVENTS] = {
	"on_failure", "on_success", "on_retry", "on_deadline" };
static const char *const dag_event_names[DAG_NEVENTS] = {
	"failure", "success", "retry", "deadline_missed" };
static const char *const dag_deadline_froms[] = { "start", "interval_end" };

const char *
dag_event_key(int ev)
{
	return ev >= 0 && ev < DAG_NEVENTS ? dag_event_keys[ev] : "?";
}

const char *
dag_event_name(int ev)
{
	return ev >= 0 && ev < DAG_NEVENTS ? dag_event_names[ev] : "?";
}

const char *
dag_deadline_from_name(int from)
{
	if (from < 0 || (size_t)from >= ARRAY_SIZE(dag_deadline_froms))
		return "?";
	return dag_deadline_froms[from];
}

static void
dl_callbacks_clear(struct dag_callbacks *cb)
{
	for (int e = 0; e < DAG_NEVENTS; e++) {
		for (size_t i = 0; i < cb[e].n; i++) {
			free(cb[e].v[i].target);
			free(cb[e].v[i].secret);
		}
		free(cb[e].v);
	}
	memset(cb, 0, DAG_NEVENTS * sizeof *cb);
}

/* One target as written: `{ webhook: URL [, secret: VARIABLE] }` or
 * `{ command: LINE }`. */
struct dl_cb {
	char *webhook, *command, *secret;
};
static const struct yamlfile_key dl_cb_keys[] = {
	{ "webhook", YF_STR, offsetof(struct dl_cb, webhook), 0, 0, NULL },
	{ "command", YF_STR, offsetof(struct dl_cb, command), 0, 0, NULL },
	{ "secret", YF_NAME, offsetof(struct dl_cb, secret), 0, 0, NULL },
};

/* Does URL look like a webhook: http(s)://HOST..., printable, bounded? */
static const char *
dl_url_bad(const char *url)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return "must start with http:// or https://";
	if (strlen(url) > DAG_CALLBACK_URL_MAX)
		return "is too long (2048 bytes at most)";
	const char *h = strstr(url, "//") + 2;
	if (*h == '\0' || *h == '/')
		return "has no host";
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return "holds a blank or a control character";
	return NULL;
}

static int
dl_callback(struct dl *x, const char *key, yaml_node_t *n,
            struct dag_callbacks *cb)
{
	struct dl_cb c = { 0 };
	yaml_node_t *found[ARRAY_SIZE(dl_cb_keys)];
	char where[64];
	int rc;

	if (n->type != YAML_MAPPING_NODE)
		return dl_err(x, n, "each '%s' target must be a mapping, as in "
		              "%s: { webhook: https://example.com/hook } or "
		              "{ command: \"...\" }, not %s", key, key,
		              yamlfile_kind(n));
	snprintf(where, sizeof where, "'%s'", key);
	rc = yamlfile_walk(&x->yf, n, where, dl_cb_keys,
	                   ARRAY_SIZE(dl_cb_keys), &c, found);
	if (rc == 0 && (c.webhook != NULL) == (c.command != NULL))
		rc = dl_err(x, n, "a '%s' target is one webhook or one "
		            "command", key);
	const char *bad;
	if (rc == 0 && c.webhook != NULL && (bad = dl_url_bad(c.webhook)))
		rc = dl_err(x, found[0], "%s webhook '%.80s' %s", key,
		            c.webhook, bad);
	if (rc == 0 && c.command != NULL &&
	    strlen(c.command) > DAG_CALLBACK_COMMAND_MAX)
		rc = dl_err(x, found[1], "%s command is too long (%d bytes "
		            "at most)", key, DAG_CALLBACK_COMMAND_MAX);
	if (rc == 0 && c.secret != NULL && c.webhook == NULL)
		rc = dl_err(x, found[2], "'secret' (the variable whose value "
		            "signs a webhook) is for webhooks");
	if (rc == 0 && cb->n >= DAG_CALLBACKS_MAX)
		rc = dl_err(x, n, "'%s' has more than %d targets", key,
		            DAG_CALLBACKS_MAX);
	if (rc < 0) {
		free(c.webhook);
		free(c.command);
		free(c.secret);
		return rc;
	}
	cb->v = xrealloc(cb->v, (cb->n + 1) * sizeof *cb->v);
	cb->v[cb->n++] = (struct dag_callback){
		.kind = c.webhook ? DCB_WEBHOOK : DCB_COMMAND,
		.target = c.webhook ? c.webhook : c.command,
		.secret = c.secret };
	return 0;
}

/* `on_EVENT: TARGET` or `on_EVENT: [TARGET, ...]`, into the struct
 * dag_callbacks at BASE + K->off. */
static int
dl_set_callbacks(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
                 void *base)
{
	struct dl *x = ud;
	struct dag_callbacks *cb = (void *)((char *)base + k->off);

	if (yamlfile_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return dl_callback(x, k->name, v, cb);
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++) {
		int rc = dl_callback(x, k->name, yamlfile_node(&x->yf, *it), cb);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* `deadline: DURATION` (from the start) or `deadline: { after: DURATION,
 * from: start|interval_end }`, into the struct dag_deadline at BASE +
 * K->off. */
struct dl_ddl {
	int64_t after_ms;
	char *from;
};
static const struct yamlfile_key dl_ddl_keys[] = {
	{ "after", YF_DURATION, offsetof(struct dl_ddl, after_ms), 1000,
	  (int64_t)366 * 24 * 3600 * 1000, NULL },
	{ "from", YF_STR, offsetof(struct dl_ddl, from), 0, 0, NULL },
};

static int
dl_set_deadline(void *ud, const struct yamlfile_key *k, yaml_node_t *v,
                void *base)
{
	struct dl *x = ud;
	struct dag_deadline *dd = (void *)((char *)base + k->off);
	struct dl_ddl w = { 0 };
	yaml_node_t *found[ARRAY_SIZE(dl_ddl_keys)];
	int rc;

	if (v->type == YAML_SCALAR_NODE && !yamlfile_null(v)) {
		static const struct yamlfile_key one = { "deadline",
			YF_DURATION, 0, 1000, (int64_t)366 * 24 * 3600 * 1000,
			NULL };
		dd->from = DDL_FROM_START;
		return yamlfile_set(&x->yf, &one, v, &dd->after_ms);
	}
	if (v->type != YAML_MAPPING_NODE)
		return dl_err(x, v, "'deadline' must be a duration or a "
		              "mapping, as in deadline: { after: 10m, from: "
		              "start }, not %s", yamlfile_null(v) ? "empty" :
		              yamlfile_kind(v));
	rc = yamlfile_walk(&x->yf, v, "'deadline'", dl_ddl_keys,
	                   ARRAY_SIZE(dl_ddl_keys), &w, found);
	if (rc == 0 && found[0] == NULL)
		rc = dl_err(x, v, "'deadline' needs 'after' (a duration, "
		            "as in 10m)");
	int from = DDL_FROM_START;
	if (rc == 0 && w.from != NULL) {
		from = -1;
		for (size_t i = 0; i < ARRAY_SIZE(dag_deadline_froms); i++)
			if (strcmp(w.from, dag_deadline_froms[i]) == 0)
				from = (int)i;
		if (from < 0)
			rc = dl_err(x, found[1], "deadline 'from' is start or "
			            "interval_end, not '%s'", w.from);
	}
	free(w.from);
	if (rc == 0)
		*dd = (struct dag_deadline){ .after_ms = w.after_ms,
		                             .from = from };
	return rc;
}

/* ---------------------------------------------------------------- tasks */

#define T_OFF(f) offsetof(struct dag_task, f)

static const struct yamlfile_key dl_task_keys[] = {
	{ "id", YF_NAME, T_OFF(id), 0, 0, NULL },
	{ "plugin", YF_STR, T_OFF(plugin), 0, 0, NULL },
	{ "params", YF_OWN, T_OFF(params), 0, 0, dl_set_params },
	{ "depends_on", YF_OWN, 0, 0, 0, dl_set_deps },
	{ "command", YF_OWN, 0, 0, 0, dl_set_command },
	{ "retries", YF_INT, T_OFF(retries), 0, DAG_RETRIES_MAX, NULL },
	{ "retry_delay", YF_DURATION, T_OFF(retry_delay_ms), 0, INT64_MAX, NULL },
	{ "retry_exponential_backoff", YF_BOOL, T_OFF(retry_exponential), 0,
	  1, NULL },
	{ "max_retry_delay", YF_DURATION, T_OFF(max_retry_delay_ms), 1,
	  INT64_MAX, NULL },
	{ "timeout", YF_DURATION, T_OFF(timeout_ms), 1, INT64_MAX, NULL },
	{ "trigger_rule", YF_OWN, T_OFF(trigger_rule), 0, 0, dl_set_trigger },
	{ "pool", YF_NAME, T_OFF(pool), 0, 0, NULL },
	{ "priority_weight", YF_INT, T_OFF(priority), -1000000, 1000000,
	  NULL },
	{ "priority", YF_INT, T_OFF(priority), -1000000, 1000000, NULL },
	{ "weight_rule", YF_OWN, T_OFF(weight_rule), 0, 0,
	  dl_set_weight_rule },
	{ "slots", YF_INT, T_OFF(slots), 1, 1024, NULL },
	{ "memory", YF_SIZE, T_OFF(memory), 0, INT64_MAX, NULL },
	{ "expand", YF_OWN, 0, 0, 0, dl_set_expand },
	{ "sensor", YF_OWN, 0, 0, 0, dl_set_sensor },
	{ "on_failure", YF_OWN, T_OFF(on[DAG_ON_FAILURE]), 0, 0,
	  dl_set_callbacks },
	{ "on_success", YF_OWN, T_OFF(on[DAG_ON_SUCCESS]), 0, 0,
	  dl_set_callbacks },
	{ "on_retry", YF_OWN, T_OFF(on[DAG_ON_RETRY]), 0, 0, dl_set_callbacks },
	{ "on_deadline", YF_OWN, T_OFF(on[DAG_ON_DEADLINE]), 0, 0,
	  dl_set_callbacks },
	{ "deadline", YF_OWN, T_OFF(deadline), 0, 0, dl_set_deadline },
};

enum { TK_ID, TK_PLUGIN, TK_PARAMS, TK_DEPS, TK_COMMAND };
#define TK_SENSOR (ARRAY_SIZE(dl_task_keys) - 6)

/* Keys of a task that make no sense for every task at once. */
static const char *const dl_default_deny[] = { "id", "depends_on", "command",
                                               "expand", "sensor",
                                               "on_failure", "on_success",
                                               "on_retry", "on_deadline",
                                               "deadline", NULL };

static void
dl_task_clear(struct dag_task *t)
{
	free(t->id);
	free(t->plugin);
	json_decref(t->params);
	for (size_t i = 0; i < t->ndeps; i++)
		free(t->deps[i]);
	free(t->deps);
	free(t->dep_index);
	free(t->pool);
	free(t->expand_param);
	json_decref(t->expand);
	free(t->sensor);
	dl_callbacks_clear(t->on);
	memset(t, 0, sizeof *t);
}

/* DST becomes a deep copy of the default task SRC (which has no id and no
 * dependencies). */
static void
dl_task_copy(struct dag_task *dst, const struct dag_task *src)
{
	*dst = *src;
	dst->plugin = xstrdup(src->plugin);
	dst->pool = xstrdup(src->pool);
	dst->params = json_deep_copy(src->params);
	dst->expand_param = NULL;
	dst->expand = NULL;
	dst->sensor = NULL;
}

static int
dl_deps(struct dl *x, yaml_node_t *v, struct dag_task *t)
{
	struct dl_task *tn = &x->tn[t - x->d->tasks];
	yaml_node_item_t *start = NULL, *top = NULL;
	yaml_node_item_t one;

	if (yamlfile_null(v))
		return 0;
	if (v->type == YAML_SCALAR_NODE) {
		/* `depends_on: extract` for a single one. */
		one = (yaml_node_item_t)(v - x->yf.doc.nodes.start + 1);
		start = &one;
		top = start + 1;
	} else if (v->type == YAML_SEQUENCE_NODE) {
		start = v->data.sequence.items.start;
		top = v->data.sequence.items.top;
	} else {
		return dl_err(x, v, "'depends_on' must be a list of task ids, "
		              "not %s", yamlfile_kind(v));
	}

	size_t n = (size_t)(top - start);
	t->deps = xcalloc(n ? n : 1, sizeof *t->deps);
	tn->deps = xcalloc(n ? n : 1, sizeof *tn->deps);
	for (yaml_node_item_t *it = start; it < top; it++) {
		yaml_node_t *dn = yamlfile_node(&x->yf, *it);
		if (dn->type != YAML_SCALAR_NODE || yamlfile_null(dn))
			return dl_err(x, dn, "each 'depends_on' entry must be "
			              "a task id, not %s", yamlfile_null(dn) ?
			              "empty" : yamlfile_kind(dn));
		for (size_t j = 0; j < t->ndeps; j++)
			if (strcmp(t->deps[j], yamlfile_str(dn)) == 0)
				return dl_err(x, dn, "'%s' is listed twice in "
				              "'depends_on'", yamlfile_str(dn));
		tn->deps[t->ndeps] = dn;
		t->deps[t->ndeps++] = xstrdup(yamlfile_str(dn));
	}
	return 0;
}

static int
dl_default(struct dl *x, yaml_node_t *v)
{
	yaml_node_t *found[ARRAY_SIZE(dl_task_keys)];
	struct dag_task *t = &x->def;
	int rc;

	t->params = json_object();
	t->pool = xstrdup("default");
	t->retry_delay_ms = DAG_DEF_RETRY_DELAY_MS;
	t->max_retry_delay_ms = DAG_DEF_MAX_RETRY_DELAY_MS;
	t->slots = 1;
	t->trigger_rule = TR_ALL_SUCCESS;
	t->priority = 1;        /* Airflow's priority_weight */
	t->weight_rule = WR_DOWNSTREAM;
	if (v == NULL)
		return 0;
	rc = dl_map(x, v, "'default'", dl_task_keys, ARRAY_SIZE(dl_task_keys),
	            dl_default_deny, found);
	if (rc < 0)
		return rc;
	x->def_params = found[TK_PARAMS];
	x->def_plugin = found[TK_PLUGIN];
	return yamlfile_set_found(&x->yf, dl_task_keys, ARRAY_SIZE(dl_task_keys), found, t);
}

/* A sensor task's plugin: `sensor` for the built-in kinds (none needed
 * on the master for dag_run and artifact, which it checks itself), the
 * task's own otherwise.  0 if loaded and nothing more to check, 1 to go
 * on with the plugin checks, or an error. */
static int
dl_task_sensor(struct dl *x, struct dag_task *t, yaml_node_t **found)
{
	if (t->expand != NULL)
		return dl_err(x, found[TK_SENSOR], "task '%s': a sensor cannot "
		              "be mapped ('expand')", t->id);
	if (t->sensor->kind == DS_PLUGIN)
		return 1;
	yaml_node_t *own = found[TK_PLUGIN] ? found[TK_PLUGIN] :
	                   found[TK_COMMAND];
	if (own != NULL)
		return dl_err(x, own, "task '%s' is a %s sensor, which brings "
		              "its own plugin: drop 'plugin' or 'command'",
		              t->id, dag_sensor_kind_name(t->sensor->kind));
	free(t->plugin);
	t->plugin = xstrdup("sensor");
	return t->sensor->kind == DS_FILE || t->sensor->kind == DS_HTTP;
}

static int
dl_task(struct dl *x, yaml_node_t *n)
{
	struct dag *d = x->d;
	yaml_node_t *found[ARRAY_SIZE(dl_task_keys)];
	int rc;

	/* Grown before parsing, so that dag_free() owns whatever a failing
	 * entry already holds. */
	d->tasks = xrealloc(d->tasks, (d->ntasks + 1) * sizeof *d->tasks);
	x->tn = xrealloc(x->tn, (d->ntasks + 1) * sizeof *x->tn);
	struct dag_task *t = &d->tasks[d->ntasks];
	struct dl_task *tn = &x->tn[d->ntasks++];
	memset(tn, 0, sizeof *tn);
	dl_task_copy(t, &x->def);
	t->line = (int)n->start_mark.line + 1;
	t->column = (int)n->start_mark.column + 1;
	tn->node = n;

	if (n->type != YAML_MAPPING_NODE)
		return dl_err(x, n, "each task must be a mapping (id, plugin, "
		              "params, ...), not %s", yamlfile_kind(n));
	rc = dl_map(x, n, "task", dl_task_keys, ARRAY_SIZE(dl_task_keys),
	            NULL, found);
	if (rc < 0)
		return rc;
	if (found[TK_ID] == NULL)
		return dl_err(x, n, "task has no 'id'");
	if ((rc = yamlfile_set(&x->yf, &dl_task_keys[TK_ID], found[TK_ID], t)) < 0)
		return rc;
	tn->id = found[TK_ID];
	tn->params = found[TK_PARAMS];
	if (found[TK_COMMAND] != NULL && found[TK_PLUGIN] != NULL)
		return dl_err(x, found[TK_PLUGIN], "task '%s' has both "
		              "'plugin' and 'command' (a task of plugin exec): "
		              "give one", t->id);
	for (size_t i = 0; i + 1 < d->ntasks; i++)
		if (strcmp(d->tasks[i].id, t->id) == 0)
			return dl_err(x, found[TK_ID], "duplicate task id '%s' "
			              "(first on line %d)", t->id,
			              d->tasks[i].line);
	if ((rc = yamlfile_set_found(&x->yf, dl_task_keys, ARRAY_SIZE(dl_task_keys), found,
	                   t)) < 0)
		return rc;
	if (found[TK_COMMAND] != NULL) {
		free(t->plugin);
		t->plugin = xstrdup("exec");
	}
	if (t->sensor != NULL && (rc = dl_task_sensor(x, t, found)) <= 0)
		return rc;
	if (t->plugin == NULL)
		return dl_err(x, n, "task '%s' has no 'plugin' (or 'command')",
		              t->id);
	if (x->plugin_known != NULL && !x->plugin_known(t->plugin, x->ud))
		return dl_err(x, found[TK_PLUGIN] ? found[TK_PLUGIN] :
		              found[TK_COMMAND] ? found[TK_COMMAND] :
		              x->def_plugin, "unknown plugin '%s'", t->plugin);
	return 0;
}

static int
dl_tasks(struct dl *x, yaml_node_t *v)
{
	if (v->type != YAML_SEQUENCE_NODE && !yamlfile_null(v))
		return dl_err(x, v, "'tasks' must be a list, not %s",
		              yamlfile_kind(v));
	if (yamlfile_null(v) || v->data.sequence.items.start ==
	    v->data.sequence.items.top)
		return dl_err(x, v, "'tasks' must not be empty");
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top; it++) {
		int rc = dl_task(x, yamlfile_node(&x->yf, *it));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- graph */

static int
dl_find(const struct dag *d, const char *id)
{
	for (size_t i = 0; i < d->ntasks; i++)
		if (strcmp(d->tasks[i].id, id) == 0)
			return (int)i;
	return -1;
}

const struct dag_task *
dag_task_find(const struct dag *d, const char *id)
{
	int i = dl_find(d, id);
	return i < 0 ? NULL : &d->tasks[i];
}

static int
dl_resolve(struct dl *x)
{
	struct dag *d = x->d;
	const char **names = xcalloc(d->ntasks, sizeof *names);

	for (size_t i = 0; i < d->ntasks; i++)
		names[i] = d->tasks[i].id;
	for (size_t i = 0; i < d->ntasks; i++) {
		struct dag_task *t = &d->tasks[i];
		t->dep_index = xcalloc(t->ndeps ? t->ndeps : 1,
		                       sizeof *t->dep_index);
		for (size_t j = 0; j < t->ndeps; j++) {
			int k = dl_find(d, t->deps[j]);
			if (k >= 0) {
				t->dep_index[j] = k;
				continue;
			}
			const char *hint = yamlfile_suggest(t->deps[j], names,
			                                    d->ntasks);
			int rc = dl_err(x, x->tn[i].deps[j], "task '%s' "
			                "depends on unknown task '%s'%s%s%s",
			                t->id, t->deps[j],
			                hint ? " (did you mean '" : "",
			                hint ? hint : "", hint ? "'?)" : "");
			free(names);
			return rc;
		}
	}
	free(names);
	return 0;
}

/*
 * Depth-first along depends_on, tasks in file order.  Meeting a task that
 * is still on the stack closes a cycle: the edge from the current task to
 * it is reported, with the cycle spelled in run order (upstream first).
 */
static int
dl_cycle_from(struct dl *x, size_t t, char *state, size_t *stack,
              size_t depth)
{
	const struct dag *d = x->d;

	state[t] = 1;
	stack[depth] = t;
	for (size_t j = 0; j < d->tasks[t].ndeps; j++) {
		size_t u = (size_t)d->tasks[t].dep_index[j];
		if (state[u] == 2)
			continue;
		if (state[u] == 0) {
			int rc = dl_cycle_from(x, u, state, stack, depth + 1);
			if (rc < 0)
				return rc;
			continue;
		}
		/* stack[k..depth] is u, ..., t; each depends on the next,
		 * so the run order is u, t, ..., stack[k+1], u. */
		size_t k = depth;
		while (stack[k] != u)
			k--;
		char *path = xstrdup(d->tasks[u].id);
		for (size_t i = depth; i > k; i--) {
			char *p = xasprintf("%s -> %s", path,
			                    d->tasks[stack[i]].id);
			free(path);
			path = p;
		}
		int rc = dl_err(x, x->tn[t].deps[j], "cycle: %s -> %s", path,
		                d->tasks[u].id);
		free(path);
		return rc;
	}
	state[t] = 2;
	return 0;
}

static int
dl_cycles(struct dl *x)
{
	size_t n = x->d->ntasks;
	char *state = xcalloc(n, 1);
	size_t *stack = xcalloc(n, sizeof *stack);
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		if (state[i] == 0)
			rc = dl_cycle_from(x, i, state, stack, 0);
	free(state);
	free(stack);
	return rc;
}

/* Kahn's algorithm, always taking the first ready task in file order so
 * that the order is stable and reads like the file.  Quadratic, which is
 * nothing for DAGs people write by hand.  Needs an acyclic graph. */
static void
dl_order(struct dag *d)
{
	size_t n = d->ntasks;
	char *done = xcalloc(n, 1);

	d->order = xcalloc(n, sizeof *d->order);
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			size_t j;
			for (j = 0; j < d->tasks[i].ndeps; j++)
				if (!done[d->tasks[i].dep_index[j]])
					break;
			if (j == d->tasks[i].ndeps) {
				done[i] = 1;
				d->order[k] = i;
				break;
			}
		}
	}
	free(done);
}

/* anc[i * n + j] != 0 if task j is upstream of task i (transitively). */
static char *
dl_ancestors(const struct dag *d)
{
	size_t n = d->ntasks;
	char *anc = xcalloc(n * n, 1);

	for (size_t k = 0; k < n; k++) {
		size_t i = d->order[k];
		for (size_t j = 0; j < d->tasks[i].ndeps; j++) {
			size_t u = (size_t)d->tasks[i].dep_index[j];
			anc[i * n + u] = 1;
			for (size_t v = 0; v < n; v++)
				anc[i * n + v] |= anc[u * n + v];
		}
	}
	return anc;
}

/* ------------------------------------------------------------ templates */

enum tpl_kind {
	V_DS, V_DS_NODASH, V_LOGICAL_DATE, V_INTERVAL_START, V_INTERVAL_END,
	V_RUN_ID, V_DAG_ID, V_DAG_DIR, V_TASK_ID, V_PARAM, V_RESULT, V_FIELD,
	V_INPUT, V_SECRET, V_MAP_INDEX,
};

static const struct {
	const char *name;
	enum tpl_kind kind;
} tpl_plain[] = {
	{ "ds", V_DS },
	{ "ds_nodash", V_DS_NODASH },
	{ "logical_date", V_LOGICAL_DATE },
	{ "data_interval_start", V_INTERVAL_START },
	{ "data_interval_end", V_INTERVAL_END },
	{ "run_id", V_RUN_ID },
	{ "dag.id", V_DAG_ID },
	{ "dag.dir", V_DAG_DIR },
	{ "task.id", V_TASK_ID },
	{ "map_index", V_MAP_INDEX },
};

/* One "{{ expr }}" found in a string. */
struct tpl {
	size_t start, end;           /* of the whole tag in the string */
	char *expr;                  /* trimmed; malloc()ed */
	enum tpl_kind kind;
	const char *name;            /* V_PARAM, V_INPUT: the param or input
	                              * (in expr) */
	int task;                    /* V_RESULT, V_FIELD: its index */
	const char *field;           /* V_FIELD: the field (in expr) */
};

/*
 * The next tag in S at or after FROM.  RET 1 and *T (T->expr to be freed),
 * 0 if there is none, -1 if a "{{" has no "}}" (*T->start says where).
 */
static int
tpl_next(const char *s, size_t from, struct tpl *t)
{
	const char *open = strstr(s + from, "{{");
	if (open == NULL)
		return 0;
	t->start = (size_t)(open - s);
	const char *close = strstr(open + 2, "}}");
	if (close == NULL)
		return -1;
	t->end = (size_t)(close - s) + 2;
	const char *a = open + 2, *b = close;
	while (a < b && isspace((unsigned char)*a))
		a++;
	while (b > a && isspace((unsigned char)b[-1]))
		b--;
	t->expr = xstrndup(a, (size_t)(b - a));
	return 1;
}

/* "var.NAME" or "conn.NAME.FIELD" (variables and connections, see
 * varconn.h): the names are looked up when the task is dispatched, so
 * only their form is checked here. */
static int
tpl_check_secret(const char *e, char **err)
{
	static const char *const fields[] = { "type", "host", "port",
	                                      "login", "password" };
	const char *name = e + (e[0] == 'v' ? 4 : 5);
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                  "qrstuvwxyz0123456789_-");
	if (n == 0)
		return err_set(err, -EINVAL, "'%s': a name of letters, digits, "
		              "'_' and '-' must follow", e);
	if (e[0] == 'v')
		return name[n] == '\0' ? 0 : err_set(err, -EINVAL, "'%s': a "
		       "variable is {{ var.NAME }}", e);
	const char *f = name + n + (name[n] == '.');
	for (size_t i = 0; name[n] == '.' && i < ARRAY_SIZE(fields); i++)
		if (strcmp(f, fields[i]) == 0)
			return 0;
	if (name[n] == '.' && strncmp(f, "extra.", 6) == 0 && f[6] != '\0')
		return 0;
	return err_set(err, -EINVAL, "'%s': a connection's field is type, "
	              "host, port, login, password or extra.KEY", e);
}

/*
 * What T->expr names, in DAG D.  Task ids may hold dots, so "tasks.a.b.
 * result" is read with the longest task id that fits.  RET 0, or a
 * negative code with *err (a message without position).
 */
static int
tpl_classify(const struct dag *d, struct tpl *t, char **err)
{
	const char *e = t->expr;

	if (*e == '\0')
		return err_set(err, -EINVAL, "empty template '{{ }}'");

	for (size_t i = 0; i < ARRAY_SIZE(tpl_plain); i++) {
		if (strcmp(e, tpl_plain[i].name) == 0) {
			t->kind = tpl_plain[i].kind;
			return 0;
		}
	}
	if (strncmp(e, "params.", 7) == 0 && e[7] != '\0') {
		t->kind = V_PARAM;
		t->name = e + 7;
		return 0;
	}
	if (strncmp(e, "inputs.", 7) == 0 && e[7] != '\0') {
		t->kind = V_INPUT;
		t->name = e + 7;
		return 0;
	}
	if (strncmp(e, "var.", 4) == 0 || strncmp(e, "conn.", 5) == 0) {
		t->kind = V_SECRET;
		return tpl_check_secret(e, err);
	}
	if (strncmp(e, "tasks.", 6) == 0) {
		const char *r = e + 6;
		size_t best = 0;
		t->task = -1;
		for (size_t i = 0; i < d->ntasks; i++) {
			size_t n = strlen(d->tasks[i].id);
			if (n <= best || strncmp(r, d->tasks[i].id, n) != 0 ||
			    strncmp(r + n, ".result", 7) != 0 ||
			    (r[n + 7] != '\0' &&
			     (r[n + 7] != '.' || r[n + 8] == '\0')))
				continue;
			best = n;
			t->task = (int)i;
		}
		if (t->task >= 0) {
			const char *rest = r + best + 7;
			t->kind = *rest == '\0' ? V_RESULT : V_FIELD;
			t->field = *rest == '\0' ? NULL : rest + 1;
			return 0;
		}
		const char *res = strstr(r, ".result");
		if (res != NULL && res > r)
			return err_set(err, -EINVAL, "template refers to "
			              "unknown task '%.*s'", (int)(res - r), r);
	}
	return err_set(err, -EINVAL, "unknown template variable '%s'", e);
}

/* `{{ inputs.NAME }}` in task TI: the path of input NAME in the work
 * directory of an exec task, whose inputs are its direct upstream tasks'
 * outputs, named UPSTREAM/FILE (or FILE alone where it is unique: see
 * plugins/exec/exec.c).  Rendered unquoted into a command line, so NAME
 * is kept to characters a shell takes literally. */
static int
dl_check_input(const struct dag *d, size_t ti, const char *name, char **err)
{
	const struct dag_task *t = &d->tasks[ti];
	if (strcmp(t->plugin, "exec") != 0)
		return err_set(err, -EINVAL, "'{{ inputs.%s }}' is for tasks of "
		              "plugin exec ('command:'), not of %s", name,
		              t->plugin);
	if (name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	                "qrstuvwxyz0123456789._-/")] != '\0' ||
	    strstr(name, "..") != NULL || name[0] == '/')
		return err_set(err, -EINVAL, "input name '%s' in a template may "
		              "hold only letters, digits, '.', '_', '-' and a "
		              "'/' after the upstream task's id", name);
	const char *slash = strrchr(name, '/');
	if (slash == NULL)
		return 0;
	for (size_t j = 0; j < t->ndeps; j++)
		if (strlen(t->deps[j]) == (size_t)(slash - name) &&
		    strncmp(t->deps[j], name, (size_t)(slash - name)) == 0)
			return 0;
	return err_set(err, -EINVAL, "task '%s' reads input '%s', but '%.*s' "
	              "is not in its depends_on", t->id, name,
	              (int)(slash - name), name);
}

/* Check every template in string node N of task TI. */
static int
dl_check_string(struct dl *x, yaml_node_t *n, size_t ti, const char *anc)
{
	const struct dag *d = x->d;
	const char *s = yamlfile_str(n);
	struct tpl t;
	size_t pos = 0;
	int r;

	while ((r = tpl_next(s, pos, &t)) > 0) {
		char *msg = NULL;
		int rc = tpl_classify(d, &t, &msg);
		const char *mp = x->in_expand ? NULL : d->tasks[ti].expand_param;
		if (rc == 0 && t.kind == V_PARAM &&
		    json_object_get(d->params, t.name) == NULL &&
		    (mp == NULL || strcmp(mp, t.name) != 0))
			rc = err_set(&msg, -EINVAL, "template parameter '%s' is "
			            "not among the DAG's params", t.name);
		if (rc == 0 && t.kind == V_MAP_INDEX && mp == NULL)
			rc = err_set(&msg, -EINVAL, "'{{ map_index }}' is for the "
			            "params of a mapped task (one with 'expand')");
		if (rc == 0 && t.kind == V_INPUT)
			rc = dl_check_input(d, ti, t.name, &msg);
		if (rc == 0 && (t.kind == V_RESULT || t.kind == V_FIELD) &&
		    !anc[ti * d->ntasks + (size_t)t.task])
			rc = err_set(&msg, -EINVAL, "task '%s' uses the result "
			            "of '%s', which is not upstream of it",
			            d->tasks[ti].id, d->tasks[t.task].id);
		free(t.expr);
		if (rc < 0) {
			rc = dl_err(x, n, "%s", msg);
			free(msg);
			return rc;
		}
		pos = t.end;
	}
	if (r < 0)
		return dl_err(x, n, "unterminated '{{' (at character %zu of "
		              "the string)", t.start + 1);
	return 0;
}

/* Check the templates in the strings of params node N (for task TI). */
static int
dl_check_node(struct dl *x, yaml_node_t *n, size_t ti, const char *anc,
              int depth)
{
	int rc = 0;

	if (depth > DAG_JSON_DEPTH)  /* refused by dl_json() already */
		return 0;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		    !yamlfile_null(n))
			return dl_check_string(x, n, ti, anc);
		return 0;
	case YAML_SEQUENCE_NODE:
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     rc == 0 && it < n->data.sequence.items.top; it++)
			rc = dl_check_node(x, yamlfile_node(&x->yf, *it), ti,
			                   anc, depth + 1);
		return rc;
	case YAML_MAPPING_NODE:
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     rc == 0 && p < n->data.mapping.pairs.top; p++)
			rc = dl_check_node(x, yamlfile_node(&x->yf, p->value),
			                   ti, anc, depth + 1);
		return rc;
	default:
		return 0;
	}
}

/* Does params mapping N have top-level key K? */
static int
dl_has_key(struct dl *x, yaml_node_t *n, const char *k)
{
	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++)
		if (strcmp(yamlfile_str(yamlfile_node(&x->yf, p->key)),
		           k) == 0)
			return 1;
	return 0;
}

/* Task TI's expand list N: a list (its strings checked as params are),
 * or one template of a value (params.NAME, tasks.ID.result[.FIELD]). */
static int
dl_check_expand(struct dl *x, yaml_node_t *n, size_t ti, const char *anc)
{
	int rc;

	x->in_expand = 1;
	if (n->type != YAML_SCALAR_NODE) {
		rc = dl_check_node(x, n, ti, anc, 0);
		x->in_expand = 0;
		return rc;
	}
	const char *s = yamlfile_str(n);
	struct tpl t;
	char *msg = NULL;
	int r = tpl_next(s, 0, &t);
	int one = r > 0 && t.start == 0 && t.end == strlen(s) &&
	          tpl_classify(x->d, &t, &msg) == 0 &&
	          (t.kind == V_PARAM || t.kind == V_RESULT || t.kind == V_FIELD);
	if (r > 0)
		free(t.expr);
	free(msg);
	rc = dl_check_string(x, n, ti, anc);
	x->in_expand = 0;
	if (rc == 0 && !one)
		rc = dl_err(x, n, "expand: '%s' must be one template of a list, "
		            "\"{{ params.NAME }}\" or \"{{ tasks.ID.result[."
		            "FIELD] }}\", with nothing around it", s);
	return rc;
}

/* The templates a task will render: its own params, and those of
 * default.params that it does not override.  The latter are checked for
 * each task, since "upstream" differs from task to task. */
static int
dl_check_templates(struct dl *x, const char *anc)
{
	const struct dag *d = x->d;
	int rc = 0;

	for (size_t i = 0; i < d->ntasks && rc == 0; i++) {
		yaml_node_t *dp = x->def_params, *tp = x->tn[i].params;
		if (dp != NULL && dp->type == YAML_MAPPING_NODE) {
			yaml_node_pair_t *p = dp->data.mapping.pairs.start;
			for (; rc == 0 && p < dp->data.mapping.pairs.top; p++) {
				struct yamlfile *y = &x->yf;
				yaml_node_t *v = yamlfile_node(y, p->value);
				const char *k =
					yamlfile_str(yamlfile_node(y, p->key));
				if (!dl_has_key(x, tp, k))
					rc = dl_check_node(x, v, i, anc, 0);
			}
		}
		if (rc == 0 && tp != NULL)
			rc = dl_check_node(x, tp, i, anc, 0);
		if (rc == 0 && x->tn[i].command != NULL)
			rc = dl_check_node(x, x->tn[i].command, i, anc, 0);
		if (rc == 0 && x->tn[i].expand != NULL)
			rc = dl_check_expand(x, x->tn[i].expand, i, anc);
		if (rc == 0 && x->tn[i].sensor != NULL)
			rc = dl_check_node(x, x->tn[i].sensor, i, anc, 0);
	}
	return rc;
}

/* Each task's effective priority from the weights, as Airflow's
 * weight_rule: downstream (the default) runs first the tasks that more
 * work waits for, upstream finishes what was started.  Summed over the
 * distinct tasks above or below it (ANC as dl_ancestors() makes it), not
 * over paths, and held within a job's priority range. */
static void
dl_weights(struct dag *d, const char *anc)
{
	size_t n = d->ntasks;
	for (size_t i = 0; i < n; i++) {
		struct dag_task *t = &d->tasks[i];
		int64_t w = t->priority;
		for (size_t j = 0; j < n && t->weight_rule != WR_ABSOLUTE; j++)
			if (t->weight_rule == WR_DOWNSTREAM ? anc[j * n + i] :
			    anc[i * n + j])
				w += d->tasks[j].priority;
		if (w > DAG_PRIORITY_MAX)
			w = DAG_PRIORITY_MAX;
		if (w < -DAG_PRIORITY_MAX)
			w = -DAG_PRIORITY_MAX;
		t->effective_priority = (int)w;
	}
}

/* ---------------------------------------------------------------- the DAG */

#define D_OFF(f) offsetof(struct dag, f)

static const struct yamlfile_key dl_top_keys[] = {
	{ "id", YF_NAME, D_OFF(id), 0, 0, NULL },
	{ "description", YF_TEXT, D_OFF(description), 0, 0, NULL },
	{ "schedule", YF_OWN, 0, 0, 0, NULL },
	{ "start_date", YF_OWN, 0, 0, 0, NULL },
	{ "end_date", YF_OWN, 0, 0, 0, NULL },
	{ "catchup", YF_BOOL, D_OFF(catchup), 0, 1, NULL },
	{ "max_active_runs", YF_INT, D_OFF(max_active_runs), 1, 1000000, NULL },
	{ "params", YF_OWN, D_OFF(params), 0, 0, dl_set_params },
	{ "default", YF_OWN, 0, 0, 0, NULL },
	{ "tasks", YF_OWN, 0, 0, 0, NULL },
	{ "on_failure", YF_OWN, D_OFF(on[DAG_ON_FAILURE]), 0, 0,
	  dl_set_callbacks },
	{ "on_success", YF_OWN, D_OFF(on[DAG_ON_SUCCESS]), 0, 0,
	  dl_set_callbacks },
	{ "on_retry", YF_OWN, D_OFF(on[DAG_ON_RETRY]), 0, 0, dl_set_callbacks },
	{ "on_deadline", YF_OWN, D_OFF(on[DAG_ON_DEADLINE]), 0, 0,
	  dl_set_callbacks },
	{ "deadline", YF_OWN, D_OFF(deadline), 0, 0, dl_set_deadline },
};

enum { TOP_ID, TOP_DESC, TOP_SCHEDULE, TOP_START, TOP_END, TOP_CATCHUP,
       TOP_MAX_ACTIVE, TOP_PARAMS, TOP_DEFAULT, TOP_TASKS };

static int
dl_schedule(struct dl *x, yaml_node_t *v)
{
	struct dag *d = x->d;
	const char *s = NULL;
	char *msg = NULL;
	int col = 0, rc;

	if (v == NULL || yamlfile_null(v))
		return 0;
	if ((rc = yamlfile_scalar(&x->yf, "schedule", v, &s)) < 0)
		return rc;
	if (strcmp(s, "none") == 0)
		return 0;
	if ((rc = cron_parse(s, &d->cron, &col, &msg)) < 0) {
		/* Point into the expression: the text starts one column
		 * after an opening quote. */
		size_t c = v->start_mark.column + 1 +
		           (size_t)(col > 0 ? col : 0);
		if (v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			c++;
		rc = err_set(x->yf.err, -EINVAL, "%s:%zu:%zu: bad schedule "
		            "'%s': %s", x->yf.path, v->start_mark.line + 1, c,
		            s, msg ? msg : "invalid");
		free(msg);
		return rc;
	}
	if (d->cron.kind != CRON_NONE)
		d->schedule_text = xstrdup(s);
	return 0;
}

static int
dl_date(struct dl *x, const char *name, yaml_node_t *v, int64_t *t)
{
	const char *s = NULL;
	char *msg = NULL;
	int rc;

	if ((rc = yamlfile_scalar(&x->yf, name, v, &s)) < 0)
		return rc;
	if (cron_parse_date(s, t, &msg) < 0) {
		rc = dl_err(x, v, "'%s' is not a date (like 2024-01-31): %s",
		            name, msg ? msg : s);
		free(msg);
		return rc;
	}
	return 0;
}

static int
dl_top(struct dl *x, yaml_node_t *root)
{
	struct dag *d = x->d;
	yaml_node_t *f[ARRAY_SIZE(dl_top_keys)];
	int rc;

	if (root == NULL)
		return err_set(x->yf.err, -EINVAL, "%s:1:1: the file is empty "
		              "(a DAG needs 'id' and 'tasks')", x->yf.path);
	if (root->type != YAML_MAPPING_NODE)
		return dl_err(x, root, "the top level must be a mapping (id, "
		              "schedule, tasks, ...), not %s",
		              yamlfile_kind(root));
	rc = dl_map(x, root, "the DAG", dl_top_keys, ARRAY_SIZE(dl_top_keys),
	            NULL, f);
	if (rc < 0)
		return rc;
	if (f[TOP_ID] == NULL)
		return dl_err(x, root, "missing 'id'");
	if (f[TOP_TASKS] == NULL)
		return dl_err(x, root, "missing 'tasks'");
	if ((rc = yamlfile_set_found(&x->yf, dl_top_keys, ARRAY_SIZE(dl_top_keys), f,
	                   d)) < 0)
		return rc;
	if (d->params == NULL)
		d->params = json_object();
	if (d->max_active_runs == 0)
		d->max_active_runs = DAG_DEF_MAX_ACTIVE_RUNS;

	if ((rc = dl_schedule(x, f[TOP_SCHEDULE])) < 0)
		return rc;
	if (f[TOP_START] != NULL &&
	    (rc = dl_date(x, "start_date", f[TOP_START], &d->start_date)) < 0)
		return rc;
	if (f[TOP_END] != NULL &&
	    (rc = dl_date(x, "end_date", f[TOP_END], &d->end_date)) < 0)
		return rc;
	if (d->schedule_text != NULL && f[TOP_START] == NULL)
		return dl_err(x, f[TOP_SCHEDULE], "'start_date' is required "
		              "when 'schedule' is set");
	if (f[TOP_START] != NULL && f[TOP_END] != NULL &&
	    d->end_date < d->start_date)
		return dl_err(x, f[TOP_END], "'end_date' is before "
		              "'start_date'");

	if ((rc = dl_default(x, f[TOP_DEFAULT])) < 0)
		return rc;
	if ((rc = dl_tasks(x, f[TOP_TASKS])) < 0)
		return rc;
	if ((rc = dl_resolve(x)) < 0 || (rc = dl_cycles(x)) < 0)
		return rc;
	dl_order(d);
	char *anc = dl_ancestors(d);
	dl_weights(d, anc);
	rc = dl_check_templates(x, anc);
	free(anc);
	return rc;
}

/* ---------------------------------------------------------------- loading */

/* The whole of PATH into *buf (NUL-terminated), *len bytes. */
static int
dl_read(const char *path, char **buf, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *b;

	if (f == NULL)
		return err_set(err, -errno, "%s: cannot open: %s", path,
		              strerror(errno));
	b = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > DAG_FILE_MAX) {
				fclose(f);
				free(b);
				return err_set(err, -EFBIG, "%s: larger than "
				              "%d bytes, not a DAG file", path,
				              DAG_FILE_MAX);
			}
			cap *= 2;
			b = xrealloc(b, cap);
		}
		size_t r = fread(b + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;
		fclose(f);
		free(b);
		return err_set(err, -e, "%s: cannot read: %s", path,
		              strerror(e));
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static char *
dl_digest(const char *buf, size_t len)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256(h, (const unsigned char *)buf, len);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	return xstrdup(hex);
}

int
dag_read_file(const char *path, char **buf, size_t *len, char **err)
{
	return dl_read(path, buf, len, err);
}

int
dag_load(const char *path, int (*plugin_known)(const char *name, void *ud),
         void *ud, struct dag **out, char **err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if ((rc = dl_read(path, &buf, &len, err)) < 0)
		return rc;
	rc = dag_load_text(path, buf, len, plugin_known, ud, out, err);
	free(buf);
	return rc;
}

int
dag_load_text(const char *path, const char *buf, size_t len,
              int (*plugin_known)(const char *name, void *ud), void *ud,
              struct dag **out, char **err)
{
	struct dl x = { .yf = { .path = path, .err = err,
	                        .name_max = DAG_ID_MAX, .int_plus = 1,
	                        .like = "500ms, 30s, 5m, 1h" },
	                .plugin_known = plugin_known, .ud = ud };
	int rc;

	*out = NULL;

	struct dag *d = xcalloc(1, sizeof *d);
	d->file = xstrdup(path);
	/* Absolute, so that a task's file next to its DAG is found whatever
	 * the worker's working directory (on the same machine). */
	char *real = realpath(path, NULL);
	char *copy = xstrdup(real ? real : path);
	d->dir = xstrdup(dirname(copy));
	free(copy);
	free(real);
	d->digest = dl_digest(buf, len);
	x.d = d;
	x.yf.ud = &x;
	rc = yamlfile_load_string(&x.yf, buf, len);
	if (rc == 0)
		rc = dl_top(&x, yamlfile_root(&x.yf));
	yamlfile_close(&x.yf);
	dl_task_clear(&x.def);
	if (x.tn != NULL)
		for (size_t i = 0; i < d->ntasks; i++)
			free(x.tn[i].deps);
	free(x.tn);
	if (rc < 0) {
		dag_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void
dag_free(struct dag *d)
{
	if (d == NULL)
		return;
	free(d->id);
	free(d->description);
	free(d->file);
	free(d->dir);
	free(d->schedule_text);
	json_decref(d->params);
	for (size_t i = 0; i < d->ntasks; i++)
		dl_task_clear(&d->tasks[i]);
	free(d->tasks);
	free(d->order);
	free(d->digest);
	dl_callbacks_clear(d->on);
	free(d);
}

/* ---------------------------------------------------------------- retries */

/* Like Airflow: the first retry waits retry_delay, each later one twice the
 * one before if exponential, and none longer than max_retry_delay. */
int64_t
dag_retry_delay_ms(const struct dag_task *t, int try_number)
{
	if (try_number <= 1)
		return 0;
	int64_t d = t->retry_delay_ms, cap = t->max_retry_delay_ms;
	if (cap <= 0)
		cap = INT64_MAX;
	if (t->retry_exponential) {
		for (int i = 2; i < try_number && d < cap; i++)
			d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	}
	return d < cap ? d : cap;
}

/* ---------------------------------------------------------------- render */

struct sb {
	char *p;
	size_t len, cap;
};

static void
sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* JSON value V as text: a string as is, anything else as compact JSON. */
static void
sb_json(struct sb *b, const json_t *v)
{
	if (json_is_string(v)) {
		sb_add(b, json_string_value(v), json_string_length(v));
		return;
	}
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	sb_str(b, s ? s : "null");
	free(s);
}

/* The JSON value a params/tasks tag stands for (borrowed), or NULL and
 * *err. */
static const json_t *
tpl_value(const struct dag_ctx *c, const struct tpl *t, char **err)
{
	const json_t *v;

	if (t->kind == V_PARAM) {
		v = c->params ? json_object_get(c->params, t->name) : NULL;
		if (v == NULL)
			v = json_object_get(c->dag->params, t->name);
		if (v == NULL)
			err_set(err, -EINVAL, "no parameter '%s'", t->name);
		return v;
	}
	const char *id = c->dag->tasks[t->task].id;
	v = c->upstream_result ? c->upstream_result(id, c->ud) : NULL;
	if (v == NULL) {
		err_set(err, -ENOENT, "task '%s' has no result", id);
		return NULL;
	}
	if (t->kind == V_RESULT)
		return v;
	const json_t *f = json_is_object(v) ? json_object_get(v, t->field)
	                                    : NULL;
	if (f == NULL)
		err_set(err, -ENOENT, "the result of task '%s' has no field "
		       "'%s'", id, t->field);
	return f;
}

/* Append the text of tag T to B. */
static int
tpl_text(const struct dag_ctx *c, const struct tpl *t, struct sb *b,
         char **err)
{
	char buf[64];

	switch (t->kind) {
	case V_DS:
		cron_format_date(c->logical_date, buf, sizeof buf);
		sb_str(b, buf);
		return 0;
	case V_DS_NODASH:
		cron_format_date(c->logical_date, buf, sizeof buf);
		for (const char *p = buf; *p != '\0'; p++)
			if (*p != '-')
				sb_add(b, p, 1);
		return 0;
	case V_LOGICAL_DATE:
		cron_format_iso(c->logical_date, buf, sizeof buf);
		sb_str(b, buf);
		return 0;
	case V_INTERVAL_START:
		cron_format_iso(c->interval_start, buf, sizeof buf);
		sb_str(b, buf);
		return 0;
	case V_INTERVAL_END:
		cron_format_iso(c->interval_end, buf, sizeof buf);
		sb_str(b, buf);
		return 0;
	case V_RUN_ID:
		sb_str(b, c->run_id ? c->run_id : "");
		return 0;
	case V_DAG_ID:
		sb_str(b, c->dag->id);
		return 0;
	case V_DAG_DIR:
		sb_str(b, c->dag->dir);
		return 0;
	case V_TASK_ID:
		sb_str(b, c->task->id);
		return 0;
	case V_SECRET: {
		char *v = NULL;
		int rc = c->secret ? c->secret(t->expr, c->ud, &v, err) :
		         err_set(err, -EINVAL, "'%s': no variables or "
		                "connections here", t->expr);
		if (rc < 0)
			return rc;
		sb_str(b, v);
		free(v);
		return 0;
	}
	case V_MAP_INDEX:
		snprintf(buf, sizeof buf, "%d", c->map_index);
		sb_str(b, buf);
		return 0;
	case V_INPUT:               /* exec runs in its work directory */
		sb_str(b, "inputs/");
		sb_str(b, t->name);
		return 0;
	case V_PARAM:
	case V_RESULT:
	case V_FIELD: {
		const json_t *v = tpl_value(c, t, err);
		if (v == NULL)
			return -EINVAL;
		sb_json(b, v);
		return 0;
	}
	}
	return err_set(err, -EINVAL, "bad template");
}

/* Render string S: a new JSON value, or NULL and *err. */
static json_t *
tpl_render(const struct dag_ctx *c, const char *s, char **err)
{
	struct sb b = { 0 };
	struct tpl t;
	size_t pos = 0, len = strlen(s);
	int r;

	while ((r = tpl_next(s, pos, &t)) > 0) {
		int rc = tpl_classify(c->dag, &t, err);
		if (rc == 0 && t.start == 0 && t.end == len &&
		    (t.kind == V_PARAM || t.kind == V_RESULT ||
		     t.kind == V_FIELD)) {
			/* The whole string is one value: keep its type. */
			const json_t *v = tpl_value(c, &t, err);
			free(t.expr);
			return v ? json_deep_copy(v) : NULL;
		}
		if (rc == 0) {
			sb_add(&b, s + pos, t.start - pos);
			rc = tpl_text(c, &t, &b, err);
		}
		free(t.expr);
		if (rc < 0) {
			free(b.p);
			return NULL;
		}
		pos = t.end;
	}
	if (r < 0) {
		free(b.p);
		err_set(err, -EINVAL, "unterminated '{{'");
		return NULL;
	}
	sb_str(&b, s + pos);
	json_t *out = json_string(b.p);
	free(b.p);
	if (out == NULL)
		err_set(err, -EINVAL, "rendered text is not valid UTF-8");
	return out;
}

static json_t *
dl_render(const struct dag_ctx *c, const json_t *v, char **err)
{
	if (json_is_string(v))
		return tpl_render(c, json_string_value(v), err);
	if (json_is_array(v)) {
		json_t *a = json_array();
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			json_t *r = dl_render(c, e, err);
			if (r == NULL) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, r);
		}
		return a;
	}
	if (json_is_object(v)) {
		json_t *o = json_object();
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e) {
			json_t *r = dl_render(c, e, err);
			if (r == NULL) {
				json_decref(o);
				return NULL;
			}
			json_object_set_new(o, k, r);
		}
		return o;
	}
	return json_deep_copy(v);
}

json_t *
dag_render_params(const struct dag_ctx *ctx, char **err)
{
	if (ctx == NULL || ctx->dag == NULL || ctx->task == NULL) {
		err_set(err, -EINVAL, "no DAG or task to render");
		return NULL;
	}
	char *msg = NULL;
	json_t *r = ctx->task->params ? dl_render(ctx, ctx->task->params, &msg)
	                              : json_object();
	if (r == NULL) {
		err_set(err, -EINVAL, "task '%s': %s", ctx->task->id,
		       msg ? msg : "cannot render params");
		free(msg);
	}
	return r;
}

/* ------------------------------------------------------------ run conf */

/* The name of V's JSON type, with its article. */
static const char *
dl_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* May V stand where the DAG's default is DEF?  The type is the
 * default's; an integer is a number too; a null default takes anything. */
static int
dl_type_fits(const json_t *def, const json_t *v)
{
	if (json_is_null(def))
		return 1;
	if (json_is_real(def))
		return json_is_number(v);
	if (json_is_boolean(def))
		return json_is_boolean(v);
	return json_typeof(def) == json_typeof(v);
}

int
dag_conf_check(const struct dag *d, const json_t *conf, char **err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(conf))
		return err_set(err, -EINVAL, "conf: must be an object");
	json_object_foreach((json_t *)conf, k, v) {
		const json_t *def = json_object_get(d->params, k);
		if (def == NULL)
			return err_set(err, -EINVAL, "conf.%s: DAG %s has no "
			              "param '%s'", k, d->id, k);
		if (!dl_type_fits(def, v))
			return err_set(err, -EINVAL, "conf.%s: must be %s (the "
			              "type of its default), not %s", k,
			              dl_type_name(def), dl_type_name(v));
	}
	return 0;
}

json_t *
dag_render_expand(const struct dag_ctx *ctx, char **err)
{
	if (ctx == NULL || ctx->dag == NULL || ctx->task == NULL ||
	    ctx->task->expand == NULL) {
		err_set(err, -EINVAL, "no mapped task to expand");
		return NULL;
	}
	char *msg = NULL;
	json_t *r = dl_render(ctx, ctx->task->expand, &msg);
	if (r == NULL) {
		err_set(err, -EINVAL, "task '%s': expand: %s", ctx->task->id,
		       msg ? msg : "cannot render");
		free(msg);
		return NULL;
	}
	if (!json_is_array(r)) {
		err_set(err, -EINVAL, "task '%s': expand: %s gives %s, not a "
		       "list", ctx->task->id, json_string_value(ctx->task->expand),
		       dl_type_name(r));
		json_decref(r);
		return NULL;
	}
	return r;
}
