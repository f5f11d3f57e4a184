# panels.gp: the multiplot of spectrum.gp and energy.gp: a panel per matrix type in a grid,
# one curve per layer coloured by layer, the plan's rank as a point on each curve, and a last
# slot holding the colour bar (layer) and the key.  Reads the variables of spectrum.gp and
# YCOL, YMARK (columns of $sv and $rk), LOGY, XLABEL, YLABEL, MARKDESC; CANVAS_W, CANVAS_H
# come from the prelude.
set termoption enhanced
set datafile missing 'NaN'
SLOTS = P + 1
ROWS = SLOTS <= 3 ? 1 : 2
COLS = int(ceil(1.0 * SLOTS / ROWS))
TOP = 1.0 - 62.0 / CANVAS_H
CW = 1.0 / COLS
CH = TOP / ROWS
ML = 84.0 / CANVAS_W
MR = 18.0 / CANVAS_W
MT = 26.0 / CANVAS_H
MB = 50.0 / CANVAS_H

# layers: a ramp from dark blue to orange (no colour too light to see on white)
set palette defined (0 '#0d0887', 1 '#6a00a8', 2 '#b12a90', 3 '#e16462', 4 '#f2a23a')
# the ramp spans the layers drawn (LMIN..LMAX): distinct colours up to 16 layers
NL = LMAX - LMIN + 1
set cbrange [LMIN - 0.5 : LMAX + 0.5]
if (NL > 1 && NL <= 16) {
	set palette maxcolors NL
}
set cbtics LMIN, (NL <= 12 ? 1 : ceil(NL / 8.0)) scale 0
unset colorbox
# a tick step of 1, 2 or 5 times a power of ten giving at most n ticks over range
nicestep(range, n) = (range / n <= 1 ? 1 : \
	(range / n) / 10**floor(log10(range / n)) <= 2 ? 2 * 10**floor(log10(range / n)) : \
	(range / n) / 10**floor(log10(range / n)) <= 5 ? 5 * 10**floor(log10(range / n)) : \
	10 * 10**floor(log10(range / n)))
# x tick labels at least about 38 pixels apart
XTICKS = (CW * CANVAS_W - 84 - 18) / 38.0

set grid xtics ytics lc rgb '#dddddd' lw 1
set border 3 lc rgb '#444444'
set xtics nomirror out
set ytics nomirror out
if (LOGY) {
	set logscale y
	set format y '10^{%L}'
	set autoscale y
} else {
	set format y '%.1f'
	set yrange [0:1.02]
}
set key off

set multiplot title TITLE."\n".SUBTITLE noenhanced font ',12'
do for [p=1:P] {
	c = (p - 1) % COLS
	r = (p - 1) / COLS
	set lmargin at screen c * CW + ML
	set rmargin at screen (c + 1) * CW - MR
	set tmargin at screen TOP - r * CH - MT
	set bmargin at screen TOP - (r + 1) * CH + MB
	set title PNAME[p] noenhanced offset 0, -0.5
	set xrange [1 : PRMAX[p]]
	set xtics 0, nicestep(PRMAX[p], XTICKS)
	set xlabel (p + COLS > P ? XLABEL : '')
	set ylabel (c == 0 ? YLABEL : '')
	if (PNRK[p] > 0) {
		plot for [j=PFIRST[p]:PLAST[p]] $sv index (j - 1) using 1:YCOL with lines lw 1.5 lc palette cb LAYER[j], \
		     $rk using ($1 == p ? $3 : NaN):YMARK:2 with points pt 7 ps 1.0 lc palette, \
		     $rk using ($1 == p ? $3 : NaN):YMARK with points pt 6 ps 1.0 lw 1 lc rgb '#000000'
	} else {
		plot for [j=PFIRST[p]:PLAST[p]] $sv index (j - 1) using 1:YCOL with lines lw 1.5 lc palette cb LAYER[j]
	}
}

# The last slot: the colour bar (layer) and the key, no axes.
c = P % COLS
r = P / COLS
X0 = c * CW
Y1 = TOP - r * CH
unset title
unset xlabel
unset ylabel
unset grid
unset border
unset xtics
unset ytics
unset logscale y
set xrange [0:1]
set yrange [0:1]
set lmargin at screen X0 + 0.08 * CW
set rmargin at screen X0 + 0.92 * CW
set tmargin at screen Y1 - 0.05 * CH
set bmargin at screen Y1 - 0.95 * CH
set key at screen X0 + 0.12 * CW, screen Y1 - 0.45 * CH left top Left reverse samplen 2.5 spacing 1.4 noautotitle
if (NL > 1) {
	set colorbox horizontal user origin screen X0 + 0.12 * CW, screen Y1 - 0.30 * CH size screen 0.76 * CW, screen 22.0 / CANVAS_H
	set label 1 'layer' at screen X0 + 0.5 * CW, screen Y1 - 0.30 * CH + 34.0 / CANVAS_H center
	CURVEDESC = 'a curve per layer'
} else {
	CURVEDESC = sprintf('layer %d', LMIN)
}
plot keyentry with lines lw 1.5 lc palette cb LMIN title CURVEDESC, \
     keyentry with points pt 7 ps 1.0 lc rgb '#777777' title MARKDESC, \
     keyentry with lines lc rgb '#ffffff' title 'dense: no point', \
     2 with lines lc palette notitle
unset multiplot
