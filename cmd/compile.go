package cmd

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/backends"
	"github.com/tychoctl/tycho/backends/formats"
	"github.com/tychoctl/tycho/backends/kubernetes"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/internal/atomicdir"
)

// compileFlags are the flags shared by every command that compiles.
type compileFlags struct {
	files        []string
	projectName  string
	profiles     []string
	envFiles     []string
	namespace    string
	createNS     bool
	registry     string
	expose       string
	bind         string
	volumeSize   string
	storageClass string
	strict       bool
	diagnostics  string
	network      string
	security     string
	disable      []string
	waitImage    string
	kubectlImage string
	secrets      string
	route        routeFlags
}

// routeFlags are the settings of routed ports (--expose ingress|gateway).
type routeFlags struct {
	host, pathPrefix, class, gateway, tlsSecret, tlsIssuer, from string
	strip                                                        optBool
}

// optBool is a boolean flag that remembers whether it was given.
type optBool struct{ v *bool }

func (o *optBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	o.v = &b
	return nil
}

func (o *optBool) String() string {
	if o.v == nil {
		return "false"
	}
	return strconv.FormatBool(*o.v)
}

func (o *optBool) Type() string { return "bool" }

func (r *routeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.host, "host", "", "with --expose ingress|gateway: host name template of a routed port, e.g. '{service}.{system}.example.com' ({system}, {service}, {port}, {guid})")
	fs.StringVar(&r.pathPrefix, "path-prefix", "", "with --expose ingress|gateway: path prefix template of a routed port (default: / with --host, else "+compiler.DefaultPathPrefix+")")
	fs.Var(&r.strip, "strip-prefix", "remove the path prefix before the request reaches the container (HTTPRoute URLRewrite; an Ingress cannot)")
	fs.Lookup("strip-prefix").NoOptDefVal = "true"
	fs.StringVar(&r.class, "ingress-class", "", "ingressClassName of the Ingresses (default: the cluster's default class)")
	fs.StringVar(&r.gateway, "gateway", "", "parent Gateway of the HTTPRoutes, [NAMESPACE/]NAME")
	fs.StringVar(&r.tlsSecret, "tls-secret", "", "serve routed ports over TLS with the certificate in this Secret")
	fs.StringVar(&r.tlsIssuer, "tls-issuer", "", "serve routed ports over TLS with a certificate from this cert-manager issuer, [Issuer/|ClusterIssuer/]NAME (needs --host)")
	fs.StringVar(&r.from, "route-from", "", "the router's pods, which alone reach routed ports: namespace=NAME,pod=KEY=VALUE,... (default: any pod of the cluster)")
}

// options checks the route flags.
func (r *routeFlags) options() (compiler.RouteOptions, error) {
	o := compiler.RouteOptions{Host: r.host, PathPrefix: r.pathPrefix, StripPrefix: r.strip.v, Class: r.class,
		Gateway: r.gateway, TLSSecret: r.tlsSecret, TLSIssuer: r.tlsIssuer, From: r.from}
	if err := compiler.CheckHost(r.host); err != nil {
		return o, usageError("--host: %v", err)
	}
	if err := compiler.CheckPathPrefix(r.pathPrefix); err != nil {
		return o, usageError("--path-prefix: %v", err)
	}
	if r.gateway != "" {
		if _, err := compiler.ParseGateway(r.gateway); err != nil {
			return o, usageError("--gateway: %v", err)
		}
	}
	if r.tlsIssuer != "" {
		if _, _, err := compiler.ParseIssuer(r.tlsIssuer); err != nil {
			return o, usageError("--tls-issuer: %v", err)
		}
	}
	if r.from != "" {
		if _, err := compiler.ParsePodSelector(r.from); err != nil {
			return o, usageError("--route-from: %v", err)
		}
	}
	return o, nil
}

