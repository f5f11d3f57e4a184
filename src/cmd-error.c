/* cmd-error.c: the relative weight and feature errors at a rank, from the spectra alone. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "analysis.h"
#include "cmd.h"
#include "engine.h"
#include "model.h"
#include "pattern.h"
#include "session.h"

/* Seconds since an arbitrary origin. */
static double
error_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int
cmd_error_exec(struct rs_cmd_ctx *ctx, const struct rs_args *args)
{
	struct rs_session *s = ctx->session;
	const struct rs_model_config *mc = rs_model_config(s->model);
	const char *pat = args->argv[0];
	const struct rs_spec *sp[RS_SPEC_KINDS];
	double err[RS_SPEC_KINDS], t0, t1;
	long rank;
	int l, k, kind, any, matched = 0, shown = 0;
	size_t r;
	char name[64], line[512];

	if (rs_pattern_check(pat, &ctx->cause) != 0)
		return RS_EUSAGE;
	{
		char *end;
		rank = strtol(args->argv[1], &end, 10);
		if (end == args->argv[1] || *end != '\0' || rank < 0)
			return rs_fail(&ctx->cause, RS_EUSAGE, "error: RANK is a whole number >= 0, "
			    "not '%s'", args->argv[1]);
	}
	for (l = 0; l < mc->n_layers; l++)
		for (k = 0; k < RS_MAT_COUNT; k++) {
			size_t at = 0;
			snprintf(name, sizeof name, "L%d.%s", l, rs_tkind_name((enum rs_tkind)k));
			if (!rs_pattern_match(pat, name))
				continue;
			matched++;
			/* The look-ups themselves, timed: what a plan editor pays per matrix. */
			t0 = error_now();
			for (any = 0, kind = 0; kind < RS_SPEC_KINDS; kind++) {
				sp[kind] = rs_analysis_get(s->analysis, l, (enum rs_tkind)k,
				    (enum rs_spec_kind)kind);
				err[kind] = sp[kind] != NULL ? rs_spec_error(sp[kind], (size_t)rank) : -1;
				any |= sp[kind] != NULL;
			}
			t1 = error_now();
			if (!any)
				continue;
			shown++;
			r = 0;
			for (kind = 0; kind < RS_SPEC_KINDS; kind++)
				if (sp[kind] != NULL)
					r = sp[kind]->r;
			at += (size_t)snprintf(line + at, sizeof line - at, "%s rank %ld%s:", name,
			    rank, (size_t)rank > r ? " (full)" : "");
			for (kind = 0; kind < RS_SPEC_KINDS && at < sizeof line; kind++)
				if (sp[kind] != NULL)
					at += (size_t)snprintf(line + at, sizeof line - at,
					    " %s %.6f (energy %.4f%%)", kind == RS_SPEC_WEIGHT ? "weight" :
					    kind == RS_SPEC_CENTRED ? "feature-centred" :
					    "feature-uncentred", err[kind],
					    100.0 * rs_energy_kept(sp[kind]->energy, (size_t)rank));
			{
				/* which of them the table, rank --energy and alloc preview with */
				const struct rs_spec *pv = rs_engine_preview_spec(s, l, (enum rs_tkind)k);
				if (pv != NULL && at < sizeof line)
					at += (size_t)snprintf(line + at, sizeof line - at, "; method %s "
					    "previews with %s", rs_method_name((enum rs_method)s->method),
					    pv->kind == RS_SPEC_WEIGHT ? "weight" : pv->kind ==
					    RS_SPEC_CENTRED ? "feature-centred" : "feature-uncentred");
			}
			rs_out_printf(ctx->out, "%s  [%.2f us]\n", line, (t1 - t0) * 1e6);
		}
	if (matched == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "error: no decoder matrix matches '%s'", pat);
	if (shown == 0)
		return rs_fail(&ctx->cause, RS_EINVAL, "error: no spectra of '%s' yet (run "
		    "'spectra %s')", pat, pat);
	return 0;
}

/* The positionals' grammar (cmd.h), for completion. */
static const struct rs_cmd_form cmd_error_forms[] = {
	{ NULL, "NAME RANK" },
	{ NULL, NULL }
};

const struct rs_cmd_entry rs_cmd_error_entry = {
	.name = "error",
	.alias = NULL,
	.usage = "NAME RANK",
	.summary = "relative weight and feature error at a rank, from the spectra",
	.help = "For each matrix matching NAME (a name or pattern) prints the relative Frobenius "
	        "error of the best rank-RANK approximation, sqrt(sum_{i>RANK} s_i^2 / sum s_i^2), "
	        "for every spectrum computed so far: the weight spectrum (Eckart-Young) and the "
	        "feature spectra (the exact relative output error on the calibration activations, "
	        "centred or uncentred), with the energy kept, the spectrum the current method previews with (the one the "
	        "workbench's table, 'rank --energy' and 'alloc' use: uncentred feature for "
	        "whiten, centred feature otherwise, else the other feature kind, else weight) "
	        "and the time the look-up took.",
	.opts = NULL,
	.min_args = 2,
	.max_args = 2,
	.flags = RS_CMD_NEEDS_MODEL,
	.exec = cmd_error_exec,
	.forms = cmd_error_forms,
};
