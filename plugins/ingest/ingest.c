/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - the bundled 'ingest' plugin: reads a CSV file into a dataset
 * of N partitions in the kcol columnar format (kcol.h), the first step of
 * kiln's distributed analytics.
 *
 * Each partition is an output of the task (part-00000.kcol, ...), so the
 * master stores it by its SHA-256 and downstream tasks (model plugins)
 * receive the partitions they need as inputs on whichever worker they run.
 * A `schema.json` output describes the whole dataset (rows, partitions,
 * column names, types, missing counts, levels, the label column) so that a
 * downstream task can plan without opening every partition.
 *
 * Parameters: `file` (opened by the host, inside the worker's read roots:
 * host->open_data(); default: the first input), `partitions` (1..1024,
 * default 2), `label` (optional: a column recorded as the target),
 * `time_format` and `time_columns` (see Times below), `task`
 * (classification, regression or forecasting: with classification the
 * label's values are classes even when they are numbers, such as digits
 * 0-9; with regression the label must be numeric; recorded in the
 * schema).
 * Result: {"rows":R,"columns":C,"partitions":N}.
 *
 * Times: a column whose every value that is not missing is a date or a
 * date-time (kdate.h: ISO 8601 with or without an offset, YYYY-MM,
 * Mon-D-YYYY like Jan-1-1995, or one that `time_format`, a strptime-style
 * format, reads) is a time column (KCOL_TIME: seconds since 1970-01-01
 * UTC); so is a numeric column of 8-digit dates YYYYMMDD (years 1583 to
 * 2999).  `time_columns` (a comma list) names the time columns instead:
 * then only those are, every value must parse (an error names the line),
 * and `none` turns times off.  The schema tells a time column's "unit":
 * "date" when every value is a whole day, else "datetime".
 *
 * The schema also records where rows came from, so that later errors can
 * name a CSV line: "source" (the file) and "lines", [[row, line], ...]:
 * row r (from 0) is on line L + (r - R) of the last pair [R, L] with
 * R <= r (a pair starts the data and follows every record that spans
 * several lines or a skipped blank line).
 *
 * The CSV dialect is csvstats's (RFC 4180 quoting, LF or CRLF, a header
 * row, a UTF-8 BOM skipped): both use the reader in lib/csv/csv.h,
 * so they cannot drift apart.  Empty fields, NA, NaN (also nan, NAN) are
 * missing.  A column is numeric when every value that is not missing is a
 * finite decimal number (so a column with only missing values is
 * numeric); otherwise it is categorical, dictionary-
 * encoded over the sorted distinct values, the same in every partition.
 * Rows go to partitions in order, in contiguous runs whose sizes differ by
 * at most one (the first R % N partitions get one row more); partitions
 * may be empty, and a CSV with a header and no rows gives N empty ones.
 *
 * The file is read whole and parsed in place; every cell is a pointer into
 * that buffer until the columns are typed and encoded.  A large file
 * (`map_tasks`, `split_min`) is parsed by byte ranges over map tasks
 * instead (ingest_split.c), with the same bytes out.  Uses libc,
 * kiln/plugin.h and, for the map tasks' messages, jansson.  Thread-safe:
 * all state belongs to one run() or map().
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
#include "kcol/kcol.h"
#include "csv/csv.h"
#include "sbuf/sbuf.h"
#include "kdate/kdate.h"
#include "ingest.h"


static const struct kiln_param ingest_params[] = {
	{ "file", "string", "", "CSV file to read (default: the first input)" },
	{ "partitions", "int", "2", "number of partitions, 1..1024" },
	{ "label", "string", "", "column recorded in the schema as the target" },
	{ "time_format", "string", "", "strptime-style format of dates the automatic forms miss (e.g. %d/%m/%Y)" },
	{ "time_columns", "string", "", "comma-separated time columns (default: detected; none: no times)" },
	{ "task", "string", "", "classification (the label's values are classes, numbers too), regression or forecasting" },
	{ "map_tasks", "int", "0", "byte ranges parsed by map tasks: 1 reads the file in this task; N > 1 scans N ranges, then writes; 0 (auto) splits a file of split_min bytes or more: one pass (a map task per partition) where a sample settles the schema, else a scan of one range per 16 MiB first" },
	{ "split_min", "int", "67108864", "with map_tasks 0: the smallest file split over map tasks, in bytes" },
	{ NULL, NULL, NULL, NULL },
};

