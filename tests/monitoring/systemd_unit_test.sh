#!/bin/sh
# `systemd-analyze verify` of deploy/systemd/ttl-semlock.service with ExecStart pointing at the
# built binary. verify exits 0 even on unknown or ill-typed settings (it only prints them), so
# any output at all fails the test.
# Usage: systemd_unit_test.sh UNIT BINARY.  Exit 0 pass, 1 fail, 77 skip (no systemd-analyze).
set -eu
unit=$1
binary=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s#/usr/local/bin/ttl-semlock#$binary#g" "$unit" >"$work/ttl-semlock.service"
if ! grep -q "^ExecStart=$binary " "$work/ttl-semlock.service"; then
  echo "FAIL: no ExecStart=/usr/local/bin/ttl-semlock line in $unit"
  exit 1
fi
# The hardening the unit promises.
for setting in NoNewPrivileges=yes PrivateTmp=yes ProtectSystem=strict ReadOnlyPaths= \
  DynamicUser=yes CapabilityBoundingSet=; do
  grep -q "^$setting" "$unit" || {
    echo "FAIL: $unit lacks $setting"
    exit 1
  }
done
out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$work/ttl-semlock.service" 2>&1) || {
  echo "FAIL: systemd-analyze verify failed: $out"
  exit 1
}
if [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify reported: $out"
  exit 1
fi
echo "PASS: systemd-analyze verify is silent"
