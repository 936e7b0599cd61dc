package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// PublishedPort is a published port of a service: what docker publishes
// on the host at Local, Tycho's Service of published ports serves.
type PublishedPort struct {
	// Service is the compose service.
	Service string
	// Object is the Kubernetes Service that publishes the port.
	Object string
	// Selector selects the Service's pods.
	Selector map[string]string
	// Local is the published port: the local port it is forwarded to.
	Local int32
	// Target is the container port (a number, or a name in the pod).
	Target intstr.IntOrString
	// Protocol is TCP, UDP or SCTP; port-forward carries only TCP.
	Protocol corev1.Protocol
}

// PublishedPorts lists the published ports of the system guid (of the
// named services only, when given), in namespace ns, sorted by service
// and port.
func PublishedPorts(ctx context.Context, c *Client, guid, ns string, services []string) ([]PublishedPort, error) {
	svcs, err := c.Kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelGUID + "=" + guid})
	if err != nil {
		return nil, fmt.Errorf("listing the Services of system %s: %w", guid, err)
	}
	var out []PublishedPort
	all := map[string]bool{}
	for i := range svcs.Items {
		s := &svcs.Items[i]
		if !isPublished(s) && !isRouted(s) || len(s.Spec.Selector) == 0 {
			continue
		}
		name := s.Labels[kubernetes.LabelName]
		if name == "" {
			name = strings.TrimSuffix(s.Name, "-published")
		}
		all[name] = true
		if len(services) > 0 && !namedIn(name, services) {
			continue
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port) // unset: the port itself
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, PublishedPort{Service: name, Object: s.Name, Selector: s.Spec.Selector,
				Local: p.Port, Target: target, Protocol: proto})
		}
	}
	for _, want := range services {
		if !namedIn(want, mapKeys(all)) && !all[kubernetes.DNSLabel(want, 63)] {
			return nil, fmt.Errorf("system %s publishes no port of service %q (services with published ports: %s)", guid, want, joinSorted(all))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Local < out[j].Local
	})
	return out, nil
}

// isRouted tells the Service behind the routes of a service's routed
// ports (<service>-routed, a ClusterIP Service on the published ports):
// they are forwarded like the published ports they are.
func isRouted(s *corev1.Service) bool {
	return strings.HasSuffix(s.Name, "-routed") && s.Spec.Type == corev1.ServiceTypeClusterIP && s.Spec.ClusterIP != corev1.ClusterIPNone
}

