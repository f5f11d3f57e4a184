/* compress.h: low-rank factors of the decoder matrices by four methods (methods.md §2), a
 * per-session factor cache, and a plan's factors installed into a forward pass.
 *
 * Every method gives, for an m×n matrix W (y = W x) and a rank k, a pair
 *     Ŵ x + b = B (A x) + b,   A k×n,  B m×k,  b m or none,
 * run by the forward pass as two thin products (rs_forward_set_factors); W is never re-formed
 * except by an explicit dense export.
 *   svd      plain SVD of W = U Σ Vᵀ (no data): B = U_k Σ_k, A = V_kᵀ (Σ goes to the left
 *            factor, as in the other three, so every B has the scale and A is orthonormal or
 *            whitened).
 *   feature  feature PCA with mean compensation (seed paper 1): U the left singular vectors of
 *            W·L, L Lᵀ = C the pooled CENTRED covariance; B = U_k, A = U_kᵀ W,
 *            b = (I − U_k U_kᵀ) W μ = W μ − B (A μ) with μ the pooled mean (for m > n,
 *            B = W L V_k Σ_k⁻¹ and A = Σ_k V_kᵀ L⁻¹: see rs_covstats_feature_pca).
 *   whiten   SVD-LLM: W·L = U Σ Vᵀ with L Lᵀ = the pooled uncentred Gram;
 *            B = U_k Σ_k, A = V_kᵀ L⁻¹.
 *   asvd     diagonal activation scaling: S = diag(s_j^α) with s_j = sqrt(E[x_j²]) the RMS of
 *            input j (the square root of the pooled Gram's diagonal); W S = U Σ Vᵀ;
 *            B = U_k Σ_k, A = V_kᵀ S⁻¹.  α is the exponent (0: plain SVD).
 * Covariances come from the calibration (calib.h), regularized by rs_linalg_chol_reg when not
 * positive definite; every regularization is reported through the note callback.
 * Every decomposition is the eigen-decomposition of the smaller-side Gram matrix in float64
 * with the other side computed from the matrix itself (rs_linalg_gram_factors_f64), not an
 * SVD: B·A is then an exact projection of W (or W·L) and its error optimal to second order.
 *
 * Factor cache.  For all four methods the rank-k factors are the first k components of the
 * full-rank ones (the feature bias is recomputed per rank from W μ and A μ in O(mk)), so one
 * decomposition per (matrix, method) serves every rank: a rank change costs a copy, not an
 * SVD.  Full-rank factors are held in float32 ((m + n)·min(m, n) floats per matrix) up to a byte
 * budget, least recently used first out; a matrix whose full-rank factors do not fit even
 * with every unpinned entry evicted is held cut to the requested rank k ((m + n)·k floats)
 * if that fits, serving every rank up to k (a higher one decomposes again), and otherwise is
 * decomposed, used for the one request and freed (recomputed next time).  Entries are keyed
 * by method, α (asvd) and the calibration identity, so changing any of them recomputes.  Factors given from
 * outside (a factored file, rs_compress_put_fixed) are kept outside the budget and used when
 * the method and the rank match exactly.
 *
 * Installing.  rs_compress_build makes the pairs of every factored matrix of a plan (A points
 * into the held entry, which stays pinned, and so does B when the entry holds exactly the
 * plan's rank; otherwise B and b are rank-k copies); rs_compress_install puts
 * them into a forward pass.  The built set must outlive every forward pass it was installed in.
 * Not thread-safe: one thread uses a cache at a time. */
#ifndef RS_COMPRESS_H
#define RS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "model.h"
#include "plan.h"
#include "status.h"

struct rs_cache;
struct rs_calib;

enum rs_method {
	RS_METHOD_SVD,
	RS_METHOD_FEATURE,
	RS_METHOD_WHITEN,
	RS_METHOD_ASVD,
	RS_METHOD_COUNT
};

/* "svd", "feature", "whiten", "asvd". */
const char *rs_method_name(enum rs_method m);
/* Parse a method name; -1 if unknown. */
int rs_method_parse(const char *s);
/* Non-zero when the method needs calibration statistics. */
int rs_method_needs_calib(enum rs_method m);
/* One line describing the method's factors (for messages and help). */
const char *rs_method_describe(enum rs_method m);

