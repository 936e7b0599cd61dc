package server

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/executor/executortest"
)

func deployment(ns, name string, labels map[string]string, containers ...string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	for _, c := range containers {
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: c, Image: "nginx"})
	}
	return d
}

// TestClusterModify checks the patches of Modify and that it touches only
// the workloads Tycho started for the GUID.
func TestClusterModify(t *testing.T) {
	t.Parallel()
	ours := map[string]string{"tycho-guid": guidA, "executor": "tycho"}
	fake := executortest.New([]runtime.Object{
		deployment("a", "web", ours, "web", "sidecar"),
		deployment("a", "db", ours, "db"),
		// the same GUID, not started by Tycho: untouched
		deployment("a", "impostor", map[string]string{"tycho-guid": guidA}, "x"),
		deployment("b", "other", map[string]string{"tycho-guid": guidB, "executor": "tycho"}, "x"),
	})
	c := NewCluster(fake.Client)
	ctx := context.Background()
	patches, err := c.Modify(ctx, guidA, Modification{Labels: map[string]string{"team": "blue"}, CPU: "250m"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range patches {
		got = append(got, p.Kind+" "+p.Namespace+"/"+p.Name+" "+string(p.Patch))
	}
	want := []string{
		`Deployment a/db {"spec":{"template":{"metadata":{"labels":{"team":"blue"}},"spec":{"containers":[{"name":"db","resources":{"limits":{"cpu":"250m"},"requests":{"cpu":"250m"}}}]}}}}`,
		`Deployment a/web {"spec":{"template":{"metadata":{"labels":{"team":"blue"}},"spec":{"containers":[{"name":"web","resources":{"limits":{"cpu":"250m"},"requests":{"cpu":"250m"}}},{"name":"sidecar","resources":{"limits":{"cpu":"250m"},"requests":{"cpu":"250m"}}}]}}}}`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("patches (-want +got):\n%s", d)
	}
	web, err := fake.Typed.AppsV1().Deployments("a").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if web.Spec.Template.Labels["team"] != "blue" || web.Spec.Template.Spec.Containers[1].Resources.Limits.Cpu().String() != "250m" {
		t.Errorf("web not patched: %+v", web.Spec.Template)
	}
	imp, _ := fake.Typed.AppsV1().Deployments("a").Get(ctx, "impostor", metav1.GetOptions{})
	if len(imp.Spec.Template.Labels) != 0 {
		t.Errorf("a Deployment that Tycho did not start was patched")
	}
	if _, err := c.Modify(ctx, guidNone, Modification{CPU: "1"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown GUID: %v, want api.ErrNotFound", err)
	}
}

func TestClusterDeleteUnknown(t *testing.T) {
	t.Parallel()
	c := NewCluster(executortest.New(nil).Client)
	if _, err := c.Delete(context.Background(), guidNone, DeleteOptions{Volumes: true}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Delete of an unknown GUID: %v, want api.ErrNotFound", err)
	}
	systems, err := c.Status(context.Background(), guidNone)
	if err != nil || len(systems) != 0 {
		t.Errorf("Status of an unknown GUID: %v, %v", systems, err)
	}
}
