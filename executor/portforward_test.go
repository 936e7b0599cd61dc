package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// publishedService is Tycho's Service of the published ports of svc.
func publishedService(svc string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: svc + "-published", Namespace: testNS,
		Labels: map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: svc}},
		Spec: corev1.ServiceSpec{Type: typ, Ports: ports,
			Selector: map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: svc}}}
}

func tcp(port, target int32) corev1.ServicePort {
	return corev1.ServicePort{Name: fmt.Sprint(port), Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}
}

func TestPublishedPorts(t *testing.T) {
	t.Parallel()
	headless := publishedService("web", corev1.ServiceTypeClusterIP, tcp(80, 80))
	headless.Name = "web" // the headless Service of the name: not published
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	// the original Tycho's: a LoadBalancer named after the service, a
	// named target port
	orig := publishedService("legacy", corev1.ServiceTypeLoadBalancer,
		corev1.ServicePort{Port: 8888, TargetPort: intstr.FromString("http")})
	orig.Name = "legacy"
	orig.Labels = map[string]string{kubernetes.LabelGUID: testGUID}
	unset := publishedService("api", corev1.ServiceTypeNodePort, corev1.ServicePort{Port: 9000, Protocol: corev1.ProtocolTCP})
	// the Service behind a routed port (--expose ingress|gateway): a
	// ClusterIP Service on the published port
	routed := publishedService("site", corev1.ServiceTypeClusterIP, tcp(8081, 80))
	routed.Name = "site-routed"
	objs := []runtime.Object{
		routed,
		testPod("web-1", "web", 0, "web"),
		headless,
		publishedService("web", corev1.ServiceTypeLoadBalancer, tcp(8443, 443), tcp(8080, 80),
			corev1.ServicePort{Name: "53-udp", Port: 5353, TargetPort: intstr.FromInt32(53), Protocol: corev1.ProtocolUDP}),
		orig, unset,
	}
	c := testClient(objs...)
	web := map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: "web"}
	all := []PublishedPort{
		{Service: "api", Object: "api-published", Selector: map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: "api"},
			Local: 9000, Target: intstr.FromInt32(9000), Protocol: corev1.ProtocolTCP},
		{Service: "legacy", Object: "legacy", Selector: map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: "legacy"},
			Local: 8888, Target: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
		{Service: "site", Object: "site-routed", Selector: map[string]string{kubernetes.LabelGUID: testGUID, kubernetes.LabelName: "site"},
			Local: 8081, Target: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP},
		{Service: "web", Object: "web-published", Selector: web, Local: 5353, Target: intstr.FromInt32(53), Protocol: corev1.ProtocolUDP},
		{Service: "web", Object: "web-published", Selector: web, Local: 8080, Target: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP},
		{Service: "web", Object: "web-published", Selector: web, Local: 8443, Target: intstr.FromInt32(443), Protocol: corev1.ProtocolTCP},
	}
	tests := []struct {
		name     string
		services []string
		want     []PublishedPort
		wantErr  string
	}{
		{name: "All", want: all},
		{name: "OneService", services: []string{"api"}, want: all[:1]},
		{name: "Two", services: []string{"web", "legacy"}, want: append(all[1:2:2], all[3:]...)},
		{name: "Routed", services: []string{"site"}, want: all[2:3]},
		{name: "Unknown", services: []string{"web", "db"}, wantErr: `publishes no port of service "db" (services with published ports: api, legacy, site, web)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := PublishedPorts(context.Background(), c, testGUID, testNS, tt.services)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContainerPort(t *testing.T) {
	t.Parallel()
	p := testPod("legacy-1", "legacy", 0, "legacy")
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}, {Name: "http", ContainerPort: 5000}}
	if got, err := containerPort(p, PublishedPort{Target: intstr.FromString("http")}); err != nil || got != 5000 {
		t.Errorf("named port = %d, %v; want 5000", got, err)
	}
	if got, err := containerPort(p, PublishedPort{Target: intstr.FromInt32(80)}); err != nil || got != 80 {
		t.Errorf("numbered port = %d, %v; want 80", got, err)
	}
	if _, err := containerPort(p, PublishedPort{Target: intstr.FromString("grpc")}); err == nil {
		t.Error("no error for a port name the pod lacks")
	}
}

func TestForwardEventString(t *testing.T) {
	t.Parallel()
	web := PublishedPort{Service: "web", Local: 8080, Protocol: corev1.ProtocolTCP}
	tests := []struct {
		e    ForwardEvent
		want string
	}{
		{ForwardEvent{Kind: ForwardReady, Port: web, Addresses: []string{"localhost"}, Remote: 80, Pod: "web-1"}, "web: localhost:8080 -> 80"},
		{ForwardEvent{Kind: ForwardReady, Port: web, Addresses: []string{"127.0.0.1", "::1"}, Remote: 80, Pod: "web-2", Reconnected: true},
			"web: 127.0.0.1:8080, [::1]:8080 -> 80 (reconnected to pod web-2)"},
		{ForwardEvent{Kind: ForwardListenFailed, Port: web, Addresses: []string{"localhost"}, Remote: 80, Err: errors.New("the port is taken (address already in use)")},
			"web: localhost:8080: not forwarded: the port is taken (address already in use)"},
		{ForwardEvent{Kind: ForwardUnsupported, Port: PublishedPort{Service: "dns", Local: 53, Protocol: corev1.ProtocolUDP}}, "dns: 53/udp: not forwarded: port-forward carries only TCP"},
		{ForwardEvent{Kind: ForwardWaiting, Port: web}, "web: waiting for a ready pod"},
		{ForwardEvent{Kind: ForwardLost, Port: web, Pod: "web-1"}, "web: lost pod web-1; reconnecting"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.e.Kind, got, tt.want)
		}
	}
}

func TestListenReason(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]string{
		"Unable to listen on port 80: ... bind: permission denied":        "permission denied (a port below 1024 needs privileges)",
		"Unable to listen on port 8080: ... bind: address already in use": "the port is taken (address already in use)",
	} {
		if got := listenReason(msg).Error(); got != want {
			t.Errorf("listenReason(%q) = %q, want %q", msg, got, want)
		}
	}
}

// fakePods is a port-forward dialer whose pods answer each connection
// with "<pod>:<port>\n" and close it; Kill ends a pod's connections, as
// a pod that dies does.
type fakePods struct {
	mu    sync.Mutex
	conns map[string][]*fakeConn
}

func (f *fakePods) dialer(pod *corev1.Pod) (httpstream.Dialer, error) {
	return dialFunc(func() (httpstream.Connection, string, error) {
		c := &fakeConn{pod: pod.Name, closed: make(chan bool)}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.conns == nil {
			f.conns = map[string][]*fakeConn{}
		}
		f.conns[pod.Name] = append(f.conns[pod.Name], c)
		return c, "portforward.k8s.io", nil
	}), nil
}

func (f *fakePods) kill(pod string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns[pod] {
		_ = c.Close()
	}
}

type dialFunc func() (httpstream.Connection, string, error)

func (d dialFunc) Dial(...string) (httpstream.Connection, string, error) { return d() }

type fakeConn struct {
	pod    string
	once   sync.Once
	closed chan bool
}

func (c *fakeConn) CreateStream(h http.Header) (httpstream.Stream, error) {
	select {
	case <-c.closed:
		return nil, errors.New("connection closed")
	default:
	}
	if h.Get(corev1.StreamType) == corev1.StreamTypeError {
		return &fakeStream{ReadWriteCloser: eofStream{}, h: h}, nil
	}
	local, remote := net.Pipe()
	go func() {
		fmt.Fprintf(remote, "%s:%s\n", c.pod, h.Get(corev1.PortHeader))
		remote.Close()
	}()
	return &fakeStream{ReadWriteCloser: local, h: h}, nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *fakeConn) CloseChan() <-chan bool             { return c.closed }
func (c *fakeConn) SetIdleTimeout(time.Duration)       {}
func (c *fakeConn) RemoveStreams(...httpstream.Stream) {}

type fakeStream struct {
	io.ReadWriteCloser
	h http.Header
}

func (s *fakeStream) Reset() error         { return s.Close() }
func (s *fakeStream) Headers() http.Header { return s.h }
func (s *fakeStream) Identifier() uint32   { return 0 }

type eofStream struct{}

func (eofStream) Read([]byte) (int, error)    { return 0, io.EOF }
func (eofStream) Write(p []byte) (int, error) { return len(p), nil }
func (eofStream) Close() error                { return nil }

// freePort is a local TCP port that nothing listens on (now).
func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// get connects to a local port and reads the answer.
func get(port int32) (string, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

// events collects the forwarding events.
type events struct {
	ch chan ForwardEvent
}

func (e *events) report(ev ForwardEvent) { e.ch <- ev }

// next waits for the next event of the kind, failing on others.
func (e *events) next(t *testing.T, kind ForwardKind) ForwardEvent {
	t.Helper()
	select {
	case ev := <-e.ch:
		if ev.Kind != kind {
			t.Fatalf("event %q, want kind %s", ev, kind)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s event", kind)
	}
	return ForwardEvent{}
}

func TestForwardReconnects(t *testing.T) {
	t.Parallel()
	local := freePort(t)
	c := testClient(testPod("web-a", "web", 0, "web"), publishedService("web", corev1.ServiceTypeLoadBalancer, tcp(local, 80)))
	pods := &fakePods{}
	ev := &events{ch: make(chan ForwardEvent, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Forward(ctx, c, ForwardOptions{GUID: testGUID, Addresses: []string{"127.0.0.1"}, Report: ev.report,
			Retry: 10 * time.Millisecond, dialer: pods.dialer})
	}()
	if got := ev.next(t, ForwardReady); got.String() != fmt.Sprintf("web: 127.0.0.1:%d -> 80", local) || got.Pod != "web-a" {
		t.Fatalf("first event %q (pod %s)", got, got.Pod)
	}
	if got, err := get(local); err != nil || got != "web-a:80" {
		t.Fatalf("answer %q, %v; want web-a:80", got, err)
	}

	// the pod is replaced: the port follows the new one
	pods2 := c.Kube.CoreV1().Pods(testNS)
	if err := pods2.Delete(ctx, "web-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pods.kill("web-a")
	ev.next(t, ForwardLost)
	waiting := false
	// the replacement is not ready yet: the service waits for it
	b := testPod("web-b", "web", 5, "web")
	b.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := pods2.Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := ev.next(t, ForwardWaiting); e.Port.Service == "web" {
		waiting = true
	}
	b.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := pods2.UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ev.next(t, ForwardReady); !got.Reconnected || got.Pod != "web-b" {
		t.Fatalf("after the replacement: %q", got)
	}
	if got, err := get(local); err != nil || got != "web-b:80" {
		t.Fatalf("answer %q, %v; want web-b:80", got, err)
	}
	if !waiting {
		t.Error("no waiting event")
	}

	// a pod that stops being ready is left too, for a ready one
	if _, err := pods2.Create(ctx, testPod("web-c", "web", 9, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := pods2.UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev.next(t, ForwardLost)
	if got := ev.next(t, ForwardReady); got.Pod != "web-c" {
		t.Fatalf("after web-b is not ready: %q (pod %s)", got, got.Pod)
	}
	if got, err := get(local); err != nil || got != "web-c:80" {
		t.Fatalf("answer %q, %v; want web-c:80", got, err)
	}

	// Ctrl-C: Forward returns, the port is free again
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Forward: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Forward did not return after cancel")
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(local))))
	if err != nil {
		t.Fatalf("the port is still held after Forward returned: %v", err)
	}
	l.Close()
}

func TestForwardTakenPort(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := int32(taken.Addr().(*net.TCPAddr).Port)
	free := freePort(t)
	c := testClient(testPod("web-a", "web", 0, "web"), testPod("api-a", "api", 0, "api"),
		publishedService("web", corev1.ServiceTypeLoadBalancer, tcp(takenPort, 80)),
		publishedService("api", corev1.ServiceTypeLoadBalancer, tcp(free, 9000)))
	ev := &events{ch: make(chan ForwardEvent, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Forward(ctx, c, ForwardOptions{GUID: testGUID, Addresses: []string{"127.0.0.1"}, Report: ev.report,
			Retry: 10 * time.Millisecond, dialer: (&fakePods{}).dialer})
	}()
	got := map[string]string{}
	for range 2 {
		select {
		case e := <-ev.ch:
			got[e.Port.Service] = e.String()
		case <-time.After(10 * time.Second):
			t.Fatalf("events so far: %v", got)
		}
	}
	want := map[string]string{
		"api": fmt.Sprintf("api: 127.0.0.1:%d -> 9000", free),
		"web": fmt.Sprintf("web: 127.0.0.1:%d: not forwarded: the port is taken (address already in use)", takenPort),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if a, err := get(free); err != nil || a != "api-a:9000" {
		t.Fatalf("answer %q, %v; want api-a:9000", a, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Forward: %v", err)
	}
}

func TestForwardNothing(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // after the parallel subtests
	port := int32(taken.Addr().(*net.TCPAddr).Port)
	udp := publishedService("dns", corev1.ServiceTypeLoadBalancer, corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
	tests := []struct {
		name    string
		objs    []runtime.Object
		wantErr string
	}{
		{name: "NonePublished", objs: []runtime.Object{testPod("web-a", "web", 0, "web")}, wantErr: "publishes no TCP port"},
		{name: "OnlyUDP", objs: []runtime.Object{testPod("dns-a", "dns", 0, "dns"), udp}, wantErr: "publishes no TCP port"},
		{name: "AllTaken", objs: []runtime.Object{testPod("web-a", "web", 0, "web"),
			publishedService("web", corev1.ServiceTypeLoadBalancer, tcp(port, 80))}, wantErr: "no local port could be listened on"},
		{name: "BadAddress", objs: []runtime.Object{testPod("web-a", "web", 0, "web")}, wantErr: `address "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := ForwardOptions{GUID: testGUID, Addresses: []string{"127.0.0.1"}, dialer: (&fakePods{}).dialer}
			if tt.name == "BadAddress" {
				opts.Addresses = []string{"nowhere"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Forward(ctx, testClient(tt.objs...), opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.name != "BadAddress" && !errors.Is(err, ErrNothingForwarded) {
				t.Errorf("error %v is not ErrNothingForwarded", err)
			}
		})
	}
}

// TestForwardDialFails: a pod that cannot be reached is reported and
// tried again until it can.
func TestForwardDialFails(t *testing.T) {
	t.Parallel()
	local := freePort(t)
	c := testClient(testPod("web-a", "web", 0, "web"), publishedService("web", corev1.ServiceTypeLoadBalancer, tcp(local, 80)))
	pods := &fakePods{}
	var mu sync.Mutex
	dials := 0
	dialer := func(pod *corev1.Pod) (httpstream.Dialer, error) {
		mu.Lock()
		defer mu.Unlock()
		if dials++; dials <= 2 {
			return dialFunc(func() (httpstream.Connection, string, error) {
				return nil, "", errors.New("unable to upgrade connection: Forbidden")
			}), nil
		}
		return pods.dialer(pod)
	}
	ev := &events{ch: make(chan ForwardEvent, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = Forward(ctx, c, ForwardOptions{GUID: testGUID, Addresses: []string{"127.0.0.1"}, Report: ev.report,
			Retry: 10 * time.Millisecond, dialer: dialer})
	}()
	for range 2 {
		if e := ev.next(t, ForwardLost); !strings.Contains(e.String(), "web: lost pod web-a (error upgrading connection: unable to upgrade connection: Forbidden); reconnecting") {
			t.Errorf("event %q", e)
		}
	}
	if e := ev.next(t, ForwardReady); e.Reconnected {
		t.Errorf("the first forward %q says reconnected", e)
	}
	if got, err := get(local); err != nil || got != "web-a:80" {
		t.Fatalf("answer %q, %v; want web-a:80", got, err)
	}
}
