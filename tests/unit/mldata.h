/* SPDX-License-Identifier: MIT */
/*
 * mldata.h - load a small numeric CSV (the examples' data sets) into
 * columns, for the analytics unit tests.  Header-only, test code only.
 *
 * Every column but LABEL_COL must be numeric.  The label column's values
 * become class codes in order of first appearance sorted by name (as
 * scikit-learn's LabelEncoder does: sorted distinct strings), or, when
 * LABEL_COL is -1, there are no labels.  Fails the test on a bad file.
 */
#ifndef KILN_TEST_MLDATA_H
#define KILN_TEST_MLDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mldata {
	size_t n, d;            /* rows, feature columns */
	double **cols;          /* d columns of n values (column-major) */
	char **names;           /* d feature names */
	int *y;                 /* n class codes, or NULL */
	char **classes;         /* nclasses names, sorted */
	int nclasses;
};

static int
mldata_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load PATH; LABEL_COL is the index of the label column or -1. */
static inline int
mldata_load(const char *path, int label_col, struct mldata *m)
{
	memset(m, 0, sizeof *m);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	size_t ncols = 0, rows_cap = 0;
	char **labels = NULL;
	if (getline(&line, &cap, f) < 0)
		goto fail;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *s = line, *tok; (tok = strsep(&s, ",")) != NULL; ncols++) {
		if ((int)ncols == label_col)
			continue;
		m->names = realloc(m->names, (m->d + 1) * sizeof *m->names);
		m->names[m->d++] = strdup(tok);
	}
	m->cols = calloc(m->d, sizeof *m->cols);
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		if (*line == '\0')
			continue;
		if (m->n == rows_cap) {
			rows_cap = rows_cap ? 2 * rows_cap : 256;
			for (size_t j = 0; j < m->d; j++)
				m->cols[j] = realloc(m->cols[j], rows_cap * sizeof(double));
			labels = realloc(labels, rows_cap * sizeof *labels);
		}
		size_t c = 0, j = 0;
		for (char *s = line, *tok; (tok = strsep(&s, ",")) != NULL; c++) {
			if ((int)c == label_col)
				labels[m->n] = strdup(tok);
			else if (j < m->d)
				m->cols[j++][m->n] = strtod(tok, NULL);
		}
		if (c != ncols)
			goto fail;
		m->n++;
	}
	if (label_col >= 0) {
		char **sorted = malloc(m->n * sizeof *sorted);
		memcpy(sorted, labels, m->n * sizeof *sorted);
		qsort(sorted, m->n, sizeof *sorted, mldata_cmp);
		m->classes = malloc(m->n * sizeof *m->classes);
		for (size_t i = 0; i < m->n; i++)
			if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
				m->classes[m->nclasses++] = strdup(sorted[i]);
		free(sorted);
		m->y = malloc(m->n * sizeof *m->y);
		for (size_t i = 0; i < m->n; i++) {
			char **hit = bsearch(&labels[i], m->classes, (size_t)m->nclasses,
			                     sizeof *m->classes, mldata_cmp);
			m->y[i] = (int)(hit - m->classes);
			free(labels[i]);
		}
	}
	free(labels);
	free(line);
	fclose(f);
	return 0;
fail:
	free(line);
	fclose(f);
	return -1;
}

static inline void
mldata_free(struct mldata *m)
{
	for (size_t j = 0; j < m->d; j++) {
		free(m->cols[j]);
		free(m->names[j]);
	}
	for (int k = 0; k < m->nclasses; k++)
		free(m->classes[k]);
	free(m->cols);
	free(m->names);
	free(m->classes);
	free(m->y);
	memset(m, 0, sizeof *m);
}

#endif
