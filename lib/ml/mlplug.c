/* SPDX-License-Identifier: MIT */
/*
 * mlplug.c - the bridge between kiln's plugin SDK and the analytics
 * library: datasets from a task's inputs, partitions in place, stages
 * over partitions (see mlplug.h).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlplug.h"
#include "ml_impute.h"

int
mlp_fail(kiln_task *t, const struct kiln_host *h, int rc, char *err)
{
	/* Asked whether the task was cancelled, not by the code: library
	 * codes are errno values, and -EIO is KILN_ECANCELLED's number. */
	if (h->cancelled(t)) {
		free(err);
		return KILN_ECANCELLED;
	}
	h->set_error(t, "%s", err ? err : "failed");
	free(err);
	return rc == -EINVAL || rc == -EDOM || rc == KILN_EINVAL ?
	       KILN_EINVAL : KILN_EFAIL;
}

int
mlp_done(kiln_task *t, const struct kiln_host *h, int rc, json_t *out,
         char *err)
{
	if (rc != 0) {
		json_decref(out);
		return mlp_fail(t, h, rc, err);
	}
	free(err);
	return mlp_result(t, h, out, NULL);
}

int
mlp_model_done(kiln_task *t, const struct kiln_host *h, json_t *file,
               json_t *result)
{
	int rc = mlp_output_json(t, h, "model.json", file);
	json_decref(file);
	if (rc != 0) {
		json_decref(result);
		h->set_error(t, "cannot store model.json");
		return rc;
	}
	return mlp_result(t, h, result, NULL);
}

int
mlp_map_open(kiln_task *t, const struct kiln_host *h, struct mlp_dataset *ds,
             struct mlp_part *p)
{
	char *err = NULL;
	int rc = mlp_map_dataset(t, h, ds, &err);
	if (rc == 0)
		rc = mlp_part_open(t, h, 0, ds, p, &err);
	if (rc != 0) {
		mlp_dataset_free(ds);
		return mlp_fail(t, h, rc, err);
	}
	return 0;
}

static int
mlp_name_cmp(const void *a, const void *b, void *names)
{
	const char *const *nm = names;
	return strcmp(nm[*(const int *)a], nm[*(const int *)b]);
}

int
mlp_json_range(const json_t *v, int64_t lo, int64_t hi, int64_t *out,
               char **err, const char *what, ...)
{
	char name[96];
	va_list ap;
	va_start(ap, what);
	vsnprintf(name, sizeof name, what, ap);
	va_end(ap);
	if (!json_is_integer(v))
		return ml_seterr(err, -EINVAL, "%s: %s, where an integer from "
		                 "%lld to %lld was expected", name, v == NULL ?
		                 "missing" : "not an integer", (long long)lo,
		                 (long long)hi);
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return ml_seterr(err, -EINVAL, "%s = %lld is out of range %lld..%lld",
		                 name, (long long)x, (long long)lo, (long long)hi);
	*out = x;
	return 0;
}

int
mlp_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *
mlp_input_name(kiln_task *t, const struct kiln_host *h, int i)
{
	if (KILN_HOST_HAS(h, input_name))
		return h->input_name(t, i);
	const char *name = NULL;
	h->input_path(t, i, &name);
	return name;
}

/* The next entry of a comma-separated list at *P (blanks around it
 * trimmed), its length in *LEN; NULL at the end.  Advances *P. */
static const char *
list_next(const char **p, size_t *len)
{
	const char *s = *p;
	if (s == NULL || *s == '\0')
		return NULL;
	while (*s == ' ')
		s++;
	const char *e = strchr(s, ',');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	*len = n;
	*p = e ? e + 1 : NULL;
	return s;
}

/* Is NAME in the comma-separated LIST? */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name), len;
	for (const char *e; (e = list_next(&list, &len)) != NULL;)
		if (len == n && strncmp(e, name, n) == 0)
			return 1;
	return 0;
}

/* Append feature NAME (a column), or COLUMN=LEVEL one-hot if LEVEL. */
static void
ds_add_feature(struct mlp_dataset *ds, const char *name, const char *level)
{
	ds->features = realloc(ds->features, (ds->d + 2) * sizeof *ds->features);
	ds->levels = realloc(ds->levels, (ds->d + 2) * sizeof *ds->levels);
	ds->units = realloc(ds->units, (ds->d + 2) * sizeof *ds->units);
	ds->units[ds->d] = ds->units[ds->d + 1] = NULL;
	if (level == NULL) {
		ds->features[ds->d] = strdup(name);
		ds->levels[ds->d] = NULL;
	} else {
		size_t n = strlen(name), m = strlen(level);
		char *f = malloc(n + m + 2);
		memcpy(f, name, n);
		f[n] = '=';
		memcpy(f + n + 1, level, m + 1);
		ds->features[ds->d] = f;
		ds->levels[ds->d] = strdup(level);
	}
	ds->d++;
	ds->features[ds->d] = NULL;
	ds->levels[ds->d] = NULL;
}

static int
ds_has_feature(const struct mlp_dataset *ds, const char *name)
{
	for (size_t j = 0; j < ds->d; j++)
		if (strcmp(ds->features[j], name) == 0)
			return 1;
	return 0;
}

