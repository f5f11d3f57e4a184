/* covstats.h: activation statistics of one input group and the feature ("covariance
 * energy") spectra of the weights that read it (methods.md §2-3).
 *
 * Statistics.  An rs_covstats collects, for inputs of dimension n split into G calibration
 * groups (G = 1: plain statistics), each group's mean μ_g and centred covariance
 * C_g = (1/N_g) Σ_t (x_t − μ_g)(x_t − μ_g)ᵀ (divided by N_g, not N_g − 1, so that the
 * feature error identities below are exact), and pools them with EQUAL weight:
 *     C = (1/G) Σ_g C_g,   μ = (1/G) Σ_g μ_g,   Gram = (1/G) Σ_g X_gᵀX_g / N_g
 *                                                    = C + (1/G) Σ_g μ_g μ_gᵀ.
 * Use: new(n, G); for each group g: begin_group(g), add(X, n_tok)…, end_group(); then
 * finish().  X is row-major n_tok×n float32 (one token per row).
 *
 * Accumulation: ssyrk into float32 partial sums of at most RS_COVSTATS_FLUSH tokens, each
 * flushed into float64; activations are shifted by the mean of the group's first batch
 * before the rank-k update (so large means do not cancel in C = E[xxᵀ] − μμᵀ); the mean's
 * sums are kept in double.  Chosen by measurement (n = 2048, 4096 tokens, OpenBLAS 1
 * thread; tests/test-covstats.c re-measures it): ssyrk + flush 0.14-0.30 s against
 * 0.30-0.50 s for dsyrk on the batch converted to double, and the covariance stays within
 * 3e-7 (n = 2048) to 6e-7 (n = 40, 500 tokens) of float64 sums, relative to its largest
 * entry: far below the sampling noise of any calibration set.  Memory: two n×n doubles (one when G = 1) and one
 * n×n float, until free().
 *
 * Feature spectra.  For a weight W (m×n float32, y = W x) and a lower-triangular L with
 * L·Lᵀ = C (rs_linalg_chol_reg, which regularizes and reports λ), the singular values σ of
 * W·L are the square roots of the eigenvalues of W C Wᵀ, the covariance of the outputs.
 * With C the CENTRED covariance and the feature-PCA factors (seed paper 1)
 *     Ŵ = U_k (U_kᵀ W),   b = (I − U_k U_kᵀ) W μ
 * and X the calibration activations of one group (G = 1, λ = 0):
 *     ‖W X − (Ŵ X + b 1ᵀ)‖_F² = N Σ_{i>k} σᵢ²   and   ‖W (X − μ 1ᵀ)‖_F² = N Σ σᵢ²,
 * so rs_energy_error() of σ is the exact relative error against the centred output.  With
 * C the uncentred GRAM and the whitened factors (SVD-LLM)  Ŵ = (U_k Σ_k)(V_kᵀ L⁻¹):
 *     ‖W X − Ŵ X‖_F² = N Σ_{i>k} σᵢ²   and   ‖W X‖_F² = N Σ σᵢ².
 * With G > 1 or λ > 0 these hold for the pooled / regularized statistics. */
#ifndef RS_COVSTATS_H
#define RS_COVSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "linalg.h"

/* Tokens summed in float32 before a flush into the float64 accumulator. */
#define RS_COVSTATS_FLUSH 4096

struct rs_covstats;

/* New statistics for dimension n and `groups` ≥ 1 groups; NULL with *cause set when
 * out of memory or the sizes overflow. */
struct rs_covstats *rs_covstats_new(size_t n, size_t groups, char **cause);

/* Free (NULL is a no-op). */
void rs_covstats_free(struct rs_covstats *cs);

/* Start accumulating group g (0 ≤ g < groups, not yet done, no other group open). */
int rs_covstats_begin_group(struct rs_covstats *cs, size_t g, char **cause);

/* Add n_tok activations x (n_tok×n row-major float32) to the open group.  A batch with a
 * non-finite value is refused whole (RS_EINVAL) and nothing of it is added. */
int rs_covstats_add(struct rs_covstats *cs, const float *x, size_t n_tok, char **cause);

/* Close the open group (RS_EINVAL if it has no tokens) and pool it. */
int rs_covstats_end_group(struct rs_covstats *cs, char **cause);

