/* rankalloc.h: rank allocation under a parameter budget (methods.md §4, issue 5).
 *
 * Budget.  A target count T of decoder-linear parameters (embeddings and head excluded): given
 * as a keep ratio (T = floor(ratio · dense)) or as a count.  Every allocator here returns ranks
 * whose total P satisfies  T − step < P ≤ T,  step = the largest alignment step a·(m+n) of a
 * matrix it may change ("within one rank-alignment step, never over"), or fails saying why
 * (T below the smallest plan it can make).  Exception: `energy` with an explicit target E
 * ignores the budget and reports it.
 *
 * Levels.  The ranks an allocator uses for an m×n matrix with alignment a are the multiples
 * a, 2a, … strictly below break-even (r(m+n) < mn, so every factored matrix saves something),
 * then dense: a rank past break-even costs more than the dense matrix.  Every step between
 * neighbouring levels costs at most a·(m+n) parameters.
 *
 * All functions work on rank arrays (one int per plan matrix, RS_PLAN_DENSE or a rank) and
 * never touch a plan; rs_rankalloc_apply stores an array into a plan as one undo step.  An
 * eligibility mask (one byte per matrix, non-zero: the allocator may factor it; NULL: all)
 * says which matrices take part; the others are left dense.  Spectra arrays hold one record
 * per plan matrix (NULL where missing).  Nothing here runs a forward pass (rankalloc-bo.c
 * does). */
#ifndef RS_RANKALLOC_H
#define RS_RANKALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "status.h"

struct rs_spec;
struct rs_model;
struct rs_compress;
struct rs_compress_src;
struct rs_compress_set;
struct rs_forward;

/* ---- budget */

struct rs_budget {
	double keep;            /* > 0: keep ratio of the decoder-linear parameters */
	uint64_t params;        /* > 0 (and keep 0): parameter count */
};

/* The target count T of budget b for plan p's matrices (keep ratios ≥ 1: all dense). */
uint64_t rs_budget_target(const struct rs_budget *b, const struct rs_plan *p);
/* The largest alignment step a·(m+n) over the eligible matrices (the budget tolerance). */
uint64_t rs_rankalloc_step(const struct rs_plan *p, const unsigned char *elig);
/* Total decoder-linear parameters of a rank array. */
uint64_t rs_rankalloc_params(const struct rs_plan *p, const int *ranks);
/* One line: "budget: T params (keep R of D decoder-linear params); tolerance one step = S". */
void rs_budget_line(const struct rs_plan *p, uint64_t target, uint64_t step, char *buf,
    size_t n);

/* Set every plan rank from ranks[] as ONE undo step (rs_plan_begin/end), alignment as stored;
 * RS_ENOMEM + cause. */
int rs_rankalloc_apply(struct rs_plan *p, const int *ranks, char **cause);
/* Copy the plan's ranks into ranks[]. */
void rs_rankalloc_get(const struct rs_plan *p, int *ranks);

/* The eligibility mask of a type list "q,k,v,o,gate,up,down" (NULL or "all": every type)
 * into elig[rs_plan_count(p)]; *types_out (may be NULL) gets a bit per enum rs_tkind.
 * RS_EINVAL + cause for an unknown name. */
int rs_rankalloc_types(const struct rs_plan *p, const char *list, unsigned char *elig,
    unsigned *types_out, char **cause);

/* Layer weights: "w0,w1,…" (one per layer, ≥ 0) or a scheme: "flat" (all 1), "front"
 * (2 − l/(L−1): early layers weigh twice the last), "back" (1 + l/(L−1)).  w[n_layers]. */
int rs_rankalloc_layer_weights(const char *spec, int n_layers, double *w, char **cause);

/* The rank of matrix i at keep ratio rho, rounded down to a level (≥ 1: dense). */
int rs_rankalloc_rank_for_keep(const struct rs_plan *p, int i, double rho);

/* ---- spectral proxy: predicted feature error from the spectra (methods.md §2) */

/* Error of matrix i at rank r (dense: 0): the absolute feature error Σ_{j>r} σⱼ² of its
 * spectrum, or with `relative` that divided by Σσⱼ² (1 − energy).  -1 when spec is NULL. */
double rs_rankalloc_err(const struct rs_spec *spec, int r, int relative);
/* The proxy objective Σᵢ w[layer(i)] · err(i, ranks[i]) over matrices with a spectrum
 * (w NULL: all 1). */
