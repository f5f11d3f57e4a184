#!/bin/sh
# bench/alloc.sh: the rank allocators on kjv-llama at three budgets and on stories260K (from
# ../shared/fixtures, skipped when absent) at two, evaluated on text the search never saw;
# regenerates the alloc section of docs/results.md (between the markers <!-- alloc:begin -->
# and <!-- alloc:end -->; the rest of the file is left alone, and the file is created if
# absent) and docs/alloc-trace-keep0.5.png.  Run from the build directory:
#
#   bench/alloc.sh            (or: sh /path/to/src/bench/alloc.sh)
#
# Data split (never mixed), kjv-llama:
#   calibration  first half (by lines) of share/texts/kjv-calib.txt: covariances, feature spectra
#   validation   second half of kjv-calib.txt: what sensitivity and bo evaluate during the search
#   evaluation   share/texts/kjv-eval.txt, chunked, ctx 256, every whole window: the table
# stories260K: tinystories_val.txt by lines: first quarter calibration, second quarter
# validation, second half evaluation (ctx 128, its first 400 windows).
#
# Environment: RS_BIN (default ./rankscope), THREADS (default 1), KEEPS (kjv-llama, default
# "0.7 0.5 0.3"), ST_KEEPS (stories260K, default "0.7 0.5"), JOBS (cells run at once, default 1),
# RS_FIXTURES (default <source>/../shared/fixtures),
# TRIALS (bo, default 50), GROUPS (bo 5xG, default 3: two layers per group), SEED (default 1),
# VAL_CHUNKS (ratio-space bo validation windows, default 16), EVAL_CHUNKS (default 0 = all 217),
# RESULTS (default <source>/docs/results.md), TRACE_PNG (default
# <source>/docs/alloc-trace-keep0.5.png: plot alloc-trace of bo on kjv-llama at keep 0.5),
# KEEP_TMP=1 to keep the work directory.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${RS_BIN:-./rankscope}
model=${MODEL:-$src/share/models/kjv-llama}
calib=$src/share/texts/kjv-calib.txt
evalt=$src/share/texts/kjv-eval.txt
threads=${THREADS:-1}
keeps=${KEEPS:-"0.7 0.5 0.3"}
st_keeps=${ST_KEEPS:-"0.7 0.5"}
jobs=${JOBS:-1}
fixtures=${RS_FIXTURES:-$src/../shared/fixtures}
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

