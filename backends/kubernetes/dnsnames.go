package kubernetes

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tychoctl/tycho/ast"
)

// dnsName is a DNS name of the system (a service's name, a network alias,
// a links alias or a container_name, normalised) and the services that hold
// it. Docker's resolver answers a name with every container that carries
// it, so a name held by several services becomes one headless Service that
// selects the pods of all of them by the name's pod label.
type dnsName struct {
	name string
	// owner is the service whose own name it is, "" when it is only an
	// alias; its Service keeps the owner's labels.
	owner string
	// holds are where the services hold it, in the order of the services
	// and of their aliases; a service may hold it more than once (an alias
	// on two networks).
	holds []nameHold
	// holders are the distinct services of holds, in the same order.
	holders []*ast.Service
	// most names have one hold: these back holds and holders until a
	// second comes, so that a service's name costs no allocation of them
	holdBuf   [1]nameHold
	holderBuf [1]*ast.Service
}

// nameHold is one service holding a name: on network ("" for all its
// networks), written at pos.
type nameHold struct {
	service *ast.Service
	network string
	pos     ast.Pos
	path    string
}

// shared reports whether several services hold the name (false for no
// name).
func (d *dnsName) shared() bool { return d != nil && len(d.holders) > 1 }

// hold adds a hold of the name by s.
func (d *dnsName) hold(s *ast.Service, network string, pos ast.Pos, path string) {
	if d.holds == nil {
		d.holds, d.holders = d.holdBuf[:0], d.holderBuf[:0]
	}
	d.holds = append(d.holds, nameHold{service: s, network: network, pos: pos, path: path})
	if !slices.Contains(d.holders, s) {
		d.holders = append(d.holders, s)
	}
}

const nameLabelPrefix = "name.tycho.dev/"

// nameLabel is the pod label that the pods of every holder of a shared
// name carry, for the selector of the name's Service. No NetworkPolicy
// selects by it: sharing a name grants no reachability.
func nameLabel(name string) string { return nameLabelPrefix + name }

// claimAlias makes the alias a of service s one of the system's names; an
// alias that normalises to the service's own name needs no object.
func (g *gen) claimAlias(s *ast.Service, sm *serviceMeta, a ast.Alias) {
	n := DNS1035(a.Name, 63)
	if n == sm.name {
		switch {
		case n != a.Name:
			g.diags.Warnf("alias-name", a.Pos, sm.path, "alias %q is not a valid DNS label: it resolves as %q, the service's own name", a.Name, n)
		case n != s.Name:
			g.diags.Infof("own-name", a.Pos, sm.path, "alias %q is the name of %s in Kubernetes: it needs no Service of its own", a.Name, sm.what)
		}
		return
	}
	if n != a.Name {
		g.diags.Warnf("alias-name", a.Pos, sm.path, "alias %q is not a valid DNS label: it resolves as %q", a.Name, n)
	}
	d := g.dns[n]
	if d == nil {
		// a name that is no service's: it must not be another object's
		// (the Service of a service's published ports)
		if !g.claim("Service", n, "alias "+strconv.Quote(a.Name)+" of "+sm.what, a.Pos, sm.path) {
			return
		}
		d = &dnsName{name: n}
		g.dns[n] = d
		g.dnsOrder = append(g.dnsOrder, d)
	}
	d.hold(s, a.Network, a.Pos, sm.path)
}

// shareNames marks the pods of the holders of every shared name with its
// label. Run once every name is claimed.
func (g *gen) shareNames() {
	for _, d := range g.dnsOrder {
		if !d.shared() {
			continue
		}
		for _, s := range d.holders {
			sm := g.svcs[s.Name]
			sm.names = append(sm.names, nameLabel(d.name))
		}
		if d.owner == "" {
			continue
		}
		// a service's own name now resolves to other pods too: say so once
		// per other holder, at its first alias
		told := map[*ast.Service]bool{}
		for _, h := range d.holds {
			if h.service.Name == d.owner || told[h.service] {
				continue
			}
			told[h.service] = true
			g.diags.Infof("shared-name", h.pos, h.path, "%q is the name of service %q and an alias of service %q: it resolves to the pods of both, as in docker", d.name, d.owner, h.service.Name)
		}
	}
}

// nameServices makes the Service of every name that is not a service's
// own unshared name (kubeServices makes those): an alias of one service
// selects its pods as its own Service does; a shared name selects the pods
// of all its holders by the name's label.
func (g *gen) nameServices() {
	for _, d := range g.dnsOrder {
		if !d.shared() {
			if d.owner != "" {
				continue
			}
			s := d.holders[0]
			sm := g.svcs[s.Name]
			g.add(g.headless(d.name, sm.labels, sm.selector, servicePorts(s)))
			continue
		}
		labels := g.sysLabels
		if d.owner != "" {
			labels = g.svcs[d.owner].labels
		}
		sel := map[string]string{LabelPartOf: g.partOf, nameLabel(d.name): "true"}
		if g.sys.GUID != "" {
			sel[LabelGUID] = g.sys.GUID
		}
		g.add(g.headless(d.name, labels, sel, g.sharedPorts(d)))
		g.unreachableHolders(d)
	}
}

// headless is a headless Service: its name resolves to the ready pods
// themselves, as docker's DNS resolves a name to its containers, so every
// port a container listens on is reached by name, declared or not
// (docs/mapping.md). Without ports it still resolves: the endpoints of a
// headless Service need none.
func (g *gen) headless(name string, labels, selector map[string]string, ports []corev1.ServicePort) *corev1.Service {
	return &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: g.meta(name, labels),
		Spec: corev1.ServiceSpec{Selector: selector, Ports: ports, ClusterIP: corev1.ClusterIPNone}}
}

// sharedPorts are the container ports of every holder of d, one per
// (port, protocol), the first holder's name winning.
func (g *gen) sharedPorts(d *dnsName) []corev1.ServicePort {
	return containerPorts(d.holders...)
}

// unreachableHolders warns when network policy keeps services that
// resolve a shared name from some of its holders: in docker a name
// resolves on a network to the containers that hold it there; in
// Kubernetes a name resolves in the whole namespace, so a service on a
// network gets the addresses of holders it shares no network with.
func (g *gen) unreachableHolders(d *dnsName) {
	if g.rules == nil {
		return // no network policy: every holder is reachable
	}
	on := func(s *ast.Service) []string {
		if r := g.rules[s.Name]; r != nil {
			return r.Networks
		}
		return nil
	}
	for _, h := range d.holds {
		nets := on(h.service)
		if h.network != "" {
			nets = []string{h.network}
		}
		for _, n := range nets {
			for _, other := range d.holders {
				if other != h.service && !slices.Contains(on(other), n) {
					g.diags.Warnf("shared-name-network", h.pos, h.path, "the name %q resolves to the pods of services %s in every network, but service %q is not on network %q: services there get addresses they cannot reach", d.name, quoteHolders(d), other.Name, n).
						Note("give every holder of the name the same networks, or a name of its own")
					return
				}
			}
		}
	}
}

// quoteHolders lists the holders of d: `"a", "b" and "c"`.
func quoteHolders(d *dnsName) string {
	names := make([]string, len(d.holders))
	for i, s := range d.holders {
		names[i] = strconv.Quote(s.Name)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
