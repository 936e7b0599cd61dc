package compiler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/srcmap"
)

// BindMode says what a bind mount of a host path becomes.
type BindMode string

// Bind modes.
const (
	// BindCopy copies small existing files and directories into the system
	// (ConfigMaps); other bind mounts become scratch storage.
	BindCopy BindMode = "copy"
	// BindHostPath keeps bind mounts as paths on the node.
	BindHostPath BindMode = "hostpath"
	// BindVolume turns every bind mount into a volume of the system (the
	// API's default: a submitted system has no files on the server).
	BindVolume BindMode = "volume"
)

// LowerOptions are the compile flags that shape the AST.
type LowerOptions struct {
	// Registry prefixes the names of images that compose would build.
	Registry string
	Bind     BindMode
	// VolumeSize is the default size of a volume in bytes.
	VolumeSize   int64
	StorageClass string
	// Expose is the default way published ports are reached.
	Expose ast.ExposeMode
	// Route are the defaults of routed ports (Expose ingress or gateway).
	Route RouteOptions
	// Secrets says whether secret values are written to the output
	// ("" is SecretsInline).
	Secrets SecretsMode
	// RequireValues makes a secret or config whose environment variable
	// is unset an error (undefined-variable) instead of an object the
	// user provides: the API's users cannot create objects in the
	// namespace the API makes.
	RequireValues bool

	// guid is the system's GUID, for the {guid} of route templates.
	guid string

	// callerDir is where the user runs Tycho (LoadOptions.WorkDir), so
	// that the commands Tycho suggests name files from there; "" is the
	// project's directory.
	callerDir string
}

// SecretsMode says whether the values of secrets are written to the
// output.
type SecretsMode string

// Secrets modes.
const (
	// SecretsInline writes the value of each secret that Tycho has into a
	// Secret of the system; one whose variable is unset is referred to
	// (secret-reference warning).
	SecretsInline SecretsMode = "inline"
	// SecretsReference writes no secret value, whatever its source: the
	// workloads refer to Secrets the user creates (secret-reference
	// infos list them). Configs are not secrets and stay inline.
	SecretsReference SecretsMode = "reference"
)

// maxCopyBytes bounds what a bind mount may hold to be copied into the
// system: a ConfigMap holds at most 1 MiB.
const maxCopyBytes = 1 << 20

// DefaultVolumeSize is the size of a volume when nothing says otherwise.
const DefaultVolumeSize = 1 << 30

type lowerer struct {
	l     *Loaded
	opts  LowerOptions
	m     *srcmap.Map
	diags diag.List
	sys   *ast.System
	// content names already used for bind-mounted files, for uniqueness
	contentNames map[string]bool
	// names of the system's volumes so far (the list is sorted only at
	// the end)
	volumeNames  map[string]bool
	pendingLinks []pendingLink
	// route are the system-wide route settings; routes the routes made
	route  routeSettings
	routes []routeUse
}

