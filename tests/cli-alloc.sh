#!/bin/sh
# Budgets and rank allocators through the command line on the bundled kjv-llama: every
# allocator meets the budget and says so, produces an ordinary undoable, editable plan; bo
# with the proxy objective is reproducible with a seed; histories export and resume; SIGINT
# stops bo with the best plan kept.  Small settings (weight spectra, short windows) keep it fast.
. "$RS_SRCDIR/tests/tap.sh"
MODEL="$RS_SRCDIR/share/models/kjv-llama"
CALIB="$RS_SRCDIR/share/texts/kjv-calib.txt"
[ -f "$MODEL/config.json" ] || tap_skip_all "bundled kjv-llama missing"
PRE="load $MODEL; set threads 1; spectra"
MET='met (target - step < params <= target)'

# 1. budget: set, shown, refused when malformed
"$RS_BIN" -c "load $MODEL; budget; budget --keep 0.6; budget --params 2.5M; budget --clear; budget" >"$TMPD/b" 2>&1
tap_check $? "budget: show, --keep, --params, --clear"
grep -q '^budget: 2831155 decoder-linear params (keep 0.6000 of 4718592; embeddings and head not counted)' "$TMPD/b" &&
	grep -q '^budget: 2500000 decoder-linear params' "$TMPD/b" && [ "$(grep -c "^budget: none" "$TMPD/b")" -eq 3 ]
tap_check $? "budget lines name the target, the ratio and what is counted"
"$RS_BIN" -c "load $MODEL; budget --keep 1.5" >"$TMPD/b2" 2>&1
test $? -ne 0
tap_check $? "budget --keep 1.5 refused"
"$RS_BIN" -c "load $MODEL; alloc uniform" >"$TMPD/b3" 2>&1
test $? -ne 0 && grep -q 'no budget' "$TMPD/b3"
tap_check $? "an allocator without a budget says so"

# 2. uniform, energy, greedy (weight spectra) meet the budget; undo restores the plan
"$RS_BIN" -c "$PRE; budget --keep 0.55; alloc uniform; alloc uniform --types q,k,up --keep 0.9; alloc energy; alloc energy --target 0.8; alloc greedy; alloc greedy --relative --layer-weights front; rank L0.q 16; undo; undo; budget" >"$TMPD/a" 2>&1
tap_check $? "uniform, energy, greedy run"
[ "$(grep -c "^alloc [a-z]*: .* params kept .*: $MET" "$TMPD/a" | tr -d ' ')" -eq 5 ]
tap_check $? "five budgeted allocations report the budget met within one step"
grep -q '^alloc energy: energy 0.800000 of the weight spectrum (42 matrices)' "$TMPD/a" &&
	grep -q '^alloc energy: --target given: the budget is not used' "$TMPD/a"
tap_check $? "energy says which spectrum it used and that --target overrides the budget"
grep -q '^alloc uniform: 18 matrices factored, 24 dense' "$TMPD/a"
tap_check $? "--types q,k,up factors 18 matrices only"
# after two undos (rank edit, then greedy --relative) the plan is greedy's, which met the budget
tail -n 1 "$TMPD/a" | grep -q 'meets it$'
tap_check $? "alloc is one undo step, and its plan can be edited"

# 3. bo with the proxy objective: the same seed gives the same plan
BO="bo --space ratio --objective proxy --trials 12 --init 4"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BO --seed 5; plan save $TMPD/p1.csv; alloc history export $TMPD/h.csv" >"$TMPD/o1" 2>&1
tap_check $? "bo --objective proxy, seed 5"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BO --seed 5; plan save $TMPD/p2.csv" >"$TMPD/o2" 2>&1 &&
	"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BO --seed 6; plan save $TMPD/p3.csv" >"$TMPD/o3" 2>&1
