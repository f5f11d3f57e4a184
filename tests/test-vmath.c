/* test-vmath.c: the forward pass's elementwise exp and SiLU against double-precision libm. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vmath.h"

/* Distance in units of the last place of the float nearest to the exact value `want`. */
static double
ulps(float got, double want)
{
	double ulp;
	int e;

	if (want == 0)
		return got == 0 ? 0 : INFINITY;
	frexp(want, &e);
	ulp = ldexp(1.0, (e - 24 > -149 ? e - 24 : -149));	/* float's spacing at |want| */
	return fabs(got - want) / ulp;
}

/* exp(x - sub) over the whole float range of softmax arguments, sums, tails and specials. */
static void
test_exp(void)
{
	size_t n = 200001, i;
	float *x = malloc(n * sizeof *x), sum, sp[6];
	double worst = 0, dsum = 0, w;
	float at = 0;

	if (x == NULL) {
		tap_ok(0, "buffers");
		return;
	}
	/* -103.9 .. 88.7 in irregular steps, with 0.25 subtracted: every binade the pass meets */
	for (i = 0; i < n; i++)
		x[i] = (float)(-103.9 + 192.6 * (double)i / (double)(n - 1)) + 0.25f;
	sum = rs_vexp_sub_sum(x, n, 0.25f);
	for (i = 0; i < n; i++) {
		double arg = (double)((float)(-103.9 + 192.6 * (double)i / (double)(n - 1)) + 0.25f) -
		    0.25;
		double want = exp((double)(float)arg);

		dsum += want;
		if (want < FLT_MIN)	/* subnormal results: absolute error below 2^-126 */
			w = fabs(x[i] - want) < ldexp(1.0, -126) ? 0 : INFINITY;
		else
			w = ulps(x[i], want);
		if (w > worst) {
			worst = w;
			at = (float)arg;
		}
	}
	tap_ok(worst <= 2.0, "exp over [-103.9, 88.7]: worst %.2f ulp (at %g), want <= 2", worst, at);
	(void)sum;

	/* the sum over softmax's arguments (x - max <= 0), where it stays finite */
	dsum = 0;
	for (i = 0; i < 4099; i++) {
		x[i] = (float)(-30.0 * (double)i / 4098.0);
		dsum += exp((double)x[i]);
	}
	sum = rs_vexp_sub_sum(x, 4099, 0.0f);
	tap_ok(fabs(sum - dsum) <= 1e-6 * dsum, "exp sum over [-30, 0] %.8g, double sum %.8g", sum,
	    dsum);

	/* tails of every length below a vector, from an odd offset: only the n elements change */
	for (i = 1; i <= 17; i++) {
		size_t j;
		int ok = 1;

		for (j = 0; j < 20; j++)
			x[j] = (float)j * 0.1f;
		sum = rs_vexp_sub_sum(x + 1, i, 1.0f);
		dsum = 0;
		for (j = 0; j < i; j++) {
			dsum += exp((double)((float)(j + 1) * 0.1f) - 1.0);
			if (ulps(x[j + 1], exp((double)((float)(j + 1) * 0.1f - 1.0f))) > 2)
				ok = 0;
		}
		for (j = i + 1; j < 20; j++)
			if (x[j] != (float)j * 0.1f)
				ok = 0;
		if (x[0] != 0.0f || fabs(sum - dsum) > 1e-6 * dsum)
			ok = 0;
		if (!ok) {
			tap_ok(0, "exp of %zu elements: values, sum and untouched neighbours", i);
			break;
		}
	}
	if (i > 17)
		tap_ok(1, "exp of 1..17 elements from an odd offset: values, sum, neighbours untouched");

	sp[0] = 0.0f;
	sp[1] = -INFINITY;
	sp[2] = 200.0f;
	sp[3] = -200.0f;
	sp[4] = NAN;
	sp[5] = 88.0f;
	rs_vexp_sub_sum(sp, 6, 0.0f);
	tap_ok(sp[0] == 1.0f && sp[1] == 0.0f && isinf(sp[2]) && sp[3] == 0.0f && isnan(sp[4]) &&
	    ulps(sp[5], exp(88.0)) <= 2, "exp(0) = 1, exp(-inf) = exp(-200) = 0, exp(200) = inf, "
	    "NaN stays NaN, exp(88) finite");
	free(x);
}

/* SiLU(g) * u against the double formula, over the range activations take, with a tail. */
static void
test_silu(void)
{
	size_t n = 100003, i;
	float *g = malloc(n * sizeof *g), *u = malloc(n * sizeof *u);
	double worst = 0, w;
	float at = 0;

	if (g == NULL || u == NULL) {
		tap_ok(0, "buffers");
		free(g);
		free(u);
		return;
	}
	for (i = 0; i < n; i++) {
		g[i] = (float)(-60.0 + 120.0 * (double)i / (double)(n - 1));
		u[i] = (float)(0.5 + (double)(i % 7) * 0.25) * (i % 2 ? -1.0f : 1.0f);
	}
	rs_vsilu_mul(g, u, n);
	for (i = 0; i < n; i++) {
		double x = (double)(float)(-60.0 + 120.0 * (double)i / (double)(n - 1));
		double want = x / (1.0 + exp(-x)) * (double)u[i];

		/* near SiLU's zero at x = 0 and its underflow for x << 0, an absolute bound */
		if (fabs(want) < 1e-30)
			w = fabs(g[i] - want) < 1e-37 ? 0 : INFINITY;
		else
			w = ulps(g[i], want);
		if (w > worst) {
			worst = w;
			at = (float)x;
		}
	}
	tap_ok(worst <= 4.0, "SiLU(g) * u over [-60, 60]: worst %.2f ulp (at %g), want <= 4", worst,
	    at);
	g[0] = 100.0f;
	g[1] = -100.0f;
	g[2] = NAN;
	u[0] = u[1] = u[2] = 2.0f;
	rs_vsilu_mul(g, u, 3);
	tap_ok(g[0] == 200.0f && g[1] == 0.0f && isnan(g[2]), "SiLU saturates to g and to 0; NaN "
	    "stays NaN");
	free(g);
	free(u);
}

int
main(void)
{
	test_exp();
	test_silu();
	return tap_done();
}
