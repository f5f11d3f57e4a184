#!/bin/sh
# bench/seeds.sh: regenerate the "seeds" section of docs/results.md on kjv-llama: the lrq plugin
# (low-rank + quantized residual, seed paper 2) at 2, 3 and 4 bits per parameter beside plain
# round-to-nearest blockwise quantization at the same bits (lrq --rank 0), and the transact
# plugin (seed paper 3) beside the best low-rank plan at the same parameter count.
# Only the span between <!-- seeds:begin --> and <!-- seeds:end --> is replaced (the file is
# created when absent).
#   usage: bench/seeds.sh [BUILD_DIR]     (default: the current directory)
# "b bits" means the budget of plain b-bit blocks of 128 with float16 scales and b-bit zero
# points: b + (16 + b)/128 bits per parameter; every configuration counts everything.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-.}
bin="$build/rankscope"
fx=${RS_FIXTURES:-$src/../shared/fixtures}
model="$fx/kjv-llama"
text="$fx/texts/kjv-eval.txt"
calib="$fx/texts/kjv-calib.txt"
out="$src/docs/results.md"
export RANKSCOPE_PLUGIN_PATH="$build/plugins/.libs"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run LABEL ARGS...: one lrq configuration; prints "bits ppl relerr"
run() {
	"$bin" -c "load $model; lrq $* --eval $text" >"$tmp/log" 2>&1 || {
		echo "FAILED: lrq $*" >&2; cat "$tmp/log" >&2; echo "- - -"; return 0; }
	b=$(sed -n 's/^lrq: [0-9]* matrices, [0-9]* parameters: \([0-9.]*\) bits.*/\1/p' "$tmp/log")
	p=$(sed -n 's/^lrq: perplexity \([0-9.]*\).*/\1/p' "$tmp/log")
	e=$(sed -n 's/^lrq: relative weight error \([0-9.]*\).*/\1/p' "$tmp/log")
	r=$(sed -n 's/^lrq: ranks \(.*\); residual \(.*\)/ranks \1; \2/p' "$tmp/log")
	echo "$b|$p|$e|$r"
}

dense=$("$bin" -c "load $model; ppl $text" 2>/dev/null | sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p')
{
	echo "<!-- seeds:begin -->"
	echo "## Seed papers 2 and 3 on kjv-llama (bench/seeds.sh)"
	echo
	echo "Perplexity: chunked protocol, windows of 256, \`texts/kjv-eval.txt\`; dense BF16 model: $dense."
	echo "Bits per parameter count the decoder linears only (embeddings and head stay dense),"
	echo "everything included: the low-rank part in 16 bits, float16 scales, zero points, codebooks."
	echo "RTN = plain round-to-nearest blockwise (\`lrq --rank 0\`, the integer program choosing"
	echo "bits and block sizes per matrix); lrq = the same program also choosing ranks 0-64, with"
	echo "alternating fits; lrq-vq = k-means vector residual with ranks (ReALLM-style: 2 bits \`--vq-dim 4 --vq-bits 7\`, 3 bits \`--vq-dim 2 --vq-bits 6\`)."
	echo
	echo "| budget | method | bits/param | ppl | rel. weight error | configuration |"
	echo "|---|---|---|---|---|---|"
	for b in 2 3 4; do
		B=$(awk -v b=$b 'BEGIN { printf "%.4f", b + (16 + b) / 128 + 0.0001 }')
		for m in rtn lrq lrq-vq; do
			case $m in
			rtn) args="--bits-per-param $B --rank 0" ;;
			lrq) args="--bits-per-param $B" ;;
			# vector shapes whose codebook (16·d·2^b bits per matrix) stays small:
			# 2 bits: d=4, b=7 (1.75 bits per weight); 3 bits: d=2, b=6 (3 bits per weight)
			lrq-vq) case $b in
				2) args="--bits-per-param $B --vq-dim 4 --vq-bits 7" ;;
				3) args="--bits-per-param $B --vq-dim 2 --vq-bits 6" ;;
				*) continue ;;
				esac ;;
			esac
			IFS='|' read -r bits ppl err cfg <<EOT
$(run $args)
EOT
			echo "| $b bits ($B) | $m | $bits | $ppl | $err | $cfg |"
		done
	done
	echo
	echo "### transact (seed paper 3) beside the best low-rank plan at the same parameter count"
	echo
	echo "transact: \`transact --keep K --calib texts/kjv-calib.txt\` (4 steps, 32768 calibration"
	echo "tokens per step; MLP neurons, query/key RoPE pairs and value/output dims pruned by"
	echo "activation norms, every layer the same fraction).  Low-rank: \`calibrate texts/kjv-calib.txt"
	echo "--ctx 256 --groups 32; set method feature; rank * --keep R\` with R = transact's decoder keep."
	echo "KV cache: values per token (all layers, keys + values)."
	echo
	echo "| target keep | method | decoder keep | whole-model keep | KV cache/token | ppl |"
	echo "|---|---|---|---|---|---|"
	for K in 0.8 0.7; do
		"$bin" -c "load $model; transact --keep $K --calib $calib --eval $text --ctx 256" \
		    >"$tmp/tlog" 2>&1 || { echo "FAILED: transact --keep $K" >&2; cat "$tmp/tlog" >&2; }
		tk=$(sed -n 's/^transact: decoder linears: .*(keep \([0-9.]*\)); whole.*/\1/p' "$tmp/tlog")
		tw=$(sed -n 's/^transact: decoder linears: .*dense: .*(keep \([0-9.]*\))$/\1/p' "$tmp/tlog")
		kv=$(sed -n 's/^transact: KV cache per token: \([0-9]* -> [0-9]*\) values.*/\1/p' "$tmp/tlog")
		tp=$(sed -n 's/^transact: perplexity \([0-9.]*\).*/\1/p' "$tmp/tlog")
		echo "| $K | transact | $tk | $tw | $kv | $tp |"
		"$bin" -c "load $model; calibrate $calib --ctx 256 --groups 32; set method feature; \
rank * --keep ${tk:-$K}; ppl $text --ctx 256" >"$tmp/rlog" 2>&1 || {
			echo "FAILED: feature plan at $tk" >&2; cat "$tmp/rlog" >&2; }
		rk=$(sed -n 's/^ppl: decoder linears: .*(keep \([0-9.]*\)); whole.*/\1/p' "$tmp/rlog" | tail -1)
		rw=$(sed -n 's/^ppl: decoder linears: .*dense: .*(keep \([0-9.]*\))$/\1/p' "$tmp/rlog" | tail -1)
		rp=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$tmp/rlog" | tail -1)
		echo "| $K | low-rank feature, rank * --keep ${tk:-$K} | $rk | $rw | unchanged | $rp |"
	done
	echo
	echo "Regenerate: \`bench/seeds.sh BUILD_DIR\` ($(date -u +%Y-%m-%d))."
	echo "<!-- seeds:end -->"
} >"$tmp/section"

if [ -f "$out" ] && grep -q '<!-- seeds:begin -->' "$out" && grep -q '<!-- seeds:end -->' "$out"; then
	awk -v f="$tmp/section" '
		/<!-- seeds:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/<!-- seeds:end -->/ { skip = 0; next }
		!skip { print }' "$out" >"$tmp/new"
	cat "$tmp/new" >"$out"
else
	mkdir -p "$(dirname "$out")"
	{ [ -f "$out" ] && cat "$out" && echo; cat "$tmp/section"; } >"$tmp/new"
	cat "$tmp/new" >"$out"
fi
echo "seeds: wrote $out" >&2
