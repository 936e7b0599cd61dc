//go:build tools

// Package tools pins the etcd server that the e2e cluster harness runs.
// Build it with: go build -o DIR/etcd go.etcd.io/etcd/server/v3
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
