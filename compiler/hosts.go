package compiler

import (
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
)

// hosts lowers extra_hosts, dns, dns_search and dns_opt.
func (lw *lowerer) hosts(svc *ast.Service, s *types.ServiceConfig, p string) {
	byIP := map[string][]string{}
	for _, host := range sortedKeys(s.ExtraHosts) {
		for _, ip := range s.ExtraHosts[host] {
			if ip == "host-gateway" {
				lw.diags.Warnf("host-gateway", lw.pos(p+".extra_hosts"), p+".extra_hosts", "host-gateway has no Kubernetes equivalent: %s is not added", host)
				continue
			}
			byIP[ip] = append(byIP[ip], host)
		}
	}
	for _, ip := range sortedKeys(byIP) {
		svc.ExtraHosts = append(svc.ExtraHosts, ast.HostAlias{IP: ip, Hostnames: byIP[ip], Pos: lw.pos(p + ".extra_hosts")})
	}
	svc.DNS = ast.DNS{Nameservers: s.DNS, Searches: s.DNSSearch}
	if len(s.DNS)+len(s.DNSSearch)+len(s.DNSOpts) > 0 {
		svc.DNS.Pos = lw.pos(p + ".dns")
	}
	for _, o := range s.DNSOpts {
		k, v, _ := strings.Cut(o, ":")
		svc.DNS.Options = append(svc.DNS.Options, ast.KV{Key: k, Value: v})
	}
}
