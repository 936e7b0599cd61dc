package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed parts, as distroless's static image has them.
const (
	// DefaultRef is the name the image gets when Options.Ref is empty:
	// the one deploy/deployment.yaml runs.
	DefaultRef = "ghcr.io/tychoctl/tycho:latest"
	// DefaultCACerts is where Debian keeps its CA bundle, and where the
	// image keeps the copy.
	DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"
	// User is the image's user and group: distroless's nonroot, which
	// deploy/deployment.yaml's runAsUser and runAsGroup repeat.
	User = "65532:65532"
	// Entrypoint is the binary's path in the image.
	Entrypoint = "/tycho"
	// Port is the API's port (tycho api's default).
	Port = "5000/tcp"

	versionVar = "github.com/tychoctl/tycho/cmd.Version"
	sourceURL  = "https://github.com/tychoctl/tycho"
	nonroot    = 65532
)

// Options say what goes into the image.
type Options struct {
	// Binary is the path of the tycho binary: a static Linux binary
	// (BuildBinary makes one).
	Binary string
	// Ref is the image's name, e.g. "ghcr.io/tychoctl/tycho:v0.3.0";
	// "" means DefaultRef. containerd imports the image under it.
	Ref string
	// Version is the image's org.opencontainers.image.version label;
	// "" leaves the label out.
	Version string
	// CACerts is the path of a PEM bundle of CA certificates to put at
	// DefaultCACerts; "" leaves them out.
	CACerts string
	// Arch is the GOARCH the binary was built for; "" means
	// runtime.GOARCH.
	Arch string
	// Created is the time of every file and of the image; the zero time
	// means the Unix epoch, which keeps the output reproducible.
	Created time.Time
}

// Result describes a written image.
type Result struct {
	// Ref is the image's name.
	Ref string
	// Digest is the digest of the image's manifest.
	Digest string
	// Size is the bytes a registry or containerd stores: the compressed
	// layer, the config and the manifest.
	Size int64
}

// BuildBinary builds ./cmd/tycho of the module in dir into out as a static
// Linux binary for goarch ("" means runtime.GOARCH), with the flags of the
// Dockerfile: CGO_ENABLED=0, -trimpath, symbols stripped and cmd.Version
// set to version.
func BuildBinary(ctx context.Context, dir, out, version, goarch string) error {
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	if version == "" {
		version = "dev"
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+versionVar+"="+version,
		"-o", out, "./cmd/tycho")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building tycho: %w\n%s", err, b)
	}
	return nil
}

// Build returns the image of o.
func Build(o Options) (v1.Image, error) {
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC()
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	rootfs, err := layerTar(o, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "tycho internal/image", Comment: "tycho on a distroless-style static base"},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Created = v1.Time{Time: created}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if o.CACerts != "" {
		env = append(env, "SSL_CERT_FILE="+DefaultCACerts)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":  "tycho",
		"org.opencontainers.image.source": sourceURL,
	}
	if o.Version != "" {
		labels["org.opencontainers.image.version"] = o.Version
	}
	cf.Config = v1.Config{
		User:         User,
		Entrypoint:   []string{Entrypoint},
		Cmd:          []string{"api"},
		Env:          env,
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{Port: {}},
		Labels:       labels,
	}
	return mutate.ConfigFile(img, cf)
}

// Write builds the image of o and writes it to path as a tar archive of
// an OCI image layout whose index names it Ref (for containerd too: the
// io.containerd.image.name annotation). path is replaced only when the
// archive is complete.
func Write(path string, o Options) (Result, error) {
	if o.Ref == "" {
		o.Ref = DefaultRef
	}
	img, err := Build(o)
	if err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".tycho-image-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		return Result{}, fmt.Errorf("writing the image layout: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Result{}, err
	}
	// AppendImage would describe the image with an artifactType, which
	// the image spec reserves for artifacts; the descriptor is written
	// by hand instead.
	if err := lp.WriteImage(img); err != nil {
		return Result{}, fmt.Errorf("writing the image layout: %w", err)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return Result{}, err
	}
	if err := lp.AppendDescriptor(v1.Descriptor{
		MediaType: desc.MediaType,
		Size:      desc.Size,
		Digest:    desc.Digest,
		Platform:  &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
		Annotations: map[string]string{
			"io.containerd.image.name":          o.Ref,
			"org.opencontainers.image.ref.name": o.Ref,
		},
	}); err != nil {
		return Result{}, fmt.Errorf("writing the image layout: %w", err)
	}
	tmp := filepath.Join(dir, "image.tar")
	if err := tarDir(tmp, string(lp)); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Result{}, err
	}
	return describe(img, o.Ref)
}

func describe(img v1.Image, ref string) (Result, error) {
	d, err := img.Digest()
	if err != nil {
		return Result{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return Result{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return Result{}, err
	}
	size := m.Config.Size + int64(len(raw))
	for _, l := range m.Layers {
		size += l.Size
	}
	return Result{Ref: ref, Digest: d.String(), Size: size}, nil
}

// entry is one file or directory of the layer.
type entry struct {
	name     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// layerTar is the image's only layer: the base and the binary, in a fixed
// order, every file owned by root but the nonroot user's home.
func layerTar(o Options, created time.Time) ([]byte, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("the tycho binary: %w", err)
	}
	entries := []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\nnogroup:x:65534:\n")},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
	}
	if o.CACerts != "" {
		certs, err := os.ReadFile(o.CACerts)
		if err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
		entries = append(entries,
			entry{name: "etc/ssl/", mode: 0o755},
			entry{name: "etc/ssl/certs/", mode: 0o755},
			entry{name: strings.TrimPrefix(DefaultCACerts, "/"), mode: 0o644, data: certs})
	}
	entries = append(entries,
		entry{name: "home/", mode: 0o755},
		entry{name: "home/nonroot/", mode: 0o700, uid: nonroot, gid: nonroot},
		entry{name: "root/", mode: 0o700},
		entry{name: "tmp/", mode: 0o1777},
		entry{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: bin},
	)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: created, Format: tar.FormatPAX}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir writes the files under dir to the tar archive out, in lexical
// order, with fixed times and owners.
func tarDir(out, dir string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: epoch})
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: st.Size(), ModTime: epoch}); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
