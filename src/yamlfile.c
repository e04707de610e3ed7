/* SPDX-License-Identifier: MIT */
/*
 * yamlfile.c - a YAML file with positions (see yamlfile.h).
 *
 * config.c and dag.c both read a whole file into a libyaml document and
 * walk it with key tables; what they have in common lives here, so that
 * both report positions, typos and bad values in the same words.  What a
 * key means stays with the caller: this file knows nodes, not schemas.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "xalloc.h"
#include "yamlfile.h"

/* ---------------------------------------------------------------- errors */

int
yamlfile_err(const struct yamlfile *y, const yaml_node_t *n,
             const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* libyaml marks are 0-based; editors count from 1. */
	int rc = err_set(y->err, -EINVAL, "%s:%zu:%zu: %s", y->path,
	                n->start_mark.line + 1, n->start_mark.column + 1, msg);
	free(msg);
	return rc;
}

/* Byte I of the input, or EOF; a file is read on from where it stands. */
static int
yf_byte(const struct yamlfile *y, size_t i)
{
	if (y->f != NULL)
		return getc(y->f);
	return i < y->len ? (unsigned char)y->buf[i] : EOF;
}

static int
yf_syntax_error(const struct yamlfile *y, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		return err_set(y->err, -ENOMEM, "%s: out of memory", y->path);
	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset; count lines and
		 * characters up to it the way libyaml's marks do. */
		size_t line = 1, col = 1;
		if (y->f == NULL || fseek(y->f, 0, SEEK_SET) == 0) {
			for (size_t i = 0; i < p->problem_offset; i++) {
				int ch = yf_byte(y, i);
				if (ch == EOF)
					break;
				if (ch == '\n') {
					line++;
					col = 1;
				} else if ((ch & 0xc0) != 0x80) {
					col++;
				}
			}
		}
		return err_set(y->err, -EINVAL, "%s:%zu:%zu: cannot read: %s",
		              y->path, line, col,
		              p->problem ? p->problem : "error");
	}
	if (p->context != NULL)
		return err_set(y->err, -EINVAL, "%s:%zu:%zu: syntax error: %s "
		              "(%s on line %zu)", y->path,
		              p->problem_mark.line + 1,
		              p->problem_mark.column + 1,
		              p->problem ? p->problem : "error", p->context,
		              p->context_mark.line + 1);
	return err_set(y->err, -EINVAL, "%s:%zu:%zu: syntax error: %s",
	              y->path, p->problem_mark.line + 1,
	              p->problem_mark.column + 1,
	              p->problem ? p->problem : "error");
}

/* ---------------------------------------------------------------- loading */

/* Parse the first document into Y->doc and make sure nothing follows. */
static int
yf_load(struct yamlfile *y)
{
	yaml_parser_t p;
	yaml_document_t next;
	int rc = 0;

	y->loaded = 0;
	if (!yaml_parser_initialize(&p))
		return err_set(y->err, -ENOMEM, "%s: out of memory", y->path);
	if (y->f != NULL)
		yaml_parser_set_input_file(&p, y->f);
	else
		yaml_parser_set_input_string(&p, (const unsigned char *)y->buf,
		                             y->len);
	if (!yaml_parser_load(&p, &y->doc)) {
		rc = yf_syntax_error(y, &p);
	} else if (!yaml_parser_load(&p, &next)) {
		yaml_document_delete(&y->doc);
		rc = yf_syntax_error(y, &p);
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&next);
		if (root != NULL) {
			rc = yamlfile_err(y, root, "only one YAML document "
			                  "is allowed");
			yaml_document_delete(&y->doc);
		}
		yaml_document_delete(&next);
	}
	yaml_parser_delete(&p);
	y->loaded = rc == 0;
	return rc;
}

int
yamlfile_load_file(struct yamlfile *y, FILE *f)
{
	y->f = f;
	y->buf = NULL;
	y->len = 0;
	return yf_load(y);
}

int
yamlfile_load_string(struct yamlfile *y, const char *buf, size_t len)
{
	y->f = NULL;
	y->buf = buf;
	y->len = len;
	return yf_load(y);
}

void
yamlfile_close(struct yamlfile *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = 0;
}

yaml_node_t *
yamlfile_root(struct yamlfile *y)
{
	return yaml_document_get_root_node(&y->doc);
}

yaml_node_t *
yamlfile_node(struct yamlfile *y, int i)
{
	return yaml_document_get_node(&y->doc, i);
}

