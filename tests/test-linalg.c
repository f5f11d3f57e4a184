/* test-linalg.c: the CBLAS/LAPACKE wrappers against matrices with known spectra (built
 * here from LAPACK QR factors of random Gaussian matrices), explicit products, dgesdd,
 * and the fixture's float64 singular values of real kjv-llama weights; the accuracy
 * linalg.h documents for rs_linalg_svals_f32 against dgesdd on an ill-conditioned matrix. */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#include "linalg.h"
#include "status.h"

#include "testmat.h"

/* A = U diag(s) Vᵀ (m×n, row-major) with r = min(m, n) given singular values. */
static double *
build(size_t m, size_t n, const double *s)
{
	size_t r = m < n ? m : n, i, j;
	double *u = orth(m, r), *v = orth(n, r), *a = malloc(m * n * sizeof(double));

	for (i = 0; i < m; i++)
		for (j = 0; j < r; j++)
			u[i * r + j] *= s[j];
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)r, 1.0, u,
	    (int)r, v, (int)r, 0.0, a, (int)n);
	free(u);
	free(v);
	return a;
}

/* Worst relative error of got[] against want[] over entries ≥ floor·want[0]; entries
 * below count as absolute error relative to want[0]. */
static double
worst_rel(const double *got, const double *want, size_t r, double floor)
{
	double w = 0.0, e;
	size_t i;

	for (i = 0; i < r; i++) {
		if (want[i] >= floor * want[0])
			e = fabs(got[i] - want[i]) / want[i];
		else
			e = fabs(got[i] - want[i]) / want[0];
		if (e > w)
			w = e;
	}
	return w;
}

/* Worst |got − want| / want[0] over the entries below floor·want[0] (0 if none). */
static double
worst_abs_below(const double *got, const double *want, size_t r, double floor)
{
	double w = 0.0;
	size_t i;

	for (i = 0; i < r; i++)
		if (want[i] < floor * want[0] && fabs(got[i] - want[i]) / want[0] > w)
			w = fabs(got[i] - want[i]) / want[0];
	return w;
}

/* The documented accuracy of rs_linalg_svals_f32 (linalg.h: σ ≥ 1e-3·σ₁ within 1e-4
 * relative, the smaller ones within 1e-6·σ₁ absolute) against LAPACK's dgesdd of the same
 * float32 data, on a matrix whose σ span eight decades (1 down to 1e-8): both sides of the
 * 1e-3·σ₁ line are populated, and the small ones are where a Gram loses accuracy. */
static void
check_bounds(struct rs_linalg_ws *ws, size_t m, size_t n)
{
	size_t r = m < n ? m : n, i;
	double *s = malloc(r * sizeof(double)), *a, *sv = malloc(r * sizeof(double));
	double *ref = malloc(r * sizeof(double)), rel, ab;
	float *af = malloc(m * n * sizeof(float));
	char *cause = NULL;
	int st;

	for (i = 0; i < r; i++)
		s[i] = pow(10.0, -8.0 * (double)i / (double)(r - 1));
	a = build(m, n, s);
	for (i = 0; i < m * n; i++)
		a[i] = af[i] = (float)a[i];
	st = rs_linalg_svals_f32(ws, af, m, n, sv, &cause);
	st |= rs_linalg_svals_f64(ws, a, m, n, ref, &cause);
	for (rel = 0.0, i = 0; i < r && ref[i] >= 1e-3 * ref[0]; i++)
		if (fabs(sv[i] - ref[i]) / ref[i] > rel)
			rel = fabs(sv[i] - ref[i]) / ref[i];
	ab = worst_abs_below(sv, ref, r, 1e-3);
	tap_ok(st == 0 && i > 10 && i < r - 10 && rel < 1e-4 && ab < 1e-6,
	    "svals_f32 %zux%zu, σ over 8 decades, against dgesdd of the same float32 data: "
	    "worst rel err %.2e over the %zu σ ≥ 1e-3·σ₁ (bound 1e-4), worst abs err %.2e·σ₁ "
	    "over the %zu below (bound 1e-6)", m, n, rel, i, ab, r - i);
	free(s);
	free(a);
	free(sv);
	free(ref);
	free(af);
	free(cause);
}

