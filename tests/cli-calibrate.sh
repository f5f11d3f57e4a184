#!/bin/sh
# calibrate through the command line: the printed plan, the cache (a rerun runs no forward
# pass), a memory budget that spills the hidden states to a file gives the same statistics, a
# run killed with SIGKILL resumes from the spilled hidden states of its last finished layer with
# the same statistics, spill files of other killed runs are swept, feature spectra and the error
# preview.
. "$RS_SRCDIR/tests/tap.sh"

tap_need_fixture kjv-llama/model.safetensors
tap_need_fixture texts/kjv-calib.txt
M="$RS_FIXTURES/kjv-llama"
T="$RS_FIXTURES/texts/kjv-calib.txt"
XDG_CACHE_HOME="$TMPD/cache"; export XDG_CACHE_HOME

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 2; spectra; spectra --kind feature;
	spectra export '$TMPD/one.csv' --kind feature; error L2.up 100" >"$TMPD/out" 2>"$TMPD/err"
tap_check $? "calibrate --max-tokens 1024 --groups 2; spectra --kind feature; export"
grep -q 'calibrate: .*4 windows of 256 tokens (1024 of [0-9]* tokens with BOS), 2 groups' "$TMPD/out"
tap_check $? "the windows: BOS + text cut into 256-token windows"
grep -q 'calibrate: plan: one sweep, layer by layer; accumulators .* per layer, hidden states .* in memory' "$TMPD/out"
tap_check $? "the plan is printed (one sweep, hidden states in memory under the default budget)"
grep -q 'calibrate: 6 layers computed in 1 pass (1024 tokens through the model), 0 from cache' "$TMPD/out"
tap_check $? "six layers computed in one pass"
grep -q 'spectra: centred, 42 matrices: 42 computed' "$TMPD/out"
tap_check $? "42 centred feature spectra computed"
grep -q '^L2.up rank 100: weight 0\.[0-9]* (energy [0-9.]*%) feature-centred 0\.[0-9]* (energy [0-9.]*%); method svd previews with feature-centred  \[[0-9.]* us\]$' "$TMPD/out"
tap_check $? "error shows the weight and the feature error"

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 2; spectra --kind feature" \
	>"$TMPD/out" 2>"$TMPD/err"
grep -q '0 layers computed in 0 passes (0 tokens through the model), 6 from cache' "$TMPD/out" \
	&& grep -q '42 matrices: 0 computed, 42 from cache' "$TMPD/out"
tap_check $? "a rerun reads statistics and feature spectra from the cache: no forward pass, no SVD"

XDG_CACHE_HOME="$TMPD/cache2"; export XDG_CACHE_HOME
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 4096 --groups 2 --memory 30MiB" \
	>"$TMPD/out" 2>"$TMPD/err"
tap_check $? "calibrate 4096 tokens under a 30 MiB budget"
grep -q 'calibrate: plan: one sweep.* hidden states 8.00 MiB spilled to a file' "$TMPD/out" &&
	grep -q "6 layers computed in 1 pass" "$TMPD/out"
tap_check $? "the budget spills the hidden states (two boundaries of 4096 x 256 floats) to a file"
XDG_CACHE_HOME="$TMPD/cache2m" "$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 4096 --groups 2" \
	>"$TMPD/out" 2>"$TMPD/err"
same=0
for f in "$TMPD"/cache2m/rankscope/calib-*.rsc; do
	cmp -s "$f" "$TMPD/cache2/rankscope/${f##*/}" && same=$((same + 1))
