/* SPDX-License-Identifier: MIT */
/*
 * kcol.h - the kcol columnar format: one partition of a kiln dataset.
 *
 * The `ingest` plugin writes a CSV file as N kcol partitions, each an
 * output of its task, so that they reach downstream tasks as inputs
 * through the master's content-addressed artifact store.  Model plugins
 * include this header to read them.  Header-only (static inline
 * functions, libc only) so a plugin needs no extra library; thread-safe
 * (no global state).
 *
 * Byte layout (all integers little-endian, no implicit padding):
 *
 *   offset  size  field
 *   0       8     magic "KCOL1\0\0\0"
 *   8       4     u32 ncols
 *   12      8     u64 nrows
 *   20      ...   ncols column headers, one after the other:
 *                   u8  type      0 = numeric, 1 = categorical,
 *                                 2 = time (kdate.h: seconds since
 *                                 1970-01-01 UTC, stored as numeric)
 *                   u32 name_len, then name_len bytes of name (no NUL)
 *                   categorical only:
 *                     u32 nlevels, then per level: u32 len + len bytes
 *                     (levels sorted by bytes, ascending, distinct)
 *   then, per column in order, its data block, each starting at an offset
 *   (from the start of the buffer) that is a multiple of 8; the gap before
 *   a block is filled with zero bytes:
 *                   numeric,
 *                   time:        nrows IEEE-754 binary64; NaN = missing
 *                   categorical: nrows u32 codes, index into the levels;
 *                                0xFFFFFFFF (KCOL_MISSING) = missing
 *   The buffer ends right after the last block (nothing may follow).
 *
 * Writer: kcol_write() builds a whole partition in one malloc()ed buffer.
 * Reader: kcol_open() validates a buffer (which may be hostile: every
 * length and count is bounds-checked, every code checked against its
 * column's levels) and indexes it without copying; the accessors then
 * return pointers into the caller's buffer, which must outlive the
 * struct kcol and be 8-byte aligned (malloc() and mmap() buffers are).
 * Levels and names are not NUL-terminated: accessors return a length.
 */
#ifndef KILN_KCOL_H
#define KILN_KCOL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "kcol.h reads and writes data blocks in place: little-endian hosts only"
#endif

#define KCOL_MAGIC      "KCOL1\0\0\0"
#define KCOL_MAGIC_LEN  8
#define KCOL_HEADER_LEN 20      /* magic, ncols, nrows */
#define KCOL_MISSING    UINT32_C(0xFFFFFFFF)

enum kcol_type {
	KCOL_NUMERIC = 0,
	KCOL_CATEGORICAL = 1,
	KCOL_TIME = 2,          /* laid out as numeric */
};

/* ------------------------------------------------------------ writer */

/* One column to write.  For a numeric or time column `num` holds nrows
 * values; for a categorical one `codes` holds nrows codes (< nlevels or
 * KCOL_MISSING) and `levels` nlevels NUL-terminated strings, sorted and
 * distinct. */
struct kcol_column {
	const char *name;
	int type;
	const double *num;
	const uint32_t *codes;
	const char *const *levels;
	uint32_t nlevels;
};

static inline size_t
kcol_align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static inline void
kcol_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void
kcol_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* a += b, failing on overflow. */
static inline int
kcol_add(size_t *a, size_t b)
{
	if (*a > SIZE_MAX - b)
		return -1;
	*a += b;
	return 0;
}

/*
 * Encode NCOLS columns of NROWS rows as one kcol buffer.
 * OUT: *out (malloc()ed, the caller frees) and *outlen.
 * RET: 0, -EINVAL (bad type, a string longer than 4 GiB, a code out of
 * range), -EOVERFLOW (too big for size_t) or -ENOMEM.
 */
