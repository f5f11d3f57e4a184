#!/bin/sh
# bench/scale.sh: what each heavy command costs at the sizes users bring, one table per run
# written into docs/results.md (between the scale markers).  Run from a build directory:
#
#   sh SRCDIR/bench/scale.sh [SHAPE...]        (default: kjv tinyllama llama2-7b llama3-8b)
#
# Per shape, each step is its own process `rankscope -t THREADS -c 'load M; STEP'` under
# /usr/bin/time (wall time includes the load, peak RSS is the process's), in one fresh cache
# directory per shape and format, so later steps find what earlier ones cached (calibration,
# spectra), as a session would:
#   open (cold cache) · spectra (weight) of layers 0-3 · open again (those spectra cached) ·
#   calibrate 16 windows x 256 · feature spectra of layers 0-3 · ppl 4 windows x 512 (tok/s;
#   on a GGUF file the same run of llama.cpp's llama-perplexity, -b = the context, when
#   ../shared/peers is there) · one bo trial at keep 0.7 on 4 validation windows x 256 ·
#   export factored of that plan.
# The folders are BF16 Hugging Face folders; the 7B/8B shapes are also run as a Q8_0 GGUF
# (open, ppl).  Models are written by bench/mkmodel into BENCH_DIR (default
# /tmp/rankscope-bench: about 50 GB for all four shapes) and kept for the next run.
# Environment: THREADS (default all cores), BENCH_DIR, RESULTS (default SRCDIR/docs/results.md;
# "-" prints the table only), SLICE (layers of the slice model used for the bo and export steps of
# the shapes other than kjv, default 4: a full 7B trial decomposes all 224 matrices; 0 runs them
# on the full model).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=${THREADS:-$(nproc)}
DIR=${BENCH_DIR:-/tmp/rankscope-bench}
RESULTS=${RESULTS:-$SRC/docs/results.md}
SLICE=${SLICE:-4}
BIN=${RS_BIN:-$(pwd)/rankscope}
PEER=$SRC/../shared/peers/llama.cpp/run
CALIB=$SRC/share/texts/kjv-calib.txt
EVAL=$SRC/share/texts/kjv-eval.txt
[ $# -gt 0 ] || set -- kjv tinyllama llama2-7b llama3-8b
[ -x bench/mkmodel ] || make bench >/dev/null
mkdir -p "$DIR"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rs-scale.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows

# model SHAPE TYPE [LAYERS]: path of the shape's model, written once.
model() {
	case $2 in gguf-*) p=$DIR/$1${3:+-L$3}-${2#gguf-}.gguf ;; *) p=$DIR/$1${3:+-L$3} ;; esac
	if [ ! -e "$p" ]; then
		./bench/mkmodel ${3:+--layers $3} "$p.part" "$1" "$2" >&2
		mv "$p.part" "$p"
	fi
	echo "$p"
}

# step SHAPE FORMAT NAME WHAT MODEL COMMANDS [NOTE-SED]: one process, one table row.
step() {
	st_shape=$1 st_fmt=$2 st_name=$3 st_what=$4 st_model=$5 st_cmds=$6
	echo "-- $st_shape $st_fmt: $st_name" >&2
	: >"$tmp/time"
	if XDG_CACHE_HOME=$cache /usr/bin/time -f '%e %M' -o "$tmp/time" \
	    "$BIN" -t "$T" -c "load '$st_model'; $st_cmds" >"$tmp/out" 2>"$tmp/err" &&
	    set -- $(tail -n 1 "$tmp/time") && [ $# -eq 2 ]; then
		wall=$1 rss=$(($2 / 1024))
	else
		wall="failed" rss="-"
		{ sed 's/^/   /' "$tmp/err" | tail -n 3; sed 's/^/   time: /' "$tmp/time"; } >&2
	fi
	note=$(cat "$tmp/out" "$tmp/err" | grep -v ' s so far, about [0-9]* s left$' |
	    note_of "$st_name")
	echo "| $st_shape | $st_fmt | $st_name | $st_what | $wall | $rss | $note |" >>"$rows"
	tail -n 1 "$rows" >&2
}

# note_of STEP: the line of the step's own output worth keeping in the table.
note_of() {
	case $1 in
	spectra*|features*|open\ again) sed -n 's/^spectra: \([a-z]*, [0-9]* matrices.*\)/\1/p' | tail -n 1 ;;
	calibrate) sed -n 's/^calibrate: \(.*layers.*\)/\1/p' | tail -n 1 ;;
	ppl) sed -n 's/^ppl: \([0-9]* tokens scored.*\)/\1/p' | tail -n 1 ;;
	bo*) sed -n 's/^alloc bo: \(best trial.*\)/\1/p; s/^alloc bo: \(best validation.*\)/\1/p' |
	    tr '\n' ' ' ;;
	export*) sed -n 's/^export factored: \(wrote.*\)/\1/p' | sed 's|/[^:]*: ||' | tail -n 1 ;;
	*) sed -n 's/^model: //p' | head -n 1 ;;
	esac | tr '|' '/' | cut -c1-200
}

