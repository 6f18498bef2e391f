#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# wrap.sh COMMAND [ARGS...] - the exe_wrapper of the "valgrind" test setup
# (root meson.build): meson runs every test as `wrap.sh TEST-COMMAND...`.
# Every process of mpimap's own then runs under valgrind (vg.sh), and
# nothing else does (bash, mpirun, orted and the commands mapped over are
# not mpimap's and would only make the run slower):
#   - a test program (the Check unit tests, ezmap): under valgrind;
#   - `mpirun OPTIONS PROGRAM ARGS` (raw_map, steal_stress): each rank's
#     PROGRAM under valgrind, mpirun itself not;
#   - `bash SCRIPT MPIMAP ...` (the integration scripts, lib.sh): bash
#     plainly, with MPIMAP replaced by a stand-in that runs the real mpimap
#     command under valgrind;
# and for all of them MPIMAP_WORKER and MPIMAP_WORLD (the programs
# `mpimap run`, mpimap_ezmap() and `mpimap world` launch) are replaced by
# stand-ins that run the real mpimap-worker and mpimap-world under
# valgrind. The stand-ins are small scripts written for this test into
# $MPIMAP_VG_LOGDIR/wrappers/, with every path in them: they work in an
# emptied environment (a batch job script) and when a test copies them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export MPIMAP_VG_LOGDIR=${MPIMAP_VG_LOGDIR:-${TMPDIR:-/tmp}/mpimap-valgrind}
mkdir -p "$MPIMAP_VG_LOGDIR/wrappers"
MPIMAP_VG_VALGRIND=$(command -v valgrind) || { echo "wrap.sh: valgrind not found" >&2; exit 1; }
export MPIMAP_VG_VALGRIND

if [ $# = 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

bin=$(mktemp -d "$MPIMAP_VG_LOGDIR/wrappers/XXXXXX")

# standin REAL: write $bin/NAME (NAME of REAL) running REAL under vg.sh
# and print its path.
standin() {
    local real=$1 out
    out=$bin/$(basename "$real")
    {
        echo '#!/bin/bash'
        echo "# Written by $here/wrap.sh: $real under valgrind."
        printf 'export MPIMAP_VG_LOGDIR=%q MPIMAP_VG_OPTS=%q MPIMAP_VG_VALGRIND=%q\n' \
            "$MPIMAP_VG_LOGDIR" "${MPIMAP_VG_OPTS:-}" "$MPIMAP_VG_VALGRIND"
        printf 'exec %q %q "$@"\n' "$here/vg.sh" "$real"
    } >"$out"
    chmod +x "$out"
    echo "$out"
}

# The launched programs (test_env sets them to the build's).
if [ -n "${MPIMAP_WORKER:-}" ]; then
    MPIMAP_WORKER=$(standin "$MPIMAP_WORKER")
fi
if [ -n "${MPIMAP_WORLD:-}" ]; then
    MPIMAP_WORLD=$(standin "$MPIMAP_WORLD")
fi

case $(basename "$1") in
bash | sh)
    # An integration script: SCRIPT MPIMAP HANDLERS_DIR MKREC SOURCE_DIR ...
    if [ $# -ge 3 ] && [ "$(basename "$3")" = mpimap ] && [ -x "$3" ]; then
        set -- "$1" "$2" "$(standin "$3")" "${@:4}"
    else
        echo "wrap.sh: note: no mpimap command under valgrind in: $*" >&2
    fi
    exec "$@"
    ;;
mpirun | mpiexec | orterun)
    # mpirun OPTIONS PROGRAM ARGS: valgrind goes in front of PROGRAM.
    cmd=("$1")
    shift
    while [ $# -gt 0 ]; do
        case $1 in
        -np | -n | -c | --np | -H | --host | -host | --hostfile | -hostfile | \
            -x | --map-by | -map-by | --bind-to | -bind-to | --rank-by | -rank-by)
            cmd+=("$1" "${2:?"$1 needs a value"}")
            shift 2
            ;;
        --mca | -mca | --gmca | -gmca)
            cmd+=("$1" "${2:?"$1 needs a name"}" "${3:?"$1 needs a value"}")
            shift 3
            ;;
        -*)
            cmd+=("$1")
            shift
            ;;
        *)
            break
            ;;
        esac
    done
    if [ $# = 0 ]; then
        echo "wrap.sh: no program in the mpirun command line" >&2
        exit 2
    fi
    exec "${cmd[@]}" "$here/vg.sh" "$@"
    ;;
*)
    exec "$here/vg.sh" "$@"
    ;;
esac
