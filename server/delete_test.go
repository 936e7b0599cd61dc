package server

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// TestDeleteAccepted checks the 202 of a delete that goes on: the
// Location and result name the status, which shows the system deleting.
func TestDeleteAccepted(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.add(guidA)
	f.add(guidB)
	s := newTestServer(t, f, nil)
	for _, tt := range []struct {
		guid string
		req  request
	}{
		{guidA, request{method: "DELETE", path: "/v1/systems/" + guidA + "?wait=false"}},
		{guidB, request{method: "POST", path: "/system/delete", body: `{"name": "` + guidB + `", "wait": false}`}},
	} {
		guid, req := tt.guid, tt.req
		t.Run(req.method, func(t *testing.T) {
			w := do(t, s, req)
			var res api.DeleteResult
			env := envelope(t, w, &res)
			want := api.DeleteResult{SID: guid, Deleted: 7, State: api.StateDeleting, StatusURL: "/v1/systems/" + guid}
			if w.Code != 202 || res != want || !res.Pending() {
				t.Errorf("delete: %d %+v, want 202 %+v", w.Code, res, want)
			}
			if got := w.Header().Get("Location"); got != want.StatusURL {
				t.Errorf("Location %q, want %q", got, want.StatusURL)
			}
			if env.Message != "Deleting system "+guid+": GET /v1/systems/"+guid+" shows it deleting until it answers 404" {
				t.Errorf("message %q", env.Message)
			}
			var row api.SystemStatus
			envelope(t, do(t, s, request{method: "GET", path: want.StatusURL}), &row)
			if row.State != api.StateDeleting {
				t.Errorf("status state %q, want %q", row.State, api.StateDeleting)
			}
		})
	}
}

// started starts a small system through the executor on a fake cluster,
// in its own namespace.
func startedOnFake(t *testing.T, guid string) (*executortest.Fake, string) {
	t.Helper()
	f := executortest.New(nil)
	labels := map[string]string{kubernetes.LabelGUID: guid, kubernetes.LabelExecutor: "tycho", kubernetes.LabelPartOf: "demo"}
	one := int32(1)
	dep := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	svc := &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}}
	sys, err := executor.Up(context.Background(), f.Client, executor.UpOptions{System: "demo", GUID: guid, Objects: []kubernetes.Object{svc, dep}})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	return f, sys.Namespace
}

type tlog struct{ t *testing.T }

func (l tlog) Write(b []byte) (int, error) { l.t.Log(string(b)); return len(b), nil }

var gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// TestClusterDelete checks the answers of Cluster.Delete: done, going on
// when the cluster is slow (and finished in the background), resumed by
// a new server after a restart, and not found.
func TestClusterDelete(t *testing.T) {
	t.Parallel()
	t.Run("Done", func(t *testing.T) {
		t.Parallel()
		f, _ := startedOnFake(t, guidA)
		c := &Cluster{Client: f.Client, PollInterval: time.Millisecond}
		d, err := c.Delete(context.Background(), guidA, DeleteOptions{Volumes: true, Wait: true, Timeout: time.Minute})
		// the namespace, the record, the Service and the Deployment
		if d != (Deletion{Deleted: 4}) || err != nil {
			t.Errorf("Delete: %+v, %v; want 4 deleted", d, err)
		}
		if left := f.Names(gvrNamespaces); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
		if _, err := c.Delete(context.Background(), guidA, DeleteOptions{Wait: true, Timeout: time.Minute}); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("second Delete: %v, want api.ErrNotFound", err)
		}
	})
	t.Run("Slow", func(t *testing.T) {
		t.Parallel()
		f, ns := startedOnFake(t, guidA)
		// the namespace controller takes its time: the namespace stays
		// until released
		release := make(chan struct{})
		f.Dyn.PrependReactor("get", "namespaces", func(a clienttesting.Action) (bool, runtime.Object, error) {
			select {
			case <-release:
				return false, nil, nil
			default:
			}
			if a.(clienttesting.GetAction).GetName() != ns {
				return false, nil, nil
			}
			o := &unstructured.Unstructured{}
			o.SetAPIVersion("v1")
			o.SetKind("Namespace")
			o.SetName(ns)
			return true, o, nil
		})
		c := &Cluster{Client: f.Client, PollInterval: time.Millisecond, Log: slog.New(slog.NewTextHandler(tlog{t}, nil))}
		d, err := c.Delete(context.Background(), guidA, DeleteOptions{Volumes: true, Wait: true, Timeout: 50 * time.Millisecond})
		if d != (Deletion{Deleted: 4, Pending: true}) || err != nil {
			t.Errorf("Delete: %+v, %v; want pending", d, err)
		}
		// a second delete joins the first
		d, err = c.Delete(context.Background(), guidA, DeleteOptions{Wait: false, Timeout: time.Minute})
		if d != (Deletion{Deleted: 4, Pending: true}) || err != nil {
			t.Errorf("second Delete: %+v, %v; want pending", d, err)
		}
		close(release)
		c.Wait()
		if _, err := c.Delete(context.Background(), guidA, DeleteOptions{Wait: true, Timeout: time.Minute}); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Delete after the background finished: %v, want api.ErrNotFound", err)
		}
	})
	t.Run("Resumed", func(t *testing.T) {
		t.Parallel()
		f, ns := startedOnFake(t, guidA)
		// a server marks the system, then dies before it deletes anything
		ctx, cancel := context.WithCancel(context.Background())
		dead := true
		f.Dyn.PrependReactor("delete", "namespaces", func(clienttesting.Action) (bool, runtime.Object, error) {
			if !dead {
				return false, nil, nil
			}
			cancel()
			return true, nil, context.Canceled
		})
		old := &Cluster{Client: f.Client, PollInterval: time.Millisecond}
		if _, err := old.Delete(ctx, guidA, DeleteOptions{Volumes: true, Wait: true, Timeout: time.Minute}); err == nil {
			t.Fatal("Delete survived its server")
		}
		old.Wait()
		systems, err := old.Status(context.Background(), guidA)
		if err != nil || len(systems) != 1 || systems[0].State != executor.StateDeleting {
			t.Fatalf("Status: %+v, %v; want the system deleting", systems, err)
		}
		dead = false
		c := &Cluster{Client: f.Client, PollInterval: time.Millisecond}
		guids, err := c.Resume(context.Background())
		if d := cmp.Diff([]string{guidA}, guids); err != nil || d != "" {
			t.Fatalf("Resume: %v (-want +got):\n%s", err, d)
		}
		c.Wait()
		if left := f.Names(gvrNamespaces); len(left) > 0 {
			t.Errorf("left after the resume: %v (namespace %s)", left, ns)
		}
	})
}
