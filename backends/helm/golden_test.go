package helm_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/helm"
	"github.com/tychoctl/tycho/compiler"
)

var update = flag.Bool("update", false, "rewrite the golden charts of testdata/*/chart")

// TestGoldenCharts compares the charts of testdata/<case>/compose.yaml
// with testdata/<case>/chart, file by file, and renders them as compiled.
// -update rewrites them: read every line before committing.
func TestGoldenCharts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts func(*compiler.Options)
	}{
		// a web service published on the host, a database with a volume
		// and a healthcheck: -n shop
		{"web-db", func(o *compiler.Options) { o.Namespace = "shop" }},
		// a digest, resources, client CIDRs, a secret, "{{" in a command;
		// -n shop --create-namespace
		{"shop", func(o *compiler.Options) { o.Namespace, o.CreateNamespace = "shop", true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata", tt.name)
			opts := defaultOptions()
			opts.Load.WorkDir = dir
			opts.Load.Env = map[string]string{"TOKEN": "s3cret"}
			tt.opts(&opts)
			in, ok := compileInput(t, opts)
			if !ok {
				t.Fatal("does not compile")
			}
			files, err := helm.Format{}.Files(in, backends.Options{})
			if err != nil {
				t.Fatal(err)
			}
			again, _ := helm.Format{}.Files(in, backends.Options{})
			if diff := cmp.Diff(files, again); diff != "" {
				t.Fatalf("two packagings differ:\n%s", diff)
			}
			sameObjects(t, in)
			chartDir := filepath.Join(dir, "chart")
			if *update {
				if err := os.RemoveAll(chartDir); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{}
			for _, f := range files {
				p := filepath.Join(chartDir, filepath.FromSlash(f.Name))
				if *update {
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				b, err := os.ReadFile(p)
				if err != nil {
					t.Errorf("%s: %v", f.Name, err)
					continue
				}
				want[f.Name] = string(b)
				if diff := cmp.Diff(string(b), string(f.Data)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", f.Name, diff)
				}
			}
			if *update {
				return
			}
			// no file of the golden chart is left out
			_ = filepath.WalkDir(chartDir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(chartDir, p)
				if _, ok := want[filepath.ToSlash(rel)]; !ok {
					t.Errorf("%s is in the golden chart but not written", rel)
				}
				return nil
			})
		})
	}
}
