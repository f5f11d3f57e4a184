/* rng.c: xoshiro256** (Blackman and Vigna, 2018) seeded by splitmix64, Box-Muller normals. */
#include "config.h"

#include "rng.h"

#include <math.h>

#define RS_TWO_PI 6.283185307179586476925286766559

/* One splitmix64 step: advances *x and returns a well-mixed 64-bit value. */
static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Rotate x left by k bits (0 < k < 64). */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Seed the generator from one 64-bit value. */
void
rs_rng_seed(struct rs_rng *rng, uint64_t seed)
{
	uint64_t x = seed;
	int i;

	for (i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
	/* splitmix64 is a bijection of its counter, so four zero outputs cannot happen
	 * for consecutive counters; keep the guard anyway, xoshiro must not be all zero. */
	if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
		rng->s[0] = 1;
	rng->has_spare = 0;
	rng->spare = 0.0;
}

/* Seed from a base seed and a stream index. */
void
rs_rng_seed2(struct rs_rng *rng, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	uint64_t a = splitmix64(&x);

	x = stream ^ 0xd1b54a32d192ed03ULL;
	rs_rng_seed(rng, a ^ splitmix64(&x));
}

/* Next 64 random bits (xoshiro256**). */
uint64_t
rs_rng_next(struct rs_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform double in [0, 1). */
double
rs_rng_uniform(struct rs_rng *rng)
{
	return (double)(rs_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Standard normal deviate (Box-Muller, both values used). */
double
rs_rng_normal(struct rs_rng *rng)
{
	double u1, u2, r;

	if (rng->has_spare) {
		rng->has_spare = 0;
		return rng->spare;
	}
	do
		u1 = rs_rng_uniform(rng);
	while (u1 <= 0.0);
	u2 = rs_rng_uniform(rng);
	r = sqrt(-2.0 * log(u1));
	rng->spare = r * sin(RS_TWO_PI * u2);
	rng->has_spare = 1;
	return r * cos(RS_TWO_PI * u2);
}
