/* cmd-plan.c: show, reset, save, load and compare the rank plan. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "calib.h"
#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "model.h"
#include "pattern.h"
#include "plan.h"
#include "planfile.h"
#include "session.h"

static const struct rs_opt cmd_plan_opts[] = {
	{ "all", NULL, "with show: list dense matrices too" },
	{ "force", NULL, "with load/diff: accept another identity when every shape agrees" },
	{ NULL, NULL, NULL }
};

/* plan show [PATTERN] [--all] */
static int
plan_show(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const struct rs_plan *p = s->plan;
	const char *pattern = args->argc > 1 ? args->argv[1] : "*";
	int all = rs_args_has(args, "all") || args->argc > 1, i, shown = 0, rc;
	int kinds[RS_SPEC_KINDS] = { 0 };
	char line[512];

	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0)
		return rc;
	rs_out_printf(ctx->out, "%-10s %11s %7s %7s %12s %9s\n", "matrix", "shape", "rank", "keep%",
	              "params", "error");
	for (i = 0; i < rs_plan_count(p); i++) {
		const struct rs_spec *sp;
		int64_t m, n;
		int r = rs_plan_rank(p, i);
		char shape[32], rank[16], err[24];

		if (!rs_pattern_match(pattern, rs_plan_name(p, i)) || (!all && r == RS_PLAN_DENSE))
			continue;
		rs_plan_shape(p, i, &m, &n);
		snprintf(shape, sizeof shape, "%lldx%lld", (long long)m, (long long)n);
		if (r == RS_PLAN_DENSE)
			snprintf(rank, sizeof rank, "dense");
		else
			snprintf(rank, sizeof rank, "%d", r);
		/* the preview error is a look-up in the spectra: no decomposition runs here */
		sp = rs_engine_preview_spec(s, rs_plan_layer(p, i), rs_plan_type(p, i));
		if (sp == NULL)
			snprintf(err, sizeof err, "-");
		else {
			snprintf(err, sizeof err, "%.6f", r == RS_PLAN_DENSE ? 0.0 :
			         rs_spec_error(sp, (size_t)r));
			kinds[sp->kind]++;
		}
		rs_out_printf(ctx->out, "%-10s %11s %7s %7.1f %12llu %9s\n", rs_plan_name(p, i), shape,
		              rank, 100.0 * (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i),
		              (unsigned long long)rs_plan_params_of(p, i), err);
		shown++;
	}
	if (shown == 0)
		rs_out_printf(ctx->out, "(every matrix%s is dense)\n", args->argc > 1 ? " selected" : "");
	rs_out_printf(ctx->out, "%d of %d decoder matrices factored, rank alignment %d, method %s\n",
	              rs_plan_n_compressed(p), rs_plan_count(p), rs_plan_align(p),
	              rs_method_name((enum rs_method)s->method));
	if (kinds[0] + kinds[1] + kinds[2] > 0)
		rs_out_printf(ctx->out, "error: relative output error at the planned rank from the "
		              "spectra (%d weight, %d centred feature, %d uncentred feature), "
		              "sqrt(sum_{i>r} s_i^2 / sum s_i^2)\n", kinds[RS_SPEC_WEIGHT],
		              kinds[RS_SPEC_CENTRED], kinds[RS_SPEC_UNCENTRED]);
	else
		rs_out_printf(ctx->out, "error: no spectra yet ('spectra' fills the error column)\n");
	rs_plan_budget_line(p, rs_model_embed_head_params(s->model), line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	return 0;
}

/* plan save FILE.json|FILE.csv */
static int
plan_save(struct rs_cmd_ctx *ctx, const char *path)
{
	struct rs_session *s = ctx->session;
	struct rs_planfile_meta meta;
	int rc;

	rs_engine_plan_meta(s, &meta);
	if ((rc = rs_planfile_save(path, s->plan, s->model, &meta, &ctx->cause)) != 0)
		return rc;
	rs_session_set_plan_source(s, path);   /* out of memory: only the label is lost */
	rs_out_printf(ctx->out, "plan: saved %d of %d factored, method %s, to %s\n",
	              rs_plan_n_compressed(s->plan), rs_plan_count(s->plan),
	              rs_method_name(meta.method), path);
	return 0;
}

/* plan load FILE [--force] */
static int
plan_load(struct rs_cmd_ctx *ctx, const char *path, int force)
{
	struct rs_session *s = ctx->session;
	struct rs_planfile *pf;
	const char *cur;
	char line[512];
	int rc;

	if ((rc = rs_planfile_read(path, s->model, force, &pf, &ctx->cause)) != 0)
		return rc;
	if ((rc = rs_planfile_apply(pf, s->plan, &ctx->cause)) != 0) {
		rs_planfile_free(pf);
		return rc;
	}
	if (pf->identity_differs)
		rs_out_infof(ctx->out, "warning: %s was made for another tensor index (same shapes); "
		             "loaded with --force\n", path);
	s->method = pf->method;
	s->asvd_alpha = pf->alpha;
	cur = s->calib != NULL && rs_calib_complete(s->calib) ? rs_calib_identity(s->calib) : NULL;
	if (rs_method_needs_calib(pf->method)) {
		if (cur == NULL)
			rs_out_infof(ctx->out, "note: method %s needs statistics: run 'calibrate' before "
			             "'ppl'%s%s\n", rs_method_name(pf->method),
			             pf->calib != NULL ? " (the plan was made with: " : "",
			             pf->calib != NULL ? pf->calib : "");
		else if (pf->calib != NULL && strcmp(pf->calib, cur) != 0)
			rs_out_infof(ctx->out, "note: the plan was made with another calibration (%s); "
			             "factors will use the session's (%s)\n", pf->calib, cur);
	}
	rs_session_set_plan_source(s, path);
	rs_out_printf(ctx->out, "plan: loaded %s: %d of %d factored, method %s, rank alignment %d\n",
	              path, rs_plan_n_compressed(s->plan), rs_plan_count(s->plan),
	              rs_method_name(pf->method), pf->align);
	rs_plan_budget_line(s->plan, rs_model_embed_head_params(s->model), line, sizeof line);
	rs_out_printf(ctx->out, "%s\n", line);
	rs_planfile_free(pf);
	return 0;
}

