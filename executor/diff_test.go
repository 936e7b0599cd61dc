package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

func secret(name, ns, guid string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta(name, ns, guid, ""), StringData: data}
}

func diffOptions(objs []kubernetes.Object) executor.DiffOptions {
	return executor.DiffOptions{System: "shop", SecurityLevel: "baseline", Objects: objs, GUID: guid1}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	running := func() []kubernetes.Object {
		return append(system(ns, guid1), secret("token", ns, guid1, map[string]string{"a": "1", "b": "2"}))
	}
	changedSettings := configMap("settings", ns, guid1)
	changedSettings.Data["k"] = "v2"
	type change struct {
		Object string
		Change executor.Change
	}
	tests := []struct {
		name    string
		started bool // Up ran with running() first
		objects []kubernetes.Object
		volumes bool
		want    []change
		// lines that the unified diff of each object contains
		wantLines map[string][]string
		wantErr   string
	}{
		{name: "Unchanged", started: true, objects: running()},
		{
			name:    "Changed",
			started: true,
			objects: append(without(running(), "ConfigMap/settings", "Deployment/web", "Secret/token"),
				changedSettings, configMap("extra", ns, guid1), secret("token", ns, guid1, map[string]string{"a": "1", "b": "3"})),
			want: []change{
				{"ConfigMap " + ns + "/settings", executor.ChangeUpdate},
				{"ConfigMap " + ns + "/extra", executor.ChangeCreate},
				{"Secret " + ns + "/token", executor.ChangeUpdate},
				{"Deployment " + ns + "/web", executor.ChangePrune},
			},
			wantLines: map[string][]string{
				"ConfigMap " + ns + "/settings": {"--- live/ConfigMap " + ns + "/settings\n+++ tycho/ConfigMap " + ns + "/settings\n@@ ", "\n-  k: v\n+  k: v2\n"},
				"ConfigMap " + ns + "/extra":    {"--- /dev/null\n+++ tycho/ConfigMap " + ns + "/extra\n@@ -0,0 +1,", "\n+kind: ConfigMap\n"},
				"Secret " + ns + "/token":       {"\n   a: '***'\n-  b: '*** (before)'\n+  b: '*** (after)'\n"},
				"Deployment " + ns + "/web":     {"--- live/Deployment " + ns + "/web\n+++ /dev/null\n@@ -1,", "\n-kind: Deployment\n"},
			},
		},
		{
			name:    "NewSystem",
			objects: system(ns, guid1)[:2],
			want: []change{
				{"Namespace/" + ns, executor.ChangeCreate},
				{"ConfigMap " + ns + "/settings", executor.ChangeCreate},
				{"Service " + ns + "/db", executor.ChangeCreate},
			},
			wantLines: map[string][]string{
				"Namespace/" + ns: {"\n+    pod-security.kubernetes.io/enforce: baseline\n"},
			},
		},
		{
			name:    "AnotherSystemsObject",
			started: true,
			objects: append(running(), configMap("theirs", ns, guid2)),
			wantErr: "ConfigMap " + ns + "/theirs: labelled tycho-guid=\"" + guid2 + "\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			ctx := context.Background()
			if tt.started {
				opts := upOptions("", guid1)
				opts.Objects = running()
				if _, err := executor.Up(ctx, f.Client, opts); err != nil {
					t.Fatalf("Up: %v", err)
				}
			}
			applied := len(f.Applied)
			opts := diffOptions(tt.objects)
			opts.PruneVolumes = tt.volumes
			diffs, err := executor.Diff(ctx, f.Client, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Diff: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			var got []change
			for _, d := range diffs {
				got = append(got, change{d.Object, d.Change})
				u := d.Unified()
				for _, w := range tt.wantLines[d.Object] {
					if !strings.Contains(u, w) {
						t.Errorf("diff of %s:\n%s\ndoes not contain %q", d.Object, u, w)
					}
				}
				if strings.Contains(u, "resourceVersion") || strings.Contains(u, "managedFields") {
					t.Errorf("diff of %s shows the server's fields:\n%s", d.Object, u)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if len(f.Applied) != applied {
				t.Errorf("Diff applied %q", f.Applied[applied:])
			}
		})
	}
}

// Diff dry-runs every object of a running system, and changes nothing.
func TestDiffDryRuns(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	ctx := context.Background()
	if _, err := executor.Up(ctx, f.Client, upOptions("", guid1)); err != nil {
		t.Fatalf("Up: %v", err)
	}
	before := get(t, f, gvrConfigMaps, "shop-01234567", "settings")
	changed := system("shop-01234567", guid1)
	changed[0].(*corev1.ConfigMap).Data["k"] = "changed"
	if _, err := executor.Diff(ctx, f.Client, diffOptions(changed)); err != nil {
		t.Fatalf("Diff: %v", err)
	}
	want := []string{
		"Namespace /shop-01234567", "ConfigMap shop-01234567/settings",
		"Service shop-01234567/db", "Service shop-01234567/web", "Service shop-01234567/web-published",
		"Deployment shop-01234567/db", "Deployment shop-01234567/web",
	}
	if diff := cmp.Diff(sorted(want), sorted(f.DryRuns)); diff != "" {
		t.Errorf("dry-runs (-want +got):\n%s", diff)
	}
	after := get(t, f, gvrConfigMaps, "shop-01234567", "settings")
	if diff := cmp.Diff(before.Object, after.Object); diff != "" {
		t.Errorf("Diff changed the ConfigMap (-before +after):\n%s", diff)
	}
}
