/* model.c: one view of LLaMA-family models from Hugging Face folders, GGUF files and llama2.c
 * checkpoints: config, canonical tensors, row conversion (see model.h). */
#include "config.h"

#include "model.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "gguf.h"
#include "llama2c.h"
#include "mapfile.h"
#include "safetensors.h"
#include "status.h"

#define CONFIG_MAX_BYTES (4u << 20)	/* config.json larger than this is not a config */
#define MAX_LAYERS 4096
#define MAX_DIM (1 << 20)
#define MAX_HEADS 4096
#define MAX_VOCAB (1 << 24)

struct rs_model {
	char *path;
	const char *format;
	struct rs_model_config cfg;
	struct rs_mapfile *mf;		/* llama2.c */
	struct rs_gguf *gguf;
	struct rs_st *st;
	int n_tensors;
	struct rs_tensor *t;		/* n_layers * RS_T_LAYER_COUNT, then RS_G_COUNT */
	uint64_t identity;
	int *layer_ffn;			/* NULL, or per-layer intermediate sizes (pruned exports) */
	struct rs_layer_attn *lattn;	/* NULL, or per-layer attention sizes (pruned exports) */
	int *lattn_buf;			/* the arrays lattn points into */
	struct model_file *files;	/* distinct tensor sources, identity at open */
	int n_files;
};

/* A file the tensors point into, with its identity when the model was opened. */
struct model_file {
	const char *path;		/* a tensor's source string */
	struct rs_file_id id;
};

/* What a format reader found for one canonical tensor, before shape checks. */
struct found {
	const char *file_name;
	enum rs_dtype dtype;
	uint32_t n_dims;
	int64_t rows, cols;		/* n_dims 1: rows = 1 */
	const void *data;
	size_t nbytes;
	const char *source;		/* file holding data; NULL: the model's path */
};

static const char *const tkind_names[RS_T_LAYER_COUNT] = {
	"q", "k", "v", "o", "gate", "up", "down", "attn_norm", "mlp_norm", "q_bias", "k_bias",
	"v_bias"
};
static const char *const tglobal_names[RS_G_COUNT] = { "embed", "norm", "head" };

/* Short name of a per-layer tensor kind. */
const char *
rs_tkind_name(enum rs_tkind k)
{
	return (unsigned)k < RS_T_LAYER_COUNT ? tkind_names[k] : "?";
}

/* Free everything a model holds (any stage of construction). */
void
rs_model_close(struct rs_model *m)
{
	int i;

	if (m == NULL)
		return;
	for (i = 0; m->t != NULL && i < m->n_tensors; i++) {
		rs_free((char *)m->t[i].name);
		rs_free((char *)m->t[i].file_name);
	}
	rs_free(m->t);
	rs_free(m->layer_ffn);
	rs_free(m->lattn);
	rs_free(m->lattn_buf);
	rs_free(m->files);
	rs_mapfile_close(m->mf);
	if (m->gguf != NULL)
		rs_gguf_close(m->gguf);
	if (m->st != NULL)
		rs_st_close(m->st);
	rs_free(m->path);
	rs_free(m);
}

/* Check the config's numbers once, so later products cannot overflow. */
static int
check_config(const char *path, struct rs_model_config *c, char **cause)
{
	if (c->n_layers <= 0 || c->n_layers > MAX_LAYERS)
		return rs_fail(cause, RS_EFORMAT, "%s: layer count %d out of range", path, c->n_layers);
	if (c->dim <= 0 || c->dim > MAX_DIM)
		return rs_fail(cause, RS_EFORMAT, "%s: hidden size %d out of range", path, c->dim);
	if (c->ffn_dim <= 0 || c->ffn_dim > 16 * MAX_DIM)
		return rs_fail(cause, RS_EFORMAT, "%s: intermediate size %d out of range", path,
		    c->ffn_dim);
	if (c->n_heads <= 0 || c->n_heads > MAX_HEADS)
		return rs_fail(cause, RS_EFORMAT, "%s: head count %d out of range", path, c->n_heads);
	if (c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: key/value head count %d does not divide %d heads",
		    path, c->n_kv_heads, c->n_heads);
	if (c->head_dim == 0 && c->dim % c->n_heads == 0)
		c->head_dim = c->dim / c->n_heads;
	if (c->head_dim <= 0 || c->head_dim > 4096 || c->head_dim % 2 != 0)
		return rs_fail(cause, RS_EFORMAT, "%s: head size %d is not a positive even number",
		    path, c->head_dim);
	if ((int64_t)c->n_heads * c->head_dim > 16 * MAX_DIM)
		return rs_fail(cause, RS_EFORMAT, "%s: %d heads of %d are too wide", path, c->n_heads,
		    c->head_dim);
	if (c->vocab <= 0 || c->vocab > MAX_VOCAB)
		return rs_fail(cause, RS_EFORMAT, "%s: vocabulary size %d out of range", path, c->vocab);
	if (c->ctx_len <= 0)
		return rs_fail(cause, RS_EFORMAT, "%s: context length %d out of range", path,
		    c->ctx_len);
	if (!(c->rope_theta > 0 && c->rope_theta < 1e12))
		return rs_fail(cause, RS_EFORMAT, "%s: rope theta %g out of range", path,
		    c->rope_theta);
	if (!(c->rms_norm_eps > 0 && c->rms_norm_eps < 1))
		return rs_fail(cause, RS_EFORMAT, "%s: RMSNorm epsilon %g out of range", path,
		    c->rms_norm_eps);
	return 0;
}

/* Expected shape of a canonical tensor: rows x cols (vectors 1 x n). */
static void
expected_shape(const struct rs_model_config *c, int kind, int global, int64_t *rows,
    int64_t *cols)
{
	int64_t qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;

	*rows = 1;
	if (global) {
		*cols = c->dim;
		if (kind != RS_G_NORM)
			*rows = c->vocab;
		return;
	}
	switch (kind) {
	case RS_T_Q: *rows = qd; *cols = c->dim; break;
	case RS_T_K: case RS_T_V: *rows = kvd; *cols = c->dim; break;
	case RS_T_O: *rows = c->dim; *cols = qd; break;
	case RS_T_GATE: case RS_T_UP: *rows = c->ffn_dim; *cols = c->dim; break;
	case RS_T_DOWN: *rows = c->dim; *cols = c->ffn_dim; break;
	case RS_T_Q_BIAS: *cols = qd; break;
	case RS_T_K_BIAS: case RS_T_V_BIAS: *cols = kvd; break;
	case RS_T_O_BIAS: case RS_T_DOWN_BIAS: *cols = c->dim; break;
	case RS_T_GATE_BIAS: case RS_T_UP_BIAS: *cols = c->ffn_dim; break;
	default: *cols = c->dim; break;	/* norms */
	}
}

