/* cmd-plot.c: write a plot of spectra, energy, the plan or a layer heat map through gnuplot. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "allocrun.h"
#include "analysis.h"
#include "cmd.h"
#include "compress.h"
#include "engine.h"
#include "gplot.h"
#include "model.h"
#include "pattern.h"
#include "plan.h"
#include "plot-trace.h"
#include "session.h"

/* At most this many points of one spectrum go to gnuplot (longer ones are thinned evenly; the
 * first and last singular values and the plan's rank are always kept). */
#define PLOT_MAX_POINTS 1024

/* Which spectra a plot draws: --kind, or what the session's method previews with. */
enum plot_kind {
	PLOT_KIND_DEFAULT,      /* feature spectra when any is computed, else weight */
	PLOT_KIND_WEIGHT,
	PLOT_KIND_FEATURE,      /* the feature kind the method previews with (engine.h) */
	PLOT_KIND_CENTRED,
	PLOT_KIND_UNCENTRED,
};

static const struct rs_opt cmd_plot_opts[] = {
	{ "to", "FILE", "output file: .png, .svg or .pdf (required)" },
	{ "title", "TEXT", "plot title (default: model, what is plotted, spectrum kind, method)" },
	{ "kind", "KIND", "spectrum/energy/heatmap: weight, feature, centred or uncentred spectra" },
	{ "raw", NULL, "spectrum: singular values as they are (default: divided by the largest)" },
	{ "size", "WxH", "canvas in pixels, e.g. 1400x800 (PDF: 100 pixels per inch)" },
	{ "script", "FILE", "also save the gnuplot script that is run" },
	{ NULL, NULL, NULL }
};

/* The model's name into buf: the last component of the loaded path. */
static void
plot_model_name(const struct rs_session *s, char *buf, size_t n)
{
	const char *path = s->model_path != NULL ? s->model_path : "";
	size_t len = strlen(path);
	const char *base;

	while (len > 1 && path[len - 1] == '/')
		len--;
	for (base = path + len; base > path && base[-1] != '/'; base--)
		;
	snprintf(buf, n, "%.*s", (int)(path + len - base), base);
}

/* TITLE = --title, else "<model> — what"; SUBTITLE = sub (what the data are; "" for none). */
static void
plot_header(struct rs_gplot *g, struct rs_cmd_ctx *ctx, const struct rs_args *args,
            const char *what, const char *sub)
{
	const char *title = rs_args_get(args, "title");
	char name[256], def[768];

	plot_model_name(ctx->session, name, sizeof name);
	snprintf(def, sizeof def, "%s — %s", name, what);
	rs_gplot_printf(g, "TITLE = ");
	rs_gplot_quoted(g, title != NULL ? title : def);
	rs_gplot_printf(g, "\nSUBTITLE = ");
	rs_gplot_quoted(g, sub);
	rs_gplot_printf(g, "\n");
}

/* --kind into *k; RS_EUSAGE + cause for an unknown name. */
static int
plot_parse_kind(struct rs_cmd_ctx *ctx, const struct rs_args *args, enum plot_kind *k)
{
	const char *v = rs_args_get(args, "kind");

	*k = PLOT_KIND_DEFAULT;
	if (v == NULL)
		return 0;
	if (strcmp(v, "weight") == 0)
		*k = PLOT_KIND_WEIGHT;
	else if (strcmp(v, "feature") == 0)
		*k = PLOT_KIND_FEATURE;
	else if (strcmp(v, "centred") == 0 || strcmp(v, "centered") == 0)
		*k = PLOT_KIND_CENTRED;
	else if (strcmp(v, "uncentred") == 0 || strcmp(v, "uncentered") == 0)
		*k = PLOT_KIND_UNCENTRED;
	else
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: --kind '%s': weight, feature, centred "
		               "or uncentred", v);
	return 0;
}

/* The spectrum of matrix i of kind k (PLOT_KIND_DEFAULT: the method's preview spectrum, as
 * the error columns everywhere use it), or NULL when it is not computed. */
