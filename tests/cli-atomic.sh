#!/bin/sh
# Atomic writes: a process SIGKILLed in the middle of a write leaves the previous file intact and
# never a partial target.  The writes are stopped at an exact point by preloading
# tests/.libs/libstall.so (tests/stall.c: the N-th fsync of a temporary ".tmp." file blocks
# after touching a mark file), then killed there; export dense is also killed at several
# moments of its run.
. "$RS_SRCDIR/tests/tap.sh"

MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
STALL="$(dirname "$RS_BIN")/tests/.libs/libstall.so"
[ -f "$STALL" ] || tap_skip_all "tests/.libs/libstall.so not built"
export XDG_CACHE_HOME="$TMPD/cache" OPENBLAS_NUM_THREADS=1

# poll CMD SECONDS: run the shell condition CMD every 20 ms until it holds; 0 if it did.
poll() {
	n=0
	while [ $n -lt $(($2 * 50)) ]; do
		eval "$1" && return 0
		sleep 0.02
		n=$((n + 1))
	done
	return 1
}

# stalled N CMDS: run rankscope -c CMDS until the N-th fsync of a temporary file (a path
# containing $RS_STALL_MATCH when set), SIGKILL it there; 0 if it got there.
stalled() {
	rm -f "$TMPD/mark"
	RS_STALL_MARK="$TMPD/mark" RS_STALL_AT=$1 LD_PRELOAD="$STALL" \
	    "$RS_BIN" -c "$2" >"$TMPD/out" 2>"$TMPD/err" &
	spid=$!
	poll '[ -s "$TMPD/mark" ] || ! kill -0 $spid 2>/dev/null' 60
	got=1
	[ -s "$TMPD/mark" ] && got=0
	kill -KILL $spid 2>/dev/null
	wait $spid 2>/dev/null
	return $got
}

# complete_export DIR: DIR holds a whole export that loads.
complete_export() {
	[ -f "$1/config.json" ] && [ -f "$1/model.safetensors" ] && [ -f "$1/tokenizer.json" ] &&
		"$RS_BIN" -c "load '$1'" >/dev/null 2>&1
}

LOAD="load '$MODEL'"

# --- plan save over a previous plan
"$RS_BIN" -c "$LOAD; rank '*' 16; plan save '$TMPD/plan.json'" >/dev/null 2>"$TMPD/err" &&
	cp "$TMPD/plan.json" "$TMPD/plan.ref"
tap_check $? "a first plan is saved"
stalled 1 "$LOAD; rank '*' 32; plan save '$TMPD/plan.json'"
tap_check $? "plan save stopped at its fsync: $(cat "$TMPD/mark" 2>/dev/null | sed "s|$TMPD/||")"
cmp -s "$TMPD/plan.json" "$TMPD/plan.ref" &&
	"$RS_BIN" -c "$LOAD; plan load '$TMPD/plan.json'" >/dev/null 2>&1
tap_check $? "killed there, the previous plan file is intact and loads"
ls "$TMPD"/plan.json.tmp.* >/dev/null 2>&1 && tap_diag "left behind: $(cd "$TMPD" && ls plan.json.tmp.*)"

# --- spectra export (CSV) over a previous one, and the cache entries of spectra
"$RS_BIN" -c "$LOAD; spectra 'L0.*'; spectra export '$TMPD/s.csv'" >/dev/null 2>"$TMPD/err" &&
	cp "$TMPD/s.csv" "$TMPD/s.ref"
tap_check $? "a first spectra CSV is written"
export RS_STALL_MATCH=s.csv.tmp.
stalled 1 "$LOAD; spectra 'L0.*'; spectra 'L1.*'; spectra export '$TMPD/s.csv'"
tap_check $? "the next spectra export stopped at its fsync: $(sed "s|$TMPD/||" "$TMPD/mark" 2>/dev/null)"
unset RS_STALL_MATCH
cmp -s "$TMPD/s.csv" "$TMPD/s.ref"
tap_check $? "killed there, the previous CSV is intact"
stalled 3 "$LOAD; spectra --recompute 'L2.*'"
n_tmp=$(find "$XDG_CACHE_HOME" -name '*.tmp.*' | wc -l)
"$RS_BIN" -c "$LOAD; spectra" >"$TMPD/out" 2>"$TMPD/err" && [ ! -s "$TMPD/err" ]
tap_check $? "killed while writing the cache, the cache holds only whole entries ($n_tmp temporary files left): $(tail -n 1 "$TMPD/out")"

# --- export dense into an empty folder
OUT="$TMPD/out-dense"
mkdir "$OUT"
stalled 2 "$LOAD; rank '*' 32; export dense '$OUT'"
tap_check $? "export dense stopped at its second fsync: $(sed "s|$TMPD/||" "$TMPD/mark" 2>/dev/null)"
[ -d "$OUT" ] && [ -z "$(ls -A "$OUT")" ]
tap_check $? "killed there, the target folder is still empty: no partial export"
ls -d "$OUT".tmp.* >/dev/null 2>&1 && tap_diag "left behind: $(cd "$TMPD" && ls -d out-dense.tmp.*)"

# Killed at moments spread over a whole export: never a partial folder.
t0=$(date +%s%N)
"$RS_BIN" -c "$LOAD; rank '*' 32; export dense '$TMPD/full'" >/dev/null 2>"$TMPD/err"
full_ms=$((($(date +%s%N) - t0) / 1000000))
complete_export "$TMPD/full"
tap_check $? "an export that is left to finish is complete and loads ($full_ms ms)"
for pct in 10 30 50 70 90; do
	dir="$TMPD/kill-$pct"
	"$RS_BIN" -c "$LOAD; rank '*' 32; export dense '$dir'" >/dev/null 2>&1 &
	kpid=$!
	sleep "$(awk -v m="$full_ms" -v p="$pct" 'BEGIN { printf "%.3f", m * p / 100000 }')"
	kill -KILL $kpid 2>/dev/null
	wait $kpid 2>/dev/null
	if [ ! -e "$dir" ]; then
		state="absent"
	elif complete_export "$dir"; then
		state="complete"
	else
		state="PARTIAL: $(ls "$dir" | tr '\n' ' ')"
	fi
	case $state in PARTIAL*) false ;; *) true ;; esac
	tap_check $? "SIGKILL at $pct% of an export: the target is $state"
done
tap_done
