#!/usr/bin/env bash
# Builds the release packages from a clean Release build and writes their checksums:
#   dist/ttl-semlock_<version>_amd64.deb      the Debian package (systemd unit, config, user)
#   dist/ttl-semlock_<version>_x86_64.tar.gz  the same files as a tree (usr/, etc/, lib/)
#   dist/SHA256SUMS                           sha256sum of both; check with `sha256sum -c`
# The version is project(VERSION) in CMakeLists.txt; the commit is read from git (a tree with
# uncommitted changes is marked "-dirty" in --version: release from a clean checkout).
# Usage: scripts/release.sh [OUT_DIR]   (default dist/)   Env: BUILD_DIR (default build-package)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
build=${BUILD_DIR:-$root/build-package}
export CCACHE_BASEDIR=$root

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMLOCK_TESTS=OFF \
  -DSEMLOCK_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j"$(nproc)"
version=$("$build/server/ttl-semlock" --version)
echo "release: $version" >&2
(cd "$build" && cpack -G "DEB;TGZ" -B "$out/.cpack" >/dev/null)
rm -f "$out"/ttl-semlock_*.deb "$out"/ttl-semlock_*.tar.gz
mv "$out"/.cpack/ttl-semlock_*.deb "$out"/.cpack/ttl-semlock_*.tar.gz "$out"/
rm -rf "$out/.cpack"
(cd "$out" && sha256sum ttl-semlock_*.deb ttl-semlock_*.tar.gz >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
echo "release: $version" >"$out/VERSION"
ls -l "$out" >&2
