/* SPDX-License-Identifier: MIT */
/*
 * metrics-test.c - the Prometheus registry and renderer: totals after
 * events fed from many threads at once (while another thread keeps
 * scraping), histogram buckets (boundaries, cumulative counts, +Inf equal
 * to _count, exact sums), label escaping, the route template table, the
 * cardinality caps and the gauges.
 *
 * Every rendered text is read back by a small, strict parser of the text
 * exposition format written here, not by string matching, so the tests
 * check what Prometheus would see; the parser is itself tested on broken
 * inputs.  When promtool (Debian package prometheus) is on PATH, the
 * rendered text goes through `promtool check metrics` as well.
 */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

/* ------------------------------------------------------------------------
 * A parser of the text exposition format, version 0.0.4
 * --------------------------------------------------------------------- */

#define P_NAME   128
#define P_LABELS 512

struct sample {
	char name[P_NAME];
	char labels[P_LABELS];  /* as written, without le, joined by ',' */
	char le[32];            /* "" if none */
	double value;
	int fam;
};

struct fam {
	char name[P_NAME];
	char type[16];          /* "" until a TYPE line */
	int help, nsamples;
};

struct expo {
	struct sample *s;
	int ns, cap;
	struct fam f[128];
	int nf;
	int cur;                /* family of the last sample, or -1 */
};

static void
expo_free(struct expo *e)
{
	free(e->s);
	memset(e, 0, sizeof *e);
}

static int bad(char **err, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
bad(char **err, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err != NULL && *err == NULL &&
	    asprintf(err, "line %d: %s", line, msg) < 0)
		*err = NULL;
	return -1;
}

/* Length of the metric name at P ([a-zA-Z_:][a-zA-Z0-9_:]*), or 0. */
static size_t
name_len(const char *p, int colon)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || (colon && p[0] == ':')))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || (colon && p[n] == ':'))
		n++;
	return n;
}

static int
fam_find(struct expo *e, const char *name)
{
	for (int i = 0; i < e->nf; i++)
		if (strcmp(e->f[i].name, name) == 0)
			return i;
	return -1;
}

static int
fam_get(struct expo *e, const char *name)
{
	int i = fam_find(e, name);

	if (i >= 0 || e->nf == (int)(sizeof e->f / sizeof e->f[0]))
		return i;
	snprintf(e->f[e->nf].name, P_NAME, "%s", name);
	return e->nf++;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A sample value: a decimal float, NaN, +Inf or -Inf. */
static int
parse_value(const char *tok, size_t n, double *v)
{
	char buf[64];
	char *end;

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	if (strcmp(buf, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0) {
		*v = buf[0] == '+' ? INFINITY : -INFINITY;
		return 0;
	}
	if (strspn(buf, "0123456789.eE+-") != n)
		return -1;
	*v = strtod(buf, &end);
	return *end == '\0' ? 0 : -1;
}

static int
parse_comment(struct expo *e, const char *p, int line, char **err)
{
	int help;
	size_t n;
	char name[P_NAME];

	if (strncmp(p, "# HELP ", 7) == 0)
		help = 1;
	else if (strncmp(p, "# TYPE ", 7) == 0)
		help = 0;
	else
		return bad(err, line, "comment is neither HELP nor TYPE");
	p += 7;
	if ((n = name_len(p, 1)) == 0 || n >= P_NAME)
		return bad(err, line, "bad metric name");
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	int f = fam_get(e, name);
	if (f < 0)
		return bad(err, line, "too many families");
	if (e->f[f].nsamples > 0)
		return bad(err, line, "%s after samples of %s", help ? "HELP" : "TYPE", name);
	if (help) {
		if (e->f[f].help)
			return bad(err, line, "second HELP for %s", name);
		if (*p != ' ' || p[1] == '\0')
			return bad(err, line, "HELP without text");
		e->f[f].help = 1;
		return 0;
	}
	if (e->f[f].type[0] != '\0')
		return bad(err, line, "second TYPE for %s", name);
	if (*p++ != ' ')
		return bad(err, line, "TYPE without a type");
	if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0 &&
	    strcmp(p, "histogram") != 0 && strcmp(p, "summary") != 0 &&
	    strcmp(p, "untyped") != 0)
		return bad(err, line, "unknown type '%s'", p);
	if (strcmp(p, "counter") == 0 && !ends_with(name, "_total"))
		return bad(err, line, "counter %s does not end in _total", name);
	snprintf(e->f[f].type, sizeof e->f[f].type, "%s", p);
	return 0;
}

/* Labels from just after '{' to '}': *P is left after the '}'. */
static int
parse_labels(const char **pp, struct sample *s, int line, char **err)
{
	const char *p = *pp;
	char seen[16][64];
	int nseen = 0;
	size_t used = 0;

	while (*p != '}') {
		size_t n = name_len(p, 0);
		char lname[64];
		if (n == 0 || n >= sizeof lname)
			return bad(err, line, "bad label name");
		memcpy(lname, p, n);
		lname[n] = '\0';
		for (int i = 0; i < nseen; i++)
			if (strcmp(seen[i], lname) == 0)
				return bad(err, line, "label %s twice", lname);
		if (nseen == 16)
			return bad(err, line, "too many labels");
		strcpy(seen[nseen++], lname);
		p += n;
		if (p[0] != '=' || p[1] != '"')
			return bad(err, line, "label %s without =\"", lname);
		const char *v = p += 2;
		while (*p != '"') {
			if (*p == '\0')
				return bad(err, line, "unterminated label value");
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return bad(err, line, "bad escape \\%c", p[1]);
				p++;
			}
			p++;
		}
		size_t vn = (size_t)(p - v);
		p++;
		if (strcmp(lname, "le") == 0) {
			if (vn == 0 || vn >= sizeof s->le)
				return bad(err, line, "bad le");
			memcpy(s->le, v, vn);
			s->le[vn] = '\0';
		} else {
			int w = snprintf(s->labels + used, P_LABELS - used, "%s%s=\"%.*s\"",
			                 used ? "," : "", lname, (int)vn, v);
			if (w < 0 || (size_t)w >= P_LABELS - used)
				return bad(err, line, "labels too long");
			used += (size_t)w;
		}
		if (*p == ',')
			p++;
		else if (*p != '}')
			return bad(err, line, "expected , or } after a label");
	}
	*pp = p + 1;
	return 0;
}