static const struct rs_spec *
plot_spec(const struct rs_session *s, int i, enum plot_kind k)
{
	int l = rs_plan_layer(s->plan, i);
	enum rs_tkind t = rs_plan_type(s->plan, i);

	switch (k) {
	case PLOT_KIND_WEIGHT:
		return s->analysis != NULL ? rs_analysis_get(s->analysis, l, t, RS_SPEC_WEIGHT) : NULL;
	case PLOT_KIND_FEATURE:
		return rs_engine_feature_spec(s, l, t);
	case PLOT_KIND_CENTRED:
		return s->analysis != NULL ? rs_analysis_get(s->analysis, l, t, RS_SPEC_CENTRED) : NULL;
	case PLOT_KIND_UNCENTRED:
		return s->analysis != NULL ? rs_analysis_get(s->analysis, l, t, RS_SPEC_UNCENTRED) :
		    NULL;
	default:
		return rs_engine_preview_spec(s, l, t);
	}
}

/* What the spectra of the kinds in `used` (a bit per enum rs_spec_kind) are, for titles. */
static const char *
plot_kinds_desc(unsigned used)
{
	switch (used) {
	case 1u << RS_SPEC_WEIGHT:
		return "weight spectra σ(W)";
	case 1u << RS_SPEC_CENTRED:
		return "feature spectra σ(W·S), S Sᵀ = centred covariance";
	case 1u << RS_SPEC_UNCENTRED:
		return "feature spectra σ(W·S), S Sᵀ = uncentred Gram";
	case 1u << RS_SPEC_CENTRED | 1u << RS_SPEC_UNCENTRED:
		return "feature spectra (centred and uncentred)";
	default:
		return "feature spectra where computed, else weight spectra";
	}
}

/* The value a spectrum plot draws for singular value k (0-based) of sp: σ_k/σ_1, or σ_k raw;
 * NaN where a log scale cannot show it. */
static double
plot_sigma(const struct rs_spec *sp, size_t k, int raw)
{
	double v = raw ? sp->sv[k] : sp->sv[0] > 0 ? sp->sv[k] / sp->sv[0] : NAN;

	return v > 0 ? v : NAN;
}

/* spectrum / energy: a panel per matrix type present, a curve per layer coloured by layer, a
 * point on each curve at the plan's rank. */
