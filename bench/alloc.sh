#!/bin/sh
# bench/alloc.sh: the rank allocators on kjv-llama at two budgets, evaluated on text the search
# never saw; regenerates the alloc section of docs/results.md (between the markers
# <!-- alloc:begin --> and <!-- alloc:end -->; the rest of the file is left alone, and the
# file is created if absent).  Run from the build directory:
#
#   bench/alloc.sh            (or: sh /path/to/src/bench/alloc.sh)
#
# Data split (never mixed):
#   calibration  first half (by lines) of share/texts/kjv-calib.txt: covariances, feature spectra
#   validation   second half of kjv-calib.txt: what sensitivity and bo evaluate during the search
#   evaluation   share/texts/kjv-eval.txt, chunked, ctx 256, every whole window: the table
#
# Environment: RS_BIN (default ./rankscope), THREADS (default 1), KEEPS (default "0.7 0.5"),
# TRIALS (bo, default 50), GROUPS (bo 5xG, default 3: two layers per group), SEED (default 1),
# VAL_CHUNKS (bo validation windows, default 16), EVAL_CHUNKS (default 0 = all 217),
# RESULTS (default <source>/docs/results.md), KEEP_TMP=1 to keep the work directory.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${RS_BIN:-./rankscope}
model=${MODEL:-$src/share/models/kjv-llama}
calib=$src/share/texts/kjv-calib.txt
evalt=$src/share/texts/kjv-eval.txt
threads=${THREADS:-1}
keeps=${KEEPS:-"0.7 0.5"}
trials=${TRIALS:-50}
groups=${GROUPS:-3}
seed=${SEED:-1}
valchunks=${VAL_CHUNKS:-16}
evalchunks=${EVAL_CHUNKS:-0}
results=${RESULTS:-$src/docs/results.md}
export OPENBLAS_NUM_THREADS=$threads
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-alloc.XXXXXX")
[ -n "$KEEP_TMP" ] || trap 'rm -rf "$tmp"' EXIT
echo "bench/alloc: work directory $tmp"

# the split: first half of the lines calibrates, the second half validates the search
n=$(wc -l <"$calib")
half=$((n / 2))
head -n "$half" "$calib" >"$tmp/calib-a.txt"
tail -n "+$((half + 1))" "$calib" >"$tmp/calib-b.txt"
export XDG_CACHE_HOME="$tmp/cache"

pre="load '$model'; set threads $threads; set method feature; calibrate '$tmp/calib-a.txt' --ctx 256; spectra --kind feature"
evalopt="--ctx 256"
[ "$evalchunks" -gt 0 ] && evalopt="$evalopt --chunks $evalchunks"
val="--validation '$tmp/calib-b.txt' --ctx 256"

# calibration and spectra once (cached for every run below: a shared, one-time cost)
"$bin" -c "$pre; ppl '$evalt' $evalopt" >"$tmp/dense.out" 2>&1
cal_s=$(sed -n 's/^calibrate: .* layers computed.*; \([0-9.]*\) s$/\1/p' "$tmp/dense.out")
cal_w=$(sed -n 's/^calibrate: .*, \([0-9]*\) windows of .*/\1/p' "$tmp/dense.out")
dense_ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$tmp/dense.out")
echo "dense: eval PPL $dense_ppl; calibration $cal_w windows, $cal_s s"

