/* test-alloc.c: budgets and rank allocators (rankalloc.h) on kjv-llama's plan shapes with
 * constructed spectra and probes: every allocator meets the budget within one alignment step;
 * greedy matches brute force on a small case; proxy-objective BO is reproducible with a seed,
 * resumes exactly, and keeps the best plan when cancelled; history files round-trip and bad
 * ones are refused.  Batches: bo in rounds of q is reproducible and resumes (inside a round
 * too) as the uninterrupted run; evaluated on a validation text, the probes of sensitivity
 * and a bo run are the same whichever process (simulated) evaluates which candidate, and a
 * probe is the plain evaluation of its matrix alone. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "allocrun.h"
#include "analysis.h"
#include "compress.h"
#include "model.h"
#include "plan.h"
#include "rankalloc.h"
#include "session.h"
#include "tap.h"

#define N_MAT 42

static struct rs_spec *specs_own[N_MAT];
static const struct rs_spec *specs[N_MAT];

/* Constructed spectra: σ_j = c_i exp(−j/τ_i), different scale and decay per matrix. */
static int
make_specs(const struct rs_plan *p, double fast)
{
	int i;

	for (i = 0; i < rs_plan_count(p); i++) {
		int64_t m, n;
		size_t r, j;
		double *sv, c = 1.0 + 0.37 * (i % 5) + 0.11 * rs_plan_layer(p, i);
		double tau = fast > 0 ? fast : 8.0 + 5.0 * (i % 7);
		char *cause = NULL;

		rs_plan_shape(p, i, &m, &n);
		r = (size_t)(m < n ? m : n);
		if ((sv = malloc(r * sizeof *sv)) == NULL)
			return -1;
		for (j = 0; j < r; j++)
			sv[j] = c * exp(-(double)j / tau);
		rs_spec_free(specs_own[i]);
		specs_own[i] = rs_spec_new(RS_SPEC_CENTRED, sv, r, (size_t)m, (size_t)n, 0, &cause);
		free(sv);
		if (specs_own[i] == NULL) {
			tap_diag("rs_spec_new: %s", cause ? cause : "?");
			free(cause);
			return -1;
		}
		specs[i] = specs_own[i];
	}
	return 0;
}

/* target − step < P ≤ T for ranks[]. */
static int
met(const struct rs_plan *p, const unsigned char *elig, uint64_t target, const int *ranks)
{
	uint64_t P = rs_rankalloc_params(p, ranks), step = rs_rankalloc_step(p, elig);
	int i;

	for (i = 0; i < rs_plan_count(p); i++)
		if (elig != NULL && !elig[i] && ranks[i] != RS_PLAN_DENSE)
			return 0;
	return P <= target && P + step > target;
}

/* ---- BO helpers */

struct stop_after {
	struct rs_job *job;
	size_t after;
	size_t seen;
};

static void
on_trial_stop(void *ud, const struct rs_bo_hist *h, size_t k, long best, const int *ranks)
{
	struct stop_after *s = ud;

	(void)h; (void)best; (void)ranks;
	s->seen = k + 1;
	if (s->after > 0 && k + 1 >= s->after)
		s->job->cancel = 1;
}

/* What a bo run evaluates with beyond the proxy defaults of run_bo. */
struct bo_eval {
	int batch;
	struct rs_alloc_eval *ev;                       /* non-NULL: the ppl objective */
	const struct rs_alloc_evaluator *evaluator;
};

static int
run_bo_with(const struct rs_plan *p, const unsigned char *elig, const struct rs_bo_space *sp,
    uint64_t target, uint64_t seed, int trials, struct rs_bo_hist *h, int *best,
    struct rs_job *job, void (*cb)(void *, const struct rs_bo_hist *, size_t, long,
    const int *), void *ud, const struct bo_eval *be)
{
	struct rs_alloc_bo_opts o;
	char *cause = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	if (be != NULL) {
		o.batch = be->batch;
		o.ev = be->ev;
		o.evaluator = be->evaluator;
	}
	o.space = sp;
	o.target = target;
	o.band = rs_plan_dense_params(p) / 100;
	o.elig = elig;
	o.specs = specs;
	o.proxy = o.ev == NULL;
	o.relative = 1;
	o.trials = trials;
	o.n_init = 5;
	o.seed = seed;
	o.on_trial = cb;
	o.ud = ud;
	rc = rs_alloc_bo_run(p, &o, h, best, job, &cause);
	if (rc != 0 && rc != RS_ECANCEL)
		tap_diag("bo: %s", cause ? cause : "?");
	free(cause);
	return rc;
}

/* The sequential proxy-objective run. */
static int
run_bo(const struct rs_plan *p, const unsigned char *elig, const struct rs_bo_space *sp,
    uint64_t target, uint64_t seed, int trials, struct rs_bo_hist *h, int *best,
    struct rs_job *job, void (*cb)(void *, const struct rs_bo_hist *, size_t, long,
    const int *), void *ud)
{
	return run_bo_with(p, elig, sp, target, seed, trials, h, best, job, cb, ud, NULL);
}

/* The last progress report of a job. */
struct last_progress {
	char what[256];
	double done, total;
	int calls;
};

static void
record_progress(void *ud, double done, double total, const char *what)
{
	struct last_progress *lp = ud;

	snprintf(lp->what, sizeof lp->what, "%s", what);
	lp->done = done;
	lp->total = total;
	lp->calls++;
}

/* A proxy-objective run in the profile space: the 4 heuristic plans, 2 random points, then
 * rounds of 3, a trust region from trial 9. */
