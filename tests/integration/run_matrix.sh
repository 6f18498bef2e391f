#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_matrix.sh - `mpimap run` gives byte-for-byte the output of a serial
# loop, for one strategy (the 5th argument), under mpirun with 1, 2, 3 and 5
# ranks (5 is oversubscribed here) and the serial launcher, with a function
# and a command handler, in all three framings (line, -0, --binary), with
# the automatic chunk and with --chunk 1 and --chunk 7.
set -euo pipefail
. "$4/lib.sh"
STRATEGY=${5:?usage: $0 MPIMAP HANDLERS_DIR MKREC SOURCE_DIR STRATEGY}

# ---- inputs and their serial references ---------------------------------

# Numbers, one per line: -60..140 (201 items, negative and zero too).
seq -60 140 >"$T/num.line"
while read -r x; do echo $((x * x)); done <"$T/num.line" >"$T/num.square.line"
# The same NUL-terminated.
tr '\n' '\0' <"$T/num.line" >"$T/num.nul"
tr '\n' '\0' <"$T/num.square.line" >"$T/num.square.nul"

# Words with spaces, quotes, shell syntax, an empty one and a leading dash.
{
    for i in $(seq 1 60); do
        echo "w$i two  spaces 'single' \"double\" \$HOME \$(false) * ; |"
    done
    echo ""
    echo "-n"
    echo "last"
} >"$T/words.line"
while IFS= read -r x; do echo "item:$x"; done <"$T/words.line" >"$T/words.cmd.line"

# NUL-terminated items with newlines inside, and an empty one.
{
    for i in $(seq 1 40); do printf 'line %d\nsecond\0' "$i"; done
    printf '\0'
    printf 'tab\there\0'
} >"$T/multi.nul"
while IFS= read -r -d '' x; do
    printf 'item:%s\n\0' "$x"
done <"$T/multi.nul" >"$T/multi.cmd.nul"

# Binary records: NUL bytes, an empty record, then the words.
{ "$MKREC" nul; "$MKREC" bin <"$T/words.line"; } >"$T/mixed.bin"
"$MKREC" rev <"$T/mixed.bin" >"$T/mixed.rev.bin"
"$MKREC" bin <"$T/words.line" >"$T/words.bin"
"$MKREC" binnl <"$T/words.cmd.line" >"$T/words.cmd.bin"

[ "$(wc -l <"$T/num.square.line")" = 201 ] || fail "the reference is wrong"

# ---- the matrix -------------------------------------------------------------

# check WHAT INPUT REFERENCE [run options...] [-- command]
check() {
    local what=$1 input=$2 ref=$3
    shift 3
    mm 0 "$T/out" "$T/err" -s "$STRATEGY" -i "$input" "$@"
    empty "$T/err" "$what: standard error"
    same "$ref" "$T/out" "$what"
}

for where in "-l mpirun -n 1" "-l mpirun -n 2" "-l mpirun -n 3" "-l mpirun -n 5" "-l serial -n 2"; do
    # shellcheck disable=SC2206
    L=($where)
    w="$STRATEGY, $where"
    check "$w, function, lines" "$T/num.line" "$T/num.square.line" \
        "${L[@]}" --function "$H/libsquare.so:square"
    check "$w, function, lines, --chunk 1" "$T/num.line" "$T/num.square.line" \
        "${L[@]}" --chunk 1 --function "$H/libsquare.so:square"
    check "$w, command, lines" "$T/words.line" "$T/words.cmd.line" \
        "${L[@]}" -- echo 'item:{}'
    check "$w, command, lines, --chunk 7" "$T/words.line" "$T/words.cmd.line" \
        "${L[@]}" --chunk 7 -- echo 'item:{}'
    check "$w, function, -0" "$T/num.nul" "$T/num.square.nul" \
        "${L[@]}" -0 --function "$H/libsquare.so:square"
    check "$w, command, --null" "$T/multi.nul" "$T/multi.cmd.nul" \
        "${L[@]}" --null -- echo 'item:{}'
    check "$w, function, --binary" "$T/mixed.bin" "$T/mixed.rev.bin" \
        "${L[@]}" --binary --function "$H/libidentity.so:reverse"
    check "$w, command, --binary" "$T/words.bin" "$T/words.cmd.bin" \
        "${L[@]}" --binary -- echo 'item:{}'
done

# Standard input (spooled into the job directory) as well as -i.
IN=$T/num.line mm 0 "$T/out" "$T/err" -s "$STRATEGY" -n 3 --function "$H/libsquare.so:square"
same "$T/num.square.line" "$T/out" "$STRATEGY, -n 3, items on standard input"

done_checks