/* ---------------------------------------------------------------- nodes */

const char *
yamlfile_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:  return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default:                 return "a scalar";
	}
}

const char *
yamlfile_str(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

int
yamlfile_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *s = yamlfile_str(n);
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* ------------------------------------------------------------ suggestions */

/* Edit distance counting a swap of neighbours as one edit ("prot" is one
 * typo away from "port"), for "did you mean"; long strings never match. */
static size_t
yf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[65][65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && d[i - 2][j - 2] + 1 < best &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    cb == tolower((unsigned char)a[i - 2]))
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The closest to S of N names, each at the start of a SIZE-byte entry
 * from BASE.  A suggestion must keep at least one character: "c" is one
 * edit from "a", but not a typo of it. */
static const char *
yf_suggest(const char *s, const void *base, size_t size, size_t n)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)(const void *)
		                   ((const char *)base + i * size);
		size_t d = yf_distance(s, name);
		size_t limit = strlen(name) >= 5 ? 2 : 1;
		size_t longer = strlen(s) > strlen(name) ? strlen(s)
		                                         : strlen(name);
		if (d <= limit && d < bestd && d < longer) {
			best = name;
			bestd = d;
		}
	}
	return best;
}

const char *
yamlfile_suggest(const char *s, const char *const *names, size_t n)
{
	return yf_suggest(s, names, sizeof *names, n);
}

/* ---------------------------------------------------------------- mappings */

int
yamlfile_map(struct yamlfile *y, yaml_node_t *map, const char *where,
             const void *keys, size_t size, size_t nkeys,
             const char *const *deny, yaml_node_t **found,
             int (*each)(void *ud, size_t i, yaml_node_t *v), void *ud)
{
	for (size_t i = 0; i < nkeys; i++)
		found[i] = NULL;
	if (yamlfile_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return yamlfile_err(y, map, "'%s' must be a mapping, not %s",
		                    where, yamlfile_kind(map));
	const char *in = where ? "in " : "at the top level";
	if (where == NULL)
		where = "";

	yaml_node_pair_t *first = map->data.mapping.pairs.start;
	for (yaml_node_pair_t *p = first; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yamlfile_node(y, p->key);
		if (k->type != YAML_SCALAR_NODE)
			return yamlfile_err(y, k, "keys must be plain words, "
			                    "not %s", yamlfile_kind(k));
		const char *name = yamlfile_str(k);

		/* libyaml keeps duplicates; a later one silently winning
		 * would hide a mistake. */
		for (yaml_node_pair_t *q = first; q < p; q++) {
			yaml_node_t *qk = yamlfile_node(y, q->key);
			if (qk->type == YAML_SCALAR_NODE &&
			    strcmp(yamlfile_str(qk), name) == 0)
				return yamlfile_err(y, k, "duplicate key '%s' "
				                    "%s%s (first on line %zu)",
				                    name, in, where,
				                    qk->start_mark.line + 1);
		}
		for (size_t i = 0; deny != NULL && deny[i] != NULL; i++)
			if (strcmp(deny[i], name) == 0)
				return yamlfile_err(y, k, "'%s' cannot be set "
				                    "%s%s", name, in, where);

		size_t i;
		for (i = 0; i < nkeys; i++)
			if (strcmp(*(const char *const *)(const void *)
			           ((const char *)keys + i * size), name) == 0)
				break;
		if (i == nkeys) {
			const char *hint = yf_suggest(name, keys, size, nkeys);
			return yamlfile_err(y, k, "unknown key '%s' %s%s%s%s%s",
			                    name, in, where,
			                    hint ? " (did you mean '" : "",
			                    hint ? hint : "",
			                    hint ? "'?)" : "");
		}
		found[i] = yamlfile_node(y, p->value);
		if (each != NULL) {
			int rc = each(ud, i, found[i]);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- values */

int
yamlfile_scalar(struct yamlfile *y, const char *name, yaml_node_t *v,
                const char **s)
{
	if (v->type != YAML_SCALAR_NODE)
		return yamlfile_err(y, v, "'%s' expects a single value, not %s",
		                    name, yamlfile_kind(v));
	if (yamlfile_null(v))
		return yamlfile_err(y, v, "'%s' needs a value", name);
	*s = yamlfile_str(v);
	return 0;
}

int
yamlfile_string(struct yamlfile *y, const char *name, yaml_node_t *v,
                const char **s)
{
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, s)) < 0)
		return rc;
	if (**s == '\0')
		return yamlfile_err(y, v, "'%s' must not be empty", name);
	return 0;
}

int
yamlfile_name(struct yamlfile *y, const char *name, yaml_node_t *v,
              int max, const char **s)
{
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, s)) < 0)
		return rc;
	size_t n = strlen(*s);
	if (n == 0 || n > (size_t)max ||
	    strspn(*s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	               "0123456789_.-") != n)
		return yamlfile_err(y, v, "'%s' must be 1 to %d characters "
		                    "from A-Z a-z 0-9 _ . -, got '%s'", name,
		                    max, *s);
	return 0;
}

