#!/bin/sh
# bench/ppl.sh: chunked-perplexity throughput on kjv-llama and on a TinyLlama-1.1B-shaped model
# with random weights (made by bench/mkmodel), each printed beside what sgemm reaches on this
# machine in the same run.  Run from a build directory after `make bench`:
#   sh $SRCDIR/bench/ppl.sh [THREADS]
# The TinyLlama-shaped folder (2.2 GB) is written once to ${BENCH_DIR:-/tmp/rankscope-bench}.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=${1:-$(nproc)}
DIR=${BENCH_DIR:-/tmp/rankscope-bench}
mkdir -p "$DIR"
[ -x bench/ppl ] && [ -x bench/mkmodel ] || make bench >/dev/null
[ -f "$DIR/tinyllama/model.safetensors" ] || ./bench/mkmodel "$DIR/tinyllama" tinyllama bf16

echo "== kjv-llama (BF16), chunked, window 256, 40 windows, $T threads"
./bench/ppl -c 256 -n 40 -t "$T" "$SRC/share/models/kjv-llama" "$SRC/share/texts/kjv-eval.txt"
echo
echo "== TinyLlama-1.1B shape (BF16, random weights, random ids), chunked, window 512, 4 windows, $T threads"
./bench/ppl -c 512 -n 4 -t "$T" "$DIR/tinyllama"
