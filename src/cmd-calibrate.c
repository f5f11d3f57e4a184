/* cmd-calibrate.c: collect the input statistics of every layer from a calibration text. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "analysis.h"
#include "cache.h"
#include "calib.h"
#include "cmd.h"
#include "engine.h"
#include "forward.h"
#include "memplan.h"
#include "model.h"
#include "session.h"
#include "textfile.h"
#include "tokenizer.h"

static const struct rs_opt cmd_calibrate_opts[] = {
	{ "ctx", "N", "window length (default: the model's context, at most 2048)" },
	{ "max-tokens", "N", "use at most N tokens, whole windows (default 65536)" },
	{ "groups", "G", "pool the statistics over G groups of windows (default min(32, windows))" },
	{ "memory", "BYTES", "budget for accumulators and hidden states, e.g. 2GiB (default: half the RAM)" },
	{ NULL, NULL, NULL }
};
/* Print a cache note. */
static void
calib_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_infof(ctx->out, "%s\n", line);
}

static int
cmd_calibrate_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	const char *path = args->argv[0];
	struct rs_calib_params p;
	struct rs_calib_report rep;
	const struct rs_calib_plan *pl;
	struct rs_calib *c = NULL;
	struct timespec t0, t1;
	int32_t *ids = NULL;
	size_t n_ids = 0;
	uint64_t text_hash;
	long ctxlen, maxtok, groups;
	char *cause = NULL, h1[32], h2[32], h3[32], h4[32], h5[32];
	int rc, windows;
	double secs;

	memset(&p, 0, sizeof p);
	if ((rc = rs_args_int(args, "ctx", mc->ctx_len < 2048 ? mc->ctx_len : 2048, 2, 1 << 20,
	    &ctxlen, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "max-tokens", RS_CALIB_DEFAULT_TOKENS, 2, 1L << 40, &maxtok, &ctx->cause)) != 0 ||
	    (rc = rs_args_int(args, "groups", 0, 1, 1 << 20, &groups, &ctx->cause)) != 0)
		return rc;
	if ((rc = rs_args_size(args, "memory", RS_SIZE_BYTES, rs_calib_default_memory(), 1,
	    UINT64_MAX, &p.memory, &ctx->cause)) != 0)
		return rc;
	if (ctxlen > mc->ctx_len)
		rs_out_infof(ctx->out, "warning: window %ld is longer than the model's context %d\n",
		    ctxlen, mc->ctx_len);
	if ((rc = rs_textfile_tokens(s->tok, path, &ids, &n_ids, &text_hash, &ctx->cause)) != 0)
		return rc;
	windows = (int)((n_ids < (size_t)maxtok ? n_ids : (size_t)maxtok) / (size_t)ctxlen);
	if (windows < 1) {
		rs_free(ids);
		return rs_fail(&ctx->cause, RS_EINVAL, "%s: %zu tokens, fewer than one window of %ld",
		    path, n_ids, ctxlen);
	}
	p.ctx = (int)ctxlen;
	p.max_tokens = maxtok;
	p.groups = groups > 0 ? (int)groups : (windows < RS_CALIB_DEFAULT_GROUPS ? windows :
	    RS_CALIB_DEFAULT_GROUPS);
	if (s->cache == NULL && (s->cache = rs_cache_open(NULL, &cause)) == NULL) {
		rs_out_infof(ctx->out, "warning: no cache (%s): statistics stay in memory\n",
		    cause != NULL ? cause : "?");
		rs_free(cause);
	}
	p.cache = s->cache;
	p.dist = s->dist;
	if ((c = rs_calib_new(s->model, text_hash, n_ids, &p, &ctx->cause)) == NULL) {
		rs_free(ids);
		return RS_EINVAL;
	}
	pl = rs_calib_get_plan(c);
	if ((rc = rs_memplan_check("calibrate", pl->need_bytes, "a smaller --memory spills the "
	    "hidden states to the cache directory; --groups 1 halves the accumulators",
	    &ctx->cause)) != 0) {
		rs_calib_free(c);
		rs_free(ids);
		return rc;
	}
	rs_out_printf(ctx->out, "calibrate: %s, %d windows of %d tokens (%" PRId64 " of %zu tokens "
	    "with BOS), %d group%s\n", path, pl->windows, p.ctx, pl->tokens, n_ids, pl->groups,
	    pl->groups == 1 ? "" : "s");
	rs_out_printf(ctx->out, "calibrate: plan: one sweep, layer by layer; accumulators %s per "
	    "layer, hidden states %s %s, %s in all with the forward state; budget %s; statistics "
	    "%s (%s)\n", rs_mem_human(h1, sizeof h1, pl->layer_bytes),
	    rs_mem_human(h2, sizeof h2, pl->spill ? pl->spill_bytes : pl->hidden_bytes),
	    pl->spill ? "spilled to a file in the cache directory" : "in memory",
	    rs_mem_human(h5, sizeof h5, pl->need_bytes), rs_mem_human(h3, sizeof h3, pl->budget),
	    rs_mem_human(h4, sizeof h4, pl->stats_bytes),
	    pl->hold ? "held in memory and cached" : "cached, read back per layer when needed");
	rs_forward_set_threads(s->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = rs_calib_run(c, ids, s->cache, calib_note, ctx, &rep, ctx->job, &ctx->cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	rs_free(ids);
	if (rc != 0) {
		if (rc == RS_ECANCEL) {
			rs_free(ctx->cause);
			ctx->cause = rs_strdupf("calibrate: cancelled; %d layer%s finished and cached "
			    "(a rerun resumes)", rep.layers_computed, rep.layers_computed == 1 ? "" : "s");
		}
		rs_calib_free(c);
		return rc;
	}
	if (rep.resumed_at > 0)
		rs_out_printf(ctx->out, "calibrate: resumed at layer %d from the spilled hidden "
		    "states of an interrupted run\n", rep.resumed_at);
	rs_out_printf(ctx->out, "calibrate: %d layers computed in %d pass%s (%" PRId64 " tokens "
	    "through the model), %d from cache; %.2f s\n", rep.layers_computed, rep.passes,
	    rep.passes == 1 ? "" : "es", rep.tokens_run, rep.layers_cached, secs);
	rs_engine_set_calib(s, c);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_calibrate_forms[] = {
	{ NULL, "FILE" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_calibrate_entry = {
	.name = "calibrate",
	.alias = NULL,
	.usage = "FILE [--ctx N] [--max-tokens N] [--groups G] [--memory BYTES]",
	.summary = "collect per-layer input statistics from a calibration text",
	.help = "Tokenizes FILE once (one BOS at the start), cuts it into non-overlapping windows "
	        "of N tokens as chunked perplexity does (at most --max-tokens tokens, whole "
	        "windows), runs them through the uncompressed model and collects, per layer, the "
	        "mean and covariance of the four inputs (attention: q,k,v; o; MLP: gate,up; down), "
	        "pooled with equal weight over G groups of consecutive windows. One sweep, layer by "
	        "layer: every window goes through a layer while its inputs are accumulated, then "
	        "the layer's statistics are stored and freed. The memory budget holds one layer's "
	        "accumulators and the hidden states of all tokens, which are spilled to a file in "
	        "the cache directory when they do not fit; the plan is printed. Statistics are "
	        "cached by model, text, window, tokens and groups; a rerun reads them back, and a "
	        "rerun after a kill resumes from the spilled hidden states of the last finished "
	        "layer. 'spectra --kind feature' uses them. Ctrl-C cancels; finished layers stay "
	        "cached.",
	.opts = cmd_calibrate_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER | RS_CMD_JOB,
	.exec = cmd_calibrate_exec,
	.forms = cmd_calibrate_forms,
};
