package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// psObjects are inspected()'s system with its workloads, Services and
// pod states: web ready on two pods (one restarted twice) and published,
// db crash-looping.
func psObjects() []runtime.Object {
	const ns = "shop-01234567"
	l := func(svc string) map[string]string {
		return map[string]string{"executor": "tycho", "tycho-guid": testGUID, "app.kubernetes.io/name": svc}
	}
	objs := inspected()
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok {
			continue
		}
		cs := corev1.ContainerStatus{Name: p.Spec.Containers[0].Name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
		switch p.Name {
		case "web-b":
			cs.RestartCount = 2
		case "db-a":
			cs.RestartCount = 5
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{cs}}
	}
	two, one := int32(2), int32(1)
	dep := func(name string, want, ready int32) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l(name)},
			Spec:   appsv1.DeploymentSpec{Replicas: &want},
			Status: appsv1.DeploymentStatus{Replicas: want, UpdatedReplicas: want, ReadyReplicas: ready, AvailableReplicas: ready}}
	}
	svc := func(name, owner string, typ corev1.ServiceType, port int32) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l(owner)},
			Spec: corev1.ServiceSpec{Type: typ, ClusterIP: "10.0.0.9", Ports: []corev1.ServicePort{{Port: port, Protocol: corev1.ProtocolTCP}}}}
	}
	lb := svc("web-published", "web", corev1.ServiceTypeLoadBalancer, 8080)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	return append(objs, dep("web", two, 2), dep("db", one, 0), svc("web", "web", "", 80), svc("db", "db", "", 5432), lb)
}

// twoShops adds a second system named shop, started later in another
// namespace.
func twoShops() []runtime.Object {
	rec := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: executor.RecordName(testGUID2), Namespace: "shop-fedcba98", Labels: map[string]string{
		"executor": "tycho", "tycho-guid": testGUID2, "app.kubernetes.io/component": executor.RecordComponent}},
		Data: map[string]string{"system": "shop", "namespace": "shop-fedcba98", "own-namespace": "true", "created": testNow.Add(-time.Hour).Format(time.RFC3339)}}
	rec0 := psObjects()
	rec0[0].(*corev1.ConfigMap).Data["created"] = testNow.Add(-2 * time.Hour).Format(time.RFC3339)
	return append(rec0, rec)
}

func TestPsCommand(t *testing.T) {
	t.Parallel()
	table := "" +
		"SERVICE   KIND         READY   RESTARTS   STATE              PORTS      ENDPOINTS\n" +
		"db        Deployment   0/1     5          CrashLoopBackOff   5432/tcp   -\n" +
		"web       Deployment   2/2     2          running            80/tcp     203.0.113.7:8080\n"
	tests := []struct {
		name     string
		objs     []runtime.Object
		dir      map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "ByGUID", objs: psObjects(), args: []string{"ps", testGUID}, wantOut: table},
		{name: "ByName", objs: psObjects(), args: []string{"ps", "shop"}, wantOut: table},
		{name: "ByProjectFlag", objs: psObjects(), args: []string{"ps", "-p", "shop"}, wantOut: table},
		{name: "ByComposeFileHere", objs: psObjects(), dir: map[string]string{"compose.yaml": shopCompose}, args: []string{"ps"}, wantOut: table},
		{name: "ByComposeFileFlag", objs: psObjects(), dir: map[string]string{"other.yaml": shopCompose}, args: []string{"ps", "-f", "other.yaml"}, wantOut: table},
		{
			name: "JSON", objs: psObjects(), args: []string{"ps", "shop", "-o", "json"},
			wantOut: `[
  {
    "service": "db",
    "kind": "Deployment",
    "ready": 0,
    "desired": 1,
    "restarts": 5,
    "state": "CrashLoopBackOff",
    "ports": [
      "5432/tcp"
    ],
    "endpoints": []
  },
  {
    "service": "web",
    "kind": "Deployment",
    "ready": 2,
    "desired": 2,
    "restarts": 2,
    "state": "running",
    "ports": [
      "80/tcp"
    ],
    "endpoints": [
      "203.0.113.7:8080"
    ]
  }
]
`,
		},
		{
			// the GUID of one of them names it
			name: "AmbiguousByGUID", objs: twoShops(), args: []string{"ps", testGUID}, wantOut: table,
		},
		{
			name: "Ambiguous", objs: twoShops(), args: []string{"ps", "shop"}, wantCode: 1,
			wantErr: "tycho: 2 running systems are named \"shop\"; name one by its GUID:\n" +
				"  GUID                               NAMESPACE       AGE\n" +
				"  " + testGUID + "   shop-01234567   120m\n" +
				"  " + testGUID2 + "   shop-fedcba98   60m\n",
		},
		{name: "UnknownName", objs: psObjects(), args: []string{"ps", "cart"}, wantCode: 1, wantErr: "tycho: no running system is named \"cart\": system not found\n"},
		{name: "UnknownGUID", objs: psObjects(), args: []string{"ps", testGUID2}, wantCode: 1, wantErr: "tycho: ps: system " + testGUID2 + ": system not found\n"},
		{name: "NothingNamed", objs: psObjects(), args: []string{"ps"}, wantCode: 2, wantErr: "tycho: no system named, and the compose file here does not name one: no compose file given"},
		{name: "TwoSystems", args: []string{"ps", "a", "b"}, wantCode: 2, wantErr: "tycho: accepts at most 1 arg(s), received 2\n"},
		{name: "ArgAndP", args: []string{"ps", "a", "-p", "b"}, wantCode: 2, wantErr: "tycho: give the system as an argument or with -p, not both\n"},
		{name: "BadOutput", args: []string{"ps", "shop", "-o", "wide"}, wantCode: 2, wantErr: "tycho: -o must be json or yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runInspect(t, executortest.New(tt.objs), composeDir(t, tt.dir), tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want it to start with %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestRestartCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
		patched  []string
		dir      map[string]string
	}{
		{name: "All", args: []string{"restart", "shop", "--wait=false"}, wantOut: "Deployment/db restarted\nDeployment/web restarted\n", patched: []string{"db", "web"}},
		{name: "ServiceOfTheComposeFileHere", dir: map[string]string{"compose.yaml": shopCompose}, args: []string{"restart", "web", "--wait=false"},
			wantOut: "Deployment/web restarted\n", patched: []string{"web"}},
		{name: "OneByProjectFlag", args: []string{"restart", "-p", "shop", "web", "--wait=false"}, wantOut: "Deployment/web restarted\n", patched: []string{"web"}},
		// web's status is ready and stays so: the wait ends at once
		{name: "Wait", args: []string{"restart", testGUID, "web"}, wantOut: "Deployment/web restarted\n", patched: []string{"web"}},
		{name: "UnknownService", args: []string{"restart", "shop", "cache"}, wantCode: 1, wantErr: "tycho: restart: system " + testGUID + " has no service cache (its services: db, web)\n"},
		{name: "BadTimeout", args: []string{"restart", "shop", "--timeout", "0s"}, wantCode: 2, wantErr: "tycho: --timeout must be positive, not 0s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(psObjects())
			code, out, errOut := runInspect(t, f, composeDir(t, tt.dir), tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want it to start with %q", errOut, tt.wantErr)
			}
			var patched []string
			for _, a := range f.Typed.Actions() {
				if a.GetVerb() == "patch" {
					patched = append(patched, a.(interface{ GetName() string }).GetName())
				}
			}
			if diff := cmp.Diff(tt.patched, patched); diff != "" {
				t.Errorf("patched (-want +got):\n%s", diff)
			}
		})
	}
}
