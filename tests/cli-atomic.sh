#!/bin/sh
# Atomic writes: a process SIGKILLed in the middle of a write leaves the previous file intact and
# never a partial target.  The writes are stopped at an exact point by preloading
# tests/.libs/libstall.so (tests/stall.c: the N-th fsync of a temporary ".tmp." file blocks
# after touching a mark file), then killed there; export dense is also killed at several
# moments of its run.  What a killed writer leaves ("<target>.tmp.XXXXXX") is removed by the
# next write of the same target; nothing else is, nor a temporary a live writer holds.
. "$RS_SRCDIR/tests/tap.sh"

MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
STALL="$(dirname "$RS_BIN")/tests/.libs/libstall.so"
[ -f "$STALL" ] || tap_skip_all "tests/.libs/libstall.so not built"
export XDG_CACHE_HOME="$TMPD/cache" OPENBLAS_NUM_THREADS=1

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
left=$(cd "$TMPD" && ls -d plan.json.tmp.* 2>/dev/null)
"$RS_BIN" -c "$LOAD; rank '*' 24; plan save '$TMPD/plan.json'" >/dev/null 2>&1 &&
	test -n "$left" && ! ls -d "$TMPD"/plan.json.tmp.* >/dev/null 2>&1
tap_check $? "the next plan save removed what the killed one left (${left:-nothing})"

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
left=$(cd "$TMPD" && ls -d out-dense.tmp.* 2>/dev/null)
"$RS_BIN" -c "$LOAD; rank '*' 32; export dense '$OUT'" >/dev/null 2>&1 && complete_export "$OUT" &&
	test -n "$left" && ! ls -d "$OUT".tmp.* >/dev/null 2>&1
tap_check $? "the next export dense to it removed the folder the killed one left (${left:-nothing})"

# Leftovers made by name: each writer removes exactly "<its target>.tmp." + 6 letters/digits,
# a file or a folder of files; look-alikes stay, and so does one a live writer holds (flock).
L="$TMPD/left"
mkdir "$L"
for t in plan.json s.csv p.svg exp; do
	: >"$L/$t.tmp.aB3xY9"
	: >"$L/$t.tmp.ABCDE" ; : >"$L/$t.tmp.ABCDEFG"; : >"$L/$t.tmp.AB-DEF"; : >"$L/x$t.tmp.ABCDEF"
	: >"$L/$t.tmp.ABCDEF.keep"
done
rm "$L/exp.tmp.aB3xY9"
mkdir "$L/exp.tmp.Zz09Qq" "$L/exp.tmp.Held01"
: >"$L/exp.tmp.Zz09Qq/model.safetensors"
: >"$L/plan.json.tmp.Held02"
ls "$L" | grep -v -e 'aB3xY9' -e 'Zz09Qq' | sort >"$TMPD/left.keep"
rm -f "$TMPD/held"
# a stand-in for a live writer: a process holding both temporaries locked
sh -c 'exec 8<"$1" 9<"$2"; flock -n 8 && flock -n 9 && : >"$3"; exec sleep 30' sh \
    "$L/exp.tmp.Held01" "$L/plan.json.tmp.Held02" "$TMPD/held" &
fpid=$!
poll '[ -e "$TMPD/held" ]' 5
"$RS_BIN" -c "$LOAD; rank '*' 32; plan save '$L/plan.json'; spectra 'L0.q'; spectra export '$L/s.csv'; plot spectrum --to '$L/p.svg'; export dense '$L/exp'" >"$TMPD/out" 2>"$TMPD/err"
rc=$?
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null
ls "$L" | grep -v -e '^plan.json$' -e '^s.csv$' -e '^p.svg$' -e '^exp$' | sort | cmp -s - "$TMPD/left.keep"
tap_check $? "plan save, spectra export, plot and export dense removed their leftovers, exactly (exit $rc)"
test $rc -eq 0 && complete_export "$L/exp" && test -d "$L/exp.tmp.Held01" && test -f "$L/plan.json.tmp.Held02"
tap_check $? "the temporaries a live writer holds stay"

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
