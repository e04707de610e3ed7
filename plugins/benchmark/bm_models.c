/* SPDX-License-Identifier: MIT */
/*
 * bm_models.c - the benchmark's model table: names, parameters with their
 * defaults, ranges and meanings, their checks, grids, and the reference
 * generated from them (bm_models.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_models.h"
#include "ml/ml_forecast.h"
#include "ml/mlutil.h"

const char *const bm_kind_names[BM_NKINDS] = {
	"classification", "forecasting", "regression",
};

static const struct bm_mdef bm_models[] = {
	{ "logreg", { "logistic_regression" }, BM_CLASS, 0, "logreg", 1,
	  { { "C", 1.0, 1e-12, 1e12, 0, "inverse penalty strength (scikit-learn's C); smaller is stronger", NULL, 0, 0 },
	    { "max_iter", 1000, 1, 1e6, 1, "most L-BFGS (FISTA for l1, elasticnet) iterations", NULL, 0, 0 },
	    { "penalty", 0, 0, 0, 0, "penalty on the coefficients: l2 (by L-BFGS), l1 or elasticnet (by FISTA; l1 sets coefficients to exactly 0)", "l2|l1|elasticnet", 0, 1 },
	    { "l1_ratio", 0.5, 0, 1, 0, "elasticnet: the L1 share of the penalty, from 0 (L2) to 1 (L1); docs/analytics.md has the objective", NULL, 0, 1 },
	    { "class_weight", 0, 0, 0, 0, "weights on each class's log-loss: `balanced` (n / (K n_k), as scikit-learn) or {class: weight} (unlisted classes 1); none by default", NULL, 1, 1 } } },
	{ "naive_bayes", { "nb", "gaussian_nb" }, BM_CLASS, 0, "naive_bayes", 0,
	  { { "var_smoothing", 1e-9, 0, 1, 0, "fraction of the largest feature variance added to every variance", NULL, 0, 0 } } },
	{ "forest", { "random_forest", "rf" }, BM_CLASS, 0, "forest", 2,
	  { { "n_trees", 100, 1, 10000, 1, "number of trees", NULL, 0, 0 },
	    { "max_depth", 0, 0, 1000, 1, "deepest a tree grows (0: no limit)", NULL, 0, 0 },
	    { "max_features", 0, -1, 1e6, 1, "features tried per split (0: sqrt(d) for classification, d/3 for regression; -1: all)", NULL, 0, 0 },
	    { "min_samples_leaf", 1, 1, 1e6, 1, "fewest distinct rows in a leaf", NULL, 0, 0 },
	    { "class_weight", 0, 0, 0, 0, "weights on each class's rows in the splits and leaves: `balanced` (n / (K n_k) over the training rows, as scikit-learn) or {class: weight} (unlisted classes 1); none by default", NULL, 1, 1 } } },
	/* Regression: ridge and OLS are the linreg plugin's model (alpha 0
	 * is least squares), so predict reads their model.json. */
	{ "ridge", { "ridge_regression" }, BM_REG, 0, "linreg", 1,
	  { { "alpha", 1.0, 0, 1e12, 0, "L2 penalty on the coefficients (0 is least squares)", NULL, 0, 0 } } },
	{ "ols", { "linear_regression", "linreg" }, BM_REG, 0, "linreg", 0,
	  { { NULL, 0, 0, 0, 0, NULL, NULL, 0, 0 } } },
	{ "forest", { "random_forest", "rf", "forest_regression" }, BM_REG, 0, "forest", 2,
	  { { "n_trees", 100, 1, 10000, 1, "number of trees", NULL, 0, 0 },
	    { "max_depth", 0, 0, 1000, 1, "deepest a tree grows (0: no limit)", NULL, 0, 0 },
	    { "max_features", 0, -1, 1e6, 1, "features tried per split (0: sqrt(d) for classification, d/3 for regression; -1: all)", NULL, 0, 0 },
	    { "min_samples_leaf", 1, 1, 1e6, 1, "fewest distinct rows in a leaf", NULL, 0, 0 } } },
	{ "seasonal_naive", { "snaive" }, BM_FORECAST, ML_FC_SNAIVE, "forecast", 1,
	  { { "m", BM_SEASON, 1, ML_FC_MAX_SEASON, 1, "seasonal period (default: the benchmark's `season`)", NULL, 0, 0 } } },
	{ "naive", { NULL }, BM_FORECAST, ML_FC_SNAIVE, "forecast", 0, { { NULL, 0, 0, 0, 0, NULL, NULL, 0, 0 } } },
	{ "ses", { "exponential_smoothing" }, BM_FORECAST, ML_FC_SES, "forecast", 2, { { NULL, 0, 0, 0, 0, NULL, NULL, 0, 0 } } },
	{ "holt", { NULL }, BM_FORECAST, ML_FC_HOLT, "forecast", 3, { { "damped", 0, 0, 1, 1, "1: damped trend", NULL, 0, 0 } } },
	{ "holt_winters_add", { "hw_add" }, BM_FORECAST, ML_FC_HW_ADD, "forecast", 5,
	  { { "m", BM_SEASON, 2, ML_FC_MAX_SEASON, 1, "seasonal period (default: the benchmark's `season`)", NULL, 0, 0 },
	    { "damped", 0, 0, 1, 1, "1: damped trend", NULL, 0, 0 } } },
	{ "holt_winters_mul", { "hw_mul" }, BM_FORECAST, ML_FC_HW_MUL, "forecast", 5,
	  { { "m", BM_SEASON, 2, ML_FC_MAX_SEASON, 1, "seasonal period (default: the benchmark's `season`)", NULL, 0, 0 },
	    { "damped", 0, 0, 1, 1, "1: damped trend", NULL, 0, 0 } } },
	/* p -1: the order chosen by AIC among 0..max_p, as ar_select_order. */
	{ "ar", { "autoregressive" }, BM_FORECAST, ML_FC_AR, "forecast", 4,
	  { { "p", -1, -1, ML_FC_MAX_P, 1, "order (-1: chosen by AIC among 0..max_p)", NULL, 0, 0 },
	    { "max_p", 10, 0, ML_FC_MAX_P, 1, "largest order AIC chooses from", NULL, 0, 0 } } },
};
#define BM_NMODELS ((int)(sizeof bm_models / sizeof bm_models[0]))

