/* SPDX-License-Identifier: MIT */
/*
 * ingest_split.c - ingest of a large CSV by byte ranges over map tasks, so
 * that every worker slot parses, with the very bytes a single task gives
 * (docs/analytics.md, "Ingest of large files").
 *
 * One pass, tried first with map_tasks 0 (split_onepass):
 * 1. The driver counts the records with a memchr() walk over the newlines
 *    and quotes (RFC 4180: a quote opens a field only at its start), so
 *    it knows the bytes of each partition's rows, and types the columns
 *    from a sample of the records (the same scan as below).
 * 2. Map "part", one per partition: parses its rows once, checks every
 *    value against the sampled schema and writes part-NNNNN.kcol.  A
 *    value that does not fit fails the stage before anything is adopted,
 *    and the driver goes on with two passes.
 *
 * Two passes (split_drive):
 * 1. The driver reads the header and finds where records start near
 *    even byte offsets by the same walk, and counts lines, so that each
 *    range knows the CSV line it starts on.
 * 2. Map "scan", one per range: parses it, and says per column whether
 *    every value is a number, whether every one reads as a time (in both
 *    ways the single task would try), the missing count, the sorted
 *    distinct values of a column that is not numeric there, the row
 *    anchors (schema "lines"), and where every INGEST_CP-th row starts.
 * 3. The driver merges: a column is numeric only if it is in every range;
 *    levels are the sorted union.  A column numeric in some ranges and
 *    not in others takes its levels from those ranges in map "levels".
 * 4. Map "write", one per partition: parses the partition's rows from the
 *    nearest checkpoint and writes part-NNNNN.kcol with the global types
 *    and levels as an output (ABI 1.7: the driver adopts it).
 *
 * Falls back to one task (the caller's) when splitting cannot promise the
 * same bytes cheaply: a lone CR (a line end the line count would miss), a
 * header of more than INGEST_HEAD_MAX bytes, or a scan result too large
 * for a map result (many distinct values; see INGEST_RESULT_MAX).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "kcol/kcol.h"
#include "kdate/kdate.h"
#include "ingest.h"

#define INGEST_CP 4096                  /* rows between checkpoints */
#define INGEST_RANGE_BYTES (16 << 20)   /* auto: a range per 16 MiB */
#define INGEST_MAX_RANGES 256
#define INGEST_HEAD_MAX (4 << 20)
#define INGEST_RESULT_MAX (900 << 10)   /* under the 1 MiB result cap */
#define INGEST_SPLIT_MIN (64LL << 20)   /* auto: split from 64 MiB */

/* ------------------------------------------------------------ the file */

/* Open the file the task reads: `file` (through the read roots) or input
 * 0.  Returns a descriptor, or a KILN_E* with the error set. */
static int
split_open(kiln_task *t, const struct kiln_host *h, const char *path,
           uint64_t *size)
{
	int fd;
	if (path != NULL) {
		fd = h->open_data(t, path, 0, size);
		return fd;
	}
	const char *name;
	const char *p = h->input_count(t) > 0 ? h->input_path(t, 0, &name) : NULL;
	if (p == NULL) {
		h->set_error(t, "ingest: no file: set the 'file' parameter or "
		             "give an input");
		return KILN_EINVAL;
	}
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		h->set_error(t, "ingest: cannot open %s: %s", p, strerror(errno));
		return KILN_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return KILN_EIO;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Bytes [OFF, END) of FD, NUL-terminated (csv_record writes the last
 * field's NUL there); NULL on error. */
static char *
split_pread(int fd, uint64_t off, uint64_t end)
{
	size_t len = (size_t)(end - off);
	char *b = malloc(len + 1);
	if (b == NULL)
		return NULL;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, b + got, len - got, (off_t)(off + got));
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			free(b);
			return NULL;
		}
		got += (size_t)r;
	}
	b[len] = '\0';
	return b;
}

/* ------------------------------------------------------------ the plan */

/* Next quote at or after P that opens a quoted field (at a field's start,
 * P being outside quotes), or END. */
static const char *
split_next_open(const char *p, const char *start, const char *end)
{
	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (q == NULL)
			return end;
		if (q == start || q[-1] == ',' || q[-1] == '\n' || q[-1] == '\r')
			return q;
		p = q + 1;      /* inside unquoted text: a plain character */
	}
	return end;
}

/* Past the quote that closes the field opened at Q, or END. */
static const char *
split_close(const char *q, const char *end)
{
	const char *p = q + 1;
	while (p < end) {
		const char *r = memchr(p, '"', (size_t)(end - p));
		if (r == NULL)
			return end;
		if (r + 1 < end && r[1] == '"') {
			p = r + 2;
			continue;
		}
		return r + 1;
	}
	return end;
}

/*
 * Record starts B[1..M) at or after the targets START + k * (END - START)
 * / M, outside quoted fields; B[0] = START, B[M] = END.  Returns the
 * number of ranges (fewer when targets meet: no range is empty).
 */
static int
split_bounds(const char *start, const char *end, int m, const char **b)
{
	size_t len = (size_t)(end - start);
	int k = 1;
	b[0] = start;
	const char *target = start + len / (size_t)m;
	const char *pos = start;
	while (k < m && pos < end) {
		const char *q = split_next_open(pos, start, end);
		/* [pos, q) is outside quotes: newlines there end records. */
		while (k < m && target < q) {
			const char *from = target > pos ? target - 1 : pos;
			const char *nl = memchr(from, '\n', (size_t)(q - from));
			if (nl == NULL)
				break;
			b[k] = nl + 1;
			k++;
			target = start + (size_t)k * (len / (size_t)m);
			if (target <= b[k - 1])
				target = b[k - 1] + 1;
		}
		if (q >= end)
			break;
		pos = split_close(q, end);
	}
	while (k > 1 && b[k - 1] >= end)
		k--;
	b[k] = end;
	return k;
}

/* Does [P, END) hold a CR not followed by LF (a line end that counting
 * LFs would miss)? */
static int
split_lone_cr(const char *p, const char *end)
{
	while (p < end && (p = memchr(p, '\r', (size_t)(end - p))) != NULL) {
		if (p + 1 >= end || p[1] != '\n')
			return 1;
		p += 2;
	}
	return 0;
}

/* LFs in [P, END): by memchr(), five times the byte loop the compiler
 * left scalar (0.2 s for 261 MiB). */