/* Known spectra through the float32 and float64 paths, one shape. */
static void
check_shape(struct rs_linalg_ws *ws, size_t m, size_t n, size_t rank, const char *what)
{
	size_t r = m < n ? m : n, i, j, l;
	double *s = calloc(r, sizeof(double)), *a, *ad, *sv = malloc(r * sizeof(double));
	double *u = malloc(m * r * sizeof(double)), *vt = malloc(r * n * sizeof(double));
	double e, orthe;
	float *af = malloc(m * n * sizeof(float));
	char *cause = NULL;
	int st;

	/* σ log-spaced over [0.1, 1]: float32 rounding of A moves them by < 3e-7 (Weyl), far
	 * inside the 1e-4 relative accuracy linalg.h documents, which is checked; zeros past
	 * `rank`. */
	for (i = 0; i < rank; i++)
		s[i] = pow(10.0, -(double)i / (double)(rank > 1 ? rank - 1 : 1));
	a = build(m, n, s);
	for (i = 0; i < m * n; i++)
		af[i] = (float)a[i];
	st = rs_linalg_svals_f32(ws, af, m, n, sv, &cause);
	tap_ok(st == 0 && worst_rel(sv, s, r, 1e-3) < 1e-4,
	    "svals_f32 %s %zux%zu rank %zu: worst rel err %.2e (want < 1e-4)", what, m, n,
	    rank, worst_rel(sv, s, r, 1e-3));
	/* float64 path on the exact double matrix: a much wider range of σ. */
	free(a);
	for (i = 0; i < rank; i++)
		s[i] = pow(10.0, -6.0 * (double)i / (double)(rank > 1 ? rank - 1 : 1));
	a = build(m, n, s);
	ad = malloc(m * n * sizeof(double));
	memcpy(ad, a, m * n * sizeof(double));
	st = rs_linalg_svals_f64(ws, ad, m, n, sv, &cause);
	tap_ok(st == 0 && worst_rel(sv, s, r, 1e-6) < 1e-8,
	    "svals_f64 %s %zux%zu, σ over 6 decades: worst rel err %.2e", what, m, n,
	    worst_rel(sv, s, r, 1e-6));
	memcpy(ad, a, m * n * sizeof(double));
	st = rs_linalg_svd_f64(ws, ad, m, n, u, sv, vt, &cause);
	/* Reconstruction U diag(s) Vt = A and orthonormal U columns, by explicit loops. */
	e = 0.0;
	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++) {
			double acc = 0.0;
			for (l = 0; l < r; l++)
				acc += u[i * r + l] * sv[l] * vt[l * n + j];
			if (fabs(acc - a[i * n + j]) > e)
				e = fabs(acc - a[i * n + j]);
		}
	orthe = 0.0;
	for (i = 0; i < rank; i++)
		for (j = 0; j < rank; j++) {
			double acc = 0.0, acc2 = 0.0;
			for (l = 0; l < m; l++)
				acc += u[l * r + i] * u[l * r + j];
			for (l = 0; l < n; l++)
				acc2 += vt[i * n + l] * vt[j * n + l];
			acc -= i == j;
			acc2 -= i == j;
			if (fabs(acc) > orthe)
				orthe = fabs(acc);
			if (fabs(acc2) > orthe)
				orthe = fabs(acc2);
		}
	tap_ok(st == 0 && e < 1e-12 && orthe < 1e-10 && worst_rel(sv, s, r, 1e-6) < 1e-8,
	    "svd_f64 %s %zux%zu: max |USVt − A| %.1e, orthonormality %.1e", what, m, n, e,
	    orthe);
	free(s);
	free(a);
	free(ad);
	free(sv);
	free(u);
	free(vt);
	free(af);
	free(cause);
}

