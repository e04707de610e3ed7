/* SPDX-License-Identifier: MIT */
/*
 * bm_models.h - the benchmark's models and their parameters: one table
 * (bm_models.c) that names every model, checks its parameters (an
 * unknown one is refused with the valid ones listed), expands grids, and
 * generates the parameter reference (docs/model-params.md, kept equal by
 * tests/unit/ml-params-test).  Thread-safe: no state.
 */
#ifndef KILN_BM_MODELS_H
#define KILN_BM_MODELS_H

#include <stdio.h>
#include <jansson.h>

/* The broadcast carries these numbers: append only. */
enum { BM_CLASS = 0, BM_FORECAST = 1, BM_REG = 2 };
#define BM_NKINDS 3
extern const char *const bm_kind_names[BM_NKINDS];


/* A model parameter: its default, admissible range and meaning (the
 * reference in docs/model-params.md is generated from these). */
struct bm_pdef {
	const char *key;
	double def, lo, hi;
	int integer;
	const char *doc;
	/* Not a number: */
	const char *choices;       /* a name among "a|b|c", the first the
	                            * default */
	int class_weight;          /* "balanced" or {class: weight > 0}; the
	                            * default "none" */
	/* Left out of a grid's model names at its default. */
	int quiet;
};
/* The most parameters of a model. */
#define BM_MAX_PARAMS 6

struct bm_mdef {
	const char *name;          /* canonical, as in the leaderboard */
	const char *alias[3];
	int kind;
	int method;                /* forecasting: enum ml_fc_method */
	const char *file_type;     /* model.json's type (predict reads it) */
	int simplicity;            /* lower is simpler: the last tie-break */
	struct bm_pdef params[BM_MAX_PARAMS];  /* NULL key ends; "m" defaults
	                                        * to `season` */
};

/* Marks the default of "m": the `season` parameter. */
#define BM_SEASON (-12345.0)


/* Marks the default of "m": the `season` parameter. */
#define BM_SEASON (-12345.0)
/* The most models a benchmark compares, grids expanded: each is a map
 * task per fold. */
#define BM_MAX_MODELS 200

/* One model of the benchmark: its definition and effective parameters. */
struct bm_model {
	const struct bm_mdef *def;
	char *name;        /* unique display name */
	json_t *params;    /* every parameter, defaults filled in */
};

/* NAME (or an alias) among the models of KIND, or NULL. */
const struct bm_mdef *bm_mdef_find(const char *name, int kind);
/* Check ENTRY (a name or {"model": name, params...}) and fill M. */
int bm_model_parse(const json_t *entry, int kind, int season,
                   struct bm_model *m, char **err);
void bm_models_free(struct bm_model *ms, int n);
/* The `models` parameter (JSON array or comma list; NULL: the kind's
 * defaults), grids expanded, into *OUT (*NOUT models). */
int bm_models_parse(const char *text, int kind, int season,
                    struct bm_model **out, int *nout, char **err);
double bm_pnum(const json_t *params, const char *key);
/* The parameter reference, as Markdown, to F. */
void bm_params_markdown(FILE *f);

#endif
