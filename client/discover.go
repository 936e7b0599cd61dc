package client

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// ServiceName is the name of the API's Service, as deploy/ installs it.
const ServiceName = "tycho-api"

// DefaultNamespaces are where FromKubeconfig looks for the Service when
// the kubeconfig names no namespace: deploy/'s, then the original Tycho's.
var DefaultNamespaces = []string{"tycho", "default"}

// DiscoverOptions tune FromKubeconfig.
type DiscoverOptions struct {
	// Kubeconfig is the file to read; "" means KUBECONFIG, else
	// ~/.kube/config (clientcmd's rules).
	Kubeconfig string
	// Context is the kubeconfig context; "" means the current one.
	Context string
	// Namespace is where the Service is; "" means the context's
	// namespace, then DefaultNamespaces.
	Namespace string
}

// FromKubeconfig finds the API through the cluster of a kubeconfig, as
// the original Tycho client did: the tycho-api Service's load balancer
// address, else a node's address and the Service's node port, else
// DefaultURL. A cluster that cannot be asked also gives DefaultURL; only
// a kubeconfig that cannot be read is an error.
func FromKubeconfig(ctx context.Context, o DiscoverOptions, opts ...Option) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("tycho client: loading the kubeconfig: %w", err)
	}
	cfg.Timeout = 10 * time.Second
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("tycho client: %w", err)
	}
	namespaces := DefaultNamespaces
	if o.Namespace != "" {
		namespaces = []string{o.Namespace}
	} else if ns, explicit, err := cc.Namespace(); err == nil && explicit {
		namespaces = append([]string{ns}, DefaultNamespaces...)
	}
	return New(Discover(ctx, kube, namespaces), opts...)
}

// Discover returns the URL of the tycho-api Service in the first of
// namespaces that has it (see FromKubeconfig), or DefaultURL.
func Discover(ctx context.Context, kube kubernetes.Interface, namespaces []string) string {
	for _, ns := range namespaces {
		svc, err := kube.CoreV1().Services(ns).Get(ctx, ServiceName, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if u := serviceURL(ctx, kube, svc); u != "" {
			return u
		}
	}
	return DefaultURL
}

// serviceURL is the address of svc from outside the cluster, "" when it
// has none.
func serviceURL(ctx context.Context, kube kubernetes.Interface, svc *corev1.Service) string {
	if len(svc.Spec.Ports) == 0 {
		return ""
	}
	p := svc.Spec.Ports[0]
	scheme := "http"
	if p.Name == "https" || p.Port == 443 {
		scheme = "https"
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		host := in.IP
		if host == "" {
			host = in.Hostname
		}
		if host != "" {
			return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(p.Port)))
		}
	}
	if p.NodePort == 0 {
		return ""
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	if ip := nodeAddress(nodes.Items); ip != "" {
		return scheme + "://" + net.JoinHostPort(ip, strconv.Itoa(int(p.NodePort)))
	}
	return ""
}

// nodeAddress is an address of the first Ready node by name: its
// ExternalIP, else its InternalIP.
func nodeAddress(nodes []corev1.Node) string {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, ready := range []bool{true, false} {
		for _, n := range nodes {
			if ready && !nodeReady(n) {
				continue
			}
			for _, t := range []corev1.NodeAddressType{corev1.NodeExternalIP, corev1.NodeInternalIP} {
				for _, a := range n.Status.Addresses {
					if a.Type == t && a.Address != "" {
						return a.Address
					}
				}
			}
		}
	}
	return ""
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
