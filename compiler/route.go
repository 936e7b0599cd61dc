package compiler

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tychoctl/tycho/ast"
)

// RouteOptions are the system-wide defaults of routed ports (the command
// line's flags, the API's operator settings). Empty fields leave the
// top-level x-tycho.route, then Tycho's defaults, in force.
type RouteOptions struct {
	// Host is the template of a routed port's host name, e.g.
	// "{service}.{system}.example.com".
	Host string
	// PathPrefix is the template of its path prefix, e.g.
	// "/{system}/{service}/".
	PathPrefix string
	// StripPrefix, when set, says whether the prefix is removed before
	// the request reaches the container.
	StripPrefix *bool
	// Class is the ingress class.
	Class string
	// Gateway is the parent gateway of Gateway API routes,
	// "[NAMESPACE/]NAME".
	Gateway string
	// TLSSecret names the secret of the certificate; TLSIssuer a
	// cert-manager issuer, "[Issuer/|ClusterIssuer/]NAME".
	TLSSecret string
	TLSIssuer string
	// From selects the router's pods: "namespace=NAME,pod=KEY=VALUE,...".
	From string
	// HostFrom and PathPrefixFrom name where Host and PathPrefix were
	// given, for diagnostics; empty is the command line's --host and
	// --path-prefix (the API names its request's route.host).
	HostFrom, PathPrefixFrom string
}

// DefaultPathPrefix is the path of a routed port when neither a host nor
// a path prefix is given: it needs no DNS and, with {guid}, cannot collide
// with another system's.
const DefaultPathPrefix = "/{system}/{service}/"

// webPorts are the container ports that are taken to speak HTTP when no
// app_protocol says otherwise and x-tycho.route.ports does not list the
// service's HTTP ports. 443 and 8443 are missing: they speak TLS, which a
// router would have to re-encrypt (see docs/routing.md).
var webPorts = []uint16{80, 3000, 4200, 5000, 8000, 8080, 8081, 8888}

// httpAppProtocols are the app_protocol values of plain HTTP, as compose
// files and Kubernetes (KEP-3726) write them.
var httpAppProtocols = []string{"http", "h2c", "ws", "kubernetes.io/h2c", "kubernetes.io/ws"}

// routeExt is x-tycho.route, top level or on a service, and an entry of a
// service's x-tycho.route.ports.
type routeExt struct {
	Host        string            `json:"host"`
	PathPrefix  string            `json:"pathPrefix"`
	StripPrefix *bool             `json:"stripPrefix"`
	Class       string            `json:"class"`
	Gateway     string            `json:"gateway"`
	TLSSecret   string            `json:"tlsSecret"`
	TLSIssuer   string            `json:"tlsIssuer"`
	From        string            `json:"from"`
	Annotations map[string]string `json:"annotations"`
	// Ports lists the published ports that speak HTTP (on a service only).
	Ports []routePortExt `json:"ports"`
}

// routePortExt is an entry of x-tycho.route.ports: a published port, or a
// mapping of its port and the settings of its route.
type routePortExt struct {
	Port uint16 `json:"port"`
	routeExt
	// err is why the entry could not be read: it is reported at the
	// entry (an error returned to the decoder would be positioned at
	// x-tycho, with no index).
	err *routePortError
}

// routePortError is a bad entry of x-tycho.route.ports; field is the key
// of the entry at fault ("" for the entry).
type routePortError struct {
	field, msg string
}

// UnmarshalJSON reads a port number or a mapping; a bad entry is kept in
// r.err.
func (r *routePortExt) UnmarshalJSON(b []byte) error {
	r.err = r.decode(bytes.TrimSpace(b))
	return nil
}

