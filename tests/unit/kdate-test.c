/* SPDX-License-Identifier: MIT */
/*
 * kdate-test.c - unit tests of lib/kdate/kdate.h: reading dates in the
 * forms CSV files write them (a table: ISO 8601, YYYYMMDD, Mon-D-YYYY,
 * formats, leap days, month ends, offsets, and what is not a date), the
 * way back to text, and frequency inference and continuation (daily,
 * weekly, monthly, month ends, quarterly, yearly, a fixed step, and the
 * duplicated, unsorted and irregular series it refuses).
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kdate/kdate.h"

/* ------------------------------------------------------------ parsing */

static const struct parse_case {
	const char *text;
	const char *fmt;        /* NULL: the automatic forms */
	int rc;                 /* 0, -1 or -2 */
	const char *want;       /* as kdate_format(.., 0, ..) writes it */
} parse_cases[] = {
	{ "1995-01-01", NULL, 0, "1995-01-01T00:00:00" },
	{ "1970-01-01", NULL, 0, "1970-01-01T00:00:00" },
	{ "1969-12-31", NULL, 0, "1969-12-31T00:00:00" },   /* negative */
	{ "1700-03-01", NULL, 0, "1700-03-01T00:00:00" },
	{ "2024-02-29", NULL, 0, "2024-02-29T00:00:00" },   /* leap day */
	{ "2000-02-29", NULL, 0, "2000-02-29T00:00:00" },   /* 400 rule */
	{ "1900-02-29", NULL, -1, NULL },                    /* 100 rule */
	{ "2023-02-29", NULL, -1, NULL },
	{ "2024-04-31", NULL, -1, NULL },                    /* month end */
	{ "2024-12-31", NULL, 0, "2024-12-31T00:00:00" },
	{ "2024-13-01", NULL, -1, NULL },
	{ "2024-00-10", NULL, -1, NULL },
	{ "2024-01-00", NULL, -1, NULL },
	{ "2024-1-5", NULL, 0, "2024-01-05T00:00:00" },
	{ "2024-03", NULL, 0, "2024-03-01T00:00:00" },
	{ "2024-03-10T14:30:15", NULL, 0, "2024-03-10T14:30:15" },
	{ "2024-03-10 14:30:15", NULL, 0, "2024-03-10T14:30:15" },
	{ "2024-03-10T14:30", NULL, 0, "2024-03-10T14:30:00" },
	{ "2024-03-10T14:30:15.25", NULL, 0, "2024-03-10T14:30:15.25" },
	{ "2024-03-10T14:30:15Z", NULL, 0, "2024-03-10T14:30:15" },
	{ "2024-03-10T14:30:15+01:00", NULL, 0, "2024-03-10T13:30:15" },
	{ "2024-03-10T00:30:00+0200", NULL, 0, "2024-03-09T22:30:00" },
	{ "2024-12-31T23:00:00-05", NULL, 0, "2025-01-01T04:00:00" },
	{ "2024-03-10T14:30:15 CET", NULL, -1, NULL },      /* zone names */
	{ "2024-03-10T14:30:15+25:00", NULL, -1, NULL },
	{ "2024-03-10T24:00:00", NULL, -1, NULL },
	{ "2024-03-10T12:60:00", NULL, -1, NULL },
	{ "19580329", NULL, 0, "1958-03-29T00:00:00" },
	{ "20240229", NULL, 0, "2024-02-29T00:00:00" },
	{ "20230229", NULL, -1, NULL },
	{ "12345678", NULL, -1, NULL },                      /* year 1234 */
	{ "1958032", NULL, -1, NULL },
	{ "195803290", NULL, -1, NULL },
	{ "Jan-1-1995", NULL, 0, "1995-01-01T00:00:00" },
	{ "Feb-29-1996", NULL, 0, "1996-02-29T00:00:00" },
	{ "Feb-29-1995", NULL, -1, NULL },
	{ "dec-31-1999", NULL, 0, "1999-12-31T00:00:00" },
	{ "September-05-2001", NULL, 0, "2001-09-05T00:00:00" },
	{ "Foo-1-1995", NULL, -1, NULL },
	{ "1995", NULL, -1, NULL },                          /* a number */
	{ "10-12", NULL, -1, NULL },                         /* a range */
	{ "north", NULL, -1, NULL },
	{ "", NULL, -1, NULL },
	{ "2024-03-10x", NULL, -1, NULL },
	{ "31/12/1999", "%d/%m/%Y", 0, "1999-12-31T00:00:00" },
	{ "31/11/1999", "%d/%m/%Y", -1, NULL },
	{ "12/31/99", "%m/%d/%y", 0, "1999-12-31T00:00:00" },
	{ "01/02/03", "%d/%m/%y", 0, "2003-02-01T00:00:00" },
	{ "1 March 2020 07:05", "%d %B %Y %H:%M", 0, "2020-03-01T07:05:00" },
	{ "1   March 2020", "%d %B %Y", 0, "2020-03-01T00:00:00" },
	{ "2020-03-01 07:05:09", "%F %T", 0, "2020-03-01T07:05:09" },
	{ "2020-03-01T07:05:09+05:30", "%FT%T%z", 0, "2020-03-01T01:35:09" },
	{ "2019", "%Y", 0, "2019-01-01T00:00:00" },
	{ "100%", "100%%", 0, "1970-01-01T00:00:00" },
	{ "2019", "%Q", -2, NULL },
};