/* ------------------------------------------------------------ columns */

uint64_t
ingest_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int
ingest_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Encode column COL of the ROWS x NCOLS cells as categorical: its values
 * dictionary-encoded with the levels sorted by bytes (strcmp), so codes do
 * not depend on row order.  (Numeric columns are parsed as rows are read,
 * see ingest_run.)  Returns 0, KILN_ENOMEM, or KILN_EINVAL with ERR set
 * (too many levels).
 */
static int
ingest_encode(struct column *c, char **cells, size_t rows, size_t ncols,
              size_t col, char *err, size_t errlen)
{
	size_t r;
	c->type = KCOL_CATEGORICAL;
	c->missing = 0;
	c->codes = malloc((rows ? rows : 1) * sizeof *c->codes);
	size_t cap = 64, n = 0;
	while (cap < rows * 2)
		cap *= 2;
	struct level *tab = calloc(cap, sizeof *tab);
	if (c->codes == NULL || tab == NULL) {
		free(tab);
		return KILN_ENOMEM;
	}
	/* Pass 1: distinct values.  The table is at most half full since it
	 * has twice as many slots as there are rows. */
	for (r = 0; r < rows; r++) {
		const char *v = cells[r * ncols + col];
		if (csv_is_missing(v))
			continue;
		size_t j = ingest_hash(v) & (cap - 1);
		while (tab[j].value != NULL && strcmp(tab[j].value, v) != 0)
			j = (j + 1) & (cap - 1);
		if (tab[j].value == NULL) {
			tab[j].value = v;
			n++;
		}
	}
	if (n >= KCOL_MISSING) {
		snprintf(err, errlen, "column '%s' has %zu distinct values, "
		         "more than a kcol code can hold", c->name, n);
		free(tab);
		return KILN_EINVAL;
	}
	c->levels = malloc((n ? n : 1) * sizeof *c->levels);
	if (c->levels == NULL) {
		free(tab);
		return KILN_ENOMEM;
	}
	c->nlevels = (uint32_t)n;
	n = 0;
	for (size_t j = 0; j < cap; j++)
		if (tab[j].value != NULL)
			c->levels[n++] = tab[j].value;
	qsort(c->levels, n, sizeof *c->levels, ingest_strcmp);
	/* Pass 2: ranks into the table, then codes. */
	for (uint32_t k = 0; k < c->nlevels; k++) {
		size_t j = ingest_hash(c->levels[k]) & (cap - 1);
		while (strcmp(tab[j].value, c->levels[k]) != 0)
			j = (j + 1) & (cap - 1);
		tab[j].code = k;
	}
	for (r = 0; r < rows; r++) {
		const char *v = cells[r * ncols + col];
		if (csv_is_missing(v)) {
			c->codes[r] = KCOL_MISSING;
			c->missing++;
			continue;
		}
		size_t j = ingest_hash(v) & (cap - 1);
		while (strcmp(tab[j].value, v) != 0)
			j = (j + 1) & (cap - 1);
		c->codes[r] = tab[j].code;
	}
	free(tab);
	return 0;
}

/* ------------------------------------------------------------ outputs */

/* The dataset's schema.json into B; SOURCE names the CSV, A[0..NA) its
 * line anchors. */
