package kubernetes

import (
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tychoctl/tycho/ast"
)

func (g *gen) waiterName() string { return DNSLabel(g.sys.Name+"-waiter", 63) }

// waiterToken is the service-account token of the waiter, projected as
// the automounted token would be, for the waiting init container alone.
func waiterToken() corev1.Volume {
	exp := int64(3607)
	return corev1.Volume{Name: waiterTokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}}
}

// waiterRBAC lets the waiters read the system's workloads, and nothing
// else.
func (g *gen) waiterRBAC() {
	n := g.waiterName()
	ns := g.sys.Namespace
	if ns == "" {
		ns = "default"
		g.diags.Warnf("waiter-namespace", g.waiterPos, g.waiterPath, "waiting for a dependency through the Kubernetes API needs the namespace for its RoleBinding: \"default\" is assumed").Note("compile with -n NAMESPACE")
	}
	f := false
	g.add(&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: g.meta(n, g.sysLabels), AutomountServiceAccountToken: &f})
	g.add(&rbacv1.Role{TypeMeta: tm("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: g.meta(n, g.sysLabels),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments", "daemonsets", "replicasets"}, Verbs: []string{"get", "list", "watch"}},
		}})
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: n, Namespace: ns}}
	users := make([]string, 0, len(g.waiterSubjects))
	for sa := range g.waiterSubjects {
		users = append(users, sa)
	}
	sort.Strings(users)
	for _, sa := range users {
		subjects = append(subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: sa, Namespace: ns})
	}
	g.add(&rbacv1.RoleBinding{TypeMeta: tm("rbac.authorization.k8s.io/v1", "RoleBinding"), ObjectMeta: g.meta(n, g.sysLabels),
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: n},
		Subjects: subjects})
}

// networkPolicies carries out the network weaver's rules: one policy per
// service that selects its pods, so that everything not allowed is denied.
func (g *gen) networkPolicies() {
	np := g.sys.Policy.Network
	if np == nil {
		return
	}
	for _, r := range np.Rules {
		sm := g.svcs[r.Service]
		if sm == nil {
			continue // not a service of the system
		}
		// "<system>.<service>": both are DNS labels without dots, so two
		// systems in one namespace never collide
		name := g.partOf + "." + sm.name
		pol := &networkingv1.NetworkPolicy{TypeMeta: tm("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: g.meta(name, sm.labels),
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: sm.selector},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress:     make([]networkingv1.NetworkPolicyIngressRule, len(r.Ingress)),
			}}
		for i, f := range r.Ingress {
			pol.Spec.Ingress[i] = networkingv1.NetworkPolicyIngressRule{From: g.peers(f.Peer), Ports: ports(f.Ports)}
		}
		if r.EgressRestricted {
			pol.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			pol.Spec.Egress = make([]networkingv1.NetworkPolicyEgressRule, len(r.Egress))
			for i, f := range r.Egress {
				pol.Spec.Egress[i] = networkingv1.NetworkPolicyEgressRule{To: g.peers(f.Peer), Ports: ports(f.Ports)}
			}
		}
		g.add(pol)
	}
}

func (g *gen) peers(p ast.Peer) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	switch {
	case p.Anywhere:
		return nil // no from/to: any peer
	case p.ClusterDNS:
		return []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
		}}
	case p.Pods != nil:
		return []networkingv1.NetworkPolicyPeer{podsPeer(p.Pods)}
	}
	if n := len(p.Services) + len(p.Networks) + len(p.CIDRs); n > 0 {
		out = make([]networkingv1.NetworkPolicyPeer, 0, n)
	}
	for _, s := range sortedCopy(p.Services) {
		if sm := g.svcs[s]; sm != nil {
			out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: sm.selector}})
		}
	}
	for _, n := range sortedCopy(p.Networks) {
		out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: g.networkSelector(n)})
	}
	for _, c := range p.CIDRs {
		out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	if len(out) == 0 {
		return nil // as when nothing was appended to a nil slice
	}
	return out
}

// sortedCopy is list sorted: list itself when it is sorted already.
func sortedCopy(list []string) []string {
	if slices.IsSorted(list) {
		return list
	}
	return slices.Sorted(slices.Values(list))
}

// networkSelector selects the pods of the system on network; one
// selector serves every peer that names the network.
func (g *gen) networkSelector(network string) *metav1.LabelSelector {
	sel, ok := g.netSelector[network]
	if !ok {
		l := map[string]string{LabelPartOf: g.partOf, g.networkLabel(network): "true"}
		if g.sys.GUID != "" {
			l[LabelGUID] = g.sys.GUID
		}
		sel = &metav1.LabelSelector{MatchLabels: l}
		g.netSelector[network] = sel
	}
	return sel
}

// NetworkLabel is the pod label that marks membership of a compose
// network, for NetworkPolicy peers.
func NetworkLabel(network string) string {
	return networkLabelPrefix + DNSLabel(network, 63)
}

const networkLabelPrefix = "network.tycho.dev/"

// networkLabel is NetworkLabel(network), made once per network.
func (g *gen) networkLabel(network string) string {
	l, ok := g.netLabel[network]
	if !ok {
		l = NetworkLabel(network)
		g.netLabel[network] = l
	}
	return l
}

func ports(prs []ast.PortRange) []networkingv1.NetworkPolicyPort {
	if len(prs) == 0 {
		return nil
	}
	out := make([]networkingv1.NetworkPolicyPort, 0, len(prs))
	for _, pr := range prs {
		p := proto(pr.Protocol)
		port := intstr.FromInt32(int32(pr.Port))
		npp := networkingv1.NetworkPolicyPort{Protocol: &p, Port: &port}
		if pr.EndPort > pr.Port {
			e := int32(pr.EndPort)
			npp.EndPort = &e
		}
		out = append(out, npp)
	}
	return out
}