# One cell: model label $1, keep $2, the session preamble $3, the validation option $4, the
# evaluation command $5; rows into $tmp/rows-$1-$2 (one per allocator), best bo trials into
# $tmp/best-$1-$2.
cell() {
	m=$1 keep=$2 cpre=$3 cval=$4 ceval=$5
	: >"$tmp/rows-$m-$keep"
	for a in uniform energy greedy greedyrel sensitivity bo boR1 boRG; do
		case $a in
		uniform) args="uniform"; label="uniform" ;;
		energy) args="energy"; label="energy (largest common E)" ;;
		greedy) args="greedy"; label="greedy (feature error / param)" ;;
		greedyrel) args="greedy --relative"; label="greedy --relative (relative error / param)" ;;
		sensitivity) args="sensitivity $cval --chunks 8"; label="sensitivity (3 ratios per matrix, 8 val. windows)" ;;
		bo) args="bo $cval --trials $trials --seed $seed"; label="**bo, profile space (default), $trials trials**" ;;
		boR1) args="bo --space ratio $cval --chunks $valchunks --trials $trials --seed $seed"; label="bo, ratio space 5x1 (seed paper), $trials trials" ;;
		boRG) args="bo --space ratio $cval --chunks $valchunks --trials $trials --seed $seed --groups $groups"; label="bo, ratio space 5x$groups (seed paper), $trials trials" ;;
		esac
		out="$tmp/$m-$a-$keep.out"
		after=""
		[ "$a" = bo ] && after="; alloc history; plot alloc-trace --to '$tmp/trace-$m-$keep.png' --title 'alloc bo, $m, keep $keep (profile space, seed $seed)'"
		"$bin" -c "$cpre; budget --keep $keep; alloc $args$after; plan save '$tmp/$m-$a-$keep.json'; $ceval" >"$out" 2>&1 || {
			echo "bench/alloc: $m $a at keep $keep failed:"; tail -n 5 "$out"; return 1; }
		ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$out")
		secs=$(sed -n "s/^alloc [a-z]*: done in \([0-9.]*\) s$/\1/p" "$out")
		kept=$(sed -n 's/^alloc [a-z]*: \([0-9]*\) decoder-linear params kept (keep \([0-9.]*\)).*/\1 (\2)/p' "$out")
		metw=$(sed -n 's/^alloc [a-z]*: .* decoder-linear params kept .*: \(met\|NOT met\).*/\1/p' "$out")
		fw=$(sed -n 's/^alloc [a-z]*: forward passes: \([0-9]*\) validation evaluations of \([0-9]*\) windows.*, \([0-9]*\) window forwards$/\3/p' "$out")
		pw=$(sed -n 's/^alloc bo: sensitivity probes: .*, \([0-9]*\) window forwards.*/\1/p' "$out")
		[ -n "$fw" ] || fw=0
		if [ -n "$pw" ]; then fw="$((fw + pw)) ($pw probes)"; fi
		best=$(sed -n 's/^alloc bo: \(best\|chosen\) trial \([0-9]*\) of [0-9]* (\([a-z]*\)):\(.*\); objective.*/\1 trial \2 (\3):\4/p' "$out")
		hist=$(sed -n 's/^alloc bo: \([0-9]*\) trials: \(.*\)$/\2/p' "$out")
		echo "$m keep $keep  $label: eval PPL $ppl, $kept params ($metw), $secs s, window forwards $fw"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$m" "$keep" "$label" "$ppl" "$kept" "$metw" "$secs" "$fw" >>"$tmp/rows-$m-$keep"
		[ -n "$best" ] && echo "$m keep $keep $label: $best" >>"$tmp/best-$m-$keep"
		if [ "$a" = bo ]; then
			sed -n 's/^alloc history: \(.* window forwards in the trials.*\)$/\1/p; s/^alloc history: proxy vs measured objective: \(.*\)$/proxy vs measured: \1/p' "$out" |
				sed "s/^/$m keep $keep bo (profile): /" >>"$tmp/best-$m-$keep"
		fi
	done
	return 0
}

# kjv-llama: first half (by lines) of kjv-calib.txt calibrates, the second half validates the
# search, kjv-eval.txt evaluates
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

# stories260K (when ../shared/fixtures is there): TinyStories validation stories split by
# lines: the first quarter calibrates, the second validates, the second half evaluates
cells=""
for keep in $keeps; do cells="$cells kjv-llama:$keep"; done
st_model=$fixtures/stories260K/stories260K.gguf
st_text=$fixtures/texts/tinystories_val.txt
if [ -f "$st_model" ] && [ -f "$st_text" ]; then
	sn=$(wc -l <"$st_text")
	head -n "$((sn / 4))" "$st_text" >"$tmp/st-calib.txt"
	sed -n "$((sn / 4 + 1)),$((sn / 2))p" "$st_text" >"$tmp/st-val.txt"
	tail -n "+$((sn / 2 + 1))" "$st_text" >"$tmp/st-eval.txt"
	st_pre="load '$st_model'; set threads $threads; set method feature; calibrate '$tmp/st-calib.txt' --ctx 128; spectra --kind feature"
	st_val="--validation '$tmp/st-val.txt' --ctx 128"
	st_eval="ppl '$tmp/st-eval.txt' --ctx 128 --chunks 400"
	"$bin" -c "$st_pre; $st_eval" >"$tmp/st-dense.out" 2>&1
	st_dense=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$tmp/st-dense.out")
	st_w=$(sed -n 's/^calibrate: .*, \([0-9]*\) windows of .*/\1/p' "$tmp/st-dense.out")
	echo "stories260K dense: eval PPL $st_dense; calibration $st_w windows"
	for keep in $st_keeps; do cells="$cells stories260K:$keep"; done
else
	echo "bench/alloc: $fixtures absent: stories260K skipped"
fi

