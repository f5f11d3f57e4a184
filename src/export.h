/* export.h: compressed models written to disk, and factored exports loaded back.
 *
 * Dense export (rs_export_dense): a complete Hugging Face folder
 *   config.json            the source's config.json (generated from the model's config for GGUF
 *                          and llama2.c sources), torch_dtype set to what was written; when the
 *                          plan carries biases (method feature) "attention_bias"/"mlp_bias" are
 *                          set (llama only) and the bias tensors written (zeros where a matrix
 *                          has none), as transformers' LlamaForCausalLM expects
 *   model.safetensors      every tensor under its Hugging Face name (q/k rows in the HF order),
 *                          factored matrices reconstructed as Ŵ = B A, in the source tensor's
 *                          dtype (F32 for quantized sources) or the dtype asked for;
 *                          metadata "format": "pt" and "rankscope.plan" (the plan JSON)
 *   tokenizer files        copied from the source folder when present (tokenizer.json,
 *                          tokenizer.model, tokenizer_config.json, special_tokens_map.json,
 *                          generation_config.json, added_tokens.json)
 *
 * Factored export (rs_export_factored): base model + factors.  The folder holds
 *   factors.safetensors    per factored matrix "<hf name without .weight>.lowrank_A" (rank×in),
 *                          ".lowrank_B" (out×rank) and ".lowrank_bias" (out) when the method has
 *                          one, in the source matrix's dtype (BF16/F16; F32 for F32 or quantized
 *                          sources) or the dtype asked for; metadata
 *                          "rankscope.kind": "factored", "rankscope.version": "1",
 *                          "rankscope.plan" (the plan JSON: identity, method, calibration,
 *                          budget, ranks), "rankscope.base" (the source model's absolute path)
 *                          and "rankscope.base_identity"
 *   plan.json              the same plan, for people and `plan load`
 * Dense matrices are not copied: loading (rs_factored_open, then the `load` command installs
 * it) opens the base model named in the metadata, refuses it when its identity differs,
 * restores the plan and method, and installs the stored factors (F32, F16 or BF16) widened to
 * F32.  F32 factors reproduce the in-memory plan exactly.  16-bit factors are the in-memory
 * ones rounded: each element of A and B within 2^-9 relative (BF16; 2^-11 F16), so each
 * product term of B·A within about 2^-8 relative of the plan's, and the reloaded perplexity
 * is held to the same 2^-8 relative (tests/cli-compress.sh).  Measured: kjv-llama, feature, keep
 * 0.8, `ppl kjv-eval.txt --ctx 256`: 53.8519 in memory and from F32 factors, 53.8544 from the
 * BF16 ones (4.6e-5 relative); factors.safetensors 7.6 MB in BF16, 15.2 MB in F32, against the
 * 13.6 MB BF16 model.safetensors.
 *
 * Safety (one export-folder helper for both, and for plugins' exports): everything is written
 * into "<DIR>.tmp.XXXXXX" beside DIR and renamed to DIR at the end (a failure or cancel removes
 * the temporary folder; one a killed export left is removed by the next export to DIR); DIR
 * must not exist or be an empty folder; a DIR that is, or lies inside, the source model's folder
 * is refused.  The source is only ever read.  Refusals and write failures return RS_EIO (a
 * failed command, not a usage error). */
#ifndef RS_EXPORT_H
#define RS_EXPORT_H

#include <stdint.h>

#include "compress.h"
#include "dtype.h"
#include "model.h"
#include "planfile.h"
#include "status.h"

struct json_t;
struct rs_st;
struct rs_tokenizer;

/* What an export reads: the model as loaded and the plan over it. */
struct rs_export_src {
	const struct rs_model *model;
	const char *path;               /* what the model was loaded from: its folder is never
	                                 * written into, its tokenizer files are copied (or NULL) */
	const struct rs_plan *plan;     /* recorded as "rankscope.plan"; NULL: none (dense only) */
	struct rs_planfile_meta meta;   /* the plan's method, asvd alpha and calibration */
	const struct rs_tokenizer *tok; /* GGUF: the vocabulary written (NULL: none) */
};

/* A decoder linear the caller gives instead of the model's (a plugin's replacement or pruned
 * matrix, of any shape): 1 with its shape and float32 rows (valid until the export returns),
 * 0 for the model's own. */
typedef int (*rs_export_matrix_fn)(void *ud, int layer, enum rs_tkind mat, int64_t *rows,
    int64_t *cols, const float **data);

