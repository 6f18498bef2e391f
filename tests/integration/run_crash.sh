#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_crash.sh - a handler that kills its rank (SIGSEGV, abort()) under
# mpirun and the serial launcher. With --max-restarts 0 the run ends
# promptly (well inside the 60 s timeout) with exit 4, standard error names
# the item index and the rank, the job directory is kept with the crash
# report and its path is printed with the command that resumes it, and -o
# FILE is not written. By default the job is started again for the items
# left, and an item that kills its rank twice is a failed item: the map
# finishes everything else (exit 1). A successful run keeps nothing.
set -euo pipefail
. "$4/lib.sh"

# 8 items; item 5 is the deadly one.
mkinput() { printf 'a\nb\nc\nd\ne\n%s\ng\nh\n' "$1"; }
mkinput crash >"$T/segv.in"
mkinput abort >"$T/abort.in"

# crash_case WHAT INPUT SYMBOL SIGNAL SIGNAME RANK-REGEX [run options...]
crash_case() {
    local what=$1 input=$2 sym=$3 sig=$4 signame=$5 rank=$6
    shift 6
    rm -f "$T/result.txt"
    local t0=$SECONDS
    mm 4 "$T/out" "$T/err" --max-restarts 0 "$@" -i "$input" -o "$T/result.txt" \
        --function "$H/libcrash.so:$sym"
    local took=$((SECONDS - t0))
    [ $took -le 30 ] || fail "$what: took $took s to end"
    # The rank's own report, and the summary line of mpimap run.
    grep -Eq "^mpimap: rank $rank \(pid [0-9]+ on [^)]+\) died of signal $sig \($signame\) while running item 5\$" "$T/err" ||
        { cat "$T/err" >&2; fail "$what: the rank's report does not name item 5 and rank $rank"; }
    grep -Eq "^mpimap run: rank $rank \(pid [0-9]+ on [^)]+\) died of signal $sig \($signame\) while running item 5; the job was stopped" "$T/err" ||
        { cat "$T/err" >&2; fail "$what: the summary does not name item 5 and rank $rank"; }
    empty "$T/out" "$what: standard output"
    [ ! -e "$T/result.txt" ] || fail "$what: -o FILE was written after a crash"
    ls "$T" | grep -q '^result.txt' && fail "$what: a temporary result file was left: $(ls "$T")"
    # Exactly one job directory, kept, named in the message, with the report.
    local dirs
    dirs=$(ls -d "$WD"/mpimap-*) || fail "$what: no job directory kept"
    [ "$(echo "$dirs" | wc -l)" = 1 ] || fail "$what: several job directories: $dirs"
    [ -d "$dirs" ] || fail "$what: $dirs is not a directory"
    has "$T/err" "; resume with: mpimap run --resume $dirs" "$what"
    [ -f "$dirs/spec" ] || fail "$what: the kept job directory has no spec"
    local n
    n=$(grep -l "died of signal $sig" "$dirs"/crash.* | wc -l)
    [ "$n" = 1 ] || fail "$what: $n crash reports in $dirs, not 1"
    [ "$(stat -c %a "$dirs")" = 700 ] || fail "$what: the job directory is not mode 0700"
    clean_wd
    ok "$what: exit 4 in ${took}s, item 5 and rank named, job directory kept and printed"
}

for np in 2 3; do
    # pool: any rank may run item 5.
    crash_case "pool -n $np, SIGSEGV" "$T/segv.in" segv 11 "Segmentation fault" "[0-$((np - 1))]" \
        -n $np -s pool --chunk 1
    crash_case "pool -n $np, abort()" "$T/abort.in" abort_on 6 "Aborted" "[0-$((np - 1))]" \
        -n $np -s pool
