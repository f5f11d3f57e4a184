#!/bin/sh
# cli-transact.sh: the transact plugin (TransAct structured pruning) on stories260K.  It prunes
# MLP neurons and attention inner dimensions to a parameter budget, installs the result for
# `ppl`, and its exports load back: the zero-padded dense folder and the smaller folder
# (per-layer MLP sizes in config.json) give the perplexity transact reported within 1e-4
# relative; an MLP-only run's smaller folder is a plain Hugging Face checkpoint; a per-layer
# size list that does not match the tensors is refused with a one-line cause.
. "${RS_SRCDIR:-.}/tests/tap.sh"

bin=${RS_BIN:-./rankscope}
build=$(dirname "$bin")
tmp=$TMPD
export RANKSCOPE_PLUGIN_PATH="$build/plugins/.libs"
export OPENBLAS_NUM_THREADS=1
model="$RS_FIXTURES/stories260K/hf"
text="$RS_FIXTURES/texts/tinystories_val.txt"
tap_need_fixture stories260K/hf
tap_need_fixture texts/tinystories_val.txt
head -c 40000 "$text" >"$tmp/calib.txt"
tail -c 40000 "$text" >"$tmp/eval.txt"

# ppl_of LOG: the number of "Final estimate: PPL = X"
ppl_of() { sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$1" | tail -1; }
# tppl_of LOG: transact's reported perplexity
tppl_of() { sed -n 's/^transact: perplexity \([0-9.]*\).*/\1/p' "$1" | tail -1; }

"$bin" -c "load $model; transact --keep 0.7 --steps 3 --calib $tmp/calib.txt --max-tokens 4096 \
--eval $tmp/eval.txt --ctx 128 --export-dense $tmp/dense --export-small $tmp/small; \
ppl $tmp/eval.txt --ctx 128" >"$tmp/out" 2>&1
tap_check $? "transact --keep 0.7 runs and exports"
keep=$(sed -n 's/^transact: decoder linears: [0-9]* of [0-9]* parameters kept (keep \([0-9.]*\)).*/\1/p' "$tmp/out")
awk -v k="$keep" 'BEGIN { exit !(k != "" && k <= 0.7 && k > 0.65) }'
tap_check $? "decoder linears keep $keep: at most 0.7, near it"
grep -q '^transact: KV cache per token: 320 -> [0-9]* values' "$tmp/out"
tap_check $? "KV cache per token reported (320 before: 5 layers x 2 x 4 kv heads x 8)"
kv=$(sed -n 's/^transact: KV cache per token: 320 -> \([0-9]*\) values.*/\1/p' "$tmp/out")
test -n "$kv" && test "$kv" -lt 320; tap_check $? "KV cache smaller after pruning ($kv)"
p0=$(tppl_of "$tmp/out")
p1=$(ppl_of "$tmp/out")
tap_close "$p1" "$p0" 1e-9; tap_check $? "ppl measures the installed pruned model ($p0 / $p1)"

"$bin" -c "load $tmp/dense; ppl $tmp/eval.txt --ctx 128" >"$tmp/out2" 2>&1
p2=$(ppl_of "$tmp/out2")
tap_close "$p2" "$p0" 1e-4; tap_check $? "padded dense export gives the reported perplexity ($p0 / $p2)"
grep -q '"intermediate_size": 172' "$tmp/dense/config.json"; tap_check $? "dense export keeps the shapes"

"$bin" -c "load $tmp/small; tensors; ppl $tmp/eval.txt --ctx 128" >"$tmp/out3" 2>&1
p3=$(ppl_of "$tmp/out3")
tap_close "$p3" "$p0" 1e-4; tap_check $? "smaller export gives the reported perplexity ($p0 / $p3)"
grep -q '"rankscope_layer_ffn_dims"' "$tmp/small/config.json"; tap_check $? "per-layer MLP sizes in config.json"
n=$(sed -n 's/^transact: MLP neurons kept per layer (of 172): \([0-9]*\).*/\1/p' "$tmp/out")
grep -q "\"intermediate_size\": $n" "$tmp/small/config.json"
tap_check $? "smaller export's intermediate size is the kept $n"
test "$(stat -c %s "$tmp/small/model.safetensors")" -lt "$(stat -c %s "$tmp/dense/model.safetensors")"
tap_check $? "smaller export is smaller on disk"

# MLP only: a plain checkpoint, still the budget
"$bin" -c "load $model; transact --keep 0.8 --mlp-only --steps 2 --calib $tmp/calib.txt \
--max-tokens 4096 --eval $tmp/eval.txt --ctx 128 --export-small $tmp/small2" >"$tmp/out4" 2>&1
tap_check $? "transact --mlp-only runs"
grep -q '^transact: query/key pairs kept per layer (of 16): 16 16 16 16 16$' "$tmp/out4"
tap_check $? "--mlp-only keeps attention whole"
keep=$(sed -n 's/^transact: decoder linears: [0-9]* of [0-9]* parameters kept (keep \([0-9.]*\)).*/\1/p' "$tmp/out4")
awk -v k="$keep" 'BEGIN { exit !(k != "" && k <= 0.8 && k > 0.75) }'
tap_check $? "--mlp-only meets the budget from the MLPs alone (keep $keep)"
"$bin" -c "load $tmp/small2; ppl $tmp/eval.txt --ctx 128" >"$tmp/out5" 2>&1
tap_close "$(ppl_of "$tmp/out5")" "$(tppl_of "$tmp/out4")" 1e-4
tap_check $? "MLP-only smaller export gives the reported perplexity"

# a per-layer list that disagrees with the tensors is refused, one line naming the tensor
mkdir "$tmp/bad"
cp "$tmp/small2/model.safetensors" "$tmp/small2/tokenizer"* "$tmp/bad/" 2>/dev/null
awk '/"rankscope_layer_ffn_dims"/ { k = 1; print; next }
	k == 1 { sub(/[0-9]+/, "1"); k = 0 } { print }' "$tmp/small2/config.json" >"$tmp/bad/config.json"
"$bin" -c "load $tmp/bad" >"$tmp/out6" 2>&1
grep -q "gate_proj.weight': shape [0-9]* x 64, expected 1 x 64 from the config" "$tmp/out6"
tap_check $? "mismatching per-layer size refused"
sed 's/"rankscope_layer_ffn_dims": \[/"rankscope_layer_ffn_dims": [999999, /' \
    "$tmp/small2/config.json" >"$tmp/bad/config.json"
"$bin" -c "load $tmp/bad" >"$tmp/out7" 2>&1
grep -q "'rankscope_layer_ffn_dims' is not an array of 5 sizes" "$tmp/out7"
tap_check $? "wrong-length per-layer list refused"

"$bin" -c "load $model; transact --keep 0.5" >"$tmp/out8" 2>&1
grep -q 'transact: --calib FILE is required' "$tmp/out8"; tap_check $? "--calib required"
tap_done
