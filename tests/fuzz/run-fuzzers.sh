#!/usr/bin/env bash
# Runs each built libFuzzer target for SECONDS (default 60) on a copy of its seed corpus.
# Builds nothing: configure and build first, e.g.
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DSEMLOCK_FUZZ=ON
#   ninja -C build-fuzz fuzz_resp fuzz_json fuzz_http
# Usage: tests/fuzz/run-fuzzers.sh [SECONDS] [BUILD_DIR]   (BUILD_DIR defaults to build-fuzz)
# Exits non-zero when a target crashes, leaks or is missing; crash inputs are kept in the
# work directory, whose path is printed.
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
build="${2:-${root}/build-fuzz}"
work="$(mktemp -d "${TMPDIR:-/tmp}/semlock-fuzz.XXXXXX")"
echo "work dir: ${work}"

status=0
for name in resp json http; do
  bin="$(find "${build}" -type f -name "fuzz_${name}" -perm -u+x | head -n 1)"
  if [[ -z "${bin}" ]]; then
    echo "fuzz_${name}: not built in ${build}" >&2
    status=1
    continue
  fi
  mkdir -p "${work}/${name}/corpus" "${work}/${name}/artifacts"
  cp "${here}/corpus/${name}/"* "${work}/${name}/corpus/"
  echo "== fuzz_${name} for ${seconds}s"
  if "${bin}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="${work}/${name}/artifacts/" "${work}/${name}/corpus" \
      >"${work}/${name}/log.txt" 2>&1; then
    grep -E "DONE|^Done |^stat::(number_of_executed_units|peak_rss_mb)" "${work}/${name}/log.txt" || true
  else
    echo "fuzz_${name}: FAILED (see ${work}/${name}/log.txt)" >&2
    tail -n 30 "${work}/${name}/log.txt" >&2
    status=1
  fi
done
exit "${status}"
