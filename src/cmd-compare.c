/* cmd-compare.c: the dense model against the current plan on one text: perplexity of both,
 * KL divergence of the next-token distributions, top-1 agreement. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cmd.h"
#include "dist.h"
#include "compress.h"
#include "engine.h"
#include "evaltext.h"
#include "forward.h"
#include "model.h"
#include "plan.h"
#include "ppl.h"
#include "session.h"
#include "tokenizer.h"

/* Rows per forward call, as `ppl` uses, so the dense numbers are ppl's to the last digit. */
#define COMPARE_ROWS_TARGET 512

static const struct rs_opt cmd_compare_opts[] = {
	RS_EVALTEXT_OPTS,
	{ NULL, NULL, NULL }
};

/* Running sums of one model's token NLLs. */
struct nll_sum {
	double s, s2;
};

/* Print a note from the factor computation. */
static void
compare_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_infof(ctx->out, "%s\n", line);
}

/* log Σ exp(l) and the argmax of n logits. */
static double
lse_argmax(const float *l, int n, int *arg)
{
	double mx = l[0], sum = 0;
	int i, a = 0;

	for (i = 1; i < n; i++)
		if (l[i] > mx) {
			mx = l[i];
			a = i;
		}
	for (i = 0; i < n; i++)
		sum += exp((double)l[i] - mx);
	*arg = a;
	return mx + log(sum);
}

/* KL(P || Q) in nats for logits p, q with their log-normalizers. */
static double
kl_div(const float *p, double lp, const float *q, double lq, int n)
{
	double kl = 0;
	int i;

	for (i = 0; i < n; i++) {
		double a = (double)p[i] - lp, b = (double)q[i] - lq;
		kl += exp(a) * (a - b);
	}
	return kl > 0 ? kl : 0;
}

/* One scored position: the dense and compressed NLLs, their KL divergence, whether the top-1
 * tokens agree (distributed, the ranks exchange these in window order). */
struct position {
	double a, b, k, agree;
};

/* The sums over positions, in position order. */
struct compare_sums {
	struct nll_sum nd, nc;
	double kl, klmax;
	int64_t count, agree;
};

/* Add one position to the sums. */
static void
compare_add(struct compare_sums *cs, const struct position *q)
{
	cs->nd.s += q->a;
	cs->nd.s2 += q->a * q->a;
	cs->nc.s += q->b;
	cs->nc.s2 += q->b * q->b;
	cs->kl += q->k;
	if (q->k > cs->klmax)
		cs->klmax = q->k;
	cs->agree += q->agree != 0.0;
	cs->count++;
}

/* Distributed: every rank's status and positions to every rank, added in window order (the
 * sums one process makes, bit for bit).  mine[0] is this rank's status. */
static int
compare_exchange(const struct rs_dist *d, double *mine, size_t n_mine, struct compare_sums *cs,
    char **cause)
{
	double *all = NULL;
	size_t all_len = 0, *lens, k, i;
	char *gcause = NULL;
	int r, rc = (int)mine[0];

	if ((lens = rs_calloc((size_t)d->size, sizeof *lens)) == NULL)
		d->abort(d->ctx, "compare: out of memory");
	if (rs_dist_allgather(d, mine, n_mine * sizeof *mine, (void **)&all, &all_len, lens,
	    &gcause) != 0)
		d->abort(d->ctx, gcause != NULL ? gcause : "compare: gather failed");
	for (k = 0, r = 0; r < d->size; r++) {
		size_t n = lens[r] / sizeof *all;
		if (all[k] != 0.0 && rc == 0)
			rc = rs_fail(cause, RS_EIO, "compare: rank %d failed (its error is above)", r);
		for (i = 1; rc == 0 && i + 4 <= n; i += 4) {
			struct position q = { all[k + i], all[k + i + 1], all[k + i + 2],
			    all[k + i + 3] };
			compare_add(cs, &q);
		}
		k += n;
	}
	rs_free(gcause);
	rs_free(all);
	rs_free(lens);
	return rc;
}

/* exp(mean) and its standard error carried through exp, as ppl.h defines them. */
static void
ppl_of(const struct nll_sum *n, int64_t count, double *ppl, double *err)
{
	double mean = n->s / (double)count, var = n->s2 / (double)count - mean * mean;

	*ppl = exp(mean);
	*err = var > 0 && count > 1 ? *ppl * sqrt(var / (double)(count - 1)) : 0.0;
}