/* NAME (or an alias) among the models of KIND. */
const struct bm_mdef *
bm_mdef_find(const char *name, int kind)
{
	for (int i = 0; i < BM_NMODELS; i++) {
		if (bm_models[i].kind != kind)
			continue;
		if (strcmp(bm_models[i].name, name) == 0)
			return &bm_models[i];
		for (int a = 0; a < 3 && bm_models[i].alias[a]; a++)
			if (strcmp(bm_models[i].alias[a], name) == 0)
				return &bm_models[i];
	}
	return NULL;
}

/* Names of the models of KIND, for messages (malloc()ed). */
static char *
bm_known(int kind)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	int first = 1;
	for (int i = 0; i < BM_NMODELS; i++)
		if (bm_models[i].kind == kind) {
			fprintf(f, "%s%s", first ? "" : ", ", bm_models[i].name);
			first = 0;
		}
	fclose(f);
	return s;
}



/* P's value V (NULL: absent) of a parameter that is not a number: a
 * name among P->choices, or class weights.  *OUT is a new reference. */
static int
bm_pvalue(const struct bm_mdef *d, const struct bm_pdef *p, const json_t *v,
          json_t **out, char **err)
{
	const char *s = json_string_value(v);
	if (p->choices != NULL) {
		size_t first = strcspn(p->choices, "|");
		if (v == NULL) {
			*out = json_stringn(p->choices, first);
			return 0;
		}
		for (const char *c = p->choices; s != NULL && *c; ) {
			size_t len = strcspn(c, "|");
			if (strlen(s) == len && strncmp(c, s, len) == 0) {
				*out = json_string(s);
				return 0;
			}
			c += len + (c[len] == '|');
		}
		return ml_seterr(err, -EINVAL, "model %s: parameter %s must be one "
		                 "of %s", d->name, p->key, p->choices);
	}
	if (v == NULL || (s != NULL && (strcmp(s, "none") == 0 ||
	                                strcmp(s, "balanced") == 0))) {
		*out = json_string(s ? s : "none");
		return 0;
	}
	const char *cls;
	json_t *w;
	if (json_is_object(v) && json_object_size(v) > 0) {
		json_object_foreach((json_t *)v, cls, w)
			if (!json_is_number(w) || !(json_number_value(w) > 0) ||
			    !isfinite(json_number_value(w)))
				return ml_seterr(err, -EINVAL, "model %s: %s: the weight "
				                 "of class '%s' must be a positive number",
				                 d->name, p->key, cls);
		*out = json_deep_copy(v);
		return 0;
	}
	return ml_seterr(err, -EINVAL, "model %s: %s must be \"balanced\", "
	                 "\"none\" or an object {class: weight}", d->name, p->key);
}