/* Allocate the tensor table with canonical names. */
static int
alloc_tensors(struct rs_model *m, char **cause)
{
	int l, k, i;

	m->n_tensors = m->cfg.n_layers * RS_T_LAYER_COUNT + RS_G_COUNT;
	m->t = rs_calloc((size_t)m->n_tensors, sizeof *m->t);
	if (m->t == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
	for (l = 0; l < m->cfg.n_layers; l++)
		for (k = 0; k < RS_T_LAYER_COUNT; k++)
			if ((m->t[l * RS_T_LAYER_COUNT + k].name = rs_strdupf("L%d.%s", l,
			    tkind_names[k])) == NULL)
				return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
	for (i = 0; i < RS_G_COUNT; i++)
		if ((m->t[m->cfg.n_layers * RS_T_LAYER_COUNT + i].name = rs_strdup(tglobal_names[i]))
		    == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
	return 0;
}

/* Check what a reader found against the config and fill the canonical tensor. */
static int
set_tensor(struct rs_model *m, struct rs_tensor *t, int kind, int global, const struct found *f,
    int unpermute_heads, char **cause)
{
	int64_t rows, cols;
	size_t rb;

	expected_shape(&m->cfg, kind, global, &rows, &cols);
	/* a pruned export's MLP has its own size per layer (checked against the config list) */
	if (!global && m->layer_ffn != NULL && kind >= RS_T_GATE && kind <= RS_T_DOWN) {
		int ff = m->layer_ffn[(t - m->t) / RS_T_LAYER_COUNT];
		if (kind == RS_T_DOWN)
			cols = ff;
		else
			rows = ff;
	}
	if (!global && m->layer_ffn != NULL && (kind == RS_T_GATE_BIAS || kind == RS_T_UP_BIAS))
		cols = m->layer_ffn[(t - m->t) / RS_T_LAYER_COUNT];
	/* and its attention per-head sizes (checked against the config lists) */
	if (!global && m->lattn != NULL) {
		const struct rs_layer_attn *a = &m->lattn[(t - m->t) / RS_T_LAYER_COUNT];
		int G = m->cfg.n_heads / m->cfg.n_kv_heads;
		switch (kind) {
		case RS_T_Q: rows = a->q_rows; break;
		case RS_T_K: rows = a->k_off[m->cfg.n_kv_heads]; break;
		case RS_T_V: rows = a->v_off[m->cfg.n_kv_heads]; break;
		case RS_T_O: cols = (int64_t)G * a->v_off[m->cfg.n_kv_heads]; break;
		case RS_T_Q_BIAS: cols = a->q_rows; break;
		case RS_T_K_BIAS: cols = a->k_off[m->cfg.n_kv_heads]; break;
		case RS_T_V_BIAS: cols = a->v_off[m->cfg.n_kv_heads]; break;
		default: break;
		}
	}
	if (f->n_dims < 1 || f->n_dims > 2 || (f->n_dims == 1 && rows != 1))
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': %u dimensions, expected %d",
		    m->path, f->file_name, f->n_dims, rows == 1 ? 1 : 2);
	if (f->rows != rows || f->cols != cols)
		return rs_fail(cause, RS_EFORMAT,
		    "%s: tensor '%s': shape %lld x %lld, expected %lld x %lld from the config",
		    m->path, f->file_name, (long long)f->rows, (long long)f->cols, (long long)rows,
		    (long long)cols);
	rb = rs_dtype_row_bytes(f->dtype, (uint64_t)cols);
	if (rb == 0)
		return rs_fail(cause, RS_EFORMAT,
		    "%s: tensor '%s': row of %lld is not a whole number of %s blocks", m->path,
		    f->file_name, (long long)cols, rs_dtype_name(f->dtype));
	if ((uint64_t)rows > SIZE_MAX / rb || (size_t)rows * rb != f->nbytes)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': %zu bytes, expected %lld rows of %zu",
		    m->path, f->file_name, f->nbytes, (long long)rows, rb);
	if ((t->file_name = rs_strdup(f->file_name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
	t->dtype = f->dtype;
	t->rows = rows;
	t->cols = cols;
	t->data = f->data;
	t->row_bytes = rb;
	t->unpermute_heads = unpermute_heads;
	t->present = 1;
	t->source = f->source != NULL ? f->source : m->path;
	return 0;
}

/* Fill the head as the embedding (tied). */
static int
tie_head(struct rs_model *m, char **cause)
{
	struct rs_tensor *e = &m->t[m->cfg.n_layers * RS_T_LAYER_COUNT + RS_G_EMBED];
	struct rs_tensor *h = &m->t[m->cfg.n_layers * RS_T_LAYER_COUNT + RS_G_HEAD];
	const char *name = h->name;

	*h = *e;
	h->name = name;
	if ((h->file_name = rs_strdup(e->file_name)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
	m->cfg.tied = 1;
	return 0;
}

/* ------------------------------------------------------------------ llama2.c */

/* A llama2.c array as a found tensor (layer slice `l` of a per-layer array). */
static void
l2c_found(struct found *f, const char *name, const float *base, int l, int64_t rows, int64_t cols)
{
	f->file_name = name;
	f->dtype = RS_DT_F32;
	f->n_dims = rows == 1 ? 1 : 2;
	f->rows = rows;
	f->cols = cols;
	f->data = base + (size_t)l * (size_t)(rows * cols);
	f->nbytes = (size_t)(rows * cols) * sizeof(float);
	f->source = NULL;
}

/* Open a llama2.c checkpoint from its mapping. */
static int
open_llama2c(struct rs_model *m, char **cause)
{
	static const char *const arr[RS_T_LAYER_COUNT] = {
		"wq", "wk", "wv", "wo", "w1", "w3", "w2", "rms_att_weight", "rms_ffn_weight"
	};
	struct rs_llama2c c;
	const float *base[RS_T_LAYER_COUNT] = { 0 };
	char name[64];
	struct found f;
	int64_t rows, cols;
	int l, k, r;

	if ((r = rs_llama2c_parse(m->path, m->mf->data, m->mf->size, &c, cause)) != 0)
		return r;
	m->format = "llama2.c";
	m->cfg = c.cfg;
	if ((r = check_config(m->path, &m->cfg, cause)) != 0 || (r = alloc_tensors(m, cause)) != 0)
		return r;
	base[RS_T_Q] = c.wq; base[RS_T_K] = c.wk; base[RS_T_V] = c.wv; base[RS_T_O] = c.wo;
	base[RS_T_GATE] = c.w1; base[RS_T_UP] = c.w3; base[RS_T_DOWN] = c.w2;
	base[RS_T_ATTN_NORM] = c.rms_att; base[RS_T_MLP_NORM] = c.rms_ffn;
	for (l = 0; l < m->cfg.n_layers; l++)
		for (k = 0; k <= RS_T_MLP_NORM; k++) {
			expected_shape(&m->cfg, k, 0, &rows, &cols);
			snprintf(name, sizeof name, "%s[%d]", arr[k], l);
			l2c_found(&f, name, base[k], l, rows, cols);
			if ((r = set_tensor(m, &m->t[l * RS_T_LAYER_COUNT + k], k, 0, &f,
			    k == RS_T_Q ? m->cfg.n_heads : k == RS_T_K ? m->cfg.n_kv_heads : 0,
			    cause)) != 0)
				return r;
		}
	l = m->cfg.n_layers * RS_T_LAYER_COUNT;
	l2c_found(&f, "token_embedding_table", c.embed, 0, m->cfg.vocab, m->cfg.dim);
	if ((r = set_tensor(m, &m->t[l + RS_G_EMBED], RS_G_EMBED, 1, &f, 0, cause)) != 0)
		return r;
	l2c_found(&f, "rms_final_weight", c.rms_final, 0, 1, m->cfg.dim);
	if ((r = set_tensor(m, &m->t[l + RS_G_NORM], RS_G_NORM, 1, &f, 0, cause)) != 0)
		return r;
	if (c.cfg.tied)
		return tie_head(m, cause);
	l2c_found(&f, "wcls", c.wcls, 0, m->cfg.vocab, m->cfg.dim);
	return set_tensor(m, &m->t[l + RS_G_HEAD], RS_G_HEAD, 1, &f, 0, cause);
}

/* ------------------------------------------------------------------ GGUF */

/* An integer GGUF key "<arch>.<suffix>"; 1 if absent (and not required). */
static int
gguf_int(struct rs_model *m, const char *arch, const char *suffix, int required, int64_t lo,
    int64_t hi, int *out, char **cause)
{
	char key[128];
	int64_t v;
	int r;

	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	r = rs_gguf_get_int(m->gguf, key, &v, cause);
	if (r < 0)
		return r;
	if (r == 1) {
		if (required)
			return rs_fail(cause, RS_EFORMAT, "%s: key '%s' is missing", m->path, key);
		return 1;
	}
	if (v < lo || v > hi)
		return rs_fail(cause, RS_EFORMAT, "%s: key '%s' = %lld out of range", m->path, key,
		    (long long)v);
	*out = (int)v;
	return 0;
}

/* A GGUF tensor as a found tensor. */
static int
gguf_found(struct rs_model *m, const char *name, struct found *f, char **cause)
{
	const struct rs_gguf_tensor *gt;
	int64_t i;

	if ((i = rs_gguf_find_tensor(m->gguf, name)) < 0)
		return 1;
	gt = rs_gguf_tensor(m->gguf, i);
	if (gt->n_dims > 2 || gt->ne[2] != 1 || gt->ne[3] != 1 || gt->ne[0] > INT64_MAX ||
	    gt->ne[1] > INT64_MAX)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': %u dimensions, expected 1 or 2",
		    m->path, name, gt->n_dims);
	f->file_name = gt->name;
	f->dtype = gt->dtype;
	f->n_dims = gt->n_dims == 0 ? 1 : gt->n_dims;
	f->cols = (int64_t)gt->ne[0];
	f->rows = (int64_t)gt->ne[1];
	f->data = gt->data;
	f->nbytes = gt->nbytes;
	f->source = rs_gguf_path(m->gguf);
	return 0;
}

/* Open a GGUF file. */
static int
open_gguf(struct rs_model *m, char **cause)
{
	static const char *const gname[RS_T_LAYER_COUNT] = {
		"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
		"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_norm.weight",
		"ffn_norm.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_output.bias",
		"ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"
	};
	struct rs_model_config *c = &m->cfg;
	const char *s;
	char arch[16], name[96];
	size_t len;
	double d;
	int64_t v;
	struct found f;
	int l, k, r, rope_dims, permute, base, experts = 0, window = 0;

	if ((m->gguf = rs_gguf_open(m->path, cause)) == NULL)
		return RS_EFORMAT;
	m->format = "gguf";
	r = rs_gguf_get_str(m->gguf, "general.architecture", &s, &len, cause);
	if (r < 0)
		return r;
	if (r == 1)
		return rs_fail(cause, RS_EFORMAT, "%s: key 'general.architecture' is missing", m->path);
	if (len >= sizeof arch || (!(len == 5 && memcmp(s, "llama", 5) == 0) &&
	    !(len == 7 && memcmp(s, "mistral", 7) == 0) && !(len == 5 && memcmp(s, "qwen2", 5) == 0)))
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "%s: architecture '%.*s' is not supported (llama, mistral, qwen2)", m->path,
		    (int)(len > 40 ? 40 : len), s);
	memcpy(arch, s, len);
	arch[len] = '\0';
	strcpy(c->arch, arch);

	if ((r = gguf_int(m, arch, "expert_count", 0, 0, INT32_MAX, &experts, cause)) < 0)
		return r;
	if (experts > 0)
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "%s: mixture-of-experts models ('%s.expert_count' = %d) are not supported",
		    m->path, arch, experts);
	snprintf(name, sizeof name, "%s.rope.scaling.type", arch);
	r = rs_gguf_get_str(m->gguf, name, &s, &len, cause);
	if (r < 0)
		return r;
	if (r == 0 && !(len == 4 && memcmp(s, "none", 4) == 0))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: RoPE scaling ('%s' = '%.*s') is not supported",
		    m->path, name, (int)(len > 40 ? 40 : len), s);

	if ((r = gguf_int(m, arch, "block_count", 1, 1, MAX_LAYERS, &c->n_layers, cause)) < 0 ||
	    (r = gguf_int(m, arch, "embedding_length", 1, 1, MAX_DIM, &c->dim, cause)) < 0 ||
	    (r = gguf_int(m, arch, "feed_forward_length", 1, 1, 16 * MAX_DIM, &c->ffn_dim,
	    cause)) < 0 ||
	    (r = gguf_int(m, arch, "attention.head_count", 1, 1, MAX_HEADS, &c->n_heads,
	    cause)) < 0)
		return r;
	c->n_kv_heads = c->n_heads;
	c->head_dim = 0;
	c->ctx_len = 0;
	if ((r = gguf_int(m, arch, "attention.head_count_kv", 0, 1, MAX_HEADS, &c->n_kv_heads,
	    cause)) < 0 ||
	    (r = gguf_int(m, arch, "attention.key_length", 0, 2, 4096, &c->head_dim, cause)) < 0 ||
	    (r = gguf_int(m, arch, "context_length", 0, 1, INT32_MAX, &c->ctx_len, cause)) < 0)
		return r;
	if (c->head_dim == 0 && c->dim % c->n_heads == 0)
		c->head_dim = c->dim / c->n_heads;
	rope_dims = c->head_dim;
	if ((r = gguf_int(m, arch, "rope.dimension_count", 0, 0, 4096, &rope_dims, cause)) < 0)
		return r;
	if (rope_dims != c->head_dim)
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "%s: partial RoPE ('%s.rope.dimension_count' %d, head size %d) is not supported",
		    m->path, arch, rope_dims, c->head_dim);
	if ((r = gguf_int(m, arch, "attention.sliding_window", 0, 0, INT32_MAX, &window,
	    cause)) < 0)
		return r;
	if (window > 0 && c->ctx_len > 0 && window < c->ctx_len)
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "%s: sliding-window attention (%d < context %d) is not supported", m->path, window,
		    c->ctx_len);
	if (c->ctx_len == 0)
		c->ctx_len = 2048;
	c->rope_theta = 10000.0;
	snprintf(name, sizeof name, "%s.rope.freq_base", arch);
	if ((r = rs_gguf_get_float(m->gguf, name, &d, cause)) < 0)
		return r;
	if (r == 0)
		c->rope_theta = d;
	snprintf(name, sizeof name, "%s.attention.layer_norm_rms_epsilon", arch);
	c->rms_norm_eps = strcmp(arch, "qwen2") == 0 ? 1e-6 : 1e-5;
	if ((r = rs_gguf_get_float(m->gguf, name, &d, cause)) < 0)
		return r;
	if (r == 0)
		c->rms_norm_eps = d;
	c->bos_id = c->eos_id = -1;
	if ((r = rs_gguf_get_int(m->gguf, "tokenizer.ggml.bos_token_id", &v, cause)) < 0)
		return r;
	if (r == 0 && v >= 0 && v < MAX_VOCAB)
		c->bos_id = (int)v;
	if ((r = rs_gguf_get_int(m->gguf, "tokenizer.ggml.eos_token_id", &v, cause)) < 0)
		return r;
	if (r == 0 && v >= 0 && v < MAX_VOCAB)
		c->eos_id = (int)v;
	/* The vocabulary size: the key, else the embedding's row count. */
	if ((r = gguf_found(m, "token_embd.weight", &f, cause)) < 0)
		return r;
	if (r == 1)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor 'token_embd.weight' is missing", m->path);
	c->vocab = f.rows > 0 && f.rows <= MAX_VOCAB ? (int)f.rows : 0;
	if ((r = gguf_int(m, arch, "vocab_size", 0, 1, MAX_VOCAB, &c->vocab, cause)) < 0)
		return r;
	c->qkv_bias = strcmp(arch, "qwen2") == 0;
	c->bias_mask = c->qkv_bias ? 7u : 0u;
	/* llama.cpp's llama architecture reads an optional bias for each linear (its converter
	 * writes them from attention_bias/mlp_bias): the mask is the biases layer 0 has, and every
	 * layer must have the same (checked below) */
	if (!c->qkv_bias)
		for (k = RS_T_Q_BIAS; k <= RS_T_DOWN_BIAS; k++) {
			snprintf(name, sizeof name, "blk.0.%s", gname[k]);
			if (rs_gguf_find_tensor(m->gguf, name) >= 0)
				c->bias_mask |= 1u << (k - RS_T_Q_BIAS);
		}
	c->qkv_bias = (c->bias_mask & 7u) == 7u;
	if ((r = check_config(m->path, c, cause)) != 0 || (r = alloc_tensors(m, cause)) != 0)
		return r;

	/* llama.cpp's converter permutes q/k (rows, and bias elements) for interleaved RoPE in
	 * llama/mistral, not qwen2. */
	permute = strcmp(arch, "qwen2") != 0;
	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_T_LAYER_COUNT; k++) {
			snprintf(name, sizeof name, "blk.%d.%s", l, gname[k]);
			if ((r = gguf_found(m, name, &f, cause)) < 0)
				return r;
			if (r == 1) {
				if (k >= RS_T_Q_BIAS && !(c->bias_mask & (1u << (k - RS_T_Q_BIAS))))
					continue;
				return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' is missing",
				    m->path, name);
			}
			if (k >= RS_T_Q_BIAS && !(c->bias_mask & (1u << (k - RS_T_Q_BIAS))))
				return rs_fail(cause, RS_EFORMAT,
				    "%s: tensor '%s': layer 0 has no %s, every layer must have the "
				    "same biases", m->path, name, gname[k]);
			if ((r = set_tensor(m, &m->t[l * RS_T_LAYER_COUNT + k], k, 0, &f,
			    permute && (k == RS_T_Q || k == RS_T_Q_BIAS) ? c->n_heads :
			    permute && (k == RS_T_K || k == RS_T_K_BIAS) ? c->n_kv_heads : 0,
			    cause)) != 0)
				return r;
		}
	base = c->n_layers * RS_T_LAYER_COUNT;
	if ((r = gguf_found(m, "token_embd.weight", &f, cause)) != 0 ||
	    (r = set_tensor(m, &m->t[base + RS_G_EMBED], RS_G_EMBED, 1, &f, 0, cause)) != 0)
		return r;
	if ((r = gguf_found(m, "output_norm.weight", &f, cause)) < 0)
		return r;
	if (r == 1)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor 'output_norm.weight' is missing",
		    m->path);
	if ((r = set_tensor(m, &m->t[base + RS_G_NORM], RS_G_NORM, 1, &f, 0, cause)) != 0)
		return r;
	if ((r = gguf_found(m, "output.weight", &f, cause)) < 0)
		return r;
	if (r == 1)
		return tie_head(m, cause);
	c->tied = 0;
	return set_tensor(m, &m->t[base + RS_G_HEAD], RS_G_HEAD, 1, &f, 0, cause);
}

