package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

// runInspect runs up, diff, logs and events against f, as main would, in
// dir.
func runInspect(t *testing.T, f *executortest.Fake, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	streams := Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	deps := Deps{Env: map[string]string{}, WorkDir: dir}
	env := execEnv{
		connect:      func(*kubeFlags, Deps, Streams) (*executor.Client, error) { return f.Client, nil },
		newGUID:      func() (string, error) { return testGUID, nil },
		now:          func() time.Time { return testNow },
		pollInterval: time.Millisecond,
	}
	root := &cobra.Command{Use: "tycho", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	root.AddCommand(newUpCommand(streams, deps, env), newDiffCommand(streams, deps, env),
		newLogsCommand(streams, deps, env), newEventsCommand(streams, deps, env),
		newPsCommand(streams, deps, env), newRestartCommand(streams, deps, env))
	code = Execute(root, args, &errb)
	return code, out.String(), errb.String()
}

func composeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDiffCommand(t *testing.T) {
	t.Parallel()
	// web's image changes, db goes, cache comes
	changed := strings.Replace(shopCompose, "nginx:1.27", "nginx:1.28", 1)
	changed = strings.Replace(changed, "  db:\n    image: postgres:16\n", "  cache:\n    image: redis:7\n", 1)
	tests := []struct {
		name     string
		started  bool // up -f compose.yaml ran first
		upArgs   []string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "Unchanged", started: true, args: []string{"diff", testGUID, "-f", "compose.yaml"}},
		{
			name: "Changed", started: true, args: []string{"diff", testGUID, "-f", "changed.yaml"}, wantCode: 1,
			wantOut: []string{
				"--- live/Deployment shop-01234567/web\n+++ tycho/Deployment shop-01234567/web\n@@ ",
				"\n-      - image: nginx:1.27\n+      - image: nginx:1.28\n",
				"--- /dev/null\n+++ tycho/Deployment shop-01234567/cache\n@@ -0,0 +1,",
				"--- live/Deployment shop-01234567/db\n+++ /dev/null\n",
				"--- live/Service shop-01234567/db\n+++ /dev/null\n",
			},
		},
		{
			name: "NotStarted", args: []string{"diff", testGUID, "-f", "compose.yaml"}, wantCode: 1,
			wantOut: []string{"--- /dev/null\n+++ tycho/Namespace/shop-01234567\n", "--- /dev/null\n+++ tycho/Deployment shop-01234567/web\n"},
		},
		{
			// the namespace is found from the system's record
			name: "StartedInNamespace", started: true, upArgs: []string{"-n", "team", "--create-namespace"},
			args: []string{"diff", testGUID, "-f", "compose.yaml"},
		},
		{
			name: "StartedInNamespaceChanged", started: true, upArgs: []string{"-n", "team", "--create-namespace"},
			args: []string{"diff", testGUID, "-f", "changed.yaml"}, wantCode: 1,
			wantOut: []string{"--- live/Deployment team/web\n"},
		},
		{name: "BadGUID", args: []string{"diff", "no/pe", "-f", "compose.yaml"}, wantCode: 2, wantErr: `tycho: "no/pe" is neither a GUID`},
		{name: "UnknownName", args: []string{"diff", "nope", "-f", "compose.yaml"}, wantCode: 1, wantErr: `tycho: diff: no running system is named "nope": system not found`},
		{name: "NoGUID", args: []string{"diff", "-f", "compose.yaml"}, wantCode: 2, wantErr: "tycho: accepts 1 arg(s), received 0"},
		{name: "CompileError", args: []string{"diff", testGUID, "-f", "missing.yaml"}, wantCode: 1, wantErr: "missing.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			dir := composeDir(t, map[string]string{"compose.yaml": shopCompose, "changed.yaml": changed})
			if tt.started {
				if code, _, errOut := runInspect(t, f, dir, append([]string{"up", "--wait=false", "--guid", testGUID}, tt.upArgs...)...); code != 0 {
					t.Fatalf("up: exit %d: %s", code, errOut)
				}
			}
			applied := len(f.Applied)
			code, out, errOut := runInspect(t, f, dir, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if len(tt.wantOut) == 0 && out != "" {
				t.Errorf("stdout:\n%s\nwant nothing", out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout\n%s\ndoes not contain %q", out, w)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantErr)
			}
			if len(f.Applied) != applied {
				t.Errorf("diff applied %q", f.Applied[applied:])
			}
		})
	}
}

// inspected is a started shop: its record, two web pods and a db pod,
// and its events.
func inspected() []runtime.Object {
	const ns = "shop-01234567"
	l := func(svc string) map[string]string {
		return map[string]string{"executor": "tycho", "tycho-guid": testGUID, "app.kubernetes.io/name": svc}
	}
	rec := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: executor.RecordName(testGUID), Namespace: ns, Labels: map[string]string{
		"executor": "tycho", "tycho-guid": testGUID, "app.kubernetes.io/component": executor.RecordComponent}},
		Data: map[string]string{"system": "shop", "namespace": ns, "own-namespace": "true"}}
	pod := func(name, svc string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l(svc)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: svc, Image: svc}}}}
	}
	ev := func(name, typ, reason, obj, msg string, ago time.Duration, count int32) *corev1.Event {
		kind, objName, _ := strings.Cut(obj, "/")
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Type: typ, Reason: reason, Message: msg,
			InvolvedObject: corev1.ObjectReference{Kind: kind, Name: objName}, Count: count,
			FirstTimestamp: metav1.NewTime(testNow.Add(-ago - 10*time.Minute)), LastTimestamp: metav1.NewTime(testNow.Add(-ago))}
	}
	return []runtime.Object{
		rec, pod("web-a", "web"), pod("web-b", "web"), pod("db-a", "db"),
		ev("e2", "Warning", "BackOff", "Pod/web-a", "Back-off pulling\nimage", 30*time.Second, 4),
		ev("e1", "Normal", "Scheduled", "Pod/web-a", "Successfully assigned", 2*time.Minute, 1),
	}
}

func TestLogsCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
		wantOpts string // of the last request
		dir      map[string]string
	}{
		{name: "All", args: []string{"logs", testGUID}, wantOut: "db-1  | ready\nweb-1 | GET /\nweb-2 | GET /\n"},
		{name: "ByName", args: []string{"logs", "shop", "web"}, wantOut: "web-1 | GET /\nweb-2 | GET /\n"},
		{name: "ByProjectFlag", args: []string{"logs", "-p", "shop", "web", "db"}, wantOut: "db-1  | ready\nweb-1 | GET /\nweb-2 | GET /\n"},
		// no system is named web: the compose file here names it, as
		// docker compose logs web
		{name: "ServiceOfTheComposeFileHere", dir: map[string]string{"compose.yaml": shopCompose}, args: []string{"logs", "web"},
			wantOut: "web-1 | GET /\nweb-2 | GET /\n"},
		{name: "UnknownNameNoComposeFile", args: []string{"logs", "web"}, wantCode: 1, wantErr: `tycho: no running system is named "web": system not found`},
		{name: "OneService", args: []string{"logs", testGUID, "db", "--tail", "3", "--previous", "--no-log-prefix"}, wantOut: "ready\n", wantOpts: "db tail=3 previous"},
		{name: "UnknownService", args: []string{"logs", testGUID, "cache"}, wantCode: 1,
			wantErr: `tycho: logs: system ` + testGUID + ` has no service "cache" (its services: db, web)`},
		{name: "UnknownSystem", args: []string{"logs", testGUID2}, wantCode: 1, wantErr: "tycho: logs: system " + testGUID2 + ": system not found"},
		{name: "UnknownName", args: []string{"logs", "nope"}, wantCode: 1, wantErr: `tycho: no running system is named "nope": system not found`},
		{name: "BadRef", args: []string{"logs", "x/y"}, wantCode: 2, wantErr: `tycho: "x/y" is neither a GUID`},
		{name: "NegativeSince", args: []string{"logs", testGUID, "--since", "-1s"}, wantCode: 2, wantErr: `tycho: --since must not be negative`},
		{name: "Server", args: []string{"logs", testGUID, "--server", "http://127.0.0.1:1"}, wantCode: 2,
			wantErr: "tycho: logs needs cluster access (a kubeconfig): Tycho's HTTP API does not offer it; drop --server and use a kubeconfig\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(inspected())
			f.SetLogs("web", "GET /\n")
			f.SetLogs("db", "ready\n")
			code, out, errOut := runInspect(t, f, composeDir(t, tt.dir), tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want it to start with %q", errOut, tt.wantErr)
			}
			if tt.wantOpts != "" {
				reqs := f.LogOptions()
				o := reqs[len(reqs)-1]
				got := o.Container
				if o.TailLines != nil {
					got += " tail=" + strconv.FormatInt(*o.TailLines, 10)
				}
				if o.Previous {
					got += " previous"
				}
				if o.Follow {
					got += " follow"
				}
				if got != tt.wantOpts {
					t.Errorf("log request %q, want %q", got, tt.wantOpts)
				}
			}
		})
	}
}

func TestEventsCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		objs     []runtime.Object
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{
			name: "Table", objs: inspected(), args: []string{"events", testGUID},
			wantOut: "" +
				"TYPE      REASON      OBJECT      MESSAGE                  AGE\n" +
				"Normal    Scheduled   Pod/web-a   Successfully assigned    2m\n" +
				"Warning   BackOff     Pod/web-a   Back-off pulling image   30s (x4 over 10m)\n",
		},
		{name: "None", objs: inspected()[:4], args: []string{"events", testGUID}, wantOut: "No events\n"},
		{name: "NoneJSON", objs: inspected()[:4], args: []string{"events", testGUID, "-o", "json"}, wantOut: "[]\n"},
		{name: "UnknownSystem", args: []string{"events", testGUID}, wantCode: 1, wantErr: "tycho: events: system " + testGUID + ": system not found"},
		{name: "BadOutput", args: []string{"events", testGUID, "-o", "wide"}, wantCode: 2, wantErr: "tycho: -o must be json or yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runInspect(t, executortest.New(tt.objs), t.TempDir(), tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want it to start with %q", errOut, tt.wantErr)
			}
		})
	}
}
