#!/bin/sh
# The workbench in a real terminal: tmux runs rankscope on a private socket; keys go in with
# send-keys and the screen comes back with capture-pane.  Polls with timeouts, no fixed waits
# for results.  RS_UI_BIN overrides the program (e.g. an ASan build).
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
wb_env

# now_ms: the wall clock in milliseconds (GNU date).
now_ms() {
	date +%s%3N
}

# wait_fast PATTERN SECONDS: as wait_for, polling as fast as capture-pane goes (for timings).
wait_fast() {
	t_end=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$t_end" ]; do
		$T capture-pane -p -t rs >"$TMPD/screen" 2>/dev/null
		grep -Eq -- "$1" "$TMPD/screen" && return 0
	done
	tap_diag "timed out waiting for /$1/; the screen:"
	sed 's/^/#   /' "$TMPD/screen"
	return 1
}

# row NAME: the table row of matrix NAME on the current screen (left panel only).
row() {
	$T capture-pane -p -t rs | grep -E "^$1 " | head -1 | cut -c1-66
}

# The wrapper records the exit status and the terminal modes after rankscope returns.
cat >"$TMPD/run.sh" <<EOF
cd "$RS_SRCDIR"
"$BIN" $MODEL 2>"$TMPD/stderr"
echo \$? >"$TMPD/status"
stty -a >"$TMPD/stty" 2>&1
echo SHELL-IS-BACK
exec sleep 120
EOF
# A spare session keeps the server up while the test sessions come and go.
$T new-session -d -s keep "sleep 600"
$T new-session -d -s rs -x 120 -y 40 "sh $TMPD/run.sh"

wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the table lists L0.q (256x256, dense)"

grep -Eq 'decoder params 4\.72M/4\.72M' "$TMPD/screen"
tap_check $? "the budget bar shows the decoder parameters"

# Spectra: weight, and feature spectra after a short calibration (the predicted-error column).
$T send-keys -t rs ':'
$T send-keys -t rs -l 'calibrate share/texts/kjv-calib.txt --max-tokens 2048; spectra'
$T send-keys -t rs Enter
wait_for 'spectra: centred, 42 matrices' 60 && wait_for '^L0\.q +256x256 +dense +100\.0 +100\.00 +100\.00 +0\.0000f' 10
tap_check $? "after calibrate, spectra alone fills the weight and feature energy and a feature error"

$T send-keys -t rs -l 'rank L0.k 64'
$T send-keys -t rs Enter
wait_for '^L0\.k +128x256 +64 ' 10
tap_check $? "a typed 'rank L0.k 64' shows in the table"
before=$(row 'L0\.k')
err_before=$(echo "$before" | awk '{print $7}')

# Back to the table; Down selects L0.k; + raises its rank by the alignment step (8).
$T send-keys -t rs Escape
sleep 0.2
$T send-keys -t rs Home
$T send-keys -t rs Down
$T send-keys -t rs +
wait_for '^L0\.k +128x256 +72 ' 10
tap_check $? "Down then + raises L0.k from 64 to 72"
after=$(row 'L0\.k')
err_after=$(echo "$after" | awk '{print $7}')
tap_diag "before: $before"
tap_diag "after:  $after"
[ -n "$err_before" ] && [ "$err_before" != "-" ] && [ "$err_before" != "$err_after" ] &&
	awk -v a="$err_after" -v b="$err_before" 'BEGIN { exit !(a + 0 < b + 0) }'
tap_check $? "the predicted error of L0.k drops ($err_before -> $err_after)"

grep -Eq '> rank L0\.k \+8' "$TMPD/screen"
tap_check $? "the key ran the command 'rank L0.k +8' (echoed in the log)"

wait_for 'L0\.k 128x256 +rank 72 of 128' 5
tap_check $? "the spectrum panel follows the selection and the rank"

# ppl at the prompt: a progress line, then a perplexity.
$T send-keys -t rs ':'
$T send-keys -t rs -l 'ppl share/texts/kjv-eval.txt --chunks 20'
$T send-keys -t rs Enter
wait_for '(ppl|perplexity|factors) .*(ETA|[0-9]+/[0-9]+ done)' 30
tap_check $? "ppl shows a progress line"
wait_for 'Final estimate: PPL = [0-9]+\.[0-9]+' 60
tap_check $? "then a final perplexity"
wait_for '\| ppl [0-9]+\.[0-9]+ \(chunked, ctx 256\)' 5
tap_check $? "the budget bar shows the last perplexity and its protocol"

