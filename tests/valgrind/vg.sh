#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vg.sh PROGRAM [ARGS...] - exec PROGRAM under valgrind memcheck, the way
# every process of mpimap's own is run in the "valgrind" test setup
# (wrap.sh, run.sh):
#   - its report goes to $MPIMAP_VG_LOGDIR/NAME.STAMP.PID-PID.log, a forked
#     child's to NAME.STAMP.PID-CHILD.log: check.sh reads them after the
#     run.
#     Nothing of valgrind's is written on the program's standard error,
#     which the tests compare;
#   - an error or a definite/indirect leak also makes it exit 66;
#   - Open MPI's own reports are suppressed (openmpi.supp);
#   - --keep-debuginfo: Open MPI dlclose()s its components in MPI_Finalize;
#     the leaks found at exit would have unnamed frames otherwise, which
#     the suppressions could not recognise;
#   - --vgdb=no: no gdbserver FIFOs in $TMPDIR, which a process killed
#     with SIGKILL would leave there (the tests check that TMPDIR is empty).
# It runs no program from PATH (a test may empty it) but valgrind, which
# is $MPIMAP_VG_VALGRIND when set. MPIMAP_VG_OPTS adds valgrind options
# (--track-origins=yes, say).
here=${BASH_SOURCE[0]%/*}
logdir=${MPIMAP_VG_LOGDIR:-${TMPDIR:-/tmp}/mpimap-valgrind}
if [ $# = 0 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi
[ -d "$logdir" ] || command -p mkdir -p "$logdir" || exit 1
valgrind=${MPIMAP_VG_VALGRIND:-}
[ -n "$valgrind" ] || valgrind=$(command -v valgrind || PATH=$(command -p getconf PATH) command -v valgrind) ||
    { echo "$0: valgrind not found" >&2; exit 127; }
# hwloc says on stderr that its x86 backend cannot work under valgrind (the
# tests compare stderr): leave that backend out.
export HWLOC_COMPONENTS=${HWLOC_COMPONENTS:--x86}
name=${1##*/}
stamp=${EPOCHREALTIME/[.,]/}
# shellcheck disable=SC2086 # MPIMAP_VG_OPTS is a list of options
exec "$valgrind" \
    --tool=memcheck \
    --log-file="$logdir/$name.$stamp.$$-%p.log" \
    --error-exitcode=66 \
    --leak-check=full \
    --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect \
    --num-callers=40 \
    --keep-debuginfo=yes \
    --vgdb=no \
    --suppressions="$here/openmpi.supp" \
    ${MPIMAP_VG_OPTS:-} \
    "$@"
