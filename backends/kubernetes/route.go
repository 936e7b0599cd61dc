package kubernetes

import (
	"maps"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/tychoctl/tycho/ast"
)

// AnnotationURL is the annotation of an Ingress or HTTPRoute that holds
// the URL of its route, as the compiler made it (only its path when any
// host matches), for tycho status.
const AnnotationURL = "tycho.dev/url"

// Annotations of cert-manager's ingress-shim: it makes the certificate of
// an Ingress's TLS hosts into the Secret the Ingress names.
const (
	annotationIssuer        = "cert-manager.io/issuer"
	annotationClusterIssuer = "cert-manager.io/cluster-issuer"
)

// routeName is the name of the Ingress or HTTPRoute of a routed port:
// "<service>-<published port>".
func routeName(svc string, p ast.Port) string {
	return DNSLabel(svc+"-"+strconv.Itoa(int(p.Published)), 63)
}

func hasRouted(s *ast.Service) bool {
	for _, p := range s.Ports {
		if p.Route != nil {
			return true
		}
	}
	return false
}

// hasUnrouted reports a published port that is not routed: it keeps the
// Service of published ports.
func hasUnrouted(s *ast.Service) bool {
	for _, p := range s.Ports {
		if p.Published != 0 && p.Route == nil {
			return true
		}
	}
	return false
}

// routedService is the ClusterIP Service behind the routes of s: its
// routed ports, each on its published port. Routers send to it; the
// network policy admits only them.
func (g *gen) routedService(s *ast.Service, sm *serviceMeta) {
	svc := &corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: g.meta(sm.routed, sm.labels),
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: sm.selector}}
	for _, p := range s.Ports {
		if p.Route == nil {
			continue
		}
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: portName(p.Name, string(p.Protocol), p.Published),
			Port: int32(p.Published), TargetPort: intstr.FromInt32(int32(p.Target)), Protocol: proto(p.Protocol), AppProtocol: appProtocol(p)})
	}
	uniquePortNames(svc.Spec.Ports)
	g.add(svc)
}

// routes makes the Ingress or HTTPRoute of each routed port of s.
func (g *gen) routes(s *ast.Service, sm *serviceMeta) {
	for _, p := range s.Ports {
		if p.Route == nil {
			continue
		}
		name := routeName(sm.name, p)
		kind := "Ingress"
		if s.Expose == ast.ExposeGateway {
			kind = "HTTPRoute"
		}
		if !g.claim(kind, name, "port "+strconv.Itoa(int(p.Published))+" of "+sm.what, p.Pos, sm.path+".ports") {
			continue
		}
		for _, kv := range p.Route.Annotations {
			// controllers read theirs under kubernetes.io subdomains
			// (nginx.ingress.kubernetes.io/...): only Tycho's are refused
			if owner := ReservedAnnotation(kv.Key); owner == OwnerTycho {
				g.diags.Errorf("reserved-annotation", kv.Pos, sm.path+".x-tycho.route.annotations."+kv.Key, "annotation %s is %s", kv.Key, ownedBy(owner)).
					Note("use a key of your own domain")
			} else if why := validation.IsQualifiedName(kv.Key); len(why) > 0 {
				g.diags.Errorf("annotation-key", kv.Pos, sm.path+".x-tycho.route.annotations."+kv.Key, "annotation key %q is invalid: %s", kv.Key, strings.Join(why, "; "))
			}
		}
		meta := g.meta(name, sm.labels)
		meta.Annotations = g.routeAnnotations(p.Route)
		if kind == "Ingress" {
			g.add(g.ingress(meta, sm, p))
		} else {
			g.add(g.httpRoute(meta, sm, p))
		}
	}
}

// routeAnnotations are the system's, the route's own, the URL and the
// issuer of the certificate.
func (g *gen) routeAnnotations(r *ast.Route) map[string]string {
	a := make(map[string]string, len(g.sysAnnotations)+len(r.Annotations)+2)
	maps.Copy(a, g.sysAnnotations)
	for _, kv := range r.Annotations {
		a[kv.Key] = kv.Value
	}
	a[AnnotationURL] = r.URL()
	switch r.TLS.IssuerKind {
	case "Issuer":
		a[annotationIssuer] = r.TLS.Issuer
	case "ClusterIssuer":
		a[annotationClusterIssuer] = r.TLS.Issuer
	}
	return a
}

// tlsSecretName is the Secret of a route's certificate: the one given,
// else the one cert-manager makes for the Ingress.
func tlsSecretName(r *ast.Route, ingress string) string {
	if r.TLS.Secret != "" {
		return r.TLS.Secret
	}
	return ingress + "-tls"
}

func (g *gen) ingress(meta metav1.ObjectMeta, sm *serviceMeta, p ast.Port) *networkingv1.Ingress {
	r := p.Route
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{TypeMeta: tm("networking.k8s.io/v1", "Ingress"), ObjectMeta: meta}
	if r.Class != "" {
		c := r.Class
		ing.Spec.IngressClassName = &c
	}
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: r.Host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: r.PathPrefix, PathType: &prefix, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: sm.routed, Port: networkingv1.ServiceBackendPort{Number: int32(p.Published)}}}}},
	}}}}
	if r.TLS.Enabled() {
		t := networkingv1.IngressTLS{SecretName: tlsSecretName(r, meta.Name)}
		if r.Host != "" {
			t.Hosts = []string{r.Host}
		}
		ing.Spec.TLS = []networkingv1.IngressTLS{t}
	}
	return ing
}

func (g *gen) httpRoute(meta metav1.ObjectMeta, sm *serviceMeta, p ast.Port) *gatewayv1.HTTPRoute {
	r := p.Route
	hr := &gatewayv1.HTTPRoute{TypeMeta: tm("gateway.networking.k8s.io/v1", "HTTPRoute"), ObjectMeta: meta}
	parent := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(r.Gateway.Name)}
	if r.Gateway.Namespace != "" {
		ns := gatewayv1.Namespace(r.Gateway.Namespace)
		parent.Namespace = &ns
	}
	hr.Spec.ParentRefs = []gatewayv1.ParentReference{parent}
	if r.Host != "" {
		hr.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(r.Host)}
	}
	pathType := gatewayv1.PathMatchPathPrefix
	value := r.PathPrefix
	port := gatewayv1.PortNumber(p.Published)
	rule := gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &pathType, Value: &value}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(sm.routed), Port: &port}}}},
	}
	if r.StripPrefix && r.PathPrefix != "/" {
		root := "/"
		rule.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
			Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: &root}}}}
	}
	hr.Spec.Rules = []gatewayv1.HTTPRouteRule{rule}
	return hr
}

// podsPeer selects pods outside the system: those of the namespaces with
// the selector's namespace labels (any namespace when it has none) and its
// pod labels.
func podsPeer(sel *ast.PodSelector) networkingv1.NetworkPolicyPeer {
	peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}}
	if len(sel.NamespaceLabels) > 0 {
		peer.NamespaceSelector.MatchLabels = make(map[string]string, len(sel.NamespaceLabels))
		for _, kv := range sel.NamespaceLabels {
			peer.NamespaceSelector.MatchLabels[kv.Key] = kv.Value
		}
	}
	if len(sel.PodLabels) > 0 {
		peer.PodSelector = &metav1.LabelSelector{MatchLabels: make(map[string]string, len(sel.PodLabels))}
		for _, kv := range sel.PodLabels {
			peer.PodSelector.MatchLabels[kv.Key] = kv.Value
		}
	}
	return peer
}
