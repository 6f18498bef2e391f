#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_recover.sh - maps killed the way users' jobs get killed, then
# finished: a rank killed with SIGKILL at a random moment of a 10,000-item
# map on 3 ranks, 20 times over (half restarted by mpimap run itself, half
# ended and resumed with --resume), the driver killed with SIGKILL, Ctrl-C,
# a torn and a garbled journal, trivial items whose results the journal
# keeps as whole sets; every time the output equals the serial reference
# byte for byte, and no item ran more than twice. Also retries,
# per-item timeouts (command and function), the watchdog line, and results
# that cannot be written.
set -euo pipefail
. "$4/lib.sh"

N=10000
seq 0 $((N - 1)) >"$T/items"
mkdir "$T/runs"
export MPIMAP_TEST_RUNLOG=$T/runs/log
# The serial reference (the serial launcher: no MPI at all).
mm 0 "$T/ref" "$T/err" -l serial -i "$T/items" --function "$H/librunlog.so:runlog"
[ "$(wc -l <"$T/ref")" = $N ] || fail "the serial reference has $(wc -l <"$T/ref") lines"
[ "$(sed -n '8p' "$T/ref")" = "=7" ] || fail "the serial reference is not what runlog gives"
rm -f "$T"/runs/log.*
ok "serial reference: $N items"

wait_for_workers() {
    local t0=$SECONDS
    until [ -n "$(worker_pids)" ]; do
        [ $((SECONDS - t0)) -lt 60 ] || fail "$1: the ranks did not start"
        sleep 0.05
    done
}
# No item ran more than twice (the runs of every rank, from runlog).
at_most_twice() {
    local worst
    worst=$(cat "$T"/runs/log.* | awk '{ n[$1]++ } END { m = 0; for (i in n) if (n[i] > m) m = n[i]; print m }')
    [ "${worst:-0}" -le 2 ] || fail "$1: an item ran $worst times"
    rm -f "$T"/runs/log.*
}
# A random pause of 0 to 0.8 s.
pause() { sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", r / 40960 }')"; }