static size_t
split_count_lf(const char *p, const char *end)
{
	size_t n = 0;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* ------------------------------------------------------------ map tasks */

/* The parameters every map task sees (the broadcast). */
struct split_bc {
	json_t *j;
	const char *file;       /* or NULL: input 0 */
	size_t ncols;
	const char **names;
	int label_col, classes;
	const char *time_format, *time_columns;
};

/* BC from the broadcast J (BC takes the reference). */
static int
split_bc_from(kiln_task *t, const struct kiln_host *h, json_t *j,
              struct split_bc *bc)
{
	memset(bc, 0, sizeof *bc);
	bc->j = j;
	json_t *names = json_object_get(bc->j, "names");
	if (!json_is_array(names) || json_array_size(names) == 0) {
		h->set_error(t, "ingest: map task without its broadcast");
		return KILN_EINVAL;
	}
	bc->file = json_string_value(json_object_get(bc->j, "file"));
	bc->ncols = json_array_size(names);
	bc->names = calloc(bc->ncols, sizeof *bc->names);
	if (bc->names == NULL)
		return KILN_ENOMEM;
	for (size_t i = 0; i < bc->ncols; i++)
		bc->names[i] = json_string_value(json_array_get(names, i));
	bc->label_col = (int)json_integer_value(json_object_get(bc->j, "label_col"));
	bc->classes = json_is_true(json_object_get(bc->j, "classes"));
	bc->time_format = json_string_value(json_object_get(bc->j, "time_format"));
	bc->time_columns = json_string_value(json_object_get(bc->j, "time_columns"));
	return 0;
}

static int
split_bc_read(kiln_task *t, const struct kiln_host *h, struct split_bc *bc)
{
	const char *text = h->broadcast(t);
	return split_bc_from(t, h, text ? json_loads(text, 0, NULL) : NULL, bc);
}

static void
split_bc_free(struct split_bc *bc)
{
	free(bc->names);
	json_decref(bc->j);
}

/* A map task's range: bytes [off, end) of the file, from CSV line LINE;
 * for a "write" or "part", its N rows of partition P after SKIP. */
struct split_arg {
	uint64_t off, end;
	size_t line, skip, n;
	int p;
};

/* A from the stage argument ARG, refused (KILN_EINVAL) if it cannot be:
 * a range that ends before it starts, or more rows than its bytes hold
 * (a record takes one byte at least). */
static int
split_arg_get(kiln_task *t, const struct kiln_host *h, json_t *arg,
              struct split_arg *a)
{
	a->off = (uint64_t)json_integer_value(json_object_get(arg, "off"));
	a->end = (uint64_t)json_integer_value(json_object_get(arg, "end"));
	a->line = (size_t)json_integer_value(json_object_get(arg, "line"));
	a->skip = (size_t)json_integer_value(json_object_get(arg, "skip"));
	a->n = (size_t)json_integer_value(json_object_get(arg, "n"));
	a->p = (int)json_integer_value(json_object_get(arg, "p"));
	if (a->end < a->off || a->skip > a->end - a->off + 1 ||
	    a->n > a->end - a->off + 1 - a->skip || a->p < 0) {
		h->set_error(t, "ingest: a map task's range is out of bounds "
		             "(bytes %llu to %llu, %zu rows after %zu)",
		             (unsigned long long)a->off,
		             (unsigned long long)a->end, a->n, a->skip);
		return KILN_EINVAL;
	}
	return 0;
}

/* An ingest over the LEN bytes at BUF (malloc()ed, NUL-terminated; IN
 * takes it), its reader starting at line LINE, columns as BC says (all
 * numeric until a value says not). */
static int
split_open_buf(kiln_task *t, const struct kiln_host *h,
               const struct split_bc *bc, char *buf, size_t len, size_t line,
               struct ingest *in)
{
	memset(in, 0, sizeof *in);
	in->task = t;
	in->host = h;
	in->label_col = bc->label_col;
	in->time_format = bc->time_format;
	in->time_columns = bc->time_columns;
	in->fname = bc->file ? bc->file : "input";
	in->buf = buf;
	in->len = len;
	in->c.p = in->buf;
	in->c.end = in->buf + in->len;
	in->c.line = line;
	in->c.fname = in->fname;
	in->ncols = bc->ncols;
	in->cols = calloc(bc->ncols, sizeof *in->cols);
	if (in->cols == NULL)
		return ingest_oom(in);
	for (size_t i = 0; i < bc->ncols; i++) {
		in->cols[i].name = bc->names[i];
		in->cols[i].type = KCOL_NUMERIC;
		in->cols[i].whole_days = -1;
	}
	return 0;
}

/* An ingest over A's bytes of the file, as split_open_buf. */
static int
split_open_range(kiln_task *t, const struct kiln_host *h,
                 const struct split_bc *bc, const struct split_arg *a,
                 struct ingest *in)
{
	uint64_t off = a->off, end = a->end;
	memset(in, 0, sizeof *in);
	const char *fname = bc->file ? bc->file : "input";
	uint64_t size = 0;
	int fd = split_open(t, h, bc->file, &size);
	if (fd < 0)
		return fd;
	if (end > size || off > end) {
		close(fd);
		h->set_error(t, "ingest: %s changed while it was read", fname);
		return KILN_EFAIL;
	}
	char *buf = split_pread(fd, off, end);
	close(fd);
	if (buf == NULL) {
		h->set_error(t, "ingest: cannot read %s", fname);
		return KILN_EIO;
	}
	return split_open_buf(t, h, bc, buf, (size_t)(end - off), a->line, in);
}

/* Sorted distinct values of column COL of the range's cells, as JSON. */
static json_t *
split_levels(const struct ingest *in, size_t col, size_t *bytes)
{
	size_t n = 0;
	const char **v = malloc((in->rows ? in->rows : 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	for (size_t r = 0; r < in->rows; r++) {
		const char *x = in->cells[r * in->ncols + col];
		if (!csv_is_missing(x))
			v[n++] = x;
	}
	qsort(v, n, sizeof *v, ingest_strcmp);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0) {
			json_array_append_new(a, json_string(v[i]));
			*bytes += strlen(v[i]) + 8;
		}
	free(v);
	return a;
}

/* The distinct values of a column in a range: open addressing over
 * strings in the range's buffer (they stay put). */
struct split_set {
	const char **v;
	size_t cap, n;
};

static int
split_set_add(struct split_set *s, const char *x)
{
	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		const char **v = calloc(cap, sizeof *v);
		if (v == NULL)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (s->v[i] == NULL)
				continue;
			size_t j = ingest_hash(s->v[i]) & (cap - 1);
			while (v[j] != NULL)
				j = (j + 1) & (cap - 1);
			v[j] = s->v[i];
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	size_t j = ingest_hash(x) & (s->cap - 1);
	while (s->v[j] != NULL) {
		if (strcmp(s->v[j], x) == 0)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->v[j] = x;
	s->n++;
	return 0;
}

/* The set as a sorted JSON array; its bytes added to *BYTES. */
static json_t *
split_set_json(struct split_set *s, size_t *bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < s->cap; i++)
		if (s->v[i] != NULL)
			s->v[n++] = s->v[i];
	qsort(s->v, n, sizeof *s->v, ingest_strcmp);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(a, json_string(s->v[i]));
		*bytes += strlen(s->v[i]) + 8;
	}
	return a;
}

/* What a scan learns of one column in its range. */
struct split_colscan {
	int num, tn, tt, wn, wt, listed, want_levels;
	size_t missing;
	size_t partial;         /* turned text at this row (> 0): the set
	                         * lacks the rows before; the driver asks
	                         * for them (map "levels") if it needs them */
	long long bad_line;     /* a listed time column's first bad value */
	const char *bad;
	struct split_set set;
};

/* One value V of column C (row ROW) into what the scan knows. */
static int
split_scan_value(const struct ingest *in, struct split_colscan *c,
                 const char *v, size_t row, size_t line)
{
	double d;
	if (csv_is_missing(v)) {
		c->missing++;
		return 0;
	}
	if (c->num && !csv_number(v, &d)) {
		c->num = 0;
		c->partial = row;
	}
	if (c->tn) {
		if (ingest_time_value(in, v, 1, &d) < 0)
			c->tn = 0;
		else if (d != floor(d / KDATE_DAY) * KDATE_DAY)
			c->wn = 0;
	}
	if (c->tt || (c->listed && c->bad == NULL)) {
		if (ingest_time_value(in, v, 0, &d) < 0) {
			c->tt = 0;
			if (c->listed && c->bad == NULL) {
				c->bad = v;
				c->bad_line = (long long)line;
			}
		} else if (d != floor(d / KDATE_DAY) * KDATE_DAY) {
			c->wt = 0;
		}
	}
	if ((!c->num || c->want_levels) && split_set_add(&c->set, v) < 0)
		return -1;
	return 0;
}

/* What the driver needs to type the columns, in one pass over IN's
 * records without keeping its cells (OFF: the file offset of IN's buffer,
 * for the checkpoints): a new JSON object, or NULL with *RC and the
 * task's error set. */
static json_t *
split_scan_json(struct ingest *in, const struct split_bc *bc, uint64_t off,
                int *rc)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	size_t nc = in->ncols, rows = 0, l;
	struct csv *c = &in->c;
	struct split_colscan *cs = calloc(nc, sizeof *cs);
	json_t *cps = json_array(), *anchors = json_array(), *res = NULL;
	*rc = 0;
	if (cs == NULL)
		*rc = ingest_oom(in);
	for (size_t i = 0; cs != NULL && i < nc; i++) {
		cs[i] = (struct split_colscan){ .num = 1, .tn = 1, .tt = 1,
			.wn = 1, .wt = 1 };
		cs[i].listed = bc->time_columns != NULL &&
		               strcmp(bc->time_columns, "none") != 0 &&
		               ingest_listed(bc->time_columns, bc->names[i]);
		cs[i].want_levels = bc->classes && (int)i == bc->label_col;
	}
	while (*rc == 0) {
		if (rows % INGEST_CP == 0)
			json_array_append_new(cps, json_pack("[I,I,I]",
			    (json_int_t)rows, (json_int_t)(off + (uint64_t)(c->p -
			    in->buf)), (json_int_t)c->line));
		int r = csv_record(c, nc == 1, &l);
		if (r == 0)
			break;
		if (r < 0) {
			h->set_error(t, "ingest: %s", c->err);
			*rc = KILN_EINVAL;
			break;
		}
		if (c->nfields != nc) {
			h->set_error(t, "ingest: %s:%zu: expected %zu fields, found "
			             "%zu", in->fname, l, nc, c->nfields);
			*rc = KILN_EINVAL;
			break;
		}
		if (rows == 0 || l != in->next_line)
			json_array_append_new(anchors, json_pack("[I,I]",
			                      (json_int_t)rows, (json_int_t)l));
		in->next_line = c->line;
		for (size_t i = 0; i < nc && *rc == 0; i++)
			if (split_scan_value(in, &cs[i], c->fields[i], rows, l) < 0)
				*rc = ingest_oom(in);
		rows++;
		if (rows % 4096 == 0 && h->cancelled(t)) {
			h->set_error(t, "ingest: cancelled at %s:%zu", in->fname, l);
			*rc = KILN_ECANCELLED;
		}
	}
	size_t bytes = 0;
	json_t *cols = json_array();
	for (size_t i = 0; *rc == 0 && i < nc; i++) {
		struct split_colscan *x = &cs[i];
		json_t *bad = x->bad ? json_pack("[I,s]", (json_int_t)x->bad_line,
		                                 x->bad) : json_null();
		json_t *o = json_pack("{s:b,s:I,s:b,s:b,s:b,s:b,s:o}",
		                      "num", x->num, "missing", (json_int_t)x->missing,
		                      "tn", x->tn, "tt", x->tt, "wn", x->wn,
		                      "wt", x->wt, "bad", bad);
		/* Levels only when the set has every value of the range. */
		if ((!x->num && x->partial == 0) || x->want_levels)
			json_object_set_new(o, "levels", split_set_json(&x->set, &bytes));
		json_array_append_new(cols, o);
	}
	for (size_t i = 0; cs != NULL && i < nc; i++)
		free(cs[i].set.v);
	free(cs);
	if (*rc == 0) {
		bytes += 24 * (json_array_size(cps) + json_array_size(anchors)) +
		         64 * nc;
		res = bytes > INGEST_RESULT_MAX ? json_pack("{s:b}", "big", 1) :
		    json_pack("{s:I,s:I,s:O,s:O,s:O}", "rows", (json_int_t)rows,
		              "next_line", (json_int_t)in->next_line, "cols", cols,
		              "anchors", anchors, "cp", cps);
	}
	json_decref(cols);
	json_decref(anchors);
	json_decref(cps);
	return res;
}

