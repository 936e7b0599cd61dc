package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/policy"
)

// CompileOptions are the server's compile settings; callers cannot change
// them.
type CompileOptions struct {
	// Expose is how published ports are reached: loadbalancer (the
	// default), nodeport or clusterip.
	Expose ast.ExposeMode
	// Security is the most a system may need, a ceiling no request can
	// raise: restricted, baseline (the default) or privileged. A system
	// that needs more is refused; its namespace enforces the least level
	// it meets.
	Security string
	// NetworkPolicy is default, strict or none ("" is default).
	NetworkPolicy string
	// VolumeSize is the default size of a volume in bytes (0: 1Gi).
	VolumeSize int64
	// StorageClass of volumes; "" is the cluster's default.
	StorageClass string
	// Registry prefixes images that compose would build.
	Registry string
	// Route are the settings of routed ports (Expose ingress or gateway,
	// or a request that asks for a route).
	Route compiler.RouteOptions
}

// routeMode is the way a request that asks for a route is routed: the
// server's expose when it routes, else a Gateway when the server names
// one, else an Ingress.
func (o CompileOptions) routeMode() ast.ExposeMode {
	switch {
	case o.Expose.Routed():
		return o.Expose
	case o.Route.Gateway != "":
		return ast.ExposeGateway
	}
	return ast.ExposeIngress
}

// requestRoute applies the request's route to the server's settings.
func (o CompileOptions) requestRoute(r *api.RouteRequest) (ast.ExposeMode, compiler.RouteOptions, error) {
	expose, route := o.Expose, o.Route
	switch {
	case r == nil:
		return expose, route, nil
	case r.Off:
		if expose.Routed() {
			expose = ast.ExposeLoadBalancer
		}
		return expose, route, nil
	}
	if err := compiler.CheckHost(r.Host); err != nil {
		return expose, route, fieldErrorf("route.host", "%v", err)
	}
	if err := compiler.CheckPathPrefix(r.PathPrefix); err != nil {
		return expose, route, fieldErrorf("route.path_prefix", "%v", err)
	}
	if r.Host != "" || r.PathPrefix != "" {
		// the request's place replaces the server's; a diagnostic of a
		// service names the request's field, not the server's flag
		route.Host, route.PathPrefix = r.Host, r.PathPrefix
		route.HostFrom, route.PathPrefixFrom = "route.host", "route.path_prefix"
	}
	if r.StripPrefix != nil {
		route.StripPrefix = r.StripPrefix
	}
	return o.routeMode(), route, nil
}

// noFiles is the working directory of compiles, a directory the server
// does not have. Nothing is read from it: bind mounts become volumes, the
// keys that read files are refused, and paths are kept as written
// (compiler.LoadOptions.KeepPaths), so that no diagnostic shows the
// server's own directories (its home for ~).
const noFiles = "/system"

// fieldError is a request field at fault: the API answers it 400.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

