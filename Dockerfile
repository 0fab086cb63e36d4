# The Airbyte destination image: the compiled smartlead-sync binary on a glibc base (compiled
# Deno binaries are not static), run as a non-root user. Build the binary first, then the image:
#   deno task compile:linux                       # → dist/smartlead-sync-x86_64-unknown-linux-gnu
#   docker build --build-arg VERSION=0.1.0 -t smartlead-sync/destination-smartlead:0.1.0 .
# (arm64: deno task compile:linux-arm, and --build-arg BINARY=dist/smartlead-sync-aarch64-unknown-linux-gnu)
FROM debian:bookworm-slim

ARG VERSION=0.1.0
ARG BINARY=dist/smartlead-sync-x86_64-unknown-linux-gnu

# Airbyte mounts config and catalog under /airbyte; the write's index goes to a temporary
# directory (rebuilt from the campaign at every sync), so /tmp must stay writable too.
RUN useradd --system --uid 1000 --user-group --create-home --home-dir /home/airbyte airbyte \
  && mkdir -p /airbyte && chown airbyte:airbyte /airbyte

COPY --chmod=0755 ${BINARY} /usr/local/bin/smartlead-sync

ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/smartlead-sync airbyte"
ENTRYPOINT ["/usr/local/bin/smartlead-sync", "airbyte"]

WORKDIR /airbyte
USER airbyte

LABEL io.airbyte.name=smartlead-sync/destination-smartlead
LABEL io.airbyte.version=${VERSION}