# the cells, up to $jobs at a time
running=0
for c in $cells; do
	m=${c%%:*} keep=${c#*:}
	if [ "$m" = kjv-llama ]; then
		cell "$m" "$keep" "$pre" "$val" "ppl '$evalt' $evalopt" >"$tmp/cell-$m-$keep.log" 2>&1 &
	else
		cell "$m" "$keep" "$st_pre" "$st_val" "$st_eval" >"$tmp/cell-$m-$keep.log" 2>&1 &
	fi
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
done
wait
rows=""
for c in $cells; do
	m=${c%%:*} keep=${c#*:}
	cat "$tmp/cell-$m-$keep.log"
	[ -s "$tmp/rows-$m-$keep" ] || { echo "bench/alloc: cell $m keep $keep produced no rows"; exit 1; }
	rows="$rows$(cat "$tmp/rows-$m-$keep")
"
	[ -f "$tmp/best-$m-$keep" ] && cat "$tmp/best-$m-$keep" >>"$tmp/best.txt"
done

# the trace of bo at keep 0.5 on kjv-llama, as docs/alloc-trace-keep0.5.png
if [ -f "$tmp/trace-kjv-llama-0.5.png" ]; then
	cp "$tmp/trace-kjv-llama-0.5.png" "${TRACE_PNG:-$src/docs/alloc-trace-keep0.5.png}"
fi

section="$tmp/section.md"
{
	echo "<!-- alloc:begin -->"
	echo "## Rank allocation under a parameter budget (bench/alloc.sh)"
	echo
	echo "Two models, method feature (feature PCA with mean compensation, pooled centred covariance),"
	echo "rank alignment 8. Budget = keep ratio of the decoder-linear parameters (embeddings and head"
	echo "dense and not counted); every allocator keeps at most the budget and misses it by less than"
	echo "one alignment step. Each model's text is split three ways, never mixed: calibration"
	echo "(covariances, feature spectra; computed once and shared by all rows), validation (what"
	echo "sensitivity and bo evaluate during the search), evaluation (the eval PPL column; no search"
	echo "saw it)."
	echo
	echo "- kjv-llama (BF16, 6 layers, 4,718,592 decoder-linear params): calibration = first half of"
	echo "  kjv-calib.txt by lines ($cal_w windows of 256, ${cal_s} s), validation = its second half,"
	echo "  evaluation = kjv-eval.txt, chunked, ctx 256, all whole windows. Dense eval PPL $dense_ppl."
	if [ -n "$st_dense" ]; then
		echo "- stories260K (llama2.c TinyStories, F32 GGUF, 5 layers, 226,560 decoder-linear params):"
		echo "  tinystories_val.txt by lines: first quarter calibration ($st_w windows of 128), second"
		echo "  quarter validation, second half evaluation (ctx 128, the first 400 windows). Dense eval"
		echo "  PPL $st_dense."
	fi
	echo
	echo "bo, profile space (the default, docs/allocation.md): mixture weights of the heuristic plans"
	echo "and a parameter factor x1/4..x4 per type and layer group (2 groups: layers 0-2 and 3-5 on"
	echo "kjv-llama, 0-2 and 3-4 on stories260K); the heuristic plans (uniform, energy, greedy,"
	echo "greedy --relative, sensitivity) are its first trials, then 4 random points, then"
	echo "rounds of 3 candidates screened by the proxy and the first 8 of 32 validation windows, the"
	echo "best of each round evaluated on all 32; a trust region around the best from trial 30;"
	echo "objective log(ppl + 0.001·KL); every type factored (as the heuristics). Its forward passes"
	echo "include the sensitivity probes it takes its sensitivity plan from (the same probes as the"
	echo "sensitivity row; in a session that ran 'alloc sensitivity' they are reused for free)."
	echo "bo, ratio space (seed paper 1): one keep ratio per type (q and k shared, v dense) and layer"
	echo "group, $valchunks validation windows, 10 random then guided trials, points outside the"
	echo "budget band rejected. All bo runs: $trials trials, seed $seed."
	echo "Wall time = the alloc command alone (threads $threads, on a shared 2-core machine: compare"
	echo "window forwards rather than seconds); window forwards = forward passes of one validation"
	echo "window (the dense reference included); uniform, energy and greedy use only the spectra."
	echo
	echo "| model | keep | allocator | eval PPL | decoder params kept (ratio) | budget | wall s | window forwards |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s' "$rows"
	echo
	if [ -f "$tmp/best.txt" ]; then
		echo "Best bo trials (profile space: mixture weights w.* and parameter factors d.* per type and"
		echo "layer group;"
		echo "ratio space: keep ratio per variable, dense = kept dense):"
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