func fieldErrorf(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// compiled is a start request made into objects.
type compiled struct {
	name      string
	namespace string
	security  string
	objects   []kubernetes.Object
	diags     diag.List
	// system is what was compiled (nil when it did not load)
	system *ast.System
}

// compileStart compiles the system of req with GUID guid. A request at
// fault is a *fieldError; a compose document that does not compile has
// errors in diags and no objects.
func (s *Server) compileStart(ctx context.Context, req *api.StartRequest, guid string) (*compiled, error) {
	src, doc, ferr := composeSource(req.System)
	if ferr != nil {
		return nil, ferr
	}
	if _, err := principalUser(req.Principal); err != nil {
		return nil, err
	}
	if doc == nil {
		// YAML that does not parse: the compiler reports where
		return s.compile(ctx, req, guid, []compiler.Source{src}, "")
	}
	if err := refuseFiles(doc); err != nil {
		return nil, err
	}
	overlay, err := requestOverlay(req, doc)
	if err != nil {
		return nil, err
	}
	sources := []compiler.Source{src}
	if overlay != nil {
		sources = append(sources, compiler.Source{Name: api.SourceRequest, Content: overlay})
	}
	// the namespace is named after the system, whose name the first
	// compile normalises
	first, err := s.compile(ctx, req, guid, sources, "")
	if err != nil || first.diags.HasErrors() {
		return first, err
	}
	if over := s.opts.Resources.check(first.system); len(over) > 0 {
		// the operator's limits, with the compiler's diagnostics
		first.diags = append(first.diags, over...)
		first.diags.Sort()
		first.objects = nil
		return first, nil
	}
	return s.compile(ctx, req, guid, sources, executor.NamespaceFor(first.name, guid))
}

func (s *Server) compile(ctx context.Context, req *api.StartRequest, guid string, sources []compiler.Source, ns string) (*compiled, error) {
	o := s.opts.Compile
	env := map[string]string{}
	for k, v := range req.Env {
		env[k] = v
	}
	// checked by compileStart; a label of Tycho's own, which no compose
	// file can set
	user, _ := principalUser(req.Principal)
	expose, route, err := o.requestRoute(req.Route)
	if err != nil {
		return nil, err
	}
	res, err := compiler.Compile(ctx, compiler.Options{
		Load: compiler.LoadOptions{
			Sources:     sources,
			WorkDir:     noFiles,
			Env:         env,
			ProjectName: projectName(req.Name),
			SkipDotEnv:  true,
			// nothing is read, and ~ would be the server's home
			KeepPaths: true,
		},
		Lower: compiler.LowerOptions{
			Registry:     o.Registry,
			Bind:         compiler.BindVolume,
			VolumeSize:   o.VolumeSize,
			StorageClass: o.StorageClass,
			Expose:       expose,
			Route:        route,
			// an API user cannot create Secrets in the namespace the
			// server makes: a value the request lacks is an error
			RequireValues: true,
		},
		Policy:    policy.Options{Network: o.NetworkPolicy, Security: o.Security, SecurityCeiling: true},
		Backend:   kubernetes.Options{WaitImage: kubernetes.DefaultWaitImage, KubectlImage: kubernetes.DefaultKubectlImage},
		GUID:      guid,
		User:      user,
		Namespace: ns,
	})
	if err != nil {
		return nil, fmt.Errorf("compiling: %w", err)
	}
	c := &compiled{namespace: ns, objects: res.Objects, diags: res.Diags, system: res.System}
	if res.System != nil {
		c.name = res.System.Name
		c.security = res.System.Policy.SecurityLevel
	}
	if !res.Diags.HasErrors() && c.name == "" {
		return nil, fmt.Errorf("compiling: the system has no name")
	}
	if !res.Diags.HasErrors() && !policy.LevelAllows(o.Security, c.security) {
		// the weaver holds the ceiling; this is the last guard
		return nil, fmt.Errorf("compiling: the system needs Pod Security level %q, above the ceiling %q", c.security, o.Security)
	}
	return c, nil
}

// projectName makes a request's name a compose project name: lower case,
// with '.' (which compose refuses) as '-'.
func projectName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), ".", "-")
}

// composeSource makes the compose document of a request a compiler
// source, and decodes it for the checks of the server. A document sent as
// an object is indented, so that diagnostics have lines; one sent as YAML
// text is kept as it is. doc is nil for YAML that does not parse.
func composeSource(raw json.RawMessage) (compiler.Source, map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return compiler.Source{}, nil, fieldErrorf("system", "not a string: %v", err)
		}
		src := compiler.Source{Name: api.SourceYAML, Content: []byte(text)}
		if compiler.CheckLimits([]compiler.Source{src}).HasErrors() {
			// decoding would expand it: the compiler refuses it, positioned
			return src, nil, nil
		}
		var doc any
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			return src, nil, nil
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return compiler.Source{}, nil, fieldErrorf("system", "the YAML text is not a mapping (a compose file)")
		}
		return src, m, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return compiler.Source{}, nil, fieldErrorf("system", "must be an object (the compose document) or a string (its YAML text)")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return compiler.Source{}, nil, fieldErrorf("system", "%v", err)
	}
	buf.WriteByte('\n')
	return compiler.Source{Name: api.SourceJSON, Content: buf.Bytes()}, doc, nil
}

