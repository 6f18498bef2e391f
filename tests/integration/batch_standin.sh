#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# batch_standin.sh - the scheduler launchers pbs, torque, moab, lsf and sge,
# with no scheduler: for a real small map (`mpimap run --dry-run` makes the
# job directory and prints the inner mpirun command), render_batch prints
# the launcher's job script, and the script runs the way its scheduler would
# run it: a bare environment holding the scheduler's variables (PBS_NODEFILE,
# PBS_O_WORKDIR, PBS_JOBID; LSB_HOSTS, LSB_JOBID, LS_SUBCWD; PE_HOSTFILE,
# NSLOTS, JOB_ID, SGE_O_WORKDIR, which Open MPI's gridengine support reads)
# and the variables the directives pass (-v VAR, or bsub's copy of the
# environment), started from another directory, its output in the log. The
# map's status and results must then be in the job directory, the same as a
# serial run's. A second map carries hostile strings in the job name, queue,
# account and an exported value: nothing in them runs (no canary), and the
# value reaches the items byte for byte.
#
# Called as: batch_standin.sh MPIMAP HANDLERS_DIR MKREC SOURCE_DIR
#            RENDER_BATCH LAUNCHER_DIR
set -euo pipefail
if [ $# -lt 6 ]; then
    echo "usage: $0 MPIMAP HANDLERS MKREC SRC RENDER_BATCH LAUNCHER_DIR" >&2
    exit 2
fi
RENDER=$5
LDIR=$6
. "$4/lib.sh"
[ -x "$RENDER" ] || fail "not an executable: $RENDER"

HOST=$(hostname)
mkdir "$T/submit" "$T/elsewhere" "$T/sge_root"
seq 1 20 >"$T/in"
IN=$T/in
mm 0 "$T/ref" "$T/err" -l serial -- echo 'item {}'
[ "$(wc -l <"$T/ref")" = 20 ] || fail "the serial reference has not 20 lines"

# What the test environment passes to mpirun: taken from "qsub's environment"
# by the script's -v directive (bare exports), as a scheduler would.
BARE=()
PASS=()
for v in OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_pml \
    OMPI_MCA_oob_tcp_if_include OMPI_MCA_btl_tcp_if_include \
    OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_mpi_yield_when_idle; do
    if [ -n "${!v+x}" ]; then
        BARE+=(--export "$v")
        PASS+=("$v=${!v}")
    fi
done
# The sanitizer builds' settings (CI's LeakSanitizer suppressions for Open
# MPI) reach the job too, as a scheduler that copies the environment would.
for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose; do
    [ -z "${!v+x}" ] || PASS+=("$v=${!v}")
done

# standin LAUNCHER SCRIPT LOG: run SCRIPT as LAUNCHER's scheduler would.
standin() {
    local l=$1 script=$2 log=$3
    local -a sched
    case $l in
    pbs | torque | moab)
        printf '%s\n%s\n' "$HOST" "$HOST" >"$T/nodefile"
        sched=(PBS_JOBID=1001.standin PBS_JOBNAME=mpimap PBS_QUEUE=batch
            PBS_ENVIRONMENT=PBS_BATCH PBS_O_WORKDIR="$T/submit" PBS_NODEFILE="$T/nodefile"
            PBS_NP=2 PBS_NUM_NODES=1)
        [ "$l" != moab ] || sched+=(MOAB_JOBID=1001 MOAB_JOBNAME=mpimap)
        ;;
    lsf)
        sched=(LSB_JOBID=1001 LSB_JOBNAME=mpimap LSB_QUEUE=normal LS_SUBCWD="$T/submit"
            LSB_HOSTS="$HOST $HOST" LSB_MCPU_HOSTS="$HOST 2" LSB_DJOB_NUMPROC=2)
        ;;
    sge)
        printf '%s 2 all.q@%s UNDEFINED\n' "$HOST" "$HOST" >"$T/pe_hostfile"
        sched=(JOB_ID=1001 JOB_NAME=mpimap QUEUE=all.q NSLOTS=2 NHOSTS=1 PE=mpi
            PE_HOSTFILE="$T/pe_hostfile" SGE_O_WORKDIR="$T/submit" SGE_ROOT="$T/sge_root"
            SGE_CELL=default ARC=lx-amd64)
        ;;
    *) fail "no stand-in for $l" ;;
    esac
    (cd "$T/elsewhere" &&
        timeout 60 env -i PATH="$PATH" HOME="${HOME:-/}" TMPDIR="$TMPDIR" "${PASS[@]}" \
            "${sched[@]}" /bin/bash "$script" >"$log" 2>&1)
}

