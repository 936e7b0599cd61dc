package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestWrite builds the real binary, writes its image and reads the archive
// back as containerd would: an OCI layout whose index names the image,
// the distroless-style config, the files of the layer; the binary from the
// layer runs; writing again gives the same bytes.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tycho")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := BuildBinary(ctx, moduleRoot(t), bin, "v9.8.7-test", ""); err != nil {
		t.Fatal(err)
	}
	certs := filepath.Join(dir, "certs.pem")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		certs string
	}{
		{"with CA certificates", certs},
		{"without", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Binary: bin, Ref: "tycho.test/tycho:e2e", Version: "v9.8.7-test", CACerts: tc.certs}
			archive := filepath.Join(t.TempDir(), "image.tar")
			res, err := Write(archive, o)
			if err != nil {
				t.Fatal(err)
			}
			img := readArchive(t, archive, o.Ref)
			if d, _ := img.Digest(); d.String() != res.Digest {
				t.Errorf("digest %s, Write said %s", d, res.Digest)
			}

			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			wantEnv := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
			if tc.certs != "" {
				wantEnv = append(wantEnv, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
			}
			want := v1.Config{
				User:         "65532:65532",
				Entrypoint:   []string{"/tycho"},
				Cmd:          []string{"api"},
				Env:          wantEnv,
				WorkingDir:   "/",
				ExposedPorts: map[string]struct{}{"5000/tcp": {}},
				Labels: map[string]string{
					"org.opencontainers.image.title":   "tycho",
					"org.opencontainers.image.source":  "https://github.com/tychoctl/tycho",
					"org.opencontainers.image.version": "v9.8.7-test",
				},
			}
			if diff := cmp.Diff(want, cf.Config); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Equal(time.Unix(0, 0)) {
				t.Errorf("os/arch %s/%s created %s, want linux/%s at the epoch", cf.OS, cf.Architecture, cf.Created, runtime.GOARCH)
			}

			files := layerFiles(t, img)
			var names []string
			for name, h := range files {
				names = append(names, name)
				if !h.ModTime.Equal(time.Unix(0, 0)) {
					t.Errorf("%s: time %s, want the epoch", name, h.ModTime)
				}
			}
			// mutate.Extract drops the slash of directory names.
			wantNames := []string{"etc", "etc/group", "etc/nsswitch.conf", "etc/passwd", "home", "home/nonroot", "root", "tmp", "tycho"}
			if tc.certs != "" {
				wantNames = append(wantNames, "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt")
			}
			slices.Sort(wantNames)
			slices.Sort(names)
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("layer files (-want +got):\n%s", diff)
			}
			for name, want := range map[string]struct {
				mode     int64
				uid, gid int
			}{
				"tmp":          {0o1777, 0, 0},
				"tycho":        {0o755, 0, 0},
				"home/nonroot": {0o700, 65532, 65532},
			} {
				if h := files[name]; h == nil || h.Mode != want.mode || h.Uid != want.uid || h.Gid != want.gid {
					t.Errorf("%s: %+v, want mode %o owner %d:%d", name, h, want.mode, want.uid, want.gid)
				}
			}
			if passwd := string(files["etc/passwd"].data); !strings.Contains(passwd, "\nnonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", passwd)
			}
			if tc.certs != "" {
				if got := files["etc/ssl/certs/ca-certificates.crt"].data; !bytes.HasPrefix(got, []byte("-----BEGIN CERTIFICATE-----\ntest")) {
					t.Errorf("CA certificates: %q", got)
				}
			}

			exe := filepath.Join(t.TempDir(), "tycho")
			if err := os.WriteFile(exe, files["tycho"].data, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(exe, "version").CombinedOutput()
			if err != nil || string(out) != "tycho v9.8.7-test\n" {
				t.Errorf("tycho version from the image: %q %v", out, err)
			}

			again := filepath.Join(t.TempDir(), "image.tar")
			if _, err := Write(again, o); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(archive)
			b, _ := os.ReadFile(again)
			if !bytes.Equal(a, b) {
				t.Error("a second Write of the same image gave other bytes")
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	bin := filepath.Join(dir, "tycho")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"no binary", Options{Binary: filepath.Join(dir, "absent")}, "the tycho binary: open "},
		{"no certificates", Options{Binary: bin, CACerts: filepath.Join(dir, "absent.pem")}, "CA certificates: open "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(archive, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(archive); !os.IsNotExist(err) {
				t.Errorf("a failed Write left %s (%v)", archive, err)
			}
		})
	}
}

// readArchive unpacks an OCI archive and returns the image its index
// names ref (as io.containerd.image.name and the OCI ref name).
func readArchive(t *testing.T, archive, ref string) v1.Image {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(m.Manifests))
	}
	d := m.Manifests[0]
	for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		if d.Annotations[k] != ref {
			t.Errorf("index annotation %s = %q, want %q", k, d.Annotations[k], ref)
		}
	}
	if d.MediaType != "application/vnd.oci.image.manifest.v1+json" || d.ArtifactType != "" {
		t.Errorf("index entry: media type %s, artifact type %q; want an OCI image manifest, no artifact type", d.MediaType, d.ArtifactType)
	}
	if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != runtime.GOARCH {
		t.Errorf("index platform %+v, want linux/%s", d.Platform, runtime.GOARCH)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// file is an entry of the image's file system.
type file struct {
	*tar.Header
	data []byte
}

func layerFiles(t *testing.T, img v1.Image) map[string]*file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]*file{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = &file{h, b}
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
