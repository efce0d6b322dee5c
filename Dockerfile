# Multi-stage build of the `sesame` binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sesame-server --bin sesame

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 sesame
COPY --from=build /src/target/release/sesame /usr/local/bin/sesame
USER sesame
EXPOSE 8787
ENV SESAME_LISTEN=0.0.0.0:8787
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8787 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q 200 <&3"]
ENTRYPOINT ["/usr/local/bin/sesame"]
CMD ["serve"]
