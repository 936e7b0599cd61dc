package main

import (
	"bufio"
	"bytes"
	"io"
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

// rfcKey and rfcAccept are the handshake example of RFC 6455, section 1.3.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// TestWebSocketUpgrade serves HTTP and talks to it over raw TCP: an
// upgrade request is answered 101 with the RFC's accept value, then the
// connection echoes bytes, including those sent with the request; a plain
// request still gets the name, and an upgrade without a key is refused.
func TestWebSocketUpgrade(t *testing.T) {
	t.Setenv("PROBE_NAME", "ws")
	if got := websocketAccept(rfcKey); got != rfcAccept {
		t.Errorf("websocketAccept(%q) = %q, want %q", rfcKey, got, rfcAccept)
	}
	web := freePort(t)
	go run("probe", []string{"serve", strconv.Itoa(web) + "/http"}, &bytes.Buffer{}, &bytes.Buffer{})
	addr := "127.0.0.1:" + strconv.Itoa(web)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, _, _ := runProbe("probe", "connect", addr); code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// handshake sends req (and early, in the same write), then reads the
	// answer's head.
	handshake := func(t *testing.T, req, early string) (net.Conn, *bufio.Reader, *http.Response) {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req+early); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return c, br, resp
	}

	t.Run("upgrade", func(t *testing.T) {
		for _, connection := range []string{"Upgrade", "keep-alive, upgrade"} {
			req := "GET /chat/x HTTP/1.1\r\nHost: ws.test\r\nConnection: " + connection +
				"\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + rfcKey + "\r\n\r\n"
			c, br, resp := handshake(t, req, "early ")
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("Connection: %s: status %s, want 101", connection, resp.Status)
			}
			for h, want := range map[string]string{
				"Upgrade":              "websocket",
				"Connection":           "Upgrade",
				"Sec-WebSocket-Accept": rfcAccept,
				PathHeader:             "/chat/x",
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("Connection: %s: %s = %q, want %q", connection, h, got, want)
				}
			}
			if _, err := io.WriteString(c, "bytes after"); err != nil {
				t.Fatal(err)
			}
			const want = "early bytes after"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
				t.Errorf("Connection: %s: echo %q, %v; want %q", connection, got, err, want)
			}
			// EOF from the client ends the echo: the probe closes.
			_ = c.(*net.TCPConn).CloseWrite()
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Errorf("Connection: %s: after EOF, read %q, %v; want EOF", connection, rest, err)
			}
		}
	})
	t.Run("no key", func(t *testing.T) {
		_, _, resp := handshake(t, "GET / HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("upgrade without Sec-WebSocket-Key: status %s, want 400", resp.Status)
		}
	})
	t.Run("plain", func(t *testing.T) {
		// Upgrade without Connection: Upgrade is no upgrade request.
		_, _, resp := handshake(t, "GET /p HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n", "")
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ws\n" || err != nil {
			t.Errorf("plain GET: %s %q %v, want 200 \"ws\\n\"", resp.Status, body, err)
		}
	})
}
