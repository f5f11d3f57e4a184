#!/bin/sh
# seeds.sh NAME FIXTURES OUTDIR: write the seed corpus of fuzz target NAME into OUTDIR, cut
# from the fixtures (headers only where the target pads the input with zeros: the fuzzer then
# mutates the header, not megabytes of weights).  Missing fixtures are skipped.
set -u
name=$1 fx=$2 out=$3
mkdir -p "$out"

# The first 8 + header-length bytes of a safetensors file.
st_head() {
	[ -f "$1" ] || return 0
	hlen=$(od -An -t u8 -N8 "$1" | tr -d ' ')
	head -c $((8 + hlen)) "$1" >"$out/$2"
}

# A GGUF file up to the start of its tensor data.
gguf_head() {
	[ -f "$1" ] || return 0
	python3 - "$1" "$out/$2" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
o = 4
ver, nt, nkv = struct.unpack_from('<IQQ', d, o); o += 20
def s():
    global o
    n, = struct.unpack_from('<Q', d, o); o += 8 + n
def val(t):
    global o
    size = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if t == 8: s()
    elif t == 9:
        et, n = struct.unpack_from('<IQ', d, o); o += 12
        for _ in range(n): val(et)
    else: o += size[t]
align = 32
for _ in range(nkv):
    n, = struct.unpack_from('<Q', d, o)
    key = d[o + 8:o + 8 + n]; s()
    t, = struct.unpack_from('<I', d, o); o += 4
    if key == b'general.alignment': align, = struct.unpack_from('<I', d, o)
    val(t)
for _ in range(nt):
    s()
    nd, = struct.unpack_from('<I', d, o); o += 4 + 8 * nd + 4 + 8
o = (o + align - 1) // align * align
open(sys.argv[2], 'wb').write(d[:o])
PY
}

# A copy, if present.
cp_seed() {
	[ -f "$1" ] && cat "$1" >"$out/$2"
	return 0
}

case $name in
safetensors)
	st_head "$fx/kjv-llama/model.safetensors" kjv-bf16
	st_head "$fx/kjv-llama-f32/model-f32.safetensors" kjv-f32
	st_head "$fx/stories260K/hf/model.safetensors" stories-f32
	st_head "$fx/tiny-random/hf/model.safetensors" tiny-random
	;;
config)
	cp_seed "$fx/kjv-llama/config.json" kjv
	cp_seed "$fx/stories260K/hf/config.json" stories
	cp_seed "$fx/tiny-random/hf/config.json" tiny-random
	# stories260K's config with the per-layer keys of transact's smaller exports
	cp_seed "$(dirname "$0")/seed-config-layers.json" layers
	cp_seed "$(dirname "$0")/seed-config-layers-pruned.json" layers-pruned
	;;
gguf)
	gguf_head "$fx/stories260K/stories260K.gguf" stories-f32
	gguf_head "$fx/stories260K/gguf/stories260K-q8_0.gguf" stories-q8_0
	gguf_head "$fx/stories260K/gguf/stories260K-bf16.gguf" stories-bf16
	gguf_head "$fx/tiny-random/gguf/tiny-random-llama-Q4_K_M.gguf" tiny-q4km
	gguf_head "$fx/tiny-random/gguf/tiny-random-llama-Q6_K.gguf" tiny-q6k
	gguf_head "$fx/aidreams260K/aidreams260K.gguf" aidreams
	;;
llama2c)
	[ -f "$fx/stories260K/stories260K.bin" ] && head -c 28 "$fx/stories260K/stories260K.bin" >"$out/stories"
	[ -f "$fx/aidreams260K/aidreams260K.bin" ] && head -c 28 "$fx/aidreams260K/aidreams260K.bin" >"$out/aidreams"
	;;
tokjson)
	cp_seed "$fx/kjv-llama/tokenizer.json" kjv
	# the same with its vocabulary cut to 300 tokens: a small seed the fuzzer mutates fast
	[ -f "$fx/kjv-llama/tokenizer.json" ] && python3 - "$fx/kjv-llama/tokenizer.json" "$out/kjv-300" <<'PY'
import json, sys
j = json.load(open(sys.argv[1], encoding='utf-8'))
m = j['model']
m['vocab'] = {k: v for k, v in m['vocab'].items() if v < 300}
keep = []
for mg in m.get('merges', []):
    a, b = mg.split(' ', 1) if isinstance(mg, str) else mg
    if a in m['vocab'] and b in m['vocab'] and a + b in m['vocab']:
        keep.append(mg)
m['merges'] = keep
j['added_tokens'] = [t for t in j.get('added_tokens', []) if t['id'] < 300]
json.dump(j, open(sys.argv[2], 'w', encoding='utf-8'), ensure_ascii=False)
PY
	;;
tokmodel)
	cp_seed "$fx/kjv-llama/tokenizer.model" kjv
	cp_seed "$fx/stories260K/tok512.model" stories
	cp_seed "$fx/tiny-random/hf/tokenizer.model" tiny-random
	;;
tokbin)
	cp_seed "$fx/stories260K/tok512.bin" stories
	cp_seed "$fx/aidreams260K/tok512.bin" aidreams
	;;
cmdline)
	printf '%s' "load share/models/kjv-llama; info; tensors 'L0.*'" >"$out/load"
	printf '%s' "rank L3-5.q 16; rank '*.down' --keep 0.5; plan show --all; undo; redo" >"$out/rank"
	printf '%s' "set rank-align 16; set threads 2; set" >"$out/set"
	printf '%s' "help; help spectra # a comment; quit" >"$out/help"
	printf '%s' "spectra 'L*.down' --kind feature --variant uncentred; error L0.q 8" >"$out/spectra"
	printf '%s' "tokenize \"a \\\"quoted\\\" word\"; ppl x.txt --ctx 64 --chunks=2" >"$out/quotes"
	printf '%s' "plot spectrum --to x.png --title 'a b'; metrics export m.csv" >"$out/plot"
	printf '%s' "calibrate t.txt --memory 2G --groups 4; 'unterminated" >"$out/unterminated"
	;;
plan)
	# real plans of kjv-llama (the model fuzz-plan checks against), saved by the build's rankscope
	if [ -x ./rankscope ] && [ -d "$fx/kjv-llama" ]; then
		XDG_CACHE_HOME="$out/.cache" ./rankscope -c "load '$fx/kjv-llama'; rank '*' 32; \
		    rank 'L*.down' dense; rank L0.q 8; plan save '$out/kjv.json'; plan save '$out/kjv.csv'" \
		    >/dev/null 2>&1
		rm -rf "$out/.cache"
	fi
	printf '%s' '{"format":"rankscope-plan","version":1,"matrices":[{"name":"L0.q","rows":256,"cols":256,"rank":8}]}' >"$out/minimal"
	;;
*)
	echo "seeds.sh: unknown target $name" >&2
	exit 1
	;;
esac
exit 0