done
# scatter: 8 items over 3 ranks are shares of 3, 3, 2: item 5 is rank 1's.
crash_case "scatter -n 3, SIGSEGV" "$T/segv.in" segv 11 "Segmentation fault" 1 -n 3 -s scatter
crash_case "scatter -n 3, abort()" "$T/abort.in" abort_on 6 "Aborted" 1 -n 3 -s scatter
# 8 items over 2 ranks: shares of 4 and 4; item 5 is rank 1's.
crash_case "scatter -n 2, SIGSEGV" "$T/segv.in" segv 11 "Segmentation fault" 1 -n 2 -s scatter
# One rank, and the serial launcher (no MPI at all): rank 0.
crash_case "pool -n 1, SIGSEGV" "$T/segv.in" segv 11 "Segmentation fault" 0 -n 1
crash_case "serial, SIGSEGV" "$T/segv.in" segv 11 "Segmentation fault" 0 -l serial
crash_case "serial, abort()" "$T/abort.in" abort_on 6 "Aborted" 0 -l serial

# What was finished before the crash is kept as results.partial, in order:
# the root writes results out about every 0.25 s, so it holds the first k
# results (k may be 0 here, the job being short), never anything else.
mm 4 "$T/out" "$T/err" --max-restarts 0 -n 1 --chunk 1 -i "$T/segv.in" \
    --function "$H/libcrash.so:segv"
dir=$(ls -d "$WD"/mpimap-*)
[ -f "$dir/results.partial" ] || fail "-n 1: no results.partial in $dir"
prefix_ok=0
for k in 0 1 2 3 4 5; do
    head -n $k "$T/segv.in" >"$T/partial.ref"
    cmp -s "$T/partial.ref" "$dir/results.partial" && prefix_ok=1
done
[ $prefix_ok = 1 ] || { od -c "$dir/results.partial" | head >&2; fail "results.partial is not the first k results"; }
ok "-n 1: results.partial holds the first $(wc -l <"$dir/results.partial") results, in order"
# ... and --resume finishes it: allowed to restart now, item 5 kills its
# rank a second time and becomes a failed item; all others are there.
mm 1 "$T/out" "$T/err" --resume "$dir" --max-restarts 2
printf 'a\nb\nc\nd\ne\n\ng\nh\n' >"$T/ref"
same "$T/ref" "$T/out" "--resume after a crash"
grep -Eq "^  item 5 \(rank 0\): rank 0 \(pid [0-9]+ on [^)]+\) died of signal 11 \(Segmentation fault\) while running item 5\$" "$T/err" ||
    { cat "$T/err" >&2; fail "--resume: item 5 is not reported failed by its rank's death"; }
[ ! -e "$dir" ] || fail "--resume: the job directory was kept after success"
ok "--resume of the crashed job: every other item, item 5 failed, directory removed"
clean_wd

# By default a dead rank's job is started again (twice at most), and the
# item that killed its rank twice fails: the map ends with exit 1.
printf 'a\nb\nc\nd\ne\n\ng\nh\n' >"$T/ref"
for args in "-n 3 -s pool --chunk 1" "-n 2 -s scatter" "-n 3 -s guided" "-n 3 -s steal" "-l serial"; do
    # shellcheck disable=SC2086
    mm 1 "$T/out" "$T/err" $args -i "$T/segv.in" --function "$H/libcrash.so:segv"
    same "$T/ref" "$T/out" "$args: a crashing item among others"
    has "$T/err" "(restart 1 of 2)" "$args"
    has "$T/err" "(restart 2 of 2)" "$args"
    has "$T/err" "mpimap: 1 of 8 items failed:" "$args"
    grep -Eq "^  item 5 \(rank [0-9]\): rank [0-9] \(pid [0-9]+ on [^)]+\) died of signal 11 \(Segmentation fault\) while running item 5\$" "$T/err" ||
        { cat "$T/err" >&2; fail "$args: item 5 is not reported failed by its rank's death"; }
    ok "$args: the job restarts twice, item 5 fails, the 7 others are done (exit 1)"
done

