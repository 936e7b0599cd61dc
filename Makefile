# Tycho's build. `make build` then `make test` is all a fresh machine needs
# (Go 1.26, gcc, git, make; kubectl is used when present).

GO        ?= go
BIN       := bin/tycho
PKGS      := ./...
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
IMAGE     ?= bin/tycho-image.tar
IMAGE_REF ?= ghcr.io/tychoctl/tycho:latest

.PHONY: all build image test unit fuzz-short fuzz update lint fmt verify bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tycho

# image writes Tycho's container image as an OCI archive, without a
# container engine (internal/image): the static binary on a distroless-style
# non-root base. Load it with `ctr -n k8s.io images import $(IMAGE)`, or push
# it with `crane push $(IMAGE) REF` / `skopeo copy oci-archive:$(IMAGE) ...`.
image:
	$(GO) run ./internal/tools/image -o $(IMAGE) -ref $(IMAGE_REF) -version $(VERSION)

# test runs everything CI runs: unit and golden tests, then the end-to-end
# tests against a real control plane (built once into the user cache).
test: unit e2e

unit: fuzz-short
	$(GO) vet $(PKGS)
	$(GO) test -short -count=1 $(PKGS)

# fuzz-short runs FuzzCompile for a bounded time (docs/fuzzing.md): Compile
# never panics and every error has a position. fuzz is the maintainers'
# long run (FUZZTIME=1h make fuzz).
FUZZTIME ?= 30m
fuzz-short:
	$(GO) test ./compiler/fuzz -run XXX -fuzz FuzzCompile -fuzztime 10s

fuzz:
	$(GO) test ./compiler/fuzz -run XXX -fuzz FuzzCompile -fuzztime $(FUZZTIME)

# update rewrites the golden files; read every changed line before committing.
update:
	$(GO) test ./compiler -run TestGolden -update

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

verify: lint unit

bench:
	$(GO) test ./compiler -run XXX -bench . -benchmem

clean:
	rm -rf bin

include test/cluster/cluster.mk
include test/realnode/realnode.mk