/* The one-hot features of categorical column NAME with LEVELS (a JSON
 * array): every level if the column is selected whole, and the entries
 * "NAME=LEVEL" of FEATURES (levels these data may lack). */
static void
ds_add_onehot(struct mlp_dataset *ds, const char *name, json_t *levels,
              int whole, const char *features)
{
	size_t k;
	json_t *l;
	if (whole)
		json_array_foreach(levels, k, l)
			ds_add_feature(ds, name, json_string_value(l) ?: "");
	size_t n = strlen(name), len;
	for (const char *e; (e = list_next(&features, &len)) != NULL;) {
		if (len > n && strncmp(e, name, n) == 0 && e[n] == '=') {
			char *f = strndup(e, len);
			if (!ds_has_feature(ds, f))
				ds_add_feature(ds, name, f + n + 1);
			free(f);
		}
	}
}

/* Set METHOD for the features of column NAME (LEN bytes; "*": those not
 * set yet).  0, or -1 if no feature is that column. */
static int
impute_set(const struct mlp_dataset *ds, struct ml_impute_spec *specs,
           const char *name, size_t len, const struct ml_impute_spec *m,
           unsigned char *set)
{
	int any = len == 1 && name[0] == '*', found = any;
	for (size_t j = 0; j < ds->d; j++) {
		const char *f = ds->features[j];
		size_t fl = strlen(f);
		if (ds->levels != NULL && ds->levels[j] != NULL)
			fl -= strlen(ds->levels[j]) + 1;        /* COL=LEVEL */
		if (any ? set[j] : fl != len || strncmp(f, name, len) != 0)
			continue;
		specs[j] = *m;
		set[j] = !any;
		found = 1;
	}
	return found ? 0 : -1;
}

/* One entry NAME=METHOD (or METHOD alone: every feature). */
static int
impute_entry(const struct mlp_dataset *ds, struct ml_impute_spec *specs,
             const char *name, size_t nlen, const char *method,
             unsigned char *set, char **err)
{
	struct ml_impute_spec m;
	int rc = ml_impute_parse(method, &m, err);
	if (rc != 0)
		return rc;
	if (name == NULL) {
		name = "*";
		nlen = 1;
	}
	if (impute_set(ds, specs, name, nlen, &m, set) != 0)
		return ml_seterr(err, -EINVAL, "impute names '%.*s', which is "
		                 "not a feature column", (int)nlen, name);
	return 0;
}

int
mlp_impute_specs(const char *text, const struct mlp_dataset *ds,
                 struct ml_impute_spec *specs, char **err)
{
	memset(specs, 0, ds->d * sizeof *specs);
	if (text == NULL || *text == '\0')
		return 0;
	unsigned char *set = calloc(ds->d + 1, 1);
	int rc = 0;
	if (*text == '{') {
		json_t *o = json_loads(text, 0, NULL), *v;
		const char *k;
		if (!json_is_object(o))
			rc = ml_seterr(err, -EINVAL, "impute: not a JSON object");
		/* the named columns first, then "*" for the rest */
		for (int pass = 0; pass < 2 && rc == 0; pass++)
			json_object_foreach(o, k, v) {
				if (rc != 0 || (strcmp(k, "*") == 0) != pass)
					continue;
				if (!json_is_string(v))
					rc = ml_seterr(err, -EINVAL, "impute: '%s' "
					               "needs a method name", k);
				else
					rc = impute_entry(ds, specs, k, strlen(k),
					                  json_string_value(v), set, err);
			}
		json_decref(o);
		free(set);
		return rc;
	}
	char *list = strdup(text), *save = NULL, *star = NULL;
	for (char *e = strtok_r(list, ",", &save); e != NULL && rc == 0;
	     e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ')
			e++;
		size_t len = strlen(e);
		while (len > 0 && e[len - 1] == ' ')
			e[--len] = '\0';
		char *eq = strrchr(e, '=');
		if (eq != NULL && eq == e + 1 && *e == '*')
			star = eq + 1;  /* after the named ones */
		else if (eq != NULL)
			rc = impute_entry(ds, specs, e, (size_t)(eq - e), eq + 1, set,
			                  err);
		else if (len > 0)
			rc = impute_entry(ds, specs, NULL, 0, e, set, err);
	}
	if (rc == 0 && star != NULL)
		rc = impute_entry(ds, specs, NULL, 0, star, set, err);
	free(list);
	free(set);
	return rc;
}

const char *
mlp_time_unit(const struct mlp_dataset *ds, size_t j)
{
	return ds->units != NULL && j < ds->d ? ds->units[j] : NULL;
}

size_t
mlp_part_first_row(const struct mlp_dataset *ds, int part)
{
	size_t np = (size_t)(ds->parts_total > 0 ? ds->parts_total : ds->nparts);
	if (np == 0 || part < 0)
		return 0;
	size_t per = ds->rows / np, extra = ds->rows % np, p = (size_t)part;
	return p * per + (p < extra ? p : extra);
}

