package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
	"github.com/tychoctl/tycho/server"
)

const remoteToken = "remote-test-token-0123456789"

var deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// remoteServer serves the real API over the cluster of f, with the
// bearer token remoteToken; every new system gets testGUID. It returns
// the server's URL.
func remoteServer(t *testing.T, f *executortest.Fake) string {
	t.Helper()
	s, err := server.New(server.Options{
		Systems:       &server.Cluster{Client: f.Client, PollInterval: time.Millisecond},
		Tokens:        []string{remoteToken},
		NewGUID:       func() (string, error) { return testGUID, nil },
		StartTimeout:  10 * time.Second,
		DeleteTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// runDir runs up, status and down as main would, in dir with env and
// stdin. The cluster is f; with f nil, connecting to it fails, as --server
// must never do.
func runDir(t *testing.T, f *executortest.Fake, dir string, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	streams := Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	if env == nil {
		env = map[string]string{}
	}
	deps := Deps{Env: env, WorkDir: dir}
	xenv := execEnv{
		connect: func(*kubeFlags, Deps, Streams) (*executor.Client, error) {
			if f == nil {
				t.Error("the command connected to the cluster")
				return nil, errors.New("no cluster here")
			}
			return f.Client, nil
		},
		newGUID:      func() (string, error) { return testGUID, nil },
		now:          func() time.Time { return testNow },
		pollInterval: time.Millisecond,
	}
	root := &cobra.Command{Use: "tycho", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	root.AddCommand(newUpCommand(streams, deps, xenv), newStatusCommand(streams, deps, xenv), newDownCommand(streams, deps, xenv),
		newPsCommand(streams, deps, xenv), newRestartCommand(streams, deps, xenv))
	code = Execute(root, args, &errb)
	return code, out.String(), errb.String()
}

// writeFiles makes a directory holding files, by name.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// remoteArgs adds --server url and the token to args.
func remoteArgs(url string, args ...string) []string {
	return append(append([]string{}, args...), "--server", url)
}

// tokenEnv is an environment holding the test's token.
func tokenEnv() map[string]string { return map[string]string{TokenEnv: remoteToken} }

// normalised drops from a JSON or YAML System (or list of them) what the
// two paths cannot share: the creation time (the server's clock) and the
// model hash (the server compiles with its own settings; the API does not
// report it).
func normalised(t *testing.T, format, out string) string {
	t.Helper()
	b := []byte(out)
	if format == "yaml" {
		var err error
		if b, err = yaml.YAMLToJSON(b); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, out)
		}
	}
	var list []executor.System
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("not a list of systems: %v\n%s", err, out)
		}
	} else {
		var sys executor.System
		if err := json.Unmarshal(b, &sys); err != nil {
			t.Fatalf("not a system: %v\n%s", err, out)
		}
		list = []executor.System{sys}
	}
	for i := range list {
		list[i].Created, list[i].ModelHash = time.Time{}, ""
	}
	n, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(n)
}