// Lower turns a loaded compose project into an ast.System.
func Lower(l *Loaded, opts LowerOptions) (*ast.System, diag.List) {
	if opts.VolumeSize == 0 {
		opts.VolumeSize = DefaultVolumeSize
	}
	if opts.Bind == "" {
		opts.Bind = BindCopy
	}
	lw := &lowerer{l: l, opts: opts, m: l.Map, contentNames: map[string]bool{}, volumeNames: make(map[string]bool, len(l.Project.Volumes))}
	p := l.Project
	lw.sys = &ast.System{Name: p.Name, Pos: lw.m.Lookup("name")}
	lw.topLevel()
	if len(p.Volumes) > 0 {
		lw.sys.Volumes = make([]*ast.Volume, 0, len(p.Volumes))
	}
	for _, name := range sortedKeys(p.Volumes) {
		lw.sys.Volumes = append(lw.sys.Volumes, lw.volume(name, p.Volumes[name]))
		lw.volumeNames[name] = true
	}
	for _, name := range sortedKeys(p.Networks) {
		n := p.Networks[name]
		path := "networks." + name
		lw.sys.Networks = append(lw.sys.Networks, &ast.Network{Name: name, Pos: lw.m.Lookup(path), Internal: n.Internal, External: bool(n.External)})
		lw.unsupportedFields(path, &n, networkKeys)
		switch {
		case bool(n.External):
			lw.diags.Warnf("external-network", lw.pos(path), path, "external network %q cannot be shared with other systems: it becomes a network of this system, which only its services reach", name).
				Note("reach services of another system by their Service DNS names; x-tycho egress opens the way out")
		case lw.m.Has(path + ".name"):
			lw.diags.Infof("network-name", lw.pos(path+".name"), path+".name", "the network's name %q is ignored: pods do not see network names", n.Name)
		}
		if n.Driver != "" && n.Driver != "bridge" && n.Driver != "overlay" {
			lw.diags.Warnf("unsupported-key", lw.pos(path+".driver"), path+".driver", "network driver %q is ignored: pods share the cluster network, limited by NetworkPolicies", n.Driver)
		}
	}
	for _, name := range sortedKeys(p.Secrets) {
		lw.sys.Secrets = append(lw.sys.Secrets, lw.secret(name, types.FileObjectConfig(p.Secrets[name])))
	}
	for _, name := range sortedKeys(p.Configs) {
		lw.sys.Configs = append(lw.sys.Configs, lw.config(name, types.FileObjectConfig(p.Configs[name])))
	}
	if len(p.Services) > 0 {
		lw.sys.Services = make([]*ast.Service, 0, len(p.Services))
	}
	for _, name := range sortedKeys(p.Services) {
		sc := p.Services[name]
		if s := lw.service(&sc); s != nil {
			lw.sys.Services = append(lw.sys.Services, s)
		}
	}
	for _, pl := range lw.pendingLinks {
		if t := lw.sys.Service(pl.target); t != nil && pl.alias.Name != t.Name {
			t.Aliases = append(t.Aliases, pl.alias)
		}
	}
	if len(p.Services) == 0 {
		pos := lw.m.Lookup("services")
		if pos.Line == 0 {
			pos.Line, pos.Col = 1, 1 // no services key: the file's start
		}
		d := lw.diags.Warnf("no-services", pos, "services", "the system has no services")
		if len(p.DisabledServices) > 0 {
			d.Note("all services are in profiles that are not enabled: use --profile")
		}
	}
	if len(p.Models) > 0 {
		lw.diags.Warnf("unsupported-key", lw.m.Lookup("models"), "models", "models are not supported and are ignored")
	}
	if len(p.Jobs) > 0 {
		lw.diags.Warnf("unsupported-key", lw.m.Lookup("jobs"), "jobs", "jobs are not supported and are ignored")
	}
	// bind mounts made volumes of their own: keep the list sorted
	slices.SortFunc(lw.sys.Volumes, func(a, b *ast.Volume) int { return strings.Compare(a.Name, b.Name) })
	lw.shared()
	lw.checkRoutes()
	return lw.sys, lw.diags
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (lw *lowerer) pos(path string) ast.Pos { return lw.m.Lookup(path) }

// systemExt is the top-level x-tycho extension.
type systemExt struct {
	Expose      string            `json:"expose"`
	Route       *routeExt         `json:"route"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// serviceExt is a service's x-tycho extension.
type serviceExt struct {
	Expose         string       `json:"expose"`
	Route          *routeExt    `json:"route"`
	Clients        []string     `json:"clients"`
	Egress         []egressRule `json:"egress"`
	Liveness       bool         `json:"liveness"`
	ServiceAccount string       `json:"serviceAccount"`
}

type egressRule struct {
	CIDR  string   `json:"cidr"`
	Ports []string `json:"ports"`
}

// volumeExt is a volume's x-tycho extension.
type volumeExt struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
	AccessMode   string `json:"accessMode"`
	Populate     bool   `json:"populate"`
}

// hasExt reports whether exts has an x-tycho extension for decodeExt.
func hasExt(exts types.Extensions) bool {
	return exts["x-tycho"] != nil
}

// misspeltExt reports an extension key that looks like x-tycho but is
// not: compose ignores every x- key, so a typo would drop the settings
// silently.
func (lw *lowerer) misspeltExt(exts types.Extensions, path string) {
	for k := range exts {
		if k != "x-tycho" && editDistance(strings.ToLower(k), "x-tycho") <= 1 {
			kp := k
			if path != "" {
				kp = path + "." + k
			}
			lw.diags.Warnf("x-tycho", lw.pos(kp), kp, "%s is not x-tycho: compose ignores it, and so does Tycho", k).Note("write x-tycho")
		}
	}
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decodeExt reads the x-tycho extension of exts into v, reporting unknown
// fields and wrong types at path.
func (lw *lowerer) decodeExt(exts types.Extensions, path string, v any) bool {
	raw, ok := exts["x-tycho"]
	if !ok || raw == nil {
		return false
	}
	if path == "" {
		path = "x-tycho"
	} else {
		path += ".x-tycho"
	}
	b, err := json.Marshal(raw)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		at, msg := path, err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field != "" {
				at = path + "." + te.Field
			}
			msg = fmt.Sprintf("must be %s, not %s", kindWords(te.Type), te.Value)
		} else if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			msg = "unknown field " + f
		}
		lw.diags.Errorf("x-tycho", lw.pos(at), at, "invalid x-tycho: %s", msg).Note("see docs/mapping.md for the x-tycho fields")
		return false
	}
	return true
}

// kindWords names what a value of type t is, in a compose file's words.
func kindWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another kind of value"
}

func (lw *lowerer) exposeMode(s, path string) ast.ExposeMode {
	switch m := ast.ExposeMode(strings.ToLower(s)); m {
	case ast.ExposeLoadBalancer, ast.ExposeNodePort, ast.ExposeClusterIP, ast.ExposeIngress, ast.ExposeGateway:
		return m
	case "":
		return ast.ExposeDefault
	}
	lw.diags.Errorf("x-tycho", lw.pos(path), path, "expose must be loadbalancer, nodeport, clusterip, ingress or gateway, not %q", s)
	return ast.ExposeDefault
}

func (lw *lowerer) topLevel() {
	lw.misspeltExt(lw.l.Project.Extensions, "")
	var ext systemExt
	var route *routeExt
	if lw.decodeExt(lw.l.Project.Extensions, "", &ext) {
		if ext.Expose != "" && lw.opts.Expose == ast.ExposeDefault {
			// the command line wins over the file
			lw.opts.Expose = lw.exposeMode(ext.Expose, "x-tycho.expose")
		}
		lw.sys.Labels = kvs(ext.Labels, lw.m, "x-tycho.labels")
		lw.sys.Annotations = kvs(ext.Annotations, lw.m, "x-tycho.annotations")
		route = ext.Route
	}
	lw.systemRoute(route)
}

func kvs(m map[string]string, sm *srcmap.Map, path string) []ast.KV {
	out := make([]ast.KV, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, ast.KV{Key: k, Value: m[k], Pos: sm.Lookup(path + "." + k)})
	}
	return out
}

func (lw *lowerer) volume(name string, v types.VolumeConfig) *ast.Volume {
	path := "volumes." + name
	vol := &ast.Volume{Name: name, Pos: lw.pos(path), External: bool(v.External), Size: lw.opts.VolumeSize, StorageClass: lw.opts.StorageClass}
	if vol.External {
		vol.ExternalName = v.Name
		if vol.ExternalName == "" {
			vol.ExternalName = name
		}
	}
	lw.volumeExt(vol, v.Extensions, path)
	if !vol.External && lw.m.Has(path+".name") {
		lw.diags.Warnf("volume-name", lw.pos(path+".name"), path+".name", "the volume's name %q is ignored: its claim is named %q in the system's namespace, so other systems cannot share it", v.Name, name).
			Note("to use a claim made outside the system, declare the volume external: true")
	}
	if v.Driver != "" && v.Driver != "local" {
		lw.diags.Warnf("unsupported-key", lw.pos(path+".driver"), path+".driver", "volume driver %q is ignored: the volume becomes a PersistentVolumeClaim of the cluster's storage", v.Driver).Note("choose the storage with x-tycho.storageClass")
	}
	if len(v.DriverOpts) > 0 {
		lw.diags.Warnf("unsupported-key", lw.pos(path+".driver_opts"), path+".driver_opts", "driver_opts are ignored: the volume becomes a PersistentVolumeClaim").Note("choose the storage with x-tycho.storageClass and x-tycho.size")
	}
	if len(v.Labels) > 0 {
		lw.diags.Warnf("volume-labels", lw.pos(path+".labels"), path+".labels", "volume labels are ignored")
	}
	return vol
}

// volumeExt applies the volume's x-tycho extension, if any.
func (lw *lowerer) volumeExt(vol *ast.Volume, exts types.Extensions, path string) {
	lw.misspeltExt(exts, path)
	if !hasExt(exts) {
		return // before ext is made: decoding moves it to the heap
	}
	var ext volumeExt
	if !lw.decodeExt(exts, path, &ext) {
		return
	}
	if ext.Size != "" {
		n, err := parseBytes(ext.Size)
		if err != nil || n <= 0 {
			lw.diags.Errorf("x-tycho", lw.pos(path+".x-tycho.size"), path+".x-tycho.size", "invalid size %q: use a number of bytes with a unit, e.g. 10Gi or 500M", ext.Size)
		} else {
			vol.Size = n
		}
	}
	if ext.StorageClass != "" {
		vol.StorageClass = ext.StorageClass
	}
	switch strings.ToLower(ext.AccessMode) {
	case "", "readwriteonce", "rwo":
	case "readwritemany", "rwx":
		vol.ReadWriteMany = true
	default:
		lw.diags.Errorf("x-tycho", lw.pos(path+".x-tycho.accessMode"), path+".x-tycho.accessMode", "accessMode must be ReadWriteOnce or ReadWriteMany, not %q", ext.AccessMode)
	}
	vol.Populate = ext.Populate
}

// fileData is what the top-level definition of a secret or config says
// about its content.
type fileData struct {
	data         []byte
	external     bool
	externalName string
	provided     ast.Provided
	source       ast.Source
}

func (lw *lowerer) fileObject(kind, name string, o types.FileObjectConfig) fileData {
	path := kind + "." + name
	what := strings.TrimSuffix(kind, "s")
	// under --secrets reference no secret value is read: the user
	// provides every one
	reference := kind == "secrets" && lw.opts.Secrets == SecretsReference
	var fd fileData
	switch {
	case bool(o.External):
		fd.externalName = o.Name
		if fd.externalName == "" {
			fd.externalName = name
		}
		lw.diags.Infof("external-"+what, lw.pos(path), path, "%s %q is external: it must exist in the namespace before the system starts, with its content under the key %q", what, fd.externalName, name)
		fd.external = true
		return fd
	case o.Environment != "":
		fd.source = ast.Source{Variable: o.Environment, Pos: lw.pos(path + ".environment")}
		if reference {
			fd.provided = ast.ProvidedOnRequest
			return fd
		}
		v, ok := lw.l.Env[o.Environment]
		switch {
		case ok:
			fd.data = []byte(v)
		case lw.opts.RequireValues:
			lw.diags.Errorf("undefined-variable", fd.source.Pos, path+".environment", "environment variable %s is not set", o.Environment).
				Note("the %s's value must come with the system: set the variable", what)
		default:
			// the backend tells how to create it (secret-reference)
			fd.provided = ast.ProvidedUnset
		}
		return fd
	case o.Content != "":
		fd.source = ast.Source{Content: true, Pos: lw.pos(path + ".content")}
		if reference {
			fd.provided = ast.ProvidedOnRequest
			return fd
		}
		fd.data = []byte(o.Content)
		return fd
	case o.File != "":
		dir := lw.opts.callerDir
		if dir == "" {
			dir = lw.l.WorkDir
		}
		fd.source = ast.Source{File: displayPath(o.File, dir), Pos: lw.pos(path + ".file")}
		if reference {
			fd.provided = ast.ProvidedOnRequest
			return fd
		}
		b, err := readBounded(o.File, fd.source.File, fileObject)
		if fe := (*fileError)(nil); errors.As(err, &fe) {
			lw.diags.Errorf(fe.Code, fd.source.Pos, path+".file", "%s", fe.Msg)
			return fd
		}
		if err != nil {
			// Secrets are often kept out of the repository: expect the
			// object to exist in the cluster instead.
			fd.external, fd.externalName = true, name
			lw.diags.Warnf("missing-file", fd.source.Pos, path+".file", "cannot read %s (%v): the %s must exist in the namespace as %q before the system starts, with its content under the key %q", displayPath(o.File, lw.l.WorkDir), errorText(err), what, fd.externalName, name)
			return fd
		}
		fd.data = b
		return fd
	}
	lw.diags.Errorf("empty-"+what, lw.pos(path), path, "%s %q has no file, content, environment or external", what, name)
	return fd
}

// errorText is err without the path that the message around it names.
func errorText(err error) string {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (lw *lowerer) secret(name string, o types.FileObjectConfig) *ast.Secret {
	fd := lw.fileObject("secrets", name, o)
	lw.fileObjectKeys("secrets", name, o, fd.external)
	return &ast.Secret{Name: name, Pos: lw.pos("secrets." + name), Data: fd.data, External: fd.external, ExternalName: fd.externalName,
		Provided: fd.provided, Source: fd.source}
}

func (lw *lowerer) config(name string, o types.FileObjectConfig) *ast.Config {
	fd := lw.fileObject("configs", name, o)
	lw.fileObjectKeys("configs", name, o, fd.external)
	return &ast.Config{Name: name, Pos: lw.pos("configs." + name), Data: fd.data, External: fd.external, ExternalName: fd.externalName,
		Provided: fd.provided, Source: fd.source}
}

// fileObjectKeys reports the keys of a top-level secret or config that
// Tycho does not honour.
func (lw *lowerer) fileObjectKeys(kind, name string, o types.FileObjectConfig, external bool) {
	path := kind + "." + name
	what := strings.TrimSuffix(kind, "s")
	for _, k := range []struct {
		key string
		set bool
	}{{"driver", o.Driver != ""}, {"driver_opts", len(o.DriverOpts) > 0}, {"template_driver", o.TemplateDriver != ""}} {
		if k.set {
			lw.diags.Warnf("unsupported-key", lw.pos(path+"."+k.key), path+"."+k.key, "%s %s is ignored: the %s is a Kubernetes object of its own", what, k.key, what)
		}
	}
	if len(o.Labels) > 0 {
		lw.diags.Warnf("unsupported-key", lw.pos(path+".labels"), path+".labels", "%s labels are ignored", what)
	}
	if !external && lw.m.Has(path+".name") {
		lw.diags.Infof(what+"-name", lw.pos(path+".name"), path+".name", "the %s's name %q is ignored: the object is named after %q", what, o.Name, name)
	}
}

// shared marks volumes that several services mount.
func (lw *lowerer) shared() {
	// the number of services that mount each volume; then the names of
	// those services, for the volumes mounted by more than one
	count := make(map[string]int, len(lw.sys.Volumes))
	for _, s := range lw.sys.Services {
		forVolumes(s, func(v string) { count[v]++ })
	}
	users := map[string][]string{}
	for _, s := range lw.sys.Services {
		forVolumes(s, func(v string) {
			if count[v] > 1 {
				users[v] = append(users[v], s.Name)
			}
		})
	}
	for _, s := range lw.sys.Services {
		many := s.Lifecycle == ast.Global || (s.Replicas != nil && *s.Replicas > 1)
		for _, m := range s.Mounts {
			if v := lw.sys.Volume(m.Source); m.Kind == ast.MountVolume && many && v != nil && !v.ReadWriteMany && !v.External {
				lw.diags.Warnf("shared-volume", m.Pos, "services."+s.Name+".volumes", "%s runs several replicas on the ReadWriteOnce volume %q: replicas on other nodes cannot mount it", s.Name, m.Source).
					Note("set x-tycho: {accessMode: ReadWriteMany} on the volume if your storage class supports it")
			}
		}
	}
	for _, v := range lw.sys.Volumes {
		if len(users[v.Name]) > 1 && !v.External {
			v.Shared = true
			if !v.ReadWriteMany {
				lw.diags.Warnf("shared-volume", v.Pos, "volumes."+v.Name, "volume %q is mounted by %s: a ReadWriteOnce claim lets only pods on one node use it", v.Name, strings.Join(users[v.Name], ", ")).
					Note("set x-tycho: {accessMode: ReadWriteMany} on the volume if your storage class supports it")
			}
		}
	}
}

// forVolumes calls f with each volume of the system that s mounts, once.
func forVolumes(s *ast.Service, f func(volume string)) {
	seen := map[string]bool{}
	for _, m := range s.Mounts {
		if m.Kind == ast.MountVolume && !seen[m.Source] {
			seen[m.Source] = true
			f(m.Source)
		}
	}
}

func parseBytes(s string) (int64, error) {
	var u types.UnitBytes
	if err := u.DecodeMapstructure(s); err != nil {
		// Kubernetes-style suffixes (Gi, Mi) are accepted too.
		for suffix, mult := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40} {
			if strings.HasSuffix(s, suffix) {
				n, err := strconv.ParseInt(strings.TrimSuffix(s, suffix), 10, 64)
				return n * mult, err
			}
		}
		return 0, err
	}
	return int64(u), nil
}

func durPtr(d *types.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// errEnvFormat is an env_file format that neither compose-go nor Tycho
// reads.
var errEnvFormat = errors.New("unsupported env_file format")

// readEnvFile reads an env_file in its format: compose's dotenv syntax
// (resolving ${VAR} from the interpolation environment) by default, or
// raw, as docker compose reads it: KEY=VALUE lines taken as written.
func readEnvFile(path, display, format string, env map[string]string) (map[string]string, error) {
	if format != "" && format != dotenv.DotEnv && format != "raw" {
		return nil, fmt.Errorf("%w %q: use .env (the default) or raw", errEnvFormat, format)
	}
	b, err := readBounded(path, display, serviceEnvFile)
	if err != nil {
		return nil, err
	}
	if format == "raw" {
		vars := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			vars[k] = v
		}
		return vars, nil
	}
	return dotenv.ParseWithLookup(bytes.NewReader(b), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
}

// bindContent reads a bind-mounted file or directory to copy it into the
// system. It returns ok=false with a reason when it cannot.
func bindContent(src string) (kind ast.MountKind, files []ast.File, reason string) {
	st, err := os.Stat(src)
	if err != nil {
		return 0, nil, "the host path does not exist"
	}
	switch {
	case st.Mode()&fs.ModeSocket != 0:
		return 0, nil, "it is a socket of the host"
	case st.Mode().IsRegular():
		if st.Size() > maxCopyBytes {
			return 0, nil, fmt.Sprintf("the file is larger than %d KiB", maxCopyBytes>>10)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return 0, nil, "it cannot be read: " + errorText(err)
		}
		return ast.MountBindFile, []ast.File{{Name: filepath.Base(src), Data: b}}, ""
	case st.IsDir():
		entries, err := os.ReadDir(src)
		if err != nil {
			return 0, nil, "it cannot be read: " + errorText(err)
		}
		total := int64(0)
		for _, e := range entries {
			if !e.Type().IsRegular() {
				return 0, nil, fmt.Sprintf("it holds %s, which is not a regular file", e.Name())
			}
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				return 0, nil, "it cannot be read: " + errorText(err)
			}
			total += int64(len(b))
			if total > maxCopyBytes {
				return 0, nil, fmt.Sprintf("its files are larger than %d KiB", maxCopyBytes>>10)
			}
			files = append(files, ast.File{Name: e.Name(), Data: b})
		}
		return ast.MountBindDir, files, ""
	}
	return 0, nil, "it is neither a file nor a directory"
}

func (lw *lowerer) contentName(service string, i int) string {
	n := fmt.Sprintf("%s-bind-%d", service, i)
	for lw.contentNames[n] {
		n += "x"
	}
	lw.contentNames[n] = true
	return n
}

// ParseSize reads a size such as 1Gi, 500M or 1073741824 into bytes.
func ParseSize(s string) (int64, error) {
	n, err := parseBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q: use a number with a unit, e.g. 10Gi or 500M", s)
	}
	return n, nil
}
