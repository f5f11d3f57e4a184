#!/bin/sh
# plot: real PNG, SVG and PDF files from a real gnuplot; its errors shown; a missing gnuplot
# named; failures leave the target as it was.  The scripts sent to gnuplot (--script, saved
# before gnuplot runs) are checked without gnuplot: a panel per matrix type present, the colour
# bar, points at the plan's ranks read from `spectra export`, the heat map's text colour switch.
. "$RS_SRCDIR/tests/tap.sh"

MODEL="$RS_SRCDIR/share/models/kjv-llama"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled model missing"
export RS_DATADIR="$RS_SRCDIR/share" XDG_CACHE_HOME="$TMPD/cache"

# size FILE: bytes
size() { wc -c <"$1" | tr -d ' '; }
# is_png FILE: the PNG signature
is_png() { head -c 8 "$1" | od -An -c | grep -q '211   P   N   G'; }
# png_size FILE: "WIDTHxHEIGHT" from the IHDR chunk (big-endian words at bytes 16 and 20)
png_size() {
	od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", (($1*256+$2)*256+$3)*256+$4,
		(($5*256+$6)*256+$7)*256+$8 }'
}
# block NAME FILE: the rows of datablock $NAME in a gnuplot script
block() { sed -n "/^\\\$$1 << EOD\$/,/^EOD\$/p" "$2" | sed '1d;$d'; }

# ---- the scripts (no gnuplot needed: a missing one still leaves the script)
NOGP="$TMPD/no-such-gnuplot"
"$RS_BIN" -c "spectra; spectra export $TMPD/w.csv" "$MODEL" >/dev/null 2>"$TMPD/err"
tap_check $? "weight spectra of every matrix, exported"
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "rank *.q 32; rank L1.down 64; spectra --cached;
	plot spectrum --script $TMPD/all.gp --to $TMPD/all.png" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q 'gnuplot is not installed' "$TMPD/err" && [ -s "$TMPD/all.gp" ] &&
	[ ! -e "$TMPD/all.png" ]
tap_check $? "--script saves the script even when gnuplot is missing (and no plot appears)"

# one panel per type present, named with its shape, in type order
grep -q '^P = 7$' "$TMPD/all.gp" &&
	[ "$(sed -n "s/^PNAME\[\([0-9]\)\] = '\([a-z]*\)  (\([0-9]*\)×\([0-9]*\))'\$/\1 \2 \3x\4/p" \
		"$TMPD/all.gp" | tr '\n' ' ')" = \
	"1 q 256x256 2 k 128x256 3 v 128x256 4 o 256x256 5 gate 768x256 6 up 768x256 7 down 256x768 " ]
tap_check $? "spectrum: seven panels, q k v o gate up down, with their shapes"
tap_diag "$(grep '^PNAME' "$TMPD/all.gp")"
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "spectra --cached; plot spectrum 'L*.[kv]' --raw --script $TMPD/kv.gp --to $TMPD/kv.png" \
	"$MODEL" >/dev/null 2>&1
grep -q '^P = 2$' "$TMPD/kv.gp" && [ "$(grep -c '^PNAME\[' "$TMPD/kv.gp")" -eq 2 ] &&
	grep -q "^PNAME\[1\] = 'k  " "$TMPD/kv.gp" && grep -q "^PNAME\[2\] = 'v  " "$TMPD/kv.gp"
tap_check $? "spectrum L*.[kv]: only the panels of the types present (k, v)"

# the colour bar: layers 0..5 on the ramp, drawn in the last slot; curves coloured by layer
grep -q '^LMIN = 0$' "$TMPD/all.gp" && grep -q '^LMAX = 5$' "$TMPD/all.gp" &&
	grep -q '^set cbrange \[LMIN - 0.5 : LMAX + 0.5\]' "$TMPD/all.gp" &&
	grep -q 'set colorbox horizontal user' "$TMPD/all.gp" &&
	grep -q 'lc palette cb LAYER\[j\]' "$TMPD/all.gp" &&
	[ "$(grep -c '^LAYER\[' "$TMPD/all.gp")" -eq 42 ]
