/* cmd-budget.c: the parameter budget every allocator meets. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "model.h"
#include "plan.h"
#include "rankalloc.h"
#include "session.h"

static const struct rs_opt cmd_budget_opts[] = {
	{ "keep", "RATIO", "keep this fraction of the decoder-linear parameters (0 < RATIO <= 1)" },
	{ "params", "N", "keep N decoder-linear parameters (3.5M = 3.5e6, suffixes as sizes)" },
	{ "clear", NULL, "remove the budget" },
	{ NULL, NULL, NULL }
};

/* Print the budget and where the current plan stands against it. */
static void
budget_show(struct rs_cmd_ctx *ctx)
{
	struct rs_session *s = ctx->session;
	struct rs_budget b = { s->budget_keep, s->budget_params };
	uint64_t target, step, P;
	char line[512];

	if (b.keep <= 0 && b.params == 0) {
		rs_out_printf(ctx->out, "budget: none (set one with 'budget --keep RATIO' or "
		    "'budget --params N')\n");
		return;
	}
	if (s->plan == NULL) {
		if (b.keep > 0)
			rs_out_printf(ctx->out, "budget: keep %.4f of the decoder-linear parameters "
			    "(no model loaded)\n", b.keep);
		else
			rs_out_printf(ctx->out, "budget: %llu decoder-linear parameters (no model "
			    "loaded)\n", (unsigned long long)b.params);
		return;
	}
	target = rs_budget_target(&b, s->plan);
	step = rs_rankalloc_step(s->plan, NULL);
	rs_budget_line(s->plan, target, step, line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	if (b.params > rs_plan_dense_params(s->plan))
		rs_out_printf(ctx->out, "budget: above the dense model's %llu: every allocator "
		    "leaves the plan dense\n", (unsigned long long)rs_plan_dense_params(s->plan));
	P = rs_plan_params(s->plan);
	rs_out_printf(ctx->out, "budget: the current plan keeps %llu (keep %.4f): %s\n",
	    (unsigned long long)P, (double)P / (double)rs_plan_dense_params(s->plan),
	    P > target ? "over the budget" : P + step > target ? "meets it" :
	    "under it by more than one step");
}

static int
cmd_budget_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const char *keepw = rs_args_get(args, "keep"), *paramsw = rs_args_get(args, "params");
	int clear = rs_args_has(args, "clear"), rc;

	if ((keepw != NULL) + (paramsw != NULL) + clear > 1)
		return rs_fail(&ctx->cause, RS_EINVAL, "budget: give one of --keep, --params, "
		    "--clear");
	if (clear) {
		s->budget_keep = 0;
		s->budget_params = 0;
	} else if (keepw != NULL) {
		double keep;
		if ((rc = rs_args_double(args, "keep", 1, 0.0, 1.0, &keep, &ctx->cause)) != 0)
			return rc;
		if (!(keep > 0))
			return rs_fail(&ctx->cause, RS_EINVAL, "budget: --keep must be above 0");
		s->budget_keep = keep;
		s->budget_params = 0;
	} else if (paramsw != NULL) {
		uint64_t n;
		if ((rc = rs_args_size(args, "params", RS_SIZE_COUNT, 0, 1, UINT64_MAX, &n,
		    &ctx->cause)) != 0)
			return rc;
		s->budget_keep = 0;
		s->budget_params = n;
	}
	budget_show(ctx);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_budget_forms[] = {
	{ NULL, "" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_budget_entry = {
	.name = "budget",
	.alias = NULL,
	.usage = "[--keep RATIO | --params N | --clear]",
	.summary = "set or show the parameter budget the allocators meet",
	.help = "Sets the budget of the rank allocators ('alloc'): --keep RATIO keeps that "
	        "fraction of the decoder-linear parameters (the seven matrices of every layer; "
	        "embeddings and head are not counted and stay dense), --params N that many "
	        "(K, M, G, T: powers of 1000; Ki, Mi, Gi, Ti: powers of 1024, as every size option "
	        "reads them). Every allocator meets it within one "
	        "rank-alignment step and never exceeds it: target - step < params <= target, "
	        "step = the largest a*(m+n) of the matrices it may change (a = 'set rank-align'). "
	        "Without options: shows the budget and whether the current plan meets it.",
	.opts = cmd_budget_opts,
	.min_args = 0,
	.max_args = 0,
	.flags = 0,
	.exec = cmd_budget_exec,
	.forms = cmd_budget_forms,
};
