# alloc-trace.gp: a bo run's validation perplexity (or proxy) by trial (full evaluations and screening
# ones apart), the best so far, the heuristic plans as horizontal lines; the sensitivity probes.
# Set by rankscope: TITLE, HAVE_BO, HAVE_SENS, DENSE, YLABEL (what the trials are drawn at); datablocks $full, $screen (trial, PPL,
# params), $best (trial, best-so-far PPL), $heur (name, PPL), $probes (probe, PPL, keep ratio).
set grid ytics mytics
set logscale y
# the data's own range (not whole decades), a margin above and below
set autoscale yfix
set offsets 0, 0, graph 0.04, graph 0.04
set mytics 10
set key outside right top font ',9'
if (HAVE_BO && HAVE_SENS) { set multiplot layout 2,1 title TITLE } else { set title TITLE }
if (HAVE_BO) {
	# a log axis only where the values span a factor of 5 or more (else it has no labels)
	stats $full using 2 nooutput
	if (STATS_max < 5 * STATS_min) { unset logscale y } else { set logscale y }
	NH = |$heur|
	set xlabel 'trial'
	set ylabel YLABEL
	set xrange [0:*]
	array HN[NH]
	array HV[NH]
	do for [i = 1:NH] {
		HN[i] = word($heur[i], 1)
		HV[i] = real(word($heur[i], 2))
	}
	plot for [i = 2:NH] HV[i] with lines dashtype 2 linewidth 1.5 title HN[i], \
	     $full using 1:2 with points pointtype 7 pointsize 1.1 linecolor rgb '#1b6ac9' \
	         title 'full validation', \
	     $screen using 1:2 with points pointtype 6 pointsize 1.0 linecolor rgb '#e08a0b' \
	         title 'screening windows only', \
	     $best using 1:2 with steps linewidth 2.5 linecolor rgb '#111111' title 'best so far'
}
if (HAVE_SENS) {
	if (HAVE_BO) { unset title }
	set xlabel 'sensitivity probe (matrices in plan order, each alone at a keep ratio)'
	set ylabel 'validation PPL'
	set xrange [0:*]
	set cblabel 'keep ratio'
	stats $probes using 2 nooutput
	if (STATS_max < 5 * STATS_min) { unset logscale y } else { set logscale y }
	set palette defined (0 '#d7191c', 0.5 '#fdae61', 1 '#2c7bb6')
	plot $probes using 1:2:3 with points pointtype 7 pointsize 0.7 linecolor palette \
	         title 'one matrix factored', \
	     DENSE with lines dashtype 2 linecolor rgb '#555555' title 'dense'
}
if (HAVE_BO && HAVE_SENS) { unset multiplot }
