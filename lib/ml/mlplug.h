/* SPDX-License-Identifier: MIT */
/*
 * mlplug.h - what kiln's model plugins share: finding a dataset among a
 * task's inputs, opening its partitions in place, and running a stage over
 * them.  The analytics library proper (ml_linear.h, ml_forest.h, ...) knows
 * nothing of kiln; this file is the one bridge between the two.
 *
 * A dataset is what the `ingest` plugin writes: outputs part-NNNNN.kcol
 * (kcol.h) and schema.json, which reach a downstream task as inputs named
 * UPSTREAM/part-NNNNN.kcol and UPSTREAM/schema.json.  Features are the
 * columns other than the label (or the ones named by the `features`
 * parameter).  A categorical feature column is one-hot encoded: one 0/1
 * feature "COLUMN=LEVEL" per level of the dataset (scikit-learn's
 * OneHotEncoder, drop=None); `features` may also name single levels that
 * way (as predict does with a model's features: a level the data lacks is
 * a column of zeros, a level the model lacks is ignored).  The label is a categorical column
 * (classes: its levels, sorted, as scikit-learn's LabelEncoder) or, for
 * regression, a numeric one.
 *
 * A stage's map task i reads partition i, its only input (so the master
 * places it where the partition already is); the dataset's description
 * travels in the stage's broadcast.  Thread-safe; no global state.
 */
#ifndef KILN_ML_PLUG_H
#define KILN_ML_PLUG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "kiln/plugin.h"
#include "kcol/kcol.h"
#include "mlutil.h"

/* The parameters mlp_dataset_open() takes the feature columns from, for
 * a plugin's `struct kiln_param` table (after its own `label` entry). */
#define MLP_PARAMS_FEATURES \
	{ "features", "string", "", "comma-separated feature columns (default: all; categorical ones one-hot encoded)" }, \
	{ "exclude", "string", "", "comma-separated columns to leave out" }

/* The dataset a task was given, as its schema tells. */
struct mlp_dataset {
	int schema_input;       /* index of schema.json among the inputs */
	int nparts;
	int *part_input;        /* nparts input indices, in partition order */
	size_t rows;
	size_t d;               /* features */
	char **features;        /* d names: a column's, or "COLUMN=LEVEL" */
	char **levels;          /* d: the level a one-hot feature marks, or
	                         * NULL for a numeric column */
	char *label;            /* or NULL */
	int label_categorical;
	int nclasses;           /* levels of a categorical label */
	char **classes;
	/* appended: where the rows came from and what the columns are */
	char *source;           /* the CSV ingest read, or NULL */
	json_t *lines;          /* schema.json's [[row, line], ...], or NULL */
	int parts_total;        /* partitions of the whole dataset */
	char **units;           /* d: "date" or "datetime" for a time column
	                         * (kdate.h seconds), else NULL; only in the
	                         * driver (NULL in map tasks) */
	double *fill;           /* d: what a missing value of each feature
	                         * becomes (`impute`, fitted on the training
	                         * rows), NaN for none; NULL: no imputation.
	                         * It travels with the dataset (broadcasts,
	                         * model files) and mlp_part_open() applies it */
	int *fill_method;       /* d: enum ml_impute_method of each fill */
};

/* One partition, mapped in place: X points into the input's mapping. */
struct mlp_part {
	size_t n;
	const double **X;       /* d columns */
	size_t nfeat;           /* d */
	double **own;           /* d: the one-hot columns made for this
	                         * partition (freed with it), or NULL */
	const double *t;        /* numeric label, or NULL */
	int *y;                 /* class codes (a copy), or NULL */
	struct kcol k;
};

/*
 * Find the dataset among T's inputs and read its schema.  LABEL (NULL: the
 * schema's label) names the label column; NEED_LABEL 1 requires one (2: a
 * categorical one, 3: a numeric one).  FEATURES, if not NULL or "", is a
 * comma-separated list of the feature columns; EXCLUDE a list to leave
 * out.  0, or negative with *err.
 */
int mlp_dataset_open(kiln_task *t, const struct kiln_host *h, const char *label,
                     int need_label, const char *features, const char *exclude,
                     struct mlp_dataset *ds, char **err);
void mlp_dataset_free(struct mlp_dataset *ds);
/* The dataset's schema.json among T's inputs, parsed (new reference), for
 * a plugin that decides from the columns' types what to do before it
 * opens the dataset; NULL with *err when there is none. */
json_t *mlp_schema_load(kiln_task *t, const struct kiln_host *h, char **err);
/* Where row ROW (from 0, over the whole dataset) is, for messages:
 * "data.csv:17" (its CSV line), or "row 15 (from 0)" without a source.
 * BUF of LEN bytes; returns BUF. */
const char *mlp_row_where(const struct mlp_dataset *ds, size_t row, char *buf,
                          size_t len);
/* The first row of partition PART (ingest splits rows evenly, the first
 * rows % parts partitions one row longer). */
