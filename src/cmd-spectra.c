/* cmd-spectra.c: compute, show and export the spectra of the decoder matrices. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "analysis.h"
#include "atomic.h"
#include "cache.h"
#include "calib.h"
#include "cmd.h"
#include "compress.h"
#include "memplan.h"
#include "model.h"
#include "pattern.h"
#include "session.h"
#include "spectra-run.h"

static const struct rs_opt cmd_spectra_opts[] = {
	{ "kind", "weight|feature", "singular values of W (default) or of W·S, S Sᵀ = C" },
	{ "variant", "centred|uncentred", "feature spectra: covariance (default) or Gram" },
	{ "recompute", NULL, "ignore the session's and the cache's spectra" },
	{ "cached", NULL, "only what the cache holds for files it knows: compute nothing" },
	{ NULL, NULL, NULL }
};

/* The session's cache, opened on first use (NULL, with a note, if it cannot be). */
static struct rs_cache *
spectra_cache(struct rs_cmd_ctx *ctx)
{
	char *cause = NULL;

	if (ctx->session->cache == NULL &&
	    (ctx->session->cache = rs_cache_open(NULL, &cause)) == NULL) {
		rs_out_infof(ctx->out, "warning: no cache (%s)\n", cause != NULL ? cause : "?");
		rs_free(cause);
	}
	return ctx->session->cache;
}

/* The kind selected by --kind and --variant, or -1 with ctx->cause set. */
static int
spectra_kind(struct rs_cmd_ctx *ctx, const struct rs_args *args, int def)
{
	const char *k = rs_args_get(args, "kind"), *v = rs_args_get(args, "variant");

	if (k == NULL && v == NULL)
		return def;
	if (k != NULL && strcmp(k, "weight") == 0) {
		if (v != NULL)
			return rs_fail(&ctx->cause, RS_EINVAL, "spectra: --variant goes with "
			    "--kind feature"), -1;
		return RS_SPEC_WEIGHT;
	}
	if (k != NULL && strcmp(k, "feature") != 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "spectra: --kind is weight or feature, "
		    "not '%s'", k), -1;
	if (v == NULL || strcmp(v, "centred") == 0 || strcmp(v, "centered") == 0)
		return RS_SPEC_CENTRED;
	if (strcmp(v, "uncentred") == 0 || strcmp(v, "uncentered") == 0)
		return RS_SPEC_UNCENTRED;
	return rs_fail(&ctx->cause, RS_EINVAL, "spectra: --variant is centred or uncentred, "
	    "not '%s'", v), -1;
}

/* Print one note line from the pool. */
static void
spectra_note(void *ud, const char *line)
{
	struct rs_cmd_ctx *ctx = ud;

	rs_out_infof(ctx->out, "%s\n", line);
}

/* Print the metrics and a compact spectrum of one record. */
static void
spectra_show_one(struct rs_cmd_ctx *ctx, const char *name, const struct rs_spec *s)
{
	const struct rs_spectrum_stats *st = &s->st;
	size_t i;

	rs_out_printf(ctx->out, "%s %s spectrum: %zux%zu, %zu singular values", name,
	    rs_spec_kind_name(s->kind), s->m, s->n, s->r);
	if (s->kind != RS_SPEC_WEIGHT)
		rs_out_printf(ctx->out, ", regularization %s%g", s->lambda > 0 ? "λ = " : "",
		    s->lambda);
	rs_out_printf(ctx->out, "\n  norms      Frobenius %.6g (log10 %.4f), spectral %.6g "
	    "(log10 %.4f)\n", st->fro, st->log10_fro, st->spec, st->log10_spec);
	rs_out_printf(ctx->out, "  ranks      stable %.2f, effective (entropy) %.2f, Roy-Vetterli "
	    "%.2f, numerical %zu, break-even %.1f\n", st->stable_rank, st->eff_rank,
	    st->eff_rank_rv, st->num_rank, st->break_even);
	rs_out_printf(ctx->out, "  energy     90%% at rank %zu, 95%% at %zu, 99%% at %zu; "
	    "spectral entropy %.4f (WeightWatcher %.4f)\n", st->rank90, st->rank95, st->rank99,
	    st->entropy, st->entropy_ww);
	if (st->alpha_ok)
		rs_out_printf(ctx->out, "  power law  alpha %.4f (xmin %.6g, KS D %.4f, sigma %.4f, "
		    "%zu tail eigenvalues), weighted alpha %.4f, log alpha-norm %.4f\n", st->alpha,
		    st->alpha_xmin, st->alpha_D, st->alpha_sigma, st->alpha_ntail,
		    st->alpha_weighted, st->log_alpha_norm);
	else
		rs_out_printf(ctx->out, "  power law  no fit (fewer than 10 eigenvalues above 1e-5)\n");
	rs_out_printf(ctx->out, "  %8s %14s %10s %10s\n", "i", "sigma", "energy", "error");
	for (i = 1; i <= s->r; i = i < s->r && i * 2 > s->r ? s->r : i * 2) {
		rs_out_printf(ctx->out, "  %8zu %14.6e %9.4f%% %10.6f\n", i, s->sv[i - 1],
		    100.0 * rs_energy_kept(s->energy, i), rs_energy_error(s->energy, i));
		if (i == s->r)
			break;
	}
}