double rs_rankalloc_proxy(const struct rs_plan *p, const struct rs_spec *const *specs,
    const double *w, int relative, const int *ranks);

/* ---- allocators (each fills ranks[rs_plan_count(p)]) */

/* Uniform: the largest keep ratio ρ whose rounded-down ranks fit T, then the largest
 * rounding remainders rounded up while they fit.  *rho_out (may be NULL) gets ρ. */
int rs_rankalloc_uniform(const struct rs_plan *p, const unsigned char *elig, uint64_t target,
    int *ranks, double *rho_out, char **cause);

/* The rank `rank --energy E` and the energy allocator give matrix i: the smallest rank whose
 * spectrum sp keeps energy e, rounded up to the plan's alignment; RS_PLAN_DENSE for e ≥ 1 or
 * when that rank is at or past break-even (it would cost as much as dense, or more). */
int rs_rankalloc_energy_rank(const struct rs_plan *p, int i, const struct rs_spec *sp,
    double e);

/* Energy: the smallest aligned rank reaching energy E of each eligible matrix's spectrum
 * (rounded up; past break-even: dense).  energy ≥ 0: that E, budget ignored; energy < 0: the
 * largest E whose ranks fit T (bisection), then steps added by spectral gain per parameter
 * while they fit.  *e_out gets E.  RS_EINVAL + cause if an eligible matrix has no spectrum. */
int rs_rankalloc_energy(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, double energy, uint64_t target, int *ranks,
    double *e_out, char **cause);

/* Greedy: from the lowest level of every eligible matrix, repeatedly take the step with the
 * largest proxy-error reduction per parameter (heap) that still fits T.  Optimal for the proxy
 * when every step costs the same and the steps' gains do not increase (a spectrum's do). */
int rs_rankalloc_greedy(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, const double *w, int relative, uint64_t target,
    int *ranks, char **cause);

/* Sensitivity probes: nll[i * n_ratios + k] = mean token NLL with only matrix i factored at
 * keep ratio ratios[k] (ascending, < 1), NAN where not probed (ineligible); dense_nll with
 * every matrix dense. */
struct rs_sens {
	int n;                  /* plan matrices */
	int n_ratios;
	double *ratios;         /* (n_ratios) */
	double *nll;            /* (n, n_ratios) */
	double dense_nll;
};

/* The ASVD cut: threshold τ on the NLL increase; each matrix takes its smallest probed ratio
 * whose increase is ≤ τ (else dense); the smallest τ whose ranks fit T, then steps added by
 * interpolated sensitivity per parameter while they fit.  *tau_out gets τ. */
int rs_rankalloc_cut(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_sens *s, uint64_t target, int *ranks, double *tau_out, char **cause);

/* Bring ranks[] to T − step < P ≤ T: remove steps (least proxy gain per parameter first;
 * lowest keep first when specs is NULL) while over, then add steps while they fit.  Only
 * eligible matrices change.  RS_EINVAL + cause if T is below the eligible matrices' lowest
 * levels. */
int rs_rankalloc_fit(const struct rs_plan *p, const unsigned char *elig,
    const struct rs_spec *const *specs, uint64_t target, int *ranks, char **cause);

/* ---- Bayesian-optimization search spaces (docs/allocation.md) */

#define RS_BO_MAX_VARS 64
#define RS_BO_MAX_PROFILES 8

enum rs_bo_space_kind {
	RS_BO_SPACE_RATIO,      /* seed paper 1: one keep ratio per variable type and group */
	RS_BO_SPACE_PROFILE     /* heuristic plans mixed, offset per type and group, projected */
};

/* Variables of the ratio space: one keep ratio per variable type (q and k share one; v only
 * when eligible by --types; types not eligible stay dense) and layer group (layer l is in
 * group l·G/L).  x ∈ [0,1] maps to ρ = lo + x·(hi − lo); ρ ≥ 1 means dense.
 *
 * The profile space: P heuristic plans ("profiles", each a rank array at the budget) give
 * every eligible matrix i a log parameter fraction ℓᵢʰ = log(params(rᵢʰ)/dense(i)) (0 when
 * dense).  Variables: P mixture weights wₕ = x_h, then one log offset per variable type and
 * group δ = (2x − 1)·off (x = ½: none).  Point x asks for
 *     ℓᵢ = Σₕ wₕ ℓᵢʰ / Σₕ wₕ  (all weights 0: the plain mean)  + δ(type(i), group(i)),
 * each matrix at the level nearest exp(ℓᵢ) in log scale (past the top level: dense), and the
 * projection (rs_bo_space_project) moves every ℓᵢ by the largest common shift whose plan
 * fits the budget.  Profile h alone (wₕ = 1, the others 0, no offset) is its own plan exactly,
 * as long as that plan is within the budget band. */
