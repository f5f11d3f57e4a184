/* linalg.h: thin wrappers over CBLAS/LAPACKE for the spectra and covariance code.
 *
 * Conventions:
 * - Every matrix is dense and ROW-MAJOR with its leading dimension equal to its number of
 *   columns: element (i, j) of an m×n matrix is a[i*n + j].
 * - Sizes are size_t; a dimension above INT_MAX (LAPACK's integer) is refused with
 *   RS_EUNSUPPORTED.  Non-finite input is refused with RS_EINVAL before LAPACK sees it.
 * - LAPACK's `info` is mapped to RS_ statuses: info < 0 (an argument LAPACK rejected, a bug
 *   here) is RS_EINVAL, info > 0 (no convergence, not positive definite) is
 *   RS_EUNSUPPORTED, each with a one-line cause naming the routine.
 * - Scratch memory comes from a caller-owned struct rs_linalg_ws, which grows to the
 *   largest problem it has seen and is reused: nothing else is allocated per matrix.  A
 *   workspace belongs to one thread at a time; a pool of workers keeps one each.
 * - One level of parallelism: these functions never start threads of their own and never
 *   change the BLAS thread count; the caller decides (e.g. OpenBLAS at 1 thread while
 *   several workers run, or all cores for one big matrix). */
#ifndef RS_LINALG_H
#define RS_LINALG_H

#include <stddef.h>

struct rs_linalg_ws;

/* A new, empty workspace; NULL when out of memory. */
struct rs_linalg_ws *rs_linalg_ws_new(void);

/* Free a workspace and its buffers (NULL is a no-op). */
void rs_linalg_ws_free(struct rs_linalg_ws *ws);

/* Bytes currently held by the workspace (for memory reports). */
size_t rs_linalg_ws_bytes(const struct rs_linalg_ws *ws);

/* A scratch array of `count` doubles owned by the workspace, separate from the region the
 * LAPACK wrappers below use, so it stays valid across those calls until the next
 * rs_linalg_ws_aux() on the same workspace (its contents are not preserved by that call).
 * NULL (with *cause set) when out of memory or on overflow. */
double *rs_linalg_ws_aux(struct rs_linalg_ws *ws, size_t count, char **cause);

/* Singular values of the m×n float32 matrix a (not modified), as doubles in descending
 * order into sv[min(m, n)].  Computed by sgesdd in float32: measured to meet the accuracy
 * target (every σ ≥ 1e-3·σ₁ within 1e-4 relative of a float64 SVD of the same data), see
 * linalg.c. */
int rs_linalg_svals_f32(struct rs_linalg_ws *ws, const float *a, size_t m, size_t n,
    double *sv, char **cause);

/* Singular values of the m×n double matrix a, descending, into sv[min(m, n)] (dgesdd).
 * a is DESTROYED (used as LAPACK's working copy). */
int rs_linalg_svals_f64(struct rs_linalg_ws *ws, double *a, size_t m, size_t n,
    double *sv, char **cause);

/* Thin SVD a = U diag(s) Vt of the m×n double matrix a (dgesdd), r = min(m, n): u is m×r
 * (column i = i-th left singular vector), s[r] descending, vt is r×n (row i = i-th right
 * singular vector).  a is DESTROYED. */
int rs_linalg_svd_f64(struct rs_linalg_ws *ws, double *a, size_t m, size_t n,
    double *u, double *s, double *vt, char **cause);

/* Eigenvalues of the symmetric n×n matrix a (not modified; both triangles must hold it),
 * descending, into w[n] (dsyevd).  If z is not NULL it receives the n×n eigenvectors with
 * ROW i the unit eigenvector of w[i]. */
int rs_linalg_syev_f64(struct rs_linalg_ws *ws, const double *a, size_t n, double *w,
    double *z, char **cause);

/* The same in float32 (ssyevd); eigenvalues are returned as doubles.  Accuracy: LAPACK's
 * backward-error bound, each eigenvalue and residual ‖A zᵢ − wᵢ zᵢ‖ within n·u·‖A‖₂, u = 2⁻²⁴. */
int rs_linalg_syev_f32(struct rs_linalg_ws *ws, const float *a, size_t n, double *w,
    float *z, char **cause);

/* Regularized Cholesky factor of the symmetric positive semi-definite n×n matrix c (not
 * modified): the lower-triangular l (n×n, strict upper part zeroed) with
 * l·lᵀ = c + λ·mean(diag(c))·I, trying λ = 0 first, then 1e-6, 1e-5, ... up to 1 until
 * dpotrf succeeds; the λ used is stored in *lambda (0: no regularization was needed).
 * Fails with RS_EINVAL if c has a non-finite entry or a non-positive mean diagonal, and
 * with RS_EUNSUPPORTED if even λ = 1 fails (c far from semi-definite).  c and l may be the
 * same array only if the caller does not need c afterwards. */
int rs_linalg_chol_reg(const double *c, size_t n, double *l, double *lambda, char **cause);

/* Which side the triangular matrix goes on, and whether it is transposed. */
enum rs_linalg_side {
	RS_LINALG_LEFT,         /* B := op(L)·B, B is n×nb */
	RS_LINALG_RIGHT,        /* B := B·op(L), B is nb×n */
};

/* In place B := op(L)⁻¹·B or B·op(L)⁻¹ for the lower-triangular n×n l (dtrsm), op(L) = L
 * or Lᵀ (trans != 0).  nb is the other dimension of B. */
int rs_linalg_trsm(const double *l, size_t n, double *b, size_t nb,
    enum rs_linalg_side side, int trans, char **cause);

/* In place B := op(L)·B or B·op(L) for the lower-triangular n×n l (dtrmm). */
int rs_linalg_trmm(const double *l, size_t n, double *b, size_t nb,
    enum rs_linalg_side side, int trans, char **cause);

#endif
