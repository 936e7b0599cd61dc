package compiler

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// kernel lowers sysctls and shm_size.
func (lw *lowerer) kernel(svc *ast.Service, s *types.ServiceConfig, p string) {
	for _, k := range sortedKeys(s.Sysctls) {
		svc.Sysctls = append(svc.Sysctls, ast.KV{Key: k, Value: s.Sysctls[k], Pos: lw.pos(p + ".sysctls." + k)})
	}
	if s.ShmSize > 0 {
		svc.ShmSize = int64(s.ShmSize)
		svc.ShmSizePos = lw.pos(p + ".shm_size")
	}
}