// TestRemoteUpSameAsLocal runs up locally and through the API on two
// identical fake clusters: the output and the Deployments made are the
// same.
func TestRemoteUpSameAsLocal(t *testing.T) {
	t.Parallel()
	const tagged = `services:
  web:
    image: nginx:${TAG:-1}
    ports: ["8080:80"]
  debug:
    image: busybox:${DEBUG_TAG}
    profiles: [debug]
`
	tests := []struct {
		name   string
		files  map[string]string
		env    map[string]string
		stdin  string
		args   []string
		format string // -o
		images []string
	}{
		{name: "Table", files: map[string]string{"compose.yaml": shopCompose}, args: []string{"up", "--wait=false"}},
		{name: "JSON", files: map[string]string{"compose.yaml": shopCompose}, args: []string{"up", "--wait=false", "-o", "json"}, format: "json"},
		{name: "YAML", files: map[string]string{"compose.yaml": shopCompose}, args: []string{"up", "--wait=false", "-o", "yaml"}, format: "yaml"},
		{name: "Stdin", stdin: shopCompose, args: []string{"up", "--wait=false", "-f", "-"}},
		{name: "FileInSubdirectory", files: map[string]string{"sub/other.yaml": shopCompose}, args: []string{"up", "--wait=false", "-f", "sub/other.yaml"}},
		{name: "DefaultFileInParent", files: map[string]string{"compose.yaml": shopCompose, "deep/er/.keep": ""},
			args: []string{"up", "--wait=false"}},
		{
			// named after the directory, with .env's variables and the
			// environment's (which win), and COMPOSE_PROFILES from .env
			name:   "DotEnvAndDirectoryName",
			files:  map[string]string{"proj/compose.yaml": tagged, "proj/.env": "TAG=2\nDEBUG_TAG=1\nCOMPOSE_PROFILES=debug\nUNUSED=x\n"},
			env:    map[string]string{"DEBUG_TAG": "3"},
			args:   []string{"up", "--wait=false", "-f", "proj/compose.yaml"},
			images: []string{"busybox:3", "nginx:2"},
		},
		{
			name:  "EnvFileProjectNameProfile",
			files: map[string]string{"compose.yaml": tagged, "vars.env": "TAG=5\nDEBUG_TAG=6\n"},
			// absolute: the local path reads --env-file from the process's
			// directory
			args:   []string{"up", "--wait=false", "--env-file", "$DIR/vars.env", "-p", "named", "--profile", "debug"},
			images: []string{"busybox:6", "nginx:5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tt.files)
			wd := dir
			if tt.name == "DefaultFileInParent" {
				wd = filepath.Join(dir, "deep", "er")
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "$DIR", dir)
			}
			env := func() map[string]string {
				m := map[string]string{}
				for k, v := range tt.env {
					m[k] = v
				}
				return m
			}
			local := executortest.New(nil)
			lcode, lout, lerr := runDir(t, local, wd, env(), tt.stdin, args...)
			if lcode != 0 {
				t.Fatalf("local up: exit %d: %s", lcode, lerr)
			}
			remote := executortest.New(nil)
			renv := env()
			renv[TokenEnv] = remoteToken
			rcode, rout, rerr := runDir(t, nil, wd, renv, tt.stdin, remoteArgs(remoteServer(t, remote), args...)...)
			if rcode != 0 {
				t.Fatalf("up --server: exit %d: %s", rcode, rerr)
			}
			if tt.format != "" {
				lout, rout = normalised(t, tt.format, lout), normalised(t, tt.format, rout)
			}
			if diff := cmp.Diff(lout, rout); diff != "" {
				t.Errorf("stdout (-local +remote):\n%s", diff)
			}
			if diff := cmp.Diff(local.Names(deployments), remote.Names(deployments)); diff != "" {
				t.Errorf("Deployments (-local +remote):\n%s", diff)
			}
			if tt.images != nil {
				if diff := cmp.Diff(tt.images, images(t, remote)); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(images(t, local), images(t, remote)); diff != "" {
					t.Errorf("images (-local +remote):\n%s", diff)
				}
			}
		})
	}
}

// images lists the images of the Deployments of f, sorted.
func images(t *testing.T, f *executortest.Fake) []string {
	t.Helper()
	list, err := f.Dyn.Resource(deployments).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range list.Items {
		cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m["image"].(string))
			}
		}
	}
	sort.Strings(out)
	return out
}

// statusRecords is statusCluster with the record of shop saying that
// Tycho made its namespace, as Up writes it.
func statusRecords() []runtime.Object {
	objs := statusCluster()
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Namespace == "shop-01234567" {
			cm.Data["own-namespace"] = "true"
		}
	}
	return objs
}

// TestRemoteStatusSameAsLocal asks for the status of one fake cluster
// locally and through the API: the outputs and exit codes are the same.
func TestRemoteStatusSameAsLocal(t *testing.T) {
	t.Parallel()
	const unknown = "00000000000000000000000000000000"
	tests := []struct {
		name   string
		empty  bool
		args   []string
		format string
	}{
		{name: "Table", args: []string{"status"}},
		{name: "OneGUID", args: []string{"status", testGUID2}},
		{name: "Terse", args: []string{"status", "--terse"}},
		{name: "LegacyTerse", args: []string{"status", "-terse"}},
		{name: "Namespace", args: []string{"status", "-n", "team"}},
		{name: "UnknownGUID", args: []string{"status", unknown}},
		{name: "UnknownGUIDTerse", args: []string{"status", "--terse", unknown}},
		{name: "BadGUID", args: []string{"status", "nope"}},
		{name: "BadOutput", args: []string{"status", "-o", "wide"}},
		{name: "JSON", args: []string{"status", "-o", "json"}, format: "json"},
		{name: "YAMLOne", args: []string{"status", "-o", "yaml", testGUID}, format: "yaml"},
		{name: "NoneRunning", empty: true, args: []string{"status"}},
		{name: "NoneRunningJSON", empty: true, args: []string{"status", "-o", "json"}},
		{name: "UnknownGUIDJSON", empty: true, args: []string{"status", "-o", "json", unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var objs []runtime.Object
			if !tt.empty {
				objs = statusRecords()
			}
			f := executortest.New(objs)
			dir := t.TempDir()
			lcode, lout, lerr := runDir(t, f, dir, nil, "", tt.args...)
			rcode, rout, rerr := runDir(t, nil, dir, tokenEnv(), "", remoteArgs(remoteServer(t, f), tt.args...)...)
			if lcode != rcode {
				t.Errorf("exit code: local %d, remote %d; stderr:\n%s", lcode, rcode, rerr)
			}
			if tt.format != "" {
				lout, rout = normalised(t, tt.format, lout), normalised(t, tt.format, rout)
			}
			if diff := cmp.Diff(lout, rout); diff != "" {
				t.Errorf("stdout (-local +remote):\n%s", diff)
			}
			if diff := cmp.Diff(lerr, rerr); diff != "" {
				t.Errorf("stderr (-local +remote):\n%s", diff)
			}
		})
	}
}

