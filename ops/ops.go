package ops

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
)

// Systems are the operations on started systems, the same whether Tycho
// reaches the cluster itself (Local) or through its API (Remote). An
// operation that one of them cannot do returns an error that wraps
// ErrNeedsCluster.
type Systems interface {
	// Up compiles and starts (or updates) a system.
	Up(ctx context.Context, req UpRequest) (*executor.System, error)
	// List reports the started systems (of one GUID, or all), sorted by
	// name and GUID.
	List(ctx context.Context, opts executor.StatusOptions) ([]executor.System, error)
	// Down deletes systems by GUID, each alone: one result per GUID,
	// in order, each once.
	Down(ctx context.Context, guids []string, opts executor.DownOptions) ([]executor.DownResult, error)
	// Diff tells what an Up of req would change.
	Diff(ctx context.Context, req UpRequest) ([]executor.ObjectDiff, error)
	// Ps reports the state of each service of a system.
	Ps(ctx context.Context, opts executor.PsOptions) ([]executor.ServiceStatus, error)
	// WatchPs calls fn with the rows of Ps, and again whenever they
	// change, until ctx ends (then it returns nil) or fn fails.
	WatchPs(ctx context.Context, opts executor.PsOptions, fn func([]executor.ServiceStatus) error) error
	// Logs copies the logs of a system's services.
	Logs(ctx context.Context, opts executor.LogsOptions) error
	// Events reports the cluster's events about a system.
	Events(ctx context.Context, opts executor.EventsOptions) ([]executor.ClusterEvent, error)
	// Restart restarts a system's services and, with Wait, waits until
	// they are rolled out; it returns the restarted workloads.
	Restart(ctx context.Context, opts executor.RestartOptions) ([]string, error)
}

// UpRequest is a system to compile and start, for Up and Diff.
type UpRequest struct {
	// Compile says what to compile and how; Compile.Namespace empty
	// means the system's own namespace (made for it, or, for Diff, the one
	// it runs in). Remote sends the one compose file of Compile.Load and
	// uses none of the rest.
	Compile compiler.Options
	// GUID is the system's; "" lets Remote's server make one (Local
	// needs it).
	GUID string
	// Wait, Timeout, KeepOnFailure, PruneVolumes, Pruned, Progress, Now
	// and PollInterval are executor.UpOptions'.
	Wait          bool
	Timeout       time.Duration
	KeepOnFailure bool
	PruneVolumes  bool
	Pruned        func(string)
	Progress      func(executor.Event)
	Now           func() time.Time
	PollInterval  time.Duration
	// Diags receives the compiler's diagnostics (warnings, or the errors
	// that stop it, after which Up returns ErrDiagnostics).
	Diags func(diag.List) error
}

// ErrNeedsCluster is (wrapped in) the error of an operation that only
// direct cluster access can do, asked of Remote.
var ErrNeedsCluster = errors.New("needs cluster access (a kubeconfig): Tycho's HTTP API does not offer it")

// Available tells whether s can do the operation op (a method name of
// Systems in lower case, e.g. "ps"): nil, or an error that wraps
// ErrNeedsCluster, so that a command fails at once, before it looks for
// the system.
func Available(s Systems, op string) error {
	if l, ok := s.(interface{ unavailable(op string) error }); ok {
		return l.unavailable(op)
	}
	return nil
}

// ErrDiagnostics is the error of an Up or Diff whose input has errors;
// they were given to UpRequest.Diags.
var ErrDiagnostics = errors.New("the compose input has errors")

// UsageError is a request that cannot be honoured as given (e.g. several
// compose files sent to the API, or a system named by something that is
// neither a GUID nor a name).
type UsageError struct{ Err error }

// Error returns the underlying error's message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *UsageError) Unwrap() error { return e.Err }

// ConnectError is a failure to make the cluster client (no kubeconfig,
// a bad context ...).
type ConnectError struct{ Err error }

// Error returns the underlying error's message.
func (e *ConnectError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConnectError) Unwrap() error { return e.Err }

// AmbiguousError is a system name that several running systems have.
type AmbiguousError struct {
	// Name is the name asked for; Candidates the systems that have it,
	// sorted by creation time.
	Name       string
	Candidates []executor.System
}

// Error says how many have the name and lists their GUIDs.
func (e *AmbiguousError) Error() string {
	guids := make([]string, len(e.Candidates))
	for i, c := range e.Candidates {
		guids[i] = c.GUID
	}
	return fmt.Sprintf("%d systems are named %q (%s): name one by its GUID", len(e.Candidates), e.Name, strings.Join(guids, ", "))
}

