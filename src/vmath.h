/* vmath.h: elementwise float32 functions of the forward pass (softmax's exp, SiLU), by AVX-512
 * where the CPU has it and by libm's expf elsewhere.  The vector exp is within 2 ulp of the
 * exact value over the float range (tests/test-vmath.c checks it against double exp). */
#ifndef RS_VMATH_H
#define RS_VMATH_H

#include <stddef.h>

/* x[i] = exp(x[i] - sub) for n elements; returns their sum. */
float rs_vexp_sub_sum(float *x, size_t n, float sub);

/* g[i] = SiLU(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] for n elements. */
void rs_vsilu_mul(float *g, const float *u, size_t n);

#endif