/* ------------------------------------------------------------------ Hugging Face */

/* An integer config field; 1 if absent or null (and not required). */
static int
json_int_field(const char *path, json_t *o, const char *key, int required, int64_t lo,
    int64_t hi, int *out, char **cause)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	if (v == NULL || json_is_null(v)) {
		if (required)
			return rs_fail(cause, RS_EFORMAT, "%s: '%s' is missing", path, key);
		return 1;
	}
	if (json_is_integer(v))
		i = json_integer_value(v);
	else if (json_is_real(v) && fabs(json_real_value(v)) <= 0x1p62 &&
	    json_real_value(v) == (double)(json_int_t)json_real_value(v))
		i = (json_int_t)json_real_value(v);	/* 0x1p62: converting it is defined */
	else
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' is not an integer", path, key);
	if (i < lo || i > hi)
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' = %lld out of range", path,
		    key, (long long)i);
	*out = (int)i;
	return 0;
}

/* A number config field; 1 if absent or null. */
static int
json_num_field(const char *path, json_t *o, const char *key, double *out, char **cause)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_number(v))
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' is not a number", path, key);
	*out = json_number_value(v);
	return 0;
}

/* A token id field that may be an integer, a list (take the first) or null. */
static int
json_token_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_array(v))
		v = json_array_get(v, 0);
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < MAX_VOCAB)
		return (int)json_integer_value(v);
	return -1;
}

