#!/bin/sh
# export gguf on the bundled kjv-llama without ../shared (no llama.cpp peer needed; the checks
# against llama.cpp are tests/cli-gguf.sh): the F32 export of a feature plan at keep 0.8, loaded
# back, gives the in-memory plan's perplexity (llama.cpp protocol) within 1e-4 relative and shows
# the plan in info; the dense BF16 export gives the source's perplexity exactly; an export over
# the source and an unknown dtype are refused in one line and leave the target untouched.
. "$RS_SRCDIR/tests/tap.sh"

MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
EVAL="$RS_SRCDIR/share/texts/kjv-eval.txt"
CALIB="$RS_SRCDIR/share/texts/kjv-calib.txt"
export XDG_CACHE_HOME="$TMPD/cache" OPENBLAS_NUM_THREADS=1
PPL="ppl '$EVAL' --protocol llama.cpp --ctx 128 --chunks 4"

# final FILE: the X of "Final estimate: PPL = X +/- Y" (the last one).
final() {
	sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- .*/\1/p' "$1" | tail -n 1
}

# close A B TOL: |A - B| <= TOL |B|.
close() {
	awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
		exit !(a != "" && b != "" && d <= t * b) }'
}

"$RS_BIN" -c "load '$MODEL'; set method feature; calibrate '$CALIB' --ctx 128 --max-tokens 4096; \
rank '*' --keep 0.8; $PPL; export gguf '$TMPD/f.gguf' --dtype f32; $PPL" >"$TMPD/plan.out" 2>&1
st=$?
[ $st -eq 0 ] && [ -s "$TMPD/f.gguf" ] && ! ls "$TMPD"/f.gguf.tmp.* >/dev/null 2>&1
tap_check $? "export gguf --dtype f32 of a feature plan at keep 0.8 (status $st), no temporary left"
"$RS_BIN" -c "load '$TMPD/f.gguf'; info; $PPL" >"$TMPD/back.out" 2>&1
a=$(final "$TMPD/plan.out")
b=$(final "$TMPD/back.out")
close "$b" "$a" 1e-4
tap_check $? "the export loaded back gives the plan's perplexity within 1e-4 ($b against $a)"
grep -Eq '^plan: +method feature, 42 of 42 decoder matrices factored .*rankscope\.plan' "$TMPD/back.out"
tap_check $? "info on the export shows the plan it carries (method, 42 of 42 factored)"

"$RS_BIN" -c "load '$MODEL'; $PPL; export gguf '$TMPD/d.gguf'" >"$TMPD/dense.out" 2>&1 &&
	"$RS_BIN" -c "load '$TMPD/d.gguf'; $PPL" >"$TMPD/dback.out" 2>&1
a=$(final "$TMPD/dense.out")
b=$(final "$TMPD/dback.out")
[ -n "$a" ] && [ "$a" = "$b" ]
tap_check $? "the dense export in the source's BF16 gives the source's perplexity exactly ($b, $a)"

cksum <"$TMPD/d.gguf" >"$TMPD/sum1"
"$RS_BIN" -c "load '$TMPD/d.gguf'; export gguf '$TMPD/d.gguf'" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ $st -eq 1 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'd.gguf is the source model' "$TMPD/err" &&
	cksum <"$TMPD/d.gguf" | cmp -s - "$TMPD/sum1"
tap_check $? "an export over its source is refused in one line naming it (status $st), the file untouched"
"$RS_BIN" -c "load '$MODEL'; export gguf '$TMPD/d.gguf' --dtype fp8" >"$TMPD/out" 2>"$TMPD/err"
st=$?
[ $st -eq 2 ] && grep -q "dtype is f32, f16, bf16 or q8_0, not 'fp8'" "$TMPD/err" &&
	cksum <"$TMPD/d.gguf" | cmp -s - "$TMPD/sum1"
tap_check $? "--dtype fp8 is a usage error naming the choices (status $st), the target untouched"
tap_done