# peer SHAPE GGUF CTX: llama.cpp on the same file, same windows and threads; adds a row.
peer() {
	[ -x "$PEER" ] || return 0
	echo "-- $1 gguf: llama.cpp" >&2
	if /usr/bin/time -f '%e %M' -o "$tmp/time" "$PEER" llama-perplexity -m "$2" -f "$EVAL" \
	    -c "$3" -b "$3" --chunks 4 -t "$T" >"$tmp/out" 2>&1; then
		set -- "$1" "$2" "$3" $(tail -n 1 "$tmp/time")
		ptok=$(sed -n 's/.*prompt eval time = .* tokens (.*, *\([0-9.]*\) tokens per second)/\1/p' "$tmp/out" | tail -n 1)
		ours=$(sed -n 's/.*, \([0-9.]*\) tokens\/s.*/\1/p' "$rows" | tail -n 1)
		ratio=$(awk -v a="$ours" -v b="$ptok" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }')
		echo "| $1 | gguf | ppl, llama.cpp | llama-perplexity -c $3 -b $3 --chunks 4 -t $T | $4 | $(($5 / 1024)) | $ptok tokens/s (prompt eval); rankscope / llama.cpp throughput $ratio |" >>"$rows"
		tail -n 1 "$rows" >&2
	fi
}

# run_shape SHAPE: every step of one shape.
run_shape() {
	s=$1
	case $s in
	kjv) m=$SRC/share/models/kjv-llama ctx=256 ;;
	*) m=$(model "$s" bf16) ctx=512 ;;
	esac
	cache=$tmp/cache-$s
	rm -rf "$cache"
	step "$s" bf16 open "load, no cache" "$m" "info"
	step "$s" bf16 "spectra" "weight spectra, layers 0-3 (28 matrices)" "$m" "spectra 'L0-3.*'"
	step "$s" bf16 "open again" "load, and those spectra from the cache" "$m" "spectra 'L0-3.*'"
	step "$s" bf16 calibrate "16 windows x 256" "$m" \
	    "calibrate '$CALIB' --ctx 256 --max-tokens 4096"
	step "$s" bf16 "features" "feature spectra, layers 0-3" "$m" \
	    "calibrate '$CALIB' --ctx 256 --max-tokens 4096; spectra 'L0-3.*' --kind feature"
	step "$s" bf16 ppl "4 windows x $ctx" "$m" "ppl '$EVAL' --ctx $ctx --chunks 4"
	bm=$m what=""
	case $s in
	kjv) ;;
	*)
		if [ "$SLICE" -gt 0 ]; then
			bm=$(model "$s" bf16 "$SLICE")
			what=" ($SLICE-layer slice of the shape)"
			cache=$tmp/cache-$s-slice
		fi ;;
	esac
	step "$s" bf16 "bo trial" "keep 0.7, feature, 4 validation windows x 256$what" "$bm" \
	    "calibrate '$CALIB' --ctx 256 --max-tokens 4096; set method feature;
	     alloc bo --keep 0.7 --trials 1 --init 1 --validation '$EVAL' --chunks 4"
	rm -rf "$tmp/export"
	step "$s" bf16 "export" "export factored, uniform keep 0.7, feature$what" "$bm" \
	    "calibrate '$CALIB' --ctx 256 --max-tokens 4096; set method feature; rank * --keep 0.7;
	     export factored '$tmp/export'"
	rm -rf "$tmp/export"
	case $s in
	llama*|qwen*)
		g=$(model "$s" gguf-q8_0)
		cache=$tmp/cache-$s-gguf
		step "$s" gguf "open" "load Q8_0 GGUF, no cache" "$g" "info"
		step "$s" gguf ppl "4 windows x 512" "$g" "ppl '$EVAL' --ctx 512 --chunks 4"
		peer "$s" "$g" 512 ;;
	esac
}

