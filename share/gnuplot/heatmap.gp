# heatmap.gp: keep percentage by layer (y) and matrix type (x).
# Set by rankscope: TITLE, LAYERS, TYPES[7], datablock $hm with the columns
# type  layer  keep_percent(NaN when not selected)  predicted_error('-' when unknown).
set title TITLE
set xlabel 'matrix'
set ylabel 'layer'
set xrange [-0.5:6.5]
set yrange [-0.5:LAYERS-0.5]
set xtics ('q' 0, 'k' 1, 'v' 2, 'o' 3, 'gate' 4, 'up' 5, 'down' 6)
set ytics 1
set cblabel 'parameters kept (%)'
set cbrange [0:100]
set palette defined (0 '#440154', 50 '#21918c', 100 '#fde725')
set key off
plot $hm using 1:2:3 with image, \
     $hm using 1:2:(strcol(3) eq 'NaN' ? '' : strcol(4) eq '-' ? sprintf('%.0f%%', column(3)) : sprintf("%.0f%%\nerr %.3f", column(3), column(4))) with labels font ',8' textcolor rgb '#000000'