func (r *routePortExt) decode(b []byte) *routePortError {
	if len(b) == 0 || b[0] != '{' {
		if err := json.Unmarshal(b, &r.Port); err != nil || string(b) == "null" || r.Port == 0 {
			return &routePortError{msg: fmt.Sprintf("must be a published port (1-65535) or a mapping with a port, not %s", b)}
		}
		return nil
	}
	type plain struct {
		Port *uint16 `json:"port"`
		routeExt
	}
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// embedded fields are named with their type: routeExt.host
			f := te.Field[strings.LastIndex(te.Field, ".")+1:]
			if f == "port" {
				return &routePortError{field: f, msg: fmt.Sprintf("must be a published port (1-65535), not %s", te.Value)}
			}
			return &routePortError{field: f, msg: fmt.Sprintf("must be %s, not %s", kindWords(te.Type), te.Value)}
		}
		return &routePortError{msg: strings.TrimPrefix(err.Error(), "json: ")}
	}
	switch {
	case p.Port == nil:
		return &routePortError{msg: "an entry of route.ports that is a mapping needs a port"}
	case *p.Port == 0:
		return &routePortError{field: "port", msg: "must be a published port (1-65535), not 0"}
	case len(p.Ports) > 0:
		return &routePortError{field: "ports", msg: "route.ports cannot be nested: list the ports in the service's route.ports"}
	}
	r.Port, r.routeExt = *p.Port, p.routeExt
	return nil
}

// setting is one route setting and where it was given: a key path of the
// compose files, or a flag.
type setting struct {
	val  string
	path string // key path, "" for a flag
	flag string
}

func (lw *lowerer) settingPos(s setting, fallback ast.Pos) ast.Pos {
	if s.path != "" {
		return lw.pos(s.path)
	}
	return fallback
}

// routeSettings are the settings of one routed port, after every level
// (flags, top-level x-tycho, service, port) was applied.
type routeSettings struct {
	host, pathPrefix, strip, class, gateway, tlsSecret, tlsIssuer, from setting
	annotations                                                         []ast.KV
}

// apply overlays the settings of one x-tycho.route level (path is its key
// path).
func (rs *routeSettings) apply(e *routeExt, path string, lw *lowerer) {
	set := func(dst *setting, v, key string) {
		if v != "" {
			*dst = setting{val: v, path: path + "." + key}
		}
	}
	set(&rs.host, e.Host, "host")
	set(&rs.pathPrefix, e.PathPrefix, "pathPrefix")
	if e.StripPrefix != nil {
		rs.strip = setting{val: strconv.FormatBool(*e.StripPrefix), path: path + ".stripPrefix"}
	}
	set(&rs.class, e.Class, "class")
	set(&rs.gateway, e.Gateway, "gateway")
	set(&rs.tlsSecret, e.TLSSecret, "tlsSecret")
	set(&rs.tlsIssuer, e.TLSIssuer, "tlsIssuer")
	set(&rs.from, e.From, "from")
	if len(e.Annotations) > 0 {
		rs.annotations = kvs(e.Annotations, lw.m, path+".annotations")
	}
}

// flags overlays the command line's settings.
func (rs *routeSettings) flags(o RouteOptions) {
	set := func(dst *setting, v, flag string) {
		if v != "" {
			*dst = setting{val: v, flag: flag}
		}
	}
	set(&rs.host, o.Host, cmp.Or(o.HostFrom, "--host"))
	set(&rs.pathPrefix, o.PathPrefix, cmp.Or(o.PathPrefixFrom, "--path-prefix"))
	if o.StripPrefix != nil {
		rs.strip = setting{val: strconv.FormatBool(*o.StripPrefix), flag: "--strip-prefix"}
	}
	set(&rs.class, o.Class, "--ingress-class")
	set(&rs.gateway, o.Gateway, "--gateway")
	set(&rs.tlsSecret, o.TLSSecret, "--tls-secret")
	set(&rs.tlsIssuer, o.TLSIssuer, "--tls-issuer")
	set(&rs.from, o.From, "--route-from")
}

// systemRoute reads the top-level x-tycho.route under the flags: the
// command line wins over the file, as for expose.
func (lw *lowerer) systemRoute(ext *routeExt) {
	var rs routeSettings
	if ext != nil {
		if len(ext.Ports) > 0 {
			lw.diags.Errorf("x-tycho", lw.pos("x-tycho.route.ports"), "x-tycho.route.ports", "route ports are a service's: list them in services.<name>.x-tycho.route.ports")
		}
		rs.apply(ext, "x-tycho.route", lw)
	}
	rs.flags(lw.opts.Route)
	lw.route = rs
}

