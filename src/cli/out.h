/* SPDX-License-Identifier: MIT */
/*
 * out.h - how the client commands print: the master's JSON, aligned
 * tables, "key: value" listings, and times, durations and sizes in one
 * style (UTC "2026-11-24 08:01:02", "2m05s", "1.5GiB").
 */
#ifndef KILN_CLI_OUT_H
#define KILN_CLI_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* J indented, on stdout. */
void cli_print_json(const json_t *j);

/* Integer member KEY of O (0 if absent or null). */
int64_t cli_jint(const json_t *o, const char *key);
/* String member KEY of O if it is a non-empty string, else DFLT. */
const char *cli_jstr(const json_t *o, const char *key, const char *dflt);

/* Each formats into BUF and returns it (or a constant): */
const char *cli_fmt_time(int64_t ms, char buf[32]);    /* UTC, or "-" */
const char *cli_fmt_dur(int64_t ms, char buf[32]);     /* "15ms", "3h20m" */
const char *cli_fmt_size(int64_t bytes, char buf[32]); /* "512MiB" */
/* A number to sensible precision: integral values as integers, others
 * with four significant digits ("0.9883", "1.5e-09"), or one decimal
 * from 10000 on. */
const char *cli_fmt_num(double v, char buf[32]);
/* The time from START to END (0: still going, to now); "-" if never
 * started. */
const char *cli_fmt_span(int64_t start, int64_t end, char buf[32]);
/* An ISO 8601 time from the master as cli_fmt_time() shows it when it is
 * UTC, any other form as it is, NULL as "-". */
const char *cli_fmt_iso(const char *s, char buf[32]);

/*
 * A table printed with aligned columns, two spaces apart, the last column
 * unpadded; widths count UTF-8 characters.  Start one as
 * `struct cli_table t = { .ncol = 3 };`, add rows, then print it or free
 * it: either leaves it empty.
 */
struct cli_table {
	int ncol;
	size_t nrows;
	char **cells;           /* nrows * ncol, owned */
};

/* Add a row of t->ncol strings (NULL shows as "-"), copied. */
void cli_table_row(struct cli_table *t, ...);
/* The same with the row's t->ncol strings in an array. */
void cli_table_rowv(struct cli_table *t, const char *const *row);
/* Print the rows, each line after INDENT, and free them. */
void cli_table_print(struct cli_table *t, const char *indent);
void cli_table_free(struct cli_table *t);

/* Append S to the malloc()ed list *LIST with ", " between items. */
void cli_list_add(char **list, const char *s);

/* "KEY VALUE" with the values aligned at column WIDTH + 1; cli_kv with
 * the width of `kiln job`.  The _json forms print VALUE as compact JSON,
 * and nothing when it is absent or null. */
/* LEN bytes of S on F, control characters but newline and tab written as
 * \xNN: a job's log or a name from the master cannot drive the terminal
 * with escape sequences. */
void cli_write_text(FILE *f, const char *s, size_t len);
void cli_kvw(int width, const char *key, const char *value);
void cli_kv(const char *key, const char *value);
void cli_kvw_json(int width, const char *key, const json_t *v);
void cli_kv_json(const char *key, const json_t *v);

#endif
