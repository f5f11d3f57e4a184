# plan.gp: percentage of each decoder matrix's parameters the rank plan keeps, grouped by
# layer, coloured by matrix type.
# Set by rankscope: TITLE, N (matrices), LAYERS, KEPT (overall keep ratio), BUDGET (the
# budget's keep in percent, 0 when none is set), GROUP (x positions per layer), TYPES[7],
# datablock $plan with the columns  x  name  layer  type  rank  max_rank  keep_percent.
set termoption noenhanced
set title sprintf('%s (decoder linears keep %.1f%%)', TITLE, 100.0 * KEPT) font ',12'
set ylabel 'parameters kept (% of the matrix; 100: dense)'
set xlabel 'layer'
set yrange [0:105]
set xrange [-1 : LAYERS * GROUP - 1]
set ytics 0, 20, 100 nomirror out
set mytics 2
set grid ytics mytics lc rgb '#dddddd'
set border 3
set style fill solid 0.85 noborder
set boxwidth 0.85
# x tics: a label per layer under its group (at most about 24 labels)
LSTEP = LAYERS <= 24 ? 1 : ceil(LAYERS / 24.0)
set xtics scale 0 nomirror
set xtics ()
do for [l=0:LAYERS-1:LSTEP] {
	set xtics add (sprintf('L%d', l) l * GROUP + (GROUP - 2) / 2.0)
}
# matrix types: colour-blind safe (Okabe-Ito), in the order q k v o gate up down
array TCOL[7] = [0x0072b2, 0x56b4e9, 0x009e73, 0xe69f00, 0xd55e00, 0xcc79a7, 0x444444]
set key outside right top vertical Left reverse samplen 1.5 spacing 1.2 title 'matrix'
BUDGETDESC = BUDGET > 0 ? sprintf('budget: keep %.1f%% overall', BUDGET) : ''
if (BUDGET > 0) {
	plot $plan using 1:7:(TCOL[int($4) + 1]) with boxes lc rgb variable notitle, \
	     for [t=1:7] keyentry with boxes fc rgb TCOL[t] title TYPES[t], \
	     BUDGET with lines dashtype 2 lw 2 lc rgb '#c00000' title BUDGETDESC
} else {
	plot $plan using 1:7:(TCOL[int($4) + 1]) with boxes lc rgb variable notitle, \
	     for [t=1:7] keyentry with boxes fc rgb TCOL[t] title TYPES[t]
}