struct rs_bo_space {
	enum rs_bo_space_kind kind;
	int n_vtypes;           /* variable types */
	unsigned vtype_mask[RS_MAT_COUNT];      /* per variable type: bits of enum rs_tkind */
	char vtype_name[RS_MAT_COUNT][8];       /* "qk", "v", "o", "gate", "up", "down" */
	int groups;             /* G */
	int n_layers;
	int d;                  /* ratio: n_vtypes · G; profile: n_prof + n_vtypes · G */
	double lo, hi;          /* ratio: keep ratio range */
	int n_prof;             /* profile: heuristic plans */
	char prof_name[RS_BO_MAX_PROFILES][16];
	int n_mat;              /* profile: plan matrices */
	double *prof_logu;      /* profile: (n_prof, n_mat) ℓᵢʰ, allocated */
	double off;             /* profile: largest |δ| (natural log) */
};

/* The ratio space for the eligible types (bits of enum rs_tkind) and G layer groups. */
int rs_bo_space_init(struct rs_bo_space *sp, const struct rs_plan *p, unsigned types,
    int groups, char **cause);
/* The profile space over the n_prof rank arrays prof[h] named names[h] (copied), eligible
 * types and G layer groups.  Free with rs_bo_space_free. */
int rs_bo_space_init_profile(struct rs_bo_space *sp, const struct rs_plan *p, unsigned types,
    int groups, int n_prof, const int *const *prof, const char *const *names, char **cause);
/* Set profile h of a profile space to the rank array ranks (as at init). */
void rs_bo_space_set_profile(struct rs_bo_space *sp, const struct rs_plan *p, int h,
    const int *ranks);
/* Release what a space holds (a ratio space holds nothing; NULL-safe). */
void rs_bo_space_free(struct rs_bo_space *sp);
/* Name of variable j: "qk" (G = 1) or "qk@L0-2"; profile weights "w.NAME", offsets "d.qk". */
void rs_bo_space_var_name(const struct rs_bo_space *sp, int j, char *buf, size_t n);
/* Variable j of point value x as text: ratio "0.412" or "dense"; weight "0.30"; offset as a
 * factor on the parameters "x1.52". */
void rs_bo_space_var_text(const struct rs_bo_space *sp, int j, double x, char *buf, size_t n);
/* The keep ratio of variable value x (ratio space). */
double rs_bo_space_ratio(const struct rs_bo_space *sp, double x);
/* The point of profile h alone (profile space): x[d]. */
void rs_bo_space_profile_point(const struct rs_bo_space *sp, int h, double *x);
/* The ranks of point x[d] before the budget fit: ratio space: each matrix at the level nearest
 * its variable's ratio (ρ ≥ 1: dense); profile space: at the level nearest exp(ℓᵢ + shift);
 * matrices of no variable dense. */
void rs_bo_space_ranks(const struct rs_bo_space *sp, const struct rs_plan *p, const double *x,
    double shift, int *ranks);
/* Profile space: ranks of x within the budget band T − step < P ≤ T when shift 0 gives that,
 * else with the largest common shift whose plan keeps at most T (bisection), left for
 * rs_rankalloc_fit to fill.  *shift_out (may be NULL) gets the shift. */
void rs_bo_space_project(const struct rs_bo_space *sp, const struct rs_plan *p,
    const double *x, uint64_t target, uint64_t step, int *ranks, double *shift_out);

/* ---- trial history of a Bayesian-optimization run (resume, CSV export) */

