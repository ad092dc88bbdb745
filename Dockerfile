# syntax=docker/dockerfile:1
# Ara's image: built in one stage, run from a slim one as a non-root user.
#   docker build -t ara .
#   docker run -p 8080:8080 -e RUN_MODE=production -e JWT_SECRET=... -e API_KEY=... ara
# The dependency layer is rebuilt only when Cargo.toml or Cargo.lock change: a change to the code
# recompiles Ara alone.

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, against stand-in targets (every target the manifest names must exist).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin/ara_load benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > src/bin/ara_load/main.rs \
    && echo 'fn main() {}' > benches/queue.rs \
    && echo 'fn main() {}' > benches/fanout.rs \
    && cargo build --release --locked --bin ara \
    && rm -rf src benches
# Then Ara itself; `touch` makes cargo see the real sources as newer than the stand-ins.
COPY src src
COPY benches benches
COPY migrations migrations
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin ara

FROM debian:bookworm-slim
# CA certificates: TLS to managed Postgres and Redis checks their servers against the system's store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin ara
COPY --from=build /src/target/release/ara /usr/local/bin/ara
USER 10001:10001
EXPOSE 8080
# `ara healthcheck` asks the server in this container (SERVER_HOST/SERVER_PORT) for /health/live,
# or /health on a server without it: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/ara", "healthcheck"]
# Ara drains on SIGTERM within SERVER_SHUTDOWN_TIMEOUT_SECONDS (default 10 s; Docker waits 10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ara"]
CMD ["serve"]
