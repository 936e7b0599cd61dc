package compiler

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

func (lw *lowerer) dependsOn(svc *ast.Service, s *types.ServiceConfig, p string) {
	for _, name := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[name]
		if name == s.Name && !lw.m.Has(p+".depends_on."+name) {
			continue // compose-go's implicit dependency of network_mode: service:<itself>
		}
		dp := p + ".depends_on." + name
		cond := ast.Condition(d.Condition)
		switch cond {
		case "":
			cond = ast.ServiceStarted
		case ast.ServiceStarted, ast.ServiceHealthy, ast.ServiceCompletedSuccessfully:
		default:
			lw.diags.Errorf("depends-on", lw.pos(dp), dp, "unknown depends_on condition %q", d.Condition)
			continue
		}
		if d.Restart && lw.m.Has(dp+".restart") {
			lw.diags.Infof("depends-on-restart", lw.pos(dp), dp, "restart: true is not supported: a restarted dependency does not restart %s", s.Name)
		}
		svc.DependsOn = append(svc.DependsOn, ast.Dependency{Service: name, Condition: cond, Required: d.Required, Pos: lw.pos(dp)})
	}
}
