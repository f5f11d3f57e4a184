/* linalg.c: CBLAS/LAPACKE wrappers; the only file that includes lapacke.h.
 *
 * Row-major data is handed to LAPACK in COLUMN-major layout through the LAPACKE_*_work
 * entry points, which call Fortran directly (the row-major LAPACKE paths transpose into
 * buffers they malloc themselves).  A row-major m×n matrix read column-major is its
 * transpose, so:
 * - singular values: svd(Aᵀ) has the same values;
 * - singular vectors: gesdd on Aᵀ (n×m) returns U' (n×r) and VT' (r×m) column-major;
 *   read row-major, U' is Vt (r×n) of A and VT' is U (m×r) of A;
 * - symmetric matrices are their own transpose; dsyevd's column-major eigenvector
 *   columns read row-major are rows;
 * - dpotrf('U') gives C = UᵀU column-major; read row-major, U is the lower L with C = L·Lᵀ.
 *
 * Method of rs_linalg_svals_f32 (decided by measurement; tests/test-linalg.c re-measures the
 * accuracy, and the time against sgesdd, on every run): σ = √λ of the float64 Gram of the
 * smaller side.  A float32×float32 product is exact in double, dsyrk accumulates the Gram at
 * the BLAS3 rate, and dsyevd_2stage without vectors reduces it to band form with BLAS3 before
 * the tridiagonal step.  Against float64 SVDs (NumPy, dgesdd) of the same float32 data: within
 * 5e-11 relative over σ ≥ 1e-3·σ₁ and 2e-9·σ₁ absolute below it, on N(0, 0.02) matrices of
 * the TinyLlama shapes, on matrices with σ log-spaced from 1 to 1e-8 (2048×2048, 5632×2048,
 * 2048×5632, 256×2048) and on the 42 kjv-llama decoder matrices; sgesdd, the method before,
 * was within 1.2e-5 and 2.2e-8.  Squaring the condition costs digits only at the bottom
 * (λ has an absolute error of a few k·u·σ₁², u = 2⁻⁵³), far inside 1e-6·σ₁.  CPU seconds at one
 * OpenBLAS thread on this 2-core machine (shared, load 5-9), Gram + dsyevd_2stage against
 * sgesdd: 2048×2048 0.93 vs 0.83, 5632×2048 1.3 vs 2.0, 2048×5632 1.4 vs 1.7, 4096×4096 6.4 vs
 * 10.5, 11008×4096 9.1 vs 19.4, 4096×11008 8.8 vs 15.1, 14336×4096 10.5 vs 20.2 (dsyevd or
 * dsyevr instead of the 2-stage solver: 1.5-3.4 s more at 4096; dgesdd: 2× sgesdd). */
#include "config.h"

#include "linalg.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "alloc.h"
#include "status.h"

/* Scratch memory: `buf` is carved per LAPACK call, `aux` is handed to the caller. */
struct rs_linalg_ws {
	unsigned char *buf;     /* (cap) bytes, 64-byte aligned parts */
	size_t cap;
	double *aux;            /* (aux_count) doubles */
	size_t aux_count;
};

/* One piece of a carved workspace. */
struct ws_part {
	size_t bytes;
	void **ptr;
};

#define WS_ALIGN 64

/* Multiply two sizes; 0 on overflow. */
static int
mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Check that a dimension fits LAPACK's integer. */
static int
dim_ok(size_t d)
{
	return d <= (size_t)INT_MAX;
}

/* Allocate an empty workspace. */
struct rs_linalg_ws *
rs_linalg_ws_new(void)
{
	return rs_calloc(1, sizeof(struct rs_linalg_ws));
}

/* Free a workspace and its buffers. */
void
rs_linalg_ws_free(struct rs_linalg_ws *ws)
{
	if (ws == NULL)
		return;
	rs_free(ws->buf);
	rs_free(ws->aux);
	rs_free(ws);
}

/* Report the bytes a workspace holds. */
size_t
rs_linalg_ws_bytes(const struct rs_linalg_ws *ws)
{
	return ws == NULL ? 0 : ws->cap + ws->aux_count * sizeof(double);
}

/* Hand out the workspace's auxiliary double buffer, grown to count. */
double *
rs_linalg_ws_aux(struct rs_linalg_ws *ws, size_t count, char **cause)
{
	size_t bytes;

	if (count == 0)
		count = 1;
	if (!mul_size(count, sizeof(double), &bytes)) {
		rs_fail(cause, RS_ENOMEM, "linalg: scratch of %zu doubles overflows", count);
		return NULL;
	}
	if (count > ws->aux_count) {
		/* Contents need not survive: free first so peak memory stays one buffer. */
		rs_free(ws->aux);
		ws->aux_count = 0;
		if ((ws->aux = rs_malloc(bytes)) == NULL) {
			rs_fail(cause, RS_ENOMEM, "linalg: out of memory for %zu bytes of scratch",
			    bytes);
			return NULL;
		}
		ws->aux_count = count;
	}
	return ws->aux;
}

