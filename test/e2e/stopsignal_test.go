package e2e

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestE2EStopSignalDropped proves why stop_signal stays a diagnostic
// (docs/mapping.md): the kube-apiserver of the pinned Kubernetes version,
// with its default feature gates, accepts a container's
// lifecycle.stopSignal under strict field validation but drops it, because
// the ContainerStopSignals gate is alpha and off. When a Kubernetes bump
// keeps the field, this test fails, and stop_signal can be honoured.
func TestE2EStopSignalDropped(t *testing.T) {
	ns := newNamespace(t, "baseline")
	sig := corev1.SIGQUIT
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stop-signal"},
		Spec: corev1.PodSpec{
			OS: &corev1.PodOS{Name: corev1.Linux},
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx:1.27",
				Lifecycle: &corev1.Lifecycle{StopSignal: &sig},
			}},
		},
	}
	got, err := clientset(t).CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{
		DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	if err != nil {
		t.Fatalf("the API server refused the pod: %v", err)
	}
	if lc := got.Spec.Containers[0].Lifecycle; lc != nil && lc.StopSignal != nil {
		t.Fatalf("the API server kept stopSignal %q: the ContainerStopSignals gate is on, so stop_signal can become lifecycle.stopSignal (compiler/service.go stopSignal)", *lc.StopSignal)
	}
}
