/* gp.c: Gaussian-process regression, Matérn 5/2 ARD kernel, hyperparameters by maximum
 * marginal likelihood (Rasmussen and Williams 2006, algorithm 2.1 and eq. 5.9).
 *
 * The matrices are small (n is a number of trials, tens to a few hundred), so the Cholesky
 * factorization and the triangular solves are written out here in double precision rather
 * than routed through LAPACK: no workspace queries, no allocation per call.
 *
 * Matérn 5/2 with s = √5 r:  k = σ_f² (1 + s + s²/3) e^{−s}.  Its derivatives share the
 * factor g = (5/3) σ_f² (1 + s) e^{−s}, which is smooth at r = 0:
 *   ∂k/∂ log ℓⱼ = g (xⱼ − x'ⱼ)²/ℓⱼ²,    ∂k/∂xⱼ = −g (xⱼ − x'ⱼ)/ℓⱼ²,    ∂k/∂ log σ_f² = k. */
#include "config.h"

#include "gp.h"

#include <math.h>
#include <nlopt.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "rng.h"
#include "status.h"

#define GP_MAX_N ((size_t)1 << 20)
#define GP_MAX_D ((size_t)1 << 16)
#define GP_RESTARTS 4           /* random starts of the hyperparameter search */
#define GP_MAXEVAL 300          /* objective evaluations per local search */
#define GP_BAD 1e30             /* objective value where K is not positive definite */
#define LOG_2PI 1.8378770664093454835606594728112

/* One data set with its factorization and scratch, all in one block of doubles. */
struct gp_data {
	size_t n;
	double *block;
	double *X;              /* (n, d) inputs */
	double *ys;             /* (n) standardized outputs */
	double *L;              /* (n, n) lower Cholesky factor of K, current θ */
	double *alpha;          /* (n) K⁻¹ ys, current θ */
	double *kv;             /* (n) scratch: k* */
	double *vv;             /* (n) scratch: L⁻¹k*, then K⁻¹k* */
	double *dk;             /* (n, d) scratch: ∂k*ᵢ/∂xⱼ */
	double *Lw;             /* (n, n) Cholesky factor for rs_gp_log_marginal */
	double *aw;             /* (n) K⁻¹ys for rs_gp_log_marginal */
	double *Kinv;           /* (n, n) K⁻¹ for the likelihood gradient */
};

struct rs_gp {
	size_t d;
	double *theta;          /* (d + 2) log ℓ, log σ_f², log σ_n² */
	double *inv_l2;         /* (d) 1/ℓⱼ² for theta */
	double *inv_l2w;        /* (d) scratch: 1/ℓⱼ² for a trial θ */
	double *thetaw;         /* (d + 2) scratch: a θ being tried */
	double ymean, ystd;
	struct gp_data cur;
};

/* Matérn 5/2 between a[d] and b[d]: returns k, stores the derivative factor g in *g. */
static double
matern(const double *a, const double *b, size_t d, const double *inv_l2, double sf2,
    double *g)
{
	double r2 = 0.0, s, e;
	size_t j;

	for (j = 0; j < d; j++) {
		double t = a[j] - b[j];
		r2 += t * t * inv_l2[j];
	}
	s = sqrt(5.0 * r2);
	e = exp(-s);
	if (g != NULL)
		*g = (5.0 / 3.0) * sf2 * (1.0 + s) * e;
	return sf2 * (1.0 + s + s * s / 3.0) * e;
}

/* In-place lower Cholesky of the n×n row-major A (lower triangle read); 0 or -1. */
static int
cholesky(double *A, size_t n)
{
	size_t i, j, k;

	for (j = 0; j < n; j++) {
		double s = A[j * n + j];

		for (k = 0; k < j; k++)
			s -= A[j * n + k] * A[j * n + k];
		if (!(s > 0.0) || !isfinite(s))
			return -1;
		s = sqrt(s);
		A[j * n + j] = s;
		for (i = j + 1; i < n; i++) {
			double t = A[i * n + j];

			for (k = 0; k < j; k++)
				t -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = t / s;
		}
		for (i = 0; i < j; i++)
			A[i * n + j] = 0.0;     /* keep the upper triangle clean */
	}
	return 0;
}

