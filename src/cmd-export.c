/* cmd-export.c: write the model under the current plan, dense or factored. */
#include "config.h"

#include <string.h>
#include <time.h>

#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "dtype.h"
#include "export.h"
#include "model.h"
#include "plan.h"
#include "session.h"
#include "tokenizer.h"

static const struct rs_opt cmd_export_opts[] = {
	{ "dtype", "f32|f16|bf16|q8_0", "tensor or factor dtype (default: the source's; F32 if "
	  "quantized; q8_0 for gguf only)" },
	{ NULL, NULL, NULL }
};

/* Print a note from the factor computation or the export. */
static void
export_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_infof(ctx->out, "%s\n", line);
}

static int
cmd_export_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const char *kind = args->argv[0], *dir = args->argv[1], *dt = rs_args_get(args, "dtype");
	enum { K_DENSE, K_FACTORED, K_GGUF } k;
	struct rs_compress_set *set = NULL;
	struct rs_export_opts o;
	struct rs_export_src src;
	struct rs_export_report rep;
	struct timespec t0, t1;
	char desc[512];
	int rc;

	memset(&o, 0, sizeof o);
	o.dtype = -1;
	o.note = export_note;
	o.ud = ctx;
	if (strcmp(kind, "dense") == 0)
		k = K_DENSE;
	else if (strcmp(kind, "factored") == 0)
		k = K_FACTORED;
	else if (strcmp(kind, "gguf") == 0)
		k = K_GGUF;
	else
		return rs_fail(&ctx->cause, RS_EINVAL, "export: 'dense', 'factored' or 'gguf', not "
		               "'%s'", kind);
	if (dt != NULL) {
		if (strcmp(dt, "f32") == 0 || strcmp(dt, "F32") == 0)
			o.dtype = RS_DT_F32;
		else if (strcmp(dt, "f16") == 0 || strcmp(dt, "F16") == 0)
			o.dtype = RS_DT_F16;
		else if (strcmp(dt, "bf16") == 0 || strcmp(dt, "BF16") == 0)
			o.dtype = RS_DT_BF16;
		else if (k == K_GGUF && (strcmp(dt, "q8_0") == 0 || strcmp(dt, "Q8_0") == 0))
			o.dtype = RS_DT_Q8_0;
		else
			return rs_fail(&ctx->cause, RS_EUSAGE, "export: --dtype is f32, f16, bf16%s, not "
			               "'%s'", k == K_GGUF ? " or q8_0" : " (q8_0: gguf only)", dt);
	}
	if (s->model == NULL && k == K_GGUF && s->tok != NULL) {
		uint64_t size = 0;
		if ((rc = rs_export_gguf_vocab(s->tok, s->model_path, dir, &size,
		    &ctx->cause)) != 0)
			return rc;
		rs_out_printf(ctx->out, "export gguf: wrote %s: the vocabulary only (%zu tokens), "
		              "%llu bytes\n", dir, rs_tokenizer_n_vocab(s->tok),
		              (unsigned long long)size);
		return 0;
	}
	if (s->model == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "export: no model loaded (use 'load PATH')");
	if (s->plan == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "export: no plan");
	rs_engine_export_src(s, &src);
	src.tok = s->tok;
	rs_engine_desc(s, desc, sizeof desc);
	rs_out_printf(ctx->out, "export %s: %s\n", kind, desc);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = rs_engine_build(s, export_note, ctx, &set, ctx->job, &ctx->cause)) != 0)
		return rc;
	if (k == K_DENSE)
		rc = rs_export_dense(&src, set, dir, &o, &rep, ctx->job, &ctx->cause);
	else if (k == K_FACTORED)
		rc = rs_export_factored(&src, set, dir, &o, &rep, ctx->job, &ctx->cause);
	else
		rc = rs_export_gguf(&src, set, dir, &o, &rep, ctx->job, &ctx->cause);
	rs_compress_set_free(set);
	if (rc != 0)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (k == K_GGUF) {
		rs_out_printf(ctx->out, "export gguf: wrote %s: %d tensors (%d from factors, %d biases "
		              "added, %d quantized kept), %.1f MiB (%llu bytes), %.2f s\n", dir,
		              rep.tensors, rep.factored, rep.biases, rep.kept,
		              (double)rep.file_bytes / 1048576.0, (unsigned long long)rep.file_bytes,
		              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec -
		              t0.tv_nsec));
		return 0;
	}
	rs_out_printf(ctx->out, "export %s: wrote %s: %d tensors (%d from factors, %d biases), "
	              "%.1f MiB of tensor data%s%s, %.2f s\n", kind, dir, rep.tensors, rep.factored,
	              rep.biases, (double)rep.bytes / 1048576.0, k == K_DENSE ? ", files copied: " : "",
	              k == K_DENSE ? (rep.copied > 0 ? "tokenizer/config" : "none") : "",
	              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	if (k == K_FACTORED)
		rs_out_printf(ctx->out, "export factored: 'load %s' opens the base model %s with "
		              "these factors\n", dir, s->model_path);
	return 0;
}

