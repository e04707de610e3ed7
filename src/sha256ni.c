/* SPDX-License-Identifier: MIT */
/*
 * sha256ni.c - SHA-256 (FIPS 180-4) with the x86 SHA extensions; see
 * sha256ni.h.  The rounds follow Intel's "Intel SHA Extensions" paper
 * (2013): the state held as ABEF/CDGH, two rounds per sha256rnds2, the
 * message schedule by sha256msg1/sha256msg2.  Only the block function
 * needs the instructions; padding is plain C.
 */
#include <string.h>

#include "sha256ni.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3")))
static void
sha_blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	                                     0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);             /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1B);               /* EFGH */
	__m128i s0 = _mm_alignr_epi8(tmp, s1, 8);       /* ABEF */
	s1 = _mm_blend_epi16(s1, tmp, 0xF0);            /* CDGH */

	for (; n > 0; n--, p += 64) {
		__m128i abef = s0, cdgh = s1, w[4];
		for (int i = 0; i < 4; i++)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)
			                        (p + 16 * i)), bswap);
		for (int g = 0; g < 16; g++) {
			__m128i cur = w[g & 3];
			__m128i m = _mm_add_epi32(cur, _mm_loadu_si128(
			                          (const __m128i *)&sha_k[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, m);
			s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
			if (g < 12) {
				/* w[g+4] from w[g..g+3]: the next four words. */
				__m128i x = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
				x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) & 3],
				                                     w[(g + 2) & 3], 4));
				w[g & 3] = _mm_sha256msg2_epu32(x, w[(g + 3) & 3]);
			}
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	tmp = _mm_shuffle_epi32(s0, 0x1B);              /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);               /* DCHG */
	s0 = _mm_blend_epi16(tmp, s1, 0xF0);            /* DCBA */
	s1 = _mm_alignr_epi8(s1, tmp, 8);               /* HGFE */
	_mm_storeu_si128((__m128i *)&state[0], s0);
	_mm_storeu_si128((__m128i *)&state[4], s1);
}

int
sha256ni_usable(void)
{
	/* CPUID directly: not every compiler's __builtin_cpu_supports()
	 * knows "sha".  Leaf 1 ECX: SSSE3 (bit 9), SSE4.1 (bit 19); leaf 7
	 * EBX: SHA (bit 29). */
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) ||
	    !(c & (1u << 19)))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
}
#else
static void
sha_blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	(void)state;
	(void)p;
	(void)n;
}

int
sha256ni_usable(void)
{
	return 0;
}
#endif

void
sha256ni_init(struct sha256ni *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	memcpy(c->state, iv, sizeof iv);
	c->nbuf = 0;
	c->total = 0;
}

void
sha256ni_add(struct sha256ni *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	c->total += len;
	if (c->nbuf > 0) {
		size_t take = 64 - c->nbuf < len ? 64 - c->nbuf : len;
		memcpy(c->buf + c->nbuf, p, take);
		c->nbuf += take;
		p += take;
		len -= take;
		if (c->nbuf < 64)
			return;
		sha_blocks(c->state, c->buf, 1);
		c->nbuf = 0;
	}
	if (len >= 64) {
		sha_blocks(c->state, p, len / 64);
		p += len / 64 * 64;
		len %= 64;
	}
	memcpy(c->buf, p, len);
	c->nbuf = len;
}

void
sha256ni_final(struct sha256ni *c, unsigned char digest[32])
{
	uint64_t bits = c->total * 8;
	unsigned char pad[72] = { 0x80 };
	size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
	for (int i = 0; i < 8; i++)
		pad[npad + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	uint64_t total = c->total;
	sha256ni_add(c, pad, npad + 8);
	c->total = total;
	for (int i = 0; i < 8; i++) {
		digest[4 * i] = (unsigned char)(c->state[i] >> 24);
		digest[4 * i + 1] = (unsigned char)(c->state[i] >> 16);
		digest[4 * i + 2] = (unsigned char)(c->state[i] >> 8);
		digest[4 * i + 3] = (unsigned char)c->state[i];
	}
}
