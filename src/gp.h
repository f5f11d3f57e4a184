/* gp.h: Gaussian-process regression with a Matérn 5/2 ARD kernel (methods.md §4).
 *
 * Model (Rasmussen and Williams, "Gaussian Processes for Machine Learning", 2006, ch. 2, 4, 5):
 * - inputs x ∈ [0,1]^d (the caller normalizes); n observations X (n×d, row-major), y (n);
 * - y is standardized internally, ys = (y − ȳ)/s with ȳ the mean and s the POPULATION
 *   standard deviation (divide by n; s = 1 when all y are equal); every prediction is
 *   reported back in the original units of y;
 * - kernel on the standardized scale, r² = Σᵢ (xᵢ − x'ᵢ)²/ℓᵢ²:
 *     k(x, x') = σ_f² (1 + √5 r + 5r²/3) exp(−√5 r),   K = k(X, X) + σ_n² I;
 * - hyperparameters θ (d + 2 values, LOG scale): θ = [log ℓ₁ … log ℓ_d, log σ_f², log σ_n²];
 *   σ_f² and σ_n² are in units of the standardized y (so σ_f² ≈ 1 is typical); σ_n² has a
 *   floor RS_GP_NOISE_FLOOR (1e-6 of the standardized variance) for numerical stability;
 * - the posterior is that of the latent f (noise-free):
 *     μ(x) = ȳ + s·k*ᵀK⁻¹ys,    var(x) = s²·(σ_f² − k*ᵀK⁻¹k*),    k* = k(X, x);
 * - the log marginal likelihood is that of ys:
 *     log p(ys|X, θ) = −½ ysᵀK⁻¹ys − ½ log|K| − (n/2) log 2π.
 *
 * A struct rs_gp is single-threaded: predictions use scratch buffers inside it. */
#ifndef RS_GP_H
#define RS_GP_H

#include <stddef.h>

struct rs_rng;
struct rs_gp;

#define RS_GP_NOISE_FLOOR 1e-6  /* minimum σ_n², standardized units */

/* Box of the hyperparameter search, natural units (θ is the log of these). */
#define RS_GP_ELL_MIN 1e-2
#define RS_GP_ELL_MAX 1e1
#define RS_GP_SF2_MIN 1e-2
#define RS_GP_SF2_MAX 1e2
#define RS_GP_SN2_MAX 1.0

/* A new GP over d ≥ 1 inputs with default hyperparameters (ℓᵢ = 0.5, σ_f² = 1,
 * σ_n² = 1e-4); NULL when out of memory or d is 0 or absurdly large. */
struct rs_gp *rs_gp_new(size_t d);

/* Free the GP (NULL is a no-op). */
void rs_gp_free(struct rs_gp *gp);

/* Number of hyperparameters, d + 2. */
size_t rs_gp_nhypers(const struct rs_gp *gp);

/* Copy the current θ (log scale, layout above) into theta[d + 2]. */
void rs_gp_get_hypers(const struct rs_gp *gp, double *theta);

/* Set θ (log scale); log σ_n² below log RS_GP_NOISE_FLOOR is raised to the floor.  If
 * data is loaded the posterior is refactored.  RS_EINVAL for a non-finite value,
 * RS_EUNSUPPORTED if K is numerically not positive definite even with jitter. */
int rs_gp_set_hypers(struct rs_gp *gp, const double *theta, char **cause);

/* Load n ≥ 1 observations (X is n×d row-major, copied; y[n] copied) and, if fit_hypers,
 * choose θ maximizing the log marginal likelihood: L-BFGS (NLopt) with analytic gradients
 * in log space inside the box above, started from the current θ and from 4 random points
 * drawn from rng (rng may be NULL: the current θ only); BOBYQA retries a start where L-BFGS
 * fails.  The best θ found is kept.  Non-finite X or y: RS_EINVAL.  RS_ENOMEM on
 * allocation failure; the GP keeps its previous data on any error. */
int rs_gp_fit(struct rs_gp *gp, const double *X, const double *y, size_t n,
    int fit_hypers, struct rs_rng *rng, char **cause);

/* Number of observations loaded (0 before the first successful fit). */
size_t rs_gp_count(const struct rs_gp *gp);

/* Posterior mean and variance of f at x[d], original units of y.  RS_EINVAL before any
 * data is loaded. */
int rs_gp_predict(struct rs_gp *gp, const double *x, double *mu, double *var);

/* As rs_gp_predict, also the gradients dmu[d] = ∂μ/∂x and dvar[d] = ∂var/∂x. */
int rs_gp_predict_grad(struct rs_gp *gp, const double *x, double *mu, double *var,
    double *dmu, double *dvar);

/* Log marginal likelihood of the loaded (standardized) data at θ (theta NULL: the current
 * θ) into *lml, and its gradient ∂/∂θ into grad[d + 2] if grad is not NULL.  The GP's own
 * θ and posterior are left unchanged.  RS_EINVAL before any data is loaded,
 * RS_EUNSUPPORTED if K is not positive definite. */
int rs_gp_log_marginal(struct rs_gp *gp, const double *theta, double *lml, double *grad,
    char **cause);

#endif