/* spectra show NAME: every kind present for each matching matrix. */
static int
spectra_show(struct rs_cmd_ctx *ctx, const char *pat)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	int l, k, kind, shown = 0, matched = 0;
	char name[64];

	if (rs_pattern_check(pat, &ctx->cause) != 0)
		return RS_EUSAGE;
	for (l = 0; l < mc->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			snprintf(name, sizeof name, "L%d.%s", l, rs_tkind_name((enum rs_tkind)k));
			if (!rs_pattern_match(pat, name))
				continue;
			matched++;
			for (kind = 0; kind < RS_SPEC_KINDS; kind++) {
				const struct rs_spec *sp = rs_analysis_get(s->analysis, l,
				    (enum rs_tkind)k, (enum rs_spec_kind)kind);
				if (sp == NULL)
					continue;
				spectra_show_one(ctx, name, sp);
				shown++;
			}
		}
	if (matched == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "spectra show: no decoder matrix matches '%s'",
		    pat);
	if (shown == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "spectra show: no spectra of '%s' yet (run "
		    "'spectra %s')", pat, pat);
	return 0;
}

/* spectra export FILE: long-format CSV matrix,kind,i,sigma, written atomically. */
static int
spectra_export(struct rs_cmd_ctx *ctx, const char *path, int only_kind)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	struct rs_afile *af;
	FILE *f;
	size_t i, rows = 0;
	int l, k, kind;

	if ((af = rs_afile_open(path, &ctx->cause)) == NULL)
		return RS_EIO;
	f = rs_afile_stream(af);
	fprintf(f, "matrix,kind,i,sigma\n");
	for (l = 0; l < mc->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++)
			for (kind = 0; kind < RS_SPEC_KINDS; kind++) {
				const struct rs_spec *sp = rs_analysis_get(s->analysis, l,
				    (enum rs_tkind)k, (enum rs_spec_kind)kind);
				if (sp == NULL || (only_kind >= 0 && kind != only_kind))
					continue;
				for (i = 0; i < sp->r; i++)
					fprintf(f, "L%d.%s,%s,%zu,%.10e\n", l,
					    rs_tkind_name((enum rs_tkind)k), rs_spec_kind_name(sp->kind),
					    i + 1, sp->sv[i]);
				rows += sp->r;
			}
	if (rows == 0) {
		rs_afile_abort(af);
		return rs_fail(&ctx->cause, RS_EINVAL, "spectra export: no spectra yet (run "
		    "'spectra')");
	}
	if (rs_afile_commit(af, &ctx->cause) != 0)
		return RS_EIO;
	rs_out_printf(ctx->out, "spectra: wrote %zu values to %s\n", rows, path);
	return 0;
}

/* One kind of spectra for the matrices matching sub (NULL: all), with its summary lines. */
static int
spectra_run_kind(struct rs_cmd_ctx *ctx, const char *sub, enum rs_spec_kind kind, int recompute,
    int cached)
{
	struct rs_session *s = ctx->session;
	struct rs_spectra_opts o;
	struct rs_spectra_report rep;
	int rc;

	memset(&o, 0, sizeof o);
	o.pattern = sub;
	o.kind = kind;
	o.threads = s->threads;
	o.cache = spectra_cache(ctx);
	o.calib = s->calib;
	o.recompute = recompute;
	o.cached_only = cached;
	o.note = spectra_note;
	o.ud = ctx;
	o.dist = s->dist;
	if (!o.cached_only) {
		/* refuse before starting what cannot fit (memplan.h) */
		struct rs_memplan_opts mo = { .threads = s->threads };
		struct rs_memline ln;
		rs_memplan_line(s->model, &mo, kind == RS_SPEC_WEIGHT ? RS_MEM_SPECTRA :
		    RS_MEM_FEATURES, &ln);
		if ((rc = rs_memplan_check("spectra", ln.bytes, ln.fix, &ctx->cause)) != 0)
			return rc;
	}
	rc = rs_spectra_run(s->analysis, s->model, &o, &rep, ctx->job, &ctx->cause);
	if (rc == 0 && rep.selected == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "spectra: no decoder matrix matches '%s'",
		    sub != NULL ? sub : "*");
	rs_out_printf(ctx->out, "spectra: %s, %d matrices: %d computed, %d from cache, %d already "
	    "in the session; content: %d by quick key, %d hashed in full, %" PRIu64 " bytes read; "
	    "%d worker%s, %.2f s\n", rs_spec_kind_name(o.kind), rep.selected, rep.computed,
	    rep.from_cache, rep.kept, rep.quick_keyed, rep.hashed_full, rep.hashed_bytes,
	    rep.workers, rep.workers == 1 ? "" : "s", rep.seconds);
	if (o.cached_only && rep.not_cached > 0)
		rs_out_printf(ctx->out, "spectra: %d of %d not found by quick key (never computed, "
		    "or a new, touched or changed file): 'spectra%s%s%s' hashes the file and reuses "
		    "or computes them\n", rep.not_cached, rep.selected, sub != NULL ? " '" : "",
		    sub != NULL ? sub : "", sub != NULL ? "'" : "");
	if (rep.regularized > 0)
		rs_out_printf(ctx->out, "spectra: %d matri%s needed a regularized covariance (see "
		    "above)\n", rep.regularized, rep.regularized == 1 ? "x" : "ces");
	return rc;
}

