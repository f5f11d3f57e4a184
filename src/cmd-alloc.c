/* cmd-alloc.c: rank allocators (uniform, energy, greedy, sensitivity, bo) that turn the
 * budget into an ordinary plan, and the BO trial history. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "allocrun.h"
#include "cache.h"
#include "cmd.h"
#include "model.h"
#include "plan.h"
#include "rankalloc.h"
#include "session.h"

static const struct rs_opt cmd_alloc_opts[] = {
	{ "types", "LIST", "matrix types to factor, e.g. q,k,o,gate,up,down (others stay dense)" },
	{ "keep", "RATIO", "budget for this call: keep ratio of decoder-linear parameters" },
	{ "params", "N", "budget for this call: decoder-linear parameters" },
	{ "target", "E", "energy: covariance-energy target per matrix (ignores the budget)" },
	{ "layer-weights", "W", "greedy: w0,w1,... per layer, or flat, front, back" },
	{ "relative", NULL, "greedy/proxy: relative feature error (1 - energy) per matrix" },
	{ "validation", "FILE", "sensitivity/bo: held-out text the search evaluates on" },
	{ "ctx", "N", "sensitivity/bo: validation window (default 256, at most the context)" },
	{ "chunks", "N", "sensitivity/bo: validation windows (default 8; bo 16, profile space 32)" },
	{ "ratios", "LIST", "sensitivity: keep ratios probed (default 0.25,0.5,0.75)" },
	{ "recompute", NULL, "sensitivity: probe again even if the session holds probes" },
	{ "trials", "N", "bo: trials in all, resumed ones included (default 50)" },
	{ "init", "N", "bo: random initial trials (default 10; profile space 4, after the heuristic plans)" },
	{ "space", "profile|ratio", "bo: heuristic plans mixed and offset per type (default), or the seed paper's keep ratio per type" },
	{ "groups", "G", "bo: layer groups, one variable (offset or ratio) per type and group (default: profile space 2, ratio space 1)" },
	{ "offset", "F", "bo profile: an offset scales the parameters of a type and group by 1/F..F (default 4)" },
	{ "screen", "K", "bo profile: candidates per guided round, screened by proxy and the first windows (default 3; 1: none)" },
	{ "low", "N", "bo profile: screening windows (default a quarter of --chunks)" },
	{ "trust-from", "N", "bo profile: trust region around the best from trial N (default: after 20 guided trials, trial 30 with 5 heuristics and 4 random; 0: never)" },
	{ "proxy-cap", "F", "bo profile: skip candidates whose proxy exceeds F x the heuristics' largest (default 4; 0: off)" },
	{ "kl", "LAMBDA", "bo: objective ppl + LAMBDA * KL(dense || plan) (default 0.001)" },
	{ "objective", "ppl|proxy", "bo: validation perplexity, or the spectral proxy" },
	{ "seed", "N", "bo: random seed (default 1)" },
	{ "batch", "Q", "bo: candidates chosen per round, then evaluated (default 1: sequential; under rankscope-mpi the number of ranks)" },
	{ "band", "F", "bo: feasible when |params - target| <= F * dense (default 0.01)" },
	{ "resume", NULL, "bo: continue the session's last run (same settings)" },
	{ "history", "FILE", "bo: continue the run saved in FILE (alloc history export)" },
	{ "log", "FILE", "bo: save the history to FILE after every trial" },
	{ NULL, NULL, NULL }
};

/* Resolve what every allocator needs: --types (default def_types), the budget of --keep or
 * --params or the session's (allocrun.h). */
static int
env_init(struct rs_alloc_env *e, struct rs_cmd_ctx *ctx, const struct rs_args *args,
    const char *def_types, int need_budget)
{
	const char *tw = rs_args_get(args, "types");
	struct rs_budget b;
	int rc;

	memset(e, 0, sizeof *e);
	memset(&b, 0, sizeof b);
	if (rs_args_get(args, "keep") != NULL && rs_args_get(args, "params") != NULL)
		return rs_fail(&ctx->cause, RS_EUSAGE, "alloc: give --keep or --params, not both");
	if ((rc = rs_args_double(args, "keep", 0, 0.0, 1.0, &b.keep, &ctx->cause)) != 0 ||
	    (rc = rs_args_size(args, "params", RS_SIZE_COUNT, 0, 1, UINT64_MAX, &b.params,
	    &ctx->cause)) != 0)
		return rc;
	if (rs_args_get(args, "keep") != NULL && !(b.keep > 0))
		return rs_fail(&ctx->cause, RS_EUSAGE, "alloc: --keep must be above 0");
	return rs_allocrun_env(e, ctx->session, tw != NULL ? tw : def_types, &b, need_budget,
	    &ctx->cause);
}

