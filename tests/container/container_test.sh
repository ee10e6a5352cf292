#!/usr/bin/env bash
# Builds the Dockerfile's image with podman and runs it for real: the image's size (fails above
# 30 MiB) and the absence of a shell, the lock and metrics ports published on 127.0.0.1 with a
# read-only root file system, a lock taken with redis-cli and over JSON lines and HTTP, /metrics read,
# the HEALTHCHECK run (healthy, then unhealthy while the server is stopped), the server process
# checked to run as the non-root user, a TTLSEMLOCK_* variable checked to reach the server, and
# SIGTERM checked to end it promptly with exit code 0.
#
# Machine notes (no Docker engine, no registry, no systemd, hybrid cgroups): the base image is made
# by make-base-image.sh (debootstrap) and reused; builds use --pull=never and the docker format
# (OCI drops HEALTHCHECK); runc is the runtime (crun refuses hybrid cgroups); default ulimits stay
# under the host's hard limits; all of that is in a CONTAINERS_CONF file written here, not in /etc.
# No systemd, so no healthcheck timers: the test runs `podman healthcheck run` itself.
#
# Usage: container_test.sh REPO_ROOT
# Exit: 0 pass, 1 fail, 77 skip (podman missing or unable to run containers at all).
# Env: SEMLOCK_IMAGE (default localhost/ttl-semlock:test), SEMLOCK_IMAGE_BUILD_ARGS (extra
#      `podman build` arguments, e.g. "--build-arg CMAKE_ARGS=...").
set -euo pipefail
root=$(cd "${1:?usage: container_test.sh REPO_ROOT}" && pwd)
image=${SEMLOCK_IMAGE:-localhost/ttl-semlock:test}
name=semlock-ct-$$
failures=0

log() { printf '[container] %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  failures=$((failures + 1))
}
expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then log "ok: $1"; else fail "$1: expected [$2], got [$3]"; fi
}
now_ms() { date +%s%3N; }

# --- can podman run here at all? --------------------------------------------------------------
if ! command -v podman >/dev/null; then
  log "SKIP: podman is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  log "SKIP: this test runs podman as root (runc, host cgroups); it runs as uid $(id -u)"
  exit 77
fi

work=$(mktemp -d /tmp/semlock-container.XXXXXX)
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman rm -f -t 0 "$name-nokey" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu)
nproc_limit=32768
[ "$hard_nproc" != unlimited ] && [ "$hard_nproc" -lt "$nproc_limit" ] && nproc_limit=$hard_nproc
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$nproc_limit:$nproc_limit"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$work/containers.conf
export BUILDAH_FORMAT=docker

if ! podman info >"$work/podman-info.txt" 2>&1; then
  log "SKIP: podman cannot run on this machine:"
  tail -n 20 "$work/podman-info.txt" >&2
  exit 77
fi

# --- image ------------------------------------------------------------------------------------
t0=$(now_ms)
"$root/tests/container/make-base-image.sh" debian:bookworm-slim
t1=$(now_ms)
log "base image ready in $(((t1 - t0) / 1000)) s"
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# shellcheck disable=SC2086 # SEMLOCK_IMAGE_BUILD_ARGS is a list of arguments
if ! podman build --pull=never --layers --build-arg SEMLOCK_COMMIT="$commit" \
  ${SEMLOCK_IMAGE_BUILD_ARGS:-} -t "$image" -f "$root/Dockerfile" \
  "$root" >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  log "FAIL: podman build"
  exit 1
fi
# Keep the layer cache bounded: name the build stage too (a cache hit, instant), so that its
# layers are not dangling, then drop this project's dangling layers left by older sources.
# shellcheck disable=SC2086
podman build --pull=never --layers --build-arg SEMLOCK_COMMIT="$commit" \
  ${SEMLOCK_IMAGE_BUILD_ARGS:-} --target build \
  -t localhost/ttl-semlock-build:cache -f "$root/Dockerfile" "$root" >>"$work/build.log" 2>&1 ||
  log "warning: could not tag the build stage (the next build may be slower)"
podman image prune -f --filter label=ttl-semlock.stage >/dev/null 2>&1 || true
t2=$(now_ms)
log "image $image built in $(((t2 - t1) / 1000)) s"

healthcheck=$(podman image inspect "$image" --format '{{range .Config.Healthcheck.Test}}{{.}} {{end}}')
case $healthcheck in
  *"--healthcheck"*) log "ok: the image keeps its HEALTHCHECK ($healthcheck)" ;;
  *) fail "the image has no HEALTHCHECK running ttl-semlock --healthcheck (OCI format?): [$healthcheck]" ;;
esac
expect_eq "image user" "10001:10001" "$(podman image inspect "$image" --format '{{.Config.User}}')"

# Size: the uncompressed image (podman's Size) stays at or under 30 MiB.
size=$(podman image inspect "$image" --format '{{.Size}}')
limit=$((30 * 1024 * 1024))
if [ "$size" -le "$limit" ]; then
  log "ok: image size $size bytes ($((size / 1024)) KiB) <= 30 MiB"
else
  fail "image size $size bytes is above 30 MiB ($limit bytes)"
fi
# Nothing but the server: no shell to exec (and so nothing for an intruder to run).
if podman run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
  fail "the image has a /bin/sh"
else
  log "ok: no /bin/sh in the image"
fi
version_out=$(podman run --rm "$image" --version)
expect_eq "--version in the image" "ttl-semlock $(sed -n 's/^project(ttl-semlock VERSION \([0-9.]*\).*/\1/p' \
  "$root/CMakeLists.txt") (commit $commit)" "$version_out"

# --- run --------------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
lock_port=$(free_port)
metrics_port=$(free_port)
while [ "$metrics_port" = "$lock_port" ]; do metrics_port=$(free_port); done

# --health-interval=disable: no systemd timer (none here); `podman healthcheck run` still works.
# podman 4.3 still logs "unable to get systemd connection to add healthchecks": harmless here.
podman run -d --init --read-only --name "$name" --health-interval=disable \
  -p "127.0.0.1:$lock_port:8765" -p "127.0.0.1:$metrics_port:9765" \
  -e TTLSEMLOCK_LIMITS_MAX_LOCKS=4321 -e TTLSEMLOCK_API_KEYS=ct-key "$image" >/dev/null
log "started $name: lock port 127.0.0.1:$lock_port, metrics 127.0.0.1:$metrics_port"

# Waiting for a process to come up, not testing time: bounded poll of /ready.
ready=0
for _ in $(seq 1 150); do
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$metrics_port/ready" 2>/dev/null; then
    ready=1
    break
  fi
  if [ "$(podman inspect "$name" --format '{{.State.Running}}')" != true ]; then break; fi
  sleep 0.2
done
if [ $ready != 1 ]; then
  podman logs "$name" >&2 || true
  log "FAIL: the server in the container never became ready"
  exit 1
fi
log "ok: /ready answers 200 through the published port"

# Protected mode (SPEC §8): published-port traffic is not loopback, so the image is run with a key
# and every client authenticates; a run without one answers DENIED (below).
rcli() { redis-cli -h 127.0.0.1 -p "$lock_port" -a ct-key --no-auth-warning "$@"; }
# RESP with redis-cli: grant, then a second owner is refused (nil prints as an empty line).
reply=$(rcli SEMLOCK.ACQUIRE ct:job 30000 OWNER ct-owner)
expect_eq "redis-cli acquire owner" "ct-owner" "$(sed -n 1p <<<"$reply")"
fence=$(sed -n 2p <<<"$reply")
[[ $fence =~ ^[0-9]+$ ]] && log "ok: fence $fence" || fail "redis-cli acquire fence: [$reply]"
expect_eq "redis-cli acquire of a held key" "" \
  "$(rcli SEMLOCK.ACQUIRE ct:job 30000 OWNER other)"
expect_eq "redis-cli EXISTS" "1" "$(rcli SEMLOCK.EXISTS ct:job)"

# JSON lines over TCP, TtlSemLock's own protocol.
json_reply=$(
  exec 3<>"/dev/tcp/127.0.0.1/$lock_port"
  printf '%s\n' '{"action":"acquire","key":"ct:json","ttl":30,"owner":"json-owner","id":7,"api_key":"ct-key"}' >&3
  timeout 5 head -n 1 <&3
)
case $json_reply in
  *'"success":true'*'"owner":"json-owner"'*) log "ok: JSON acquire: $json_reply" ;;
  *) fail "JSON acquire: [$json_reply]" ;;
esac
# HTTP POST on the same port.
http_reply=$(curl -sS --max-time 5 -X POST "http://127.0.0.1:$lock_port/" -H 'Authorization: Bearer ct-key' \
  -d '{"action":"acquire","key":"ct:http","ttl":30,"owner":"http-owner"}')
case $http_reply in
  *'"success":true'*) log "ok: HTTP acquire: $http_reply" ;;
  *) fail "HTTP acquire: [$http_reply]" ;;
esac

