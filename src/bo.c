/* bo.c: the Bayesian-optimization loop: random initial design, then GP + expected
 * improvement maximized by multi-start local search (NLopt).
 *
 * EI is maximized through log EI, which keeps a useful slope far from the incumbent where
 * EI itself underflows to 0 (Ament et al., "Unexpected Improvements to Expected
 * Improvement for Bayesian Optimization", NeurIPS 2023, make the same point).  With
 * h(z) = zΦ(z) + φ(z), EI = σ h(z).  For z ≥ −3 h is computed directly (the cancellation
 * costs about log10(z²) digits, one at z = −3).  For t = −z > 3 Laplace's continued
 * fraction for the Mills ratio R(t) = Φ(−t)/φ(t) = 1/(t + 1/(t + 2/(t + 3/(t + …)))) gives,
 * with T = t + 2/(t + 3/(t + …)) so that R = 1/(t + 1/T):
 *     1 − tR = R/T,   h(z) = φ(t) R/T,   Φ(z)/h(z) = T,   φ(z)/h(z) = T/R,
 * all free of cancellation and evaluated in log space. */
#include "config.h"

#include "bo.h"

#include <math.h>
#include <nlopt.h>
#include <string.h>

#include "alloc.h"
#include "gp.h"
#include "rng.h"
#include "status.h"

#define BO_MAX_D 1000
#define BO_MAX_STARTS 1000      /* local searches per suggestion, at most */
#define BO_BAD 1e30             /* −log EI where EI is exactly 0 */
#define CF_DEPTH 200            /* continued-fraction terms: at t = 3 the tail is < 1e-14 */
#define LOG_SQRT_2PI 0.91893853320467274178032973640562
#define SQRT1_2 0.70710678118654752440084436210485

struct rs_bo {
	size_t d, n_init;
	uint64_t seed;
	struct rs_bo_options opt;
	size_t n, cap;
	double *X;              /* (cap, d) observed points */
	double *y;              /* (cap) observed values */
	struct rs_gp *gp;
	struct rs_bo_info info;
	double *lb, *ub;        /* (d) the box guided suggestions come from (trust region) */
};

/* Defaults for the options. */
void
rs_bo_options_init(struct rs_bo_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->xi = 0.0;
	opt->n_starts = 10;
	opt->n_candidates = 2000;
	opt->max_tries = 100000;
	opt->maxeval = 200;
	opt->lie = RS_BO_LIE_MIN;
	opt->constraint = NULL;
	opt->ud = NULL;
}

/* A new optimizer. */
struct rs_bo *
rs_bo_new(size_t d, uint64_t seed, size_t n_init, const struct rs_bo_options *opt,
    char **cause)
{
	struct rs_bo *bo;

	if (d == 0 || d > BO_MAX_D) {
		rs_fail(cause, RS_EINVAL, "bo: %zu variables (1 to %d)", d, BO_MAX_D);
		return NULL;
	}
	if (n_init == 0) {
		rs_fail(cause, RS_EINVAL, "bo: at least one random initial trial is needed");
		return NULL;
	}
	if ((bo = rs_calloc(1, sizeof *bo)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "bo: out of memory");
		return NULL;
	}
	bo->d = d;
	bo->n_init = n_init;
	bo->seed = seed;
	if (opt != NULL)
		bo->opt = *opt;
	else
		rs_bo_options_init(&bo->opt);
	if (bo->opt.n_starts == 0)
		bo->opt.n_starts = 1;
	if (bo->opt.n_starts > BO_MAX_STARTS)
		bo->opt.n_starts = BO_MAX_STARTS;
	if (bo->opt.max_tries == 0)
		bo->opt.max_tries = 1;
	if (bo->opt.maxeval == 0)
		bo->opt.maxeval = 1;
	if (!isfinite(bo->opt.xi)) {
		rs_fail(cause, RS_EINVAL, "bo: xi is %g", bo->opt.xi);
		rs_free(bo);
		return NULL;
	}
	if (bo->opt.lie != RS_BO_LIE_MIN && bo->opt.lie != RS_BO_LIE_MEAN &&
	    bo->opt.lie != RS_BO_LIE_MAX) {
		rs_fail(cause, RS_EINVAL, "bo: unknown lie %d", (int)bo->opt.lie);
		rs_free(bo);
		return NULL;
	}
	bo->lb = rs_mallocarray(d, sizeof *bo->lb);
	bo->ub = rs_mallocarray(d, sizeof *bo->ub);
	if (bo->lb == NULL || bo->ub == NULL || (bo->gp = rs_gp_new(d)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "bo: out of memory");
		rs_free(bo->lb);
		rs_free(bo->ub);
		rs_free(bo);
		return NULL;
	}
	rs_bo_set_box(bo, NULL, NULL);
	return bo;
}