# While a job runs, state changes are refused and Esc cancels.
$T send-keys -t rs -l 'ppl share/texts/kjv-eval.txt'
$T send-keys -t rs Enter
wait_for '(ppl|perplexity|factors) .*Esc cancels' 20
$T send-keys -t rs -l 'rank L0.q 32'
$T send-keys -t rs Enter
wait_for 'busy: ppl is running; Esc cancels' 10
tap_check $? "a state-changing command during a job is refused"
$T send-keys -t rs Escape
wait_for 'ppl: cancelled' 30
tap_check $? "Esc cancels the running job"

# Resize: smaller, too small, back.
$T resize-window -t rs -x 90 -y 30
wait_for '^matrix +shape +rank' 10 && [ "$(wc -l <"$TMPD/screen")" -le 30 ] &&
	wait_for '^L0\.q +256x256' 5 && grep -q '^rankscope>' "$TMPD/screen"
tap_check $? "after a resize to 90x30 the table and prompt are redrawn"
$T resize-window -t rs -x 60 -y 20
wait_for 'needs a terminal of at least 80x24' 10
tap_check $? "below 80x24 a message replaces the screen"
$T resize-window -t rs -x 120 -y 40
wait_for '^L0\.q +256x256' 10 && wait_for 'L0\.k 128x256 +rank 72' 5
tap_check $? "back at 120x40 the full screen returns"

# Key help.
$T send-keys -t rs Escape
sleep 0.2
$T send-keys -t rs '?'
wait_for 'toggle dense' 5
tap_check $? "? shows the key help"
$T send-keys -t rs '?'
sleep 0.2

# Save the main screen for the README.
if [ -n "$RS_SAVE_SCREEN" ]; then
	$T send-keys -t rs Home
	sleep 0.5
	$T capture-pane -p -t rs >"$RS_SAVE_SCREEN"
fi