const char *
mlp_row_where(const struct mlp_dataset *ds, size_t row, char *buf, size_t len)
{
	/* The last anchor [R, L] with R <= row: row is on L + row - R. */
	size_t i, line = 0;
	json_t *a;
	json_array_foreach(ds->lines, i, a) {
		json_int_t r = json_integer_value(json_array_get(a, 0));
		json_int_t l = json_integer_value(json_array_get(a, 1));
		if (r < 0 || (size_t)r > row)
			break;
		if (l > 0)
			line = (size_t)l + row - (size_t)r;
	}
	if (ds->source != NULL && line > 0)
		snprintf(buf, len, "%s:%zu", ds->source, line);
	else
		snprintf(buf, len, "row %zu (from 0)", row);
	return buf;
}

int
mlp_numeric_only(const struct mlp_dataset *ds, char **err)
{
	for (size_t j = 0; ds->levels != NULL && j < ds->d; j++)
		if (ds->levels[j] != NULL) {
			size_t n = strlen(ds->features[j]) - strlen(ds->levels[j]) - 1;
			return ml_seterr(err, -EINVAL, "column '%.*s' is categorical: "
			                 "a series or a time must be numeric (leave it "
			                 "out with `exclude`, or name the columns)",
			                 (int)n, ds->features[j]);
		}
	return 0;
}

void
mlp_dataset_free(struct mlp_dataset *ds)
{
	for (size_t j = 0; j < ds->d; j++) {
		free(ds->features[j]);
		if (ds->levels != NULL)
			free(ds->levels[j]);
		if (ds->units != NULL)
			free(ds->units[j]);
	}
	free(ds->levels);
	free(ds->units);
	free(ds->fill);
	free(ds->fill_method);
	free(ds->source);
	json_decref(ds->lines);
	for (int k = 0; k < ds->nclasses; k++)
		free(ds->classes[k]);
	free(ds->features);
	free(ds->classes);
	free(ds->label);
	free(ds->part_input);
	memset(ds, 0, sizeof *ds);
}

/* Fill DS's features and label from a schema object. */
static int
dataset_from_schema(json_t *schema, const char *label, int need_label,
                    const char *features, const char *exclude,
                    struct mlp_dataset *ds, char **err)
{
	json_t *cols = json_object_get(schema, "columns");
	if (!json_is_array(cols))
		return ml_seterr(err, -EINVAL, "schema.json has no columns");
	if (label == NULL || *label == '\0')
		label = json_string_value(json_object_get(schema, "label"));
	if (need_label && label == NULL)
		return ml_seterr(err, -EINVAL, "no label column: set the `label` "
		               "parameter (here or in the ingest task)");
	int64_t rows;
	int rc = mlp_json_range(json_object_get(schema, "rows"), 0, MLP_ROWS_MAX,
	                        &rows, err, "schema.json: rows");
	if (rc != 0)
		return rc;
	ds->rows = (size_t)rows;
	int found_label = label == NULL;
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *type = json_string_value(json_object_get(c, "type"));
		if (name == NULL || type == NULL)
			return ml_seterr(err, -EINVAL, "schema.json: column %zu has no name or type", i);
		int categorical = strcmp(type, "categorical") == 0;
		int is_time = strcmp(type, "time") == 0;
		if (label != NULL && strcmp(name, label) == 0) {
			found_label = 1;
			ds->label = strdup(name);
			ds->label_categorical = categorical;
			if (need_label == 2 && !categorical)
				return ml_seterr(err, -EINVAL, "label column '%s' is numeric; "
				               "classification needs classes: set `task: "
				               "classification` (and `label: %s`) in the "
				               "ingest task to read its values as classes",
				               name, name);
			if (need_label == 3 && categorical)
				return ml_seterr(err, -EINVAL, "label column '%s' is categorical; "
				               "regression needs a numeric label", name);
			json_t *lv = json_object_get(c, "levels");
			ds->nclasses = categorical ? (int)json_array_size(lv) : 0;
			ds->classes = calloc((size_t)ds->nclasses + 1, sizeof *ds->classes);
			for (int k = 0; k < ds->nclasses; k++)
				ds->classes[k] = strdup(json_string_value(
					json_array_get(lv, (size_t)k)) ?: "");
			if (json_integer_value(json_object_get(c, "missing")) > 0)
				return ml_seterr(err, -EINVAL, "label column '%s' has %lld "
				               "missing values", name, (long long)
				               json_integer_value(json_object_get(c, "missing")));
			continue;
		}
		int listed = features != NULL && *features != '\0';
		if (is_time && !(listed && in_list(features, name)))
			continue;       /* a time is a feature only when named */
		if (listed ? !in_list(features, name) :
		    (exclude != NULL && in_list(exclude, name))) {
			if (categorical && listed)
				ds_add_onehot(ds, name, NULL, 0, features);
			continue;
		}
		if (categorical)
			ds_add_onehot(ds, name, json_object_get(c, "levels"), 1,
			              listed ? features : NULL);
		else
			ds_add_feature(ds, name, NULL);
		if (is_time)
			ds->units[ds->d - 1] = strdup(json_string_value(
				json_object_get(c, "unit")) ?: "datetime");
	}
	const char *src = json_string_value(json_object_get(schema, "source"));
	ds->source = src ? strdup(src) : NULL;
	if (json_is_array(json_object_get(schema, "lines")))
		ds->lines = json_incref(json_object_get(schema, "lines"));
	if (!found_label)
		return ml_seterr(err, -EINVAL, "no column '%s' (the label) in the dataset", label);
	if (ds->d == 0)
		return ml_seterr(err, -EINVAL, "the dataset has no feature columns");
	return 0;
}

