/* SPDX-License-Identifier: MIT */
/*
 * gzip-test.c - gzip for HTTP replies (src/gzip.c): which Accept-Encoding
 * values accept gzip (q=0 refuses it), and a compressed reply unzips to
 * the bytes it was made from.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"

static const struct { const char *ae; int yes; } cases[] = {
	{ NULL, 0 }, { "", 0 }, { "identity", 0 }, { "br", 0 },
	{ "gzip", 1 }, { "GZIP", 1 }, { "x-gzip", 1 }, { "*", 1 },
	{ "gzip, deflate, br", 1 }, { "br, gzip", 1 }, { "deflate,gzip;q=0.5", 1 },
	{ "gzip;q=0", 0 }, { "gzip; q=0.000", 0 }, { "gzip;q=0.001", 1 },
	{ "gzipped", 0 }, { "agzip", 0 }, { "br;q=1, gzip;q=0", 0 },
};

START_TEST(test_accepted)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(gzip_accepted(cases[i].ae) == cases[i].yes,
		              "Accept-Encoding '%s'", cases[i].ae ? cases[i].ae : "(none)");
}
END_TEST

START_TEST(test_roundtrip)
{
	size_t len = 100000;
	char *in = malloc(len);
	for (size_t i = 0; i < len; i++)
		in[i] = "{\"state\":\"success\",\"job_id\":"[i % 29];
	unsigned char *gz;
	size_t n;
	ck_assert_int_eq(gzip_compress(in, len, &gz, &n), 0);
	ck_assert(n < len / 10);
	ck_assert(gz[0] == 0x1f && gz[1] == 0x8b);      /* the gzip magic */
	char *back = malloc(len);
	z_stream z = { 0 };
	ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)n;
	z.next_out = (unsigned char *)back;
	z.avail_out = (uInt)len;
	ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	ck_assert_uint_eq(z.total_out, len);
	inflateEnd(&z);
	ck_assert(memcmp(in, back, len) == 0);
	free(in);
	free(back);
	free(gz);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gzip");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_accepted);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
