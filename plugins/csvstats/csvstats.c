/* SPDX-License-Identifier: MIT */
/*
 * csvstats.c - the bundled 'csvstats' plugin: per-column statistics of a
 * CSV file.
 *
 * Reads the file named by the `file` parameter (opened by the host, inside
 * the worker's read roots: host->open_data()) or the task's first input,
 * with a header line, parses it as RFC 4180 (quoted fields may hold commas,
 * doubled quotes and newlines; CRLF or LF line ends), and sets as result
 *   {"file":..., "rows":N, "columns":[{"name":..., "type":"numeric",
 *    "count", "missing", "mean", "std", "min", "max"} or {..., "type":
 *    "categorical", "count", "missing", "distinct", "top", "top_count"}]}
 * Empty fields and NA / NaN are missing.  A column is numeric when every
 * value that is not missing is a finite decimal number.
 *
 * The file is read whole and parsed in place (unquoting only ever shrinks a
 * field), so each value is a pointer into one buffer.  Each column keeps
 * running numeric moments (Welford) and a hash table of distinct values, so
 * one pass suffices whatever the column turns out to be.
 *
 * The CSV reader and the JSON string builder are shared with the ingest
 * plugin (lib/csv/csv.h, lib/sbuf/sbuf.h).  Uses libc and kiln/plugin.h only.
 * Thread-safe: all state belongs to one run().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/plugin.h"
#include "csv/csv.h"
#include "sbuf/sbuf.h"

static const struct kiln_param csv_params[] = {
	{ "file", "string", "", "CSV file to read (default: the first input)" },
	{ NULL, NULL, NULL, NULL },
};

/* ------------------------------------------------------------ numbers */

/* sqrt() without libm: plugins link against libc only. */
static double
csv_sqrt(double x)
{
	if (!(x > 0) || !isfinite(x))
		return x > 0 ? x : 0;
	double scale = 1;
	while (x > 4) {
		x /= 4;
		scale *= 2;
	}
	while (x < 0.25) {
		x *= 4;
		scale /= 2;
	}
	double r = 1;
	for (int i = 0; i < 8; i++)  /* quadratic from within [0.5, 2] */
		r = 0.5 * (r + x / r);
	return r * scale;
}

/* ------------------------------------------------------------ columns */

struct distinct {
	const char *value;      /* NULL: empty slot */
	size_t count;
	size_t first;           /* row of first occurrence, for ties */
};

struct column {
	const char *name;
	int numeric;            /* every value so far was a number */
	size_t count, missing;
	double mean, m2, min, max;
	struct distinct *tab;   /* open addressing, power-of-two size */
	size_t tab_cap, ndistinct;
};

static uint64_t
csv_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
col_count_value(struct column *c, const char *v, size_t row)
{
	if (c->ndistinct * 2 + 2 > c->tab_cap) {
		size_t cap = c->tab_cap ? c->tab_cap * 2 : 64;
		struct distinct *tab = calloc(cap, sizeof *tab);
		if (tab == NULL)
			return -1;
		for (size_t i = 0; i < c->tab_cap; i++) {
			if (c->tab[i].value == NULL)
				continue;
			size_t j = csv_hash(c->tab[i].value) & (cap - 1);
			while (tab[j].value != NULL)
				j = (j + 1) & (cap - 1);
			tab[j] = c->tab[i];
		}
		free(c->tab);
		c->tab = tab;
		c->tab_cap = cap;
	}
	size_t j = csv_hash(v) & (c->tab_cap - 1);
	while (c->tab[j].value != NULL && strcmp(c->tab[j].value, v) != 0)
		j = (j + 1) & (c->tab_cap - 1);
	if (c->tab[j].value == NULL) {
		c->tab[j].value = v;
		c->tab[j].first = row;
		c->ndistinct++;
	}
	c->tab[j].count++;
	return 0;
}

static int
col_add(struct column *c, const char *v, size_t row)
{
	if (csv_is_missing(v)) {
		c->missing++;
		return 0;
	}
	c->count++;
	double d;
	if (c->numeric && csv_number(v, &d)) {
		double delta = d - c->mean;
		c->mean += delta / (double)c->count;
		c->m2 += delta * (d - c->mean);
		if (c->count == 1 || d < c->min)
			c->min = d;
		if (c->count == 1 || d > c->max)
			c->max = d;
	} else {
		c->numeric = 0;
	}
	return col_count_value(c, v, row);
}

