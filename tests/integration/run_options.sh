#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_options.sh - `mpimap run` options under mpirun, each against a serial
# reference: --colsep with {1} {2}, --shell with hostile items (nothing in
# an item is ever executed), --unordered, -o FILE, --joblog FILE,
# --function-init, and --dry-run (prints the exact command, starts
# nothing; running that command by hand does the job).
set -euo pipefail
. "$4/lib.sh"

# ---- --colsep ---------------------------------------------------------------
for i in $(seq 1 30); do echo "key $i::value 'q' \$x $i"; done >"$T/pairs"
echo "::" >>"$T/pairs"      # two empty fields
echo "a::b::c" >>"$T/pairs" # three: {1} {2} are a and b
while IFS= read -r x; do
    f1=${x%%::*} rest=${x#*::}
    f2=${rest%%::*}
    echo "$f2=$f1"
done <"$T/pairs" >"$T/pairs.ref"
for s in pool scatter; do
    mm 0 "$T/out" "$T/err" -n 3 -s $s -i "$T/pairs" --colsep :: -- echo '{2}={1}'
    same "$T/pairs.ref" "$T/out" "$s: --colsep :: with {2}={1}"
done
# With --shell the fields are $1 $2 ...
mm 0 "$T/out" "$T/err" -n 2 -i "$T/pairs" --colsep :: --shell -- 'echo "$2=$1"'
same "$T/pairs.ref" "$T/out" "--colsep :: --shell with \$2=\$1"
# A field that is not there fails that item only, naming it.
printf 'a,b\nlonely\nc,d\n' >"$T/short"
mm 1 "$T/out" "$T/err" -n 2 -i "$T/short" --colsep , -- echo '{1}-{2}'
printf 'a-b\n\nc-d\n' >"$T/short.ref"
same "$T/short.ref" "$T/out" "--colsep: an item without field 2 keeps its place, empty"
has "$T/err" "1 of 3 items failed" "--colsep: missing field"
has "$T/err" "item 1 (rank " "--colsep: missing field"
has "$T/err" "item has 1 field; {2} asked for" "--colsep: missing field"
ok "--colsep: a missing field fails its item with exit 1, naming it"

# ---- --shell and hostile items -----------------------------------------------
C=$T/canary
{
    echo "\$(touch $C.1)"
    echo "\`touch $C.2\`"
    echo "'; touch $C.3; '"
    echo "\"; touch $C.4; \""
    echo "x && touch $C.5"
    echo "\$(touch $C.6) \${IFS} \\ \\\\ * ? [a] ~ #"
    echo "it's"
    echo "-n"
    echo ""
    echo "  two  spaces  "
} >"$T/hostile"
while IFS= read -r x; do echo "[$x]"; done <"$T/hostile" >"$T/hostile.ref"
for s in pool scatter; do
    for np in 1 3; do
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/hostile" --shell -- 'printf "[%s]\n" "$1"'
        same "$T/hostile.ref" "$T/out" "$s -n $np: --shell with hostile items"
        # Without --shell the item is one argument, even to sh -c.
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/hostile" -- sh -c 'printf "[%s]\n" "$1"' sh {}
        same "$T/hostile.ref" "$T/out" "$s -n $np: sh -c with hostile items as {}"
        # {} in an argument that a shell would read is still only text.
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/hostile" -- echo '[{}]'
        same "$T/hostile.ref" "$T/out" "$s -n $np: echo '[{}]' with hostile items"
    done
done
# --shell never pastes the item into the script: {} there stays "{}".
mm 0 "$T/out" "$T/err" -n 2 -i "$T/hostile" --shell -- 'printf "{}[%s]\n" "$1"'
sed 's/^/{}/' "$T/hostile.ref" >"$T/hostile.ref2"
same "$T/hostile.ref2" "$T/out" "--shell: {} in the script is literal text"
for k in 1 2 3 4 5 6; do
    [ ! -e "$C.$k" ] || fail "a hostile item was executed: $C.$k exists"
done
ok "no hostile item was executed"

# ---- -o onto what is not a regular file -------------------------------------
# A device or a FIFO is written into, never replaced (renaming the results
# over /dev/null as root once turned it into a regular file); a symbolic
# link is followed and its target gets the results.
seq 50 >"$T/fifty"
sed 's/^/v/' "$T/fifty" >"$T/fifty.ref"
mm 0 "$T/out" "$T/err" -n 2 -i "$T/fifty" -o /dev/null -- echo 'v{}'
[ -c /dev/null ] || fail "-o /dev/null: /dev/null is no longer a character device"
ok "-o /dev/null writes into the device and leaves it one"
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/from-fifo" &
reader=$!
mm 0 "$T/out" "$T/err" -n 2 -i "$T/fifty" -o "$T/fifo" -- echo 'v{}'
wait "$reader"
[ -p "$T/fifo" ] || fail "-o FIFO: the FIFO was replaced"
same "$T/fifty.ref" "$T/from-fifo" "-o FIFO: the results came through the FIFO"
rm -f "$T/fifo" "$T/from-fifo"
echo old >"$T/target.txt"
ln -s target.txt "$T/link.txt"
mm 0 "$T/out" "$T/err" -n 2 -i "$T/fifty" -o "$T/link.txt" -- echo 'v{}'
[ -L "$T/link.txt" ] || fail "-o LINK: the symbolic link was replaced"
same "$T/fifty.ref" "$T/target.txt" "-o LINK: the link's target has the results"
rm -f "$T/link.txt" "$T/target.txt" "$T/fifty" "$T/fifty.ref"

# ---- --unordered ----------------------------------------------------------------
seq 1 300 >"$T/num"
index_ref() { local i=0; while read -r x; do printf '%d\t%s\n' "$i" "$1$x"; i=$((i + 1)); done; }
index_ref "r" <"$T/num" >"$T/unordered.ref"
for s in pool scatter; do
    for np in 1 3 5; do
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/num" --unordered --chunk 3 -- echo 'r{}'
        sort -n -k1,1 "$T/out" >"$T/sorted"
        same "$T/unordered.ref" "$T/sorted" "$s -n $np: --unordered, sorted by index"
    done
done
# NUL framing: "INDEX<TAB>RESULT\0".
tr '\n' '\0' <"$T/num" >"$T/num.nul"
mm 0 "$T/out" "$T/err" -n 3 -i "$T/num.nul" --unordered -0 --function "$H/libsquare.so:square"
[ "$(tr -cd '\0' <"$T/out" | wc -c)" = 300 ] || fail "--unordered -0: not 300 NUL-ended records"
tr '\0' '\n' <"$T/out" | sort -n -k1,1 >"$T/sorted"
i=0
while read -r x; do printf '%d\t%d\n' "$i" $((x * x)); i=$((i + 1)); done <"$T/num" >"$T/sq.ref"
same "$T/sq.ref" "$T/sorted" "--unordered -0 with a function, sorted by index"

# ---- -o FILE and --joblog FILE ------------------------------------------------------
printf '1\n2\nbad\n4\nbad\n6\n' >"$T/some-bad"
printf 'ok:1\nok:2\n\nok:4\n\nok:6\n' >"$T/some-bad.ref"
for s in pool scatter; do
    echo "old content" >"$T/result.txt"
    mm 1 "$T/out" "$T/err" -n 3 -s $s -i "$T/some-bad" -o "$T/result.txt" \
        --joblog "$T/joblog" --function "$H/libfailbad.so:fail_bad"
    empty "$T/out" "$s: -o FILE: standard output"
    same "$T/some-bad.ref" "$T/result.txt" "$s: -o FILE replaces the file with the results"
    ls "$T" | grep -q '^result.txt.' && fail "$s: -o left a temporary file: $(ls "$T")"
    # The joblog: the header, then one line per item, each index once.
    IFS= read -r header <"$T/joblog"
    [ "$header" = "$(printf 'index\trank\tstart\tduration\tstatus\treason')" ] ||
        fail "$s: joblog header is '$header'"
    [ "$(wc -l <"$T/joblog")" = 7 ] || fail "$s: joblog has $(wc -l <"$T/joblog") lines, not 7"
    seen=""
    while IFS=$'\t' read -r idx rank start dur status reason; do
        [[ "$rank" =~ ^[0-2]$ ]] || fail "$s: joblog: item $idx: rank '$rank'"
        [[ "$start" =~ ^[0-9]+\.[0-9]{6}$ ]] || fail "$s: joblog: item $idx: start '$start'"
        [[ "$dur" =~ ^[0-9]+\.[0-9]{6}$ ]] || fail "$s: joblog: item $idx: duration '$dur'"
        case $idx in
        2 | 4) want=failed why="refused the bad item" ;;
        *) want=ok why="" ;;
        esac
        [ "$status" = "$want" ] || fail "$s: joblog: item $idx: status '$status', not $want"
        [ "$reason" = "$why" ] || fail "$s: joblog: item $idx: reason '$reason', not '$why'"
        seen="$seen $idx"
    done < <(tail -n +2 "$T/joblog")
    [ "$(echo $seen | tr ' ' '\n' | sort -n | tr '\n' ' ')" = "0 1 2 3 4 5 " ] ||
        fail "$s: joblog indices:$seen"
    ok "$s: --joblog: header, one line per item, status ok/failed with the reason"
