package executor_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

func pod(name, ns, guid, service string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: meta(name, ns, guid, service)}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "registry.example/" + c + ":1"})
	}
	return p
}

// shopPods is system 1 with two web pods and one db pod (whose first
// container is a sidecar), and a pod of system 2 in the same namespace.
func shopPods() []runtime.Object {
	const ns = "shop-01234567"
	return []runtime.Object{
		record(ns, guid1),
		pod("web-2", ns, guid1, "web", "web"), pod("web-1", ns, guid1, "web", "web"),
		pod("db-1", ns, guid1, "db", "sidecar", "db"),
		pod("other-1", ns, guid2, "other", "other"),
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	tail := int64(5)
	tests := []struct {
		name     string
		opts     executor.LogsOptions
		noLogs   string // container whose logs cannot be read
		anyOrder bool   // pods streamed at once: lines of pods interleave
		want     string
		wantErr  string
		wantOpts []corev1.PodLogOptions
	}{
		{
			name: "All",
			opts: executor.LogsOptions{GUID: guid1, Tail: -1},
			want: "db/db-1 | db ready\nweb/web-1 | GET /\nweb/web-1 | GET /x\nweb/web-2 | GET /\nweb/web-2 | GET /x\n",
			wantOpts: []corev1.PodLogOptions{
				{Container: "db"}, {Container: "web"}, {Container: "web"},
			},
		},
		{
			name:     "OnePodNoPrefix",
			opts:     executor.LogsOptions{GUID: guid1, Service: "db", Tail: 5, Previous: true},
			want:     "db ready",
			wantOpts: []corev1.PodLogOptions{{Container: "db", Previous: true, TailLines: &tail}},
		},
		{
			name:     "Follow",
			opts:     executor.LogsOptions{GUID: guid1, Service: "web", Follow: true, Tail: -1},
			anyOrder: true,
			want:     "web/web-1 | GET /\nweb/web-1 | GET /x\nweb/web-2 | GET /\nweb/web-2 | GET /x\n",
			wantOpts: []corev1.PodLogOptions{{Container: "web", Follow: true}, {Container: "web", Follow: true}},
		},
		{
			name:    "OnePodFails",
			opts:    executor.LogsOptions{GUID: guid1, Tail: -1},
			noLogs:  "db",
			want:    "web/web-1 | GET /\nweb/web-1 | GET /x\nweb/web-2 | GET /\nweb/web-2 | GET /x\n",
			wantErr: `db/db-1: `,
		},
		{
			name:    "UnknownService",
			opts:    executor.LogsOptions{GUID: guid1, Service: "cache", Tail: -1},
			wantErr: `system ` + guid1 + ` has no pods of service "cache" (services with pods: db, web)`,
		},
		{
			name:    "UnknownSystem",
			opts:    executor.LogsOptions{GUID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Tail: -1},
			wantErr: "system aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: system not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(shopPods())
			f.SetLogs("web", "GET /\nGET /x") // the last line without an end
			f.SetLogs("sidecar", "not this one\n")
			f.SetLogs("other", "not ours\n")
			if tt.noLogs != "db" {
				f.SetLogs("db", "db ready")
			}
			var out bytes.Buffer
			tt.opts.Out = &out
			err := executor.Logs(context.Background(), f.Client, tt.opts)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Logs: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Logs: error %v, want one containing %q", err, tt.wantErr)
			}
			got := out.String()
			if tt.anyOrder {
				got = strings.Join(sorted(strings.SplitAfter(got, "\n")), "")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("logs (-want +got):\n%s", diff)
			}
			if tt.wantOpts != nil {
				if diff := cmp.Diff(tt.wantOpts, f.LogOptions()); diff != "" {
					t.Errorf("log requests (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	const guid3 = "cccccccccccccccccccccccccccccccc"
	noRecord := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy", Labels: map[string]string{"tycho-guid": guid3}}}
	rec2 := record("team", guid2)
	rec2.Data["own-namespace"] = "false"
	objs := []runtime.Object{record("shop-01234567", guid1), rec2, noRecord, deployment("web", "legacy", guid3)}
	tests := []struct {
		name    string
		guid    string
		ns      string
		want    executor.Location
		wantErr error
	}{
		{name: "Record", guid: guid1, want: executor.Location{Namespace: "shop-01234567", OwnNamespace: true}},
		{name: "SharedNamespace", guid: guid2, want: executor.Location{Namespace: "team"}},
		{name: "NoRecord", guid: guid3, want: executor.Location{Namespace: "legacy", OwnNamespace: true}},
		{name: "OtherNamespace", guid: guid1, ns: "team", wantErr: executor.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := executor.Locate(context.Background(), executortest.New(objs).Client, tt.guid, tt.ns)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Locate: error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Locate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ev := func(ns, name, typ, reason, kind, obj string, last time.Time, count int32) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: typ, Reason: reason,
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: obj}, Message: " " + reason + " of " + obj + "\n",
			FirstTimestamp: metav1.NewTime(last.Add(-time.Minute)), LastTimestamp: metav1.NewTime(last), Count: count}
	}
	// a new-style event: eventTime and a series, no timestamps
	series := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "shop-01234567"}, Type: "Warning", Reason: "BackOff",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"}, Message: "Back-off",
		EventTime: metav1.NewMicroTime(t0.Add(-10 * time.Minute)),
		Series:    &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(t0.Add(-time.Second))}}
	rec2 := record("team", guid2)
	rec2.Data["own-namespace"] = "false"
	typed := []runtime.Object{
		record("shop-01234567", guid1), rec2,
		ev("shop-01234567", "a", "Normal", "Scheduled", "Pod", "web-1", t0.Add(-5*time.Minute), 1),
		ev("shop-01234567", "b", "Normal", "ScalingReplicaSet", "Deployment", "web", t0.Add(-6*time.Minute), 1),
		series,
		ev("team", "c", "Normal", "Created", "Pod", "api-1", t0.Add(-2*time.Minute), 1),
		ev("team", "d", "Warning", "Failed", "Pod", "theirs-1", t0.Add(-time.Minute), 3),
		ev("team", "e", "Normal", "Sync", "Service", "api", t0.Add(-3*time.Minute), 0),
	}
	// the objects of system 2 in the shared namespace, as listed by kind
	dyn := []runtime.Object{deployment("api", "team", guid2), service("api", "team", guid2, "api", "", 80),
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta("api-1", "team", guid2, "api")}}
	tests := []struct {
		name string
		guid string
		want []executor.ClusterEvent
	}{
		{
			name: "OwnNamespace",
			guid: guid1,
			want: []executor.ClusterEvent{
				{Type: "Normal", Reason: "ScalingReplicaSet", Object: "Deployment/web", Message: "ScalingReplicaSet of web", Count: 1, First: t0.Add(-7 * time.Minute), Last: t0.Add(-6 * time.Minute)},
				{Type: "Normal", Reason: "Scheduled", Object: "Pod/web-1", Message: "Scheduled of web-1", Count: 1, First: t0.Add(-6 * time.Minute), Last: t0.Add(-5 * time.Minute)},
				{Type: "Warning", Reason: "BackOff", Object: "Pod/web-1", Message: "Back-off", Count: 7, First: t0.Add(-10 * time.Minute), Last: t0.Add(-time.Second)},
			},
		},
		{
			name: "SharedNamespace",
			guid: guid2,
			want: []executor.ClusterEvent{
				{Type: "Normal", Reason: "Sync", Object: "Service/api", Message: "Sync of api", Count: 1, First: t0.Add(-4 * time.Minute), Last: t0.Add(-3 * time.Minute)},
				{Type: "Normal", Reason: "Created", Object: "Pod/api-1", Message: "Created of api-1", Count: 1, First: t0.Add(-3 * time.Minute), Last: t0.Add(-2 * time.Minute)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(typed, dyn...)
			got, err := executor.Events(context.Background(), f.Client, executor.EventsOptions{GUID: tt.guid})
			if err != nil {
				t.Fatalf("Events: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Events (-want +got):\n%s", diff)
			}
		})
	}
}
