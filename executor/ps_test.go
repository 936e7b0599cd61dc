package executor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// psCluster is system 1 with a ready web (two replicas, one restarted
// container, published on a load balancer), a db that crash-loops, a
// cache whose pod cannot be scheduled, a completed Job and a DaemonSet.
func psCluster() []runtime.Object {
	const ns = "shop-01234567"
	two := int32(2)
	web := deployment("web", ns, guid1)
	web.Spec.Replicas = &two
	web.Status = appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	db := deployment("db", ns, guid1)
	db.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}
	worker := deployment("worker", ns, guid1)
	worker.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}
	cache := deployment("cache", ns, guid1)
	cache.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}
	migrate := job("migrate", ns, guid1)
	migrate.Status = batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	agent := &appsv1.DaemonSet{ObjectMeta: meta("agent", ns, guid1, "agent"), Status: appsv1.DaemonSetStatus{
		DesiredNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3, ObservedGeneration: 1}}
	agent.Generation = 1
	status := func(p *corev1.Pod, restarts int32, waiting string) *corev1.Pod {
		cs := corev1.ContainerStatus{Name: p.Spec.Containers[0].Name, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
		switch {
		case waiting == "Error" || waiting == "Completed":
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: waiting, ExitCode: 1}}
		case waiting != "":
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting, Message: "back-off 5m0s"}}
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		return p
	}
	pending := pod("cache-1", ns, guid1, "cache", "cache")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/1 nodes are available:\n 1 Insufficient memory. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}}}
	lb := service("web-published", ns, guid1, "web", corev1.ServiceTypeLoadBalancer, 8080)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	web2 := service("web-alias", ns, guid1, "web", "", 80)
	web2.Spec.Ports = append(web2.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	return []runtime.Object{
		record(ns, guid1), web, db, cache, migrate, agent, worker,
		status(pod("worker-1", ns, guid1, "worker", "worker"), 1, "Error"),
		status(pod("web-1", ns, guid1, "web", "web"), 0, ""), status(pod("web-2", ns, guid1, "web", "web"), 2, ""),
		status(pod("db-1", ns, guid1, "db", "db"), 7, "CrashLoopBackOff"), pending,
		status(pod("migrate-1", ns, guid1, "migrate", "migrate"), 0, "Completed"),
		service("web", ns, guid1, "web", "", 80), web2, lb, service("db", ns, guid1, "db", "", 5432),
		// another system's
		deployment("web", "other", guid2),
	}
}

