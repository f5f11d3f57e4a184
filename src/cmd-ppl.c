/* cmd-ppl.c: perplexity of the loaded model on a text, by a named protocol. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "evaltext.h"
#include "forward.h"
#include "memplan.h"
#include "model.h"
#include "plan.h"
#include "ppl.h"
#include "session.h"
#include "tokenizer.h"

static const struct rs_opt cmd_ppl_opts[] = {
	RS_EVALTEXT_OPTS,
	{ "log-logits", "N", "print logsumexp, top-5 and first logits of the first N positions" },
	{ NULL, NULL, NULL }
};

struct ppl_state {
	struct rs_cmd_ctx *ctx;
	int log_positions;      /* --log-logits */
	double running;         /* last running perplexity */
	int done;               /* windows finished */
};

/* Print running values as llama.cpp does: "[1]3.5357,[2]..." (a line break every 8). */
static void
ppl_on_chunk(void *ud, int chunk, int n_chunks, double running)
{
	struct ppl_state *st = ud;

	st->running = running;
	st->done = chunk + 1;
	rs_out_printf(st->ctx->out, "[%d]%.4f,%s", chunk + 1, running,
	              (chunk + 1) % 8 == 0 || chunk + 1 == n_chunks ? "\n" : "");
	rs_job_progress(st->ctx->job, chunk + 1, n_chunks, "ppl");
}

/* Print a note of the factor computation (a regularized covariance). */
static void
ppl_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_infof(ctx->out, "%s\n", line);
}

/* Log the first positions' logits of the first window (the reference file's columns). */
static int
ppl_on_logits(void *ud, int chunk, const int32_t *tokens, int n_tok, const float *logits,
              int vocab)
{
	struct ppl_state *st = ud;
	int p, i, j;

	if (chunk != 0)
		return 0;
	rs_out_printf(st->ctx->out, "# pos input_id next_id logsumexp | top5 (id:logit) | logits[0..7]\n");
	for (p = 0; p < st->log_positions && p + 1 < n_tok; p++) {
		const float *l = logits + (size_t)p * (size_t)vocab;
		int top[5] = { -1, -1, -1, -1, -1 };
		double mx = l[0], sum = 0;
		char line[512];
		size_t at = 0;

		for (i = 1; i < vocab; i++)
			if (l[i] > mx)
				mx = l[i];
		for (i = 0; i < vocab; i++)
			sum += exp((double)l[i] - mx);
		for (i = 0; i < vocab; i++) {
			for (j = 0; j < 5; j++) {
				if (top[j] < 0 || l[i] > l[top[j]]) {
					memmove(top + j + 1, top + j, (size_t)(4 - j) * sizeof top[0]);
					top[j] = i;
					break;
				}
			}
		}
		at += (size_t)snprintf(line + at, sizeof line - at, "%d %d %d %.6f |", p, (int)tokens[p],
		                       (int)tokens[p + 1], mx + log(sum));
		for (j = 0; j < 5 && top[j] >= 0; j++)
			at += (size_t)snprintf(line + at, sizeof line - at, " %d:%.6f", top[j], l[top[j]]);
		at += (size_t)snprintf(line + at, sizeof line - at, " |");
		for (i = 0; i < 8 && i < vocab; i++)
			at += (size_t)snprintf(line + at, sizeof line - at, " %.6f", l[i]);
		rs_out_printf(st->ctx->out, "%s\n", line);
	}
	return 0;
}

