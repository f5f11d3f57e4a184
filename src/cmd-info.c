/* cmd-info.c: what is loaded: architecture, shapes, parameter counts, tokenizer. */
#include "config.h"

#include <string.h>

#include "blas.h"
#include "cmd.h"
#include "dtype.h"
#include "gguf.h"
#include "memplan.h"
#include "model.h"
#include "plan.h"
#include "session.h"
#include "tokenizer.h"

/* What the heavy commands will need at this model's size, with their default settings. */
static void
info_memory(const struct rs_session *s, const struct rs_out *o)
{
	struct rs_memplan_opts mo;
	struct rs_memplan mp;
	char h1[32], h2[32], h3[32];
	int e;

	rs_memplan_defaults(s->model, s->plan, s->threads, &mo);
	rs_memplan_make(s->model, &mo, &mp);
	rs_out_printf(o, "memory:        %s available of %s; weights %s in the model's files, mapped "
	              "(read when used, given back after each job)\n",
	              rs_mem_human(h1, sizeof h1, mp.available),
	              rs_mem_human(h2, sizeof h2, mp.physical),
	              rs_mem_human(h3, sizeof h3, mp.weights));
	for (e = 0; e < RS_MEM_COUNT; e++) {
		const struct rs_memline *ln = &mp.op[e];
		rs_out_printf(o, "  %-22s %10s  %s%s%s: %s\n", rs_memop_name((enum rs_memop)e),
		              rs_mem_human(h1, sizeof h1, ln->bytes),
		              ln->bytes <= mp.available ? "fits" : "does not fit (",
		              ln->bytes <= mp.available ? "" : ln->fix,
		              ln->bytes <= mp.available ? "" : ")", ln->what);
	}
}

/* The plan a GGUF export was made under (its rankscope.plan.* keys), if it has one. */
static void
info_gguf_plan(const struct rs_session *s, const struct rs_out *o)
{
	struct rs_gguf *g;
	const char *method, *id;
	size_t ml, il;
	int64_t fact, ri;

	if (strcmp(rs_model_format(s->model), "gguf") != 0 ||
	    (g = rs_gguf_open(s->model_path, NULL)) == NULL)
		return;
	ri = rs_gguf_find_key(g, "rankscope.plan.ranks");
	if (rs_gguf_get_str(g, "rankscope.plan.method", &method, &ml, NULL) == 0 &&
	    rs_gguf_get_str(g, "rankscope.plan.base_identity", &id, &il, NULL) == 0 &&
	    rs_gguf_get_int(g, "rankscope.plan.factored", &fact, NULL) == 0 && ri >= 0)
		rs_out_printf(o, "plan:          method %.*s, %lld of %llu decoder matrices factored "
		              "(written as B*A) in this export of model %.*s (rankscope.plan.*)\n",
		              (int)(ml > 32 ? 32 : ml), method, (long long)fact,
		              (unsigned long long)rs_gguf_arr_n(g, ri), (int)(il > 32 ? 32 : il), id);
	rs_gguf_close(g);
}

static int
cmd_info_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct rs_session *s = ctx->session;
	const struct rs_out *o = ctx->out;

	if (s->model == NULL && s->tok == NULL)
		return rs_fail(&ctx->cause, RS_EINVAL, "info: nothing loaded (use 'load PATH')");
	rs_out_printf(o, "path:          %s\n", s->model_path);
	if (s->model != NULL) {
		const struct rs_model *m = s->model;
		const struct rs_model_config *c = rs_model_config(m);
		const struct rs_tensor *q = rs_model_tensor(m, 0, RS_T_Q);
		uint64_t lin = rs_model_linear_params(m), eh = rs_model_embed_head_params(m);

		rs_out_printf(o, "format:        %s, weights %s\n", rs_model_format(m),
		              q != NULL ? rs_dtype_name(q->dtype) : "?");
		rs_out_printf(o, "architecture:  %s\n", c->arch);
		rs_out_printf(o, "layers:        %d\n", c->n_layers);
		rs_out_printf(o, "hidden:        %d\n", c->dim);
		rs_out_printf(o, "heads:         %d query, %d key/value, head dim %d\n", c->n_heads,
		              c->n_kv_heads, c->head_dim);
		rs_out_printf(o, "intermediate:  %d\n", c->ffn_dim);
		rs_out_printf(o, "vocabulary:    %d\n", c->vocab);
		rs_out_printf(o, "context:       %d\n", c->ctx_len);
		rs_out_printf(o, "rope theta:    %g\n", c->rope_theta);
		rs_out_printf(o, "rms norm eps:  %g\n", c->rms_norm_eps);
		rs_out_printf(o, "embeddings:    %s\n", c->tied ? "tied (head = embed)" : "separate head");
		{
			static const char *const lname[RS_MAT_COUNT] = { "q", "k", "v", "o", "gate", "up",
			                                               "down" };
			char b[64] = "";
			int t;
			for (t = 0; t < RS_MAT_COUNT; t++)
				if (c->bias_mask & (1u << t)) {
					strcat(b, b[0] ? " " : "");
					strcat(b, lname[t]);
				}
			rs_out_printf(o, "biases:        %s\n", b[0] ? b : "none");
		}
		rs_out_printf(o, "parameters:    %llu in decoder linears (q k v o gate up down), "
		              "%llu in embeddings and head; %llu together\n",
		              (unsigned long long)lin, (unsigned long long)eh,
		              (unsigned long long)(lin + eh));
		rs_out_printf(o, "identity:      %016llx\n", (unsigned long long)rs_model_identity(m));
		info_gguf_plan(s, o);
		info_memory(s, o);
		rs_out_printf(o, "blas:          OpenBLAS %s kernels%s%s%s, %d threads\n",
		              rs_blas_kernels(), rs_blas_forced() != NULL ? " (OPENBLAS_CORETYPE=" : "",
		              rs_blas_forced() != NULL ? rs_blas_forced() : "",
		              rs_blas_forced() != NULL ? ")" : "", s->threads);
	}
	if (s->tok != NULL)
		rs_out_printf(o, "tokenizer:     %s, %zu tokens, bos %d, eos %d, pre-tokenizer %s, "
		              "from %s\n", rs_tokenizer_kind(s->tok), rs_tokenizer_n_vocab(s->tok),
		              (int)rs_tokenizer_bos(s->tok), (int)rs_tokenizer_eos(s->tok),
		              rs_tokenizer_pre(s->tok), rs_tokenizer_source(s->tok));
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_info_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_info_entry = {
	.name = "info",
	.alias = NULL,
	.usage = "",
	.summary = "show the loaded model's architecture, sizes and tokenizer",
	.help = "Shows the format, architecture and shapes of the loaded model, its parameter "
	        "counts (decoder linears separately from embeddings and head), its identity hash, "
	        "the plan a GGUF made by 'export gguf' was written under, and its tokenizer.",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_info_exec,
	.forms = cmd_info_forms,
};