/* Parse config.json into the config, refusing what the forward pass does not implement. */
static int layer_ffn_dims(struct rs_model *, const char *, json_t *, char **);
static int layer_attn(struct rs_model *, const char *, json_t *, char **);

static int
hf_config(struct rs_model *m, const char *cfgpath, json_t *j, char **cause)
{
	static const char *const moe_keys[] = {
		"num_local_experts", "num_experts", "n_routed_experts", "num_experts_per_tok", NULL
	};
	struct rs_model_config *c = &m->cfg;
	const char *archname = NULL, *mt;
	json_t *v;
	int i, r, window = 0, maxpos = 0;

	if (!json_is_object(j))
		return rs_fail(cause, RS_EFORMAT, "%s: not a JSON object", cfgpath);
	v = json_object_get(j, "architectures");
	if (json_is_array(v) && json_array_size(v) > 0 && json_is_string(json_array_get(v, 0)))
		archname = json_string_value(json_array_get(v, 0));
	mt = json_string_value(json_object_get(j, "model_type"));
	if (archname != NULL) {
		if (strcmp(archname, "LlamaForCausalLM") == 0)
			strcpy(c->arch, "llama");
		else if (strcmp(archname, "MistralForCausalLM") == 0)
			strcpy(c->arch, "mistral");
		else if (strcmp(archname, "Qwen2ForCausalLM") == 0)
			strcpy(c->arch, "qwen2");
		else
			return rs_fail(cause, RS_EUNSUPPORTED,
			    "%s: architecture '%.60s' is not supported (LlamaForCausalLM, "
			    "MistralForCausalLM, Qwen2ForCausalLM)", cfgpath, archname);
	} else if (mt != NULL && (strcmp(mt, "llama") == 0 || strcmp(mt, "mistral") == 0 ||
	    strcmp(mt, "qwen2") == 0))
		strcpy(c->arch, mt);
	else
		return rs_fail(cause, RS_EUNSUPPORTED,
		    "%s: model type '%.60s' is not supported (llama, mistral, qwen2)", cfgpath,
		    mt != NULL ? mt : "(none)");
	for (i = 0; moe_keys[i] != NULL; i++) {
		v = json_object_get(j, moe_keys[i]);
		if (v != NULL && !json_is_null(v) && !(json_is_integer(v) &&
		    json_integer_value(v) == 0))
			return rs_fail(cause, RS_EUNSUPPORTED,
			    "%s: mixture-of-experts models ('%s') are not supported", cfgpath,
			    moe_keys[i]);
	}
	v = json_object_get(j, "rope_scaling");
	if (v != NULL && !json_is_null(v))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: 'rope_scaling' is set: RoPE scaling is not "
		    "supported", cfgpath);
	v = json_object_get(j, "hidden_act");
	if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), "silu") != 0))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: 'hidden_act' %.40s is not supported (silu)",
		    cfgpath, json_is_string(v) ? json_string_value(v) : "(not a string)");

	if ((r = json_int_field(cfgpath, j, "num_hidden_layers", 1, 1, MAX_LAYERS, &c->n_layers,
	    cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "hidden_size", 1, 1, MAX_DIM, &c->dim, cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "intermediate_size", 1, 1, 16 * MAX_DIM, &c->ffn_dim,
	    cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "num_attention_heads", 1, 1, MAX_HEADS, &c->n_heads,
	    cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "vocab_size", 1, 1, MAX_VOCAB, &c->vocab, cause)) < 0)
		return r;
	c->n_kv_heads = c->n_heads;
	c->head_dim = 0;
	c->ctx_len = 2048;
	if ((r = json_int_field(cfgpath, j, "num_key_value_heads", 0, 1, MAX_HEADS, &c->n_kv_heads,
	    cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "head_dim", 0, 2, 4096, &c->head_dim, cause)) < 0 ||
	    (r = json_int_field(cfgpath, j, "max_position_embeddings", 0, 1, INT32_MAX, &c->ctx_len,
	    cause)) < 0)
		return r;
	maxpos = c->ctx_len;
	/* Mistral's null window and Qwen2's use_sliding_window=false mean full attention. */
	if (!json_is_false(json_object_get(j, "use_sliding_window"))) {
		if ((r = json_int_field(cfgpath, j, "sliding_window", 0, 0, INT32_MAX, &window,
		    cause)) < 0)
			return r;
		if (r == 0 && window < maxpos)
			return rs_fail(cause, RS_EUNSUPPORTED, "%s: 'sliding_window' %d is smaller "
			    "than the context %d: sliding-window attention is not supported",
			    cfgpath, window, maxpos);
	}
	c->rope_theta = 10000.0;
	c->rms_norm_eps = 1e-6;
	if ((r = json_num_field(cfgpath, j, "rope_theta", &c->rope_theta, cause)) < 0 ||
	    (r = json_num_field(cfgpath, j, "rms_norm_eps", &c->rms_norm_eps, cause)) < 0)
		return r;
	c->tied = json_is_true(json_object_get(j, "tie_word_embeddings"));
	/* Qwen2 always has q/k/v biases; Llama-family configs say so with attention_bias (q, k,
	 * v and o) and mlp_bias (gate, up, down), as transformers' LlamaForCausalLM reads them. */
	c->bias_mask = strcmp(c->arch, "qwen2") == 0 ? 7u : 0u;
	if (strcmp(c->arch, "qwen2") != 0 && json_is_true(json_object_get(j, "attention_bias")))
		c->bias_mask |= 15u;
	if (json_is_true(json_object_get(j, "mlp_bias")))
		c->bias_mask |= 7u << RS_T_GATE;
	c->qkv_bias = (c->bias_mask & 7u) == 7u;
	c->bos_id = json_token_field(j, "bos_token_id");
	c->eos_id = json_token_field(j, "eos_token_id");
	if ((r = check_config(cfgpath, c, cause)) != 0)
		return r;
	if ((r = layer_ffn_dims(m, cfgpath, j, cause)) != 0)
		return r;
	return layer_attn(m, cfgpath, j, cause);
}

