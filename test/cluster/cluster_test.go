package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/tychoctl/tycho/test/cluster"
)

// testLog forwards the harness's progress lines to t.Log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestE2ETwoClusters starts two clusters side by side, runs a Deployment, a
// Job and a PersistentVolumeClaim on each, and checks that Stop leaves no
// process and no directory behind.
func TestE2ETwoClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts two control planes; skipped under -short")
	}
	ctx := t.Context()

	clusters := make([]*cluster.Cluster, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Go(func() {
			clusters[i], errs[i] = cluster.Start(ctx, cluster.Options{Nodes: 2, Log: testLog{t}})
		})
	}
	wg.Wait()
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() { _ = c.Stop() })
		}
		if errs[i] != nil {
			t.Fatalf("cluster %d: %v", i, errs[i])
		}
	}
	if a, b := clusters[0].RESTConfig().Host, clusters[1].RESTConfig().Host; a == b {
		t.Fatalf("both clusters serve on %s", a)
	}
	if clusters[0].Dir == clusters[1].Dir {
		t.Fatalf("both clusters use %s", clusters[0].Dir)
	}

	t.Run("workloads", func(t *testing.T) {
		for i, c := range clusters {
			t.Run(fmt.Sprintf("cluster%d", i), func(t *testing.T) {
				t.Parallel()
				testWorkloads(t, c)
			})
		}
	})

	for i, c := range clusters {
		procs := c.Processes()
		if len(procs) != 5 {
			t.Errorf("cluster %d: %d processes, want 5 (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok): %v", i, len(procs), procs)
		}
		dir := c.Dir
		start := time.Now()
		if err := c.Stop(); err != nil {
			t.Errorf("cluster %d: Stop: %v", i, err)
		}
		t.Logf("cluster %d stopped in %s", i, time.Since(start).Round(time.Millisecond))
		for _, p := range procs {
			if cluster.GroupAlive(p.PID) {
				t.Errorf("cluster %d: %s (process group %d) still alive after Stop", i, p.Name, p.PID)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.PID)); err == nil {
				t.Errorf("cluster %d: %s (pid %d) still exists after Stop", i, p.Name, p.PID)
			}
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cluster %d: directory %s still there after Stop (stat: %v)", i, dir, err)
		}
	}
}

// testWorkloads checks that the simulated cluster runs what a real one would:
// Deployments become Available, Jobs (with an init container) complete and
// claims on the default StorageClass bind.
func testWorkloads(t *testing.T, c *cluster.Cluster) {
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	const ns = metav1.NamespaceDefault
	labels := map[string]string{"app": "web"}
	podSpec := corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Image: "registry.example/app:1"}},
	}

	tests := []struct {
		name   string
		create func(context.Context) error
		done   func(context.Context) (bool, error)
	}{
		{
			name: "DeploymentAvailable",
			create: func(ctx context.Context) error {
				replicas := int32(2)
				_, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "web"},
					Spec: appsv1.DeploymentSpec{
						Replicas: &replicas,
						Selector: &metav1.LabelSelector{MatchLabels: labels},
						Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec},
					},
				}, metav1.CreateOptions{})
				return err
			},
			done: func(ctx context.Context) (bool, error) {
				d, err := client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, cond := range d.Status.Conditions {
					if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
						return d.Status.AvailableReplicas == 2, nil
					}
				}
				return false, nil
			},
		},
		{
			name: "JobComplete",
			create: func(ctx context.Context) error {
				spec := *podSpec.DeepCopy()
				spec.RestartPolicy = corev1.RestartPolicyNever
				spec.InitContainers = []corev1.Container{{Name: "init", Image: "registry.example/init:1"}}
				_, err := client.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
					ObjectMeta: metav1.ObjectMeta{Name: "once"},
					Spec:       batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}},
				}, metav1.CreateOptions{})
				return err
			},
			done: func(ctx context.Context) (bool, error) {
				j, err := client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, cond := range j.Status.Conditions {
					if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
						return false, fmt.Errorf("job failed: %s", cond.Message)
					}
					if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
						return true, nil
					}
				}
				return false, nil
			},
		},
		{
			name: "PVCBound",
			create: func(ctx context.Context) error {
				_, err := client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						// No storageClassName: the default StorageClass must apply.
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources: corev1.VolumeResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
						},
					},
				}, metav1.CreateOptions{})
				return err
			},
			done: func(ctx context.Context) (bool, error) {
				pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return pvc.Status.Phase == corev1.ClaimBound, nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			start := time.Now()
			if err := tt.create(ctx); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 2*time.Minute, true, tt.done); err != nil {
				t.Fatalf("waiting: %v (logs in %s)", err, c.LogDir())
			}
			t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
