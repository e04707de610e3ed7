/* SPDX-License-Identifier: MIT */
/*
 * auth-test.c - request signing (Kiln-HMAC), reply signing and API
 * tokens: a signed request verifies, and any change to what was signed
 * (the host and the nonce too), the clock or the header's syntax is
 * refused with a message that says why; a reply's signature holds only
 * for its nonce, status and body.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
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
#define HOST   "master.example:8080"
#define NONCE  "0123456789abcdef.42"
#define PATHQ  "/api/v1/jobs?x=1"

/* A request as the tests sign and verify it. */
static struct auth_req
req(const char *method, const char *host, const char *path, const char *body)
{
	return (struct auth_req){ .method = method, .host = host, .path = path,
	                          .body = body,
	                          .len = body != NULL ? strlen(body) : 0 };
}

/* The default request. */
static struct auth_req
req0(void)
{
	return req("POST", HOST, PATHQ, BODY);
}

/* auth_verify of HEADER against request Q at NOW; the signer in *W. */
static int
verify(const char *secret, const char *header, struct auth_req q,
       int64_t now, struct auth_signer *w, char **err)
{
	return auth_verify(secret, header, &q, now, w, err);
}

static void
setup(void)
{
	ck_assert_int_eq(auth_init(), 0);
}

static char *
sign_default(void)
{
	struct auth_req q = req0();
	return auth_sign(SECRET, "worker-1", NONCE, &q, T0);
}

#define HEAD0 "Kiln-HMAC id=worker-1,ts=1795939262000,nonce=" NONCE ",sig="

START_TEST(test_round_trip)
{
	char *h = sign_default(), *err = NULL;
	struct auth_signer w;

	ck_assert_int_eq(strncmp(h, HEAD0, strlen(HEAD0)), 0);
	ck_assert_uint_eq(strlen(h), strlen(HEAD0) + 64);
	ck_assert_int_eq(verify(SECRET, h, req0(), T0 + 1000, &w, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(w.id, "worker-1");
	ck_assert_int_eq(w.ts, T0);
	ck_assert_str_eq(w.nonce, NONCE);
	ck_assert(w.session == 0x0123456789abcdefull);
	ck_assert(w.counter == 42);
	free(h);
}
END_TEST

/* Nonces as clients make them, and the largest parsed back. */
START_TEST(test_nonce)
{
	char n[AUTH_NONCE_MAX + 1], *err = NULL;
	struct auth_signer w;
	struct auth_req q = req("GET", HOST, "/", NULL);

	auth_nonce(n, 0xfedcba9876543210ull, 1);
	ck_assert_str_eq(n, "fedcba9876543210.1");
	auth_nonce(n, 7, 9999999999999999999ull);
	ck_assert_str_eq(n, "0000000000000007.9999999999999999999");
	ck_assert_uint_eq(strlen(n), AUTH_NONCE_MAX);
	char *h = auth_sign(SECRET, "cli", n, &q, T0);
	ck_assert_int_eq(verify(SECRET, h, q, T0, &w, &err), 0);
	ck_assert(w.session == 7);
	ck_assert(w.counter == 9999999999999999999ull);
	free(h);
	ck_assert(auth_session_new() != auth_session_new());
}
END_TEST

/* Signing is deterministic: same inputs, same header. */
START_TEST(test_deterministic)
{
	char *a = sign_default(), *b = sign_default();
	struct auth_req q = req0();
	char *c = auth_sign(SECRET, "worker-1", NONCE, &q, T0 + 1);

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
	struct auth_req q = req("GET", HOST, "/api/v1/workers", NULL);
	char *h = auth_sign(SECRET, "cli", NONCE, &q, T0);
	char *err = NULL;
	struct auth_signer w;

	ck_assert_int_eq(verify(SECRET, h, req("GET", HOST, "/api/v1/workers", ""),
	                        T0, &w, &err), 0);
	ck_assert_str_eq(w.id, "cli");
	free(h);
}
END_TEST

/* Each row changes one thing the signature covers. */
static const struct tamper {
	const char *what;
	const char *secret, *method, *host, *path, *body;
} tampers[] = {
	{ "body",   SECRET, "POST", HOST, PATHQ, "{\"plugin\":\"nooq\"}" },
	{ "path",   SECRET, "POST", HOST, "/api/v1/jobz?x=1", BODY },
	{ "query",  SECRET, "POST", HOST, "/api/v1/jobs?x=2", BODY },
	{ "method", SECRET, "PUT",  HOST, PATHQ, BODY },
	{ "secret", "other", "POST", HOST, PATHQ, BODY },
	{ "nobody", SECRET, "POST", HOST, PATHQ, "" },
	{ "host",   SECRET, "POST", "evil.example:8080", PATHQ, BODY },
	{ "port",   SECRET, "POST", "master.example:8081", PATHQ, BODY },
	{ "no host", SECRET, "POST", NULL, PATHQ, BODY },
	{ "host case", SECRET, "POST", "Master.example:8080", PATHQ, BODY },
};

START_TEST(test_tampered_request)
{
	const struct tamper *t = &tampers[_i];
	char *h = sign_default(), *err = NULL;
	struct auth_signer w;

	int rc = verify(t->secret, h, req(t->method, t->host, t->path, t->body),
	                T0, &w, &err);
	ck_assert_msg(rc < 0, "tampered %s accepted", t->what);
	ck_assert_str_eq(w.id, "");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "signature") != NULL, "%s: %s", t->what, err);
	free(err);
	free(h);
}
END_TEST

