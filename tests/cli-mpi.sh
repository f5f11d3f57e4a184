#!/bin/sh
# rankscope-mpi (--with-mpi) under mpirun -np 2 and -np 3 on the bundled kjv-llama, against the
# single-process rankscope -t 1 as the reference: calibration statistics (group means and token
# counts bitwise; pooled mean and covariance within 1e-12 of their largest entry: float64 sums of
# the ranks' partial sums in another order than one process adds the groups), weight spectra
# equal, feature spectra within 1e-10 of each matrix's largest value (those statistics, then
# printed to 11 digits), ppl's running values and final estimate and compare's figures identical
# (per-position values summed in window order); the MPI job's cache read by rankscope: nothing
# recomputed; alloc bo and sensitivity over ranks give one process's plans.  Faults: rank 1 killed with SIGKILL mid-calibration ends the job non-zero with one
# line naming the rank and the step, the cache holds whole layers only, and a rerun completes
# with the same statistics.
. "$RS_SRCDIR/tests/tap.sh"

NPOINTS=32
MPIRUN=${RS_MPIRUN:-}
if [ -z "$MPIRUN" ] || ! [ -x "$MPIRUN" ] || ! [ -x "$RS_MPI_BIN" ]; then
	tap_skip $NPOINTS "no mpirun"
	tap_done
	exit $?
fi
# one process per rank on this machine: shared memory only (no network probing), one BLAS
# thread per rank (one level of parallelism)
OMPI_MCA_btl=self,vader; export OMPI_MCA_btl
OMPI_MCA_btl_vader_single_copy_mechanism=none; export OMPI_MCA_btl_vader_single_copy_mechanism
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
mpi() {
	np=$1; shift
	"$MPIRUN" -q --allow-run-as-root --oversubscribe -np "$np" "$RS_MPI_BIN" "$@"
}
M="$RS_SRCDIR/share/models/kjv-llama"
T="$RS_SRCDIR/share/texts/kjv-calib.txt"
E="$RS_SRCDIR/share/texts/kjv-eval.txt"
CAL="calibrate '$T' --ctx 128 --max-tokens 4096 --groups 8"
SPEC="$CAL; spectra; spectra --kind feature"
RUN="$SPEC; ppl '$E' --ctx 128 --chunks 40; rank '*' --keep 0.6; compare '$E' --ctx 128 --chunks 30"
EXPORT="spectra export '$TMPD/w.csv' --kind weight; spectra export '$TMPD/f.csv' --kind feature"

XDG_CACHE_HOME="$TMPD/ref" "$RS_BIN" -t 1 -c "load '$M'; $RUN; $EXPORT" >"$TMPD/ref.out" 2>&1 &&
	mv "$TMPD/w.csv" "$TMPD/ref-w.csv" && mv "$TMPD/f.csv" "$TMPD/ref-f.csv"
tap_check $? "the single-process reference (rankscope -t 1)"
sed -n '/^\[1\]/,/^Final estimate/p' "$TMPD/ref.out" >"$TMPD/ref.ppl"
sed -n '/^dense: /,/^top-1 agreement/p' "$TMPD/ref.out" >"$TMPD/ref.cmp"

# spectra_close A B TOL: every value of CSV B within TOL of the largest of its matrix in A
spectra_close() {
	awk -F, -v tol="$3" 'NR == FNR { if (FNR > 1) { v[$1 "," $2 "," $3] = $4;
		if ($4 > top[$1]) top[$1] = $4 } next }
		FNR > 1 { k = $1 "," $2 "," $3; if (!(k in v)) bad++; else { d = $4 - v[k];
		if (d < 0) d = -d; if (d > tol * top[$1]) bad++ } ; n++ }
		END { exit !(n > 0 && bad == 0 && n == length(v)) }' "$1" "$2"
}

