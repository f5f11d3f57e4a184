#!/bin/sh
# Mapped weight pages a job has finished with are released (model.h, rs_model_tensor_release):
# after `spectra` hashed and converted every matrix of a ~100 MB model, the process's resident
# share of the model file's mapping (Rss of its entries in /proc/PID/smaps) is a small part of
# the matrices' bytes, read while the workbench session is still alive.
. "$RS_SRCDIR/tests/tap.sh"

export XDG_CACHE_HOME="$TMPD/cache" LC_ALL=C.UTF-8

[ -r /proc/self/smaps ] || tap_skip_all "no /proc/PID/smaps here"

# mapped_rss_kb PID FILE: kB of FILE's mappings resident in process PID ("-" if none mapped).
mapped_rss_kb() {
	awk -v f="$2" '
		/^[0-9a-f]+-[0-9a-f]+ / { inmap = ($NF == f); if (inmap) n++; next }
		inmap && $1 == "Rss:" { kb += $2 }
		END { if (n == 0) print "-"; else print kb + 0 }' "/proc/$1/smaps"
}

# Four layers, dim 1024, ffn 2816, random F16 (finite, full rank): 28 matrices, 100 MB.
M="$TMPD/m"
mkdir -p "$M"
python3 "$RS_SRCDIR/tests/randmodel.py" "$M" 1024 2816 4 8 4096
F="$M/model.safetensors"
[ -s "$F" ] || tap_skip_all "python3 could not write the test model"
# the 28 matrices' bytes, in kB: 4 x (4 x 1024 x 1024 + 3 x 2816 x 1024) x 2 bytes
MAT_KB=$((4 * (4 * 1024 * 1024 + 3 * 2816 * 1024) * 2 / 1024))

# The probe sees touched pages: a process that read every page of the mapping has it resident.
python3 - "$F" "$TMPD/touched" <<'EOF' &
import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
s = sum(m[i] for i in range(0, len(m), 4096))
open(sys.argv[2], "w").write("%d\n" % s)
time.sleep(30)
EOF
ppid=$!
poll '[ -s "$TMPD/touched" ]' 10
kb=$(mapped_rss_kb "$ppid" "$F")
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null
[ "$kb" != - ] && [ "$kb" -ge "$MAT_KB" ]
tap_check $? "control: every page read, the mapping is resident ($kb kB of $MAT_KB kB matrices)"

# session_mapped_kb FIFO DONE-PATTERN COMMANDS: run COMMANDS in a session kept alive on a pipe,
# read its resident kB of the model's mapping once stdout matches DONE-PATTERN, then quit;
# the session's exit status goes to $st, the kB to $kb.
session_mapped_kb() {
	mkfifo "$TMPD/$1"
	"$RS_BIN" -t 2 -f - <"$TMPD/$1" >"$TMPD/out" 2>"$TMPD/err" &
	rspid=$!
	exec 3>"$TMPD/$1"
	printf "%s\n" "$3" >&3
	poll "grep -q '$2' \"\$TMPD/out\"" 60
	kb=$(mapped_rss_kb "$rspid" "$F")
	echo quit >&3
	exec 3>&-
	wait "$rspid"
	st=$?
}

session_mapped_kb in '^spectra:' "load '$M'
spectra"
tap_diag "$(grep '^spectra:' "$TMPD/out")"
[ "$st" -eq 0 ] && grep -q '^spectra: weight, 28 matrices: 28 computed, 0 from cache.*28 hashed in full' \
	"$TMPD/out"
tap_check $? "spectra computed and hashed all 28 matrices from the mapping (exit $st)"
[ "$kb" != - ] && [ "$kb" -lt $((MAT_KB / 10)) ]
tap_check $? "after spectra the model's mapping holds $kb kB resident, < 10% of $MAT_KB kB"

# Hashing in full (a cache that does not know the file yet) reads every page of every tensor,
# embeddings and head included: those pages are given back too.  calibrate identifies the
# weights by every tensor's content hash, then releases each layer after its sweep.
rm -rf "$XDG_CACHE_HOME"
session_mapped_kb in2 '^calibrate: .* layers computed' "load --tokenizer \
'$RS_SRCDIR/share/models/kjv-llama/tokenizer.json' '$M'
calibrate '$RS_SRCDIR/share/texts/kjv-calib.txt' --ctx 64 --max-tokens 256"
tap_diag "$(grep '^calibrate: .*layers computed' "$TMPD/out")"
# (the embeddings alone are 8 MB: 8% of the matrices)
[ "$st" -eq 0 ] && [ "$kb" != - ] && [ "$kb" -lt $((MAT_KB / 20)) ]
tap_check $? "after calibrate with a new cache the model's mapping holds $kb kB resident, < 5% of $MAT_KB kB"

tap_done
