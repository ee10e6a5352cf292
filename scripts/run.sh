#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server: installs what is missing, builds
# Release and starts ttl-semlock on its embedded defaults (lock port 8765, metrics 9765, 127.0.0.1).
# Extra arguments go to the server (e.g. scripts/run.sh --config config/presets/production.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --runtime-only
export CCACHE_BASEDIR="$root"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSEMLOCK_TESTS=OFF -DSEMLOCK_BENCH=OFF >/dev/null
cmake --build "$root/build" --target ttl-semlock
exec "$root/build/server/ttl-semlock" "$@"
