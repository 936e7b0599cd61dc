package executor

import (
	"fmt"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psa "k8s.io/pod-security-admission/policy"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// PodSecurityError is a system whose pods the Pod Security level of its
// namespace would reject: Up refuses it before it creates anything.
type PodSecurityError struct {
	// Level is the level the namespace enforces.
	Level string
	// Violations are "Kind name: reason: detail", one per pod template
	// and check.
	Violations []string
}

// Error lists the violations.
func (e *PodSecurityError) Error() string {
	return fmt.Sprintf("the pods would violate the %s Pod Security level (nothing was created):\n  %s",
		e.Level, strings.Join(e.Violations, "\n  "))
}

var (
	psaOnce sync.Once
	psaEval psa.Evaluator
	psaErr  error
)

// evaluator is Pod Security Admission's own evaluator, with the checks
// the API server runs.
func evaluator() (psa.Evaluator, error) {
	psaOnce.Do(func() { psaEval, psaErr = psa.NewEvaluator(psa.DefaultChecks(), nil) })
	return psaEval, psaErr
}

// CheckPodSecurity evaluates the pod template of every workload of objs
// against level ("" or "privileged" admit everything) as the API server's
// Pod Security admission will, so that a system above its namespace's
// level fails before anything is created rather than halfway, with pods
// that never start.
func CheckPodSecurity(level string, objs []kubernetes.Object) error {
	if level == "" || level == string(psaapi.LevelPrivileged) {
		return nil
	}
	lvl, err := psaapi.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("pod security level: %w", err)
	}
	ev, err := evaluator()
	if err != nil {
		return fmt.Errorf("pod security evaluator: %w", err)
	}
	lv := psaapi.LevelVersion{Level: lvl, Version: psaapi.LatestVersion()}
	var bad []string
	for _, o := range objs {
		kind, meta, spec := podTemplate(o)
		if spec == nil {
			continue
		}
		for _, r := range ev.EvaluatePod(lv, meta, spec) {
			if !r.Allowed {
				bad = append(bad, fmt.Sprintf("%s %s: %s: %s", kind, o.GetName(), r.ForbiddenReason, r.ForbiddenDetail))
			}
		}
	}
	if len(bad) > 0 {
		return &PodSecurityError{Level: level, Violations: bad}
	}
	return nil
}

// podTemplate returns the pod metadata and spec of a workload, or a nil
// spec for an object that makes no pods.
func podTemplate(o kubernetes.Object) (string, *metav1.ObjectMeta, *corev1.PodSpec) {
	switch w := o.(type) {
	case *corev1.Pod:
		return "Pod", &w.ObjectMeta, &w.Spec
	case *appsv1.Deployment:
		return "Deployment", &w.Spec.Template.ObjectMeta, &w.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return "StatefulSet", &w.Spec.Template.ObjectMeta, &w.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return "DaemonSet", &w.Spec.Template.ObjectMeta, &w.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return "ReplicaSet", &w.Spec.Template.ObjectMeta, &w.Spec.Template.Spec
	case *batchv1.Job:
		return "Job", &w.Spec.Template.ObjectMeta, &w.Spec.Template.Spec
	case *batchv1.CronJob:
		return "CronJob", &w.Spec.JobTemplate.Spec.Template.ObjectMeta, &w.Spec.JobTemplate.Spec.Template.Spec
	}
	return "", nil, nil
}