/* Check ENTRY (a name or {"model": name, params...}) and fill M. */
int
bm_model_parse(const json_t *entry, int kind, int season, struct bm_model *m,
               char **err)
{
	const char *name = json_string_value(json_is_object(entry) ?
	                                     json_object_get(entry, "model") : entry);
	if (name == NULL)
		return ml_seterr(err, -EINVAL, "models: each entry is a model name or "
		               "an object with a \"model\" name");
	const struct bm_mdef *d = bm_mdef_find(name, kind);
	if (d == NULL) {
		char *known = bm_known(kind);
		int rc = ml_seterr(err, -EINVAL, "unknown %s model '%s' (known: %s)",
		                 bm_kind_names[kind], name, known);
		free(known);
		return rc;
	}
	m->def = d;
	m->params = json_object();
	const char *key;
	json_t *v;
	if (json_is_object(entry))
		json_object_foreach((json_t *)entry, key, v) {
			if (strcmp(key, "model") == 0)
				continue;
			int k;
			for (k = 0; k < BM_MAX_PARAMS && d->params[k].key; k++)
				if (strcmp(d->params[k].key, key) == 0)
					break;
			if (k == BM_MAX_PARAMS || d->params[k].key == NULL) {
				char *s = NULL;
				size_t len = 0;
				FILE *f = open_memstream(&s, &len);
				for (k = 0; k < BM_MAX_PARAMS && d->params[k].key; k++)
					fprintf(f, "%s%s", k ? ", " : "", d->params[k].key);
				fclose(f);
				int rc = ml_seterr(err, -EINVAL, "model %s has no parameter "
				                   "'%s' (its parameters: %s%sgrid)",
				                   d->name, key, s, *s ? "; " : "");
				free(s);
				return rc;
			}
		}
	for (int k = 0; k < BM_MAX_PARAMS && d->params[k].key; k++) {
		const struct bm_pdef *p = &d->params[k];
		double x = p->def == BM_SEASON ? season : p->def;
		v = json_is_object(entry) ? json_object_get(entry, p->key) : NULL;
		if (p->choices != NULL || p->class_weight) {
			json_t *val = NULL;
			int rc = bm_pvalue(d, p, v, &val, err);
			if (rc != 0)
				return rc;
			json_object_set_new(m->params, p->key, val);
			continue;
		}
		if (json_is_boolean(v))
			x = json_is_true(v);
		else if (json_is_number(v))
			x = json_number_value(v);
		else if (v != NULL)
			return ml_seterr(err, -EINVAL, "model %s: parameter %s must be a "
			               "number", d->name, p->key);
		if (!(x >= p->lo && x <= p->hi) || (p->integer && x != floor(x)))
			return ml_seterr(err, -EINVAL, "model %s: parameter %s = %g must "
			               "be %s in [%g, %g]", d->name, p->key, x,
			               p->integer ? "an integer" : "a number", p->lo, p->hi);
		json_object_set_new(m->params, p->key, p->integer ?
		                    json_integer((json_int_t)x) : json_real(x));
	}
	return 0;
}

void
bm_models_free(struct bm_model *ms, int n)
{
	for (int i = 0; ms != NULL && i < n; i++) {
		free(ms[i].name);
		json_decref(ms[i].params);
	}
	free(ms);
}


/* ENTRY appended to OUT, or, when it has "grid": {"P": [v1, v2, ...],
 * ...}, one entry per combination of the grid's values (the first
 * parameter varying slowest) over the entry's other parameters, each
 * then checked like any entry. */