/* Point each part at its slice of the workspace, growing it first if needed. */
static int
ws_carve(struct rs_linalg_ws *ws, struct ws_part *parts, size_t np, const char *what,
    char **cause)
{
	size_t total = 0, i, b;
	unsigned char *p;

	for (i = 0; i < np; i++) {
		b = parts[i].bytes;
		if (b > SIZE_MAX - (WS_ALIGN - 1))
			goto overflow;
		b = (b + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
		if (total > SIZE_MAX - b)
			goto overflow;
		total += b;
	}
	if (total > ws->cap) {
		rs_free(ws->buf);
		ws->cap = 0;
		/* Over-allocate by WS_ALIGN so the first part can be aligned. */
		if (total > SIZE_MAX - WS_ALIGN ||
		    (ws->buf = rs_malloc(total + WS_ALIGN)) == NULL)
			return rs_fail(cause, RS_ENOMEM,
			    "%s: out of memory for a %zu-byte workspace", what, total);
		ws->cap = total;
	}
	p = ws->buf + ((WS_ALIGN - (uintptr_t)ws->buf % WS_ALIGN) % WS_ALIGN);
	for (i = 0; i < np; i++) {
		*parts[i].ptr = p;
		p += (parts[i].bytes + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
	}
	return RS_OK;
overflow:
	return rs_fail(cause, RS_ENOMEM, "%s: workspace size overflows", what);
}

/* Map a LAPACK info value to a status with a cause. */
static int
lapack_status(lapack_int info, const char *routine, char **cause)
{
	if (info == 0)
		return RS_OK;
	if (info < 0)
		return rs_fail(cause, RS_EINVAL, "%s: LAPACK rejected argument %d",
		    routine, (int)-info);
	return rs_fail(cause, RS_EUNSUPPORTED, "%s: did not converge (info=%d)",
	    routine, (int)info);
}

/* Round a workspace size LAPACK reported as a floating value up to an integer count;
 * sgesdd reports it in float, which may round down above 2^24. */
static int
lwork_from(double q, lapack_int *out)
{
	double v = ceil(q * (1.0 + 1e-6)) + 1.0;

	if (!(v >= 1.0) || v > (double)INT_MAX)
		return 0;
	*out = (lapack_int)v;
	return 1;
}

/* Check the common shape preconditions of an m×n problem; elements into *count. */
static int
shape_check(size_t m, size_t n, size_t *count, const char *what, char **cause)
{
	if (m == 0 || n == 0)
		return rs_fail(cause, RS_EINVAL, "%s: empty %zux%zu matrix", what, m, n);
	if (!dim_ok(m) || !dim_ok(n) || !mul_size(m, n, count) ||
	    *count > SIZE_MAX / sizeof(double))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: %zux%zu matrix is too large",
		    what, m, n);
	return RS_OK;
}

/* Rows (or columns) of a float32 matrix converted to double per dsyrk call of the Gram:
 * enough for dsyrk's BLAS3 rate, small beside the Gram itself (GRAM_PANEL·k doubles). */
#define GRAM_PANEL 256

/* Singular values of the m×n matrix held as float32 af or double ad (the other NULL; not
 * modified) from the float64 Gram of its smaller side (k = min(m, n)): G = AᵀA (n ≤ m) or
 * A·Aᵀ, accumulated by dsyrk (float32 data in panels converted to double, so every product
 * is exact), its eigenvalues by dsyevd_2stage (values only), σᵢ = √max(λᵢ, 0) descending. */
static int
gram_svals(struct rs_linalg_ws *ws, const float *af, const double *ad, size_t m, size_t n,
    double *sv, const char *what, char **cause)
{
	double *g, *panel = NULL, *work, wq = 0.0, dummy = 0.0;
	lapack_int *iwork, lwork, liwork, iwq = 0, info;
	size_t count, k = m < n ? m : n, big = m < n ? n : m, i, j, p0, pb;
	int st;

	if ((st = shape_check(m, n, &count, what, cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (af != NULL ? !isfinite(af[i]) : !isfinite(ad[i]))
			return rs_fail(cause, RS_EINVAL,
			    "%s: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    what, m, n, i / n, i % n);
	info = LAPACKE_dsyevd_2stage_work(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)k, &dummy,
	    (lapack_int)k, &dummy, &wq, -1, &iwq, -1);
	if (info != 0)
		return lapack_status(info, "dsyevd_2stage (workspace query)", cause);
	if (!lwork_from(wq, &lwork) || iwq < 1 || k > SIZE_MAX / sizeof(double) / k)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: workspace too large", what);
	liwork = iwq;
	{
		struct ws_part parts[] = {
			{ k * k * sizeof(double), (void **)&g },
			{ af != NULL ? GRAM_PANEL * k * sizeof(double) : 0, (void **)&panel },
			{ (size_t)lwork * sizeof(double), (void **)&work },
			{ (size_t)liwork * sizeof(lapack_int), (void **)&iwork },
		};
		if ((st = ws_carve(ws, parts, 4, what, cause)) != 0)
			return st;
	}
	/* Column-major, the row-major A is the n×m matrix X = Aᵀ: AᵀA = X·Xᵀ, A·Aᵀ = Xᵀ·X. */
	if (ad != NULL)
		cblas_dsyrk(CblasColMajor, CblasUpper, n <= m ? CblasNoTrans : CblasTrans, (int)k,
		    (int)big, 1.0, ad, (int)n, 0.0, g, (int)k);
	else
		for (p0 = 0; p0 < big; p0 += pb) {
			pb = big - p0 < GRAM_PANEL ? big - p0 : GRAM_PANEL;
			if (n <= m) {
				/* rows p0.. of A: columns p0.. of X, n×pb */
				for (i = 0; i < pb * n; i++)
					panel[i] = af[p0 * n + i];
				cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)k, (int)pb,
				    1.0, panel, (int)n, p0 == 0 ? 0.0 : 1.0, g, (int)k);
			} else {
				/* columns p0.. of A: rows p0.. of X, pb×m */
				for (i = 0; i < m; i++)
					for (j = 0; j < pb; j++)
						panel[i * pb + j] = af[i * n + p0 + j];
				cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)k, (int)pb,
				    1.0, panel, (int)pb, p0 == 0 ? 0.0 : 1.0, g, (int)k);
			}
		}
	info = LAPACKE_dsyevd_2stage_work(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)k, g,
	    (lapack_int)k, sv, work, lwork, iwork, liwork);
	if (info != 0)
		return lapack_status(info, "dsyevd_2stage", cause);
	/* Ascending λ to descending σ; rounding leaves the zero ones slightly negative. */
	for (i = 0, j = k - 1; i < j; i++, j--) {
		double t = sv[i];
		sv[i] = sv[j];
		sv[j] = t;
	}
	for (i = 0; i < k; i++)
		sv[i] = sv[i] > 0.0 ? sqrt(sv[i]) : 0.0;
	return RS_OK;
}