// routePorts decides which published ports of svc are routed and where:
// svc.Expose must be ingress or gateway. ext is the service's
// x-tycho.route (nil for none).
func (lw *lowerer) routePorts(svc *ast.Service, ext *routeExt, path string) {
	if !svc.Expose.Routed() {
		if ext != nil {
			lw.diags.Warnf("route-unused", lw.pos(path), path, "x-tycho.route is not used: %s's published ports are not routed (expose is %s)", svc.Name, exposeWord(svc.Expose)).
				Note("set x-tycho.expose or --expose to ingress or gateway")
		}
		return
	}
	base := lw.route
	listed := map[uint16]int{} // published port → index in ext.Ports
	if ext != nil {
		base.apply(ext, path, lw)
		for i, rp := range ext.Ports {
			pp := path + ".ports." + strconv.Itoa(i)
			if rp.err != nil {
				at := pp
				if rp.err.field != "" {
					at += "." + rp.err.field
				}
				lw.diags.Errorf("x-tycho", lw.pos(at), at, "invalid x-tycho: %s", rp.err.msg)
				continue
			}
			if prev, dup := listed[rp.Port]; dup {
				lw.diags.Errorf("x-tycho", lw.pos(pp), pp, "port %d is listed twice (also at ports.%d)", rp.Port, prev)
				continue
			}
			listed[rp.Port] = i
			if !slices.ContainsFunc(svc.Ports, func(p ast.Port) bool { return p.Published == rp.Port && p.Protocol == ast.TCP }) {
				lw.diags.Errorf("x-tycho", lw.pos(pp), pp, "port %d is not a published TCP port of %s", rp.Port, svc.Name).
					Note("x-tycho.route.ports lists published ports (the left side of HOST:CONTAINER)")
			}
		}
	}
	type routed struct {
		p  *ast.Port
		rs routeSettings
	}
	var ports []routed
	seen := map[uint16]bool{}
	for i := range svc.Ports {
		p := &svc.Ports[i]
		if p.Published == 0 || seen[p.Published] && p.Protocol == ast.TCP {
			continue
		}
		var rs routeSettings
		idx, isListed := listed[p.Published]
		switch {
		case ext != nil && len(ext.Ports) > 0:
			if !isListed || p.Protocol != ast.TCP {
				lw.notRouted(svc, p, "x-tycho.route.ports does not list it")
				continue
			}
			rs = base
			pp := path + ".ports." + strconv.Itoa(idx)
			rs.apply(&ext.Ports[idx].routeExt, pp, lw)
		default:
			if why := notHTTP(p); why != "" {
				lw.notRouted(svc, p, why)
				continue
			}
			rs = base
		}
		seen[p.Published] = true
		ports = append(ports, routed{p, rs})
	}
	for _, r := range ports {
		r.p.Route = lw.makeRoute(svc, r.p, r.rs, len(ports) > 1)
	}
}

// notHTTP says why a published port is not taken to speak HTTP ("" when
// it is).
func notHTTP(p *ast.Port) string {
	if p.Protocol != ast.TCP {
		return "it is " + strings.ToUpper(string(p.Protocol))
	}
	if p.AppProtocol != "" {
		if slices.Contains(httpAppProtocols, strings.ToLower(p.AppProtocol)) {
			return ""
		}
		return fmt.Sprintf("its app_protocol is %s, not http", p.AppProtocol)
	}
	if slices.Contains(webPorts, p.Target) {
		return ""
	}
	return fmt.Sprintf("container port %d is not a web port and no app_protocol: http says it speaks HTTP", p.Target)
}

func (lw *lowerer) notRouted(svc *ast.Service, p *ast.Port, why string) {
	lw.diags.Warnf("not-routed", p.Pos, "services."+svc.Name+".ports", "port %d of %s is not routed (%s): it is reached through a LoadBalancer Service", p.Published, svc.Name, why).
		Note("if it speaks HTTP, set app_protocol: http or list it in x-tycho.route.ports; x-tycho.expose: nodeport or clusterip on the service chooses another Service")
}

func exposeWord(m ast.ExposeMode) string {
	if m == ast.ExposeDefault {
		return "loadbalancer"
	}
	return string(m)
}