size_t mlp_part_first_row(const struct mlp_dataset *ds, int part);
/* Time columns (schema type "time") are features only when `features`
 * names them; their values are kdate.h seconds.  Is feature J one? */
const char *mlp_time_unit(const struct mlp_dataset *ds, size_t j);

/*
 * The `impute` parameter TEXT read against DS's features into SPECS (d
 * entries, zeroed first: ML_IMP_NONE leaves a feature as it is).  TEXT is
 * one method for every feature ("median"), a comma list "COL=METHOD"
 * (`*=METHOD` for the rest), or a JSON object {"COL": "METHOD", ...}; a
 * one-hot feature COL=LEVEL takes COL's method.  Methods: ml_impute.h.
 * 0, or -EINVAL with *err naming the unknown column or method.
 */
struct ml_impute_spec;
int mlp_impute_specs(const char *text, const struct mlp_dataset *ds,
                     struct ml_impute_spec *specs, char **err);

/* A model plugin's `impute` parameter TEXT (NULL or "": none) fitted in
 * the driver over every row of DS: DS->fill gets each named feature's
 * value (the mean, median, most frequent value or constant of its present
 * values, as scikit-learn's SimpleImputer), which mlp_part_open() then
 * puts in place of the missing values of every partition, in the fit's
 * map tasks and, through the model file, in predict's.  One pass over the
 * partitions, holding the named columns (8 bytes a value) for a median or
 * a most frequent value.  0, or -EINVAL with *err. */
#define MLP_PARAM_IMPUTE \
	{ "impute", "string", "", "fill missing features with values fitted on the training rows and kept in the model for predict: mean, median, most_frequent or constant[:V], for all (`median`) or per column (`x=median,*=mean`)" }
int mlp_impute_fit(kiln_task *t, const struct kiln_host *h,
                   struct mlp_dataset *ds, const char *text, char **err);
/* DS->fill from IMP, a model file's {"FEATURE": {"method": M, "value": V},
 * ...} (NULL or null: none); features DS lacks are ignored.  0 or -EINVAL
 * with *err. */
int mlp_impute_from_json(struct mlp_dataset *ds, const json_t *imp, char **err);
/* DS->fill as that JSON object, or NULL when there is none. */
json_t *mlp_impute_json(const struct mlp_dataset *ds);

/* For plugins whose features must be numeric columns (series, times): 0,
 * or -EINVAL with *err naming the first categorical one. */
int mlp_numeric_only(const struct mlp_dataset *ds, char **err);
/* The dataset's description as JSON (for broadcasts and model files):
 * {"features":[...],"label":...,"classes":[...]}. */
json_t *mlp_dataset_json(const struct mlp_dataset *ds);

/*
 * Open input INPUT of T as a partition of DS: the feature columns in DS's
 * order, the label if DS has one.  Every feature value is checked: NaN or
 * infinite gives an error naming the column and row.  0 or negative with
 * *err.  mlp_part_close() after.
 */
int mlp_part_open(kiln_task *t, const struct kiln_host *h, int input,
                  const struct mlp_dataset *ds, struct mlp_part *p, char **err);
void mlp_part_close(struct mlp_part *p);

/*
 * Run stage FN with one map task per partition of DS (map task i reads
 * partition i and the schema) and BROADCAST (a json_t, borrowed, or NULL).
 * *results: nparts JSON values (new references in a malloc()ed array;
 * mlp_results_free() them).  0, KILN_ECANCELLED, or negative with *err.
 */
int mlp_stage_parts(kiln_task *t, const struct kiln_host *h, const char *fn,
                    const struct mlp_dataset *ds, json_t *broadcast,
                    json_t ***results, char **err);
/*
 * Run stage FN with N map tasks that each read every partition (for work
 * split by something else than rows: trees, folds, models); ARGS[i] is
 * task i's argument (borrowed json_t, may be NULL).
 */
int mlp_stage_tasks(kiln_task *t, const struct kiln_host *h, const char *fn,
                    const struct mlp_dataset *ds, json_t *broadcast,
                    json_t *const *args, int n, json_t ***results, char **err);
void mlp_results_free(json_t **results, int n);

/* In a map task: the broadcast value and the task's argument (new
 * references; json null if absent), and the dataset of the stage (its
 * inputs are the partitions: all of them, or the one it reads). */
json_t *mlp_broadcast(kiln_task *t, const struct kiln_host *h);
json_t *mlp_arg(kiln_task *t, const struct kiln_host *h);
int mlp_map_dataset(kiln_task *t, const struct kiln_host *h,
                    struct mlp_dataset *ds, char **err);

/* All partitions of DS concatenated into owned columns (for algorithms
 * that need every row in one place: trees, cross-validation folds).
 * X[j] (d columns of *n rows), *tv or *y as the label is numeric or
 * categorical; the caller frees with mlp_matrix_free(). */
