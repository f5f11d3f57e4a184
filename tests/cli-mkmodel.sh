#!/bin/sh
# bench/mkmodel: 1-layer, 1024-token versions of the Llama-2-7B, Llama-3-8B and Qwen2-7B shapes
# as Hugging Face folders (BF16, F16) and GGUF files (F16, Q8_0).  rankscope loads each with the
# shape's heads, biases and rope theta; the same command twice writes the same bytes.
# Cross-check of the formats: all share one synthetic SentencePiece vocabulary (tokenizer.model
# in the folder, tokenizer.ggml.* in the GGUF), so perplexity on the same text compares the
# weights themselves.  The F16 folder and the F16 GGUF hold the same F16 values (the GGUF with
# q/k rows permuted as llama.cpp's converter does), so their perplexities agree to 1e-4; a wrong
# permutation moves it by about 14%.  BF16 (8-bit mantissa) is within 0.5% of F16 (0.1-0.3%
# seen), Q8_0 within 2% (0.2-0.5% seen).  The outside
# reference is llama.cpp (when ../shared/peers/llama.cpp/run exists): its tokenizer gives the
# ids rankscope gives from the folder's tokenizer.model, and its llama-perplexity on the GGUF
# agrees with rankscope's llama.cpp protocol on the Hugging Face folder.
. "$RS_SRCDIR/tests/tap.sh"
MKMODEL=${RS_MKMODEL:-$(dirname "$RS_BIN")/bench/mkmodel}
EVAL="$RS_SRCDIR/share/texts/kjv-eval.txt"
LLAMACPP="$RS_SRCDIR/../shared/peers/llama.cpp/run"
TEXT="In the beginning God created the heaven and the earth."
[ -x "$MKMODEL" ] || tap_skip_all "bench/mkmodel is not built (make bench)"

# ppl_final FILE: the X of "Final estimate: PPL = X +/- Y".
ppl_final() {
	sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- .*/\1/p' "$1"
}

# rs_ppl MODEL OUT: rankscope's llama.cpp-protocol perplexity of one 128-token window.
rs_ppl() {
	"$RS_BIN" -c "load $1; ppl $EVAL --protocol llama.cpp --ctx 128 --chunks 1" >"$2" 2>&1
}

"$MKMODEL" "$TMPD/x" small f64 >/dev/null 2>&1
st=$?; [ $st -eq 2 ]
tap_check $? "an unknown type is a usage error (exit 2, got $st)"
"$MKMODEL" --vocab 100 "$TMPD/x" small >/dev/null 2>&1
st=$?; [ $st -eq 2 ]
tap_check $? "a vocabulary too small for the synthetic tokenizer is a usage error"
"$MKMODEL" "$TMPD/small" small >/dev/null &&
    grep -q '"hidden_size": 512,' "$TMPD/small/config.json" &&
    grep -q '"num_hidden_layers": 4,' "$TMPD/small/config.json" &&
    grep -q '"torch_dtype": "bfloat16"' "$TMPD/small/config.json"
tap_check $? "the positional usage (OUT SHAPE) still writes a BF16 folder of the shape"
rm -rf "$TMPD/small"