struct rs_export_opts {
	int dtype;                      /* enum rs_dtype F32/F16/BF16 (GGUF also Q8_0), or -1:
	                                 * the source's */
	rs_export_matrix_fn matrix;     /* dense: NULL, or asked for every decoder linear (then
	                                 * the factor set must be empty) */
	void *matrix_ud;
	const char *extra_config;       /* dense: NULL, or a JSON object merged into config.json */
	void (*note)(void *ud, const char *line);
	void *ud;
};

struct rs_export_report {
	int tensors;                    /* tensors written */
	int factored;                   /* matrices written from factors */
	int biases;                     /* bias tensors added */
	int copied;                     /* tokenizer/config files copied */
	uint64_t bytes;                 /* bytes of tensor data */
	uint64_t file_bytes;            /* GGUF: the whole file */
	int kept;                       /* GGUF: quantized tensors copied in their own type */
};

/* Write the model with the factors of `set` (NULL: all dense) as a Hugging Face folder. */
int rs_export_dense(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *dir, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause);
/* Write the factors of `set` and the plan (src->plan is required). */
int rs_export_factored(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *dir, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause);

/* Write the model with the factors of `set` (NULL: all dense) as one GGUF v3 file that
 * llama.cpp runs (docs/gguf.md): architecture "llama" (llama, mistral) or "qwen2" with its
 * hyperparameters, tensors under llama.cpp's names (q/k rows and biases in its interleaved
 * order for llama), the vocabulary of src->tok (tokenizer.ggml.*), and the plan under
 * rankscope.plan.*.  Factored matrices are written as B·A, the plan's mean-compensation biases
 * as bias tensors (every layer of the group, zeros where a matrix has none), refused where
 * llama.cpp's architecture reads no such bias (qwen2: o, gate, up, down).  Matrices in the
 * source's F32/F16/BF16, quantized ones copied as they are (F32 when factored), or all in
 * o->dtype (Q8_0: rows not a multiple of 32 in F16); norms and biases F32.  Atomic: written
 * to "<file>.tmp.XXXXXX" and renamed. */
int rs_export_gguf(const struct rs_export_src *src, const struct rs_compress_set *set,
    const char *file, const struct rs_export_opts *o, struct rs_export_report *rep,
    struct rs_job *job, char **cause);

/* A vocabulary-only GGUF file (no tensors) for tokenizer checks: every key of the GGUF
 * `source` but tokenizer.*, which is written from tok as for a model. */
int rs_export_gguf_vocab(const struct rs_tokenizer *tok, const char *source, const char *file,
    uint64_t *size, char **cause);

/* Non-zero when path is a factored export: a folder holding factors.safetensors, or a
 * .safetensors file whose metadata says "rankscope.kind": "factored". */
int rs_factored_probe(const char *path);

/* A factored export opened for loading. */
struct rs_factored {
	struct rs_model *model;         /* the base model (a caller taking it sets this NULL) */
	struct rs_tokenizer *tok;       /* its tokenizer or NULL (likewise) */
	char *base;                     /* the base model's path (likewise) */
	struct rs_planfile *plan;       /* the stored plan: ranks, method, alpha */
	struct rs_st *st;               /* the factors file */
	char *file;                     /* its path, for messages */
};

/* Open a factored export: its factors file, its base model (base: NULL for the path in the
 * file), refused when the identity differs, the base's tokenizer, and the plan. */
int rs_factored_open(const char *path, const char *base, struct rs_factored **out,
    char **cause);
/* The stored factors of plan matrix `index` (factored in f->plan) of model m (the base),
 * widened to float32: a (rank×cols), b (rows×rank) and bias (rows, or NULL when there is none);
 * the caller rs_free()s them. */
int rs_factored_pair(const struct rs_factored *f, const struct rs_model *m, int index,
    float **a, float **b, float **bias, char **cause);
void rs_factored_close(struct rs_factored *f);

/* Copy the tokenizer files of the folder of the model loaded from path (NULL: none) into dir;
 * returns how many were copied, or < 0 + cause. */
int rs_export_copy_tokenizer(const char *path, const char *dir, char **cause);

/* The config.json object of an export of m loaded from path: a Hugging Face source's own
 * config.json (every key it has kept), else one made from the model's config (GGUF, llama2.c),
 * with the members of the JSON object `extra` (NULL: none) merged in.  NULL + cause on a bad
 * source file, a bad extra, or out of memory; the caller json_decref()s it. */
struct json_t *rs_export_config_object(const struct rs_model *m, const char *path,
    const char *extra, char **cause);

#endif
