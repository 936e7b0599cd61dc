package executor_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// without returns objs less those named names ("Kind/name").
func without(objs []kubernetes.Object, names ...string) []kubernetes.Object {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	var out []kubernetes.Object
	for _, o := range objs {
		if !drop[o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName()] {
			out = append(out, o)
		}
	}
	return out
}

// Up with fewer objects deletes those of the system it no longer has, and
// nothing else.
func TestUpPrunes(t *testing.T) {
	t.Parallel()
	const own, team = "shop-01234567", "team"
	full := func(ns string) []kubernetes.Object {
		return append(system(ns, guid1), pvc("data", ns, guid1), job("init", ns, guid1))
	}
	// in the shared namespace: another system, an object of nobody, and
	// one of the original Tycho (no executor label) with our GUID
	legacy := configMap("legacy", team, guid1)
	delete(legacy.Labels, kubernetes.LabelExecutor)
	neighbours := []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: team}},
		configMapWithout("mine", team), service("api", team, guid2, "api", "", 80), deployment("api", team, guid2), record(team, guid2), legacy,
	}
	tests := []struct {
		name       string
		ns         string // "" for the system's own
		cluster    []runtime.Object
		second     func(ns string) []kubernetes.Object
		volumes    bool
		wait       bool
		wantPruned []string
		wantLeft   map[schema.GroupVersionResource][]string
	}{
		{
			name:       "Unchanged",
			second:     full,
			wantPruned: nil,
			wantLeft: map[schema.GroupVersionResource][]string{
				gvrDeployments: {own + "/db", own + "/web"},
				gvrPVCs:        {own + "/data"},
				gvrJobs:        {own + "/init"},
			},
		},
		{
			name: "ServiceRemoved",
			second: func(ns string) []kubernetes.Object {
				return without(full(ns), "Deployment/web", "Service/web", "Service/web-published", "Job/init", "PersistentVolumeClaim/data")
			},
			// workloads first; the claim is kept without volumes
			wantPruned: []string{"Job " + own + "/init", "Deployment " + own + "/web", "Service " + own + "/web", "Service " + own + "/web-published"},
			wantLeft: map[schema.GroupVersionResource][]string{
				gvrDeployments: {own + "/db"},
				gvrServices:    {own + "/db"},
				gvrConfigMaps:  {own + "/settings", own + "/tycho-system-" + guid1},
				gvrPVCs:        {own + "/data"},
				gvrJobs:        nil,
				gvrNamespaces:  {"/" + own},
			},
		},
		{
			name:       "Volumes",
			second:     func(ns string) []kubernetes.Object { return without(full(ns), "PersistentVolumeClaim/data") },
			volumes:    true,
			wantPruned: []string{"PersistentVolumeClaim " + own + "/data"},
			wantLeft:   map[schema.GroupVersionResource][]string{gvrPVCs: nil},
		},
		{
			// nothing to wait for but the pruned objects
			name:       "WaitWithoutWorkloads",
			second:     func(ns string) []kubernetes.Object { return []kubernetes.Object{configMap("settings", ns, guid1)} },
			wait:       true,
			wantPruned: []string{"Job " + own + "/init", "Deployment " + own + "/db", "Deployment " + own + "/web", "Service " + own + "/db", "Service " + own + "/web", "Service " + own + "/web-published"},
			wantLeft: map[schema.GroupVersionResource][]string{
				gvrDeployments: nil,
				gvrServices:    nil,
				gvrConfigMaps:  {own + "/settings", own + "/tycho-system-" + guid1},
			},
		},
		{
			name:    "SharedNamespace",
			ns:      team,
			cluster: neighbours,
			second: func(ns string) []kubernetes.Object {
				return without(full(ns), "Deployment/web", "ConfigMap/settings")
			},
			wantPruned: []string{"Deployment " + team + "/web", "ConfigMap " + team + "/settings"},
			wantLeft: map[schema.GroupVersionResource][]string{
				gvrDeployments: {team + "/api", team + "/db"},
				gvrConfigMaps:  {team + "/legacy", team + "/mine", team + "/tycho-system-" + guid1, team + "/tycho-system-" + guid2},
				gvrServices:    {team + "/api", team + "/db", team + "/web", team + "/web-published"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil, tt.cluster...)
			ctx := context.Background()
			ns := tt.ns
			if ns == "" {
				ns = own
			}
			first := upOptions(tt.ns, guid1)
			first.Namespace, first.Objects = tt.ns, full(ns)
			if _, err := executor.Up(ctx, f.Client, first); err != nil {
				t.Fatalf("first Up: %v", err)
			}
			opts := upOptions(tt.ns, guid1)
			opts.Namespace, opts.Objects = tt.ns, tt.second(ns)
			opts.PruneVolumes, opts.Wait = tt.volumes, tt.wait
			var pruned []string
			opts.Pruned = func(o string) { pruned = append(pruned, o) }
			if _, err := executor.Up(ctx, f.Client, opts); err != nil {
				t.Fatalf("second Up: %v", err)
			}
			if diff := cmp.Diff(tt.wantPruned, pruned); diff != "" {
				t.Errorf("pruned (-want +got):\n%s", diff)
			}
			for gvr, want := range tt.wantLeft {
				if diff := cmp.Diff(want, sorted(f.Names(gvr))); diff != "" {
					t.Errorf("%s left (-want +got):\n%s", gvr.Resource, diff)
				}
			}
		})
	}
}