/* "rankscope_layer_ffn_dims" (transact's smaller exports): one intermediate size per layer,
 * each in [1, intermediate_size]; absent: every layer has intermediate_size. */
static int
layer_ffn_dims(struct rs_model *m, const char *cfgpath, json_t *j, char **cause)
{
	json_t *a = json_object_get(j, "rankscope_layer_ffn_dims"), *v;
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) != (size_t)m->cfg.n_layers)
		return rs_fail(cause, RS_EFORMAT, "%s: 'rankscope_layer_ffn_dims' is not an array of "
		    "%d sizes", cfgpath, m->cfg.n_layers);
	if ((m->layer_ffn = rs_mallocarray((size_t)m->cfg.n_layers, sizeof *m->layer_ffn)) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", cfgpath);
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > m->cfg.ffn_dim)
			return rs_fail(cause, RS_EFORMAT, "%s: 'rankscope_layer_ffn_dims'[%zu] is not "
			    "a size in [1, intermediate_size %d]", cfgpath, i, m->cfg.ffn_dim);
		m->layer_ffn[i] = (int)json_integer_value(v);
	}
	return 0;
}

/* "rankscope_layer_qk_pairs" and "rankscope_layer_v_dims" (transact's smaller exports, see
 * model.h's struct rs_layer_attn): per layer and key/value head, the kept rotate-half pair
 * indices (ascending, in [0, head_dim / 2)) and the kept value dim count (in [0, head_dim]);
 * each layer keeps at least one of each.  Absent: every layer has the config's shapes. */
