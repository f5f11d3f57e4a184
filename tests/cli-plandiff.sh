#!/bin/sh
# 'plan diff FILE [FILE2]': two plans side by side on the bundled kjv-llama: per matrix rank,
# parameters and predicted error of each, the matrices that differ, totals.  References: the
# parameter counts from the shapes (r * (m + n), m * n dense) in shell arithmetic, the errors
# from 'plan show' of each plan loaded.
. "$RS_SRCDIR/tests/tap.sh"
MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
export XDG_CACHE_HOME="$TMPD/cache"

# A: every q at rank 64.  B: every q at 32 and L0.up (768x256) at 128.
"$RS_BIN" -c "load $MODEL; rank *.q 64; plan save $TMPD/a.json; rank *.q 32; rank L0.up 128; plan save $TMPD/b.json" \
	>"$TMPD/save" 2>&1
tap_check $? "two plans saved"

"$RS_BIN" -c "load $MODEL; spectra; plan diff $TMPD/a.json $TMPD/b.json" >"$TMPD/d" 2>&1
tap_check $? "plan diff FILE FILE2 runs"
grep -q "^A: $TMPD/a.json\$" "$TMPD/d" && grep -q "^B: $TMPD/b.json\$" "$TMPD/d"
tap_check $? "it names A and B"
awk '$1 == "*" { print $2 }' "$TMPD/d" | tr '\n' ' ' >"$TMPD/rows"
[ "$(cat "$TMPD/rows")" = "L0.q L0.up L1.q L2.q L3.q L4.q L5.q " ] &&
	grep -q '^7 of 42 matrices differ$' "$TMPD/d"
tap_check $? "the 7 matrices that differ, marked *, and '7 of 42 matrices differ' ($(cat "$TMPD/rows"))"
# L0.q 256x256: 64 * 512 and 32 * 512; L0.up 768x256: dense 196608, 128 * 1024
grep -Eq "^\\* L0\\.q +64 +32 +$((64 * 512)) +$((32 * 512)) +0\\.[0-9]{6} +0\\.[0-9]{6}\$" "$TMPD/d" &&
	grep -Eq "^\\* L0\\.up +dense +128 +$((768 * 256)) +$((128 * 1024)) +0\\.000000 +0\\.[0-9]{6}\$" "$TMPD/d"
tap_check $? "L0.q and L0.up: ranks, parameters (r(m+n), mn) and errors of both plans"
dense=4718592
pa=$((dense - 6 * (65536 - 64 * 512)))
pb=$((dense - 6 * (65536 - 32 * 512) - (196608 - 128 * 1024)))
grep -Eq "^  total +$pa +$pb +0\\.[0-9]{6} +0\\.[0-9]{6}  \\(mean error over 42 matrices\\)\$" "$TMPD/d" &&
	grep -q "^decoder linears kept: A $pa, B $pb of $dense dense .*; B $((pb - pa)))\$" "$TMPD/d"
tap_check $? "totals: A keeps $pa, B $pb (B $((pb - pa)))"

# Errors against 'plan show' of each plan loaded (same spectra, another command).
"$RS_BIN" -c "load $MODEL; spectra; plan load $TMPD/a.json; plan show --all; plan load $TMPD/b.json; plan show --all" \
	>"$TMPD/show" 2>&1
awk '$1 ~ /^L[0-9]+\.[a-z]+$/ && NF == 6 { n++; if (n <= 42) a[$1] = $6; else b[$1] = $6 }
	END { print a["L0.q"], b["L0.q"], b["L0.up"] }' "$TMPD/show" >"$TMPD/ref"
read -r ea eb eu <"$TMPD/ref"
grep -Eq "^\\* L0\\.q .* $ea +$eb\$" "$TMPD/d" && grep -Eq "^\\* L0\\.up .* 0\\.000000 +$eu\$" "$TMPD/d"
tap_check $? "the error columns equal 'plan show' of each plan (L0.q $ea, $eb; L0.up $eu)"
awk '$1 ~ /^L[0-9]+\.[a-z]+$/ && NF == 6 { n++; if (n <= 42) sa += $6; else sb += $6 }
	END { printf "%.6f %.6f\n", sa / 42, sb / 42 }' "$TMPD/show" >"$TMPD/mean"
read -r ma mb <"$TMPD/mean"
awk -v a="$ma" -v b="$mb" '$1 == "total" { da = $4 - a; db = $5 - b; if (da < 0) da = -da;
	if (db < 0) db = -db; ok = da <= 2e-6 && db <= 2e-6 } END { exit !ok }' "$TMPD/d"
tap_check $? "the mean errors are the means of 'plan show' ($ma, $mb)"

# One file: the current plan is A.
"$RS_BIN" -c "load $MODEL; plan load $TMPD/b.json; plan diff $TMPD/a.json" >"$TMPD/d1" 2>&1
grep -q '^A: the current plan$' "$TMPD/d1" && grep -Eq "^\\* L0\\.q +32 +64 " "$TMPD/d1" &&
	grep -q '^7 of 42 matrices differ$' "$TMPD/d1" && grep -q '^error: no spectra yet' "$TMPD/d1"
tap_check $? "plan diff FILE compares the current plan (A) with FILE (B); no spectra: '-' errors"
"$RS_BIN" -c "load $MODEL; plan diff $TMPD/a.json $TMPD/b.json --all" >"$TMPD/d2" 2>&1
[ "$(grep -Ec '^[* ] L[0-9]+\.[a-z]+ ' "$TMPD/d2")" = 42 ] &&
	grep -Eq '^  L0\.k +dense +dense +32768 +32768 +- +-$' "$TMPD/d2"
tap_check $? "--all lists all 42 matrices, equal ones unmarked"

# Usage and file errors.
"$RS_BIN" -c "load $MODEL; plan diff" >"$TMPD/u" 2>&1
[ $? -eq 2 ] && grep -q 'usage: plan diff FILE \[FILE2\]' "$TMPD/u"
tap_check $? "plan diff without a file is a usage error (exit 2)"
"$RS_BIN" -c "load $MODEL; plan diff $TMPD/a.json $TMPD/none.json" >"$TMPD/u" 2>&1
[ $? -eq 1 ] && grep -q "none\\.json" "$TMPD/u"
tap_check $? "a missing second file fails (exit 1) naming it"

tap_done