/* Compute the singular values of a float32 matrix from its float64 Gram. */
int
rs_linalg_svals_f32(struct rs_linalg_ws *ws, const float *a, size_t m, size_t n,
    double *sv, char **cause)
{
	return gram_svals(ws, a, NULL, m, n, sv, "singular values", cause);
}

/* Workspace bytes of the Gram path for an m×n matrix (the query LAPACK answers). */
size_t
rs_linalg_svals_bytes(size_t m, size_t n)
{
	size_t k = m < n ? m : n;
	double wq = 0.0, dummy = 0.0;
	lapack_int iwq = 0;

	if (k == 0 || k > SIZE_MAX / sizeof(double) / k)
		return SIZE_MAX;
	if (LAPACKE_dsyevd_2stage_work(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)k, &dummy,
	    (lapack_int)k, &dummy, &wq, -1, &iwq, -1) != 0)
		wq = 0.0, iwq = 0;
	return k * k * sizeof(double) + GRAM_PANEL * k * sizeof(double) +
	    (size_t)wq * sizeof(double) + (size_t)iwq * sizeof(lapack_int);
}

/* Compute the singular values of a double matrix from its Gram. */
int
rs_linalg_svals_gram_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
    double *sv, char **cause)
{
	return gram_svals(ws, NULL, a, m, n, sv, "singular values", cause);
}

