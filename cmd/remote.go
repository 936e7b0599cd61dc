package cmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tychoctl/tycho/client"
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

// checkDiagnostics validates --diagnostics, as compiling does.
func checkDiagnostics(format string) error {
	switch format {
	case "text", "json":
		return nil
	}
	return usageError("--diagnostics must be text or json, not %q", format)
}
