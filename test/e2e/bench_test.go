package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchServices is the size of the synthetic system of the benchmark.
const benchServices = 100

// TestE2EBenchmarkUp compares `tycho up --wait` of a synthetic system of
// benchServices services (gen_compose.py) with kubectl apply of the same
// compiled objects into another namespace followed by kubectl wait for
// every Deployment to be Available, and logs both durations. It runs only
// with TYCHO_E2E_BENCH=1.
func TestE2EBenchmarkUp(t *testing.T) {
	if os.Getenv("TYCHO_E2E_BENCH") != "1" {
		t.Skip("set TYCHO_E2E_BENCH=1 to run the benchmark")
	}
	c := shared(t)
	bin := tychoBin(t)
	kubectlBin := c.Kubectl()
	if kubectlBin == "" {
		t.Skip("no kubectl")
	}
	dir := t.TempDir()
	gen, err := exec.Command("python3", "../../../shared/tools/gen_compose.py", strconv.Itoa(benchServices)).Output()
	if err != nil {
		t.Fatalf("gen_compose.py: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	const guidUp, guidApply = "e2eb0010000000000000000000000000", "e2eb0020000000000000000000000000"
	nsApply := "synth-kubectl-" + guidApply[:8]
	t.Cleanup(func() {
		if len(labelled(t, guidUp)) > 0 {
			runTycho(t, dir, "down", "--volumes", guidUp)
		}
		_ = exec.Command(kubectlBin, "--kubeconfig", c.Kubeconfig, "delete", "namespace", nsApply, "--ignore-not-found", "--wait=false").Run()
	})
	run := func(name string, args ...string) (time.Duration, string) {
		t.Helper()
		start := time.Now()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			stderr := ""
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr)
		}
		return d, string(out)
	}

	upTime, _ := run(bin, "up", "-f", "compose.yaml", "--guid", guidUp, "--timeout", "10m", "--kubeconfig", c.Kubeconfig)
	downTime, _ := run(bin, "down", "--volumes", guidUp, "--timeout", "10m", "--kubeconfig", c.Kubeconfig)

	compileTime, manifests := run(bin, "compile", "-f", "compose.yaml", "--guid", guidApply, "-n", nsApply, "--create-namespace")
	file := filepath.Join(dir, "manifests.yaml")
	if err := os.WriteFile(file, []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	applyTime, _ := run(kubectlBin, "--kubeconfig", c.Kubeconfig, "apply", "-f", file)
	waitTime, _ := run(kubectlBin, "--kubeconfig", c.Kubeconfig, "wait", "-n", nsApply, "--for=condition=Available", "deployment", "--all", "--timeout=10m")

	objects := strings.Count(manifests, "\n---\n") + 1
	t.Logf("%d services, %d objects", benchServices, objects)
	t.Logf("tycho up --wait:                      %s", upTime.Round(time.Millisecond))
	t.Logf("kubectl apply -f + kubectl wait:      %s (apply %s, wait %s)", (applyTime + waitTime).Round(time.Millisecond),
		applyTime.Round(time.Millisecond), waitTime.Round(time.Millisecond))
	t.Logf("  with tycho compile before it:       %s (compile %s)", (compileTime + applyTime + waitTime).Round(time.Millisecond), compileTime.Round(time.Millisecond))
	t.Logf("tycho down --volumes (waits):         %s", downTime.Round(time.Millisecond))
}
