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
 *                          one, all F32 (the very arrays the forward pass ran); metadata
 *                          "rankscope.kind": "factored", "rankscope.version": "1",
 *                          "rankscope.plan" (the plan JSON: identity, method, calibration,
 *                          budget, ranks), "rankscope.base" (the source model's absolute path)
 *                          and "rankscope.base_identity"
 *   plan.json              the same plan, for people and `plan load`
 * Dense matrices are not copied: loading (rs_factored_load) opens the base model named in the
 * metadata, refuses it when its identity differs, restores the plan and method, and installs
 * the stored factors, so `ppl` reproduces the exported model exactly.
 *
 * Safety: everything is written into "<DIR>.tmp.XXXXXX" beside DIR and renamed to DIR at the end
 * (a failure or cancel removes the temporary folder); DIR must not exist or be an empty folder;
 * a DIR that is, or lies inside, the source model's folder is refused.  The source is only ever
 * read. */
#ifndef RS_EXPORT_H
#define RS_EXPORT_H

#include <stdint.h>

#include "compress.h"
#include "dtype.h"
#include "status.h"

struct json_t;

struct rs_session;

struct rs_export_opts {
	int dtype;                      /* enum rs_dtype F32/F16/BF16, or -1: the source's */
	void (*note)(void *ud, const char *line);
	void *ud;
};

struct rs_export_report {
	int tensors;                    /* tensors written */
	int factored;                   /* matrices written from factors */
	int biases;                     /* bias tensors added */
	int copied;                     /* tokenizer/config files copied */
	uint64_t bytes;                 /* bytes of tensor data */
};

/* Write the session's model under the plan whose factors are `set` (NULL: all dense). */
int rs_export_dense(struct rs_session *s, const struct rs_compress_set *set, const char *dir,
    const struct rs_export_opts *o, struct rs_export_report *rep, struct rs_job *job,
    char **cause);
/* Write the factors of `set` and the session's plan. */
int rs_export_factored(struct rs_session *s, const struct rs_compress_set *set, const char *dir,
    const struct rs_export_opts *o, struct rs_export_report *rep, struct rs_job *job,
    char **cause);

/* Non-zero when path is a factored export: a folder holding factors.safetensors, or a
 * .safetensors file whose metadata says "rankscope.kind": "factored". */
int rs_factored_probe(const char *path);
/* Load a factored export into the session (replacing its model): the base model (base: NULL
 * for the path in the file), its tokenizer, the plan, the method and the factors.  On failure
 * the session is unchanged. */
int rs_factored_load(struct rs_session *s, const char *path, const char *base,
    void (*note)(void *ud, const char *line), void *ud, char **cause);

/* The config.json object of an export: a Hugging Face source's own config.json (every key it
 * has kept), else one made from the model's config (GGUF, llama2.c).  NULL + cause on a bad
 * source file or out of memory; the caller json_decref()s it. */
struct json_t *rs_export_config_object(const struct rs_session *s, char **cause);

#endif
