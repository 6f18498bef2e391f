#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_guided.sh - the guided strategy's tail, under mpirun: once few items
# are left (counted: items slow enough), guided reads them ahead and deals
# them last first. Every result still comes back once, in input order; a
# failing item and a malformed record in the tail are reported as anywhere
# else.
set -euo pipefail
. "$4/lib.sh"

SLEEP=$H/libsleepms.so:sleep_ms
NP=3
N=60
TAIL=$((6 * NP)) # guided.c: TAIL_PER_RANK chunks per rank, one item each here

# start_of LOG I...: the mean start time of items I... in a --joblog.
start_of() {
    local log=$1
    shift
    awk -F'\t' -v want=" $* " 'NR > 1 && index(want, " " $1 " ") {s += $3; n++}
        END {if (n) printf "%.6f\n", s / n}' "$log"
}

# ---- last first -------------------------------------------------------------------
# N items of 8 ms: the tail is the last TAIL; its last items start before
# its first ones (dealt in input order, the reverse).
for i in $(seq 1 $N); do echo 8; done >"$T/items"
mm 0 "$T/out" "$T/err" -n $NP -s guided -i "$T/items" --joblog "$T/log" --function "$SLEEP"
same "$T/items" "$T/out" "results in input order"
[ "$(awk -F'\t' 'NR > 1 {print $1}' "$T/log" | sort -n | uniq | wc -l)" = $N ] &&
    [ "$(awk 'END {print NR - 1}' "$T/log")" = $N ] ||
    fail "the joblog does not have every item exactly once: $(cat "$T/log")"
last=$(start_of "$T/log" $((N - 1)) $((N - 2)) $((N - 3)))
first=$(start_of "$T/log" $((N - TAIL)) $((N - TAIL + 1)) $((N - TAIL + 2)))
awk -v l="$last" -v f="$first" 'BEGIN {exit !(l < f)}' ||
    { cat "$T/log" >&2; fail "the tail's last items did not start first (last $last, first $first)"; }
ok "guided runs the tail's last items first (start $last < $first), every result in order"

# Before the tail, items go in input order: the first items start first.
early=$(start_of "$T/log" 0 1 2)
mid=$(start_of "$T/log" 20 21 22)
awk -v e="$early" -v m="$mid" 'BEGIN {exit !(e < m)}' ||
    fail "items before the tail were not dealt in input order ($early, $mid)"
ok "before the tail, items are dealt in input order"

# A named pipe cannot be read twice, so not counted: no tail, input order
# to the end.
mkfifo "$T/fifo"
cat "$T/items" >"$T/fifo" &
feeder=$!
mm 0 "$T/out" "$T/err" -n $NP -s guided -i "$T/fifo" --joblog "$T/log" --function "$SLEEP"
wait $feeder
same "$T/items" "$T/out" "piped: results in input order"
last=$(start_of "$T/log" $((N - 1)) $((N - 2)) $((N - 3)))
first=$(start_of "$T/log" $((N - TAIL)) $((N - TAIL + 1)) $((N - TAIL + 2)))
awk -v l="$last" -v f="$first" 'BEGIN {exit !(l > f)}' ||
    fail "piped input: the last items started before the earlier ones ($last, $first)"
ok "a piped input (no count) is dealt in input order to the end"

# ---- a failing item in the tail ------------------------------------------------------
# A command per item (slow enough to be counted); item 55 fails.
seq 0 $((N - 1)) >"$T/num"
mm 1 "$T/out" "$T/err" -n $NP -s guided -i "$T/num" -- \
    sh -c 'sleep 0.005; if [ "$1" = 55 ]; then echo "no 55" >&2; exit 4; fi; echo "$1"' sh {}
seq 0 $((N - 1)) | sed 's/^55$//' >"$T/ref"
same "$T/ref" "$T/out" "a failing item in the tail keeps its place, empty"
grep -Eq "^  item 55 \(rank [0-$((NP - 1))]\): exit status 4.*no 55" "$T/err" ||
    { cat "$T/err" >&2; fail "the failing tail item is not named with its status and stderr"; }
has "$T/err" "mpimap: 1 of $N items failed:" "one failure in the tail"
ok "a failing item in the tail: exit 1, item 55 named, every other result in place"

# ---- a malformed record in the tail --------------------------------------------------
# N good --binary records of "8", then one whose length claims 100 bytes
# with 3 left: the map stops with the item and its byte offset named.
"$MKREC" bin <"$T/items" >"$T/bad.bin"
off=$(stat -c %s "$T/bad.bin")
printf '\144\0\0\0\0\0\0\0abc' >>"$T/bad.bin"
mm 3 "$T/out" "$T/err" -n $NP -s guided --binary -i "$T/bad.bin" --function "$SLEEP"
has "$T/err" "item $N at byte $off: record claims 100 bytes but only 3 remain" "malformed tail record"
empty "$T/out" "malformed tail record: standard output"
clean_wd
ok "a truncated record after $N good ones: exit 3, item $N at byte $off named"

done_checks
