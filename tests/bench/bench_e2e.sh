#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench_e2e.sh - end-to-end wall time of `mpimap run -n 2` over 1,000 trivial
# items next to `mpirun -n 2` of an MPI hello world, from one run: every
# command RUNS times, interleaved (so a noisy spell hits every row alike),
# median and best reported, with the ratio of the medians to the hello world.
# Figures only: exits non-zero when a command fails, never on timing.
#
#   bench_e2e.sh BUILDDIR
#   bench_e2e.sh MPIMAP BENCH_HELLO BENCH_NOOP_SO      (what meson passes)
#
# Environment: BENCH_RUNS (default 7), BENCH_ITEMS (default 1000); the Open
# MPI settings of tests/meson.build's test_env are applied when unset.
set -u

if [ $# -eq 1 ]; then
    build=$(cd "$1" && pwd) || exit 2
    mpimap=$build/core/cli/mpimap
    hello=$build/tests/bench/bench_hello
    noop=$build/tests/bench/bench_noop.so
elif [ $# -eq 3 ]; then
    mpimap=$(realpath "$1") && hello=$(realpath "$2") && noop=$(realpath "$3") || exit 2
    build=$(dirname "$(dirname "$(dirname "$mpimap")")")
else
    echo "usage: bench_e2e.sh BUILDDIR | MPIMAP BENCH_HELLO BENCH_NOOP_SO" >&2
    exit 2
fi
for f in "$mpimap" "$hello" "$noop"; do
    [ -e "$f" ] || { echo "bench_e2e.sh: $f: not built" >&2; exit 2; }
done

# shellcheck source=tests/bench/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

runs=${BENCH_RUNS:-7}
nitems=${BENCH_ITEMS:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_e2e.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
seq 1 "$nitems" >"$tmp/items"

labels=(
    "mpirun -np 2 /bin/true"
    "mpirun -np 2 hello (reference)"
    "mpimap run -n 2 --function noop"
    "mpimap run -n 2 -l serial --function noop"
    "mpimap run -n 2 -- true"
)
targets=("" "" "<= 1.3x" "" "")
ref=1
cmds=(
    "mpirun -np 2 /bin/true"
    "mpirun -np 2 $hello"
    "$mpimap run -q -n 2 -l mpirun --workdir $tmp -i $tmp/items -o $tmp/out --function $noop:noop"
    "$mpimap run -q -n 2 -l serial --workdir $tmp -i $tmp/items -o $tmp/out --function $noop:noop"
    "$mpimap run -q -n 2 -l mpirun --workdir $tmp -i $tmp/items -o $tmp/out -- true"
)

# One run of command i; its wall time in ns on stdout.
run_one() {
    local t0 t1
    t0=$(date +%s%N)
    # shellcheck disable=SC2086 # the command lines are split on purpose
    if ! ${cmds[$1]} >"$tmp/stdout" 2>"$tmp/stderr"; then
        echo "bench_e2e.sh: failed: ${cmds[$1]}" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    t1=$(date +%s%N)
    echo $((t1 - t0))
}

# Warm up once (page cache, dynamic loader), and check that the maps do map.
for i in "${!cmds[@]}"; do
    rm -f "$tmp/out"
    (run_one "$i" >/dev/null) || exit 1
    case ${cmds[$i]} in
    *" -o $tmp/out "*)
        lines=$(wc -l <"$tmp/out")
        if [ "$lines" -ne "$nitems" ]; then
            echo "bench_e2e.sh: '${labels[$i]}' wrote $lines results, not $nitems" >&2
            exit 1
        fi
        ;;
    esac
done

declare -A times
for ((r = 0; r < runs; r++)); do
    for i in "${!cmds[@]}"; do
        t=$(run_one "$i") || exit 1
        times[$i]+="$t "
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minimum() { tr ' ' '\n' | grep . | sort -n | head -1; }

refmed=$(median <<<"${times[$ref]}")
echo "end-to-end wall time: 2 ranks, $nitems trivial items, median of $runs interleaved runs"
echo
printf '%-44s %12s %10s %8s  %s\n' "row" "median (ms)" "best (ms)" "ratio" "target"
for i in "${!cmds[@]}"; do
    med=$(median <<<"${times[$i]}")
    best=$(minimum <<<"${times[$i]}")
    awk -v l="${labels[$i]}" -v m="$med" -v b="$best" -v r="$refmed" -v t="${targets[$i]}" \
        'BEGIN {printf "%-44s %12.1f %10.1f %7.2fx  %s\n", l, m / 1e6, b / 1e6, m / r, t}'
done
echo
echo "ratio = median / the hello world's median. mpimap rows: input from a file,"
echo "output to a file; -l mpirun unless said; 'serial' runs the map in-process, one rank."
echo "Timings are figures, not a pass/fail."