tap_check $? "two more runs (seeds 5 and 6)"
cmp -s "$TMPD/p1.csv" "$TMPD/p2.csv"
tap_check $? "seed 5 twice: the same plan file"
grep '^trial' "$TMPD/o1" >"$TMPD/t1"; grep '^trial' "$TMPD/o2" | sed 's/| [0-9.]* s |/| |/' >"$TMPD/t2"
sed 's/| [0-9.]* s |/| |/' "$TMPD/t1" | cmp -s - "$TMPD/t2"
tap_check $? "seed 5 twice: the same 12 trial lines (times aside)"
cmp -s "$TMPD/p1.csv" "$TMPD/p3.csv"
test $? -ne 0
tap_check $? "seed 6: another plan"
[ "$(grep -c '^trial' "$TMPD/o1")" -eq 12 ] && grep -q "^alloc bo: .* params kept .*: $MET" "$TMPD/o1" &&
	grep -q '^trial   1/12 random .* | best [0-9.]* (trial 1)$' "$TMPD/o1"
tap_check $? "each trial logged with params, objective, time and best so far; budget met"
head -n 1 "$TMPD/h.csv" | grep -q '^# rankscope bo history v2$' && [ "$(grep -c '^[0-9]' "$TMPD/h.csv")" -eq 12 ] &&
	grep -q '^trial,guided,qk,o,gate,up,down,params,keep,objective' "$TMPD/h.csv"
tap_check $? "history export: 12 rows, variables qk,o,gate,up,down"

# 4. resume from the exported history continues the same run
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc bo --space ratio --objective proxy --trials 16 --init 4 --history $TMPD/h.csv; alloc history export $TMPD/h2.csv" >"$TMPD/r" 2>&1
tap_check $? "bo --history FILE resumes"
grep -q '^alloc bo: resuming after 12 trials (seed 5)' "$TMPD/r" && [ "$(grep -c '^trial' "$TMPD/r")" -eq 4 ] &&
	[ "$(grep -c '^[0-9]' "$TMPD/h2.csv")" -eq 16 ]
tap_check $? "4 more trials after the 12 saved (seed taken from the file)"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc bo --space ratio --objective proxy --trials 16 --init 4 --seed 5; alloc history export $TMPD/h3.csv" >"$TMPD/r3" 2>&1
grep -v '^#' "$TMPD/h2.csv" | cut -d, -f1-12 >"$TMPD/c2"; grep -v '^#' "$TMPD/h3.csv" | cut -d, -f1-12 >"$TMPD/c3"
cmp -s "$TMPD/c2" "$TMPD/c3"
tap_check $? "12 + 4 resumed trials = 16 uninterrupted trials"
"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc bo --space ratio --objective proxy --trials 16 --init 4 --history $TMPD/h.csv" >"$TMPD/r4" 2>&1
test $? -ne 0 && grep -q 'cannot resume: the saved run was made with other settings' "$TMPD/r4"
tap_check $? "resuming with another budget is refused"

# 4b. --batch: rounds of 3 chosen before they are evaluated; the same seed and batch give the
# same plan; a run of 7 (inside a round) resumed to 13 is the uninterrupted run of 13
BQ="bo --space ratio --objective proxy --init 4 --seed 5 --batch 3"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BQ --trials 13; plan save $TMPD/q1.csv; alloc history export $TMPD/qh1.csv" >"$TMPD/q1" 2>&1 &&
	"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BQ --trials 13; plan save $TMPD/q2.csv" >"$TMPD/q2" 2>&1
tap_check $? "bo --batch 3, twice"
cmp -s "$TMPD/q1.csv" "$TMPD/q2.csv" && [ "$(grep -c '^trial' "$TMPD/q1")" -eq 13 ] &&
	grep -q '^alloc bo: .* trials up to 13 in rounds of 3 (constant liar);' "$TMPD/q1" &&
	grep -q '^# config .* batch=3$' "$TMPD/qh1.csv" && ! grep -q 'batch=' "$TMPD/h.csv"
tap_check $? "--batch 3 twice: the same plan; the rounds named; batch in the config (not for 1)"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc $BQ --trials 7; alloc $BQ --trials 13 --resume; plan save $TMPD/q3.csv; alloc history export $TMPD/qh3.csv" >"$TMPD/q3" 2>&1
tap_check $? "bo --batch 3: 7 trials, then --resume to 13"
grep -v '^#' "$TMPD/qh1.csv" | cut -d, -f1-13 >"$TMPD/c1"; grep -v '^#' "$TMPD/qh3.csv" | cut -d, -f1-13 >"$TMPD/c3"
cmp -s "$TMPD/c1" "$TMPD/c3" && cmp -s "$TMPD/q1.csv" "$TMPD/q3.csv" &&
	grep -q '^alloc bo: resuming after 7 trials (seed 5)' "$TMPD/q3"