static inline int
kcol_write(const struct kcol_column *cols, uint32_t ncols, uint64_t nrows,
           void **out, size_t *outlen)
{
	size_t total = KCOL_HEADER_LEN;

	*out = NULL;
	*outlen = 0;
	if (nrows > SIZE_MAX / 8)
		return -EOVERFLOW;
	/* Size first, so the buffer is allocated once. */
	for (uint32_t i = 0; i < ncols; i++) {
		const struct kcol_column *c = &cols[i];
		size_t nlen = strlen(c->name);
		if (nlen > UINT32_MAX)
			return -EINVAL;
		if (kcol_add(&total, 5) < 0 || kcol_add(&total, nlen) < 0)
			return -EOVERFLOW;
		if (c->type == KCOL_NUMERIC || c->type == KCOL_TIME)
			continue;
		if (c->type != KCOL_CATEGORICAL)
			return -EINVAL;
		if (kcol_add(&total, 4) < 0)
			return -EOVERFLOW;
		for (uint32_t j = 0; j < c->nlevels; j++) {
			size_t llen = strlen(c->levels[j]);
			if (llen > UINT32_MAX)
				return -EINVAL;
			if (kcol_add(&total, 4) < 0 ||
			    kcol_add(&total, llen) < 0)
				return -EOVERFLOW;
		}
	}
	for (uint32_t i = 0; i < ncols; i++) {
		size_t w = cols[i].type == KCOL_CATEGORICAL ? 4 : 8;
		if (total > SIZE_MAX - 7)
			return -EOVERFLOW;
		total = kcol_align8(total);
		if (kcol_add(&total, (size_t)nrows * w) < 0)
			return -EOVERFLOW;
	}

	unsigned char *buf = calloc(1, total);  /* zeroes the padding */
	if (buf == NULL)
		return -ENOMEM;
	size_t off = 0;
	memcpy(buf, KCOL_MAGIC, KCOL_MAGIC_LEN);
	kcol_put32(buf + 8, ncols);
	kcol_put64(buf + 12, nrows);
	off = KCOL_HEADER_LEN;
	for (uint32_t i = 0; i < ncols; i++) {
		const struct kcol_column *c = &cols[i];
		size_t nlen = strlen(c->name);
		buf[off++] = (unsigned char)c->type;
		kcol_put32(buf + off, (uint32_t)nlen);
		memcpy(buf + off + 4, c->name, nlen);
		off += 4 + nlen;
		if (c->type != KCOL_CATEGORICAL)
			continue;
		kcol_put32(buf + off, c->nlevels);
		off += 4;
		for (uint32_t j = 0; j < c->nlevels; j++) {
			size_t llen = strlen(c->levels[j]);
			kcol_put32(buf + off, (uint32_t)llen);
			memcpy(buf + off + 4, c->levels[j], llen);
			off += 4 + llen;
		}
	}
	for (uint32_t i = 0; i < ncols; i++) {
		const struct kcol_column *c = &cols[i];
		off = kcol_align8(off);
		if (c->type != KCOL_CATEGORICAL) {
			if (nrows > 0)
				memcpy(buf + off, c->num, (size_t)nrows * 8);
			off += (size_t)nrows * 8;
			continue;
		}
		for (uint64_t r = 0; r < nrows; r++) {
			if (c->codes[r] >= c->nlevels &&
			    c->codes[r] != KCOL_MISSING) {
				free(buf);
				return -EINVAL;
			}
		}
		if (nrows > 0)
			memcpy(buf + off, c->codes, (size_t)nrows * 4);
		off += (size_t)nrows * 4;
	}
	*out = buf;
	*outlen = total;
	return 0;
}

/* ------------------------------------------------------------ reader */

struct kcol_col {
	const char *name;       /* into the buffer; name_len bytes */
	uint32_t name_len;
	int type;
	uint32_t nlevels;       /* 0 for numeric columns */
	size_t first_level;     /* index into kcol.level_ptr / level_len */
	const void *data;       /* nrows doubles or u32 codes */
};

/* A validated partition.  Everything points into the caller's buffer,
 * except the two index arrays that kcol_close() frees. */
struct kcol {
	uint32_t ncols;
	uint64_t nrows;
	struct kcol_col *cols;
	const char **level_ptr;
	uint32_t *level_len;
};

static inline uint32_t
kcol_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t
kcol_get64(const unsigned char *p)
{
	return (uint64_t)kcol_get32(p) | (uint64_t)kcol_get32(p + 4) << 32;
}