for np in 2 3; do
	C="$TMPD/np$np"
	XDG_CACHE_HOME="$C" mpi "$np" -c "$RUN" "$M" >"$TMPD/out" 2>"$TMPD/err"
	tap_check $? "mpirun -np $np rankscope-mpi: calibrate; spectra; spectra --kind feature; ppl; compare"
	[ "$(grep -c '^Final estimate' "$TMPD/out")" -eq 1 ] &&
		[ "$(grep -c '^calibrate: 6 layers computed in 1 pass' "$TMPD/out")" -eq 1 ]
	tap_check $? "-np $np: rank 0 alone prints"
	python3 "$RS_SRCDIR/tests/calibdiff.py" "$TMPD/ref/rankscope" "$C/rankscope" 1e-12 \
		>"$TMPD/diff" 2>&1
	tap_check $? "-np $np: calibration statistics equal the reference's: $(tail -n 1 "$TMPD/diff")"
	sed -n '/^\[1\]/,/^Final estimate/p' "$TMPD/out" | cmp -s - "$TMPD/ref.ppl" &&
		[ -s "$TMPD/ref.ppl" ]
	tap_check $? "-np $np: ppl's running values and final estimate equal the reference's"
	sed -n '/^dense: /,/^top-1 agreement/p' "$TMPD/out" | cmp -s - "$TMPD/ref.cmp" &&
		[ "$(wc -l <"$TMPD/ref.cmp")" -eq 4 ]
	tap_check $? "-np $np: compare's perplexities, KL and agreement equal the reference's"
	XDG_CACHE_HOME="$C" "$RS_BIN" -t 1 -c "load '$M'; $SPEC; $EXPORT" >"$TMPD/again" 2>&1 &&
		grep -q 'calibrate: 0 layers computed in 0 passes .*, 6 from cache' "$TMPD/again" &&
		grep -q 'spectra: weight, 42 matrices: 0 computed, 42 from cache' "$TMPD/again" &&
		grep -q 'spectra: centred, 42 matrices: 0 computed, 42 from cache' "$TMPD/again"
	tap_check $? "-np $np: rankscope on the job's cache computes nothing (statistics and spectra)"
	cmp -s "$TMPD/ref-w.csv" "$TMPD/w.csv"
	tap_check $? "-np $np: weight spectra equal the reference's"
	spectra_close "$TMPD/ref-f.csv" "$TMPD/f.csv" 1e-10
	tap_check $? "-np $np: feature spectra within 1e-10 of each matrix's largest value"
done

# The workbench (batch mode) on an MPI job's cache: the feature spectra with 0 computed.
XDG_CACHE_HOME="$TMPD/np2" "$RS_BIN" -c "load '$M'; $CAL; spectra --kind feature" \
	>"$TMPD/out" 2>&1 && grep -q 'spectra: centred, 42 matrices: 0 computed' "$TMPD/out"
tap_check $? "rankscope on the cache of mpirun -np 2: feature spectra, 0 computed"

# The same in the workbench itself (tmux): its status line reports 0 computed.
if command -v tmux >/dev/null 2>&1; then
	TM="tmux -L rs-mpi-$$ -f /dev/null"
	cat >"$TMPD/wb.sh" <<EOS
XDG_CACHE_HOME='$TMPD/np2' '$RS_BIN' -t 1 '$M'
exec sleep 60
EOS
	$TM new-session -d -s rs -x 160 -y 40 "sh $TMPD/wb.sh"
	poll "$TM capture-pane -p -t rs 2>/dev/null | grep -Eq '^L0\.q +256x256'" 30 &&
		$TM send-keys -t rs ':' && $TM send-keys -t rs -l "$CAL; spectra --kind feature" &&
		$TM send-keys -t rs Enter &&
		poll "$TM capture-pane -p -t rs | grep -q 'spectra: centred, 42 matrices: 0 computed'" 60
	tap_check $? "the workbench (tmux) on the cache of mpirun -np 2: feature spectra, 0 computed"
	$TM kill-server >/dev/null 2>&1
else
	tap_skip 1 "tmux not installed"
fi

# A command every rank refuses alike is reported once, with rank 0's words.
XDG_CACHE_HOME="$TMPD/np2" mpi 2 -c "calibrate" "$M" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ "$st" -eq 2 ] && [ "$(grep -c 'calibrate' "$TMPD/err")" -eq 1 ] && ! grep -q 'rank 1' "$TMPD/err"
tap_check $? "a usage error on every rank: exit 2, one error line (status $st)"