// nameRE is a compose project name: what compose-go accepts once
// lowercased.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ParseRef tells whether ref is a GUID or a system name; it is a
// *UsageError when it can be neither.
func ParseRef(ref string) (guid, name string, err error) {
	if executor.ValidateGUID(ref) == nil {
		return ref, "", nil
	}
	if !nameRE.MatchString(strings.ToLower(ref)) {
		return "", "", &UsageError{fmt.Errorf("%q is neither a GUID (32 lowercase hex characters) nor a system name", ref)}
	}
	return "", ref, nil
}

// Named are the systems of the name, as Resolve matches it.
func Named(systems []executor.System, name string) []executor.System {
	var out []executor.System
	for _, s := range systems {
		if s.Name == name || s.Name == strings.ToLower(name) {
			out = append(out, s)
		}
	}
	return out
}

// Resolve finds the GUID of a system named by ref: its GUID (taken as it
// is, without a lookup), else its name (the compose project name), looked
// up among the running systems (in namespace ns only, when not ""). A
// name that no system has wraps executor.ErrNotFound; one that several
// have is an *AmbiguousError; a ref that can be neither is a
// *UsageError.
func Resolve(ctx context.Context, s Systems, ref, ns string) (string, error) {
	guid, name, err := ParseRef(ref)
	if err != nil || guid != "" {
		return guid, err
	}
	all, err := s.List(ctx, executor.StatusOptions{Namespace: ns})
	if err != nil {
		return "", err
	}
	found := Named(all, name)
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no running system is named %q: %w", ref, executor.ErrNotFound)
	case 1:
		return found[0].GUID, nil
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Created.Before(found[j].Created) })
	return "", &AmbiguousError{Name: ref, Candidates: found}
}

// ResolveServices resolves the arguments [SYSTEM] [SERVICE...] of a
// command such as logs or restart: the first names the system (Resolve)
// and the others are services, unless no running system has the name of
// the first and here (the compose project of the working directory, see
// ProjectName) names one that runs: then that is the system and every
// argument a service (tycho logs web, as docker compose logs web). Its
// errors are Resolve's, for the first argument.
func ResolveServices(ctx context.Context, s Systems, args []string, ns string, here func(context.Context) (string, error)) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, &UsageError{errors.New("no system named")}
	}
	guid, err := Resolve(ctx, s, args[0], ns)
	if err == nil {
		return guid, args[1:], nil
	}
	if errors.Is(err, executor.ErrNotFound) && here != nil {
		if name, perr := here(ctx); perr == nil {
			if g, rerr := Resolve(ctx, s, name, ns); rerr == nil {
				return g, args, nil
			}
		}
	}
	return "", nil, err
}

// ProjectName is the name of the compose project of load (by default the
// compose file in the working directory or its parents), as up would
// name the system: -p, else the file's name:, COMPOSE_PROJECT_NAME or the
// directory's name. It is how a command finds the system of the current
// directory when none is named.
func ProjectName(ctx context.Context, load compiler.LoadOptions) (string, error) {
	if load.ProjectName != "" {
		return load.ProjectName, nil
	}
	loaded, diags, err := compiler.Load(ctx, load)
	if err == nil && diags.HasErrors() {
		err = diags
	}
	if err != nil {
		return "", fmt.Errorf("no system named, and the compose file here does not name one: %w", err)
	}
	return loaded.Project.Name, nil
}

// DownRefs resolves each of refs (GUIDs or names) and deletes the
// systems, each once, in order: a ref that names no system is a result
// with its error, and the others are still deleted.
func DownRefs(ctx context.Context, s Systems, refs []string, opts executor.DownOptions) ([]executor.DownResult, error) {
	type slot struct {
		ref, guid string
		err       error
	}
	slots := make([]slot, len(refs))
	var guids []string
	seen := map[string]bool{}
	for i, r := range refs {
		g, err := Resolve(ctx, s, r, opts.Namespace)
		var ue *UsageError
		if errors.As(err, &ue) {
			return nil, err
		}
		slots[i] = slot{ref: r, guid: g, err: err}
		if err == nil && !seen[g] {
			seen[g] = true
			guids = append(guids, g)
		}
	}
	byGUID := map[string]executor.DownResult{}
	var downErr error
	if len(guids) > 0 {
		results, err := s.Down(ctx, guids, opts)
		if results == nil && err != nil {
			return nil, err
		}
		downErr = err
		for _, r := range results {
			byGUID[r.GUID] = r
		}
	}
	out := make([]executor.DownResult, 0, len(refs))
	done := map[string]bool{}
	for _, sl := range slots {
		switch {
		case sl.err != nil:
			out = append(out, executor.DownResult{GUID: sl.ref, Err: sl.err})
		case !done[sl.guid]:
			done[sl.guid] = true
			out = append(out, byGUID[sl.guid])
		}
	}
	return out, downErr
}