static int
run_profile(const struct rs_plan *p, const unsigned char *elig, const struct rs_bo_space *sp,
    uint64_t target, uint64_t seed, int trials, struct rs_bo_hist *h, int *best,
    struct rs_job *job, void (*cb)(void *, const struct rs_bo_hist *, size_t, long,
    const int *), void *ud)
{
	struct rs_alloc_bo_opts o;
	char *cause = NULL;
	int rc;

	memset(&o, 0, sizeof o);
	o.space = sp;
	o.target = target;
	o.elig = elig;
	o.specs = specs;
	o.proxy = 1;
	o.relative = 1;
	o.trials = trials;
	o.seeds = 4;
	o.n_init = 2;
	o.screen = 3;
	o.trust_from = 9;
	o.seed = seed;
	o.on_trial = cb;
	o.ud = ud;
	rc = rs_alloc_bo_run(p, &o, h, best, job, &cause);
	if (rc != 0 && rc != RS_ECANCEL)
		tap_diag("bo: %s", cause ? cause : "?");
	free(cause);
	return rc;
}

/* A distributed evaluator simulated in one process: `size` processes, candidate i on
 * process i % size, the processes run last to first, each into its own result array; the
 * results are then combined in candidate order (as a gather to rank 0 would). */
struct fake_dist {
	int size;
	int calls;
};

static int
fake_dist_eval(void *ud, struct rs_alloc_eval *ev, const int *ranks, int q,
    struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause)
{
	struct fake_dist *fd = ud;
	struct rs_alloc_eval_res part[16][16];
	int r, i, got, rc;

	*done = 0;
	if (q > 16 || fd->size > 16)
		return RS_EINVAL;
	fd->calls++;
	for (r = fd->size - 1; r >= 0; r--)
		if ((rc = rs_alloc_eval_subset(ev, ranks, q, r, fd->size, part[r], &got, job,
		    cause)) != 0)
			return rc;
	for (i = 0; i < q; i++)
		res[i] = part[i % fd->size][i];
	*done = q;
	return 0;
}

static int
same_hist(const struct rs_bo_hist *a, const struct rs_bo_hist *b, size_t n)
{
	size_t k;

	if (a->n < n || b->n < n)
		return 0;
	for (k = 0; k < n; k++)
		if (memcmp(a->t[k].x, b->t[k].x, (size_t)a->d * sizeof(double)) != 0 ||
		    a->t[k].y != b->t[k].y)
			return 0;
	return 1;
}

/* Write text to path. */
static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