func (f *compileFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&f.files, "file", "f", nil, "compose file (repeatable, merged in order; - reads stdin); default: COMPOSE_FILE or compose.yaml")
	fs.StringVarP(&f.projectName, "project-name", "p", "", "project (system) name; default: name: in the file, COMPOSE_PROJECT_NAME, or the directory name")
	fs.StringArrayVar(&f.profiles, "profile", nil, "enable a compose profile (repeatable)")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "interpolation variables file instead of .env (repeatable)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the objects")
	fs.BoolVar(&f.createNS, "create-namespace", false, "also emit the Namespace (needs -n)")
	fs.StringVar(&f.registry, "registry", "", "registry prefix for images that compose would build")
	fs.StringVar(&f.expose, "expose", "", "how published ports are reached: loadbalancer, nodeport, clusterip, or ingress or gateway (HTTP ports routed, the others load balanced) (default: x-tycho.expose, else loadbalancer)")
	f.route.register(fs)
	fs.StringVar(&f.bind, "bind", "copy", "bind mounts: copy (small files into ConfigMaps, else empty storage), hostpath, or volume")
	fs.StringVar(&f.volumeSize, "volume-size", "1Gi", "default size of a volume")
	fs.StringVar(&f.storageClass, "storage-class", "", "storage class of volumes (default: the cluster's)")
	fs.BoolVar(&f.strict, "strict", false, "treat warnings as errors")
	fs.StringVar(&f.diagnostics, "diagnostics", "text", "diagnostics format on stderr: text or json")
	fs.StringVar(&f.network, "network-policy", "default", "network policy: default (compose networks), strict (declared ports only) or none")
	fs.StringVar(&f.security, "security", "baseline", "pod security level: restricted, baseline, privileged or none; up refuses a system that needs more, compile reports it")
	fs.StringArrayVar(&f.disable, "disable-weaver", nil, "switch a policy weaver off by name (network, security)")
	fs.StringVar(&f.waitImage, "wait-image", kubernetes.DefaultWaitImage, "image of the init containers that wait for dependencies")
	fs.StringVar(&f.kubectlImage, "kubectl-image", kubernetes.DefaultKubectlImage, "image of the init containers that wait for a one-shot dependency")
	fs.StringVar(&f.secrets, "secrets", "inline", "secret values: inline (in Secrets of the system where known) or reference (never written: workloads refer to Secrets you create, each listed with its kubectl command)")
}

func (f *compileFlags) options(deps Deps, streams Streams, guid string) (compiler.Options, error) {
	var o compiler.Options
	expose := ast.ExposeMode(strings.ToLower(f.expose))
	switch expose {
	case ast.ExposeDefault, ast.ExposeLoadBalancer, ast.ExposeNodePort, ast.ExposeClusterIP, ast.ExposeIngress, ast.ExposeGateway:
	default:
		return o, usageError("--expose must be loadbalancer, nodeport, clusterip, ingress or gateway, not %q", f.expose)
	}
	route, err := f.route.options()
	if err != nil {
		return o, err
	}
	bind := compiler.BindMode(f.bind)
	switch bind {
	case compiler.BindCopy, compiler.BindHostPath, compiler.BindVolume:
	default:
		return o, usageError("--bind must be copy, hostpath or volume, not %q", f.bind)
	}
	switch f.network {
	case "default", "strict", "none":
	default:
		return o, usageError("--network-policy must be default, strict or none, not %q", f.network)
	}
	switch f.security {
	case "baseline", "restricted", "privileged", "none":
	default:
		return o, usageError("--security must be restricted, baseline, privileged or none, not %q", f.security)
	}
	switch f.diagnostics {
	case "text", "json":
	default:
		return o, usageError("--diagnostics must be text or json, not %q", f.diagnostics)
	}
	secrets := compiler.SecretsMode(f.secrets)
	switch secrets {
	case compiler.SecretsInline, compiler.SecretsReference:
	default:
		return o, usageError("--secrets must be inline or reference, not %q", f.secrets)
	}
	size, err := compiler.ParseSize(f.volumeSize)
	if err != nil {
		return o, usageError("--volume-size: %v", err)
	}
	if f.createNS && f.namespace == "" {
		return o, usageError("--create-namespace needs -n/--namespace")
	}
	if err := compiler.ValidateGUID(guid); err != nil {
		return o, usageError("--guid: %v", err)
	}
	o.Load = compiler.LoadOptions{Files: f.files, Stdin: streams.In, WorkDir: deps.WorkDir, Env: deps.Env,
		EnvFiles: f.envFiles, ProjectName: f.projectName, Profiles: f.profiles}
	o.Lower = compiler.LowerOptions{Registry: f.registry, Bind: bind, VolumeSize: size, StorageClass: f.storageClass, Expose: expose, Route: route, Secrets: secrets}
	o.Policy.Network = f.network
	o.Policy.Security = f.security
	o.Policy.Disabled = f.disable
	o.Backend = kubernetes.Options{WaitImage: f.waitImage, KubectlImage: f.kubectlImage}
	o.Namespace = f.namespace
	o.CreateNamespace = f.createNS
	o.Strict = f.strict
	o.GUID = guid
	return o, nil
}

