# heatmap.gp: keep percentage by layer (y) and matrix type (x), each cell labelled with its keep
# percentage, rank and predicted error.
# Set by rankscope: TITLE, LAYERS, ERRDESC (what "err" is), TYPES[7], datablock $hm with the
# columns  type  layer  keep_percent (NaN when not selected)  rank (0: dense)
# err ('-' when unknown).
set termoption noenhanced
set title TITLE font ',12'
set xlabel 'matrix'
set ylabel 'layer'
set xrange [-0.5:6.5]
set yrange [-0.5:LAYERS-0.5]
set xtics ('q' 0, 'k' 1, 'v' 2, 'o' 3, 'gate' 4, 'up' 5, 'down' 6) scale 0
set ytics 0, (LAYERS <= 32 ? 1 : ceil(LAYERS / 32.0)) scale 0
set cblabel 'parameters kept (%)'
set cbrange [0:100]
set palette defined (0 '#440154', 50 '#21918c', 100 '#fde725')
# Cells below this keep % are dark in the palette above: their text is white, the rest black.
DARK_BELOW = 60
set key off
# What a cell says and what "err" is, under the plot; on a narrow canvas err's definition
# takes two lines.
CAPTION = "cell: rank r and parameters kept (%); dense: not factored\n".ERRDESC
CUT = strstrt(CAPTION, ', predicted')
if (CANVAS_W < 1000 && CUT > 0) {
	CAPTION = CAPTION[1:CUT - 1]."\n".CAPTION[CUT + 2:]
	set bmargin 7
	set label 1 CAPTION at screen 0.5, screen 44.0 / CANVAS_H center font ',9'
} else {
	set bmargin 6
	set label 1 CAPTION at screen 0.5, screen 30.0 / CANVAS_H center font ',9'
}
# The cell text: two lines where a cell is at least 30 pixels high, one where 15, else none.
CELL_H = (CANVAS_H - 120.0) / LAYERS
LINES = CELL_H >= 30 ? 2 : CELL_H >= 15 ? 1 : 0
celltext(keep, rank, err) = rank == 0 ? 'dense' : \
	LINES == 1 ? sprintf('r%d', rank) : \
	err eq '-' ? sprintf('r%d  %.0f%%', rank, keep) : \
	sprintf("r%d  %.0f%%\nerr %.3f", rank, keep, real(err))
textcolour(keep) = keep < DARK_BELOW ? 0xffffff : 0x000000
if (LINES > 0) {
	plot $hm using 1:2:3 with image, \
	     $hm using 1:2:(strcol(3) eq 'NaN' ? '' : celltext(column(3), int(column(4)), strcol(5))):(textcolour(column(3))) \
	         with labels font ',9' textcolor rgb variable
} else {
	plot $hm using 1:2:3 with image
}