/* Map "scan": split_scan_json over its range, as its result. */
static int
split_scan(kiln_task *t, const struct kiln_host *h, const struct split_bc *bc,
           json_t *arg, const struct split_arg *a)
{
	struct ingest in;
	int rc = split_open_range(t, h, bc, a, &in);
	json_t *res = rc == 0 ? split_scan_json(&in, bc, a->off, &rc) : NULL;
	if (res != NULL) {
		char *text = json_dumps(res, JSON_COMPACT);
		json_decref(res);
		rc = text ? h->set_result(t, text) : KILN_ENOMEM;
		free(text);
	}
	ingest_free(&in);
	return rc;
}

/* Map "levels": the sorted distinct values of columns arg.cols. */
static int
split_levels_map(kiln_task *t, const struct kiln_host *h,
                 const struct split_bc *bc, json_t *arg,
                 const struct split_arg *a)
{
	struct ingest in;
	int rc = split_open_range(t, h, bc, a, &in);
	if (rc == 0)
		rc = ingest_rows(&in);
	if (rc < 0) {
		ingest_free(&in);
		return rc;
	}
	json_t *want = json_object_get(arg, "cols"), *out = json_object();
	size_t bytes = 0, k;
	json_t *v;
	json_array_foreach(want, k, v) {
		size_t col = (size_t)json_integer_value(v);
		char key[24];
		snprintf(key, sizeof key, "%zu", col);
		if (col < in.ncols)
			json_object_set_new(out, key, split_levels(&in, col, &bytes));
	}
	if (bytes > INGEST_RESULT_MAX) {
		json_decref(out);
		out = json_pack("{s:b}", "big", 1);
	}
	char *text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	rc = text ? h->set_result(t, text) : KILN_ENOMEM;
	free(text);
	ingest_free(&in);
	return rc;
}

/* A level's code: open addressing over the sorted levels. */
struct split_dict {
	const char **levels;
	uint32_t n;
	uint32_t *slot;         /* cap entries: code + 1, 0 empty */
	size_t cap;
};

static int
split_dict_make(struct split_dict *d, json_t *levels)
{
	d->n = (uint32_t)json_array_size(levels);
	d->levels = calloc(d->n ? d->n : 1, sizeof *d->levels);
	d->cap = 16;
	while (d->cap < (size_t)d->n * 2)
		d->cap *= 2;
	d->slot = calloc(d->cap, sizeof *d->slot);
	if (d->levels == NULL || d->slot == NULL)
		return KILN_ENOMEM;
	for (uint32_t k = 0; k < d->n; k++) {
		d->levels[k] = json_string_value(json_array_get(levels, k));
		size_t j = ingest_hash(d->levels[k]) & (d->cap - 1);
		while (d->slot[j] != 0)
			j = (j + 1) & (d->cap - 1);
		d->slot[j] = k + 1;
	}
	return 0;
}

static uint32_t
split_dict_code(const struct split_dict *d, const char *v)
{
	size_t j = ingest_hash(v) & (d->cap - 1);
	while (d->slot[j] != 0) {
		if (strcmp(d->levels[d->slot[j] - 1], v) == 0)
			return d->slot[j] - 1;
		j = (j + 1) & (d->cap - 1);
	}
	return KCOL_MISSING;    /* cannot happen: the levels are every value */
}

/* Columns of IN typed as the broadcast BC says, with room for N rows and
 * a dictionary of each categorical column's levels in DICT (NC entries,
 * zeroed).  0 or KILN_ENOMEM. */
static int
split_cols_make(struct ingest *in, const struct split_bc *bc, size_t n,
                struct split_dict *dict)
{
	json_t *types = json_object_get(bc->j, "types");
	json_t *levels = json_object_get(bc->j, "levels");
	for (size_t i = 0; i < bc->ncols; i++) {
		struct column *c = &in->cols[i];
		c->type = (int)json_integer_value(json_array_get(types, i));
		if (c->type == KCOL_CATEGORICAL) {
			if (split_dict_make(&dict[i], json_array_get(levels, i)) < 0 ||
			    (c->codes = malloc((n ? n : 1) * sizeof *c->codes)) == NULL)
				return ingest_oom(in);
			c->levels = dict[i].levels;
			c->nlevels = dict[i].n;
		} else if ((c->num = malloc((n ? n : 1) * sizeof *c->num)) == NULL) {
			return ingest_oom(in);
		}
	}
	return 0;
}

/* Free DICT (NC entries) and IN, whose columns' levels are DICT's. */
static void
split_cols_free(struct ingest *in, struct split_dict *dict, size_t nc)
{
	for (size_t i = 0; dict != NULL && in->cols != NULL && i < nc; i++) {
		free(dict[i].slot);
		in->cols[i].levels = NULL;      /* dict's, freed here */
		free(dict[i].levels);
	}
	free(dict);
	ingest_free(in);
}

/* Map "write": partition arg.p, rows arg.skip .. arg.skip + arg.n of the
 * bytes [arg.off, arg.end), typed as the broadcast says. */
