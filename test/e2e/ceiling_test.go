package e2e

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/server"
)

// rootOnNode asks for what would give a token holder root on a node.
const rootOnNode = `services:
  pwn:
    image: busybox
    command: ["sleep", "3600"]
    pid: host
    network_mode: host
    ipc: host
    cap_add: [ALL]
    user: "0:0"
    sysctls:
      kernel.core_pattern: "|/tmp/x"
`

// tychoNamespaces counts the namespaces of systems Tycho started.
func tychoNamespaces(t *testing.T) map[string]bool {
	t.Helper()
	l, err := clientset(t).CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: "executor=tycho"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range l.Items {
		out[n.Name] = true
	}
	return out
}

// TestE2EAPISecurityCeiling: the server's --security is a ceiling: at
// baseline and restricted a start above it is refused 422 and creates
// nothing on the real cluster; a compliant system runs in a namespace
// that enforces its own level, never above the ceiling; only the
// operator's privileged ceiling lets the host-namespace system in.
func TestE2EAPISecurityCeiling(t *testing.T) {
	ctx := context.Background()
	for _, ceiling := range []string{"baseline", "restricted"} {
		t.Run(ceiling, func(t *testing.T) {
			c, _ := apiServerWith(t, nil, func(o *server.Options) { o.Compile.Security = ceiling })
			before := tychoNamespaces(t)
			_, err := c.Start(ctx, api.StartRequest{Name: "ceiling", System: api.YAMLSystem(rootOnNode)})
			var e *client.Error
			if !errors.As(err, &e) || e.StatusCode != 422 {
				t.Fatalf("start above the ceiling: %v, want 422", err)
			}
			for n := range tychoNamespaces(t) {
				if !before[n] {
					t.Errorf("namespace %s appeared", n)
				}
			}
		})
	}
	t.Run("restricted runs a compliant system at restricted", func(t *testing.T) {
		c, _ := apiServerWith(t, nil, func(o *server.Options) { o.Compile.Security = "restricted" })
		res, err := c.Start(ctx, api.StartRequest{Name: "ceiling-ok", System: api.YAMLSystem("services:\n  web:\n    image: busybox\n    user: \"1000\"\n    command: [sleep, \"3600\"]\n")})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		t.Cleanup(func() { _, _ = c.Delete(context.Background(), res.SID) })
		ns, err := clientset(t).CoreV1().Namespaces().Get(ctx, res.Namespace, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Errorf("namespace enforces %q, want restricted", got)
		}
	})
	t.Run("the operator's privileged ceiling admits it", func(t *testing.T) {
		c, _ := apiServerWith(t, nil, func(o *server.Options) { o.Compile.Security = "privileged" })
		res, err := c.Start(ctx, api.StartRequest{Name: "ceiling-priv", System: api.YAMLSystem(rootOnNode)})
		if err != nil {
			t.Fatalf("start under a privileged ceiling: %v", err)
		}
		t.Cleanup(func() { _, _ = c.Delete(context.Background(), res.SID) })
		ns, err := clientset(t).CoreV1().Namespaces().Get(ctx, res.Namespace, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
			t.Errorf("namespace enforces %q, want privileged", got)
		}
	})
}
