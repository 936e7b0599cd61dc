package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/executor/executortest"
)

const (
	testGUID  = "0123456789abcdef0123456789abcdef"
	testGUID2 = "fedcba9876543210fedcba9876543210"
)

var testNow = time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)

const shopCompose = `name: shop
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
  db:
    image: postgres:16
`

// runExec runs the executor commands against f, as main would, in a
// directory holding compose.yaml.
func runExec(t *testing.T, f *executortest.Fake, compose string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runExecIn(t, f, compose, "", args...)
}

// runExecIn is runExec with stdin.
func runExecIn(t *testing.T, f *executortest.Fake, compose, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	if compose != "" {
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	streams := Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	deps := Deps{Env: map[string]string{}, WorkDir: dir}
	env := execEnv{
		connect: func(*kubeFlags, Deps, Streams) (*executor.Client, error) { return f.Client, nil },
		newGUID: func() (string, error) { return testGUID, nil },
		now:     func() time.Time { return testNow },
		// the fakes answer at once
		pollInterval: time.Millisecond,
	}
	root := &cobra.Command{Use: "tycho", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	root.AddCommand(newUpCommand(streams, deps, env), newStatusCommand(streams, deps, env), newDownCommand(streams, deps, env))
	code = Execute(root, args, &errb)
	return code, out.String(), errb.String()
}

func TestUpCommand(t *testing.T) {
	t.Parallel()
	const header = "SYSTEM                         GUID                                IP_ADDRESS      PORT   \n"
	tests := []struct {
		name       string
		args       []string
		stdin      string // compose on stdin instead of compose.yaml
		reject     string // Deployment the API server rejects
		wantCode   int
		wantOut    string
		wantErr    []string
		wantNS     string // namespace of the Deployments; "" for none
		wantJSONNS string
	}{
		{
			name:    "Table",
			args:    []string{"up", "--wait=false"},
			wantOut: header + "shop                           " + testGUID + "    -               8080   \n",
			wantNS:  "shop-01234567",
		},
		{
			name:    "GivenGUID",
			args:    []string{"up", "--wait=false", "--guid", testGUID2},
			wantOut: header + "shop                           " + testGUID2 + "    -               8080   \n",
			wantNS:  "shop-fedcba98",
		},
		{
			// stdin is read once, though up compiles twice
			name:    "Stdin",
			args:    []string{"up", "--wait=false", "-f", "-"},
			stdin:   shopCompose,
			wantOut: header + "shop                           " + testGUID + "    -               8080   \n",
			wantNS:  "shop-01234567",
		},
		{
			name:     "Namespace",
			args:     []string{"up", "--wait=false", "-n", "team"},
			wantCode: 1,
			wantErr:  []string{"tycho: up: namespace team not found (leave out -n, or add --create-namespace, to have Tycho create it)"},
		},
		{
			name:    "CreateNamespace",
			args:    []string{"up", "--wait=false", "-n", "team", "--create-namespace"},
			wantOut: header + "shop                           " + testGUID + "    -               8080   \n",
			wantNS:  "team",
		},
		{
			name:       "JSON",
			args:       []string{"up", "--wait=false", "-o", "json"},
			wantNS:     "shop-01234567",
			wantJSONNS: "shop-01234567",
		},
		{
			name:     "Rejected",
			args:     []string{"up", "--wait=false"},
			reject:   "web",
			wantCode: 1,
			wantErr:  []string{`tycho: up: Deployment shop-01234567/web: Deployment.apps "web" is invalid`, "rolled back: deleted the"},
		},
		{
			name:     "BadGUID",
			args:     []string{"up", "--guid", "XYZ"},
			wantCode: 2,
			wantErr:  []string{`tycho: --guid: guid "XYZ": want 32 lowercase hex characters`},
		},
		{
			name:     "BadOutput",
			args:     []string{"up", "-o", "wide"},
			wantCode: 2,
			wantErr:  []string{`tycho: -o must be json or yaml (or table, the default), not "wide"`},
		},
		{
			name:     "CompileError",
			args:     []string{"up", "--expose", "nowhere"},
			wantCode: 2,
			wantErr:  []string{"--expose must be loadbalancer, nodeport, clusterip, ingress or gateway"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			if tt.reject != "" {
				f.Reject("deployments", tt.reject, apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, tt.reject, nil))
			}
			compose := shopCompose
			if tt.stdin != "" {
				compose = ""
			}
			code, out, errOut := runExecIn(t, f, compose, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr\n%s\ndoes not contain %q", errOut, w)
				}
			}
			if tt.wantOut != "" {
				if diff := cmp.Diff(tt.wantOut, out); diff != "" {
					t.Errorf("stdout (-want +got):\n%s", diff)
				}
			}
			if tt.wantJSONNS != "" {
				var sys executor.System
				if err := json.Unmarshal([]byte(out), &sys); err != nil {
					t.Fatalf("stdout is not a JSON System: %v\n%s", err, out)
				}
				if sys.Namespace != tt.wantJSONNS || sys.GUID != testGUID || sys.Name != "shop" {
					t.Errorf("JSON: %+v", sys)
				}
			}
			var want []string
			if tt.wantNS != "" {
				want = []string{tt.wantNS + "/db", tt.wantNS + "/web"}
			}
			got := f.Names(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Deployments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteUpTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sys  executor.System
		want string
	}{
		{
			name: "Endpoints",
			sys: executor.System{Name: "jupyter-ds", GUID: testGUID, Endpoints: []executor.Endpoint{
				{Service: "web", IP: "35.1.2.3", Port: 8888, Protocol: "TCP"},
				{Service: "dns", IP: "10.0.0.2", Port: 30053, Protocol: "UDP"},
			}},
			want: "" +
				"SYSTEM                         GUID                                IP_ADDRESS      PORT   \n" +
				"jupyter-ds                     0123456789abcdef0123456789abcdef    35.1.2.3        8888   \n" +
				"jupyter-ds                     0123456789abcdef0123456789abcdef    10.0.0.2        30053/udp\n",
		},
		{
			name: "NoneAndLongName",
			sys:  executor.System{Name: "a-system-name-longer-than-thirty-characters", GUID: testGUID},
			want: "" +
				"SYSTEM                         GUID                                IP_ADDRESS      PORT   \n" +
				"a-system-name-longer-than-th.. 0123456789abcdef0123456789abcdef    -               -      \n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := writeUpTable(&b, &tt.sys); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("writeUpTable (-want +got):\n%s", diff)
			}
		})
	}
}

// statusCluster holds two systems: shop (one of two services ready, a
// node port) and billing (ready, no published port).
func statusCluster() []runtime.Object {
	rec := func(ns, guid, name string, created time.Time) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: executor.RecordName(guid), Namespace: ns, Labels: map[string]string{
			"executor": "tycho", "tycho-guid": guid, "app.kubernetes.io/component": executor.RecordComponent}},
			Data: map[string]string{"system": name, "namespace": ns, "created": created.Format(time.RFC3339)}}
	}
	dep := func(ns, guid, name string, ready bool) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"executor": "tycho", "tycho-guid": guid}}}
		if ready {
			d.Status = appsv1.DeploymentStatus{UpdatedReplicas: 1, AvailableReplicas: 1, ReadyReplicas: 1}
		}
		return d
	}
	np := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-published", Namespace: "shop-01234567",
		Labels: map[string]string{"executor": "tycho", "tycho-guid": testGUID, "app.kubernetes.io/name": "web"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 8080, NodePort: 30080, Protocol: corev1.ProtocolTCP}}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-0"}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	return []runtime.Object{
		rec("shop-01234567", testGUID, "shop", testNow.Add(-90*time.Minute)), dep("shop-01234567", testGUID, "web", true), dep("shop-01234567", testGUID, "db", false), np,
		rec("team", testGUID2, "billing", testNow.Add(-3*24*time.Hour)), dep("team", testGUID2, "api", true),
		node,
	}
}

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	table := "" +
		"SYSTEM    GUID                               NAMESPACE       READY   ENDPOINTS        AGE\n" +
		"billing   fedcba9876543210fedcba9876543210   team            1/1     -                3d\n" +
		"shop      0123456789abcdef0123456789abcdef   shop-01234567   1/2     10.0.0.1:30080   90m\n"
	tests := []struct {
		name     string
		empty    bool
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "Table", args: []string{"status"}, wantOut: table},
		{name: "OneGUID", args: []string{"status", testGUID2}, wantOut: "" +
			"SYSTEM    GUID                               NAMESPACE   READY   ENDPOINTS   AGE\n" +
			"billing   fedcba9876543210fedcba9876543210   team        1/1     -           3d\n"},
		{name: "Terse", args: []string{"status", "--terse"}, wantOut: testGUID2 + "\n" + testGUID + "\n"},
		{name: "LegacyTerse", args: []string{"status", "-terse"}, wantOut: testGUID2 + "\n" + testGUID + "\n"},
		{name: "LegacyTerseAfterGUID", args: []string{"status", testGUID, "-terse"}, wantOut: testGUID + "\n"},
		{name: "NoneRunning", empty: true, args: []string{"status"}, wantOut: "None running\n"},
		{name: "NoneRunningTerse", empty: true, args: []string{"status", "--terse"}, wantOut: ""},
		{name: "NoneRunningJSON", empty: true, args: []string{"status", "-o", "json"}, wantOut: "[]\n"},
		{name: "Namespace", args: []string{"status", "-n", "team", "--terse"}, wantOut: testGUID2 + "\n"},
		{name: "TwoGUIDs", args: []string{"status", testGUID, testGUID2}, wantCode: 2, wantErr: "tycho: status takes at most one GUID, got 2 arguments\n"},
		{name: "BadGUID", args: []string{"status", "no/pe"}, wantCode: 2, wantErr: `tycho: "no/pe" is neither a GUID (32 lowercase hex characters) nor a system name`},
		{name: "UnknownName", args: []string{"status", "nope"}, wantOut: "None running\n"},
		{name: "NameAndP", args: []string{"status", "nope", "-p", "nope"}, wantCode: 2, wantErr: "tycho: give the system as an argument or with -p, not both\n"},
		{name: "UnknownFlag", args: []string{"status", "--bogus"}, wantCode: 2, wantErr: "tycho: unknown flag: --bogus\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var objs []runtime.Object
			if !tt.empty {
				objs = statusCluster()
			}
			code, out, errOut := runExec(t, executortest.New(objs), "", tt.args...)
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

// A system being deleted shows "deleting" in the READY column and in
// the state of -o json.
func TestStatusCommandDeleting(t *testing.T) {
	t.Parallel()
	objs := statusCluster()
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok && cm.Namespace == "team" {
			cm.Labels[executor.LabelDeleting] = "1700000000"
		}
	}
	code, out, errOut := runExec(t, executortest.New(objs), "", "status", testGUID2)
	want := "" +
		"SYSTEM    GUID                               NAMESPACE   READY      ENDPOINTS   AGE\n" +
		"billing   fedcba9876543210fedcba9876543210   team        deleting   -           3d\n"
	if diff := cmp.Diff(want, out); code != 0 || diff != "" {
		t.Errorf("status: exit %d, %s; stdout (-want +got):\n%s", code, errOut, diff)
	}
	_, out, _ = runExec(t, executortest.New(objs), "", "status", "-o", "json", testGUID2)
	if !strings.Contains(out, `"state": "deleting"`) {
		t.Errorf("status -o json:\n%s\nwant state deleting", out)
	}
}

