/* SPDX-License-Identifier: MIT */
/*
 * cron.h - pipeline schedules: when a DAG's runs fall due.
 *
 * A DAG's `schedule:` is one of
 *   - a five-field cron expression, "*\/15 9-17 * * 1-5" (minute, hour,
 *     day of month, month, day of week), or a preset such as @daily;
 *   - a fixed interval, "every 15m", counted from the DAG's start_date;
 *   - "none" (or nothing): the DAG runs only when triggered.
 * cron_parse() turns the text into a struct cron of plain bit sets, so the
 * scheduler can copy it freely and ask cron_next() / cron_prev() for fire
 * times without allocating.
 *
 * All times are unix seconds in UTC, and so is every field of a cron
 * expression: kiln has no time zones, so daylight saving never moves,
 * repeats or skips a run.  Resolution is one minute for cron expressions
 * and one second for intervals.
 *
 * Day matching follows Vixie cron, as Airflow's croniter does: when both
 * day of month and day of week are restricted, a day matches if EITHER
 * does ("0 0 13 * 5" fires on every 13th and on every Friday); when one of
 * them is '*', only the other one counts.
 */
#ifndef KILN_CRON_H
#define KILN_CRON_H

#include <stddef.h>
#include <stdint.h>

enum {
	CRON_NONE = 0,  /* manual only: no fire times */
	CRON_EXPR,      /* five fields or a preset */
	CRON_EVERY,     /* fixed interval, aligned to an anchor */
};

/* Room enough for any cron_format() text, and for cron_format_date() /
 * cron_format_iso() of any year from 0 to 9999. */
#define CRON_FORMAT_MAX 512
#define CRON_DATE_MAX   32

/* A parsed schedule: plain data, copyable, no heap. */
struct cron {
	int kind;               /* CRON_NONE, CRON_EXPR or CRON_EVERY */
	uint64_t minute;        /* bit i set = minute i allowed (0-59) */
	uint32_t hour;          /* bits 0-23 */
	uint32_t dom;           /* day of month, bits 1-31 */
	uint16_t month;         /* bits 1-12 */
	uint8_t dow;            /* day of week, bits 0-6, Sunday = 0 (7 is
	                         * accepted on input as Sunday) */
	int dom_star, dow_star; /* the field allows every value ("*", "*\/1",
	                         * "1-31", "0-7"...), as croniter decides it;
	                         * "*\/2" is a restriction.  Set by cron_parse(),
	                         * read by the day-matching rule above. */
	int64_t every_s;        /* CRON_EVERY: the interval in seconds, > 0 */
};

/*
 * Parse S into *OUT.
 *   - Five fields separated by blanks.  Each field is a comma-separated list
 *     of '*', N, A-B, each optionally followed by /STEP, or N/STEP (= N to
 *     the field's end, every STEP).  The month field also takes JAN-DEC and
 *     the day-of-week field SUN-SAT, case-insensitive.  Quartz extensions
 *     (L, W, #, ?) and a seconds or year field are refused.
 *   - Presets: @hourly, @daily, @midnight, @weekly (Sunday 00:00),
 *     @monthly, @yearly, @annually.
 *   - "every N<unit>", unit s, m, h or d ("every 15m", "every 1d"); at most
 *     3650 days.
 *   - NULL, "" (or blanks only) or "none": CRON_NONE.  Airflow's "@once" is
 *     not supported: use "none" and trigger the run.
 * RET 0, or -EINVAL with *ERR set to a message the caller frees ("minute 61
 * out of range 0-59", "expected 5 fields, found 4") and *COL to the 0-based
 * byte offset in S the message is about, so the DAG loader can report
 * FILE:LINE:COLUMN.  ERR and COL may be NULL.  *OUT is written only on
 * success.
 */
int cron_parse(const char *s, struct cron *out, int *col, char **err);

/*
 * The first fire time strictly after T, or -1 if there is none within ten
 * years (e.g. "0 0 30 2 *") or for CRON_NONE.
 * CRON_EXPR fires at whole minutes; ANCHOR is ignored.  CRON_EVERY fires at
 * ANCHOR + k * every_s for every integer k (the DAG's start_date is the
 * anchor, so "every 1d" from 2024-01-01T06:00 fires daily at 06:00); k may
 * be negative: keeping runs at or after start_date is the caller's job.
 * Times far outside years 1-9999 give -1.
 */
int64_t cron_next(const struct cron *c, int64_t t, int64_t anchor);

/*
 * The latest fire time at or before T (T itself if it is one), or -1 if
 * there is none within ten years before T.  This is what catchup: false
 * schedules: only the most recent interval.
 */
int64_t cron_prev(const struct cron *c, int64_t t, int64_t anchor);

/*
 * Normalised text of C for display, which cron_parse() reads back as the
 * same schedule: "*\/15 * * * *"; "@daily" gives "0 0 * * *"; "every 15m"
 * gives "every 900s"; CRON_NONE gives "none".  Truncated to LEN (use
 * CRON_FORMAT_MAX).
 */
void cron_format(const struct cron *c, char *buf, size_t len);

/*
 * Parse a start_date-style time into unix seconds: "2024-01-31",
 * "2024-01-31T12:00", "2024-01-31T12:00:00", optionally with fractional
 * seconds (dropped) and a zone "Z", "+HH:MM", "+HHMM" or "+HH" (no zone
 * means UTC; other offsets are converted to UTC).  A blank may stand for
 * the 'T'.  Impossible dates ("2024-02-30", "2023-13-01") are refused.
 * RET 0, or -EINVAL with *ERR set (caller frees).
 */
int cron_parse_date(const char *s, int64_t *t, char **err);

/* T as "2024-01-31" and as "2024-01-31T00:00:00+00:00" (ISO 8601, the
 * style of Airflow's logical_date).  Truncated to LEN (use CRON_DATE_MAX). */
void cron_format_date(int64_t t, char *buf, size_t len);
void cron_format_iso(int64_t t, char *buf, size_t len);

#endif