static int
layer_attn(struct rs_model *m, const char *cfgpath, json_t *j, char **cause)
{
	static const char *const kq = "rankscope_layer_qk_pairs", *const kv = "rankscope_layer_v_dims";
	json_t *aq = json_object_get(j, kq), *av = json_object_get(j, kv), *lq, *lv, *hq, *e;
	int L = m->cfg.n_layers, H = m->cfg.n_kv_heads, half = m->cfg.head_dim / 2;
	int G = m->cfg.n_heads / m->cfg.n_kv_heads, l, g, i, prev;
	size_t npairs = 0, per, n;
	int *p;

	if (aq != NULL && json_is_null(aq))
		aq = NULL;
	if (av != NULL && json_is_null(av))
		av = NULL;
	if (aq == NULL && av == NULL)
		return 0;
	if (aq == NULL || av == NULL)
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' without '%s': the two come together",
		    cfgpath, aq != NULL ? kq : kv, aq != NULL ? kv : kq);
	if (!json_is_array(aq) || json_array_size(aq) != (size_t)L)
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' is not an array of %d layers", cfgpath,
		    kq, L);
	if (!json_is_array(av) || json_array_size(av) != (size_t)L)
		return rs_fail(cause, RS_EFORMAT, "%s: '%s' is not an array of %d layers", cfgpath,
		    kv, L);
	/* shapes first, so the allocation is bounded by what the file spells out */
	for (l = 0; l < L; l++) {
		lq = json_array_get(aq, (size_t)l);
		lv = json_array_get(av, (size_t)l);
		if (!json_is_array(lq) || json_array_size(lq) != (size_t)H)
			return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d] is not an array of %d key/value "
			    "heads", cfgpath, kq, l, H);
		if (!json_is_array(lv) || json_array_size(lv) != (size_t)H)
			return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d] is not an array of %d key/value "
			    "heads", cfgpath, kv, l, H);
		for (g = 0; g < H; g++) {
			hq = json_array_get(lq, (size_t)g);
			if (!json_is_array(hq) || json_array_size(hq) > (size_t)half)
				return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d][%d] is not an array of at "
				    "most %d pair indices", cfgpath, kq, l, g, half);
			npairs += json_array_size(hq);
		}
	}
	per = 5 * (size_t)H + 3;
	if ((size_t)L > (SIZE_MAX / sizeof(int) - npairs) / per)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", cfgpath);
	n = (size_t)L * per + npairs;
	if ((m->lattn = rs_calloc((size_t)L, sizeof *m->lattn)) == NULL ||
	    (m->lattn_buf = rs_mallocarray(n, sizeof(int))) == NULL)
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", cfgpath);
	p = m->lattn_buf;
	for (l = 0; l < L; l++) {
		struct rs_layer_attn *a = &m->lattn[l];

		lq = json_array_get(aq, (size_t)l);
		lv = json_array_get(av, (size_t)l);
		a->qk_pairs = p; p += H;
		a->v_dims = p; p += H;
		a->pair_off = p; p += H + 1;
		a->k_off = p; p += H + 1;
		a->v_off = p; p += H + 1;
		a->pair_off[0] = a->k_off[0] = a->v_off[0] = 0;
		for (g = 0; g < H; g++) {
			hq = json_array_get(lq, (size_t)g);
			e = json_array_get(lv, (size_t)g);
			a->qk_pairs[g] = (int)json_array_size(hq);
			if (!json_is_integer(e) || json_integer_value(e) < 0 ||
			    json_integer_value(e) > m->cfg.head_dim)
				return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d][%d] is not a count in [0, "
				    "head_dim %d]", cfgpath, kv, l, g, m->cfg.head_dim);
			a->v_dims[g] = (int)json_integer_value(e);
			a->pair_off[g + 1] = a->pair_off[g] + a->qk_pairs[g];
			a->k_off[g + 1] = a->k_off[g] + 2 * a->qk_pairs[g];
			a->v_off[g + 1] = a->v_off[g] + a->v_dims[g];
		}
		if (a->pair_off[H] < 1)
			return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d] keeps no query/key pair",
			    cfgpath, kq, l);
		if (a->v_off[H] < 1)
			return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d] keeps no value dim", cfgpath,
			    kv, l);
		/* within the config's widths: at most n_heads * head_dim <= 16 MAX_DIM */
		a->q_rows = G * a->k_off[H];
		a->o_cols = G * a->v_off[H];
		a->pair_idx = p;
		for (g = 0; g < H; g++) {
			hq = json_array_get(lq, (size_t)g);
			prev = -1;
			for (i = 0; i < a->qk_pairs[g]; i++) {
				e = json_array_get(hq, (size_t)i);
				if (!json_is_integer(e) || json_integer_value(e) <= prev ||
				    json_integer_value(e) >= half)
					return rs_fail(cause, RS_EFORMAT, "%s: '%s'[%d][%d][%d] is not a pair "
					    "index in [0, %d) above the previous one", cfgpath, kq, l, g,
					    i, half);
				prev = (int)json_integer_value(e);
				*p++ = prev;
			}
		}
	}
	return 0;
}

/* Attention sizes of a pruned export's layer; NULL for the config's shapes. */
const struct rs_layer_attn *
rs_model_layer_attn(const struct rs_model *m, int layer)
{
	if (m->lattn == NULL || layer < 0 || layer >= m->cfg.n_layers)
		return NULL;
	return &m->lattn[layer];
}

/* A safetensors tensor as a found tensor; 1 if absent. */
static int
st_found(struct rs_model *m, const char *name, struct found *f, char **cause)
{
	const struct rs_st_tensor *t = rs_st_find(m->st, name);

	if (t == NULL)
		return 1;
	if (t->n_dims < 1 || t->n_dims > 2 || t->shape[0] > INT64_MAX || t->shape[1] > INT64_MAX)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s': %u dimensions, expected 1 or 2",
		    t->file, name, t->n_dims);
	f->file_name = t->name;
	f->dtype = t->dtype;
	f->n_dims = t->n_dims;
	f->rows = t->n_dims == 2 ? (int64_t)t->shape[0] : 1;
	f->cols = t->n_dims == 2 ? (int64_t)t->shape[1] : (int64_t)t->shape[0];
	f->data = t->data;
	f->nbytes = t->nbytes;
	f->source = t->file;
	return 0;
}

/* Read config.json of `dir` (size-capped) into a JSON value. */
static json_t *
read_config(const char *dir, char **cfgpath, char **cause)
{
	struct rs_mapfile *mf;
	json_error_t err;
	json_t *j;

	if ((*cfgpath = rs_strdupf("%s/config.json", dir)) == NULL) {
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", dir);
		return NULL;
	}
	if ((mf = rs_mapfile_open(*cfgpath, cause)) == NULL)
		return NULL;
	if (mf->size > CONFIG_MAX_BYTES) {
		rs_fail(cause, RS_EFORMAT, "%s: %zu bytes is too large for a config", *cfgpath,
		    mf->size);
		rs_mapfile_close(mf);
		return NULL;
	}
	j = json_loadb((const char *)mf->data, mf->size, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		rs_fail(cause, RS_EFORMAT, "%s: line %d: %s", *cfgpath, err.line, err.text);
	rs_mapfile_close(mf);
	return j;
}

/* Replace the cause by the refusal of pickles when the folder holds PyTorch weights. */
static int
refuse_pickle_dir(const char *dir, char **cause)
{
	static const char *const names[] = { "pytorch_model.bin", "pytorch_model.bin.index.json",
	    "consolidated.00.pth", NULL };
	char *p;
	struct stat sb;
	int i, found = 0;

	for (i = 0; names[i] != NULL && !found; i++) {
		if ((p = rs_strdupf("%s/%s", dir, names[i])) == NULL)
			return 0;
		found = stat(p, &sb) == 0;
		rs_free(p);
	}
	if (found)
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: holds only PyTorch pickle weights: PyTorch "
		    "pickle files are never opened (convert to safetensors)", dir);
	return 0;
}