# job_of ERR: the job directory a dry run kept.
job_of() {
    sed -n 's/.*job directory kept: //p' "$1"
}

for l in pbs torque moab lsf sge; do
    so=$LDIR/mpimap_launcher_$l.so
    [ -f "$so" ] || fail "no plugin $so"

    # ---- a real small map ---------------------------------------------------
    mm 0 "$T/cmd" "$T/err" --dry-run -n 2 -l mpirun -- echo 'item {}'
    dir=$(job_of "$T/err")
    [ -d "$dir" ] && [ -f "$dir/spec" ] || fail "$l: no job directory from the dry run"
    exports=()
    for v in MPIMAP_PLUGIN_PATH MPIMAP_PLUGIN_SYSTEM_PATH LD_LIBRARY_PATH; do
        [ -z "${!v+x}" ] || exports+=(--export "$v=${!v}")
    done
    "$RENDER" "$so" --np 2 --walltime 600 --job-name "map-$l" --inner "$(cat "$T/cmd")" \
        --jobdir "$dir" --log "$dir/job.log" "${exports[@]}" "${BARE[@]}" >"$dir/job.sh" ||
        fail "$l: render_batch failed"
    bash -n "$dir/job.sh" || fail "$l: bash -n rejects the script"
    grep -qxF "$(cat "$T/cmd")" "$dir/job.sh" ||
        fail "$l: the inner command is not a line of the script"
    standin "$l" "$dir/job.sh" "$dir/job.log" || {
        cat "$dir/job.sh" "$dir/job.log" >&2
        fail "$l: the job script failed"
    }
    grep -qx 'items 20' "$dir/status" && grep -qx 'failed 0' "$dir/status" || {
        cat "$dir/status" "$dir/job.log" >&2
        fail "$l: the status does not say 20 items, none failed"
    }
    same "$T/ref" "$dir/results" "$l: the job script ran the map: results as a serial run's"
    rm -rf "$dir"

    # ---- hostile strings ----------------------------------------------------
    C=$T/canary
    value="it's \$(touch $C) \`touch $C\` ; touch $C \"dq\" *
second line"
    mm 0 "$T/cmd" "$T/err" --dry-run -n 2 -l mpirun --shell -- 'printf "%s|\n" "$HOSTILE"'
    dir=$(job_of "$T/err")
    [ -d "$dir" ] || fail "$l: no job directory from the dry run"
    "$RENDER" "$so" --np 2 --inner "$(cat "$T/cmd")" --jobdir "$dir" --log "$dir/job.log" \
        --job-name "n'; touch $C; '" --queue "q \$(touch $C)" --account "\`touch $C\`" \
        --export "HOSTILE=$value" "${exports[@]}" "${BARE[@]}" >"$dir/job.sh" ||
        fail "$l: render_batch failed (hostile)"
    standin "$l" "$dir/job.sh" "$dir/job.log" || {
        cat "$dir/job.sh" "$dir/job.log" >&2
        fail "$l: the hostile job script failed"
    }
    [ ! -e "$C" ] || fail "$l: a hostile string ran (the canary exists)"
    for i in $(seq 1 20); do printf '%s|\n' "$value"; done >"$T/hostile.ref"
    same "$T/hostile.ref" "$dir/results" "$l: hostile names ran nothing; the value arrived intact"
    rm -rf "$dir"
done
done_checks
