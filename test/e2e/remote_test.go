package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/executor"
)

// remoteSystem takes the tag of web from .env; worker is reached inside
// the system only.
const remoteSystem = `name: e2e-remote
services:
  web:
    image: registry.example/web:${TAG:-1}
    ports:
      - "8080:80"
  worker:
    image: registry.example/worker:1
`

// runRemote runs the tycho binary in dir with no kubeconfig at all (HOME
// is dir, KUBECONFIG unset): all it does goes through --server.
func runRemote(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(tychoBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
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

// TestE2ERemote drives a system through the tycho binary and the HTTP
// API on the shared cluster: up --server, status --server, down --server,
// and checks that nothing labelled with its GUID is left.
func TestE2ERemote(t *testing.T) {
	c, ts := apiServer(t, nil)
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml": remoteSystem,
		".env":         "TAG=3\n",
		"token":        "# the API's bearer token\n" + apiToken + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	server := []string{"--server", ts.URL, "--token-file", "token"}
	ctx := context.Background()

	// a wrong token is refused with the server's message
	code, out, errOut := runRemote(t, dir, []string{"TYCHO_TOKEN=wrong-token-0123456789"}, "status", "--server", ts.URL)
	if code != 1 || out != "" || !strings.Contains(errOut, "401 Unauthorized: missing or wrong bearer token") {
		t.Errorf("status with a wrong token: exit %d, stdout %q, stderr %q; want 1 and the server's message", code, out, errOut)
	}

	start := time.Now()
	code, out, errOut = runRemote(t, dir, nil, append([]string{"up", "--timeout", "4m"}, server...)...)
	if code != 0 {
		t.Fatalf("up --server: exit %d: %s", code, errOut)
	}
	t.Logf("up --server took %s", time.Since(start))
	// the header, and one row for web's node port (no load balancer here)
	row := regexp.MustCompile(`(?m)^e2e-remote {21}([0-9a-f]{32}) {4}(\d+\.\d+\.\d+\.\d+) +(3\d{4}) *$`)
	m := row.FindStringSubmatch(out)
	if !strings.HasPrefix(out, "SYSTEM                         GUID                                IP_ADDRESS      PORT   \n") || m == nil {
		t.Fatalf("up --server: stdout\n%s\nwant the header and a row matching %s", out, row)
	}
	guid, nodePort := m[1], m[3]
	ns := executor.NamespaceFor("e2e-remote", guid)
	t.Cleanup(func() {
		if len(labelled(t, guid)) > 0 {
			_, _ = c.Delete(context.Background(), guid)
		}
	})

	web, err := clientset(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment web: %v", err)
	}
	if img := web.Spec.Template.Spec.Containers[0].Image; img != "registry.example/web:3" {
		t.Errorf("web's image %q, want .env's tag: registry.example/web:3", img)
	}

	// up waited: both services are ready
	code, out, _ = runRemote(t, dir, nil, append([]string{"status"}, server...)...)
	statusRow := regexp.MustCompile(`(?m)^e2e-remote +` + guid + ` +` + ns + ` +2/2 +\d+\.\d+\.\d+\.\d+:` + nodePort + ` +\S+$`)
	if code != 0 || !strings.HasPrefix(out, "SYSTEM ") || !statusRow.MatchString(out) {
		t.Errorf("status --server: exit %d, stdout\n%s\nwant a row matching %s", code, out, statusRow)
	}
	code, out, _ = runRemote(t, dir, nil, append([]string{"status", "-terse"}, server...)...)
	if code != 0 || !strings.Contains(out, guid+"\n") {
		t.Errorf("status --server -terse: exit %d, stdout\n%s\nwant the GUID on a line", code, out)
	}
	code, out, _ = runRemote(t, dir, nil, append([]string{"status", guid, "-o", "json"}, server...)...)
	var systems []executor.System
	if err := json.Unmarshal([]byte(out), &systems); code != 0 || err != nil {
		t.Errorf("status --server -o json: exit %d, %v", code, err)
	} else if len(systems) != 1 || systems[0].GUID != guid || systems[0].Namespace != ns || !systems[0].OwnNamespace ||
		systems[0].Ready != 2 || systems[0].Total != 2 || len(systems[0].Services) != 2 || systems[0].Created.IsZero() {
		t.Errorf("status --server -o json: %+v", systems)
	}

	// ps and restart through the API, the system named by the compose
	// file here; logs needs the cluster and says so
	code, out, _ = runRemote(t, dir, nil, append([]string{"ps", "-o", "json"}, server...)...)
	var rows []executor.ServiceStatus
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil {
		t.Errorf("ps --server -o json: exit %d, %v", code, err)
	} else if len(rows) != 2 || rows[0].Service != "web" || rows[0].Ready != 1 || rows[0].State != "running" ||
		len(rows[0].Endpoints) != 1 || !strings.HasSuffix(rows[0].Endpoints[0], ":"+nodePort) || rows[1].Service != "worker" {
		t.Errorf("ps --server: %+v", rows)
	}
	code, out, errOut = runRemote(t, dir, nil, append([]string{"restart", "e2e-remote", "web"}, server...)...)
	if code != 0 || out != "Deployment/web restarted\n" {
		t.Errorf("restart --server: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	web, err = clientset(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment web: %v", err)
	}
	if web.Spec.Template.Annotations[executor.RestartedAtAnnotation] == "" || web.Status.ObservedGeneration < web.Generation ||
		web.Status.UpdatedReplicas != 1 || web.Status.AvailableReplicas != 1 {
		t.Errorf("after restart --server (which waits), web: annotations %v, generation %d, status %+v",
			web.Spec.Template.Annotations, web.Generation, web.Status)
	}
	code, _, errOut = runRemote(t, dir, nil, append([]string{"logs", "-f"}, server...)...)
	if code != 2 || !strings.Contains(errOut, "logs needs cluster access") {
		t.Errorf("logs --server: exit %d, stderr %q; want 2 and that it needs cluster access", code, errOut)
	}

	start = time.Now()
	code, out, errOut = runRemote(t, dir, nil, append([]string{"down", guid}, server...)...)
	if code != 0 || out != guid+"\n" {
		t.Errorf("down --server: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, guid+"\n")
	}
	t.Logf("down --server took %s", time.Since(start))
	if left := labelled(t, guid); len(left) > 0 {
		t.Errorf("after down --server, objects are left:\n%s", strings.Join(keys(left), "\n"))
	}
	if _, err := clientset(t).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after down --server: %v, want it gone", ns, err)
	}

	code, out, _ = runRemote(t, dir, nil, append([]string{"status", guid}, server...)...)
	if code != 0 || out != "None running\n" {
		t.Errorf("status --server after down: exit %d, stdout %q; want None running", code, out)
	}
	code, _, errOut = runRemote(t, dir, nil, append([]string{"down", guid}, server...)...)
	if code != 1 || errOut != "tycho: down: system "+guid+": system not found\n" {
		t.Errorf("second down --server: exit %d, stderr %q; want 1 and system not found", code, errOut)
	}
}
