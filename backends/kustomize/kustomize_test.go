package kustomize_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/pkg/util"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/backends/kustomize"
	"github.com/tychoctl/tycho/internal/goldencase"
)

var update = flag.Bool("update", false, "rewrite the golden outputs of testdata/*.txtar")

// object is one decoded Kubernetes object, as its JSON form decodes: what
// the API server would read, whatever the printer's key order.
type object = map[string]any

// decodeStream decodes YAML documents, or a JSON v1 List, into objects.
func decodeStream(t testing.TB, data []byte) []object {
	t.Helper()
	var objs []object
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var o object
		if err := dec.Decode(&o); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decoding: %v", err)
		}
		if len(o) == 0 {
			continue
		}
		if o["kind"] == "List" {
			for _, item := range o["items"].([]any) {
				objs = append(objs, item.(object))
			}
			continue
		}
		objs = append(objs, o)
	}
	return objs
}

// build runs kustomize (its Go packages, as kubectl kustomize does) on dir.
func build(t testing.TB, fs filesys.FileSystem, dir string) []object {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	// as kubectl kustomize: the kustomization's sortOptions decide, and
	// without them kustomize's legacy order (krusty's default keeps the
	// input order, which would hide a missing sortOptions)
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return decodeStream(t, out)
}

// readKustomization reads the overlay's kustomization.yaml: the test
// checks that the overlay changes what it names.
func readKustomization(t testing.TB, data []byte) types.Kustomization {
	t.Helper()
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization: %v", err)
	}
	return k
}

// podSpecs are the pod specs of a decoded workload.
func podSpecs(o object) []object {
	spec, _ := o["spec"].(object)
	switch o["kind"] {
	case "Deployment", "DaemonSet", "StatefulSet", "Job":
		tmpl, _ := spec["template"].(object)
		ps, _ := tmpl["spec"].(object)
		return []object{ps}
	case "Pod":
		return []object{spec}
	}
	return nil
}

// applyOverlay is what the overlay k must make of base: every object in
// k.Namespace (the Namespace object renamed to it, the RoleBindings'
// service-account subjects with it), the replicas and the image tags k
// names, and nothing else.
func applyOverlay(t testing.TB, base []object, k types.Kustomization) []object {
	t.Helper()
	b, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	var want []object
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for _, o := range want {
		meta := o["metadata"].(object)
		if k.Namespace != "" {
			if o["kind"] == "Namespace" {
				meta["name"] = k.Namespace
			} else {
				meta["namespace"] = k.Namespace
			}
			if o["kind"] == "RoleBinding" {
				for _, s := range o["subjects"].([]any) {
					if s := s.(object); s["kind"] == "ServiceAccount" {
						s["namespace"] = k.Namespace
					}
				}
			}
		}
		for _, r := range k.Replicas {
			if o["kind"] == "Deployment" && meta["name"] == r.Name {
				o["spec"].(object)["replicas"] = float64(r.Count)
			}
		}
		for _, ps := range podSpecs(o) {
			for _, field := range []string{"initContainers", "containers"} {
				cs, _ := ps[field].([]any)
				for _, c := range cs {
					c := c.(object)
					name, _, _ := util.SplitImageName(c["image"].(string))
					for _, img := range k.Images {
						if name == img.Name {
							c["image"] = name + ":" + img.NewTag
						}
					}
				}
			}
		}
	}
	return want
}

// checkKustomize checks the output of `tycho compile --format kustomize`
// in fs at dir against the objects of `tycho compile` with the same flags:
// the base builds to them in the same order, and the overlay changes
// exactly what it names, which is a Deployment's replicas and image tag
// when the system has a Deployment.
func checkKustomize(t *testing.T, fs filesys.FileSystem, dir string, want []object) {
	t.Helper()
	base := build(t, fs, filepath.Join(dir, kustomize.Base))
	if diff := cmp.Diff(want, base); diff != "" {
		t.Fatalf("kustomize build base (-tycho compile +kustomize):\n%s", diff)
	}
	data, err := fs.ReadFile(filepath.Join(dir, kustomize.Overlay, kustomize.KustomizationFile))
	if err != nil {
		t.Fatal(err)
	}
	k := readKustomization(t, data)
	var deployments []string
	for _, o := range want {
		if o["kind"] == "Deployment" {
			deployments = append(deployments, o["metadata"].(object)["name"].(string))
		}
	}
	switch {
	case k.Namespace == "":
		t.Errorf("the overlay sets no namespace")
	case len(deployments) == 0 && (len(k.Images) > 0 || len(k.Replicas) > 0):
		t.Errorf("no Deployment, but the overlay overrides images %v, replicas %v", k.Images, k.Replicas)
	case len(deployments) > 0 && (len(k.Images) != 1 || len(k.Replicas) != 1):
		t.Errorf("Deployments %v, but the overlay overrides images %v, replicas %v: want one of each", deployments, k.Images, k.Replicas)
	}
	wantOverlay := applyOverlay(t, want, k)
	// each override must change something: the test of "exactly" could not
	// fail for an override that changes nothing
	for _, override := range []types.Kustomization{{Namespace: k.Namespace}, {Images: k.Images}, {Replicas: k.Replicas}} {
		if len(want) > 0 && cmp.Equal(applyOverlay(t, want, override), want) && (override.Namespace != "" || len(override.Images)+len(override.Replicas) > 0) {
			t.Errorf("the overlay's override %+v changes nothing", override)
		}
	}
	got := build(t, fs, filepath.Join(dir, kustomize.Overlay))
	if diff := cmp.Diff(wantOverlay, got); diff != "" {
		t.Errorf("kustomize build overlay (-base with the overrides +kustomize):\n%s", diff)
	}
}