# Quit with q: the plan has edits no plan file holds, so q asks first (tests/ui-session.sh);
# y quits with status 0, terminal restored.
$T send-keys -t rs q
wait_for 'unsaved edits: quit\? y/n' 5
tap_check $? "q with an edited plan asks before quitting"
$T send-keys -t rs y
n=0
while [ ! -s "$TMPD/status" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(cat "$TMPD/status" 2>/dev/null)" = 0 ]
tap_check $? "q exits with status 0"
[ -s "$TMPD/stderr" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr")"
wait_for 'SHELL-IS-BACK' 5
tap_check $? "the shell's output is visible again (alternate screen left)"
grep -Eq '(^| )icanon( |$)' "$TMPD/stty" && grep -Eq '(^| )echo( |$)' "$TMPD/stty" &&
	grep -Eq '(^| )icrnl( |$)' "$TMPD/stty"
tap_check $? "the terminal modes are restored (icanon echo icrnl)"
grep -q '^rank L0\.k +8$' "$XDG_STATE_HOME/rankscope/history" &&
	grep -q '^ppl share/texts/kjv-eval.txt --chunks 20$' "$XDG_STATE_HOME/rankscope/history"
tap_check $? "typed commands and key commands are in the history file"
$T kill-session -t rs

# SIGTERM: the loop exits cleanly and restores the terminal.
rm -f "$TMPD/status" "$TMPD/stty"
cat >"$TMPD/run2.sh" <<EOF
cd "$RS_SRCDIR"
sh -c 'echo \$\$ >"$TMPD/pid"; exec "\$0" "\$1"' "$BIN" $MODEL 2>"$TMPD/stderr2"
echo \$? >"$TMPD/status"
stty -a >"$TMPD/stty" 2>&1
echo SHELL-IS-BACK
exec sleep 120
EOF
$T new-session -d -s rs -x 100 -y 30 "sh $TMPD/run2.sh"
wait_for '^L0\.q +256x256' 20
kill -TERM "$(cat "$TMPD/pid")"
n=0
while [ ! -s "$TMPD/status" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(cat "$TMPD/status" 2>/dev/null)" = 0 ] && wait_for 'SHELL-IS-BACK' 5 &&
	grep -Eq '(^| )icanon( |$)' "$TMPD/stty"
tap_check $? "SIGTERM leaves cleanly (status 0, terminal restored)"

# 'quit' typed at the prompt leaves too.  On this open the cache holds the weight spectra of
# the first session: the table shows them (W.en% 100.00) with nothing typed, none computed,
# and the log states the memory each heavy operation plans for.
rm -f "$TMPD/status"
$T kill-session -t rs
$T new-session -d -s rs -x 100 -y 30 "sh $TMPD/run.sh"
wait_for '^L0\.q +256x256 +dense +100\.0 +100\.00 ' 20 &&
	wait_for 'spectra: weight, 42 matrices: 0 computed, 42 from cache' 10 &&
	grep -Eq '^memory: [0-9.]+ [GM]iB available; peaks: spectra [0-9.]+ [KM]iB' "$TMPD/screen"
tap_check $? "a reopened model shows its cached weight spectra at once, and the memory plan"
$T send-keys -t rs ':'
$T send-keys -t rs -l 'quit'
$T send-keys -t rs Enter
n=0
while [ ! -s "$TMPD/status" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(cat "$TMPD/status" 2>/dev/null)" = 0 ]
tap_check $? "typing quit exits with status 0"

# Long commands are jobs whatever their length, plugin commands included (the command table's
# RS_CMD_JOB flag): a 12-word 'alloc bo' shows its progress and Esc cancels it within 0.5 s.
rm -f "$TMPD/status"
$T kill-session -t rs
cat >"$TMPD/run3.sh" <<EOF
cd "$RS_SRCDIR"
RANKSCOPE_PLUGIN_PATH="$(dirname "$RS_BIN")/plugins/.libs" "$BIN" $MODEL 2>"$TMPD/stderr3"
echo \$? >"$TMPD/status"
exec sleep 120
EOF
$T new-session -d -s rs -x 120 -y 40 "sh $TMPD/run3.sh"
wait_for '^L0\.q +256x256' 20
$T send-keys -t rs ':'
$T send-keys -t rs -l 'alloc bo --keep 0.7 --trials 40 --init 10 --chunks 16 --validation share/texts/kjv-eval.txt'
$T send-keys -t rs Enter
# live: trials reach the log while the status line still shows a progress bar (trials, or the
# factors of one)
wait_for 'trial +[0-9]+/40 ' 90 &&
	grep -Eq '^ [a-z ]+ .* [0-9]+/[0-9]+ +[0-9]+%.*\(Esc cancels\)' "$TMPD/screen"
tap_check $? "a 12-word 'alloc bo' runs as a job: trials show while its progress bar runs"
# the status line counts trials (issue 14, defect 9: it showed the sub-step, 'factors 36/36 100%')
wait_for '^ .*trial [0-9]+/40(, best [0-9.]+)? \([a-z ]+\) · .*\(Esc cancels\)' 60
tap_check $? "alloc bo's progress names the trial and the best so far, the sub-step beside it"
t0=$(now_ms)
$T send-keys -t rs Escape
wait_fast 'alloc bo: cancelled after [0-9]+ trials' 30
st=$?
ms=$(($(now_ms) - t0))
tap_diag "Esc to 'alloc bo: cancelled' on screen: $ms ms"
[ $st -eq 0 ] && [ $ms -le 500 ]
tap_check $? "Esc cancels 'alloc bo' within 0.5 s ($ms ms)"
$T send-keys -t rs -l 'ppl share/texts/kjv-eval.txt --chunks 4'
$T send-keys -t rs Enter
wait_for 'Final estimate: PPL = [0-9]+\.[0-9]+' 60
tap_check $? "after the cancel the session takes the next command (ppl runs)"

# A plugin's long command (lrq) is a job too: its progress line, a second long command refused.
if [ -f "$(dirname "$RS_BIN")/plugins/.libs/lrq.so" ]; then
	$T send-keys -t rs -l 'lrq --bits-per-param 4.3 --eval share/texts/kjv-eval.txt'
	$T send-keys -t rs Enter
	wait_for '^ (lrq|perplexity|forward) .*\(Esc cancels\)' 30
	tap_check $? "lrq runs as a job: the status line shows its progress"
	$T send-keys -t rs -l 'ppl share/texts/kjv-eval.txt --chunks 4'
	$T send-keys -t rs Enter
	wait_for 'busy: lrq is running; Esc cancels' 10
	tap_check $? "a second long command while lrq runs is refused as busy"
	$T send-keys -t rs Escape
	wait_for 'lrq: cancelled' 30
	tap_check $? "Esc cancels lrq"
else
	tap_diag "plugins/.libs/lrq.so not built: lrq in the workbench not checked"
fi
$T send-keys -t rs -l 'quit'
$T send-keys -t rs Enter
n=0
while [ ! -s "$TMPD/status" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(cat "$TMPD/status" 2>/dev/null)" = 0 ]
tap_check $? "then quit exits with status 0"
[ -s "$TMPD/stderr3" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr3")"

tap_done
