package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tychoctl/tycho/internal/netpol"
)

// templatePods turns the pod templates of the workloads in manifests into
// bare Pods, so that Pod Security *enforcement* (which admits or rejects
// pods, where workloads only get warnings) can be asked directly. The
// service account is dropped: a dry-run does not create the ones the
// manifests define, and the ServiceAccount admission would refuse the pod
// for that alone; Pod Security does not look at it.
func templatePods(t *testing.T, manifests string) []*corev1.Pod {
	t.Helper()
	objs, err := netpol.Decode([]byte(manifests))
	if err != nil {
		t.Fatalf("decoding tycho's output: %v", err)
	}
	var out []*corev1.Pod
	add := func(kind, name string, tmpl corev1.PodTemplateSpec) {
		p := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
		p.Name = strings.ToLower(kind) + "-" + name
		p.Spec.ServiceAccountName = ""
		if p.Spec.RestartPolicy == "" {
			p.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}
		out = append(out, p)
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			add("Deployment", x.Name, x.Spec.Template)
		case *appsv1.DaemonSet:
			add("DaemonSet", x.Name, x.Spec.Template)
		case *appsv1.StatefulSet:
			add("StatefulSet", x.Name, x.Spec.Template)
		case *batchv1.Job:
			add("Job", x.Name, x.Spec.Template)
		}
	}
	return out
}

// createPodDryRun asks the API server to admit p in ns without persisting
// it, and returns its warnings and error.
func createPodDryRun(t *testing.T, ns string, p *corev1.Pod) ([]string, error) {
	t.Helper()
	collector := &warningCollector{}
	cfg := shared(t).RESTConfig()
	cfg.WarningHandler = collector
	client := clientsetFor(t, cfg)
	collector.setObject("Pod/" + p.Name)
	_, err := client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	collector.mu.Lock()
	defer collector.mu.Unlock()
	return collector.warnings, err
}

// TestE2ESecurityRestrictedCorpus compiles every corpus file that compose-go
// loads with --security restricted. Where Tycho reports no error, the
// output must be admitted in a namespace that enforces and warns at
// restricted, with no warning at all, and each workload's pod must be
// admitted as a bare Pod; where it reports an error, the error must be a
// [security-restricted] one (the only reason restricted may refuse what
// baseline compiles).
func TestE2ESecurityRestrictedCorpus(t *testing.T) {
	dir, files := corpusFiles(t)
	var admitted, refused, pods int
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			c := compile(t, filepath.Join(dir, filepath.Dir(rel)), "-f", filepath.Base(rel), "--security", "restricted")
			if c.err != nil {
				if !strings.Contains(c.stderr, "[security-restricted]") {
					t.Fatalf("tycho compile --security restricted failed without a [security-restricted] error: %v\n%s", c.err, c.stderr)
				}
				if strings.Contains(c.stderr, "[security-privileged]") {
					t.Errorf("restricted compile reports [security-privileged], which belongs to baseline:\n%s", c.stderr)
				}
				refused++
				t.Skipf("tycho refuses the restricted level (as it should say): %s", firstLine(c.stderr, "[security-restricted]"))
			}
			if strings.Contains(c.stderr, "[security-privileged]") {
				t.Errorf("restricted compile reports [security-privileged]:\n%s", c.stderr)
			}
			ns := newNamespace(t, "restricted")
			warnings, err := dryRunStrict(t, ns, c.stdout)
			if err != nil {
				t.Fatalf("API server rejected the restricted output:\n%v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s", w)
			}
			for _, p := range templatePods(t, c.stdout) {
				warns, err := createPodDryRun(t, ns, p)
				if err != nil {
					t.Errorf("restricted namespace refuses the pod of %s: %v", p.Name, err)
				}
				for _, w := range warns {
					t.Errorf("warning: %s", w)
				}
				pods++
			}
			admitted++
		})
	}
	t.Logf("%d corpus files: %d admitted at restricted (%d pods), %d refused by tycho with [security-restricted]", len(files), admitted, pods, refused)
}

func firstLine(s, containing string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, containing) {
			return l
		}
	}
	return ""
}