# shape arch heads kv-heads biases rope-theta
for spec in "llama2-7b llama 32 32 none 10000" "llama3-8b llama 32 8 none 500000" \
    "qwen2-7b qwen2 28 4 q_k_v 1e+06"; do
	set -- $spec
	shape=$1 arch=$2 heads=$3 kv=$4 biases=$(echo "$5" | tr _ ' ') theta=$6
	d="$TMPD/$shape"
	mk="--layers 1 --vocab 1024"
	for t in bf16 f16; do
		"$MKMODEL" $mk "$d-$t" "$shape" $t 7 >/dev/null
		tap_check $? "$shape: writes a 1-layer $t folder"
	done
	for t in f16 q8_0; do
		"$MKMODEL" $mk "$d-$t.gguf" "$shape" gguf-$t 7 >/dev/null
		tap_check $? "$shape: writes a 1-layer GGUF $t"
	done
	for m in "$d-bf16" "$d-f16.gguf" "$d-q8_0.gguf"; do
		"$RS_BIN" -c "load $m; info" >"$TMPD/info" 2>&1 &&
		    grep -q "^architecture:  $arch\$" "$TMPD/info" &&
		    grep -q '^layers:        1$' "$TMPD/info" &&
		    grep -q "^heads:         $heads query, $kv key/value, head dim 128\$" "$TMPD/info" &&
		    grep -q "^biases:        $biases\$" "$TMPD/info" &&
		    grep -q "^rope theta:    $theta\$" "$TMPD/info" &&
		    grep -q '^vocabulary:    1024$' "$TMPD/info"
		tap_check $? "$shape: rankscope loads $(basename "$m"): $arch, $heads/$kv heads, biases $biases, theta $theta"
	done
	grep -q '^format:        gguf, weights Q8_0$' "$TMPD/info"
	tap_check $? "$shape: the Q8_0 GGUF holds Q8_0 weights"

	"$MKMODEL" $mk "$d-again.gguf" "$shape" gguf-q8_0 7 >/dev/null &&
	    cmp -s "$d-q8_0.gguf" "$d-again.gguf"
	tap_check $? "$shape: the same command twice writes a byte-identical Q8_0 GGUF"
	rm -f "$d-again.gguf"
	"$MKMODEL" $mk "$d-again" "$shape" bf16 7 >/dev/null &&
	    cmp -s "$d-bf16/model.safetensors" "$d-again/model.safetensors" &&
	    cmp -s "$d-bf16/tokenizer.model" "$d-again/tokenizer.model" &&
	    cmp -s "$d-bf16/config.json" "$d-again/config.json"
	tap_check $? "$shape: the same command twice writes a byte-identical BF16 folder"
	rm -rf "$d-again"

	"$RS_BIN" -c "load $d-f16; tokenize $TEXT" | tail -1 >"$TMPD/ids-hf"
	"$RS_BIN" -c "load $d-f16.gguf; tokenize $TEXT" | tail -1 >"$TMPD/ids-gguf"
	[ -s "$TMPD/ids-hf" ] && cmp -s "$TMPD/ids-hf" "$TMPD/ids-gguf"
	tap_check $? "$shape: the folder's tokenizer.model and the GGUF vocabulary give the same ids"

	for m in bf16 f16 f16.gguf q8_0.gguf; do
		rs_ppl "$d-$m" "$TMPD/ppl-$m"
	done
	hf=$(ppl_final "$TMPD/ppl-f16")
	v=$(ppl_final "$TMPD/ppl-f16.gguf")
	tap_close "$v" "$hf" 0.0001
	tap_check $? "$shape: GGUF F16 PPL $v = F16 folder PPL $hf within 1e-4"
	v=$(ppl_final "$TMPD/ppl-bf16")
	tap_close "$v" "$hf" 0.005
	tap_check $? "$shape: BF16 folder PPL $v = F16 folder PPL $hf within 0.5%"
	v=$(ppl_final "$TMPD/ppl-q8_0.gguf")
	tap_close "$v" "$hf" 0.02
	tap_check $? "$shape: GGUF Q8_0 PPL $v = F16 folder PPL $hf within 2%"

	if [ -x "$LLAMACPP" ]; then
		"$LLAMACPP" llama-tokenize -m "$d-f16.gguf" -p "$TEXT" --ids 2>/dev/null | tail -1 |
		    tr -d '[],' >"$TMPD/ids-lc"
		[ -s "$TMPD/ids-lc" ] && cmp -s "$TMPD/ids-hf" "$TMPD/ids-lc"
		tap_check $? "$shape: llama.cpp tokenizes the GGUF as rankscope does the folder"
		for m in f16 q8_0; do
			"$LLAMACPP" llama-perplexity -m "$d-$m.gguf" -f "$EVAL" -c 128 --chunks 1 \
			    -t 2 -b 128 >"$TMPD/lc-$m" 2>&1
			tap_check $? "$shape: llama.cpp's llama-perplexity loads and runs the GGUF $m"
		done
		v=$(ppl_final "$TMPD/lc-f16")
		tap_close "$v" "$hf" 0.002
		tap_check $? "$shape: llama.cpp's PPL $v on the GGUF F16 = rankscope's $hf on the folder within 2e-3"
		v=$(ppl_final "$TMPD/lc-q8_0")
		q=$(ppl_final "$TMPD/ppl-q8_0.gguf")
		tap_close "$v" "$q" 0.01
		tap_check $? "$shape: llama.cpp's PPL $v on the GGUF Q8_0 = rankscope's $q within 1%"
	else
		tap_skip 5 "$shape: no llama.cpp peer at $LLAMACPP"
	fi
	rm -rf "$d-bf16" "$d-f16" "$d-f16.gguf" "$d-q8_0.gguf"
done
tap_done
