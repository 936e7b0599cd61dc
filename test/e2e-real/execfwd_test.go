package e2ereal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const execFwdGUID = "e7ecf0d0e7ecf0d0e7ecf0d0e7ecf0d0"

// execFwdCompose publishes the probe's HTTP port at a local port.
func execFwdCompose(local int) string {
	return fmt.Sprintf(`name: execfwd
services:
  web:
    image: tycho.test/probe:e2e
    command: ["/probe", "serve", "80/http"]
    ports: ["%d:80"]
`, local)
}

// TestExecAndPortForward runs `tycho exec` in a service (its output and
// exit code come back) and `tycho port-forward` to the probe's HTTP port,
// which keeps working when the pod behind it is replaced.
func TestExecAndPortForward(t *testing.T) {
	need(t)
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := deploy(t, "execfwd", map[string]string{"compose.yaml": execFwdCompose(local)}, nil, "--guid", execFwdGUID, "--expose", "clusterip")
	s.waitReady(3*time.Minute, "web")

	t.Run("Exec", func(t *testing.T) {
		code, out, errOut := tycho(t, "", "", "exec", execFwdGUID, "web", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
		if code != 3 || out != "out\n" || !strings.Contains(errOut, "err") {
			t.Errorf("exec exit 3: got exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, errOut = tycho(t, "", "hello\n", "exec", "-i", execFwdGUID, "web", "--", "/bin/sh", "-c", "read x; echo got:$x; read h </proc/sys/kernel/hostname; echo $h")
		p, perr := s.pod(context.Background(), "web")
		if perr != nil {
			t.Fatal(perr)
		}
		if want := "got:hello\n" + p.Name + "\n"; code != 0 || out != want {
			t.Errorf("exec -i: got exit %d, stdout %q (want %q), stderr %q", code, out, want, errOut)
		}
		code, _, errOut = tycho(t, "", "", "exec", execFwdGUID, "web", "--index", "2", "--", "true")
		if code != 1 || !strings.Contains(errOut, "service web has 1 running pod: no replica 2") {
			t.Errorf("exec --index 2: got exit %d, stderr %q", code, errOut)
		}
		code, _, errOut = tycho(t, "", "", "exec", execFwdGUID, "nope", "--", "true")
		if code != 1 || !strings.Contains(errOut, `no service "nope"`) {
			t.Errorf("exec in an unknown service: got exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("TTY", func(t *testing.T) {
		// script(1) gives tycho a terminal; -t gives the command one
		scriptPath, err := exec.LookPath("script")
		if err != nil {
			t.Skip("no script(1) to make a terminal")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		line := fmt.Sprintf("%s --kubeconfig %s exec -it %s web -- /bin/sh -c 'test -t 0 && test -t 1 && echo tty:yes; exit 4'", tychoPath, kc.Kubeconfig, execFwdGUID)
		cmd := exec.CommandContext(ctx, scriptPath, "-qec", line, "/dev/null")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(string(out), "tty:yes") {
			t.Errorf("exec -it under a terminal: %v, output %q; want exit 4 and tty:yes", err, out)
		}
	})

	t.Run("PortForward", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.Command(tychoPath, "--kubeconfig", kc.Kubeconfig, "port-forward", execFwdGUID)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errOut syncWriter
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
			exited <- cmd.Wait()
		}()
		defer func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
			}
			t.Logf("port-forward stderr:\n%s", errOut.String())
		}()
		want := fmt.Sprintf("web: localhost:%d -> 80", local)
		select {
		case line := <-lines:
			if line != want {
				t.Fatalf("first line %q, want %q", line, want)
			}
		case <-ctx.Done():
			t.Fatal("no forwarding line")
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", local)
		first, err := httpGet(ctx, url)
		p, perr := s.pod(ctx, "web")
		if perr != nil {
			t.Fatal(perr)
		}
		if err != nil || first != p.Name {
			t.Fatalf("GET %s: %q, %v; want %q", url, first, err, p.Name)
		}

		// replace the pod: the forward follows the new one
		start := time.Now()
		if err := s.client.CoreV1().Pods(s.ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		var got string
		for {
			got, err = httpGet(ctx, url)
			if err == nil && got != p.Name {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("after deleting %s: GET %s: %q, %v", p.Name, url, got, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("reached the new pod %s %s after deleting %s", got, time.Since(start).Round(10*time.Millisecond), p.Name)
		if np, err := s.pod(ctx, "web"); err != nil || np.Name != got {
			t.Errorf("answered by %q, the service's pod is %v (%v)", got, np, err)
		}
		select {
		case line := <-lines:
			if !strings.HasPrefix(line, want+" (reconnected to pod ") {
				t.Errorf("line after the replacement %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Error("no reconnection line")
		}

		// Ctrl-C ends it cleanly
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("port-forward after SIGINT: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("port-forward did not end 15 s after SIGINT")
		}
		if _, err := httpGet(ctx, url); err == nil {
			t.Error("the local port still answers after port-forward ended")
		}
	})

	t.Run("PortTaken", func(t *testing.T) {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(local)))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		code, out, errOut := tycho(t, "", "", "port-forward", "--address", "127.0.0.1", execFwdGUID)
		want := fmt.Sprintf("web: 127.0.0.1:%d: not forwarded: the port is taken (address already in use)", local)
		if code != 1 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "no local port could be listened on") {
			t.Errorf("port-forward to a taken port: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
		}
	})
}

// httpGet gets url and returns its body, trimmed.
func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

// syncWriter is a buffer written by a process and read by the test.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
