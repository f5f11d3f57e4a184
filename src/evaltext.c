/* evaltext.c: protocol, window and text of the perplexity-like commands. */
#include "config.h"

#include "evaltext.h"

#include <string.h>

#include "alloc.h"
#include "cmd.h"
#include "model.h"
#include "session.h"
#include "textfile.h"

int
rs_evaltext_open(struct rs_cmd_ctx *ctx, const struct rs_args *args, const char *name,
                 struct rs_evaltext *ev)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	const char *proto = rs_args_get(args, "protocol");
	long ctxlen, chunks;
	int rc;

	memset(ev, 0, sizeof *ev);
	if (proto == NULL || strcmp(proto, "chunked") == 0)
		ev->protocol = RS_PPL_CHUNKED;
	else if (strcmp(proto, "llama.cpp") == 0 || strcmp(proto, "llamacpp") == 0)
		ev->protocol = RS_PPL_LLAMACPP;
	else
		return rs_fail(&ctx->cause, RS_EINVAL, "%s: --protocol is chunked or llama.cpp, not '%s'",
		               name, proto);
	if ((rc = rs_args_int(args, "ctx", mc->ctx_len < 2048 ? mc->ctx_len : 2048,
	                      ev->protocol == RS_PPL_LLAMACPP ? 4 : 2, 1 << 20, &ctxlen,
	                      &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "chunks", 0, 0, 1L << 30, &chunks, &ctx->cause)) != 0)
		return rc;
	if (ctxlen > mc->ctx_len)
		rs_out_infof(ctx->out, "warning: window %ld is longer than the model's context %d\n",
		             ctxlen, mc->ctx_len);
	ev->ctx = (int)ctxlen;
	ev->chunks = (int)chunks;
	if ((rc = rs_textfile_tokens(s->tok, args->argv[0], &ev->ids, &ev->n_ids, NULL,
	                             &ctx->cause)) != 0)
		return rc;
	if (ev->n_ids < (size_t)ctxlen) {
		rs_free(ev->ids);
		ev->ids = NULL;
		return rs_fail(&ctx->cause, RS_EINVAL, "%s: %zu tokens, fewer than one window of %ld",
		               args->argv[0], ev->n_ids, ctxlen);
	}
	ev->windows = (int)(ev->n_ids / (size_t)ctxlen);
	if (chunks > 0 && chunks < ev->windows)
		ev->windows = (int)chunks;
	return 0;
}

int
rs_evaltext_rows(const struct rs_evaltext *ev, int target)
{
	return ev->ctx * (target / ev->ctx > 1 ? target / ev->ctx : 1);
}
