/* cmd-compare.c: the dense model against the current plan on one text: perplexity of both,
 * KL divergence of the next-token distributions, top-1 agreement. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cmd.h"
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
	struct nll_sum nd = { 0, 0 }, nc = { 0, 0 };
	struct timespec t0, t1;
	int32_t *ids = NULL, *win = NULL, bos;
	float *ld = NULL, *lc = NULL;
	size_t n_ids = 0;
	char desc[512];
	long ctxlen;
	int llama, rc, rows, windows, batch, first, per, done, nb, w, p, vocab = mc->vocab;
	int64_t count = 0, agree = 0;
	double kl = 0, klmax = 0, pd, ed, pc, ec;

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
		rc = rs_fail(&ctx->cause, RS_ENOMEM, "compare: out of memory for %d windows of logits",
		             batch);
		goto out;
	}
	rs_out_printf(ctx->out, "compare: protocol %s, window %ld tokens, %d windows, %lld tokens "
	              "scored (text %zu tokens with BOS), %d threads\n", llama ? "llama.cpp" :
	              "chunked", ctxlen, windows, (long long)windows * (ctxlen - 1 - first), n_ids,
	              s->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (done = 0; done < windows; done += nb) {
		nb = windows - done < batch ? windows - done : batch;
		memcpy(win, ids + (size_t)done * (size_t)ctxlen, (size_t)nb * (size_t)ctxlen *
		       sizeof *win);
		if (llama)
			for (w = 0; w < nb; w++)
				win[(size_t)w * (size_t)ctxlen] = bos;
		if ((rc = rs_forward_run(dense_pass.f, win, nb, (int)ctxlen, first, ld, ctx->job,
		                         &ctx->cause)) != 0 ||
		    (rc = rs_forward_run(plan_pass.f, win, nb, (int)ctxlen, first, lc, ctx->job,
		                         &ctx->cause)) != 0)
			goto out;
		for (w = 0; w < nb; w++)
			for (p = first; p < ctxlen - 1; p++) {
				size_t at = ((size_t)w * (size_t)per + (size_t)(p - first)) * (size_t)vocab;
				int32_t next = win[(size_t)w * (size_t)ctxlen + (size_t)p + 1];
				int ad, ac;
				double zd = lse_argmax(ld + at, vocab, &ad);
				double zc = lse_argmax(lc + at, vocab, &ac);
				double a = zd - (double)ld[at + (size_t)next];
				double b = zc - (double)lc[at + (size_t)next];
				double k = kl_div(ld + at, zd, lc + at, zc, vocab);

				nd.s += a;
				nd.s2 += a * a;
				nc.s += b;
				nc.s2 += b * b;
				kl += k;
				if (k > klmax)
					klmax = k;
				agree += ad == ac;
				count++;
			}
		rs_job_progress(ctx->job, done + nb, windows, "compare");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ppl_of(&nd, count, &pd, &ed);
	ppl_of(&nc, count, &pc, &ec);
	rs_out_printf(ctx->out, "dense:      PPL = %.4f +/- %.5f\n", pd, ed);
	rs_out_printf(ctx->out, "compressed: PPL = %.4f +/- %.5f (x%.4f of dense)\n", pc, ec,
	              pc / pd);
	rs_out_printf(ctx->out, "KL(dense || compressed): mean %.6f nats per token (max %.4f)\n",
	              kl / (double)count, klmax);
	rs_out_printf(ctx->out, "top-1 agreement: %.2f%% (%lld of %lld positions)\n",
	              100.0 * (double)agree / (double)count, (long long)agree, (long long)count);
	rs_out_infof(ctx->out, "compare: %lld positions in %d windows, %.2f s\n", (long long)count,
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
	return rc;
}

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
};
