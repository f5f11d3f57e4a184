#!/bin/sh
# The workbench's input side (issue 14): the key help scrolls and wraps at 80x24, a panel zooms
# to the full screen ('z'), completion lists come in columns and follow each command's grammar
# (subcommands, option values, matrix names where a pattern goes, files where a file goes), the
# mouse selects and scrolls until 'set mouse off'.
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
wb_env
export XDG_CONFIG_HOME="$TMPD/config"

# the pager '|' runs: keeps a copy of the file it was given
cat >"$TMPD/pager.sh" <<EOS
cp "\$1" "$TMPD/paged"
EOS
WB_ENV="PAGER='sh $TMPD/pager.sh'" wb_start 80 24
wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the workbench opens at 80x24"

# --- The key help at 80x24: its entries wrap (the reference: the key table's text as the man
# page lists it) and it scrolls to its last entry.
$T send-keys -t rs '?'
wait_for 'keys  \(' 5 && wait_for 'largest aligned rank below break-even\)' 5
tap_check $? "'?' at 80x24: the help for '-' wraps onto a second row instead of being cut"
! screen_has 'Ctrl-L +redraw the screen'
tap_check $? "the help's last entry is below the first screen"
$T send-keys -t rs End
wait_for 'Ctrl-L +redraw the screen' 5
tap_check $? "End in the help scrolls to its last entry (Ctrl-L)"
$T send-keys -t rs Home
wait_for 'Up, k +select the previous matrix' 5
tap_check $? "Home scrolls the help back to its first entry"
$T send-keys -t rs q
wait_for '^matrix +shape' 5 && ! screen_has 'keys  \('
tap_check $? "q closes the help (and does not quit)"

# --- Zoom: 'z' gives the focused panel the whole screen between the top and the status line.
$T send-keys -t rs Tab
sleep 0.3
$T send-keys -t rs z
wait_for '^─ log \(zoomed; z restores\)' 5 && sed -n 2p "$TMPD/screen" | grep -q '^─ log' &&
	! grep -q '^matrix +shape' "$TMPD/screen"
tap_check $? "z on the log: the log fills the screen from row 2"
$T send-keys -t rs z
wait_for '^matrix +shape' 5 && ! screen_has 'zoomed'
tap_check $? "z again restores the layout"
$T send-keys -t rs Tab Tab
sleep 0.3
$T send-keys -t rs z
wait_for '^L1\.q ' 5 && ! screen_has '^─ log'
tap_check $? "z on the table: 21 matrices (to L2.v) on the screen, no log"
$T send-keys -t rs z

