package realnode

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"time"
)

// Image names of the local images that Start imports; none of them is ever
// pulled (every one carries a non-latest tag, so the default pull policy is
// IfNotPresent).
const (
	// ProbeImage runs the probe (test/probe) at /probe, with busybox's
	// applets in /bin; its default command is "/probe sleep".
	ProbeImage = "tycho.test/probe:e2e"
	// PauseImage is the sandbox image of the CRI plugin: the probe image
	// with the same "/probe sleep" command.
	PauseImage = "tycho.test/pause:e2e"
	// BusyboxImage stands in for the image of Tycho's depends_on waiters
	// (tycho compile's default --wait-image busybox:1.37, which CRI
	// normalises to this name). Its nc is the probe's busybox-compatible
	// "nc -z", since Debian's static busybox has no nc -z, and its /bin/sh
	// is the host's dash (with its C library), since busybox's sh would run
	// its own nc applet instead of /bin/nc.
	BusyboxImage = "docker.io/library/busybox:1.37"
)

// ImageNames lists every image name Start imports.
var ImageNames = []string{ProbeImage, PauseImage, BusyboxImage}

// busyboxApplets are linked to /bin/busybox in the images. /bin/sh is not
// among them: Debian's static busybox runs its own applets before looking at
// PATH (FEATURE_SH_STANDALONE), so its sh would never run /bin/nc.
var busyboxApplets = []string{
	"ash", "cat", "cp", "cut", "date", "echo", "env", "false", "grep", "head",
	"hostname", "id", "ln", "ls", "mkdir", "mv", "nslookup", "printf", "ps",
	"rm", "sed", "seq", "sleep", "sort", "tail", "test", "touch", "tr", "true",
	"uniq", "wc", "wget", "xargs", "[",
}

// BuildProbe builds test/probe as a static binary into path.
func BuildProbe(ctx context.Context, path string) error {
	return goBuild(ctx, path, "./test/probe")
}

// goBuild builds a package of this checkout as a static binary.
func goBuild(ctx context.Context, out, pkg string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// moduleRoot is the root of the tycho checkout this file belongs to.
func moduleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if fileExists(filepath.Join(root, "go.mod")) {
			return filepath.Clean(root), nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if gomod := string(bytes.TrimSpace(out)); gomod != "" && gomod != os.DevNull {
			return filepath.Dir(gomod), nil
		}
	}
	return "", fmt.Errorf("cannot find the tycho checkout (go.mod)")
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// blob is one content-addressed file of an OCI layout.
type blob struct {
	mediaType string
	data      []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor() map[string]any {
	return map[string]any{"mediaType": b.mediaType, "digest": b.digest(), "size": len(b.data)}
}

// shell is the /bin/sh of the images: Debian's dash and the shared
// libraries it loads.
var shell = []string{"/usr/bin/dash", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}

// rootfsLayer is an uncompressed layer tar with the probe at /probe,
// busybox at /bin/busybox and its applets, dash as /bin/sh, /bin/nc and
// /bin/nc linked to the probe where busybox's applet does not fit,
// the directories a container expects, and the extra executables.
func rootfsLayer(probe, busybox string, extra ...layerFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch})
	}
	file := func(name, src string) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	}
	link := func(name, target string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch})
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "run", "var", "root"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := file("probe", probe); err != nil {
		return nil, err
	}
	if err := file("bin/busybox", busybox); err != nil {
		return nil, err
	}
	for _, f := range extra {
		if err := file(f.name, f.src); err != nil {
			return nil, err
		}
	}
	for _, a := range busyboxApplets {
		if err := link("bin/"+a, "busybox"); err != nil {
			return nil, err
		}
	}
	if err := link("bin/nc", "/probe"); err != nil {
		return nil, err
	}
	for _, d := range []string{"usr", "usr/bin", "lib", "lib/x86_64-linux-gnu", "lib64"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, f := range shell {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			return nil, fmt.Errorf("the images' shell: %w (install dash)", err)
		}
		if err := file(f[1:], real); err != nil {
			return nil, err
		}
	}
	if err := link("bin/sh", "/usr/bin/dash"); err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, content string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.content)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, f.content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layerFile is an executable of a layer: its path in the image (relative)
// and on this machine.
type layerFile struct{ name, src string }

// WriteImageArchive writes an OCI image layout, as a tar archive, to path:
// one layer (see rootfsLayer) and one manifest per distinct command, named
// for containerd (io.containerd.image.name) as ProbeImage, PauseImage and
// BusyboxImage.
func WriteImageArchive(path, probe, busybox string) error {
	layer, err := rootfsLayer(probe, busybox)
	if err != nil {
		return fmt.Errorf("writing the image layer: %w", err)
	}
	return writeOCIArchive(path, layer, []ociImage{
		{names: []string{ProbeImage, PauseImage}, cmd: []string{"/probe", "sleep"}},
		{names: []string{BusyboxImage}, cmd: []string{"sh"}},
	})
}

// ociImage is one image of an archive written by writeOCIArchive: its
// names and its default command.
type ociImage struct {
	names      []string
	entrypoint []string
	cmd        []string
}

// writeOCIArchive writes an OCI image layout, as a tar archive, to path:
// the one uncompressed layer and a manifest per image, each named for
// containerd (io.containerd.image.name) by its names.
func writeOCIArchive(path string, layer []byte, images []ociImage) error {
	layerBlob := blob{"application/vnd.oci.image.layer.v1.tar", layer}
	blobs := map[string]blob{layerBlob.digest(): layerBlob}
	platform := map[string]any{"architecture": runtime.GOARCH, "os": "linux"}
	var manifests []map[string]any
	for _, img := range images {
		config := map[string]any{
			"Env": []string{"PATH=/bin:/"},
			"Cmd": img.cmd,
		}
		if img.entrypoint != nil {
			config["Entrypoint"] = img.entrypoint
		}
		cfg, err := json.Marshal(map[string]any{
			"architecture": runtime.GOARCH,
			"os":           "linux",
			"created":      "1970-01-01T00:00:00Z",
			"config":       config,
			"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{layerBlob.digest()}},
		})
		if err != nil {
			return err
		}
		cfgBlob := blob{"application/vnd.oci.image.config.v1+json", cfg}
		man, err := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        cfgBlob.descriptor(),
			"layers":        []any{layerBlob.descriptor()},
		})
		if err != nil {
			return err
		}
		manBlob := blob{"application/vnd.oci.image.manifest.v1+json", man}
		blobs[cfgBlob.digest()] = cfgBlob
		blobs[manBlob.digest()] = manBlob
		for _, name := range img.names {
			d := manBlob.descriptor()
			d["platform"] = platform
			d["annotations"] = map[string]string{
				"io.containerd.image.name":          name,
				"org.opencontainers.image.ref.name": name,
			}
			manifests = append(manifests, d)
		}
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     manifests,
	})
	if err != nil {
		return err
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, d := range digests {
		if err := put("blobs/sha256/"+d[len("sha256:"):], blobs[d].data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
