/* cmd-plan.c: show or reset the rank plan. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "model.h"
#include "pattern.h"
#include "plan.h"
#include "session.h"

static const struct rs_opt cmd_plan_opts[] = {
	{ "all", NULL, "with show: list dense matrices too" },
	{ NULL, NULL, NULL }
};

/* plan show [PATTERN] [--all] */
static int
plan_show(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const struct rs_plan *p = ctx->session->plan;
	const char *pattern = args->argc > 1 ? args->argv[1] : "*";
	int all = rs_args_has(args, "all") || args->argc > 1, i, shown = 0, rc;
	char line[512];

	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0)
		return rc;
	rs_out_printf(ctx->out, "%-10s %11s %7s %7s %12s\n", "matrix", "shape", "rank", "keep%",
	              "params");
	for (i = 0; i < rs_plan_count(p); i++) {
		int64_t m, n;
		int r = rs_plan_rank(p, i);
		char shape[32], rank[16];

		if (!rs_pattern_match(pattern, rs_plan_name(p, i)) || (!all && r == RS_PLAN_DENSE))
			continue;
		rs_plan_shape(p, i, &m, &n);
		snprintf(shape, sizeof shape, "%lldx%lld", (long long)m, (long long)n);
		if (r == RS_PLAN_DENSE)
			snprintf(rank, sizeof rank, "dense");
		else
			snprintf(rank, sizeof rank, "%d", r);
		rs_out_printf(ctx->out, "%-10s %11s %7s %7.1f %12llu\n", rs_plan_name(p, i), shape,
		              rank, 100.0 * (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i),
		              (unsigned long long)rs_plan_params_of(p, i));
		shown++;
	}
	if (shown == 0)
		rs_out_printf(ctx->out, "(every matrix%s is dense)\n", args->argc > 1 ? " selected" : "");
	rs_out_printf(ctx->out, "%d of %d decoder matrices factored, rank alignment %d\n",
	              rs_plan_n_compressed(p), rs_plan_count(p), rs_plan_align(p));
	rs_plan_budget_line(p, rs_model_embed_head_params(ctx->session->model), line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	return 0;
}

static int
cmd_plan_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_plan *p = ctx->session->plan;
	const char *sub = args->argc > 0 ? args->argv[0] : "show";
	int i;

	if (p == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plan: no plan (out of memory at load)");
	if (strcmp(sub, "show") == 0)
		return plan_show(ctx, args);
	if (strcmp(sub, "reset") == 0) {
		if (rs_plan_begin(p) != 0)
			return rs_fail(&ctx->cause, RS_ENOMEM, "plan: out of memory");
		for (i = 0; i < rs_plan_count(p); i++)
			rs_plan_set(p, i, RS_PLAN_DENSE, NULL);
		rs_plan_end(p);
		rs_out_printf(ctx->out, "plan: every matrix dense\n");
		return 0;
	}
	return rs_fail(&ctx->cause, RS_EINVAL, "plan: unknown subcommand '%s' (show, reset)", sub);
}

const struct rs_cmd_entry rs_cmd_plan_entry = {
	.name = "plan",
	.alias = NULL,
	.usage = "[show [PATTERN] [--all] | reset]",
	.summary = "show the rank plan, or reset it to dense",
	.help = "'plan show' lists the factored matrices (with PATTERN or --all, the dense ones too) "
	        "with shape, rank, the share of parameters kept and the parameter count, then the "
	        "totals: decoder linears kept, and the whole model with embeddings and head dense. "
	        "'plan reset' makes every matrix dense (one step for undo).",
	.opts = cmd_plan_opts,
	.min_args = 0,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_plan_exec,
};
