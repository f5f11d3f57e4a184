#!/bin/sh
# The config file $XDG_CONFIG_HOME/rankscope/config: its `key = value` lines set the defaults
# (the values `set` lists, rank-align for every model loaded after, alloc's validation text),
# the command line overrides them, and a bad line is reported with the file and line number
# while the other lines still apply.
. "$RS_SRCDIR/tests/tap.sh"

MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
export XDG_CONFIG_HOME="$TMPD/config" XDG_STATE_HOME="$TMPD/state"
CONF="$XDG_CONFIG_HOME/rankscope/config"
mkdir -p "$XDG_CONFIG_HOME/rankscope"

# setting NAME: the value `set` lists for NAME (second column).
setting() {
	awk -v n="$1" '$1 == n { print $2 }' "$TMPD/out"
}

"$RS_BIN" -c 'set' >"$TMPD/out" 2>"$TMPD/err"
[ "$(setting method)" = svd ] && [ "$(setting rank-align)" = 8 ] && [ "$(setting mouse)" = on ] &&
	[ ! -s "$TMPD/err" ]
tap_check $? "without a config file: the documented defaults (method svd, rank-align 8, mouse on)"

cat >"$CONF" <<EOC
# defaults for this machine
method = asvd
asvd-alpha = 0.25
alignment = 16
threads = 3
mouse = off
colours = off
EOC
"$RS_BIN" -c 'set' >"$TMPD/out" 2>"$TMPD/err"
[ "$(setting method)" = asvd ] && [ "$(setting asvd-alpha)" = 0.25 ] &&
	[ "$(setting rank-align)" = 16 ] && [ "$(setting threads)" = 3 ] &&
	[ "$(setting mouse)" = off ] && [ "$(setting colours)" = off ] && [ ! -s "$TMPD/err" ]
tap_check $? "each config value takes effect (set lists asvd, 0.25, 16, 3, off, off)"
"$RS_BIN" -c 'plan show' "$MODEL" >"$TMPD/out" 2>/dev/null &&
	grep -q 'rank alignment 16, method asvd' "$TMPD/out"
tap_check $? "the model given on the command line gets the config's alignment and method"
"$RS_BIN" -t 2 -c 'set threads' >"$TMPD/out" 2>&1 && grep -q '^threads 2$' "$TMPD/out"
tap_check $? "-t on the command line overrides the config's threads"

printf 'validation = %s\n' "$TMPD/held out.txt" >"$CONF"
"$RS_BIN" -c 'set validation' >"$TMPD/out" 2>&1 && grep -qF "validation $TMPD/held out.txt" "$TMPD/out"
tap_check $? "a value with a space is one value (the rest of the line)"
"$RS_BIN" -c 'alloc sensitivity --keep 0.5' "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && grep -qF "held out.txt" "$TMPD/err" && ! grep -q 'needs --validation' "$TMPD/err"
tap_check $? "alloc sensitivity without --validation reads the config's validation text"
XDG_CONFIG_HOME="$TMPD/none" "$RS_BIN" -c 'alloc sensitivity --keep 0.5' "$MODEL" >/dev/null \
	2>"$TMPD/err"
grep -q 'needs --validation FILE' "$TMPD/err"
tap_check $? "without the config it asks for --validation"

cat >"$CONF" <<EOC
# line 2 is misspelt, 3 has a bad value, 4 is no setting; 5 still applies
metod = svd
method = qr
alignment 16
method = feature
EOC
"$RS_BIN" -c 'set' >"$TMPD/out" 2>"$TMPD/err"
st=$?
tap_diag "$(cat "$TMPD/err")"
[ $st -eq 0 ] && grep -qF "rankscope: $CONF:2: unknown key 'metod'" "$TMPD/err"
tap_check $? "an unknown key is reported with file:line (2), the commands still run (status 0)"
grep -qF "rankscope: $CONF:3: set method: expected svd, feature, whiten or asvd, got 'qr'" "$TMPD/err"
tap_check $? "a value set refuses is reported with file:line (3) and what set expects"
grep -qF "rankscope: $CONF:4: expected 'key = value'" "$TMPD/err" && [ "$(wc -l <"$TMPD/err")" -eq 3 ]
tap_check $? "a line without '=' is reported (4); one line per problem, nothing else"
[ "$(setting method)" = feature ]
tap_check $? "the line after the bad ones applies (method feature)"

tap_done
