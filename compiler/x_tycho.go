package compiler

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

func (lw *lowerer) serviceExt(svc *ast.Service, s *types.ServiceConfig, p string) {
	svc.Expose = lw.opts.Expose
	lw.misspeltExt(s.Extensions, p)
	xp := p + ".x-tycho"
	if !hasExt(s.Extensions) {
		lw.routePorts(svc, nil, xp+".route")
		return // before ext is made: decoding moves it to the heap
	}
	var ext serviceExt
	if !lw.decodeExt(s.Extensions, p, &ext) {
		lw.routePorts(svc, nil, xp+".route")
		return
	}
	if ext.Expose != "" {
		svc.Expose = lw.exposeMode(ext.Expose, xp+".expose")
		svc.ExposePos = lw.pos(xp + ".expose")
	}
	for i, c := range ext.Clients {
		cp := xp + ".clients." + strconv.Itoa(i)
		n, ok := validCIDR(c)
		if !ok {
			lw.diags.Errorf("x-tycho", lw.pos(cp), cp, "client %q is not an IP address or CIDR", c)
			continue
		}
		svc.Clients = append(svc.Clients, ast.CIDR{CIDR: n, Pos: lw.pos(cp)})
	}
	if ext.Egress != nil {
		svc.Egress = []ast.EgressRule{}
	}
	for i, e := range ext.Egress {
		ep := xp + ".egress." + strconv.Itoa(i)
		n, ok := validCIDR(e.CIDR)
		if !ok {
			lw.diags.Errorf("x-tycho", lw.pos(ep), ep, "egress cidr %q is not an IP address or CIDR", e.CIDR)
			continue
		}
		rule := ast.EgressRule{CIDR: n, Pos: lw.pos(ep)}
		for _, ps := range e.Ports {
			pr, ok := parsePortRange(ps)
			if !ok {
				lw.diags.Errorf("x-tycho", lw.pos(ep), ep, "egress port %q: use PORT[-END][/tcp|udp|sctp]", ps)
				continue
			}
			rule.Ports = append(rule.Ports, pr)
		}
		svc.Egress = append(svc.Egress, rule)
	}
	svc.Liveness = ext.Liveness
	svc.ServiceAccount = ext.ServiceAccount
	lw.routePorts(svc, ext.Route, xp+".route")
}

func parsePortRange(s string) (ast.PortRange, bool) {
	spec, proto, _ := strings.Cut(s, "/")
	pr := ast.PortRange{Protocol: ast.Protocol(strings.ToLower(proto))}
	if pr.Protocol == "" {
		pr.Protocol = ast.TCP
	}
	if pr.Protocol != ast.TCP && pr.Protocol != ast.UDP && pr.Protocol != ast.SCTP {
		return pr, false
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	var a, b uint64
	if _, err := fmt.Sscan(lo, &a); err != nil || a == 0 || a > 65535 {
		return pr, false
	}
	pr.Port = uint16(a)
	if isRange {
		if _, err := fmt.Sscan(hi, &b); err != nil || b < a || b > 65535 {
			return pr, false
		}
		pr.EndPort = uint16(b)
	}
	return pr, true
}
