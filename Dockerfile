FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ara

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 ara
COPY --from=build /src/target/release/ara /usr/local/bin/ara
USER ara
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ara"]
CMD ["serve"]
