package realnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIServerSlice is the name of the EndpointSlice of default/kubernetes
// that ExposeAPIServer creates.
const APIServerSlice = "kubernetes-realnode"

// apiProxy forwards TCP connections from NodeIP to the API server.
type apiProxy struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// ExposeAPIServer makes the harness's API server reachable from pods where
// in-cluster clients look for it: the Service default/kubernetes
// (198.19.0.1:443, KUBERNETES_SERVICE_HOST). The API server listens on
// 127.0.0.1 only and, with a loopback advertise address, gives that
// Service no endpoints; so the test process forwards a port of NodeIP to
// it, and an EndpointSlice of the Service points at that port. The API
// server's certificate holds the Service's address. Pods then reach the
// API server with their service account's token and the cluster CA, as
// in any cluster.
//
// Tests that need it call it, from any goroutine: the first call that
// succeeds sets the forwarder and the slice up for the node's life, and
// later calls find them there and return nil. Stop undoes both; after
// Stop, ExposeAPIServer fails.
func (n *Node) ExposeAPIServer(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.apiUnexposed {
		return errors.New("exposing the API server: the node is stopped")
	}
	if n.apiProxy != nil {
		return nil
	}
	u, err := url.Parse(n.cluster.RESTConfig().Host)
	if err != nil {
		return fmt.Errorf("the API server's address: %w", err)
	}
	target := u.Host
	l, err := net.Listen("tcp", net.JoinHostPort(NodeIP, "0"))
	if err != nil {
		return fmt.Errorf("forwarding the API server to pods: %w", err)
	}
	p := &apiProxy{l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve(target)

	eps := n.nodeSlice(metav1.NamespaceDefault, APIServerSlice, "kubernetes",
		slicePort("https", corev1.ProtocolTCP, int32(l.Addr().(*net.TCPAddr).Port)))
	if _, err := n.client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Create(ctx, eps, metav1.CreateOptions{}); err != nil {
		p.close()
		return fmt.Errorf("creating the EndpointSlice of default/kubernetes: %w", err)
	}
	n.apiProxy = p
	n.logf("API server %s reachable from pods at the kubernetes Service (via %s)", target, l.Addr())
	return nil
}

// unexposeAPIServer undoes ExposeAPIServer, for good.
func (n *Node) unexposeAPIServer(ctx context.Context) error {
	n.mu.Lock()
	p := n.apiProxy
	n.apiProxy = nil
	n.apiUnexposed = true
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	p.close()
	err := n.client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).Delete(ctx, APIServerSlice, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (p *apiProxy) serve(target string) {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c, target)
		}()
	}
}

// forward copies both ways between c and a new connection to target.
func (p *apiProxy) forward(c net.Conn, target string) {
	up, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	defer p.untrack(c, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// track registers open connections so that close can end them; false
// when the proxy is closed already (and the connections are).
func (p *apiProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *apiProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// close stops accepting, ends the open connections and waits for the
// goroutines.
func (p *apiProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// ImportImage imports the images of an OCI or docker archive (such as
// internal/image writes) into the node's containerd, under the names its
// index gives them, and checks that names are there.
func (n *Node) ImportImage(ctx context.Context, archive string, names ...string) error {
	if _, err := n.ctr(ctx, "images", "import", archive); err != nil {
		return err
	}
	out, err := n.ctr(ctx, "images", "ls", "-q")
	if err != nil {
		return err
	}
	var errs []error
	have := map[string]bool{}
	for _, f := range strings.Fields(out) {
		have[f] = true
	}
	for _, name := range names {
		if !have[name] {
			errs = append(errs, fmt.Errorf("image %s missing after importing %s; containerd has: %s", name, archive, out))
		}
	}
	return errors.Join(errs...)
}
