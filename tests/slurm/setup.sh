#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tests/slurm/setup.sh - a real single-node Slurm cluster on this machine,
# for the integration tests of the srun and slurm launchers (suite "slurm").
#
# Installs Slurm and MUNGE when missing (apt-get; needs root), writes
# /etc/slurm/slurm.conf and cgroup.conf (marked as ours; a foreign
# slurm.conf is never overwritten), then starts munged (as user munge),
# slurmctld and slurmd by hand (no init system here) and waits until the
# node is idle. Idempotent: on a cluster that already answers it returns at
# once. Up from nothing in about 5 s once the packages are there.
#
#   tests/slurm/setup.sh       start (or check) the cluster
#   tests/slurm/teardown.sh    stop it
#
# Environment:
#   MPIMAP_SLURM_NO_APT=1      never install packages
#   MPIMAP_SLURM_PROCTRACK=X   proctrack/cgroup (default) or proctrack/linuxproc
#
# The settings that matter (measured here, see DESIGN.md):
#   SlurmctldHost=<host>(127.0.0.1), NodeName=<host> NodeAddr=127.0.0.1
#   CPUs=8 with SlurmdParameters=config_overrides (8 slots on a small
#   machine), TaskPlugin=task/none, ProctrackType=proctrack/cgroup (linuxproc
#   leaks detached processes; used only when cgroups do not work here, with a
#   note), MpiDefault=pmix (Open MPI runs under srun --mpi=pmix),
#   SchedulerParameters=batch_sched_delay=0, MailProg=/bin/true, no
#   accounting, and OverTimeLimit=0 KillWait=2 so a job at its walltime dies
#   at once.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARK="# Written by mpimap tests/slurm/setup.sh"
LOG_DIR=/var/log/slurm
HOST=$(hostname -s)
t0=$(date +%s.%N)

say() { echo "slurm-setup: $*"; }
die() {
    echo "slurm-setup: $*" >&2
    exit 1
}
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# The node's state as sinfo reports it ("idle", "mix", ...), or nothing
# when no controller answers.
node_state() {
    timeout 5 sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -n 1 | tr -d ' *' || true
}

case "$(node_state)" in
idle | mix | alloc | comp)
    say "a Slurm cluster is already up on $HOST ($(node_state)); nothing to do"
    exit 0
    ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (starts munged, slurmctld and slurmd)"

# ---- packages ---------------------------------------------------------------
need=()
for p in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${p%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${p%%:*}" ] || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    [ "${MPIMAP_SLURM_NO_APT:-0}" != 1 ] || die "missing packages: ${need[*]}"
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
fi
PATH=/usr/sbin:/sbin:$PATH

# ---- MUNGE ------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --force --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
    fi
fi
chown munge:munge /etc/munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    # A stale socket or pid file from a killed munged stops a new one.
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    runuser -u munge -- munged
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n </dev/null | unmunge >/dev/null || die "munged does not answer"
fi

# ---- process tracking -----------------------------------------------------------
# proctrack/cgroup needs a writable cgroup hierarchy: the v1 freezer, or a
# v2 hierarchy Slurm 22.05 can use without systemd. Try it; else linuxproc.
proctrack=${MPIMAP_SLURM_PROCTRACK:-}
cgroup_plugin=autodetect
if [ -z "$proctrack" ]; then
    proctrack=proctrack/cgroup
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        cgroup_plugin=cgroup/v2
    elif [ -d /sys/fs/cgroup/freezer ] && mkdir /sys/fs/cgroup/freezer/mpimap-probe.$$ 2>/dev/null; then
        rmdir /sys/fs/cgroup/freezer/mpimap-probe.$$
        cgroup_plugin=cgroup/v1
    else
        proctrack=proctrack/linuxproc
        say "NOTE: no usable cgroup freezer here: proctrack/linuxproc (detached processes of a cancelled job may survive)"
    fi
fi

# ---- configuration -------------------------------------------------------------
if [ -f "$CONF" ] && ! grep -qxF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching it"
fi
mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
write_conf() {
    cat >"$CONF.tmp" <<EOF
$MARK
# A single-node test cluster: $HOST, 8 CPUs whatever the hardware has.
ClusterName=mpimap
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmdParameters=config_overrides
ProctrackType=$1
TaskPlugin=task/none
MpiDefault=pmix
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
InactiveLimit=0
KillWait=2
OverTimeLimit=0
MinJobAge=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
    cat >"$CONF_DIR/cgroup.conf.tmp" <<EOF
$MARK
CgroupPlugin=$cgroup_plugin
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
    mv "$CONF_DIR/cgroup.conf.tmp" "$CONF_DIR/cgroup.conf"
}

# pid_alive PIDFILE NAME: the pid file names a live process called NAME (a
# stale file's pid may belong to another process by now).
pid_alive() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# stop_daemons: the slurmd and slurmctld this script started (by pid file).
stop_daemons() {
    local d
    for d in slurmd slurmctld; do
        if pid_alive "/run/$d.pid" $d; then
            kill "$(cat "/run/$d.pid")" 2>/dev/null || true
            for _ in $(seq 50); do pid_alive "/run/$d.pid" $d || break; sleep 0.1; done
        fi
        rm -f "/run/$d.pid"
    done
}

# start_daemons: 0 when the node reaches idle within 30 s.
start_daemons() {
    pid_alive /run/slurmctld.pid slurmctld || slurmctld -i || return 1
    pid_alive /run/slurmd.pid slurmd || slurmd || return 1
    local s
    for _ in $(seq 300); do
        s=$(node_state)
        case "$s" in
        idle | mix | alloc) return 0 ;;
        down* | drain* | drng* | fail*)
            # A node left down by an earlier run comes back by hand.
            scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
            ;;
        esac
        pid_alive /run/slurmd.pid slurmd || return 1
        sleep 0.1
    done
    return 1
}

# A trivial job must run to the end (proves proctrack and the credentials).
probe_job() {
    timeout 30 srun -N 1 -n 1 -t 1 /bin/true >/dev/null 2>&1
}

write_conf "$proctrack"
stop_daemons
if ! start_daemons || ! probe_job; then
    if [ "$proctrack" = proctrack/cgroup ] && [ -z "${MPIMAP_SLURM_PROCTRACK:-}" ]; then
        say "NOTE: proctrack/cgroup does not work here (see $LOG_DIR/slurmd.log); falling back to proctrack/linuxproc (detached processes of a cancelled job may survive)"
        tail -n 5 "$LOG_DIR/slurmd.log" 2>/dev/null | sed 's/^/    /' || true
        stop_daemons
        write_conf proctrack/linuxproc
        proctrack=proctrack/linuxproc
        start_daemons && probe_job || {
            tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
            die "Slurm did not come up; logs in $LOG_DIR"
        }
    else
        tail -n 20 "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" >&2 || true
        die "Slurm did not come up; logs in $LOG_DIR"
    fi
fi
say "Slurm $(sinfo --version | awk '{print $2}') up on $HOST: $(sinfo -h -o '%P %D %c %t') ($proctrack), in $(elapsed) s"
