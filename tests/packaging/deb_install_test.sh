#!/usr/bin/env bash
# package.deb_install: builds the .deb from this build directory with CPack, installs it with apt
# on a clean Debian 12 root (the base image tests/container/make-base-image.sh makes with
# debootstrap, run with podman; apt resolves the package's Depends from the mirror), then checks
# what the package promises: the ttl-semlock system user and its 0750 data directory, the
# conffiles, the unit (Type=notify, MemoryMax=), the binary's --version; starts the server the
# way the unit does (as ttl-semlock with /etc/ttl-semlock/config.json: no systemd in a
# container), waits with --healthcheck, takes a lock over RESP and JSON lines, restarts it and
# finds the lock again (the journal in /var/lib/ttl-semlock), then removes and purges the package.
# Usage: deb_install_test.sh REPO_ROOT BUILD_DIR.  Exit 0 pass, 1 fail, 77 skip (no podman/root).
set -euo pipefail
root=$(cd "${1:?usage: deb_install_test.sh REPO_ROOT BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: deb_install_test.sh REPO_ROOT BUILD_DIR}" && pwd)
log() { printf '[deb] %s\n' "$*" >&2; }

if ! command -v podman >/dev/null; then
  log "SKIP: podman is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  log "SKIP: this test runs podman as root; it runs as uid $(id -u)"
  exit 77
fi
work=$(mktemp -d /tmp/semlock-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The container test's machine settings (runc, cgroupfs, no systemd): see container_test.sh.
hard_nofile=$(ulimit -Hn)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu)
nproc_limit=32768
[ "$hard_nproc" != unlimited ] && [ "$hard_nproc" -lt "$nproc_limit" ] && nproc_limit=$hard_nproc
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$nproc_limit:$nproc_limit"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF=$work/containers.conf
podman info >/dev/null 2>&1 || {
  log "SKIP: podman cannot run containers here"
  exit 77
}

t0=$(date +%s)
(cd "$build" && cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkg" >"$work/cpack.log" 2>&1) || {
  cat "$work/cpack.log" >&2
  log "FAIL: cpack"
  exit 1
}
deb=$(ls "$work"/pkg/ttl-semlock_*.deb)
log "built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $(($(date +%s) - t0)) s"
"$root/tests/container/make-base-image.sh" debian:bookworm-slim

cat >"$work/inside.sh" <<'INSIDE'
set -euo pipefail
fail() { echo "FAIL: $*"; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq -o Acquire::Languages=none
apt-get install -y -qq --no-install-recommends /pkg/ttl-semlock_*.deb >/tmp/apt.log 2>&1 ||
  { cat /tmp/apt.log; fail "apt-get install of the .deb"; }
echo "ok: installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' ttl-semlock)"
getent passwd ttl-semlock | grep -q ':/var/lib/ttl-semlock:/usr/sbin/nologin$' ||
  fail "system user: $(getent passwd ttl-semlock)"
[ "$(stat -c '%U:%G %a' /var/lib/ttl-semlock)" = "ttl-semlock:ttl-semlock 750" ] ||
  fail "data dir: $(stat -c '%U:%G %a' /var/lib/ttl-semlock)"
conffiles=$(dpkg-query -W -f='${Conffiles}' ttl-semlock)
for f in /etc/ttl-semlock/config.json /etc/logrotate.d/ttl-semlock; do
  grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
unit=/lib/systemd/system/ttl-semlock.service
for line in Type=notify WatchdogSec=30s MemoryMax=768M User=ttl-semlock \
  "ExecStart=/usr/bin/ttl-semlock --config /etc/ttl-semlock/config.json"; do
  grep -qx "$line" "$unit" || fail "$unit lacks $line"
done
/usr/bin/ttl-semlock --version | grep -qE '^ttl-semlock [0-9]+\.[0-9]+\.[0-9]+ \(commit ' ||
  fail "--version: $(/usr/bin/ttl-semlock --version)"
/usr/bin/ttl-semlock --check-config --config /etc/ttl-semlock/config.json >/dev/null

cfg=/etc/ttl-semlock/config.json
start() {
  setpriv --reuid ttl-semlock --regid ttl-semlock --init-groups \
    /usr/bin/ttl-semlock --config $cfg >>/tmp/server.log 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    /usr/bin/ttl-semlock --healthcheck --config $cfg >/dev/null && return 0
    sleep 0.1
  done
  cat /tmp/server.log
  fail "the packaged server never became healthy"
}
stop() {
  kill -TERM "$pid"
  wait "$pid" || fail "exit code $? after SIGTERM"
}
ask() { # ask LINE: one request line on a fresh connection, the first reply line
  exec 3<>/dev/tcp/127.0.0.1/8765
  printf '%s\r\n' "$1" >&3
  IFS= read -r -t 5 reply <&3 || true
  exec 3<&-
  printf '%s\n' "${reply%$'\r'}"
}
start
echo "ok: $(/usr/bin/ttl-semlock --healthcheck --config $cfg)"
[ "$(stat -c %U "/proc/$pid")" = ttl-semlock ] || fail "server user: $(stat -c %U "/proc/$pid")"
[ "$(ask PING)" = "+PONG" ] || fail "PING"
[ "$(ask 'SEMLOCK.ACQUIRE pkg:job 600000 OWNER deb')" = "*2" ] || fail "RESP acquire"
json=$(ask '{"action":"acquire","key":"pkg:json","ttl":600,"owner":"deb-json"}')
grep -q '"success":true' <<<"$json" || fail "JSON acquire: $json"
echo "ok: RESP and JSON acquires granted"
stop
ls /var/lib/ttl-semlock | grep -q . || fail "nothing written to /var/lib/ttl-semlock"
[ -z "$(find /var/lib/ttl-semlock -not -user ttl-semlock)" ] || fail "files not owned by ttl-semlock"
start
[ "$(ask 'SEMLOCK.EXISTS pkg:job')" = ":1" ] || fail "the lock did not survive a restart"
echo "ok: the lock survived a restart (journal in /var/lib/ttl-semlock)"
stop

apt-get remove -y -qq ttl-semlock >/dev/null
[ ! -e /usr/bin/ttl-semlock ] || fail "binary left after remove"
[ -e /etc/ttl-semlock/config.json ] || fail "conffile removed by remove (only purge may)"
dpkg --purge ttl-semlock >/dev/null
[ ! -e /etc/ttl-semlock/config.json ] || fail "conffile left after purge"
echo "ok: removed and purged"
echo "PASS"
INSIDE

t1=$(date +%s)
if podman run --rm --pull=never -v "$work/pkg:/pkg:ro" -v "$work/inside.sh:/inside.sh:ro" \
  debian:bookworm-slim bash /inside.sh >"$work/inside.log" 2>&1; then
  cat "$work/inside.log" >&2
  log "pass (install and checks in $(($(date +%s) - t1)) s)"
  exit 0
fi
cat "$work/inside.log" >&2
log "FAIL"
exit 1