/* Symmetric eigenproblems with known eigenvalues, both precisions. */
static void
check_syev(struct rs_linalg_ws *ws)
{
	size_t n = 90, i, j, l;
	double *q = orth(n, n), *a = calloc(n * n, sizeof(double)), *w0 = malloc(n * 8);
	double *w = malloc(n * 8), *z = malloc(n * n * 8), e = 0.0, ez = 0.0, tol;
	float *af = malloc(n * n * 4), *zf = malloc(n * n * 4);
	char *cause = NULL;
	int st;

	/* Eigenvalues spread over [−3, 5], descending. */
	for (i = 0; i < n; i++)
		w0[i] = 5.0 - 8.0 * (double)i / (double)(n - 1);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			for (l = 0; l < n; l++)
				a[i * n + j] += q[i * n + l] * w0[l] * q[j * n + l];
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			a[i * n + j] = a[j * n + i];    /* exactly symmetric */
	st = rs_linalg_syev_f64(ws, a, n, w, z, &cause);
	for (i = 0; i < n; i++) {
		if (fabs(w[i] - w0[i]) > e)
			e = fabs(w[i] - w0[i]);
		/* ‖A zᵢ − wᵢ zᵢ‖∞, zᵢ the i-th row. */
		for (j = 0; j < n; j++) {
			double acc = -w[i] * z[i * n + j];
			for (l = 0; l < n; l++)
				acc += a[j * n + l] * z[i * n + l];
			if (fabs(acc) > ez)
				ez = fabs(acc);
		}
	}
	tap_ok(st == 0 && e < 1e-12 && ez < 1e-12,
	    "syev_f64 90x90: max eigenvalue err %.1e, max residual |Az − wz| %.1e", e, ez);
	st = rs_linalg_syev_f64(ws, a, n, w, NULL, &cause);
	tap_ok(st == 0 && fabs(w[0] - 5.0) < 1e-12 && fabs(w[n - 1] + 3.0) < 1e-12,
	    "syev_f64 values only, descending");
	for (i = 0; i < n * n; i++)
		af[i] = (float)a[i];
	st = rs_linalg_syev_f32(ws, af, n, w, zf, &cause);
	e = ez = 0.0;
	for (i = 0; i < n; i++) {
		if (fabs(w[i] - w0[i]) > e)
			e = fabs(w[i] - w0[i]);
		for (j = 0; j < n; j++) {
			double acc = -w[i] * zf[i * n + j];
			for (l = 0; l < n; l++)
				acc += a[j * n + l] * zf[i * n + l];
			if (fabs(acc) > ez)
				ez = fabs(acc);
		}
	}
	/* linalg.h: within n·u·‖A‖₂ (u = 2⁻²⁴), plus √n·u·‖A‖₂ for rounding A to float32 */
	tol = ((double)n + sqrt((double)n)) * 0x1p-24 * 5.0;
	tap_ok(st == 0 && e <= tol && ez <= tol,
	    "syev_f32 90x90: max eigenvalue err %.1e, residual %.1e (want <= %.1e)", e, ez, tol);
	a[5] = NAN;
	st = rs_linalg_syev_f64(ws, a, n, w, NULL, &cause);
	tap_ok(st == RS_EINVAL && cause != NULL && strstr(cause, "non-finite") != NULL,
	    "syev_f64 refuses NaN: %s", cause ? cause : "(no cause)");
	free(q);
	free(a);
	free(w0);
	free(w);
	free(z);
	free(af);
	free(zf);
	free(cause);
}

/* max |L·Lᵀ − (C + shift·I)| and whether the strict upper part of L is zero. */
static double
chol_err(const double *c, const double *l, size_t n, double shift, int *upper_zero)
{
	size_t i, j, k;
	double e = 0.0;

	*upper_zero = 1;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			double acc = 0.0;
			for (k = 0; k < n; k++)
				acc += l[i * n + k] * l[j * n + k];
			acc -= c[i * n + j] + (i == j ? shift : 0.0);
			if (fabs(acc) > e)
				e = fabs(acc);
			if (j > i && l[i * n + j] != 0.0)
				*upper_zero = 0;
		}
	return e;
}