// TestE2ESecurityPrivilegedRejected compiles one service for each thing
// that needs the privileged Pod Security level (docs/policy.md): tycho
// must warn [security-privileged] and say the level is privileged, a
// namespace that enforces baseline must warn about the workload and
// reject its pod, and a privileged namespace must admit it. The same
// service without the setting is the control: no warning, admitted at
// baseline.
func TestE2ESecurityPrivilegedRejected(t *testing.T) {
	const base = `name: sec
services:
  app:
    image: busybox:1.37
    command: ["sleep", "infinity"]
`
	cases := []struct {
		name    string
		extra   string // lines added to the service
		args    []string
		files   map[string]string
		baseErr string // regexp the baseline rejection must match
	}{
		{name: "privileged", extra: "    privileged: true\n", baseErr: `privileged`},
		{name: "cap-add-sys-admin", extra: "    cap_add: [SYS_ADMIN]\n", baseErr: `non-default capabilities`},
		{name: "pid-host", extra: "    pid: host\n", baseErr: `host namespaces`},
		{name: "ipc-host", extra: "    ipc: host\n", baseErr: `host namespaces`},
		{name: "network-mode-host", extra: "    network_mode: host\n", baseErr: `host namespaces`},
		{name: "unsafe-sysctl", extra: "    sysctls: {kernel.msgmax: \"65536\"}\n", baseErr: `forbidden sysctls`},
		{name: "bind-hostpath", extra: "    volumes: [\"./data:/data\"]\n", args: []string{"--bind", "hostpath"},
			files: map[string]string{"data/keep": "x"}, baseErr: `hostPath volumes`},
	}
	compileCase := func(t *testing.T, compose string, files map[string]string, args ...string) compiled {
		t.Helper()
		dir := t.TempDir()
		files = mapWith(files, "compose.yaml", compose)
		for name, data := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := compile(t, dir, append([]string{"-n", "sec", "--create-namespace"}, args...)...)
		if c.err != nil {
			t.Fatalf("tycho compile: %v\n%s", c.err, c.stderr)
		}
		return c
	}

	t.Run("control", func(t *testing.T) {
		t.Parallel()
		c := compileCase(t, base, nil)
		if strings.Contains(c.stderr, "[security-privileged]") {
			t.Errorf("the control warns [security-privileged]:\n%s", c.stderr)
		}
		if !strings.Contains(c.stdout, "pod-security.kubernetes.io/enforce: baseline") {
			t.Errorf("the Namespace does not enforce baseline:\n%s", c.stdout)
		}
		ns := newNamespace(t, "baseline")
		warnings, err := dryRunStrict(t, ns, withoutNamespace(c.stdout))
		if err != nil {
			t.Fatalf("API server rejected the control: %v", err)
		}
		for _, w := range warnings {
			t.Errorf("warning: %s", w)
		}
		pods := templatePods(t, c.stdout)
		if len(pods) != 1 {
			t.Fatalf("want 1 workload, got %d", len(pods))
		}
		if _, err := createPodDryRun(t, ns, pods[0]); err != nil {
			t.Errorf("baseline refuses the control pod: %v", err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := compileCase(t, base+tc.extra, tc.files, tc.args...)
			if !strings.Contains(c.stderr, "[security-privileged]") {
				t.Fatalf("tycho does not warn [security-privileged]:\n%s", c.stderr)
			}
			if !strings.Contains(c.stdout, "pod-security.kubernetes.io/enforce: privileged") {
				t.Errorf("the emitted Namespace does not enforce privileged:\n%s", c.stdout)
			}
			pods := templatePods(t, c.stdout)
			if len(pods) != 1 {
				t.Fatalf("want 1 workload, got %d", len(pods))
			}

			ns := newNamespace(t, "baseline")
			warnings, err := dryRunStrict(t, ns, withoutNamespace(c.stdout))
			if err != nil {
				t.Fatalf("API server rejected the manifests themselves: %v", err)
			}
			want := regexp.MustCompile(`^Deployment/app: would violate PodSecurity "baseline:latest": .*` + tc.baseErr)
			found := false
			for _, w := range warnings {
				if want.MatchString(w) {
					found = true
				}
			}
			if !found {
				t.Errorf("no Deployment warning matching %q; warnings:\n%s", want, strings.Join(warnings, "\n"))
			}
			_, err = createPodDryRun(t, ns, pods[0])
			switch {
			case err == nil:
				t.Errorf("a namespace enforcing baseline admits the pod")
			case !apierrors.IsForbidden(err) || !regexp.MustCompile(`violates PodSecurity "baseline:latest": .*`+tc.baseErr).MatchString(err.Error()):
				t.Errorf("the pod is refused, but not by Pod Security for %q: %v", tc.baseErr, err)
			}

			priv := newNamespace(t, "privileged")
			if _, err := createPodDryRun(t, priv, pods[0]); err != nil {
				t.Errorf("a privileged namespace refuses the pod: %v", err)
			}
		})
	}
}

// withoutNamespace drops the Namespace document that --create-namespace
// adds: the test's own namespace stands in for it.
func withoutNamespace(manifests string) string {
	docs := strings.Split(manifests, "\n---\n")
	var keep []string
	for _, d := range docs {
		if strings.Contains(d, "\nkind: Namespace\n") {
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(keep, "\n---\n")
}

func mapWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for kk, vv := range m {
		out[kk] = vv
	}
	return out
}

// clientsetFor is a typed client with cfg's settings (e.g. its warning
// handler).
func clientsetFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("e2e: client: %v", err)
	}
	return c
}