/* Free the optimizer. */
void
rs_bo_free(struct rs_bo *bo)
{
	if (bo == NULL)
		return;
	rs_gp_free(bo->gp);
	rs_free(bo->lb);
	rs_free(bo->ub);
	rs_free(bo->X);
	rs_free(bo->y);
	rs_free(bo);
}

/* Standard normal density. */
static double
npdf(double z)
{
	return exp(-0.5 * z * z - LOG_SQRT_2PI);
}

/* Standard normal distribution function, accurate in both tails. */
static double
ncdf(double z)
{
	return 0.5 * erfc(-z * SQRT1_2);
}

/* log EI and its derivatives in mu and sigma. */
double
rs_bo_log_ei(double mu, double sigma, double fbest, double xi, double *dmu,
    double *dsigma)
{
	double imp = fbest - xi - mu, z, lh, a, b;

	if (dmu != NULL)
		*dmu = 0.0;
	if (dsigma != NULL)
		*dsigma = 0.0;
	if (!(sigma > 0.0)) {
		if (!(imp > 0.0))
			return -HUGE_VAL;
		if (dmu != NULL)
			*dmu = -1.0 / imp;
		return log(imp);
	}
	z = imp / sigma;
	if (z >= -3.0) {
		double P = ncdf(z), p = npdf(z), h = z * P + p;

		lh = log(h);
		a = P / h;              /* Φ/h */
		b = p / h;              /* φ/h */
	} else {
		double t = -z, T = t, R;
		int k;

		/* T = t + 2/(t + 3/(t + …)), from the deepest term up */
		for (k = CF_DEPTH; k >= 2; k--)
			T = t + (double)k / T;
		R = 1.0 / (t + 1.0 / T);
		lh = -0.5 * t * t - LOG_SQRT_2PI + log(R) - log(T);
		a = T;
		b = T / R;
	}
	/* EI = σ h(z): ∂EI/∂μ = −Φ(z), ∂EI/∂σ = φ(z) */
	if (dmu != NULL)
		*dmu = -a / sigma;
	if (dsigma != NULL)
		*dsigma = b / sigma;
	return log(sigma) + lh;
}

/* Expected improvement. */
double
rs_bo_ei(double mu, double sigma, double fbest, double xi)
{
	double imp = fbest - xi - mu;

	if (!(sigma > 0.0))
		return imp > 0.0 ? imp : 0.0;
	return exp(rs_bo_log_ei(mu, sigma, fbest, xi, NULL, NULL));
}

/* Check one trial for rs_bo_observe / rs_bo_load_history. */
static int
check_trial(const struct rs_bo *bo, const double *x, double y, size_t idx, char **cause)
{
	size_t j;

	if (!isfinite(y))
		return rs_fail(cause, RS_EINVAL, "bo: trial %zu: objective is %g", idx + 1, y);
	for (j = 0; j < bo->d; j++)
		if (!(x[j] >= 0.0 && x[j] <= 1.0))
			return rs_fail(cause, RS_EINVAL,
			    "bo: trial %zu: variable %zu is %g, outside [0, 1]",
			    idx + 1, j + 1, x[j]);
	return 0;
}