tap_check $? "7 + 6 resumed trials in rounds of 3 = 13 uninterrupted, the same plan"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc bo --space ratio --objective proxy --init 4 --batch 2 --trials 14 --history $TMPD/qh1.csv" >"$TMPD/q4" 2>&1
test $? -ne 0 && grep -q 'cannot resume: the saved run was made with other settings' "$TMPD/q4"
tap_check $? "resuming a --batch 3 run with --batch 2 is refused"

# 5. sensitivity and bo on a validation text (tiny windows), method svd
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc sensitivity --validation $CALIB --ctx 64 --chunks 1 --ratios 0.3,0.6; alloc sensitivity --validation $CALIB --ctx 64 --chunks 1 --ratios 0.3,0.6 --keep 0.8; alloc bo --space ratio --validation $CALIB --ctx 64 --chunks 2 --trials 4 --init 2 --seed 2" >"$TMPD/s" 2>&1
tap_check $? "sensitivity and bo (ppl objective) run"
[ "$(grep -c "^alloc [a-z]*: .* params kept .*: $MET" "$TMPD/s")" -eq 3 ]
tap_check $? "both meet the budget"
grep -q '^alloc sensitivity: probing 42 matrices at keep 0.3,0.6: 84 evaluations of 1 windows' "$TMPD/s" &&
	grep -q '^alloc sensitivity: probes from the session' "$TMPD/s" &&
	grep -q '^alloc sensitivity: forward passes: 85 validation evaluations' "$TMPD/s"
tap_check $? "probes run once (84 + dense) and are reused by the second cut"
grep -q '^trial   4/4 guided  *full .* | ppl [0-9.]* kl [0-9.]* | obj' "$TMPD/s" &&
	grep -q '^alloc bo: forward passes: 5 validation evaluations of 2 windows' "$TMPD/s"
tap_check $? "bo trials show ppl and KL; 4 trials + the dense pass"

