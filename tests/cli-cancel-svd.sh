#!/bin/sh
# Cancel mid-decomposition (linalg.h, rs_linalg_cancellable): SIGINT while one large SVD runs
# ends the command within half a second with status 1 and one "cancelled" line, leaves no
# decomposition process behind, writes nothing to the cache (a rerun computes the matrix),
# and in the workbench the session goes on: the next spectra works.
. "$RS_SRCDIR/tests/tap.sh"

export XDG_CACHE_HOME="$TMPD/cache" LC_ALL=C.UTF-8

# now_ms: wall-clock milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# n_cached: spectrum cache entries written so far.
n_cached() {
	find "$XDG_CACHE_HOME" -name "spectrum-*.rsc" 2>/dev/null | wc -l
}

# One layer of a 7B-like shape scaled down so that L0.down (2048 x 5632, random F16, 23 MB)
# takes a second or more to decompose here, far above the fork threshold, and the whole model
# (~80 MB) is written in well under a second.
BIG="$TMPD/onelayer"
mkdir -p "$BIG"
python3 "$RS_SRCDIR/tests/randmodel.py" "$BIG" 2048 5632 1 16 256
[ -s "$BIG/model.safetensors" ] || tap_skip_all "python3 could not write the test model"

# --- batch: SIGINT while the SVD of L0.down runs
rm -f "$TMPD/status"
("$RS_BIN" -c "load '$BIG'; spectra L0.down; info" >"$TMPD/out" 2>"$TMPD/err"; echo $? >"$TMPD/status") &
poll '[ -n "$(pgrep -P $! 2>/dev/null)" ]' 5
pid=$(pgrep -P $! | head -n 1)
# The decomposition process is rankscope's own child; wait until it exists and has run a bit.
poll '[ -n "$(pgrep -P "$pid" 2>/dev/null)" ] || [ -s "$TMPD/status" ]' 20
child=$(pgrep -P "$pid" | head -n 1)
[ -n "$child" ] && [ ! -s "$TMPD/status" ]
tap_check $? "spectra L0.down runs its decomposition in a child process ($child)"
sleep 0.3
t0=$(now_ms)
kill -INT "$pid"
poll '[ -s "$TMPD/status" ]' 10
ms=$(($(now_ms) - t0))
# (the model has no tokenizer: load warns about it on stderr)
grep -v '^warning: no tokenizer' "$TMPD/err" >"$TMPD/err1"
[ "$(cat "$TMPD/status")" = 1 ] && [ "$ms" -le 500 ] && [ "$(wc -l <"$TMPD/err1")" -eq 1 ] &&
	grep -q '^spectra: cancelled' "$TMPD/err1" && ! grep -q '^identity' "$TMPD/out"
tap_check $? "SIGINT mid-SVD: exit $(cat "$TMPD/status") after $ms ms: $(cat "$TMPD/err1")"
! kill -0 "$child" 2>/dev/null && [ -z "$(pgrep -f "$BIG")" ]
tap_check $? "no decomposition process is left"
[ "$(n_cached)" -eq 0 ]
tap_check $? "nothing reached the cache ($(n_cached) spectrum entries)"
"$RS_BIN" -c "load '$BIG'; spectra L0.down" >"$TMPD/out2" 2>&1
grep -q '^spectra: weight, 1 matrices: 1 computed, 0 from cache' "$TMPD/out2"
tap_check $? "a rerun computes it: $(grep '^spectra:' "$TMPD/out2")"

# --- batch: SIGINT while export factored builds the factors of L0.down (a dgesdd with vectors)
rm -f "$TMPD/status"
("$RS_BIN" -c "load '$BIG'; rank L0.down 64; export factored '$TMPD/f1'" >"$TMPD/out" 2>"$TMPD/err"
	echo $? >"$TMPD/status") &
poll '[ -n "$(pgrep -P $! 2>/dev/null)" ]' 5
pid=$(pgrep -P $! | head -n 1)
poll '[ -n "$(pgrep -P "$pid" 2>/dev/null)" ] || [ -s "$TMPD/status" ]' 20
sleep 0.3
t0=$(now_ms)
kill -INT "$pid"
poll '[ -s "$TMPD/status" ]' 10
ms=$(($(now_ms) - t0))
grep -v '^warning: no tokenizer' "$TMPD/err" >"$TMPD/err1"
[ "$(cat "$TMPD/status")" = 1 ] && [ "$ms" -le 500 ] && [ "$(wc -l <"$TMPD/err1")" -eq 1 ] &&
	grep -q '^compress: cancelled' "$TMPD/err1" && [ ! -e "$TMPD/f1" ] && [ -z "$(pgrep -f "$BIG")" ]
tap_check $? "SIGINT mid-factor-build of export factored: exit $(cat "$TMPD/status") after $ms ms, nothing written, no process left: $(cat "$TMPD/err1")"

# --- interactive: the workbench goes on after a cancelled decomposition
if ! command -v tmux >/dev/null 2>&1; then
	tap_diag "tmux not installed: the workbench is not tested"
	tap_done
	exit $?
fi
. "$RS_SRCDIR/tests/tmux.sh"
export XDG_STATE_HOME="$TMPD/state" RS_DATADIR="$RS_SRCDIR/share"

rm -rf "$TMPD/cache"
cat >"$TMPD/run.sh" <<RUN
cd "$RS_SRCDIR"
sh -c 'echo \$\$ >"$TMPD/pid"; exec "\$0" "\$1"' "$RS_BIN" '$BIG' 2>"$TMPD/stderr"
echo \$? >"$TMPD/istatus"
exec sleep 60
RUN
$T new-session -d -s keep "sleep 300"
$T new-session -d -s rs -x 120 -y 40 "sh $TMPD/run.sh"
poll 'screen_has "L0\.q +2048x2048"' 20
tap_check $? "the workbench shows the model"
ipid=$(cat "$TMPD/pid")
type_cmd "spectra L0.down"
poll '[ -n "$(pgrep -P "$ipid" 2>/dev/null)" ]' 20
child=$(pgrep -P "$ipid" | head -n 1)
sleep 0.3
t0=$(now_ms)
$T send-keys -t rs Escape
poll 'screen_has "spectra: cancelled"' 10
ms=$(($(now_ms) - t0))
[ -n "$child" ] && [ "$ms" -le 500 ] && kill -0 "$ipid" 2>/dev/null &&
	poll '! kill -0 "$child" 2>/dev/null' 1 && [ -z "$(pgrep -P "$ipid")" ]
tap_check $? "Esc mid-SVD cancels spectra L0.down within $ms ms; its process ($child) is gone, the session is alive"
type_cmd "spectra L0.q"
poll 'screen_has "spectra: weight, 1 matrices: 1 computed"' 30 && [ "$(n_cached)" -eq 1 ]
tap_check $? "the next spectra (L0.q, a forked SVD too) works in the same session; only it is cached"
type_cmd "quit"
poll '[ -s "$TMPD/istatus" ]' 10 && [ "$(cat "$TMPD/istatus")" = 0 ]
tap_check $? "quit ends it (status $(cat "$TMPD/istatus" 2>/dev/null))"
tap_done