/* Solve L z = b in place (L lower n×n). */
static void
solve_lower(const double *L, size_t n, double *b)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		double t = b[i];

		for (k = 0; k < i; k++)
			t -= L[i * n + k] * b[k];
		b[i] = t / L[i * n + i];
	}
}

/* Solve Lᵀ z = b in place (L lower n×n). */
static void
solve_upper_t(const double *L, size_t n, double *b)
{
	size_t i, k;

	for (i = n; i-- > 0;) {
		double t = b[i];

		for (k = i + 1; k < n; k++)
			t -= L[k * n + i] * b[k];
		b[i] = t / L[i * n + i];
	}
}

/* 1/ℓⱼ² for θ into inv_l2[d]. */
static void
inv_lengths(const double *theta, size_t d, double *inv_l2)
{
	size_t j;

	for (j = 0; j < d; j++)
		inv_l2[j] = exp(-2.0 * theta[j]);
}

/* Build K for θ into L and factor it, raising the diagonal jitter if needed; then
 * alpha = K⁻¹ys.  0, or -1 when K stays indefinite. */
static int
factor(const struct gp_data *dt, size_t d, const double *theta, const double *inv_l2,
    double *L, double *alpha)
{
	size_t n = dt->n, i, j;
	double sf2 = exp(theta[d]), sn2 = exp(theta[d + 1]);
	double jitter = 0.0;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		for (i = 0; i < n; i++) {
			for (j = 0; j <= i; j++)
				L[i * n + j] = matern(dt->X + i * d, dt->X + j * d, d, inv_l2,
				    sf2, NULL);
			L[i * n + i] += sn2 + jitter;
		}
		if (cholesky(L, n) == 0)
			break;
		jitter = jitter == 0.0 ? 1e-9 * sf2 : jitter * 100.0;
	}
	if (tries == 4)
		return -1;
	memcpy(alpha, dt->ys, n * sizeof *alpha);
	solve_lower(L, n, alpha);
	solve_upper_t(L, n, alpha);
	return 0;
}

/* Point the fields of dt into a fresh block for n points of dimension d. */
static int
data_alloc(struct gp_data *dt, size_t n, size_t d)
{
	size_t total;

	/* 3n² + 2nd + 5n doubles; n ≤ 2²⁰ and d ≤ 2¹⁶ keep 3n + 2d + 5 small */
	memset(dt, 0, sizeof *dt);
	if (n > SIZE_MAX / sizeof(double) / (3 * n + 2 * d + 5))
		return -1;
	total = n * (3 * n + 2 * d + 5);
	if ((dt->block = rs_mallocarray(total, sizeof(double))) == NULL)
		return -1;
	dt->n = n;
	dt->X = dt->block;
	dt->ys = dt->X + n * d;
	dt->L = dt->ys + n;
	dt->alpha = dt->L + n * n;
	dt->kv = dt->alpha + n;
	dt->vv = dt->kv + n;
	dt->dk = dt->vv + n;
	dt->Lw = dt->dk + n * d;
	dt->aw = dt->Lw + n * n;
	dt->Kinv = dt->aw + n;
	return 0;
}

/* A new GP over d inputs with default hyperparameters. */
struct rs_gp *
rs_gp_new(size_t d)
{
	struct rs_gp *gp;
	size_t j;

	if (d == 0 || d > GP_MAX_D)
		return NULL;
	if ((gp = rs_calloc(1, sizeof *gp)) == NULL)
		return NULL;
	gp->d = d;
	gp->theta = rs_mallocarray(d + 2, sizeof(double));
	gp->inv_l2 = rs_mallocarray(d, sizeof(double));
	gp->inv_l2w = rs_mallocarray(d, sizeof(double));
	gp->thetaw = rs_mallocarray(d + 2, sizeof(double));
	if (gp->theta == NULL || gp->inv_l2 == NULL || gp->inv_l2w == NULL ||
	    gp->thetaw == NULL) {
		rs_gp_free(gp);
		return NULL;
	}
	for (j = 0; j < d; j++)
		gp->theta[j] = log(0.5);
	gp->theta[d] = 0.0;
	gp->theta[d + 1] = log(1e-4);
	inv_lengths(gp->theta, d, gp->inv_l2);
	gp->ymean = 0.0;
	gp->ystd = 1.0;
	return gp;
}

