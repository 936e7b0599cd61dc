package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
)

// Remote is Systems through Tycho's HTTP API (tycho api).
type Remote struct {
	// Client calls the API.
	Client *client.Client
	// Hint is added to the message of a 401 answer, e.g. where the
	// token comes from.
	Hint string
	// PollInterval is the period of WatchPs (0: 2s).
	PollInterval time.Duration
}

var _ Systems = (*Remote)(nil)

// NeedsCluster is the error of an operation op that the API does not
// offer (it wraps ErrNeedsCluster): the one message of every command
// that needs the cluster itself.
func NeedsCluster(op string) error {
	return fmt.Errorf("%s %w; drop --server and use a kubeconfig", op, ErrNeedsCluster)
}

// unavailable is the error of the operations that the API does not
// offer.
func (r *Remote) unavailable(op string) error {
	switch op {
	case "diff", "logs", "events":
		return NeedsCluster(op)
	}
	return nil
}

// Describe says why a call to the API failed, with the server's own
// message. An unknown system reads as on the local path.
func (r *Remote) Describe(err error) string {
	var e *client.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	if isSystemNotFound(err) {
		return e.Message
	}
	msg := fmt.Sprintf("%s: %d %s: %s", r.Client.URL(), e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	if e.StatusCode >= 500 && e.RequestID != "" && !strings.Contains(msg, e.RequestID) {
		msg += " (request " + e.RequestID + ")"
	}
	if e.StatusCode == http.StatusUnauthorized && r.Hint != "" {
		msg += "; " + r.Hint
	}
	return msg
}

// isSystemNotFound tells the server's answer about a GUID that no
// running system has, from a 404 of a wrong URL.
func isSystemNotFound(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound && strings.HasSuffix(e.Message, api.ErrNotFound.Error())
}

// SystemOf converts the API's status of a system. The API does not say
// whether Tycho made the namespace: it is taken to have when the
// namespace has the name Tycho gives its own (which is wrong only for a
// system started by the CLI with -n and --create-namespace); nor does it
// give the model hash.
func SystemOf(s api.SystemStatus) executor.System {
	sys := executor.System{
		Name:         s.System,
		GUID:         s.SID,
		Namespace:    s.Namespace,
		OwnNamespace: s.Namespace != "" && s.Namespace == executor.NamespaceFor(s.System, s.SID),
		State:        executor.StateRunning,
		Ready:        s.Ready,
		Total:        s.Total,
		Services:     make([]executor.Service, len(s.Services)),
		Endpoints:    endpointsOf(s.Endpoints),
	}
	if s.State == api.StateDeleting {
		sys.State = executor.StateDeleting
	}
	if t, err := time.Parse(time.RFC3339, s.Created); err == nil {
		sys.Created = t
	} else if t, err := time.Parse("01-02-2006 15:04:05", s.CreationTime); err == nil {
		sys.Created = t
	}
	for i, svc := range s.Services {
		sys.Services[i] = executor.Service{Name: svc.Name, Kind: svc.Kind, Ready: svc.Ready, State: svc.State}
	}
	return sys
}

// systemOfStart converts the result of a start, for when the status that
// follows it fails.
func systemOfStart(r *api.StartResult) executor.System {
	return executor.System{
		Name:         r.System,
		GUID:         r.SID,
		Namespace:    r.Namespace,
		OwnNamespace: true, // the server makes every system a namespace
		State:        executor.StateRunning,
		Services:     []executor.Service{},
		Endpoints:    endpointsOf(r.Endpoints),
	}
}

func endpointsOf(eps []api.Endpoint) []executor.Endpoint {
	out := make([]executor.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = executor.Endpoint{Service: e.Service, IP: e.IPAddress, Port: e.Port, Protocol: e.Protocol, URL: e.URL}
	}
	return out
}

// DiagsOf converts the server's diagnostics; those of the compose text
// it was sent point into file, the name the user knows it by.
func DiagsOf(ds []api.Diagnostic, file string) diag.List {
	out := make(diag.List, 0, len(ds))
	for _, d := range ds {
		var sev diag.Severity
		if err := sev.UnmarshalText([]byte(d.Severity)); err != nil {
			sev = diag.Error
		}
		f := d.File
		if f == api.SourceYAML {
			f = file
		}
		out = append(out, diag.Diagnostic{Severity: sev, Code: d.Code, Path: d.Path,
			Pos: ast.Pos{File: f, Line: d.Line, Col: d.Col}, Msg: d.Message, Notes: d.Notes})
	}
	return out
}

// composeText is the compose file that up sends, as the local loader
// would find it.
type composeText struct {
	// display is its name as the user wrote it; dir is the project
	// directory, where .env is.
	display string
	dir     string
	content []byte
}

// readCompose reads the one compose file of load's Files (or
// COMPOSE_FILE, or the default names in the working directory and its
// parents).
func readCompose(load compiler.LoadOptions) (*composeText, error) {
	files := load.Files
	if len(files) == 0 {
		if cf := load.Env["COMPOSE_FILE"]; cf != "" {
			sep := load.Env["COMPOSE_PATH_SEPARATOR"]
			if sep == "" {
				sep = string(os.PathListSeparator)
			}
			files = strings.Split(cf, sep)
		}
	}
	if len(files) > 1 {
		return nil, &UsageError{fmt.Errorf("--server takes one compose file, not %d: merge them first, e.g. "+
			"docker compose -f a.yaml -f b.yaml config | tycho up --server URL -f -", len(files))}
	}
	if len(files) == 0 {
		p, err := findCompose(load.WorkDir)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(load.WorkDir, p); err == nil {
			p = rel
		}
		files = []string{p}
	}
	if files[0] == "-" {
		if load.Stdin == nil {
			return nil, errors.New("-f -: no standard input")
		}
		b, err := io.ReadAll(load.Stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return &composeText{display: compiler.StdinName, dir: load.WorkDir, content: b}, nil
	}
	p := files[0]
	if !filepath.IsAbs(p) {
		p = filepath.Join(load.WorkDir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading compose file: %w", err)
	}
	return &composeText{display: filepath.Clean(files[0]), dir: filepath.Dir(p), content: b}, nil
}

// findCompose looks for a default compose file in dir and its parents,
// as the loader does.
func findCompose(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		for _, n := range compiler.DefaultFileNames {
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no compose file given with -f and none of %s found in %s or its parents",
		strings.Join(compiler.DefaultFileNames, ", "), dir)
}

// varRE finds the variables a compose text uses: $NAME or ${NAME...},
// after an odd number of '$' ($$ is a literal '$').
var varRE = regexp.MustCompile(`(\$+)\{?([A-Za-z_][A-Za-z0-9_]*)`)

// usedEnv is the part of env that text uses, so that the server
// interpolates it as the local loader would, without being sent the rest
// of the environment.
func usedEnv(text []byte, env map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range varRE.FindAllSubmatch(text, -1) {
		if len(m[1])%2 == 0 {
			continue
		}
		if v, ok := env[string(m[2])]; ok {
			out[string(m[2])] = v
		}
	}
	return out
}

// startRequest loads the compose file as the local path would, for its
// project name and variables, and makes the request that starts it.
// Errors of the file go to req.Diags (ErrDiagnostics).
func startRequest(ctx context.Context, req UpRequest, file *composeText) (*api.StartRequest, error) {
	load := req.Compile.Load
	envFiles := make([]string, len(load.EnvFiles))
	for i, f := range load.EnvFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(load.WorkDir, f)
		}
		envFiles[i] = f
	}
	loaded, diags, err := compiler.Load(ctx, compiler.LoadOptions{
		Sources:     []compiler.Source{{Name: file.display, Content: file.content}},
		WorkDir:     file.dir,
		Env:         load.Env,
		EnvFiles:    envFiles,
		ProjectName: load.ProjectName,
		Profiles:    load.Profiles,
	})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		// warnings come back from the server, with the compile's
		if req.Diags != nil {
			if err := req.Diags(diags); err != nil {
				return nil, err
			}
		}
		return nil, ErrDiagnostics
	}
	env := usedEnv(file.content, loaded.Env)
	if len(load.Profiles) > 0 {
		env["COMPOSE_PROFILES"] = strings.Join(load.Profiles, ",")
	} else if p := loaded.Env["COMPOSE_PROFILES"]; p != "" {
		env["COMPOSE_PROFILES"] = p
	}
	if len(env) == 0 {
		env = nil
	}
	return &api.StartRequest{
		Name:   loaded.Project.Name,
		Env:    env,
		System: api.YAMLSystem(string(file.content)),
		Wait:   req.Wait,
	}, nil
}