func TestStatusCommandJSON(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "yaml"} {
		code, out, errOut := runExec(t, executortest.New(statusCluster()), "", "status", "-o", format, testGUID)
		if code != 0 {
			t.Fatalf("status -o %s: exit %d: %s", format, code, errOut)
		}
		for _, w := range []string{testGUID, "shop-01234567", "10.0.0.1", "30080"} {
			if !strings.Contains(out, w) {
				t.Errorf("status -o %s:\n%s\ndoes not contain %q", format, out, w)
			}
		}
	}
}

func TestStatusCommandHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := runExec(t, executortest.New(nil), "", "status", "-h")
	if code != 0 || !strings.Contains(out, "--terse") {
		t.Errorf("status -h: exit %d, output:\n%s", code, out)
	}
}

func TestLegacyArgs(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want []string }{
		{[]string{"-terse"}, []string{"--terse"}},
		{[]string{testGUID, "-terse", "-o", "json"}, []string{testGUID, "--terse", "-o", "json"}},
		{[]string{"--terse"}, []string{"--terse"}},
		{[]string{"--", "-terse"}, []string{"--", "-terse"}},
		{[]string{}, []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, legacyArgs(tt.in)); diff != "" {
			t.Errorf("legacyArgs(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestDownCommand(t *testing.T) {
	t.Parallel()
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop-01234567", Labels: map[string]string{"executor": "tycho", "tycho-guid": testGUID}}}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "shop-01234567", Labels: map[string]string{"executor": "tycho", "tycho-guid": testGUID}}}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{name: "One", args: []string{"down", testGUID}, wantOut: testGUID + "\n"},
		{name: "UnknownStillDeletesTheOthers", args: []string{"down", testGUID2, testGUID}, wantCode: 1, wantOut: testGUID + "\n",
			wantErr: "tycho: down: system " + testGUID2 + ": system not found\n"},
		{name: "NoGUID", args: []string{"down"}, wantCode: 2, wantErr: "tycho: no system named, and the compose file here does not name one: no compose file given"},
		{name: "UnknownName", args: []string{"down", "nope", testGUID}, wantCode: 1, wantOut: testGUID + "\n",
			wantErr: "tycho: down: no running system is named \"nope\": system not found\n"},
		{name: "BadName", args: []string{"down", "no/pe", testGUID}, wantCode: 2,
			wantErr: "tycho: \"no/pe\" is neither a GUID (32 lowercase hex characters) nor a system name\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil, ns, cm)
			code, out, errOut := runExec(t, f, "", tt.args...)
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

func TestKubeFlagsRestConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["a"] = &clientcmdapi.Cluster{Server: "https://a.example:6443"}
	cfg.Clusters["b"] = &clientcmdapi.Cluster{Server: "https://b.example:6443"}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["ctx-a"] = &clientcmdapi.Context{Cluster: "a", AuthInfo: "u"}
	cfg.Contexts["ctx-b"] = &clientcmdapi.Context{Cluster: "b", AuthInfo: "u"}
	cfg.CurrentContext = "ctx-a"
	path := filepath.Join(dir, "config")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*cfg, filepath.Join(home, ".kube", "config")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		flags      kubeFlags
		env        map[string]string
		wantServer string
		wantErr    string
	}{
		{name: "Flag", flags: kubeFlags{kubeconfig: path, requestTimeout: 7 * time.Second}, wantServer: "https://a.example:6443"},
		{name: "Context", flags: kubeFlags{kubeconfig: path, context: "ctx-b"}, wantServer: "https://b.example:6443"},
		{name: "Env", env: map[string]string{"KUBECONFIG": path}, wantServer: "https://a.example:6443"},
		{name: "Home", env: map[string]string{"HOME": home}, wantServer: "https://a.example:6443"},
		{name: "MissingFlagFile", flags: kubeFlags{kubeconfig: filepath.Join(dir, "nope")}, wantErr: "loading the kubeconfig"},
		{name: "UnknownContext", flags: kubeFlags{kubeconfig: path, context: "ctx-z"}, wantErr: `context "ctx-z" does not exist`},
		{name: "Nothing", env: map[string]string{"HOME": filepath.Join(dir, "empty")}, wantErr: "no cluster configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.name == "Nothing" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
				t.Skip("in a pod, the in-cluster configuration is used")
			}
			got, err := tt.flags.restConfig(Deps{Env: tt.env}, &bytes.Buffer{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("restConfig: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("restConfig: %v", err)
			}
			if got.Host != tt.wantServer || got.BearerToken != "t" || !strings.HasPrefix(got.UserAgent, "tycho/") {
				t.Errorf("restConfig: host %q token %q agent %q, want %q, t, tycho/…", got.Host, got.BearerToken, got.UserAgent, tt.wantServer)
			}
			if got.Timeout != tt.flags.requestTimeout {
				t.Errorf("restConfig: timeout %v, want %v (--request-timeout)", got.Timeout, tt.flags.requestTimeout)
			}
		})
	}
}

// TestRequestTimeout: every command that talks to the cluster bounds each
// request (30s unless --request-timeout says otherwise), except a followed
// log stream, which lasts until interrupted unless the flag is given.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	const guid = "0123456789abcdef0123456789abcdef"
	type build func(Streams, Deps, execEnv) *cobra.Command
	tests := []struct {
		name string
		cmd  build
		args []string
		want time.Duration
	}{
		{"UpDefault", newUpCommand, []string{"-f", "-"}, 30 * time.Second},
		{"UpFlag", newUpCommand, []string{"-f", "-", "--request-timeout", "7s"}, 7 * time.Second},
		{"StatusDefault", newStatusCommand, nil, 30 * time.Second},
		{"DownFlagZero", newDownCommand, []string{guid, "--request-timeout", "0"}, 0},
		{"LogsDefault", newLogsCommand, []string{guid}, 30 * time.Second},
		{"LogsFollow", newLogsCommand, []string{guid, "--follow"}, 0},
		{"LogsFollowFlag", newLogsCommand, []string{guid, "--follow", "--request-timeout", "1m"}, time.Minute},
		{"EventsDefault", newEventsCommand, []string{guid}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := time.Duration(-1)
			env := execEnv{
				connect: func(f *kubeFlags, _ Deps, _ Streams) (*executor.Client, error) {
					got = f.requestTimeout
					return nil, errors.New("no cluster here")
				},
				newGUID: func() (string, error) { return guid, nil },
				now:     time.Now,
			}
			streams := Streams{In: strings.NewReader("services: {web: {image: nginx}}\n"), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
			c := tt.cmd(streams, Deps{Env: map[string]string{}, WorkDir: t.TempDir()}, env)
			c.SetArgs(tt.args)
			c.SetOut(io.Discard)
			c.SetErr(io.Discard)
			_ = c.Execute()
			if got != tt.want {
				t.Errorf("request timeout %v, want %v", got, tt.want)
			}
		})
	}
}

// TestUpSecurityCeiling: up holds a system to --security: one that needs
// more fails before anything is created, naming each key and the flag
// that allows it; with that flag it runs in a namespace of that level.
func TestUpSecurityCeiling(t *testing.T) {
	t.Parallel()
	const hostCompose = `name: tools
services:
  agent:
    image: busybox
    pid: host
    cap_add: [SYS_ADMIN]
`
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	depGVR := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantErr   []string
		wantLevel string // of the namespace created; "" for none created
	}{
		{name: "baseline refuses", args: []string{"up", "--wait=false"}, wantCode: 1,
			wantErr: []string{"compose.yaml:5:5: error: services.agent.pid: agent needs the privileged Pod Security level",
				"error: services.agent.cap_add: agent needs the privileged Pod Security level: it adds capabilities SYS_ADMIN",
				"allow privileged explicitly with --security privileged"}},
		{name: "restricted refuses", args: []string{"up", "--wait=false", "--security", "restricted"}, wantCode: 1,
			wantErr: []string{"error: services.agent.pid: agent cannot run at the restricted level"}},
		{name: "privileged allows", args: []string{"up", "--wait=false", "--security", "privileged"}, wantLevel: "privileged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			code, _, errOut := runExec(t, f, hostCompose, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr\n%s\ndoes not contain %q", errOut, w)
				}
			}
			if tt.wantLevel == "" {
				if got := append(f.Names(nsGVR), f.Names(depGVR)...); len(got) != 0 {
					t.Errorf("created %v, want nothing", got)
				}
				return
			}
			ns, err := f.Client.Kube.CoreV1().Namespaces().Get(t.Context(), "tools-01234567", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != tt.wantLevel {
				t.Errorf("namespace enforces %q, want %q", got, tt.wantLevel)
			}
		})
	}
}

