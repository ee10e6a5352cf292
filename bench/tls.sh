#!/usr/bin/env bash
# TLS on vs off, side by side (issue 15): the same pipelined lock workload (SEMLOCK.ACQUIRE and
# SEMLOCK.RELEASE-free churn: acquires of random keys with a 1 s TTL, plus PING) through
# redis-benchmark against
#   A  a server without TLS, plain port                  (the baseline)
#   B  a server with the TLS port open, its plain port   (what TLS being configured costs plain
#                                                         clients: should be ~1.0x)
#   C  the same server's TLS port                         (what encryption costs)
# A fresh server per row, pinned to CPU 1 with clients on CPU 0 (as bench/run), rows alternated
# over --reps repetitions, medians printed with the ratios to A.
# Usage: bench/tls.sh [--bin PATH] [--reps N] [--requests N]   (defaults: build-release, 3, 300000)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build-release/server/ttl-semlock
reps=3
requests=300000
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    *) echo "usage: $0 [--bin PATH] [--reps N] [--requests N]" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "no server binary at $bin (build Release first)" >&2; exit 1; }
work=$(mktemp -d /tmp/semlock-tls-bench.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pin_server=""
pin_client=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server="taskset -c 1"
  pin_client="taskset -c 0"
fi

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() { # start WITH_TLS
  port=$(free_port)
  tls_port=$(free_port)
  local extra=()
  if [ "$1" = 1 ]; then
    extra=(--tls-port "$tls_port" --tls-cert-file "$work/cert.pem" --tls-key-file "$work/key.pem")
  fi
  TTLSEMLOCK_TLS_ENABLED=$([ "$1" = 1 ] && echo true || echo false) \
    $pin_server "$bin" --host 127.0.0.1 --port "$port" --no-metrics --max-locks 0 \
    --max-memory-mb 0 --log-level warn "${extra[@]}" 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 1 100); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server did not start: $(cat "$work/server.log")" >&2
  exit 1
}
stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}
# Requests per second of the lock workload against PORT (TLS when $2 = tls).
measure() {
  local tls=()
  [ "${2:-}" = tls ] && tls=(--tls --cacert "$work/cert.pem")
  $pin_client redis-benchmark -h 127.0.0.1 -p "$1" "${tls[@]}" -c 50 -P 16 -n "$requests" \
    -r 1000000 -q SEMLOCK.ACQUIRE "k:__rand_int__" 1000 2>/dev/null |
    awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
}

declare -a a b c
for rep in $(seq 1 "$reps"); do
  start 0
  a+=("$(measure "$port")")
  stop
  start 1
  if [ $((rep % 2)) = 1 ]; then
    b+=("$(measure "$port")")
    c+=("$(measure "$tls_port" tls)")
  else
    c+=("$(measure "$tls_port" tls)")
    b+=("$(measure "$port")")
  fi
  stop
  echo "rep $rep: plain ${a[-1]}  plain(TLS on) ${b[-1]}  TLS ${c[-1]}" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ma=$(median "${a[@]}")
mb=$(median "${b[@]}")
mc=$(median "${c[@]}")
printf '| row | requests/s (median of %d) | vs plain |\n|---|---|---|\n' "$reps"
printf '| plain port, TLS off | %.0f | 1.00x |\n' "$ma"
printf '| plain port, TLS port open | %.0f | %.2fx |\n' "$mb" "$(echo "$mb / $ma" | bc -l)"
printf '| TLS port | %.0f | %.2fx |\n' "$mc" "$(echo "$mc / $ma" | bc -l)"