void
ingest_schema(struct sbuf *b, const struct column *cols, size_t ncols,
              size_t rows, int nparts, const char *label, const char *source,
              const struct anchor *a, size_t na, const char *task)
{
	static const char *const types[] = { "numeric", "categorical", "time" };
	sb_printf(b, "{\"rows\":%zu,\"partitions\":%d,\"source\":", rows,
	          nparts);
	sb_json_str(b, source);
	sb_add(b, ",\"lines\":[", 10);
	for (size_t i = 0; i < na; i++)
		sb_printf(b, "%s[%zu,%zu]", i > 0 ? "," : "", a[i].row, a[i].line);
	sb_add(b, "],\"columns\":[", 13);
	for (size_t i = 0; i < ncols; i++) {
		const struct column *c = &cols[i];
		sb_add(b, i > 0 ? ",{\"name\":" : "{\"name\":", i > 0 ? 9 : 8);
		sb_json_str(b, c->name);
		sb_printf(b, ",\"type\":\"%s\",\"missing\":%zu",
		          types[c->type], c->missing);
		if (c->type == KCOL_TIME)
			sb_printf(b, ",\"unit\":\"%s\"", (c->whole_days >= 0 ?
			          c->whole_days : kdate_whole_days(c->num, rows)) ?
			          "date" : "datetime");
		if (c->type == KCOL_CATEGORICAL) {
			sb_add(b, ",\"levels\":[", 11);
			for (uint32_t j = 0; j < c->nlevels; j++) {
				if (j > 0)
					sb_add(b, ",", 1);
				sb_json_str(b, c->levels[j]);
			}
			sb_add(b, "]", 1);
		}
		sb_add(b, "}", 1);
	}
	sb_add(b, "],\"label\":", 10);
	if (label != NULL)
		sb_json_str(b, label);
	else
		sb_add(b, "null", 4);
	if (task != NULL)
		sb_printf(b, ",\"task\":\"%s\"", task);
	sb_add(b, "}", 1);
}

/* Encode rows [START, START + N) as output part-P.kcol. */
int
ingest_partition(kiln_task *task, const struct kiln_host *host,
                 const struct column *cols, size_t ncols, size_t start,
                 size_t n, int p)
{
	struct kcol_column *kc = calloc(ncols ? ncols : 1, sizeof *kc);
	if (kc == NULL)
		return KILN_ENOMEM;
	for (size_t i = 0; i < ncols; i++) {
		kc[i].name = cols[i].name;
		kc[i].type = cols[i].type;
		if (cols[i].type != KCOL_CATEGORICAL) {
			kc[i].num = cols[i].num + start;
		} else {
			kc[i].codes = cols[i].codes + start;
			kc[i].levels = cols[i].levels;
			kc[i].nlevels = cols[i].nlevels;
		}
	}
	void *buf;
	size_t len;
	int rc = kcol_write(kc, (uint32_t)ncols, n, &buf, &len);
	free(kc);
	if (rc < 0) {
		host->set_error(task, "ingest: cannot encode partition %d: %s",
		                p, strerror(-rc));
		return rc == -ENOMEM ? KILN_ENOMEM : KILN_EFAIL;
	}
	char name[32];
	snprintf(name, sizeof name, "part-%05d.kcol", p);
	rc = host->output(task, name, buf, len);
	free(buf);
	if (rc != KILN_OK)
		host->set_error(task, "ingest: cannot store output %s (%zu "
		                "bytes)", name, len);
	return rc;
}

/* ------------------------------------------------------------ run */

int
ingest_oom(struct ingest *in)
{
	in->host->set_error(in->task, "ingest: %s: out of memory", in->fname);
	return KILN_ENOMEM;
}

static int
ingest_parse_error(struct ingest *in)
{
	in->host->set_error(in->task, "ingest: %s", in->c.err);
	return KILN_EINVAL;
}

void
ingest_free(struct ingest *in)
{
	for (size_t i = 0; in->cols != NULL && i < in->ncols; i++) {
		free(in->cols[i].num);
		free(in->cols[i].codes);
		free(in->cols[i].levels);
	}
	free(in->cols);
	free(in->anchors);
	free(in->cells);
	free(in->header);
	free(in->c.fields);
	free(in->buf);
}

/* The parameters but the file: the number of partitions and the label
 * column (NULL: none). */
