#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# slurm.sh - `mpimap run` under a real Slurm (suite "slurm"; the cluster of
# tests/slurm/setup.sh): the srun launcher inside salloc and the slurm
# (sbatch) launcher give byte for byte the output of the mpirun launcher;
# hostile option values reach sbatch and the job exactly and run nothing;
# --detach with `mpimap status` and `mpimap collect`; Ctrl-C cancels the
# job in Slurm (exit 4); a job past its walltime ends TIMEOUT and is
# reported as killed at its walltime (exit 4); an sbatch that fails is
# exit 3 with its message; no sbatch on PATH is exit 3.
#
# Skipped (exit 77) when no Slurm controller answers here.
set -euo pipefail

if ! command -v sinfo >/dev/null 2>&1 || ! timeout 10 sinfo -h -o %t >/dev/null 2>&1; then
    echo "SKIP: no Slurm controller answers here (start one with tests/slurm/setup.sh)"
    exit 77
fi
. "$4/lib.sh"
case "$(timeout 10 sinfo -h -o %t | head -n 1)" in
idle* | mix* | alloc*) ;;
*) echo "SKIP: the Slurm node is not up: $(sinfo -h -o '%N %t')"; exit 77 ;;
esac

# mmt SECONDS EXPECTED_RC OUT ERR [PREFIX... --] [run options...]: as mm
# (lib.sh), with a time limit of its own and an optional command in front of
# mpimap (salloc ...), given before a lone "--mpimap".
mmt() {
    local limit=$1 want=$2 out=$3 err=$4 rc=0
    shift 4
    local pre=()
    if [[ " $* " == *" --mpimap "* ]]; then
        while [ "$1" != --mpimap ]; do
            pre+=("$1")
            shift
        done
        shift
    fi
    timeout "$limit" "${pre[@]}" env PATH="$RUN_PATH" "$MPIMAP" run --workdir "$WD" "$@" \
        <"$IN" >"$out" 2>"$err" || rc=$?
    if [ "$rc" = 124 ]; then
        cat "$err" >&2
        fail "timed out after $limit s: ${pre[*]} mpimap run $*"
    fi
    if [ "$rc" != "$want" ]; then
        cat "$err" >&2
        fail "exit status $rc, expected $want: ${pre[*]} mpimap run $*"
    fi
    if [ "$want" -le 1 ] && [[ " $* " != *" --detach "* && " $* " != *" --dry-run "* ]] &&
        [ -n "$(ls -A "$WD")" ]; then
        fail "job directory left in the workdir after mpimap run $*: $(ls -A "$WD")"
    fi
    return 0
}

# The Slurm job id a verbose run reported ("submitted slurm job N").
jobid_of() {
    sed -n 's/.*submitted slurm job \([0-9][0-9]*\).*/\1/p' "$1" | head -n 1
}

# state JOBID: JobState= of a job the controller still knows (MinJobAge).
state() {
    scontrol show job -o "$1" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p'
}

# field JOBID KEY: the value of KEY= up to the next " Key=".
field() {
    scontrol show job -o "$1" | python3 -c '
import re, sys
line = sys.stdin.read().rstrip("\n")
m = re.search(r"(?:^| )" + re.escape(sys.argv[1]) + r"=(.*?)(?= [A-Za-z][A-Za-z0-9_:/]*=|$)", line)
print(m.group(1).rstrip(" ") if m else "")' "$2"
}

# ---- inputs and the mpirun reference -----------------------------------------
{
    seq 1 40
    echo "two  spaces 'single' \"double\" \$HOME \$(touch $T/canary) * ; |"
    printf '%s\n' "" "-n" "it's"
} >"$T/items"
mm 0 "$T/ref" "$T/err" -n 2 --launcher mpirun -i "$T/items" -- echo 'v[{}]'
[ "$(wc -l <"$T/ref")" = 44 ] || fail "the mpirun reference is wrong"
seq -20 30 >"$T/num"
printf 'a\nb\nc\n' >"$T/abc"
mm 0 "$T/ref.sq" "$T/err" -n 3 --launcher mpirun -i "$T/num" --function "$H/libsquare.so:square"

