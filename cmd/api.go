package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/server"
)

// apiCmd holds the flags of `tycho api`.
type apiCmd struct {
	addr            string
	debug           bool
	tokenFile       string
	insecureNoAuth  bool
	tlsCert         string
	tlsKey          string
	kubeconfig      string
	context         string
	maxBody         string
	startTimeout    time.Duration
	deleteTimeout   time.Duration
	shutdownTimeout time.Duration
	expose          string
	route           routeFlags
	security        string
	network         string
	storageClass    string
	volumeSize      string
	registry        string
	limits          server.Limits
	maxCPU          string
	maxMemory       string
	maxVolumeSize   string
	storageClasses  []string
}

// NewAPICommand builds `tycho api`, the HTTP API server.
func NewAPICommand(streams Streams, deps Deps) *cobra.Command {
	cmd, _ := newAPICommand(streams, deps)
	return cmd
}

// newAPICommand is NewAPICommand and the flags it binds.
func newAPICommand(streams Streams, deps Deps) (*cobra.Command, *apiCmd) {
	c := &apiCmd{}
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve Tycho's HTTP API",
		Long: `Serve Tycho's HTTP API: the original Tycho's POST /system/start, /system/status,
/system/delete (and /system/modify), the /v1/systems resources, /healthz,
/readyz, /metrics, and the OpenAPI document at /openapi.json, /openapi.yaml
and /apidocs/.

Every operation but the health checks and the documentation needs a bearer
token of --token-file (one per line). The cluster is that of the
kubeconfig, or the pod's service account when running in a cluster.

Every flag can also be set by an environment variable: TYCHO_ and the flag's
name in upper case with '_' for '-' (TYCHO_TOKEN_FILE, TYCHO_DEBUG, ...).
PORT sets the port when neither --addr nor TYCHO_ADDR is given. SIGINT or
SIGTERM shuts the server down gracefully.`,
		Example: `  tycho api --token-file /etc/tycho/token
  PORT=8080 TYCHO_TOKEN_FILE=/etc/tycho/token tycho api --debug
  tycho api --token-file token --tls-cert tls.crt --tls-key tls.key --expose nodeport`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.fromEnv(cmd.Flags(), deps.Env); err != nil {
				return err
			}
			return c.run(cmd.Context(), streams, deps)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&c.addr, "addr", ":5000", "address to listen on (default port: PORT when set)")
	fs.BoolVar(&c.debug, "debug", false, "log every request with its id, status and duration")
	fs.StringVar(&c.tokenFile, "token-file", "", "file of accepted bearer tokens, one per line (required unless --insecure-no-auth)")
	fs.BoolVar(&c.insecureNoAuth, "insecure-no-auth", false, "serve without authentication (local tests only)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate (PEM); with --tls-key, serve HTTPS")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the pod's service account)")
	fs.StringVar(&c.context, "context", "", "kubeconfig context (default: the current context)")
	fs.StringVar(&c.maxBody, "max-body-size", "1Mi", "largest request body accepted")
	fs.DurationVar(&c.startTimeout, "start-timeout", 5*time.Minute, "how long a start that waits may wait before it rolls back")
	fs.DurationVar(&c.deleteTimeout, "delete-timeout", 5*time.Minute, "how long a delete waits for the objects to be gone")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running requests may finish after SIGTERM")
	fs.StringVar(&c.expose, "expose", "loadbalancer", "how published ports are reached: loadbalancer, nodeport, clusterip, or ingress or gateway (HTTP ports routed; a request may also ask for routes)")
	c.route.register(fs)
	fs.StringVar(&c.security, "security", "baseline", "the most any system may need, the operator's ceiling: restricted, baseline or privileged (a request that needs more is refused)")
	fs.StringVar(&c.network, "network-policy", "default", "network policy: default (compose networks), strict (declared ports only) or none")
	fs.StringVar(&c.storageClass, "storage-class", "", "storage class of volumes (default: the cluster's)")
	fs.StringVar(&c.volumeSize, "volume-size", "1Gi", "default size of a volume")
	fs.StringVar(&c.registry, "registry", "", "registry prefix for images that compose would build")
	fs.IntVar(&c.limits.PerClient, "max-client-requests", server.DefaultPerClient, "requests one client (bearer token and address) may have in flight; more are answered 429")
	fs.IntVar(&c.limits.Compiles, "max-compiles", server.DefaultCompiles, "compiles running at once; a start waits for a slot")
	fs.DurationVar(&c.limits.CompileTimeout, "compile-timeout", server.DefaultCompileTimeout, "the longest a start waits for a compile slot and its compile; then 503")
	fs.StringVar(&c.maxCPU, "max-cpu", "4", "largest CPU limit or reservation of a container a request may ask for (none: no limit)")
	fs.StringVar(&c.maxMemory, "max-memory", "8Gi", "largest memory limit or reservation (and tmpfs, shm_size) of a container a request may ask for (none: no limit)")
	fs.StringVar(&c.maxVolumeSize, "max-volume-size", "10Gi", "largest volume (and scratch storage) a request may ask for (none: no limit)")
	fs.StringSliceVar(&c.storageClasses, "storage-classes", nil, "storage classes a volume may ask for with x-tycho.storageClass, comma-separated (default: any)")
	return cmd, c
}

