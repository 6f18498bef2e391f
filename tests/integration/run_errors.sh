#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# run_errors.sh - `mpimap run` on bad input and failing items, under
# mpirun: each ends promptly with its documented exit status (1 items
# failed, 2 usage, 3 could not start) and a message naming the cause.
set -euo pipefail
. "$4/lib.sh"

seq 1 6 >"$T/num"

# ---- exit 1: items that fail ------------------------------------------------
# Failing items at the start, in the middle and at the end; every other
# result is there, each failed record empty, each failure named with its
# index, its rank and the reason.
printf 'bad\n1\n2\nbad\n4\n5\nbad\n' >"$T/bad"
printf '\nok:1\nok:2\n\nok:4\nok:5\n\n' >"$T/bad.ref"
for s in pool scatter guided steal; do
    for np in 1 2 3; do
        w="$s -n $np"
        mm 1 "$T/out" "$T/err" -n $np -s $s -i "$T/bad" --function "$H/libfailbad.so:fail_bad"
        same "$T/bad.ref" "$T/out" "$w: failed items keep their place, empty"
        has "$T/err" "mpimap: 3 of 7 items failed:" "$w"
        for i in 0 3 6; do
            grep -Eq "^  item $i \(rank [0-$((np - 1))]\): refused the bad item\$" "$T/err" ||
                { cat "$T/err" >&2; fail "$w: item $i is not named with its rank and reason"; }
        done
        [ "$(grep -c '^  item ' "$T/err")" = 3 ] || fail "$w: not 3 failures listed"
        ok "$w: exit 1, stderr names items 0, 3, 6 with rank and reason"
    done
done
# Binary framing: the failed record is an empty record.
printf 'x\nbad\ny\n' | "$MKREC" bin >"$T/bad.bin"
printf 'ok:x\n\nok:y\n' | "$MKREC" bin >"$T/bad.bin.ref"
mm 1 "$T/out" "$T/err" -n 2 --binary -i "$T/bad.bin" --function "$H/libfailbad.so:fail_bad"
same "$T/bad.bin.ref" "$T/out" "--binary: the failed item's record is empty"
has "$T/err" "item 1 (rank " "--binary failure"
# A command that fails: its exit status and the tail of its stderr.
mm 1 "$T/out" "$T/err" -n 3 -i "$T/num" -- \
    sh -c 'if [ "$1" = 4 ]; then echo "four is right out" >&2; exit 3; fi; echo "$1"' sh {}
printf '1\n2\n3\n\n5\n6\n' >"$T/ref"
same "$T/ref" "$T/out" "a failing command keeps its place, empty"
grep -Eq '^  item 3 \(rank [0-2]\): exit status 3.*four is right out' "$T/err" ||
    { cat "$T/err" >&2; fail "the failing command's item, status and stderr are not named"; }
ok "a failing command: exit 1, stderr names item 3, exit status 3 and its stderr"
# -q: no failure summary, still exit 1.
mm 1 "$T/out" "$T/err" -q -n 2 -i "$T/bad" --function "$H/libfailbad.so:fail_bad"
same "$T/bad.ref" "$T/out" "-q with failed items"
empty "$T/err" "-q with failed items: standard error"

# ---- exit 3: could not start ------------------------------------------------------
# Each leaves no job directory behind (mm checks it for 0 and 1; here by hand).
wd_empty() { [ -z "$(ls -A "$WD")" ] || fail "$1: job directory left: $(ls -A "$WD")"; }

mm 3 "$T/out" "$T/err" -n 2 -i "$T/no such file" -- echo '{}'
has "$T/err" "cannot open input '$T/no such file': No such file or directory" "missing input"
empty "$T/out" "missing input: standard output"
wd_empty "missing input"
ok "a missing input file: exit 3, the message names the file"

mm 3 "$T/out" "$T/err" -n 2 -i "$T/num" --function "$H/libnothere.so:square"
has "$T/err" "cannot load function library '$H/libnothere.so'" "missing .so"
has "$T/err" "No such file or directory" "missing .so"
wd_empty "missing .so"
ok "--function with a missing .so: exit 3, the message names the file"

mm 3 "$T/out" "$T/err" -n 2 -i "$T/num" --function "$H/libsquare.so:no_such_symbol"
has "$T/err" "function library '$H/libsquare.so' has no symbol 'no_such_symbol'" "missing symbol"
wd_empty "missing symbol"
ok "--function with a missing symbol: exit 3, the message names file and symbol"

mm 3 "$T/out" "$T/err" -n 2 -i "$T/num" --function "$H/libwrongabi.so:square"
has "$T/err" "function library '$H/libwrongabi.so' was built for mpimap handler ABI 99; this mpimap has ABI 1" "wrong ABI"
wd_empty "wrong ABI"
ok "--function with a wrong ABI marker: exit 3, the message names file and ABIs"