/* Walk the column headers from *OFF: with K == NULL only count levels
 * (into *nlev) and check bounds; otherwise also fill K's index.  Returns
 * 0 or -1 with ERR set. */
static inline int
kcol_scan_headers(const unsigned char *b, size_t len, size_t *off,
                  uint32_t ncols, struct kcol *k, size_t *nlev, char *err,
                  size_t errlen)
{
	size_t o = *off, lv = 0;
	for (uint32_t i = 0; i < ncols; i++) {
		if (len - o < 5) {
			snprintf(err, errlen, "kcol: column %u header "
			         "truncated", i);
			return -1;
		}
		unsigned type = b[o];
		uint32_t nlen = kcol_get32(b + o + 1);
		o += 5;
		if (type != KCOL_NUMERIC && type != KCOL_CATEGORICAL &&
		    type != KCOL_TIME) {
			snprintf(err, errlen, "kcol: column %u: bad type %u",
			         i, type);
			return -1;
		}
		if (nlen > len - o) {
			snprintf(err, errlen, "kcol: column %u: name length "
			         "%u past the end", i, nlen);
			return -1;
		}
		if (k != NULL) {
			k->cols[i].name = (const char *)b + o;
			k->cols[i].name_len = nlen;
			k->cols[i].type = (int)type;
			k->cols[i].nlevels = 0;
			k->cols[i].first_level = lv;
		}
		o += nlen;
		if (type != KCOL_CATEGORICAL)
			continue;
		if (len - o < 4) {
			snprintf(err, errlen, "kcol: column %u: level count "
			         "truncated", i);
			return -1;
		}
		uint32_t nl = kcol_get32(b + o);
		o += 4;
		/* Each level takes at least 4 bytes: this bounds the index
		 * the caller allocates by the buffer's size. */
		if (nl > (len - o) / 4) {
			snprintf(err, errlen, "kcol: column %u: %u levels "
			         "cannot fit", i, nl);
			return -1;
		}
		for (uint32_t j = 0; j < nl; j++) {
			if (len - o < 4) {
				snprintf(err, errlen, "kcol: column %u level "
				         "%u truncated", i, j);
				return -1;
			}
			uint32_t llen = kcol_get32(b + o);
			o += 4;
			if (llen > len - o) {
				snprintf(err, errlen, "kcol: column %u level "
				         "%u: length %u past the end", i, j,
				         llen);
				return -1;
			}
			if (k != NULL) {
				k->level_ptr[lv] = (const char *)b + o;
				k->level_len[lv] = llen;
			}
			o += llen;
			lv++;
		}
		if (k != NULL)
			k->cols[i].nlevels = nl;
	}
	*off = o;
	*nlev = lv;
	return 0;
}

static inline void
kcol_close(struct kcol *k)
{
	free(k->cols);
	free(k->level_ptr);
	free(k->level_len);
	memset(k, 0, sizeof *k);
}

/*
 * Validate BUF (LEN bytes, 8-byte aligned) as a kcol partition and index
 * it into *OUT without copying the data.
 * RET: 0, or -1 with a message in ERR (ERRLEN bytes) and *OUT zeroed.
 * Call kcol_close(OUT) after a success; BUF must outlive *OUT.
 */
