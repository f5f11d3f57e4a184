/* ppl.h: perplexity of a model over a token array, by one of two named protocols
 * (docs/methods.md section 5).
 *
 *   RS_PPL_CHUNKED ("chunked"): non-overlapping windows of ctx tokens from the start, the final
 *       partial window dropped; every token but the first of each window is scored
 *       (ctx - 1 per window).
 *   RS_PPL_LLAMACPP ("llama.cpp"): windows of ctx tokens, the first token of each replaced by BOS;
 *       positions ctx/2 .. ctx-2 predict the next token and are scored (ctx/2 - 1 per window).
 *
 * ppl = exp(mean NLL); error = ppl * sqrt((mean(NLL^2) - mean(NLL)^2) / (count - 1)), the
 * standard error of the mean token NLL carried through exp (as llama.cpp's perplexity tool prints
 * "Final estimate: PPL = x +/- y").  NLLs are accumulated in double. */
#ifndef RS_PPL_H
#define RS_PPL_H

#include <stddef.h>
#include <stdint.h>

#include "forward.h"
#include "status.h"

struct rs_dist;

enum rs_ppl_protocol { RS_PPL_CHUNKED, RS_PPL_LLAMACPP };

struct rs_ppl_opts {
	enum rs_ppl_protocol protocol;
	int ctx;		/* window length (>= 2; llama.cpp: >= 4) */
	int max_chunks;		/* 0: all whole windows */
	int bos;		/* llama.cpp protocol's BOS id; < 0: the model's */
	/* After each window: its index (0-based), the window count, the running perplexity. */
	void (*on_chunk)(void *ud, int chunk, int n_chunks, double running_ppl);
	/* Optional: the logits of every position of each window (ctx x vocab, row-major) and the
	 * window's tokens as evaluated (BOS substituted); non-zero return stops with that status.
	 * Setting it makes every position's logits computed. */
	int (*on_logits)(void *ud, int chunk, const int32_t *tokens, int n_tok, const float *logits,
	    int vocab);
	void *ud;
	/* NULL or one process; else each rank scores a contiguous block of windows (cut at the
	 * forward batches a single process uses, so every logit has the same bits), the per-token
	 * NLLs are gathered in window order and every rank sums them as one process does: the
	 * same estimate and ± to the last bit.  on_chunk runs on every rank after the gather;
	 * on_logits on the rank that scores the window. */
	const struct rs_dist *dist;
};

struct rs_ppl_result {
	double ppl;		/* exp(mean NLL) */
	double error;		/* standard error carried through exp */
	double mean_nll;
	int64_t n_scored;	/* tokens scored */
	int n_chunks;		/* windows evaluated */
};

/* Rows (windows × ctx) a `ppl` forward call aims at: several short windows per call. */
#define RS_PPL_ROWS_TARGET 512

/* Bytes rs_ppl_run allocates beside the forward state for `batch` windows of ctx tokens of
 * model m: the windows' ids and every position's logits (the most it computes). */
uint64_t rs_ppl_state_bytes(const struct rs_model *m, int ctx, int batch);

/* The protocol's name: "chunked" or "llama.cpp". */
const char *rs_ppl_protocol_name(enum rs_ppl_protocol p);

/* Evaluate with the forward pass f (its overrides apply).  f must hold windows of o->ctx tokens
 * (several windows per call when its rows allow).  RS_EINVAL when the text has no whole window
 * or ctx does not fit f; RS_ECANCEL when cancelled (the job's progress reports windows done). */
int rs_ppl_run(struct rs_forward *f, const int32_t *tokens, size_t n_tokens,
    const struct rs_ppl_opts *o, struct rs_ppl_result *res, struct rs_job *job, char **cause);

/* Distributed evaluation: the windows [*first, *end) of n that rank r of size takes, a block
 * starting at a multiple of batch (the windows per forward call of one process) nearest to an
 * equal share, so that each rank's forward calls hold the rows one process's would. */
void rs_ppl_block(int n, int batch, int r, int size, int *first, int *end);

/* -log softmax(logits)[target] over n logits, computed in double around the maximum. */
double rs_ppl_nll(const float *logits, int n, int target);

#endif
