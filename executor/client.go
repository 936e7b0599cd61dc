package executor

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Client is the cluster access of the executor.
type Client struct {
	// Kube reads namespaces, workloads, Services, pods, events and nodes.
	Kube kubernetes.Interface
	// Dynamic applies, lists and deletes objects of any kind.
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources; NewClient's comes from discovery.
	Mapper meta.RESTMapper
	// Config is the client configuration, for the streaming calls (exec,
	// port-forward) that Kube cannot make; nil in tests with a fake.
	Config *rest.Config
}

// NewClient builds a Client for cfg, with a RESTMapper backed by cached
// discovery.
func NewClient(cfg *rest.Config) (*Client, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	return &Client{Kube: kube, Dynamic: dyn, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), Config: cfg}, nil
}

// NewGUID makes a GUID as the original Tycho did: a version 4 UUID from r
// (crypto/rand.Reader when nil) in 32 lowercase hex characters, without
// dashes.
func NewGUID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("generating a GUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return hex.EncodeToString(b[:]), nil
}

// ValidateGUID checks that g has the form of a Tycho GUID: 32 lowercase
// hex characters.
func ValidateGUID(g string) error {
	if len(g) != 32 {
		return fmt.Errorf("guid %q: want 32 lowercase hex characters", g)
	}
	for _, c := range g {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("guid %q: want 32 lowercase hex characters", g)
		}
	}
	return nil
}
