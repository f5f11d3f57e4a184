#!/bin/sh
# bench/mpi.sh: rankscope-mpi with 1 rank against 2 ranks (one OpenBLAS thread per rank) on the
# TinyLlama shape, for calibrate, spectra and ppl: wall time of each and the speedup.  Run from a
# build directory configured --with-mpi:
#
#   sh SRCDIR/bench/mpi.sh
#
# The model is a 4-layer slice of the TinyLlama shape (dim 2048, ffn 5632, vocab 32000; BF16),
# written once by bench/mkmodel into BENCH_DIR (default /tmp/rankscope-bench), so that the run
# takes minutes: calibrate 16 windows x 256 tokens (16 groups), the weight spectra of its 28
# matrices, ppl over 4 windows x 512.  Each (step, ranks) is one `mpirun -np N rankscope-mpi`
# in a fresh cache directory; the wall time includes the job's start and the model's load.
# Beside them, two independent 1-rank jobs started together: the speedup two ranks could reach
# on this machine at best.  Prints a markdown table.
# Environment: BENCH_DIR, MPIRUN (default mpirun), LAYERS (4),
# CAL_TOKENS (calibration tokens, 4096; groups min(32, windows)), PPL_CHUNKS (ppl windows, 4):
# larger workloads show how the ranks scale once each rank's fixed costs (start, load) are small.  The
# calibration cache of the slice is about 1 GB and the slice 0.6 GB: on a full disk,
# BENCH_DIR=/dev/shm/... TMPDIR=/dev/shm keeps both in memory.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
DIR=${BENCH_DIR:-/tmp/rankscope-bench}
LAYERS=${LAYERS:-4}
CAL_TOKENS=${CAL_TOKENS:-4096}
PPL_CHUNKS=${PPL_CHUNKS:-4}
MPIRUN=${MPIRUN:-mpirun}
BIN=$(pwd)/rankscope-mpi
CALIB=$SRC/share/texts/kjv-calib.txt
EVAL=$SRC/share/texts/kjv-eval.txt
[ -x "$BIN" ] || { echo "bench/mpi.sh: no ./rankscope-mpi (configure --with-mpi, make)" >&2; exit 2; }
[ -x bench/mkmodel ] || make bench/mkmodel >/dev/null
M=$DIR/tinyllama-L$LAYERS
if [ ! -e "$M" ]; then
	mkdir -p "$DIR"
	./bench/mkmodel --layers "$LAYERS" "$M.part" tinyllama bf16 >&2
	mv "$M.part" "$M"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shared memory between the ranks, no network probing; one BLAS thread per rank
OMPI_MCA_btl=self,vader; export OMPI_MCA_btl
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS

# now: seconds since the epoch with nanoseconds.
now() {
	date +%s.%N
}

# run NP COMMANDS: wall seconds of one job in a fresh cache (its output in $tmp/out.NP).
run() {
	rm -rf "$tmp/cache"
	t0=$(now)
	XDG_CACHE_HOME=$tmp/cache "$MPIRUN" -q --allow-run-as-root --oversubscribe -np "$1" \
	    "$BIN" -c "$2" "$M" >"$tmp/out.$1" 2>&1 || { cat "$tmp/out.$1" >&2; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

# pair COMMANDS: wall seconds of two independent 1-rank jobs started together, each in a cache
# of its own: no exchange at all, so 2 x (one job) / (the pair) is the most two ranks can gain
# on this machine (they share its memory bandwidth and caches as these two do).  Unbound:
# mpirun binds a lone rank to the first core, and two such jobs would share it.
pair() {
	rm -rf "$tmp/cache.a" "$tmp/cache.b"
	t0=$(now)
	XDG_CACHE_HOME=$tmp/cache.a "$MPIRUN" -q --allow-run-as-root --bind-to none -np 1 \
	    "$BIN" -c "$1" "$M" >"$tmp/out.a" 2>&1 &
	pa=$!
	XDG_CACHE_HOME=$tmp/cache.b "$MPIRUN" -q --allow-run-as-root --bind-to none -np 1 \
	    "$BIN" -c "$1" "$M" >"$tmp/out.b" 2>&1 || { cat "$tmp/out.b" >&2; exit 1; }
	wait $pa || { cat "$tmp/out.a" >&2; exit 1; }
	t1=$(now)
	rm -rf "$tmp/cache.a" "$tmp/cache.b"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "| step | what | 1 rank (s) | 2 ranks (s) | speedup | two 1-rank jobs at once (s) | ceiling: 2 x 1 rank / pair |"
echo "|---|---|---|---|---|---|---|"
for step in calibrate spectra ppl; do
	case $step in
	calibrate) what="$((CAL_TOKENS / 256)) windows x 256, $LAYERS layers"
		cmds="calibrate '$CALIB' --ctx 256 --max-tokens $CAL_TOKENS" ;;
	spectra) what="weight spectra, $((LAYERS * 7)) matrices"
		cmds="spectra" ;;
	ppl) what="$PPL_CHUNKS windows x 512"
		cmds="ppl '$EVAL' --ctx 512 --chunks $PPL_CHUNKS" ;;
	esac
	echo "-- $step" >&2
	one=$(run 1 "$cmds")
	two=$(run 2 "$cmds")
	both=$(pair "$cmds")
	awk -v s="$step" -v w="$what" -v a="$one" -v b="$two" -v p="$both" \
	    'BEGIN { printf "| %s | %s | %.2f | %.2f | %.2fx | %.2f | %.2fx |\n", s, w, a, b,
	    a / b, p, 2 * a / p }'
done
