package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestE2EPlacementScheduled runs the placement of compiled services
// through the real kube-scheduler on the cluster's two nodes: node
// constraints pin or avoid a node, a platform no node has leaves the pod
// pending, and max_replicas_per_node is a true per-node maximum (the
// replicas beyond it stay pending), for 1 (pod anti-affinity) and for 2 (a
// spread constraint with minDomains).
func TestE2EPlacementScheduled(t *testing.T) {
	client := clientset(t)
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes.Items {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	if len(names) != 2 {
		t.Fatalf("the test needs 2 nodes, the cluster has %v", names)
	}
	first, second := names[0], names[1]
	ns := newNamespace(t, "baseline")
	dir := t.TempDir()
	compose := fmt.Sprintf(`name: placed
services:
  pinned:
    image: nginx:1.27
    deploy:
      replicas: 3
      placement:
        constraints: [node.hostname == %[1]s, node.platform.arch == x86_64]
  avoid:
    image: nginx:1.27
    deploy:
      replicas: 2
      placement:
        constraints: [node.hostname != %[1]s]
  arm:
    image: nginx:1.27
    platform: linux/arm64
  one:
    image: nginx:1.27
    deploy:
      replicas: 3
      placement: {max_replicas_per_node: 1}
  two:
    image: nginx:1.27
    deploy:
      replicas: 5
      placement: {max_replicas_per_node: 2}
`, first)
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	c := compile(t, dir, "-n", ns, "--network-policy", "none")
	if c.err != nil {
		t.Fatalf("tycho compile: %v\n%s", c.err, c.stderr)
	}
	if out, err := kubectl(t, c.stdout, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	// service → node → pods placed there; "" counts the pods the
	// scheduler found no node for
	want := map[string]map[string]int{
		"pinned": {first: 3},
		"avoid":  {second: 2},
		"arm":    {"": 1},
		"one":    {first: 1, second: 1, "": 1},
		"two":    {first: 2, second: 2, "": 1},
	}
	var got map[string]map[string]int
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		got = map[string]map[string]int{}
		for _, p := range pods.Items {
			svc := p.Labels["app.kubernetes.io/name"]
			if got[svc] == nil {
				got[svc] = map[string]int{}
			}
			switch {
			case p.Spec.NodeName != "":
				got[svc][p.Spec.NodeName]++
			case notPlaceable(&p):
				got[svc][""]++
			}
		}
		return cmp.Equal(want, got), nil
	})
	if err != nil {
		out, _ := kubectl(t, "", "-n", ns, "get", "pods", "-o", "wide")
		t.Fatalf("pods not placed as wanted (-want +got):\n%s\n%s", cmp.Diff(want, got), out)
	}
	// the scheduler has decided; a moment later nothing has moved
	time.Sleep(3 * time.Second)
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" && !notPlaceable(&p) {
			t.Errorf("pod %s is neither placed nor unschedulable", p.Name)
		}
	}
}

// notPlaceable reports whether the scheduler found no node for p.
func notPlaceable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}
