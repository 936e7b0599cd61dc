package realnode_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tychoctl/tycho/test/cluster"
	"github.com/tychoctl/tycho/test/realnode"
)

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestE2EStartStop starts a control plane and a real node, runs a pod that
// resolves and reaches the API's Service name through CoreDNS and
// kube-proxy, and checks that Stop leaves the machine as it found it.
func TestE2EStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real node; skipped under -short")
	}
	if err := realnode.CheckEnabled(); err != nil {
		t.Skip(err)
	}
	ctx := t.Context()
	c, err := cluster.Start(ctx, cluster.Options{Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Errorf("cluster Stop: %v", err)
		}
	}()
	start := time.Now()
	n, err := realnode.Options{Log: testLog{t}}.Start(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("real node up in %s", time.Since(start).Round(10*time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			if err := n.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
		}
	}()

	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(c.Kubectl(), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	start = time.Now()
	if out, err := kubectl("run", "p", "--image="+realnode.ProbeImage, "--restart=Never", "--command", "--", "/probe", "sleep"); err != nil {
		t.Fatalf("kubectl run: %v\n%s", err, out)
	}
	if out, err := kubectl("wait", "--for=condition=Ready", "pod/p", "--timeout=120s"); err != nil {
		desc, _ := kubectl("describe", "pod", "p")
		t.Fatalf("pod not Ready: %v\n%s\n%s\n%s", err, out, desc, n.Logs(20))
	}
	t.Logf("pod Ready in %s", time.Since(start).Round(10*time.Millisecond))
	for _, argv := range [][]string{
		{"/probe", "dns", "kubernetes"},
		{"/probe", "dns", "kube-dns.kube-system.svc.cluster.local"},
		{"/probe", "connect", realnode.DNSServiceIP + ":53"},
		{"/bin/sh", "-c", "nslookup kubernetes.default.svc.cluster.local " + realnode.DNSServiceIP},
	} {
		start := time.Now()
		out, err := kubectl(append([]string{"exec", "p", "--"}, argv...)...)
		t.Logf("exec %v (%s): %v\n%s", argv, time.Since(start).Round(time.Millisecond), err, out)
		if err != nil {
			t.Errorf("exec %v: %v", argv, err)
		}
	}
	if out, err := kubectl("logs", "p"); err != nil {
		t.Errorf("kubectl logs: %v\n%s", err, out)
	}

	start = time.Now()
	dir := n.Dir
	err = n.Stop()
	stopped = true
	t.Logf("real node stopped in %s", time.Since(start).Round(10*time.Millisecond))
	if err != nil {
		t.Errorf("Stop: %v", err)
	}
	if r := n.Residue(); len(r) > 0 {
		t.Errorf("left behind: %v", r)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s still exists", dir)
	}
}