// refuseFiles refuses the compose keys that would read files of the
// server: a submitted system has none.
func refuseFiles(doc map[string]any) error {
	const why = "the API reads no files of the server"
	if _, ok := doc["include"]; ok {
		return fieldErrorf("system.include", "%s: merge the included files into the document", why)
	}
	for _, kind := range []string{"configs", "secrets"} {
		objs, _ := doc[kind].(map[string]any)
		for _, name := range sortedKeys(objs) {
			o, _ := objs[name].(map[string]any)
			if _, ok := o["file"]; ok {
				hint := "use content: instead"
				if kind == "secrets" {
					hint = "use environment: (a variable of env) instead"
				}
				return fieldErrorf("system."+kind+"."+name+".file", "%s: %s", why, hint)
			}
		}
	}
	svcs, _ := doc["services"].(map[string]any)
	for _, name := range sortedKeys(svcs) {
		svc, _ := svcs[name].(map[string]any)
		p := "system.services." + name
		if _, ok := svc["env_file"]; ok {
			return fieldErrorf(p+".env_file", "%s: put the variables in environment: instead", why)
		}
		if _, ok := svc["label_file"]; ok {
			return fieldErrorf(p+".label_file", "%s: put the labels in labels: instead", why)
		}
		if ext, ok := svc["extends"].(map[string]any); ok {
			if _, ok := ext["file"]; ok {
				return fieldErrorf(p+".extends.file", "%s: extend a service of the same document", why)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestOverlay is a compose document that adds the request's services
// metadata, principal and service account to the system, merged over it
// as an override file would be: clients become x-tycho.clients, the port
// of a service that publishes nothing is published (PORT:PORT). nil when
// there is nothing to add. (The principal's username is not in it: it
// labels the objects through compiler.Options.User, a label that no
// compose document may set.)
func requestOverlay(req *api.StartRequest, doc map[string]any) ([]byte, error) {
	svcs, _ := doc["services"].(map[string]any)
	services := map[string]any{}
	for _, name := range sortedServiceKeys(req.Services) {
		meta := req.Services[name]
		field := "services." + name
		svc, ok := svcs[name].(map[string]any)
		if !ok {
			return nil, fieldErrorf(field, "the system has no service %q", name)
		}
		add := map[string]any{}
		if meta.Port != 0 {
			if meta.Port < 1 || meta.Port > 65535 {
				return nil, fieldErrorf(field+".port", "port %d out of range 1-65535", meta.Port)
			}
			if _, published := svc["ports"]; !published {
				// published on the same port, as the original Tycho's
				// Service was
				p := strconv.Itoa(int(meta.Port))
				add["ports"] = []any{p + ":" + p}
			}
		}
		if len(meta.Clients) > 0 {
			clients := make([]any, len(meta.Clients))
			for i, c := range meta.Clients {
				n, ok := normaliseCIDR(c)
				if !ok {
					return nil, fieldErrorf(fmt.Sprintf("%s.clients.%d", field, i), "%q is not an IP address or CIDR", c)
				}
				clients[i] = n
			}
			add["x-tycho"] = map[string]any{"clients": clients}
		}
		if len(add) > 0 {
			services[name] = add
		}
	}
	if sa := req.ServiceAccount; sa != "" && sa != "default" {
		for _, name := range sortedKeys(svcs) {
			add, _ := services[name].(map[string]any)
			if add == nil {
				add = map[string]any{}
				services[name] = add
			}
			ext, _ := add["x-tycho"].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
				add["x-tycho"] = ext
			}
			ext["serviceAccount"] = sa
		}
	}
	overlay := map[string]any{}
	if len(services) > 0 {
		overlay["services"] = services
	}
	if len(overlay) == 0 {
		return nil, nil
	}
	b, err := json.MarshalIndent(overlay, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the request overlay: %w", err)
	}
	return b, nil
}

func sortedServiceKeys(m map[string]api.Service) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// normaliseCIDR makes an address or a network a CIDR, as the original
// Tycho did (127.0.0.1 → 127.0.0.1/32).
func normaliseCIDR(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String(), true
	}
	return "", false
}

// principalUser reads the username of a principal: a JSON object, or a
// string holding one (as the original clients sent it). The username
// must be a valid label value.
func principalUser(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fieldErrorf("principal", "%v", err)
		}
		if strings.TrimSpace(s) == "" {
			return "", nil
		}
		raw = []byte(s)
	}
	var p struct {
		Username string `json:"username"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fieldErrorf("principal", "not a JSON object with a username: %v", err)
	}
	if errs := validation.IsValidLabelValue(p.Username); p.Username != "" && len(errs) > 0 {
		return "", fieldErrorf("principal.username", "%q is not a valid label value: %s", p.Username, strings.Join(errs, "; "))
	}
	return p.Username, nil
}

// apiDiagnostics converts diagnostics for the wire.
func apiDiagnostics(l diag.List) []api.Diagnostic {
	out := make([]api.Diagnostic, len(l))
	for i, d := range l {
		out[i] = api.Diagnostic{Severity: d.Severity.String(), Code: d.Code, Path: d.Path,
			File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Message: d.Msg, Notes: d.Notes}
	}
	return out
}
