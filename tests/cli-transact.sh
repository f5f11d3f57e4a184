#!/bin/sh
# cli-transact.sh: the transact plugin (TransAct structured pruning) on stories260K.  It prunes
# MLP neurons and attention inner dimensions to a parameter budget, installs the result for
# `ppl`, and its exports load back: the zero-padded dense folder and the smaller folder
# (per-layer MLP sizes and per-head attention sizes in config.json, q/k/v/o really smaller)
# give the perplexity transact reported within 1e-4 relative; the smaller folder calibrates;
# an MLP-only run's smaller folder is a plain Hugging Face checkpoint; per-layer size or pair
# lists that are malformed or do not match the tensors are refused with a one-line cause; its
# exports keep the core's rules (never into the source model's folder, failures exit 1).
. "${RS_SRCDIR:-.}/tests/tap.sh"

bin=${RS_BIN:-./rankscope}
build=$(dirname "$bin")
tmp=$TMPD
export RANKSCOPE_PLUGIN_PATH="$build/plugins/.libs"
export OPENBLAS_NUM_THREADS=1 XDG_CACHE_HOME="$tmp/cache"
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

# attention really smaller: stories260K has 8 query heads, 4 kv heads of 8 (4 pairs each);
# layer 0's q is 2 pairs x 2 query heads per kept kv pair, k 2 per pair, v and o the value dims
grep -q '"rankscope_layer_qk_pairs"' "$tmp/small/config.json" &&
    grep -q '"rankscope_layer_v_dims"' "$tmp/small/config.json" &&
    grep -q '"head_dim": 8' "$tmp/small/config.json"
tap_check $? "per-head attention lists in config.json, head_dim the original 8"
pq=$(sed -n 's/^transact: query\/key pairs kept per layer (of 16): \([0-9]*\).*/\1/p' "$tmp/out")
pv=$(sed -n 's/^transact: value\/output dims kept per layer (of 32): \([0-9]*\).*/\1/p' "$tmp/out")
shape() { awk -v t="$1" '$1 == t { print $3 }' "$tmp/out3"; }
test -n "$pq" && test "$pq" -lt 16 && test -n "$pv" && test "$pv" -lt 32 &&
    test "$(shape L0.q)" = "$((4 * pq))x64" && test "$(shape L0.k)" = "$((2 * pq))x64" &&
    test "$(shape L0.v)" = "${pv}x64" && test "$(shape L0.o)" = "64x$((2 * pv))"
tap_check $? "q/k/v/o smaller: $(shape L0.q) $(shape L0.k) $(shape L0.v) $(shape L0.o) ($pq pairs, $pv value dims)"
"$bin" -c "load $tmp/small; calibrate $tmp/calib.txt --ctx 128" >"$tmp/outc" 2>&1
grep -q '^calibrate: 5 layers computed' "$tmp/outc"; tap_check $? "smaller export calibrates"

# a hard budget empties some heads (no pair, no value dim): still exact
"$bin" -c "load $model; transact --keep 0.25 --steps 2 --calib $tmp/calib.txt --max-tokens 2048 \
--eval $tmp/eval.txt --ctx 128 --export-small $tmp/small3; load $tmp/small3; \
ppl $tmp/eval.txt --ctx 128" >"$tmp/out9" 2>&1
tap_close "$(ppl_of "$tmp/out9")" "$(tppl_of "$tmp/out9")" 1e-4 &&
    grep -q '\[\]' "$tmp/small3/config.json" &&
    grep -A30 '"rankscope_layer_v_dims"' "$tmp/small3/config.json" | grep -q '^ *0,\{0,1\}$'
tap_check $? "keep 0.25: heads without pairs or value dims, smaller export gives the reported perplexity ($(tppl_of "$tmp/out9") / $(ppl_of "$tmp/out9"))"

