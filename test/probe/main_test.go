package main

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func runProbe(argv0 string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(argv0, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestServeConnect serves TCP, UDP and HTTP and reaches each port.
func TestServeConnect(t *testing.T) {
	t.Setenv("PROBE_NAME", "alpha")
	tcp, udp, web := freePort(t), freePort(t), freePort(t)
	go run("probe", []string{"serve", strconv.Itoa(tcp), strconv.Itoa(udp) + "/udp", strconv.Itoa(web) + "/http"}, &bytes.Buffer{}, &bytes.Buffer{})
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, _, _ := runProbe("probe", "connect", addr(web)); code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"connect", addr(tcp)}, "alpha\n"},
		{[]string{"connect", "-udp", addr(udp)}, "alpha\n"},
		{[]string{"get", "http://" + addr(web) + "/"}, "alpha\n"},
	} {
		code, out, errs := runProbe("probe", c.args...)
		if code != 0 || out != c.want {
			t.Errorf("probe %v = %d, %q (stderr %q), want 0, %q", c.args, code, out, errs, c.want)
		}
	}
	resp, err := http.Get("http://" + addr(web) + "/some/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(PathHeader); got != "/some/path" {
		t.Errorf("GET /some/path?q=1: %s %q, want the path without the query", PathHeader, got)
	}
	if code, _, _ := runProbe("nc", "-z", "-w", "1", "127.0.0.1", strconv.Itoa(tcp)); code != 0 {
		t.Errorf("nc -z on an open port: exit %d", code)
	}
	closed := freePort(t)
	if code, _, _ := runProbe("probe", "connect", "-timeout", "1s", addr(closed)); code != 1 {
		t.Errorf("connect to a closed port: exit %d, want 1", code)
	}
	if code, _, _ := runProbe("nc", "-z", "-w", "1", "127.0.0.1", strconv.Itoa(closed)); code != 1 {
		t.Errorf("nc -z on a closed port: exit %d, want 1", code)
	}
}

func TestCommands(t *testing.T) {
	t.Setenv("PROBE_TEST_VAR", "x=y")
	if code, out, _ := runProbe("probe", "env"); code != 0 || !strings.Contains(out, "PROBE_TEST_VAR=x=y\n") {
		t.Errorf("env = %d, %q", code, out)
	}
	if code, _, _ := runProbe("probe", "exit", "7"); code != 7 {
		t.Errorf("exit 7 = %d", code)
	}
	if code, out, _ := runProbe("probe", "cat", "main.go"); code != 0 || !strings.HasPrefix(out, "// Command probe") {
		t.Errorf("cat = %d, %.20q", code, out)
	}
	if code, _, _ := runProbe("probe", "cat", "/nonexistent"); code != 1 {
		t.Errorf("cat of a missing file = %d, want 1", code)
	}
	if code, out, _ := runProbe("probe", "dns", "localhost"); code != 0 || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("dns localhost = %d, %q", code, out)
	}
	if code, _, _ := runProbe("probe", "sleep", "10ms"); code != 0 {
		t.Errorf("sleep 10ms = %d", code)
	}
}
