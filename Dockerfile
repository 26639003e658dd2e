# syntax=docker/dockerfile:1
# creditgate container image: build with the Rust toolchain, run on distroless as a
# fixed non-root user. Build: docker build -t creditgate:0.1.0 .
# The server refuses a non-loopback listen without --auth-tokens-file (or
# --allow-unauthenticated): mount a tokens file and set CREDITGATE_AUTH_TOKENS_FILE.

# The Rust release the machines and CI build with (Cargo.toml's rust-version is the minimum).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when the manifests or
# the build script change. Stub targets stand in for the sources.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin creditgate \
    && rm -rf src

# The service itself (policy/default.toml is compiled in). The bench-only targets
# the manifest names (benches/, tests/) are not needed to build --bin creditgate.
COPY src ./src
COPY policy ./policy
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin creditgate \
    && install -D -m 0755 target/release/creditgate /out/creditgate

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/creditgate /usr/local/bin/creditgate
COPY --from=builder /src/policy/default.toml /etc/creditgate/policy/default.toml
# distroless' nonroot user; the Helm chart runs the pod as the same UID.
USER 65532:65532
ENV CREDITGATE_LISTEN=0.0.0.0:50051
# 50051: gRPC; 9090: Prometheus metrics (CREDITGATE_METRICS_LISTEN).
EXPOSE 50051 9090
ENTRYPOINT ["creditgate"]