# malformed or mismatching attention lists are refused with one line
mkdir "$tmp/badq"
cp "$tmp/small/model.safetensors" "$tmp/small/tokenizer"* "$tmp/badq/" 2>/dev/null
# bad_cfg KEY AWKSUB: apply AWKSUB to the first number after KEY in the smaller config
bad_cfg() {
	awk -v key="\"$1\"" -v how="$2" 'index($0, key) { k = 1; print; next }
	k == 1 && match($0, /[0-9]+/) { n = substr($0, RSTART, RLENGTH)
		v = how == "big" ? 99 : how == "zero" ? (n == 0 ? 1 : n - 1) : n
		sub(/[0-9]+/, v); k = 0 } { print }' "$tmp/small/config.json" >"$tmp/badq/config.json"
}
bad_cfg rankscope_layer_qk_pairs big
"$bin" -c "load $tmp/badq" >"$tmp/outq1" 2>&1
grep -q "'rankscope_layer_qk_pairs'\[0\]\[0\]\[0\] is not a pair index in \[0, 4) above the previous one" "$tmp/outq1"
tap_check $? "out-of-range pair index refused"
bad_cfg rankscope_layer_v_dims big
"$bin" -c "load $tmp/badq" >"$tmp/outq2" 2>&1
grep -q "'rankscope_layer_v_dims'\[0\]\[0\] is not a count in \[0, head_dim 8\]" "$tmp/outq2"
tap_check $? "out-of-range value dim count refused"
bad_cfg rankscope_layer_v_dims zero
"$bin" -c "load $tmp/badq" >"$tmp/outq3" 2>&1
grep -q "v_proj.weight': shape [0-9]* x 64, expected [0-9]* x 64 from the config" "$tmp/outq3"
tap_check $? "value dim count disagreeing with the tensor refused"
sed 's/"rankscope_layer_v_dims"/"rankscope_layer_v_dimz"/' "$tmp/small/config.json" >"$tmp/badq/config.json"
"$bin" -c "load $tmp/badq" >"$tmp/outq4" 2>&1
grep -q "'rankscope_layer_qk_pairs' without 'rankscope_layer_v_dims'" "$tmp/outq4"
tap_check $? "pair lists without value dims refused"
for f in "$tmp"/outq1 "$tmp"/outq2 "$tmp"/outq3 "$tmp"/outq4; do
	test "$(grep -c "$tmp/badq" "$f")" -eq 1 || break
done
tap_check $? "each refusal is one line naming the config"
"$bin" -c "load $tmp/small; transact --keep 0.5 --calib $tmp/calib.txt" >"$tmp/outq5" 2>&1
grep -q "not the config's .*(an already pruned export)" "$tmp/outq5"
tap_check $? "transact refuses an already pruned export"

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

# a plugin's export goes through the core's export folder rules: never into the source
# model's folder (a copy here), a failed export is exit 1, and nothing is written
cp -r "$model" "$tmp/src"
ls -A "$tmp/src" >"$tmp/src.before"
"$bin" -c "load $tmp/src; transact --keep 0.8 --steps 1 --calib $tmp/calib.txt --max-tokens 2048 \
--export-small $tmp/src/sub" >"$tmp/out10" 2>"$tmp/err10"
rc=$?
ls -A "$tmp/src" | cmp -s - "$tmp/src.before" &&
    test "$(grep -c "source model's folder" "$tmp/err10")" = 1 &&
    test "$(grep -c '^export:' "$tmp/err10")" = 1
tap_check $? "transact --export-small into the source folder: refused, one line, nothing written \
(exit $rc: $(grep '^export:' "$tmp/err10" | sed "s|$tmp/||g"))"
test $rc = 1; tap_check $? "... and exit 1"
"$bin" -c "load $tmp/src; transact --keep 0.8 --steps 1 --calib $tmp/calib.txt --max-tokens 2048 \
--export-dense $tmp/src" >"$tmp/out11" 2>"$tmp/err11"
rc=$?
ls -A "$tmp/src" | cmp -s - "$tmp/src.before" && ! ls -d "$tmp"/src.tmp.* >/dev/null 2>&1 &&
    test $rc = 1 && grep -q "source model's folder" "$tmp/err11"
tap_check $? "transact --export-dense onto the source folder itself: refused, exit $rc, nothing written"
"$bin" -c "load $model; transact --keep 0.8 --steps 1 --calib $tmp/calib.txt --max-tokens 2048 \
--export-small $tmp/calib.txt/x" >"$tmp/out12" 2>"$tmp/err12"
rc=$?
test $rc = 1 && grep -q "is not a folder" "$tmp/err12"
tap_check $? "transact --export-small under a file: exit $rc, $(grep '^export:' "$tmp/err12" | sed "s|$tmp/||g")"
tap_done