// TestRemotePsRestartSameAsLocal runs ps and restart on one fake cluster
// locally and through the API: the outputs and exit codes are the same,
// and so are the patches restart sends.
func TestRemotePsRestartSameAsLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		objs func() []runtime.Object
		dir  map[string]string
		args []string
	}{
		{name: "PsByGUID", objs: psObjects, args: []string{"ps", testGUID}},
		{name: "PsByName", objs: psObjects, args: []string{"ps", "shop"}},
		{name: "PsByComposeFileHere", objs: psObjects, dir: map[string]string{"compose.yaml": shopCompose}, args: []string{"ps"}},
		{name: "PsJSON", objs: psObjects, args: []string{"ps", "shop", "-o", "json"}},
		{name: "PsAmbiguous", objs: twoShops, args: []string{"ps", "shop"}},
		{name: "PsUnknownName", objs: psObjects, args: []string{"ps", "cart"}},
		{name: "PsUnknownGUID", objs: psObjects, args: []string{"ps", testGUID2}},
		{name: "Restart", objs: psObjects, args: []string{"restart", "shop", "web"}},
		{name: "RestartAllNoWait", objs: psObjects, args: []string{"restart", "-p", "shop", "--wait=false"}},
		{name: "RestartUnknownService", objs: psObjects, args: []string{"restart", "shop", "cache"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lf, rf := executortest.New(tt.objs()), executortest.New(tt.objs())
			dir := writeFiles(t, tt.dir)
			lcode, lout, lerr := runDir(t, lf, dir, nil, "", tt.args...)
			rcode, rout, rerr := runDir(t, nil, dir, tokenEnv(), "", remoteArgs(remoteServer(t, rf), tt.args...)...)
			if lcode != rcode {
				t.Errorf("exit code: local %d, remote %d; stderr:\n%s", lcode, rcode, rerr)
			}
			if diff := cmp.Diff(lout, rout); diff != "" {
				t.Errorf("stdout (-local +remote):\n%s", diff)
			}
			// the errors are the same, the server's with its address and
			// status; up's progress lines are the local wait's
			lerr, rerr = errorLines(lerr), errorLines(regexp.MustCompile(`http://127\.0\.0\.1:\d+: 400 Bad Request: `).ReplaceAllString(rerr, ""))
			if diff := cmp.Diff(lerr, rerr); diff != "" {
				t.Errorf("stderr (-local +remote):\n%s", diff)
			}
			if diff := cmp.Diff(patches(lf), patches(rf)); diff != "" {
				t.Errorf("patches (-local +remote):\n%s", diff)
			}
		})
	}
}

