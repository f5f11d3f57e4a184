/* test-ppl.c: perplexity protocols against llama.cpp's llama-perplexity on stories260K
 * (fixtures README: 4.9693 +/- 0.02431 over 3070 chunks of 128, first chunk 3.5357, 256th
 * 4.0288; q8_0 over 256 chunks 4.0331). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "forward.h"
#include "model.h"
#include "ppl.h"
#include "status.h"
#include "tap.h"

#define NTOK 393019

struct chunks {
	int n;
	double first, at256, last;
	int n_chunks;
};

/* Record the running perplexity of chunks 1 and 256. */
static void
on_chunk(void *ud, int chunk, int n_chunks, double running)
{
	struct chunks *c = ud;

	c->n++;
	c->n_chunks = n_chunks;
	if (chunk == 0)
		c->first = running;
	if (chunk == 255)
		c->at256 = running;
	c->last = running;
}

struct logitcheck {
	int calls, bos_first;
	int n_tok;
};

/* The logits callback sees every window with BOS first (llama.cpp protocol). */
static int
on_logits(void *ud, int chunk, const int32_t *tokens, int n_tok, const float *logits, int vocab)
{
	struct logitcheck *l = ud;

	l->calls++;
	l->bos_first += tokens[0] == 1;
	l->n_tok = n_tok;
	return isfinite(logits[(size_t)(n_tok - 1) * vocab]) ? 0 : RS_EFORMAT;
}

/* Stop after the first window. */
static int
stop_logits(void *ud, int chunk, const int32_t *tokens, int n_tok, const float *logits,
    int vocab)
{
	return RS_ECANCEL;
}


/* llama.cpp protocol, n_ctx 128, on the stories token stream through one model file. */
static void
run(const char *root, const char *rel, const int32_t *ids, size_t n, int max_chunks,
    double want, double tol, double want_err, struct chunks *ch)
{
	char path[600], *cause = NULL;
	struct rs_model *m;
	struct rs_forward *f = NULL;
	struct rs_ppl_opts o;
	struct rs_ppl_result r;
	double t0;
	int st;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((m = rs_model_open(path, &cause)) == NULL ||
	    (f = rs_forward_new(m, 1024, 128, &cause)) == NULL) {
		tap_ok(0, "open %s: %s", rel, cause);
		rs_model_close(m);
		rs_free(cause);
		return;
	}
	memset(&o, 0, sizeof o);
	memset(ch, 0, sizeof *ch);
	o.protocol = RS_PPL_LLAMACPP;
	o.ctx = 128;
	o.max_chunks = max_chunks;
	o.bos = -1;
	o.on_chunk = on_chunk;
	o.ud = ch;
	t0 = tap_now();
	st = rs_ppl_run(f, ids, n, &o, &r, NULL, &cause);
	tap_ok(st == 0 && tap_close(r.ppl, want, tol) && r.n_chunks == ch->n,
	    "%s: llama.cpp protocol, %d chunks: PPL = %.4f +/- %.5f, want %.4f within %g %% "
	    "(%.2f s)", rel, r.n_chunks, r.ppl, r.error, want, tol * 100, tap_now() - t0);
	if (want_err > 0)
		tap_ok(tap_close(r.error, want_err, 0.01) && r.n_scored == 193410 &&
		    r.n_chunks == 3070, "%s: error %.5f (want %.5f), %lld scored, %d chunks", rel,
		    r.error, want_err, (long long)r.n_scored, r.n_chunks);
	rs_free(cause);
	rs_forward_free(f);
	rs_model_close(m);
}

