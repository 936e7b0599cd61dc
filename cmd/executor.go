package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/ops"
)

// kubeFlags say how to reach the cluster, as kubectl's flags do.
type kubeFlags struct {
	kubeconfig string
	context    string
	// requestTimeout bounds each request to the API server, so that a
	// server that stops answering cannot hang a command (0: no bound).
	requestTimeout time.Duration
	// namespace is shared with the compile flags of `up`.
	namespace *string
}

// defaultRequestTimeout bounds one API request. No request Tycho makes
// (one object applied, one label-selected list) needs more on a working
// server; kubectl's default is no bound, which leaves a frozen server
// hanging `up` past its --timeout.
const defaultRequestTimeout = 30 * time.Second

// register adds the flags to fs; namespace, when not nil, is the value of
// an -n/--namespace flag registered already.
func (f *kubeFlags) register(fs *pflag.FlagSet, namespace *string, nsUsage string) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the pod's service account)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context (default: the current context)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", defaultRequestTimeout, "give up on a single API server request after this long (0: never)")
	if namespace == nil {
		namespace = new(string)
		fs.StringVarP(namespace, "namespace", "n", "", nsUsage)
	}
	f.namespace = namespace
}

// restConfig loads the client configuration as kubectl does: --kubeconfig,
// else the files in KUBECONFIG, else ~/.kube/config, else the in-cluster
// configuration when running in a pod. API warnings go to warnings.
func (f *kubeFlags) restConfig(deps Deps, warnings io.Writer) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: f.kubeconfig, DefaultClientConfig: &clientcmd.DefaultClientConfig}
	if v := deps.Env[clientcmd.RecommendedConfigPathEnvVar]; v != "" {
		rules.Precedence = filepath.SplitList(v)
	} else if home := deps.Env["HOME"]; home != "" {
		rules.Precedence = []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, errors.New("no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod")
	}
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "tycho/" + Version
	cfg.Timeout = f.requestTimeout
	// applies run in parallel; client-go's default of 5 per second would
	// serialise them
	cfg.QPS, cfg.Burst = 50, 100
	cfg.WarningHandler = rest.NewWarningWriter(warnings, rest.WarningWriterOptions{Deduplicate: true})
	return cfg, nil
}

// execEnv is what the executor commands take from the process besides
// streams and deps; tests inject their own.
type execEnv struct {
	// connect makes the cluster client.
	connect func(f *kubeFlags, deps Deps, streams Streams) (*executor.Client, error)
	// newGUID makes the GUID of a new system.
	newGUID func() (string, error)
	// now is the clock.
	now func() time.Time
	// pollInterval is the period of readiness checks (0: the executor's).
	pollInterval time.Duration
	// signals, when true, cancels a running up or down on SIGINT/SIGTERM,
	// so that up rolls back.
	signals bool
}

func defaultExecEnv() execEnv {
	return execEnv{
		connect: func(f *kubeFlags, deps Deps, streams Streams) (*executor.Client, error) {
			cfg, err := f.restConfig(deps, streams.Err)
			if err != nil {
				return nil, err
			}
			return executor.NewClient(cfg)
		},
		newGUID: func() (string, error) { return executor.NewGUID(nil) },
		now:     time.Now,
		signals: true,
	}
}

// clusterError marks a failure of the cluster or of the connection to it
// (exit 1).
func clusterError(err error) error { return &ExitError{Code: 1, Err: err} }

// checkOutput validates -o for the executor commands.
func checkOutput(o string) error {
	switch o {
	case "", "table", "json", "yaml":
		return nil
	}
	return usageError("-o must be json or yaml (or table, the default), not %q", o)
}

