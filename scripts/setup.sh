#!/usr/bin/env bash
# Idempotent set-up for a fresh machine of this project's kind (run as root):
# apt packages, the virtualenv with prewire installed, and the services the lab needs (Open vSwitch, dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

APT_PACKAGES=(openvswitch-switch iputils-ping tcpdump busybox-static iproute2 docker.io podman
  containernetworking-plugins runc nftables)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The virtualenv: reinstalled when pyproject.toml changes.
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
stamp=.venv/.prewire-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: installing prewire into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" >"$stamp"
fi

# Services (root only).
if [[ $(id -u) -eq 0 ]]; then
  "$ROOT/scripts/services.sh"
fi
