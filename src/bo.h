/* bo.h: Bayesian optimization over the unit cube (methods.md §4, seed paper 1).
 *
 * Minimizes a black-box f: [0,1]^d → R.  The loop is driven by the caller:
 *     bo = rs_bo_new(d, seed, n_init, &opt, &cause);
 *     while (more trials) {
 *             rs_bo_suggest(bo, x, &cause);        x feasible, in [0,1]^d
 *             y = f(x);                            the expensive evaluation
 *             rs_bo_observe(bo, x, y, &cause);
 *     }
 *     rs_bo_best(bo, xbest, &ybest);
 * The first n_init suggestions are uniform random feasible points; later ones maximize the
 * expected improvement (EI, for minimization) of a Gaussian-process surrogate (gp.h:
 * Matérn 5/2 ARD, hyperparameters refitted by maximum marginal likelihood before each
 * suggestion, from default starting values so the result depends on the history only).
 * EI's maximum is sought by multi-start local search with NLopt inside [0,1]^d: L-BFGS on
 * log EI without a constraint; COBYLA with the constraint as an inequality when there is
 * one.  Starts: the best observed points and the best of n_candidates random feasible points.
 *
 * Constraint: opt.constraint(x, ud) ≤ 0 means x is feasible (e.g. the parameter-budget
 * band: |params(x) − target| − tolerance).  A boolean test works too (return −1 or 1).
 * Every suggested point satisfies it: the random design samples by rejection (at most
 * opt.max_tries draws per point, else RS_EUNSUPPORTED saying so), and the guided search
 * only ever returns a point at which the constraint was evaluated and held.
 *
 * Batches: rs_bo_suggest_batch returns q points to evaluate together (a round), chosen by
 * the constant liar (Ginsbourger, Le Riche and Carraro, "Kriging is well-suited to
 * parallelize optimization", 2010): after choosing a point, add it to the GP as if it had
 * been observed with a lie L (opt.lie: the best, mean or worst observed value), choose the
 * next, and so on; the lies are dropped before the call returns.  The hyperparameters are
 * those fitted to the real observations (a lie says nothing about the length scales).
 * Point i of a round is a random one when n + i < n_init (n: observations at the start of
 * the round) or there is no observation yet.  q = 1 is rs_bo_suggest.  A round's first
 * points do not depend on q: a shorter round is a prefix of a longer one.
 *
 * Reproducibility: suggestion number k (k = number of observations so far, plus i for point
 * i of a round) draws its random numbers from a stream seeded by (seed, k) alone, so the same
 * seed, the same q and the same observed values give the same sequence, and a run resumed
 * with rs_bo_load_history continues exactly as the uninterrupted run would have.  Calling
 * rs_bo_suggest twice without an observation in between returns the same point. */
#ifndef RS_BO_H
#define RS_BO_H

#include <stddef.h>
#include <stdint.h>

struct rs_bo;

/* The value a batch's pending points are given while the rest of the round is chosen. */
enum rs_bo_lie {
	RS_BO_LIE_MIN,          /* the best observed value (CL-min) */
	RS_BO_LIE_MEAN,         /* the mean of the observations */
	RS_BO_LIE_MAX           /* the worst observed value (CL-max) */
};

struct rs_bo_options {
	double xi;              /* EI margin in objective units: improvement over f* − xi */
	size_t n_starts;        /* local searches of EI per suggestion (1 to 1000) */
	size_t n_candidates;    /* random points scored to choose the random starts */
	size_t max_tries;       /* rejection-sampling draws allowed per feasible point */
	size_t maxeval;         /* objective evaluations per local search */
	enum rs_bo_lie lie;     /* constant liar of rs_bo_suggest_batch */
	double (*constraint)(const double *x, void *ud);  /* ≤ 0: feasible; NULL: none */
	void *ud;               /* passed to constraint */
};