/* Change one field of a valid header: id, ts, the nonce's session or
 * counter, or one sig digit. */
static const struct field {
	const char *what;
	const char *from, *to;
} fields[] = {
	{ "id",       "worker-1", "worker-2" },
	{ "ts",       "ts=1795939262000", "ts=1795939262001" }, /* within skew */
	{ "session",  "nonce=0123456789abcdef", "nonce=0123456789abcdee" },
	{ "counter",  ".42,", ".43," },
	{ "counter length", ".42,", ".420," },
};

START_TEST(test_tampered_header)
{
	const struct field *f = &fields[_i];
	char *h = sign_default(), *err = NULL;
	struct auth_signer w;
	char *at = strstr(h, f->from);

	ck_assert_ptr_nonnull(at);
	*at = '\0';
	char *bad = xasprintf("%s%s%s", h, f->to, at + strlen(f->from));
	ck_assert_int_lt(verify(SECRET, bad, req0(), T0, &w, &err), 0);
	ck_assert_msg(strstr(err, "signature") != NULL, "%s: %s", f->what, err);
	ck_assert_str_eq(w.id, "");
	free(err);
	free(bad);
	free(h);
}
END_TEST

START_TEST(test_tampered_sig)
{
	char *h = sign_default(), *err = NULL;
	struct auth_signer w;
	char *last = h + strlen(h) - 1;

	*last = *last == '0' ? '1' : '0';
	ck_assert_int_lt(verify(SECRET, h, req0(), T0, &w, &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "signature"));
	ck_assert_ptr_nonnull(strstr(err, HOST));       /* which host it saw */
	free(err);
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
	char *h = sign_default(), *err = NULL;
	struct auth_signer w;

	int rc = verify(SECRET, h, req0(), s->now, &w, &err);
	if (s->ok) {
		ck_assert_int_eq(rc, 0);
	} else {
		ck_assert_int_lt(rc, 0);
		ck_assert_str_eq(w.id, "");
		ck_assert_msg(strstr(err, "clock") != NULL, "%s", err);
		free(err);
	}
	free(h);
}
END_TEST

#define SIG64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TSN   "ts=1795939262000,nonce=0123456789abcdef.1"

