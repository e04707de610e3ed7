/* SPDX-License-Identifier: MIT */
/*
 * csv.h - an RFC 4180 CSV reader (quoted fields may hold commas, doubled
 * quotes and newlines; LF or CRLF line ends) that parses a whole file in
 * place, plus the value rules the bundled plugins share: which fields are
 * missing and which are finite decimal numbers, and which file a task
 * reads (csv_read_task: a parameter's, through the host's read roots, or
 * the first input).  Shared by the bundled plugins (csvstats, ingest) so
 * that they read the same dialect from the same places.
 *
 * Header-only, with static functions: plugins link against libc and the
 * SDK only, never against kiln's own code, so each plugin compiles its own
 * copy.  Functions are `static inline` so that a plugin using only some of
 * them compiles without unused-function warnings.
 */
#ifndef KILN_LIB_CSV_H
#define KILN_LIB_CSV_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/plugin.h"

/* ------------------------------------------------------------ values */

static inline int
csv_is_missing(const char *v)
{
	switch (*v) {       /* called for every field: no strcmp for most */
	case '\0':
		return 1;
	case 'N':
		return strcmp(v, "NA") == 0 || strcmp(v, "NaN") == 0 ||
		       strcmp(v, "NAN") == 0;
	case 'n':
		return strcmp(v, "nan") == 0;
	default:
		return 0;
	}
}

/*
 * S (a decimal number: sign, digits, a point, an exponent, then blanks)
 * as the double strtod() would give, bit for bit, when that is cheap: an
 * integer mantissa M < 2^53 and a power of ten 10^k with |k| <= 22 are
 * both exact doubles, so M * 10^k or M / 10^k is one correctly rounded
 * operation (Clinger's fast path).  Most values in data files are such.
 * Returns 0 when it cannot tell (the caller uses strtod()).
 */
static inline int
csv_fast_number(const char *s, double *out)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	int neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	unsigned long long m = 0;
	int nd = 0, e = 0, digits = 0;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (nd >= 18)
			return 0;
		m = m * 10 + (unsigned)(*s - '0');
		nd += m != 0;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			if (nd >= 18)
				return 0;
			m = m * 10 + (unsigned)(*s - '0');
			nd += m != 0;
			e--;
		}
	}
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		int eneg = *s == '-';
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		int x = 0;
		for (; *s >= '0' && *s <= '9'; s++)
			if ((x = x * 10 + (*s - '0')) > 1000)
				return 0;
		e += eneg ? -x : x;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0')
		return 0;
	if (m == 0) {
		*out = neg ? -0.0 : 0.0;
		return 1;
	}
	if (m > (1ULL << 53) || e < -22 || e > 22)
		return 0;
	double d = (double)m;
	d = e < 0 ? d / p10[-e] : d * p10[e];
	*out = neg ? -d : d;
	return 1;
}

/* V as a finite decimal number (surrounding blanks allowed).  strtod alone
 * would also take "inf", hex and leading garbage-free prefixes. */
static inline int
csv_number(const char *v, double *out)
{
	const char *s = v;
	while (*s == ' ' || *s == '\t')
		s++;
	/* Most values: the fast path checks the syntax as it goes (only
	 * what the check below would also let through). */
	if (csv_fast_number(s, out))
		return 1;
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

/* Start reading LEN bytes at BUF (a file's contents); FNAME names it in
 * messages.  A UTF-8 byte order mark is skipped.  BUF[LEN] must be a NUL
 * (csv_read_fd() leaves one): the field scan stops there. */
static inline void
csv_init(struct csv *c, char *buf, size_t len, const char *fname)
{
	memset(c, 0, sizeof *c);
	c->p = buf;
	c->end = buf + len;
	c->line = 1;
	c->fname = fname;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		c->p += 3;
}

static inline int
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

/* The bytes that end an unquoted field, and NUL (csv_init's buffers end
 * in one: the scan stops there without testing the end each byte). */
static const unsigned char csv_stop[256] = {
	[0] = 1, [','] = 1, ['\n'] = 1, ['\r'] = 1,
};

/*
 * Parse the next record in place into c->fields (NUL-terminated strings in
 * the buffer).  Lines with nothing on them are skipped unless KEEP_BLANK
 * (a blank line is one empty field when there is one column).  Returns 1
 * with *line set to the record's first line, 0 at the end, -1 with c->err.
 */
static inline int
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
		 * as most readers do).  The common field, unquoted, needs no
		 * copy (W is P): scan it by a table of the bytes that end it. */
		if (w == c->p) {
			char *q = c->p;
			while (!csv_stop[(unsigned char)*q])
				q++;
			while (q < c->end && *q == '\0') {  /* a NUL in the data */
				q++;
				while (!csv_stop[(unsigned char)*q])
					q++;
			}
			if (q > c->end)
				q = c->end;
			w = c->p = q;
		}
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

/* Read the open file FD (NAME in messages) whole, with one spare byte for
 * the last terminator; FD is closed. */
static inline int
csv_read_fd(int fd, const char *name, char **buf, size_t *len, char *err,
            size_t errlen)
{
	FILE *f = fdopen(fd, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", name,
		         strerror(errno));
		close(fd);
		return KILN_ENOMEM;
	}
	size_t cap = 65536, n = 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0)
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
				snprintf(err, errlen, "%s: out of memory", name);
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
		snprintf(err, errlen, "cannot read %s: %s", name,
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

/* Read PATH, a file of the host's (an input), as csv_read_fd(). */
static inline int
csv_read_file(const char *path, char **buf, size_t *len, char *err,
              size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         strerror(errno));
		return KILN_EIO;
	}
	return csv_read_fd(fd, path, buf, len, err, errlen);
}

/*
 * The CSV a task reads, whole: the file its parameter PARAM names, opened
 * with host->open_data() (a path a user gave: only inside the worker's
 * read roots), or else the task's first input.  *LABEL names it for
 * messages (host-owned).  Returns 0, or a negative KILN_E* with the
 * task's error set (WHO, the plugin's name, begins the messages of this
 * function; a refusal keeps the host's message, naming the setting).
 */
static inline int
csv_read_task(kiln_task *t, const struct kiln_host *h, const char *who,
              const char *param, const char **label, char **buf,
              size_t *len)
{
	const char *path = h->param(t, param);
	char err[512];
	int rc;

	*label = path;
	if (path != NULL && *path != '\0') {
		if (!KILN_HOST_HAS(h, open_data)) {
			h->set_error(t, "%s: '%s' names a file, which needs "
			             "kiln ABI 1.4 (open_data); this kiln speaks "
			             "%u.%u", who, param, h->abi_major,
			             h->abi_minor);
			return KILN_EINVAL;
		}
		int fd = h->open_data(t, path, 0, NULL);
		if (fd < 0)
			return fd;
		rc = csv_read_fd(fd, path, buf, len, err, sizeof err);
	} else {
		path = NULL;
		if (h->input_count(t) > 0)
			path = h->input_path(t, 0, label);
		if (path == NULL) {
			h->set_error(t, "%s: no file: set the '%s' parameter "
			             "or give an input", who, param);
			return KILN_EINVAL;
		}
		if (*label == NULL)
			*label = path;
		rc = csv_read_file(path, buf, len, err, sizeof err);
	}
	if (rc < 0)
		h->set_error(t, "%s: %s", who, err);
	return rc;
}

#endif /* KILN_LIB_CSV_H */