static int
split_write(kiln_task *t, const struct kiln_host *h, const struct split_bc *bc,
            json_t *arg, const struct split_arg *a)
{
	size_t skip = a->skip, n = a->n;
	int p = a->p;
	json_t *tnum = json_object_get(bc->j, "tnum");
	struct ingest in;
	int rc = split_open_range(t, h, bc, a, &in);
	size_t nc = bc->ncols;
	struct split_dict *dict = calloc(nc, sizeof *dict);
	if (rc == 0 && dict == NULL)
		rc = ingest_oom(&in);
	if (rc == 0)
		rc = split_cols_make(&in, bc, n, dict);
	size_t got = 0, l;
	while (rc == 0 && got < n) {
		int r = csv_record(&in.c, nc == 1, &l);
		if (r <= 0 || in.c.nfields != nc) {
			h->set_error(t, "ingest: %s changed while it was read "
			             "(line %zu)", in.fname, in.c.line);
			rc = KILN_EFAIL;
			break;
		}
		if (skip > 0) {
			skip--;
			continue;
		}
		for (size_t i = 0; i < nc; i++) {
			struct column *c = &in.cols[i];
			const char *v = in.c.fields[i];
			int miss = csv_is_missing(v);
			if (c->type == KCOL_CATEGORICAL) {
				c->codes[got] = miss ? KCOL_MISSING :
				                split_dict_code(&dict[i], v);
			} else if (miss) {
				c->num[got] = NAN;
			} else if (c->type == KCOL_NUMERIC) {
				if (!csv_number(v, &c->num[got]))
					c->num[got] = NAN;
			} else if (ingest_time_value(&in, v, json_is_true(
			           json_array_get(tnum, i)), &c->num[got]) < 0) {
				c->num[got] = NAN;
			}
		}
		got++;
	}
	if (rc == 0)
		rc = ingest_partition(t, h, in.cols, nc, 0, n, p);
	split_cols_free(&in, dict, nc);
	return rc;
}

/* A value of the partition that does not fit the sampled schema: the
 * task fails on bad input, and the driver scans every range first. */
static int
split_misfit(struct ingest *in, size_t line, size_t col, const char *v,
             const char *why)
{
	in->host->set_error(in->task, "ingest: %s:%zu: column '%s': '%s' %s; "
	                    "the driver scans every range first instead",
	                    in->fname, line, in->cols[col].name, v, why);
	return KILN_EINVAL;
}

/* Map "part" (one pass, the driver's first try): partition arg.p, which
 * is exactly the arg.n records of bytes [arg.off, arg.end), typed as the
 * broadcast's schema (sampled from the file by the driver) says, every
 * value checked against it: a value that does not fit fails the task on
 * bad input, the stage with it, and nothing it wrote is adopted.  Its
 * result: what the schema needs of the partition (rows, next_line,
 * anchors, each column's missing count and a time column's whole days). */
static int
split_part(kiln_task *t, const struct kiln_host *h, const struct split_bc *bc,
           json_t *arg, const struct split_arg *a)
{
	size_t n = a->n;
	int p = a->p;
	json_t *tnum = json_object_get(bc->j, "tnum");
	struct ingest in;
	int rc = split_open_range(t, h, bc, a, &in);
	size_t nc = bc->ncols;
	struct split_dict *dict = calloc(nc, sizeof *dict);
	size_t *missing = calloc(nc, sizeof *missing);
	int *wd = calloc(nc, sizeof *wd), *tn = calloc(nc, sizeof *tn);
	json_t *anchors = json_array();
	if (rc == 0 && (dict == NULL || missing == NULL || wd == NULL ||
	                tn == NULL))
		rc = ingest_oom(&in);
	if (rc == 0)
		rc = split_cols_make(&in, bc, n, dict);
	for (size_t i = 0; rc == 0 && i < nc; i++) {
		wd[i] = 1;
		tn[i] = json_is_true(json_array_get(tnum, i));
	}
	size_t got = 0, l;
	while (rc == 0) {
		int r = csv_record(&in.c, nc == 1, &l);
		if (r == 0)
			break;
		if (r < 0) {
			h->set_error(t, "ingest: %s", in.c.err);
			rc = KILN_EINVAL;
			break;
		}
		if (in.c.nfields != nc) {
			h->set_error(t, "ingest: %s:%zu: expected %zu fields, found "
			             "%zu", in.fname, l, nc, in.c.nfields);
			rc = KILN_EINVAL;
			break;
		}
		if (got == n) {
			h->set_error(t, "ingest: %s:%zu: partition %d has more than "
			             "the %zu records the driver counted", in.fname,
			             l, p, n);
			rc = KILN_EINVAL;
			break;
		}
		if (got == 0 || l != in.next_line)
			json_array_append_new(anchors, json_pack("[I,I]",
			                      (json_int_t)got, (json_int_t)l));
		in.next_line = in.c.line;
		for (size_t i = 0; i < nc && rc == 0; i++) {
			struct column *c = &in.cols[i];
			const char *v = in.c.fields[i];
			double d;
			if (csv_is_missing(v)) {
				missing[i]++;
				if (c->type == KCOL_CATEGORICAL)
					c->codes[got] = KCOL_MISSING;
				else
					c->num[got] = NAN;
			} else if (c->type == KCOL_CATEGORICAL) {
				c->codes[got] = split_dict_code(&dict[i], v);
				if (c->codes[got] == KCOL_MISSING)
					rc = split_misfit(&in, l, i, v, "is not among "
					                  "the values of the sampled rows");
			} else if (c->type == KCOL_NUMERIC) {
				if (!csv_number(v, &c->num[got]))
					rc = split_misfit(&in, l, i, v, "is not a "
					                  "number, as the sampled rows are");
			} else if (ingest_time_value(&in, v, tn[i], &d) < 0) {
				rc = split_misfit(&in, l, i, v, "is not a time, "
				                  "as the sampled rows are");
			} else {
				c->num[got] = d;
				if (d != floor(d / KDATE_DAY) * KDATE_DAY)
					wd[i] = 0;
			}
		}
		got++;
		if (got % 4096 == 0 && h->cancelled(t)) {
			h->set_error(t, "ingest: cancelled at %s:%zu", in.fname, l);
			rc = KILN_ECANCELLED;
		}
	}
	if (rc == 0 && got != n) {
		h->set_error(t, "ingest: %s: partition %d has %zu records, not "
		             "the %zu the driver counted", in.fname, p, got, n);
		rc = KILN_EINVAL;
	}
	if (rc == 0)
		rc = ingest_partition(t, h, in.cols, nc, 0, n, p);
	if (rc == 0) {
		json_t *jm = json_array(), *jw = json_array();
		for (size_t i = 0; i < nc; i++) {
			json_array_append_new(jm, json_integer((json_int_t)missing[i]));
			json_array_append_new(jw, json_boolean(wd[i]));
		}
		json_t *res = json_pack("{s:I,s:I,s:O,s:o,s:o}", "rows",
		                        (json_int_t)got, "next_line",
		                        (json_int_t)in.next_line, "anchors",
		                        anchors, "missing", jm, "wd", jw);
		char *text = json_dumps(res, JSON_COMPACT);
		json_decref(res);
		rc = text ? h->set_result(t, text) : KILN_ENOMEM;
		free(text);
	}
	free(missing);
	free(wd);
	free(tn);
	json_decref(anchors);
	split_cols_free(&in, dict, nc);
	return rc;
}

/* The map functions, by the name the driver's stages give. */
static const struct {
	const char *name;
	int (*fn)(kiln_task *, const struct kiln_host *,
	          const struct split_bc *, json_t *, const struct split_arg *);
} split_fns[] = {
	{ "scan", split_scan },
	{ "levels", split_levels_map },
	{ "write", split_write },
	{ "part", split_part },
};

