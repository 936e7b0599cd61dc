package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/executor"
)

// Local is Systems on a cluster that Tycho reaches itself, through the
// executor.
type Local struct {
	// Connect makes the cluster client. It is called once, when an
	// operation first needs the cluster, so that an input that does not
	// compile needs none.
	Connect func() (*executor.Client, error)

	once sync.Once
	c    *executor.Client
	err  error
}

var _ Systems = (*Local)(nil)

// NewLocal returns the Local of an existing client.
func NewLocal(c *executor.Client) *Local {
	return &Local{Connect: func() (*executor.Client, error) { return c, nil }}
}

// Client is the cluster client (made on first use), for what only a
// cluster can do after an operation, e.g. forwarding the ports of a
// system that Up started.
func (l *Local) Client() (*executor.Client, error) { return l.client() }

func (l *Local) client() (*executor.Client, error) {
	l.once.Do(func() {
		if l.Connect == nil {
			l.err = errors.New("no cluster configured")
			return
		}
		l.c, l.err = l.Connect()
		if l.err != nil {
			l.err = &ConnectError{l.err}
		}
	})
	return l.c, l.err
}

// compiles returns a function that compiles req as often as the caller
// needs (up and diff compile once for the system's name, then for its
// namespace): standard input is read once, and the Namespace is left to
// the executor, which owns it. What runs is held to the security level:
// a system that needs more fails before anything is created.
func compiles(ctx context.Context, req UpRequest) (func(namespace string) (*compiler.Result, error), error) {
	opts := req.Compile
	stdin, err := rereadable(opts.Load.Stdin, opts.Load.Files)
	if err != nil {
		return nil, err
	}
	opts.CreateNamespace = false
	opts.GUID = req.GUID
	opts.Policy.SecurityCeiling = true
	return func(namespace string) (*compiler.Result, error) {
		opts.Namespace = namespace
		opts.Load.Stdin = stdin()
		res, err := compiler.Compile(ctx, opts)
		if err != nil {
			return nil, err
		}
		if res.Diags.HasErrors() {
			if req.Diags != nil {
				if err := req.Diags(res.Diags); err != nil {
					return nil, err
				}
			}
			return nil, ErrDiagnostics
		}
		return res, nil
	}, nil
}

// rereadable reads standard input once when a file is "-", so that it can
// be given to several compiles.
func rereadable(in io.Reader, files []string) (func() io.Reader, error) {
	for _, f := range files {
		if f == "-" && in != nil {
			b, err := io.ReadAll(in)
			if err != nil {
				return nil, fmt.Errorf("reading stdin: %w", err)
			}
			return func() io.Reader { return bytes.NewReader(b) }, nil
		}
	}
	return func() io.Reader { return in }, nil
}

// placed is a compile of a request in the namespace its system is, or
// will be, in.
type placed struct {
	res    *compiler.Result
	ns     string
	create bool
	c      *executor.Client
}

// place checks req's GUID, compiles req in its namespace and hands the
// diagnostics to req.Diags. The namespace is req.Compile.Namespace, else,
// with locate, the one the cluster holds the system in, else the system's
// own, named after the system (so the system is compiled once for its
// name, then for the namespace).
func (l *Local) place(ctx context.Context, req UpRequest, op string, locate bool) (*placed, error) {
	if err := executor.ValidateGUID(req.GUID); err != nil {
		return nil, &UsageError{err}
	}
	compile, err := compiles(ctx, req)
	if err != nil {
		return nil, err
	}
	p := &placed{ns: req.Compile.Namespace, create: req.Compile.CreateNamespace}
	if p.ns == "" {
		res, err := compile("")
		if err != nil {
			return nil, err
		}
		p.ns, p.create = executor.NamespaceFor(res.System.Name, req.GUID), true
		if locate {
			c, err := l.client()
			if err != nil {
				return nil, err
			}
			loc, err := executor.Locate(ctx, c, req.GUID, "")
			switch {
			case err == nil:
				p.ns, p.create = loc.Namespace, loc.OwnNamespace
			case errors.Is(err, executor.ErrNotFound):
				// not started yet: it would get its own
			default:
				return nil, fmt.Errorf("%s: %w", op, err)
			}
		}
	}
	if p.res, err = compile(p.ns); err != nil {
		return nil, err
	}
	if req.Diags != nil {
		if err := req.Diags(p.res.Diags); err != nil {
			return nil, err
		}
	}
	if p.c, err = l.client(); err != nil {
		return nil, err
	}
	return p, nil
}

