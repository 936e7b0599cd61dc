package kubernetes

import "strings"

// LabelUser labels every object of a system with the user who started it
// (the API's principal), as the original Tycho did.
const LabelUser = "username"

// Owners of reserved label and annotation keys, as ReservedLabel and
// ReservedAnnotation name them.
const (
	OwnerTycho      = "Tycho"
	OwnerKubernetes = "Kubernetes"
)

// ownedKeys are the label keys that Tycho or a Kubernetes controller
// writes. The keys without a domain are reserved as labels only: as
// annotations they select nothing.
var ownedKeys = map[string]string{
	// Tycho writes these of the Kubernetes domain (selectors use
	// part-of and name)
	LabelManagedBy: OwnerTycho,
	LabelPartOf:    OwnerTycho,
	LabelName:      OwnerTycho,
	LabelComponent: OwnerTycho,
	LabelGUID:      OwnerTycho, // selectors of every started system
	LabelExecutor:  OwnerTycho, // the API's and status's selector
	LabelUser:      OwnerTycho, // who started the system
	"name":         OwnerTycho, // the original Tycho's service label
	// written by the workload controllers into pods and selectors
	"pod-template-hash":        OwnerKubernetes,
	"controller-revision-hash": OwnerKubernetes,
	"pod-template-generation":  OwnerKubernetes,
	"job-name":                 OwnerKubernetes,
	"controller-uid":           OwnerKubernetes,
}

// ownedDomains are the key prefixes (DNS domains, with their subdomains)
// whose labels and annotations only their owner writes: Tycho's network
// membership labels (network.tycho.dev/), the app.kubernetes.io/ labels
// of every object, the Pod Security labels of a namespace, the
// batch.kubernetes.io/ labels of Jobs, the kubectl.kubernetes.io/
// annotations, and so on.
var ownedDomains = []struct{ domain, owner string }{
	{"tycho.dev", OwnerTycho},
	{"kubernetes.io", OwnerKubernetes},
	{"k8s.io", OwnerKubernetes},
}

// ReservedLabel says who owns the label key, OwnerTycho or
// OwnerKubernetes, or "" when a user may set it. Tycho's selectors, its
// NetworkPolicies (which select pods by network.tycho.dev/ labels), its
// bookkeeping and the Kubernetes controllers rely on the owned keys, so
// neither a compose file (x-tycho.labels) nor a request (the API's
// modify) may set them. It is the one list that the compiler and the API
// check.
func ReservedLabel(key string) string {
	if owner, ok := ownedKeys[key]; ok {
		return owner
	}
	return ownedDomain(key)
}

// ReservedAnnotation is ReservedLabel for annotation keys: only the owned
// domains count, since a bare key (name, executor) selects nothing.
func ReservedAnnotation(key string) string { return ownedDomain(key) }

// ownedDomain says who owns the domain prefix of key ("" for none or a key
// without one).
func ownedDomain(key string) string {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return ""
	}
	prefix = strings.ToLower(prefix)
	for _, d := range ownedDomains {
		if prefix == d.domain || strings.HasSuffix(prefix, "."+d.domain) {
			return d.owner
		}
	}
	return ""
}

// ownedBy says whose a reserved key is, for diagnostics.
func ownedBy(owner string) string {
	if owner == OwnerTycho {
		return "Tycho's own"
	}
	return "reserved for " + owner
}