START_TEST(test_parse_table)
{
	const struct parse_case *c = &parse_cases[_i];
	double t = NAN;
	int rc = c->fmt ? kdate_parse_fmt(c->text, c->fmt, &t) :
	         kdate_parse(c->text, &t);
	ck_assert_msg(rc == c->rc, "'%s' (%s): rc %d, want %d", c->text,
	              c->fmt ? c->fmt : "auto", rc, c->rc);
	if (rc != 0)
		return;
	char buf[40];
	kdate_format(t, 0, buf, sizeof buf);
	ck_assert_msg(strcmp(buf, c->want) == 0, "'%s': %s, want %s", c->text,
	              buf, c->want);
}
END_TEST

START_TEST(test_parse_values)
{
	double t;
	ck_assert_int_eq(kdate_parse("1970-01-02", &t), 0);
	ck_assert(t == 86400.0);
	ck_assert_int_eq(kdate_parse("2000-03-01", &t), 0);
	ck_assert(t == 951868800.0);    /* date -ud 2000-03-01 +%s */
	ck_assert_int_eq(kdate_parse("1900-01-01", &t), 0);
	ck_assert(t == -2208988800.0);
	ck_assert(kdate_fmt_valid("%d/%m/%Y %H:%M:%S%z %F %T %%"));
	ck_assert(!kdate_fmt_valid("%Y-%j"));
	ck_assert(!kdate_fmt_valid("%Y%"));
}
END_TEST

/* Every day from 1583 to 2999 goes to a date and back unchanged. */
START_TEST(test_civil_round_trip)
{
	for (int64_t z = kdate_days(1583, 1, 1); z <= kdate_days(2999, 12, 31); z++) {
		int64_t y;
		int m, d;
		kdate_civil(z, &y, &m, &d);
		ck_assert(d >= 1 && d <= kdate_mdays(y, m));
		ck_assert(kdate_days(y, m, d) == z);
	}
}
END_TEST

