package helm_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/helm"
	"github.com/tychoctl/tycho/compiler"
)

// corpusDir is the public compose corpus beside the repository.
var corpusDir = filepath.Join("..", "..", "..", "shared", "corpus")

// corpusUnits are the units of LOADCHECK.md's per-unit table that
// compose-go loads (see compiler/corpus_test.go), each its files.
func corpusUnits(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "LOADCHECK.md"))
	if err != nil {
		t.Skipf("public corpus not found at %s (it lives beside the repository in shared/corpus): %v", corpusDir, err)
	}
	defer f.Close()
	var units [][]string
	inTable := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inTable = strings.HasPrefix(line, "## Per unit")
			continue
		}
		cols := strings.Split(line, "|")
		if !inTable || !strings.HasPrefix(line, "| `") || len(cols) < 8 || strings.TrimSpace(cols[2]) != "OK" {
			continue
		}
		var files []string
		for _, p := range strings.Split(strings.Trim(strings.TrimSpace(cols[1]), "`"), "+") {
			files = append(files, strings.Trim(strings.TrimSpace(p), "`"))
		}
		units = append(units, files)
	}
	if len(units) == 0 {
		t.Fatal("LOADCHECK.md: no unit that loads")
	}
	return units
}

// TestCorpus: the chart of every corpus file that compiles renders, with
// its default values, the objects of the compile.
func TestCorpus(t *testing.T) {
	t.Parallel()
	for _, files := range corpusUnits(t) {
		t.Run(strings.Join(files, "+"), func(t *testing.T) {
			t.Parallel()
			opts := defaultOptions()
			dir := filepath.Join(corpusDir, filepath.FromSlash(filepath.Dir(files[0])))
			opts.Load.WorkDir = dir
			opts.Load.Env = map[string]string{}
			opts.Load.Profiles = []string{"*"}
			for _, f := range files {
				rel, err := filepath.Rel(dir, filepath.Join(corpusDir, filepath.FromSlash(f)))
				if err != nil {
					t.Fatal(err)
				}
				opts.Load.Files = append(opts.Load.Files, rel)
			}
			in, ok := compileInput(t, opts)
			if !ok {
				t.Skip("does not compile")
			}
			sameObjects(t, in)
		})
	}
}

// valuesFixture has one of everything values.yaml controls.
const valuesFixture = `name: shop
services:
  web:
    image: registry.example.com:5000/team/web:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    ports: ["8080:80"]
    environment:
      MODE: prod
      EMPTY: ""
    deploy:
      resources:
        limits: {memory: 256M}
    secrets: [token]
    x-tycho:
      clients: [10.0.0.0/8]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
secrets:
  token:
    environment: TOKEN
volumes:
  data: {}
`

// fixtureInput compiles valuesFixture.
func fixtureInput(t *testing.T, extra ...func(*compiler.Options)) backends.Input {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(valuesFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := defaultOptions()
	opts.Load.WorkDir = dir
	opts.Load.Env = map[string]string{"TOKEN": "s3cret"}
	opts.Namespace = "shop"
	for _, f := range extra {
		f(&opts)
	}
	in, ok := compileInput(t, opts)
	if !ok {
		res, _ := compiler.Compile(t.Context(), opts)
		t.Fatalf("the fixture does not compile:\n%v", res.Diags)
	}
	return in
}

// changes lists where b differs from a: kind/name, then the field path
// (a missing or added object is kind/name alone).
func changes(a, b []map[string]any) []string {
	byKey := func(objs []map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, o := range objs {
			m[objectKey(o)] = o
		}
		return m
	}
	am, bm := byKey(a), byKey(b)
	var out []string
	for k, ao := range am {
		bo, ok := bm[k]
		if !ok {
			out = append(out, "-"+k)
			continue
		}
		out = append(out, diffPaths(k+":", ao, bo)...)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			out = append(out, "+"+k)
		}
	}
	sort.Strings(out)
	return out
}

func diffPaths(path string, a, b any) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			out = append(out, diffPaths(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		var out []string
		for i := range as {
			out = append(out, diffPaths(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i])...)
		}
		return out
	}
	if cmp.Equal(a, b) {
		return nil
	}
	return []string{path}
}