int
ingest_map(kiln_task *task, const struct kiln_host *host, const char *fn)
{
	struct split_bc bc;
	int rc = split_bc_read(task, host, &bc);
	const char *at = host->stage_arg(task);
	json_t *arg = at ? json_loads(at, 0, NULL) : NULL;
	if (rc == 0 && !json_is_object(arg)) {
		host->set_error(task, "ingest: map task without its argument");
		rc = KILN_EINVAL;
	}
	size_t k = 0;
	while (k < sizeof split_fns / sizeof split_fns[0] &&
	       strcmp(split_fns[k].name, fn) != 0)
		k++;
	if (rc == 0 && k == sizeof split_fns / sizeof split_fns[0]) {
		host->set_error(task, "ingest: no map function '%s'", fn);
		rc = KILN_EINVAL;
	}
	struct split_arg a;
	if (rc == 0)
		rc = split_arg_get(task, host, arg, &a);
	if (rc == 0)
		rc = split_fns[k].fn(task, host, &bc, arg, &a);
	json_decref(arg);
	split_bc_free(&bc);
	return rc;
}

/* ------------------------------------------------------------ the driver */

/* Run stage FN over N tasks with arguments ARGS (stolen) and broadcast
 * BC; the parsed results into RES[0..N).  Its failure is the task's
 * error unless QUIET (the caller tries another way). */
static int
split_stage(struct ingest *in, const char *fn, json_t *bc, json_t **args,
            int n, json_t **res, int quiet)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	struct kiln_stage_task *st = calloc((size_t)n, sizeof *st);
	char **texts = calloc((size_t)n, sizeof *texts);
	char *bctext = json_dumps(bc, JSON_COMPACT);
	static const int input0 = 0;
	int rc = st && texts && bctext ? 0 : KILN_ENOMEM;
	for (int i = 0; rc == 0 && i < n; i++) {
		texts[i] = json_dumps(args[i], JSON_COMPACT);
		st[i].arg = texts[i];
		/* The file as an input (no `file`): each map task reads it. */
		st[i].inputs = &input0;
		st[i].ninputs = json_is_string(json_object_get(bc, "file")) ? 0 : 1;
	}
	char **out = NULL, *err = NULL;
	if (rc == 0)
		rc = h->stage(t, fn, bctext, st, n, &out, &err);
	if (rc != 0 && err != NULL && !quiet)
		h->set_error(t, "ingest: %s", err);
	else if (rc != 0 && err != NULL)
		h->log(t, KILN_LOG_INFO, "ingest: %s", err);
	for (int i = 0; i < n; i++) {
		json_decref(args[i]);
		free(texts ? texts[i] : NULL);
		res[i] = NULL;
		if (out != NULL) {
			res[i] = json_loads(out[i], JSON_DECODE_ANY, NULL);
			kiln_free(h, out[i]);
		}
	}
	kiln_free(h, out);
	kiln_free(h, err);
	free(texts);
	free(st);
	free(bctext);
	return rc;
}

static void
split_free_res(json_t **res, int n)
{
	for (int i = 0; i < n; i++)
		json_decref(res[i]);
}

/* Merge sorted string arrays A and B (no duplicates in either): new. */
static json_t *
split_merge_levels(json_t *a, json_t *b)
{
	json_t *m = json_array();
	size_t i = 0, j = 0, na = json_array_size(a), nb = json_array_size(b);
	while (i < na || j < nb) {
		const char *x = i < na ? json_string_value(json_array_get(a, i)) : NULL;
		const char *y = j < nb ? json_string_value(json_array_get(b, j)) : NULL;
		int c = x == NULL ? 1 : y == NULL ? -1 : strcmp(x, y);
		json_array_append_new(m, json_string(c <= 0 ? x : y));
		i += c <= 0;
		j += c >= 0;
	}
	return m;
}

/* Which partition each row goes to, as ingest_write: rows [start, start
 * + n) for partition P. */
static void
split_part_rows(size_t rows, int nparts, int p, size_t *start, size_t *n)
{
	size_t per = rows / (size_t)nparts, extra = rows % (size_t)nparts;
	*start = per * (size_t)p + ((size_t)p < extra ? (size_t)p : extra);
	*n = per + ((size_t)p < extra);
}

/* Rows and anchors from the results RES[0..M) of consecutive ranges (a
 * range's first anchor is kept only where a single task would have one:
 * not on the line the last record left off at).  FIRST[k], if given:
 * range k's first row (M + 1 of them).  Sets in->rows. */
static int
split_rows(struct ingest *in, json_t **res, int m, size_t *first)
{
	size_t rows = 0, next_line = 0;
	for (int k = 0; k < m; k++) {
		if (first != NULL)
			first[k] = rows;
		json_t *a = json_object_get(res[k], "anchors"), *x;
		size_t i;
		json_array_foreach(a, i, x) {
			size_t r = (size_t)json_integer_value(json_array_get(x, 0));
			size_t l = (size_t)json_integer_value(json_array_get(x, 1));
			if (r == 0 && rows > 0 && l == next_line)
				continue;
			if (in->nanchors == in->anchors_cap) {
				size_t cap = in->anchors_cap ? in->anchors_cap * 2 : 64;
				struct anchor *p = realloc(in->anchors, cap * sizeof *p);
				if (p == NULL)
					return ingest_oom(in);
				in->anchors = p;
				in->anchors_cap = cap;
			}
			in->anchors[in->nanchors++] = (struct anchor){ rows + r, l };
		}
		size_t rk = (size_t)json_integer_value(json_object_get(res[k], "rows"));
		if (rk > 0)
			next_line = (size_t)json_integer_value(json_object_get(res[k],
			                                       "next_line"));
		rows += rk;
	}
	if (first != NULL)
		first[m] = rows;
	in->rows = rows;
	return 0;
}

/* Is the task a classification (its label a class)? */
static int
split_classes(const struct ingest *in)
{
	return in->task_name != NULL && strcmp(in->task_name, "classification") == 0;
}

/* The columns' types from the scans RES[0..M) of in->rows rows, as
 * ingest_columns decides them over the whole file: each column's type,
 * missing count and unit in in->cols; TYPES, TNUM and LEVELS (arrays)
 * get an entry per column; NEED (an array per range) the columns whose
 * levels a range lacks (numeric there, text elsewhere), and *NEEDED is
 * set if any does. */
static int
split_types(struct ingest *in, json_t **res, int m, json_t *types,
            json_t *tnum, json_t *levels, json_t *need, int *needed)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	size_t nc = in->ncols, rows = in->rows;
	const char *tc = in->time_columns;
	int classes = split_classes(in);
	*needed = 0;
	if (classes && in->label_col < 0) {
		h->set_error(t, "ingest: task: classification needs `label` "
		             "(the column of the classes)");
		return KILN_EINVAL;
	}
	for (const char *p = tc; p != NULL && strcmp(tc, "none") != 0;
	     p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t len = strcspn(p, ","), k;
		while (len > 0 && *p == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		for (k = 0; k < nc; k++)
			if (strlen(in->cols[k].name) == len &&
			    strncmp(in->cols[k].name, p, len) == 0)
				break;
		if (len > 0 && k == nc) {
			h->set_error(t, "ingest: %s: time_columns names '%.*s', "
			             "which is not a column", in->fname, (int)len, p);
			return KILN_EINVAL;
		}
	}
	for (size_t i = 0; i < nc; i++) {
		struct column *c = &in->cols[i];
		int num = 1, tn = 1, tt = 1, wn = 1, wt = 1;
		size_t missing = 0;
		json_t *bad = NULL;
		for (int k = 0; k < m; k++) {
			json_t *o = json_array_get(json_object_get(res[k], "cols"), i);
			num &= json_is_true(json_object_get(o, "num"));
			tn &= json_is_true(json_object_get(o, "tn"));
			tt &= json_is_true(json_object_get(o, "tt"));
			wn &= json_is_true(json_object_get(o, "wn"));
			wt &= json_is_true(json_object_get(o, "wt"));
			missing += (size_t)json_integer_value(json_object_get(o, "missing"));
			if (bad == NULL && json_is_array(json_object_get(o, "bad")))
				bad = json_object_get(o, "bad");
		}
		c->type = num && !(classes && (int)i == in->label_col) ?
		          KCOL_NUMERIC : KCOL_CATEGORICAL;
		c->missing = missing;
		int timed = !((tc != NULL && (strcmp(tc, "none") == 0 ||
		                              !ingest_listed(tc, c->name))) ||
		              (classes && (int)i == in->label_col));
		int isnum = tc == NULL && c->type == KCOL_NUMERIC;
		if (timed && tc != NULL && bad != NULL) {
			h->set_error(t, "ingest: %s:%lld: column '%s': '%s' is not "
			             "a time%s%s%s", in->fname, (long long)
			             json_integer_value(json_array_get(bad, 0)),
			             c->name, json_string_value(json_array_get(bad, 1)),
			             in->time_format ? " in time_format '" :
			             " (set time_format)", in->time_format ?
			             in->time_format : "", in->time_format ? "'" : "");
			return KILN_EINVAL;
		}
		if (timed && (tc != NULL || ((isnum ? tn : tt) && missing < rows))) {
			c->type = KCOL_TIME;
			c->whole_days = isnum ? wn : wt;
		}
		json_array_append_new(types, json_integer(c->type));
		json_array_append_new(tnum, json_boolean(isnum));
		json_t *lv = json_array();
		if (c->type == KCOL_CATEGORICAL)
			for (int k = 0; k < m; k++) {
				json_t *o = json_array_get(json_object_get(res[k], "cols"), i);
				json_t *rl = json_object_get(o, "levels");
				if (rl == NULL) {
					json_array_append_new(json_array_get(need, k),
					                      json_integer((json_int_t)i));
					*needed = 1;
					continue;
				}
				json_t *mg = split_merge_levels(lv, rl);
				json_decref(lv);
				lv = mg;
			}
		json_array_append_new(levels, lv);
	}
	return 0;
}

