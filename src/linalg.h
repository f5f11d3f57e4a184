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
 *   several workers run, or all cores for one big matrix).
 * - Cancel: rs_linalg_cancellable() runs a large decomposition in a forked child process
 *   that is killed (SIGKILL, reaped) within ~10 ms of the job's cancel flag, so a command
 *   returns promptly even mid-gesdd, releases the CPU at once, and never sees a partial
 *   result; small ones run in the calling thread, where they end within a fraction of a
 *   second anyway (see linalg.c for why, and RS_LINALG_FORK_WORK for the threshold). */
#ifndef RS_LINALG_H
#define RS_LINALG_H

#include <stddef.h>

struct rs_job;
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
 * order into sv[min(m, n)]: square roots of the eigenvalues (dsyevd, values only) of the
 * float64 Gram of the smaller side, accumulated by dsyrk on panels converted to double.
 * Accuracy: every σ ≥ 1e-3·σ₁ within 1e-4 relative and the smaller ones within 1e-6·σ₁
 * absolute of a float64 SVD of the same data (measured: 5e-11 and 2e-9·σ₁, sgesdd's 1.2e-5
 * and 2.2e-8·σ₁; 1.2-2.1× less CPU than sgesdd except on 2048×2048 (0.9×), see linalg.c).
 * Workspace: min(m, n)² doubles plus a panel of 256·min(m, n). */
int rs_linalg_svals_f32(struct rs_linalg_ws *ws, const float *a, size_t m, size_t n,
    double *sv, char **cause);

/* Bytes of rs_linalg_svals_f32's workspace for an m×n matrix (SIZE_MAX when too large). */
size_t rs_linalg_svals_bytes(size_t m, size_t n);

/* The same for the m×n double matrix a (not modified): one dsyrk, then dsyevd. */
int rs_linalg_svals_gram_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
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

/* Copy the upper triangle of the row-major n×n matrix a into its lower triangle, in tiles
 * (an element-wise transposed copy misses the cache on every write at n in the thousands). */
void rs_linalg_mirror_upper(double *a, size_t n);

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

/* Work (multiply-adds, e.g. m·n·min(m, n) for an SVD) from which rs_linalg_cancellable()
 * forks.  Measured on the 2-core machine this was written on (OpenBLAS 0.3.21, shared with
 * other jobs, load ~5): fork + _exit + reap costs 3-5 ms for a small process and ~47 ms for
 * one holding 1 GiB of touched heap (page tables are copied); sgesdd values-only of a
 * 1024×2048 matrix (2.1e9) takes 0.35 s on one thread, 2048×5632 (2.4e10) 3 s (the Gram path
 * of rs_linalg_svals_f32 that replaced it: 0.24-0.29 and 1.2-1.4 CPU s).  At 2e9 the
 * fork adds ~1-1.5% to the smallest forked call of a small process (a process with a GiB
 * heap has 7B-sized matrices, ≥ 7e10, where it is < 1%); below it a call ends within
 * ~0.35 s even here, inside the 0.5 s a cancel may take. */
#define RS_LINALG_FORK_WORK 2e9

/* Run fn(arg, cause) so that cancelling job stops it within ~10 ms.  When job is not NULL
 * and work ≥ RS_LINALG_FORK_WORK, fn runs in a forked child: it reads its inputs from the
 * caller's memory (copy-on-write: a child that writes into an input, e.g. a DESTROYED a,
 * writes into its own copy and the caller's stays as it was), and every output it
 * writes MUST be in memory from rs_linalg_shared_alloc(), the only memory whose writes the
 * caller sees; anything else fn allocates or grows (a workspace) is the child's and is gone
 * when it exits.  Returns fn's status and its cause (the same one line as in-process);
 * RS_ECANCEL with "WHAT: cancelled" when the job was cancelled (the outputs are then
 * undefined); a child killed by anything else (the OOM killer) gives one line naming
 * `what` and the signal.  Otherwise fn simply runs in the calling thread. */
int rs_linalg_cancellable(const struct rs_job *job, const char *what, double work,
    int (*fn)(void *arg, char **cause), void *arg, char **cause);

/* `bytes` of zeroed memory shared with a child of rs_linalg_cancellable(); NULL (with
 * *cause set) when out of memory. */
void *rs_linalg_shared_alloc(size_t bytes, char **cause);

/* Unmap memory from rs_linalg_shared_alloc() (same bytes; NULL is a no-op). */
void rs_linalg_shared_free(void *p, size_t bytes);

/* rs_linalg_chol_reg of the n×n c through rs_linalg_cancellable (work n³/3): l (n² + 1
 * doubles from rs_linalg_shared_alloc) gets the factor and l[n²] the λ used. */
int rs_linalg_chol_reg_cancellable(const struct rs_job *job, const char *what,
    const double *c, size_t n, double *l, char **cause);

/* Eigen-decomposition of the smaller-side Gram matrix of the m×n double matrix a (not
 * modified), r = min(m, n): G = a·aᵀ (m ≤ n) or aᵀ·a (m > n) formed in float64 (dsyrk),
 * then dsyevd.  w[r] gets the eigenvalues descending (σᵢ² of a, each to an absolute error
 * of about r·u·σ₁², u = 2⁻⁵³), z (r×r) with ROW i the unit eigenvector of w[i]: the i-th
 * left singular vector of a when m ≤ n, the i-th right one when m > n.  Chosen over dgesdd
 * with vectors by measurement (numbers in linalg.c). */
int rs_linalg_gram_eig_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
    double *w, double *z, char **cause);

/* Full-rank factors a ≈ b·at of the m×n double matrix a (not modified), r = min(m, n), from
 * rs_linalg_gram_eig_f64: b (m×r) carries the scale, at (r×n) has rows of unit norm, s[r]
 * the column norms of b (the singular values, in the order of the Gram's eigenvalues):
 *     m ≤ n: U from the Gram, t = Uᵀ·a (dgemm), sᵢ = ‖tᵢ‖, atᵢ = tᵢ / sᵢ, b = U·diag(s);
 *     m > n: V from the Gram, b = a·V (dgemm), sᵢ = ‖bᵢ‖, at = Vᵀ
 * (a zero sᵢ gives a zero row and column).  For every k, b_k·at_k is the orthogonal
 * projection of a itself onto the span of the first k computed singular vectors, so
 * ‖a − b_k·at_k‖_F² exceeds the optimal Σ_{i>k} σᵢ² only to second order in their error:
 * within 1e-12 relative where σ_k² − σ_{k+1}² ≫ r·u·σ₁², and by at most r·u·σ₁² (far below
 * float32's resolution of a) where the Gram cannot tell the vectors apart
 * (tests/test-gramfactors.c checks both against dgesdd, σ over 12 decades included:
 * measured ≤ 1.1e-14 relative, ≤ 2.7e-16·σ₁² absolute). */
int rs_linalg_gram_factors_f64(struct rs_linalg_ws *ws, const double *a, size_t m, size_t n,
    double *b, double *s, double *at, char **cause);

#endif