static int
parse_sample(struct expo *e, const char *p, int line, char **err)
{
	struct sample s;
	size_t n;

	memset(&s, 0, sizeof s);
	if ((n = name_len(p, 1)) == 0 || n >= P_NAME)
		return bad(err, line, "bad metric name");
	memcpy(s.name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		if (parse_labels(&p, &s, line, err) != 0)
			return -1;
	}
	if (*p++ != ' ')
		return bad(err, line, "no space before the value");
	n = strcspn(p, " ");
	if (parse_value(p, n, &s.value) != 0)
		return bad(err, line, "bad value '%.*s'", (int)n, p);
	p += n;
	if (*p == ' ') {                /* an optional timestamp in ms */
		p++;
		if (*p == '-')
			p++;
		if (!isdigit((unsigned char)*p) || strspn(p, "0123456789") != strlen(p))
			return bad(err, line, "bad timestamp");
		p += strlen(p);
	}
	if (*p != '\0')
		return bad(err, line, "junk after the value");

	/* The family: the name itself, or a histogram's base name. */
	int f = fam_find(e, s.name);
	const char *suffix = NULL;
	if (f >= 0 && e->f[f].type[0] == '\0')
		f = -1;
	if (f < 0) {
		static const char *const sfx[] = { "_bucket", "_sum", "_count" };
		for (int i = 0; i < 3 && f < 0; i++) {
			if (!ends_with(s.name, sfx[i]))
				continue;
			char base[P_NAME];
			snprintf(base, sizeof base, "%.*s",
			         (int)(strlen(s.name) - strlen(sfx[i])), s.name);
			f = fam_find(e, base);
			if (f >= 0 && strcmp(e->f[f].type, "histogram") != 0)
				f = -1;
			suffix = sfx[i];
		}
	}
	if (f < 0)
		return bad(err, line, "sample %s has no TYPE", s.name);
	if (strcmp(e->f[f].type, "histogram") == 0 && suffix == NULL)
		return bad(err, line, "histogram sample %s without a suffix", s.name);
	if (suffix != NULL && (strcmp(suffix, "_bucket") == 0) != (s.le[0] != '\0'))
		return bad(err, line, "le on %s", s.le[0] ? "a non-bucket" : "no bucket");
	if (strcmp(e->f[f].type, "counter") == 0 && !(s.value >= 0))
		return bad(err, line, "counter %s is %g", s.name, s.value);
	if (f != e->cur && e->f[f].nsamples > 0)
		return bad(err, line, "samples of %s are not together", e->f[f].name);
	for (int i = 0; i < e->ns; i++)
		if (strcmp(e->s[i].name, s.name) == 0 &&
		    strcmp(e->s[i].labels, s.labels) == 0 &&
		    strcmp(e->s[i].le, s.le) == 0)
			return bad(err, line, "series %s{%s} twice", s.name, s.labels);
	e->cur = f;
	e->f[f].nsamples++;
	s.fam = f;
	if (e->ns == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->s = realloc(e->s, (size_t)e->cap * sizeof *e->s);
		ck_assert_ptr_nonnull(e->s);
	}
	e->s[e->ns++] = s;
	return 0;
}

/* Each histogram series: buckets in increasing le order with
 * non-decreasing counts, ending in +Inf equal to _count, and a _sum. */
