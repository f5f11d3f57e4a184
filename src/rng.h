/* rng.h: a small seeded pseudo-random generator (xoshiro256** seeded through splitmix64).
 *
 * Every generator is a caller-owned value: no global state, so two runs with the same seed
 * draw the same numbers on every platform (only integer arithmetic and IEEE double
 * conversions; normals use Box-Muller with libm's log/sqrt/cos/sin). */
#ifndef RS_RNG_H
#define RS_RNG_H

#include <stdint.h>

struct rs_rng {
	uint64_t s[4];          /* xoshiro256** state, never all zero */
	double spare;           /* second Box-Muller normal, valid when has_spare */
	int has_spare;
};

/* Seed the generator from one 64-bit value (any value, 0 included). */
void rs_rng_seed(struct rs_rng *rng, uint64_t seed);

/* Seed from a base seed and a stream index, giving independent reproducible streams
 * (e.g. one per trial, so a resumed run draws what an uninterrupted run would). */
void rs_rng_seed2(struct rs_rng *rng, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
uint64_t rs_rng_next(struct rs_rng *rng);

/* Uniform double in [0, 1) with 53 random bits. */
double rs_rng_uniform(struct rs_rng *rng);

/* Standard normal deviate (Box-Muller). */
double rs_rng_normal(struct rs_rng *rng);

#endif