/* Free the GP. */
void
rs_gp_free(struct rs_gp *gp)
{
	if (gp == NULL)
		return;
	rs_free(gp->cur.block);
	rs_free(gp->theta);
	rs_free(gp->inv_l2);
	rs_free(gp->inv_l2w);
	rs_free(gp->thetaw);
	rs_free(gp);
}

/* Number of hyperparameters. */
size_t
rs_gp_nhypers(const struct rs_gp *gp)
{
	return gp->d + 2;
}

/* Number of observations loaded. */
size_t
rs_gp_count(const struct rs_gp *gp)
{
	return gp->cur.n;
}

/* Copy the current θ out. */
void
rs_gp_get_hypers(const struct rs_gp *gp, double *theta)
{
	memcpy(theta, gp->theta, (gp->d + 2) * sizeof *theta);
}

/* Set θ and refactor the posterior if data is loaded. */
int
rs_gp_set_hypers(struct rs_gp *gp, const double *theta, char **cause)
{
	size_t d = gp->d, n = gp->cur.n, j;
	double *th = gp->thetaw;

	for (j = 0; j < d + 2; j++)
		if (!isfinite(theta[j]) || fabs(theta[j]) > 700.0)
			return rs_fail(cause, RS_EINVAL,
			    "gp: hyperparameter %zu is %g (log scale)", j + 1, theta[j]);
	memcpy(th, theta, (d + 2) * sizeof *th);
	if (th[d + 1] < log(RS_GP_NOISE_FLOOR))
		th[d + 1] = log(RS_GP_NOISE_FLOOR);
	inv_lengths(th, d, gp->inv_l2w);
	if (n > 0) {
		/* Factor into the work buffers first so a failure leaves the GP as it was. */
		if (factor(&gp->cur, d, th, gp->inv_l2w, gp->cur.Lw, gp->cur.aw) != 0)
			return rs_fail(cause, RS_EUNSUPPORTED,
			    "gp: kernel matrix not positive definite for these hyperparameters");
		memcpy(gp->cur.L, gp->cur.Lw, n * n * sizeof(double));
		memcpy(gp->cur.alpha, gp->cur.aw, n * sizeof(double));
	}
	memcpy(gp->theta, th, (d + 2) * sizeof *th);
	memcpy(gp->inv_l2, gp->inv_l2w, d * sizeof(double));
	return 0;
}

/* Log marginal likelihood of dt at θ and its gradient (grad may be NULL), using the work
 * buffers of dt and gp->inv_l2w.  0, or -1 if K is not positive definite. */
