package executor_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

func pvc(name, ns, guid string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"}, ObjectMeta: meta(name, ns, guid, ""),
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
}

// started is a cluster with system 1 in its own namespace (with a
// volume) and system 2 in a shared one, next to an object of nobody.
func started() []runtime.Object {
	const ns1, ns2 = "shop-01234567", "team"
	own := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns1, Labels: labels(guid1, "")}}
	shared := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns2}}
	objs := []runtime.Object{own, shared, record(ns1, guid1), pvc("data", ns1, guid1), configMapWithout("mine", ns2), record(ns2, guid2)}
	for _, o := range system(ns1, guid1) {
		objs = append(objs, o)
	}
	for _, o := range system(ns2, guid2) {
		objs = append(objs, o)
	}
	return objs
}

func TestDown(t *testing.T) {
	t.Parallel()
	all := func(ns string, guid string) map[string][]string {
		return map[string][]string{
			"configmaps":             {ns + "/settings", ns + "/tycho-system-" + guid},
			"services":               {ns + "/db", ns + "/web", ns + "/web-published"},
			"deployments":            {ns + "/db", ns + "/web"},
			"persistentvolumeclaims": nil,
		}
	}
	merge := func(ms ...map[string][]string) map[string][]string {
		out := map[string][]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = append(out[k], v...)
			}
		}
		for k := range out {
			out[k] = sorted(out[k])
		}
		return out
	}
	mine := map[string][]string{"configmaps": {"team/mine"}}
	tests := []struct {
		name        string
		guids       []string
		opts        executor.DownOptions
		wantResults []executor.DownResult // Err compared by message
		wantLeft    map[string][]string
		wantNS      []string
	}{
		{
			name:        "OwnNamespaceKeepsVolumes",
			guids:       []string{guid1},
			wantResults: []executor.DownResult{{GUID: guid1, Deleted: 7}},
			wantLeft:    merge(all("team", guid2), mine, map[string][]string{"persistentvolumeclaims": {"shop-01234567/data"}}),
			wantNS:      []string{"/shop-01234567", "/team"},
		},
		{
			name:        "OwnNamespaceWithVolumes",
			guids:       []string{guid1},
			opts:        executor.DownOptions{Volumes: true},
			wantResults: []executor.DownResult{{GUID: guid1, Deleted: 9}},
			wantLeft:    merge(all("team", guid2), mine),
			wantNS:      []string{"/team"},
		},
		{
			name:  "SharedNamespaceAndUnknown",
			guids: []string{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", guid2, "nope", guid2},
			wantResults: []executor.DownResult{
				{GUID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Err: errors.New("system bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb: system not found")},
				{GUID: guid2, Deleted: 7},
				{GUID: "nope", Err: errors.New(`guid "nope": want 32 lowercase hex characters`)},
			},
			wantLeft: merge(all("shop-01234567", guid1), mine, map[string][]string{"persistentvolumeclaims": {"shop-01234567/data"}}),
			wantNS:   []string{"/shop-01234567", "/team"},
		},
		{
			name:        "InItsNamespace",
			guids:       []string{guid1},
			opts:        executor.DownOptions{Namespace: "shop-01234567", Volumes: true},
			wantResults: []executor.DownResult{{GUID: guid1, Deleted: 9}},
			wantLeft:    merge(all("team", guid2), mine),
			wantNS:      []string{"/team"},
		},
		{
			name:        "OtherNamespace",
			guids:       []string{guid1},
			opts:        executor.DownOptions{Namespace: "team"},
			wantResults: []executor.DownResult{{GUID: guid1, Err: errors.New("system " + guid1 + ": system not found")}},
			wantLeft:    merge(all("shop-01234567", guid1), all("team", guid2), mine, map[string][]string{"persistentvolumeclaims": {"shop-01234567/data"}}),
			wantNS:      []string{"/shop-01234567", "/team"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil, started()...)
			tt.opts.Wait = true
			tt.opts.PollInterval = 1
			results, err := executor.Down(context.Background(), f.Client, tt.guids, tt.opts)
			wantErr := false
			for _, r := range tt.wantResults {
				wantErr = wantErr || r.Err != nil
			}
			if (err != nil) != wantErr {
				t.Errorf("Down: error %v, want one: %v", err, wantErr)
			}
			errMsg := cmp.Comparer(func(a, b error) bool {
				return a == nil && b == nil || a != nil && b != nil && a.Error() == b.Error()
			})
			if diff := cmp.Diff(tt.wantResults, results, errMsg); diff != "" {
				t.Errorf("Down results (-want +got):\n%s", diff)
			}
			left := map[string][]string{}
			for _, r := range []string{"configmaps", "services", "deployments", "persistentvolumeclaims"} {
				if names := f.Names(schema.GroupVersionResource{Group: group(r), Version: "v1", Resource: r}); len(names) > 0 {
					left[r] = sorted(names)
				}
			}
			want := map[string][]string{}
			for k, v := range tt.wantLeft {
				if len(v) > 0 {
					want[k] = v
				}
			}
			if diff := cmp.Diff(want, left); diff != "" {
				t.Errorf("left (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNS, sorted(f.Names(gvrNamespaces))); diff != "" {
				t.Errorf("namespaces left (-want +got):\n%s", diff)
			}
		})
	}
}

func group(resource string) string {
	if resource == "deployments" {
		return "apps"
	}
	return ""
}

// Down finds what Up made: up then down leaves nothing.
func TestUpThenDown(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	ctx := context.Background()
	opts := upOptions("", guid1)
	opts.Objects = append(opts.Objects, pvc("data", "", guid1), job("init", "", guid1))
	if _, err := executor.Up(ctx, f.Client, opts); err != nil {
		t.Fatalf("Up: %v", err)
	}
	results, err := executor.Down(ctx, f.Client, []string{guid1}, executor.DownOptions{Volumes: true, Wait: true, PollInterval: 1})
	if err != nil {
		t.Fatalf("Down: %v", err)
	}
	if results[0].Deleted != 10 {
		t.Errorf("Down deleted %d objects, want 10 (8 objects, the record and the namespace)", results[0].Deleted)
	}
	for _, k := range executortest.Kinds {
		gvr, _ := metaGuess(k.GVK)
		if names := f.Names(gvr); len(names) > 0 {
			t.Errorf("%s left: %s", gvr.Resource, strings.Join(names, ", "))
		}
	}
}

func metaGuess(gvk schema.GroupVersionKind) (schema.GroupVersionResource, schema.GroupVersionResource) {
	return apimeta.UnsafeGuessKindToResource(gvk)
}

// A second down of a system whose volumes were kept says so.
func TestDownOnlyVolumesLeft(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil, started()...)
	ctx := context.Background()
	if _, err := executor.Down(ctx, f.Client, []string{guid1}, executor.DownOptions{}); err != nil {
		t.Fatalf("first Down: %v", err)
	}
	_, err := executor.Down(ctx, f.Client, []string{guid1}, executor.DownOptions{})
	want := "system " + guid1 + ": only volumes are left (down --volumes deletes them)"
	if err == nil || err.Error() != want {
		t.Fatalf("second Down: error %v, want %q", err, want)
	}
	results, err := executor.Down(ctx, f.Client, []string{guid1}, executor.DownOptions{Volumes: true})
	if err != nil || results[0].Deleted != 2 {
		t.Fatalf("Down --volumes: %+v, %v; want the claim and the namespace deleted", results, err)
	}
}