# 6. SIGINT stops bo; the best plan so far is kept and the log file holds the trials
: >"$TMPD/c"
"$RS_BIN" -c "$PRE; budget --keep 0.6; alloc bo --space ratio --validation $CALIB --ctx 64 --chunks 2 --trials 100000 --init 2 --log $TMPD/log.csv" >>"$TMPD/c" 2>"$TMPD/c.err" &
pid=$!
i=0
while [ "$(grep -c '^trial' "$TMPD/c")" -lt 3 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
wait $pid
st=$?
n=$(grep -c '^trial' "$TMPD/c")
[ $st -ne 0 ] && grep -q "alloc bo: cancelled after [0-9]* trials; the best plan so far (trial [0-9]*) is in place" "$TMPD/c.err" &&
	grep -q "^alloc bo: .* params kept .*: $MET" "$TMPD/c" && [ "$(grep -c '^[0-9]' "$TMPD/log.csv")" -ge "$n" ]
tap_check $? "SIGINT: '$(tail -n 1 "$TMPD/c.err")'; the best plan applied, $n trials in the log"

# 7. bo in the profile space (the default): its first trials are the heuristic plans, each
# with the params the allocator itself gives; the same seed gives the same plan; a resumed run
# equals the uninterrupted one; the trace plot draws the trials
for a in uniform energy greedy "greedy --relative"; do
	"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $a" 2>&1 |
		sed -n 's/^alloc [a-z]*: \([0-9]*\) decoder-linear params kept.*/\1/p'
done >"$TMPD/hp"
PB="bo --objective proxy --trials 12 --seed 4"
"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PB; alloc history; alloc history export $TMPD/p1.csv; plan save $TMPD/p1.json" >"$TMPD/p1" 2>&1 &&
	"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PB; plan save $TMPD/p2.json" >"$TMPD/p2" 2>&1
tap_check $? "bo in the profile space (proxy objective), twice"
i=0 ok=0
for name in uniform energy greedy greedyrel; do
	i=$((i + 1))
	want=$(sed -n "${i}p" "$TMPD/hp")
	grep -q "^trial *$i/12 $name  *full .* | $want params" "$TMPD/p1" && ok=$((ok + 1))
done
[ $ok -eq 4 ] && [ "$(wc -l <"$TMPD/hp")" -eq 4 ]
tap_check $? "trials 1-4 are the uniform, energy, greedy and greedy --relative plans, with their params ($(tr '\n' ' ' <"$TMPD/hp"))"
cmp -s "$TMPD/p1.json" "$TMPD/p2.json" && [ "$(grep -c '^trial  *[0-9]' "$TMPD/p1")" -eq 12 ]
tap_check $? "profile space: the same seed gives the same plan"
grep -q '^alloc history: proxy vs measured objective:' "$TMPD/p1" && grep -q '^ *1 uniform  *full ' "$TMPD/p1"
tap_check $? "alloc history names the heuristic trials and reports the proxy agreement"
head -n 9 "$TMPD/p1.csv" >"$TMPD/p7.csv"
"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PB --history $TMPD/p7.csv; plan save $TMPD/p3.json; alloc history export $TMPD/p3.csv" >"$TMPD/p3" 2>&1 &&
	grep -q '^alloc bo: resuming after 4 trials (seed 4)' "$TMPD/p3" && cmp -s "$TMPD/p1.json" "$TMPD/p3.json" &&
	[ "$(cut -d, -f1-18 "$TMPD/p1.csv" | grep '^[0-9]')" = "$(cut -d, -f1-18 "$TMPD/p3.csv" | grep '^[0-9]')" ]
tap_check $? "resumed after 4 trials (the heuristic round): the same 12 trials and plan as uninterrupted"
grep -q '^alloc bo: profile space, 16 variables (w.uniform,w.energy,w.greedy,w.greedyrel,d.qk@L0-2,d.qk@L3-5,d.v@L0-2,.*,d.down@L3-5): .* per type and 2 layer groups (x1/4..x4),' "$TMPD/p1" &&
	"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PB --groups 1 --offset 16" >"$TMPD/p4" 2>&1 &&
	grep -q '^alloc bo: profile space, 10 variables (w.uniform,w.energy,w.greedy,w.greedyrel,d.qk,d.v,d.o,d.gate,d.up,d.down): .* per type and 1 layer group (x1/16..x16),' "$TMPD/p4"
tap_check $? "default: 4 weights + 6 types x 2 layer groups, x1/4..x4; --groups 1 --offset 16 selectable"

# 8. the profile space on a validation text: heuristic plans (sensitivity included), screened
# rounds, the confirmation; stopped after the random design and resumed it ends as the
# uninterrupted run
PV="bo --validation $CALIB --ctx 32 --chunks 4 --seed 2"
"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PV --trials 15; plan save $TMPD/v1.json; alloc history" >"$TMPD/v1" 2>&1 &&
	"$RS_BIN" -c "$PRE; budget --keep 0.5; alloc $PV --trials 9; alloc $PV --trials 15 --resume; plan save $TMPD/v2.json" >"$TMPD/v2" 2>&1
tap_check $? "bo, profile space, ppl objective: 15 trials; 9 then resumed to 15"
grep -q '^trial *5/15 sensitivity  *full ' "$TMPD/v1" && grep -q '^trial .* guided  *screen .* | screening [0-9.]*' "$TMPD/v1" &&
	grep -q '^alloc bo: confirmed on all 16 validation windows (ppl + kl \* KL):.* trial 5 (sensitivity) [0-9.]*.*; chosen: trial [0-9]*$' "$TMPD/v1" &&
	grep -q '<- chosen' "$TMPD/v1" && grep -q '^alloc history: .* full, .* screened on the first windows' "$TMPD/v1"
tap_check $? "trial 5 is the sensitivity plan, guided rounds are screened on the first windows, the best are confirmed on every window"
grep -q '^alloc bo: resuming after 9 trials (seed 2)' "$TMPD/v2" && cmp -s "$TMPD/v1.json" "$TMPD/v2.json"
tap_check $? "resumed after the random design: the plan of the uninterrupted run"

tap_done
