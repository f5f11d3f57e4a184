#!/bin/sh
# bench/open.sh: how fast the workbench opens a model (P7), in a real terminal.  Run from a build
# directory:
#
#   sh SRCDIR/bench/open.sh MODEL [touch|cold]
#
# tmux (private socket, 120x40) starts `rankscope MODEL` under /usr/bin/time; the screen is
# polled as fast as capture-pane goes.  Prints, in seconds from the start: the table drawn
# (the row of L0.q), and the cached weight spectra shown (L0.q's W.en% column filled: the
# open's `spectra --cached` lookup), then the lookup's summary line and the peak RSS.  With
# `touch`, the model's files are touched first: the quick keys no longer match, so no spectrum
# is trusted (the row keeps '-', the log says how many are not in the cache) until `spectra`
# hashes the files in full.  With `cold`, the files' pages are dropped from the page cache
# first, so the quick keys' sampled blocks are read from the disk.  Uses the user's cache (XDG_CACHE_HOME), which should hold the
# model's spectra from an earlier `spectra` run.
set -eu
[ $# -ge 1 ] || { echo "usage: sh bench/open.sh MODEL [touch|cold]" >&2; exit 2; }
M=$1
BIN=${RS_BIN:-$(pwd)/rankscope}
command -v tmux >/dev/null || { echo "bench/open.sh: tmux is not installed" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-open.XXXXXX")
T="tmux -L rs-open-$$ -f /dev/null"
trap '$T kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
# the model's weight files
if [ -d "$M" ]; then
	files=$(find "$M" -maxdepth 1 -type f -name '*.safetensors')
else
	files=$M
fi
case ${2:-} in
touch) touch $files ;;
# drop the files' pages from the page cache (GNU dd): the sampled blocks come from the disk
cold) for f in $files; do dd if="$f" iflag=nocache count=0 status=none; done ;;
esac

now_ms() { date +%s%3N; }

cat >"$tmp/run.sh" <<EOF
/usr/bin/time -f '%M' -o "$tmp/rss" "$BIN" "$M" 2>"$tmp/err"
echo done >"$tmp/status"
exec sleep 60
EOF
t0=$(now_ms)
$T new-session -d -s rs -x 120 -y 40 "sh $tmp/run.sh"
table="" shown=""
while :; do
	$T capture-pane -p -t rs >"$tmp/screen" 2>/dev/null || true
	t=$(($(now_ms) - t0))
	if [ -z "$table" ] && grep -Eq '^L0\.q +[0-9]+x[0-9]+ ' "$tmp/screen"; then
		table=$t
	fi
	if [ -n "$table" ] && grep -Eq '^spectra: weight, [0-9]+ matrices' "$tmp/screen"; then
		grep -Eq '^L0\.q +[0-9]+x[0-9]+ +[a-z0-9]+ +[0-9.]+ +[0-9]+\.[0-9]+ ' "$tmp/screen" &&
			shown=$t
		break
	fi
	[ "$t" -lt 120000 ] || { echo "bench/open.sh: no table after 120 s" >&2; cat "$tmp/screen" >&2; exit 1; }
done
summary=$(grep -E '^spectra: ' "$tmp/screen" | cut -c1-118 | tr '\n' ' ')
$T send-keys -t rs q
n=0
while [ ! -s "$tmp/status" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
rss=$(($(cat "$tmp/rss" 2>/dev/null || echo 0) / 1024))
awk -v m="$M" -v a="$table" -v b="$shown" -v r="$rss" -v s="$summary" -v t="${2:-}" 'BEGIN {
	printf "open %s%s: table drawn %.2f s; cached weight spectra shown %s; peak RSS %d MiB\n",
	    m, t == "" ? "" : " (" t ")", a / 1000,
	    b == "" ? "no (none trusted)" : sprintf("%.2f s", b / 1000), r
	printf "  %s\n", s
}'