# ---- a rank killed with SIGKILL, 20 times (RECOVER_TRIALS) -------------------------
export MPIMAP_TEST_SPIN_US=500 # about 2 s of work on 3 ranks
landed=0
for k in $(seq 1 ${RECOVER_TRIALS:-20}); do
    auto=$((k % 2))
    opts=(-n 3 -i "$T/items" -o "$T/out" --function "$H/librunlog.so:runlog")
    [ $auto = 1 ] || opts=(--max-restarts 0 "${opts[@]}")
    rm -f "$T/out"
    timeout 300 "$MPIMAP" run --workdir "$WD" "${opts[@]}" 2>"$T/err" &
    pid=$!
    wait_for_workers "trial $k"
    pause
    mapfile -t pids < <(worker_pids)
    victim=
    if [ ${#pids[@]} -gt 0 ]; then
        victim=${pids[$((RANDOM % ${#pids[@]}))]}
        kill -9 "$victim" 2>/dev/null || victim=
    fi
    rc=0
    wait $pid || rc=$?
    if [ $auto = 1 ]; then
        [ $rc = 0 ] || { cat "$T/err" >&2; fail "trial $k: exit $rc after a rank was killed"; }
        grep -q "(restart 1 of 2)" "$T/err" && landed=$((landed + 1))
    elif [ $rc = 4 ]; then
        landed=$((landed + 1))
        has "$T/err" "resume with: mpimap run --resume $WD/mpimap-" "trial $k"
        dir=$(sed -n 's/.*resume with: mpimap run --resume //p' "$T/err" | tail -1)
        mm 0 "$T/o" "$T/err" --resume "$dir"
        empty "$T/o" "trial $k: --resume with -o: standard output"
    else
        [ $rc = 0 ] || { cat "$T/err" >&2; fail "trial $k: exit $rc"; }
    fi
    same "$T/ref" "$T/out" "trial $k (rank pid ${victim:-none} killed)"
    at_most_twice "trial $k"
    [ -z "$(ls -A "$WD")" ] || fail "trial $k: job directory left: $(ls -A "$WD")"
done
[ $landed -ge $(( ${RECOVER_TRIALS:-20} / 2 )) ] || fail "only $landed of ${RECOVER_TRIALS:-20} kills hit a running map"
ok "a rank killed by SIGKILL at random: $landed of ${RECOVER_TRIALS:-20} kills mid-map; output = serial reference every time, no item ran more than twice"

# ---- the driver killed with SIGKILL ---------------------------------------------------
rm -f "$T/out"
# (no `timeout` around these: the signals are for mpimap run itself)
"$MPIMAP" run --workdir "$WD" -n 3 -i "$T/items" -o "$T/out" \
    --function "$H/librunlog.so:runlog" 2>"$T/err" &
pid=$!
wait_for_workers "driver kill"
pause
kill -9 $pid
wait $pid || true
# Its ranks notice and stop: a killed mpimap run leaves nothing running.
t0=$SECONDS
until [ -z "$(worker_pids)" ]; do
    [ $((SECONDS - t0)) -lt 20 ] || fail "driver kill: the ranks still run after 20 s"
    sleep 0.2
done
stopped=$((SECONDS - t0))
dir=$(ls -d "$WD"/mpimap-*) || fail "driver kill: no job directory"
[ ! -e "$T/out" ] || fail "driver kill: -o FILE exists before the resume"
mm 0 "$T/o" "$T/err" --resume "$dir"
same "$T/ref" "$T/out" "--resume after the driver was killed"
at_most_twice "driver kill"
ok "driver killed by SIGKILL: its ranks stop within $stopped s; --resume finishes the map"

# ---- Ctrl-C, then a torn and a garbled journal ----------------------------------------
for damage in none torn garbled; do
    rm -f "$T/out"
    "$MPIMAP" run --workdir "$WD" -n 2 -i "$T/items" -o "$T/out" \
        --function "$H/librunlog.so:runlog" 2>"$T/err" &
    pid=$!
    wait_for_workers "Ctrl-C"
    sleep 0.5
    kill -INT $pid
    rc=0
    wait $pid || rc=$?
    [ $rc = 4 ] || { cat "$T/err" >&2; fail "Ctrl-C: exit $rc, not 4"; }
    dir=$(ls -d "$WD"/mpimap-*)
    has "$T/err" "cancelled; every finished result is kept in $dir; resume with: mpimap run --resume $dir" "Ctrl-C"
    j=$dir/journal.0
    size=$(stat -c %s "$j")
    case $damage in
    torn) # the last record cut short, as by a crash in the middle of a write
        [ "$size" -gt 100 ] && truncate -s $((size - 7)) "$j" ;;
    garbled) # a byte of the first record's payload flipped, and junk after the end
        printf '\377' | dd of="$j" bs=1 seek=40 conv=notrunc status=none
        head -c 300 /dev/urandom >>"$j" ;;
    esac
    mm 0 "$T/o" "$T/err" --resume "$dir"
    same "$T/ref" "$T/out" "Ctrl-C, journal $damage, --resume"
    at_most_twice "Ctrl-C, journal $damage"
    ok "Ctrl-C prints the resume command; journal $damage: --resume gives the reference"
done
unset MPIMAP_TEST_SPIN_US

# ---- trivial items: the journal keeps whole result sets --------------------------------
# Items that take no time come back in sets of thousands, which the journal
# writes as they are ("4RJM" records, journal.h). 200,000 of them, the one
# at 150,000 killing rank 1 (scatter: the second half is its share; the
# root's death would take its results with it): the journal before the
# crash holds such records, and --resume assembles the output from them
# (the deadly item, killing its rank twice more, ends up a failed item: an
# empty line).
seq 0 199999 | sed 's/^150000$/crash/' >"$T/many"
sed 's/^crash$//' "$T/many" >"$T/many.ref"
mm 4 "$T/o" "$T/err" -n 2 -s scatter --max-restarts 0 -i "$T/many" -o "$T/out" \
    --function "$H/libcrash.so:segv"
dir=$(ls -d "$WD"/mpimap-*)
grep -aq 4RJM "$dir/journal.0" || fail "trivial items: no result-set record in the journal"
mm 1 "$T/o" "$T/err" --resume "$dir" --max-restarts 1
has "$T/err" "item 150000" "trivial items, --resume"
same "$T/many.ref" "$T/out" "trivial items: --resume from result-set records"
ok "trivial items: result sets journalled whole before the crash; --resume gives the reference"
rm -f "$T/many" "$T/many.ref" "$T/out"
clean_wd

# ---- retries ---------------------------------------------------------------------------
# Items 0, 5, 10, 15 fail their first attempt; item 7 fails every time.
mkdir "$T/flaky"
seq 0 19 >"$T/twenty"
script='if [ $(($1 % 5)) = 0 ] && [ ! -e "$2/$1" ]; then : >"$2/$1"; exit 3; fi
[ "$1" != 7 ] || exit 9
echo "ok$1"'
mm 1 "$T/out" "$T/err" -n 2 --retries 2 --joblog "$T/jl" -i "$T/twenty" -- sh -c "$script" sh {} "$T/flaky"
seq 0 19 | sed 's/^/ok/; s/^ok7$//' >"$T/r20"
same "$T/r20" "$T/out" "--retries 2"
attempts() { awk -F'\t' -v i="$1" -v s="$2" '$1 == i && $5 == s' "$T/jl" | wc -l; }
for i in 0 5 10 15; do
    [ "$(attempts $i failed)" = 1 ] && [ "$(attempts $i ok)" = 1 ] ||
        { cat "$T/jl" >&2; fail "--retries: item $i: not one failed and one ok attempt in the joblog"; }
done
[ "$(attempts 7 failed)" = 3 ] || { cat "$T/jl" >&2; fail "--retries 2: item 7 did not run 3 times"; }
[ "$(attempts 3 ok)" = 1 ] && [ "$(attempts 3 failed)" = 0 ] || fail "--retries: item 3 ran again"
has "$T/err" "item 7 (rank " "--retries: the summary"
has "$T/err" "1 of 20 items failed" "--retries: the summary"
ok "--retries 2: four items succeed on their second attempt, one fails all 3; the joblog has every attempt"

# The progress file (what the progress line shows) while the retries run:
# never more items done than there are (each attempt used to count: 26 of
# 20 here), nor more failed than done. The retried attempts sleep, so that
# the progress is read during the retry rounds.
rm -rf "$T/flaky" && mkdir "$T/flaky"
script='if [ $(($1 % 5)) = 0 ] && [ ! -e "$2/$1" ]; then : >"$2/$1"; exit 3; fi
[ "$1" != 7 ] || { [ ! -e "$2/7" ] || sleep 0.4; : >"$2/7"; exit 9; }
[ ! -e "$2/$1" ] || sleep 0.4
echo "ok$1"'
timeout 60 "$MPIMAP" run --workdir "$WD" -n 2 --retries 2 -i "$T/twenty" -o "$T/out" \
    -- sh -c "$script" sh {} "$T/flaky" 2>"$T/err" &
bg=$!
: >"$T/seen"
while kill -0 $bg 2>/dev/null; do
    if [ -e "$T/flaky/7" ]; then # a retry round may have started
        cat "$WD"/mpimap-*/progress >>"$T/seen" 2>/dev/null || :
    fi
    sleep 0.02
done
rc=0 && wait $bg || rc=$?
[ $rc = 1 ] || { cat "$T/err" >&2; fail "--retries progress: exit status $rc, not 1 (item 7 failed)"; }
same "$T/r20" "$T/out" "--retries progress"
# The retry rounds take about 1.6 s: dozens of reads.
[ "$(wc -l <"$T/seen")" -ge 10 ] || fail "--retries progress: the progress file was read $(wc -l <"$T/seen") times"
# "done failed total elapsed median" (total 0: not counted without a progress line)
awk 'NF == 5 && ($1 > 20 || $2 > $1) && bad++ < 3 {print "--retries progress: [" $0 "]: more than 20 done, or more failed than done"}
     END {exit bad > 0}' "$T/seen" >&2 || fail "--retries progress: see above"
ok "--retries 2: the progress never counts an item twice (at most 20 done while the retries run)"

# ---- --resume --retry-failed -----------------------------------------------------------
# Items 0, 10, 20 and 30 fail their first attempt; Ctrl-C stops the map
# after them; --resume --retry-failed runs them again (a plain --resume
# would keep them failed).
rm -rf "$T/flaky" && mkdir "$T/flaky"
seq 0 199 >"$T/two100"
script='if [ $(($1 % 10)) = 0 ] && [ "$1" -le 30 ] && [ ! -e "$2/$1" ]; then : >"$2/$1"; exit 3; fi
sleep 0.02; echo "ok$1"'
"$MPIMAP" run --workdir "$WD" -n 2 --chunk 1 -i "$T/two100" -o "$T/out" \
    -- sh -c "$script" sh {} "$T/flaky" 2>"$T/err" &
pid=$!
t0=$SECONDS
until [ -e "$T/flaky/30" ]; do
    [ $((SECONDS - t0)) -lt 60 ] || fail "--retry-failed: the map did not get to item 30"
    sleep 0.05
done
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc = 4 ] || { cat "$T/err" >&2; fail "--retry-failed: Ctrl-C gave exit $rc"; }
dir=$(ls -d "$WD"/mpimap-*)
mm 0 "$T/o" "$T/err" --resume "$dir" --retry-failed
seq 0 199 | sed 's/^/ok/' >"$T/r200"
same "$T/r200" "$T/out" "--resume --retry-failed"
ok "--resume --retry-failed: the items that had failed before the stop run again and succeed"

# ---- timeouts --------------------------------------------------------------------------
printf '1\n2\n3\n4\n5\n' >"$T/five"
t0=$SECONDS
mm 1 "$T/out" "$T/err" -n 2 --timeout 0.5 -i "$T/five" -- sh -c '[ "$0" != 3 ] || sleep 60; echo "ok$0"' {}
printf 'ok1\nok2\n\nok4\nok5\n' >"$T/r5"
same "$T/r5" "$T/out" "--timeout, command"
has "$T/err" ": timed out after 0.5 s" "--timeout, command"
[ $((SECONDS - t0)) -lt 30 ] || fail "--timeout, command: took $((SECONDS - t0)) s"
ok "--timeout 0.5: the hung command is killed and failed, the map goes on"

printf '10\n20\n600000\n30\n10\n' >"$T/ms"
t0=$SECONDS
mm 1 "$T/out" "$T/err" -n 2 --timeout 1 -i "$T/ms" --function "$H/libsleepms.so:sleep_ms"
printf '10\n20\n\n30\n10\n' >"$T/rms"
same "$T/rms" "$T/out" "--timeout, function"
has "$T/err" "item 2 (rank " "--timeout, function"
has "$T/err" ": timed out after 1 s" "--timeout, function"
took=$((SECONDS - t0))
[ $took -lt 40 ] || fail "--timeout, function: took $took s"
ok "--timeout 1: the hung function's rank is stopped, the item failed, the rest done (${took} s)"

# ---- the watchdog line ----------------------------------------------------------------
printf '10\n10\n10\n5000\n10\n10\n' >"$T/slow"
mm 0 "$T/out" "$T/err" -n 2 --watchdog 1 -i "$T/slow" --function "$H/libsleepms.so:sleep_ms"
grep -Eq "^mpimap: item 3 has run 0m0[1-5]s on rank [01] \([^)]+\)" "$T/err" ||
    { cat "$T/err" >&2; fail "--watchdog: no line naming item 3"; }
ok "--watchdog 1: the long item is named with its rank, host and time"

# ---- progress while a long item runs ---------------------------------------------------
# The three short items are durable (and counted in the job's progress file,
# which the progress line and the walltime warning read) while the long one
# still runs, not only when the next result arrives.
printf '10\n10\n10\n8000\n' >"$T/tail"
timeout 60 "$MPIMAP" run --workdir "$WD" -n 2 -i "$T/tail" -o "$T/out" \
    --function "$H/libsleepms.so:sleep_ms" 2>"$T/err" &
bg=$!
seen=
for _ in $(seq 150); do # until seen, the map's end, or 15 s (a slow start)
    sleep 0.1
    kill -0 $bg 2>/dev/null || break
    seen=$(cat "$WD"/mpimap-*/progress 2>/dev/null) || continue
    [ "${seen%% *}" = 3 ] && break
done
kill -0 $bg 2>/dev/null || fail "progress: the map ended before the long item could be seen running"
wait $bg || fail "progress: the map failed: $(cat "$T/err")"
[ "${seen%% *}" = 3 ] || fail "progress: [$seen] while the long item ran, not 3 items done"
cmp -s "$T/tail" "$T/out" || fail "progress: the output is not the items"
clean_wd
ok "progress: the items done are counted while a long item runs"

# ---- results that cannot be written ----------------------------------------------------
if [ -w /dev/full ]; then
    mm 3 "$T/out" "$T/err" -n 2 -i "$T/five" -o /dev/full -- echo '{}'
    has "$T/err" "No space left on device" "-o /dev/full"
    dir=$(ls -d "$WD"/mpimap-*) || fail "-o /dev/full: the job directory was not kept"
    [ -s "$dir/results" ] || fail "-o /dev/full: the results are not kept in $dir"
    clean_wd
    ok "-o /dev/full: a clear error, the results kept in the job directory"
fi

done_checks
