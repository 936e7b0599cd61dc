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

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/ops"
)

type psCmd struct {
	kube   kubeFlags
	remote remoteFlags
	system systemFlags
	output string
	watch  bool
	set    *pflag.FlagSet
}

// NewPsCommand builds `tycho ps`.
func NewPsCommand(streams Streams, deps Deps) *cobra.Command {
	return newPsCommand(streams, deps, defaultExecEnv())
}

func newPsCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &psCmd{}
	cmd := &cobra.Command{
		Use:   "ps [SYSTEM]",
		Short: "Show the services of a system",
		Long: `Show one row per service of a system, as docker compose ps does: its
workload kind, its ready and desired replicas, the restarts of its
containers, its state (running, updating, starting, completed, stopped,
failed, or why a pod does not run: CrashLoopBackOff, ImagePullBackOff,
Error, OOMKilled, "Pending: " and the scheduler's reason ...), the ports
its pods are reached on inside the system and the addresses of its
published ports.
--watch prints the rows again whenever a pod of the system changes.

SYSTEM is a GUID or a system's name (default: -p, else the compose file in
the working directory). With --server URL, ps asks Tycho's HTTP API (GET
/v1/systems/{guid}/services), and --watch asks it again every 2 seconds.`,
		Example: `  tycho ps shop
  tycho ps 0123456789abcdef0123456789abcdef -o json
  tycho ps --watch`,
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
	fs.BoolVarP(&c.watch, "watch", "w", false, "print the rows again whenever they change, until interrupted")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *psCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, arg string) error {
	if err := checkOutput(c.output); err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	kube := c.kube
	if c.watch && !c.set.Changed("request-timeout") {
		// a watch lasts until interrupted
		kube.requestTimeout = 0
	}
	sys, err := env.systems("ps", &kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	guid, err := c.system.resolve(ctx, sys, deps, env, arg, *c.kube.namespace)
	if err != nil {
		return err
	}
	opts := executor.PsOptions{GUID: guid, Namespace: *c.kube.namespace}
	if !c.watch {
		rows, err := sys.Ps(ctx, opts)
		if err != nil {
			return failed("ps", err, env.now())
		}
		return c.print(streams.Out, rows)
	}
	ctx, stop := withSignals(ctx, env)
	defer stop()
	first := true
	err = sys.WatchPs(ctx, opts, func(rows []executor.ServiceStatus) error {
		if !first && c.output == "" {
			if _, err := fmt.Fprintln(streams.Out); err != nil {
				return err
			}
		}
		first = false
		return c.print(streams.Out, rows)
	})
	if err != nil {
		return failed("ps", err, env.now())
	}
	return nil
}

// print writes the rows as -o asks.
func (c *psCmd) print(w io.Writer, rows []executor.ServiceStatus) error {
	switch c.output {
	case "json", "yaml":
		if rows == nil {
			rows = []executor.ServiceStatus{}
		}
		return printStructured(w, c.output, rows)
	}
	return writePsTable(w, rows)
}

// writePsTable prints one row per service.
func writePsTable(w io.Writer, rows []executor.ServiceStatus) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tKIND\tREADY\tRESTARTS\tSTATE\tPORTS\tENDPOINTS")
	dash := func(list []string) string {
		if len(list) == 0 {
			return "-"
		}
		return strings.Join(list, ",")
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\n", r.Service, r.Kind, r.Ready, r.Desired, r.Restarts,
			r.State, dash(r.Ports), dash(r.Endpoints))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

type restartCmd struct {
	kube    kubeFlags
	remote  remoteFlags
	system  systemFlags
	wait    bool
	timeout time.Duration
	set     *pflag.FlagSet
}

// NewRestartCommand builds `tycho restart`.
func NewRestartCommand(streams Streams, deps Deps) *cobra.Command {
	return newRestartCommand(streams, deps, defaultExecEnv())
}

func newRestartCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &restartCmd{}
	cmd := &cobra.Command{
		Use:   "restart [SYSTEM] [SERVICE...]",
		Short: "Restart the services of a system",
		Long: `Restart the services of a system (all, or those named) as kubectl rollout
restart does: the pod template of each Deployment and DaemonSet gets the
annotation kubectl.kubernetes.io/restartedAt, and its controller replaces
the pods one by one. restart waits until they are rolled out, as up
waits (--wait=false does not), and prints each workload restarted. A Job
runs once: naming one is an error, and without names Jobs are left
alone.

SYSTEM is a GUID or a system's name; with -p, every argument is a
service. Without SYSTEM, or when no running system has the name of the
first argument, the system is the compose project of the working
directory (tycho restart web, as docker compose restart web).

With --server URL, restart asks Tycho's HTTP API (POST
/v1/systems/{guid}/restart): the server's start timeout bounds the wait,
--timeout (when given) the whole call.`,
		Example: `  tycho restart shop
  tycho restart 0123456789abcdef0123456789abcdef web worker
  tycho restart -p shop web --timeout 2m`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args)
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	c.system.register(fs, true)
	fs.BoolVar(&c.wait, "wait", true, "wait until the restarted workloads are rolled out")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "how long to wait")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *restartCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, args []string) error {
	if c.timeout <= 0 {
		return usageError("--timeout must be positive, not %s", c.timeout)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sys, err := env.systems("restart", &c.kube, &c.remote, c.set, deps, streams)
	if err != nil {
		return err
	}
	guid, services, err := c.system.resolveServices(ctx, sys, deps, env, args, *c.kube.namespace)
	if err != nil {
		return err
	}
	// through the API, the server's start timeout bounds the wait, and
	// --timeout (when given) the call
	var stop context.CancelFunc
	if _, remote := sys.(*ops.Remote); remote {
		ctx, stop = remoteContext(ctx, env, c.set, c.timeout)
	} else {
		ctx, stop = withSignals(ctx, env)
	}
	defer stop()
	p := &progress{w: streams.Err, tty: isTerminal(streams.Out) && isTerminal(streams.Err)}
	done, err := sys.Restart(ctx, executor.RestartOptions{
		GUID:         guid,
		Namespace:    *c.kube.namespace,
		Services:     services,
		Wait:         c.wait,
		Timeout:      c.timeout,
		Now:          env.now,
		Progress:     p.event,
		PollInterval: env.pollInterval,
	})
	p.done()
	var b strings.Builder
	for _, w := range done {
		fmt.Fprintf(&b, "%s restarted\n", w)
	}
	if _, werr := io.WriteString(streams.Out, b.String()); werr != nil {
		return werr
	}
	if err != nil {
		return failed("restart", err, env.now())
	}
	return nil
}
