package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/tychoctl/tycho/test/cluster"
)

// shared returns the package's cluster; it skips the test under -short.
func shared(t testing.TB) *cluster.Cluster {
	t.Helper()
	return cluster.Shared(t)
}

// tychoBin returns the path of the tycho binary that TestMain built, or
// fails the test with the build error.
func tychoBin(t testing.TB) string {
	t.Helper()
	shared(t) // skip under -short, like every e2e test
	if tychoErr != nil {
		t.Fatalf("e2e: no tycho binary: %v", tychoErr)
	}
	return tychoPath
}

// clientset returns a typed client for the package's cluster.
func clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(shared(t).RESTConfig())
	if err != nil {
		t.Fatalf("e2e: client: %v", err)
	}
	return c
}

// newNamespace creates a namespace labelled to enforce and warn at the Pod
// Security level ("privileged", "baseline" or "restricted"), waits for its
// default ServiceAccount (without which pods are not admitted, not even in a
// dry-run) and deletes it when the test ends. It returns the name.
func newNamespace(t testing.TB, level string) string {
	t.Helper()
	client := clientset(t)
	ctx := context.Background()
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "e2e-" + level + "-",
			Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": level,
				"pod-security.kubernetes.io/warn":    level,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("e2e: creating namespace: %v", err)
	}
	t.Cleanup(func() {
		// Not waiting for the deletion: namespaces are unique per test.
		if err := client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("e2e: deleting namespace %s: %v", ns.Name, err)
		}
	})
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("e2e: namespace %s has no default ServiceAccount: %v", ns.Name, err)
	}
	return ns.Name
}

// warningCollector is a rest.WarningHandler that keeps every warning, each
// prefixed with the object being applied.
type warningCollector struct {
	mu       sync.Mutex
	object   string
	warnings []string
}

func (w *warningCollector) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, w.object+": "+text)
}

func (w *warningCollector) setObject(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.object = s
}

// dryRunStrict server-side applies every document of manifests (YAML or
// JSON, "---"-separated) to the package's cluster with dryRun=All and
// fieldValidation=Strict, as `kubectl apply --server-side --dry-run=server
// --validate=strict` would, so nothing is persisted.
//
// Namespaced objects are applied in ns, whatever their metadata.namespace
// says, so that the caller's namespace (see newNamespace) and its Pod
// Security labels decide admission; with ns == "" they keep their own
// namespace ("default" if unset). Namespace documents are dry-run too, as
// the cluster-scoped objects they are.
//
// It returns the API server's warnings (e.g. Pod Security "would violate"
// warnings for workloads), each as "Kind/name: text", and the errors of all
// rejected documents joined. A document that cannot be decoded or mapped is
// an error too; the remaining documents are still tried.
func dryRunStrict(t testing.TB, ns, manifests string) (warnings []string, err error) {
	t.Helper()
	collector := &warningCollector{}
	cfg := shared(t).RESTConfig()
	cfg.WarningHandler = collector
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("e2e: discovery client: %v", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("e2e: dynamic client: %v", err)
	}
	ctx := context.Background()

	var errs []error
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifests)), 4096)
	for i := 0; ; i++ {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			break // the decoder cannot resync after a syntax error
		}
		if len(obj.Object) == 0 {
			continue // empty document
		}
		gvk := obj.GroupVersionKind()
		id := gvk.Kind + "/" + obj.GetName()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (document %d): %w", id, i, err))
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			target := ns
			if target == "" {
				target = obj.GetNamespace()
			}
			if target == "" {
				target = metav1.NamespaceDefault
			}
			obj.SetNamespace(target)
			ri = dyn.Resource(mapping.Resource).Namespace(target)
		}
		data, err := obj.MarshalJSON()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		collector.setObject(id)
		_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			DryRun:          []string{metav1.DryRunAll},
			FieldManager:    "tycho-e2e",
			FieldValidation: "Strict",
			Force:           ptr(true),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
		}
	}
	collector.mu.Lock()
	defer collector.mu.Unlock()
	return collector.warnings, errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }
