#!/bin/sh
# Compression through the command line on kjv-llama (F32 copy from the fixtures, and the bundled
# BF16 folder): methods against plain SVD, export round trips, plan files, refusals, and plan
# edits previewed from the spectra without recomputing them.
. "$RS_SRCDIR/tests/tap.sh"
tap_need_fixture kjv-llama-f32/config.json
tap_need_fixture stories260K/hf/config.json
M32="$RS_FIXTURES/kjv-llama-f32"
MODEL="$RS_SRCDIR/share/models/kjv-llama"
EVAL="$RS_SRCDIR/share/texts/kjv-eval.txt"
CALIB="$RS_SRCDIR/share/texts/kjv-calib.txt"
CAL="calibrate $CALIB --ctx 128 --max-tokens 4096 --groups 4"
PPL="--ctx 128 --chunks 6"

ppl_final() {
	sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- .*/\1/p' "$1" | tail -n "${2:-1}" | head -n 1
}

# 1. The four methods at keep 0.6; feature and whiten beat plain SVD.
"$RS_BIN" -c "load $M32; set threads 1; $CAL; rank * --keep 0.6; set method svd; ppl $EVAL $PPL; set method feature; ppl $EVAL $PPL; set method whiten; ppl $EVAL $PPL; set method asvd; ppl $EVAL $PPL; set method whiten; rank * --keep 0.5; ppl $EVAL $PPL" >"$TMPD/m" 2>"$TMPD/m.err"
tap_check $? "four methods evaluate"
svd=$(ppl_final "$TMPD/m" 5); feat=$(ppl_final "$TMPD/m" 4); wh=$(ppl_final "$TMPD/m" 3); asvd=$(ppl_final "$TMPD/m" 2)
tap_diag "keep 0.6, 6 windows of 128: svd $svd, feature $feat, whiten $wh, asvd $asvd"
awk -v s="$svd" -v f="$feat" -v w="$wh" 'BEGIN { exit !(s > 0 && f > 0 && w > 0 && f < s && w < s) }'
tap_check $? "feature ($feat) and whiten ($wh) beat plain svd ($svd)"
grep -q '^ppl: evaluating the plan: 42 of 42 decoder matrices factored, method asvd (alpha 0.5), with the session' "$TMPD/m"
tap_check $? "ppl names the plan and method it evaluates"
grep -q '^factors: 0 decompositions run, 42 pairs cut from cached factors' "$TMPD/m.err"
tap_check $? "a rank change (keep 0.6 -> 0.5) cuts cached factors: no decomposition"

# 2. Round trips: dense folder (F32) and factored file give the in-memory plan's perplexity
# (an F32 source's factors are F32: exact).
for meth in whiten feature; do
	"$RS_BIN" -c "load $M32; set threads 1; $CAL; set method $meth; rank * --keep 0.7; rank L2.down dense; ppl $EVAL $PPL; export factored $TMPD/f-$meth; plan save $TMPD/p-$meth.json" >"$TMPD/e" 2>&1
	tap_check $? "$meth: export factored"
	mem=$(ppl_final "$TMPD/e")
	"$RS_BIN" -c "load $TMPD/f-$meth; ppl $EVAL $PPL" >"$TMPD/fl" 2>&1
	v=$(ppl_final "$TMPD/fl")
	tap_close "$v" "$mem" 1e-4
	tap_check $? "$meth: factored file loaded again: PPL $v = in-memory $mem within 1e-4"
done
# The bundled BF16 model: factors in BF16 by default (about half the F32 size), reloaded
# within 2^-8 relative (BF16 rounding of A and B, 2^-9 each: export.h); --dtype f32 exactly.
"$RS_BIN" -c "load $MODEL; set threads 1; $CAL; set method feature; rank * --keep 0.8; ppl $EVAL $PPL; export factored $TMPD/fb; export factored $TMPD/ff --dtype f32" >"$TMPD/e" 2>&1
tap_check $? "BF16 source: export factored, default and --dtype f32"
mem=$(ppl_final "$TMPD/e")
# st_header FILE: the JSON header of a safetensors file (its length: the first 8 bytes, LE)
st_header() {
	n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
	head -c $((8 + n)) "$1" | tail -c "$n"
}
hb=$(st_header "$TMPD/fb/factors.safetensors")
hf=$(st_header "$TMPD/ff/factors.safetensors")
sb=$(stat -c %s "$TMPD/fb/factors.safetensors"); sf=$(stat -c %s "$TMPD/ff/factors.safetensors")
case $hb in *'"F32"'*) false ;; *'"BF16"'*) true ;; *) false ;; esac &&
	case $hf in *'"BF16"'*) false ;; *'"F32"'*) true ;; *) false ;; esac &&
	awk -v b="$sb" -v f="$sf" 'BEGIN { exit !(b < 0.51 * f) }'
tap_check $? "factors in BF16 by default ($sb bytes), F32 with --dtype f32 ($sf bytes)"
"$RS_BIN" -c "load $TMPD/fb; ppl $EVAL $PPL; load $TMPD/ff; ppl $EVAL $PPL" >"$TMPD/fl" 2>&1
vb=$(ppl_final "$TMPD/fl" 2); vf=$(ppl_final "$TMPD/fl")
tap_close "$vb" "$mem" 0.00390625
tap_check $? "BF16 factors loaded again: PPL $vb = in-memory $mem within 2^-8"
test -n "$vf" && test "$vf" = "$mem"
tap_check $? "F32 factors loaded again: PPL $vf = in-memory $mem exactly"

"$RS_BIN" -c "load $M32; set threads 1; $CAL; set method whiten; rank * --keep 0.7; rank L2.down dense; ppl $EVAL $PPL; export dense $TMPD/d" >"$TMPD/e" 2>&1
tap_check $? "whiten: export dense"
mem=$(ppl_final "$TMPD/e")
"$RS_BIN" -c "load $TMPD/d; ppl $EVAL $PPL" >"$TMPD/dl" 2>&1
v=$(ppl_final "$TMPD/dl")
tap_close "$v" "$mem" 1e-4
tap_check $? "whiten: dense folder loaded again: PPL $v = in-memory $mem within 1e-4"
test -f "$TMPD/d/config.json" && test -f "$TMPD/d/tokenizer.model" && test -f "$TMPD/d/tokenizer.json" &&
	grep -q '"torch_dtype": "float32"' "$TMPD/d/config.json"
tap_check $? "dense folder: config.json (torch_dtype float32) and tokenizer files"
"$RS_BIN" -c "load $MODEL; set threads 1; $CAL; set method feature; rank * --keep 0.7; export dense $TMPD/fd" >"$TMPD/e" 2>&1
grep -q '"attention_bias": true' "$TMPD/fd/config.json" && grep -q '"mlp_bias": true' "$TMPD/fd/config.json" &&
	grep -q '"torch_dtype": "bfloat16"' "$TMPD/fd/config.json" &&
	grep -q '57 tensors (42 from factors, 0 biases)\|99 tensors (42 from factors, 42 biases)' "$TMPD/e"
tap_check $? "feature, BF16 source: dense folder with q..down biases, attention_bias/mlp_bias, bfloat16"
"$RS_BIN" -c "load $M32; set threads 1; $CAL; set method feature; rank * --keep 0.7; ppl $EVAL $PPL; export dense $TMPD/fd32" >"$TMPD/e" 2>&1
mem=$(ppl_final "$TMPD/e")
"$RS_BIN" -c "load $TMPD/fd32; info; ppl $EVAL $PPL" >"$TMPD/dl" 2>&1
v=$(ppl_final "$TMPD/dl")
grep -q '^biases: *q k v o gate up down$' "$TMPD/dl" && tap_close "$v" "$mem" 1e-4
tap_check $? "feature: dense folder with its biases loaded again: PPL $v = in-memory $mem within 1e-4"
ls -d "$TMPD"/*.tmp.* >/dev/null 2>&1
test $? -ne 0
tap_check $? "no temporary folders left behind"

# 3. Plan files round-trip exactly; another model's plan is refused.
"$RS_BIN" -c "load $MODEL; set rank-align 1; rank *.q 61; rank L1-3.up --keep 0.5; set method feature; plan save $TMPD/a.json; plan save $TMPD/a.csv; plan reset; plan load $TMPD/a.csv; plan save $TMPD/b.json; plan reset; set rank-align 8; plan load $TMPD/a.json; plan save $TMPD/b.csv; plan diff $TMPD/a.json" >"$TMPD/pf" 2>&1
tap_check $? "plan save/load/diff"
cmp -s "$TMPD/a.json" "$TMPD/b.json" && cmp -s "$TMPD/a.csv" "$TMPD/b.csv"
tap_check $? "JSON and CSV plan files round-trip byte for byte"
grep -q '^0 of 42 matrices differ' "$TMPD/pf"
tap_check $? "plan diff against the file just loaded: nothing differs"
"$RS_BIN" -c "load $RS_FIXTURES/stories260K/hf; plan load $TMPD/a.json" >"$TMPD/o" 2>&1
test $? -ne 0 && grep -q 'made for another model.*dim 256 (loaded 64)' "$TMPD/o"
tap_check $? "a plan for another model is refused with the reason"

# 4. Exports refuse the source folder and non-empty targets.
# A refused or failed export is a failed command (exit 1), not a usage error (2).
"$RS_BIN" -c "load $M32; export dense $M32" >"$TMPD/x" 2>&1
test $? -eq 1 && grep -q "source model's folder" "$TMPD/x"
tap_check $? "export into the source folder is refused (exit 1)"
"$RS_BIN" -c "load $M32; export dense $TMPD/d" >"$TMPD/x" 2>&1
test $? -eq 1 && grep -q 'exists and is not empty' "$TMPD/x"
tap_check $? "export into a non-empty folder is refused (exit 1)"
for kind in dense factored; do
	"$RS_BIN" -c "load $MODEL; export $kind $TMPD/missing/x/y" >"$TMPD/x" 2>"$TMPD/x.err"
	rc=$?
	test $rc -eq 1 && grep -q "^export: cannot create $TMPD/missing/x/y: .*No such file" "$TMPD/x.err"
	tap_check $? "export $kind into a missing parent: exit $rc, one line naming it"
	"$RS_BIN" -c "load $MODEL; export $kind $CALIB/x" >"$TMPD/x" 2>"$TMPD/x.err"
	rc=$?
	test $rc -eq 1 && grep -q "is not a folder" "$TMPD/x.err"
	tap_check $? "export $kind under a file: exit $rc"
done
test ! -e "$TMPD/missing" && ! ls -d "$CALIB".* >/dev/null 2>&1
tap_check $? "failed exports wrote nothing"

# 5. A plan edit shows in `plan show` and `error` from the spectra, without recomputing them.
"$RS_BIN" -c "load $MODEL; set threads 1; spectra; rank L0.q 32; plan show L0.q; error L0.q 32; rank L0.q 96; plan show L0.q; error L0.q 96; spectra" >"$TMPD/s" 2>&1
tap_check $? "spectra, edits, plan show, error"
e1=$(awk '$1 == "L0.q" && $3 == 32 { print $6 }' "$TMPD/s")
e2=$(awk '$1 == "L0.q" && $3 == 96 { print $6 }' "$TMPD/s")
awk -v a="$e1" -v b="$e2" 'BEGIN { exit !(a > 0 && b > 0 && b < a) }'
tap_check $? "plan show follows the edit: error $e1 at rank 32, $e2 at rank 96"
grep -q "^L0.q rank 96: weight $e2" "$TMPD/s"
tap_check $? "error L0.q 96 agrees with plan show"
tail -n 1 "$TMPD/s" | grep -q '0 computed, 0 from cache, 42 already in the session'
tap_check $? "spectra afterwards: nothing recomputed (42 already in the session)"

tap_done