int
ingest_args(kiln_task *task, const struct kiln_host *host, int *nparts,
            const char **label)
{
	/* param_int() falls back to its default on text and truncates 2.5:
	 * asking twice with different defaults, and once as a double,
	 * tells those cases from a real integer. */
	int64_t n = host->param_int(task, "partitions", 2);
	const char *ptext = host->param(task, "partitions");
	if (n < 1 || n > INGEST_MAX_PARTITIONS ||
	    (ptext != NULL &&
	     (host->param_int(task, "partitions", -1) !=
	      host->param_int(task, "partitions", -2) ||
	      host->param_double(task, "partitions", NAN) != (double)n))) {
		host->set_error(task, "ingest: 'partitions' must be an integer "
		                "from 1 to %d, not %s", INGEST_MAX_PARTITIONS,
		                ptext != NULL ? ptext : "?");
		return KILN_EINVAL;
	}
	*nparts = (int)n;
	*label = host->param(task, "label");
	if (*label != NULL && **label == '\0')
		*label = NULL;
	return KILN_OK;
}

/* time_format (checked) and time_columns; empty is unset. */
int
ingest_time_args(struct ingest *in)
{
	in->time_format = in->host->param(in->task, "time_format");
	if (in->time_format != NULL && *in->time_format == '\0')
		in->time_format = NULL;
	in->time_columns = in->host->param(in->task, "time_columns");
	static const char *const tasks[] = { "classification", "regression",
	                                     "forecasting" };
	in->task_name = in->host->param(in->task, "task");
	if (in->task_name != NULL && *in->task_name == '\0')
		in->task_name = NULL;
	size_t k = 0;
	while (in->task_name != NULL && k < 3 && strcmp(in->task_name, tasks[k]) != 0)
		k++;
	if (k == 3) {
		in->host->set_error(in->task, "ingest: task '%s': expected "
		                    "classification, regression or forecasting",
		                    in->task_name);
		return KILN_EINVAL;
	}
	in->task_name = in->task_name != NULL ? tasks[k] : NULL;
	if (in->time_columns != NULL && *in->time_columns == '\0')
		in->time_columns = NULL;
	if (in->time_format != NULL && !kdate_fmt_valid(in->time_format)) {
		in->host->set_error(in->task, "ingest: time_format '%s': unknown "
		                    "directive (known: %%Y %%y %%m %%d %%e %%H %%M "
		                    "%%S %%b %%B %%h %%z %%F %%T %%%%)",
		                    in->time_format);
		return KILN_EINVAL;
	}
	return KILN_OK;
}

/* The header row: the columns (all numeric until a value says otherwise)
 * and which of them is LABEL. */
int
ingest_header(struct ingest *in, const char *label)
{
	size_t line;
	int rc = csv_record(&in->c, 0, &line);
	if (rc == 0) {
		in->host->set_error(in->task, "ingest: %s:%zu: empty file (no "
		                    "header)", in->fname, in->c.line);
		return KILN_EINVAL;
	}
	if (rc < 0)
		return ingest_parse_error(in);
	size_t ncols = in->ncols = in->c.nfields;
	if (ncols > INGEST_MAX_COLUMNS) {
		in->host->set_error(in->task, "ingest: %s:%zu: %zu columns, "
		                    "more than the %d allowed", in->fname, line,
		                    ncols, INGEST_MAX_COLUMNS);
		return KILN_EINVAL;
	}
	/* csv_record reuses c.fields: keep the header's own copy. */
	in->header = malloc(ncols * sizeof *in->header);
	if (in->header == NULL)
		return ingest_oom(in);
	memcpy(in->header, in->c.fields, ncols * sizeof *in->header);
	for (size_t i = 0; label != NULL && i < ncols; i++) {
		if (strcmp(in->header[i], label) == 0) {
			in->label_col = (int)i;
			break;
		}
	}
	if (label != NULL && in->label_col < 0) {
		in->host->set_error(in->task, "ingest: %s: label '%s' is not a "
		                    "column", in->fname, label);
		return KILN_EINVAL;
	}
	in->cols = calloc(ncols, sizeof *in->cols);
	if (in->cols == NULL)
		return ingest_oom(in);
	for (size_t i = 0; i < ncols; i++) {
		in->cols[i].name = in->header[i];
		in->cols[i].type = KCOL_NUMERIC;
		in->cols[i].whole_days = -1;
	}
	return KILN_OK;
}

/* Room for more rows of cells and numeric values; the first guess comes
 * from the length of the first row (read from DATA_START to the reader's
 * position), so that a large file is rarely copied to grow. */
