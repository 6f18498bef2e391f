#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# config.sh - `mpimap config`: every key with the value in force and where
# it comes from (FILE:LINE or default), the files in order (system, user,
# $MPIMAP_CONFIG), and exit 2 with the FILE:LINE message on a bad file.
set -euo pipefail
. "$4/lib.sh"

SYS=$T/system.conf
mkdir -p "$T/home/.config/mpimap" "$T/xdg/mpimap"
USR=$T/home/.config/mpimap/mpimap.conf
NAMED=$T/named.conf

# cfg EXPECTED_RC [args...]: mpimap config with only our files.
cfg() {
    local want=$1 rc=0
    shift
    env -u XDG_CONFIG_HOME MPIMAP_CONFIG_SYSTEM="$SYS" HOME="$T/home" \
        MPIMAP_CONFIG="${NAMED_ENV-}" "$MPIMAP" config "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$T/err" >&2
        fail "exit status $rc, expected $want: mpimap config $*"
    fi
}

expect() { # WHAT, then the expected output on standard input
    cat >"$T/want"
    cmp -s "$T/want" "$T/out" || { diff "$T/want" "$T/out" >&2; fail "$1"; }
    ok "$1"
}

# ---- no files: every key at its default ---------------------------------------
cfg 0
expect "no config files: every key, default" <<'EOF'
KEY          VALUE                                           SOURCE
launcher     (auto: the best launcher found here)            default
via          (the scheduler's: srun for slurm, else mpirun)  default
strategy     pool                                            default
np           (the CPUs here)                                 default
queue        (the scheduler's default)                       default
account      (the scheduler's default)                       default
qos          (the scheduler's default)                       default
walltime     (the scheduler's default)                       default
mpirun_args  (none)                                          default
directive    (none)                                          default
EOF
empty "$T/err" "no config files: standard error"

# ---- three files, key by key ----------------------------------------------------
cat >"$SYS" <<'EOF'
# site defaults
launcher = mpirun
np = 8
queue = batch
directive = --exclusive
walltime = 1:00:00
EOF
cat >"$USR" <<'EOF'
np = 4
directive = --mail-type=END
mpirun_args = --mca btl self,vader
EOF
cat >"$NAMED" <<'EOF'

queue = "debug queue"
account = ""
EOF
NAMED_ENV=$NAMED cfg 0
expect "system, user and MPIMAP_CONFIG files, later ones winning" <<EOF
KEY          VALUE                                           SOURCE
launcher     mpirun                                          $SYS:2
via          (the scheduler's: srun for slurm, else mpirun)  default
strategy     pool                                            default
np           4                                               $USR:1
queue        debug queue                                     $NAMED:2
account      ""                                              $NAMED:3
qos          (the scheduler's default)                       default
walltime     1:00:00                                         $SYS:6
mpirun_args  --mca btl self,vader                            $USR:3
directive    --exclusive                                     $SYS:5
directive    --mail-type=END                                 $USR:2
EOF

# XDG_CONFIG_HOME replaces ~/.config.
printf 'strategy = scatter\n' >"$T/xdg/mpimap/mpimap.conf"
env -u MPIMAP_CONFIG MPIMAP_CONFIG_SYSTEM= HOME="$T/home" XDG_CONFIG_HOME="$T/xdg" \
    "$MPIMAP" config >"$T/out"
grep -qE "^strategy +scatter +$T/xdg/mpimap/mpimap.conf:1\$" "$T/out" ||
    { cat "$T/out" >&2; fail "XDG_CONFIG_HOME"; }
grep -qE "^np +\(the CPUs here\) +default\$" "$T/out" || fail "XDG_CONFIG_HOME: ~/.config read"
ok "XDG_CONFIG_HOME/mpimap/mpimap.conf replaces ~/.config/mpimap/mpimap.conf"

# ---- malformed files: exit 2, FILE:LINE --------------------------------------------
bad() { # FILE LINE-TEXT MESSAGE-AFTER-FILE:LINE
    local file=$1
    printf '# ok\nqos = normal\n%s\n' "$2" >"$file"
    NAMED_ENV=$NAMED cfg 2
    echo "mpimap config: $file:3: $3" >"$T/want_err"
    cmp -s "$T/want_err" "$T/err" || { diff "$T/want_err" "$T/err" >&2; fail "bad: $2"; }
    empty "$T/out" "bad line '$2': standard output"
    ok "'$2' in $(basename "$file"): exit 2, '$3'"
    : >"$file"
}
: >"$SYS"
: >"$USR"
: >"$NAMED"
bad "$SYS" "queu = x" "unknown key 'queu' (keys: launcher, via, strategy, np, queue, account, qos, walltime, mpirun_args, directive)"
bad "$USR" "np = 0" "np '0' is not a whole number from 1 to 2147483647"
bad "$NAMED" "walltime = 1:75:00" "walltime '1:75:00': minutes must be 0 to 59 (forms: [[H:]M:]S or D-H:M:S)"
bad "$USR" "just words" "expected 'key = value', got 'just words'"
bad "$SYS" "qos = again" "'qos' is already set at line 2 (only directive repeats)"
bad "$NAMED" "mpirun_args = 'open" "mpirun_args: unterminated single quote"

# MPIMAP_CONFIG names a file that is not there.
NAMED_ENV=$T/nothere cfg 2
has "$T/err" "mpimap config: $T/nothere: cannot read: No such file or directory (named by MPIMAP_CONFIG)" "missing MPIMAP_CONFIG"
ok "MPIMAP_CONFIG naming a missing file: exit 2"

# ---- usage --------------------------------------------------------------------------
cfg 0 --help
has "$T/out" "usage: mpimap config" "--help"
has "$T/out" "directive" "--help lists the keys"
cfg 2 extra
has "$T/err" "mpimap config: unexpected argument 'extra'" "an argument"
cfg 2 --all
has "$T/err" "mpimap config: unknown option '--all'" "an option"
ok "--help, and usage errors with exit 2"

done_checks