/* Malformed headers, each with a word the error message must contain. */
static const struct malformed {
	const char *header;
	const char *expect;
} malformed[] = {
	{ NULL, "missing" },
	{ "", "missing" },
	{ "Bearer abc", "not a Kiln-HMAC" },
	{ "Kiln-HMAC", "not a Kiln-HMAC" },
	{ "kiln-hmac id=a," TSN ",sig=" SIG64, "not a Kiln-HMAC" },
	{ "Kiln-HMAC ", "id=" },
	{ "Kiln-HMAC " TSN ",sig=" SIG64, "id=" },
	{ "Kiln-HMAC id=," TSN ",sig=" SIG64, "id" },
	{ "Kiln-HMAC id=a b," TSN ",sig=" SIG64, "id" },
	{ "Kiln-HMAC id=a/b," TSN ",sig=" SIG64, "id" },
	{ "Kiln-HMAC id=cli,sig=" SIG64, "ts=" },
	{ "Kiln-HMAC id=cli,ts=,nonce=0123456789abcdef.1,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=-5,nonce=0123456789abcdef.1,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=01795939262000,nonce=0123456789abcdef.1,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=17959x39262000,nonce=0123456789abcdef.1,sig=" SIG64, "ts" },
	{ "Kiln-HMAC id=cli,ts=1234567890123456789,nonce=0123456789abcdef.1,sig=" SIG64, "ts" },
	/* the nonce */
	{ "Kiln-HMAC id=cli,ts=1795939262000,sig=" SIG64, "nonce=" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=,sig=" SIG64, "nonce" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef,sig=" SIG64, "nonce" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcde.1,sig=" SIG64, "nonce" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef0.1,sig=" SIG64, "nonce" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789ABCDEF.1,sig=" SIG64, "nonce" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef.,sig=" SIG64, "counter" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef.01,sig=" SIG64, "counter" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef.-1,sig=" SIG64, "counter" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef.12345678901234567890,sig=" SIG64, "counter" },
	{ "Kiln-HMAC id=cli,ts=1795939262000,nonce=0123456789abcdef.1x,sig=" SIG64, "sig=" },
	{ "Kiln-HMAC id=cli," TSN, "sig=" },
	{ "Kiln-HMAC id=cli," TSN ",sig=", "sig" },
	{ "Kiln-HMAC id=cli," TSN ",sig=abc", "sig" },
	{ "Kiln-HMAC id=cli," TSN ",sig=" SIG64 "0", "sig" },
	{ "Kiln-HMAC id=cli," TSN ",sig=" SIG64 " ", "sig" },
	{ "Kiln-HMAC id=cli," TSN ",sig="
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", "sig" },
	{ "Kiln-HMAC sig=" SIG64 ",nonce=0123456789abcdef.1,ts=1795939262000,id=cli", "id=" },
	{ "Kiln-HMAC id=cli,nonce=0123456789abcdef.1,ts=1795939262000,sig=" SIG64, "ts=" },
	{ "Kiln-HMAC id=cli," TSN ",sig=" SIG64 ",x=1", "sig" },
	/* id of 65 characters */
	{ "Kiln-HMAC id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,"
	  TSN ",sig=" SIG64, "longer than 64" },
};

START_TEST(test_malformed)
{
	const struct malformed *m = &malformed[_i];
	char *err = NULL;
	struct auth_signer w;

	int rc = verify(SECRET, m->header, req("GET", HOST, "/", ""), T0, &w, &err);
	ck_assert_msg(rc < 0, "accepted '%s'", m->header);
	ck_assert_str_eq(w.id, "");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, m->expect) != NULL,
	              "'%s': error '%s' lacks '%s'", m->header, err, m->expect);
	free(err);
}
END_TEST

/* Over-long headers are refused before parsing, whatever they hold. */
START_TEST(test_overlong)
{
	char *err = NULL;
	struct auth_signer w;
	size_t n = 100000;
	char *h = xmalloc(n + 1);

	memset(h, 'a', n);
	memcpy(h, "Kiln-HMAC id=", 13);
	h[n] = '\0';
	ck_assert_int_lt(verify(SECRET, h, req("GET", HOST, "/", ""), T0, &w,
	                        &err), 0);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	free(err);
	err = NULL;

	/* A Host header that could not have come from a client's URL. */
	char *sig = sign_default();
	memset(h, 'h', 300);
	h[300] = '\0';
	const char *const hosts[] = { "a b:80", "a\tb", "a\x7f", h };
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		ck_assert_int_eq(verify(SECRET, sig, req("POST", hosts[i], PATHQ,
		                        BODY), T0, &w, &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "Host"));
		free(err);
		err = NULL;
	}
	free(sig);
	free(h);
}
END_TEST

