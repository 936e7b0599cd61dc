package e2ereal

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// db answers (and so becomes healthy) only 8 s after it starts; api waits
// for db to be healthy, worker for api to be started. Both dependencies
// declare a TCP port, so Tycho's waiters are nc loops in the wait image
// (a dependency without a port is waited for with kubectl, which pods here
// cannot run: no kubectl image and no route to the API server).
const dependsCompose = `name: order
services:
  db:
    image: tycho.test/probe:e2e
    command: ["/bin/sh", "-c", "sleep 8; exec /probe serve 5432"]
    expose: ["5432"]
    healthcheck:
      test: ["CMD", "/probe", "connect", "127.0.0.1:5432"]
      interval: 1s
      timeout: 2s
      retries: 1
  api:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    expose: ["80"]
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: tycho.test/probe:e2e
    command: ["/probe", "sleep"]
    depends_on:
      api: {condition: service_started}
`

// TestDependsOn checks compose's start order: a dependent's own process
// starts only once its dependency is healthy (service_healthy) or started
// (service_started).
func TestDependsOn(t *testing.T) {
	need(t)
	t.Parallel()
	s := deploy(t, "order", map[string]string{"compose.yaml": dependsCompose}, nil)
	s.waitReady(3*time.Minute, "db", "api", "worker")
	ctx := context.Background()
	get := func(svc string) *corev1.Pod {
		p, err := s.pod(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	db, api, worker := get("db"), get("api"), get("worker")
	readyAt := func(p *corev1.Pod) time.Time {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.LastTransitionTime.Time
			}
		}
		return time.Time{}
	}
	startedAt := func(p *corev1.Pod) time.Time {
		if r := p.Status.ContainerStatuses[0].State.Running; r != nil {
			return r.StartedAt.Time
		}
		return time.Time{}
	}
	dbRunning := startedAt(db)
	dbHealthy := readyAt(db)
	apiStarted := startedAt(api)
	apiReady := readyAt(api)
	workerStarted := startedAt(worker)
	t.Logf("db started %s, healthy %s; api started %s, ready %s; worker started %s",
		dbRunning.Format(time.TimeOnly), dbHealthy.Format(time.TimeOnly), apiStarted.Format(time.TimeOnly),
		apiReady.Format(time.TimeOnly), workerStarted.Format(time.TimeOnly))
	// Times have a resolution of one second.
	if dbHealthy.Sub(dbRunning) < 7*time.Second {
		t.Errorf("db healthy %s after its start, want at least 8s (it sleeps first)", dbHealthy.Sub(dbRunning))
	}
	if apiStarted.Before(dbHealthy) {
		t.Errorf("api started at %s, before db was healthy at %s (compose: service_healthy)", apiStarted, dbHealthy)
	}
	if workerStarted.Before(apiStarted) {
		t.Errorf("worker started at %s, before api started at %s (compose: service_started)", workerStarted, apiStarted)
	}
	for _, c := range []struct {
		pod  *corev1.Pod
		init string
	}{{api, "wait-for-db"}, {worker, "wait-for-api"}} {
		found := false
		for _, st := range c.pod.Status.InitContainerStatuses {
			if st.Name == c.init {
				found = true
				if tr := st.State.Terminated; tr == nil || tr.ExitCode != 0 {
					t.Errorf("%s of %s: %+v, want terminated with 0", c.init, c.pod.Name, st.State)
				}
			}
		}
		if !found {
			t.Errorf("%s has no init container %s", c.pod.Name, c.init)
		}
	}
}
