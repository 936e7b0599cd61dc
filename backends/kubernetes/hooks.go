package kubernetes

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/tychoctl/tycho/ast"
)

// lifecycle makes a container's hooks exec handlers. Unlike command, args
// and probes, the kubelet does not expand $(VAR) in a lifecycle exec
// command, so the argv is written as it is.
func lifecycle(c *ast.Container) *corev1.Lifecycle {
	if c.PostStart == nil && c.PreStop == nil {
		return nil
	}
	lc := &corev1.Lifecycle{}
	if h := c.PostStart; h != nil {
		lc.PostStart = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: h.Exec}}
	}
	if h := c.PreStop; h != nil {
		lc.PreStop = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: h.Exec}}
	}
	return lc
}