// makeRoute expands and checks the settings of one routed port; several
// says the service has other routed ports.
func (lw *lowerer) makeRoute(svc *ast.Service, p *ast.Port, rs routeSettings, several bool) *ast.Route {
	r := &ast.Route{Pos: p.Pos, Annotations: rs.annotations}
	vars := map[string]string{"system": lw.l.Project.Name, "service": hostLabel(svc.Name), "port": strconv.Itoa(int(p.Published)), "guid": lw.opts.guid}
	// a route with an error is left out of the collision check, whose
	// message would only repeat it
	bad := false
	fail := func(s setting, code, format string, args ...any) {
		bad = true
		d := lw.diags.Errorf(code, lw.settingPos(s, p.Pos), s.path, format, args...)
		if s.flag != "" {
			d.Path = "services." + svc.Name + ".ports"
			d.Note("%s gives it, for port %d of %s", s.flag, p.Published, svc.Name)
		}
	}
	if rs.host.val != "" {
		h, err := expand(rs.host.val, vars)
		switch {
		case err != nil:
			fail(rs.host, "route-host", "host %q: %v", rs.host.val, err)
		default:
			if why := badRouteHost(h); why != "" {
				fail(rs.host, "route-host", "host %q is not a valid host name: %s", h, why)
			}
			r.Host = h
		}
	}
	prefix := rs.pathPrefix
	if prefix.val == "" {
		prefix.val = "/"
		if rs.host.val == "" {
			prefix.val = DefaultPathPrefix
		}
		if several && !strings.Contains(rs.host.val, "{port}") {
			// each routed port of the service at a path of its own, as
			// the same host and path cannot route to two ports
			prefix.val += "{port}/"
		}
	}
	if pfx, err := expand(prefix.val, vars); err != nil {
		fail(prefix, "route-path", "path prefix %q: %v", prefix.val, err)
	} else {
		pfx = slashed(pfx)
		if why := badPathPrefix(pfx); why != "" {
			fail(prefix, "route-path", "path prefix %q %s", pfx, why)
		}
		r.PathPrefix = pfx
	}
	if rs.strip.val != "" {
		r.StripPrefix = rs.strip.val == "true"
	}
	if r.StripPrefix && svc.Expose == ast.ExposeIngress && r.PathPrefix != "/" {
		lw.diags.Warnf("route-strip-ingress", lw.settingPos(rs.strip, p.Pos), "services."+svc.Name+".ports", "an Ingress cannot strip the path prefix %s: port %d of %s gets the whole path", r.PathPrefix, p.Published, svc.Name).
			Note("the Ingress API has no rewrite; set your controller's (e.g. a Traefik StripPrefix middleware: x-tycho.route.annotations traefik.ingress.kubernetes.io/router.middlewares), or use --expose gateway, whose HTTPRoute strips it").
			Note("see docs/routing.md")
	}
	r.Class = rs.class.val
	if rs.class.val != "" && badLabel(rs.class.val) != "" {
		fail(rs.class, "route-class", "ingress class %q is not a valid name: %s", rs.class.val, badLabel(rs.class.val))
	}
	if svc.Expose == ast.ExposeGateway {
		if rs.gateway.val == "" {
			bad = true
			lw.diags.Errorf("route-gateway", p.Pos, "services."+svc.Name+".ports", "port %d of %s is routed by a Gateway API route, which needs a gateway", p.Published, svc.Name).
				Note("give it with --gateway NAMESPACE/NAME or x-tycho.route.gateway")
		} else if g, err := ParseGateway(rs.gateway.val); err != nil {
			fail(rs.gateway, "route-gateway", "gateway %q: %v", rs.gateway.val, err)
		} else {
			r.Gateway = g
		}
	}
	if s := rs.tlsSecret.val; s != "" {
		if why := badHost(s); why != "" {
			fail(rs.tlsSecret, "route-tls", "TLS secret %q is not a valid name: %s", s, why)
		}
		r.TLS.Secret = s
	}
	if s := rs.tlsIssuer.val; s != "" {
		kind, name, err := ParseIssuer(s)
		if err != nil {
			fail(rs.tlsIssuer, "route-tls", "TLS issuer %q: %v", s, err)
		}
		r.TLS.Issuer, r.TLS.IssuerKind = name, kind
		if r.Host == "" && err == nil {
			fail(rs.tlsIssuer, "route-tls", "a certificate from issuer %q needs a host name: port %d of %s is routed by path only", name, p.Published, svc.Name)
		}
	}
	if r.TLS.Enabled() && svc.Expose == ast.ExposeGateway {
		at := rs.tlsSecret
		if at.val == "" {
			at = rs.tlsIssuer
		}
		lw.diags.Warnf("route-tls-gateway", lw.settingPos(at, p.Pos), "services."+svc.Name+".ports", "a Gateway API route holds no certificate: the gateway's listener terminates TLS, so the TLS setting of port %d of %s only makes its URL https", p.Published, svc.Name).
			Note("put the certificate on the gateway's HTTPS listener (cert-manager annotates Gateways, not routes)")
	}
	if rs.from.val != "" {
		sel, err := ParsePodSelector(rs.from.val)
		if err != nil {
			fail(rs.from, "route-from", "router pods %q: %v", rs.from.val, err)
		}
		r.From = sel
	}
	if !bad {
		lw.routes = append(lw.routes, routeUse{route: r, svc: svc.Name, port: p.Published})
	}
	return r
}

