#!/usr/bin/env bash
# Runs the Node client test: installs the pinned ioredis and redlock (npm ci, into the build
# tree, not the source tree) and runs test.js with node's test runner.
# Usage: run-node-test.sh SOURCE_DIR WORK_DIR. Exit 77 (CTest: skipped) when Node or the npm
# packages cannot be had, with the reason on stdout.
set -u
src=$1
work=$2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are not installed (scripts/install-deps.sh installs them)"
  exit 77
fi
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/test.js" "$(dirname "$0")/semlock_server.js" "$work/"
cd "$work" || exit 1
if ! timeout 240 npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then
  echo "SKIP: npm ci failed (is the npm registry reachable?): ioredis and redlock not installed"
  exit 77
fi
exec node --test --test-reporter=spec test.js