int
mlp_dataset_open(kiln_task *t, const struct kiln_host *h, const char *label,
                 int need_label, const char *features, const char *exclude,
                 struct mlp_dataset *ds, char **err)
{
	memset(ds, 0, sizeof *ds);
	int n = h->input_count(t);
	const char **names = calloc((size_t)n + 1, sizeof *names);
	ds->schema_input = -1;
	for (int i = 0; i < n; i++) {
		names[i] = mlp_input_name(t, h, i);
		if (ds->schema_input < 0 && names[i] && mlp_ends_with(names[i], "schema.json"))
			ds->schema_input = i;
	}
	if (ds->schema_input < 0) {
		free(names);
		return ml_seterr(err, -EINVAL, "no dataset among the task's inputs "
		               "(expected the outputs of an `ingest` task: "
		               "schema.json and part-*.kcol)");
	}
	/* Partitions of the same upstream task as the schema. */
	const char *sn = names[ds->schema_input];
	size_t plen = strlen(sn) - strlen("schema.json");
	ds->part_input = calloc((size_t)n + 1, sizeof *ds->part_input);
	for (int i = 0; i < n; i++)
		if (names[i] && strncmp(names[i], sn, plen) == 0 &&
		    mlp_ends_with(names[i], ".kcol"))
			ds->part_input[ds->nparts++] = i;
	qsort_r(ds->part_input, (size_t)ds->nparts, sizeof *ds->part_input,
	        mlp_name_cmp, names);
	free(names);

	size_t len;
	const void *data = h->input_data(t, ds->schema_input, &len);
	json_error_t je;
	json_t *schema = data ? json_loadb(data, len, 0, &je) : NULL;
	if (schema == NULL)
		return ml_seterr(err, -EINVAL, "cannot read the dataset's schema.json");
	int rc = dataset_from_schema(schema, label, need_label, features, exclude,
	                             ds, err);
	int want = (int)json_integer_value(json_object_get(schema, "partitions"));
	json_decref(schema);
	ds->parts_total = ds->nparts;
	if (rc == 0 && want != ds->nparts)
		rc = ml_seterr(err, -EINVAL, "the dataset has %d partitions; %d of "
		             "them are among the inputs", want, ds->nparts);
	if (rc == 0 && ds->rows == 0)
		rc = ml_seterr(err, -EINVAL, "the dataset has 0 rows");
	return rc;
}

int
mlp_impute_from_json(struct mlp_dataset *ds, const json_t *imp, char **err)
{
	if (imp == NULL || json_is_null(imp))
		return 0;
	if (!json_is_object(imp))
		return ml_seterr(err, -EINVAL, "impute: not an object of "
		                 "{\"feature\": {\"method\", \"value\"}}");
	free(ds->fill);
	free(ds->fill_method);
	ds->fill = malloc((ds->d + 1) * sizeof *ds->fill);
	ds->fill_method = calloc(ds->d + 1, sizeof *ds->fill_method);
	for (size_t j = 0; j < ds->d; j++) {
		ds->fill[j] = NAN;
		const json_t *e = json_object_get(imp, ds->features[j]);
		if (e == NULL)
			continue;
		const json_t *v = json_object_get(e, "value");
		struct ml_impute_spec sp;
		const char *m = json_string_value(json_object_get(e, "method"));
		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return ml_seterr(err, -EINVAL, "impute: the value of '%s' is "
			                 "not a finite number", ds->features[j]);
		char *e2 = NULL;
		ds->fill_method[j] = m && ml_impute_parse(m, &sp, &e2) == 0 ?
		                     sp.method : ML_IMP_CONSTANT;
		free(e2);
		ds->fill[j] = json_number_value(v);
	}
	return 0;
}

json_t *
mlp_impute_json(const struct mlp_dataset *ds)
{
	json_t *o = NULL;
	for (size_t j = 0; ds->fill != NULL && j < ds->d; j++) {
		if (isnan(ds->fill[j]))
			continue;
		if (o == NULL)
			o = json_object();
		json_object_set_new(o, ds->features[j], json_pack("{s:s,s:f}",
		                    "method", ml_impute_name(ds->fill_method[j]),
		                    "value", ds->fill[j]));
	}
	return o;
}