int
main(void)
{
	char tok[512], bin[512], path[600], *cause = NULL;
	const char *root;
	int32_t *ids;
	size_t n = 0;
	FILE *fp;
	int v, st;
	struct chunks ch;
	struct rs_model *m;
	struct rs_forward *f;
	struct rs_ppl_opts o;
	struct rs_ppl_result r, r2;
	struct logitcheck lc;
	struct rs_job job;

	tap_fixture(tok, sizeof tok, "texts/tinystories_val.stories260K.tokens.txt");
	tap_fixture(bin, sizeof bin, "stories260K/stories260K.bin");
	root = getenv("RS_FIXTURES");
	if (root == NULL)
		root = "../shared/fixtures";
	ids = malloc(NTOK * sizeof *ids);
	if ((fp = fopen(tok, "r")) == NULL)
		return 1;
	while (n < NTOK && fscanf(fp, "%d", &v) == 1)
		ids[n++] = v;
	fclose(fp);
	tap_ok(n == NTOK && ids[0] == 1, "read %zu token ids, BOS first", n);

	/* the full run on the llama2.c checkpoint */
	run(root, "stories260K/stories260K.bin", ids, n, 0, 4.9693, 1e-3, 0.02431, &ch);
	tap_ok(tap_close(ch.first, 3.5357, 1e-3) && tap_close(ch.at256, 4.0288, 1e-3) &&
	    ch.n == 3070, "running values: [1]%.4f [256]%.4f (want 3.5357, 4.0288)", ch.first,
	    ch.at256);
	/* the other F32 files: the first 256 chunks (the full runs agree as their logits do) */
	run(root, "stories260K/stories260K.gguf", ids, n, 256, 4.0288, 1e-3, 0, &ch);
	run(root, "stories260K/gguf/stories260K-f32.gguf", ids, n, 256, 4.0288, 1e-3, 0, &ch);
	run(root, "stories260K/hf", ids, n, 256, 4.0288, 1e-3, 0, &ch);
	tap_ok(tap_close(ch.first, 3.5357, 1e-3), "hf: first chunk %.4f", ch.first);
	run(root, "stories260K/gguf/stories260K-q8_0.gguf", ids, n, 256, 4.0331, 1e-2, 0, &ch);
	run(root, "stories260K/gguf/stories260K-f16.gguf", ids, n, 256, 4.0288, 1e-2, 0, &ch);
	run(root, "stories260K/gguf/stories260K-bf16.gguf", ids, n, 256, 4.0288, 1e-2, 0, &ch);

	/* protocol details on the llama2.c model */
	snprintf(path, sizeof path, "%s", bin);
	if ((m = rs_model_open(path, &cause)) == NULL ||
	    (f = rs_forward_new(m, 512, 128, &cause)) == NULL) {
		tap_ok(0, "open %s: %s", path, cause);
		return tap_done();
	}
	memset(&o, 0, sizeof o);
	o.protocol = RS_PPL_LLAMACPP;
	o.ctx = 128;
	o.max_chunks = 10;
	o.bos = -1;
	st = rs_ppl_run(f, ids, n, &o, &r, NULL, &cause);
	memset(&lc, 0, sizeof lc);
	o.on_logits = on_logits;
	o.ud = &lc;
	st |= rs_ppl_run(f, ids, n, &o, &r2, NULL, &cause);
	tap_ok(st == 0 && tap_close(r2.ppl, r.ppl, 1e-6) && lc.calls == 10 && lc.bos_first == 10 &&
	    lc.n_tok == 128 && r.n_scored == 630, "logits callback: every window, BOS first, "
	    "same PPL (%.6f)", r.ppl);
	o.on_logits = stop_logits;
	st = rs_ppl_run(f, ids, n, &o, &r2, NULL, &cause);
	tap_ok(st == RS_ECANCEL, "a callback can stop the run");
	o.on_logits = NULL;

	/* chunked: ctx - 1 scored per window, the partial window dropped */
	o.protocol = RS_PPL_CHUNKED;
	o.max_chunks = 0;
	st = rs_ppl_run(f, ids, 1000, &o, &r, NULL, &cause);
	tap_ok(st == 0 && r.n_chunks == 7 && r.n_scored == 7 * 127 && r.ppl > 1 && r.ppl < 20,
	    "chunked over 1000 tokens: 7 windows, %lld scored, PPL %.4f", (long long)r.n_scored,
	    r.ppl);
	/* the chunked score of a window covers the llama.cpp half: more context, lower NLL */
	{
		struct rs_ppl_result a, b;
		o.protocol = RS_PPL_CHUNKED;
		o.max_chunks = 100;
		st = rs_ppl_run(f, ids, n, &o, &a, NULL, &cause);
		o.protocol = RS_PPL_LLAMACPP;
		st |= rs_ppl_run(f, ids, n, &o, &b, NULL, &cause);
		tap_ok(st == 0 && a.ppl > b.ppl, "chunked (%.4f, first tokens with little context) "
		    "above llama.cpp's second halves (%.4f)", a.ppl, b.ppl);
	}
	st = rs_ppl_run(f, ids, 100, &o, &r, NULL, &cause);
	tap_ok(st == RS_EINVAL, "no whole window: %s", cause);
	o.ctx = 256;
	st = rs_ppl_run(f, ids, n, &o, &r, NULL, &cause);
	tap_ok(st == RS_EINVAL, "window larger than the run state: %s", cause);
	o.ctx = 128;
	memset(&job, 0, sizeof job);
	job.cancel = 1;
	st = rs_ppl_run(f, ids, n, &o, &r, &job, &cause);
	tap_ok(st == RS_ECANCEL, "cancelled: %s", cause);
	{
		float l[4] = { 1000.0f, 0.0f, -1000.0f, 999.0f };
		double nll = rs_ppl_nll(l, 4, 3);
		tap_ok(fabs(nll - (1.0 + log1p(exp(-1.0)))) < 1e-6 && isfinite(rs_ppl_nll(l, 4, 2)),
		    "log-softmax with large logits: %.9f", nll);
	}
	rs_forward_free(f);
	rs_model_close(m);
	rs_free(cause);
	free(ids);
	return tap_done();
}
