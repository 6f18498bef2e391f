#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run.sh BUILDDIR [TEST...] - the valgrind stage of CI: runs tests of
# BUILDDIR (a configured build, not a sanitizer one) in the "valgrind" test
# setup (root meson.build: every process of mpimap's own under valgrind
# memcheck), then fails on any error or definite/indirect leak valgrind
# reported (check.sh), printing each report. Without TEST arguments, the
# subset below (one that fits in CI's time); with them, those tests
# (`run.sh build raw-map-np2 records`, or `run.sh build --all` for every
# test of the setup).
#
# Environment: MPIMAP_VG_JOBS  tests at a time (default 2)
#              MPIMAP_VG_OPTS  more valgrind options (--track-origins=yes)
# Exit status: 0 all passed and valgrind reported nothing, 1 otherwise,
#              2 usage.
set -uo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILDDIR [TEST... | --all]" >&2
    exit 2
fi
build=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v valgrind >/dev/null; then
    echo "valgrind: not installed" >&2
    exit 1
fi

# The subset: about 17 min of CPU (8-10 min on an idle 2-core machine; the
# same again when the machine is shared). Left out, each for minutes under
# valgrind on code a kept test runs too:
#   run-matrix-scatter, -guided, -steal: run-matrix-pool runs the same
#     driver, worker and handlers with the default strategy; every
#     strategy runs under valgrind in raw-map-np3 (in-process) and
#     run-errors (through mpimap run), steal in steal-stress-np5 too;
#   raw-map-np1, -np2, -np5, steal-stress-np2, -np8: the same programs on
#     other numbers of ranks;
#   run-fifo (a named pipe as input; the reader's pipe input is in the
#     records unit test), run-edges (16 MiB items: 10 min under valgrind;
#     the records unit test reads and writes such items);
# and always (the setup excludes them): sdk-install (a separate build and
# install, not the code under test), slurm-run (needs a Slurm cluster).
# `run.sh BUILD --all` runs all of them (40 min or more on 2 cores).
# The Check unit tests: all of them (every test outside the integration
# suite), whatever their names.
units=$(meson test -C "$build" --setup valgrind --no-suite integration --list 2>/dev/null |
    sed -n 's|^[^ ]* / ||p') || units=
if [ -z "$units" ]; then
    echo "valgrind: cannot list the unit tests of $build" >&2
    exit 1
fi
# shellcheck disable=SC2206 # test names have no spaces
subset=(
    $units
    # mpimap_map() in-process under mpirun, each rank under valgrind
    raw-map-np3 steal-stress-np5
    # mpimap run: driver, mpirun, workers (each under valgrind)
    run-matrix-pool run-options run-errors run-crash run-report run-guided
    # mpimap_ezmap(), mpimap world, mpimap config, the batch launchers
    ezmap world config batch-standin
)
if [ $# = 0 ]; then
    tests=("${subset[@]}")
elif [ "$1" = --all ]; then
    tests=()
else
    tests=("$@")
fi

logdir=$build/meson-logs/valgrind
rm -rf "$logdir"
mkdir -p "$logdir"

echo "::: valgrind: meson test --setup valgrind ${tests[*]:-(all)}"
start=$SECONDS
rc=0
meson test -C "$build" --setup valgrind --print-errorlogs \
    --num-processes "${MPIMAP_VG_JOBS:-2}" "${tests[@]}" || rc=$?
echo "::: valgrind: the tests took $((SECONDS - start)) s (meson test exited $rc)"

echo "::: valgrind: checking the reports in $logdir"
crc=0
"$here/check.sh" "$logdir" || crc=$?

if [ $rc != 0 ] || [ $crc != 0 ]; then
    [ $rc = 0 ] || echo "::: valgrind: FAILED: some tests failed under valgrind (meson test exited $rc)" >&2
    [ $crc = 0 ] || echo "::: valgrind: FAILED: valgrind reported errors or leaks (above)" >&2
    exit 1
fi
echo "::: valgrind: all tests passed, nothing reported"
