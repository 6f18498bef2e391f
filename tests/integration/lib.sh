# SPDX-License-Identifier: BSD-3-Clause
# lib.sh - shared by the integration test scripts (sourced, not run).
#
# The scripts are called by meson as
#   SCRIPT MPIMAP HANDLERS_DIR MKREC SOURCE_DIR
# and source this file, which sets:
#   MPIMAP   the mpimap command of this build
#   H        the directory of the test handler libraries (lib*.so)
#   MKREC    the input maker (mkrec.c)
#   T        a fresh temporary directory, removed on exit
#   WD       an empty --workdir for the runs (checked after each one)
# and TMPDIR=$T/tmp, so nothing mpimap makes ends up outside $T.

if [ $# -lt 4 ]; then
    echo "usage: $0 MPIMAP HANDLERS_DIR MKREC SOURCE_DIR" >&2
    exit 2
fi
MPIMAP=$1
H=$2
MKREC=$3
SRC=$4
for f in "$MPIMAP" "$MKREC"; do
    [ -x "$f" ] || { echo "$0: not an executable: $f" >&2; exit 2; }
done
[ -d "$H" ] || { echo "$0: not a directory: $H" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/itest.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
mkdir "$T/wd" "$T/tmp"
WD=$T/wd
export TMPDIR=$T/tmp
NAME=$(basename "$0" .sh)
NCHECKS=0

fail() {
    echo "FAIL ($NAME): $*" >&2
    exit 1
}

ok() {
    NCHECKS=$((NCHECKS + 1))
    echo "ok $NCHECKS - $*"
}

# mm EXPECTED_RC OUT ERR [run options...] [-- command...]
# Runs `mpimap run --workdir $WD ...` under `timeout 60`, with standard
# input from $IN (default /dev/null), PATH set to $RUN_PATH (default $PATH),
# standard output to OUT and standard error to ERR. Fails unless the exit
# status is EXPECTED_RC. After a run that succeeded (0 or 1; not a dry run),
# the work directory must be empty again.
IN=/dev/null
RUN_PATH=$PATH
mm() {
    local want=$1 out=$2 err=$3 rc=0
    shift 3
    timeout 60 env PATH="$RUN_PATH" "$MPIMAP" run --workdir "$WD" "$@" \
        <"$IN" >"$out" 2>"$err" || rc=$?
    if [ "$rc" = 124 ]; then
        cat "$err" >&2
        fail "timed out after 60 s: mpimap run $*"
    fi
    if [ "$rc" != "$want" ]; then
        cat "$err" >&2
        fail "exit status $rc, expected $want: mpimap run $*"
    fi
    if [ "$want" -le 1 ] && [[ " $* " != *" --dry-run "* ]] && [ -n "$(ls -A "$WD")" ]; then
        fail "job directory left in the workdir after mpimap run $*: $(ls -A "$WD")"
    fi
    return 0
}

# same REFERENCE ACTUAL WHAT: byte-for-byte equal.
same() {
    if ! cmp "$1" "$2" >&2; then
        echo "--- expected (od -c, head):" >&2
        od -c "$1" | head -20 >&2
        echo "--- got (od -c, head):" >&2
        od -c "$2" | head -20 >&2
        fail "$3: output differs from the serial reference"
    fi
    ok "$3"
}

# has FILE FIXED-STRING WHAT: FILE contains the string.
has() {
    if ! grep -qF -- "$2" "$1"; then
        echo "--- $1:" >&2
        cat "$1" >&2
        fail "$3: no '$2' in the messages"
    fi
}

# empty FILE WHAT
empty() {
    [ -f "$1" ] && [ ! -s "$1" ] || fail "$2: '$1' is not empty ($(wc -c <"$1") bytes)"
}

# worker_pids: the ranks of the job running in $WD (procps may be missing:
# /proc), each $MPIMAP_WORKER or, in the valgrind test setup, valgrind
# running the real mpimap-worker (not mpirun, whose arguments name them).
worker_pids() {
    local p c
    for p in /proc/[0-9]*; do
        c=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
        case "$c" in
        "$MPIMAP_WORKER $WD/"*) echo "${p#/proc/}" ;;
        */valgrind*" "*"/mpimap-worker $WD/"*)
            case "${c%% *}" in */valgrind*) echo "${p#/proc/}" ;; esac
            ;;
        esac
    done
}

# clean_wd: remove a kept job directory (after an expected failure).
clean_wd() {
    rm -rf "${WD:?}"/mpimap-*
}

done_checks() {
    [ -z "$(ls -A "$TMPDIR")" ] || fail "files left in TMPDIR: $(ls -A "$TMPDIR")"
    echo "$NAME: all $NCHECKS checks passed"
}