START_TEST(test_format)
{
	char buf[40];
	double t;
	ck_assert_int_eq(kdate_parse("2024-02-29", &t), 0);
	kdate_format(t, 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "2024-02-29");
	double ts[] = { t, t + KDATE_DAY, NAN };
	ck_assert(kdate_whole_days(ts, 3));
	ts[1] += 1;
	ck_assert(!kdate_whole_days(ts, 3));
	kdate_format(NAN, 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	kdate_format(1e300, 0, buf, sizeof buf);       /* clamped, no UB */
	ck_assert(strlen(buf) > 10);
}
END_TEST

/* ------------------------------------------------------------ frequency */

static const struct freq_case {
	const char *times[6];   /* NULL-terminated */
	int calendar;
	int rc;                 /* 0 or enum kdate_bad */
	const char *name;
	int season;
	size_t bad;
	const char *next;       /* the time after the last, as a date */
} freq_cases[] = {
	{ { "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01" }, 1, 0,
	  "daily", 7, 0, "2024-03-02" },
	{ { "1958-03-29", "1958-04-05", "1958-04-12" }, 1, 0, "weekly", 52, 0,
	  "1958-04-19" },
	{ { "Jan-1-1995", "Feb-1-1995", "Mar-1-1995" }, 1, 0, "monthly", 12, 0,
	  "1995-04-01" },
	{ { "1995-11-15", "1995-12-15", "1996-01-15" }, 1, 0, "monthly", 12, 0,
	  "1996-02-15" },
	{ { "2023-12-31", "2024-01-31", "2024-02-29", "2024-03-31",
	    "2024-04-30" }, 1, 0, "monthly", 12, 0, "2024-05-31" },
	{ { "2024-01-31", "2024-02-29" }, 1, 0, "monthly", 12, 0, "2024-03-31" },
	{ { "2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31" }, 1, 0,
	  "quarterly", 4, 0, "2024-03-31" },
	{ { "2001-01-01", "2001-04-01", "2001-07-01" }, 1, 0, "quarterly", 4, 0,
	  "2001-10-01" },
	{ { "2020-02-29", "2021-02-28", "2022-02-28" }, 1, 0, "yearly", 1, 0,
	  "2023-02-28" },
	{ { "1999-01-01", "2000-01-01", "2001-01-01" }, 1, 0, "yearly", 1, 0,
	  "2002-01-01" },
	{ { "2020-01-01", "2020-03-01", "2020-05-01" }, 1, 0, "fixed step", 1, 0,
	  "2020-07-01" },     /* every 2 months */
	{ { "2020-01-01", "2020-01-11", "2020-01-21" }, 1, 0, "fixed step", 1, 0,
	  "2020-01-31" },     /* every 10 days */
	{ { "1995-01-01", "1995-02-01", "1995-02-01" }, 1, KDATE_DUPLICATE,
	  NULL, 0, 2, NULL },
	{ { "1995-01-01", "1995-03-01", "1995-02-01" }, 1, KDATE_EARLIER, NULL,
	  0, 2, NULL },
	{ { "1995-01-01", "1995-02-01", "1995-03-01", "1995-05-01" }, 1,
	  KDATE_IRREGULAR, NULL, 0, 3, NULL },
	{ { "2020-01-01", "2020-01-02", "2020-01-04" }, 1, KDATE_IRREGULAR, NULL,
	  0, 2, NULL },
	{ { "1995-01-01" }, 1, KDATE_TOO_FEW, NULL, 0, 0, NULL },
};

START_TEST(test_freq_table)
{
	const struct freq_case *c = &freq_cases[_i];
	double t[6];
	size_t n = 0;
	for (; n < 6 && c->times[n] != NULL; n++)
		ck_assert_int_eq(kdate_parse(c->times[n], &t[n]), 0);
	struct kdate_freq f;
	size_t bad = 99;
	int rc = kdate_freq_infer(t, n, c->calendar, &f, &bad);
	ck_assert_msg(rc == c->rc, "case %d: rc %d, want %d", _i, rc, c->rc);
	if (rc != 0) {
		ck_assert_uint_eq(bad, c->bad);
		return;
	}
	ck_assert_str_eq(f.name, c->name);
	ck_assert_int_eq(f.season, c->season);
	char buf[40];
	kdate_format(kdate_freq_next(&f, t[n - 1], 1), 1, buf, sizeof buf);
	ck_assert_str_eq(buf, c->next);
}
END_TEST

/* Plain numbers (a year column): a fixed step only, never months. */
START_TEST(test_freq_numbers)
{
	double y[] = { 1700, 1701, 1702, 1703 };
	struct kdate_freq f;
	size_t bad;
	ck_assert_int_eq(kdate_freq_infer(y, 4, 0, &f, &bad), 0);
	ck_assert_str_eq(f.name, "fixed step");
	ck_assert(f.step == 1 && !f.months);
	ck_assert(kdate_freq_next(&f, 1703, 7) == 1710);
	y[2] = NAN;
	ck_assert_int_eq(kdate_freq_infer(y, 4, 0, &f, &bad), KDATE_MISSING);
	ck_assert_uint_eq(bad, 2);
	/* a month step continued 14 times crosses a year and a leap day */
	double t;
	ck_assert_int_eq(kdate_parse("2023-01-31", &t), 0);
	struct kdate_freq m = { .months = 1, .month_end = 1, .step = 1 };
	char buf[40];
	kdate_format(kdate_freq_next(&m, t, 13), 1, buf, sizeof buf);
	ck_assert_str_eq(buf, "2024-02-29");
}
END_TEST

static Suite *
kdate_suite(void)
{
	Suite *s = suite_create("kdate");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_parse_table, 0,
	                    sizeof parse_cases / sizeof parse_cases[0]);
	tcase_add_test(tc, test_parse_values);
	tcase_add_test(tc, test_civil_round_trip);
	tcase_add_test(tc, test_format);
	tcase_add_loop_test(tc, test_freq_table, 0,
	                    sizeof freq_cases / sizeof freq_cases[0]);
	tcase_add_test(tc, test_freq_numbers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kdate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
