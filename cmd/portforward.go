package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/executor"
)

type portForwardCmd struct {
	kube      kubeFlags
	remote    remoteFlags
	addresses []string
	// timeoutSet: --request-timeout was given
	timeoutSet bool
	set        *pflag.FlagSet
}

// NewPortForwardCommand builds `tycho port-forward`.
func NewPortForwardCommand(streams Streams, deps Deps) *cobra.Command {
	return newPortForwardCommand(streams, deps, defaultExecEnv())
}

func newPortForwardCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &portForwardCmd{}
	cmd := &cobra.Command{
		Use:   "port-forward SYSTEM [SERVICE...]",
		Short: "Forward the published ports of a system to localhost",
		Long: `Forward every published port of a system (its GUID or its name; or of
the given services) to the same port on localhost, as docker publishes
them: "ports: [8080:80]" of service web is reached at localhost:8080. It
prints one line per port ("web: localhost:8080 -> 80") and runs until
interrupted.

Each service's ports go to one ready pod. When that pod is replaced,
deleted or no longer ready, they reconnect to a ready pod (waiting for
one). A local port that is taken is reported on stderr and left out; the
others keep working. Only TCP ports are forwarded.

port-forward needs access to the cluster (a kubeconfig): it cannot go
through --server.`,
		Example: `  tycho port-forward shop
  tycho port-forward 0123456789abcdef0123456789abcdef web --address 0.0.0.0`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.timeoutSet = cmd.Flags().Changed("request-timeout")
			return c.run(cmd.Context(), streams, deps, env, args[0], args[1:])
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	fs.StringSliceVar(&c.addresses, "address", []string{"localhost"}, "addresses to listen on (comma-separated): IP addresses or localhost")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *portForwardCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, system string, services []string) error {
	if err := needsCluster("port-forward", c.remote, c.set); err != nil {
		return err
	}
	if err := executor.ValidateAddresses(c.addresses); err != nil {
		return usageError("--address: %v", err)
	}
	kube := c.kube
	if !c.timeoutSet {
		// the watches of the pods last until interrupted
		kube.requestTimeout = 0
	}
	guid, client, err := env.resolveLocal(ctx, &kube, deps, streams, system)
	if err != nil {
		return err
	}
	ctx, stop := withSignals(ctx, env)
	defer stop()
	return forward(ctx, client, executor.ForwardOptions{GUID: guid, Namespace: *c.kube.namespace,
		Services: services, Addresses: c.addresses}, streams.Out, streams.Err)
}

// forward runs executor.Forward until ctx ends, printing the ports
// forwarded on out and the rest (taken ports, reconnections) on errOut.
func forward(ctx context.Context, client *executor.Client, opts executor.ForwardOptions, out, errOut io.Writer) error {
	var mu sync.Mutex
	opts.Report = func(e executor.ForwardEvent) {
		mu.Lock()
		defer mu.Unlock()
		w := errOut
		if e.Kind == executor.ForwardReady {
			w = out
		}
		fmt.Fprintln(w, e.String())
	}
	if err := executor.Forward(ctx, client, opts); err != nil {
		return clusterError(fmt.Errorf("port-forward: %w", err))
	}
	return nil
}

// forwardPorts is up --forward: the published ports of the started system
// to localhost, until interrupted. With -o json or yaml the ports are
// printed on stderr, so that stdout holds only the system.
func (c *upCmd) forwardPorts(ctx context.Context, client *executor.Client, streams Streams, sys *executor.System) error {
	out := streams.Out
	if c.output == "json" || c.output == "yaml" {
		out = streams.Err
	}
	err := forward(ctx, client, executor.ForwardOptions{GUID: sys.GUID, Namespace: sys.Namespace}, out, streams.Err)
	if errors.Is(err, executor.ErrNothingForwarded) {
		// the system runs: that it publishes nothing is no failure of up
		fmt.Fprintf(streams.Err, "tycho: %v\n", err)
		return nil
	}
	return err
}