// Up sends the one compose file of req.Compile.Load, its project name and
// the variables it uses (from the environment and .env or the env files,
// with the profiles as COMPOSE_PROFILES) to the API, which compiles it
// with its own settings, makes the GUID and the namespace and rolls back
// a failed start. The rest of req.Compile is not used.
func (r *Remote) Up(ctx context.Context, req UpRequest) (*executor.System, error) {
	file, err := readCompose(req.Compile.Load)
	if err != nil {
		return nil, err
	}
	sreq, err := startRequest(ctx, req, file)
	if err != nil {
		return nil, err
	}
	res, err := r.Client.Start(ctx, *sreq)
	if err != nil {
		var e *client.Error
		if errors.As(err, &e) && len(e.Diagnostics) > 0 && req.Diags != nil {
			diags := DiagsOf(e.Diagnostics, file.display)
			if err := req.Diags(diags); err != nil {
				return nil, err
			}
			if diags.HasErrors() {
				return nil, ErrDiagnostics
			}
		}
		return nil, fmt.Errorf("up: %s", r.Describe(err))
	}
	if req.Diags != nil {
		if err := req.Diags(DiagsOf(res.Diagnostics, file.display)); err != nil {
			return nil, err
		}
	}
	// the status has what the start result lacks: the services, the
	// ready count, the creation time
	sys := systemOfStart(res)
	if st, err := r.Client.Status(ctx, res.SID); err == nil && len(st) == 1 {
		sys = SystemOf(st[0])
	}
	return &sys, nil
}