int
mlp_impute_fit(kiln_task *t, const struct kiln_host *h,
               struct mlp_dataset *ds, const char *text, char **err)
{
	if (text == NULL || *text == '\0')
		return 0;
	struct ml_impute_spec *sp = calloc(ds->d + 1, sizeof *sp);
	double **col = calloc(ds->d + 1, sizeof *col);
	size_t n = 0;
	int rc = sp && col ? mlp_impute_specs(text, ds, sp, err) :
	         ml_seterr(err, -ENOMEM, "out of memory");
	for (size_t j = 0; rc == 0 && j < ds->d; j++) {
		if (ml_impute_is_series(sp[j].method))
			rc = ml_seterr(err, -EINVAL, "impute: %s is for series "
			               "(forecast); for features use mean, median, "
			               "most_frequent or constant",
			               ml_impute_name(sp[j].method));
		else if (sp[j].method != ML_IMP_NONE &&
		         (col[j] = malloc((ds->rows + 1) * sizeof **col)) == NULL)
			rc = ml_seterr(err, -ENOMEM, "out of memory");
	}
	/* One pass: each partition opened once, its named columns copied. */
	for (int q = 0; rc == 0 && q < ds->nparts; q++) {
		struct mlp_part p;
		rc = mlp_part_open(t, h, ds->part_input[q], ds, &p, err);
		if (rc == 0 && n + p.n > ds->rows)
			rc = ml_seterr(err, -EINVAL, "the partitions hold more rows "
			               "than the schema's %zu", ds->rows);
		for (size_t j = 0; rc == 0 && j < ds->d; j++)
			if (col[j] != NULL)
				memcpy(col[j] + n, p.X[j], p.n * sizeof **col);
		if (rc == 0) {
			n += p.n;
			mlp_part_close(&p);
		}
	}
	if (rc == 0) {
		ds->fill = malloc((ds->d + 1) * sizeof *ds->fill);
		ds->fill_method = calloc(ds->d + 1, sizeof *ds->fill_method);
	}
	for (size_t j = 0; rc == 0 && j < ds->d; j++) {
		ds->fill[j] = NAN;
		ds->fill_method[j] = sp[j].method;
		if (col[j] == NULL)
			continue;
		rc = ml_impute_fit(col[j], n, &sp[j], &ds->fill[j], err);
		if (rc != 0) {
			free(*err);
			*err = NULL;
			rc = ml_seterr(err, -EINVAL, "impute: column '%s' has no "
			               "value to fit %s on", ds->features[j],
			               ml_impute_name(sp[j].method));
		}
	}
	for (size_t j = 0; col != NULL && j < ds->d; j++)
		free(col[j]);
	free(col);
	free(sp);
	if (rc != 0) {
		free(ds->fill);
		free(ds->fill_method);
		ds->fill = NULL;
		ds->fill_method = NULL;
	}
	return rc;
}

json_t *
mlp_schema_load(kiln_task *t, const struct kiln_host *h, char **err)
{
	int n = h->input_count(t);
	for (int i = 0; i < n; i++) {
		const char *name = mlp_input_name(t, h, i);
		if (name == NULL || !mlp_ends_with(name, "schema.json"))
			continue;
		size_t len;
		const void *data = h->input_data(t, i, &len);
		json_error_t je;
		json_t *schema = data ? json_loadb(data, len, 0, &je) : NULL;
		if (!json_is_object(schema)) {
			json_decref(schema);
			ml_seterr(err, -EINVAL, "cannot read the dataset's schema.json");
			return NULL;
		}
		return schema;
	}
	ml_seterr(err, -EINVAL, "no dataset among the task's inputs (expected "
	          "the outputs of an `ingest` task: schema.json and part-*.kcol)");
	return NULL;
}

json_t *
mlp_dataset_json(const struct mlp_dataset *ds)
{
	json_t *f = json_array(), *c = json_array(), *oh = json_array();
	int any = 0;
	for (size_t j = 0; j < ds->d; j++) {
		json_array_append_new(f, json_string(ds->features[j]));
		json_array_append_new(oh, ds->levels && ds->levels[j] ?
		                      json_string(ds->levels[j]) : json_null());
		any |= ds->levels && ds->levels[j] != NULL;
	}
	for (int k = 0; k < ds->nclasses; k++)
		json_array_append_new(c, json_string(ds->classes[k]));
	/* "onehot": each feature's level, or null for a numeric column;
	 * absent when all are numeric. */
	return json_pack("{s:o,s:o*,s:s?,s:b,s:o,s:I,s:i,s:s?,s:O?,s:o*}", "features", f,
	                 "onehot", any ? oh : (json_decref(oh), NULL),
	                 "label", ds->label, "label_categorical",
	                 ds->label_categorical, "classes", c,
	                 "rows", (json_int_t)ds->rows, "partitions",
	                 ds->parts_total ? ds->parts_total : ds->nparts,
	                 "source", ds->source, "lines", ds->lines,
	                 "impute", mlp_impute_json(ds));
}

static int
dataset_from_json(const json_t *j, struct mlp_dataset *ds, char **err)
{
	memset(ds, 0, sizeof *ds);
	json_t *f = json_object_get(j, "features"), *c = json_object_get(j, "classes");
	if (!json_is_array(f))
		return ml_seterr(err, -EINVAL, "no dataset in the stage's broadcast");
	ds->d = json_array_size(f);
	ds->features = calloc(ds->d + 1, sizeof *ds->features);
	ds->levels = calloc(ds->d + 1, sizeof *ds->levels);
	json_t *oh = json_object_get(j, "onehot");
	for (size_t i = 0; i < ds->d; i++) {
		ds->features[i] = strdup(json_string_value(json_array_get(f, i)) ?: "");
		const char *lv = json_string_value(json_array_get(oh, i));
		ds->levels[i] = lv ? strdup(lv) : NULL;
	}
	const char *label = json_string_value(json_object_get(j, "label"));
	ds->label = label ? strdup(label) : NULL;
	ds->label_categorical = json_is_true(json_object_get(j, "label_categorical"));
	ds->nclasses = (int)json_array_size(c);
	ds->classes = calloc((size_t)ds->nclasses + 1, sizeof *ds->classes);
	for (int k = 0; k < ds->nclasses; k++)
		ds->classes[k] = strdup(json_string_value(json_array_get(c, (size_t)k)) ?: "");
	ds->schema_input = -1;
	const char *src = json_string_value(json_object_get(j, "source"));
	ds->source = src ? strdup(src) : NULL;
	if (json_is_array(json_object_get(j, "lines")))
		ds->lines = json_incref(json_object_get(j, "lines"));
	json_t *np = json_object_get(j, "partitions");
	ds->parts_total = json_is_integer(np) && json_integer_value(np) > 0 &&
	                  json_integer_value(np) <= 1 << 20 ?
	                  (int)json_integer_value(np) : 0;
	int64_t rows = 0;
	if (json_object_get(j, "rows") != NULL &&
	    mlp_json_range(json_object_get(j, "rows"), 0, MLP_ROWS_MAX, &rows, err,
	                   "the stage's broadcast: dataset rows") != 0)
		return -EINVAL;
	ds->rows = (size_t)rows;
	return mlp_impute_from_json(ds, json_object_get(j, "impute"), err);
}