/* Open a Hugging Face folder (or one .safetensors file with config.json beside it). */
static int
open_hf(struct rs_model *m, const char *dir, const char *stfile, char **cause)
{
	static const char *const hname[RS_T_LAYER_COUNT] = {
		"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
		"self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
		"mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
		"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
		"self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"
	};
	struct rs_model_config *c = &m->cfg;
	char *cfgpath = NULL, name[128];
	json_t *j;
	struct found f;
	int l, k, r, base, want_tied;

	m->format = "safetensors";
	j = read_config(dir, &cfgpath, cause);
	if (j == NULL) {
		rs_free(cfgpath);
		return RS_EFORMAT;
	}
	r = hf_config(m, cfgpath, j, cause);
	json_decref(j);
	rs_free(cfgpath);
	if (r != 0)
		return r;
	if (stfile != NULL)
		m->st = rs_st_open_file(stfile, cause);
	else if ((m->st = rs_st_open_dir(dir, cause)) == NULL)
		refuse_pickle_dir(dir, cause);	/* a better reason when only pickles are there */
	if (m->st == NULL)
		return RS_EFORMAT;
	if ((r = alloc_tensors(m, cause)) != 0)
		return r;
	for (l = 0; l < c->n_layers; l++)
		for (k = 0; k < RS_T_LAYER_COUNT; k++) {
			snprintf(name, sizeof name, "model.layers.%d.%s", l, hname[k]);
			if ((r = st_found(m, name, &f, cause)) < 0)
				return r;
			if (r == 1) {
				if (k >= RS_T_Q_BIAS && !(c->bias_mask & (1u << (k - RS_T_Q_BIAS))))
					continue;
				return rs_fail(cause, RS_EFORMAT, "%s: tensor '%s' is missing", dir,
				    name);
			}
			if (k >= RS_T_Q_BIAS && !(c->bias_mask & (1u << (k - RS_T_Q_BIAS))))
				continue;	/* the config has no bias here: ignore the tensor */
			if ((r = set_tensor(m, &m->t[l * RS_T_LAYER_COUNT + k], k, 0, &f, 0,
			    cause)) != 0)
				return r;
		}
	base = c->n_layers * RS_T_LAYER_COUNT;
	if ((r = st_found(m, "model.embed_tokens.weight", &f, cause)) < 0)
		return r;
	if (r == 1)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor 'model.embed_tokens.weight' is missing",
		    dir);
	if ((r = set_tensor(m, &m->t[base + RS_G_EMBED], RS_G_EMBED, 1, &f, 0, cause)) != 0)
		return r;
	if ((r = st_found(m, "model.norm.weight", &f, cause)) < 0)
		return r;
	if (r == 1)
		return rs_fail(cause, RS_EFORMAT, "%s: tensor 'model.norm.weight' is missing", dir);
	if ((r = set_tensor(m, &m->t[base + RS_G_NORM], RS_G_NORM, 1, &f, 0, cause)) != 0)
		return r;
	want_tied = c->tied;
	if ((r = st_found(m, "lm_head.weight", &f, cause)) < 0)
		return r;
	if (r == 1 || want_tied)
		return tie_head(m, cause);
	return set_tensor(m, &m->t[base + RS_G_HEAD], RS_G_HEAD, 1, &f, 0, cause);
}

/* ------------------------------------------------------------------ open */

/* FNV-1a 64 over bytes. */
static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Hash the tensor index and the config into the model's identity. */
static void
compute_identity(struct rs_model *m)
{
	const struct rs_model_config *c = &m->cfg;
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[512];
	int i, n;

	n = snprintf(buf, sizeof buf, "%s|%d|%d|%d|%d|%d|%d|%d|%d|%.17g|%.17g|%d|%d;", c->arch,
	    c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->head_dim, c->ffn_dim, c->vocab,
	    c->ctx_len, c->rope_theta, c->rms_norm_eps, c->tied, c->qkv_bias);
	h = fnv1a(h, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	for (i = 0; i < m->n_tensors; i++) {
		const struct rs_tensor *t = &m->t[i];

		if (!t->present)
			continue;
		n = snprintf(buf, sizeof buf, "%s|%s|%s|%lld|%lld;", t->name, t->file_name,
		    rs_dtype_name(t->dtype), (long long)t->rows, (long long)t->cols);
		h = fnv1a(h, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
	}
	m->identity = h;
}

/* Whether path ends with ext (".bin"). */
static int
has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);

	return n > e && strcmp(path + n - e, ext) == 0;
}

/* Open a regular file: GGUF, safetensors, llama2.c; refuse pickles. */
static int
open_file(struct rs_model *m, char **cause)
{
	const uint8_t *d;
	size_t n;
	char *dir, *slash;
	uint64_t hlen = 0;
	int i, r;

	if ((m->mf = rs_mapfile_open(m->path, cause)) == NULL)
		return RS_EIO;
	d = m->mf->data;
	n = m->mf->size;
	if (n >= 4 && memcmp(d, "GGUF", 4) == 0) {
		rs_mapfile_close(m->mf);
		m->mf = NULL;
		return open_gguf(m, cause);
	}
	if ((n >= 4 && memcmp(d, "PK\003\004", 4) == 0) ||
	    (n >= 2 && d[0] == 0x80 && d[1] >= 2 && d[1] <= 5))
		return rs_fail(cause, RS_EUNSUPPORTED, "%s: a PyTorch pickle (%s): PyTorch pickle "
		    "files are never opened (convert to safetensors)", m->path,
		    d[0] == 'P' ? "zip archive" : "pickle stream");
	if (n >= 9) {
		for (i = 0; i < 8; i++)
			hlen |= (uint64_t)d[i] << (8 * i);
		if (hlen >= 2 && hlen <= n - 8 && d[8] == '{') {
			/* safetensors: the config is beside it */
			if ((dir = rs_strdup(m->path)) == NULL)
				return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
			slash = strrchr(dir, '/');
			if (slash == NULL)
				strcpy(dir, ".");
			else if (slash == dir)
				slash[1] = '\0';
			else
				*slash = '\0';
			rs_mapfile_close(m->mf);
			m->mf = NULL;
			r = open_hf(m, dir, m->path, cause);
			rs_free(dir);
			return r;
		}
	}
	/* a .bin that fails the probe is read as llama2.c anyway, so the error names the field */
	if (rs_llama2c_probe(d, n) || has_ext(m->path, ".bin"))
		return open_llama2c(m, cause);
	return rs_fail(cause, RS_EFORMAT, "%s: not a GGUF file, a safetensors model or a llama2.c "
	    "checkpoint", m->path);
}

static int record_files(struct rs_model *, char **);