// Up compiles req and starts it with executor.Up, in a namespace of its
// own unless req.Compile.Namespace names one.
func (l *Local) Up(ctx context.Context, req UpRequest) (*executor.System, error) {
	p, err := l.place(ctx, req, "up", false)
	if err != nil {
		return nil, err
	}
	res, ns, create, c := p.res, p.ns, p.create, p.c
	sys, err := executor.Up(ctx, c, executor.UpOptions{
		System:          res.System.Name,
		SecurityLevel:   res.System.Policy.SecurityLevel,
		Objects:         res.Objects,
		References:      res.References,
		GUID:            req.GUID,
		Namespace:       ns,
		CreateNamespace: create,
		Wait:            req.Wait,
		Timeout:         req.Timeout,
		KeepOnFailure:   req.KeepOnFailure,
		PruneVolumes:    req.PruneVolumes,
		Pruned:          req.Pruned,
		Now:             req.Now,
		Progress:        req.Progress,
		PollInterval:    req.PollInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("up: %w", err)
	}
	return sys, nil
}

// Diff compiles req as Up does and tells what Up would change; the
// system's namespace is found from the cluster unless
// req.Compile.Namespace names it.
func (l *Local) Diff(ctx context.Context, req UpRequest) ([]executor.ObjectDiff, error) {
	p, err := l.place(ctx, req, "diff", true)
	if err != nil {
		return nil, err
	}
	res, ns, create, c := p.res, p.ns, p.create, p.c
	diffs, err := executor.Diff(ctx, c, executor.DiffOptions{
		System:          res.System.Name,
		SecurityLevel:   res.System.Policy.SecurityLevel,
		Objects:         res.Objects,
		GUID:            req.GUID,
		Namespace:       ns,
		CreateNamespace: create,
		PruneVolumes:    req.PruneVolumes,
	})
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	return diffs, nil
}

// List is executor.Status.
func (l *Local) List(ctx context.Context, opts executor.StatusOptions) ([]executor.System, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	return executor.Status(ctx, c, opts)
}

// Down is executor.Down.
func (l *Local) Down(ctx context.Context, guids []string, opts executor.DownOptions) ([]executor.DownResult, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	return executor.Down(ctx, c, guids, opts)
}

// Ps is executor.Ps.
func (l *Local) Ps(ctx context.Context, opts executor.PsOptions) ([]executor.ServiceStatus, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	return executor.Ps(ctx, c, opts)
}

// WatchPs is executor.WatchPs: a watch of the system's pods.
func (l *Local) WatchPs(ctx context.Context, opts executor.PsOptions, fn func([]executor.ServiceStatus) error) error {
	c, err := l.client()
	if err != nil {
		return err
	}
	return executor.WatchPs(ctx, c, opts, fn)
}

// Logs is executor.Logs.
func (l *Local) Logs(ctx context.Context, opts executor.LogsOptions) error {
	c, err := l.client()
	if err != nil {
		return err
	}
	return executor.Logs(ctx, c, opts)
}

// Events is executor.Events.
func (l *Local) Events(ctx context.Context, opts executor.EventsOptions) ([]executor.ClusterEvent, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	return executor.Events(ctx, c, opts)
}

// Restart is executor.Restart.
func (l *Local) Restart(ctx context.Context, opts executor.RestartOptions) ([]string, error) {
	c, err := l.client()
	if err != nil {
		return nil, err
	}
	return executor.Restart(ctx, c, opts)
}
