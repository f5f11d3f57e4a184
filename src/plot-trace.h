/* plot-trace.h: the data of `plot alloc-trace` (a bo run's trials and the sensitivity probes)
 * as gnuplot datablocks for share/gnuplot/alloc-trace.gp. */
#ifndef RS_PLOT_TRACE_H
#define RS_PLOT_TRACE_H

#include "rankalloc.h"

struct rs_gplot;

/* Append to g the variables and datablocks of the trace of bo run h and probes s (either may
 * be NULL, not both), then the alloc-trace template:
 *   HAVE_BO, HAVE_SENS (0/1), DENSE (dense validation PPL of the probes, 0 when unknown);
 *   YLABEL; $full, $screen: trial, validation PPL (screen: on the screening windows; a proxy
 *   run: the proxy), params kept;
 *   $best: trial, best-so-far validation PPL (full trials);
 *   $heur: name, validation PPL of each heuristic plan among the trials (a horizontal line);
 *   $probes: probe number, PPL with that matrix alone factored, keep ratio.
 * RS_EINVAL + cause when there is nothing to draw. */
int rs_plot_trace(struct rs_gplot *g, const struct rs_bo_hist *h, const struct rs_sens *s,
    char **cause);

#endif
