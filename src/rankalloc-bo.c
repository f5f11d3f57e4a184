/* rankalloc-bo.c: plans evaluated on a validation text (perplexity and KL divergence to the
 * dense model), sensitivity probes, and the Bayesian-optimization allocator (seed paper 1). */
#include "config.h"

#include "rankalloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "bo.h"
#include "compress.h"
#include "forward.h"
#include "model.h"

/* Rows per forward call (several windows at once), as `ppl` uses. */
#define EVAL_ROWS_TARGET 512
/* Cap on the dense model's stored log-probabilities (bytes). */
#define EVAL_KL_MAX_BYTES (1ull << 30)

struct rs_alloc_eval {
	const struct rs_model *m;
	struct rs_compress *c;
	const struct rs_compress_src *src;
	struct rs_plan *scratch;        /* ranks to build factors from (alignment 1) */
	struct rs_forward *f;
	int (*install)(void *, const struct rs_compress_set *, struct rs_forward *, char **);
	void *install_ud;
	int32_t *ids;                   /* (windows, ctx) */
	int ctx, windows, batch, vocab;
	int use, low;                   /* windows run per evaluation (0: all), screening part */
	float *logits;                  /* (batch, ctx, vocab) */
	float *dense_lp;                /* (windows, ctx - 1, vocab) log-probabilities, or NULL */
	struct rs_alloc_eval_res dense;
	uint64_t evals, win_done;
};

/* log Σ exp over n logits. */
static double
lse(const float *l, int n)
{
	double mx = l[0], s = 0;
	int i;

	for (i = 1; i < n; i++)
		if (l[i] > mx)
			mx = l[i];
	for (i = 0; i < n; i++)
		s += exp((double)l[i] - mx);
	return mx + log(s);
}

/* Run the windows under the installed factors: mean NLL, and KL against dense_lp when
 * `kl` (or store log-probabilities into dense_lp when `store`). */
static int
eval_pass(struct rs_alloc_eval *ev, int store, int kl, struct rs_alloc_eval_res *res,
    struct rs_job *job, char **cause)
{
	double nll = 0, kls = 0;
	int64_t count = 0;
	int done, nb, w, p, v, rc, V = ev->vocab, T = ev->ctx;
	int nw = store || ev->use <= 0 || ev->use > ev->windows ? ev->windows : ev->use;

	res->low_ppl = res->low_kl = 0;
	for (done = 0; done < nw; done += nb) {
		nb = nw - done < ev->batch ? nw - done : ev->batch;
		if ((rc = rs_forward_run(ev->f, ev->ids + (size_t)done * (size_t)T, nb, T, 0,
		    ev->logits, job, cause)) != 0)
			return rc;
		ev->win_done += (uint64_t)nb;
		for (w = 0; w < nb; w++) {
			const int32_t *tok = ev->ids + (size_t)(done + w) * (size_t)T;
			for (p = 0; p + 1 < T; p++) {
				const float *l = ev->logits + ((size_t)w * (size_t)T + (size_t)p) *
				    (size_t)V;
				double z = lse(l, V);
				size_t at = ((size_t)(done + w) * (size_t)(T - 1) + (size_t)p) *
				    (size_t)V;

				nll += z - (double)l[tok[p + 1]];
				count++;
				if (store) {
					for (v = 0; v < V; v++)
						ev->dense_lp[at + (size_t)v] = (float)((double)l[v] - z);
				} else if (kl) {
					const float *d = ev->dense_lp + at;
					double k = 0;
					for (v = 0; v < V; v++)
						k += exp((double)d[v]) * ((double)d[v] -
						    ((double)l[v] - z));
					kls += k > 0 ? k : 0;
				}
			}
			if (!store && done + w + 1 == ev->low) {
				/* the screening windows are the first ones of every evaluation */
				res->low_ppl = exp(nll / (double)count);
				res->low_kl = kl ? kls / (double)count : 0;
			}
		}
	}
	ev->evals++;
	res->nll = nll / (double)count;
	res->ppl = exp(res->nll);
	res->kl = kl ? kls / (double)count : 0;
	return 0;
}