// errorLines are the lines of stderr that tycho's errors start.
func errorLines(stderr string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "tycho: ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// patches are the names and bodies of the patches sent to the typed
// fake, without the time of restartedAt.
func patches(f *executortest.Fake) []string {
	var out []string
	for _, a := range f.Typed.Actions() {
		if pa, ok := a.(interface {
			GetName() string
			GetPatch() []byte
		}); ok && a.GetVerb() == "patch" {
			out = append(out, pa.GetName()+" "+regexp.MustCompile(`restartedAt":"[^"]*"`).ReplaceAllString(string(pa.GetPatch()), `restartedAt":"T"`))
		}
	}
	return out
}

// TestRemoteDownSameAsLocal starts a system, then removes it and others
// locally and through the API.
func TestRemoteDownSameAsLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "One", args: []string{"down", testGUID}, wantOut: testGUID + "\n"},
		{name: "Twice", args: []string{"down", testGUID, testGUID}, wantOut: testGUID + "\n"},
		{name: "NoWaitWithVolumes", args: []string{"down", "--wait=false", "--volumes", testGUID}, wantOut: testGUID + "\n"},
		{name: "UnknownStillDeletesTheOthers", args: []string{"down", testGUID2, testGUID}, wantCode: 1, wantOut: testGUID + "\n",
			wantErr: "tycho: down: system " + testGUID2 + ": system not found\n"},
		{name: "UnknownName", args: []string{"down", "nope", testGUID}, wantCode: 1, wantOut: testGUID + "\n",
			wantErr: `tycho: down: no running system is named "nope": system not found` + "\n"},
		{name: "BadRef", args: []string{"down", "no/pe", testGUID}, wantCode: 2,
			wantErr: `tycho: "no/pe" is neither a GUID (32 lowercase hex characters) nor a system name` + "\n"},
		// by name, as docker compose down finds its project
		{name: "ByName", args: []string{"down", "shop"}, wantOut: testGUID + "\n"},
		{name: "ByProjectFlag", args: []string{"down", "-p", "shop"}, wantOut: testGUID + "\n"},
		{name: "ByComposeFileHere", args: []string{"down"}, wantOut: testGUID + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"compose.yaml": shopCompose})
			local, remote := executortest.New(nil), executortest.New(nil)
			url := remoteServer(t, remote)
			if code, _, errOut := runDir(t, local, dir, nil, "", "up", "--wait=false"); code != 0 {
				t.Fatalf("local up: %s", errOut)
			}
			if code, _, errOut := runDir(t, nil, dir, tokenEnv(), "", remoteArgs(url, "up", "--wait=false")...); code != 0 {
				t.Fatalf("remote up: %s", errOut)
			}
			for _, run := range []struct {
				path string
				f    *executortest.Fake
				args []string
			}{
				{"local", local, tt.args},
				{"remote", nil, remoteArgs(url, tt.args...)},
			} {
				code, out, errOut := runDir(t, run.f, dir, tokenEnv(), "", run.args...)
				if code != tt.wantCode {
					t.Errorf("%s: exit code %d, want %d; stderr:\n%s", run.path, code, tt.wantCode, errOut)
				}
				if diff := cmp.Diff(tt.wantOut, out); diff != "" {
					t.Errorf("%s: stdout (-want +got):\n%s", run.path, diff)
				}
				if !strings.HasPrefix(errOut, tt.wantErr) {
					t.Errorf("%s: stderr %q, want it to start with %q", run.path, errOut, tt.wantErr)
				}
			}
			if tt.wantOut != "" {
				if got := remote.Names(deployments); len(got) != 0 {
					t.Errorf("Deployments left: %v", got)
				}
				code, out, _ := runDir(t, nil, dir, tokenEnv(), "", remoteArgs(url, "status", "--terse")...)
				if code != 0 || out != "" {
					t.Errorf("status after down: exit %d, %q", code, out)
				}
			}
		})
	}
}

