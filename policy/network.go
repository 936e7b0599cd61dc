package policy

import (
	"sort"
	"strings"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
)

// Network computes who may reach whom from compose's network semantics:
// services on a common network reach each other (on any port, or on the
// declared ports when strict), published ports are reached from outside
// (or from the service's client CIDRs), DNS is always reachable, and a
// service only on internal networks cannot leave them.
type Network struct{}

// Name is "network".
func (Network) Name() string { return "network" }

// Weave writes sys.Policy.Network.
func (Network) Weave(sys *ast.System, opts Options) diag.List {
	if opts.Network == "none" {
		sys.Policy.Network = nil
		return routerPodsUnused(sys)
	}
	strict := opts.Network == "strict"
	var diags diag.List
	// networks of each service; network_mode: service:X shares X's
	nets := map[string][]string{}
	for _, s := range sys.Services {
		nets[s.Name] = attached(s)
	}
	// the mode that decides: that of the service whose network is shared
	mode := map[string]string{}
	for _, s := range sys.Services {
		owner := sys.NetworkOwner(s)
		switch {
		case owner == nil:
			nets[s.Name] = nil
			mode[s.Name] = "none"
		case owner.NetworkMode == "none":
			nets[s.Name] = nil
			mode[s.Name] = "none"
		default:
			nets[s.Name] = attached(owner)
		}
	}
	members := map[string][]string{}
	for _, s := range sys.Services {
		for _, n := range nets[s.Name] {
			members[n] = append(members[n], s.Name)
		}
	}
	internal := map[string]bool{}
	for _, n := range sys.Networks {
		internal[n.Name] = n.Internal
	}
	np := &ast.NetworkPolicy{}
	for _, s := range sys.Services {
		// peers: the services on s's networks (s included); only whether
		// there are any, or others, matters here
		peers := 0
		for _, n := range nets[s.Name] {
			peers = max(peers, len(members[n]))
		}
		own := append([]string{}, nets[s.Name]...)
		sort.Strings(own)
		// peers are selected by network membership, so the policies stay
		// linear in the size of the system
		r := ast.ServiceRules{Service: s.Name, Networks: own, Ingress: []ast.Flow{}}
		if peers > 0 {
			f := ast.Flow{Peer: ast.Peer{Networks: own}}
			if strict {
				f.Ports = declared(s, false)
			}
			if !strict || len(f.Ports) > 0 {
				r.Ingress = append(r.Ingress, f)
			} else if peers > 1 {
				diags.Warnf("strict-no-ports", s.Pos, "services."+s.Name, "%s declares no ports or expose: with --network-policy strict no other service may reach it", s.Name).Note("add expose: with the ports it listens on")
			}
		}
		routed := routedFlows(s)
		if len(routed) > 0 && len(s.Clients) > 0 {
			diags.Warnf("clients-routed", s.Clients[0].Pos, "services."+s.Name+".x-tycho.clients", "x-tycho.clients does not limit the routed ports of %s: the router connects to them, not the clients", s.Name).
				Note("limit the clients at the router (its own allow lists), or keep the port unrouted")
		}
		r.Ingress = append(r.Ingress, routed...)
		if pub := declared(s, true); len(pub) > 0 {
			f := ast.Flow{Peer: ast.Peer{Anywhere: true}, Ports: pub}
			if len(s.Clients) > 0 {
				f.Peer = ast.Peer{}
				for _, c := range s.Clients {
					f.Peer.CIDRs = append(f.Peer.CIDRs, c.CIDR)
				}
			}
			r.Ingress = append(r.Ingress, f)
		}
		onlyInternal := len(nets[s.Name]) > 0
		for _, n := range nets[s.Name] {
			if !internal[n] {
				onlyInternal = false
			}
		}
		isolated := mode[s.Name] == "none"
		if onlyInternal || s.Egress != nil || isolated {
			r.EgressRestricted = true
			r.Egress = []ast.Flow{{Peer: ast.Peer{ClusterDNS: true}, Ports: []ast.PortRange{{Port: 53, Protocol: ast.UDP}, {Port: 53, Protocol: ast.TCP}}}}
			if peers > 0 {
				r.Egress = append(r.Egress, ast.Flow{Peer: ast.Peer{Networks: own}})
			}
			if (onlyInternal || isolated) && len(s.Egress) > 0 {
				diags.Warnf("egress-internal", s.Pos, "services."+s.Name+".x-tycho.egress", "%s has no route outside (internal networks only, or network_mode none): its x-tycho egress rules are not used", s.Name)
			}
			if !onlyInternal && !isolated {
				for _, e := range s.Egress {
					r.Egress = append(r.Egress, ast.Flow{Peer: ast.Peer{CIDRs: []string{e.CIDR}}, Ports: e.Ports})
				}
			}
		}
		np.Rules = append(np.Rules, r)
	}
	sys.Policy.Network = np
	return diags
}

func attached(s *ast.Service) []string {
	out := make([]string, 0, len(s.Networks))
	for _, n := range s.Networks {
		out = append(out, n.Network)
	}
	return out
}

// declared lists the container ports of s; published only those published
// and not routed.
func declared(s *ast.Service, published bool) []ast.PortRange {
	seen := map[ast.PortRange]bool{}
	var out []ast.PortRange
	for _, p := range s.Ports {
		if published && (p.Published == 0 || p.Route != nil) {
			continue
		}
		pr := ast.PortRange{Port: p.Target, Protocol: p.Protocol}
		if !seen[pr] {
			seen[pr] = true
			out = append(out, pr)
		}
	}
	return out
}

// routedFlows admit the router's pods, and nobody else from outside the
// system, to the container ports of s's routed ports: one flow per
// selector of router pods, in the order of the ports.
func routedFlows(s *ast.Service) []ast.Flow {
	var out []ast.Flow
	index := map[string]int{}
	seen := map[ast.PortRange]bool{}
	for _, p := range s.Ports {
		if p.Route == nil {
			continue
		}
		pr := ast.PortRange{Port: p.Target, Protocol: p.Protocol}
		if seen[pr] {
			continue
		}
		seen[pr] = true
		sel := p.Route.From
		if sel == nil {
			sel = &ast.PodSelector{} // any pod of the cluster
		}
		key := selectorKey(sel)
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, ast.Flow{Peer: ast.Peer{Pods: sel}})
		}
		out[i].Ports = append(out[i].Ports, pr)
	}
	return out
}

func selectorKey(sel *ast.PodSelector) string {
	var b strings.Builder
	for _, kv := range sel.NamespaceLabels {
		b.WriteString("n:" + kv.Key + "=" + kv.Value + "\x00")
	}
	for _, kv := range sel.PodLabels {
		b.WriteString("p:" + kv.Key + "=" + kv.Value + "\x00")
	}
	return b.String()
}

// routerPodsUnused warns of the router's pods given for routed ports when
// no NetworkPolicy is made: every pod of the cluster reaches the ports.
func routerPodsUnused(sys *ast.System) diag.List {
	var diags diag.List
	for _, s := range sys.Services {
		for _, p := range s.Ports {
			if p.Route == nil || p.Route.From == nil || len(p.Route.From.NamespaceLabels)+len(p.Route.From.PodLabels) == 0 {
				continue
			}
			diags.Warnf("route-from-unused", p.Route.Pos, "services."+s.Name+".ports", "the router's pods of port %d of %s are not used: with --network-policy none no NetworkPolicy is made, so every pod of the cluster reaches the port", p.Published, s.Name).
				Note("use --network-policy on (the default) or strict for only the router to reach routed ports")
		}
	}
	return diags
}