static int
check_histograms(struct expo *e, char **err)
{
	for (int i = 0; i < e->ns; i++) {
		struct sample *b = &e->s[i];
		if (strcmp(e->f[b->fam].type, "histogram") != 0 ||
		    !ends_with(b->name, "_count"))
			continue;
		const char *fn = e->f[b->fam].name;
		char bucket[P_NAME + 8], sum[P_NAME + 8];
		snprintf(bucket, sizeof bucket, "%s_bucket", fn);
		snprintf(sum, sizeof sum, "%s_sum", fn);
		double last_le = -INFINITY, last = 0, inf = -1;
		int nb = 0, has_sum = 0;
		for (int j = 0; j < e->ns; j++) {
			struct sample *x = &e->s[j];
			if (strcmp(x->labels, b->labels) != 0)
				continue;
			if (strcmp(x->name, sum) == 0)
				has_sum = 1;
			if (strcmp(x->name, bucket) != 0)
				continue;
			double le;
			if (parse_value(x->le, strlen(x->le), &le) != 0 || isnan(le))
				return bad(err, 0, "%s{%s}: bad le \"%s\"", fn, b->labels, x->le);
			if (le <= last_le || x->value < last)
				return bad(err, 0, "%s{%s}: le=\"%s\" out of order or not cumulative",
				            fn, b->labels, x->le);
			last_le = le;
			last = x->value;
			if (isinf(le))
				inf = x->value;
			nb++;
		}
		if (nb == 0 || inf < 0)
			return bad(err, 0, "%s{%s}: no le=\"+Inf\" bucket", fn, b->labels);
		if (inf != b->value)
			return bad(err, 0, "%s{%s}: +Inf %g != _count %g", fn, b->labels,
			            inf, b->value);
		if (!has_sum)
			return bad(err, 0, "%s{%s}: no _sum", fn, b->labels);
	}
	/* And no bucket or sum without a count. */
	for (int i = 0; i < e->ns; i++) {
		struct sample *x = &e->s[i];
		if (strcmp(e->f[x->fam].type, "histogram") != 0 ||
		    ends_with(x->name, "_count"))
			continue;
		char count[P_NAME + 8];
		int found = 0;
		snprintf(count, sizeof count, "%s_count", e->f[x->fam].name);
		for (int j = 0; j < e->ns && !found; j++)
			found = strcmp(e->s[j].name, count) == 0 &&
			        strcmp(e->s[j].labels, x->labels) == 0;
		if (!found)
			return bad(err, 0, "%s{%s} without _count", x->name, x->labels);
	}
	return 0;
}

/* Parse TEXT into E.  RET: 0, or -1 with a malloc()ed *ERR. */
static int
expo_parse(const char *text, struct expo *e, char **err)
{
	int line = 0;

	memset(e, 0, sizeof *e);
	e->cur = -1;
	*err = NULL;
	if (*text != '\0' && text[strlen(text) - 1] != '\n')
		return bad(err, 0, "no newline at the end");
	for (const char *p = text; *p != '\0'; ) {
		const char *nl = strchr(p, '\n');
		char buf[2048];
		size_t n = (size_t)(nl - p);
		line++;
		if (n >= sizeof buf)
			return bad(err, line, "line too long");
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = nl + 1;
		if (n == 0)
			return bad(err, line, "empty line");
		if ((buf[0] == '#' ? parse_comment(e, buf, line, err)
		                   : parse_sample(e, buf, line, err)) != 0)
			return -1;
	}
	return check_histograms(e, err);
}

/* The value of NAME{LABELS} (LABELS as written, "" for none; LE "" for
 * none), or NAN if there is no such sample. */
static double
val_le(const struct expo *e, const char *name, const char *labels, const char *le)
{
	for (int i = 0; i < e->ns; i++)
		if (strcmp(e->s[i].name, name) == 0 &&
		    strcmp(e->s[i].labels, labels) == 0 &&
		    strcmp(e->s[i].le, le) == 0)
			return e->s[i].value;
	return NAN;
}

static double
val(const struct expo *e, const char *name, const char *labels)
{
	return val_le(e, name, labels, "");
}

static const struct fam *
fam_of(const struct expo *e, const char *name)
{
	for (int i = 0; i < e->nf; i++)
		if (strcmp(e->f[i].name, name) == 0)
			return &e->f[i];
	return NULL;
}

/* Render with G, parse (failing the test on a parse error) into E. */
static char *
render_parse(const struct metrics_gauges *g, struct expo *e)
{
	char *err = NULL;
	char *text = metrics_render(g);

	ck_assert_ptr_nonnull(text);
	if (expo_parse(text, e, &err) != 0)
		ck_abort_msg("rendered text does not parse: %s\n%s", err, text);
	/* Everything we render has HELP and TYPE. */
	for (int i = 0; i < e->nf; i++) {
		ck_assert_msg(e->f[i].help, "%s has no HELP", e->f[i].name);
		ck_assert_msg(e->f[i].type[0], "%s has no TYPE", e->f[i].name);
	}
	return text;
}

#define ck_assert_val(e, name, labels, want) do {                          \
	double v_ = val((e), (name), (labels));                             \
	ck_assert_msg(v_ == (double)(want), "%s{%s} = %g, want %g",         \
	              (name), (labels), v_, (double)(want));                \
} while (0)

/* ------------------------------------------------------------------------
 * The parser on broken input
 * --------------------------------------------------------------------- */