/* What the single task refuses once the columns are typed. */
static int
split_check(struct ingest *in, json_t *levels)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	size_t nc = in->ncols;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nc; i++) {
		size_t nlv = json_array_size(json_array_get(levels, i));
		if (in->cols[i].type == KCOL_CATEGORICAL && nlv >= KCOL_MISSING) {
			h->set_error(t, "ingest: %s: column '%s' has %zu distinct "
			             "values, more than a kcol code can hold",
			             in->fname, in->cols[i].name, nlv);
			rc = KILN_EINVAL;
		}
	}
	struct column *lab = in->label_col >= 0 ? &in->cols[in->label_col] : NULL;
	if (rc == 0 && lab != NULL && in->task_name != NULL &&
	    strcmp(in->task_name, "regression") == 0 && lab->type != KCOL_NUMERIC) {
		h->set_error(t, "ingest: %s: label '%s' is not numeric: task: "
		             "regression needs numbers (a categorical label is for "
		             "classification)", in->fname, lab->name);
		rc = KILN_EINVAL;
	}
	return rc;
}

/* schema.json and the result, as ingest_write writes them, once the
 * partitions are written: a split into M ranges read in PASSES. */
static int
split_schema(struct ingest *in, const char *label, int nparts,
             json_t *levels, int m, int passes)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	size_t nc = in->ncols;
	int rc = 0;
	for (size_t i = 0; i < nc; i++) {
		json_t *lv = json_array_get(levels, i);
		struct column *c = &in->cols[i];
		if (c->type != KCOL_CATEGORICAL)
			continue;
		c->nlevels = (uint32_t)json_array_size(lv);
		c->levels = calloc(c->nlevels ? c->nlevels : 1, sizeof *c->levels);
		if (c->levels == NULL) {
			rc = ingest_oom(in);
			break;
		}
		for (uint32_t j = 0; j < c->nlevels; j++)
			c->levels[j] = json_string_value(json_array_get(lv, j));
	}
	if (rc == 0) {
		struct sbuf out = { 0 };
		ingest_schema(&out, in->cols, nc, in->rows, nparts, label,
		              in->fname, in->anchors, in->nanchors, in->task_name);
		rc = out.failed ? ingest_oom(in) :
		     h->output(t, "schema.json", out.p, out.len);
		free(out.p);
	}
	if (rc == 0) {
		char r[200];
		snprintf(r, sizeof r, "{\"rows\":%zu,\"columns\":%zu,"
		         "\"partitions\":%d,\"ranges\":%d,\"passes\":%d}",
		         in->rows, nc, nparts, m, passes);
		rc = h->set_result(t, r);
		h->log(t, KILN_LOG_INFO, "ingest: %s: %zu rows, %zu columns into "
		       "%d partitions, parsed in %d byte ranges, %s", in->fname,
		       in->rows, nc, nparts, m, passes == 1 ? "in one pass (the "
		       "schema sampled)" : "scanned, then written");
	}
	/* The columns' levels point into LEVELS: let them go first. */
	for (size_t i = 0; in->cols != NULL && i < nc; i++) {
		free(in->cols[i].levels);
		in->cols[i].levels = NULL;
	}
	return rc;
}

/* The split in two passes, once the ranges are known: scan every range,
 * type the columns, write the partitions. */
static int
split_drive(struct ingest *in, const char *label, int nparts, json_t *bc,
            const uint64_t *off, const size_t *line, int m)
{
	json_t **res = calloc((size_t)(m > nparts ? m : nparts), sizeof *res);
	json_t **args = calloc((size_t)(m > nparts ? m : nparts), sizeof *args);
	size_t *first = calloc((size_t)m + 1, sizeof *first);
	json_t *levels = json_array(), *types = json_array(), *tnum = json_array();
	int rc = res && args && first ? 0 : ingest_oom(in);
	for (int k = 0; rc == 0 && k < m; k++)
		args[k] = json_pack("{s:I,s:I,s:I}", "off", (json_int_t)off[k],
		                    "end", (json_int_t)off[k + 1],
		                    "line", (json_int_t)line[k]);
	if (rc == 0)
		rc = split_stage(in, "scan", bc, args, m, res, 0);
	for (int k = 0; rc == 0 && k < m; k++)
		if (json_is_true(json_object_get(res[k], "big")))
			rc = 1;         /* too many values for results: one task */
	if (rc == 0)
		rc = split_rows(in, res, m, first);
	size_t rows = in->rows;
	json_t *need = json_array();    /* per range: columns lacking levels */
	for (int k = 0; k < m; k++)
		json_array_append_new(need, json_array());
	int needed = 0;
	if (rc == 0)
		rc = split_types(in, res, m, types, tnum, levels, need, &needed);
	if (rc == 0 && needed) {
		/* Columns numeric in some ranges, text in others: their
		 * values in the former, as text. */
		int nl = 0;
		int *which = calloc((size_t)m, sizeof *which);
		for (int k = 0; which && k < m; k++)
			if (json_array_size(json_array_get(need, k)) > 0) {
				which[nl] = k;
				args[nl++] = json_pack("{s:I,s:I,s:I,s:O}", "off",
				    (json_int_t)off[k], "end", (json_int_t)off[k + 1],
				    "line", (json_int_t)line[k], "cols",
				    json_array_get(need, k));
			}
		json_t **lres = calloc((size_t)(nl ? nl : 1), sizeof *lres);
		rc = which && lres ? split_stage(in, "levels", bc, args, nl, lres, 0) :
		     ingest_oom(in);
		for (int q = 0; rc == 0 && q < nl; q++) {
			if (json_is_true(json_object_get(lres[q], "big"))) {
				rc = 1;
				break;
			}
			const char *key;
			json_t *v;
			json_object_foreach(lres[q], key, v) {
				size_t col = (size_t)strtoull(key, NULL, 10);
				json_t *mg = split_merge_levels(json_array_get(levels,
				                                col), v);
				json_array_set_new(levels, col, mg);
			}
		}
		if (lres != NULL)
			split_free_res(lres, nl);
		free(lres);
		free(which);
	}
	json_decref(need);
	if (rc == 0)
		rc = split_check(in, levels);
	/* Partitions: each from the checkpoint before its first row. */
	if (rc == 0) {
		json_object_set(bc, "types", types);
		json_object_set(bc, "tnum", tnum);
		json_object_set(bc, "levels", levels);
		for (int p = 0; p < nparts; p++) {
			size_t s, n;
			split_part_rows(rows, nparts, p, &s, &n);
			int k = 0;
			while (k + 1 < m && first[k + 1] <= s && !(n == 0 && s == rows))
				k++;
			json_t *cp = json_object_get(res[k], "cp"), *best = NULL, *x;
			size_t i;
			json_array_foreach(cp, i, x)
				if ((size_t)json_integer_value(json_array_get(x, 0)) <=
				    s - first[k])
					best = x;
			/* The end: the range holding the last row. */
			int ke = k;
			while (n > 0 && ke + 1 < m && first[ke + 1] <= s + n - 1)
				ke++;
			size_t crow = best ? (size_t)json_integer_value(
			              json_array_get(best, 0)) : 0;
			json_int_t o = best ? json_integer_value(json_array_get(best, 1))
			                    : (json_int_t)off[k];
			args[p] = json_pack("{s:I,s:I,s:I,s:I,s:I,s:i}", "off", o,
			    "end", n > 0 ? (json_int_t)off[ke + 1] : o,
			    "line", best ? json_integer_value(json_array_get(best, 2)) :
			            (json_int_t)line[k],
			    "skip", (json_int_t)(n > 0 ? s - first[k] - crow : 0),
			    "n", (json_int_t)n, "p", p);
		}
		json_t **wres = calloc((size_t)nparts, sizeof *wres);
		rc = wres ? split_stage(in, "write", bc, args, nparts, wres, 0) :
		     ingest_oom(in);
		if (wres != NULL)
			split_free_res(wres, nparts);
		free(wres);
	}
	if (rc == 0)
		rc = split_schema(in, label, nparts, levels, m, 2);
	if (res != NULL)
		split_free_res(res, m);
	free(res);
	free(args);
	free(first);
	json_decref(types);
	json_decref(tnum);
	json_decref(levels);
	return rc;
}

