# syntax=docker/dockerfile:1
#
# Tycho's image: a static binary on a distroless base, run as non-root.
#
# `make image` is how the image is built and tested: it writes the same
# image (the binary at /tycho on a distroless-style base, user 65532:65532,
# entrypoint /tycho, command api) as an OCI archive, bin/tycho-image.tar,
# without a container engine or a registry (internal/image), and
# `make e2e-real` runs that image with deploy/ on a real node. This file is
# for those who build with Docker instead; CI does not build it:
#   docker build --build-arg VERSION=$(git describe --always) -t tycho .
#   docker run --rm -p 5000:5000 -v $PWD/token:/etc/tycho/token:ro \
#     -v $HOME/.kube/config:/kubeconfig:ro tycho api \
#     --token-file /etc/tycho/token --kubeconfig /kubeconfig

FROM golang:1.26 AS build
WORKDIR /src
# dependencies first, cached while only the sources change
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/tychoctl/tycho/cmd.Version=${VERSION}" \
      -o /out/tycho ./cmd/tycho

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tycho /tycho
USER 65532:65532
EXPOSE 5000
ENTRYPOINT ["/tycho"]
CMD ["api"]
