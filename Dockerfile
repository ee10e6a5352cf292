# ttl-semlock: a two-stage build on debian:bookworm-slim.
#   build:   the same dependency script as the README (scripts/install-deps.sh --runtime-only),
#            a Release build of the server only (no tests, no benchmarks).
#   runtime: the shared libraries the binary links (found with ldd, so a new dependency needs no
#            edit here), curl for the HEALTHCHECK, a non-root user, config at /app/config.json.
#
#   docker build -t ttl-semlock .
#   docker run --init -p 8765:8765 -p 9765:9765 ttl-semlock
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
ENV CCACHE_DIR=/root/.cache/ccache
# Cluster mode's Raft sidecar ttl-semlock-raft (Go, replication/; docs/CLUSTER.md), from a
# build directory of its own. It needs only libc and the loader, which the server needs too.
RUN cmake -S . -B /build-raft -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMLOCK_TESTS=OFF \
      -DSEMLOCK_BENCH=OFF >/dev/null \
 && cmake --build /build-raft --target ttl-semlock-raft \
 && strip /build-raft/server/ttl-semlock-raft
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEMLOCK_TESTS=OFF \
      -DSEMLOCK_BENCH=OFF ${CMAKE_ARGS} >/dev/null \
 && cmake --build /build --target ttl-semlock -j"$(nproc)" \
 && strip /build/server/ttl-semlock
# The Debian packages that own the libraries the binary loads (dpkg knows /lib and /usr/lib paths
# apart, so try the path as ldd prints it and as it resolves).
RUN set -eu; \
    for lib in $(ldd /build/server/ttl-semlock | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      real=$(realpath "$lib"); \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/lib${real#/usr/lib}"; \
    done | cut -d: -f1 | sort -u >/build/runtime-packages; \
    cat /build/runtime-packages

FROM ${DEBIAN_IMAGE}
LABEL ttl-semlock.stage=runtime \
      org.opencontainers.image.title="ttl-semlock" \
      org.opencontainers.image.description="TTL locks and counting semaphores over RESP, JSON lines and HTTP"
COPY --from=build /build/runtime-packages /tmp/runtime-packages
RUN apt-get update -o Acquire::Languages=none \
 && apt-get install -y --no-install-recommends curl $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --system --gid 10001 semlock \
 && useradd --system --uid 10001 --gid semlock --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin semlock \
 && mkdir -p /app/data && chown semlock:semlock /app/data
COPY --from=build /build/server/ttl-semlock /usr/local/bin/ttl-semlock
COPY deploy/container/config.json /app/config.json
# Fails the build on a missing shared library or a config the binary rejects.
RUN /usr/local/bin/ttl-semlock --check-config --config /app/config.json

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
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:${TTLSEMLOCK_METRICS_PORT:-9765}/health" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ttl-semlock"]
CMD ["--config", "/app/config.json"]
