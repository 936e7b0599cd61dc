package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// kustomizeCompose is a multi-service system: a published web front end
// that waits for a database with a volume and for a one-shot migration.
const kustomizeCompose = `name: kz
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: example}
    volumes: [data:/var/lib/postgresql/data]
    healthcheck: {test: ["CMD", "pg_isready"], interval: 5s}
  migrate:
    image: busybox:1.37
    command: ["true"]
    restart: "no"
volumes:
  data: {}
`

// TestE2EKustomize: the Kustomize output of a multi-service system, in a
// namespace it creates itself. Every object of the base and of the example
// overlay passes strict server-side dry-run at Pod Security baseline, with
// no warning; the base, applied with `kubectl apply --server-side
// --validate=strict -k`, becomes Available; `kubectl delete -k` removes it
// and nothing is left, not even the namespace.
func TestE2EKustomize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(kustomizeCompose), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("kz-e2e-%d", time.Now().UnixNano()%1_000_000_000)
	c := compile(t, dir, "--format", "kustomize", "--out-dir", "k", "-n", ns, "--create-namespace")
	if c.err != nil {
		t.Fatalf("tycho compile --format kustomize: %v\n%s", c.err, c.stderr)
	}
	base, overlay := filepath.Join(dir, "k", "base"), filepath.Join(dir, "k", "overlays", "example")

	for _, k := range []string{base, overlay} {
		out, err := kubectl(t, "", "kustomize", k)
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", k, err, out)
		}
		if !strings.Contains(out, "kind: Deployment") {
			t.Fatalf("kubectl kustomize %s: no Deployment in\n%s", k, out)
		}
		warns, err := dryRunStrict(t, newNamespace(t, "baseline"), out)
		if err != nil {
			t.Errorf("%s: rejected: %v", k, err)
		}
		for _, w := range warns {
			t.Errorf("%s: warning: %s", k, w)
		}
	}
	if t.Failed() {
		return
	}

	client := clientset(t)
	ctx := context.Background()
	t.Cleanup(func() {
		// a failed test leaves nothing behind either
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if out, err := kubectl(t, "", "apply", "--server-side", "--validate=strict", "--field-manager=tycho-e2e", "-k", base); err != nil {
		t.Fatalf("kubectl apply -k base: %v\n%s", err, out)
	}
	namespace, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the base's Namespace: %v", err)
	}
	if got := namespace.Labels["pod-security.kubernetes.io/enforce"]; got != "baseline" {
		t.Errorf("namespace %s enforces Pod Security %q, want baseline", ns, got)
	}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, name := range []string{"web", "db"} {
			d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil || !deploymentAvailable(d) {
				return false, nil
			}
		}
		j, err := client.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{})
		return err == nil && jobComplete(j), nil
	})
	if err != nil {
		out, _ := kubectl(t, "", "-n", ns, "get", "deploy,job,pvc,pods", "-o", "wide")
		t.Fatalf("the base did not become Available: %v\n%s", err, out)
	}

	if out, err := kubectl(t, "", "delete", "--wait=true", "--timeout=3m", "-k", base); err != nil {
		t.Fatalf("kubectl delete -k base: %v\n%s", err, out)
	}
	// the namespace goes last: its deletion waits for everything in it
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		out, _ := kubectl(t, "", "-n", ns, "get", "all,pvc,networkpolicy,role,rolebinding,serviceaccount", "-o", "name")
		t.Fatalf("namespace %s is still there after kubectl delete -k: %v\n%s", ns, err, out)
	}
	// and the volume of the claim goes with it (the provisioner deletes it)
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pvs, err := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, pv := range pvs.Items {
			if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == ns {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		out, _ := kubectl(t, "", "get", "pv", "-o", "wide")
		t.Errorf("a PersistentVolume of namespace %s is left: %v\n%s", ns, err, out)
	}
}
