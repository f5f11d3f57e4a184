#!/bin/sh
# bench/plots.sh: regenerate the pictures in docs/plots/ for kjv-llama (`make docs-plots`, or
# run from the build directory: bench/plots.sh, or sh /path/to/src/bench/plots.sh).
#
#   spectrum.png  feature spectra σ/σ₁, a panel per matrix type, a curve per layer, the plan's ranks
#   energy.png    energy kept by rank, the same panels
#   plan.png      share of parameters kept per matrix, by layer and type, with the budget line
#   heatmap.png   keep %, rank and predicted error per layer and matrix type
#   alloc-trace.png  the trials of `alloc bo` after `alloc sensitivity` (needs a `plot alloc-trace`
#                 that draws them)
#
# Session: method feature, calibration on the first half (by lines) of share/texts/kjv-calib.txt
# (ctx 256), weight and feature spectra, budget keep $KEEP, plan from `alloc sensitivity`
# validated on the second half of kjv-calib.txt (the split bench/alloc.sh uses).  A failing plot
# is reported and the others are still made; the exit status is 1 when any failed.
#
# Environment: RS_BIN (default ./rankscope), THREADS (default 1), KEEP (default 0.5), CHUNKS
# (validation windows of sensitivity and bo, default 8), TRIALS (bo, default 20), OUT (default
# <source>/docs/plots), KEEP_TMP=1 to keep the work directory.
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${RS_BIN:-./rankscope}
model=$src/share/models/kjv-llama
calib=$src/share/texts/kjv-calib.txt
threads=${THREADS:-1}
keep=${KEEP:-0.5}
chunks=${CHUNKS:-8}
trials=${TRIALS:-20}
out=${OUT:-$src/docs/plots}
export OPENBLAS_NUM_THREADS=$threads RS_DATADIR=${RS_DATADIR:-$src/share}
[ -x "$bin" ] || { echo "bench/plots: $bin: not an executable (set RS_BIN)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-plots.XXXXXX") || exit 1
[ -n "$KEEP_TMP" ] || trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
mkdir -p "$out" || exit 1
echo "bench/plots: work directory $tmp, pictures to $out"

n=$(wc -l <"$calib")
half=$((n / 2))
head -n "$half" "$calib" >"$tmp/calib-a.txt"
tail -n "+$((half + 1))" "$calib" >"$tmp/calib-b.txt"
pre="load '$model'; set threads $threads; set method feature; calibrate '$tmp/calib-a.txt' --ctx 256; spectra; spectra --kind feature"
val="--validation '$tmp/calib-b.txt' --ctx 256 --chunks $chunks"
failed=0

# plot NAME COMMANDS: one session ending in the plot to $out/NAME.png; report a failure.
plot() {
	name=$1
	shift
	rm -f "$tmp/$name.png"
	if "$bin" -c "$pre; $*" >"$tmp/$name.out" 2>&1 && [ -s "$tmp/$name.png" ]; then
		mv "$tmp/$name.png" "$out/$name.png"
		echo "bench/plots: $out/$name.png"
	else
		failed=1
		echo "bench/plots: $name.png not made; the session's last lines:"
		tail -n 4 "$tmp/$name.out" | sed 's/^/    /'
	fi
}

# the plan once (sensitivity probes take most of the time), saved for the other sessions
start=$(date +%s)
if ! "$bin" -c "$pre; budget --keep $keep; alloc sensitivity $val; plan save '$tmp/plan.json'" \
    >"$tmp/plan.out" 2>&1; then
	echo "bench/plots: the plan (alloc sensitivity) failed:"
	tail -n 5 "$tmp/plan.out" | sed 's/^/    /'
	exit 1
fi
grep '^alloc sensitivity: .*params kept' "$tmp/plan.out"
echo "bench/plots: calibration, spectra and plan in $(($(date +%s) - start)) s"

use="plan load '$tmp/plan.json'; budget --keep $keep"
plot spectrum "$use; plot spectrum --to '$tmp/spectrum.png'"
plot energy "$use; plot energy --to '$tmp/energy.png'"
plot plan "$use; plot plan --to '$tmp/plan.png'"
plot heatmap "$use; plot heatmap --to '$tmp/heatmap.png'"
plot alloc-trace "budget --keep $keep; alloc sensitivity $val; alloc bo $val --trials $trials --seed 1; plot alloc-trace --to '$tmp/alloc-trace.png'"
exit $failed