/* Regularized Cholesky and the triangular products. */
static void
check_chol(void)
{
	size_t n = 60, k = 25, i, j, t;
	double *g = malloc(n * 200 * 8), *c = calloc(n * n, 8), *l = malloc(n * n * 8);
	double *c2 = malloc(n * n * 8), lambda = -1.0, mean, e, *b, *b0, *ref;
	char *cause = NULL;
	int st, uz;

	/* Full-rank Gram from 200 samples: no regularization. */
	for (i = 0; i < n * 200; i++)
		g[i] = gauss();
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, 200, 1.0 / 200,
	    g, 200, g, 200, 0.0, c, (int)n);
	st = rs_linalg_chol_reg(c, n, l, &lambda, &cause);
	e = chol_err(c, l, n, 0.0, &uz);
	tap_ok(st == 0 && lambda == 0.0 && e < 1e-13 && uz,
	    "chol_reg on a positive definite C: λ = %g, max |LLᵀ − C| %.1e", lambda, e);

	/* Triangular multiply and solves against explicit loops: B (7×n) := B·L,
	 * then back with B·L⁻¹; B (n×7) := Lᵀ⁻¹·B checked by multiplying Lᵀ back. */
	b = malloc(7 * n * 8);
	b0 = malloc(7 * n * 8);
	ref = malloc(7 * n * 8);
	for (i = 0; i < 7 * n; i++)
		b[i] = b0[i] = gauss();
	for (i = 0; i < 7; i++)
		for (j = 0; j < n; j++) {
			ref[i * n + j] = 0.0;
			for (t = j; t < n; t++)
				ref[i * n + j] += b0[i * n + t] * l[t * n + j];
		}
	st = rs_linalg_trmm(l, n, b, 7, RS_LINALG_RIGHT, 0, &cause);
	e = 0.0;
	for (i = 0; i < 7 * n; i++)
		e = fmax(e, fabs(b[i] - ref[i]));
	tap_ok(st == 0 && e < 1e-12, "trmm B·L against loops: %.1e", e);
	st = rs_linalg_trsm(l, n, b, 7, RS_LINALG_RIGHT, 0, &cause);
	e = 0.0;
	for (i = 0; i < 7 * n; i++)
		e = fmax(e, fabs(b[i] - b0[i]));
	tap_ok(st == 0 && e < 1e-10, "trsm (B·L)·L⁻¹ = B: %.1e", e);
	memcpy(b, b0, 7 * n * 8);
	st = rs_linalg_trsm(l, n, b, 7, RS_LINALG_LEFT, 1, &cause);
	/* Lᵀ·X should give back B0 (n×7). */
	e = 0.0;
	for (i = 0; i < n; i++)
		for (j = 0; j < 7; j++) {
			double acc = 0.0;
			for (t = i; t < n; t++)
				acc += l[t * n + i] * b[t * 7 + j];
			e = fmax(e, fabs(acc - b0[i * 7 + j]));
		}
	tap_ok(st == 0 && e < 1e-10, "trsm Lᵀ⁻¹·B, left, transposed: %.1e", e);

	/* Rank-25 Gram (25 samples in 60 dimensions): singular, must regularize. */
	memset(c, 0, n * n * 8);
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)k, 1.0 / k,
	    g, 200, g, 200, 0.0, c, (int)n);
	mean = 0.0;
	for (i = 0; i < n; i++)
		mean += c[i * n + i] / (double)n;
	st = rs_linalg_chol_reg(c, n, l, &lambda, &cause);
	e = chol_err(c, l, n, lambda * mean, &uz);
	tap_ok(st == 0 && lambda >= 1e-6 && e < 1e-12 && uz,
	    "chol_reg on a singular C regularizes: λ = %g, max |LLᵀ − (C + λ·mean·I)| %.1e",
	    lambda, e);
	/* In place (c == l) gives the same factor. */
	memcpy(c2, c, n * n * 8);
	{
		double lambda2 = -1.0;
		st = rs_linalg_chol_reg(c2, n, c2, &lambda2, &cause);
		e = 0.0;
		for (i = 0; i < n * n; i++)
			e = fmax(e, fabs(c2[i] - l[i]));
		tap_ok(st == 0 && lambda2 == lambda && e == 0.0,
		    "chol_reg in place: same λ (%g) and factor", lambda2);
	}
	/* Negative definite: refused after the largest λ. */
	for (i = 0; i < n * n; i++)
		c2[i] = -c[i];
	for (i = 0; i < n; i++)
		c2[i * n + i] = fabs(c2[i * n + i]) * 1e-3;     /* positive mean diagonal */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (i != j)
				c2[i * n + j] = 10.0;
	st = rs_linalg_chol_reg(c2, n, l, &lambda, &cause);
	tap_ok(st == RS_EUNSUPPORTED && cause != NULL, "chol_reg refuses an indefinite C: %s",
	    cause ? cause : "(no cause)");
	memset(c2, 0, n * n * 8);
	st = rs_linalg_chol_reg(c2, n, l, &lambda, &cause);
	tap_ok(st == RS_EINVAL, "chol_reg refuses a zero C: %s", cause ? cause : "");
	free(g);
	free(c);
	free(l);
	free(c2);
	free(b);
	free(b0);
	free(ref);
	free(cause);
}

/* The (m, n) data of the F32 or BF16 (upcast) tensor `name` in a safetensors file; parsed
 * here with strstr so the test does not depend on our own reader. */