/* ------------------------------------------------------ one pass */

/* Where records start, as csv_record() reads them (a file without a lone
 * CR, of more than one column: blank lines are skipped), found by the
 * memchr() walk of split_bounds(). */
struct split_walk {
	const char *start, *end;
};

/* The start of the line after the one P is on (P outside quoted fields),
 * or END.  Quotes are looked for up to the line's end only: a search to
 * the next quote in a file that has none would read the rest of it. */
static const char *
split_walk_line(const struct split_walk *w, const char *p)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(w->end - p));
		const char *stop = nl != NULL ? nl : w->end;
		const char *q = split_next_open(p, w->start, stop);
		if (q >= stop)
			return nl != NULL ? nl + 1 : w->end;
		p = split_close(q, w->end);
	}
}

/* The first record start at or after the line start P, or END. */
static const char *
split_walk_record(const struct split_walk *w, const char *p)
{
	while (p < w->end && (*p == '\n' || *p == '\r'))
		p = split_walk_line(w, p);
	return p;
}

/* Record S of ROWS, from CPS (every INGEST_CP-th record's start). */
static const char *
split_walk_row(const struct split_walk *w, const char *const *cps, size_t s,
               size_t rows)
{
	if (s >= rows)
		return w->end;
	const char *p = cps[s / INGEST_CP];
	for (size_t k = s % INGEST_CP; k > 0; k--)
		p = split_walk_record(w, split_walk_line(w, p));
	return p;
}

#define INGEST_SAMPLE_SPOTS 16          /* places the schema is sampled */
#define INGEST_SAMPLE_ROWS 256          /* records at each */
#define INGEST_SAMPLE_BYTES (2 << 20)   /* at most, in all */

/* Scan the records of the sample at BUF (LEN bytes, taken) as a map
 * "scan" does a range: its result, or NULL with *RC. */
static json_t *
split_sample_scan(struct ingest *drv, json_t *bcj, char *buf, size_t len,
                  int *rc)
{
	struct split_bc bc;
	struct ingest in;
	json_t *res = NULL;
	memset(&in, 0, sizeof in);
	*rc = split_bc_from(drv->task, drv->host, json_incref(bcj), &bc);
	if (*rc == 0)
		*rc = split_open_buf(drv->task, drv->host, &bc, buf, len, 1, &in);
	else
		free(buf);
	if (*rc == 0)
		res = split_scan_json(&in, &bc, 0, rc);
	ingest_free(&in);
	split_bc_free(&bc);
	return res;
}

/*
 * The split in one pass, tried first: the driver counts the records
 * itself (the walk above), so it knows which bytes hold each partition's
 * rows before any map task runs; it types the columns from a sample (256
 * records at 16 places, in two halves that must agree on every
 * categorical column's levels); map "part" tasks then parse and write
 * the partitions at once, each value checked against that schema.  1 when
 * it cannot (the caller scans every range first, the two-pass split):
 * the sample does not settle the schema, or a value did not fit it (a
 * map task failed, so nothing of this stage is adopted).
 */
static int
split_onepass(struct ingest *in, const char *label, int nparts, json_t *bc,
              const char *map, const char *data, const char *end,
              size_t line0)
{
	if (in->ncols < 2)
		return 1;       /* one column: blank lines are records */
	struct split_walk w = { data, end };
	size_t rows = 0, ncp = 0, cpcap = 0;
	const char **cps = NULL;
	for (const char *p = split_walk_record(&w, data); p < end;
	     p = split_walk_record(&w, split_walk_line(&w, p))) {
		if (rows % INGEST_CP == 0) {
			if (ncp == cpcap) {
				cpcap = cpcap ? 2 * cpcap : 64;
				const char **c = realloc(cps, cpcap * sizeof *c);
				if (c == NULL) {
					free(cps);
					return ingest_oom(in);
				}
				cps = c;
			}
			cps[ncp++] = p;
		}
		rows++;
	}
	if (rows == 0) {
		free(cps);
		return 1;
	}
	/* The sample: up to INGEST_SAMPLE_ROWS records at each of 16
	 * evenly spaced rows, in two halves (the spots taken alternately). */
	char *half[2] = { NULL, NULL };
	size_t hlen[2] = { 0, 0 };
	int rc = 0;
	for (int j = 0; rc == 0 && j < INGEST_SAMPLE_SPOTS; j++) {
		size_t s0 = (size_t)j * rows / INGEST_SAMPLE_SPOTS;
		size_t s1 = (size_t)(j + 1) * rows / INGEST_SAMPLE_SPOTS, k;
		if (s1 == s0)
			continue;
		const char *a = split_walk_row(&w, cps, s0, rows), *b = a;
		for (k = 0; k < INGEST_SAMPLE_ROWS && s0 + k < s1 && b < end &&
		     (size_t)(b - a) < INGEST_SAMPLE_BYTES / INGEST_SAMPLE_SPOTS; k++)
			b = split_walk_record(&w, split_walk_line(&w, b));
		int hf = j % 2;
		char *nb = realloc(half[hf], hlen[hf] + (size_t)(b - a) + 2);
		if (nb == NULL) {
			rc = ingest_oom(in);
			break;
		}
		memcpy(nb + hlen[hf], a, (size_t)(b - a));
		hlen[hf] += (size_t)(b - a);
		if (b == end && hlen[hf] > 0 && nb[hlen[hf] - 1] != '\n')
			nb[hlen[hf]++] = '\n';  /* the file's last record */
		nb[hlen[hf]] = '\0';
		half[hf] = nb;
	}
	json_t *res[2] = { NULL, NULL };
	for (int hf = 0; rc == 0 && hf < 2; hf++) {
		if (half[hf] == NULL)
			half[hf] = calloc(1, 1);
		res[hf] = half[hf] ? split_sample_scan(in, bc, half[hf], hlen[hf],
		                                       &rc) : NULL;
		half[hf] = NULL;        /* taken */
		/* What the sample says wrong (its lines are its own), the
		 * scan of every range says again, right. */
		if (rc != 0 || res[hf] == NULL ||
		    json_is_true(json_object_get(res[hf], "big")))
			rc = 1;
	}
	free(half[0]);
	free(half[1]);
	json_t *types = json_array(), *tnum = json_array(), *levels = json_array();
	json_t *need = json_pack("[[],[]]");
	int needed = 0;
	if (rc == 0) {
		in->rows = (size_t)json_integer_value(json_object_get(res[0], "rows")) +
		           (size_t)json_integer_value(json_object_get(res[1], "rows"));
		rc = split_types(in, res, 2, types, tnum, levels, need, &needed);
		if (rc == 0 && needed)
			rc = 1;
		if (rc == 0)
			rc = split_check(in, levels);
		if (rc != 0)
			rc = 1;
	}
	/* Settled: every column has a value in the sample, and both halves
	 * saw the same levels of each categorical one. */
	for (size_t i = 0; rc == 0 && i < in->ncols; i++) {
		json_t *a = json_array_get(json_object_get(res[0], "cols"), i);
		json_t *b = json_array_get(json_object_get(res[1], "cols"), i);
		if (in->cols[i].missing >= in->rows ||
		    (in->cols[i].type == KCOL_CATEGORICAL &&
		     !json_equal(json_object_get(a, "levels"),
		                 json_object_get(b, "levels"))))
			rc = 1;
	}
	json_decref(res[0]);
	json_decref(res[1]);
	json_decref(need);
	/* The partitions' bytes: each from its first record. */
	json_t **args = calloc((size_t)nparts, sizeof *args);
	json_t **pres = calloc((size_t)nparts, sizeof *pres);
	if (rc == 0 && (args == NULL || pres == NULL))
		rc = ingest_oom(in);
	if (rc == 0) {
		const char *at = split_walk_row(&w, cps, 0, rows);
		size_t line = line0 + split_count_lf(data, at);
		for (int p = 0; p < nparts; p++) {
			size_t s, n;
			split_part_rows(rows, nparts, p, &s, &n);
			const char *to = p + 1 < nparts ?
			                 split_walk_row(&w, cps, s + n, rows) : end;
			args[p] = json_pack("{s:I,s:I,s:I,s:I,s:i}", "off",
			    (json_int_t)(at - map), "end", (json_int_t)(to - map),
			    "line", (json_int_t)line, "n", (json_int_t)n, "p", p);
			line += split_count_lf(at, to);
			at = to;
		}
		json_object_set(bc, "types", types);
		json_object_set(bc, "tnum", tnum);
		json_object_set(bc, "levels", levels);
		rc = split_stage(in, "part", bc, args, nparts, pres, 1);
		if (rc < 0 && rc != KILN_ECANCELLED)
			rc = 1;
		json_object_del(bc, "types");
		json_object_del(bc, "tnum");
		json_object_del(bc, "levels");
	}
	free(args);
	free(cps);
	/* The schema: the sampled types, the partitions' counts. */
	if (rc == 0)
		rc = split_rows(in, pres, nparts, NULL);
	for (size_t i = 0; rc == 0 && i < in->ncols; i++) {
		struct column *c = &in->cols[i];
		c->missing = 0;
		int wd = 1;
		for (int p = 0; p < nparts; p++) {
			c->missing += (size_t)json_integer_value(json_array_get(
			              json_object_get(pres[p], "missing"), i));
			wd &= json_is_true(json_array_get(json_object_get(pres[p],
			                   "wd"), i));
		}
		if (c->type == KCOL_TIME)
			c->whole_days = wd;
	}
	if (rc == 0)
		rc = split_schema(in, label, nparts, levels, nparts, 1);
	if (pres != NULL)
		split_free_res(pres, nparts);
	free(pres);
	json_decref(types);
	json_decref(tnum);
	json_decref(levels);
	if (rc == 1) {
		free(in->anchors);
		in->anchors = NULL;
		in->nanchors = in->anchors_cap = 0;
	}
	return rc;
}

