package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DefaultNamespace is the namespace of objects and endpoints that name
// none, as kubectl would place them without -n.
const DefaultNamespace = "default"

// NamespaceNameLabel is the label the API server puts on every namespace,
// with the namespace's name as value.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// Endpoint is one end of a connection: a pod (Labels and Namespace set, IP
// optional) or an address outside the cluster (IP set, not a pod).
type Endpoint struct {
	// Name is shown in verdicts ("Deployment/web", "203.0.113.7").
	Name string
	// IsPod is true for a pod of the cluster.
	IsPod bool
	// Namespace of a pod; empty means DefaultNamespace.
	Namespace string
	// Labels of a pod.
	Labels map[string]string
	// IP of the endpoint; the zero Addr for a pod whose address is not
	// known (ipBlock peers then never match it).
	IP netip.Addr
}

// Pod is a pod endpoint.
func Pod(namespace, name string, podLabels map[string]string) Endpoint {
	return Endpoint{Name: name, IsPod: true, Namespace: namespace, Labels: podLabels}
}

// Outside is an address outside the cluster, such as 203.0.113.7; it
// panics on an invalid address (tests write them literally).
func Outside(ip string) Endpoint {
	return Endpoint{Name: ip, IP: netip.MustParseAddr(ip)}
}

// ClusterDNS is a pod of the cluster's DNS service: labelled
// k8s-app=kube-dns in namespace kube-system.
func ClusterDNS() Endpoint {
	return Pod("kube-system", "cluster-dns", map[string]string{"k8s-app": "kube-dns"})
}

func (e Endpoint) namespace() string {
	if e.Namespace == "" {
		return DefaultNamespace
	}
	return e.Namespace
}

// String names the endpoint, with its namespace for a pod.
func (e Endpoint) String() string {
	if e.IsPod {
		return e.namespace() + "/" + e.Name
	}
	return e.Name
}

// Evaluator answers connectivity questions for a fixed set of
// NetworkPolicies. Build it with New.
type Evaluator struct {
	policies []policy
	// nsLabels are the extra labels of namespaces by name.
	nsLabels map[string]map[string]string
}

type policy struct {
	id       string // namespace/name
	ns       string
	selector labels.Selector
	ingress  bool // policyTypes has Ingress
	egress   bool // policyTypes has Egress
	inRules  []rule
	outRules []rule
}

type rule struct {
	all   bool // no peers: every peer
	peers []peer
	ports []port // empty: every port
}

type peer struct {
	pods   labels.Selector // nil: not a condition
	nss    labels.Selector // nil: the policy's namespace only
	block  *netip.Prefix
	except []netip.Prefix
}

type port struct {
	proto    corev1.Protocol
	any      bool // no port number: every port of proto
	from, to int32
	named    bool // a named port: matches nothing here
}

// New compiles policies; namespaceLabels gives namespaces labels beyond
// kubernetes.io/metadata.name, which every namespace has. An invalid
// selector, CIDR or port is an error (the API server would refuse the
// policy).
func New(policies []networkingv1.NetworkPolicy, namespaceLabels map[string]map[string]string) (*Evaluator, error) {
	ev := &Evaluator{nsLabels: namespaceLabels}
	var errs []error
	for i := range policies {
		p, err := compile(&policies[i])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ev.policies = append(ev.policies, p)
	}
	return ev, errors.Join(errs...)
}

func compile(np *networkingv1.NetworkPolicy) (policy, error) {
	ns := np.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	p := policy{id: ns + "/" + np.Name, ns: ns}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return p, fmt.Errorf("policy %s: podSelector: %w", p.id, err)
	}
	p.selector = sel
	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		// the API server's defaulting
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	for _, t := range types {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ingress = true
		case networkingv1.PolicyTypeEgress:
			p.egress = true
		default:
			return p, fmt.Errorf("policy %s: unknown policyType %q", p.id, t)
		}
	}
	for i, r := range np.Spec.Ingress {
		cr, err := compileRule(r.From, r.Ports)
		if err != nil {
			return p, fmt.Errorf("policy %s: ingress[%d]: %w", p.id, i, err)
		}
		p.inRules = append(p.inRules, cr)
	}
	for i, r := range np.Spec.Egress {
		cr, err := compileRule(r.To, r.Ports)
		if err != nil {
			return p, fmt.Errorf("policy %s: egress[%d]: %w", p.id, i, err)
		}
		p.outRules = append(p.outRules, cr)
	}
	return p, nil
}

func compileRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (rule, error) {
	r := rule{all: len(peers) == 0}
	for i, pe := range peers {
		var cp peer
		n := 0
		if pe.PodSelector != nil {
			n++
			s, err := metav1.LabelSelectorAsSelector(pe.PodSelector)
			if err != nil {
				return r, fmt.Errorf("peer %d: podSelector: %w", i, err)
			}
			cp.pods = s
		}
		if pe.NamespaceSelector != nil {
			n++
			s, err := metav1.LabelSelectorAsSelector(pe.NamespaceSelector)
			if err != nil {
				return r, fmt.Errorf("peer %d: namespaceSelector: %w", i, err)
			}
			cp.nss = s
		}
		if pe.IPBlock != nil {
			if n > 0 {
				return r, fmt.Errorf("peer %d: ipBlock cannot be combined with a selector", i)
			}
			n++
			b, err := netip.ParsePrefix(pe.IPBlock.CIDR)
			if err != nil {
				return r, fmt.Errorf("peer %d: ipBlock: %w", i, err)
			}
			b = b.Masked()
			cp.block = &b
			for _, e := range pe.IPBlock.Except {
				x, err := netip.ParsePrefix(e)
				if err != nil {
					return r, fmt.Errorf("peer %d: ipBlock except: %w", i, err)
				}
				cp.except = append(cp.except, x.Masked())
			}
		}
		if n == 0 {
			return r, fmt.Errorf("peer %d: no podSelector, namespaceSelector or ipBlock", i)
		}
		r.peers = append(r.peers, cp)
	}
	for i, pp := range ports {
		cp := port{proto: corev1.ProtocolTCP}
		if pp.Protocol != nil && *pp.Protocol != "" {
			cp.proto = *pp.Protocol
		}
		switch {
		case pp.Port == nil:
			if pp.EndPort != nil {
				return r, fmt.Errorf("port %d: endPort without port", i)
			}
			cp.any = true
		case pp.Port.Type == intstr.String:
			if pp.EndPort != nil {
				return r, fmt.Errorf("port %d: endPort with a named port", i)
			}
			cp.named = true
		default:
			cp.from, cp.to = pp.Port.IntVal, pp.Port.IntVal
			if pp.EndPort != nil {
				if *pp.EndPort < cp.from {
					return r, fmt.Errorf("port %d: endPort %d < port %d", i, *pp.EndPort, cp.from)
				}
				cp.to = *pp.EndPort
			}
		}
		r.ports = append(r.ports, cp)
	}
	return r, nil
}

// namespaceLabels are the labels of namespace ns.
func (ev *Evaluator) namespaceLabels(ns string) labels.Set {
	out := labels.Set{NamespaceNameLabel: ns}
	for k, v := range ev.nsLabels[ns] {
		out[k] = v
	}
	return out
}

// Allowed reports whether from may connect to to on port and protocol
// (empty means TCP).
func (ev *Evaluator) Allowed(from, to Endpoint, port int32, proto corev1.Protocol) bool {
	return ev.Check(from, to, port, proto).Allowed
}

// Verdict is the answer to one connectivity question, with its reasons.
type Verdict struct {
	Allowed bool
	// Egress and Ingress say how each side decided, for messages.
	Egress, Ingress string
}

// String is "allowed" or "denied", with both sides' reasons.
func (v Verdict) String() string {
	s := "denied"
	if v.Allowed {
		s = "allowed"
	}
	return s + " (egress: " + v.Egress + "; ingress: " + v.Ingress + ")"
}

// Check answers whether from may connect to to on port and protocol
// (empty means TCP), and why.
func (ev *Evaluator) Check(from, to Endpoint, p int32, proto corev1.Protocol) Verdict {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	outOK, outWhy := ev.side(from, to, p, proto, true)
	inOK, inWhy := ev.side(to, from, p, proto, false)
	return Verdict{Allowed: outOK && inOK, Egress: outWhy, Ingress: inWhy}
}

// side decides one direction: the egress of self towards other (egress
// true) or the ingress of self from other.
func (ev *Evaluator) side(self, other Endpoint, p int32, proto corev1.Protocol, egress bool) (bool, string) {
	dir := "ingress"
	if egress {
		dir = "egress"
	}
	if !self.IsPod {
		return true, "outside the cluster, not policed"
	}
	var isolating []string
	for i := range ev.policies {
		pol := &ev.policies[i]
		if pol.ns != self.namespace() || !pol.selector.Matches(labels.Set(self.Labels)) {
			continue
		}
		if egress && !pol.egress || !egress && !pol.ingress {
			continue
		}
		isolating = append(isolating, pol.id)
		rules := pol.inRules
		if egress {
			rules = pol.outRules
		}
		for j, r := range rules {
			if ev.ruleMatches(pol, r, other, p, proto) {
				return true, fmt.Sprintf("%s[%d] of %s matches", dir, j, pol.id)
			}
		}
	}
	if len(isolating) == 0 {
		return true, "not isolated for " + dir
	}
	sort.Strings(isolating)
	return false, fmt.Sprintf("isolated by %s, no %s rule matches", strings.Join(isolating, ", "), dir)
}

func (ev *Evaluator) ruleMatches(pol *policy, r rule, other Endpoint, p int32, proto corev1.Protocol) bool {
	if len(r.ports) > 0 {
		ok := false
		for _, rp := range r.ports {
			if rp.matches(p, proto) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if r.all {
		return true
	}
	for _, pe := range r.peers {
		if ev.peerMatches(pol, pe, other) {
			return true
		}
	}
	return false
}

func (rp port) matches(p int32, proto corev1.Protocol) bool {
	if rp.proto != proto || rp.named {
		return false
	}
	return rp.any || rp.from <= p && p <= rp.to
}

func (ev *Evaluator) peerMatches(pol *policy, pe peer, other Endpoint) bool {
	if pe.block != nil {
		if !other.IP.IsValid() || !pe.block.Contains(other.IP) {
			return false
		}
		for _, x := range pe.except {
			if x.Contains(other.IP) {
				return false
			}
		}
		return true
	}
	if !other.IsPod {
		return false // selectors select pods only
	}
	if pe.nss != nil {
		if !pe.nss.Matches(ev.namespaceLabels(other.namespace())) {
			return false
		}
	} else if other.namespace() != pol.ns {
		return false
	}
	return pe.pods == nil || pe.pods.Matches(labels.Set(other.Labels))
}