done
# All ok, with a command and -o: every line "ok" and no reason.
mm 0 "$T/out" "$T/err" -n 2 -i "$T/num" -o "$T/result.txt" --joblog "$T/joblog" -- echo '{}'
same "$T/num" "$T/result.txt" "-o FILE with a command"
[ "$(tail -n +2 "$T/joblog" | cut -f5 | sort | uniq -c | tr -s ' ')" = " 300 ok" ] ||
    fail "--joblog: not 300 lines with status ok"
ok "--joblog: 300 lines with status ok"

# ---- --function-init --------------------------------------------------------------
sed 's/^/init:/' "$T/num" >"$T/init.ref"
for s in pool scatter; do
    mm 0 "$T/out" "$T/err" -n 3 -s $s -i "$T/num" \
        --function "$H/libwithinit.so:tagged" --function-init setup
    same "$T/init.ref" "$T/out" "$s: --function-init runs on every rank"
done
mm 1 "$T/out" "$T/err" -n 2 -i "$T/num" --function "$H/libwithinit.so:tagged"
has "$T/err" "300 of 300 items failed" "without --function-init"
has "$T/err" "the init symbol did not run" "without --function-init"
ok "without --function-init the handler sees no argument (exit 1)"
mm 3 "$T/out" "$T/err" -n 2 -i "$T/num" \
    --function "$H/libwithinit.so:tagged" --function-init setup_fails