/* Make room for `more` further trials. */
static int
reserve(struct rs_bo *bo, size_t more, char **cause)
{
	size_t need, cap;
	double *X, *y;

	if (more > SIZE_MAX / 2 - bo->n)
		return rs_fail(cause, RS_ENOMEM, "bo: too many trials");
	need = bo->n + more;
	if (need <= bo->cap)
		return 0;
	cap = bo->cap < 16 ? 16 : bo->cap;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(double) / bo->d)
		return rs_fail(cause, RS_ENOMEM, "bo: too many trials");
	if ((X = rs_realloc(bo->X, cap * bo->d * sizeof *X)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "bo: out of memory for %zu trials", cap);
	bo->X = X;
	if ((y = rs_realloc(bo->y, cap * sizeof *y)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "bo: out of memory for %zu trials", cap);
	bo->y = y;
	bo->cap = cap;
	return 0;
}

/* Record one observation. */
int
rs_bo_observe(struct rs_bo *bo, const double *x, double y, char **cause)
{
	int rc;

	if ((rc = check_trial(bo, x, y, bo->n, cause)) != 0)
		return rc;
	if ((rc = reserve(bo, 1, cause)) != 0)
		return rc;
	memcpy(bo->X + bo->n * bo->d, x, bo->d * sizeof *x);
	bo->y[bo->n++] = y;
	return 0;
}

/* Append saved trials. */
int
rs_bo_load_history(struct rs_bo *bo, const double *X, const double *y, size_t n,
    char **cause)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = check_trial(bo, X + i * bo->d, y[i], bo->n + i, cause)) != 0)
			return rc;
	if ((rc = reserve(bo, n, cause)) != 0)
		return rc;
	if (n > 0) {
		memcpy(bo->X + bo->n * bo->d, X, n * bo->d * sizeof *X);
		memcpy(bo->y + bo->n, y, n * sizeof *y);
	}
	bo->n += n;
	return 0;
}

/* Number of observations. */
size_t
rs_bo_count(const struct rs_bo *bo)
{
	return bo->n;
}

/* The history, borrowed. */
size_t
rs_bo_history(const struct rs_bo *bo, const double **X, const double **y)
{
	if (X != NULL)
		*X = bo->X;
	if (y != NULL)
		*y = bo->y;
	return bo->n;
}

/* Index of the smallest observation (earliest on ties); n must be > 0. */
static size_t
best_index(const struct rs_bo *bo)
{
	size_t i, b = 0;

	for (i = 1; i < bo->n; i++)
		if (bo->y[i] < bo->y[b])
			b = i;
	return b;
}

/* Best observation. */
int
rs_bo_best(const struct rs_bo *bo, double *x, double *y)
{
	size_t b;

	if (bo->n == 0)
		return RS_EINVAL;
	b = best_index(bo);
	if (x != NULL)
		memcpy(x, bo->X + b * bo->d, bo->d * sizeof *x);
	if (y != NULL)
		*y = bo->y[b];
	return 0;
}

/* Details of the last suggestion. */
void
rs_bo_last_info(const struct rs_bo *bo, struct rs_bo_info *info)
{
	*info = bo->info;
}

/* True if x satisfies the caller's constraint (always, without one). */
static int
feasible(const struct rs_bo *bo, const double *x)
{
	double g;

	if (bo->opt.constraint == NULL)
		return 1;
	g = bo->opt.constraint(x, bo->opt.ud);
	return g <= 0.0;        /* NaN is infeasible */
}

/* Draw a uniform point of [0,1]^d into x; 1 if it is feasible. */
static int
draw(const struct rs_bo *bo, struct rs_rng *rng, double *x)
{
	size_t j;

	for (j = 0; j < bo->d; j++)
		x[j] = rs_rng_uniform(rng);
	return feasible(bo, x);
}

/* Draw a uniform point of the search box into x; 1 if it is feasible. */
static int
draw_box(const struct rs_bo *bo, struct rs_rng *rng, double *x)
{
	size_t j;

	for (j = 0; j < bo->d; j++)
		x[j] = bo->lb[j] + rs_rng_uniform(rng) * (bo->ub[j] - bo->lb[j]);
	return feasible(bo, x);
}

void
rs_bo_set_box(struct rs_bo *bo, const double *lb, const double *ub)
{
	size_t j;

	for (j = 0; j < bo->d; j++) {
		bo->lb[j] = lb != NULL && lb[j] > 0.0 ? (lb[j] < 1.0 ? lb[j] : 1.0) : 0.0;
		bo->ub[j] = ub != NULL && ub[j] < 1.0 ? (ub[j] > bo->lb[j] ? ub[j] : bo->lb[j]) :
		    1.0;
	}
}

