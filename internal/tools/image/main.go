// Command image builds Tycho's container image (package internal/image)
// into an OCI archive without a container engine; `make image` runs it:
//
//	go run ./internal/tools/image -o bin/tycho-image.tar -version v0.3.0
//	ctr -n k8s.io images import bin/tycho-image.tar
//
// It builds ./cmd/tycho of the module it runs in as a static Linux binary
// (GOARCH from the environment), then writes the image: the binary at
// /tycho on a distroless-style base with the host's CA certificates when
// it has them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tychoctl/tycho/internal/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	o := fs.String("o", "bin/tycho-image.tar", "the OCI archive to write")
	ref := fs.String("ref", image.DefaultRef, "the image's name")
	version := fs.String("version", "dev", "the version built into the binary (cmd.Version) and the image's label")
	certs := fs.String("certs", "", `CA certificates to copy into the image; "" means `+image.DefaultCACerts+` when it exists, "none" leaves them out`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *certs {
	case "none":
		*certs = ""
	case "":
		if _, err := os.Stat(image.DefaultCACerts); err == nil {
			*certs = image.DefaultCACerts
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	arch := os.Getenv("GOARCH")
	if arch == "" {
		arch = runtime.GOARCH
	}
	if err := os.MkdirAll(filepath.Dir(*o), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "tycho-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	bin := filepath.Join(tmp, "tycho")
	if err := image.BuildBinary(ctx, ".", bin, *version, arch); err != nil {
		return err
	}
	built := time.Since(start)
	res, err := image.Write(*o, image.Options{Binary: bin, Ref: *ref, Version: *version, CACerts: *certs, Arch: arch})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s %s, %.1f MB (binary built in %s, image written in %s)\n", *o, res.Ref, res.Digest,
		float64(res.Size)/1e6, built.Round(100*time.Millisecond), (time.Since(start) - built).Round(100*time.Millisecond))
	return nil
}
