/* SPDX-License-Identifier: MIT */
/*
 * varconn-test.c - unit tests of variables and connections (src/varconn.c)
 * on a real store: values sealed (no plaintext in the file, a row moved to
 * another name or opened with another cluster secret refused), masked
 * views and reveals, field checks naming the field, templates, and the
 * masker over text and JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "testutil.h"
#include "varconn.h"
#include "xalloc.h"

static char tmpdir[64];
static char dbpath[128];
static store *st;

static void
setup(void)
{
	char *err = NULL;
	tu_tmpdir(tmpdir, sizeof tmpdir, "varconn-test");
	snprintf(dbpath, sizeof dbpath, "%s/kiln.db", tmpdir);
	ck_assert_int_eq(store_open(dbpath, 0, &st, &err), 0);
	ck_assert_int_eq(varconn_init("cluster-secret-one", &err), 0);
}

static void
teardown(void)
{
	store_close(st);
	varconn_fini();
	tu_rmtree(tmpdir);
}

/* The text of template EXPR, or "ERR: message". */
static char *
tpl(const char *expr)
{
	char *v = NULL, *err = NULL;
	if (varconn_template(st, expr, &v, &err) == 0)
		return v;
	char *m = xasprintf("ERR: %s", err);
	free(err);
	return m;
}

static void
set_db(void)
{
	char *err = NULL;
	json_t *c = json_pack("{s:s,s:s,s:i,s:s,s:s,s:{s:s,s:s}}", "type",
	                      "postgres", "host", "db.example", "port", 5432,
	                      "login", "etl", "password", "pw-Secret1",
	                      "extra", "region", "eu", "api_key", "k-Secret2");
	ck_assert_int_eq(varconn_conn_set(st, "db", c, "user:t", &err), 0);
	json_decref(c);
}

START_TEST(test_templates)
{
	char *err = NULL;
	ck_assert_int_eq(varconn_var_set(st, "greeting", "hello", "user:t",
	                                 &err), 0);
	set_db();
	static const char *const cases[][2] = {
		{ "var.greeting", "hello" },
		{ "conn.db.host", "db.example" },
		{ "conn.db.port", "5432" },
		{ "conn.db.login", "etl" },
		{ "conn.db.password", "pw-Secret1" },
		{ "conn.db.extra.region", "eu" },
		{ "var.nope", "ERR: no variable 'nope'" },
		{ "conn.nope.host", "ERR: no connection 'nope'" },
		{ "conn.db.extra.zone", "ERR: connection 'db' has no extra.zone" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *v = tpl(cases[i][0]);
		ck_assert_msg(strcmp(v, cases[i][1]) == 0, "%s: %s",
		              cases[i][0], v);
		free(v);
	}
}
END_TEST

/* Count the rows of the secrets table holding S (with a '-' or a '.', so
 * that it cannot be base64 by chance). */
static int
rows_holding(const char *s)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM secrets "
	                 "WHERE instr(sealed, ?1) > 0",
	                 -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_text(q, 1, s, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	int n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

START_TEST(test_sealed)
{
	char *err = NULL;
	set_db();
	ck_assert_int_eq(varconn_var_set(st, "other", "x", NULL, &err), 0);
	ck_assert_int_eq(rows_holding("pw-Secret1"), 0);
	ck_assert_int_eq(rows_holding("db.example"), 0);

	/* db's sealed value moved to the name "other" is refused. */
	struct store_secret x;
	ck_assert_int_eq(store_secret_get(st, "conn", "db", &x, &err), 0);
	ck_assert_int_eq(store_secret_put(st, "var", "other", x.sealed, NULL,
	                                  &err), 0);
	store_secret_clear(&x);
	char *v = tpl("var.other");
	ck_assert_msg(strstr(v, "cannot be opened") != NULL, "%s", v);
	free(v);

	/* Another cluster secret opens nothing. */
	varconn_fini();
	ck_assert_int_eq(varconn_init("cluster-secret-two", &err), 0);
	v = tpl("conn.db.host");
	ck_assert_msg(strstr(v, "was the cluster secret changed?") != NULL,
	              "%s", v);
	free(v);
}
END_TEST

START_TEST(test_views)
{
	char *err = NULL;
	json_t *o = NULL;
	set_db();
	ck_assert_int_eq(varconn_var_set(st, "db_token", "t-Secret3", NULL,
	                                 &err), 0);
	ck_assert_int_eq(varconn_show(st, "conn", "db", 0, &o, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "password")),
	                 VARCONN_MASK);
	json_t *extra = json_object_get(o, "extra");
	ck_assert_str_eq(json_string_value(json_object_get(extra, "api_key")),
	                 VARCONN_MASK);
	ck_assert_str_eq(json_string_value(json_object_get(extra, "region")),
	                 "eu");
	ck_assert_str_eq(json_string_value(json_object_get(o, "updated_by")),
	                 "user:t");
	json_decref(o);
	ck_assert_int_eq(varconn_show(st, "conn", "db", 1, &o, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "password")),
	                 "pw-Secret1");
	json_decref(o);
	ck_assert_int_eq(varconn_list(st, "var", &o, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(
		json_array_get(o, 0), "value")), VARCONN_MASK);
	json_decref(o);
	ck_assert_int_eq(varconn_delete(st, "var", "db_token", &err), 0);
	ck_assert_int_eq(varconn_delete(st, "var", "db_token", &err), -ENOENT);
	ck_assert_str_eq(err, "no variable 'db_token'");
	free(err);
}
END_TEST