tap_check $? "spectrum: a colour bar over layers 0..5 and a layer value for each of 42 curves"

# σ/σ1 by default: every curve starts at 1; --raw: the first value is σ1 of the export
block sv "$TMPD/all.gp" | awk '/^#/ { first = 1; next } NF == 0 { next }
	first { n++; if ($1 != 1 || $2 != 1) bad++; first = 0 } END { exit !(n == 42 && bad == 0) }'
tap_check $? "spectrum: normalised by default (each of 42 curves starts at σ1/σ1 = 1)"
s1=$(awk -F, '$1 == "L0.k" && $3 == 1 { print $4 }' "$TMPD/w.csv")
k1=$(block sv "$TMPD/kv.gp" | sed -n '2p' | awk '{ print $2 }')
grep -q '^NORM = 0$' "$TMPD/kv.gp" && tap_close "$k1" "$s1" 1e-6
tap_check $? "spectrum --raw: L0.k starts at σ1 = $s1 of 'spectra export' (script: $k1)"

# the plan's rank as a point per factored matrix, at σ_r/σ_1 of the exported spectrum
rows=$(block rk "$TMPD/all.gp")
want=$(awk -F, '$1 ~ /^L[0-5]\.q$/ && ($3 == 1 || $3 == 32) { s[$1, $3] = $4 }
	END { for (l = 0; l < 6; l++) printf "1 %d 32 %.6f\n", l, s["L" l ".q", 32] / s["L" l ".q", 1] }' \
	"$TMPD/w.csv")
got=$(printf '%s\n' "$rows" | awk '$1 == 1 { printf "%d %d %d %.6f\n", $1, $2, $3, $4 }')
[ "$got" = "$want" ] && printf '%s\n' "$rows" | grep -q '^7 1 64 ' &&
	[ "$(printf '%s\n' "$rows" | wc -l)" -eq 7 ] && grep -q '^NRK = 7$' "$TMPD/all.gp"
tap_check $? "spectrum: a point at each planned rank (6 x q at 32, L1.down at 64), at σ_r/σ_1 of the export"
[ "$got" = "$want" ] || tap_diag "want: $want" "got: $got"

# the heat map: text colour switched by the cell's value, err defined
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "spectra --cached; rank *.q 32; plot heatmap --script $TMPD/hm.gp --to $TMPD/hm.png" \
	"$MODEL" >/dev/null 2>&1
grep -q '^textcolour(keep) = keep < DARK_BELOW ? 0xffffff : 0x000000' "$TMPD/hm.gp" &&
	grep -q ':(textcolour(column(3)))' "$TMPD/hm.gp" && grep -q 'textcolor rgb variable' "$TMPD/hm.gp"
tap_check $? "heatmap: the cell text colour is switched by the cell's keep %"
grep -q "^ERRDESC = 'err = ‖W − Ŵ‖ / ‖W‖ (Frobenius) of the best approximation at the plan''s rank, predicted from the weight spectrum'" "$TMPD/hm.gp"
tap_check $? "heatmap: err is defined (weight spectra: ‖W − Ŵ‖/‖W‖ at the plan's rank)"
# err at rank 32 of L2.q is sqrt(sum_{i>32} σ² / sum σ²) of the exported spectrum
e=$(block hm "$TMPD/hm.gp" | awk '$1 == 0 && $2 == 2 { print $5 }')
ref=$(awk -F, '$1 == "L2.q" { t += $4 * $4; if ($3 > 32) r += $4 * $4 } END { printf "%.9g", sqrt(r / t) }' "$TMPD/w.csv")
tap_close "$e" "$ref" 1e-5
tap_check $? "heatmap: L2.q's err $e is the tail energy of the exported spectrum past rank 32 ($ref)"

# after a calibration: the feature spectra the method previews with, named in the subtitle
CAL="calibrate '$RS_SRCDIR/share/texts/kjv-calib.txt' --ctx 64 --max-tokens 512"
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "$CAL; spectra; plot spectrum --script $TMPD/fc.gp --to $TMPD/x.png" \
	"$MODEL" >/dev/null 2>&1
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "set method whiten; $CAL; spectra; plot energy --script $TMPD/fu.gp --to $TMPD/x.png" \
	"$MODEL" >/dev/null 2>&1
RS_GNUPLOT="$NOGP" "$RS_BIN" -c "set method whiten; $CAL; spectra; plot spectrum --kind weight --script $TMPD/fw.gp --to $TMPD/x.png" \
	"$MODEL" >/dev/null 2>&1
grep -q "^SUBTITLE = 'feature spectra σ(W·S), S Sᵀ = centred covariance; method svd'\$" "$TMPD/fc.gp" &&
	grep -q "^SUBTITLE = 'feature spectra σ(W·S), S Sᵀ = uncentred Gram; method whiten'\$" "$TMPD/fu.gp" &&
	grep -q "^SUBTITLE = 'weight spectra σ(W); method whiten'\$" "$TMPD/fw.gp" &&
	grep -q "^TITLE = 'kjv-llama — energy kept by rank'\$" "$TMPD/fu.gp"
tap_check $? "calibrated: feature spectra by default (centred; uncentred for whiten), --kind weight overrides; the title says which and the method"
grep -h '^SUBTITLE' "$TMPD/fc.gp" "$TMPD/fu.gp" "$TMPD/fw.gp" | while read -r l; do tap_diag "$l"; done

"$RS_BIN" -c "plot plan --size 50x50 --to $TMPD/x.png" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ] && grep -q 'size wants' "$TMPD/err"
tap_check $? "a canvas under 100 pixels is a usage error"
"$RS_BIN" -c "plot spectrum --kind eigen --to $TMPD/x.png" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 2 ] && grep -q "kind 'eigen'" "$TMPD/err"
tap_check $? "an unknown --kind is a usage error"
"$RS_BIN" -c "spectra --cached; plot spectrum --kind feature --to $TMPD/x.png" "$MODEL" >/dev/null 2>"$TMPD/err"
[ $? -eq 1 ] && grep -q "no feature spectra computed.*calibrate" "$TMPD/err" && [ ! -e "$TMPD/x.png" ]
tap_check $? "feature spectra before a calibration: says to calibrate"

