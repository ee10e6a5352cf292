#!/usr/bin/env bash
# tls.node: ioredis over TLS (node_tls.js), with the ioredis that tests/clients/node pins.
# Usage: run-tls-node.sh SECURE_SOURCE_DIR NODE_SOURCE_DIR WORK_DIR. Exit 77 (skipped) when Node
# or the npm packages cannot be had.
set -u
src=$1
node_src=$2
work=$3
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are not installed (scripts/install-deps.sh installs them)"
  exit 77
fi
mkdir -p "$work"
cp "$node_src/package.json" "$node_src/package-lock.json" "$src/node_tls.js" "$work/"
cd "$work" || exit 1
if ! timeout 240 npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then
  echo "SKIP: npm ci failed (is the npm registry reachable?): ioredis not installed"
  exit 77
fi
exec node --test --test-reporter=spec node_tls.js