# /metrics through the published port: the three locks, the requests by protocol, the env limit.
metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$metrics_port/metrics")
metric() { awk -v m="$1" '$1 == m {print $2}' <<<"$metrics"; }
expect_eq "ttl_semlock_active_locks" "3" "$(metric ttl_semlock_active_locks)"
expect_eq "TTLSEMLOCK_LIMITS_MAX_LOCKS reaches the server" "4321" "$(metric ttl_semlock_locks_limit)"
expect_eq "RESP acquires granted" "1" \
  "$(metric 'ttl_semlock_requests_total{command="acquire",protocol="resp",result="ok"}')"
expect_eq "JSON acquires granted" "1" \
  "$(metric 'ttl_semlock_requests_total{command="acquire",protocol="json",result="ok"}')"
expect_eq "build_info names the commit" "1" \
  "$(metric "ttl_semlock_build_info{commit=\"$commit\",version=\"$(cut -d' ' -f2 <<<"$version_out")\"}")"

# The same image without a key: it starts, and a client through the published port is refused.
nokey_port=$(free_port)
podman run -d --init --name "$name-nokey" --health-interval=disable \
  -p "127.0.0.1:$nokey_port:8765" "$image" >/dev/null
denied=""
for _ in $(seq 1 150); do
  denied=$(redis-cli -h 127.0.0.1 -p "$nokey_port" PING 2>/dev/null || true)
  [ -n "$denied" ] && break
  sleep 0.2
done
case $denied in
  "DENIED TtlSemLock is running in protected mode"*) log "ok: a keyless run answers DENIED" ;;
  *) fail "a keyless run through the published port: expected DENIED, got [$denied]" ;;
esac
podman rm -f "$name-nokey" >/dev/null 2>&1 || true

# HEALTHCHECK: healthy while serving ...
if podman healthcheck run "$name" >"$work/hc.txt" 2>&1; then
  log "ok: podman healthcheck run: $(tr '\n' ' ' <"$work/hc.txt")"
else
  fail "podman healthcheck run while serving: $(cat "$work/hc.txt")"
fi
expect_eq "health status" "healthy" "$(podman inspect "$name" --format '{{.State.Health.Status}}')"

# ... and not while the server process is stopped (so the check can fail at all).
# No shell in the image: signal the server's host pid from here (the test runs as root).
server_pid=$(podman top "$name" hpid args | awk '$2 == "/usr/local/bin/ttl-semlock" {print $1}')
kill -STOP "$server_pid"
if podman healthcheck run "$name" >"$work/hc.txt" 2>&1; then
  fail "podman healthcheck run passed while the server was stopped"
else
  log "ok: healthcheck fails while the server is stopped: $(tr '\n' ' ' <"$work/hc.txt")"
fi
kill -CONT "$server_pid"

# Non-root: every process in the container, the server included, runs as uid 10001.
users=$(podman top "$name" huser | tail -n +2 | sort -u | tr '\n' ' ')
expect_eq "host uids of the container's processes" "10001 " "$users"
expect_eq "uid of the server" "10001" "$(awk '/^Uid:/ {print $2}' "/proc/$server_pid/status")"
expect_eq "nofile limit of the server (from CONTAINERS_CONF)" "$hard_nofile" \
  "$(awk '/^Max open files/ {print $4}' "/proc/$server_pid/limits")"
# Read-only root file system: only the /app/data volume is written (the journal is there).
podman exec "$name" /usr/local/bin/ttl-semlock --version >/dev/null ||
  fail "podman exec of the binary"
expect_eq "root file system read-only" "true" "$(podman inspect "$name" --format '{{.HostConfig.ReadonlyRootfs}}')"

# SIGTERM: through --init to the server, a clean exit (code 0) well within the stop timeout.
t3=$(now_ms)
podman kill --signal TERM "$name" >/dev/null
exit_code=$(timeout 20 podman wait "$name" || echo "no exit within 20 s")
t4=$(now_ms)
expect_eq "exit code after SIGTERM" "0" "$exit_code"
if [ $((t4 - t3)) -lt 5000 ]; then
  log "ok: stopped $((t4 - t3)) ms after SIGTERM"
else
  fail "stopping took $((t4 - t3)) ms after SIGTERM"
fi
podman logs "$name" >"$work/server.log" 2>&1
grep -q 'SIGTERM received' "$work/server.log" && log "ok: the server logged SIGTERM" ||
  fail "no 'SIGTERM received' in the server log: $(tail -n 5 "$work/server.log")"

if [ $failures -ne 0 ]; then
  log "server log:"
  cat "$work/server.log" >&2
  log "$failures check(s) failed"
  exit 1
fi
log "all checks passed: image $((size / 1024)) KiB (base image $(((t1 - t0) / 1000)) s, build $(((t2 - t1) / 1000)) s, run $(((t4 - t2) / 1000)) s)"
