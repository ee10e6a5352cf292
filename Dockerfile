# ttl-semlock: a two-stage build, the result FROM scratch (about 8 MiB; tests/container fails it
# above 30 MiB).
#   build:   the same dependency script as the README (scripts/install-deps.sh --runtime-only),
#            a Release build of the server only (no tests, no benchmarks), then /rootfs: the
#            binary, the shared libraries it loads (found with ldd, so a new dependency needs no
#            edit here) with the loader, the config, /etc/passwd and the data directory.
#   runtime: scratch + /rootfs. No shell, no curl: HEALTHCHECK runs `ttl-semlock --healthcheck`.
#            Non-root (uid 10001); writes only /app/data, so --read-only works.
#
#   docker build --build-arg SEMLOCK_COMMIT=$(git rev-parse --short=12 HEAD) -t ttl-semlock .
#   docker run --init --read-only -p 8765:8765 -p 9765:9765 ttl-semlock
#   podman: see README "Docker and podman" (BUILDAH_FORMAT=docker keeps the HEALTHCHECK).
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS build
# Marks this project's layers, so that tests/container can prune stale ones and no others.
LABEL ttl-semlock.stage=build
WORKDIR /src
# Dependencies first, in their own layer: a source change does not reinstall the toolchain.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --runtime-only && rm -rf /var/lib/apt/lists/*
COPY . .
# Extra CMake arguments, e.g. --build-arg CMAKE_ARGS=-DCMAKE_CXX_FLAGS=-march=x86-64-v3.
ARG CMAKE_ARGS=""
# The commit --version and ttl_semlock_build_info report (the build context has no .git).
ARG SEMLOCK_COMMIT=unknown
ENV CCACHE_DIR=/root/.cache/ccache
# Cluster mode's Raft sidecar ttl-semlock-raft (Go, replication/; docs/CLUSTER.md), from a
# build directory of its own. It needs only libc and the loader, which the server needs too.
RUN cmake -S . -B /build-raft -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMLOCK_TESTS=OFF \
      -DSEMLOCK_BENCH=OFF >/dev/null \
 && cmake --build /build-raft --target ttl-semlock-raft \
 && strip /build-raft/server/ttl-semlock-raft
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMLOCK_TESTS=OFF \
      -DSEMLOCK_BENCH=OFF -DSEMLOCK_COMMIT="${SEMLOCK_COMMIT}" ${CMAKE_ARGS} >/dev/null \
 && cmake --build /build --target ttl-semlock -j"$(nproc)" \
 && strip /build/server/ttl-semlock
# The runtime file system: the binary and exactly the shared objects it loads (ldd: each library
# and the dynamic loader, copied to the path ldd names, symlinks resolved), the container config,
# a passwd/group naming uid 10001; the data directory apart, in /appdata (COPY --chown below sets
# the owner of what it copies, not of a directory that exists already).
RUN set -eu; \
    mkdir -p /rootfs/usr/local/bin /rootfs/app /rootfs/etc /rootfs/tmp /appdata/data; \
    cp /build/server/ttl-semlock /rootfs/usr/local/bin/ttl-semlock; \
    for lib in $(ldd /build/server/ttl-semlock | grep -oE '/[^ ]+'); do \
      mkdir -p "/rootfs$(dirname "$lib")"; cp -L "$lib" "/rootfs$lib"; \
    done; \
    cp deploy/container/config.json /rootfs/app/config.json; \
    echo 'semlock:x:10001:10001:ttl-semlock:/app:/nonexistent' >/rootfs/etc/passwd; \
    echo 'semlock:x:10001:' >/rootfs/etc/group; \
    chmod 1777 /rootfs/tmp; \
    du -sh /rootfs; ldd /build/server/ttl-semlock

FROM scratch
LABEL ttl-semlock.stage=runtime \
      org.opencontainers.image.title="ttl-semlock" \
      org.opencontainers.image.description="TTL locks and counting semaphores over RESP, JSON lines and HTTP" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /rootfs/ /
COPY --from=build --chown=10001:10001 /appdata/ /app/
# Fails the build on a missing shared library or a config the binary rejects (exec form: no shell).
RUN ["/usr/local/bin/ttl-semlock", "--check-config", "--config", "/app/config.json"]

# Listen on every interface of the container's own network namespace even when an operator
# mounts a config of their own that says 127.0.0.1; -e TTLSEMLOCK_SERVER_HOST=... overrides it.
ENV TTLSEMLOCK_SERVER_HOST=0.0.0.0 \
    TTLSEMLOCK_METRICS_HOST=0.0.0.0
# Found next to the server in cluster mode.
COPY --from=build /build-raft/server/ttl-semlock-raft /usr/local/bin/ttl-semlock-raft
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /app
EXPOSE 8765 9765
# The journal and snapshots (persistence is on in /app/config.json): mount a volume here.
VOLUME ["/app/data"]
# The binary probes itself: GET /health on the metrics port of the same config and environment
# (PING on the lock port when metrics are off); exit 0 healthy, 1 not.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/ttl-semlock", "--healthcheck", "--config", "/app/config.json"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ttl-semlock"]
CMD ["--config", "/app/config.json"]
