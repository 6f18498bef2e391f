#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# suite.sh - the benchmark suite: every strategy `mpimap plugins --kind
# strategy` lists, side by side in one run, next to mpi4py.futures and GNU
# parallel where they are installed:
#   (a) trivial items: per-item cost and items/s of a map of 10^6 no-op
#       function items on 2 ranks;
#   (b) skewed sleep-based items (lognormal sigma 1, Pareto alpha 1.5, sorted
#       ascending and descending; 50 items per rank): load-balance efficiency
#       from --report-json, scatter the baseline;
#   (c) scaling over 1, 2, 4, 8 ranks with sleep-based items (sleeping ranks
#       leave the 2 cores free, so oversubscription does not skew them);
#   (d) whole-map throughput against mpi4py.futures (trivial function items,
#       target >= 10x) and GNU parallel (trivial command items, target >= 3x).
# Figures only: exits non-zero when a map fails, never on timing.
#
#   suite.sh BUILDDIR
#   suite.sh MPIMAP BENCH_WORK_SO WORKLOAD        (what meson passes)
#
# Environment (defaults in brackets): SUITE_TRIVIAL [1000000] items in (a),
# SUITE_TRIVIAL_C1 [100000] items for mpi4py chunksize 1 in (a),
# SUITE_BIG [10000000] items in (d)'s second function row (0: skip it),
# SUITE_RANKS ["2 4"] rank counts in (b), SUITE_PER_RANK [50], SUITE_MEAN_MS [20],
# SUITE_KINDS ["lognormal pareto asc desc"] the lists of (b) (workload.c has
# heavydesc, bimodal and expo too),
# SUITE_SEEDS [200] lists of each kind whose in-order figure (b) gives too,
# SUITE_SCALE ["1 2 4 8"], SUITE_SCALE_ITEMS [400], SUITE_SCALE_MEAN_MS [10],
# SUITE_CMD_ITEMS [2000] items in (d)'s command row, SUITE_REPS [3],
# SUITE_PYTHON [/usr/bin/python3] (the Python that has mpi4py),
# SUITE_PARTS ["a b c d"] the parts to run, SUITE_CHUNKS ["1000 16384"] the
# fixed chunks of the `pool --chunk K` rows in (a) (the reference of the
# trivial-item targets), SUITE_MEDIAN [1] runs of every mpimap cell of (a)
# and (b), the median shown (in (a), rounds of one map per row),
# SUITE_BASELINE [unset] a directory of other strategy plugins (say a build
# of the previous commit): its strategies run beside these in (a) and (b) as
# base:NAME, in the same run, SUITE_TOOLS [1]
# 0: leave out mpi4py.futures and GNU parallel even when installed. The Open MPI
# settings of tests/meson.build's test_env are applied when unset.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -eq 1 ]; then
    build=$(cd "$1" && pwd) || exit 2
    mpimap=$build/core/cli/mpimap
    work=$build/tests/bench/bench_work.so
    workload=$build/tests/bench/workload
