/* cmd-plot.c: write a plot of spectra, energy, the plan or a layer heat map through gnuplot. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "allocrun.h"
#include "analysis.h"
#include "cmd.h"
#include "engine.h"
#include "gplot.h"
#include "model.h"
#include "pattern.h"
#include "plan.h"
#include "plot-trace.h"
#include "session.h"

/* At most this many matrices drawn as separate curves in one spectrum/energy plot. */
#define PLOT_MAX_CURVES 64

static const struct rs_opt cmd_plot_opts[] = {
	{ "to", "FILE", "output file: .png, .svg or .pdf (required)" },
	{ "title", "TEXT", "plot title (default: what is plotted and the model)" },
	{ NULL, NULL, NULL }
};

/* Common variables: title and model name. */
static void
plot_header(struct rs_gplot *g, struct rs_cmd_ctx *ctx, const struct rs_args *args,
            const char *what)
{
	const char *title = rs_args_get(args, "title");
	const char *path = ctx->session->model_path != NULL ? ctx->session->model_path : "";
	const char *base = strrchr(path, '/');
	char def[512];

	base = base != NULL && base[1] != '\0' ? base + 1 : path;
	snprintf(def, sizeof def, "%s — %s", what, base);
	rs_gplot_printf(g, "TITLE = ");
	rs_gplot_quoted(g, title != NULL ? title : def);
	rs_gplot_printf(g, "\n");
}

/* spectrum / energy: one data index per matched matrix with a weight spectrum. */
static int
plot_spectra(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g,
             const char *kind, const char *pattern)
{
	struct rs_session *s = ctx->session;
	struct rs_plan *p = s->plan;
	const struct rs_analysis *a = s->analysis;
	int idx[PLOT_MAX_CURVES], n = 0, i, matched = 0, j, nf = 0;

	for (i = 0; i < rs_plan_count(p); i++) {
		if (!rs_pattern_match(pattern, rs_plan_name(p, i)))
			continue;
		matched++;
		if (a == NULL || rs_analysis_get(a, rs_plan_layer(p, i), rs_plan_type(p, i),
		                                 RS_SPEC_WEIGHT) == NULL)
			continue;
		if (n < PLOT_MAX_CURVES)
			idx[n++] = i;
	}
	if (matched == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "plot: no decoder matrix matches '%s'", pattern);
	if (n == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "plot %s: no spectra computed for '%s' yet "
		               "(run 'spectra %s' first)", kind, pattern, pattern);
	if (n == PLOT_MAX_CURVES)
		rs_out_infof(ctx->out, "plot: drawing the first %d matching matrices\n", n);
	plot_header(g, ctx, args, strcmp(kind, "spectrum") == 0 ? "singular values" :
	            "energy kept by rank");
	rs_gplot_printf(g, "N = %d\narray NAME[%d]\narray RANK[%d]\n", n, n, n);
	for (j = 0; j < n; j++) {
		int r = rs_plan_rank(p, idx[j]);
		if (rs_engine_feature_spec(s, rs_plan_layer(p, idx[j]), rs_plan_type(p, idx[j])) != NULL)
			nf++;
		rs_gplot_printf(g, "NAME[%d] = '%s'\nRANK[%d] = %d\n", j + 1,
		                rs_plan_name(p, idx[j]), j + 1, r == RS_PLAN_DENSE ? 0 : r);
	}
	/* FI: the curves (1-based) that also have a feature spectrum. */
	rs_gplot_printf(g, "NF = %d\n", nf);
	if (nf > 0) {
		rs_gplot_printf(g, "array FI[%d]\n", nf);
		for (j = 0, nf = 0; j < n; j++)
			if (rs_engine_feature_spec(s, rs_plan_layer(p, idx[j]), rs_plan_type(p, idx[j])) != NULL)
				rs_gplot_printf(g, "FI[%d] = %d\n", ++nf, j + 1);
	}
	/* Columns: i, sigma_w, sigma_f, energy_w(i), energy_f(i); one index per matrix. */
	rs_gplot_data_begin(g, "sv");
	for (j = 0; j < n; j++) {
		int l = rs_plan_layer(p, idx[j]);
		enum rs_tkind t = rs_plan_type(p, idx[j]);
		const struct rs_spec *w = rs_analysis_get(a, l, t, RS_SPEC_WEIGHT);
		const struct rs_spec *f = rs_engine_feature_spec(s, l, t);
		size_t k;

		if (j > 0)
			rs_gplot_printf(g, "\n\n");
		rs_gplot_printf(g, "# %s\n", rs_plan_name(p, idx[j]));
		for (k = 0; k < w->r; k++) {
			rs_gplot_printf(g, "%zu %.9g", k + 1, w->sv[k]);
			if (f != NULL && k < f->r)
				rs_gplot_printf(g, " %.9g %.9g %.9g\n", f->sv[k],
				                rs_energy_kept(w->energy, k + 1),
				                rs_energy_kept(f->energy, k + 1));
			else
				rs_gplot_printf(g, " NaN %.9g NaN\n", rs_energy_kept(w->energy, k + 1));
		}
	}
	rs_gplot_data_end(g);
	rs_gplot_template(g, kind);
	return 0;
}