/* A uniform feasible point by rejection, at most max_tries draws. */
static int
random_feasible(const struct rs_bo *bo, struct rs_rng *rng, double *x, char **cause)
{
	size_t t;

	for (t = 0; t < bo->opt.max_tries; t++)
		if (draw(bo, rng, x))
			return 0;
	return rs_fail(cause, RS_EUNSUPPORTED,
	    "bo: no feasible point in %zu random draws: the constraint admits too little "
	    "of the unit cube", bo->opt.max_tries);
}

/* State of the EI search: the GP, f*, and the best feasible point evaluated so far. */
struct acq {
	struct rs_bo *bo;
	double fbest;
	double *dmu, *dvar;     /* (d) gradient scratch */
	double best;            /* largest log EI at a feasible point */
	double *xbest;          /* (d) where */
	int have;
};

/* log EI at x, with its gradient into grad[d] if grad is not NULL; records the best
 * feasible point seen in a. */
static double
acq_eval(struct acq *a, const double *x, double *grad)
{
	struct rs_bo *bo = a->bo;
	size_t d = bo->d, j;
	double mu, var, sd, lei, gmu, gsd;

	if (rs_gp_predict_grad(bo->gp, x, &mu, &var, a->dmu, a->dvar) != 0)
		return -BO_BAD;
	sd = sqrt(var);
	lei = rs_bo_log_ei(mu, sd, a->fbest, bo->opt.xi, &gmu, &gsd);
	if (!isfinite(lei) || lei < -BO_BAD) {
		lei = -BO_BAD;
		gmu = gsd = 0.0;
	}
	if (grad != NULL)
		for (j = 0; j < d; j++)
			grad[j] = gmu * a->dmu[j] + (sd > 0.0 ? gsd * a->dvar[j] / (2.0 * sd) : 0.0);
	if ((!a->have || lei > a->best) && feasible(bo, x)) {
		a->best = lei;
		memcpy(a->xbest, x, d * sizeof *x);
		a->have = 1;
	}
	return lei;
}

/* NLopt objective: −log EI. */
static double
acq_objective(unsigned m, const double *x, double *grad, void *ud)
{
	double v = acq_eval(ud, x, grad);
	unsigned j;

	if (grad != NULL)
		for (j = 0; j < m; j++)
			grad[j] = -grad[j];
	return -v;
}

/* NLopt inequality constraint: the caller's g(x) ≤ 0. */
static double
acq_constraint(unsigned m, const double *x, double *grad, void *ud)
{
	struct acq *a = ud;
	double g = a->bo->opt.constraint(x, a->bo->opt.ud);

	return isnan(g) ? 1.0 : g;
}

/* One local search of log EI from x (overwritten). */
static int
acq_local(struct acq *a, const double *lb, const double *ub, double *x, char **cause)
{
	unsigned m = (unsigned)a->bo->d;
	nlopt_opt opt;
	nlopt_result r;
	double f;

	if (a->bo->opt.constraint == NULL) {
		opt = nlopt_create(NLOPT_LD_LBFGS, m);
		if (opt == NULL)
			return rs_fail(cause, RS_ENOMEM, "bo: out of memory (NLopt)");
	} else {
		opt = nlopt_create(NLOPT_LN_COBYLA, m);
		if (opt == NULL)
			return rs_fail(cause, RS_ENOMEM, "bo: out of memory (NLopt)");
		nlopt_add_inequality_constraint(opt, acq_constraint, a, 0.0);
	}
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_upper_bounds(opt, ub);
	nlopt_set_min_objective(opt, acq_objective, a);
	nlopt_set_maxeval(opt, (int)(a->bo->opt.maxeval > 100000 ? 100000 :
	    a->bo->opt.maxeval));
	nlopt_set_ftol_rel(opt, 1e-9);
	nlopt_set_xtol_rel(opt, 1e-6);
	r = nlopt_optimize(opt, x, &f);
	nlopt_destroy(opt);
	if (r == NLOPT_OUT_OF_MEMORY)
		return rs_fail(cause, RS_ENOMEM, "bo: out of memory (NLopt)");
	/* other failures are harmless: a->xbest holds the best feasible point seen */
	return 0;
}

/* Insert point x with value v into the top-k list (vals descending, rows of pts; an
 * equal value keeps the earlier point first). */