/* Open a model by content: folder, safetensors, GGUF or llama2.c. */
struct rs_model *
rs_model_open(const char *path, char **cause)
{
	struct rs_model *m;
	struct stat sb;
	int r;

	if (stat(path, &sb) != 0) {
		rs_fail(cause, RS_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((m = rs_calloc(1, sizeof *m)) == NULL || (m->path = rs_strdup(path)) == NULL) {
		rs_free(m);
		rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if (S_ISDIR(sb.st_mode))
		r = open_hf(m, path, NULL, cause);
	else
		r = open_file(m, cause);
	if (r != 0 || (r = record_files(m, cause)) != 0) {
		rs_model_close(m);
		return NULL;
	}
	compute_identity(m);
	return m;
}

/* stat(2) of a path as a file identity. */
int
rs_file_id_of(const char *path, struct rs_file_id *id)
{
	struct stat sb;

	memset(id, 0, sizeof *id);
	if (stat(path, &sb) != 0)
		return RS_EIO;
	id->dev = (uint64_t)sb.st_dev;
	id->ino = (uint64_t)sb.st_ino;
	id->size = (uint64_t)sb.st_size;
	id->mtime_s = (int64_t)sb.st_mtim.tv_sec;
	id->mtime_ns = sb.st_mtim.tv_nsec;
	id->ctime_s = (int64_t)sb.st_ctim.tv_sec;
	id->ctime_ns = sb.st_ctim.tv_nsec;
	return 0;
}

/* Same file in the same state. */
int
rs_file_id_equal(const struct rs_file_id *a, const struct rs_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s &&
	    a->ctime_ns == b->ctime_ns;
}

/* Record the identity of every file the tensors point into (few: one, or the shards). */
static int
record_files(struct rs_model *m, char **cause)
{
	int i, j;

	for (i = 0; i < m->n_tensors; i++) {
		const char *src = m->t[i].source;
		struct model_file *nf;

		if (src == NULL)
			continue;
		for (j = 0; j < m->n_files && strcmp(m->files[j].path, src) != 0; j++)
			;
		if (j < m->n_files)
			continue;
		if ((nf = rs_realloc(m->files, ((size_t)m->n_files + 1) * sizeof *nf)) == NULL)
			return rs_fail(cause, RS_ENOMEM, "%s: out of memory", m->path);
		m->files = nf;
		m->files[m->n_files].path = src;
		if (rs_file_id_of(src, &m->files[m->n_files].id) != 0)
			return rs_fail(cause, RS_EIO, "%s: %s", src, strerror(errno));
		m->n_files++;
	}
	return 0;
}

/* Identity at open of the file holding a tensor's bytes. */
int
rs_model_tensor_file_id(const struct rs_model *m, const struct rs_tensor *t,
    struct rs_file_id *id)
{
	int j;

	if (t == NULL || t->source == NULL)
		return RS_EINVAL;
	for (j = 0; j < m->n_files; j++)
		if (m->files[j].path == t->source || strcmp(m->files[j].path, t->source) == 0) {
			*id = m->files[j].id;
			return 0;
		}
	return RS_EINVAL;
}

/* ------------------------------------------------------------------ accessors */

/* The model's architecture config. */
const struct rs_model_config *
rs_model_config(const struct rs_model *m)
{
	return &m->cfg;
}

/* Name of the file format the model came from. */
const char *
rs_model_format(const struct rs_model *m)
{
	return m->format;
}

/* Path the model was opened from. */
const char *
rs_model_path(const struct rs_model *m)
{
	return m->path;
}

/* Hash of the tensor index and config, for plan files. */
uint64_t
rs_model_identity(const struct rs_model *m)
{
	return m->identity;
}

/* Number of canonical tensor slots (absent biases included). */
int
rs_model_n_tensors(const struct rs_model *m)
{
	return m->n_tensors;
}

/* Canonical tensor slot i, NULL if out of range. */
const struct rs_tensor *
rs_model_tensor_at(const struct rs_model *m, int i)
{
	return i >= 0 && i < m->n_tensors ? &m->t[i] : NULL;
}

/* Per-layer tensor of a kind, NULL if out of range. */
const struct rs_tensor *
rs_model_tensor(const struct rs_model *m, int layer, enum rs_tkind k)
{
	if (layer < 0 || layer >= m->cfg.n_layers || (unsigned)k >= RS_T_LAYER_COUNT)
		return NULL;
	return &m->t[layer * RS_T_LAYER_COUNT + k];
}

/* Global tensor (embed, norm, head). */
const struct rs_tensor *
rs_model_global(const struct rs_model *m, enum rs_tglobal g)
{
	if ((unsigned)g >= RS_G_COUNT)
		return NULL;
	return &m->t[m->cfg.n_layers * RS_T_LAYER_COUNT + g];
}

/* A present tensor by canonical name. */
const struct rs_tensor *
rs_model_find(const struct rs_model *m, const char *name)
{
	int i;

	for (i = 0; i < m->n_tensors; i++)
		if (m->t[i].present && strcmp(m->t[i].name, name) == 0)
			return &m->t[i];
	return NULL;
}

/* Release t's mapped pages; only m's own tensors, whose bytes all lie in file mappings. */
void
rs_model_tensor_release(const struct rs_model *m, const struct rs_tensor *t)
{
	if (m == NULL || t == NULL || t < m->t || t >= m->t + m->n_tensors || !t->present)
		return;
	rs_mapfile_release(t->data, (size_t)t->rows * t->row_bytes);
}

/* Convert rows to float32 in canonical (HF) row order. */
int
rs_model_tensor_rows_f32(const struct rs_model *m, const struct rs_tensor *t, int64_t row0,
    int64_t nrows, float *dst)
{
	const uint8_t *base;
	int64_t r, src, hd, half, h, rem;

	(void)m;
	if (t == NULL || !t->present || row0 < 0 || nrows < 0 || row0 > t->rows ||
	    nrows > t->rows - row0)
		return RS_EINVAL;
	base = t->data;
	if (t->unpermute_heads > 0 && t->rows == 1) {
		/* a q/k bias: its elements are permuted like the rows of the matrix */
		size_t esz = t->row_bytes / (size_t)t->cols;
		hd = t->cols / t->unpermute_heads;
		half = hd / 2;
		for (r = 0; r < t->cols; r++) {
			h = r / hd;
			rem = r % hd;
			src = h * hd + 2 * (rem % half) + rem / half;
			rs_dtype_to_f32(t->dtype, base + (size_t)src * esz, dst + r, 1);
		}
		return 0;
	}
	if (t->unpermute_heads <= 0) {
		if (t->dtype == RS_DT_F32)
			memcpy(dst, base + (size_t)row0 * t->row_bytes, (size_t)nrows * t->row_bytes);
		else
			rs_dtype_to_f32(t->dtype, base + (size_t)row0 * t->row_bytes, dst,
			    (size_t)(nrows * t->cols));
		return 0;
	}
	hd = t->rows / t->unpermute_heads;
	half = hd / 2;
	for (r = 0; r < nrows; r++) {
		/* canonical row R = h*hd + j*half + i comes from file row h*hd + 2*i + j */
		h = (row0 + r) / hd;
		rem = (row0 + r) % hd;
		src = h * hd + 2 * (rem % half) + rem / half;
		if (t->dtype == RS_DT_F32)
			memcpy(dst + r * t->cols, base + (size_t)src * t->row_bytes, t->row_bytes);
		else
			rs_dtype_to_f32(t->dtype, base + (size_t)src * t->row_bytes, dst + r * t->cols,
			    (size_t)t->cols);
	}
	return 0;
}

/* Parameter count of all decoder linears. */
uint64_t
rs_model_linear_params(const struct rs_model *m)
{
	uint64_t n = 0;
	int l, k;

	for (l = 0; l < m->cfg.n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++)
			n += (uint64_t)m->t[l * RS_T_LAYER_COUNT + k].rows *
			    (uint64_t)m->t[l * RS_T_LAYER_COUNT + k].cols;
	return n;
}

/* Parameter count of the embedding and (untied) head. */
uint64_t
rs_model_embed_head_params(const struct rs_model *m)
{
	uint64_t n = (uint64_t)m->cfg.vocab * (uint64_t)m->cfg.dim;

	return m->cfg.tied ? n : 2 * n;
}
