// Package e2ereal runs compiled compose systems on a real node: the harness
// control plane of test/cluster plus containerd, kubelet, kube-proxy,
// CoreDNS and kube-router from test/realnode. Each test writes a compose
// file, runs `tycho compile -n NS --create-namespace | kubectl apply -f -`
// and checks, with kubectl exec of the probe (test/probe) inside the pods,
// what compose promises: names, ports, networks, depends_on, environment and
// files, healthchecks.
//
// Everything skips under -short, when not root, and when the Debian
// packages of realnode.AptPackages are missing (`make e2e-real` installs
// them first).
package e2ereal

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tychoctl/tycho/test/cluster"
	"github.com/tychoctl/tycho/test/realnode"
)

var (
	skipReason string // set when the real node cannot run here
	kc         *cluster.Cluster
	node       *realnode.Node
	tychoPath  string
	kubectl    string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// testing.Short needs parsed flags.
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		skipReason = "e2e-real: needs a real node; skipped under -short"
		return m.Run()
	}
	if err := realnode.CheckEnabled(); err != nil {
		skipReason = "e2e-real: " + err.Error()
		fmt.Fprintln(os.Stderr, skipReason)
		return m.Run()
	}
	ctx := context.Background()
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: %v\n", err)
		return 1
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e-real: stopping the cluster: %v\n", err)
		}
	}()
	kc = c
	fmt.Fprintf(os.Stderr, "e2e-real: control plane up in %s\n", time.Since(start).Round(10*time.Millisecond))
	kubectl = c.Kubectl()
	if kubectl == "" {
		fmt.Fprintln(os.Stderr, "e2e-real: no kubectl")
		return 1
	}

	binDir, err := os.MkdirTemp("", "tycho-e2e-real-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: %v\n", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	tychoPath = filepath.Join(binDir, "tycho")
	if out, err := exec.Command("go", "build", "-o", tychoPath, "github.com/tychoctl/tycho/cmd/tycho").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: building tycho: %v\n%s", err, out)
		return 1
	}

	start = time.Now()
	// TYCHO_E2E_REAL_NO_ENFORCER=1 runs without kube-router: the denials
	// are then not checked.
	n, err := realnode.Options{Log: os.Stderr, NoEnforcer: os.Getenv("TYCHO_E2E_REAL_NO_ENFORCER") == "1"}.Start(ctx, c)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: %v\n", err)
		return 1
	}
	node = n
	fmt.Fprintf(os.Stderr, "e2e-real: real node %q up in %s (enforcer: %q)\n", n.Name, time.Since(start).Round(10*time.Millisecond), n.Enforcer)

	code := m.Run()

	stopIngress()
	start = time.Now()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e-real: component logs (tails):\n%s", n.Logs(15))
	}
	if err := n.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e-real: stopping the real node: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "e2e-real: real node stopped in %s, machine as found: %t\n",
		time.Since(start).Round(10*time.Millisecond), len(n.Residue()) == 0)
	return code
}

// need skips the test when there is no real node.
func need(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if node == nil {
		t.Fatal("e2e-real: no real node")
	}
}