static json_t *
task_json(const char *text)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	return v ? v : json_null();
}

json_t *
mlp_broadcast(kiln_task *t, const struct kiln_host *h)
{
	json_t *all = task_json(h->broadcast(t));
	json_t *b = json_incref(json_object_get(all, "b"));
	json_decref(all);
	return b ? b : json_null();
}

json_t *
mlp_arg(kiln_task *t, const struct kiln_host *h)
{
	return task_json(h->stage_arg(t));
}

int
mlp_map_dataset(kiln_task *t, const struct kiln_host *h,
                struct mlp_dataset *ds, char **err)
{
	json_t *all = task_json(h->broadcast(t));
	int rc = dataset_from_json(json_object_get(all, "dataset"), ds, err);
	json_decref(all);
	if (rc != 0)
		return rc;
	ds->nparts = h->input_count(t);
	ds->part_input = calloc((size_t)ds->nparts + 1, sizeof *ds->part_input);
	for (int i = 0; i < ds->nparts; i++)
		ds->part_input[i] = i;
	return 0;
}

/* Feature J of P from categorical column C: 1 where it is LEVEL, 0
 * elsewhere (everywhere if this partition lacks the level), NaN where it
 * is missing.  -1 if C is not categorical. */
static int
onehot_column(struct mlp_part *p, uint32_t c, size_t j, const char *level)
{
	const uint32_t *codes = kcol_codes(&p->k, c);
	if (codes == NULL)
		return -1;
	uint32_t code = KCOL_MISSING;
	size_t ll = strlen(level);
	for (uint32_t k = 0; k < kcol_nlevels(&p->k, c); k++) {
		size_t n;
		const char *s = kcol_level(&p->k, c, k, &n);
		if (n == ll && memcmp(s, level, n) == 0)
			code = k;
	}
	if (p->own == NULL)
		p->own = calloc(p->nfeat + 1, sizeof *p->own);
	double *x = malloc((p->n + 1) * sizeof *x);
	for (size_t r = 0; r < p->n; r++)
		x[r] = codes[r] == KCOL_MISSING ? NAN : codes[r] == code ? 1.0 : 0.0;
	p->own[j] = x;
	p->X[j] = x;
	return 0;
}

/* The dataset's fills (`impute`) in place of P's missing feature values:
 * a column with one is copied (the partition is mapped read-only). */
static void
part_fill(struct mlp_part *p, const struct mlp_dataset *ds)
{
	for (size_t j = 0; ds->fill != NULL && j < ds->d; j++) {
		if (isnan(ds->fill[j]))
			continue;
		size_t i = 0;
		while (i < p->n && !isnan(p->X[j][i]))
			i++;
		if (i == p->n)
			continue;
		if (p->own == NULL)
			p->own = calloc(p->nfeat + 1, sizeof *p->own);
		if (p->own[j] == NULL) {
			double *x = malloc((p->n + 1) * sizeof *x);
			memcpy(x, p->X[j], p->n * sizeof *x);
			p->own[j] = x;
			p->X[j] = x;
		}
		ml_impute_apply(p->own[j], p->n, ds->fill[j]);
	}
}

void
mlp_part_close(struct mlp_part *p)
{
	for (size_t j = 0; p->own != NULL && j < p->nfeat; j++)
		free(p->own[j]);
	free(p->own);
	free(p->X);
	free(p->y);
	kcol_close(&p->k);
	memset(p, 0, sizeof *p);
}

