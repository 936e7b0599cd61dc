//go:build tools

// Package tools pins kwok, which simulates the nodes and pods of the e2e
// cluster harness. Its stage files are read from the same module version.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
