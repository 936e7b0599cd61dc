package e2ereal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// system is a compose project deployed into its own namespace.
type system struct {
	t      *testing.T
	ns     string
	dir    string
	client kubernetes.Interface
}

// deploy writes files (compose.yaml and whatever it refers to) into a
// temporary directory, compiles it into namespace ns (with env added to the
// compile environment) and applies the result. The namespace is deleted
// when the test ends.
func deploy(t *testing.T, ns string, files map[string]string, env []string, compileArgs ...string) *system {
	t.Helper()
	dir, manifests, err := compileSystem(t, ns, files, env, compileArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return apply(t, ns, dir, manifests)
}

// compileSystem writes files into a temporary directory and runs tycho
// compile -n ns --create-namespace there; it returns the directory and the
// manifests, or an error with tycho's diagnostics.
func compileSystem(t *testing.T, ns string, files map[string]string, env []string, compileArgs ...string) (string, []byte, error) {
	t.Helper()
	need(t)
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"compile", "-f", filepath.Join(dir, "compose.yaml"), "-n", ns, "--create-namespace"}, compileArgs...)
	compile := exec.Command(tychoPath, args...)
	compile.Dir = dir
	compile.Env = append(os.Environ(), env...)
	var manifests, diags bytes.Buffer
	compile.Stdout, compile.Stderr = &manifests, &diags
	if err := compile.Run(); err != nil {
		return "", nil, fmt.Errorf("tycho %s: %v\n%s", strings.Join(args, " "), err, diags.String())
	}
	if diags.Len() > 0 {
		t.Logf("tycho compile diagnostics:\n%s", diags.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests.yaml"), manifests.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, manifests.Bytes(), nil
}

// apply applies the manifests of a system compiled into ns (in dir) and
// deletes the namespace when the test ends.
func apply(t *testing.T, ns, dir string, manifests []byte) *system {
	t.Helper()
	client, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := &system{t: t, ns: ns, dir: dir, client: client}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := s.kubectl(context.Background(), "get", "pods,svc,endpointslices,networkpolicies", "-o", "wide")
			t.Logf("objects of %s at the end:\n%s", ns, out)
		}
		// Not waiting: the namespaces differ per test; Stop drains the node.
		_, _ = s.kubectlRaw(context.Background(), "delete", "namespace", ns, "--wait=false")
	})
	apply := exec.Command(kubectl, "--kubeconfig", kc.Kubeconfig, "apply", "-f", "-")
	apply.Stdin = bytes.NewReader(manifests)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s\nmanifests:\n%s", err, out, manifests)
	}
	return s
}

// systemIn is namespace ns as a system, for what was not deployed by
// deploy or apply (tycho up's systems, the controller's namespace).
func systemIn(t *testing.T, ns string) *system {
	t.Helper()
	client, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &system{t: t, ns: ns, client: client}
}

func (s *system) kubectlRaw(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *system) kubectl(ctx context.Context, args ...string) (string, error) {
	return s.kubectlRaw(ctx, append([]string{"-n", s.ns}, args...)...)
}

// pod returns the name of the (first) pod of compose service svc.
func (s *system) pod(ctx context.Context, svc string) (*corev1.Pod, error) {
	pods, err := s.client.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + svc})
	if err != nil {
		return nil, err
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("no pod of %s", svc)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].CreationTimestamp.Before(&live[j].CreationTimestamp) })
	return &live[0], nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitReady waits until a pod of each service is Ready.
func (s *system) waitReady(timeout time.Duration, svcs ...string) {
	s.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, svc := range svcs {
		for {
			p, err := s.pod(ctx, svc)
			if err == nil && podReady(p) {
				break
			}
			if ctx.Err() != nil {
				state := "no pod"
				if p != nil {
					state = describePod(p)
				}
				s.t.Fatalf("%s not Ready after %s: %v %s", svc, timeout, err, state)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	s.t.Logf("%v Ready after %s", svcs, time.Since(start).Round(10*time.Millisecond))
}

func describePod(p *corev1.Pod) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "phase %s", p.Status.Phase)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&sb, "; %s=%s %s", c.Type, c.Status, c.Message)
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&sb, "; %s: ready=%t restarts=%d", cs.Name, cs.Ready, cs.RestartCount)
		if w := cs.State.Waiting; w != nil {
			fmt.Fprintf(&sb, " waiting %s %s", w.Reason, w.Message)
		}
		if r := cs.State.Terminated; r != nil {
			fmt.Fprintf(&sb, " terminated %d %s", r.ExitCode, r.Reason)
		}
	}
	return sb.String()
}

// exec runs argv in the main container of svc's pod and returns its exit
// code and combined output.
func (s *system) exec(svc string, argv ...string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := s.pod(ctx, svc)
	if err != nil {
		s.t.Fatal(err)
	}
	args := append([]string{"exec", p.Name, "-c", p.Spec.Containers[0].Name, "--"}, argv...)
	out, err := s.kubectl(ctx, args...)
	if err == nil {
		return 0, out
	}
	if ee, ok := err.(*exec.ExitError); ok {
		// kubectl exec exits with the command's status.
		return ee.ExitCode(), out
	}
	s.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	return -1, ""
}

// waitFlow retries "probe connect target" in svc's pod (every 0.5 s, up to
// timeout) until its success is want, and reports whether it got there.
// Services, endpoints and policies take effect a moment after pods are
// Ready (kube-proxy and kube-router resync on events).
func (s *system) waitFlow(svc, target string, want bool, timeout time.Duration) bool {
	s.t.Helper()
	cond := "&&"
	if !want {
		cond = "||"
	}
	n := int(timeout / (500 * time.Millisecond))
	script := fmt.Sprintf("for i in $(seq %d); do /probe connect -timeout 1s %s >/dev/null 2>&1 %s exit 0; sleep 0.5; done; exit 1", n, target, cond)
	start := time.Now()
	code, _ := s.exec(svc, "/bin/sh", "-c", script)
	s.t.Logf("%s -> %s %s after %s", svc, target, map[bool]string{true: "reachable", false: "blocked"}[want], time.Since(start).Round(10*time.Millisecond))
	return code == 0
}

// tycho runs the tycho binary on the harness's cluster in dir (the test's
// working directory when ""), with stdin, and returns its exit code,
// stdout and stderr. The kubeconfig comes first, so that args may end in
// "-- CMD...".
func tycho(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tychoPath, append([]string{"--kubeconfig", kc.Kubeconfig}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errOut.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errOut.String()
	}
	t.Fatalf("tycho %s: %v", strings.Join(args, " "), err)
	return 0, "", ""
}
