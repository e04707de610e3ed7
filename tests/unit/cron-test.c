/* SPDX-License-Identifier: MIT */
/*
 * cron-test.c - schedule expressions: the next and previous fire times of
 * cron expressions, presets and intervals (month ends, leap years, the
 * day-of-month OR day-of-week rule, year rollover, schedules that never
 * fire), every parse error with its message and column, the normalised
 * text, and start_date parsing and formatting.
 *
 * Times in the tables are written as dates and parsed with
 * cron_parse_date(), which is itself checked against known epoch values
 * first.  A brute-force oracle built on libc's gmtime_r() checks
 * cron_next() and cron_prev() on pseudo-random times, so the calendar
 * arithmetic is not only checked against itself.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

/* ------------------------------------------------------------------------
 * Helpers
 * --------------------------------------------------------------------- */

/* S as unix seconds; the test fails if S does not parse. */
static int64_t
T(const char *s)
{
	int64_t t = 0;
	char *err = NULL;

	if (cron_parse_date(s, &t, &err) != 0)
		ck_abort_msg("bad test date '%s': %s", s, err);
	return t;
}

/* T as ISO text, or "-1": assertions then print readable times. */
static const char *
iso(int64_t t, char *buf)
{
	if (t == -1)
		return "-1";
	cron_format_iso(t, buf, CRON_DATE_MAX);
	return buf;
}

static struct cron
parse_ok(const char *s)
{
	struct cron c;
	char *err = NULL;
	int col = -1;

	memset(&c, 0xa5, sizeof c);
	if (cron_parse(s, &c, &col, &err) != 0)
		ck_abort_msg("'%s' refused at %d: %s", s, col, err);
	ck_assert_ptr_null(err);
	return c;
}

/* ------------------------------------------------------------------------
 * cron_next
 * --------------------------------------------------------------------- */

