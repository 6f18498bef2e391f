#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/fuzz/run.sh BUILDDIR [SECONDS] - fuzz every libFuzzer target built
# in BUILDDIR (meson setup with -Dfuzz=true, see README.md) for SECONDS
# each (default 60), one after the other, each over a fresh copy of its
# seed corpus tests/fuzz/corpus/NAME (the source tree is never written).
# Work copies, logs and findings go to BUILDDIR/fuzz-run/NAME/. Exits
# non-zero when any target finds a crash, leak, timeout or failed
# invariant, naming the file that reproduces it (rerun it with
# BUILDDIR/tests/fuzz/fuzz_NAME FILE).
#
#   FUZZ_TARGETS="records journal"   only these targets
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILDDIR [SECONDS]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=${2:-60}
case $seconds in
'' | *[!0-9]*) echo "$0: SECONDS must be a whole number" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    for exe in "$build"/tests/fuzz/fuzz_*; do
        [ -f "$exe" ] && [ -x "$exe" ] && targets+=("${exe##*/fuzz_}")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "$0: no fuzz targets in $build/tests/fuzz (meson setup -Dfuzz=true, then meson compile)" >&2
    exit 2
fi

# Findings abort (UBSan too: the targets are built with
# -fno-sanitize-recover); leaks count.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=()
for name in "${targets[@]}"; do
    exe=$build/tests/fuzz/fuzz_$name
    seeds=$src/corpus/$name
    if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
        echo "::: fuzz $name: missing $exe or $seeds" >&2
        failed+=("$name")
        continue
    fi
    work=$build/fuzz-run/$name
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/findings"
    cp -- "$seeds"/* "$work/corpus/"
    dict=()
    [ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
    echo "::: fuzz $name: ${seconds}s over $(ls "$work/corpus" | wc -l) seeds"
    start=$SECONDS
    # -jobs/-workers stay at 1: the machine is shared.
    (cd "$work" && "$exe" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -error_exitcode=77 -timeout_exitcode=77 \
        -artifact_prefix="$work/findings/" -print_final_stats=1 corpus) \
        >"$work/log" 2>&1
    rc=$?
    found=$(find "$work/findings" -type f | sort)
    cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "::: fuzz $name: exit $rc after $((SECONDS - start))s, ${execs:-?} runs, ${cov:-cov: ?}"
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        failed+=("$name")
        echo "::: FINDING in fuzz $name (log: $work/log):" >&2
        grep -E -m5 'ERROR: |SUMMARY: |invariant failed|runtime error' "$work/log" >&2
        for f in $found; do
            echo "::: crash file: $f" >&2
            echo ":::   reproduce: $exe $f" >&2
        done
        [ -z "$found" ] && tail -n 30 "$work/log" >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "::: fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "::: fuzz: ${#targets[@]} targets, ${seconds}s each, no findings"
