/* SPDX-License-Identifier: MIT */
/*
 * kdate.h - dates and times in kiln's datasets: reading them in the forms
 * CSV files write them, writing them back, and the calendar arithmetic
 * that tells a series' frequency and continues it.
 *
 * A time is a double: seconds since 1970-01-01T00:00:00 UTC (proleptic
 * Gregorian calendar), NaN when missing; `ingest` stores time columns
 * that way (kcol.h, KCOL_TIME) and `forecast` reads them.  A time written
 * with an offset (Z, +01:00, -0500) is converted to UTC; one without is
 * taken as UTC (so plain dates stay whole days).  Zone names (CET, EST)
 * are refused: their offsets change with the date.
 *
 * Parsing is our own small strptime (no locale, no libc time zone, the
 * same answer on every worker), and validates the calendar: 2023-02-29 and
 * 2024-04-31 are not dates, 2024-02-29 is.
 *
 * Header-only (static inline, libc only), like csv.h; thread-safe.
 */
#ifndef KILN_KDATE_H
#define KILN_KDATE_H

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KDATE_DAY 86400.0

/* ------------------------------------------------------------ calendar */

static inline int
kdate_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month M (1..12) of year Y. */
static inline int
kdate_mdays(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	                              30, 31 };
	return m == 2 && kdate_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to Y-M-D (H. Hinnant's days_from_civil). */
static inline int64_t
kdate_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The civil date of day Z (days from 1970-01-01). */
static inline void
kdate_civil(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* A time split into its date and the seconds into that day. */
struct kdate_tm {
	int64_t year;
	int month, day;         /* 1..12, 1..31 */
	double sec;             /* seconds since midnight, [0, 86400) */
};

/* Times beyond +-1e15 s (some 30 million years) are clamped there, so
 * that a hostile or absurd value cannot overflow the day count. */
#define KDATE_MAX_ABS 1e15

static inline void
kdate_split(double t, struct kdate_tm *tm)
{
	if (!(t > -KDATE_MAX_ABS))      /* NaN too */
		t = -KDATE_MAX_ABS;
	if (t > KDATE_MAX_ABS)
		t = KDATE_MAX_ABS;
	double days = floor(t / KDATE_DAY);
	kdate_civil((int64_t)days, &tm->year, &tm->month, &tm->day);
	tm->sec = t - days * KDATE_DAY;
}

static inline double
kdate_join(int64_t y, int m, int d, double sec)
{
	return (double)kdate_days(y, m, d) * KDATE_DAY + sec;
}

/* ------------------------------------------------------------ parsing */

static const char *const kdate_months[12] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
};

/* Up to MAXW digits (at least one) at *P as *V; advances *P. */
static inline int
kdate_digits(const char **p, int maxw, int64_t *v)
{
	int w = 0;
	*v = 0;
	while (w < maxw && isdigit((unsigned char)(*p)[w])) {
		*v = *v * 10 + ((*p)[w] - '0');
		w++;
	}
	*p += w;
	return w > 0 ? 0 : -1;
}

/* A month name, full or its first three letters, any case. */
static inline int
kdate_month_name(const char **p, int *m)
{
	for (int i = 0; i < 12; i++) {
		size_t full = strlen(kdate_months[i]);
		if (strncasecmp(*p, kdate_months[i], full) == 0) {
			*p += full;
			*m = i + 1;
			return 0;
		}
		if (strncasecmp(*p, kdate_months[i], 3) == 0) {
			*p += 3;
			*m = i + 1;
			return 0;
		}
	}
	return -1;
}

/* An offset from UTC: Z, +HH, +HH:MM or +HHMM (or -), in seconds. */
static inline int
kdate_offset(const char **p, double *off)
{
	const char *s = *p;
	if (*s == 'Z' || *s == 'z') {
		*p = s + 1;
		*off = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -1;
	int sign = *s == '-' ? -1 : 1;
	s++;
	int64_t hh, mm = 0;
	const char *q = s;
	if (kdate_digits(&s, 2, &hh) < 0 || s - q != 2 || hh > 23)
		return -1;
	if (*s == ':')
		s++;
	q = s;
	if (isdigit((unsigned char)*s) &&
	    (kdate_digits(&s, 2, &mm) < 0 || s - q != 2 || mm > 59))
		return -1;
	*off = sign * (double)(hh * 3600 + mm * 60);
	*p = s;
	return 0;
}

/* What a format's directives filled in. */
struct kdate_fields {
	int64_t year;
	int64_t month, day, hour, min;
	double sec, off;
};

/* One directive C of a format at *P.  0, -1 (no match), -2 (unknown). */
static inline int
kdate_directive(char c, const char **p, struct kdate_fields *f)
{
	int64_t v;
	int m;
	switch (c) {
	case 'Y': {             /* exactly 4 digits: "10-12" is no date */
		const char *q = *p;
		return kdate_digits(p, 4, &f->year) == 0 && *p - q == 4 ? 0 : -1;
	}
	case 'y':
		if (kdate_digits(p, 2, &v) < 0)
			return -1;
		f->year = v < 69 ? 2000 + v : 1900 + v;  /* POSIX's pivot */
		return 0;
	case 'm':
		return kdate_digits(p, 2, &f->month);
	case 'd':
	case 'e':
		return kdate_digits(p, 2, &f->day);
	case 'H':
		return kdate_digits(p, 2, &f->hour);
	case 'M':
		return kdate_digits(p, 2, &f->min);
	case 'S':
		if (kdate_digits(p, 2, &v) < 0)
			return -1;
		f->sec = (double)v;
		if (**p == '.' && isdigit((unsigned char)(*p)[1])) {
			double scale = 0.1;
			for ((*p)++; isdigit((unsigned char)**p); (*p)++) {
				f->sec += (**p - '0') * scale;
				scale /= 10;
			}
		}
		return 0;
	case 'b':
	case 'B':
	case 'h':
		if (kdate_month_name(p, &m) < 0)
			return -1;
		f->month = m;
		return 0;
	case 'z':
		return kdate_offset(p, &f->off);
	case '%':
		if (**p != '%')
			return -1;
		(*p)++;
		return 0;
	default:
		return -2;
	}
}

/* Expand the shorthands %F and %T. */
static inline const char *
kdate_shorthand(char c)
{
	return c == 'F' ? "%Y-%m-%d" : c == 'T' ? "%H:%M:%S" : NULL;
}

/* Match S against FMT, filling F.  0, -1 (no match) or -2 (bad FMT). */
static inline int
kdate_match(const char **s, const char *fmt, struct kdate_fields *f)
{
	for (const char *q = fmt; *q != '\0'; q++) {
		if (isspace((unsigned char)*q)) {
			while (isspace((unsigned char)**s))
				(*s)++;
			continue;
		}
		if (*q != '%') {
			if (**s != *q)
				return -1;
			(*s)++;
			continue;
		}
		if (*++q == '\0')
			return -2;
		const char *sub = kdate_shorthand(*q);
		int rc = sub != NULL ? kdate_match(s, sub, f) :
		         kdate_directive(*q, s, f);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Does FMT use only the directives kdate_parse_fmt() knows? */
static inline int
kdate_fmt_valid(const char *fmt)
{
	for (const char *q = fmt; *q != '\0'; q++)
		if (*q == '%' && (*++q == '\0' || strchr("YymdeHMSbBhzFT%", *q) == NULL))
			return 0;
	return 1;
}

/*
 * Parse S as a time with the strptime-style format FMT: %Y (4 digits),
 * %y, %m, %d (%e), %H, %M, %S (with an optional fraction), %b / %B / %h
 * (English month names, any case, full or 3 letters), %z (Z, +HH,
 * +HH:MM, +HHMM), %F, %T, %%; a blank in FMT matches any run of blanks;
 * anything else matches itself.  Fields not in FMT default to 1970-01-01
 * 00:00:00 (day and month 1).  The whole of S must match.
 * RET: 0 with *OUT (seconds since the epoch, UTC), -1 if S does not match
 * or is not a real date or time, -2 if FMT has an unknown directive.
 */
static inline int
kdate_parse_fmt(const char *s, const char *fmt, double *out)
{
	struct kdate_fields f = { .year = 1970, .month = 1, .day = 1 };
	int rc = kdate_match(&s, fmt, &f);
	if (rc < 0)
		return rc;
	if (*s != '\0')
		return -1;
	if (f.month < 1 || f.month > 12 || f.day < 1 ||
	    f.day > kdate_mdays(f.year, (int)f.month) || f.hour > 23 ||
	    f.min > 59 || f.sec >= 61)
		return -1;
	*out = kdate_join(f.year, (int)f.month, (int)f.day,
	                  (double)(f.hour * 3600 + f.min * 60) + f.sec) - f.off;
	return 0;
}

/* The forms kdate_parse() knows without a format, most specific first.
 * ISO 8601 date-times may use T or a blank. */
static const char *const kdate_auto[] = {
	"%Y-%m-%d",
	"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z",
	"%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M%z",
	"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%z",
	"%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M%z",
	"%Y-%m",
	"%b-%d-%Y",
	NULL,
};

/* Earliest and latest years an 8-digit number is read as YYYYMMDD. */
#define KDATE_YMD_MIN 1583
#define KDATE_YMD_MAX 2999

/*
 * Is S exactly 8 digits forming a real date YYYYMMDD (years 1583..2999)?
 * A column of such numbers is a date column.  0 with *OUT, or -1.
 */
static inline int
kdate_parse_ymd(const char *s, double *out)
{
	int year = 0;
	for (int i = 0; i < 8; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (i < 4)
			year = year * 10 + (s[i] - '0');
	}
	if (s[8] != '\0' || year < KDATE_YMD_MIN || year > KDATE_YMD_MAX)
		return -1;
	return kdate_parse_fmt(s, "%Y%m%d", out);
}

/*
 * Parse S as a time in one of the forms of kdate_auto[] (ISO 8601 dates
 * and date-times, with or without an offset; YYYY-MM; Mon-D-YYYY), or
 * YYYYMMDD (kdate_parse_ymd).  0 with *OUT, or -1.
 */
static inline int
kdate_parse(const char *s, double *out)
{
	if (kdate_parse_ymd(s, out) == 0)
		return 0;
	for (int i = 0; kdate_auto[i] != NULL; i++)
		if (kdate_parse_fmt(s, kdate_auto[i], out) == 0)
			return 0;
	return -1;
}

/* ------------------------------------------------------------ writing */

/* Does every one of the N times fall on midnight (so dates say it all)? */
static inline int
kdate_whole_days(const double *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isfinite(t[i]) && t[i] != floor(t[i] / KDATE_DAY) * KDATE_DAY)
			return 0;
	return 1;
}

/* T as YYYY-MM-DD when DATE_ONLY, else YYYY-MM-DDTHH:MM:SS (with the
 * fraction of a second when there is one), in BUF (40 bytes will do). */
static inline void
kdate_format(double t, int date_only, char *buf, size_t len)
{
	struct kdate_tm tm;
	if (!isfinite(t)) {
		snprintf(buf, len, "%s", "");
		return;
	}
	kdate_split(t, &tm);
	if (date_only) {
		snprintf(buf, len, "%04d-%02d-%02d", (int)tm.year, tm.month,
		         tm.day);       /* |year| < 32 million: kdate_split */
		return;
	}
	int s = (int)tm.sec;
	double frac = tm.sec - s;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", (int)tm.year,
	         tm.month, tm.day, s / 3600 % 24, s / 60 % 60, s % 60);
	if (frac > 5e-7) {
		char f[16];
		snprintf(f, sizeof f, "%.6f", frac);
		size_t n = strlen(f);
		while (n > 2 && f[n - 1] == '0')
			f[--n] = '\0';
		snprintf(buf + strlen(buf), len - strlen(buf), "%s", f + 1);
	}
}

/* ------------------------------------------------------------ frequency */

/* How a series' times step: a fixed number of seconds, or of calendar
 * months (on the same day of the month, or on every month's last day). */
struct kdate_freq {
	int months;             /* 1: STEP counts months; 0: seconds */
	int month_end;          /* months: every time is a month's last day */
	double step;
	const char *name;       /* "daily", "weekly", "monthly", "quarterly",
	                         * "yearly", "hourly", "minutely", or "fixed step" */
	int season;             /* the usual season for NAME: 7, 52, 12, 4,
	                         * 24, 60, or 1 */
};

/* Does time B lie a whole number *K of months after A (same day of the
 * month, or both months' last day, and the same time of day)? */
static inline int
kdate_month_step(double a, double b, int *month_end, int64_t *k)
{
	struct kdate_tm x, y;
	kdate_split(a, &x);
	kdate_split(b, &y);
	if (x.sec != y.sec)
		return 0;
	int ends = x.day == kdate_mdays(x.year, x.month) &&
	           y.day == kdate_mdays(y.year, y.month);
	if (x.day != y.day && !ends)
		return 0;
	/* Month ends on day 28..31: a same-day step (the 28th) is not a
	 * month-end one, except when both ends share the day. */
	*month_end = ends && x.day >= 28 && (x.day != y.day || x.day == 31);
	*k = (y.year * 12 + y.month) - (x.year * 12 + x.month);
	return *k > 0;
}

static inline void
kdate_freq_name(struct kdate_freq *f)
{
	static const struct {
		int months;
		double step;
		const char *name;
		int season;
	} names[] = {
		{ 1, 1, "monthly", 12 }, { 1, 3, "quarterly", 4 },
		{ 1, 12, "yearly", 1 }, { 0, KDATE_DAY, "daily", 7 },
		{ 0, 7 * KDATE_DAY, "weekly", 52 }, { 0, 3600, "hourly", 24 },
		{ 0, 60, "minutely", 60 },
	};
	f->name = "fixed step";
	f->season = 1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].months == f->months && names[i].step == f->step) {
			f->name = names[i].name;
			f->season = names[i].season;
		}
}

