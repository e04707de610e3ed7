/* SPDX-License-Identifier: MIT */
/*
 * csv-fuzz.c - libFuzzer target: the CSV reader that the bundled plugins
 * share (lib/csv/csv.h), fed as csv_read_file() hands a file over (one
 * spare byte after the data), then what ingest does with it: each field
 * missing, a number or a category, and the columns written as a kcol
 * partition, which kcol_open() must read back unchanged.  csv_number()'s
 * fast path promises the bits strtod() gives; that is checked too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv/csv.h"
#include "kcol/kcol.h"
#include "fuzz.h"

#define MAX_CELLS 4096

static void
check_number(const char *v)
{
	double d, slow;
	if (!csv_number(v, &d))
		return;
	FZ_CHECK(isfinite(d));
	slow = strtod(v, NULL);
	FZ_CHECK(memcmp(&d, &slow, sizeof d) == 0);   /* bit for bit */
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Column I of the ROWS x NCOLS cells as a kcol column into *KC (arrays
 * malloc()ed into *NUM, *CODES, *LEVELS). */
static void
make_column(char **cells, size_t rows, size_t ncols, size_t i,
            struct kcol_column *kc, double **num, uint32_t **codes,
            const char ***levels)
{
	int numeric = 1;
	for (size_t r = 0; r < rows; r++) {
		const char *v = cells[r * ncols + i];
		double d;
		if (!csv_is_missing(v) && !csv_number(v, &d))
			numeric = 0;
	}
	kc->name = rows > 0 ? "c" : "";
	kc->type = numeric ? KCOL_NUMERIC : KCOL_CATEGORICAL;
	*num = calloc(rows + 1, sizeof **num);
	*codes = calloc(rows + 1, sizeof **codes);
	*levels = calloc(rows + 1, sizeof **levels);
	uint32_t nl = 0;
	for (size_t r = 0; r < rows; r++) {
		const char *v = cells[r * ncols + i];
		if (numeric && !csv_is_missing(v))
			csv_number(v, &(*num)[r]);
		else if (numeric)
			(*num)[r] = NAN;
		else if (!csv_is_missing(v))
			(*levels)[nl++] = v;
	}
	qsort(*levels, nl, sizeof **levels, cmp_str);
	uint32_t k = 0;
	for (uint32_t j = 0; j < nl; j++)
		if (k == 0 || strcmp((*levels)[k - 1], (*levels)[j]) != 0)
			(*levels)[k++] = (*levels)[j];
	for (size_t r = 0; r < rows && !numeric; r++) {
		const char *v = cells[r * ncols + i];
		const char **hit = csv_is_missing(v) ? NULL :
			bsearch(&v, *levels, k, sizeof **levels, cmp_str);
		(*codes)[r] = hit ? (uint32_t)(hit - *levels) : KCOL_MISSING;
	}
	kc->num = *num;
	kc->codes = *codes;
	kc->levels = *levels;
	kc->nlevels = k;
}

/* The cells as a partition, read back. */
static void
roundtrip(char **cells, size_t rows, size_t ncols)
{
	struct kcol_column *kc = calloc(ncols, sizeof *kc);
	double **num = calloc(ncols, sizeof *num);
	uint32_t **codes = calloc(ncols, sizeof *codes);
	const char ***levels = calloc(ncols, sizeof *levels);
	for (size_t i = 0; i < ncols; i++)
		make_column(cells, rows, ncols, i, &kc[i], &num[i], &codes[i],
		            &levels[i]);
	void *buf;
	size_t len;
	FZ_CHECK(kcol_write(kc, (uint32_t)ncols, rows, &buf, &len) == 0);
	struct kcol k;
	char err[256];
	FZ_CHECK(kcol_open(buf, len, &k, err, sizeof err) == 0);
	FZ_CHECK(k.ncols == ncols && k.nrows == rows);
	for (size_t i = 0; i < ncols; i++) {
		FZ_CHECK(kcol_type(&k, (uint32_t)i) == kc[i].type);
		if (kc[i].type == KCOL_NUMERIC) {
			FZ_CHECK(memcmp(kcol_numeric(&k, (uint32_t)i), num[i],
			                rows * 8) == 0);
			continue;
		}
		FZ_CHECK(kcol_nlevels(&k, (uint32_t)i) == kc[i].nlevels);
		for (uint32_t j = 0; j < kc[i].nlevels; j++) {
			size_t l;
			const char *p = kcol_level(&k, (uint32_t)i, j, &l);
			FZ_CHECK(l == strlen(levels[i][j]) &&
			         memcmp(p, levels[i][j], l) == 0);
		}
		FZ_CHECK(memcmp(kcol_codes(&k, (uint32_t)i), codes[i],
		                rows * 4) == 0);
	}
	kcol_close(&k);
	free(buf);
	for (size_t i = 0; i < ncols; i++) {
		free(num[i]);
		free(codes[i]);
		free(levels[i]);
	}
	free(kc);
	free(num);
	free(codes);
	free(levels);
}

/* Read BUF (LEN bytes and a spare one) as ingest does: a header, then
 * records of as many fields. */
static void
read_all(char *buf, size_t len, int keep_blank)
{
	struct csv c;
	size_t line = 0, last = 0, ncols = 0, rows = 0;
	char **cells = NULL;
	int rc;

	csv_init(&c, buf, len, "fuzz.csv");
	while ((rc = csv_record(&c, keep_blank, &line)) > 0) {
		FZ_CHECK(line > last && c.nfields >= 1);
		last = line;
		for (size_t i = 0; i < c.nfields; i++) {
			const char *f = c.fields[i];
			FZ_CHECK(f >= buf && f + strlen(f) <= buf + len);
			csv_is_missing(f);
			check_number(f);
		}
		if (ncols == 0) {
			ncols = c.nfields;      /* the header */
			cells = calloc(MAX_CELLS / ncols + 1,
			               ncols * sizeof *cells);
			continue;
		}
		if (c.nfields != ncols || (rows + 1) * ncols > MAX_CELLS)
			continue;               /* ingest refuses those */
		memcpy(cells + rows * ncols, c.fields, ncols * sizeof *cells);
		rows++;
	}
	FZ_CHECK(rc == 0 || c.err[0] != '\0');
	if (rc == 0 && ncols > 0)
		roundtrip(cells, rows, ncols);
	free(cells);
	free(c.fields);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	for (int keep_blank = 0; keep_blank < 2; keep_blank++) {
		/* What csv_read_file() returns: the bytes, then a NUL. */
		char *buf = fz_str(data, size);
		read_all(buf, size, keep_blank);
		free(buf);
	}
	return 0;
}
