package executor_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

const (
	guid1 = "0123456789abcdef0123456789abcdef"
	guid2 = "fedcba9876543210fedcba9876543210"
)

var t0 = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)

var (
	gvrNamespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrServices    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPVCs        = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	gvrDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrJobs        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

func labels(guid, service string) map[string]string {
	l := map[string]string{
		kubernetes.LabelManagedBy: "tycho",
		kubernetes.LabelPartOf:    "shop",
		kubernetes.LabelGUID:      guid,
		kubernetes.LabelExecutor:  "tycho",
	}
	if service != "" {
		l[kubernetes.LabelName] = service
	}
	return l
}

func meta(name, ns, guid, service string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(guid, service)}
}

func deployment(name, ns, guid string) *appsv1.Deployment {
	one := int32(1)
	sel := map[string]string{kubernetes.LabelName: name, kubernetes.LabelGUID: guid}
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta(name, ns, guid, name),
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(guid, name)},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}}}}}}
}

func job(name, ns, guid string) *batchv1.Job {
	return &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta(name, ns, guid, name),
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(guid, name)},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}}}}}}
}

func service(name, ns, guid, svc string, typ corev1.ServiceType, port int32) *corev1.Service {
	return &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(name, ns, guid, svc),
		Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{kubernetes.LabelName: svc},
			Ports: []corev1.ServicePort{{Name: "tcp", Port: port, Protocol: corev1.ProtocolTCP}}}}
}

func configMap(name, ns, guid string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(name, ns, guid, ""),
		Data: map[string]string{"k": "v"}}
}

// system is a compiled shop: a config, two Services, two Deployments.
func system(ns, guid string) []kubernetes.Object {
	return []kubernetes.Object{
		configMap("settings", ns, guid),
		service("db", ns, guid, "db", "", 5432),
		service("web", ns, guid, "web", "", 80),
		service("web-published", ns, guid, "web", corev1.ServiceTypeLoadBalancer, 8080),
		deployment("db", ns, guid),
		deployment("web", ns, guid),
	}
}

func upOptions(ns, guid string) executor.UpOptions {
	return executor.UpOptions{System: "shop", SecurityLevel: "baseline", Objects: system(ns, guid), GUID: guid,
		Now: func() time.Time { return t0 }, PollInterval: time.Millisecond, Timeout: 200 * time.Millisecond}
}

func get(t *testing.T, f *executortest.Fake, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o, err := f.Dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return o
}

