/* SPDX-License-Identifier: MIT */
/*
 * textdiff.c - a line diff (see textdiff.h): the common head and tail are
 * set aside, the middle aligned by a longest common subsequence table
 * (bounded by TEXTDIFF_CELLS_MAX), and the edit script cut into hunks
 * with context as diff -u does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textdiff.h"
#include "xalloc.h"

struct td_lines {
	const char **s;          /* start of each line */
	size_t *len;             /* its length, without the '\n' */
	size_t n;
};

static void
td_split(const char *t, struct td_lines *l)
{
	size_t cap = 16;
	l->s = xmalloc(cap * sizeof *l->s);
	l->len = xmalloc(cap * sizeof *l->len);
	l->n = 0;
	while (*t != '\0') {
		const char *nl = strchr(t, '\n');
		size_t len = nl ? (size_t)(nl - t) : strlen(t);
		if (l->n == cap) {
			cap *= 2;
			l->s = xrealloc(l->s, cap * sizeof *l->s);
			l->len = xrealloc(l->len, cap * sizeof *l->len);
		}
		l->s[l->n] = t;
		l->len[l->n++] = len;
		t += len + (nl != NULL);
	}
}

static int
td_eq(const struct td_lines *a, size_t i, const struct td_lines *b, size_t j)
{
	return a->len[i] == b->len[j] &&
	       memcmp(a->s[i], b->s[j], a->len[i]) == 0;
}

/* One line of the edit script: ' ' both, '-' A's only, '+' B's only. */
struct td_edit {
	char op;
	size_t i, j;             /* line of A, of B (as far as it applies) */
};

/* The edit script of A[lo_a, hi_a) against B[lo_b, hi_b), appended to E. */
static void
td_middle(const struct td_lines *a, size_t lo_a, size_t hi_a,
          const struct td_lines *b, size_t lo_b, size_t hi_b,
          struct td_edit *e, size_t *ne)
{
	size_t n = hi_a - lo_a, m = hi_b - lo_b;
	if (n == 0 || m == 0 || (n + 1) > TEXTDIFF_CELLS_MAX / (m + 1)) {
		for (size_t i = lo_a; i < hi_a; i++)
			e[(*ne)++] = (struct td_edit){ '-', i, lo_b };
		for (size_t j = lo_b; j < hi_b; j++)
			e[(*ne)++] = (struct td_edit){ '+', hi_a, j };
		return;
	}
	/* L[i][j]: the LCS of A's lines from i and B's from j. */
	uint32_t *L = xcalloc((n + 1) * (m + 1), sizeof *L);
#define TD_L(i, j) L[(i) * (m + 1) + (j)]
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			TD_L(i, j) = td_eq(a, lo_a + i, b, lo_b + j) ?
			             TD_L(i + 1, j + 1) + 1 :
			             (TD_L(i + 1, j) >= TD_L(i, j + 1) ?
			              TD_L(i + 1, j) : TD_L(i, j + 1));
	size_t i = 0, j = 0;
	while (i < n || j < m) {
		if (i < n && j < m && td_eq(a, lo_a + i, b, lo_b + j)) {
			e[(*ne)++] = (struct td_edit){ ' ', lo_a + i, lo_b + j };
			i++, j++;
		} else if (j == m || (i < n && TD_L(i + 1, j) >= TD_L(i, j + 1))) {
			e[(*ne)++] = (struct td_edit){ '-', lo_a + i, lo_b + j };
			i++;
		} else {
			e[(*ne)++] = (struct td_edit){ '+', lo_a + i, lo_b + j };
			j++;
		}
	}
#undef TD_L
	free(L);
}

struct td_out {
	char *s;
	size_t len, cap;
};

static void
td_put(struct td_out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 256;
		o->s = xrealloc(o->s, o->cap);
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

/* Hunk E[from, to) with its "@@ -s,l +s,l @@" head. */
static void
td_hunk(struct td_out *o, const struct td_lines *a, const struct td_lines *b,
        const struct td_edit *e, size_t from, size_t to)
{
	size_t la = 0, lb = 0;
	for (size_t k = from; k < to; k++) {
		la += e[k].op != '+';
		lb += e[k].op != '-';
	}
	/* An empty side names the line before it, as diff -u does. */
	size_t sa = la ? e[from].i + 1 : e[from].i;
	size_t sb = lb ? e[from].j + 1 : e[from].j;
	char head[96];
	int n = snprintf(head, sizeof head, "@@ -%zu,%zu +%zu,%zu @@\n",
	                 sa, la, sb, lb);
	td_put(o, head, (size_t)n);
	for (size_t k = from; k < to; k++) {
		const struct td_lines *l = e[k].op == '+' ? b : a;
		size_t x = e[k].op == '+' ? e[k].j : e[k].i;
		td_put(o, &e[k].op, 1);
		td_put(o, l->s[x], l->len[x]);
		td_put(o, "\n", 1);
	}
}

char *
textdiff_unified(const char *a, const char *b, const char *la,
                 const char *lb, int ctx, struct textdiff_stats *stats)
{
	struct td_lines A, B;
	struct textdiff_stats st = { 0, 0, 0 };
	td_split(a ? a : "", &A);
	td_split(b ? b : "", &B);
	if (ctx < 0)
		ctx = 0;

	size_t head = 0, tail = 0;
	while (head < A.n && head < B.n && td_eq(&A, head, &B, head))
		head++;
	while (tail < A.n - head && tail < B.n - head &&
	       td_eq(&A, A.n - 1 - tail, &B, B.n - 1 - tail))
		tail++;
	struct td_edit *e = xmalloc((A.n + B.n + 1) * sizeof *e);
	size_t ne = 0;
	for (size_t k = 0; k < head; k++)
		e[ne++] = (struct td_edit){ ' ', k, k };
	td_middle(&A, head, A.n - tail, &B, head, B.n - tail, e, &ne);
	for (size_t k = tail; k > 0; k--)
		e[ne++] = (struct td_edit){ ' ', A.n - k, B.n - k };

	struct td_out o = { NULL, 0, 0 };
	td_put(&o, "", 0);
	for (size_t k = 0; k < ne;) {
		if (e[k].op == ' ') {
			k++;
			continue;
		}
		/* A hunk: this change, and the ones within 2 * ctx lines of
		 * the one before, with ctx lines either side. */
		size_t from = k > (size_t)ctx ? k - (size_t)ctx : 0, end = k;
		for (size_t q = k; q < ne; q++) {
			if (e[q].op != ' ') {
				end = q + 1;
				continue;
			}
			if (q - end >= 2 * (size_t)ctx)
				break;
		}
		size_t to = end + (size_t)ctx < ne ? end + (size_t)ctx : ne;
		if (st.hunks == 0) {
			td_put(&o, "--- ", 4);
			td_put(&o, la, strlen(la));
			td_put(&o, "\n+++ ", 5);
			td_put(&o, lb, strlen(lb));
			td_put(&o, "\n", 1);
		}
		for (size_t q = from; q < to; q++) {
			st.added += e[q].op == '+';
			st.removed += e[q].op == '-';
		}
		td_hunk(&o, &A, &B, e, from, to);
		st.hunks++;
		k = to;
	}
	free(e);
	free(A.s);
	free(A.len);
	free(B.s);
	free(B.len);
	if (stats != NULL)
		*stats = st;
	return o.s;
}
