// Command probe is the one program of the images that the real-node e2e
// tests (test/e2e-real) run: a server that answers on TCP, UDP and HTTP
// ports, and the client commands the tests run in pods with kubectl exec.
//
//	probe serve [PORT[/tcp|/udp|/http]]...  answer on each port (default tcp)
//	                                        with "NAME\n", NAME being $PROBE_NAME
//	                                        or the hostname; runs until SIGTERM.
//	                                        An HTTP answer carries the path it
//	                                        was asked for in header Probe-Path.
//	                                        An HTTP port takes a WebSocket
//	                                        upgrade: 101 with the RFC 6455
//	                                        Sec-WebSocket-Accept, then it
//	                                        echoes the bytes (no framing)
//	probe connect [-udp] [-timeout D] HOST:PORT
//	                                        exit 0 and print the answer if a
//	                                        connection (a UDP reply) succeeds
//	                                        within D (default 3s), else exit 1
//	probe get [-timeout D] URL              HTTP GET, print the body; exit 1
//	                                        unless the status is 200
//	probe env                               print the environment, sorted
//	probe cat FILE                          print FILE
//	probe dns [-timeout D] NAME             resolve NAME with /etc/resolv.conf
//	                                        (search list, ndots), print the
//	                                        addresses; exit 1 if none
//	probe exit N                            exit with status N
//	probe sleep [DURATION]                  sleep (for ever by default); exit 0
//	                                        on SIGTERM or SIGINT
//
// Invoked as "nc" it is a stand-in for busybox's nc applet as far as Tycho's
// depends_on wait script uses it ("nc -z [-w SEC] HOST PORT"); invoked as
// "nslookup" it resolves its argument like "probe dns". Debian's static
// busybox is built without nc -z.
//
// The binary is built with CGO_ENABLED=0, so it is static and its resolver is
// Go's own, which reads /etc/resolv.conf as glibc would.
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PathHeader is the header of an HTTP answer that holds the path of the
// request as the probe received it (after any rewriting by a router).
const PathHeader = "Probe-Path"

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr))
}

func run(argv0 string, args []string, stdout, stderr io.Writer) int {
	switch argv0 {
	case "nc":
		return ncApplet(args, stdout, stderr)
	case "nslookup":
		return dnsCmd(args, stdout, stderr)
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: probe serve|connect|get|env|cat|dns|exit|sleep ...")
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "connect":
		return connect(args, stdout, stderr)
	case "get":
		return get(args, stdout, stderr)
	case "env":
		env := os.Environ()
		sort.Strings(env)
		for _, e := range env {
			fmt.Fprintln(stdout, e)
		}
		return 0
	case "cat":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "usage: probe cat FILE")
			return 2
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		_, _ = stdout.Write(b)
		return 0
	case "dns":
		return dnsCmd(args, stdout, stderr)
	case "exit":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "usage: probe exit N")
			return 2
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		return n
	case "sleep":
		d := time.Duration(0)
		if len(args) > 0 {
			var err error
			if d, err = parseDuration(args[0]); err != nil {
				fmt.Fprintln(stderr, err)
				return 2
			}
		}
		return sleep(d)
	default:
		fmt.Fprintf(stderr, "probe: unknown command %q\n", cmd)
		return 2
	}
}

// parseDuration accepts Go durations and plain seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// sleep waits for d (0: for ever) or a termination signal.
func sleep(d time.Duration) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var timeout <-chan time.Time
	if d > 0 {
		timeout = time.After(d)
	}
	select {
	case <-sig:
	case <-timeout:
	}
	return 0
}

func name() string {
	if n := os.Getenv("PROBE_NAME"); n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}

type listenSpec struct {
	port  int
	proto string // tcp, udp, http
}

func parseListen(s string) (listenSpec, error) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return listenSpec{}, fmt.Errorf("bad port %q", s)
	}
	switch proto {
	case "tcp", "udp", "http":
	default:
		return listenSpec{}, fmt.Errorf("bad protocol in %q (tcp, udp or http)", s)
	}
	return listenSpec{n, proto}, nil
}

// serve answers on every given port with the probe's name until SIGTERM.
func serve(args []string, stdout, stderr io.Writer) int {
	me := name()
	errc := make(chan error, len(args))
	for _, a := range args {
		spec, err := parseListen(a)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		addr := ":" + strconv.Itoa(spec.port)
		switch spec.proto {
		case "tcp":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						errc <- err
						return
					}
					go func() {
						defer c.Close()
						_ = c.SetDeadline(time.Now().Add(5 * time.Second))
						fmt.Fprintf(c, "%s\n", me)
					}()
				}
			}()
		case "udp":
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			go func() {
				buf := make([]byte, 2048)
				for {
					_, from, err := pc.ReadFrom(buf)
					if err != nil {
						errc <- err
						return
					}
					_, _ = pc.WriteTo([]byte(me+"\n"), from)
				}
			}()
		case "http":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			srv := &http.Server{
				Handler:           httpHandler(me),
				ReadHeaderTimeout: 5 * time.Second,
			}
			go func() { errc <- srv.Serve(l) }()
		}
		fmt.Fprintf(stdout, "probe %s: serving %s\n", me, a)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
		return 0
	case err := <-errc:
		fmt.Fprintln(stderr, err)
		return 1
	}
}

