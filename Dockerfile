# syntax=docker/dockerfile:1
#
# fhirsandbox in a container: a static binary on a distroless base (CA
# certificates, /etc/passwd with the nonroot user, no shell).
#
#   docker build -t fhirsandbox --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#   docker run --rm -p 8080:8080 fhirsandbox
#   docker run --rm -p 8080:8080 -v "$PWD/sandbox.yaml:/config/sandbox.yaml:ro" \
#     -e FHIRSANDBOX_CONFIG=/config/sandbox.yaml -e FHIRSANDBOX_ADMIN_TOKEN=... fhirsandbox
#
# See docs/install.md.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
# The same flags as .goreleaser.yaml; a test (release_test.go) builds the
# binary with this exact command line and checks what --version prints.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/fhirsandbox/fhirsandbox/sandbox/cli.version=${VERSION} -X github.com/fhirsandbox/fhirsandbox/sandbox/cli.commit=${COMMIT} -X github.com/fhirsandbox/fhirsandbox/sandbox/cli.date=${DATE}" -o /out/fhirsandbox .
# the volumes' mount points, owned by the nonroot user (uid 65532) so the
# state journal can be written there
RUN mkdir -p /out/config /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fhirsandbox /usr/local/bin/fhirsandbox
COPY --from=build --chown=65532:65532 /out/config /config
COPY --from=build --chown=65532:65532 /out/state /state
USER 65532:65532
# Listen on every interface of the container (the default, 127.0.0.1,
# would be unreachable through -p); keep clients, tenants, writes and the
# generated admin token in /state. Mount a config at /config/sandbox.yaml
# and set FHIRSANDBOX_CONFIG=/config/sandbox.yaml to use it.
ENV FHIRSANDBOX_LISTEN=0.0.0.0:8080 \
    FHIRSANDBOX_STATE=/state/sandbox.state \
    FHIRSANDBOX_HEALTH_URL=http://127.0.0.1:8080/healthz
VOLUME ["/config", "/state"]
EXPOSE 8080
# no shell or curl in the image: the binary probes itself, at
# FHIRSANDBOX_HEALTH_URL (change it with the port)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/fhirsandbox", "health", "--quiet"]
ENTRYPOINT ["/usr/local/bin/fhirsandbox"]
CMD ["serve"]