/* A 64-character id is the longest accepted. */
START_TEST(test_id_limits)
{
	const char *id64 =
	        "aZ09_.-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char *err = NULL;
	struct auth_signer w;
	char n[AUTH_NONCE_MAX + 1];
	struct auth_req q = req("GET", "[::1]:65535", "/", NULL);

	ck_assert_uint_eq(strlen(id64), 64);
	auth_nonce(n, UINT64_MAX, 9999999999999999999ull);
	char *h = auth_sign(SECRET, id64, n, &q, T0);
	ck_assert_int_eq(verify(SECRET, h, q, T0, &w, &err), 0);
	ck_assert_str_eq(w.id, id64);
	/* The longest valid header fits the parser's bound. */
	ck_assert_uint_le(strlen(h), 256);
	free(h);
}
END_TEST

/* A reply's signature: over the nonce, the status and the body's hash,
 * under the secret; nothing else verifies. */
START_TEST(test_reply_sig)
{
	char *body = hash_hex("{\"ok\":1}", 8), *other = hash_hex("{}", 2);
	char *sig = auth_reply_sign(SECRET, NONCE, 200, body);

	ck_assert_uint_eq(strlen(sig), AUTH_REPLY_SIG_HEX);
	ck_assert_int_eq(auth_reply_verify(SECRET, sig, NONCE, 200, body), 0);
	ck_assert_int_eq(auth_reply_verify("other", sig, NONCE, 200, body), -EACCES);
	ck_assert_int_eq(auth_reply_verify(SECRET, sig, "0123456789abcdef.43", 200,
	                                   body), -EACCES);
	ck_assert_int_eq(auth_reply_verify(SECRET, sig, NONCE, 201, body), -EACCES);
	ck_assert_int_eq(auth_reply_verify(SECRET, sig, NONCE, 200, other), -EACCES);
	ck_assert_int_eq(auth_reply_verify(SECRET, NULL, NONCE, 200, body), -EACCES);
	ck_assert_int_eq(auth_reply_verify(SECRET, "", NONCE, 200, body), -EACCES);
	char *up = xstrdup(sig);
	for (char *p = up; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	ck_assert_int_eq(auth_reply_verify(SECRET, up, NONCE, 200, body), 0);
	char *longer = xasprintf("%s0", sig);
	ck_assert_int_eq(auth_reply_verify(SECRET, longer, NONCE, 200, body), -EACCES);
	sig[10] = sig[10] == '0' ? '1' : '0';
	ck_assert_int_eq(auth_reply_verify(SECRET, sig, NONCE, 200, body), -EACCES);

	/* A request's signature is never a reply's: the request signed
	 * with method "reply" and the nonce as its host does not verify. */
	struct auth_req q = req("reply", NONCE, "200", NULL);
	char *h = auth_sign(SECRET, "x", NONCE, &q, T0);
	const char *rsig = strstr(h, ",sig=") + 5;
	ck_assert_int_eq(auth_reply_verify(SECRET, rsig, NONCE, 200, body), -EACCES);
	free(h);
	free(longer);
	free(up);
	free(sig);
	free(body);
	free(other);
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
	tcase_add_test(tc, test_nonce);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_empty_body);
	tcase_add_loop_test(tc, test_tampered_request, 0,
	                    sizeof tampers / sizeof tampers[0]);
	tcase_add_loop_test(tc, test_tampered_header, 0,
	                    sizeof fields / sizeof fields[0]);
	tcase_add_test(tc, test_tampered_sig);
	tcase_add_test(tc, test_reply_sig);
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