static int
lml_eval(struct rs_gp *gp, struct gp_data *dt, const double *theta, double *lml,
    double *grad)
{
	size_t d = gp->d, n = dt->n, a, b, c, j;
	double sf2 = exp(theta[d]), sn2 = exp(theta[d + 1]);
	double *L = dt->Lw, *al = dt->aw, *Ki = dt->Kinv, *z = dt->kv;
	double fit = 0.0, logdet = 0.0;

	inv_lengths(theta, d, gp->inv_l2w);
	if (factor(dt, d, theta, gp->inv_l2w, L, al) != 0)
		return -1;
	for (a = 0; a < n; a++) {
		fit += dt->ys[a] * al[a];
		logdet += log(L[a * n + a]);
	}
	*lml = -0.5 * fit - logdet - 0.5 * (double)n * LOG_2PI;
	if (grad == NULL)
		return 0;

	/* K⁻¹ column by column: L z = e_c, Lᵀ w = z. */
	for (c = 0; c < n; c++) {
		memset(z, 0, n * sizeof *z);
		z[c] = 1.0;
		solve_lower(L, n, z);
		solve_upper_t(L, n, z);
		for (a = 0; a < n; a++)
			Ki[a * n + c] = z[a];
	}
	/* ∂lml/∂θⱼ = ½ Σ_ab (αₐα_b − K⁻¹ₐ_b) ∂Kₐ_b/∂θⱼ, off-diagonal pairs counted twice. */
	memset(grad, 0, (d + 2) * sizeof *grad);
	for (a = 0; a < n; a++) {
		const double *xa = dt->X + a * d;

		for (b = 0; b < a; b++) {
			const double *xb = dt->X + b * d;
			double g, k, w;

			k = matern(xa, xb, d, gp->inv_l2w, sf2, &g);
			w = al[a] * al[b] - Ki[a * n + b];      /* ×2 pairs ×½ */
			for (j = 0; j < d; j++) {
				double t = xa[j] - xb[j];
				grad[j] += w * g * t * t * gp->inv_l2w[j];
			}
			grad[d] += w * k;
		}
		/* diagonal: k(x, x) = σ_f², no length-scale dependence */
		grad[d] += 0.5 * (al[a] * al[a] - Ki[a * n + a]) * sf2;
		grad[d + 1] += 0.5 * (al[a] * al[a] - Ki[a * n + a]) * sn2;
	}
	return 0;
}

/* Log marginal likelihood of the loaded data at θ (NULL: current) and its gradient. */
int
rs_gp_log_marginal(struct rs_gp *gp, const double *theta, double *lml, double *grad,
    char **cause)
{
	size_t j;

	if (gp->cur.n == 0)
		return rs_fail(cause, RS_EINVAL, "gp: no data loaded");
	if (theta == NULL)
		theta = gp->theta;
	for (j = 0; j < gp->d + 2; j++)
		if (!isfinite(theta[j]) || fabs(theta[j]) > 700.0)
			return rs_fail(cause, RS_EINVAL,
			    "gp: hyperparameter %zu is %g (log scale)", j + 1, theta[j]);
	if (lml_eval(gp, &gp->cur, theta, lml, grad) != 0)
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "gp: kernel matrix not positive definite for these hyperparameters");
	return 0;
}

/* State of one hyperparameter search: the data and the best point seen. */
struct fit_ctx {
	struct rs_gp *gp;
	struct gp_data *dt;
	double best_f;          /* smallest −lml seen */
	double *best;           /* (d + 2) θ of best_f */
};

/* NLopt objective: −lml(θ) and its gradient. */
static double
fit_objective(unsigned m, const double *theta, double *grad, void *ud)
{
	struct fit_ctx *fc = ud;
	double lml;
	unsigned j;

	if (lml_eval(fc->gp, fc->dt, theta, &lml, grad) != 0 || !isfinite(lml)) {
		if (grad != NULL)
			memset(grad, 0, m * sizeof *grad);
		return GP_BAD;
	}
	if (grad != NULL)
		for (j = 0; j < m; j++)
			grad[j] = -grad[j];
	if (-lml < fc->best_f) {
		fc->best_f = -lml;
		memcpy(fc->best, theta, m * sizeof *theta);
	}
	return -lml;
}

/* Run one local search of the hyperparameters from x0 with algorithm alg. */
static nlopt_result
fit_local(struct fit_ctx *fc, nlopt_algorithm alg, const double *lb, const double *ub,
    double *x0)
{
	unsigned m = (unsigned)(fc->gp->d + 2);
	nlopt_opt opt;
	nlopt_result r;
	double f;

	if ((opt = nlopt_create(alg, m)) == NULL)
		return NLOPT_OUT_OF_MEMORY;
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_upper_bounds(opt, ub);
	nlopt_set_min_objective(opt, fit_objective, fc);
	nlopt_set_maxeval(opt, GP_MAXEVAL);
	nlopt_set_ftol_rel(opt, 1e-10);
	nlopt_set_xtol_rel(opt, 1e-8);
	r = nlopt_optimize(opt, x0, &f);
	nlopt_destroy(opt);
	return r;
}