struct rs_bo_trial {
	double *x;              /* (d) */
	double y;               /* objective given to the GP */
	double ppl, kl;         /* ppl objective: validation perplexity and mean KL; else 0 */
	double proxy;           /* proxy objective value (proxy runs) */
	uint64_t params;        /* parameters kept by the fitted plan */
	double secs;            /* wall time of the evaluation (its round's, shared equally by
	                         * the round's trials) */
	int guided;             /* RS_BO_RANDOM, RS_BO_GUIDED or RS_BO_SEEDED */
	int fidelity;           /* RS_BO_FID_*: what the objective was measured with */
	int round;              /* round of the search (profile space), 0-based */
	double low_ppl;         /* ppl (+ λ·KL) on the first (screening) windows; 0: not measured */
	double confirm_ppl;     /* ppl (+ λ·KL) on every validation window (not saved) */
	uint64_t windows;       /* window forwards this trial spent */
};

/* How a trial's point was chosen. */
enum { RS_BO_RANDOM = 0, RS_BO_GUIDED = 1, RS_BO_SEEDED = 2 };
/* What a trial's objective was measured with: the full validation windows, the screening
 * windows only (its y is the screening value plus the mean full − screening gap of the full
 * trials before its round), or the spectral proxy alone (no forward pass). */
enum { RS_BO_FID_FULL = 0, RS_BO_FID_LOW = 1, RS_BO_FID_PROXY = 2 };

struct rs_bo_hist {
	char *config;           /* the run's identity: objective, budget, space, data */
	uint64_t seed;
	int d;
	char var_names[RS_BO_MAX_VARS][24];
	size_t n, cap;
	struct rs_bo_trial *t;
	uint64_t dense_params;
	/* Profile space, after the last trial (not saved; a resumed finished run recomputes it):
	 * the trial whose plan is returned, chosen among the best heuristic trial and the best
	 * full trials by their validation on every window (confirm_ppl of those, 0 elsewhere). */
	long chosen;
	int confirm_windows;
};

struct rs_bo_hist *rs_bo_hist_new(const char *config, uint64_t seed, int d, char **cause);
void rs_bo_hist_free(struct rs_bo_hist *h);
/* Append a trial (x copied). */
int rs_bo_hist_add(struct rs_bo_hist *h, const struct rs_bo_trial *t, char **cause);
/* Index of the best trial (smallest y among the full-fidelity trials, earliest on a tie), -1
 * when there is none. */
long rs_bo_hist_best(const struct rs_bo_hist *h);
/* Name of heuristic plan k of a profile-space history (from its config's
 * "profiles=a,b,…:hash"), else "heuristic K" (1-based). */
void rs_bo_hist_profile_name(const struct rs_bo_hist *h, size_t k, char *buf, size_t n);
/* Write as CSV atomically: comment lines "# rankscope bo history v2", "# seed N",
 * "# config …", then a header and one row per trial (v1 files, without the fidelity, round,
 * screening and window columns, are read too). */
int rs_bo_hist_save(const struct rs_bo_hist *h, const char *path, char **cause);
/* Read a file written by rs_bo_hist_save; every field checked (RS_EFORMAT + cause naming
 * the file and line). */
int rs_bo_hist_load(const char *path, struct rs_bo_hist **out, char **cause);

/* ---- evaluation on a validation text (rankalloc-bo.c) */

/* Perplexity of rank arrays on a token stream: chunked windows of ctx tokens (the last partial
 * window dropped; at most `chunks`), every token but the first of a window scored.  The dense
 * model is run once at creation (its NLL, and with kl_lambda > 0 its log-probabilities, kept
 * for the KL divergence KL(dense || plan), mean nats per scored token). */
struct rs_alloc_eval_opts {
	int ctx;                /* window length ≥ 2 */
	int chunks;             /* windows used; 0: all */
	int want_kl;            /* keep the dense distributions for KL */
	/* Installs a trial's factor set (NULL: all dense) into the pass, so a trial runs as every
	 * other evaluation of the session does (engine.h: replacements too); NULL: the factors
	 * alone (rs_compress_install). */
	int (*install)(void *ud, const struct rs_compress_set *set, struct rs_forward *f,
	    char **cause);
	void *install_ud;
};

struct rs_alloc_eval_res {
	double nll;             /* mean token NLL */
	double ppl;             /* exp(nll) */
	double kl;              /* mean KL(dense || plan) per token; 0 without want_kl */
	double low_ppl, low_kl; /* the same over the first `low` windows (rs_alloc_eval_set) */
};

struct rs_alloc_eval;

/* The evaluator for model m (borrowed), factors from cache c with source src (both borrowed;
 * they must outlive it), tokens ids[n_ids] (copied).  Runs the dense pass (cancellable).
 * NULL + cause (no whole window, too much memory for the dense distributions, …). */
