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
 * Parameters: `file` (default: the first input), `partitions` (1..1024,
 * default 2), `label` (optional: a column recorded as the target).
 * Result: {"rows":R,"columns":C,"partitions":N}.
 *
 * The CSV dialect is csvstats's (RFC 4180 quoting, LF or CRLF, a header
 * row, a UTF-8 BOM skipped): the parser below is a copy of its, kept in
 * step by hand since plugins share no code but the SDK.  Empty fields, NA,
 * NaN (also nan, NAN) are missing.  A column is numeric when every value
 * that is not missing is a finite decimal number (so a column with only
 * missing values is numeric); otherwise it is categorical, dictionary-
 * encoded over the sorted distinct values, the same in every partition.
 * Rows go to partitions in order, in contiguous runs whose sizes differ by
 * at most one (the first R % N partitions get one row more); partitions
 * may be empty, and a CSV with a header and no rows gives N empty ones.
 *
 * The file is read whole and parsed in place; every cell is a pointer into
 * that buffer until the columns are typed and encoded.  Uses libc and
 * kiln/plugin.h only.  Thread-safe: all state belongs to one run().
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
#include "kcol.h"

#define INGEST_MAX_COLUMNS 1000000
#define INGEST_MAX_PARTITIONS 1024

static const struct kiln_param ingest_params[] = {
	{ "file", "string", "", "CSV file to read (default: the first input)" },
	{ "partitions", "int", "2", "number of partitions, 1..1024" },
	{ "label", "string", "", "column recorded in the schema as the target" },
	{ NULL, NULL, NULL, NULL },
};

/* ------------------------------------------------------------ buffers */

/* A growing string; `failed` latches an allocation failure so callers
 * check once at the end. */
struct sbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		b->failed = 1;  /* only short numbers go through here */
	else
		sb_add(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at S (at most N bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	else if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* S as a JSON string; bytes that are not UTF-8 become U+FFFD, since the
 * host refuses a result that is not valid JSON text. */
static void
sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < n; ) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			sb_add(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			sb_printf(b, "\\u%04x", c);
			i++;
		} else {
			size_t len = utf8_len(u + i, n - i);
			if (len == 0) {
				sb_add(b, "\\ufffd", 6);
				i++;
			} else {
				sb_add(b, s + i, len);
				i += len;
			}
		}
	}
	sb_add(b, "\"", 1);
}

/* ------------------------------------------------------------ values */

static int
csv_is_missing(const char *v)
{
	return *v == '\0' || strcmp(v, "NA") == 0 || strcmp(v, "NaN") == 0 ||
	       strcmp(v, "nan") == 0 || strcmp(v, "NAN") == 0;
}

/* V as a finite decimal number (surrounding blanks allowed).  strtod alone
 * would also take "inf", hex and leading garbage-free prefixes. */
static int
csv_number(const char *v, double *out)
{
	const char *s = v;
	while (*s == ' ' || *s == '\t')
		s++;
	int digits = 0;
	for (const char *q = s; *q != '\0' && *q != ' ' && *q != '\t'; q++) {
		if (*q >= '0' && *q <= '9')
			digits = 1;
		else if (!strchr("+-.eE", *q))
			return 0;
	}
	if (!digits)
		return 0;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s)
		return 0;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' || !isfinite(d))
		return 0;
	*out = d;
	return 1;
}

/* ------------------------------------------------------------ parsing */

struct csv {
	char *p, *end;          /* unread part of the buffer */
	size_t line;            /* line number of *p, from 1 */
	const char *fname;      /* for messages */
	char err[512];
	char **fields;
	size_t nfields, cap;
};

static int
csv_push(struct csv *c, char *field)
{
	if (c->nfields == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **f = realloc(c->fields, cap * sizeof *f);
		if (f == NULL)
			return -1;
		c->fields = f;
		c->cap = cap;
	}
	c->fields[c->nfields++] = field;
	return 0;
}

/*
 * Parse the next record in place into c->fields (NUL-terminated strings in
 * the buffer).  Lines with nothing on them are skipped unless KEEP_BLANK
 * (a blank line is one empty field when there is one column).  Returns 1
 * with *line set to the record's first line, 0 at the end, -1 with c->err.
 */