/* Shared body of the double SVDs: values only when u == NULL. */
static int
svd_f64(struct rs_linalg_ws *ws, double *a, size_t m, size_t n, double *u, double *s,
    double *vt, char **cause)
{
	double *work, wq = 0.0, dummy = 0.0;
	lapack_int *iwork, lwork, idummy = 0, info, ir;
	size_t count, r = m < n ? m : n, i;
	char jobz = u != NULL ? 'S' : 'N';
	int st;

	if ((st = shape_check(m, n, &count, "dgesdd", cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (!isfinite(a[i]))
			return rs_fail(cause, RS_EINVAL,
			    "dgesdd: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    m, n, i / n, i % n);
	ir = (lapack_int)r;
	/* gesdd on the column-major n×m Aᵀ: its U' (n×r, ld n) is our Vt read row-major,
	 * its VT' (r×m, ld r) is our U. */
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, (lapack_int)n, (lapack_int)m,
	    &dummy, (lapack_int)n, &dummy, u != NULL ? vt : NULL, u != NULL ? (lapack_int)n : 1,
	    u, u != NULL ? ir : 1, &wq, -1, &idummy);
	if (info != 0)
		return lapack_status(info, "dgesdd (workspace query)", cause);
	if (!lwork_from(wq, &lwork) || r > (size_t)INT_MAX / 8)
		return rs_fail(cause, RS_EUNSUPPORTED, "dgesdd: workspace too large");
	{
		struct ws_part parts[] = {
			{ (size_t)lwork * sizeof(double), (void **)&work },
			{ 8 * r * sizeof(lapack_int), (void **)&iwork },
		};
		if ((st = ws_carve(ws, parts, 2, "dgesdd", cause)) != 0)
			return st;
	}
	info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, jobz, (lapack_int)n, (lapack_int)m,
	    a, (lapack_int)n, s, u != NULL ? vt : NULL, u != NULL ? (lapack_int)n : 1,
	    u, u != NULL ? ir : 1, work, lwork, iwork);
	return lapack_status(info, "dgesdd", cause);
}

/* Compute the singular values of a double matrix with dgesdd (destroys a). */
int
rs_linalg_svals_f64(struct rs_linalg_ws *ws, double *a, size_t m, size_t n, double *sv,
    char **cause)
{
	return svd_f64(ws, a, m, n, NULL, sv, NULL, cause);
}

/* Compute the thin SVD of a double matrix with dgesdd (destroys a). */
int
rs_linalg_svd_f64(struct rs_linalg_ws *ws, double *a, size_t m, size_t n, double *u,
    double *s, double *vt, char **cause)
{
	if (u == NULL || vt == NULL)
		return rs_fail(cause, RS_EINVAL, "dgesdd: no output for the singular vectors");
	return svd_f64(ws, a, m, n, u, s, vt, cause);
}

/* Reverse ascending eigenvalues (and their eigenvector rows) into descending order. */
static void
reverse_eig_f64(double *w, double *z, size_t n)
{
	size_t i, j, k;
	double t;

	for (i = 0, j = n - 1; i < j; i++, j--) {
		t = w[i], w[i] = w[j], w[j] = t;
		if (z != NULL)
			for (k = 0; k < n; k++)
				t = z[i * n + k], z[i * n + k] = z[j * n + k], z[j * n + k] = t;
	}
}

/* Compute the eigenvalues (and vectors) of a symmetric double matrix. */
int
rs_linalg_syev_f64(struct rs_linalg_ws *ws, const double *a, size_t n, double *w,
    double *z, char **cause)
{
	double *work, *acopy = NULL, wq = 0.0, dummy = 0.0;
	lapack_int *iwork, lwork, liwork, iwq = 0, info;
	size_t count, i;
	char jobz = z != NULL ? 'V' : 'N';
	int st;

	if ((st = shape_check(n, n, &count, "dsyevd", cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (!isfinite(a[i]))
			return rs_fail(cause, RS_EINVAL,
			    "dsyevd: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    n, n, i / n, i % n);
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'U', (lapack_int)n, &dummy,
	    (lapack_int)n, &dummy, &wq, -1, &iwq, -1);
	if (info != 0)
		return lapack_status(info, "dsyevd (workspace query)", cause);
	if (!lwork_from(wq, &lwork) || iwq < 1)
		return rs_fail(cause, RS_EUNSUPPORTED, "dsyevd: workspace too large");
	liwork = iwq;
	{
		struct ws_part parts[] = {
			{ (size_t)lwork * sizeof(double), (void **)&work },
			{ (size_t)liwork * sizeof(lapack_int), (void **)&iwork },
			{ z != NULL ? 0 : count * sizeof(double), (void **)&acopy },
		};
		if ((st = ws_carve(ws, parts, 3, "dsyevd", cause)) != 0)
			return st;
	}
	if (z != NULL)
		acopy = z;
	memcpy(acopy, a, count * sizeof(double));
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, jobz, 'U', (lapack_int)n, acopy,
	    (lapack_int)n, w, work, lwork, iwork, liwork);
	if (info != 0)
		return lapack_status(info, "dsyevd", cause);
	reverse_eig_f64(w, z, n);
	return RS_OK;
}

/* Compute the eigenvalues (and vectors) of a symmetric float matrix. */
int
rs_linalg_syev_f32(struct rs_linalg_ws *ws, const float *a, size_t n, double *w,
    float *z, char **cause)
{
	float *work, *acopy = NULL, *wf, wq = 0.0f, dummy = 0.0f, t;
	lapack_int *iwork, lwork, liwork, iwq = 0, info;
	size_t count, i, j, k;
	char jobz = z != NULL ? 'V' : 'N';
	int st;

	if ((st = shape_check(n, n, &count, "ssyevd", cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (!isfinite(a[i]))
			return rs_fail(cause, RS_EINVAL,
			    "ssyevd: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    n, n, i / n, i % n);
	info = LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, jobz, 'U', (lapack_int)n, &dummy,
	    (lapack_int)n, &dummy, &wq, -1, &iwq, -1);
	if (info != 0)
		return lapack_status(info, "ssyevd (workspace query)", cause);
	if (!lwork_from(wq, &lwork) || iwq < 1)
		return rs_fail(cause, RS_EUNSUPPORTED, "ssyevd: workspace too large");
	liwork = iwq;
	{
		struct ws_part parts[] = {
			{ (size_t)lwork * sizeof(float), (void **)&work },
			{ (size_t)liwork * sizeof(lapack_int), (void **)&iwork },
			{ n * sizeof(float), (void **)&wf },
			{ z != NULL ? 0 : count * sizeof(float), (void **)&acopy },
		};
		if ((st = ws_carve(ws, parts, 4, "ssyevd", cause)) != 0)
			return st;
	}
	if (z != NULL)
		acopy = z;
	memcpy(acopy, a, count * sizeof(float));
	info = LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, jobz, 'U', (lapack_int)n, acopy,
	    (lapack_int)n, wf, work, lwork, iwork, liwork);
	if (info != 0)
		return lapack_status(info, "ssyevd", cause);
	for (i = 0; i < n; i++)
		w[i] = wf[n - 1 - i];
	if (z != NULL)
		for (i = 0, j = n - 1; i < j; i++, j--)
			for (k = 0; k < n; k++)
				t = z[i * n + k], z[i * n + k] = z[j * n + k], z[j * n + k] = t;
	return RS_OK;
}

/* Tile edge of rs_linalg_mirror_upper: two 64×64 double tiles (64 KiB) stay in L2. */
#define MIRROR_TILE 64

void
rs_linalg_mirror_upper(double *a, size_t n)
{
	size_t bi, bj, i, j, iend, jend;

	for (bi = 0; bi < n; bi += MIRROR_TILE) {
		iend = bi + MIRROR_TILE < n ? bi + MIRROR_TILE : n;
		for (bj = 0; bj <= bi; bj += MIRROR_TILE) {
			jend = bj + MIRROR_TILE < n ? bj + MIRROR_TILE : n;
			for (i = bi; i < iend; i++)
				for (j = bj; j < jend && j < i; j++)
					a[i * n + j] = a[j * n + i];
		}
	}
}

/* Factor C + λ·mean(diag C)·I = L·Lᵀ with the smallest λ of the ladder that works. */
int
rs_linalg_chol_reg(const double *c, size_t n, double *l, double *lambda, char **cause)
{
	static const double lambdas[] = { 0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0 };
	double *tmp = NULL, mean = 0.0;
	lapack_int info = 0;
	size_t count, i, j, t;
	int st;

	*lambda = 0.0;
	if ((st = shape_check(n, n, &count, "dpotrf", cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (!isfinite(c[i]))
			return rs_fail(cause, RS_EINVAL,
			    "dpotrf: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    n, n, i / n, i % n);
	for (i = 0; i < n; i++)
		mean += c[i * n + i];
	mean /= (double)n;
	if (!(mean > 0.0))
		return rs_fail(cause, RS_EINVAL,
		    "dpotrf: %zux%zu matrix has mean diagonal %g, not positive", n, n, mean);
	/* c and l may alias: keep the diagonal of c to restore it before each retry. */
	if (c == l && (tmp = rs_mallocarray(n, sizeof(double))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "dpotrf: out of memory");
	if (tmp != NULL)
		for (i = 0; i < n; i++)
			tmp[i] = c[i * n + i];
	for (t = 0; t < sizeof lambdas / sizeof lambdas[0]; t++) {
		if (c != l)
			memcpy(l, c, count * sizeof(double));
		else if (t > 0) {
			/* dpotrf('U') column-major only wrote the row-major lower triangle;
			 * rebuild it from the untouched upper one. */
			for (i = 0; i < n; i++)
				l[i * n + i] = tmp[i];
			rs_linalg_mirror_upper(l, n);
		}
		for (i = 0; i < n; i++)
			l[i * n + i] += lambdas[t] * mean;
		info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, l,
		    (lapack_int)n);
		if (info < 0) {
			rs_free(tmp);
			return lapack_status(info, "dpotrf", cause);
		}
		if (info == 0)
			break;
	}
	rs_free(tmp);
	if (info != 0)
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "dpotrf: %zux%zu matrix is not positive definite even with "
		    "1.0 x mean diagonal added (info=%d)", n, n, (int)info);
	/* Row-major lower triangle holds L; clear the stale upper part. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			l[i * n + j] = 0.0;
	*lambda = lambdas[t];
	return RS_OK;
}

/* Check the shapes of a triangular operation; fills the CBLAS arguments. */
static int
tri_args(size_t n, size_t nb, enum rs_linalg_side side, const char *what,
    CBLAS_SIDE *cs, int *rows, int *cols, char **cause)
{
	size_t count;

	if (n == 0 || nb == 0)
		return rs_fail(cause, RS_EINVAL, "%s: empty matrix", what);
	if (!dim_ok(n) || !dim_ok(nb) || !mul_size(n, nb, &count))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: matrix is too large", what);
	if (side == RS_LINALG_LEFT) {
		*cs = CblasLeft;
		*rows = (int)n;
		*cols = (int)nb;
	} else {
		*cs = CblasRight;
		*rows = (int)nb;
		*cols = (int)n;
	}
	return RS_OK;
}

/* Solve with a lower-triangular matrix from the left or the right, in place. */
int
rs_linalg_trsm(const double *l, size_t n, double *b, size_t nb, enum rs_linalg_side side,
    int trans, char **cause)
{
	CBLAS_SIDE cs = CblasLeft;
	int rows = 0, cols = 0, st;

	if ((st = tri_args(n, nb, side, "dtrsm", &cs, &rows, &cols, cause)) != 0)
		return st;
	cblas_dtrsm(CblasRowMajor, cs, CblasLower, trans ? CblasTrans : CblasNoTrans,
	    CblasNonUnit, rows, cols, 1.0, l, (int)n, b, cols);
	return RS_OK;
}

/* Multiply by a lower-triangular matrix from the left or the right, in place. */
int
rs_linalg_trmm(const double *l, size_t n, double *b, size_t nb, enum rs_linalg_side side,
    int trans, char **cause)
{
	CBLAS_SIDE cs = CblasLeft;
	int rows = 0, cols = 0, st;

	if ((st = tri_args(n, nb, side, "dtrmm", &cs, &rows, &cols, cause)) != 0)
		return st;
	cblas_dtrmm(CblasRowMajor, cs, CblasLower, trans ? CblasTrans : CblasNoTrans,
	    CblasNonUnit, rows, cols, 1.0, l, (int)n, b, cols);
	return RS_OK;
}

/* --- Cancellable decompositions in a child process ---
 *
 * Why a child process: LAPACK has no cancel hook, and one gesdd of a 7B model's 4096×11008
 * matrix runs for tens of seconds.  A thread cannot be stopped safely, and a detached thread
 * that keeps computing would keep both cores and its gigabytes busy after the user got the
 * prompt back.  A forked child sees the inputs through copy-on-write pages (nothing is
 * copied up front), writes its outputs into MAP_SHARED memory the caller mapped before the
 * fork, and can be ended at once with SIGKILL, which releases its CPU and memory in the
 * kernel.  The parent watches the child's exit (a pidfd with poll, else waitpid(WNOHANG) with
 * a short sleep) and the cancel flag every POLL_MS.  The child blocks the asynchronous
 * signals, so a terminal's Ctrl-C, sent to the whole process group, reaches only the parent,
 * and asks (Linux) to be killed if the thread that forked it goes away.  OpenBLAS stops its
 * thread pool in a pthread_atfork handler and both sides restart it on their next call, with
 * the thread count the caller set: the one-level-of-parallelism rule holds in the child. */

#define POLL_MS 10
#define CAUSE_MAX 512

/* What a child reports back, in a shared page. */
struct child_report {
	volatile int done;              /* 1 once fn returned */
	int status;
	char cause[CAUSE_MAX];
};

/* Map `bytes` of zeroed memory that a forked child's writes reach. */
void *
rs_linalg_shared_alloc(size_t bytes, char **cause)
{
	void *p;

	if (bytes == 0)
		bytes = 1;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		rs_fail(cause, RS_ENOMEM, "linalg: out of memory for %zu bytes of shared results",
		    bytes);
		return NULL;
	}
	return p;
}

/* Unmap memory from rs_linalg_shared_alloc (NULL is a no-op). */
void
rs_linalg_shared_free(void *p, size_t bytes)
{
	if (p != NULL)
		munmap(p, bytes == 0 ? 1 : bytes);
}

/* Child side: run fn with the asynchronous signals blocked, report, and _exit. */
static void
child_run(int (*fn)(void *, char **), void *arg, struct child_report *rep, pid_t parent)
{
	sigset_t set;
	char *c = NULL;
	int st;

	sigfillset(&set);
	/* Faults must still kill the child (blocked, their outcome is undefined). */
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(3);
#else
	(void)parent;
#endif
	st = fn(arg, &c);
	rep->status = st;
	if (st != 0)
		snprintf(rep->cause, sizeof rep->cause, "%s",
		    c != NULL ? c : rs_status_str(st));
	rep->done = 1;
	_exit(0);
}

/* Open a pidfd for pid, or -1 where the kernel has none. */
static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* Wait for the child or the cancel flag; 1 if cancelled (child killed and reaped). */
static int
child_wait(pid_t pid, const struct rs_job *job, int *wstatus)
{
	struct pollfd pfd;
	unsigned sleep_us = 500;
	pid_t r;
	int fd = open_pidfd(pid), killed = 0;

	for (;;) {
		r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (!killed && rs_job_cancelled(job)) {
			kill(pid, SIGKILL);
			killed = 1;
			/* SIGKILL cannot be caught: a blocking wait ends as soon as it lands. */
			while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (fd >= 0) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			poll(&pfd, 1, POLL_MS);
		} else {
			/* 0.5 ms doubling to POLL_MS: short waits stay short. */
			usleep(sleep_us);
			if (sleep_us < POLL_MS * 1000)
				sleep_us *= 2;
		}
	}
	if (fd >= 0)
		close(fd);
	return killed;
}

/* Run fn(arg) in a child process when it is big enough and cancellable (see linalg.h). */
int
rs_linalg_cancellable(const struct rs_job *job, const char *what, double work,
    int (*fn)(void *arg, char **cause), void *arg, char **cause)
{
	struct child_report *rep;
	pid_t pid, parent = getpid();
	int wstatus = 0, st;

	if (job == NULL || work < RS_LINALG_FORK_WORK)
		return fn(arg, cause);
	if (rs_job_cancelled(job))
		return rs_fail(cause, RS_ECANCEL, "%s: cancelled", what);
	if ((rep = rs_linalg_shared_alloc(sizeof *rep, cause)) == NULL)
		return RS_ENOMEM;
	if ((pid = fork()) < 0) {
		st = errno;
		rs_linalg_shared_free(rep, sizeof *rep);
		return rs_fail(cause, st == ENOMEM || st == EAGAIN ? RS_ENOMEM : RS_EIO,
		    "%s: cannot start the decomposition process: %s", what, strerror(st));
	}
	if (pid == 0)
		child_run(fn, arg, rep, parent);
	if (child_wait(pid, job, &wstatus))
		st = rs_fail(cause, RS_ECANCEL, "%s: cancelled", what);
	else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && rep->done)
		st = rep->status == 0 ? RS_OK :
		    rs_fail(cause, rep->status, "%s", rep->cause);
	else if (WIFSIGNALED(wstatus))
		st = rs_fail(cause, WTERMSIG(wstatus) == SIGKILL ? RS_ENOMEM : RS_EIO,
		    "%s: the decomposition process was killed by signal %d (%s)%s", what,
		    WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
		    WTERMSIG(wstatus) == SIGKILL ? ", likely out of memory" : "");
	else
		st = rs_fail(cause, RS_EIO, "%s: the decomposition process ended with status %d "
		    "before finishing", what, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	rs_linalg_shared_free(rep, sizeof *rep);
	return st;
}

/* The arguments of a cancellable Cholesky. */
struct chol_call {
	const double *c;
	size_t n;
	double *l;
};

/* rs_linalg_chol_reg with λ stored after the factor. */
static int
chol_call_run(void *arg, char **cause)
{
	struct chol_call *a = arg;

	return rs_linalg_chol_reg(a->c, a->n, a->l, a->l + a->n * a->n, cause);
}

int
rs_linalg_chol_reg_cancellable(const struct rs_job *job, const char *what, const double *c,
    size_t n, double *l, char **cause)
{
	struct chol_call a = { c, n, l };

	return rs_linalg_cancellable(job, what, (double)n * (double)n * (double)n / 3.0,
	    chol_call_run, &a, cause);
}

/* --- Factors from the smaller-side Gram matrix ---
 *
 * Why: dgesdd with vectors of a 7B model's 4096×11008 matrix takes 75 s or more here.
 * Measured on this 2-core machine shared with other jobs (load 8-13, so ±50%), OpenBLAS
 * 1 thread, random matrices: dgesdd 'S' 2048×5632 37 s, 4096×4096 120 s, 4096×11008 200 s;
 * the Gram path dsyrk + dsyevd + dgemm 1.5 + 4.1 + 3.2 = 8.8 s, 4.0 + 43 + 5.4 = 52 s and
 * 19.5 + 50 + 39 = 109 s (11008×4096: 11.4 + 30.7 + 32.9 = 75 s).  dsyevd of 4096 splits
 * into dsytrd 41 s, dstedc 20 s, dormtr 42 s; dsyevr was no faster (41-86 s against 43-50 s)
 * and 2 threads did not help under this load (dsyevd 113 s against 91 s).  Squaring the
 * matrix loses the singular vectors of σ below ~sqrt(u)·σ₁, but the factors never use them
 * as such: the other side is the product of a itself with the computed vectors, so b·at is
 * an orthogonal projection of a and its error is second order in theirs. */

/* Eigen-decomposition of the smaller-side Gram matrix (dsyrk, dsyevd). */
int
rs_linalg_gram_eig_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
    double *w, double *z, char **cause)
{
	double *work, wq = 0.0, dummy = 0.0;
	lapack_int *iwork, lwork, iwq = 0, info;
	size_t count, r = m < n ? m : n, i;
	int st;

	if ((st = shape_check(m, n, &count, "dsyrk", cause)) != 0)
		return st;
	for (i = 0; i < count; i++)
		if (!isfinite(a[i]))
			return rs_fail(cause, RS_EINVAL,
			    "dsyrk: %zux%zu matrix has a non-finite value at (%zu, %zu)",
			    m, n, i / n, i % n);
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)r, &dummy,
	    (lapack_int)r, &dummy, &wq, -1, &iwq, -1);
	if (info != 0)
		return lapack_status(info, "dsyevd (workspace query)", cause);
	if (!lwork_from(wq, &lwork) || iwq < 1)
		return rs_fail(cause, RS_EUNSUPPORTED, "dsyevd: workspace too large");
	{
		struct ws_part parts[] = {
			{ (size_t)lwork * sizeof(double), (void **)&work },
			{ (size_t)iwq * sizeof(lapack_int), (void **)&iwork },
		};
		if ((st = ws_carve(ws, parts, 2, "dsyevd", cause)) != 0)
			return st;
	}
	/* The row-major upper triangle is the column-major lower one dsyevd reads. */
	if (m <= n)
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)m, (int)n, 1.0, a,
		    (int)n, 0.0, z, (int)m);
	else
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)n, (int)m, 1.0, a,
		    (int)n, 0.0, z, (int)n);
	info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', (lapack_int)r, z,
	    (lapack_int)r, w, work, lwork, iwork, iwq);
	if (info != 0)
		return lapack_status(info, "dsyevd", cause);
	reverse_eig_f64(w, z, r);
	return RS_OK;
}

/* Full-rank factors b·at of a from the Gram's eigenvectors and a itself. */
int
rs_linalg_gram_factors_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
    double *b, double *s, double *at, char **cause)
{
	size_t r = m < n ? m : n, i, j;
	double t;
	int st;

	if (m <= n) {
		/* b (m×m) first holds Z = Uᵀ; at = Uᵀ·a, then normalized. */
		if ((st = rs_linalg_gram_eig_f64(ws, a, m, n, s, b, cause)) != 0)
			return st;
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)m,
		    1.0, b, (int)m, a, (int)n, 0.0, at, (int)n);
		for (i = 0; i < r; i++) {
			t = cblas_dnrm2((int)n, at + i * n, 1);
			s[i] = t;
			if (t > 0)
				cblas_dscal((int)n, 1.0 / t, at + i * n, 1);
		}
		/* b := Zᵀ·diag(s) = U·diag(s), in place. */
		for (i = 0; i < m; i++) {
			b[i * m + i] *= s[i];
			for (j = i + 1; j < m; j++) {
				t = b[i * m + j];
				b[i * m + j] = b[j * m + i] * s[j];
				b[j * m + i] = t * s[i];
			}
		}
	} else {
		/* at (n×n) holds Vᵀ; b = a·V. */
		if ((st = rs_linalg_gram_eig_f64(ws, a, m, n, s, at, cause)) != 0)
			return st;
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)n,
		    1.0, a, (int)n, at, (int)n, 0.0, b, (int)n);
		for (j = 0; j < r; j++)
			s[j] = cblas_dnrm2((int)m, b + j, (int)n);
	}
	for (i = 0; i < r; i++)
		if (s[i] == 0.0) {
			memset(at + i * n, 0, n * sizeof *at);
			for (j = 0; j < m; j++)
				b[j * r + i] = 0.0;
		}
	return RS_OK;
}
