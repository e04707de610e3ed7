/* SPDX-License-Identifier: MIT */
/*
 * out.c - how the client commands print (see out.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "out.h"
#include "xalloc.h"


void
cli_print_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
}

/* Integer member KEY of O (0 if absent or null). */
int64_t
cli_jint(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return 0;
}

/* String member KEY of O, or DFLT. */
const char *
cli_jstr(const json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) && json_string_value(v)[0] != '\0' ?
	       json_string_value(v) : dflt;
}

/* "2026-11-24 08:01:02" (UTC) or "-" for no time. */
const char *
cli_fmt_time(int64_t ms, char buf[32])
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return strcpy(buf, "-");
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* "15ms", "1.2s", "30s", "2m05s", "3h20m". */
const char *
cli_fmt_dur(int64_t ms, char buf[32])
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, 32, "%" PRId64 "ms", ms);
	else if (ms < 60000 && ms % 1000 == 0)
		snprintf(buf, 32, "%" PRId64 "s", ms / 1000);
	else if (ms < 60000)
		snprintf(buf, 32, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, 32, "%" PRId64 "m%02" PRId64 "s", ms / 60000,
		         ms / 1000 % 60);
	else
		snprintf(buf, 32, "%" PRId64 "h%02" PRId64 "m", ms / 3600000,
		         ms / 60000 % 60);
	return buf;
}

/* "512MiB", "1.5GiB", "100B". */
const char *
cli_fmt_size(int64_t bytes, char buf[32])
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024.0 && u < 5) {
		v /= 1024.0;
		u++;
	}
	if (u == 0 || v == (double)(int64_t)v)
		snprintf(buf, 32, "%.0f%s", v, units[u]);
	else
		snprintf(buf, 32, "%.1f%s", v, units[u]);
	return buf;
}

/* 4 significant digits, integral values whole (a year, a count). */
const char *
cli_fmt_num(double v, char buf[32])
{
	double a = v < 0 ? -v : v;

	if (v != v)
		return strcpy(buf, "nan");
	if (a < 1e15 && v == (double)(long long)v)
		snprintf(buf, 32, "%lld", (long long)v);
	else if (a >= 1e4 && a < 1e15)
		snprintf(buf, 32, "%.1f", v);
	else
		snprintf(buf, 32, "%.4g", v);
	return buf;
}

/* The run time of something that started at START and finished at END
 * (0 = still running, measured to now); "-" if it never started. */
const char *
cli_fmt_span(int64_t start, int64_t end, char buf[32])
{
	if (start <= 0)
		return strcpy(buf, "-");
	return cli_fmt_dur((end > 0 ? end : clock_now_ms()) - start, buf);
}

/*
 * A time the master sent as ISO 8601 text ("2026-11-23T00:00:00+00:00",
 * as Airflow's logical dates) shown like cli_fmt_time() when it is UTC,
 * so that one table does not mix styles; any other form is returned as it
 * is, and NULL as "-".
 */
const char *
cli_fmt_iso(const char *s, char buf[32])
{
	if (s == NULL)
		return "-";
	if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return s;
	const char *zone = s + 19;
	if (*zone == '.')
		zone += 1 + strspn(zone + 1, "0123456789");
	if (*zone != '\0' && strcmp(zone, "Z") != 0 &&
	    strcmp(zone, "+00:00") != 0)
		return s;
	memcpy(buf, s, 19);
	buf[10] = ' ';
	buf[19] = '\0';
	return buf;
}

void
cli_table_rowv(struct cli_table *t, const char *const *row)
{
	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncol * sizeof *t->cells);
	for (int i = 0; i < t->ncol; i++) {
		char *cell = xstrdup(row[i] != NULL ? row[i] : "-");
		/* One line per row, and nothing from the master drives
		 * the terminal. */
		for (char *p = cell; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		t->cells[t->nrows * t->ncol + i] = cell;
	}
	t->nrows++;
}

void
cli_table_row(struct cli_table *t, ...)
{
	const char **row = xcalloc(t->ncol, sizeof *row);
	va_list ap;

	va_start(ap, t);
	for (int i = 0; i < t->ncol; i++)
		row[i] = va_arg(ap, const char *);
	va_end(ap);
	cli_table_rowv(t, row);
	free(row);
}

static size_t
cli_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

void
cli_table_print(struct cli_table *t, const char *indent)
{
	size_t *w = xcalloc(t->ncol, sizeof *w);

	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncol; i++) {
			size_t n = cli_width(t->cells[r * t->ncol + i]);
			if (n > w[i])
				w[i] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		int last = t->ncol - 1;
		/* No padding after the last non-empty cell. */
		while (last > 0 && t->cells[r * t->ncol + last][0] == '\0')
			last--;
		fputs(indent, stdout);
		for (int i = 0; i <= last; i++) {
			const char *s = t->cells[r * t->ncol + i];
			fputs(s, stdout);
			if (i == last)
				break;
			printf("%*s", (int)(w[i] - cli_width(s) + 2), "");
		}
		putchar('\n');
	}
	free(w);
	cli_table_free(t);
}

void
cli_table_free(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* Append S to the malloc()ed list *LIST with ", " between items. */
void
cli_list_add(char **list, const char *s)
{
	char *n = *list == NULL ? xstrdup(s) : xasprintf("%s, %s", *list, s);

	free(*list);
	*list = n;
}

/* "KEY: VALUE" with the values aligned at column WIDTH + 1. */
void
cli_kvw(int width, const char *key, const char *value)
{
	printf("%-*s ", width, key);
	cli_write_text(stdout, value, strlen(value));
	putchar('\n');
}

void
cli_write_text(FILE *f, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 0x20 && ch != 0x7f) || ch == '\n' || ch == '\t')
			continue;
		fwrite(s + start, 1, i - start, f);
		fprintf(f, "\\x%c%c", hex[ch >> 4], hex[ch & 15]);
		start = i + 1;
	}
	fwrite(s + start, 1, len - start, f);
}

void
cli_kv(const char *key, const char *value)
{
	cli_kvw(10, key, value);
}

/* KEY: VALUE where VALUE is compact JSON; skipped when null/absent. */
void
cli_kvw_json(int width, const char *key, const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return;
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	cli_kvw(width, key, s != NULL ? s : "?");
	free(s);
}

void
cli_kv_json(const char *key, const json_t *v)
{
	cli_kvw_json(10, key, v);
}
