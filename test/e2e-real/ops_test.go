package e2ereal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
		// between two runs a container waits (CrashLoopBackOff) or has
		// ended (Completed: probe env exits 0); for a moment after a
		// restart it runs, which is not what this asks about
		between := func(r executor.ServiceStatus) bool { return r.State == "CrashLoopBackOff" || r.State == "Completed" }
		if len(rows) == 2 && rows[0].Restarts >= 1 && rows[1].Restarts >= 2 && between(rows[0]) && between(rows[1]) && rows[1].Ready == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps: %+v, want restarts of other and talker, each waiting (CrashLoopBackOff) or ended (Completed)", rows)
		}
		time.Sleep(2 * time.Second)
	}
	if rows[0].Service != "other" || rows[1].Service != "talker" || rows[1].Desired != 1 {
		t.Errorf("ps: %+v", rows)
	}
	code, table, _ := tycho(t, dir, "", "ps")
	t.Logf("ps:\n%s", table)
	if code != 0 || !strings.HasPrefix(table, "SERVICE ") {
		t.Errorf("ps: exit %d:\n%s", code, table)
	}
}

// steadyCompose's service serves until it is stopped: it restarts only
// when something kills it.
const steadyCompose = `name: steady
services:
  server:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80"]
`

// TestOpsPsAfterKill starts a system whose service runs normally, kills
// its container's process from the node (containerd's SIGKILL, as the
// out-of-memory killer would), and sees in ps, as JSON and as the table,
// the restart the kubelet made and the service running again.
func TestOpsPsAfterKill(t *testing.T) {
	need(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(steadyCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := tycho(t, dir, "", "up"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	t.Cleanup(func() {
		if code, _, errOut := tycho(t, dir, "", "down"); code != 0 {
			t.Errorf("down: exit %d\n%s", code, errOut)
		}
	})
	ps := func() executor.ServiceStatus {
		t.Helper()
		code, out, errOut := tycho(t, dir, "", "ps", "-o", "json")
		if code != 0 {
			t.Fatalf("ps: exit %d\n%s", code, errOut)
		}
		var rows []executor.ServiceStatus
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("ps -o json: %v\n%s", err, out)
		}
		if len(rows) != 1 || rows[0].Service != "server" {
			t.Fatalf("ps: %+v, want one row, server's", rows)
		}
		return rows[0]
	}
	if r := ps(); r.Restarts != 0 || r.State != "running" || r.Ready != 1 {
		t.Fatalf("ps before the kill: %+v, want server running, ready, no restarts", r)
	}

	// the system's namespace (by its name: the other tests' systems run
	// beside it), and the container of its pod
	code, out, errOut := tycho(t, dir, "", "status", "steady", "-o", "json")
	var systems []executor.System
	if code != 0 || json.Unmarshal([]byte(out), &systems) != nil || len(systems) != 1 {
		t.Fatalf("status -o json: exit %d, %s\n%s", code, out, errOut)
	}
	s := systemIn(t, systems[0].Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := s.pod(ctx, "server")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].ContainerID == "" {
		t.Fatalf("pod %s: no container: %s", p.Name, describePod(p))
	}
	killed := p.Status.ContainerStatuses[0].ContainerID
	if err := node.KillContainer(ctx, killed); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s of pod %s", killed, p.Name)

	// the kubelet restarts it; ps counts the restart and says running
	start := time.Now()
	var r executor.ServiceStatus
	for {
		r = ps()
		if r.Restarts >= 1 && r.State == "running" && r.Ready == 1 {
			break
		}
		if ctx.Err() != nil {
			p, _ := s.pod(context.Background(), "server")
			t.Fatalf("ps after the kill: %+v, want a restart and running; pod: %s", r, describePod(p))
		}
		time.Sleep(time.Second)
	}
	t.Logf("ps: %d restart(s), %s, after %s", r.Restarts, r.State, time.Since(start).Round(10*time.Millisecond))
	// the same pod, a new container, the last one killed
	p, err = s.pod(ctx, "server")
	if err != nil {
		t.Fatal(err)
	}
	cs := p.Status.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; cs.ContainerID == killed || last == nil || last.ContainerID != killed || last.ExitCode != 137 {
		t.Errorf("pod %s: container %s, last terminated %+v; want a new container after %s ended with 137 (SIGKILL)", p.Name, cs.ContainerID, last, killed)
	}

	code, table, _ := tycho(t, dir, "", "ps")
	t.Logf("ps:\n%s", table)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("ps: exit %d, want a header and one row:\n%s", code, table)
	}
	head, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	if len(head) < 5 || head[3] != "RESTARTS" || head[4] != "STATE" || len(row) < 5 {
		t.Fatalf("ps: want the columns SERVICE KIND READY RESTARTS STATE ...:\n%s", table)
	}
	if row[0] != "server" || row[2] != "1/1" || row[3] != strconv.Itoa(int(r.Restarts)) || row[4] != "running" {
		t.Errorf("ps: row %q, want server, 1/1 ready, %d restart(s), running", lines[1], r.Restarts)
	}
}
