/* SPDX-License-Identifier: MIT */
/*
 * cron.c - schedule expressions: parsing, fire times, dates.
 *
 * A cron expression becomes five bit sets; cron_next() and cron_prev() then
 * walk the calendar field by field - a month that does not match is
 * skipped whole, then a day, then an hour, and the minute is found with a
 * bit scan - so even a schedule that never fires ("0 0 30 2 *") costs a
 * few thousand cheap steps to rule out ten years, and a typical call a
 * handful.
 *
 * The calendar arithmetic is our own (days from the civil date and back,
 * proleptic Gregorian, after Howard Hinnant's algorithms) rather than
 * timegm()/gmtime_r(): it does not depend on the width of time_t or on TZ,
 * and the walk keeps a day number alongside the broken-down date, so the
 * weekday is one modulo away.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "err.h"
#include "xalloc.h"

/* Inputs beyond this (about 3 million years) are refused, so that no sum
 * of a time, an anchor and an interval can overflow. */
#define CRON_T_LIMIT    100000000000000LL
#define CRON_HORIZON_D  3653            /* ten years, in days */
#define CRON_EVERY_MAX  (3650LL * 86400)

/* ------------------------------------------------------------------------
 * Calendar
 * --------------------------------------------------------------------- */

static int64_t
cron_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int
cron_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
cron_mdays(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && cron_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of Y-M-D. */
static int64_t
cron_days(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
cron_civil(int64_t z, int64_t *y, int *m, int *d)
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

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int
cron_weekday(int64_t z)
{
	return (int)(((z % 7) + 11) % 7);
}

/* Broken-down UTC time plus its day number: the state of the walk. */
struct cron_tm {
	int64_t y, z;   /* year, days since the epoch */
	int m, d;       /* 1-12, 1-31 */
	int h, mi;      /* 0-23, 0-59 */
};

static void
cron_split(int64_t t, struct cron_tm *tm)
{
	tm->z = cron_floordiv(t, 86400);
	int64_t sod = t - tm->z * 86400;
	tm->h = (int)(sod / 3600);
	tm->mi = (int)(sod % 3600 / 60);
	cron_civil(tm->z, &tm->y, &tm->m, &tm->d);
}

static int64_t
cron_join(const struct cron_tm *tm)
{
	return tm->z * 86400 + tm->h * 3600 + tm->mi * 60;
}

/* ------------------------------------------------------------------------
 * Fire times
 * --------------------------------------------------------------------- */

static int
cron_day_ok(const struct cron *c, const struct cron_tm *tm)
{
	int dom = (c->dom >> tm->d) & 1;
	int dow = (c->dow >> cron_weekday(tm->z)) & 1;

	if (c->dom_star)
		return dow;     /* all days if dow is '*' too */
	if (c->dow_star)
		return dom;
	return dom || dow;
}

/* Lowest set bit of MASK at or above I, or -1. */
static int
cron_bit_from(uint64_t mask, int i)
{
	if (i > 63)
		return -1;
	mask >>= i;
	return mask ? i + __builtin_ctzll(mask) : -1;
}

/* Highest set bit of MASK at or below I, or -1. */
static int
cron_bit_upto(uint64_t mask, int i)
{
	if (i < 0)
		return -1;
	if (i < 63)
		mask &= (2ULL << i) - 1;
	return mask ? 63 - __builtin_clzll(mask) : -1;
}

static void
cron_next_day(struct cron_tm *tm)
{
	tm->d++;
	tm->z++;
	tm->h = tm->mi = 0;
}

static void
cron_next_month(struct cron_tm *tm)
{
	tm->z += cron_mdays(tm->y, tm->m) - tm->d + 1;
	if (++tm->m > 12) {
		tm->m = 1;
		tm->y++;
	}
	tm->d = 1;
	tm->h = tm->mi = 0;
}

static int64_t
cron_expr_next(const struct cron *c, int64_t t)
{
	struct cron_tm tm;

	cron_split(cron_floordiv(t, 60) * 60 + 60, &tm);
	int64_t zend = tm.z + CRON_HORIZON_D;

	while (tm.z <= zend) {
		if (tm.d > cron_mdays(tm.y, tm.m)) {
			cron_next_month(&tm);
			continue;
		}
		if (!((c->month >> tm.m) & 1)) {
			cron_next_month(&tm);
			continue;
		}
		if (c->dow_star && !c->dom_star) {
			/* Only the day of month counts: jump to it. */
			int d = cron_bit_from(c->dom, tm.d);
			if (d < 0 || d > cron_mdays(tm.y, tm.m)) {
				cron_next_month(&tm);
				continue;
			}
			if (d != tm.d) {
				tm.z += d - tm.d;
				tm.d = d;
				tm.h = tm.mi = 0;
			}
		} else if (!cron_day_ok(c, &tm)) {
			cron_next_day(&tm);
			continue;
		}
		int h = cron_bit_from(c->hour & 0xffffff, tm.h);
		if (h < 0) {
			cron_next_day(&tm);
			continue;
		}
		if (h != tm.h) {
			tm.h = h;
			tm.mi = 0;
		}
		int mi = cron_bit_from(c->minute, tm.mi);
		if (mi < 0 || mi > 59) {
			if (++tm.h > 23)
				cron_next_day(&tm);
			else
				tm.mi = 0;
			continue;
		}
		tm.mi = mi;
		return cron_join(&tm);
	}
	return -1;
}

static void
cron_prev_day(struct cron_tm *tm)
{
	tm->d--;
	tm->z--;
	tm->h = 23;
	tm->mi = 59;
}

static void
cron_prev_month(struct cron_tm *tm)
{
	tm->z -= tm->d;
	if (--tm->m < 1) {
		tm->m = 12;
		tm->y--;
	}
	tm->d = cron_mdays(tm->y, tm->m);
	tm->h = 23;
	tm->mi = 59;
}

static int64_t
cron_expr_prev(const struct cron *c, int64_t t)
{
	struct cron_tm tm;

	cron_split(cron_floordiv(t, 60) * 60, &tm);
	int64_t zend = tm.z - CRON_HORIZON_D;

	while (tm.z >= zend) {
		if (tm.d < 1) {
			cron_prev_month(&tm);
			continue;
		}
		if (!((c->month >> tm.m) & 1)) {
			cron_prev_month(&tm);
			continue;
		}
		if (c->dow_star && !c->dom_star) {
			int d = cron_bit_upto(c->dom, tm.d);
			if (d < 1) {
				cron_prev_month(&tm);
				continue;
			}
			if (d != tm.d) {
				tm.z -= tm.d - d;
				tm.d = d;
				tm.h = 23;
				tm.mi = 59;
			}
		} else if (!cron_day_ok(c, &tm)) {
			cron_prev_day(&tm);
			continue;
		}
		int h = cron_bit_upto(c->hour & 0xffffff, tm.h);
		if (h < 0) {
			cron_prev_day(&tm);
			continue;
		}
		if (h != tm.h) {
			tm.h = h;
			tm.mi = 59;
		}
		int mi = cron_bit_upto(c->minute & ((1ULL << 60) - 1), tm.mi);
		if (mi < 0) {
			if (--tm.h < 0)
				cron_prev_day(&tm);
			else
				tm.mi = 59;
			continue;
		}
		tm.mi = mi;
		return cron_join(&tm);
	}
	return -1;
}

int64_t
cron_next(const struct cron *c, int64_t t, int64_t anchor)
{
	if (t > CRON_T_LIMIT || t < -CRON_T_LIMIT)
		return -1;
	switch (c->kind) {
	case CRON_EXPR:
		return cron_expr_next(c, t);
	case CRON_EVERY:
		if (c->every_s <= 0 || c->every_s > CRON_EVERY_MAX ||
		    anchor > CRON_T_LIMIT || anchor < -CRON_T_LIMIT)
			return -1;
		return anchor + (cron_floordiv(t - anchor, c->every_s) + 1) *
		                c->every_s;
	default:
		return -1;
	}
}

int64_t
cron_prev(const struct cron *c, int64_t t, int64_t anchor)
{
	if (t > CRON_T_LIMIT || t < -CRON_T_LIMIT)
		return -1;
	switch (c->kind) {
	case CRON_EXPR:
		return cron_expr_prev(c, t);
	case CRON_EVERY:
		if (c->every_s <= 0 || c->every_s > CRON_EVERY_MAX ||
		    anchor > CRON_T_LIMIT || anchor < -CRON_T_LIMIT)
			return -1;
		return anchor + cron_floordiv(t - anchor, c->every_s) * c->every_s;
	default:
		return -1;
	}
}

/* ------------------------------------------------------------------------
 * Parsing
 * --------------------------------------------------------------------- */

static const char *const cron_month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	"JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL
};
static const char *const cron_day_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

struct cron_field {
	const char *name;               /* for messages */
	int lo, hi;                     /* values accepted on input */
	int star_hi;                    /* what '*' spans (dow: 6, not 7) */
	const char *const *names;       /* names for lo, lo+1, ...; or NULL */
	int names_lo;
	const char *kind;               /* "month" in "unknown month name" */
};

static const struct cron_field cron_fields[5] = {
	{ "minute",       0, 59, 59, NULL, 0, NULL },
	{ "hour",         0, 23, 23, NULL, 0, NULL },
	{ "day of month", 1, 31, 31, NULL, 0, NULL },
	{ "month",        1, 12, 12, cron_month_names, 1, "month" },
	{ "day of week",  0, 7,  6,  cron_day_names, 0, "day" },
};

/* The parser's cursor: S is the whole expression, so that every error can
 * say where it is. */
struct cron_px {
	const char *s;
	int *col;
	char **err;
};

static int
cron_fail(struct cron_px *px, const char *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
cron_fail(struct cron_px *px, const char *at, const char *fmt, ...)
{
	va_list ap;

	if (px->col)
		*px->col = (int)(at - px->s);
	if (px->err) {
		va_start(ap, fmt);
		*px->err = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int
cron_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

/* Length of the token at P for a message: a run of letters and digits, or
 * up to the next separator for anything else; at most 32 bytes shown. */
static int
cron_toklen(const char *p, const char *end)
{
	const char *q = p;

	if (q < end && isalnum((unsigned char)*q)) {
		while (q < end && isalnum((unsigned char)*q))
			q++;
	} else {
		while (q < end && !cron_blank(*q) && *q != ',' && *q != '-' &&
		       *q != '/' && q - p < 32)
			q++;
		if (q == p && q < end)
			q++;
	}
	return (int)(q - p > 32 ? 32 : q - p);
}

/* Digits at *P as a value, saturated so that huge ones stay out of range. */
static int
cron_digits(const char **p, const char *end)
{
	long v = 0;

	while (*p < end && isdigit((unsigned char)**p)) {
		if (v < 1000000)
			v = v * 10 + (**p - '0');
		(*p)++;
	}
	return (int)v;
}

/* One value (number or name) of field F at *P; checked against the field's
 * range. */
static int
cron_value(struct cron_px *px, const struct cron_field *f, const char **p,
           const char *end, int *v)
{
	const char *at = *p;

	if (at == end)
		return cron_fail(px, at, "unexpected end of %s field", f->name);
	if (isdigit((unsigned char)*at)) {
		*v = cron_digits(p, end);
		if (*v < f->lo || *v > f->hi)
			return cron_fail(px, at, "%s %.*s out of range %d-%d",
			                 f->name, (int)(*p - at), at, f->lo, f->hi);
		return 0;
	}
	int n = cron_toklen(at, end);
	if (f->names && isalpha((unsigned char)*at)) {
		for (int i = 0; f->names[i]; i++)
			if (n == 3 && strncasecmp(at, f->names[i], 3) == 0) {
				*v = f->names_lo + i;
				*p += n;
				return 0;
			}
		return cron_fail(px, at, "unknown %s name '%.*s'", f->kind, n, at);
	}
	return cron_fail(px, at, "unexpected '%.*s' in %s field", n, at, f->name);
}

/* Field I of the expression, the bytes [P, END), into *MASK. */
static int
cron_field(struct cron_px *px, int i, const char *p, const char *end,
           uint64_t *mask)
{
	const struct cron_field *f = &cron_fields[i];
	int rc;

	*mask = 0;
	for (;;) {
		const char *at = p;
		int a, b, step = 1;

		if (p < end && *p == '*') {
			a = f->lo;
			b = f->star_hi;
			p++;
		} else {
			if ((rc = cron_value(px, f, &p, end, &a)) < 0)
				return rc;
			b = a;
			if (p < end && *p == '-') {
				p++;
				if ((rc = cron_value(px, f, &p, end, &b)) < 0)
					return rc;
				if (a > b)
					return cron_fail(px, at, "%s range %.*s is reversed",
					                 f->name, (int)(p - at), at);
			} else if (p < end && *p == '/') {
				/* "5/15": from 5 to the end; "7/2" in day of
				 * week (above star_hi) is Sunday alone. */
				b = a > f->star_hi ? a : f->star_hi;
			}
		}
		if (p < end && *p == '/') {
			const char *sat = ++p;
			if (p == end || !isdigit((unsigned char)*p))
				return cron_fail(px, sat, "expected a step after '/' in %s field",
				                 f->name);
			step = cron_digits(&p, end);
			int span = f->star_hi - f->lo + 1;
			if (step == 0)
				return cron_fail(px, sat, "step must be positive");
			if (step > span)
				return cron_fail(px, sat, "%s step %.*s out of range 1-%d",
				                 f->name, (int)(p - sat), sat, span);
		}
		for (int v = a; v <= b; v += step)
			*mask |= 1ULL << v;
		if (p == end)
			return 0;
		if (*p != ',')
			return cron_fail(px, p, "unexpected '%.*s' in %s field",
			                 cron_toklen(p, end), p, f->name);
		p++;
	}
}

static const struct {
	const char *name;
	const char *expr;
} cron_presets[] = {
	{ "@hourly",   "0 * * * *" },
	{ "@daily",    "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly",   "0 0 * * 0" },
	{ "@monthly",  "0 0 1 * *" },
	{ "@yearly",   "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* Five fields at S (which PX->s contains). */
static int
cron_fields_parse(struct cron_px *px, const char *s, struct cron *c)
{
	const char *beg[5], *end[5], *sixth = NULL;
	int n = 0, rc;
	const char *p = s;

	/* Count every field first: "found 7" helps more than "found 6". */
	for (;;) {
		while (*p && cron_blank(*p))
			p++;
		if (!*p)
			break;
		if (n < 5)
			beg[n] = p;
		else if (n == 5)
			sixth = p;
		while (*p && !cron_blank(*p))
			p++;
		if (n < 5)
			end[n] = p;
		n++;
	}
	if (n > 5)
		return cron_fail(px, sixth, "expected 5 fields, found %d", n);
	if (n < 5)
		return cron_fail(px, n ? end[n - 1] : p, "expected 5 fields, found %d", n);

	uint64_t m[5];
	for (int i = 0; i < 5; i++)
		if ((rc = cron_field(px, i, beg[i], end[i], &m[i])) < 0)
			return rc;
	if (m[4] & (1u << 7))
		m[4] = (m[4] | 1) & ~(1ULL << 7);       /* 7 is Sunday too */

	memset(c, 0, sizeof *c);
	c->kind = CRON_EXPR;
	c->minute = m[0];
	c->hour = (uint32_t)m[1];
	c->dom = (uint32_t)m[2];
	c->month = (uint16_t)m[3];
	c->dow = (uint8_t)m[4];
	c->dom_star = c->dom == 0xfffffffeu;
	c->dow_star = c->dow == 0x7f;
	return 0;
}

/* The rest of the text after a complete schedule at P must be blank. */
static int
cron_tail(struct cron_px *px, const char *p, const char *what)
{
	while (*p && cron_blank(*p))
		p++;
	if (*p)
		return cron_fail(px, p, "unexpected '%.*s' after %s",
		                 cron_toklen(p, p + strlen(p)), p, what);
	return 0;
}

/* Does the word at P equal W (case-insensitive), followed by a blank or
 * the end? */
static int
cron_word(const char *p, const char *w)
{
	size_t n = strlen(w);
	return strncasecmp(p, w, n) == 0 && (p[n] == '\0' || cron_blank(p[n]));
}

static int
cron_every(struct cron_px *px, const char *p, struct cron *c)
{
	while (*p && cron_blank(*p))
		p++;
	if (!isdigit((unsigned char)*p))
		return cron_fail(px, p, "expected a number after 'every'");

	const char *nat = p;
	int64_t n = 0;
	while (isdigit((unsigned char)*p)) {
		if (n < CRON_EVERY_MAX + 1)
			n = n * 10 + (*p - '0');
		p++;
	}
	int ndig = (int)(p - nat);
	if (n == 0)
		return cron_fail(px, nat, "interval must be positive");
	while (*p && cron_blank(*p))
		p++;

	const char *uat = p;
	int ulen = cron_toklen(p, p + strlen(p));
	int64_t unit = 0;
	if (ulen == 1) {
		switch (*p | 0x20) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		}
	}
	if (ulen == 0)
		return cron_fail(px, uat, "missing unit after %.*s (expected s, m, h or d)",
		                 ndig, nat);
	if (unit == 0)
		return cron_fail(px, uat, "unknown unit '%.*s' (expected s, m, h or d)",
		                 ulen, uat);
	if (n > CRON_EVERY_MAX / unit)
		return cron_fail(px, nat, "interval %.*s%c longer than 3650 days",
		                 ndig, nat, *uat);
	int rc = cron_tail(px, uat + 1, "the interval");
	if (rc < 0)
		return rc;

	memset(c, 0, sizeof *c);
	c->kind = CRON_EVERY;
	c->every_s = n * unit;
	return 0;
}

int
cron_parse(const char *s, struct cron *out, int *col, char **err)
{
	struct cron_px px = { s, col, err };
	struct cron c;
	int rc;

	memset(&c, 0, sizeof c);
	if (s == NULL) {
		*out = c;
		return 0;
	}
	const char *p = s;
	while (*p && cron_blank(*p))
		p++;

	if (*p == '\0') {
		rc = 0;
	} else if (cron_word(p, "none")) {
		rc = cron_tail(&px, p + 4, "none");
	} else if (cron_word(p, "every")) {
		rc = cron_every(&px, p + 5, &c);
	} else if (*p == '@') {
		int n = cron_toklen(p + 1, p + strlen(p)) + 1;
		size_t i;
		for (i = 0; i < sizeof cron_presets / sizeof cron_presets[0]; i++)
			if ((size_t)n == strlen(cron_presets[i].name) &&
			    strncasecmp(p, cron_presets[i].name, n) == 0)
				break;
		if (i == sizeof cron_presets / sizeof cron_presets[0])
			return cron_fail(&px, p, "unknown preset '%.*s' (expected "
			                 "@hourly, @daily, @midnight, @weekly, "
			                 "@monthly, @yearly or @annually)", n, p);
		if ((rc = cron_tail(&px, p + n, cron_presets[i].name)) < 0)
			return rc;
		/* The presets' own text cannot fail; errors would point into
		 * it, so parse it as a string of its own. */
		struct cron_px ppx = { cron_presets[i].expr, NULL, NULL };
		rc = cron_fields_parse(&ppx, cron_presets[i].expr, &c);
	} else {
		rc = cron_fields_parse(&px, p, &c);
	}
	if (rc < 0)
		return rc;
	*out = c;
	return 0;
}

/* ------------------------------------------------------------------------
 * Formatting
 * --------------------------------------------------------------------- */

/* Append to BUF (of LEN, holding *POS bytes) like snprintf, never past the
 * end. */
static void
cron_cat(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
cron_cat(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos = *pos + (size_t)n < len ? *pos + (size_t)n : len - 1;
}

/*
 * One field in the usual spellings: "*"; "*\/N" or "A-B/N" for a
 * progression of three or more values (two read better as a list: "0,30"
 * rather than "*\/30"); else a list of single values and runs "A-B" of
 * three or more.
 */
static void
cron_format_field(uint64_t mask, int lo, int hi, char *buf, size_t len,
                  size_t *pos)
{
	int v[64], n = 0;

	for (int i = lo; i <= hi; i++)
		if ((mask >> i) & 1)
			v[n++] = i;
	if (n == hi - lo + 1) {
		cron_cat(buf, len, pos, "*");
		return;
	}
	if (n >= 2) {
		int step = v[1] - v[0], ap = 1;
		for (int i = 2; i < n && ap; i++)
			ap = v[i] - v[i - 1] == step;
		if (ap && step > 1 && n >= 3 && v[0] == lo &&
		    v[n - 1] + step > hi) {
			cron_cat(buf, len, pos, "*/%d", step);
			return;
		}
		if (ap && step > 1 && n >= 3) {
			cron_cat(buf, len, pos, "%d-%d/%d", v[0], v[n - 1], step);
			return;
		}
	}
	for (int i = 0; i < n;) {
		int j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (j - i >= 2) {
			cron_cat(buf, len, pos, "%s%d-%d", i ? "," : "", v[i], v[j]);
			i = j + 1;
		} else {
			cron_cat(buf, len, pos, "%s%d", i ? "," : "", v[i]);
			i++;
		}
	}
}

void
cron_format(const struct cron *c, char *buf, size_t len)
{
	size_t pos = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	switch (c->kind) {
	case CRON_EXPR:
		cron_format_field(c->minute, 0, 59, buf, len, &pos);
		cron_cat(buf, len, &pos, " ");
		cron_format_field(c->hour, 0, 23, buf, len, &pos);
		cron_cat(buf, len, &pos, " ");
		cron_format_field(c->dom, 1, 31, buf, len, &pos);
		cron_cat(buf, len, &pos, " ");
		cron_format_field(c->month, 1, 12, buf, len, &pos);
		cron_cat(buf, len, &pos, " ");
		cron_format_field(c->dow, 0, 6, buf, len, &pos);
		break;
	case CRON_EVERY:
		cron_cat(buf, len, &pos, "every %" PRId64 "s", c->every_s);
		break;
	default:
		cron_cat(buf, len, &pos, "none");
		break;
	}
}

/* ------------------------------------------------------------------------
 * Dates
 * --------------------------------------------------------------------- */

/* Exactly N digits at *P. */
static int
cron_ndigits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

#define CRON_DATE_SYNTAX "expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] and " \
	"optionally Z or +HH:MM"

int
cron_parse_date(const char *s, int64_t *t, char **err)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;

	if (s == NULL)
		return err_set(err, -EINVAL, "missing date");
	if (cron_ndigits(&p, 4, &y) < 0 || *p++ != '-' ||
	    cron_ndigits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    cron_ndigits(&p, 2, &d) < 0)
		return err_set(err, -EINVAL, "bad date '%.64s': " CRON_DATE_SYNTAX, s);
	if (*p == 'T' || *p == 't' || (*p == ' ' && p[1] != '\0')) {
		p++;
		if (cron_ndigits(&p, 2, &h) < 0 || *p++ != ':' ||
		    cron_ndigits(&p, 2, &mi) < 0)
			return err_set(err, -EINVAL, "bad date '%.64s': "
			              CRON_DATE_SYNTAX, s);
		if (*p == ':') {
			p++;
			if (cron_ndigits(&p, 2, &sec) < 0)
				return err_set(err, -EINVAL, "bad date '%.64s': "
				              CRON_DATE_SYNTAX, s);
			if (*p == '.' && isdigit((unsigned char)p[1]))
				for (p++; isdigit((unsigned char)*p); p++)
					;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (cron_ndigits(&p, 2, &oh) < 0)
				return err_set(err, -EINVAL, "bad date '%.64s': "
				              CRON_DATE_SYNTAX, s);
			int colon = *p == ':';
			if (colon)
				p++;
			if ((colon || isdigit((unsigned char)*p)) &&
			    cron_ndigits(&p, 2, &om) < 0)
				return err_set(err, -EINVAL, "bad date '%.64s': "
				              CRON_DATE_SYNTAX, s);
			if (oh > 23 || om > 59)
				return err_set(err, -EINVAL, "bad date '%.64s': zone "
				              "offset out of range", s);
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0')
		return err_set(err, -EINVAL, "bad date '%.64s': " CRON_DATE_SYNTAX, s);
	if (mo < 1 || mo > 12)
		return err_set(err, -EINVAL, "bad date '%.64s': month %d out of "
		              "range 1-12", s, mo);
	if (d < 1 || d > cron_mdays(y, mo))
		return err_set(err, -EINVAL, "bad date '%.64s': day %d out of range "
		              "1-%d for %04d-%02d", s, d, cron_mdays(y, mo), y, mo);
	if (h > 23 || mi > 59 || sec > 59)
		return err_set(err, -EINVAL, "bad date '%.64s': time %02d:%02d:%02d "
		              "out of range", s, h, mi, sec);
	*t = cron_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	return 0;
}

void
cron_format_date(int64_t t, char *buf, size_t len)
{
	int64_t y;
	int m, d;

	cron_civil(cron_floordiv(t, 86400), &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02d-%02d", y, m, d);
}

void
cron_format_iso(int64_t t, char *buf, size_t len)
{
	int64_t z = cron_floordiv(t, 86400), sod = t - z * 86400, y;
	int m, d;

	cron_civil(z, &y, &m, &d);
	snprintf(buf, len, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d+00:00", y, m, d,
	         (int)(sod / 3600), (int)(sod % 3600 / 60), (int)(sod % 60));
}
