package e2ereal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tychoctl/tycho/executor"
)

// chatter's two services print their environment and exit, again and
// again: lines in the logs of both, and restarts.
const chatterCompose = `name: chatter
services:
  talker:
    image: tycho.test/probe:e2e
    command: ["/probe", "env"]
    environment:
      GREETING: hello-from-talker
  other:
    image: tycho.test/probe:e2e
    command: ["/probe", "env"]
    environment:
      GREETING: hello-from-other
`

// TestOpsLogsAndPs starts a system with tycho up and, from the directory
// of its compose file (the system is found by its name), follows the logs
// of both services with their prefixes, across container restarts, and
// sees the restarts in ps.
func TestOpsLogsAndPs(t *testing.T) {
	need(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(chatterCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := tycho(t, dir, "", "up", "--wait=false"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	t.Cleanup(func() {
		if code, _, errOut := tycho(t, dir, "", "down"); code != 0 {
			t.Errorf("down: exit %d\n%s", code, errOut)
		}
	})

	// logs -f: a line of each service, and a second run of talker
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	logs := exec.CommandContext(ctx, tychoPath, "logs", "-f", "--kubeconfig", kc.Kubeconfig)
	logs.Dir = dir
	logs.Cancel = func() error { return logs.Process.Signal(syscall.SIGINT) }
	var errb bytes.Buffer
	logs.Stderr = &errb
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	logs.Stdout = w
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	seen := map[string]int{}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		lines = append(lines, l)
		for _, want := range []string{"talker-1 | GREETING=hello-from-talker", "other-1  | GREETING=hello-from-other"} {
			if l == want {
				seen[want]++
			}
		}
		if seen["talker-1 | GREETING=hello-from-talker"] >= 2 && seen["other-1  | GREETING=hello-from-other"] >= 1 {
			break
		}
	}
	if err := logs.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// drained until tycho ends
	go func() { _, _ = bufio.NewReader(out).WriteTo(new(bytes.Buffer)) }()
	werr := logs.Wait()
	if seen["talker-1 | GREETING=hello-from-talker"] < 2 || seen["other-1  | GREETING=hello-from-other"] < 1 {
		t.Fatalf("logs -f: saw %v in %d lines:\n%s\nstderr:\n%s", seen, len(lines), strings.Join(lines, "\n"), errb.String())
	}
	if werr != nil {
		t.Errorf("logs -f ended with %v after Ctrl-C; stderr:\n%s", werr, errb.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "talker-1 | ") && !strings.HasPrefix(l, "other-1  | ") {
			t.Errorf("logs -f: line %q has no service-N prefix", l)
		}
	}

	// ps: the restarts of both services
	var rows []executor.ServiceStatus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out, errOut := tycho(t, dir, "", "ps", "-o", "json")
		if code != 0 {
			t.Fatalf("ps: exit %d\n%s", code, errOut)
		}
		rows = nil
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("ps -o json: %v\n%s", err, out)
		}
		if len(rows) == 2 && rows[0].Restarts >= 1 && rows[1].Restarts >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps: %+v, want restarts of other and talker", rows)
		}
		time.Sleep(2 * time.Second)
	}
	if rows[0].Service != "other" || rows[1].Service != "talker" || rows[1].Ready != 0 || rows[1].Desired != 1 {
		t.Errorf("ps: %+v", rows)
	}
	code, table, _ := tycho(t, dir, "", "ps")
	t.Logf("ps:\n%s", table)
	// between two runs the container waits (CrashLoopBackOff) or has
	// ended (Completed: probe env exits 0)
	for _, r := range rows {
		if r.State != "CrashLoopBackOff" && r.State != "Completed" {
			t.Errorf("ps: %s is %q, want CrashLoopBackOff or Completed", r.Service, r.State)
		}
	}
	if code != 0 || !strings.HasPrefix(table, "SERVICE ") {
		t.Errorf("ps: exit %d:\n%s", code, table)
	}
}
