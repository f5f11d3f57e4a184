#!/bin/sh
# The workbench's views (issue 14): sort by any column and reverse (s, S), filter by pattern or
# state (/, Esc clears), the layer grid (L) with the edit keys acting on the selected cell,
# metric columns chosen in a menu (c), the status line (method, budget distance, plan file with
# an unsaved mark, undo depth) and the diff columns (D).  References come from the headless
# commands (plan show, metrics, budget arithmetic), not from the screen's own earlier output.
. "$RS_SRCDIR/tests/tap.sh"

. "$RS_SRCDIR/tests/tmux.sh"
wb_env

# names: the matrix names in the table's rows, top to bottom (the 120x40 layout: screen rows
# 3-29, the left panel).
names() {
	$T capture-pane -p -t rs | sed -n 3,29p | cut -c1-66 | awk '$1 ~ /^L[0-9]+\./ { print $1 }'
}

# names_are LIST SECONDS: poll until the table's rows are exactly LIST (space-separated).
names_are() {
	k=0
	while [ $k -lt $(($2 * 10)) ]; do
		[ "$(names | tr '\n' ' ' | sed 's/ $//')" = "$1" ] && return 0
		sleep 0.1
		k=$((k + 1))
	done
	tap_diag "rows: $(names | tr '\n' ' ')"
	tap_diag "want: $1"
	return 1
}

# status: the status line (second line from the bottom).
status() {
	$T capture-pane -p -t rs | tail -2 | head -1
}

# status_has REGEX SECONDS: poll the status line until it matches.
status_has() {
	k=0
	while [ $k -lt $(($2 * 10)) ]; do
		status | grep -Eq -- "$1" && return 0
		sleep 0.1
		k=$((k + 1))
	done
	tap_diag "timed out waiting for /$1/ on the status line: $(status)"
	return 1
}

# keys KEY...: keys to the table (which has the focus: back leaves the command line).
keys() {
	$T send-keys -t rs "$@"
}

# esc: Esc alone (sent with the next key it would make an Alt- key).
esc() {
	$T send-keys -t rs Escape
	sleep 0.3
}

# back: from the command line to the table, once the command's job is over (Esc would
# cancel it) and its output has been waited for.
back() {
	$T send-keys -t rs Escape
	sleep 0.3
}

wb_start 120 40
wait_for '^L0\.q +256x256 +dense' 20
tap_check $? "the workbench opens"

type_cmd 'spectra; rank L0.q 8; rank L1.k 16; rank L2.v 32'
wait_for 'L2\.v: rank 32' 30
tap_check $? "spectra and three ranks set"
back

# --- Sort: 's' steps through the columns (shape, then rank), 'S' reverses.  The reference
# order: 'plan show --all' sorted by its rank column (dense last), ties in plan order.
(cd "$RS_SRCDIR" && "$BIN" -c "load $MODEL; rank L0.q 8; rank L1.k 16; rank L2.v 32; plan show --all") \
	>"$TMPD/show" 2>&1
awk '$1 ~ /^L[0-9]+\.[a-z]+$/ { r = $3 == "dense" ? 1e9 : $3; print NR, r, $1 }' "$TMPD/show" |
	sort -k2,2n -k1,1n | awk '{ print $3 }' >"$TMPD/by-rank"
want=$(head -27 "$TMPD/by-rank" | tr '\n' ' ' | sed 's/ $//')
keys s s
wait_for 'matrix +shape +rank▲' 5 && names_are "$want" 5
tap_check $? "s s sorts by rank (header rank▲): rows as 'plan show' sorted by rank"
# reversed: descending ranks, ties still in plan order; End shows the smallest ranks last
awk '$1 ~ /^L[0-9]+\.[a-z]+$/ { r = $3 == "dense" ? 1e9 : $3; print NR, r, $1 }' "$TMPD/show" |
	sort -k2,2nr -k1,1n | awk '{ print $3 }' >"$TMPD/by-rank-r"
keys S
wait_for 'rank▼' 5 && names_are "$(tail -27 "$TMPD/by-rank-r" | tr '\n' ' ' | sed 's/ $//')" 5 &&
	wait_for 'L0\.q 256x256  rank 8 of 256' 5
tap_check $? "S reverses (rank▼); the selection, L0.q, stays selected: now the last row"
keys Home
names_are "$(head -27 "$TMPD/by-rank-r" | tr '\n' ' ' | sed 's/ $//')" 5 &&
	wait_for 'L0\.k 128x256  dense' 5
tap_check $? "Home: the dense rows first in plan order, L0.k selected"
keys End
wait_for 'L0\.q 256x256  rank 8 of 256' 5
tap_check $? "End selects the last row of the sorted table: L0.q (rank 8)"
keys S
status_has 'sort rank asc' 5
tap_check $? "the status line names the sort column"
keys s s s s s s
wait_for '^matrix +shape +rank +keep%' 5 && keys Home &&
	names_are "$(awk '$1 ~ /^L[0-9]+\.[a-z]+$/ { print $1 }' "$TMPD/show" | head -27 | tr '\n' ' ' | sed 's/ $//')" 5
