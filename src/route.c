/* SPDX-License-Identifier: MIT */
/*
 * route.c - path patterns and their parameters (see route.h).  A path is
 * compared with a pattern segment by segment, without copying either;
 * only the parameters are copied out, each checked against its kind.
 */
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "auth.h"
#include "route.h"

enum kind { TEXT, NUMBER, SHA };

/* What a parameter called NAME (N bytes) accepts. */
static enum kind
kind_of(const char *name, size_t n)
{
	if ((n == 2 && memcmp(name, "id", 2) == 0) ||
	    (n == 5 && memcmp(name, "stage", 5) == 0))
		return NUMBER;
	if (n == 3 && memcmp(name, "sha", 3) == 0)
		return SHA;
	return TEXT;
}

/* S (N bytes) as a positive int64_t in canonical decimal; 0 on success. */
static int
parse_number(const char *s, size_t n, int64_t *v)
{
	int64_t x = 0;

	if (n == 0 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		int d = s[i] - '0';
		if (x > (INT64_MAX - d) / 10)
			return -1;   /* would overflow */
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* Match the path segment S (N bytes) against parameter NAME (NN bytes,
 * without the ':'); on success append it to M. */
static int
param_match(const char *name, size_t nn, const char *s, size_t n,
            struct route_params *m)
{
	if (n == 0 || n > ROUTE_TEXT_MAX || nn > ROUTE_NAME_MAX ||
	    m->n == ROUTE_PARAMS_MAX)
		return 0;
	struct route_param *p = &m->p[m->n];
	memcpy(p->name, name, nn);
	p->name[nn] = '\0';
	memcpy(p->text, s, n);
	p->text[n] = '\0';
	p->num = 0;
	switch (kind_of(name, nn)) {
	case NUMBER:
		if (parse_number(s, n, &p->num) != 0)
			return 0;
		break;
	case SHA:
		if (!hash_is_hex(p->text))
			return 0;
		break;
	case TEXT:
		break;
	}
	m->n++;
	return 1;
}

int
route_match(const char *pattern, const char *path, struct route_params *m)
{
	const char *t = pattern, *p = path;

	m->n = 0;
	while (*t == '/') {
		if (*p != '/')
			return 0;
		t++;
		p++;
		if (strcmp(t, "*") == 0)
			return 1;   /* the rest, whatever it is */
		const char *ts = t, *ps = p;
		t += strcspn(t, "/");
		p += strcspn(p, "/");
		size_t tn = (size_t)(t - ts), pn = (size_t)(p - ps);
		if (tn > 0 && ts[0] == ':') {
			if (!param_match(ts + 1, tn - 1, ps, pn, m))
				return 0;
		} else if (tn != pn || memcmp(ts, ps, pn) != 0) {
			return 0;
		}
	}
	return *t == '\0' && *p == '\0';
}

static const struct route_param *
find(const struct route_params *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->p[i].name, name) == 0)
			return &m->p[i];
	return NULL;
}

const char *
route_text(const struct route_params *m, const char *name)
{
	const struct route_param *p = find(m, name);
	return p != NULL ? p->text : "";
}

int64_t
route_num(const struct route_params *m, const char *name)
{
	const struct route_param *p = find(m, name);
	return p != NULL ? p->num : 0;
}