elif [ $# -eq 3 ]; then
    mpimap=$(realpath "$1") && work=$(realpath "$2") && workload=$(realpath "$3") || exit 2
    build=$(dirname "$(dirname "$(dirname "$mpimap")")")
else
    echo "usage: suite.sh BUILDDIR | MPIMAP BENCH_WORK_SO WORKLOAD" >&2
    exit 2
fi
for f in "$mpimap" "$work" "$workload"; do
    [ -e "$f" ] || { echo "suite.sh: $f: not built" >&2; exit 2; }
done
futures_py=$here/suite_futures.py

# shellcheck source=tests/bench/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

trivial=${SUITE_TRIVIAL:-1000000}
trivial_c1=${SUITE_TRIVIAL_C1:-100000}
big=${SUITE_BIG:-10000000}
ranks_list=${SUITE_RANKS:-2 4}
parts=${SUITE_PARTS:-a b c d}
chunks=${SUITE_CHUNKS:-1000 16384}
median_runs=${SUITE_MEDIAN:-1}
baseline=${SUITE_BASELINE:-}
per_rank=${SUITE_PER_RANK:-50}
mean=${SUITE_MEAN_MS:-20}
scale=${SUITE_SCALE:-1 2 4 8}
scale_items=${SUITE_SCALE_ITEMS:-400}
scale_mean=${SUITE_SCALE_MEAN_MS:-10}
cmd_items=${SUITE_CMD_ITEMS:-2000}
reps=${SUITE_REPS:-3}
seeds=${SUITE_SEEDS:-200}
python=${SUITE_PYTHON:-/usr/bin/python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_suite.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
failures=0
t_suite=$(date +%s)

# ---- the engines ----------------------------------------------------------------
# Strategies as listed, scatter (the baseline) first.
mapfile -t listed < <("$mpimap" plugins --kind strategy 2>/dev/null | awk 'NR > 1 {print $2}')
strategies=()
for s in "${listed[@]}"; do [ "$s" = scatter ] && strategies+=("$s"); done
for s in "${listed[@]}"; do [ "$s" = scatter ] || strategies+=("$s"); done
if [ ${#strategies[@]} -eq 0 ]; then
    echo "suite.sh: no strategy plugins found (MPIMAP_PLUGIN_PATH=$MPIMAP_PLUGIN_PATH)" >&2
    exit 2
fi
notes=()
have_futures=0
if [ "${SUITE_TOOLS:-1}" = 0 ]; then
    notes+=("mpi4py.futures and GNU parallel rows skipped: SUITE_TOOLS=0")
elif [ -x "$python" ] && "$python" -c 'import mpi4py.futures' 2>/dev/null; then
    have_futures=1
else
    notes+=("mpi4py.futures rows skipped: $python cannot import mpi4py.futures (apt-get install python3-mpi4py)")
fi
have_parallel=0
if [ "${SUITE_TOOLS:-1}" = 0 ]; then
    :
elif command -v parallel >/dev/null && parallel --version 2>/dev/null | grep -q '^GNU parallel'; then
    have_parallel=1
else
    notes+=("GNU parallel rows skipped: not installed (apt-get install parallel)")
fi

# ---- helpers ------------------------------------------------------------------------
now_ns() { date +%s%N; }
# fmt_rate N SECONDS: items/s, short.
fmt_rate() { awk -v n="$1" -v s="$2" 'BEGIN {r = n / s; if (r >= 1e6) printf "%.2fM", r / 1e6;
    else if (r >= 1e3) printf "%.1fk", r / 1e3; else printf "%.0f", r}'; }
# jnum FILE KEY: a top-level number of a --report-json file.
jnum() { awk -v k="\"$2\":" '$1 == k {v = $2; sub(/,$/, "", v); print v; exit}' "$1"; }
lines() { wc -l <"$1" | tr -d ' '; }

# mm NP STRATEGY INPUT ARGS...: one `mpimap run` over INPUT, results to
# $tmp/out, report to $tmp/r.json; sets WALL (seconds, end to end). Fails
# (and counts a failure) when the map fails or loses results.
mm() {
    local np=$1 s=$2 in=$3 t0 t1 path=$MPIMAP_PLUGIN_PATH
    shift 3
    case $s in base:*) s=${s#base:} path=$baseline:$MPIMAP_PLUGIN_PATH ;; esac
    rm -f "$tmp/r.json"
    t0=$(now_ns)
    if ! MPIMAP_PLUGIN_PATH=$path "$mpimap" run -q -n "$np" -l mpirun -s "$s" --workdir "$tmp" \
        -i "$in" -o "$tmp/out" --report-json "$tmp/r.json" "$@" 2>"$tmp/err"; then
        echo "suite.sh: failed: mpimap run -n $np -s $s -i $in $*" >&2
        sed 's/^/    /' "$tmp/err" | head -5 >&2
        failures=$((failures + 1))
        return 1
    fi
    t1=$(now_ns)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
    if [ "$(lines "$tmp/out")" != "$(lines "$in")" ]; then
        echo "suite.sh: mpimap run -n $np -s $s: $(lines "$tmp/out") results for $(lines "$in") items" >&2
        failures=$((failures + 1))
        return 1
    fi
}

# fut WORKERS MODE CHUNK INPUT: mpi4py.futures over INPUT (WORKERS + 1
# processes: the executor's manager runs no items); sets WALL and FUT
# ("workers W items N start T0 end T1 busy B").
fut() {
    local w=$1 mode=$2 chunk=$3 in=$4 t0 t1
    t0=$(now_ns)
    if ! mpirun -n $((w + 1)) "$python" -m mpi4py.futures "$futures_py" "$mode" "$chunk" \
        "$in" "$tmp/out" >"$tmp/fut" 2>"$tmp/err"; then
        echo "suite.sh: failed: mpi4py.futures $mode chunksize $chunk, $w workers" >&2
        sed 's/^/    /' "$tmp/err" | head -5 >&2
        return 1
    fi
    t1=$(now_ns)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
    FUT=$(tail -1 "$tmp/fut")
    [ "$(lines "$tmp/out")" = "$(lines "$in")" ] || { echo "suite.sh: mpi4py.futures lost results" >&2; return 1; }
}

# par J INPUT COMMAND...: GNU parallel -j J -k over INPUT, with a joblog;
# sets WALL.
par() {
    local j=$1 in=$2 t0 t1
    shift 2
    t0=$(now_ns)
    if ! parallel --will-cite -j "$j" -k --joblog "$tmp/plog" "$@" <"$in" >"$tmp/out" 2>"$tmp/err"; then
        echo "suite.sh: failed: parallel -j $j $*" >&2
        sed 's/^/    /' "$tmp/err" | head -5 >&2
        return 1
    fi
    t1=$(now_ns)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", (b - a) / 1e9}')
    [ "$(lines "$tmp/plog")" = $(($(lines "$in") + 1)) ] ||
        { echo "suite.sh: parallel ran $(($(lines "$tmp/plog") - 1)) of $(lines "$in") jobs" >&2; return 1; }
}

# The sleep-based map of ENGINE on NP ranks over the durations (ms) in
# INPUT: sets SM to "MAKESPAN EFFICIENCY", the same definitions for every
# engine (first item's start to last item's end; sum of item times /
# (ranks x makespan)), or to "FAIL".
sleep_map() {
    local engine=$1 np=$2 in=$3 n chunk
    n=$(lines "$in")
    SM=FAIL
    case $engine in
    futures:1 | futures:auto)
        chunk=1
        [ "$engine" = futures:auto ] && chunk=$(((n + 4 * np - 1) / (4 * np)))
        fut "$np" sleepms "$chunk" "$in" || return 0
        SM=$(awk '{w = $2; s = $6; e = $8; b = $10; printf "%.6f %.3f", e - s, b / (w * (e - s))}' <<<"$FUT")
        ;;
    parallel)
        awk '{printf "%.6f\n", $1 / 1000}' "$in" >"$tmp/seconds"
        par "$np" "$tmp/seconds" sleep {} || return 0
        # joblog: Seq Host Starttime JobRuntime ...
        SM=$(awk -F'\t' -v j="$np" 'NR > 1 {s = $3; d = $4; if (f == "" || s < f) f = s;
            if (s + d > l) l = s + d; b += d}
            END {printf "%.6f %.3f", l - f, b / (j * (l - f))}' "$tmp/plog")
        ;;
    *)
        # SUITE_MEDIAN runs; the one of median efficiency.
        local r runs=""
        for ((r = 0; r < median_runs; r++)); do
            mm "$np" "$engine" "$in" --function "$work:sleepms" || return 0
            runs+=$(awk -v m="$(jnum "$tmp/r.json" makespan)" -v e="$(jnum "$tmp/r.json" efficiency)" \
                'BEGIN {printf "%.6f %.3f", m, e}')$'\n'
        done
        SM=$(printf '%s' "$runs" | sort -k2,2g | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}')
        ;;
    esac
}

# in_order RANKS FILE: the efficiency of greedy list scheduling of the
# durations in FILE in input order, no overhead: each item to the rank that
# is free first (a dealer with no latency and no queues).
in_order() {
    awk -v r="$1" '{m = 1; for (i = 2; i <= r; i++) if (f[i] < f[m]) m = i; f[m] += $1; s += $1}
        END {x = 0; for (i = 1; i <= r; i++) if (f[i] > x) x = f[i]; printf "%.3f\n", s / (r * x)}' "$2"
}

# has_part X: whether part X of the suite runs (SUITE_PARTS).
has_part() { [[ " $parts " == *" $1 "* ]]; }
# mpi4py.futures' chunksizes tried for its best one ((a) runs chunksize 1
# too, on fewer items), and the best so far: note_chunk C N keeps C when
# its N items in $WALL s beat it.
futures_chunks="100 1000 10000 100000"
best_chunk="" best_rate=0
note_chunk() {
    local rate
    rate=$(awk -v n="$2" -v w="$WALL" 'BEGIN {printf "%.0f", n / w}')
    if [ "$rate" -gt "$best_rate" ]; then
        best_rate=$rate best_chunk=$1
    fi
}

mm_engines=("${strategies[@]}")
if [ -n "$baseline" ]; then
    for s in "${strategies[@]}"; do
        [ -e "$baseline/mpimap_strategy_$s.so" ] && mm_engines+=("base:$s")
    done
fi
engines=("${mm_engines[@]}")
[ $have_futures = 1 ] && engines+=(futures:1 futures:auto)
[ $have_parallel = 1 ] && engines+=(parallel)
label() {
    case $1 in
    futures:1) echo "mpi4py c=1" ;;
    futures:auto) echo "mpi4py c=auto" ;;
    parallel) echo "parallel -j" ;;
    *) echo "$1" ;;
    esac
}

