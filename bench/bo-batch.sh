#!/bin/sh
# bench/bo-batch.sh: what batches cost `alloc bo` in sample efficiency on kjv-llama: the same
# number of trials chosen one at a time (--batch 1) or in rounds of Q (constant liar), for a
# few seeds; each plan evaluated on text the search never saw.  The data split and the setup
# are bench/alloc.sh's.  Run from the build directory:
#
#   bench/bo-batch.sh         (or: sh /path/to/src/bench/bo-batch.sh)
#
# Prints one line per run and a markdown table: eval PPL of the chosen plan, the best
# validation PPL the search reached after 10, 20, ... trials (from the history), and the
# rounds (forward-pass waits a run on Q processes has).
#
# Environment: RS_BIN (default ./rankscope), THREADS (default 1), KEEPS (default "0.5"),
# BATCHES (default "1 2 4"), SEEDS (default "1 2 3"), TRIALS (default 50), GROUPS (default 1),
# VAL_CHUNKS (default 16), EVAL_CHUNKS (default 0 = all 217), KEEP_TMP=1 to keep the work
# directory.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
bin=${RS_BIN:-./rankscope}
model=${MODEL:-$src/share/models/kjv-llama}
calib=$src/share/texts/kjv-calib.txt
evalt=$src/share/texts/kjv-eval.txt
threads=${THREADS:-1}
keeps=${KEEPS:-"0.5"}
batches=${BATCHES:-"1 2 4"}
seeds=${SEEDS:-"1 2 3"}
trials=${TRIALS:-50}
groups=${GROUPS:-1}
valchunks=${VAL_CHUNKS:-16}
evalchunks=${EVAL_CHUNKS:-0}
export OPENBLAS_NUM_THREADS=$threads
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-bobatch.XXXXXX")
[ -n "$KEEP_TMP" ] || trap 'rm -rf "$tmp"' EXIT
echo "bench/bo-batch: work directory $tmp"

# bench/alloc.sh's split: first half of the lines calibrates, the second half validates
n=$(wc -l <"$calib")
half=$((n / 2))
head -n "$half" "$calib" >"$tmp/calib-a.txt"
tail -n "+$((half + 1))" "$calib" >"$tmp/calib-b.txt"
export XDG_CACHE_HOME="$tmp/cache"

pre="load '$model'; set threads $threads; set method feature; calibrate '$tmp/calib-a.txt' --ctx 256; spectra --kind feature"
evalopt="--ctx 256"
[ "$evalchunks" -gt 0 ] && evalopt="$evalopt --chunks $evalchunks"
val="--validation '$tmp/calib-b.txt' --ctx 256 --chunks $valchunks"

"$bin" -c "$pre; ppl '$evalt' $evalopt" >"$tmp/dense.out" 2>&1
dense_ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$tmp/dense.out")
echo "dense: eval PPL $dense_ppl"

# best validation PPL among the first k trials of history $1, for k = 10, 20, ...
curve() {
	awk -F, -v step=10 '
		/^#/ { next }
		$1 == "trial" { for (i = 1; i <= NF; i++) if ($i == "ppl") c = i; next }
		{ if (best == "" || $c + 0 < best) best = $c + 0
		  if ($1 % step == 0) printf "%s%.3f", (n++ ? " " : ""), best }' "$1"
}

rows=""
for keep in $keeps; do
	for q in $batches; do
		for seed in $seeds; do
			out="$tmp/bo-$keep-$q-$seed.out"
			hist="$tmp/bo-$keep-$q-$seed.csv"
			"$bin" -c "$pre; budget --keep $keep; alloc bo $val --trials $trials --groups $groups --seed $seed --batch $q; alloc history export '$hist'; ppl '$evalt' $evalopt" >"$out" 2>&1 || {
				echo "bench/bo-batch: keep $keep batch $q seed $seed failed:"; tail -n 5 "$out"; exit 1; }
			ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) .*/\1/p' "$out")
			secs=$(sed -n 's/^alloc bo: done in \([0-9.]*\) s$/\1/p' "$out")
			bt=$(sed -n 's/^alloc bo: best trial \([0-9]*\) of .*/\1/p' "$out")
			bv=$(sed -n 's/^alloc bo: best validation PPL \([0-9.]*\),.*/\1/p' "$out")
			cv=$(curve "$hist")
			rounds=$(( (trials + q - 1) / q ))
			echo "keep $keep batch $q seed $seed: eval PPL $ppl; best validation PPL $bv (trial $bt); best after 10,20,..: $cv; $rounds rounds; $secs s"
			rows="$rows| $keep | $q | $seed | $ppl | $bv (trial $bt) | $cv | $rounds | $secs |
"
		done
	done
done

echo
echo "kjv-llama, method feature, bo 5x$groups, $trials trials (10 random), objective log(ppl + 0.001·KL) on"
echo "$valchunks validation windows of 256; eval = kjv-eval.txt (dense eval PPL $dense_ppl); threads $threads."
echo
echo "| keep | batch | seed | eval PPL | best validation PPL | best validation PPL after 10, 20, ... trials | rounds | wall s |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s' "$rows"