static const struct {
	const char *expr, *from, *want;   /* want NULL = -1 */
} nexts[] = {
	/* every minute, steps, ranges, lists */
	{ "* * * * *",          "2024-01-01T00:00",    "2024-01-01T00:01" },
	{ "* * * * *",          "2024-01-01T00:00:30", "2024-01-01T00:01" },
	{ "*/15 * * * *",       "2024-01-01T00:00",    "2024-01-01T00:15" },
	{ "*/15 * * * *",       "2024-01-01T00:14:59", "2024-01-01T00:15" },
	{ "*/15 * * * *",       "2024-01-01T00:45",    "2024-01-01T01:00" },
	{ "*/7 * * * *",        "2024-01-01T00:56",    "2024-01-01T01:00" },
	{ "0 * * * *",          "2024-01-01T23:30",    "2024-01-02T00:00" },
	{ "5-20/5 * * * *",     "2024-01-01T10:21",    "2024-01-01T11:05" },
	{ "10-50/20 9 * * *",   "2024-01-01T09:30",    "2024-01-01T09:50" },
	{ "5/15 * * * *",       "2024-01-01T00:50",    "2024-01-01T01:05" },
	{ "0,30 9,17 * * *",    "2024-01-01T09:30",    "2024-01-01T17:00" },
	{ "15 14 1 * *",        "2024-01-01T14:15",    "2024-02-01T14:15" },
	{ "*/15 9-17 * * 1-5",  "2024-01-05T17:45",    "2024-01-08T09:00" },
	{ "0 22 * * 1-5",       "2024-01-05T22:00",    "2024-01-08T22:00" },
	/* names */
	{ "0 9 * * MON-FRI",    "2024-01-06T12:00",    "2024-01-08T09:00" },
	{ "0 12 * * sat",       "2024-01-01T00:00",    "2024-01-06T12:00" },
	{ "0 0 1 JAN,Jul *",    "2024-02-10T00:00",    "2024-07-01T00:00" },
	{ "0 12 * feb sun",     "2024-01-15T00:00",    "2024-02-04T12:00" },
	/* presets */
	{ "@hourly",            "2024-01-01T10:00",    "2024-01-01T11:00" },
	{ "@daily",             "2024-01-01T10:00",    "2024-01-02T00:00" },
	{ "@midnight",          "2024-12-31T00:00",    "2025-01-01T00:00" },
	{ "@weekly",            "2024-01-01T00:00",    "2024-01-07T00:00" },
	{ "@weekly",            "2024-01-07T00:00",    "2024-01-14T00:00" },
	{ "@monthly",           "2024-01-31T12:00",    "2024-02-01T00:00" },
	{ "@yearly",            "2024-06-15T00:00",    "2025-01-01T00:00" },
	{ "@annually",          "2024-01-01T00:00",    "2025-01-01T00:00" },
	/* month ends */
	{ "0 0 31 * *",         "2024-02-01T00:00",    "2024-03-31T00:00" },
	{ "0 0 31 * *",         "2024-03-31T00:00",    "2024-05-31T00:00" },
	{ "0 0 30 * *",         "2023-01-30T00:00",    "2023-03-30T00:00" },
	{ "0 0 */2 * *",        "2024-01-31T00:00",    "2024-02-01T00:00" },
	/* leap years: 2000 was one, 1900 and 2100 are not */
	{ "0 0 29 2 *",         "2021-01-01T00:00",    "2024-02-29T00:00" },
	{ "0 0 29 2 *",         "2024-02-29T00:00",    "2028-02-29T00:00" },
	{ "0 0 29 2 *",         "2096-03-01T00:00",    "2104-02-29T00:00" },
	{ "0 0 29 2 *",         "1999-03-01T00:00",    "2000-02-29T00:00" },
	{ "0 0 29 2 *",         "1896-03-01T00:00",    "1904-02-29T00:00" },
	/* day of month OR day of week, when both are restricted */
	{ "0 0 13 * 5",         "2024-01-01T00:00",    "2024-01-05T00:00" },
	{ "0 0 13 * 5",         "2024-01-12T00:00",    "2024-01-13T00:00" },
	{ "0 0 13 * 5",         "2024-01-13T00:00",    "2024-01-19T00:00" },
	{ "0 0 1 * 1",          "2024-01-01T00:00",    "2024-01-08T00:00" },
	{ "0 0 */2 * 1",        "2024-01-08T00:00",    "2024-01-09T00:00" },
	{ "0 0 1-31 * 1",       "2024-01-01T00:00",    "2024-01-08T00:00" },
	/* Sunday as 7 */
	{ "0 0 * * 7",          "2024-01-01T00:00",    "2024-01-07T00:00" },
	{ "0 0 * * 0",          "2024-01-01T00:00",    "2024-01-07T00:00" },
	{ "0 0 * * 5-7",        "2024-01-01T00:00",    "2024-01-05T00:00" },
	{ "0 0 * * 6,7",        "2024-01-06T00:00",    "2024-01-07T00:00" },
	/* year rollover */
	{ "* * * * *",          "2024-12-31T23:59",    "2025-01-01T00:00" },
	{ "59 23 31 12 *",      "2024-12-31T23:59",    "2025-12-31T23:59" },
	/* before 1970 */
	{ "30 2 * * *",         "1969-12-31T03:00",    "1970-01-01T02:30" },
	{ "0 0 1 1 *",          "1899-06-01T00:00",    "1900-01-01T00:00" },
	/* never */
	{ "0 0 30 2 *",         "2024-01-01T00:00",    NULL },
	{ "0 0 31 4,6,9,11 *",  "2024-01-01T00:00",    NULL },
	{ "none",               "2024-01-01T00:00",    NULL },
};

