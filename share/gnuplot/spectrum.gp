# spectrum.gp: singular values by index, a panel per matrix type (panels.gp draws them).
# Set by rankscope before this file: TITLE, N curves, P panels, LAYERS, NORM (1: σ_i/σ_1, 0:
# raw σ_i), NRK (points at the plan's ranks), LAYER[N], PNAME[P], PFIRST[P], PLAST[P] (the
# curves of a panel), PRMAX[P] (its largest index), PNRK[P] (its points); datablock $sv with an
# index per curve and the columns  i  σ  energy_kept(i); datablock $rk (when NRK > 0) with a
# row per factored matrix and the columns  panel  layer  rank  σ(rank)  energy_kept(rank).
YCOL = 2
YMARK = 4
LOGY = 1
XLABEL = 'index i'
YLABEL = NORM ? 'σ_i / σ_1' : 'σ_i'
MARKDESC = 'the plan''s rank r'
