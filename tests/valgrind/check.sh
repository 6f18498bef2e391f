#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# check.sh LOGDIR - fail when a valgrind log of the "valgrind" test setup
# (vg.sh writes one per process into LOGDIR) reports anything: an error
# (invalid read or write, invalid free, use of an uninitialised value, a
# bad system call parameter, overlapping memcpy, ...) or a definite or
# indirect leak that openmpi.supp does not suppress. Prints each report
# with the command of the process it came from.
#
# A log without valgrind's final summary is a process that exec'd (a forked
# child running a command) or was killed (a rank stopped by mpirun): its
# leaks were not checked, its errors (reported as they happen) were. The
# programs themselves (not forked children: vg.sh names their logs
# NAME.STAMP.PID-PID.log) that were killed are listed; with
# MPIMAP_VG_VERBOSE=1 every log without a summary is.
#
# Exit status: 0 nothing reported, 1 something was, 2 no logs at all.
set -euo pipefail

if [ $# != 1 ]; then
    echo "usage: $0 LOGDIR" >&2
    exit 2
fi
logdir=$1
shopt -s nullglob
logs=("$logdir"/*.log)
if [ ${#logs[@]} = 0 ]; then
    echo "valgrind: no logs in $logdir: did the tests run with --setup valgrind?" >&2
    exit 2
fi

# A report is a block of lines "==PID== ..." between lines "==PID== "
# (empty); it is an error when its first line (after a "Thread N:") is one
# of memcheck's error headings.
awk -v verbose="${MPIMAP_VG_VERBOSE:-0}" '
BEGIN {
    heading = "^==[0-9]+== (Invalid (read|write|free|memory pool)|Mismatched free|" \
              "Conditional jump or move depends on uninitialised|" \
              "Use of uninitialised value|Syscall param|Source and destination overlap|" \
              "Argument .* of function .* has a fishy|Jump to the invalid address|" \
              "Illegal memory pool|realloc\\(\\) with size 0|" \
              "[0-9,]+ (\\([0-9,]+ direct, [0-9,]+ indirect\\) )?bytes in [0-9,]+ blocks are (definitely|indirectly) lost)"
}
function flush(    h, i) {
    h = 1
    while (h < nblock && block[h] ~ /^==[0-9]+== Thread [0-9]+/)
        h++
    if (nblock > 0 && block[h] ~ heading) {
        nbad++
        printf "---- valgrind: %s\n", cur
        if (cmd != "")
            printf "     command: %s\n", cmd
        for (i = 1; i <= nblock; i++)
            print block[i]
        print ""
        bad[cur] = 1
    }
    nblock = 0
}
# The program itself (PID-PID), not a forked child (PID-CHILD).
function is_main(f,    m) {
    if (!match(f, /\.[0-9]+-[0-9]+\.log$/))
        return 0
    m = substr(f, RSTART + 1, RLENGTH - 5)
    split(m, p, "-")
    return p[1] == p[2]
}
function endfile(    line) {
    flush()
    if (!nonempty)
        nempty++
    else if (!summary) {
        nunf++
        if (is_main(cur)) {
            nkilled++
            printf "valgrind: note: killed before its leak check%s: %s  (%s)\n",
                   signal != "" ? " (" signal ")" : "", cur, cmd
        } else if (verbose)
            printf "valgrind: note: forked child without a summary (exec or killed): %s\n", cur
    } else if (errors > 0 && !(cur in bad)) {
        # counted by valgrind, yet no heading recognised above: show it all
        printf "---- valgrind: %s: ERROR SUMMARY: %d errors; the whole log:\n", cur, errors
        while ((getline line < cur) > 0)
            print line
        close(cur)
        nbad++
        bad[cur] = 1
    }
}
FNR == 1 {
    if (NR > 1)
        endfile()
    cur = FILENAME; cmd = ""; signal = ""; summary = 0; errors = 0; nonempty = 0
    nlogs++
}
{ nonempty = 1 }
/^==[0-9]+== Command: / { sub(/^==[0-9]+== Command: /, ""); cmd = $0; next }
/^==[0-9]+== Process terminating with default action of signal / {
    signal = $0; sub(/^.*of signal /, "signal ", signal)
}
/^==[0-9]+== ERROR SUMMARY: / {
    summary = 1
    n = $0; sub(/^==[0-9]+== ERROR SUMMARY: /, "", n); sub(/ .*/, "", n)
    errors = n + 0
}
/^==[0-9]+== $/ { flush(); next }
/^==[0-9]+== / { block[++nblock] = $0; next }
END {
    if (nlogs > 0)
        endfile()
    nfiles = 0
    for (f in bad)
        nfiles++
    printf "valgrind: %d logs (%d empty, %d without a summary, of which %d programs killed): " \
           "%d reports in %d logs\n", nlogs, nempty, nunf, nkilled, nbad, nfiles
    exit nbad > 0
}
' "${logs[@]}"
