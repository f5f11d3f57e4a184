/* plot-trace.c: `plot alloc-trace`: a bo run's objective and best-so-far by trial, coloured by
 * fidelity, the heuristic plans as horizontal lines, and the sensitivity probes. */
#include "config.h"

#include "plot-trace.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gplot.h"
#include "status.h"

/* What trial t is drawn at: its validation PPL (full), its screening value, or for a proxy
 * run the proxy; 0 when it has none. */
static double
trial_value(const struct rs_bo_trial *t, int proxy_run)
{
	if (proxy_run)
		return t->proxy;
	if (t->fidelity == RS_BO_FID_FULL)
		return t->ppl;
	return t->fidelity == RS_BO_FID_LOW ? t->low_ppl : 0;
}

/* The trials of h as datablocks (every block starts with a row of NaN, so none is empty). */
static void
trace_bo(struct rs_gplot *g, const struct rs_bo_hist *h)
{
	int proxy_run = strncmp(h->config, "objective=proxy", 15) == 0;
	long best = -1;
	size_t k;

	rs_gplot_printf(g, "YLABEL = '%s'\n", proxy_run ? "predicted feature error (proxy)" :
	    "validation PPL");
	rs_gplot_data_begin(g, "full");
	rs_gplot_printf(g, "NaN NaN 0\n");
	for (k = 0; k < h->n; k++)
		if (h->t[k].fidelity == RS_BO_FID_FULL && trial_value(&h->t[k], proxy_run) > 0)
			rs_gplot_printf(g, "%zu %.6g %llu\n", k + 1, trial_value(&h->t[k],
			    proxy_run), (unsigned long long)h->t[k].params);
	rs_gplot_data_end(g);
	rs_gplot_data_begin(g, "screen");
	rs_gplot_printf(g, "NaN NaN 0\n");
	for (k = 0; k < h->n; k++)
		if (h->t[k].fidelity == RS_BO_FID_LOW && trial_value(&h->t[k], proxy_run) > 0)
			rs_gplot_printf(g, "%zu %.6g %llu\n", k + 1, trial_value(&h->t[k],
			    proxy_run), (unsigned long long)h->t[k].params);
	rs_gplot_data_end(g);
	rs_gplot_data_begin(g, "best");
	rs_gplot_printf(g, "NaN NaN\n");
	for (k = 0; k < h->n; k++) {
		if (h->t[k].fidelity == RS_BO_FID_FULL && trial_value(&h->t[k], proxy_run) > 0 &&
		    (best < 0 || h->t[k].y < h->t[best].y))
			best = (long)k;
		if (best >= 0)
			rs_gplot_printf(g, "%zu %.6g\n", k + 1, trial_value(&h->t[best], proxy_run));
	}
	rs_gplot_data_end(g);
	rs_gplot_data_begin(g, "heur");
	rs_gplot_printf(g, "none NaN\n");
	for (k = 0; k < h->n; k++) {
		char name[32];
		if (h->t[k].guided != RS_BO_SEEDED || trial_value(&h->t[k], proxy_run) <= 0)
			continue;
		rs_bo_hist_profile_name(h, k, name, sizeof name);
		rs_gplot_printf(g, "%s %.6g\n", name, trial_value(&h->t[k], proxy_run));
	}
	rs_gplot_data_end(g);
}

/* The probes of s as a datablock. */
static void
trace_sens(struct rs_gplot *g, const struct rs_sens *s)
{
	int i, k, j = 0;

	rs_gplot_data_begin(g, "probes");
	for (i = 0; i < s->n; i++)
		for (k = 0; k < s->n_ratios; k++) {
			double v = s->nll[(size_t)i * (size_t)s->n_ratios + (size_t)k];
			if (isnan(v))
				continue;
			rs_gplot_printf(g, "%d %.6g %.4g\n", ++j, exp(v), s->ratios[k]);
		}
	rs_gplot_data_end(g);
}

int
rs_plot_trace(struct rs_gplot *g, const struct rs_bo_hist *h, const struct rs_sens *s,
    char **cause)
{
	int have_bo = h != NULL && h->n > 0;

	if (!have_bo && s == NULL)
		return rs_fail(cause, RS_EINVAL, "plot alloc-trace: no allocation history in this "
		    "session: run 'alloc bo' or 'alloc sensitivity' first");
	rs_gplot_printf(g, "HAVE_BO = %d\nHAVE_SENS = %d\nDENSE = %.6g\n", have_bo, s != NULL,
	    s != NULL ? exp(s->dense_nll) : 0.0);
	if (have_bo)
		trace_bo(g, h);
	if (s != NULL)
		trace_sens(g, s);
	rs_gplot_template(g, "alloc-trace");
	return 0;
}
