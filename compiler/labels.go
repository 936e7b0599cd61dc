package compiler

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// labels makes the service's labels, annotations and deploy.labels
// annotations of its workload.
func (lw *lowerer) labels(svc *ast.Service, s *types.ServiceConfig, p string) {
	n := len(s.Labels) + len(s.Annotations)
	if s.Deploy != nil {
		n += len(s.Deploy.Labels)
	}
	if n > 0 {
		svc.Annotations = make([]ast.KV, 0, n)
	}
	for _, k := range sortedKeys(s.Labels) {
		svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Labels[k], Pos: lw.pos(p + ".labels." + k)})
	}
	for _, k := range sortedKeys(s.Annotations) {
		svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Annotations[k], Pos: lw.pos(p + ".annotations." + k)})
	}
	if s.Deploy != nil {
		for _, k := range sortedKeys(s.Deploy.Labels) {
			svc.Annotations = append(svc.Annotations, ast.KV{Key: k, Value: s.Deploy.Labels[k], Pos: lw.pos(p + ".deploy.labels." + k)})
		}
	}
}