static int
cmd_compare_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	struct rs_evaltext ev;
	struct rs_engine_pass dense_pass, plan_pass;
	struct compare_sums cs;
	const struct rs_dist *d = rs_dist_active(s->dist) ? s->dist : NULL;
	double *mine = NULL;
	size_t n_mine = 1;
	int w0 = 0, w1;
	struct timespec t0, t1;
	int32_t *ids = NULL, *win = NULL, bos;
	float *ld = NULL, *lc = NULL;
	size_t n_ids = 0;
	char desc[512];
	long ctxlen;
	int llama, rc, rows, windows, batch, first, per, done, nb, w, p, vocab = mc->vocab;
	double pd, ed, pc, ec;

	memset(&cs, 0, sizeof cs);
	memset(&dense_pass, 0, sizeof dense_pass);
	memset(&plan_pass, 0, sizeof plan_pass);
	if (!rs_engine_modified(s))
		return rs_fail(&ctx->cause, RS_EINVAL, "compare: nothing to compare: the plan is "
		               "all dense and no plugin replaced a matrix: set ranks first ('rank * "
		               "--keep 0.8', 'plan load FILE')");
	bos = rs_tokenizer_bos(s->tok);
	if (bos < 0)
		bos = mc->bos_id;
	if ((rc = rs_evaltext_open(ctx, args, "compare", &ev)) != 0)
		return rc;
	llama = ev.protocol == RS_PPL_LLAMACPP;
	if (llama && (bos < 0 || bos >= vocab)) {
		rs_free(ev.ids);
		return rs_fail(&ctx->cause, RS_EINVAL, "compare: the llama.cpp protocol needs a BOS id");
	}
	ids = ev.ids;
	n_ids = ev.n_ids;
	ctxlen = ev.ctx;
	windows = ev.windows;
	rows = rs_evaltext_rows(&ev, COMPARE_ROWS_TARGET);
	batch = rows / (int)ctxlen;
	if (batch > windows)
		batch = windows;
	first = llama ? (int)ctxlen / 2 : 0;
	per = (int)ctxlen - first;
	rs_engine_desc(s, desc, sizeof desc);
	rs_out_printf(ctx->out, "compare: the dense model against %s\n", desc);
	rs_engine_print_budget(s, ctx->out, "compare");
	if ((rc = rs_engine_open(s, rows, (int)ctxlen, 1, NULL, NULL, NULL, &dense_pass, ctx->job,
	                         &ctx->cause)) != 0 ||
	    (rc = rs_engine_open(s, rows, (int)ctxlen, 0, compare_note, ctx, ctx->out, &plan_pass,
	                         ctx->job, &ctx->cause)) != 0)
		goto out;
	win = rs_mallocarray((size_t)batch * (size_t)ctxlen, sizeof *win);
	ld = rs_mallocarray((size_t)batch * (size_t)per, (size_t)vocab * sizeof *ld);
	lc = rs_mallocarray((size_t)batch * (size_t)per, (size_t)vocab * sizeof *lc);
	if (win == NULL || ld == NULL || lc == NULL) {
		if (d != NULL)
			/* the others would wait for this rank's positions */
			d->abort(d->ctx, "compare: out of memory for the logits");
		rc = rs_fail(&ctx->cause, RS_ENOMEM, "compare: out of memory for %d windows of logits",
		             batch);
		goto out;
	}
	rs_out_printf(ctx->out, "compare: protocol %s, window %ld tokens, %d windows, %lld tokens "
	              "scored (text %zu tokens with BOS), %d threads\n", llama ? "llama.cpp" :
	              "chunked", ctxlen, windows, (long long)windows * (ctxlen - 1 - first), n_ids,
	              s->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	w1 = windows;
	if (d != NULL) {
		/* this rank's windows, cut where one process's forward calls are (ppl.h) */
		rs_ppl_block(windows, batch, d->rank, d->size, &w0, &w1);
		if ((mine = rs_calloc(1 + 4 * (size_t)(w1 - w0) * (size_t)(ctxlen - 1 - first),
		    sizeof *mine)) == NULL)
			d->abort(d->ctx, "compare: out of memory");
	}
	for (done = w0; done < w1; done += nb) {
		nb = w1 - done < batch ? w1 - done : batch;
		rs_dist_stepf(d, "compare, windows %d-%d of %d", done, done + nb - 1, windows);
		memcpy(win, ids + (size_t)done * (size_t)ctxlen, (size_t)nb * (size_t)ctxlen *
		       sizeof *win);
		if (llama)
			for (w = 0; w < nb; w++)
				win[(size_t)w * (size_t)ctxlen] = bos;
		if ((rc = rs_forward_run(dense_pass.f, win, nb, (int)ctxlen, first, ld, ctx->job,
		                         &ctx->cause)) != 0 ||
		    (rc = rs_forward_run(plan_pass.f, win, nb, (int)ctxlen, first, lc, ctx->job,
		                         &ctx->cause)) != 0) {
			if (d == NULL)
				goto out;
			break;
		}
		for (w = 0; w < nb; w++)
			for (p = first; p < ctxlen - 1; p++) {
				size_t at = ((size_t)w * (size_t)per + (size_t)(p - first)) * (size_t)vocab;
				int32_t next = win[(size_t)w * (size_t)ctxlen + (size_t)p + 1];
				int ad, ac;
				double zd = lse_argmax(ld + at, vocab, &ad);
				double zc = lse_argmax(lc + at, vocab, &ac);
				struct position q;

				q.a = zd - (double)ld[at + (size_t)next];
				q.b = zc - (double)lc[at + (size_t)next];
				q.k = kl_div(ld + at, zd, lc + at, zc, vocab);
				q.agree = ad == ac;
				if (d == NULL) {
					compare_add(&cs, &q);
				} else {
					memcpy(mine + n_mine, &q, sizeof q);
					n_mine += 4;
				}
			}
		rs_job_progress(ctx->job, done + nb - w0, w1 - w0, "compare");
	}
	if (d != NULL) {
		mine[0] = rc;
		if ((rc = compare_exchange(d, mine, n_mine, &cs, &ctx->cause)) != 0)
			goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ppl_of(&cs.nd, cs.count, &pd, &ed);
	ppl_of(&cs.nc, cs.count, &pc, &ec);
	rs_out_printf(ctx->out, "dense:      PPL = %.4f +/- %.5f\n", pd, ed);
	rs_out_printf(ctx->out, "compressed: PPL = %.4f +/- %.5f (x%.4f of dense)\n", pc, ec,
	              pc / pd);
	rs_out_printf(ctx->out, "KL(dense || compressed): mean %.6f nats per token (max %.4f)\n",
	              cs.kl / (double)cs.count, cs.klmax);
	rs_out_printf(ctx->out, "top-1 agreement: %.2f%% (%lld of %lld positions)\n",
	              100.0 * (double)cs.agree / (double)cs.count, (long long)cs.agree,
	              (long long)cs.count);
	rs_out_infof(ctx->out, "compare: %lld positions in %d windows, %.2f s\n",
	             (long long)cs.count,
	             windows, (double)(t1.tv_sec - t0.tv_sec) +
	             1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	rc = 0;
out:
	rs_engine_close(&dense_pass);
	rs_engine_close(&plan_pass);
	rs_free(ids);
	rs_free(win);
	rs_free(ld);
	rs_free(lc);
	rs_free(mine);
	return rc;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_compare_forms[] = {
	{ NULL, "FILE" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_compare_entry = {
	.name = "compare",
	.alias = NULL,
	.usage = "FILE [--protocol chunked|llama.cpp] [--ctx N] [--chunks N]",
	.summary = "dense vs compressed: perplexity, KL divergence, top-1 agreement",
	.help = "Runs the dense model and the model as 'ppl' evaluates it (factored matrices as "
	        "two products with the current method's factors, matrices a plugin replaced as its "
	        "replacements) over the same windows of FILE, with the protocol "
	        "and options of 'ppl', and prints both perplexities, the mean KL divergence "
	        "KL(dense || compressed) of the next-token distributions over the scored positions "
	        "(nats per token, and the largest), and the share of positions where both predict "
	        "the same most likely token.",
	.opts = cmd_compare_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER | RS_CMD_JOB,
	.exec = cmd_compare_exec,
	.forms = cmd_compare_forms,
};
