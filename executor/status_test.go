package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// cluster is the state of a cluster with two Tycho systems and one of the
// original Tycho (no record, label name=…).
func cluster() []runtime.Object {
	const ns1, ns2 = "shop-01234567", "team"
	ready := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		return d
	}
	done := job("migrate", ns1, guid1)
	done.Status.Succeeded = 1
	done.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	lb := service("web-published", ns1, guid1, "web", corev1.ServiceTypeLoadBalancer, 8080)
	lb.Spec.Ports[0].NodePort = 31000
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	np := service("api-published", ns2, guid2, "api", corev1.ServiceTypeNodePort, 9000)
	np.Spec.Ports[0].NodePort = 30900
	np.Spec.Ports = append(np.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP})
	rec2 := record(ns2, guid2)
	rec2.Data["system"] = "billing"
	rec2.Data["own-namespace"] = "false"
	old := deployment("jupyter-ds-aaaa", "default", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	old.Labels = map[string]string{"executor": "tycho", "tycho-guid": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "name": "jupyter-ds"}
	old.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	node := func(name, ip string, readyNode bool) *corev1.Node {
		st := corev1.ConditionFalse
		if readyNode {
			st = corev1.ConditionTrue
		}
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}}}
	}
	return []runtime.Object{
		record(ns1, guid1), rec2,
		configMap("settings", ns1, guid1), // not a record
		ready(deployment("web", ns1, guid1)), deployment("db", ns1, guid1), done,
		service("web", ns1, guid1, "web", "", 80), lb,
		ready(deployment("api", ns2, guid2)), np,
		old,
		node("node-a", "10.0.0.1", false), node("node-b", "10.0.0.2", true),
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	shop := executor.System{Name: "shop", GUID: guid1, Namespace: "shop-01234567", OwnNamespace: true, ModelHash: "sha256:00", Created: t0, State: executor.StateRunning,
		Ready: 2, Total: 3,
		Services: []executor.Service{
			{Name: "db", Kind: "Deployment", State: "0/1 available"},
			{Name: "migrate", Kind: "Job", Ready: true, State: "complete"},
			{Name: "web", Kind: "Deployment", Ready: true, State: "1/1 available"},
		},
		Endpoints: []executor.Endpoint{{Service: "web", IP: "203.0.113.7", Port: 8080, Protocol: "TCP"}}}
	billing := executor.System{Name: "billing", GUID: guid2, Namespace: "team", ModelHash: "sha256:00", Created: t0, State: executor.StateRunning, Ready: 1, Total: 1,
		Services: []executor.Service{{Name: "api", Kind: "Deployment", Ready: true, State: "1/1 available"}},
		Endpoints: []executor.Endpoint{
			{Service: "api", IP: "10.0.0.2", Port: 30900, Protocol: "TCP"},
			{Service: "api", IP: "10.0.0.2", Port: 30053, Protocol: "UDP"},
		}}
	original := executor.System{Name: "jupyter-ds", GUID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Namespace: "default", Created: t0.Add(-time.Hour), State: executor.StateRunning,
		Total: 1, Services: []executor.Service{{Name: "jupyter-ds-aaaa", Kind: "Deployment", State: "0/1 available"}}, Endpoints: []executor.Endpoint{}}
	tests := []struct {
		name string
		opts executor.StatusOptions
		want []executor.System
	}{
		{name: "All", want: []executor.System{billing, original, shop}},
		{name: "OneGUID", opts: executor.StatusOptions{GUID: guid2}, want: []executor.System{billing}},
		{name: "OneNamespace", opts: executor.StatusOptions{Namespace: "shop-01234567"}, want: []executor.System{shop}},
		{name: "Unknown", opts: executor.StatusOptions{GUID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}, want: []executor.System{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(cluster())
			got, err := executor.Status(context.Background(), f.Client, tt.opts)
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
		})
	}
}

// Status makes as many list calls for many systems as for one: records,
// namespaces marked deleting, three kinds of workloads, Services and Nodes.
func TestStatusListCalls(t *testing.T) {
	t.Parallel()
	calls := func(systems int) int {
		var objs []runtime.Object
		for i := range systems {
			g := string(rune('a'+i)) + guid1[1:]
			ns := "shop-" + g[:8]
			np := service("web-published", ns, g, "web", corev1.ServiceTypeNodePort, 80)
			np.Spec.Ports[0].NodePort = 30080
			objs = append(objs, record(ns, g), deployment("web", ns, g), job("init", ns, g), np)
		}
		f := executortest.New(objs)
		if _, err := executor.Status(context.Background(), f.Client, executor.StatusOptions{}); err != nil {
			t.Fatalf("Status: %v", err)
		}
		n := 0
		for _, a := range f.Typed.Actions() {
			if a.GetVerb() != "list" {
				t.Errorf("Status made a %s call", a.GetVerb())
			}
			n++
		}
		return n
	}
	one, ten := calls(1), calls(10)
	if one != ten || one != 7 {
		t.Errorf("Status made %d calls for 1 system and %d for 10, want 7 each", one, ten)
	}
}

// A routed port's endpoint is its URL: the one the compiler wrote on the
// Ingress or HTTPRoute, with the Ingress controller's address when any
// host matches.
func TestStatusRoutes(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	route := func(kind, apiVersion, name, svc, url string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetName(name)
		u.SetNamespace(ns)
		u.SetLabels(map[string]string{"executor": "tycho", "tycho-guid": guid1, "app.kubernetes.io/name": svc})
		u.SetAnnotations(map[string]string{kubernetes.AnnotationURL: url})
		return u
	}
	byHost := route("Ingress", "networking.k8s.io/v1", "web-8080", "web", "https://web.shop.example.com/")
	_ = unstructured.SetNestedSlice(byHost.Object, []any{map[string]any{"secretName": "shop-tls"}}, "spec", "tls")
	byPath := route("Ingress", "networking.k8s.io/v1", "admin-3000", "admin", "/shop/admin/")
	_ = unstructured.SetNestedSlice(byPath.Object, []any{map[string]any{"ip": "198.51.100.4"}}, "status", "loadBalancer", "ingress")
	gw := route("HTTPRoute", "gateway.networking.k8s.io/v1", "docs-8000", "docs", "/shop/docs/")
	f := executortest.New([]runtime.Object{record(ns, guid1), deployment("web", ns, guid1)}, byHost, byPath, gw)
	got, err := executor.Status(context.Background(), f.Client, executor.StatusOptions{GUID: guid1})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Status: %d systems, want 1", len(got))
	}
	want := []executor.Endpoint{
		{Service: "admin", IP: "198.51.100.4", Port: 80, Protocol: "TCP", URL: "http://198.51.100.4/shop/admin/"},
		{Service: "web", IP: "web.shop.example.com", Port: 443, Protocol: "TCP", URL: "https://web.shop.example.com/"},
		{Service: "docs", IP: "-", Port: 80, Protocol: "TCP", URL: "/shop/docs/"},
	}
	if diff := cmp.Diff(want, got[0].Endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}
