package executor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tychoctl/tycho/backends/kubernetes"
)

// FieldManager is the server-side apply field manager of Tycho.
const FieldManager = "tycho"

// The system record: a ConfigMap in the system's namespace.
const (
	// RecordPrefix starts the name of a system's record, followed by its
	// GUID.
	RecordPrefix = "tycho-system-"
	// RecordComponent is the app.kubernetes.io/component label of records,
	// which tells them from the ConfigMaps of compose configs.
	RecordComponent = "tycho-system"
)

// Keys of a record's data.
const (
	keySystem       = "system"
	keyGUID         = "guid"
	keyNamespace    = "namespace"
	keyOwnNamespace = "own-namespace"
	keyModelHash    = "model-hash"
	keyCreated      = "created"
)

// System is a started system as the cluster shows it.
type System struct {
	// Name is the compose project name.
	Name string `json:"name"`
	// GUID identifies the system.
	GUID string `json:"guid"`
	// Namespace holds the system's objects.
	Namespace string `json:"namespace"`
	// OwnNamespace is true when Tycho created the namespace for the system
	// (and Down deletes it).
	OwnNamespace bool `json:"ownNamespace"`
	// ModelHash is the SHA-256 of the compiled objects, "sha256:<hex>".
	ModelHash string `json:"modelHash,omitempty"`
	// Created is when the system was first started.
	Created time.Time `json:"created"`
	// State is StateRunning, or StateDeleting while a deletion marked it
	// (see Down) or its workloads are all being deleted.
	State string `json:"state"`
	// Ready is the number of ready services, Total the number of services.
	Ready int `json:"ready"`
	Total int `json:"total"`
	// Services are the system's workloads, sorted by name.
	Services []Service `json:"services"`
	// Endpoints are the addresses of the published ports, in Service order.
	Endpoints []Endpoint `json:"endpoints"`
}

// Service is the state of one workload of a system.
type Service struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Ready bool   `json:"ready"`
	// State says how far the workload is, e.g. "1/1 available".
	State string `json:"state"`
}

// Endpoint is an address from outside the cluster (or, for ports exposed
// as ClusterIP, from inside) of a published port.
type Endpoint struct {
	Service  string `json:"service"`
	IP       string `json:"ip"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// URL is the address of a routed port (an Ingress or HTTPRoute):
	// scheme, host and path; only the path when any host matches and the
	// router's address is not known. IP and Port are then the router's
	// host ("-" when unknown) and 80 or 443.
	URL string `json:"url,omitempty"`
}

// String is how tables show the endpoint: its URL when routed, else
// IP:PORT with the protocol when not TCP.
func (e Endpoint) String() string {
	if e.URL != "" {
		return e.URL
	}
	s := fmt.Sprintf("%s:%d", e.IP, e.Port)
	if e.Protocol != "" && e.Protocol != "TCP" {
		s += "/" + strings.ToLower(e.Protocol)
	}
	return s
}

// Event is a change of state that Up reports while it waits.
type Event struct {
	// Object is "Kind/name".
	Object string
	// State is the new state, e.g. "0/1 available".
	State string
	// Ready and Total count the ready workloads of the system.
	Ready, Total int
}

// NamespaceFor is the namespace Up creates for a system by default:
// <system>-<first 8 characters of the GUID>.
func NamespaceFor(system, guid string) string {
	prefix := guid
	if len(prefix) > 8 {
		prefix = prefix[:8]
	}
	return kubernetes.DNSLabel(system, 63-1-len(prefix)) + "-" + prefix
}

// RecordName is the name of the record ConfigMap of a system.
func RecordName(guid string) string { return RecordPrefix + guid }

// ModelHash is the SHA-256 of the objects as Tycho prints them in JSON:
// the same compose input and flags give the same hash.
func ModelHash(objs []kubernetes.Object) (string, error) {
	var buf bytes.Buffer
	if err := kubernetes.Print(&buf, objs, kubernetes.JSON); err != nil {
		return "", fmt.Errorf("hashing the objects: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Kinds Tycho emits, in apply order. Down deletes the namespaced ones.
var (
	gvkServiceAccount = schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}
	gvkRole           = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}
	gvkRoleBinding    = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}
	gvkConfigMap      = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	gvkSecret         = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	gvkPVC            = schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	gvkService        = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	gvkDeployment     = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkDaemonSet      = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	gvkJob            = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	gvkNetworkPolicy  = schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}
	gvkIngress        = schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}
	// a cluster without the Gateway API has no HTTPRoutes: Down skips
	// kinds the server does not know
	gvkHTTPRoute = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}
)

// Resources read directly.
var (
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// deleteKinds are the namespaced kinds Tycho emits, in apply order; Down
// deletes them in reverse.
var deleteKinds = []schema.GroupVersionKind{
	gvkServiceAccount, gvkRole, gvkRoleBinding, gvkConfigMap, gvkSecret, gvkPVC,
	gvkService, gvkDeployment, gvkDaemonSet, gvkJob, gvkNetworkPolicy, gvkIngress, gvkHTTPRoute,
}

// dependentKinds are made by controllers from Tycho's objects and carry
// their labels; Down waits for them to be gone too.
var dependentKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"},
}

// deploymentState says how far a Deployment is.
func deploymentState(d *appsv1.Deployment) (state string, ready bool, failed string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	state = fmt.Sprintf("%d/%d available", st.AvailableReplicas, want)
	ready = st.ObservedGeneration >= d.Generation && st.UpdatedReplicas >= want && st.AvailableReplicas >= want
	for _, c := range st.Conditions {
		switch {
		case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded":
			failed = "progress deadline exceeded: " + c.Message
		case c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue && !ready:
			// often passing (a namespace without its ServiceAccount yet):
			// shown, not fatal
			state += " (" + c.Reason + ")"
		}
	}
	if ready {
		failed = ""
	}
	return state, ready, failed
}

// daemonSetState says how far a DaemonSet is.
func daemonSetState(d *appsv1.DaemonSet) (state string, ready bool) {
	st := d.Status
	state = fmt.Sprintf("%d/%d ready", st.NumberReady, st.DesiredNumberScheduled)
	ready = st.ObservedGeneration >= d.Generation && d.Generation > 0 &&
		st.UpdatedNumberScheduled >= st.DesiredNumberScheduled && st.NumberAvailable >= st.DesiredNumberScheduled
	return state, ready
}

// jobState says how far a Job is.
func jobState(j *batchv1.Job) (state string, ready bool, failed string) {
	want := int32(1)
	if j.Spec.Completions != nil {
		want = *j.Spec.Completions
	}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "complete", true, ""
		case batchv1.JobFailed:
			msg := c.Reason
			if c.Message != "" {
				msg += ": " + c.Message
			}
			return "failed", false, "job failed: " + msg
		}
	}
	return fmt.Sprintf("%d/%d succeeded", j.Status.Succeeded, want), false, ""
}