func TestUpCreates(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	sys, err := executor.Up(context.Background(), f.Client, upOptions("", guid1))
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	const ns = "shop-01234567"
	wantApplied := []string{
		"Namespace /shop-01234567",
		"ConfigMap shop-01234567/tycho-system-" + guid1,
		"ConfigMap shop-01234567/settings",
		"Service shop-01234567/db", "Service shop-01234567/web", "Service shop-01234567/web-published",
		"Deployment shop-01234567/db", "Deployment shop-01234567/web",
	}
	// within a kind the order is free: applies run in parallel
	if diff := cmp.Diff(sorted(wantApplied), sorted(f.Applied)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if f.Applied[0] != wantApplied[0] || f.Applied[1] != wantApplied[1] {
		t.Errorf("applied first %q, want the namespace then the record", f.Applied[:2])
	}
	nsObj := get(t, f, gvrNamespaces, "", ns)
	wantNSLabels := map[string]string{
		"app.kubernetes.io/managed-by": "tycho", "app.kubernetes.io/part-of": "shop", "tycho-guid": guid1, "executor": "tycho",
		"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "baseline",
	}
	if diff := cmp.Diff(wantNSLabels, nsObj.GetLabels()); diff != "" {
		t.Errorf("namespace labels (-want +got):\n%s", diff)
	}
	rec := get(t, f, gvrConfigMaps, ns, "tycho-system-"+guid1)
	data, _, _ := unstructured.NestedStringMap(rec.Object, "data")
	hash, err := executor.ModelHash(system("", guid1))
	if err != nil {
		t.Fatal(err)
	}
	wantData := map[string]string{"system": "shop", "guid": guid1, "namespace": ns, "own-namespace": "true",
		"created": "2025-11-25T12:00:00Z", "model-hash": hash}
	if diff := cmp.Diff(wantData, data); diff != "" {
		t.Errorf("record data (-want +got):\n%s", diff)
	}
	if got := get(t, f, gvrDeployments, ns, "web").GetNamespace(); got != ns {
		t.Errorf("Deployment web in namespace %q, want %q", got, ns)
	}
	want := &executor.System{Name: "shop", GUID: guid1, Namespace: ns, OwnNamespace: true, ModelHash: hash, Created: t0, State: executor.StateRunning, Total: 2,
		Services: []executor.Service{
			{Name: "db", Kind: "Deployment", State: "0/1 available"},
			{Name: "web", Kind: "Deployment", State: "0/1 available"},
		},
		Endpoints: []executor.Endpoint{{Service: "web", IP: "-", Port: 8080, Protocol: "TCP"}}}
	if diff := cmp.Diff(want, sys); diff != "" {
		t.Errorf("Up (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A second Up of the same system keeps the record's creation time, so
// that it applies exactly what is there.
func TestUpAgainKeepsRecord(t *testing.T) {
	t.Parallel()
	f := executortest.New(nil)
	ctx := context.Background()
	if _, err := executor.Up(ctx, f.Client, upOptions("", guid1)); err != nil {
		t.Fatalf("first Up: %v", err)
	}
	before := get(t, f, gvrConfigMaps, "shop-01234567", "tycho-system-"+guid1)
	opts := upOptions("", guid1)
	opts.Now = func() time.Time { return t0.Add(time.Hour) }
	sys, err := executor.Up(ctx, f.Client, opts)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	after := get(t, f, gvrConfigMaps, "shop-01234567", "tycho-system-"+guid1)
	if diff := cmp.Diff(before.Object["data"], after.Object["data"]); diff != "" {
		t.Errorf("record data changed (-first +second):\n%s", diff)
	}
	if !sys.Created.Equal(t0) {
		t.Errorf("Created = %v, want %v", sys.Created, t0)
	}
}

func TestUpRollsBack(t *testing.T) {
	t.Parallel()
	rejected := apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web",
		nil) // message: Deployment.apps "web" is invalid
	tests := []struct {
		name    string
		keep    bool
		rerun   bool // a first Up succeeded: its objects are not rolled back
		wantErr []string
		// objects left, per resource
		wantDeployments, wantServices, wantConfigMaps, wantNamespaces []string
	}{
		{
			name:    "Fresh",
			wantErr: []string{`Deployment shop-01234567/web: Deployment.apps "web" is invalid`, "rolled back: deleted the 7 object(s) created for system " + guid1},
		},
		{
			name:            "KeepOnFailure",
			keep:            true,
			wantErr:         []string{`Deployment shop-01234567/web: Deployment.apps "web" is invalid`, "kept for inspection", "tycho down " + guid1},
			wantDeployments: []string{"shop-01234567/db"},
			wantServices:    []string{"shop-01234567/db", "shop-01234567/web", "shop-01234567/web-published"},
			wantConfigMaps:  []string{"shop-01234567/settings", "shop-01234567/tycho-system-" + guid1},
			wantNamespaces:  []string{"/shop-01234567"},
		},
		{
			name:    "UpdateKeepsWhatWasThere",
			rerun:   true,
			wantErr: []string{"rolled back: deleted the 1 object(s) created for system " + guid1},
			// the first Up had no Deployment web and no Service api
			wantDeployments: []string{"shop-01234567/db"},
			wantServices:    []string{"shop-01234567/db", "shop-01234567/web", "shop-01234567/web-published"},
			wantConfigMaps:  []string{"shop-01234567/settings", "shop-01234567/tycho-system-" + guid1},
			wantNamespaces:  []string{"/shop-01234567"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			ctx := context.Background()
			opts := upOptions("", guid1)
			if tt.rerun {
				first := upOptions("", guid1)
				first.Objects = first.Objects[:len(first.Objects)-1] // without Deployment web
				if _, err := executor.Up(ctx, f.Client, first); err != nil {
					t.Fatalf("first Up: %v", err)
				}
				// Service api is new, and applied before Deployment web fails
				opts.Objects = moveServiceBeforeDeployments(append(opts.Objects, service("api", "", guid1, "api", "", 81)))
			}
			opts.KeepOnFailure = tt.keep
			f.Reject("deployments", "web", rejected)
			_, err := executor.Up(ctx, f.Client, opts)
			var ue *executor.UpError
			if !errors.As(err, &ue) {
				t.Fatalf("Up: error %v, want an *UpError", err)
			}
			if !errors.Is(err, rejected) {
				t.Errorf("Up: error does not wrap the API server's")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Up: error\n%s\ndoes not contain %q", err, w)
				}
			}
			for _, c := range []struct {
				gvr  schema.GroupVersionResource
				want []string
			}{
				{gvrDeployments, tt.wantDeployments},
				{gvrServices, tt.wantServices},
				{gvrConfigMaps, tt.wantConfigMaps},
				{gvrNamespaces, tt.wantNamespaces},
			} {
				if diff := cmp.Diff(sorted(c.want), sorted(f.Names(c.gvr))); diff != "" {
					t.Errorf("%s left (-want +got):\n%s", c.gvr.Resource, diff)
				}
			}
		})
	}
}

// moveServiceBeforeDeployments restores the apply order of kinds after a
// Service was appended.
func moveServiceBeforeDeployments(objs []kubernetes.Object) []kubernetes.Object {
	var svcs, rest []kubernetes.Object
	var cms []kubernetes.Object
	for _, o := range objs {
		switch o.(type) {
		case *corev1.Service:
			svcs = append(svcs, o)
		case *corev1.ConfigMap:
			cms = append(cms, o)
		default:
			rest = append(rest, o)
		}
	}
	return append(append(cms, svcs...), rest...)
}

func TestUpRefuses(t *testing.T) {
	t.Parallel()
	nsObj := func(name, guid string) runtime.Object {
		n := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
		if guid != "" {
			n.Labels = map[string]string{kubernetes.LabelGUID: guid}
		}
		return n
	}
	tests := []struct {
		name    string
		objects []runtime.Object
		ns      string
		create  bool
		wantErr string
	}{
		{name: "MissingNamespace", ns: "team", wantErr: "namespace team not found"},
		{name: "NamespaceOfAnotherSystem", objects: []runtime.Object{nsObj("shop-01234567", guid2)},
			wantErr: "namespace shop-01234567 belongs to system " + guid2},
		{name: "NameOfAnotherSystem", ns: "team", objects: []runtime.Object{nsObj("team", ""), service("web", "team", guid2, "web", "", 80)},
			wantErr: "namespace team: Service team/web belongs to system " + guid2},
		{name: "NameOfSomethingElse", ns: "team", objects: []runtime.Object{nsObj("team", ""), configMapWithout("settings", "team")},
			wantErr: "namespace team: ConfigMap team/settings exists and is not part of a Tycho system"},
		{name: "SameGUIDElsewhere", ns: "team", objects: []runtime.Object{nsObj("team", ""), record("other", guid1)},
			wantErr: "system " + guid1 + " runs in namespace other already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil, tt.objects...)
			opts := upOptions(tt.ns, guid1)
			opts.Namespace, opts.CreateNamespace = tt.ns, tt.create
			for _, o := range opts.Objects {
				o.SetNamespace(tt.ns)
			}
			_, err := executor.Up(context.Background(), f.Client, opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Up: error %v, want one containing %q", err, tt.wantErr)
			}
			if len(f.Applied) != 0 {
				t.Errorf("Up applied %q, want nothing", f.Applied)
			}
		})
	}
}

func configMapWithout(name, ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

func record(ns, guid string) *corev1.ConfigMap {
	l := labels(guid, "")
	l[kubernetes.LabelComponent] = executor.RecordComponent
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: executor.RecordName(guid), Namespace: ns, Labels: l},
		Data: map[string]string{"system": "shop", "guid": guid, "namespace": ns, "own-namespace": "true",
			"created": t0.Format(time.RFC3339), "model-hash": "sha256:00"}}
}

