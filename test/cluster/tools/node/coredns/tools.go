//go:build tools

// Package tools pins CoreDNS, which the real-node e2e harness
// (test/realnode) runs as the cluster DNS server.
package tools

import (
	_ "github.com/coredns/coredns"
)
