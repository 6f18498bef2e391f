#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# bench_journal.sh - what the journal costs: `mpimap run -n 2` with the
# journal (the default) next to --no-journal, on a map of 1 ms items (the
# issue's yardstick: the cost must stay under 5 %; the items sleep, so that
# the ranks do not fight for the CPUs) and on trivial items (the worst
# case: nothing to hide the journal behind). Every command RUNS times,
# interleaved; medians, best, and the ratio of the medians. Figures only:
# exits non-zero when a command fails, never on timing.
#
#   bench_journal.sh BUILDDIR
#   bench_journal.sh MPIMAP BENCH_WORK_SO      (what meson passes)
#
# Environment: BENCH_RUNS (default 5), BENCH_MS_ITEMS (default 2000 items of
# 1 ms), BENCH_ITEMS (default 1000000 trivial items); the Open MPI settings
# of tests/meson.build's test_env are applied when unset.
set -u

if [ $# -eq 1 ]; then
    build=$(cd "$1" && pwd) || exit 2
    mpimap=$build/core/cli/mpimap
    work=$build/tests/bench/bench_work.so
elif [ $# -eq 2 ]; then
    mpimap=$(realpath "$1") && work=$(realpath "$2") || exit 2
    build=$(dirname "$(dirname "$(dirname "$mpimap")")")
else
    echo "usage: bench_journal.sh BUILDDIR | MPIMAP BENCH_WORK_SO" >&2
    exit 2
fi
for f in "$mpimap" "$work"; do
    [ -e "$f" ] || { echo "bench_journal.sh: $f: not built" >&2; exit 2; }
done

# shellcheck source=tests/bench/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

runs=${BENCH_RUNS:-5}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
yes 1 | head -n "${BENCH_MS_ITEMS:-2000}" >"$tmp/ms"
seq 1 "${BENCH_ITEMS:-1000000}" >"$tmp/trivial"

# time_one FILE CMD...: the wall time of CMD in seconds, appended to FILE.
time_one() {
    local file=$1 t0 t1
    shift
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$file"
}
stats() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int((NR + 1) / 2)], v[1] }'; }

echo "journal overhead: mpimap run -n 2, $runs runs each, interleaved (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-46s %10s %10s %8s\n' "map" "median s" "best s" "ratio"
for w in ms:sleepms trivial:noop; do
    input=${w%%:*} fn=${w#*:}
    for _ in $(seq 1 "$runs"); do
        time_one "$tmp/$input.off" "$mpimap" run -n 2 -q --no-journal -i "$tmp/$input" --function "$work:$fn"
        time_one "$tmp/$input.on" "$mpimap" run -n 2 -q -i "$tmp/$input" --function "$work:$fn"
    done
    read -r off_med off_best < <(stats "$tmp/$input.off")
    read -r on_med on_best < <(stats "$tmp/$input.on")
    label="$(wc -l <"$tmp/$input") items, $fn"
    [ "$input" = ms ] && label="$(wc -l <"$tmp/$input") items of 1 ms, sleepms"
    printf '%-46s %10s %10s %8s\n' "$label, --no-journal" "$off_med" "$off_best" "1.000"
    printf '%-46s %10s %10s %8.3f\n' "$label, journal" "$on_med" "$on_best" \
        "$(awk -v a="$on_med" -v b="$off_med" 'BEGIN { print a / b }')"
done
