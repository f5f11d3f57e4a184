#!/bin/sh
# bench/calibrate.sh: time of `calibrate` (forward passes plus the covariance accumulation of
# every layer's four inputs) beside a plain forward pass over the same tokens (`ppl`, chunked
# protocol, the same windows), as a ratio.  Run from the build directory:
#
#   bench/calibrate.sh [MODEL_DIR [TEXT [CTX [MAX_TOKENS [GROUPS]]]]]
#
# Environment: THREADS (default all cores), MEMORY (calibrate --memory), TOKENIZER (a tokenizer
# file for a model folder without one; bench/mkmodel writes a synthetic tokenizer.model).
#
# Defaults: the bundled kjv-llama, kjv-calib.txt, its context (256), 65536 tokens (the whole
# text if shorter), G = min(32, windows).  The cache is a fresh directory, so the statistics
# are really computed.
set -e
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
fix=${RS_FIXTURES:-$src/../shared/fixtures}
model=${1:-$src/share/models/kjv-llama}
text=${2:-$fix/texts/kjv-calib.txt}
ctx=${3:-256}
maxtok=${4:-65536}
groups=${5:+--groups $5}
memory=${MEMORY:+--memory $MEMORY}
tok=${TOKENIZER:+--tokenizer '$TOKENIZER'}
bin=${RS_BIN:-./rankscope}
threads=${THREADS:-$(nproc)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-bench-calib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

XDG_CACHE_HOME="$tmp/cache" /usr/bin/time -v "$bin" -t "$threads" -c "load $tok '$model';
	calibrate '$text' --ctx $ctx --max-tokens $maxtok $groups $memory" >"$tmp/out" 2>"$tmp/time"
cat "$tmp/out" | grep '^calibrate'
windows=$(sed -n 's/^calibrate: .*, \([0-9]*\) windows of .*/\1/p' "$tmp/out")
cal_s=$(sed -n 's/^calibrate: .* layers computed.*; \([0-9.]*\) s$/\1/p' "$tmp/out")
rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/time")
"$bin" -t "$threads" -c "load $tok '$model'; ppl '$text' --ctx $ctx --chunks $windows" \
	>"$tmp/ppl" 2>"$tmp/ppl.err"
ppl_s=$(sed -n 's/^ppl: .* in [0-9]* windows, \([0-9.]*\) s,.*/\1/p' "$tmp/ppl.err")
grep '^Final' "$tmp/ppl"
echo "calibrate: $cal_s s for $windows windows of $ctx tokens (peak RSS $((rss / 1024)) MiB)"
echo "ppl (plain forward pass with the head, same windows): $ppl_s s"
awk -v a="$cal_s" -v b="$ppl_s" 'BEGIN { printf "ratio calibrate / forward: %.2f\n", a / b }'