int
mlp_part_open(kiln_task *t, const struct kiln_host *h, int input,
              const struct mlp_dataset *ds, struct mlp_part *p, char **err)
{
	memset(p, 0, sizeof *p);
	size_t len;
	const char *name = mlp_input_name(t, h, input);
	const void *data = h->input_data(t, input, &len);
	if (data == NULL)
		return ml_seterr(err, -EIO, "cannot read input %s", name ? name : "?");
	char msg[256];
	if (kcol_open(data, len, &p->k, msg, sizeof msg) != 0)
		return ml_seterr(err, -EINVAL, "%s: %s", name ? name : "?", msg);
	p->n = (size_t)p->k.nrows;
	p->nfeat = ds->d;
	p->X = calloc(ds->d + 1, sizeof *p->X);
	for (size_t j = 0; j <= ds->d; j++) {
		const char *want = j < ds->d ? ds->features[j] : ds->label;
		if (want == NULL)
			break;
		/* A one-hot feature COLUMN=LEVEL reads COLUMN. */
		size_t wl = strlen(want);
		if (j < ds->d && ds->levels != NULL && ds->levels[j] != NULL)
			wl -= strlen(ds->levels[j]) + 1;
		uint32_t c;
		for (c = 0; c < p->k.ncols; c++) {
			size_t nl;
			const char *cn = kcol_name(&p->k, c, &nl);
			if (nl == wl && memcmp(cn, want, nl) == 0)
				break;
		}
		if (c == p->k.ncols) {
			mlp_part_close(p);
			return ml_seterr(err, -EINVAL, "%s: no column '%s'", name, want);
		}
		if (j < ds->d && ds->levels != NULL && ds->levels[j] != NULL) {
			if (onehot_column(p, c, j, ds->levels[j]) != 0) {
				mlp_part_close(p);
				return ml_seterr(err, -EINVAL, "%s: column '%s' is not "
				               "categorical", name, want);
			}
		} else if (j < ds->d) {
			p->X[j] = kcol_numeric(&p->k, c);
			if (p->X[j] == NULL) {
				mlp_part_close(p);
				return ml_seterr(err, -EINVAL, "%s: column '%s' is not numeric",
				               name, want);
			}
		} else if (ds->label_categorical) {
			const uint32_t *codes = kcol_codes(&p->k, c);
			if (codes == NULL || p->k.cols[c].nlevels != (uint32_t)ds->nclasses) {
				mlp_part_close(p);
				return ml_seterr(err, -EINVAL, "%s: label '%s' does not match "
				               "the schema", name, want);
			}
			p->y = malloc((p->n + 1) * sizeof *p->y);
			for (size_t r = 0; r < p->n; r++) {
				if (codes[r] == KCOL_MISSING) {
					mlp_part_close(p);
					return ml_seterr(err, -EINVAL, "%s: row %zu: the label "
					               "is missing", name, r);
				}
				p->y[r] = (int)codes[r];
			}
		} else {
			p->t = kcol_numeric(&p->k, c);
			if (p->t == NULL) {
				mlp_part_close(p);
				return ml_seterr(err, -EINVAL, "%s: label '%s' is not numeric",
				               name, want);
			}
		}
	}
	part_fill(p, ds);
	return 0;
}

void
mlp_results_free(json_t **results, int n)
{
	if (results == NULL)
		return;
	for (int i = 0; i < n; i++)
		json_decref(results[i]);
	free(results);
}

