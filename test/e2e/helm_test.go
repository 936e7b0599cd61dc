package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
)

// chartKinds are the kinds a chart of Tycho holds, and the pods and
// ReplicaSets made from them.
var chartKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "serviceaccounts"}, {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}, {Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"}, {Version: "v1", Resource: "persistentvolumeclaims"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, {Version: "v1", Resource: "services"},
	{Group: "apps", Version: "v1", Resource: "deployments"}, {Group: "apps", Version: "v1", Resource: "daemonsets"},
	{Group: "batch", Version: "v1", Resource: "jobs"}, {Group: "apps", Version: "v1", Resource: "replicasets"},
	{Version: "v1", Resource: "pods"},
}

// released lists the objects in ns of the system voting ("resource/name"
// → resourceVersion and generation).
func released(t *testing.T, ns string) map[string]string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(shared(t).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, gvr := range chartKinds {
		l, err := dyn.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=voting"})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		for _, o := range l.Items {
			out[gvr.Resource+"/"+o.GetName()] = fmt.Sprintf("rv=%s gen=%d", o.GetResourceVersion(), o.GetGeneration())
		}
	}
	return out
}

// chartObjects keeps the objects of the chart (not pods and ReplicaSets).
func chartObjects(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, "pods/") && !strings.HasPrefix(k, "replicasets/") {
			out[k] = v
		}
	}
	return out
}

// settledIn waits until the system's objects in ns stop changing.
func settledIn(t *testing.T, ns string) map[string]string {
	t.Helper()
	prev := released(t, ns)
	deadline := time.Now().Add(2 * time.Minute)
	for stable := 0; stable < 3; {
		time.Sleep(time.Second)
		cur := released(t, ns)
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			stable++
		} else {
			stable = 0
		}
		prev = cur
		if time.Now().After(deadline) {
			t.Fatalf("the objects in %s keep changing", ns)
		}
	}
	return prev
}

// available waits until every Deployment in ns is Available with its
// replicas updated.
func available(t *testing.T, ns string) {
	t.Helper()
	client := clientset(t)
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return false, nil
		}
		for _, d := range l.Items {
			if !deploymentAvailable(&d) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the Deployments in %s are not Available: %v", ns, err)
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation || d.Spec.Replicas == nil || d.Status.UpdatedReplicas != *d.Spec.Replicas || d.Status.AvailableReplicas != *d.Spec.Replicas {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestE2EHelmChart installs the chart of the voting example with helm's
// own action package, upgrades it with a new image tag (only the
// Deployment of that service changes, and it rolls), uninstalls it
// (nothing is left); every rendered object passes a strict server-side
// dry-run at Pod Security baseline.
func TestE2EHelmChart(t *testing.T) {
	bin := tychoBin(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "chart")
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "voting", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "compile", "-f", example, "--format", "helm", "--out-dir", out)
	cmd.Env = append(os.Environ(), "DB_PASSWORD=e2e-password")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tycho compile --format helm: %v\n%s", err, b)
	}
	ch, err := loader.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "baseline")
	const rel = "voting"

	// every object the chart renders passes strict validation and
	// baseline admission
	rv, err := chartutil.ToRenderValues(ch, nil, chartcommon.ReleaseOptions{Name: rel, Namespace: ns, IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, ".yaml") && strings.TrimSpace(rendered[name]) != "" {
			docs = append(docs, rendered[name])
		}
	}
	warns, err := dryRunStrict(t, ns, strings.Join(docs, "\n---\n"))
	if err != nil || len(warns) > 0 {
		t.Fatalf("strict dry-run at baseline: %v\nwarnings:\n%s", err, strings.Join(warns, "\n"))
	}

	flags := genericclioptions.NewConfigFlags(false)
	kubeconfig := shared(t).Kubeconfig
	flags.KubeConfig = &kubeconfig
	flags.Namespace = ptr(ns)
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}

	install := action.NewInstall(cfg)
	install.ReleaseName = rel
	install.Namespace = ns
	install.WaitStrategy = kube.HookOnlyStrategy
	install.Timeout = 3 * time.Minute
	if _, err := install.Run(ch, nil); err != nil {
		t.Fatalf("helm install: %v", err)
	}
	available(t, ns)
	before := settledIn(t, ns)
	t.Logf("installed: %d objects", len(before))

	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = ns
	upgrade.WaitStrategy = kube.HookOnlyStrategy
	upgrade.Timeout = 3 * time.Minute
	vals := map[string]any{"services": map[string]any{"vote": map[string]any{"image": map[string]any{"tag": "1.27.1"}}}}
	if _, err := upgrade.Run(rel, ch, vals); err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	available(t, ns)
	after := settledIn(t, ns)
	d, err := clientset(t).AppsV1().Deployments(ns).Get(context.Background(), "vote", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.27.1" {
		t.Errorf("vote runs %s after the upgrade, want nginx:1.27.1", img)
	}
	b, a := chartObjects(before), chartObjects(after)
	if b["deployments/vote"] == a["deployments/vote"] {
		t.Errorf("the vote Deployment did not change: %s", a["deployments/vote"])
	}
	if !strings.HasSuffix(b["deployments/vote"], "gen=1") || !strings.HasSuffix(a["deployments/vote"], "gen=2") {
		t.Errorf("vote Deployment generations %q → %q, want 1 → 2", b["deployments/vote"], a["deployments/vote"])
	}
	delete(b, "deployments/vote")
	delete(a, "deployments/vote")
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("the upgrade changed more than the vote Deployment:\nbefore %v\nafter  %v", b, a)
	}
	// it rolled: a second ReplicaSet of vote
	rs := 0
	for k := range after {
		if strings.HasPrefix(k, "replicasets/vote-") {
			rs++
		}
	}
	if rs != 2 {
		t.Errorf("vote has %d ReplicaSets after the upgrade, want 2 (a rollout)", rs)
	}

	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	if _, err := uninstall.Run(rel); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	var left map[string]string
	err = wait.PollUntilContextTimeout(context.Background(), time.Second, 2*time.Minute, true, func(context.Context) (bool, error) {
		left = released(t, ns)
		return len(left) == 0, nil
	})
	if err != nil {
		t.Errorf("left after helm uninstall: %v", left)
	}
}
