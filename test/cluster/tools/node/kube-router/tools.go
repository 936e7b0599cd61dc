//go:build tools

// Package tools pins kube-router, whose network policy controller (run alone:
// --run-firewall=true --run-router=false --run-service-proxy=false) enforces
// NetworkPolicy on the real node of test/realnode.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
