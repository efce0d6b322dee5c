# syntax=docker/dockerfile:1
# The `sesame` image: build in the Rust image, run in Debian slim as an unprivileged user.
# Both images are pinned by version tag; upgrade them deliberately (same Debian release in both,
# so the binary's glibc matches). For byte-for-byte reproducibility, pin by digest as well.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src

# 1. Dependencies only, cached until a manifest or Cargo.lock changes: every workspace manifest
#    (a new crate needs a line here) with stub sources, then a build of the dependency tree.
COPY Cargo.toml Cargo.lock ./
COPY crates/sesame-model/Cargo.toml crates/sesame-model/
COPY crates/sesame-store/Cargo.toml crates/sesame-store/
COPY crates/sesame-postgres/Cargo.toml crates/sesame-postgres/
COPY crates/sesame-auth/Cargo.toml crates/sesame-auth/
COPY crates/sesame-server/Cargo.toml crates/sesame-server/
COPY crates/sesame-tower/Cargo.toml crates/sesame-tower/
COPY xtask/Cargo.toml xtask/
COPY tests/Cargo.toml tests/
RUN set -eu; \
    for m in crates/*/Cargo.toml xtask/Cargo.toml tests/Cargo.toml; do \
      d=$(dirname "$m"); mkdir -p "$d/src"; : > "$d/src/lib.rs"; \
      for p in $(sed -n 's/^path *= *"\(.*\)"/\1/p' "$m"); do \
        mkdir -p "$d/$(dirname "$p")"; [ -s "$d/$p" ] || echo 'fn main() {}' > "$d/$p"; \
      done; \
    done; \
    echo 'fn main() {}' > xtask/src/main.rs; \
    mkdir -p crates/sesame-postgres/benches crates/sesame-tower/examples; \
    echo 'fn main() {}' > crates/sesame-postgres/benches/token_lookup.rs; \
    echo 'fn main() {}' > crates/sesame-tower/examples/axum_protect.rs; \
    cargo build --release --locked -p sesame-server --bin sesame

# 2. Sesame itself. The copied sources may be older than the stubs: touch them so cargo rebuilds.
COPY migrations migrations
COPY crates crates
RUN set -eu; \
    find crates -name '*.rs' -exec touch {} +; \
    cargo build --release --locked -p sesame-server --bin sesame; \
    objcopy --only-keep-debug target/release/sesame /sesame.debug; \
    objcopy --strip-all --add-gnu-debuglink=/sesame.debug target/release/sesame /sesame

FROM debian:12.11-slim
RUN useradd --system --uid 10001 --no-create-home sesame
COPY --from=build /sesame /usr/local/bin/sesame
USER sesame
EXPOSE 8787
ENV SESAME_LISTEN=0.0.0.0:8787
# Readiness, not liveness: 200 only while the store answers. Probes port 8787 (keep the listen
# port, or change it here too). bash, head and grep are in Debian's essential set.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8787 && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/sesame"]
CMD ["serve"]