// printStructured writes v as JSON or YAML.
func printStructured(w io.Writer, format string, v any) error {
	var b []byte
	var err error
	if format == "json" {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	} else {
		b, err = yaml.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func withSignals(ctx context.Context, env execEnv) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !env.signals {
		return context.WithCancel(ctx)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	go func() {
		// after the first signal, a second one kills the process, even
		// while up rolls back
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// isTerminal tells whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress prints Up's events on stderr: one line per change, or, when
// both stdout and stderr are terminals, one line rewritten in place.
type progress struct {
	w     io.Writer
	tty   bool
	dirty bool
}

func (p *progress) event(e executor.Event) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[Kwaiting: %d/%d ready; %s %s", e.Ready, e.Total, e.Object, e.State)
		p.dirty = true
		return
	}
	fmt.Fprintf(p.w, "%s: %s (%d/%d ready)\n", e.Object, e.State, e.Ready, e.Total)
}

func (p *progress) done() {
	if p.dirty {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.dirty = false
	}
}

type upCmd struct {
	flags        compileFlags
	kube         kubeFlags
	remote       remoteFlags
	guid         string
	wait         bool
	timeout      time.Duration
	keep         bool
	pruneVolumes bool
	output       string
	// forward: forward the published ports after the start (--forward)
	forward bool
	// set are the command's flags, to tell which were given.
	set *pflag.FlagSet
}

// NewUpCommand builds `tycho up`.
func NewUpCommand(streams Streams, deps Deps) *cobra.Command {
	return newUpCommand(streams, deps, defaultExecEnv())
}

func newUpCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &upCmd{}
	cmd := &cobra.Command{
		Use:   "up [-f FILE]...",
		Short: "Compile a compose system and start it on a cluster",
		Long: `Compile a compose system and start it on the cluster of the kubeconfig,
tracked by a GUID. Each system gets a namespace of its own,
<system>-<first 8 of the GUID>, unless -n names an existing one. Objects
are server-side applied, so that up with the --guid of a running system
updates it (and changes nothing when nothing changed).

up waits until the Deployments are available, the DaemonSets ready and the
Jobs complete (--wait=false does not). When an object is rejected or the
system is not ready within --timeout, up reports why and deletes what it
created, unless --keep-on-failure.

Before it applies anything, up checks that the namespace holds every
Secret and ConfigMap the system refers to but does not hold (external ones,
those whose variable is unset, every secret under --secrets reference); if
one is missing it creates nothing and prints the kubectl commands that
create them, to run before up --guid GUID again.

It prints one row per published port: SYSTEM GUID IP_ADDRESS PORT.
With --forward it then forwards the published ports to localhost, as tycho
port-forward does, until interrupted.

With --server URL, up goes through Tycho's HTTP API (tycho api) instead of
the cluster: it sends one compose file (several -f are refused: merge them
first), its project name, and the variables it uses, from the environment
and .env (or --env-file), with --profile as COMPOSE_PROFILES. The server
compiles it with its own settings, makes the GUID and the namespace, and
rolls back a failed start, so that --guid, -n, --create-namespace,
--keep-on-failure, --strict, the kubeconfig flags and the compile settings
(--expose, --security, ...) cannot be given; its start timeout bounds the
wait, --timeout (when given) the whole call. The bearer token is read from
--token-file, else TYCHO_TOKEN.`,
		Example: `  tycho up -f docker-compose.yaml
  tycho up -f compose.yaml --guid 0123456789abcdef0123456789abcdef -o json
  tycho up -f compose.yaml -n team-a --expose nodeport --timeout 10m
  TYCHO_TOKEN=... tycho up -f compose.yaml --server https://tycho.example.org`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.run(cmd.Context(), streams, deps, env)
		},
	}
	fs := cmd.Flags()
	c.flags.register(fs)
	c.kube.register(fs, &c.flags.namespace, "")
	fs.StringVar(&c.guid, "guid", "", "the system's GUID, 32 hex characters (default: a new one; a running system's updates it)")
	fs.BoolVar(&c.wait, "wait", true, "wait until the workloads are ready")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "how long to wait")
	fs.BoolVar(&c.keep, "keep-on-failure", false, "keep what was created when up fails, for inspection")
	fs.BoolVar(&c.pruneVolumes, "prune-volumes", false, "on an update, also delete the claims of volumes the compose file no longer has")
	fs.StringVarP(&c.output, "output", "o", "", "output format: json or yaml (default: a table)")
	fs.BoolVar(&c.forward, "forward", false, "then forward the published ports to localhost until interrupted, as tycho port-forward")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *upCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv) error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	remote, err := c.remote.use(c.set)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	req := ops.UpRequest{
		Wait:          c.wait,
		Timeout:       c.timeout,
		KeepOnFailure: c.keep,
		PruneVolumes:  c.pruneVolumes,
		Pruned:        func(o string) { fmt.Fprintf(streams.Err, "pruned %s\n", o) },
		Now:           env.now,
		PollInterval:  env.pollInterval,
		Diags:         func(d diag.List) error { return c.flags.printDiags(streams, d) },
	}
	if remote {
		if c.forward {
			return needsCluster("up --forward", c.remote, c.set)
		}
		if err := c.refuseRemote(); err != nil {
			return err
		}
		req.Compile.Load = compiler.LoadOptions{Files: c.flags.files, Stdin: streams.In, WorkDir: deps.WorkDir, Env: deps.Env,
			EnvFiles: c.flags.envFiles, ProjectName: c.flags.projectName, Profiles: c.flags.profiles}
	} else {
		req.GUID = c.guid
		if req.GUID == "" {
			if req.GUID, err = env.newGUID(); err != nil {
				return clusterError(err)
			}
		}
		// the executor makes the namespace, not the compiler
		flags := c.flags
		flags.createNS = false
		if req.Compile, err = flags.options(deps, streams, req.GUID); err != nil {
			return err
		}
		req.Compile.CreateNamespace = c.flags.createNS
	}
	sys, err := env.systems("up", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	var stop context.CancelFunc
	if remote {
		ctx, stop = remoteContext(ctx, env, c.set, c.timeout)
	} else {
		ctx, stop = withSignals(ctx, env)
		p := &progress{w: streams.Err, tty: isTerminal(streams.Out) && isTerminal(streams.Err)}
		req.Progress = p.event
		defer p.done()
	}
	defer stop()
	res, err := sys.Up(ctx, req)
	if err != nil {
		return failed("", err, env.now())
	}
	if err := c.print(streams.Out, res); err != nil || !c.forward {
		return err
	}
	local, ok := sys.(*ops.Local)
	if !ok {
		return needsCluster("up --forward", c.remote, c.set)
	}
	client, err := local.Client()
	if err != nil {
		return clusterError(err)
	}
	return c.forwardPorts(ctx, client, streams, res)
}