tap_check $? "after the last column s goes back to plan order"

# --- Filter: '/' takes a state or a pattern (the matcher of 'rank'); Esc clears it.
keys /
$T send-keys -t rs -l 'factored'
$T send-keys -t rs Enter
names_are 'L0.q L1.k L2.v' 5 && status_has 'filter factored 3/42' 5
tap_check $? "/factored shows only the factored matrices (status: filter factored 3/42)"
esc
names_are "$(awk '$1 ~ /^L[0-9]+\.[a-z]+$/ { print $1 }' "$TMPD/show" | head -27 | tr '\n' ' ' | sed 's/ $//')" 5 &&
	! status | grep -q 'filter'
tap_check $? "Esc clears the filter: every row again"
"$BIN" -c "load $RS_SRCDIR/$MODEL; plan show 'L1-2.*'" 2>&1 | awk '$1 ~ /^L[0-9]+\.[a-z]+$/ { print $1 }' \
	>"$TMPD/pat"
keys /
$T send-keys -t rs -l 'L1-2.*'
$T send-keys -t rs Enter
names_are "$(tr '\n' ' ' <"$TMPD/pat" | sed 's/ $//')" 5
tap_check $? "/L1-2.* shows the matrices 'plan show L1-2.*' lists ($(wc -l <"$TMPD/pat") rows)"
# the selection moves among the rows shown; an edit applies to the selected matrix
keys Home Down Down Down Down Down Down Down
wait_for 'L2\.q 256x256  dense' 5 && keys -
wait_for '> rank L2\.q -8' 5 && wait_for '^L2\.q +256x256 +120 ' 5
tap_check $? "in the filtered table Down x7 reaches L2.q and '-' edits it (rank L2.q -8)"
esc

# --- The layer grid: layers x types, arrows/hjkl move, the edit keys act on the cell.
keys L
wait_for '^keep% +q +k +v +o +gate +up +down' 5 &&
	grep -Eq '^L0 +6\.2 +dense +dense' "$TMPD/screen" && grep -Eq '^L2 +93\.8 +dense +37\.5 ' "$TMPD/screen"
tap_check $? "L shows the grid: keep% per layer and type (L0.q 6.2, L2.q 93.8, L2.v 37.5)"
keys Home
keys Down Right l
wait_for 'L1\.v 128x256  dense' 5
tap_check $? "in the grid Down, Right and l reach L1.v"
keys j h
wait_for 'L2\.k 128x256  dense' 5
tap_check $? "j and h reach L2.k"
keys l -
# rank 24 of 128x256 keeps 24 * 384 / 32768 = 28.1 %
wait_for '> rank L2\.v -8' 5 && wait_for '^L2 +93\.8 +dense +28\.1 ' 5
tap_check $? "'-' on the grid's L2.v cell runs 'rank L2.v -8': the cell shows 28.1"
keys c
wait_for '^pr\.err +q +k' 5
tap_check $? "c in the grid shows the predicted error"
keys c
wait_for '^alpha +q +k' 5
tap_check $? "c again shows alpha"
keys L
wait_for '^matrix +shape +rank' 5
tap_check $? "L goes back to the table"

# --- Metric columns: 'c' opens the menu; Space toggles the entry under the cursor.
keys c
wait_for 'columns: Up/Down move, Space toggles' 5
tap_check $? "c opens the column menu"
$T send-keys -t rs Down Down Down Down Down Space Down Space Down Space Down Space c
wait_for '^matrix +shape +rank +keep% +W\.en% +F\.en% +pr\.err +params +alpha +stable +r90 +r99' 5
tap_check $? "alpha, stable, r90 and r99 chosen in the menu become columns"
# the reference: the metrics command's weight-spectrum row of L0.up
(cd "$RS_SRCDIR" && "$BIN" -c "load $MODEL; spectra; metrics L0.up --kind weight") 2>&1 |
	awk '$1 == "L0.up" { print $6, $8, $10, $12 }' >"$TMPD/met"
read -r m_stable m_r90 m_r99 m_alpha <"$TMPD/met"
keys /
$T send-keys -t rs -l 'L0.up'
$T send-keys -t rs Enter
wait_for '^L0\.up ' 5
grep -E '^L0\.up ' "$TMPD/screen" | head -1 >"$TMPD/uprow"
esc
awk -v s="$m_stable" -v r9="$m_r90" -v r99="$m_r99" -v a="$m_alpha" '{
	d = $9 - a; if (d < 0) d = -d; e = $10 - s; if (e < 0) e = -e
	exit !(d <= 0.0051 && e <= 0.051 && $11 == r9 && $12 == r99) }' "$TMPD/uprow"
tap_check $? "L0.up's alpha, stable, r90, r99 match 'metrics' ($m_alpha $m_stable $m_r90 $m_r99)"
tap_diag "row: $(cat "$TMPD/uprow")"
keys c
$T send-keys -t rs Down Space c
wait_for '^matrix +shape +rank +keep% +F\.en% +pr\.err' 5
tap_check $? "unticking W.en% in the menu removes the column"

