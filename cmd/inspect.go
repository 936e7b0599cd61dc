package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/tychoctl/tycho/executor"
)

// errDiffers is diff's exit status 1 when there are changes (as kubectl
// diff's): the diff is the output, there is no error to print.
var errDiffers = &ExitError{Code: 1}

type diffCmd struct {
	flags   compileFlags
	kube    kubeFlags
	volumes bool
}

// NewDiffCommand builds `tycho diff`.
func NewDiffCommand(streams Streams, deps Deps) *cobra.Command {
	return newDiffCommand(streams, deps, defaultExecEnv())
}

func newDiffCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &diffCmd{}
	cmd := &cobra.Command{
		Use:   "diff GUID [-f FILE]...",
		Short: "Show what up would change in a system",
		Long: `Compile a compose system as up does and show what up --guid GUID would
change on the cluster: each object is server-side applied as a dry run
(nothing is changed) and compared with the live one, without the fields
the server keeps for itself (managedFields, resourceVersion, status ...).
The output is a unified diff per object: "--- /dev/null" for an object
up would create, "+++ /dev/null" for one it would prune (an object of the
system that the compose file no longer has; volumes only with
--prune-volumes). Values of Secrets are masked.

The system's namespace is found from the cluster; -n names it for a
system not started yet. Exit status: 0 no changes, 1 changes or an error,
2 usage.`,
		Example: `  tycho diff 0123456789abcdef0123456789abcdef -f compose.yaml
  tycho diff 0123456789abcdef0123456789abcdef -f compose.yaml --expose nodeport && echo unchanged`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args[0])
		},
	}
	fs := cmd.Flags()
	c.flags.register(fs)
	c.kube.register(fs, &c.flags.namespace, "")
	fs.BoolVar(&c.volumes, "prune-volumes", false, "show the volumes (PersistentVolumeClaims) the compose file no longer has as pruned too")
	return cmd
}

func (c *diffCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, guid string) error {
	if err := executor.ValidateGUID(guid); err != nil {
		return usageError("%v", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	compile, err := c.flags.compiles(ctx, deps, streams, guid)
	if err != nil {
		return err
	}
	ns, create := c.flags.namespace, c.flags.createNS
	var client *executor.Client
	if ns == "" {
		// the system's namespace is the cluster's to say; a system not
		// started yet would get the default one
		res, err := compile(ns)
		if err != nil {
			return err
		}
		if client, err = env.connect(&c.kube, deps, streams); err != nil {
			return clusterError(err)
		}
		loc, err := executor.Locate(ctx, client, guid, "")
		switch {
		case err == nil:
			ns, create = loc.Namespace, loc.OwnNamespace
		case errors.Is(err, executor.ErrNotFound):
			ns, create = executor.NamespaceFor(res.System.Name, guid), true
		default:
			return clusterError(fmt.Errorf("diff: %w", err))
		}
	}
	res, err := compile(ns)
	if err != nil {
		return err
	}
	if err := c.flags.printDiags(streams, res.Diags); err != nil {
		return err
	}
	if client == nil {
		if client, err = env.connect(&c.kube, deps, streams); err != nil {
			return clusterError(err)
		}
	}
	diffs, err := executor.Diff(ctx, client, executor.DiffOptions{
		System:          res.System.Name,
		SecurityLevel:   res.System.Policy.SecurityLevel,
		Objects:         res.Objects,
		GUID:            guid,
		Namespace:       ns,
		CreateNamespace: create,
		PruneVolumes:    c.volumes,
	})
	if err != nil {
		return clusterError(fmt.Errorf("diff: %w", err))
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
	follow bool
	// timeoutSet: --request-timeout was given, and bounds --follow too
	timeoutSet bool
	tail       int64
	previous   bool
}

// NewLogsCommand builds `tycho logs`.
func NewLogsCommand(streams Streams, deps Deps) *cobra.Command {
	return newLogsCommand(streams, deps, defaultExecEnv())
}

func newLogsCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &logsCmd{}
	cmd := &cobra.Command{
		Use:   "logs GUID [SERVICE]",
		Short: "Print the logs of a system's containers",
		Long: `Print the logs of the containers of a system (or of one of its services):
of each pod, the container named after its service. With several pods,
each line starts with "service/pod | ". --follow streams them until
interrupted (pods started later are not followed).`,
		Example: `  tycho logs 0123456789abcdef0123456789abcdef
  tycho logs 0123456789abcdef0123456789abcdef web --follow --tail 20`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			service := ""
			if len(args) == 2 {
				service = args[1]
			}
			c.timeoutSet = cmd.Flags().Changed("request-timeout")
			return c.run(cmd.Context(), streams, deps, env, args[0], service)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	fs.BoolVarP(&c.follow, "follow", "f", false, "stream the logs")
	fs.Int64Var(&c.tail, "tail", -1, "the last lines of each container (default: all)")
	fs.BoolVarP(&c.previous, "previous", "p", false, "the logs of the previous run of restarted containers")
	return cmd
}

func (c *logsCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, guid, service string) error {
	if err := executor.ValidateGUID(guid); err != nil {
		return usageError("%v", err)
	}
	kube := c.kube
	if c.follow && !c.timeoutSet {
		// a followed stream lasts until interrupted
		kube.requestTimeout = 0
	}
	client, err := env.connect(&kube, deps, streams)
	if err != nil {
		return clusterError(err)
	}
	// Ctrl-C ends --follow normally
	ctx, stop := withSignals(ctx, env)
	defer stop()
	err = executor.Logs(ctx, client, executor.LogsOptions{
		GUID:      guid,
		Namespace: *c.kube.namespace,
		Service:   service,
		Follow:    c.follow,
		Tail:      c.tail,
		Previous:  c.previous,
		Out:       streams.Out,
	})
	if err != nil {
		return clusterError(fmt.Errorf("logs: %w", err))
	}
	return nil
}

type eventsCmd struct {
	kube   kubeFlags
	output string
}

// NewEventsCommand builds `tycho events`.
func NewEventsCommand(streams Streams, deps Deps) *cobra.Command {
	return newEventsCommand(streams, deps, defaultExecEnv())
}

func newEventsCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &eventsCmd{}
	cmd := &cobra.Command{
		Use:   "events GUID",
		Short: "Show the events of a system",
		Long: `Show the Kubernetes events of a system, oldest first: all those of its
namespace when Tycho made it for the system, else those about the
system's objects. One row per event: TYPE REASON OBJECT MESSAGE AGE.`,
		Example: `  tycho events 0123456789abcdef0123456789abcdef
  tycho events 0123456789abcdef0123456789abcdef -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args[0])
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	fs.StringVarP(&c.output, "output", "o", "", "output format: json or yaml (default: a table)")
	return cmd
}

func (c *eventsCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, guid string) error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	if err := executor.ValidateGUID(guid); err != nil {
		return usageError("%v", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	client, err := env.connect(&c.kube, deps, streams)
	if err != nil {
		return clusterError(err)
	}
	events, err := executor.Events(ctx, client, executor.EventsOptions{GUID: guid, Namespace: *c.kube.namespace})
	if err != nil {
		return clusterError(fmt.Errorf("events: %w", err))
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
