// Package executortest provides a fake executor.Client for unit tests: a
// fake clientset, a fake dynamic client that supports server-side apply
// (create or replace; a dry run stores nothing), container logs set with
// SetLogs, and a static RESTMapper for the kinds Tycho uses.
//
// What is applied or deleted through the dynamic fake is mirrored into the
// typed fake (keeping the status a test gave a typed object), so that
// Status and Up's wait see it; objects given to New are not mirrored. It
// is a fake: proofs against a real API server are in test/e2e.
package executortest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/executor"
)

// Kinds are the kinds the fake maps, with their scope.
var Kinds = []struct {
	GVK        schema.GroupVersionKind
	Namespaced bool
}{
	{schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, false},
	{schema.GroupVersionKind{Version: "v1", Kind: "Node"}, false},
	{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, true},
	{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, true},
	{schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}, true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Service"}, true},
	{schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, true},
	{schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}, true},
	{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}, true},
	{schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}, true},
	{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}, true},
	{schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}, true},
	{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, true},
	{schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}, true},
}

// Fake is a fake executor.Client with access to its fakes.
type Fake struct {
	*executor.Client
	Typed   *fake.Clientset
	Dyn     *dynamicfake.FakeDynamicClient
	Mapper  *meta.DefaultRESTMapper
	Applied []string // "Kind namespace/name" of every apply, in order
	// DryRuns are "Kind namespace/name" of every dry-run apply, which the
	// fake answers without storing anything.
	DryRuns []string

	mu      sync.Mutex
	logs    map[string]string // container → logs
	logOpts []corev1.PodLogOptions
}

// New returns a Fake whose typed client holds typed and whose dynamic
// client holds dyn (unstructured objects, or typed ones with TypeMeta).
func New(typed []runtime.Object, dyn ...runtime.Object) *Fake {
	mapper := meta.NewDefaultRESTMapper(nil)
	listKinds := map[schema.GroupVersionResource]string{}
	for _, k := range Kinds {
		scope := meta.RESTScopeRoot
		if k.Namespaced {
			scope = meta.RESTScopeNamespace
		}
		mapper.Add(k.GVK, scope)
		plural, _ := meta.UnsafeGuessKindToResource(k.GVK)
		listKinds[plural] = k.GVK.Kind + "List"
	}
	var objs []runtime.Object
	for _, o := range dyn {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			panic(fmt.Sprintf("executortest: %v", err))
		}
		objs = append(objs, &unstructured.Unstructured{Object: u})
	}
	d := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	f := &Fake{Typed: fake.NewClientset(typed...), Dyn: d, Mapper: mapper}
	d.PrependReactor("patch", "*", f.apply)
	d.PrependReactor("delete", "*", f.delete)
	d.PrependReactor("delete-collection", "*", f.deleteCollection)
	f.Typed.PrependReactor("get", "pods", f.podLogs)
	f.Client = &executor.Client{Kube: f.Typed, Dynamic: d, Mapper: mapper}
	return f
}

// apply makes server-side apply create or replace the object, which is
// what the dynamic fake's tracker does not do.
func (f *Fake) apply(action clienttesting.Action) (bool, runtime.Object, error) {
	pa, ok := action.(clienttesting.PatchAction)
	if !ok {
		return false, nil, nil
	}
	if pa.GetPatchType() != types.ApplyPatchType {
		// the tracker patches; the typed fake sees the result
		handled, obj, err := clienttesting.ObjectReaction(f.Dyn.Tracker())(action)
		if err != nil || obj == nil {
			return handled, obj, err
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return handled, obj, nil
		}
		return handled, obj, f.mirror(pa.GetResource(), pa.GetNamespace(), u)
	}
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(pa.GetPatch(), &obj.Object); err != nil {
		return true, nil, err
	}
	gvr, ns := pa.GetResource(), pa.GetNamespace()
	id := fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, pa.GetName())
	tracker := f.Dyn.Tracker()
	old, err := tracker.Get(gvr, ns, pa.GetName(), metav1.GetOptions{})
	if pi, ok := action.(clienttesting.PatchActionImpl); ok && slices.Contains(pi.PatchOptions.DryRun, metav1.DryRunAll) {
		f.mu.Lock()
		f.DryRuns = append(f.DryRuns, id)
		f.mu.Unlock()
		if err == nil {
			if om, err := meta.Accessor(old); err == nil {
				obj.SetResourceVersion(om.GetResourceVersion())
			}
		}
		return true, obj, nil
	}
	f.Applied = append(f.Applied, id)
	if err != nil {
		err = tracker.Create(gvr, obj, ns)
	} else {
		if om, err := meta.Accessor(old); err == nil {
			obj.SetResourceVersion(om.GetResourceVersion())
		}
		err = tracker.Update(gvr, obj, ns)
	}
	if err != nil {
		return true, nil, err
	}
	return true, obj, f.mirror(gvr, ns, obj)
}