static int
cmd_spectra_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const char *sub = args->argc > 0 ? args->argv[0] : NULL;
	int kind, rc, recompute, cached;

	if (s->analysis == NULL &&
	    (s->analysis = rs_analysis_new(rs_model_config(s->model)->n_layers, &ctx->cause)) == NULL)
		return RS_ENOMEM;
	if (sub != NULL && (strcmp(sub, "show") == 0 || strcmp(sub, "export") == 0)) {
		if (args->argc != 2)
			return rs_fail(&ctx->cause, RS_EUSAGE, "usage: spectra %s %s", sub,
			    sub[0] == 's' ? "NAME" : "FILE.csv");
		if (sub[0] == 's')
			return spectra_show(ctx, args->argv[1]);
		if ((kind = spectra_kind(ctx, args, -1)) < -1 || (kind == -1 && ctx->cause != NULL))
			return RS_EUSAGE;
		return spectra_export(ctx, args->argv[1], kind);
	}
	if (args->argc > 1)
		return rs_fail(&ctx->cause, RS_EUSAGE, "usage: spectra [PATTERN] [--kind "
		    "weight|feature] [--variant centred|uncentred]");
	if (sub != NULL && rs_pattern_check(sub, &ctx->cause) != 0)
		return RS_EUSAGE;
	if ((kind = spectra_kind(ctx, args, RS_SPEC_WEIGHT)) < 0)
		return RS_EUSAGE;
	recompute = rs_args_has(args, "recompute");
	cached = rs_args_has(args, "cached");
	if (recompute && cached)
		return rs_fail(&ctx->cause, RS_EUSAGE, "spectra: --cached and --recompute exclude "
		    "each other");
	rc = spectra_run_kind(ctx, sub, (enum rs_spec_kind)kind, recompute, cached);
	/* without --kind, a calibrated session also gets the feature spectra its method
	 * previews with: what the table's F.en% and error columns show */
	if (rc == 0 && rs_args_get(args, "kind") == NULL && rs_args_get(args, "variant") == NULL &&
	    s->calib != NULL && rs_calib_complete(s->calib))
		rc = spectra_run_kind(ctx, sub, s->method == RS_METHOD_WHITEN ? RS_SPEC_UNCENTRED :
		    RS_SPEC_CENTRED, recompute, cached);
	return rc;
}

static const char *const cmd_spectra_words[] = { "show", "export", NULL };

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_spectra_forms[] = {
	{ NULL, "PATTERN" },
	{ "show", "NAME" },
	{ "export", "FILE.csv" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_spectra_entry = {
	.name = "spectra",
	.alias = NULL,
	.usage = "[PATTERN] [--kind weight|feature] [--variant centred|uncentred] [--recompute] "
	         "[--cached] "
	         "| show NAME | export FILE.csv",
	.summary = "singular values of the decoder matrices (weights or features)",
	.help = "Computes the singular values of every decoder matrix matching PATTERN (default: "
	        "all; e.g. L3-7.up, *.q, L*.down) in parallel across matrices, and keeps them in "
	        "the session. Without --kind, a calibrated session gets the feature spectra its "
	        "method previews with as well (centred; uncentred for whiten). --kind feature gives the singular values of W·S with S Sᵀ = C, the "
	        "calibration statistics of the matrix's input (run 'calibrate' first): the "
	        "centred covariance (default) or the uncentred Gram (--variant uncentred); when C "
	        "is not positive definite a multiple of its mean diagonal is added and reported. "
	        "Spectra are cached by tensor content (and calibration): a second run reads them "
	        "back; the summary line says how many were computed. A file seen before is "
	        "identified by its quick key (file identity and three sampled 4 KiB blocks per "
	        "matrix) without reading its weights; a new, copied, touched or changed file is "
	        "hashed in full once (the summary line counts both; --recompute always hashes in "
	        "full). --cached takes only what the cache holds for a file it knows by quick key and "
	        "computes nothing (what the workbench does on open). 'spectra show NAME' prints "
	        "the metrics and a compact spectrum; 'spectra export FILE.csv' writes "
	        "matrix,kind,i,sigma rows. Ctrl-C cancels within half a second, even in the "
	        "middle of a matrix (a large decomposition runs in a child process, which is "
	        "killed), and keeps what finished; the interrupted matrix is neither kept nor "
	        "cached.",
	.opts = cmd_spectra_opts,
	.min_args = 0,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL | RS_CMD_JOB,
	.exec = cmd_spectra_exec,
	.words = cmd_spectra_words,
	.forms = cmd_spectra_forms,
};
