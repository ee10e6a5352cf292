#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing TtlSemLock need.
# Idempotent: when every package is already installed it only runs dpkg-query and exits.
# Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  libuv1-dev rapidjson-dev libcli11-dev prometheus-cpp-dev libcivetweb-dev
  libabsl-dev libspdlog-dev libfmt-dev liblua5.1-0-dev
  # server/tls.cc: the TLS lock port (OpenSSL 3)
  libssl-dev
  # replication/: the Raft sidecar ttl-semlock-raft (Go; etcd 3.4's raft/wal/snap/rafthttp sources)
  golang-go golang-etcd-server-dev
)
test_pkgs=(
  libboost-test-dev libhiredis-dev libbenchmark-dev
  clang libclang-rt-14-dev
  redis-tools redis-server gnuplot-nox python3 python3-redis
  # tests/container (the image, built and run with podman) and tests/monitoring (promtool, Prometheus)
  podman runc catatonit netavark iptables debootstrap prometheus
  # bench/run's replicated section: etcd 3.4 side by side with the cluster (etcdctl: etcd-client)
  etcd-server etcd-client
)
# tests/clients/node: Debian's node and npm, unless a node with npm is installed already.
command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)
pkgs=("${build_pkgs[@]}")
if [ "${1:-}" != "--runtime-only" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
