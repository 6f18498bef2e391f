#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# world.sh - `mpimap world` (pyina's mpi_world) under real mpirun: one line
# "RANK HOST PID CPUS" per rank, in rank order; the serial launcher runs
# mpimap-world as one process; the scheduler's job line; --dry-run prints
# the exact launcher command; errors and their exit statuses.
set -euo pipefail
. "$4/lib.sh"

[ -x "${MPIMAP_WORLD:-}" ] || fail "MPIMAP_WORLD is not an executable: '${MPIMAP_WORLD:-}'"
HOST=$(hostname)
NCPU=$(getconf _NPROCESSORS_ONLN)
# Outside any scheduler's job, whatever runs the tests.
NOJOB=(env -u SLURM_JOB_ID -u SLURM_JOB_NODELIST -u PBS_JOBID -u PBS_NODEFILE
       -u LSB_JOBID -u LSB_HOSTS -u JOB_ID -u SGE_ROOT -u PE_HOSTFILE)

# world EXPECTED_RC OUT ERR [args...]: mpimap world under timeout 60.
world() {
    local want=$1 out=$2 err=$3 rc=0
    shift 3
    timeout 60 "${NOJOB[@]}" "$MPIMAP" world "$@" </dev/null >"$out" 2>"$err" || rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$err" >&2
        fail "exit status $rc, expected $want: mpimap world $*"
    fi
}

