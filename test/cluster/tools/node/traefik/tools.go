//go:build tools

// Package tools pins Traefik, the ingress controller (Kubernetes Ingress and
// Gateway API providers) that the real-node e2e harness (test/realnode) runs
// as a pod in front of the probe.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