// Diff needs cluster access.
func (r *Remote) Diff(context.Context, UpRequest) ([]executor.ObjectDiff, error) {
	return nil, NeedsCluster("diff")
}

// List asks the API for the systems (of one GUID: none when the server
// knows none), of opts.Namespace only when given.
func (r *Remote) List(ctx context.Context, opts executor.StatusOptions) ([]executor.System, error) {
	list, err := r.Client.Status(ctx, opts.GUID)
	if opts.GUID != "" && isSystemNotFound(err) {
		// none running, as on the local path
		list, err = nil, nil
	}
	if err != nil {
		return nil, errors.New(r.Describe(err))
	}
	systems := make([]executor.System, 0, len(list))
	for _, s := range list {
		if opts.Namespace == "" || s.Namespace == opts.Namespace {
			systems = append(systems, SystemOf(s))
		}
	}
	return systems, nil
}

// Down asks the API to delete the systems, in parallel, each alone, and
// waits for the end of those the server answers before (202) when
// opts.Wait. opts.Namespace is not used: the server finds the system in
// any namespace.
func (r *Remote) Down(ctx context.Context, guids []string, opts executor.DownOptions) ([]executor.DownResult, error) {
	var dopts []client.DeleteOption
	if !opts.Volumes {
		dopts = append(dopts, client.KeepVolumes())
	}
	if !opts.Wait {
		dopts = append(dopts, client.NoWait())
	}
	// as executor.Down: each GUID once, in order, checked first
	results := make([]executor.DownResult, 0, len(guids))
	seen := map[string]bool{}
	for _, g := range guids {
		if seen[g] {
			continue
		}
		seen[g] = true
		results = append(results, executor.DownResult{GUID: g, Err: executor.ValidateGUID(g)})
	}
	var wg sync.WaitGroup
	for i := range results {
		if results[i].Err != nil {
			continue
		}
		res := &results[i]
		wg.Go(func() {
			d, err := r.Client.Delete(ctx, res.GUID, dopts...)
			if err != nil {
				res.Err = errors.New(r.Describe(err))
				return
			}
			res.Deleted = d.Deleted
			if d.Pending() && opts.Wait {
				// the server answered before the end (202): wait for it
				if err := r.Client.WaitGone(ctx, res.GUID, opts.PollInterval); err != nil {
					res.Err = fmt.Errorf("system %s: %s", res.GUID, r.Describe(err))
				}
			}
		})
	}
	wg.Wait()
	return results, nil
}

// Ps asks the API for the services of the system.
func (r *Remote) Ps(ctx context.Context, opts executor.PsOptions) ([]executor.ServiceStatus, error) {
	rows, err := r.Client.Services(ctx, opts.GUID)
	if err != nil {
		return nil, errors.New(r.Describe(err))
	}
	out := make([]executor.ServiceStatus, len(rows))
	for i, s := range rows {
		out[i] = executor.ServiceStatus{Service: s.Service, Kind: s.Kind, Ready: s.Ready, Desired: s.Desired, Restarts: s.Restarts,
			State: s.State, Ports: orEmpty(s.Ports), Endpoints: orEmpty(s.Endpoints)}
	}
	return out, nil
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// WatchPs asks the API for the services every PollInterval (the API has
// no watch) and calls fn when they changed.
func (r *Remote) WatchPs(ctx context.Context, opts executor.PsOptions, fn func([]executor.ServiceStatus) error) error {
	interval := r.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		rows, err := r.Ps(ctx, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if key := fmt.Sprint(rows); key != last {
			last = key
			if err := fn(rows); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Logs needs cluster access: the API serves no logs.
func (r *Remote) Logs(context.Context, executor.LogsOptions) error {
	return NeedsCluster("logs")
}

// Events needs cluster access.
func (r *Remote) Events(context.Context, executor.EventsOptions) ([]executor.ClusterEvent, error) {
	return nil, NeedsCluster("events")
}

// Restart asks the API to restart the services; the server's start
// timeout bounds the wait (opts.Timeout does not).
func (r *Remote) Restart(ctx context.Context, opts executor.RestartOptions) ([]string, error) {
	res, err := r.Client.Restart(ctx, opts.GUID, api.RestartRequest{Services: opts.Services, Wait: opts.Wait})
	if err != nil {
		return nil, errors.New(r.Describe(err))
	}
	return res.Restarted, nil
}