# mpirun not on PATH: a directory with what the run needs, but no mpirun.
mkdir "$T/bin"
for tool in sh echo; do ln -s "$(type -P $tool)" "$T/bin/$tool"; done
IN=$T/num RUN_PATH=$T/bin mm 3 "$T/out" "$T/err" -n 2 --launcher mpirun -- echo '{}'
has "$T/err" "mpirun not found on PATH" "no mpirun"
empty "$T/out" "no mpirun: standard output"
wd_empty "no mpirun"
ok "--launcher mpirun without mpirun on PATH: exit 3, 'mpirun not found on PATH'"
# An mpirun that fails before the map starts: the job directory is named
# exactly (no resume hint: nothing ran), and kept.
mkdir "$T/badbin"
cp -P "$T/bin/sh" "$T/bin/echo" "$T/badbin/"
printf '#!/bin/sh\necho "mpirun: refused" >&2\nexit 1\n' >"$T/badbin/mpirun"
chmod +x "$T/badbin/mpirun"
IN=$T/num RUN_PATH=$T/badbin mm 3 "$T/out" "$T/err" -n 2 --launcher mpirun -- echo '{}'
has "$T/err" "mpirun: refused" "a failing mpirun's own message"
kept=$(sed -n 's/^mpimap run: the job ended without finishing the map (mpirun: exit status 1); job directory kept: //p' "$T/err")
[ -n "$kept" ] && [ -d "$kept" ] && [ "$(dirname "$kept")" = "$WD" ] ||
    { cat -A "$T/err" >&2; fail "a failing mpirun: the kept job directory is not named exactly"; }
empty "$T/out" "a failing mpirun: standard output"
clean_wd
ok "an mpirun that fails at once: exit 3, the kept job directory named exactly"
# ... and the same PATH is enough for the serial launcher.
IN=$T/num RUN_PATH=$T/bin mm 0 "$T/out" "$T/err" --launcher serial -- echo '{}'
same "$T/num" "$T/out" "the same PATH with --launcher serial"

# A truncated --binary record: the item and its byte offset are named.
"$MKREC" trunc >"$T/trunc.bin"
for s in pool scatter guided steal; do
    for np in 1 3; do
        mm 3 "$T/out" "$T/err" -n $np -s $s --binary -i "$T/trunc.bin" \
            --function "$H/libidentity.so:identity"
        has "$T/err" "item 2 at byte 22: record claims 100 bytes but only 10 remain" \
            "$s -n $np: truncated record"
        empty "$T/out" "$s -n $np: truncated record: standard output"
        clean_wd
        ok "$s -n $np: a truncated --binary record: exit 3, item 2 at byte 22 named"
    done
done
# A file too short for even a length.
head -c 3 "$T/trunc.bin" >"$T/short.bin"
mm 3 "$T/out" "$T/err" -n 2 --binary -i "$T/short.bin" --function "$H/libidentity.so:identity"
has "$T/err" "item 0 at byte 0: truncated record length: 3 of 8 bytes" "a 3-byte --binary input"
clean_wd
ok "a 3-byte --binary input: exit 3, item 0 at byte 0 named"

# ---- exit 2: usage --------------------------------------------------------------------
# The names offered are those `mpimap plugins` lists as usable, sorted.
usable() {
    "$MPIMAP" plugins --kind "$1" | awk 'NR > 1 { print $2 }' | sort | paste -sd, | sed 's/,/, /g'
}
strategies=$(usable strategy)
launchers=$(usable launcher)
case "$strategies" in *pool*scatter*) ;; *) fail "mpimap plugins lists no pool and scatter: $strategies" ;; esac
mm 2 "$T/out" "$T/err" -n 2 -s no-such-strategy -i "$T/num" -- echo '{}'
has "$T/err" "no strategy 'no-such-strategy'; available: $strategies" "unknown strategy"
wd_empty "unknown strategy"
ok "an unknown strategy: exit 2, the available ones listed"

mm 2 "$T/out" "$T/err" -n 2 -l no-such-launcher -i "$T/num" -- echo '{}'
has "$T/err" "no launcher 'no-such-launcher'; available: $launchers" "unknown launcher"
wd_empty "unknown launcher"
ok "an unknown launcher: exit 2, the available ones listed"

mm 2 "$T/out" "$T/err" -n 0 -i "$T/num" -- echo '{}'
has "$T/err" "--np: '0' is not a whole number" "-n 0"
mm 2 "$T/out" "$T/err" -i "$T/num"
has "$T/err" "nothing to run" "no command"
mm 2 "$T/out" "$T/err" -i "$T/num" --function "$H/libsquare.so:square" -- echo
has "$T/err" "not both" "function and command"
mm 2 "$T/out" "$T/err" -i "$T/num" --function "$H/libsquare.so"
has "$T/err" "expected PATH:SYMBOL" "--function without a symbol"
mm 2 "$T/out" "$T/err" -i "$T/num" --no-such-option -- echo
has "$T/err" "unknown option '--no-such-option'" "unknown option"
mm 2 "$T/out" "$T/err" -i "$T/num" --shell -- echo '{}'
has "$T/err" "--shell takes exactly one script" "--shell with two words"
mm 2 "$T/out" "$T/err" -i "$T/num" -- echo '{2}'
has "$T/err" "{2}" "{2} without --colsep"
wd_empty "usage errors"
ok "usage errors exit 2 with their message"

done_checks
