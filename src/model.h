/* model.h: a LLaMA-family model opened from a Hugging Face folder, a GGUF file or a llama2.c
 * checkpoint, seen through one format-independent view.
 *
 * The view is an architecture config plus canonical tensors:
 *   per layer n:  L<n>.q  L<n>.k  L<n>.v  L<n>.o  L<n>.gate  L<n>.up  L<n>.down   (the decoder linears)
 *                 L<n>.attn_norm  L<n>.mlp_norm  L<n>.q_bias  L<n>.k_bias  L<n>.v_bias (biases: Qwen2)
 *   global:       embed  norm  head  (head is the embedding itself when tied)
 * Every tensor is rows (outputs) x cols (inputs), in its own dtype, pointing into a read-only
 * mapping; weights are never converted to float32 as a whole.  rs_model_tensor_rows_f32() converts
 * rows into a caller buffer.  Vectors (norms, biases) are 1 x n.
 *
 * Query/key row order: GGUF (llama/mistral) and llama2.c store q and k rows permuted for
 * interleaved RoPE; Hugging Face stores them for rotate-half RoPE.  The canonical order is
 * Hugging Face's: row conversion un-permutes the others (hf_row[h*hd + j*hd/2 + i] =
 * file_row[h*hd + 2*i + j]) so every format gives the same numbers and one RoPE serves all. */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

/* Per-layer tensor kinds; the first RS_MAT_COUNT are the decoder linears. */
enum rs_tkind {
	RS_T_Q, RS_T_K, RS_T_V, RS_T_O, RS_T_GATE, RS_T_UP, RS_T_DOWN,
	RS_T_ATTN_NORM, RS_T_MLP_NORM,
	/* biases of the linears, in the same order as the linears (RS_T_Q_BIAS + linear) */
	RS_T_Q_BIAS, RS_T_K_BIAS, RS_T_V_BIAS, RS_T_O_BIAS, RS_T_GATE_BIAS, RS_T_UP_BIAS,
	RS_T_DOWN_BIAS,
	RS_T_LAYER_COUNT
};
#define RS_MAT_COUNT 7	/* RS_T_Q .. RS_T_DOWN */

/* Global tensors, after the per-layer ones in the tensor list. */
enum rs_tglobal { RS_G_EMBED, RS_G_NORM, RS_G_HEAD, RS_G_COUNT };

struct rs_model_config {
	char arch[16];          /* "llama", "mistral", "qwen2" */
	int n_layers;
	int dim;                /* hidden size */
	int n_heads;
	int n_kv_heads;
	int head_dim;           /* from the config when given, else dim / n_heads */
	int ffn_dim;            /* intermediate size */
	int vocab;
	int ctx_len;            /* trained context length */
	double rope_theta;
	double rms_norm_eps;
	int tied;               /* head = embed */
	int qkv_bias;           /* q/k/v have biases (Qwen2, or Llama's attention_bias) */
	unsigned bias_mask;     /* bit t: linear t (RS_T_Q..RS_T_DOWN) has a bias: Qwen2 q,k,v;
	                           Llama attention_bias q,k,v,o; mlp_bias gate,up,down */
	int bos_id, eos_id;     /* -1 if unknown */
};

struct rs_tensor {
	const char *name;       /* canonical name ("L3.q", "embed") */
	const char *file_name;  /* name in the file ("model.layers.3.self_attn.q_proj.weight") */
	enum rs_dtype dtype;
	int64_t rows, cols;     /* outputs x inputs; 1 x n for vectors */
	const void *data;       /* into the mapping; rows * row_bytes bytes */
	size_t row_bytes;
	int unpermute_heads;    /* > 0: q/k rows stored interleaved for this many heads */
	int present;            /* 0: absent (a bias the model does not have) */
	const char *source;     /* path of the file holding data (the reader's string); NULL if absent */
};

/* Identity of a file as stat(2) gives it: any rewrite, touch, chmod or rename-over changes it
 * (ctime cannot be set from user space). */
struct rs_file_id {
	uint64_t dev, ino, size;
	int64_t mtime_s, ctime_s;
	long mtime_ns, ctime_ns;
};

struct rs_model;

/* Open a model: a directory (config.json + safetensors), a .safetensors file (config.json
 * beside it), a GGUF file or a llama2.c checkpoint, detected by content.  PyTorch pickles,
 * unknown formats and unsupported architectures are refused with a one-line cause. */
struct rs_model *rs_model_open(const char *path, char **cause);
void rs_model_close(struct rs_model *m);

