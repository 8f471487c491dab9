# paved: the GitHub App webhook server, as a small non-root image.
# Build: docker build -t ghcr.io/acme/paved:<tag> .

FROM rust:1.95-slim-bookworm AS build
# libgit2's HTTPS needs OpenSSL's headers; pkg-config finds them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev=3.0.* pkg-config=1.8.* \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock app-manifest.json ./
COPY src ./src
COPY crates ./crates
COPY catalog ./catalog
COPY templates ./templates
COPY benches ./benches
RUN cargo build --release --locked --bin paved

FROM debian:bookworm-slim AS runtime
# CA certificates for GitHub's TLS; libssl for libgit2's HTTPS; git for the
# sandbox behind `paved demo` and `paved sandbox` (the templates and the
# sample catalog are inside the binary).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* libssl3=3.0.* git=1:2.39.* \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/paved /app/paved
ENV PAVED_WORK_DIR=/tmp/paved \
    PAVED_LOG_FORMAT=json
USER 65532:65532
EXPOSE 3000
ENTRYPOINT ["/app/paved"]
CMD ["serve"]
