package executor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// calls records the mutating calls of the dynamic fake, "verb resource
// namespace/name", in order.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) watch(f *executortest.Fake) {
	f.Dyn.PrependReactor("*", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		name := ""
		switch a := a.(type) {
		case clienttesting.PatchAction:
			if a.GetPatchType() != "application/merge-patch+json" {
				return false, nil, nil // Up's applies are not counted
			}
			name = a.GetName()
		case clienttesting.DeleteAction:
			name = a.GetName()
		case clienttesting.DeleteCollectionActionImpl:
			name = "(" + a.GetListRestrictions().Labels.String() + ")"
		default:
			return false, nil, nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.log = append(c.log, fmt.Sprintf("%s %s %s/%s", a.GetVerb(), a.GetResource().Resource, a.GetNamespace(), name))
		return false, nil, nil
	})
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// bigSystem is a system of n services in ns (its own when own), with its
// record.
func bigSystem(ns, guid string, n int, own bool) []runtime.Object {
	var objs []runtime.Object
	if own {
		objs = append(objs, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels(guid, "")}})
	} else {
		objs = append(objs, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	objs = append(objs, record(ns, guid), configMap("settings", ns, guid))
	for i := range n {
		name := fmt.Sprintf("svc%03d", i)
		objs = append(objs, deployment(name, ns, guid), service(name, ns, guid, name, "", 80))
	}
	return objs
}

const (
	selSystem  = "(executor=tycho,tycho-guid=" + guid1 + ")"
	markPatchF = "patch %s %s/%s"
)

// Down marks the system first, then deletes it with a number of calls that
// does not grow with its size: one namespace delete where the system owns
// its namespace, one collection delete per kind present in a shared one.
func TestDownBulk(t *testing.T) {
	t.Parallel()
	cmRest := "delete-collection configmaps team/(app.kubernetes.io/component!=tycho-system,executor=tycho,tycho-guid=" + guid1 + ")"
	tests := []struct {
		name string
		ns   string
		own  bool
		opts executor.DownOptions
		// want are the mutating calls, for 1 service and for 40
		want        []string
		wantDeleted func(n int) int
	}{
		{
			name: "OwnNamespace",
			ns:   "shop-01234567", own: true,
			opts: executor.DownOptions{Volumes: true, Wait: true},
			want: []string{
				fmt.Sprintf(markPatchF, "namespaces", "", "shop-01234567"),
				fmt.Sprintf(markPatchF, "configmaps", "shop-01234567", "tycho-system-"+guid1),
				"delete namespaces /shop-01234567",
			},
			// the record, settings, the namespace, n Deployments and Services
			wantDeleted: func(n int) int { return 3 + 2*n },
		},
		{
			name: "SharedNamespace",
			ns:   "team",
			opts: executor.DownOptions{Wait: true},
			want: []string{
				fmt.Sprintf(markPatchF, "configmaps", "team", "tycho-system-"+guid1),
				"delete-collection deployments team/" + selSystem,
				"delete-collection services team/" + selSystem,
				cmRest,
				"delete configmaps team/tycho-system-" + guid1, // last: it holds the mark
			},
			wantDeleted: func(n int) int { return 2 + 2*n },
		},
		{
			name: "SharedNamespaceNoWait",
			ns:   "team",
			opts: executor.DownOptions{},
			want: []string{
				fmt.Sprintf(markPatchF, "configmaps", "team", "tycho-system-"+guid1),
				"delete-collection deployments team/" + selSystem,
				"delete-collection services team/" + selSystem,
				"delete-collection configmaps team/" + selSystem,
				"delete configmaps team/tycho-system-" + guid1,
			},
			wantDeleted: func(n int) int { return 2 + 2*n },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, n := range []int{1, 40} {
				f := executortest.New(nil, bigSystem(tt.ns, guid1, n, tt.own)...)
				var c calls
				c.watch(f)
				opts := tt.opts
				opts.PollInterval = time.Millisecond
				results, err := executor.Down(context.Background(), f.Client, []string{guid1}, opts)
				if err != nil {
					t.Fatalf("%d services: Down: %v", n, err)
				}
				want := []executor.DownResult{{GUID: guid1, Deleted: tt.wantDeleted(n), Pending: !opts.Wait}}
				if d := cmp.Diff(want, results); d != "" {
					t.Errorf("%d services: results (-want +got):\n%s", n, d)
				}
				if d := cmp.Diff(tt.want, c.get()); d != "" {
					t.Errorf("%d services: calls (-want +got):\n%s", n, d)
				}
				for _, gvr := range []schema.GroupVersionResource{gvrDeployments, gvrServices, gvrConfigMaps} {
					if left := f.Names(gvr); len(left) > 0 {
						t.Errorf("%d services: %s left: %v", n, gvr.Resource, left)
					}
				}
			}
		})
	}
}