has "$T/err" "init 'setup_fails' of '$H/libwithinit.so' returned 7" "a failing init"
empty "$T/out" "a failing init: standard output"
ok "an init that fails stops the job before any item (exit 3)"
clean_wd

# ---- --dry-run ----------------------------------------------------------------------
mm 0 "$T/out" "$T/err" --dry-run -n 3 -l mpirun -i "$T/num" -- touch "$T/dry-canary-{}"
[ "$(wc -l <"$T/out")" = 1 ] || fail "--dry-run: $(wc -l <"$T/out") lines, not 1"
cmd=$(cat "$T/out")
case $cmd in
"mpirun -np 3 "*) ;;
*) fail "--dry-run: the command does not start with 'mpirun -np 3': $cmd" ;;
esac
case $cmd in
*" $MPIMAP_WORKER $WD/mpimap-"??????"/spec") ;;
*) fail "--dry-run: the command does not end with the worker ($MPIMAP_WORKER) and the spec: $cmd" ;;
esac
ok "--dry-run prints 'mpirun -np 3 ... $MPIMAP_WORKER JOBDIR/spec'"
jobdir=$(ls -d "$WD"/mpimap-*)
has "$T/err" "dry run (launcher mpirun): nothing started; job directory kept: $jobdir" "--dry-run"
sleep 0.5
for f in "$T"/dry-canary-*; do
    [ ! -e "$f" ] || fail "--dry-run ran an item: $f"
done
[ ! -e "$jobdir/results" ] && [ ! -e "$jobdir/status" ] || fail "--dry-run: the job ran"
ok "--dry-run started nothing and kept the job directory"
# The printed command is exact: run by hand, it does the job.
sh -c "$cmd" >"$T/hand.out" 2>&1 || { cat "$T/hand.out" >&2; fail "the dry-run command failed"; }
n=$(ls "$T" | grep -c '^dry-canary-' || true)
[ "$n" = 300 ] || fail "the dry-run command, run by hand, ran $n items, not 300"
grep -qx "items 300" "$jobdir/status" || fail "the dry-run command left no status"
ok "the dry-run command, run by hand, runs every item"
rm -f "$T"/dry-canary-*
clean_wd
# ... also when it runs longer than the ranks take to notice that the
# mpimap process that printed it is gone (it is meant to be).
printf '1500\n1500\n' >"$T/slowdry"
mm 0 "$T/out" "$T/err" --dry-run -n 2 -l mpirun -i "$T/slowdry" \
    --function "$H/libsleepms.so:sleep_ms"
jobdir=$(ls -d "$WD"/mpimap-*)
sh -c "$(cat "$T/out")" >"$T/hand.out" 2>&1 ||
    { cat "$T/hand.out" >&2; fail "the dry-run command of 1.5 s items failed"; }
grep -qx "items 2" "$jobdir/status" || fail "the dry-run command of 1.5 s items left no status"
ok "the dry-run command, run by hand after mpimap has gone, is not stopped"
clean_wd

done_checks