// mirror puts a copy of obj into the typed fake, with the status of the
// typed object it replaces.
func (f *Fake) mirror(gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) error {
	typed, err := scheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		return nil // a kind the typed client does not know
	}
	u := obj.DeepCopy()
	tracker := f.Typed.Tracker()
	old, getErr := tracker.Get(gvr, ns, obj.GetName())
	if getErr == nil {
		if m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old); err == nil {
			if st, ok := m["status"]; ok {
				u.Object["status"] = st
			}
		}
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return fmt.Errorf("executortest: mirroring %s: %w", obj.GetName(), err)
	}
	if getErr == nil {
		return tracker.Update(gvr, typed, ns)
	}
	return tracker.Create(gvr, typed, ns)
}

// delete mirrors a delete into the typed fake and lets the dynamic fake
// do the rest. A deleted namespace takes its objects along at once, as
// the namespace controller does in time.
func (f *Fake) delete(action clienttesting.Action) (bool, runtime.Object, error) {
	da := action.(clienttesting.DeleteAction)
	_ = f.Typed.Tracker().Delete(da.GetResource(), da.GetNamespace(), da.GetName())
	if da.GetResource().Resource == "namespaces" {
		for _, k := range Kinds {
			if k.Namespaced {
				gvr, _ := meta.UnsafeGuessKindToResource(k.GVK)
				f.deleteMatching(gvr, da.GetName(), labels.Everything())
			}
		}
	}
	return false, nil, nil
}

// deleteCollection deletes the objects of a collection delete that match
// its label selector, which the dynamic fake's tracker does not do.
func (f *Fake) deleteCollection(action clienttesting.Action) (bool, runtime.Object, error) {
	da, ok := action.(clienttesting.DeleteCollectionAction)
	if !ok {
		return false, nil, nil
	}
	sel := da.GetListRestrictions().Labels
	if sel == nil {
		sel = labels.Everything()
	}
	f.deleteMatching(da.GetResource(), da.GetNamespace(), sel)
	return true, nil, nil
}

// deleteMatching deletes the objects of gvr in ns ("": all) whose labels
// match sel, from both fakes.
func (f *Fake) deleteMatching(gvr schema.GroupVersionResource, ns string, sel labels.Selector) {
	kind := kindOf(gvr)
	if kind == "" {
		return
	}
	list, err := f.Dyn.Tracker().List(gvr, schema.GroupVersionKind{Group: gvr.Group, Version: gvr.Version, Kind: kind}, ns)
	if err != nil {
		return
	}
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		m, err := meta.Accessor(o)
		if err != nil || !sel.Matches(labels.Set(m.GetLabels())) {
			return nil
		}
		_ = f.Dyn.Tracker().Delete(gvr, m.GetNamespace(), m.GetName())
		_ = f.Typed.Tracker().Delete(gvr, m.GetNamespace(), m.GetName())
		return nil
	})
}

// SetLogs makes the logs of every container named container read text.
func (f *Fake) SetLogs(container, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logs == nil {
		f.logs = map[string]string{}
	}
	f.logs[container] = text
}

// LogOptions are the options of every logs request, in order.
func (f *Fake) LogOptions() []corev1.PodLogOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]corev1.PodLogOptions(nil), f.logOpts...)
}

// podLogs answers a logs request with the logs SetLogs gave its
// container; a container without is not found.
func (f *Fake) podLogs(action clienttesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "log" {
		return false, nil, nil
	}
	opts, _ := action.(clienttesting.GenericAction).GetValue().(*corev1.PodLogOptions)
	if opts == nil {
		opts = &corev1.PodLogOptions{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logOpts = append(f.logOpts, *opts)
	text, ok := f.logs[opts.Container]
	if !ok {
		return true, nil, apierrors.NewBadRequest(fmt.Sprintf("container %q is waiting to start: ContainerCreating", opts.Container))
	}
	return true, &runtime.Unknown{Raw: []byte(text)}, nil
}

// Reject makes the apply of the named object of resource fail with err.
func (f *Fake) Reject(resource, name string, err error) {
	f.Dyn.PrependReactor("patch", resource, func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.(clienttesting.PatchAction).GetName() == name {
			return true, nil, err
		}
		return false, nil, nil
	})
}

// Names lists "Kind namespace/name" of the objects of resource (e.g.
// "deployments") in the dynamic fake.
func (f *Fake) Names(gvr schema.GroupVersionResource) []string {
	list, err := f.Dyn.Tracker().List(gvr, schema.GroupVersionKind{Group: gvr.Group, Version: gvr.Version, Kind: kindOf(gvr)}, "")
	if err != nil {
		panic(fmt.Sprintf("executortest: listing %v: %v", gvr, err))
	}
	var out []string
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		m, _ := meta.Accessor(o)
		out = append(out, fmt.Sprintf("%s/%s", m.GetNamespace(), m.GetName()))
		return nil
	})
	return out
}

func kindOf(gvr schema.GroupVersionResource) string {
	for _, k := range Kinds {
		if p, _ := meta.UnsafeGuessKindToResource(k.GVK); p == gvr {
			return k.GVK.Kind
		}
	}
	return ""
}