// routeUse is a route made, for the collision check.
type routeUse struct {
	route *ast.Route
	svc   string
	port  uint16
}

// checkRoutes reports two routes that one host and path reach.
func (lw *lowerer) checkRoutes() {
	type key struct{ host, path string }
	first := map[key]routeUse{}
	for _, u := range lw.routes {
		k := key{u.route.Host, u.route.PathPrefix}
		if prev, ok := first[k]; ok {
			lw.diags.Errorf("route-collision", u.route.Pos, "services."+u.svc+".ports", "port %d of %s and port %d of %s are both routed at %s", prev.port, prev.svc, u.port, u.svc, u.route.URL()).
				Note("put {service} and {port} in --host or --path-prefix, or give one of them its own in x-tycho.route")
			continue
		}
		first[k] = u
	}
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// expand replaces {system}, {service}, {port} and {guid} in template.
func expand(template string, vars map[string]string) (string, error) {
	var err error
	out := placeholder.ReplaceAllStringFunc(template, func(ph string) string {
		name := ph[1 : len(ph)-1]
		v, ok := vars[name]
		switch {
		case !ok:
			if err == nil {
				err = fmt.Errorf("unknown placeholder %s: use {system}, {service}, {port} or {guid}", ph)
			}
		case v == "" && name == "guid":
			if err == nil {
				err = fmt.Errorf("{guid} needs the system's GUID (compile with --guid; up and the API assign one)")
			}
		}
		return v
	})
	if err == nil && strings.ContainsAny(out, "{}") {
		err = fmt.Errorf("unbalanced braces")
	}
	return out, err
}

// sampleVars are short values of the placeholders, to check a template
// before any system is known.
var sampleVars = map[string]string{"system": "s", "service": "s", "port": "1", "guid": "g"}

// CheckHost reports a host template that routes no port: an unknown
// placeholder, unbalanced braces, or a text that is no host name with
// any value of the placeholders. Only names made too long by the values
// are left to the compile. The command line and the API refuse it at once.
func CheckHost(template string) error {
	if template == "" {
		return nil
	}
	h, err := expand(template, sampleVars)
	if err != nil {
		return err
	}
	if why := badRouteHost(h); why != "" {
		return fmt.Errorf("%q is not a valid host name: %s", template, why)
	}
	return nil
}

// CheckPathPrefix is CheckHost for a path prefix template.
func CheckPathPrefix(template string) error {
	if template == "" {
		return nil
	}
	p, err := expand(template, sampleVars)
	if err != nil {
		return err
	}
	if why := badPathPrefix(slashed(p)); why != "" {
		return fmt.Errorf("path prefix %q %s", template, why)
	}
	return nil
}

// hostLabel is a compose name made a DNS label: lower case, and every
// character other than a letter, digit or '-' a '-'.
func hostLabel(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	return strings.Trim(string(b), "-")
}

var (
	dnsLabel        = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	validPathPrefix = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)*$`)
)

// badHost says why h is not a DNS-1123 subdomain ("" when it is).
func badHost(h string) string {
	if len(h) > 253 {
		return "longer than 253 characters"
	}
	for _, l := range strings.Split(h, ".") {
		if why := badLabel(l); why != "" {
			return why
		}
	}
	return ""
}

// slashed makes p start and end with "/".
func slashed(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// maxPathPrefix is the longest path an HTTPRoute matches (its CRD's
// maxLength).
const maxPathPrefix = 1024

// badPathPrefix says why the expanded path prefix p (which starts and ends
// with "/") cannot be routed ("" when it can).
func badPathPrefix(p string) string {
	switch {
	case len(p) > maxPathPrefix:
		return fmt.Sprintf("is longer than %d characters", maxPathPrefix)
	case !validPathPrefix.MatchString(p):
		return "is not a path of segments of letters, digits and -._~"
	}
	return ""
}

// badRouteHost says why h cannot be the host of an Ingress rule or an
// HTTPRoute ("" when it can): a DNS-1123 subdomain, not an IP address.
func badRouteHost(h string) string {
	if net.ParseIP(h) != nil {
		return "an IP address: Ingress and HTTPRoute match host names only (leave the host out to match any)"
	}
	return badHost(h)
}

// badLabel says why l is not a DNS-1123 label ("" when it is).
func badLabel(l string) string {
	switch {
	case l == "":
		return "an empty label"
	case len(l) > 63:
		return fmt.Sprintf("label %q is longer than 63 characters", l)
	case !dnsLabel.MatchString(l):
		return fmt.Sprintf("label %q must be lower-case letters, digits and '-', starting and ending with a letter or digit", l)
	}
	return ""
}

// ParseGateway reads "[NAMESPACE/]NAME".
func ParseGateway(s string) (ast.GatewayRef, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		ns, name = "", s
	}
	if ok {
		if why := badLabel(ns); why != "" {
			return ast.GatewayRef{}, fmt.Errorf("namespace: %s", why)
		}
	}
	if why := badHost(name); why != "" {
		return ast.GatewayRef{}, fmt.Errorf("name: %s (write NAMESPACE/NAME)", why)
	}
	return ast.GatewayRef{Namespace: ns, Name: name}, nil
}

// ParseIssuer reads "[Issuer/|ClusterIssuer/]NAME": a bare name is a
// ClusterIssuer, which every namespace can use.
func ParseIssuer(s string) (kind, name string, err error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok {
		kind, name = "ClusterIssuer", s
	}
	if kind != "Issuer" && kind != "ClusterIssuer" {
		return "", "", fmt.Errorf("the kind must be Issuer or ClusterIssuer, not %q", kind)
	}
	if why := badHost(name); why != "" {
		return "", "", fmt.Errorf("name: %s", why)
	}
	return kind, name, nil
}

var (
	labelKey   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// ParsePodSelector reads the router's pods: comma-separated
// "namespace=NAME" (the namespace called NAME), "namespace-label=KEY=VALUE"
// and "pod=KEY=VALUE" (pod labels), each repeatable; "any" alone selects
// every pod of the cluster.
func ParsePodSelector(s string) (*ast.PodSelector, error) {
	sel := &ast.PodSelector{}
	if strings.TrimSpace(s) == "any" {
		return sel, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: write namespace=NAME, namespace-label=KEY=VALUE or pod=KEY=VALUE", item)
		}
		var kv ast.KV
		switch k {
		case "namespace":
			if why := badLabel(v); why != "" {
				return nil, fmt.Errorf("namespace %q: %s", v, why)
			}
			kv = ast.KV{Key: "kubernetes.io/metadata.name", Value: v}
		case "namespace-label", "pod":
			lk, lv, ok := strings.Cut(v, "=")
			if !ok {
				return nil, fmt.Errorf("%q: %s needs KEY=VALUE", item, k)
			}
			if !labelKey.MatchString(lk) || len(lk) > 316 {
				return nil, fmt.Errorf("%q: %q is not a valid label key", item, lk)
			}
			if !labelValue.MatchString(lv) {
				return nil, fmt.Errorf("%q: %q is not a valid label value", item, lv)
			}
			kv = ast.KV{Key: lk, Value: lv}
		default:
			return nil, fmt.Errorf("%q: unknown selector %q (namespace, namespace-label or pod)", item, k)
		}
		list := &sel.PodLabels
		if k != "pod" {
			list = &sel.NamespaceLabels
		}
		if i := slices.IndexFunc(*list, func(o ast.KV) bool { return o.Key == kv.Key }); i >= 0 {
			if (*list)[i].Value != kv.Value {
				return nil, fmt.Errorf("%q: label %s is given twice", item, kv.Key)
			}
			continue
		}
		*list = append(*list, kv)
	}
	slices.SortFunc(sel.NamespaceLabels, func(a, b ast.KV) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(sel.PodLabels, func(a, b ast.KV) int { return strings.Compare(a.Key, b.Key) })
	return sel, nil
}
