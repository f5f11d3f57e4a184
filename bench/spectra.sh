#!/bin/sh
# bench/spectra.sh: wall time of `spectra` (weight singular values of every selected decoder
# matrix) beside numpy.linalg.svd(W, compute_uv=False) on the same float32 matrices, and the
# peak RSS of the rankscope run.  Run from the build directory:
#
#   bench/spectra.sh MODEL_DIR [FIRST_LAYER LAST_LAYER]      (default: all layers)
#
# Besides the wall times it prints CPU seconds (user + system over all threads and processes:
# rankscope's whole run, numpy's SVDs), the steadier measure when other jobs share the cores.
#
# Both sides use the same cores: rankscope runs its pool (one OpenBLAS thread per worker, -t
# THREADS, default all cores); numpy runs matrix after matrix with OpenBLAS at THREADS
# threads.  The cache is a fresh directory, so every SVD really runs.  F64REF=1 adds (untimed)
# the errors of both against numpy's float64 SVD of the same float32 matrices.  numpy is Debian's
# python3-numpy (/usr/bin/python3), used here only.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
model=${1:?usage: bench/spectra.sh MODEL_DIR [FIRST_LAYER LAST_LAYER]}
bin=${RS_BIN:-./rankscope}
threads=${THREADS:-$(nproc)}
py=${PYTHON:-/usr/bin/python3}
layers=$(sed -n 's/.*"num_hidden_layers": *\([0-9]*\).*/\1/p' "$model/config.json")
first=${2:-0}
last=${3:-$((layers - 1))}
pattern="L$first-$last.*"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-spectra.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "model: $model ($layers layers); measured: layers $first-$last (pattern $pattern), $threads threads"
XDG_CACHE_HOME="$tmp/cache" OPENBLAS_NUM_THREADS=$threads /usr/bin/time -v "$bin" -t "$threads" \
	-c "load '$model'; spectra '$pattern'; spectra export '$tmp/sv.csv'" \
	>"$tmp/out" 2>"$tmp/time"
grep '^spectra: weight' "$tmp/out"
rs_s=$(sed -n 's/^spectra: weight.* \([0-9.]*\) s$/\1/p' "$tmp/out")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/time")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$tmp/time")
rs_cpu=$(awk -F': *' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$tmp/time")
OPENBLAS_NUM_THREADS=$threads "$py" "$src/bench/spectra-numpy.py" "$model" "$first" "$last" \
	"$tmp/sv.csv" >"$tmp/np"
np_s=$(sed -n 's/^numpy_svd_seconds //p' "$tmp/np")
np_cpu=$(sed -n 's/^numpy_svd_cpu_seconds //p' "$tmp/np")
np_n=$(sed -n 's/^numpy_matrices //p' "$tmp/np")
np_load=$(sed -n 's/^numpy_load_seconds //p' "$tmp/np")
diff=$(sed -n 's/^max_rel_diff_vs_rankscope //p' "$tmp/np")
echo "rankscope spectra: $rs_s s for the spectra (hash, convert, Gram + eigenvalues, metrics; whole process $wall), peak RSS $((rss / 1024)) MiB"
echo "numpy.linalg.svd:  $np_s s for the SVDs of $np_n matrices (plus $np_load s reading and converting them)"
awk -v a="$rs_s" -v b="$np_s" 'BEGIN { printf "ratio rankscope / numpy: %.2f\n", a / b }'
awk -v a="$rs_cpu" -v b="$np_cpu" 'BEGIN { printf "CPU seconds: rankscope %.2f (whole run), numpy %.2f (SVDs); ratio %.2f\n", a, b, a / b }'
echo "largest relative difference of the singular values >= 1e-3 s1, rankscope vs numpy: $diff"
sed -n 's/^vs_float64_\([a-z_0-9]*\) max_rel \(.*\) max_abs_below \(.*\)/against numpy float64 SVDs (F64REF=1), \1: max rel err >= 1e-3 s1 \2, max abs err below \3 s1/p' "$tmp/np"