static float *
st_tensor(const char *path, const char *name, size_t *m, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char h8[8], *raw = NULL;
	uint64_t hlen = 0;
	char *hdr = NULL, key[256], *p, *q;
	size_t a, b, i, esz;
	float *data = NULL;
	uint32_t bits;

	if (f == NULL || fread(h8, 1, 8, f) != 8)
		goto out;
	for (i = 0; i < 8; i++)
		hlen |= (uint64_t)h8[i] << (8 * i);
	hdr = calloc(hlen + 1, 1);
	if (fread(hdr, 1, hlen, f) != hlen)
		goto out;
	snprintf(key, sizeof key, "\"%s\":{", name);
	if ((p = strstr(hdr, key)) == NULL || (q = strchr(p, '}')) == NULL)
		goto out;
	*q = '\0';
	esz = strstr(p, "\"BF16\"") != NULL ? 2 : strstr(p, "\"F32\"") != NULL ? 4 : 0;
	if (esz == 0 || strstr(p, "\"shape\":") == NULL || strstr(p, "\"data_offsets\":") == NULL ||
	    sscanf(strstr(p, "\"shape\":"), "\"shape\":[%zu,%zu]", m, n) != 2 ||
	    sscanf(strstr(p, "\"data_offsets\":"), "\"data_offsets\":[%zu,%zu]", &a, &b) != 2 ||
	    b - a != *m * *n * esz)
		goto out;
	raw = malloc(b - a);
	if (fseek(f, (long)(8 + hlen + a), SEEK_SET) != 0 || fread(raw, 1, b - a, f) != b - a)
		goto out;
	data = malloc(*m * *n * sizeof(float));
	for (i = 0; i < *m * *n; i++) {
		if (esz == 2)
			bits = (uint32_t)(raw[2 * i] | raw[2 * i + 1] << 8) << 16;
		else
			bits = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
			    (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
		memcpy(&data[i], &bits, 4);
	}
out:
	free(raw);
	free(hdr);
	if (f != NULL)
		fclose(f);
	return data;
}

/* Real weights against the fixture's float64 singular values. */
static void
check_real(struct rs_linalg_ws *ws)
{
	static const char *names[][2] = {
		{ "model.layers.0.self_attn.q_proj.weight", "refs/kjv-llama-sv-L0.q.txt" },
		{ "model.layers.3.mlp.down_proj.weight", "refs/kjv-llama-sv-L3.down.txt" },
		{ "model.layers.5.self_attn.v_proj.weight", "refs/kjv-llama-sv-L5.v.txt" },
	};
	const char *root = getenv("RS_FIXTURES");
	char path[1024], line[256];
	size_t k, m, n, r, i;
	float *w;
	double *sv, *ref, *wd, *svd;
	char *cause = NULL;
	FILE *f;
	int st;

	if (root == NULL)
		root = "../shared/fixtures";
	for (k = 0; k < 3; k++) {
		/* The references are of the BF16 weights (the F32 folder is not their
		 * exact upcast). */
		if (tap_fixture_path(path, sizeof path, "kjv-llama/model.safetensors") == NULL) {
			tap_skip(1, "fixture kjv-llama/model.safetensors missing");
			continue;
		}
		if ((w = st_tensor(path, names[k][0], &m, &n)) == NULL) {
			tap_ok(0, "%s in %s", names[k][0], path);
			continue;
		}
		r = m < n ? m : n;
		sv = malloc(r * 8);
		ref = calloc(r, 8);
		snprintf(path, sizeof path, "%s/%s", root, names[k][1]);
		i = 0;
		if ((f = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof line, f) != NULL && i < r)
				if (line[0] != '#')
					ref[i++] = strtod(line, NULL);
			fclose(f);
		}
		st = rs_linalg_svals_f32(ws, w, m, n, sv, &cause);
		tap_ok(st == 0 && i == r && worst_rel(sv, ref, r, 1e-3) < 1e-4,
		    "real %s %zux%zu: svals_f32 vs fixture float64 SVD, worst rel err over "
		    "σ ≥ 1e-3·σ₁ %.2e (target 1e-4)", names[k][0], m, n,
		    worst_rel(sv, ref, r, 1e-3));
		free(w);
		free(sv);
		free(ref);
	}
	/* The largest real matrix at hand: svals_f32 against dgesdd on the same data. */
	if (tap_fixture_path(path, sizeof path, "kjv-llama-f32/model-f32.safetensors") == NULL)
		tap_skip(1, "fixture kjv-llama-f32/model-f32.safetensors missing");
	else if ((w = st_tensor(path, "model.embed_tokens.weight", &m, &n)) == NULL)
		tap_ok(0, "model.embed_tokens.weight in %s", path);
	else {
		r = m < n ? m : n;
		sv = malloc(r * 8);
		svd = malloc(r * 8);
		wd = malloc(m * n * 8);
		for (i = 0; i < m * n; i++)
			wd[i] = w[i];
		st = rs_linalg_svals_f32(ws, w, m, n, sv, &cause);
		st |= rs_linalg_svals_f64(ws, wd, m, n, svd, &cause);
		tap_ok(st == 0 && worst_rel(sv, svd, r, 1e-3) < 1e-4,
		    "real embed_tokens %zux%zu: svals_f32 vs dgesdd worst rel err %.2e", m, n,
		    worst_rel(sv, svd, r, 1e-3));
		free(w);
		free(sv);
		free(svd);
		free(wd);
	}
	free(cause);
}

/* Set the BLAS thread count when the library lets us. */
static void
threads(int k)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(k);
#else
	(void)k;
#endif
}

/* sgesdd's singular values of the float32 m×n af (values only, float32 throughout): the
 * method rs_linalg_svals_f32 replaced, timed beside it.  0 on success. */
