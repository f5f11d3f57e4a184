#!/bin/sh
# plot: real PNG, SVG and PDF files from a real gnuplot; its errors shown; a missing gnuplot
# named; failures leave the target as it was.
. "$RS_SRCDIR/tests/tap.sh"

command -v "${RS_GNUPLOT:-gnuplot}" >/dev/null 2>&1 || tap_skip_all "gnuplot not installed"
MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
export RS_DATADIR="$RS_SRCDIR/share" XDG_CACHE_HOME="$TMPD/cache"

# size FILE: bytes
size() { wc -c <"$1" | tr -d ' '; }

# The build tree's binary finds the templates by itself, also when the build is outside the
# sources (VPATH, make distcheck).
env -u RS_DATADIR "$RS_BIN" -c "plot plan --to $TMPD/plain.svg" "$MODEL" >/dev/null 2>"$TMPD/err" &&
    [ -s "$TMPD/plain.svg" ]
st=$?
[ $st -eq 0 ] || tap_diag "$(cat "$TMPD/err")"
tap_check $st "without RS_DATADIR the build-tree binary finds its gnuplot templates"

"$RS_BIN" -c "rank L1-3.* 64; rank *.down --keep 0.3; spectra L0.*;
	plot spectrum L0.* --to $TMPD/s.png; plot energy L0.q --to $TMPD/e.svg;
	plot plan --to $TMPD/p.pdf; plot heatmap --to $TMPD/h.png --title 'keep map'" \
	"$MODEL" >"$TMPD/out" 2>"$TMPD/err"
tap_check $? "four plots in one run exit 0"
[ -s "$TMPD/err" ] && tap_diag "stderr: $(cat "$TMPD/err")"

head -c 8 "$TMPD/s.png" | od -An -c | grep -q '211   P   N   G' && [ "$(size "$TMPD/s.png")" -gt 10000 ]
tap_check $? "spectrum PNG: PNG signature and over 10 kB"
head -c 200 "$TMPD/e.svg" | grep -Eq '<\?xml|<svg' && grep -q '</svg>' "$TMPD/e.svg" &&
	[ "$(size "$TMPD/e.svg")" -gt 5000 ] && grep -q 'L0.q weight' "$TMPD/e.svg"
tap_check $? "energy SVG: an XML/SVG document over 5 kB with the curve's legend"
head -c 5 "$TMPD/p.pdf" | grep -q '^%PDF-' && tail -c 64 "$TMPD/p.pdf" | grep -q '%%EOF' &&
	[ "$(size "$TMPD/p.pdf")" -gt 5000 ]
tap_check $? "plan PDF: %PDF header, %%EOF trailer, over 5 kB"
head -c 8 "$TMPD/h.png" | od -An -c | grep -q '211   P   N   G' && [ "$(size "$TMPD/h.png")" -gt 10000 ]
tap_check $? "heatmap PNG: PNG signature and over 10 kB"
grep -q "plot heatmap: wrote $TMPD/h.png" "$TMPD/out"
tap_check $? "each plot says what it wrote"
! ls "$TMPD" | grep -q '\.tmp\.'
tap_check $? "no temporary files are left behind"

"$RS_BIN" -c "plot spectrum --to $TMPD/none.png" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -ne 0 ] && grep -q "run 'spectra" "$TMPD/err" && [ ! -e "$TMPD/none.png" ]
tap_check $? "a spectrum plot without spectra says to run spectra"

"$RS_BIN" -c "plot plan --to $TMPD/x.jpg" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ] && grep -q 'must end in .png, .svg or .pdf' "$TMPD/err"
tap_check $? "an unknown extension is a usage error"

# alloc-trace: without a run it says what to run and fails; after a bo run it draws the trials
"$RS_BIN" -c "plot alloc-trace --to $TMPD/t0.png" "$MODEL" >"$TMPD/out" 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q "run 'alloc bo' or 'alloc sensitivity' first" "$TMPD/err" && [ ! -e "$TMPD/t0.png" ]
tap_check $? "alloc-trace without a run: one line saying what to run, exit 1, no file"
"$RS_BIN" -c "spectra; budget --keep 0.5; alloc bo --objective proxy --trials 8 --seed 2;
	plot alloc-trace --to $TMPD/t.png; plot alloc-trace --to $TMPD/t.svg" "$MODEL" >"$TMPD/out" 2>"$TMPD/err" &&
	grep -q "plot alloc-trace: wrote $TMPD/t.png" "$TMPD/out" &&
	[ "$(head -c 8 "$TMPD/t.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ] &&
	[ "$(grep -c '<path' "$TMPD/t.svg")" -gt 20 ] && grep -q 'best so far' "$TMPD/t.svg" &&
	grep -q 'greedyrel' "$TMPD/t.svg"
tap_check $? "alloc-trace after 8 bo trials writes a PNG (and an SVG with the trials, the best so far and the heuristic plans)"

cp "$TMPD/p.pdf" "$TMPD/keep.pdf"
RS_GNUPLOT="$TMPD/no-such-gnuplot" "$RS_BIN" -c "plot plan --to $TMPD/p.pdf" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && [ "$(wc -l <"$TMPD/err")" -eq 1 ] && grep -q 'gnuplot is not installed' "$TMPD/err" &&
	cmp -s "$TMPD/p.pdf" "$TMPD/keep.pdf"
tap_check $? "a missing gnuplot is one clear line, and the old file stays"
tap_diag "$(cat "$TMPD/err")"

# A template with an error: gnuplot's own message comes through, the target is untouched.
mkdir -p "$TMPD/share/gnuplot"
cp "$RS_SRCDIR"/share/gnuplot/*.gp "$TMPD/share/gnuplot/"
printf 'set frobnicate 3\nplot $plan using 1:7 with boxes\n' >"$TMPD/share/gnuplot/plan.gp"
RS_DATADIR="$TMPD/share" "$RS_BIN" -c "plot plan --to $TMPD/p.pdf" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q 'gnuplot failed (exit 1)' "$TMPD/err" && grep -q 'frobnicate' "$TMPD/err" &&
	cmp -s "$TMPD/p.pdf" "$TMPD/keep.pdf"
tap_check $? "gnuplot's own error is shown and the old file stays"
tap_diag "$(cat "$TMPD/err")"

rm -f "$TMPD/share/gnuplot/heatmap.gp"
RS_DATADIR="$TMPD/share" "$RS_BIN" -c "plot heatmap --to $TMPD/h2.png" "$MODEL" >/dev/null 2>"$TMPD/err"
# the installed or in-tree template may still be found; either it worked or it named the file
if [ -e "$TMPD/h2.png" ]; then true; else grep -q 'heatmap.gp not found' "$TMPD/err"; fi
tap_check $? "a missing template is found elsewhere or named in the error"

tap_done
