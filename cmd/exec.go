package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/ops"
)

type execCmd struct {
	kube   kubeFlags
	remote remoteFlags
	stdin  bool
	tty    bool
	index  int
	set    *pflag.FlagSet
}

// NewExecCommand builds `tycho exec`.
func NewExecCommand(streams Streams, deps Deps) *cobra.Command {
	return newExecCommand(streams, deps, defaultExecEnv())
}

func newExecCommand(streams Streams, deps Deps, env execEnv) *cobra.Command {
	c := &execCmd{}
	cmd := &cobra.Command{
		Use:   "exec [-i] [-t] SYSTEM SERVICE [--index N] -- COMMAND [ARG...]",
		Short: "Run a command in a running service",
		Long: `Run a command in the container of a service of a system, as docker
compose exec does (SYSTEM is its GUID or its name): in its first running
pod, or the --index'th (1-based; pods are ordered by StatefulSet ordinal,
then by age). -i passes the standard input, -t allocates a terminal (and
puts the local one in raw mode). Tycho exits with the command's exit
code.

exec needs access to the cluster (a kubeconfig): it cannot go through
--server.`,
		Example: `  tycho exec shop web -- ls /srv
  tycho exec -it 0123456789abcdef0123456789abcdef db --index 2 -- sh`,
		Args: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 && dash != 2 {
				return usageError("exec takes SYSTEM SERVICE -- COMMAND: %d arguments before --", dash)
			}
			if len(args) < 3 {
				return usageError("exec takes SYSTEM SERVICE -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.run(cmd.Context(), streams, deps, env, args[0], args[1], args[2:])
		},
	}
	fs := cmd.Flags()
	c.kube.register(fs, nil, "look for the system only in this namespace (default: all)")
	fs.BoolVarP(&c.stdin, "interactive", "i", false, "pass the standard input to the command")
	fs.BoolVarP(&c.tty, "tty", "t", false, "allocate a terminal")
	fs.IntVar(&c.index, "index", 1, "the replica to run in, from 1")
	c.remote.register(fs)
	c.set = fs
	return cmd
}

func (c *execCmd) run(ctx context.Context, streams Streams, deps Deps, env execEnv, system, service string, command []string) error {
	if err := needsCluster("exec", c.remote, c.set); err != nil {
		return err
	}
	if c.index < 1 {
		return usageError("--index must be 1 or more, not %d", c.index)
	}
	guid, client, err := env.resolveLocal(ctx, &c.kube, deps, streams, system)
	if err != nil {
		return err
	}
	opts := executor.ExecOptions{GUID: guid, Namespace: *c.kube.namespace, Service: service, Index: c.index,
		Command: command, Stdout: streams.Out, Stderr: streams.Err}
	if c.stdin {
		opts.Stdin = streams.In
	}
	term := setupTerminal(c.tty, c.stdin, streams)
	if c.tty && !term.ok {
		fmt.Fprintln(streams.Err, "tycho: the input is not a terminal: running without -t")
	}
	opts.TTY = term.ok
	if term.sizes != nil {
		opts.TerminalSizes = term.sizes
	}
	ctx, stop := withSignals(ctx, env)
	defer stop()
	code, err := term.run(ctx, func(ctx context.Context) (int, error) { return executor.Exec(ctx, client, opts) })
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return &ExitError{Code: 130} // interrupted, as a shell says
	case err != nil:
		return clusterError(fmt.Errorf("exec: %w", err))
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}

// needsCluster is a usage error when --server was given to a command that
// needs access to the cluster itself.
func needsCluster(command string, r remoteFlags, fs *pflag.FlagSet) error {
	if fs.Changed("server") || fs.Changed("token-file") || r.server != "" {
		return usageError("%v", ops.NeedsCluster(command))
	}
	return nil
}