static int
sgesdd_values(const float *af, size_t m, size_t n, double *sv)
{
	size_t r = m < n ? m : n, i;
	float *copy = malloc(m * n * sizeof(float)), *s = malloc(r * sizeof(float));
	int info;

	memcpy(copy, af, m * n * sizeof(float));
	info = LAPACKE_sgesdd(LAPACK_COL_MAJOR, 'N', (int)n, (int)m, copy, (int)n, s, NULL, 1,
	    NULL, 1);
	for (i = 0; i < r; i++)
		sv[i] = s[i];
	free(copy);
	free(s);
	return info;
}

/* The precision decision (the Gram path vs dgesdd on the same float data) and the timings
 * against sgesdd, the float32 SVD it replaced. */
static void
measure(struct rs_linalg_ws *ws)
{
	size_t m = 1024, n = 2816, r = 1024, i, k;
	double *s = malloc(r * 8), *a, *sv = malloc(2048 * 8), *svs = malloc(2048 * 8);
	double t, tg[3], ts = 0.0, worst;
	float *af;
	char *cause = NULL;
	int st;

	/* σ log-spaced over four decades, the data rounded to float32. */
	for (i = 0; i < r; i++)
		s[i] = pow(10.0, -4.0 * (double)i / (double)(r - 1));
	a = build(m, n, s);
	af = malloc(m * n * 4);
	for (i = 0; i < m * n; i++)
		af[i] = (float)a[i];
	for (i = 0; i < m * n; i++)
		a[i] = af[i];
	st = rs_linalg_svals_f32(ws, af, m, n, sv, &cause);
	st |= rs_linalg_svals_f64(ws, a, m, n, s, &cause);
	st |= sgesdd_values(af, m, n, svs);
	worst = worst_rel(sv, s, r, 1e-3);
	tap_ok(st == 0 && worst < 1e-4,
	    "svals_f32 vs dgesdd on the same float32 %zux%zu, σ over 4 decades: worst rel err "
	    "over σ ≥ 1e-3·σ₁ %.2e (target 1e-4; sgesdd: %.2e)", m, n, worst,
	    worst_rel(svs, s, r, 1e-3));
	free(a);
	free(af);

	/* Timing at the size of a 1B-class MLP matrix: 2048×5632, values only. */
	m = 2048;
	n = 5632;
	af = malloc(m * n * 4);
	for (i = 0; i < m * n; i++)
		af[i] = (float)gauss();
	for (k = 1; k <= 2; k++) {
		threads((int)k);
		t = tap_now();
		st = rs_linalg_svals_f32(ws, af, m, n, sv, &cause);
		tg[k] = tap_now() - t;
		/* sgesdd for comparison, at one thread only (keeps the test short). */
		if (k == 1) {
			t = tap_now();
			st |= sgesdd_values(af, m, n, svs);
			ts = tap_now() - t;
		}
		tap_ok(st == 0, "2048x5632 at %zu BLAS thread(s)", k);
		if (k == 1)
			tap_diag("2048x5632 float32 singular values, OpenBLAS 1 thread: "
			    "rs_linalg_svals_f32 (float64 Gram, dsyevd_2stage) %.2f s; sgesdd on "
			    "the same data %.2f s", tg[k], ts);
		else
			tap_diag("2048x5632 float32 singular values, OpenBLAS %zu threads: "
			    "rs_linalg_svals_f32 %.2f s", k, tg[k]);
	}
	threads(1);
	tap_diag("workspace now holds %.1f MB", (double)rs_linalg_ws_bytes(ws) / 1e6);
	free(s);
	free(sv);
	free(svs);
	free(af);
	free(cause);
}

/* --- rs_linalg_cancellable ---------------------------------------------------------- */

/* One decomposition for rs_linalg_cancellable(): values of w into shared sv, the pid that
 * ran it into shared *pid; kill != 0 makes the child die of SIGKILL as the OOM killer would. */
struct cc_call {
	struct rs_linalg_ws *ws;
	const float *w;
	size_t m, n;
	double *sv;
	pid_t *pid;
	int kill;
};

/* The call run in the child (or in-process below the threshold). */
static int
cc_run(void *arg, char **cause)
{
	struct cc_call *c = arg;

	*c->pid = getpid();
	if (c->kill)
		raise(SIGKILL);
	return rs_linalg_svals_f32(c->ws, c->w, c->m, c->n, c->sv, cause);
}

/* Seconds on the monotonic clock. */
static double
mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A canceller thread: sets job->cancel after `delay` seconds and notes when. */
struct canceller {
	struct rs_job *job;
	double delay, at;
};