for s in "$@"; do
	run_shape "$s"
done

# Rows of shapes not run this time are kept from the table in RESULTS, in the order below, so
# that one shape can be rerun alone.
order="kjv tinyllama llama2-7b llama3-8b qwen2-7b"
for s in "$@"; do
	case " $order " in *" $s "*) ;; *) order="$order $s" ;; esac
done
: >"$tmp/merged"
for s in $order; do
	case " $* " in
	*" $s "*) grep "^| $s |" "$rows" >>"$tmp/merged" || true ;;
	*) [ "$RESULTS" != - ] && [ -f "$RESULTS" ] &&
		sed -n '/<!-- scale:begin -->/,/<!-- scale:end -->/p' "$RESULTS" |
		grep "^| $s |" >>"$tmp/merged" || true ;;
	esac
done
kept=$(cut -d'|' -f2 "$tmp/merged" | tr -d ' ' | sort -u | while read -r s; do
	case " $* " in *" $s "*) ;; *) printf '%s ' "$s" ;; esac
done)

{
	echo "<!-- scale:begin -->"
	echo "## At the sizes users bring (bench/scale.sh)"
	echo
	echo "Random-weight models of each shape (bench/mkmodel; kjv-llama is the bundled trained model),"
	echo "$T threads, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"
	echo "$("$BIN" -c "load '$SRC/share/models/kjv-llama'; info" 2>/dev/null | sed -n 's/^blas: *//p');"
	echo "each row one process \`rankscope -c 'load M; STEP'\` (wall time includes the load; peak"
	echo "RSS of the process, mapped weight pages included); one cache directory per shape, so a row"
	echo "reuses what the rows above it cached, as one session would."
	echo
	echo "| shape | format | step | what | wall s | peak RSS MiB | output |"
	echo "|---|---|---|---|---|---|---|"
	cat "$tmp/merged"
	echo
	if [ "$SLICE" -gt 0 ]; then
		echo "SLICE=$SLICE: the bo and export rows of the generated shapes run on a $SLICE-layer slice"
		echo "of the shape (\`bench/mkmodel --layers $SLICE\`, full vocabulary): one full-rank"
		echo "decomposition of a 7B matrix takes 20-60 s here, a whole 7B plan hours."
	fi
	case ${OPENBLAS_CORETYPE-unset} in
	unset) echo "OPENBLAS_CORETYPE unset: OpenBLAS's own kernel choice for this CPU." ;;
	*) echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE forced OpenBLAS's kernel set." ;;
	esac
	echo
	echo "Regenerate: \`SLICE=$SLICE THREADS=$T sh bench/scale.sh $*\` ($(date +%Y-%m-%d))${kept:+; the
rows of ${kept% } are kept from an earlier run of the same script}."
	echo "<!-- scale:end -->"
} >"$tmp/table"
if [ "$RESULTS" = - ]; then
	cat "$tmp/table"
else
	awk -v tf="$tmp/table" '
		/<!-- scale:begin -->/ { while ((getline l < tf) > 0) print l; skip = 1; done = 1; next }
		/<!-- scale:end -->/ { skip = 0; next }
		!skip { print }
		END { if (!done) { print ""; while ((getline l < tf) > 0) print l } }' \
	    "$RESULTS" >"$tmp/results"
	cp "$tmp/results" "$RESULTS"
	echo "bench/scale.sh: table written to $RESULTS" >&2
fi
