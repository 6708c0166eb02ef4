#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the `slurm` tests and for trying hydra/launcher=slurm_cpu.
#   tools/slurm_local.sh start    install slurm-wlm + munge when missing (apt-get, as root), write a one-node
#                                 slurm.conf for `hostname -s`, start munged, slurmctld and slurmd (under nice),
#                                 wait until the node is idle
#   tools/slurm_local.sh stop     cancel every job, wait for squeue to empty, stop the daemons by PID
#   tools/slurm_local.sh status   the daemons' PIDs and the node's state
# Needs root (the daemons run as root; no accounting, no cgroups: proctrack/linuxproc, task/none).
# The node offers a GPU GRES backed by /dev/null so that the GPU launcher config (hydra/launcher=slurm) can be
# scheduled here too; a job gets no real GPU from it. Files: /etc/slurm, /var/lib/archbench-slurm.
set -euo pipefail

STATE=/var/lib/archbench-slurm
CONF=/etc/slurm
HOST=$(hostname -s)

die() { echo "slurm_local: $*" >&2; exit 1; }

install_missing() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
     && command -v sbatch >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get to install them"
  echo "installing slurm-wlm and munge (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  mkdir -p "$CONF" "$STATE/state" "$STATE/spool" "$STATE/log"
  cat > "$CONF/slurm.conf" <<CONFEOF
# written by archbench tools/slurm_local.sh (one node: $HOST)
ClusterName=archbench
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job may start again once its credential expired: 10 s instead of 120
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# look at pending jobs every 5 s (default 30–60 s): a requeued job starts again soon after it stopped
SchedulerParameters=bf_interval=5,sched_interval=5
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=30
MinJobAge=300
GresTypes=gpu
NodeName=$HOST CPUs=$cpus RealMemory=$mem Gres=gpu:1 NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONFEOF
  cat > "$CONF/gres.conf" <<CONFEOF
# written by archbench tools/slurm_local.sh: a GPU slot for scheduling only (no device behind it)
NodeName=$HOST Name=gpu File=/dev/null
CONFEOF
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

MUNGE_PID=/run/munge/munged.pid

start() {
  [ "$(id -u)" = 0 ] || die "start needs root (it installs packages and runs the SLURM daemons as root)"
  install_missing
  write_conf
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  alive "$MUNGE_PID" || runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
  alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld -c
  alive "$STATE/slurmd.pid" || nice -n 10 /usr/sbin/slurmd
  local state=""
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && { echo "slurm_local: node $HOST idle ($(nproc) CPUs)"; return; }
    sleep 0.5
  done
  tail -n 5 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
  die "node $HOST is '${state:-unknown}', not idle, 30 s after start (logs above, in $STATE/log)"
}

stop_pid() {  # SIGTERM, then SIGKILL after 10 s
  local file=$1
  alive "$file" || return 0
  local pid; pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  if alive "$STATE/slurmctld.pid"; then
    scancel --full --quiet --user=root 2>/dev/null || true
    scancel --full --quiet $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
    for _ in $(seq 120); do  # a job step outlives a killed slurmd: wait for squeue to empty first
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  stop_pid "$STATE/slurmd.pid"
  stop_pid "$STATE/slurmctld.pid"
  stop_pid "$MUNGE_PID"
  echo "slurm_local: stopped"
}

status() {
  local name file
  for name in munged slurmctld slurmd; do
    case $name in munged) file=$MUNGE_PID ;; *) file=$STATE/$name.pid ;; esac
    if alive "$file"; then echo "$name: running (pid $(cat "$file"))"; else echo "$name: stopped"; fi
  done
  alive "$STATE/slurmctld.pid" && sinfo -h -o "node %n: %T, %c CPUs, %G" || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: tools/slurm_local.sh start|stop|status" >&2; exit 2 ;;
esac
