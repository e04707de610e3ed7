/* SPDX-License-Identifier: MIT */
/*
 * ml_forest.h - random forests of CART trees: classification (Gini) and
 * regression (squared error), the way scikit-learn's RandomForest* build
 * them (bootstrap rows, a random subset of max_features features tried at
 * each node, exact best threshold over the node's sorted values, midpoint
 * thresholds, "go left when x <= threshold").
 *
 * Distribution: trees are independent, so the unit of work is a range of
 * trees, each trained on the full training data.  Tree t draws all its
 * randomness from stream (seed, t) of ml_rng.h, never from a shared stream, so
 * a forest does not depend on how trees are spread over workers: map task
 * i of N calls ml_forest_fit_trees(data, params, i*T/N, (i+1)*T/N - i*T/N)
 * and the driver ml_forest_merge()s the results in task order.  Training
 * 1 x 100 trees and 4 x 25 trees gives byte-identical models.
 *
 * Predictions: classification averages the trees' leaf class frequencies
 * (predict_proba as scikit-learn does); regression averages leaf means.
 *
 * Bad input (all -EINVAL with a message naming it): 0 rows, 0 columns, a
 * NaN or infinity in a feature ("row 17: NaN in column 'area'"), a class
 * code outside 0..nclasses-1, a non-finite regression target, bad
 * parameters.  A constant column is allowed: it can never be split on.  A
 * single class in the training data is allowed too (every tree is one leaf
 * predicting it), since nclasses comes from the caller.
 *
 * Thread-safety: no global state; a fitted forest may be read (predicted
 * with) by many threads at once.
 */
#ifndef KILN_ML_FOREST_H
#define KILN_ML_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum ml_forest_task {
	ML_FOREST_CLASSIFICATION = 0,
	ML_FOREST_REGRESSION = 1,
};

struct ml_forest_params {
	int task;              /* enum ml_forest_task */
	int nclasses;          /* classification: codes are 0..nclasses-1 */
	int n_trees;           /* default 100 */
	int max_features;      /* features tried per node; 0 = default:
	                          sqrt(d) for classification, max(1, d/3) for
	                          regression; -1 = all d */
	int max_depth;         /* 0 = unlimited */
	int min_samples_leaf;  /* distinct rows per leaf, default 1 */
	int min_samples_split; /* distinct rows to split a node, default 2 */
	int bootstrap;         /* 1 (default): sample n rows with replacement */
	uint64_t seed;
	/* Classification: nclasses weights multiplying each row's (bootstrap)
	 * weight by its class's, as scikit-learn's class_weight; NULL: none.
	 * Not carried by ml_forest_to_json (the fit's, not the model's). */
	const double *class_weight;
};

/* Training data: column-major features, as everywhere in lib/ml. */
struct ml_forest_data {
	const double *const *X;      /* d columns of n values */
	size_t n, d;
	const int *y;                /* classification labels, else NULL */
	const double *target;        /* regression targets, else NULL */
	const char *const *names;    /* d column names for messages; may be NULL */
};

/*
 * One tree, as parallel arrays over nodes (node 0 is the root).  A leaf
 * has feature -1 and left = right = -1.  value holds nvalues doubles per
 * node: class frequencies (nvalues = nclasses) or the mean (nvalues = 1).
 * importance holds d impurity decreases weighted by bootstrap count,
 * divided by the tree's total, so each tree's sum is 1 (or all 0 when the
 * tree is a single leaf).
 */
struct ml_tree {
	int nnodes;
	int *feature;
	double *threshold;
	int *left, *right;
	double *value;
	double *importance;
};

struct ml_forest {
	int task;
	int nclasses;          /* classification; 1 for regression */
	size_t d;
	int ntrees;
	int first_tree;        /* index of trees[0] in the whole forest */
	struct ml_tree *trees;
};

/* Fill P with the defaults above for TASK (nclasses is left 0). */
void ml_forest_defaults(struct ml_forest_params *p, int task);

/*
 * Train trees first_tree .. first_tree+ntrees-1 of the forest described by
 * P on DATA into OUT (which the caller frees with ml_forest_free).
 * Returns 0, or -EINVAL with *err set.
 */
int ml_forest_fit_trees(const struct ml_forest_data *data,
                        const struct ml_forest_params *p,
                        int first_tree, int ntrees,
                        struct ml_forest *out, char **err);

/* The whole forest: ml_forest_fit_trees(data, p, 0, p->n_trees, ...). */
int ml_forest_fit(const struct ml_forest_data *data,
                  const struct ml_forest_params *p,
                  struct ml_forest *out, char **err);

/*
 * Append the trees of FROM to INTO (moved, FROM is left empty).  FROM must
 * continue INTO: same task, classes and columns, and FROM->first_tree ==
 * INTO->first_tree + INTO->ntrees, so merges happen in tree order.  An
 * empty INTO (ntrees 0, zeroed) takes FROM as it is.
 */
int ml_forest_merge(struct ml_forest *into, struct ml_forest *from, char **err);

/*
 * Class probabilities: PROBA gets n rows of nclasses values (row-major).
 * X is d columns of n values; a NaN in X is -EINVAL.
 */
int ml_forest_predict_proba(const struct ml_forest *f,
                            const double *const *X, size_t n,
                            double *proba, char **err);

/* Most probable class (the lowest code on ties), as predict_proba. */
int ml_forest_predict_class(const struct ml_forest *f,
                            const double *const *X, size_t n,
                            int *out, char **err);

/* Regression: the mean of the trees' predictions. */
int ml_forest_predict_value(const struct ml_forest *f,
                            const double *const *X, size_t n,
                            double *out, char **err);

/* Mean of the trees' normalised impurity decreases (d values summing to 1
 * unless no tree split at all), as scikit-learn's feature_importances_. */
int ml_forest_importances(const struct ml_forest *f, double *out, char **err);

/*
 * {"type": "forest", "task": "classification"|"regression", "nclasses",
 *  "d", "first_tree", "trees": [{"feature": [...], "threshold": [...],
 *  "left": [...], "right": [...], "value": [...], "importance": [...]}]}
 * value is flattened (nnodes x nvalues).  Doubles round-trip exactly.
 */
int ml_forest_to_json(const struct ml_forest *f, json_t **out);
int ml_forest_from_json(const json_t *j, struct ml_forest *out, char **err);

void ml_forest_free(struct ml_forest *f);

#endif
