package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tychoctl/tycho/ast"
	"github.com/tychoctl/tycho/cmd"
	"github.com/tychoctl/tycho/compiler"
	"github.com/tychoctl/tycho/executor"
	"github.com/tychoctl/tycho/policy"
	"github.com/tychoctl/tycho/test/cluster"
)

// trioWithVolume is trio whose worker keeps its data in a volume.
const trioWithVolume = trio + `    volumes:
      - data:/data
volumes:
  data: {}
`

// duo is trioWithVolume after an update: worker and its volume are gone,
// api has a new image.
const duo = `name: trio
services:
  web:
    image: registry.example/web:1
    ports:
      - "8080:80"
  api:
    image: registry.example/api:2
    expose: ["9000"]
`

// tychoAt runs the tycho binary against the cluster of kubeconfig, in
// dir, until it exits or ctx ends.
func tychoAt(ctx context.Context, t *testing.T, kubeconfig, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	args = append(args, "--kubeconfig", kubeconfig)
	cmd := exec.CommandContext(ctx, tychoBin(t), args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Errorf("running tycho %s: %v", strings.Join(args, " "), err)
		code = -1
	}
	t.Logf("tycho %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// tychoInspect runs diff, logs or events against the shared cluster, in
// dir, in this process: through the root command of the binary, with the
// commands of cmd/inspect.go added when the root does not have them yet.
func tychoInspect(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	args = append(args, "--kubeconfig", shared(t).Kubeconfig)
	var out, errb bytes.Buffer
	streams := cmd.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	deps := cmd.Deps{Env: map[string]string{}, WorkDir: dir}
	root := cmd.NewRootCommand(streams, deps)
	for _, c := range []*cobra.Command{cmd.NewDiffCommand(streams, deps), cmd.NewLogsCommand(streams, deps), cmd.NewEventsCommand(streams, deps)} {
		if found, _, err := root.Find([]string{c.Name()}); err != nil || found == root {
			root.AddCommand(c)
		}
	}
	code = cmd.Execute(root, args, &errb)
	t.Logf("tycho %s (in process): exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// has reports whether some key of objs starts with prefix.
func has(objs map[string]string, prefix string) bool {
	for k := range objs {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// TestE2EExecutorDiffAndPrune: diff of an unchanged system is empty (exit
// 0) on a real API server, diff of an update shows it (exit 1), up of the
// update prunes what the file no longer has (its volume only when asked),
// and diff after it is empty again.
func TestE2EExecutorDiffAndPrune(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0040000000000000000000000000"
	ns := executor.NamespaceFor("trio", guid)
	dir := writeCompose(t, trioWithVolume)
	if err := os.WriteFile(filepath.Join(dir, "duo.yaml"), []byte(duo), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			runTycho(t, dir, "down", "--volumes", guid)
		}
	})
	if code, _, _ := runTycho(t, dir, "up", "-f", "compose.yaml", "--guid", guid, "--timeout", "2m"); code != 0 {
		t.Fatalf("up: exit %d", code)
	}

	start := time.Now()
	code, out, _ := tychoInspect(t, dir, "diff", guid, "-f", "compose.yaml")
	if code != 0 || out != "" {
		t.Errorf("diff of the running file: exit %d, stdout\n%s\nwant 0 and nothing", code, out)
	}
	t.Logf("diff (no change) took %s", time.Since(start))

	code, out, _ = tychoInspect(t, dir, "diff", guid, "-f", "duo.yaml", "--prune-volumes")
	for _, want := range []string{
		"--- live/Deployment " + ns + "/api\n+++ tycho/Deployment " + ns + "/api\n@@ ",
		"\n-      - image: registry.example/api:1\n+      - image: registry.example/api:2\n",
		"--- live/Deployment " + ns + "/worker\n+++ /dev/null\n",
		"--- live/PersistentVolumeClaim " + ns + "/data\n+++ /dev/null\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff of the update: stdout does not contain %q", want)
		}
	}
	if code != 1 || strings.Contains(out, "--- live/Deployment "+ns+"/web\n") || strings.Contains(out, "managedFields") {
		t.Errorf("diff of the update: exit %d, want 1, without web, without managedFields", code)
	}

	// the update, as the CLI does it: the claim is kept
	if code, _, _ := runTycho(t, dir, "up", "-f", "duo.yaml", "--guid", guid, "--timeout", "2m"); code != 0 {
		t.Fatalf("up of the update: exit %d", code)
	}
	left := labelled(t, guid)
	for _, gone := range []string{"Deployment " + ns + "/worker", "Service " + ns + "/worker", "NetworkPolicy " + ns + "/trio.worker", "Pod " + ns + "/worker-"} {
		if has(left, gone) {
			t.Errorf("after the update, %s is left", gone)
		}
	}
	for _, kept := range []string{"Deployment " + ns + "/web", "Deployment " + ns + "/api", "PersistentVolumeClaim " + ns + "/data", "ConfigMap " + ns + "/tycho-system-" + guid} {
		if !has(left, kept) {
			t.Errorf("after the update, no %s among:\n%s", kept, strings.Join(keys(left), "\n"))
		}
	}
	code, out, _ = tychoInspect(t, dir, "diff", guid, "-f", "duo.yaml")
	if code != 0 || out != "" {
		t.Errorf("diff after the update: exit %d, stdout\n%s\nwant 0 and nothing", code, out)
	}

	// the claim goes with PruneVolumes
	res, err := compiler.Compile(context.Background(), compiler.Options{
		Load:      compiler.LoadOptions{Files: []string{"duo.yaml"}, WorkDir: dir},
		Lower:     compiler.LowerOptions{VolumeSize: 1 << 30, Bind: compiler.BindCopy, Expose: ast.ExposeDefault},
		Policy:    policy.Options{Network: "default", Security: "baseline"},
		GUID:      guid,
		Namespace: ns,
	})
	if err != nil || res.Diags.HasErrors() {
		t.Fatalf("compile: %v %v", err, res.Diags)
	}
	client, err := executor.NewClient(shared(t).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	var pruned []string
	_, err = executor.Up(context.Background(), client, executor.UpOptions{
		System: "trio", SecurityLevel: res.System.Policy.SecurityLevel, Objects: res.Objects, GUID: guid,
		Wait: true, Timeout: time.Minute, PruneVolumes: true, Pruned: func(o string) { pruned = append(pruned, o) },
	})
	if err != nil {
		t.Fatalf("Up with PruneVolumes: %v", err)
	}
	if want := []string{"PersistentVolumeClaim " + ns + "/data"}; strings.Join(pruned, ",") != strings.Join(want, ",") {
		t.Errorf("Up with PruneVolumes pruned %q, want %q", pruned, want)
	}
	if has(labelled(t, guid), "PersistentVolumeClaim ") {
		t.Errorf("Up with PruneVolumes left the claim")
	}
}

// TestE2EExecutorLogsAndEvents: events lists what the controllers and the
// scheduler said about a started system; logs finds its pods and asks the
// API server for the logs of the service's container (kwok keeps none, so
// the API server's answer is an error naming the container).
func TestE2EExecutorLogsAndEvents(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0050000000000000000000000000"
	dir := writeCompose(t, trio)
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			runTycho(t, dir, "down", "--volumes", guid)
		}
	})
	if code, _, _ := runTycho(t, dir, "up", "-f", "compose.yaml", "--guid", guid, "--timeout", "2m"); code != 0 {
		t.Fatalf("up: exit %d", code)
	}
	code, out, _ := tychoInspect(t, dir, "events", guid)
	for _, re := range []string{
		`^TYPE +REASON +OBJECT +MESSAGE +AGE\n`,
		`(?m)^Normal +ScalingReplicaSet +Deployment/web +Scaled up replica set web-\S+ from 0 to 1 +\S+`,
		`(?m)^Normal +Scheduled +Pod/web-\S+ +Successfully assigned trio-e2ea0050/web-\S+ to kwok-node-\d +\S+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("events: stdout does not match %s", re)
		}
	}
	if code != 0 {
		t.Errorf("events: exit %d", code)
	}
	code, out, errOut := tychoInspect(t, dir, "logs", guid, "web", "--tail", "10")
	if code != 1 || out != "" || !regexp.MustCompile(`^tycho: logs: web-1 \(pod web-\S+\): .*container "web"`).MatchString(errOut) {
		t.Errorf("logs: exit %d, stdout %q, stderr %q; want 1 and kwok's answer about container web", code, out, errOut)
	}
	code, _, errOut = tychoInspect(t, dir, "logs", guid, "cache")
	if code != 1 || !strings.Contains(errOut, `has no service "cache" (its services: api, web, worker)`) {
		t.Errorf("logs of an unknown service: exit %d, stderr %q", code, errOut)
	}
}

// TestE2EExecutorFaultDownHalfCreated: down removes a system whose up was
// cut short: a namespace and objects with its labels, but no record.
func TestE2EExecutorFaultDownHalfCreated(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid = "e2ea0060000000000000000000000000"
	ns := "half-" + guid[:8]
	client := clientset(t)
	ctx := context.Background()
	labels := map[string]string{"executor": "tycho", "tycho-guid": guid, "app.kubernetes.io/managed-by": "tycho", "app.kubernetes.io/name": "web"}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	sel := map[string]string{"tycho-guid": guid, "app.kubernetes.io/name": "web"}
	objs := []func() error{
		func() error {
			_, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Labels: labels}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
				Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
				Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: sel},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}}}}}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
	// its pod, so that down has to wait for something
	deadline := time.Now().Add(time.Minute)
	for !has(labelled(t, guid), "Pod "+ns+"/web-") {
		if time.Now().After(deadline) {
			t.Fatal("the Deployment made no pod")
		}
		time.Sleep(500 * time.Millisecond)
	}
	dir := t.TempDir()
	code, out, _ := runTycho(t, dir, "down", guid)
	if code != 0 || out != guid+"\n" {
		t.Errorf("down: exit %d, stdout %q; want 0 and the GUID", code, out)
	}
	if left := labelled(t, guid); len(left) > 0 {
		t.Errorf("after down, objects are left:\n%s", strings.Join(keys(left), "\n"))
	}
}

// TestE2EExecutorFaultConcurrentUp: two up of the same file at once make
// two systems, each with its GUID and namespace, both ready.
func TestE2EExecutorFaultConcurrentUp(t *testing.T) {
	shared(t)
	t.Parallel()
	dir := writeCompose(t, trio)
	row := regexp.MustCompile(`(?m)^trio +([0-9a-f]{32}) `)
	var (
		wg    sync.WaitGroup
		codes [2]int
		outs  [2]string
	)
	start := time.Now()
	for i := range codes {
		wg.Go(func() {
			codes[i], outs[i], _ = tychoAt(context.Background(), t, shared(t).Kubeconfig, dir, "up", "-f", "compose.yaml", "--timeout", "2m")
		})
	}
	wg.Wait()
	t.Logf("two up at once took %s", time.Since(start))
	var guids []string
	for i, out := range outs {
		m := row.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("up %d: exit %d, no system row in\n%s", i, codes[i], out)
			continue
		}
		guids = append(guids, m[1])
		g := m[1]
		t.Cleanup(func() {
			if len(labelled(t, g)) > 0 {
				runTycho(t, dir, "down", "--volumes", g)
			}
		})
		if codes[i] != 0 {
			t.Errorf("up %d: exit %d", i, codes[i])
		}
	}
	if len(guids) != 2 || guids[0] == guids[1] {
		t.Fatalf("GUIDs %q, want two different ones", guids)
	}
	for _, g := range guids {
		ns := executor.NamespaceFor("trio", g)
		code, out, _ := runTycho(t, dir, "status", g)
		if code != 0 || !regexp.MustCompile(`(?m)^trio +`+g+` +`+ns+` +3/3 `).MatchString(out) {
			t.Errorf("status %s: exit %d, stdout\n%s\nwant trio ready in %s", g, code, out, ns)
		}
		for k := range labelled(t, g) {
			if !strings.HasPrefix(k, "Namespace /"+ns) && !strings.Contains(k, " "+ns+"/") {
				t.Errorf("system %s has %s outside its namespace %s", g, k, ns)
			}
		}
	}
	code, out, _ := runTycho(t, dir, "down", guids[0], guids[1])
	if code != 0 || out != guids[0]+"\n"+guids[1]+"\n" {
		t.Errorf("down of both: exit %d, stdout %q", code, out)
	}
}

// TestE2EExecutorFaultAPIServerStopped: an API server that dies while up
// waits makes up fail with the connection error and exit 1, without a
// panic, and say how to remove what is left. It runs a cluster of its own.
func TestE2EExecutorFaultAPIServerStopped(t *testing.T) {
	r := upThenFault(t, "e2ea0070000000000000000000000000", syscall.SIGKILL, "--timeout", "2m")
	if !strings.Contains(r.errOut, "connection refused") {
		t.Errorf("up: stderr does not contain %q", "connection refused")
	}
}

// TestE2EExecutorFaultAPIServerFrozen: an API server that stops answering
// (SIGSTOP: connections accepted, no reply) while up waits cannot hang up:
// each request gives up after --request-timeout, up fails with exit 1
// well before its own --timeout and says how to remove what is left.
// Without a request timeout, client-go would wait forever.
func TestE2EExecutorFaultAPIServerFrozen(t *testing.T) {
	r := upThenFault(t, "e2ea0080000000000000000000000000", syscall.SIGSTOP, "--timeout", "10m", "--request-timeout", "5s")
	// a few requests of at most 5 s each (the failed list, the events
	// read for the report, the first roll-back delete): well under 2 min
	if r.afterFault > 2*time.Minute {
		t.Errorf("up took %s after the API server froze, want it bounded by --request-timeout, not --timeout (10m)", r.afterFault)
	}
	// client-go reports the request timeout as one or the other, depending
	// on where the request was waiting when it ran out
	if !strings.Contains(r.errOut, "Client.Timeout exceeded") && !strings.Contains(r.errOut, "context deadline exceeded") {
		t.Errorf("up: stderr names no timeout")
	}
}

type upResult struct {
	code        int
	out, errOut string
	// afterFault is how long up ran after the signal
	afterFault time.Duration
}

// upThenFault starts a cluster of its own and `tycho up` of a system that
// never becomes ready, sends sig to kube-apiserver once up is waiting, and
// checks that up then fails with exit 1, nothing on stdout, the way to
// remove what is left, and no panic. The cluster is stopped (its server
// resumed first) at the end of the test.
func upThenFault(t *testing.T, guid string, sig syscall.Signal, args ...string) upResult {
	t.Helper()
	shared(t)
	t.Parallel()
	c, err := cluster.Start(context.Background(), cluster.Options{})
	if err != nil {
		t.Fatalf("starting a cluster: %v", err)
	}
	pid := 0
	for _, p := range c.Processes() {
		if p.Name == "kube-apiserver" {
			pid = p.PID
		}
	}
	t.Cleanup(func() {
		if pid != 0 && sig == syscall.SIGSTOP {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the cluster: %v", err)
		}
	})
	if pid == 0 {
		t.Fatalf("no kube-apiserver among %v", c.Processes())
	}
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	// hog never becomes ready: up is still waiting when the fault comes
	dir := writeCompose(t, unschedulable)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	done := make(chan upResult, 1)
	go func() {
		var r upResult
		r.code, r.out, r.errOut = tychoAt(ctx, t, c.Kubeconfig, dir, append([]string{"up", "-f", "compose.yaml", "--guid", guid}, args...)...)
		done <- r
	}()
	ns := executor.NamespaceFor("greedy", guid)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := client.AppsV1().Deployments(ns).Get(ctx, "hog", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("up did not create Deployment hog in time")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // up is waiting now
	faulted := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("sending %v to kube-apiserver (pid %d): %v", sig, pid, err)
	}
	var r upResult
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatalf("up did not end after kube-apiserver got %v", sig)
	}
	r.afterFault = time.Since(faulted)
	t.Logf("up ended %s after kube-apiserver got %v", r.afterFault.Round(time.Millisecond), sig)
	if r.code != 1 || r.out != "" {
		t.Errorf("up: exit %d, stdout %q; want 1 and nothing", r.code, r.out)
	}
	for _, want := range []string{"tycho: up: ", "tycho down " + guid} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("up: stderr does not contain %q", want)
		}
	}
	for _, bad := range []string{"panic:", "goroutine ", "SIGSEGV"} {
		if strings.Contains(r.errOut, bad) {
			t.Errorf("up: stderr contains %q", bad)
		}
	}
	return r
}