static void
col_json(struct sbuf *b, const struct column *c)
{
	sb_add(b, "{\"name\":", 8);
	sb_json_str(b, c->name);
	if (c->numeric) {
		sb_printf(b, ",\"type\":\"numeric\",\"count\":%zu,"
		          "\"missing\":%zu,\"mean\":", c->count, c->missing);
		if (c->count > 0)
			sb_json_num(b, c->mean);
		else
			sb_add(b, "null", 4);
		sb_add(b, ",\"std\":", 7);
		if (c->count > 1)
			sb_json_num(b, csv_sqrt(c->m2 / (double)(c->count - 1)));
		else
			sb_add(b, "null", 4);
		sb_add(b, ",\"min\":", 7);
		if (c->count > 0)
			sb_json_num(b, c->min);
		else
			sb_add(b, "null", 4);
		sb_add(b, ",\"max\":", 7);
		if (c->count > 0)
			sb_json_num(b, c->max);
		else
			sb_add(b, "null", 4);
		sb_add(b, "}", 1);
		return;
	}
	/* Most frequent value; ties go to the one seen first. */
	const struct distinct *top = NULL;
	for (size_t i = 0; i < c->tab_cap; i++) {
		const struct distinct *e = &c->tab[i];
		if (e->value != NULL && (top == NULL || e->count > top->count ||
		    (e->count == top->count && e->first < top->first)))
			top = e;
	}
	sb_printf(b, ",\"type\":\"categorical\",\"count\":%zu,\"missing\":%zu,"
	          "\"distinct\":%zu,\"top\":", c->count, c->missing,
	          c->ndistinct);
	if (top != NULL)
		sb_json_str(b, top->value);
	else
		sb_add(b, "null", 4);
	sb_printf(b, ",\"top_count\":%zu}", top != NULL ? top->count : 0);
}

/* ------------------------------------------------------------ run */

static int
csv_run(kiln_task *task, const struct kiln_host *host)
{
	const char *label;
	char *buf;
	size_t len;
	int rc = csv_read_task(task, host, "csvstats", "file", &label, &buf,
	                       &len);
	if (rc < 0)
		return rc;

	struct csv c;
	csv_init(&c, buf, len, label);
	struct column *cols = NULL;
	size_t ncols = 0, rows = 0, line;
	struct sbuf out = { 0 };

	rc = csv_record(&c, 0, &line);
	if (rc == 0) {
		host->set_error(task, "csvstats: %s: empty file (no header)",
		                label);
		rc = KILN_EINVAL;
		goto out;
	}
	if (rc < 0)
		goto parse_error;
	ncols = c.nfields;
	cols = calloc(ncols, sizeof *cols);
	if (cols == NULL)
		goto oom;
	for (size_t i = 0; i < ncols; i++) {
		cols[i].name = c.fields[i];
		cols[i].numeric = 1;
	}

	while ((rc = csv_record(&c, ncols == 1, &line)) > 0) {
		if (c.nfields != ncols) {
			host->set_error(task, "csvstats: %s:%zu: expected %zu "
			                "fields, found %zu", label, line, ncols,
			                c.nfields);
			rc = KILN_EINVAL;
			goto out;
		}
		for (size_t i = 0; i < ncols; i++)
			if (col_add(&cols[i], c.fields[i], rows) < 0)
				goto oom;
		rows++;
		if (rows % 4096 == 0) {
			if (host->cancelled(task)) {
				host->set_error(task, "csvstats: cancelled at "
				                "%s:%zu", label, line);
				rc = KILN_ECANCELLED;
				goto out;
			}
			host->progress(task, (double)(c.p - buf) /
			               (double)(len ? len : 1));
		}
	}
	if (rc < 0)
		goto parse_error;

	size_t nnum = 0;
	sb_add(&out, "{\"file\":", 8);
	sb_json_str(&out, label);
	sb_printf(&out, ",\"rows\":%zu,\"columns\":[", rows);
	for (size_t i = 0; i < ncols; i++) {
		if (i > 0)
			sb_add(&out, ",", 1);
		col_json(&out, &cols[i]);
		nnum += cols[i].numeric != 0;
	}
	sb_add(&out, "]}", 2);
	if (out.failed)
		goto oom;
	rc = host->set_result(task, out.p);
	if (rc < 0) {
		host->set_error(task, "csvstats: result refused by the host "
		                "(%zu bytes)", out.len);
		goto out;
	}
	host->log(task, KILN_LOG_INFO, "csvstats: %s: %zu rows, %zu columns "
	          "(%zu numeric, %zu categorical)", label, rows, ncols, nnum,
	          ncols - nnum);
	rc = KILN_OK;
	goto out;

parse_error:
	host->set_error(task, "csvstats: %s", c.err);
	rc = KILN_EINVAL;
	goto out;
oom:
	host->set_error(task, "csvstats: %s: out of memory", label);
	rc = KILN_ENOMEM;
out:
	for (size_t i = 0; i < ncols; i++)
		free(cols[i].tab);
	free(cols);
	free(c.fields);
	free(out.p);
	free(buf);
	return rc;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "csvstats",
	.version = "1.0.0",
	.description = "Per-column statistics of a CSV file with a header",
	.params = csv_params,
	.run = csv_run,
};
