# energy.gp: fraction of the squared singular values kept by the best rank-k approximation,
# a panel per matrix type (panels.gp draws them).  Same variables and datablocks as
# spectrum.gp.
YCOL = 3
YMARK = 5
LOGY = 0
XLABEL = 'rank k'
YLABEL = 'energy kept  Σ_{i≤k} σ_i^2 / Σ_i σ_i^2'
MARKDESC = 'the plan''s rank r'