# ---- (a) the srun launcher inside an allocation -----------------------------
for np in 2 8; do
    for s in pool scatter; do
        mmt 120 0 "$T/out" "$T/err" salloc --quiet -n $np --mpimap \
            -n $np -s $s --launcher srun -i "$T/items" -- echo 'v[{}]'
        same "$T/ref" "$T/out" "salloc -n $np, --launcher srun -s $s"
    done
    mmt 120 0 "$T/out" "$T/err" salloc --quiet -n $np --mpimap \
        -n $np --launcher srun -i "$T/num" --function "$H/libsquare.so:square"
    same "$T/ref.sq" "$T/out" "salloc -n $np, --launcher srun --function"
done

# ---- (b) the slurm launcher: sbatch, polled until done ---------------------
for np in 2 8; do
    for s in pool scatter; do
        mmt 120 0 "$T/out" "$T/err" -n $np -s $s --launcher slurm -v -i "$T/items" \
            -- echo 'v[{}]'
        same "$T/ref" "$T/out" "--launcher slurm -n $np -s $s"
        id=$(jobid_of "$T/err")
        [ -n "$id" ] || fail "no 'submitted slurm job N' in: $(cat "$T/err")"
        st=$(state "$id")
        [ "$st" = COMPLETED ] || fail "slurm job $id ended $st, not COMPLETED"
        [ "$(field "$id" NumTasks)" = $np ] || fail "slurm job $id had $(field "$id" NumTasks) tasks, not $np"
    done
    mmt 120 0 "$T/out" "$T/err" -n $np --launcher slurm -i "$T/num" \
        --function "$H/libsquare.so:square"
    same "$T/ref.sq" "$T/out" "--launcher slurm -n $np --function"
done
ok "slurm jobs ended COMPLETED with the ranks asked for"
# The job's shape and resources as sbatch took them.
mmt 120 0 "$T/out" "$T/err" -n 8 --nodes 1 --ppn 8 --cpus-per-rank 1 --walltime 10:00 \
    --queue debug --mem 100M --launcher slurm -v -i "$T/items" -- echo 'v[{}]'
same "$T/ref" "$T/out" "--launcher slurm with --nodes --ppn --cpus-per-rank --walltime --queue --mem"
id=$(jobid_of "$T/err")
for kv in NumNodes=1 NumTasks=8 CPUs/Task=1 TimeLimit=00:10:00 Partition=debug \
    MinMemoryNode=100M; do
    [ "$(field "$id" "${kv%%=*}")" = "${kv#*=}" ] ||
        fail "slurm job $id: ${kv%%=*} is '$(field "$id" "${kv%%=*}")', not '${kv#*=}'"
done
ok "sbatch took --nodes --ppn --cpus-per-rank --walltime --queue --mem"

# ---- hostile values reach sbatch and the job exactly -------------------------
JNAME="it's \`touch $T/canary.n\` \$(touch $T/canary.n) \"q\" # ; & |"
VAL="\$(touch $T/canary.e) it's \`x\` \"q\" \\ # ; &
second line"
COMMENT="\$(touch $T/canary.c) 'q' \"d\" # not a comment"
for i in 1 2 3; do printf '[%s]\n' "$VAL"; done >"$T/hostile.ref"
mmt 120 0 "$T/out" "$T/err" -n 2 --launcher slurm -v -i "$T/abc" --job-name "$JNAME" \
    --export "MPIMAP_HOSTILE=$VAL" --sched-arg "--comment=$COMMENT" \
    -- sh -c 'printf "[%s]\n" "$MPIMAP_HOSTILE"'