static int
ingest_grow(struct ingest *in, const char *data_start)
{
	size_t ncols = in->ncols;
	size_t first = (size_t)(in->c.p - data_start);
	size_t cap = in->rows_cap ? in->rows_cap * 2 : 16 + (size_t)(in->buf +
	             in->len - data_start) / (first ? first : 1) * 9 / 8;
	if (cap > SIZE_MAX / 2 / sizeof *in->cells / ncols)
		return ingest_oom(in);
	char **p = realloc(in->cells, cap * ncols * sizeof *in->cells);
	if (p == NULL)
		return ingest_oom(in);
	in->cells = p;
	for (size_t i = 0; i < ncols; i++) {
		if (in->cols[i].type != KCOL_NUMERIC)
			continue;
		double *q = realloc(in->cols[i].num, cap * sizeof *q);
		if (q == NULL)
			return ingest_oom(in);
		in->cols[i].num = q;
	}
	in->rows_cap = cap;
	return KILN_OK;
}

/* Row ROW starts on line LINE, not where the last one left off. */
static int
ingest_anchor(struct ingest *in, size_t row, size_t line)
{
	if (in->nanchors == in->anchors_cap) {
		size_t cap = in->anchors_cap ? in->anchors_cap * 2 : 16;
		struct anchor *a = realloc(in->anchors, cap * sizeof *a);
		if (a == NULL)
			return -1;
		in->anchors = a;
		in->anchors_cap = cap;
	}
	in->anchors[in->nanchors++] = (struct anchor){ row, line };
	return 0;
}

/* The CSV line row ROW (from 0) starts on. */
size_t
ingest_line(const struct ingest *in, size_t row)
{
	size_t lo = 0, hi = in->nanchors;       /* last anchor <= row */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (in->anchors[mid].row <= row)
			lo = mid;
		else
			hi = mid;
	}
	return in->nanchors == 0 ? 0 : in->anchors[lo].line + row -
	       in->anchors[lo].row;
}

/* The data rows.  Numeric columns are parsed as each row is read, while
 * its text is still in the cache (a pass per column afterwards missed it
 * at every cell); the others keep their cells for ingest_columns(). */
int
ingest_rows(struct ingest *in)
{
	kiln_task *task = in->task;
	const struct kiln_host *host = in->host;
	struct csv *c = &in->c;
	struct column *cols = in->cols;
	size_t ncols = in->ncols, rows = 0, line;
	const char *data_start = c->p;
	int rc;
	while ((rc = csv_record(c, ncols == 1, &line)) > 0) {
		if (c->nfields != ncols) {
			host->set_error(task, "ingest: %s:%zu: expected %zu "
			                "fields, found %zu", in->fname, line,
			                ncols, c->nfields);
			return KILN_EINVAL;
		}
		if (rows == in->rows_cap &&
		    (rc = ingest_grow(in, data_start)) < 0)
			return rc;
		if ((rows == 0 || line != in->next_line) &&
		    ingest_anchor(in, rows, line) < 0)
			return ingest_oom(in);
		in->next_line = c->line;
		memcpy(in->cells + rows * ncols, c->fields,
		       ncols * sizeof *in->cells);
		for (size_t i = 0; i < ncols; i++) {
			if (cols[i].type != KCOL_NUMERIC)
				continue;
			const char *v = c->fields[i];
			if (csv_is_missing(v)) {
				cols[i].num[rows] = NAN;
				cols[i].missing++;
			} else if (!csv_number(v, &cols[i].num[rows])) {
				cols[i].type = KCOL_CATEGORICAL;
				free(cols[i].num);
				cols[i].num = NULL;
			}
		}
		rows++;
		if (rows % 4096 == 0) {
			if (host->cancelled(task)) {
				host->set_error(task, "ingest: cancelled at "
				                "%s:%zu", in->fname, line);
				return KILN_ECANCELLED;
			}
			host->progress(task, 0.5 * (double)(c->p - in->buf) /
			               (double)(in->len ? in->len : 1));
		}
	}
	in->rows = rows;
	return rc < 0 ? ingest_parse_error(in) : KILN_OK;
}

