/* cmd-plan.c: show, reset, save, load and compare the rank plan. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
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
	{ "all", NULL, "with show: list dense matrices too; with diff: every matrix" },
	{ "force", NULL, "with load/diff: accept another identity when every shape agrees" },
	{ "sort", "name|rank|keep|params|error", "with show: order of the rows (ties in plan order; "
	  "unknown errors last)" },
	{ "reverse", NULL, "with show: the sort order reversed" },
	{ NULL, NULL, NULL }
};

/* A row of 'plan show': the matrix and its sort key. */
struct show_row {
	int i;
	int known;                  /* the key is known (the error needs spectra) */
	double key;                 /* negated for --reverse */
};

/* Ascending keys, unknown ones last, ties in plan order. */
static int
show_row_cmp(const void *pa, const void *pb)
{
	const struct show_row *a = pa, *b = pb;

	if (a->known != b->known)
		return a->known ? -1 : 1;
	if (a->known && a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* Whether matrix i passes 'plan show's selection: a state word (dense, factored, over: a
 * rank at or past break-even) or a matrix pattern. */
static int
show_selects(const struct rs_plan *p, int i, const char *sel)
{
	int r = rs_plan_rank(p, i);

	if (strcmp(sel, "dense") == 0)
		return r == RS_PLAN_DENSE;
	if (strcmp(sel, "factored") == 0)
		return r != RS_PLAN_DENSE;
	if (strcmp(sel, "over") == 0)
		return r != RS_PLAN_DENSE && rs_plan_params_of(p, i) >= rs_plan_dense_of(p, i);
	return rs_pattern_match(sel, rs_plan_name(p, i));
}

/* plan show [PATTERN|dense|factored|over] [--all] [--sort KEY] [--reverse] */
static int
plan_show(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	static const char *const keys[] = { "name", "rank", "keep", "params", "error", NULL };
	struct rs_session *s = ctx->session;
	const struct rs_plan *p = s->plan;
	const char *pattern = args->argc > 1 ? args->argv[1] : "*";
	const char *sort = rs_args_get(args, "sort");
	int all = rs_args_has(args, "all") || args->argc > 1, i, k, shown = 0, rc, key = 0;
	int reverse = rs_args_has(args, "reverse");
	int kinds[RS_SPEC_KINDS] = { 0 };
	struct show_row *rows;
	char line[512];

	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0)
		return rc;
	if (sort != NULL) {
		for (key = 0; keys[key] != NULL && strcmp(keys[key], sort) != 0; key++)
			;
		if (keys[key] == NULL)
			return rs_fail(&ctx->cause, RS_EUSAGE, "plan show: --sort is name, rank, keep, "
			               "params or error, not '%s'", sort);
	}
	if ((rows = rs_mallocarray((size_t)rs_plan_count(p), sizeof *rows)) == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plan show: out of memory");
	for (i = 0; i < rs_plan_count(p); i++) {
		int r = rs_plan_rank(p, i);
		/* the preview error is a look-up in the spectra: no decomposition runs here */
		const struct rs_spec *sp = rs_engine_preview_spec(s, rs_plan_layer(p, i),
		                                                  rs_plan_type(p, i));
		struct show_row *w = &rows[shown];

		if (!show_selects(p, i, pattern) || (!all && r == RS_PLAN_DENSE))
			continue;
		w->i = i;
		w->known = 1;
		switch (key) {
		case 1: w->key = r == RS_PLAN_DENSE ? 1e18 : r; break;   /* dense above every rank */
		case 2: w->key = (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i); break;
		case 3: w->key = (double)rs_plan_params_of(p, i); break;
		case 4:
			w->known = sp != NULL;
			w->key = sp == NULL || r == RS_PLAN_DENSE ? 0.0 : rs_spec_error(sp, (size_t)r);
			break;
		default: w->key = i; break;
		}
		if (reverse)
			w->key = -w->key;
		shown++;
	}
	qsort(rows, (size_t)shown, sizeof *rows, show_row_cmp);
	rs_out_printf(ctx->out, "%-10s %11s %7s %7s %12s %9s\n", "matrix", "shape", "rank", "keep%",
	              "params", "error");
	for (k = 0; k < shown; k++) {
		const struct rs_spec *sp;
		int64_t m, n;
		int r;
		char shape[32], rank[16], err[24];

		i = rows[k].i;
		r = rs_plan_rank(p, i);
		rs_plan_shape(p, i, &m, &n);
		snprintf(shape, sizeof shape, "%lldx%lld", (long long)m, (long long)n);
		if (r == RS_PLAN_DENSE)
			snprintf(rank, sizeof rank, "dense");
		else
			snprintf(rank, sizeof rank, "%d", r);
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
	}
	rs_free(rows);
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

/* Parameters matrix i keeps at rank r (RS_PLAN_DENSE: all of them). */
static uint64_t
diff_params(const struct rs_plan *p, int i, int r)
{
	int64_t m, k;

	rs_plan_shape(p, i, &m, &k);
	return r == RS_PLAN_DENSE ? (uint64_t)(m * k) : (uint64_t)r * (uint64_t)(m + k);
}

/* One side's predicted error cell at rank r, summed into *sum (count in *known); "-" without
 * spectra. */
static void
diff_err(const struct rs_spec *sp, int r, char *buf, size_t n, double *sum, int *known)
{
	double e;

	if (sp == NULL) {
		snprintf(buf, n, "-");
		return;
	}
	e = r == RS_PLAN_DENSE ? 0.0 : rs_spec_error(sp, (size_t)r);
	snprintf(buf, n, "%.6f", e);
	*sum += e;
	(*known)++;
}

/* plan diff FILE [FILE2] [--all] [--force]: two plans side by side, A the current plan (or
 * FILE when FILE2 is given) and B the file: per matrix rank, parameters and the predicted
 * error from the session's spectra, the matrices that differ (every one with --all), then
 * totals. */
static int
plan_diff(struct rs_cmd_ctx *ctx, const char *path, const char *path2, int all, int force)
{
	struct rs_session *s = ctx->session;
	const struct rs_plan *p = s->plan;
	struct rs_planfile *pa = NULL, *pb;
	uint64_t kept_a = 0, kept_b = 0, dense = rs_plan_dense_params(p);
	double sum_a = 0, sum_b = 0;
	int i, rc, n = 0, known_a = 0, known_b = 0, align_a, align_b;
	enum rs_method method_a;

	const char *path_a = path2 != NULL ? path : NULL, *path_b = path2 != NULL ? path2 : path;

	if (path_a != NULL && (rc = rs_planfile_read(path_a, s->model, force, &pa, &ctx->cause)) != 0)
		return rc;
	if ((rc = rs_planfile_read(path_b, s->model, force, &pb, &ctx->cause)) != 0) {
		rs_planfile_free(pa);
		return rc;
	}
	rs_out_printf(ctx->out, "A: %s\nB: %s\n", path_a != NULL ? path_a : "the current plan",
	              path_b);
	rs_out_printf(ctx->out, "  %-10s %7s %7s %10s %10s %9s %9s\n", "matrix", "rank A",
	              "rank B", "params A", "params B", "error A", "error B");
	for (i = 0; i < rs_plan_count(p); i++) {
		int a = pa != NULL ? pa->ranks[i] : rs_plan_rank(p, i), b = pb->ranks[i];
		const struct rs_spec *sp = rs_engine_preview_spec(s, rs_plan_layer(p, i),
		                                                  rs_plan_type(p, i));
		uint64_t ka = diff_params(p, i, a), kb = diff_params(p, i, b);
		char sa[16], sb[16], ea[24], eb[24];

		kept_a += ka;
		kept_b += kb;
		diff_err(sp, a, ea, sizeof ea, &sum_a, &known_a);
		diff_err(sp, b, eb, sizeof eb, &sum_b, &known_b);
		if (a != b)
			n++;
		if (a == b && !all)
			continue;
		snprintf(sa, sizeof sa, a == RS_PLAN_DENSE ? "dense" : "%d", a);
		snprintf(sb, sizeof sb, b == RS_PLAN_DENSE ? "dense" : "%d", b);
		rs_out_printf(ctx->out, "%c %-10s %7s %7s %10llu %10llu %9s %9s\n", a != b ? '*' : ' ',
		              rs_plan_name(p, i), sa, sb, (unsigned long long)ka,
		              (unsigned long long)kb, ea, eb);
	}
	rs_out_printf(ctx->out, "  %-10s %7s %7s %10llu %10llu", "total", "", "",
	              (unsigned long long)kept_a, (unsigned long long)kept_b);
	if (known_a > 0)
		rs_out_printf(ctx->out, " %9.6f %9.6f  (mean error over %d matrices)", sum_a / known_a,
		              sum_b / known_b, known_a);
	rs_out_printf(ctx->out, "\n%d of %d matrices differ", n, rs_plan_count(p));
	method_a = pa != NULL ? pa->method : (enum rs_method)s->method;
	align_a = pa != NULL ? pa->align : rs_plan_align(p);
	align_b = pb->align;
	if (pb->method != method_a)
		rs_out_printf(ctx->out, "; method %s (B %s)", rs_method_name(method_a),
		              rs_method_name(pb->method));
	if (align_b != align_a)
		rs_out_printf(ctx->out, "; rank alignment %d (B %d)", align_a, align_b);
	rs_out_printf(ctx->out, "\ndecoder linears kept: A %llu, B %llu of %llu dense "
	              "(keep %.4f vs %.4f; B %+lld)\n", (unsigned long long)kept_a,
	              (unsigned long long)kept_b, (unsigned long long)dense,
	              (double)kept_a / (double)dense, (double)kept_b / (double)dense,
	              (long long)kept_b - (long long)kept_a);
	if (known_a == 0)
		rs_out_printf(ctx->out, "error: no spectra yet ('spectra' fills the error columns)\n");
	else if (known_a < rs_plan_count(p))
		rs_out_printf(ctx->out, "error: from the spectra of %d of %d matrices\n", known_a,
		              rs_plan_count(p));
	rs_planfile_free(pa);
	rs_planfile_free(pb);
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
	if (strcmp(sub, "show") == 0 && args->argc > 2)
		return rs_fail(&ctx->cause, RS_EUSAGE, "usage: plan show [PATTERN] [--all]");
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
	if (strcmp(sub, "diff") == 0) {
		if (args->argc != 2 && args->argc != 3)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: plan diff FILE [FILE2] [--all] "
			               "[--force]");
		return plan_diff(ctx, args->argv[1], args->argc == 3 ? args->argv[2] : NULL,
		                 rs_args_has(args, "all"), rs_args_has(args, "force"));
	}
	if (strcmp(sub, "save") == 0 || strcmp(sub, "load") == 0) {
		if (args->argc != 2)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: plan %s FILE%s", sub,
			               sub[0] == 's' ? ".json|FILE.csv" : "");
		if (sub[0] == 's')
			return plan_save(ctx, args->argv[1]);
		return plan_load(ctx, args->argv[1], rs_args_has(args, "force"));
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
	.usage = "[show [PATTERN|dense|factored|over] [--all] [--sort KEY] [--reverse] | reset | save FILE.json|FILE.csv | load FILE [--force] | "
	         "diff FILE [FILE2] [--all] [--force]]",
	.summary = "show, reset, save, load or compare the rank plan",
	.help = "'plan show' lists the factored matrices (with PATTERN or --all, the dense ones too) "
	        "with shape, rank, the share of parameters kept, the parameter count and the "
	        "relative output error at the planned rank read from the spectra (a look-up: no "
	        "decomposition runs), then the totals: decoder linears kept, and the whole model "
	        "with embeddings and head dense; instead of a pattern a state selects: dense, "
	        "factored, or over (a rank at or past break-even); --sort name|rank|keep|params|"
	        "error orders the rows (ties in plan order, unknown errors last), --reverse the "
	        "other way, as the workbench's s and S do. 'plan reset' makes every matrix dense (one step "
	        "for undo). 'plan save FILE' writes the plan as versioned JSON (.json) or CSV "
	        "(.csv) with the model's identity, method, calibration, budget and ranks "
	        "(docs/plan-format.md), atomically. 'plan load FILE' restores ranks, alignment and "
	        "method exactly (one undo step); a plan made for another model is refused with the "
	        "reason (--force accepts another tensor index when every shape agrees). 'plan diff "
	        "FILE [FILE2]' shows two plans side by side, the current one and FILE (or FILE and "
	        "FILE2): per matrix the rank, parameters and predicted error (from the session's "
	        "spectra) of each, for the matrices that differ (marked *; every matrix with "
	        "--all), then the totals, the mean error and the difference in parameters kept.",
	.opts = cmd_plan_opts,
	.min_args = 0,
	.max_args = 3,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_plan_exec,
	.words = cmd_plan_words,
	.forms = cmd_plan_forms,
};