static int
cmd_ppl_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	struct rs_evaltext ev;
	struct rs_ppl_opts o;
	struct rs_ppl_result res;
	struct ppl_state st;
	struct rs_engine_pass pass;
	struct rs_compress_counters c0, c1;
	struct timespec t0, t1;
	long logpos;
	int rc;
	double secs;
	char desc[512];

	memset(&o, 0, sizeof o);
	memset(&st, 0, sizeof st);
	if ((rc = rs_args_int(args, "log-logits", 0, 0, 1 << 20, &logpos, &ctx->cause)) != 0 ||
	    (rc = rs_evaltext_open(ctx, args, "ppl", &ev)) != 0)
		return rc;
	o.protocol = ev.protocol;
	/* The current plan: factored matrices run as two products, replaced ones as the plugin's. */
	rs_engine_desc(s, desc, sizeof desc);
	rs_out_printf(ctx->out, "ppl: evaluating %s\n", desc);
	rs_engine_print_budget(s, ctx->out, "ppl");
	{
		/* the forward state, the logits and the plan's factors must fit (memplan.h) */
		struct rs_memplan_opts mo = { .ppl_ctx = ev.ctx, .plan = s->plan };
		struct rs_memline fw, fac;
		char fix[300];
		rs_memplan_line(s->model, &mo, RS_MEM_PPL, &fw);
		rs_memplan_line(s->model, &mo, RS_MEM_FACTORS, &fac);
		snprintf(fix, sizeof fix, "%s%s%s", fw.fix, fac.bytes > 0 ? "; " : "",
		    fac.bytes > 0 ? fac.fix : "");
		if ((rc = rs_memplan_check("ppl", fw.bytes + fac.bytes, fix, &ctx->cause)) != 0) {
			rs_free(ev.ids);
			return rc;
		}
	}
	memset(&c0, 0, sizeof c0);
	if (s->compress != NULL)
		rs_compress_get_counters(s->compress, &c0);
	if ((rc = rs_engine_open(s, rs_evaltext_rows(&ev, RS_PPL_ROWS_TARGET), ev.ctx, 0, ppl_note,
	                         ctx, ctx->out, &pass, ctx->job, &ctx->cause)) != 0) {
		rs_free(ev.ids);
		return rc;
	}
	if (pass.n_factored > 0) {
		rs_compress_get_counters(s->compress, &c1);
		rs_out_infof(ctx->out, "factors: %llu decompositions run, %llu pairs cut from cached "
		             "factors, %llu from loaded factors; %.1f MiB of factors cached\n",
		             (unsigned long long)(c1.decompositions - c0.decompositions),
		             (unsigned long long)(c1.hits - c0.hits),
		             (unsigned long long)(c1.fixed_hits - c0.fixed_hits),
		             (double)c1.held_bytes / 1048576.0);
	}
	o.ctx = ev.ctx;
	o.max_chunks = ev.chunks;
	o.bos = rs_tokenizer_bos(s->tok);
	o.on_chunk = ppl_on_chunk;
	o.dist = s->dist;
	o.ud = &st;
	if (logpos > 0) {
		o.on_logits = ppl_on_logits;
		st.log_positions = (int)logpos;
	}
	st.ctx = ctx;
	rs_out_printf(ctx->out, "ppl: protocol %s, window %ld tokens, %d windows, %lld tokens "
	              "scored (text %zu tokens with BOS), %d threads\n",
	              rs_ppl_protocol_name(o.protocol), (long)ev.ctx, ev.windows,
	              (long long)ev.windows * (o.protocol == RS_PPL_CHUNKED ? ev.ctx - 1 : ev.ctx / 2 - 1),
	              ev.n_ids, s->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = rs_ppl_run(pass.f, ev.ids, ev.n_ids, &o, &res, ctx->job, &ctx->cause);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	rs_engine_close(&pass);
	rs_free(ev.ids);
	if (rc == RS_ECANCEL) {
		rs_free(ctx->cause);
		ctx->cause = st.done > 0 ?
		    rs_strdupf("ppl: cancelled after %d of %d windows (running PPL %.4f)", st.done,
		               ev.windows, st.running) :
		    rs_strdupf("ppl: cancelled before the first window finished");
		return rc;
	}
	if (rc != 0)
		return rc;
	rs_out_printf(ctx->out, "Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.error);
	rs_out_infof(ctx->out, "ppl: %lld tokens scored in %d windows, %.2f s, %.0f tokens/s\n",
	             (long long)res.n_scored, res.n_chunks, secs,
	             secs > 0 ? (double)res.n_chunks * (double)ev.ctx / secs : 0.0);
	rs_session_set_ppl(s, res.ppl, rs_ppl_protocol_name(o.protocol), ev.ctx);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_ppl_forms[] = {
	{ NULL, "FILE" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_ppl_entry = {
	.name = "ppl",
	.alias = "perplexity",
	.usage = "FILE [--protocol chunked|llama.cpp] [--ctx N] [--chunks N] [--log-logits N]",
	.summary = "perplexity of the model (under the current plan) on a text file",
	.help = "Tokenizes FILE once (one BOS at the start) and scores it. Protocol 'chunked' (the "
	        "papers'): non-overlapping windows of N tokens, the last partial window dropped, "
	        "every token but the first of each window scored. Protocol 'llama.cpp': windows of "
	        "N tokens whose first token is replaced by BOS, only the second half of each window "
	        "scored. Prints the running perplexity per window and ends with 'Final estimate: "
	        "PPL = X +/- Y' (the standard error of the mean token log-likelihood carried through "
	        "exp). When the plan factors matrices, they are evaluated as the plan says: each "
	        "factored matrix runs as two products with the factors of the current method "
	        "('set method'); the first line names what is evaluated. Ctrl-C cancels and keeps "
	        "the session.",
	.opts = cmd_ppl_opts,
	.min_args = 1,
	.max_args = 1,
	.flags = RS_CMD_NEEDS_MODEL | RS_CMD_NEEDS_TOKENIZER | RS_CMD_JOB,
	.exec = cmd_ppl_exec,
	.forms = cmd_ppl_forms,
};