int
ingest_split_run(struct ingest *in, const char *label, int nparts)
{
	kiln_task *t = in->task;
	const struct kiln_host *h = in->host;
	int64_t want = h->param_int(t, "map_tasks", 0);
	int64_t min = h->param_int(t, "split_min", INGEST_SPLIT_MIN);
	if (want < 0 || want > INGEST_MAX_RANGES) {
		h->set_error(t, "ingest: 'map_tasks' must be 0 (split a file of "
		             "split_min bytes or more), 1 (no split) or up to %d "
		             "byte ranges, not %lld", INGEST_MAX_RANGES,
		             (long long)want);
		return KILN_EINVAL;
	}
	if (min < 0) {
		h->set_error(t, "ingest: 'split_min' must be a size in bytes, 0 "
		             "or more, not %lld", (long long)min);
		return KILN_EINVAL;
	}
	if (want == 1 || !KILN_HOST_HAS(h, stage) || h->abi_minor < 7)
		return 1;
	const char *path = h->param(t, "file");
	if (path != NULL && *path == '\0')
		path = NULL;
	if (path != NULL && !KILN_HOST_HAS(h, open_data))
		return 1;
	uint64_t size = 0;
	int fd = split_open(t, h, path, &size);
	if (fd < 0)
		return fd;
	if (size == 0 || (want == 0 && (int64_t)size < min)) {
		close(fd);
		return 1;
	}
	const char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return 1;
	int m = want > 0 ? (int)want : (int)(size / INGEST_RANGE_BYTES);
	if (m < 2)
		m = 2;
	if (m > INGEST_MAX_RANGES)
		m = INGEST_MAX_RANGES;
	/* The header, from a private copy (the reader writes in place). */
	size_t hl = size < INGEST_HEAD_MAX ? (size_t)size : INGEST_HEAD_MAX;
	int rc = 1;
	in->fname = path ? path : "input";
	if (path == NULL)
		h->input_path(t, 0, &in->fname);
	in->buf = malloc(hl + 1);
	if (in->buf == NULL)
		goto out;
	memcpy(in->buf, map, hl);
	in->buf[hl] = '\0';
	in->len = hl;
	csv_init(&in->c, in->buf, hl, in->fname);
	rc = ingest_header(in, label);
	if (rc != 0)
		goto out;       /* the single task says it again, the same */
	size_t data = (size_t)(in->c.p - in->buf);
	size_t line0 = in->c.line;
	if (data >= hl && hl < size) {
		rc = 1;         /* a header longer than the copy */
		goto out;
	}
	if (split_lone_cr(map + data, map + size)) {
		rc = 1;
		goto out;
	}
	const char **b = calloc((size_t)m + 1, sizeof *b);
	uint64_t *off = calloc((size_t)m + 1, sizeof *off);
	size_t *line = calloc((size_t)m + 1, sizeof *line);
	if (b == NULL || off == NULL || line == NULL) {
		free(b);
		free(off);
		free(line);
		rc = ingest_oom(in);
		goto out;
	}
	/* Auto (map_tasks 0): one pass if the schema allows; else, or with
	 * a number of ranges given, scan every range first. */
	json_t *names = json_array();
	for (size_t i = 0; i < in->ncols; i++)
		json_array_append_new(names, json_string(in->header[i]));
	json_t *bc = json_pack("{s:o,s:i,s:b,s:s?,s:s?,s:s?}", "names", names,
	                       "label_col", in->label_col, "classes",
	                       split_classes(in), "file", path, "time_format",
	                       in->time_format, "time_columns", in->time_columns);
	rc = want == 0 ? split_onepass(in, label, nparts, bc, map, map + data,
	                               map + size, line0) : 1;
	if (rc != 1) {
		json_decref(bc);
		free(b);
		free(off);
		free(line);
		goto out;
	}
	m = split_bounds(map + data, map + size, m, b);
	line[0] = line0;
	for (int k = 0; k <= m; k++) {
		off[k] = (uint64_t)(b[k] - map);
		if (k > 0)
			line[k] = line[k - 1] + split_count_lf(b[k - 1], b[k]);
	}
	rc = split_drive(in, label, nparts, bc, off, line, m);
	json_decref(bc);
	free(b);
	free(off);
	free(line);
	if (rc == 1) {
		/* Back to one task, from a clean slate. */
		free(in->anchors);
		in->anchors = NULL;
		in->nanchors = in->anchors_cap = 0;
	}
out:
	munmap((void *)map, (size_t)size);
	if (rc == 1 || rc < 0) {
		free(in->cols);
		in->cols = NULL;
		free(in->header);
		in->header = NULL;
		free(in->c.fields);
		in->c.fields = NULL;
		free(in->buf);
		in->buf = NULL;
		in->label_col = -1;
		in->rows = 0;
	}
	return rc;
}
