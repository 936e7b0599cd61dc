package e2ereal

import (
	"context"
	"strings"
	"testing"
	"time"
)

const healthCompose = `name: health
services:
  sick:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    expose: ["80"]
    healthcheck:
      test: ["CMD", "/probe", "exit", "1"]
      interval: 1s
      timeout: 1s
      retries: 1
  well:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
    expose: ["80"]
    healthcheck:
      test: ["CMD-SHELL", "/probe connect 127.0.0.1:80"]
      interval: 1s
      timeout: 2s
      retries: 1
`

// TestHealthcheck checks that a service whose healthcheck fails is running
// but not Ready (compose: unhealthy), is not restarted (compose restarts
// only on exit), and that a healthy one is Ready.
func TestHealthcheck(t *testing.T) {
	need(t)
	t.Parallel()
	s := deploy(t, "health", map[string]string{"compose.yaml": healthCompose}, nil)
	s.waitReady(3*time.Minute, "well")
	// sick has had many failing checks by now; give it a few more.
	time.Sleep(5 * time.Second)
	p, err := s.pod(context.Background(), "sick")
	if err != nil {
		t.Fatal(err)
	}
	if podReady(p) {
		t.Errorf("sick is Ready, compose: unhealthy (%s)", describePod(p))
	}
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("sick is not running: %s", describePod(p))
	} else if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Errorf("sick restarted %d times; compose does not restart an unhealthy container", n)
	}
	// Its process answers inside its own container.
	if code, out := s.exec("sick", "/probe", "connect", "127.0.0.1:80"); code != 0 || !strings.Contains(out, "sick") {
		t.Errorf("sick's own port: exit %d, %q", code, out)
	}
	// The healthcheck is the readiness probe: an unhealthy service gets no
	// traffic through its name (issue 7; docs/mapping.md). Docker's DNS
	// would keep the name of an unhealthy container: a deliberate
	// difference, so that depends_on service_healthy and traffic agree.
	code, out := s.exec("well", "/probe", "connect", "-timeout", "2s", "sick:80")
	t.Logf("well -> sick:80: exit %d, %q", code, strings.TrimSpace(out))
	if code == 0 {
		t.Errorf("well -> sick:80 reached the unhealthy service: %s", strings.TrimSpace(out))
	}
}
