package realnode_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

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
// kube-proxy, exposes the API server to it (twice at once: one forwarder,
// one EndpointSlice), and checks that Stop removes the slice and leaves the
// machine as it found it.
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

	// The kubernetes Service has no endpoint until ExposeAPIServer.
	nc := []string{"exec", "p", "--", "/bin/nc", "-z", "-w", "5", "kubernetes.default", "443"}
	if out, err := kubectl(nc...); err == nil {
		t.Errorf("the pod reached the kubernetes Service before ExposeAPIServer: %s", out)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = n.ExposeAPIServer(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	slices, err := kube.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{LabelSelector: "endpointslice.kubernetes.io/managed-by=tycho-realnode"})
	if err != nil {
		t.Fatal(err)
	}
	if len(slices.Items) != 1 || slices.Items[0].Name != realnode.APIServerSlice {
		t.Errorf("EndpointSlices of ExposeAPIServer: %d, want 1 named %s", len(slices.Items), realnode.APIServerSlice)
	}
	start = time.Now()
	for {
		out, err := kubectl(nc...)
		if err == nil {
			t.Logf("the pod reached the kubernetes Service after %s", time.Since(start).Round(10*time.Millisecond))
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the pod cannot reach the kubernetes Service: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
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
	if _, err := kube.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Get(ctx, realnode.APIServerSlice, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("EndpointSlice %s after Stop: %v, want not found", realnode.APIServerSlice, err)
	}
	if err := n.ExposeAPIServer(ctx); err == nil {
		t.Error("ExposeAPIServer after Stop succeeded")
	}
}
