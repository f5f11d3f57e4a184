/* ppl.c: chunked and llama.cpp-protocol perplexity over a token array (see ppl.h). */
#include "config.h"

#include "ppl.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "dist.h"

/* A protocol's printed name. */
const char *
rs_ppl_protocol_name(enum rs_ppl_protocol p)
{
	return p == RS_PPL_LLAMACPP ? "llama.cpp" : "chunked";
}

/* Negative log-softmax of the target, around the maximum, summed in double. */
double
rs_ppl_nll(const float *logits, int n, int target)
{
	float mx = logits[0];
	double sum = 0;
	int i;

	for (i = 1; i < n; i++)
		if (logits[i] > mx)
			mx = logits[i];
	/* each term in float (exact to an ulp, in [0, 1]), the sum in double */
	for (i = 0; i < n; i++)
		sum += expf(logits[i] - mx);
	return (double)mx + log(sum) - logits[target];
}

/* Running perplexity from the sums. */
static double
running_ppl(double nll, int64_t count)
{
	return count > 0 ? exp(nll / (double)count) : 0.0;
}

/* The final estimate from the sums of the token NLLs and their squares (one process and the
 * distributed path finish the same way). */
static void
finish_estimate(struct rs_ppl_result *res, double nll, double nll2, int64_t count,
    int n_chunks)
{
	double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;

	res->mean_nll = mean;
	res->ppl = exp(mean);
	res->error = var > 0 && count > 1 ? res->ppl * sqrt(var / (double)(count - 1)) : 0.0;
	res->n_scored = count;
	res->n_chunks = n_chunks;
}

/* The windows rank r of size scores: a block of the n windows starting at a multiple of the
 * batch, the nearest to an equal share (see ppl.h). */
void
rs_ppl_block(int n, int batch, int r, int size, int *first, int *end)
{
	int k, b[2];

	for (k = 0; k < 2; k++) {
		int64_t at = ((int64_t)n * (r + k) + size / 2) / size;
		at = (at + batch / 2) / batch * batch;
		b[k] = r + k == size || at > n ? n : (int)at;
	}
	*first = b[0];
	*end = b[1];
}

/* Distributed perplexity (see ppl.h): this rank's windows' NLLs, then every rank's in window
 * order, summed as rs_ppl_run does. */
static int
ppl_run_dist(struct rs_forward *f, const int32_t *tokens, const struct rs_ppl_opts *o,
    int n_chunks, int batch, int first_score, int first_logit, int32_t bos,
    struct rs_ppl_result *res, struct rs_job *job, char **cause)
{
	const struct rs_dist *d = o->dist;
	const struct rs_model *m = rs_forward_model(f);
	int ctx = o->ctx, vocab = rs_model_config(m)->vocab, per = ctx - first_logit;
	int scored = ctx - 1 - first_score, w0, w1, done, nb, s, p, st = 0, r;
	int32_t *win = NULL;
	float *logits = NULL;
	double *mine = NULL, *all = NULL, nll = 0, nll2 = 0;
	size_t mine_len, all_len = 0, k = 0;
	int64_t count = 0;
	char *gcause = NULL;

	memset(res, 0, sizeof *res);
	rs_ppl_block(n_chunks, batch, d->rank, d->size, &w0, &w1);
	/* [0]: this rank's status; then its windows' NLLs */
	mine_len = 1 + (size_t)(w1 - w0) * (size_t)scored;
	if ((mine = rs_calloc(mine_len, sizeof *mine)) == NULL ||
	    (win = rs_mallocarray((size_t)batch * ctx, sizeof *win)) == NULL ||
	    (logits = rs_mallocarray((size_t)batch * per, (size_t)vocab * sizeof *logits)) == NULL)
		st = rs_fail(cause, RS_ENOMEM, "%s: out of memory for %d windows of logits",
		    rs_model_path(m), batch);
	for (done = w0; st == 0 && done < w1; done += nb) {
		nb = w1 - done < batch ? w1 - done : batch;
		rs_dist_stepf(d, "ppl, windows %d-%d of %d", done, done + nb - 1, n_chunks);
		memcpy(win, tokens + (size_t)done * ctx, (size_t)nb * ctx * sizeof *win);
		if (o->protocol == RS_PPL_LLAMACPP)
			for (s = 0; s < nb; s++)
				win[(size_t)s * ctx] = bos;
		if ((st = rs_forward_run(f, win, nb, ctx, first_logit, logits, job, cause)) != 0)
			break;
		for (s = 0; s < nb; s++) {
			const float *lw = logits + (size_t)s * per * vocab;
			if (o->on_logits != NULL && (st = o->on_logits(o->ud, done + s,
			    win + (size_t)s * ctx, ctx, lw, vocab)) != 0) {
				rs_fail(cause, st, "%s: perplexity stopped by the logits callback",
				    rs_model_path(m));
				break;
			}
			for (p = first_score; p < ctx - 1; p++)
				mine[1 + k++] = rs_ppl_nll(lw + (size_t)(p - first_logit) * vocab, vocab,
				    win[(size_t)s * ctx + p + 1]);
		}
		rs_job_progress(job, done + nb - w0, w1 - w0, "perplexity");
	}
	if (mine == NULL)
		/* the others would wait in the gather for this rank's block */
		d->abort(d->ctx, "ppl: out of memory");
	mine[0] = st;
	if (rs_dist_allgather(d, mine, mine_len * sizeof *mine, (void **)&all, &all_len, NULL,
	    &gcause) != 0)
		d->abort(d->ctx, gcause != NULL ? gcause : "ppl: gather failed");
	/* every rank's block: its status, then its NLLs, in window order */
	for (k = 0, r = 0; st == 0 && r < d->size; r++) {
		int b0, b1, w;
		rs_ppl_block(n_chunks, batch, r, d->size, &b0, &b1);
		if (all[k] != 0.0) {
			st = rs_fail(cause, RS_EIO, "ppl: rank %d failed (its error is above)", r);
			break;
		}
		k++;
		for (w = b0; w < b1; w++) {
			for (p = 0; p < scored; p++) {
				double v = all[k++];
				nll += v;
				nll2 += v * v;
				count++;
			}
			if (o->on_chunk != NULL)
				o->on_chunk(o->ud, w, n_chunks, running_ppl(nll, count));
		}
	}
	if (st == 0) {
		finish_estimate(res, nll, nll2, count, n_chunks);
	}
	rs_free(gcause);
	rs_free(all);
	rs_free(mine);
	rs_free(win);
	rs_free(logits);
	return st;
}

