package atomicdir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, []File{{Name: "a.yaml", Data: []byte("a")}, {Name: "b.yaml", Data: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, []File{{Name: "c.yaml", Data: []byte("c")}}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "c.yaml" {
		t.Errorf("dir holds %v, want only c.yaml", entries)
	}
	siblings, _ := os.ReadDir(filepath.Dir(dir))
	if len(siblings) != 1 {
		t.Errorf("temporary directories left behind: %v", siblings)
	}
}

func TestWriteFailureLeavesOld(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	if err := Write(dir, []File{{Name: "a.yaml", Data: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, []File{{Name: "ok.yaml"}, {Name: "../escape.yaml"}}); err == nil {
		t.Fatal("Write with a bad name succeeded")
	}
	b, err := os.ReadFile(filepath.Join(dir, "a.yaml"))
	if err != nil || string(b) != "a" {
		t.Errorf("old content lost: %q, %v", b, err)
	}
	siblings, _ := os.ReadDir(filepath.Dir(dir))
	if len(siblings) != 1 {
		t.Errorf("temporary directories left behind: %v", siblings)
	}
}

func TestWriteNested(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "chart")
	files := []File{{Name: "Chart.yaml", Data: []byte("c")}, {Name: "templates/web/deployment.yaml", Data: []byte("d")}}
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "templates", "web", "deployment.yaml"))
	if err != nil || string(b) != "d" {
		t.Errorf("nested file: %q, %v", b, err)
	}
	for _, bad := range []string{"/abs.yaml", "a/../../b.yaml", "a//b.yaml", ".", ""} {
		if err := Write(dir, []File{{Name: bad}}); err == nil {
			t.Errorf("Write(%q) succeeded", bad)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "Chart.yaml")); string(b) != "c" {
		t.Errorf("a failed Write changed the directory: %q", b)
	}
}
