/* SPDX-License-Identifier: MIT */
/*
 * tls-test.c - the cluster CA (src/cert.c), the master's certificate and
 * TLS between src/client.c and src/http.c: a real HTTPS server on an
 * ephemeral port of 127.0.0.1, and clients that must accept it only when
 * it proves itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "cert.h"
#include "client.h"
#include "fs.h"
#include "http.h"
#include "testutil.h"
#include "xalloc.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define OTHER  "fedcba9876543210fedcba9876543210"

static void
hello(http_req *r, void *ud)
{
	(void)ud;
	http_reply_json(r, 200, json_pack("{s:s,s:s}", "hello", "tls",
	                                  "path", http_path(r)));
}

/* An HTTPS server for NAMES, its certificate made in DIR from SECRET's
 * CA. */
static http_server *
serve(const char *dir, const char *secret, const char *const *names,
      size_t n)
{
	char *chain = NULL, *key = NULL, *what = NULL, *err = NULL;
	http_server *s = NULL;

	ck_assert_msg(cert_server(dir, secret, names, n, 0, &chain, &key,
	                          &what, &err) == 0, "%s", err);
	struct http_opts o = { .listen = "127.0.0.1", .port = 0, .threads = 2,
	                       .tls_cert_pem = chain, .tls_key_pem = key };
	ck_assert_msg(http_start(&o, hello, NULL, &s, &err) == 0, "%s", err);
	ck_assert(http_is_tls(s));
	free(chain);
	free(key);
	free(what);
	return s;
}

/* GET / through a client for URL trusting SECRET's CA (or CA_FILE):
 * the client's return code, with *err. */
static int
get(const char *url, const char *secret, const char *ca_file, long *status,
    char **err)
{
	client *c;
	json_t *reply = NULL;

	ck_assert(client_new(url, "t", NULL, NULL, &c, err) == 0);
	client_set_ca(c, ca_file, secret);
	int rc = client_request(c, "GET", "/x", NULL, 3000, status, &reply, err);
	if (rc == 0)
		ck_assert_str_eq(json_string_value(json_object_get(reply,
		                                   "hello")), "tls");
	json_decref(reply);
	/* A second request travels on the kept-alive session. */
	if (rc == 0) {
		rc = client_request(c, "GET", "/y", NULL, 3000, status, &reply,
		                    err);
		json_decref(reply);
	}
	client_free(c);
	return rc;
}

