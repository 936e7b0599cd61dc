package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/executor"
)

// opsDemo has a web service that runs and a hog that no node can take.
const opsDemo = `name: opsdemo
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

// TestE2EOps drives ps, restart and name resolution through the real
// binary: a system named by the compose file of the working directory,
// by its name and by its GUID; an ambiguous name; the scheduler's reason
// for a pending service; a rollout restart that up leaves in place.
func TestE2EOps(t *testing.T) {
	shared(t)
	t.Parallel()
	const guid1, guid2 = "e2e0b5010000000000000000000000a1", "e2e0b5020000000000000000000000a2"
	dir := writeCompose(t, opsDemo)
	t.Cleanup(func() {
		for _, g := range []string{guid1, guid2} {
			if len(labelled(t, g)) > 0 {
				runTycho(t, dir, "down", "--volumes", g)
			}
		}
	})
	if code, _, _ := runTycho(t, dir, "up", "--guid", guid1, "--wait=false"); code != 0 {
		t.Fatalf("up: exit %d", code)
	}

	// ps with no argument: the system of the compose file here
	var rows []executor.ServiceStatus
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out, _ := runTycho(t, dir, "ps", "-o", "json")
		if code != 0 {
			t.Fatalf("ps: exit %d", code)
		}
		rows = nil
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("ps -o json: %v", err)
		}
		if len(rows) == 2 && rows[1].State == "running" && strings.HasPrefix(rows[0].State, "Pending: ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ps: rows %+v, want hog pending and web running", rows)
		}
		time.Sleep(time.Second)
	}
	hog, web := rows[0], rows[1]
	if hog.Service != "hog" || hog.Kind != "Deployment" || hog.Ready != 0 || hog.Desired != 1 ||
		!strings.Contains(hog.State, "Insufficient cpu") {
		t.Errorf("hog: %+v, want 0/1 and the scheduler's Insufficient cpu", hog)
	}
	if web.Service != "web" || web.Ready != 1 || web.Desired != 1 || len(web.Ports) != 1 || web.Ports[0] != "80/tcp" || len(web.Endpoints) != 1 {
		t.Errorf("web: %+v, want 1/1, port 80/tcp and one endpoint", web)
	}
	// by name and by GUID, as a table
	for _, ref := range []string{"opsdemo", guid1} {
		code, out, _ := runTycho(t, t.TempDir(), "ps", ref)
		if code != 0 || !strings.HasPrefix(out, "SERVICE ") || !strings.Contains(out, "Pending: ") {
			t.Errorf("ps %s: exit %d, stdout\n%s", ref, code, out)
		}
	}

	// restart web by name: the template gets kubectl's annotation, by
	// Tycho's field manager, and the rollout is waited for
	code, out, _ := runTycho(t, t.TempDir(), "restart", "opsdemo", "web", "--timeout", "2m")
	if code != 0 || out != "Deployment/web restarted\n" {
		t.Fatalf("restart: exit %d, stdout %q", code, out)
	}
	ns := executor.NamespaceFor("opsdemo", guid1)
	d, err := clientset(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := d.Spec.Template.Annotations[executor.RestartedAtAnnotation]
	if at == "" {
		t.Fatalf("web's template has no %s: %v", executor.RestartedAtAnnotation, d.Spec.Template.Annotations)
	}
	if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != 1 || d.Status.AvailableReplicas != 1 {
		t.Errorf("restart returned before the rollout: status %+v, generation %d", d.Status, d.Generation)
	}
	byTycho := false
	for _, m := range d.ManagedFields {
		byTycho = byTycho || m.Manager == executor.FieldManager && m.Operation == metav1.ManagedFieldsOperationUpdate
	}
	if !byTycho {
		t.Errorf("the restart's patch is not Tycho's: managedFields %+v", d.ManagedFields)
	}
	// a Job or an unknown service cannot be restarted
	if code, _, errOut := runTycho(t, dir, "restart", "-p", "opsdemo", "cache"); code != 1 || !strings.Contains(errOut, "has no service cache") {
		t.Errorf("restart cache: exit %d, stderr %q", code, errOut)
	}
	// up of the same file keeps the restart (its annotation is not one
	// that up applies)
	if code, _, _ := runTycho(t, dir, "up", "--guid", guid1, "--wait=false"); code != 0 {
		t.Fatalf("second up: exit %d", code)
	}
	d, err = clientset(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Annotations[executor.RestartedAtAnnotation]; got != at {
		t.Errorf("after up, restartedAt is %q, want %q", got, at)
	}

	// a second system of the same name: the name is ambiguous
	if code, _, _ := runTycho(t, dir, "up", "--guid", guid2, "--wait=false"); code != 0 {
		t.Fatalf("up of the second: exit %d", code)
	}
	code, out, errOut := runTycho(t, dir, "ps")
	if code != 1 || out != "" || !strings.Contains(errOut, `2 running systems are named "opsdemo"; name one by its GUID:`) ||
		!strings.Contains(errOut, guid1+"   "+ns) || !strings.Contains(errOut, guid2) {
		t.Errorf("ps of an ambiguous name: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runTycho(t, dir, "status", "opsdemo", "--terse")
	if code != 0 || out != guid1+"\n"+guid2+"\n" {
		t.Errorf("status opsdemo --terse: exit %d, stdout %q", code, out)
	}
	code, out, _ = runTycho(t, dir, "down", guid1, guid2)
	if code != 0 || out != guid1+"\n"+guid2+"\n" {
		t.Errorf("down: exit %d, stdout %q", code, out)
	}
}
