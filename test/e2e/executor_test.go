package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/policy"
)

// trio is a three-service system: web publishes a port, api and worker
// are reached inside the system only.
const trio = `name: trio
services:
  web:
    image: registry.example/web:1
    ports:
      - "8080:80"
  api:
    image: registry.example/api:1
    expose: ["9000"]
  worker:
    image: registry.example/worker:1
`

// unschedulable cannot start: no node has 2000 CPUs (kwok's have 1000).
const unschedulable = `name: greedy
services:
  web:
    image: registry.example/web:1
    ports:
      - "8080:80"
  hog:
    image: registry.example/hog:1
    deploy:
      resources:
        reservations:
          cpus: "2000"
`

// runTycho runs the tycho binary against the shared cluster in dir and
// returns its exit code and output.
func runTycho(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bin := tychoBin(t)
	args = append(args, "--kubeconfig", shared(t).Kubeconfig)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running tycho %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("tycho %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// labelled returns the resourceVersion of every object in the cluster
// labelled tycho-guid=guid, by "kind namespace/name": every listable kind,
// namespaced or not, as discovery reports them.
func labelled(t *testing.T, guid string) map[string]string {
	t.Helper()
	cfg := shared(t).RESTConfig()
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds are listed too
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	out := map[string]string{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") {
				continue
			}
			list, err := dyn.Resource(gv.WithResource(r.Name)).List(context.Background(), metav1.ListOptions{LabelSelector: "tycho-guid=" + guid})
			if err != nil {
				t.Fatalf("listing %s: %v", r.Name, err)
			}
			for _, o := range list.Items {
				out[fmt.Sprintf("%s %s/%s", r.Kind, o.GetNamespace(), o.GetName())] = o.GetResourceVersion()
			}
		}
	}
	return out
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// settled waits until the objects of a system stop changing (controllers
// finish writing their status) and returns their resourceVersions.
func settled(t *testing.T, guid string) map[string]string {
	t.Helper()
	prev := labelled(t, guid)
	deadline := time.Now().Add(time.Minute)
	for stable := 0; stable < 3; {
		time.Sleep(time.Second)
		cur := labelled(t, guid)
		if cmp.Equal(prev, cur) {
			stable++
		} else {
			stable = 0
		}
		prev = cur
		if time.Now().After(deadline) {
			t.Fatalf("the objects of system %s keep changing", guid)
		}
	}
	return prev
}

func writeCompose(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestE2EExecutorLifecycle drives a system through the real tycho binary:
// up, status, up again (a no-op), down.
func TestE2EExecutorLifecycle(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0010000000000000000000000000"
	dir := writeCompose(t, trio)
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			runTycho(t, dir, "down", "--volumes", guid)
		}
	})
	start := time.Now()

	code, out, _ := runTycho(t, dir, "up", "-f", "compose.yaml", "--guid", guid, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("up: exit %d", code)
	}
	t.Logf("up took %s", time.Since(start))
	// one row for the one published port: a node's address and the node
	// port (no load balancer in this cluster)
	row := regexp.MustCompile(`(?m)^trio {27}` + guid + ` {4}(\d+\.\d+\.\d+\.\d+) +(3\d{4}) *$`)
	if !strings.HasPrefix(out, "SYSTEM                         GUID                                IP_ADDRESS      PORT   \n") || !row.MatchString(out) {
		t.Errorf("up: stdout\n%s\nwant the header and a row matching %s", out, row)
	}
	nodePort := ""
	if m := row.FindStringSubmatch(out); m != nil {
		nodePort = m[2]
	}

	ns := "trio-e2ea0010"
	svc, err := clientset(t).CoreV1().Services(ns).Get(context.Background(), "web-published", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Service web-published: %v", err)
	}
	if got := fmt.Sprint(svc.Spec.Ports[0].NodePort); got != nodePort {
		t.Errorf("up printed port %s, the Service's node port is %s", nodePort, got)
	}
	nsObj, err := clientset(t).CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("namespace %s: %v", ns, err)
	}
	if got := nsObj.Labels["pod-security.kubernetes.io/enforce"]; got != "baseline" {
		t.Errorf("namespace %s enforces %q, want baseline", ns, got)
	}

	code, out, _ = runTycho(t, dir, "status", guid)
	statusRow := regexp.MustCompile(`(?m)^trio +` + guid + ` +` + ns + ` +3/3 +\d+\.\d+\.\d+\.\d+:` + nodePort + ` +\S+$`)
	if code != 0 || !strings.HasPrefix(out, "SYSTEM ") || !statusRow.MatchString(out) {
		t.Errorf("status: exit %d, stdout\n%s\nwant a row matching %s", code, out, statusRow)
	}
	code, out, _ = runTycho(t, dir, "status", "-terse")
	if code != 0 || !strings.Contains(out, guid+"\n") {
		t.Errorf("status -terse: exit %d, stdout\n%s\nwant the GUID on a line", code, out)
	}

	before := settled(t, guid)
	for _, want := range []string{"Namespace /" + ns, "ConfigMap " + ns + "/tycho-system-" + guid, "Deployment " + ns + "/web",
		"Deployment " + ns + "/api", "Deployment " + ns + "/worker", "Service " + ns + "/web-published", "Pod "} {
		found := false
		for k := range before {
			found = found || strings.HasPrefix(k, want)
		}
		if !found {
			t.Errorf("after up, no object %q among:\n%s", want, strings.Join(keys(before), "\n"))
		}
	}
	code, _, _ = runTycho(t, dir, "up", "-f", "compose.yaml", "--guid", guid, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("second up: exit %d", code)
	}
	if diff := cmp.Diff(before, labelled(t, guid)); diff != "" {
		t.Errorf("second up changed objects (resourceVersions, -before +after):\n%s", diff)
	}

	start = time.Now()
	code, out, _ = runTycho(t, dir, "down", guid)
	if code != 0 || out != guid+"\n" {
		t.Errorf("down: exit %d, stdout %q, want %q", code, out, guid+"\n")
	}
	t.Logf("down took %s", time.Since(start))
	if left := labelled(t, guid); len(left) > 0 {
		t.Errorf("after down, objects are left:\n%s", strings.Join(keys(left), "\n"))
	}
	code, _, errOut := runTycho(t, dir, "down", guid)
	if code != 1 || !strings.Contains(errOut, "system not found") {
		t.Errorf("second down: exit %d, stderr %q; want 1 and system not found", code, errOut)
	}
}