/* plan diff FILE [--force]: the matrices whose rank differs, current -> file. */
static int
plan_diff(struct rs_cmd_ctx *ctx, const char *path, int force)
{
	struct rs_session *s = ctx->session;
	const struct rs_plan *p = s->plan;
	struct rs_planfile *pf;
	uint64_t kept_file = 0;
	int i, rc, n = 0;

	if ((rc = rs_planfile_read(path, s->model, force, &pf, &ctx->cause)) != 0)
		return rc;
	rs_out_printf(ctx->out, "%-10s %9s %9s\n", "matrix", "current", "file");
	for (i = 0; i < rs_plan_count(p); i++) {
		int a = rs_plan_rank(p, i), b = pf->ranks[i];
		int64_t m, k;
		char sa[16], sb[16];

		rs_plan_shape(p, i, &m, &k);
		kept_file += b == RS_PLAN_DENSE ? (uint64_t)(m * k) : (uint64_t)b * (uint64_t)(m + k);
		if (a == b)
			continue;
		snprintf(sa, sizeof sa, a == RS_PLAN_DENSE ? "dense" : "%d", a);
		snprintf(sb, sizeof sb, b == RS_PLAN_DENSE ? "dense" : "%d", b);
		rs_out_printf(ctx->out, "%-10s %9s %9s\n", rs_plan_name(p, i), sa, sb);
		n++;
	}
	rs_out_printf(ctx->out, "%d of %d matrices differ", n, rs_plan_count(p));
	if (pf->method != (enum rs_method)s->method)
		rs_out_printf(ctx->out, "; method %s (file %s)", rs_method_name((enum rs_method)s->method),
		              rs_method_name(pf->method));
	if (pf->align != rs_plan_align(p))
		rs_out_printf(ctx->out, "; rank alignment %d (file %d)", rs_plan_align(p), pf->align);
	rs_out_printf(ctx->out, "\ndecoder linears kept: current %llu, file %llu of %llu dense "
	              "(keep %.4f vs %.4f)\n", (unsigned long long)rs_plan_params(p),
	              (unsigned long long)kept_file, (unsigned long long)rs_plan_dense_params(p),
	              (double)rs_plan_params(p) / (double)rs_plan_dense_params(p),
	              (double)kept_file / (double)rs_plan_dense_params(p));
	rs_planfile_free(pf);
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
	if (strcmp(sub, "save") == 0 || strcmp(sub, "load") == 0 || strcmp(sub, "diff") == 0) {
		if (args->argc != 2)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: plan %s FILE%s", sub,
			               sub[0] == 's' ? ".json|FILE.csv" : "");
		if (sub[0] == 's')
			return plan_save(ctx, args->argv[1]);
		if (sub[0] == 'l')
			return plan_load(ctx, args->argv[1], rs_args_has(args, "force"));
		return plan_diff(ctx, args->argv[1], rs_args_has(args, "force"));
	}
	return rs_fail(&ctx->cause, RS_EUSAGE, "plan: unknown subcommand '%s' (show, reset, save, "
	               "load, diff)", sub);
}

static const char *const cmd_plan_words[] = { "show", "reset", "save", "load", "diff", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_plan_forms[] = {
	{ "show", "PATTERN" },
	{ "reset", "" },
	{ "save", "FILE.json|FILE.csv" },
	{ "load", "FILE" },
	{ "diff", "FILE" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_plan_entry = {
	.name = "plan",
	.alias = NULL,
	.usage = "[show [PATTERN] [--all] | reset | save FILE.json|FILE.csv | load FILE [--force] | "
	         "diff FILE [--force]]",
	.summary = "show, reset, save, load or compare the rank plan",
	.help = "'plan show' lists the factored matrices (with PATTERN or --all, the dense ones too) "
	        "with shape, rank, the share of parameters kept, the parameter count and the "
	        "relative output error at the planned rank read from the spectra (a look-up: no "
	        "decomposition runs), then the totals: decoder linears kept, and the whole model "
	        "with embeddings and head dense. 'plan reset' makes every matrix dense (one step "
	        "for undo). 'plan save FILE' writes the plan as versioned JSON (.json) or CSV "
	        "(.csv) with the model's identity, method, calibration, budget and ranks "
	        "(docs/plan-format.md), atomically. 'plan load FILE' restores ranks, alignment and "
	        "method exactly (one undo step); a plan made for another model is refused with the "
	        "reason (--force accepts another tensor index when every shape agrees). 'plan diff "
	        "FILE' lists the matrices whose rank differs and both budgets.",
	.opts = cmd_plan_opts,
	.min_args = 0,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_plan_exec,
	.words = cmd_plan_words,
	.forms = cmd_plan_forms,
};