// TestUpMissingSecret: up with a Secret the system refers to but does not
// hold (its variable unset, or --secrets reference) fails before creating
// anything, printing the namespace and the commands; once they exist, up
// --guid runs in that namespace.
func TestUpMissingSecret(t *testing.T) {
	t.Parallel()
	const secretCompose = `name: shop
services:
  web:
    image: nginx:1.27
    secrets: [db_password]
secrets:
  db_password:
    environment: DB_PASSWORD
`
	const ns = "shop-01234567"
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	userNS := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}}
	userSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: ns}, Data: map[string][]byte{"db_password": []byte("x")}}
	tests := []struct {
		name     string
		args     []string
		cluster  bool // the namespace and the Secret exist
		wantCode int
		wantErr  []string
	}{
		{name: "unset variable", args: []string{"up", "--wait=false"}, wantCode: 1, wantErr: []string{
			"compose.yaml:8:5: warning: secrets.db_password.environment: environment variable DB_PASSWORD is not set",
			"tycho: up: namespace " + ns + " does not hold 1 object(s) that the system refers to; nothing was created (the namespace does not exist yet):",
			"  kubectl create namespace " + ns + "\n",
			`  kubectl create secret generic db-password --from-literal=db_password="$DB_PASSWORD" -n ` + ns + "\n",
			"then run up again with --guid " + testGUID,
		}},
		{name: "reference", args: []string{"up", "--wait=false", "--secrets", "reference"}, wantCode: 1, wantErr: []string{
			`info: secrets.db_password: secret values are not written`,
			`  kubectl create secret generic db-password --from-literal=db_password="$DB_PASSWORD" -n ` + ns + "\n",
		}},
		{name: "strict", args: []string{"up", "--wait=false", "--strict"}, wantCode: 1, wantErr: []string{
			"error: secrets.db_password.environment: environment variable DB_PASSWORD is not set",
		}},
		{name: "created", args: []string{"up", "--wait=false", "--guid", testGUID}, cluster: true},
		{name: "bad mode", args: []string{"up", "--secrets", "plain"}, wantCode: 2, wantErr: []string{`--secrets must be inline or reference, not "plain"`}},
		{name: "server", args: []string{"up", "--server", "https://tycho.example.org", "--secrets", "reference"}, wantCode: 2, wantErr: []string{"--secrets"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := executortest.New(nil)
			if tt.cluster {
				f = executortest.New([]runtime.Object{userNS, userSecret}, userNS)
			}
			code, _, errOut := runExec(t, f, secretCompose, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr\n%s\ndoes not contain %q", errOut, w)
				}
			}
			if tt.wantCode != 0 {
				if len(f.Applied) != 0 || len(f.Names(nsGVR)) != 0 {
					t.Errorf("applied %q, namespaces %q: want nothing created", f.Applied, f.Names(nsGVR))
				}
				return
			}
			got := f.Names(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"})
			if diff := cmp.Diff([]string{ns + "/web"}, got); diff != "" {
				t.Errorf("Deployments (-want +got):\n%s", diff)
			}
			for _, a := range f.Applied {
				if strings.HasPrefix(a, "Secret ") || strings.HasPrefix(a, "Namespace ") {
					t.Errorf("applied %s: the user's own", a)
				}
			}
		})
	}
}