int
yamlfile_parse_int(const char *s, int64_t *v)
{
	int neg = *s == '-';
	int64_t n = 0;

	s += neg || *s == '+';
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		int d = *s - '0';
		if (n > (INT64_MAX - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	if (*s != '\0')
		return -EINVAL;
	*v = neg ? -n : n;
	return 0;
}

/* Decimal digits at *S into *V, advancing *S.  -EINVAL without a digit,
 * -ERANGE past INT64_MAX. */
static int
yf_digits(const char **s, int64_t *v)
{
	const char *p = *s;
	int64_t n = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';
		if (n > (INT64_MAX - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	*s = p;
	*v = n;
	return 0;
}

static int
yf_scale(int64_t n, int64_t unit, int64_t *out)
{
	if (n > INT64_MAX / unit)
		return -ERANGE;
	*out = n * unit;
	return 0;
}

/*
 * Durations: an integer followed by ms, s, m, h or d (blanks allowed in
 * between); a bare number means seconds.  Units are lower case only, so
 * that "M" is never mistaken for minutes or months.
 */
int
yamlfile_parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	int64_t n;
	int rc;

	if (s == NULL)
		return -EINVAL;
	if ((rc = yf_digits(&s, &n)) < 0)
		return rc;
	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(s, units[i].unit) == 0)
			return yf_scale(n, units[i].ms, ms);
	return -EINVAL;
}

/*
 * Sizes: an integer, optionally followed (blanks allowed) by B, K/KB/KiB,
 * M/MB/MiB, G/GB/GiB or T/TB/TiB, in any case.  All multiples are powers of
 * 1024, the decimal-looking spellings too: memory is sized in binary units
 * and nobody means 8000000 bytes by "8MB" in a config file.
 */
int
yamlfile_parse_size(const char *s, int64_t *bytes)
{
	static const struct { const char *unit; int shift; } units[] = {
		{ "", 0 }, { "b", 0 },
		{ "k", 10 }, { "kb", 10 }, { "kib", 10 },
		{ "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 },
		{ "t", 40 }, { "tb", 40 }, { "tib", 40 },
	};
	int64_t n;
	int rc;

	if (s == NULL)
		return -EINVAL;
	if ((rc = yf_digits(&s, &n)) < 0)
		return rc;
	while (*s == ' ' || *s == '\t')
		s++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcasecmp(s, units[i].unit) == 0)
			return yf_scale(n, (int64_t)1 << units[i].shift,
			                 bytes);
	return -EINVAL;
}

int
yamlfile_int(struct yamlfile *y, const char *name, yaml_node_t *v,
             int64_t min, int64_t max, int plus, int64_t *out)
{
	const char *s = NULL;
	int64_t n = 0;
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, &s)) < 0)
		return rc;
	rc = !plus && *s == '+' ? -EINVAL : yamlfile_parse_int(s, &n);
	if (rc == -EINVAL)
		return yamlfile_err(y, v, "'%s' must be an integer from %lld "
		                    "to %lld, got '%s'", name, (long long)min,
		                    (long long)max, s);
	if (rc < 0 || n < min || n > max)
		return yamlfile_err(y, v, "'%s' must be from %lld to %lld, "
		                    "got %s", name, (long long)min,
		                    (long long)max, s);
	*out = n;
	return 0;
}

int
yamlfile_size(struct yamlfile *y, const char *name, yaml_node_t *v,
              int64_t min, int64_t max, int64_t *out)
{
	const char *s = NULL;
	int64_t n = 0;
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, &s)) < 0)
		return rc;
	rc = yamlfile_parse_size(s, &n);
	if (rc == -EINVAL)
		return yamlfile_err(y, v, "'%s' is not a size (like 512MiB or "
		                    "2GiB): '%s'", name, s);
	if (rc < 0 || n < min || n > max)
		return yamlfile_err(y, v, "'%s' must be from %lld to %lld "
		                    "bytes, got %s", name, (long long)min,
		                    (long long)max, s);
	*out = n;
	return 0;
}

