#!/bin/sh
# bench/ppl.sh: perplexity throughput on kjv-llama and on TinyLlama-1.1B-shaped GGUF files with
# random weights (made by bench/mkmodel), each printed beside what sgemm reaches on this machine
# in the same run, and beside llama.cpp's llama-perplexity on the same file, context and threads
# with its best batch for one window (-b and -ub = the context) when the peer is present
# (../shared/peers/llama.cpp; skipped quietly otherwise).  Run from a build directory after
# `make bench`:
#   sh $SRCDIR/bench/ppl.sh [THREADS]
# Environment: BENCH_DIR (default /tmp/rankscope-bench) holds the GGUF files, written once
# (2.2 GB F16, 1.2 GB Q8_0); TYPES (default "gguf-f16 gguf-q8_0") the mkmodel types to run;
# SHAPE (default tinyllama) the mkmodel shape; CTX (512) and CHUNKS (4) the windows; ROUNDS (1)
# repeats each rankscope / llama.cpp pair, alternating, so a shared machine's noise shows.
# When the environment sets OPENBLAS_CORETYPE, rankscope also runs with it unset (OpenBLAS's
# own kernel choice for this CPU), and both ratios are printed.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=${1:-$(nproc)}
DIR=${BENCH_DIR:-/tmp/rankscope-bench}
TYPES=${TYPES:-gguf-f16 gguf-q8_0}
SHAPE=${SHAPE:-tinyllama}
CTX=${CTX:-512}
CHUNKS=${CHUNKS:-4}
ROUNDS=${ROUNDS:-1}
TEXT=$SRC/share/texts/kjv-eval.txt
PEER=$SRC/../shared/peers/llama.cpp/run
mkdir -p "$DIR"
[ -x bench/ppl ] && [ -x bench/mkmodel ] || make bench >/dev/null

echo "== kjv-llama (BF16), chunked, window 256, 40 windows, $T threads"
./bench/ppl -c 256 -n 40 -t "$T" "$SRC/share/models/kjv-llama" "$SRC/share/texts/kjv-eval.txt"

for type in $TYPES; do
	model=$DIR/$SHAPE-$type.gguf
	case $type in gguf-*) ;; *) model=$DIR/$SHAPE-$type ;; esac
	[ -e "$model" ] || ./bench/mkmodel "$model" "$SHAPE" "$type" >/dev/null
	echo
	echo "== $SHAPE shape ($type, random weights), llama.cpp protocol on kjv-eval.txt," \
	    "window $CTX, $CHUNKS windows, $T threads"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		out=$(./bench/ppl -p llama.cpp -c "$CTX" -n "$CHUNKS" -t "$T" "$model" "$TEXT")
		echo "$out"
		rs=$(echo "$out" | awk '$1 == "time" { print $4 }')
		rs_own=
		if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
			echo "-- the same with OPENBLAS_CORETYPE unset:"
			out=$(env -u OPENBLAS_CORETYPE ./bench/ppl -p llama.cpp -c "$CTX" -n "$CHUNKS" \
			    -t "$T" "$model" "$TEXT")
			echo "$out"
			rs_own=$(echo "$out" | awk '$1 == "time" { print $4 }')
		fi
		if [ -x "$PEER" ] && [ "${model%.gguf}" != "$model" ]; then
			log=$DIR/llama-perplexity.log
			"$PEER" llama-perplexity -m "$model" -f "$TEXT" -c "$CTX" -b "$CTX" -ub "$CTX" \
			    --chunks "$CHUNKS" -t "$T" >"$log" 2>&1
			# "prompt eval time = X ms / N tokens": llama.cpp's own timing of the windows
			lc=$(awk '/prompt eval time/ { for (i = 1; i <= NF; i++) if ($i == "ms") {
			    ms = $(i - 1); n = $(i + 2); break } }
			    END { if (ms > 0) printf "%.1f", n / (ms / 1000) }' "$log")
			fin=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$log")
			echo "llama.cpp   $lc tokens/s, PPL $fin (llama-perplexity -c $CTX -b $CTX -ub $CTX" \
			    "--chunks $CHUNKS -t $T)"
			awk -v a="$rs" -v b="$lc" 'BEGIN { if (b > 0) printf "vs llama    %.3f of llama.cpp'"'"'s tokens/s (round %d)\n", a / b, '"$r"' }'
			[ -z "$rs_own" ] || awk -v a="$rs_own" -v b="$lc" 'BEGIN { if (b > 0)
			    printf "vs llama    %.3f of llama.cpp'"'"'s tokens/s with OpenBLAS'"'"'s own kernels (round %d)\n", a / b, '"$r"' }'
		fi
		r=$((r + 1))
	done
done
