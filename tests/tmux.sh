# tmux.sh: helpers for the workbench tests (sourced after tap.sh).  rankscope runs in a tmux
# server on a private socket; keys go in with send-keys, the screen comes back with
# capture-pane.  Polls with timeouts, no fixed waits for results.
command -v tmux >/dev/null 2>&1 || tap_skip_all "tmux not installed"
SOCK="rs-test-$$"
T="tmux -L $SOCK -f /dev/null"
trap '$T kill-server >/dev/null 2>&1; sleep 0.2; rm -rf "$TMPD"' EXIT

# wb_env: the bundled model ($MODEL, all points skipped without it), the program ($BIN:
# RS_UI_BIN, e.g. an ASan build, else RS_BIN) and a private environment: state and cache under
# $TMPD, UTF-8, one BLAS thread, colours on.
wb_env() {
	MODEL=share/models/kjv-llama
	[ -f "$RS_SRCDIR/$MODEL/config.json" ] || tap_skip_all "bundled model missing"
	BIN=${RS_UI_BIN:-$RS_BIN}
	export XDG_STATE_HOME="$TMPD/state" XDG_CACHE_HOME="$TMPD/cache" RS_DATADIR="$RS_SRCDIR/share"
	export LANG=C.UTF-8 LC_ALL=C.UTF-8 OPENBLAS_NUM_THREADS=1
	unset NO_COLOR
}

# wait_for PATTERN SECONDS: poll the screen of session rs until an extended regexp matches;
# 0 if it did, else the screen goes to the log.
wait_for() {
	n=0
	lim=$(($2 * 10))
	while [ $n -lt "$lim" ]; do
		$T capture-pane -p -t rs >"$TMPD/screen" 2>/dev/null
		grep -Eq -- "$1" "$TMPD/screen" && return 0
		sleep 0.1
		n=$((n + 1))
	done
	tap_diag "timed out waiting for /$1/; the screen:"
	sed 's/^/#   /' "$TMPD/screen"
	return 1
}

# screen_has REGEX: the screen of session rs matches now.
screen_has() {
	$T capture-pane -p -t rs >"$TMPD/screen" 2>/dev/null && grep -Eq -- "$1" "$TMPD/screen"
}

# type_cmd CMD: enter a command at the workbench's command line (Esc leaves the command line if
# it is open, ':' opens it).
type_cmd() {
	$T send-keys -t rs Escape
	sleep 0.3
	$T send-keys -t rs ':'
	$T send-keys -t rs -l "$1"
	$T send-keys -t rs Enter
}

# wb_start W H [ARGS]: (re)start the workbench ($BIN on $MODEL, from the source tree, under
# TERM=xterm-256color, after the assignments in WB_ENV) in session rs at W x H, ARGS before the
# model; a spare session keeps the server up.  Its exit status goes to $TMPD/status, its
# standard error to $TMPD/stderr.
wb_start() {
	wb_w=$1 wb_h=$2
	shift 2
	rm -f "$TMPD/status"
	cat >"$TMPD/run.sh" <<EOS
cd "$RS_SRCDIR"
${WB_ENV:-} TERM=xterm-256color "$BIN" $* $MODEL 2>"$TMPD/stderr"
echo \$? >"$TMPD/status"
exec sleep 120
EOS
	$T has-session -t keep 2>/dev/null || $T new-session -d -s keep "sleep 600"
	$T kill-session -t rs >/dev/null 2>&1
	$T new-session -d -s rs -x "$wb_w" -y "$wb_h" "sh $TMPD/run.sh"
}

# wb_exited: the workbench ended (its status written) within 10 s.
wb_exited() {
	n=0
	while [ ! -s "$TMPD/status" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	[ -s "$TMPD/status" ]
}
