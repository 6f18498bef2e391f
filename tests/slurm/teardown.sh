#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/slurm/teardown.sh - stop the single-node Slurm cluster that
# tests/slurm/setup.sh started: cancel every job, then stop slurmd,
# slurmctld and munged by their pid files (nothing else is killed).
# The configuration setup.sh wrote stays; MPIMAP_SLURM_PURGE=1 removes it
# and the spool directories too.
set -uo pipefail

MARK="# Written by mpimap tests/slurm/setup.sh"
PATH=/usr/sbin:/sbin:$PATH

# stop PIDFILE NAME: TERM, wait up to 10 s, then KILL; only when the pid
# file names a live process called NAME (a stale file's pid may belong to
# another process by now).
stop() {
    local f=$1 name=$2 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-teardown: $name ($pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
        echo "slurm-teardown: stopped $name ($pid)"
    fi
    rm -f "$f"
}

if command -v scancel >/dev/null 2>&1 && timeout 5 sinfo -h >/dev/null 2>&1; then
    timeout 10 scancel --full --quiet --user root 2>/dev/null || true
fi
stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/munge/munged.pid munged

if [ "${MPIMAP_SLURM_PURGE:-0}" = 1 ] && grep -qxF "$MARK" /etc/slurm/slurm.conf 2>/dev/null; then
    rm -rf /etc/slurm/slurm.conf /etc/slurm/cgroup.conf /var/spool/slurmctld /var/spool/slurmd
    echo "slurm-teardown: removed the configuration and the spool directories"
fi
exit 0
