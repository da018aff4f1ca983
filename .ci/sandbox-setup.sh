#!/usr/bin/env bash
# Idempotent sandbox setup for CI on a fresh Debian 12 machine (run as root):
# installs docker.io, bubblewrap and debootstrap, starts dockerd when no engine
# answers, and builds the CPU course image (skipped when its inputs are unchanged).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
for pair in dockerd:docker.io docker:docker.io bwrap:bubblewrap debootstrap:debootstrap prlimit:util-linux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /var/log/dockerd.log)"
  # No iptables here (no NAT needed: sandboxes run with --network none).
  nohup dockerd --iptables=false --ip6tables=false >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -n 30 /var/log/dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi

time bash sandbox/build_cpu_image.sh "${GRADER_SANDBOX_IMAGE:-grader-sandbox:cpu}"
