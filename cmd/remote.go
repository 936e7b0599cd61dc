package cmd

import (
	"bufio"
	"bytes"
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

	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/api"
	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/client"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/diag"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/server"
)

// TokenEnv holds the bearer token of --server when --token-file is not
// given.
const TokenEnv = "TYCHO_TOKEN"

// remoteFlags say how to reach Tycho's HTTP API, which up, status and
// down go through instead of the cluster when --server is given.
type remoteFlags struct {
	server    string
	tokenFile string
}

func (r *remoteFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.server, "server", "", "go through Tycho's HTTP API (tycho api) at this URL instead of the cluster, e.g. https://tycho.example.org")
	fs.StringVar(&r.tokenFile, "token-file", "", "file holding the bearer token of --server (default: "+TokenEnv+")")
}

// use tells whether the command goes through the API; fs holds the
// command's flags, parsed.
func (r *remoteFlags) use(fs *pflag.FlagSet) (bool, error) {
	if strings.TrimSpace(r.server) == "" {
		if fs.Changed("server") {
			return false, usageError("--server needs the URL of a Tycho API server")
		}
		if r.tokenFile != "" {
			return false, usageError("--token-file goes with --server")
		}
		return false, nil
	}
	return true, nil
}

// client makes the API client, with the token of --token-file, else of
// TYCHO_TOKEN (none: the server will say that it wants one).
func (r *remoteFlags) client(deps Deps) (*client.Client, error) {
	token := strings.TrimSpace(deps.Env[TokenEnv])
	if r.tokenFile != "" {
		t, err := readClientToken(r.tokenFile, deps.WorkDir)
		if err != nil {
			return nil, &ExitError{Code: 1, Err: err}
		}
		token = t
	}
	var opts []client.Option
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.New(strings.TrimSpace(r.server), opts...)
	if err != nil {
		return nil, usageError("--server must be an http(s) URL such as https://tycho.example.org, not %q", r.server)
	}
	return c, nil
}

