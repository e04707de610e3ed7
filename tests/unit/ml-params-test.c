/* SPDX-License-Identifier: MIT */
/*
 * ml-params-test.c - the benchmark's model table (plugins/benchmark/
 * bm_models.c): an unknown parameter is refused with the valid ones
 * listed, a value out of range with its range, a grid expands to every
 * combination named by its parameters, and docs/model-params.md is what
 * the table generates (KILN_REGEN=1 rewrites it).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/benchmark/bm_models.h"

#ifndef KILN_SRCDIR
#define KILN_SRCDIR "."
#endif

static char *
parse_err(const char *models, int kind)
{
	struct bm_model *ms = NULL;
	int n = 0;
	char *err = NULL;
	int rc = bm_models_parse(models, kind, 1, &ms, &n, &err);
	ck_assert_int_ne(rc, 0);
	ck_assert_ptr_nonnull(err);
	return err;
}

START_TEST(unknown_param_lists_valid)
{
	char *e = parse_err("[{\"model\": \"logreg\", \"c\": 1}]", BM_CLASS);
	ck_assert_str_eq(e, "model logreg has no parameter 'c' (its parameters: "
	                 "C, max_iter, penalty, l1_ratio, class_weight; grid)");
	free(e);
	e = parse_err("[{\"model\": \"ols\", \"alpha\": 1}]", BM_REG);
	ck_assert_str_eq(e, "model ols has no parameter 'alpha' (its "
	                 "parameters: grid)");
	free(e);
	e = parse_err("[{\"model\": \"forest\", \"n_trees\": 0}]", BM_REG);
	ck_assert_str_eq(e, "model forest: parameter n_trees = 0 must be an "
	                 "integer in [1, 10000]");
	free(e);
	e = parse_err("[{\"model\": \"logreg\", \"penalty\": \"l0\"}]", BM_CLASS);
	ck_assert_str_eq(e, "model logreg: parameter penalty must be one of "
	                 "l2|l1|elasticnet");
	free(e);
	e = parse_err("[{\"model\": \"logreg\", \"class_weight\": {\"a\": 0}}]",
	              BM_CLASS);
	ck_assert_str_eq(e, "model logreg: class_weight: the weight of class "
	                 "'a' must be a positive number");
	free(e);
	e = parse_err("[{\"model\": \"logreg\", \"class_weight\": \"equal\"}]",
	              BM_CLASS);
	ck_assert_str_eq(e, "model logreg: class_weight must be \"balanced\", "
	                 "\"none\" or an object {class: weight}");
	free(e);
	e = parse_err("svm", BM_CLASS);
	ck_assert_str_eq(e, "unknown classification model 'svm' (known: logreg, "
	                 "naive_bayes, forest)");
	free(e);
}
END_TEST

START_TEST(grid_expands)
{
	struct bm_model *ms = NULL;
	int n = 0;
	char *err = NULL;
	ck_assert_int_eq(bm_models_parse("[\"naive_bayes\", {\"model\": \"logreg\", "
	                 "\"max_iter\": 50, \"grid\": {\"C\": [0.01, 0.1, 1]}}]",
	                 BM_CLASS, 1, &ms, &n, &err), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(ms[0].name, "naive_bayes");
	ck_assert_str_eq(ms[1].name, "logreg(C=0.01,max_iter=50)");
	ck_assert_str_eq(ms[3].name, "logreg(C=1,max_iter=50)");
	ck_assert_double_eq(bm_pnum(ms[2].params, "C"), 0.1);
	bm_models_free(ms, n);
	/* Names and class weights: named in a grid only off their default. */
	ck_assert_int_eq(bm_models_parse("[{\"model\": \"logreg\", \"grid\": "
	                 "{\"penalty\": [\"l2\", \"l1\"], \"class_weight\": "
	                 "[\"none\", \"balanced\", {\"b\": 2}]}}]",
	                 BM_CLASS, 1, &ms, &n, &err), 0);
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(ms[0].name, "logreg(C=1,max_iter=1000)");
	ck_assert_str_eq(ms[4].name, "logreg(C=1,max_iter=1000,penalty=l1,"
	                 "class_weight=balanced)");
	ck_assert_str_eq(ms[5].name, "logreg(C=1,max_iter=1000,penalty=l1,"
	                 "class_weight={\"b\":2})");
	bm_models_free(ms, n);
	/* Two parameters: the first varies slowest. */
	ck_assert_int_eq(bm_models_parse("[{\"model\": \"forest\", \"grid\": "
	                 "{\"max_depth\": [2, 4], \"min_samples_leaf\": [1, 3, 9]}}]",
	                 BM_REG, 1, &ms, &n, &err), 0);
	ck_assert_int_eq(n, 6);
	ck_assert_double_eq(bm_pnum(ms[1].params, "max_depth"), 2);
	ck_assert_double_eq(bm_pnum(ms[1].params, "min_samples_leaf"), 3);
	ck_assert_double_eq(bm_pnum(ms[3].params, "max_depth"), 4);
	bm_models_free(ms, n);
	char *e = parse_err("[{\"model\": \"logreg\", \"grid\": {\"C\": []}}]", BM_CLASS);
	ck_assert_str_eq(e, "grid: C must be a non-empty list of values");
	free(e);
	e = parse_err("[{\"model\": \"logreg\", \"C\": 1, \"grid\": {\"C\": [1]}}]",
	              BM_CLASS);
	ck_assert_str_eq(e, "grid: C is also set outside the grid");
	free(e);
	e = parse_err("[{\"model\": \"forest\", \"grid\": {\"n_trees\": [1,2,3,4,5,"
	              "6,7,8,9,10,11,12,13,14,15], \"max_depth\": [1,2,3,4,5,6,7,8,"
	              "9,10,11,12,13,14,15]}}]", BM_CLASS);
	ck_assert_str_eq(e, "grid: more than 200 models to compare");
	free(e);
	e = parse_err("[{\"model\": \"logreg\", \"grid\": {\"D\": [1]}}]", BM_CLASS);
	ck_assert_str_eq(e, "model logreg has no parameter 'D' (its parameters: "
	                 "C, max_iter, penalty, l1_ratio, class_weight; grid)");
	free(e);
}
END_TEST

/* docs/model-params.md is the table's reference, byte for byte. */
START_TEST(reference_is_generated)
{
	char *gen = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&gen, &len);
	bm_params_markdown(f);
	fclose(f);
	const char *top = getenv("KILN_SRCDIR");
	char path[1024];
	snprintf(path, sizeof path, "%s/docs/model-params.md",
	         top != NULL && *top != '\0' ? top : KILN_SRCDIR);
	if (getenv("KILN_REGEN") != NULL) {
		FILE *w = fopen(path, "w");
		ck_assert_ptr_nonnull(w);
		fputs(gen, w);
		fclose(w);
	}
	FILE *r = fopen(path, "r");
	ck_assert_msg(r != NULL, "%s is missing: run this test with KILN_REGEN=1", path);
	char *doc = calloc(len + 2, 1);
	size_t got = fread(doc, 1, len + 1, r);
	fclose(r);
	ck_assert_msg(got == len && memcmp(doc, gen, len) == 0, "%s differs from "
	              "what plugins/benchmark/bm_models.c generates: run "
	              "tests/unit/ml-params-test with KILN_REGEN=1", path);
	free(doc);
	free(gen);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ml-params");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, unknown_param_lists_valid);
	tcase_add_test(tc, grid_expands);
	tcase_add_test(tc, reference_is_generated);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
