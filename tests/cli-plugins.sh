#!/bin/sh
# cli-plugins.sh: plugins from the command line.  The test plugins load through
# RANKSCOPE_PLUGIN_PATH (good loads, wrong-abi and no-entry are refused with their reasons);
# the build tree's rankscope lists lrq and transact from plugins/.libs with neither
# RANKSCOPE_PLUGIN_PATH nor a user plugin folder; `make install` into a temporary prefix, then
# the installed rankscope lists them from its relocated pkglibdir, its man pages are there and
# its plot finds the gnuplot templates; lrq runs on stories260K (rank 0 and with a low-rank
# part), its saved file loads back to the same perplexity, and its dense export loads as a
# model.  lrq's points are skipped when configure found no GLPK (RS_WITH_LRQ=no).
. "${RS_SRCDIR:-.}/tests/tap.sh"

bin=${RS_BIN:-./rankscope}
build=$(dirname "$bin")
tmp=$TMPD
unset RANKSCOPE_PLUGIN_PATH

RANKSCOPE_PLUGIN_PATH="$build/tests/plugins/.libs" "$bin" -c 'plugins; good-echo hi --tag t' \
    >"$tmp/out" 2>&1
tap_check $? "plugins with the test plugins runs"
grep -q '^good .*good.so' "$tmp/out"; tap_check $? "good plugin listed"
grep -q 'refused: .*wrong-abi.so: .*plugin ABI 2, rankscope needs ABI 1' "$tmp/out"
tap_check $? "wrong ABI refused"
grep -q 'refused: .*no-entry.so: .*undefined symbol: rs_plugin_entry' "$tmp/out"
tap_check $? "missing entry refused with dlerror's text"
grep -q 'good-echo call 1: hi tag=t' "$tmp/out"; tap_check $? "plugin command runs"

# the build tree's binary finds the bundled plugins beside it
mkdir "$tmp/empty-xdg"
XDG_DATA_HOME="$tmp/empty-xdg" "$bin" -c 'plugins' >"$tmp/out" 2>&1
tap_check $? "build-tree rankscope runs plugins"
if [ "${RS_WITH_LRQ:-yes}" = no ]; then
	tap_skip 1 "lrq not built (no GLPK)"
else
	grep -q '^lrq .*/plugins/\.libs/lrq\.so$' "$tmp/out"
	tap_check $? "build tree: lrq listed from plugins/.libs"
fi
grep -q '^transact .*/plugins/\.libs/transact\.so$' "$tmp/out"
tap_check $? "build tree: transact listed from plugins/.libs"

# install into a temporary prefix; nothing is configured anew
make -C "$build" install prefix="$tmp/p" >"$tmp/install.log" 2>&1
tap_check $? "make install prefix=TMP"
XDG_DATA_HOME="$tmp/xdg" "$tmp/p/bin/rankscope" -c 'plugins' >"$tmp/out" 2>&1
tap_check $? "installed rankscope runs plugins"
if [ "${RS_WITH_LRQ:-yes}" = no ]; then
	tap_skip 1 "lrq not built (no GLPK)"
else
	grep -q "^lrq .*$tmp/p/bin/../lib/rankscope/lrq.so" "$tmp/out"
	tap_check $? "lrq listed after install"
fi
grep -q "^transact .*transact.so" "$tmp/out"; tap_check $? "transact listed after install"
XDG_DATA_HOME="$tmp/xdg" "$tmp/p/bin/rankscope" -c 'help; help transact' >"$tmp/out" 2>&1 &&
	{ [ "${RS_WITH_LRQ:-yes}" = no ] || grep -q '^  lrq .*(plugin)$' "$tmp/out"; } &&
	grep -q '^usage: transact --keep' "$tmp/out"
tap_check $? "help lists the plugins' commands and describes them"
test -f "$tmp/p/include/rankscope/rankscope-plugin.h"; tap_check $? "ABI header installed"
test -f "$tmp/p/share/man/man7/rankscope-plugin.7" && test -f "$tmp/p/share/man/man1/rankscope.1"
tap_check $? "man pages installed (rankscope.1, rankscope-plugin.7)"
if command -v gnuplot >/dev/null 2>&1; then
	(unset RS_DATADIR; XDG_DATA_HOME="$tmp/xdg" "$tmp/p/bin/rankscope" \
	    -c "plot plan --to $tmp/plan.svg" "${RS_SRCDIR:-.}/share/models/kjv-llama") \
	    >"$tmp/out" 2>&1 && grep -q '</svg>' "$tmp/plan.svg"
	tap_check $? "installed plot finds its gnuplot templates"
else
	tap_skip 1 "gnuplot not installed"
fi

model="$RS_FIXTURES/stories260K/hf"
text="$RS_FIXTURES/texts/tinystories_val.txt"
if [ "${RS_WITH_LRQ:-yes}" = no ]; then
	tap_skip 3 "lrq not built (no GLPK)"
	tap_done
	exit $?
fi
if [ ! -d "$model" ] || [ ! -f "$text" ]; then
	tap_skip 3 "fixture stories260K/hf or texts/tinystories_val.txt missing"
	tap_done
	exit $?
fi
head -c 60000 "$text" >"$tmp/eval.txt"
export RANKSCOPE_PLUGIN_PATH="$build/plugins/.libs"
"$bin" -c "load $model; lrq --bits-per-param 4.3 --rank 0 --eval $tmp/eval.txt --ctx 128; \
lrq --bits-per-param 4.3 --eval $tmp/eval.txt --ctx 128 --save $tmp/m.lrq --export-dense $tmp/dense" \
    >"$tmp/out" 2>&1
tap_check $? "lrq runs (round-to-nearest, then with low-rank candidates)"
p1=$(sed -n 's/^lrq: perplexity \([0-9.]*\).*/\1/p' "$tmp/out" | tail -1)
"$bin" -c "load $model; lrq --load $tmp/m.lrq --eval $tmp/eval.txt --ctx 128" >"$tmp/out2" 2>&1
p2=$(sed -n 's/^lrq: perplexity \([0-9.]*\).*/\1/p' "$tmp/out2")
"$bin" -c "load $tmp/dense; ppl $tmp/eval.txt --ctx 128" >"$tmp/out3" 2>&1
p3=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$tmp/out3")
tap_diag "perplexity: computed $p1, saved file $p2, dense export $p3"
tap_close "$p2" "$p1" 1e-4
tap_check $? "saved lrq file gives the same perplexity ($p1 / $p2)"
tap_close "$p3" "$p1" 1e-4
tap_check $? "dense export gives the same perplexity ($p1 / $p3)"
tap_done