/* Is column NAME in the comma-separated LIST? */
int
ingest_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
	}
	return 0;
}

/* Cell V as a time: by time_format if set, then the automatic forms (for
 * a numeric column only YYYYMMDD: "1995" is a number). */
int
ingest_time_value(const struct ingest *in, const char *v, int numeric,
                  double *t)
{
	if (in->time_format != NULL && kdate_parse_fmt(v, in->time_format, t) == 0)
		return 0;
	return numeric ? kdate_parse_ymd(v, t) : kdate_parse(v, t);
}

/*
 * Column I as a time column, if it is one: every value that is not
 * missing (and at least one) reads as a time.  EXPLICIT (named in
 * time_columns): a value that does not is an error naming its line.
 * Returns 1 (now a time column), 0 (not one) or a KILN_E* code.
 */
static int
ingest_time_column(struct ingest *in, size_t i, int explicit)
{
	struct column *col = &in->cols[i];
	double *t = malloc((in->rows ? in->rows : 1) * sizeof *t);
	size_t missing = 0;
	if (t == NULL)
		return ingest_oom(in);
	for (size_t r = 0; r < in->rows; r++) {
		const char *v = in->cells[r * in->ncols + i];
		if (csv_is_missing(v)) {
			t[r] = NAN;
			missing++;
		} else if (ingest_time_value(in, v, !explicit &&
		           col->type == KCOL_NUMERIC, &t[r]) < 0) {
			free(t);
			if (!explicit)
				return 0;
			in->host->set_error(in->task, "ingest: %s:%zu: column "
			                    "'%s': '%s' is not a time%s%s%s",
			                    in->fname, ingest_line(in, r),
			                    col->name, v, in->time_format ?
			                    " in time_format '" : " (set time_format)",
			                    in->time_format ? in->time_format : "",
			                    in->time_format ? "'" : "");
			return KILN_EINVAL;
		}
	}
	if (missing == in->rows && !explicit) {
		free(t);
		return 0;
	}
	free(col->num);
	col->num = t;
	col->type = KCOL_TIME;
	col->missing = missing;
	return 1;
}

/* The time columns (see the top), then the categorical ones
 * dictionary-encoded; then the cells can go. */