static void
topk_insert(double *vals, double *pts, size_t d, size_t *cnt, size_t k, double v,
    const double *x)
{
	size_t p;

	if (k == 0 || (*cnt == k && !(v > vals[k - 1])))
		return;
	p = *cnt < k ? (*cnt)++ : k - 1;
	while (p > 0 && v > vals[p - 1]) {
		vals[p] = vals[p - 1];
		memcpy(pts + p * d, pts + (p - 1) * d, d * sizeof *pts);
		p--;
	}
	vals[p] = v;
	memcpy(pts + p * d, x, d * sizeof *x);
}

/* Fit the GP's hyperparameters to the first n observations, from the default starting
 * values so that the fit depends on the history alone. */
static int
fit_hypers(struct rs_bo *bo, size_t n, struct rs_rng *rng, char **cause)
{
	size_t d = bo->d, j;
	double *theta;
	int rc;

	if ((theta = rs_mallocarray(d + 2, sizeof *theta)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "bo: out of memory");
	for (j = 0; j < d; j++)
		theta[j] = log(0.5);
	theta[d] = 0.0;
	theta[d + 1] = log(1e-4);
	if ((rc = rs_gp_set_hypers(bo->gp, theta, cause)) == 0)
		rc = rs_gp_fit(bo->gp, bo->X, bo->y, n, 1, rng, cause);
	rs_free(theta);
	return rc;
}

/* The guided suggestion: fit the GP (refit: its hyperparameters too; else those it has, on
 * every observation held, lies included), then maximize log EI from several starts. */
static int
suggest_guided(struct rs_bo *bo, struct rs_rng *rng, int refit, double *x_out, char **cause)
{
	size_t d = bo->d, ns = bo->opt.n_starts, n_obs, n_rand = 0, i, j;
	size_t *order = NULL;
	double *buf = NULL, *vals = NULL;
	double *lb, *ub, *x, *cand, *starts;
	double mu, var;
	struct acq a;
	int rc = 0;

	/* buf: lb, ub, x, dmu, dvar, xbest, cand (d each), then starts (ns × d) */
	buf = rs_mallocarray(7 + ns, d * sizeof *buf);
	vals = rs_mallocarray(ns, sizeof *vals);
	order = rs_mallocarray(bo->n, sizeof *order);
	if (buf == NULL || vals == NULL || order == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "bo: out of memory");
		goto out;
	}
	lb = buf;
	ub = lb + d;
	x = ub + d;
	a.dmu = x + d;
	a.dvar = a.dmu + d;
	a.xbest = a.dvar + d;
	cand = a.xbest + d;
	starts = cand + d;

	memcpy(lb, bo->lb, d * sizeof *lb);
	memcpy(ub, bo->ub, d * sizeof *ub);
	if (refit)
		rc = fit_hypers(bo, bo->n, rng, cause);
	else
		rc = rs_gp_fit(bo->gp, bo->X, bo->y, bo->n, 0, NULL, cause);
	if (rc != 0)
		goto out;

	a.bo = bo;
	a.fbest = bo->y[best_index(bo)];
	a.best = -HUGE_VAL;
	a.have = 0;

	/* starts, part 1: the best observed feasible points, up to half of the starts */
	for (i = 0; i < bo->n; i++)
		order[i] = i;
	for (i = 1; i < bo->n; i++) {           /* insertion sort by y, stable */
		size_t t = order[i];

		for (j = i; j > 0 && bo->y[order[j - 1]] > bo->y[t]; j--)
			order[j] = order[j - 1];
		order[j] = t;
	}
	n_obs = 0;
	for (i = 0; i < bo->n && n_obs < (ns + 1) / 2; i++) {
		const double *xo = bo->X + order[i] * d;
		int inside = 1;

		for (j = 0; j < d; j++)
			inside &= xo[j] >= lb[j] && xo[j] <= ub[j];
		if (!inside || !feasible(bo, xo))
			continue;
		memcpy(starts + n_obs * d, xo, d * sizeof *xo);
		(void)acq_eval(&a, xo, NULL);
		n_obs++;
	}
	/* part 2: the random feasible candidates of the box with the largest log EI */
	for (i = 0; i < bo->opt.n_candidates; i++) {
		if (!draw_box(bo, rng, cand))
			continue;
		topk_insert(vals, starts + n_obs * d, d, &n_rand, ns - n_obs,
		    acq_eval(&a, cand, NULL), cand);
	}
	if (n_obs + n_rand == 0) {
		/* a thin feasible set: spend the rejection budget on one start */
		if ((rc = random_feasible(bo, rng, starts, cause)) != 0)
			goto out;
		(void)acq_eval(&a, starts, NULL);
		n_rand = 1;
	}
	for (i = 0; i < n_obs + n_rand; i++) {
		memcpy(x, starts + i * d, d * sizeof *x);
		if ((rc = acq_local(&a, lb, ub, x, cause)) != 0)
			goto out;
	}
	if (!a.have) {
		rc = rs_fail(cause, RS_EUNSUPPORTED, "bo: the EI search found no feasible point");
		goto out;
	}
	memcpy(x_out, a.xbest, d * sizeof *x_out);
	(void)rs_gp_predict(bo->gp, x_out, &mu, &var);
	bo->info.guided = 1;
	bo->info.mu = mu;
	bo->info.sigma = sqrt(var);
	bo->info.fbest = a.fbest;
	bo->info.ei = rs_bo_ei(mu, bo->info.sigma, a.fbest, bo->opt.xi);
out:
	rs_free(buf);
	rs_free(vals);
	rs_free(order);
	return rc;
}