/* Load observations and optionally fit the hyperparameters. */
int
rs_gp_fit(struct rs_gp *gp, const double *X, const double *y, size_t n, int fit_hypers,
    struct rs_rng *rng, char **cause)
{
	size_t d = gp->d, m = d + 2, i, j;
	struct gp_data dt;
	struct fit_ctx fc;
	double mean = 0.0, var = 0.0, sd;
	double *lb = NULL, *ub = NULL, *x0 = NULL, *best = NULL, *start = NULL;
	int rc = 0, s;

	if (n == 0)
		return rs_fail(cause, RS_EINVAL, "gp: no observations");
	if (n > GP_MAX_N)
		return rs_fail(cause, RS_EUNSUPPORTED, "gp: %zu observations (max %zu)",
		    n, GP_MAX_N);
	for (i = 0; i < n; i++) {
		if (!isfinite(y[i]))
			return rs_fail(cause, RS_EINVAL, "gp: observation %zu is %g",
			    i + 1, y[i]);
		for (j = 0; j < d; j++)
			if (!isfinite(X[i * d + j]))
				return rs_fail(cause, RS_EINVAL,
				    "gp: input %zu, coordinate %zu is %g",
				    i + 1, j + 1, X[i * d + j]);
	}
	if (data_alloc(&dt, n, d) != 0)
		return rs_fail(cause, RS_ENOMEM, "gp: out of memory for %zu observations", n);

	/* standardize y: mean and population standard deviation */
	for (i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)n;
	for (i = 0; i < n; i++)
		var += (y[i] - mean) * (y[i] - mean);
	sd = sqrt(var / (double)n);
	if (!(sd > 0.0) || !isfinite(sd))
		sd = 1.0;
	memcpy(dt.X, X, n * d * sizeof *X);
	for (i = 0; i < n; i++)
		dt.ys[i] = (y[i] - mean) / sd;

	memcpy(gp->thetaw, gp->theta, m * sizeof(double));
	if (fit_hypers) {
		lb = rs_mallocarray(m, sizeof *lb);
		ub = rs_mallocarray(m, sizeof *ub);
		x0 = rs_mallocarray(m, sizeof *x0);
		best = rs_mallocarray(m, sizeof *best);
		start = rs_mallocarray(m, sizeof *start);
		if (lb == NULL || ub == NULL || x0 == NULL || best == NULL || start == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "gp: out of memory");
			goto out;
		}
		for (j = 0; j < d; j++) {
			lb[j] = log(RS_GP_ELL_MIN);
			ub[j] = log(RS_GP_ELL_MAX);
		}
		lb[d] = log(RS_GP_SF2_MIN);
		ub[d] = log(RS_GP_SF2_MAX);
		lb[d + 1] = log(RS_GP_NOISE_FLOOR);
		ub[d + 1] = log(RS_GP_SN2_MAX);
		fc.gp = gp;
		fc.dt = &dt;
		fc.best_f = HUGE_VAL;
		fc.best = best;
		for (s = 0; s <= (rng != NULL ? GP_RESTARTS : 0); s++) {
			nlopt_result r;

			for (j = 0; j < m; j++) {
				if (s == 0)
					start[j] = gp->theta[j];
				else
					start[j] = lb[j] + (ub[j] - lb[j]) * rs_rng_uniform(rng);
				if (start[j] < lb[j])
					start[j] = lb[j];
				if (start[j] > ub[j])
					start[j] = ub[j];
			}
			memcpy(x0, start, m * sizeof *x0);
			r = fit_local(&fc, NLOPT_LD_LBFGS, lb, ub, x0);
			if (r == NLOPT_OUT_OF_MEMORY) {
				rc = rs_fail(cause, RS_ENOMEM, "gp: out of memory (NLopt)");
				goto out;
			}
			if (r < 0 && r != NLOPT_ROUNDOFF_LIMITED) {
				/* gradients gave trouble: derivative-free retry from the start */
				memcpy(x0, start, m * sizeof *x0);
				(void)fit_local(&fc, NLOPT_LN_BOBYQA, lb, ub, x0);
			}
		}
		if (fc.best_f < GP_BAD)
			memcpy(gp->thetaw, best, m * sizeof(double));
	}
	if (gp->thetaw[d + 1] < log(RS_GP_NOISE_FLOOR))
		gp->thetaw[d + 1] = log(RS_GP_NOISE_FLOOR);
	inv_lengths(gp->thetaw, d, gp->inv_l2w);
	if (factor(&dt, d, gp->thetaw, gp->inv_l2w, dt.L, dt.alpha) != 0) {
		rc = rs_fail(cause, RS_EUNSUPPORTED,
		    "gp: kernel matrix not positive definite (%zu observations)", n);
		goto out;
	}
	/* success: swap the new data in */
	memcpy(gp->theta, gp->thetaw, m * sizeof(double));
	memcpy(gp->inv_l2, gp->inv_l2w, d * sizeof(double));
	gp->ymean = mean;
	gp->ystd = sd;
	rs_free(gp->cur.block);
	gp->cur = dt;
	dt.block = NULL;
