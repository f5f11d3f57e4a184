/* test-gramfactors.c: rs_linalg_gram_factors_f64 against LAPACK's dgesdd called here.
 *
 * For matrices with known spectra (built from QR factors of Gaussian matrices: σ over 12
 * decades, a rank-deficient one, and a dense Gaussian spectrum like a weight's), the error
 * ‖A − B_k·At_k‖_F² of the Gram factors at several ranks k must match the optimal
 * Σ_{i>k} σᵢ² of dgesdd's singular values of the same A within the tolerance linalg.h
 * documents: 1e-12 relative where σ_k² − σ_{k+1}² ≫ r·u·σ₁², plus r·u·σ₁² absolute. */
#include "config.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdint.h>

#include "tap.h"

#include "linalg.h"
#include "status.h"

#define TESTMAT_SEED 0x2545f4914f6cdd1dull
#include "testmat.h"

/* A = U diag(s) Vᵀ (m×n) with s[min(m, n)]; a Gaussian matrix when s is NULL. */
static double *
build(size_t m, size_t n, const double *s)
{
	size_t r = m < n ? m : n, i, j;
	double *u, *v, *a = malloc(m * n * sizeof(double));

	if (s == NULL) {
		for (i = 0; i < m * n; i++)
			a[i] = gauss();
		return a;
	}
	u = orth(m, r);
	v = orth(n, r);
	for (i = 0; i < m; i++)
		for (j = 0; j < r; j++)
			u[i * r + j] *= s[j];
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)r, 1.0, u,
	    (int)r, v, (int)r, 0.0, a, (int)n);
	free(u);
	free(v);
	return a;
}

/* ‖A − B_k·At_k‖_F², B m×r, At r×n, by an explicit product. */
static double
err_at_rank(const double *a, const double *b, const double *at, size_t m, size_t n,
    size_t r, size_t k)
{
	double *d = malloc(m * n * sizeof(double)), e = 0.0;
	size_t i;

	memcpy(d, a, m * n * sizeof(double));
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, -1.0, b,
	    (int)r, at, (int)n, 1.0, d, (int)n);
	for (i = 0; i < m * n; i++)
		e += d[i] * d[i];
	free(d);
	return e;
}

/* One matrix: errors at several ranks against dgesdd's optimal tails; unit rows/columns. */
static void
check(struct rs_linalg_ws *ws, size_t m, size_t n, const double *s, const char *what)
{
	size_t r = m < n ? m : n, i, j, ks[6];
	double *a = build(m, n, s), *copy = malloc(m * n * sizeof(double));
	double *ref = malloc(r * sizeof(double)), *tail = malloc((r + 1) * sizeof(double));
	double *b = malloc(m * r * sizeof(double)), *at = malloc(r * n * sizeof(double));
	double *sv = malloc(r * sizeof(double)), worst = 0.0, worst_abs = 0.0, unit = 0.0;
	double floor;
	char *cause = NULL;
	int st, ok = 1;

	memcpy(copy, a, m * n * sizeof(double));
	/* the column-major n×m Aᵀ: the same singular values */
	LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (int)n, (int)m, copy, (int)n, ref, NULL, 1, NULL,
	    1);
	tail[r] = 0.0;
	for (i = r; i-- > 0;)
		tail[i] = tail[i + 1] + ref[i] * ref[i];
	st = rs_linalg_gram_factors_f64(ws, a, m, n, b, sv, at, &cause);
	if (st != 0) {
		tap_ok(0, "gram factors %s %zux%zu: %s", what, m, n, cause);
		goto out;
	}
	/* documented tolerance: 1e-12 relative, plus r·u·σ₁² where the Gram is blind */
	floor = (double)r * 1.1102230246251565e-16 * ref[0] * ref[0];
	ks[0] = 1, ks[1] = r / 8, ks[2] = r / 4, ks[3] = r / 2, ks[4] = 3 * r / 4, ks[5] = r;
	for (j = 0; j < 6; j++) {
		double e, d;
		if (ks[j] == 0)
			continue;
		e = err_at_rank(a, b, at, m, n, r, ks[j]);
		d = fabs(e - tail[ks[j]]);
		if (d > 1e-12 * tail[ks[j]] + floor) {
			tap_diag("rank %zu: error %.6e, optimal %.6e", ks[j], e, tail[ks[j]]);
			ok = 0;
		}
		if (tail[ks[j]] > 1e3 * floor && d / tail[ks[j]] > worst)
			worst = d / tail[ks[j]];
		if (tail[ks[j]] <= 1e3 * floor && d / (ref[0] * ref[0]) > worst_abs)
			worst_abs = d / (ref[0] * ref[0]);
	}
	/* scale in B: columns of norm sᵢ, rows of At of unit norm (or zero) */
	for (i = 0; i < r; i++) {
		double bn = 0.0, an = 0.0;
		for (j = 0; j < m; j++)
			bn += b[j * r + i] * b[j * r + i];
		for (j = 0; j < n; j++)
			an += at[i * n + j] * at[i * n + j];
		unit = fmax(unit, fabs(sqrt(bn) - sv[i]) / ref[0]);
		if (sv[i] > 0)
			unit = fmax(unit, fabs(an - 1.0));
	}
	tap_ok(ok && unit < 1e-12, "gram factors %s %zux%zu: |A − B_k At_k|² at ranks 1..%zu "
	    "against dgesdd: worst relative %.1e (optimum above 1e3·r·u·σ₁²), else %.1e of σ₁²; "
	    "B norms = s, At rows unit to %.1e", what, m, n, r, worst, worst_abs, unit);
out:
	free(a);
	free(copy);
	free(ref);
	free(tail);
	free(b);
	free(at);
	free(sv);
	free(cause);
}

/* σ log-spaced from 1 down to 10^-decades over the first `rank` of r, zeros after. */
static double *
spectrum(size_t r, size_t rank, double decades)
{
	double *s = calloc(r, sizeof(double));
	size_t i;

	for (i = 0; i < rank; i++)
		s[i] = pow(10.0, -decades * (double)i / (double)(rank > 1 ? rank - 1 : 1));
	return s;
}

int
main(void)
{
	struct rs_linalg_ws *ws = rs_linalg_ws_new();
	static const size_t shapes[][2] = { { 300, 120 }, { 120, 300 }, { 200, 200 } };
	double *s, nan_a[6] = { 1, 2, 3, NAN, 5, 6 }, b[6], at[6], sv[2];
	char *cause = NULL, what[64];
	size_t k;
	int st;

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(1);
#endif
	for (k = 0; k < 3; k++) {
		size_t m = shapes[k][0], n = shapes[k][1], r = m < n ? m : n;
		s = spectrum(r, r, 12.0);
		check(ws, m, n, s, "σ over 12 decades");
		free(s);
		s = spectrum(r, r / 2, 3.0);
		snprintf(what, sizeof what, "rank %zu of %zu", r / 2, r);
		check(ws, m, n, s, what);
		free(s);
		check(ws, m, n, NULL, "Gaussian");
	}
	check(ws, 1, 7, NULL, "single row");
	check(ws, 7, 1, NULL, "single column");
	st = rs_linalg_gram_factors_f64(ws, nan_a, 2, 3, b, sv, at, &cause);
	tap_ok(st == RS_EINVAL && cause != NULL && strstr(cause, "(1, 0)") != NULL,
	    "gram factors refuse NaN, naming it: %s", cause != NULL ? cause : "?");
	free(cause);
	rs_linalg_ws_free(ws);
	return tap_done();
}
