package kustomize_test

import (
	"bufio"
	"context"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/kustomize"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/policy"
)

// corpusDir is the public compose corpus beside the repository
// (/work/shared/corpus), as in compiler/corpus_test.go.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus")

// loadingUnits are the files of LOADCHECK.md's per-unit table that
// compose-go loads (every unit of the corpus is one file).
func loadingUnits(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "LOADCHECK.md"))
	if err != nil {
		t.Skipf("public corpus not found at %s (it lives beside the repository in shared/corpus): %v", corpusDir, err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([^`]+)` \\| OK \\|")
	var units []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil && !strings.Contains(m[1], "+") {
			units = append(units, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Fatal("LOADCHECK.md: no unit that loads")
	}
	return units
}

// TestCorpus: for every corpus file that compiles, with and without a
// namespace of its own, the Kustomize base builds to the objects of the
// compile in the same order, and the overlay changes exactly what it
// names. The files are built in memory.
func TestCorpus(t *testing.T) {
	t.Parallel()
	units := loadingUnits(t)
	var built atomic.Int64
	t.Run("units", func(t *testing.T) {
		for _, unit := range units {
			for _, ns := range []string{"", "corpus"} {
				t.Run(unit+"/namespace="+ns, func(t *testing.T) {
					t.Parallel()
					opts := compiler.Options{
						Load: compiler.LoadOptions{
							WorkDir:  filepath.Join(corpusDir, filepath.FromSlash(path.Dir(unit))),
							Files:    []string{path.Base(unit)},
							Env:      map[string]string{},
							Profiles: []string{"*"},
						},
						Lower:           compiler.LowerOptions{Bind: compiler.BindCopy, VolumeSize: compiler.DefaultVolumeSize, Expose: ast.ExposeLoadBalancer},
						Policy:          policy.Options{Network: "default", Security: "baseline"},
						Namespace:       ns,
						CreateNamespace: ns != "",
					}
					res, err := compiler.Compile(context.Background(), opts)
					if err != nil {
						t.Fatal(err)
					}
					if res.Diags.HasErrors() {
						t.Skipf("Tycho does not compile it (the compiler's corpus test says why)")
					}
					in := backends.Input{System: res.System, Objects: res.Objects, Options: opts.Backend}
					files, err := kustomize.Format{}.Files(in, backends.Options{})
					if err != nil {
						t.Fatal(err)
					}
					fs := filesys.MakeFsInMemory()
					for _, f := range files {
						if err := fs.WriteFile(path.Join("/k", f.Name), f.Data); err != nil {
							t.Fatal(err)
						}
					}
					checkKustomize(t, fs, "/k", decodeObjects(t, res.Objects))
					built.Add(1)
				})
			}
		}
	})
	t.Logf("corpus: %d units, %d builds checked", len(units), built.Load())
}
