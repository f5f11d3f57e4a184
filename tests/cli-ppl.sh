#!/bin/sh
# Perplexity through the command line against references computed outside rankscope
# (../shared/fixtures/README.md): kjv-llama BF16 and F32 folders, chunked protocol, window 256;
# the logged logits of the first positions; cancellation with SIGINT.
. "$RS_SRCDIR/tests/tap.sh"
tap_need_fixture kjv-llama-f32/config.json
tap_need_fixture refs/kjv-llama-logits-first16.txt
MODEL="$RS_SRCDIR/share/models/kjv-llama"
EVAL="$RS_SRCDIR/share/texts/kjv-eval.txt"

# ppl_final FILE: the X of "Final estimate: PPL = X +/- Y".
ppl_final() {
	sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- .*/\1/p' "$1"
}

"$RS_BIN" -c "load $MODEL; ppl $EVAL --ctx 256 --log-logits 16" >"$TMPD/bf16" 2>"$TMPD/bf16.err"
tap_check $? "ppl on the bundled BF16 model runs"
grep -q '^ppl: protocol chunked, window 256 tokens, 217 windows, 55335 tokens scored' "$TMPD/bf16"
tap_check $? "it states the protocol, window and tokens scored (217 windows, 55,335 tokens)"
grep -q '^\[217\]' "$TMPD/bf16"
tap_check $? "it prints a running value per window"
v=$(ppl_final "$TMPD/bf16")
tap_close "$v" 51.3761 0.001
tap_check $? "BF16 chunked ctx 256 PPL $v = 51.3761 (reference) within 0.1%"

# Compare the logged logits with the reference file, position by position.
grep -E '^[0-9]+ [0-9]+ [0-9]+ ' "$TMPD/bf16" | head -16 >"$TMPD/logits"
awk -v ref="$RS_FIXTURES/refs/kjv-llama-logits-first16.txt" '
	function fields(line, arr,   n, i, out, parts) {
		gsub(/\|/, " ", line); n = split(line, parts, /[ :]+/)
		for (i = 1; i <= n; i++) arr[i] = parts[i]
		return n
	}
	BEGIN { while ((getline l < ref) > 0) if (l !~ /^#/) r[nr++] = l }
	{
		n = fields($0, a); m = fields(r[NR - 1], b)
		if (n != m) { bad++; next }
		for (i = 1; i <= n; i++) { d = a[i] - b[i]; if (d < 0) d = -d; if (d > 1e-3) bad++ }
		rows++
	}
	END { exit !(rows == 16 && bad == 0) }' "$TMPD/logits"
tap_check $? "ids, logsumexp, top-5 and first 8 logits of the first 16 positions within 1e-3 of the reference"

"$RS_BIN" -c "load $RS_FIXTURES/kjv-llama-f32; ppl $EVAL --ctx 256" >"$TMPD/f32" 2>&1
v=$(ppl_final "$TMPD/f32")
tap_close "$v" 51.3800 0.001
tap_check $? "F32 folder chunked ctx 256 PPL $v = 51.3800 (reference) within 0.1%"

"$RS_BIN" -c "load $MODEL; ppl $EVAL --ctx 128 --protocol llama.cpp --chunks 10" >"$TMPD/lc" 2>&1
grep -q '^ppl: protocol llama.cpp, window 128 tokens, 10 windows, 630 tokens scored' "$TMPD/lc" &&
	grep -q '^Final estimate: PPL = [0-9.]* +/- [0-9.]*$' "$TMPD/lc"
tap_check $? "llama.cpp protocol: 63 tokens scored per 128-token window, same final line"

# Cancel: SIGINT during ppl stops within half a second and says how far it got.
"$RS_BIN" -c "load $MODEL; ppl $EVAL --ctx 256" >"$TMPD/cancel" 2>"$TMPD/cancel.err" &
pid=$!
i=0
while ! grep -q '\[3\]' "$TMPD/cancel" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
t0=$(date +%s%N)
kill -INT $pid
wait $pid
st=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ $st -eq 1 ] && grep -q 'ppl: cancelled after [0-9]* of 217 windows' "$TMPD/cancel.err"
tap_check $? "SIGINT cancels ppl: status 1, '$(cat "$TMPD/cancel.err" | tail -1)'"
[ $ms -lt 500 ]
tap_check $? "the cancel took ${ms} ms (< 500)"

tap_done