/* Body of the canceller thread. */
static void *
cancel_later(void *arg)
{
	struct canceller *k = arg;
	struct timespec ts;

	ts.tv_sec = (time_t)k->delay;
	ts.tv_nsec = (long)((k->delay - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
	k->at = mono();
	k->job->cancel = 1;
	return NULL;
}

/* m×n float matrix D·H with known singular values s (D = diag(s) padded, H = I - 2vvᵀ a
 * random reflector), built in O(mn). */
static float *
known_f32(size_t m, size_t n, double *s)
{
	size_t r = m < n ? m : n, i, j;
	double *v = malloc(n * sizeof(double)), nv = 0.0;
	float *a = malloc(m * n * sizeof(float));

	for (j = 0; j < n; j++) {
		v[j] = gauss();
		nv += v[j] * v[j];
	}
	for (j = 0; j < n; j++)
		v[j] /= sqrt(nv);
	for (i = 0; i < r; i++)
		s[i] = pow(10.0, -3.0 * (double)i / (double)r);
	/* row i of D·H is s_i (e_i - 2 v_i v); rows beyond r are zero */
	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++)
			a[i * n + j] = i < r ? (float)(s[i] * ((i == j) - 2.0 * v[i] * v[j])) : 0.0f;
	free(v);
	return a;
}

/* Large decompositions run in a child that a cancel kills at once; small ones in-process. */
static void
check_cancellable(struct rs_linalg_ws *ws)
{
	size_t m = 1200, n = 1800, r = 1200, i, bytes = r * sizeof(double);
	struct rs_job job;
	struct canceller k;
	pthread_t tid;
	double *s = malloc(r * sizeof(double)), worst = 0.0, t0, t1, *sv;
	float *a = known_f32(m, n, s), *big;
	pid_t *pid;
	size_t ws0 = rs_linalg_ws_bytes(ws);
	char *cause = NULL, *cause_in = NULL;
	struct cc_call c;
	int st, st_in, status;

	memset(&job, 0, sizeof job);
	sv = rs_linalg_shared_alloc(bytes, &cause);
	pid = rs_linalg_shared_alloc(sizeof *pid, &cause);
	if (!tap_ok(sv != NULL && pid != NULL, "shared memory for the results"))
		return;
	tap_ok((double)m * (double)n * (double)r >= RS_LINALG_FORK_WORK &&
	    (double)m * (double)n * (double)r < 2 * RS_LINALG_FORK_WORK,
	    "the %zux%zu test matrix is just above the fork threshold", m, n);
	c = (struct cc_call){ ws, a, m, n, sv, pid, 0 };

	/* Not cancelled: the child's values are the known spectrum. */
	st = rs_linalg_cancellable(&job, "test 1200x1800", 2.6e9, cc_run, &c, &cause);
	for (i = 0; i < r; i++)
		if (s[i] >= 1e-3 * s[0] && fabs(sv[i] - s[i]) / s[i] > worst)
			worst = fabs(sv[i] - s[i]) / s[i];
	tap_ok(st == 0 && *pid != getpid() && worst < 1e-4,
	    "above the threshold the SVD runs in a child (pid %d, ours %d): worst relative "
	    "error %.2g of the known spectrum", (int)*pid, (int)getpid(), worst);
	tap_ok(rs_linalg_ws_bytes(ws) == ws0 && waitpid(-1, &status, WNOHANG) < 0 &&
	    errno == ECHILD, "the child's workspace stays in the child (%zu bytes here) and "
	    "it is reaped", rs_linalg_ws_bytes(ws));

	/* Without a job, or below the threshold, it runs here. */
	st = rs_linalg_cancellable(NULL, "test", 2.6e9, cc_run, &c, &cause);
	tap_ok(st == 0 && *pid == getpid(), "no job: in-process");
	st = rs_linalg_cancellable(&job, "test", RS_LINALG_FORK_WORK / 2, cc_run, &c, &cause);
	tap_ok(st == 0 && *pid == getpid(), "below the threshold: in-process");

	/* An error in the child comes back as the same one line. */
	a[5 * n + 7] = NAN;
	st_in = rs_linalg_cancellable(NULL, "test", 2.6e9, cc_run, &c, &cause_in);
	st = rs_linalg_cancellable(&job, "test", 2.6e9, cc_run, &c, &cause);
	tap_ok(st == RS_EINVAL && st == st_in && *pid != getpid() && cause != NULL &&
	    cause_in != NULL && strcmp(cause, cause_in) == 0,
	    "the child's failure is reported as in-process: %s", cause);
	a[5 * n + 7] = 0.0f;

	/* A child killed by someone else (the OOM killer) names the matrix and the signal. */
	c.kill = 1;
	st = rs_linalg_cancellable(&job, "L9.down", 2.6e9, cc_run, &c, &cause);
	tap_ok(st != 0 && st != RS_ECANCEL && cause != NULL && strncmp(cause, "L9.down: ", 9) == 0 &&
	    strstr(cause, "signal 9") != NULL && strchr(cause, '\n') == NULL,
	    "a killed child: %s", cause);
	c.kill = 0;

	/* Cancel mid-decomposition: a 2000×3000 SVD (seconds here) stopped 0.3 s in. */
	big = malloc(2000 * 3000 * sizeof(float));
	for (i = 0; i < 2000 * 3000; i++)
		big[i] = (float)gauss();
	rs_linalg_shared_free(sv, bytes);
	bytes = 2000 * sizeof(double);
	sv = rs_linalg_shared_alloc(bytes, &cause);
	c = (struct cc_call){ ws, big, 2000, 3000, sv, pid, 0 };
	k.job = &job;
	k.delay = 0.3;
	k.at = 0.0;
	t0 = mono();
	pthread_create(&tid, NULL, cancel_later, &k);
	st = rs_linalg_cancellable(&job, "L0.big", 1.2e10, cc_run, &c, &cause);
	t1 = mono();
	pthread_join(tid, NULL);
	tap_ok(st == RS_ECANCEL && k.at > 0.0 && t1 - k.at <= 0.5 && cause != NULL &&
	    strcmp(cause, "L0.big: cancelled") == 0,
	    "cancelled %.3f s after the flag, %.2f s into the call: %s", t1 - k.at, t1 - t0,
	    cause);
	tap_ok(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD,
	    "the killed child is reaped");

	/* The caller goes on: the next decomposition works. */
	job.cancel = 0;
	rs_linalg_shared_free(sv, bytes);
	bytes = r * sizeof(double);
	sv = rs_linalg_shared_alloc(bytes, &cause);
	c = (struct cc_call){ ws, a, m, n, sv, pid, 0 };
	st = rs_linalg_cancellable(&job, "test", 2.6e9, cc_run, &c, &cause);
	tap_ok(st == 0 && fabs(sv[0] - s[0]) < 1e-4 * s[0] && fabs(sv[r - 1] - s[r - 1]) <
	    1e-3 * s[r - 1], "after a cancel the next one works (sigma_1 %.6f, sigma_r %.3g)",
	    sv[0], sv[r - 1]);
	rs_linalg_shared_free(sv, bytes);
	rs_linalg_shared_free(pid, sizeof *pid);
	free(cause);
	free(cause_in);
	free(big);
	free(a);
	free(s);
}

/* The tiled mirror against the definition, at sizes around and between tile edges. */
static void
check_mirror(void)
{
	static const size_t sizes[] = { 1, 63, 64, 65, 200 };
	size_t t, n, i, j, bad;
	double *a;

	for (t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
		n = sizes[t];
		a = malloc(n * n * sizeof *a);
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				a[i * n + j] = j >= i ? (double)(i * 1000 + j) : -1.0;
		rs_linalg_mirror_upper(a, n);
		for (bad = 0, i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				bad += a[i * n + j] != (double)(i < j ? i * 1000 + j : j * 1000 + i);
		tap_ok(bad == 0, "mirror_upper n = %zu: a[i][j] = a[j][i] for all i > j, upper "
		    "untouched (%zu wrong)", n, bad);
		free(a);
	}
}

int
main(void)
{
	struct rs_linalg_ws *ws = rs_linalg_ws_new();
	char *cause = NULL;
	float bad[6] = { 1, 2, 3, NAN, 5, 6 };
	double sv[3];
	int st;

	threads(1);
	check_shape(ws, 300, 120, 120, "tall");
	check_shape(ws, 120, 300, 120, "wide");
	check_shape(ws, 200, 200, 200, "square");
	check_shape(ws, 150, 100, 60, "rank-deficient");
	check_shape(ws, 1, 7, 1, "single row");
	check_bounds(ws, 700, 300);
	check_bounds(ws, 300, 700);
	check_syev(ws);
	check_chol();
	check_mirror();
	st = rs_linalg_svals_f32(ws, bad, 2, 3, sv, &cause);
	tap_ok(st == RS_EINVAL && cause != NULL && strstr(cause, "(1, 0)") != NULL,
	    "svals_f32 refuses NaN, naming it: %s", cause);
	st = rs_linalg_svals_f32(ws, bad, 0, 3, sv, &cause);
	tap_ok(st == RS_EINVAL, "svals_f32 refuses an empty matrix: %s", cause);
	free(cause);
	check_real(ws);
	check_cancellable(ws);
	measure(ws);
	rs_linalg_ws_free(ws);
	return tap_done();
}
