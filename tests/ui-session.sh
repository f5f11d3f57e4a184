#!/bin/sh
# Quitting keeps the work (issue 14, defect 10): 'q' with an edited plan that no plan file holds
# asks first; the plan is kept per model under $XDG_STATE_HOME/rankscope/plans and restored when
# the model is opened again, with a log line; --fresh opens without it.
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
wb_env
export XDG_CONFIG_HOME="$TMPD/config"

wb_start 120 50
wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the workbench opens"
type_cmd 'rank L0.q 64'
type_cmd 'rank *.down --keep 0.5'
wait_for 'rank: 6 matrices set' 10
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs q
wait_for 'unsaved edits: quit\? y/n' 5
tap_check $? "q with an edited plan asks before quitting"
$T send-keys -t rs n
wait_for 'quit: not quitting' 5 && ! wb_exited
tap_check $? "n: the workbench stays"
$T send-keys -t rs q
wait_for 'unsaved edits: quit\? y/n' 5
$T send-keys -t rs y
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "q, then y: the workbench quits with status 0"
ls "$TMPD/state/rankscope/plans/"*.json >/dev/null 2>&1
tap_check $? "the plan is kept under \$XDG_STATE_HOME/rankscope/plans"

wb_start 120 50
wait_for 'session: restored the last session.s plan \(7 of 42 factored' 20
tap_check $? "reopening says the last session's plan is restored (7 of 42 factored)"
wait_for '^L0\.q +256x256 +64 ' 5 && wait_for '^L0\.down +256x768 +96 ' 5
tap_check $? "the restored plan has L0.q at 64 and L0.down at 96 (--keep 0.5 of 256x768)"
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs q
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "q on the restored plan, not edited since, quits without asking"

wb_start 120 50 --fresh
wait_for '^L0\.q +256x256 +dense' 20 && sleep 1 && ! screen_has 'restored' &&
	screen_has '^L0\.down +256x768 +dense'
tap_check $? "--fresh opens with every matrix dense and says nothing is restored"
type_cmd 'rank L1.q 32'
type_cmd "plan save $TMPD/p.json"
wait_for 'plan: saved 1 of 42' 10
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs q
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "q right after 'plan save' quits without asking"

wb_start 120 50
wait_for 'session: restored the last session.s plan \(1 of 42 factored' 20 &&
	wait_for '^L1\.q +256x256 +32 ' 5
tap_check $? "the plan of the --fresh session is the one kept next (L1.q at 32)"
type_cmd 'undo'
wait_for '^L1\.q +256x256 +dense' 5
tap_check $? "undo drops the restored plan"
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs q
wait_for 'unsaved edits: quit\? y/n' 5
$T send-keys -t rs q
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "q twice quits without answering y"
[ -s "$TMPD/stderr" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr")"

tap_done
