package helm_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/helm"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/internal/goldencase"
	"github.com/tychoctl/tycho/policy"
)

// release is the release name of every rendering.
const release = "rel"

// loadFiles loads a chart from the format's files.
func loadFiles(t testing.TB, files []backends.File) *chart.Chart {
	t.Helper()
	bf := make([]*archive.BufferedFile, len(files))
	for i, f := range files {
		bf[i] = &archive.BufferedFile{Name: f.Name, Data: f.Data}
	}
	ch, err := loader.LoadFiles(bf)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return ch
}

// render renders ch with vals (over its defaults) the way helm install
// does, schema validation included, and decodes its objects.
func render(ch *chart.Chart, vals map[string]any, namespace string) ([]map[string]any, error) {
	rv, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals, chartcommon.ReleaseOptions{Name: release, Namespace: namespace, IsInstall: true}, nil, false)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	var objs []map[string]any
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	}) {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		docs, err := decodeDocs(out[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", name, err, out[name])
		}
		objs = append(objs, docs...)
	}
	sortObjects(objs)
	return objs, nil
}

// decodeDocs decodes YAML documents as sigs.k8s.io/yaml does (the way
// kubectl reads them), skipping empty ones.
func decodeDocs(s string) ([]map[string]any, error) {
	var objs []map[string]any
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, err
		}
		var o map[string]any
		if err := json.Unmarshal(j, &o); err != nil {
			return nil, err
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs, nil
}

func objectKey(o map[string]any) string {
	meta, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v", o["kind"], meta["name"])
}

func sortObjects(objs []map[string]any) {
	slices.SortFunc(objs, func(a, b map[string]any) int { return strings.Compare(objectKey(a), objectKey(b)) })
}

// compiledObjects decodes the objects of a compile as printed.
func compiledObjects(t testing.TB, objs []kubernetes.Object) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := kubernetes.Print(&buf, objs, kubernetes.YAML); err != nil {
		t.Fatal(err)
	}
	out, err := decodeDocs(buf.String())
	if err != nil {
		t.Fatal(err)
	}
	sortObjects(out)
	return out
}

// helmLabels are the labels the chart adds; tycho's managed-by is
// replaced by Helm's.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"}

// stripHelmLabels checks Helm's labels on every object and pod template
// and removes them, and Tycho's managed-by label from compiled objects,
// so that the two compare.
func stripHelmLabels(t testing.TB, objs []map[string]any, rendered bool, chartLabel string) {
	t.Helper()
	for _, o := range objs {
		metas := []map[string]any{}
		if m, ok := o["metadata"].(map[string]any); ok {
			metas = append(metas, m)
		}
		if spec, ok := o["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				if m, ok := tmpl["metadata"].(map[string]any); ok {
					metas = append(metas, m)
				}
			}
		}
		for _, m := range metas {
			labels, _ := m["labels"].(map[string]any)
			if rendered {
				want := map[string]any{"helm.sh/chart": chartLabel, "app.kubernetes.io/instance": release, "app.kubernetes.io/managed-by": "Helm"}
				for k, v := range want {
					if labels[k] != v {
						t.Errorf("%s: label %s is %v, want %v", objectKey(o), k, labels[k], v)
					}
				}
			} else if labels[kubernetes.LabelManagedBy] != kubernetes.ManagedBy {
				t.Errorf("%s: compiled without managed-by: tycho", objectKey(o))
			}
			for _, k := range helmLabels {
				delete(labels, k)
			}
			if len(labels) == 0 {
				delete(m, "labels")
			}
		}
	}
}

// sameObjects checks that the chart of in, rendered with its default
// values, gives in's objects.
func sameObjects(t *testing.T, in backends.Input) {
	t.Helper()
	files, err := helm.Format{}.Files(in, backends.Options{})
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	ch := loadFiles(t, files)
	ns := in.System.Namespace
	if ns == "" {
		ns = "default"
	}
	got, err := render(ch, nil, ns)
	if err != nil {
		t.Fatalf("rendering with the default values: %v", err)
	}
	want := compiledObjects(t, in.Objects)
	stripHelmLabels(t, got, true, ch.Metadata.Name+"-"+helm.DefaultVersion)
	stripHelmLabels(t, want, false, "")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rendered chart differs from tycho compile (-want +got):\n%s", diff)
	}
}

// compileInput compiles opts into a format's input.
func compileInput(t testing.TB, opts compiler.Options) (backends.Input, bool) {
	t.Helper()
	res, err := compiler.Compile(context.Background(), opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if res.Diags.HasErrors() {
		return backends.Input{}, false
	}
	return backends.Input{System: res.System, Objects: res.Objects, Options: opts.Backend}, true
}

func defaultOptions() compiler.Options {
	return compiler.Options{
		Lower:  compiler.LowerOptions{Bind: compiler.BindCopy, VolumeSize: compiler.DefaultVolumeSize, Expose: ast.ExposeLoadBalancer},
		Policy: policy.Options{Network: "default", Security: "baseline"},
	}
}

// goldenCases are the cases of testdata/compile (see
// compiler/golden_test.go).
func goldenCases(t *testing.T) []goldencase.Case {
	t.Helper()
	return goldencase.Load(t, "../../testdata/compile/*.txtar")
}

// TestGoldenCases: for every golden case that compiles, the chart of
// `tycho compile --format helm` with the same flags renders, with its
// default values, the objects `tycho compile` prints.
func TestGoldenCases(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			dir, stdin := c.Extract(t)
			stdout, _, code := c.Compile(t, dir, stdin, "-o", "yaml")
			out := filepath.Join(t.TempDir(), "chart")
			_, stderr, hcode := c.Compile(t, dir, stdin, "--format", "helm", "--out-dir", out)
			if code != hcode {
				t.Fatalf("exit %d for manifests, %d for the chart:\n%s", code, hcode, stderr)
			}
			if code != 0 {
				if _, err := os.Stat(out); err == nil {
					t.Fatalf("a failed compile wrote %s", out)
				}
				t.Skipf("the case does not compile (exit %d)", code)
			}
			ch, err := loader.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeDocs(stdout)
			if err != nil {
				t.Fatal(err)
			}
			sortObjects(want)
			ns := "default"
			for _, o := range want {
				if m, _ := o["metadata"].(map[string]any); m["namespace"] != nil {
					ns = m["namespace"].(string)
				}
			}
			got, err := render(ch, nil, ns)
			if err != nil {
				t.Fatalf("rendering with the default values: %v", err)
			}
			stripHelmLabels(t, got, true, ch.Metadata.Name+"-"+helm.DefaultVersion)
			stripHelmLabels(t, want, false, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rendered chart differs from tycho compile (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLint: helm lint --strict passes on the chart of every golden case
// that compiles.
func TestLint(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			dir, stdin := c.Extract(t)
			out := filepath.Join(t.TempDir(), "chart")
			if _, _, code := c.Compile(t, dir, stdin, "--format", "helm", "--out-dir", out); code != 0 {
				t.Skipf("the case does not compile (exit %d)", code)
			}
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = "default"
			res := lint.Run([]string{out}, nil)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 || action.HasWarningsOrErrors(res) {
				t.Errorf("helm lint --strict: %v", res.Errors)
			}
		})
	}
}