// readClientToken reads the first token of a token file: its first line
// that is neither blank nor a '#' comment, so that the server's token file
// (see tycho api --token-file) serves too.
func readClientToken(path, workDir string) (string, error) {
	if !filepath.IsAbs(path) && workDir != "" {
		path = filepath.Join(workDir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the token file: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			return t, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading the token file: %w", err)
	}
	return "", fmt.Errorf("token file %s holds no token", path)
}

// refuse is a usage error when one of the flags names was given: with
// --server, they cannot be honoured, for the reason why.
func refuse(fs *pflag.FlagSet, why string, names ...string) error {
	for _, n := range names {
		if fs.Changed(n) {
			return usageError("--%s cannot be used with --server: %s", n, why)
		}
	}
	return nil
}

// remoteContext is ctx cancelled on SIGINT/SIGTERM (so that the server
// rolls back a start) and, when --timeout was given, after it.
func remoteContext(ctx context.Context, env execEnv, fs *pflag.FlagSet, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := withSignals(ctx, env)
	if !fs.Changed("timeout") {
		return ctx, stop
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// describeRemote says why a call to the API failed, with the server's own
// message. An unknown system reads as on the local path.
func describeRemote(c *client.Client, err error) string {
	var e *client.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	if isSystemNotFound(err) {
		return e.Message
	}
	msg := fmt.Sprintf("%s: %d %s: %s", c.URL(), e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	if e.StatusCode >= 500 && e.RequestID != "" && !strings.Contains(msg, e.RequestID) {
		msg += " (request " + e.RequestID + ")"
	}
	if e.StatusCode == http.StatusUnauthorized {
		msg += "; give the token with --token-file or " + TokenEnv
	}
	return msg
}

// isSystemNotFound tells the server's answer about a GUID that no
// running system has, from a 404 of a wrong URL.
func isSystemNotFound(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound && strings.HasSuffix(e.Message, server.ErrNotFound.Error())
}

// remoteError is the exit error of a failed call.
func remoteError(c *client.Client, op string, err error) error {
	return clusterError(fmt.Errorf("%s: %s", op, describeRemote(c, err)))
}

// systemOf converts the API's status of a system for the local output.
// The API does not say whether Tycho made the namespace: it is taken to
// have when the namespace has the name Tycho gives its own (which is
// wrong only for a system started by the CLI with -n and
// --create-namespace); nor does it give the model hash.
func systemOf(s api.SystemStatus) executor.System {
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
	sys := executor.System{
		Name:         r.System,
		GUID:         r.SID,
		Namespace:    r.Namespace,
		OwnNamespace: true, // the server makes every system a namespace
		State:        executor.StateRunning,
		Services:     []executor.Service{},
		Endpoints:    endpointsOf(r.Endpoints),
	}
	return sys
}

func endpointsOf(eps []api.Endpoint) []executor.Endpoint {
	out := make([]executor.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = executor.Endpoint{Service: e.Service, IP: e.IPAddress, Port: e.Port, Protocol: e.Protocol, URL: e.URL}
	}
	return out
}

// diagsOf converts the server's diagnostics; those of the compose text
// it was sent point into file, the name the user knows it by.
func diagsOf(ds []api.Diagnostic, file string) diag.List {
	out := make(diag.List, 0, len(ds))
	for _, d := range ds {
		var sev diag.Severity
		if err := sev.UnmarshalText([]byte(d.Severity)); err != nil {
			sev = diag.Error
		}
		f := d.File
		if f == server.SourceYAML {
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

// readCompose reads the one compose file of -f (or COMPOSE_FILE, or the
// default names in the working directory and its parents).
func (c *upCmd) readCompose(streams Streams, deps Deps) (*composeText, error) {
	files := c.flags.files
	if len(files) == 0 {
		if cf := deps.Env["COMPOSE_FILE"]; cf != "" {
			sep := deps.Env["COMPOSE_PATH_SEPARATOR"]
			if sep == "" {
				sep = string(os.PathListSeparator)
			}
			files = strings.Split(cf, sep)
		}
	}
	if len(files) > 1 {
		return nil, usageError("--server takes one compose file, not %d: merge them first, e.g. "+
			"docker compose -f a.yaml -f b.yaml config | tycho up --server URL -f -", len(files))
	}
	if len(files) == 0 {
		p, err := findCompose(deps.WorkDir)
		if err != nil {
			return nil, &ExitError{Code: 1, Err: err}
		}
		if rel, err := filepath.Rel(deps.WorkDir, p); err == nil {
			p = rel
		}
		files = []string{p}
	}
	if files[0] == "-" {
		if streams.In == nil {
			return nil, &ExitError{Code: 1, Err: errors.New("-f -: no standard input")}
		}
		b, err := io.ReadAll(streams.In)
		if err != nil {
			return nil, &ExitError{Code: 1, Err: fmt.Errorf("reading standard input: %w", err)}
		}
		return &composeText{display: compiler.StdinName, dir: deps.WorkDir, content: b}, nil
	}
	p := files[0]
	if !filepath.IsAbs(p) {
		p = filepath.Join(deps.WorkDir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, &ExitError{Code: 1, Err: fmt.Errorf("reading compose file: %w", err)}
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
// Errors of the file are printed as diagnostics (errReported).
func (c *upCmd) startRequest(ctx context.Context, streams Streams, deps Deps, file *composeText) (*api.StartRequest, error) {
	envFiles := make([]string, len(c.flags.envFiles))
	for i, f := range c.flags.envFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(deps.WorkDir, f)
		}
		envFiles[i] = f
	}
	loaded, diags, err := compiler.Load(ctx, compiler.LoadOptions{
		Sources:     []compiler.Source{{Name: file.display, Content: file.content}},
		WorkDir:     file.dir,
		Env:         deps.Env,
		EnvFiles:    envFiles,
		ProjectName: c.flags.projectName,
		Profiles:    c.flags.profiles,
	})
	if err != nil {
		return nil, &ExitError{Code: 1, Err: err}
	}
	if diags.HasErrors() {
		// warnings come back from the server, with the compile's
		if err := c.flags.printDiags(streams, diags); err != nil {
			return nil, err
		}
		return nil, errReported
	}
	env := usedEnv(file.content, loaded.Env)
	if len(c.flags.profiles) > 0 {
		env["COMPOSE_PROFILES"] = strings.Join(c.flags.profiles, ",")
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
		Wait:   c.wait,
	}, nil
}

// runRemote is up through the API.
func (c *upCmd) runRemote(ctx context.Context, streams Streams, deps Deps, env execEnv) error {
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
	if err := checkDiagnostics(c.flags.diagnostics); err != nil {
		return err
	}
	cl, err := c.remote.client(deps)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	file, err := c.readCompose(streams, deps)
	if err != nil {
		return err
	}
	req, err := c.startRequest(ctx, streams, deps, file)
	if err != nil {
		return err
	}
	ctx, stop := remoteContext(ctx, env, c.set, c.timeout)
	defer stop()
	res, err := cl.Start(ctx, *req)
	if err != nil {
		var e *client.Error
		if errors.As(err, &e) && len(e.Diagnostics) > 0 {
			diags := diagsOf(e.Diagnostics, file.display)
			if err := c.flags.printDiags(streams, diags); err != nil {
				return err
			}
			if diags.HasErrors() {
				return errReported
			}
		}
		return remoteError(cl, "up", err)
	}
	if err := c.flags.printDiags(streams, diagsOf(res.Diagnostics, file.display)); err != nil {
		return err
	}
	// the status has what the start result lacks: the services, the
	// ready count, the creation time
	sys := systemOfStart(res)
	if st, err := cl.Status(ctx, res.SID); err == nil && len(st) == 1 {
		sys = systemOf(st[0])
	}
	return c.print(streams.Out, &sys)
}

// checkDiagnostics validates --diagnostics, as compiling does.
func checkDiagnostics(format string) error {
	switch format {
	case "text", "json":
		return nil
	}
	return usageError("--diagnostics must be text or json, not %q", format)
}

// runRemote is status through the API.
func (c *statusCmd) runRemote(ctx context.Context, streams Streams, deps Deps, env execEnv, guid string) error {
	if err := refuse(c.set, "the server's cluster is used", "kubeconfig", "context"); err != nil {
		return err
	}
	cl, err := c.remote.client(deps)
	if err != nil {
		return err
	}
	list, err := cl.Status(ctx, guid)
	if guid != "" && isSystemNotFound(err) {
		// none running, as on the local path
		list, err = nil, nil
	}
	if err != nil {
		return remoteError(cl, "status", err)
	}
	ns := *c.kube.namespace
	systems := make([]executor.System, 0, len(list))
	for _, s := range list {
		if ns == "" || s.Namespace == ns {
			systems = append(systems, systemOf(s))
		}
	}
	return c.print(streams.Out, systems, env.now())
}

// runRemote is down through the API: the systems are deleted in
// parallel, each alone.
func (c *downCmd) runRemote(ctx context.Context, streams Streams, deps Deps, env execEnv, guids []string) error {
	if err := refuse(c.set, "the server's cluster is used", "kubeconfig", "context"); err != nil {
		return err
	}
	if err := refuse(c.set, "the server finds the system in any namespace", "namespace"); err != nil {
		return err
	}
	cl, err := c.remote.client(deps)
	if err != nil {
		return err
	}
	ctx, stop := remoteContext(ctx, env, c.set, c.timeout)
	defer stop()
	var opts []client.DeleteOption
	if !c.volumes {
		opts = append(opts, client.KeepVolumes())
	}
	if !c.wait {
		opts = append(opts, client.NoWait())
	}
	// as executor.Down: each GUID once, in order, checked first
	results := make([]executor.DownResult, 0, len(guids))
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for _, g := range guids {
		if seen[g] {
			continue
		}
		seen[g] = true
		results = append(results, executor.DownResult{GUID: g, Err: executor.ValidateGUID(g)})
	}
	for i := range results {
		if results[i].Err != nil {
			continue
		}
		wg.Add(1)
		go func(r *executor.DownResult) {
			defer wg.Done()
			res, err := cl.Delete(ctx, r.GUID, opts...)
			if err != nil {
				r.Err = errors.New(describeRemote(cl, err))
				return
			}
			r.Deleted = res.Deleted
			if res.Pending() && c.wait {
				// the server answered before the end (202): wait for it
				if err := cl.WaitGone(ctx, r.GUID, env.pollInterval); err != nil {
					r.Err = fmt.Errorf("system %s: %s", r.GUID, describeRemote(cl, err))
				}
			}
		}(&results[i])
	}
	wg.Wait()
	return printDown(streams, results)
}
