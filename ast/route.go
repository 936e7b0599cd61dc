package ast

// Route says where a published port that speaks HTTP is reached from
// outside the system: through the cluster's HTTP router (an ingress
// controller or a gateway), by host name, path prefix or both. The
// compiler has expanded every template; backends only translate.
type Route struct {
	// Host is the host name requests carry; empty matches any host.
	Host string
	// PathPrefix is the path under which the port is reached: it starts
	// and ends with "/" ("/" for every path).
	PathPrefix string
	// StripPrefix removes PathPrefix from the path before the request
	// reaches the container (which then sees "/...").
	StripPrefix bool
	// Class names the router (the ingress class); empty is the cluster's
	// default.
	Class string
	// Gateway is the gateway a Gateway API route attaches to; its
	// Namespace is empty for the system's own.
	Gateway GatewayRef
	// TLS is how the route's certificate is found; empty for plain HTTP.
	TLS TLS
	// From selects the router's pods, which alone may connect to the
	// routed port; nil is any pod of the cluster.
	From *PodSelector
	// Annotations are added to the route's object (router-specific
	// settings).
	Annotations []KV
	Pos         Pos
}

// GatewayRef names a gateway.
type GatewayRef struct {
	Namespace string
	Name      string
}

// TLS says where a route's certificate comes from: a secret that holds
// it, or an issuer that makes it into a secret (cert-manager).
type TLS struct {
	// Secret names the secret of the certificate.
	Secret string
	// Issuer names the issuer that makes the certificate; IssuerKind is
	// "Issuer" (in the system's namespace) or "ClusterIssuer".
	Issuer     string
	IssuerKind string
}

// Enabled reports whether the route is served over TLS.
func (t TLS) Enabled() bool { return t.Secret != "" || t.Issuer != "" }

// URL is the address of the route: scheme, host and path prefix; only
// the path prefix when any host matches (the router's address is known
// only where it runs).
func (r *Route) URL() string {
	if r.Host == "" {
		return r.PathPrefix
	}
	scheme := "http://"
	if r.TLS.Enabled() {
		scheme = "https://"
	}
	return scheme + r.Host + r.PathPrefix
}

// PodSelector selects pods by labels: those with PodLabels (any pod when
// empty) in the namespaces with NamespaceLabels (any namespace when
// empty). Both are sorted by key.
type PodSelector struct {
	NamespaceLabels []KV
	PodLabels       []KV
}