out:
	rs_free(dt.block);
	rs_free(lb);
	rs_free(ub);
	rs_free(x0);
	rs_free(best);
	rs_free(start);
	return rc;
}

/* Posterior at x into the scratch of gp; gradients if dmu/dvar are not NULL. */
static int
predict(struct rs_gp *gp, const double *x, double *mu, double *var, double *dmu,
    double *dvar)
{
	struct gp_data *dt = &gp->cur;
	size_t d = gp->d, n = dt->n, i, j;
	double sf2 = exp(gp->theta[d]);
	double m = 0.0, q = 0.0, v, s2 = gp->ystd * gp->ystd;
	int want = dmu != NULL || dvar != NULL;

	if (n == 0)
		return RS_EINVAL;
	for (i = 0; i < n; i++) {
		const double *xi = dt->X + i * d;
		double g;

		dt->kv[i] = matern(x, xi, d, gp->inv_l2, sf2, want ? &g : NULL);
		if (want)
			for (j = 0; j < d; j++)
				dt->dk[i * d + j] = -g * (x[j] - xi[j]) * gp->inv_l2[j];
		m += dt->kv[i] * dt->alpha[i];
	}
	memcpy(dt->vv, dt->kv, n * sizeof(double));
	solve_lower(dt->L, n, dt->vv);
	for (i = 0; i < n; i++)
		q += dt->vv[i] * dt->vv[i];
	v = sf2 - q;
	if (v < 0.0)
		v = 0.0;
	*mu = gp->ymean + gp->ystd * m;
	*var = s2 * v;
	if (!want)
		return 0;
	solve_upper_t(dt->L, n, dt->vv);        /* vv = K⁻¹k* */
	for (j = 0; j < d; j++) {
		double gm = 0.0, gv = 0.0;

		for (i = 0; i < n; i++) {
			gm += dt->alpha[i] * dt->dk[i * d + j];
			gv += dt->vv[i] * dt->dk[i * d + j];
		}
		if (dmu != NULL)
			dmu[j] = gp->ystd * gm;
		if (dvar != NULL)
			dvar[j] = -2.0 * s2 * gv;
	}
	return 0;
}

/* Posterior mean and variance at x. */
int
rs_gp_predict(struct rs_gp *gp, const double *x, double *mu, double *var)
{
	return predict(gp, x, mu, var, NULL, NULL);
}

/* Posterior mean and variance at x with their gradients. */
int
rs_gp_predict_grad(struct rs_gp *gp, const double *x, double *mu, double *var,
    double *dmu, double *dvar)
{
	return predict(gp, x, mu, var, dmu, dvar);
}
