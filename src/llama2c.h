/* llama2c.h: Karpathy's llama2.c checkpoint (the "legacy" export run.c reads); used by model.c.
 *
 * File layout (little-endian):
 *   1. 7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *      (vocab_size < 0: a separate classifier follows; > 0: the classifier is the embedding)
 *   2. float32 arrays, each row-major (outputs x inputs), in this order:
 *      token_embedding (vocab, dim), rms_att (layers, dim), wq (layers, heads*hd, dim),
 *      wk (layers, kv_heads*hd, dim), wv (same), wo (layers, dim, heads*hd), rms_ffn (layers, dim),
 *      w1 = gate (layers, hidden, dim), w2 = down (layers, dim, hidden), w3 = up (layers, hidden, dim),
 *      rms_final (dim), freq_cis_real and freq_cis_imag (seq_len * hd / 2 each, unused),
 *      then wcls (vocab, dim) when unshared.
 *   The file size must match exactly.  q/k rows are in interleaved-RoPE order. */
#ifndef RS_LLAMA2C_H
#define RS_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct rs_llama2c {
	struct rs_model_config cfg;
	const float *embed;      /* (vocab, dim) */
	const float *rms_att;    /* (layers, dim) */
	const float *wq;         /* (layers, heads*hd, dim) */
	const float *wk;         /* (layers, kv_heads*hd, dim) */
	const float *wv;         /* (layers, kv_heads*hd, dim) */
	const float *wo;         /* (layers, dim, heads*hd) */
	const float *rms_ffn;    /* (layers, dim) */
	const float *w1;         /* (layers, hidden, dim) */
	const float *w2;         /* (layers, dim, hidden) */
	const float *w3;         /* (layers, hidden, dim) */
	const float *rms_final;  /* (dim) */
	const float *wcls;       /* (vocab, dim); == embed when shared */
};

/* True if the first bytes look like a llama2.c header (positive, modest dims), size aside. */
int rs_llama2c_probe(const uint8_t *data, size_t size);

/* Validate the header against the file size and locate every array.  RS_EFORMAT with a cause
 * naming `path` on any inconsistency. */
int rs_llama2c_parse(const char *path, const uint8_t *data, size_t size, struct rs_llama2c *out,
                     char **cause);

#endif