/* What the last rs_bo_suggest did. */
struct rs_bo_info {
	int guided;             /* 0: random initial design, 1: GP + EI */
	double ei;              /* EI at the suggestion (guided only) */
	double mu, sigma;       /* GP posterior mean and std dev there (guided only) */
	double fbest;           /* best observed value used as f* (guided only) */
};

/* Fill opt with the defaults: xi 0, 10 starts, 2000 candidates, 100000 tries, 200
 * evaluations per local search, lie RS_BO_LIE_MIN, no constraint. */
void rs_bo_options_init(struct rs_bo_options *opt);

/* A new optimizer over [0,1]^d (1 ≤ d ≤ 1000) with n_init random initial trials (at least
 * 1; the GP needs data); opt NULL means the defaults.  NULL with *cause set on error. */
struct rs_bo *rs_bo_new(size_t d, uint64_t seed, size_t n_init,
    const struct rs_bo_options *opt, char **cause);

/* Free the optimizer (NULL is a no-op). */
void rs_bo_free(struct rs_bo *bo);

/* Next point to evaluate into x_out[d].  RS_EUNSUPPORTED if no feasible point could be
 * found, RS_ENOMEM, or a GP error (cause says which). */
int rs_bo_suggest(struct rs_bo *bo, double *x_out, char **cause);

/* The q ≥ 1 points of the next round into X_out[q×d] (constant liar, above), and what each
 * suggestion was into info[q] (NULL: not wanted).  The observations are unchanged on return;
 * errors as rs_bo_suggest. */
int rs_bo_suggest_batch(struct rs_bo *bo, size_t q, double *X_out, struct rs_bo_info *info,
    char **cause);

/* Details of the last successful suggestion (of a batch: its last point). */
void rs_bo_last_info(const struct rs_bo *bo, struct rs_bo_info *info);

/* Restrict the guided suggestions (their random starts and the local searches of EI) to the
 * box lb[d]..ub[d] inside [0,1]^d, e.g. a trust region around the incumbent (TuRBO: Eriksson
 * et al., NeurIPS 2019); NULL bounds: the whole cube (the default).  The random initial design
 * always uses the whole cube. */
void rs_bo_set_box(struct rs_bo *bo, const double *lb, const double *ub);

/* Record the value y of f at x[d].  RS_EINVAL if y is not finite or x is not a finite point
 * of [0,1]^d (a failed evaluation must be given a finite penalty value by the caller). */
int rs_bo_observe(struct rs_bo *bo, const double *x, double y, char **cause);

/* Number of observations so far. */
size_t rs_bo_count(const struct rs_bo *bo);

/* Best (smallest) observation: its point into x[d] (x may be NULL) and value into *y;
 * the earliest wins a tie.  RS_EINVAL when nothing has been observed. */
int rs_bo_best(const struct rs_bo *bo, double *x, double *y);

/* The trial history, borrowed until the next observe/load: *X is n×d row-major, *y is n;
 * returns n. */
size_t rs_bo_history(const struct rs_bo *bo, const double **X, const double **y);

/* Append n saved trials (X n×d, y n), e.g. to resume a run; each is checked as in
 * rs_bo_observe and nothing is added if one is bad. */
int rs_bo_load_history(struct rs_bo *bo, const double *X, const double *y, size_t n,
    char **cause);

/* Expected improvement below fbest − xi of a Gaussian N(mu, sigma²):
 *   EI = (fbest − xi − mu) Φ(z) + sigma φ(z),  z = (fbest − xi − mu)/sigma;
 * for sigma ≤ 0 its limit max(fbest − xi − mu, 0). */
double rs_bo_ei(double mu, double sigma, double fbest, double xi);

/* log EI computed without underflow (a continued fraction for the far tail), and its
 * derivatives d log EI/d mu and d log EI/d sigma into *dmu, *dsigma (either may be NULL).
 * For sigma ≤ 0 the log of the limit (−HUGE_VAL if there is no improvement; derivatives
 * then 0). */
double rs_bo_log_ei(double mu, double sigma, double fbest, double xi, double *dmu,
    double *dsigma);

#endif
