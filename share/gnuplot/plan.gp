# plan.gp: percentage of each decoder matrix's parameters the rank plan keeps.
# Set by rankscope: TITLE, N (matrices), LAYERS, KEPT (overall keep ratio), datablock $plan
# with the columns  index  name  layer  type  rank  max_rank  keep_percent.
set title sprintf('%s (decoder linears keep %.1f%%)', TITLE, 100.0 * KEPT)
set ylabel 'parameters kept (%)'
set yrange [0:*]
set style fill solid 0.6 border -1
set boxwidth 0.8
set grid ytics
set xtics rotate by 90 right font ',7'
set key off
set palette defined (0 '#1b9e77', 1 '#d95f02', 2 '#7570b3', 3 '#e7298a', 4 '#66a61e', 5 '#e6ab02', 6 '#a6761d')
set cbrange [0:6]
unset colorbox
plot $plan using 1:7:4:xtic(2) with boxes linecolor palette, \
     100 with lines dashtype 2 linecolor rgb '#555555'
