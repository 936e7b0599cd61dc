package compiler

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/internal/srcmap"
)

// loadBoth loads file with compose-go's full cast table and with the
// narrowed one, as Load does otherwise.
func loadBoth(t *testing.T, file string, env map[string]string) (full, narrow *types.Project, errFull, errNarrow error) {
	t.Helper()
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := &srcmap.Map{Files: []*srcmap.Index{srcmap.Parse(file, content)}}
	load := func(narrowed bool) (*types.Project, error) {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		details := types.ConfigDetails{
			WorkingDir:  filepath.Dir(file),
			ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
			Environment: e,
		}
		return loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
			o.SetProjectName("casts", true)
			o.Profiles = []string{"*"}
			o.SkipConsistencyCheck = true
			o.SkipResolveEnvironment = true
			o.MaxNodeVisits = maxNodeVisits
			if narrowed {
				narrowCasts(o, m)
			}
		})
	}
	captureLogs(func() {
		full, errFull = load(false)
		narrow, errNarrow = load(true)
	})
	return full, narrow, errFull, errNarrow
}

var allFields = cmp.Exporter(func(reflect.Type) bool { return true })

// TestNarrowCasts: every key compose-go casts, interpolated, gives the same
// project with the narrowed casts as with compose-go's own.
func TestNarrowCasts(t *testing.T) {
	env := map[string]string{"T": "true", "F": "false", "ONE": "1", "TWO": "2", "HALF": "0.5", "PORT": "80"}
	full, narrow, errFull, errNarrow := loadBoth(t, "../testdata/casts/compose.yaml", env)
	if errFull != nil || errNarrow != nil {
		t.Fatalf("load: full casts: %v; narrowed: %v", errFull, errNarrow)
	}
	if d := cmp.Diff(full, narrow, allFields); d != "" {
		t.Errorf("narrowed casts change the project (-full +narrowed):\n%s", d)
	}
	// the narrowing is real: without the casts it keeps, loading fails
	if _, _, _, err := loadBoth(t, "../testdata/casts/compose.yaml", map[string]string{"T": "yes-please"}); err == nil {
		t.Error("a non-boolean privileged: loaded without error")
	}
}

// TestNarrowCastsCorpus: every file of the public corpus loads to the same
// project with both cast tables, or fails with both. (Where a file has
// several invalid keys, compose-go's schema validation names one of them
// at random, so the messages are not compared.)
func TestNarrowCastsCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("public corpus not found at %s (it lives beside the repository in shared/corpus): %v", corpus, err)
	}
	files := 0
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		files++
		full, narrow, errFull, errNarrow := loadBoth(t, p, map[string]string{})
		if (errFull == nil) != (errNarrow == nil) {
			t.Errorf("%s: full casts: %v; narrowed: %v", p, errFull, errNarrow)
			return nil
		}
		if d := cmp.Diff(full, narrow, allFields); d != "" {
			t.Errorf("%s: narrowed casts change the project (-full +narrowed):\n%s", p, d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d corpus files load alike", files)
}

func TestPathMatches(t *testing.T) {
	for _, c := range []struct {
		path, pattern string
		want          bool
	}{
		{"services.a.privileged", "services.*.privileged", true},
		{"services.a.privileged.x", "services.*.privileged", false},
		{"services.a", "services.*.privileged", false},
		{"services.a.ports.0.target", "services.*.ports.[].target", true},
		{"services.a.ports.x.target", "services.*.ports.[].target", false},
		{"services.a.ulimits.nproc", "services.*.ulimits.*", true},
		{"networks.n.external", "networks.*.external", true},
		{"volumes.n.external", "networks.*.external", false},
	} {
		if got := pathMatches(c.path, strings.Split(c.pattern, ".")); got != c.want {
			t.Errorf("pathMatches(%q, %q) = %v, want %v", c.path, c.pattern, got, c.want)
		}
	}
}

// TestNarrowCastsFallback: where compose-go reads files Tycho has not
// indexed, every cast is kept.
func TestNarrowCastsFallback(t *testing.T) {
	details := types.ConfigDetails{WorkingDir: "."}
	all := loader.ToOptions(&details, nil).Interpolate.TypeCastMapping
	for name, src := range map[string]string{
		"include":       "include: [other.yaml]\nservices: {a: {image: x}}\n",
		"extends file":  "services: {a: {image: x, extends: {file: other.yaml, service: b}}}\n",
		"invalid YAML":  "services: {a: [\n",
		"later invalid": "services: {a: {image: x}}\n---\n{\n",
	} {
		m := &srcmap.Map{Files: []*srcmap.Index{srcmap.Parse("compose.yaml", []byte(src))}}
		if got := usedCasts(all, m); len(got) != len(all) {
			t.Errorf("%s: %d casts kept, want all %d", name, len(got), len(all))
		}
	}
	m := &srcmap.Map{Files: []*srcmap.Index{srcmap.Parse("compose.yaml", []byte("services: {a: {image: x, tty: true}}\n"))}}
	if got := usedCasts(all, m); len(got) != 1 {
		t.Errorf("a file writing only tty: %d casts kept, want 1: %v", len(got), got)
	}
}
