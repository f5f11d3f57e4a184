/* analysis.h: the session's store of spectra (methods.md §1-2).
 *
 * Per decoder matrix (layer, q..down) and per kind the store holds one rs_spec: the singular
 * values, their summaries (rs_spectrum_stats) and the O(1) energy/error look-up (rs_energy).
 * Kinds: the weight spectrum σ(W), and the two feature spectra σ(W·S), S Sᵀ = C, with C the
 * pooled centred covariance (seed paper 1) or the uncentred Gram (SVD-LLM), together with the
 * Cholesky regularization λ that was applied (0: none).
 *
 * Look-ups by (layer, matrix, kind) are an array index and by name a short parse: cheap enough
 * for a user interface to call on every keystroke.  Nothing here computes an SVD of a model
 * matrix; spectra-run.h fills the store.  The store is not thread-safe: one thread puts.
 *
 * Accuracy of a record of float32 data (rs_linalg_svals_f32): every σ ≥ 1e-3·σ₁ within 1e-4
 * relative, the smaller ones within 1e-6·σ₁ absolute (the float64 Gram's eigenvalues carry an
 * absolute error of a few k·2⁻⁵³·σ₁², linalg.h); the summaries and rs_spec_error() are computed from these σ in double, so their
 * accuracy is what these bounds give them (tests/test-analysis.c derives it), nothing more. */
#ifndef RS_ANALYSIS_H
#define RS_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "spectrum.h"

enum rs_spec_kind {
	RS_SPEC_WEIGHT,         /* σ(W) */
	RS_SPEC_CENTRED,        /* σ(W·S), S Sᵀ = pooled centred covariance */
	RS_SPEC_UNCENTRED,      /* σ(W·S), S Sᵀ = pooled uncentred Gram */
	RS_SPEC_KINDS
};

struct rs_spec {
	enum rs_spec_kind kind;
	size_t m, n, r;                 /* shape, r = min(m, n) */
	double *sv;                     /* r singular values, descending */
	struct rs_spectrum_stats st;
	struct rs_energy *energy;
	double lambda;                  /* feature kinds: regularization λ (0 = none) */
};

/* "weight", "centred", "uncentred". */
const char *rs_spec_kind_name(enum rs_spec_kind k);
/* Parse a kind name (also "feature" = centred); -1 if unknown. */
int rs_spec_kind_parse(const char *s);

/* Build a spectrum record from the descending sv[r] of an m×n matrix (sv is copied): computes
 * the summaries and the energy look-up.  Thread-safe (touches no shared state).  NULL with
 * *cause set on bad input or out of memory. */
struct rs_spec *rs_spec_new(enum rs_spec_kind kind, const double *sv, size_t r, size_t m,
    size_t n, double lambda, char **cause);
void rs_spec_free(struct rs_spec *s);

/* Singular values of the m×n float32 matrix w into a new weight-spectrum record
 * (rs_linalg_svals_f32, ws reused).  Thread-safe with one ws per thread. */
struct rs_linalg_ws;
struct rs_spec *rs_spec_of_matrix(struct rs_linalg_ws *ws, const float *w, size_t m, size_t n,
    char **cause);

struct rs_analysis;

/* An empty store for a model with n_layers layers. */
struct rs_analysis *rs_analysis_new(int n_layers, char **cause);
void rs_analysis_free(struct rs_analysis *a);
int rs_analysis_n_layers(const struct rs_analysis *a);

/* Insert (taking ownership of s; a previous record of the same slot is freed).  RS_EINVAL if
 * the slot is out of range (s is freed then too). */
int rs_analysis_put(struct rs_analysis *a, int layer, enum rs_tkind mat, struct rs_spec *s,
    char **cause);

/* The record of a slot, or NULL.  O(1). */
const struct rs_spec *rs_analysis_get(const struct rs_analysis *a, int layer,
    enum rs_tkind mat, enum rs_spec_kind kind);

/* Parse a canonical decoder-matrix name "L<n>.<q|k|v|o|gate|up|down>"; 0 or RS_EINVAL. */
int rs_analysis_parse_name(const char *name, int *layer, enum rs_tkind *mat);

/* The record by canonical name, or NULL (unknown name or not computed). */
const struct rs_spec *rs_analysis_find(const struct rs_analysis *a, const char *name,
    enum rs_spec_kind kind);

/* Number of records of a kind. */
size_t rs_analysis_count(const struct rs_analysis *a, enum rs_spec_kind kind);

/* Drop every record of a kind (e.g. the feature spectra when the calibration changes). */
void rs_analysis_drop_kind(struct rs_analysis *a, enum rs_spec_kind kind);

/* Relative error at rank k from a record (rs_energy_error); -1 if s is NULL. */
double rs_spec_error(const struct rs_spec *s, size_t k);

/* Content hash of a decoder matrix's mapped bytes (rs_hash64), memoised per slot: found on the
 * first call for a slot through rs_tensor_content_hash (cache.h: a quick-key hit reads only
 * sampled blocks).  Later calls in the session return the memo without looking at the file,
 * except with trust_quick 0, which hashes every byte again.  Different slots may be asked
 * from different threads at once; the same slot from one thread at a time. */
struct rs_cache;
struct rs_hash_cost;
uint64_t rs_analysis_tensor_hash(struct rs_analysis *a, struct rs_cache *c,
    const struct rs_model *m, int trust_quick, const struct rs_tensor *t, int layer,
    enum rs_tkind mat);
/* The same hash only when it is known without reading the tensor: the memo or the cache's
 * quick-key entry (1, *h set); 0 otherwise (nothing is hashed). */
int rs_analysis_tensor_known_hash(struct rs_analysis *a, struct rs_cache *c,
    const struct rs_model *m, const struct rs_tensor *t, int layer, enum rs_tkind mat,
    uint64_t *h);

/* What finding the slot's hash cost, reported once: 1 and *cost set the first time after the
 * hash was found; 0 if it has not been found or was already reported (a memo costs nothing). */
int rs_analysis_hash_cost_take(struct rs_analysis *a, int layer, enum rs_tkind mat,
    struct rs_hash_cost *cost);

#endif