static int
bm_grid_expand(json_t *entry, json_t *out, char **err)
{
	json_t *grid = json_is_object(entry) ? json_object_get(entry, "grid") : NULL;
	if (grid == NULL)
		return json_array_append(out, entry) == 0 ? 0 :
		       ml_seterr(err, -ENOMEM, "out of memory");
	if (!json_is_object(grid) || json_object_size(grid) == 0)
		return ml_seterr(err, -EINVAL, "grid: an object of parameter "
		                 "lists, e.g. {\"C\": [0.01, 0.1, 1]}");
	size_t total = 1, nk = json_object_size(grid), i = 0;
	const char *key;
	json_t *v;
	json_object_foreach(grid, key, v) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			return ml_seterr(err, -EINVAL, "grid: %s must be a non-empty "
			                 "list of values", key);
		if (json_object_get(entry, key) != NULL)
			return ml_seterr(err, -EINVAL, "grid: %s is also set outside "
			                 "the grid", key);
		total *= json_array_size(v);
		if (total + json_array_size(out) > BM_MAX_MODELS)
			return ml_seterr(err, -EINVAL, "grid: more than %d models "
			                 "to compare", BM_MAX_MODELS);
	}
	const char **keys = calloc(nk + 1, sizeof *keys);
	json_t **vals = calloc(nk + 1, sizeof *vals);
	json_object_foreach(grid, key, v) {
		keys[i] = key;
		vals[i++] = v;
	}
	for (size_t c = 0; c < total; c++) {
		json_t *e = json_deep_copy(entry);
		json_object_del(e, "grid");
		size_t rem = c;
		for (size_t k = nk; k-- > 0;) {
			size_t sz = json_array_size(vals[k]);
			json_object_set(e, keys[k], json_array_get(vals[k], rem % sz));
			rem /= sz;
		}
		json_array_append_new(out, e);
	}
	free(keys);
	free(vals);
	return 0;
}

/* Model D's parameter KEY, or NULL. */
static const struct bm_pdef *
bm_pdef_find(const struct bm_mdef *d, const char *key)
{
	for (int k = 0; k < BM_MAX_PARAMS && d->params[k].key; k++)
		if (strcmp(d->params[k].key, key) == 0)
			return &d->params[k];
	return NULL;
}

/* V is P's default. */
static int
bm_is_default(const struct bm_pdef *p, const json_t *v)
{
	if (p->choices != NULL)
		return strncmp(json_string_value(v) ?: "", p->choices,
		               strcspn(p->choices, "|")) == 0 &&
		       strlen(json_string_value(v) ?: "") == strcspn(p->choices, "|");
	if (p->class_weight)
		return json_is_string(v) && strcmp(json_string_value(v), "none") == 0;
	return json_number_value(v) == p->def;
}

/* The `models` parameter (JSON array or comma list; NULL: the defaults). */
int
bm_models_parse(const char *text, int kind, int season, struct bm_model **out,
                int *nout, char **err)
{
	json_t *list = NULL;
	if (text == NULL || *text == '\0')
		list = kind == BM_CLASS ?
		       json_pack("[sss]", "logreg", "naive_bayes", "forest") :
		       kind == BM_REG ? json_pack("[sss]", "ridge", "ols", "forest") :
		       json_pack("[sss]", "seasonal_naive", "holt_winters_add", "ar");
	else if (text[strspn(text, " \t\n")] == '[') {
		list = json_loads(text, 0, NULL);
		if (!json_is_array(list)) {
			json_decref(list);
			return ml_seterr(err, -EINVAL, "models: not a JSON array");
		}
	} else {
		list = json_array();
		char *copy = strdup(text), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			tok += strspn(tok, " \t\"");
			size_t len = strlen(tok);
			while (len > 0 && strchr(" \t\"", tok[len - 1]))
				tok[--len] = '\0';
			if (len > 0)
				json_array_append_new(list, json_string(tok));
		}
		free(copy);
	}
	json_t *all = json_array();
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(list); i++)
		rc = bm_grid_expand(json_array_get(list, i), all, err);
	json_decref(list);
	list = all;
	int n = (int)json_array_size(list);
	if (rc == 0 && n > BM_MAX_MODELS)
		rc = ml_seterr(err, -EINVAL, "models: %d models, more than %d", n,
		               BM_MAX_MODELS);
	if (rc == 0 && n == 0)
		rc = ml_seterr(err, -EINVAL, "models: no model to compare");
	if (rc != 0) {
		json_decref(list);
		return rc;
	}
	struct bm_model *ms = calloc((size_t)n, sizeof *ms);
	for (int i = 0; i < n && rc == 0; i++)
		rc = bm_model_parse(json_array_get(list, (size_t)i), kind, season,
		                    &ms[i], err);
	json_decref(list);
	/* Names: the model's own unless it appears twice (a parameter grid),
	 * then with its parameters, so that every row says what it is. */
	for (int i = 0; i < n && rc == 0; i++) {
		int dup = 0;
		for (int j = 0; j < n; j++)
			dup += j != i && ms[j].def == ms[i].def;
		if (!dup) {
			ms[i].name = strdup(ms[i].def->name);
			continue;
		}
		char *s = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&s, &len);
		fprintf(f, "%s(", ms[i].def->name);
		const char *key;
		json_t *v;
		int first = 1;
		json_object_foreach(ms[i].params, key, v) {
			const struct bm_pdef *p = bm_pdef_find(ms[i].def, key);
			if (p != NULL && p->quiet && bm_is_default(p, v))
				continue;
			fprintf(f, "%s%s=", first ? "" : ",", key);
			if (json_is_number(v))
				fprintf(f, "%g", json_number_value(v));
			else if (json_is_string(v))
				fputs(json_string_value(v), f);
			else
				json_dumpf(v, f, JSON_COMPACT | JSON_SORT_KEYS);
			first = 0;
		}
		fputc(')', f);
		fclose(f);
		ms[i].name = s;
		for (int j = 0; j < i; j++)
			if (strcmp(ms[j].name, s) == 0)
				rc = ml_seterr(err, -EINVAL, "models: %s is listed twice", s);
	}
	if (rc != 0) {
		bm_models_free(ms, n);
		return rc;
	}
	*out = ms;
	*nout = n;
	return 0;
}