/* plan: keep ratio and rank of every decoder matrix. */
static int
plot_plan(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g)
{
	struct rs_plan *p = ctx->session->plan;
	int i;

	plot_header(g, ctx, args, "rank plan: parameters kept per matrix");
	rs_gplot_printf(g, "N = %d\nLAYERS = %d\nKEPT = %.6f\n", rs_plan_count(p),
	                rs_plan_n_layers(p),
	                (double)rs_plan_params(p) / (double)rs_plan_dense_params(p));
	/* Columns: index, name, layer, type, rank (max rank if dense), max rank, keep %. */
	rs_gplot_data_begin(g, "plan");
	for (i = 0; i < rs_plan_count(p); i++) {
		int r = rs_plan_rank(p, i);
		rs_gplot_printf(g, "%d %s %d %d %lld %lld %.6f\n", i, rs_plan_name(p, i),
		                rs_plan_layer(p, i), (int)rs_plan_type(p, i),
		                (long long)(r == RS_PLAN_DENSE ? rs_plan_max_rank(p, i) : r),
		                (long long)rs_plan_max_rank(p, i),
		                100.0 * (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i));
	}
	rs_gplot_data_end(g);
	rs_gplot_template(g, "plan");
	return 0;
}

/* heatmap: layer x matrix type; keep % and, where spectra exist, the predicted feature
 * (else weight) error at the planned rank. */
static int
plot_heatmap(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g,
             const char *pattern)
{
	struct rs_session *s = ctx->session;
	struct rs_plan *p = s->plan;
	int l, t, any = 0;

	plot_header(g, ctx, args, "keep % per layer and matrix");
	rs_gplot_printf(g, "LAYERS = %d\narray TYPES[%d]\n", rs_plan_n_layers(p), RS_MAT_COUNT);
	for (t = 0; t < RS_MAT_COUNT; t++)
		rs_gplot_printf(g, "TYPES[%d] = '%s'\n", t + 1, rs_tkind_name((enum rs_tkind)t));
	/* Columns: type (x), layer (y), keep % (NaN when not selected), error or '-'. */
	rs_gplot_data_begin(g, "hm");
	for (l = 0; l < rs_plan_n_layers(p); l++) {
		for (t = 0; t < RS_MAT_COUNT; t++) {
			int i = rs_plan_index(p, l, (enum rs_tkind)t), r = rs_plan_rank(p, i);
			const struct rs_spec *sp = rs_engine_preview_spec(s, l, (enum rs_tkind)t);
			double err = NAN;

			if (sp != NULL)
				err = r == RS_PLAN_DENSE ? 0.0 : rs_spec_error(sp, (size_t)r);
			if (!rs_pattern_match(pattern, rs_plan_name(p, i))) {
				rs_gplot_printf(g, "%d %d NaN -\n", t, l);
				continue;
			}
			any = 1;
			rs_gplot_printf(g, "%d %d %.4f ", t, l, 100.0 * (double)rs_plan_params_of(p, i) /
			                (double)rs_plan_dense_of(p, i));
			if (isnan(err))
				rs_gplot_printf(g, "-\n");
			else
				rs_gplot_printf(g, "%.6g\n", err);
		}
		rs_gplot_printf(g, "\n");
	}
	rs_gplot_data_end(g);
	if (!any)
		return rs_fail(&ctx->cause, RS_EINVAL, "plot: no decoder matrix matches '%s'", pattern);
	rs_gplot_template(g, "heatmap");
	return 0;
}