# A script line with a NUL byte is the same usage error as in rankscope: file:line, once.
printf 'info\nin\000fo\n' >"$TMPD/nul.rsc"
mpi 2 -f "$TMPD/nul.rsc" "$M" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ "$st" -eq 2 ] && [ "$(grep -c 'nul.rsc:2: .*NUL' "$TMPD/err")" -eq 1 ]
tap_check $? "a NUL byte in a script line: exit 2, file:line named once (status $st)"

# The manual's OPTIONS section has an entry (.TP) for every option --help lists, and the page
# renders without warnings.
"$RS_MPI_BIN" --help >"$TMPD/help" 2>&1
opts=$(sed -n 's/^  \(-[a-z-]*\) .*/\1/p; s/.*rankscope-mpi --help | \(--[a-z]*\)$/--help \1/p' "$TMPD/help")
awk '/^\.SH/ { in_opts = ($2 == "OPTIONS") } in_opts && tp { gsub(/\\-/, "-"); print $2 }
	{ tp = ($1 == ".TP") }' "$RS_SRCDIR/man/rankscope-mpi.1" >"$TMPD/manopts"
st=0
for o in $opts; do
	grep -qx -- "$o" "$TMPD/manopts" || { tap_diag "option $o of --help is not in man/rankscope-mpi.1"; st=1; }
done
[ "$(printf '%s\n' $opts | wc -l)" -ge 5 ] || st=1
if command -v groff >/dev/null 2>&1 && [ "$st" -eq 0 ]; then
	[ -z "$(groff -man -ww -z "$RS_SRCDIR/man/rankscope-mpi.1" 2>&1)" ] || st=1
fi
tap_check $st "man/rankscope-mpi.1 describes every option of --help ($(echo $opts)) and renders cleanly"

# The searches over ranks: sensitivity's probes and bo's rounds (one candidate per rank, every
# result on every rank in candidate order).  bo with -np 2 (rounds of 2 by default) twice gives
# the same plan, and both equal one process running --batch 2; sensitivity equals one process.
BO="$CAL; set method feature; alloc bo --space ratio --keep 0.7 --trials 6 --init 2 --validation '$E' --ctx 128 --chunks 4 --seed 3"
# the default (profile) space: its rounds are its own (screening), shared out over the ranks
BOP="$CAL; set method feature; alloc bo --keep 0.7 --trials 6 --init 2 --validation '$E' --ctx 128 --chunks 4 --seed 3"
SENS="$CAL; set method feature; alloc sensitivity --keep 0.7 --validation '$E' --ctx 128 --chunks 2 --ratios 0.5"
for i in 1 2; do
	XDG_CACHE_HOME="$TMPD/np2" mpi 2 -c "$BO; plan save '$TMPD/bo$i.json'" "$M" >"$TMPD/bo$i.out" 2>&1
done
# (the reference on the job's cache: the same calibration statistics bit for bit; the job's and
# one process's differ in their last bits, and the GP amplifies any difference)
XDG_CACHE_HOME="$TMPD/np2" "$RS_BIN" -t 1 -c "load '$M'; $BO --batch 2; plan save '$TMPD/bo-ref.json'" \
	>"$TMPD/bo-ref.out" 2>&1
grep '^alloc bo: best' "$TMPD/bo-ref.out" >"$TMPD/bo-best"
[ -s "$TMPD/bo1.json" ] && [ -s "$TMPD/bo-best" ] && grep -q 'in rounds of 2' "$TMPD/bo1.out" &&
	cmp -s "$TMPD/bo1.json" "$TMPD/bo2.json" && cmp -s "$TMPD/bo1.json" "$TMPD/bo-ref.json" &&
	grep '^alloc bo: best' "$TMPD/bo1.out" | cmp -s - "$TMPD/bo-best"