// printDiags writes diagnostics to stderr in the chosen format.
func (f *compileFlags) printDiags(streams Streams, d diag.List) error {
	if f.diagnostics == "json" {
		return d.WriteJSON(streams.Err)
	}
	return d.WriteText(streams.Err)
}

type compileCmd struct {
	flags      compileFlags
	output     string
	format     string
	outDir     string
	guid       string
	version    string
	appVersion string
}

// NewCompileCommand builds `tycho compile`.
func NewCompileCommand(streams Streams, deps Deps) *cobra.Command {
	c := &compileCmd{}
	cmd := &cobra.Command{
		Use:   "compile [-f FILE]...",
		Short: "Compile a compose system into Kubernetes manifests",
		Long: `Compile a compose system into Kubernetes manifests, printed on stdout
(or written one file per object with --out-dir). Diagnostics go to stderr.
Exit status: 0 (warnings allowed), 1 on errors (nothing is written), 2 on
usage errors.`,
		Example: `  tycho compile -f docker-compose.yaml | kubectl apply -f -
  tycho compile -f compose.yaml -f compose.prod.yaml --profile web --out-dir out/
  tycho compile -f - < compose.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd.Context(), streams, deps)
		},
	}
	c.flags.register(cmd.Flags())
	cmd.Flags().StringVarP(&c.output, "output", "o", "yaml", "encoding of the manifests: yaml or json (a v1 List)")
	cmd.Flags().StringVar(&c.format, "format", formats.Names()[0], "what to write: "+strings.Join(formats.Names(), ", ")+" (all but manifests need --out-dir)")
	cmd.Flags().StringVar(&c.outDir, "out-dir", "", "write the format's files into this directory (manifests: one file per object, <kind>-<name>.yaml), replacing it atomically")
	cmd.Flags().StringVar(&c.version, "chart-version", "0.1.0", "version of the package (a Helm chart's version)")
	cmd.Flags().StringVar(&c.appVersion, "app-version", "", "version of the application in the package (a Helm chart's appVersion; default: the chart version)")
	cmd.Flags().StringVar(&c.guid, "guid", "", "label the objects with this system GUID (32 hex characters)")
	return cmd
}

func (c *compileCmd) run(ctx context.Context, streams Streams, deps Deps) error {
	if ctx == nil {
		ctx = context.Background()
	}
	enc := kubernetes.Format(c.output)
	if enc != kubernetes.YAML && enc != kubernetes.JSON {
		return usageError("-o must be yaml or json, not %q", c.output)
	}
	format, err := formats.Lookup(c.format)
	if err != nil {
		return usageError("--format: %v", err)
	}
	printer, prints := format.(backends.Printer)
	if c.outDir == "" && !prints {
		return usageError("--format %s writes a directory: give --out-dir", c.format)
	}
	opts, err := c.flags.options(deps, streams, c.guid)
	if err != nil {
		return err
	}
	res, err := compiler.Compile(ctx, opts)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	if err := c.flags.printDiags(streams, res.Diags); err != nil {
		return err
	}
	if res.Diags.HasErrors() {
		return errReported
	}
	in := backends.Input{System: res.System, Objects: res.Objects, Options: opts.Backend}
	popts := backends.Options{Encoding: enc, Version: c.version, AppVersion: c.appVersion}
	if c.outDir != "" {
		files, err := format.Files(in, popts)
		if err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		if err := atomicdir.Write(c.outDir, files); err != nil {
			return &ExitError{Code: 1, Err: err}
		}
		return nil
	}
	var buf bytes.Buffer
	if err := printer.Print(&buf, in, popts); err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	_, err = streams.Out.Write(buf.Bytes())
	return err
}
