/* SPDX-License-Identifier: MIT */
/*
 * ingest.h - what the two halves of the ingest plugin share: ingest.c
 * reads a CSV in one task; ingest_split.c splits a large one by byte
 * ranges over map tasks (docs/analytics.md) and gives the same bytes.
 * Internal to the plugin.
 */
#ifndef KILN_INGEST_H
#define KILN_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/plugin.h"
#include "csv/csv.h"
#include "sbuf/sbuf.h"

#define INGEST_MAX_COLUMNS 1000000
#define INGEST_MAX_PARTITIONS 1024

/* A distinct value of a categorical column: open addressing, keyed by the
 * string; `code` is its rank once the values are sorted. */
struct level {
	const char *value;      /* NULL: empty slot */
	uint32_t code;
};

struct column {
	const char *name;
	int type;               /* KCOL_NUMERIC, KCOL_CATEGORICAL, KCOL_TIME */
	size_t missing;
	double *num;            /* rows values, numeric or time */
	uint32_t *codes;        /* rows codes, categorical */
	const char **levels;    /* sorted distinct values, categorical */
	uint32_t nlevels;
	int whole_days;         /* a time column's unit: -1 from num, else
	                         * 1 (whole days) or 0, as the ranges said */
};

/* Where rows start: row ROW is on CSV line LINE (see the top). */
struct anchor {
	size_t row, line;
};

/* One run: the file's text, the reader over it, and what has been read.
 * The run owns everything here; ingest_free() releases it. */
struct ingest {
	kiln_task *task;
	const struct kiln_host *host;
	const char *fname;      /* the file's name, for messages */
	char *buf;              /* the whole file, parsed in place */
	size_t len;
	struct csv c;
	char **header;          /* ncols fields of the header row */
	struct column *cols;    /* ncols columns */
	char **cells;           /* rows x ncols fields, until encoded */
	size_t ncols, rows, rows_cap;
	int label_col;          /* -1: no label */
	const char *time_format;        /* or NULL */
	const char *time_columns;       /* or NULL: detect */
	const char *task_name;          /* the `task` parameter, or NULL */
	struct anchor *anchors; /* where rows start in the CSV */
	size_t nanchors, anchors_cap;
	size_t next_line;       /* where the next record starts if the last
	                         * one took one line */
};


uint64_t ingest_hash(const char *s);
int ingest_strcmp(const void *a, const void *b);
int ingest_oom(struct ingest *in);
void ingest_free(struct ingest *in);
int ingest_args(kiln_task *task, const struct kiln_host *host, int *nparts,
                const char **label);
int ingest_time_args(struct ingest *in);
int ingest_header(struct ingest *in, const char *label);
int ingest_rows(struct ingest *in);
size_t ingest_line(const struct ingest *in, size_t row);
int ingest_listed(const char *list, const char *name);
int ingest_time_value(const struct ingest *in, const char *v, int numeric,
                      double *t);
void ingest_schema(struct sbuf *b, const struct column *cols, size_t ncols,
                   size_t rows, int nparts, const char *label,
                   const char *source, const struct anchor *a, size_t na,
                   const char *task);
int ingest_partition(kiln_task *task, const struct kiln_host *host,
                     const struct column *cols, size_t ncols, size_t start,
                     size_t n, int p);

/* ingest_split.c: run() of a file to split (1: it is not: read it in one
 * task), and map() of the map tasks. */
int ingest_split_run(struct ingest *in, const char *label, int nparts);
int ingest_map(kiln_task *task, const struct kiln_host *host, const char *fn);

#endif
