#!/bin/sh
# Hostile model files (tests/hostile/, listed in its MANIFEST and FOUND): `load` must refuse each
# with exit status 1 and exactly one line on stderr that names the file and matches the
# expected problem, within a second, under a 2 GiB address-space limit.
. "$RS_SRCDIR/tests/tap.sh"

H="$RS_SRCDIR/tests/hostile"
[ -f "$H/MANIFEST" ] || tap_skip_all "tests/hostile/MANIFEST missing"

# now_ms: wall-clock milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

grep -hv '^#' "$H/MANIFEST" "$H/FOUND" 2>/dev/null >"$TMPD/cases"
while IFS='	' read -r name args regex; do
	[ -n "$name" ] || continue
	path="$H/$name"
	args=$(printf '%s' "$args" | sed "s|@|'$path'|")
	t0=$(now_ms)
	(ulimit -v 2097152; exec timeout 10 "$RS_BIN" -c "load $args") >"$TMPD/out" 2>"$TMPD/err"
	rc=$?
	ms=$(($(now_ms) - t0))
	lines=$(wc -l <"$TMPD/err")
	why=""
	[ "$rc" -eq 1 ] || why="$why exit status $rc;"
	[ "$lines" -eq 1 ] || why="$why $lines lines on stderr;"
	grep -qF "$name" "$TMPD/err" || why="$why the message does not name the file;"
	grep -qiE "$regex" "$TMPD/err" || why="$why the message does not match /$regex/;"
	[ "$ms" -le 1000 ] || why="$why took $ms ms;"
	[ -z "$why" ]
	tap_check $? "load $name is refused: $(sed "s|$H/||" "$TMPD/err" | head -n 1)"
	[ -z "$why" ] || tap_diag "$why" "$(cat "$TMPD/err")"
done <"$TMPD/cases"

# The corpus is the size the issue asks for.
[ "$(wc -l <"$TMPD/cases")" -ge 40 ]
tap_check $? "at least 40 hostile files ($(wc -l <"$TMPD/cases"))"

# The limit itself refuses nothing: a real model loads under it.
if [ -d "$RS_SRCDIR/share/models/kjv-llama" ]; then
	(ulimit -v 2097152; exec "$RS_BIN" -c "load '$RS_SRCDIR/share/models/kjv-llama'") \
	    >"$TMPD/out" 2>"$TMPD/err"
	tap_check $? "a real model loads under the same limit"
fi
tap_done
