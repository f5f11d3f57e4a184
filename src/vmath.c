/* vmath.c: elementwise float32 functions of the forward pass (see vmath.h). */
#include "config.h"

#include "vmath.h"

#include <math.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_VMATH 1
#include <immintrin.h>

/*
 * exp of 16 floats: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in a
 * high part exact in float and a low part, so r carries no rounding of n ln2), exp(r) by its
 * Taylor series to r^7 (truncation below 1e-8 relative), times 2^n by vscalefps, which also
 * gives infinity above 88.7 and 0 (through subnormals) below -103.  NaN stays NaN.
 */
__attribute__((target("avx512f"))) static inline __m512
exp16(__m512 x)
{
	const __m512 ln2_hi = _mm512_set1_ps(0.693145751953125f);
	const __m512 ln2_lo = _mm512_set1_ps(1.428606765330187e-06f);
	__m512 n, r, p;

	/* min/max with the constant first: the second operand (x) is returned when x is NaN */
	x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
	n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
	    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm512_fnmadd_ps(n, ln2_hi, x);
	r = _mm512_fnmadd_ps(n, ln2_lo, r);
	p = _mm512_set1_ps(1.0f / 5040);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	return _mm512_scalef_ps(p, n);
}

/* rs_vexp_sub_sum by 16 lanes; the tail through a mask. */
__attribute__((target("avx512f"))) static float
exp_sub_sum_avx512(float *x, size_t n, float sub)
{
	__m512 s = _mm512_set1_ps(sub), acc = _mm512_setzero_ps(), e;
	__mmask16 k;
	size_t i;

	for (i = 0; i + 16 <= n; i += 16) {
		e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
		_mm512_storeu_ps(x + i, e);
		acc = _mm512_add_ps(acc, e);
	}
	if (i < n) {
		k = (__mmask16)((1u << (n - i)) - 1);
		e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s));
		_mm512_mask_storeu_ps(x + i, k, e);
		acc = _mm512_mask_add_ps(acc, k, acc, e);
	}
	return _mm512_reduce_add_ps(acc);
}

/* rs_vsilu_mul by 16 lanes; the tail through a mask. */
__attribute__((target("avx512f"))) static void
silu_mul_avx512(float *g, const float *u, size_t n)
{
	const __m512 one = _mm512_set1_ps(1.0f);
	__m512 x;
	__mmask16 k;
	size_t i;

	for (i = 0; i < n; i += 16) {
		k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
		x = _mm512_maskz_loadu_ps(k, g + i);
		x = _mm512_div_ps(x, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
		_mm512_mask_storeu_ps(g + i, k, _mm512_mul_ps(x, _mm512_maskz_loadu_ps(k, u + i)));
	}
}
#endif

/* x[i] = exp(x[i] - sub); returns the sum. */
float
rs_vexp_sub_sum(float *x, size_t n, float sub)
{
	float sum = 0;
	size_t i;

#ifdef HAVE_X86_VMATH
	if (__builtin_cpu_supports("avx512f"))
		return exp_sub_sum_avx512(x, n, sub);
#endif
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - sub);
		sum += x[i];
	}
	return sum;
}

/* g[i] = g[i] / (1 + exp(-g[i])) * u[i]. */
void
rs_vsilu_mul(float *g, const float *u, size_t n)
{
	size_t i;

#ifdef HAVE_X86_VMATH
	if (__builtin_cpu_supports("avx512f")) {
		silu_mul_avx512(g, u, n);
		return;
	}
#endif
	for (i = 0; i < n; i++)
		g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