START_TEST(test_next)
{
	struct cron c = parse_ok(nexts[_i].expr);
	int64_t from = T(nexts[_i].from);
	int64_t want = nexts[_i].want ? T(nexts[_i].want) : -1;
	char a[CRON_DATE_MAX], b[CRON_DATE_MAX];

	int64_t got = cron_next(&c, from, 0);
	ck_assert_msg(got == want, "next('%s', %s) = %s, want %s",
	              nexts[_i].expr, nexts[_i].from, iso(got, a), iso(want, b));
	if (want != -1) {
		/* A fire time is its own prev, and nothing fires in between. */
		ck_assert_int_eq(cron_prev(&c, want, 0), want);
		ck_assert_int_le(cron_prev(&c, want - 1, 0), from);
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * cron_prev
 * --------------------------------------------------------------------- */

static const struct {
	const char *expr, *at, *want;      /* want NULL = -1 */
} prevs[] = {
	{ "*/15 * * * *",   "2024-01-01T00:15",    "2024-01-01T00:15" },
	{ "*/15 * * * *",   "2024-01-01T00:14:59", "2024-01-01T00:00" },
	{ "*/15 * * * *",   "2024-01-01T00:15:30", "2024-01-01T00:15" },
	{ "*/15 * * * *",   "2024-01-01T00:00",    "2024-01-01T00:00" },
	{ "*/15 * * * *",   "2023-12-31T23:59:59", "2023-12-31T23:45" },
	{ "@daily",         "2024-01-01T00:00",    "2024-01-01T00:00" },
	{ "@daily",         "2024-03-01T10:00",    "2024-03-01T00:00" },
	{ "@weekly",        "2024-01-06T23:59",    "2023-12-31T00:00" },
	{ "@yearly",        "2024-06-01T00:00",    "2024-01-01T00:00" },
	{ "0 0 31 * *",     "2024-03-30T00:00",    "2024-01-31T00:00" },
	{ "0 0 31 * *",     "2024-05-01T00:00",    "2024-03-31T00:00" },
	{ "0 0 29 2 *",     "2104-01-01T00:00",    "2096-02-29T00:00" },
	{ "0 0 29 2 *",     "2024-02-28T23:59",    "2020-02-29T00:00" },
	{ "* * * * *",      "2025-01-01T00:00:30", "2025-01-01T00:00" },
	{ "59 23 31 12 *",  "2025-01-01T00:00",    "2024-12-31T23:59" },
	{ "0 0 13 * 5",     "2024-01-12T12:00",    "2024-01-12T00:00" },
	{ "0 0 13 * 5",     "2024-01-11T00:00",    "2024-01-05T00:00" },
	{ "0 0 13 * 5",     "2023-12-14T00:00",    "2023-12-13T00:00" },
	{ "0 9 * * 1-5",    "2024-01-08T08:59",    "2024-01-05T09:00" },
	{ "0 0 1 * *",      "1970-01-01T00:00",    "1970-01-01T00:00" },
	{ "0 0 1 * *",      "1969-12-31T23:59:59", "1969-12-01T00:00" },
	{ "30 2 * * *",     "1970-01-01T00:00",    "1969-12-31T02:30" },
	{ "0 0 30 2 *",     "2024-01-01T00:00",    NULL },
	{ "none",           "2024-01-01T00:00",    NULL },
};

START_TEST(test_prev)
{
	struct cron c = parse_ok(prevs[_i].expr);
	int64_t at = T(prevs[_i].at);
	int64_t want = prevs[_i].want ? T(prevs[_i].want) : -1;
	char a[CRON_DATE_MAX], b[CRON_DATE_MAX];

	int64_t got = cron_prev(&c, at, 0);
	ck_assert_msg(got == want, "prev('%s', %s) = %s, want %s",
	              prevs[_i].expr, prevs[_i].at, iso(got, a), iso(want, b));
	if (want != -1)
		ck_assert_int_gt(cron_next(&c, want, 0), at);
}
END_TEST

/* ------------------------------------------------------------------------
 * Intervals, aligned to the anchor
 * --------------------------------------------------------------------- */

static const struct {
	const char *expr, *anchor, *at, *next, *prev;
} everys[] = {
	{ "every 15m", "2024-01-01T00:05", "2024-01-01T10:00",
	  "2024-01-01T10:05", "2024-01-01T09:50" },
	{ "every 15m", "2024-01-01T00:05", "2024-01-01T10:05",
	  "2024-01-01T10:20", "2024-01-01T10:05" },
	{ "every 1d",  "2024-01-01T06:00", "2024-03-01T00:00",
	  "2024-03-01T06:00", "2024-02-29T06:00" },
	{ "every 7d",  "2024-01-01",       "2024-01-01T00:00",
	  "2024-01-08T00:00", "2024-01-01T00:00" },
	{ "every 90s", "1970-01-01",       "1970-01-01T00:01:40",
	  "1970-01-01T00:03:00", "1970-01-01T00:01:30" },
	/* before the anchor: still on its grid */
	{ "every 1h",  "2024-01-01T00:30", "2023-12-31T22:00",
	  "2023-12-31T22:30", "2023-12-31T21:30" },
	{ "every 2h",  "2024-01-01T00:30", "2023-12-31T22:30",
	  "2024-01-01T00:30", "2023-12-31T22:30" },
};

START_TEST(test_every)
{
	struct cron c = parse_ok(everys[_i].expr);
	int64_t anchor = T(everys[_i].anchor), at = T(everys[_i].at);
	char a[CRON_DATE_MAX], b[CRON_DATE_MAX];

	ck_assert_int_eq(c.kind, CRON_EVERY);
	int64_t n = cron_next(&c, at, anchor), p = cron_prev(&c, at, anchor);
	ck_assert_msg(n == T(everys[_i].next), "next = %s, want %s",
	              iso(n, a), everys[_i].next);
	ck_assert_msg(p == T(everys[_i].prev), "prev = %s, want %s",
	              iso(p, b), everys[_i].prev);
	ck_assert_int_le(n - c.every_s, at);
}
END_TEST

/* ------------------------------------------------------------------------
 * Parse errors: message and column
 * --------------------------------------------------------------------- */

static const struct {
	const char *expr;
	int col;
	const char *msg;
} errs[] = {
	{ "61 * * * *",        0, "minute 61 out of range 0-59" },
	{ "1,2,61 * * * *",    4, "minute 61 out of range 0-59" },
	{ "99999999999 * * * *", 0, "minute 99999999999 out of range 0-59" },
	{ "0 24 * * *",        2, "hour 24 out of range 0-23" },
	{ "0 0 0 * *",         4, "day of month 0 out of range 1-31" },
	{ "0 0 32 * *",        4, "day of month 32 out of range 1-31" },
	{ "0 0 * 13 *",        6, "month 13 out of range 1-12" },
	{ "0 0 * * 8",         8, "day of week 8 out of range 0-7" },
	{ "* * * *",           7, "expected 5 fields, found 4" },
	{ "  * * * *  ",       9, "expected 5 fields, found 4" },
	{ "0 0 * * * 2024",   10, "expected 5 fields, found 6" },
	{ "0 0 0 1 * * * *",  10, "expected 5 fields, found 8" },
	{ "daily",             5, "expected 5 fields, found 1" },
	{ "0 0 1 FOO *",       6, "unknown month name 'FOO'" },
	{ "0 0 1 JANUARY *",   6, "unknown month name 'JANUARY'" },
	{ "0 0 * * FOO",       8, "unknown day name 'FOO'" },
	{ "0 0 * * MON-XYZ",  12, "unknown day name 'XYZ'" },
	{ "*/0 * * * *",       2, "step must be positive" },
	{ "0 0 * * 1-5/0",    12, "step must be positive" },
	{ "*/90 * * * *",      2, "minute step 90 out of range 1-60" },
	{ "*/ * * * *",        2, "expected a step after '/' in minute field" },
	{ "5-1 * * * *",       0, "minute range 5-1 is reversed" },
	{ "0 0 * * FRI-MON",   8, "day of week range FRI-MON is reversed" },
	{ "0 0 L * *",         4, "unexpected 'L' in day of month field" },
	{ "0 0 15W * *",       6, "unexpected 'W' in day of month field" },
	{ "0 0 * * 5#3",       9, "unexpected '#3' in day of week field" },
	{ "0 0 ? * *",         4, "unexpected '?' in day of month field" },
	{ "x * * * *",         0, "unexpected 'x' in minute field" },
	{ "JAN * * * *",       0, "unexpected 'JAN' in minute field" },
	{ "1,,2 * * * *",      2, "unexpected ',' in minute field" },
	{ "*-5 * * * *",       1, "unexpected '-' in minute field" },
	{ "1- * * * *",        2, "unexpected end of minute field" },
	{ "1, * * * *",        2, "unexpected end of minute field" },
	{ "every 0m",          6, "interval must be positive" },
	{ "every 5x",          7, "unknown unit 'x' (expected s, m, h or d)" },
	{ "every 5min",        7, "unknown unit 'min' (expected s, m, h or d)" },
	{ "every 5",           7, "missing unit after 5 (expected s, m, h or d)" },
	{ "every m",           6, "expected a number after 'every'" },
	{ "every",             5, "expected a number after 'every'" },
	{ "every 15m now",    10, "unexpected 'now' after the interval" },
	{ "every 3651d",       6, "interval 3651d longer than 3650 days" },
	{ "every 99999999999999999999s", 6,
	  "interval 99999999999999999999s longer than 3650 days" },
	{ "@often",            0, "unknown preset '@often' (expected @hourly, "
	  "@daily, @midnight, @weekly, @monthly, @yearly or @annually)" },
	{ "@once",             0, "unknown preset '@once' (expected @hourly, "
	  "@daily, @midnight, @weekly, @monthly, @yearly or @annually)" },
	{ "@daily 5",          7, "unexpected '5' after @daily" },
	{ " none x",           6, "unexpected 'x' after none" },
};

START_TEST(test_error)
{
	struct cron c, before;
	char *err = NULL;
	int col = -1;

	memset(&c, 0x5a, sizeof c);
	before = c;
	int rc = cron_parse(errs[_i].expr, &c, &col, &err);
	ck_assert_msg(rc == -EINVAL, "'%s' gave %d", errs[_i].expr, rc);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, errs[_i].msg);
	ck_assert_msg(col == errs[_i].col, "'%s': column %d, want %d",
	              errs[_i].expr, col, errs[_i].col);
	ck_assert_int_eq(memcmp(&c, &before, sizeof c), 0);   /* untouched */
	free(err);

	/* Without a place for the message or column, still refused. */
	ck_assert_int_eq(cron_parse(errs[_i].expr, &c, NULL, NULL), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------
 * Normalised text, and that it reads back as the same schedule
 * --------------------------------------------------------------------- */

static const struct {
	const char *expr, *text;
} formats[] = {
	{ "*/15 * * * *",         "*/15 * * * *" },
	{ "*/1 * * * *",          "* * * * *" },
	{ "@daily",               "0 0 * * *" },
	{ "  @Hourly  ",          "0 * * * *" },
	{ "@weekly",              "0 0 * * 0" },
	{ "@monthly",             "0 0 1 * *" },
	{ "@annually",            "0 0 1 1 *" },
	{ "0 9-17 * * MON-FRI",   "0 9-17 * * 1-5" },
	{ "0,30 * * * *",         "0,30 * * * *" },
	{ "*/30 * * * *",         "0,30 * * * *" },
	{ "*/20 * * * *",         "*/20 * * * *" },
	{ "0,45 * * * *",         "0,45 * * * *" },
	{ "0 */5 * * *",          "0 */5 * * *" },
	{ "0 0 1,15 JAN,jul *",   "0 0 1,15 1,7 *" },
	{ "10-50/20 * * * *",     "10-50/20 * * * *" },
	{ "5/15 * * * *",         "5-50/15 * * * *" },
	{ "1,2,3,5 * * * *",      "1-3,5 * * * *" },
	{ "0\t0 \t * * 7",        "0 0 * * 0" },
	{ "0 0 * * 0-7",          "0 0 * * *" },
	{ "0 0 1-31 * *",         "0 0 * * *" },
	{ "0 0 * * 5-7",          "0 0 * * 0,5,6" },
	{ "0 0 * * 7/2",          "0 0 * * 0" },   /* Sunday alone */
	{ "0 0 * * 6/3",          "0 0 * * 6" },
	{ "0 0 */2 * *",          "0 0 */2 * *" },
	{ "every 15m",            "every 900s" },
	{ "every 2h",             "every 7200s" },
	{ "EVERY 30 S",           "every 30s" },
	{ "every 1d",             "every 86400s" },
	{ "none",                 "none" },
	{ " NONE ",               "none" },
	{ "",                     "none" },
	{ "   ",                  "none" },
};

START_TEST(test_format)
{
	struct cron c = parse_ok(formats[_i].expr), again;
	char buf[CRON_FORMAT_MAX];

	cron_format(&c, buf, sizeof buf);
	ck_assert_str_eq(buf, formats[_i].text);
	again = parse_ok(buf);
	ck_assert_int_eq(memcmp(&c, &again, sizeof c), 0);
}
END_TEST

START_TEST(test_format_misc)
{
	struct cron c;
	char buf[CRON_FORMAT_MAX];

	/* NULL is manual only, like "". */
	ck_assert_int_eq(cron_parse(NULL, &c, NULL, NULL), 0);
	ck_assert_int_eq(c.kind, CRON_NONE);
	ck_assert_int_eq(cron_next(&c, 0, 0), -1);
	ck_assert_int_eq(cron_prev(&c, 0, 0), -1);

	/* Truncation never overruns. */
	c = parse_ok("*/15 * * * *");
	memset(buf, 'x', sizeof buf);
	cron_format(&c, buf, 5);
	ck_assert_str_eq(buf, "*/15");
	ck_assert_int_eq(buf[5], 'x');
	cron_format(&c, buf, 1);
	ck_assert_str_eq(buf, "");
	buf[0] = 'x';
	cron_format(&c, buf, 0);
	ck_assert_int_eq(buf[0], 'x');

	/* The longest text fits in CRON_FORMAT_MAX. */
	c = parse_ok("0,1,3,4,6,7,9,10,12,13,15,16,18,19,21,22,24,25,27,28,30,"
	             "31,33,34,36,37,39,40,42,43,45,46,48,49,51,52,54,55,57,58 "
	             "0,1,3,4,6,7,9,10,12,13,15,16,18,19,21,22 "
	             "1,2,4,5,7,8,10,11,13,14,16,17,19,20,22,23,25,26,28,29,31 "
	             "1,2,4,5,7,8,10,11 0,1,3,4,6");
	cron_format(&c, buf, sizeof buf);
	ck_assert_uint_lt(strlen(buf), CRON_FORMAT_MAX - 1);
	ck_assert_int_eq(memcmp(&c, (struct cron[]){ parse_ok(buf) }, sizeof c), 0);
}
END_TEST

/* Which fields count as '*' for the day rule. */
START_TEST(test_star_flags)
{
	struct cron c = parse_ok("0 0 */2 * 1");
	ck_assert_int_eq(c.dom_star, 0);
	ck_assert_int_eq(c.dow_star, 0);
	ck_assert_uint_eq(c.dom, 0xaaaaaaaau);

	c = parse_ok("0 0 1-31 * 1");
	ck_assert_int_eq(c.dom_star, 1);
	ck_assert_int_eq(c.dow_star, 0);
	ck_assert_uint_eq(c.dow, 0x02);

	c = parse_ok("0 0 13 * 0-7");
	ck_assert_int_eq(c.dom_star, 0);
	ck_assert_int_eq(c.dow_star, 1);
	ck_assert_uint_eq(c.dow, 0x7f);

	c = parse_ok("*/20 9-10 * jan-mar 7");
	ck_assert_uint_eq(c.minute, (1ULL << 0) | (1ULL << 20) | (1ULL << 40));
	ck_assert_uint_eq(c.hour, (1u << 9) | (1u << 10));
	ck_assert_uint_eq(c.month, 0x0e);
	ck_assert_uint_eq(c.dow, 0x01);
	ck_assert_int_eq(c.dom_star, 1);
}
END_TEST

/* ------------------------------------------------------------------------
 * An independent oracle: minute by minute through gmtime_r()
 * --------------------------------------------------------------------- */

static int
oracle_match(const struct cron *c, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (!((c->minute >> tm.tm_min) & 1) || !((c->hour >> tm.tm_hour) & 1) ||
	    !((c->month >> (tm.tm_mon + 1)) & 1))
		return 0;
	int dom = (c->dom >> tm.tm_mday) & 1, dow = (c->dow >> tm.tm_wday) & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;      /* the '*' one is all ones */
	return dom || dow;
}

static const char *const oracle_exprs[] = {
	"*/15 9-17 * * 1-5",
	"0 0 13 * 5",
	"0 0 */2 * 1",
	"7,8 */5 1-10 * *",
	"0 12 * * sun",
	"30 23 28-31 * *",
	"0 6 1 * 3",
};

START_TEST(test_oracle)
{
	struct cron c = parse_ok(oracle_exprs[_i]);
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(_i + 1);
	char a[CRON_DATE_MAX], b[CRON_DATE_MAX];

	for (int k = 0; k < 60; k++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		/* 1901 to 2099, any second */
		int64_t t = -2145916800LL + (int64_t)((seed >> 16) % 6311433600ULL);

		int64_t want = (t / 60 + 1) * 60;
		if (t < 0 && t % 60)
			want -= 60;
		while (!oracle_match(&c, want))
			want += 60;
		int64_t got = cron_next(&c, t, 0);
		ck_assert_msg(got == want, "next('%s', %s) = %s, want %s",
		              oracle_exprs[_i], iso(t, a), iso(got, b), iso(want, a));

		want = t - (((t % 60) + 60) % 60);
		while (!oracle_match(&c, want))
			want -= 60;
		got = cron_prev(&c, t, 0);
		ck_assert_msg(got == want, "prev('%s', %s) = %s, want %s",
		              oracle_exprs[_i], iso(t, a), iso(got, b), iso(want, a));
	}
}
END_TEST

/* Not asserted (machines differ): printed so that a slowdown shows. */
START_TEST(test_timing)
{
	struct cron c[3] = { parse_ok("*/15 9-17 * * 1-5"), parse_ok("0 0 29 2 *"),
	                     parse_ok("0 0 30 2 *") };
	const char *names[3] = { "*/15 9-17 * * 1-5", "0 0 29 2 *", "0 0 30 2 *" };

	for (int i = 0; i < 3; i++) {
		struct timespec t0, t1;
		int64_t t = T("2024-01-01"), sum = 0;
		int n = i == 2 ? 10000 : 100000;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int k = 0; k < n; k++) {
			int64_t nx = cron_next(&c[i], t, 0);
			sum += nx;
			t = nx > 0 ? nx : t + 3600;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double us = ((t1.tv_sec - t0.tv_sec) * 1e9 +
		             (t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
		printf("cron-test: %d x cron_next('%s'): %.3f us each\n",
		       n, names[i], us);
		ck_assert_int_ne(sum, 0);
	}
}
END_TEST

/* ------------------------------------------------------------------------
 * Dates
 * --------------------------------------------------------------------- */

static const struct {
	const char *s;
	int64_t t;
} dates[] = {
	{ "1970-01-01",                       0 },
	{ "1969-12-31T23:59:59Z",            -1 },
	{ "2024-01-31",                       1706659200 },
	{ "2024-01-31T12:00",                 1706702400 },
	{ "2024-01-31T12:00:00",              1706702400 },
	{ "2024-01-31T12:00:00Z",             1706702400 },
	{ "2024-01-31T12:00:00+00:00",        1706702400 },
	{ "2024-01-31t12:00:00z",             1706702400 },
	{ "2024-01-31 12:00:00",              1706702400 },
	{ "2024-01-31T12:00:00.999999+00:00", 1706702400 },
	{ "2024-01-31T14:00:00+02:00",        1706702400 },
	{ "2024-01-31T07:00-05:00",           1706702400 },
	{ "2024-01-31T17:30+0530",            1706702400 },
	{ "2024-01-31T13:00:00+01",           1706702400 },
	{ "2024-02-01T00:30+12:30",           1706702400 },
	{ "2000-02-29",                       951782400 },
	{ "2100-03-01",                       4107542400LL },
	{ "1900-03-01",                      -2203891200LL },
	{ "0001-01-01",                      -62135596800LL },
	{ "9999-12-31T23:59:59Z",             253402300799LL },
};

START_TEST(test_date_parse)
{
	int64_t t = 42;
	char *err = NULL;

	ck_assert_msg(cron_parse_date(dates[_i].s, &t, &err) == 0,
	              "'%s': %s", dates[_i].s, err);
	ck_assert_int_eq(t, dates[_i].t);
}
END_TEST

static const struct {
	const char *s, *msg;
} bad_dates[] = {
	{ "2024-02-30", "bad date '2024-02-30': day 30 out of range 1-29 for 2024-02" },
	{ "2023-02-29", "bad date '2023-02-29': day 29 out of range 1-28 for 2023-02" },
	{ "2100-02-29", "bad date '2100-02-29': day 29 out of range 1-28 for 2100-02" },
	{ "2024-04-31", "bad date '2024-04-31': day 31 out of range 1-30 for 2024-04" },
	{ "2024-01-00", "bad date '2024-01-00': day 0 out of range 1-31 for 2024-01" },
	{ "2023-13-01", "bad date '2023-13-01': month 13 out of range 1-12" },
	{ "2023-00-10", "bad date '2023-00-10': month 0 out of range 1-12" },
	{ "2024-01-31T24:00", "bad date '2024-01-31T24:00': time 24:00:00 out of range" },
	{ "2024-01-31T12:60", "bad date '2024-01-31T12:60': time 12:60:00 out of range" },
	{ "2024-01-31T12:00:60", "bad date '2024-01-31T12:00:60': time 12:00:60 out of range" },
	{ "2024-01-31T12:00+24:00", "bad date '2024-01-31T12:00+24:00': zone offset out of range" },
	{ "2024-1-31", NULL },
	{ "24-01-31", NULL },
	{ "2024-01-31T12", NULL },
	{ "2024-01-31T12:00+05:", NULL },
	{ "2024-01-31T12:00+5", NULL },
	{ "2024-01-31T12:00:00.", NULL },
	{ "2024-01-31T12:00 UTC", NULL },
	{ "2024-01-31Z", NULL },
	{ "2024-01-31 ", NULL },
	{ " 2024-01-31", NULL },
	{ "yesterday", NULL },
	{ "", NULL },
};

START_TEST(test_date_bad)
{
	int64_t t = 42;
	char *err = NULL;

	ck_assert_int_eq(cron_parse_date(bad_dates[_i].s, &t, &err), -EINVAL);
	ck_assert_int_eq(t, 42);
	ck_assert_ptr_nonnull(err);
	if (bad_dates[_i].msg)
		ck_assert_str_eq(err, bad_dates[_i].msg);
	else
		ck_assert_msg(strstr(err, "expected YYYY-MM-DD") != NULL, "%s", err);
	free(err);
}
END_TEST

START_TEST(test_date_format)
{
	char buf[CRON_DATE_MAX];
	char *err = NULL;
	int64_t back;

	cron_format_date(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "1970-01-01");
	cron_format_iso(1706702400, buf, sizeof buf);
	ck_assert_str_eq(buf, "2024-01-31T12:00:00+00:00");
	cron_format_iso(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59+00:00");
	cron_format_date(-1, buf, sizeof buf);
	ck_assert_str_eq(buf, "1969-12-31");
	cron_format_iso(951782400 + 86399, buf, sizeof buf);
	ck_assert_str_eq(buf, "2000-02-29T23:59:59+00:00");
	cron_format_iso(253402300799LL, buf, sizeof buf);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59+00:00");
	cron_format_iso(1706702400, buf, 11);
	ck_assert_str_eq(buf, "2024-01-31");

	/* Round trips, over 1601-2398 in irregular steps, and against libc. */
	for (int64_t t = -11644473600LL; t < 13569465600LL; t += 7777777 + 13) {
		char want[64];
		time_t tt = (time_t)t;
		struct tm tm;

		gmtime_r(&tt, &tm);
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		cron_format_iso(t, buf, sizeof buf);
		ck_assert_str_eq(buf, want);
		ck_assert_int_eq(cron_parse_date(buf, &back, &err), 0);
		ck_assert_int_eq(back, t);

		cron_format_date(t, buf, sizeof buf);
		ck_assert_int_eq(cron_parse_date(buf, &back, &err), 0);
		ck_assert_int_eq(back, t - (((t % 86400) + 86400) % 86400));
	}
	ck_assert_ptr_null(err);
}
END_TEST

static Suite *
cron_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("core");

#define N(a) ((int)(sizeof (a) / sizeof (a)[0]))
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_next, 0, N(nexts));
	tcase_add_loop_test(tc, test_prev, 0, N(prevs));
	tcase_add_loop_test(tc, test_every, 0, N(everys));
	tcase_add_loop_test(tc, test_error, 0, N(errs));
	tcase_add_loop_test(tc, test_format, 0, N(formats));
	tcase_add_test(tc, test_format_misc);
	tcase_add_test(tc, test_star_flags);
	tcase_add_loop_test(tc, test_oracle, 0, N(oracle_exprs));
	tcase_add_test(tc, test_timing);
	tcase_add_loop_test(tc, test_date_parse, 0, N(dates));
	tcase_add_loop_test(tc, test_date_bad, 0, N(bad_dates));
	tcase_add_test(tc, test_date_format);
#undef N
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cron_suite());

	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
