package executor_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
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
	since := int64(90)
	tests := []struct {
		name     string
		opts     executor.LogsOptions
		logs     map[string]string // container → logs; default: web, db
		anyOrder bool              // pods streamed at once: lines of pods interleave
		want     string
		wantErr  string
		wantOpts []corev1.PodLogOptions
	}{
		{
			// each line prefixed with the service and replica number,
			// padded to the longest, as docker compose does
			name: "All",
			opts: executor.LogsOptions{GUID: guid1, Tail: -1},
			want: "db-1  | db ready\nweb-1 | GET /\nweb-1 | GET /x\nweb-2 | GET /\nweb-2 | GET /x\n",
			wantOpts: []corev1.PodLogOptions{
				{Container: "db", Timestamps: true}, {Container: "web", Timestamps: true}, {Container: "web", Timestamps: true},
			},
		},
		{
			// lines interleaved by the cluster's times, which are left
			// out; a line without one stays after the line before it
			name: "InterleavedByTime",
			opts: executor.LogsOptions{GUID: guid1, Tail: -1},
			logs: map[string]string{
				"db":  "2025-11-25T12:00:01.5Z db starting\n2025-11-25T12:00:03Z db ready\n",
				"web": "2025-11-25T12:00:02Z GET /\n  continued\n2025-11-25T12:00:04Z GET /x\n",
			},
			want: "db-1  | db starting\nweb-1 | GET /\nweb-1 |   continued\nweb-2 | GET /\nweb-2 |   continued\n" +
				"db-1  | db ready\nweb-1 | GET /x\nweb-2 | GET /x\n",
		},
		{
			name: "Timestamps",
			opts: executor.LogsOptions{GUID: guid1, Services: []string{"db"}, Tail: -1, Timestamps: true},
			logs: map[string]string{"db": "2025-11-25T12:00:01.5Z db starting\n"},
			want: "db-1 | 2025-11-25T12:00:01.5Z db starting\n",
		},
		{
			name: "Color",
			opts: executor.LogsOptions{GUID: guid1, Tail: -1, Color: true},
			want: "\x1b[36mdb-1  | \x1b[0mdb ready\n\x1b[33mweb-1 | \x1b[0mGET /\n\x1b[33mweb-1 | \x1b[0mGET /x\n" +
				"\x1b[33mweb-2 | \x1b[0mGET /\n\x1b[33mweb-2 | \x1b[0mGET /x\n",
		},
		{
			name: "NoPrefix",
			opts: executor.LogsOptions{GUID: guid1, Services: []string{"db"}, Tail: -1, NoPrefix: true},
			want: "db ready\n",
		},
		{
			name:     "OneServiceTailSincePrevious",
			opts:     executor.LogsOptions{GUID: guid1, Services: []string{"db"}, Tail: 5, Since: 90 * time.Second, Previous: true},
			want:     "db-1 | db ready\n",
			wantOpts: []corev1.PodLogOptions{{Container: "db", Previous: true, TailLines: &tail, SinceSeconds: &since, Timestamps: true}},
		},
		{
			name:     "Follow",
			opts:     executor.LogsOptions{GUID: guid1, Services: []string{"web"}, Follow: true, Tail: -1},
			anyOrder: true,
			want:     "web-1 | GET /\nweb-1 | GET /x\nweb-2 | GET /\nweb-2 | GET /x\n",
			wantOpts: []corev1.PodLogOptions{{Container: "web", Follow: true, Timestamps: true}, {Container: "web", Follow: true, Timestamps: true}},
		},
		{
			name:    "OnePodFails",
			opts:    executor.LogsOptions{GUID: guid1, Tail: -1},
			logs:    map[string]string{"web": "GET /\nGET /x"},
			want:    "web-1 | GET /\nweb-1 | GET /x\nweb-2 | GET /\nweb-2 | GET /x\n",
			wantErr: `db-1 (pod db-1): `,
		},
		{
			name:    "UnknownService",
			opts:    executor.LogsOptions{GUID: guid1, Services: []string{"web", "cache"}, Tail: -1},
			wantErr: `system ` + guid1 + ` has no service "cache" (its services: db, web)`,
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
			logs := tt.logs
			if logs == nil {
				logs = map[string]string{"web": "GET /\nGET /x", "db": "db ready"} // the last lines without an end
			}
			for c, text := range logs {
				f.SetLogs(c, text)
			}
			f.SetLogs("sidecar", "not this one\n")
			f.SetLogs("other", "not ours\n")
			var out syncBuffer
			tt.opts.Out = &out
			ctx := context.Background()
			if tt.opts.Follow {
				// the fake's streams end at once; follow goes on until
				// the end of ctx
				c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				ctx = c
			}
			err := executor.Logs(ctx, f.Client, tt.opts)
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

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsFollowNewPods: with Follow, a pod that appears later (a
// scale-up, or the replacement of a deleted one) is followed, and takes
// the lowest free replica number.
func TestLogsFollowNewPods(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	f := executortest.New(shopPods())
	f.SetLogs("web", "GET /\n")
	f.SetLogs("db", "db ready\n")
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- executor.Logs(ctx, f.Client, executor.LogsOptions{GUID: guid1, Services: []string{"web"}, Follow: true, Tail: -1, Out: &out})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s; output:\n%s", what, out.String())
			}
		}
	}
	watching := func() bool {
		for _, a := range f.Typed.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == "pods" {
				return true
			}
		}
		return false
	}
	waitFor("the watch", watching)
	pods := f.Typed.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, pod("web-3", ns, guid1, "web", "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("web-3", func() bool { return strings.Contains(out.String(), "web-3 | GET /\n") })
	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, pod("web-4", ns, guid1, "web", "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// web-1 is gone: its replacement is web-1 again, as docker compose
	// numbers the container that replaces one
	waitFor("the replacement of web-1", func() bool { return strings.Count(out.String(), "web-1 | GET /\n") == 2 })
	// a pod of another service is not followed
	if _, err := pods.Create(ctx, pod("db-2", ns, guid1, "db", "db"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	// the end of ctx ends Logs, its streams and its watch
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Logs -f did not return after its context ended")
	}
	got := strings.Join(sorted(strings.SplitAfter(out.String(), "\n")), "")
	want := "web-1 | GET /\nweb-1 | GET /\nweb-2 | GET /\nweb-3 | GET /\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
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