int
main(void)
{
	char path[4096], path_model[4096], *cause = NULL;
	struct rs_model *m = NULL;
	struct rs_plan *p;
	unsigned char elig[N_MAT], few[N_MAT];
	int ranks[N_MAT], i, ok, k;
	static const double keeps[] = { 0.2, 0.35, 0.5, 0.7, 0.9, 0.99 };
	static const char *const typesets[] = { "all", "q,k,o,gate,up,down", "q,k,up", "down" };
	double w[6];

	/* the bundled copy (share/models, the same files as the fixture), so a lone clone runs it */
	snprintf(path, sizeof path, "%s/share/models/kjv-llama",
	         getenv("RS_SRCDIR") != NULL ? getenv("RS_SRCDIR") : "..");
	snprintf(path_model, sizeof path_model, "%s", path);
	if ((m = rs_model_open(path, &cause)) == NULL) {
		tap_ok(0, "open the bundled kjv-llama: %s", cause ? cause : "?");
		return tap_done();
	}
	p = rs_plan_new(m, &cause);
	tap_ok(p != NULL && rs_plan_count(p) == N_MAT, "plan of kjv-llama: 42 matrices");
	if (p == NULL || make_specs(p, 0) != 0)
		return tap_done();

	/* 1. every allocator meets the budget within one step, for many budgets and type sets */
	{
		int all_u = 1, all_e = 1, all_g = 1, all_c = 1, all_f = 1, n = 0;
		struct rs_sens *s;
		static const double rat[] = { 0.25, 0.5, 0.75 };
		s = rs_sens_new(N_MAT, 3, rat, &cause);
		for (i = 0; i < N_MAT; i++)
			for (k = 0; k < 3; k++)
				/* more sensitive at low keep, and some matrices much more than others */
				s->nll[i * 3 + k] = 4.0 + (0.05 + 0.02 * (i % 6)) * (1 - rat[k]) *
				    (1 - rat[k]) * (1 + (i % 3 == 0 ? 4 : 0));
		s->dense_nll = 4.0;
		for (int align = 8; align >= 1; align -= 7) {
			rs_plan_set_align(p, align);
			for (size_t t = 0; t < sizeof typesets / sizeof typesets[0]; t++) {
				if (rs_rankalloc_types(p, typesets[t], elig, NULL, &cause) != 0)
					return tap_done();
				for (size_t b = 0; b < sizeof keeps / sizeof keeps[0]; b++) {
					struct rs_budget bud = { keeps[b], 0 };
					uint64_t T = rs_budget_target(&bud, p), dense_other = 0;
					double rho, e, tau;
					for (i = 0; i < N_MAT; i++)
						if (!elig[i])
							dense_other += rs_plan_dense_of(p, i);
					if (dense_other + rs_rankalloc_step(p, elig) * 8 > T)
						continue;       /* budget below what the subset allows */
					n++;
					if (rs_rankalloc_uniform(p, elig, T, ranks, &rho, &cause) != 0 ||
					    !met(p, elig, T, ranks)) {
						tap_diag("uniform %s keep %g align %d: %s", typesets[t],
						    keeps[b], align, cause ? cause : "not met");
						all_u = 0;
					}
					if (rs_rankalloc_energy(p, elig, specs, -1, T, ranks, &e,
					    &cause) != 0 || !met(p, elig, T, ranks)) {
						tap_diag("energy %s keep %g: %s", typesets[t], keeps[b],
						    cause ? cause : "not met");
						all_e = 0;
					}
					if (rs_rankalloc_greedy(p, elig, specs, NULL, b % 2, T, ranks,
					    &cause) != 0 || !met(p, elig, T, ranks)) {
						tap_diag("greedy %s keep %g: %s", typesets[t], keeps[b],
						    cause ? cause : "not met");
						all_g = 0;
					}
					if (rs_rankalloc_cut(p, elig, s, T, ranks, &tau, &cause) != 0 ||
					    !met(p, elig, T, ranks)) {
						tap_diag("cut %s keep %g: %s", typesets[t], keeps[b],
						    cause ? cause : "not met");
						all_c = 0;
					}
					/* fit from an arbitrary start (what BO does to each point) */
					for (i = 0; i < N_MAT; i++)
						ranks[i] = elig[i] ? rs_rankalloc_rank_for_keep(p, i,
						    0.1 + 0.8 * ((i * 7) % 11) / 10.0) : RS_PLAN_DENSE;
					if (rs_rankalloc_fit(p, elig, specs, T, ranks, &cause) != 0 ||
					    !met(p, elig, T, ranks)) {
						tap_diag("fit %s keep %g: %s", typesets[t], keeps[b],
						    cause ? cause : "not met");
						all_f = 0;
					}
				}
			}
		}
		rs_plan_set_align(p, 8);
		tap_ok(all_u, "uniform meets the budget within one step (%d budgets x type sets x "
		    "alignments 8 and 1)", n);
		tap_ok(all_e, "energy (target found from the budget) meets it within one step");
		tap_ok(all_g, "greedy meets it within one step");
		tap_ok(all_c, "sensitivity cut meets it within one step");
		tap_ok(all_f, "fit from arbitrary ranks meets it within one step");
		/* the sensitive matrices (i % 3 == 0) keep more than the others */
		rs_rankalloc_types(p, "all", elig, NULL, NULL);
		{
			struct rs_budget bud = { 0.6, 0 };
			double tau;
			uint64_t T = rs_budget_target(&bud, p), a = 0, b2 = 0, da = 0, db = 0;
			rs_rankalloc_cut(p, elig, s, T, ranks, &tau, NULL);
			for (i = 0; i < N_MAT; i++) {
				int64_t mm, nn;
				uint64_t pi;
				rs_plan_shape(p, i, &mm, &nn);
				pi = ranks[i] == RS_PLAN_DENSE ? rs_plan_dense_of(p, i) :
				    (uint64_t)ranks[i] * (uint64_t)(mm + nn);
				if (i % 3 == 0) {
					a += pi;
					da += rs_plan_dense_of(p, i);
				} else {
					b2 += pi;
					db += rs_plan_dense_of(p, i);
				}
			}
			tap_ok((double)a / (double)da > (double)b2 / (double)db, "cut: sensitive "
			    "matrices keep more (%.3f) than the others (%.3f)", (double)a / (double)da,
			    (double)b2 / (double)db);
		}
		rs_sens_free(s);
	}

	/* 2. a budget below the smallest plan is refused with the reason */
	rs_rankalloc_types(p, "all", elig, NULL, NULL);
	ok = rs_rankalloc_uniform(p, elig, 1000, ranks, NULL, &cause) == RS_EINVAL &&
	    cause != NULL && strstr(cause, "below the smallest plan") != NULL;
	tap_ok(ok, "budget below every plan: %s", cause ? cause : "(no cause)");
	free(cause);
	cause = NULL;
	ok = rs_rankalloc_uniform(p, elig, rs_plan_dense_params(p), ranks, NULL, &cause) == 0;
	for (i = 0; i < N_MAT; i++)
		ok = ok && ranks[i] == RS_PLAN_DENSE;
	tap_ok(ok, "budget = dense: uniform leaves every matrix dense");

	/* 3. greedy = brute force on three same-shape matrices (equal step costs) */
	if (make_specs(p, 6.0) != 0)
		return tap_done();
	memset(few, 0, sizeof few);
	few[rs_plan_index(p, 0, RS_T_Q)] = few[rs_plan_index(p, 2, RS_T_Q)] =
	    few[rs_plan_index(p, 4, RS_T_O)] = 1;
	{
		int idx[3], nl, a, b, c, all_ok = 1, cases = 0;
		double wl[6] = { 1, 1, 1, 1, 1, 1 };
		uint64_t other = 0;
		for (i = 0, k = 0; i < N_MAT; i++)
			if (few[i])
				idx[k++] = i;
			else
				other += rs_plan_dense_of(p, i);
		/* 256x256, alignment 8: ranks 8..120 then dense, every step 4096 params */
		nl = 16;
		wl[2] = 1.7;
		wl[4] = 0.6;
		for (int tt = 3; tt <= 3 * nl; tt += 2) {
			uint64_t T = other + (uint64_t)tt * 4096 + 1000;
			double gbest, bf = HUGE_VAL;
			if (rs_rankalloc_greedy(p, few, specs, wl, tt % 4 == 1, T, ranks, &cause) != 0) {
				tap_diag("greedy: %s", cause);
				all_ok = 0;
				break;
			}
			gbest = rs_rankalloc_proxy(p, specs, wl, tt % 4 == 1, ranks);
			for (a = 0; a < nl; a++)
				for (b = 0; b < nl; b++)
					for (c = 0; c < nl; c++) {
						int rr[N_MAT];
						double v;
						for (i = 0; i < N_MAT; i++)
							rr[i] = RS_PLAN_DENSE;
						rr[idx[0]] = a < nl - 1 ? (a + 1) * 8 : RS_PLAN_DENSE;
						rr[idx[1]] = b < nl - 1 ? (b + 1) * 8 : RS_PLAN_DENSE;
						rr[idx[2]] = c < nl - 1 ? (c + 1) * 8 : RS_PLAN_DENSE;
						if (rs_rankalloc_params(p, rr) > T)
							continue;
						v = rs_rankalloc_proxy(p, specs, wl, tt % 4 == 1, rr);
						if (v < bf)
							bf = v;
					}
			cases++;
			if (!(gbest <= bf * (1 + 1e-12) + 1e-300)) {
				tap_diag("budget %d steps: greedy %.17g, brute force %.17g", tt, gbest, bf);
				all_ok = 0;
			}
		}
		tap_ok(all_ok, "greedy = brute-force optimum of the proxy (%d budgets, 3 matrices, "
		    "16 levels each, layer weights)", cases);
	}
	if (make_specs(p, 0) != 0)
		return tap_done();

	/* 4. layer weights */
	ok = rs_rankalloc_layer_weights("front", 6, w, NULL) == 0 && w[0] == 2.0 && w[5] == 1.0 &&
	    rs_rankalloc_layer_weights("1,2,3,4,5,6", 6, w, NULL) == 0 && w[3] == 4.0 &&
	    rs_rankalloc_layer_weights("1,2", 6, w, NULL) != 0 &&
	    rs_rankalloc_layer_weights("1,2,3,4,5,6,7", 6, w, NULL) != 0 &&
	    rs_rankalloc_layer_weights("1,2,x,4,5,6", 6, w, NULL) != 0;
	tap_ok(ok, "layer weights: schemes, lists, wrong counts and words refused");

	/* 5. BO with the proxy objective: reproducible, resumable, cancellable */
	{
		struct rs_bo_space sp;
		struct rs_bo_hist *h1, *h2, *h3, *h4, *hl = NULL;
		struct rs_budget bud = { 0.5, 0 };
		struct rs_job job;
		struct stop_after st;
		unsigned types;
		uint64_t T;
		int r1[N_MAT], r2[N_MAT], r3[N_MAT], rc, inband = 1;
		size_t t;

		rs_rankalloc_types(p, "q,k,o,gate,up,down", elig, &types, NULL);
		T = rs_budget_target(&bud, p);
		ok = rs_bo_space_init(&sp, p, types, 2, &cause) == 0 && sp.d == 10;
		tap_ok(ok, "bo space: 5 types x 2 groups = %d variables", sp.d);
		h1 = rs_bo_hist_new("test", 7, sp.d, NULL);
		h2 = rs_bo_hist_new("test", 7, sp.d, NULL);
		h3 = rs_bo_hist_new("test", 7, sp.d, NULL);
		h4 = rs_bo_hist_new("test", 8, sp.d, NULL);
		rc = run_bo(p, elig, &sp, T, 7, 14, h1, r1, NULL, NULL, NULL);
		tap_ok(rc == 0 && h1->n == 14, "proxy bo: 14 trials");
		for (t = 0; t < h1->n; t++) {
			int rr[N_MAT];
			rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &sp, .target = T,
			    .elig = elig, .specs = specs }, h1->t[t].x, rr, NULL);
			inband = inband && met(p, elig, T, rr) && h1->t[t].params ==
			    rs_rankalloc_params(p, rr);
		}
		tap_ok(inband, "every trial's plan meets the budget within one step");
		rc = run_bo(p, elig, &sp, T, 7, 14, h2, r2, NULL, NULL, NULL);
		tap_ok(rc == 0 && same_hist(h1, h2, 14) && memcmp(r1, r2, sizeof r1) == 0,
		    "same seed: the same 14 trials and the same best plan");
		rc = run_bo(p, elig, &sp, T, 8, 14, h4, r3, NULL, NULL, NULL);
		tap_ok(rc == 0 && !same_hist(h1, h4, 6), "another seed: other trials");
		{
			long b = rs_bo_hist_best(h1);
			double bestproxy = rs_rankalloc_proxy(p, specs, NULL, 1, r1);
			tap_ok(b >= 0 && tap_close(log(bestproxy), h1->t[b].y, 1e-12),
			    "the best plan is the best trial's (proxy %.6g)", bestproxy);
			tap_ok(h1->t[b].y <= h1->t[0].y && b >= 0, "best trial %ld of 14 (guided "
			    "trials after 5 random)", b + 1);
		}

		/* cancel after trial 6: RS_ECANCEL, 6 trials, the best of those as the plan */
		memset(&job, 0, sizeof job);
		st.job = &job;
		st.after = 6;
		st.seen = 0;
		rc = run_bo(p, elig, &sp, T, 7, 14, h3, r3, &job, on_trial_stop, &st);
		{
			long b = rs_bo_hist_best(h3);
			int rr[N_MAT];
			rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &sp, .target = T,
			    .elig = elig, .specs = specs }, h3->t[b].x, rr, NULL);
			tap_ok(rc == RS_ECANCEL && h3->n == 6 && memcmp(rr, r3, sizeof rr) == 0 &&
			    met(p, elig, T, r3), "cancelled after 6 trials: RS_ECANCEL, the best of "
			    "the 6 (trial %ld) is the plan returned", b + 1);
		}
		/* resume: the continued run equals the uninterrupted one */
		memset(&job, 0, sizeof job);
		rc = run_bo(p, elig, &sp, T, 7, 14, h3, r3, &job, NULL, NULL);
		tap_ok(rc == 0 && same_hist(h1, h3, 14) && memcmp(r1, r3, sizeof r1) == 0,
		    "resumed after the cancel: the same 14 trials and plan as uninterrupted");

		/* history files */
		snprintf(path, sizeof path, "%s/rs-test-alloc-%ld.csv", getenv("TMPDIR") ?
		    getenv("TMPDIR") : "/tmp", (long)getpid());
		for (int j = 0; j < sp.d; j++)
			rs_bo_space_var_name(&sp, j, h1->var_names[j], sizeof h1->var_names[j]);
		h1->dense_params = rs_plan_dense_params(p);
		rc = rs_bo_hist_save(h1, path, &cause);
		if (rc == 0)
			rc = rs_bo_hist_load(path, &hl, &cause);
		ok = rc == 0 && hl != NULL && hl->n == 14 && hl->seed == 7 && hl->d == 10 &&
		    strcmp(hl->config, "test") == 0 && same_hist(h1, hl, 14) &&
		    strcmp(hl->var_names[1], "qk@L3-5") == 0;
		tap_ok(ok, "history CSV round-trips exactly (%s)", rc ? cause : "ok");
		if (hl != NULL) {
			/* resuming from the loaded file continues as the original would */
			struct rs_bo_hist *h5 = rs_bo_hist_new("test", 7, sp.d, NULL);
			int r5[N_MAT];
			for (t = 0; t < 8; t++)
				rs_bo_hist_add(h5, &hl->t[t], NULL);
			rc = run_bo(p, elig, &sp, T, 7, 14, h5, r5, NULL, NULL, NULL);
			tap_ok(rc == 0 && same_hist(h1, h5, 14), "resume from 8 loaded trials: the "
			    "same 14 trials");
			rs_bo_hist_free(h5);
		}
		rs_bo_hist_free(hl);
		hl = NULL;
		{
			static const char *const bad[] = {
				"trial,guided,x,params\n",
				"# rankscope bo history v1\n# seed 1\n# config c\ntrial,guided,a,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n1,0,1.5,10,0.1,1,0,0,0,0,1\n",
				"# rankscope bo history v1\n# seed 1\n# config c\ntrial,guided,a,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n1,0,0.5,10,0.1,nan,0,0,0,0,1\n",
				"# rankscope bo history v1\n# seed 1\n# config c\ntrial,guided,a,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n2,0,0.5,10,0.1,1,0,0,0,0,1\n",
				"# rankscope bo history v1\n# seed 1\n# config c\ntrial,guided,a,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n1,0,0.5,10,0.1,1,0,0,0\n",
				"# rankscope bo history v1\n# config c\ntrial,guided,a,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n",
				"# rankscope bo history v1\n# seed 1\n# config c\ntrial,guided,params,"
				    "keep,objective,ppl,kl,proxy,seconds,best\n",
			};
			int all = 1;
			for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
				free(cause);
				cause = NULL;
				put_file(path, bad[b]);
				rc = rs_bo_hist_load(path, &hl, &cause);
				if (rc != RS_EFORMAT || hl != NULL || cause == NULL ||
				    strstr(cause, path) == NULL) {
					tap_diag("bad file %zu accepted or unclear: %s", b, cause ? cause :
					    "(none)");
					all = 0;
				}
				rs_bo_hist_free(hl);
				hl = NULL;
			}
			tap_ok(all, "7 malformed history files refused (RS_EFORMAT naming the file); "
			    "last: %s", cause ? cause : "");
		}
		unlink(path);
		rs_bo_hist_free(h1);
		rs_bo_hist_free(h2);
		rs_bo_hist_free(h3);
		rs_bo_hist_free(h4);
	}

	/* 5b. the profile space: every heuristic plan is a point of it; a run's first trials are
	 * those plans (their params and proxy objective as computed from the plans directly); the
	 * same seed gives the same run; cancelled and resumed equals uninterrupted */
	{
		static const char *const names[4] = { "uniform", "energy", "greedy", "greedyrel" };
		struct rs_bo_space sp;
		struct rs_budget bud = { 0.45, 0 };
		struct rs_bo_hist *h1, *h2, *h3;
		struct rs_job job;
		struct stop_after st;
		int pr[4][N_MAT], rr[N_MAT], b1[N_MAT], b2[N_MAT], b3[N_MAT], h, same = 1, seeds = 1;
		int inband = 1, rc;
		const int *prof[4];
		unsigned types;
		uint64_t T;
		double e;
		size_t t;

		rs_rankalloc_types(p, "all", elig, &types, NULL);
		T = rs_budget_target(&bud, p);
		ok = rs_rankalloc_uniform(p, elig, T, pr[0], NULL, NULL) == 0 &&
		    rs_rankalloc_energy(p, elig, specs, -1, T, pr[1], &e, NULL) == 0 &&
		    rs_rankalloc_greedy(p, elig, specs, NULL, 0, T, pr[2], NULL) == 0 &&
		    rs_rankalloc_greedy(p, elig, specs, NULL, 1, T, pr[3], NULL) == 0;
		for (h = 0; h < 4; h++)
			prof[h] = pr[h];
		ok = ok && rs_bo_space_init_profile(&sp, p, types, 1, 4, prof, names, &cause) == 0 &&
		    sp.d == 10;
		tap_ok(ok, "profile space: 4 heuristic plans and 6 type offsets, %d variables", sp.d);
		for (h = 0; h < 4; h++) {
			double x[RS_BO_MAX_VARS];
			rs_bo_space_profile_point(&sp, h, x);
			rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &sp, .target = T,
			    .elig = elig, .specs = specs }, x, rr, NULL);
			same = same && memcmp(rr, pr[h], sizeof rr) == 0;
		}
		tap_ok(same, "each heuristic plan alone is a point of the space: the same ranks");
		h1 = rs_bo_hist_new("test", 3, sp.d, NULL);
		h2 = rs_bo_hist_new("test", 3, sp.d, NULL);
		h3 = rs_bo_hist_new("test", 3, sp.d, NULL);
		rc = run_profile(p, elig, &sp, T, 3, 15, h1, b1, NULL, NULL, NULL);
		for (h = 0; h < 4 && rc == 0 && h1->n == 15; h++)
			seeds = seeds && h1->t[h].guided == RS_BO_SEEDED &&
			    h1->t[h].params == rs_rankalloc_params(p, pr[h]) &&
			    h1->t[h].y == log(rs_rankalloc_proxy(p, specs, NULL, 1, pr[h]));
		tap_ok(rc == 0 && h1->n == 15 && seeds, "trials 1-4 are the uniform, energy, greedy "
		    "and greedy --relative plans: their params and proxy objective");
		for (t = 0; t < h1->n; t++) {
			rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &sp, .target = T,
			    .elig = elig, .specs = specs }, h1->t[t].x, rr, NULL);
			inband = inband && met(p, elig, T, rr) && h1->t[t].params ==
			    rs_rankalloc_params(p, rr);
		}
		tap_ok(inband, "every trial's projected plan meets the budget within one step");
		tap_ok(h1->t[rs_bo_hist_best(h1)].y <= h1->t[0].y && h1->t[rs_bo_hist_best(h1)].y <=
		    h1->t[3].y, "the best trial is no worse than any heuristic plan");
		rc = run_profile(p, elig, &sp, T, 3, 15, h2, b2, NULL, NULL, NULL);
		tap_ok(rc == 0 && same_hist(h1, h2, 15) && memcmp(b1, b2, sizeof b1) == 0,
		    "profile space, same seed: the same 15 trials and plan");
		memset(&job, 0, sizeof job);
		st.job = &job;
		st.after = 8;
		st.seen = 0;
		rc = run_profile(p, elig, &sp, T, 3, 15, h3, b3, &job, on_trial_stop, &st);
		ok = rc == RS_ECANCEL && h3->n < 15;
		memset(&job, 0, sizeof job);
		t = h3->n;
		rc = run_profile(p, elig, &sp, T, 3, 15, h3, b3, &job, NULL, NULL);
		tap_ok(ok && rc == 0 && same_hist(h1, h3, 15) && memcmp(b1, b3, sizeof b1) == 0,
		    "cancelled after %zu trials and resumed: the same 15 trials and plan", t);
		/* progress: the trial count and the best so far, with the sub-step beside it */
		{
			struct last_progress lp;
			struct rs_bo_hist *h4 = rs_bo_hist_new("test", 3, sp.d, NULL);
			int k1 = 0, k2 = 0;
			double bv = 0;
			memset(&job, 0, sizeof job);
			memset(&lp, 0, sizeof lp);
			job.progress = record_progress;
			job.ud = &lp;
			rc = run_profile(p, elig, &sp, T, 3, 15, h4, b3, &job, NULL, NULL);
			ok = rc == 0 && lp.calls > 0 && sscanf(lp.what, "trial %d/%d, best %lf", &k1,
			    &k2, &bv) == 3 && k1 == 15 && k2 == 15 && tap_close(bv,
			    exp(h4->t[rs_bo_hist_best(h4)].y), 0.01) && strstr(lp.what, " · trials "
			    "done 15/15") != NULL && lp.done == 15 && lp.total == 15;
			tap_ok(ok, "progress during bo: '%s' (the trials, not the sub-step's count)",
			    lp.what);
			rs_bo_hist_free(h4);
		}
		rs_bo_hist_free(h1);
		rs_bo_hist_free(h2);
		rs_bo_hist_free(h3);
		rs_bo_space_free(&sp);

		/* the default space of alloc bo: offsets per type and layer group (allocrun.h) */
		{
			struct rs_bo_space dsp;
			double x[RS_BO_MAX_VARS];
			int up0 = -1, reach = 1, others = 1, nup = 0, j;
			unsigned upbit = 1u << RS_T_UP;
			int a = rs_plan_align(p);

			ok = rs_bo_space_init_profile(&dsp, p, types, RS_ALLOC_BO_GROUPS, 4, prof, names,
			    &cause) == 0;
			dsp.off = log(RS_ALLOC_BO_OFFSET);
			tap_ok(ok && dsp.d == 4 + 6 * RS_ALLOC_BO_GROUPS, "default profile space: 4 "
			    "heuristic plans and 6 types x %d groups, %d variables", RS_ALLOC_BO_GROUPS,
			    dsp.d);
			same = 1;
			for (h = 0; h < 4 && ok; h++) {
				rs_bo_space_profile_point(&dsp, h, x);
				rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &dsp, .target =
				    T, .elig = elig, .specs = specs }, x, rr, NULL);
				same = same && memcmp(rr, pr[h], sizeof rr) == 0;
			}
			tap_ok(ok && same, "default space: each heuristic plan alone is a point of it");
			/* the offset of up in the first layer group at its ends, the uniform plan alone,
			 * no shift: xF makes those matrices dense (the uniform keeps 0.45 of each, and
			 * F >= 4), x1/F takes them to the level nearest 1/F of the uniform's parameters
			 * (within one level), and no other matrix moves */
			for (j = 0; j < dsp.n_vtypes; j++)
				if (strcmp(dsp.vtype_name[j], "up") == 0)
					up0 = dsp.n_prof + j * dsp.groups;
			for (k = 0; k < 2 && up0 >= 0; k++) {
				rs_bo_space_profile_point(&dsp, 0, x);
				x[up0] = k == 0 ? 1.0 : 0.0;
				rs_bo_space_ranks(&dsp, p, x, 0.0, rr);
				for (i = 0; i < N_MAT; i++) {
					int in = (1u << rs_plan_type(p, i)) == upbit && rs_plan_layer(p, i) *
					    dsp.groups / rs_plan_n_layers(p) == 0;
					double want = (double)pr[0][i] / RS_ALLOC_BO_OFFSET;
					if (!in) {
						others = others && rr[i] == pr[0][i];
						continue;
					}
					nup += k == 0;
					reach = reach && (k == 0 ? rr[i] == RS_PLAN_DENSE : pr[0][i] !=
					    RS_PLAN_DENSE && rr[i] >= a && rr[i] != RS_PLAN_DENSE &&
					    fabs(rr[i] - want) <= a);
				}
			}
			tap_ok(up0 >= 0 && nup == 6 / dsp.groups && reach && others, "default space: "
			    "the offset of up in the first layer group reaches dense (x%g) and 1/%g of "
			    "the uniform ranks there, and moves no other matrix", RS_ALLOC_BO_OFFSET,
			    RS_ALLOC_BO_OFFSET);
			h1 = rs_bo_hist_new("test", 3, dsp.d, NULL);
			h2 = rs_bo_hist_new("test", 3, dsp.d, NULL);
			rc = run_profile(p, elig, &dsp, T, 3, 15, h1, b1, NULL, NULL, NULL);
			seeds = 1;
			for (h = 0; h < 4 && rc == 0 && h1->n == 15; h++)
				seeds = seeds && h1->t[h].params == rs_rankalloc_params(p, pr[h]);
			ok = rc == 0 && h1->n == 15 && seeds;
			memset(&job, 0, sizeof job);
			st.job = &job;
			st.after = 11;
			st.seen = 0;
			rc = run_profile(p, elig, &dsp, T, 3, 15, h2, b2, &job, on_trial_stop, &st);
			ok = ok && rc == RS_ECANCEL && h2->n < 15;
			memset(&job, 0, sizeof job);
			t = h2->n;
			rc = run_profile(p, elig, &dsp, T, 3, 15, h2, b2, &job, NULL, NULL);
			tap_ok(ok && rc == 0 && same_hist(h1, h2, 15) && memcmp(b1, b2, sizeof b1) == 0,
			    "default space: heuristic plans first; cancelled after %zu trials and "
			    "resumed: the same 15 trials and plan as the uninterrupted run", t);
			rs_bo_hist_free(h1);
			rs_bo_hist_free(h2);
			rs_bo_space_free(&dsp);
		}
	}

	/* 6. BO in rounds of 3 (proxy objective): reproducible; resumed inside a round, at a
	 * round's end and after a shorter last round: the uninterrupted run */
	{
		struct rs_bo_space sp;
		struct rs_bo_hist *h1, *h2, *hs, *hr;
		struct rs_budget bud = { 0.5, 0 };
		struct bo_eval be = { 3, NULL, NULL };
		static const size_t cuts[] = { 7, 9, 4 };
		unsigned types;
		uint64_t T;
		int r1[N_MAT], r2[N_MAT], rc, rc2, inband = 1, resumed = 1;
		size_t t, c;

		rs_rankalloc_types(p, "q,k,o,gate,up,down", elig, &types, NULL);
		T = rs_budget_target(&bud, p);
		rs_bo_space_init(&sp, p, types, 2, NULL);
		h1 = rs_bo_hist_new("test", 7, sp.d, NULL);
		h2 = rs_bo_hist_new("test", 7, sp.d, NULL);
		hs = rs_bo_hist_new("test", 7, sp.d, NULL);
		rc = run_bo_with(p, elig, &sp, T, 7, 14, h1, r1, NULL, NULL, NULL, &be);
		rc2 = run_bo_with(p, elig, &sp, T, 7, 14, h2, r2, NULL, NULL, NULL, &be);
		tap_ok(rc == 0 && rc2 == 0 && h1->n == 14 && same_hist(h1, h2, 14) &&
		    memcmp(r1, r2, sizeof r1) == 0, "bo in rounds of 3, same seed twice: the same 14 "
		    "trials and plan");
		for (t = 0; t < h1->n; t++) {
			int rr[N_MAT];
			rs_alloc_bo_ranks(p, &(struct rs_alloc_bo_opts){ .space = &sp, .target = T,
			    .elig = elig, .specs = specs }, h1->t[t].x, rr, NULL);
			inband = inband && met(p, elig, T, rr) && h1->t[t].params ==
			    rs_rankalloc_params(p, rr);
		}
		tap_ok(inband, "rounds of 3: every trial's plan meets the budget within one step");
		rc = run_bo(p, elig, &sp, T, 7, 14, hs, r2, NULL, NULL, NULL);
		tap_ok(rc == 0 && same_hist(h1, hs, 5) && !same_hist(h1, hs, 14), "the 5 random "
		    "trials are the sequential run's, the guided ones differ");
		for (c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
			hr = rs_bo_hist_new("test", 7, sp.d, NULL);
			for (t = 0; t < cuts[c]; t++)
				rs_bo_hist_add(hr, &h1->t[t], NULL);
			if (c == 2) {
				/* a run of 8 trials ends with a round of 2; then continued to 14 */
				rc = run_bo_with(p, elig, &sp, T, 7, 8, hr, r2, NULL, NULL, NULL, &be);
				resumed &= rc == 0 && hr->n == 8 && same_hist(h1, hr, 8);
			}
			rc = run_bo_with(p, elig, &sp, T, 7, 14, hr, r2, NULL, NULL, NULL, &be);
			if (rc != 0 || !same_hist(h1, hr, 14) || memcmp(r1, r2, sizeof r1) != 0) {
				tap_diag("resume from %zu trials: other trials or plan", cuts[c]);
				resumed = 0;
			}
			rs_bo_hist_free(hr);
		}
		tap_ok(resumed, "rounds of 3 resumed after 7 trials (inside a round), 9 (a round's "
		    "end) and from a run of 8 (a last round of 2): the uninterrupted 14 trials and "
		    "plan");
		rs_bo_hist_free(h1);
		rs_bo_hist_free(h2);
		rs_bo_hist_free(hs);
	}

	/* 7. evaluated on a validation text: probes and bo rounds do not depend on which
	 * (simulated) process evaluates which candidate */
	{
		struct rs_compress *c = rs_compress_new(m, 256u << 20, &cause);
		struct rs_compress_src src = { .method = RS_METHOD_SVD };
		struct rs_alloc_eval_opts eo = { .ctx = 16, .chunks = 2, .want_kl = 1 };
		struct rs_alloc_eval *ev = NULL;
		struct fake_dist fd = { 2, 0 };
		struct rs_alloc_evaluator evr = { fake_dist_eval, &fd, 3 };
		struct rs_sens *s1 = NULL, *s2 = NULL;
		static const double rat2[] = { 0.3, 0.6 };
		int32_t ids[40];
		int vocab = rs_model_config(m)->vocab, first = -1, last = -1, rc1, rc2;

		for (i = 0; i < 40; i++)
			ids[i] = (int32_t)((i * 7919 + 13) % vocab);
		if (c != NULL)
			ev = rs_alloc_eval_new(m, c, &src, ids, 40, &eo, NULL, &cause);
		tap_ok(ev != NULL, "validation evaluator on kjv-llama (svd, 2 windows of 16): %s",
		    ev != NULL ? "ok" : cause);
		if (ev == NULL)
			goto no_eval;
		rs_rankalloc_types(p, "q,k,up", elig, NULL, NULL);
		for (i = 0; i < N_MAT; i++)
			if (elig[i]) {
				last = i;
				if (first < 0)
					first = i;
			}
		rc1 = rs_alloc_sens_probe(ev, p, elig, rat2, 2, NULL, &s1, NULL, &cause);
		rc2 = rs_alloc_sens_probe(ev, p, elig, rat2, 2, &evr, &s2, NULL, &cause);
		tap_ok(rc1 == 0 && rc2 == 0 && memcmp(s1->nll, s2->nll, N_MAT * 2 *
		    sizeof *s1->nll) == 0 && fd.calls == 12, "sensitivity: 36 probes serially and in "
		    "12 rounds of 3 over 2 simulated processes: the same NLLs, bit for bit");
		if (rc1 == 0) {
			struct rs_alloc_eval_res r0, r1;
			for (i = 0; i < N_MAT; i++)
				ranks[i] = RS_PLAN_DENSE;
			ranks[first] = rs_rankalloc_rank_for_keep(p, first, 0.6);
			rc1 = rs_alloc_eval_run(ev, ranks, &r0, NULL, &cause);
			ranks[first] = RS_PLAN_DENSE;
			ranks[last] = rs_rankalloc_rank_for_keep(p, last, 0.3);
			rc2 = rs_alloc_eval_run(ev, ranks, &r1, NULL, &cause);
			tap_ok(rc1 == 0 && rc2 == 0 && r0.nll == s1->nll[first * 2 + 1] &&
			    r1.nll == s1->nll[last * 2] && isnan(s1->nll[rs_plan_index(p, 0, RS_T_V) * 2]) &&
			    r0.nll != s1->dense_nll, "a probe is its matrix alone at its ratio (%s at "
			    "0.6: NLL %.6f, dense %.6f); ineligible matrices not probed",
			    rs_plan_name(p, first), r0.nll, s1->dense_nll);
		}
		rs_sens_free(s1);
		rs_sens_free(s2);
		{
			struct rs_bo_space sp;
			struct rs_bo_hist *ha, *hb;
			struct rs_budget bud = { 0.5, 0 };
			struct bo_eval bs = { 2, ev, NULL }, bd = { 2, ev, &evr };
			unsigned types;
			uint64_t T;
			int ra[N_MAT], rb[N_MAT], ppl_ok = 1;
			size_t t;

			fd.calls = 0;
			rs_rankalloc_types(p, "q,k,o,gate,up,down", elig, &types, NULL);
			T = rs_budget_target(&bud, p);
			rs_bo_space_init(&sp, p, types, 1, NULL);
			ha = rs_bo_hist_new("test", 3, sp.d, NULL);
			hb = rs_bo_hist_new("test", 3, sp.d, NULL);
			rc1 = run_bo_with(p, elig, &sp, T, 3, 8, ha, ra, NULL, NULL, NULL, &bs);
			rc2 = run_bo_with(p, elig, &sp, T, 3, 8, hb, rb, NULL, NULL, NULL, &bd);
			for (t = 0; t < ha->n && t < hb->n; t++)
				ppl_ok &= ha->t[t].ppl == hb->t[t].ppl && ha->t[t].kl == hb->t[t].kl &&
				    ha->t[t].ppl > 1;
			tap_ok(rc1 == 0 && rc2 == 0 && ha->n == 8 && same_hist(ha, hb, 8) && ppl_ok &&
			    memcmp(ra, rb, sizeof ra) == 0 && fd.calls == 4, "bo (ppl objective) in 4 "
			    "rounds of 2: serially and over 2 simulated processes, the same 8 trials, "
			    "PPL, KL and plan (best PPL %.4f)", ha->t[rs_bo_hist_best(ha)].ppl);
			rs_bo_hist_free(ha);
			rs_bo_hist_free(hb);
		}
no_eval:
		rs_alloc_eval_free(ev);
		rs_compress_free(c);
	}

	/* 8. the session's evaluator outlives a model change; the trials and probes do not */
	{
		struct rs_session *s = rs_session_new();
		struct fake_dist fd = { 3, 0 };
		struct rs_alloc_evaluator evr = { fake_dist_eval, &fd, 3 };
		struct rs_model *m2 = NULL;
		const struct rs_alloc_evaluator *got0, *got;

		got0 = s != NULL ? rs_allocrun_evaluator(s) : &evr;
		ok = s != NULL && rs_allocrun_set_evaluator(s, &evr, &cause) == 0 &&
		    rs_allocrun_bo_keep(s, rs_bo_hist_new("test", 1, 5, NULL), &cause) == 0 &&
		    rs_allocrun_bo_last(s) != NULL && (m2 = rs_model_open(path_model, &cause)) != NULL;
		if (ok)
			rs_session_set_model(s, m2, NULL, rs_strdup(path_model));
		got = ok ? rs_allocrun_evaluator(s) : NULL;
		tap_ok(ok && got0 == NULL && got != NULL && got->evaluate == fake_dist_eval &&
		    got->ud == &fd && got->batch == 3 && rs_allocrun_bo_last(s) == NULL,
		    "a session's evaluator (none at first) stays across 'load'; the bo history goes");
		ok = s != NULL && rs_allocrun_set_evaluator(s, NULL, &cause) == 0 &&
		    rs_allocrun_evaluator(s) == NULL;
		tap_ok(ok, "set to NULL: serial again");
		rs_session_free(s);
	}

	free(cause);
	for (i = 0; i < N_MAT; i++)
		rs_spec_free(specs_own[i]);
	rs_plan_free(p);
	rs_model_close(m);
	return tap_done();
}