static int
cmd_plot_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const char *what = args->argv[0], *to = rs_args_get(args, "to");
	const char *pattern = args->argc > 1 ? args->argv[1] : "*";
	struct rs_gplot *g;
	enum rs_gplot_format fmt;
	char *warn = NULL;
	int rc;

	if (strcmp(what, "spectrum") != 0 && strcmp(what, "alloc-trace") != 0 && strcmp(what, "energy") != 0 &&
	    strcmp(what, "plan") != 0 && strcmp(what, "heatmap") != 0)
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: '%s' is not a plot (spectrum, energy, "
		               "plan, heatmap or alloc-trace)", what);
	if (to == NULL || to[0] == '\0')
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: --to FILE.png|svg|pdf is required");
	if (ctx->session->plan == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plot: no plan (out of memory at load)");
	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0 ||
	    (rc = rs_gplot_format_of(to, &fmt, &ctx->cause)) != 0)
		return rc;
	if ((g = rs_gplot_new(to, &ctx->cause)) == NULL)
		return RS_EINVAL;
	if (strcmp(what, "alloc-trace") == 0) {
		struct rs_alloc_state *st = ctx->session->alloc;
		plot_header(g, ctx, args, "allocation trace");
		rc = rs_plot_trace(g, rs_allocrun_bo_last(ctx->session), st != NULL ? st->sens :
		    NULL, &ctx->cause);
	} else if (strcmp(what, "plan") == 0)
		rc = plot_plan(ctx, args, g);
	else if (strcmp(what, "heatmap") == 0)
		rc = plot_heatmap(ctx, args, g, pattern);
	else
		rc = plot_spectra(ctx, args, g, what, pattern);
	if (rc == 0)
		rc = rs_gplot_render(g, &warn, &ctx->cause);
	rs_gplot_free(g);
	if (rc != 0)
		return rc;
	if (warn != NULL)
		rs_out_infof(ctx->out, "gnuplot: %s\n", warn);
	rs_free(warn);
	rs_out_printf(ctx->out, "plot %s: wrote %s\n", what, to);
	return 0;
}

static const char *const cmd_plot_words[] = { "spectrum", "energy", "plan", "heatmap", "alloc-trace", NULL };

const struct rs_cmd_entry rs_cmd_plot_entry = {
	.name = "plot",
	.alias = NULL,
	.usage = "spectrum|energy|plan|heatmap|alloc-trace [PATTERN] --to FILE.{png,svg,pdf} "
	         "[--title TEXT]",
	.summary = "write a plot through gnuplot",
	.help = "Writes a plot with gnuplot (run as a separate process; its errors are shown). "
	        "'spectrum': log-scale singular values of the matrices PATTERN selects (default "
	        "every one with computed spectra), weight and feature spectra, a dashed line at the "
	        "planned rank. 'energy': the fraction of energy kept by rank. 'plan': parameters kept "
	        "per matrix. 'heatmap': keep % by layer and matrix type. 'alloc-trace': the last "
	        "'alloc bo' run's validation PPL by trial (full evaluations and screening ones "
	        "apart), the best so far and the heuristic plans as lines, and the sensitivity "
	        "probes (each matrix alone at a keep ratio); it needs one of them in the session. The format follows the extension of FILE (.png, .svg, .pdf); "
	        "the file appears whole or not at all. Templates come from $RS_DATADIR/gnuplot or "
	        "the installed share directory; $RS_GNUPLOT names the gnuplot program.",
	.opts = cmd_plot_opts,
	.min_args = 1,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_plot_exec,
	.words = cmd_plot_words,
};