// httpHandler answers with "me\n" and the request's path in PathHeader, or
// takes over a WebSocket upgrade request (upgrade).
func httpHandler(me string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(PathHeader, r.URL.Path)
		if hasToken(r.Header, "Connection", "upgrade") && hasToken(r.Header, "Upgrade", "websocket") {
			upgrade(w, r)
			return
		}
		fmt.Fprintf(w, "%s\n", me)
	})
}

// hasToken reports whether a comma-separated list in header name holds
// token (case-insensitively), as Connection and Upgrade are.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// websocketGUID is RFC 6455's key suffix (section 1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// websocketAccept is the Sec-WebSocket-Accept value for key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// upgradeIdle closes an upgraded connection that stays silent this long.
const upgradeIdle = 2 * time.Minute

// upgrade answers a WebSocket handshake with 101 Switching Protocols and
// then echoes every byte it reads until EOF. It does not speak WebSocket
// framing: what it shows is that a router tunnels the connection after the
// 101, which is all the tests need.
func upgrade(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		http.Error(w, "missing Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot take over the connection", http.StatusInternalServerError)
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer c.Close()
	// The server's header deadline may still be set on a hijacked
	// connection; the loop below sets its own.
	_ = c.SetDeadline(time.Time{})
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\n%s: %s\r\n\r\n", websocketAccept(key), PathHeader, r.URL.Path)
	if err := rw.Flush(); err != nil {
		return
	}
	echo(c, rw.Reader)
}

// echo writes to c what it reads from r (c's reader, holding any bytes
// the client sent after its request) until EOF or an idle timeout.
func echo(c net.Conn, r *bufio.Reader) {
	buf := make([]byte, 4096)
	for {
		_ = c.SetReadDeadline(time.Now().Add(upgradeIdle))
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func connect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	udp := fs.Bool("udp", false, "send a UDP datagram and wait for the reply")
	timeout := fs.Duration("timeout", 3*time.Second, "overall time limit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: probe connect [-udp] [-timeout D] HOST:PORT")
		return 2
	}
	addr := fs.Arg(0)
	deadline := time.Now().Add(*timeout)
	network := "tcp"
	if *udp {
		network = "udp"
	}
	c, err := net.DialTimeout(network, addr, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "connect %s %s: %v\n", network, addr, err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if *udp {
		if _, err := c.Write([]byte("probe\n")); err != nil {
			fmt.Fprintf(stderr, "connect udp %s: %v\n", addr, err)
			return 1
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			fmt.Fprintf(stderr, "connect udp %s: no reply: %v\n", addr, err)
			return 1
		}
		_, _ = stdout.Write(buf[:n])
		return 0
	}
	// A TCP connection counts once it is established; print what the peer
	// says (a probe server says its name), if anything.
	b, _ := io.ReadAll(io.LimitReader(c, 4096))
	_, _ = stdout.Write(b)
	if len(b) == 0 {
		fmt.Fprintf(stdout, "connected to %s\n", c.RemoteAddr())
	}
	return 0
}

func get(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "overall time limit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: probe get [-timeout D] URL")
		return 2
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(stdout, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "GET %s: %s\n", fs.Arg(0), resp.Status)
		return 1
	}
	return 0
}

func dnsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "overall time limit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 {
		fmt.Fprintln(stderr, "usage: probe dns [-timeout D] NAME")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		fmt.Fprintln(stdout, a)
	}
	return 0
}

// ncApplet implements "nc -z [-w SEC] HOST PORT" as busybox does: exit 0 if
// a TCP connection to HOST:PORT succeeds within SEC seconds.
func ncApplet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	zero := fs.Bool("z", false, "zero-I/O mode: only check that the port accepts connections")
	wait := fs.Int("w", 0, "connect timeout in seconds")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*zero || fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: nc -z [-w SEC] HOST PORT (the probe's nc does nothing else)")
		return 2
	}
	timeout := time.Duration(*wait) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(fs.Arg(0), fs.Arg(1)), timeout)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			fmt.Fprintf(stderr, "nc: timeout\n")
		} else {
			fmt.Fprintf(stderr, "nc: %v\n", err)
		}
		return 1
	}
	c.Close()
	return 0
}
