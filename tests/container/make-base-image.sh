#!/usr/bin/env bash
# Makes the base image `debian:bookworm-slim` locally, for machines that reach Debian's package
# mirror but no container registry: debootstrap a minbase bookworm from the host's own Debian
# mirror and `podman import` it under the name the Dockerfile's FROM uses. The image keeps the
# host's mirror in its apt sources, so `apt-get` inside `podman build` works without a registry.
# Reuses the image when it already exists (it is the slow part: about a minute cold).
# Usage: make-base-image.sh [image-name]   (default debian:bookworm-slim; run as root)
# Env: SEMLOCK_DEBIAN_MIRROR overrides the mirror read from /etc/apt/sources.list*.
set -euo pipefail
image=${1:-debian:bookworm-slim}

if podman image exists "$image"; then
  echo "make-base-image: $image exists, reusing it" >&2
  exit 0
fi

# The host's mirrors: the first URI ending in /debian (main archive) and in /debian-security.
host_uris() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | grep -v '^\s*#' | grep -oE '(https?|file)://[^ ]+' | sed 's:/*$::' || true
}
mirror=${SEMLOCK_DEBIAN_MIRROR:-$(host_uris | grep -E '/debian$' | head -n1)}
security=$(host_uris | grep -E '/debian-security$' | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

workdir=$(mktemp -d /var/tmp/semlock-rootfs.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
rootfs=$workdir/rootfs

echo "make-base-image: debootstrap minbase bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 || {
  tail -n 30 "$workdir/debootstrap.log" >&2
  exit 1
}

# Same sources as the host, so builds inside the image use the mirror the host can reach.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# What the official slim image does too: no package caches, no docs in later installs.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-nodoc" <<'NODOC'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
NODOC
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

echo "make-base-image: importing as $image" >&2
tar -C "$rootfs" --numeric-owner -c . |
  podman import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "make-base-image: $image ready" >&2
