#!/bin/sh
# The workbench's table previews a matrix's error with the spectrum the method uses (engine.h):
# with method whiten and both feature spectra computed, the table's predicted error is the
# uncentred one that `error NAME RANK` reports, not the centred one.
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
MODEL=share/models/kjv-llama
BIN=${RS_UI_BIN:-$RS_BIN}
export XDG_STATE_HOME="$TMPD/state" XDG_CACHE_HOME="$TMPD/cache" RS_DATADIR="$RS_SRCDIR/share"
export LANG=C.UTF-8 LC_ALL=C.UTF-8 OPENBLAS_NUM_THREADS=1

# typed LINE: type a command (the first one opens the command line, which then stays open).
typed() {
	[ -n "$cmdline_open" ] || $T send-keys -t rs ':'
	cmdline_open=1
	$T send-keys -t rs -l "$1"
	$T send-keys -t rs Enter
}

cat >"$TMPD/run.sh" <<EOF
cd "$RS_SRCDIR"
"$BIN" $MODEL 2>"$TMPD/stderr"
exec sleep 60
EOF
$T new-session -d -s rs -x 220 -y 50 "sh $TMPD/run.sh"
wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the workbench opens on the bundled model"

typed 'calibrate share/texts/kjv-calib.txt --max-tokens 2048; spectra L0.k; spectra L0.k --kind feature; spectra L0.k --kind feature --variant uncentred'
wait_for 'spectra: uncentred, 1 matrices' 90
tap_check $? "weight, centred and uncentred spectra of L0.k"

typed 'set method whiten; rank L0.k 64; error L0.k 64'
wait_for 'method whiten previews with feature-uncentred' 20
tap_check $? "error L0.k 64 runs under method whiten"
unc=$(sed -n 's/.*feature-uncentred \([0-9.]*\) (energy.*/\1/p' "$TMPD/screen" | tail -1)
cen=$(sed -n 's/.*feature-centred \([0-9.]*\) (energy.*/\1/p' "$TMPD/screen" | tail -1)
tab=$($T capture-pane -p -t rs | grep -E '^L0\.k +128x256 +64 ' | head -1 |
    sed -n 's/.* \([0-9]\.[0-9]*\)f .*/\1/p')
want=$(awk -v x="$unc" 'BEGIN { printf "%.4f", x }')
other=$(awk -v x="$cen" 'BEGIN { printf "%.4f", x }')
[ -n "$tab" ] && [ "$tab" = "$want" ] && [ "$want" != "$other" ]
st=$?
[ $st -eq 0 ] || tap_diag "table $tab, error's uncentred $unc, centred $cen"
tap_check $st "with method whiten the table's predicted error ($tab) is error's uncentred one ($want), not the centred $other"

typed 'set method feature'
n=0
while [ $n -lt 100 ]; do
	tab=$($T capture-pane -p -t rs | grep -E '^L0\.k +128x256 +64 ' | head -1 |
	    sed -n 's/.* \([0-9]\.[0-9]*\)f .*/\1/p')
	[ "$tab" = "$other" ] && break
	sleep 0.1
	n=$((n + 1))
done
[ "$tab" = "$other" ]
tap_check $? "with method feature the table shows the centred error ($tab)"

tap_done
