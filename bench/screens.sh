#!/bin/sh
# bench/screens.sh: the README's workbench screens, captured from the real program in tmux at
# 120x40 and 80x24 on the bundled kjv-llama after a short session (method feature, calibrate,
# weight and feature spectra, a budget, an allocation, a hand edit, ppl).  Writes docs/screen-120x40.txt and
# docs/screen-80x24.txt and replaces the README's blocks between <!-- screen-WxH:begin --> and
# <!-- screen-WxH:end -->.  Run from the build directory:  sh SRCDIR/bench/screens.sh
# Environment: RS_BIN (default ./rankscope).  Needs tmux.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "${RS_BIN:-./rankscope}")" && pwd)/$(basename "${RS_BIN:-./rankscope}")
command -v tmux >/dev/null 2>&1 || { echo "bench/screens.sh: tmux is not installed" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench/screens.sh: no $BIN (build first)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-screens.XXXXXX")
SOCK="rs-screens-$$"
T="tmux -L $SOCK -f /dev/null"
trap '$T kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
M=$SRC/share/models/kjv-llama
CAL=$SRC/share/texts/kjv-calib.txt
EVAL=$SRC/share/texts/kjv-eval.txt

# wait_for REGEX SECONDS: poll the screen until it matches
wait_for() {
	n=0
	while [ $n -lt $(($2 * 10)) ]; do
		$T capture-pane -p -t rs >"$tmp/screen" 2>/dev/null
		grep -Eq -- "$1" "$tmp/screen" && return 0
		sleep 0.1
		n=$((n + 1))
	done
	echo "bench/screens.sh: timed out waiting for /$1/; the screen:" >&2
	cat "$tmp/screen" >&2
	exit 1
}
type_cmd() {
	$T send-keys -t rs Escape
	sleep 0.3
	$T send-keys -t rs ':'
	$T send-keys -t rs -l "$1"
	$T send-keys -t rs Enter
}

# shot W H: one session at W x H, captured into docs/screen-WxH.txt
shot() {
	out=$SRC/docs/screen-$1x$2.txt
	$T new-session -d -s rs -x "$1" -y "$2" \
	    "env XDG_CACHE_HOME='$tmp/cache' XDG_STATE_HOME='$tmp/state' XDG_CONFIG_HOME='$tmp/config' TERM=xterm-256color '$BIN' --fresh '$M'"
	wait_for 'L0\.q' 30
	type_cmd "set method feature"
	type_cmd "calibrate '$CAL' --ctx 256"
	wait_for 'calibrate: .*layers' 120
	type_cmd "spectra --kind weight"
	wait_for 'spectra: weight, [0-9]+ matrices' 120
	type_cmd "spectra --kind feature"
	wait_for 'spectra: centred, [0-9]+ matrices' 120
	type_cmd "budget --keep 0.7"
	type_cmd "alloc energy"
	wait_for 'alloc energy: done' 60
	type_cmd "ppl '$EVAL' --ctx 256 --chunks 20"
	wait_for 'Final estimate' 120
	$T send-keys -t rs Escape
	sleep 0.3
	$T send-keys -t rs j j j '-'
	wait_for 'L0\.o: rank' 10
	$T capture-pane -p -t rs >"$out.part"
	$T kill-session -t rs
	# trailing blanks are tmux's padding, not the screen's content
	sed 's/[[:space:]]*$//' "$out.part" >"$out" && rm -f "$out.part"
	echo "bench/screens.sh: wrote $out"
	if grep -q "<!-- screen-$1x$2:begin -->" "$SRC/README.md"; then
		awk -v b="<!-- screen-$1x$2:begin -->" -v e="<!-- screen-$1x$2:end -->" -v f="$out" '
			$0 == b { print; print "```"; while ((getline l < f) > 0) print l; print "```"; skip = 1; next }
			$0 == e { skip = 0 }
			!skip' "$SRC/README.md" >"$tmp/README.md" && cat "$tmp/README.md" >"$SRC/README.md"
		echo "bench/screens.sh: README block screen-$1x$2 replaced"
	fi
}
shot 120 40
shot 80 24
