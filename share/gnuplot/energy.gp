# energy.gp: fraction of the squared singular values kept by the best rank-k approximation.
# Same variables and datablock as spectrum.gp.
set title TITLE
set xlabel 'rank k'
set ylabel 'energy kept'
set yrange [0:1.02]
set datafile missing 'NaN'
set grid
set key outside right top
do for [j=1:N] {
    if (RANK[j] > 0) {
        set arrow j from RANK[j], graph 0 to RANK[j], graph 1 nohead dashtype 2 linecolor j
    }
}
set format y '%.1f'
if (NF > 0) {
    plot for [j=1:N] $sv index (j-1) using 1:4 with lines linewidth 2 linecolor j title NAME[j].' weight', \
         for [q=1:NF] $sv index (FI[q]-1) using 1:5 with lines dashtype 3 linewidth 2 linecolor FI[q] title NAME[FI[q]].' feature'
} else {
    plot for [j=1:N] $sv index (j-1) using 1:4 with lines linewidth 2 linecolor j title NAME[j].' weight'
}