/* Store e->ranks in the plan (one undo step) and say how the budget was met. */
static int
env_finish(struct rs_alloc_env *e, struct rs_cmd_ctx *ctx, const char *who)
{
	struct rs_alloc_outcome o;
	char line[512];
	int rc;

	if ((rc = rs_allocrun_apply(e, &o, &ctx->cause)) != 0)
		return rc;
	rs_out_printf(ctx->out, "alloc %s: %d matrices factored, %d dense; ranks multiples "
	    "of %d below break-even\n", who, o.factored, o.dense, rs_plan_align(e->p));
	if (o.budget != NULL)
		rs_out_printf(ctx->out, "alloc %s: %llu decoder-linear params kept (keep "
		    "%.4f); budget %llu (keep %.4f), one step %llu: %s\n", who,
		    (unsigned long long)o.params, (double)o.params / (double)o.dense_params,
		    (unsigned long long)e->target, (double)e->target / (double)o.dense_params,
		    (unsigned long long)e->step, o.budget);
	rs_plan_budget_line(e->p, rs_model_embed_head_params(e->s->model), line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	return 0;
}

/* ---------------------------------------------------------------- uniform, energy, greedy */

static int
alloc_uniform(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_alloc_env e;
	double rho;
	int rc;

	if ((rc = env_init(&e, ctx, args, "all", 1)) == 0 &&
	    (rc = rs_rankalloc_uniform(e.p, e.elig, e.target, e.ranks, &rho, &ctx->cause)) == 0) {
		rs_out_printf(ctx->out, "alloc uniform: keep ratio %.4f for every eligible matrix "
		    "(ranks rounded down to the alignment, the largest remainders rounded up to "
		    "meet the budget)\n", rho);
		rc = env_finish(&e, ctx, "uniform");
	}
	rs_allocrun_env_free(&e);
	return rc;
}

static int
alloc_energy(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_alloc_env e;
	const char *tw = rs_args_get(args, "target");
	double target = -1, got;
	char which[256];
	int rc;

	if ((rc = env_init(&e, ctx, args, "all", tw == NULL)) != 0 ||
	    (rc = rs_allocrun_need_specs(&e, "energy", &ctx->cause)) != 0)
		goto out;
	if (tw != NULL) {
		if ((rc = rs_args_double(args, "target", 1, 0.0, 1.0, &target, &ctx->cause)) != 0)
			goto out;
		if (e.have_budget)
			rs_out_infof(ctx->out, "alloc energy: --target given: the budget is not "
			    "used for the ranks (only reported)\n");
	}
	if ((rc = rs_rankalloc_energy(e.p, e.elig, e.specs, target, e.target, e.ranks, &got,
	    &ctx->cause)) != 0)
		goto out;
	rs_allocrun_spec_desc(&e, which, sizeof which);
	rs_out_printf(ctx->out, "alloc energy: energy %.6f of the %s%s\n", got, which,
	    tw != NULL ? "" : " (the largest energy target whose ranks fit the budget; then "
	    "steps added by feature-error gain per parameter)");
	rc = env_finish(&e, ctx, "energy");
out:
	rs_allocrun_env_free(&e);
	return rc;
}

static int
alloc_greedy(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_alloc_env e;
	const char *lw = rs_args_get(args, "layer-weights");
	double *w = NULL;
	char which[256];
	int rc, relative = rs_args_has(args, "relative");

	if ((rc = env_init(&e, ctx, args, "all", 1)) != 0 ||
	    (rc = rs_allocrun_need_specs(&e, "greedy", &ctx->cause)) != 0)
		goto out;
	if ((w = rs_mallocarray((size_t)rs_plan_n_layers(e.p), sizeof *w)) == NULL) {
		rc = rs_fail(&ctx->cause, RS_ENOMEM, "alloc: out of memory");
		goto out;
	}
	if ((rc = rs_rankalloc_layer_weights(lw, rs_plan_n_layers(e.p), w, &ctx->cause)) != 0 ||
	    (rc = rs_rankalloc_greedy(e.p, e.elig, e.specs, w, relative, e.target, e.ranks,
	    &ctx->cause)) != 0)
		goto out;
	rs_allocrun_spec_desc(&e, which, sizeof which);
	rs_out_printf(ctx->out, "alloc greedy: steps of %d ranks taken by %s feature-error "
	    "reduction per parameter (layer weights %s) from the %s; predicted error %.6g\n",
	    rs_plan_align(e.p), relative ? "relative" : "absolute", lw != NULL ? lw : "flat",
	    which, rs_rankalloc_proxy(e.p, e.specs, w, relative, e.ranks));
	rc = env_finish(&e, ctx, "greedy");
out:
	rs_free(w);
	rs_allocrun_env_free(&e);
	return rc;
}

/* ---------------------------------------------------------------- validation text */

/* Open --validation (--ctx, --chunks; default def_chunks windows) and say what it is. */
static int
val_open(struct rs_alloc_env *e, struct rs_cmd_ctx *ctx, const struct rs_args *args,
    int def_chunks, int want_kl, struct rs_alloc_val *v, int ignore_chunks)
{
	const struct rs_model_config *mc = rs_model_config(e->s->model);
	/* without --validation: the session's default text (`set validation`, the config file) */
	const char *file = rs_args_get(args, "validation") != NULL ?
	    rs_args_get(args, "validation") : e->s->validation;
	struct rs_alloc_eval_res dres;
	long ctxlen, chunks;
	int rc;

	memset(v, 0, sizeof *v);
	if ((rc = rs_args_int(args, "ctx", 0, 2, mc->ctx_len, &ctxlen, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "chunks", 0, 1, 1 << 20, &chunks, &ctx->cause)) != 0 ||
	    (rc = rs_allocrun_val_open(e, file, ctxlen, ignore_chunks ? 0 : chunks, def_chunks,
	    want_kl, v, ctx->job,
	    &ctx->cause)) != 0)
		return rc;
	rs_alloc_eval_dense(v->ev, &dres);
	rs_out_printf(ctx->out, "alloc: validation %s: %zu tokens, %d windows of %d "
	    "(chunked, %lld tokens scored); dense PPL %.4f (%.2f s)\n", file, v->n_ids, v->chunks,
	    v->ctx, (long long)v->chunks * (v->ctx - 1), dres.ppl, v->dense_secs);
	return 0;
}

/* The evaluation counters, as one line. */
static void
val_counts(struct rs_cmd_ctx *ctx, const char *who, const struct rs_alloc_val *v)
{
	uint64_t evals, windows;

	rs_alloc_eval_counts(v->ev, &evals, &windows);
	rs_out_printf(ctx->out, "alloc %s: forward passes: %llu validation evaluations of %d "
	    "windows (the dense one included), %llu window forwards\n", who,
	    (unsigned long long)evals, v->chunks, (unsigned long long)windows);
}

/* Print a note line. */
static void
alloc_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_printf(ctx->out, "%s\n", line);
}

/* ---------------------------------------------------------------- sensitivity */

/* Parse "0.25,0.5,0.75" into r[] (ascending, in (0,1)); the count or -1. */
static int
parse_ratios(const char *s, double *r, int max)
{
	int n = 0;

	while (*s != '\0') {
		char *end;
		if (n == max)
			return -1;
		errno = 0;
		r[n] = strtod(s, &end);
		if (errno != 0 || end == s || !(r[n] > 0 && r[n] < 1) || (n > 0 && r[n] <= r[n - 1]))
			return -1;
		n++;
		s = end;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -1;
	}
	return n > 0 ? n : -1;
}

