/* cmd-rank.c: set the rank of the matrices a pattern selects. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "model.h"
#include "pattern.h"
#include "plan.h"
#include "rankalloc.h"
#include "session.h"

static const struct rs_opt cmd_rank_opts[] = {
	{ "keep", "RATIO", "rank keeping this fraction of each matrix's parameters (>= 1: dense)" },
	{ "energy", "E", "smallest rank keeping energy E (0..1) of the covariance energy" },
	{ NULL, NULL, NULL }
};

/* Parse the rank word: "dense", "64", "+8", "-8".  *relative set for +/-. */
static int
rank_parse(const char *w, long *value, int *relative, char **cause)
{
	char *end;

	*relative = 0;
	if (strcmp(w, "dense") == 0) {
		*value = RS_PLAN_DENSE;
		return 0;
	}
	*relative = w[0] == '+' || w[0] == '-';
	errno = 0;
	*value = strtol(w, &end, 10);
	if (errno != 0 || end == w || *end != '\0')
		return rs_fail(cause, RS_EUSAGE, "rank: '%s' is not a rank (a number, +N, -N or dense)", w);
	if (!*relative && *value < 1)
		return rs_fail(cause, RS_EINVAL, "rank: %ld: a rank is at least 1 (or dense)", *value);
	return 0;
}

/* The largest multiple of step below matrix i's break-even rank (the largest rank below it when
 * step is larger): where lowering a dense matrix starts, since a rank at or past break-even
 * keeps as many parameters as dense or more. */
static long
rank_below_break_even(const struct rs_plan *p, int i, long step)
{
	long below = (long)ceil(rs_plan_break_even(p, i)) - 1, r;

	if (below < 1)
		return 1;
	r = (below / step) * step;
	return r >= 1 ? r : below;
}

/* The spectrum --energy reads for matrix i (compress.h's preview choice). */
static const struct rs_spec *
rank_energy_spec(const struct rs_session *s, const struct rs_plan *p, int i)
{
	return rs_engine_preview_spec(s, rs_plan_layer(p, i), rs_plan_type(p, i));
}

