#!/usr/bin/env bash
# Start Open vSwitch (userspace datapath) and dockerd if they are not running. Idempotent.
set -euo pipefail

# A daemon killed a moment ago can still be a zombie (its threads exiting): that is not running.
alive() {
  local pid
  [[ -f $1 ]] && pid=$(cat "$1") && [[ -r /proc/$pid/stat ]] || return 1
  [[ $(cut -d')' -f2 "/proc/$pid/stat" | cut -d' ' -f2) != [ZX] ]]
}

# Each OVS daemon is started only if it is not running; a killed one leaves its pid file (and
# ovsdb-server its lock file) behind, removed first so that ovs-ctl does not take it for a live one.
OVS_CTL=/usr/share/openvswitch/scripts/ovs-ctl
if ! alive /var/run/openvswitch/ovsdb-server.pid; then
  rm -f /var/run/openvswitch/ovsdb-server.pid /etc/openvswitch/.conf.db.~lock~
  "$OVS_CTL" start --system-id=random --no-ovs-vswitchd >/dev/null 2>&1 ||
    "$OVS_CTL" start --system-id=random --no-ovs-vswitchd
fi
if ! alive /var/run/openvswitch/ovs-vswitchd.pid; then
  rm -f /var/run/openvswitch/ovs-vswitchd.pid
  "$OVS_CTL" start --system-id=random --no-ovsdb-server >/dev/null 2>&1 ||
    "$OVS_CTL" start --system-id=random --no-ovsdb-server
fi

if command -v dockerd >/dev/null; then
  if ! alive /var/run/docker.pid || ! docker info >/dev/null 2>&1; then
    if ! alive /var/run/docker.pid; then
      rm -f /var/run/docker.pid
      mkdir -p /var/log/prewire
      nohup dockerd --iptables=false --ip6tables=false --bridge=none >/var/log/prewire/dockerd.log 2>&1 &
    fi
    for _ in $(seq 1 150); do
      docker info >/dev/null 2>&1 && break
      sleep 0.2
    done
    docker info >/dev/null 2>&1 || { echo "services: dockerd did not start (see /var/log/prewire/dockerd.log)" >&2; exit 1; }
  fi
fi
