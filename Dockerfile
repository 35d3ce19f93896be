# The weft daemon in a container: `docker build -t weft .`, then see docs/daemon.md#a-container.
# Two stages: the release binary is built with the Rust toolchain, and only the binary goes into
# a small runtime image, run by an unprivileged user, with its data folder on the /data volume.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and the build folder are cached between builds (BuildKit); the binary is copied
# out of the cached folder, which the next stage cannot see.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p weft-cli --bin weft \
    && cp target/release/weft /usr/local/bin/weft

FROM debian:bookworm-slim
# TLS roots are built into weft (webpki-roots); ca-certificates is for the workflows' own
# `http.request` calls to hosts with a private CA added by a derived image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin weft \
    && install -d -m 0700 -o weft -g weft /data /workflows
COPY --from=build /usr/local/bin/weft /usr/local/bin/weft
USER weft
# The run history, recorded fires, cursors, connections and their key (unless WEFT_MASTER_KEY
# is given) live here: keep it on a volume and back it up (docs/daemon.md#backups).
ENV WEFT_DATA_DIR=/data
VOLUME ["/data"]
# weft handles SIGTERM itself: no new work, runs going get --shutdown-grace (30 s), then exit.
# Give `docker stop` more than that: `docker stop -t 45`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["weft"]
# Mount the workflows at /workflows (read-only is enough). The API stays on the container's
# loopback unless --listen says otherwise.
CMD ["daemon", "--workflows", "/workflows"]
