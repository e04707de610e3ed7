/* SPDX-License-Identifier: MIT */
/*
 * kcol-fuzz.c - libFuzzer target: a kcol partition as kcol_open() reads it
 * (lib/kcol/kcol.h: a model plugin's input, which may be hostile), then
 * every accessor over every column, row and level it accepted, as a model
 * plugin reads them.  A partition it accepts is written again with
 * kcol_write() and must come out byte for byte the same (but for the
 * padding before data blocks, which the reader does not look at).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kcol/kcol.h"
#include "fuzz.h"

/* K's columns as kcol_write() takes them, and the bytes it writes; 0 if
 * the partition cannot be written (a name or level holding a NUL). */
static int
rewrite(const struct kcol *k, void **out, size_t *outlen)
{
	struct kcol_column *kc = calloc(k->ncols + 1, sizeof *kc);
	char **strs = NULL;
	size_t nstrs = 0;
	int ok = 1;

	for (uint32_t i = 0; i < k->ncols && ok; i++) {
		size_t nl;
		const char *name = kcol_name(k, i, &nl);
		uint32_t nlev = kcol_nlevels(k, i);
		strs = realloc(strs, (nstrs + 1 + nlev) * sizeof *strs);
		strs[nstrs] = strndup(name, nl);
		ok = strlen(strs[nstrs]) == nl;
		kc[i].name = strs[nstrs++];
		kc[i].type = kcol_type(k, i);
		kc[i].num = kcol_numeric(k, i);
		kc[i].codes = kcol_codes(k, i);
		kc[i].levels = (const char *const *)strs + nstrs;
		kc[i].nlevels = nlev;
		for (uint32_t j = 0; j < nlev; j++) {
			size_t ll;
			const char *l = kcol_level(k, i, j, &ll);
			strs[nstrs] = strndup(l, ll);
			ok = ok && strlen(strs[nstrs]) == ll;
			nstrs++;
		}
	}
	/* strs moved as it grew: point the levels at its final place. */
	for (size_t i = 0, at = 0; i < k->ncols && ok; i++) {
		at++;
		kc[i].levels = (const char *const *)strs + at;
		at += kc[i].nlevels;
	}
	if (ok)
		FZ_CHECK(kcol_write(kc, k->ncols, k->nrows, out, outlen) == 0);
	for (size_t i = 0; i < nstrs; i++)
		free(strs[i]);
	free(strs);
	free(kc);
	return ok;
}

/* A and B (LEN bytes, the partition K indexes in A) are the same but in
 * the gaps before K's data blocks, where B (the writer's) has zeros. */
static void
same_but_padding(const struct kcol *k, const char *a, const char *b,
                 size_t len)
{
	for (size_t p = 0; p < len; p++) {
		if (a[p] == b[p])
			continue;
		int gap = 0;
		for (uint32_t i = 0; i < k->ncols && !gap; i++) {
			size_t start = (size_t)((const char *)k->cols[i].data - a);
			gap = p < start && start - p < 8;
		}
		FZ_CHECK(gap && b[p] == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Model plugins hand it malloc()ed or mmap()ed buffers. */
	void *buf = malloc(size ? size : 1);
	struct kcol k;
	char err[256] = "";

	if (size > 0)
		memcpy(buf, data, size);
	if (kcol_open(buf, size, &k, err, sizeof err) != 0) {
		FZ_CHECK(err[0] != '\0');
		free(buf);
		return 0;
	}
	double sum = 0;
	size_t total = 0;
	for (uint32_t i = 0; i < k.ncols; i++) {
		size_t nl;
		const char *name = kcol_name(&k, i, &nl);
		FZ_CHECK((nl == 0 || (const char *)buf <= name) &&
		         name + nl <= (const char *)buf + size);
		const double *num = kcol_numeric(&k, i);
		const uint32_t *codes = kcol_codes(&k, i);
		FZ_CHECK((num == NULL) != (codes == NULL));
		for (uint64_t r = 0; r < k.nrows; r++) {
			if (num != NULL) {
				if (!isnan(num[r]))
					sum += num[r];
				continue;
			}
			if (codes[r] == KCOL_MISSING)
				continue;
			FZ_CHECK(codes[r] < kcol_nlevels(&k, i));
			size_t ll;
			kcol_level(&k, i, codes[r], &ll);
			total += ll;
		}
		for (uint32_t j = 0; j < kcol_nlevels(&k, i); j++) {
			size_t ll;
			const char *l = kcol_level(&k, i, j, &ll);
			FZ_CHECK(l >= (const char *)buf &&
			         l + ll <= (const char *)buf + size);
		}
	}
	(void)sum;
	(void)total;

	void *again = NULL;
	size_t alen = 0;
	if (rewrite(&k, &again, &alen)) {
		FZ_CHECK(alen == size);
		same_but_padding(&k, buf, again, size);
		free(again);
	}
	kcol_close(&k);
	free(buf);
	return 0;
}
