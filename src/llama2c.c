/* llama2c.c: header check and array layout of llama2.c checkpoints (see llama2c.h). */
#include "config.h"

#include "llama2c.h"

#include <stdint.h>
#include <string.h>

#include "status.h"

#define L2C_HEADER 28		/* 7 int32 */
#define L2C_MAX_DIM (1 << 20)	/* generous caps: they only bound the arithmetic below */
#define L2C_MAX_LAYERS 4096
#define L2C_MAX_VOCAB (1 << 24)
#define L2C_MAX_SEQ (1 << 24)

/* Read the 7 header integers. */
static void
read_header(const uint8_t *data, int32_t h[7])
{
	int i;

	for (i = 0; i < 7; i++)
		h[i] = (int32_t)((uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
		    (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24);
}

/* Whether the header alone looks like llama2.c. */
int
rs_llama2c_probe(const uint8_t *data, size_t size)
{
	int32_t h[7];
	int64_t vocab;

	if (size < L2C_HEADER)
		return 0;
	read_header(data, h);
	vocab = h[5] < 0 ? -(int64_t)h[5] : h[5];	/* INT32_MIN negates in 64 bits */
	return h[0] > 0 && h[0] <= L2C_MAX_DIM && h[1] > 0 && h[1] <= L2C_MAX_DIM &&
	    h[2] > 0 && h[2] <= L2C_MAX_LAYERS && h[3] > 0 && h[3] <= h[0] &&
	    h[4] > 0 && h[4] <= h[3] && h[5] != INT32_MIN && vocab > 0 &&
	    vocab <= L2C_MAX_VOCAB && h[6] > 0 && h[6] <= L2C_MAX_SEQ;
}

/* a += b * c in floats, with overflow detection (all operands small enough by the caps). */
static int
add_mul(uint64_t *a, uint64_t b, uint64_t c)
{
	uint64_t p;

	if (b != 0 && c > UINT64_MAX / b)
		return -1;
	p = b * c;
	if (*a > UINT64_MAX - p)
		return -1;
	*a += p;
	return 0;
}

/* Check the header against the size and locate the arrays. */
int
rs_llama2c_parse(const char *path, const uint8_t *data, size_t size, struct rs_llama2c *out,
    char **cause)
{
	int32_t h[7];
	int64_t dim, hidden, layers, heads, kv_heads, vocab, seq, hd;
	uint64_t n = 0;		/* floats after the header */
	const float *p;
	int shared;

	memset(out, 0, sizeof *out);
	if (size < L2C_HEADER)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: file too short for a header (%zu bytes)",
		    path, size);
	read_header(data, h);
	dim = h[0];
	hidden = h[1];
	layers = h[2];
	heads = h[3];
	kv_heads = h[4];
	shared = h[5] > 0;
	vocab = h[5] < 0 ? -(int64_t)h[5] : h[5];
	seq = h[6];
	if (dim <= 0 || dim > L2C_MAX_DIM)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: dim %lld out of range", path,
		    (long long)dim);
	if (hidden <= 0 || hidden > L2C_MAX_DIM)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: hidden_dim %lld out of range", path,
		    (long long)hidden);
	if (layers <= 0 || layers > L2C_MAX_LAYERS)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: n_layers %lld out of range", path,
		    (long long)layers);
	if (heads <= 0 || heads > dim || dim % heads != 0 || (dim / heads) % 2 != 0)
		return rs_fail(cause, RS_EFORMAT,
		    "%s: llama2.c: n_heads %lld does not split dim %lld into even head sizes", path,
		    (long long)heads, (long long)dim);
	if (kv_heads <= 0 || kv_heads > heads || heads % kv_heads != 0)
		return rs_fail(cause, RS_EFORMAT,
		    "%s: llama2.c: n_kv_heads %lld does not divide n_heads %lld", path,
		    (long long)kv_heads, (long long)heads);
	if (vocab <= 0 || vocab > L2C_MAX_VOCAB)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: vocab_size %lld out of range", path,
		    (long long)h[5]);
	if (seq <= 0 || seq > L2C_MAX_SEQ)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: seq_len %lld out of range", path,
		    (long long)seq);
	hd = dim / heads;

	/* Count the floats exactly as run.c's memory_map_weights() walks them. */
	if (add_mul(&n, (uint64_t)vocab, (uint64_t)dim) ||		/* embedding */
	    add_mul(&n, (uint64_t)layers, (uint64_t)dim) ||		/* rms_att */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * dim)) ||	/* wq */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * kv_heads * hd)) ||	/* wk */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * kv_heads * hd)) ||	/* wv */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * dim)) ||	/* wo */
	    add_mul(&n, (uint64_t)layers, (uint64_t)dim) ||		/* rms_ffn */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * hidden)) ||	/* w1 */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * hidden)) ||	/* w2 */
	    add_mul(&n, (uint64_t)layers, (uint64_t)(dim * hidden)) ||	/* w3 */
	    add_mul(&n, 1, (uint64_t)dim) ||				/* rms_final */
	    add_mul(&n, (uint64_t)seq, (uint64_t)hd) ||			/* freq_cis real + imag */
	    (!shared && add_mul(&n, (uint64_t)vocab, (uint64_t)dim)) ||	/* wcls */
	    n > (UINT64_MAX - L2C_HEADER) / 4)
		return rs_fail(cause, RS_EFORMAT, "%s: llama2.c: header dims overflow", path);
	if ((uint64_t)size != L2C_HEADER + 4 * n)
		return rs_fail(cause, RS_EFORMAT,
		    "%s: llama2.c: file has %zu bytes but its header (dim %lld, %lld layers, vocab %lld)"
		    " needs %llu%s", path, size, (long long)dim, (long long)layers, (long long)vocab,
		    (unsigned long long)(L2C_HEADER + 4 * n),
		    (uint64_t)size < L2C_HEADER + 4 * n ? " (truncated?)" : "");

	p = (const float *)(const void *)(data + L2C_HEADER);	/* mmap is page aligned: 4-aligned */
	out->embed = p;      p += vocab * dim;
	out->rms_att = p;    p += layers * dim;
	out->wq = p;         p += layers * dim * dim;
	out->wk = p;         p += layers * dim * kv_heads * hd;
	out->wv = p;         p += layers * dim * kv_heads * hd;
	out->wo = p;         p += layers * dim * dim;
	out->rms_ffn = p;    p += layers * dim;
	out->w1 = p;         p += layers * dim * hidden;
	out->w2 = p;         p += layers * dim * hidden;
	out->w3 = p;         p += layers * dim * hidden;
	out->rms_final = p;  p += dim;
	p += seq * hd;		/* freq_cis_real and freq_cis_imag: RoPE is recomputed */
	out->wcls = shared ? out->embed : p;

	strcpy(out->cfg.arch, "llama");
	out->cfg.n_layers = (int)layers;
	out->cfg.dim = (int)dim;
	out->cfg.n_heads = (int)heads;
	out->cfg.n_kv_heads = (int)kv_heads;
	out->cfg.head_dim = (int)hd;
	out->cfg.ffn_dim = (int)hidden;
	out->cfg.vocab = (int)vocab;
	out->cfg.ctx_len = (int)seq;
	out->cfg.rope_theta = 10000.0;	/* run.c's constant */
	out->cfg.rms_norm_eps = 1e-5;	/* run.c's constant */
	out->cfg.tied = shared;
	out->cfg.qkv_bias = 0;
	out->cfg.bias_mask = 0;
	out->cfg.bos_id = 1;		/* llama2.c's sentencepiece convention */
	out->cfg.eos_id = 2;
	return 0;
}
