#!/bin/sh
# The workbench says what is true and edits only on purpose (issue 14): a perplexity belongs to
# the plan and model it was measured on, the plan's file label holds only while the plan equals
# the file, and escape sequences that are no key edit nothing (under TERM=xterm-256color
# tmux's Home is ESC [ 1 ~, which that terminfo entry does not name).
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
wb_env
EVAL=share/texts/kjv-eval.txt

# hex TEXT: TEXT as the hex bytes send-keys -H takes.
hex() {
	printf '%s' "$1" | od -An -tx1
}

# top: the screen's first line (model, parameters, perplexity).
top() {
	$T capture-pane -p -t rs | head -1
}

# top_has REGEX SECONDS: poll the first line until it matches.
top_has() {
	k=0
	while [ $k -lt $(($2 * 10)) ]; do
		top | grep -Eq -- "$1" && return 0
		sleep 0.1
		k=$((k + 1))
	done
	tap_diag "timed out waiting for /$1/ on the top line: $(top)"
	return 1
}

wb_start 120 50
wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the workbench opens under TERM=xterm-256color"

# --- Escape sequences in the table: each is parsed whole; none of its bytes is a key ('[' is
# rank -1, ']' rank +1).  An unknown CSI, focus events, Home/End as tmux sends them, a paste.
$T send-keys -t rs -H 1b 5b 39 39 7e
$T send-keys -t rs -H 1b 5b 49 1b 5b 4f
$T send-keys -t rs End
wait_for 'L5\.down [0-9]+x[0-9]+ +dense \(max rank' 5
tap_check $? "End (ESC [ 4 ~) selects the last matrix"
! grep -q '^> rank' "$TMPD/screen"
tap_check $? "ESC [ 99 ~ and the focus events ESC [ I, ESC [ O before it ran no command"
$T send-keys -t rs Home
wait_for 'L0\.q 256x256 +dense \(max rank' 5
tap_check $? "Home (ESC [ 1 ~) selects the first matrix"
# shellcheck disable=SC2046
$T send-keys -t rs -H 1b 5b 32 30 30 7e $(hex 'rank * 8 ]') 1b 5b 32 30 31 7e
wait_for '^rankscope> rank \* 8 \]' 5
tap_check $? "a bracketed paste in the table goes to the command line as text, not run"
$T send-keys -t rs C-c
type_cmd 'plan show'
wait_for '^\(every matrix is dense\)' 10 && ! grep -q '^> rank' "$TMPD/screen"
tap_check $? "after ESC [ 99 ~, focus events, Home, End and a paste every matrix is still dense"

# --- The top line's perplexity belongs to the plan and the model it was measured on.
type_cmd "ppl $EVAL --chunks 5"
wait_for '\| ppl [0-9]+\.[0-9]+ \(chunked, ctx 256\)' 60
tap_check $? "ppl shows its value on the top line"
type_cmd 'rank * --keep 0.3'
wait_for 'rank: 42 matrices set' 10 && top_has '\| ppl [0-9]+\.[0-9]+ \(plan changed\)' 5
tap_check $? "after 'rank * --keep 0.3' the shown ppl is marked 'plan changed'"
tap_diag "top line: $(top)"
type_cmd 'undo'
top_has '\| ppl [0-9]+\.[0-9]+ \(chunked, ctx 256\)' 10
tap_check $? "undo back to the measured plan shows the ppl as measured again"
# at 80 columns the segment is cut to its brief form, never mid-word
$T resize-window -t rs -x 80 -y 24
top_has '\| ppl [0-9]+\.[0-9]+( |$)' 10 && ! top | grep -Eq '\| ppl [0-9.]+ \([^)]*$'
tap_check $? "at 80x24 the top line shows the ppl whole (brief form): $(top)"
type_cmd 'rank L0.q 64'
top_has '\| ppl [0-9]+\.[0-9]+ \(stale\)' 10
tap_check $? "at 80x24 a changed plan's ppl reads '(stale)', not a cut '(plan chan'"
type_cmd 'undo'
$T resize-window -t rs -x 120 -y 50
type_cmd "load $MODEL"
top_has '\| ppl - \(run' 30
tap_check $? "after 'load' the ppl is cleared"

