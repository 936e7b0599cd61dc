package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/ops"
)

// errDiffers is diff's exit status 1 when there are changes (as kubectl
// diff's): the diff is the output, there is no error to print.
var errDiffers = &ExitError{Code: 1}

type diffCmd struct {
	flags   compileFlags
	kube    kubeFlags
	remote  remoteFlags
	volumes bool
	set     *pflag.FlagSet
}

// NewDiffCommand builds `tycho diff`.
func NewDiffCommand(streams Streams, deps Deps) *cobra.Command {
	return newDiffCommand(streams, deps, defaultExecEnv())
}

func newDiffCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &diffCmd{}
	cmd := &cobra.Command{
		Use:   "diff SYSTEM [-f FILE]...",
		Short: "Show what up would change in a system",
		Long: `Compile a compose system as up does and show what up --guid GUID would
change on the cluster: each object is server-side applied as a dry run
(nothing is changed) and compared with the live one, without the fields
the server keeps for itself (managedFields, resourceVersion, status ...).
The output is a unified diff per object: "--- /dev/null" for an object
up would create, "+++ /dev/null" for one it would prune (an object of the
system that the compose file no longer has; volumes only with
--prune-volumes). Values of Secrets are masked.

SYSTEM is a GUID, or the name of a running system. The system's namespace
is found from the cluster; -n names it for a system not started yet.
diff needs cluster access: it cannot go through --server. Exit status: 0
no changes, 1 changes or an error, 2 usage.`,
		Example: `  tycho diff 0123456789abcdef0123456789abcdef -f compose.yaml
  tycho diff shop -f compose.yaml --expose nodeport && echo unchanged`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args[0])
		},
	}
	fs := cmd.Flags()
	c.flags.register(fs)
	c.kube.register(fs, &c.flags.namespace, "")
	fs.BoolVar(&c.volumes, "prune-volumes", false, "show the volumes (PersistentVolumeClaims) the compose file no longer has as pruned too")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *diffCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, ref string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	sys, err := env.systems("diff", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	guid, _, err := ops.ParseRef(ref)
	if err != nil {
		return failed("", err, env.now())
	}
	if guid == "" {
		// a name: of a running system (in -n only, when given)
		if guid, err = ops.Resolve(ctx, sys, ref, c.flags.namespace); err != nil {
			return failed("diff", err, env.now())
		}
	}
	flags := c.flags
	flags.createNS = false
	opts, err := flags.options(deps, streams, guid)
	if err != nil {
		return err
	}
	opts.CreateNamespace = c.flags.createNS
	diffs, err := sys.Diff(ctx, ops.UpRequest{
		Compile:      opts,
		GUID:         guid,
		PruneVolumes: c.volumes,
		Diags:        func(d diag.List) error { return c.flags.printDiags(streams, d) },
	})
	if err != nil {
		return failed("", err, env.now())
	}
	var b strings.Builder
	for _, d := range diffs {
		b.WriteString(d.Unified())
	}
	if _, err := io.WriteString(streams.Out, b.String()); err != nil {
		return err
	}
	if len(diffs) > 0 {
		return errDiffers
	}
	return nil
}

type logsCmd struct {
	kube   kubeFlags
	remote remoteFlags
	system systemFlags
	follow bool
	// timeoutSet: --request-timeout was given, and bounds --follow too
	timeoutSet bool
	tail       int64
	since      time.Duration
	timestamps bool
	previous   bool
	noPrefix   bool
	noColor    bool
	set        *pflag.FlagSet
}

// NewLogsCommand builds `tycho logs`.
func NewLogsCommand(streams Streams, deps Deps) *cobra.Command {
	return newLogsCommand(streams, deps, defaultExecEnv())
}

func newLogsCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &logsCmd{}
	cmd := &cobra.Command{
		Use:   "logs [SYSTEM] [SERVICE...]",
		Short: "Print the logs of a system's services",
		Long: `Print the logs of the services of a system (all, or those named), as
docker compose logs does: of each pod, the container named after its
service, the lines of all services and replicas interleaved by time, each
prefixed "service-N | " (N numbers a service's replicas from 1 in the
order they were made), coloured per service on a terminal (not with
NO_COLOR or --no-color). --follow streams them until interrupted, and
follows the pods that start meanwhile (after a restart or a scale-up) and
the containers that restart.

SYSTEM is a GUID or a system's name. With -p NAME every argument is a
service. Without SYSTEM, or when no running system has the name of the
first argument, the system is the compose project of the working
directory (its name:), as docker compose finds its project: in the
directory of compose.yaml, "tycho logs -f web" follows service web. logs
needs cluster access: it cannot go through --server.`,
		Example: `  tycho logs shop
  tycho logs 0123456789abcdef0123456789abcdef web --follow --tail 20
  tycho logs -p shop web db --since 10m --timestamps
  tycho logs -f web     # in the directory of the system's compose.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.timeoutSet = cmd.Flags().Changed("request-timeout")
			return c.run(cmd.Context(), streams, deps, env, args)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	c.system.register(fs, false)
	fs.BoolVarP(&c.follow, "follow", "f", false, "stream the logs, and those of pods that start later")
	fs.Int64Var(&c.tail, "tail", -1, "the last lines of each container (-1: all)")
	fs.DurationVar(&c.since, "since", 0, "only the lines of this last while, e.g. 10m")
	fs.BoolVarP(&c.timestamps, "timestamps", "t", false, "show the time of each line")
	fs.BoolVar(&c.previous, "previous", false, "the logs of the previous run of restarted containers")
	fs.BoolVar(&c.noPrefix, "no-log-prefix", false, "leave out the service-N | prefix")
	fs.BoolVar(&c.noColor, "no-color", false, "no colours (default: colours on a terminal, unless NO_COLOR is set)")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *logsCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, args []string) error {
	if c.since < 0 {
		return usageError("--since must not be negative, not %s", c.since)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	kube := c.kube
	if c.follow && !c.timeoutSet {
		// a followed stream lasts until interrupted
		kube.requestTimeout = 0
	}
	sys, err := env.systems("logs", &kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	guid, services, err := c.system.resolveServices(ctx, sys, deps, env, args, *c.kube.namespace)
	if err != nil {
		return err
	}
	// Ctrl-C ends --follow normally
	ctx, stop := withSignals(ctx, env)
	defer stop()
	err = sys.Logs(ctx, executor.LogsOptions{
		GUID:       guid,
		Namespace:  *c.kube.namespace,
		Services:   services,
		Follow:     c.follow,
		Tail:       c.tail,
		Since:      c.since,
		Timestamps: c.timestamps,
		Previous:   c.previous,
		NoPrefix:   c.noPrefix,
		Color:      !c.noColor && deps.Env["NO_COLOR"] == "" && isTerminal(streams.Out),
		Out:        streams.Out,
	})
	if err != nil {
		return failed("logs", err, env.now())
	}
	return nil
}

type eventsCmd struct {
	kube   kubeFlags
	remote remoteFlags
	system systemFlags
	output string
	set    *pflag.FlagSet
}

// NewEventsCommand builds `tycho events`.
func NewEventsCommand(streams Streams, deps Deps) *cobra.Command {
	return newEventsCommand(streams, deps, defaultExecEnv())
}

func newEventsCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &eventsCmd{}
	cmd := &cobra.Command{
		Use:   "events [SYSTEM]",
		Short: "Show the events of a system",
		Long: `Show the Kubernetes events of a system, oldest first: all those of its
namespace when Tycho made it for the system, else those about the
system's objects. One row per event: TYPE REASON OBJECT MESSAGE AGE.

SYSTEM is a GUID or a system's name (default: -p, else the compose file
in the working directory). events needs cluster access: it cannot go
through --server.`,
		Example: `  tycho events 0123456789abcdef0123456789abcdef
  tycho events shop -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			arg := ""
			if len(args) == 1 {
				arg = args[0]
			}
			return c.run(cmd.Context(), streams, deps, env, arg)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	c.system.register(fs, true)
	fs.StringVarP(&c.output, "output", "o", "", "output format: json or yaml (default: a table)")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *eventsCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, arg string) error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sys, err := env.systems("events", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	guid, err := c.system.resolve(ctx, sys, deps, env, arg, *c.kube.namespace)
	if err != nil {
		return err
	}
	events, err := sys.Events(ctx, executor.EventsOptions{GUID: guid, Namespace: *c.kube.namespace})
	if err != nil {
		return failed("events", err, env.now())
	}
	switch {
	case c.output == "json" || c.output == "yaml":
		return printStructured(streams.Out, c.output, events)
	case len(events) == 0:
		_, err := fmt.Fprintln(streams.Out, "No events")
		return err
	}
	return writeEventsTable(streams.Out, events, env.now())
}

// writeEventsTable prints one row per event. AGE is kubectl's: since the
// last time, with the count and span of a repeated event.
func writeEventsTable(w io.Writer, events []executor.ClusterEvent, now time.Time) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tREASON\tOBJECT\tMESSAGE\tAGE")
	for _, e := range events {
		age := duration.HumanDuration(now.Sub(e.Last))
		if e.Count > 1 {
			age += fmt.Sprintf(" (x%d over %s)", e.Count, duration.HumanDuration(now.Sub(e.First)))
		}
		msg := strings.Join(strings.Fields(e.Message), " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, e.Object, msg, age)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
