#!/bin/sh
# The command line: options, exit statuses, batch entrances, one-line errors.
. "$RS_SRCDIR/tests/tap.sh"

"$RS_BIN" --help >"$TMPD/out" 2>&1
tap_check $? "--help exits 0"
grep -q 'usage: rankscope' "$TMPD/out"
tap_check $? "--help prints the usage"

"$RS_BIN" --version >"$TMPD/out" 2>&1 && grep -q '^rankscope [0-9]' "$TMPD/out"
tap_check $? "--version prints the version"

"$RS_BIN" --bogus >/dev/null 2>&1
[ $? -eq 2 ]
tap_check $? "an unknown option exits 2"

"$RS_BIN" -c 'help' >"$TMPD/out" 2>&1 && grep -q '^  ppl ' "$TMPD/out" && grep -q '^  load ' "$TMPD/out"
tap_check $? "-c help lists the commands"

"$RS_BIN" -c 'help ppl' >"$TMPD/out" 2>&1 && grep -q -- '--protocol' "$TMPD/out"
tap_check $? "help CMD shows its options"

"$RS_BIN" -c 'frobnicate' >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ] && grep -q 'unknown command: frobnicate' "$TMPD/err"
tap_check $? "an unknown command is a usage error (exit 2)"

"$RS_BIN" -c 'ppl --ctx' >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ]
tap_check $? "a missing option value is a usage error (exit 2)"

"$RS_BIN" -c 'ppl x.txt' >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q 'no model loaded' "$TMPD/err"
tap_check $? "ppl without a model says so (a missing precondition: exit 1)"

"$RS_BIN" -c "load $TMPD/nonexistent; help" >"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 1 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q "$TMPD/nonexistent" "$TMPD/err" \
	&& [ ! -s "$TMPD/out" ]
tap_check $? "a failed load exits 1 with one line naming the file, and stops the commands"

printf 'help quit\n# a comment\n\nquit\nhelp\n' >"$TMPD/script"
"$RS_BIN" -f "$TMPD/script" >"$TMPD/out" 2>&1
[ $? -eq 0 ] && [ "$(grep -c '^usage: quit' "$TMPD/out")" -eq 1 ] && ! grep -q '^  ppl ' "$TMPD/out"
tap_check $? "-f runs a script until quit"

printf 'help quit\n' | "$RS_BIN" >"$TMPD/out" 2>&1 && grep -q '^usage: quit' "$TMPD/out"
tap_check $? "commands on a non-terminal stdin run in batch mode"

"$RS_BIN" -c "help 'quit'; help \"load\"" >"$TMPD/out" 2>&1 && grep -q '^usage: load' "$TMPD/out"
tap_check $? "quotes and ';' split commands"

"$RS_BIN" -c 'help "unterminated' >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ] && grep -q 'unterminated' "$TMPD/err"
tap_check $? "an unterminated quote is a usage error"

tap_done
