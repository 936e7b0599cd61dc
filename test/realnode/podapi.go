package realnode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
)

// podAPI is a TCP relay from NodeIP to the API server, which listens on
// 127.0.0.1 only and so is out of the pods' reach.
type podAPI struct {
	l     net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool // open, both sides
}

func (p *podAPI) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

// APIForPods makes the control plane's API server reachable from pods: it
// relays TCP connections from an address on NodeIP (returned, as
// "198.18.0.1:PORT") to the API server. The relay is started once and runs
// until Stop. TLS goes through untouched: clients verify the API server's
// certificate, whose names do not include NodeIP, under the name
// "127.0.0.1" (see PodKubeconfig).
func (n *Node) APIForPods() (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.podAPI != nil {
		return n.podAPI.l.Addr().String(), nil
	}
	u, err := url.Parse(n.cluster.RESTConfig().Host)
	if err != nil {
		return "", fmt.Errorf("the API server's address: %w", err)
	}
	upstream := u.Host
	l, err := net.Listen("tcp", net.JoinHostPort(NodeIP, "0"))
	if err != nil {
		return "", fmt.Errorf("relay to the API server: %w", err)
	}
	p := &podAPI{l: l, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.relay(c, upstream)
		}
	}()
	n.podAPI = p
	n.logf("API server relayed for pods at %s", l.Addr())
	return l.Addr().String(), nil
}

// relay copies c to and from a new connection to upstream until either side
// closes.
func (p *podAPI) relay(c net.Conn, upstream string) {
	p.track(c, true)
	defer p.track(c, false)
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	p.track(u, true)
	defer p.track(u, false)
	defer u.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	<-done
}

// stopPodAPI closes the relay of APIForPods, if any, and its connections.
func (n *Node) stopPodAPI() error {
	n.mu.Lock()
	p := n.podAPI
	n.podAPI = nil
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	err := p.l.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return err
}

// PodKubeconfig is a kubeconfig for a program in a pod that reaches the API
// server through APIForPods at addr: it authenticates with the pod's
// service-account token and verifies the server's certificate, under the
// name 127.0.0.1, with the service-account CA bundle (the cluster CA), both
// read from the files the kubelet mounts.
func PodKubeconfig(addr string) string {
	const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: realnode
  cluster:
    server: https://%s
    tls-server-name: 127.0.0.1
    certificate-authority: %s/ca.crt
users:
- name: pod
  user:
    tokenFile: %s/token
contexts:
- name: realnode
  context: {cluster: realnode, user: pod}
current-context: realnode
`, addr, sa, sa)
}