rows=""
for keep in $keeps; do
	for a in uniform energy greedy greedyrel sensitivity bo1 boG; do
		case $a in
		uniform) args="uniform"; label="uniform" ;;
		energy) args="energy"; label="energy (largest common E)" ;;
		greedy) args="greedy"; label="greedy (feature error / param)" ;;
		greedyrel) args="greedy --relative"; label="greedy --relative (relative error / param)" ;;
		sensitivity) args="sensitivity $val --chunks 8"; label="sensitivity (3 ratios x 42, 8 val. windows)" ;;
		bo1) args="bo $val --chunks $valchunks --trials $trials --seed $seed"; label="bo 5x1 ($trials trials)" ;;
		boG) args="bo $val --chunks $valchunks --trials $trials --seed $seed --groups $groups"; label="bo 5x$groups ($trials trials)" ;;
		esac
		out="$tmp/$a-$keep.out"
		"$bin" -c "$pre; budget --keep $keep; alloc $args; plan save '$tmp/$a-$keep.json'; ppl '$evalt' $evalopt" >"$out" 2>&1 || {
			echo "bench/alloc: $a at keep $keep failed:"; tail -n 5 "$out"; exit 1; }
		ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$out")
		secs=$(sed -n "s/^alloc [a-z]*: done in \([0-9.]*\) s$/\1/p" "$out")
		kept=$(sed -n 's/^alloc [a-z]*: \([0-9]*\) decoder-linear params kept (keep \([0-9.]*\)).*/\1 (\2)/p' "$out")
		metw=$(sed -n 's/^alloc [a-z]*: .* decoder-linear params kept .*: \(met\|NOT met\).*/\1/p' "$out")
		fw=$(sed -n 's/^alloc [a-z]*: forward passes: \([0-9]*\) validation evaluations of \([0-9]*\) windows.*, \([0-9]*\) window forwards$/\1 x \2 = \3/p' "$out")
		[ -n "$fw" ] || fw="0"
		best=$(sed -n 's/^alloc bo: best trial \([0-9]*\) of .*: \(.*\); objective.*/trial \1:\2/p' "$out")
		echo "keep $keep  $label: eval PPL $ppl, $kept params ($metw), $secs s, forward passes $fw ${best:+[$best]}"
		rows="$rows| $keep | $label | $ppl | $kept | $metw | $secs | $fw |
"
		[ -n "$best" ] && echo "keep $keep $label best: $best" >>"$tmp/best.txt"
	done
done

section="$tmp/section.md"
{
	echo "<!-- alloc:begin -->"
	echo "## Rank allocation under a parameter budget (bench/alloc.sh)"
	echo
	echo "kjv-llama (BF16, 6 layers), method feature (feature PCA with mean compensation, pooled"
	echo "centred covariance), rank alignment 8. Budget = keep ratio of the decoder-linear parameters"
	echo "(4,718,592; embeddings and head dense and not counted); every allocator keeps at most the"
	echo "budget and misses it by less than one alignment step (8·(m+n) ≤ 8192 params)."
	echo "Data: calibration = first half of kjv-calib.txt by lines ($cal_w windows of 256, computed once in"
	echo "${cal_s} s and shared by all rows); validation for the search (sensitivity, bo) = second half of"
	echo "kjv-calib.txt, chunked, ctx 256; evaluation = kjv-eval.txt, chunked, ctx 256, all whole"
	echo "windows (never seen by any search). Dense model: eval PPL $dense_ppl."
	echo "bo: GP (Matérn 5/2) + log-EI, 10 random then guided trials up to $trials, seed $seed, objective"
	echo "log(ppl + 0.001·KL) on $valchunks validation windows; v dense (default types); 5x$groups ="
	echo "one variable per type and group of 2 layers. Wall time = the alloc command alone"
	echo "(threads $threads); forward passes = validation evaluations × windows (the dense"
	echo "reference included); uniform, energy and greedy use only the spectra."
	echo
	echo "| keep | allocator | eval PPL | decoder params kept (ratio) | budget | wall s | forward passes |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s' "$rows"
	echo
	if [ -f "$tmp/best.txt" ]; then
		echo "Best bo trials (keep ratio per variable; dense = kept dense):"
		echo
		sed 's/^/    /' "$tmp/best.txt"
		echo
	fi
	echo "Regenerate: \`bench/alloc.sh\` from the build directory ($(date -u +%Y-%m-%d))."
	echo "<!-- alloc:end -->"
} >"$section"

mkdir -p "$(dirname "$results")"
if [ -f "$results" ] && grep -q '^<!-- alloc:begin -->$' "$results" &&
    grep -q '^<!-- alloc:end -->$' "$results"; then
	awk -v sec="$section" '
		/^<!-- alloc:begin -->$/ { while ((getline l < sec) > 0) print l; skip = 1; next }
		/^<!-- alloc:end -->$/ { skip = 0; next }
		!skip { print }' "$results" >"$tmp/results.md"
elif [ -f "$results" ]; then
	{ cat "$results"; echo; cat "$section"; } >"$tmp/results.md"
else
	{ echo "# Results"; echo; cat "$section"; } >"$tmp/results.md"
fi
cp "$tmp/results.md" "$results.tmp.$$" && mv "$results.tmp.$$" "$results"
echo "bench/alloc: wrote the alloc section of $results"