/* What the factors are computed from. */
struct rs_compress_src {
	enum rs_method method;
	double alpha;                   /* asvd exponent α */
	const struct rs_calib *calib;   /* required by feature, whiten, asvd */
	struct rs_cache *cache;         /* where the calibration reads its statistics back */
	/* One-line notes (regularizations), or NULL. */
	void (*note)(void *ud, const char *line);
	void *ud;
};

struct rs_compress_counters {
	uint64_t decompositions;        /* full-rank factorizations of model matrices run */
	uint64_t hits;                  /* pairs cut from held full-rank factors */
	uint64_t fixed_hits;            /* pairs taken from given (loaded) factors */
	uint64_t evictions;             /* held entries dropped for the budget */
	uint64_t not_held;              /* decompositions over the budget, used once and freed */
	uint64_t truncated;             /* entries held cut to the requested rank (the full-rank
	                                   factors did not fit) */
	uint64_t stats_loads;           /* (layer, input) statistics fetched from the calibration */
	uint64_t regularized;           /* Cholesky factors that needed λ > 0 */
	uint64_t held_bytes;            /* full-rank factors held now */
	uint64_t fixed_bytes;           /* given factors held */
	uint64_t budget;
	int held;                       /* entries held */
};

struct rs_compress;

/* A cache for model m (borrowed; must outlive it), holding at most `budget` bytes of
 * full-rank factors.  NULL + *cause when out of memory. */
struct rs_compress *rs_compress_new(const struct rs_model *m, uint64_t budget, char **cause);
void rs_compress_free(struct rs_compress *c);
const struct rs_model *rs_compress_model(const struct rs_compress *c);
/* Change the budget (evicts unpinned entries over it). */
void rs_compress_set_budget(struct rs_compress *c, uint64_t budget);
void rs_compress_get_counters(const struct rs_compress *c, struct rs_compress_counters *out);
/* Drop every computed entry that is not in use (given factors stay). */
void rs_compress_drop(struct rs_compress *c);
/* Default budget: a quarter of the physical memory. */
uint64_t rs_compress_default_budget(void);

/* Give the factors of plan matrix i (layer * 7 + type) at `rank` for `method` (α for asvd):
 * a (rank×n), b (m×rank), bias (m) or NULL, all copied.  They replace given factors of the same
 * matrix.  RS_EINVAL when the shapes do not match the model. */
int rs_compress_put_fixed(struct rs_compress *c, int i, enum rs_method method, double alpha,
    int rank, const float *a, const float *b, const float *bias, char **cause);
/* Forget every given factor. */
void rs_compress_clear_fixed(struct rs_compress *c);
/* Number of matrices with given factors. */
int rs_compress_n_fixed(const struct rs_compress *c);

/* One matrix's factor pair at its plan rank. */
struct rs_factor_pair {
	int index;                      /* plan matrix index */
	int rank;
	size_t m, n;
	const float *a;                 /* rank×n */
	const float *b;                 /* m×rank */
	const float *bias;              /* m, or NULL */
};

struct rs_compress_set;

/* The pairs of every factored matrix of plan p (made for the cache's model), computing what is
 * missing, grouped by (layer, input) so statistics and their Cholesky factor are made once.
 * Progress: matrices done of factored.  RS_EINVAL + cause when the method needs a calibration
 * and src has none; RS_ECANCEL when cancelled.  The set pins what it uses. */
int rs_compress_build(struct rs_compress *c, const struct rs_plan *p,
    const struct rs_compress_src *src, struct rs_compress_set **out, struct rs_job *job,
    char **cause);
void rs_compress_set_free(struct rs_compress_set *s);
/* Pairs in the set (plan order), and the pair of plan matrix i (NULL when i is dense). */
int rs_compress_set_count(const struct rs_compress_set *s);
const struct rs_factor_pair *rs_compress_set_pair(const struct rs_compress_set *s, int k);
const struct rs_factor_pair *rs_compress_set_find(const struct rs_compress_set *s, int i);
/* Install every pair into f and restore the dense product of every other matrix. */
int rs_compress_install(const struct rs_compress_set *s, struct rs_forward *f, char **cause);

/* Rows [row0, row0 + nrows) of the reconstructed Ŵ = B A (no bias) into dst (nrows×n). */
void rs_factor_pair_rows(const struct rs_factor_pair *fp, size_t row0, size_t nrows,
    float *dst);

/* An upper bound of the memory one full-rank decomposition of a rows×cols matrix holds while it
 * runs (any method): the matrix, the factors and the eigensolver's workspace. */
uint64_t rs_compress_decomp_bytes(int64_t rows, int64_t cols);

#endif
