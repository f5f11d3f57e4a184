/* testmat.h: random test matrices for the linear-algebra tests (a header of static functions:
 * each test program gets its own generator).  Define TESTMAT_SEED before including it to give
 * the program its own sequence. */
#ifndef RS_TESTMAT_H
#define RS_TESTMAT_H

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef TESTMAT_SEED
#define TESTMAT_SEED 0x9e3779b97f4a7c15ull
#endif

static uint64_t rng = TESTMAT_SEED;

/* xorshift64* uniform in (0, 1).  (static inline: a program need not use every helper.) */
static inline double
unif(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return ((rng * 0x2545f4914f6cdd1dull >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal (Box–Muller). */
static inline double
gauss(void)
{
	return sqrt(-2.0 * log(unif())) * cos(2.0 * M_PI * unif());
}

/* Random m×k (m ≥ k) matrix with orthonormal columns, row-major: Q of a Gaussian's QR. */
static inline double *
orth(size_t m, size_t k)
{
	double *g = malloc(m * k * sizeof(double)), *tau = malloc(k * sizeof(double));
	size_t i;

	for (i = 0; i < m * k; i++)
		g[i] = gauss();
	LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)m, (int)k, g, (int)k, tau);
	LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)m, (int)k, (int)k, g, (int)k, tau);
	free(tau);
	return g;
}

#endif