static const struct {
	const char *text, *why;
} bad_texts[] = {
	{ "# TYPE a gauge\na 1", "no final newline" },
	{ "# TYPE a gauge\n\na 1\n", "empty line" },
	{ "# a comment\n", "other comment" },
	{ "a 1\n", "sample without TYPE" },
	{ "# TYPE 1a gauge\n1a 1\n", "name starts with a digit" },
	{ "# TYPE a-b gauge\na-b 1\n", "dash in a name" },
	{ "# TYPE a gauge\na{1x=\"v\"} 1\n", "bad label name" },
	{ "# TYPE a gauge\na{x=\"v} 1\n", "unterminated label value" },
	{ "# TYPE a gauge\na{x=\"\\t\"} 1\n", "bad escape" },
	{ "# TYPE a gauge\na{x=v} 1\n", "unquoted label value" },
	{ "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "duplicate label" },
	{ "# TYPE a gauge\na{x=\"1\" y=\"2\"} 1\n", "no comma" },
	{ "# TYPE a gauge\na one\n", "bad value" },
	{ "# TYPE a gauge\na 1 2 3\n", "junk after the timestamp" },
	{ "# TYPE a gauge\na  1\n", "two spaces" },
	{ "# TYPE a gauge\na\n", "no value" },
	{ "# TYPE a gauge\na 1\na 2\n", "duplicate series" },
	{ "# TYPE a gauge\n# TYPE a gauge\na 1\n", "second TYPE" },
	{ "# TYPE a gauge\na 1\n# HELP a late\n", "HELP after samples" },
	{ "# TYPE a blob\na 1\n", "unknown type" },
	{ "# TYPE a counter\na 1\n", "counter without _total" },
	{ "# TYPE a_total counter\na_total -1\n", "negative counter" },
	{ "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n", "family split" },
	{ "# TYPE h histogram\nh 1\n", "histogram without suffix" },
	{ "# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", "bucket without le" },
	{ "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "no +Inf" },
	{ "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
	  "h_sum 1\nh_count 1\n", "not cumulative" },
	{ "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
	  "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "le out of order" },
	{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", "+Inf != count" },
	{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "no sum" },
	{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n", "no count" },
	{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum{le=\"1\"} 1\nh_count 1\n", "le on sum" },
	{ "# TYPE g gauge\ng_count 1\n", "suffix of a non-histogram" },
};

START_TEST(test_parser_rejects)
{
	struct expo e;
	char *err = NULL;

	ck_assert_msg(expo_parse(bad_texts[_i].text, &e, &err) != 0,
	              "accepted (%s): %s", bad_texts[_i].why, bad_texts[_i].text);
	ck_assert_ptr_nonnull(err);
	free(err);
	expo_free(&e);
}
END_TEST

START_TEST(test_parser_accepts)
{
	static const char text[] =
		"# HELP a_total Things.\n"
		"# TYPE a_total counter\n"
		"a_total{x=\"q\\\"\\\\\\n\",y=\"\"} 3 1700000000000\n"
		"# TYPE g gauge\n"
		"g NaN\ng{s=\"1\",} -Inf\n"
		"# TYPE h histogram\n"
		"h_bucket{k=\"1\",le=\"0.5\"} 1\nh_bucket{k=\"1\",le=\"+Inf\"} 2\n"
		"h_sum{k=\"1\"} 1.5e0\nh_count{k=\"1\"} 2\n";
	struct expo e;
	char *err = NULL;

	if (expo_parse(text, &e, &err) != 0)
		ck_abort_msg("refused: %s", err);
	ck_assert_int_eq(e.ns, 7);
	ck_assert_val(&e, "a_total", "x=\"q\\\"\\\\\\n\",y=\"\"", 3);
	ck_assert(isnan(val(&e, "g", "")));
	ck_assert(val(&e, "g", "s=\"1\"") == -INFINITY);
	ck_assert(val_le(&e, "h_bucket", "k=\"1\"", "0.5") == 1);
	ck_assert_val(&e, "h_sum", "k=\"1\"", 1.5);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * Escaping
 * --------------------------------------------------------------------- */

static const struct {
	const char *in, *out;
} escapes[] = {
	{ "", "" },
	{ "plain", "plain" },
	{ "a\\b", "a\\\\b" },
	{ "say \"hi\"", "say \\\"hi\\\"" },
	{ "two\nlines", "two\\nlines" },
	{ "\\\"\n", "\\\\\\\"\\n" },
	{ "tab\tstays", "tab\tstays" },
	{ "utf-8 \xc3\xa9", "utf-8 \xc3\xa9" },
};

START_TEST(test_escape)
{
	char buf[64];
	size_t n = metrics_escape(buf, sizeof buf, escapes[_i].in);

	ck_assert_str_eq(buf, escapes[_i].out);
	ck_assert_uint_eq(n, strlen(escapes[_i].out));
	/* Truncation: still terminated, same length reported. */
	char small[4];
	ck_assert_uint_eq(metrics_escape(small, sizeof small, escapes[_i].in), n);
	ck_assert_uint_le(strlen(small), 3);
	ck_assert(strncmp(small, escapes[_i].out, strlen(small)) == 0);
	ck_assert_uint_eq(metrics_escape(NULL, 0, escapes[_i].in), n);
}
END_TEST

/* Awkward names reach the output escaped, and the output still parses. */
START_TEST(test_escape_rendered)
{
	struct expo e;
	struct metrics_gauges g = { .version = "1.0 \"beta\"\n\\x" };

	metrics_init();
	metrics_http("/we\"ird\\\nroute", 200, 0.01);
	metrics_task_done("q\"uote", METRICS_TASK_SUCCEEDED, 1, 1);
	char *text = render_parse(&g, &e);
	ck_assert_val(&e, "kiln_build_info", "version=\"1.0 \\\"beta\\\"\\n\\\\x\"", 1);
	ck_assert_val(&e, "kiln_http_requests_total",
	              "route=\"/we\\\"ird\\\\\\nroute\",status=\"200\"", 1);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"q\\\"uote\",state=\"succeeded\"", 1);
	ck_assert_ptr_null(strstr(text, "we\"ird"));
	free(text);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * Histograms
 * --------------------------------------------------------------------- */

START_TEST(test_histogram_buckets)
{
	static const struct {
		double s;
		const char *first_le;   /* the smallest bucket that counts it */
	} obs[] = {
		{ 0, "0.001" },
		{ 0.001, "0.001" }, { 0.0011, "0.005" }, { 0.5, "0.5" },
		{ 0.75, "1" }, { 3600, "3600" }, { 3600.5, "+Inf" }, { 1e300, "+Inf" },
	};
	static const char *const les[] = {
		"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10",
		"30", "60", "300", "1800", "3600", "+Inf",
	};
	const size_t nobs = sizeof obs / sizeof obs[0];
	struct expo e;

	metrics_init();
	for (size_t i = 0; i < nobs; i++)
		metrics_task_done("h", METRICS_TASK_SUCCEEDED, obs[i].s, -1);
	/* Not observed: no run time. */
	metrics_task_done("h", METRICS_TASK_SUCCEEDED, -5, -1);
	metrics_task_done("h", METRICS_TASK_SUCCEEDED, NAN, NAN);
	char *text = render_parse(NULL, &e);
	const char *name = "kiln_task_duration_seconds_bucket";
	for (size_t l = 0; l < sizeof les / sizeof les[0]; l++) {
		double want = 0;
		int past = 0;
		/* An observation counts in every bucket from its first on. */
		for (size_t i = 0; i < nobs; i++) {
			past = 0;
			for (size_t k = 0; k <= l; k++)
				past |= strcmp(les[k], obs[i].first_le) == 0;
			want += past;
		}
		double got = val_le(&e, name, "plugin=\"h\"", les[l]);
		ck_assert_msg(got == want, "le=%s: %g, want %g", les[l], got, want);
	}
	ck_assert_val(&e, "kiln_task_duration_seconds_count", "plugin=\"h\"", nobs);
	ck_assert_val(&e, "kiln_task_queue_wait_seconds_count", "plugin=\"h\"", 0);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"h\",state=\"succeeded\"", nobs + 2);
	/* Huge values are clamped to 1e9 s. */
	double sum = 0.001 + 0.0011 + 0.5 + 0.75 + 3600 + 3600.5 + 1e9;
	double got = val(&e, "kiln_task_duration_seconds_sum", "plugin=\"h\"");
	ck_assert_msg(fabs(got - sum) < 1e-6, "sum %.9f, want %.9f", got, sum);
	free(text);
	expo_free(&e);
}
END_TEST

START_TEST(test_fast_buckets)
{
	struct expo e;

	metrics_init();
	metrics_sqlite_write(0.0001, 3);        /* on the first bound */
	metrics_sqlite_write(0.0003, 0);
	metrics_sqlite_write(11, -4);           /* negative ops ignored */
	metrics_sched_loop(0.0002);
	metrics_sched_loop(-1);                 /* negative and NaN: 0 */
	metrics_sched_loop(NAN);
	metrics_sched_loop(2.5);
	char *text = render_parse(NULL, &e);
	const char *b = "kiln_sqlite_write_duration_seconds_bucket";
	ck_assert(val_le(&e, b, "", "0.0001") == 1);
	ck_assert(val_le(&e, b, "", "0.00025") == 1);
	ck_assert(val_le(&e, b, "", "0.0005") == 2);
	ck_assert(val_le(&e, b, "", "10") == 2);
	ck_assert(val_le(&e, b, "", "+Inf") == 3);
	ck_assert_val(&e, "kiln_sqlite_write_duration_seconds_count", "", 3);
	ck_assert_val(&e, "kiln_sqlite_write_duration_seconds_sum", "", 11.0004);
	ck_assert_val(&e, "kiln_sqlite_writes_total", "", 3);
	/* The scheduler loop has the same buckets, and its two counters. */
	b = "kiln_scheduler_loop_duration_seconds_bucket";
	ck_assert(val_le(&e, b, "", "0.0001") == 2);
	ck_assert(val_le(&e, b, "", "0.00025") == 3);
	ck_assert(val_le(&e, b, "", "1") == 3);
	ck_assert(val_le(&e, b, "", "2.5") == 4);
	ck_assert_val(&e, "kiln_scheduler_loop_duration_seconds_count", "", 4);
	ck_assert_val(&e, "kiln_scheduler_loops_total", "", 4);
	ck_assert_val(&e, "kiln_scheduler_loop_duration_seconds_sum", "", 2.5002);
	ck_assert_val(&e, "kiln_scheduler_loop_seconds_total", "", 2.5002);
	free(text);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * Events, states, gauges
 * --------------------------------------------------------------------- */

START_TEST(test_tasks_and_dag_runs)
{
	struct expo e;

	metrics_init();
	metrics_task_done("noop", METRICS_TASK_SUCCEEDED, 0.25, 0.5);
	metrics_task_done("noop", METRICS_TASK_FAILED, 2, 0.5);
	metrics_task_done("noop", 7, 1, 1);     /* unknown state: failed */
	metrics_task_done("noop", METRICS_TASK_CANCELLED, -1, -1);
	metrics_task_done("sleep", METRICS_TASK_CANCELLED, 3, -1);
	metrics_dag_run_done(1);
	metrics_dag_run_done(0);
	metrics_dag_run_done(5);
	char *text = render_parse(NULL, &e);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"noop\",state=\"succeeded\"", 1);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"noop\",state=\"failed\"", 2);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"noop\",state=\"cancelled\"", 1);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"sleep\",state=\"succeeded\"", 0);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"sleep\",state=\"cancelled\"", 1);
	ck_assert_val(&e, "kiln_task_duration_seconds_count", "plugin=\"noop\"", 3);
	ck_assert_val(&e, "kiln_task_duration_seconds_sum", "plugin=\"noop\"", 3.25);
	ck_assert_val(&e, "kiln_task_queue_wait_seconds_count", "plugin=\"noop\"", 3);
	ck_assert_val(&e, "kiln_task_duration_seconds_count", "plugin=\"sleep\"", 1);
	ck_assert_val(&e, "kiln_task_queue_wait_seconds_count", "plugin=\"sleep\"", 0);
	/* No "other" series until something overflows. */
	ck_assert(isnan(val(&e, "kiln_tasks_total", "plugin=\"other\",state=\"failed\"")));
	ck_assert_val(&e, "kiln_dag_runs_total", "state=\"success\"", 2);
	ck_assert_val(&e, "kiln_dag_runs_total", "state=\"failed\"", 1);
	/* Gauges are absent without a struct. */
	ck_assert_ptr_null(fam_of(&e, "kiln_workers"));
	ck_assert_str_eq(fam_of(&e, "kiln_tasks_total")->type, "counter");
	ck_assert_str_eq(fam_of(&e, "kiln_task_duration_seconds")->type, "histogram");
	free(text);
	expo_free(&e);

	/* metrics_init() forgets everything. */
	metrics_init();
	text = render_parse(NULL, &e);
	ck_assert(isnan(val(&e, "kiln_tasks_total", "plugin=\"noop\",state=\"failed\"")));
	ck_assert_val(&e, "kiln_dag_runs_total", "state=\"success\"", 0);
	free(text);
	expo_free(&e);
}
END_TEST

START_TEST(test_gauges)
{
	struct metrics_gauges g = {
		.workers_alive = 3, .workers_dead = 1, .slots_total = 24,
		.slots_busy = 7, .queue_depth = 12345678901LL, .jobs_running = 7,
		.dag_runs_queued = 2, .dag_runs_running = 5, .dags = 9,
		.dag_import_errors = 1, .uptime_seconds = 61.25, .version = NULL,
	};
	struct expo e;

	metrics_init();
	char *text = render_parse(&g, &e);
	ck_assert_val(&e, "kiln_build_info", "version=\"unknown\"", 1);
	ck_assert_val(&e, "kiln_uptime_seconds", "", 61.25);
	ck_assert_val(&e, "kiln_workers", "state=\"alive\"", 3);
	ck_assert_val(&e, "kiln_workers", "state=\"dead\"", 1);
	ck_assert_val(&e, "kiln_slots", "state=\"total\"", 24);
	ck_assert_val(&e, "kiln_slots", "state=\"busy\"", 7);
	ck_assert_val(&e, "kiln_queue_depth", "", 12345678901.0);
	ck_assert_val(&e, "kiln_jobs_running", "", 7);
	ck_assert_val(&e, "kiln_dag_runs", "state=\"queued\"", 2);
	ck_assert_val(&e, "kiln_dag_runs", "state=\"running\"", 5);
	ck_assert_val(&e, "kiln_dags", "", 9);
	ck_assert_val(&e, "kiln_dag_import_errors", "", 1);
	ck_assert_str_eq(fam_of(&e, "kiln_workers")->type, "gauge");
	free(text);
	expo_free(&e);

	g.uptime_seconds = NAN;
	text = render_parse(&g, &e);
	ck_assert(isnan(val(&e, "kiln_uptime_seconds", "")));
	free(text);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * Cardinality caps
 * --------------------------------------------------------------------- */

START_TEST(test_cardinality)
{
	const int extra = 10;
	char name[256];
	struct expo e;

	metrics_init();
	for (int i = 0; i < METRICS_MAX_PLUGINS + extra; i++) {
		snprintf(name, sizeof name, "plugin-%d", i);
		metrics_task_done(name, METRICS_TASK_SUCCEEDED, 1, 1);
		metrics_task_done(name, METRICS_TASK_SUCCEEDED, 1, 1);
	}
	memset(name, 'x', METRICS_NAME_MAX);    /* too long to keep */
	name[METRICS_NAME_MAX] = '\0';
	metrics_task_done(name, METRICS_TASK_FAILED, 1, 1);
	metrics_task_done("other", METRICS_TASK_FAILED, 1, 1);
	metrics_task_done(NULL, METRICS_TASK_FAILED, 1, 1);
	metrics_task_done("", METRICS_TASK_FAILED, 1, 1);
	name[METRICS_NAME_MAX - 1] = '\0';      /* just short enough */
	metrics_task_done(name, METRICS_TASK_FAILED, 1, 1);

	/* One route with more statuses than pairs: the overflow keeps its
	 * status under route="other"; more routes than the table holds. */
	ck_assert_int_lt(200 + METRICS_MAX_PAIRS + extra, 599);
	for (int s = 0; s < METRICS_MAX_PAIRS + extra; s++)
		metrics_http("/r", 200 + s, 0.001);
	ck_assert_int_ge(METRICS_MAX_PAIRS, METRICS_MAX_ROUTES);
	for (int i = 0; i < METRICS_MAX_ROUTES + extra; i++) {
		snprintf(name, sizeof name, "/route/%d", i);
		metrics_http(name, 599, 0.001);
	}
	metrics_http("other", 42, 0.001);       /* bad status: 0 */

	char *text = render_parse(NULL, &e);
	int plugins = 0, pairs = 0, nroute = 0;
	for (int i = 0; i < e.ns; i++) {
		if (strcmp(e.s[i].name, "kiln_tasks_total") == 0 &&
		    strstr(e.s[i].labels, "state=\"succeeded\""))
			plugins++;
		if (strcmp(e.s[i].name, "kiln_http_requests_total") == 0)
			pairs++;
		if (strcmp(e.s[i].name, "kiln_http_request_duration_seconds_count") == 0)
			nroute++;
	}
	ck_assert_int_eq(plugins, METRICS_MAX_PLUGINS + 1);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"plugin-0\",state=\"succeeded\"", 2);
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"plugin-63\",state=\"succeeded\"", 2);
	ck_assert(isnan(val(&e, "kiln_tasks_total", "plugin=\"plugin-64\",state=\"succeeded\"")));
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"other\",state=\"succeeded\"", 2 * extra);
	/* The too-long name, "other", NULL, "" and (table full) the 95-char one. */
	ck_assert_val(&e, "kiln_tasks_total", "plugin=\"other\",state=\"failed\"", 5);
	ck_assert_val(&e, "kiln_task_duration_seconds_count", "plugin=\"other\"", 2 * extra + 5);

	/* A full table of "/r" pairs, then route="other": 10 statuses of
	 * "/r", 599 of the later routes and 0. */
	ck_assert_int_eq(pairs, METRICS_MAX_PAIRS + extra + 2);
	ck_assert_val(&e, "kiln_http_requests_total", "route=\"/r\",status=\"200\"", 1);
	snprintf(name, sizeof name, "route=\"/r\",status=\"%d\"", 200 + METRICS_MAX_PAIRS - 1);
	ck_assert_val(&e, "kiln_http_requests_total", name, 1);
	snprintf(name, sizeof name, "route=\"/r\",status=\"%d\"", 200 + METRICS_MAX_PAIRS);
	ck_assert(isnan(val(&e, "kiln_http_requests_total", name)));
	snprintf(name, sizeof name, "route=\"other\",status=\"%d\"", 200 + METRICS_MAX_PAIRS);
	ck_assert_val(&e, "kiln_http_requests_total", name, 1);
	/* The pair table is full, so even routes with a histogram of their
	 * own count their requests under route="other". */
	ck_assert_val(&e, "kiln_http_requests_total", "route=\"other\",status=\"599\"",
	              METRICS_MAX_ROUTES + extra);
	ck_assert_val(&e, "kiln_http_requests_total", "route=\"other\",status=\"0\"", 1);
	/* "/r" and 63 "/route/N" fill the route table; the rest is "other". */
	ck_assert_int_eq(nroute, METRICS_MAX_ROUTES + 1);
	ck_assert_val(&e, "kiln_http_request_duration_seconds_count", "route=\"/route/62\"", 1);
	ck_assert_val(&e, "kiln_http_request_duration_seconds_count", "route=\"other\"",
	              extra + 1 + 1);
	free(text);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * Many threads at once
 * --------------------------------------------------------------------- */

#define NTHREADS 8
#define NITER    12000          /* a multiple of 12: 4 plugins x 3 states */

static const char *const t_plugins[4] = { "noop", "sleep", "csvstats", "readfile" };
static const char *const t_routes[3] = {
	"/api/v1/jobs", "/api/v1/jobs/:id", "/api/v1/dags/:dag/runs"
};

static void *
writer(void *arg)
{
	(void)arg;
	for (int k = 0; k < NITER; k++) {
		metrics_task_done(t_plugins[k % 4], k % 3, 0.5, 0.002);
		metrics_http(t_routes[k % 3], k % 2 ? 404 : 200, 0.001);
		metrics_sqlite_write(0.001, 2);
		metrics_sched_loop(0.25);
		metrics_dag_run_done(k % 2);
	}
	return NULL;
}

struct scraper {
	int stop;               /* set after the writers are joined */
	int scrapes;
	char *err;              /* the first parse error */
};

static void *
scraper(void *arg)
{
	struct scraper *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST) || s->scrapes == 0) {
		struct expo e;
		char *err = NULL;
		char *text = metrics_render(NULL);
		if (expo_parse(text, &e, &err) != 0 && s->err == NULL)
			s->err = err;
		else
			free(err);
		expo_free(&e);
		free(text);
		s->scrapes++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t w[NTHREADS], r;
	struct scraper sc = { 0, 0, NULL };
	struct expo e;
	char labels[128];

	metrics_init();
	ck_assert_int_eq(pthread_create(&r, NULL, scraper, &sc), 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, writer, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&sc.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(r, NULL);
	if (sc.err != NULL)
		ck_abort_msg("a scrape during the writes did not parse: %s", sc.err);
	ck_assert_int_gt(sc.scrapes, 0);

	char *text = render_parse(NULL, &e);
	const double all = (double)NTHREADS * NITER;
	static const char *const states[3] = { "succeeded", "failed", "cancelled" };
	for (int p = 0; p < 4; p++) {
		for (int s = 0; s < 3; s++) {
			snprintf(labels, sizeof labels, "plugin=\"%s\",state=\"%s\"",
			         t_plugins[p], states[s]);
			ck_assert_val(&e, "kiln_tasks_total", labels, all / 12);
		}
		snprintf(labels, sizeof labels, "plugin=\"%s\"", t_plugins[p]);
		ck_assert_val(&e, "kiln_task_duration_seconds_count", labels, all / 4);
		ck_assert_val(&e, "kiln_task_duration_seconds_sum", labels, all / 4 * 0.5);
		ck_assert(val_le(&e, "kiln_task_duration_seconds_bucket", labels, "0.1") == 0);
		ck_assert(val_le(&e, "kiln_task_duration_seconds_bucket", labels, "0.5") == all / 4);
		ck_assert(val_le(&e, "kiln_task_queue_wait_seconds_bucket", labels, "0.001") == 0);
		ck_assert(val_le(&e, "kiln_task_queue_wait_seconds_bucket", labels, "0.005") == all / 4);
	}
	for (int rt = 0; rt < 3; rt++) {
		for (int st = 200; st <= 404; st += 204) {
			snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"",
			         t_routes[rt], st);
			ck_assert_val(&e, "kiln_http_requests_total", labels, all / 6);
		}
		snprintf(labels, sizeof labels, "route=\"%s\"", t_routes[rt]);
		ck_assert_val(&e, "kiln_http_request_duration_seconds_count", labels, all / 3);
	}
	ck_assert_val(&e, "kiln_sqlite_write_duration_seconds_count", "", all);
	ck_assert_val(&e, "kiln_sqlite_writes_total", "", 2 * all);
	ck_assert_val(&e, "kiln_scheduler_loop_duration_seconds_count", "", all);
	ck_assert_val(&e, "kiln_scheduler_loop_seconds_total", "", all * 0.25);
	ck_assert_val(&e, "kiln_dag_runs_total", "state=\"success\"", all / 2);
	ck_assert_val(&e, "kiln_dag_runs_total", "state=\"failed\"", all / 2);
	free(text);
	expo_free(&e);
}
END_TEST