// TestValues: each value, overridden, changes exactly the fields it names.
func TestValues(t *testing.T) {
	t.Parallel()
	in := fixtureInput(t)
	files, err := helm.Format{}.Files(in, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := loadFiles(t, files)
	base, err := render(ch, nil, "shop")
	if err != nil {
		t.Fatal(err)
	}
	web := func(v map[string]any) map[string]any {
		return map[string]any{"services": map[string]any{"web": v}}
	}
	tests := []struct {
		name string
		vals map[string]any
		want []string
		// check looks at the rendered objects
		check func(objs []map[string]any) string
	}{
		{"image tag", web(map[string]any{"image": map[string]any{"tag": "1.3"}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].image"},
			imageIs("web", "registry.example.com:5000/team/web:1.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
		{"image digest dropped", web(map[string]any{"image": map[string]any{"digest": ""}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].image"},
			imageIs("web", "registry.example.com:5000/team/web:1.2")},
		{"global image registry", map[string]any{"global": map[string]any{"imageRegistry": "mirror.local"}},
			[]string{"Deployment/db:.spec.template.spec.containers[0].image", "Deployment/web:.spec.template.spec.containers[0].image"},
			imageIs("db", "mirror.local/postgres:16")},
		{"pull policy", web(map[string]any{"image": map[string]any{"pullPolicy": "Always"}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].imagePullPolicy"}, nil},
		{"replicas", web(map[string]any{"replicas": 3}),
			[]string{"Deployment/web:.spec.replicas"}, nil},
		{"resources", web(map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "100m"}}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].resources.requests"}, nil},
		{"env value", web(map[string]any{"env": map[string]any{"MODE": "dev"}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].env[1].value"}, nil},
		{"env value set where empty", web(map[string]any{"env": map[string]any{"EMPTY": "x"}}),
			[]string{"Deployment/web:.spec.template.spec.containers[0].env[0].value"}, nil},
		{"publish type", web(map[string]any{"publish": map[string]any{"type": "ClusterIP"}}),
			// Local traffic policy exists for LoadBalancer and NodePort only
			[]string{"Service/web-published:.spec.externalTrafficPolicy", "Service/web-published:.spec.type"}, nil},
		{"publish node port", web(map[string]any{"publish": map[string]any{"type": "NodePort", "ports": map[string]any{"tcp-8080": map[string]any{"nodePort": 30080}}}}),
			[]string{"Service/web-published:.spec.ports[0].nodePort", "Service/web-published:.spec.type"}, nil},
		{"publish port", web(map[string]any{"publish": map[string]any{"ports": map[string]any{"tcp-8080": map[string]any{"port": 9090}}}}),
			[]string{"Service/web-published:.spec.ports[0].port"}, nil},
		{"node selector", web(map[string]any{"nodeSelector": map[string]any{"disk": "ssd"}}),
			[]string{"Deployment/web:.spec.template.spec.nodeSelector"}, nil},
		{"tolerations", web(map[string]any{"tolerations": []any{map[string]any{"key": "k", "operator": "Exists"}}}),
			[]string{"Deployment/web:.spec.template.spec.tolerations"}, nil},
		{"affinity", web(map[string]any{"affinity": map[string]any{"podAntiAffinity": map[string]any{}}}),
			[]string{"Deployment/web:.spec.template.spec.affinity"}, nil},
		{"pod annotations", web(map[string]any{"podAnnotations": map[string]any{"example.com/a": "b"}}),
			[]string{"Deployment/web:.spec.template.metadata.annotations"}, nil},
		{"image pull secrets", map[string]any{"global": map[string]any{"imagePullSecrets": []any{map[string]any{"name": "regcred"}}}},
			[]string{"Deployment/db:.spec.template.spec.imagePullSecrets", "Deployment/web:.spec.template.spec.imagePullSecrets"}, nil},
		{"network policy off", map[string]any{"global": map[string]any{"networkPolicy": map[string]any{"enabled": false}}},
			[]string{"-NetworkPolicy/shop.db", "-NetworkPolicy/shop.web"}, nil},
		{"volume size", map[string]any{"volumes": map[string]any{"data": map[string]any{"size": "5Gi"}}},
			[]string{"PersistentVolumeClaim/data:.spec.resources.requests.storage"}, nil},
		{"volume class", map[string]any{"volumes": map[string]any{"data": map[string]any{"storageClass": "fast"}}},
			[]string{"PersistentVolumeClaim/data:.spec.storageClassName"}, nil},
		{"volume no class", map[string]any{"volumes": map[string]any{"data": map[string]any{"storageClass": "-"}}},
			[]string{"PersistentVolumeClaim/data:.spec.storageClassName"}, nil},
		{"volume access modes", map[string]any{"volumes": map[string]any{"data": map[string]any{"accessModes": []any{"ReadWriteMany"}}}},
			[]string{"PersistentVolumeClaim/data:.spec.accessModes[0]"}, nil},
		{"volume existing claim", map[string]any{"volumes": map[string]any{"data": map[string]any{"existingClaim": "mine"}}},
			[]string{"-PersistentVolumeClaim/data", "Deployment/db:.spec.template.spec.volumes[0].persistentVolumeClaim.claimName"}, nil},
		{"volume disabled", map[string]any{"volumes": map[string]any{"data": map[string]any{"enabled": false}}},
			[]string{"-PersistentVolumeClaim/data", "Deployment/db:.spec.template.spec.volumes[0].emptyDir", "Deployment/db:.spec.template.spec.volumes[0].persistentVolumeClaim"}, nil},
		{"existing secret", map[string]any{"secrets": map[string]any{"token": map[string]any{"existingSecret": "my-token"}}},
			[]string{"-Secret/token", "Deployment/web:.spec.template.spec.volumes[0].secret.secretName"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := render(ch, tt.vals, "shop")
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if diff := cmp.Diff(tt.want, changes(base, got)); diff != "" {
				t.Errorf("changed fields (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				if msg := tt.check(got); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func imageIs(service, want string) func([]map[string]any) string {
	return func(objs []map[string]any) string {
		for _, o := range objs {
			if objectKey(o) != "Deployment/"+service {
				continue
			}
			c := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			if c["image"] != want {
				return fmt.Sprintf("image %v, want %s", c["image"], want)
			}
			return ""
		}
		return "no Deployment/" + service
	}
}

// TestSchema: values that values.schema.json does not allow are rejected.
func TestSchema(t *testing.T) {
	t.Parallel()
	in := fixtureInput(t)
	files, err := helm.Format{}.Files(in, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := loadFiles(t, files)
	web := func(v map[string]any) map[string]any {
		return map[string]any{"services": map[string]any{"web": v}}
	}
	tests := []struct {
		name string
		vals map[string]any
	}{
		{"unknown service", map[string]any{"services": map[string]any{"nope": map[string]any{}}}},
		{"unknown key", web(map[string]any{"replica": 2})},
		{"replicas a string", web(map[string]any{"replicas": "2"})},
		{"negative replicas", web(map[string]any{"replicas": -1})},
		{"pull policy", web(map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}})},
		{"empty repository", web(map[string]any{"image": map[string]any{"repository": ""}})},
		{"env number", web(map[string]any{"env": map[string]any{"MODE": 1}})},
		{"env the chart does not set", web(map[string]any{"env": map[string]any{"NEW": "x"}})},
		{"publish type", web(map[string]any{"publish": map[string]any{"type": "Ingress"}})},
		{"node port out of range", web(map[string]any{"publish": map[string]any{"ports": map[string]any{"tcp-8080": map[string]any{"nodePort": 80}}}})},
		{"unknown port", web(map[string]any{"publish": map[string]any{"ports": map[string]any{"http": map[string]any{"port": 80}}}})},
		{"node selector value", web(map[string]any{"nodeSelector": map[string]any{"a": 1}})},
		{"volume size", map[string]any{"volumes": map[string]any{"data": map[string]any{"size": "lots"}}}},
		{"access mode", map[string]any{"volumes": map[string]any{"data": map[string]any{"accessModes": []any{"ReadWriteSometimes"}}}}},
		{"network policy", map[string]any{"global": map[string]any{"networkPolicy": map[string]any{"enabled": "no"}}}},
		{"pull secret", map[string]any{"global": map[string]any{"imagePullSecrets": []any{"regcred"}}}},
		{"secret", map[string]any{"secrets": map[string]any{"token": map[string]any{"existingSecret": 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := render(ch, tt.vals, "shop"); err == nil || !strings.Contains(err.Error(), "schema") {
				t.Errorf("render = %v, want a schema error", err)
			}
		})
	}
}

// TestNamespaceSecurity: with a Namespace, its Pod Security level is a
// value; without one, there is none.
func TestNamespaceSecurity(t *testing.T) {
	t.Parallel()
	in := fixtureInput(t, func(o *compiler.Options) { o.CreateNamespace = true })
	files, err := helm.Format{}.Files(in, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sameObjects(t, in)
	ch := loadFiles(t, files)
	base, _ := render(ch, nil, "shop")
	got, err := render(ch, map[string]any{"global": map[string]any{"podSecurity": "restricted"}}, "shop")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Namespace/shop:.metadata.labels.pod-security.kubernetes.io/enforce", "Namespace/shop:.metadata.labels.pod-security.kubernetes.io/warn"}
	if diff := cmp.Diff(want, changes(base, got)); diff != "" {
		t.Errorf("changed fields (-want +got):\n%s", diff)
	}
	plain := loadFiles(t, mustFiles(t, fixtureInput(t)))
	if _, err := render(plain, map[string]any{"global": map[string]any{"podSecurity": "restricted"}}, "shop"); err == nil {
		t.Error("podSecurity accepted without a Namespace in the chart")
	}
}

func mustFiles(t *testing.T, in backends.Input) []backends.File {
	t.Helper()
	files, err := helm.Format{}.Files(in, backends.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestChartVersion: versions come from the options; a version that is not
// SemVer is an error.
func TestChartVersion(t *testing.T) {
	t.Parallel()
	in := fixtureInput(t)
	for _, tt := range []struct{ version, app, wantVersion, wantApp string }{
		{"", "", "0.1.0", "0.1.0"},
		{"1.2.3", "", "1.2.3", "1.2.3"},
		{"1.2.3-rc.1+b5", "v7", "1.2.3-rc.1+b5", "v7"},
	} {
		files, err := helm.Format{}.Files(in, backends.Options{Version: tt.version, AppVersion: tt.app})
		if err != nil {
			t.Fatal(err)
		}
		ch := loadFiles(t, files)
		if ch.Metadata.Version != tt.wantVersion || ch.Metadata.AppVersion != tt.wantApp || ch.Metadata.Name != "shop" || ch.Metadata.APIVersion != "v2" {
			t.Errorf("%q %q: Chart.yaml %+v", tt.version, tt.app, ch.Metadata)
		}
	}
	for _, bad := range []string{"1.2", "v1.2.3", "latest"} {
		if _, err := (helm.Format{}).Files(in, backends.Options{Version: bad}); err == nil {
			t.Errorf("version %q accepted", bad)
		}
	}
}
