#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing: installs what is missing, then
#   1. builds with ASan+UBSan (gcc) and runs every test under the sanitizers,
#   2. builds the libFuzzer targets (clang) and runs each parser's fuzzer briefly (FUZZ_SECONDS, 30),
#   3. builds Release and runs every test; ctest's summary is the last thing printed.
# Build trees: build-asan/, build-fuzz/, build-release/ (ccache makes rebuilds cheap).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
export CCACHE_BASEDIR="$root"
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-30}

echo "== sanitizer build (ASan+UBSan) and tests"
cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSEMLOCK_SANITIZE=ON \
  -DSEMLOCK_BENCH=OFF >/dev/null
cmake --build "$root/build-asan" -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" -LE container

echo "== fuzzers (${fuzz_seconds}s each, clang libFuzzer + ASan/UBSan)"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DSEMLOCK_FUZZ=ON -DSEMLOCK_BENCH=OFF >/dev/null
cmake --build "$root/build-fuzz" -j "$jobs" --target fuzz_resp fuzz_json fuzz_http
"$root/tests/fuzz/run-fuzzers.sh" "$fuzz_seconds" "$root/build-fuzz"

echo "== release build and tests"
cmake -S "$root" -B "$root/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build-release" -j "$jobs"
ctest --test-dir "$root/build-release" --output-on-failure -j "$jobs"