static int
csv_record(struct csv *c, int keep_blank, size_t *line)
{
	c->nfields = 0;
	for (;;) {
		if (c->p >= c->end)
			return 0;
		if (keep_blank || (*c->p != '\n' && *c->p != '\r'))
			break;
		if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
			c->p++;
		c->p++;
		c->line++;
	}
	*line = c->line;
	for (;;) {
		/* One field: W writes the unquoted text over what was read,
		 * never ahead of P. */
		char *start = c->p, *w = c->p;
		if (c->p < c->end && *c->p == '"') {
			size_t qline = c->line;
			c->p++;
			for (;;) {
				if (c->p >= c->end) {
					snprintf(c->err, sizeof c->err,
					         "%s:%zu: unterminated quoted "
					         "field", c->fname, qline);
					return -1;
				}
				if (*c->p == '"') {
					if (c->p + 1 < c->end &&
					    c->p[1] == '"') {
						*w++ = '"';
						c->p += 2;
						continue;
					}
					c->p++;
					break;
				}
				if (*c->p == '\n')
					c->line++;
				*w++ = *c->p++;
			}
		}
		/* Unquoted text, or anything after a closing quote (kept,
		 * as most readers do). */
		while (c->p < c->end && *c->p != ',' && *c->p != '\n' &&
		       *c->p != '\r')
			*w++ = *c->p++;
		char sep = c->p < c->end ? *c->p : '\n';
		if (c->p < c->end)
			c->p++;
		*w = '\0';      /* W <= the separator just read, or the end */
		if (csv_push(c, start) < 0) {
			snprintf(c->err, sizeof c->err, "out of memory");
			return -1;
		}
		if (sep == ',')
			continue;
		if (sep == '\r' && c->p < c->end && *c->p == '\n')
			c->p++;
		c->line++;
		return 1;
	}
}

/* Read PATH whole, with one spare byte for the last terminator. */
static int
csv_read_file(const char *path, char **buf, size_t *len, char *err,
              size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         strerror(errno));
		return KILN_EIO;
	}
	size_t cap = 65536, n = 0;
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && st.st_size > 0)
		cap = (size_t)st.st_size + 2;   /* room to see EOF, and a NUL */
	char *p = NULL;
	for (;;) {
		if (p == NULL || n + 1 >= cap) {
			if (p != NULL)
				cap *= 2;
			char *q = realloc(p, cap);
			if (q == NULL) {
				free(p);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return KILN_ENOMEM;
			}
			p = q;
		}
		size_t r = fread(p + n, 1, cap - n - 1, f);
		if (r == 0)
			break;
		n += r;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		         strerror(errno));
		fclose(f);
		free(p);
		return KILN_EIO;
	}
	fclose(f);
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}

/* ------------------------------------------------------------ columns */

/* A distinct value of a categorical column: open addressing, keyed by the
 * string; `code` is its rank once the values are sorted. */
struct level {
	const char *value;      /* NULL: empty slot */
	uint32_t code;
};

struct column {
	const char *name;
	int type;               /* KCOL_NUMERIC or KCOL_CATEGORICAL */
	size_t missing;
	double *num;            /* rows values, numeric */
	uint32_t *codes;        /* rows codes, categorical */
	const char **levels;    /* sorted distinct values, categorical */
	uint32_t nlevels;
};

static uint64_t
ingest_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
ingest_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Type column COL of the ROWS x NCOLS cells and encode it: numeric if every
 * value that is not missing is a number, else dictionary-encoded with the
 * levels sorted by bytes (strcmp), so codes do not depend on row order.
 * Returns 0, KILN_ENOMEM, or KILN_EINVAL with ERR set (too many levels).
 */