// refuseRemote refuses the flags that up through the API cannot honour.
func (c *upCmd) refuseRemote() error {
	for _, r := range []struct {
		why   string
		flags []string
	}{
		{"the server makes the GUID", []string{"guid"}},
		{"the server makes every system a namespace of its own", []string{"namespace", "create-namespace"}},
		{"the server rolls back a start that fails", []string{"keep-on-failure"}},
		{"the server's cluster is used", []string{"kubeconfig", "context"}},
		{"the server compiles with its own settings (see tycho api --help)", []string{"strict", "registry", "expose",
			"bind", "volume-size", "storage-class", "network-policy", "security", "disable-weaver", "wait-image", "kubectl-image", "secrets"}},
	} {
		if err := refuse(c.set, r.why, r.flags...); err != nil {
			return err
		}
	}
	return checkDiagnostics(c.flags.diagnostics)
}

// print writes the started system as -o asks.
func (c *upCmd) print(w io.Writer, sys *executor.System) error {
	if c.output == "json" || c.output == "yaml" {
		return printStructured(w, c.output, sys)
	}
	return writeUpTable(w, sys)
}

// upRow is the row format of the original Tycho's `up`.
const upRow = "%-30s %-35s %-15s %-7s\n"

// writeUpTable prints one row per published endpoint, or one with "-"
// when there is none.
func writeUpTable(w io.Writer, sys *executor.System) error {
	var b strings.Builder
	fmt.Fprintf(&b, upRow, "SYSTEM", "GUID", "IP_ADDRESS", "PORT")
	name := sys.Name
	if len(name) > 30 {
		name = name[:28] + ".."
	}
	if len(sys.Endpoints) == 0 {
		fmt.Fprintf(&b, upRow, name, sys.GUID, "-", "-")
	}
	for _, e := range sys.Endpoints {
		port := fmt.Sprint(e.Port)
		if e.Protocol != "" && e.Protocol != "TCP" {
			port += "/" + strings.ToLower(e.Protocol)
		}
		addr := e.IP
		if e.URL != "" {
			addr = e.URL // a routed port: its URL says more than the router's address
		}
		fmt.Fprintf(&b, upRow, name, sys.GUID, addr, port)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type statusCmd struct {
	kube    kubeFlags
	project string
	remote  remoteFlags
	terse   bool
	output  string
	set     *pflag.FlagSet
}

// NewStatusCommand builds `tycho status`.
func NewStatusCommand(streams Streams, deps Deps) *cobra.Command {
	return newStatusCommand(streams, deps, defaultExecEnv())
}

func newStatusCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &statusCmd{}
	cmd := &cobra.Command{
		Use:   "status [SYSTEM]",
		Short: "Show the running systems",
		Long: `Show the systems started by Tycho on the cluster (all, or the one of
GUID): one row per system with its namespace, its ready services, the
addresses of its published ports and its age; READY says "deleting"
while a down or API delete of the system goes on. "None running" when there
is none. --terse prints only the GUIDs, one per line, for
tycho down $(tycho status --terse).

With --server URL, status asks Tycho's HTTP API (tycho api) instead of the
cluster, with the bearer token of --token-file, else TYCHO_TOKEN.`,
		Example: `  tycho status
  tycho status 0123456789abcdef0123456789abcdef -o yaml
  tycho down $(tycho status --terse)
  tycho status --server https://tycho.example.org --token-file ~/.tycho-token`,
		// flags are parsed in RunE, after the original Tycho's
		// single-dash -terse became --terse
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cmd.Flags().Parse(legacyArgs(args)); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if help, _ := cmd.Flags().GetBool("help"); help {
				return cmd.Help()
			}
			rest := cmd.Flags().Args()
			if len(rest) > 1 {
				return usageError("status takes at most one GUID, got %d arguments", len(rest))
			}
			guid := ""
			if len(rest) == 1 {
				guid = rest[0]
			}
			return c.run(cmd.Context(), streams, deps, env, guid)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look only in this namespace (default: all)")
	fs.BoolVar(&c.terse, "terse", false, "print only the GUIDs, one per line")
	fs.StringVarP(&c.project, "project-name", "p", "", "only the systems of this name")
	fs.StringVarP(&c.output, "output", "o", "", "output format: json or yaml (default: a table)")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

// legacyArgs rewrites the original Tycho's single-dash -terse.
func legacyArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		if a == "-terse" {
			a = "--terse"
		}
		out[i] = a
	}
	return out
}

func (c *statusCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, ref string) error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	if ref != "" && c.project != "" {
		return usageError("give the system as an argument or with -p, not both")
	}
	if ref == "" {
		ref = c.project
	}
	// a GUID is asked for, a name filters the list (all the systems of
	// an ambiguous name show)
	opts := executor.StatusOptions{Namespace: *c.kube.namespace}
	name := ""
	if ref != "" {
		var err error
		if opts.GUID, name, err = ops.ParseRef(ref); err != nil {
			return failed("", err, env.now())
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if remote, err := c.remote.use(c.set); err != nil {
		return err
	} else if remote {
		if err := refuse(c.set, "the server's cluster is used", "kubeconfig", "context"); err != nil {
			return err
		}
	}
	sys, err := env.systems("list", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	systems, err := sys.List(ctx, opts)
	if err != nil {
		return failed("status", err, env.now())
	}
	if name != "" {
		systems = ops.Named(systems, name)
	}
	return c.print(streams.Out, systems, env.now())
}

// print writes the systems as -o and --terse ask.
func (c *statusCmd) print(w io.Writer, systems []executor.System, now time.Time) error {
	switch {
	case c.output == "json" || c.output == "yaml":
		if systems == nil {
			systems = []executor.System{}
		}
		return printStructured(w, c.output, systems)
	case c.terse:
		var b strings.Builder
		for _, s := range systems {
			b.WriteString(s.GUID + "\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	case len(systems) == 0:
		_, err := fmt.Fprintln(w, "None running")
		return err
	}
	return writeStatusTable(w, systems, now)
}

// writeStatusTable prints one row per system.
func writeStatusTable(w io.Writer, systems []executor.System, now time.Time) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "SYSTEM\tGUID\tNAMESPACE\tREADY\tENDPOINTS\tAGE")
	for _, s := range systems {
		eps := make([]string, 0, len(s.Endpoints))
		for _, e := range s.Endpoints {
			eps = append(eps, e.String())
		}
		endpoints := strings.Join(eps, ",")
		if endpoints == "" {
			endpoints = "-"
		}
		age := "<unknown>"
		if !s.Created.IsZero() {
			age = duration.HumanDuration(now.Sub(s.Created))
		}
		ready := fmt.Sprintf("%d/%d", s.Ready, s.Total)
		if s.State == executor.StateDeleting {
			ready = executor.StateDeleting
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.GUID, s.Namespace, ready, endpoints, age)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

type downCmd struct {
	kube    kubeFlags
	system  systemFlags
	remote  remoteFlags
	volumes bool
	wait    bool
	timeout time.Duration
	set     *pflag.FlagSet
}

// NewDownCommand builds `tycho down`.
func NewDownCommand(streams Streams, deps Deps) *cobra.Command {
	return newDownCommand(streams, deps, defaultExecEnv())
}

func newDownCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &downCmd{}
	cmd := &cobra.Command{
		Use:   "down [SYSTEM...]",
		Short: "Stop systems and delete their objects",
		Long: `Delete everything Tycho created for each system: its workloads, Services,
ConfigMaps, Secrets, NetworkPolicies, RBAC objects and the namespace made
for it; volumes (PersistentVolumeClaims), and so the namespace that holds
them, only with --volumes. down waits until all of it is gone, pods
included (--wait=false does not). It prints each GUID it removed; an
unknown GUID is an error, and the others are still removed.

down first marks each system as being deleted (an up of it that runs
stops and rolls back), then deletes in bulk: the namespace made for the
system in one call, or, in a shared namespace or one that keeps volumes,
each kind of object with one call by the system's labels. A down that is
cut short or runs out of --timeout leaves the system marked (status shows
it deleting); running down again finishes it.

With --server URL, down asks Tycho's HTTP API (tycho api) instead of the
cluster, with the bearer token of --token-file, else TYCHO_TOKEN; the
server's delete timeout bounds the wait, --timeout (when given) the whole run.`,
		Example: `  tycho down 0123456789abcdef0123456789abcdef
  tycho down --volumes $(tycho status --terse)
  tycho down --server https://tycho.example.org $(tycho status --server https://tycho.example.org --terse)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look only in this namespace (default: all)")
	c.system.register(fs, true)
	fs.BoolVar(&c.volumes, "volumes", false, "delete the systems' volumes (PersistentVolumeClaims) too")
	fs.BoolVar(&c.wait, "wait", true, "wait until everything is gone")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "how long to wait")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *downCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, refs []string) error {
	remote, err := c.remote.use(c.set)
	if err != nil {
		return err
	}
	if remote {
		if err := refuse(c.set, "the server's cluster is used", "kubeconfig", "context"); err != nil {
			return err
		}
		if err := refuse(c.set, "the server finds the system in any namespace", "namespace"); err != nil {
			return err
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if len(refs) == 0 {
		ref, err := c.system.ref(ctx, deps, "")
		if err != nil {
			return err
		}
		refs = []string{ref}
	} else if c.system.project != "" {
		return usageError("give the systems as arguments or with -p, not both")
	}
	sys, err := env.systems("down", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	var stop context.CancelFunc
	if remote {
		ctx, stop = remoteContext(ctx, env, c.set, c.timeout)
	} else {
		ctx, stop = withSignals(ctx, env)
	}
	defer stop()
	results, err := ops.DownRefs(ctx, sys, refs, executor.DownOptions{
		Namespace:    *c.kube.namespace,
		Volumes:      c.volumes,
		Wait:         c.wait,
		Timeout:      c.timeout,
		PollInterval: env.pollInterval,
	})
	if results == nil && err != nil {
		return failed("down", err, env.now())
	}
	return printDown(streams, results)
}

// printDown prints the GUID of each system removed, and why the others
// were not.
func printDown(streams Streams, results []executor.DownResult) error {
	var out strings.Builder
	failed := false
	for _, r := range results {
		if r.Err != nil {
			failed = true
			fmt.Fprintf(streams.Err, "tycho: down: %v\n", r.Err)
			continue
		}
		out.WriteString(r.GUID + "\n")
	}
	if _, err := io.WriteString(streams.Out, out.String()); err != nil {
		return err
	}
	if failed {
		return errReported
	}
	return nil
}
