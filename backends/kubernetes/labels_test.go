package kubernetes

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReservedKeys checks the one list of owned keys: every label Tycho
// writes is in it (so a new one cannot be forgotten), so are the keys of
// the Kubernetes controllers and the owned domains, and keys of other
// domains are not.
func TestReservedKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key               string
		label, annotation string
	}{
		// Tycho's own labels
		{key: LabelManagedBy, label: OwnerTycho, annotation: OwnerKubernetes},
		{key: LabelPartOf, label: OwnerTycho, annotation: OwnerKubernetes},
		{key: LabelName, label: OwnerTycho, annotation: OwnerKubernetes},
		{key: LabelComponent, label: OwnerTycho, annotation: OwnerKubernetes},
		{key: LabelGUID, label: OwnerTycho},
		{key: LabelExecutor, label: OwnerTycho},
		{key: LabelUser, label: OwnerTycho},
		{key: "name", label: OwnerTycho},
		{key: NetworkLabel("back"), label: OwnerTycho, annotation: OwnerTycho},
		{key: "tycho.dev/x", label: OwnerTycho, annotation: OwnerTycho},
		// the controllers'
		{key: "pod-template-hash", label: OwnerKubernetes},
		{key: "controller-revision-hash", label: OwnerKubernetes},
		{key: "pod-template-generation", label: OwnerKubernetes},
		{key: "job-name", label: OwnerKubernetes},
		{key: "controller-uid", label: OwnerKubernetes},
		{key: "batch.kubernetes.io/job-name", label: OwnerKubernetes, annotation: OwnerKubernetes},
		{key: "pod-security.kubernetes.io/enforce", label: OwnerKubernetes, annotation: OwnerKubernetes},
		{key: "kubernetes.io/metadata.name", label: OwnerKubernetes, annotation: OwnerKubernetes},
		{key: "node-role.k8s.io/x", label: OwnerKubernetes, annotation: OwnerKubernetes},
		{key: "k8s.io/x", label: OwnerKubernetes, annotation: OwnerKubernetes},
		{key: "Kubectl.Kubernetes.IO/default-container", label: OwnerKubernetes, annotation: OwnerKubernetes},
		// the user's
		{key: "team"},
		{key: "example.com/team"},
		{key: "xkubernetes.io/a"},
		{key: "k8s.io.example.com/a"},
		{key: "mytycho.dev/a"},
		{key: "app"},
		{key: "name/x"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			got := []string{ReservedLabel(tc.key), ReservedAnnotation(tc.key)}
			if d := cmp.Diff([]string{tc.label, tc.annotation}, got); d != "" {
				t.Errorf("[label, annotation] owners of %s (-want +got):\n%s", tc.key, d)
			}
		})
	}
}