static int
cmd_rank_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_plan *p = ctx->session->plan;
	const char *pattern = args->argv[0], *keepw = rs_args_get(args, "keep");
	const char *energyw = rs_args_get(args, "energy");
	long value = 0;
	double keep = 0, energy = 0;
	int relative = 0, i, n = 0, last = -1, rc, clamped, used[RS_SPEC_KINDS] = { 0 };
	char line[512];

	if (p == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "rank: no plan (out of memory at load)");
	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0)
		return rc;
	if ((keepw != NULL) + (energyw != NULL) + (args->argc == 2) != 1)
		return rs_fail(&ctx->cause, RS_EUSAGE,
		    "usage: rank PATTERN (RANK | +N | -N | dense | --keep RATIO | --energy E)");
	if (energyw != NULL) {
		if ((rc = rs_args_double(args, "energy", 1, 0.0, 1.0, &energy, &ctx->cause)) != 0)
			return rc;
		if (energy <= 0)
			return rs_fail(&ctx->cause, RS_EINVAL, "rank: --energy must be above 0");
		/* every selected matrix needs a spectrum before anything changes */
		for (i = 0; i < rs_plan_count(p); i++)
			if (rs_pattern_match(pattern, rs_plan_name(p, i)) &&
			    rank_energy_spec(ctx->session, p, i) == NULL)
				return rs_fail(&ctx->cause, RS_EINVAL, "rank: --energy needs the "
				    "spectrum of %s: run 'spectra' (weights) or 'calibrate' and "
				    "'spectra --kind feature' first", rs_plan_name(p, i));
	} else if (keepw != NULL) {
		if ((rc = rs_args_double(args, "keep", 1, 0.0, 1e9, &keep, &ctx->cause)) != 0)
			return rc;
		if (keep <= 0)
			return rs_fail(&ctx->cause, RS_EINVAL, "rank: --keep must be above 0");
	} else if ((rc = rank_parse(args->argv[1], &value, &relative, &ctx->cause)) != 0) {
		return rc;
	}
	if ((rc = rs_plan_begin(p)) != 0)
		return rs_fail(&ctx->cause, rc, "rank: out of memory");
	for (i = 0; i < rs_plan_count(p); i++) {
		const char *name = rs_plan_name(p, i);
		long want;
		int got;

		if (!rs_pattern_match(pattern, name))
			continue;
		if (energyw != NULL) {
			const struct rs_spec *sp = rank_energy_spec(ctx->session, p, i);
			used[sp->kind]++;
			want = rs_rankalloc_energy_rank(p, i, sp, energy);
		} else if (keepw != NULL) {
			want = rs_plan_rank_for_keep(p, i, keep);
		} else if (relative && value < 0 && rs_plan_rank(p, i) == RS_PLAN_DENSE) {
			want = rank_below_break_even(p, i, -value);
		} else if (relative) {
			long cur = rs_plan_rank(p, i);
			if (cur == RS_PLAN_DENSE)
				cur = (long)rs_plan_max_rank(p, i);
			want = cur + value;
			if (want > rs_plan_max_rank(p, i) && value > 0)
				want = RS_PLAN_DENSE;	/* growing past full rank: back to dense */
			else if (want < 1)
				want = 1;
		} else {
			want = value;
		}
		/* a relative edit is an exact step; absolute ranks follow the alignment */
		got = relative ? rs_plan_set_exact(p, i, want, &clamped) : rs_plan_set(p, i, want, &clamped);
		if (clamped)
			rs_out_infof(ctx->out, "%s: rank %ld clamped to %d (ranks are 1..min(m,n) = %lld)\n",
			             name, want, got, (long long)rs_plan_max_rank(p, i));
		n++;
		last = i;
	}
	rs_plan_end(p);
	if (n == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "rank: no decoder matrix matches '%s'", pattern);
	if (energyw != NULL) {
		static const char *const kname[RS_SPEC_KINDS] = { "weight", "centred feature",
		    "uncentred feature" };
		char which[256] = "";
		size_t at = 0;
		int k;
		for (k = 0; k < RS_SPEC_KINDS && at < sizeof which; k++)
			if (used[k] > 0)
				at += (size_t)snprintf(which + at, sizeof which - at, "%s%s spectrum "
				    "(%d matri%s)", at > 0 ? ", " : "", kname[k], used[k],
				    used[k] == 1 ? "x" : "ces");
		rs_out_printf(ctx->out, "rank: energy %g of the %s; ranks rounded up to a multiple "
		    "of %d\n", energy, which, rs_plan_align(p));
	}
	if (n == 1) {
		int r = rs_plan_rank(p, last);
		if (r == RS_PLAN_DENSE)
			rs_out_printf(ctx->out, "%s: dense\n", rs_plan_name(p, last));
		else
			rs_out_printf(ctx->out, "%s: rank %d (keeps %.1f%% of its parameters%s)\n",
			              rs_plan_name(p, last), r,
			              100.0 * (double)rs_plan_params_of(p, last) /
			              (double)rs_plan_dense_of(p, last),
			              r > rs_plan_break_even(p, last) ? "; past break-even: costs "
			              "more than dense" : r == rs_plan_break_even(p, last) ?
			              "; at break-even: saves nothing" : "");
	} else {
		rs_out_printf(ctx->out, "rank: %d matrices set\n", n);
	}
	rs_plan_budget_line(p, rs_model_embed_head_params(ctx->session->model), line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_rank_forms[] = {
	{ NULL, "PATTERN RANK|+N|-N|dense" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_rank_entry = {
	.name = "rank",
	.alias = NULL,
	.usage = "PATTERN (RANK | +N | -N | dense | --keep RATIO | --energy E)",
	.summary = "set the rank of matrices in the plan",
	.help = "Sets the rank of every decoder matrix PATTERN selects (L3.q, L3-7.up, *.q, L*.down, "
	        "* for all): an absolute rank, a change (+8, -8; growing past full rank makes the "
	        "matrix dense; lowering a dense matrix by N gives the largest multiple of N below "
	        "break-even, m*n/(m+n), where factoring starts to save), 'dense', or --keep RATIO, the rank keeping that fraction of each "
	        "matrix's parameters (r(m+n) = RATIO*m*n; RATIO >= 1 means dense), or --energy E, the "
	        "smallest rank keeping the fraction E of the covariance energy: the feature "
	        "spectrum of the current method when computed (uncentred for whiten, centred "
	        "otherwise), else the weight spectrum; the output says which (E = 1, or a rank at "
	        "or past break-even: dense, as 'alloc energy' gives). "
	        "Ranks are clamped "
	        "to 1..min(m,n) with a message; absolute ranks and ratios are rounded to a multiple "
	        "of the alignment ('set rank-align N', default 8), relative changes are exact. One "
	        "step for undo.",
	.opts = cmd_rank_opts,
	.min_args = 1,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_rank_exec,
	.forms = cmd_rank_forms,
};