/* Run a stage whose map task i reads the inputs INPUTS[i] (NIN[i]). */
static int
stage_run(kiln_task *t, const struct kiln_host *h, const char *fn,
          const struct mlp_dataset *ds, json_t *broadcast, json_t *const *args,
          int n, int *const *inputs, const int *nin, json_t ***results,
          char **err)
{
	*results = NULL;
	json_t *b = json_pack("{s:o,s:O?}", "dataset", mlp_dataset_json(ds),
	                      "b", broadcast);
	char *btext = json_dumps(b, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(b);
	struct kiln_stage_task *tasks = calloc((size_t)n, sizeof *tasks);
	char **argtext = calloc((size_t)n, sizeof *argtext);
	for (int i = 0; i < n; i++) {
		if (args != NULL && args[i] != NULL)
			argtext[i] = json_dumps(args[i], JSON_COMPACT | JSON_ENCODE_ANY |
			                        JSON_REAL_PRECISION(17));
		tasks[i].arg = argtext[i];
		tasks[i].inputs = inputs[i];
		tasks[i].ninputs = nin[i];
	}
	char **res = NULL, *msg = NULL;
	int rc = h->stage(t, fn, btext, tasks, n, &res, &msg);
	free(btext);
	for (int i = 0; i < n; i++)
		free(argtext[i]);
	free(argtext);
	free(tasks);
	if (rc != 0) {
		ml_seterr(err, rc, "%s", msg ? msg : "stage failed");
		kiln_free(h, msg);      /* the host's memory (ABI 1.3) */
		return rc;
	}
	*results = calloc((size_t)n, sizeof **results);
	for (int i = 0; i < n; i++) {
		(*results)[i] = task_json(res[i]);
		kiln_free(h, res[i]);
	}
	kiln_free(h, res);
	return 0;
}

int
mlp_stage_parts(kiln_task *t, const struct kiln_host *h, const char *fn,
                const struct mlp_dataset *ds, json_t *broadcast,
                json_t ***results, char **err)
{
	int n = ds->nparts;
	int **in = calloc((size_t)n, sizeof *in);
	int *nin = calloc((size_t)n, sizeof *nin);
	for (int i = 0; i < n; i++) {
		in[i] = &ds->part_input[i];
		nin[i] = 1;
	}
	int rc = stage_run(t, h, fn, ds, broadcast, NULL, n, in, nin, results, err);
	free(in);
	free(nin);
	return rc;
}

int
mlp_stage_tasks(kiln_task *t, const struct kiln_host *h, const char *fn,
                const struct mlp_dataset *ds, json_t *broadcast,
                json_t *const *args, int n, json_t ***results, char **err)
{
	int **in = calloc((size_t)n, sizeof *in);
	int *nin = calloc((size_t)n, sizeof *nin);
	for (int i = 0; i < n; i++) {
		in[i] = ds->part_input;
		nin[i] = ds->nparts;
	}
	int rc = stage_run(t, h, fn, ds, broadcast, args, n, in, nin, results, err);
	free(in);
	free(nin);
	return rc;
}

void
mlp_matrix_free(struct mlp_matrix *m)
{
	for (size_t j = 0; j < m->d; j++)
		free(m->X[j]);
	free(m->X);
	free(m->t);
	free(m->y);
	memset(m, 0, sizeof *m);
}

int
mlp_matrix_load(kiln_task *t, const struct kiln_host *h,
                const struct mlp_dataset *ds, struct mlp_matrix *m, char **err)
{
	memset(m, 0, sizeof *m);
	struct mlp_part *parts = calloc((size_t)ds->nparts + 1, sizeof *parts);
	size_t n = 0;
	int rc = 0, opened = 0;
	for (int i = 0; i < ds->nparts && rc == 0; i++, opened++) {
		rc = mlp_part_open(t, h, ds->part_input[i], ds, &parts[i], err);
		n += parts[i].n;
	}
	if (rc == 0) {
		m->n = n;
		m->d = ds->d;
		m->X = calloc(ds->d + 1, sizeof *m->X);
		for (size_t j = 0; j < ds->d; j++)
			m->X[j] = malloc((n + 1) * sizeof(double));
		if (ds->label != NULL && ds->label_categorical)
			m->y = malloc((n + 1) * sizeof *m->y);
		else if (ds->label != NULL)
			m->t = malloc((n + 1) * sizeof *m->t);
		size_t off = 0;
		for (int i = 0; i < ds->nparts; i++) {
			struct mlp_part *p = &parts[i];
			for (size_t j = 0; j < ds->d; j++)
				memcpy(m->X[j] + off, p->X[j], p->n * sizeof(double));
			if (m->y)
				memcpy(m->y + off, p->y, p->n * sizeof *m->y);
			if (m->t)
				memcpy(m->t + off, p->t, p->n * sizeof *m->t);
			off += p->n;
		}
	}
	for (int i = 0; i < opened; i++)
		mlp_part_close(&parts[i]);
	free(parts);
	return rc;
}

int
mlp_output_json(kiln_task *t, const struct kiln_host *h, const char *name,
                const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	if (text == NULL)
		return KILN_ENOMEM;
	int rc = h->output(t, name, text, strlen(text));
	free(text);
	return rc;
}

int
mlp_result(kiln_task *t, const struct kiln_host *h, json_t *j, const char *name)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	int rc = text ? h->set_result(t, text) : KILN_ENOMEM;
	if (rc == 0 && name != NULL)
		rc = mlp_output_json(t, h, name, j);
	if (rc != 0)
		h->set_error(t, "cannot store the result (%s too big?)", name ? name : "result");
	free(text);
	json_decref(j);
	return rc;
}

int
mlp_check_finite(const struct mlp_part *p, const struct mlp_dataset *ds,
                 int part, int with_label, const char *doing, char **err)
{
	char where[256];
	size_t first = mlp_part_first_row(ds, part);
	for (size_t j = 0; j < ds->d; j++)
		for (size_t i = 0; i < p->n; i++)
			if (!isfinite(p->X[j][i]))
				return ml_seterr(err, -EINVAL, "%s: column '%s' is %s: "
				                 "set `impute` (mean, median, most_frequent "
				                 "or constant, fitted on the training rows), "
				                 "fill or drop the missing values, or leave "
				                 "the column out with `exclude`, before %s",
				                 mlp_row_where(ds, first + i, where,
				                               sizeof where),
				                 ds->features[j], isnan(p->X[j][i]) ?
				                 "missing" : "infinite", doing);
	for (size_t i = 0; with_label && p->t != NULL && i < p->n; i++)
		if (!isfinite(p->t[i]))
			return ml_seterr(err, -EINVAL, "%s: the label '%s' is %s: "
			                 "drop the rows without a label",
			                 mlp_row_where(ds, first + i, where, sizeof where),
			                 ds->label, isnan(p->t[i]) ? "missing" :
			                 "infinite");
	return 0;
}

void
mlp_name_columns(char **err, const struct mlp_dataset *ds)
{
	if (err == NULL || *err == NULL)
		return;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (f == NULL)
		return;
	for (const char *s = *err; *s != '\0';) {
		if (strncmp(s, "column ", 7) == 0 && s[7] >= '0' && s[7] <= '9') {
			char *end;
			unsigned long j = strtoul(s + 7, &end, 10);
			if (j < ds->d) {
				fprintf(f, "column '%s'", ds->features[j]);
				s = end;
				continue;
			}
		}
		fputc(*s++, f);
	}
	if (fclose(f) != 0 || out == NULL) {
		free(out);
		return;
	}
	free(*err);
	*err = out;
}

double
mlp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

json_t *
mlp_json_reals(const double *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
	return a;
}

void
mlp_csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}
