#!/bin/sh
# Memory is planned and shown: `info` states what each heavy command needs at the model's size
# beside the memory available; a command that cannot fit refuses before it starts, naming the
# option that makes it fit; the plan agrees with the peak RSS the commands really reach.  Also
# the BLAS line and the batch progress lines.
. "$RS_SRCDIR/tests/tap.sh"

M="$RS_SRCDIR/share/models/kjv-llama"
CAL="$RS_SRCDIR/share/texts/kjv-calib.txt"
EVAL="$RS_SRCDIR/share/texts/kjv-eval.txt"
export XDG_CACHE_HOME="$TMPD/cache"

# bytes TEXT: "3.94 MiB" / "113 MiB" / "12 B" -> bytes
bytes() {
	echo "$1" | awk '{ u = $2; v = $1
		m = u == "KiB" ? 1024 : u == "MiB" ? 1048576 : u == "GiB" ? 1073741824 : 1
		printf "%.0f\n", v * m }'
}

# plan OP: the bytes `info` plans for OP ("spectra", "ppl", ...) from $TMPD/info
plan() {
	bytes "$(awk -v op="$1" '$1 == op && $2 ~ /^[0-9.]+$/ { print $2, $3; exit }' "$TMPD/info")"
}

"$RS_BIN" -t 2 -c "load $M; info" >"$TMPD/info" 2>&1
tap_check $? "info runs"
grep -Eq '^memory: +[0-9.]+ [KMG]iB available of [0-9.]+ [KMG]iB; weights 13.0 MiB' "$TMPD/info"
tap_check $? "info states the available memory and the mapped weights (13.0 MiB of BF16)"
for op in spectra "spectra --kind feature" calibrate ppl "plan factors"; do
	grep -Eq "^  $op +[0-9.]+ [KMG]?i?B  fits: " "$TMPD/info"
	tap_check $? "info plans '$op'"
done
grep -q "2 workers, each up to" "$TMPD/info"
tap_check $? "the spectra line counts the workers of -t 2"
grep -Eq '^blas: +OpenBLAS [A-Za-z0-9]+ kernels' "$TMPD/info"
tap_check $? "info names OpenBLAS's kernel set"
OPENBLAS_CORETYPE=Haswell "$RS_BIN" -c "load $M; info" 2>&1 | grep -q "OPENBLAS_CORETYPE=Haswell"
tap_check $? "info says when OPENBLAS_CORETYPE chose the kernels"

# The plan against the peak RSS each command reaches: RSS <= plan + mapped weights + 48 MiB of
# process (libraries, the session), and the plan is not idle talk: RSS >= weights + plan / 2.
weights=$((13 * 1048576))
# rss_within OP CMD...: run the command under /usr/bin/time and compare with `info`'s plan.
rss_within() {
	op=$1
	shift
	if ! command -v /usr/bin/time >/dev/null 2>&1; then
		tap_skip "GNU time not installed" "peak RSS of $op within its plan"
		return
	fi
	/usr/bin/time -f '%M' -o "$TMPD/rss" "$RS_BIN" "$@" >/dev/null 2>&1
	rss=$(($(tail -n 1 "$TMPD/rss") * 1024))
	p=$(plan "$op")
	[ "$rss" -le $((p + weights + 48 * 1048576)) ] && [ "$rss" -ge $((weights + p / 2)) ]
	st=$?
	[ $st -eq 0 ] || tap_diag "$op: peak RSS $rss bytes, plan $p bytes, weights $weights"
	tap_check $st "peak RSS of $op within its plan (+ weights + process)"
}
rss_within spectra -t 2 -c "load $M; spectra"
rss_within ppl -t 2 -c "load $M; ppl '$EVAL' --ctx 256 --chunks 8"

# Refusals before starting, one line naming the need, what is available and the option.
RANKSCOPE_MEMORY=3MiB "$RS_BIN" -t 2 -c "load $M; spectra" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ $st -eq 1 ] && grep -Eq '^spectra: needs 3.94 MiB but 3.00 MiB are available \(fewer workers: -t or .set threads. 1\)$' "$TMPD/err"
tap_check $? "spectra that cannot fit refuses, naming -t"
grep -q "^spectra: weight" "$TMPD/out"
[ $? -ne 0 ]
tap_check $? "nothing was computed"
RANKSCOPE_MEMORY=3MiB "$RS_BIN" -t 1 -c "load $M; spectra 'L0.*'" >"$TMPD/out" 2>"$TMPD/err"
tap_check $? "with -t 1, as the refusal said, it fits and runs"
RANKSCOPE_MEMORY=4MiB "$RS_BIN" -c "load $M; ppl '$EVAL' --ctx 256 --chunks 2" >"$TMPD/out" \
    2>"$TMPD/err"
st=$?
[ $st -eq 1 ] && grep -Eq '^ppl: needs 15.0 MiB but 4.00 MiB are available \(a smaller --ctx' "$TMPD/err"
tap_check $? "ppl that cannot fit refuses, naming --ctx"
RANKSCOPE_MEMORY=64MiB "$RS_BIN" -c "load $M; calibrate '$CAL' --ctx 256 --memory 1GiB" \
    >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ $st -eq 1 ] && grep -q '^calibrate: needs .* but 64.0 MiB are available (a smaller --memory' "$TMPD/err"
tap_check $? "calibrate with a --memory over the available memory refuses, naming --memory"
RANKSCOPE_MEMORY=64MiB "$RS_BIN" -c "load $M; calibrate '$CAL' --ctx 256" >"$TMPD/out" \
    2>"$TMPD/err"
st=$?
[ $st -eq 0 ] && grep -q "budget 64.0 MiB" "$TMPD/out"
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/out" "$TMPD/err")"
tap_check $st "calibrate's default budget is at most the available memory, and it runs within it"
RANKSCOPE_MEMORY=1GiB "$RS_BIN" -c "load $M; info" | grep -q "^memory: *1.00 GiB available"
tap_check $? "RANKSCOPE_MEMORY sets the memory the plans count on"

# Batch progress: a line with the time left every RANKSCOPE_PROGRESS_INTERVAL seconds.
rm -rf "$XDG_CACHE_HOME"
RANKSCOPE_PROGRESS_INTERVAL=0.05 "$RS_BIN" -c "load $M; calibrate '$CAL' --ctx 256" \
    >"$TMPD/out" 2>"$TMPD/err"
grep -Eq '^calibrate: [0-9]+%, [0-9]+ s so far, about [0-9]+ s left$' "$TMPD/err"
st=$?
[ $st -eq 0 ] || tap_diag "stderr: $(cat "$TMPD/err")"
tap_check $st "a long batch command prints its progress and time left on stderr"
rm -rf "$XDG_CACHE_HOME"
RANKSCOPE_PROGRESS_INTERVAL=0 "$RS_BIN" -c "load $M; calibrate '$CAL' --ctx 256" >"$TMPD/out" \
    2>"$TMPD/err"
grep -q "s left" "$TMPD/err"
[ $? -ne 0 ]
tap_check $? "RANKSCOPE_PROGRESS_INTERVAL=0 prints none"
tap_done
