#!/bin/sh
# bench/factors.sh: wall time of ONE full-rank factor decomposition per (method, matrix) of
# layer 0, and the peak RSS of the run.  Run from the build directory:
#
#   bench/factors.sh MODEL_DIR [METHODS [MATRICES]]   (default: "svd asvd feature whiten", "q down gate")
#
# Each point runs `load; calibrate; set method; rank L0.X --keep 0.7; export factored` and,
# separately, the same without the export; the difference is the factor build (read, convert,
# decompose, copy) plus the export of one rank-k pair (small).  The calibration (16 windows of
# 64 tokens of share/texts/kjv-calib.txt) is computed once into a fresh cache directory and
# read back by every point.  A one-layer 7B-sized model: bench/mkmodel --layers 1 OUT
# llama-7b-layer bf16.  THREADS (default 1) is rankscope's -t.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
model=${1:?usage: bench/factors.sh MODEL_DIR [METHODS [MATRICES]]}
methods=${2:-svd asvd feature whiten}
mats=${3:-q down gate}
bin=${RS_BIN:-./rankscope}
threads=${THREADS:-1}
calib="calibrate '$src/share/texts/kjv-calib.txt' --ctx 64 --max-tokens 1024"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-factors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"

# now: wall-clock seconds with nanoseconds.
now() {
	date +%s.%N
}

"$bin" -t "$threads" -c "load '$model'; $calib" >/dev/null
echo "model: $model; layer 0, one decomposition per point, -t $threads"
for method in $methods; do
	for mat in $mats; do
		cmds="load '$model'; $calib; set method $method; rank L0.$mat --keep 0.7"
		t0=$(now)
		/usr/bin/time -f %M -o "$tmp/rss" "$bin" -t "$threads" \
			-c "$cmds; export factored '$tmp/out'" >"$tmp/log" 2>&1 ||
			{ cat "$tmp/log"; exit 1; }
		t1=$(now)
		"$bin" -t "$threads" -c "$cmds" >/dev/null 2>&1
		t2=$(now)
		rm -rf "$tmp/out"
		echo "$method L0.$mat: $(echo "($t1 - $t0) - ($t2 - $t1)" | bc) s (run $(echo \
		    "$t1 - $t0" | bc) s, peak RSS $(($(cat "$tmp/rss") / 1024)) MiB)"
	done
done