# --- The plan's source label names the file only while the plan equals it.
wait_for '^L0\.q +256x256 +dense' 20
type_cmd 'rank L0.q 64'
type_cmd "plan save $TMPD/p.json"
wait_for 'plan: saved 1 of 42' 10
type_cmd "ppl $EVAL --chunks 1"
wait_for 'ppl: evaluating the plan \(from [^)]*/p\.json\)' 30
tap_check $? "right after 'plan save' ppl evaluates 'the plan (from FILE)'"
wait_for 'ppl: ([0-9]+/[0-9]+ )?done' 30   # a job refuses edits until it ends
type_cmd 'rank L0.k 32'
type_cmd "ppl $EVAL --chunks 1"
wait_for 'ppl: evaluating the plan \(unsaved: edited since [^)]*/p\.json\)' 30
tap_check $? "after an edit the plan is 'unsaved: edited since FILE'"
wait_for 'ppl: ([0-9]+/[0-9]+ )?done' 30
type_cmd 'undo'
type_cmd "ppl $EVAL --chunks 1"
# the newest 'evaluating' line (the earlier ones may still be on screen)
n=0
while [ $n -lt 300 ]; do
	$T capture-pane -p -t rs | grep 'ppl: evaluating' | tail -1 >"$TMPD/last"
	grep -q 'evaluating the plan (from [^)]*/p\.json)' "$TMPD/last" && break
	sleep 0.1
	n=$((n + 1))
done
[ $n -lt 300 ] || tap_diag "last: $(cat "$TMPD/last")"
[ $n -lt 300 ]
tap_check $? "undo back to the saved plan names the file again"
wait_for 'ppl: ([0-9]+/[0-9]+ )?done' 30

# --- Signals: '-' on a dense matrix goes below break-even (m*n/(m+n): 128 for 256x256, 85.3
# for 128x256), a rank past it is marked as costing more than dense (red, '!'), the params bar
# draws the budget and turns red over it.
ESC=$(printf '\033')
type_cmd 'plan reset'
wait_for 'plan: every matrix dense' 10
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs Home
$T send-keys -t rs -
wait_for '^L0\.q +256x256 +120 +93\.8 ' 10
tap_check $? "'-' on dense L0.q (256x256) sets 120, the largest multiple of 8 below break-even 128"
$T send-keys -t rs Down
$T send-keys -t rs -
wait_for '^L0\.k +128x256 +80 +93\.8 ' 10
tap_check $? "'-' on dense L0.k (128x256) sets 80, below break-even 85.3"
type_cmd 'rank L0.o 248'
wait_for '^L0\.o +256x256 +248 +193\.8! ' 10 &&
	$T capture-pane -p -e -t rs | grep -q "^${ESC}\[31mL0\.o "
tap_check $? "rank 248 of L0.o (past break-even) is marked '193.8!' and drawn red"
wait_for 'L0\.o: rank 248 \(keeps 193\.8% of its parameters; past break-even: costs more than dense\)' 5
tap_check $? "the rank command says the rank costs more than dense"
type_cmd 'budget --keep 0.7'
top_has 'over budget 70\.0% [^|]*┃' 10 &&
	$T capture-pane -p -e -t rs | head -1 | grep -q "${ESC}\[31m\(${ESC}\[49m\)\{0,1\}█"
tap_check $? "after 'budget --keep 0.7' the bar marks the budget and is red over it"
tap_diag "top line: $(top)"
type_cmd 'rank * --keep 0.5'
top_has 'within budget 70\.0% [^|]*┃' 10 &&
	$T capture-pane -p -e -t rs | head -1 | grep -q "${ESC}\[32m\(${ESC}\[49m\)\{0,1\}█"
tap_check $? "under the budget the bar is green"

# --- At 80x24 long lines wrap in the log: scrolled back row by row, the log holds the whole
# 1870-character paragraph of 'help alloc' (the reference: the same command without a terminal).
(cd "$RS_SRCDIR" && "$BIN" -c 'help alloc') 2>&1 | sed -n 2p | tr -d ' ' >"$TMPD/para"
$T resize-window -t rs -x 80 -y 24
type_cmd 'help alloc'
wait_for '--log FILE' 10
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs Tab
# logrows: the log pane's rows (between its title line and the status line).
logrows() {
	$T capture-pane -p -t rs | awk -v n=24 '/^(─|-) log/ { on = 1; next } on && NR <= n - 2'
}
wait_for '^─ log' 5
logrows >"$TMPD/rows"
: >"$TMPD/tops"
k=0
while [ $k -lt 120 ] && ! head -1 "$TMPD/rows" | grep -q '^> help alloc'; do
	prev=$(cat "$TMPD/rows")
	$T send-keys -t rs Up
	m=0
	while [ $m -lt 50 ]; do
		logrows >"$TMPD/rows"
		[ "$(cat "$TMPD/rows")" != "$prev" ] && break
		sleep 0.1
		m=$((m + 1))
	done
	[ $m -lt 50 ] || break
	head -1 "$TMPD/rows" >>"$TMPD/tops"
	k=$((k + 1))
done
{ tac "$TMPD/tops"; logrows; } | tr -d ' \n' >"$TMPD/joined"
[ -s "$TMPD/para" ] && grep -qF "$(cat "$TMPD/para")" "$TMPD/joined"
tap_check $? "at 80x24 'help alloc' reads in full in the log (wrapped rows, scrolled back $k rows)"

type_cmd 'quit'
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "quit exits with status 0"
[ -s "$TMPD/stderr" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr")"

tap_done
