/* spectrum.h: summaries of a singular-value spectrum (methods.md §1) and O(1) energy /
 * error look-ups at any rank.
 *
 * Input everywhere: σ₁ ≥ σ₂ ≥ … ≥ σ_r ≥ 0 (r = min(m, n)) as doubles, e.g. from
 * rs_linalg_svals_f32, for an m×n matrix.  The same functions serve the feature spectra of
 * covstats.h (σ of W·S), where "energy" is the output covariance energy. */
#ifndef RS_SPECTRUM_H
#define RS_SPECTRUM_H

#include <stddef.h>

/* Per-matrix summaries.  Where WeightWatcher reports the same quantity under another
 * convention, both are given (see the comments in spectrum.c for each formula). */
struct rs_spectrum_stats {
	size_t m, n, r;         /* shape and number of singular values */
	double fro;             /* ‖W‖_F = sqrt(Σσ²) */
	double log10_fro;
	double spec;            /* ‖W‖₂ = σ₁ */
	double log10_spec;
	double stable_rank;     /* Σσ²/σ₁² */
	double entropy;         /* H = −Σ pᵢ ln pᵢ, pᵢ = σᵢ²/Σσ² (nats) */
	double eff_rank;        /* exp(H) */
	double eff_rank_rv;     /* Roy–Vetterli: exp(−Σ qᵢ ln qᵢ), qᵢ = σᵢ/Σσ */
	size_t num_rank;        /* #σ > σ₁·max(m,n)·DBL_EPSILON (numpy matrix_rank) */
	double entropy_ww;      /* WeightWatcher's "entropy": H / ln(num_rank) */
	size_t rank90;          /* smallest k with energy(k) ≥ 0.90 */
	size_t rank95;
	size_t rank99;
	double break_even;      /* m·n/(m+n): factorizing pays only below this rank */

	/* Power-law fit of the tail of the eigenvalue density of X = WᵀW (λᵢ = σᵢ²,
	 * WeightWatcher's default normalize=False), WeightWatcher's own fit (WW_powerlaw.py). */
	int alpha_ok;           /* 0: fewer than 10 eigenvalues above 1e-5, no fit */
	double alpha;           /* α of p(λ) ∝ λ^−α for λ ≥ xmin */
	double alpha_xmin;      /* xmin (an eigenvalue) minimising D */
	double alpha_xmax;      /* largest eigenvalue */
	double alpha_D;         /* Kolmogorov–Smirnov distance at xmin */
	double alpha_sigma;     /* (α−1)/sqrt(n_tail), the fit's standard error */
	size_t alpha_ntail;     /* eigenvalues ≥ xmin ("num_pl_spikes") */
	double alpha_weighted;  /* α·log10(λ_max) */
	double log_alpha_norm;  /* log10(Σ λᵢ^α) */
};

/* Compute every summary of the descending spectrum sv[r] of an m×n matrix into *st.
 * RS_EINVAL if r != min(m, n), or sv is not descending, negative or non-finite, or
 * σ₁ = 0; RS_ENOMEM if the fit's r-element scratch cannot be allocated. */
int rs_spectrum_stats(const double *sv, size_t r, size_t m, size_t n,
    struct rs_spectrum_stats *st, char **cause);

/* WeightWatcher's power-law fit on eigenvalues ev[count] sorted ASCENDING (all positive):
 * for each candidate xmin = ev[i] (i < count−1), α = 1 + n_i / Σ_{j≥i} ln(ev[j]/xmin)
 * (continuous maximum likelihood, n_i = count − i) and the Kolmogorov–Smirnov distance D
 * between the fitted CDF 1 − (λ/xmin)^(1−α) and the empirical one; the xmin with the
 * smallest D wins (Clauset, Shalizi & Newman 2009).  RS_EINVAL if count < 2 or ev is
 * not ascending and positive.  Exposed for tests and for other spectra. */
int rs_spectrum_powerlaw(const double *ev, size_t count, double *alpha, double *xmin,
    double *D, double *sigma, size_t *ntail, char **cause);

/* Prefix sums of σ² for instant energy/error previews at any rank. */
struct rs_energy;

/* Build the look-up for the descending spectrum sv[r] (copied: sv may be freed after).
 * NULL with *cause set on bad input (as rs_spectrum_stats) or out of memory. */
struct rs_energy *rs_energy_new(const double *sv, size_t r, char **cause);

/* Free (NULL is a no-op). */
void rs_energy_free(struct rs_energy *e);

/* Number of singular values r. */
size_t rs_energy_rank_max(const struct rs_energy *e);

/* Σσᵢ² over all i. */
double rs_energy_total(const struct rs_energy *e);

/* energy(k) = Σ_{i≤k} σᵢ² / Σσᵢ², k clamped to [0, r]; O(1). */
double rs_energy_kept(const struct rs_energy *e, size_t k);

/* Relative Frobenius error of the best rank-k approximation,
 * sqrt(Σ_{i>k} σᵢ² / Σσᵢ²) = sqrt(1 − energy(k)) computed from the tail sum (no
 * cancellation); k clamped to [0, r]; O(1).  For a feature spectrum this is the exact
 * relative feature error ‖WX − ŴX‖_F / ‖WX‖_F (see covstats.h). */
double rs_energy_error(const struct rs_energy *e, size_t k);

/* Smallest k with energy(k) ≥ target (target in [0, 1]); O(log r). */
size_t rs_energy_rank_for(const struct rs_energy *e, double target);

#endif