/* The time K steps of F after T. */
static inline double
kdate_freq_next(const struct kdate_freq *f, double t, size_t k)
{
	if (!f->months)
		return t + f->step * (double)k;
	struct kdate_tm tm;
	kdate_split(t, &tm);
	int64_t mi = tm.year * 12 + (tm.month - 1) + (int64_t)f->step * (int64_t)k;
	int64_t y = mi >= 0 ? mi / 12 : -((-mi + 11) / 12);
	int m = (int)(mi - y * 12) + 1;
	int d = f->month_end || tm.day > kdate_mdays(y, m) ? kdate_mdays(y, m)
	                                                   : tm.day;
	return kdate_join(y, m, d, tm.sec);
}

/* Why kdate_freq_infer() stopped. */
enum kdate_bad {
	KDATE_MISSING = 1,      /* a time is missing */
	KDATE_DUPLICATE,        /* the same as the one before */
	KDATE_EARLIER,          /* before the one before: not sorted */
	KDATE_IRREGULAR,        /* not one step after the one before */
	KDATE_TOO_FEW,          /* fewer than 2 times */
};

/*
 * The frequency of the N times T (in order, no gaps).  CALENDAR 1: T are
 * times (kdate.h's seconds), and steps of whole months count as such;
 * CALENDAR 0: T are plain numbers (a year column): only a fixed step.
 * RET: 0 with *F; or a enum kdate_bad with *BAD the index of the first
 * time that breaks the pattern (0 for KDATE_TOO_FEW).
 */
static inline int
kdate_freq_infer(const double *t, size_t n, int calendar,
                 struct kdate_freq *f, size_t *bad)
{
	memset(f, 0, sizeof *f);
	*bad = 0;
	for (size_t i = 0; i < n; i++) {
		*bad = i;
		if (!isfinite(t[i]))
			return KDATE_MISSING;
		if (i > 0 && t[i] == t[i - 1])
			return KDATE_DUPLICATE;
		if (i > 0 && t[i] < t[i - 1])
			return KDATE_EARLIER;
	}
	*bad = 0;
	if (n < 2)
		return KDATE_TOO_FEW;
	int64_t k;
	int me;
	f->months = calendar && kdate_month_step(t[0], t[1], &me, &k);
	f->month_end = f->months && me;
	f->step = f->months ? (double)k : t[1] - t[0];
	for (size_t i = 1; i < n; i++) {
		double want = kdate_freq_next(f, t[i - 1], 1);
		if (fabs(t[i] - want) > 1e-9 * fmax(fabs(f->step), fabs(t[i]))) {
			*bad = i;
			return KDATE_IRREGULAR;
		}
	}
	kdate_freq_name(f);
	return 0;
}

#endif /* KILN_KDATE_H */