// TestGoldenCases: for every golden case of the compiler that compiles,
// the Kustomize base builds to the objects of `tycho compile` with the
// same flags, in the same order, and the overlay changes exactly what it
// names.
func TestGoldenCases(t *testing.T) {
	t.Parallel()
	for _, c := range goldencase.Load(t, "../../testdata/compile/*.txtar") {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			dir, stdin := c.Extract(t)
			stdout, stderr, code := c.Compile(t, dir, stdin)
			if code != 0 {
				t.Skipf("the case does not compile (exit %d)", code)
			}
			out := filepath.Join(dir, "k")
			_, stderr2, code := c.Compile(t, dir, stdin, "--format", "kustomize", "--out-dir", out)
			if code != 0 || stderr2 != stderr {
				t.Fatalf("--format kustomize: exit %d, diagnostics differ from --format manifests:\n%s\nwant\n%s", code, stderr2, stderr)
			}
			checkKustomize(t, filesys.MakeFsOnDisk(), out, decodeStream(t, []byte(stdout)))
		})
	}
}

// TestGolden compares the whole output of the cases of testdata/ with
// their want/ files; -update rewrites them.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, c := range goldencase.Load(t, "testdata/*.txtar") {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			dir, stdin := c.Extract(t)
			out := filepath.Join(dir, "k")
			_, stderr, code := c.Compile(t, dir, stdin, "--format", "kustomize", "--out-dir", out)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			got := map[string][]byte{}
			err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				rel, _ := filepath.Rel(out, p)
				got["want/"+filepath.ToSlash(rel)] = b
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				write(t, c, got)
				return
			}
			for _, f := range c.Archive.Files {
				if !strings.HasPrefix(f.Name, "want/") {
					continue
				}
				g, ok := got[f.Name]
				if !ok {
					t.Errorf("%s: not written", f.Name)
					continue
				}
				delete(got, f.Name)
				if diff := cmp.Diff(string(f.Data), string(g)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", f.Name, diff)
				}
			}
			for name := range got {
				t.Errorf("%s: written, not in the golden file", name)
			}
		})
	}
}

// write replaces the want/ files of c by got.
func write(t *testing.T, c goldencase.Case, got map[string][]byte) {
	t.Helper()
	var files []txtar.File
	for _, f := range c.Archive.Files {
		if !strings.HasPrefix(f.Name, "want/") {
			files = append(files, f)
		}
	}
	// the base's kustomization first, then its objects, then the overlay:
	// the order a reader follows
	var names []string
	for name := range got {
		names = append(names, name)
	}
	rank := func(n string) string {
		switch {
		case strings.HasSuffix(n, "base/"+kustomize.KustomizationFile):
			return "0"
		case strings.HasPrefix(n, "want/base/"):
			return "1" + n
		}
		return "2" + n
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(rank(a), rank(b)) })
	for _, name := range names {
		files = append(files, txtar.File{Name: name, Data: got[name]})
	}
	c.Archive.Files = files
	if err := os.WriteFile(c.Path, txtar.Format(c.Archive), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKubectlKustomize: the real `kubectl kustomize` builds the base and
// the overlay of a case to what kustomize's Go packages build.
func TestKubectlKustomize(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skipf("kubectl not on PATH: %v", err)
	}
	c := goldencase.Load(t, "testdata/namespace.txtar")[0]
	dir, stdin := c.Extract(t)
	stdout, stderr, code := c.Compile(t, dir, stdin)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	out := filepath.Join(dir, "k")
	if _, stderr, code := c.Compile(t, dir, stdin, "--format", "kustomize", "--out-dir", out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, sub := range []string{kustomize.Base, kustomize.Overlay} {
		b, err := exec.Command(kubectl, "kustomize", filepath.Join(out, sub)).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", sub, err)
		}
		want := build(t, filesys.MakeFsOnDisk(), filepath.Join(out, sub))
		if diff := cmp.Diff(want, decodeStream(t, b)); diff != "" {
			t.Errorf("kubectl kustomize %s (-krusty +kubectl):\n%s", sub, diff)
		}
		if sub == kustomize.Base {
			if diff := cmp.Diff(decodeStream(t, []byte(stdout)), decodeStream(t, b)); diff != "" {
				t.Errorf("kubectl kustomize base (-tycho compile +kubectl):\n%s", diff)
			}
		}
	}
}