int
yamlfile_duration(struct yamlfile *y, const char *name, yaml_node_t *v,
                  int64_t min, int64_t max, const char *like, int64_t *out)
{
	const char *s = NULL;
	int64_t n = 0;
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, &s)) < 0)
		return rc;
	rc = yamlfile_parse_duration_ms(s, &n);
	if (rc == -EINVAL)
		return yamlfile_err(y, v, "'%s' is not a duration (like %s): "
		                    "'%s'", name, like, s);
	if (rc < 0 || n < min || n > max)
		return yamlfile_err(y, v, "'%s' must be from %lldms to %lldms, "
		                    "got %s", name, (long long)min,
		                    (long long)max, s);
	*out = n;
	return 0;
}

int
yamlfile_bool(struct yamlfile *y, const char *name, yaml_node_t *v,
              int *out)
{
	const char *s = NULL;
	int rc;

	if ((rc = yamlfile_scalar(y, name, v, &s)) < 0)
		return rc;
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
		*out = 0;
	else
		return yamlfile_err(y, v, "'%s' must be true or false, got "
		                    "'%s'", name, s);
	return 0;
}

/* ---------------------------------------------------------------- key
 * tables */

/* Replace the string at DST with a copy of S (NULL stays NULL). */
static void
yf_set_str(void *dst, const char *s)
{
	free(*(char **)dst);
	*(char **)dst = s != NULL ? xstrdup(s) : NULL;
}

int
yamlfile_set(struct yamlfile *y, const struct yamlfile_key *k,
             yaml_node_t *v, void *base)
{
	void *dst = (char *)base + k->off;
	const char *s = NULL;
	int64_t n;
	int rc;

	switch (k->type) {
	case YF_STR:
		if ((rc = yamlfile_string(y, k->name, v, &s)) == 0)
			yf_set_str(dst, s);
		return rc;
	case YF_TEXT:
		if (v->type != YAML_SCALAR_NODE)
			return yamlfile_err(y, v, "'%s' expects a single value, "
			                    "not %s", k->name, yamlfile_kind(v));
		yf_set_str(dst, yamlfile_null(v) ? NULL : yamlfile_str(v));
		return 0;
	case YF_NAME:
		if ((rc = yamlfile_name(y, k->name, v, y->name_max, &s)) == 0)
			yf_set_str(dst, s);
		return rc;
	case YF_INT:
		rc = yamlfile_int(y, k->name, v, k->min, k->max, y->int_plus,
		                  &n);
		if (rc == 0)
			*(int *)dst = (int)n;
		return rc;
	case YF_SIZE:
		return yamlfile_size(y, k->name, v, k->min, k->max,
		                     (int64_t *)dst);
	case YF_DURATION:
		return yamlfile_duration(y, k->name, v, k->min, k->max,
		                         y->like, (int64_t *)dst);
	case YF_DURATION_INT:
		rc = yamlfile_duration(y, k->name, v, k->min, k->max, y->like,
		                       &n);
		if (rc == 0)
			*(int *)dst = (int)n;
		return rc;
	case YF_BOOL:
		return yamlfile_bool(y, k->name, v, (int *)dst);
	case YF_OWN:
		return k->own != NULL ? k->own(y->ud, k, v, base) : 0;
	}
	return 0;
}

int
yamlfile_set_found(struct yamlfile *y, const struct yamlfile_key *keys,
                   size_t nkeys, yaml_node_t **found, void *base)
{
	for (size_t i = 0; i < nkeys; i++) {
		if (found[i] == NULL)
			continue;
		int rc = yamlfile_set(y, &keys[i], found[i], base);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct yf_walk {
	struct yamlfile *y;
	const struct yamlfile_key *keys;
	void *base;
};

static int
yf_walk_one(void *ud, size_t i, yaml_node_t *v)
{
	struct yf_walk *w = ud;
	return yamlfile_set(w->y, &w->keys[i], v, w->base);
}

int
yamlfile_walk(struct yamlfile *y, yaml_node_t *map, const char *where,
              const struct yamlfile_key *keys, size_t nkeys, void *base,
              yaml_node_t **found)
{
	struct yf_walk w = { y, keys, base };

	return yamlfile_map(y, map, where, keys, sizeof *keys, nkeys, NULL,
	                    found, yf_walk_one, &w);
}