static inline int
kcol_open(const void *buf, size_t len, struct kcol *out, char *err,
          size_t errlen)
{
	const unsigned char *b = buf;
	size_t off = KCOL_HEADER_LEN, nlev = 0;

	memset(out, 0, sizeof *out);
	if (b == NULL || len < KCOL_HEADER_LEN) {
		snprintf(err, errlen, "kcol: %zu bytes: too short", len);
		return -1;
	}
	if (memcmp(b, KCOL_MAGIC, KCOL_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "kcol: bad magic (not a kcol file)");
		return -1;
	}
	if (((uintptr_t)b & 7) != 0) {
		snprintf(err, errlen, "kcol: buffer not 8-byte aligned");
		return -1;
	}
	uint32_t ncols = kcol_get32(b + 8);
	uint64_t nrows = kcol_get64(b + 12);
	/* Columns bound the rows by the buffer's size below; without any,
	 * only this does: no more than kcol_write() writes, so that a
	 * reader's nrows * 8 cannot overflow. */
	if (ncols == 0 && nrows > SIZE_MAX / 8) {
		snprintf(err, errlen, "kcol: %llu rows: too many",
		         (unsigned long long)nrows);
		return -1;
	}
	if (ncols > (len - off) / 5) {  /* a column header is >= 5 bytes */
		snprintf(err, errlen, "kcol: %u columns cannot fit in %zu "
		         "bytes", ncols, len);
		return -1;
	}
	if (kcol_scan_headers(b, len, &off, ncols, NULL, &nlev, err,
	                      errlen) < 0)
		return -1;

	struct kcol k = { .ncols = ncols, .nrows = nrows };
	k.cols = calloc(ncols ? ncols : 1, sizeof *k.cols);
	k.level_ptr = calloc(nlev ? nlev : 1, sizeof *k.level_ptr);
	k.level_len = calloc(nlev ? nlev : 1, sizeof *k.level_len);
	if (k.cols == NULL || k.level_ptr == NULL || k.level_len == NULL) {
		kcol_close(&k);
		snprintf(err, errlen, "kcol: out of memory");
		return -1;
	}
	off = KCOL_HEADER_LEN;
	kcol_scan_headers(b, len, &off, ncols, &k, &nlev, err, errlen);

	for (uint32_t i = 0; i < ncols; i++) {
		struct kcol_col *c = &k.cols[i];
		uint64_t w = c->type == KCOL_CATEGORICAL ? 4 : 8;
		size_t start = kcol_align8(off);   /* off <= len: no overflow */
		if (start > len || nrows > (len - start) / w) {
			snprintf(err, errlen, "kcol: column %u: %llu rows "
			         "past the end", i, (unsigned long long)nrows);
			kcol_close(&k);
			return -1;
		}
		c->data = b + start;
		off = start + (size_t)(nrows * w);
		if (c->type != KCOL_CATEGORICAL)
			continue;
		/* Checked once here so that readers may index levels
		 * with any code that is not KCOL_MISSING. */
		const uint32_t *codes = c->data;
		for (uint64_t r = 0; r < nrows; r++) {
			if (codes[r] >= c->nlevels && codes[r] != KCOL_MISSING) {
				snprintf(err, errlen, "kcol: column %u row "
				         "%llu: code %u out of %u levels", i,
				         (unsigned long long)r, codes[r],
				         c->nlevels);
				kcol_close(&k);
				return -1;
			}
		}
	}
	if (off != len) {
		snprintf(err, errlen, "kcol: %zu trailing bytes", len - off);
		kcol_close(&k);
		return -1;
	}
	*out = k;
	return 0;
}

/* Accessors; I must be < k->ncols.  Pointers are into the buffer. */

static inline const char *
kcol_name(const struct kcol *k, uint32_t i, size_t *len)
{
	*len = k->cols[i].name_len;
	return k->cols[i].name;
}

static inline int
kcol_type(const struct kcol *k, uint32_t i)
{
	return k->cols[i].type;
}

/* The column's nrows values, or NULL if it is categorical (a time
 * column's values are its times, see KCOL_TIME). */
static inline const double *
kcol_numeric(const struct kcol *k, uint32_t i)
{
	return k->cols[i].type != KCOL_CATEGORICAL ? k->cols[i].data : NULL;
}

/* The column's nrows codes, or NULL if it is not categorical. */
static inline const uint32_t *
kcol_codes(const struct kcol *k, uint32_t i)
{
	return k->cols[i].type == KCOL_CATEGORICAL ? k->cols[i].data : NULL;
}

static inline uint32_t
kcol_nlevels(const struct kcol *k, uint32_t i)
{
	return k->cols[i].nlevels;
}

/* Level J (< kcol_nlevels(k, i)) of column I. */
static inline const char *
kcol_level(const struct kcol *k, uint32_t i, uint32_t j, size_t *len)
{
	size_t x = k->cols[i].first_level + j;
	*len = k->level_len[x];
	return k->level_ptr[x];
}

#endif /* KILN_KCOL_H */
