#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_longfirst.sh - a long first item (a list sorted longest first): no
# item waits queued behind it while other ranks run dry. guided deals each
# rank one item until an item has been timed, then queues one chunk behind
# a running one when items are long, not two; steal hands a compute thread
# no second run before an item has been timed, and a victim busy with a
# long item gives away its whole queue. Before, the rank that ran the long
# item ran three items (0.79 to 0.94 efficiency on such lists, 4 ranks).
# Every result still comes back once, in input order.
set -euo pipefail
. "$4/lib.sh"

SLEEP=$H/libsleepms.so:sleep_ms
NP=4
N=48

# Item 0 sleeps 800 ms, the others 10 ms: the other ranks are done with all
# of those (about 160 ms each) long before item 0 ends.
{
    echo 800
    for i in $(seq 2 $N); do echo 10; done
} >"$T/items"

# ran_with_first STRATEGY: run the map; sets RAN to how many items the
# rank that ran item 0 ran.
ran_with_first() {
    mm 0 "$T/out" "$T/err" -n $NP -s "$1" -i "$T/items" --joblog "$T/log" --function "$SLEEP"
    same "$T/items" "$T/out" "$1: every result, in input order"
    [ "$(awk -F'\t' 'NR > 1 {print $1}' "$T/log" | sort -n | uniq | wc -l)" = $N ] &&
        [ "$(awk 'END {print NR - 1}' "$T/log")" = $N ] ||
        fail "$1: the joblog does not have every item once: $(cat "$T/log")"
    local r
    r=$(awk -F'\t' 'NR > 1 && $1 == 0 {print $2}' "$T/log")
    RAN=$(awk -F'\t' -v r="$r" 'NR > 1 && $2 == r' "$T/log" | wc -l)
}

ran_with_first guided
[ "$RAN" -le 2 ] || { cat "$T/log" >&2; fail "guided: the rank of the long item ran $RAN items (at most 2)"; }
ok "guided: the rank of the long item ran $RAN items (at most one queued behind it)"

ran_with_first steal
[ "$RAN" = 1 ] || { cat "$T/log" >&2; fail "steal: the rank of the long item ran $RAN items (only it)"; }
ok "steal: the rank of the long item ran it alone (its queue was stolen while it ran)"

done_checks