/* Every holder of the secret derives the same CA; another secret, another. */
START_TEST(ca_is_derived)
{
	char *a = NULL, *b = NULL, *c = NULL, *err = NULL, *text = NULL;

	ck_assert_msg(cert_ca_pem(SECRET, &a, &err) == 0, "%s", err);
	ck_assert(cert_ca_pem(SECRET, &b, &err) == 0);
	ck_assert(cert_ca_pem(OTHER, &c, &err) == 0);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert(strncmp(a, "-----BEGIN CERTIFICATE-----", 27) == 0);
	ck_assert(cert_describe(a, &text, &err) == 0);
	ck_assert_ptr_nonnull(strstr(text, "kiln cluster CA"));
	ck_assert_ptr_nonnull(strstr(text, "sha256:"));
	free(text);
	ck_assert(cert_describe("not a certificate", &text, &err) < 0);
	ck_assert_ptr_nonnull(err);
	free(err);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* The server's key and certificate: made once, then loaded; made again
 * for a new name, a new secret, or when rotated. */
START_TEST(server_cert_lifecycle)
{
	char dir[64], *chain, *key, *what, *err = NULL, *key1, *text;
	const char *names[] = { "127.0.0.1", "master.example", "::1" };
	struct stat st;

	tu_tmpdir(dir, sizeof dir, "tls");
	char *tls = xasprintf("%s/tls", dir);
	ck_assert_msg(cert_server(tls, SECRET, names, 2, 0, &chain, &key, &what,
	                          &err) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(what, "first start"));
	char *kpath = xasprintf("%s/server.key", tls);
	ck_assert(stat(kpath, &st) == 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert(stat(tls, &st) == 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert(cert_describe(chain, &text, &err) == 0);
	ck_assert_ptr_nonnull(strstr(text, "master.example"));
	ck_assert_ptr_nonnull(strstr(text, "127.0.0.1"));
	free(text);
	key1 = key;
	free(chain);
	free(what);

	ck_assert(cert_server(tls, SECRET, names, 2, 0, &chain, &key, &what,
	                      &err) == 0);
	ck_assert_msg(strncmp(what, "loaded", 6) == 0, "%s", what);
	ck_assert_str_eq(key, key1);
	free(chain); free(key); free(what);

	ck_assert(cert_server(tls, SECRET, names, 3, 0, &chain, &key, &what,
	                      &err) == 0);
	ck_assert_msg(strstr(what, "lacks a name") != NULL, "%s", what);
	ck_assert_str_eq(key, key1);
	free(chain); free(key); free(what);

	ck_assert(cert_server(tls, OTHER, names, 3, 0, &chain, &key, &what,
	                      &err) == 0);
	ck_assert_msg(strstr(what, "not from this cluster's CA") != NULL, "%s",
	              what);
	free(chain); free(key); free(what);

	ck_assert(cert_server(tls, OTHER, names, 3, 1, &chain, &key, &what,
	                      &err) == 0);
	ck_assert_msg(strstr(what, "rotated") != NULL, "%s", what);
	ck_assert_str_ne(key, key1);
	free(chain); free(key); free(what);

	/* A damaged key is an error that says what to do, not a new key
	 * made behind the operator's back. */
	ck_assert(fs_write_file(kpath, "garbage", 7, 0600, &err) == 0);
	ck_assert(cert_server(tls, OTHER, names, 3, 0, &chain, &key, &what,
	                      &err) < 0);
	ck_assert_ptr_nonnull(strstr(err, "kiln cert rotate"));
	free(err);
	free(key1);
	free(kpath);
	free(tls);
	tu_rmtree(dir);
}
END_TEST

/* A client trusting the cluster CA talks to the master; one trusting
 * another CA, the system's store, or dialling a name the certificate
 * does not carry is refused with the reason. */
START_TEST(client_verifies_master)
{
	char dir[64], *err = NULL, *url;
	const char *names[] = { "127.0.0.1", "localhost" };
	long status = 0;

	tu_tmpdir(dir, sizeof dir, "tls");
	http_server *s = serve(dir, SECRET, names, 2);
	url = xasprintf("https://127.0.0.1:%d", http_port(s));
	ck_assert_msg(get(url, SECRET, NULL, &status, &err) == 0, "%s", err);
	ck_assert_int_eq(status, 200);

	ck_assert_int_eq(get(url, OTHER, NULL, &status, &err), -EACCES);
	ck_assert_msg(strstr(err, "refusing the master") != NULL &&
	              strstr(err, "NOT trusted") != NULL, "%s", err);
	free(err);
	err = NULL;

	/* No secret: the system's CAs, which never signed this. */
	ck_assert_int_eq(get(url, NULL, NULL, &status, &err), -EACCES);
	free(err);
	err = NULL;

	/* The cluster CA as a file, as `kiln cert ca` writes it. */
	char *pem = NULL, *ca = xasprintf("%s/ca.pem", dir);
	ck_assert(cert_ca_pem(SECRET, &pem, &err) == 0);
	ck_assert(fs_write_file(ca, pem, strlen(pem), 0644, &err) == 0);
	ck_assert_msg(get(url, NULL, ca, &status, &err) == 0, "%s", err);
	free(pem);
	free(ca);
	http_stop(s);
	free(url);

	/* A certificate for another name. */
	const char *elsewhere[] = { "master.example" };
	char dir2[64];
	tu_tmpdir(dir2, sizeof dir2, "tls");
	s = serve(dir2, SECRET, elsewhere, 1);
	url = xasprintf("https://127.0.0.1:%d", http_port(s));
	ck_assert_int_eq(get(url, SECRET, NULL, &status, &err), -EACCES);
	ck_assert_msg(strstr(err, "does not match") != NULL, "%s", err);
	free(err);
	err = NULL;
	free(url);

	/* Plain HTTP to a TLS port is not an answer either. */
	url = xasprintf("http://127.0.0.1:%d", http_port(s));
	ck_assert_int_lt(get(url, SECRET, NULL, &status, &err), 0);
	free(err);
	free(url);
	http_stop(s);
	tu_rmtree(dir);
	tu_rmtree(dir2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ca_is_derived);
	tcase_add_test(tc, server_cert_lifecycle);
	tcase_add_test(tc, client_verifies_master);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
