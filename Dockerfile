# Builds the `nerve` binary and a small runtime image with the interpreters packs commonly need.
# One image for every role: `nerve up`, `nerve server`, `nerve worker`, `nerve sensors` (see
# docker-compose.yml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nerve

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/nerve /usr/local/bin/nerve
ENV NERVE_DATA_DIR=/var/lib/nerve
VOLUME ["/var/lib/nerve"]
ENTRYPOINT ["nerve"]
CMD ["--help"]