static const char *const cmd_export_words[] = { "dense", "factored", "gguf", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_export_forms[] = {
	{ "dense", "DIR" },
	{ "factored", "DIR" },
	{ "gguf", "FILE" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_export_entry = {
	.name = "export",
	.alias = NULL,
	.usage = "dense|factored DIR | gguf FILE [--dtype f32|f16|bf16|q8_0]",
	.summary = "write the model under the current plan (HF folder, factors, or GGUF)",
	.help = "'export dense DIR' writes a complete Hugging Face folder: config.json, "
	        "model.safetensors with every factored matrix reconstructed as B*A (in the source "
	        "dtype unless --dtype), the tokenizer files copied; loadable by rankscope and by "
	        "Hugging Face tools. With method feature the mean-compensation biases become bias "
	        "tensors with attention_bias/mlp_bias set (LLaMA only), which both Hugging Face and "
	        "rankscope's loader read. 'export factored DIR' writes DIR/factors.safetensors with "
	        "the factor pairs and biases in the source dtype (BF16/F16; F32 for F32 or quantized "
	        "sources) unless --dtype, the plan in the header metadata, and DIR/plan.json; 'load "
	        "DIR' opens the base model it names with these factors (16-bit factors are the "
	        "in-memory ones rounded; --dtype f32 reloads exactly). 'export gguf FILE' writes "
	        "one GGUF v3 file that llama.cpp runs: factored matrices as B*A, the "
	        "architecture's metadata, the vocabulary and the plan (rankscope.plan.*); feature "
	        "biases become bias tensors (llama; refused for qwen2's o/gate/up/down, which "
	        "llama.cpp does not read); --dtype q8_0 quantizes the matrices (F16 where a row is "
	        "not a multiple of 32); a quantized source's untouched matrices keep their type "
	        "unless --dtype. The folders are written to DIR.tmp.XXXXXX and renamed (one a "
	        "killed export left is removed by the next export to DIR); DIR must be new or empty "
	        "and outside the source model's folder. FILE is written to FILE.tmp.XXXXXX and "
	        "renamed over FILE; it must not be the source or lie in its folder. After 'load "
	        "--vocab-only FILE.gguf' it writes the vocabulary alone (the source's other keys, "
	        "no tensors), for tokenizer checks. A refused or failed export exits 1. The GGUF "
	        "keys and the checks against llama.cpp are in docs/gguf.md.",
	.opts = cmd_export_opts,
	.min_args = 2,
	.max_args = 2,
	.flags = RS_CMD_JOB,   /* gguf also writes a vocabulary alone (load --vocab-only) */
	.exec = cmd_export_exec,
	.words = cmd_export_words,
	.forms = cmd_export_forms,
};