/* After every group has ended: complete the pooled statistics.  The getters below return
 * NULL / fail before this.  The accumulators are kept for rs_covstats_reset. */
int rs_covstats_finish(struct rs_covstats *cs, char **cause);

/* Distributed pooling (calib.c over several processes, each holding whole groups): the pooled
 * sums of the groups ended here, for an element-wise sum across processes in place: *cov
 * (n×n, upper triangle, the lower one zero), *mean (n) and *gmeans (G×n, rows of the groups
 * not ended here zeroed by this call).  No group may be open. */
int rs_covstats_partial(struct rs_covstats *cs, double **cov, double **mean, double **gmeans,
    char **cause);

/* After the sums of rs_covstats_partial were replaced by the totals over every process:
 * every group counts as done, the token count becomes `tokens`, and finish() completes. */
int rs_covstats_finish_reduced(struct rs_covstats *cs, uint64_t tokens, char **cause);

/* Start a new accumulation with the same n and G in the same buffers (a calibration reuses
 * one set per input for every layer: fresh n×n buffers cost a page fault per 4 KiB). */
void rs_covstats_reset(struct rs_covstats *cs);

/* Input dimension n. */
size_t rs_covstats_dim(const struct rs_covstats *cs);

/* Tokens added so far over all groups. */
uint64_t rs_covstats_tokens(const struct rs_covstats *cs);

/* The pooled centred covariance C (n×n, symmetric, both triangles), borrowed; NULL
 * before finish(). */
const double *rs_covstats_cov(const struct rs_covstats *cs);

/* The pooled mean μ (n), borrowed; NULL before finish(). */
const double *rs_covstats_mean(const struct rs_covstats *cs);

/* The pooled uncentred Gram matrix into g (n×n, caller-owned). */
int rs_covstats_gram(const struct rs_covstats *cs, double *g, char **cause);

/* Feature spectrum: singular values of W·L, descending, into sv[min(m, n)], for the m×n
 * float32 W (not modified) and the n×n lower-triangular L (from rs_linalg_chol_reg on the
 * centred covariance or on the Gram), through rs_linalg_svals_gram_f64 as the weight
 * spectra.  Uses ws's aux buffer (m×n doubles). */
int rs_covstats_feature_spectrum(struct rs_linalg_ws *ws, const float *w, size_t m,
    size_t n, const double *l, double *sv, char **cause);

/* Feature-PCA factors at rank k (1 ≤ k ≤ min(m, n)) for the CENTRED variant, L from the
 * centred covariance, mu the mean (n): uk (m×k) the top-k left singular vectors of W·L
 * (= eigenvectors of W C Wᵀ), a = U_kᵀ W (k×n), bias b = W μ − uk·(a·μ) (m), which is
 * (I − U_k U_kᵀ) W μ; sv (min(m, n)) receives the spectrum when not NULL.
 * Ŵx + b = uk·(a·x) + b.  Both from the smaller-side Gram of W·L (rs_linalg_gram_eig_f64):
 * m ≤ n: U from (W L)(W L)ᵀ, a = U_kᵀ W from W itself; m > n: V from (W L)ᵀ(W L),
 * uk = W L V_k Σ_k⁻¹ and a = Σ_k V_kᵀ L⁻¹ (the same in exact arithmetic; uk·a is then
 * W L V_k V_kᵀ L⁻¹, an exact projection in the feature norm). */
int rs_covstats_feature_pca(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n,
    const double *l, const double *mu, size_t k, double *uk, double *a, double *b,
    double *sv, char **cause);

/* Whitened-SVD factors at rank k for the UNCENTRED variant (SVD-LLM), L from the Gram:
 * with W·L = U Σ Vᵀ, us = U_k Σ_k (m×k) and vtl = V_kᵀ L⁻¹ (k×n), Ŵ = us·vtl; sv as
 * above.  U Σ and Vᵀ come from rs_linalg_gram_factors_f64 of W·L. */
int rs_covstats_feature_whiten(struct rs_linalg_ws *ws, const float *w, size_t m,
    size_t n, const double *l, size_t k, double *us, double *vtl, double *sv,
    char **cause);

#endif