struct rs_alloc_eval *rs_alloc_eval_new(const struct rs_model *m, struct rs_compress *c,
    const struct rs_compress_src *src, const int32_t *ids, size_t n_ids,
    const struct rs_alloc_eval_opts *o, struct rs_job *job, char **cause);
void rs_alloc_eval_free(struct rs_alloc_eval *ev);
/* The dense model's result (computed at creation). */
void rs_alloc_eval_dense(const struct rs_alloc_eval *ev, struct rs_alloc_eval_res *res);
/* Windows per evaluation, and the evaluations / window forwards run so far (the dense one
 * included). */
int rs_alloc_eval_windows(const struct rs_alloc_eval *ev);
void rs_alloc_eval_counts(const struct rs_alloc_eval *ev, uint64_t *evals, uint64_t *windows);
/* From now on evaluate only the first `use` windows (0: all), and report the first `low` of
 * them separately too (0: none; low_ppl, low_kl).  Every process of a distributed run sets the
 * same, as it runs the same search. */
void rs_alloc_eval_set(struct rs_alloc_eval *ev, int use, int low);
/* Evaluate ranks[] (a plan's matrices; RS_PLAN_DENSE or a rank).  RS_ECANCEL when cancelled. */
int rs_alloc_eval_run(struct rs_alloc_eval *ev, const int *ranks, struct rs_alloc_eval_res *res,
    struct rs_job *job, char **cause);

/* ---- evaluating a round of candidates (sensitivity probes, a bo batch) */

/* Evaluates the q candidates of a round: ranks is q rank arrays of n = rs_plan_count
 * matrices (row i: candidate i), res[q] their results, in candidate order.  Each evaluation
 * is independent of the others and of where it runs (its own plan copy in ev; the result
 * depends on its ranks alone), so a driver may run candidate i on process i % size with
 * rs_alloc_eval_subset and combine the results in candidate order: the search then does not
 * depend on which process evaluated what.  On return every process that runs the search
 * must hold all results.  *done gets how many leading candidates have a result: q on
 * success, fewer on an error or RS_ECANCEL (their results are kept; the others are lost). */
struct rs_alloc_evaluator {
	int (*evaluate)(void *ud, struct rs_alloc_eval *ev, const int *ranks, int q,
	    struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause);
	void *ud;
	int batch;              /* candidates per bo round by default, and per probe round
	                         * (0 or 1: one) */
};

/* Evaluate candidates first, first + stride, … < q of ranks (q×n) into res[i] of each,
 * in that order; the others' res are left alone.  *done gets how many were evaluated
 * before an error or RS_ECANCEL (checked before each candidate). */
int rs_alloc_eval_subset(struct rs_alloc_eval *ev, const int *ranks, int q, int first,
    int stride, struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause);
/* The serial evaluator: every candidate in order on this process (the subset 0, 1, … q-1);
 * ud unused.  What an evaluator of NULL means. */
int rs_alloc_eval_serial(void *ud, struct rs_alloc_eval *ev, const int *ranks, int q,
    struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause);

/* The probe list of the sensitivity allocator: probe j is matrix mat[j] alone at keep ratio
 * ratios[rk[j]], matrices in plan order (eligible ones only; elig NULL: all), ratios
 * ascending within a matrix.  Returns the number of probes; mat and rk (each that many,
 * NULL when 0) are the caller's to free; -1 + cause when out of memory. */
int rs_alloc_sens_list(const struct rs_plan *p, const unsigned char *elig, int n_ratios,
    int **mat, int **rk, char **cause);
/* Probe every eligible matrix alone at each of the n_ratios keep ratios (ascending, in (0,1))
 * into a new *out: the probe list evaluated in rounds of evr->batch probes by evr (NULL:
 * serially, one at a time); progress through job: probes done of total.  RS_ECANCEL when
 * cancelled. */
int rs_alloc_sens_probe(struct rs_alloc_eval *ev, const struct rs_plan *p,
    const unsigned char *elig, const double *ratios, int n_ratios,
    const struct rs_alloc_evaluator *evr, struct rs_sens **out, struct rs_job *job,
    char **cause);
struct rs_sens *rs_sens_new(int n, int n_ratios, const double *ratios, char **cause);
void rs_sens_free(struct rs_sens *s);