// markedLabels reads the mark of an object of the fake.
func markedLabels(t *testing.T, f *executortest.Fake, gvr schema.GroupVersionResource, ns, name string) (string, string) {
	t.Helper()
	o := get(t, f, gvr, ns, name)
	return o.GetLabels()[executor.LabelDeleting], o.GetAnnotations()[executor.AnnotationDeleteVolumes]
}

// A Down cut short after the mark leaves a system that Status shows
// deleting, that Marked finds, and that the next Down (or a server
// resuming it) finishes with the volumes decision of the first; a Down of
// a GUID that is gone then is ErrNotFound.
func TestDownResume(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	objs := append(bigSystem(ns, guid1, 3, true), pvc("data", ns, guid1))
	f := executortest.New(nil, objs...)
	// the mirror into the typed fake, for Status
	for _, o := range objs {
		_ = f.Typed.Tracker().Add(o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// the engine dies right after the mark: the first delete never happens
	var dead atomic.Bool
	dead.Store(true)
	f.Dyn.PrependReactor("delete", "namespaces", func(clienttesting.Action) (bool, runtime.Object, error) {
		if !dead.Load() {
			return false, nil, nil
		}
		cancel()
		return true, nil, context.Canceled
	})
	now := func() time.Time { return time.Unix(1700000000, 0) }
	results, err := executor.Down(ctx, f.Client, []string{guid1}, executor.DownOptions{Volumes: true, Wait: true, Now: now})
	if err == nil || !errors.Is(results[0].Err, context.Canceled) {
		t.Fatalf("first Down: %+v, %v; want it cancelled", results, err)
	}
	for _, o := range []struct {
		gvr      schema.GroupVersionResource
		ns, name string
	}{
		{gvrNamespaces, "", ns}, {gvrConfigMaps, ns, executor.RecordName(guid1)},
	} {
		at, vols := markedLabels(t, f, o.gvr, o.ns, o.name)
		if at != "1700000000" || vols != "true" {
			t.Errorf("%s %s: mark %q, volumes %q; want 1700000000, true", o.gvr.Resource, o.name, at, vols)
		}
	}
	systems, err := executor.Status(context.Background(), f.Client, executor.StatusOptions{GUID: guid1})
	if err != nil || len(systems) != 1 || systems[0].State != executor.StateDeleting {
		t.Errorf("Status: %+v, %v; want one system deleting", systems, err)
	}
	marked, err := executor.Marked(context.Background(), f.Client, "")
	if d := cmp.Diff([]string{guid1}, marked); err != nil || d != "" {
		t.Errorf("Marked: %v (-want +got):\n%s", err, d)
	}

	// resume: a Down without Volumes still takes them, as the mark says
	dead.Store(false) // a new server
	results, err = executor.Down(context.Background(), f.Client, marked, executor.DownOptions{Wait: true, PollInterval: time.Millisecond})
	if err != nil || len(results) != 1 || results[0].Deleted != 1+2+2*3+1 || results[0].Pending {
		t.Fatalf("resumed Down: %+v, %v; want everything deleted (namespace, record, settings, 3 services, the claim)", results, err)
	}
	if left := append(f.Names(gvrNamespaces), f.Names(gvrPVCs)...); len(left) > 0 {
		t.Errorf("left after the resumed Down: %v", left)
	}
	if marked, err := executor.Marked(context.Background(), f.Client, ""); err != nil || len(marked) != 0 {
		t.Errorf("Marked after: %v, %v", marked, err)
	}
	_, err = executor.Down(context.Background(), f.Client, []string{guid1}, executor.DownOptions{Wait: true})
	if !errors.Is(err, executor.ErrNotFound) {
		t.Errorf("Down of a deleted system: %v, want ErrNotFound", err)
	}
}

// While Down waits, it deletes again what a concurrent Up made after the
// collection delete, and so leaves nothing.
func TestDownDeletesStragglers(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil, bigSystem("team", guid1, 2, false)...)
	var deleted, straggled atomic.Bool
	f.Dyn.PrependReactor("delete-collection", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		deleted.Store(true)
		return false, nil, nil
	})
	f.Dyn.PrependReactor("list", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		if deleted.Load() && !straggled.Swap(true) {
			// an Up that had not seen the mark makes one more
			u, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(deployment("late", "team", guid1))
			if err := f.Dyn.Tracker().Create(gvrDeployments, &unstructured.Unstructured{Object: u}, "team"); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	var c calls
	c.watch(f)
	results, err := executor.Down(context.Background(), f.Client, []string{guid1}, executor.DownOptions{Wait: true, PollInterval: time.Millisecond, Timeout: 10 * time.Second})
	if err != nil || results[0].Pending {
		t.Fatalf("Down: %+v, %v", results, err)
	}
	if left := f.Names(gvrDeployments); len(left) > 0 {
		t.Errorf("Deployments left: %v", left)
	}
	n := 0
	for _, call := range c.get() {
		if strings.HasPrefix(call, "delete-collection deployments") {
			n++
		}
	}
	if n < 2 {
		t.Errorf("Deployments deleted %d times, want again for the straggler: %q", n, c.get())
	}
}

// An Up of a system marked deleting creates nothing; an Up that sees the
// mark appear half way stops and deletes what it made, in bulk.
func TestUpStopsWhenDeleting(t *testing.T) {
	t.Parallel()
	t.Run("MarkedBefore", func(t *testing.T) {
		t.Parallel()
		rec := record("team", guid1)
		rec.Labels[executor.LabelDeleting] = "1700000000"
		f := executortest.New(nil, &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "team"}}, rec)
		opts := upOptions("team", guid1)
		opts.Namespace = "team"
		_, err := executor.Up(context.Background(), f.Client, opts)
		if !errors.Is(err, executor.ErrDeleting) {
			t.Fatalf("Up: %v, want ErrDeleting", err)
		}
		if len(f.Applied) != 0 {
			t.Errorf("Up applied %q, want nothing", f.Applied)
		}
	})
	t.Run("MarkedDuring", func(t *testing.T) {
		t.Parallel()
		f := executortest.New(nil)
		const ns = "shop-01234567"
		var once sync.Once
		f.Dyn.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
			once.Do(func() {
				// a delete marks the system while its Services are applied
				o, err := f.Dyn.Tracker().Get(gvrConfigMaps, ns, executor.RecordName(guid1))
				if err != nil {
					t.Error(err)
					return
				}
				rec := o.(*unstructured.Unstructured)
				l := rec.GetLabels()
				l[executor.LabelDeleting] = "1700000000"
				rec.SetLabels(l)
				if err := f.Dyn.Tracker().Update(gvrConfigMaps, rec, ns); err != nil {
					t.Error(err)
				}
			})
			return false, nil, nil
		})
		_, err := executor.Up(context.Background(), f.Client, upOptions("", guid1))
		var ue *executor.UpError
		if !errors.As(err, &ue) || !errors.Is(err, executor.ErrDeleting) {
			t.Fatalf("Up: %v, want an UpError for ErrDeleting", err)
		}
		for _, a := range f.Applied {
			if strings.HasPrefix(a, "Deployment ") {
				t.Errorf("Up applied %s after the mark", a)
			}
		}
		if left := append(f.Names(gvrDeployments), f.Names(gvrServices)...); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
	})
}

// Status shows a system deleting while its record or its namespace is
// marked, the record gone or not.
func TestStatusDeleting(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels(guid1, "")}}
	nsObj.Labels[executor.LabelDeleting] = "1700000000"
	nsObj.Labels[kubernetes.LabelPartOf] = "shop"
	f := executortest.New([]runtime.Object{nsObj})
	systems, err := executor.Status(context.Background(), f.Client, executor.StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []executor.System{{Name: "shop", GUID: guid1, Namespace: ns, OwnNamespace: true, State: executor.StateDeleting,
		Services: []executor.Service{}, Endpoints: []executor.Endpoint{}}}
	if d := cmp.Diff(want, systems); d != "" {
		t.Errorf("Status (-want +got):\n%s", d)
	}
}
