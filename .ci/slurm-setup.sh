#!/usr/bin/env bash
# A single-node SLURM on 127.0.0.1 for the cluster test (tests/test_slurm.py), from Debian's
# slurm-wlm and munge. Needs root (or passwordless sudo) and apt-get; idempotent: a running
# cluster with an idle node is left as it is.
#
#   .ci/slurm-setup.sh          install (when missing), configure, start; wait for the node
#   .ci/slurm-setup.sh stop     stop slurmd, slurmctld and munged
#
# The node has the machine's CPU count and about 90% of its memory, and one GPU declared as
# a generic resource (no device file) so that GPU jobs (--gpus=1) are scheduled as on a real
# cluster. No systemd and no cgroups: memory is scheduled, not enforced. No accounting
# database: query job states with squeue (profiles/slurm: slurm-status-command: squeue).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then
        exec sudo -n "$0" "$@"
    fi
    echo "slurm-setup: needs root or passwordless sudo" >&2
    exit 3
fi

CONF_DIR=/etc/slurm
SPOOL=/var/spool
LOG_DIR=/var/log/slurm
HOST=$(hostname -s)

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        if pid_alive "$pidfile"; then
            kill "$(cat "$pidfile")"
        fi
    done
}

node_idle() { sinfo -h -N -o '%T' 2>/dev/null | grep -qxE '(idle|mixed|allocated)'; }

if [ "${1:-start}" = stop ]; then
    stop
    exit 0
fi

if pid_alive /run/munge/munged.pid && pid_alive /run/slurmctld.pid && pid_alive /run/slurmd.pid && node_idle; then
    echo "slurm-setup: already running"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sbatch >/dev/null; then
    command -v apt-get >/dev/null || { echo "slurm-setup: no apt-get" >&2; exit 3; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: a key and its run folder
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge

# slurm.conf for this machine
CPUS=$(nproc)
REAL_MB=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
NODE_MB=$((REAL_MB * 9 / 10))
mkdir -p "$CONF_DIR" "$SPOOL/slurmctld" "$SPOOL/slurmd" "$LOG_DIR"
cat >"$CONF_DIR/slurm.conf.new" <<EOF
# Written by .ci/slurm-setup.sh: a single-node test cluster.
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=$SPOOL/slurmctld
SlurmdSpoolDir=$SPOOL/slurmd
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$NODE_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
echo "NodeName=$HOST Name=gpu File=/dev/null" >"$CONF_DIR/gres.conf.new"
changed=0
for name in slurm.conf gres.conf; do
    if ! cmp -s "$CONF_DIR/$name.new" "$CONF_DIR/$name"; then
        mv "$CONF_DIR/$name.new" "$CONF_DIR/$name"
        changed=1
    else
        rm "$CONF_DIR/$name.new"
    fi
done
if [ "$changed" = 1 ]; then
    # a new configuration: stop the daemons and forget the old node state (drain reasons)
    stop
    sleep 1
    rm -rf "${SPOOL:?}/slurmctld"/*
fi

pid_alive /run/munge/munged.pid || runuser -u munge -- munged --pid-file=/run/munge/munged.pid
pid_alive /run/slurmctld.pid || slurmctld
pid_alive /run/slurmd.pid || slurmd

for _ in $(seq 60); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qE 'drain'; then
        scontrol update NodeName="$HOST" State=RESUME || true
    fi
    if node_idle; then
        echo "slurm-setup: node $HOST up (CPUs=$CPUS RealMemory=$NODE_MB, gpu:1)"
        exit 0
    fi
    sleep 1
done
echo "slurm-setup: node did not come up; see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log" >&2
sinfo -N -l >&2 || true
exit 1