/* Perplexity of a token array by the chosen protocol. */
int
rs_ppl_run(struct rs_forward *f, const int32_t *tokens, size_t n_tokens,
    const struct rs_ppl_opts *o, struct rs_ppl_result *res, struct rs_job *job, char **cause)
{
	const struct rs_model *m = rs_forward_model(f);
	const struct rs_model_config *c = rs_model_config(m);
	int ctx = o->ctx, vocab = c->vocab, llama = o->protocol == RS_PPL_LLAMACPP;
	int first_score, first_logit, per, batch, n_chunks, done, nb, s, p, st = 0;
	int32_t *win = NULL, bos;
	float *logits = NULL;
	double nll = 0, nll2 = 0;
	int64_t count = 0;
	size_t avail;

	memset(res, 0, sizeof *res);
	if (ctx < (llama ? 4 : 2) || ctx > rs_forward_max_tok(f))
		return rs_fail(cause, RS_EINVAL, "%s: perplexity window %d does not fit the forward "
		    "pass (2..%d; llama.cpp protocol: at least 4)", rs_model_path(m), ctx,
		    rs_forward_max_tok(f));
	avail = n_tokens / (size_t)ctx;
	if (avail == 0)
		return rs_fail(cause, RS_EINVAL, "%s: %zu tokens make no whole window of %d",
		    rs_model_path(m), n_tokens, ctx);
	n_chunks = avail > (size_t)INT32_MAX ? INT32_MAX : (int)avail;
	if (o->max_chunks > 0 && o->max_chunks < n_chunks)
		n_chunks = o->max_chunks;
	bos = o->bos >= 0 ? o->bos : c->bos_id;
	if (llama && (bos < 0 || bos >= vocab))
		return rs_fail(cause, RS_EINVAL, "%s: the llama.cpp protocol needs a BOS id (model has "
		    "none)", rs_model_path(m));

	/* positions [first_score, ctx-2] predict tokens [first_score+1, ctx-1] of the window */
	first_score = llama ? ctx / 2 : 0;
	first_logit = o->on_logits != NULL ? 0 : first_score;
	per = ctx - first_logit;
	batch = rs_forward_max_rows(f) / ctx;
	if (batch > n_chunks)
		batch = n_chunks;
	if (rs_dist_active(o->dist))
		return ppl_run_dist(f, tokens, o, n_chunks, batch, first_score, first_logit, bos,
		    res, job, cause);
	if ((win = rs_mallocarray((size_t)batch * ctx, sizeof *win)) == NULL ||
	    (logits = rs_mallocarray((size_t)batch * per, (size_t)vocab * sizeof *logits)) == NULL) {
		rs_free(win);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory for %d windows of logits",
		    rs_model_path(m), batch);
	}
	for (done = 0; done < n_chunks; done += nb) {
		nb = n_chunks - done < batch ? n_chunks - done : batch;
		memcpy(win, tokens + (size_t)done * ctx, (size_t)nb * ctx * sizeof *win);
		if (llama)
			for (s = 0; s < nb; s++)
				win[(size_t)s * ctx] = bos;
		if ((st = rs_forward_run(f, win, nb, ctx, first_logit, logits, job, cause)) != 0)
			goto out;
		for (s = 0; s < nb; s++) {
			const float *lw = logits + (size_t)s * per * vocab;

			if (o->on_logits != NULL && (st = o->on_logits(o->ud, done + s,
			    win + (size_t)s * ctx, ctx, lw, vocab)) != 0) {
				rs_fail(cause, st, "%s: perplexity stopped by the logits callback",
				    rs_model_path(m));
				goto out;
			}
			for (p = first_score; p < ctx - 1; p++) {
				double v = rs_ppl_nll(lw + (size_t)(p - first_logit) * vocab, vocab,
				    win[(size_t)s * ctx + p + 1]);
				nll += v;
				nll2 += v * v;
				count++;
			}
			if (o->on_chunk != NULL)
				o->on_chunk(o->ud, done + s, n_chunks, running_ppl(nll, count));
		}
		rs_job_progress(job, done + nb, n_chunks, "perplexity");
	}
	finish_estimate(res, nll, nll2, count, n_chunks);
out:
	rs_free(win);
	rs_free(logits);
	return st;
}

/* The windows' ids and logits rs_ppl_run holds (see ppl.h). */
uint64_t
rs_ppl_state_bytes(const struct rs_model *m, int ctx, int batch)
{
	uint64_t rows = (uint64_t)ctx * (uint64_t)batch;

	return rows * sizeof(int32_t) + rows * (uint64_t)rs_model_config(m)->vocab * sizeof(float);
}