struct mlp_matrix {
	size_t n, d;
	double **X;
	double *t;
	int *y;
};
int mlp_matrix_load(kiln_task *t, const struct kiln_host *h,
                    const struct mlp_dataset *ds, struct mlp_matrix *m,
                    char **err);
void mlp_matrix_free(struct mlp_matrix *m);

/* Set the task's result to J (stolen) and store it as output NAME too if
 * NAME is not NULL.  0 or a KILN_E* code (the error set on the task). */
int mlp_result(kiln_task *t, const struct kiln_host *h, json_t *j,
               const char *name);
/* Store J (borrowed) as output NAME, as indented JSON text. */
int mlp_output_json(kiln_task *t, const struct kiln_host *h, const char *name,
                    const json_t *j);

/* Fail the task with a message (and free it): returns KILN_ECANCELLED if
 * the task was cancelled, KILN_EINVAL for errors in the input (-EINVAL,
 * -EDOM), KILN_EFAIL otherwise. */
int mlp_fail(kiln_task *t, const struct kiln_host *h, int rc, char *err);

/* How a task (run or map) ends: RC 0 sets OUT (stolen) as its result;
 * anything else releases OUT and fails the task with ERR (freed, see
 * mlp_fail()).  Returns what the plugin's function returns. */
int mlp_done(kiln_task *t, const struct kiln_host *h, int rc, json_t *out,
             char *err);

/* How a model plugin's driver ends: FILE stored as output model.json,
 * then RESULT set as the task's result (both stolen).  0 or a KILN_E*
 * code (the error set on the task). */
int mlp_model_done(kiln_task *t, const struct kiln_host *h, json_t *file,
                   json_t *result);

/* How a map task over one partition starts: the stage's dataset DS and
 * its partition P (input 0) opened.  0, or what the map function returns,
 * with the task's error set and nothing left open.  mlp_part_close() and
 * mlp_dataset_free() after. */
int mlp_map_open(kiln_task *t, const struct kiln_host *h,
                 struct mlp_dataset *ds, struct mlp_part *p);

/* The descriptor of a bundled model plugin: NAME, DESCRIPTION, its PARAMS
 * table, RUN (the driver) and MAP (its stages' map tasks). */
#define MLP_PLUGIN_VERSION "1.0.0"
#define MLP_PLUGIN(name_, description_, params_, run_, map_) \
	const struct kiln_plugin kiln_plugin = { \
		KILN_PLUGIN_HEADER, \
		.name = (name_), \
		.version = MLP_PLUGIN_VERSION, \
		.description = (description_), \
		.params = (params_), \
		.run = (run_), \
		.map = (map_), \
	}

/* Errors: ml_seterr() (mlutil.h) fills a `char **err`. */

/* Every feature value of P (and its numeric label if WITH_LABEL) is
 * finite, or -EINVAL with *err naming the column and the CSV line of the
 * row (mlp_row_where(); P is partition PART) and saying missing values
 * must be dropped or filled before DOING ("training", "predicting").  Checked once per pass, not per iteration:
 * the library's partials check what they read themselves. */
int mlp_check_finite(const struct mlp_part *p, const struct mlp_dataset *ds,
                     int part, int with_label, const char *doing, char **err);
/* The library numbers columns ("column 3 is constant"); a user knows them
 * by name: rewrite *ERR in place with DS's feature names. */
void mlp_name_columns(char **err, const struct mlp_dataset *ds);

/*
 * A number from the network: a stage's broadcast or argument in a map
 * task, a map task's result in a driver.  A job cannot forge them (the
 * master refuses "__" params), but a map task reads what any driver sent,
 * and a driver what any map task returned, so every size, count and index
 * among them is checked here before it is used.  V must be a JSON integer
 * in [LO, HI]: 0 with *OUT, or -EINVAL with *err naming it (WHAT, a
 * printf format) with its value and the range.
 */
/* The most rows a dataset may say it has (2^48). */
#define MLP_ROWS_MAX ((int64_t)1 << 48)
int mlp_json_range(const json_t *v, int64_t lo, int64_t hi, int64_t *out,
                   char **err, const char *what, ...)
	__attribute__((format(printf, 6, 7)));

/* Milliseconds on the monotonic clock, for the timings in results. */
double mlp_now_ms(void);
/* V[0..N) as a JSON array for results, a non-finite value as null
 * (ml_json_reals() refuses them instead, for model files). */
json_t *mlp_json_reals(const double *v, size_t n);
/* Write S to F as one CSV field (RFC 4180 quoting when needed). */
void mlp_csv_field(FILE *f, const char *s);
/* Does S end with SUFFIX? */
int mlp_ends_with(const char *s, const char *suffix);
/* Input I's name without reading it (ABI 1.2's input_name(); an older
 * host's input_path(), which makes the input local first). */
const char *mlp_input_name(kiln_task *t, const struct kiln_host *h, int i);

#endif