/* ---- the Bayesian-optimization allocator (seed paper 1) */

struct rs_alloc_bo_opts {
	const struct rs_bo_space *space;
	uint64_t target;        /* budget T */
	uint64_t band;          /* a point is feasible when |params(x) − T| ≤ band (before the
	                         * fit that brings every evaluated plan within one step of T) */
	const unsigned char *elig;
	const struct rs_spec *const *specs;     /* fit priority; the proxy objective */
	int proxy;              /* 1: objective = log proxy (no forward pass) */
	int relative;           /* proxy: relative errors */
	struct rs_alloc_eval *ev;               /* ppl objective: log(ppl + kl_lambda·KL) */
	double kl_lambda;
	int trials;             /* stop when the history holds this many trials */
	int n_init;             /* random initial trials */
	uint64_t seed;
	/* Candidates per round (0 or 1: the sequential search).  Rounds start at trials 0, q,
	 * 2q, … of the history; a round is chosen by the constant liar (bo.h) before any of it
	 * is evaluated. */
	int batch;
	/* Evaluates a round of the ppl objective (NULL: rs_alloc_eval_serial). */
	const struct rs_alloc_evaluator *evaluator;
	/* Profile space (multi-fidelity, docs/allocation.md): the first `seeds` points are the
	 * profiles alone (evaluated in full, one round), then n_init random ones (one round),
	 * then rounds of `screen` candidates (constant liar): a candidate whose proxy exceeds
	 * proxy_cap times the largest proxy of the profiles is not run; the others run on the
	 * first `low` windows; the best of them runs in full when its screening objective is
	 * within the screening gap's spread of the incumbent's.  From trial `trust_from` on
	 * (0: never) the candidates come from a trust region around the incumbent. */
	int seeds;
	/* With late_profile (NULL: none), profile `late` is filled by it (rs_bo_space_set_profile) just
	 * before its own trial, once the profiles before it are evaluated: the sensitivity plan,
	 * whose probes take long, comes after the plans that cost nothing to make. */
	int late;
	int (*late_profile)(void *ud, int h, struct rs_job *job, char **cause);
	void *late_ud;
	int windows;            /* windows of a full evaluation (0: all of ev); the confirmation
	                         * runs the best heuristic and the `confirm` best full trials on
	                         * every window of ev and returns the best of them */
	int confirm;
	int screen;             /* candidates per guided round (≤ 1: no screening) */
	int low;                /* screening windows (0: a quarter of the full ones) */
	double proxy_cap;       /* 0: no proxy screen */
	int trust_from;
	/* After each trial k (0-based, in h) with its fitted ranks; best = index of the best. */
	void (*on_trial)(void *ud, const struct rs_bo_hist *h, size_t k, long best,
	    const int *ranks);
	void *ud;
};

/* Run (or continue: the trials already in h are given to the optimizer first) until h holds
 * o->trials trials; every trial is appended to h, a round's in candidate order.  A history
 * ending inside a round (cancelled, or a shorter last round) continues that round: it is
 * chosen again from the trials before it (the same points) and its remaining candidates are
 * evaluated, so a resumed run equals the uninterrupted one.  best_ranks[] gets the fitted
 * ranks of the best trial whenever h is not empty, also on RS_ECANCEL (cancelled between or
 * during trials: the unfinished trials are dropped) and on errors after the first trial. */
int rs_alloc_bo_run(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    struct rs_bo_hist *h, int *best_ranks, struct rs_job *job, char **cause);
/* The fitted ranks of point x (as the run evaluates it). */
int rs_alloc_bo_ranks(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    const double *x, int *ranks, char **cause);

/* ---- per-session state (session.h holds a pointer) */

struct rs_alloc_state {
	struct rs_bo_hist *hist;        /* the last BO run's trials */
	struct rs_sens *sens;           /* sensitivity probes … */
	char *sens_key;                 /* … and what they were measured with */
	struct rs_alloc_evaluator evaluator;    /* evaluate NULL: serial */
};

void rs_alloc_state_free(struct rs_alloc_state *st);
/* Another model was loaded: drop the trial history and the probes (measured on the old one);
 * the evaluator stays, as it says how the session runs, not what it ran on.  NULL: no-op. */
void rs_alloc_state_model_changed(struct rs_alloc_state *st);

#endif
