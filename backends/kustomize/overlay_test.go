package kustomize_test

import (
	"context"
	"encoding/json"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/backends/kustomize"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/policy"
)

// compileInput compiles a compose file given as text.
func compileInput(t *testing.T, compose string, namespace string) backends.Input {
	t.Helper()
	opts := compiler.Options{
		Load:            compiler.LoadOptions{Files: []string{"-"}, Stdin: strings.NewReader(compose), WorkDir: t.TempDir(), Env: map[string]string{}},
		Lower:           compiler.LowerOptions{Bind: compiler.BindCopy, VolumeSize: compiler.DefaultVolumeSize, Expose: ast.ExposeLoadBalancer},
		Policy:          policy.Options{Network: "default", Security: "baseline"},
		Namespace:       namespace,
		CreateNamespace: namespace != "",
	}
	res, err := compiler.Compile(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Diags.HasErrors() {
		t.Fatalf("compile: %v", res.Diags)
	}
	return backends.Input{System: res.System, Objects: res.Objects, Options: opts.Backend}
}

// decodeObjects decodes the objects of a compile as their JSON form.
func decodeObjects(t testing.TB, objs []kubernetes.Object) []object {
	t.Helper()
	out := make([]object, 0, len(objs))
	for _, o := range objs {
		b, err := kubernetes.Marshal(o, kubernetes.JSON)
		if err != nil {
			t.Fatal(err)
		}
		var m object
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestExampleOverlay: which Deployment the example overlay changes, and
// that kustomize builds it to exactly those changes.
func TestExampleOverlay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		namespace string
		compose   string
		want      kustomize.Example
		comment   []string // lines the overlay's comment must hold
	}{
		{
			name: "FirstByName",
			compose: `name: shop
services:
  web: {image: nginx:1.27}
  api: {image: registry.example:5000/team/api:2}`,
			want:    kustomize.Example{Namespace: "shop-example", Deployment: "api", Image: "registry.example:5000/team/api", Tag: "example", Replicas: 2},
			comment: []string{"#   kubectl create namespace shop-example"},
		},
		{
			name: "NotTheOneWithAClaim",
			compose: `name: shop
services:
  db: {image: postgres:16, volumes: ["data:/var/lib/postgresql/data"]}
  web: {image: nginx:1.27, deploy: {replicas: 3}}
volumes: {data: {}}`,
			want: kustomize.Example{Namespace: "shop-example", Deployment: "web", Image: "nginx", Tag: "example", Replicas: 4},
		},
		{
			name: "NotAnImageOthersRun",
			compose: `name: shop
services:
  a: {image: nginx:1.27}
  b: {image: nginx:1.26}
  c: {image: caddy:2}`,
			want: kustomize.Example{Namespace: "shop-example", Deployment: "c", Image: "caddy", Tag: "example", Replicas: 2},
		},
		{
			name:      "SharedImageAndNamespace",
			namespace: "prod",
			compose: `name: shop
services:
  a: {image: nginx:1.27}
  b: {image: "nginx@` + digest + `"}`,
			want:    kustomize.Example{Namespace: "prod-example", NamespaceObject: "prod", Deployment: "a", Image: "nginx", Tag: "example", Replicas: 2, Shared: true},
			comment: []string{"# namespace: every object moves to prod-example. The base's Namespace", "# prod is renamed with it, so applying the overlay creates it."},
		},
		{
			name: "NoDeployment",
			compose: `name: batch
services:
  once: {image: busybox:1.37, restart: "no"}
  everywhere: {image: busybox:1.37, deploy: {mode: global}}`,
			want:    kustomize.Example{Namespace: "batch-example"},
			comment: []string{"# The system has no Deployment, so the overlay changes no image tag or"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := compileInput(t, tt.compose, tt.namespace)
			_, ex := kustomize.ExampleOverlay(in)
			if diff := cmp.Diff(tt.want, ex); diff != "" {
				t.Errorf("ExampleOverlay (-want +got):\n%s", diff)
			}
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
			overlay, err := fs.ReadFile(path.Join("/k", kustomize.Overlay, kustomize.KustomizationFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range tt.comment {
				if !strings.Contains(string(overlay), line+"\n") {
					t.Errorf("the overlay has no line %q:\n%s", line, overlay)
				}
			}
			checkKustomize(t, fs, "/k", decodeObjects(t, in.Objects))
		})
	}
}
