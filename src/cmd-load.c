/* cmd-load.c: open a model (weights + tokenizer), or only a vocabulary.  The previous model
 * stays loaded until the new one has opened completely: a failed load loses nothing. */
#include "config.h"

#include "alloc.h"
#include "cmd.h"
#include "engine.h"
#include "compress.h"
#include "dtype.h"
#include "export.h"
#include "model.h"
#include "plan.h"
#include "planfile.h"
#include "session.h"
#include "tokenizer.h"

static const struct rs_opt cmd_load_opts[] = {
	{ "vocab-only", NULL, "load only the tokenizer of PATH (no weights)" },
	{ "tokenizer", "FILE", "take the tokenizer from FILE instead of beside the model" },
	{ NULL, NULL, NULL }
};

/* Load a factored export (export.h) into the session, replacing its model: the base model,
 * its tokenizer, the plan, the method and the factors.  On failure before the model changes
 * the session is unchanged; a failure while installing factors leaves the base model with an
 * all-dense plan. */
static int
load_factored(struct rs_session *s, const char *path, char **cause)
{
	struct rs_factored *f;
	struct rs_compress *c;
	char *src;
	int rc, i, r;

	if ((rc = rs_factored_open(path, NULL, &f, cause)) != 0)
		return rc;
	if ((src = rs_strdup(path)) == NULL) {
		rs_factored_close(f);
		return rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
	}
	/* From here the session changes. */
	rs_session_set_model(s, f->model, f->tok, f->base);
	f->model = NULL;
	f->tok = NULL;
	f->base = NULL;
	if (s->plan == NULL) {
		rc = rs_fail(cause, RS_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if ((rc = rs_planfile_apply(f->plan, s->plan, cause)) != 0)
		goto out;
	s->method = f->plan->method;
	s->asvd_alpha = f->plan->alpha;
	rs_free(s->plan_source);
	s->plan_source = src;
	src = NULL;
	rs_session_stamp(s, &s->plan_source_stamp);
	if ((c = rs_engine_compress(s, cause)) == NULL) {
		rc = RS_ENOMEM;
		goto out;
	}
	for (i = 0; i < f->plan->n; i++) {
		float *a, *b, *bias;

		if (f->plan->ranks[i] == RS_PLAN_DENSE)
			continue;
		if ((rc = rs_factored_pair(f, s->model, i, &a, &b, &bias, cause)) == 0)
			rc = rs_compress_put_fixed(c, i, f->plan->method, f->plan->alpha,
			    f->plan->ranks[i], a, b, bias, cause);
		rs_free(a);
		rs_free(b);
		rs_free(bias);
		if (rc != 0) {
			/* leave no half-loaded plan behind: a dense plan and no factors */
			rs_compress_clear_fixed(c);
			for (r = 0; r < rs_plan_count(s->plan); r++)
				rs_plan_set(s->plan, r, RS_PLAN_DENSE, NULL);
			goto out;
		}
	}
	rc = 0;
out:
	rs_factored_close(f);
	rs_free(src);
	return rc;
}

/* Print a one-line summary of what was loaded. */
static void
load_summary(struct rs_cmd_ctx *ctx, const struct rs_model *m, const struct rs_tokenizer *t)
{
	if (m != NULL) {
		const struct rs_model_config *c = rs_model_config(m);
		const struct rs_tensor *q = rs_model_tensor(m, 0, RS_T_Q);
		rs_out_printf(ctx->out,
		    "model: %s (%s, %s), %d layers, dim %d, heads %d/%d, ffn %d, vocab %d, ctx %d\n",
		    c->arch, rs_model_format(m), q != NULL ? rs_dtype_name(q->dtype) : "?",
		    c->n_layers, c->dim, c->n_heads, c->n_kv_heads, c->ffn_dim, c->vocab,
		    c->ctx_len);
	}
	if (t != NULL)
		rs_out_printf(ctx->out, "tokenizer: %s, %zu tokens, pre-tokenizer %s (%s)\n",
		              rs_tokenizer_kind(t), rs_tokenizer_n_vocab(t), rs_tokenizer_pre(t),
		              rs_tokenizer_source(t));
}

static int
cmd_load_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const char *path = args->argv[0], *tokpath = rs_args_get(args, "tokenizer");
	struct rs_model *m = NULL;
	struct rs_tokenizer *t = NULL;
	char *owned, *tcause = NULL;

	/* A factored export (export.h): its base model, plan and factors. */
	if (!rs_args_has(args, "vocab-only") && tokpath == NULL && rs_factored_probe(path)) {
		int rc = load_factored(ctx->session, path, &ctx->cause);
		if (rc != 0)
			return rc;
		ctx->reactions |= RS_REACT_MODEL;
		load_summary(ctx, ctx->session->model, ctx->session->tok);
		rs_out_printf(ctx->out, "factored: %s on base %s: %d of %d decoder matrices "
		    "factored\n", path, ctx->session->model_path,
		    rs_plan_n_compressed(ctx->session->plan), rs_plan_count(ctx->session->plan));
		return 0;
	}
	if (!rs_args_has(args, "vocab-only")) {
		if ((m = rs_model_open(path, &ctx->cause)) == NULL)
			return RS_EFORMAT;
	}
	t = rs_tokenizer_open(tokpath != NULL ? tokpath : path, &tcause);
	if (t == NULL && (m == NULL || tokpath != NULL)) {
		/* Nothing usable, or an explicitly named tokenizer failed. */
		rs_model_close(m);
		ctx->cause = tcause;
		return RS_EFORMAT;
	}
	if (t == NULL) {
		rs_out_infof(ctx->out, "warning: no tokenizer (%s); 'ppl' and 'tokenize' need one: "
		             "load --tokenizer FILE\n", tcause != NULL ? tcause : "unknown");
	} else if (m != NULL && rs_tokenizer_n_vocab(t) > (size_t)rs_model_config(m)->vocab) {
		/* the message first: it reads both, which are freed next */
		rs_fail(&ctx->cause, RS_EFORMAT,
		    "%s: tokenizer has %zu tokens but the model's vocabulary is %d", path,
		    rs_tokenizer_n_vocab(t), rs_model_config(m)->vocab);
		rs_model_close(m);
		rs_tokenizer_free(t);
		rs_free(tcause);
		return RS_EFORMAT;
	}
	rs_free(tcause);
	if ((owned = rs_strdup(path)) == NULL) {
		rs_model_close(m);
		rs_tokenizer_free(t);
		return rs_fail(&ctx->cause, RS_ENOMEM, "load: out of memory");
	}
	rs_session_set_model(ctx->session, m, t, owned);
	ctx->reactions |= RS_REACT_MODEL;
	load_summary(ctx, m, t);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_load_forms[] = {
	{ NULL, "PATH" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_load_entry = {
	.name = "load",
	.alias = "open",
	.usage = "[--vocab-only] [--tokenizer FILE] PATH",
	.summary = "open a model (HF folder, GGUF, llama2.c .bin) or a vocabulary",
	.help = "Opens a Hugging Face folder (config.json and safetensors, sharded or not), a GGUF "
	        "file (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K) or a llama2.c checkpoint with its "
	        "tokenizer.bin. Weights stay memory-mapped in their own dtype. Every size in the "
	        "file is checked first; a bad file is refused with one line naming the file and "
	        "the problem, and the previous model stays loaded. PyTorch pickles are never "
	        "opened.",
	.opts = cmd_load_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = RS_CMD_JOB,
	.exec = cmd_load_exec,
	.forms = cmd_load_forms,
};