static int
plot_spectra(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g,
             const char *what, const char *pattern, enum plot_kind kind)
{
	struct rs_session *s = ctx->session;
	struct rs_plan *p = s->plan;
	int energy = strcmp(what, "energy") == 0, raw = rs_args_has(args, "raw");
	int layers = rs_plan_n_layers(p), matched = 0, missing = 0, n = 0, np = 0, nrk = 0;
	int lmin = layers, lmax = -1;
	int first[RS_MAT_COUNT], last[RS_MAT_COUNT], nmark[RS_MAT_COUNT], ptype[RS_MAT_COUNT];
	int *curve, l, t, i, j;
	size_t rmax[RS_MAT_COUNT], k, stride;
	unsigned used = 0;
	char desc[512];

	if (kind == PLOT_KIND_DEFAULT) {
		kind = PLOT_KIND_WEIGHT;
		for (i = 0; i < rs_plan_count(p); i++)
			if (rs_pattern_match(pattern, rs_plan_name(p, i)) &&
			    plot_spec(s, i, PLOT_KIND_FEATURE) != NULL) {
				kind = PLOT_KIND_FEATURE;
				break;
			}
	}
	if ((curve = rs_mallocarray((size_t)rs_plan_count(p), sizeof *curve)) == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plot: out of memory");
	/* The curves (plan indices) panel by panel in type order, by layer within a panel. */
	for (t = 0; t < RS_MAT_COUNT; t++) {
		first[np] = n;
		nmark[np] = 0;
		rmax[np] = 0;
		for (l = 0; l < layers; l++) {
			const struct rs_spec *sp;

			i = rs_plan_index(p, l, (enum rs_tkind)t);
			if (!rs_pattern_match(pattern, rs_plan_name(p, i)))
				continue;
			matched++;
			if ((sp = plot_spec(s, i, kind)) == NULL) {
				missing++;
				continue;
			}
			curve[n++] = i;
			used |= 1u << sp->kind;
			lmin = l < lmin ? l : lmin;
			lmax = l > lmax ? l : lmax;
			if (sp->r > rmax[np])
				rmax[np] = sp->r;
			if (rs_plan_rank(p, i) != RS_PLAN_DENSE)
				nmark[np]++;
		}
		if (n > first[np]) {
			last[np] = n - 1;
			ptype[np] = t;
			nrk += nmark[np];
			np++;
		}
	}
	if (matched == 0 || n == 0) {
		rs_free(curve);
		if (matched == 0)
			return rs_fail(&ctx->cause, RS_EINVAL, "plot: no decoder matrix matches '%s'",
			               pattern);
		return rs_fail(&ctx->cause, RS_EINVAL, "plot %s: no %s spectra computed for '%s' yet "
		               "(run %s'spectra %s' first)", what, kind == PLOT_KIND_WEIGHT ? "weight" :
		               "feature", pattern, kind == PLOT_KIND_WEIGHT ? "" : "'calibrate FILE', ",
		               pattern);
	}
	if (missing > 0)
		rs_out_infof(ctx->out, "plot %s: %d matching matrices have no such spectrum and are "
		             "left out\n", what, missing);
	snprintf(desc, sizeof desc, "%s; method %s", plot_kinds_desc(used),
	         rs_method_name((enum rs_method)s->method));
	plot_header(g, ctx, args, energy ? "energy kept by rank" : raw ? "singular values" :
	            "singular values divided by the largest", desc);
	rs_gplot_printf(g, "N = %d\nP = %d\nLAYERS = %d\nLMIN = %d\nLMAX = %d\nNORM = %d\n"
	                "NRK = %d\n", n, np, layers, lmin, lmax, !raw, nrk);
	rs_gplot_printf(g, "array LAYER[%d]\narray PNAME[%d]\narray PFIRST[%d]\narray PLAST[%d]\n"
	                "array PRMAX[%d]\narray PNRK[%d]\n", n, np, np, np, np, np);
	for (j = 0; j < n; j++)
		rs_gplot_printf(g, "LAYER[%d] = %d\n", j + 1, rs_plan_layer(p, curve[j]));
	for (j = 0; j < np; j++) {
		int64_t rows, cols;

		rs_plan_shape(p, curve[first[j]], &rows, &cols);
		rs_gplot_printf(g, "PNAME[%d] = '%s  (%lld×%lld)'\nPFIRST[%d] = %d\nPLAST[%d] = %d\n"
		                "PRMAX[%d] = %zu\nPNRK[%d] = %d\n", j + 1,
		                rs_tkind_name((enum rs_tkind)ptype[j]), (long long)rows,
		                (long long)cols, j + 1, first[j] + 1, j + 1, last[j] + 1, j + 1,
		                rmax[j], j + 1, nmark[j]);
	}
	/* $sv: an index per curve; columns  i  σ_i (or σ_i/σ_1)  energy kept at rank i. */
	rs_gplot_data_begin(g, "sv");
	for (j = 0; j < n; j++) {
		const struct rs_spec *sp = plot_spec(s, curve[j], kind);
		int r = rs_plan_rank(p, curve[j]);

		rs_gplot_printf(g, "%s# %s\n", j > 0 ? "\n\n" : "", rs_plan_name(p, curve[j]));
		stride = (sp->r + PLOT_MAX_POINTS - 1) / PLOT_MAX_POINTS;
		for (k = 0; k < sp->r; k++)
			if (k % stride == 0 || k + 1 == sp->r || (long)k + 1 == r)
				rs_gplot_printf(g, "%zu %.9g %.9g\n", k + 1, plot_sigma(sp, k, raw),
				                rs_energy_kept(sp->energy, k + 1));
	}
	rs_gplot_data_end(g);
	/* $rk: a row per factored matrix; columns  panel  layer  rank  σ  energy kept. */
	if (nrk > 0) {
		rs_gplot_data_begin(g, "rk");
		for (j = 0, t = 0; j < n; j++) {
			const struct rs_spec *sp = plot_spec(s, curve[j], kind);
			int r = rs_plan_rank(p, curve[j]);

			while (j > last[t])
				t++;
			if (r == RS_PLAN_DENSE)
				continue;
			if ((size_t)r > sp->r)
				r = (int)sp->r;
			rs_gplot_printf(g, "%d %d %d %.9g %.9g\n", t + 1, rs_plan_layer(p, curve[j]), r,
			                plot_sigma(sp, (size_t)r - 1, raw),
			                rs_energy_kept(sp->energy, (size_t)r));
		}
		rs_gplot_data_end(g);
	}
	rs_free(curve);
	rs_gplot_template(g, what);
	rs_gplot_template(g, "panels");
	return 0;
}

/* plan: the share of parameters every decoder matrix keeps, grouped by layer and coloured by
 * matrix type, with the budget's line when a budget is set. */
static int
plot_plan(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g)
{
	struct rs_session *s = ctx->session;
	struct rs_plan *p = s->plan;
	double dense = (double)rs_plan_dense_params(p), budget = 0;
	int i, t;

	if (s->budget_keep > 0)
		budget = s->budget_keep < 1 ? 100.0 * s->budget_keep : 100.0;
	else if (s->budget_params > 0)
		budget = (double)s->budget_params < dense ? 100.0 * (double)s->budget_params / dense :
		    100.0;
	plot_header(g, ctx, args, "rank plan: share of each matrix's parameters kept", "");
	rs_gplot_printf(g, "N = %d\nLAYERS = %d\nKEPT = %.6f\nBUDGET = %.6f\nGROUP = %d\n"
	                "array TYPES[%d]\n", rs_plan_count(p), rs_plan_n_layers(p),
	                (double)rs_plan_params(p) / dense, budget, RS_MAT_COUNT + 1, RS_MAT_COUNT);
	for (t = 0; t < RS_MAT_COUNT; t++)
		rs_gplot_printf(g, "TYPES[%d] = '%s'\n", t + 1, rs_tkind_name((enum rs_tkind)t));
	/* Columns: x (layer * GROUP + type), name, layer, type, rank (max rank if dense), max
	 * rank, keep %. */
	rs_gplot_data_begin(g, "plan");
	for (i = 0; i < rs_plan_count(p); i++) {
		int r = rs_plan_rank(p, i);

		rs_gplot_printf(g, "%d %s %d %d %lld %lld %.6f\n",
		                rs_plan_layer(p, i) * (RS_MAT_COUNT + 1) + (int)rs_plan_type(p, i),
		                rs_plan_name(p, i), rs_plan_layer(p, i), (int)rs_plan_type(p, i),
		                (long long)(r == RS_PLAN_DENSE ? rs_plan_max_rank(p, i) : r),
		                (long long)rs_plan_max_rank(p, i),
		                100.0 * (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i));
	}
	rs_gplot_data_end(g);
	rs_gplot_template(g, "plan");
	return 0;
}

/* What the heat map's "err" is, for the spectra kinds in `used` (a bit per enum
 * rs_spec_kind). */
static const char *
plot_err_desc(unsigned used)
{
	switch (used) {
	case 0:
		return "err: no spectra computed (run 'spectra')";
	case 1u << RS_SPEC_WEIGHT:
		return "err = ‖W − Ŵ‖ / ‖W‖ (Frobenius) of the best approximation at the plan's rank, "
		       "predicted from the weight spectrum";
	case 1u << RS_SPEC_CENTRED:
		return "err = ‖(W − Ŵ)X‖ / ‖WX‖ (Frobenius, X the centred calibration inputs) at the "
		       "plan's rank, predicted from the feature spectrum";
	case 1u << RS_SPEC_UNCENTRED:
		return "err = ‖(W − Ŵ)X‖ / ‖WX‖ (Frobenius, X the calibration inputs, uncentred) at "
		       "the plan's rank, predicted from the feature spectrum";
	default:
		return "err = predicted relative reconstruction error at the plan's rank, from the "
		       "feature spectrum where computed, else the weight spectrum";
	}
}

/* heatmap: layer x matrix type; keep %, the rank and the predicted error at it (from the
 * spectrum the method previews with, or --kind). */
static int
plot_heatmap(struct rs_cmd_ctx *ctx, const struct rs_args *args, struct rs_gplot *g,
             const char *pattern, enum plot_kind kind)
{
	struct rs_session *s = ctx->session;
	struct rs_plan *p = s->plan;
	int l, t, any = 0;
	unsigned used = 0;

	for (l = 0; l < rs_plan_n_layers(p); l++)
		for (t = 0; t < RS_MAT_COUNT; t++) {
			int i = rs_plan_index(p, l, (enum rs_tkind)t);
			const struct rs_spec *sp = plot_spec(s, i, kind);

			if (rs_pattern_match(pattern, rs_plan_name(p, i))) {
				any = 1;
				if (sp != NULL)
					used |= 1u << sp->kind;
			}
		}
	if (!any)
		return rs_fail(&ctx->cause, RS_EINVAL, "plot: no decoder matrix matches '%s'", pattern);
	plot_header(g, ctx, args, "parameters kept per layer and matrix, rank and predicted error",
	            "");
	rs_gplot_printf(g, "LAYERS = %d\nERRDESC = ", rs_plan_n_layers(p));
	rs_gplot_quoted(g, plot_err_desc(used));
	rs_gplot_printf(g, "\narray TYPES[%d]\n", RS_MAT_COUNT);
	for (t = 0; t < RS_MAT_COUNT; t++)
		rs_gplot_printf(g, "TYPES[%d] = '%s'\n", t + 1, rs_tkind_name((enum rs_tkind)t));
	/* Columns: type (x), layer (y), keep % (NaN when not selected), rank (0 = dense), error
	 * ('-' when unknown). */
	rs_gplot_data_begin(g, "hm");
	for (l = 0; l < rs_plan_n_layers(p); l++) {
		for (t = 0; t < RS_MAT_COUNT; t++) {
			int i = rs_plan_index(p, l, (enum rs_tkind)t), r = rs_plan_rank(p, i);
			const struct rs_spec *sp = plot_spec(s, i, kind);

			if (!rs_pattern_match(pattern, rs_plan_name(p, i))) {
				rs_gplot_printf(g, "%d %d NaN 0 -\n", t, l);
				continue;
			}
			rs_gplot_printf(g, "%d %d %.4f %d ", t, l, 100.0 *
			                (double)rs_plan_params_of(p, i) / (double)rs_plan_dense_of(p, i),
			                r == RS_PLAN_DENSE ? 0 : r);
			if (sp == NULL)
				rs_gplot_printf(g, "-\n");
			else
				rs_gplot_printf(g, "%.6g\n", r == RS_PLAN_DENSE ? 0.0 :
				                rs_spec_error(sp, (size_t)r));
		}
		rs_gplot_printf(g, "\n");
	}
	rs_gplot_data_end(g);
	rs_gplot_template(g, "heatmap");
	return 0;
}

static int
cmd_plot_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	const char *what = args->argv[0], *to = rs_args_get(args, "to");
	const char *pattern = args->argc > 1 ? args->argv[1] : "*";
	const char *size = rs_args_get(args, "size"), *script = rs_args_get(args, "script");
	struct rs_gplot *g;
	enum rs_gplot_format fmt;
	enum plot_kind kind;
	char *warn = NULL;
	int rc, width, height;

	if (strcmp(what, "spectrum") != 0 && strcmp(what, "energy") != 0 &&
	    strcmp(what, "plan") != 0 && strcmp(what, "heatmap") != 0 &&
	    strcmp(what, "alloc-trace") != 0)
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: '%s' is not a plot (spectrum, energy, "
		               "plan, heatmap or alloc-trace)", what);
	if (to == NULL || to[0] == '\0')
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: --to FILE.png|svg|pdf is required");
	if (ctx->session->plan == NULL)
		return rs_fail(&ctx->cause, RS_ENOMEM, "plot: no plan (out of memory at load)");
	if ((rc = rs_pattern_check(pattern, &ctx->cause)) != 0 ||
	    (rc = rs_gplot_format_of(to, &fmt, &ctx->cause)) != 0 ||
	    (rc = plot_parse_kind(ctx, args, &kind)) != 0)
		return rc;
	/* Default canvases: the panels of spectrum and energy need more room than one plot. */
	if (strcmp(what, "spectrum") == 0 || strcmp(what, "energy") == 0) {
		width = 1400;
		height = 760;
	} else {
		width = RS_GPLOT_WIDTH;
		height = RS_GPLOT_HEIGHT;
	}
	if (size != NULL && (rc = rs_gplot_parse_size(size, &width, &height, &ctx->cause)) != 0)
		return rc;
	if (script != NULL && script[0] == '\0')
		return rs_fail(&ctx->cause, RS_EUSAGE, "plot: --script needs a file name");
	if ((g = rs_gplot_new(to, &ctx->cause)) == NULL)
		return RS_EINVAL;
	rs_gplot_set_size(g, width, height);
	rc = script != NULL ? rs_gplot_save_script(g, script, &ctx->cause) : 0;
	if (rc == 0 && strcmp(what, "alloc-trace") == 0) {
		struct rs_alloc_state *st = ctx->session->alloc;
		plot_header(g, ctx, args, "allocation trace", "");
		rc = rs_plot_trace(g, rs_allocrun_bo_last(ctx->session), st != NULL ? st->sens :
		    NULL, &ctx->cause);
	} else if (rc == 0 && strcmp(what, "plan") == 0) {
		rc = plot_plan(ctx, args, g);
	} else if (rc == 0 && strcmp(what, "heatmap") == 0) {
		rc = plot_heatmap(ctx, args, g, pattern, kind);
	} else if (rc == 0) {
		rc = plot_spectra(ctx, args, g, what, pattern, kind);
	}
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

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_plot_forms[] = {
	{ "spectrum", "PATTERN" },
	{ "energy", "PATTERN" },
	{ "plan", "PATTERN" },
	{ "heatmap", "PATTERN" },
	{ "alloc-trace", "PATTERN" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_plot_entry = {
	.name = "plot",
	.alias = NULL,
	.usage = "spectrum|energy|plan|heatmap|alloc-trace [PATTERN] --to FILE.{png,svg,pdf} "
	         "[--title TEXT] [--kind KIND] [--raw] [--size WxH] [--script FILE]",
	.summary = "write a plot through gnuplot",
	.help = "Writes a plot with gnuplot (run as a separate process; its errors are shown). "
	        "'spectrum': a panel per matrix type (q, k, v, o, gate, up, down) among the matrices "
	        "PATTERN selects (default all with computed spectra), a curve per layer coloured by "
	        "layer (colour bar), singular values divided by the largest on a log scale (--raw: "
	        "as they are), a point on each curve at the plan's rank; the feature spectra when "
	        "computed, else the weight spectra (--kind weight|feature|centred|uncentred); the "
	        "title names model, spectrum kind and method. 'energy': the same panels for the "
	        "fraction of energy kept by rank. 'plan': the share of parameters each matrix keeps, "
	        "grouped by layer, coloured by type, with the budget's line when one is set. "
	        "'heatmap': keep %, rank and err by layer and matrix type, err the predicted "
	        "relative reconstruction error at the plan's rank from the spectrum the method "
	        "previews with (or --kind). 'alloc-trace': the last 'alloc bo' run's validation PPL by "
	        "trial (full evaluations and screening ones apart), the best so far and the "
	        "heuristic plans as lines, and the sensitivity probes (each matrix alone at a keep "
	        "ratio); it needs one of them in the session. The format "
	        "follows the extension of FILE (.png, .svg, .pdf); the file appears whole or not at "
	        "all. --script FILE saves the gnuplot script too. Templates come from "
	        "$RS_DATADIR/gnuplot or the installed share directory; $RS_GNUPLOT names the "
	        "gnuplot program.",
	.opts = cmd_plot_opts,
	.min_args = 1,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_plot_exec,
	.words = cmd_plot_words,
	.forms = cmd_plot_forms,
};