# ranks FILE N WHAT: FILE is N lines "RANK HOST PID CPUS", ranks 0..N-1 in
# order, on this host, with distinct PIDs and a CPU list of ranges.
ranks() {
    local file=$1 n=$2 what=$3 i=0 rank host pid cpus extra
    [ "$(wc -l <"$file")" = "$n" ] || { cat "$file" >&2; fail "$what: not $n lines"; }
    while read -r rank host pid cpus extra; do
        [ "$rank" = "$i" ] || fail "$what: line $((i + 1)) is rank '$rank', wanted $i"
        [ "$host" = "$HOST" ] || fail "$what: rank $i on host '$host', wanted '$HOST'"
        [[ "$pid" =~ ^[1-9][0-9]*$ ]] || fail "$what: rank $i has PID '$pid'"
        [[ "$cpus" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
            fail "$what: rank $i has CPU list '$cpus'"
        [ -z "$extra" ] || fail "$what: rank $i line has more: '$extra'"
        i=$((i + 1))
    done <"$file"
    [ "$(awk '{print $3}' "$file" | sort -u | wc -l)" = "$n" ] ||
        fail "$what: the PIDs are not distinct: $(awk '{print $3}' "$file" | tr '\n' ' ')"
    ok "$what"
}

# ---- under mpirun ------------------------------------------------------------
world 0 "$T/out" "$T/err" -n 3 -l mpirun
ranks "$T/out" 3 "-n 3 -l mpirun: ranks 0, 1, 2, each with a PID and CPU list"
empty "$T/err" "-n 3 -l mpirun: standard error"
# The launcher found by default (no Slurm allocation, no aprun): mpirun.
world 0 "$T/out" "$T/err" -n 3
ranks "$T/out" 3 "-n 3, launcher found: ranks 0, 1, 2"
world 0 "$T/out" "$T/err" --np 1 --launcher mpirun --launcher-arg --mca \
    --launcher-arg btl_base_verbose --launcher-arg 0
ranks "$T/out" 1 "--np 1 with --launcher-arg: rank 0"
# Without -n: one rank per CPU here.
world 0 "$T/out" "$T/err" -l mpirun
ranks "$T/out" "$NCPU" "no -n: $NCPU ranks, one per CPU"
# Every rank's CPUs are CPUs we may run on (our own affinity).
expand() { # "0-2,5" -> "0 1 2 5"
    local r
    for r in ${1//,/ }; do
        if [[ "$r" == *-* ]]; then seq "${r%-*}" "${r#*-}"; else echo "$r"; fi
    done
}
ALLOWED=" $(expand "$(awk '/^Cpus_allowed_list:/ {print $2}' /proc/self/status)" | tr '\n' ' ')"
world 0 "$T/out" "$T/err" -n 2 -l mpirun
while read -r rank host pid cpus; do
    for c in $(expand "$cpus"); do
        [[ "$ALLOWED" == *" $c "* ]] || fail "-n 2: rank $rank has CPU $c, not one of ours:$ALLOWED"
    done
done <"$T/out"
ok "-n 2: the CPU lists name CPUs of ours"

# ---- serial: mpimap-world itself, one process ----------------------------------
world 0 "$T/out" "$T/err" -l serial
ranks "$T/out" 1 "-l serial: rank 0"
# Its PID is not ours: a separate process, which mpirun did not start.
world 0 "$T/out" "$T/err" -l serial -n 1
ranks "$T/out" 1 "-l serial -n 1: rank 0"
world 2 "$T/out" "$T/err" -l serial -n 2
has "$T/err" "mpimap world: launcher serial runs one rank, not 2" "-l serial -n 2"
empty "$T/out" "-l serial -n 2: standard output"
ok "-l serial -n 2: usage error, exit 2"

# ---- inside a scheduler's job: the job line first -------------------------------
printf 'nodeA\nnodeA\nnodeB\nnodeA\n' >"$T/pbs_nodefile"
printf 'sgeA 2 all.q@sgeA UNDEFINED\nsgeB 1 all.q@sgeB UNDEFINED\n' >"$T/pe_hostfile"
check_job() { # WANT_LINE VAR=VALUE...
    local want=$1
    shift
    timeout 60 "${NOJOB[@]}" "$@" "$MPIMAP" world -l serial >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "mpimap world -l serial with $*"; }
    [ "$(head -n 1 "$T/out")" = "$want" ] ||
        { cat "$T/out" >&2; fail "with $*: first line is not '$want'"; }
    tail -n +2 "$T/out" >"$T/ranks"
    ranks "$T/ranks" 1 "with $*: '$want', then rank 0"
}
check_job "# slurm job 4242 nodes node[01-04],gpu7" SLURM_JOB_ID=4242 \
    "SLURM_JOB_NODELIST=node[01-04],gpu7"
check_job "# slurm job 4242 nodes ?" SLURM_JOB_ID=4242
check_job "# pbs job 17.server nodes nodeA,nodeB" PBS_JOBID=17.server \
    "PBS_NODEFILE=$T/pbs_nodefile"
check_job "# pbs job 17.server nodes ?" PBS_JOBID=17.server "PBS_NODEFILE=$T/missing"
check_job "# lsf job 99 nodes h1,h2,h3" LSB_JOBID=99 "LSB_HOSTS=h1 h1 h2 h3 h2"
check_job "# sge job 8 nodes sgeA,sgeB" JOB_ID=8 SGE_ROOT=/opt/sge "PE_HOSTFILE=$T/pe_hostfile"
# JOB_ID alone is not Grid Engine: no job line.
timeout 60 "${NOJOB[@]}" JOB_ID=8 "$MPIMAP" world -l serial >"$T/out" 2>"$T/err"
ranks "$T/out" 1 "JOB_ID without SGE_ROOT: no job line"

# ---- --dry-run ----------------------------------------------------------------------
OVERSUB=
[ "$NCPU" -ge 3 ] || OVERSUB=" --oversubscribe"
world 0 "$T/out" "$T/err" -n 3 -l mpirun --dry-run
# LD_LIBRARY_PATH, when set, is exported to the ranks.
if [ -n "${LD_LIBRARY_PATH:-}" ]; then
    echo "mpirun -np 3$OVERSUB -x LD_LIBRARY_PATH $MPIMAP_WORLD" >"$T/want"
else
    echo "mpirun -np 3$OVERSUB $MPIMAP_WORLD" >"$T/want"
fi
cmp -s "$T/want" "$T/out" || { diff "$T/want" "$T/out" >&2; fail "--dry-run -n 3 -l mpirun"; }
empty "$T/err" "--dry-run: standard error"
ok "--dry-run -n 3 -l mpirun prints the mpirun command, exactly"
world 0 "$T/out" "$T/err" -n 1 -l mpirun --dry-run --launcher-arg "--tag-output"
[ "$(cat "$T/out")" = "mpirun -np 1 ${LD_LIBRARY_PATH:+-x LD_LIBRARY_PATH }--tag-output $MPIMAP_WORLD" ] ||
    { cat "$T/out" >&2; fail "--dry-run with --launcher-arg"; }
ok "--dry-run: --launcher-arg comes before the program"
world 0 "$T/out" "$T/err" -n 4 -l srun --dry-run
[ "$(cat "$T/out")" = "srun -n 4 --mpi=pmix --export=ALL $MPIMAP_WORLD" ] ||
    { cat "$T/out" >&2; fail "--dry-run -l srun"; }
ok "--dry-run -n 4 -l srun prints the srun command"
world 0 "$T/out" "$T/err" -l serial --dry-run
[ "$(cat "$T/out")" = "$MPIMAP_WORLD" ] || { cat "$T/out" >&2; fail "--dry-run -l serial"; }
ok "--dry-run -l serial prints the program alone"
# A path with a space is one word, quoted.
mkdir "$T/a dir"
cp "$MPIMAP_WORLD" "$T/a dir/world"
MPIMAP_WORLD="$T/a dir/world" world 0 "$T/out" "$T/err" -n 2 -l mpirun --dry-run
grep -qF -- "'$T/a dir/world'" "$T/out" || { cat "$T/out" >&2; fail "--dry-run: quoting"; }
MPIMAP_WORLD="$T/a dir/world" world 0 "$T/out" "$T/err" -n 2 -l mpirun
ranks "$T/out" 2 "MPIMAP_WORLD with a space in its path: it runs, 2 ranks"

# ---- errors -------------------------------------------------------------------------
world 2 "$T/out" "$T/err" -l nosuch
has "$T/err" "mpimap world: no launcher 'nosuch'" "-l nosuch"
ok "-l nosuch: exit 2, naming it"
for bad in 0 -1 x 1000001; do
    world 2 "$T/out" "$T/err" -n "$bad"
    has "$T/err" "mpimap world: --np: '$bad' is not a whole number from 1 to 1000000" "-n $bad"
done
ok "-n 0, -1, x, 1000001: exit 2"
world 2 "$T/out" "$T/err" -n
has "$T/err" "mpimap world: option '-n' needs a value" "-n without a value"
world 2 "$T/out" "$T/err" --launcher
has "$T/err" "mpimap world: option '--launcher' needs a value" "--launcher without a value"
world 2 "$T/out" "$T/err" --bogus
has "$T/err" "mpimap world: unknown option '--bogus'" "--bogus"
world 2 "$T/out" "$T/err" extra
has "$T/err" "mpimap world: unexpected argument 'extra'" "an argument"
ok "usage errors: exit 2 with the message"
world 0 "$T/out" "$T/err" --help
has "$T/out" "usage: mpimap world [-n N]" "--help"
empty "$T/err" "--help: standard error"
ok "--help: usage on standard output, exit 0"
# The program is missing: nothing could start.
MPIMAP_WORLD=$T/missing world 3 "$T/out" "$T/err" -l serial
has "$T/err" "mpimap world: cannot start $T/missing: No such file or directory" "missing"
ok "a missing program: exit 3"
# The launcher fails: its status is reported.
MPIMAP_WORLD=/bin/false world 1 "$T/out" "$T/err" -n 1 -l mpirun
has "$T/err" "mpimap world: mpirun exited with status" "mpirun fails"
ok "the launcher fails: exit 1"
# A scheduler launcher, when one is installed, is refused for now.
for sched in slurm pbs torque moab lsf sge; do
    if "$MPIMAP" plugins --kind launcher 2>/dev/null | awk '{print $2}' | grep -qx "$sched"; then
        world 2 "$T/out" "$T/err" -l "$sched"
        has "$T/err" "mpimap world: launcher $sched is a scheduler: not supported yet" "-l $sched"
        empty "$T/out" "-l $sched: standard output"
        ok "-l $sched: a scheduler, not supported yet: exit 2"
    fi
done

done_checks
