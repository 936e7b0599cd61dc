package realnode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EContainerdImages starts the private containerd alone, imports the
// local images and runs the probe image with ctr; Stop must leave the
// machine as it was.
func TestE2EContainerdImages(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts containerd; skipped under -short")
	}
	if err := CheckEnabled(); err != nil {
		t.Skip(err)
	}
	host, err := snapshotHost()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := &Node{
		Name: "test", Dir: filepath.Join(dir, "node"), host: host,
		logf: func(f string, a ...any) { t.Logf(f, a...) },
	}
	n.ContainerdSocket = filepath.Join(n.Dir, "containerd", "containerd.sock")
	for _, d := range []string{n.LogDir(), filepath.Join(n.Dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeFiles(map[string]string{
		filepath.Join(n.Dir, "containerd", "config.toml"): n.containerdConfig(),
		filepath.Join(n.Dir, "bin", "runc"):               strings.Replace(runcWrapper, "%s", "/usr/sbin/runc", 1),
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	defer func() {
		if err := n.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if err := n.startContainerd(ctx); err != nil {
		t.Fatalf("%v\n%s", err, n.Logs(30))
	}
	for _, c := range []struct {
		image string
		args  []string
		want  string
	}{
		{ProbeImage, []string{"/probe", "exit", "0"}, ""},
		{ProbeImage, []string{"/probe", "cat", "/etc/passwd"}, "nobody:x:65534"},
		{BusyboxImage, []string{"sh", "-c", "echo hello; nc -z -w 1 127.0.0.1 1 || echo closed"}, "closed\n"},
	} {
		start := time.Now()
		out, err := n.ctr(ctx, append([]string{"run", "--rm", "--runc-binary", filepath.Join(n.Dir, "bin", "runc"), c.image, "t" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")}, c.args...)...)
		if err != nil {
			t.Errorf("ctr run %s %v: %v", c.image, c.args, err)
			continue
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("ctr run %s %v = %q, want %q in it", c.image, c.args, out, c.want)
		}
		t.Logf("ctr run %s %v: %s", c.image, c.args, time.Since(start).Round(time.Millisecond))
	}
}
