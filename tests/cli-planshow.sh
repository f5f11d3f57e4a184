#!/bin/sh
# 'plan show' as the workbench's table is sorted and filtered (s, S, /), headless: --sort KEY,
# --reverse, and a state (dense, factored, over) in place of the pattern.  The references are
# the unsorted, unfiltered 'plan show --all' rows put through sort(1) and awk.
. "$RS_SRCDIR/tests/tap.sh"
MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
export XDG_CACHE_HOME="$TMPD/cache"
SET="load $MODEL; spectra; rank L0.q 8; rank L1.k 16; rank L2.v 32; rank L3.o 248; rank L4.up 96"

# rows FILE: the matrix rows of a 'plan show' output (name rank keep params error), in order.
rows() {
	awk '$1 ~ /^L[0-9]+\.[a-z]+$/ && NF == 6 { print $1, $3, $4, $5, $6 }' "$1"
}

"$RS_BIN" -c "$SET; plan show --all" >"$TMPD/all" 2>&1
tap_check $? "plan show --all"
rows "$TMPD/all" >"$TMPD/all.rows"
[ "$(wc -l <"$TMPD/all.rows")" = 42 ]
tap_check $? "42 rows"

"$RS_BIN" -c "$SET; plan show --all --sort rank" >"$TMPD/o" 2>&1
awk '{ print NR, ($2 == "dense" ? 1e9 : $2), $0 }' "$TMPD/all.rows" | sort -k2,2n -k1,1n |
	cut -d' ' -f3- >"$TMPD/want"
rows "$TMPD/o" | cmp -s - "$TMPD/want"
tap_check $? "--sort rank: ascending ranks, dense last, ties in plan order"

"$RS_BIN" -c "$SET; plan show --all --sort error --reverse" >"$TMPD/o" 2>&1
awk '{ print NR, $5, $0 }' "$TMPD/all.rows" | sort -k2,2gr -k1,1n | cut -d' ' -f3- >"$TMPD/want"
rows "$TMPD/o" | cmp -s - "$TMPD/want"
tap_check $? "--sort error --reverse: the largest predicted error first"

"$RS_BIN" -c "$SET; plan show --all --sort params" >"$TMPD/o" 2>&1
awk '{ print NR, $4, $0 }' "$TMPD/all.rows" | sort -k2,2n -k1,1n | cut -d' ' -f3- >"$TMPD/want"
rows "$TMPD/o" | cmp -s - "$TMPD/want"
tap_check $? "--sort params"

"$RS_BIN" -c "$SET; plan show factored; plan show dense; plan show over" >"$TMPD/o" 2>&1
rows "$TMPD/o" | awk '$2 != "dense"' | head -5 >"$TMPD/got"
awk '$2 != "dense"' "$TMPD/all.rows" | cmp -s - "$TMPD/got"
tap_check $? "'plan show factored' lists the factored rows ($(awk '{ print $1 }' "$TMPD/got" | tr '\n' ' '))"
[ "$(rows "$TMPD/o" | awk '$2 == "dense"' | wc -l)" = 37 ]
tap_check $? "'plan show dense' lists the 37 dense rows"
rows "$TMPD/o" | tail -1 | grep -q '^L3\.o 248 193\.8 '
tap_check $? "'plan show over' lists L3.o (rank 248, past break-even)"

"$RS_BIN" -c "load $MODEL; plan show --sort size" >"$TMPD/o" 2>&1
[ $? -eq 2 ] && grep -q "plan show: --sort is name, rank, keep, params or error, not 'size'" "$TMPD/o"
tap_check $? "an unknown --sort key is a usage error (exit 2)"

tap_done