// TestE2EExecutorTimeoutRollsBack: a system that cannot become ready
// within --timeout is reported with the scheduler's events and rolled back.
func TestE2EExecutorTimeoutRollsBack(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0020000000000000000000000000"
	dir := writeCompose(t, unschedulable)
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			runTycho(t, dir, "down", "--volumes", guid)
		}
	})
	code, out, errOut := runTycho(t, dir, "up", "-f", "compose.yaml", "--guid", guid, "--timeout", "15s")
	if code != 1 || out != "" {
		t.Errorf("up: exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{
		"tycho: up: Deployment/hog: not ready after 15s: Deployment/hog 0/1 available",
		"Warning FailedScheduling Pod/hog-",
		"Insufficient cpu",
		"rolled back: deleted the",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("up: stderr does not contain %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^Deployment/web: 1/1 available \(\d/2 ready\)$`).MatchString(errOut) {
		t.Errorf("up: stderr has no progress line for Deployment/web")
	}
	if left := labelled(t, guid); len(left) > 0 {
		t.Errorf("after the roll-back, objects are left:\n%s", strings.Join(keys(left), "\n"))
	}
}

// TestE2EExecutorRejectedRollsBack: an object the API server rejects,
// applied after others, fails Up with the server's message, and what Up
// created before it is gone.
func TestE2EExecutorRejectedRollsBack(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0030000000000000000000000000"
	dir := writeCompose(t, trio)
	ns := executor.NamespaceFor("trio", guid)
	res, err := compiler.Compile(context.Background(), compiler.Options{
		Load:      compiler.LoadOptions{Files: []string{"compose.yaml"}, WorkDir: dir},
		Lower:     compiler.LowerOptions{VolumeSize: 1 << 30, Bind: compiler.BindCopy, Expose: ast.ExposeLoadBalancer},
		Policy:    policy.Options{Network: "default", Security: "baseline"},
		GUID:      guid,
		Namespace: ns,
	})
	if err != nil || res.Diags.HasErrors() {
		t.Fatalf("compile: %v %v", err, res.Diags)
	}
	// the last Deployment gets a negative replica count
	var bad *appsv1.Deployment
	for _, o := range res.Objects {
		if d, ok := o.(*appsv1.Deployment); ok {
			bad = d
		}
	}
	if bad == nil {
		t.Fatal("compile: no Deployment")
	}
	minus := int32(-1)
	bad.Spec.Replicas = &minus
	client, err := executor.NewClient(shared(t).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			_, _ = executor.Down(context.Background(), client, []string{guid}, executor.DownOptions{Volumes: true, Wait: true})
		}
	})
	_, err = executor.Up(context.Background(), client, executor.UpOptions{
		System: "trio", SecurityLevel: res.System.Policy.SecurityLevel, Objects: res.Objects, GUID: guid,
		Wait: true, Timeout: time.Minute,
	})
	var ue *executor.UpError
	if !errors.As(err, &ue) {
		t.Fatalf("Up: error %v, want an *UpError", err)
	}
	t.Logf("Up: %v", err)
	if want := "Deployment " + ns + "/" + bad.Name; ue.Object != want {
		t.Errorf("Up: failing object %q, want %q", ue.Object, want)
	}
	if !strings.Contains(err.Error(), "spec.replicas: Invalid value: -1") || ue.RolledBack == 0 || ue.RollbackErr != nil {
		t.Errorf("Up: error %v, want the server's message and a roll-back", err)
	}
	if left := labelled(t, guid); len(left) > 0 {
		t.Errorf("after the roll-back, objects are left:\n%s", strings.Join(keys(left), "\n"))
	}
}
