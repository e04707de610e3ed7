/* SPDX-License-Identifier: MIT */
/*
 * alert-test.c - the webhook signature of alert.c: HMAC-SHA256 against
 * RFC 4231's vectors, and the key derived from the cluster secret as
 * docs/pipelines.md tells receivers to compute it.
 */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"

static const struct {
	const char *key, *data, *mac;
} vectors[] = {
	/* RFC 4231, test case 2 */
	{ "Jefe", "what do ya want for nothing?", "sha256="
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
};

START_TEST(test_sign)
{
	char *got = alert_sign(vectors[0].key, vectors[0].data,
	                       strlen(vectors[0].data));
	ck_assert_str_eq(got, vectors[0].mac);
	free(got);
	/* The body's bytes, not up to a NUL. */
	got = alert_sign("Jefe", "what do ya want for nothing?xyz", 28);
	ck_assert_str_eq(got, vectors[0].mac);
	free(got);
	got = alert_sign("k", "", 0);
	ck_assert_int_eq(strlen(got), 7 + 64);
	ck_assert_int_eq(strncmp(got, "sha256=", 7), 0);
	free(got);
}
END_TEST

START_TEST(test_key)
{
	char hex[65], want[65];
	unsigned char h[crypto_hash_sha256_BYTES];
	const char *msg = "kiln-webhook:s3cret";
	crypto_hash_sha256(h, (const unsigned char *)msg, strlen(msg));
	sodium_bin2hex(want, sizeof want, h, sizeof h);
	alert_key_hex("s3cret", hex);
	ck_assert_str_eq(hex, want);
	alert_key_hex("other", want);
	ck_assert_str_ne(hex, want);
}
END_TEST

int
main(void)
{
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_sign);
	tcase_add_test(tc, test_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
