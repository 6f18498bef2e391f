#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_edges.sh - `mpimap run` on awkward but valid input, under mpirun:
# zero items, one item, more ranks than items, an item of 16 MiB (binary
# and as a line), items with NUL bytes, an unterminated last item.
set -euo pipefail
. "$4/lib.sh"

: >"$T/empty"
for s in pool scatter; do
    for np in 1 3; do
        w="$s -n $np"
        # Zero items: empty output, exit 0, in every framing.
        for framing in "" -0 --binary; do
            mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/empty" $framing \
                --function "$H/libsquare.so:square"
            empty "$T/out" "$w $framing: zero items, function"
            mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/empty" $framing -- echo '{}'
            empty "$T/out" "$w $framing: zero items, command"
            empty "$T/err" "$w $framing: zero items: standard error"
        done
        ok "$w: zero items give empty output and exit 0"
        # Zero items with a joblog: just the header.
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/empty" --joblog "$T/jl" -- echo '{}'
        [ "$(cat "$T/jl")" = "$(printf 'index\trank\tstart\tduration\tstatus\treason')" ] ||
            fail "$w: zero items: the joblog is not just the header"
        # One item.
        echo 12 >"$T/one"
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/one" --function "$H/libsquare.so:square"
        echo 144 >"$T/ref"
        same "$T/ref" "$T/out" "$w: one item, function"
        # An unterminated last line counts as an item; the output is terminated.
        printf '1\n2\n3' >"$T/unterminated"
        printf '1\n4\n9\n' >"$T/ref"
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/unterminated" --function "$H/libsquare.so:square"
        same "$T/ref" "$T/out" "$w: unterminated last line, function"
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/unterminated" -- echo 'x{}'
        printf 'x1\nx2\nx3\n' >"$T/ref"
        same "$T/ref" "$T/out" "$w: unterminated last line, command"
        # The same for -0: a last item without its NUL.
        printf '5\0%s' 6 >"$T/unterminated.nul"
        printf '%s\0' 25 36 >"$T/ref"
        mm 0 "$T/out" "$T/err" -n $np -s $s -0 -i "$T/unterminated.nul" \
            --function "$H/libsquare.so:square"
        same "$T/ref" "$T/out" "$w: -0 with an unterminated last item"
        # An empty line is an item.
        printf 'a\n\nb\n' >"$T/blank"
        mm 0 "$T/out" "$T/err" -n $np -s $s -i "$T/blank" -- echo '<{}>'
        printf '<a>\n<>\n<b>\n' >"$T/ref"
        same "$T/ref" "$T/out" "$w: an empty line is an item"
    done
    # More ranks than items.
    printf '3\n4\n' >"$T/two"
    printf '9\n16\n' >"$T/ref"
    mm 0 "$T/out" "$T/err" -n 5 -s $s -i "$T/two" --function "$H/libsquare.so:square"
    same "$T/ref" "$T/out" "$s -n 5 with 2 items, function"
    mm 0 "$T/out" "$T/err" -n 5 -s $s -i "$T/two" -- echo 'x{}'
    printf 'x3\nx4\n' >"$T/ref"
    same "$T/ref" "$T/out" "$s -n 5 with 2 items, command"

    # Items with NUL bytes (and an empty record) in --binary.
    "$MKREC" nul >"$T/nul.bin"
    "$MKREC" rev <"$T/nul.bin" >"$T/nul.ref"
    for np in 1 2 3; do
        mm 0 "$T/out" "$T/err" -n $np -s $s --binary -i "$T/nul.bin" \
            --function "$H/libidentity.so:reverse"
        same "$T/nul.ref" "$T/out" "$s -n $np: --binary items with NUL bytes, reversed"
        mm 0 "$T/out" "$T/err" -n $np -s $s --binary -i "$T/nul.bin" \
            --function "$H/libidentity.so:identity"
        same "$T/nul.bin" "$T/out" "$s -n $np: --binary items with NUL bytes, identity"
    done
done

# ---- 16 MiB items --------------------------------------------------------------
# One 16 MiB record among small ones (so that it crosses to another rank).
BIG=$((16 * 1024 * 1024))
{ echo "a"; echo "b"; } | "$MKREC" bin >"$T/small.bin"
{ cat "$T/small.bin"; "$MKREC" big $BIG; cat "$T/small.bin"; } >"$T/big.bin"
[ "$(wc -c <"$T/big.bin")" = $((BIG + 8 + 4 * 9)) ] || fail "mkrec big made the wrong size"
"$MKREC" rev <"$T/big.bin" >"$T/big.rev"
for s in pool scatter; do
    for np in 2 3; do
        mm 0 "$T/out" "$T/err" -n $np -s $s --binary -i "$T/big.bin" \
            --function "$H/libidentity.so:reverse"
        same "$T/big.rev" "$T/out" "$s -n $np: a 16 MiB --binary item among small ones"
    done
done
# A 16 MiB line, through standard input.
{ echo 1; "$MKREC" bigline $BIG; echo 2; } >"$T/big.line"
IN=$T/big.line mm 0 "$T/out" "$T/err" -n 2 --function "$H/libidentity.so:identity"
same "$T/big.line" "$T/out" "pool -n 2: a 16 MiB line on standard input"
rm -f "$T"/big.*

done_checks
