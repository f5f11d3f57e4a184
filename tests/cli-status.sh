#!/bin/sh
# Exit statuses a user can act on: 2 only for usage errors, 1 for a failed command (a missing
# precondition, a file that cannot be read); script lines, long commands and odd paths.
. "$RS_SRCDIR/tests/tap.sh"

M="$RS_SRCDIR/share/models/kjv-llama"

# status WANT DESCRIPTION -- ARGS...: run rankscope with ARGS, check the exit status and that
# stderr has exactly one line.
status() {
	want=$1
	what=$2
	shift 3
	"$RS_BIN" "$@" >"$TMPD/out" 2>"$TMPD/err"
	got=$?
	lines=$(wc -l <"$TMPD/err")
	[ "$got" -eq "$want" ] && [ "$lines" -eq 1 ]
	st=$?
	[ $st -eq 0 ] || tap_diag "exit $got (want $want), stderr: $(cat "$TMPD/err")"
	tap_check $st "$what: exit $want, one line"
}

status 1 "metrics before spectra (a missing precondition)" -- -c "load $M; metrics"
grep -q "spectra" "$TMPD/err"
tap_check $? "metrics before spectra says what to run"
status 1 "error before spectra" -- -c "load $M; error L0.q 8"
status 1 "plot before spectra" -- -c "load $M; plot spectrum --to $TMPD/x.png"
status 1 "info with nothing loaded" -- -c "info"
status 1 "ppl of a text that does not exist" -- -c "load $M; ppl $TMPD/none.txt"
grep -q "$TMPD/none.txt" "$TMPD/err"
tap_check $? "the unreadable text is named"
status 1 "ppl of a folder" -- -c "load $M; ppl $TMPD"
status 1 "a command needing a model, with none loaded" -- -c "spectra"
status 2 "an unknown command" -- -c "frobnicate"
status 2 "an option value that is not a number" -- -c "load $M; ppl x --ctx abc"
status 2 "a rank that is not a rank" -- -c "load $M; rank L0.q abc"
status 2 "a malformed size" -- -c "budget --params 3.5Q"
status 2 "an unterminated quote" -- -c "load 'x"

# One size parser: K M G T are powers of 1000 and Ki Mi Gi Ti powers of 1024 everywhere.
"$RS_BIN" -c "load $M; budget --params 2.5M" >"$TMPD/out" 2>&1 &&
    grep -q "budget: 2500000 decoder-linear" "$TMPD/out"
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/out")"
tap_check $st "budget --params 2.5M is 2500000 parameters"
"$RS_BIN" -c "load $M; budget --params 3Mi" >"$TMPD/out" 2>&1 &&
    grep -q "budget: 3145728 decoder-linear" "$TMPD/out"
tap_check $? "budget --params 3Mi is 3145728 parameters"
"$RS_BIN" -c "load $M; calibrate $RS_SRCDIR/share/texts/kjv-calib.txt --max-tokens 512 --memory 1KiB" \
    >"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q "over the budget of 1024: --memory [0-9.]*MiB would fit" "$TMPD/err"
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/out" "$TMPD/err")"
tap_check $st "calibrate --memory 1KiB reads 1024 bytes (too small: refused, exit 1)"

# A NUL byte in a script line is an error naming the file and line; nothing after it runs.
printf 'budget --keep 0.5\nbud\000get --keep 0.6\nbudget --keep 0.7\n' >"$TMPD/nul.rsc"
status 2 "a NUL byte in a script line" -- -f "$TMPD/nul.rsc"
grep -q "nul.rsc:2: .*NUL" "$TMPD/err"
tap_check $? "the NUL error names the file and the line"
grep -q "0.7" "$TMPD/out"
[ $? -ne 0 ]
tap_check $? "no line after the NUL byte ran"

# tokenize takes any number of words (300 here; a command once stopped at 64 arguments, a line at 113 words).
words=$(awk 'BEGIN { for (i = 1; i <= 300; i++) printf "word%d ", i }')
printf '%s' "$words" | sed 's/ $//' >"$TMPD/words.txt"
"$RS_BIN" -c "load $M; tokenize $words" >"$TMPD/a" 2>"$TMPD/err"
st=$?
"$RS_BIN" -c "load $M; tokenize --file $TMPD/words.txt" >"$TMPD/b" 2>&1
[ $st -eq 0 ] && [ -s "$TMPD/a" ] && cmp -s "$TMPD/a" "$TMPD/b"
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/err")"
tap_check $st "tokenize of 300 words equals tokenize --file of the same text"

# A llama2.c checkpoint with a bad header field names the field.
printf '\100\000\000\000\254\000\000\000\005\000\000\000\010\000\000\000\004\000\000\000\000\002\000\000\000\000\000\000' \
    >"$TMPD/bad-seq.bin"
status 1 "a llama2.c header with seq_len 0" -- -c "load $TMPD/bad-seq.bin"
grep -q "bad-seq.bin: llama2.c: seq_len 0" "$TMPD/err"
tap_check $? "the llama2.c error names the file and the field"

# A model path with a quote, ';' and '#' on the command line opens.
d="$TMPD/it's a #model; really"
mkdir -p "$d" && cp "$M"/* "$d"/ &&
    "$RS_BIN" "$d" -c "info" >"$TMPD/out" 2>&1 && grep -q "model; really" "$TMPD/out"
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/out")"
tap_check $st "a model path with a quote, ';' and '#' opens"

tap_done
