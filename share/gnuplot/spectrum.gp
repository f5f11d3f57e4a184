# spectrum.gp: singular values on a log scale, one curve per matrix.
# Set by rankscope before this file: TITLE, N, NAME[N], RANK[N] (0 = dense), NF, FI[NF]
# (the curves that also have a feature spectrum), datablock $sv with one index per matrix and the
# columns  i  sigma_weight  sigma_feature(NaN if absent)  energy_weight  energy_feature.
set title TITLE
set xlabel 'index i'
set ylabel 'singular value'
set logscale y
set format y '%.0e'
set datafile missing 'NaN'
set grid
set key outside right top
do for [j=1:N] {
    if (RANK[j] > 0) {
        set arrow j from RANK[j], graph 0 to RANK[j], graph 1 nohead dashtype 2 linecolor j
    }
}
if (NF > 0) {
    plot for [j=1:N] $sv index (j-1) using 1:2 with lines linewidth 2 linecolor j title NAME[j].' weight', \
         for [q=1:NF] $sv index (FI[q]-1) using 1:3 with lines dashtype 3 linewidth 2 linecolor FI[q] title NAME[FI[q]].' feature'
} else {
    plot for [j=1:N] $sv index (j-1) using 1:2 with lines linewidth 2 linecolor j title NAME[j].' weight'
}