# ---- the pictures (gnuplot needed)
command -v "${RS_GNUPLOT:-gnuplot}" >/dev/null 2>&1 || tap_skip_all "gnuplot not installed"

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
[ ! -s "$TMPD/err" ]
tap_check $? "... and gnuplot says nothing (no warning, e.g. about one layer's colour ramp)"
[ -s "$TMPD/err" ] && tap_diag "stderr: $(cat "$TMPD/err")"

is_png "$TMPD/s.png" && [ "$(size "$TMPD/s.png")" -gt 10000 ] && [ "$(png_size "$TMPD/s.png")" = 1400x760 ]
tap_check $? "spectrum PNG: PNG signature, over 10 kB, the default 1400x760 canvas ($(png_size "$TMPD/s.png"))"
head -c 200 "$TMPD/e.svg" | grep -Eq '<\?xml|<svg' && grep -q '</svg>' "$TMPD/e.svg" &&
	[ "$(size "$TMPD/e.svg")" -gt 5000 ] && grep -q '>q  (256×256)<' "$TMPD/e.svg" &&
	grep -q '>layer 0<' "$TMPD/e.svg"
tap_check $? "energy SVG: an XML/SVG document over 5 kB with the panel's title and the layer's key"
head -c 5 "$TMPD/p.pdf" | grep -q '^%PDF-' && tail -c 64 "$TMPD/p.pdf" | grep -q '%%EOF' &&
	[ "$(size "$TMPD/p.pdf")" -gt 5000 ]
