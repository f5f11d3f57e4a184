/* forward.h: the float32 batched forward pass (prefill) of a LLaMA-family model.
 *
 * One call evaluates n_seq independent causal windows of n_tok tokens each, all positions at
 * once: every matrix product is a cblas_sgemm over all n_seq * n_tok rows, attention is per
 * window and head (sgemm Q.K^T, causal mask, softmax, sgemm with V).  Positions restart at 0 in
 * every window.  Weights stay in their file dtype; each decoder linear is converted into one
 * reused float32 buffer just before its product (F32 weights in canonical order are used in
 * place).
 *
 * Seams for compression:
 *   - every decoder linear (L.q ... L.down) can be replaced per (layer, matrix) by a callback
 *     (rs_forward_set_override) or by a factor pair y = B (A x) + b (rs_forward_set_factors);
 *   - an activation hook sees the input of each of the four input groups of every layer;
 *   - a struct rs_job is checked between layers.
 * Threads: OpenBLAS's (rs_forward_set_threads). */
#ifndef RS_FORWARD_H
#define RS_FORWARD_H

#include <stdint.h>

#include "model.h"
#include "status.h"

/* The four inputs of a layer's linears: q,k,v share one; gate,up share one. */
enum rs_input_group {
	RS_IN_ATTN,	/* normalized hidden state: q, k, v   (width dim) */
	RS_IN_O,	/* attention output: o                (width n_heads * head_dim; a pruned layer: its o columns) */
	RS_IN_MLP,	/* normalized hidden state: gate, up  (width dim) */
	RS_IN_DOWN,	/* SiLU(gate) * up: down              (width ffn_dim) */
	RS_IN_COUNT
};

/* A replacement for one decoder linear: y (n_rows x out) = f(x (n_rows x in)), row-major.
 * It replaces W x only: the model's own bias (Qwen2 q/k/v) is added afterwards.  Returns 0 or a
 * negative RS_E* status, which aborts the pass. */
struct rs_linear_override {
	int (*apply)(void *ud, int layer, enum rs_tkind mat, const float *x, int n_rows, int in,
	    float *y, int out);
	void *ud;
};

/* Called with each input group's block (n_rows x width, row-major; n_rows = n_seq * n_tok) before
 * the linears read it.  Returns 0, or a negative RS_E* status to abort the pass. */
typedef int (*rs_forward_hook)(void *ud, int layer, enum rs_input_group g, const float *x,
    int n_rows, int width);

struct rs_forward;

/* A run state for windows of up to max_rows tokens in total (n_seq * n_tok) and windows of up to
 * max_tok tokens (attention scratch is max_tok^2 per window).  NULL + *cause on failure. */
struct rs_forward *rs_forward_new(const struct rs_model *m, int max_rows, int max_tok,
    char **cause);
void rs_forward_free(struct rs_forward *f);
/* The bytes rs_forward_new(m, max_rows, max_tok) allocates (factor pairs' scratch aside). */
uint64_t rs_forward_state_bytes(const struct rs_model *m, int max_rows, int max_tok);
const struct rs_model *rs_forward_model(const struct rs_forward *f);
int rs_forward_max_rows(const struct rs_forward *f);
int rs_forward_max_tok(const struct rs_forward *f);

/* Run n_seq windows of n_tok tokens (tokens: n_seq * n_tok ids, window-major).  Logits for
 * positions first_logit .. n_tok-1 of every window go to logits, window-major:
 * logits[(s * (n_tok - first_logit) + p - first_logit) * vocab + v].  logits may be NULL (no
 * head: activations only, e.g. for calibration).  Token ids outside the vocabulary are
 * RS_EINVAL.  RS_ECANCEL when the job is cancelled (checked between layers). */
int rs_forward_run(struct rs_forward *f, const int32_t *tokens, int n_seq, int n_tok,
    int first_logit, float *logits, struct rs_job *job, char **cause);

/* The same pass one step at a time, for callers that keep the residual stream themselves
 * (calibration runs every window through one layer before the next): x holds n_seq * n_tok rows
 * of dim floats, window-major.  rs_forward_embed writes the token embeddings into x (RS_EINVAL
 * for an id outside the vocabulary); rs_forward_layer runs decoder layer l on x in place, with
 * the hook, overrides and factors as in rs_forward_run and the job checked first.
 * rs_forward_run is embed, every layer, then the head: the arithmetic is the same. */
int rs_forward_embed(struct rs_forward *f, const int32_t *tokens, int n_seq, int n_tok,
    float *x, char **cause);
int rs_forward_layer(struct rs_forward *f, int l, float *x, int n_seq, int n_tok,
    struct rs_job *job, char **cause);

/* Replace (ov non-NULL, copied) or restore (NULL) the dense product of one decoder linear. */
int rs_forward_set_override(struct rs_forward *f, int layer, enum rs_tkind mat,
    const struct rs_linear_override *ov);
/* Replace one decoder linear by y = B (A x) + b with A rank x in and B out x rank row-major
 * float32 (b: out floats or NULL).  The arrays stay the caller's and must outlive their use;
 * A == NULL restores the dense product. */
int rs_forward_set_factors(struct rs_forward *f, int layer, enum rs_tkind mat, int rank,
    const float *a, const float *b_mat, const float *bias);
/* Remove every override and factor pair. */
void rs_forward_clear_overrides(struct rs_forward *f);

/* Install (or remove, hook NULL) the activation hook. */
void rs_forward_set_hook(struct rs_forward *f, rs_forward_hook hook, void *ud);

/* OpenBLAS threads for every later product (n <= 0: the number of online cores).  A no-op
 * without OpenBLAS. */
void rs_forward_set_threads(int n);

/* Floating-point operations of one pass over n_seq windows of n_tok (2 per multiply-add: the
 * linears, attention scores and mixing, and the head for n_logits positions per window). */
double rs_forward_flops(const struct rs_model *m, int n_seq, int n_tok, int n_logits);

#endif