struct rs_alloc_eval *
rs_alloc_eval_new(const struct rs_model *m, struct rs_compress *c,
    const struct rs_compress_src *src, const int32_t *ids, size_t n_ids,
    const struct rs_alloc_eval_opts *o, struct rs_job *job, char **cause)
{
	struct rs_alloc_eval *ev;
	size_t windows;
	int rc;

	if (o->ctx < 2) {
		rs_fail(cause, RS_EINVAL, "alloc: --ctx %d: at least 2", o->ctx);
		return NULL;
	}
	windows = n_ids / (size_t)o->ctx;
	if (o->chunks > 0 && (size_t)o->chunks < windows)
		windows = (size_t)o->chunks;
	if (windows == 0) {
		rs_fail(cause, RS_EINVAL, "alloc: the validation text has %zu tokens, fewer than "
		    "one window of %d", n_ids, o->ctx);
		return NULL;
	}
	if (windows > (1u << 20)) {
		rs_fail(cause, RS_EINVAL, "alloc: %zu validation windows: use --chunks", windows);
		return NULL;
	}
	if ((ev = rs_calloc(1, sizeof *ev)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
		return NULL;
	}
	ev->m = m;
	ev->c = c;
	ev->src = src;
	ev->install = o->install;
	ev->install_ud = o->install_ud;
	ev->ctx = o->ctx;
	ev->windows = (int)windows;
	ev->vocab = rs_model_config(m)->vocab;
	ev->batch = EVAL_ROWS_TARGET / o->ctx > 1 ? EVAL_ROWS_TARGET / o->ctx : 1;
	if (ev->batch > ev->windows)
		ev->batch = ev->windows;
	if (o->want_kl && (double)windows * (double)(o->ctx - 1) * (double)ev->vocab *
	    sizeof(float) > (double)EVAL_KL_MAX_BYTES) {
		rs_fail(cause, RS_EINVAL, "alloc: the dense distributions for KL of %zu windows of "
		    "%d would take over %llu MiB: use fewer --chunks or --kl 0", windows, o->ctx,
		    EVAL_KL_MAX_BYTES >> 20);
		rs_free(ev);
		return NULL;
	}
	if ((ev->scratch = rs_plan_new(m, cause)) == NULL ||
	    (ev->f = rs_forward_new(m, ev->batch * o->ctx, o->ctx, cause)) == NULL)
		goto fail;
	rs_plan_set_align(ev->scratch, 1);
	ev->ids = rs_mallocarray(windows * (size_t)o->ctx, sizeof *ev->ids);
	ev->logits = rs_mallocarray((size_t)ev->batch * (size_t)o->ctx,
	    (size_t)ev->vocab * sizeof(float));
	if (o->want_kl)
		ev->dense_lp = rs_mallocarray(windows * (size_t)(o->ctx - 1),
		    (size_t)ev->vocab * sizeof(float));
	if (ev->ids == NULL || ev->logits == NULL || (o->want_kl && ev->dense_lp == NULL)) {
		rs_fail(cause, RS_ENOMEM, "alloc: out of memory for %zu validation windows", windows);
		goto fail;
	}
	memcpy(ev->ids, ids, windows * (size_t)o->ctx * sizeof *ev->ids);
	if ((rc = eval_pass(ev, o->want_kl, 0, &ev->dense, job, cause)) != 0)
		goto fail;
	return ev;
fail:
	rs_alloc_eval_free(ev);
	return NULL;
}

void
rs_alloc_eval_free(struct rs_alloc_eval *ev)
{
	if (ev == NULL)
		return;
	rs_plan_free(ev->scratch);
	rs_forward_free(ev->f);
	rs_free(ev->ids);
	rs_free(ev->logits);
	rs_free(ev->dense_lp);
	rs_free(ev);
}

void
rs_alloc_eval_dense(const struct rs_alloc_eval *ev, struct rs_alloc_eval_res *res)
{
	*res = ev->dense;
}

int
rs_alloc_eval_windows(const struct rs_alloc_eval *ev)
{
	return ev->windows;
}

void
rs_alloc_eval_counts(const struct rs_alloc_eval *ev, uint64_t *evals, uint64_t *windows)
{
	if (evals != NULL)
		*evals = ev->evals;
	if (windows != NULL)
		*windows = ev->win_done;
}

void
rs_alloc_eval_set(struct rs_alloc_eval *ev, int use, int low)
{
	ev->use = use;
	ev->low = low;
}

int
rs_alloc_eval_run(struct rs_alloc_eval *ev, const int *ranks, struct rs_alloc_eval_res *res,
    struct rs_job *job, char **cause)
{
	struct rs_compress_set *set = NULL;
	int i, rc = 0;

	for (i = 0; i < rs_plan_count(ev->scratch); i++)
		rs_plan_set(ev->scratch, i, ranks[i], NULL);
	/* the build checks the cancel flag after every matrix (and reports "factors") */
	if (rs_plan_n_compressed(ev->scratch) > 0 &&
	    (rc = rs_compress_build(ev->c, ev->scratch, ev->src, &set, job, cause)) != 0)
		return rc;
	if (ev->install != NULL)
		rc = ev->install(ev->install_ud, set, ev->f, cause);
	else if (set != NULL)
		rc = rs_compress_install(set, ev->f, cause);
	else
		rs_forward_clear_overrides(ev->f);
	if (rc != 0) {
		rs_compress_set_free(set);
		return rc;
	}
	rc = eval_pass(ev, 0, ev->dense_lp != NULL, res, job, cause);
	/* the set's factors are only read during the pass */
	rs_forward_clear_overrides(ev->f);
	rs_compress_set_free(set);
	return rc;
}

/* ---------------------------------------------------------------- rounds of candidates */

int
rs_alloc_eval_subset(struct rs_alloc_eval *ev, const int *ranks, int q, int first,
    int stride, struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause)
{
	size_t n = (size_t)rs_plan_count(ev->scratch);
	int i, rc;

	*done = 0;
	if (first < 0 || stride < 1)
		return rs_fail(cause, RS_EINVAL, "alloc: candidates from %d by %d", first, stride);
	for (i = first; i < q; i += stride) {
		if (rs_job_cancelled(job))
			return rs_fail(cause, RS_ECANCEL, "alloc: cancelled");
		if ((rc = rs_alloc_eval_run(ev, ranks + (size_t)i * n, &res[i], job, cause)) != 0)
			return rc;
		(*done)++;
	}
	return 0;
}

int
rs_alloc_eval_serial(void *ud, struct rs_alloc_eval *ev, const int *ranks, int q,
    struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause)
{
	(void)ud;
	return rs_alloc_eval_subset(ev, ranks, q, 0, 1, res, done, job, cause);
}

/* Evaluate a round through evr (NULL: serially). */
static int
eval_round(const struct rs_alloc_evaluator *evr, struct rs_alloc_eval *ev, const int *ranks,
    int q, struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause)
{
	int rc;

	*done = 0;
	if (evr == NULL || evr->evaluate == NULL)
		return rs_alloc_eval_serial(NULL, ev, ranks, q, res, done, job, cause);
	rc = evr->evaluate(evr->ud, ev, ranks, q, res, done, job, cause);
	if (*done < 0 || *done > q)
		*done = 0;
	if (rc == 0 && *done < q)
		rc = rs_fail(cause, RS_EINVAL, "alloc: the evaluator returned %d of %d results",
		    *done, q);
	return rc;
}

/* ---------------------------------------------------------------- sensitivity probes */

struct rs_sens *
rs_sens_new(int n, int n_ratios, const double *ratios, char **cause)
{
	struct rs_sens *s;
	size_t k;

	if (n < 1 || n_ratios < 1 || n_ratios > 64) {
		rs_fail(cause, RS_EINVAL, "sensitivity: 1 to 64 ratios");
		return NULL;
	}
	if ((s = rs_calloc(1, sizeof *s)) == NULL ||
	    (s->ratios = rs_mallocarray((size_t)n_ratios, sizeof *s->ratios)) == NULL ||
	    (s->nll = rs_mallocarray((size_t)n * (size_t)n_ratios, sizeof *s->nll)) == NULL) {
		rs_sens_free(s);
		rs_fail(cause, RS_ENOMEM, "sensitivity: out of memory");
		return NULL;
	}
	s->n = n;
	s->n_ratios = n_ratios;
	memcpy(s->ratios, ratios, (size_t)n_ratios * sizeof *ratios);
	for (k = 0; k < (size_t)n * (size_t)n_ratios; k++)
		s->nll[k] = NAN;
	return s;
}

void
rs_sens_free(struct rs_sens *s)
{
	if (s == NULL)
		return;
	rs_free(s->ratios);
	rs_free(s->nll);
	rs_free(s);
}

int
rs_alloc_sens_list(const struct rs_plan *p, const unsigned char *elig, int n_ratios,
    int **mat, int **rk, char **cause)
{
	int i, k, n = rs_plan_count(p), total = 0, j = 0;

	*mat = *rk = NULL;
	for (i = 0; i < n; i++)
		total += elig == NULL || elig[i] ? n_ratios : 0;
	if (total == 0)
		return 0;
	*mat = rs_mallocarray((size_t)total, sizeof **mat);
	*rk = rs_mallocarray((size_t)total, sizeof **rk);
	if (*mat == NULL || *rk == NULL) {
		rs_free(*mat);
		rs_free(*rk);
		*mat = *rk = NULL;
		rs_fail(cause, RS_ENOMEM, "sensitivity: out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (elig != NULL && !elig[i])
			continue;
		for (k = 0; k < n_ratios; k++, j++) {
			(*mat)[j] = i;
			(*rk)[j] = k;
		}
	}
	return total;
}

int
rs_alloc_sens_probe(struct rs_alloc_eval *ev, const struct rs_plan *p,
    const unsigned char *elig, const double *ratios, int n_ratios,
    const struct rs_alloc_evaluator *evr, struct rs_sens **out, struct rs_job *job,
    char **cause)
{
	struct rs_sens *s;
	struct rs_alloc_eval_res *res = NULL;
	int *ranks = NULL, *mat = NULL, *rk = NULL, i, j, k, n = rs_plan_count(p), total, q;
	int done = 0, got, rc = 0;

	*out = NULL;
	for (k = 0; k < n_ratios; k++)
		if (!(ratios[k] > 0 && ratios[k] < 1) || (k > 0 && ratios[k] <= ratios[k - 1]))
			return rs_fail(cause, RS_EINVAL, "sensitivity: ratios must ascend inside "
			    "(0, 1)");
	if ((s = rs_sens_new(n, n_ratios, ratios, cause)) == NULL)
		return RS_ENOMEM;
	if ((total = rs_alloc_sens_list(p, elig, n_ratios, &mat, &rk, cause)) < 0) {
		rs_sens_free(s);
		return RS_ENOMEM;
	}
	q = evr != NULL && evr->batch > 1 ? evr->batch : 1;
	if (q > total)
		q = total > 0 ? total : 1;
	ranks = rs_mallocarray((size_t)q * (size_t)n, sizeof *ranks);
	res = rs_mallocarray((size_t)q, sizeof *res);
	if (ranks == NULL || res == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "sensitivity: out of memory");
		goto out;
	}
	s->dense_nll = ev->dense.nll;
	/* rounds of q probes: each all dense but its matrix; results stored in probe order */
	while (done < total) {
		int qr = total - done < q ? total - done : q;

		for (j = 0; j < qr; j++) {
			int *r = ranks + (size_t)j * (size_t)n;
			for (i = 0; i < n; i++)
				r[i] = RS_PLAN_DENSE;
			r[mat[done + j]] = rs_rankalloc_rank_for_keep(p, mat[done + j],
			    ratios[rk[done + j]]);
		}
		rc = eval_round(evr, ev, ranks, qr, res, &got, job, cause);
		for (j = 0; j < got; j++)
			s->nll[(size_t)mat[done + j] * (size_t)n_ratios + (size_t)rk[done + j]] =
			    res[j].nll;
		done += got;
		rs_job_progress(job, done, total, "sensitivity");
		if (rc != 0)
			break;
	}
out:
	rs_free(ranks);
	rs_free(res);
	rs_free(mat);
	rs_free(rk);
	if (rc != 0) {
		rs_sens_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ---------------------------------------------------------------- BO */

/* What the feasibility constraint needs. */
struct bo_cons {
	const struct rs_plan *p;
	const struct rs_alloc_bo_opts *o;
	int *ranks;
	double dense;
};

/* ≤ 0 when the point's (unfitted) ranks are inside the budget band; in units of the dense
 * parameter count so COBYLA sees numbers near 1. */
static double
bo_constraint(const double *x, void *ud)
{
	struct bo_cons *bc = ud;
	double P;

	rs_bo_space_ranks(bc->o->space, bc->p, x, 0.0, bc->ranks);
	P = (double)rs_rankalloc_params(bc->p, bc->ranks);
	return (fabs(P - (double)bc->o->target) - (double)bc->o->band) / bc->dense;
}

int
rs_alloc_bo_ranks(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    const double *x, int *ranks, char **cause)
{
	if (o->space->kind == RS_BO_SPACE_PROFILE)
		rs_bo_space_project(o->space, p, x, o->target, rs_rankalloc_step(p, o->elig), ranks,
		    NULL);
	else
		rs_bo_space_ranks(o->space, p, x, 0.0, ranks);
	return rs_rankalloc_fit(p, o->elig, o->specs, o->target, ranks, cause);
}

/* Seconds since t0. */
static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* The trial of candidate x (ranks fitted) with its evaluation r (ppl objective) or the proxy
 * computed here. */
static void
bo_trial(const struct rs_plan *p, const struct rs_alloc_bo_opts *o, double *x,
    const struct rs_bo_info *info, const int *ranks, const struct rs_alloc_eval_res *r,
    struct rs_bo_trial *t)
{
	memset(t, 0, sizeof *t);
	t->x = x;
	t->guided = info->guided;
	t->params = rs_rankalloc_params(p, ranks);
	if (o->proxy) {
		t->proxy = rs_rankalloc_proxy(p, o->specs, NULL, o->relative, ranks);
		t->y = log(t->proxy > 1e-300 ? t->proxy : 1e-300);
	} else {
		t->ppl = r->ppl;
		t->kl = r->kl;
		t->proxy = o->specs != NULL ?
		    rs_rankalloc_proxy(p, o->specs, NULL, o->relative, ranks) : 0;
		t->y = log(r->ppl + o->kl_lambda * r->kl);
	}
}

/* ---------------------------------------------------------------- BO, profile space */

/* Progress of a run: the trial count and best so far, with whatever sub-step reports. */
struct bo_progress {
	struct rs_job *job;
	void (*progress)(void *, double, double, const char *);
	void *ud;
	const struct rs_bo_hist *h;
	int trials;
	const char *phase;
};

/* The job's progress callback while a run is under way: "trial 4/14, best 54.7 · factors
 * 3/36", the bar at the trials done. */
static void
bo_progress_cb(void *ud, double done, double total, const char *what)
{
	struct bo_progress *bp = ud;
	long b = rs_bo_hist_best(bp->h);
	char line[256];
	size_t k = bp->h->n;

	if (b >= 0)
		snprintf(line, sizeof line, "trial %zu/%d, best %.4g (%s) · %s %.0f/%.0f", k + 1 >
		    (size_t)bp->trials ? k : k + 1, bp->trials, bp->h->t[b].ppl > 0 ?
		    bp->h->t[b].ppl : exp(bp->h->t[b].y), bp->phase, what, done, total);
	else
		snprintf(line, sizeof line, "trial %zu/%d (%s) · %s %.0f/%.0f", k + 1, bp->trials,
		    bp->phase, what, done, total);
	bp->progress(bp->ud, (double)k, (double)bp->trials, line);
}

/* Route job's progress through bp (undone by bo_progress_end). */
static void
bo_progress_begin(struct bo_progress *bp, struct rs_job *job, const struct rs_bo_hist *h,
    int trials)
{
	memset(bp, 0, sizeof *bp);
	bp->job = job;
	bp->h = h;
	bp->trials = trials;
	bp->phase = "";
	if (job == NULL || job->progress == NULL)
		return;
	bp->progress = job->progress;
	bp->ud = job->ud;
	job->ud = bp;
	job->progress = bo_progress_cb;
}

static void
bo_progress_end(struct bo_progress *bp)
{
	if (bp->progress == NULL)
		return;
	bp->job->progress = bp->progress;
	bp->job->ud = bp->ud;
}

/* What the search knows besides the GP, rebuilt from the history round by round: the
 * screening gap (full − screening objective of the full trials), the profiles' largest proxy,
 * the incumbent, and the trust region (TuRBO's length, success and failure counts). */
struct bo_state {
	double gap_sum, gap_sq;
	int gap_n;
	double prof_proxy_max;
	long best;
	double L;
	int succ, fail;
};

#define TR_LEN0 0.4             /* trust region side at the start of the local phase */
#define TR_LEN_MIN 0.05
#define TR_LEN_MAX 0.8
#define TR_SUCC 2               /* rounds improving in a row to double the side */
#define TR_FAIL 3               /* rounds not improving in a row to halve it */
#define TR_GAIN 1e-3            /* an improvement: the objective (log) falls by this */

/* The screening objective of a trial's screening windows. */
static double
low_obj(const struct rs_bo_trial *t)
{
	return log(t->low_ppl > 1e-300 ? t->low_ppl : 1e-300);
}

/* Account for the round of trials [r0, r1) of h. */
static void
state_round(struct bo_state *st, const struct rs_bo_hist *h, size_t r0, size_t r1,
    int trust_from)
{
	long b0 = st->best;
	size_t k;

	for (k = r0; k < r1; k++) {
		const struct rs_bo_trial *t = &h->t[k];

		if (t->guided == RS_BO_SEEDED && t->proxy > st->prof_proxy_max)
			st->prof_proxy_max = t->proxy;
		if (t->fidelity != RS_BO_FID_FULL)
			continue;
		if (t->low_ppl > 0) {
			double g = t->y - low_obj(t);
			st->gap_sum += g;
			st->gap_sq += g * g;
			st->gap_n++;
		}
		if (st->best < 0 || t->y < h->t[st->best].y)
			st->best = (long)k;
	}
	if (trust_from <= 0 || r0 < (size_t)trust_from)
		return;
	if (b0 >= 0 && st->best != b0 && h->t[st->best].y < h->t[b0].y - TR_GAIN) {
		st->fail = 0;
		if (++st->succ >= TR_SUCC) {
			st->L = st->L * 2 < TR_LEN_MAX ? st->L * 2 : TR_LEN_MAX;
			st->succ = 0;
		}
	} else {
		st->succ = 0;
		if (++st->fail >= TR_FAIL) {
			st->L = st->L / 2 > TR_LEN_MIN ? st->L / 2 : TR_LEN_MIN;
			st->fail = 0;
		}
	}
}

/* Mean and spread of the screening gap (0 and a default spread before two full trials). */
static void
state_gap(const struct bo_state *st, double *mean, double *spread)
{
	double m = st->gap_n > 0 ? st->gap_sum / st->gap_n : 0, v;

	*mean = m;
	if (st->gap_n < 2) {
		*spread = 0.02;
		return;
	}
	v = st->gap_sq / st->gap_n - m * m;
	*spread = sqrt(v > 0 ? v : 0);
	if (*spread < 0.005)
		*spread = 0.005;
}

/* The objective of an evaluation: log(ppl + λ·KL), or of its screening windows. */
static double
eval_obj(const struct rs_alloc_bo_opts *o, const struct rs_alloc_eval_res *r, int low)
{
	return low ? log(r->low_ppl + o->kl_lambda * r->low_kl) : log(r->ppl + o->kl_lambda *
	    r->kl);
}

/* The confirmation after the last trial: the best heuristic trial and the o->confirm best
 * full trials run on every window of the validation text (the search saw only the first
 * ones, and its best is the best of many noisy measurements); h->chosen gets the best of them
 * there.  ranks (q × n) and res (q) are scratch. */
static int
bo_confirm(const struct rs_plan *p, const struct rs_alloc_bo_opts *o, struct rs_bo_hist *h,
    int *ranks, size_t q, struct rs_alloc_eval_res *res, struct bo_progress *prog,
    struct rs_job *job, char **cause)
{
	long pick[64];
	size_t k, m = 0, i, n = (size_t)rs_plan_count(p);
	int rc = 0, got = 0, c, heur = -1;

	for (k = 0; k < h->n; k++)
		if (h->t[k].guided == RS_BO_SEEDED && h->t[k].fidelity == RS_BO_FID_FULL &&
		    (heur < 0 || h->t[k].y < h->t[heur].y))
			heur = (int)k;
	if (heur >= 0)
		pick[m++] = heur;
	/* the best full trials, best first, the heuristic one not twice */
	for (c = 0; c < o->confirm && m < q && m < 64; c++) {
		long b = -1;
		for (k = 0; k < h->n; k++) {
			int taken = 0;
			for (i = 0; i < m; i++)
				taken |= pick[i] == (long)k;
			if (!taken && h->t[k].fidelity == RS_BO_FID_FULL && (b < 0 || h->t[k].y <
			    h->t[b].y))
				b = (long)k;
		}
		if (b < 0)
			break;
		pick[m++] = b;
	}
	if (m == 0)
		return 0;
	for (i = 0; i < m && rc == 0; i++)
		rc = rs_alloc_bo_ranks(p, o, h->t[pick[i]].x, ranks + i * n, cause);
	if (rc != 0)
		return rc;
	prog->phase = "confirmation";
	rs_alloc_eval_set(o->ev, 0, 0);
	rc = eval_round(o->evaluator, o->ev, ranks, (int)m, res, &got, job, cause);
	if (rc != 0)
		return rc;
	h->chosen = -1;
	h->confirm_windows = rs_alloc_eval_windows(o->ev);
	for (i = 0; i < m; i++) {
		struct rs_bo_trial *t = &h->t[pick[i]];
		t->confirm_ppl = res[i].ppl + o->kl_lambda * res[i].kl;
		if (h->chosen < 0 || t->confirm_ppl < h->t[h->chosen].confirm_ppl)
			h->chosen = pick[i];
	}
	return 0;
}

/* The ranks of trial `best` (none: < 0) into best_ranks, after a search that ended with rc:
 * its first error stands, else this one's. */
static int
bo_best_ranks(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    const struct rs_bo_hist *h, long best, int *best_ranks, int rc, char **cause)
{
	char *c2 = NULL;
	int r2;

	if (best < 0)
		return rc;
	r2 = rs_alloc_bo_ranks(p, o, h->t[best].x, best_ranks, &c2);
	if (r2 != 0 && rc == 0) {
		rc = r2;
		if (cause != NULL) {
			rs_free(*cause);
			*cause = c2;
			c2 = NULL;
		}
	}
	rs_free(c2);
	return rc;
}

/* The profile-space search (rs_alloc_bo_opts: seeds, random design, screened rounds, trust
 * region); rounds are whole in h, so a resumed run replays them and continues. */
static int
bo_profile_run(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    struct rs_bo_hist *h, int *best_ranks, struct bo_progress *prog, struct rs_job *job,
    char **cause)
{
	const struct rs_bo_space *sp = o->space;
	struct rs_bo_options bopt;
	struct rs_bo *bo = NULL;
	struct rs_bo_info *info = NULL;
	struct rs_alloc_eval_res *res = NULL, *sres = NULL;
	struct bo_state st;
	double *xr = NULL, *lb = NULL, *ub = NULL;
	int *ranks = NULL, *sel = NULL, *fid = NULL, d = sp->d, rc = 0, n = rs_plan_count(p);
	int K = o->screen > 1 ? o->screen : 1, W = 0, low = 0, round = 0, late_done = 0;
	size_t par = o->evaluator != NULL && o->evaluator->batch > 1 ? (size_t)o->evaluator->batch :
	    1;
	size_t q = (size_t)K, k, r0;

	if ((size_t)o->seeds > q)
		q = (size_t)o->seeds;
	if ((size_t)o->n_init > q)
		q = (size_t)o->n_init;
	if (!o->proxy && o->ev == NULL)
		return rs_fail(cause, RS_EINVAL, "alloc bo: no validation text to evaluate on");
	if (o->seeds < 0 || o->seeds > sp->n_prof)
		return rs_fail(cause, RS_EINVAL, "alloc bo: %d seeds of %d profiles", o->seeds,
		    sp->n_prof);
	memset(&st, 0, sizeof st);
	st.best = -1;
	st.L = TR_LEN0;
	h->chosen = -1;
	ranks = rs_mallocarray(q * (size_t)n, sizeof *ranks);
	xr = rs_mallocarray(q * (size_t)d, sizeof *xr);
	lb = rs_mallocarray((size_t)d, sizeof *lb);
	ub = rs_mallocarray((size_t)d, sizeof *ub);
	info = rs_calloc(q, sizeof *info);
	res = rs_calloc(q, sizeof *res);
	sres = rs_calloc(q, sizeof *sres);
	sel = rs_mallocarray(q, sizeof *sel);
	fid = rs_mallocarray(q, sizeof *fid);
	if (ranks == NULL || xr == NULL || lb == NULL || ub == NULL || info == NULL ||
	    res == NULL || sres == NULL || sel == NULL || fid == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "alloc bo: out of memory");
		goto out;
	}
	rs_bo_options_init(&bopt);
	if ((bo = rs_bo_new((size_t)d, o->seed, (size_t)(o->seeds + o->n_init > 0 ? o->seeds +
	    o->n_init : 1), &bopt, cause)) == NULL) {
		rc = RS_ENOMEM;
		goto out;
	}
	if (!o->proxy) {
		W = rs_alloc_eval_windows(o->ev);
		if (o->windows > 0 && o->windows < W)
			W = o->windows;
		low = o->low > 0 ? o->low : (W + 3) / 4;
		if (low > W)
			low = W;
		rs_alloc_eval_set(o->ev, W, low);
	}
	/* the late profile is needed as soon as a point past it is evaluated, resumed or not */
	if (o->late_profile != NULL && h->n > (size_t)o->late) {
		if ((rc = o->late_profile(o->late_ud, o->late, job, cause)) != 0)
			goto out;
		late_done = 1;
	}
	/* replay the history's rounds */
	for (r0 = 0, k = 0; k < h->n; k++) {
		if ((rc = rs_bo_observe(bo, h->t[k].x, h->t[k].y, cause)) != 0)
			goto out;
		if (k + 1 == h->n || h->t[k + 1].round != h->t[k].round) {
			state_round(&st, h, r0, k + 1, o->trust_from);
			r0 = k + 1;
			round = h->t[k].round + 1;
		}
	}
	while (h->n < (size_t)o->trials) {
		size_t n0 = h->n, qr, i, nsel = 0;
		struct timespec t0;
		double secs, gap, spread, worst = -HUGE_VAL;
		int kind, got = 0, promote = -1;

		if (rs_job_cancelled(job)) {
			rc = rs_fail(cause, RS_ECANCEL, "alloc bo: cancelled");
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (n0 < (size_t)o->seeds) {
			kind = RS_BO_SEEDED;
			qr = (size_t)o->seeds - n0;
			if (o->late_profile != NULL && n0 < (size_t)o->late)
				qr = (size_t)o->late - n0;      /* the plans before the late one */
			else if (o->late_profile != NULL && !late_done) {
				prog->phase = "heuristic plans";
				if ((rc = o->late_profile(o->late_ud, o->late, job, cause)) != 0)
					break;
				late_done = 1;
			}
			prog->phase = "heuristic plans";
		} else if (n0 < (size_t)(o->seeds + o->n_init)) {
			kind = RS_BO_RANDOM;
			qr = (size_t)(o->seeds + o->n_init) - n0;
			prog->phase = "random design";
		} else {
			kind = RS_BO_GUIDED;
			qr = (size_t)K;
			prog->phase = o->trust_from > 0 && n0 >= (size_t)o->trust_from ?
			    "trust region" : "global";
		}
		/* the heuristic and random points in rounds of what runs at once (one, serially):
		 * each is kept as soon as it is measured */
		if (kind != RS_BO_GUIDED && qr > par)
			qr = par;
		if (qr > (size_t)o->trials - n0)
			qr = (size_t)o->trials - n0;
		/* the candidates */
		if (kind == RS_BO_SEEDED) {
			for (i = 0; i < qr; i++) {
				rs_bo_space_profile_point(sp, (int)(n0 + i), xr + i * (size_t)d);
				memset(&info[i], 0, sizeof info[i]);
			}
		} else {
			int j, tr = kind == RS_BO_GUIDED && o->trust_from > 0 &&
			    n0 >= (size_t)o->trust_from && st.best >= 0;

			if (tr) {
				for (j = 0; j < d; j++) {
					lb[j] = h->t[st.best].x[j] - st.L / 2;
					ub[j] = h->t[st.best].x[j] + st.L / 2;
				}
				rs_bo_set_box(bo, lb, ub);
			}
			rc = rs_bo_suggest_batch(bo, qr, xr, info, cause);
			rs_bo_set_box(bo, NULL, NULL);
			if (rc != 0)
				break;
		}
		for (i = 0; i < qr && rc == 0; i++)
			rc = rs_alloc_bo_ranks(p, o, xr + i * (size_t)d, ranks + i * (size_t)n,
			    cause);
		if (rc != 0)
			break;
		state_gap(&st, &gap, &spread);
		for (i = 0; i < qr; i++) {
			fid[i] = RS_BO_FID_FULL;
			memset(&res[i], 0, sizeof res[i]);
		}
		for (k = 0; k < n0; k++)
			if (h->t[k].y > worst)
				worst = h->t[k].y;
		if (o->proxy) {
			got = (int)qr;
		} else if (kind != RS_BO_GUIDED || K <= 1 || low >= W) {
			rc = eval_round(o->evaluator, o->ev, ranks, (int)qr, res, &got, job, cause);
		} else {
			/* screen: the proxy, then the first windows, then the best in full */
			for (i = 0; i < qr; i++) {
				double px = o->specs != NULL ? rs_rankalloc_proxy(p, o->specs, NULL,
				    o->relative, ranks + i * (size_t)n) : 0;

				if (o->proxy_cap > 0 && o->specs != NULL && st.prof_proxy_max > 0 &&
				    px > o->proxy_cap * st.prof_proxy_max) {
					fid[i] = RS_BO_FID_PROXY;
					continue;
				}
				fid[i] = RS_BO_FID_LOW;
				if (nsel != i)
					memcpy(ranks + nsel * (size_t)n, ranks + i * (size_t)n,
					    (size_t)n * sizeof *ranks);
				sel[nsel++] = (int)i;
			}
			if (nsel > 0) {
				rs_alloc_eval_set(o->ev, low, low);
				rc = eval_round(o->evaluator, o->ev, ranks, (int)nsel, sres, &got, job,
				    cause);
				rs_alloc_eval_set(o->ev, W, low);
				if (rc == 0) {
					for (i = 0; i < nsel; i++)
						res[sel[i]] = sres[i];
					for (i = 0; i < nsel; i++)
						if (promote < 0 || eval_obj(o, &sres[i], 1) <
						    eval_obj(o, &res[promote], 1))
							promote = sel[i];
					if (promote >= 0 && st.best >= 0 && h->t[st.best].low_ppl > 0 &&
					    eval_obj(o, &res[promote], 1) > low_obj(&h->t[st.best]) +
					    spread)
						promote = -1;
				}
			}
			/* the fitted ranks again, in candidate order (the selection packed them) */
			for (i = 0; i < qr && rc == 0; i++)
				rc = rs_alloc_bo_ranks(p, o, xr + i * (size_t)d, ranks + i *
				    (size_t)n, cause);
			if (rc == 0 && promote >= 0) {
				struct rs_alloc_eval_res full;

				rc = eval_round(o->evaluator, o->ev, ranks + (size_t)promote *
				    (size_t)n, 1, &full, &got, job, cause);
				if (rc == 0)
					res[promote] = full;
				fid[promote] = RS_BO_FID_FULL;
			}
			got = rc == 0 ? (int)qr : 0;
		}
		if (rc != 0)
			break;
		secs = since(&t0) / (double)qr;
		for (i = 0; i < (size_t)got; i++) {
			struct rs_bo_trial t;

			bo_trial(p, o, xr + i * (size_t)d, &info[i], ranks + i * (size_t)n, &res[i],
			    &t);
			t.guided = kind == RS_BO_GUIDED ? info[i].guided : kind;
			t.secs = secs;
			t.round = round;
			t.fidelity = o->proxy ? RS_BO_FID_FULL : fid[i];
			if (!o->proxy && res[i].low_ppl > 0)
				t.low_ppl = res[i].low_ppl + o->kl_lambda * res[i].low_kl;
			if (!o->proxy && t.fidelity == RS_BO_FID_FULL)
				t.windows = (uint64_t)W + (kind == RS_BO_GUIDED && K > 1 && low < W ?
				    (uint64_t)low : 0);
			else if (t.fidelity == RS_BO_FID_LOW)
				t.windows = (uint64_t)low;
			if (t.fidelity == RS_BO_FID_LOW) {
				t.y = eval_obj(o, &res[i], 1) + gap;
				t.ppl = t.kl = 0;
			} else if (t.fidelity == RS_BO_FID_PROXY) {
				/* never run: the worst value seen, so the search leaves the region */
				t.y = worst;
				t.ppl = t.kl = 0;
			}
			if ((rc = rs_bo_observe(bo, t.x, t.y, cause)) != 0 ||
			    (rc = rs_bo_hist_add(h, &t, cause)) != 0)
				break;
		}
		if (rc != 0)
			break;
		state_round(&st, h, n0, h->n, o->trust_from);
		for (k = n0; k < h->n; k++) {
			if (o->on_trial != NULL)
				o->on_trial(o->ud, h, k, rs_bo_hist_best(h), NULL);
		}
		rs_job_progress(job, (double)h->n, o->trials, "trials done");
		round++;
	}
	if (rc == 0 && !o->proxy && o->confirm > 0 && h->n >= (size_t)o->trials)
		rc = bo_confirm(p, o, h, ranks, q, res, prog, job, cause);
	if (rc == RS_ECANCEL && (cause == NULL || *cause == NULL))
		rs_fail(cause, RS_ECANCEL, "alloc bo: cancelled");
out:
	if (o->ev != NULL)
		rs_alloc_eval_set(o->ev, 0, 0);
	rc = bo_best_ranks(p, o, h, h->chosen >= 0 ? h->chosen : rs_bo_hist_best(h), best_ranks,
	    rc, cause);
	rs_bo_free(bo);
	rs_free(xr);
	rs_free(lb);
	rs_free(ub);
	rs_free(info);
	rs_free(res);
	rs_free(sres);
	rs_free(sel);
	rs_free(fid);
	rs_free(ranks);
	return rc;
}

/* The ratio-space search (seed paper 1): random design, then rounds of --batch guided
 * points inside the budget band. */
static int
bo_ratio_run(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    struct rs_bo_hist *h, int *best_ranks, struct bo_progress *prog, struct rs_job *job,
    char **cause)
{
	struct rs_bo_options bopt;
	struct rs_bo *bo = NULL;
	struct bo_cons bc;
	struct rs_bo_info *info = NULL;
	struct rs_alloc_eval_res *res = NULL;
	double *X = NULL, *Y = NULL, *xr = NULL;
	int *ranks = NULL, d = o->space->d, rc = 0, n = rs_plan_count(p);
	size_t k, q = o->batch > 1 ? (size_t)o->batch : 1, n_load;

	if (h->d != d)
		return rs_fail(cause, RS_EINVAL, "alloc bo: the history has %d variables, the "
		    "search %d", h->d, d);
	if (!o->proxy && o->ev == NULL)
		return rs_fail(cause, RS_EINVAL, "alloc bo: no validation text to evaluate on");
	if (q > 100000)
		return rs_fail(cause, RS_EINVAL, "alloc bo: rounds of %zu candidates", q);
	bc.ranks = NULL;
	ranks = rs_mallocarray(q * (size_t)n, sizeof *ranks);
	bc.ranks = rs_mallocarray((size_t)n, sizeof *bc.ranks);
	xr = rs_mallocarray(q * (size_t)d, sizeof *xr);
	info = rs_mallocarray(q, sizeof *info);
	res = rs_calloc(q, sizeof *res);
	if (ranks == NULL || bc.ranks == NULL || xr == NULL || info == NULL || res == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "alloc bo: out of memory");
		goto out;
	}
	bc.p = p;
	bc.o = o;
	bc.dense = (double)rs_plan_dense_params(p);
	rs_bo_options_init(&bopt);
	bopt.constraint = bo_constraint;
	bopt.ud = &bc;
	if ((bo = rs_bo_new((size_t)d, o->seed, (size_t)(o->n_init > 0 ? o->n_init : 1), &bopt,
	    cause)) == NULL) {
		rc = RS_ENOMEM;
		goto out;
	}
	/* whole rounds only: an unfinished last round is chosen again and completed below */
	n_load = h->n - h->n % q;
	if (n_load > 0) {
		X = rs_mallocarray(n_load * (size_t)d, sizeof *X);
		Y = rs_mallocarray(n_load, sizeof *Y);
		if (X == NULL || Y == NULL) {
			rc = rs_fail(cause, RS_ENOMEM, "alloc bo: out of memory");
			goto out;
		}
		for (k = 0; k < n_load; k++) {
			memcpy(X + k * (size_t)d, h->t[k].x, (size_t)d * sizeof *X);
			Y[k] = h->t[k].y;
		}
		if ((rc = rs_bo_load_history(bo, X, Y, n_load, cause)) != 0)
			goto out;
	}
	while (h->n < (size_t)o->trials) {
		size_t n0 = rs_bo_count(bo), qr = (size_t)o->trials - n0, have = h->n - n0, i;
		struct timespec t0;
		double secs;
		int got = 0;

		if (rs_job_cancelled(job)) {
			rc = rs_fail(cause, RS_ECANCEL, "alloc bo: cancelled");
			break;
		}
		if (qr > q)
			qr = q;
		prog->phase = n0 < (size_t)o->n_init ? "random design" : "guided";
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((rc = rs_bo_suggest_batch(bo, qr, xr, info, cause)) != 0)
			break;
		for (i = have; i < qr && rc == 0; i++)
			rc = rs_alloc_bo_ranks(p, o, xr + i * (size_t)d, ranks + i * (size_t)n,
			    cause);
		if (rc != 0)
			break;
		if (o->proxy)
			got = (int)(qr - have);
		else
			rc = eval_round(o->evaluator, o->ev, ranks + have * (size_t)n,
			    (int)(qr - have), res + have, &got, job, cause);
		secs = since(&t0) / (double)(qr - have);
		/* the round's trials in candidate order: those the history holds, then the new */
		for (i = 0; i < have && rc == 0; i++)
			rc = rs_bo_observe(bo, h->t[n0 + i].x, h->t[n0 + i].y, cause);
		for (i = have; i < have + (size_t)got; i++) {
			struct rs_bo_trial t;
			int rc2;

			bo_trial(p, o, xr + i * (size_t)d, &info[i], ranks + i * (size_t)n, &res[i],
			    &t);
			t.secs = secs;
			if ((rc2 = rs_bo_observe(bo, t.x, t.y, cause)) != 0 ||
			    (rc2 = rs_bo_hist_add(h, &t, cause)) != 0) {
				if (rc == 0)
					rc = rc2;
				break;
			}
			if (o->on_trial != NULL)
				o->on_trial(o->ud, h, h->n - 1, rs_bo_hist_best(h),
				    ranks + i * (size_t)n);
		}
		rs_job_progress(job, (double)h->n, o->trials, "trials done");
		if (rc != 0)
			break;
	}
	if (rc == RS_ECANCEL && (cause == NULL || *cause == NULL))
		rs_fail(cause, RS_ECANCEL, "alloc bo: cancelled");
out:
	rc = bo_best_ranks(p, o, h, rs_bo_hist_best(h), best_ranks, rc, cause);
	rs_bo_free(bo);
	rs_free(X);
	rs_free(Y);
	rs_free(xr);
	rs_free(info);
	rs_free(res);
	rs_free(ranks);
	rs_free(bc.ranks);
	return rc;
}

int
rs_alloc_bo_run(const struct rs_plan *p, const struct rs_alloc_bo_opts *o,
    struct rs_bo_hist *h, int *best_ranks, struct rs_job *job, char **cause)
{
	struct bo_progress prog;
	int rc;

	bo_progress_begin(&prog, job, h, o->trials);
	if (o->space->kind == RS_BO_SPACE_PROFILE)
		rc = bo_profile_run(p, o, h, best_ranks, &prog, job, cause);
	else
		rc = bo_ratio_run(p, o, h, best_ranks, &prog, job, cause);
	bo_progress_end(&prog);
	return rc;
}

void
rs_alloc_state_free(struct rs_alloc_state *st)
{
	if (st == NULL)
		return;
	rs_bo_hist_free(st->hist);
	rs_sens_free(st->sens);
	rs_free(st->sens_key);
	rs_free(st);
}

void
rs_alloc_state_model_changed(struct rs_alloc_state *st)
{
	if (st == NULL)
		return;
	rs_bo_hist_free(st->hist);
	rs_sens_free(st->sens);
	rs_free(st->sens_key);
	st->hist = NULL;
	st->sens = NULL;
	st->sens_key = NULL;
}