done
grep -q 'hidden states 4.00 MiB in memory' "$TMPD/out" && [ "$same" -eq 24 ]
tap_check $? "the statistics equal those of the run with the hidden states in memory ($same of 24 entries bitwise)"
[ -z "$(find "$TMPD/cache2" -name 'calib-sweep-*')" ]
tap_check $? "the spill file is gone after the run"

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --memory 1MiB" >"$TMPD/out" 2>"$TMPD/err"
[ $? -ne 0 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'over the budget' "$TMPD/err"
tap_check $? "a budget below one layer is refused on one line"
fit=$(sed -n 's/.*--memory \([0-9]*MiB\) would fit.*/\1/p' "$TMPD/err")
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --memory ${fit:-1MiB}" >"$TMPD/out" 2>&1
tap_check $? "the --memory the refusal names (${fit:-none}) is enough"

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 5" >"$TMPD/out" 2>"$TMPD/err"
[ $? -ne 0 ] && grep -q '5 groups but only 4 windows' "$TMPD/err"
tap_check $? "more groups than windows is refused"

# After a calibration, `spectra` without --kind also computes the feature spectra the method
# previews with (issue 14, defect 8: it computed weight spectra only): centred for feature,
# uncentred for whiten.
XDG_CACHE_HOME="$TMPD/cache8" "$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024;
	spectra; set method whiten; spectra" >"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 0 ] && grep -q '^spectra: weight, 42 matrices: 42 computed' "$TMPD/out" &&
	grep -q '^spectra: centred, 42 matrices: 42 computed' "$TMPD/out" &&
	grep -q '^spectra: weight, 42 matrices: 0 computed, 0 from cache, 42 already' "$TMPD/out" &&
	grep -q '^spectra: uncentred, 42 matrices: 42 computed' "$TMPD/out"
tap_check $? "after calibrate, spectra also computes the feature spectra of the method (centred, then uncentred for whiten)"

# A cache directory on a disk too small for the statistics (a 1 MiB tmpfs in a private mount
# namespace): refused before the sweep, on one line naming the directory and the sizes.
if unshare -rm sh -c "mkdir -p '$TMPD/small' && mount -t tmpfs -o size=1m tmpfs '$TMPD/small'" \
    2>/dev/null; then
	unshare -rm sh -c "mount -t tmpfs -o size=1m tmpfs '$TMPD/small' &&
		XDG_CACHE_HOME='$TMPD/small' '$RS_BIN' -c \"load '$M'; calibrate '$T' --max-tokens 1024\";
		echo \$? >'$TMPD/rc'; ls '$TMPD/small/rankscope' 2>/dev/null | grep -c '^calib' >'$TMPD/left'" \
		>"$TMPD/out" 2>"$TMPD/err"
	[ "$(cat "$TMPD/rc")" = 1 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] &&
		grep -q "calibrate: the statistics still to compute need [0-9.]* MiB in the cache directory $TMPD/small/rankscope, which has [0-9.]* [KM]iB free" "$TMPD/err" &&
		! grep -q 'layers computed' "$TMPD/out" && [ "$(cat "$TMPD/left")" -eq 0 ]
	tap_check $? "a cache disk too small for the statistics is refused before the sweep: $(cat "$TMPD/err")"
else
	tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP no private mount namespace (unshare -rm) for a small disk"
fi

# Damage a statistics entry's payload: calibrate checks only headers (reading every entry's
# payload costs 22 GB at 7B), so the damage is reported, on one line, where the statistics are
# used; the entry is removed and the next calibrate recomputes only its layer.
f=$(ls "$TMPD"/cache2/rankscope/calib-*.rsc | head -1)
size=$(wc -c <"$f")
printf 'X' | dd of="$f" bs=1 seek=$((size - 9)) conv=notrunc 2>/dev/null
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 4096 --groups 2 --memory 30MiB;
	spectra --kind feature" >"$TMPD/out" 2>"$TMPD/err"
[ $? -ne 0 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'corrupt' "$TMPD/err" \
	&& grep -q 'run calibrate again' "$TMPD/err" && [ ! -e "$f" ] \
	&& grep -q '0 layers computed .*, 6 from cache' "$TMPD/out"
tap_check $? "a corrupt statistics entry is reported on use, on one line, and removed"
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 4096 --groups 2 --memory 30MiB;
	spectra --kind feature" >"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 0 ] && grep -q '1 layers computed in 1 pass .*, 5 from cache' "$TMPD/out"
tap_check $? "the next calibrate recomputes only its layer"

