//go:build tools

// Package tools pins the node binaries (kubelet, kube-proxy) that the
// real-node e2e harness (test/realnode) runs; the same Kubernetes release as
// the control plane of test/cluster/tools/k8s.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
