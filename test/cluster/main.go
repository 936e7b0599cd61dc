package cluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
)

// KubeconfigEnv names the environment variable that makes Main use an
// existing cluster instead of starting one.
const KubeconfigEnv = "TYCHO_E2E_KUBECONFIG"

// shared is the cluster Main started or attached for this test binary.
var shared *Cluster

// Main is the body of a test package's TestMain for tests that share one
// cluster:
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m, cluster.Options{}, nil)) }
//
// Under -short it starts nothing: the tests run and Shared skips them. With
// KubeconfigEnv set it attaches to that cluster; otherwise it starts one
// with opts (building the binaries first when the cache is cold) and stops
// it after the tests. setup, if not nil, runs once the cluster is up (for
// example to build a binary the tests run); its error fails the package.
// Main returns the exit code for os.Exit.
func Main(m *testing.M, opts Options, setup func(*Cluster) error) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "tycho-cluster: -short: not starting a cluster; e2e tests skip")
		return m.Run()
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if kc := os.Getenv(KubeconfigEnv); kc != "" {
		c, err := Attach(kc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tycho-cluster: %s: %v\n", KubeconfigEnv, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "tycho-cluster: using the existing cluster of %s=%s\n", KubeconfigEnv, kc)
		return runShared(m, c, setup)
	}
	c, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tycho-cluster: %v\n", err)
		return 1
	}
	code := runShared(m, c, setup)
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "tycho-cluster: stopping: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func runShared(m *testing.M, c *Cluster, setup func(*Cluster) error) int {
	if setup != nil {
		if err := setup(c); err != nil {
			fmt.Fprintf(os.Stderr, "tycho-cluster: test setup: %v\n", err)
			return 1
		}
	}
	shared = c
	defer func() { shared = nil }()
	return m.Run()
}

// Shared returns the cluster that Main started or attached for this test
// binary. It skips the test under -short, and fails it when Main was not
// used.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	if testing.Short() {
		tb.Skip("e2e: needs a cluster; skipped under -short")
	}
	if shared == nil {
		tb.Fatal("e2e: no shared cluster: call cluster.Main from TestMain")
	}
	return shared
}
