package compiler

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

func (lw *lowerer) health(svc *ast.Service, s *types.ServiceConfig, p string) {
	hc := s.HealthCheck
	if hc == nil {
		return
	}
	hp := p + ".healthcheck"
	if hc.Disable {
		return
	}
	h := &ast.Health{Pos: lw.pos(hp), Interval: durPtr(hc.Interval), Timeout: durPtr(hc.Timeout), StartPeriod: durPtr(hc.StartPeriod), StartInterval: durPtr(hc.StartInterval)}
	if hc.Retries != nil {
		h.Retries = int32(min(*hc.Retries, 1<<30))
	}
	switch {
	case len(hc.Test) == 0:
		lw.diags.Warnf("healthcheck-no-test", h.Pos, hp, "healthcheck has no test: the image's own healthcheck is unknown to Kubernetes, so the service gets no readiness probe").
			Note("give the test here, e.g. test: [\"CMD\", \"curl\", \"-f\", \"http://localhost/\"]")
		return
	case hc.Test[0] == "NONE":
		return
	case hc.Test[0] == "CMD":
		h.Exec = append([]string{}, hc.Test[1:]...)
	case hc.Test[0] == "CMD-SHELL":
		h.Exec = []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	default:
		lw.diags.Errorf("healthcheck-test", lw.pos(hp+".test"), hp+".test", "healthcheck test must start with CMD, CMD-SHELL or NONE, not %q", hc.Test[0])
		return
	}
	if len(h.Exec) == 0 {
		lw.diags.Errorf("healthcheck-test", lw.pos(hp+".test"), hp+".test", "healthcheck test has no command")
		return
	}
	svc.Health = h
}
