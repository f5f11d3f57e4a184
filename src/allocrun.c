/* allocrun.c: the session's rank allocation (allocrun.h). */
#include "config.h"

#include "allocrun.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cache.h"
#include "calib.h"
#include "dist.h"
#include "engine.h"
#include "model.h"
#include "plan.h"
#include "session.h"
#include "textfile.h"
#include "tokenizer.h"

int
rs_allocrun_env(struct rs_alloc_env *e, struct rs_session *s, const char *types,
    const struct rs_budget *b, int need_budget, char **cause)
{
	struct rs_budget sb;
	int i, rc;

	memset(e, 0, sizeof *e);
	e->s = s;
	if ((e->p = s->plan) == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: no plan (out of memory at load)");
	e->n = rs_plan_count(e->p);
	e->elig = rs_calloc((size_t)e->n, 1);
	e->specs = rs_calloc((size_t)e->n, sizeof *e->specs);
	e->ranks = rs_mallocarray((size_t)e->n, sizeof *e->ranks);
	if (e->elig == NULL || e->specs == NULL || e->ranks == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	if ((rc = rs_rankalloc_types(e->p, types, e->elig, &e->types, cause)) != 0)
		return rc;
	for (i = 0; i < e->n; i++) {
		e->specs[i] = rs_engine_preview_spec(s, rs_plan_layer(e->p, i),
		    rs_plan_type(e->p, i));
		if (!e->elig[i])
			continue;
		if (e->specs[i] != NULL)
			e->used[e->specs[i]->kind]++;
		else
			e->missing++;
	}
	if (b == NULL || (b->keep <= 0 && b->params == 0)) {
		sb.keep = s->budget_keep;
		sb.params = s->budget_params;
		b = &sb;
	}
	e->have_budget = b->keep > 0 || b->params > 0;
	if (need_budget && !e->have_budget)
		return rs_fail(cause, RS_EINVAL, "alloc: no budget: set one with 'budget --keep "
		    "RATIO' (or 'budget --params N', or --keep here)");
	if (e->have_budget)
		e->target = rs_budget_target(b, e->p);
	e->step = rs_rankalloc_step(e->p, e->elig);
	return 0;
}

void
rs_allocrun_env_free(struct rs_alloc_env *e)
{
	rs_free(e->elig);
	rs_free(e->specs);
	rs_free(e->ranks);
	memset(e, 0, sizeof *e);
}

int
rs_allocrun_need_specs(const struct rs_alloc_env *e, const char *who, char **cause)
{
	if (e->missing > 0)
		return rs_fail(cause, RS_EINVAL, "alloc %s: %d matrices have no spectrum: run "
		    "'spectra' (weights) or 'calibrate FILE' then 'spectra --kind feature' first",
		    who, e->missing);
	return 0;
}

void
rs_allocrun_spec_desc(const struct rs_alloc_env *e, char *buf, size_t n)
{
	static const char *const kname[RS_SPEC_KINDS] = { "weight", "centred feature",
	    "uncentred feature" };
	size_t at = 0;
	int k;

	buf[0] = '\0';
	for (k = 0; k < RS_SPEC_KINDS && at < n; k++)
		if (e->used[k] > 0)
			at += (size_t)snprintf(buf + at, n - at, "%s%s spectrum (%d matri%s)",
			    at > 0 ? ", " : "", kname[k], e->used[k], e->used[k] == 1 ? "x" : "ces");
}

int
rs_allocrun_apply(struct rs_alloc_env *e, struct rs_alloc_outcome *o, char **cause)
{
	int rc, i;

	memset(o, 0, sizeof *o);
	o->params = rs_rankalloc_params(e->p, e->ranks);
	o->dense_params = rs_plan_dense_params(e->p);
	if ((rc = rs_rankalloc_apply(e->p, e->ranks, cause)) != 0)
		return rc;
	for (i = 0; i < e->n; i++) {
		if (e->ranks[i] == RS_PLAN_DENSE)
			o->dense++;
		else
			o->factored++;
	}
	if (e->have_budget)
		o->budget = o->params <= e->target && o->params + e->step > e->target ?
		    "met (target - step < params <= target)" :
		    o->params > e->target ? "NOT met: over the budget" :
		    e->target >= o->dense_params ? "met (the budget allows the dense model)" :
		    "NOT met: under the budget by more than one step";
	return 0;
}

/* A trial's factors and the plugins' replacements, as every evaluation of the session runs. */
static int
val_install(void *ud, const struct rs_compress_set *set, struct rs_forward *f, char **cause)
{
	return rs_engine_install(ud, set, f, cause);
}

int
rs_allocrun_val_open(struct rs_alloc_env *e, const char *file, long ctx, long chunks,
    int def_chunks, int want_kl, struct rs_alloc_val *v, struct rs_job *job, char **cause)
{
	struct rs_session *s = e->s;
	const struct rs_model_config *mc = rs_model_config(s->model);
	struct rs_alloc_eval_opts eo;
	struct rs_compress *c;
	struct timespec t0, t1;
	int32_t *ids = NULL;
	int rc;

	memset(v, 0, sizeof *v);
	memset(&eo, 0, sizeof eo);
	if (file == NULL)
		return rs_fail(cause, RS_EINVAL, "alloc: needs --validation FILE, a held-out text "
		    "(not the evaluation text, nor the calibration text)");
	if (s->tok == NULL)
		return rs_fail(cause, RS_EINVAL, "alloc: no tokenizer loaded for the validation "
		    "text");
	if (ctx <= 0)
		ctx = mc->ctx_len < 256 ? mc->ctx_len : 256;
	if (ctx < 2 || ctx > mc->ctx_len)
		return rs_fail(cause, RS_EINVAL, "alloc: --ctx %ld: the model's windows are 2 to %d "
		    "tokens", ctx, mc->ctx_len);
	if (chunks <= 0)
		chunks = def_chunks;
	if (rs_method_needs_calib((enum rs_method)s->method) &&
	    (s->calib == NULL || !rs_calib_complete(s->calib)))
		return rs_fail(cause, RS_EINVAL, "alloc: method %s needs a calibration: run "
		    "'calibrate FILE' first (or 'set method svd')",
		    rs_method_name((enum rs_method)s->method));
	if ((c = rs_engine_compress(s, cause)) == NULL)
		return RS_ENOMEM;
	rs_engine_src(s, &v->src);
	snprintf(v->calib_id, sizeof v->calib_id, "none");
	if (v->src.calib != NULL)
		snprintf(v->calib_id, sizeof v->calib_id, "%016" PRIx64,
		    rs_hash64(rs_calib_identity(v->src.calib),
		    strlen(rs_calib_identity(v->src.calib)), 0));
	if ((rc = rs_textfile_tokens(s->tok, file, &ids, &v->n_ids, &v->text_hash, cause)) != 0)
		return rc;
	eo.ctx = (int)ctx;
	eo.chunks = (int)chunks;
	eo.want_kl = want_kl;
	eo.install = val_install;
	eo.install_ud = s;
	rs_forward_set_threads(s->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	v->ev = rs_alloc_eval_new(s->model, c, &v->src, ids, v->n_ids, &eo, job, cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rs_free(ids);
	if (v->ev == NULL)
		return rs_job_cancelled(job) ? RS_ECANCEL : RS_EINVAL;
	v->ctx = (int)ctx;
	v->chunks = rs_alloc_eval_windows(v->ev);
	v->dense_secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	return 0;
}

void
rs_allocrun_val_close(struct rs_alloc_val *v)
{
	rs_alloc_eval_free(v->ev);
	v->ev = NULL;
}

/* The session's allocation state, created on first use. */
static struct rs_alloc_state *
alloc_state(struct rs_session *s, char **cause)
{
	if (s->alloc == NULL && (s->alloc = rs_calloc(1, sizeof *s->alloc)) == NULL)
		rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	return s->alloc;
}

int
rs_allocrun_set_evaluator(struct rs_session *s, const struct rs_alloc_evaluator *evr,
    char **cause)
{
	struct rs_alloc_state *st;

	if ((st = alloc_state(s, cause)) == NULL)
		return RS_ENOMEM;
	if (evr != NULL)
		st->evaluator = *evr;
	else
		memset(&st->evaluator, 0, sizeof st->evaluator);
	return 0;
}

/* The distributed evaluator (allocrun.h): this rank's share of the round, then every
 * candidate's result on every rank.  Each result comes from one rank and the others add
 * zeros, so the rank-order sum (dist.h) carries it exactly; the last element counts the ranks
 * whose share failed. */
#define RES_VALS 5               /* numbers per result: nll, ppl, kl, low_ppl, low_kl */

static int
dist_evaluate(void *ud, struct rs_alloc_eval *ev, const int *ranks, int q,
    struct rs_alloc_eval_res *res, int *done, struct rs_job *job, char **cause)
{
	const struct rs_dist *d = ud;
	double *buf;
	char *why = NULL;
	int i, k, mine = 0, rc;

	*done = 0;
	if ((buf = rs_calloc(RES_VALS * (size_t)q + 1, sizeof *buf)) == NULL)
		d->abort(d->ctx, "out of memory for a round of evaluations");
	rc = rs_alloc_eval_subset(ev, ranks, q, d->rank, d->size, res, &mine, job, cause);
	for (i = d->rank, k = 0; i < q && k < mine; i += d->size, k++) {
		buf[RES_VALS * i] = res[i].nll;
		buf[RES_VALS * i + 1] = res[i].ppl;
		buf[RES_VALS * i + 2] = res[i].kl;
		buf[RES_VALS * i + 3] = res[i].low_ppl;
		buf[RES_VALS * i + 4] = res[i].low_kl;
	}
	buf[RES_VALS * q] = rc != 0;
	if (d->sum_f64(d->ctx, buf, RES_VALS * (size_t)q + 1, &why) != 0) {
		rs_free(buf);
		if (rc == 0)
			rc = rs_fail(cause, RS_EIO, "alloc: exchanging the results: %s",
			    why != NULL ? why : "?");
		rs_free(why);
		return rc;
	}
	if (buf[RES_VALS * q] > 0.0) {
		rs_free(buf);
		return rc != 0 ? rc : rs_fail(cause, RS_EIO, "alloc: %.0f other rank%s failed to "
		    "evaluate their candidates", buf[RES_VALS * q], buf[RES_VALS * q] > 1.0 ? "s" : "");
	}
	for (i = 0; i < q; i++) {
		res[i].nll = buf[RES_VALS * i];
		res[i].ppl = buf[RES_VALS * i + 1];
		res[i].kl = buf[RES_VALS * i + 2];
		res[i].low_ppl = buf[RES_VALS * i + 3];
		res[i].low_kl = buf[RES_VALS * i + 4];
	}
	*done = q;
	rs_free(buf);
	return 0;
}

int
rs_allocrun_set_dist(struct rs_session *s, const struct rs_dist *d, char **cause)
{
	struct rs_alloc_evaluator evr;

	if (d == NULL || d->size < 2)
		return rs_allocrun_set_evaluator(s, NULL, cause);
	memset(&evr, 0, sizeof evr);
	evr.evaluate = dist_evaluate;
	evr.ud = (void *)(uintptr_t)d;
	evr.batch = d->size;
	return rs_allocrun_set_evaluator(s, &evr, cause);
}

const struct rs_alloc_evaluator *
rs_allocrun_evaluator(const struct rs_session *s)
{
	if (s->alloc == NULL || s->alloc->evaluator.evaluate == NULL)
		return NULL;
	return &s->alloc->evaluator;
}

int
rs_allocrun_probes(struct rs_alloc_env *e, struct rs_alloc_val *v, const double *ratios,
    int nr, const char *rl, int recompute, void (*note)(void *, const char *), void *ud,
    const struct rs_sens **out, int *probed, struct rs_job *job, char **cause)
{
	struct rs_session *s = e->s;
	struct rs_alloc_state *st;
	struct rs_sens *ns = NULL;
	char *key, line[256];
	int i, need = 0, rc;

	*out = NULL;
	*probed = 0;
	if ((st = alloc_state(s, cause)) == NULL)
		return RS_ENOMEM;
	key = rs_strdupf("sens-v1 model=%016" PRIx64 " method=%s alpha=%g calib=%s "
	    "text=%016" PRIx64 " ctx=%d chunks=%d align=%d ratios=%s",
	    rs_model_identity(s->model), rs_method_name((enum rs_method)s->method),
	    s->asvd_alpha, v->calib_id, v->text_hash, v->ctx, v->chunks, rs_plan_align(e->p), rl);
	if (key == NULL)
		return rs_fail(cause, RS_ENOMEM, "alloc: out of memory");
	if (st->sens != NULL && st->sens_key != NULL && strcmp(st->sens_key, key) == 0 &&
	    !recompute) {
		rs_free(key);
		*out = st->sens;
		return 0;
	}
	for (i = 0; i < e->n; i++)
		need += e->elig[i] ? nr : 0;
	if (note != NULL) {
		snprintf(line, sizeof line, "alloc sensitivity: probing %d matrices at keep %s: %d "
		    "evaluations of %d windows", need / nr, rl, need, v->chunks);
		note(ud, line);
	}
	/* probe every matrix so a later --types subset reuses the probes */
	if ((rc = rs_alloc_sens_probe(v->ev, e->p, NULL, ratios, nr, rs_allocrun_evaluator(s),
	    &ns, job, cause)) != 0) {
		rs_free(key);
		return rc;
	}
	rs_sens_free(st->sens);
	rs_free(st->sens_key);
	st->sens = ns;
	st->sens_key = key;
	*out = ns;
	*probed = 1;
	return 0;
}

int
rs_allocrun_bo_hist(struct rs_session *s, const char *config, uint64_t *seed, int seed_given,
    int resume, const char *hist_file, int d, struct rs_bo_hist **out, char **cause)
{
	struct rs_alloc_state *st;
	struct rs_bo_hist *src, *loaded = NULL;
	int rc;

	*out = NULL;
	if ((st = alloc_state(s, cause)) == NULL)
		return RS_ENOMEM;
	if (!resume)
		return (*out = rs_bo_hist_new(config, *seed, d, cause)) != NULL ? 0 : RS_ENOMEM;
	if (hist_file != NULL) {
		if ((rc = rs_bo_hist_load(hist_file, &loaded, cause)) != 0)
			return rc;
		src = loaded;
	} else if ((src = st->hist) == NULL) {
		return rs_fail(cause, RS_EINVAL, "alloc bo --resume: no run in this session (give "
		    "--history FILE)");
	}
	if (strcmp(src->config, config) != 0) {
		rc = rs_fail(cause, RS_EINVAL, "alloc bo: cannot resume: the saved run was made "
		    "with other settings: saved '%s', now '%s'", src->config, config);
		rs_bo_hist_free(loaded);
		return rc;
	}
	if (seed_given && *seed != src->seed) {
		rc = rs_fail(cause, RS_EINVAL, "alloc bo: cannot resume with --seed %llu: the run "
		    "used seed %llu", (unsigned long long)*seed, (unsigned long long)src->seed);
		rs_bo_hist_free(loaded);
		return rc;
	}
	*seed = src->seed;
	if (src == loaded) {
		*out = loaded;
	} else {
		*out = st->hist;
		st->hist = NULL;
	}
	return 0;
}

int
rs_allocrun_bo_keep(struct rs_session *s, struct rs_bo_hist *h, char **cause)
{
	struct rs_alloc_state *st;

	if ((st = alloc_state(s, cause)) == NULL) {
		rs_bo_hist_free(h);
		return RS_ENOMEM;
	}
	rs_bo_hist_free(st->hist);
	st->hist = h;
	return 0;
}

struct rs_bo_hist *
rs_allocrun_bo_last(struct rs_session *s)
{
	return s->alloc != NULL ? s->alloc->hist : NULL;
}
