#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_fifo.sh - an input that cannot be read twice (a named pipe given with
# -i): the strategies that do not need the item count (pool, and guided and
# steal, which fall back when the count fails) give the serial loop's
# output under mpirun with 1, 2 and 3 ranks, with automatic chunks and one
# item per chunk, with a function and with a command handler.
set -euo pipefail
. "$4/lib.sh"

seq 1 700 >"$T/num.line"
while read -r x; do echo $((x * x)); done <"$T/num.line" >"$T/num.square.line"
seq 1 60 >"$T/few.line"
while read -r x; do echo "item:$x"; done <"$T/few.line" >"$T/few.cmd.line"
mkfifo "$T/fifo"

# feed FILE: write the items into the pipe in the background (the writer
# ends with the run that opens the pipe; kill it if the run never did).
feed() {
    cat "$1" >"$T/fifo" &
    FEEDER=$!
}
unfeed() {
    kill "$FEEDER" 2>/dev/null || true
    wait "$FEEDER" 2>/dev/null || true
}

for s in pool guided steal; do
    for n in 1 2 3; do
        for chunk in "" "--chunk 1"; do
            feed "$T/num.line"
            # shellcheck disable=SC2086
            mm 0 "$T/out" "$T/err" -s "$s" -l mpirun -n "$n" $chunk -i "$T/fifo" \
                --function "$H/libsquare.so:square"
            unfeed
            empty "$T/err" "$s, -n $n $chunk, a pipe: standard error"
            same "$T/num.square.line" "$T/out" "$s, -n $n $chunk, a pipe"
        done
    done
    # Items slow enough (a command each) that guided tries to count them.
    feed "$T/few.line"
    mm 0 "$T/out" "$T/err" -s "$s" -l mpirun -n 3 -i "$T/fifo" -- echo 'item:{}'
    unfeed
    empty "$T/err" "$s, -n 3, command, a pipe: standard error"
    same "$T/few.cmd.line" "$T/out" "$s, -n 3, command, a pipe"
done

done_checks