echo "mpimap benchmark suite: strategies ${strategies[*]}; $(date -u '+%Y-%m-%d %H:%M UTC')"
cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null)
echo "machine: $(uname -m), ${cpu:-unknown CPU}, $(nproc) CPUs online;" \
    "load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$baseline" ] && echo "baseline: base:NAME = the strategy plugins of $baseline"
[ "$median_runs" -gt 1 ] && echo "every mpimap cell of (a) and (b): the median of $median_runs runs"
for n in "${notes[@]}"; do echo "note: $n"; done

# ---- (a) trivial items ------------------------------------------------------------------
# Every row's maps, SUITE_MEDIAN rounds of one map per row in turn (so that a
# slow spell of the machine falls on every row alike, not on one), then per
# row the map of median makespan: TR is "WALL MAKESPAN DISPATCH_PER_ITEM" or
# FAIL.
triv_row() {
    local l=$1 w m d
    read -r w m d <<<"$TR"
    if [ "$w" = FAIL ]; then
        printf '%-16s %10d %9s\n' "$l" "$trivial" FAIL
        return
    fi
    awk -v l="$l" -v n="$trivial" -v w="$w" -v m="$m" -v d="$d" -v r="$(fmt_rate "$trivial" "$w")" \
        'BEGIN {printf "%-16s %10d %9.3f %11s %10.3f %12.1f %14.1f\n", l, n, w, r,
                w / n * 1e6, m / n * 1e9, d * 1e9}'
}
if has_part a; then
seq 1 "$trivial" >"$tmp/trivial"
echo
echo "(a) trivial items: $trivial no-op function items on 2 ranks, end to end"
printf '%-16s %10s %9s %11s %10s %12s %14s\n' engine items wall_s items/s us/item \
    map_ns/item dispatch_ns/it