func TestUpWait(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	available := appsv1.DeploymentStatus{ObservedGeneration: 0, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	withStatus := func(d *appsv1.Deployment, st appsv1.DeploymentStatus) *appsv1.Deployment {
		d.Status = st
		return d
	}
	failedJob := job("init", ns, guid1)
	failedJob.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}
	warning := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: ns}, Type: "Warning", Reason: "FailedCreate",
		InvolvedObject: corev1.ObjectReference{Kind: "ReplicaSet", Name: "web-5d8f7"}, Message: `pods "web-5d8f7-x" is forbidden: violates PodSecurity "baseline:latest"`}
	otherWarning := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e2", Namespace: ns}, Type: "Warning", Reason: "Other",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "not-ours"}, Message: "unrelated"}
	tests := []struct {
		name       string
		typed      []runtime.Object // state in the cluster
		extra      []kubernetes.Object
		wantErr    []string
		wantEvents []string
	}{
		{
			name:       "Ready",
			typed:      []runtime.Object{withStatus(deployment("db", ns, guid1), available), withStatus(deployment("web", ns, guid1), available)},
			wantEvents: []string{"Deployment/db: 1/1 available (2/2 ready)", "Deployment/web: 1/1 available (2/2 ready)"},
		},
		{
			name:       "Timeout",
			typed:      []runtime.Object{withStatus(deployment("db", ns, guid1), available), deployment("web", ns, guid1), warning, otherWarning},
			wantErr:    []string{"Deployment/web: not ready after 200ms: Deployment/web 0/1 available", "Warning FailedCreate ReplicaSet/web-5d8f7: pods", "rolled back"},
			wantEvents: []string{"Deployment/db: 1/1 available (1/2 ready)", "Deployment/web: 0/1 available (1/2 ready)"},
		},
		{
			name:       "JobFailed",
			typed:      []runtime.Object{withStatus(deployment("db", ns, guid1), available), withStatus(deployment("web", ns, guid1), available), failedJob},
			extra:      []kubernetes.Object{job("init", ns, guid1)},
			wantErr:    []string{"Job/init: job failed: BackoffLimitExceeded: Job has reached the specified backoff limit"},
			wantEvents: []string{"Deployment/db: 1/1 available (2/3 ready)", "Job/init: failed (2/3 ready)", "Deployment/web: 1/1 available (2/3 ready)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(tt.typed)
			opts := upOptions("", guid1)
			opts.Objects = append(opts.Objects, tt.extra...)
			opts.Wait = true
			var events bytes.Buffer
			opts.Progress = func(e executor.Event) {
				events.WriteString(e.Object + ": " + e.State + " (" + strconv.Itoa(e.Ready) + "/" + strconv.Itoa(e.Total) + " ready)\n")
			}
			_, err := executor.Up(context.Background(), f.Client, opts)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("Up: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Up: error\n%v\ndoes not contain %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "unrelated") {
				t.Errorf("Up: error reports an event of another object:\n%v", err)
			}
			if diff := cmp.Diff(tt.wantEvents, strings.Split(strings.TrimSpace(events.String()), "\n")); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
		})
	}
}