static int
ingest_columns(struct ingest *in)
{
	char err[512];
	const char *tc = in->time_columns;
	struct column *lab = in->label_col >= 0 ? &in->cols[in->label_col] : NULL;
	int classes = in->task_name != NULL &&
	              strcmp(in->task_name, "classification") == 0;
	if (classes && lab == NULL) {
		in->host->set_error(in->task, "ingest: task: classification "
		                    "needs `label` (the column of the classes)");
		return KILN_EINVAL;
	}
	if (lab != NULL && classes && lab->type == KCOL_NUMERIC) {
		free(lab->num);         /* numbers as classes: encoded below */
		lab->num = NULL;
		lab->type = KCOL_CATEGORICAL;
	}
	for (const char *p = tc; p != NULL && strcmp(tc, "none") != 0;
	     p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t len = strcspn(p, ","), k;
		while (len > 0 && *p == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		for (k = 0; k < in->ncols; k++)
			if (strlen(in->cols[k].name) == len &&
			    strncmp(in->cols[k].name, p, len) == 0)
				break;
		if (len > 0 && k == in->ncols) {
			in->host->set_error(in->task, "ingest: %s: time_columns "
			                    "names '%.*s', which is not a column",
			                    in->fname, (int)len, p);
			return KILN_EINVAL;
		}
	}
	for (size_t i = 0; i < in->ncols; i++) {
		if ((tc != NULL && (strcmp(tc, "none") == 0 ||
		                    !ingest_listed(tc, in->cols[i].name))) ||
		    (classes && (int)i == in->label_col))
			continue;
		int rc = ingest_time_column(in, i, tc != NULL);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < in->ncols; i++) {
		struct column *col = &in->cols[i];
		if (col->type == KCOL_TIME)
			continue;
		if (col->type == KCOL_NUMERIC) {
			if (in->rows == 0 &&
			    (col->num = malloc(sizeof *col->num)) == NULL)
				return ingest_oom(in);
			continue;
		}
		int rc = ingest_encode(col, in->cells, in->rows, in->ncols, i,
		                       err, sizeof err);
		if (rc == KILN_ENOMEM)
			return ingest_oom(in);
		if (rc < 0) {
			in->host->set_error(in->task, "ingest: %s: %s",
			                    in->fname, err);
			return rc;
		}
	}
	free(in->cells);        /* the columns hold everything now */
	in->cells = NULL;
	if (lab != NULL && in->task_name != NULL &&
	    strcmp(in->task_name, "regression") == 0 &&
	    lab->type != KCOL_NUMERIC) {
		in->host->set_error(in->task, "ingest: %s: label '%s' is not "
		                    "numeric: task: regression needs numbers (a "
		                    "categorical label is for classification)",
		                    in->fname, lab->name);
		return KILN_EINVAL;
	}
	return KILN_OK;
}

/* The outputs: NPARTS partitions of about equal rows, then schema.json;
 * and the result. */
static int
ingest_write(struct ingest *in, int nparts)
{
	kiln_task *task = in->task;
	const struct kiln_host *host = in->host;
	size_t rows = in->rows, ncols = in->ncols;
	size_t per = rows / (size_t)nparts, extra = rows % (size_t)nparts;
	size_t start = 0;
	int rc;
	for (int p = 0; p < nparts; p++) {
		size_t n = per + ((size_t)p < extra);
		rc = ingest_partition(task, host, in->cols, ncols, start, n, p);
		if (rc < 0)
			return rc;
		start += n;
		if (host->cancelled(task)) {
			host->set_error(task, "ingest: cancelled after "
			                "partition %d", p);
			return KILN_ECANCELLED;
		}
		host->progress(task, 0.5 + 0.5 * (p + 1) / (double)nparts);
	}

	struct sbuf out = { 0 };
	ingest_schema(&out, in->cols, ncols, rows, nparts,
	              in->label_col >= 0 ? in->header[in->label_col] : NULL,
	              in->fname, in->anchors, in->nanchors, in->task_name);
	if (out.failed) {
		free(out.p);
		return ingest_oom(in);
	}
	rc = host->output(task, "schema.json", out.p, out.len);
	free(out.p);
	if (rc != KILN_OK) {
		host->set_error(task, "ingest: cannot store output schema.json");
		return rc;
	}
	char res[128];
	snprintf(res, sizeof res, "{\"rows\":%zu,\"columns\":%zu,"
	         "\"partitions\":%d}", rows, ncols, nparts);
	rc = host->set_result(task, res);
	if (rc != KILN_OK) {
		host->set_error(task, "ingest: result refused by the host");
		return rc;
	}
	host->log(task, KILN_LOG_INFO, "ingest: %s: %zu rows, %zu columns "
	          "into %d partitions", in->fname, rows, ncols, nparts);
	return KILN_OK;
}

static int
ingest_run(kiln_task *task, const struct kiln_host *host)
{
	struct ingest in = { .task = task, .host = host, .label_col = -1 };
	const char *label;
	int nparts;
	int rc = ingest_args(task, host, &nparts, &label);
	if (rc < 0)
		return rc;
	if ((rc = ingest_time_args(&in)) < 0)
		return rc;
	/* A large file: byte ranges over map tasks (ingest_split.c), the
	 * same bytes out. */
	rc = ingest_split_run(&in, label, nparts);
	if (rc != 1) {
		ingest_free(&in);
		return rc;
	}
	rc = csv_read_task(task, host, "ingest", "file", &in.fname, &in.buf,
	                   &in.len);
	if (rc < 0)
		return rc;
	csv_init(&in.c, in.buf, in.len, in.fname);
	if ((rc = ingest_header(&in, label)) == KILN_OK &&
	    (rc = ingest_rows(&in)) == KILN_OK &&
	    (rc = ingest_columns(&in)) == KILN_OK)
		rc = ingest_write(&in, nparts);
	ingest_free(&in);
	return rc;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "ingest",
	.version = "1.0.0",
	.description = "Reads a CSV file into a partitioned kcol dataset",
	.params = ingest_params,
	.run = ingest_run,
	.map = ingest_map,
};