// fromEnv sets every flag not given on the command line from its TYCHO_
// variable, and --addr from PORT.
func (c *apiCmd) fromEnv(fs *pflag.FlagSet, env map[string]string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		name := "TYCHO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := env[name]; ok && v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError("%s: %v", name, e)
			}
			return
		}
		if f.Name == "addr" && env["PORT"] != "" {
			if e := fs.Set("addr", ":"+env["PORT"]); e != nil {
				err = usageError("PORT: %v", e)
			}
		}
	})
	return err
}

// options checks the flags and makes the server's options, without the
// Systems.
func (c *apiCmd) options(log *slog.Logger) (server.Options, error) {
	var o server.Options
	expose := ast.ExposeMode(strings.ToLower(c.expose))
	switch expose {
	case ast.ExposeLoadBalancer, ast.ExposeNodePort, ast.ExposeClusterIP, ast.ExposeIngress, ast.ExposeGateway:
	default:
		return o, usageError("--expose must be loadbalancer, nodeport, clusterip, ingress or gateway, not %q", c.expose)
	}
	route, err := c.route.options()
	if err != nil {
		return o, err
	}
	switch c.security {
	case "baseline", "restricted", "privileged":
	default:
		// callers' systems always run under a Pod Security level
		return o, usageError("--security must be restricted, baseline or privileged, not %q", c.security)
	}
	switch c.network {
	case "default", "strict", "none":
	default:
		return o, usageError("--network-policy must be default, strict or none, not %q", c.network)
	}
	size, err := compiler.ParseSize(c.volumeSize)
	if err != nil {
		return o, usageError("--volume-size: %v", err)
	}
	body, err := compiler.ParseSize(c.maxBody)
	if err != nil || body <= 0 {
		return o, usageError("--max-body-size: want a size such as 1Mi, not %q", c.maxBody)
	}
	res := server.ResourceLimits{StorageClasses: c.storageClasses}
	if res.MaxCPUMilli, err = server.ParseCPULimit(c.maxCPU); err != nil {
		return o, usageError("--max-cpu: %v", err)
	}
	if res.MaxMemory, err = server.ParseSizeLimit(c.maxMemory); err != nil {
		return o, usageError("--max-memory: %v", err)
	}
	if res.MaxVolumeSize, err = server.ParseSizeLimit(c.maxVolumeSize); err != nil {
		return o, usageError("--max-volume-size: %v", err)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return o, usageError("--tls-cert and --tls-key go together")
	}
	switch {
	case c.tokenFile != "":
		tokens, err := server.ReadTokenFile(c.tokenFile)
		if err != nil {
			return o, &ExitError{Code: 1, Err: err}
		}
		o.Tokens = tokens
	case c.insecureNoAuth:
		o.Insecure = true
		log.Warn("serving without authentication (--insecure-no-auth): anyone who reaches the server can start systems")
	default:
		return o, usageError("--token-file is required (or --insecure-no-auth for a local test)")
	}
	o.MaxBodyBytes = body
	if c.limits.PerClient < 1 || c.limits.Compiles < 1 || c.limits.CompileTimeout <= 0 {
		return o, usageError("--max-client-requests and --max-compiles must be at least 1, --compile-timeout positive")
	}
	o.Limits = c.limits
	o.StartTimeout = c.startTimeout
	o.DeleteTimeout = c.deleteTimeout
	o.Compile = server.CompileOptions{Expose: expose, Security: c.security, NetworkPolicy: c.network,
		VolumeSize: size, StorageClass: c.storageClass, Registry: c.registry, Route: route}
	o.Resources = res
	o.Log = log
	o.Debug = c.debug
	o.Version = Version
	return o, nil
}

func (c *apiCmd) run(ctx context.Context, streams Streams, deps Deps) error {
	if ctx == nil {
		ctx = context.Background()
	}
	level := slog.LevelInfo
	if c.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
	opts, err := c.options(log)
	if err != nil {
		return err
	}
	kf := kubeFlags{kubeconfig: c.kubeconfig, context: c.context, requestTimeout: defaultRequestTimeout}
	cfg, err := kf.restConfig(deps, streams.Err)
	if err != nil {
		return clusterError(err)
	}
	// many callers share the server's client
	cfg.QPS, cfg.Burst = 100, 200
	client, err := executor.NewClient(cfg)
	if err != nil {
		return clusterError(err)
	}
	cluster := server.NewCluster(client)
	cluster.Log = log
	opts.Systems = cluster
	s, err := server.New(opts)
	if err != nil {
		return clusterError(err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// deletions that a server before this one did not finish
	if guids, err := cluster.Resume(ctx); err != nil {
		log.Warn("resuming deletions", "err", err)
	} else if len(guids) > 0 {
		log.Info("resuming deletions", "systems", guids)
	}
	if err := server.Run(ctx, s, server.RunOptions{Addr: c.addr, TLSCert: c.tlsCert, TLSKey: c.tlsKey,
		ShutdownTimeout: c.shutdownTimeout}); err != nil {
		return clusterError(fmt.Errorf("api: %w", err))
	}
	return nil
}