tap_check $? "plan PDF: %PDF header, %%EOF trailer, over 5 kB"
is_png "$TMPD/h.png" && [ "$(size "$TMPD/h.png")" -gt 10000 ] && [ "$(png_size "$TMPD/h.png")" = 1000x600 ]
tap_check $? "heatmap PNG: PNG signature, over 10 kB, 1000x600"
grep -q "plot heatmap: wrote $TMPD/h.png" "$TMPD/out"
tap_check $? "each plot says what it wrote"
! ls "$TMPD" | grep -q '\.tmp\.'
tap_check $? "no temporary files are left behind"

"$RS_BIN" -c "spectra --cached; rank *.q 32; rank *.down --keep 0.7; budget --keep 0.5;
	plot spectrum --size 900x500 --to $TMPD/s9.png; plot spectrum --to $TMPD/s.svg;
	plot heatmap --to $TMPD/h.svg; plot plan --to $TMPD/pb.svg; budget --clear;
	plot plan --to $TMPD/pn.svg" "$MODEL" >"$TMPD/out" 2>"$TMPD/err"
tap_check $? "spectrum, heatmap and plan with and without a budget exit 0"
[ ! -s "$TMPD/err" ]
tap_check $? "... and gnuplot says nothing"
[ -s "$TMPD/err" ] && tap_diag "stderr: $(cat "$TMPD/err")"
is_png "$TMPD/s9.png" && [ "$(png_size "$TMPD/s9.png")" = 900x500 ]
tap_check $? "spectrum --size 900x500: a PNG of 900x500 ($(png_size "$TMPD/s9.png"))"
st=0
for t in 'q  (256×256)' 'k  (128×256)' 'v  (128×256)' 'o  (256×256)' 'gate  (768×256)' \
	'up  (768×256)' 'down  (256×768)'; do
	[ "$(grep -c ">$t<" "$TMPD/s.svg")" -eq 1 ] || { st=1; tap_diag "panel '$t' not drawn once"; }
done
tap_check $st "spectrum SVG: each of the seven panels drawn once, with its title"
grep -q '>layer<' "$TMPD/s.svg" && grep -q '>a curve per layer<' "$TMPD/s.svg" &&
	grep -q ">the plan's rank r<" "$TMPD/s.svg" && grep -q '>kjv-llama — singular values divided by the largest<' "$TMPD/s.svg" &&
	grep -q '>weight spectra σ(W); method svd<' "$TMPD/s.svg"
tap_check $? "spectrum SVG: colour bar label, key (curves, rank points), title naming model, kind and method"

# heat map cells: white text on cells under 60 % (dark in the palette), black on the others
awk '/fill="rgb\(/ { match($0, /fill="rgb\([0-9,]*\)"/); f = substr($0, RSTART + 10, RLENGTH - 12) }
	/<text[^>]*>r[0-9]+  [0-9]+%<\/text>/ { sub(/.*>r[0-9]+  /, ""); sub(/%<.*/, ""); n++
		if (($0 + 0 < 60) != (f == "255,255,255")) bad++; if ($0 + 0 < 60) dark++; else light++ }
	/<text>dense<\/text>/ { if (f != "0,0,0") bad++; dense++ }
	END { exit !(dark > 0 && light > 0 && dense > 0 && bad == 0) }' "$TMPD/h.svg"
tap_check $? "heatmap SVG: white cell text under 60 % kept, black above and on dense cells"
grep -q '>err = ‖W − Ŵ‖ / ‖W‖ (Frobenius)' "$TMPD/h.svg"
tap_check $? "heatmap SVG: the caption defines err"

st=0
for t in q k v o gate up down; do
	grep -q ">$t<" "$TMPD/pb.svg" || { st=1; tap_diag "type $t not in the key"; }
done
grep -q '>budget: keep 50.0% overall<' "$TMPD/pb.svg" && ! grep -q '>budget: ' "$TMPD/pn.svg" || st=1
tap_check $st "plan SVG: a key of the seven types, and the budget's line exactly when a budget is set"

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
