/* SPDX-License-Identifier: MIT */
/*
 * ml_rng.h - the analytics library's only source of randomness.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64.  Header-only
 * and tiny so that every helper of lib/ml can use it without linking
 * anything.  Results must be reproducible on any machine and whatever the
 * number of workers, so randomness is never drawn from one shared stream:
 * each independent piece of work (a tree, a round of k-means|| on one
 * block, ...) derives its own stream from the user's seed and the piece's
 * index with ml_rng_stream(), e.g. tree t of a forest uses
 * ml_rng_stream(&r, seed, t), and a two-level index (round, block) chains
 * ml_rng_derive(): ml_rng_seed(&r, ml_rng_derive(ml_rng_derive(seed,
 * round), block)).
 *
 * Thread-safety: a struct ml_rng belongs to one thread; no global state.
 */
#ifndef KILN_ML_RNG_H
#define KILN_ML_RNG_H

#include <stdint.h>

struct ml_rng {
	uint64_t s[4];
};

/* splitmix64: advances *X and returns a well-mixed 64-bit value. */
static inline uint64_t
ml_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Seed from one 64-bit value; splitmix64 never yields the all-zero state
 * xoshiro cannot leave (four consecutive outputs are never all zero). */
static inline void
ml_rng_seed(struct ml_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = ml_splitmix64(&x);
}

/*
 * A new seed for sub-stream STREAM of SEED.  Both values are hashed (not
 * added): seeds seed+k*gamma of plain splitmix64 would give overlapping,
 * shifted sequences for neighbouring streams.
 */
static inline uint64_t
ml_rng_derive(uint64_t seed, uint64_t stream)
{
	uint64_t a = seed;
	uint64_t h = ml_splitmix64(&a);
	uint64_t b = h ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
	return ml_splitmix64(&b);
}

/* Seed R as independent stream STREAM of SEED. */
static inline void
ml_rng_stream(struct ml_rng *r, uint64_t seed, uint64_t stream)
{
	ml_rng_seed(r, ml_rng_derive(seed, stream));
}

static inline uint64_t
ml_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits (xoshiro256**). */
static inline uint64_t
ml_rng_next(struct ml_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = ml_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = ml_rng_rotl(s[3], 45);
	return result;
}

/* Uniform double in [0, 1): the top 53 bits, so every value is exact. */
static inline double
ml_rng_uniform(struct ml_rng *r)
{
	return (double)(ml_rng_next(r) >> 11) * 0x1.0p-53;
}

/*
 * Uniform integer in [0, n) without modulo bias (Lemire's multiply and
 * reject: the rejection zone is the 2^64 mod n low products).  n = 0
 * returns 0.
 */
static inline uint64_t
ml_rng_below(struct ml_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	__uint128_t m = (__uint128_t)ml_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t thresh = -n % n;
		while (lo < thresh) {
			m = (__uint128_t)ml_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

#endif