/* The lie of a round's pending points, from the n > 0 real observations. */
static double
lie_value(const struct rs_bo *bo, size_t n)
{
	double v = bo->y[0], sum = 0.0;
	size_t i;

	switch (bo->opt.lie) {
	case RS_BO_LIE_MEAN:
		for (i = 0; i < n; i++)
			sum += bo->y[i];
		return sum / (double)n;
	case RS_BO_LIE_MAX:
		for (i = 1; i < n; i++)
			if (bo->y[i] > v)
				v = bo->y[i];
		return v;
	case RS_BO_LIE_MIN:
	default:
		return bo->y[best_index(bo)];
	}
}

/* Point i of the round into x; the observations from n_real on are the lies of points
 * 0..i-1.  *fitted: whether the hyperparameters of this round are fitted yet. */
static int
suggest_one(struct rs_bo *bo, size_t n_real, size_t i, int *fitted, double *x, char **cause)
{
	struct rs_rng rng;
	int rc;

	/* one stream per trial number: resuming from a history replays the same draws */
	rs_rng_seed2(&rng, bo->seed, (uint64_t)(n_real + i));
	if (n_real + i < bo->n_init || n_real == 0) {
		if ((rc = random_feasible(bo, &rng, x, cause)) != 0)
			return rc;
		memset(&bo->info, 0, sizeof bo->info);
		return 0;
	}
	if (i == 0) {
		/* the sequential step, exactly: fit on the observations, then search */
		*fitted = 1;
		return suggest_guided(bo, &rng, 1, x, cause);
	}
	if (!*fitted) {
		/* the round's first guided point follows random ones: fit on the real data */
		if ((rc = fit_hypers(bo, n_real, &rng, cause)) != 0)
			return rc;
		*fitted = 1;
	}
	return suggest_guided(bo, &rng, 0, x, cause);
}

/* The next round of q points. */
int
rs_bo_suggest_batch(struct rs_bo *bo, size_t q, double *X_out, struct rs_bo_info *info,
    char **cause)
{
	size_t n_real = bo->n, i;
	double lie = 0.0;
	int rc = 0, fitted = 0;

	if (q == 0)
		return rs_fail(cause, RS_EINVAL, "bo: a round of 0 points");
	if (q > 1 && (rc = reserve(bo, q - 1, cause)) != 0)
		return rc;
	if (n_real > 0)
		lie = lie_value(bo, n_real);
	for (i = 0; i < q; i++) {
		double *x = X_out + i * bo->d;

		if ((rc = suggest_one(bo, n_real, i, &fitted, x, cause)) != 0)
			break;
		if (info != NULL)
			info[i] = bo->info;
		if (i + 1 < q && n_real > 0) {
			/* pending: held as observed with the lie while the rest is chosen */
			memcpy(bo->X + bo->n * bo->d, x, bo->d * sizeof *x);
			bo->y[bo->n++] = lie;
		}
	}
	bo->n = n_real;
	return rc;
}

/* Next point to evaluate. */
int
rs_bo_suggest(struct rs_bo *bo, double *x_out, char **cause)
{
	return rs_bo_suggest_batch(bo, 1, x_out, NULL, cause);
}