same "$T/hostile.ref" "$T/out" "--export with a hostile value reaches every item exactly"
id=$(jobid_of "$T/err")
[ "$(field "$id" JobName)" = "$JNAME" ] || fail "job name is '$(field "$id" JobName)', not '$JNAME'"
[ "$(field "$id" Comment)" = "$COMMENT" ] || fail "comment is '$(field "$id" Comment)'"
for c in "$T"/canary*; do
    [ ! -e "$c" ] || fail "a hostile string was executed: $c exists"
done
ok "hostile --job-name, --export and --sched-arg reach Slurm exactly; nothing ran"

# ---- --dry-run: the script, nothing submitted; sbatch of it by hand runs ----
DRY=mpimap-dry-$$-$RANDOM
mmt 60 0 "$T/out" "$T/err" -n 2 --launcher slurm --dry-run --job-name "$DRY" -i "$T/abc" \
    -- echo x
has "$T/out" "#SBATCH --job-name=$DRY" "--dry-run"
has "$T/out" "sbatch --parsable " "--dry-run"
[ -z "$(squeue -h -n "$DRY")" ] && ! scontrol show job -o | grep -qF "JobName=$DRY " ||
    fail "--dry-run submitted a job"
script=$(sed -n 's/^sbatch --parsable //p' "$T/out")
[ -f "$script" ] || fail "--dry-run: no job script '$script'"
id=$(sbatch --parsable "$script")
for _ in $(seq 600); do
    case "$(state "$id")" in COMPLETED | FAILED | CANCELLED | TIMEOUT) break ;; esac
    sleep 0.1
done
[ "$(state "$id")" = COMPLETED ] || fail "the --dry-run script by hand: job $id $(state "$id")"
clean_wd
ok "--dry-run prints the script and submits nothing; sbatch of it by hand completes"

# ---- --detach, mpimap status, mpimap collect ---------------------------------
mmt 60 0 "$T/dir" "$T/err" -n 2 --launcher slurm --detach -i "$T/items" -- echo 'v[{}]'
# The job directory: the line printed on standard output, or the one named
# on standard error ("job directory DIR").
dir=$(tail -n 1 "$T/dir")
[ -n "$dir" ] || dir=$(sed -n 's/.*job directory \(\/[^ ;]*\).*/\1/p' "$T/err" | head -n 1)
[ -d "$dir" ] || fail "--detach printed no job directory: $(cat "$T/dir" "$T/err")"
"$MPIMAP" status "$dir" >"$T/status" || fail "mpimap status failed: $(cat "$T/status")"
has "$T/status" "slurm job " "mpimap status"
timeout 120 "$MPIMAP" collect "$dir" >"$T/out" 2>"$T/err" || fail "mpimap collect: $(cat "$T/err")"
same "$T/ref" "$T/out" "--detach, then mpimap collect"
[ ! -e "$dir" ] || fail "mpimap collect left the job directory $dir"

# ---- a submission sbatch refuses: exit 3 with its message --------------------
mmt 60 3 "$T/out" "$T/err" -n 2 --launcher slurm --reservation no-such-resv -i "$T/abc" -- echo x
has "$T/err" "sbatch" "a refused submission"
has "$T/err" "eservation" "a refused submission"
clean_wd
ok "a submission sbatch refuses is exit 3, with sbatch's message"

# ---- (e) no sbatch on PATH -----------------------------------------------------
mkdir "$T/emptybin"
RUN_PATH=$T/emptybin
mmt 60 3 "$T/out" "$T/err" -n 2 --launcher slurm -i "$T/abc" -- echo x
RUN_PATH=$PATH
has "$T/err" "sbatch not found on PATH" "no sbatch"
clean_wd
ok "no sbatch on PATH: exit 3, 'sbatch not found on PATH'"

# ---- (c) Ctrl-C cancels the job in Slurm ---------------------------------------
# Each item sleeps a duration no other test uses, to find its processes.
NAP=47.31
printf '%s\n' $NAP $NAP $NAP $NAP >"$T/naps"
env PATH="$RUN_PATH" "$MPIMAP" run --workdir "$WD" -n 2 --launcher slurm -v -i "$T/naps" \
    -- sleep '{}' </dev/null >"$T/out" 2>"$T/err" &