# SIGKILL in the middle of a spilled run (one BLAS thread for all runs: the products' rounding
# depends on the thread count), then a rerun: it resumes from the last finished layer's
# boundary, and the statistics equal an uninterrupted run's.
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
run="load '$M'; calibrate '$T' --max-tokens 8192 --groups 4"
XDG_CACHE_HOME="$TMPD/cache3" "$RS_BIN" -t 1 -c "$run" >"$TMPD/out" 2>&1
tap_check $? "reference: 8192 tokens in memory"
XDG_CACHE_HOME="$TMPD/cache4"; export XDG_CACHE_HOME
"$RS_BIN" -t 1 -c "$run --memory 30MiB" >"$TMPD/out" 2>&1 &
pid=$!
poll '[ "$(ls "$TMPD"/cache4/rankscope/calib-*.rsc 2>/dev/null | wc -l)" -ge 8 ]' 60
kill -9 $pid
wait $pid 2>/dev/null
cached=$(ls "$TMPD"/cache4/rankscope/calib-*.rsc 2>/dev/null | wc -l)
ls "$TMPD"/cache4/rankscope/calib-sweep-*.spill >/dev/null 2>&1 && [ "$cached" -lt 24 ]
tap_check $? "SIGKILL after $((cached / 4)) layers leaves the spill file"
"$RS_BIN" -t 1 -c "$run --memory 30MiB" >"$TMPD/out" 2>&1
tap_check $? "the rerun"
at=$(sed -n 's/^calibrate: resumed at layer \([0-9]*\) from the spilled hidden states.*/\1/p' "$TMPD/out")
[ -n "$at" ] && [ "$at" -ge 2 ] && grep -q "$((6 - at)) layers computed in 1 pass.*, $at from cache" "$TMPD/out"
tap_check $? "it resumes at layer ${at:-?}: $(grep 'layers computed' "$TMPD/out")"
same=0
for f in "$TMPD"/cache3/rankscope/calib-*.rsc; do
	cmp -s "$f" "$TMPD/cache4/rankscope/${f##*/}" && same=$((same + 1))
done
[ "$same" -eq 24 ] && [ -z "$(find "$TMPD/cache4" -name 'calib-sweep-*')" ]
tap_check $? "statistics equal to the uninterrupted run's ($same of 24 entries bitwise), no spill file left"

# A killed run of another calibration (2 groups) leaves its spill file; the next calibrate sweeps it.
"$RS_BIN" -t 1 -c "load '$M'; calibrate '$T' --max-tokens 8192 --groups 2 --memory 30MiB" \
	>"$TMPD/out" 2>&1 &
pid=$!
poll '[ -n "$(find "$TMPD/cache4" -name "calib-sweep-*")" ]' 60
kill -9 $pid
wait $pid 2>/dev/null
stale=$(find "$TMPD/cache4" -name 'calib-sweep-*')
"$RS_BIN" -t 1 -c "$run" >"$TMPD/out" 2>&1 && [ -n "$stale" ] && [ ! -e "$stale" ]
tap_check $? "a stale spill file of another calibration is removed by the next run"

# Statistics too large to hold (a 34 MiB budget) whose cache writes fail (a directory stands
# where each entry goes): one line per failed entry, and the session keeps them in memory, so
# the feature spectra come out as from a cache that took them.
XDG_CACHE_HOME="$TMPD/cache5"; export XDG_CACHE_HOME
wrun="load '$M'; calibrate '$T' --max-tokens 1024 --groups 2 --memory 34MiB"
"$RS_BIN" -c "$wrun; spectra --kind feature; spectra export '$TMPD/w1.csv' --kind feature" \
	>"$TMPD/out" 2>&1
grep -q 'statistics .* (cached, read back per layer when needed)' "$TMPD/out"
tap_check $? "under 34 MiB the statistics are not held: they are read back from the cache"
rm -f "$TMPD"/cache5/rankscope/spectrum-*.rsc
for f in "$TMPD"/cache5/rankscope/calib-*.rsc; do rm "$f"; mkdir "$f"; : >"$f/x"; done
"$RS_BIN" -c "$wrun; spectra --kind feature; spectra export '$TMPD/w2.csv' --kind feature" \
	>"$TMPD/out" 2>&1
st=$?
fails=$(grep -c 'calib-[0-9a-f]*\.rsc: Is a directory' "$TMPD/out")
[ $st -eq 0 ] && [ "$fails" -eq 24 ] && grep -q '6 layers computed in 1 pass' "$TMPD/out" &&
	grep -q '42 matrices: 42 computed' "$TMPD/out" && cmp -s "$TMPD/w1.csv" "$TMPD/w2.csv"
tap_check $? "failed cache writes ($fails of 24 reported) keep the statistics in the session: the same feature spectra"

tap_done