func TestPs(t *testing.T) {
	t.Parallel()
	f := executortest.New(psCluster())
	got, err := executor.Ps(context.Background(), f.Client, executor.PsOptions{GUID: guid1})
	if err != nil {
		t.Fatalf("Ps: %v", err)
	}
	want := []executor.ServiceStatus{
		{Service: "agent", Kind: "DaemonSet", Ready: 3, Desired: 3, State: "running", Ports: []string{}, Endpoints: []string{}},
		{Service: "cache", Kind: "Deployment", Ready: 0, Desired: 1, State: "Pending: 0/1 nodes are available: 1 Insufficient memory.", Ports: []string{}, Endpoints: []string{}},
		{Service: "db", Kind: "Deployment", Ready: 0, Desired: 1, Restarts: 7, State: "CrashLoopBackOff", Ports: []string{"5432/tcp"}, Endpoints: []string{}},
		{Service: "migrate", Kind: "Job", Ready: 1, Desired: 1, State: "completed", Ports: []string{}, Endpoints: []string{}},
		{Service: "web", Kind: "Deployment", Ready: 2, Desired: 2, Restarts: 2, State: "running", Ports: []string{"53/udp", "80/tcp"}, Endpoints: []string{"203.0.113.7:8080"}},
		{Service: "worker", Kind: "Deployment", Ready: 0, Desired: 1, Restarts: 1, State: "Error", Ports: []string{}, Endpoints: []string{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ps (-want +got):\n%s", diff)
	}
}

func TestWatchPs(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	f := executortest.New(psCluster())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var states []string
	err := executor.WatchPs(ctx, f.Client, executor.PsOptions{GUID: guid1}, func(rows []executor.ServiceStatus) error {
		states = append(states, rows[2].State)
		if len(states) == 1 {
			// the crash-looping db comes up
			p, err := f.Typed.CoreV1().Pods(ns).Get(ctx, "db-1", metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
			go func() {
				// once the watch is open, which sees the change
				for !watched(f) {
					time.Sleep(time.Millisecond)
				}
				_, _ = f.Typed.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}()
			return nil
		}
		cancel()
		return nil
	})
	if err != nil {
		t.Fatalf("WatchPs: %v", err)
	}
	// the Deployment still has no ready replica: starting
	if diff := cmp.Diff([]string{"CrashLoopBackOff", "starting"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// TestWatchPsCancel: the end of ctx ends WatchPs with nil and no
// goroutine left behind, whether it waits on the watch or the cluster is
// read again for new rows (Ctrl-C during a refresh is no failure).
func TestWatchPsCancel(t *testing.T) {
	t.Parallel()
	for _, during := range []string{"watch", "refresh"} {
		t.Run(during, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(psCluster())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			lists := 0
			f.Typed.PrependReactor("list", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
				lists++
				if during == "refresh" && lists == 2 {
					// interrupted while the rows are read again
					cancel()
					return true, nil, context.Canceled
				}
				return false, nil, nil
			})
			done := make(chan error, 1)
			go func() {
				done <- executor.WatchPs(ctx, f.Client, executor.PsOptions{GUID: guid1}, func([]executor.ServiceStatus) error { return nil })
			}()
			for !watched(f) {
				time.Sleep(time.Millisecond)
			}
			if during == "watch" {
				cancel()
			} else {
				// a pod changes: the rows are read again
				p, err := f.Typed.CoreV1().Pods("shop-01234567").Get(context.Background(), "db-1", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				p.Labels["touched"] = "yes"
				if _, err := f.Typed.CoreV1().Pods("shop-01234567").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("WatchPs: %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("WatchPs did not return after its context ended")
			}
		})
	}
}

// watched tells whether pods were watched.
func watched(f *executortest.Fake) bool {
	for _, a := range f.Typed.Actions() {
		if a.GetVerb() == "watch" && a.GetResource().Resource == "pods" {
			return true
		}
	}
	return false
}

func TestRestart(t *testing.T) {
	t.Parallel()
	const ns = "shop-01234567"
	tests := []struct {
		name     string
		services []string
		want     []string
		wantErr  string
	}{
		{name: "All", want: []string{"DaemonSet/agent", "Deployment/cache", "Deployment/db", "Deployment/web", "Deployment/worker"}},
		{name: "Some", services: []string{"web", "db"}, want: []string{"Deployment/db", "Deployment/web"}},
		{name: "Job", services: []string{"migrate"}, wantErr: "service migrate is a Job, which runs once: it cannot be restarted"},
		{name: "Unknown", services: []string{"web", "cache2"}, wantErr: "system " + guid1 + " has no service cache2 (its services: agent, cache, db, migrate, web, worker)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(psCluster())
			got, err := executor.Restart(context.Background(), f.Client, executor.RestartOptions{GUID: guid1, Services: tt.services,
				Now: func() time.Time { return t0 }})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Restart: error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Restart: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Restart (-want +got):\n%s", diff)
			}
			var patched []string
			for _, a := range f.Typed.Actions() {
				if pa, ok := a.(clienttesting.PatchAction); ok {
					patched = append(patched, a.GetResource().Resource+"/"+pa.GetName()+" "+string(pa.GetPatchType())+" "+string(pa.GetPatch()))
				}
			}
			for _, w := range tt.want {
				kind, name, _ := strings.Cut(w, "/")
				want := strings.ToLower(kind) + "s/" + name + " application/merge-patch+json " +
					`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-11-25T12:00:00Z"}}}}}`
				if !contains(patched, want) {
					t.Errorf("no patch %s among %q", want, patched)
				}
			}
			if len(patched) != len(tt.want) {
				t.Errorf("patches %q, want %d", patched, len(tt.want))
			}
			d, err := f.Typed.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Spec.Template.Annotations[executor.RestartedAtAnnotation]; got != "2025-11-25T12:00:00Z" {
				t.Errorf("web's restartedAt: %q", got)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