rows=()
for c in $chunks; do rows+=("pool --chunk $c"); done
rows+=("${mm_engines[@]}")
declare -A truns
for ((r = 0; r < median_runs; r++)); do
    for l in "${rows[@]}"; do
        [ "${truns[$l]:-}" = FAIL ] && continue
        read -r -a words <<<"$l"
        if mm 2 "${words[0]}" "$tmp/trivial" --function "$work:noop" "${words[@]:1}"; then
            truns[$l]+="$WALL $(jnum "$tmp/r.json" makespan) $(jnum "$tmp/r.json" dispatch_per_item)"$'\n'
        else
            truns[$l]=FAIL
        fi
    done
done
declare -A twall
best_fixed="" best_fixed_wall=""
for l in "${rows[@]}"; do
    TR=FAIL
    [ "${truns[$l]:-FAIL}" = FAIL ] ||
        TR=$(printf '%s' "${truns[$l]}" | sort -k2,2g | awk '{l[NR] = $0} END {print l[int((NR + 1) / 2)]}')
    triv_row "$l"
    read -r w m _ <<<"$TR"
    twall[$l]=$m
    [ "$w" = FAIL ] && twall[$l]=FAIL && continue
    case $l in
    "pool --chunk "*)
        if [ -z "$best_fixed_wall" ] || awk -v a="$m" -v b="$best_fixed_wall" 'BEGIN {exit !(a < b)}'; then
            best_fixed=${l#pool --chunk } best_fixed_wall=$m
        fi
        ;;
    esac
done
if [ -n "$best_fixed_wall" ]; then
    echo "targets against the best fixed chunk (pool --chunk $best_fixed), map time (makespan):"
    for s in "${mm_engines[@]}"; do
        case ${s#base:} in guided) t=1.10 ;; steal) t=2 ;; *) continue ;; esac
        w=${twall[$s]}
        [ "$w" = FAIL ] && continue
        awk -v l="$s" -v w="$w" -v b="$best_fixed_wall" -v t="$t" 'BEGIN {r = w / b;
            printf "  %-14s %5.2fx the best fixed chunk  (target <= %.2fx: %s)\n", l, r, t,
            r <= t ? "met" : "MISSED"}'
    done
fi
if [ $have_futures = 1 ]; then
    seq 1 "$trivial_c1" >"$tmp/trivial_c1"
    for c in 1 $futures_chunks; do
        in=$tmp/trivial n=$trivial
        [ "$c" = 1 ] && in=$tmp/trivial_c1 n=$trivial_c1
        if fut 2 noop "$c" "$in"; then
            awk -v l="mpi4py c=$c" -v n="$n" -v w="$WALL" -v r="$(fmt_rate "$n" "$WALL")" \
                'BEGIN {printf "%-16s %10d %9.3f %11s %10.3f %12s %14s\n", l, n, w, r, w / n * 1e6, "-", "-"}'
            [ "$c" = 1 ] || note_chunk "$c" "$n"
        else
            printf '%-16s %10d %9s\n' "mpi4py c=$c" "$n" FAIL
        fi
    done
fi
echo "us/item = wall time / items (launch included); map_ns/item = the report's makespan / items;"
echo "dispatch = the report's gaps between a rank's items, per item. mpi4py: 2 workers + a manager."
fi

# ---- (b) skewed sleep-based items ------------------------------------------------------------
if has_part b; then
for ranks in $ranks_list; do
nb=$((ranks * per_rank))
read -r -a workloads <<<"${SUITE_KINDS:-lognormal pareto asc desc}"
unset cell
declare -A cell
for wl in "${workloads[@]}"; do
    "$workload" "$wl" "$nb" "$mean" >"$tmp/wl.$wl" || exit 2
    for e in "${engines[@]}"; do
        sleep_map "$e" "$ranks" "$tmp/wl.$wl"
        cell[$wl,$e]=$SM
    done
done
echo
echo "(b) skewed sleep items: $nb items (mean $mean ms) on $ranks ranks: load-balance efficiency"
printf '%-10s %6s %8s' workload bound in-order
for e in "${engines[@]}"; do printf ' %13s' "$(label "$e")"; done
echo
for wl in "${workloads[@]}"; do
    bound=$(awk -v r="$ranks" '{s += $1; if ($1 > m) m = $1}
        END {t = s / r; printf "%.3f", s / (r * (m > t ? m : t))}' "$tmp/wl.$wl")
    inorder=$(in_order "$ranks" "$tmp/wl.$wl")
    printf '%-10s %6s %8s' "$wl" "$bound" "$inorder"
    for e in "${engines[@]}"; do
        read -r ms eff <<<"${cell[$wl,$e]}"
        [ "$ms" = FAIL ] && eff=FAIL
        printf ' %13s' "$eff"
    done
    echo
done
echo "makespan in s (x = ${engines[0]}'s makespan / this one's: > 1 is faster than ${engines[0]})"
for wl in "${workloads[@]}"; do
    printf '%-10s %6s %8s' "$wl" "" ""
    read -r base _ <<<"${cell[$wl,${engines[0]}]}"
    for e in "${engines[@]}"; do
        read -r ms _ <<<"${cell[$wl,$e]}"
        if [ "$ms" = FAIL ] || [ "$base" = FAIL ]; then
            printf ' %13s' "$ms"
        else
            printf ' %13s' "$(awk -v m="$ms" -v b="$base" 'BEGIN {printf "%.3f %4.2fx", m, b / m}')"
        fi
    done
    echo
done
echo "efficiency = sum of item times / (ranks x makespan), makespan = first item's start to last"
echo "item's end (mpimap: --report-json; mpi4py and parallel: the same from their own timings)."
echo "bound = the best any deal can do: sum / (ranks x max(sum / ranks, largest item))."
echo "in-order = greedy list scheduling in input order (each item in turn to the rank free first,"
echo "no overhead): about what a dealer in input order that cannot know an item's cost before it"
echo "runs reaches (pool). guided deals its last items last first and steal runs the ranks' shares"
echo "side by side, so on a given list they may do better or worse."
echo "mpimap: --function bench_work.so:sleepms; mpi4py: time.sleep, $ranks workers + a manager,"
echo "c=auto = ceil(items / (4 x workers)); parallel: -j $ranks -k sleep {} (a process per item)."
# The in-order figure is a property of the list drawn: the same over other
# seeds of each kind.
if [ "$seeds" -gt 0 ]; then
    echo "in-order over $seeds lists of each kind (seeds 1 to $seeds): median, and the share >= .95:"
    for wl in "${workloads[@]}"; do
        for ((k = 1; k <= seeds; k++)); do
            "$workload" "$wl" "$nb" "$mean" "$k" >"$tmp/seed" || exit 2
            in_order "$ranks" "$tmp/seed"
        done | sort -g | awk -v w="$wl" '{x[NR] = $1; if ($1 >= 0.95) k++}
            END {printf "  %-10s %.3f  %3.0f%%\n", w, x[int((NR + 1) / 2)], 100 * k / NR}'
    done
fi
done
fi

# ---- (c) scaling ---------------------------------------------------------------------------------
if has_part c; then
"$workload" lognormal "$scale_items" "$scale_mean" >"$tmp/scale" || exit 2
total=$(awk '{s += $1} END {printf "%.6f", s / 1000}' "$tmp/scale")
echo
echo "(c) scaling: $scale_items lognormal sleep items (mean $scale_mean ms, $total s in all):"
echo "    speed-up (sum of item times / makespan) and efficiency"
printf '%-6s' ranks
for e in "${engines[@]}"; do printf ' %13s' "$(label "$e")"; done
echo
for np in $scale; do
    printf '%-6s' "$np"
    for e in "${engines[@]}"; do
        sleep_map "$e" "$np" "$tmp/scale"
        read -r ms eff <<<"$SM"
        if [ "$ms" = FAIL ]; then
            printf ' %13s' FAIL
        else
            printf ' %13s' "$(awk -v t="$total" -v m="$ms" -v e="$eff" 'BEGIN {printf "%.2fx %.2f", t / m, e}')"
        fi
    done
    echo
done
echo "mpi4py: N workers + a manager (N + 1 processes); ranks beyond the 2 cores sleep, not spin."
fi

# ---- (d) whole-map throughput ---------------------------------------------------------------------
if has_part d; then
# best_of LABEL: the smallest of the WALL values collected in times[LABEL].
declare -A times
best_of() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -g | head -1; }
echo
echo "(d) whole-map throughput, end to end (launch, input and output included), best of $reps"
printf '%-58s %12s %12s %8s  %s\n' comparison "mpimap it/s" "other it/s" ratio target
# row LABEL N MPIMAP_KEY OTHER_KEY TARGET
row() {
    local a b
    a=$(best_of "$3") b=$(best_of "$4")
    if [ -z "$a" ] || [ -z "$b" ]; then
        printf '%-58s %12s %12s %8s  %s\n' "$1" "${a:+$(fmt_rate "$2" "$a")}" "${b:+$(fmt_rate "$2" "$b")}" - "$5 (no figure)"
        return
    fi
    awk -v l="$1" -v n="$2" -v a="$a" -v b="$b" -v t="$5" -v ra="$(fmt_rate "$2" "$a")" \
        -v rb="$(fmt_rate "$2" "$b")" 'BEGIN {r = b / a; split(t, x, "x");
        printf "%-58s %12s %12s %7.1fx  >= %s: %s\n", l, ra, rb, r, t, ((r >= x[1] + 0) ? "met" : "MISSED")}'
}
# Without (a), mpi4py's best chunksize is looked for here, over the same
# chunksizes, on the same list (not printed).
if [ $have_futures = 1 ] && [ -z "$best_chunk" ]; then
    seq 1 "$trivial" >"$tmp/trivial"
    for c in $futures_chunks; do
        fut 2 noop "$c" "$tmp/trivial" && note_chunk "$c" "$trivial"
    done
