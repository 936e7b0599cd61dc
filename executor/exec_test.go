package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	uexec "k8s.io/client-go/util/exec"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

const (
	testGUID = "0123456789abcdef0123456789abcdef"
	testNS   = "shop-01234567"
)

var testT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testPod is a pod of service svc of the test system, created the
// given seconds after testT0, running and ready.
func testPod(name, svc string, created int, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("uid-" + name),
		CreationTimestamp: metav1.NewTime(testT0.Add(time.Duration(created) * time.Second)),
		Labels:            map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: svc}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "registry.example/" + c})
	}
	return p
}

func testClient(objs ...runtime.Object) *Client {
	return &Client{Kube: fake.NewClientset(objs...)}
}

func TestFindServicePod(t *testing.T) {
	t.Parallel()
	pending := testPod("web-pending", "web", 0, "web")
	pending.Status.Phase = corev1.PodPending
	deleting := testPod("web-deleting", "web", 0, "web")
	deleting.DeletionTimestamp = &metav1.Time{Time: testT0}
	deleting.Finalizers = []string{"test"}
	// the newest by creation but the first by ordinal
	ss0 := testPod("db-0", "db", 9, "sidecar", "db")
	ss0.Labels["apps.kubernetes.io/pod-index"] = "0"
	ss10 := testPod("db-10", "db", 1, "db")
	ss10.Labels["apps.kubernetes.io/pod-index"] = "10"
	ss2 := testPod("db-2", "db", 2, "db")
	ss2.Labels["apps.kubernetes.io/pod-index"] = "2"
	jobPod := testPod("job-x", "job", 0, "job")
	jobPod.Status.Phase = corev1.PodSucceeded
	objs := []runtime.Object{
		testPod("web-zzz", "web", 1, "web"), testPod("web-aaa", "web", 2, "web"), testPod("web-bbb", "web", 2, "web"),
		pending, deleting, ss0, ss10, ss2, jobPod,
		testPod("my-app-1", "my-app", 0, "my-app"),
	}
	tests := []struct {
		name          string
		service       string
		index         int
		wantPod       string
		wantContainer string
		wantErr       string
	}{
		{name: "DefaultIsFirst", service: "web", wantPod: "web-zzz", wantContainer: "web"},
		{name: "Index1", service: "web", index: 1, wantPod: "web-zzz", wantContainer: "web"},
		{name: "SameTimeByName", service: "web", index: 2, wantPod: "web-aaa", wantContainer: "web"},
		{name: "Index3", service: "web", index: 3, wantPod: "web-bbb", wantContainer: "web"},
		{name: "PendingAndDeletingSkipped", service: "web", index: 4, wantErr: "service web has 3 running pods: no replica 4"},
		{name: "OrdinalBeforeTime", service: "db", index: 1, wantPod: "db-0", wantContainer: "db"},
		{name: "OrdinalNumeric", service: "db", index: 2, wantPod: "db-2", wantContainer: "db"},
		{name: "Ordinal10", service: "db", index: 3, wantPod: "db-10", wantContainer: "db"},
		{name: "ComposeName", service: "my_app", wantPod: "my-app-1", wantContainer: "my-app"},
		{name: "Negative", service: "web", index: -1, wantErr: "--index -1: replicas are numbered from 1"},
		{name: "NoSuchService", service: "nope", wantErr: `has no service "nope" with pods (services with pods: db, job, my-app, web)`},
		{name: "NoneRunning", service: "job", wantErr: "service job has no running pod (1 not running)"},
	}
	c := testClient(objs...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FindServicePod(context.Background(), c, testGUID, "", tt.service, tt.index)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]string{tt.wantPod, tt.wantContainer}, [2]string{got.Pod.Name, got.Container}); diff != "" {
				t.Errorf("pod, container (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindServicePodNoSystem(t *testing.T) {
	t.Parallel()
	_, err := FindServicePod(context.Background(), testClient(), testGUID, "", "web", 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error = %v, want ErrNotFound", err)
	}
}

func TestExecExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		streamed error
		wantCode int
		wantErr  string
	}{
		{name: "Success", wantCode: 0},
		{name: "ExitCode", streamed: uexec.CodeExitError{Err: errors.New("command terminated with exit code 3"), Code: 3}, wantCode: 3},
		{name: "Wrapped", streamed: errorsJoin(uexec.CodeExitError{Err: errors.New("x"), Code: 127}), wantCode: 127},
		{name: "StreamError", streamed: errors.New("connection reset"), wantErr: "web/web-1: connection reset"},
	}
	c := testClient(testPod("web-1", "web", 0, "web"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got ExecOptions
			var gotPod, gotContainer string
			code, err := Exec(context.Background(), c, ExecOptions{GUID: testGUID, Service: "web", Command: []string{"sh", "-c", "exit 3"}, TTY: true,
				stream: func(_ context.Context, pod *corev1.Pod, container string, opts ExecOptions) error {
					got, gotPod, gotContainer = opts, pod.Name, container
					return tt.streamed
				}})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff([]string{"web-1", "web", "sh -c exit 3", "true"},
				[]string{gotPod, gotContainer, strings.Join(got.Command, " "), map[bool]string{true: "true", false: "false"}[got.TTY]}); diff != "" {
				t.Errorf("streamed (-want +got):\n%s", diff)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("first"), err) }

func TestExecNoCommand(t *testing.T) {
	t.Parallel()
	if _, err := Exec(context.Background(), testClient(), ExecOptions{GUID: testGUID, Service: "web"}); err == nil {
		t.Fatal("no error for an empty command")
	}
}
