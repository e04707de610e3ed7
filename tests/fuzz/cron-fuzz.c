/* SPDX-License-Identifier: MIT */
/*
 * cron-fuzz.c - libFuzzer target: schedules as cron_parse() reads them
 * ("*\/15 9-17 * * 1-5", "@daily", "every 15m") and dates as
 * cron_parse_date() reads them, with the promises of cron.h checked: the
 * normalised text reads back as the same schedule, the next fire time is
 * after T and the previous one at or before it with none in between, and a
 * formatted date reads back as the same time.
 */
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "fuzz.h"

static void
check_times(const struct cron *c, int64_t t, int64_t anchor)
{
	int64_t n = cron_next(c, t, anchor);
	int64_t p = cron_prev(c, t, anchor);

	if (c->kind == CRON_NONE) {
		FZ_CHECK(n == -1 && p == -1);
		return;
	}
	if (n != -1) {
		FZ_CHECK(n > t);
		FZ_CHECK(c->kind != CRON_EXPR || n % 60 == 0);
		FZ_CHECK(cron_prev(c, n, anchor) == n);
	}
	if (p != -1) {
		FZ_CHECK(p <= t);
		FZ_CHECK(c->kind != CRON_EXPR || p % 60 == 0);
		int64_t after = cron_next(c, p, anchor);
		FZ_CHECK(after == -1 || after > t);   /* none in (p, t] */
	}
}

static void
fuzz_schedule(const char *s)
{
	struct cron c, again;
	int col = -1;
	char *err = NULL;

	if (cron_parse(s, &c, &col, &err) != 0) {
		FZ_CHECK(err != NULL && col >= 0 && (size_t)col <= strlen(s));
		free(err);
		return;
	}
	FZ_CHECK(err == NULL);
	char text[CRON_FORMAT_MAX];
	cron_format(&c, text, sizeof text);
	if (cron_parse(text, &again, NULL, &err) != 0) {
		fprintf(stderr, "'%s' formats as '%s': %s\n", s, text, err);
		FZ_CHECK(!"the normalised text parses");
	}
	FZ_CHECK(memcmp(&c, &again, sizeof c) == 0);

	static const int64_t times[] = {
		0, 1704067199, 1709208000, /* 2024-02-29T12:00 */
		-62135596800 + 86400,      /* 0001-01-02 */
		253402300799 - 86400 * 400,/* 9998-11-26 */
	};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
		check_times(&c, times[i], 1704067200 + 3600);
}

static void
fuzz_date(const char *s)
{
	int64_t t = 0, back = 0;
	char *err = NULL;

	if (cron_parse_date(s, &t, &err) != 0) {
		FZ_CHECK(err != NULL);
		free(err);
		return;
	}
	char iso[CRON_DATE_MAX], day[CRON_DATE_MAX];
	cron_format_iso(t, iso, sizeof iso);
	cron_format_date(t, day, sizeof day);
	if (cron_parse_date(iso, &back, &err) != 0) {
		fprintf(stderr, "'%s' formats as '%s': %s\n", s, iso, err);
		FZ_CHECK(!"the formatted date parses");
	}
	FZ_CHECK(back == t);
	FZ_CHECK(cron_parse_date(day, &back, NULL) == 0);
	FZ_CHECK(back <= t && t - back < 86400);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	char *s = fz_str(data, size);
	fuzz_schedule(s);
	fuzz_date(s);
	free(s);
	return 0;
}