double
bm_pnum(const json_t *params, const char *key)
{
	return json_number_value(json_object_get(params, key));
}

/* A parameter's default as the reference shows it. */
static void
bm_md_default(FILE *f, const struct bm_pdef *p)
{
	if (p->def == BM_SEASON)
		fputs("`season`", f);
	else
		fprintf(f, "%g", p->def);
}

void
bm_params_markdown(FILE *f)
{
	static const int order[] = { BM_CLASS, BM_REG, BM_FORECAST };
	fputs("<!-- Generated from plugins/benchmark/bm_models.c by "
	      "tests/unit/ml-params-test (KILN_REGEN=1); do not edit. -->\n"
	      "# Model parameters of the `benchmark` plugin\n\n"
	      "Each entry of `models` is a name or an object `{model: NAME, "
	      "PARAM: VALUE, ..., grid: {PARAM: [VALUES]}}`; a grid compares "
	      "every combination of its values (each a model on the "
	      "leaderboard, named by its parameters). A parameter that is not "
	      "listed is refused with the valid ones; a value out of range is "
	      "refused with the range.\n", f);
	for (int o = 0; o < 3; o++) {
		fprintf(f, "\n## %s\n\n| model (aliases) | parameter | type | "
		        "default | range | meaning |\n|---|---|---|---|---|---|\n",
		        bm_kind_names[order[o]]);
		for (size_t i = 0; i < sizeof bm_models / sizeof bm_models[0]; i++) {
			const struct bm_mdef *d = &bm_models[i];
			if (d->kind != order[o])
				continue;
			char names[128];
			int len = snprintf(names, sizeof names, "`%s`", d->name);
			for (int a = 0; a < 3 && d->alias[a]; a++)
				len += snprintf(names + len, sizeof names - (size_t)len,
				                "%s`%s`", a ? ", " : " (", d->alias[a]);
			if (d->alias[0])
				snprintf(names + len, sizeof names - (size_t)len, ")");
			if (d->params[0].key == NULL)
				fprintf(f, "| %s | - | | | | no parameters |\n", names);
			for (int k = 0; k < BM_MAX_PARAMS && d->params[k].key; k++) {
				const struct bm_pdef *p = &d->params[k];
				if (p->choices != NULL) {
					fprintf(f, "| %s | `%s` | name | `%.*s` | ", k ? "" :
					        names, p->key, (int)strcspn(p->choices, "|"),
					        p->choices);
					for (const char *c = p->choices; *c; ) {
						size_t cl = strcspn(c, "|");
						fprintf(f, "%s`%.*s`", c == p->choices ? "" : ", ",
						        (int)cl, c);
						c += cl + (c[cl] == '|');
					}
					fprintf(f, " | %s |\n", p->doc);
					continue;
				}
				if (p->class_weight) {
					fprintf(f, "| %s | `%s` | `balanced` or {class: weight} "
					        "| none | weights > 0 | %s |\n", k ? "" : names,
					        p->key, p->doc);
					continue;
				}
				fprintf(f, "| %s | `%s` | %s | ", k ? "" : names, p->key,
				        p->integer ? (p->lo == 0 && p->hi == 1 ?
				        "0 or 1" : "integer") : "number");
				bm_md_default(f, p);
				fprintf(f, " | [%g, %g] | %s |\n", p->lo, p->hi, p->doc);
			}
		}
	}
}
