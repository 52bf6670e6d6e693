#!/usr/bin/env bash
# Start Open vSwitch (userspace datapath) and dockerd if they are not running. Idempotent.
set -euo pipefail

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! alive /var/run/openvswitch/ovs-vswitchd.pid || ! alive /var/run/openvswitch/ovsdb-server.pid; then
  # A killed OVS leaves pid files behind; ovs-ctl copes, but stale lock files are removed first.
  rm -f /var/run/openvswitch/*.pid /etc/openvswitch/.conf.db.~lock~ 2>/dev/null || true
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random --no-ovs-vswitchd >/dev/null 2>&1 ||
    /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random --no-ovs-vswitchd
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random --no-ovsdb-server >/dev/null 2>&1 ||
    /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random --no-ovsdb-server
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
