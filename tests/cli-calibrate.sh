#!/bin/sh
# calibrate through the command line: the printed plan, the cache (a rerun runs no forward
# pass), a memory budget that forces several passes gives the same statistics, feature spectra
# and the error preview.
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
grep -q 'calibrate: plan: 1 pass of up to 6 layers; accumulators .* per layer' "$TMPD/out"
tap_check $? "the plan is printed (one pass under the default budget)"
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
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 2 --memory 45MiB;
	spectra --kind feature; spectra export '$TMPD/multi.csv' --kind feature" \
	>"$TMPD/out" 2>"$TMPD/err"
tap_check $? "calibrate under a 45 MiB budget"
p=$(sed -n 's/^calibrate: plan: \([0-9]*\) passes of up to \([0-9]*\) layer.*/\1 \2/p' "$TMPD/out")
set -- $p
[ "${1:-0}" -gt 1 ] && [ $(( $1 * $2 )) -ge 6 ] && grep -q "6 layers computed in $1 passes" "$TMPD/out"
tap_check $? "the budget forces several passes (${1:-?} of ${2:-?} layers)"
cmp -s "$TMPD/one.csv" "$TMPD/multi.csv"
tap_check $? "and the statistics (feature spectra) are identical to the one-pass run"

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --memory 1MiB" >"$TMPD/out" 2>"$TMPD/err"
[ $? -ne 0 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'over the budget' "$TMPD/err"
tap_check $? "a budget below one layer is refused on one line"

"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 5" >"$TMPD/out" 2>"$TMPD/err"
[ $? -ne 0 ] && grep -q '5 groups but only 4 windows' "$TMPD/err"
tap_check $? "more groups than windows is refused"

# Damage a statistics entry: reported, that layer recomputed.
f=$(ls "$TMPD"/cache2/rankscope/calib-*.rsc | head -1)
size=$(wc -c <"$f")
printf 'X' | dd of="$f" bs=1 seek=$((size - 9)) conv=notrunc 2>/dev/null
"$RS_BIN" -c "load '$M'; calibrate '$T' --max-tokens 1024 --groups 2 --memory 45MiB" \
	>"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 0 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'corrupt' "$TMPD/err" \
	&& grep -q '1 layers computed in 1 pass .*, 5 from cache' "$TMPD/out"
tap_check $? "a corrupt statistics entry is reported and only its layer recomputed"

tap_done
