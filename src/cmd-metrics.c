/* cmd-metrics.c: the per-matrix spectrum summaries as a table or a CSV file. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "atomic.h"
#include "cmd.h"
#include "model.h"
#include "pattern.h"
#include "session.h"

static const struct rs_opt cmd_metrics_opts[] = {
	{ "kind", "weight|centred|uncentred", "only this kind of spectrum (default: all present)" },
	{ NULL, NULL, NULL }
};

/* Write one CSV row of every metric of a record. */
static void
metrics_csv_row(FILE *f, const char *name, const struct rs_spec *s)
{
	const struct rs_spectrum_stats *st = &s->st;

	fprintf(f, "%s,%s,%zu,%zu,%zu,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%zu,%.10g,"
	    "%zu,%zu,%zu,%.10g,%d,%.10g,%.10g,%.10g,%.10g,%.10g,%zu,%.10g,%.10g,%.10g\n", name,
	    rs_spec_kind_name(s->kind), s->m, s->n, s->r, st->fro, st->log10_fro, st->spec,
	    st->log10_spec, st->stable_rank, st->entropy, st->eff_rank, st->eff_rank_rv,
	    st->num_rank, st->entropy_ww, st->rank90, st->rank95, st->rank99, st->break_even,
	    st->alpha_ok, st->alpha, st->alpha_xmin, st->alpha_xmax, st->alpha_D, st->alpha_sigma,
	    st->alpha_ntail, st->alpha_weighted, st->log_alpha_norm, s->lambda);
}

static int
cmd_metrics_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	const char *kname = rs_args_get(args, "kind"), *pat = "*", *path = NULL;
	struct rs_afile *af = NULL;
	FILE *f = NULL;
	int l, k, kind, only = -1, rows = 0;
	char name[64];

	if (kname != NULL && (only = rs_spec_kind_parse(kname)) < 0)
		return rs_fail(&ctx->cause, RS_EUSAGE, "metrics: --kind is weight, centred or "
		    "uncentred, not '%s'", kname);
	if (args->argc > 0 && strcmp(args->argv[0], "export") == 0) {
		if (args->argc != 2)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: metrics export FILE.csv");
		path = args->argv[1];
	} else if (args->argc > 1) {
		return rs_fail(&ctx->cause, RS_EUSAGE, "usage: metrics [PATTERN] [--kind K] | "
		    "export FILE.csv");
	} else if (args->argc == 1) {
		pat = args->argv[0];
		if (rs_pattern_check(pat, &ctx->cause) != 0)
			return RS_EUSAGE;
	}
	if (path != NULL) {
		if ((af = rs_afile_open(path, &ctx->cause)) == NULL)
			return RS_EIO;
		f = rs_afile_stream(af);
		fprintf(f, "matrix,kind,m,n,r,fro,log10_fro,spec,log10_spec,stable_rank,entropy,"
		    "eff_rank,eff_rank_rv,num_rank,entropy_ww,rank90,rank95,rank99,break_even,"
		    "alpha_ok,alpha,alpha_xmin,alpha_xmax,alpha_D,alpha_sigma,alpha_ntail,"
		    "alpha_weighted,log_alpha_norm,lambda\n");
	} else {
		rs_out_printf(ctx->out, "%-10s %-9s %11s %10s %9s %8s %8s %6s %6s %6s %8s %7s\n",
		    "matrix", "kind", "shape", "fro", "spec", "stable", "effrank", "r90", "r95",
		    "r99", "breakeven", "alpha");
	}
	for (l = 0; l < mc->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			snprintf(name, sizeof name, "L%d.%s", l, rs_tkind_name((enum rs_tkind)k));
			if (!rs_pattern_match(pat, name))
				continue;
			for (kind = 0; kind < RS_SPEC_KINDS; kind++) {
				const struct rs_spec *sp = rs_analysis_get(s->analysis, l,
				    (enum rs_tkind)k, (enum rs_spec_kind)kind);
				char shape[32], alpha[16];
				if (sp == NULL || (only >= 0 && kind != only))
					continue;
				rows++;
				if (f != NULL) {
					metrics_csv_row(f, name, sp);
					continue;
				}
				snprintf(shape, sizeof shape, "%zux%zu", sp->m, sp->n);
				if (sp->st.alpha_ok)
					snprintf(alpha, sizeof alpha, "%.3f", sp->st.alpha);
				else
					snprintf(alpha, sizeof alpha, "-");
				rs_out_printf(ctx->out, "%-10s %-9s %11s %10.4g %9.4g %8.2f %8.1f %6zu "
				    "%6zu %6zu %8.1f %7s\n", name, rs_spec_kind_name(sp->kind), shape,
				    sp->st.fro, sp->st.spec, sp->st.stable_rank, sp->st.eff_rank,
				    sp->st.rank90, sp->st.rank95, sp->st.rank99, sp->st.break_even, alpha);
			}
		}
	if (rows == 0) {
		rs_afile_abort(af);
		return rs_fail(&ctx->cause, RS_EINVAL, "metrics: no spectra%s%s yet (run 'spectra')",
		    only >= 0 ? " of kind " : "", only >= 0 ? rs_spec_kind_name(only) : "");
	}
	if (af != NULL) {
		if (rs_afile_commit(af, &ctx->cause) != 0)
			return RS_EIO;
		rs_out_printf(ctx->out, "metrics: wrote %d rows to %s\n", rows, path);
	}
	return 0;
}

static const char *const cmd_metrics_words[] = { "export", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_metrics_forms[] = {
	{ NULL, "PATTERN" },
	{ "export", "FILE.csv" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_metrics_entry = {
	.name = "metrics",
	.alias = NULL,
	.usage = "[PATTERN] [--kind weight|centred|uncentred] | export FILE.csv",
	.summary = "per-matrix spectrum metrics (norms, ranks, energy, power-law alpha)",
	.help = "Prints, for every matrix matching PATTERN whose spectra have been computed "
	        "('spectra'), its Frobenius and spectral norms, stable rank, entropy effective "
	        "rank, the ranks keeping 90/95/99 % of the energy, the break-even rank m·n/(m+n) "
	        "and the WeightWatcher power-law exponent alpha. 'metrics export FILE.csv' writes "
	        "one row per matrix and kind with every metric (docs/metrics.md), atomically.",
	.opts = cmd_metrics_opts,
	.min_args = 0,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_metrics_exec,
	.words = cmd_metrics_words,
	.forms = cmd_metrics_forms,
};
