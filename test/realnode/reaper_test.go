package realnode

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tychoctl/tycho/test/cluster"
)

// helperEnv makes the test binary, run by TestE2EReaper, start a node with
// a running pod and then die without Stop.
const helperEnv = "TYCHO_REALNODE_REAPER_HELPER"

// TestE2EReaper kills a process that runs a node (as a panicking or
// timed-out test would die) and checks that the reaper puts the machine
// back as it was.
func TestE2EReaper(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		reaperHelper(t)
		return
	}
	if testing.Short() {
		t.Skip("e2e: starts a real node; skipped under -short")
	}
	if err := CheckEnabled(); err != nil {
		t.Skip(err)
	}
	// The machine as no node left it: under the lock, so that no other
	// test binary's node is in the picture.
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer lcancel()
	l, err := acquireLock(lctx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	before, err := snapshotHost()
	os.Remove(lockPath)
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	clusterDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestE2EReaper$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+clusterDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var nodeDir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		t.Log("helper: " + line)
		if d, ok := strings.CutPrefix(line, "NODE-DIR "); ok {
			nodeDir = d
		}
	}
	err = cmd.Wait()
	t.Logf("helper exited after %s: %v", time.Since(start).Round(10*time.Millisecond), err)
	if nodeDir == "" {
		t.Fatal("the helper did not start a node")
	}
	// The reaper holds the real-node lock until it is done; taking it
	// also keeps other test binaries' nodes away while we compare.
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lock, err := acquireLock(ctx, io.Discard)
	if err != nil {
		t.Fatalf("the reaper did not finish: %v", err)
	}
	defer func() {
		os.Remove(lockPath)
		lock.Close()
	}()
	t.Logf("reaper done %s after the helper died", time.Since(start).Round(10*time.Millisecond))
	if fileExists(nodeDir) {
		t.Errorf("%s left behind", nodeDir)
	}
	if r := before.residue(); len(r) > 0 {
		t.Errorf("left behind after the reaper: %v", r)
	}
}

// reaperHelper starts a cluster and a node, runs a pod, prints the node's
// directory and exits without stopping anything.
func reaperHelper(t *testing.T) {
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{Dir: os.Getenv(helperEnv)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("NODE-DIR " + n.Dir + "\n")
	kubectl := exec.Command(c.Kubectl(), "--kubeconfig", c.Kubeconfig, "run", "p", "--image="+ProbeImage, "--restart=Never", "--command", "--", "/probe", "serve", "80")
	if b, err := kubectl.CombinedOutput(); err != nil {
		t.Fatalf("kubectl run: %v\n%s", err, b)
	}
	wait := exec.Command(c.Kubectl(), "--kubeconfig", c.Kubeconfig, "wait", "--for=condition=Ready", "pod/p", "--timeout=120s")
	if b, err := wait.CombinedOutput(); err != nil {
		t.Fatalf("kubectl wait: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(n.Dir, "runc", "k8s.io")); err != nil {
		t.Fatalf("no containers: %v", err)
	}
	os.Stdout.WriteString("pod running; exiting without Stop\n")
	os.Exit(3)
}