// TestRemoteErrors checks the exit codes and messages of what goes wrong
// with --server.
func TestRemoteErrors(t *testing.T) {
	t.Parallel()
	url := remoteServer(t, executortest.New(statusRecords()))
	closed := httptest.NewServer(nil)
	closed.Close()
	badCompose := "services:\n  web:\n    image: nginx\n    imagex: 1\n"
	tests := []struct {
		name     string
		files    map[string]string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{name: "BadToken", env: map[string]string{TokenEnv: "wrong-token-0123456789"}, args: []string{"status", "--server", url}, wantCode: 1,
			wantErr: []string{"tycho: status: " + url + ": 401 Unauthorized: missing or wrong bearer token (Authorization: Bearer <token>); give the token with --token-file or TYCHO_TOKEN\n"}},
		{name: "NoToken", args: []string{"down", testGUID, "--server", url}, wantCode: 1,
			wantErr: []string{"tycho: down: " + url + ": 401 Unauthorized: missing or wrong bearer token"}},
		{name: "TokenFile", files: map[string]string{"token": "# the API's token\n\n" + remoteToken + "\nanother-token-0123456789\n"},
			env: map[string]string{TokenEnv: "wrong"}, args: []string{"status", "--terse", "--server", url, "--token-file", "token"},
			wantOut: testGUID2 + "\n" + testGUID + "\n"},
		{name: "TokenFileMissing", args: []string{"status", "--server", url, "--token-file", "nope"}, wantCode: 1,
			wantErr: []string{"tycho: reading the token file: open "}},
		{name: "TokenFileEmpty", files: map[string]string{"token": "# none\n"}, args: []string{"status", "--server", url, "--token-file", "token"}, wantCode: 1,
			wantErr: []string{"holds no token"}},
		{name: "Unreachable", env: tokenEnv(), args: []string{"status", "--server", closed.URL}, wantCode: 1,
			wantErr: []string{"tycho: status: tycho client: GET /v1/systems: "}},
		{name: "WrongPath", env: tokenEnv(), args: []string{"status", testGUID, "--server", url + "/nothing"}, wantCode: 1,
			wantErr: []string{"404 Not Found: no operation GET /nothing/v1/systems/" + testGUID}},
		{name: "UpCompileError", files: map[string]string{"other.yaml": badCompose}, env: tokenEnv(),
			args: []string{"up", "-f", "other.yaml", "--server", url}, wantCode: 1, wantErr: []string{"other.yaml:4:5: error: services.web.imagex: "}},
		{name: "UpRefused", files: map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: /etc/passwd\n"}, env: tokenEnv(),
			args: []string{"up", "--server", url}, wantCode: 1,
			wantErr: []string{"tycho: up: " + url + ": 400 Bad Request: system.services.web.env_file: the API reads no files of the server"}},
		{name: "UpNoFile", env: tokenEnv(), args: []string{"up", "--server", url}, wantCode: 1, wantErr: []string{"tycho: no compose file given with -f"}},
		{name: "UpTwoFiles", args: []string{"up", "-f", "a.yaml", "-f", "b.yaml", "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --server takes one compose file, not 2: merge them first"}},
		{name: "UpComposeFileList", env: map[string]string{"COMPOSE_FILE": "a.yaml:b.yaml"}, args: []string{"up", "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --server takes one compose file, not 2"}},
		{name: "UpGUID", args: []string{"up", "--guid", testGUID, "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --guid cannot be used with --server: the server makes the GUID\n"}},
		{name: "UpNamespace", args: []string{"up", "-n", "team", "--server", url}, wantCode: 2, wantErr: []string{"tycho: --namespace cannot be used with --server"}},
		{name: "UpExpose", args: []string{"up", "--expose", "nodeport", "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --expose cannot be used with --server: the server compiles with its own settings"}},
		{name: "UpKeep", args: []string{"up", "--keep-on-failure", "--server", url}, wantCode: 2, wantErr: []string{"--keep-on-failure cannot be used with --server"}},
		{name: "UpBadDiagnostics", args: []string{"up", "--diagnostics", "xml", "--server", url}, wantCode: 2, wantErr: []string{"--diagnostics must be text or json"}},
		{name: "DownNamespace", args: []string{"down", "-n", "team", testGUID, "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --namespace cannot be used with --server"}},
		{name: "StatusKubeconfig", args: []string{"status", "--kubeconfig", "k", "--server", url}, wantCode: 2,
			wantErr: []string{"tycho: --kubeconfig cannot be used with --server: the server's cluster is used"}},
		{name: "TokenFileWithoutServer", args: []string{"status", "--token-file", "t"}, wantCode: 2, wantErr: []string{"tycho: --token-file goes with --server"}},
		{name: "EmptyServer", args: []string{"down", testGUID, "--server", ""}, wantCode: 2, wantErr: []string{"tycho: --server needs the URL"}},
		{name: "NotHTTP", args: []string{"status", "--server", "ftp://example.org"}, wantCode: 2,
			wantErr: []string{`tycho: --server must be an http(s) URL such as https://tycho.example.org, not "ftp://example.org"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tt.files)
			code, out, errOut := runDir(t, nil, dir, tt.env, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr\n%s\ndoes not contain %q", errOut, w)
				}
			}
		})
	}
}

// TestRemoteUpDiagnosticsSameAsLocal checks that a system that does not
// compile is reported as locally, in both formats, with exit code 1.
func TestRemoteUpDiagnosticsSameAsLocal(t *testing.T) {
	t.Parallel()
	const bad = "services:\n  web:\n    image: nginx\n    imagex: 1\n    ports: [\"8080:80\"]\n"
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"sub/other.yaml": bad})
			args := []string{"up", "-f", "sub/other.yaml", "--diagnostics", format}
			lcode, lout, lerr := runDir(t, executortest.New(nil), dir, nil, "", args...)
			rcode, rout, rerr := runDir(t, nil, dir, tokenEnv(), "", remoteArgs(remoteServer(t, executortest.New(nil)), args...)...)
			if lcode != 1 || rcode != 1 {
				t.Errorf("exit codes: local %d, remote %d, want 1", lcode, rcode)
			}
			if lout != "" || rout != "" {
				t.Errorf("stdout: local %q, remote %q", lout, rout)
			}
			if diff := cmp.Diff(lerr, rerr); diff != "" {
				t.Errorf("stderr (-local +remote):\n%s", diff)
			}
		})
	}
}