START_TEST(test_checks)
{
	static const char *const bad[][2] = {
		{ "{\"host\":\"h\"}", "type: missing" },
		{ "{\"type\":\"x\",\"port\":70000}", "port: must be an integer" },
		{ "{\"type\":\"x\",\"extra\":[]}", "extra: must be an object" },
		{ "{\"type\":\"x\",\"pasword\":\"p\"}", "pasword: unknown field" },
		{ "{\"type\":1}", "type: must be a string" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *err = NULL;
		json_t *c = json_loads(bad[i][0], 0, NULL);
		ck_assert_int_eq(varconn_conn_set(st, "c", c, NULL, &err),
		                 -EINVAL);
		ck_assert_msg(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0,
		              "%s: %s", bad[i][0], err);
		free(err);
		json_decref(c);
	}
	char *err = NULL;
	ck_assert_int_eq(varconn_var_set(st, "a.b", "v", NULL, &err), -EINVAL);
	free(err);
	err = NULL;
	ck_assert_int_eq(varconn_var_set(st, "", "v", NULL, &err), -EINVAL);
	free(err);
	ck_assert(varconn_sensitive("DB_PASSWORD"));
	ck_assert(varconn_sensitive("api_key"));
	ck_assert(!varconn_sensitive("greeting"));
}
END_TEST

START_TEST(test_masker)
{
	char *err = NULL;
	set_db();
	ck_assert_int_eq(varconn_var_set(st, "s_token", "abc", NULL, &err), 0);
	char *m = varconn_mask_text("pw pw-Secret1, pw-Secret1x k-Secret2 abc");
	/* "abc" is too short to be masked: it would mask words. */
	ck_assert_str_eq(m, "pw ***, ***x *** abc");
	free(m);
	json_t *j = json_pack("{s:[s,i],s:{s:s}}", "a", "x pw-Secret1", 3,
	                      "o", "pw-Secret1", "k-Secret2");
	varconn_mask_json(j);
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(t, "{\"a\":[\"x ***\",3],\"o\":{\"pw-Secret1\":\"***\"}}");
	free(t);
	json_decref(j);
	/* A fresh process learns the secrets from the store. */
	varconn_fini();
	ck_assert_int_eq(varconn_init("cluster-secret-one", &err), 0);
	m = varconn_mask_text("pw-Secret1");
	ck_assert_str_eq(m, "pw-Secret1");
	free(m);
	ck_assert_int_eq(varconn_masks_load(st, &err), 0);
	m = varconn_mask_text("pw-Secret1");
	ck_assert_str_eq(m, "***");
	free(m);
}
END_TEST

START_TEST(test_params)
{
	set_db();
	/* Params without a secret are kept as they are. */
	char *p = varconn_params_seal("{\"a\":\"db.example\"}");
	ck_assert_str_eq(p, "{\"a\":\"db.example\"}");
	free(p);
	/* With one: sealed, and opened back for the worker. */
	const char *clear = "{\"cmd\":[\"x\",\"--pw=pw-Secret1\"],\"n\":1}";
	p = varconn_params_seal(clear);
	ck_assert_ptr_null(strstr(p, "pw-Secret1"));
	ck_assert_ptr_nonnull(strstr(p, "$kiln_sealed"));
	char *o = varconn_params_open(p);
	ck_assert_str_eq(o, clear);
	free(o);
	free(p);
	/* A forged or foreign seal is passed on as it is. */
	o = varconn_params_open("{\"$kiln_sealed\":\"AAAA\"}");
	ck_assert_str_eq(o, "{\"$kiln_sealed\":\"AAAA\"}");
	free(o);
}
END_TEST

static Suite *
varconn_suite(void)
{
	Suite *su = suite_create("varconn");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_templates);
	tcase_add_test(tc, test_sealed);
	tcase_add_test(tc, test_views);
	tcase_add_test(tc, test_checks);
	tcase_add_test(tc, test_masker);
	tcase_add_test(tc, test_params);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	log_init("varconn-test", LOG_LEVEL_WARN);
	SRunner *sr = srunner_create(varconn_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