// namedIn tells whether the service name is one of names, given as the
// compose name or the Kubernetes name.
func namedIn(name string, names []string) bool {
	for _, n := range names {
		if n == name || kubernetes.DNSLabel(n, 63) == name {
			return true
		}
	}
	return false
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ForwardKind says what a ForwardEvent reports.
type ForwardKind string

// The kinds of ForwardEvent.
const (
	// ForwardReady: the port is forwarded to Pod.
	ForwardReady ForwardKind = "forwarding"
	// ForwardListenFailed: the local port cannot be listened on (taken
	// by another process, or privileged); it is not forwarded. Err says
	// why.
	ForwardListenFailed ForwardKind = "listen-failed"
	// ForwardUnsupported: the port is not TCP; it is not forwarded.
	ForwardUnsupported ForwardKind = "unsupported"
	// ForwardWaiting: the service has no ready pod; its ports wait for
	// one.
	ForwardWaiting ForwardKind = "waiting"
	// ForwardLost: the connection to Pod ended (the pod was replaced,
	// deleted or is not ready, or the connection broke); the service's
	// ports reconnect to a ready pod.
	ForwardLost ForwardKind = "lost"
	// ForwardError: a connection through the port failed in the pod
	// (nothing listens at the container port, say); Err says why.
	ForwardError ForwardKind = "error"
)

// ForwardEvent reports a change of a forwarded port (of a service's
// ports, for ForwardWaiting and ForwardLost).
type ForwardEvent struct {
	Kind ForwardKind
	// Port is the published port; for ForwardWaiting and ForwardLost
	// only its Service is set.
	Port PublishedPort
	// Addresses are the local addresses listened on.
	Addresses []string
	// Remote is the container port number.
	Remote int32
	// Pod is the pod the port is (or was) forwarded to.
	Pod string
	// Reconnected is true for a ForwardReady after a ForwardLost.
	Reconnected bool
	// Err says why, for ForwardListenFailed, ForwardError and
	// ForwardLost.
	Err error
}

// String is the event as one line, in the form docker users know:
// "web: localhost:8080 -> 80".
func (e ForwardEvent) String() string {
	local := e.local()
	switch e.Kind {
	case ForwardReady:
		s := fmt.Sprintf("%s: %s -> %d", e.Port.Service, local, e.Remote)
		if e.Reconnected {
			s += " (reconnected to pod " + e.Pod + ")"
		}
		return s
	case ForwardListenFailed:
		return fmt.Sprintf("%s: %s: not forwarded: %v", e.Port.Service, local, e.Err)
	case ForwardUnsupported:
		return fmt.Sprintf("%s: %d/%s: not forwarded: port-forward carries only TCP", e.Port.Service, e.Port.Local, strings.ToLower(string(e.Port.Protocol)))
	case ForwardWaiting:
		if e.Err != nil {
			return fmt.Sprintf("%s: waiting for a ready pod (%v)", e.Port.Service, e.Err)
		}
		return fmt.Sprintf("%s: waiting for a ready pod", e.Port.Service)
	case ForwardLost:
		s := fmt.Sprintf("%s: lost pod %s; reconnecting", e.Port.Service, e.Pod)
		if e.Err != nil {
			s = fmt.Sprintf("%s: lost pod %s (%v); reconnecting", e.Port.Service, e.Pod, e.Err)
		}
		return s
	case ForwardError:
		return fmt.Sprintf("%s: %s -> %d: %v", e.Port.Service, local, e.Remote, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Port.Service, e.Kind)
}

func (e ForwardEvent) local() string {
	parts := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		parts[i] = net.JoinHostPort(a, strconv.Itoa(int(e.Port.Local)))
	}
	return strings.Join(parts, ", ")
}

// ForwardOptions are everything Forward takes.
type ForwardOptions struct {
	// GUID identifies the system.
	GUID string
	// Namespace restricts the search for the system; "" means all.
	Namespace string
	// Services restricts the forwarded ports to those of these services
	// (compose or Kubernetes names); empty means all.
	Services []string
	// Addresses are the local addresses to listen on, as kubectl
	// port-forward's --address: IP addresses or "localhost" (127.0.0.1
	// and ::1); empty means localhost.
	Addresses []string
	// Report receives the events; nil drops them.
	Report func(ForwardEvent)
	// Retry is the pause before a service's ports reconnect (0: one
	// second).
	Retry time.Duration

	// dialer connects to a pod's port-forward subresource; nil means
	// through the API server (tests give their own).
	dialer func(pod *corev1.Pod) (httpstream.Dialer, error)
}

// ErrNothingForwarded is returned by Forward when no port can be
// forwarded: none is published, or none can be listened on.
var ErrNothingForwarded = errors.New("no port forwarded")

// Forward forwards every published port of the system (of
// opts.Services) to the same port on the local addresses, as docker
// publishes them, until ctx ends. Each service's ports go to one ready
// pod of its Service of published ports; when that pod goes away (it is
// deleted, replaced, not ready, or the connection breaks) they reconnect
// to a ready pod, waiting for one. A local port that cannot be listened
// on is reported and left out; the others go on. Forward returns nil
// when ctx ends, ErrNothingForwarded (wrapped) when no port is
// published or every one failed to listen.
func Forward(ctx context.Context, c *Client, opts ForwardOptions) error {
	if len(opts.Addresses) == 0 {
		opts.Addresses = []string{"localhost"}
	}
	if err := ValidateAddresses(opts.Addresses); err != nil {
		return err
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.Report == nil {
		opts.Report = func(ForwardEvent) {}
	}
	loc, err := Locate(ctx, c, opts.GUID, opts.Namespace)
	if err != nil {
		return err
	}
	ports, err := PublishedPorts(ctx, c, opts.GUID, loc.Namespace, opts.Services)
	if err != nil {
		return err
	}
	groups := map[string][]PublishedPort{}
	var order []string
	for _, p := range ports {
		if p.Protocol != corev1.ProtocolTCP {
			opts.Report(ForwardEvent{Kind: ForwardUnsupported, Port: p, Addresses: opts.Addresses})
			continue
		}
		if groups[p.Object] == nil {
			order = append(order, p.Object)
		}
		groups[p.Object] = append(groups[p.Object], p)
	}
	if len(order) == 0 {
		return fmt.Errorf("system %s: %w: it publishes no TCP port", opts.GUID, ErrNothingForwarded)
	}
	f := &forwarder{c: c, ns: loc.Namespace, opts: opts}
	if f.opts.dialer == nil {
		f.opts.dialer = f.apiDialer
	}
	var wg sync.WaitGroup
	live := make([]bool, len(order))
	for i, obj := range order {
		wg.Go(func() { live[i] = f.service(ctx, groups[obj]) })
	}
	wg.Wait()
	for _, l := range live {
		if l {
			return nil
		}
	}
	return fmt.Errorf("system %s: %w: no local port could be listened on", opts.GUID, ErrNothingForwarded)
}

// ValidateAddresses checks local addresses for Forward: IP addresses or
// localhost.
func ValidateAddresses(addrs []string) error {
	for _, a := range addrs {
		if a != "localhost" && net.ParseIP(a) == nil {
			return fmt.Errorf("address %q: want an IP address or localhost", a)
		}
	}
	return nil
}

// forwarder forwards the ports of one system.
type forwarder struct {
	c    *Client
	ns   string
	opts ForwardOptions
}

// service forwards the ports of one Service of published ports until ctx
// ends or none of them can be listened on; it tells whether some port
// was still forwarded at the end.
func (f *forwarder) service(ctx context.Context, ports []PublishedPort) bool {
	live := make([]bool, len(ports))
	for i := range live {
		live[i] = true
	}
	anyLive := func() bool {
		for _, l := range live {
			if l {
				return true
			}
		}
		return false
	}
	sel := labels.SelectorFromSet(ports[0].Selector).String()
	waiting, connected := false, false
	failures := 0 // connections in a row that served nothing
	for ctx.Err() == nil && anyLive() {
		pod, rv, err := f.readyPod(ctx, sel)
		if err != nil || pod == nil {
			if ctx.Err() != nil {
				break
			}
			if !waiting {
				f.opts.Report(ForwardEvent{Kind: ForwardWaiting, Port: PublishedPort{Service: ports[0].Service}, Err: err})
				waiting = true
			}
			f.waitForPods(ctx, sel, rv)
			continue
		}
		waiting = false
		served, lost := f.pod(ctx, pod, rv, sel, ports, live, connected)
		connected = connected || served
		if ctx.Err() != nil {
			break
		}
		if anyLive() {
			f.opts.Report(ForwardEvent{Kind: ForwardLost, Port: PublishedPort{Service: ports[0].Service}, Pod: pod.Name, Err: lost})
		}
		// a connection that fails at once (no right to port-forward, a
		// port name the pod lacks) is retried ever more slowly, up to 32
		// times Retry
		if served {
			failures = 0
		} else if failures < 5 {
			failures++
		}
		sleep(ctx, f.opts.Retry<<failures)
	}
	return anyLive()
}

// pod forwards the live ports to pod until it goes away, a connection
// breaks, or ctx ends. A port that cannot be listened on is reported and
// marked not live. It returns why the forwarding ended (nil: the pod
// went away or ctx ended), and tells whether some port was forwarded.
func (f *forwarder) pod(ctx context.Context, pod *corev1.Pod, rv, sel string, ports []PublishedPort, live []bool, reconnect bool) (served bool, lost error) {
	podCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialer, err := f.opts.dialer(pod)
	if err != nil {
		return false, err
	}
	var forwarded atomic.Bool
	var watching sync.WaitGroup
	watching.Go(func() {
		f.watchPod(podCtx, pod, rv, sel)
		cancel()
	})
	defer watching.Wait()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, p := range ports {
		if !live[i] {
			continue
		}
		remote, err := containerPort(pod, p)
		if err != nil {
			f.opts.Report(ForwardEvent{Kind: ForwardError, Port: p, Addresses: f.opts.Addresses, Pod: pod.Name, Err: err})
			continue
		}
		wg.Go(func() {
			err := f.port(podCtx, dialer, pod, p, remote, reconnect, &forwarded)
			var le *listenError
			switch {
			case podCtx.Err() != nil:
			case errors.As(err, &le):
				live[i] = false // only this goroutine writes live[i]
				f.opts.Report(ForwardEvent{Kind: ForwardListenFailed, Port: p, Addresses: f.opts.Addresses, Remote: remote, Err: le.err})
			default:
				// the connection to the pod ended: reconnect all the
				// service's ports, to the same pod if it is still ready
				mu.Lock()
				if lost == nil {
					lost = err
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	cancel()
	if errors.Is(lost, portforward.ErrLostConnectionToPod) {
		lost = nil
	}
	return forwarded.Load(), lost
}

// listenError is a local port that could not be listened on.
type listenError struct{ err error }

func (e *listenError) Error() string { return e.err.Error() }

// port forwards one port to pod until ctx ends or the connection ends;
// it sets served once the port is forwarded.
func (f *forwarder) port(ctx context.Context, dialer httpstream.Dialer, pod *corev1.Pod, p PublishedPort, remote int32, reconnect bool, served *atomic.Bool) error {
	var errOut syncBuffer
	ready := make(chan struct{})
	// client-go's errors go to the report (those of connections in the
	// pod) or nowhere, not to klog's stderr
	logger := logr.New(&errorSink{report: func(msg string, err error) {
		if msg == "An error occurred forwarding" {
			f.opts.Report(ForwardEvent{Kind: ForwardError, Port: p, Addresses: f.opts.Addresses, Remote: remote, Pod: pod.Name, Err: err})
		}
	}})
	pf, err := portforward.NewOnAddressesForStreamingWithContext(klog.NewContext(ctx, logger), dialer, f.opts.Addresses,
		[]string{fmt.Sprintf("%d:%d", p.Local, remote)}, ready, io.Discard, &errOut)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	var reporting sync.WaitGroup
	reporting.Go(func() {
		select {
		case <-ready:
			served.Store(true)
			f.opts.Report(ForwardEvent{Kind: ForwardReady, Port: p, Addresses: f.opts.Addresses, Remote: remote, Pod: pod.Name, Reconnected: reconnect})
		case <-done:
		}
	})
	err = pf.ForwardPorts()
	close(done)
	reporting.Wait()
	if err != nil && strings.Contains(errOut.String(), "Unable to listen on port") {
		return &listenError{err: listenReason(errOut.String())}
	}
	return err
}

// listenReason is the cause of client-go's "Unable to listen on port"
// message, in a few words.
func listenReason(msg string) error {
	switch {
	case strings.Contains(msg, "address already in use"):
		return errors.New("the port is taken (address already in use)")
	case strings.Contains(msg, "permission denied"):
		return errors.New("permission denied (a port below 1024 needs privileges)")
	case strings.Contains(msg, "cannot assign requested address"):
		return errors.New("no such local address")
	}
	return errors.New(strings.TrimSpace(msg))
}

// readyPod lists the pods of sel and picks the first ready one, in the
// order of replicas; nil when none is ready. rv is the list's resource
// version, to watch from.
func (f *forwarder) readyPod(ctx context.Context, sel string) (*corev1.Pod, string, error) {
	pods, err := f.c.Kube.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, "", fmt.Errorf("listing pods: %w", err)
	}
	var ready []*corev1.Pod
	for i := range pods.Items {
		if p := &pods.Items[i]; podServes(p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil, pods.ResourceVersion, nil
	}
	sortReplicas(ready)
	return ready[0], pods.ResourceVersion, nil
}

// podServes tells a pod that can take forwarded connections: running,
// ready and not being deleted.
func podServes(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitForPods waits until a pod of sel changes after rv (or at most 30
// seconds, or until ctx ends).
func (f *forwarder) waitForPods(ctx context.Context, sel, rv string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := f.c.Kube.CoreV1().Pods(f.ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
	if err != nil {
		sleep(ctx, f.opts.Retry)
		return
	}
	defer w.Stop()
	// a pod may have become ready between the list and the watch, where
	// the watch has no resource version to start from (a fake)
	if p, _, err := f.readyPod(ctx, sel); err == nil && p != nil {
		return
	}
	select {
	case <-w.ResultChan():
	case <-ctx.Done():
	}
}

// watchPod returns when pod stops serving (is deleted, being deleted, or
// not ready) or ctx ends.
func (f *forwarder) watchPod(ctx context.Context, pod *corev1.Pod, rv, sel string) {
	for ctx.Err() == nil {
		w, err := f.c.Kube.CoreV1().Pods(f.ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
		if err != nil {
			if !sleep(ctx, f.opts.Retry) {
				return
			}
		} else if f.watchUntilGone(ctx, w, pod) {
			return
		}
		// the watch ended (the server closes them after a while) or
		// could not start: read the pod again, watch from there
		cur, err := f.c.Kube.CoreV1().Pods(f.ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && (cur.UID != pod.UID || !podServes(cur)) {
			return
		}
		if err == nil {
			rv = cur.ResourceVersion
		}
	}
}

// watchUntilGone reads w until pod stops serving (true) or w ends.
func (f *forwarder) watchUntilGone(ctx context.Context, w watch.Interface, pod *corev1.Pod) bool {
	defer w.Stop()
	// the pod may have gone between the list and the watch, where the
	// watch has no resource version to start from (a fake)
	if cur, err := f.c.Kube.CoreV1().Pods(f.ns).Get(ctx, pod.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) || err == nil && (cur.UID != pod.UID || !podServes(cur)) {
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return true
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || p.Name != pod.Name || p.UID != pod.UID {
				continue
			}
			if ev.Type == watch.Deleted || !podServes(p) {
				return true
			}
		}
	}
}

// apiDialer connects to pod's portforward subresource: WebSockets
// (SPDY tunnelled), falling back to SPDY, as kubectl does.
func (f *forwarder) apiDialer(pod *corev1.Pod) (httpstream.Dialer, error) {
	if f.c.Config == nil {
		return nil, errors.New("port-forward needs a client configuration")
	}
	cfg := streamConfig(f.c.Config)
	u := f.c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the port-forward client: %w", err)
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		return nil, fmt.Errorf("making the port-forward client: %w", err)
	}
	return portforward.NewFallbackDialerForStreaming(ws, dialer, shouldFallback), nil
}

// containerPort is the number of p's target port in pod: the number, or
// the container port of that name.
func containerPort(pod *corev1.Pod, p PublishedPort) (int32, error) {
	if p.Target.Type == intstr.Int {
		return p.Target.IntVal, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == p.Target.StrVal {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no container port named %q", pod.Name, p.Target.StrVal)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// errorSink is a logr sink that hands errors to report and drops the
// rest.
type errorSink struct {
	report func(msg string, err error)
}

func (s *errorSink) Init(logr.RuntimeInfo)                 {}
func (s *errorSink) Enabled(int) bool                      { return false }
func (s *errorSink) Info(int, string, ...any)              {}
func (s *errorSink) Error(err error, msg string, _ ...any) { s.report(msg, err) }
func (s *errorSink) WithValues(...any) logr.LogSink        { return s }
func (s *errorSink) WithName(string) logr.LogSink          { return s }
