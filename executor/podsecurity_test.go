package executor

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

func TestCheckPodSecurity(t *testing.T) {
	t.Parallel()
	hostPID := corev1.PodSpec{HostPID: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
	plain := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}
	dep := func(spec corev1.PodSpec) kubernetes.Object {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}
	}
	job := func(spec corev1.PodSpec) kubernetes.Object {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "init"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}}
	tests := []struct {
		name  string
		level string
		objs  []kubernetes.Object
		want  []string // substrings of the violations; nil: allowed
	}{
		{"no level admits all", "", []kubernetes.Object{dep(hostPID)}, nil},
		{"privileged admits all", "privileged", []kubernetes.Object{dep(hostPID)}, nil},
		{"baseline admits a plain pod", "baseline", []kubernetes.Object{dep(plain), cm}, nil},
		{"baseline refuses host PID in a Deployment", "baseline", []kubernetes.Object{cm, dep(hostPID)}, []string{"Deployment web: host namespaces"}},
		{"baseline refuses host PID in a Job", "baseline", []kubernetes.Object{job(hostPID)}, []string{"Job init: host namespaces"}},
		{"restricted refuses a plain pod", "restricted", []kubernetes.Object{dep(plain)}, []string{"Deployment web: allowPrivilegeEscalation != false", "Deployment web: runAsNonRoot != true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPodSecurity(tt.level, tt.objs)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("want nil, got %v", err)
				}
				return
			}
			var pe *PodSecurityError
			if !errors.As(err, &pe) {
				t.Fatalf("want a PodSecurityError, got %v", err)
			}
			all := strings.Join(pe.Violations, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("violations lack %q:\n%s", w, all)
				}
			}
			if !strings.Contains(err.Error(), "nothing was created") {
				t.Errorf("error does not say nothing was created: %v", err)
			}
		})
	}
}