static int
alloc_sensitivity(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_alloc_env e;
	struct rs_alloc_val v;
	const struct rs_sens *sens;
	const char *rw = rs_args_get(args, "ratios");
	double ratios[64] = { 0.25, 0.5, 0.75 }, tau;
	int nr = 3, rc, k, probed;
	char rl[512] = "";
	size_t at = 0;
	struct timespec t0, t1;

	memset(&v, 0, sizeof v);
	if ((rc = env_init(&e, ctx, args, "all", 1)) != 0)
		goto out;
	if (rw != NULL && (nr = parse_ratios(rw, ratios, 64)) < 0) {
		rc = rs_fail(&ctx->cause, RS_EUSAGE, "alloc sensitivity: --ratios is a list of "
		    "ascending keep ratios inside (0, 1), e.g. 0.25,0.5,0.75");
		goto out;
	}
	for (k = 0; k < nr && at < sizeof rl; k++)
		at += (size_t)snprintf(rl + at, sizeof rl - at, "%s%g", k ? "," : "", ratios[k]);
	if ((rc = val_open(&e, ctx, args, 8, 0, &v, 0)) != 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = rs_allocrun_probes(&e, &v, ratios, nr, rl, rs_args_has(args, "recompute"),
	    alloc_note, ctx, &sens, &probed, ctx->job, &ctx->cause)) != 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (probed) {
		int i;
		rs_out_printf(ctx->out, "alloc sensitivity: probes done in %.1f s (kept in the "
		    "session)\n", (double)(t1.tv_sec - t0.tv_sec) +
		    1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		for (i = 0; i < e.n; i++) {
			char line[256];
			size_t la = 0;
			la += (size_t)snprintf(line, sizeof line, "  %-8s", rs_plan_name(e.p, i));
			for (k = 0; k < nr && la < sizeof line; k++)
				la += (size_t)snprintf(line + la, sizeof line - la, " %8.3f",
				    exp(sens->nll[(size_t)i * (size_t)nr + (size_t)k]));
			rs_out_infof(ctx->out, "%s\n", line);
		}
	} else {
		rs_out_printf(ctx->out, "alloc sensitivity: probes from the session (same model, "
		    "method, calibration, text, windows and ratios)\n");
	}
	if ((rc = rs_rankalloc_cut(e.p, e.elig, sens, e.target, e.ranks, &tau,
	    &ctx->cause)) != 0)
		goto out;
	rs_out_printf(ctx->out, "alloc sensitivity: threshold: NLL increase <= %.5f per matrix "
	    "(probe ratios %s, smallest passing ratio each, else dense), then steps by "
	    "interpolated sensitivity per parameter\n", tau, rl);
	val_counts(ctx, "sensitivity", &v);
	rc = env_finish(&e, ctx, "sensitivity");
out:
	rs_allocrun_val_close(&v);
	rs_allocrun_env_free(&e);
	return rc;
}

/* ---------------------------------------------------------------- bo */

struct bo_print {
	struct rs_cmd_ctx *ctx;
	const struct rs_bo_space *sp;
	const char *log;
	int trials;
	int proxy;
};

static const char *const fid_names[] = { "full", "screen", "proxy" };

/* What chose trial t: "random", "guided", or the heuristic plan it is. */
static const char *
trial_kind(const struct rs_bo_space *sp, const struct rs_bo_trial *t, size_t k)
{
	if (t->guided == RS_BO_SEEDED)
		return sp != NULL && sp->kind == RS_BO_SPACE_PROFILE && (int)k < sp->n_prof ?
		    sp->prof_name[k] : "heuristic";
	return t->guided ? "guided" : "random";
}

/* Print trial k and the best so far; save the log file. */
static void
bo_on_trial(void *ud, const struct rs_bo_hist *h, size_t k, long best, const int *ranks)
{
	struct bo_print *bp = ud;
	const struct rs_bo_trial *t = &h->t[k];
	char line[1400];
	size_t at = 0;
	int j;

	(void)ranks;
	best = -1;
	for (j = 0; j <= (int)k; j++)
		if (h->t[j].fidelity == RS_BO_FID_FULL && (best < 0 || h->t[j].y < h->t[best].y))
			best = j;
	at += (size_t)snprintf(line, sizeof line, "trial %3zu/%d %-11s %-6s", k + 1, bp->trials,
	    trial_kind(bp->sp, t, k), fid_names[t->fidelity]);
	for (j = 0; j < h->d && at < sizeof line; j++) {
		char v[32];
		rs_bo_space_var_text(bp->sp, j, t->x[j], v, sizeof v);
		at += (size_t)snprintf(line + at, sizeof line - at, " %s=%s", h->var_names[j], v);
	}
	if (at < sizeof line)
		at += (size_t)snprintf(line + at, sizeof line - at, " | %llu params (keep %.4f)",
		    (unsigned long long)t->params, (double)t->params / (double)h->dense_params);
	if (at < sizeof line) {
		if (bp->proxy)
			at += (size_t)snprintf(line + at, sizeof line - at, " | proxy %.6g",
			    t->proxy);
		else if (t->fidelity == RS_BO_FID_FULL)
			at += (size_t)snprintf(line + at, sizeof line - at, " | ppl %.4f kl %.5f",
			    t->ppl, t->kl);
		else if (t->fidelity == RS_BO_FID_LOW)
			at += (size_t)snprintf(line + at, sizeof line - at, " | screening %.4f",
			    t->low_ppl);
		else
			at += (size_t)snprintf(line + at, sizeof line - at, " | proxy %.4g: not "
			    "run", t->proxy);
	}
	if (at < sizeof line && best >= 0)
		snprintf(line + at, sizeof line - at, " | obj %.6f | %.2f s | best %.6f (trial "
		    "%ld)", t->y, t->secs, h->t[best].y, best + 1);
	rs_out_printf(bp->ctx->out, "%s\n", line);
	if (bp->log != NULL) {
		char *cause = NULL;
		if (rs_bo_hist_save(h, bp->log, &cause) != 0)
			rs_out_infof(bp->ctx->out, "warning: %s\n", cause != NULL ? cause : "?");
		rs_free(cause);
	}
}

/* The heuristic plans of the profile space at the budget: uniform always; energy, greedy and
 * greedy --relative with spectra; sensitivity with a validation text (a place held here: its
 * probes take long, and bo_sens_profile fills it just before its trial); the plan in place
 * when it factors an eligible matrix and is none of them (not when resuming: the plan in place
 * is then the interrupted run's best, and the run's plans are in its config).  prof[h] gets
 * rank arrays (n each),
 * names[h] the names; *np the count, *sens the sensitivity plan's index (-1: none); sig a
 * hash of the plans made here, for the config. */
static int
bo_profiles(struct rs_alloc_env *e, struct rs_cmd_ctx *ctx, int proxy, int resume, int **prof,
    const char **names, int *np, int *sens, uint64_t *sig)
{
	size_t bytes = (size_t)e->n * sizeof(int);
	char *cause = NULL;
	double got;
	int rc = 0, h, i, k = 0, hand = 0;

	*np = 0;
	*sens = -1;
	for (h = 0; h < RS_BO_MAX_PROFILES; h++)
		if ((prof[h] = rs_mallocarray((size_t)e->n, sizeof(int))) == NULL)
			return rs_fail(&ctx->cause, RS_ENOMEM, "alloc: out of memory");
	if ((rc = rs_rankalloc_uniform(e->p, e->elig, e->target, prof[k], NULL,
	    &ctx->cause)) != 0)
		return rc;
	names[k++] = "uniform";
	if (e->missing == 0) {
		if (rs_rankalloc_energy(e->p, e->elig, e->specs, -1, e->target, prof[k], &got,
		    &cause) == 0)
			names[k++] = "energy";
		if (rs_rankalloc_greedy(e->p, e->elig, e->specs, NULL, 0, e->target, prof[k],
		    &cause) == 0)
			names[k++] = "greedy";
		if (rs_rankalloc_greedy(e->p, e->elig, e->specs, NULL, 1, e->target, prof[k],
		    &cause) == 0)
			names[k++] = "greedyrel";
	} else {
		rs_out_infof(ctx->out, "alloc bo: %d eligible matrices lack a spectrum: no energy "
		    "or greedy plan among the heuristics\n", e->missing);
	}
	rs_free(cause);
	*sig = 0;
	for (h = 0; h < k; h++)
		*sig = rs_hash64(prof[h], bytes, *sig);
	if (!proxy) {
		/* a place for the sensitivity plan: the uniform one until it is made */
		memcpy(prof[k], prof[0], bytes);
		*sens = k;
		names[k++] = "sensitivity";
	}
	/* the plan in place, when it is a plan of its own */
	rs_rankalloc_get(e->p, prof[k]);
	for (i = 0; i < e->n && !resume; i++)
		if (e->elig[i] && prof[k][i] != RS_PLAN_DENSE)
			hand = 1;
	for (i = 0; i < e->n; i++)
		if (!e->elig[i])
			prof[k][i] = RS_PLAN_DENSE;
	for (h = 0; h < k && hand; h++)
		if (h != *sens && memcmp(prof[h], prof[k], bytes) == 0)
			hand = 0;
	if (hand && k < RS_BO_MAX_PROFILES) {
		*sig = rs_hash64(prof[k], bytes, *sig);
		names[k++] = "plan";
	}
	*np = k;
	return 0;
}

/* What making the sensitivity plan inside a bo run needs. */
struct bo_sens_ctx {
	struct rs_alloc_env *e;
	struct rs_cmd_ctx *ctx;
	const struct rs_args *args;
	struct rs_bo_space *sp;
	int *ranks;             /* (n) scratch */
};

/* The sensitivity plan as profile h: the probes as 'alloc sensitivity' takes them (the
 * session's, else probed now on 8 windows of the validation text), then its cut. */
static int
bo_sens_profile(void *ud, int h, struct rs_job *job, char **cause)
{
	static const double sratios[3] = { 0.25, 0.5, 0.75 };
	struct bo_sens_ctx *bs = ud;
	struct rs_cmd_ctx *ctx = bs->ctx;
	struct rs_alloc_val vs;
	const struct rs_sens *sens;
	int probed, rc;
	double tau;
	long ctxlen;

	memset(&vs, 0, sizeof vs);
	if ((rc = rs_args_int(bs->args, "ctx", 0, 2, 1 << 20, &ctxlen, cause)) != 0 ||
	    (rc = rs_allocrun_val_open(bs->e, rs_args_get(bs->args, "validation"), ctxlen, 8, 8,
	    0, &vs, job, cause)) != 0 ||
	    (rc = rs_allocrun_probes(bs->e, &vs, sratios, 3, "0.25,0.5,0.75", 0, alloc_note, ctx,
	    &sens, &probed, job, cause)) != 0)
		goto out;
	if (probed) {
		uint64_t evals, windows;
		rs_alloc_eval_counts(vs.ev, &evals, &windows);
		rs_out_printf(ctx->out, "alloc bo: sensitivity probes: %llu validation evaluations "
		    "of %d windows, %llu window forwards (kept in the session)\n",
		    (unsigned long long)evals, vs.chunks, (unsigned long long)windows);
	} else {
		rs_out_printf(ctx->out, "alloc bo: sensitivity probes from the session\n");
	}
	if ((rc = rs_rankalloc_cut(bs->e->p, bs->e->elig, sens, bs->e->target, bs->ranks, &tau,
	    cause)) != 0)
		goto out;
	rs_bo_space_set_profile(bs->sp, bs->e->p, h, bs->ranks);
out:
	rs_allocrun_val_close(&vs);
	return rc;
}

static int
alloc_bo(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_alloc_env e;
	struct rs_alloc_val v;
	struct rs_bo_space sp;
	struct rs_alloc_bo_opts o;
	struct rs_bo_hist *h = NULL;
	struct bo_print bp;
	const char *objw = rs_args_get(args, "objective"), *histw = rs_args_get(args, "history");
	const char *spw = rs_args_get(args, "space"), *pnames[RS_BO_MAX_PROFILES];
	int resume = rs_args_has(args, "resume") || histw != NULL, proxy = 0, rc, j, profile;
	int relative = rs_args_has(args, "relative"), np = 0, sens_h = -1;
	struct bo_sens_ctx bs;
	int *prof[RS_BO_MAX_PROFILES] = { NULL };
	const struct rs_alloc_evaluator *evr = rs_allocrun_evaluator(ctx->session);
	long trials, init, groups, seed = 1, batch, screen = 3, low = 0, trust = -1, full;
	double kl, band, pcap = 4, offset = RS_ALLOC_BO_OFFSET;
	uint64_t psig = 0;
	char *config = NULL, names[RS_BO_MAX_VARS * 24] = "", which[256], bq[32], rounds[64] = "";
	char extra[256] = "", plist[160] = "", offr[32] = "";
	size_t at = 0;
	long best;

	memset(&v, 0, sizeof v);
	memset(&o, 0, sizeof o);
	memset(&sp, 0, sizeof sp);
	if (spw == NULL || strcmp(spw, "profile") == 0)
		profile = 1;
	else if (strcmp(spw, "ratio") == 0)
		profile = 0;
	else
		return rs_fail(&ctx->cause, RS_EUSAGE, "alloc bo: --space is profile or ratio, "
		    "not '%s'", spw);
	if ((rc = env_init(&e, ctx, args, profile ? "all" : "q,k,o,gate,up,down", 1)) != 0)
		goto out;
	if (objw == NULL || strcmp(objw, "ppl") == 0)
		proxy = 0;
	else if (strcmp(objw, "proxy") == 0)
		proxy = 1;
	else {
		rc = rs_fail(&ctx->cause, RS_EINVAL, "alloc bo: --objective is ppl or proxy, not "
		    "'%s'", objw);
		goto out;
	}
	if ((rc = rs_args_int(args, "trials", 50, 1, 100000, &trials, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "init", profile ? 4 : 10, profile ? 0 : 1, 100000, &init,
	    &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "groups", profile ? RS_ALLOC_BO_GROUPS : 1, 1, 1 << 16, &groups,
	    &ctx->cause)) != 0 ||
	    (rc = rs_args_double(args, "kl", 0.001, 0.0, 1e9, &kl, &ctx->cause)) != 0 ||
	    (rc = rs_args_double(args, "band", 0.01, 0.0, 1.0, &band, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "seed", 1, 0, 0x7fffffffffffffffL, &seed, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "batch", evr != NULL && evr->batch > 1 ? evr->batch : 1, 1,
	    1024, &batch, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "screen", batch > 3 ? batch : 3, 1, 1024, &screen,
	    &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "low", 0, 1, 1 << 20, &low, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "trust-from", -1, 0, 100000, &trust, &ctx->cause)) != 0 ||
	    (rc = rs_args_double(args, "proxy-cap", 4, 0.0, 1e9, &pcap, &ctx->cause)) != 0 ||
	    (rc = rs_args_double(args, "offset", RS_ALLOC_BO_OFFSET, 1.0, 1e6, &offset,
	    &ctx->cause)) != 0)
		goto out;
	/* the default groups on a model with fewer layers: one per layer */
	if (!rs_args_has(args, "groups") && groups > rs_plan_n_layers(e.p))
		groups = rs_plan_n_layers(e.p);
	if (proxy && (rc = rs_allocrun_need_specs(&e, "bo --objective proxy", &ctx->cause)) != 0)
		goto out;
	if ((rc = rs_args_int(args, "chunks", profile ? 32 : 16, 1, 1 << 20, &full,
	    &ctx->cause)) != 0)
		goto out;
	/* the profile space confirms its best plans on up to 4x the search's windows */
	if (!proxy && (rc = val_open(&e, ctx, args, profile ? (int)full * 4 : 16, kl > 0, &v,
	    profile)) != 0)
		goto out;
	if (profile) {
		size_t pa = 0;
		if ((rc = bo_profiles(&e, ctx, proxy, resume, prof, pnames, &np, &sens_h, &psig)) != 0 ||
		    (rc = rs_bo_space_init_profile(&sp, e.p, e.types, (int)groups, np,
		    (const int *const *)prof, pnames, &ctx->cause)) != 0)
			goto out;
		sp.off = log(offset);
		/* only another range in the config: histories from before --offset still resume */
		if (offset != 4.0)
			snprintf(offr, sizeof offr, " offset=%g", offset);
		for (j = 0; j < np && pa < sizeof plist; j++)
			pa += (size_t)snprintf(plist + pa, sizeof plist - pa, "%s%s", j ? "," : "",
			    pnames[j]);
		if (trust < 0)
			trust = np + init + 20;     /* not from --trials: a longer resumed run is the same run */
		if (!proxy && full > v.chunks)
			full = v.chunks;
		if (low == 0 && !proxy)
			low = (full + 3) / 4;
		snprintf(extra, sizeof extra, " space=profile profiles=%s:%016" PRIx64 " screen=%ld "
		    "low=%ld trust=%ld cap=%g windows=%ld%s", plist, psig, screen, low, trust, pcap,
		    full, offr);
	} else if ((rc = rs_bo_space_init(&sp, e.p, e.types, (int)groups, &ctx->cause)) != 0) {
		goto out;
	}
	for (j = 0; j < sp.d && at < sizeof names; j++) {
		char nm[24];
		rs_bo_space_var_name(&sp, j, nm, sizeof nm);
		at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", j ? "," : "", nm);
	}
	rs_allocrun_spec_desc(&e, which, sizeof which);
	/* everything the objective and the search space depend on: a resumed run must match
	 * (the batch only when > 1, so that sequential runs keep their config) */
	bq[0] = '\0';
	if (batch > 1 && !profile)
		snprintf(bq, sizeof bq, " batch=%ld", batch);
	if (proxy)
		config = rs_strdupf("objective=proxy%s model=%016" PRIx64 " target=%llu band=%g "
		    "vars=%s range=%g-%g align=%d init=%ld specs=%s%s%s", relative ? "-relative" : "",
		    rs_model_identity(e.s->model), (unsigned long long)e.target, band, names,
		    sp.lo, sp.hi, rs_plan_align(e.p), init, which, bq, extra);
	else
		config = rs_strdupf("objective=ppl kl=%g model=%016" PRIx64 " method=%s alpha=%g "
		    "calib=%s text=%016" PRIx64 " ctx=%d chunks=%d target=%llu band=%g vars=%s "
		    "range=%g-%g align=%d init=%ld%s%s", kl, rs_model_identity(e.s->model),
		    rs_method_name((enum rs_method)e.s->method), e.s->asvd_alpha, v.calib_id,
		    v.text_hash, v.ctx, v.chunks, (unsigned long long)e.target, band, names,
		    sp.lo, sp.hi, rs_plan_align(e.p), init, bq, extra);
	if (config == NULL) {
		rc = rs_fail(&ctx->cause, RS_ENOMEM, "alloc: out of memory");
		goto out;
	}
	{
		uint64_t useed = (uint64_t)seed;
		if ((rc = rs_allocrun_bo_hist(e.s, config, &useed, rs_args_has(args, "seed"), resume,
		    histw, sp.d, &h, &ctx->cause)) != 0)
			goto out;
		seed = (long)useed;
	}
	if (resume)
		rs_out_printf(ctx->out, "alloc bo: resuming after %zu trials (seed %llu)\n", h->n,
		    (unsigned long long)h->seed);
	h->dense_params = rs_plan_dense_params(e.p);
	for (j = 0; j < sp.d; j++)
		rs_bo_space_var_name(&sp, j, h->var_names[j], sizeof h->var_names[j]);

	o.space = &sp;
	o.target = e.target;
	o.band = (uint64_t)(band * (double)rs_plan_dense_params(e.p));
	if (o.band < e.step)
		o.band = e.step;
	o.elig = e.elig;
	o.specs = e.missing == 0 ? e.specs : NULL;
	o.proxy = proxy;
	o.relative = relative;
	o.ev = v.ev;
	o.kl_lambda = kl;
	o.trials = (int)trials;
	o.n_init = (int)init;
	o.seed = (uint64_t)seed;
	o.batch = (int)batch;
	o.evaluator = evr;
	o.seeds = np;
	if (sens_h >= 0) {
		bs.e = &e;
		bs.ctx = ctx;
		bs.args = args;
		bs.sp = &sp;
		bs.ranks = prof[sens_h];
		o.late = sens_h;
		o.late_profile = bo_sens_profile;
		o.late_ud = &bs;
	}
	o.windows = (int)full;
	o.confirm = 3;
	o.screen = (int)screen;
	o.low = (int)low;
	o.proxy_cap = pcap;
	o.trust_from = (int)trust;
	o.on_trial = bo_on_trial;
	o.ud = &bp;
	bp.ctx = ctx;
	bp.sp = &sp;
	bp.log = rs_args_get(args, "log");
	bp.trials = (int)trials;
	bp.proxy = proxy;
	if (profile) {
		rs_out_printf(ctx->out, "alloc bo: profile space, %d variables (%s): mixture "
		    "weights of the heuristic plans (%s) and a parameter factor per type and %d layer "
		    "group%s (x1/%.0f..x%.0f), projected onto the budget; the %d heuristic plans "
		    "first, %ld random, "
		    "then guided rounds of %ld candidates (proxy cap %g, %ld screening windows of "
		    "%ld, the best in full), trust region from trial %ld; the best heuristic and the "
		    "3 best trials confirmed on all %d windows; GP Matern 5/2 + log-EI; seed %ld; "
		    "objective %s\n", sp.d, names, plist, sp.groups, sp.groups == 1 ? "" : "s",
		    exp(sp.off), exp(sp.off), np, init,
		    screen, pcap, low, full, trust, v.chunks, seed, proxy ? "log of the predicted feature "
		    "error (spectra)" : "log(ppl + kl * KL(dense || plan)) on the validation text");
	} else {
		if (batch > 1)
			snprintf(rounds, sizeof rounds, " in rounds of %ld (constant liar)", batch);
		rs_out_printf(ctx->out, "alloc bo: ratio space, %d variables (%s), keep ratio "
		    "%g..%g each (>= 1: dense), other types dense; %d random then guided trials up to "
		    "%ld%s; GP Matern 5/2 + log-EI; seed %ld; objective %s; feasible band: params "
		    "within %llu of the budget, then fitted within one step\n", sp.d, names, sp.lo,
		    sp.hi, (int)init, trials, rounds, seed,
		    proxy ? (relative ? "log of the predicted relative feature error (spectra)" :
		    "log of the predicted feature error (spectra)") :
		    "log(ppl + kl * KL(dense || plan)) on the validation text",
		    (unsigned long long)o.band);
	}
	rc = rs_alloc_bo_run(e.p, &o, h, e.ranks, ctx->job, &ctx->cause);
	best = rs_bo_hist_best(h);
	if (h->chosen >= 0) {
		char cl[512];
		size_t ca = 0;
		for (j = 0; j < (int)h->n && ca < sizeof cl; j++)
			if (h->t[j].confirm_ppl > 0)
				ca += (size_t)snprintf(cl + ca, sizeof cl - ca, "%s trial %d (%s) %.4f",
				    ca ? "," : "", j + 1, trial_kind(&sp, &h->t[j], (size_t)j),
				    h->t[j].confirm_ppl);
		rs_out_printf(ctx->out, "alloc bo: confirmed on all %d validation windows "
		    "(ppl + kl * KL):%s; chosen: trial %ld\n", h->confirm_windows, cl,
		    h->chosen + 1);
		best = h->chosen;
	}
	if (best >= 0) {
		const struct rs_bo_trial *t = &h->t[best];
		int rc2;
		char bl[1400];
		size_t ba = 0;
		for (j = 0; j < h->d && ba < sizeof bl; j++) {
			char vt[32];
			rs_bo_space_var_text(&sp, j, t->x[j], vt, sizeof vt);
			ba += (size_t)snprintf(bl + ba, sizeof bl - ba, " %s=%s", h->var_names[j], vt);
		}
		rs_out_printf(ctx->out, "alloc bo: %s trial %ld of %zu (%s):%s; objective %.6f\n",
		    h->chosen >= 0 ? "chosen" : "best",
		    best + 1, h->n, trial_kind(&sp, t, (size_t)best), bl, t->y);
		if (!proxy)
			rs_out_printf(ctx->out, "alloc bo: best validation PPL %.4f, KL %.5f\n",
			    t->ppl, t->kl);
		if (v.ev != NULL)
			val_counts(ctx, "bo", &v);
		if ((rc2 = env_finish(&e, ctx, "bo")) != 0 && rc == 0)
			rc = rc2;
		if (rc == RS_ECANCEL) {
			rs_free(ctx->cause);
			ctx->cause = rs_strdupf("alloc bo: cancelled after %zu trials; the best plan "
			    "so far (trial %ld) is in place; 'alloc bo --resume' continues", h->n,
			    best + 1);
		}
	}
	if (best < 0 && rc == RS_ECANCEL) {
		rs_free(ctx->cause);
		ctx->cause = rs_strdupf("alloc bo: cancelled after 0 trials; the plan is unchanged");
	}
	{
		int rc2 = rs_allocrun_bo_keep(e.s, h, &ctx->cause);
		if (rc == 0)
			rc = rc2;
	}
	h = NULL;
out:
	for (j = 0; j < RS_BO_MAX_PROFILES; j++)
		rs_free(prof[j]);
	rs_bo_space_free(&sp);
	rs_bo_hist_free(h);
	rs_free(config);
	rs_allocrun_val_close(&v);
	rs_allocrun_env_free(&e);
	return rc;
}

/* ---------------------------------------------------------------- history */

/* Spearman rank correlation of a[n] and b[n] (average ranks for ties); NAN below 3 pairs. */
static double
spearman(const double *a, const double *b, size_t n)
{
	double *ra, *rb, ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	size_t i, j;

	if (n < 3 || (ra = rs_mallocarray(2 * n, sizeof *ra)) == NULL)
		return NAN;
	rb = ra + n;
	for (i = 0; i < n; i++) {
		double lt_a = 0, eq_a = 0, lt_b = 0, eq_b = 0;
		for (j = 0; j < n; j++) {
			lt_a += a[j] < a[i];
			eq_a += a[j] == a[i];
			lt_b += b[j] < b[i];
			eq_b += b[j] == b[i];
		}
		ra[i] = lt_a + (eq_a + 1) / 2;
		rb[i] = lt_b + (eq_b + 1) / 2;
		ma += ra[i];
		mb += rb[i];
	}
	ma /= (double)n;
	mb /= (double)n;
	for (i = 0; i < n; i++) {
		sab += (ra[i] - ma) * (rb[i] - mb);
		saa += (ra[i] - ma) * (ra[i] - ma);
		sbb += (rb[i] - mb) * (rb[i] - mb);
	}
	rs_free(ra);
	return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

static int
alloc_history(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_bo_hist *h = rs_allocrun_bo_last(ctx->session);
	double *pa = NULL, *pb = NULL, rho;
	size_t k, np = 0, nfull = 0, nlow = 0, nproxy = 0;
	uint64_t windows = 0;
	long best, run = -1;

	if (h == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "alloc history: no bo run in this session");
	if (args->argc >= 2) {
		int rc;
		if (strcmp(args->argv[1], "export") != 0 || args->argc != 3)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: alloc history [export "
			    "FILE.csv]");
		if ((rc = rs_bo_hist_save(h, args->argv[2], &ctx->cause)) != 0)
			return rc;
		rs_out_printf(ctx->out, "alloc history: %zu trials written to %s\n", h->n,
		    args->argv[2]);
		return 0;
	}
	best = rs_bo_hist_best(h);
	rs_out_printf(ctx->out, "alloc history: %zu trials, seed %llu, best trial %ld "
	    "(objective %.6f)\n# %s\n", h->n, (unsigned long long)h->seed, best + 1,
	    best >= 0 ? h->t[best].y : 0.0, h->config);
	rs_out_printf(ctx->out, "trial kind        fidelity params    objective best-so-far "
	    "measured                 windows seconds\n");
	pa = rs_mallocarray(h->n + 1, sizeof *pa);
	pb = rs_mallocarray(h->n + 1, sizeof *pb);
	if (pa == NULL || pb == NULL) {
		rs_free(pa);
		rs_free(pb);
		return rs_fail(&ctx->cause, RS_ENOMEM, "alloc: out of memory");
	}
	for (k = 0; k < h->n; k++) {
		const struct rs_bo_trial *t = &h->t[k];
		char what[64], kind[24];

		if (t->fidelity == RS_BO_FID_FULL && (run < 0 || t->y < h->t[run].y))
			run = (long)k;
		if (t->guided == RS_BO_SEEDED)
			rs_bo_hist_profile_name(h, k, kind, sizeof kind);
		else
			snprintf(kind, sizeof kind, "%s", t->guided ? "guided" : "random");
		if (t->fidelity == RS_BO_FID_FULL && t->ppl > 0)
			snprintf(what, sizeof what, "ppl %.4f kl %.5f", t->ppl, t->kl);
		else if (t->fidelity == RS_BO_FID_LOW)
			snprintf(what, sizeof what, "screening %.4f", t->low_ppl);
		else
			snprintf(what, sizeof what, "proxy %.6g%s", t->proxy,
			    t->fidelity == RS_BO_FID_PROXY ? " (not run)" : "");
		rs_out_printf(ctx->out, "%5zu %-11s %-8s %-9llu %9.6f %11.6f %-24s %7llu %7.2f%s\n",
		    k + 1, kind, fid_names[t->fidelity], (unsigned long long)t->params, t->y,
		    run >= 0 ? h->t[run].y : t->y, what, (unsigned long long)t->windows, t->secs,
		    (long)k == h->chosen ? "  <- chosen" : (long)k == best ? "  <- best" : "");
		if (t->confirm_ppl > 0)
			rs_out_printf(ctx->out, "      confirmed on all %d validation windows: %.4f\n",
			    h->confirm_windows, t->confirm_ppl);
		windows += t->windows;
		nfull += t->fidelity == RS_BO_FID_FULL;
		nlow += t->fidelity == RS_BO_FID_LOW;
		nproxy += t->fidelity == RS_BO_FID_PROXY;
		if (t->fidelity == RS_BO_FID_FULL && t->ppl > 0 && t->proxy > 0) {
			pa[np] = t->proxy;
			pb[np++] = t->y;
		}
	}
	rs_out_printf(ctx->out, "alloc history: %zu full, %zu screened on the first windows, "
	    "%zu stopped by the proxy; %llu window forwards in the trials, %.1f per trial\n",
	    nfull, nlow, nproxy, (unsigned long long)windows,
	    h->n > 0 ? (double)windows / (double)h->n : 0.0);
	rho = spearman(pa, pb, np);
	if (np >= 3)
		rs_out_printf(ctx->out, "alloc history: proxy vs measured objective: Spearman rank "
		    "correlation %.3f over %zu full trials\n", rho, np);
	else
		rs_out_printf(ctx->out, "alloc history: proxy vs measured objective: fewer than 3 "
		    "full trials with both\n");
	rs_free(pa);
	rs_free(pb);
	return 0;
}

static int
cmd_alloc_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	static const struct {
		const char *name;
		int (*fn)(struct rs_cmd_ctx *, const struct rs_args *);
	} allocators[] = {
		{ "uniform", alloc_uniform }, { "energy", alloc_energy },
		{ "greedy", alloc_greedy }, { "sensitivity", alloc_sensitivity },
		{ "bo", alloc_bo },
	};
	const char *name = args->argv[0];
	struct timespec t0, t1;
	size_t k;
	int rc;

	if (strcmp(name, "history") == 0)
		return alloc_history(ctx, args);
	if (args->argc > 1)
		return rs_fail(&ctx->cause, RS_EUSAGE, "usage: alloc NAME [options] (NAME: uniform, "
		    "energy, greedy, sensitivity, bo, history)");
	for (k = 0; k < sizeof allocators / sizeof allocators[0]; k++) {
		if (strcmp(name, allocators[k].name) != 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = allocators[k].fn(ctx, args);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rc == 0)
			rs_out_infof(ctx->out, "alloc %s: done in %.3f s\n", name,
			    (double)(t1.tv_sec - t0.tv_sec) +
			    1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		return rc;
	}
	return rs_fail(&ctx->cause, RS_EUSAGE, "alloc: unknown allocator '%s' (uniform, energy, "
	    "greedy, sensitivity, bo, history)", name);
}

static const char *const cmd_alloc_words[] = { "uniform", "energy", "greedy", "sensitivity", "bo", "history", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_alloc_forms[] = {
	{ "uniform", "" },
	{ "energy", "" },
	{ "greedy", "" },
	{ "sensitivity", "" },
	{ "bo", "" },
	{ "history", "export FILE.csv" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_alloc_entry = {
	.name = "alloc",
	.alias = NULL,
	.usage = "uniform|energy|greedy|sensitivity|bo [options] | history [export FILE.csv]",
	.summary = "choose every rank from the budget (uniform, energy, greedy, sensitivity, bo)",
	.help = "Sets the ranks of the plan from the budget ('budget', or --keep/--params here) as "
	        "one undo step; the plan can be edited afterwards. Every allocator keeps at most "
	        "the budget and misses it by less than one alignment step, and prints the params "
	        "kept. Ranks are multiples of the alignment below break-even, or dense. --types "
	        "restricts the matrices factored (the others stay dense). "
	        "'uniform': one keep ratio for all. "
	        "'energy': the smallest rank reaching a covariance energy per matrix (--target E; "
	        "without it the largest E that fits the budget), from the feature spectrum when "
	        "computed, else the weight spectrum. "
	        "'greedy': steps of the alignment given where the exact feature error (from the "
	        "spectra) falls most per parameter (--relative: error relative to the matrix's "
	        "energy; --layer-weights w0,w1,... or flat/front/back). "
	        "'sensitivity': ASVD-style: each matrix alone at a few keep ratios (--ratios) is "
	        "evaluated on --validation FILE (chunked, --ctx, --chunks, default 8 windows); "
	        "the probes stay in the session; then the smallest NLL-increase threshold that "
	        "fits the budget. "
	        "'bo': Bayesian optimization (Gaussian process, Matern 5/2, with expected "
	        "improvement; hyperparameters by marginal likelihood) of log(ppl + --kl LAMBDA * "
	        "KL(dense || plan)) on --validation FILE, or --objective proxy (predicted feature "
	        "error, no forward pass). --space profile (the default, docs/allocation.md): the "
	        "heuristic plans at the budget (uniform, energy, greedy, greedy --relative, "
	        "sensitivity with its probes from the session or taken now on 8 windows, and the "
	        "plan in place when it is another) are mixed by weights and shifted by a parameter "
	        "factor per type and --groups layer group (default 2 groups; x1/F..xF, --offset F, "
	        "default 4), then projected onto the "
	        "budget, so every heuristic plan is a point and no trial is wasted; the heuristic "
	        "plans are the first trials, then --init random (default 4), then rounds of "
	        "--screen K candidates (default 3): a candidate whose proxy is over 4x the "
	        "heuristics' largest is not run, the others run on the first quarter of the "
	        "--chunks windows (default 32), and the best of them in full when it is within "
	        "the screening noise of the best so far; from trial --trust-from N (default "
	        "after 20 guided trials) the candidates come from a trust region around the "
	        "best. --space ratio: the seed paper's space, one keep ratio per type (q and k "
	        "shared, o, gate, up, down; v dense unless --types has it), times --groups layer "
	        "groups, --init random (default 10) then guided trials, points outside the "
	        "--band rejected before evaluation (default 16 windows). --seed N reproduces a "
	        "run. --batch Q (ratio space) chooses Q candidates per round before evaluating "
	        "them (constant liar), as a run on Q processes does; the same seed and Q give the "
	        "same plan. Every trial is "
	        "printed with the best so far; Ctrl-C stops and keeps the best plan; --resume (or "
	        "--history FILE) continues a run with the same settings; --log FILE saves the "
	        "history after each trial. 'history' lists the last run (each trial's fidelity, the best so far, "
	        "the window forwards per trial, the proxy's rank correlation with the measured "
	        "objective), 'history export "
	        "FILE.csv' writes it.",
	.opts = cmd_alloc_opts,
	.min_args = 1,
	.max_args = 3,
	.flags = RS_CMD_NEEDS_MODEL | RS_CMD_JOB,
	.exec = cmd_alloc_exec,
	.words = cmd_alloc_words,
	.forms = cmd_alloc_forms,
};