# SIGTERM to `mpimap run` stops the job: exit 4, the job directory kept,
# and none of its commands keeps running.
TOKEN=41.$$
# The processes that have the argument $TOKEN (the sleeps; procps may be
# missing in CI, and the regex keeps grep from finding itself), and how many.
sleep_pids() {
    { grep -alzx "41[.]$$" /proc/[0-9]*/cmdline 2>/dev/null || true; } |
        sed 's|^/proc/||; s|/cmdline$||'
}
running() { sleep_pids | wc -l; }
# start_sleeps WHAT N [OPTIONS...]: `mpimap run` of four 'sleep $TOKEN' on 2
# ranks in the background (its pid in $pid), until N of them run.
start_sleeps() {
    local what=$1 n=$2 t0
    shift 2
    printf '%s\n' $TOKEN $TOKEN $TOKEN $TOKEN >"$T/sleeps"
    # (no `timeout` here: the signal is for mpimap itself; meson has a timeout)
    "$MPIMAP" run --workdir "$WD" -n 2 --chunk 1 "$@" -i "$T/sleeps" \
        -- sleep {} >"$T/out" 2>"$T/err" &
    pid=$!
    t0=$SECONDS
    until [ "$(running)" -ge "$n" ]; do
        [ $((SECONDS - t0)) -lt 30 ] || fail "$what: the sleeps did not start"
        sleep 0.1
    done
}
for launcher in mpirun serial; do
    start_sleeps "$launcher" 1 -l $launcher
    t0=$SECONDS
    kill -TERM $pid
    rc=0
    wait $pid || rc=$?
    took=$((SECONDS - t0))
    [ $rc = 4 ] || { cat "$T/err" >&2; fail "$launcher: SIGTERM: exit status $rc, not 4"; }
    [ $took -le 10 ] || fail "$launcher: SIGTERM: took $took s to end"
    has "$T/err" "mpimap: terminated: stopping the job..." "$launcher: SIGTERM"
    dir=$(ls -d "$WD"/mpimap-*) || fail "$launcher: SIGTERM: no job directory kept"
    has "$T/err" "cancelled; every finished result is kept in $dir; resume with: mpimap run --resume $dir" \
        "$launcher: SIGTERM"
    sleep 0.5
    [ "$(running)" = 0 ] || fail "$launcher: SIGTERM: $(running) 'sleep $TOKEN' still run"
    clean_wd
    ok "$launcher: SIGTERM to mpimap run: exit 4 in ${took}s, no command left running"
done

# Every rank killed with SIGKILL (no handler of theirs runs: the OOM killer,
# say): their commands die with them, not run on as orphans (each runs in a
# process group of its own, so that a timeout kills all it started).
start_sleeps SIGKILL 2 --max-restarts 0
mapfile -t pids < <(worker_pids)
[ ${#pids[@]} = 2 ] || fail "SIGKILL: ${#pids[@]} ranks found, not 2"
kill -9 "${pids[@]}"
rc=0
wait $pid || rc=$?
[ $rc = 4 ] || { cat "$T/err" >&2; fail "SIGKILL: exit status $rc, not 4"; }
t0=$SECONDS
while [ "$(running)" != 0 ] && [ $((SECONDS - t0)) -lt 5 ]; do sleep 0.1; done
if [ "$(running)" != 0 ]; then
    left=$(running)
    sleep_pids | xargs -r kill -9
    fail "SIGKILL to every rank: $left 'sleep $TOKEN' still ran 5 s later"
fi
clean_wd
ok "SIGKILL to every rank: their commands die with them"

# The same handlers on harmless input: exit 0 and no job directory left
# (mm checks the workdir after every successful run).
mkinput x >"$T/fine.in"
for s in pool scatter; do
    mm 0 "$T/out" "$T/err" -n 3 -s $s -i "$T/fine.in" --function "$H/libcrash.so:segv"
    same "$T/fine.in" "$T/out" "$s: the crash handler on harmless items"
    [ -z "$(ls -A "$WD")" ] || fail "a job directory was left after success"
    ok "$s: no job directory is left after a successful run"
done

done_checks