fi
if [ $have_futures = 1 ] && [ -n "$best_chunk" ]; then
    sizes=("$trivial")
    if [ "$big" -gt 0 ]; then
        seq 1 "$big" >"$tmp/big"
        sizes+=("$big")
    fi
    for n in "${sizes[@]}"; do
        in=$tmp/trivial
        [ "$n" = "$trivial" ] || in=$tmp/big
        for ((r = 0; r < reps; r++)); do
            mm 2 pool "$in" --function "$work:noop" && times[mm$n]+="$WALL "
            fut 2 noop "$best_chunk" "$in" && times[fut$n]+="$WALL "
        done
        row "function noop, $n items: -n 2 (pool) vs mpi4py c=$best_chunk" "$n" "mm$n" "fut$n" 10x
    done
else
    echo "function noop vs mpi4py.futures: skipped (no mpi4py.futures)"
fi
if [ $have_parallel = 1 ]; then
    seq 1 "$cmd_items" >"$tmp/cmd"
    for ((r = 0; r < reps; r++)); do
        mm 2 pool "$tmp/cmd" -- echo '{}' && times[mmcmd]+="$WALL "
        par 2 "$tmp/cmd" echo '{}' && times[par]+="$WALL "
    done
    row "command echo {}, $cmd_items items: -n 2 (pool) vs parallel -j 2 -k" "$cmd_items" mmcmd par 3x
else
    echo "command echo {} vs GNU parallel: skipped (no GNU parallel)"
fi
echo "ratio = the other tool's best wall time / mpimap's. mpi4py: its best chunksize (from (a) when it ran)."
fi
echo
echo "suite: $(($(date +%s) - t_suite)) s; figures, not a pass/fail$([ $failures = 0 ] || echo "; $failures mpimap maps FAILED")"
[ $failures = 0 ]