const struct rs_model_config *rs_model_config(const struct rs_model *m);
const char *rs_model_format(const struct rs_model *m);   /* "safetensors", "gguf", "llama2.c" */
const char *rs_model_path(const struct rs_model *m);
/* FNV-1a 64 of the tensor index (canonical and file names, dtypes, shapes) and the config. */
uint64_t rs_model_identity(const struct rs_model *m);

/* Identity of the file holding t's bytes as it was when the model was opened (recorded right
 * after the readers mapped it); 0, or RS_EINVAL if t has no file. */
int rs_model_tensor_file_id(const struct rs_model *m, const struct rs_tensor *t,
    struct rs_file_id *id);
/* stat(2) of path as a file identity; 0 or RS_EIO. */
int rs_file_id_of(const char *path, struct rs_file_id *id);
/* Whether two identities are the same file in the same state. */
int rs_file_id_equal(const struct rs_file_id *a, const struct rs_file_id *b);

/* All canonical tensors (absent biases included, with present = 0): layer-major, then globals. */
int rs_model_n_tensors(const struct rs_model *m);
const struct rs_tensor *rs_model_tensor_at(const struct rs_model *m, int i);
const struct rs_tensor *rs_model_tensor(const struct rs_model *m, int layer, enum rs_tkind k);
const struct rs_tensor *rs_model_global(const struct rs_model *m, enum rs_tglobal g);
/* By canonical name; NULL if unknown or absent. */
const struct rs_tensor *rs_model_find(const struct rs_model *m, const char *name);
/* "q", "k", ..., "down", "attn_norm", ... */
const char *rs_tkind_name(enum rs_tkind k);

/* Attention of one layer of a pruned export whose per-head sizes differ from the config's
 * (config.json "rankscope_layer_qk_pairs" / "rankscope_layer_v_dims", written by the transact
 * plugin).  Every query head uses the sizes of its key/value head g = h / (n_heads /
 * n_kv_heads).  Head g keeps qk_pairs[g] rotate-half query/key pairs: its original pair
 * indices (i < head_dim / 2, RoPE frequency theta^(-2i/head_dim)) are pair_idx[pair_off[g]
 * ..], ascending; a query or key head is 2 * qk_pairs[g] rows, the first halves of its pairs
 * then the second halves (row t and t + qk_pairs[g] are one pair).  v head g is v_dims[g]
 * rows; o has, per query head, v_dims[g] columns.  Heads are stored head after head, so with
 * G = n_heads / n_kv_heads query head h = g * G + j starts at row G * k_off[g] + j * 2 *
 * qk_pairs[g] of q and column G * v_off[g] + j * v_dims[g] of o; k head g at row k_off[g],
 * v head g at row v_off[g] (prefix sums; the last entry is the total).  The score scale stays
 * 1 / sqrt(head_dim).  Both keys come together; each layer keeps at least one pair and one
 * value dim. */
struct rs_layer_attn {
	int *qk_pairs;          /* (n_kv_heads) */
	int *v_dims;            /* (n_kv_heads) */
	int *pair_off;          /* (n_kv_heads + 1) into pair_idx */
	int *pair_idx;          /* (pair_off[n_kv_heads]) */
	int *k_off, *v_off;     /* (n_kv_heads + 1) */
	int q_rows, o_cols;     /* G * k_off[n_kv_heads], G * v_off[n_kv_heads] */
};
/* NULL when the layer's attention has the config's shapes (every ordinary model). */
const struct rs_layer_attn *rs_model_layer_attn(const struct rs_model *m, int layer);

/* Convert rows [row0, row0 + nrows) of t to float32 into dst (nrows * cols floats), in the
 * canonical row order.  RS_EINVAL if the range is outside the tensor. */
int rs_model_tensor_rows_f32(const struct rs_model *m, const struct rs_tensor *t, int64_t row0,
                             int64_t nrows, float *dst);

/* Drop the process's resident pages of t's bytes in the file mapping (rs_mapfile_release): a
 * job calls it once it is done with the tensor, so that a pass over many tensors does not keep
 * every page it touched in its resident set (the page cache may keep them).  Reads stay
 * correct at any time, since the mapping is never written: a later read faults the pages in
 * again.  Call it only when no other thread is still reading t, or that reader pays the faults
 * again, and never for a tensor a loop reuses (the forward pass of ppl reads every layer each
 * window).  Does nothing for a tensor that is not one of m's. */
void rs_model_tensor_release(const struct rs_model *m, const struct rs_tensor *t);

/* Parameters of the decoder linears (all layers), and of embed + head (head counted once more
 * only when not tied). */
uint64_t rs_model_linear_params(const struct rs_model *m);
uint64_t rs_model_embed_head_params(const struct rs_model *m);

#endif
