package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/ops"
)

// systems is the implementation of the operations that the flags ask
// for: the API of --server, else the cluster of the kubeconfig flags
// (connected on first use).
// op is the operation the command does, which it refuses at once when
// the implementation cannot do it.
func (env execEnv) systems(op string, kube *kubeFlags, remote *remoteFlags, set *pflag.FlagSet, deps Deps, streams Streams) (ops.Systems, error) {
	use, err := remote.use(set)
	if err != nil {
		return nil, err
	}
	if use {
		if err := refuse(set, "the server's cluster is used", "kubeconfig", "context"); err != nil {
			return nil, err
		}
		cl, err := remote.client(deps)
		if err != nil {
			return nil, err
		}
		sys := &ops.Remote{Client: cl, Hint: "give the token with --token-file or " + TokenEnv, PollInterval: env.pollInterval}
		if err := ops.Available(sys, op); err != nil {
			return nil, failed("", err, time.Time{})
		}
		return sys, nil
	}
	k := *kube
	return &ops.Local{Connect: func() (*executor.Client, error) { return env.connect(&k, deps, streams) }}, nil
}

// resolveLocal connects to the cluster of kube and resolves ref (a GUID or
// a system name) there, for the commands that need the cluster itself
// (exec, port-forward).
func (env execEnv) resolveLocal(ctx context.Context, kube *kubeFlags, deps Deps, streams Streams, ref string) (string, *executor.Client, error) {
	if _, _, err := ops.ParseRef(ref); err != nil {
		return "", nil, failed("", err, env.now())
	}
	client, err := env.connect(kube, deps, streams)
	if err != nil {
		return "", nil, clusterError(err)
	}
	sys := &ops.Local{Connect: func() (*executor.Client, error) { return client, nil }}
	guid, err := ops.Resolve(ctx, sys, ref, *kube.namespace)
	if err != nil {
		return "", nil, failed("", err, env.now())
	}
	return guid, client, nil
}

// failed is the exit error of an operation op ("" when err names it
// already): a usage error exits 2, as does an operation that needs the
// cluster asked of the API; the diagnostics of the input were printed.
func failed(op string, err error, now time.Time) error {
	var ue *ops.UsageError
	var ce *ops.ConnectError
	var ae *ops.AmbiguousError
	switch {
	case errors.Is(err, ops.ErrDiagnostics):
		return errReported
	case errors.As(err, &ue):
		return usageError("%v", err)
	case errors.Is(err, ops.ErrNeedsCluster):
		return usageError("%v", err)
	case errors.As(err, &ce):
		return clusterError(err)
	case errors.As(err, &ae):
		return clusterError(errors.New(ambiguous(ae, now)))
	case op == "":
		return clusterError(err)
	}
	return clusterError(fmt.Errorf("%s: %w", op, err))
}

// ambiguous says which systems have the name, one row each, for the
// user to pick one by its GUID.
func ambiguous(e *ops.AmbiguousError, now time.Time) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d running systems are named %q; name one by its GUID:\n", len(e.Candidates), e.Name)
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "  GUID\tNAMESPACE\tAGE")
	for _, s := range e.Candidates {
		age := "<unknown>"
		if !s.Created.IsZero() {
			age = duration.HumanDuration(now.Sub(s.Created))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.GUID, s.Namespace, age)
	}
	_ = tw.Flush()
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// systemFlags name the system of a command that takes one: its argument
// (a GUID or a name), else -p, else the name of the compose project in
// the working directory (-f), as docker compose finds its project.
type systemFlags struct {
	project string
	files   []string
}

// register adds -p and -f (--file only, when short is false: logs has
// -f for --follow, as docker compose logs).
func (f *systemFlags) register(fs *pflag.FlagSet, short bool) {
	fs.StringVarP(&f.project, "project-name", "p", "", "the system's name, when no SYSTEM is given")
	usage := "the compose file whose name: names the system, when no SYSTEM or -p is given (default: compose.yaml here)"
	if short {
		fs.StringArrayVarP(&f.files, "file", "f", nil, usage)
	} else {
		fs.StringArrayVar(&f.files, "file", nil, usage)
	}
}

// ref is the system the command names: arg, else -p, else the compose
// project of the working directory.
func (f *systemFlags) ref(ctx context.Context, deps Deps, arg string) (string, error) {
	switch {
	case arg != "" && f.project != "":
		return "", usageError("give the system as an argument or with -p, not both")
	case arg != "":
		return arg, nil
	}
	name, err := ops.ProjectName(ctx, compiler.LoadOptions{Files: f.files, WorkDir: deps.WorkDir, Env: deps.Env, ProjectName: f.project})
	if err != nil {
		// nothing named the system
		return "", &ExitError{Code: 2, Err: err}
	}
	return name, nil
}

// resolve is the GUID of the system the command names (see ref).
func (f *systemFlags) resolve(ctx context.Context, sys ops.Systems, deps Deps, env execEnv, arg, ns string) (string, error) {
	ref, err := f.ref(ctx, deps, arg)
	if err != nil {
		return "", err
	}
	guid, err := ops.Resolve(ctx, sys, ref, ns)
	if err != nil {
		return "", failed("", err, env.now())
	}
	return guid, nil
}

// resolveServices is the GUID of the system and the services of a
// command that takes [SYSTEM] [SERVICE...]: with -p (or no argument),
// every argument is a service; else ops.ResolveServices decides, with the
// compose project of the working directory.
func (f *systemFlags) resolveServices(ctx context.Context, sys ops.Systems, deps Deps, env execEnv, args []string, ns string) (string, []string, error) {
	if f.project != "" || len(args) == 0 {
		guid, err := f.resolve(ctx, sys, deps, env, "", ns)
		return guid, args, err
	}
	here := func(ctx context.Context) (string, error) {
		return ops.ProjectName(ctx, compiler.LoadOptions{Files: f.files, WorkDir: deps.WorkDir, Env: deps.Env})
	}
	guid, services, err := ops.ResolveServices(ctx, sys, args, ns, here)
	if err != nil {
		return "", nil, failed("", err, env.now())
	}
	return guid, services, nil
}