static int
ingest_encode(struct column *c, char **cells, size_t rows, size_t ncols,
              size_t col, char *err, size_t errlen)
{
	size_t r;
	c->type = KCOL_NUMERIC;
	c->missing = 0;
	c->num = malloc((rows ? rows : 1) * sizeof *c->num);
	if (c->num == NULL)
		return KILN_ENOMEM;
	for (r = 0; r < rows; r++) {
		const char *v = cells[r * ncols + col];
		if (csv_is_missing(v)) {
			c->num[r] = NAN;
			c->missing++;
		} else if (!csv_number(v, &c->num[r])) {
			break;
		}
	}
	if (r == rows)
		return 0;

	free(c->num);
	c->num = NULL;
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

/* The dataset's schema.json into B. */
static void
ingest_schema(struct sbuf *b, const struct column *cols, size_t ncols,
              size_t rows, int nparts, const char *label)
{
	sb_printf(b, "{\"rows\":%zu,\"partitions\":%d,\"columns\":[", rows,
	          nparts);
	for (size_t i = 0; i < ncols; i++) {
		const struct column *c = &cols[i];
		sb_add(b, i > 0 ? ",{\"name\":" : "{\"name\":", i > 0 ? 9 : 8);
		sb_json_str(b, c->name);
		sb_printf(b, ",\"type\":\"%s\",\"missing\":%zu",
		          c->type == KCOL_NUMERIC ? "numeric" : "categorical",
		          c->missing);
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
	sb_add(b, "}", 1);
}

/* Encode rows [START, START + N) as output part-P.kcol. */
static int
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
		if (cols[i].type == KCOL_NUMERIC) {
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

static int
ingest_run(kiln_task *task, const struct kiln_host *host)
{
	const char *path = host->param(task, "file");
	const char *fname = path;
	if (path == NULL || *path == '\0') {
		path = NULL;
		if (host->input_count(task) > 0)
			path = host->input_path(task, 0, &fname);
		if (path == NULL) {
			host->set_error(task, "ingest: no file: set the "
			                "'file' parameter or give an input");
			return KILN_EINVAL;
		}
		if (fname == NULL)
			fname = path;
	}
	/* param_int() falls back to its default on text and truncates 2.5:
	 * asking twice with different defaults, and once as a double,
	 * tells those cases from a real integer. */
	int64_t nparts = host->param_int(task, "partitions", 2);
	const char *ptext = host->param(task, "partitions");
	if (nparts < 1 || nparts > INGEST_MAX_PARTITIONS ||
	    (ptext != NULL &&
	     (host->param_int(task, "partitions", -1) !=
	      host->param_int(task, "partitions", -2) ||
	      host->param_double(task, "partitions", NAN) != (double)nparts))) {
		host->set_error(task, "ingest: 'partitions' must be an integer "
		                "from 1 to %d, not %s", INGEST_MAX_PARTITIONS,
		                ptext != NULL ? ptext : "?");
		return KILN_EINVAL;
	}
	const char *label = host->param(task, "label");
	if (label != NULL && *label == '\0')
		label = NULL;

	char err[512];
	char *buf;
	size_t len;
	int rc = csv_read_file(path, &buf, &len, err, sizeof err);
	if (rc < 0) {
		host->set_error(task, "ingest: %s", err);
		return rc;
	}

	struct csv c = { .p = buf, .end = buf + len, .line = 1,
	                 .fname = fname };
	struct column *cols = NULL;
	char **header = NULL, **cells = NULL;
	size_t ncols = 0, rows = 0, cells_cap = 0, line;
	struct sbuf out = { 0 };
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		c.p += 3;       /* a UTF-8 byte order mark */

	rc = csv_record(&c, 0, &line);
	if (rc == 0) {
		host->set_error(task, "ingest: %s:%zu: empty file (no header)",
		                fname, c.line);
		rc = KILN_EINVAL;
		goto out;
	}
	if (rc < 0)
		goto parse_error;
	ncols = c.nfields;
	if (ncols > INGEST_MAX_COLUMNS) {
		host->set_error(task, "ingest: %s:%zu: %zu columns, more than "
		                "the %d allowed", fname, line, ncols,
		                INGEST_MAX_COLUMNS);
		rc = KILN_EINVAL;
		goto out;
	}
	/* csv_record reuses c.fields: keep the header's own copy. */
	header = malloc(ncols * sizeof *header);
	if (header == NULL)
		goto oom;
	memcpy(header, c.fields, ncols * sizeof *header);
	int label_col = -1;
	for (size_t i = 0; label != NULL && i < ncols; i++) {
		if (strcmp(header[i], label) == 0) {
			label_col = (int)i;
			break;
		}
	}
	if (label != NULL && label_col < 0) {
		host->set_error(task, "ingest: %s: label '%s' is not a column",
		                fname, label);
		rc = KILN_EINVAL;
		goto out;
	}

	while ((rc = csv_record(&c, ncols == 1, &line)) > 0) {
		if (c.nfields != ncols) {
			host->set_error(task, "ingest: %s:%zu: expected %zu "
			                "fields, found %zu", fname, line, ncols,
			                c.nfields);
			rc = KILN_EINVAL;
			goto out;
		}
		if ((rows + 1) * ncols > cells_cap) {
			/* Doubling suffices: the first size is >= ncols. */
			size_t cap = cells_cap ? cells_cap * 2 :
			             ncols > 16384 ? ncols : 16384;
			char **p = NULL;
			if (cap <= SIZE_MAX / 2 / sizeof *cells)
				p = realloc(cells, cap * sizeof *cells);
			if (p == NULL)
				goto oom;
			cells = p;
			cells_cap = cap;
		}
		memcpy(cells + rows * ncols, c.fields, ncols * sizeof *cells);
		rows++;
		if (rows % 4096 == 0) {
			if (host->cancelled(task)) {
				host->set_error(task, "ingest: cancelled at "
				                "%s:%zu", fname, line);
				rc = KILN_ECANCELLED;
				goto out;
			}
			host->progress(task, 0.5 * (double)(c.p - buf) /
			               (double)(len ? len : 1));
		}
	}
	if (rc < 0)
		goto parse_error;

	cols = calloc(ncols, sizeof *cols);
	if (cols == NULL)
		goto oom;
	for (size_t i = 0; i < ncols; i++) {
		cols[i].name = header[i];
		rc = ingest_encode(&cols[i], cells, rows, ncols, i, err,
		                   sizeof err);
		if (rc == KILN_ENOMEM)
			goto oom;
		if (rc < 0) {
			host->set_error(task, "ingest: %s: %s", fname, err);
			goto out;
		}
	}
	free(cells);            /* the columns hold everything now */
	cells = NULL;

	size_t per = rows / (size_t)nparts, extra = rows % (size_t)nparts;
	size_t start = 0;
	for (int p = 0; p < (int)nparts; p++) {
		size_t n = per + ((size_t)p < extra);
		rc = ingest_partition(task, host, cols, ncols, start, n, p);
		if (rc < 0)
			goto out;
		start += n;
		if (host->cancelled(task)) {
			host->set_error(task, "ingest: cancelled after "
			                "partition %d", p);
			rc = KILN_ECANCELLED;
			goto out;
		}
		host->progress(task, 0.5 + 0.5 * (p + 1) / (double)nparts);
	}

	ingest_schema(&out, cols, ncols, rows, (int)nparts,
	              label_col >= 0 ? header[label_col] : NULL);
	if (out.failed)
		goto oom;
	rc = host->output(task, "schema.json", out.p, out.len);
	if (rc != KILN_OK) {
		host->set_error(task, "ingest: cannot store output schema.json");
		goto out;
	}
	char res[128];
	snprintf(res, sizeof res, "{\"rows\":%zu,\"columns\":%zu,"
	         "\"partitions\":%d}", rows, ncols, (int)nparts);
	rc = host->set_result(task, res);
	if (rc != KILN_OK) {
		host->set_error(task, "ingest: result refused by the host");
		goto out;
	}
	host->log(task, KILN_LOG_INFO, "ingest: %s: %zu rows, %zu columns "
	          "into %d partitions", fname, rows, ncols, (int)nparts);
	rc = KILN_OK;
	goto out;

parse_error:
	host->set_error(task, "ingest: %s", c.err);
	rc = KILN_EINVAL;
	goto out;
oom:
	host->set_error(task, "ingest: %s: out of memory", fname);
	rc = KILN_ENOMEM;
out:
	for (size_t i = 0; cols != NULL && i < ncols; i++) {
		free(cols[i].num);
		free(cols[i].codes);
		free(cols[i].levels);
	}
	free(cols);
	free(cells);
	free(header);
	free(c.fields);
	free(out.p);
	free(buf);
	return rc;
}

const struct kiln_plugin kiln_plugin = {
	KILN_PLUGIN_HEADER,
	.name = "ingest",
	.version = "1.0.0",
	.description = "Reads a CSV file into a partitioned kcol dataset",
	.params = ingest_params,
	.run = ingest_run,
};