/* ------------------------------------------------------------------------
 * promtool, when installed
 * --------------------------------------------------------------------- */

/* Exit status of `promtool check metrics < FILE` with TEXT in FILE. */
static int
promtool_check(const char *dir, const char *text, int show_errors)
{
	char path[512], cmd[1200];
	FILE *f;

	snprintf(path, sizeof path, "%s/metrics.txt", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s/out.txt' 2>&1",
	         path, dir);
	int rc = system(cmd);
	if (rc != 0 && show_errors) {
		snprintf(cmd, sizeof cmd, "cat '%s/out.txt' >&2", dir);
		if (system(cmd) != 0)
			rc = -1;
	}
	snprintf(cmd, sizeof cmd, "%s/out.txt", dir);
	unlink(cmd);
	unlink(path);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

START_TEST(test_promtool)
{
	if (system("command -v promtool > /dev/null 2>&1") != 0) {
		fprintf(stderr, "metrics-test: promtool not on PATH, skipped\n");
		return;
	}
	char dir[] = "/tmp/kiln-metrics-test.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct metrics_gauges g = { 2, 1, 8, 3, 4, 3, 1, 2, 5, 1, 99.5, "0.1 \"x\"",
		NULL, 0, NULL, 0, 0 };

	metrics_init();
	metrics_http("/api/v1/jobs", 200, 0.002);
	metrics_http("we\"ird\\\nroute", 500, 0.2);
	metrics_http("other", 404, 0.001);
	metrics_task_done("noop", METRICS_TASK_SUCCEEDED, 1.5, 0.01);
	metrics_sqlite_write(0.003, 4);
	metrics_sched_loop(0.02);
	metrics_dag_run_done(1);
	char *text = metrics_render(&g);
	int rc = promtool_check(dir, text, 1);
	free(text);
	ck_assert_msg(rc == 0, "promtool check metrics failed (%d)", rc);
	/* promtool does catch a broken text, so the check above means something. */
	ck_assert_int_ne(promtool_check(dir, "# TYPE kiln_x gauge\nkiln_x{a=\"b} 1\n", 0), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_parser_rejects, 0,
	                    (int)(sizeof bad_texts / sizeof bad_texts[0]));
	tcase_add_test(tc, test_parser_accepts);
	tcase_add_loop_test(tc, test_escape, 0, (int)(sizeof escapes / sizeof escapes[0]));
	tcase_add_test(tc, test_escape_rendered);
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_fast_buckets);
	tcase_add_test(tc, test_tasks_and_dag_runs);
	tcase_add_test(tc, test_gauges);
	tcase_add_test(tc, test_cardinality);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_promtool);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