# --- The status line: method, budget distance, plan file and unsaved mark, undo depth.
status_has '^ svd \| no budget \| plan \(new\) \[\+\] \| undo 5' 5
tap_check $? "the status line: svd, no budget, an unsaved new plan, 5 undo steps"
type_cmd 'budget --keep 0.7'
wait_for 'budget:' 10
back
"$BIN" -c "load $RS_SRCDIR/$MODEL; rank L0.q 8; rank L1.k 16; rank L2.v 24; rank L2.q 120; plan show" 2>&1 |
	awk '/^decoder linears:/ { pts = 100 * ($3 - 0.7 * $5) / $5 } END { printf "%.1f\n", pts }' \
	>"$TMPD/pts"
status_has "budget 70\\.0%: $(cat "$TMPD/pts") pts over" 5
tap_check $? "after 'budget --keep 0.7' the status line says $(cat "$TMPD/pts") pts over (from plan show)"
type_cmd 'rank * --keep 0.5'
wait_for 'rank: 42 matrices set' 10
back
"$BIN" -c "load $RS_SRCDIR/$MODEL; rank * --keep 0.5; plan show" 2>&1 |
	awk '/^decoder linears:/ { pts = 100 * (0.7 * $5 - $3) / $5 } END { printf "%.1f\n", pts }' \
	>"$TMPD/pts"
status_has "budget 70\\.0%: $(cat "$TMPD/pts") pts under" 5
tap_check $? "after 'rank * --keep 0.5' it is $(cat "$TMPD/pts") pts under"
type_cmd "plan save $TMPD/p.json"
wait_for 'plan: saved' 10
back
status_has '\| plan p\.json \| undo 6 ' 5
tap_check $? "after 'plan save' the status line names p.json without the unsaved mark"
type_cmd 'rank L3.q 8'
wait_for 'L3\.q: rank 8' 10
back
status_has '\| plan p\.json \[\+\] \| undo 7 ' 5
tap_check $? "an edit marks it unsaved [+] and the undo depth grows"
$T resize-window -t rs -x 80 -y 24
status_has '^ svd \| budget 70\.0%: [0-9.]+ pts under \([-+][0-9.]+[KM]?\) \| plan p\.json \[\+\]' 5
tap_check $? "at 80x24 the status line still shows the budget distance and the unsaved plan"
$T resize-window -t rs -x 120 -y 40

# --- Diff columns against the plan file, then the last allocation.
keys D
wait_for 'r99 +d\.rank +d\.err +d\.params' 5 && status_has 'diff vs p\.json' 5
tap_check $? "D adds d.rank, d.err, d.params against p.json"
# L3.q: 256 (p.json: keep 0.5 -> rank 64) -> 8: 8 * 512 - 64 * 512 parameters
"$BIN" -c "load $RS_SRCDIR/$MODEL; plan load $TMPD/p.json; plan show L3.q" 2>&1 |
	awk '$1 == "L3.q" { print $3 }' >"$TMPD/r0"
r0=$(cat "$TMPD/r0")
dp=$(( (8 - r0) * 512 ))
keys /
$T send-keys -t rs -l 'L3.q'
$T send-keys -t rs Enter
wait_for "^L3\\.q .* +$((8 - r0)) +[-+]0\\.[0-9]{4} +-$(awk -v d="$dp" 'BEGIN { d = -d; if (d >= 10000) printf "%.1fK", d / 1000; else printf "%d", d }')\$" 5
tap_check $? "L3.q's diff: d.rank $((8 - r0)) (p.json has rank $r0), d.params $dp"
esc
keys /
$T send-keys -t rs -l 'L0.q'
$T send-keys -t rs Enter
wait_for '^L0\.q .* += +0 +0$' 5
tap_check $? "an unchanged matrix shows = and zeros"
esc
type_cmd "plan diff $TMPD/p.json"
wait_for '^\* L3\.q +8 +'"$r0"' +4096 +'$((r0 * 512))' ' 10 && wait_for '^1 of 42 matrices differ' 5
tap_check $? "'plan diff FILE' shows both plans side by side in the log"
type_cmd 'alloc uniform --keep 0.4'
wait_for 'alloc uniform: done' 30
back
type_cmd 'rank L5.down -8'
wait_for '> rank L5\.down -8' 5
back
keys D
status_has 'diff vs last alloc' 5
keys /
$T send-keys -t rs -l 'L5.down'
$T send-keys -t rs Enter
wait_for '^L5\.down .* +-8 +[-+]0\.[0-9]{4} +-8192$' 5
tap_check $? "D again compares with the last allocation: L5.down -8 (-8192 parameters)"
esc
keys D
wait_for '^matrix +shape +rank +keep% +F\.en% +pr\.err +params +alpha +stable +r90 +r99( |$)' 5 &&
	! grep -q 'd\.rank' "$TMPD/screen" && ! status | grep -q 'diff vs'
tap_check $? "D a third time turns the diff off"

type_cmd 'quit'
wb_exited && [ "$(cat "$TMPD/status")" = 0 ]
tap_check $? "quit exits with status 0"
[ -s "$TMPD/stderr" ] && tap_diag "stderr: $(head -c 2000 "$TMPD/stderr")"

tap_done