# --- '|' opens the log in $PAGER: the 1870-character paragraph of 'help alloc' is one whole
# line there (the reference: the same command without a terminal).
(cd "$RS_SRCDIR" && "$BIN" -c 'help alloc') 2>&1 | sed -n 2p >"$TMPD/para"
type_cmd 'help alloc'
wait_for '--log FILE' 10
$T send-keys -t rs Escape
sleep 0.3
$T send-keys -t rs '|'
n=0
while [ ! -s "$TMPD/paged" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$TMPD/para" ] && grep -qxF "$(cat "$TMPD/para")" "$TMPD/paged" 2>/dev/null &&
	grep -q '^> help alloc$' "$TMPD/paged"
tap_check $? "'|' hands the whole log to \$PAGER ('help alloc' whole, one line per line)"
wait_for '^matrix +shape' 5
tap_check $? "the screen returns when the pager exits"

# complete TEXT: type TEXT on an empty command line, press Tab (the list goes to the log).
complete() {
	$T send-keys -t rs Escape
	sleep 0.3
	$T send-keys -t rs ':' C-u
	$T send-keys -t rs -l "$1"
	$T send-keys -t rs Tab
}

# --- Lists in columns, ordered down the columns (as ls): 'help ' lists every command.
complete 'help '
wait_for '^compare +info +' 5 && grep -A1 '^alloc ' "$TMPD/screen" | sed -n 2p | grep -q '^budget ' &&
	grep -q '^calibrate ' "$TMPD/screen"
tap_check $? "Tab after 'help ': the commands in columns (alloc, budget, calibrate start rows)"

# --- Each command's grammar.
complete 'plot '
wait_for '^alloc-trace +energy +heatmap +plan +spectrum *$' 5
tap_check $? "'plot ' Tab lists exactly its subcommands"
complete 'alloc '
wait_for '^bo +energy +greedy +history +sensitivity +uniform *$' 5
tap_check $? "'alloc ' Tab lists exactly its allocators and history"
complete 'plan '
wait_for '^diff +load +reset +save +show *$' 5
tap_check $? "'plan ' Tab lists exactly its subcommands"
complete 'export '
wait_for '^rankscope> export ?$' 5 && wait_for '^dense +factored +gguf *$' 5
tap_check $? "'export ' Tab lists dense, factored and gguf"
complete 'export dense out --dtype '
wait_for '^bf16 +f16 +f32 +q8_0 *$' 5
tap_check $? "'export dense out --dtype ' Tab lists the dtypes"
complete 'spectra --kind '
wait_for '^feature +weight *$' 5
tap_check $? "'spectra --kind ' Tab lists the kinds"
complete 'set method '
wait_for '^asvd +feature +svd +whiten *$' 5
tap_check $? "'set method ' Tab lists the methods"
complete 'alloc bo --obj'
wait_for '^rankscope> alloc bo --objective ?$' 5
tap_check $? "an option name completes ('--obj' to '--objective ')"
complete 'rank L5.dow'
wait_for '^rankscope> rank L5\.down ?$' 5
tap_check $? "a matrix name completes where a pattern goes"
complete 'rank L5.down d'
wait_for '^rankscope> rank L5\.down dense ?$' 5
tap_check $? "after the pattern 'dense' completes (no file)"
complete 'ppl share/texts/kjv-ev'
wait_for '^rankscope> ppl share/texts/kjv-eval\.txt' 5
tap_check $? "a file completes where a file goes"
complete 'plan load share/te'
wait_for '^rankscope> plan load share/texts/' 5
tap_check $? "a file completes after 'plan load'"

# --- Mouse: on by default; a click selects a row, the wheel moves the selection in the table
# and scrolls the log; 'set mouse off' stops it.  Reports as xterm sends them (SGR 1006).
$T send-keys -t rs C-u Escape
sleep 0.3
[ "$($T display -p -t rs '#{mouse_sgr_flag}#{mouse_standard_flag}')" = 11 ]
tap_check $? "the workbench asks the terminal for mouse reports (SGR, button events)"
# mouse B X Y: the SGR reports of button code B at column X, row Y (1-based), as a terminal
# sends them: a press, and for a button (not the wheel, 64 and 65) its release.
mouse() {
	if [ "$1" -lt 64 ]; then
		# shellcheck disable=SC2046
		$T send-keys -t rs -H $(printf '\033[<%d;%d;%dM\033[<%d;%d;%dm' "$1" "$2" "$3" \
			"$1" "$2" "$3" | od -An -tx1)
	else
		# shellcheck disable=SC2046
		$T send-keys -t rs -H $(printf '\033[<%d;%d;%dM' "$1" "$2" "$3" | od -An -tx1)
	fi
}
mouse 0 3 6
wait_for '^L0\.o 256x256 +dense \(max rank' 5
tap_check $? "a click on the table's 4th row (screen row 6) selects L0.o"
mouse 65 3 6
wait_for '^L0\.down 256x768 +dense \(max rank' 5
tap_check $? "a wheel step down in the table moves the selection 3 rows (to L0.down)"
mouse 64 3 20
wait_for '^─ log \(scrolled' 5
tap_check $? "a wheel step up over the log scrolls it back"
mouse 0 3 20
mouse 0 3 3
wait_for '^L0\.q 256x256 +dense \(max rank' 5
tap_check $? "a click in the log, then on the table's first row, selects L0.q"
type_cmd 'set mouse off'
wait_for '^mouse off' 5 && [ "$($T display -p -t rs '#{mouse_sgr_flag}#{mouse_standard_flag}')" = 00 ]
tap_check $? "'set mouse off': the terminal is told to stop the reports"
$T send-keys -t rs Escape
sleep 0.3
mouse 0 3 6
$T send-keys -t rs j
wait_for '^L0\.k 128x256 +dense \(max rank' 5
tap_check $? "with the mouse off a click selects nothing (j after it moves from L0.q to L0.k)"

$T send-keys -t rs C-u Escape
sleep 0.3
$T send-keys -t rs q
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "q quits an unedited session at once, status 0"
[ -s "$TMPD/stderr" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr")"

tap_done
