/* SPDX-License-Identifier: MIT */
/*
 * auth-test.c - request signing (Kiln-HMAC) and API tokens: a signed
 * request verifies, and any change to what was signed, the clock or the
 * header's syntax is refused with a message that says why.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "hash.h"
#include "xalloc.h"

#define SECRET "s3cret-cluster-key"
#define T0     1795939262000LL  /* 2026-11-29 08:01:02 UTC */
#define BODY   "{\"plugin\":\"noop\"}"

static void
setup(void)
{
	ck_assert_int_eq(auth_init(), 0);
}

static char *
sign_default(void)
{
	return auth_sign(SECRET, "worker-1", "POST", "/api/v1/jobs?x=1",
	                 BODY, strlen(BODY), T0);
}

START_TEST(test_round_trip)
{
	char *h = sign_default(), *id = NULL, *err = NULL;

	ck_assert_int_eq(strncmp(h, "Kiln-HMAC id=worker-1,ts=1795939262000,sig=",
	                         43), 0);
	ck_assert_uint_eq(strlen(h), 43 + 64);
	ck_assert_int_eq(auth_verify(SECRET, h, "POST", "/api/v1/jobs?x=1",
	                             BODY, strlen(BODY), T0 + 1000, &id, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(id, "worker-1");
	free(id);
	free(h);
}
END_TEST

/* Signing is deterministic: same inputs, same header. */
START_TEST(test_deterministic)
{
	char *a = sign_default(), *b = sign_default();
	char *c = auth_sign(SECRET, "worker-1", "POST", "/api/v1/jobs?x=1",
	                    BODY, strlen(BODY), T0 + 1);

	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* An empty body and a NULL body are the same request. */
START_TEST(test_empty_body)
{
	char *h = auth_sign(SECRET, "cli", "GET", "/api/v1/workers", NULL, 0, T0);
	char *id = NULL, *err = NULL;

	ck_assert_int_eq(auth_verify(SECRET, h, "GET", "/api/v1/workers", "", 0,
	                             T0, &id, &err), 0);
	ck_assert_str_eq(id, "cli");
	free(id);
	free(h);
}
END_TEST

/* Each row changes one thing the signature covers. */
static const struct tamper {
	const char *what;
	const char *secret, *method, *path, *body;
} tampers[] = {
	{ "body",   SECRET, "POST", "/api/v1/jobs?x=1", "{\"plugin\":\"nooq\"}" },
	{ "path",   SECRET, "POST", "/api/v1/jobz?x=1", BODY },
	{ "query",  SECRET, "POST", "/api/v1/jobs?x=2", BODY },
	{ "method", SECRET, "PUT",  "/api/v1/jobs?x=1", BODY },
	{ "secret", "other", "POST", "/api/v1/jobs?x=1", BODY },
	{ "nobody", SECRET, "POST", "/api/v1/jobs?x=1", "" },
};

START_TEST(test_tampered_request)
{
	const struct tamper *t = &tampers[_i];
	char *h = sign_default(), *id = NULL, *err = NULL;

	int rc = auth_verify(t->secret, h, t->method, t->path, t->body,
	                     strlen(t->body), T0, &id, &err);
	ck_assert_msg(rc < 0, "tampered %s accepted", t->what);
	ck_assert_ptr_null(id);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "signature") != NULL, "%s: %s", t->what, err);
	free(err);
	free(h);
}
END_TEST

/* Change one field of a valid header: id, ts or one sig digit. */
START_TEST(test_tampered_header)
{
	char *h = sign_default(), *id = NULL, *err = NULL;
	char *bad;

	/* id */
	bad = xstrdup(h);
	memcpy(strstr(bad, "worker-1"), "worker-2", 8);
	ck_assert_int_lt(auth_verify(SECRET, bad, "POST", "/api/v1/jobs?x=1",
	                             BODY, strlen(BODY), T0, &id, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "signature"));
	ck_assert_ptr_nonnull(strstr(err, "worker-2"));
	ck_assert_ptr_null(id);
	free(err);
	err = NULL;
	free(bad);

	/* ts, still within the allowed skew */
	bad = xstrdup(h);
	strstr(bad, "ts=")[3 + 12] = '1';	/* ...000 -> ...001 */
	ck_assert_int_lt(auth_verify(SECRET, bad, "POST", "/api/v1/jobs?x=1",
	                             BODY, strlen(BODY), T0, &id, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "signature"));
	free(err);
	err = NULL;
	free(bad);

	/* sig: flip the last hex digit */
	bad = xstrdup(h);
	char *last = bad + strlen(bad) - 1;
	*last = *last == '0' ? '1' : '0';
	ck_assert_int_lt(auth_verify(SECRET, bad, "POST", "/api/v1/jobs?x=1",
	                             BODY, strlen(BODY), T0, &id, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "signature"));
	free(err);
	free(bad);
	free(h);
}
END_TEST

static const struct skew {
	int64_t now;
	int ok;
} skews[] = {
	{ T0, 1 },
	{ T0 + AUTH_SKEW_MS, 1 },
	{ T0 - AUTH_SKEW_MS, 1 },
	{ T0 + AUTH_SKEW_MS + 1, 0 },
	{ T0 - AUTH_SKEW_MS - 1, 0 },
	{ T0 + 24LL * 3600 * 1000, 0 },
	{ 0, 0 },
};

START_TEST(test_skew)
{
	const struct skew *s = &skews[_i];
	char *h = sign_default(), *id = NULL, *err = NULL;

	int rc = auth_verify(SECRET, h, "POST", "/api/v1/jobs?x=1", BODY,
	                     strlen(BODY), s->now, &id, &err);
	if (s->ok) {
		ck_assert_int_eq(rc, 0);
		free(id);
	} else {
		ck_assert_int_lt(rc, 0);
		ck_assert_ptr_null(id);
		ck_assert_msg(strstr(err, "clock") != NULL, "%s", err);
		free(err);
	}
	free(h);
}
END_TEST

#define SIG64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Malformed headers, each with a word the error message must contain. */
static const struct malformed {
	const char *header;
	const char *expect;
} malformed[] = {
	{ NULL, "missing" },
	{ "", "missing" },
	{ "Bearer abc", "not a Kiln-HMAC" },
	{ "Kiln-HMAC", "not a Kiln-HMAC" },
	{ "kiln-hmac id=a,ts=1,sig=" SIG64, "not a Kiln-HMAC" },
	{ "Kiln-HMAC ", "id=" },
	{ "Kiln-HMAC ts=1795939262000,sig=" SIG64, "id=" },
	{ "Kiln-HMAC id=,ts=1795939262000,sig=" SIG64, "id" },
	{ "Kiln-HMAC id=a b,ts=1795939262000,sig=" SIG64, "id" },
	{ "Kiln-HMAC id=a/b,ts=1795939262000,sig=" SIG64, "id" },
	{ "Kiln-HMAC id=cli,sig=" SIG64, "ts=" },
	{ "Kiln-HMAC id=cli,ts=,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=-5,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=01795939262000,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=17959x39262000,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=1234567890123456789,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=1795939262000", "sig=" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=", "sig" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=abc", "sig" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=" SIG64 "0", "sig" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=" SIG64 " ", "sig" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig="
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", "sig" },
	{ "Kiln-HMAC sig=" SIG64 ",ts=1795939262000,id=cli", "id=" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=" SIG64 ",x=1", "sig" },
	/* id of 65 characters */
	{ "Kiln-HMAC id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
	  "ts=1795939262000,sig=" SIG64, "longer than 64" },
};

START_TEST(test_malformed)
{
	const struct malformed *m = &malformed[_i];
	char *id = NULL, *err = NULL;

	int rc = auth_verify(SECRET, m->header, "GET", "/", "", 0, T0, &id, &err);
	ck_assert_msg(rc < 0, "accepted '%s'", m->header);
	ck_assert_ptr_null(id);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, m->expect) != NULL,
	              "'%s': error '%s' lacks '%s'", m->header, err, m->expect);
	free(err);
}
END_TEST

/* Over-long headers are refused before parsing, whatever they hold. */
START_TEST(test_overlong)
{
	char *id = NULL, *err = NULL;
	size_t n = 100000;
	char *h = xmalloc(n + 1);

	memset(h, 'a', n);
	memcpy(h, "Kiln-HMAC id=", 13);
	h[n] = '\0';
	ck_assert_int_lt(auth_verify(SECRET, h, "GET", "/", "", 0, T0, &id,
	                             &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	free(err);
	free(h);
}
END_TEST

/* A 64-character id is the longest accepted. */
START_TEST(test_id_limits)
{
	const char *id64 =
	        "aZ09_.-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char *id = NULL, *err = NULL;

	ck_assert_uint_eq(strlen(id64), 64);
	char *h = auth_sign(SECRET, id64, "GET", "/", NULL, 0, T0);
	ck_assert_int_eq(auth_verify(SECRET, h, "GET", "/", NULL, 0, T0, &id,
	                             &err), 0);
	ck_assert_str_eq(id, id64);
	free(id);
	free(h);
}
END_TEST

static int
is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

START_TEST(test_token)
{
	char *tok = NULL, *hash = NULL, *tok2 = NULL, *hash2 = NULL;

	auth_token_new(&tok, &hash);
	auth_token_new(&tok2, &hash2);
	ck_assert(is_hex64(tok));
	ck_assert(is_hex64(hash));
	ck_assert_str_ne(tok, tok2);
	ck_assert_str_ne(hash, hash2);
	ck_assert_str_ne(tok, hash);

	char *again = auth_token_hash(tok);
	ck_assert_str_eq(again, hash);
	free(again);

	/* SHA-256("abc"), the FIPS 180-2 test vector. */
	char *abc = auth_token_hash("abc");
	ck_assert_str_eq(abc, "ba7816bf8f01cfea414140de5dae2223"
	                      "b00361a396177a9cb410ff61f20015ad");
	free(abc);
	free(tok);
	free(hash);
	free(tok2);
	free(hash2);
}
END_TEST

START_TEST(test_random_hex)
{
	char *a = hash_random_hex(16), *b = hash_random_hex(16);
	char *z = hash_random_hex(0);

	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
	ck_assert_str_eq(z, "");
	free(a);
	free(b);
	free(z);
}
END_TEST

/* Content hashes: one shot and in pieces agree; names are checked. */
START_TEST(test_hashes)
{
	char *one = hash_hex("hello, world", 12);
	hash_stream *h = hash_stream_new();
	hash_stream_add(h, "hello", 5);
	hash_stream_add(h, "", 0);
	hash_stream_add(h, ", world", 7);
	char *pieces = hash_stream_hex(h);
	ck_assert_str_eq(one, pieces);
	ck_assert_str_eq(one, "09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b");
	ck_assert(hash_is_hex(one));
	one[63] = 'A';
	ck_assert(!hash_is_hex(one));          /* uppercase */
	one[63] = '\0';
	ck_assert(!hash_is_hex(one));          /* 63 chars */
	ck_assert(!hash_is_hex("../../etc/passwd"));
	ck_assert(!hash_is_hex(""));
	free(one);
	free(pieces);
}
END_TEST

START_TEST(test_clocks)
{
	int64_t t = clock_now_ms(), m1 = clock_mono_ms(), m2 = clock_mono_ms();

	ck_assert_int_gt(t, 1700000000000LL);	/* after 2023 */
	ck_assert_int_ge(m2, m1);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_empty_body);
	tcase_add_loop_test(tc, test_tampered_request, 0,
	                    sizeof tampers / sizeof tampers[0]);
	tcase_add_test(tc, test_tampered_header);
	tcase_add_loop_test(tc, test_skew, 0, sizeof skews / sizeof skews[0]);
	tcase_add_loop_test(tc, test_malformed, 0,
	                    sizeof malformed / sizeof malformed[0]);
	tcase_add_test(tc, test_overlong);
	tcase_add_test(tc, test_id_limits);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_random_hex);
	tcase_add_test(tc, test_hashes);
	tcase_add_test(tc, test_clocks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