pid=$!
id=
for _ in $(seq 300); do
    id=$(jobid_of "$T/err")
    [ -n "$id" ] && [ "$(state "$id")" = RUNNING ] && pgrep -f "sleep $NAP" >/dev/null && break
    sleep 0.1
done
[ -n "$id" ] && [ "$(state "$id")" = RUNNING ] || { kill "$pid"; fail "the job never ran: $(cat "$T/err")"; }
kill -INT "$pid"
rc=0
timeout 60 tail --pid="$pid" -f /dev/null || fail "mpimap did not end after Ctrl-C"
wait "$pid" || rc=$?
[ "$rc" = 4 ] || { cat "$T/err" >&2; fail "exit status $rc after Ctrl-C, expected 4"; }
st=$(state "$id")
[ -z "$st" ] || [ "$st" = CANCELLED ] || fail "slurm job $id is $st after Ctrl-C, not CANCELLED"
[ -z "$(squeue -h -j "$id" -t PD,R,CG 2>/dev/null)" ] || fail "slurm job $id still in the queue"
for _ in $(seq 50); do
    pgrep -f "sleep $NAP" >/dev/null || break
    sleep 0.1
done
! pgrep -f "sleep $NAP" >/dev/null || fail "the cancelled job's items still run: $(pgrep -af "sleep $NAP")"
clean_wd
ok "Ctrl-C: slurm job $id CANCELLED, its processes gone, exit 4"

# ---- (d) the walltime, then --resume in a new job ----------------------------------
# Slurm's smallest limit is a minute (OverTimeLimit=0, KillWait=2 in
# tests/slurm/setup.sh): two ranks, four items of 45 s: two finish, two are
# killed at the walltime; mpimap warns while it runs that they will not fit.
# The command it prints (--resume with a longer walltime) runs those two in
# a new job, and the output is the whole map's.
printf '45 %s\n' a b c d >"$T/long"
sed 's/^/done /' "$T/long" >"$T/long.ref"
mmt 150 4 "$T/out" "$T/err" -n 2 --launcher slurm -v --walltime 1:00 -i "$T/long" \
    -- sh -c 'sleep "${0%% *}" && echo "done $0"' {}
has "$T/err" "killed at its walltime" "--walltime 1:00"
id=$(jobid_of "$T/err")
st=$(state "$id")
[ "$st" = TIMEOUT ] || fail "slurm job $id ended $st, not TIMEOUT"
dir=$(ls -d "$WD"/mpimap-*) || fail "--walltime: no job directory kept"
has "$T/err" "will be killed at its walltime in" "--walltime 1:00 (the warning while it ran)"
has "$T/err" "resume with: mpimap run --resume $dir --walltime" "--walltime 1:00"
# The walltime it suggests: the 2 items left at 2 items a minute, a quarter
# more and a minute to start (2:15), in whole minutes.
resume=$(sed -n 's/^.*resume with: mpimap run //p' "$T/err")
case $resume in
"--resume $dir --walltime 0:03:00") ;;
*) fail "--walltime 1:00: the resume command suggests [$resume], not --walltime 0:03:00" ;;
esac
ok "--walltime 1:00: slurm job $id TIMEOUT, 'killed at its walltime', exit 4, resumable with a longer walltime"
t0=$SECONDS
# shellcheck disable=SC2086 # the words of the command mpimap printed
mmt 150 0 "$T/out" "$T/err" $resume -v
same "$T/long.ref" "$T/out" "--resume after the walltime"
id2=$(jobid_of "$T/err")
[ -n "$id2" ] && [ "$id2" != "$id" ] || fail "--resume: no new slurm job ($id2)"
took=$((SECONDS - t0))
[ $took -lt 100 ] || fail "--resume ran more than the two items left (${took} s)"
[ ! -e "$dir" ] || fail "--resume: the job directory was kept after success"
ok "--resume: slurm job $id2 ran the 2 items left (${took} s); the output is the whole map's"

done_checks