tap_check $? "alloc bo --space ratio, -np 2 twice with seed 3: the same plan, equal to one process with --batch 2"
XDG_CACHE_HOME="$TMPD/np2" mpi 2 -c "$BOP; plan save '$TMPD/bop.json'" "$M" >"$TMPD/bop.out" 2>&1 &&
	XDG_CACHE_HOME="$TMPD/np2" "$RS_BIN" -t 1 -c "load '$M'; $BOP; plan save '$TMPD/bop-ref.json'" \
	>"$TMPD/bop-ref.out" 2>&1 && grep -q 'profile space' "$TMPD/bop.out" &&
	cmp -s "$TMPD/bop.json" "$TMPD/bop-ref.json" &&
	[ "$(grep '^alloc bo: best' "$TMPD/bop.out")" = "$(grep '^alloc bo: best' "$TMPD/bop-ref.out")" ]
tap_check $? "alloc bo (profile space, the default), -np 2 with seed 3: the plan of one process"
XDG_CACHE_HOME="$TMPD/np2" mpi 2 -c "$SENS; plan save '$TMPD/sens-mpi.json'" "$M" >"$TMPD/out" 2>&1 &&
	XDG_CACHE_HOME="$TMPD/np2" "$RS_BIN" -t 1 -c "load '$M'; $SENS; plan save '$TMPD/sens-ref.json'" \
	>"$TMPD/out2" 2>&1 && cmp -s "$TMPD/sens-mpi.json" "$TMPD/sens-ref.json"
tap_check $? "alloc sensitivity, -np 2: the probes shared out, the same plan as one process"

# SIGKILL of rank 1 in the middle of a calibration (hidden states spilled per rank).
C="$TMPD/kill"
KCAL="calibrate '$T' --ctx 128 --max-tokens 16384 --groups 8 --memory 30MiB"
XDG_CACHE_HOME="$C" mpi 2 -c "$KCAL" "$M" >"$TMPD/out" 2>"$TMPD/err" &
job=$!
poll '[ "$(ls "$C"/rankscope/calib-*.rsc 2>/dev/null | wc -l)" -ge 4 ] &&
	ls "$C"/rankscope/mpi-*-rank1.status >/dev/null 2>&1' 120
pid=$(sed -n '1s/^R \([0-9]*\)$/\1/p' "$C"/rankscope/mpi-*-rank1.status 2>/dev/null)
[ -n "$pid" ] && kill -9 "$pid"
wait $job
st=$?
tap_check $([ -n "$pid" ] && [ "$st" -ne 0 ]; echo $?) "rank 1 killed mid-calibration: the job ends non-zero (status $st)"
[ "$(wc -l <"$TMPD/err")" -eq 1 ] &&
	grep -q '^rankscope-mpi: rank 1 stopped during calibrate, layer [0-5] of 6 (the process died' "$TMPD/err"
tap_check $? "one line names the rank and the step: $(head -n 1 "$TMPD/err")"
cached=$(ls "$C"/rankscope/calib-*.rsc 2>/dev/null | wc -l)
[ $((cached % 4)) -eq 0 ] && [ "$cached" -lt 24 ] &&
	[ -z "$(find "$C" -name '*.tmp*' -o -name '.*' -type f)" ]
tap_check $? "the cache holds whole layers only ($((cached / 4)) of 6), no partial file"
[ -z "$(find "$C" -name 'mpi-*.status')" ]
tap_check $? "the job's status files are gone"
XDG_CACHE_HOME="$C" mpi 2 -c "$KCAL" "$M" >"$TMPD/out" 2>"$TMPD/err" &&
	grep -q "calibrate: $((6 - cached / 4)) layers computed in 1 pass.*, $((cached / 4)) from cache" "$TMPD/out"
tap_check $? "the rerun completes from the last finished layer: $(grep 'layers computed' "$TMPD/out")"
XDG_CACHE_HOME="$TMPD/kref" "$RS_BIN" -t 1 -c "load '$M'; $KCAL" >/dev/null 2>&1 &&
	python3 "$RS_SRCDIR/tests/calibdiff.py" "$TMPD/kref/rankscope" "$C/rankscope" 1e-12 >"$TMPD/diff" 2>&1
tap_check $? "its statistics equal a single uninterrupted process's: $(tail -n 1 "$TMPD/diff")"
[ -z "$(find "$C" -name 'calib-sweep-*')" ]
tap_check $? "no spill file left"

tap_done
